/*
 * cases.c - captures for the Wireshark tier (tests/tiers/wireshark.sh) and
 * the check of what the dissector shows in them.
 *
 *   cases write DIR      writes DIR/layouts.urgcap, DIR/odd.urgcap
 *   cases fields         prints the fields check reads, one per line (the
 *                        tier passes them to tshark -T fields -e ...)
 *   cases check NAME OUT compares OUT, tshark's -T fields output (tab
 *                        separated, one line per usbredir PDU) over the
 *                        pcap of NAME (layouts or odd), with the packets
 *                        written into it; exits 1 at the first difference
 *   cases hostile OUT [FILE...]  writes the capture OUT of hostile streams:
 *                        each FILE's bytes after a hello and alone, each
 *                        way; a hello's version and a filter string without
 *                        their NUL, a filter with bytes after it; random
 *                        bytes, and well-formed headers with random types
 *                        and lengths
 *
 * layouts: one connection per caps layout (the 24 of layout_caps(), each
 * with the guest or the host advertising the fewer caps: the negotiation
 * takes both), and one whose host's hello has three caps words; in each,
 * every packet type in every direction it travels, twice, drawn by
 * tests/support/packets.c under the negotiated layout. odd (which the
 * engine, and so stats, would not decode): a connection whose guest sends
 * packets before the host's hello arrives (12-byte headers, no caps, as
 * the sender could not know better), one captured with no hellos (the
 * dissector's default assumed caps, 0xff), and one whose guest advertises
 * bulk_streams without ep_info_max_packet_size (not allowed: negotiated
 * away).
 * Each packet is one record, so one TCP segment of the export, so one line
 * of tshark's output. The packets are drawn again from the same seed for
 * check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packets.h"
#include "urg_capture.h"
#include "urg_codec.h"

#define MAX_PACKETS 8192
#define BUF (80 * 1024)

struct sent {
    enum urg_dir dir;
    struct urg_wire w; /* the layout it was encoded under */
    struct urg_packet p;
    uint8_t *data;     /* its payload (p.data points here) */
    int connection;
};

static struct sent *sent;
static int nsent;

static void die(const char *what)
{
    fprintf(stderr, "cases: %s\n", what);
    exit(2);
}

static void keep(enum urg_dir dir, const struct urg_wire *w, const struct urg_packet *p,
                 int connection)
{
    struct sent *s;
    if (nsent == MAX_PACKETS)
        die("too many packets");
    s = &sent[nsent++];
    s->dir = dir;
    s->w = *w;
    s->p = *p;
    s->connection = connection;
    s->data = NULL;
    if (p->data_len) {
        if (!(s->data = malloc(p->data_len)))
            die("out of memory");
        memcpy(s->data, p->data, p->data_len);
    }
    s->p.data = s->data;
}

/* Every type in every direction it travels under w, twice, from dir's
 * side first (the guest's side, then the host's). */
static void every_type(const struct urg_wire *w, uint32_t *rng, int connection)
{
    static uint8_t buf[BUF];
    struct urg_packet p;
    for (int i = 0; i < URG_TYPE_COUNT; i++) {
        uint32_t type = urg_type_at(i);
        if (type == URG_HELLO)
            continue;
        for (int d = URG_DIR_TO_HOST; d <= URG_DIR_TO_GUEST; d++)
            for (int k = 0; k < 2; k++)
                if (gen_packet(type, (enum urg_dir)d, w, rng, &p, buf, sizeof(buf)) == GEN_OK)
                    keep((enum urg_dir)d, w, &p, connection);
    }
}

static void hello(enum urg_dir dir, const char *version, uint32_t caps, uint32_t more_words,
                  int connection)
{
    struct urg_packet p = hello_packet(version, caps);
    struct urg_wire w0 = { 0, 0 };
    for (uint32_t i = 1; i <= more_words; i++)
        p.h.hello.caps[i] = 0x5a5a0000u + i;
    p.h.hello.caps_words = 1 + more_words;
    keep(dir, &w0, &p, connection);
}

/* The packets of a case, in the order they are written. */
static void build(const char *name)
{
    uint32_t rng = 0x2545f491;
    struct urg_wire all_caps = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
    int c = 0;
    for (int i = 0; i < nsent; i++)
        free(sent[i].data);
    nsent = 0;
    if (!strcmp(name, "layouts")) {
        for (int v = 0; v < 2 * LAYOUT_VARIANTS; v++) {
            uint32_t few = layout_caps(v % LAYOUT_VARIANTS);
            uint32_t guest = v < LAYOUT_VARIANTS ? few : URG_CAPS_ALL;
            uint32_t host = v < LAYOUT_VARIANTS ? URG_CAPS_ALL : few;
            struct urg_wire w = urg_wire_from_caps(guest, host);
            c++;
            hello(URG_DIR_TO_HOST, "guest", guest, 0, c);
            hello(URG_DIR_TO_GUEST, "host", host, 0, c);
            every_type(&w, &rng, c);
        }
        /* A hello with three caps words. */
        c++;
        hello(URG_DIR_TO_HOST, "guest", URG_CAPS_ALL, 0, c);
        hello(URG_DIR_TO_GUEST, "host with three caps words", URG_CAPS_ALL, 2, c);
        every_type(&all_caps, &rng, c);
    } else if (!strcmp(name, "odd")) {
        struct urg_wire w0 = { 0, 0 }, all = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
        static uint8_t buf[BUF];
        struct urg_packet p;
        /* The guest speaks before the host's hello: the smallest layout. */
        c++;
        hello(URG_DIR_TO_HOST, "eager guest", URG_CAPS_ALL, 0, c);
        for (int i = 0; i < URG_TYPE_COUNT; i++)
            if (gen_packet(urg_type_at(i), URG_DIR_TO_HOST, &w0, &rng, &p, buf, sizeof(buf)) ==
                    GEN_OK &&
                urg_type_at(i) != URG_HELLO)
                keep(URG_DIR_TO_HOST, &w0, &p, c);
        hello(URG_DIR_TO_GUEST, "host", URG_CAPS_ALL, 0, c);
        every_type(&all, &rng, c);
        /* No hellos captured: every caps assumed. */
        c++;
        every_type(&all, &rng, c);
        /* bulk_streams without ep_info_max_packet_size, which the protocol
         * forbids (the engine refuses the hello): negotiated away. */
        {
            uint32_t guest = URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE);
            struct urg_wire w = urg_wire_from_caps(guest, URG_CAPS_ALL);
            if (w.caps & URG_CAP_BIT(URG_CAP_BULK_STREAMS))
                die("bulk_streams kept without ep_info_max_packet_size");
            c++;
            hello(URG_DIR_TO_HOST, "guest without max_packet_size", guest, 0, c);
            hello(URG_DIR_TO_GUEST, "host", URG_CAPS_ALL, 0, c);
            every_type(&w, &rng, c);
        }
    } else {
        die("no such case");
    }
}

static void write_case(const char *dir, const char *name)
{
    static uint8_t hdr[4096];
    char path[1024];
    urg_capture *cap;
    int connection = 0;
    build(name);
    snprintf(path, sizeof(path), "%s/%s.urgcap", dir, name);
    if (urg_capture_create(path, &cap))
        die("cannot create the capture");
    for (int i = 0; i < nsent; i++) {
        const struct sent *s = &sent[i];
        int kind = s->dir == URG_DIR_TO_HOST ? URG_CAP_GUEST : URG_CAP_HOST;
        int n = urg_encode(&s->w, s->dir, &s->p, hdr, sizeof(hdr));
        uint64_t t = (uint64_t)i * 1000;
        if (n < 0) {
            fprintf(stderr, "cases: %s %s: %s\n", name, urg_type_name(s->p.type),
                    urg_strerror(n));
            exit(2);
        }
        if (s->connection != connection) {
            urg_capture_write_at(cap, URG_CAP_CONNECT, t, NULL, 0);
            connection = s->connection;
        }
        /* One record: the header and its payload, one TCP segment. */
        if (s->p.data_len) {
            uint8_t *all = malloc((size_t)n + s->p.data_len);
            if (!all)
                die("out of memory");
            memcpy(all, hdr, (size_t)n);
            memcpy(all + n, s->p.data, s->p.data_len);
            urg_capture_write_at(cap, kind, t, all, (size_t)n + s->p.data_len);
            free(all);
        } else {
            urg_capture_write_at(cap, kind, t, hdr, (size_t)n);
        }
    }
    urg_capture_close(cap);
}

/* ---------------------------------------------------------------- the fields */

struct column {
    char name[96];
    uint32_t type;       /* the type it belongs to; UINT32_MAX: every type */
    int field;           /* urg_type_field index, -1 for the others */
    int role;            /* enum urg_field_role, or one of the extras */
};
enum { X_TYPE = 100, X_LENGTH, X_ID, X_DIR, X_DATA_LENGTH, X_CAPS, X_CAPS_WORD, X_FILTER, X_DATA,
       X_BULK_LOW, X_BULK_HIGH, X_ENDPOINT, X_STATUS, X_STREAM_ID };

static struct column cols[256];
static int ncols;

static void add(const char *name, uint32_t type, int field, int role)
{
    for (int i = 0; i < ncols; i++)
        if (!strcmp(cols[i].name, name))
            return;
    snprintf(cols[ncols].name, sizeof(cols[ncols].name), "%s", name);
    cols[ncols].type = type;
    cols[ncols].field = field;
    cols[ncols].role = role;
    ncols++;
}

/* The dissector's field names: usbredir.<type>.<field>, but the shared
 * ones (endpoint, status, data_length, stream_id); bulk_packet's length is
 * its low 16 bits, usbredir.data_length the whole. */
static void columns(void)
{
    struct urg_field f;
    add("usbredir.type", UINT32_MAX, -1, X_TYPE);
    add("usbredir.length", UINT32_MAX, -1, X_LENGTH);
    add("usbredir.id", UINT32_MAX, -1, X_ID);
    add("usbredir.direction", UINT32_MAX, -1, X_DIR);
    add("usbredir.endpoint", UINT32_MAX, -1, X_ENDPOINT);
    add("usbredir.status", UINT32_MAX, -1, X_STATUS);
    add("usbredir.data_length", UINT32_MAX, -1, X_DATA_LENGTH);
    add("usbredir.stream_id", UINT32_MAX, -1, X_STREAM_ID);
    for (int i = 0; i < URG_TYPE_COUNT; i++) {
        uint32_t type = urg_type_at(i);
        for (int k = 0; urg_type_field(type, k, &f); k++) {
            char name[96];
            if (f.role == URG_FIELD_ENDPOINT || f.role == URG_FIELD_STATUS ||
                f.role == URG_FIELD_STREAM_ID ||
                (f.role == URG_FIELD_LENGTH && type != URG_BULK_PACKET))
                continue;
            snprintf(name, sizeof(name), "usbredir.%s.%s", urg_type_name(type), f.name);
            add(name, type, k, f.role == URG_FIELD_LENGTH ? X_BULK_LOW : f.role);
        }
    }
    add("usbredir.bulk_packet.length_high", URG_BULK_PACKET, -1, X_BULK_HIGH);
    add("usbredir.hello.caps", URG_HELLO, -1, X_CAPS);
    add("usbredir.hello.caps_word", URG_HELLO, -1, X_CAPS_WORD);
    add("usbredir.filter_filter.filter", URG_FILTER_FILTER, -1, X_FILTER);
    add("usbredir.data", UINT32_MAX, -1, X_DATA);
}

/* ---------------------------------------------------------------- the check */

static int has(const struct urg_wire *w, int cap) { return (w->caps >> cap) & 1; }

static void append(char *out, size_t cap, const char *fmt, unsigned long long v)
{
    size_t n = strlen(out);
    snprintf(out + n, cap - n, fmt, v);
}

/* What column c should show for packet s, as text ("" for none); numbers
 * in decimal, bytes in hex, arrays comma-separated. */
static void expect(const struct column *c, const struct sent *s, char *out, size_t cap)
{
    const struct urg_packet *p = &s->p;
    struct urg_packet_fields pf;
    struct urg_field f;
    out[0] = 0;
    urg_packet_fields(p, &pf);
    if (c->type != UINT32_MAX && c->type != p->type)
        return;
    switch (c->role) {
    case X_TYPE: append(out, cap, "%llu", p->type); return;
    case X_LENGTH:
        append(out, cap, "%llu",
               (unsigned long long)urg_encoded_header_len(&s->w, p, s->dir) -
                   (unsigned long long)urg_header_len(&s->w) + p->data_len);
        return;
    case X_ID: append(out, cap, "%llu", p->id); return;
    case X_DIR: append(out, cap, "%llu", s->dir); return;
    case X_ENDPOINT:
        if (pf.endpoint >= 0)
            append(out, cap, "%llu", (unsigned long long)pf.endpoint);
        return;
    case X_STATUS:
        if (pf.status >= 0)
            append(out, cap, "%llu", (unsigned long long)pf.status);
        return;
    case X_DATA_LENGTH:
        if (pf.length >= 0)
            append(out, cap, "%llu", (unsigned long long)pf.length);
        return;
    case X_STREAM_ID:
        if (pf.stream_id >= 0)
            append(out, cap, "%llu", (unsigned long long)pf.stream_id);
        return;
    case X_BULK_LOW: append(out, cap, "%llu", p->h.bulk.length & 0xffff); return;
    case X_BULK_HIGH:
        if (has(&s->w, URG_CAP_32BITS_BULK_LENGTH))
            append(out, cap, "%llu", p->h.bulk.length >> 16);
        return;
    case X_CAPS: append(out, cap, "%llu", p->h.hello.caps[0]); return;
    case X_CAPS_WORD:
        for (uint32_t i = 1; i < p->h.hello.caps_words; i++)
            append(out, cap, i > 1 ? ",%llu" : "%llu", p->h.hello.caps[i]);
        return;
    case X_FILTER: snprintf(out, cap, "%.*s", (int)p->data_len - 1, (const char *)p->data); return;
    case X_DATA:
        if (p->type == URG_HELLO || p->type == URG_FILTER_FILTER)
            return;
        for (uint32_t i = 0; i < p->data_len && 2 * i + 3 < cap; i++) {
            static const char hex[] = "0123456789abcdef";
            out[2 * i] = hex[p->data[i] >> 4];
            out[2 * i + 1] = hex[p->data[i] & 15];
            out[2 * i + 2] = 0;
        }
        return;
    default:
        break;
    }
    urg_type_field(p->type, c->field, &f);
    if (f.cap >= 0 && !has(&s->w, f.cap))
        return;
    if (f.role == URG_FIELD_TEXT) {
        snprintf(out, cap, "%.*s", (int)f.count, (const char *)p + f.offset);
        return;
    }
    for (int i = 0; i < f.count; i++)
        append(out, cap, i ? ",%llu" : "%llu", urg_field_get(p, &f, i));
}

/* in into out (cap bytes), cut to fit. */
static void copy(char *out, size_t cap, const char *in)
{
    size_t n = strlen(in);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, in, n);
    out[n] = 0;
}

/* tshark's text of a column to the form expect() writes: numbers (0x...
 * too) in decimal, each element of a list; bytes without colons. */
static void normalise(const struct column *c, const char *in, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    if (c->role == URG_FIELD_TEXT || c->role == X_FILTER) {
        copy(out, cap, in);
        return;
    }
    if (c->role == X_DATA) {
        for (; *in && n + 1 < cap; in++)
            if (*in != ':')
                out[n++] = *in;
        out[n] = 0;
        return;
    }
    while (*in) {
        char *end;
        unsigned long long v = strtoull(in, &end, 0);
        if (end == in) { /* not a number: kept as it is, to be reported */
            copy(out, cap, in);
            return;
        }
        append(out, cap, n++ ? ",%llu" : "%llu", v);
        in = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            copy(out, cap, end);
            return;
        }
    }
}

static int check(const char *name, const char *path)
{
    static char line[1 << 20], want[1 << 18], got[1 << 18];
    FILE *in = fopen(path, "r");
    int i = 0, bad = 0;
    if (!in)
        die("cannot open the tshark output");
    columns();
    build(name);
    while (fgets(line, sizeof(line), in)) {
        char *field = line, *tab;
        const struct sent *s;
        line[strcspn(line, "\n")] = 0;
        if (i == nsent) {
            fprintf(stderr, "%s: tshark shows more than the %d packets written\n", name, nsent);
            fclose(in);
            return 1;
        }
        s = &sent[i];
        for (int k = 0; k < ncols; k++) {
            tab = strchr(field, '\t');
            if (tab)
                *tab = 0;
            expect(&cols[k], s, want, sizeof(want));
            normalise(&cols[k], field, got, sizeof(got));
            if (strcmp(want, got)) {
                fprintf(stderr,
                        "%s: packet %d (connection %d, %s, %s): %s is \"%.200s\", wanted "
                        "\"%.200s\"\n",
                        name, i + 1, s->connection,
                        s->dir == URG_DIR_TO_HOST ? "guest -> host" : "host -> guest",
                        urg_type_name(s->p.type), cols[k].name, got, want);
                if (++bad == 10) {
                    fclose(in);
                    return 1;
                }
            }
            field = tab ? tab + 1 : field + strlen(field);
        }
        i++;
    }
    fclose(in);
    if (i != nsent) {
        fprintf(stderr, "%s: tshark shows %d packets, %d were written\n", name, i, nsent);
        return 1;
    }
    if (!bad)
        printf("%s: %d packets, every field of each as written\n", name, nsent);
    return bad ? 1 : 0;
}

/* ---------------------------------------------------------------- hostile */

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    size_t cap = 0, n = 0, r;
    if (!f)
        die(path);
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            if (!(b = realloc(b, cap)))
                die("out of memory");
        }
        r = fread(b + n, 1, cap - n, f);
        n += r;
    } while (r);
    fclose(f);
    *len = n;
    return b;
}

static void hostile(const char *out, int nfiles, char **files)
{
    static uint8_t hdr[256], junk[70000];
    struct urg_packet h = hello_packet("hostile", URG_CAPS_ALL);
    struct urg_wire w0 = { 0, 0 };
    uint32_t rng = 0x9e3779b9;
    urg_capture *cap;
    int hn;
    if (urg_capture_create(out, &cap))
        die("cannot create the capture");
    hn = urg_encode(&w0, URG_DIR_TO_HOST, &h, hdr, sizeof(hdr));
    if (hn < 0)
        die("cannot encode a hello");
    for (int i = 0; i < nfiles; i++) {
        size_t len;
        uint8_t *b = slurp(files[i], &len);
        /* After a good hello each way, as either side; and alone. */
        for (int as = 0; as < 3; as++) {
            urg_capture_write_at(cap, URG_CAP_CONNECT, 0, NULL, 0);
            if (as < 2) {
                urg_capture_write_at(cap, URG_CAP_GUEST, 0, hdr, (size_t)hn);
                urg_capture_write_at(cap, URG_CAP_HOST, 0, hdr, (size_t)hn);
            }
            if (len)
                urg_capture_write_at(cap, as == 1 ? URG_CAP_GUEST : URG_CAP_HOST, 0, b, len);
        }
        free(b);
    }
    /* Text without its NUL: a hello's version, a filter string; a filter
     * string with bytes after its NUL. Each after a good hello each way. */
    {
        static const char *const filters[] = { "0x03,-1,-1,-1,1", "0x03,-1,-1,-1,1\0junk" };
        uint8_t *b = junk;
        for (int k = 0; k < 12; k++) /* a hello: type 0, length 68, id 0 */
            b[k] = (uint8_t)(k == 4 ? 68 : 0);
        memset(b + 12, 'A', 64);
        memset(b + 76, 0xff, 4);
        urg_capture_write_at(cap, URG_CAP_CONNECT, 0, NULL, 0);
        urg_capture_write_at(cap, URG_CAP_GUEST, 0, hdr, (size_t)hn);
        urg_capture_write_at(cap, URG_CAP_HOST, 0, b, 80);
        for (int k = 0; k < 2; k++) {
            size_t len = strlen(filters[0]) + (k ? 5 : 0);
            /* 16-byte header: both hellos advertise every cap */
            memset(b, 0, 16);
            b[0] = URG_FILTER_FILTER;
            b[4] = (uint8_t)len;
            memcpy(b + 16, filters[k], len);
            urg_capture_write_at(cap, URG_CAP_CONNECT, 0, NULL, 0);
            urg_capture_write_at(cap, URG_CAP_GUEST, 0, hdr, (size_t)hn);
            urg_capture_write_at(cap, URG_CAP_HOST, 0, hdr, (size_t)hn);
            urg_capture_write_at(cap, URG_CAP_HOST, 0, b, 16 + len);
        }
    }
    /* Random bytes, and headers with random types and lengths. */
    for (int i = 0; i < 64; i++) {
        size_t len = rnd(&rng) % sizeof(junk), k;
        for (k = 0; k < len; k++)
            junk[k] = (uint8_t)rnd(&rng);
        if (i % 2) { /* headers: small, big and huge lengths, known and unknown types */
            for (k = 0; k + 16 <= len;) {
                /* every known type, and unknown ones */
                uint32_t unknown[] = { 28, 99, 105, rnd(&rng) };
                uint32_t type = rnd(&rng) % 4 ? urg_type_at((int)(rnd(&rng) % URG_TYPE_COUNT))
                                              : unknown[rnd(&rng) % 4],
                         plen;
                switch (rnd(&rng) % 4) {
                case 0: plen = rnd(&rng) % 16; break;
                case 1: plen = rnd(&rng) % 400; break;
                case 2: plen = rnd(&rng); break;
                default: plen = 0; break;
                }
                for (int b = 0; b < 4; b++) {
                    junk[k + b] = (uint8_t)(type >> 8 * b);
                    junk[k + 4 + b] = (uint8_t)(plen >> 8 * b);
                }
                k += 16 + (plen < 400 ? plen : 0);
            }
        }
        urg_capture_write_at(cap, URG_CAP_CONNECT, 0, NULL, 0);
        urg_capture_write_at(cap, URG_CAP_GUEST, 0, hdr, (size_t)hn);
        urg_capture_write_at(cap, URG_CAP_HOST, 0, hdr, (size_t)hn);
        urg_capture_write_at(cap, i % 4 < 2 ? URG_CAP_HOST : URG_CAP_GUEST, 0, junk, len);
    }
    urg_capture_close(cap);
}

int main(int argc, char **argv)
{
    if (!(sent = calloc(MAX_PACKETS, sizeof(*sent))))
        die("out of memory");
    if (argc == 3 && !strcmp(argv[1], "write")) {
        write_case(argv[2], "layouts");
        write_case(argv[2], "odd");
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "fields")) {
        columns();
        for (int i = 0; i < ncols; i++)
            printf("%s\n", cols[i].name);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "check"))
        return check(argv[2], argv[3]);
    if (argc >= 3 && !strcmp(argv[1], "hostile")) {
        hostile(argv[2], argc - 3, argv + 3);
        return 0;
    }
    fprintf(stderr, "usage: cases write DIR | fields | check NAME OUT | hostile OUT [FILE...]\n");
    return 2;
}

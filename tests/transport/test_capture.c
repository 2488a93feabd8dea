/*
 * test_capture.c - capture files (the format byte for byte, damaged files),
 * decoding them into packets and the dump line of each, and importing TCP
 * sessions from pcap and pcapng files: synthesized ones (link types, IPv4
 * and IPv6, segments out of order, retransmitted, overlapping, missing,
 * cut short) and a real one written by tcpdump on the loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>
#include <pcap/pcap.h>

#include "emuhost.h"
#include "evtest.h"
#include "sessions.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

/* ---------------------------------------------------------------- helpers */

/* Both byte streams of a capture's first connection. */
struct streams {
    uint8_t *b[2]; /* 0: the guest's, 1: the host's */
    size_t n[2];
    uint32_t records[2];
};

static void streams_add(struct streams *s, int side, const uint8_t *d, size_t n)
{
    s->b[side] = realloc(s->b[side], s->n[side] + n + 1);
    assert_non_null(s->b[side]);
    memcpy(s->b[side] + s->n[side], d, n);
    s->n[side] += n;
    s->records[side]++;
}

static void streams_read(const char *path, struct streams *s)
{
    urg_capture_reader *r;
    struct urg_capture_record rec;
    int rc;
    memset(s, 0, sizeof(*s));
    assert_int_equal(urg_capture_open(path, &r), 0);
    while ((rc = urg_capture_next(r, &rec)) == 1)
        if (rec.kind == URG_CAP_GUEST || rec.kind == URG_CAP_HOST)
            streams_add(s, rec.kind == URG_CAP_HOST, rec.data, rec.len);
    assert_int_equal(rc, 0);
    urg_capture_reader_free(r);
}

static void streams_free(struct streams *s)
{
    free(s->b[0]);
    free(s->b[1]);
}

static void assert_same_streams(const char *a, const char *b)
{
    struct streams x, y;
    streams_read(a, &x);
    streams_read(b, &y);
    assert_true(x.n[0] > 0 && x.n[1] > 0);
    assert_int_equal(x.n[0], y.n[0]);
    assert_int_equal(x.n[1], y.n[1]);
    assert_memory_equal(x.b[0], y.b[0], x.n[0]);
    assert_memory_equal(x.b[1], y.b[1], x.n[1]);
    streams_free(&x);
    streams_free(&y);
}

static size_t file_bytes(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    assert_non_null(f);
    n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* ---------------------------------------------------------------- capture files */

static void test_capture_format(void **state)
{
    static const uint8_t want[] = {
        'U', 'R', 'G', 'C', 'A', 'P', 1, '\n',
        'C', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        'G', 0, 0, 0, 3, 0, 0, 0, 0xe8, 3, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c',
        'H', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'z',
        'N', 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'h', 'i',
    };
    char *path = temp_capture("format");
    urg_capture *c;
    urg_capture_reader *r;
    struct urg_capture_record rec;
    uint8_t buf[256];
    (void)state;
    assert_int_equal(urg_capture_create(path, &c), 0);
    assert_int_equal(urg_capture_write_at(c, URG_CAP_CONNECT, 0, NULL, 0), 0);
    assert_int_equal(urg_capture_write_at(c, URG_CAP_GUEST, 1000, "abc", 3), 0);
    assert_int_equal(urg_capture_write_at(c, URG_CAP_HOST, 1ull << 32, "z", 1), 0);
    assert_int_equal(urg_capture_write_at(c, URG_CAP_NOTE, UINT64_MAX, "hi", 2), 0);
    assert_int_equal(urg_capture_write(c, URG_CAP_GUEST, NULL, 5), URG_ERR_INVALID);
    urg_capture_close(c);
    assert_int_equal(file_bytes(path, buf, sizeof(buf)), sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));

    assert_int_equal(urg_capture_open(path, &r), 0);
    assert_int_equal(urg_capture_next(r, &rec), 1);
    assert_int_equal(rec.kind, URG_CAP_CONNECT);
    assert_int_equal(rec.len, 0);
    assert_int_equal(urg_capture_next(r, &rec), 1);
    assert_int_equal(rec.kind, URG_CAP_GUEST);
    assert_int_equal(rec.time_ns, 1000);
    assert_int_equal(rec.len, 3);
    assert_memory_equal(rec.data, "abc", 3);
    assert_int_equal(urg_capture_next(r, &rec), 1);
    assert_int_equal(rec.time_ns, 1ull << 32);
    assert_int_equal(urg_capture_next(r, &rec), 1);
    assert_int_equal(rec.kind, URG_CAP_NOTE);
    assert_true(rec.time_ns == UINT64_MAX);
    assert_int_equal(urg_capture_next(r, &rec), 0);
    urg_capture_reader_free(r);
    /* The same bytes from memory. */
    assert_int_equal(urg_capture_open_mem(want, sizeof(want), &r), 0);
    assert_int_equal(urg_capture_next(r, &rec), 1);
    assert_int_equal(rec.kind, URG_CAP_CONNECT);
    assert_int_equal(urg_capture_next(r, &rec), 1);
    assert_memory_equal(rec.data, "abc", 3);
    assert_int_equal(urg_capture_next(r, &rec), 1);
    assert_int_equal(urg_capture_next(r, &rec), 1);
    assert_int_equal(urg_capture_next(r, &rec), 0);
    urg_capture_reader_free(r);
    assert_int_equal(urg_capture_open_mem(want, 7, &r), URG_ERR_CAPTURE);
    assert_int_equal(urg_capture_open_mem(want, 0, &r), URG_ERR_CAPTURE);
    assert_int_equal(urg_capture_open_mem(want, sizeof(want) - 1, &r), 0);
    assert_int_equal(urg_capture_next(r, &rec), 1);
    assert_int_equal(urg_capture_next(r, &rec), 1);
    assert_int_equal(urg_capture_next(r, &rec), 1);
    assert_int_equal(urg_capture_next(r, &rec), URG_ERR_CAPTURE); /* the note is cut */
    urg_capture_reader_free(r);
    unlink(path);
}

static void write_bytes(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static int next_status(const char *path)
{
    urg_capture_reader *r;
    struct urg_capture_record rec;
    int rc;
    if ((rc = urg_capture_open(path, &r)))
        return rc;
    while ((rc = urg_capture_next(r, &rec)) == 1)
        ;
    urg_capture_reader_free(r);
    return rc;
}

static int nothing(void *ctx, const struct urg_capture_packet *cp)
{
    (void)ctx;
    (void)cp;
    return 0;
}

static void test_damaged_captures(void **state)
{
    char *path = temp_capture("damaged"), *good = temp_capture("good"), err[300];
    uint8_t buf[65536];
    size_t n;
    (void)state;
    assert_int_equal(record_session(good, EMU_KEYBOARD), 0);
    n = file_bytes(good, buf, sizeof(buf));
    assert_true(n > 100 && n < sizeof(buf));
    /* Cut inside a record's data, inside a record header. */
    write_bytes(path, buf, n - 1);
    assert_int_equal(next_status(path), URG_ERR_CAPTURE);
    write_bytes(path, buf, 8 + 16 + 5);
    assert_int_equal(next_status(path), URG_ERR_CAPTURE);
    /* An unknown record kind, a non-zero pad byte, a wrong magic. */
    buf[8] = 'X';
    write_bytes(path, buf, n);
    assert_int_equal(next_status(path), URG_ERR_CAPTURE);
    buf[8] = 'C';
    buf[9] = 1;
    write_bytes(path, buf, n);
    assert_int_equal(next_status(path), URG_ERR_CAPTURE);
    buf[9] = 0;
    buf[6] = 2;
    write_bytes(path, buf, n);
    assert_int_equal(urg_capture_decode(path, nothing, NULL, err, sizeof(err)), URG_ERR_CAPTURE);
    assert_non_null(strstr(err, "not a capture file"));
    buf[6] = 1;
    /* A record whose bytes are not usbredir: the decoder names the packet. */
    {
        urg_capture *c;
        static const uint8_t junk[16] = { 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f };
        assert_int_equal(urg_capture_create(path, &c), 0);
        assert_int_equal(urg_capture_write(c, URG_CAP_HOST, junk, sizeof(junk)), 0);
        urg_capture_close(c);
        assert_true(urg_capture_decode(path, nothing, NULL, err, sizeof(err)) < 0);
        if (!strstr(err, "packet 1 (host to guest): hello: header length 2147483647 is over"))
            fail_msg("%s", err);
    }
    assert_int_equal(urg_capture_decode("/nonexistent.urgcap", nothing, NULL, err, sizeof(err)),
                     URG_ERR_CAPTURE);
    unlink(path);
    unlink(good);
}

/* ---------------------------------------------------------------- decode, dump */

struct lines {
    char line[64][400];
    enum urg_dir dir[64];
    uint32_t conn[64];
    int n;
};
static int keep_line(void *ctx, const struct urg_capture_packet *cp)
{
    struct lines *l = ctx;
    if (l->n == 64)
        return 0;
    assert_int_equal(cp->index, (uint32_t)l->n + 1);
    urg_packet_format(cp->p, l->line[l->n], sizeof(l->line[0]));
    l->dir[l->n] = cp->dir;
    l->conn[l->n] = cp->connection;
    l->n++;
    return 0;
}

static int find_line(const struct lines *l, enum urg_dir dir, const char *start)
{
    int i;
    for (i = 0; i < l->n; i++)
        if (l->dir[i] == dir && strncmp(l->line[i], start, strlen(start)) == 0)
            return i;
    return -1;
}

static int stop_at_third(void *ctx, const struct urg_capture_packet *cp)
{
    int *n = ctx;
    (void)cp;
    return ++*n == 3 ? 7 : 0;
}

static void test_decode_and_dump_lines(void **state)
{
    char *path = temp_capture("dump"), err[300];
    struct lines *l = calloc(1, sizeof(*l));
    int i, stop;
    (void)state;
    assert_int_equal(record_session(path, EMU_KEYBOARD), 0);
    assert_int_equal(urg_capture_decode(path, keep_line, l, err, sizeof(err)), 0);
    /* hello both ways, the device, the request and its reply, the start,
     * its status, ten reports. */
    assert_true(l->n >= 18);
    assert_int_equal(l->dir[0] == URG_DIR_TO_HOST ? 0 : 1, find_line(l, URG_DIR_TO_HOST, "hello"));
    assert_true(find_line(l, URG_DIR_TO_GUEST,
                          "hello version=\"emuhost (usbredir-guest tests)\" caps=0xff") >= 0);
    assert_true(find_line(l, URG_DIR_TO_GUEST, "interface_info id=0 count=1 if0=03/01/01") >= 0);
    assert_true(find_line(l, URG_DIR_TO_GUEST, "ep_info id=0 0x81=interrupt/") >= 0);
    assert_true(find_line(l, URG_DIR_TO_GUEST, "device_connect id=0 0627:0001 speed=") >= 0);
    i = find_line(l, URG_DIR_TO_HOST, "control_packet id=");
    assert_true(i >= 0);
    assert_non_null(strstr(l->line[i],
                           " ep=0x80 rt=0x80 req=0x06 value=0x0100 index=0x0000 len=18 status=success"));
    i = find_line(l, URG_DIR_TO_GUEST, "control_packet id=");
    assert_true(i >= 0);
    assert_non_null(strstr(l->line[i], " len=18 status=success data=12010002000000402706"));
    assert_non_null(strstr(l->line[i], "...(18 bytes)"));
    assert_true(find_line(l, URG_DIR_TO_HOST, "start_interrupt_receiving id=") >= 0);
    assert_true(find_line(l, URG_DIR_TO_GUEST, "interrupt_receiving_status id=") >= 0);
    i = find_line(l, URG_DIR_TO_GUEST, "interrupt_packet id=");
    assert_true(i >= 0);
    assert_non_null(strstr(l->line[i], " ep=0x81 len=8 status=success data=00000b0000000000"));
    for (i = 0; i < l->n; i++)
        assert_int_equal(l->conn[i], 1);
    /* Decoding the capture from memory gives the same lines. */
    {
        struct lines *m = calloc(1, sizeof(*m));
        static uint8_t buf[1 << 16];
        FILE *f = fopen(path, "rb");
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        assert_int_equal(urg_capture_decode_mem(buf, n, keep_line, m, err, sizeof(err)), 0);
        assert_int_equal(m->n, l->n);
        for (i = 0; i < l->n; i++)
            assert_string_equal(m->line[i], l->line[i]);
        free(m);
    }
    /* The callback stops the decode with its own value. */
    stop = 0;
    assert_int_equal(urg_capture_decode(path, stop_at_third, &stop, err, sizeof(err)), 7);
    assert_int_equal(stop, 3);
    unlink(path);
    free(l);
}

/* ---------------------------------------------------------------- pcap synthesis */

enum { SEG = 100 };

struct synth {
    pcap_t *dead;
    pcap_dumper_t *dump;
    int dlt, v6;
    uint32_t isn[2];
    uint8_t addr[2][16];
    uint16_t port[2];
    uint64_t t;         /* microseconds */
    uint32_t cut;       /* record this many bytes of each frame (0: all) */
};

static void synth_open(struct synth *s, const char *path, int dlt, int v6)
{
    memset(s, 0, sizeof(*s));
    s->dead = pcap_open_dead(dlt, 262144);
    assert_non_null(s->dead);
    s->dump = pcap_dump_open(s->dead, path);
    assert_non_null(s->dump);
    s->dlt = dlt;
    s->v6 = v6;
    s->isn[0] = 0xfffffff0u; /* sequence numbers wrap during the session */
    s->isn[1] = 123456789u;
    s->port[0] = 40000;
    s->port[1] = 4000;
    if (v6) {
        inet_pton(AF_INET6, "fd00::1", s->addr[0]);
        inet_pton(AF_INET6, "fd00::2", s->addr[1]);
    } else {
        inet_pton(AF_INET, "10.0.0.1", s->addr[0]);
        inet_pton(AF_INET, "10.0.0.2", s->addr[1]);
    }
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

/* One TCP segment from side: off is the stream offset of its first byte. */
static void synth_seg(struct synth *s, int side, uint32_t off, const uint8_t *data, uint32_t len,
                      uint8_t flags)
{
    uint8_t f[128 + 2048];
    uint32_t l = 0, iplen = s->v6 ? 40 : 20;
    uint16_t ethertype = s->v6 ? 0x86dd : 0x0800;
    struct pcap_pkthdr h;
    uint8_t *ip, *tcp;
    assert_true(len <= 2048);
    memset(f, 0, sizeof(f));
    switch (s->dlt) {
    case DLT_EN10MB:
        f[5] = 2;
        f[11] = 1;
        put16(f + 12, 0x8100); /* with a VLAN tag */
        put16(f + 14, 7);
        put16(f + 16, ethertype);
        l = 18;
        break;
    case DLT_LINUX_SLL2:
        put16(f, ethertype);
        f[8] = 0; /* if index etc. */
        put16(f + 8, 772);
        l = 20;
        break;
    case DLT_NULL:
        f[0] = s->v6 ? 30 : 2; /* host byte order AF_ value: a 4-byte header */
        l = 4;
        break;
    default:
        l = 0; /* DLT_RAW */
    }
    ip = f + l;
    if (s->v6) {
        ip[0] = 0x60;
        put16(ip + 4, 20 + len);
        ip[6] = 6;
        ip[7] = 64;
        memcpy(ip + 8, s->addr[side], 16);
        memcpy(ip + 24, s->addr[1 - side], 16);
    } else {
        ip[0] = 0x45;
        put16(ip + 2, 20 + 20 + len);
        ip[6] = 0x40; /* don't fragment */
        ip[8] = 64;
        ip[9] = 6;
        memcpy(ip + 12, s->addr[side], 4);
        memcpy(ip + 16, s->addr[1 - side], 4);
    }
    tcp = ip + iplen;
    put16(tcp, s->port[side]);
    put16(tcp + 2, s->port[1 - side]);
    put32(tcp + 4, (flags & 0x02) ? s->isn[side] : s->isn[side] + 1 + off);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    if (len)
        memcpy(tcp + 20, data, len);
    l += iplen + 20 + len;
    s->t += 137;
    h.ts.tv_sec = (time_t)(1700000000 + s->t / 1000000);
    h.ts.tv_usec = (suseconds_t)(s->t % 1000000);
    h.len = l;
    h.caplen = s->cut && s->cut < l ? s->cut : l;
    pcap_dump((u_char *)s->dump, &h, f);
}

static void synth_close(struct synth *s)
{
    pcap_dump_close(s->dump);
    pcap_close(s->dead);
}

/* What to do to the segments. */
enum { SYN_ORDER = 0, SYN_SHUFFLE = 1, SYN_RETRANSMIT = 2, SYN_DROP = 4, SYN_CUT = 8 };

/* A pcap of the session in capture src, as a network would carry it. */
static void synthesize(const char *src, const char *out, int dlt, int v6, int how)
{
    struct streams st;
    struct synth s;
    uint32_t off[2] = { 0, 0 };
    size_t done[2] = { 0, 0 };
    int side, nseg[2] = { 0, 0 };
    streams_read(src, &st);
    synth_open(&s, out, dlt, v6);
    synth_seg(&s, 0, 0, NULL, 0, 0x02);
    synth_seg(&s, 1, 0, NULL, 0, 0x12);
    /* Alternate between the sides, SEG bytes at a time. */
    while (done[0] < st.n[0] || done[1] < st.n[1]) {
        for (side = 0; side < 2; side++) {
            uint32_t n = (uint32_t)(st.n[side] - done[side]);
            const uint8_t *d = st.b[side] + done[side];
            if (!n)
                continue;
            if (n > SEG)
                n = SEG;
            nseg[side]++;
            if ((how & SYN_SHUFFLE) && n == SEG && st.n[side] - done[side] >= 2 * SEG) {
                /* the next segment overtakes this one */
                synth_seg(&s, side, off[side] + SEG, d + SEG, SEG, 0x18);
                synth_seg(&s, side, off[side], d, SEG, 0x18);
                n = 2 * SEG;
            } else if ((how & SYN_DROP) && side == 1 && nseg[1] == 3) {
                /* the host's bytes 200 to 300: lost, never retransmitted */
            } else {
                synth_seg(&s, side, off[side], d, n, 0x18);
            }
            if ((how & SYN_RETRANSMIT) && n >= 10) {
                synth_seg(&s, side, off[side], d, n, 0x18);          /* the same again */
                synth_seg(&s, side, off[side] + 3, d + 3, 7, 0x18); /* a part of it */
            }
            done[side] += n;
            off[side] += n;
        }
    }
    /* FIN each way, then the last ACK (its sequence number is after the FIN). */
    synth_seg(&s, 0, off[0], NULL, 0, 0x11);
    synth_seg(&s, 1, off[1], NULL, 0, 0x11);
    synth_seg(&s, 0, off[0] + 1, NULL, 0, 0x10);
    synth_close(&s);
    streams_free(&st);
}

static void test_import_synthesized(void **state)
{
    static const struct {
        int dlt, v6, how;
    } cases[] = {
        { DLT_EN10MB, 0, SYN_ORDER },      { DLT_EN10MB, 0, SYN_SHUFFLE },
        { DLT_EN10MB, 0, SYN_RETRANSMIT }, { DLT_EN10MB, 1, SYN_SHUFFLE | SYN_RETRANSMIT },
        { DLT_LINUX_SLL2, 1, SYN_ORDER },  { DLT_LINUX_SLL2, 0, SYN_SHUFFLE },
        { DLT_NULL, 0, SYN_RETRANSMIT },   { DLT_RAW, 1, SYN_ORDER },
    };
    char *src = temp_capture("src"), *out = temp_capture("imported"), pcap[64], err[300];
    size_t i;
    (void)state;
    snprintf(pcap, sizeof(pcap), "/tmp/urg-test-%d.pcap", (int)getpid());
    assert_int_equal(record_session(src, EMU_MSC), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        synthesize(src, pcap, cases[i].dlt, cases[i].v6, cases[i].how);
        if (urg_capture_import_pcap(pcap, out, 0, err, sizeof(err)) != 0)
            fail_msg("case %zu: %s", i, err);
        assert_same_streams(src, out);
        /* The host's port picks the same side. */
        assert_int_equal(urg_capture_import_pcap(pcap, out, 4000, err, sizeof(err)), 0);
        assert_same_streams(src, out);
    }
    unlink(src);
    unlink(out);
    unlink(pcap);
}

static void test_import_refusals(void **state)
{
    char *src = temp_capture("src2"), *out = temp_capture("imported2"), pcap[64], err[300];
    (void)state;
    snprintf(pcap, sizeof(pcap), "/tmp/urg-test-%d-r.pcap", (int)getpid());
    assert_int_equal(record_session(src, EMU_MSC), 0);
    /* A segment of the host's stream was never captured. */
    synthesize(src, pcap, DLT_EN10MB, 0, SYN_DROP);
    assert_int_equal(urg_capture_import_pcap(pcap, out, 0, err, sizeof(err)), URG_ERR_TCP_GAP);
    assert_non_null(strstr(err, "the TCP stream 10.0.0.2:4000 -> 10.0.0.1:40000 has a gap: "
                                "bytes 200 to 300 were never captured"));
    /* The same with IPv6 addresses. */
    synthesize(src, pcap, DLT_LINUX_SLL2, 1, SYN_DROP);
    assert_int_equal(urg_capture_import_pcap(pcap, out, 0, err, sizeof(err)), URG_ERR_TCP_GAP);
    if (!strstr(err, "[fd00::2]:4000 -> [fd00::1]:40000 has a gap"))
        fail_msg("%s", err);
    /* A port neither side uses. */
    synthesize(src, pcap, DLT_EN10MB, 0, SYN_ORDER);
    assert_int_equal(urg_capture_import_pcap(pcap, out, 5555, err, sizeof(err)), URG_ERR_PCAP);
    assert_non_null(strstr(err, "neither side of the connection uses port 5555"));
    /* Not a pcap at all; no such file. */
    assert_int_equal(urg_capture_import_pcap(src, out, 0, err, sizeof(err)), URG_ERR_PCAP);
    assert_int_equal(urg_capture_import_pcap("/nonexistent.pcap", out, 0, err, sizeof(err)),
                     URG_ERR_PCAP);
    assert_non_null(strstr(err, "/nonexistent.pcap: "));
    /* Frames cut short by a small snap length. */
    {
        struct synth s;
        static const uint8_t hello[64] = { 0 };
        synth_open(&s, pcap, DLT_EN10MB, 0);
        s.cut = 80;
        synth_seg(&s, 0, 0, hello, 64, 0x18);
        synth_close(&s);
        assert_int_equal(urg_capture_import_pcap(pcap, out, 0, err, sizeof(err)), URG_ERR_PCAP);
        assert_non_null(strstr(err, "captured 80 of 122 bytes"));
    }
    /* A TCP connection that is not usbredir. */
    {
        struct synth s;
        static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        synth_open(&s, pcap, DLT_EN10MB, 0);
        synth_seg(&s, 0, 0, (const uint8_t *)http, sizeof(http) - 1, 0x18);
        synth_seg(&s, 1, 0, (const uint8_t *)http, sizeof(http) - 1, 0x18);
        synth_close(&s);
        assert_int_equal(urg_capture_import_pcap(pcap, out, 0, err, sizeof(err)), URG_ERR_PCAP);
        assert_non_null(strstr(err, "cannot tell which side is the usb-host"));
    }
    /* A link type that carries no IP and is no usbmon; a usbmon capture
     * with no URB (tests/transport/test_usbmon.c has the ones with). */
    {
        static const int dlts[2] = { DLT_IEEE802_11, DLT_USB_LINUX_MMAPPED };
        static const char *const why[2] = { "link type IEEE802_11 is not supported",
                                            "no URBs in the usbmon capture" };
        for (int i = 0; i < 2; i++) {
            pcap_t *dead = pcap_open_dead(dlts[i], 65535);
            pcap_dumper_t *d = pcap_dump_open(dead, pcap);
            struct pcap_pkthdr h;
            uint8_t z[64] = { 0 };
            char want[300];
            memset(&h, 0, sizeof(h));
            h.len = h.caplen = 64;
            pcap_dump((u_char *)d, &h, z);
            pcap_dump_close(d);
            pcap_close(dead);
            assert_int_equal(urg_capture_import_pcap(pcap, out, 0, err, sizeof(err)),
                             URG_ERR_PCAP);
            snprintf(want, sizeof(want), "%s: %s", pcap, why[i]);
            if (!strstr(err, want))
                fail_msg("%s", err);
        }
    }
    unlink(src);
    unlink(out);
    unlink(pcap);
}

/* Which side is the usb-host, and why: by what it sends, or by the port
 * given; the usb-guest's port given is refused; a port neither side has
 * too. The import into memory gives the same capture as into a file; a
 * max_bytes under the streams refuses it. */
static void test_import_host_side(void **state)
{
    char *src = temp_capture("src4"), *out = temp_capture("imported4"), pcap[64], err[300];
    char note[300];
    struct urg_import_config ic;
    uint8_t file[8192];
    void *mem;
    size_t len, n;
    (void)state;
    snprintf(pcap, sizeof(pcap), "/tmp/urg-test-%d-h.pcap", (int)getpid());
    assert_int_equal(record_session(src, EMU_KEYBOARD), 0);
    synthesize(src, pcap, DLT_EN10MB, 0, SYN_ORDER);
    urg_import_config_init(&ic);
    assert_int_equal(urg_capture_import(pcap, out, &ic, note, sizeof(note), err, sizeof(err)), 0);
    assert_string_equal(note, "the usb-host is 10.0.0.2:4000: it sent interface_info (only a "
                              "usb-host does)");
    assert_same_streams(src, out);
    ic.host_port = 4000;
    assert_int_equal(urg_capture_import(pcap, out, &ic, note, sizeof(note), err, sizeof(err)), 0);
    assert_string_equal(note, "the usb-host is 10.0.0.2:4000: its port was given (4000)");
    assert_same_streams(src, out);
    ic.host_port = 40000;
    assert_int_equal(urg_capture_import(pcap, out, &ic, note, sizeof(note), err, sizeof(err)),
                     URG_ERR_PCAP);
    if (!strstr(err, "port 40000 is the usb-guest's side (10.0.0.1:40000): the usb-host is "
                     "10.0.0.2:4000, which sent interface_info (only a usb-host does)"))
        fail_msg("%s", err);
    ic.host_port = 4001;
    assert_int_equal(urg_capture_import(pcap, out, &ic, note, sizeof(note), err, sizeof(err)),
                     URG_ERR_PCAP);
    if (!strstr(err, "neither side of the connection uses port 4001 (its sides are "
                     "10.0.0.1:40000 and 10.0.0.2:4000)"))
        fail_msg("%s", err);
    /* In memory: the same bytes as the file. */
    ic.host_port = 0;
    assert_int_equal(urg_capture_import(pcap, out, &ic, NULL, 0, err, sizeof(err)), 0);
    n = file_bytes(out, file, sizeof(file));
    assert_true(n > 100 && n < sizeof(file));
    assert_int_equal(urg_capture_import_mem(pcap, &ic, &mem, &len, NULL, 0, err, sizeof(err)), 0);
    assert_int_equal(len, n);
    assert_memory_equal(mem, file, n);
    free(mem);
    /* A budget under the streams' bytes. */
    ic.max_bytes = 512;
    assert_int_equal(urg_capture_import_mem(pcap, &ic, &mem, &len, NULL, 0, err, sizeof(err)),
                     URG_ERR_PCAP);
    if (!strstr(err, "the TCP streams are over 512 bytes (max_bytes)"))
        fail_msg("%s", err);
    assert_null(mem);
    /* Out of its ranges. */
    ic.max_bytes = 0;
    ic.host_port = 70000;
    assert_int_equal(urg_capture_import(pcap, out, &ic, NULL, 0, err, sizeof(err)),
                     URG_ERR_INVALID);
    ic.host_port = 0;
    ic.usb_bus = 1; /* without usb_address */
    assert_int_equal(urg_capture_import(pcap, out, &ic, NULL, 0, err, sizeof(err)),
                     URG_ERR_INVALID);
    unlink(src);
    unlink(out);
    unlink(pcap);
}

/* Runs a program to the end; returns its exit status. */
static int run(char *const argv[])
{
    int st;
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    assert_int_equal(waitpid(p, &st, 0), p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_import_pcapng(void **state)
{
    char *src = temp_capture("src3"), *out = temp_capture("imported3"), pcap[64], ng[64];
    char err[300];
    (void)state;
    snprintf(pcap, sizeof(pcap), "/tmp/urg-test-%d-n.pcap", (int)getpid());
    snprintf(ng, sizeof(ng), "/tmp/urg-test-%d.pcapng", (int)getpid());
    assert_int_equal(record_session(src, EMU_KEYBOARD), 0);
    synthesize(src, pcap, DLT_EN10MB, 1, SYN_SHUFFLE | SYN_RETRANSMIT);
    {
        char *argv[] = { "editcap", "-F", "pcapng", pcap, ng, NULL };
        assert_int_equal(run(argv), 0);
    }
    {
        uint8_t magic[4];
        assert_int_equal(file_bytes(ng, magic, 4), 4);
        assert_memory_equal(magic, "\x0a\x0d\x0d\x0a", 4); /* a pcapng section */
    }
    assert_int_equal(urg_capture_import_pcap(ng, out, 0, err, sizeof(err)), 0);
    assert_same_streams(src, out);
    unlink(src);
    unlink(out);
    unlink(pcap);
    unlink(ng);
}

/* ---------------------------------------------------------------- real tcpdump */

struct tsrv {
    int lfd;
    ev_io w;
    struct emuhost *e;
};
static void tsrv_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct tsrv *s = w->data;
    struct emu_config c;
    int fd = accept(s->lfd, NULL, NULL);
    (void)revents;
    if (fd < 0 || s->e)
        return;
    emu_config_init(&c, EMU_MSC);
    s->e = emu_new(&c);
    emu_serve(s->e, loop, fd, NULL, NULL);
}

static void test_import_from_tcpdump(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    char *rec = temp_capture("live"), *out = temp_capture("dumped"), pcap[64], addr[64];
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    struct tsrv s;
    struct tdev d;
    uint8_t back[512];
    struct tcpdump td;
    char err[300];
    (void)state;
    snprintf(pcap, sizeof(pcap), "/tmp/urg-test-%d-live.pcap", (int)getpid());
    memset(&s, 0, sizeof(s));
    s.lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s.lfd, 1), 0);
    getsockname(s.lfd, (struct sockaddr *)&a, &al);
    ev_io_init(&s.w, tsrv_accept, s.lfd, EV_READ);
    s.w.data = &s;
    ev_io_start(loop, &s.w);

    /* tcpdump on the loopback, for this port; ready when it says so. */
    assert_int_equal(tcpdump_start(&td, pcap, ntohs(a.sin_port)), 0);

    /* The session, recorded by the transport at the same time. */
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(a.sin_port));
    tdev_init(&d, loop, addr, 0, 0, rec);
    assert_true(run_until(loop, tdev_attached, &d, 10));
    assert_int_equal(msc_session(&d, 0xaa, back), 0);
    tdev_free(&d);
    emu_close(s.e);

    /* Both FINs are in the file: everything before them is too. */
    assert_int_equal(pcap_wait_fins(pcap, 2), 0);
    assert_int_equal(tcpdump_stop(&td), 0); /* no packet dropped */

    if (urg_capture_import_pcap(pcap, out, 0, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_same_streams(rec, out);
    emu_free(s.e);
    ev_io_stop(loop, &s.w);
    close(s.lfd);
    ev_loop_destroy(loop);
    unlink(rec);
    unlink(out);
    unlink(pcap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_format),
        cmocka_unit_test(test_damaged_captures),
        cmocka_unit_test(test_decode_and_dump_lines),
        cmocka_unit_test(test_import_synthesized),
        cmocka_unit_test(test_import_refusals),
        cmocka_unit_test(test_import_host_side),
        cmocka_unit_test(test_import_pcapng),
        cmocka_unit_test(test_import_from_tcpdump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

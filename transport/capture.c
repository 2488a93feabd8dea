/*
 * capture.c - capture files: the raw bytes of a session, both directions,
 * with timestamps (docs/fixtures.md has the format):
 *
 *   "URGCAP\x01\n"                            8-byte file header
 *   then records:
 *     kind   u8    'G' guest to host, 'H' host to guest, 'N' note,
 *                  'C' a new connection
 *     pad    3 bytes, zero
 *     len    u32   little-endian, bytes of data
 *     time   u64   little-endian, nanoseconds since the capture started
 *     data   len bytes
 *
 * And urg_capture_decode(): both directions decoded into packets, in the
 * order they were recorded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "talloc.h"
#include "urg_capture.h"
#include "urg_codec.h"
#include "urg_transport.h"

#define MAGIC "URGCAP\x01\n"
#define MAX_RECORD (256u * 1024u * 1024u)

struct urg_capture {
    FILE *f;                  /* the file; NULL for a capture in memory: */
    uint8_t *mem;             /* its bytes (from alloc) */
    size_t len, cap, max;     /* used, allocated, the most it may hold */
    struct timespec start;
    struct urg_allocator alloc;
};

struct urg_capture_reader {
    FILE *f;
    uint8_t *buf;
    size_t cap;
    struct urg_allocator alloc;
};

static uint64_t since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - start->tv_sec) * 1000000000u +
           (uint64_t)(now.tv_nsec - start->tv_nsec);
}

int urgt_capture_create(const struct urg_allocator *a, const char *path, urg_capture **out)
{
    urg_capture *c;
    if (!path || !out)
        return URG_ERR_INVALID;
    a = urgi_allocator_or_default(a);
    c = urgi_calloc(a, sizeof(*c));
    if (!c)
        return URG_ERR_NOMEM;
    c->alloc = *a;
    c->f = fopen(path, "wb");
    if (!c->f || fwrite(MAGIC, 1, 8, c->f) != 8) {
        if (c->f)
            fclose(c->f);
        urgi_free(a, c);
        return URG_ERR_CAPTURE;
    }
    clock_gettime(CLOCK_MONOTONIC, &c->start);
    *out = c;
    return 0;
}

URG_API int urg_capture_create(const char *path, urg_capture **out)
{
    return urgt_capture_create(NULL, path, out);
}

/* Appends n bytes to a capture in memory: 0, URG_ERR_CAPTURE past its
 * max, or URG_ERR_NOMEM. */
static int mem_put(urg_capture *c, const void *p, size_t n)
{
    if (n > c->max - c->len)
        return URG_ERR_CAPTURE;
    if (n > c->cap - c->len) {
        size_t nc = c->cap ? c->cap : 4096;
        uint8_t *nm;
        while (nc - c->len < n)
            nc = nc > c->max / 2 ? c->max : nc * 2;
        if (!(nm = urgi_realloc(&c->alloc, c->mem, nc)))
            return URG_ERR_NOMEM;
        c->mem = nm;
        c->cap = nc;
    }
    memcpy(c->mem + c->len, p, n);
    c->len += n;
    return 0;
}

int urgt_capture_create_mem(const struct urg_allocator *a, size_t max, urg_capture **out)
{
    urg_capture *c;
    int rc;
    if (!out || max < 8)
        return URG_ERR_INVALID;
    a = urgi_allocator_or_default(a);
    if (!(c = urgi_calloc(a, sizeof(*c))))
        return URG_ERR_NOMEM;
    c->alloc = *a;
    c->max = max;
    if ((rc = mem_put(c, MAGIC, 8))) {
        urgi_free(a, c);
        return rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &c->start);
    *out = c;
    return 0;
}

void urgt_capture_take_mem(urg_capture *c, void **data, size_t *len)
{
    struct urg_allocator a = c->alloc;
    *data = c->mem;
    *len = c->len;
    urgi_free(&a, c);
}

URG_API int urg_capture_write(urg_capture *c, int kind, const void *data, size_t len)
{
    if (!c)
        return URG_ERR_INVALID;
    return urg_capture_write_at(c, kind, since(&c->start), data, len);
}

URG_API int urg_capture_write_at(urg_capture *c, int kind, uint64_t t, const void *data,
                                 size_t len)
{
    uint8_t h[16];
    int i;
    if (!c || (len && !data) || len > MAX_RECORD)
        return URG_ERR_INVALID;
    memset(h, 0, sizeof(h));
    h[0] = (uint8_t)kind;
    for (i = 0; i < 4; i++)
        h[4 + i] = (uint8_t)(len >> (8 * i));
    for (i = 0; i < 8; i++)
        h[8 + i] = (uint8_t)(t >> (8 * i));
    if (!c->f) {
        int rc;
        if (16 + len > c->max - c->len)
            return URG_ERR_CAPTURE; /* the record whole, or nothing */
        if ((rc = mem_put(c, h, 16)) || (len && (rc = mem_put(c, data, len))))
            return rc;
        return 0;
    }
    if (fwrite(h, 1, 16, c->f) != 16 || (len && fwrite(data, 1, len, c->f) != len))
        return URG_ERR_CAPTURE;
    return 0;
}

URG_API void urg_capture_close(urg_capture *c)
{
    if (!c)
        return;
    if (c->f)
        fclose(c->f);
    urgi_free(&c->alloc, c->mem);
    urgi_free(&c->alloc, c);
}

/* A reader on an open stream (closed on failure). */
static int open_stream(const struct urg_allocator *a, FILE *f, urg_capture_reader **out)
{
    urg_capture_reader *r;
    char magic[8];
    a = urgi_allocator_or_default(a);
    r = urgi_calloc(a, sizeof(*r));
    if (!r) {
        if (f)
            fclose(f);
        return URG_ERR_NOMEM;
    }
    r->alloc = *a;
    r->f = f;
    if (!r->f || fread(magic, 1, 8, r->f) != 8 || memcmp(magic, MAGIC, 8)) {
        if (r->f)
            fclose(r->f);
        urgi_free(a, r);
        return URG_ERR_CAPTURE;
    }
    *out = r;
    return 0;
}

int urgt_capture_open(const struct urg_allocator *a, const char *path, urg_capture_reader **out)
{
    if (!path || !out)
        return URG_ERR_INVALID;
    return open_stream(a, fopen(path, "rb"), out);
}

int urgt_capture_open_mem(const struct urg_allocator *a, const void *data, size_t len,
                          urg_capture_reader **out)
{
    if (!data || !len || !out)
        return len ? URG_ERR_INVALID : URG_ERR_CAPTURE;
    return open_stream(a, fmemopen((void *)(uintptr_t)data, len, "rb"), out);
}

URG_API int urg_capture_open(const char *path, urg_capture_reader **out)
{
    return urgt_capture_open(NULL, path, out);
}

URG_API int urg_capture_open_mem(const void *data, size_t len, urg_capture_reader **out)
{
    return urgt_capture_open_mem(NULL, data, len, out);
}

URG_API int urg_capture_next(urg_capture_reader *r, struct urg_capture_record *rec)
{
    uint8_t h[16];
    uint32_t len = 0;
    uint64_t t = 0;
    size_t got;
    int i;
    if (!r || !rec)
        return URG_ERR_INVALID;
    got = fread(h, 1, 16, r->f);
    if (got == 0 && feof(r->f))
        return 0;
    if (got != 16)
        return URG_ERR_CAPTURE; /* a truncated record header */
    for (i = 0; i < 4; i++)
        len |= (uint32_t)h[4 + i] << (8 * i);
    for (i = 0; i < 8; i++)
        t |= (uint64_t)h[8 + i] << (8 * i);
    if ((h[0] != URG_CAP_GUEST && h[0] != URG_CAP_HOST && h[0] != URG_CAP_NOTE &&
         h[0] != URG_CAP_CONNECT) ||
        h[1] || h[2] || h[3] || len > MAX_RECORD)
        return URG_ERR_CAPTURE;
    if (len > r->cap) {
        uint8_t *n = urgi_realloc(&r->alloc, r->buf, len);
        if (!n)
            return URG_ERR_NOMEM;
        r->buf = n;
        r->cap = len;
    }
    if (len && fread(r->buf, 1, len, r->f) != len)
        return URG_ERR_CAPTURE; /* truncated data */
    rec->kind = h[0];
    rec->time_ns = t;
    rec->data = r->buf;
    rec->len = len;
    return 1;
}

URG_API void urg_capture_reader_free(urg_capture_reader *r)
{
    if (!r)
        return;
    fclose(r->f);
    urgi_free(&r->alloc, r->buf);
    urgi_free(&r->alloc, r);
}

/* ---------------------------------------------------------------- decode */

/*
 * Both streams of a connection are decoded with the engine's decoder: the
 * host's bytes in the guest role, the guest's in the host role. A decoder
 * must know its own side's caps for the header switch after the hellos, and
 * those are in the other stream's hello: a first pass finds both hellos of
 * every connection.
 */

struct hellos {
    uint32_t guest_caps, host_caps;
    uint8_t gbuf[80], hbuf[80];
    size_t glen, hlen;
};

struct dec_ctx {
    int (*fn)(void *, const struct urg_capture_packet *);
    void *ctx;
    struct urg_capture_packet cp;
    uint32_t index, connection;
    int stop;
    urg_decoder *cur;   /* the decoder being fed */
    char *err;
    size_t errcap;
    int error;
};

static int on_packet(void *c, const struct urg_packet *p)
{
    struct dec_ctx *d = c;
    struct urg_wire w = urg_decoder_wire(d->cur);
    int r;
    d->cp.p = p;
    d->cp.wire_len = (uint32_t)urg_encoded_header_len(&w, p, d->cp.dir) +
                     (p->type == URG_HELLO ? 0 : p->data_len);
    d->cp.index = ++d->index;
    d->cp.connection = d->connection;
    r = d->fn(d->ctx, &d->cp);
    if (r) {
        d->stop = r;
        return URG_DECODE_STOP;
    }
    return URG_DECODE_CONTINUE;
}

static void on_error(void *c, int err, const char *msg, int fatal)
{
    struct dec_ctx *d = c;
    (void)fatal;
    d->error = err;
    if (d->err && d->errcap)
        snprintf(d->err, d->errcap, "packet %u (%s): %s", d->index + 1,
                 d->cp.dir == URG_DIR_TO_HOST ? "guest to host" : "host to guest", msg);
}

/* A side's caps as a decoder takes them (bulk_streams needs max packet). */
static uint32_t usable_caps(uint32_t caps)
{
    caps &= URG_CAPS_ALL;
    if ((caps & URG_CAP_BIT(URG_CAP_BULK_STREAMS)) &&
        !(caps & URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE)))
        caps &= ~URG_CAP_BIT(URG_CAP_BULK_STREAMS);
    return caps;
}

static uint32_t hello_caps(const uint8_t *b, size_t len)
{
    /* type 0, length >= 68, 12-byte header, version[64], caps */
    if (len < 80 || b[0] || b[1] || b[2] || b[3])
        return 0;
    return (uint32_t)b[76] | (uint32_t)b[77] << 8 | (uint32_t)b[78] << 16 | (uint32_t)b[79] << 24;
}

/* Where a capture is: a file or memory; and the allocator to use. */
struct source {
    const char *path;
    const void *data;
    size_t len;
    const struct urg_allocator *alloc;
};

static int source_open(const struct source *src, urg_capture_reader **r)
{
    return src->path ? urgt_capture_open(src->alloc, src->path, r)
                     : urgt_capture_open_mem(src->alloc, src->data, src->len, r);
}

/* First pass: the caps in each connection's two hellos. */
static int find_hellos(const struct source *src, struct hellos **out, uint32_t *nconn)
{
    urg_capture_reader *r;
    struct urg_capture_record rec;
    struct hellos *h = NULL;
    uint32_t n = 0;
    int rc;
    if ((rc = source_open(src, &r)))
        return rc;
    while ((rc = urg_capture_next(r, &rec)) == 1) {
        struct hellos *cur;
        size_t k;
        if (rec.kind == URG_CAP_CONNECT || !n) {
            struct hellos *nh = urgi_realloc(src->alloc, h, (n + 1) * sizeof(*h));
            if (!nh) {
                rc = URG_ERR_NOMEM;
                break;
            }
            h = nh;
            memset(&h[n], 0, sizeof(h[n]));
            n++;
            if (rec.kind == URG_CAP_CONNECT)
                continue;
        }
        cur = &h[n - 1];
        if (rec.kind == URG_CAP_GUEST)
            for (k = 0; k < rec.len && cur->glen < 80; k++)
                cur->gbuf[cur->glen++] = rec.data[k];
        if (rec.kind == URG_CAP_HOST)
            for (k = 0; k < rec.len && cur->hlen < 80; k++)
                cur->hbuf[cur->hlen++] = rec.data[k];
    }
    urg_capture_reader_free(r);
    if (rc < 0) {
        urgi_free(src->alloc, h);
        return rc;
    }
    for (uint32_t i = 0; i < n; i++) {
        h[i].guest_caps = hello_caps(h[i].gbuf, h[i].glen);
        h[i].host_caps = hello_caps(h[i].hbuf, h[i].hlen);
    }
    *out = h;
    *nconn = n;
    return 0;
}

static int new_decoders(const struct urg_allocator *a, const struct hellos *h, struct dec_ctx *d,
                        urg_decoder **g, urg_decoder **hd)
{
    struct urg_decoder_config c;
    int r;
    memset(&c, 0, sizeof(c));
    c.allocator = a;
    c.callbacks.packet = on_packet;
    c.callbacks.error = on_error;
    c.ctx = d;
    c.role = URG_ROLE_HOST; /* reads what the guest sent */
    c.our_caps = usable_caps(h->host_caps);
    if ((r = urg_decoder_new(&c, g)))
        return r;
    c.role = URG_ROLE_GUEST; /* reads what the host sent */
    c.our_caps = usable_caps(h->guest_caps);
    if ((r = urg_decoder_new(&c, hd))) {
        urg_decoder_free(*g);
        *g = NULL;
        return r;
    }
    return 0;
}

static int decode(const struct source *src,
                  int (*fn)(void *ctx, const struct urg_capture_packet *cp), void *ctx,
                  char *err, size_t errcap)
{
    const char *path = src->path ? src->path : "(capture in memory)";
    struct hellos *h = NULL;
    uint32_t nconn = 0;
    urg_capture_reader *r = NULL;
    struct urg_capture_record rec;
    urg_decoder *g = NULL, *hd = NULL;
    struct dec_ctx d;
    int rc;

    if (!fn)
        return URG_ERR_INVALID;
    if (err && errcap)
        err[0] = 0;
    memset(&d, 0, sizeof(d));
    d.fn = fn;
    d.ctx = ctx;
    d.err = err;
    d.errcap = errcap;
    if ((rc = find_hellos(src, &h, &nconn))) {
        if (err && errcap)
            snprintf(err, errcap, "%s: %s", path, urg_strerror(rc));
        return rc;
    }
    if ((rc = source_open(src, &r)))
        goto out;
    while ((rc = urg_capture_next(r, &rec)) == 1) {
        urg_decoder *which;
        if (rec.kind == URG_CAP_CONNECT || !g) {
            if (d.connection >= nconn)
                continue; /* cannot happen: the first pass counted them */
            urg_decoder_free(g);
            urg_decoder_free(hd);
            g = hd = NULL;
            if ((rc = new_decoders(src->alloc, &h[d.connection], &d, &g, &hd)))
                goto out;
            d.connection++;
            if (rec.kind == URG_CAP_CONNECT)
                continue;
        }
        if (rec.kind != URG_CAP_GUEST && rec.kind != URG_CAP_HOST)
            continue;
        which = rec.kind == URG_CAP_GUEST ? g : hd;
        d.cur = which;
        d.cp.dir = rec.kind == URG_CAP_GUEST ? URG_DIR_TO_HOST : URG_DIR_TO_GUEST;
        d.cp.time_ns = rec.time_ns;
        {
            size_t used = 0;
            int x = urg_decoder_feed(which, rec.data, rec.len, &used);
            if (x == 1) {
                rc = d.stop;
                goto out;
            }
            if (x < 0) {
                rc = d.error ? d.error : x;
                goto out;
            }
        }
    }
    if (rc == 0 && err && errcap)
        err[0] = 0;
out:
    if (rc < 0 && err && errcap && !err[0])
        snprintf(err, errcap, "%s", urg_strerror(rc));
    urg_decoder_free(g);
    urg_decoder_free(hd);
    urg_capture_reader_free(r);
    urgi_free(src->alloc, h);
    return rc;
}

int urgt_capture_decode(const struct urg_allocator *a, const char *path,
                        int (*fn)(void *ctx, const struct urg_capture_packet *cp), void *ctx,
                        char *err, size_t errcap)
{
    struct source src = { path, NULL, 0, urgi_allocator_or_default(a) };
    if (!path)
        return URG_ERR_INVALID;
    return decode(&src, fn, ctx, err, errcap);
}

int urgt_capture_decode_mem(const struct urg_allocator *a, const void *data, size_t len,
                            int (*fn)(void *ctx, const struct urg_capture_packet *cp), void *ctx,
                            char *err, size_t errcap)
{
    struct source src = { NULL, data, len, urgi_allocator_or_default(a) };
    if (!data && len)
        return URG_ERR_INVALID;
    return decode(&src, fn, ctx, err, errcap);
}

URG_API int urg_capture_decode(const char *path,
                               int (*fn)(void *ctx, const struct urg_capture_packet *cp),
                               void *ctx, char *err, size_t errcap)
{
    return urgt_capture_decode(NULL, path, fn, ctx, err, errcap);
}

URG_API int urg_capture_decode_mem(const void *data, size_t len,
                                   int (*fn)(void *ctx, const struct urg_capture_packet *cp),
                                   void *ctx, char *err, size_t errcap)
{
    return urgt_capture_decode_mem(NULL, data, len, fn, ctx, err, errcap);
}

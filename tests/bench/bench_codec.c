/*
 * bench_codec.c - decode and encode cost of the engine beside the
 * reference (libusbredirparser 0.13, guest role) and the raw limits, on the
 * same bytes in the same run.
 *
 *   bench_codec                      every workload, wall time (ns/packet)
 *   bench_codec WORKLOAD IMPL        one, for callgrind: the measured loop
 *                                    is bracketed with
 *                                    CALLGRIND_START/STOP_INSTRUMENTATION
 *
 * Decode workloads are host-to-guest streams (a hello and a device first,
 * not measured): bulk16k, bulk64k (bulk IN replies), intr8 (interrupt
 * packets), ctrl18 (control replies of 18 bytes), mix (the four in turn).
 * Encode workloads: out16k (bulk OUT requests of 16 KiB), bulkin (bulk IN
 * requests), ctrl (control requests), each drained after every request;
 * bulkin32 and ctrl32, the same drained after every 32. IMPL: urg (the session), ref, copy
 * (each payload read once straight into its request's buffer, headers
 * walked: the floor), walk (a walk over the headers), and the codec API
 * that embedders other than the session use (guest/urg_codec.h): codec
 * (decode: a bare guest-role urg_decoder fed 64 KiB reads, whose packet
 * callback does the reference's consumer's work; encode: urg_encode() of
 * each request into a buffer that is written out), codecw (decode only:
 * the same with a header callback that offers the request's buffer, read
 * as the session's loop reads, through urg_decoder_window()), codec1
 * (encode only: each request encoded once, then urg_encode_set_id() per
 * request), codecq and codec1q (encode only: codec and codec1 through the
 * codec API's output queue, urg_output, drained after each request as the
 * session is).
 *
 * read(2) is stood for by a memcpy from the stream, timed (its cost is in
 * every implementation's wall time) but not counted by callgrind: the
 * kernel does that copy. The instructions are the process's own work.
 *
 * The same minimal work on both sides: the reply's request is found (the
 * engine: its pending table; the reference: the application's table by id)
 * and its data delivered (first and last byte read). Bytes are fed in
 * 64 KiB reads, as from a socket. Encoded output is taken out (the engine:
 * iovecs consumed; the reference: its write callback) and dropped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <usbredirparser.h>
#include <valgrind/callgrind.h>

#include "testhost.h"
#include "urg_codec.h"

#define READ 65536

static volatile uint32_t sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* read(2) stood for by a memcpy; callgrind does not count it (the kernel
 * copies, not the process), so instruction counts are the process's own. */
static int collecting;
static void kernel_copy(void *to, const void *from, size_t n)
{
    if (collecting)
        CALLGRIND_TOGGLE_COLLECT;
    memcpy(to, from, n);
    if (collecting)
        CALLGRIND_TOGGLE_COLLECT;
}

/* ---------------------------------------------------------------- streams */

struct work {
    const char *name;
    int decode;
    uint32_t n;             /* packets */
    uint8_t *setup;         /* hello and device (not measured) */
    size_t setup_len;
    uint8_t *stream;        /* the measured bytes (decode) */
    size_t len;
    uint32_t *kind;         /* per packet: 0 bulk, 1 interrupt, 2 control */
    uint32_t *size;         /* payload bytes */
    uint32_t burst;         /* encode: requests made between two drains (0: 1) */
};

/* Encode: is the output drained after request i (a burst's last, or the
 * run's)? */
static int drain_after(const struct work *w, uint32_t i)
{
    return w->burst <= 1 || (i + 1) % w->burst == 0 || i + 1 == w->n;
}
/* The encode workloads by what they request: a control request (ctrl,
 * ctrl32), a bulk OUT request (out16k) or a bulk IN request (the rest). */
static int is_ctrl(const struct work *w) { return !strncmp(w->name, "ctrl", 4); }
static int is_out(const struct work *w) { return !strcmp(w->name, "out16k"); }

static void no_complete(void *ud, const struct urg_completion *c)
{
    (void)ud;
    (void)c;
}

/* Builds the decode stream of a workload with the test host's encoder. */
static void build(struct work *w, int kinds_mask, uint32_t bulk_size)
{
    static uint8_t payload[65536];
    struct testhost h;
    struct urg_session_config cfg;
    urg_session *s;
    uint32_t i, k = 0, reqs = 1; /* id 1: the engine's start of interrupt receiving */
    urg_session_config_init(&cfg);
    cfg.callbacks.complete = no_complete;
    urg_session_new(&cfg, &s);
    th_init(&h, URG_CAPS_ALL);
    th_pump(&h, s); /* the guest's hello: the host knows the layout */
    th_hello(&h);
    th_device(&h);
    w->setup_len = th_out_len(&h);
    w->setup = malloc(w->setup_len);
    memcpy(w->setup, th_out(&h), w->setup_len);
    th_drop(&h);
    w->kind = calloc(w->n, sizeof(uint32_t));
    w->size = calloc(w->n, sizeof(uint32_t));
    for (i = 0; i < w->n; i++) {
        struct urg_packet p;
        memset(&p, 0, sizeof(p));
        do
            k = (k + 1) % 3;
        while (!(kinds_mask & (1u << k)));
        w->kind[i] = k;
        if (k != 1)
            p.id = ++reqs; /* the engine numbers requests 2, 3, 4, ... */
        if (k == 0) {
            p.type = URG_BULK_PACKET;
            p.h.bulk.endpoint = 0x82;
            p.h.bulk.length = bulk_size;
            p.data_len = w->size[i] = bulk_size;
        } else if (k == 1) {
            p.type = URG_INTERRUPT_PACKET;
            p.id = i;
            p.h.interrupt.endpoint = 0x81;
            p.h.interrupt.length = 8;
            p.data_len = w->size[i] = 8;
        } else {
            p.type = URG_CONTROL_PACKET;
            p.h.control.endpoint = 0x80;
            p.h.control.requesttype = 0x80;
            p.h.control.request = 6;
            p.h.control.value = 0x100;
            p.h.control.length = 18;
            p.data_len = w->size[i] = 18;
        }
        p.data = payload;
        th_emit(&h, &p);
    }
    w->len = th_out_len(&h);
    w->stream = malloc(w->len);
    memcpy(w->stream, th_out(&h), w->len);
    th_free(&h);
    urg_session_free(s);
}

/* ---------------------------------------------------------------- the engine */

struct urg_run {
    uint8_t **dest;
    uint64_t delivered;
};

static void urg_complete(void *ud, const struct urg_completion *c)
{
    struct urg_run *r = ud;
    uint8_t *dest = c->user_data;
    /* Delivered: the data in the request's buffer (where the engine put it
     * when it came through the window or straddled reads; else copied from
     * the read buffer, as the model does). */
    if (c->length && dest && c->data != dest)
        memcpy(dest, c->data, c->length);
    if (c->length)
        sink += dest[0] + dest[c->length - 1];
    r->delivered++;
}

static void urg_stream(void *ud, const struct urg_stream_data *d)
{
    struct urg_run *r = ud;
    sink += d->data[0] + d->data[d->length - 1];
    r->delivered++;
}

static void drain(urg_session *s)
{
    struct iovec iov[64];
    int n;
    while ((n = urg_session_output(s, iov, 64)) > 0) {
        size_t t = 0;
        for (int i = 0; i < n; i++)
            t += iov[i].iov_len;
        urg_session_consume(s, t);
    }
}

static urg_session *urg_start(struct work *w, struct urg_run *r)
{
    struct urg_session_config cfg;
    urg_session *s;
    urg_session_config_init(&cfg);
    cfg.callbacks.complete = urg_complete;
    cfg.callbacks.stream_data = urg_stream;
    cfg.user_data = r;
    cfg.pending_hint = w->n + 1; /* and the start of interrupt receiving */
    cfg.max_output_bytes = 0;
    if (urg_session_new(&cfg, &s) || urg_session_recv(s, w->setup, w->setup_len) < 0)
        abort();
    /* The engine delivers interrupt IN data only for a stream it started
     * (the reference delivers any): start it, as a guest would, as id 1. */
    if (urg_session_start_interrupt_receiving(s, 0x81, NULL, NULL))
        abort();
    drain(s);
    return s;
}

/* Destination buffers of the bulk requests: a ring of 64 MiB, so they do
 * not all stay in the cache. */
static uint8_t *bulk_buf(uint32_t i, uint32_t size)
{
    static uint8_t *ring;
    static size_t at;
    const size_t cap = 64u << 20;
    (void)i;
    if (!ring) {
        if (!(ring = malloc(cap)))
            abort();
        memset(ring, 0, cap); /* no page faults in the measured loops */
    }
    if (at + size > cap)
        at = 0;
    at += size;
    return ring + at - size;
}

static double eng_decode(struct work *w)
{
    static const uint8_t get_device[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    struct urg_run r = { NULL, 0 };
    urg_session *s = urg_start(w, &r);
    uint8_t *buf = malloc((size_t)w->n * 64), *rbuf = malloc(READ);
    double t0;
    for (uint32_t i = 0; i < w->n; i++) { /* the requests the replies answer */
        uint64_t id;
        int rc = 0;
        if (w->kind[i] == 0) /* each its own buffer, as a VMM's URBs */
        {
            uint8_t *dest = bulk_buf(i, w->size[i]);
            rc = urg_session_bulk(s, 0x82, 0, w->size[i], dest, dest, &id);
        } else if (w->kind[i] == 2)
            rc = urg_session_control(s, 0, get_device, buf + (size_t)i * 64, buf + (size_t)i * 64,
                                     &id);
        else
            continue;
        if (rc) {
            fprintf(stderr, "%s: request %u: %s\n", w->name, i, urg_strerror(rc));
            abort();
        }
    }
    drain(s);
    CALLGRIND_TOGGLE_COLLECT;
    collecting = 1;
    t0 = now();
    /* The transport's read loop (transport/transport.c on_read), read(2)
     * stood for by a memcpy from the stream that callgrind does not count
     * (the kernel's copy): straight into a request's buffer when the engine
     * offers its window, else into the read buffer - a header's worth right
     * after a direct read - then handed to the engine. */
    for (size_t off = 0, direct = 0; off < w->len;) {
        void *wb;
        size_t wl, n = w->len - off;
        if (urg_session_recv_window(s, &wb, &wl) == 1) {
            n = n < wl ? n : wl;
            kernel_copy(wb, w->stream + off, n);
            if (urg_session_recv_commit(s, n) < 0)
                abort();
            direct = 1;
        } else {
            n = n < (direct ? 64 : READ) ? n : (direct ? 64 : READ);
            kernel_copy(rbuf, w->stream + off, n);
            if (urg_session_recv(s, rbuf, n) < 0)
                abort();
            direct = 0;
        }
        off += n;
    }
    t0 = now() - t0;
    collecting = 0;
    CALLGRIND_TOGGLE_COLLECT;
    if (r.delivered != w->n)
        abort();
    urg_session_free(s);
    free(buf);
    free(rbuf);
    return t0;
}

static double eng_encode_run(struct work *w)
{
    static const uint8_t get_device[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    struct urg_run r = { NULL, 0 };
    urg_session *s = urg_start(w, &r);
    uint8_t *buf = malloc(16384);
    int out = is_out(w), ctrl = is_ctrl(w);
    double t0;
    memset(buf, 0x5a, 16384);
    CALLGRIND_TOGGLE_COLLECT;
    collecting = 1;
    t0 = now();
    for (uint32_t i = 0; i < w->n; i++) {
        int rc;
        if (out)
            rc = urg_session_bulk(s, 0x02, 0, 16384, buf, NULL, NULL);
        else if (!ctrl)
            rc = urg_session_bulk(s, 0x82, 0, 16384, buf, NULL, NULL);
        else
            rc = urg_session_control(s, 0, get_device, buf, NULL, NULL);
        if (rc)
            abort();
        if (drain_after(w, i))
            drain(s);
    }
    t0 = now() - t0;
    collecting = 0;
    CALLGRIND_TOGGLE_COLLECT;
    urg_session_free(s);
    free(buf);
    return t0;
}

/* ---------------------------------------------------------------- the reference */

struct ref_run {
    struct usbredirparser *p;
    const uint8_t *in;
    size_t len, off;
    uint8_t **table;        /* the application's requests, by id */
    uint64_t delivered;
};

static int r_read(void *priv, uint8_t *data, int count)
{
    struct ref_run *r = priv;
    size_t n = r->len - r->off;
    if (n > (size_t)count)
        n = (size_t)count;
    kernel_copy(data, r->in + r->off, n);
    r->off += n;
    return (int)n;
}

static int r_write(void *priv, uint8_t *data, int count)
{
    (void)priv;
    sink += data[0];
    return count;
}

static void r_log(void *priv, int level, const char *msg)
{
    (void)priv;
    if (level <= usbredirparser_error)
        fprintf(stderr, "ref: %s\n", msg);
}

/* Delivered: the request found by id, the data copied into its buffer
 * (the reference hands out its own copy, as QEMU's usb-redir then copies
 * into the guest's). */
static void deliver(struct ref_run *r, uint64_t id, const uint8_t *data, int len)
{
    uint8_t *dest = r->table ? r->table[id] : NULL;
    if (len > 0 && dest) {
        memcpy(dest, data, (size_t)len);
        sink += dest[0] + dest[len - 1];
    } else if (len > 0) {
        sink += data[0] + data[len - 1];
    }
    r->delivered++;
}

static void r_bulk(void *priv, uint64_t id, struct usb_redir_bulk_packet_header *h, uint8_t *data,
                   int len)
{
    struct ref_run *r = priv;
    (void)h;
    deliver(r, id, data, len);
    usbredirparser_free_packet_data(r->p, data);
}

static void r_control(void *priv, uint64_t id, struct usb_redir_control_packet_header *h,
                      uint8_t *data, int len)
{
    struct ref_run *r = priv;
    (void)h;
    deliver(r, id, data, len);
    usbredirparser_free_packet_data(r->p, data);
}

static void r_interrupt(void *priv, uint64_t id, struct usb_redir_interrupt_packet_header *h,
                        uint8_t *data, int len)
{
    struct ref_run *r = priv;
    (void)h;
    (void)id;
    deliver(r, 0, data, len);
    usbredirparser_free_packet_data(r->p, data);
}

/* The setup packets (the reference calls every callback unchecked). */
static void r_hello(void *priv, struct usb_redir_hello_header *h) { (void)priv, (void)h; }
static void r_connect(void *priv, struct usb_redir_device_connect_header *h)
{
    (void)priv, (void)h;
}
static void r_ifs(void *priv, struct usb_redir_interface_info_header *h) { (void)priv, (void)h; }
static void r_eps(void *priv, struct usb_redir_ep_info_header *h) { (void)priv, (void)h; }

static void ref_feed(struct ref_run *r, const uint8_t *b, size_t n)
{
    r->in = b;
    r->len = n;
    r->off = 0;
    while (r->off < r->len)
        if (usbredirparser_do_read(r->p) < 0)
            abort();
}

static struct usbredirparser *ref_start(struct work *w, struct ref_run *r)
{
    uint32_t caps[USB_REDIR_CAPS_SIZE] = { 0xff };
    struct usbredirparser *p = usbredirparser_create();
    memset(r, 0, sizeof(*r));
    r->p = p;
    p->priv = r;
    p->log_func = r_log;
    p->read_func = r_read;
    p->write_func = r_write;
    p->bulk_packet_func = r_bulk;
    p->control_packet_func = r_control;
    p->interrupt_packet_func = r_interrupt;
    p->hello_func = r_hello;
    p->device_connect_func = r_connect;
    p->interface_info_func = r_ifs;
    p->ep_info_func = r_eps;
    usbredirparser_init(p, "ref", caps, USB_REDIR_CAPS_SIZE, 0);
    ref_feed(r, w->setup, w->setup_len);
    while (usbredirparser_has_data_to_write(p))
        usbredirparser_do_write(p);
    return p;
}

static double ref_decode(struct work *w)
{
    struct ref_run r;
    struct usbredirparser *p = ref_start(w, &r);
    double t0;
    uint8_t *small = malloc((size_t)w->n * 64);
    uint32_t id = 1; /* the replies' ids start at 2 (see build()) */
    r.table = calloc(w->n + 2, sizeof(uint8_t *));
    for (uint32_t i = 0; i < w->n; i++) /* the application's requests */
        if (w->kind[i] == 0)
            r.table[++id] = bulk_buf(i, w->size[i]);
        else if (w->kind[i] == 2)
            r.table[++id] = small + (size_t)i * 64;
    CALLGRIND_TOGGLE_COLLECT;
    collecting = 1;
    t0 = now();
    for (size_t off = 0; off < w->len; off += READ)
        ref_feed(&r, w->stream + off, w->len - off < READ ? w->len - off : READ);
    t0 = now() - t0;
    collecting = 0;
    CALLGRIND_TOGGLE_COLLECT;
    if (r.delivered != w->n)
        abort();
    free(r.table);
    free(small);
    usbredirparser_destroy(p);
    return t0;
}

static double ref_encode_run(struct work *w)
{
    struct ref_run r;
    struct usbredirparser *p = ref_start(w, &r);
    uint8_t *buf = malloc(16384);
    int ctrl = is_ctrl(w), out = is_out(w);
    double t0;
    memset(buf, 0x5a, 16384);
    CALLGRIND_TOGGLE_COLLECT;
    collecting = 1;
    t0 = now();
    for (uint32_t i = 0; i < w->n; i++) {
        if (ctrl) {
            struct usb_redir_control_packet_header h = { 0x80, 6, 0x80, 0, 0x100, 0, 18 };
            usbredirparser_send_control_packet(p, i + 1, &h, NULL, 0);
        } else {
            struct usb_redir_bulk_packet_header h = { (uint8_t)(out ? 0x02 : 0x82), 0, 16384, 0,
                                                      0 };
            usbredirparser_send_bulk_packet(p, i + 1, &h, out ? buf : NULL, out ? 16384 : 0);
        }
        if (drain_after(w, i))
            while (usbredirparser_has_data_to_write(p))
                usbredirparser_do_write(p);
    }
    t0 = now() - t0;
    collecting = 0;
    CALLGRIND_TOGGLE_COLLECT;
    usbredirparser_destroy(p);
    free(buf);
    return t0;
}

/* ---------------------------------------------------------------- the codec API */

/* The engine's wire codec as an embedder other than the session uses it
 * (guest/urg_codec.h): a guest-role urg_decoder with a packet callback
 * only, and urg_encode() / urg_encode_set_id(). */

/* The negotiated layout of every workload: both sides have every cap (the
 * session's default caps against the test host's). */
static struct urg_wire codec_wire(void) { return urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL); }

struct codec_run {
    uint8_t **table;        /* the application's requests, by id */
    uint64_t delivered;
};

/* The reference's consumer's work (deliver()): a reply's request found by
 * id in the application's table and its data copied into its buffer, unless
 * the decoder put it there already (codecw: the header callback offered the
 * buffer); interrupt data read where it is. */
static int codec_packet(void *ctx, const struct urg_packet *p)
{
    struct codec_run *r = ctx;
    uint8_t *dest;
    switch (p->type) {
    case URG_BULK_PACKET:
    case URG_CONTROL_PACKET:
        dest = r->table[p->id];
        if (p->data_len) {
            if (p->data != dest)
                memcpy(dest, p->data, p->data_len);
            sink += dest[0] + dest[p->data_len - 1];
        }
        break;
    case URG_INTERRUPT_PACKET:
        if (p->data_len)
            sink += p->data[0] + p->data[p->data_len - 1];
        break;
    default: /* the setup's packets */
        return URG_DECODE_CONTINUE;
    }
    r->delivered++;
    return URG_DECODE_CONTINUE;
}

/* codecw: a reply's payload goes into its request's buffer when it does not
 * lie whole in the bytes fed (the decoder's window then reads it there). */
static int codec_header(void *ctx, const struct urg_packet *p, uint8_t **dest)
{
    struct codec_run *r = ctx;
    if (p->type == URG_BULK_PACKET || p->type == URG_CONTROL_PACKET)
        *dest = r->table[p->id];
    return URG_DECODE_CONTINUE;
}

static void codec_error(void *ctx, int err, const char *msg, int fatal)
{
    (void)ctx;
    fprintf(stderr, "codec: %s (%s%s)\n", msg, urg_error_name(err), fatal ? ", fatal" : "");
}

/* The decode loop: codec, 64 KiB reads fed; codecw, the transport's read
 * loop as eng_decode() runs it (straight into the decoder's window when it
 * offers one, else a read, of a header's worth after a direct read). */
static double codec_decode(struct work *w, int window)
{
    struct codec_run r;
    struct urg_decoder_config c;
    urg_decoder *d;
    uint8_t *small = malloc((size_t)w->n * 64), *rbuf = malloc(READ);
    uint32_t id = 1; /* the replies' ids start at 2 (see build()) */
    double t0;
    memset(&r, 0, sizeof(r));
    memset(&c, 0, sizeof(c));
    c.role = URG_ROLE_GUEST;
    c.our_caps = URG_CAPS_ALL;
    c.policy = URG_POLICY_FAIL;
    c.callbacks.header = window ? codec_header : NULL;
    c.callbacks.packet = codec_packet;
    c.callbacks.error = codec_error;
    c.ctx = &r;
    if (urg_decoder_new(&c, &d) || urg_decoder_feed(d, w->setup, w->setup_len, NULL))
        abort();
    r.table = calloc(w->n + 2, sizeof(uint8_t *));
    for (uint32_t i = 0; i < w->n; i++) /* the application's requests */
        if (w->kind[i] == 0)
            r.table[++id] = bulk_buf(i, w->size[i]);
        else if (w->kind[i] == 2)
            r.table[++id] = small + (size_t)i * 64;
    CALLGRIND_TOGGLE_COLLECT;
    collecting = 1;
    t0 = now();
    for (size_t off = 0, direct = 0; off < w->len;) {
        void *wb;
        size_t wl, n = w->len - off;
        if (window && urg_decoder_window(d, &wb, &wl) == 1) {
            n = n < wl ? n : wl;
            kernel_copy(wb, w->stream + off, n);
            if (urg_decoder_commit(d, n))
                abort();
            direct = 1;
        } else {
            n = n < (direct ? 64 : READ) ? n : (direct ? 64 : READ);
            kernel_copy(rbuf, w->stream + off, n);
            if (urg_decoder_feed(d, rbuf, n, NULL))
                abort();
            direct = 0;
        }
        off += n;
    }
    t0 = now() - t0;
    collecting = 0;
    CALLGRIND_TOGGLE_COLLECT;
    if (r.delivered != w->n)
        abort();
    urg_decoder_free(d);
    free(r.table);
    free(small);
    free(rbuf);
    return t0;
}

/* The request each encode workload makes (the session's: control GET
 * DESCRIPTOR(device) of 18 bytes; bulk of 16 KiB on 0x82 or 0x02). */
static void codec_request(const struct work *w, struct urg_packet *p, const uint8_t *out)
{
    memset(p, 0, sizeof(*p));
    if (is_ctrl(w)) {
        p->type = URG_CONTROL_PACKET;
        p->h.control.endpoint = 0x80;
        p->h.control.request = 6;
        p->h.control.requesttype = 0x80;
        p->h.control.value = 0x100;
        p->h.control.length = 18;
    } else {
        int o = is_out(w);
        p->type = URG_BULK_PACKET;
        p->h.bulk.endpoint = o ? 0x02 : 0x82;
        p->h.bulk.length = 16384;
        p->data = o ? out : NULL;
        p->data_len = o ? 16384 : 0;
    }
}

/* Each request encoded by urg_encode() (once = 0), or encoded once and
 * given its id by urg_encode_set_id() (once = 1), and written out: the
 * headers from the encode buffer, an OUT payload from the caller's buffer
 * (the write stood for as the reference's write callback is). */
static double codec_encode_run(struct work *w, int once)
{
    const struct urg_wire wire = codec_wire();
    struct urg_packet p;
    uint8_t *buf = malloc(16384), hdr[64];
    int n = 0;
    double t0;
    memset(buf, 0x5a, 16384);
    codec_request(w, &p, buf);
    if (once && (n = urg_encode(&wire, URG_DIR_TO_HOST, &p, hdr, sizeof(hdr))) < 0)
        abort();
    CALLGRIND_TOGGLE_COLLECT;
    collecting = 1;
    t0 = now();
    for (uint32_t i = 0; i < w->n; i++) {
        if (once) {
            if (urg_encode_set_id(&wire, hdr, (size_t)n, i + 1))
                abort();
        } else {
            p.id = i + 1;
            if ((n = urg_encode(&wire, URG_DIR_TO_HOST, &p, hdr, sizeof(hdr))) < 0)
                abort();
        }
        sink += hdr[0];
        if (p.data_len)
            sink += p.data[0];
    }
    t0 = now() - t0;
    collecting = 0;
    CALLGRIND_TOGGLE_COLLECT;
    free(buf);
    return t0;
}

/* The same requests queued in an urg_output and written out after each
 * (iovecs handed out and consumed, as eng_encode_run() drains the
 * session): codecq, each encoded by urg_output_packet(); codec1q, encoded
 * once, then urg_encode_set_id() and urg_output_put() per request. An OUT
 * payload is queued by reference. */
static double codec_queue_run(struct work *w, int once)
{
    const struct urg_wire wire = codec_wire();
    struct urg_output_config c;
    struct urg_packet p;
    struct iovec iov[64];
    urg_output *o;
    uint8_t *buf = malloc(16384), hdr[64];
    int n = 0;
    double t0;
    memset(buf, 0x5a, 16384);
    codec_request(w, &p, buf);
    if (once && (n = urg_encode(&wire, URG_DIR_TO_HOST, &p, hdr, sizeof(hdr))) < 0)
        abort();
    memset(&c, 0, sizeof(c));
    c.max_bytes = 32u << 20; /* the session's default bound */
    if (urg_output_new(&c, &o))
        abort();
    CALLGRIND_TOGGLE_COLLECT;
    collecting = 1;
    t0 = now();
    for (uint32_t i = 0; i < w->n; i++) {
        int k;
        if (once) {
            if (urg_encode_set_id(&wire, hdr, (size_t)n, i + 1) ||
                urg_output_put(o, hdr, (size_t)n, p.data, p.data_len, NULL))
                abort();
        } else {
            p.id = i + 1;
            if (urg_output_packet(o, &wire, URG_DIR_TO_HOST, &p, NULL))
                abort();
        }
        while (drain_after(w, i) && (k = urg_output_iov(o, iov, 64)) > 0) {
            size_t t = 0;
            for (int j = 0; j < k; j++)
                t += iov[j].iov_len;
            sink += ((const uint8_t *)iov[0].iov_base)[0];
            if (urg_output_consume(o, t))
                abort();
        }
    }
    t0 = now() - t0;
    collecting = 0;
    CALLGRIND_TOGGLE_COLLECT;
    urg_output_free(o);
    free(buf);
    return t0;
}

/* ---------------------------------------------------------------- raw limits */

/* The floor: each payload copied once, from the stream into its request's
 * buffer (what read(2) into that buffer costs), the headers only walked. */
static double raw_copy(struct work *w)
{
    uint8_t *small = malloc((size_t)w->n * 64), **dest = calloc(w->n, sizeof(uint8_t *));
    uint32_t i = 0;
    double t0;
    for (i = 0; i < w->n; i++)
        dest[i] = w->kind[i] == 0 ? bulk_buf(i, w->size[i]) : small + (size_t)i * 64;
    i = 0;
    CALLGRIND_TOGGLE_COLLECT;
    collecting = 1;
    t0 = now();
    for (size_t off = 0; off + 16 <= w->len; i++) {
        uint32_t length, hlen = w->kind[i] == 0 ? 16 + 10 : w->kind[i] == 1 ? 16 + 4 : 16 + 10;
        memcpy(&length, w->stream + off + 4, 4);
        kernel_copy(dest[i], w->stream + off + hlen, w->size[i]);
        off += 16 + length;
    }
    t0 = now() - t0;
    collecting = 0;
    CALLGRIND_TOGGLE_COLLECT;
    if (i != w->n)
        abort();
    free(small);
    free(dest);
    return t0;
}

/* Every header read (type, length), the rest skipped: 16-byte headers. */
static double raw_walk(struct work *w)
{
    double t0;
    uint32_t n = 0;
    CALLGRIND_TOGGLE_COLLECT;
    collecting = 1;
    t0 = now();
    for (size_t off = 0; off + 16 <= w->len; n++) {
        uint32_t type, length;
        memcpy(&type, w->stream + off, 4);
        memcpy(&length, w->stream + off + 4, 4);
        sink += type;
        off += 16 + length;
    }
    t0 = now() - t0;
    collecting = 0;
    CALLGRIND_TOGGLE_COLLECT;
    if (n != w->n)
        abort();
    return t0;
}

/* ---------------------------------------------------------------- main */

static struct work works[] = {
    { "bulk16k", 1, 2000, 0, 0, 0, 0, 0, 0, 0 },  { "bulk64k", 1, 500, 0, 0, 0, 0, 0, 0, 0 },
    { "intr8", 1, 100000, 0, 0, 0, 0, 0, 0, 0 },  { "ctrl18", 1, 100000, 0, 0, 0, 0, 0, 0, 0 },
    { "mix", 1, 30000, 0, 0, 0, 0, 0, 0, 0 },     { "out16k", 0, 2000, 0, 0, 0, 0, 0, 0, 0 },
    { "bulkin", 0, 100000, 0, 0, 0, 0, 0, 0, 0 }, { "ctrl", 0, 100000, 0, 0, 0, 0, 0, 0, 0 },
    /* the same, the output drained after every 32 requests (a transport
     * writes once per loop iteration, after a burst of submissions) */
    { "bulkin32", 0, 100000, 0, 0, 0, 0, 0, 0, 32 },
    { "ctrl32", 0, 100000, 0, 0, 0, 0, 0, 0, 32 },
};

static void prepare(struct work *w)
{
    if (!strcmp(w->name, "bulk16k"))
        build(w, 1, 16384);
    else if (!strcmp(w->name, "bulk64k"))
        build(w, 1, 65536);
    else if (!strcmp(w->name, "intr8"))
        build(w, 2, 0);
    else if (!strcmp(w->name, "ctrl18"))
        build(w, 4, 0);
    else if (!strcmp(w->name, "mix"))
        build(w, 7, 16384);
    else
        build(w, 4, 0), w->len = 0; /* encode: only the setup is used */
}

static double run(struct work *w, const char *impl)
{
    if (!strcmp(impl, "urg"))
        return w->decode ? eng_decode(w) : eng_encode_run(w);
    if (!strcmp(impl, "ref"))
        return w->decode ? ref_decode(w) : ref_encode_run(w);
    if (!strcmp(impl, "codec"))
        return w->decode ? codec_decode(w, 0) : codec_encode_run(w, 0);
    if (!strcmp(impl, "codecw") && w->decode)
        return codec_decode(w, 1);
    if (!strcmp(impl, "codec1") && !w->decode)
        return codec_encode_run(w, 1);
    if (!strcmp(impl, "codecq") && !w->decode)
        return codec_queue_run(w, 0);
    if (!strcmp(impl, "codec1q") && !w->decode)
        return codec_queue_run(w, 1);
    if (!strcmp(impl, "copy") && w->decode)
        return raw_copy(w);
    if (!strcmp(impl, "walk") && w->decode)
        return raw_walk(w);
    return -1;
}

int main(int argc, char **argv)
{
    static const char *impls[] = { "urg",    "ref",     "codec", "codecw",
                                   "codec1", "codecq", "codec1q", "copy", "walk" };
    const int nimpl = (int)(sizeof(impls) / sizeof(impls[0]));
    for (size_t i = 0; i < sizeof(works) / sizeof(works[0]); i++) {
        struct work *w = &works[i];
        if (argc == 3 && strcmp(argv[1], w->name))
            continue;
        prepare(w);
        for (int k = 0; k < nimpl; k++) {
            double best = -1;
            if (argc == 3 && strcmp(argv[2], impls[k]))
                continue;
            for (int rep = 0; rep < (argc == 3 ? 1 : 5); rep++) {
                double t = run(w, impls[k]);
                if (t >= 0 && (best < 0 || t < best))
                    best = t;
            }
            if (best >= 0)
                printf("%s %s %u %.1f %.1f\n", w->name, impls[k], w->n, best / w->n,
                       w->decode ? (double)w->len / best * 1e3 : 0.0);
        }
    }
    return 0;
}

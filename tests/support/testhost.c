/*
 * testhost.c - the scripted usb-host and the callback recorder used by the
 * tests (see testhost.h).
 */
#include "testhost.h"
#include "internal.h" /* the rows' codecs, for th_emit_unchecked() */

#include "packets.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what)
{
    fprintf(stderr, "testhost: %s\n", what);
    abort();
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die("out of memory");
    return q;
}

static int host_packet(void *ctx, const struct urg_packet *p)
{
    struct testhost *h = ctx;
    struct th_packet *t;
    if (h->npkts == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->pkts = xrealloc(h->pkts, h->cap * sizeof(*h->pkts));
    }
    t = &h->pkts[h->npkts++];
    t->p = *p;
    t->data = NULL;
    if (p->data_len) {
        t->data = xrealloc(NULL, p->data_len);
        memcpy(t->data, p->data, p->data_len);
    }
    t->p.data = t->data;
    return URG_DECODE_CONTINUE;
}

static void host_error(void *ctx, int err, const char *msg, int fatal)
{
    struct testhost *h = ctx;
    (void)fatal;
    h->dec_err = err;
    fprintf(stderr, "testhost: guest sent a bad packet: %s\n", msg);
}

/* What a test may script for the guest before it flushes. */
#define TH_MAX_OUTPUT ((size_t)1 << 30)

void th_init(struct testhost *h, uint32_t host_caps)
{
    const struct urg_decoder_callbacks cb = { .packet = host_packet, .error = host_error };
    memset(h, 0, sizeof(*h));
    h->caps = host_caps;
    if (urg_host_decoder_new(host_caps, &cb, h, NULL, &h->dec) ||
        urg_host_output_init(&h->out, h->dec, NULL, TH_MAX_OUTPUT))
        die("cannot set up the host's decoder and output");
}

void th_free(struct testhost *h)
{
    size_t i;
    for (i = 0; i < h->npkts; i++)
        free(h->pkts[i].data);
    free(h->pkts);
    urg_host_output_free(&h->out);
    urg_decoder_free(h->dec);
    memset(h, 0, sizeof(*h));
}

struct urg_wire th_wire(const struct testhost *h) { return urg_decoder_wire(h->dec); }

size_t th_pump(struct testhost *h, urg_session *s)
{
    size_t before = h->npkts;
    struct iovec iov[8];
    int n, i;
    while ((n = urg_session_output(s, iov, 8)) > 0) {
        size_t total = 0;
        for (i = 0; i < n; i++) {
            if (urg_decoder_feed(h->dec, iov[i].iov_base, iov[i].iov_len, NULL))
                die("host decoder failed on the guest's output");
            total += iov[i].iov_len;
        }
        if (urg_session_consume(s, total))
            die("urg_session_consume");
    }
    return h->npkts - before;
}

void th_raw(struct testhost *h, const void *bytes, size_t n)
{
    if (urg_host_output_bytes(&h->out, bytes, n))
        die("out of memory for the guest's bytes");
}

void th_emit(struct testhost *h, const struct urg_packet *p)
{
    int rc = urg_host_output_packet(&h->out, p);
    if (rc) {
        fprintf(stderr, "testhost: cannot send %s: %s\n", urg_type_name(p->type),
                urg_strerror(rc));
        abort();
    }
}

void th_emit_unchecked(struct testhost *h, const struct urg_packet *p)
{
    const struct urgi_type *row = urgi_type(p->type);
    struct urg_wire w = th_wire(h);
    uint8_t b[16 + URGI_MAX_TYPE_HEADER];
    int hl = w.id64 ? 16 : 12, th;
    uint32_t length;
    if (!row || p->type == URG_HELLO) {
        fprintf(stderr, "testhost: th_emit_unchecked of type %u\n", p->type);
        abort();
    }
    th = urgi_type_header_len(row, &w);
    length = (uint32_t)th + p->data_len;
    memset(b, 0, sizeof(b));
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(p->type >> (8 * i));
        b[4 + i] = (uint8_t)(length >> (8 * i));
    }
    for (int i = 0; i < hl - 8; i++)
        b[8 + i] = (uint8_t)(p->id >> (8 * i));
    row->encode(&w, p, b + hl);
    th_raw(h, b, (size_t)(hl + th));
    if (p->data_len)
        th_raw(h, p->data, p->data_len);
}

const uint8_t *th_out(const struct testhost *h) { return urg_host_output_data(&h->out, NULL); }

size_t th_out_len(const struct testhost *h)
{
    size_t n;
    urg_host_output_data(&h->out, &n);
    return n;
}

void th_drop(struct testhost *h) { urg_host_output_reset(&h->out); }

void th_hello(struct testhost *h)
{
    struct urg_packet p = hello_packet("testhost 1.0", h->caps);
    th_emit(h, &p);
}

void th_stream_status(struct testhost *h, uint32_t type, uint64_t id, uint8_t ep, uint8_t status)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = type;
    p.id = id;
    if (type == URG_INTERRUPT_RECEIVING_STATUS) {
        p.h.interrupt_receiving_status.endpoint = ep;
        p.h.interrupt_receiving_status.status = status;
    } else if (type == URG_ISO_STREAM_STATUS) {
        p.h.iso_stream_status.endpoint = ep;
        p.h.iso_stream_status.status = status;
    } else {
        p.h.bulk_receiving_status.endpoint = ep;
        p.h.bulk_receiving_status.status = status;
    }
    th_emit(h, &p);
}

void th_stream_data(struct testhost *h, uint32_t type, uint8_t ep, const void *bytes, uint32_t len,
                    uint8_t status)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = type;
    p.id = h->stream_seq++;
    p.data = bytes;
    p.data_len = len;
    if (type == URG_INTERRUPT_PACKET) {
        p.h.interrupt.endpoint = ep;
        p.h.interrupt.status = status;
        p.h.interrupt.length = (uint16_t)len;
    } else if (type == URG_ISO_PACKET) {
        p.h.iso.endpoint = ep;
        p.h.iso.status = status;
        p.h.iso.length = (uint16_t)len;
    } else {
        p.h.buffered_bulk.endpoint = ep;
        p.h.buffered_bulk.status = status;
        p.h.buffered_bulk.length = len;
    }
    th_emit(h, &p);
}

void th_device(struct testhost *h)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERFACE_INFO;
    p.h.interface_info.interface_count = 2;
    p.h.interface_info.interface[0] = 0;
    p.h.interface_info.interface_class[0] = 0x03;
    p.h.interface_info.interface_subclass[0] = 0x01;
    p.h.interface_info.interface_protocol[0] = 0x01;
    p.h.interface_info.interface[1] = 1;
    p.h.interface_info.interface_class[1] = 0x08;
    p.h.interface_info.interface_subclass[1] = 0x06;
    p.h.interface_info.interface_protocol[1] = 0x50;
    th_emit(h, &p);

    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    memset(p.h.ep_info.type, URG_EP_INVALID, 32);
    p.h.ep_info.type[0] = URG_EP_CONTROL;
    p.h.ep_info.type[16] = URG_EP_CONTROL;
    p.h.ep_info.max_packet_size[0] = p.h.ep_info.max_packet_size[16] = 64;
    p.h.ep_info.type[urg_ep_index(0x81)] = URG_EP_INTERRUPT;
    p.h.ep_info.interval[urg_ep_index(0x81)] = 7;
    p.h.ep_info.max_packet_size[urg_ep_index(0x81)] = 8;
    p.h.ep_info.type[urg_ep_index(0x02)] = URG_EP_BULK;
    p.h.ep_info.interface[urg_ep_index(0x02)] = 1;
    p.h.ep_info.max_packet_size[urg_ep_index(0x02)] = 512;
    p.h.ep_info.type[urg_ep_index(0x82)] = URG_EP_BULK;
    p.h.ep_info.interface[urg_ep_index(0x82)] = 1;
    p.h.ep_info.max_packet_size[urg_ep_index(0x82)] = 512;
    p.h.ep_info.max_streams[urg_ep_index(0x82)] = 16;
    p.h.ep_info.type[urg_ep_index(0x83)] = URG_EP_ISO;
    p.h.ep_info.interval[urg_ep_index(0x83)] = 1;
    p.h.ep_info.max_packet_size[urg_ep_index(0x83)] = 192;
    p.h.ep_info.type[urg_ep_index(0x04)] = URG_EP_INTERRUPT;
    p.h.ep_info.interval[urg_ep_index(0x04)] = 4;
    p.h.ep_info.max_packet_size[urg_ep_index(0x04)] = 8;
    th_emit(h, &p);

    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_CONNECT;
    p.h.device_connect.speed = URG_SPEED_HIGH;
    p.h.device_connect.vendor_id = 0x1234;
    p.h.device_connect.product_id = 0x5678;
    p.h.device_connect.device_version_bcd = 0x0102;
    th_emit(h, &p);
}

void th_device_info(struct testhost *h, const struct th_if *ifs, int n_if, const struct th_ep *eps,
                    int n_eps)
{
    struct urg_packet p;
    int i;
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERFACE_INFO;
    p.h.interface_info.interface_count = (uint32_t)n_if;
    for (i = 0; i < n_if; i++) {
        p.h.interface_info.interface[i] = ifs[i].number;
        p.h.interface_info.interface_class[i] = ifs[i].cls;
        p.h.interface_info.interface_subclass[i] = ifs[i].subclass;
        p.h.interface_info.interface_protocol[i] = ifs[i].protocol;
    }
    th_emit(h, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    memset(p.h.ep_info.type, URG_EP_INVALID, 32);
    p.h.ep_info.type[0] = p.h.ep_info.type[16] = URG_EP_CONTROL;
    p.h.ep_info.max_packet_size[0] = p.h.ep_info.max_packet_size[16] = 64;
    for (i = 0; i < n_eps; i++) {
        int k = urg_ep_index(eps[i].addr);
        p.h.ep_info.type[k] = eps[i].type;
        p.h.ep_info.interval[k] = eps[i].interval;
        p.h.ep_info.interface[k] = eps[i].interface;
        p.h.ep_info.max_packet_size[k] = eps[i].mps;
        p.h.ep_info.max_streams[k] = eps[i].max_streams;
    }
    th_emit_unchecked(h, &p); /* an endpoint type above 3 as given */
}

void th_device_ifs(struct testhost *h, uint8_t speed, uint16_t vid, uint16_t pid,
                   uint8_t device_class, const struct th_if *ifs, int n_if,
                   const struct th_ep *eps, int n_eps)
{
    struct urg_packet p;
    th_device_info(h, ifs, n_if, eps, n_eps);
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_CONNECT;
    p.h.device_connect.speed = speed;
    p.h.device_connect.device_class = device_class;
    p.h.device_connect.vendor_id = vid;
    p.h.device_connect.product_id = pid;
    p.h.device_connect.device_version_bcd = 0x0100;
    th_emit(h, &p);
}

void th_device_ex(struct testhost *h, uint8_t speed, uint16_t vid, uint16_t pid,
                  uint8_t device_class, const uint8_t *if_classes, int n_if,
                  const struct th_ep *eps, int n_eps)
{
    struct th_if ifs[32];
    int i;
    memset(ifs, 0, sizeof(ifs));
    for (i = 0; i < n_if && i < 32; i++) {
        ifs[i].number = (uint8_t)i;
        ifs[i].cls = if_classes[i];
    }
    th_device_ifs(h, speed, vid, pid, device_class, ifs, n_if, eps, n_eps);
}

int th_count(const struct testhost *h, uint32_t type)
{
    size_t i;
    int n = 0;
    for (i = 0; i < h->npkts; i++)
        n += h->pkts[i].p.type == type;
    return n;
}

void th_clear(struct testhost *h)
{
    size_t i;
    for (i = 0; i < h->npkts; i++)
        free(h->pkts[i].data);
    h->npkts = 0;
}

int th_flush(struct testhost *h, urg_session *s, size_t chunk)
{
    const uint8_t *b;
    size_t n;
    int r = 0;
    if (!chunk)
        chunk = th_out_len(h) ? th_out_len(h) : 1;
    while ((b = urg_host_output_data(&h->out, &n))) {
        int x = urg_session_recv(s, b, n < chunk ? n : chunk);
        if (x && !r)
            r = x;
        urg_host_output_consume(&h->out, n < chunk ? n : chunk);
    }
    return r;
}

const struct th_packet *th_find(const struct testhost *h, uint32_t type)
{
    size_t i = h->npkts;
    while (i--)
        if (h->pkts[i].p.type == type)
            return &h->pkts[i];
    return NULL;
}

void th_reply_control(struct testhost *h, const struct urg_packet *req, uint8_t status,
                      const void *data, uint16_t len)
{
    struct urg_packet p = *req;
    p.h.control.status = status;
    p.h.control.length = len;
    p.data = (req->h.control.endpoint & 0x80) ? data : NULL;
    p.data_len = (req->h.control.endpoint & 0x80) ? len : 0;
    th_emit(h, &p);
}

void th_reply_bulk(struct testhost *h, const struct urg_packet *req, uint8_t status,
                   const void *data, uint32_t len)
{
    struct urg_packet p = *req;
    p.h.bulk.status = status;
    p.h.bulk.length = len;
    p.data = (req->h.bulk.endpoint & 0x80) ? data : NULL;
    p.data_len = (req->h.bulk.endpoint & 0x80) ? len : 0;
    th_emit(h, &p);
}

/* ---------------------------------------------------------------- recorder */

static void rlog(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rlog(struct rec *r, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    if (r->len + (size_t)n + 2 > r->cap) {
        r->cap = (r->len + (size_t)n + 2) * 2;
        r->log = xrealloc(r->log, r->cap);
    }
    memcpy(r->log + r->len, buf, (size_t)n);
    r->len += (size_t)n;
    r->log[r->len++] = '\n';
    r->log[r->len] = '\0';
}

/* Hex of the first 32 bytes and an FNV-1a hash of all of them. */
static const char *hexsum(const uint8_t *d, uint32_t n, char *out, size_t cap)
{
    uint32_t h = 2166136261u, i;
    size_t o = 0;
    for (i = 0; i < n; i++)
        h = (h ^ d[i]) * 16777619u;
    for (i = 0; i < n && i < 32 && o + 3 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", d[i]);
    snprintf(out + o, cap - o, "#%08x", h);
    return out;
}

static void on_complete(void *ud, const struct urg_completion *c)
{
    struct rec *r = ud;
    struct rec_completion *d;
    char hex[128];
    if (r->ndone == r->done_cap) {
        r->done_cap = r->done_cap ? 2 * r->done_cap : 16;
        r->done = xrealloc(r->done, r->done_cap * sizeof(*r->done));
    }
    d = &r->done[r->ndone++];
    d->c = *c;
    d->data = NULL;
    if (c->data && c->length) {
        d->data = xrealloc(NULL, c->length);
        memcpy(d->data, c->data, c->length);
    }
    d->c.data = d->data;
    rlog(r, "complete id=%llu type=%s ep=0x%02x status=%s len=%u cancel=%d u=%u,%u data=%s",
         (unsigned long long)c->id, urg_type_name(c->type), c->endpoint,
         urg_status_name(c->status), c->length, c->cancel_requested, c->u.streams.endpoints,
         c->u.streams.no_streams, c->data ? hexsum(c->data, c->length, hex, sizeof(hex)) : "-");
}

static void on_hello(void *ud, const char *version, uint32_t caps)
{
    struct rec *r = ud;
    r->hello++;
    rlog(r, "hello version=%s caps=0x%x", version, caps);
}

static void on_connect(void *ud, const struct urg_device *d)
{
    struct rec *r = ud;
    r->connect++;
    rlog(r, "connect %04x:%04x speed=%s ifs=%u", d->vendor_id, d->product_id,
         urg_speed_name(d->speed), d->interface_count);
}

static void on_rejected(void *ud, const struct urg_device *d, int reason)
{
    struct rec *r = ud;
    r->rejected++;
    rlog(r, "rejected %04x:%04x %s", d->vendor_id, d->product_id, urg_error_name(reason));
}

static void on_disconnect(void *ud)
{
    struct rec *r = ud;
    r->disconnect++;
    rlog(r, "disconnect");
}

static void on_info(void *ud, const struct urg_device *d, unsigned what)
{
    struct rec *r = ud;
    (void)d;
    r->info++;
    rlog(r, "info %u", what);
}

static void on_stream_data(void *ud, const struct urg_stream_data *d)
{
    struct rec *r = ud;
    char hex[128];
    r->stream_data++;
    r->stream_bytes += d->length;
    rlog(r, "data %s id=%llu ep=0x%02x status=%s stream=%u %s", urg_type_name(d->type),
         (unsigned long long)d->id, d->endpoint, urg_status_name(d->status), d->stream_id,
         d->length ? hexsum(d->data, d->length, hex, sizeof(hex)) : "-");
}

static void on_stream_status(void *ud, const struct urg_stream_status *st)
{
    struct rec *r = ud;
    r->stream_status++;
    rlog(r, "status %s id=%llu ep=0x%02x status=%s", urg_type_name(st->type),
         (unsigned long long)st->id, st->endpoint, urg_status_name(st->status));
}

static void on_filter(void *ud, const struct urg_filter_rule *rules, size_t count)
{
    struct rec *r = ud;
    char buf[256];
    r->filter++;
    urg_filter_format(rules, count, buf, sizeof(buf));
    rlog(r, "filter %zu %s", count, buf);
}

static void on_error(void *ud, int err, const char *msg, int fatal)
{
    struct rec *r = ud;
    r->errors++;
    r->fatal += fatal;
    r->last_error = err;
    rlog(r, "error %s fatal=%d %s", urg_error_name(err), fatal, msg);
}

/* Log lines are counted by level, not recorded (their text is not the
 * engine's contract). */
static void on_log(void *ud, int level, const char *msg)
{
    struct rec *r = ud;
    (void)msg;
    if (level >= 0 && level < 4)
        r->logs[level]++;
}

void rec_init(struct rec *r) { memset(r, 0, sizeof(*r)); }

void rec_free(struct rec *r)
{
    size_t i;
    for (i = 0; i < r->ndone; i++)
        free(r->done[i].data);
    free(r->done);
    free(r->log);
    memset(r, 0, sizeof(*r));
}

void rec_callbacks(struct urg_session_callbacks *cb)
{
    memset(cb, 0, sizeof(*cb));
    cb->complete = on_complete;
    cb->hello = on_hello;
    cb->device_connect = on_connect;
    cb->device_rejected = on_rejected;
    cb->device_disconnect = on_disconnect;
    cb->device_info = on_info;
    cb->stream_data = on_stream_data;
    cb->stream_status = on_stream_status;
    cb->peer_filter = on_filter;
    cb->error = on_error;
    cb->log = on_log;
}

const struct rec_completion *rec_find(const struct rec *r, uint64_t id)
{
    size_t i;
    for (i = 0; i < r->ndone; i++)
        if (r->done[i].c.id == id)
            return &r->done[i];
    return NULL;
}

int rec_count(const struct rec *r, uint64_t id)
{
    size_t i;
    int n = 0;
    for (i = 0; i < r->ndone; i++)
        n += r->done[i].c.id == id;
    return n;
}

urg_session *new_session(struct rec *r, uint32_t caps, int policy)
{
    struct urg_session_config cfg;
    urg_session *s;
    urg_session_config_init(&cfg);
    cfg.caps = caps;
    cfg.policy = policy;
    rec_callbacks(&cfg.callbacks);
    cfg.user_data = r;
    if (urg_session_new(&cfg, &s))
        die("urg_session_new");
    return s;
}

urg_session *connected_session(struct rec *r, struct testhost *h, uint32_t guest_caps,
                               uint32_t host_caps)
{
    return connect_session(new_session(r, guest_caps, URG_POLICY_FAIL), h, host_caps);
}

urg_session *connected_session_cfg(struct rec *r, struct testhost *h,
                                   struct urg_session_config *cfg, uint32_t host_caps)
{
    urg_session *s;
    rec_callbacks(&cfg->callbacks);
    cfg->user_data = r;
    if (urg_session_new(cfg, &s))
        die("urg_session_new");
    return connect_session(s, h, host_caps);
}

urg_session *connect_session(urg_session *s, struct testhost *h, uint32_t host_caps)
{
    th_init(h, host_caps);
    th_pump(h, s);
    th_hello(h);
    th_device(h);
    if (th_flush(h, s, 0))
        die("connecting the test session failed");
    th_pump(h, s);
    if (urg_session_state(s) != URG_STATE_CONNECTED)
        die("test session did not connect");
    return s;
}

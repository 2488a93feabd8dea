/*
 * fuzz_recv.c - libFuzzer target for the session's receive path.
 *
 * Input: 8 control bytes, then the bytes a (possibly hostile) usb-host
 * sends. Control: [0] the guest's caps, [1] flags (bit 0 policy skip, bit 1
 * a filter, bit 2 a small maximum packet size, bit 3 read payloads through
 * the recv window, bit 4 differential mode, bit 5 policy tolerate, over
 * bit 0), [2..5] seed for the splits and
 * the requests, [6] the differential mode's small piece: 1 + [6] % 11
 * bytes (0: one byte at a time).
 *
 * While feeding the stream in random pieces, the harness makes requests
 * (ids are 1, 2, 3, ... so the fuzzer can answer them), cancels some,
 * forgets some, writes out part of the output queue. Every request's
 * buffers are heap blocks freed by its completion or right after its
 * forget, so ASan reports any use after either; the harness aborts if a
 * request completes twice or never, or completes after it was forgotten.
 *
 * Differential mode (flag bit 4): the session runs twice on the same
 * input, from the same seed. The first run is the one above: each random
 * piece in one recv call (or window commit), so the whole-frame path
 * (urgi_on_whole) takes the control, bulk and interrupt replies and the
 * interrupt IN data that lie whole in it. The second cuts each of those
 * pieces into calls of 1 + [6] % 11 bytes: the decoder offers the
 * whole-frame path only the bytes left in one call, and only when they
 * hold a frame header (12 or 16 bytes), so there every frame takes the
 * generic path. The actions come at the same logical points in both runs,
 * from the same random sequence: after each random piece as above, and
 * also from the callbacks (as an application may): each completion and
 * stream data makes requests, cancels, forgets and drains, and each
 * device_connect first makes eight requests the fuzzer can answer by id
 * (connect_requests(): ids 1 to 8 at the first connect). Each run records
 * what an application sees: completions (which request, id, type,
 * endpoint, status, length, data bytes or none, cancel_requested, the
 * type's extra fields, and the pending count and stats during the call),
 * stream data (fields, bytes, pending count, stats), stream statuses,
 * errors (code, message, fatal), log lines (debug level), hello, device
 * connect, info, reject and disconnect (the whole device), the host's
 * filter rules, each action's return code and id, the output written
 * (hashed); after each piece the first error recv returned, state, pending
 * count, output pending and stats; at the end state, error and message,
 * caps, the peer's version, the device, the streams running, stats, and
 * the NODEV completions of the free. The harness aborts, printing the
 * first difference, if the records differ. The stats compared leave out
 * payload_copies, which counts the payloads that straddled calls and so
 * depends on the split by design. Bit 4 selects the mode, rather than
 * running it always, because the second run costs several times the
 * first (5x over the seed corpus): inputs without it keep the speed of
 * the random-split mode, which is unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urg_guest.h"

#define MAXREQ 512

struct req {
    uint64_t id;
    uint8_t *buf;
    int done;
};

/* ---- the differential mode's record ---- */

enum {
    R_PIECE, R_ACTION, R_DRAIN, R_COMPLETE, R_STREAM_DATA, R_STREAM_STATUS, R_ERROR, R_LOG,
    R_HELLO, R_CONNECT, R_REJECTED, R_DISCONNECT, R_INFO, R_FILTER, R_FINAL, R_END
};
static const char *const rec_names[] = {
    "piece", "action", "drain", "complete", "stream_data", "stream_status", "error", "log",
    "hello", "device_connect", "device_rejected", "device_disconnect", "device_info",
    "peer_filter", "final", "end"
};

#define NV 10
struct rec {
    int tag;
    uint64_t v[NV];
    size_t blob, blen; /* bytes in the log's blob buffer */
};

struct log {
    struct rec *r;
    size_t n, cap;
    uint8_t *b;
    size_t bn, bcap;
};

struct run {
    struct req r[MAXREQ];
    int n;
    uint32_t rng;
    struct log *log; /* NULL: not recorded (and no actions from callbacks) */
    urg_session *s;  /* for the callbacks' actions; NULL while freeing */
};

static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x ? x : 1;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
#define FNV0 0xcbf29ce484222325ull

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    if (c == *cap)
        return p;
    p = realloc(p, c * elem);
    if (!p)
        abort();
    *cap = c;
    return p;
}

/* Appends a record of tag with up to NV values and blen bytes. */
static void rec(struct run *run, int tag, const uint64_t *v, int nv, const void *blob, size_t blen)
{
    struct log *l = run->log;
    struct rec *r;
    if (!l)
        return;
    l->r = grow(l->r, &l->cap, l->n + 1, sizeof(*l->r));
    r = &l->r[l->n++];
    memset(r, 0, sizeof(*r));
    r->tag = tag;
    if (nv)
        memcpy(r->v, v, (size_t)nv * sizeof(*v));
    r->blob = l->bn;
    r->blen = blen;
    if (blen) {
        l->b = grow(l->b, &l->bcap, l->bn + blen, 1);
        memcpy(l->b + l->bn, blob, blen);
        l->bn += blen;
    }
}

/* The device as bytes: every field, none of the struct's padding. */
static size_t device_bytes(const struct urg_device *d, uint8_t *out)
{
    size_t n = 0;
    int i;
    if (!d)
        return 0;
    out[n++] = d->speed;
    out[n++] = d->device_class;
    out[n++] = d->device_subclass;
    out[n++] = d->device_protocol;
    memcpy(out + n, &d->vendor_id, 2), n += 2;
    memcpy(out + n, &d->product_id, 2), n += 2;
    memcpy(out + n, &d->device_version_bcd, 2), n += 2;
    out[n++] = d->has_device_version;
    memcpy(out + n, &d->interface_count, 4), n += 4;
    memcpy(out + n, d->interface, 32), n += 32;
    memcpy(out + n, d->interface_class, 32), n += 32;
    memcpy(out + n, d->interface_subclass, 32), n += 32;
    memcpy(out + n, d->interface_protocol, 32), n += 32;
    for (i = 0; i < 32; i++) {
        out[n++] = d->ep[i].type;
        out[n++] = d->ep[i].interval;
        out[n++] = d->ep[i].interface;
        memcpy(out + n, &d->ep[i].max_packet_size, 2), n += 2;
        memcpy(out + n, &d->ep[i].max_streams, 4), n += 4;
    }
    return n;
}
#define DEVICE_BYTES 512

static void rec_device(struct run *run, int tag, uint64_t v0, const struct urg_device *dev)
{
    uint8_t b[DEVICE_BYTES];
    uint64_t v[2] = { v0, dev != NULL };
    rec(run, tag, v, 2, b, device_bytes(dev, b));
}

/* The stats but payload_copies (which depends on the split). */
static void stats_of(urg_session *s, struct urg_stats *st)
{
    urg_session_stats(s, st);
    st->payload_copies = 0;
}

/* What the session shows a callback: pending count and stats (hashed). */
static void snapshot(struct run *run, uint64_t *v)
{
    struct urg_stats st;
    if (!run->s) {
        v[0] = v[1] = 0;
        return;
    }
    stats_of(run->s, &st);
    v[0] = urg_session_pending_count(run->s);
    v[1] = fnv(FNV0, &st, sizeof(st));
}

static void make_requests(urg_session *s, struct run *run);
static void drain(urg_session *s, struct run *run);

/* Differential mode: a callback makes requests, cancels, forgets and
 * drains too (as an application may), at the same event in both runs. */
static void cb_actions(struct run *run)
{
    if (run->log && run->s) {
        make_requests(run->s, run);
        drain(run->s, run);
    }
}

/* ---- callbacks ---- */

static void on_complete(void *ud, const struct urg_completion *c)
{
    struct run *run = ud;
    struct req *q = c->user_data;
    volatile uint8_t sink = 0;
    uint32_t i;
    if (!q || q->done || q->id != c->id)
        abort(); /* twice, or not ours */
    /* The data must be readable for its whole length. */
    for (i = 0; c->data && i < c->length; i++)
        sink ^= c->data[i];
    (void)sink;
    if (run->log) {
        uint64_t u = 0, v[10];
        memcpy(&u, &c->u, sizeof(c->u) < sizeof(u) ? sizeof(c->u) : sizeof(u));
        v[0] = (uint64_t)(q - run->r);
        v[1] = c->id;
        v[2] = (uint64_t)(int64_t)c->status;
        v[3] = c->length;
        v[4] = c->cancel_requested;
        v[5] = (uint64_t)c->type << 8 | c->endpoint;
        v[6] = u;
        v[7] = c->data != NULL;
        snapshot(run, v + 8);
        rec(run, R_COMPLETE, v, 10, c->data, c->data ? c->length : 0);
    }
    q->done = 1;
    free(q->buf);
    q->buf = NULL;
    cb_actions(run);
}

static void on_data(void *ud, const struct urg_stream_data *d)
{
    struct run *run = ud;
    volatile uint8_t sink = 0;
    uint32_t i;
    for (i = 0; i < d->length; i++)
        sink ^= d->data[i];
    (void)sink;
    if (run->log) {
        uint64_t v[8] = { d->type, d->id, d->endpoint, (uint64_t)(int64_t)d->status,
                          d->stream_id, d->length, 0, 0 };
        snapshot(run, v + 6);
        rec(run, R_STREAM_DATA, v, 8, d->data, d->length);
    }
    cb_actions(run);
}

static void on_stream_status(void *ud, const struct urg_stream_status *st)
{
    uint64_t v[5] = { st->type, st->id, st->endpoint, (uint64_t)(int64_t)st->status,
                      st->stream_id };
    rec(ud, R_STREAM_STATUS, v, 5, NULL, 0);
}

static void on_error(void *ud, int err, const char *msg, int fatal)
{
    uint64_t v[2] = { (uint64_t)(int64_t)err, (uint64_t)(int64_t)fatal };
    rec(ud, R_ERROR, v, 2, msg, strlen(msg));
}

static void on_log(void *ud, int level, const char *msg)
{
    uint64_t v[1] = { (uint64_t)(int64_t)level };
    rec(ud, R_LOG, v, 1, msg, strlen(msg));
}

static void on_hello(void *ud, const char *version, uint32_t peer_caps)
{
    uint64_t v[1] = { peer_caps };
    rec(ud, R_HELLO, v, 1, version, strlen(version));
}

static struct req *new_req(struct run *run, uint32_t size);
static void commit_req(struct run *run, struct req *q, int rc);
static void rec_action(struct run *run, uint32_t pick, uint64_t arg, int rc);

/* Request kind (0 to 11) of len bytes for q: control IN on 0x80 into a
 * buffer (0) and without one (1), control OUT 0x21 (2), bulk IN on 0x82
 * into a buffer (3) and without one (4), bulk OUT on 0x02 (5), interrupt
 * OUT on 0x04 (6), set_configuration (7), interrupt receiving on 0x81 (8),
 * an iso stream on 0x83 (9), bulk receiving on 0x82 (10), get_alt_setting
 * (11 and above). Returns the call's result. */
static int make_request(urg_session *s, uint32_t kind, uint32_t len, struct req *q)
{
    uint8_t setup[8] = { 0x80, 6, 0, 1, 0, 0, (uint8_t)len, (uint8_t)(len >> 8) };
    switch (kind) {
    case 0: return urg_session_control(s, 0, setup, q->buf, q, &q->id);
    case 1: return urg_session_control(s, 0, setup, NULL, q, &q->id);
    case 2:
        setup[0] = 0x21;
        return urg_session_control(s, 0, setup, q->buf, q, &q->id);
    case 3: return urg_session_bulk(s, 0x82, 0, len, q->buf, q, &q->id);
    case 4: return urg_session_bulk(s, 0x82, 0, len, NULL, q, &q->id);
    case 5: return urg_session_bulk(s, 0x02, 0, len, q->buf, q, &q->id);
    case 6: return urg_session_interrupt_out(s, 0x04, (uint16_t)len, q->buf, q, &q->id);
    case 7: return urg_session_set_configuration(s, 1, q, &q->id);
    case 8: return urg_session_start_interrupt_receiving(s, 0x81, q, &q->id);
    case 9: return urg_session_start_iso_stream(s, 0x83, 4, 4, q, &q->id);
    case 10: return urg_session_start_bulk_receiving(s, 0x82, 0, 512, 2, q, &q->id);
    default: return urg_session_get_alt_setting(s, 0, q, &q->id);
    }
}

/* Differential mode: the requests each device_connect makes first (ids 1
 * to 8 at the first connect), so that the fuzzer and the seeds can answer them
 * whatever the seed: control IN on 0x80 for 255 bytes, into a buffer and
 * without one; control OUT (0x21) of 16 bytes; bulk IN on 0x82 for 512
 * bytes, into a buffer and without one; bulk OUT on 0x02 of 64 bytes;
 * interrupt OUT on 0x04 of 8 bytes; start_interrupt_receiving on 0x81. */
static void connect_requests(urg_session *s, struct run *run)
{
    /* make_request()'s kinds 0 to 6, then 8 (interrupt receiving) */
    static const uint32_t lens[8] = { 255, 255, 16, 512, 512, 64, 8, 0 };
    int k;
    for (k = 0; k < 8; k++) {
        struct req *q = new_req(run, lens[k]);
        int rc;
        if (!q)
            return;
        rc = make_request(s, k < 7 ? (uint32_t)k : 8, lens[k], q);
        rec_action(run, 100 + (uint32_t)k, rc ? 0 : q->id, rc);
        commit_req(run, q, rc);
    }
}

static void on_connect(void *ud, const struct urg_device *dev)
{
    struct run *run = ud;
    rec_device(run, R_CONNECT, 0, dev);
    if (run->log && run->s)
        connect_requests(run->s, run);
    cb_actions(run);
}

static void on_rejected(void *ud, const struct urg_device *dev, int reason)
{
    rec_device(ud, R_REJECTED, (uint64_t)(int64_t)reason, dev);
}

static void on_disconnect(void *ud) { rec(ud, R_DISCONNECT, NULL, 0, NULL, 0); }

static void on_info(void *ud, const struct urg_device *dev, unsigned what)
{
    rec_device(ud, R_INFO, what, dev);
}

static void on_filter(void *ud, const struct urg_filter_rule *rules, size_t count)
{
    uint64_t v[1] = { count };
    int f[5];
    size_t i;
    rec(ud, R_FILTER, v, 1, NULL, 0);
    for (i = 0; i < count; i++) {
        f[0] = rules[i].device_class;
        f[1] = rules[i].vendor_id;
        f[2] = rules[i].product_id;
        f[3] = rules[i].device_version_bcd;
        f[4] = rules[i].allow;
        rec(ud, R_FILTER, v, 0, f, sizeof(f));
    }
}

/* ---- requests and output ---- */

static struct req *new_req(struct run *run, uint32_t size)
{
    struct req *q;
    if (run->n == MAXREQ)
        return NULL;
    q = &run->r[run->n];
    memset(q, 0, sizeof(*q));
    q->buf = malloc(size ? size : 1);
    memset(q->buf, 0xa5, size ? size : 1);
    return q;
}

static void commit_req(struct run *run, struct req *q, int rc)
{
    if (rc == 0) {
        run->n++;
    } else {
        free(q->buf);
        q->buf = NULL;
    }
}

/* An action's record: what it was, on what, what it returned. */
static void rec_action(struct run *run, uint32_t pick, uint64_t arg, int rc)
{
    uint64_t v[3] = { pick, arg, (uint64_t)(int64_t)rc };
    rec(run, R_ACTION, v, 3, NULL, 0);
}

static void make_requests(urg_session *s, struct run *run)
{
    int k, count = (int)(rnd(&run->rng) % 3);
    for (k = 0; k < count; k++) {
        uint32_t pick = rnd(&run->rng) % 15, len = 1 + rnd(&run->rng) % 600;
        struct req *q;
        int rc;
        if (urg_session_state(s) != URG_STATE_CONNECTED)
            return;
        if (pick == 12 && run->n) { /* cancel something */
            uint64_t id = run->r[rnd(&run->rng) % (uint32_t)run->n].id;
            rec_action(run, pick, id, urg_session_cancel(s, id));
            continue;
        }
        if (pick == 14 && run->n) { /* forget something: its buffer goes now */
            struct req *f = &run->r[rnd(&run->rng) % (uint32_t)run->n];
            int r = urg_session_forget(s, f->id);
            rec_action(run, pick, f->id, r);
            if (r == 0 || r == URG_ERR_NOMEM) {
                if (f->done)
                    abort(); /* forgotten after it completed */
                f->done = 1; /* a completion now would be a second one */
                free(f->buf);
                f->buf = NULL;
            } else if (r != URG_ERR_NOT_FOUND || !f->done) {
                abort(); /* pending, yet not found */
            }
            if (urg_session_state(s) != URG_STATE_CONNECTED)
                return;
            continue;
        }
        if (pick == 13) {
            uint8_t iso[64] = { 0 };
            rec_action(run, pick, len % 64, urg_session_iso_out(s, 0x03, (uint16_t)(len % 64), iso));
            continue;
        }
        q = new_req(run, len);
        if (!q)
            return;
        rc = make_request(s, pick, len, q);
        rec_action(run, pick << 16 | len, rc ? 0 : q->id, rc);
        commit_req(run, q, rc);
    }
}

/* Writes out a random part of the queued output. */
static void drain(urg_session *s, struct run *run)
{
    struct iovec iov[16];
    size_t total = 0, pending = urg_session_output_pending(s), take = 0;
    int n = urg_session_output(s, iov, 16), i;
    for (i = 0; i < n; i++) {
        volatile uint8_t sink = ((const uint8_t *)iov[i].iov_base)[iov[i].iov_len - 1];
        (void)sink;
        total += iov[i].iov_len;
    }
    if (total > pending)
        abort();
    if (total)
        take = rnd(&run->rng) % 2 ? total : rnd(&run->rng) % (total + 1);
    if (run->log) {
        /* The bytes written out, hashed. */
        uint64_t h = FNV0, v[5];
        size_t left = take;
        for (i = 0; i < n && left; i++) {
            size_t m = iov[i].iov_len < left ? iov[i].iov_len : left;
            h = fnv(h, iov[i].iov_base, m);
            left -= m;
        }
        v[0] = pending;
        v[1] = (uint64_t)n;
        v[2] = total;
        v[3] = take;
        v[4] = h;
        rec(run, R_DRAIN, v, 5, NULL, 0);
    }
    if (total)
        urg_session_consume(s, take);
}

/* ---- one run ---- */

/* Feeds n bytes at p: in one recv call (or one commit into the window) if
 * small is 0, else in calls of at most small bytes. Returns the first
 * error a call returned (0 if none). */
static int feed(urg_session *s, int window, const uint8_t *p, size_t n, size_t small)
{
    int first = 0;
    while (n) {
        size_t m = small && small < n ? small : n, wl;
        void *wb;
        int r;
        if (window && urg_session_recv_window(s, &wb, &wl)) {
            if (m > wl)
                m = wl;
            memcpy(wb, p, m);
            r = urg_session_recv_commit(s, m);
        } else {
            r = urg_session_recv(s, p, m);
        }
        if (r && !first)
            first = r;
        p += m;
        n -= m;
        if (!small) /* one call: the piece ends with the window */
            break;
    }
    return first;
}

/* Runs the session on the input, in the pieces of the random split, with
 * the actions after each; small as for feed(): each piece in one call, or
 * cut into calls of at most small bytes. Records into run->log if set. */
static void run_session(const uint8_t *data, size_t size, struct run *run, size_t small)
{
    struct urg_session_config cfg;
    urg_session *s;
    size_t off = 8;
    int i, diff = run->log != NULL;
    run->rng = (uint32_t)data[2] | (uint32_t)data[3] << 8 | (uint32_t)data[4] << 16 |
               (uint32_t)data[5] << 24;
    if (!run->rng)
        run->rng = 1;
    urg_session_config_init(&cfg);
    cfg.caps = data[0];
    if (cfg.caps & URG_CAP_BIT(URG_CAP_BULK_STREAMS))
        cfg.caps |= URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE);
    cfg.policy = (data[1] & 32) ? URG_POLICY_TOLERATE
                 : (data[1] & 1) ? URG_POLICY_SKIP
                                 : URG_POLICY_FAIL;
    if (data[1] & 2)
        cfg.filter = "0x03,-1,-1,-1,0|-1,-1,-1,-1,1";
    if (data[1] & 4)
        cfg.max_packet_size = 70000;
    cfg.max_output_bytes = 1 << 20;
    cfg.callbacks.complete = on_complete;
    cfg.callbacks.stream_data = on_data;
    if (diff) {
        /* Everything an application could see, recorded. */
        cfg.callbacks.stream_status = on_stream_status;
        cfg.callbacks.error = on_error;
        cfg.callbacks.log = on_log;
        cfg.callbacks.hello = on_hello;
        cfg.callbacks.device_connect = on_connect;
        cfg.callbacks.device_rejected = on_rejected;
        cfg.callbacks.device_disconnect = on_disconnect;
        cfg.callbacks.device_info = on_info;
        cfg.callbacks.peer_filter = on_filter;
        cfg.log_level = URG_LOG_DEBUG;
    }
    cfg.user_data = run;
    if (urg_session_new(&cfg, &s))
        abort();
    run->s = s;
    while (off < size && urg_session_state(s) != URG_STATE_FAILED) {
        size_t n = size - off;
        void *wb;
        size_t wl;
        int r;
        if (rnd(&run->rng) % 4)
            n = 1 + rnd(&run->rng) % (n < 300 ? n : 300);
        /* Through the window, the piece is the window's part of it. */
        if ((data[1] & 8) && urg_session_recv_window(s, &wb, &wl) && n > wl)
            n = wl;
        r = feed(s, data[1] & 8, data + off, n, small);
        off += n;
        if (diff) {
            struct urg_stats st;
            uint64_t v[7];
            stats_of(s, &st);
            v[0] = off;
            v[1] = (uint64_t)(int64_t)r;
            v[2] = (uint64_t)urg_session_state(s);
            v[3] = urg_session_pending_count(s);
            v[4] = urg_session_output_pending(s);
            v[5] = fnv(FNV0, &st, sizeof(st));
            v[6] = urg_session_caps(s);
            rec(run, R_PIECE, v, 7, NULL, 0);
        }
        make_requests(s, run);
        drain(s, run);
    }
    if (diff) {
        struct urg_stats st;
        const char *msg = NULL;
        uint64_t v[8];
        int e = urg_session_error(s, &msg), k;
        const char *ver = urg_session_peer_version(s);
        v[0] = (uint64_t)urg_session_state(s);
        v[1] = (uint64_t)(int64_t)e;
        v[2] = urg_session_pending_count(s);
        v[3] = urg_session_caps(s);
        v[4] = urg_session_peer_caps(s);
        v[5] = urg_session_output_pending(s);
        v[6] = v[7] = 0;
        /* The streams running: interrupt and iso in v[6], bulk in v[7]. */
        for (k = 0; k < 32; k++) {
            uint8_t ep = urg_ep_address(k);
            v[6] |= (uint64_t)urg_session_stream_active(s, URG_START_INTERRUPT_RECEIVING, ep) << k;
            v[6] |= (uint64_t)urg_session_stream_active(s, URG_START_ISO_STREAM, ep) << (32 + k);
            v[7] |= (uint64_t)urg_session_stream_active(s, URG_START_BULK_RECEIVING, ep) << k;
        }
        rec(run, R_FINAL, v, 8, msg ? msg : "", msg ? strlen(msg) : 0);
        rec(run, R_FINAL, NULL, 0, ver, strlen(ver));
        rec_device(run, R_FINAL, 1, urg_session_device(s));
        stats_of(s, &st);
        rec(run, R_FINAL, NULL, 0, &st, sizeof(st));
    }
    run->s = NULL;
    urg_session_free(s); /* completes the pending requests with NODEV */
    rec(run, R_END, NULL, 0, NULL, 0);
    for (i = 0; i < run->n; i++)
        if (!run->r[i].done)
            abort(); /* every request completes exactly once */
}

/* ---- comparing the two runs ---- */

static void print_rec(const char *who, const struct log *l, size_t i)
{
    const struct rec *r;
    size_t k;
    if (i >= l->n) {
        fprintf(stderr, "  %s: (no record %zu; %zu in all)\n", who, i, l->n);
        return;
    }
    r = &l->r[i];
    fprintf(stderr, "  %s: %s", who, rec_names[r->tag]);
    for (k = 0; k < NV; k++)
        fprintf(stderr, " %llx", (unsigned long long)r->v[k]);
    fprintf(stderr, " [%zu bytes:", r->blen);
    for (k = 0; k < r->blen && k < 64; k++) {
        uint8_t c = l->b[r->blob + k];
        if (c >= 0x20 && c < 0x7f)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "%s]\n", r->blen > 64 ? "..." : "");
}

static int rec_equal(const struct log *a, size_t i, const struct log *b)
{
    const struct rec *x = &a->r[i], *y = &b->r[i];
    return x->tag == y->tag && !memcmp(x->v, y->v, sizeof(x->v)) && x->blen == y->blen &&
           (!x->blen || !memcmp(a->b + x->blob, b->b + y->blob, x->blen));
}

static void compare(const struct log *whole, const struct log *small, size_t piece)
{
    size_t i, n = whole->n < small->n ? whole->n : small->n;
    for (i = 0; i < n && rec_equal(whole, i, small); i++)
        ;
    if (i == n && whole->n == small->n)
        return;
    fprintf(stderr,
            "fuzz_recv: differential: record %zu differs between the pieces fed whole and "
            "in pieces of %zu bytes\n",
            i, piece);
    if (i)
        print_rec("before", whole, i - 1);
    print_rec("whole ", whole, i);
    print_rec("small ", small, i);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct run run[2];
    static struct log log[2];
    size_t small;
    if (size < 8)
        return 0;
    memset(&run[0], 0, sizeof(run[0]));
    if (!(data[1] & 16)) {
        run_session(data, size, &run[0], 0);
        return 0;
    }
    /* Differential: the same pieces fed whole, then in pieces too small to
     * hold a frame header. */
    small = 1 + data[6] % 11;
    log[0].n = log[0].bn = log[1].n = log[1].bn = 0;
    run[0].log = &log[0];
    run_session(data, size, &run[0], 0);
    memset(&run[1], 0, sizeof(run[1]));
    run[1].log = &log[1];
    run_session(data, size, &run[1], small);
    compare(&log[0], &log[1], small);
    return 0;
}

/*
 * replay.c - a usb-host that serves a capture to a live guest.
 *
 * The first connection of the capture on which the host spoke is replayed
 * (a guest that retried records connections the host closed at once, before
 * the one that worked). Host packets go out in
 * captured order, each once what it waits for has come from the guest:
 *   a reply                 the request it answers (its id is remapped to
 *                           the id the live guest gave that request);
 *   stream data, a stream's unsolicited status
 *                           the start of that stream;
 *   ep_info / interface_info while a set_configuration or set_alt_setting
 *                           is unanswered: that request;
 *   the host's hello        nothing;
 *   anything else           every guest packet captured before it.
 * Guest packets must come in captured order and equal the captured ones in
 * every field but the id (a cancel's id must be the remapped one); the
 * first difference ends the replay with a report naming the packet and the
 * field. The replay is done when every host packet has gone and every
 * guest packet has been seen.
 *
 * URG_REPLAY_DEVICE (device:FILE) keeps this file's I/O and hands each
 * guest packet to the device built from the capture (recdev.c), which
 * answers by meaning; a timer sends its stream packets. It is done when
 * the guest hangs up (status 0, the coverage in the report), or, with
 * close_when_done, LINGER seconds after the recording has nothing more to
 * send and every stream ran out (the guest's time to take what it was
 * sent): the device is unplugged (device_disconnect).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "guarded.h"
#include "recdev.h"
#include "sock.h"
#include "talloc.h"
#include "urg_capture.h"
#include "urg_codec.h"
#include "urg_transport.h"

struct rp {
    struct urg_packet p;
    uint8_t *data;
    uint32_t index;      /* in the capture */
    int32_t dep;         /* host: guest packet it waits for, -1 none */
    int32_t answers;     /* host: guest packet it replies to, -1 none */
    uint64_t live_id;    /* guest: the id the live guest used */
    bool matched;
};

struct urg_replay {
    struct urg_replay_config cfg;
    struct urg_allocator alloc; /* everything below, the decoders too */
    struct ev_loop *loop;
    ev_io rio, wio, lio;
    int fd, lfd, port;
    struct rp *host, *guest;
    uint32_t nhost, nguest, hcap, gcap;
    uint32_t hnext, gnext;
    uint32_t host_caps;
    urg_decoder *dec;
    struct urg_host_output out; /* for the guest, under dec's layout */
    bool finished, reported;
    int status;            /* what finish() reported */
    bool starting;         /* queueing the first packets inside urg_replay_new():
                              an error is returned, not done() */
    bool constructing;     /* inside urg_replay_new(): done() waits for the loop */
    ev_timer report_later; /* calls done() from the loop */
    struct recdev *dev;    /* URG_REPLAY_DEVICE: the device answering */
    ev_timer tick;         /* its stream packets' next turn */
    ev_timer linger;       /* the unplug, once the recording is over */
    bool unplugged;        /* its device_disconnect went */
    bool dev_started;      /* its hello and device went */
    bool dev_held;         /* it held stream packets back until the output
                              drains (flush() then gives it a turn) */
    char report[1024];     /* what finish() reported */
    struct urgi_guard guard; /* libev callbacks running; a free asked for in one */
};

/* ---------------------------------------------------------------- loading */

struct build {
    urg_replay *r;
    uint32_t connection;      /* the one replayed */
    int32_t last_guest;
    int32_t start_gi[32][3]; /* latest start of interrupt / iso / bulk receiving */
    int32_t set_gi;          /* unanswered set_configuration / set_alt_setting */
    int err;
};

/* A stream's slot in start_gi: interrupt receiving, iso, bulk receiving. */
static int stream_kind(uint32_t start_type)
{
    switch (start_type) {
    case URG_START_INTERRUPT_RECEIVING: return 0;
    case URG_START_ISO_STREAM: return 1;
    case URG_START_BULK_RECEIVING: return 2;
    default: return -1;
    }
}

static struct rp *append(const struct urg_allocator *a, struct rp **arr, uint32_t *n, uint32_t *cap,
                         const struct urg_packet *p, uint32_t index)
{
    struct rp *e;
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 64;
        struct rp *na = urgi_realloc(a, *arr, (size_t)nc * sizeof(*na));
        if (!na)
            return NULL;
        *arr = na;
        *cap = nc;
    }
    e = &(*arr)[(*n)++];
    memset(e, 0, sizeof(*e));
    e->p = *p;
    e->index = index;
    e->dep = e->answers = -1;
    if (p->data_len) {
        e->data = urgi_malloc(a, p->data_len);
        if (!e->data) {
            (*n)--;
            return NULL;
        }
        memcpy(e->data, p->data, p->data_len);
    }
    e->p.data = e->data;
    return e;
}

/* The first connection with a packet from the host. */
static int find_connection(void *ctx, const struct urg_capture_packet *cp)
{
    if (cp->dir != URG_DIR_TO_GUEST)
        return 0;
    ((struct build *)ctx)->connection = cp->connection;
    return 1;
}

static int collect(void *ctx, const struct urg_capture_packet *cp)
{
    struct build *b = ctx;
    urg_replay *r = b->r;
    const struct urg_packet *p = cp->p;
    struct rp *e;
    int32_t gi;
    int kind, ep;
    if (cp->connection != b->connection)
        return cp->connection > b->connection; /* that connection only */
    if (cp->dir == URG_DIR_TO_HOST) {
        e = append(&r->alloc, &r->guest, &r->nguest, &r->gcap, p, cp->index);
        if (!e)
            return URG_ERR_NOMEM;
        gi = (int32_t)r->nguest - 1;
        b->last_guest = gi;
        if (urg_packet_stream(p) == p->type && (kind = stream_kind(p->type)) >= 0)
            b->start_gi[urg_ep_index((uint8_t)urg_packet_endpoint(p))][kind] = gi;
        if (p->type == URG_SET_CONFIGURATION || p->type == URG_SET_ALT_SETTING)
            b->set_gi = gi;
        return 0;
    }
    e = append(&r->alloc, &r->host, &r->nhost, &r->hcap, p, cp->index);
    if (!e)
        return URG_ERR_NOMEM;
    if (p->type == URG_HELLO) {
        r->host_caps = p->h.hello.caps[0];
        return 0;
    }
    /* A reply: to the latest guest request with its id and a fitting type. */
    for (gi = b->last_guest; gi >= 0; gi--) {
        if (urg_packet_answers(p, &r->guest[gi].p)) {
            e->answers = e->dep = gi;
            if (gi == b->set_gi && (p->type == URG_CONFIGURATION_STATUS ||
                                    p->type == URG_ALT_SETTING_STATUS))
                b->set_gi = -1;
            return 0;
        }
    }
    /* Stream data or an unasked stream status: after its stream's start. */
    kind = stream_kind(urg_packet_stream(p));
    ep = urg_packet_endpoint(p);
    if (kind >= 0 && b->start_gi[urg_ep_index((uint8_t)ep)][kind] >= 0) {
        e->dep = b->start_gi[urg_ep_index((uint8_t)ep)][kind];
        return 0;
    }
    if ((p->type == URG_EP_INFO || p->type == URG_INTERFACE_INFO) && b->set_gi >= 0) {
        e->dep = b->set_gi;
        return 0;
    }
    e->dep = b->last_guest; /* everything the guest said before it */
    return 0;
}

/* ---------------------------------------------------------------- reports */

static void report(urg_replay *r)
{
    if (r->cfg.done && !r->guard.free_pending)
        r->cfg.done(r->cfg.user_data, r, r->status, r->report);
}

static void finish(urg_replay *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void finish(urg_replay *r, int status, const char *fmt, ...)
{
    va_list ap;
    if (r->reported)
        return;
    r->reported = true;
    r->status = status;
    va_start(ap, fmt);
    vsnprintf(r->report, sizeof(r->report), fmt, ap);
    va_end(ap);
    if (status)
        r->finished = true;
    if (r->cfg.log && r->cfg.log_level >= (status ? URG_LOG_ERROR : URG_LOG_INFO))
        r->cfg.log(r->cfg.user_data, status ? URG_LOG_ERROR : URG_LOG_INFO, r->report);
    if (status && r->starting)
        return; /* urg_replay_new() returns it */
    if (r->constructing) {
        /* A capture with nothing to wait for is replayed whole inside
         * urg_replay_new(): the caller has no replay yet, so done() (which
         * may free it) comes from the loop. */
        ev_timer_start(r->loop, &r->report_later);
        return;
    }
    report(r);
}

/* A request's fields beyond its endpoint, stream id and length (which
 * urg_packet_fields() finds through the type's row): each one the guest
 * must send as captured, in the order they are compared. */
struct own_field {
    uint32_t type;
    const char *name;
    size_t offset, size; /* in struct urg_packet */
    bool hex;            /* shown as 0x and two digits a byte, else in decimal */
};
#define OWN(type, member, field, hex)                                                             \
    { type, #field, offsetof(struct urg_packet, h.member.field),                                  \
      sizeof(((struct urg_packet *)0)->h.member.field), hex }
static const struct own_field own_fields[] = {
    OWN(URG_SET_CONFIGURATION, set_configuration, configuration, false),
    OWN(URG_SET_ALT_SETTING, set_alt_setting, interface, false),
    OWN(URG_SET_ALT_SETTING, set_alt_setting, alt, false),
    OWN(URG_GET_ALT_SETTING, get_alt_setting, interface, false),
    OWN(URG_START_ISO_STREAM, start_iso_stream, pkts_per_urb, false),
    OWN(URG_START_ISO_STREAM, start_iso_stream, no_urbs, false),
    OWN(URG_ALLOC_BULK_STREAMS, alloc_bulk_streams, endpoints, true),
    OWN(URG_ALLOC_BULK_STREAMS, alloc_bulk_streams, no_streams, false),
    OWN(URG_FREE_BULK_STREAMS, free_bulk_streams, endpoints, true),
    OWN(URG_START_BULK_RECEIVING, start_bulk_receiving, bytes_per_transfer, false),
    OWN(URG_START_BULK_RECEIVING, start_bulk_receiving, no_transfers, false),
    OWN(URG_CONTROL_PACKET, control, requesttype, true),
    OWN(URG_CONTROL_PACKET, control, request, true),
    OWN(URG_CONTROL_PACKET, control, value, true),
    OWN(URG_CONTROL_PACKET, control, index, true),
};

static uint32_t own_value(const struct urg_packet *p, const struct own_field *f)
{
    const void *at = (const uint8_t *)p + f->offset;
    switch (f->size) {
    case 1: return *(const uint8_t *)at;
    case 2: return *(const uint16_t *)at;
    default: return *(const uint32_t *)at;
    }
}

/* Says in why that field of a tn packet is got where the capture has
 * want, shown in hex (hex_digits of them) or in decimal (0). Returns 1. */
static int mismatch(char *why, size_t cap, const char *tn, const char *field, int hex_digits,
                    uint32_t got, uint32_t want)
{
    if (hex_digits)
        snprintf(why, cap, "%s %s is 0x%0*x, the capture has 0x%0*x", tn, field, hex_digits, got,
                 hex_digits, want);
    else
        snprintf(why, cap, "%s %s is %u, the capture has %u", tn, field, got, want);
    return 1;
}

/* The first field in which got (live) differs from want (captured): the
 * endpoint, the stream id, the type's own fields, the length (dump's
 * order), then the data. */
static int differs(const struct urg_packet *want, const struct urg_packet *got, char *why,
                   size_t cap)
{
    const char *tn = urg_type_name(want->type);
    struct urg_packet_fields w, g;
    size_t k;
    uint32_t i;
    if (want->type != got->type) {
        snprintf(why, cap, "the guest sent %s, the capture has %s", urg_type_name(got->type), tn);
        return 1;
    }
    if (want->type == URG_HELLO)
        return 0; /* versions and caps may differ */
    urg_packet_fields(want, &w);
    urg_packet_fields(got, &g);
    if (w.endpoint != g.endpoint)
        return mismatch(why, cap, tn, "endpoint", 2, (uint32_t)g.endpoint, (uint32_t)w.endpoint);
    if (w.stream_id != g.stream_id)
        return mismatch(why, cap, tn, "stream_id", 0, (uint32_t)g.stream_id,
                        (uint32_t)w.stream_id);
    for (k = 0; k < sizeof(own_fields) / sizeof(own_fields[0]); k++) {
        const struct own_field *f = &own_fields[k];
        uint32_t wv, gv;
        if (f->type != want->type)
            continue;
        wv = own_value(want, f);
        gv = own_value(got, f);
        if (wv != gv)
            return mismatch(why, cap, tn, f->name, f->hex ? 2 * (int)f->size : 0, gv, wv);
    }
    if (w.length != g.length)
        return mismatch(why, cap, tn, "length", 0, (uint32_t)g.length, (uint32_t)w.length);
    if (want->data_len != got->data_len) {
        snprintf(why, cap, "%s carries %u bytes, the capture has %u", tn, got->data_len,
                 want->data_len);
        return 1;
    }
    for (i = 0; i < want->data_len; i++) {
        if (want->data[i] != got->data[i]) {
            snprintf(why, cap, "%s data byte %u is 0x%02x, the capture has 0x%02x", tn, i,
                     got->data[i], want->data[i]);
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- the host */

/* The most the output ever holds: each host packet of the capture once,
 * with the largest headers any layout gives it. */
static size_t output_bound(const urg_replay *r)
{
    struct urg_wire widest = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
    size_t n = 0;
    uint32_t i;
    for (i = 0; i < r->nhost; i++) {
        const struct urg_packet *p = &r->host[i].p;
        int hl = urg_encoded_header_len(&widest, p, URG_DIR_TO_GUEST);
        n += (size_t)(hl > 0 ? hl : 0) + (p->type != URG_HELLO ? p->data_len : 0);
    }
    return n;
}

/* Sends every host packet whose turn it is. */
static void pump(urg_replay *r)
{
    while (!r->finished && r->hnext < r->nhost) {
        struct rp *h = &r->host[r->hnext];
        struct urg_packet p = h->p;
        int rc;
        if (h->dep >= 0 && !r->guest[h->dep].matched)
            return;
        if (h->answers >= 0)
            p.id = r->guest[h->answers].live_id;
        rc = urg_host_output_packet(&r->out, &p);
        if (rc == URG_ERR_NOMEM) { /* the replay is over */
            finish(r, URG_ERR_NOMEM, "replay: out of memory for the output (%s, %u bytes)",
                   urg_type_name(p.type), p.data_len);
            return;
        }
        if (rc < 0) {
            finish(r, URG_ERR_DIVERGED,
                   "capture packet %u (host to guest, %s) cannot be sent to this guest: %s",
                   h->index, urg_type_name(p.type), urg_strerror(rc));
            return;
        }
        r->hnext++;
    }
    if (!r->finished && r->hnext == r->nhost && r->gnext == r->nguest) {
        r->finished = true;
        finish(r, 0, "replayed all %u packets of the capture", r->nhost + r->nguest);
    }
}

static int on_guest(void *ctx, const struct urg_packet *p)
{
    urg_replay *r = ctx;
    struct rp *g;
    char why[256], a[200], b[200];
    if (r->finished)
        return URG_DECODE_CONTINUE; /* the end: anything after is ignored */
    if (r->gnext == r->nguest) {
        urg_packet_format(p, a, sizeof(a));
        finish(r, URG_ERR_DIVERGED, "the guest sent a packet after the end of the capture: %s", a);
        return URG_DECODE_STOP;
    }
    g = &r->guest[r->gnext];
    if (differs(&g->p, p, why, sizeof(why))) {
        urg_packet_format(&g->p, a, sizeof(a));
        urg_packet_format(p, b, sizeof(b));
        finish(r, URG_ERR_DIVERGED,
               "capture packet %u (guest to host): %s\n  capture: %s\n  guest:   %s", g->index,
               why, a, b);
        return URG_DECODE_STOP;
    }
    if (p->type == URG_CANCEL_DATA_PACKET) {
        /* The id of a cancel is the (remapped) id of what it cancels. */
        int32_t k;
        for (k = (int32_t)r->gnext - 1; k >= 0; k--)
            if (r->guest[k].p.id == g->p.id && r->guest[k].p.type != URG_CANCEL_DATA_PACKET)
                break;
        if (k >= 0 && r->guest[k].live_id != p->id) {
            finish(r, URG_ERR_DIVERGED,
                   "capture packet %u (guest to host): cancel_data_packet cancels id %llu, "
                   "the capture cancels the request sent as id %llu",
                   g->index, (unsigned long long)p->id, (unsigned long long)r->guest[k].live_id);
            return URG_DECODE_STOP;
        }
    }
    g->live_id = p->id;
    g->matched = true;
    r->gnext++;
    pump(r);
    return URG_DECODE_CONTINUE;
}

static void on_decode_error(void *ctx, int err, const char *msg, int fatal)
{
    urg_replay *r = ctx;
    (void)fatal;
    if (err == URG_ERR_NOMEM)
        finish(r, err, "replay: out of memory decoding what the guest sent: %s", msg);
    else
        finish(r, URG_ERR_DIVERGED, "the guest sent a malformed packet: %s", msg);
}

/* ---------------------------------------------------------------- device */

/* The device's output: stream packets are held back past its hint, and
 * the guest is not read while it is over the hint (read_guest()); one
 * reply more can always be queued (a bulk reply is at most
 * URG_MAX_BULK_LENGTH bytes). */
static size_t device_output_max(const urg_replay *r)
{
    return recdev_output_hint(r->dev) + URG_MAX_BULK_LENGTH + 4096;
}

/* Seconds from the end of the recording to the unplug (close_when_done). */
#define LINGER 1.0

static void flush(urg_replay *r);

static int device_send(void *ctx, const struct urg_packet *p)
{
    urg_replay *r = ctx;
    int rc = urg_host_output_packet(&r->out, p);
    if (rc == URG_ERR_NOMEM)
        finish(r, rc, "device: out of memory for the output (%s, %u bytes)", urg_type_name(p->type),
               p->data_len);
    else if (rc < 0)
        finish(r, URG_ERR_DIVERGED, "device: a %s cannot be sent to this guest: %s",
               urg_type_name(p->type), urg_strerror(rc));
    return rc;
}

static void device_finish(urg_replay *r, const char *why)
{
    char cov[512];
    recdev_report(r->dev, cov, sizeof(cov));
    r->finished = true;
    finish(r, 0, "%s; %s", why, cov);
}

/* The device's stream packets that are due (while the output is under its
 * hint), the next turn's timer, and the unplug once the recording is over
 * (close_when_done). */
static void device_turn(urg_replay *r)
{
    size_t queued = 0, hint;
    double next = -1;
    if (r->finished || r->fd < 0)
        return;
    hint = recdev_output_hint(r->dev);
    urg_host_output_data(&r->out, &queued);
    r->dev_held = queued >= hint;
    if (!r->dev_held && recdev_tick(r->dev, ev_now(r->loop), hint - queued, &next))
        return; /* (device_send() finished the replay) */
    ev_timer_stop(r->loop, &r->tick);
    if (next == 0) {
        r->dev_held = true; /* the budget ran out: the rest once written */
    } else if (next > 0) {
        ev_timer_set(&r->tick, next, 0.);
        ev_timer_start(r->loop, &r->tick);
    }
    /* Over: the unplug gives the guest LINGER seconds to take what it
     * was sent (a guest that polls its device goes on polling). */
    if (r->cfg.close_when_done && !r->unplugged && !ev_is_active(&r->linger) &&
        recdev_over(r->dev))
        ev_timer_start(r->loop, &r->linger);
}

static void unplug(urg_replay *r)
{
    struct urg_packet p;
    if (r->finished || r->unplugged || r->fd < 0)
        return;
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_DISCONNECT;
    r->unplugged = true;
    if (device_send(r, &p) == 0)
        device_finish(r, "the recording is over: the device was unplugged");
    flush(r);
}

static int on_guest_device(void *ctx, const struct urg_packet *p)
{
    urg_replay *r = ctx;
    int rc;
    if (r->finished)
        return URG_DECODE_CONTINUE;
    if ((rc = recdev_guest(r->dev, p, ev_now(r->loop)))) {
        if (!r->reported) /* (a send error finished it already) */
            finish(r, rc, "device: answering a %s: %s", urg_type_name(p->type), urg_strerror(rc));
        return URG_DECODE_STOP;
    }
    device_turn(r);
    return URG_DECODE_CONTINUE;
}

/* ---------------------------------------------------------------- I/O */

static void really_free(urg_replay *r);
GUARDED_OBJECT(urg_replay, really_free)

static void close_conn(urg_replay *r)
{
    if (r->fd < 0)
        return;
    ev_io_stop(r->loop, &r->rio);
    ev_io_stop(r->loop, &r->wio);
    close(r->fd);
    r->fd = -1;
}

static void flush(urg_replay *r)
{
    const uint8_t *b;
    size_t n;
    while (r->fd >= 0 && (b = urg_host_output_data(&r->out, &n))) {
        ssize_t w = send(r->fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(r->fd, b, n);
        if (w > 0) {
            urg_host_output_consume(&r->out, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(r->loop, &r->wio);
            return;
        }
        finish(r, URG_ERR_IO, "replay: cannot write to the guest: %s", strerror(errno));
        close_conn(r);
        return;
    }
    urg_host_output_reset(&r->out);
    if (r->fd >= 0)
        ev_io_stop(r->loop, &r->wio);
    /* All written: the guest is read again, and the device may send the
     * stream packets it held back. */
    if (r->dev && !r->finished && r->fd >= 0 && !ev_is_active(&r->rio))
        ev_io_start(r->loop, &r->rio);
    if (r->dev && r->dev_held && !r->finished && r->fd >= 0 && !ev_is_active(&r->tick)) {
        r->dev_held = false;
        ev_timer_set(&r->tick, 0., 0.);
        ev_timer_start(r->loop, &r->tick);
    }
    /* Done, or failed (a failed replay always hangs up). */
    if (r->finished && (r->cfg.close_when_done || r->status))
        close_conn(r);
}

static void read_guest(urg_replay *r)
{
    uint8_t buf[65536];
    while (r->fd >= 0) {
        ssize_t n;
        if (r->dev) {
            /* A guest that sends and does not read: it is not read either
             * while the device's answers wait (flush() reads again). */
            size_t queued = 0;
            urg_host_output_data(&r->out, &queued);
            if (queued >= recdev_output_hint(r->dev)) {
                ev_io_stop(r->loop, &r->rio);
                break;
            }
        }
        n = read(r->fd, buf, sizeof(buf));
        if (n > 0) {
            int x = urg_decoder_feed(r->dec, buf, (size_t)n, NULL);
            if (x != 0) {
                if (x < 0) /* reported by on_decode_error, or else here */
                    finish(r, x, "replay: decoding what the guest sent failed: %s",
                           urg_strerror(x));
                close_conn(r);
                break;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        /* The guest closed the connection. */
        if (r->dev && !r->finished)
            device_finish(r, "the guest hung up");
        else if (!r->finished)
            finish(r, URG_ERR_EOF,
                   "the guest closed the connection after %u of %u guest packets and %u of %u "
                   "host packets of the capture",
                   r->gnext, r->nguest, r->hnext, r->nhost);
        close_conn(r);
        break;
    }
    flush(r);
}
GUARDED_CALLBACK(on_read, io, read_guest)
GUARDED_CALLBACK(on_write, io, flush)

static void tick_turn(urg_replay *r)
{
    device_turn(r);
    flush(r);
}
GUARDED_CALLBACK(on_tick, timer, tick_turn)
GUARDED_CALLBACK(on_linger, timer, unplug)

static void serve(urg_replay *r, int fd)
{
    sock_nonblock(fd);
    r->fd = fd;
    ev_io_init(&r->rio, on_read, fd, EV_READ);
    ev_io_init(&r->wio, on_write, fd, EV_WRITE);
    r->rio.data = r->wio.data = r;
    ev_io_start(r->loop, &r->rio);
    if (r->dev) {
        if (!r->dev_started) {
            r->dev_started = true;
            recdev_start(r->dev, device_send, r, ev_now(r->loop)); /* (it finishes on errors) */
        }
        device_turn(r);
    } else {
        pump(r); /* the hello */
    }
    flush(r);
}

static void accept_guest(urg_replay *r)
{
    int fd = accept(r->lfd, NULL, NULL);
    if (fd >= 0) {
        ev_io_stop(r->loop, &r->lio);
        close(r->lfd);
        r->lfd = -1;
        serve(r, fd);
    }
}
GUARDED_CALLBACK(on_accept, io, accept_guest)
GUARDED_CALLBACK(on_report_later, timer, report)

static int listen_on(urg_replay *r, const char *address)
{
    struct urg_address a;
    int fd, rc;
    if ((rc = urg_address_parse(address, &a)))
        return rc;
    if ((fd = sock_listen(&a, 1, &r->port)) < 0)
        return fd;
    r->lfd = fd;
    ev_io_init(&r->lio, on_accept, fd, EV_READ);
    r->lio.data = r;
    ev_io_start(r->loop, &r->lio);
    return 0;
}

URG_API void urg_replay_config_init_size(struct urg_replay_config *cfg, size_t size)
{
    struct urg_replay_config d;
    memset(&d, 0, sizeof(d));
    d.fd = -1;
    d.close_when_done = 1;
    d.log_level = URG_LOG_WARNING;
    d.write_limit = 64ull << 20;
    if (cfg)
        urgi_config_give(cfg, size, &d, sizeof(d));
}

static void really_free(urg_replay *r)
{
    struct urg_allocator a = r->alloc;
    uint32_t i;
    if (r->loop) {
        ev_timer_stop(r->loop, &r->report_later);
        ev_timer_stop(r->loop, &r->tick);
        ev_timer_stop(r->loop, &r->linger);
    }
    recdev_free(r->dev);
    for (i = 0; i < r->nhost; i++)
        urgi_free(&a, r->host[i].data);
    for (i = 0; i < r->nguest; i++)
        urgi_free(&a, r->guest[i].data);
    urgi_free(&a, r->host);
    urgi_free(&a, r->guest);
    urg_host_output_free(&r->out);
    urg_decoder_free(r->dec);
    urgi_free(&a, r);
}

URG_API int urg_replay_new(const struct urg_replay_config *given, urg_replay **out)
{
    const struct urg_allocator *a;
    struct urg_replay_config c, *cfg = &c;
    struct urg_decoder_callbacks cb = { .packet = on_guest, .error = on_decode_error };
    uint32_t caps;
    struct build b;
    urg_replay *r;
    char err[256];
    int rc, i;
    if (!given || !out)
        return URG_ERR_INVALID;
    urg_replay_config_init(&c);
    if (urgi_config_take(&c, sizeof(c), given) || (!cfg->capture_path && !cfg->capture_data) ||
        (cfg->fd < 0 && !cfg->listen_address))
        return URG_ERR_INVALID;
    *out = NULL;
    a = urgi_allocator_or_default(cfg->allocator);
    r = urgi_calloc(a, sizeof(*r));
    if (!r)
        return URG_ERR_NOMEM;
    r->alloc = *a;
    r->cfg = *cfg;
    r->cfg.allocator = NULL; /* our copy is r->alloc */
    r->cfg.capture_path = NULL;
    r->cfg.capture_data = NULL;
    r->cfg.listen_address = NULL;
    r->fd = r->lfd = -1;
    memset(&b, 0, sizeof(b));
    b.r = r;
    b.last_guest = b.set_gi = -1;
    for (i = 0; i < 32; i++)
        b.start_gi[i][0] = b.start_gi[i][1] = b.start_gi[i][2] = -1;
    b.connection = 1;
    if (cfg->mode == URG_REPLAY_DEVICE) {
        /* The device built from the whole capture. */
        rc = recdev_new(&r->alloc, cfg->capture_path, cfg->capture_data, cfg->capture_size, cfg,
                        &r->dev, err, sizeof(err));
        if (rc) {
            if (cfg->log)
                cfg->log(cfg->user_data, URG_LOG_ERROR, err);
            really_free(r);
            return rc;
        }
        r->host_caps = recdev_host_caps(r->dev);
        cb.packet = on_guest_device;
    }
    for (i = 0; i < 2 && !r->dev; i++) {
        int (*fn)(void *, const struct urg_capture_packet *) = i ? collect : find_connection;
        rc = cfg->capture_path
                 ? urgt_capture_decode(&r->alloc, cfg->capture_path, fn, &b, err, sizeof(err))
                 : urgt_capture_decode_mem(&r->alloc, cfg->capture_data, cfg->capture_size, fn,
                                           &b, err, sizeof(err));
        if (rc < 0)
            break;
    }
    if (!r->dev && (rc < 0 || !r->nhost || r->host[0].p.type != URG_HELLO)) {
        if (cfg->log)
            cfg->log(cfg->user_data, URG_LOG_ERROR,
                     rc < 0 ? err : "the capture has no host hello to replay");
        really_free(r);
        return rc < 0 ? rc : URG_ERR_CAPTURE;
    }
    r->loop = cfg->loop ? cfg->loop : EV_DEFAULT; /* only once the capture is good */
    caps = r->host_caps & URG_CAPS_ALL;
    if ((caps & URG_CAP_BIT(URG_CAP_BULK_STREAMS)) &&
        !(caps & URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE)))
        caps &= ~URG_CAP_BIT(URG_CAP_BULK_STREAMS);
    if ((rc = urg_host_decoder_new(caps, &cb, r, &r->alloc, &r->dec)) ||
        (rc = urg_host_output_init(&r->out, r->dec, &r->alloc,
                                   r->dev ? device_output_max(r) : output_bound(r)))) {
        if (cfg->log)
            cfg->log(cfg->user_data, URG_LOG_ERROR,
                     "replay: cannot create the decoder or the output");
        really_free(r);
        return rc;
    }
    ev_timer_init(&r->report_later, on_report_later, 0., 0.);
    r->report_later.data = r;
    ev_timer_init(&r->tick, on_tick, 0., 0.);
    r->tick.data = r;
    ev_timer_init(&r->linger, on_linger, LINGER, 0.);
    r->linger.data = r;
    r->constructing = true;
    if (cfg->fd >= 0) {
        /* The host's hello is queued before the fd is touched: if that
         * fails, this returns the error (no done()) and the fd is the
         * caller's still. */
        r->starting = true;
        if (r->dev) {
            r->dev_started = true;
            recdev_start(r->dev, device_send, r, ev_now(r->loop));
        } else {
            pump(r);
        }
        r->starting = false;
        if (r->status) {
            rc = r->status;
            really_free(r);
            return rc;
        }
        serve(r, cfg->fd);
    } else if ((rc = listen_on(r, cfg->listen_address))) {
        really_free(r);
        return rc;
    }
    r->constructing = false;
    *out = r;
    return 0;
}

URG_API void urg_replay_free(urg_replay *r)
{
    if (!r || r->guard.free_pending)
        return;
    urgi_guard_free(&r->guard);
    close_conn(r);
    if (r->lfd >= 0) {
        ev_io_stop(r->loop, &r->lio);
        close(r->lfd);
        r->lfd = -1;
    }
    if (!r->guard.depth)
        really_free(r); /* else the outermost leave() does */
}

URG_API int urg_replay_port(const urg_replay *r) { return r ? r->port : 0; }

URG_API int urg_replay_coverage(const urg_replay *r, struct urg_replay_coverage *out)
{
    if (!r || !out || !r->dev)
        return URG_ERR_INVALID;
    recdev_coverage(r->dev, out);
    return 0;
}

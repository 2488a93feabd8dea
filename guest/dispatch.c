/*
 * dispatch.c - what the host sends, packet by packet: the hello, device
 * state (device_connect, device_disconnect, interface_info, ep_info, with
 * the session's filter), replies matched to their requests, stream data and
 * stream statuses, the host's filter. These are the decoder's callbacks.
 *
 * Matching: a reply is matched by id in the pending table, then must be of
 * the request's type, for its endpoint, and no longer than asked; a reply
 * for no pending id is late (dropped and counted). A stream status is a
 * completion only if its id names a start/stop request of the same kind for
 * the same endpoint; any other is unsolicited (the host uses id 0 or a
 * packet counter for those), and a non-success one means the host stopped
 * the stream.
 */
#include "session.h"
#include "type_fields.h"

#include <stdio.h>

static int refuse(urg_session *s, int err, const char *fmt, ...) URGI_PRINTF(3, 4);
static int refuse(urg_session *s, int err, const char *fmt, ...)
{
    size_t cap;
    char *m = urgi_decoder_msg(s->dec, &cap);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, cap, fmt, ap);
    va_end(ap);
    return err;
}

/* Does a packet of row t answer a request of type req? */
static inline bool answers(uint8_t req, const struct urgi_type *t)
{
    int i = urgi_type_index(req);
    return i >= 0 && ((t->answers >> i) & 1u);
}

/* Packets that can only be replies (an interrupt packet is one only for an
 * OUT endpoint; stream statuses may also come unasked). */
static inline bool is_reply(const struct urgi_type *t, const struct urg_packet *p)
{
    if (t->reply == URGI_REPLY_IF_OUT)
        return !(urgi_packet_endpoint(t, p) & 0x80);
    return t->reply == URGI_REPLY;
}

/* A bulk reply's stream id, an alt_setting_status's interface, not the
 * request's: refused, or under URG_POLICY_TOLERATE (as QEMU, which reads
 * neither) warned once and completed as the request's (on_reply()). */
static int reply_field(urg_session *s, const struct urgi_pending *e, const struct urg_packet *p,
                       bool warn)
{
    if (p->type == URG_BULK_PACKET && p->h.bulk.stream_id != e->aux32) {
        if (!warn)
            return refuse(s, URG_ERR_PROTO_FIELD,
                          "bulk_packet: reply id %llu has stream_id %u, the request had %u",
                          (unsigned long long)p->id, p->h.bulk.stream_id, e->aux32);
        urgi_warn_once(s, URGI_WARN_TOLERATED_STREAM_ID,
                       "bulk_packet: reply id %llu has stream_id %u, the request had %u; "
                       "completed as the request's (policy tolerate)",
                       (unsigned long long)p->id, p->h.bulk.stream_id, e->aux32);
    }
    if (p->type == URG_ALT_SETTING_STATUS && p->h.alt_setting_status.interface != e->aux8) {
        if (!warn)
            return refuse(s, URG_ERR_PROTO_FIELD,
                          "alt_setting_status: reply id %llu is for interface %u, the request "
                          "was for %u",
                          (unsigned long long)p->id, p->h.alt_setting_status.interface, e->aux8);
        urgi_warn_once(s, URGI_WARN_TOLERATED_INTERFACE,
                       "alt_setting_status: reply id %llu is for interface %u, the request was "
                       "for %u; completed as the request's (policy tolerate)",
                       (unsigned long long)p->id, p->h.alt_setting_status.interface, e->aux8);
    }
    return 0;
}

/* A reply's fields against its request. The tolerable ones are warned
 * about only once every rule has passed. */
static int check_reply(urg_session *s, const struct urgi_type *t, const struct urgi_pending *e,
                       const struct urg_packet *p)
{
    const bool tolerate = s->dec->tolerate;
    uint32_t len;
    int ep;

    if (!tolerate && reply_field(s, e, p, false))
        return URG_ERR_PROTO_FIELD;
    if (t->data != URGI_DATA_ENDPOINT)
        return tolerate ? reply_field(s, e, p, true) : 0;
    /* A data reply: for the request's endpoint, and no longer than asked
     * (IN: the data; OUT: what the host says it wrote). */
    ep = urgi_packet_endpoint(t, p);
    len = (e->flags & URGI_P_IN) ? p->data_len : urgi_packet_length(t, p);
    if (ep != e->endpoint)
        return refuse(s, URG_ERR_PROTO_REPLY_ENDPOINT,
                      "%s: reply id %llu is for endpoint 0x%02x, the request was for 0x%02x",
                      t->name, (unsigned long long)p->id, ep, e->endpoint);
    if (len > e->length)
        return refuse(s, URG_ERR_PROTO_REPLY_LENGTH,
                      "%s: reply id %llu has length %u, the request asked for %u", t->name,
                      (unsigned long long)p->id, len, e->length);
    return tolerate ? reply_field(s, e, p, true) : 0;
}

/* The decoder's callbacks: the packet being decoded is p, its row the
 * decoder's (looked up once, from the header). A reply's pending entry is
 * found here and kept for urgi_on_packet (reply_at). */
int urgi_on_header(void *ctx, const struct urg_packet *p, uint8_t **dest)
{
    urg_session *s = ctx;
    const struct urgi_type *t = s->dec->row;
    struct urgi_pending *e;
    uint32_t i;
    int r;

    if (s->state == URG_STATE_FAILED || s->guard.free_pending)
        return URG_DECODE_STOP;
    if (!is_reply(t, p)) {
        s->route = t->reply == URGI_STATUS              ? URGI_ROUTE_STATUS
                   : t->data == URGI_DATA_ENDPOINT && t->stream ? URGI_ROUTE_STREAM_DATA
                                                                : URGI_ROUTE_OWN;
        return urgi_stream_check_data(s, t, p);
    }
    s->route = URGI_ROUTE_REPLY;
    s->reply_at = i = urgi_pt_find(&s->pt, p->id);
    if (i == URGI_NIL) {
        /* Completed already (a cancel raced it, the device went away) or
         * never sent: dropped, never delivered twice. */
        s->late_replies++;
        urgi_log(s, URG_LOG_DEBUG, "%s: late reply id %llu dropped", urg_type_name(p->type),
                 (unsigned long long)p->id);
        return URG_DECODE_DISCARD;
    }
    e = &s->pt.e[i];
    if (!answers(e->type, t))
        return refuse(s, URG_ERR_PROTO_REPLY_TYPE, "%s: reply id %llu answers a %s request",
                      t->name, (unsigned long long)p->id, urg_type_name(e->type));
    if ((r = check_reply(s, t, e, p)))
        return r;
    if (e->in && p->data_len) {
        if (URGI_UNLIKELY(e->flags & URGI_P_IOV))
            urgi_decoder_dest_iov(s->dec, e->in, e->in_iovcnt);
        else
            *dest = e->in;
    }
    return URG_DECODE_CONTINUE;
}

/* A reply that passed urgi_on_header: its status, its length (IN: the data
 * received; OUT: what the host wrote) and what else the request learns. */
static void on_reply(urg_session *s, const struct urgi_type *t, const struct urg_packet *p)
{
    struct urg_completion x;
    uint32_t i = s->reply_at, len = 0;
    bool in;
    /* The entry urgi_on_header found, unless the application let go of it
     * while the payload was read (urg_session_forget between two recvs). */
    if (i == URGI_NIL || i >= s->pt.hw || !(s->pt.e[i].flags & URGI_P_USED) ||
        s->pt.e[i].id != p->id)
        i = urgi_pt_find(&s->pt, p->id);
    if (i == URGI_NIL) {
        s->late_replies++;
        return;
    }
    in = s->pt.e[i].flags & URGI_P_IN;
    if (t->data == URGI_DATA_ENDPOINT)
        len = in ? p->data_len : urgi_packet_length(t, p);
    memset(&x, 0, sizeof(x));
    switch (p->type) {
    case URG_BULK_PACKET: /* the request's (the reply's unless tolerated) */
        x.u.bulk.stream_id = s->pt.e[i].aux32;
        break;
    case URG_CONFIGURATION_STATUS:
        x.u.config.configuration = p->h.configuration_status.configuration;
        break;
    case URG_ALT_SETTING_STATUS:
        x.u.alt.interface = s->pt.e[i].aux8; /* as for bulk */
        x.u.alt.alt = p->h.alt_setting_status.alt;
        break;
    case URG_BULK_STREAMS_STATUS:
        x.u.streams.endpoints = p->h.bulk_streams_status.endpoints;
        x.u.streams.no_streams = p->h.bulk_streams_status.no_streams;
        break;
    default:
        break;
    }
    urgi_complete(s, i, urgi_packet_status(t, p), len,
                  in && t->data == URGI_DATA_ENDPOINT ? p->data : NULL, &x);
}

/* A stream's status: the answer to its start or stop request (by id, for
 * the same endpoint), or else unasked. */
static void stream_status(urg_session *s, const struct urgi_type *t, const struct urg_packet *p)
{
    uint32_t i = urgi_pt_find(&s->pt, p->id), stream_id = urgi_packet_stream_id(t, p);
    uint8_t ep = (uint8_t)urgi_packet_endpoint(t, p), status = urgi_packet_status(t, p);
    int kind = urgi_type_stream(t);
    struct urg_stream_status st;
    if (i != URGI_NIL && answers(s->pt.e[i].type, t) && s->pt.e[i].endpoint == ep) {
        struct urg_completion x;
        memset(&x, 0, sizeof(x));
        x.u.bulk.stream_id = stream_id;
        urgi_stream_answered(s, &s->pt.e[i], kind, status);
        urgi_complete(s, i, status, 0, NULL, &x);
        return;
    }
    /* Unsolicited: the host stopped the stream (or reports an error). */
    s->unsolicited++;
    if (status != URG_STATUS_SUCCESS)
        urgi_stream_stopped(s, kind, ep);
    if (s->cb.stream_status) {
        memset(&st, 0, sizeof(st));
        st.type = p->type;
        st.id = p->id;
        st.endpoint = ep;
        st.status = status;
        st.stream_id = stream_id;
        s->cb.stream_status(s->ud, &st);
    }
}

static void stream_data(urg_session *s, const struct urgi_type *t, const struct urg_packet *p)
{
    struct urg_stream_data d;
    if (!s->cb.stream_data)
        return;
    d.type = p->type;
    d.id = p->id;
    d.endpoint = (uint8_t)urgi_packet_endpoint(t, p);
    d.status = urgi_packet_status(t, p);
    d.stream_id = urgi_packet_stream_id(t, p);
    d.data = p->data;
    d.length = p->data_len;
    s->cb.stream_data(s->ud, &d);
}

static void on_hello(urg_session *s, const struct urg_packet *p)
{
    char version[4 * sizeof(s->peer_version)];
    s->peer_caps = urg_decoder_peer_caps(s->dec);
    s->wire = urg_decoder_wire(s->dec);
    urgi_frame_table_init(&s->out_frames, &s->wire, URG_DIR_TO_HOST);
    s->pt.id_mask = s->wire.id64 ? UINT64_MAX : UINT32_MAX;
    memcpy(s->peer_version, p->h.hello.version, sizeof(s->peer_version));
    s->state = URG_STATE_READY;
    urg_escape(s->peer_version, strlen(s->peer_version), NULL, version, sizeof(version));
    urgi_log(s, URG_LOG_INFO, "host \"%s\", caps 0x%02x, negotiated 0x%02x, %d-bit ids", version,
             s->peer_caps, s->wire.caps, s->wire.id64 ? 64 : 32);
    if (s->filter_str) {
        if (urgi_has(s->wire.caps, URG_CAP_FILTER)) {
            struct urg_packet f;
            memset(&f, 0, sizeof(f));
            f.type = URG_FILTER_FILTER;
            f.data = (const uint8_t *)s->filter_str;
            f.data_len = (uint32_t)strlen(s->filter_str) + 1;
            if (urgi_send(s, &f, URGI_BOUND_ANSWER))
                urgi_log(s, URG_LOG_ERROR, "filter_filter: could not queue the filter");
        } else {
            urgi_log(s, URG_LOG_WARNING, "the host lacks the filter cap; filter not sent");
        }
    }
    if (s->cb.hello)
        s->cb.hello(s->ud, s->peer_version, s->peer_caps);
}

/* The device ends for the guest: requests complete, streams stop. */
static void end_device(urg_session *s)
{
    s->state = URG_STATE_READY;
    urgi_complete_all(s);
    urgi_streams_clear(s);
}

/* Queues an answer the host's packet asks for; a host that keeps asking
 * while reading nothing is refused (URG_ERR_PROTO_FLOOD). */
static int answer(urg_session *s, uint32_t type, const char *why)
{
    struct urg_packet a;
    int r;
    memset(&a, 0, sizeof(a));
    a.type = type;
    r = urgi_send(s, &a, URGI_BOUND_ANSWER);
    if (r == URG_ERR_PROTO_FLOOD)
        return refuse(s, r,
                      "%s: %zu bytes of answers wait and the host reads none; not queueing "
                      "%s",
                      why, s->answers_unread, urg_type_name(type));
    if (r)
        return refuse(s, r, "%s: cannot queue %s: %s", why, urg_type_name(type),
                      urg_strerror(r));
    return 0;
}

static int reject_device(urg_session *s, int reason, const char *why)
{
    bool was_connected = s->state == URG_STATE_CONNECTED;
    int r = 0;
    if (was_connected)
        end_device(s);
    urgi_log(s, URG_LOG_INFO, "device %04x:%04x rejected by the filter: %s", s->dev.vendor_id,
             s->dev.product_id, urg_strerror(reason));
    if (urgi_has(s->wire.caps, URG_CAP_FILTER))
        r = answer(s, URG_FILTER_REJECT, why);
    else
        urgi_warn_once(s, URGI_WARN_NO_FILTER_CAP,
                       "the host lacks the filter cap; cannot send filter_reject");
    if (s->cb.device_rejected)
        s->cb.device_rejected(s->ud, &s->dev, reason);
    return r;
}

static int on_device_connect(urg_session *s, const struct urg_packet *p)
{
    const struct urg_device_connect *c = &p->h.device_connect;
    int r;
    if (s->state == URG_STATE_CONNECTED)
        return refuse(s, URG_ERR_PROTO_STATE,
                      "device_connect: device %04x:%04x while %04x:%04x is still connected",
                      c->vendor_id, c->product_id, s->dev.vendor_id, s->dev.product_id);
    if (!s->have_ifinfo || !s->have_epinfo)
        urgi_warn_once(s, URGI_WARN_NO_INFO, "device_connect: before %s%s%s",
                 s->have_ifinfo ? "" : "interface_info",
                 (!s->have_ifinfo && !s->have_epinfo) ? " and " : "",
                 s->have_epinfo ? "" : "ep_info");
    s->dev.speed = c->speed;
    s->dev.device_class = c->device_class;
    s->dev.device_subclass = c->device_subclass;
    s->dev.device_protocol = c->device_protocol;
    s->dev.vendor_id = c->vendor_id;
    s->dev.product_id = c->product_id;
    s->dev.device_version_bcd = c->device_version_bcd;
    s->dev.has_device_version = urgi_has(s->wire.caps, URG_CAP_CONNECT_DEVICE_VERSION);
    s->announced = true;
    if (s->filter && (r = urg_filter_check(s->filter, s->filter_count, &s->dev, s->filter_flags)))
        return reject_device(s, r, "device_connect");
    s->state = URG_STATE_CONNECTED;
    urgi_log(s, URG_LOG_INFO, "device %04x:%04x connected, %s speed", c->vendor_id,
             c->product_id, urg_speed_name(c->speed));
    if (s->cb.device_connect)
        s->cb.device_connect(s->ud, &s->dev);
    return 0;
}

static int on_device_disconnect(urg_session *s)
{
    bool was_connected = s->state == URG_STATE_CONNECTED;
    /* Acknowledged once per device announced (connected or refused): a
     * repeat has no device behind it and the host waits for one ack only. */
    bool ack = s->announced && urgi_has(s->wire.caps, URG_CAP_DEVICE_DISCONNECT_ACK);
    int r = 0;
    if (!s->announced) {
        s->unacked_disconnects++;
        urgi_log(s, URG_LOG_DEBUG, "device_disconnect with no device: not acknowledged");
        return 0;
    }
    if (was_connected)
        end_device(s);
    urgi_device_gone(s);
    if (ack)
        r = answer(s, URG_DEVICE_DISCONNECT_ACK, "device_disconnect");
    urgi_log(s, URG_LOG_INFO, "device disconnected");
    if (was_connected && s->cb.device_disconnect)
        s->cb.device_disconnect(s->ud);
    return r;
}

static int on_interface_info(urg_session *s, const struct urg_packet *p)
{
    const struct urg_interface_info *in = &p->h.interface_info;
    int r;
    s->dev.interface_count = in->interface_count;
    memcpy(s->dev.interface, in->interface, 32);
    memcpy(s->dev.interface_class, in->interface_class, 32);
    memcpy(s->dev.interface_subclass, in->interface_subclass, 32);
    memcpy(s->dev.interface_protocol, in->interface_protocol, 32);
    s->have_ifinfo = true;
    if (s->state != URG_STATE_CONNECTED)
        return 0;
    /* New interfaces (a new configuration or alt setting) are checked
     * against the filter again before anyone hears of them. */
    if (s->filter && (r = urg_filter_check(s->filter, s->filter_count, &s->dev, s->filter_flags)))
        return reject_device(s, r, "interface_info");
    if (s->cb.device_info)
        s->cb.device_info(s->ud, &s->dev, URG_INFO_INTERFACES);
    return 0;
}

static void on_ep_info(urg_session *s, const struct urg_packet *p)
{
    const struct urg_ep_info *in = &p->h.ep_info;
    int i;
    for (i = 0; i < 32; i++) {
        s->dev.ep[i].type = in->type[i];
        s->dev.ep[i].interval = in->interval[i];
        s->dev.ep[i].interface = in->interface[i];
        s->dev.ep[i].max_packet_size = in->max_packet_size[i];
        s->dev.ep[i].max_streams = in->max_streams[i];
    }
    s->have_epinfo = true;
    if (s->state == URG_STATE_CONNECTED && s->cb.device_info)
        s->cb.device_info(s->ud, &s->dev, URG_INFO_ENDPOINTS);
}

static int on_filter(urg_session *s, const struct urg_packet *p)
{
    struct urg_filter_rule *rules;
    size_t count;
    int r = urgi_filter_parse_alloc(&s->alloc, (const char *)p->data, URG_FILTER_TOKEN_SEP,
                                     URG_FILTER_RULE_SEP, &rules,
                                    &count);
    if (r == URG_ERR_NOMEM)
        return refuse(s, URG_ERR_NOMEM, "filter_filter: no memory for %zu rules", count);
    if (r)
        return refuse(s, URG_ERR_PROTO_FILTER, "filter_filter: malformed rule string");
    if (s->cb.peer_filter)
        s->cb.peer_filter(s->ud, rules, count);
    urgi_free(&s->alloc, rules);
    return 0;
}

int urgi_on_packet(void *ctx, const struct urg_packet *p)
{
    urg_session *s = ctx;
    int r = 0;

    if (s->state == URG_STATE_FAILED || s->guard.free_pending)
        return URG_DECODE_STOP;
    /* Routed once, by urgi_on_header (every packet but the hello passes
     * there first). */
    if (p->type != URG_HELLO && s->route != URGI_ROUTE_OWN) {
        const struct urgi_type *t = s->dec->row;
        if (s->route == URGI_ROUTE_REPLY)
            on_reply(s, t, p);
        else if (s->route == URGI_ROUTE_STATUS)
            stream_status(s, t, p);
        else
            stream_data(s, t, p);
        return (s->state == URG_STATE_FAILED || s->guard.free_pending) ? URG_DECODE_STOP
                                                                   : URG_DECODE_CONTINUE;
    }
    switch (p->type) {
    case URG_HELLO:
        on_hello(s, p);
        break;
    case URG_DEVICE_CONNECT:
        r = on_device_connect(s, p);
        break;
    case URG_DEVICE_DISCONNECT:
        r = on_device_disconnect(s);
        break;
    case URG_INTERFACE_INFO:
        r = on_interface_info(s, p);
        break;
    case URG_EP_INFO:
        on_ep_info(s, p);
        break;
    case URG_FILTER_FILTER:
        r = on_filter(s, p);
        break;
    default: /* requests only travel to the host: the decoder refused them */
        break;
    }
    if (r < 0)
        return r;
    return (s->state == URG_STATE_FAILED || s->guard.free_pending) ? URG_DECODE_STOP
                                                               : URG_DECODE_CONTINUE;
}

/* Under policy skip, a rejected reply to a pending request completes that
 * request with an I/O error rather than leaving it waiting. */
static void complete_rejected_reply(urg_session *s)
{
    const struct urg_packet *p = &s->dec->pkt;
    const struct urgi_type *t = urgi_type(p->type); /* NULL: an unknown type */
    struct urgi_pending *e;
    uint32_t i;
    if (!t)
        return;
    if (!s->dec->th_done) {
        /* Only the header is known: no endpoint to tell an interrupt
         * OUT reply from interrupt IN data, or a stream status apart. */
        if (t->reply == URGI_REPLY_IF_OUT || t->reply == URGI_STATUS)
            return;
    } else if (!is_reply(t, p)) {
        return;
    }
    i = urgi_pt_find(&s->pt, p->id);
    if (i == URGI_NIL)
        return;
    e = &s->pt.e[i];
    if (!answers(e->type, t))
        return;
    if (s->dec->th_done && t->reply == URGI_REPLY_IF_OUT && urgi_packet_endpoint(t, p) != e->endpoint)
        return;
    urgi_complete(s, i, URG_STATUS_IOERROR, 0, NULL, NULL);
}

void urgi_on_tolerated(void *ctx, const struct urg_packet *p, const char *msg)
{
    urg_session *s = ctx;
    if (p->type == URG_EP_INFO)
        urgi_warn_once(s, URGI_WARN_TOLERATED_EP_TYPE,
                       "%s; taken as sent, the device is the VMM's to refuse (policy tolerate)",
                       msg);
    else if (p->type == URG_HELLO)
        urgi_warn_once(s, URGI_WARN_TOLERATED_HELLO,
                       "%s; its whole words taken (policy tolerate)", msg);
    else if (p->type == URG_FILTER_FILTER)
        urgi_warn_once(s, URGI_WARN_TOLERATED_FILTER,
                       "%s; read to its first NUL (policy tolerate)", msg);
    else
        urgi_warn_once(s, URGI_WARN_TOLERATED_CONTROL,
                       "%s; the endpoint's direction is taken (policy tolerate)", msg);
}

void urgi_on_error(void *ctx, int err, const char *msg, int fatal)
{
    urg_session *s = ctx;
    /* One channel per error: the application's error callback, or else
     * the log. */
    if (s->cb.error)
        s->cb.error(s->ud, err, msg, fatal);
    else
        urgi_log(s, fatal ? URG_LOG_ERROR : URG_LOG_WARNING, "%s", msg);
    if (fatal)
        urgi_session_end(s, err, msg);
    else if (s->state != URG_STATE_FAILED && !s->guard.free_pending)
        complete_rejected_reply(s);
}

/* ---- whole frames: the decoder's whole hook ---- */

/* Has a callback ended the session or asked for its free? Then stop
 * feeding, as urgi_on_packet's URG_DECODE_STOP does. */
static inline bool stopped(const urg_session *s)
{
    return s->state == URG_STATE_FAILED || s->guard.free_pending;
}

static inline void count_rx(urg_decoder *d, int idx, uint32_t bytes)
{
    d->stats.rx_packets[idx]++;
    d->stats.rx_bytes[idx] += bytes;
}

/*
 * The replies to control, bulk and interrupt OUT requests and interrupt IN
 * stream data, each whole in the buffer, in one step: the frame read
 * straight from the wire bytes (type_fields.h's readers, made from the
 * field lists the codec is made from), checked, its request found once, completed
 * (or its data delivered). Exactly the generic path's result for a frame
 * that passes every rule: urgi_frame_ok(), the row's field rules and
 * urgi_check_headers() for these types, urgi_on_header()'s reply checks
 * (or urgi_stream_check_data()), then on_reply() (or stream_data()). A
 * frame that fails any of them, is of another type, or is a late reply or
 * data for no stream, is left to the generic path, which applies the same
 * rules again and reports the error, its code and message; nothing is
 * counted or changed for it here.
 */
int urgi_on_whole(void *ctx, const uint8_t *buf, size_t len, size_t *used)
{
    urg_session *s = ctx;
    urg_decoder *d = s->dec;
    const uint8_t *b = buf, *end = buf + len;
    const uint32_t hl = (uint32_t)d->hlen;
    /* What the loop reads for every frame, fixed while the wire is (only
     * a hello changes it, and it never comes this way). */
    const uint32_t max = d->max_packet_size;
    const bool id64 = hl == 16;
    const uint32_t th_control = (uint32_t)d->ft.th[URGI_INDEX(URG_CONTROL_PACKET)],
                   th_bulk = (uint32_t)d->ft.th[URGI_INDEX(URG_BULK_PACKET)],
                   th_interrupt = (uint32_t)d->ft.th[URGI_INDEX(URG_INTERRUPT_PACKET)];
    int r = 0;

    if (!d->have_hello || stopped(s))
        goto out;
    while ((size_t)(end - b) >= hl) {
        uint32_t type = urgi_get32(b), length = urgi_get32(b + 4), th, dl, flen, sid = 0, i;
        const uint8_t *t = b + hl;
        uint32_t *slot;
        struct urgi_pending *e;
        struct urg_completion c;
        uint64_t id;
        uint8_t ep, status;
        int idx;

        if (length > (size_t)(end - t) || length > max)
            break;
        id = id64 ? urgi_get64(b + 8) : urgi_get32(b + 8);
        /* Only these three types, their type header whole (a th of -1,
         * a type that never comes this way, is over any length). */
        if (type == URG_CONTROL_PACKET) {
            idx = URGI_INDEX(URG_CONTROL_PACKET);
            th = th_control;
        } else if (type == URG_BULK_PACKET) {
            idx = URGI_INDEX(URG_BULK_PACKET);
            th = th_bulk;
        } else if (type == URG_INTERRUPT_PACKET) {
            idx = URGI_INDEX(URG_INTERRUPT_PACKET);
            th = th_interrupt;
        } else {
            goto out;
        }
        if (length < th)
            goto out;
        switch (type) {
        case URG_CONTROL_PACKET:
            ep = (uint8_t)urgi_wire_control_endpoint(t);
            status = (uint8_t)urgi_wire_control_status(t);
            flen = urgi_wire_control_length(t);
            /* endpoint and requesttype disagree */
            if ((ep ^ urgi_wire_control_requesttype(t)) & 0x80)
                goto out;
            break;
        case URG_BULK_PACKET:
            ep = (uint8_t)urgi_wire_bulk_endpoint(t);
            status = (uint8_t)urgi_wire_bulk_status(t);
            flen = urgi_wire_bulk_length(t);
            sid = urgi_wire_bulk_stream_id(t);
            if (urgi_has(d->wire.caps, URG_CAP_32BITS_BULK_LENGTH))
                flen |= (uint32_t)urgi_get16(t + URGI_BULK_LENGTH_HIGH_AT) << 16;
            if (flen > URG_MAX_BULK_LENGTH)
                goto out;
            break;
        default: /* URG_INTERRUPT_PACKET */
            ep = (uint8_t)urgi_wire_interrupt_endpoint(t);
            status = (uint8_t)urgi_wire_interrupt_status(t);
            flen = urgi_wire_interrupt_length(t);
            dl = length - th;
            if (ep & 0x80) {
                /* Stream data, taken for a running or starting stream and
                 * up to what it asked for. */
                if (dl != flen || !urgi_stream_on(s, URGI_STREAM_INT, ep) ||
                    dl > urgi_stream_limit(s, URGI_STREAM_INT, ep))
                    goto out;
                count_rx(d, idx, hl + length);
                b = t + length;
                if (s->cb.stream_data) {
                    struct urg_stream_data sd;
                    sd.type = type;
                    sd.id = id;
                    sd.endpoint = ep;
                    sd.status = status;
                    sd.stream_id = 0;
                    sd.data = dl ? t + th : NULL;
                    sd.length = dl;
                    s->cb.stream_data(s->ud, &sd);
                    if (stopped(s)) {
                        r = 1;
                        goto out;
                    }
                }
                continue;
            }
            break;
        }
        /* Data only the way its endpoint's data goes, as long as its
         * length field. */
        dl = length - th;
        if ((ep & 0x80) ? dl != flen : dl != 0)
            goto out;
        /* The reply to the pending request with its id: of its type, for
         * its endpoint (and stream), no longer than asked. */
        slot = urgi_pt_slot(&s->pt, id);
        if (!*slot)
            goto out;
        i = *slot - 1;
        e = &s->pt.e[i];
        /* The length the reply reports (on_reply()): IN, the data, which
         * is as long as flen (above); OUT, flen. A data request's entry is
         * IN exactly when its endpoint is (requests.c), so with the
         * endpoint equal, data comes only for an IN request. */
        if (e->id != id || e->type != type || e->endpoint != ep || flen > e->length ||
            sid != e->aux32)
            goto out;
        count_rx(d, idx, hl + length);
        b = t + length;
        memset(&c.u, 0, sizeof(c.u));
        c.u.bulk.stream_id = sid;
        c.status = status;
        c.length = flen;
        c.data = dl ? t + th : NULL;
        if (URGI_UNLIKELY(e->flags & URGI_P_OUT_QUEUED)) {
            urgi_complete_entry(s, i, &c);
        } else {
            /* urgi_complete_entry() without what cannot apply: no OUT
             * payload waits in the output queue, no payload is being
             * read into its destination (the decoder is at a frame boundary), and
             * a data request starts no stream. */
            c.id = e->id;
            c.user_data = e->user_data;
            c.type = type;
            c.endpoint = ep;
            c.cancel_requested = (e->flags & URGI_P_CANCEL_SENT) ? 1 : 0;
            urgi_pt_remove_at(&s->pt, i, slot);
            s->completions++;
            s->cb.complete(s->ud, &c);
        }
        if (stopped(s)) {
            r = 1;
            goto out;
        }
    }
out:
    *used = (size_t)(b - buf);
    return r;
}

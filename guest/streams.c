/*
 * streams.c - the streams the session tracks per endpoint (interrupt
 * receiving, iso streams, buffered bulk receiving): which run, how many
 * starts are pending, and what their data may hold. The one owner of
 * s->active, s->starting and s->bulk_recv_bytes; requests.c, dispatch.c
 * and session.c tell it what happened.
 *
 * A stream of a kind runs on an endpoint from a successful start's status
 * to a stop's status or an unsolicited error status. A start that fails
 * leaves a stream that runs running (the host refuses a second start and
 * keeps the first). Data is taken for a stream that runs or is starting,
 * up to what the guest asked for; data for any other is skipped unread.
 */
#include "session.h"

#include <stdio.h>

int urgi_stream_start_kind(uint32_t type)
{
    const struct urgi_type *t = urgi_type(type);
    return t && t->starts ? urgi_type_stream(t) : -1;
}

void urgi_stream_request_sent(urg_session *s, const struct urg_packet *p, struct urgi_pending *e)
{
    int kind = urgi_stream_start_kind(p->type);
    if (kind < 0)
        return;
    if (kind == URGI_STREAM_BULKRECV) {
        /* Data of a stream still running (or starting) may come until this
         * start is answered: the larger bound holds until then. */
        uint32_t bytes = p->h.start_bulk_receiving.bytes_per_transfer;
        uint32_t *most = &s->bulk_recv_bytes[urg_ep_index(e->endpoint)];
        if (!urgi_stream_on(s, kind, e->endpoint) || bytes > *most)
            *most = bytes;
        e->length = bytes; /* the stream's own bound once it runs */
    }
    s->starting[kind][urg_ep_index(e->endpoint)]++;
}

void urgi_stream_request_gone(urg_session *s, const struct urgi_pending *e)
{
    int kind = urgi_stream_start_kind(e->type);
    if (kind >= 0 && s->starting[kind][urg_ep_index(e->endpoint)])
        s->starting[kind][urg_ep_index(e->endpoint)]--;
}

void urgi_stream_answered(urg_session *s, const struct urgi_pending *e, int kind, uint8_t status)
{
    int idx = urg_ep_index(e->endpoint);
    if (urgi_stream_start_kind(e->type) < 0) { /* a stop */
        s->active[kind] &= ~(1u << idx);
    } else if (status == URG_STATUS_SUCCESS) {
        s->active[kind] |= 1u << idx;
        /* Running now: its own bytes_per_transfer bounds its data, unless
         * another start is still pending (this one counts till it ends). */
        if (kind == URGI_STREAM_BULKRECV && s->starting[kind][idx] == 1)
            s->bulk_recv_bytes[idx] = e->length;
    }
}

void urgi_stream_stopped(urg_session *s, int kind, uint8_t ep)
{
    s->active[kind] &= ~(1u << urg_ep_index(ep));
}

void urgi_streams_clear(urg_session *s)
{
    memset(s->active, 0, sizeof(s->active));
    memset(s->starting, 0, sizeof(s->starting));
}

int urgi_stream_check_data(urg_session *s, const struct urgi_type *t, const struct urg_packet *p)
{
    uint32_t limit;
    uint8_t ep;
    int kind;
    size_t cap;
    char *msg;
    if (t->data != URGI_DATA_ENDPOINT || (kind = urgi_type_stream(t)) < 0)
        return URG_DECODE_CONTINUE;
    ep = (uint8_t)urgi_packet_endpoint(t, p);
    if (!urgi_stream_on(s, kind, ep)) {
        s->stream_discarded++;
        return URG_DECODE_DISCARD;
    }
    limit = urgi_stream_limit(s, kind, ep);
    if (p->data_len <= limit)
        return URG_DECODE_CONTINUE;
    msg = urgi_decoder_msg(s->dec, &cap); /* sets cap: not in the same call */
    snprintf(msg, cap,
             "%s: %u bytes on endpoint 0x%02x, longer than the %u its stream's transfers hold",
             urg_type_name(p->type), p->data_len, ep, limit);
    return URG_ERR_PROTO_STREAM_LENGTH;
}

URG_API int urg_session_stream_active(const urg_session *s, uint32_t start_type, uint8_t endpoint)
{
    int kind = urgi_stream_start_kind(start_type);
    return kind < 0 ? 0 : (s->active[kind] >> urg_ep_index(endpoint)) & 1u;
}

/*
 * bulk.c - bulk endpoints.
 *
 * Ordinary bulk: each URB is one request; several may be out on one
 * endpoint (pipelining). Over 65535 bytes needs 32bits_bulk_length, else the
 * URB is refused with URG_ERR_TOO_LONG.
 *
 * Buffered bulk receiving (bulk IN, opt-in per endpoint, on by default for
 * the bulk IN of a USB serial adapter's port: serial.c): the host keeps
 * no_transfers transfers of bytes_per_transfer running and sends what they
 * read as buffered bulk packets; those fill the endpoint's queue and URBs
 * take from it (stream.c; FTDI's packets whole). A URB whose size is 0 or
 * not a multiple of max packet turns buffered receiving off for the
 * endpoint and goes as ordinary bulk (as QEMU does).
 */
#include "hcd.h"

URG_API int urg_hcd_ep_set_buffered(urg_hcd_dev *d, uint8_t endpoint, int enable)
{
    struct endpoint *e;
    if (!d || !(endpoint & 0x80))
        return URG_ERR_INVALID;
    e = endpoint_of(d, endpoint);
    if (e->info.type != URG_EP_BULK)
        return URG_ERR_HCD_ENDPOINT;
    if (!enable && e->buffered)
        stream_stop(d, e);
    e->buffered = enable != 0;
    return 0;
}

int bulk_submit(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u, struct urb_verdict *v)
{
    uint32_t mps = e->info.max_packet_size;
    uint64_t id = 0;
    int r, status;
    if ((u->endpoint & 0x80) && e->buffered && has_cap(d, URG_CAP_BULK_RECEIVING) &&
        !u->stream_id) {
        if (u->length && mps && u->length % mps == 0) {
            if ((r = stream_prepare(d, e)) != 0)
                return r < 0 ? r : verdict_done(v, r, 0);
            if (!e->head && pktq_head(&e->q) && stream_fill_bulk(d, e, u, &status))
                return verdict_done(v, status, u->actual_length);
            return verdict_wait(v);
        }
        /* An odd size: buffered receiving ends for this endpoint. URBs
         * still waiting for buffered data end (cancelled) in their turn. */
        hcd_log(d, URG_LOG_WARNING,
                "bulk IN of %u bytes on 0x%02x is not a multiple of %u: buffered receiving off",
                u->length, u->endpoint, mps);
        e->buffered = false;
        stream_stop(d, e);
        v->end_waiting = true;
    }
    if (u->length > 0xffff && !has_cap(d, URG_CAP_32BITS_BULK_LENGTH))
        return URG_ERR_TOO_LONG;
    if (u->iovcnt)
        r = urg_session_bulk_iov(d->s, u->endpoint, u->stream_id, u->length, u->iov, u->iovcnt,
                                 urb_request(u), &id);
    else
        r = urg_session_bulk(d->s, u->endpoint, u->stream_id, u->length, u->buffer,
                             urb_request(u), &id);
    return verdict_sent(v, r, id, SERVED_BY_ENGINE, STD_NONE);
}

/* An alloc_bulk_streams or free_bulk_streams request: the VMM's op. */
struct streams_request {
    struct hcd_request request; /* REQUEST_STREAMS */
    void *op;
};

/* Sends alloc_bulk_streams (alloc) or free_bulk_streams for op. */
static int streams_request(urg_hcd_dev *d, bool alloc, uint32_t endpoints, uint32_t no_streams,
                           void *op)
{
    struct streams_request *q;
    int r;
    if (!d)
        return URG_ERR_INVALID;
    if (d->state != D_ATTACHED || !d->s)
        return URG_ERR_NO_DEVICE;
    if (!(q = d->alloc.malloc(d->alloc.ctx, sizeof(*q))))
        return URG_ERR_NOMEM;
    q->request.kind = REQUEST_STREAMS;
    q->op = op;
    r = alloc ? urg_session_alloc_bulk_streams(d->s, endpoints, no_streams, &q->request, NULL)
              : urg_session_free_bulk_streams(d->s, endpoints, &q->request, NULL);
    if (r < 0)
        d->alloc.free(d->alloc.ctx, q);
    return r;
}

URG_API int urg_hcd_alloc_streams(urg_hcd_dev *d, uint32_t endpoints, uint32_t no_streams,
                                  void *op)
{
    return streams_request(d, true, endpoints, no_streams, op);
}

URG_API int urg_hcd_free_streams(urg_hcd_dev *d, uint32_t endpoints, void *op)
{
    return streams_request(d, false, endpoints, 0, op);
}

void bulk_streams_done(urg_hcd_dev *d, const struct urg_completion *c)
{
    struct streams_request *q = c->user_data;
    if (d->cfg.callbacks.streams_done)
        d->cfg.callbacks.streams_done(d->cfg.user_data, d, q->op, urb_status_from_wire(c->status),
                                      c->u.streams.no_streams);
    d->alloc.free(d->alloc.ctx, q);
}

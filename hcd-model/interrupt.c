/*
 * interrupt.c - interrupt endpoints (their stream, shared with buffered bulk
 * and iso, is in stream.c).
 *
 * Interrupt IN: the first URB starts interrupt receiving; the host's
 * packets fill the endpoint's bounded queue (pktq.c); URBs take from it in
 * order, merging packets until a short packet, a full buffer, or an empty
 * queue. With nothing queued a URB waits, or (config interrupt_nak) ends at
 * once as URG_URB_NAK. A stall from the host is reported to the next URB,
 * and the URB after that starts receiving again.
 *
 * Interrupt OUT: an ordinary request completing on the host's reply, or
 * (config interrupt_out_immediate, as QEMU does) completed at once from a
 * copy of the data.
 */
#include "hcd.h"

/* An immediate interrupt OUT's copy of the data: the engine request's
 * record, the bytes behind it. */
struct out_copy {
    struct hcd_request request; /* REQUEST_OUT_COPY */
    uint8_t data[];
};

int interrupt_submit(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u,
                     struct urb_verdict *v)
{
    uint64_t id = 0;
    int r, status;
    if (u->endpoint & 0x80) {
        if ((r = stream_prepare(d, e)) != 0)
            return r < 0 ? r : verdict_done(v, r, 0);
        if (!e->head) {
            if (pktq_head(&e->q) && stream_fill_interrupt(d, e, u, &status))
                return verdict_done(v, status, u->actual_length);
            if (d->cfg.interrupt_nak)
                return verdict_done(v, URG_URB_NAK, 0);
        }
        return verdict_wait(v);
    }
    if (u->length > 0xffff)
        return URG_ERR_TOO_LONG;
    if (d->cfg.interrupt_out_immediate) {
        struct out_copy *copy = d->alloc.malloc(d->alloc.ctx, sizeof(*copy) + u->length);
        if (!copy)
            return URG_ERR_NOMEM;
        copy->request.kind = REQUEST_OUT_COPY;
        urb_data_read(u, 0, copy->data, u->length);
        r = urg_session_interrupt_out(d->s, u->endpoint, (uint16_t)u->length, copy->data,
                                      &copy->request, NULL);
        if (r < 0) {
            d->alloc.free(d->alloc.ctx, copy);
            return r;
        }
        return verdict_done(v, URG_URB_SUCCESS, u->length);
    }
    if (u->iovcnt)
        r = urg_session_interrupt_out_iov(d->s, u->endpoint, (uint16_t)u->length, u->iov,
                                          u->iovcnt, urb_request(u), &id);
    else
        r = urg_session_interrupt_out(d->s, u->endpoint, (uint16_t)u->length, u->buffer,
                                      urb_request(u), &id);
    return verdict_sent(v, r, id, SERVED_BY_ENGINE, STD_NONE);
}

void interrupt_out_copy_done(urg_hcd_dev *d, const struct urg_completion *c)
{
    if (c->status != URG_STATUS_SUCCESS && c->status != URG_STATUS_NODEV)
        hcd_log(d, URG_LOG_WARNING, "interrupt OUT on 0x%02x (already completed): %s",
                c->endpoint, urg_status_name(c->status));
    d->alloc.free(d->alloc.ctx, c->user_data); /* the out_copy: its record comes first */
}

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
#include <stdint.h>

#include "hcd.h"

/* Engine user_data of an immediate interrupt OUT: a tagged bounce buffer
 * (malloc alignment leaves bit 0 free), never a URB. */
static void *tag(void *p) { return (void *)((uintptr_t)p | 1u); }
static void *untag(void *p) { return (void *)((uintptr_t)p & ~(uintptr_t)1u); }
static bool tagged(const void *p) { return ((uintptr_t)p & 1u) != 0; }

/* Fills an interrupt IN URB from the queue; true when it is complete. */
bool interrupt_fill(urg_hcd_dev *d, struct hep *e, struct urg_urb *u, int *status)
{
    uint32_t mps = e->info.max_packet_size, taken = 0;
    struct pkt *pk;
    *status = URG_URB_SUCCESS;
    while ((pk = pktq_head(&e->q))) {
        uint32_t room = u->length - u->actual_length, n = pk->len - pk->off, len = pk->len;
        if (pk->status != URG_STATUS_SUCCESS) {
            if (u->actual_length)
                break; /* the error goes to the next URB */
            *status = urb_status_from_wire(pk->status);
            pktq_pop(&e->q, &d->alloc);
            return true;
        }
        if (n > room) {
            /* The device sent more than the URB can take. */
            memcpy(u->buffer + u->actual_length, pk->data + pk->off, room);
            u->actual_length += room;
            pktq_pop(&e->q, &d->alloc);
            *status = URG_URB_BABBLE;
            return true;
        }
        if (n)
            memcpy(u->buffer + u->actual_length, pk->data + pk->off, n);
        u->actual_length += n;
        taken++;
        pktq_pop(&e->q, &d->alloc);
        /* A short packet ends the transfer; without max_packet_size every
         * packet is a whole transfer. */
        if (mps == 0 || len < mps || u->actual_length == u->length)
            break;
    }
    if (!taken)
        return false; /* nothing was there */
    if (u->actual_length < u->length)
        *status = URG_URB_SHORT;
    return true;
}

int interrupt_submit(urg_hcd_dev *d, struct hep *e, struct urg_urb *u)
{
    uint64_t id = 0;
    int r, status;
    if (u->endpoint & 0x80) {
        if ((r = stream_prepare(d, e, u)) != 0)
            return r;
        if (!e->head) {
            if (pktq_head(&e->q) && interrupt_fill(d, e, u, &status))
                return urb_complete_now(d, e, u, status, u->actual_length);
            if (d->cfg.interrupt_nak)
                return urb_complete_now(d, e, u, URG_URB_NAK, 0);
        }
        urb_link(e, u, K_WAIT);
        return 0;
    }
    if (u->length > 0xffff)
        return URG_ERR_TOO_LONG;
    if (d->cfg.interrupt_out_immediate) {
        uint8_t *copy = d->alloc.malloc(d->alloc.ctx, u->length ? u->length : 1);
        if (!copy)
            return URG_ERR_NOMEM;
        if (u->length)
            memcpy(copy, u->buffer, u->length);
        r = urg_session_interrupt_out(d->s, u->endpoint, (uint16_t)u->length, copy, tag(copy),
                                      NULL);
        if (r < 0) {
            d->alloc.free(d->alloc.ctx, copy);
            return r;
        }
        return urb_complete_now(d, e, u, URG_URB_SUCCESS, u->length);
    }
    r = urg_session_interrupt_out(d->s, u->endpoint, (uint16_t)u->length, u->buffer, u, &id);
    if (r < 0)
        return r;
    urb_link(e, u, K_ENGINE);
    PRIV(u)->id = id;
    return 0;
}

bool interrupt_is_bounce(const void *user_data) { return tagged(user_data); }

void interrupt_out_bounce_done(urg_hcd_dev *d, const struct urg_completion *c)
{
    if (c->status != URG_STATUS_SUCCESS && c->status != URG_STATUS_NODEV)
        hcd_log(d, URG_LOG_WARNING, "interrupt OUT on 0x%02x (already completed): %s",
                c->endpoint, urg_status_name(c->status));
    d->alloc.free(d->alloc.ctx, untag(c->user_data));
}

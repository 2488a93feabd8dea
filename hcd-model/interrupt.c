/*
 * interrupt.c - interrupt endpoints, and the stream machinery shared with
 * buffered bulk receiving.
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

int stream_ensure(urg_hcd_dev *d, struct hep *e)
{
    uint64_t id = 0;
    int r;
    if (e->stream != ST_NONE)
        return 0;
    if (e->info.type == URG_EP_INTERRUPT) {
        r = urg_session_start_interrupt_receiving(d->s, e->addr, NULL, &id);
    } else if (e->info.type == URG_EP_BULK) {
        uint32_t mps = e->info.max_packet_size ? e->info.max_packet_size : 64;
        uint32_t bytes = (d->cfg.buffered_bulk_bytes + mps - 1) / mps * mps;
        r = urg_session_start_bulk_receiving(d->s, e->addr, 0, bytes,
                                             d->cfg.buffered_bulk_transfers, NULL, &id);
    } else {
        return URG_ERR_HCD_ENDPOINT;
    }
    if (r < 0)
        return r;
    e->stream = ST_STARTING;
    e->start_id = id;
    return 0;
}

/* Fills an interrupt IN URB from the queue; true when it is complete. */
static bool int_fill(urg_hcd_dev *d, struct hep *e, struct urg_urb *u, int *status)
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

static bool fill(urg_hcd_dev *d, struct hep *e, struct urg_urb *u, int *status)
{
    if (e->info.type == URG_EP_INTERRUPT)
        return int_fill(d, e, u, status);
    return bulk_fill(d, e, u, status);
}

void stream_serve(urg_hcd_dev *d, struct hep *e)
{
    struct urg_urb *u;
    while ((u = e->head) && PRIV(u)->kind == K_WAIT && PRIV(u)->state == U_QUEUED) {
        int status;
        if (e->error) {
            status = e->error;
            e->error = 0;
            urb_done(d, u, status, 0);
            /* The URBs behind it start the stream again. */
            u = e->head;
            if (u && PRIV(u)->kind == K_WAIT && PRIV(u)->state == U_QUEUED && d->s)
                stream_ensure(d, e);
            continue;
        }
        if (!pktq_head(&e->q))
            return;
        u->actual_length = 0;
        if (!fill(d, e, u, &status))
            return;
        urb_done(d, u, status, u->actual_length);
    }
}

int interrupt_submit(urg_hcd_dev *d, struct hep *e, struct urg_urb *u)
{
    uint64_t id = 0;
    int r, status;
    if (u->endpoint & 0x80) {
        if (!e->head && e->error) {
            status = e->error;
            e->error = 0;
            return urb_complete_now(d, e, u, status, 0);
        }
        if ((r = stream_ensure(d, e)) < 0)
            return r;
        if (!e->head) {
            if (pktq_head(&e->q) && int_fill(d, e, u, &status))
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

void interrupt_data(urg_hcd_dev *d, const struct urg_stream_data *sd)
{
    struct hep *e = hep_of(d, sd->endpoint);
    if (e->stream == ST_NONE || e->info.type != URG_EP_INTERRUPT)
        return; /* still in the pipe after a stop */
    if (pktq_push(&e->q, &d->alloc, sd->data, sd->length, sd->status)) {
        e->st.drops++;
        return;
    }
    e->st.packets++;
    e->st.bytes += sd->length;
    stream_serve(d, e);
}

void stream_started(urg_hcd_dev *d, const struct urg_completion *c)
{
    struct hep *e = hep_of(d, c->endpoint);
    if (e->stream != ST_STARTING || e->start_id != c->id)
        return; /* stopped or restarted meanwhile */
    e->start_id = 0;
    if (c->status == URG_STATUS_SUCCESS) {
        e->stream = ST_ACTIVE;
        return;
    }
    e->stream = ST_NONE;
    if (c->status == URG_STATUS_NODEV)
        return;
    hcd_log(d, URG_LOG_WARNING, "%s on 0x%02x: %s", urg_type_name(c->type), c->endpoint,
            urg_status_name(c->status));
    e->error = urb_status_from_wire(c->status);
    if (e->info.type == URG_EP_ISO)
        e->iso_error = e->error;
    stream_serve(d, e);
}

void stream_status(urg_hcd_dev *d, const struct urg_stream_status *st)
{
    struct hep *e = hep_of(d, st->endpoint);
    if (st->status == URG_STATUS_SUCCESS)
        return;
    if (st->type == URG_ISO_STREAM_STATUS && !(st->endpoint & 0x80)) {
        /* iso OUT trouble: reported by the next OUT URB */
        e->iso_error = urb_status_from_wire(st->status);
        if (st->status != URG_STATUS_STALL)
            return;
    }
    /* Only a running stream can be stopped: a stall for a stream being
     * (re)started belongs to the one before it. */
    if (e->stream != ST_ACTIVE)
        return;
    hcd_log(d, URG_LOG_INFO, "host stopped the stream on 0x%02x: %s", st->endpoint,
            urg_status_name(st->status));
    e->stream = ST_NONE;
    e->error = urb_status_from_wire(st->status);
    if (e->info.type == URG_EP_ISO)
        return; /* iso URBs never wait: the next one restarts the stream */
    stream_serve(d, e);
}

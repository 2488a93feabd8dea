/*
 * urb.c - URBs: allocation, the per-endpoint FIFO that keeps completions
 * in submission order, submit (dispatch by transfer type), cancel, endpoint
 * stop and reset, device reset, and the mapping of usbredir statuses.
 *
 * A URB completes exactly once: urg_hcd_submit() returning 1 (completed
 * there, no callback), or one urb_complete callback. A URB whose result
 * arrives while an earlier URB on its endpoint is still out waits for it
 * (URB_AWAITS_TURN in the FIFO); a cancelled URB completes at once.
 */

#include "hcd.h"

URG_API struct urg_urb *urg_urb_alloc_with(const struct urg_allocator *a, int num_iso_packets)
{
    struct urb_box *b;
    if (num_iso_packets < 0 || num_iso_packets > 4096)
        return NULL;
    a = urgi_allocator_or_default(a);
    b = urgi_calloc(a, sizeof(*b) + (size_t)num_iso_packets * sizeof(struct urg_iso_packet_desc));
    if (!b)
        return NULL;
    b->priv.alloc = a;
    b->pub.num_iso_packets = num_iso_packets;
    b->pub.iso = num_iso_packets ? (struct urg_iso_packet_desc *)(void *)(b + 1) : NULL;
    return &b->pub;
}

URG_API struct urg_urb *urg_urb_alloc(int num_iso_packets)
{
    return urg_urb_alloc_with(NULL, num_iso_packets);
}

URG_API void urg_urb_free(struct urg_urb *u)
{
    struct urb_priv *p;
    if (!u)
        return;
    p = urb_private(u);
    if (queue_holds(u))
        return;
    if (p->state != URB_IDLE) {
        /* Freeing a URB in flight would leave the model pointing at it. */
        if (p->dev)
            hcd_log(p->dev, URG_LOG_ERROR, "urg_urb_free: URB on endpoint 0x%02x is in flight",
                    u->endpoint);
        return;
    }
    urgi_free(p->alloc, (char *)u - offsetof(struct urb_box, pub));
}

URG_API const char *urg_urb_status_name(int status)
{
    static const char *const names[] = { "success", "short",  "stall", "babble", "cancelled",
                                         "ioerror", "nodev",  "nak",   "pending", "refused" };
    return (status >= 0 && status <= URG_URB_REFUSED) ? names[status] : "unknown";
}

int urb_status_from_wire(int wire)
{
    switch (wire) {
    case URG_STATUS_SUCCESS: return URG_URB_SUCCESS;
    case URG_STATUS_CANCELLED: return URG_URB_CANCELLED;
    case URG_STATUS_STALL: return URG_URB_STALL;
    case URG_STATUS_BABBLE: return URG_URB_BABBLE;
    case URG_STATUS_NODEV: return URG_URB_NODEV;
    default: return URG_URB_IOERROR; /* inval, ioerror, timeout, unknown */
    }
}

static struct endpoint *endpoint_of_urb(urg_hcd_dev *d, const struct urg_urb *u)
{
    return u->type == URG_EP_CONTROL ? &d->ep[u->endpoint & 0x0f] : endpoint_of(d, u->endpoint);
}

static void link_urb(struct endpoint *e, struct urg_urb *u, int served)
{
    struct urb_priv *p = urb_private(u);
    p->prev = e->tail;
    p->next = NULL;
    if (e->tail)
        urb_private(e->tail)->next = u;
    else
        e->head = u;
    e->tail = u;
    p->state = URB_AWAITS_RESULT;
    p->served = (uint8_t)served;
}

static void unlink_urb(struct endpoint *e, struct urg_urb *u)
{
    struct urb_priv *p = urb_private(u);
    if (p->prev)
        urb_private(p->prev)->next = p->next;
    else
        e->head = p->next;
    if (p->next)
        urb_private(p->next)->prev = p->prev;
    else
        e->tail = p->prev;
    p->prev = p->next = NULL;
}

/* The URB leaves the model: capture, count, back to idle. */
static void finalize(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u)
{
    struct urb_priv *p = urb_private(u);
    p->state = URB_IDLE;
    e->st.urbs++;
    if (d->pcap)
        usbmon_urb(d->pcap, 'C', d, e, u);
}

static void deliver(urg_hcd_dev *d, struct endpoint *e)
{
    struct urg_urb *u;
    if (e->delivering)
        return; /* the outer loop delivers */
    e->delivering = true;
    while ((u = e->head) && urb_private(u)->state == URB_AWAITS_TURN) {
        unlink_urb(e, u);
        finalize(d, e, u);
        urb_give_back(d, u);
    }
    e->delivering = false;
}

void urb_done(urg_hcd_dev *d, struct urg_urb *u, int status, uint32_t actual)
{
    struct urb_priv *p = urb_private(u);
    if (p->state != URB_AWAITS_RESULT)
        return;
    u->status = status;
    u->actual_length = actual;
    p->state = URB_AWAITS_TURN;
    deliver(d, endpoint_of_urb(d, u));
}

/* A URB's result is known at submit: completes it now (1) when no earlier
 * URB is queued on the endpoint, else queues it with its result (0). */
static int complete_now(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u, int status,
                        uint32_t actual)
{
    u->status = status;
    u->actual_length = actual;
    if (!e->head) {
        finalize(d, e, u);
        return 1;
    }
    /* An earlier URB is still out: this one waits its turn. */
    link_urb(e, u, SERVED_LOCALLY);
    urb_private(u)->state = URB_AWAITS_TURN;
    return 0;
}

/* A URB that still awaits its result ends early (cancel, flush): the
 * engine request serving it, if any, is forgotten. The engine owns a
 * request until it completes or is forgotten, and a forget always lets go
 * (urg_session_forget), so no completion ever comes for a URB after this:
 * the model keeps no copy of the engine's state (p->id is only the handle,
 * never cleared). */
static void forget_request(urg_hcd_dev *d, struct urb_priv *p)
{
    if ((p->served == SERVED_BY_ENGINE || p->served == SERVED_AS_STANDARD) && d->s)
        urg_session_forget(d->s, p->id);
}

void urb_flush(urg_hcd_dev *d, struct endpoint *e, int status)
{
    /* Every URB now in the FIFO is finished with status (one that had its
     * result keeps it) and delivered in order from the FIFO itself, so that
     * a callback may cancel one still waiting its turn; URBs submitted from
     * the callbacks queue behind them and belong to the endpoint's next
     * life. Nothing is delivered while the loop walks the FIFO: a forget
     * without memory fails the session from inside it, and the model's
     * flush of the device that follows must not hand back (to be freed) a
     * URB the walk still stands on; that flush marks the rest. */
    bool was_delivering = e->delivering;
    e->delivering = true;
    for (struct urg_urb *u = e->head; u; u = urb_private(u)->next) {
        struct urb_priv *p = urb_private(u);
        if (p->state != URB_AWAITS_RESULT)
            continue;
        u->status = status;
        p->state = URB_AWAITS_TURN;
        forget_request(d, p);
    }
    e->delivering = was_delivering;
    deliver(d, e);
}

void urb_take_data(struct urg_urb *u, const uint8_t *data, uint32_t len)
{
    /* (In the segments, the engine hands out no data.) */
    if (len && data && (u->iovcnt || data != u->buffer))
        urb_data_write(u, 0, data, len);
}

/* After a configuration or alternate-setting change (interface, or -1 for
 * all), URBs still waiting for stream data either get a stream on the new
 * endpoint or end. */
static void after_change(urg_hcd_dev *d, int interface)
{
    for (int i = 1; i < 32; i++) {
        struct endpoint *e = &d->ep[i];
        bool streamable;
        if (i == 16 || !e->head || urb_private(e->head)->served != SERVED_FROM_QUEUE)
            continue;
        if (interface >= 0 && e->info.interface != interface)
            continue;
        streamable = (e->addr & 0x80) && (e->info.type == URG_EP_INTERRUPT ||
                                          (e->info.type == URG_EP_BULK && e->buffered));
        if (streamable && d->state == D_ATTACHED && stream_ensure(d, e) == 0)
            continue;
        urb_flush(d, e, URG_URB_CANCELLED);
    }
}

static bool fill(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u, int *status)
{
    if (e->info.type == URG_EP_INTERRUPT)
        return stream_fill_interrupt(d, e, u, status);
    return stream_fill_bulk(d, e, u, status);
}

static bool waits_for_data(struct urg_urb *u)
{
    return u && urb_private(u)->served == SERVED_FROM_QUEUE &&
           urb_private(u)->state == URB_AWAITS_RESULT;
}

void urb_serve(urg_hcd_dev *d, struct endpoint *e)
{
    struct urg_urb *u;
    while ((u = e->head) && waits_for_data(u)) {
        int status;
        if (e->error) {
            status = e->error;
            e->error = 0;
            urb_done(d, u, status, 0);
            /* The URBs behind it start the stream again. */
            if (e->head && waits_for_data(e->head) && d->s)
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

void urb_engine_done(urg_hcd_dev *d, struct hcd_request *r, const struct urg_completion *c)
{
    struct urg_urb *u = request_urb(r);
    struct urb_priv *p = urb_private(u);
    uint32_t want, actual;
    int status, changed;
    bool in;
    if (p->state != URB_AWAITS_RESULT)
        return; /* cannot happen: see forget_request() */
    if (p->served == SERVED_AS_STANDARD) {
        control_standard_result(d, u, c, &status, &actual, &changed);
        if (changed != NO_CHANGE)
            after_change(d, changed);
        urb_done(d, u, status, actual);
        return;
    }
    status = urb_status_from_wire(c->status);
    in = (u->type == URG_EP_CONTROL) ? (u->setup[0] & 0x80) != 0 : (u->endpoint & 0x80) != 0;
    want = u->type == URG_EP_CONTROL ? (uint32_t)(u->setup[6] | u->setup[7] << 8) : u->length;
    if (in)
        urb_take_data(u, c->data, c->length);
    actual = c->length;
    if (p->standard != STD_NONE)
        actual = control_passed_result(d, u, status, actual);
    if (status == URG_URB_SUCCESS && in && actual < want)
        status = URG_URB_SHORT;
    urb_done(d, u, status, actual);
}

/* The URBs waiting for stream data on e end (cancelled), in their turn:
 * the stream they waited for was stopped for good (an odd-size bulk IN
 * turned buffered receiving off). */
static void end_waiting(struct endpoint *e)
{
    for (struct urg_urb *w = e->head; w; w = urb_private(w)->next) {
        struct urb_priv *wp = urb_private(w);
        if (wp->served == SERVED_FROM_QUEUE && wp->state == URB_AWAITS_RESULT) {
            w->status = URG_URB_CANCELLED;
            wp->state = URB_AWAITS_TURN;
        }
    }
}

/* What the transfer type's file decided, done: 1 if the URB completed
 * here (no callback will come), else 0. */
static int apply(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u,
                 const struct urb_verdict *v)
{
    struct urb_priv *p = urb_private(u);
    if (v->served == SERVED_LOCALLY)
        return complete_now(d, e, u, v->status, v->actual);
    link_urb(e, u, v->served);
    p->id = v->id;
    p->standard = v->standard;
    return 0;
}

URG_API int urg_hcd_submit(urg_hcd_dev *d, struct urg_urb *u)
{
    struct urb_verdict v;
    struct urb_priv *p;
    struct endpoint *e;
    int r, i;
    if (!d || !u || u->type > URG_EP_INTERRUPT || urb_data_check(u))
        return URG_ERR_INVALID;
    p = urb_private(u);
    if (p->state != URB_IDLE)
        return URG_ERR_HCD_BUSY;
    if (d->state != D_ATTACHED || !d->s)
        return URG_ERR_NO_DEVICE;
    e = endpoint_of_urb(d, u);
    if (e->info.type != u->type)
        return URG_ERR_HCD_ENDPOINT;
    if (u->type == URG_EP_ISO) {
        if (u->num_iso_packets < 1)
            return URG_ERR_INVALID;
        /* A packet lies within the buffer, and fits the protocol's 16-bit
         * iso length. */
        for (i = 0; i < u->num_iso_packets; i++)
            if ((uint64_t)u->iso[i].offset + u->iso[i].length > u->length ||
                u->iso[i].length > 0xffff)
                return URG_ERR_INVALID;
    }
    p->request.kind = REQUEST_URB;
    p->dev = d;
    p->standard = STD_NONE;
    p->id = 0;
    p->pcap_id = ++d->next_pcap_id;
    u->status = URG_URB_PENDING;
    u->actual_length = 0;
    if (d->pcap)
        usbmon_urb(d->pcap, 'S', d, e, u);
    memset(&v, 0, sizeof(v));
    switch (u->type) {
    case URG_EP_CONTROL: r = control_submit(d, e, u, &v); break;
    case URG_EP_BULK: r = bulk_submit(d, e, u, &v); break;
    case URG_EP_INTERRUPT: r = interrupt_submit(d, e, u, &v); break;
    default: r = iso_submit(d, e, u, &v); break;
    }
    if (v.end_waiting)
        end_waiting(e);
    if (r < 0) {
        p->state = URB_IDLE;
        /* Refused after it stopped the stream others waited for: with no
         * URB behind them to wait for, they complete now. */
        if (v.end_waiting)
            deliver(d, e);
        return r;
    }
    return apply(d, e, u, &v);
}

URG_API int urg_hcd_cancel(urg_hcd_dev *d, struct urg_urb *u)
{
    struct urb_priv *p;
    struct endpoint *e;
    if (!d || !u)
        return URG_ERR_INVALID;
    p = urb_private(u);
    if (p->state == URB_IDLE || p->dev != d)
        return URG_ERR_NOT_FOUND;
    e = endpoint_of_urb(d, u);
    if (p->state == URB_AWAITS_RESULT) {
        /* The engine lets go of the buffers now; the host's answer, if any,
         * is dropped. The result is set first: a forget without memory
         * fails the session, and the device's flush that follows then
         * delivers this URB (cancelled) with the rest. */
        u->status = URG_URB_CANCELLED;
        p->state = URB_AWAITS_TURN;
        forget_request(d, p);
        if (p->state == URB_IDLE)
            return 0;
    }
    unlink_urb(e, u);
    finalize(d, e, u);
    urb_give_back(d, u);
    /* A URB behind it may have been waiting for this one. */
    deliver(d, e);
    return 0;
}

URG_API int urg_hcd_ep_stop(urg_hcd_dev *d, uint8_t endpoint)
{
    if (!d)
        return URG_ERR_INVALID;
    stream_stop(d, endpoint_of(d, endpoint));
    urb_flush(d, endpoint_of(d, endpoint), URG_URB_CANCELLED);
    return 0;
}

URG_API int urg_hcd_ep_reset(urg_hcd_dev *d, uint8_t endpoint)
{
    struct endpoint *e = d ? endpoint_of(d, endpoint) : NULL;
    if (!e)
        return URG_ERR_INVALID;
    stream_stop(d, e);
    e->error = 0;
    e->iso_error = 0;
    e->iso_clock = 0;
    /* URBs still waiting for stream data get a fresh stream. */
    if (e->head && urb_private(e->head)->served == SERVED_FROM_QUEUE && d->state == D_ATTACHED)
        stream_ensure(d, e);
    return 0;
}

URG_API int urg_hcd_reset(urg_hcd_dev *d)
{
    int i, r;
    if (!d)
        return URG_ERR_INVALID;
    if (d->state != D_ATTACHED || !d->s)
        return URG_ERR_NO_DEVICE;
    for (i = 0; i < 32; i++) {
        stream_stop(d, &d->ep[i]);
        d->ep[i].error = 0;
        d->ep[i].iso_error = 0;
        d->ep[i].iso_clock = 0;
    }
    d->info.address = 0;
    /* The reset goes on the wire first: URBs the VMM submits again from
     * the completions below then come after it. */
    r = urg_session_reset(d->s);
    for (i = 0; i < 32; i++)
        urb_flush(d, &d->ep[i], URG_URB_CANCELLED);
    return r;
}

URG_API int urg_hcd_ep_stats(const urg_hcd_dev *d, uint8_t endpoint, struct urg_hcd_ep_stats *out)
{
    const struct endpoint *e;
    if (!d || !out)
        return URG_ERR_INVALID;
    e = &d->ep[urg_ep_index(endpoint)];
    *out = e->st;
    out->drops += e->q.drops;
    out->queued = e->q.count;
    return 0;
}

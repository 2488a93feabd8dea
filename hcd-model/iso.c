/*
 * iso.c - isochronous endpoints.
 *
 * The first URB starts the stream (stream.c), sized from the endpoint's
 * real interval (urg_hcd_iso_sizing(), speed.c) and the latency target.
 * Iso URBs never wait:
 *   IN  - packets from the host fill the queue; nothing is delivered until
 *         half the stream's buffering is there (pre-fill); a URB then takes
 *         one packet per descriptor. A URB that finds the queue short gets
 *         empty descriptors, counts an underrun, and pre-filling starts over.
 *   OUT - each descriptor goes as one iso packet (copied); the URB completes
 *         at once with the stream's last error (then cleared).
 * A stall from the host stops the stream; the next URB reports it and the
 * one after starts the stream again.
 */
#include "hcd.h"

int iso_submit(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u, struct urb_verdict *v)
{
    uint32_t total = 0;
    int i, r, status = URG_URB_SUCCESS;

    if (e->error) {
        /* The host stopped the stream: this URB says so. */
        status = e->error;
        e->error = 0;
        e->iso_error = 0;
        for (i = 0; i < u->num_iso_packets; i++) {
            u->iso[i].actual_length = 0;
            u->iso[i].status = status;
        }
        return verdict_done(v, status, 0);
    }
    if ((r = stream_ensure(d, e)) < 0)
        return r;

    if (u->endpoint & 0x80) {
        uint32_t level = (uint32_t)e->iso_pkts * e->iso_urbs / 2;
        bool short_of_packets = false;
        if (level < 1)
            level = 1;
        if (e->prefill && e->q.count >= level)
            e->prefill = false;
        for (i = 0; i < u->num_iso_packets; i++) {
            struct urg_iso_packet_desc *pd = &u->iso[i];
            struct pkt *pk = e->prefill ? NULL : pktq_head(&e->q);
            pd->actual_length = 0;
            pd->status = URG_URB_SUCCESS;
            if (!pk) {
                short_of_packets = !e->prefill;
                continue;
            }
            pd->actual_length = pk->len < pd->length ? pk->len : pd->length;
            if (pd->actual_length)
                urb_data_write(u, pd->offset, pk->data, pd->actual_length);
            pd->status = pk->len > pd->length ? URG_URB_BABBLE
                                               : urb_status_from_wire(pk->status);
            total += pd->actual_length;
            pktq_pop(&e->q, &d->alloc);
        }
        if (short_of_packets) {
            e->st.underruns++;
            e->prefill = true;
        }
        return verdict_done(v, URG_URB_SUCCESS, total);
    }

    for (i = 0; i < u->num_iso_packets; i++) {
        struct urg_iso_packet_desc *pd = &u->iso[i];
        if (u->iovcnt)
            r = urg_session_iso_out_iov(d->s, u->endpoint, (uint16_t)pd->length, u->iov,
                                        u->iovcnt, pd->offset);
        else
            r = urg_session_iso_out(d->s, u->endpoint, (uint16_t)pd->length,
                                    u->buffer + pd->offset);
        if (r < 0) {
            pd->status = URG_URB_IOERROR;
            pd->actual_length = 0;
            e->st.drops++;
            continue;
        }
        pd->status = URG_URB_SUCCESS;
        pd->actual_length = pd->length;
        total += pd->length;
        e->st.packets++;
        e->st.bytes += pd->length;
    }
    if (e->iso_error) {
        status = e->iso_error;
        e->iso_error = 0;
    }
    return verdict_done(v, status, total);
}

URG_API int urg_hcd_iso_frames(urg_hcd_dev *d, uint8_t endpoint, uint32_t n_packets, double now,
                               double *start, double *end, uint32_t *start_frame)
{
    struct endpoint *e;
    double period;
    if (!d || !start || !end || !n_packets)
        return URG_ERR_INVALID;
    if (d->state != D_ATTACHED)
        return URG_ERR_NO_DEVICE;
    e = &d->ep[urg_ep_index(endpoint)];
    if (e->info.type != URG_EP_ISO || e->info.interval < 1 || e->info.interval > 16)
        return URG_ERR_HCD_ENDPOINT;
    period = (d->info.speed >= URG_SPEED_HIGH && d->info.speed <= URG_SPEED_SUPER ? 125e-6 : 1e-3) *
             (double)(1u << (e->info.interval - 1));
    *start = e->iso_clock > now ? e->iso_clock : now;
    *end = *start + period * n_packets;
    e->iso_clock = *end;
    if (start_frame)
        *start_frame = (uint32_t)((long long)(*start * 1000) & 0x7ff);
    return 0;
}

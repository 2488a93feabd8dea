/*
 * stream.c - the streams of an endpoint: interrupt receiving, buffered bulk
 * receiving and iso streams. Starting one (with the right request and, for
 * iso, the sizing), stopping it, the host's answer to a start, the host
 * stopping it (an unsolicited status), packets arriving into the bounded
 * queue, and how a URB takes from the queue (interrupt: packets merged up
 * to a short one; buffered bulk: bytes, FTDI packets whole; iso IN is in
 * iso.c, a packet per descriptor). The one endpoint-queue module. URBs that
 * wait for the packets are urb.c's: an event that may let them go says so
 * (returns true) and the caller has urb.c serve them.
 */
#include "hcd.h"

int stream_ensure(urg_hcd_dev *d, struct endpoint *e)
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
    } else if (e->info.type == URG_EP_ISO) {
        uint8_t pkts, urbs;
        /* The stream runs at the device's own speed at the usb-host, whose
         * bInterval it is (unknown counts as full). */
        int speed = d->info.usb.speed <= URG_SPEED_SUPER ? d->info.usb.speed : URG_SPEED_FULL;
        if (urg_hcd_iso_sizing(speed, e->info.interval, d->cfg.iso_latency_ms,
                               (e->addr & 0x80) != 0, &pkts, &urbs) < 0)
            return URG_ERR_HCD_ENDPOINT;
        r = urg_session_start_iso_stream(d->s, e->addr, pkts, urbs, NULL, &id);
        if (r == 0) {
            e->iso_pkts = pkts;
            e->iso_urbs = urbs;
            e->q.target = (uint32_t)pkts * urbs;
        }
    } else {
        return URG_ERR_HCD_ENDPOINT;
    }
    if (r < 0)
        return r;
    e->prefill = true;
    e->stream = ST_STARTING;
    e->start_id = id;
    return 0;
}

int stream_prepare(urg_hcd_dev *d, struct endpoint *e)
{
    int status;
    if (!e->head && e->error) {
        /* The host stopped the stream: this URB reports it. */
        status = e->error;
        e->error = 0;
        return status;
    }
    return stream_ensure(d, e);
}

void stream_forget(urg_hcd_dev *d, struct endpoint *e)
{
    if (e->stream == ST_STARTING && d->s)
        urg_session_forget(d->s, e->start_id);
    e->stream = ST_NONE;
    e->start_id = 0;
    pktq_clear(&e->q, &d->alloc);
}

void stream_stop(urg_hcd_dev *d, struct endpoint *e)
{
    /* A stream still starting is stopped too: the host will have started
     * it by the time it reads the stop. Its start is forgotten, not waited
     * for. */
    bool running = (e->stream == ST_ACTIVE || e->stream == ST_STARTING) && d->s;
    e->st.drops += e->q.drops;
    e->q.drops = 0;
    stream_forget(d, e);
    e->prefill = true;
    if (!running)
        return;
    if (e->info.type == URG_EP_INTERRUPT)
        urg_session_stop_interrupt_receiving(d->s, e->addr, NULL, NULL);
    else if (e->info.type == URG_EP_ISO)
        urg_session_stop_iso_stream(d->s, e->addr, NULL, NULL);
    else if (e->info.type == URG_EP_BULK)
        urg_session_stop_bulk_receiving(d->s, e->addr, 0, NULL, NULL);
}

bool stream_data(urg_hcd_dev *d, const struct urg_stream_data *sd)
{
    struct endpoint *e = endpoint_of(d, sd->endpoint);
    uint8_t type = sd->type == URG_INTERRUPT_PACKET ? URG_EP_INTERRUPT
                   : sd->type == URG_ISO_PACKET     ? URG_EP_ISO
                                                    : URG_EP_BULK;
    if (e->stream == ST_NONE || e->info.type != type)
        return false; /* still in the pipe after a stop */
    if (pktq_push(&e->q, &d->alloc, sd->data, sd->length, sd->status)) {
        e->st.drops++;
        return false;
    }
    e->st.packets++;
    e->st.bytes += sd->length;
    return type != URG_EP_ISO; /* iso URBs never wait */
}

bool stream_started(urg_hcd_dev *d, const struct urg_completion *c)
{
    struct endpoint *e = endpoint_of(d, c->endpoint);
    /* Every path that leaves ST_STARTING but this one forgets the start
     * (stream_forget), so its answer finds the endpoint still starting. */
    if (e->stream != ST_STARTING)
        return false;
    e->start_id = 0;
    if (c->status == URG_STATUS_SUCCESS) {
        e->stream = ST_ACTIVE;
        return false;
    }
    e->stream = ST_NONE;
    if (c->status == URG_STATUS_NODEV)
        return false;
    hcd_log(d, URG_LOG_WARNING, "%s on 0x%02x: %s", urg_type_name(c->type), c->endpoint,
            urg_status_name(c->status));
    e->error = urb_status_from_wire(c->status);
    if (e->info.type == URG_EP_ISO)
        e->iso_error = e->error;
    return true;
}

bool stream_status(urg_hcd_dev *d, const struct urg_stream_status *st)
{
    struct endpoint *e = endpoint_of(d, st->endpoint);
    if (st->status == URG_STATUS_SUCCESS)
        return false;
    if (st->type == URG_ISO_STREAM_STATUS && !(st->endpoint & 0x80)) {
        /* iso OUT trouble: reported by the next OUT URB */
        e->iso_error = urb_status_from_wire(st->status);
        if (st->status != URG_STATUS_STALL)
            return false;
    }
    /* Only a running stream can be stopped: a stall for a stream being
     * (re)started belongs to the one before it. */
    if (e->stream != ST_ACTIVE)
        return false;
    hcd_log(d, URG_LOG_INFO, "host stopped the stream on 0x%02x: %s", st->endpoint,
            urg_status_name(st->status));
    e->stream = ST_NONE;
    e->error = urb_status_from_wire(st->status);
    /* iso URBs never wait: the next one restarts the stream */
    return e->info.type != URG_EP_ISO;
}

/* ---------------------------------------------------------------- URBs taking from the queue */

/* Fills an interrupt IN URB from the queue; true when it is complete. */
bool stream_fill_interrupt(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u, int *status)
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
            urb_data_write(u, u->actual_length, pk->data + pk->off, room);
            u->actual_length += room;
            pktq_pop(&e->q, &d->alloc);
            *status = URG_URB_BABBLE;
            return true;
        }
        if (n)
            urb_data_write(u, u->actual_length, pk->data + pk->off, n);
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

/* Fills a buffered-bulk URB from the queue; true when it is complete.
 * Plain: bytes, across chunks. FTDI, as Linux's ftdi_sio reads its URBs
 * (ftdi_process_read_urb): a chunk is the device's packets of max packet
 * size, the last one maybe shorter, each starting with 2 status bytes;
 * the URB takes whole packets, from as many chunks as it holds, each at a
 * max-packet boundary of the URB (its length is a multiple of max packet:
 * bulk_submit), never one split; a short packet ends the transfer, and a
 * packet under 2 bytes is dropped (ftdi_process_packet's "malformed"). */
bool stream_fill_bulk(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u, int *status)
{
    uint32_t mps = e->info.max_packet_size ? e->info.max_packet_size : 64;
    struct pkt *pk;
    bool any = false, ended = false;
    *status = URG_URB_SUCCESS;
    while (!ended && (pk = pktq_head(&e->q)) && u->actual_length < u->length) {
        uint32_t room = u->length - u->actual_length, n = pk->len - pk->off;
        if (pk->status != URG_STATUS_SUCCESS) {
            if (any)
                break;
            *status = urb_status_from_wire(pk->status);
            pktq_pop(&e->q, &d->alloc);
            return true;
        }
        if (e->ftdi) {
            n = n < mps ? n : mps; /* the device's next packet */
            if (n < 2) { /* the chunk's last: no status bytes */
                pktq_pop(&e->q, &d->alloc);
                continue;
            }
            if (n > room)
                break;
            ended = n < mps;
        } else if (n > room) {
            n = room;
        }
        any = true;
        urb_data_write(u, u->actual_length, pk->data + pk->off, n);
        u->actual_length += n;
        pk->off += n;
        if (pk->off == pk->len)
            pktq_pop(&e->q, &d->alloc);
    }
    if (!any)
        return false;
    if (u->actual_length < u->length)
        *status = URG_URB_SHORT;
    return true;
}

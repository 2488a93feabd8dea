/*
 * speed.c - which controller port speeds can carry a device, and the
 * sizing of iso streams from the endpoint's real interval.
 */
#include "hcd.h"

URG_API uint32_t urg_hcd_speed_mask(const struct urg_device *dev, uint32_t caps)
{
    uint32_t mask = 0, periodic_max = 0;
    int speed, i;
    const uint32_t super_caps = URG_CAP_BIT(URG_CAP_64BITS_IDS) |
                                URG_CAP_BIT(URG_CAP_32BITS_BULK_LENGTH) |
                                URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE);
    if (!dev)
        return 0;
    for (i = 0; i < 32; i++) {
        const struct urg_endpoint *e = &dev->ep[i];
        if (e->type != URG_EP_ISO && e->type != URG_EP_INTERRUPT)
            continue;
        if (e->interval == 0)
            return 0; /* a periodic endpoint needs an interval */
        if (e->max_packet_size > periodic_max)
            periodic_max = e->max_packet_size;
    }
    speed = dev->speed <= URG_SPEED_SUPER ? dev->speed : URG_SPEED_FULL;
    switch (speed) {
    case URG_SPEED_LOW:
        mask = URG_SPEED_MASK(URG_SPEED_LOW);
        break;
    case URG_SPEED_FULL:
        mask = URG_SPEED_MASK(URG_SPEED_FULL);
        break;
    case URG_SPEED_HIGH:
        mask = URG_SPEED_MASK(URG_SPEED_HIGH);
        if (periodic_max <= 64)
            mask |= URG_SPEED_MASK(URG_SPEED_FULL);
        break;
    default: /* super */
        if ((caps & super_caps) == super_caps)
            mask |= URG_SPEED_MASK(URG_SPEED_SUPER);
        if (periodic_max <= 1024)
            mask |= URG_SPEED_MASK(URG_SPEED_HIGH);
        if (periodic_max <= 64)
            mask |= URG_SPEED_MASK(URG_SPEED_FULL);
        break;
    }
    return mask;
}

URG_API int urg_hcd_iso_sizing(int speed, uint8_t interval, uint32_t latency_ms, int is_in,
                               uint8_t *pkts_per_urb, uint8_t *no_urbs)
{
    uint64_t base, period, per_urb, needed, urbs;
    if (interval < 1 || interval > 16 || !pkts_per_urb || !no_urbs)
        return URG_ERR_INVALID;
    switch (speed) {
    case URG_SPEED_FULL: base = 1000; break;  /* frames per second */
    case URG_SPEED_HIGH:
    case URG_SPEED_SUPER: base = 8000; break; /* microframes per second */
    default: return URG_ERR_INVALID;          /* no iso at low speed */
    }
    /* bInterval is an exponent: one packet every 2^(bInterval-1) (micro)frames,
     * base / period packets per second. */
    period = 1ull << (interval - 1);
    /* About 10 ms of packets per transfer: round(pps / 100). */
    per_urb = (base + 50 * period) / (100 * period);
    if (per_urb < 1)
        per_urb = 1;
    if (per_urb > 32)
        per_urb = 32;
    /* Enough transfers to hold latency_ms of packets: ceil(pps * ms / 1000). */
    needed = (base * latency_ms + 1000 * period - 1) / (1000 * period);
    if (needed < 1)
        needed = 1;
    urbs = (needed + per_urb - 1) / per_urb;
    if (!is_in) {
        urbs *= 2; /* OUT keeps half its buffers filled before starting */
        needed *= 2;
    }
    if (urbs > 16) {
        /* 16 transfers of about 10 ms fall short of the target: longer
         * transfers (at most 32 packets) hold it, or as much of it as
         * 16 x 32 packets can. */
        if (per_urb < (needed + 15) / 16)
            per_urb = (needed + 15) / 16;
        if (per_urb > 32)
            per_urb = 32;
        urbs = 16;
    }
    *pkts_per_urb = (uint8_t)per_urb;
    *no_urbs = (uint8_t)urbs;
    return 0;
}

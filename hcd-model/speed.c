/*
 * speed.c - which controller port speeds can carry a device, and the
 * sizing of iso streams from the endpoint's real interval.
 */
#include "hcd.h"

/* What a port speed needs of the device's periodic (iso and interrupt)
 * endpoints: the first with bInterval 0, the first iso one, the largest max
 * packet and whose it is; and the first endpoint whose type is none
 * (above 3, not invalid: only under URG_POLICY_TOLERATE). Addresses, or
 * -1. */
struct periodic {
    int zero_interval, iso, largest, bad_type;
    uint32_t max;
    bool any;
};

static struct periodic periodic_endpoints(const struct urg_device *dev)
{
    struct periodic p = { -1, -1, -1, -1, 0, false };
    for (int i = 0; i < 32; i++) {
        const struct urg_endpoint *e = &dev->ep[i];
        int addr = (i & 0x0f) | (i & 0x10 ? 0x80 : 0);
        if (e->type > URG_EP_INTERRUPT && e->type != URG_EP_INVALID && p.bad_type < 0)
            p.bad_type = addr;
        if (e->type != URG_EP_ISO && e->type != URG_EP_INTERRUPT)
            continue;
        p.any = true;
        if (e->interval == 0 && p.zero_interval < 0)
            p.zero_interval = addr;
        if (e->type == URG_EP_ISO && p.iso < 0)
            p.iso = addr;
        if (p.largest < 0 || e->max_packet_size > p.max) {
            p.max = e->max_packet_size;
            p.largest = addr;
        }
    }
    return p;
}

static const uint32_t super_caps = URG_CAP_BIT(URG_CAP_64BITS_IDS) |
                                   URG_CAP_BIT(URG_CAP_32BITS_BULK_LENGTH) |
                                   URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE);

/* The device's own speed (unknown counts as full). */
static int own_speed(const struct urg_device *dev)
{
    return dev->speed <= URG_SPEED_SUPER ? dev->speed : URG_SPEED_FULL;
}

/* Why dev cannot be shown at speed (slower than its own, or its own):
 * a message into msg, or 0 if it can. As QEMU's usb-redir: no slower
 * speed for a device with an iso endpoint, nor for one with periodic
 * endpoints whose max packet sizes the host does not send; a periodic
 * endpoint's max packet at most 64 at full speed, 1024 at high speed. */
static int cannot(const struct urg_device *dev, uint32_t caps, const struct periodic *p,
                  int speed, char *msg, size_t cap)
{
    const int own = own_speed(dev);
    const uint32_t limit = speed == URG_SPEED_FULL ? 64 : 1024;
    if (speed == own) {
        if (own == URG_SPEED_SUPER && (caps & super_caps) != super_caps)
            return snprintf(msg, cap,
                            "SuperSpeed needs 64bits_ids, 32bits_bulk_length and "
                            "ep_info_max_packet_size on both sides") > 0;
        return 0;
    }
    if (speed > own)
        return snprintf(msg, cap, "a %s-speed device cannot be shown at %s speed",
                        urg_speed_name(own), urg_speed_name(speed)) > 0;
    if (speed == URG_SPEED_LOW)
        return snprintf(msg, cap, "only a low-speed device can be shown at low speed") > 0;
    if (p->iso >= 0)
        return snprintf(msg, cap, "its iso endpoint 0x%02x cannot run at %s speed", p->iso,
                        urg_speed_name(speed)) > 0;
    if (p->any && !(caps & URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE)))
        return snprintf(msg, cap,
                        "the host does not send max packet sizes (ep_info_max_packet_size), "
                        "so endpoint 0x%02x may not fit %s speed",
                        p->largest, urg_speed_name(speed)) > 0;
    if (p->any && p->max > limit)
        return snprintf(msg, cap, "endpoint 0x%02x's max packet %u is over %s speed's %u",
                        p->largest, p->max, urg_speed_name(speed), limit) > 0;
    return 0;
}

URG_API uint32_t urg_hcd_speed_mask(const struct urg_device *dev, uint32_t caps)
{
    struct periodic p;
    uint32_t mask = 0;
    char no[8];
    if (!dev)
        return 0;
    p = periodic_endpoints(dev);
    if (p.zero_interval >= 0 || p.bad_type >= 0)
        return 0; /* a periodic endpoint needs an interval; a type is one */
    for (int speed = URG_SPEED_LOW; speed <= URG_SPEED_SUPER; speed++)
        if (!cannot(dev, caps, &p, speed, no, sizeof(no)))
            mask |= URG_SPEED_MASK(speed);
    return mask;
}

int speed_choose(const struct urg_device *dev, uint32_t caps, uint32_t port_speeds, int *speed,
                 uint32_t *mask, char *msg, size_t cap)
{
    struct periodic p = periodic_endpoints(dev);
    int s;
    if (p.bad_type >= 0) {
        /* As QEMU's usb-redir ("Received invalid endpoint type"). */
        snprintf(msg, cap, "its endpoint 0x%02x has type %u, not an endpoint type", p.bad_type,
                 dev->ep[urg_ep_index((uint8_t)p.bad_type)].type);
        return URG_ERR_PROTO_FIELD;
    }
    if (p.zero_interval >= 0) {
        snprintf(msg, cap, "its endpoint 0x%02x has bInterval 0 (a periodic endpoint needs one)",
                 p.zero_interval);
        return URG_ERR_HCD_INTERVAL;
    }
    *mask = urg_hcd_speed_mask(dev, caps) & port_speeds;
    if (*mask & URG_SPEED_MASK(own_speed(dev))) {
        *speed = own_speed(dev);
        return 0;
    }
    for (s = URG_SPEED_SUPER; s > URG_SPEED_LOW; s--)
        if (*mask & URG_SPEED_MASK(s)) {
            *speed = s;
            return 0;
        }
    /* Say why the fastest speed the port has at or below the device's
     * own (else the port's slowest) cannot carry it. */
    for (s = own_speed(dev); s >= URG_SPEED_LOW && !(port_speeds & URG_SPEED_MASK(s)); s--)
        ;
    if (s < URG_SPEED_LOW)
        for (s = URG_SPEED_LOW; s <= URG_SPEED_SUPER && !(port_speeds & URG_SPEED_MASK(s)); s++)
            ;
    if (!cannot(dev, caps, &p, s, msg, cap))
        snprintf(msg, cap, "no speed of the port (0x%x) carries it", port_speeds);
    return URG_ERR_HCD_SPEED;
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

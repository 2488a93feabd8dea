/*
 * serial.c - serial adapters: which bulk IN endpoints get buffered bulk
 * receiving.
 *
 * An interface is a serial port when Linux's ftdi_sio, cp210x, pl2303 or
 * ch341 driver would make it one (serial_ids.c: their id tables, and
 * ftdi_sio's JTAG quirks that leave out the first interfaces), or when
 * the VMM's serial callback says so. Each such driver makes one port per
 * interface (multi-port FTDI and CP210x chips have an interface per
 * port), whose bulk IN is the interface's first: here the one of lowest
 * address (usbredir's ep_info has no descriptor order), and only if its
 * max packet size is known (as QEMU: without it no URB size can be
 * checked, nor an FTDI packet found). Every other bulk IN endpoint is
 * ordinary bulk. How a URB takes the data is stream.c's
 * (stream_fill_bulk).
 */
#include "hcd.h"

_Static_assert(sizeof(struct serial_id) == 6, "the table's size in its header is 6 per entry");

static const char *driver_name(unsigned flags)
{
    switch (flags & SID_DRIVER) {
    case SID_FTDI_SIO: return "ftdi_sio";
    case SID_CP210X: return "cp210x";
    case SID_PL2303: return "pl2303";
    default: return "ch341";
    }
}

/* The first entry of vendor:product (binary search), or NULL. */
static const struct serial_id *first_entry(uint16_t vendor, uint16_t product)
{
    uint32_t key = (uint32_t)vendor << 16 | product;
    size_t lo = 0, hi = serial_id_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t k = (uint32_t)serial_ids[mid].vendor << 16 | serial_ids[mid].product;
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < serial_id_count && serial_ids[lo].vendor == vendor &&
        serial_ids[lo].product == product)
        return &serial_ids[lo];
    return NULL;
}

static bool entry_matches(const struct serial_id *s, const struct urg_device *usb, int i)
{
    if (s->flags & SID_IFNUM)
        return s->interface == usb->interface[i];
    if (s->flags & SID_IFCLASS)
        return s->interface < serial_id_class_count &&
               serial_id_classes[s->interface][0] == usb->interface_class[i] &&
               serial_id_classes[s->interface][1] == usb->interface_subclass[i] &&
               serial_id_classes[s->interface][2] == usb->interface_protocol[i];
    return true;
}

/* The table's entry for interface i (an index in usb's interface arrays),
 * or NULL: not a serial port. */
static const struct serial_id *lookup(const struct urg_device *usb, int i)
{
    const struct serial_id *s = first_entry(usb->vendor_id, usb->product_id);
    for (; s && s < serial_ids + serial_id_count && s->vendor == usb->vendor_id &&
           s->product == usb->product_id;
         s++) {
        if (!entry_matches(s, usb, i))
            continue;
        /* The first match decides, as Linux's usb_match_id(). */
        return usb->interface[i] < SID_NOT_PORTS_OF(s->flags) ? NULL : s;
    }
    return NULL;
}

/* The bulk IN endpoint of lowest address on interface number ifnum, or
 * NULL. */
static struct endpoint *first_bulk_in(urg_hcd_dev *d, uint8_t ifnum)
{
    for (int k = 17; k < 32; k++) {
        struct endpoint *e = &d->ep[k];
        if (e->info.type == URG_EP_BULK && e->info.interface == ifnum)
            return e;
    }
    return NULL;
}

void serial_apply(urg_hcd_dev *d, uint32_t fresh)
{
    const struct urg_device *usb = &d->info.usb;
    uint32_t n = usb->interface_count < 32 ? usb->interface_count : 32;
    for (uint32_t i = 0; i < n; i++) {
        struct endpoint *e = first_bulk_in(d, usb->interface[i]);
        const struct serial_id *s;
        int known, kind;
        if (!e || !(fresh >> urg_ep_index(e->addr) & 1u) || !e->info.max_packet_size)
            continue;
        s = d->cfg.buffered_bulk_serial ? lookup(usb, (int)i) : NULL;
        known = !s                                         ? URG_SERIAL_NONE
                : (s->flags & SID_DRIVER) == SID_FTDI_SIO ? URG_SERIAL_FTDI
                                                           : URG_SERIAL_PLAIN;
        kind = known;
        if (d->cfg.serial) {
            kind = d->cfg.serial(d->cfg.user_data, d, usb, usb->interface[i], known);
            if (kind != URG_SERIAL_PLAIN && kind != URG_SERIAL_FTDI)
                kind = URG_SERIAL_NONE;
        }
        e->buffered = kind != URG_SERIAL_NONE;
        e->ftdi = kind == URG_SERIAL_FTDI;
        if (!e->buffered)
            continue;
        hcd_log(d, URG_LOG_INFO,
                "%04x:%04x interface %u is a serial port (%s): buffered bulk receiving on "
                "0x%02x%s",
                usb->vendor_id, usb->product_id, usb->interface[i],
                kind != known ? "the VMM's choice" : driver_name(s->flags), e->addr,
                e->ftdi ? ", FTDI packets" : "");
    }
}

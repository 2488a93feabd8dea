/*
 * pcap.c - a capture of a device's URB traffic in the Linux usbmon format
 * (pcap link type 220, LINKTYPE_USB_LINUX_MMAPPED), which Wireshark and
 * tshark's USB dissector read, as QEMU's pcap= option writes. One 'S'
 * record when a URB is submitted (with OUT data or the SETUP packet), one
 * 'C' record when it completes (with IN data). Fields are little-endian,
 * and so is the file (magic a1b2c3d4 written least significant byte first).
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "hcd.h"

#define LINKTYPE_USB_LINUX_MMAPPED 220
#define SNAPLEN 0x40000

struct urg_pcap {
    FILE *f;
    uint16_t bus;
    const struct urg_allocator *alloc;
};

int usbmon_open(const char *path, uint16_t bus, const struct urg_allocator *a,
                struct urg_pcap **out)
{
    uint8_t h[24];
    struct urg_pcap *p = a->malloc(a->ctx, sizeof(*p));
    *out = NULL;
    if (!p)
        return URG_ERR_NOMEM;
    p->f = fopen(path, "wb");
    if (!p->f) {
        a->free(a->ctx, p);
        return URG_ERR_IO;
    }
    p->bus = bus;
    p->alloc = a;
    urgi_put32(h, 0xa1b2c3d4u);
    urgi_put16(h + 4, 2);
    urgi_put16(h + 6, 4);
    urgi_put32(h + 8, 0);  /* thiszone */
    urgi_put32(h + 12, 0); /* sigfigs */
    urgi_put32(h + 16, SNAPLEN);
    urgi_put32(h + 20, LINKTYPE_USB_LINUX_MMAPPED);
    if (fwrite(h, 1, sizeof(h), p->f) != sizeof(h)) {
        fclose(p->f);
        a->free(a->ctx, p);
        return URG_ERR_IO;
    }
    *out = p;
    return 0;
}

void usbmon_close(struct urg_pcap *p)
{
    if (!p)
        return;
    fclose(p->f);
    p->alloc->free(p->alloc->ctx, p);
}

/* The usbmon status of a completion: 0 or a negative errno. */
static int32_t usbmon_status(int status)
{
    switch (status) {
    case URG_URB_SUCCESS:
    case URG_URB_SHORT: return 0;
    case URG_URB_STALL: return -EPIPE;
    case URG_URB_BABBLE: return -EOVERFLOW;
    case URG_URB_CANCELLED: return -ENOENT;
    case URG_URB_NODEV: return -ENODEV;
    case URG_URB_NAK: return -EAGAIN;
    default: return -EPROTO;
    }
}

static uint8_t usbmon_xfer_type(int type)
{
    switch (type) {
    case URG_EP_ISO: return 0;
    case URG_EP_INTERRUPT: return 1;
    case URG_EP_CONTROL: return 2;
    default: return 3;
    }
}

/* Linux's URB transfer flags (include/linux/usb.h) the capture sets. */
#define URB_ISO_ASAP 0x0002
#define URB_DIR_IN 0x0200
/* Linux's usbmon writes at most this many iso descriptors (mon_bin.c). */
#define ISODESC_MAX 128

/* The URB's interval as Linux's usb_submit_urb() leaves it in urb->interval
 * (usbmon's interval field): the period in frames (low and full speed) or
 * microframes (high and SuperSpeed), a power of 2, at most 128 frames for
 * interrupt at low and full speed, 1024 frames for iso at full speed,
 * 8192 microframes at high speed, 32768 at SuperSpeed. bInterval is the
 * period itself for interrupt at low and full speed, else its exponent
 * (2^(bInterval-1)). 0 for control and bulk, as Linux's usbmon. */
static uint32_t usbmon_interval(int speed, int type, uint8_t binterval)
{
    uint32_t v, max;
    if ((type != URG_EP_INTERRUPT && type != URG_EP_ISO) || !binterval)
        return 0;
    if (speed == URG_SPEED_HIGH || speed == URG_SPEED_SUPER) {
        v = 1u << ((binterval > 16 ? 16 : binterval) - 1);
        max = speed == URG_SPEED_HIGH ? 8192 : 32768;
    } else if (type == URG_EP_INTERRUPT) {
        v = binterval;
        max = 128;
    } else {
        v = 1u << ((binterval > 16 ? 16 : binterval) - 1);
        max = 1024;
    }
    while (v & (v - 1))
        v &= v - 1; /* round down to a power of 2 */
    return v > max ? max : v;
}

void usbmon_urb(struct urg_pcap *p, char event, const urg_hcd_dev *dv, const struct endpoint *e,
                struct urg_urb *u)
{
    uint8_t rec[16], h[64], d[16];
    struct timespec ts;
    uint32_t wlength = (uint32_t)(u->setup[6] | u->setup[7] << 8);
    /* Linux's direction (usb_submit_urb): a control transfer without a
     * data stage is OUT whatever bmRequestType says. */
    bool in = u->type == URG_EP_CONTROL ? (u->setup[0] & 0x80) && wlength : (u->endpoint & 0x80) != 0;
    uint32_t data_len = 0, ndesc = 0, errors = 0, flags = in ? URB_DIR_IN : 0, i;
    char tag = 0;
    int j;

    /* OUT data goes with the submission, IN data with the completion; an
     * iso IN completion carries the buffer up to its last packet with
     * data (mon_bin_collate_isodesc). */
    if (event == 'S' && !in)
        data_len = u->type == URG_EP_CONTROL ? wlength : u->length;
    else if (event == 'C' && in && u->type != URG_EP_ISO)
        data_len = u->actual_length;
    else if (event == 'C' && in)
        for (j = 0; j < u->num_iso_packets; j++)
            if (u->iso[j].actual_length && u->iso[j].offset + u->iso[j].actual_length > data_len)
                data_len = u->iso[j].offset + u->iso[j].actual_length;
    if (data_len > u->length)
        data_len = u->length;
    if (event == 'S' && in)
        tag = '<'; /* no data: IN */
    else if (event == 'C' && !in)
        tag = '>'; /* no data: OUT */
    /* The flags Linux's usb_submit_urb() allows for the transfer. */
    if (in && u->type != URG_EP_ISO)
        flags |= u->flags & URG_URB_FLAG_SHORT_NOT_OK;
    if (!in && (u->type == URG_EP_BULK || u->type == URG_EP_INTERRUPT))
        flags |= u->flags & URG_URB_FLAG_ZERO_PACKET;
    if (u->type == URG_EP_ISO) {
        ndesc = u->num_iso_packets > ISODESC_MAX ? ISODESC_MAX : (uint32_t)u->num_iso_packets;
        flags |= URB_ISO_ASAP;
        if (event == 'C')
            for (j = 0; j < u->num_iso_packets; j++)
                errors += u->iso[j].status != URG_URB_SUCCESS && u->iso[j].status != URG_URB_SHORT;
    }
    if (data_len + 16u * ndesc > SNAPLEN - 64)
        data_len = SNAPLEN - 64 - 16u * ndesc;

    clock_gettime(CLOCK_REALTIME, &ts);
    memset(h, 0, sizeof(h));
    urgi_put64(h, urb_private(u)->pcap_id);
    h[8] = (uint8_t)event;
    h[9] = usbmon_xfer_type(u->type);
    h[10] = (uint8_t)((u->endpoint & 0x0f) | (in ? 0x80 : 0));
    h[11] = dv->info.address;
    urgi_put16(h + 12, p->bus);
    h[14] = (event == 'S' && u->type == URG_EP_CONTROL) ? 0 : '-';
    h[15] = data_len ? 0 : (uint8_t)tag;
    urgi_put64(h + 16, (uint64_t)ts.tv_sec);
    urgi_put32(h + 24, (uint32_t)(ts.tv_nsec / 1000));
    urgi_put32(h + 28, (uint32_t)(event == 'S' ? -EINPROGRESS : usbmon_status(u->status)));
    urgi_put32(h + 32, event == 'S' ? u->length : u->actual_length);
    urgi_put32(h + 36, data_len + 16u * ndesc);
    if (u->type == URG_EP_CONTROL && event == 'S') {
        memcpy(h + 40, u->setup, 8);
    } else if (u->type == URG_EP_ISO) {
        urgi_put32(h + 40, errors);
        urgi_put32(h + 44, (uint32_t)u->num_iso_packets);
    }
    urgi_put32(h + 48, usbmon_interval(dv->info.speed, u->type, e->info.interval));
    /* Linux's start_frame: the one asked for at submission (0: the model's
     * iso URBs are URB_ISO_ASAP), the one scheduled at completion (as the
     * VMM gives it, from urg_hcd_iso_frames()). */
    if (u->type == URG_EP_ISO && event == 'C')
        urgi_put32(h + 52, u->start_frame);
    urgi_put32(h + 56, flags);
    urgi_put32(h + 60, ndesc);

    urgi_put32(rec, (uint32_t)ts.tv_sec);
    urgi_put32(rec + 4, (uint32_t)(ts.tv_nsec / 1000));
    urgi_put32(rec + 8, 64 + 16u * ndesc + data_len);
    urgi_put32(rec + 12, 64 + 16u * ndesc + data_len);
    if (fwrite(rec, 1, 16, p->f) != 16 || fwrite(h, 1, 64, p->f) != 64)
        return;
    for (i = 0; i < ndesc; i++) {
        memset(d, 0, sizeof(d));
        /* usb_submit_urb() sets each packet's status to -EXDEV */
        urgi_put32(d, (uint32_t)(event == 'C' ? usbmon_status(u->iso[i].status) : -EXDEV));
        urgi_put32(d + 4, u->iso[i].offset);
        urgi_put32(d + 8, event == 'C' ? u->iso[i].actual_length : u->iso[i].length);
        if (fwrite(d, 1, 16, p->f) != 16)
            return;
    }
    for (i = 0; i < data_len;) {
        /* The data in pieces, gathered from its segments. */
        uint8_t piece[4096];
        uint32_t n = data_len - i < sizeof(piece) ? data_len - i : (uint32_t)sizeof(piece);
        urb_data_read(u, i, piece, n);
        if (fwrite(piece, 1, n, p->f) != n)
            return;
        i += n;
    }
    fflush(p->f);
}

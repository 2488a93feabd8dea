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

void usbmon_urb(struct urg_pcap *p, char event, uint8_t devnum, const struct urg_urb *u, uint64_t id)
{
    uint8_t rec[16], h[64], d[16];
    struct timespec ts;
    bool in = u->type == URG_EP_CONTROL ? (u->setup[0] & 0x80) != 0 : (u->endpoint & 0x80) != 0;
    uint32_t data_len = 0, ndesc = 0, i;
    const uint8_t *data = u->buffer;

    /* OUT data goes with the submission, IN data with the completion. */
    if (event == 'S' && !in)
        data_len = u->type == URG_EP_CONTROL ? (uint32_t)(u->setup[6] | u->setup[7] << 8)
                                             : u->length;
    else if (event == 'C' && in)
        data_len = u->type == URG_EP_ISO ? u->length : u->actual_length;
    if (u->type == URG_EP_ISO)
        ndesc = (uint32_t)u->num_iso_packets;
    if (data_len + 16u * ndesc > SNAPLEN - 64)
        data_len = SNAPLEN - 64 - 16u * ndesc;

    clock_gettime(CLOCK_REALTIME, &ts);
    memset(h, 0, sizeof(h));
    urgi_put64(h, id);
    h[8] = (uint8_t)event;
    h[9] = usbmon_xfer_type(u->type);
    h[10] = (uint8_t)((u->endpoint & 0x0f) | (in ? 0x80 : 0));
    h[11] = devnum;
    urgi_put16(h + 12, p->bus);
    h[14] = (event == 'S' && u->type == URG_EP_CONTROL) ? 0 : '-';
    h[15] = data_len ? 0 : (in ? '<' : '>');
    urgi_put64(h + 16, (uint64_t)ts.tv_sec);
    urgi_put32(h + 24, (uint32_t)(ts.tv_nsec / 1000));
    urgi_put32(h + 28, (uint32_t)(event == 'S' ? -EINPROGRESS : usbmon_status(u->status)));
    urgi_put32(h + 32, event == 'S' ? u->length : u->actual_length);
    urgi_put32(h + 36, data_len + 16u * ndesc);
    if (u->type == URG_EP_CONTROL && event == 'S')
        memcpy(h + 40, u->setup, 8);
    else if (u->type == URG_EP_ISO)
        urgi_put32(h + 44, ndesc); /* error_count stays 0 */
    urgi_put32(h + 60, ndesc);

    urgi_put32(rec, (uint32_t)ts.tv_sec);
    urgi_put32(rec + 4, (uint32_t)(ts.tv_nsec / 1000));
    urgi_put32(rec + 8, 64 + 16u * ndesc + data_len);
    urgi_put32(rec + 12, 64 + 16u * ndesc + data_len);
    if (fwrite(rec, 1, 16, p->f) != 16 || fwrite(h, 1, 64, p->f) != 64)
        return;
    for (i = 0; i < ndesc; i++) {
        memset(d, 0, sizeof(d));
        urgi_put32(d, (uint32_t)(event == 'C' ? usbmon_status(u->iso[i].status) : 0));
        urgi_put32(d + 4, u->iso[i].offset);
        urgi_put32(d + 8, event == 'C' ? u->iso[i].actual_length : u->iso[i].length);
        if (fwrite(d, 1, 16, p->f) != 16)
            return;
    }
    if (data_len && data && fwrite(data, 1, data_len, p->f) != data_len)
        return;
    fflush(p->f);
}

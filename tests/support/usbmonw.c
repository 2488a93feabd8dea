/*
 * usbmonw.c - test support: usbmon captures written record by record
 * (usbmonw.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "usbmonw.h"

struct umw {
    pcap_t *dead;
    pcap_dumper_t *d;
    uint32_t hdr;
};

uint64_t umw_now;

struct umw *umw_open(const char *path, int linktype)
{
    struct umw *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->hdr = linktype == UMW_USB_LINUX ? 48 : 64;
    w->dead = pcap_open_dead(linktype, 1 << 20);
    if (!w->dead || !(w->d = pcap_dump_open(w->dead, path))) {
        if (w->dead)
            pcap_close(w->dead);
        free(w);
        return NULL;
    }
    return w;
}

void umw_close(struct umw *w)
{
    if (!w)
        return;
    pcap_dump_close(w->d);
    pcap_close(w->dead);
    free(w);
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

void umw_write_raw(struct umw *w, uint64_t t_us, const uint8_t *rec, uint32_t caplen,
                   uint32_t len)
{
    struct pcap_pkthdr h;
    uint8_t *b;
    if (caplen < 64 || len < caplen)
        return;
    b = malloc(caplen);
    if (!b)
        abort();
    /* the 48-byte form: the first 48 bytes, then what follows the 64 */
    memcpy(b, rec, w->hdr);
    memcpy(b + w->hdr, rec + 64, caplen - 64);
    memset(&h, 0, sizeof(h));
    h.ts.tv_sec = (time_t)(1700000000 + t_us / 1000000);
    h.ts.tv_usec = (suseconds_t)(t_us % 1000000);
    h.caplen = caplen - (64 - w->hdr);
    h.len = len - (64 - w->hdr);
    pcap_dump((u_char *)w->d, &h, b);
    free(b);
}

void umw_write(struct umw *w, const struct umw_rec *r)
{
    uint32_t n = 64 + r->ndesc * 16 + r->data_len, i;
    uint8_t *b = calloc(1, n);
    if (!b)
        abort();
    memcpy(b, &r->id, 8);
    b[8] = (uint8_t)r->type;
    b[9] = r->xfer;
    b[10] = r->ep;
    b[11] = r->dev;
    memcpy(b + 12, &r->bus, 2);
    b[14] = r->has_setup ? 0 : '-';
    b[15] = r->data_len ? 0 : (r->ep & 0x80) ? '<' : '>';
    {
        int64_t sec = (int64_t)(1700000000 + umw_now / 1000000);
        memcpy(b + 16, &sec, 8);
        put32(b + 24, (uint32_t)(umw_now % 1000000));
    }
    put32(b + 28, (uint32_t)r->status);
    put32(b + 32, r->length);
    put32(b + 36, r->ndesc * 16 + r->data_len);
    if (r->has_setup) {
        memcpy(b + 40, r->setup, 8);
    } else if (r->xfer == 0) {
        put32(b + 40, 0);
        put32(b + 44, r->numdesc);
    }
    put32(b + 48, (uint32_t)r->interval);
    put32(b + 56, r->flags);
    put32(b + 60, r->ndesc);
    for (i = 0; i < r->ndesc; i++) {
        put32(b + 64 + 16 * i, (uint32_t)r->desc[i].status);
        put32(b + 64 + 16 * i + 4, r->desc[i].offset);
        put32(b + 64 + 16 * i + 8, r->desc[i].length);
    }
    if (r->data_len)
        memcpy(b + 64 + 16 * r->ndesc, r->data, r->data_len);
    umw_write_raw(w, umw_now, b, r->snap && r->snap < n ? r->snap : n, n);
    umw_now += 10;
    free(b);
}

void umw_control(struct umw *w, uint16_t bus, uint8_t dev, uint64_t id, const uint8_t setup[8],
                 const void *data, uint32_t len, int32_t status)
{
    struct umw_rec r;
    bool in = setup[0] & 0x80;
    uint32_t wlen = (uint32_t)(setup[6] | setup[7] << 8);
    memset(&r, 0, sizeof(r));
    r.id = id;
    r.type = 'S';
    r.xfer = 2;
    r.ep = in && wlen ? 0x80 : 0;
    r.dev = dev;
    r.bus = bus;
    r.has_setup = true;
    memcpy(r.setup, setup, 8);
    r.status = -EINPROGRESS;
    r.length = wlen;
    if (!in) {
        r.data = data;
        r.data_len = len;
    }
    umw_write(w, &r);
    r.type = 'C';
    r.has_setup = false;
    r.status = status;
    r.length = len;
    r.data = in ? data : NULL;
    r.data_len = in ? len : 0;
    umw_write(w, &r);
}

void umw_transfer(struct umw *w, uint16_t bus, uint8_t dev, uint64_t id, uint8_t xfer,
                  uint8_t ep, int32_t interval, uint32_t asked, const void *data, uint32_t len,
                  int32_t status)
{
    struct umw_rec r;
    bool in = ep & 0x80;
    memset(&r, 0, sizeof(r));
    r.id = id;
    r.type = 'S';
    r.xfer = xfer;
    r.ep = ep;
    r.dev = dev;
    r.bus = bus;
    r.status = -EINPROGRESS;
    r.interval = interval;
    r.length = in ? asked : len;
    r.data = in ? NULL : data;
    r.data_len = in ? 0 : len;
    umw_write(w, &r);
    r.type = 'C';
    r.status = status;
    r.length = len;
    r.data = in ? data : NULL;
    r.data_len = in ? len : 0;
    umw_write(w, &r);
}

static void get_descriptor(struct umw *w, uint16_t bus, uint8_t dev, uint8_t type,
                           const uint8_t *d, uint16_t len)
{
    uint8_t setup[8] = { 0x80, 6, 0, type, 0, 0, (uint8_t)len, (uint8_t)(len >> 8) };
    umw_control(w, bus, dev, 0x1000 + type, setup, d, len, 0);
}

void umw_hub(struct umw *w, uint16_t bus, uint8_t dev, int n)
{
    static const uint8_t device[18] = { 18, 1, 0x00, 0x02, 9, 0, 1, 64, 0x6b, 0x1d,
                                        0x02, 0x00, 0x15, 0x06, 3, 2, 1, 1 };
    static const uint8_t config[25] = { 9, 2, 25, 0, 1, 1, 0, 0xe0, 0,
                                        9, 4, 0, 0, 1, 9, 0, 0, 0,
                                        7, 5, 0x81, 3, 4, 0, 12 };
    uint8_t status[64];
    memset(status, 0, sizeof(status));
    get_descriptor(w, bus, dev, 1, device, 18);
    get_descriptor(w, bus, dev, 2, config, 25);
    for (int i = 0; i < n; i++) {
        status[0] = (uint8_t)(1 << (i % 4));
        umw_transfer(w, bus, dev, 0x2000 + (uint64_t)(i & 1), 1, 0x81, 2048, 64, status, 64, 0);
    }
}

void umw_audio(struct umw *w, uint16_t bus, uint8_t dev, int urbs)
{
    static const uint8_t device[18] = { 18, 1, 0x10, 0x01, 0, 0, 0, 64, 0xf4, 0x46,
                                        0x03, 0x00, 0x00, 0x01, 0, 0, 0, 1 };
    /* interface 0: control; interface 1: streaming, the iso IN endpoint
     * in alternate setting 1 only; a class-specific descriptor between */
    static const uint8_t config[50] = {
        9, 2, 50, 0, 2, 1, 0, 0x80, 50,
        9, 4, 0, 0, 0, 1, 1, 0, 0,
        9, 4, 1, 0, 0, 1, 2, 0, 0,
        9, 4, 1, 1, 1, 1, 2, 0, 0,
        7, 0x24, 1, 1, 1, 1, 0,
        7, 5, 0x81, 5, 192, 0, 1,
    };
    static const uint8_t setcfg[8] = { 0x00, 9, 1, 0, 0, 0, 0, 0 };
    static const uint8_t alt1[8] = { 0x01, 0x0b, 1, 0, 1, 0, 0, 0 };
    static const uint8_t alt0[8] = { 0x01, 0x0b, 0, 0, 1, 0, 0, 0 };
    uint8_t data[8 * 192];
    struct umw_iso desc[8];
    struct umw_rec r;
    get_descriptor(w, bus, dev, 1, device, 18);
    get_descriptor(w, bus, dev, 2, config, 9);
    get_descriptor(w, bus, dev, 2, config, sizeof(config));
    umw_control(w, bus, dev, 0x1100, setcfg, NULL, 0, 0);
    umw_control(w, bus, dev, 0x1101, alt1, NULL, 0, 0);
    memset(&r, 0, sizeof(r));
    r.xfer = 0;
    r.ep = 0x81;
    r.dev = dev;
    r.bus = bus;
    r.interval = 1;
    r.flags = 0x0202; /* URB_ISO_ASAP, URB_DIR_IN */
    r.numdesc = r.ndesc = 8;
    r.desc = desc;
    /* two URBs in flight: each submitted before the one before it completes */
    for (int u = 0; u <= urbs; u++) {
        if (u < urbs) {
            for (int k = 0; k < 8; k++) {
                desc[k].status = -EXDEV;
                desc[k].offset = (uint32_t)k * 192;
                desc[k].length = 192;
            }
            r.id = 0x3000 + (uint64_t)(u & 1);
            r.type = 'S';
            r.status = -EINPROGRESS;
            r.length = sizeof(data);
            r.data = NULL;
            r.data_len = 0;
            umw_write(w, &r);
        }
        if (u > 0) {
            int c = u - 1;
            uint32_t end = 0;
            for (int k = 0; k < 8; k++) {
                uint32_t n = k % 4 == 3 ? 96 : 192;
                desc[k].status = 0;
                desc[k].offset = (uint32_t)k * 192;
                desc[k].length = n;
                memset(data + k * 192, (c * 8 + k) & 0xff, 192);
                end = (uint32_t)k * 192 + n;
            }
            r.id = 0x3000 + (uint64_t)(c & 1);
            r.type = 'C';
            r.status = 0;
            r.length = 6 * 192 + 2 * 96;
            r.data = data;
            r.data_len = end;
            umw_write(w, &r);
        }
    }
    umw_control(w, bus, dev, 0x1102, alt0, NULL, 0, 0);
}

/* A record as QEMU's pcap= (hw/usb/pcap.c) writes it: bus 0, status 0 in a
 * submission, length 0 and no data in an IN submission and an OUT
 * completion, len_cap counting the 64-byte header, data cut to cut bytes
 * (the record saying how long it was). */
static void qemu_rec(struct umw *w, uint64_t t, char type, uint8_t xfer, uint8_t ep, uint8_t dev,
                     uint32_t id, int32_t status, const uint8_t *setup, const void *data,
                     uint32_t len, uint32_t cut)
{
    uint8_t rec[64 + 4096];
    uint32_t kept = len < cut ? len : cut, cap = 64 + kept;
    memset(rec, 0, 64);
    memcpy(rec, &id, 4);
    rec[8] = (uint8_t)type;
    rec[9] = xfer;
    rec[10] = ep;
    rec[11] = dev;
    rec[15] = data ? '=' : (ep & 0x80) ? '<' : '>';
    memcpy(rec + 28, &status, 4);
    memcpy(rec + 32, &len, 4);
    memcpy(rec + 36, &cap, 4);
    if (setup)
        memcpy(rec + 40, setup, 8);
    if (kept)
        memcpy(rec + 64, data, kept);
    umw_write_raw(w, t, rec, cap, 64 + len);
}

void umw_qemu(struct umw *w)
{
    static const uint8_t device[18] = { 18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x27, 0x06,
                                        0x01, 0x00, 0x00, 0x00, 1, 2, 3, 1 };
    static const uint8_t getdev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    static const uint8_t setaddr[8] = { 0x00, 5, 3, 0, 0, 0, 0, 0 };
    static const uint8_t getqual[8] = { 0x80, 6, 0, 6, 0, 0, 10, 0 };
    static const uint8_t setcfg[8] = { 0x00, 9, 1, 0, 0, 0, 0, 0 };
    static const uint8_t setidle[8] = { 0x21, 0x0a, 0, 0, 0, 0, 0, 0 };
    static const uint8_t getrep[8] = { 0x81, 6, 0, 0x22, 0, 0, 63, 0 };
    uint8_t big[512], cbw[31] = { 'U', 'S', 'B', 'C' };
    for (int i = 0; i < 512; i++)
        big[i] = (uint8_t)i;
    /* an emulated device's synchronous control transfers, at 0 then 3 */
    qemu_rec(w, 100, 'S', 2, 0x80, 0, 0, 0, getdev, NULL, 0, 4096);
    qemu_rec(w, 101, 'C', 2, 0x80, 0, 0, 0, NULL, device, 18, 4096);
    qemu_rec(w, 102, 'S', 2, 0x00, 0, 0, 0, setaddr, NULL, 0, 4096);
    qemu_rec(w, 103, 'C', 2, 0x00, 0, 0, 0, NULL, NULL, 0, 4096);
    qemu_rec(w, 104, 'S', 2, 0x80, 3, 0, 0, getqual, NULL, 0, 4096);
    qemu_rec(w, 105, 'C', 2, 0x80, 3, 0, -EREMOTEIO, NULL, NULL, 0, 4096);
    /* usb-redir's: no completions but the failed one's; at address 1 */
    qemu_rec(w, 200, 'S', 2, 0x00, 1, 0, 0, setcfg, NULL, 0, 4096);
    qemu_rec(w, 201, 'S', 2, 0x80, 1, 0, 0, getrep, NULL, 0, 4096);
    qemu_rec(w, 202, 'S', 2, 0x00, 1, 0, 0, setidle, NULL, 0, 4096);
    qemu_rec(w, 203, 'S', 2, 0x80, 1, 0, 0, getqual, NULL, 0, 4096);
    /* (with its stale buffer: the device descriptor read before) */
    qemu_rec(w, 204, 'C', 2, 0x80, 1, 0, -EREMOTEIO, NULL, device, 10, 4096);
    /* bulk: a CBW out (its completion with length 0), 512 bytes in, cut */
    qemu_rec(w, 300, 'S', 3, 0x02, 1, 0x40, 0, NULL, cbw, 31, 256);
    qemu_rec(w, 301, 'C', 3, 0x02, 1, 0x40, 0, NULL, NULL, 0, 256);
    qemu_rec(w, 302, 'S', 3, 0x81, 1, 0x41, 0, NULL, NULL, 0, 256);
    qemu_rec(w, 303, 'S', 3, 0x81, 1, 0x41, 0, NULL, NULL, 0, 256); /* after a NAK */
    qemu_rec(w, 304, 'C', 3, 0x81, 1, 0x41, 0, NULL, big, 512, 256);
    /* another, the device gone */
    qemu_rec(w, 400, 'S', 3, 0x81, 1, 0x42, 0, NULL, NULL, 0, 256);
    qemu_rec(w, 401, 'C', 3, 0x81, 1, 0x42, -ENODEV, NULL, NULL, 0, 256);
}

/*
 * usbmon-make - usbmon captures for the command's tests (tests/cli/run.sh)
 * and its fixtures (tests/cli/make-fixtures.sh), written with
 * tests/support/usbmonw.c:
 *
 *   usbmon-make cat [--usb-linux] OUT [--device BUS.DEV] IN...
 *       the records of the usbmon captures IN (64-byte headers, as the
 *       model's --usbmon writes them) in time order into OUT, each IN's
 *       device renumbered BUS.DEV when given; --usb-linux: OUT in the
 *       48-byte form (link type USB_LINUX), else USB_LINUX_MMAPPED
 *   usbmon-make audio [--usb-linux] OUT
 *       the audio-like device of usbmonw.h at 1.4 (12 iso URBs)
 *   usbmon-make hub [--usb-linux] OUT
 *       the hub of usbmonw.h at 1.1 (40 status changes)
 *   usbmon-make qemu OUT
 *       what QEMU's pcap= writes (usbmonw.h, umw_qemu())
 *
 * Exits 1 with a message when an input cannot be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "usbmonw.h"

struct rec {
    uint64_t t_us;
    uint32_t caplen, len, order;
    uint8_t *b;
};

static int by_time(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->t_us != y->t_us)
        return x->t_us < y->t_us ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cat(int argc, char **argv, int linktype)
{
    struct rec *r = NULL;
    size_t n = 0, cap = 0, i;
    int bus = -1, dev = -1, a;
    struct umw *w;
    for (a = 1; a < argc; a++) {
        char eb[PCAP_ERRBUF_SIZE];
        struct pcap_pkthdr *h;
        const u_char *d;
        pcap_t *p;
        if (!strcmp(argv[a], "--device") && a + 1 < argc) {
            if (sscanf(argv[++a], "%d.%d", &bus, &dev) != 2)
                return fprintf(stderr, "usbmon-make: --device BUS.DEV\n"), 2;
            continue;
        }
        if (!(p = pcap_open_offline(argv[a], eb)))
            return fprintf(stderr, "usbmon-make: %s\n", eb), 1;
        if (pcap_datalink(p) != UMW_USB_LINUX_MMAPPED)
            return fprintf(stderr, "usbmon-make: %s: not link type 220\n", argv[a]), 1;
        while (pcap_next_ex(p, &h, &d) == 1) {
            if (h->caplen < 64)
                continue;
            if (n == cap && !(r = realloc(r, (cap = cap ? cap * 2 : 256) * sizeof(*r))))
                abort();
            r[n].t_us = (uint64_t)(h->ts.tv_sec - 1700000000) * 1000000u + (uint64_t)h->ts.tv_usec;
            r[n].caplen = h->caplen;
            r[n].len = h->len;
            r[n].order = (uint32_t)n;
            if (!(r[n].b = malloc(h->caplen)))
                abort();
            memcpy(r[n].b, d, h->caplen);
            if (bus >= 0) {
                uint16_t b16 = (uint16_t)bus;
                r[n].b[11] = (uint8_t)dev;
                memcpy(r[n].b + 12, &b16, 2);
            }
            n++;
        }
        pcap_close(p);
        bus = dev = -1;
    }
    qsort(r, n, sizeof(*r), by_time);
    if (!(w = umw_open(argv[0], linktype)))
        return fprintf(stderr, "usbmon-make: cannot create %s\n", argv[0]), 1;
    for (i = 0; i < n; i++) {
        umw_write_raw(w, r[i].t_us, r[i].b, r[i].caplen, r[i].len);
        free(r[i].b);
    }
    umw_close(w);
    free(r);
    return 0;
}

int main(int argc, char **argv)
{
    int linktype = UMW_USB_LINUX_MMAPPED, a = 2;
    if (argc > 2 && !strcmp(argv[2], "--usb-linux")) {
        linktype = UMW_USB_LINUX;
        a = 3;
    }
    if (argc > a + 1 && !strcmp(argv[1], "cat"))
        return cat(argc - a, argv + a, linktype);
    if (argc == a + 1 &&
        (!strcmp(argv[1], "audio") || !strcmp(argv[1], "hub") || !strcmp(argv[1], "qemu"))) {
        struct umw *w = umw_open(argv[a], linktype);
        if (!w)
            return fprintf(stderr, "usbmon-make: cannot create %s\n", argv[a]), 1;
        if (!strcmp(argv[1], "audio"))
            umw_audio(w, 1, 4, 12);
        else if (!strcmp(argv[1], "hub"))
            umw_hub(w, 1, 1, 40);
        else
            umw_qemu(w);
        umw_close(w);
        return 0;
    }
    fprintf(stderr, "usage: usbmon-make cat [--usb-linux] OUT [--device BUS.DEV] IN...\n"
                    "       usbmon-make audio|hub|qemu [--usb-linux] OUT\n");
    return 2;
}

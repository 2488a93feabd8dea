/*
 * test_usbmon.c - usbmon captures imported as usbredir sessions
 * (transport/usbmon.c, urg_capture_import()): the fixtures the model wrote
 * (fixtures/NAME.usbmon.pcap) in both link types, a whole bus with a hub and
 * two devices (which is taken, and why), an audio-like device whose iso
 * endpoint an alternate setting brings and takes away, a capture begun
 * after the device was set up, one with no descriptors, QEMU's pcap= way
 * of writing them, and damaged ones. Synthesized captures come from
 * tests/support/usbmonw.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "urg_capture.h"
#include "urg_codec.h"
#include "usbmonw.h"

/* ---------------------------------------------------------------- helpers */

/* A decoded packet, kept. */
struct kept {
    enum urg_dir dir;
    uint64_t time_ns;
    struct urg_packet p;
    uint8_t *data;
};

struct session {
    struct kept *k;
    size_t n, cap;
    char note[1024];
};

static int keep(void *ctx, const struct urg_capture_packet *cp)
{
    struct session *s = ctx;
    struct kept *k;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->k = realloc(s->k, s->cap * sizeof(*s->k));
        assert_non_null(s->k);
    }
    k = &s->k[s->n++];
    k->dir = cp->dir;
    k->time_ns = cp->time_ns;
    k->p = *cp->p;
    k->data = NULL;
    if (cp->p->type != URG_HELLO && cp->p->data_len) {
        k->data = malloc(cp->p->data_len);
        assert_non_null(k->data);
        memcpy(k->data, cp->p->data, cp->p->data_len);
    }
    k->p.data = k->data;
    return 0;
}

static void session_free(struct session *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->k[i].data);
    free(s->k);
    memset(s, 0, sizeof(*s));
}

/* Imports path (the device bus.address, -1 the default) into memory and
 * decodes it into *s; fails the test on an error. */
static void import(const char *path, int bus, int address, struct session *s)
{
    struct urg_import_config ic;
    char err[400];
    void *mem;
    size_t len;
    int rc;
    memset(s, 0, sizeof(*s));
    urg_import_config_init(&ic);
    ic.usb_bus = bus;
    ic.usb_address = address;
    rc = urg_capture_import_mem(path, &ic, &mem, &len, s->note, sizeof(s->note), err, sizeof(err));
    if (rc)
        fail_msg("%s: %s", path, err);
    rc = urg_capture_decode_mem(mem, len, keep, s, err, sizeof(err));
    if (rc)
        fail_msg("%s decoded: %s", path, err);
    free(mem);
}

/* The error of importing path (device bus.address), err its message. */
static int import_error(const char *path, int bus, int address, char *err, size_t cap)
{
    struct urg_import_config ic;
    void *mem = NULL;
    size_t len;
    int rc;
    urg_import_config_init(&ic);
    ic.usb_bus = bus;
    ic.usb_address = address;
    rc = urg_capture_import_mem(path, &ic, &mem, &len, NULL, 0, err, cap);
    assert_null(mem);
    return rc;
}

/* The i-th packet of type (0 the first) in dir; NULL if none. */
static const struct kept *nth(const struct session *s, uint32_t type, int dir, int i)
{
    for (size_t k = 0; k < s->n; k++)
        if (s->k[k].p.type == type && (dir < 0 || (int)s->k[k].dir == dir) && i-- == 0)
            return &s->k[k];
    return NULL;
}

static size_t count(const struct session *s, uint32_t type)
{
    size_t c = 0;
    for (size_t k = 0; k < s->n; k++)
        c += s->k[k].p.type == type;
    return c;
}

static char path_buf[4][80];
static const char *tmp(int i, const char *what)
{
    snprintf(path_buf[i], sizeof(path_buf[i]), "/tmp/urg-usbmon-%d-%s.pcap", (int)getpid(),
             what);
    return path_buf[i];
}

/* Copies the usbmon capture in (64-byte headers) into out in the form of
 * linktype, each record's device renumbered bus.dev (bus -1: kept). */
static void copy_capture(const char *in, const char *out, int linktype, int bus, int dev)
{
    char eb[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    pcap_t *p = pcap_open_offline(in, eb);
    struct umw *w = umw_open(out, linktype);
    assert_non_null(p);
    assert_non_null(w);
    assert_int_equal(pcap_datalink(p), UMW_USB_LINUX_MMAPPED);
    while (pcap_next_ex(p, &h, &d) == 1) {
        uint8_t b[70000];
        assert_true(h->caplen <= sizeof(b) && h->caplen >= 64);
        memcpy(b, d, h->caplen);
        if (bus >= 0) {
            uint16_t b16 = (uint16_t)bus;
            b[11] = (uint8_t)dev;
            memcpy(b + 12, &b16, 2);
        }
        umw_write_raw(w, (uint64_t)(h->ts.tv_sec - 1700000000) * 1000000u + (uint64_t)h->ts.tv_usec,
                      b, h->caplen, h->len);
    }
    pcap_close(p);
    umw_close(w);
}

/* ---------------------------------------------------------------- the model's captures */

/* The keyboard the model recorded (lsusb, then hid -n 22): the device from
 * its descriptors, its speed from the interrupt URBs' interval, the
 * control transfers as control_packets, the reports as an interrupt
 * stream of 22 packets. */
static void test_keyboard_fixture(void **state)
{
    static const uint8_t report_h[8] = { 0, 0, 0x0b, 0, 0, 0, 0, 0 };
    struct session s;
    const struct kept *k;
    (void)state;
    import("fixtures/keyboard.usbmon.pcap", -1, -1, &s);
    assert_string_equal(s.note, "usb device 1.0 (0627:0001): the only one in the capture; "
                                "speed high: interval 64 microframes for bInterval 7 on "
                                "endpoint 0x81");
    /* the synthesized hellos, then the device */
    assert_int_equal(s.k[0].p.type, URG_HELLO);
    assert_int_equal(s.k[0].dir, URG_DIR_TO_HOST);
    assert_int_equal(s.k[1].p.type, URG_HELLO);
    assert_int_equal(s.k[1].p.h.hello.caps[0], URG_CAPS_ALL);
    k = &s.k[2];
    assert_int_equal(k->p.type, URG_INTERFACE_INFO);
    assert_int_equal(k->p.h.interface_info.interface_count, 1);
    assert_int_equal(k->p.h.interface_info.interface_class[0], 3);
    assert_int_equal(k->p.h.interface_info.interface_protocol[0], 1);
    k = &s.k[3];
    assert_int_equal(k->p.type, URG_EP_INFO);
    assert_int_equal(k->p.h.ep_info.type[urg_ep_index(0x81)], URG_EP_INTERRUPT);
    assert_int_equal(k->p.h.ep_info.interval[urg_ep_index(0x81)], 7);
    assert_int_equal(k->p.h.ep_info.max_packet_size[urg_ep_index(0x81)], 8);
    assert_int_equal(k->p.h.ep_info.type[urg_ep_index(0x02)], URG_EP_INVALID);
    assert_int_equal(k->p.h.ep_info.max_packet_size[0], 64);
    k = &s.k[4];
    assert_int_equal(k->p.type, URG_DEVICE_CONNECT);
    assert_int_equal(k->p.h.device_connect.vendor_id, 0x0627);
    assert_int_equal(k->p.h.device_connect.product_id, 0x0001);
    assert_int_equal(k->p.h.device_connect.speed, URG_SPEED_HIGH);
    /* the device descriptor read, answered with its 18 bytes */
    k = nth(&s, URG_CONTROL_PACKET, URG_DIR_TO_GUEST, 0);
    assert_non_null(k);
    assert_int_equal(k->p.h.control.value, 0x0100);
    assert_int_equal(k->p.data_len, 18);
    assert_int_equal(k->data[1], 1);
    /* the device qualifier: stalled */
    {
        bool stalled = false;
        for (int i = 0; (k = nth(&s, URG_CONTROL_PACKET, URG_DIR_TO_GUEST, i)); i++)
            if (k->p.h.control.value == 0x0600)
                stalled = k->p.h.control.status == URG_STATUS_STALL && !k->p.data_len;
        assert_true(stalled);
    }
    /* SET_IDLE and SET_PROTOCOL, OUT requests without data */
    {
        int class_out = 0;
        for (int i = 0; (k = nth(&s, URG_CONTROL_PACKET, URG_DIR_TO_HOST, i)); i++)
            class_out += k->p.h.control.requesttype == 0x21;
        assert_int_equal(class_out, 2);
    }
    /* the reports: a stream started once, 22 packets in order */
    assert_int_equal(count(&s, URG_START_INTERRUPT_RECEIVING), 1);
    assert_int_equal(nth(&s, URG_INTERRUPT_RECEIVING_STATUS, -1, 0)->p.h.interrupt_receiving_status
                         .status,
                     URG_STATUS_SUCCESS);
    assert_int_equal(count(&s, URG_INTERRUPT_PACKET), 22);
    k = nth(&s, URG_INTERRUPT_PACKET, URG_DIR_TO_GUEST, 0);
    assert_int_equal(k->p.id, 0);
    assert_int_equal(k->p.data_len, 8);
    assert_memory_equal(k->data, report_h, 8);
    assert_int_equal(nth(&s, URG_INTERRUPT_PACKET, URG_DIR_TO_GUEST, 21)->p.id, 21);
    /* times kept: the reports come after the descriptors, in order */
    assert_true(nth(&s, URG_INTERRUPT_PACKET, -1, 0)->time_ns >
                nth(&s, URG_CONTROL_PACKET, -1, 0)->time_ns);
    for (size_t i = 1; i < s.n; i++)
        assert_true(s.k[i].time_ns >= s.k[i - 1].time_ns);
    session_free(&s);
}

/* The same capture in the 48-byte form (link type USB_LINUX) gives the
 * same session but the speed: without the URBs' intervals nothing says
 * high. */
static void test_usb_linux_48(void **state)
{
    const char *p48 = tmp(0, "kbd48");
    struct session a, b;
    (void)state;
    copy_capture("fixtures/keyboard.usbmon.pcap", p48, UMW_USB_LINUX, -1, -1);
    import("fixtures/keyboard.usbmon.pcap", -1, -1, &a);
    import(p48, -1, -1, &b);
    assert_non_null(strstr(b.note, "speed full: nothing in the capture says high or SuperSpeed"));
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        struct urg_packet x = a.k[i].p, y = b.k[i].p;
        if (x.type == URG_DEVICE_CONNECT)
            x.h.device_connect.speed = y.h.device_connect.speed = 0;
        x.data = y.data = NULL;
        assert_int_equal(a.k[i].dir, b.k[i].dir);
        assert_int_equal(a.k[i].time_ns, b.k[i].time_ns);
        assert_memory_equal(&x, &y, sizeof(x));
        assert_int_equal(a.k[i].p.data_len, b.k[i].p.data_len);
        if (a.k[i].data)
            assert_memory_equal(a.k[i].data, b.k[i].data, a.k[i].p.data_len);
    }
    session_free(&a);
    session_free(&b);
    unlink(p48);
}

/* Mass storage (lsusb, then a write of 16 blocks read back): SuperSpeed by
 * its bcdUSB, the bulk transfers as bulk_packet requests and answers, the
 * written blocks in the OUT requests. */
static void test_msc_fixture(void **state)
{
    struct session s;
    const struct kept *k;
    int writes = 0, reads = 0;
    (void)state;
    import("fixtures/msc.usbmon.pcap", -1, -1, &s);
    assert_non_null(strstr(s.note, "usb device 1.0 (46f4:0001)"));
    assert_non_null(strstr(s.note, "speed super: bcdUSB 3.00"));
    k = nth(&s, URG_EP_INFO, -1, 0);
    assert_int_equal(k->p.h.ep_info.type[urg_ep_index(0x81)], URG_EP_BULK);
    assert_int_equal(k->p.h.ep_info.max_packet_size[urg_ep_index(0x02)], 1024);
    assert_int_equal(k->p.h.ep_info.max_packet_size[0], 512);
    for (int i = 0; (k = nth(&s, URG_BULK_PACKET, URG_DIR_TO_HOST, i)); i++) {
        if (k->p.h.bulk.endpoint == 0x02 && k->p.data_len == 8192) {
            writes++;
            assert_int_equal(k->data[0], 'A');
            assert_int_equal(k->data[8191], 'A' + 8191 % 26);
        }
    }
    for (int i = 0; (k = nth(&s, URG_BULK_PACKET, URG_DIR_TO_GUEST, i)); i++)
        reads += k->p.h.bulk.endpoint == 0x81 && k->p.data_len == 8192;
    assert_int_equal(writes, 1);
    assert_int_equal(reads, 2); /* the verify, then --read 32:16 */
    /* every request answered, with its id */
    for (int i = 0; (k = nth(&s, URG_BULK_PACKET, URG_DIR_TO_HOST, i)); i++) {
        const struct kept *r = NULL;
        for (int j = 0; (r = nth(&s, URG_BULK_PACKET, URG_DIR_TO_GUEST, j)); j++)
            if (r->p.id == k->p.id)
                break;
        assert_non_null(r);
    }
    session_free(&s);
}

/* ---------------------------------------------------------------- a bus */

/* A bus with a hub (the most data of all), the audio device and the model's
 * keyboard renumbered 1.5: the audio device is taken by default (the most
 * data but the hub's), and says so; one asked for by its bus and address
 * is taken (the hub too); an address with no URBs is refused, naming the
 * devices there are. */
static void test_bus(void **state)
{
    const char *kbd = tmp(0, "kbd5"), *bus = tmp(1, "bus");
    struct session s;
    char err[400];
    struct umw *w;
    (void)state;
    copy_capture("fixtures/keyboard.usbmon.pcap", kbd, UMW_USB_LINUX_MMAPPED, 1, 5);
    w = umw_open(bus, UMW_USB_LINUX_MMAPPED);
    assert_non_null(w);
    umw_now = 0;
    umw_hub(w, 1, 1, 400);
    umw_audio(w, 1, 4, 12);
    umw_close(w);
    /* the keyboard's records after those */
    {
        const char *merged = tmp(2, "merged");
        char eb[PCAP_ERRBUF_SIZE];
        struct pcap_pkthdr *h;
        const u_char *d;
        pcap_t *p;
        w = umw_open(merged, UMW_USB_LINUX_MMAPPED);
        for (int f = 0; f < 2; f++) {
            p = pcap_open_offline(f ? kbd : bus, eb);
            assert_non_null(p);
            while (pcap_next_ex(p, &h, &d) == 1)
                umw_write_raw(w, (uint64_t)(h->ts.tv_sec - 1700000000) * 1000000u +
                                     (uint64_t)h->ts.tv_usec,
                              d, h->caplen, h->len);
            pcap_close(p);
        }
        umw_close(w);
        rename(merged, bus);
    }
    import(bus, -1, -1, &s);
    assert_string_equal(s.note, "usb device 1.4 (46f4:0003): the one with the most data (17280 "
                                "bytes) of the 3 devices (1.1, 1.4, 1.5), hubs aside; speed "
                                "full: nothing in the capture says high or SuperSpeed");
    assert_int_equal(nth(&s, URG_DEVICE_CONNECT, -1, 0)->p.h.device_connect.product_id, 3);
    session_free(&s);
    import(bus, 1, 5, &s);
    assert_non_null(strstr(s.note, "usb device 1.5 (0627:0001): the one asked for; speed high"));
    assert_int_equal(count(&s, URG_INTERRUPT_PACKET), 22);
    assert_int_equal(count(&s, URG_ISO_PACKET), 0);
    session_free(&s);
    import(bus, 1, 1, &s);
    assert_non_null(strstr(s.note, "usb device 1.1 (1d6b:0002): the one asked for"));
    assert_int_equal(nth(&s, URG_DEVICE_CONNECT, -1, 0)->p.h.device_connect.device_class, 9);
    assert_int_equal(count(&s, URG_INTERRUPT_PACKET), 400);
    session_free(&s);
    assert_int_equal(import_error(bus, 2, 5, err, sizeof(err)), URG_ERR_PCAP);
    assert_non_null(strstr(err, ": no URBs of usb device 2.5 in the capture (its devices: 1.1, "
                                "1.4, 1.5)"));
    assert_non_null(strstr(err, bus));
    /* hubs alone */
    w = umw_open(bus, UMW_USB_LINUX_MMAPPED);
    umw_hub(w, 1, 1, 3);
    umw_hub(w, 2, 1, 3);
    umw_close(w);
    assert_int_equal(import_error(bus, -1, -1, err, sizeof(err)), URG_ERR_PCAP);
    assert_non_null(strstr(err, ": only hubs in the capture (1.1, 2.1)"));
    unlink(kbd);
    unlink(bus);
}

/* A root hub of Linux, enumerated before the capture began: no
 * descriptors, address 1, status changes of a few bytes on 0x81 - more
 * data than the keyboard beside it, with no descriptors either, whose
 * reports are 8 bytes; the keyboard is taken. */
static void test_root_hub(void **state)
{
    const char *path = tmp(0, "roothub");
    uint8_t b[8] = { 2, 0, 0, 0, 0, 0, 0, 0 };
    struct session s;
    struct umw *w;
    (void)state;
    w = umw_open(path, UMW_USB_LINUX_MMAPPED);
    assert_non_null(w);
    for (int i = 0; i < 50; i++)
        umw_transfer(w, 2, 1, 0x77, 1, 0x81, 256, 4, b, 4, 0);
    for (int i = 0; i < 10; i++)
        umw_transfer(w, 2, 2, 0x78, 1, 0x81, 8, 8, b, 8, 0);
    umw_close(w);
    import(path, -1, -1, &s);
    if (!strstr(s.note, "usb device 2.2: the one with the most data (80 bytes) of the 2 devices "
                        "(2.1, 2.2), hubs aside"))
        fail_msg("%s", s.note);
    assert_int_equal(count(&s, URG_INTERRUPT_PACKET), 10);
    session_free(&s);
    /* a device at address 1 that does more than a hub does is no hub */
    w = umw_open(path, UMW_USB_LINUX_MMAPPED);
    for (int i = 0; i < 50; i++)
        umw_transfer(w, 2, 1, 0x77, 1, 0x81, 256, 8, b, 8, 0);
    for (int i = 0; i < 10; i++)
        umw_transfer(w, 2, 2, 0x78, 1, 0x81, 8, 8, b, 8, 0);
    umw_close(w);
    import(path, -1, -1, &s);
    if (!strstr(s.note, "usb device 2.1: the one with the most data (400 bytes)"))
        fail_msg("%s", s.note);
    session_free(&s);
    unlink(path);
}

/* ---------------------------------------------------------------- settings and iso */

/* The audio device: its iso IN endpoint exists only in alternate setting 1
 * of interface 1. SET_CONFIGURATION and SET_INTERFACE become
 * set_configuration and set_alt_setting, each answered after the
 * interface_info and ep_info they bring; the iso URBs an iso stream
 * (pkts_per_urb 8, no_urbs 2: two were in flight), each descriptor a
 * packet with its bytes; the stream is stopped before the setting that
 * takes the endpoint away. */
static void test_audio_alt_settings(void **state)
{
    const char *path = tmp(0, "audio");
    struct session s;
    const struct kept *k;
    size_t i, sa1 = 0, sa0 = 0, stop = 0, last_iso = 0;
    struct umw *w;
    (void)state;
    w = umw_open(path, UMW_USB_LINUX_MMAPPED);
    umw_audio(w, 1, 4, 12);
    umw_close(w);
    import(path, -1, -1, &s);
    assert_string_equal(s.note, "usb device 1.4 (46f4:0003): the only one in the capture; speed "
                                "full: nothing in the capture says high or SuperSpeed");
    /* at connect: configuration 1, alternate settings 0: no 0x81 */
    k = nth(&s, URG_INTERFACE_INFO, -1, 0);
    assert_int_equal(k->p.h.interface_info.interface_count, 2);
    assert_int_equal(k->p.h.interface_info.interface_subclass[1], 2);
    assert_int_equal(nth(&s, URG_EP_INFO, -1, 0)->p.h.ep_info.type[urg_ep_index(0x81)],
                     URG_EP_INVALID);
    k = nth(&s, URG_SET_CONFIGURATION, -1, 0);
    assert_non_null(k);
    assert_int_equal(k->p.h.set_configuration.configuration, 1);
    assert_int_equal(nth(&s, URG_CONFIGURATION_STATUS, -1, 0)->p.id, k->p.id);
    for (i = 0; i < s.n; i++) {
        if (s.k[i].p.type == URG_SET_ALT_SETTING && !sa1)
            sa1 = i;
        else if (s.k[i].p.type == URG_SET_ALT_SETTING)
            sa0 = i;
        if (s.k[i].p.type == URG_STOP_ISO_STREAM)
            stop = i;
        if (s.k[i].p.type == URG_ISO_PACKET)
            last_iso = i;
    }
    assert_int_equal(s.k[sa1].p.h.set_alt_setting.interface, 1);
    assert_int_equal(s.k[sa1].p.h.set_alt_setting.alt, 1);
    /* its answer: interface_info, ep_info with 0x81 iso, then the status */
    assert_int_equal(s.k[sa1 + 1].p.type, URG_INTERFACE_INFO);
    assert_int_equal(s.k[sa1 + 2].p.type, URG_EP_INFO);
    assert_int_equal(s.k[sa1 + 2].p.h.ep_info.type[urg_ep_index(0x81)], URG_EP_ISO);
    assert_int_equal(s.k[sa1 + 2].p.h.ep_info.interface[urg_ep_index(0x81)], 1);
    assert_int_equal(s.k[sa1 + 2].p.h.ep_info.max_packet_size[urg_ep_index(0x81)], 192);
    assert_int_equal(s.k[sa1 + 2].p.h.ep_info.interval[urg_ep_index(0x81)], 1);
    assert_int_equal(s.k[sa1 + 3].p.type, URG_ALT_SETTING_STATUS);
    assert_int_equal(s.k[sa1 + 3].p.h.alt_setting_status.alt, 1);
    assert_int_equal(s.k[sa1 + 3].p.id, s.k[sa1].p.id);
    /* the stream */
    k = nth(&s, URG_START_ISO_STREAM, -1, 0);
    assert_int_equal(k->p.h.start_iso_stream.endpoint, 0x81);
    assert_int_equal(k->p.h.start_iso_stream.pkts_per_urb, 8);
    assert_int_equal(k->p.h.start_iso_stream.no_urbs, 2);
    assert_int_equal(count(&s, URG_ISO_PACKET), 12 * 8);
    for (int u = 0; u < 12; u++) {
        for (int j = 0; j < 8; j++) {
            uint8_t want[192];
            k = nth(&s, URG_ISO_PACKET, URG_DIR_TO_GUEST, u * 8 + j);
            assert_int_equal(k->p.id, (uint64_t)(u * 8 + j));
            assert_int_equal(k->p.h.iso.status, URG_STATUS_SUCCESS);
            assert_int_equal(k->p.data_len, j % 4 == 3 ? 96 : 192);
            memset(want, (u * 8 + j) & 0xff, sizeof(want));
            assert_memory_equal(k->data, want, k->p.data_len);
        }
    }
    /* stopped before alternate setting 0, which takes 0x81 away */
    assert_true(last_iso < stop && stop < sa0);
    assert_int_equal(s.k[stop].p.h.stop_iso_stream.endpoint, 0x81);
    assert_int_equal(s.k[sa0].p.h.set_alt_setting.alt, 0);
    assert_int_equal(s.k[sa0 + 2].p.type, URG_EP_INFO);
    assert_int_equal(s.k[sa0 + 2].p.h.ep_info.type[urg_ep_index(0x81)], URG_EP_INVALID);
    session_free(&s);
    unlink(path);
}

/* A hostile iso record: 1000 descriptors that all name the same 4096
 * bytes. The session carries no more iso bytes than the record holds (it
 * carried 1000 times as many: a small file made a huge capture). */
static void test_overlapping_iso_descriptors(void **state)
{
    const char *path = tmp(0, "overlap");
    static uint8_t data[4096];
    static struct umw_iso desc[1000];
    struct umw_rec r;
    struct session s;
    struct umw *w;
    uint64_t bytes = 0;
    (void)state;
    for (int i = 0; i < 1000; i++)
        desc[i] = (struct umw_iso){ 0, 0, 4096 };
    memset(&r, 0, sizeof(r));
    r.xfer = 0;
    r.ep = 0x81;
    r.dev = 3;
    r.bus = 2;
    r.interval = 1;
    r.numdesc = r.ndesc = 1000;
    r.desc = desc;
    r.id = 7;
    r.type = 'C';
    r.length = 4096;
    r.data = data;
    r.data_len = sizeof(data);
    w = umw_open(path, UMW_USB_LINUX_MMAPPED);
    umw_write(w, &r);
    umw_close(w);
    import(path, -1, -1, &s);
    for (size_t i = 0; i < s.n; i++)
        if (s.k[i].p.type == URG_ISO_PACKET)
            bytes += s.k[i].p.data_len;
    assert_true(bytes <= sizeof(data));
    assert_true(count(&s, URG_ISO_PACKET) >= 1);
    session_free(&s);
}

/* A capture begun once the device was set up: iso URBs on an endpoint only
 * alternate setting 1 has, before any SET_INTERFACE: the session starts in
 * that setting. With no descriptors at all, the endpoints the URBs used
 * make one interface, and the note says so. */
static void test_begun_late(void **state)
{
    const char *path = tmp(0, "late");
    static const uint8_t device[18] = { 18, 1, 0x10, 0x01, 0, 0, 0, 64, 0xf4, 0x46,
                                        0x03, 0x00, 0x00, 0x01, 0, 0, 0, 1 };
    static const uint8_t config[50] = {
        9, 2, 50, 0, 2, 1, 0, 0x80, 50, 9, 4, 0, 0, 0, 1, 1, 0, 0,
        9, 4, 1, 0, 0, 1, 2, 0, 0,      9, 4, 1, 1, 1, 1, 2, 0, 0,
        7, 0x24, 1, 1, 1, 1, 0,         7, 5, 0x81, 5, 192, 0, 1,
    };
    static const uint8_t getdev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    static const uint8_t getcfg[8] = { 0x80, 6, 0, 2, 0, 0, 50, 0 };
    uint8_t data[192];
    struct umw_iso desc = { 0, 0, 192 };
    struct umw_rec r;
    struct session s;
    struct umw *w;
    (void)state;
    memset(data, 0x5a, sizeof(data));
    memset(&r, 0, sizeof(r));
    r.xfer = 0;
    r.ep = 0x81;
    r.dev = 3;
    r.bus = 2;
    r.interval = 1;
    r.numdesc = r.ndesc = 1;
    r.desc = &desc;
    w = umw_open(path, UMW_USB_LINUX_MMAPPED);
    /* a completion of an URB submitted before the capture began */
    r.id = 7;
    r.type = 'C';
    r.length = 192;
    r.data = data;
    r.data_len = 192;
    umw_write(w, &r);
    umw_control(w, 2, 3, 1, getdev, device, 18, 0);
    umw_control(w, 2, 3, 1, getcfg, config, 50, 0);
    umw_close(w);
    import(path, -1, -1, &s);
    assert_int_equal(nth(&s, URG_EP_INFO, -1, 0)->p.h.ep_info.type[urg_ep_index(0x81)],
                     URG_EP_ISO);
    assert_int_equal(nth(&s, URG_INTERFACE_INFO, -1, 0)->p.h.interface_info.interface_count, 2);
    assert_int_equal(count(&s, URG_START_ISO_STREAM), 1);
    assert_int_equal(count(&s, URG_ISO_PACKET), 1);
    assert_int_equal(nth(&s, URG_ISO_PACKET, -1, 0)->data[191], 0x5a);
    session_free(&s);
    /* no descriptors: interrupt URBs alone */
    w = umw_open(path, UMW_USB_LINUX_MMAPPED);
    for (int i = 0; i < 3; i++)
        umw_transfer(w, 2, 3, 9, 1, 0x82, 8, 16, data, 4, 0);
    umw_close(w);
    import(path, -1, -1, &s);
    assert_non_null(strstr(s.note, "no device descriptor in the capture: vendor and product "
                                   "0000:0000"));
    assert_non_null(strstr(s.note, "no configuration descriptor in the capture: one interface "
                                   "(class ff) with the endpoints its URBs used"));
    {
        const struct kept *k = nth(&s, URG_EP_INFO, -1, 0);
        assert_int_equal(k->p.h.ep_info.type[urg_ep_index(0x82)], URG_EP_INTERRUPT);
        assert_int_equal(k->p.h.ep_info.interval[urg_ep_index(0x82)], 8);
        assert_int_equal(k->p.h.ep_info.max_packet_size[urg_ep_index(0x82)], 4);
        assert_int_equal(nth(&s, URG_INTERFACE_INFO, -1, 0)->p.h.interface_info
                             .interface_class[0],
                         0xff);
    }
    assert_int_equal(count(&s, URG_INTERRUPT_PACKET), 3);
    session_free(&s);
    unlink(path);
}

/* ---------------------------------------------------------------- other writers, damage */

/* QEMU's pcap= of an emulated device and of usb-redir (umw_qemu()): one
 * device per file
 * on bus 0, at the addresses the firmware and the OS gave it (0, then 3,
 * then 1 here: one device, 0.0); every control URB id 0, a synchronous
 * one's completion with a zero setup, an asynchronous one's (usb-redir's)
 * only when it failed (-EREMOTEIO): the next control submission shows the
 * one before was done - an OUT one answered as done, an IN one left
 * unanswered, its data not being in the file; a failure written with
 * the stale buffer (no data, a stall); an IN data submission with
 * length 0 (the request made at the completion, as long as what came); an
 * OUT completion with length 0 (the whole moved); a submission repeated
 * after a NAK; data cut to 256 bytes; a device gone (-ENODEV). */
static void test_qemu_pcap(void **state)
{
    const char *path = tmp(0, "qemu");
    uint8_t big[512];
    struct session s;
    const struct kept *k;
    struct umw *w;
    (void)state;
    for (int i = 0; i < 512; i++)
        big[i] = (uint8_t)i;
    w = umw_open(path, UMW_USB_LINUX_MMAPPED);
    assert_non_null(w);
    umw_qemu(w);
    umw_close(w);
    import(path, -1, -1, &s);
    if (!strstr(s.note, "bus 0: QEMU's pcap=, one device per file (at addresses 0, 1, 3: 0.0); "
                        "usb device 0.0 (0627:0001): the only one in the capture") ||
        !strstr(s.note, "1 transfers' data was cut by the capture (kept as captured)") ||
        !strstr(s.note, "1 URBs never completed or were cancelled") ||
        !strstr(s.note, "1 submissions of an URB in flight again (QEMU's after a NAK) taken as "
                        "one") ||
        !strstr(s.note, "3 control transfers completed with no record of it (QEMU's pcap= "
                        "writes failed ones only): 2 OUT ones answered as done, 1 IN ones left "
                        "unanswered"))
        fail_msg("%s", s.note);
    /* the synchronous ones: the descriptor, SET_ADDRESS left out, a stall */
    k = nth(&s, URG_CONTROL_PACKET, URG_DIR_TO_GUEST, 0);
    assert_int_equal(k->p.h.control.value, 0x0100);
    assert_int_equal(k->p.h.control.status, URG_STATUS_SUCCESS);
    assert_int_equal(k->p.data_len, 18);
    k = nth(&s, URG_CONTROL_PACKET, URG_DIR_TO_GUEST, 1);
    assert_int_equal(k->p.h.control.value, 0x0600);
    assert_int_equal(k->p.h.control.status, URG_STATUS_STALL);
    /* SET_CONFIGURATION answered at once, as done */
    k = nth(&s, URG_SET_CONFIGURATION, -1, 0);
    assert_non_null(k);
    assert_int_equal(s.k[k - s.k + 3].p.type, URG_CONFIGURATION_STATUS);
    assert_int_equal(s.k[k - s.k + 3].p.h.configuration_status.status, URG_STATUS_SUCCESS);
    assert_int_equal(s.k[k - s.k + 3].time_ns, k->time_ns);
    /* the report descriptor's request unanswered; SET_IDLE answered; the
     * qualifier's failure */
    k = nth(&s, URG_CONTROL_PACKET, URG_DIR_TO_HOST, 2);
    assert_int_equal(k->p.h.control.requesttype, 0x81);
    assert_int_equal(s.k[k - s.k + 1].dir, URG_DIR_TO_HOST); /* no answer after it */
    k = nth(&s, URG_CONTROL_PACKET, URG_DIR_TO_GUEST, 2);
    assert_int_equal(k->p.h.control.requesttype, 0x21);
    assert_int_equal(k->p.h.control.status, URG_STATUS_SUCCESS);
    k = nth(&s, URG_CONTROL_PACKET, URG_DIR_TO_GUEST, 3);
    assert_int_equal(k->p.h.control.value, 0x0600);
    assert_int_equal(k->p.h.control.status, URG_STATUS_STALL);
    assert_int_equal(k->p.data_len, 0);
    assert_null(nth(&s, URG_CONTROL_PACKET, URG_DIR_TO_GUEST, 4));
    /* bulk: the CBW's 31 bytes moved; the IN asked and answered as 256 */
    k = nth(&s, URG_BULK_PACKET, URG_DIR_TO_GUEST, 0);
    assert_int_equal(k->p.h.bulk.endpoint, 0x02);
    assert_int_equal(k->p.h.bulk.length, 31);
    k = nth(&s, URG_BULK_PACKET, URG_DIR_TO_HOST, 1);
    assert_int_equal(k->p.h.bulk.length, 512);
    k = nth(&s, URG_BULK_PACKET, URG_DIR_TO_GUEST, 1);
    assert_int_equal(k->p.h.bulk.length, 256);
    assert_memory_equal(k->data, big, 256);
    assert_int_equal(count(&s, URG_BULK_PACKET), 4); /* the last never asked */
    session_free(&s);
    unlink(path);
}

/* Damage: a record shorter than its header, a file that stops inside a
 * record, no URBs, not a pcap; a memory budget under the capture. Each
 * says what, naming the file. */
static void test_damaged(void **state)
{
    const char *path = tmp(0, "damaged");
    struct urg_import_config ic;
    uint8_t rec[64];
    char err[400];
    void *mem;
    size_t len;
    struct umw *w;
    FILE *f;
    (void)state;
    memset(rec, 0, sizeof(rec));
    w = umw_open(path, UMW_USB_LINUX_MMAPPED);
    umw_audio(w, 1, 4, 1);
    umw_close(w);
    /* cut the file inside its last record */
    f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    assert_int_equal(ftruncate(fileno(f), ftell(f) - 5), 0);
    fclose(f);
    assert_int_equal(import_error(path, -1, -1, err, sizeof(err)), URG_ERR_PCAP);
    if (!strstr(err, path) || !strstr(err, "truncated"))
        fail_msg("%s", err);
    /* a record of 40 bytes in a 48-byte capture */
    {
        pcap_t *dead = pcap_open_dead(UMW_USB_LINUX, 65535);
        pcap_dumper_t *d = pcap_dump_open(dead, path);
        struct pcap_pkthdr h;
        memset(&h, 0, sizeof(h));
        h.caplen = h.len = 48;
        rec[8] = 'S';
        pcap_dump((u_char *)d, &h, rec);
        h.caplen = h.len = 40;
        pcap_dump((u_char *)d, &h, rec);
        pcap_dump_close(d);
        pcap_close(dead);
    }
    assert_int_equal(import_error(path, -1, -1, err, sizeof(err)), URG_ERR_PCAP);
    if (!strstr(err, path) ||
        !strstr(err, "record 2 is shorter than a usbmon header (40 of 48 bytes)"))
        fail_msg("%s", err);
    /* a budget the capture does not fit in */
    w = umw_open(path, UMW_USB_LINUX_MMAPPED);
    umw_audio(w, 1, 4, 12);
    umw_close(w);
    urg_import_config_init(&ic);
    ic.max_bytes = 4096;
    assert_int_equal(urg_capture_import_mem(path, &ic, &mem, &len, NULL, 0, err, sizeof(err)),
                     URG_ERR_CAPTURE);
    assert_null(mem);
    if (!strstr(err, path))
        fail_msg("%s", err);
    unlink(path);
}

/* More URBs in flight than are followed (16384): the first are answered,
 * the rest left out, and the note counts them. */
static void test_many_in_flight(void **state)
{
    const char *path = tmp(0, "many");
    struct umw_rec r;
    struct session s;
    uint8_t byte = 0x33;
    struct umw *w;
    (void)state;
    w = umw_open(path, UMW_USB_LINUX_MMAPPED);
    assert_non_null(w);
    memset(&r, 0, sizeof(r));
    r.xfer = 3;
    r.ep = 0x81;
    r.dev = 2;
    r.bus = 1;
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t id = 1; id <= 17000; id++) {
            r.id = id * 64;
            r.type = pass ? 'C' : 'S';
            r.status = pass ? 0 : -EINPROGRESS;
            r.length = pass ? 1 : 512;
            r.data = pass ? &byte : NULL;
            r.data_len = pass;
            umw_write(w, &r);
        }
    }
    umw_close(w);
    import(path, -1, -1, &s);
    assert_non_null(strstr(s.note, "616 URBs not followed (over 16384 in flight)"));
    assert_non_null(strstr(s.note, "616 completions of URBs submitted before the capture began"));
    assert_int_equal(count(&s, URG_BULK_PACKET), 2 * 16384);
    assert_int_equal(nth(&s, URG_BULK_PACKET, URG_DIR_TO_GUEST, 16383)->data[0], 0x33);
    session_free(&s);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyboard_fixture),   cmocka_unit_test(test_usb_linux_48),
        cmocka_unit_test(test_msc_fixture),        cmocka_unit_test(test_bus),
        cmocka_unit_test(test_audio_alt_settings), cmocka_unit_test(test_begun_late),
        cmocka_unit_test(test_overlapping_iso_descriptors),
        cmocka_unit_test(test_qemu_pcap),          cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_many_in_flight),     cmocka_unit_test(test_root_hub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

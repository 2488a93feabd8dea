/*
 * test_serial.c - serial adapters through the model: which bulk IN
 * endpoints get buffered bulk receiving (Linux's id tables, the first bulk
 * IN of a port's interface), FTDI's packets as Linux's ftdi_sio reads
 * them, and the VMM's serial callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hcd.h"
#include "vmm.h"

#define ALL URG_CAPS_ALL

static const struct urg_packet *sent(struct vmm *v, uint32_t type)
{
    const struct th_packet *t = th_find(&v->h, type);
    assert_non_null(t);
    return &t->p;
}

/* One interface per entry of ifs, each with a bulk IN 0x81 + 2i and a
 * bulk OUT 0x02 + 2i of max packet mps, full speed. */
static void plug(struct vmm *v, uint16_t vid, uint16_t pid, const struct th_if *ifs, int n_if,
                 uint16_t mps)
{
    struct th_ep eps[16];
    for (int i = 0; i < n_if; i++) {
        eps[2 * i] = (struct th_ep){ (uint8_t)(0x81 + 2 * i), URG_EP_BULK, 0, ifs[i].number, mps, 0 };
        eps[2 * i + 1] = (struct th_ep){ (uint8_t)(0x02 + 2 * i), URG_EP_BULK, 0, ifs[i].number, mps,
                                         0 };
    }
    th_device_ifs(&v->h, URG_SPEED_FULL, vid, pid, 0, ifs, n_if, eps, 2 * n_if);
    vmm_sync(v, 0);
    assert_int_equal(v->attached, 1);
}

/* What the model does with bulk IN ep (max packet mps), seen from the
 * wire: a URB of mps bytes goes as ordinary bulk (URG_SERIAL_NONE), or
 * starts buffered receiving; then a 1-byte chunk completes it
 * (URG_SERIAL_PLAIN), or is dropped as an FTDI packet with no status
 * bytes and the next chunk, "xyz", does (URG_SERIAL_FTDI). */
static int kind_of(struct vmm *v, uint8_t ep, uint16_t mps)
{
    struct urg_urb *u = vmm_urb(URG_EP_BULK, ep, mps, 0);
    int kind, before = vmm_count(v, u); /* an earlier URB's address */
    th_clear(&v->h);
    assert_int_equal(urg_hcd_submit(v->dev, u), 0);
    vmm_sync(v, 0);
    if (th_count(&v->h, URG_BULK_PACKET)) {
        assert_int_equal(th_count(&v->h, URG_START_BULK_RECEIVING), 0);
        assert_int_equal(urg_hcd_cancel(v->dev, u), 0);
        vmm_urb_free(u);
        return URG_SERIAL_NONE;
    }
    assert_int_equal(sent(v, URG_START_BULK_RECEIVING)->h.start_bulk_receiving.endpoint, ep);
    th_stream_status(&v->h, URG_BULK_RECEIVING_STATUS, sent(v, URG_START_BULK_RECEIVING)->id, ep,
                     URG_STATUS_SUCCESS);
    th_stream_data(&v->h, URG_BUFFERED_BULK_PACKET, ep, "1", 1, 0);
    th_stream_data(&v->h, URG_BUFFERED_BULK_PACKET, ep, "xyz", 3, 0);
    vmm_sync(v, 0);
    assert_int_equal(vmm_count(v, u), before + 1);
    assert_int_equal(vmm_last(v, u)->status, URG_URB_SHORT);
    kind = vmm_last(v, u)->actual == 1 ? URG_SERIAL_PLAIN : URG_SERIAL_FTDI;
    if (kind == URG_SERIAL_PLAIN) {
        assert_int_equal(u->buffer[0], '1');
    } else {
        assert_int_equal(vmm_last(v, u)->actual, 3);
        assert_memory_equal(u->buffer, "xyz", 3);
    }
    vmm_urb_free(u);
    return kind;
}

static const struct th_if one_if[1] = { { 0, 0xff, 0xff, 0xff } };

/* The kind of a table entry's driver. */
static int entry_kind(const struct serial_id *s)
{
    return (s->flags & SID_DRIVER) == SID_FTDI_SIO ? URG_SERIAL_FTDI : URG_SERIAL_PLAIN;
}

/* The kind of bulk IN 0x81 of a one-interface device vid:pid. */
static int device_kind(uint16_t vid, uint16_t pid, const struct urg_hcd_config *cfg)
{
    struct vmm v;
    int kind;
    vmm_init(&v, cfg, ALL);
    plug(&v, vid, pid, one_if, 1, 64);
    kind = kind_of(&v, 0x81, 64);
    vmm_free(&v);
    return kind;
}

static void test_serial_table(void **state)
{
    (void)state;
    /* An entry of each driver's table. */
    assert_int_equal(device_kind(0x0403, 0x6001, NULL), URG_SERIAL_FTDI);  /* ftdi_sio FT232 */
    assert_int_equal(device_kind(0x0403, 0x6015, NULL), URG_SERIAL_FTDI);  /* ftdi_sio FT-X */
    assert_int_equal(device_kind(0x10c4, 0xea60, NULL), URG_SERIAL_PLAIN); /* cp210x */
    assert_int_equal(device_kind(0x067b, 0x2303, NULL), URG_SERIAL_PLAIN); /* pl2303 */
    assert_int_equal(device_kind(0x1a86, 0x7523, NULL), URG_SERIAL_PLAIN); /* ch341 */
    assert_int_equal(device_kind(0x4348, 0x5523, NULL), URG_SERIAL_PLAIN); /* ch341 */
    /* The first and the last entries (the binary search's ends; both
     * whole-device entries). */
    assert_int_equal(serial_ids[0].flags & (SID_IFNUM | SID_IFCLASS), 0);
    assert_int_equal(device_kind(serial_ids[0].vendor, serial_ids[0].product, NULL),
                     entry_kind(&serial_ids[0]));
    assert_int_equal(serial_ids[serial_id_count - 1].flags & (SID_IFNUM | SID_IFCLASS), 0);
    assert_int_equal(device_kind(serial_ids[serial_id_count - 1].vendor,
                                 serial_ids[serial_id_count - 1].product, NULL),
                     entry_kind(&serial_ids[serial_id_count - 1]));
    /* Not in the tables: a vendor that is (FTDI's), a product between two
     * of its entries, and a vendor below and above them all. */
    assert_int_equal(device_kind(0x0403, 0x6003, NULL), URG_SERIAL_NONE);
    assert_int_equal(device_kind(0x1234, 0x5678, NULL), URG_SERIAL_NONE);
    assert_int_equal(device_kind(0x0001, 0x0001, NULL), URG_SERIAL_NONE);
    assert_int_equal(device_kind(0xffff, 0xffff, NULL), URG_SERIAL_NONE);
}

/* The table as generated: sorted by vendor and product (the binary
 * search needs it), an entry's interface field within its kind. */
static void test_serial_table_sorted(void **state)
{
    (void)state;
    assert_true(serial_id_count > 1000);
    for (size_t i = 0; i < serial_id_count; i++) {
        const struct serial_id *s = &serial_ids[i];
        assert_true((s->flags & SID_DRIVER) >= SID_FTDI_SIO &&
                    (s->flags & SID_DRIVER) <= SID_CH341);
        if (s->flags & SID_IFCLASS)
            assert_true(s->interface < serial_id_class_count);
        if (i)
            assert_true(((uint32_t)serial_ids[i - 1].vendor << 16 | serial_ids[i - 1].product) <=
                        ((uint32_t)s->vendor << 16 | s->product));
    }
}

/* What the serial callback saw: the table's answer for each interface. */
static struct {
    int calls;
    int known[8];     /* by interface number */
    uint16_t vendor;
    int attached;     /* the device had been shown to the VMM */
    int answer;       /* -1: the known one */
} seen;

static int record_serial(void *ud, urg_hcd_dev *dev, const struct urg_device *usb,
                         uint8_t interface, int known)
{
    struct vmm *v = ud;
    (void)dev;
    seen.calls++;
    seen.attached = v->attached;
    seen.vendor = usb->vendor_id;
    if (interface < 8)
        seen.known[interface] = known;
    return seen.answer < 0 ? known : seen.answer;
}

/* Every device of the table is found, with its driver's kind, on some
 * interface (of four, each of every class the table names). */
static void test_serial_table_every_device(void **state)
{
    static const struct th_if four[4] = {
        { 0, 0xff, 0xff, 0x00 }, { 1, 0xff, 0xff, 0x00 }, { 2, 0xff, 0xff, 0x00 },
        { 3, 0xff, 0xff, 0x00 } };
    struct urg_hcd_config cfg;
    size_t devices = 0;
    (void)state;
    assert_int_equal(serial_id_class_count, 1);
    assert_memory_equal(serial_id_classes[0], "\xff\xff\x00", 3);
    urg_hcd_config_init(&cfg);
    cfg.serial = record_serial;
    for (size_t i = 0; i < serial_id_count; i++) {
        const struct serial_id *s = &serial_ids[i];
        struct vmm v;
        int want = entry_kind(s);
        int found = URG_SERIAL_NONE;
        if (i && s->vendor == serial_ids[i - 1].vendor && s->product == serial_ids[i - 1].product)
            continue;
        memset(&seen, 0, sizeof(seen));
        seen.answer = -1;
        vmm_init(&v, &cfg, ALL);
        plug(&v, s->vendor, s->product, four, 4, 64);
        assert_int_equal(seen.calls, 4);
        for (int k = 0; k < 4; k++)
            if (seen.known[k] != URG_SERIAL_NONE)
                found = seen.known[k];
        if (found != want)
            fail_msg("%04x:%04x: %d, not %d", s->vendor, s->product, found, want);
        vmm_free(&v);
        devices++;
    }
    assert_true(devices > 1000);
}

static void test_serial_interfaces(void **state)
{
    /* Olimex ARM-USB-OCD (15ba:0003): ftdi_sio's entry names interface 1
     * (USB_DEVICE_INTERFACE_NUMBER); interface 0 is JTAG. */
    static const struct th_if two[2] = { { 0, 0xff, 0xff, 0xff }, { 1, 0xff, 0xff, 0xff } };
    /* ST Micro Connect Lite (0483:3747): ftdi_stmclite_quirk, the first
     * two of four interfaces are not ports. */
    static const struct th_if four[4] = {
        { 0, 0xff, 0xff, 0xff }, { 1, 0xff, 0xff, 0xff }, { 2, 0xff, 0xff, 0xff },
        { 3, 0xff, 0xff, 0xff } };
    /* Microchip's board (04d8:000a): the entry names the interface class
     * ff/ff/00 (USB_DEVICE_AND_INTERFACE_INFO). */
    static const struct th_if vendor_class[2] = { { 0, 0xff, 0xff, 0x00 },
                                                  { 1, 0xff, 0x00, 0x00 } };
    struct vmm v;
    (void)state;
    vmm_init(&v, NULL, ALL);
    plug(&v, 0x15ba, 0x0003, two, 2, 64);
    assert_int_equal(kind_of(&v, 0x81, 64), URG_SERIAL_NONE);
    assert_int_equal(kind_of(&v, 0x83, 64), URG_SERIAL_FTDI);
    vmm_free(&v);

    /* ftdi_jtag_quirk (0403:bca4, Xverve Signalyzer SH4): interface 0 is
     * JTAG, interface 1 a port. */
    vmm_init(&v, NULL, ALL);
    plug(&v, 0x0403, 0xbca4, two, 2, 64);
    assert_int_equal(kind_of(&v, 0x81, 64), URG_SERIAL_NONE);
    assert_int_equal(kind_of(&v, 0x83, 64), URG_SERIAL_FTDI);
    vmm_free(&v);

    vmm_init(&v, NULL, ALL);
    plug(&v, 0x0483, 0x3747, four, 4, 64);
    assert_int_equal(kind_of(&v, 0x81, 64), URG_SERIAL_NONE);
    assert_int_equal(kind_of(&v, 0x83, 64), URG_SERIAL_NONE);
    assert_int_equal(kind_of(&v, 0x85, 64), URG_SERIAL_FTDI);
    assert_int_equal(kind_of(&v, 0x87, 64), URG_SERIAL_FTDI);
    vmm_free(&v);

    vmm_init(&v, NULL, ALL);
    plug(&v, 0x04d8, 0x000a, vendor_class, 2, 64);
    assert_int_equal(kind_of(&v, 0x81, 64), URG_SERIAL_FTDI);
    assert_int_equal(kind_of(&v, 0x83, 64), URG_SERIAL_NONE);
    vmm_free(&v);

    /* A multi-port FTDI chip (FT4232H, 0403:6011): a port per interface,
     * each its own bulk IN; high speed, max packet 512. */
    vmm_init(&v, NULL, ALL);
    plug(&v, 0x0403, 0x6011, four, 4, 512);
    for (uint8_t ep = 0x81; ep <= 0x87; ep += 2)
        assert_int_equal(kind_of(&v, ep, 512), URG_SERIAL_FTDI);
    vmm_free(&v);

    /* A dual CP2105 (10c4:ea70): both interfaces, plain. */
    vmm_init(&v, NULL, ALL);
    plug(&v, 0x10c4, 0xea70, two, 2, 64);
    assert_int_equal(kind_of(&v, 0x81, 64), URG_SERIAL_PLAIN);
    assert_int_equal(kind_of(&v, 0x83, 64), URG_SERIAL_PLAIN);
    vmm_free(&v);
}

/* Two bulk IN endpoints on a port's interface (given highest first): only
 * the first (lowest address) is the port's; an interrupt IN beside them
 * is not bulk. */
static void test_serial_first_bulk_in_only(void **state)
{
    static const struct th_ep eps[4] = { { 0x85, URG_EP_BULK, 0, 0, 64, 0 },
                                         { 0x83, URG_EP_BULK, 0, 0, 64, 0 },
                                         { 0x81, URG_EP_INTERRUPT, 1, 0, 8, 0 },
                                         { 0x02, URG_EP_BULK, 0, 0, 64, 0 } };
    struct vmm v;
    struct urg_urb *u;
    (void)state;
    vmm_init(&v, NULL, ALL);
    th_device_ifs(&v.h, URG_SPEED_FULL, 0x067b, 0x2303, 0, one_if, 1, eps, 4);
    vmm_sync(&v, 0);
    assert_int_equal(kind_of(&v, 0x85, 64), URG_SERIAL_NONE);
    assert_int_equal(kind_of(&v, 0x83, 64), URG_SERIAL_PLAIN);
    /* The interrupt IN is interrupt receiving, as ever. */
    th_clear(&v.h);
    u = vmm_urb(URG_EP_INTERRUPT, 0x81, 8, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    assert_int_equal(th_count(&v.h, URG_START_INTERRUPT_RECEIVING), 1);
    vmm_free(&v);
    vmm_urb_free(u);

    /* Without ep_info_max_packet_size no max packet is known: no endpoint
     * is buffered, and the VMM is not asked. */
    {
        struct urg_hcd_config cfg;
        urg_hcd_config_init(&cfg);
        cfg.serial = record_serial;
        memset(&seen, 0, sizeof(seen));
        seen.answer = URG_SERIAL_PLAIN;
        vmm_init(&v, &cfg, ALL & ~URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE) &
                               ~URG_CAP_BIT(URG_CAP_BULK_STREAMS));
        plug(&v, 0x0403, 0x6001, one_if, 1, 64);
        assert_int_equal(seen.calls, 0);
        th_clear(&v.h);
        u = vmm_urb(URG_EP_BULK, 0x81, 64, 0);
        assert_int_equal(urg_hcd_submit(v.dev, u), 0);
        vmm_sync(&v, 0);
        assert_int_equal(th_count(&v.h, URG_BULK_PACKET), 1);
        assert_int_equal(th_count(&v.h, URG_START_BULK_RECEIVING), 0);
        vmm_free(&v);
        vmm_urb_free(u);
    }
}

/* A new alternate setting: an endpoint that changed is decided afresh; one
 * that did not keeps what it had (here: ordinary bulk after an odd-size
 * URB turned buffered receiving off). */
static void test_serial_endpoint_table_change(void **state)
{
    static const struct th_if two[2] = { { 0, 0xff, 0xff, 0xff }, { 1, 0xff, 0xff, 0xff } };
    struct th_ep eps[4] = { { 0x81, URG_EP_BULK, 0, 0, 64, 0 }, { 0x02, URG_EP_BULK, 0, 0, 64, 0 },
                            { 0x83, URG_EP_BULK, 0, 1, 64, 0 }, { 0x04, URG_EP_BULK, 0, 1, 64, 0 } };
    struct urg_hcd_config cfg;
    struct urg_urb *odd;
    struct vmm v;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.serial = record_serial;
    memset(&seen, 0, sizeof(seen));
    seen.answer = -1;
    vmm_init(&v, &cfg, ALL);
    th_device_ifs(&v.h, URG_SPEED_FULL, 0x0403, 0x6010, 0, two, 2, eps, 4); /* FT2232 */
    vmm_sync(&v, 0);
    assert_int_equal(seen.calls, 2);
    /* An odd size on 0x81: ordinary bulk from now on. */
    odd = vmm_urb(URG_EP_BULK, 0x81, 10, 0);
    assert_int_equal(urg_hcd_submit(v.dev, odd), 0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_cancel(v.dev, odd), 0);
    /* Interface 1's endpoints change (max packet 512): asked for it only. */
    seen.calls = 0;
    seen.known[1] = -1;
    eps[2].mps = eps[3].mps = 512;
    th_device_info(&v.h, two, 2, eps, 4);
    vmm_sync(&v, 0);
    assert_true(v.changed >= 1);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.known[1], URG_SERIAL_FTDI);
    assert_int_equal(kind_of(&v, 0x81, 64), URG_SERIAL_NONE);
    assert_int_equal(kind_of(&v, 0x83, 512), URG_SERIAL_FTDI);
    vmm_free(&v);
    vmm_urb_free(odd);
}

/* ---------------------------------------------------------------- FTDI packets */

/* A device packet of len bytes: the status bytes 0x01 0x60, then data
 * bytes counting on from *next (the low byte of a count). */
static size_t packet(uint8_t *out, size_t len, size_t *next)
{
    for (size_t i = 0; i < len; i++)
        out[i] = i == 0 ? 0x01 : i == 1 ? 0x60 : (uint8_t)(*next)++;
    return len;
}

/* What Linux's ftdi_sio reads from a URB (ftdi_process_read_urb): each
 * max-packet block starts with 2 status bytes (checked), the rest is
 * data; a block under 2 bytes would be dropped, and none may be there. */
static size_t ftdi_read(const struct urg_urb *u, uint32_t mps, uint8_t *out)
{
    size_t n = 0;
    for (uint32_t i = 0; i < u->actual_length; i += mps) {
        uint32_t len = u->actual_length - i < mps ? u->actual_length - i : mps;
        assert_true(len >= 2);
        assert_int_equal(u->buffer[i], 0x01);
        assert_int_equal(u->buffer[i + 1], 0x60);
        memcpy(out + n, u->buffer + i + 2, len - 2);
        n += len - 2;
    }
    return n;
}

static void test_ftdi_packets(void **state)
{
    uint8_t chunk[600], got[4096];
    struct urg_urb *u;
    struct vmm v;
    size_t n, total = 0, next = 0;
    (void)state;
    vmm_init(&v, NULL, ALL);
    plug(&v, 0x0403, 0x6001, one_if, 1, 64);
    u = vmm_urb(URG_EP_BULK, 0x81, 512, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    th_stream_status(&v.h, URG_BULK_RECEIVING_STATUS, sent(&v, URG_START_BULK_RECEIVING)->id, 0x81,
                     0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_cancel(v.dev, u), 0);

    /* Several chunks in one URB: two full packets, then a full one and a
     * short one, which ends the transfer (the next chunk waits). */
    n = packet(chunk, 64, &next);
    n += packet(chunk + n, 64, &next);
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, chunk, (uint32_t)n, 0);
    n = packet(chunk, 64, &next);
    n += packet(chunk + n, 30, &next);
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, chunk, (uint32_t)n, 0);
    n = packet(chunk, 10, &next);
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, chunk, (uint32_t)n, 0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_SHORT);
    assert_int_equal(u->actual_length, 64 + 64 + 64 + 30);
    total = ftdi_read(u, 64, got);
    assert_int_equal(total, 62 * 3 + 28);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 10);
    total += ftdi_read(u, 64, got + total);

    /* Packets under 2 bytes (a 1-byte chunk, an empty one, a chunk ending
     * in a 1-byte packet) are dropped; a URB waits past them. */
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, "\x01", 1, 0);
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, "", 0, 0);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_count(&v, u), 1); /* the cancel above only */
    n = packet(chunk, 64, &next);
    chunk[n++] = 0x01;
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, chunk, (uint32_t)n, 0);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_count(&v, u), 2);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_SHORT);
    assert_int_equal(vmm_last(&v, u)->actual, 64);
    total += ftdi_read(u, 64, got + total);
    /* A packet of status bytes only is the guest's (modem lines), and
     * queued chunks go in one URB past a dropped packet. */
    n = packet(chunk, 2, &next);
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, chunk, (uint32_t)n, 0);
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, "\x01", 1, 0);
    n = packet(chunk, 64, &next);
    n += packet(chunk + n, 5, &next);
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, chunk, (uint32_t)n, 0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_SHORT);
    assert_int_equal(u->actual_length, 2);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 64 + 5);
    total += ftdi_read(u, 64, got + total);

    /* A URB never takes part of a packet: 64 bytes of a chunk of 7 full
     * packets and a short one (the host's transfers are 512 bytes), then
     * the rest in a URB of 512. */
    n = 0;
    for (int i = 0; i < 7; i++)
        n += packet(chunk + n, 64, &next);
    n += packet(chunk + n, 40, &next);
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, chunk, (uint32_t)n, 0);
    vmm_sync(&v, 0);
    u->length = 64;
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_SUCCESS);
    assert_int_equal(u->actual_length, 64);
    total += ftdi_read(u, 64, got + total);
    u->length = 512;
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 6 * 64 + 40);
    total += ftdi_read(u, 64, got + total);
    /* Nothing is left. */
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    assert_int_equal(urg_hcd_cancel(v.dev, u), 0);

    /* Every data byte came, in order, and nothing else. */
    assert_int_equal(total, next);
    for (size_t i = 0; i < total; i++)
        assert_int_equal(got[i], (uint8_t)i);
    vmm_free(&v);
    vmm_urb_free(u);
}

/* ---------------------------------------------------------------- the VMM's choice */

static void test_serial_callback(void **state)
{
    struct urg_hcd_config cfg;
    struct vmm v;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.serial = record_serial;

    /* Asked with the table's answer, before the device is shown. */
    memset(&seen, 0, sizeof(seen));
    seen.answer = -1;
    vmm_init(&v, &cfg, ALL);
    plug(&v, 0x0403, 0x6001, one_if, 1, 64);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.attached, 0);
    assert_int_equal(seen.vendor, 0x0403);
    assert_int_equal(seen.known[0], URG_SERIAL_FTDI);
    assert_int_equal(kind_of(&v, 0x81, 64), URG_SERIAL_FTDI);
    vmm_free(&v);

    /* A known adapter made ordinary bulk. */
    memset(&seen, 0, sizeof(seen));
    seen.answer = URG_SERIAL_NONE;
    assert_int_equal(device_kind(0x0403, 0x6001, &cfg), URG_SERIAL_NONE);
    assert_int_equal(seen.known[0], URG_SERIAL_FTDI);

    /* An unknown device made a serial port: plain, FTDI. */
    memset(&seen, 0, sizeof(seen));
    seen.answer = URG_SERIAL_PLAIN;
    assert_int_equal(device_kind(0x1234, 0x0001, &cfg), URG_SERIAL_PLAIN);
    assert_int_equal(seen.known[0], URG_SERIAL_NONE);
    seen.answer = URG_SERIAL_FTDI;
    assert_int_equal(device_kind(0x1234, 0x0001, &cfg), URG_SERIAL_FTDI);
    /* A CP210x read as FTDI: the VMM's word goes. */
    assert_int_equal(device_kind(0x10c4, 0xea60, &cfg), URG_SERIAL_FTDI);
    /* Any other answer is none. */
    seen.answer = 7;
    assert_int_equal(device_kind(0x10c4, 0xea60, &cfg), URG_SERIAL_NONE);

    /* buffered_bulk_serial 0: the table is not asked (known is none), and
     * without a callback nothing is buffered. */
    cfg.buffered_bulk_serial = 0;
    memset(&seen, 0, sizeof(seen));
    seen.answer = -1;
    assert_int_equal(device_kind(0x0403, 0x6001, &cfg), URG_SERIAL_NONE);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.known[0], URG_SERIAL_NONE);
    seen.answer = URG_SERIAL_FTDI;
    assert_int_equal(device_kind(0x0403, 0x6001, &cfg), URG_SERIAL_FTDI);
    cfg.serial = NULL;
    assert_int_equal(device_kind(0x0403, 0x6001, &cfg), URG_SERIAL_NONE);
    assert_int_equal(device_kind(0x10c4, 0xea60, &cfg), URG_SERIAL_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serial_table),
        cmocka_unit_test(test_serial_table_sorted),
        cmocka_unit_test(test_serial_table_every_device),
        cmocka_unit_test(test_serial_interfaces),
        cmocka_unit_test(test_serial_first_bulk_in_only),
        cmocka_unit_test(test_serial_endpoint_table_change),
        cmocka_unit_test(test_ftdi_packets),
        cmocka_unit_test(test_serial_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

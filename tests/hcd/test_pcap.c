/*
 * test_pcap.c - the usbmon capture, read back by tshark (Wireshark's USB
 * dissector): every record's fields and a decoded device descriptor; the
 * interval, start_frame, transfer flags and iso fields of control, bulk,
 * interrupt and iso URBs at high and full speed, and the URB flags the VMM
 * gives where Linux allows them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "failalloc.h"
#include "vmm.h"

static const uint8_t GET_DEVICE_DESCRIPTOR[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
static const uint8_t DEVICE_DESCRIPTOR[18] = { 18, 1, 0, 2, 0, 0, 0, 64, 0xf4, 0x46,
                                               0x01, 0x00, 0, 1, 1, 2, 3, 1 };
static const uint8_t SET_ADDRESS_5[8] = { 0x00, 5, 5, 0, 0, 0, 0, 0 };

/* Runs tshark on the capture; returns its output (one line per record). */
static char *tshark(const char *path, const char *fields)
{
    char cmd[1024], *out = calloc(1, 65536);
    size_t n;
    FILE *f;
    snprintf(cmd, sizeof(cmd), "tshark -r %s -T fields -E separator='|' -E occurrence=f %s 2>/dev/null", path,
             fields);
    f = popen(cmd, "r");
    assert_non_null(f);
    n = fread(out, 1, 65535, f);
    out[n] = 0;
    assert_int_equal(pclose(f), 0);
    return out;
}

static void test_capture_read_by_tshark(void **state)
{
    struct urg_hcd_config cfg;
    struct vmm v;
    struct urg_urb *ctl, *addr, *out, *in;
    char path[] = "/tmp/urg-pcap-XXXXXX";
    struct urg_packet p;
    char *fields, *desc;
    int fd;
    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    urg_hcd_config_init(&cfg);
    cfg.pcap_path = path;
    cfg.pcap_bus = 3;
    vmm_init(&v, &cfg, URG_CAPS_ALL);
    vmm_plug_default(&v);

    /* 1-2: GET_DESCRIPTOR(device) at address 0, answered */
    ctl = vmm_urb(URG_EP_CONTROL, 0, 18, 0);
    memcpy(ctl->setup, GET_DEVICE_DESCRIPTOR, 8);
    assert_int_equal(vmm_control_reply(&v, ctl, URG_STATUS_SUCCESS, DEVICE_DESCRIPTOR, 18)->status,
                     URG_URB_SUCCESS);
    /* 3-4: SET_ADDRESS 5 (handled locally, still captured) */
    addr = vmm_urb(URG_EP_CONTROL, 0, 0, 0);
    memcpy(addr->setup, SET_ADDRESS_5, 8);
    assert_int_equal(urg_hcd_submit(v.dev, addr), 1);
    /* 5-6: bulk OUT of 4 bytes at address 5, which stalls */
    out = vmm_urb(URG_EP_BULK, 0x04, 4, 0);
    memcpy(out->buffer, "\xde\xad\xbe\xef", 4);
    assert_int_equal(urg_hcd_submit(v.dev, out), 0);
    vmm_sync(&v, 0);
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = th_find(&v.h, URG_BULK_PACKET)->p.id;
    p.h.bulk.endpoint = 0x04;
    p.h.bulk.status = URG_STATUS_STALL;
    th_emit(&v.h, &p);
    vmm_sync(&v, 0);
    /* 7-8: interrupt IN, cancelled */
    in = vmm_urb(URG_EP_INTERRUPT, 0x81, 8, 0);
    assert_int_equal(urg_hcd_submit(v.dev, in), 0);
    assert_int_equal(urg_hcd_cancel(v.dev, in), 0);
    urg_hcd_dev_free(v.dev); /* closes the capture */
    v.dev = NULL;

    fields = tshark(path, "-e usb.urb_type -e usb.transfer_type -e usb.endpoint_address "
                          "-e usb.device_address -e usb.bus_id -e usb.urb_status "
                          "-e usb.urb_len -e usb.data_len");
    /* urb_type 'S' or 'C'; transfer types 2 control, 3 bulk, 1 interrupt;
     * status 0, -115 (in progress), -32 (stall), -2 (unlinked) */
    assert_string_equal(fields,
                        "'S'|0x02|0x80|0|3|-115|18|0\n"
                        "'C'|0x02|0x80|0|3|0|18|18\n"
                        "'S'|0x02|0x00|0|3|-115|0|0\n"
                        "'C'|0x02|0x00|5|3|0|0|0\n"
                        "'S'|0x03|0x04|5|3|-115|4|4\n"
                        "'C'|0x03|0x04|5|3|-32|0|0\n"
                        "'S'|0x01|0x81|5|3|-115|8|0\n"
                        "'C'|0x01|0x81|5|3|-2|0|0\n");
    /* The dissector decodes the device descriptor it saw requested. */
    desc = tshark(path, "-Y usb.idVendor -e usb.setup.bRequest -e usb.idVendor -e usb.idProduct");
    assert_string_equal(desc, "|0x46f4|0x0001\n");
    free(fields);
    free(desc);
    unlink(path);
    vmm_free(&v);
    vmm_urb_free(ctl);
    vmm_urb_free(addr);
    vmm_urb_free(out);
    vmm_urb_free(in);
}

static char *temp_capture(char *path)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return path;
}

#define FIELDS                                                                                    \
    "-e usb.urb_type -e usb.transfer_type -e usb.endpoint_address -e usb.urb_status "            \
    "-e usb.urb_len -e usb.data_len -e usb.data_flag -e usb.interval -e usb.start_frame "       \
    "-e usb.copy_of_transfer_flags -e usb.iso.error_count -e usb.iso.numdesc -e usb.iso.iso_status"

/* Interval (microframes at high speed: 2^(bInterval-1)), start_frame (iso
 * completions: the URB's, from urg_hcd_iso_frames()), the transfer flags
 * (URB_DIR_IN 0x200, URB_ISO_ASAP 0x2; the URB's URB_SHORT_NOT_OK 0x1 on
 * non-iso IN, URB_ZERO_PACKET 0x40 on bulk OUT), Linux's direction for a
 * control transfer without data, iso error count, descriptors (-EXDEV at
 * submission) and data up to the last iso packet with data. */
static void test_capture_fields_high_speed(void **state)
{
    static const uint8_t VENDOR_IN_NO_DATA[8] = { 0xc0, 1, 0, 0, 0, 0, 0, 0 };
    struct urg_hcd_config cfg;
    struct vmm v;
    struct urg_urb *ctl, *nodata, *out, *in, *iso_out, *iso_in;
    char path[] = "/tmp/urg-pcap-XXXXXX";
    struct urg_packet p;
    double start, end;
    uint32_t frame;
    uint8_t pkt[192];
    char *fields;
    int i;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.pcap_path = temp_capture(path);
    vmm_init(&v, &cfg, URG_CAPS_ALL);
    vmm_plug_default(&v);

    /* 1-2: control IN with data; no zero packet on IN */
    ctl = vmm_urb(URG_EP_CONTROL, 0, 18, 0);
    ctl->flags = URG_URB_FLAG_SHORT_NOT_OK | URG_URB_FLAG_ZERO_PACKET;
    memcpy(ctl->setup, GET_DEVICE_DESCRIPTOR, 8);
    assert_int_equal(vmm_control_reply(&v, ctl, URG_STATUS_SUCCESS, DEVICE_DESCRIPTOR, 18)->status,
                     URG_URB_SUCCESS);
    th_clear(&v.h);
    /* 3-4: a vendor request "IN" without data: OUT for Linux */
    nodata = vmm_urb(URG_EP_CONTROL, 0, 0, 0);
    memcpy(nodata->setup, VENDOR_IN_NO_DATA, 8);
    assert_int_equal(vmm_control_reply(&v, nodata, URG_STATUS_SUCCESS, NULL, 0)->status,
                     URG_URB_SUCCESS);
    /* 5-6: bulk OUT of 4 bytes */
    out = vmm_urb(URG_EP_BULK, 0x04, 4, 0);
    out->flags = URG_URB_FLAG_ZERO_PACKET | URG_URB_FLAG_SHORT_NOT_OK; /* only the first on OUT */
    memcpy(out->buffer, "\xde\xad\xbe\xef", 4);
    assert_int_equal(urg_hcd_submit(v.dev, out), 0);
    vmm_sync(&v, 0);
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = th_find(&v.h, URG_BULK_PACKET)->p.id;
    p.h.bulk.endpoint = 0x04;
    p.h.bulk.status = URG_STATUS_SUCCESS;
    p.h.bulk.length = 4;
    th_emit(&v.h, &p);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_last(&v, out)->actual, 4);
    /* 7-8: interrupt IN (bInterval 4: 8 microframes), cancelled */
    in = vmm_urb(URG_EP_INTERRUPT, 0x81, 8, 0);
    in->flags = URG_URB_FLAG_SHORT_NOT_OK;
    assert_int_equal(urg_hcd_submit(v.dev, in), 0);
    assert_int_equal(urg_hcd_cancel(v.dev, in), 0);
    /* 9-10: iso OUT, 4 packets on the frames the clock gave out; neither
     * flag on iso */
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x06, 4, 10.0, &start, &end, &frame), 0);
    assert_int_equal(frame, 10000 & 0x7ff);
    iso_out = vmm_urb(URG_EP_ISO, 0x06, 192 * 4, 4);
    iso_out->flags = URG_URB_FLAG_SHORT_NOT_OK | URG_URB_FLAG_ZERO_PACKET;
    iso_out->start_frame = frame;
    assert_int_equal(urg_hcd_submit(v.dev, iso_out), 1);
    /* 11-12: the same again, ASAP (start_frame 0) */
    iso_out->start_frame = 0;
    assert_int_equal(urg_hcd_submit(v.dev, iso_out), 1);
    /* 13-14: iso IN, the first: nothing yet (the stream starts) */
    iso_in = vmm_urb(URG_EP_ISO, 0x85, 192 * 8, 8);
    assert_int_equal(urg_hcd_submit(v.dev, iso_in), 1);
    vmm_sync(&v, 0);
    th_stream_status(&v.h, URG_ISO_STREAM_STATUS, th_find(&v.h, URG_START_ISO_STREAM)->p.id,
                     0x85, 0);
    for (i = 0; i < 240; i++) {
        memset(pkt, i, sizeof(pkt));
        th_stream_data(&v.h, URG_ISO_PACKET, 0x85, pkt, 192, 0);
    }
    vmm_sync(&v, 0);
    /* 15-16: iso IN with 8 packets of data */
    for (i = 0; i < 8; i++)
        iso_in->iso[i].length = 192;
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x85, 8, 20.0, &start, &end, &frame), 0);
    iso_in->start_frame = frame;
    assert_int_equal(urg_hcd_submit(v.dev, iso_in), 1);
    assert_int_equal(iso_in->actual_length, 8 * 192);
    urg_hcd_dev_free(v.dev);
    v.dev = NULL;

    fields = tshark(path, FIELDS);
    /* type|xfer|ep|status|urb_len|data_len|data_flag|interval|start_frame|flags|
     * iso errors|iso numdesc|first iso status */
    /* data_len: the captured bytes (data and iso descriptors); numdesc is
     * 0 outside iso; start_frame 1808 = 10000 & 0x7ff, 1568 = 20000 & 0x7ff */
    assert_string_equal(fields,
                        "'S'|0x02|0x80|-115|18|0|'<'|0|0|0x00000201||0|\n"
                        "'C'|0x02|0x80|0|18|18|'\\0'|0|0|0x00000201||0|\n"
                        "'S'|0x02|0x00|-115|0|0|'\\0'|0|0|0x00000000||0|\n"
                        "'C'|0x02|0x00|0|0|0|'>'|0|0|0x00000000||0|\n"
                        "'S'|0x03|0x04|-115|4|4|'\\0'|0|0|0x00000040||0|\n"
                        "'C'|0x03|0x04|0|4|0|'>'|0|0|0x00000040||0|\n"
                        "'S'|0x01|0x81|-115|8|0|'<'|8|0|0x00000201||0|\n"
                        "'C'|0x01|0x81|-2|0|0|'\\0'|8|0|0x00000201||0|\n"
                        "'S'|0x00|0x06|-115|768|832|'\\0'|1|0|0x00000002|0|4|-18\n"
                        "'C'|0x00|0x06|0|768|64|'>'|1|1808|0x00000002|0|4|0\n"
                        "'S'|0x00|0x06|-115|768|832|'\\0'|1|0|0x00000002|0|4|-18\n"
                        "'C'|0x00|0x06|0|768|64|'>'|1|0|0x00000002|0|4|0\n"
                        "'S'|0x00|0x85|-115|1536|128|'<'|1|0|0x00000202|0|8|-18\n"
                        "'C'|0x00|0x85|0|0|128|'\\0'|1|0|0x00000202|0|8|0\n"
                        "'S'|0x00|0x85|-115|1536|128|'<'|1|0|0x00000202|0|8|-18\n"
                        "'C'|0x00|0x85|0|1536|1664|'\\0'|1|1568|0x00000202|0|8|0\n");
    free(fields);
    unlink(path);
    vmm_free(&v);
    vmm_urb_free(ctl);
    vmm_urb_free(nodata);
    vmm_urb_free(out);
    vmm_urb_free(in);
    vmm_urb_free(iso_out);
    vmm_urb_free(iso_in);
}

/* At full speed: an interrupt bInterval is frames, rounded down to a power
 * of 2 (10: 8), an iso one an exponent (4: 2^3 = 8 frames); a packet in
 * error counts in the iso error count. */
static void test_capture_fields_full_speed(void **state)
{
    static const uint8_t ifs[1] = { 1 };
    static const struct th_ep eps[2] = { { 0x81, URG_EP_INTERRUPT, 10, 0, 8, 0 },
                                         { 0x82, URG_EP_ISO, 4, 0, 192, 0 } };
    struct urg_hcd_config cfg;
    struct vmm v;
    struct urg_urb *in, *iso;
    char path[] = "/tmp/urg-pcap-XXXXXX";
    char *fields;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.pcap_path = temp_capture(path);
    vmm_init(&v, &cfg, URG_CAPS_ALL);
    th_device_ex(&v.h, URG_SPEED_FULL, 0x1234, 1, 0, ifs, 1, eps, 2);
    vmm_sync(&v, 0);
    assert_int_equal(v.attached, 1);
    in = vmm_urb(URG_EP_INTERRUPT, 0x81, 8, 0);
    assert_int_equal(urg_hcd_submit(v.dev, in), 0);
    assert_int_equal(urg_hcd_cancel(v.dev, in), 0);
    iso = vmm_urb(URG_EP_ISO, 0x82, 192 * 2, 2);
    assert_int_equal(urg_hcd_submit(v.dev, iso), 1);
    vmm_sync(&v, 0);
    th_stream_status(&v.h, URG_ISO_STREAM_STATUS, th_find(&v.h, URG_START_ISO_STREAM)->p.id,
                     0x82, 0);
    /* The host stops the stream: the next URB's packets fail. */
    th_stream_status(&v.h, URG_ISO_STREAM_STATUS, 0, 0x82, URG_STATUS_IOERROR);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, iso), 1);
    assert_int_equal(iso->status, URG_URB_IOERROR);
    urg_hcd_dev_free(v.dev);
    v.dev = NULL;
    fields = tshark(path, "-e usb.urb_type -e usb.endpoint_address -e usb.interval "
                          "-e usb.copy_of_transfer_flags -e usb.iso.error_count -e usb.urb_status");
    assert_string_equal(fields, "'S'|0x81|8|0x00000200||-115\n"
                                "'C'|0x81|8|0x00000200||-2\n"
                                "'S'|0x82|8|0x00000202|0|-115\n"
                                "'C'|0x82|8|0x00000202|0|0\n"
                                "'S'|0x82|8|0x00000202|0|-115\n"
                                "'C'|0x82|8|0x00000202|2|-71\n");
    free(fields);
    unlink(path);
    vmm_free(&v);
    vmm_urb_free(in);
    vmm_urb_free(iso);
}

static void ignore_urb(void *ud, urg_hcd_dev *d, struct urg_urb *u)
{
    (void)ud;
    (void)d;
    (void)u;
}

/* A capture that cannot be created is URG_ERR_IO; no memory along the way
 * (each allocation of urg_hcd_dev_new failing in turn) is URG_ERR_NOMEM. */
static void test_capture_errors(void **state)
{
    struct fail_alloc f = { 0 };
    const struct urg_allocator a = fail_allocator(&f);
    struct urg_session_config session;
    struct urg_hcd_config cfg;
    char path[] = "/tmp/urg-pcap-XXXXXX";
    urg_hcd_dev *d = NULL;
    int fd, r, n, made = 0;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.callbacks.urb_complete = ignore_urb;
    cfg.pcap_path = "/nonexistent-dir/capture.pcap";
    assert_int_equal(urg_hcd_dev_new(&cfg, &d), URG_ERR_IO);
    assert_null(d);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    urg_session_config_init(&session);
    session.allocator = &a;
    cfg.session = &session;
    cfg.pcap_path = path;
    for (n = 1; n < 50 && !made; n++) {
        f.calls = 0;
        f.fail_at = (uint64_t)n;
        r = urg_hcd_dev_new(&cfg, &d);
        if (r == 0) {
            made = 1;
            urg_hcd_dev_free(d);
        } else {
            assert_int_equal(r, URG_ERR_NOMEM);
        }
    }
    assert_true(made);
    assert_true(n > 3); /* the copies, the device and the capture failed first */
    assert_int_equal(f.live, 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_read_by_tshark),
        cmocka_unit_test(test_capture_fields_high_speed),
        cmocka_unit_test(test_capture_fields_full_speed),
        cmocka_unit_test(test_capture_errors),
    };
    return cmocka_run_group_tests_name("hcd pcap", tests, NULL, NULL);
}

/*
 * test_pcap.c - the usbmon capture, read back by tshark (Wireshark's USB
 * dissector): every record's fields and a decoded device descriptor.
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
    const struct th_packet *req;
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
    assert_int_equal(urg_hcd_submit(v.dev, ctl), 0);
    vmm_sync(&v, 0);
    req = th_find(&v.h, URG_CONTROL_PACKET);
    th_reply_control(&v.h, &req->p, URG_STATUS_SUCCESS, DEVICE_DESCRIPTOR, 18);
    vmm_sync(&v, 0);
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
        cmocka_unit_test(test_capture_errors),
    };
    return cmocka_run_group_tests_name("hcd pcap", tests, NULL, NULL);
}

/*
 * test_lifecycle.c - the model's device lifecycle: attach, the detach
 * handshake, speeds, the VMM's filter, connection loss, URB misuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm.h"

#define ALL URG_CAPS_ALL

static void test_attach_reports_the_device(void **state)
{
    struct vmm v;
    const struct urg_hcd_device *info;
    (void)state;
    vmm_init(&v, NULL, ALL);
    assert_null(urg_hcd_dev_info(v.dev));
    vmm_plug_default(&v);
    assert_int_equal(v.attached, 1);
    info = urg_hcd_dev_info(v.dev);
    assert_non_null(info);
    assert_int_equal(info->speed, URG_SPEED_HIGH);
    assert_int_equal(info->usb.vendor_id, 0x1234);
    assert_int_equal(info->usb.product_id, 0x5678);
    assert_int_equal(info->usb.device_version_bcd, 0x0100);
    assert_int_equal(info->usb.interface_count, 3);
    assert_int_equal(info->usb.interface_class[0], 0x03);
    assert_int_equal(info->usb.ep[urg_ep_index(0x81)].type, URG_EP_INTERRUPT);
    assert_int_equal(info->usb.ep[urg_ep_index(0x81)].interval, 4);
    assert_int_equal(info->usb.ep[urg_ep_index(0x83)].max_packet_size, 512);
    assert_int_equal(info->usb.ep[urg_ep_index(0x85)].type, URG_EP_ISO);
    /* high speed with periodic endpoints of 192 bytes: not full speed */
    assert_int_equal(info->speed_mask, URG_SPEED_MASK(URG_SPEED_HIGH));
    assert_int_equal(v.info.speed, URG_SPEED_HIGH);
    vmm_free(&v);
}

static void test_detach_handshake(void **state)
{
    struct vmm v;
    struct urg_packet p;
    struct urg_urb *u;
    (void)state;
    vmm_init(&v, NULL, ALL);
    v.manual_detach_done = 1;
    vmm_plug_default(&v);
    u = vmm_urb(URG_EP_BULK, 0x83, 512, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    /* Unplug, then at once a new device on the same connection. */
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_DISCONNECT;
    th_emit(&v.h, &p);
    vmm_plug_default(&v);
    /* The URB ended before the detach; the new device waits. */
    assert_string_equal(v.events, "attach,complete,detach");
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_NODEV);
    assert_int_equal(v.attached, 1);
    assert_null(urg_hcd_dev_info(v.dev));
    assert_int_equal(urg_hcd_submit(v.dev, u), URG_ERR_NO_DEVICE);
    /* The VMM finishes unplugging: the new device attaches now. */
    urg_hcd_detach_done(v.dev);
    assert_int_equal(v.attached, 2);
    assert_string_equal(v.events, "attach,complete,detach,attach");
    assert_non_null(urg_hcd_dev_info(v.dev));
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    urg_hcd_detach_done(v.dev); /* not detaching: harmless */
    assert_int_equal(v.attached, 2);
    vmm_free(&v);
    vmm_urb_free(u);
}

static struct urg_device dev_with(uint8_t speed, uint8_t type, uint16_t mps, uint8_t interval)
{
    struct urg_device d;
    int i;
    memset(&d, 0, sizeof(d));
    d.speed = speed;
    for (i = 0; i < 32; i++)
        d.ep[i].type = URG_EP_INVALID;
    d.ep[0].type = d.ep[16].type = URG_EP_CONTROL;
    d.ep[17].type = type;
    d.ep[17].max_packet_size = mps;
    d.ep[17].interval = interval;
    return d;
}

static void test_speed_helper(void **state)
{
    const uint32_t L = URG_SPEED_MASK(URG_SPEED_LOW), F = URG_SPEED_MASK(URG_SPEED_FULL),
                   H = URG_SPEED_MASK(URG_SPEED_HIGH), S = URG_SPEED_MASK(URG_SPEED_SUPER);
    const uint32_t super_caps = URG_CAP_BIT(URG_CAP_64BITS_IDS) |
                                URG_CAP_BIT(URG_CAP_32BITS_BULK_LENGTH) |
                                URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE);
    struct urg_device d;
    (void)state;
    d = dev_with(URG_SPEED_LOW, URG_EP_INTERRUPT, 8, 10);
    assert_int_equal(urg_hcd_speed_mask(&d, ALL), L);
    d = dev_with(URG_SPEED_FULL, URG_EP_INTERRUPT, 64, 10);
    assert_int_equal(urg_hcd_speed_mask(&d, ALL), F);
    d = dev_with(URG_SPEED_HIGH, URG_EP_INTERRUPT, 64, 4);
    assert_int_equal(urg_hcd_speed_mask(&d, ALL), H | F);
    d = dev_with(URG_SPEED_HIGH, URG_EP_ISO, 65, 1);
    assert_int_equal(urg_hcd_speed_mask(&d, ALL), H);
    d = dev_with(URG_SPEED_SUPER, URG_EP_BULK, 1024, 0);
    assert_int_equal(urg_hcd_speed_mask(&d, super_caps), S | H | F);
    /* SuperSpeed needs all three caps; high speed remains. */
    assert_int_equal(urg_hcd_speed_mask(&d, super_caps & ~URG_CAP_BIT(URG_CAP_64BITS_IDS)),
                     H | F);
    assert_int_equal(urg_hcd_speed_mask(&d, 0), H | F);
    d = dev_with(URG_SPEED_SUPER, URG_EP_ISO, 1025, 1);
    assert_int_equal(urg_hcd_speed_mask(&d, super_caps), S);
    /* As QEMU's usb-redir: no slower speed for a device with an iso
     * endpoint, nor for periodic endpoints of unknown max packet size. */
    d = dev_with(URG_SPEED_SUPER, URG_EP_ISO, 1024, 1);
    assert_int_equal(urg_hcd_speed_mask(&d, super_caps), S);
    d = dev_with(URG_SPEED_HIGH, URG_EP_ISO, 64, 1);
    assert_int_equal(urg_hcd_speed_mask(&d, ALL), H);
    d = dev_with(URG_SPEED_HIGH, URG_EP_INTERRUPT, 8, 4);
    assert_int_equal(urg_hcd_speed_mask(&d, ALL & ~URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE)),
                     H);
    d = dev_with(URG_SPEED_SUPER, URG_EP_INTERRUPT, 1024, 4);
    assert_int_equal(urg_hcd_speed_mask(&d, super_caps), S | H);
    assert_int_equal(urg_hcd_speed_mask(&d, super_caps & ~URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE)),
                     0);
    /* An interrupt or iso endpoint with interval 0 cannot be served. */
    d = dev_with(URG_SPEED_HIGH, URG_EP_INTERRUPT, 8, 0);
    assert_int_equal(urg_hcd_speed_mask(&d, ALL), 0);
    /* Unknown speed counts as full. */
    d = dev_with(URG_SPEED_UNKNOWN, URG_EP_BULK, 64, 0);
    assert_int_equal(urg_hcd_speed_mask(&d, ALL), F);
    assert_int_equal(urg_hcd_speed_mask(NULL, ALL), 0);
}

static void test_port_speeds_and_rejection(void **state)
{
    struct urg_hcd_config cfg;
    struct vmm v;
    (void)state;
    /* A UHCI-like port (low and full only) and a high-speed device whose
     * iso endpoints need high speed: refused, with filter_reject. */
    urg_hcd_config_init(&cfg);
    cfg.port_speeds = URG_SPEED_MASK(URG_SPEED_LOW) | URG_SPEED_MASK(URG_SPEED_FULL);
    vmm_init(&v, &cfg, ALL);
    vmm_plug_default(&v);
    assert_int_equal(v.attached, 0);
    assert_int_equal(v.rejected, 1);
    assert_int_equal(v.last_reject, URG_ERR_HCD_SPEED);
    assert_int_equal(th_count(&v.h, URG_FILTER_REJECT), 1);
    assert_null(urg_hcd_dev_info(v.dev));
    vmm_free(&v);

    /* A high-speed keyboard (8-byte interrupt endpoint) on that port:
     * attached at full speed. */
    vmm_init(&v, &cfg, ALL);
    {
        static const uint8_t ifs[1] = { 3 };
        static const struct th_ep eps[1] = { { 0x81, URG_EP_INTERRUPT, 7, 0, 8, 0 } };
        th_device_ex(&v.h, URG_SPEED_HIGH, 0x0627, 1, 0, ifs, 1, eps, 1);
        vmm_sync(&v, 0);
    }
    assert_int_equal(v.attached, 1);
    assert_int_equal(v.info.speed, URG_SPEED_FULL);
    vmm_free(&v);

    /* A SuperSpeed device on an xHCI port with a host lacking 64-bit ids:
     * not SuperSpeed, so high speed. */
    vmm_init(&v, NULL, ALL & ~URG_CAP_BIT(URG_CAP_64BITS_IDS));
    {
        static const uint8_t ifs[1] = { 8 };
        static const struct th_ep eps[2] = { { 0x81, URG_EP_BULK, 0, 0, 1024, 0 },
                                             { 0x02, URG_EP_BULK, 0, 0, 1024, 0 } };
        th_device_ex(&v.h, URG_SPEED_SUPER, 0x46f4, 1, 0, ifs, 1, eps, 2);
        vmm_sync(&v, 0);
    }
    assert_int_equal(v.attached, 1);
    assert_int_equal(v.info.speed, URG_SPEED_HIGH);
    vmm_free(&v);
}

/* A device on a port: attached (1) or refused, with its reason and the
 * warning that says why. */
static int plug(struct vmm *v, uint32_t port_speeds, uint32_t host_caps, uint8_t speed,
                const struct th_ep *eps, int n_eps)
{
    static const uint8_t ifs[1] = { 0xff };
    struct urg_hcd_config cfg;
    urg_hcd_config_init(&cfg);
    cfg.port_speeds = port_speeds;
    vmm_init(v, &cfg, host_caps);
    th_device_ex(&v->h, speed, 0x1234, 1, 0, ifs, 1, eps, n_eps);
    vmm_sync(v, 0);
    return v->attached;
}

/* Downgrades that cannot work are refused with their cause. */
static void test_speed_refusals_say_why(void **state)
{
    const uint32_t FS = URG_SPEED_MASK(URG_SPEED_LOW) | URG_SPEED_MASK(URG_SPEED_FULL);
    const uint32_t HS = FS | URG_SPEED_MASK(URG_SPEED_HIGH);
    static const struct th_ep iso[1] = { { 0x81, URG_EP_ISO, 1, 0, 64, 0 } };
    static const struct th_ep intr0[1] = { { 0x82, URG_EP_INTERRUPT, 0, 0, 8, 0 } };
    static const struct th_ep intr8[1] = { { 0x83, URG_EP_INTERRUPT, 4, 0, 8, 0 } };
    static const struct th_ep intr512[1] = { { 0x84, URG_EP_INTERRUPT, 4, 0, 512, 0 } };
    struct vmm v;
    (void)state;
    /* A high-speed device with an iso endpoint on a full-speed port. */
    assert_int_equal(plug(&v, FS, ALL, URG_SPEED_HIGH, iso, 1), 0);
    assert_int_equal(v.last_reject, URG_ERR_HCD_SPEED);
    assert_non_null(strstr(v.last_warning, "iso endpoint 0x81 cannot run at full speed"));
    assert_int_equal(th_count(&v.h, URG_FILTER_REJECT), 1);
    vmm_free(&v);
    /* bInterval 0: its own cause, on any port. */
    assert_int_equal(plug(&v, URG_SPEED_MASK_ALL, ALL, URG_SPEED_HIGH, intr0, 1), 0);
    assert_int_equal(v.last_reject, URG_ERR_HCD_INTERVAL);
    assert_non_null(strstr(v.last_warning, "endpoint 0x82 has bInterval 0"));
    assert_string_equal(urg_strerror(URG_ERR_HCD_INTERVAL),
                        "an iso or interrupt endpoint of the device has bInterval 0");
    vmm_free(&v);
    /* Max packet sizes unknown (no ep_info_max_packet_size): not slower. */
    assert_int_equal(plug(&v, FS,
                          ALL & ~(URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE) |
                                  URG_CAP_BIT(URG_CAP_BULK_STREAMS)),
                          URG_SPEED_HIGH, intr8, 1),
                     0);
    assert_non_null(strstr(v.last_warning, "does not send max packet sizes"));
    vmm_free(&v);
    assert_int_equal(plug(&v, FS, ALL, URG_SPEED_HIGH, intr8, 1), 1);
    assert_int_equal(v.info.speed, URG_SPEED_FULL);
    vmm_free(&v);
    /* Too big for full speed, and a SuperSpeed device on a USB 2 port
     * whose host cannot do SuperSpeed... at high speed. */
    assert_int_equal(plug(&v, FS, ALL, URG_SPEED_HIGH, intr512, 1), 0);
    assert_non_null(strstr(v.last_warning, "endpoint 0x84's max packet 512 is over full speed's 64"));
    vmm_free(&v);
    assert_int_equal(plug(&v, HS, ALL, URG_SPEED_SUPER, intr512, 1), 1);
    assert_int_equal(v.info.speed, URG_SPEED_HIGH);
    vmm_free(&v);
}

/* A SuperSpeed device shown at high speed: its bMaxPacketSize0 (9, an
 * exponent) reaches the guest as 64. At its own speed it stays 9. */
static void test_super_speed_ep0_on_a_usb2_port(void **state)
{
    static const uint8_t GET_DEVICE[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    static const uint8_t SS_DEVICE[18] = { 18, 1, 0x20, 3, 0, 0, 0, 9, 0x34, 0x12,
                                           0x78, 0x56, 0, 1, 1, 2, 3, 1 };
    static const struct th_ep bulk[1] = { { 0x81, URG_EP_BULK, 0, 0, 1024, 0 } };
    for (int port = 0; port < 2; port++) {
        struct vmm v;
        struct urg_urb *u = vmm_urb(URG_EP_CONTROL, 0, 18, 0);
        (void)state;
        memcpy(u->setup, GET_DEVICE, 8);
        assert_int_equal(plug(&v, port ? URG_SPEED_MASK_ALL : URG_SPEED_MASK(URG_SPEED_HIGH), ALL,
                              URG_SPEED_SUPER, bulk, 1),
                         1);
        assert_int_equal(v.info.speed, port ? URG_SPEED_SUPER : URG_SPEED_HIGH);
        assert_int_equal(vmm_control_reply(&v, u, URG_STATUS_SUCCESS, SS_DEVICE, 18)->status,
                         URG_URB_SUCCESS);
        assert_int_equal(u->buffer[7], port ? 9 : 64);
        assert_memory_equal(u->buffer + 8, SS_DEVICE + 8, 10);
        vmm_free(&v);
        vmm_urb_free(u);
    }
}

/* A new alternate setting or configuration that the speed the device is
 * shown at cannot carry (an iso endpoint on a high-speed device shown at
 * full speed): the device goes and is refused, with why. */
static void speed_checked_again(const uint8_t setup[8])
{
    const uint32_t FS = URG_SPEED_MASK(URG_SPEED_LOW) | URG_SPEED_MASK(URG_SPEED_FULL);
    static const struct th_ep intr8[1] = { { 0x83, URG_EP_INTERRUPT, 4, 0, 8, 0 } };
    struct urg_packet p;
    struct urg_urb *u = vmm_urb(URG_EP_CONTROL, 0, 0, 0);
    struct vmm v;
    memcpy(u->setup, setup, 8);
    assert_int_equal(plug(&v, FS, ALL, URG_SPEED_HIGH, intr8, 1), 1);
    assert_int_equal(v.info.speed, URG_SPEED_FULL);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    memset(p.h.ep_info.type, URG_EP_INVALID, 32);
    p.h.ep_info.type[0] = p.h.ep_info.type[16] = URG_EP_CONTROL;
    p.h.ep_info.type[urg_ep_index(0x83)] = URG_EP_INTERRUPT;
    p.h.ep_info.interval[urg_ep_index(0x83)] = 4;
    p.h.ep_info.max_packet_size[urg_ep_index(0x83)] = 8;
    p.h.ep_info.type[urg_ep_index(0x85)] = URG_EP_ISO;
    p.h.ep_info.interval[urg_ep_index(0x85)] = 1;
    p.h.ep_info.max_packet_size[urg_ep_index(0x85)] = 64;
    th_emit(&v.h, &p);
    vmm_sync(&v, 0);
    assert_int_equal(v.detached, 1);
    assert_int_equal(v.rejected, 1);
    assert_int_equal(v.last_reject, URG_ERR_HCD_SPEED);
    assert_non_null(strstr(v.last_warning, "iso endpoint 0x85 cannot run at full speed"));
    assert_int_equal(vmm_count(&v, u), 1);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_NODEV);
    assert_null(urg_hcd_dev_info(v.dev));
    {
        /* The late status of the refused URB's request: dropped. */
        const struct th_packet *req =
            th_find(&v.h, setup[1] == 9 ? URG_SET_CONFIGURATION : URG_SET_ALT_SETTING);
        assert_non_null(req);
        memset(&p, 0, sizeof(p));
        p.type = setup[1] == 9 ? URG_CONFIGURATION_STATUS : URG_ALT_SETTING_STATUS;
        p.id = req->p.id;
        if (setup[1] == 9)
            p.h.configuration_status.configuration = 2;
        else
            p.h.alt_setting_status.alt = 1;
        th_emit(&v.h, &p);
        vmm_sync(&v, 0);
        assert_int_equal(vmm_count(&v, u), 1);
        assert_null(urg_hcd_dev_info(v.dev));
    }
    vmm_free(&v);
    vmm_urb_free(u);
}

static void test_speed_checked_again_on_set_interface(void **state)
{
    static const uint8_t SET_ALT1[8] = { 0x01, 11, 1, 0, 0, 0, 0, 0 };
    (void)state;
    speed_checked_again(SET_ALT1);
}

static void test_speed_checked_again_on_set_configuration(void **state)
{
    static const uint8_t SET_CONFIG2[8] = { 0x00, 9, 2, 0, 0, 0, 0, 0 };
    (void)state;
    speed_checked_again(SET_CONFIG2);
}

/* An ep_info endpoint type above 3: refused by default (the session
 * fails); under URG_POLICY_TOLERATE the engine takes it and the model
 * refuses the device as QEMU does ("Received invalid endpoint type"): not
 * attached, or detached when an attached device's new setting brings one,
 * with reason URG_ERR_PROTO_FIELD and filter_reject. */
static void test_tolerated_endpoint_type_refused(void **state)
{
    static const uint8_t ifs[1] = { 0xff };
    static const uint8_t SET_ALT1[8] = { 0x01, 11, 1, 0, 0, 0, 0, 0 };
    static const struct th_ep bad[2] = { { 0x81, 7, 4, 0, 8, 0 }, { 0x02, URG_EP_BULK, 0, 0, 512, 0 } };
    static const struct th_ep intr8[1] = { { 0x83, URG_EP_INTERRUPT, 4, 0, 8, 0 } };
    struct urg_session_config sc;
    struct urg_hcd_config cfg;
    struct urg_packet p;
    struct urg_urb *u;
    struct vmm v;
    (void)state;
    /* The default: the session fails on it. */
    vmm_init(&v, NULL, ALL);
    th_device_ex(&v.h, URG_SPEED_HIGH, 0x1234, 1, 0, ifs, 1, bad, 2);
    assert_int_equal(vmm_sync(&v, 0), URG_ERR_PROTO_FIELD);
    assert_int_equal(v.attached, 0);
    vmm_free(&v);

    urg_session_config_init(&sc);
    sc.policy = URG_POLICY_TOLERATE;
    urg_hcd_config_init(&cfg);
    cfg.session = &sc;
    assert_int_equal(urg_hcd_speed_mask(&(struct urg_device){ .speed = URG_SPEED_HIGH,
                                                              .ep = { [1] = { .type = 7, .interval = 1 } } },
                                        ALL),
                     0);
    /* Tolerated, then refused: never attached. */
    for (int chunk = 0; chunk < 2; chunk++) {
        vmm_init(&v, &cfg, ALL);
        th_device_ex(&v.h, URG_SPEED_HIGH, 0x1234, 1, 0, ifs, 1, bad, 2);
        assert_int_equal(vmm_sync(&v, (size_t)chunk), 0);
        assert_int_equal(v.attached, 0);
        assert_int_equal(v.rejected, 1);
        assert_int_equal(v.last_reject, URG_ERR_PROTO_FIELD);
        assert_non_null(strstr(v.last_warning, "endpoint 0x81 has type 7, not an endpoint type"));
        assert_int_equal(th_count(&v.h, URG_FILTER_REJECT), 1);
        /* the engine's warning (once) and the model's refusal */
        assert_int_equal(v.logs[URG_LOG_WARNING], 2);
        assert_int_equal(urg_session_state(v.s), URG_STATE_CONNECTED);
        vmm_free(&v);
    }

    /* An attached device whose new alternate setting has one: detached
     * and refused, its URB completed once. */
    vmm_init(&v, &cfg, ALL);
    th_device_ex(&v.h, URG_SPEED_HIGH, 0x1234, 1, 0, ifs, 1, intr8, 1);
    assert_int_equal(vmm_sync(&v, 0), 0);
    assert_int_equal(v.attached, 1);
    u = vmm_urb(URG_EP_CONTROL, 0, 0, 0);
    memcpy(u->setup, SET_ALT1, 8);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    memset(p.h.ep_info.type, URG_EP_INVALID, 32);
    p.h.ep_info.type[0] = p.h.ep_info.type[16] = URG_EP_CONTROL;
    p.h.ep_info.type[urg_ep_index(0x85)] = 9;
    p.h.ep_info.interval[urg_ep_index(0x85)] = 1;
    th_emit_unchecked(&v.h, &p);
    assert_int_equal(vmm_sync(&v, 0), 0);
    assert_int_equal(v.detached, 1);
    assert_int_equal(v.rejected, 1);
    assert_int_equal(v.last_reject, URG_ERR_PROTO_FIELD);
    assert_non_null(strstr(v.last_warning, "endpoint 0x85 has type 9"));
    assert_int_equal(vmm_count(&v, u), 1);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_NODEV);
    assert_null(urg_hcd_dev_info(v.dev));
    vmm_free(&v);
    vmm_urb_free(u);
}

static void test_vmm_filter(void **state)
{
    struct urg_hcd_config cfg;
    struct urg_packet p;
    struct vmm v;
    struct urg_urb *u;
    urg_hcd_dev *bad;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.filter = "0x07,-1,-1,-1,0|-1,-1,-1,-1,1"; /* no printers */
    vmm_init(&v, &cfg, ALL);
    assert_non_null(th_find(&v.h, URG_FILTER_FILTER));
    vmm_plug_default(&v);
    assert_int_equal(v.attached, 1);
    u = vmm_urb(URG_EP_BULK, 0x83, 512, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    /* A new alt setting makes it a printer: detached and rejected. */
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERFACE_INFO;
    p.h.interface_info.interface_count = 1;
    p.h.interface_info.interface_class[0] = 0x07;
    th_emit(&v.h, &p);
    vmm_sync(&v, 0);
    assert_string_equal(v.events, "attach,complete,detach,rejected");
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_NODEV);
    assert_int_equal(v.last_reject, URG_ERR_FILTER_DENIED);
    assert_int_equal(th_count(&v.h, URG_FILTER_REJECT), 1);
    vmm_free(&v);
    vmm_urb_free(u);
    /* Denied at connect time: never attached. */
    cfg.filter = "0x01,-1,-1,-1,0|-1,-1,-1,-1,1"; /* no audio interfaces */
    vmm_init(&v, &cfg, ALL);
    vmm_plug_default(&v); /* it has an audio interface */
    assert_int_equal(v.attached, 0);
    assert_int_equal(v.rejected, 1);
    assert_int_equal(v.last_reject, URG_ERR_FILTER_DENIED);
    assert_int_equal(th_count(&v.h, URG_FILTER_REJECT), 1);
    vmm_free(&v);
    /* The same in QEMU's syntax, with its separators. */
    cfg.filter = "0x01:-1:-1:-1:0|-1:-1:-1:-1:1";
    cfg.filter_token_sep = ":";
    cfg.filter_rule_sep = "|";
    vmm_init(&v, &cfg, ALL);
    vmm_plug_default(&v);
    assert_int_equal(v.attached, 0);
    assert_int_equal(v.rejected, 1);
    assert_int_equal(v.last_reject, URG_ERR_FILTER_DENIED);
    vmm_free(&v);
    cfg.filter = "1,2";
    cfg.filter_token_sep = NULL;
    cfg.filter_rule_sep = NULL;
    cfg.callbacks.urb_complete = (void (*)(void *, urg_hcd_dev *, struct urg_urb *))1;
    assert_int_equal(urg_hcd_dev_new(&cfg, &bad), URG_ERR_FILTER_SYNTAX);
    cfg.filter = "0x01,-1,-1,-1,0";
    cfg.filter_token_sep = ":";
    assert_int_equal(urg_hcd_dev_new(&cfg, &bad), URG_ERR_FILTER_SYNTAX);
    cfg.filter_token_sep = "";
    assert_int_equal(urg_hcd_dev_new(&cfg, &bad), URG_ERR_INVALID);
}

static void test_connection_loss_and_reconnect(void **state)
{
    struct vmm v;
    struct urg_urb *bulk, *intr;
    urg_session *s2;
    (void)state;
    vmm_init(&v, NULL, ALL);
    vmm_plug_default(&v);
    bulk = vmm_urb(URG_EP_BULK, 0x83, 512, 0);
    intr = vmm_urb(URG_EP_INTERRUPT, 0x81, 8, 0);
    assert_int_equal(urg_hcd_submit(v.dev, bulk), 0);
    assert_int_equal(urg_hcd_submit(v.dev, intr), 0);
    /* The transport lost the connection. */
    urg_hcd_dev_disconnect(v.dev, URG_ERR_FAILED);
    assert_int_equal(vmm_count(&v, bulk), 1);
    assert_int_equal(vmm_count(&v, intr), 1);
    assert_int_equal(vmm_last(&v, bulk)->status, URG_URB_NODEV);
    assert_int_equal(vmm_last(&v, intr)->status, URG_URB_NODEV);
    assert_int_equal(v.detached, 1);
    assert_null(urg_hcd_dev_session(v.dev));
    urg_hcd_dev_disconnect(v.dev, 0); /* twice: harmless */
    /* A new connection attaches the device again. */
    assert_int_equal(urg_hcd_dev_connect(v.dev, &s2), 0);
    assert_int_equal(urg_hcd_dev_connect(v.dev, &s2), URG_ERR_STATE);
    th_free(&v.h);
    th_init(&v.h, ALL);
    th_pump(&v.h, s2);
    th_hello(&v.h);
    vmm_plug_default(&v);
    assert_int_equal(v.attached, 2);
    assert_int_equal(urg_hcd_submit(v.dev, bulk), 0);
    /* Freeing the device completes what is out. */
    urg_hcd_dev_free(v.dev);
    v.dev = NULL;
    assert_int_equal(vmm_count(&v, bulk), 2);
    assert_int_equal(vmm_last(&v, bulk)->status, URG_URB_NODEV);
    vmm_free(&v);
    vmm_urb_free(bulk);
    vmm_urb_free(intr);
}

static void test_urb_misuse(void **state)
{
    struct vmm v;
    struct urg_urb *u, *iso;
    (void)state;
    vmm_init(&v, NULL, ALL);
    u = vmm_urb(URG_EP_BULK, 0x83, 512, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), URG_ERR_NO_DEVICE);
    vmm_plug_default(&v);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), URG_ERR_HCD_BUSY);
    urg_urb_free(u); /* refused while in flight */
    assert_int_equal(urg_hcd_cancel(v.dev, u), 0);
    assert_int_equal(urg_hcd_cancel(v.dev, u), URG_ERR_NOT_FOUND);
    u->type = URG_EP_INTERRUPT; /* 0x83 is bulk */
    assert_int_equal(urg_hcd_submit(v.dev, u), URG_ERR_HCD_ENDPOINT);
    u->type = URG_EP_BULK;
    u->endpoint = 0x87; /* no such endpoint */
    assert_int_equal(urg_hcd_submit(v.dev, u), URG_ERR_HCD_ENDPOINT);
    iso = vmm_urb(URG_EP_ISO, 0x85, 192, 0);
    assert_int_equal(urg_hcd_submit(v.dev, iso), URG_ERR_INVALID);
    assert_null(urg_urb_alloc(-1));
    assert_string_equal(urg_urb_status_name(URG_URB_NAK), "nak");
    assert_string_equal(urg_strerror(URG_ERR_HCD_SPEED), "no port speed can carry the device");
    assert_string_equal(urg_strerror(URG_ERR_NOMEM), "out of memory");
    vmm_free(&v);
    vmm_urb_free(u);
    vmm_urb_free(iso);
}

/* The model's config carries its size, and its engine options are a
 * pointer (NULL: the engine's defaults) to a sized config of their own:
 * one never initialised is refused. */
static void nothing_completes(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    (void)ud, (void)dev, (void)u;
}

static void test_config_sizes(void **state)
{
    struct urg_hcd_config cfg;
    struct urg_session_config session;
    urg_hcd_dev *dev = NULL;
    (void)state;
    urg_hcd_config_init(&cfg);
    assert_int_equal(cfg.size, sizeof(cfg));
    assert_null(cfg.session);
    cfg.callbacks.urb_complete = nothing_completes;
    assert_int_equal(urg_hcd_dev_new(&cfg, &dev), 0); /* the engine's defaults */
    urg_hcd_dev_free(dev);
    memset(&session, 0, sizeof(session));
    cfg.session = &session;
    dev = NULL;
    assert_int_equal(urg_hcd_dev_new(&cfg, &dev), URG_ERR_INVALID);
    assert_null(dev);
    urg_session_config_init(&session);
    session.log_level = URG_LOG_DEBUG;
    assert_int_equal(urg_hcd_dev_new(&cfg, &dev), 0);
    urg_hcd_dev_free(dev);
    memset(&cfg, 0, sizeof(cfg));
    cfg.callbacks.urb_complete = nothing_completes;
    assert_int_equal(urg_hcd_dev_new(&cfg, &dev), URG_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_sizes),
        cmocka_unit_test(test_attach_reports_the_device),
        cmocka_unit_test(test_detach_handshake),
        cmocka_unit_test(test_speed_helper),
        cmocka_unit_test(test_port_speeds_and_rejection),
        cmocka_unit_test(test_speed_refusals_say_why),
        cmocka_unit_test(test_super_speed_ep0_on_a_usb2_port),
        cmocka_unit_test(test_speed_checked_again_on_set_interface),
        cmocka_unit_test(test_speed_checked_again_on_set_configuration),
        cmocka_unit_test(test_tolerated_endpoint_type_refused),
        cmocka_unit_test(test_vmm_filter),
        cmocka_unit_test(test_connection_loss_and_reconnect),
        cmocka_unit_test(test_urb_misuse),
    };
    return cmocka_run_group_tests_name("hcd lifecycle", tests, NULL, NULL);
}

/*
 * hid.c - the hid command: finds the HID interface, switches a boot device
 * to the boot protocol (SET_PROTOCOL; SET_IDLE for a keyboard), then reads
 * its interrupt IN endpoint (the model starts interrupt receiving) and
 * prints each report: a boot keyboard's as keys pressed and released, a
 * boot mouse's as buttons and movement, anything else in hex.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "parse.h"

struct hid_opts {
    long count;     /* stop after this many reports (0: no limit) */
    int raw;        /* hex only */
};

/* ---------------------------------------------------------------- command */

static const char usage_text[] =
    "hid [-v] [-n COUNT] [--raw] [--timeout SEC] [--listen|--retry] [--usbmon FILE]\n"
    "    [ADDRESS]\n"
    "Prints the reports of the device's HID interface; boot keyboards' as keys,\n"
    "boot mice's as buttons and movement (--raw: in hex only). Stops after COUNT\n"
    "reports, when the device goes, or on Ctrl-C.\n" CLI_USBMON_HELP;

/* The first HID interface with an interrupt IN endpoint. */
static int find_hid(const struct urg_hcd_device *info, int *iface, uint8_t *ep, uint16_t *mps,
                    uint8_t *sub, uint8_t *proto)
{
    uint32_t i;
    int k;
    for (i = 0; i < info->usb.interface_count; i++) {
        if (info->usb.interface_class[i] != 3)
            continue;
        for (k = 16; k < 32; k++) {
            const struct urg_endpoint *e = &info->usb.ep[k];
            if (e->type == URG_EP_INTERRUPT && e->interface == info->usb.interface[i]) {
                *iface = info->usb.interface[i];
                *ep = urg_ep_address(k);
                *mps = e->max_packet_size ? e->max_packet_size : 64;
                *sub = info->usb.interface_subclass[i];
                *proto = info->usb.interface_protocol[i];
                return 0;
            }
        }
    }
    return -1;
}

static int run_hid(struct conn *c, const struct common *o, void *opts)
{
    const struct hid_opts *h = opts;
    const struct urg_hcd_device *info = conn_device(c);
    struct kbd_state kbd;
    struct mouse_state mouse;
    struct urg_urb *u;
    uint8_t ep = 0, sub = 0, proto = 0, buf[1024];
    uint16_t mps = 0;
    int iface = 0, rc;
    long n = 0;
    if (find_hid(info, &iface, &ep, &mps, &sub, &proto)) {
        cli_error(o, "%04x:%04x has no HID interface with an interrupt IN endpoint",
                  info->usb.vendor_id, info->usb.product_id);
        return EXIT_FAIL;
    }
    if (mps > sizeof(buf))
        mps = sizeof(buf);
    printf("%s %04x:%04x, interface %d, endpoint 0x%02x, %u-byte reports\n",
           proto == 1 ? "keyboard" : proto == 2 ? "mouse" : "HID device", info->usb.vendor_id,
           info->usb.product_id, iface, ep, mps);
    fflush(stdout);
    if (sub == 1 && proto) {
        /* The boot protocol, and for a keyboard reports only on change. */
        int st = conn_control(c, 0x21, 0x0b, 0, (uint16_t)iface, NULL, 0, NULL);
        bool idle = false;
        if (st == URG_URB_SUCCESS && proto == 1) {
            st = conn_control(c, 0x21, 0x0a, 0, (uint16_t)iface, NULL, 0, NULL);
            idle = true;
        }
        if (st >= 0 && st != URG_URB_SUCCESS && st != URG_URB_STALL && st != URG_URB_NODEV)
            cli_error(o, "%s: %s", idle ? "SET_IDLE" : "SET_PROTOCOL",
                      urg_urb_status_name(st));
        if (st != URG_URB_SUCCESS && st != URG_URB_STALL)
            return conn_fail(c);
    }
    memset(&kbd, 0, sizeof(kbd));
    memset(&mouse, 0, sizeof(mouse));
    u = urg_urb_alloc(0);
    if (!u) {
        cli_error(o, "out of memory");
        return EXIT_FAIL;
    }
    rc = EXIT_OK;
    while (!h->count || n < h->count) {
        size_t i, got;
        int st;
        u->type = URG_EP_INTERRUPT;
        u->endpoint = ep;
        u->buffer = buf;
        u->length = mps;
        st = conn_xfer(c, u, 0);
        if ((st < 0 || st == URG_URB_NODEV) && conn_replay_finished(c))
            break; /* the capture is over */
        if (st < 0 || st == URG_URB_NODEV) {
            rc = conn_fail(c); /* said: the device went, a timeout, SIGINT */
            break;
        }
        if (st != URG_URB_SUCCESS && st != URG_URB_SHORT) {
            cli_error(o, "interrupt transfer: %s", urg_urb_status_name(st));
            rc = EXIT_FAIL;
            break;
        }
        n++;
        got = u->actual_length < mps ? u->actual_length : mps;
        printf("[");
        for (i = 0; i < got; i++)
            printf("%s%02x", i ? " " : "", buf[i]);
        printf("]");
        if (proto == 1 && !h->raw)
            kbd_report(stdout, &kbd, buf, got);
        else if (proto == 2 && !h->raw)
            mouse_report(stdout, &mouse, buf, got);
        printf("\n");
        fflush(stdout);
    }
    urg_urb_free(u);
    printf("%ld report%s\n", n, n == 1 ? "" : "s");
    if (proto == 1 && !h->raw) {
        size_t i;
        printf("typed: \"");
        for (i = 0; i < kbd.ntyped; i++) {
            char ch = kbd.typed[i];
            if (ch == '\n' || ch == '\t' || ch == '"' || ch == '\\')
                printf("\\%c", ch == '\n' ? 'n' : ch == '\t' ? 't' : ch);
            else
                putchar(ch);
        }
        printf("\"\n");
    }
    if (proto == 2 && !h->raw)
        printf("total: x=%+ld y=%+ld wheel=%+ld, clicks: left %u, right %u, middle %u\n",
               mouse.x, mouse.y, mouse.wheel, mouse.clicks[0], mouse.clicks[1], mouse.clicks[2]);
    return rc;
}

int cmd_hid(int argc, char **argv, struct common *o)
{
    static const struct device_command hid = { usage_text, "keyboard-hid", NULL, run_hid };
    struct hid_opts h = { 0, 0 };
    const struct cli_option options[] = {
        CLI_NUMBER("count", 'n', &h.count, 1, 1e9),
        CLI_SET("raw", 0, &h.raw, 1),
        CLI_END,
    };
    return cli_device_command(argc, argv, o, &hid, options, &h);
}

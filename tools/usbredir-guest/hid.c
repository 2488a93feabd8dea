/*
 * hid.c - the hid command: finds the HID interface, switches a boot device
 * to the boot protocol (SET_PROTOCOL; SET_IDLE for a keyboard), then reads
 * its interrupt IN endpoint (the model starts interrupt receiving) and
 * prints each report: a boot keyboard's as keys pressed and released, a
 * boot mouse's as buttons and movement, anything else in hex.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct hid_opts {
    long count;     /* stop after this many reports (0: no limit) */
    int raw;        /* hex only */
    struct common *o;
};

/* ---------------------------------------------------------------- keyboard */

static const char *key_name(uint8_t k, char *buf, size_t cap)
{
    static const char *const named[] = {
        [0x28] = "Enter", [0x29] = "Esc",      [0x2a] = "Backspace", [0x2b] = "Tab",
        [0x2c] = "Space", [0x39] = "CapsLock", [0x46] = "PrintScreen", [0x47] = "ScrollLock",
        [0x48] = "Pause", [0x49] = "Insert",   [0x4a] = "Home",      [0x4b] = "PageUp",
        [0x4c] = "Delete", [0x4d] = "End",     [0x4e] = "PageDown",  [0x4f] = "Right",
        [0x50] = "Left",  [0x51] = "Down",     [0x52] = "Up",
    };
    static const char punct[] = "-=[]\\#;'`,./";
    if (k >= 0x04 && k <= 0x1d)
        snprintf(buf, cap, "%c", 'a' + (k - 0x04));
    else if (k >= 0x1e && k <= 0x27)
        snprintf(buf, cap, "%c", k == 0x27 ? '0' : '1' + (k - 0x1e));
    else if (k >= 0x2d && k <= 0x38)
        snprintf(buf, cap, "%c", punct[k - 0x2d]);
    else if (k >= 0x3a && k <= 0x45)
        snprintf(buf, cap, "F%u", k - 0x3a + 1);
    else if (k < sizeof(named) / sizeof(named[0]) && named[k])
        snprintf(buf, cap, "%s", named[k]);
    else
        snprintf(buf, cap, "0x%02x", k);
    return buf;
}

/* The character a key types, or 0. */
static char key_char(uint8_t k, bool shift)
{
    static const char digits[] = "1234567890", shifted_digits[] = "!@#$%^&*()";
    static const char punct[] = "-=[]\\#;'`,./", shifted_punct[] = "_+{}|~:\"~<>?";
    if (k >= 0x04 && k <= 0x1d)
        return (char)((shift ? 'A' : 'a') + (k - 0x04));
    if (k >= 0x1e && k <= 0x27)
        return shift ? shifted_digits[k - 0x1e] : digits[k - 0x1e];
    if (k >= 0x2d && k <= 0x38)
        return shift ? shifted_punct[k - 0x2d] : punct[k - 0x2d];
    if (k == 0x2c)
        return ' ';
    if (k == 0x28)
        return '\n';
    if (k == 0x2b)
        return '\t';
    return 0;
}

static const char *const modifiers[8] = { "LeftCtrl",  "LeftShift",  "LeftAlt",  "LeftGUI",
                                          "RightCtrl", "RightShift", "RightAlt", "RightGUI" };

struct kbd {
    uint8_t prev[8];
    char typed[4096];
    size_t ntyped;
};

static bool in_report(const uint8_t *r, uint32_t n, uint8_t k)
{
    uint32_t i;
    for (i = 2; i < n; i++)
        if (r[i] == k)
            return true;
    return false;
}

static void keyboard_report(struct kbd *s, const uint8_t *r, uint32_t n)
{
    char name[16];
    bool any = false, shift = (r[0] & 0x22) != 0;
    uint32_t i;
    int b;
    if (n < 3)
        return;
    if (n >= 8 && r[2] == 1 && r[3] == 1) {
        printf(" rollover");
        return;
    }
    for (b = 0; b < 8; b++) {
        uint8_t bit = (uint8_t)(1u << b);
        if ((r[0] & bit) != (s->prev[0] & bit)) {
            printf("%s %s", any ? "," : "", modifiers[b]);
            printf(r[0] & bit ? " down" : " up");
            any = true;
        }
    }
    for (i = 2; i < n && i < 8; i++) {
        char ch;
        if (!r[i] || in_report(s->prev, 8, r[i]))
            continue;
        printf("%s press %s", any ? "," : "", key_name(r[i], name, sizeof(name)));
        any = true;
        ch = key_char(r[i], shift);
        if (ch && s->ntyped < sizeof(s->typed) - 1)
            s->typed[s->ntyped++] = ch;
    }
    for (i = 2; i < 8; i++) {
        if (!s->prev[i] || in_report(r, n < 8 ? n : 8, s->prev[i]))
            continue;
        printf("%s release %s", any ? "," : "", key_name(s->prev[i], name, sizeof(name)));
        any = true;
    }
    memset(s->prev, 0, sizeof(s->prev));
    memcpy(s->prev, r, n < 8 ? n : 8);
}

/* ---------------------------------------------------------------- mouse */

struct mouse {
    uint8_t buttons;
    long x, y, wheel;
    unsigned clicks[3];
};

static void mouse_report(struct mouse *m, const uint8_t *r, uint32_t n)
{
    static const char *const names[3] = { "left", "right", "middle" };
    bool any = false;
    int b;
    if (n < 3)
        return;
    for (b = 0; b < 3; b++) {
        uint8_t bit = (uint8_t)(1u << b);
        if ((r[0] & bit) != (m->buttons & bit)) {
            printf("%s %s %s", any ? "," : "", r[0] & bit ? "press" : "release", names[b]);
            if (r[0] & bit)
                m->clicks[b]++;
            any = true;
        }
    }
    m->buttons = r[0];
    if ((int8_t)r[1] || (int8_t)r[2]) {
        printf("%s move x=%+d y=%+d", any ? "," : "", (int8_t)r[1], (int8_t)r[2]);
        m->x += (int8_t)r[1];
        m->y += (int8_t)r[2];
        any = true;
    }
    if (n >= 4 && (int8_t)r[3]) {
        printf("%s wheel %+d", any ? "," : "", (int8_t)r[3]);
        m->wheel += (int8_t)r[3];
        any = true;
    }
    if (!any)
        printf(" (no change)");
}

/* ---------------------------------------------------------------- command */

static int own_option(void *ctx, int opt, const char *arg)
{
    struct hid_opts *h = ctx;
    double v;
    if (opt == 'n') {
        if (cli_number(h->o, "-n", arg, 1, 1e9, &v))
            return -1;
        h->count = (long)v;
        return 0;
    }
    if (opt == 'r') {
        h->raw = 1;
        return 0;
    }
    return -1;
}

static const char usage_text[] =
    "hid [-v] [-n COUNT] [--raw] [--timeout SEC] [--listen|--retry] [ADDRESS]\n"
    "Prints the reports of the device's HID interface; boot keyboards' as keys,\n"
    "boot mice's as buttons and movement (--raw: in hex only). Stops after COUNT\n"
    "reports, when the device goes, or on Ctrl-C.\n";

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

int cmd_hid(int argc, char **argv, struct common *o)
{
    static const struct option longopts[] = {
        { "count", required_argument, NULL, 'n' },
        { "raw", no_argument, NULL, 'r' },
        { NULL, 0, NULL, 0 },
    };
    struct hid_opts h = { 0, 0, o };
    struct kbd kbd;
    struct mouse mouse;
    struct conn *c;
    const struct urg_hcd_device *info;
    struct urg_urb *u;
    uint8_t ep = 0, sub = 0, proto = 0, buf[1024];
    uint16_t mps = 0;
    int iface = 0, rc;
    long n = 0;
    rc = cli_command_line(argc, argv, o, usage_text, "n:", longopts, own_option, &h);
    if (rc)
        return rc - 1000;
    if ((rc = conn_open(&c, o, "keyboard-hid")))
        return conn_close(c, rc);
    info = conn_device(c);
    if (find_hid(info, &iface, &ep, &mps, &sub, &proto)) {
        cli_error(o, "%04x:%04x has no HID interface with an interrupt IN endpoint",
                  info->usb.vendor_id, info->usb.product_id);
        return conn_close(c, EXIT_FAIL);
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
        if (st == URG_URB_SUCCESS && proto == 1)
            st = conn_control(c, 0x21, 0x0a, 0, (uint16_t)iface, NULL, 0, NULL);
        if (st != URG_URB_SUCCESS && st != URG_URB_STALL)
            return conn_close(c, conn_over(c) ? EXIT_CONN : EXIT_FAIL);
    }
    memset(&kbd, 0, sizeof(kbd));
    memset(&mouse, 0, sizeof(mouse));
    u = urg_urb_alloc(0);
    if (!u)
        return conn_close(c, EXIT_FAIL);
    rc = EXIT_OK;
    while (!h.count || n < h.count) {
        uint32_t i;
        int st;
        u->type = URG_EP_INTERRUPT;
        u->endpoint = ep;
        u->buffer = buf;
        u->length = mps;
        st = conn_xfer(c, u, 0);
        if (st == URG_URB_NODEV && conn_replay_finished(c))
            break; /* the capture is over */
        if (st < 0 || st == URG_URB_NODEV) {
            rc = conn_over(c) && !conn_replay_finished(c) ? EXIT_CONN : EXIT_FAIL;
            break;
        }
        if (st != URG_URB_SUCCESS && st != URG_URB_SHORT) {
            cli_error(o, "interrupt transfer: %s", urg_urb_status_name(st));
            rc = EXIT_FAIL;
            break;
        }
        n++;
        printf("[");
        for (i = 0; i < u->actual_length; i++)
            printf("%s%02x", i ? " " : "", buf[i]);
        printf("]");
        if (proto == 1 && !h.raw)
            keyboard_report(&kbd, buf, u->actual_length);
        else if (proto == 2 && !h.raw)
            mouse_report(&mouse, buf, u->actual_length);
        printf("\n");
        fflush(stdout);
    }
    urg_urb_free(u);
    printf("%ld report%s\n", n, n == 1 ? "" : "s");
    if (proto == 1 && !h.raw) {
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
    if (proto == 2 && !h.raw)
        printf("total: x=%+ld y=%+ld wheel=%+ld, clicks: left %u, right %u, middle %u\n",
               mouse.x, mouse.y, mouse.wheel, mouse.clicks[0], mouse.clicks[1], mouse.clicks[2]);
    return conn_close(c, rc);
}

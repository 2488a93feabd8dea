/*
 * lsusb.c - the lsusb command: reads the device's descriptors through the
 * control endpoint (device, configurations, strings, HID report
 * descriptors, device qualifier, BOS, status) and prints them laid out as
 * `lsusb -v` does.
 *
 * The requests, in this order (a replayed capture expects the same):
 * device descriptor, string 0 (languages), each configuration (9 bytes,
 * then whole), each string the descriptors name (in order of first
 * mention), each HID interface's report descriptor, the device qualifier
 * (bcdUSB >= 2.00), the BOS (bcdUSB >= 2.01), GET_STATUS.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_CONFIGS 8

struct desc {
    uint8_t device[18];
    uint8_t *config[MAX_CONFIGS];
    uint16_t config_len[MAX_CONFIGS];
    int nconfig;
    char *string[256];        /* UTF-8, fetched ones only */
    uint16_t langid;
    uint8_t *report[32];      /* HID report descriptors per interface number */
    uint16_t report_len[32];
    uint8_t qualifier[10];
    bool have_qualifier;
    uint8_t *bos;
    uint16_t bos_len;
    uint16_t status;
    bool have_status;
};

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* ---------------------------------------------------------------- names */

static const char *class_name(uint8_t c)
{
    switch (c) {
    case 0x00: return "(Defined at Interface level)";
    case 0x01: return "Audio";
    case 0x02: return "Communications";
    case 0x03: return "Human Interface Device";
    case 0x05: return "Physical Interface Device";
    case 0x06: return "Imaging";
    case 0x07: return "Printer";
    case 0x08: return "Mass Storage";
    case 0x09: return "Hub";
    case 0x0a: return "CDC Data";
    case 0x0b: return "Chip/SmartCard";
    case 0x0d: return "Content Security";
    case 0x0e: return "Video";
    case 0x0f: return "Personal Healthcare";
    case 0x10: return "Audio/Video";
    case 0x11: return "Billboard";
    case 0xdc: return "Diagnostic";
    case 0xe0: return "Wireless";
    case 0xef: return "Miscellaneous Device";
    case 0xfe: return "Application Specific Interface";
    case 0xff: return "Vendor Specific Class";
    default: return "";
    }
}

static const char *subclass_name(uint8_t c, uint8_t s)
{
    if (c == 0x03 && s == 1)
        return "Boot Interface Subclass";
    if (c == 0x08)
        switch (s) {
        case 1: return "RBC";
        case 2: return "SFF-8020i, MMC-2 (ATAPI)";
        case 4: return "Floppy (UFI)";
        case 6: return "SCSI";
        default: break;
        }
    if (c == 0x01)
        switch (s) {
        case 1: return "Control Device";
        case 2: return "Streaming";
        case 3: return "MIDI Streaming";
        default: break;
        }
    if (c == 0xff && s == 0xff)
        return "Vendor Specific Subclass";
    return "";
}

static const char *protocol_name(uint8_t c, uint8_t s, uint8_t p)
{
    if (c == 0x03 && s == 1 && p == 1)
        return "Keyboard";
    if (c == 0x03 && s == 1 && p == 2)
        return "Mouse";
    if (c == 0x08 && p == 0x50)
        return "Bulk-Only";
    if (c == 0x08 && p == 0x62)
        return "UAS";
    if (c == 0xff && p == 0xff)
        return "Vendor Specific Protocol";
    return "";
}

/* "NAME" or "" with the separating space only when there is a name. */
static void value_line(const char *indent, const char *field, unsigned v, const char *name)
{
    printf("%s%-20s%5u%s%s\n", indent, field, v, name[0] ? " " : "", name);
}

static const char *str(const struct desc *d, uint8_t index) { return d->string[index] ? d->string[index] : ""; }

static void string_line(const struct desc *d, const char *indent, const char *field, uint8_t i)
{
    value_line(indent, field, i, str(d, i));
}

static void bcd_line(const char *indent, const char *field, uint16_t v)
{
    printf("%s%-20s%2x.%02x\n", indent, field, v >> 8, v & 0xff);
}

/* ---------------------------------------------------------------- printing */

static void print_hid_items(const uint8_t *r, uint16_t n)
{
    static const char *const main_tags[16] = { [8] = "Input", [9] = "Output",
                                               [10] = "Collection", [11] = "Feature",
                                               [12] = "End Collection" };
    static const char *const global_tags[16] = {
        "Usage Page",       "Logical Minimum", "Logical Maximum", "Physical Minimum",
        "Physical Maximum", "Unit Exponent",   "Unit",            "Report Size",
        "Report ID",        "Report Count",    "Push",            "Pop",
    };
    static const char *const local_tags[16] = {
        "Usage",           "Usage Minimum", "Usage Maximum", "Designator Index",
        "Designator Minimum", "Designator Maximum", NULL,     "String Index",
        "String Minimum",  "String Maximum", "Delimiter",
    };
    static const char *const types[4] = { "Main  ", "Global", "Local ", "Reserved" };
    uint16_t i = 0;
    printf("          Report Descriptor: (length is %u)\n", n);
    while (i < n) {
        uint8_t b = r[i], size = b & 3, type = (b >> 2) & 3, tag = b >> 4;
        const char *name = NULL;
        uint32_t v = 0;
        unsigned k;
        if (size == 3)
            size = 4;
        if (b == 0xfe) { /* a long item */
            printf("            ** long item, %u bytes **\n", i + 1 < n ? r[i + 1] : 0);
            break;
        }
        if (i + 1u + size > n) {
            printf("            ** truncated item **\n");
            break;
        }
        if (type == 0)
            name = main_tags[tag];
        else if (type == 1)
            name = global_tags[tag];
        else if (type == 2)
            name = local_tags[tag];
        printf("            Item(%s): %s, data=", types[type], name ? name : "(unknown)");
        if (!size) {
            printf("none\n");
        } else {
            printf(" [ ");
            for (k = 0; k < size; k++) {
                v |= (uint32_t)r[i + 1 + k] << (8 * k);
                printf("0x%02x ", r[i + 1 + k]);
            }
            printf("] %u\n", v);
        }
        i = (uint16_t)(i + 1 + size);
    }
}

static void print_endpoint(const uint8_t *e, bool super)
{
    static const char *const ttype[4] = { "Control", "Isochronous", "Bulk", "Interrupt" };
    static const char *const sync[4] = { "None", "Asynchronous", "Adaptive", "Synchronous" };
    static const char *const usage[4] = { "Data", "Feedback", "Implicit feedback Data",
                                          "(reserved)" };
    uint16_t mps = le16(e + 4);
    unsigned mult = super ? 1 : ((mps >> 11) & 3) + 1;
    printf("      Endpoint Descriptor:\n");
    value_line("        ", "bLength", e[0], "");
    value_line("        ", "bDescriptorType", e[1], "");
    printf("        %-20s 0x%02x  EP %u %s\n", "bEndpointAddress", e[2], e[2] & 15,
           e[2] & 0x80 ? "IN" : "OUT");
    value_line("        ", "bmAttributes", e[3], "");
    printf("          Transfer Type            %s\n", ttype[e[3] & 3]);
    printf("          Synch Type               %s\n", sync[(e[3] >> 2) & 3]);
    printf("          Usage Type               %s\n", usage[(e[3] >> 4) & 3]);
    printf("        %-19s0x%04x  %ux %u bytes\n", "wMaxPacketSize", mps, mult, mps & 0x7ff);
    value_line("        ", "bInterval", e[6], "");
}

static void print_unknown(const char *indent, const uint8_t *p, uint8_t len)
{
    unsigned k;
    printf("%s** UNRECOGNIZED: ", indent);
    for (k = 0; k < len; k++)
        printf(" %02x", p[k]);
    printf("\n");
}

static void print_config(const struct desc *d, const uint8_t *c, uint16_t total, bool super)
{
    uint16_t off;
    uint8_t iface = 0;
    printf("  Configuration Descriptor:\n");
    value_line("    ", "bLength", c[0], "");
    value_line("    ", "bDescriptorType", c[1], "");
    printf("    %-19s0x%04x\n", "wTotalLength", le16(c + 2));
    value_line("    ", "bNumInterfaces", c[4], "");
    value_line("    ", "bConfigurationValue", c[5], "");
    string_line(d, "    ", "iConfiguration", c[6]);
    printf("    %-20s 0x%02x\n", "bmAttributes", c[7]);
    if (!(c[7] & 0x40))
        printf("      (Bus Powered)\n");
    else
        printf("      Self Powered\n");
    if (c[7] & 0x20)
        printf("      Remote Wakeup\n");
    if (c[7] & 0x10)
        printf("      Battery Powered\n");
    printf("    %-20s%5umA\n", "MaxPower", c[8] * (super ? 8u : 2u));
    for (off = c[0]; off + 2 <= total && c[off] >= 2 && off + c[off] <= total;
         off = (uint16_t)(off + c[off])) {
        const uint8_t *p = c + off;
        switch (p[1]) {
        case 4:
            if (p[0] < 9)
                break;
            iface = p[2];
            printf("    Interface Descriptor:\n");
            value_line("      ", "bLength", p[0], "");
            value_line("      ", "bDescriptorType", p[1], "");
            value_line("      ", "bInterfaceNumber", p[2], "");
            value_line("      ", "bAlternateSetting", p[3], "");
            value_line("      ", "bNumEndpoints", p[4], "");
            value_line("      ", "bInterfaceClass", p[5], p[5] ? class_name(p[5]) : "");
            value_line("      ", "bInterfaceSubClass", p[6], subclass_name(p[5], p[6]));
            value_line("      ", "bInterfaceProtocol", p[7], protocol_name(p[5], p[6], p[7]));
            string_line(d, "      ", "iInterface", p[8]);
            continue;
        case 5:
            if (p[0] >= 7)
                print_endpoint(p, super);
            continue;
        case 0x0b:
            if (p[0] < 8)
                break;
            printf("    Interface Association:\n");
            value_line("      ", "bLength", p[0], "");
            value_line("      ", "bDescriptorType", p[1], "");
            value_line("      ", "bFirstInterface", p[2], "");
            value_line("      ", "bInterfaceCount", p[3], "");
            value_line("      ", "bFunctionClass", p[4], class_name(p[4]));
            value_line("      ", "bFunctionSubClass", p[5], subclass_name(p[4], p[5]));
            value_line("      ", "bFunctionProtocol", p[6], protocol_name(p[4], p[5], p[6]));
            string_line(d, "      ", "iFunction", p[7]);
            continue;
        case 0x21:
            if (p[0] < 9)
                break;
            printf("        HID Device Descriptor:\n");
            value_line("          ", "bLength", p[0], "");
            value_line("          ", "bDescriptorType", p[1], "");
            bcd_line("          ", "bcdHID", le16(p + 2));
            value_line("          ", "bCountryCode", p[4], p[4] ? "" : "Not supported");
            value_line("          ", "bNumDescriptors", p[5], "");
            value_line("          ", "bDescriptorType", p[6], p[6] == 0x22 ? "Report" : "");
            value_line("          ", "wDescriptorLength", le16(p + 7), "");
            if (iface < 32 && d->report[iface])
                print_hid_items(d->report[iface], d->report_len[iface]);
            else
                printf("         Report Descriptors: \n           ** UNAVAILABLE **\n");
            continue;
        case 0x30:
            if (p[0] < 6)
                break;
            printf("        SuperSpeed Endpoint Companion Descriptor:\n");
            value_line("          ", "bLength", p[0], "");
            value_line("          ", "bDescriptorType", p[1], "");
            value_line("          ", "bMaxBurst", p[2], "");
            if (p[3] & 0x1f)
                value_line("          ", "MaxStreams", 1u << (p[3] & 0x1f), "");
            continue;
        default:
            break;
        }
        print_unknown("      ", p, p[0]);
    }
}

static void print_bos(const uint8_t *b, uint16_t n)
{
    uint16_t off;
    printf("Binary Object Store Descriptor:\n");
    value_line("  ", "bLength", b[0], "");
    value_line("  ", "bDescriptorType", b[1], "");
    printf("  %-19s0x%04x\n", "wTotalLength", le16(b + 2));
    value_line("  ", "bNumDeviceCaps", b[4], "");
    for (off = b[0]; off + 3 <= n && b[off] >= 3 && off + b[off] <= n;
         off = (uint16_t)(off + b[off])) {
        const uint8_t *p = b + off;
        if (p[2] == 2 && p[0] >= 7) {
            uint32_t a = (uint32_t)p[3] | (uint32_t)p[4] << 8 | (uint32_t)p[5] << 16 |
                         (uint32_t)p[6] << 24;
            printf("  USB 2.0 Extension Device Capability:\n");
            value_line("    ", "bLength", p[0], "");
            value_line("    ", "bDescriptorType", p[1], "");
            value_line("    ", "bDevCapabilityType", p[2], "");
            printf("    %-14s0x%08x\n", "bmAttributes", a);
            if (a & 2)
                printf("      BESL Link Power Management (LPM) Supported\n");
        } else if (p[2] == 3 && p[0] >= 10) {
            static const char *const speeds[4] = { "Low Speed (1Mbps)", "Full Speed (12Mbps)",
                                                   "High Speed (480Mbps)", "SuperSpeed (5Gbps)" };
            uint16_t sp = le16(p + 4);
            int k;
            printf("  SuperSpeed USB Device Capability:\n");
            value_line("    ", "bLength", p[0], "");
            value_line("    ", "bDescriptorType", p[1], "");
            value_line("    ", "bDevCapabilityType", p[2], "");
            printf("    %-20s 0x%02x\n", "bmAttributes", p[3]);
            printf("    %-19s0x%04x\n", "wSpeedsSupported", sp);
            for (k = 0; k < 4; k++)
                if (sp & (1u << k))
                    printf("      Device can operate at %s\n", speeds[k]);
            value_line("    ", "bFunctionalitySupport", p[6], "");
            if (p[6] < 4)
                printf("      Lowest fully-functional device speed is %s\n", speeds[p[6]]);
            printf("    %-20s%5u micro seconds\n", "bU1DevExitLat", p[7]);
            printf("    %-20s%5u micro seconds\n", "bU2DevExitLat", le16(p + 8));
        } else {
            printf("  Device Capability type %u:\n", p[2]);
            print_unknown("    ", p, p[0]);
        }
    }
}

static void print_all(const struct desc *d, const struct urg_hcd_device *info)
{
    const uint8_t *v = d->device;
    int i;
    bool super = info->speed == URG_SPEED_SUPER;
    printf("Bus 001 Device %03u: ID %04x:%04x %s%s%s\n", info->address ? info->address : 1,
           le16(v + 8), le16(v + 10), str(d, v[14]), v[14] && v[15] ? " " : "", str(d, v[15]));
    printf("Device Descriptor:\n");
    value_line("  ", "bLength", v[0], "");
    value_line("  ", "bDescriptorType", v[1], "");
    bcd_line("  ", "bcdUSB", le16(v + 2));
    value_line("  ", "bDeviceClass", v[4], class_name(v[4]));
    value_line("  ", "bDeviceSubClass", v[5], subclass_name(v[4], v[5]));
    value_line("  ", "bDeviceProtocol", v[6], protocol_name(v[4], v[5], v[6]));
    value_line("  ", "bMaxPacketSize0", v[7], "");
    printf("  %-19s0x%04x\n", "idVendor", le16(v + 8));
    printf("  %-19s0x%04x\n", "idProduct", le16(v + 10));
    bcd_line("  ", "bcdDevice", le16(v + 12));
    string_line(d, "  ", "iManufacturer", v[14]);
    string_line(d, "  ", "iProduct", v[15]);
    string_line(d, "  ", "iSerial", v[16]);
    value_line("  ", "bNumConfigurations", v[17], "");
    for (i = 0; i < d->nconfig; i++)
        if (d->config[i])
            print_config(d, d->config[i], d->config_len[i], super);
    if (d->have_qualifier) {
        const uint8_t *q = d->qualifier;
        printf("Device Qualifier (for other device speed):\n");
        value_line("  ", "bLength", q[0], "");
        value_line("  ", "bDescriptorType", q[1], "");
        bcd_line("  ", "bcdUSB", le16(q + 2));
        value_line("  ", "bDeviceClass", q[4], class_name(q[4]));
        value_line("  ", "bDeviceSubClass", q[5], subclass_name(q[4], q[5]));
        value_line("  ", "bDeviceProtocol", q[6], protocol_name(q[4], q[5], q[6]));
        value_line("  ", "bMaxPacketSize0", q[7], "");
        value_line("  ", "bNumConfigurations", q[8], "");
    }
    if (d->bos)
        print_bos(d->bos, d->bos_len);
    if (d->have_status) {
        printf("Device Status:     0x%04x\n", d->status);
        printf(d->status & 1 ? "  Self Powered\n" : "  (Bus Powered)\n");
        if (d->status & 2)
            printf("  Remote Wakeup Enabled\n");
        if (super && (d->status & 4))
            printf("  U1 Enabled\n");
        if (super && (d->status & 8))
            printf("  U2 Enabled\n");
    }
}

/* ---------------------------------------------------------------- reading */

/* UTF-16LE to UTF-8. */
static char *utf8(const uint8_t *s, unsigned n)
{
    char *out = malloc((size_t)n * 2 + 1);
    size_t o = 0;
    unsigned i;
    if (!out)
        return NULL;
    for (i = 0; i + 1 < n; i += 2) {
        uint32_t c = s[i] | s[i + 1] << 8;
        if (c >= 0xd800 && c < 0xdc00 && i + 3 < n) {
            uint32_t lo = s[i + 2] | s[i + 3] << 8;
            if (lo >= 0xdc00 && lo < 0xe000) {
                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                i += 2;
            }
        }
        if (c < 0x80) {
            out[o++] = c >= 0x20 ? (char)c : '?';
        } else if (c < 0x800) {
            out[o++] = (char)(0xc0 | c >> 6);
            out[o++] = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            out[o++] = (char)(0xe0 | c >> 12);
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (c & 0x3f));
        } else {
            out[o++] = (char)(0xf0 | c >> 18);
            out[o++] = (char)(0x80 | ((c >> 12) & 0x3f));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[o] = 0;
    return out;
}

static int get_desc(struct conn *c, uint8_t rt, uint8_t type, uint8_t index, uint16_t windex,
                    uint8_t *buf, uint16_t len, uint32_t *got)
{
    return conn_control(c, rt, 6, (uint16_t)(type << 8 | index), windex, buf, len, got);
}

/* A failed transfer ends the command unless it was only a stall. */
static int check(int st, const char *what, const struct common *o)
{
    if (st == URG_URB_SUCCESS || st == URG_URB_SHORT)
        return 0;
    if (st == URG_URB_STALL)
        return 1;
    if (st >= 0 && st != URG_URB_NODEV)
        cli_error(o, "%s: %s", what, urg_urb_status_name(st));
    return -1;
}

static int fetch_string(struct conn *c, struct desc *d, uint8_t index, const struct common *o)
{
    uint8_t buf[255];
    uint32_t got;
    int r;
    if (!index || d->string[index] || !d->langid)
        return 0;
    r = check(get_desc(c, 0x80, 3, index, d->langid, buf, sizeof(buf), &got), "string", o);
    if (r < 0)
        return -1;
    if (r == 0 && got >= 2 && buf[1] == 3)
        d->string[index] = utf8(buf + 2, (got < buf[0] ? got : buf[0]) - 2);
    return 0;
}

static int fetch(struct conn *c, struct desc *d, const struct common *o)
{
    uint8_t buf[255], hdr[9];
    uint32_t got;
    int i, r;
    uint16_t off;
    if ((r = check(get_desc(c, 0x80, 1, 0, 0, d->device, 18, &got), "device descriptor", o))) {
        if (r == 1)
            cli_error(o, "the device stalled GET_DESCRIPTOR(DEVICE)");
        return -1;
    }
    if (got < 18) {
        cli_error(o, "the device descriptor is %u bytes, not 18", got);
        return -1;
    }
    r = check(get_desc(c, 0x80, 3, 0, 0, buf, sizeof(buf), &got), "string 0", o);
    if (r < 0)
        return -1;
    if (r == 0 && got >= 4)
        d->langid = le16(buf + 2);
    d->nconfig = d->device[17] < MAX_CONFIGS ? d->device[17] : MAX_CONFIGS;
    for (i = 0; i < d->nconfig; i++) {
        if ((r = check(get_desc(c, 0x80, 2, (uint8_t)i, 0, hdr, 9, &got), "configuration", o)) <
            0)
            return -1;
        if (r || got < 9)
            continue;
        d->config_len[i] = le16(hdr + 2) < 9 ? 9 : le16(hdr + 2);
        d->config[i] = calloc(1, d->config_len[i]);
        if (!d->config[i])
            return -1;
        if (check(get_desc(c, 0x80, 2, (uint8_t)i, 0, d->config[i], d->config_len[i], &got),
                  "configuration", o))
            return -1;
        d->config_len[i] = (uint16_t)got;
    }
    /* Strings, in order of first mention. */
    if (fetch_string(c, d, d->device[14], o) || fetch_string(c, d, d->device[15], o) ||
        fetch_string(c, d, d->device[16], o))
        return -1;
    for (i = 0; i < d->nconfig; i++) {
        const uint8_t *cf = d->config[i];
        if (!cf)
            continue;
        if (fetch_string(c, d, cf[6], o))
            return -1;
        for (off = cf[0]; off + 2 <= d->config_len[i] && cf[off] >= 2; off = (uint16_t)(off + cf[off])) {
            if ((cf[off + 1] == 4 && cf[off] >= 9 && fetch_string(c, d, cf[off + 8], o)) ||
                (cf[off + 1] == 0x0b && cf[off] >= 8 && fetch_string(c, d, cf[off + 7], o)))
                return -1;
        }
    }
    /* HID report descriptors (first configuration). */
    if (d->config[0]) {
        const uint8_t *cf = d->config[0];
        uint8_t iface = 0;
        for (off = cf[0]; off + 2 <= d->config_len[0] && cf[off] >= 2; off = (uint16_t)(off + cf[off])) {
            const uint8_t *p = cf + off;
            if (p[1] == 4 && p[0] >= 9)
                iface = p[2];
            if (p[1] == 0x21 && p[0] >= 9 && p[6] == 0x22 && iface < 32 && !d->report[iface]) {
                uint16_t n = le16(p + 7);
                d->report[iface] = malloc(n ? n : 1);
                if (!d->report[iface])
                    return -1;
                r = check(get_desc(c, 0x81, 0x22, 0, iface, d->report[iface], n, &got),
                          "report descriptor", o);
                if (r < 0)
                    return -1;
                if (r) {
                    free(d->report[iface]);
                    d->report[iface] = NULL;
                } else {
                    d->report_len[iface] = (uint16_t)got;
                }
            }
        }
    }
    if (le16(d->device + 2) >= 0x0200) {
        r = check(get_desc(c, 0x80, 6, 0, 0, d->qualifier, 10, &got), "device qualifier", o);
        if (r < 0)
            return -1;
        d->have_qualifier = r == 0 && got == 10;
    }
    if (le16(d->device + 2) >= 0x0201) {
        r = check(get_desc(c, 0x80, 0x0f, 0, 0, hdr, 5, &got), "BOS", o);
        if (r < 0)
            return -1;
        if (r == 0 && got == 5 && le16(hdr + 2) >= 5) {
            d->bos_len = le16(hdr + 2);
            d->bos = malloc(d->bos_len);
            if (!d->bos)
                return -1;
            if (check(get_desc(c, 0x80, 0x0f, 0, 0, d->bos, d->bos_len, &got), "BOS", o))
                return -1;
            d->bos_len = (uint16_t)got;
        }
    }
    r = check(conn_control(c, 0x80, 0, 0, 0, buf, 2, &got), "GET_STATUS", o);
    if (r < 0)
        return -1;
    d->have_status = r == 0 && got == 2;
    d->status = le16(buf);
    return 0;
}

static void desc_free(struct desc *d)
{
    int i;
    for (i = 0; i < MAX_CONFIGS; i++)
        free(d->config[i]);
    for (i = 0; i < 256; i++)
        free(d->string[i]);
    for (i = 0; i < 32; i++)
        free(d->report[i]);
    free(d->bos);
}

static const char usage_text[] = "lsusb [-v] [--timeout SEC] [--listen|--retry] [ADDRESS]\n"
                                 "Prints the device's descriptors as lsusb -v does.\n";

int cmd_lsusb(int argc, char **argv, struct common *o)
{
    struct conn *c;
    struct desc *d;
    int rc = cli_command_line(argc, argv, o, usage_text, NULL, NULL, NULL, NULL);
    if (rc)
        return rc - 1000;
    if ((rc = conn_open(&c, o, "keyboard-lsusb")))
        return conn_close(c, rc);
    d = calloc(1, sizeof(*d));
    if (!d)
        return conn_close(c, EXIT_FAIL);
    if (fetch(c, d, o) == 0)
        print_all(d, conn_device(c));
    else
        rc = conn_over(c) ? EXIT_CONN : EXIT_FAIL;
    desc_free(d);
    free(d);
    return conn_close(c, rc);
}

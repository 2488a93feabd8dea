/*
 * describe.c - the descriptors lsusb read (struct lsusb_desc), printed as
 * `lsusb -v` prints them. Every field read is within the buffer and within
 * its descriptor's bLength; a walk stops at a malformed descriptor and
 * says so (parse.h).
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* Where the output and the problems go. */
struct pr {
    FILE *out, *err;
    const char *prog;
    int problems;
};

static void problem(struct pr *p, const char *what, const char *why)
{
    fprintf(p->err, "%s: %s: %s\n", p->prog, what, why);
    p->problems++;
}

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
static void value_line(struct pr *p, const char *indent, const char *field, unsigned v,
                       const char *name)
{
    fprintf(p->out, "%s%-20s%5u%s%s\n", indent, field, v, name[0] ? " " : "", name);
}

static const char *str(const struct lsusb_desc *d, uint8_t index)
{
    return d->string[index] ? d->string[index] : "";
}

static void string_line(struct pr *p, const struct lsusb_desc *d, const char *indent,
                        const char *field, uint8_t i)
{
    value_line(p, indent, field, i, str(d, i));
}

static void bcd_line(struct pr *p, const char *indent, const char *field, uint16_t v)
{
    fprintf(p->out, "%s%-20s%2x.%02x\n", indent, field, v >> 8, v & 0xff);
}

/* bLength and bDescriptorType, which every descriptor p starts with. */
static void head_lines(struct pr *pr, const char *indent, const uint8_t *p)
{
    value_line(pr, indent, "bLength", p[0], "");
    value_line(pr, indent, "bDescriptorType", p[1], "");
}

/* A class, subclass and protocol triple c[0..2] of a device, an interface
 * or a function (what: "Device", "Interface", "Function"), named. Class 0
 * says "defined at interface level" but in an interface. */
static void class_lines(struct pr *pr, const char *indent, const char *what, const uint8_t *c)
{
    char field[32];
    bool interface = !strcmp(what, "Interface");
    snprintf(field, sizeof(field), "b%sClass", what);
    value_line(pr, indent, field, c[0], interface && !c[0] ? "" : class_name(c[0]));
    snprintf(field, sizeof(field), "b%sSubClass", what);
    value_line(pr, indent, field, c[1], subclass_name(c[0], c[1]));
    snprintf(field, sizeof(field), "b%sProtocol", what);
    value_line(pr, indent, field, c[2], protocol_name(c[0], c[1], c[2]));
}

/* The first 8 bytes of a device descriptor, which a device qualifier
 * repeats for the other speed. */
static void device_lines(struct pr *pr, const uint8_t *v)
{
    head_lines(pr, "  ", v);
    bcd_line(pr, "  ", "bcdUSB", get_le16(v + 2));
    class_lines(pr, "  ", "Device", v + 4);
    value_line(pr, "  ", "bMaxPacketSize0", v[7], "");
}

static void print_unknown(struct pr *p, const char *indent, const uint8_t *b, size_t len)
{
    size_t k;
    fprintf(p->out, "%s** UNRECOGNIZED: ", indent);
    for (k = 0; k < len; k++)
        fprintf(p->out, " %02x", b[k]);
    fprintf(p->out, "\n");
}

/* ---------------------------------------------------------------- configuration */

/* A walk through the descriptors of a configuration. */
struct config_walk {
    struct pr *pr;
    const struct lsusb_desc *d;
    bool super;        /* SuperSpeed: no high-bandwidth multiplier, 8 mA units */
    uint8_t iface;     /* the interface last met (its HID report descriptor) */
    bool *report_said; /* per interface: its report descriptor's problem said */
};

static void print_interface(struct config_walk *w, const uint8_t *p)
{
    struct pr *pr = w->pr;
    w->iface = p[2];
    fprintf(pr->out, "    Interface Descriptor:\n");
    head_lines(pr, "      ", p);
    value_line(pr, "      ", "bInterfaceNumber", p[2], "");
    value_line(pr, "      ", "bAlternateSetting", p[3], "");
    value_line(pr, "      ", "bNumEndpoints", p[4], "");
    class_lines(pr, "      ", "Interface", p + 5);
    string_line(pr, w->d, "      ", "iInterface", p[8]);
}

static void print_endpoint(struct config_walk *w, const uint8_t *e)
{
    static const char *const ttype[4] = { "Control", "Isochronous", "Bulk", "Interrupt" };
    static const char *const sync[4] = { "None", "Asynchronous", "Adaptive", "Synchronous" };
    static const char *const usage[4] = { "Data", "Feedback", "Implicit feedback Data",
                                          "(reserved)" };
    struct pr *pr = w->pr;
    uint16_t mps = get_le16(e + 4);
    unsigned mult = w->super ? 1 : ((mps >> 11) & 3) + 1;
    fprintf(pr->out, "      Endpoint Descriptor:\n");
    head_lines(pr, "        ", e);
    fprintf(pr->out, "        %-20s 0x%02x  EP %u %s\n", "bEndpointAddress", e[2], e[2] & 15,
            e[2] & 0x80 ? "IN" : "OUT");
    value_line(pr, "        ", "bmAttributes", e[3], "");
    fprintf(pr->out, "          Transfer Type            %s\n", ttype[e[3] & 3]);
    fprintf(pr->out, "          Synch Type               %s\n", sync[(e[3] >> 2) & 3]);
    fprintf(pr->out, "          Usage Type               %s\n", usage[(e[3] >> 4) & 3]);
    fprintf(pr->out, "        %-19s0x%04x  %ux %u bytes\n", "wMaxPacketSize", mps, mult,
            mps & 0x7ff);
    value_line(pr, "        ", "bInterval", e[6], "");
}

static void print_association(struct config_walk *w, const uint8_t *p)
{
    struct pr *pr = w->pr;
    fprintf(pr->out, "    Interface Association:\n");
    head_lines(pr, "      ", p);
    value_line(pr, "      ", "bFirstInterface", p[2], "");
    value_line(pr, "      ", "bInterfaceCount", p[3], "");
    class_lines(pr, "      ", "Function", p + 4);
    string_line(pr, w->d, "      ", "iFunction", p[7]);
}

/* The HID descriptor, and the report descriptor of its interface. */
static void print_hid(struct config_walk *w, const uint8_t *p)
{
    struct pr *pr = w->pr;
    const struct lsusb_desc *d = w->d;
    uint8_t i = w->iface;
    fprintf(pr->out, "        HID Device Descriptor:\n");
    head_lines(pr, "          ", p);
    bcd_line(pr, "          ", "bcdHID", get_le16(p + 2));
    value_line(pr, "          ", "bCountryCode", p[4], p[4] ? "" : "Not supported");
    value_line(pr, "          ", "bNumDescriptors", p[5], "");
    value_line(pr, "          ", "bDescriptorType", p[6], p[6] == 0x22 ? "Report" : "");
    value_line(pr, "          ", "wDescriptorLength", get_le16(p + 7), "");
    if (i < LSUSB_MAX_REPORTS && d->report[i]) {
        if (!hid_print_items(pr->out, d->report[i], d->report_len[i]) && !w->report_said[i]) {
            char what[64];
            snprintf(what, sizeof(what), "report descriptor of interface %u", i);
            problem(pr, what, "an item runs past its end");
            w->report_said[i] = true;
        }
    } else {
        fprintf(pr->out, "         Report Descriptors: \n           ** UNAVAILABLE **\n");
    }
}

static void print_companion(struct config_walk *w, const uint8_t *p)
{
    struct pr *pr = w->pr;
    fprintf(pr->out, "        SuperSpeed Endpoint Companion Descriptor:\n");
    head_lines(pr, "          ", p);
    value_line(pr, "          ", "bMaxBurst", p[2], "");
    if (p[3] & 0x1f)
        value_line(pr, "          ", "MaxStreams", 1u << (p[3] & 0x1f), "");
}

/* The descriptors of a configuration that are printed (any other is
 * printed as unrecognized, as is one shorter than its fields). */
static const struct config_item {
    uint8_t type;
    uint8_t min_len; /* bLength at least */
    void (*print)(struct config_walk *w, const uint8_t *p);
} config_items[] = {
    { 4, 9, print_interface },
    { 5, 7, print_endpoint },
    { 0x0b, 8, print_association },
    { 0x21, 9, print_hid },
    { 0x30, 6, print_companion },
};

/* One descriptor of a configuration (p[0..n), n = bLength >= 2): true when
 * printed, false to print it as unrecognized. */
static bool print_config_item(struct config_walk *w, const uint8_t *p, size_t n)
{
    size_t k;
    for (k = 0; k < sizeof(config_items) / sizeof(config_items[0]); k++) {
        if (config_items[k].type != p[1])
            continue;
        if (n < config_items[k].min_len)
            return false;
        config_items[k].print(w, p);
        return true;
    }
    return false;
}

static void print_config(struct pr *pr, const struct lsusb_desc *d, int index, const uint8_t *c,
                         size_t total, bool super, bool *report_said)
{
    struct config_walk w = { pr, d, super, 0, report_said };
    struct desc_iter it;
    const uint8_t *p;
    size_t n;
    int r;
    char what[64], why[128];
    snprintf(what, sizeof(what), "configuration descriptor %d", index);
    fprintf(pr->out, "  Configuration Descriptor:\n");
    if (total < 9) {
        print_unknown(pr, "    ", c, total);
        snprintf(why, sizeof(why), "%zu bytes, too short for one", total);
        problem(pr, what, why);
        return;
    }
    head_lines(pr, "    ", c);
    fprintf(pr->out, "    %-19s0x%04x\n", "wTotalLength", get_le16(c + 2));
    value_line(pr, "    ", "bNumInterfaces", c[4], "");
    value_line(pr, "    ", "bConfigurationValue", c[5], "");
    string_line(pr, d, "    ", "iConfiguration", c[6]);
    fprintf(pr->out, "    %-20s 0x%02x\n", "bmAttributes", c[7]);
    if (!(c[7] & 0x40))
        fprintf(pr->out, "      (Bus Powered)\n");
    else
        fprintf(pr->out, "      Self Powered\n");
    if (c[7] & 0x20)
        fprintf(pr->out, "      Remote Wakeup\n");
    if (c[7] & 0x10)
        fprintf(pr->out, "      Battery Powered\n");
    fprintf(pr->out, "    %-20s%5umA\n", "MaxPower", c[8] * (super ? 8u : 2u));
    desc_iter_init(&it, c, total);
    if (desc_next(&it, &p, &n) == DESC_OK) /* the configuration descriptor itself */
        while ((r = desc_next(&it, &p, &n)) == DESC_OK)
            if (!print_config_item(&w, p, n))
                print_unknown(pr, "      ", p, n);
    if (it.bad) {
        desc_problem(&it, why, sizeof(why));
        fprintf(pr->out, "    ** %s **\n", why);
        problem(pr, what, why);
    }
}

/* ---------------------------------------------------------------- BOS */

static void print_capability(struct pr *pr, const uint8_t *p, size_t n)
{
    if (n < 3) {
        print_unknown(pr, "  ", p, n);
    } else if (p[2] == 2 && n >= 7) {
        uint32_t a = get_le32(p + 3);
        fprintf(pr->out, "  USB 2.0 Extension Device Capability:\n");
        head_lines(pr, "    ", p);
        value_line(pr, "    ", "bDevCapabilityType", p[2], "");
        fprintf(pr->out, "    %-14s0x%08x\n", "bmAttributes", a);
        if (a & 2)
            fprintf(pr->out, "      BESL Link Power Management (LPM) Supported\n");
    } else if (p[2] == 3 && n >= 10) {
        static const char *const speeds[4] = { "Low Speed (1Mbps)", "Full Speed (12Mbps)",
                                               "High Speed (480Mbps)", "SuperSpeed (5Gbps)" };
        uint16_t sp = get_le16(p + 4);
        int k;
        fprintf(pr->out, "  SuperSpeed USB Device Capability:\n");
        head_lines(pr, "    ", p);
        value_line(pr, "    ", "bDevCapabilityType", p[2], "");
        fprintf(pr->out, "    %-20s 0x%02x\n", "bmAttributes", p[3]);
        fprintf(pr->out, "    %-19s0x%04x\n", "wSpeedsSupported", sp);
        for (k = 0; k < 4; k++)
            if (sp & (1u << k))
                fprintf(pr->out, "      Device can operate at %s\n", speeds[k]);
        value_line(pr, "    ", "bFunctionalitySupport", p[6], "");
        if (p[6] < 4)
            fprintf(pr->out, "      Lowest fully-functional device speed is %s\n", speeds[p[6]]);
        fprintf(pr->out, "    %-20s%5u micro seconds\n", "bU1DevExitLat", p[7]);
        fprintf(pr->out, "    %-20s%5u micro seconds\n", "bU2DevExitLat", get_le16(p + 8));
    } else {
        fprintf(pr->out, "  Device Capability type %u:\n", p[2]);
        print_unknown(pr, "    ", p, n);
    }
}

static void print_bos(struct pr *pr, const uint8_t *b, size_t total)
{
    struct desc_iter it;
    const uint8_t *p;
    size_t n;
    char why[128];
    fprintf(pr->out, "Binary Object Store Descriptor:\n");
    if (total < 5) {
        print_unknown(pr, "  ", b, total);
        snprintf(why, sizeof(why), "%zu bytes, too short for one", total);
        problem(pr, "BOS descriptor", why);
        return;
    }
    head_lines(pr, "  ", b);
    fprintf(pr->out, "  %-19s0x%04x\n", "wTotalLength", get_le16(b + 2));
    value_line(pr, "  ", "bNumDeviceCaps", b[4], "");
    desc_iter_init(&it, b, total);
    if (desc_next(&it, &p, &n) == DESC_OK) /* the BOS descriptor itself */
        while (desc_next(&it, &p, &n) == DESC_OK)
            print_capability(pr, p, n);
    if (it.bad) {
        desc_problem(&it, why, sizeof(why));
        fprintf(pr->out, "  ** %s **\n", why);
        problem(pr, "BOS descriptor", why);
    }
}

/* ---------------------------------------------------------------- all */

int lsusb_print(FILE *out, FILE *err, const char *prog, const struct lsusb_desc *d)
{
    struct pr pr = { out, err, prog, 0 };
    const uint8_t *v = d->device;
    bool super = d->speed == 3, report_said[LSUSB_MAX_REPORTS] = { false };
    int i;
    fprintf(out, "Bus 001 Device %03u: ID %04x:%04x %s%s%s\n", d->address ? d->address : 1,
            get_le16(v + 8), get_le16(v + 10), str(d, v[14]), v[14] && v[15] ? " " : "",
            str(d, v[15]));
    fprintf(out, "Device Descriptor:\n");
    device_lines(&pr, v);
    fprintf(out, "  %-19s0x%04x\n", "idVendor", get_le16(v + 8));
    fprintf(out, "  %-19s0x%04x\n", "idProduct", get_le16(v + 10));
    bcd_line(&pr, "  ", "bcdDevice", get_le16(v + 12));
    string_line(&pr, d, "  ", "iManufacturer", v[14]);
    string_line(&pr, d, "  ", "iProduct", v[15]);
    string_line(&pr, d, "  ", "iSerial", v[16]);
    value_line(&pr, "  ", "bNumConfigurations", v[17], "");
    for (i = 0; i < d->nconfig && i < LSUSB_MAX_CONFIGS; i++)
        if (d->config[i])
            print_config(&pr, d, i, d->config[i], d->config_len[i], super, report_said);
    if (d->have_qualifier) {
        const uint8_t *q = d->qualifier;
        fprintf(out, "Device Qualifier (for other device speed):\n");
        device_lines(&pr, q);
        value_line(&pr, "  ", "bNumConfigurations", q[8], "");
    }
    if (d->bos)
        print_bos(&pr, d->bos, d->bos_len);
    if (d->have_status) {
        fprintf(out, "Device Status:     0x%04x\n", d->status);
        fprintf(out, d->status & 1 ? "  Self Powered\n" : "  (Bus Powered)\n");
        if (d->status & 2)
            fprintf(out, "  Remote Wakeup Enabled\n");
        if (super && (d->status & 4))
            fprintf(out, "  U1 Enabled\n");
        if (super && (d->status & 8))
            fprintf(out, "  U2 Enabled\n");
    }
    return pr.problems;
}

void lsusb_desc_free(struct lsusb_desc *d)
{
    int i;
    for (i = 0; i < LSUSB_MAX_CONFIGS; i++)
        free(d->config[i]);
    for (i = 0; i < 256; i++)
        free(d->string[i]);
    for (i = 0; i < LSUSB_MAX_REPORTS; i++)
        free(d->report[i]);
    free(d->bos);
}

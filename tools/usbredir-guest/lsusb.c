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
 * (bcdUSB >= 2.00), the BOS (bcdUSB >= 2.01), GET_STATUS. What they
 * return is checked and printed by describe.c (parse.h); a malformed
 * descriptor is said on stderr and makes the exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "parse.h"

static int get_desc(struct conn *c, uint8_t rt, uint8_t type, uint8_t index, uint16_t windex,
                    uint8_t *buf, uint16_t len, uint32_t *got)
{
    int st = conn_control(c, rt, 6, (uint16_t)(type << 8 | index), windex, buf, len, got);
    if (*got > len)
        *got = len;
    return st;
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

struct lsusb_run {
    struct conn *c;
    const struct common *o;
    struct lsusb_desc d;
    bool bad_string[256];     /* said malformed: not asked for again */
    int problems;             /* malformed descriptors said */
};

static int out_of_memory(const struct common *o)
{
    cli_error(o, "out of memory");
    return -1;
}

static int fetch_string(struct lsusb_run *l, uint8_t index)
{
    struct lsusb_desc *d = &l->d;
    uint8_t buf[255];
    uint32_t got;
    const char *why;
    int r;
    if (!index || d->string[index] || l->bad_string[index] || !d->langid)
        return 0;
    r = check(get_desc(l->c, 0x80, 3, index, d->langid, buf, sizeof(buf), &got), "string", l->o);
    if (r < 0)
        return -1;
    if (r)
        return 0; /* stalled: printed without it */
    d->string[index] = usb_string_text(buf, got, &why);
    if (!d->string[index] && !why)
        return out_of_memory(l->o);
    if (!d->string[index]) {
        cli_error(l->o, "string descriptor %u: %s", index, why);
        l->bad_string[index] = true;
        l->problems++;
    }
    return 0;
}

/* The strings a configuration names, in order of first mention. */
static int config_strings(struct lsusb_run *l, const uint8_t *cf, size_t len)
{
    struct desc_iter it;
    const uint8_t *p;
    size_t n;
    if (len < 9)
        return 0; /* lsusb_print() says it is too short */
    if (fetch_string(l, cf[6]))
        return -1;
    desc_iter_init(&it, cf, len);
    desc_next(&it, &p, &n); /* the configuration descriptor */
    while (desc_next(&it, &p, &n) == DESC_OK)
        if ((p[1] == 4 && n >= 9 && fetch_string(l, p[8])) ||
            (p[1] == 0x0b && n >= 8 && fetch_string(l, p[7])))
            return -1;
    return 0;
}

/* The report descriptor of each HID interface of the first configuration. */
static int hid_reports(struct lsusb_run *l, const uint8_t *cf, size_t len)
{
    struct lsusb_desc *d = &l->d;
    struct desc_iter it;
    const uint8_t *p;
    size_t n;
    uint8_t iface = 0;
    uint32_t got;
    int r;
    desc_iter_init(&it, cf, len);
    desc_next(&it, &p, &n);
    while (desc_next(&it, &p, &n) == DESC_OK) {
        uint16_t want;
        if (p[1] == 4 && n >= 9)
            iface = p[2];
        if (p[1] != 0x21 || n < 9 || p[6] != 0x22 || iface >= LSUSB_MAX_REPORTS ||
            d->report[iface])
            continue;
        want = get_le16(p + 7);
        d->report[iface] = malloc(want ? want : 1);
        if (!d->report[iface])
            return out_of_memory(l->o);
        r = check(get_desc(l->c, 0x81, 0x22, 0, iface, d->report[iface], want, &got),
                  "report descriptor", l->o);
        if (r < 0)
            return -1;
        if (r) {
            free(d->report[iface]);
            d->report[iface] = NULL;
        } else {
            d->report_len[iface] = got;
        }
    }
    return 0;
}

static int fetch(struct lsusb_run *l)
{
    struct lsusb_desc *d = &l->d;
    const struct common *o = l->o;
    struct conn *c = l->c;
    uint8_t buf[255], hdr[9];
    uint32_t got;
    int i, r;
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
        d->langid = get_le16(buf + 2);
    d->nconfig = d->device[17] < LSUSB_MAX_CONFIGS ? d->device[17] : LSUSB_MAX_CONFIGS;
    for (i = 0; i < d->nconfig; i++) {
        uint16_t total;
        if ((r = check(get_desc(c, 0x80, 2, (uint8_t)i, 0, hdr, 9, &got), "configuration", o)) <
            0)
            return -1;
        if (r || got < 9)
            continue;
        total = get_le16(hdr + 2) < 9 ? 9 : get_le16(hdr + 2);
        d->config[i] = calloc(1, total);
        if (!d->config[i])
            return out_of_memory(o);
        r = check(get_desc(c, 0x80, 2, (uint8_t)i, 0, d->config[i], total, &got), "configuration",
                  o);
        if (r < 0)
            return -1;
        if (r) { /* its first 9 bytes came, the whole did not: as lsusb does */
            cli_error(o, "configuration descriptor %d: the device stalled reading its %u bytes; "
                         "some information will be missing",
                      i, total);
            free(d->config[i]);
            d->config[i] = NULL;
            continue;
        }
        d->config_len[i] = got;
    }
    /* Strings, in order of first mention. */
    if (fetch_string(l, d->device[14]) || fetch_string(l, d->device[15]) ||
        fetch_string(l, d->device[16]))
        return -1;
    for (i = 0; i < d->nconfig; i++)
        if (d->config[i] && config_strings(l, d->config[i], d->config_len[i]))
            return -1;
    /* HID report descriptors (first configuration). */
    if (d->config[0] && hid_reports(l, d->config[0], d->config_len[0]))
        return -1;
    if (get_le16(d->device + 2) >= 0x0200) {
        r = check(get_desc(c, 0x80, 6, 0, 0, d->qualifier, 10, &got), "device qualifier", o);
        if (r < 0)
            return -1;
        d->have_qualifier = r == 0 && got == 10;
    }
    if (get_le16(d->device + 2) >= 0x0201) {
        r = check(get_desc(c, 0x80, 0x0f, 0, 0, hdr, 5, &got), "BOS", o);
        if (r < 0)
            return -1;
        if (r == 0 && got == 5 && get_le16(hdr + 2) >= 5) {
            uint16_t total = get_le16(hdr + 2);
            d->bos = malloc(total);
            if (!d->bos)
                return out_of_memory(o);
            r = check(get_desc(c, 0x80, 0x0f, 0, 0, d->bos, total, &got), "BOS", o);
            if (r < 0)
                return -1;
            if (r) {
                cli_error(o, "BOS descriptor: the device stalled reading its %u bytes; some "
                             "information will be missing",
                          total);
                free(d->bos);
                d->bos = NULL;
            } else {
                d->bos_len = got;
            }
        }
    }
    r = check(conn_control(c, 0x80, 0, 0, 0, buf, 2, &got), "GET_STATUS", o);
    if (r < 0)
        return -1;
    d->have_status = r == 0 && got == 2;
    d->status = get_le16(buf);
    return 0;
}

static const char usage_text[] =
    "lsusb [-v] [--timeout SEC] [--listen|--retry] [--usbmon FILE] [ADDRESS]\n"
    "Prints the device's descriptors as lsusb -v does.\n" CLI_USBMON_HELP;

static int run_lsusb(struct conn *c, const struct common *o, void *opts)
{
    struct lsusb_run *l = calloc(1, sizeof(*l));
    int rc = EXIT_OK;
    (void)opts;
    if (!l) {
        out_of_memory(o);
        return EXIT_FAIL;
    }
    l->c = c;
    l->o = o;
    if (fetch(l) == 0) {
        l->d.speed = conn_device(c)->speed;
        l->d.address = conn_device(c)->address;
        fflush(stderr);
        l->problems += lsusb_print(stdout, stderr, o->prog, &l->d);
        fflush(stdout);
        if (l->problems)
            rc = EXIT_FAIL;
    } else {
        rc = conn_fail(c);
    }
    lsusb_desc_free(&l->d);
    free(l);
    return rc;
}

int cmd_lsusb(int argc, char **argv, struct common *o)
{
    static const struct device_command lsusb = { usage_text, "keyboard-lsusb", NULL, run_lsusb };
    return cli_device_command(argc, argv, o, &lsusb, NULL, NULL);
}

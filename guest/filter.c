/*
 * filter.c - usbredirfilter rules: the string form (parse and format) and
 * the check of a device against rules, with the semantics of
 * libusbredirparser's usbredirfilter (see docs/engine.md, "Filters").
 *
 * The parser is stricter than usbredirfilter_string_to_rules: values are
 * decimal (no leading zeros), 0x-hex or -1; allow is 0 or 1; tokens may not
 * be empty. Spaces and tabs around a token are allowed. Empty rules (as in
 * "a||b" or a trailing '|') are skipped, as the reference does.
 */
#include "internal.h"

#include <stdio.h>

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* Parses one value from [b, e); -1 or 0..max. */
static bool parse_value(const char *b, const char *e, long max, int *out)
{
    long v = 0;
    while (b < e && is_space(*b))
        b++;
    while (e > b && is_space(e[-1]))
        e--;
    if (b == e)
        return false;
    if (e - b == 2 && b[0] == '-' && b[1] == '1') {
        *out = -1;
        return true;
    }
    if (e - b > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X')) {
        for (b += 2; b < e; b++) {
            int d;
            if (*b >= '0' && *b <= '9')
                d = *b - '0';
            else if (*b >= 'a' && *b <= 'f')
                d = *b - 'a' + 10;
            else if (*b >= 'A' && *b <= 'F')
                d = *b - 'A' + 10;
            else
                return false;
            v = v * 16 + d;
            if (v > max)
                return false;
        }
    } else {
        if (*b == '0' && e - b > 1) /* "010": octal to strtol, ambiguous */
            return false;
        for (; b < e; b++) {
            if (*b < '0' || *b > '9')
                return false;
            v = v * 10 + (*b - '0');
            if (v > max)
                return false;
        }
    }
    *out = (int)v;
    return true;
}

/* Parses the rule in [b, e). */
static bool parse_rule(const char *b, const char *e, struct urg_filter_rule *r)
{
    static const long max[5] = { 255, 0xffff, 0xffff, 0xffff, 1 };
    int v[5];
    int i;
    for (i = 0; i < 5; i++) {
        const char *c = b;
        while (c < e && *c != ',')
            c++;
        if (!parse_value(b, c, max[i], &v[i]))
            return false;
        if (i == 4 && v[i] < 0) /* allow must be 0 or 1 */
            return false;
        if (c == e) {
            if (i != 4)
                return false;
        } else if (i == 4) {
            return false; /* more than five tokens */
        }
        b = c + 1;
    }
    r->device_class = v[0];
    r->vendor_id = v[1];
    r->product_id = v[2];
    r->device_version_bcd = v[3];
    r->allow = v[4];
    return true;
}

static bool blank(const char *b, const char *e)
{
    while (b < e && is_space(*b))
        b++;
    return b == e;
}

URG_API int urg_filter_parse(const char *str, struct urg_filter_rule *rules, size_t max,
                             size_t *count)
{
    size_t n = 0;
    const char *b = str;
    if (!str || !count)
        return URG_ERR_INVALID;
    while (*b) {
        const char *e = b;
        struct urg_filter_rule r;
        while (*e && *e != '|')
            e++;
        if (!blank(b, e)) {
            if (!parse_rule(b, e, &r)) {
                *count = n;
                return URG_ERR_FILTER_SYNTAX;
            }
            if (rules && n < max)
                rules[n] = r;
            n++;
        }
        b = *e ? e + 1 : e;
    }
    *count = n;
    if (rules && n > max)
        return URG_ERR_BUFFER;
    return 0;
}

int urgi_filter_parse_alloc(const struct urg_allocator *a, const char *str,
                            struct urg_filter_rule **rules, size_t *count)
{
    size_t n;
    int r = urg_filter_parse(str, NULL, 0, &n);
    *rules = NULL;
    *count = 0;
    if (r)
        return r;
    if (n) {
        *rules = urgi_malloc(a, n * sizeof(**rules));
        if (!*rules)
            return URG_ERR_NOMEM;
        urg_filter_parse(str, *rules, n, &n);
    }
    *count = n;
    return 0;
}

URG_API int urg_filter_verify(const struct urg_filter_rule *rules, size_t count)
{
    size_t i;
    if (count && !rules)
        return URG_ERR_INVALID;
    for (i = 0; i < count; i++) {
        const struct urg_filter_rule *r = &rules[i];
        if (r->device_class < -1 || r->device_class > 255)
            return URG_ERR_INVALID;
        if (r->vendor_id < -1 || r->vendor_id > 0xffff)
            return URG_ERR_INVALID;
        if (r->product_id < -1 || r->product_id > 0xffff)
            return URG_ERR_INVALID;
        if (r->device_version_bcd < -1 || r->device_version_bcd > 0xffff)
            return URG_ERR_INVALID;
        if (r->allow != 0 && r->allow != 1)
            return URG_ERR_INVALID;
    }
    return 0;
}

URG_API int urg_filter_format(const struct urg_filter_rule *rules, size_t count, char *buf,
                              size_t cap)
{
    size_t len = 0, i;
    if (urg_filter_verify(rules, count) || (!buf && cap))
        return URG_ERR_INVALID;
    if (cap)
        buf[0] = '\0';
    for (i = 0; i < count; i++) {
        char tmp[64], f[4][12];
        const struct urg_filter_rule *r = &rules[i];
        const int vals[4] = { r->device_class, r->vendor_id, r->product_id, r->device_version_bcd };
        int j, n;
        for (j = 0; j < 4; j++) {
            if (vals[j] < 0)
                snprintf(f[j], sizeof(f[j]), "-1");
            else
                snprintf(f[j], sizeof(f[j]), j == 0 ? "0x%02x" : "0x%04x", (unsigned)vals[j]);
        }
        n = snprintf(tmp, sizeof(tmp), "%s%s,%s,%s,%s,%d", i ? "|" : "", f[0], f[1], f[2], f[3],
                     r->allow);
        if (len < cap) { /* copy what fits, as snprintf does */
            size_t room = cap - 1 - len, k = (size_t)n < room ? (size_t)n : room;
            memcpy(buf + len, tmp, k);
            buf[len + k] = '\0';
        }
        len += (size_t)n;
    }
    return (int)len;
}

/* The first rule matching cls/vendor/product/version decides. */
static int check1(const struct urg_filter_rule *rules, size_t count, uint8_t cls,
                  const struct urg_device *dev, unsigned flags)
{
    size_t i;
    for (i = 0; i < count; i++) {
        const struct urg_filter_rule *r = &rules[i];
        if ((r->device_class == -1 || r->device_class == cls) &&
            (r->vendor_id == -1 || r->vendor_id == dev->vendor_id) &&
            (r->product_id == -1 || r->product_id == dev->product_id) &&
            (r->device_version_bcd == -1 || r->device_version_bcd == dev->device_version_bcd))
            return r->allow ? 0 : URG_ERR_FILTER_DENIED;
    }
    return (flags & URG_FILTER_DEFAULT_ALLOW) ? 0 : URG_ERR_FILTER_NO_MATCH;
}

URG_API int urg_filter_check(const struct urg_filter_rule *rules, size_t count,
                             const struct urg_device *dev, unsigned flags)
{
    uint32_t i, n, skipped = 0;
    int r;
    if (!dev || urg_filter_verify(rules, count))
        return URG_ERR_INVALID;
    /* Class 0x00 (per interface) and 0xef (miscellaneous) say nothing. */
    if (dev->device_class != 0x00 && dev->device_class != 0xef) {
        if ((r = check1(rules, count, dev->device_class, dev, flags)))
            return r;
    }
    n = dev->interface_count > 32 ? 32 : dev->interface_count;
    for (i = 0; i < n; i++) {
        /* A non-boot HID interface beside others (a keyboard's extra keys,
         * say) does not decide, unless every interface is one. */
        if (!(flags & URG_FILTER_DONT_SKIP_NON_BOOT_HID) && n > 1 &&
            dev->interface_class[i] == 0x03 && dev->interface_subclass[i] == 0x00 &&
            dev->interface_protocol[i] == 0x00) {
            skipped++;
            continue;
        }
        if ((r = check1(rules, count, dev->interface_class[i], dev, flags)))
            return r;
    }
    if (n > 0 && skipped == n)
        return urg_filter_check(rules, count, dev, flags | URG_FILTER_DONT_SKIP_NON_BOOT_HID);
    return 0;
}

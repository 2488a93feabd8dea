/*
 * filter.c - usbredirfilter rules: the string form (parse and format) and
 * the check of a device against rules, with the semantics of
 * libusbredirparser's usbredirfilter (see docs/engine.md, "Filters").
 *
 * The string form is exactly usbredirfilter_string_to_rules() and
 * usbredirfilter_rules_to_string() (usbredir 0.13), with any separator
 * sets, without allocating: rules are split at any character of rule_sep
 * and then at any character of token_sep, as strtok_r() splits (so runs of
 * separators, and leading and trailing ones, make no empty rule or token);
 * each rule has exactly five tokens, each read as strtol(token, &end, 0)
 * does in the C locale and stored into an int (leading isspace()
 * characters, a sign, 0x hex, leading-0 octal; the whole token must be
 * read; out-of-range values saturate at LONG_MIN/LONG_MAX and are then
 * truncated to int as the reference's assignment does); then the rule must
 * pass usbredirfilter_verify() (which does not look at allow). Formatting
 * joins with the first character of each set and prints allow as 1 or 0.
 */
#include "internal.h"

#include <limits.h>
#include <stdio.h>

/* isspace() in the C locale. */
static bool is_cspace(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int digit_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

/* long to int as a two's complement truncation (what the reference's
 * "int = long" does with gcc and clang), without implementation-defined
 * conversions. */
static int long_to_int(long v)
{
    unsigned long u = (unsigned long)v & 0xffffffffUL;
    if (u <= (unsigned long)INT_MAX)
        return (int)u;
    return -(int)(0xffffffffUL - u) - 1;
}

/* strtol(token, &end, 0) on the token [b, e) (no NUL inside, not empty),
 * stored into an int. False if strtol would not read the whole token. */
static bool parse_value(const unsigned char *b, const unsigned char *e, int *out)
{
    const unsigned long lmax = (unsigned long)LONG_MAX;
    unsigned long v = 0;
    unsigned base = 10;
    bool neg = false, over = false;
    const unsigned char *digits;
    while (b < e && is_cspace(*b))
        b++;
    if (b < e && (*b == '+' || *b == '-'))
        neg = *b++ == '-';
    if (b < e && *b == '0') {
        if (e - b > 2 && (b[1] == 'x' || b[1] == 'X') && digit_value(b[2]) < 16) {
            base = 16;
            b += 2;
        } else {
            base = 8;
        }
    }
    digits = b;
    for (; b < e; b++) {
        unsigned d = (unsigned)digit_value(*b);
        if (d >= base)
            return false; /* strtol stops here: not the whole token */
        if (!over && v > (lmax + 1 - d) / base)
            over = true; /* beyond LONG_MIN's magnitude: saturated */
        if (!over)
            v = v * base + d;
    }
    if (b == digits)
        return false; /* no digits (a sign or spaces alone) */
    if (neg) {
        if (over || v > lmax)
            *out = long_to_int(LONG_MIN);
        else
            *out = long_to_int(-(long)v);
    } else {
        if (over || v > lmax)
            *out = long_to_int(LONG_MAX);
        else
            *out = long_to_int((long)v);
    }
    return true;
}

/* A separator set as a table (strtok_r's, without its cost per character). */
struct sep_set {
    bool has[256];
};

static void sep_set_init(struct sep_set *t, const char *set)
{
    memset(t, 0, sizeof(*t));
    for (; *set; set++)
        t->has[(unsigned char)*set] = true;
}

static bool verify1(const struct urg_filter_rule *r)
{
    return r->device_class >= -1 && r->device_class <= 255 && r->vendor_id >= -1 &&
           r->vendor_id <= 0xffff && r->product_id >= -1 && r->product_id <= 0xffff &&
           r->device_version_bcd >= -1 && r->device_version_bcd <= 0xffff;
}

/* Parses the rule [b, e) (not empty, no character of rule_sep). */
static bool parse_rule(const unsigned char *b, const unsigned char *e,
                       const struct sep_set *token_sep, struct urg_filter_rule *r)
{
    int v[5];
    int i = 0;
    for (;;) {
        const unsigned char *t;
        while (b < e && token_sep->has[*b])
            b++;
        if (b == e)
            break;
        if (i == 5)
            return false; /* a sixth token */
        t = b;
        while (b < e && !token_sep->has[*b])
            b++;
        if (!parse_value(t, b, &v[i]))
            return false;
        i++;
    }
    if (i != 5)
        return false;
    r->device_class = v[0];
    r->vendor_id = v[1];
    r->product_id = v[2];
    r->device_version_bcd = v[3];
    r->allow = v[4];
    return verify1(r);
}

URG_API int urg_filter_parse_sep(const char *str, const char *token_sep, const char *rule_sep,
                                 struct urg_filter_rule *rules, size_t max, size_t *count)
{
    const unsigned char *b = (const unsigned char *)str;
    struct sep_set ts, rs;
    size_t n = 0;
    if (!str || !token_sep || !rule_sep || !count)
        return URG_ERR_INVALID;
    if (!*token_sep || !*rule_sep) {
        *count = 0;
        return URG_ERR_INVALID;
    }
    sep_set_init(&ts, token_sep);
    sep_set_init(&rs, rule_sep);
    for (;;) {
        const unsigned char *e;
        struct urg_filter_rule r;
        while (*b && rs.has[*b])
            b++;
        if (!*b)
            break;
        e = b;
        while (*e && !rs.has[*e])
            e++;
        if (!parse_rule(b, e, &ts, &r)) {
            *count = n;
            return URG_ERR_FILTER_SYNTAX;
        }
        if (rules && n < max)
            rules[n] = r;
        n++;
        b = e;
    }
    *count = n;
    if (rules && n > max)
        return URG_ERR_BUFFER;
    return 0;
}

URG_API int urg_filter_parse(const char *str, struct urg_filter_rule *rules, size_t max,
                             size_t *count)
{
    return urg_filter_parse_sep(str, URG_FILTER_TOKEN_SEP, URG_FILTER_RULE_SEP, rules, max,
                                count);
}

int urgi_filter_parse_alloc(const struct urg_allocator *a, const char *str,
                            const char *token_sep, const char *rule_sep,
                            struct urg_filter_rule **rules, size_t *count)
{
    size_t n;
    int r = urg_filter_parse_sep(str, token_sep, rule_sep, NULL, 0, &n);
    *rules = NULL;
    *count = 0;
    if (r)
        return r;
    if (n) {
        *rules = urgi_malloc(a, n * sizeof(**rules));
        if (!*rules)
            return URG_ERR_NOMEM;
        urg_filter_parse_sep(str, token_sep, rule_sep, *rules, n, &n);
    }
    *count = n;
    return 0;
}

URG_API int urg_filter_verify(const struct urg_filter_rule *rules, size_t count)
{
    size_t i;
    if (count && !rules)
        return URG_ERR_INVALID;
    for (i = 0; i < count; i++)
        if (!verify1(&rules[i]))
            return URG_ERR_INVALID;
    return 0;
}

/* Formats one value as the reference does: -1, or 0x%02x (class) / 0x%04x. */
static int format_value(char *out, size_t cap, int v, bool cls)
{
    if (v == -1)
        return snprintf(out, cap, "-1");
    return snprintf(out, cap, cls ? "0x%02x" : "0x%04x", (unsigned)v);
}

URG_API int urg_filter_format_sep(const struct urg_filter_rule *rules, size_t count,
                                  const char *token_sep, const char *rule_sep, char *buf,
                                  size_t cap)
{
    size_t len = 0, i;
    if (urg_filter_verify(rules, count) || (!buf && cap) || !token_sep || !rule_sep ||
        !*token_sep || !*rule_sep)
        return URG_ERR_INVALID;
    if (cap)
        buf[0] = '\0';
    for (i = 0; i < count; i++) {
        char tmp[64];
        const struct urg_filter_rule *r = &rules[i];
        const int vals[4] = { r->device_class, r->vendor_id, r->product_id, r->device_version_bcd };
        int j, n = 0;
        if (i)
            tmp[n++] = *rule_sep;
        for (j = 0; j < 4; j++) {
            n += format_value(tmp + n, sizeof(tmp) - (size_t)n, vals[j], j == 0);
            tmp[n++] = *token_sep;
        }
        tmp[n++] = r->allow ? '1' : '0';
        if (len < cap) { /* copy what fits, as snprintf does */
            size_t room = cap - 1 - len, k = (size_t)n < room ? (size_t)n : room;
            memcpy(buf + len, tmp, k);
            buf[len + k] = '\0';
        }
        len += (size_t)n;
        if (len > (size_t)INT_MAX)
            return URG_ERR_INVALID; /* the length would not fit the return */
    }
    return (int)len;
}

URG_API int urg_filter_format(const struct urg_filter_rule *rules, size_t count, char *buf,
                              size_t cap)
{
    return urg_filter_format_sep(rules, count, URG_FILTER_TOKEN_SEP, URG_FILTER_RULE_SEP, buf,
                                 cap);
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

/*
 * filter_diff.h - one filter string read by this library and by the
 * reference (libusbredirparser's usbredirfilter), compared: the same
 * verdict, the same rules, the same formatted string (each side formats its
 * own rules and the other's, with the same separators), and the formatted
 * string compared again the same way. Shared by tests/diff/test_diff_filter.c
 * and tests/fuzz/fuzz_filter_diff.c (header only: both link the reference,
 * the library never does).
 */
#ifndef URG_TEST_FILTER_DIFF_H
#define URG_TEST_FILTER_DIFF_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <usbredirfilter.h>

#include "urg_guest.h"

struct fd_result {
    int accepted;  /* both accepted the string */
    size_t rules;  /* how many rules, if accepted */
    char why[512]; /* the first difference, if any */
};

static int fd_fail(struct fd_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->why, sizeof(res->why), fmt, ap);
    va_end(ap);
    return 1;
}

static int fd_same_rule(const struct urg_filter_rule *a, const struct usbredirfilter_rule *b)
{
    return a->device_class == b->device_class && a->vendor_id == b->vendor_id &&
           a->product_id == b->product_id && a->device_version_bcd == b->device_version_bcd &&
           a->allow == b->allow;
}

/* Ours formatted into a malloc'd string, or NULL with *rc the error. */
static char *fd_format(const struct urg_filter_rule *rules, size_t n, const char *ts,
                       const char *rs, int *rc)
{
    char *s;
    int len = urg_filter_format_sep(rules, n, ts, rs, NULL, 0);
    *rc = len;
    if (len < 0)
        return NULL;
    s = malloc((size_t)len + 1);
    if (!s) {
        *rc = -1000;
        return NULL;
    }
    *rc = urg_filter_format_sep(rules, n, ts, rs, s, (size_t)len + 1);
    if (*rc != len || strlen(s) != (size_t)len) {
        free(s);
        *rc = -1001;
        return NULL;
    }
    return s;
}

/* Compares str with separators ts and rs; 0 if both sides agree (res says
 * whether they accepted it), else 1 with res->why. depth: how many more
 * times to compare the formatted string. */
static int fd_compare_depth(const char *str, const char *ts, const char *rs, struct fd_result *res,
                            int depth)
{
    struct usbredirfilter_rule *theirs = NULL;
    struct urg_filter_rule *ours = NULL, *conv = NULL;
    char *their_str = NULL, *our_str = NULL, *cross = NULL;
    int tcount = 0, trc, orc, crc, frc, bad = 0;
    size_t n = 0, counted = 0, i;

    res->accepted = 0;
    res->rules = 0;
    res->why[0] = '\0';
    trc = usbredirfilter_string_to_rules(str, ts, rs, &theirs, &tcount);
    crc = urg_filter_parse_sep(str, ts, rs, NULL, 0, &counted);
    if ((trc == 0) != (crc == 0)) {
        bad = fd_fail(res, "verdict: reference %d, ours (counting) %d", trc, crc);
        goto out;
    }
    if (trc != 0)
        goto out; /* both refused */
    if (counted != (size_t)tcount) {
        bad = fd_fail(res, "count: reference %d, ours %zu", tcount, counted);
        goto out;
    }
    ours = calloc(counted + 1, sizeof(*ours));
    conv = calloc(counted + 1, sizeof(*conv));
    if (!ours || !conv) {
        bad = fd_fail(res, "out of memory");
        goto out;
    }
    orc = urg_filter_parse_sep(str, ts, rs, ours, counted, &n);
    if (orc != 0 || n != counted) {
        bad = fd_fail(res, "parse into %zu rules: %d, count %zu", counted, orc, n);
        goto out;
    }
    if (counted > 0) {
        size_t m = 99;
        /* One rule short: the first ones written, the whole count told. */
        if (urg_filter_parse_sep(str, ts, rs, conv, counted - 1, &m) != URG_ERR_BUFFER ||
            m != counted) {
            bad = fd_fail(res, "a short array not refused, or the count wrong (%zu)", m);
            goto out;
        }
    }
    for (i = 0; i < n; i++) {
        if (!fd_same_rule(&ours[i], &theirs[i])) {
            bad = fd_fail(res, "rule %zu: reference %d,%d,%d,%d,%d ours %d,%d,%d,%d,%d", i,
                          theirs[i].device_class, theirs[i].vendor_id, theirs[i].product_id,
                          theirs[i].device_version_bcd, theirs[i].allow, ours[i].device_class,
                          ours[i].vendor_id, ours[i].product_id, ours[i].device_version_bcd,
                          ours[i].allow);
            goto out;
        }
        conv[i].device_class = theirs[i].device_class;
        conv[i].vendor_id = theirs[i].vendor_id;
        conv[i].product_id = theirs[i].product_id;
        conv[i].device_version_bcd = theirs[i].device_version_bcd;
        conv[i].allow = theirs[i].allow;
    }
    if (!strcmp(ts, ",") && !strcmp(rs, "|")) {
        size_t m = 0;
        struct urg_filter_rule *plain = calloc(counted + 1, sizeof(*plain));
        int prc = plain ? urg_filter_parse(str, plain, counted, &m) : -1;
        int same = prc == 0 && m == n && !memcmp(plain, ours, n * sizeof(*ours));
        free(plain);
        if (!same) {
            bad = fd_fail(res, "urg_filter_parse differs from urg_filter_parse_sep");
            goto out;
        }
    }
    /* Formatting: ours of our rules, ours of theirs, theirs of ours (the
     * same rules): one string. */
    their_str = usbredirfilter_rules_to_string(theirs, tcount, ts, rs);
    our_str = fd_format(ours, n, ts, rs, &frc);
    cross = fd_format(conv, n, ts, rs, &frc);
    if (!their_str || !our_str || !cross) {
        bad = fd_fail(res, "format: reference %s, ours %s (%d)", their_str ? "ok" : "NULL",
                      our_str ? "ok" : "failed", frc);
        goto out;
    }
    if (strcmp(their_str, our_str) || strcmp(their_str, cross)) {
        bad = fd_fail(res, "format: reference \"%.200s\", ours \"%.200s\"", their_str, our_str);
        goto out;
    }
    free(their_str);
    {
        struct usbredirfilter_rule *back = calloc(counted + 1, sizeof(*back));
        if (!back) {
            their_str = NULL;
            bad = fd_fail(res, "out of memory");
            goto out;
        }
        for (i = 0; i < n; i++) {
            back[i].device_class = ours[i].device_class;
            back[i].vendor_id = ours[i].vendor_id;
            back[i].product_id = ours[i].product_id;
            back[i].device_version_bcd = ours[i].device_version_bcd;
            back[i].allow = ours[i].allow;
        }
        their_str = usbredirfilter_rules_to_string(back, tcount, ts, rs);
        free(back);
    }
    if (!their_str || strcmp(their_str, our_str)) {
        bad = fd_fail(res, "the reference formats our rules differently");
        goto out;
    }
    res->accepted = 1;
    res->rules = n;
    if (depth > 0) {
        struct fd_result again;
        if (fd_compare_depth(our_str, ts, rs, &again, depth - 1)) {
            bad = fd_fail(res, "formatted \"%.200s\": %s", our_str, again.why);
            goto out;
        }
    }
out:
    if (theirs)
        usbredirfilter_free(theirs);
    free(their_str);
    free(our_str);
    free(cross);
    free(ours);
    free(conv);
    return bad;
}

static int fd_compare(const char *str, const char *ts, const char *rs, struct fd_result *res)
{
    return fd_compare_depth(str, ts, rs, res, 1);
}

#endif /* URG_TEST_FILTER_DIFF_H */

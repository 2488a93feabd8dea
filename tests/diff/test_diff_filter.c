/*
 * test_diff_filter.c - filter strings against Debian's libusbredirparser
 * (usbredirfilter_string_to_rules / _rules_to_string / _verify / _check;
 * tests only, the library never links it).
 *
 * Every string (hand-written tricky ones, then ones a fixed PRNG builds),
 * each with its separator sets, is read by both sides: the same verdict,
 * the same rules, the same formatted string both ways, and the formatted
 * string again (tests/diff/filter_diff.h). Then rules made directly (out of
 * range, allow other than 0/1): the same verify verdict, the same string,
 * the same check result for devices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filter_diff.h"

struct fcase {
    const char *str, *ts, *rs;
};

#define C(s) { s, ",", "|" }
#define Q(s) { s, ":", "|" } /* QEMU's usb-redir filter property */

static const struct fcase tricky[] = {
    /* well-formed */
    C("0x03,-1,-1,-1,0|-1,-1,-1,-1,1"),
    C("8,0x46f4,1,0x0100,1"),
    C("255,65535,0xffff,0xFFFF,0"),
    C("0,0,0,0,0"),
    C("-1,-1,-1,-1,1"),
    C("0X03,0XABCD,0xabcd,0x0,1"),
    /* empty strings, empty rules and tokens, runs of separators */
    C(""),
    C("|"),
    C("||||"),
    C(","),
    C(",,,,"),
    C("|,|"),
    C("-1,-1,-1,-1,0|"),
    C("|0xff,0xffff,0xffff,0xffff,1||1,2,3,4,0"),
    C("1,,2,3,4,1"),
    C(",1,2,3,4,1"),
    C("1,2,3,4,1,"),
    C(",,1,,2,,3,,4,,1,,"),
    C("1,2,3,4,1|||5,6,7,8,0"),
    C("1,2,3,4,"),
    C("1,2,3,4"),
    C("1,2,3,4,1,5"),
    C("1,2,3,4,1,,"),
    C("1,2,3,4,1|1,2,3"),
    /* octal, hex, signs */
    C("010,2,3,4,1"),
    C("08,2,3,4,1"),
    C("0777,0,0,0,1"),
    C("0377,0,0,0,1"),
    C("0400,0,0,0,1"),
    C("00,00,00,00,00"),
    C("0x,2,3,4,1"),
    C("0x0x1,2,3,4,1"),
    C("0xg,2,3,4,1"),
    C("0x1g,2,3,4,1"),
    C("0xFF,0x00FFFF,0x000000000001,0x0,1"),
    C("+5,+0x10,+010,+0,+1"),
    C("-0,-0,-0,-0,-0"),
    C("-0x1,-01,-1,-1,1"),
    C("--1,2,3,4,1"),
    C("+-1,2,3,4,1"),
    C("-+1,2,3,4,1"),
    C("+,2,3,4,1"),
    C("-,2,3,4,1"),
    C("-2,2,3,4,1"),
    C("-0x2,2,3,4,1"),
    /* whitespace */
    C(" 5,2,3,4,1"),
    C("5 ,2,3,4,1"),
    C(" 8 , 0X46F4 ,0x0001, 256 , 1 "),
    C("\t5,\n6,\v7,\f8,\r1"),
    C("- 1,2,3,4,1"),
    C(" ,2,3,4,1"),
    C("1,2,3,4,1 | 5,6,7,8,0"),
    C(" |1,2,3,4,1"),
    /* ranges, overflow */
    C("256,2,3,4,1"),
    C("255,65536,3,4,1"),
    C("1,0x10000,3,4,1"),
    C("1,2,3,65536,1"),
    C("1,2,65535,65535,1"),
    C("2147483647,1,1,1,1"),
    C("2147483648,1,1,1,1"),
    C("4294967295,1,1,1,1"),
    C("4294967296,1,1,1,1"),
    C("4294967297,1,1,1,1"),
    C("4294967551,1,1,1,1"),
    C("-4294967297,1,1,1,1"),
    C("0x100000003,0x100000000,1,1,1"),
    C("9223372036854775807,1,1,1,1"),
    C("9223372036854775808,1,1,1,1"),
    C("99999999999999999999999999999,1,1,1,1"),
    C("-9223372036854775808,1,1,1,1"),
    C("-9223372036854775809,1,1,1,1"),
    C("-99999999999999999999999999999,1,1,1,1"),
    C("0xffffffffffffffffffffffff,1,1,1,1"),
    C("1,1,1,1,99999999999999999999999999999"),
    C("1,1,1,1,-99999999999999999999999999999"),
    C("1,1,1,1,4294967296"),
    C("1,1,1,1,0x100000000"),
    /* allow other than 0/1 */
    C("1,2,3,4,2"),
    C("1,2,3,4,-1"),
    C("1,2,3,4,-2"),
    C("1,2,3,4,0x7fffffff"),
    C("1,2,3,4,-2147483648"),
    C("3,-1,-1,-1,7|-1,-1,-1,-1,0"),
    /* garbage */
    C("abc,2,3,4,1"),
    C("1,2,3,4,1x"),
    C("1;2;3;4;1"),
    C("x"),
    C("1.5,2,3,4,1"),
    C("1e3,2,3,4,1"),
    C("0b1,2,3,4,1"),
    C("\xff,2,3,4,1"),
    C("1,2,3,4,1\xc3\xa9"),
    C("1:2:3:4:1"),
    /* QEMU's syntax */
    Q("0x03:-1:-1:-1:0|-1:-1:-1:-1:1"),
    Q("-1:0x46f4:0x0001:-1:1|-1:-1:-1:-1:0"),
    Q("::0x08::-1:-1:-1:1::|"),
    Q("0x03,-1,-1,-1,0"),
    Q("1:2:3:4:1:5"),
    Q("1:2:3:4"),
    Q(""),
    /* other separators: sets of several, whitespace, digits, '-', 'x' */
    { "1,2:3,4:1|5:6,7:8,0", ",:", "|" },
    { "1 2\t3 4 1\n5 6 7 8 0", " \t", "\n" },
    { "1 2 3 4 1;5 6 7 8 0", " ", ";" },
    { "1,2,3,4,1|5,6,7,8,0", "|", "," },
    { "1,2,3,4,1|5,6,7,8,0", ",|", "|" },
    { "1,2,3,4,1|5,6,7,8,0", "|", ",|" },
    { "1,2,3,4,1", ",", "," },
    { "213141516", "1", "|" },
    { "0x031-11-11-111", "1", "|" },
    { "-1,-1,-1,-1,1", ",", "-" },
    { "-1,-1,-1,-1,1", "-", "|" },
    { "1-2-3-4-1", "-", "|" },
    { "0x10,0x20,0x30,0x40,1", "x", "|" },
    { "0x10,0x20,0x30,0x40,1", ",", "x" },
    { "1,2,3,4,0", ",", "0" },
    { "105060708010", "0", "|" },
    { "1,2,3,4,1", "", "|" },
    { "1,2,3,4,1", ",", "" },
    { "", "", "" },
    { "1,2,3,4,1", "abc", "def" },
    { "1a2b3c4a1d5a6b7c8a0", "abc", "def" },
    { "1,2,3,4,1|5,6,7,8,0", "\xff", "|" },
    { "1\xff" "2\xff" "3\xff" "4\xff" "1", "\xff", "|" },
    { "1,2,3,4,1\x80" "5,6,7,8,0", ",", "\x80" },
    { " 1, 2, 3, 4, 1", ",", "|" },
    { " 1, 2, 3, 4, 1", ", ", "|" },
    { "1,2,3,4,1 ", ",", " " },
    { "+1+2+3+4+1", "+", "|" },
    { "1,2,3,4,1", ",,,,", "||||" },
};

/* ---- generated strings: a fixed xorshift PRNG */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}
static uint32_t below(uint32_t n) { return rnd() % n; }

static const char *const values[] = {
    "-1", "0", "1", "2", "3", "8", "9", "255", "256", "65535", "65536", "0x03", "0xff", "0x100",
    "0xffff", "0x10000", "0X1a", "010", "0377", "0400", "08", "00", "-0", "+5", "+0x10", "-2",
    " 7", "\t7", "7 ", "", "x", "0x", "-", "+", "4294967297", "-4294967295", "2147483648",
    "99999999999999999999", "0xg", "1e2", "-0x1", "--1", "0177777", "0200000",
};
static const char *const seps[][2] = {
    { ",", "|" }, { ":", "|" }, { ",:", "|" }, { " ", "\n" }, { ",", ";|" }, { "1", "|" },
    { "-", "|" }, { ",", "-" }, { "x", "|" }, { ",", "0" }, { ", \t", "|" }, { "|", "," },
    { ",|", "|" },
};

/* Appends s to b (cap bytes, NUL-terminated). */
static void cat(char *b, size_t cap, const char *s)
{
    size_t l = strlen(b), k = strlen(s);
    if (l + k < cap)
        memcpy(b + l, s, k + 1);
}

/* A string of 0-4 rules with 3-6 values each (usually 5), joined by the
 * separators' characters, now and then doubled or leading or trailing. */
static void gen_rules(char *b, size_t cap, const char *ts, const char *rs)
{
    unsigned rules = below(5), r, t;
    char one[2] = { 0, 0 };
    b[0] = '\0';
    if (below(8) == 0) {
        one[0] = rs[below((uint32_t)strlen(rs))];
        cat(b, cap, one);
    }
    for (r = 0; r < rules; r++) {
        unsigned tokens = below(4) ? 5 : 3 + below(4);
        if (r) {
            one[0] = rs[below((uint32_t)strlen(rs))];
            cat(b, cap, one);
            if (below(10) == 0)
                cat(b, cap, one);
        }
        for (t = 0; t < tokens; t++) {
            if (t) {
                one[0] = ts[below((uint32_t)strlen(ts))];
                cat(b, cap, one);
                if (below(12) == 0)
                    cat(b, cap, one);
            }
            /* mostly values that parse, sometimes anything */
            cat(b, cap, below(4) ? values[below(8)] : values[below(sizeof(values) /
                                                                      sizeof(values[0]))]);
        }
    }
    if (below(8) == 0) {
        one[0] = rs[below((uint32_t)strlen(rs))];
        cat(b, cap, one);
    }
}

/* Bytes from a small alphabet: separators, digits, signs, x, spaces. */
static void gen_noise(char *b, size_t cap)
{
    static const char alphabet[] = ",|:;-+ \t0123456789xXabfg\n";
    size_t n = below(40), i;
    for (i = 0; i < n && i + 1 < cap; i++)
        b[i] = alphabet[below(sizeof(alphabet) - 1)];
    b[i] = '\0';
}

#define GENERATED 3000

static void test_strings_agree(void **state)
{
    size_t i, accepted = 0, refused = 0, total = 0, rules = 0;
    struct fd_result res;
    char buf[512];
    (void)state;
    for (i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++, total++) {
        if (fd_compare(tricky[i].str, tricky[i].ts, tricky[i].rs, &res))
            fail_msg("\"%s\" (\"%s\", \"%s\"): %s", tricky[i].str, tricky[i].ts, tricky[i].rs,
                     res.why);
        res.accepted ? accepted++ : refused++;
        rules += res.rules;
    }
    for (i = 0; i < GENERATED; i++, total++) {
        const char *const *sp = seps[below(sizeof(seps) / sizeof(seps[0]))];
        if (below(5) == 0)
            gen_noise(buf, sizeof(buf));
        else
            gen_rules(buf, sizeof(buf), sp[0], sp[1]);
        if (fd_compare(buf, sp[0], sp[1], &res))
            fail_msg("generated \"%s\" (\"%s\", \"%s\"): %s", buf, sp[0], sp[1], res.why);
        res.accepted ? accepted++ : refused++;
        rules += res.rules;
    }
    printf("filter strings: %zu compared (%zu hand-written, %d generated): %zu accepted by "
           "both (%zu rules), %zu refused by both\n",
           total, sizeof(tricky) / sizeof(tricky[0]), GENERATED, accepted, rules, refused);
    /* Both verdicts are exercised, not only one. */
    assert_true(accepted > total / 5);
    assert_true(refused > total / 5);
}

/* The hand-written strings, one by one, whose verdict is known. */
static void test_known_verdicts(void **state)
{
    static const struct {
        struct fcase c;
        int ok;
        int first[5];
    } known[] = {
        { Q("0x03:-1:-1:-1:0|-1:-1:-1:-1:1"), 1, { 3, -1, -1, -1, 0 } },
        { C("010,2,3,4,1"), 1, { 8, 2, 3, 4, 1 } },
        { C("+5,+0x10,+010,+0,+1"), 1, { 5, 16, 8, 0, 1 } },
        { C("1,2,3,4,2"), 1, { 1, 2, 3, 4, 2 } },
        { C("1,2,3,4,-1"), 1, { 1, 2, 3, 4, -1 } },
        { C(" 5,2,3,4,1"), 1, { 5, 2, 3, 4, 1 } },
        { C("1,,2,3,4,1"), 1, { 1, 2, 3, 4, 1 } },
        { C("4294967297,1,1,1,1"), 1, { 1, 1, 1, 1, 1 } },
        { C("99999999999999999999999999999,1,1,1,1"), 1, { -1, 1, 1, 1, 1 } },
        { C("5 ,2,3,4,1"), 0, { 0 } },
        { C("08,2,3,4,1"), 0, { 0 } },
        { C("1,2,3,4"), 0, { 0 } },
        { C("0x,2,3,4,1"), 0, { 0 } },
        { { "1,2,3,4,1", "", "|" }, 0, { 0 } },
    };
    size_t i, n;
    (void)state;
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        struct urg_filter_rule r[4];
        int rc = urg_filter_parse_sep(known[i].c.str, known[i].c.ts, known[i].c.rs, r, 4, &n);
        if (!known[i].ok) {
            assert_int_not_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(r[0].device_class, known[i].first[0]);
        assert_int_equal(r[0].vendor_id, known[i].first[1]);
        assert_int_equal(r[0].product_id, known[i].first[2]);
        assert_int_equal(r[0].device_version_bcd, known[i].first[3]);
        assert_int_equal(r[0].allow, known[i].first[4]);
    }
}

static int pick_value(int max)
{
    switch (below(8)) {
    case 0: return -1;
    case 1: return -2 - (int)below(3);
    case 2: return max + 1 + (int)below(3);
    case 3: return (int)rnd();
    default: return (int)below((uint32_t)max + 1);
    }
}

/* Rules made directly: verify, format and check as the reference. */
static void test_rules_agree(void **state)
{
    size_t i, j, valid = 0, invalid = 0;
    (void)state;
    for (i = 0; i < 2000; i++) {
        struct urg_filter_rule ours[4];
        struct usbredirfilter_rule theirs[4];
        int n = (int)below(5), ov, tv;
        const char *const *sp = seps[below(sizeof(seps) / sizeof(seps[0]))];
        char buf[256];
        for (j = 0; j < (size_t)n; j++) {
            /* mostly in range, so that format and check have work */
            int wild = below(4) == 0;
            ours[j].device_class = wild ? pick_value(255) : (int)below(257) - 1;
            ours[j].vendor_id = wild ? pick_value(0xffff) : (below(2) ? -1 : 0x1234);
            ours[j].product_id = wild ? pick_value(0xffff) : (below(2) ? -1 : 0x5678);
            ours[j].device_version_bcd = wild ? pick_value(0xffff) : (below(2) ? -1 : 0x0100);
            ours[j].allow = below(3) ? (int)below(2) : (int)rnd();
            theirs[j].device_class = ours[j].device_class;
            theirs[j].vendor_id = ours[j].vendor_id;
            theirs[j].product_id = ours[j].product_id;
            theirs[j].device_version_bcd = ours[j].device_version_bcd;
            theirs[j].allow = ours[j].allow;
        }
        ov = urg_filter_verify(ours, (size_t)n);
        tv = usbredirfilter_verify(theirs, n);
        assert_int_equal(ov == 0, tv == 0);
        {
            char *ts = usbredirfilter_rules_to_string(theirs, n, sp[0], sp[1]);
            int len = urg_filter_format_sep(ours, (size_t)n, sp[0], sp[1], buf, sizeof(buf));
            assert_int_equal(ts != NULL, len >= 0);
            if (ts) {
                assert_string_equal(ts, buf);
                assert_int_equal(len, (int)strlen(ts));
            }
            free(ts);
        }
        if (tv) {
            invalid++;
            continue;
        }
        valid++;
        for (j = 0; j < 20; j++) {
            struct urg_device d;
            uint8_t ic[32], is[32], ip[32];
            unsigned k, flags = below(4);
            int orc, trc;
            memset(&d, 0, sizeof(d));
            d.device_class = (uint8_t)(below(2) ? below(4) : rnd());
            d.vendor_id = below(2) ? 0x1234 : (uint16_t)rnd();
            d.product_id = below(2) ? 0x5678 : (uint16_t)rnd();
            d.device_version_bcd = below(2) ? 0x0100 : (uint16_t)rnd();
            d.interface_count = below(4);
            for (k = 0; k < d.interface_count; k++) {
                d.interface_class[k] = ic[k] = (uint8_t)(below(2) ? 3 : below(256));
                d.interface_subclass[k] = is[k] = (uint8_t)below(2);
                d.interface_protocol[k] = ip[k] = (uint8_t)below(2);
            }
            orc = urg_filter_check(ours, (size_t)n, &d, flags);
            trc = usbredirfilter_check(theirs, n, d.device_class, d.device_subclass,
                                       d.device_protocol, ic, is, ip, (int)d.interface_count,
                                       d.vendor_id, d.product_id, d.device_version_bcd,
                                       (int)flags);
            /* 0 / -EPERM / -ENOENT: allowed, denied, no match */
            assert_int_equal(orc == 0, trc == 0);
            assert_int_equal(orc == URG_ERR_FILTER_DENIED, trc == -1);
            assert_int_equal(orc == URG_ERR_FILTER_NO_MATCH, trc == -2);
        }
    }
    assert_true(valid > 100 && invalid > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_agree),
        cmocka_unit_test(test_known_verdicts),
        cmocka_unit_test(test_rules_agree),
    };
    return cmocka_run_group_tests_name("differential filter", tests, NULL, NULL);
}

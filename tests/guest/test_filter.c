/*
 * test_filter.c - usbredirfilter rules: parsing, formatting, checking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "urg_guest.h"

static void test_parse_valid(void **state)
{
    struct urg_filter_rule r[8];
    size_t n;
    (void)state;
    assert_int_equal(urg_filter_parse("0x03,-1,-1,-1,0|-1,-1,-1,-1,1", r, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(r[0].device_class, 3);
    assert_int_equal(r[0].vendor_id, -1);
    assert_int_equal(r[0].allow, 0);
    assert_int_equal(r[1].device_class, -1);
    assert_int_equal(r[1].allow, 1);
    /* decimal, upper-case hex, spaces before a value (strtol's) */
    assert_int_equal(urg_filter_parse(" 8, 0X46F4,\t0x0001, 256, 1", r, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].device_class, 8);
    assert_int_equal(r[0].vendor_id, 0x46f4);
    assert_int_equal(r[0].product_id, 1);
    assert_int_equal(r[0].device_version_bcd, 256);
    /* empty rules are skipped, as is the reference's trailing '|' */
    assert_int_equal(urg_filter_parse("|0,1,2,3,1||4,5,6,7,0|", r, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(r[1].device_class, 4);
    assert_int_equal(urg_filter_parse("", r, 8, &n), 0);
    assert_int_equal(n, 0);
    /* limits */
    assert_int_equal(urg_filter_parse("255,65535,0xffff,0xFFFF,0", r, 8, &n), 0);
    assert_int_equal(r[0].device_class, 255);
    assert_int_equal(r[0].product_id, 0xffff);
    /* as strtol(token, &end, 0): octal, signs; empty tokens are skipped */
    assert_int_equal(urg_filter_parse("010,+0x10,-0,,+1,,0377", r, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].device_class, 8);
    assert_int_equal(r[0].vendor_id, 16);
    assert_int_equal(r[0].product_id, 0);
    assert_int_equal(r[0].device_version_bcd, 1);
    assert_int_equal(r[0].allow, 255);
    /* allow is any int (0 denies); a value past a long saturates to
     * LONG_MAX, whose low 32 bits are -1 ("any"), as the reference's */
    assert_int_equal(urg_filter_parse("1,2,3,4,-7|99999999999999999999,1,1,1,0", r, 8, &n), 0);
    assert_int_equal(r[0].allow, -7);
    assert_int_equal(r[1].device_class, -1);
}

/* Other separator sets: QEMU's property (':' and '|'), several characters
 * per set, a character in both sets separating rules. */
static void test_parse_separators(void **state)
{
    struct urg_filter_rule r[4];
    char buf[128];
    size_t n = 99;
    (void)state;
    assert_int_equal(urg_filter_parse_sep("0x03:-1:-1:-1:0|-1:-1:-1:-1:1", ":", "|", r, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(r[0].device_class, 3);
    assert_int_equal(r[1].allow, 1);
    assert_int_equal(urg_filter_format_sep(r, 2, ":", "|", buf, sizeof(buf)),
                     (int)strlen("0x03:-1:-1:-1:0|-1:-1:-1:-1:1"));
    assert_string_equal(buf, "0x03:-1:-1:-1:0|-1:-1:-1:-1:1");
    /* the commas' form is not QEMU's */
    assert_int_equal(urg_filter_parse_sep("0x03,-1,-1,-1,0", ":", "|", r, 4, &n),
                     URG_ERR_FILTER_SYNTAX);
    assert_int_equal(urg_filter_parse_sep("1,2:3 4:1;5 6 7 8 0", ",: ", ";", r, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(r[1].device_version_bcd, 8);
    /* formatting takes the first character of each set */
    assert_int_equal(urg_filter_format_sep(r, 2, ",: ", ";|", buf, sizeof(buf)),
                     (int)strlen("0x01,0x0002,0x0003,0x0004,1;0x05,0x0006,0x0007,0x0008,0"));
    assert_string_equal(buf, "0x01,0x0002,0x0003,0x0004,1;0x05,0x0006,0x0007,0x0008,0");
    assert_int_equal(urg_filter_parse_sep("1,2,3,4,1|5,6,7,8,0", "|,", "|", r, 4, &n), 0);
    assert_int_equal(n, 2);
    /* no separators, or no string */
    assert_int_equal(urg_filter_parse_sep("1,2,3,4,1", "", "|", r, 4, &n), URG_ERR_INVALID);
    assert_int_equal(n, 0);
    assert_int_equal(urg_filter_parse_sep("1,2,3,4,1", ",", "", r, 4, &n), URG_ERR_INVALID);
    assert_int_equal(urg_filter_parse_sep("1,2,3,4,1", NULL, "|", r, 4, &n), URG_ERR_INVALID);
    assert_int_equal(urg_filter_parse_sep("1,2,3,4,1", ",", NULL, r, 4, &n), URG_ERR_INVALID);
    assert_int_equal(urg_filter_parse_sep(NULL, ",", "|", r, 4, &n), URG_ERR_INVALID);
    assert_int_equal(urg_filter_parse_sep("1,2,3,4,1", ",", "|", r, 4, NULL), URG_ERR_INVALID);
    assert_int_equal(urg_filter_format_sep(r, 1, "", "|", buf, sizeof(buf)), URG_ERR_INVALID);
    assert_int_equal(urg_filter_format_sep(r, 1, ",", NULL, buf, sizeof(buf)), URG_ERR_INVALID);
}

static void test_parse_invalid(void **state)
{
    static const char *bad[] = {
        "1,2,3,4",        /* four values */
        "1,2,3,4,1,5",    /* six values */
        "1,,3,4,1",       /* an empty token is skipped: four values */
        "08,2,3,4,1",     /* leading zero: octal, 8 is no octal digit */
        "5 ,2,3,4,1",     /* strtol does not read the trailing space */
        "256,2,3,4,1",    /* class over 255 */
        "1,0x10000,3,4,1",/* vendor over 16 bits */
        "1,2,3,65536,1",  /* version over 16 bits */
        "1,2,3,4,0x",     /* "0x" alone: strtol reads the 0 only */
        "abc,2,3,4,1",
        "0x,2,3,4,1",
        "--1,2,3,4,1",
        "1,2,3,4,1x",
        "-2,2,3,4,1",
        "1,2,3,4,",
    };
    struct urg_filter_rule r[4];
    size_t i, n;
    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 99;
        if (urg_filter_parse(bad[i], r, 4, &n) != URG_ERR_FILTER_SYNTAX)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(n, 0);
    }
    /* The index of the bad rule is reported. */
    assert_int_equal(urg_filter_parse("1,2,3,4,1|5,6,7,8,0|x", r, 4, &n), URG_ERR_FILTER_SYNTAX);
    assert_int_equal(n, 2);
    assert_int_equal(urg_filter_parse(NULL, r, 4, &n), URG_ERR_INVALID);
}

static void test_parse_count_and_buffer(void **state)
{
    struct urg_filter_rule r[2];
    size_t n;
    (void)state;
    assert_int_equal(urg_filter_parse("1,1,1,1,1|2,2,2,2,1|3,3,3,3,0", NULL, 0, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(urg_filter_parse("1,1,1,1,1|2,2,2,2,1|3,3,3,3,0", r, 2, &n), URG_ERR_BUFFER);
    assert_int_equal(n, 3);
    assert_int_equal(r[1].device_class, 2); /* the first two were written */
}

static void test_format(void **state)
{
    struct urg_filter_rule r[2] = {
        { 3, -1, -1, -1, 0 },
        { -1, 0x46f4, 1, 0x0200, 1 },
    };
    struct urg_filter_rule back[2];
    char buf[128], small[10];
    size_t n;
    (void)state;
    assert_int_equal(urg_filter_format(r, 2, buf, sizeof(buf)),
                     (int)strlen("0x03,-1,-1,-1,0|-1,0x46f4,0x0001,0x0200,1"));
    assert_string_equal(buf, "0x03,-1,-1,-1,0|-1,0x46f4,0x0001,0x0200,1");
    /* parse(format(rules)) == rules */
    assert_int_equal(urg_filter_parse(buf, back, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(back, r, sizeof(r));
    /* snprintf semantics: the length is returned, the prefix that fits is
     * written and terminated */
    assert_int_equal(urg_filter_format(r, 2, small, sizeof(small)), (int)strlen(buf));
    assert_string_equal(small, "0x03,-1,-");
    assert_int_equal(urg_filter_format(r, 2, NULL, 0), (int)strlen(buf));
    assert_int_equal(urg_filter_format(r, 0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    /* allow is not verified; formatted as 1 when not 0 */
    r[0].allow = 2;
    r[1].allow = -1;
    assert_int_equal(urg_filter_verify(r, 2), 0);
    assert_int_equal(urg_filter_format(r, 2, buf, sizeof(buf)),
                     (int)strlen("0x03,-1,-1,-1,1|-1,0x46f4,0x0001,0x0200,1"));
    assert_string_equal(buf, "0x03,-1,-1,-1,1|-1,0x46f4,0x0001,0x0200,1");
    r[0].allow = 0;
    r[1].vendor_id = 0x10000;
    assert_int_equal(urg_filter_verify(r, 2), URG_ERR_INVALID);
    r[1].vendor_id = -2;
    assert_int_equal(urg_filter_verify(r, 2), URG_ERR_INVALID);
    r[1].vendor_id = -1;
    assert_int_equal(urg_filter_verify(r, 2), 0);
}

static struct urg_device device(uint8_t cls, int nif, const uint8_t (*ifs)[3])
{
    struct urg_device d;
    int i;
    memset(&d, 0, sizeof(d));
    d.device_class = cls;
    d.vendor_id = 0x1234;
    d.product_id = 0x5678;
    d.device_version_bcd = 0x0100;
    d.interface_count = (uint32_t)nif;
    for (i = 0; i < nif; i++) {
        d.interface_class[i] = ifs[i][0];
        d.interface_subclass[i] = ifs[i][1];
        d.interface_protocol[i] = ifs[i][2];
    }
    return d;
}

static void test_check(void **state)
{
    struct urg_filter_rule deny_hid_allow_rest[2] = {
        { 0x03, -1, -1, -1, 0 },
        { -1, -1, -1, -1, 1 },
    };
    struct urg_filter_rule only_storage[1] = { { 0x08, -1, -1, -1, 1 } };
    struct urg_filter_rule by_id[1] = { { -1, 0x1234, 0x5678, 0x0100, 1 } };
    struct urg_filter_rule by_version[1] = { { -1, 0x1234, 0x5678, 0x0200, 1 } };
    static const uint8_t kbd[1][3] = { { 3, 1, 1 } };
    static const uint8_t storage[1][3] = { { 8, 6, 0x50 } };
    static const uint8_t storage_and_hid[2][3] = { { 8, 6, 0x50 }, { 3, 0, 0 } };
    static const uint8_t two_hid[2][3] = { { 3, 0, 0 }, { 3, 0, 0 } };
    struct urg_device d;
    (void)state;

    d = device(0, 1, kbd);
    assert_int_equal(urg_filter_check(deny_hid_allow_rest, 2, &d, 0), URG_ERR_FILTER_DENIED);
    d = device(0, 1, storage);
    assert_int_equal(urg_filter_check(deny_hid_allow_rest, 2, &d, 0), 0);
    assert_int_equal(urg_filter_check(only_storage, 1, &d, 0), 0);
    d = device(0, 1, kbd);
    assert_int_equal(urg_filter_check(only_storage, 1, &d, 0), URG_ERR_FILTER_NO_MATCH);
    assert_int_equal(urg_filter_check(only_storage, 1, &d, URG_FILTER_DEFAULT_ALLOW), 0);
    /* The device class decides too (unless 0x00 or 0xef). */
    d = device(0x03, 1, storage);
    assert_int_equal(urg_filter_check(deny_hid_allow_rest, 2, &d, 0), URG_ERR_FILTER_DENIED);
    d = device(0xef, 1, storage);
    assert_int_equal(urg_filter_check(deny_hid_allow_rest, 2, &d, 0), 0);
    /* A non-boot HID interface beside others does not decide... */
    d = device(0, 2, storage_and_hid);
    assert_int_equal(urg_filter_check(deny_hid_allow_rest, 2, &d, 0), 0);
    assert_int_equal(urg_filter_check(deny_hid_allow_rest, 2, &d,
                                      URG_FILTER_DONT_SKIP_NON_BOOT_HID),
                     URG_ERR_FILTER_DENIED);
    /* ...unless every interface is one. */
    d = device(0, 2, two_hid);
    assert_int_equal(urg_filter_check(deny_hid_allow_rest, 2, &d, 0), URG_ERR_FILTER_DENIED);
    /* vendor, product and version */
    d = device(0, 1, storage);
    assert_int_equal(urg_filter_check(by_id, 1, &d, 0), 0);
    assert_int_equal(urg_filter_check(by_version, 1, &d, 0), URG_ERR_FILTER_NO_MATCH);
    /* allow other than 0/1: anything but 0 allows, as usbredirfilter */
    only_storage[0].allow = 2;
    assert_int_equal(urg_filter_check(only_storage, 1, &d, 0), 0);
    only_storage[0].allow = -1;
    assert_int_equal(urg_filter_check(only_storage, 1, &d, 0), 0);
    only_storage[0].allow = 0;
    assert_int_equal(urg_filter_check(only_storage, 1, &d, 0), URG_ERR_FILTER_DENIED);
    /* bad rules */
    by_id[0].device_class = 300;
    assert_int_equal(urg_filter_check(by_id, 1, &d, 0), URG_ERR_INVALID);
    assert_int_equal(urg_filter_check(only_storage, 1, NULL, 0), URG_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_separators),
        cmocka_unit_test(test_parse_count_and_buffer),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests_name("filter", tests, NULL, NULL);
}

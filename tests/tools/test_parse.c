/*
 * test_parse.c - the usbredir-guest command's parsers of what a usb-host
 * sends (tools/usbredir-guest/parse.h), with the regressions of issue 11:
 * string descriptors with bLength 0 and 1, a configuration that wraps a
 * 16-bit offset, descriptor headers in the last bytes, truncated and long
 * HID items, a block size of 0, and the escaper.
 *
 * Buffers of host data are malloc'ed to their exact size, so that an
 * over-read is caught by valgrind and ASan (make check runs this under
 * both).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "parse.h"

/* An exact-size copy (freed by the caller). */
static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    memcpy(b, p, n);
    return b;
}

/* What f printed, as a string (the caller frees it). */
struct capture {
    FILE *f;
    char *text;
    size_t len;
};

static void capture_open(struct capture *c)
{
    c->text = NULL;
    c->len = 0;
    c->f = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
}

static char *capture_close(struct capture *c)
{
    fclose(c->f);
    return c->text;
}

/* ---------------------------------------------------------------- escaper */

static void escape_is(const char *in, size_t n, unsigned flags, const char *want)
{
    char out[256];
    size_t len = text_escape(out, sizeof(out), in, n, flags);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
}

static void test_escape_controls(void **state)
{
    (void)state;
    escape_is("\x1b[2J", 4, 0, "\\x1b[2J");
    escape_is("a\rb\nc\td", 7, 0, "a\\x0db\\x0ac\\x09d");
    escape_is("a\rb\nc\td\x1b", 8, TEXT_LINES, "a\rb\nc\td\\x1b");
    escape_is("\x7f", 1, 0, "\\x7f");
    escape_is("a\0b", 3, 0, "a\\x00b");
    /* C1: U+009B (CSI) as C2 9B, and U+0080 */
    escape_is("\xc2\x9b" "31m", 5, 0, "\\xc2\\x9b31m");
    escape_is("\xc2\x80", 2, 0, "\\xc2\\x80");
    /* ... but U+00A0 and up pass */
    escape_is("\xc2\xa0", 2, 0, "\xc2\xa0");
}

static void test_escape_utf8(void **state)
{
    (void)state;
    escape_is("caf\xc3\xa9", 5, 0, "caf\xc3\xa9");                   /* é */
    escape_is("\xf0\x9f\x98\x80!", 5, 0, "\xf0\x9f\x98\x80!");       /* an emoji */
    escape_is("\xe2\x82\xac", 3, 0, "\xe2\x82\xac");                 /* € */
    escape_is("\xff", 1, 0, "\\xff");
    escape_is("\xc0\xaf", 2, 0, "\\xc0\\xaf");                       /* overlong '/' */
    escape_is("\xe0\x80\xaf", 3, 0, "\\xe0\\x80\\xaf");              /* overlong */
    escape_is("\xed\xa0\x80", 3, 0, "\\xed\\xa0\\x80");              /* a surrogate */
    escape_is("\xf4\x90\x80\x80", 4, 0, "\\xf4\\x90\\x80\\x80");     /* past U+10FFFF */
    escape_is("\xe2\x82", 2, 0, "\\xe2\\x82");                       /* cut at the end */
    escape_is("\xe2\x82x", 3, 0, "\\xe2\\x82x");                     /* cut in the middle */
    escape_is("\x80", 1, 0, "\\x80");                                /* a stray continuation */
}

static void test_escape_truncation(void **state)
{
    char out[6];
    (void)state;
    /* Whole escapes and whole characters only, always terminated. */
    assert_int_equal(text_escape(out, sizeof(out), "ab\x1b", 3, 0), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(text_escape(out, sizeof(out), "abcd\xc3\xa9", 6, 0), 4);
    assert_string_equal(out, "abcd");
    assert_int_equal(text_escape(out, 1, "abc", 3, 0), 0);
    assert_string_equal(out, "");
}

static void test_escape_stream(void **state)
{
    static const char text[] = "ok \xc3\xa9\xf0\x9f\x98\x80\x1b[1m\xe2\x82\xac\xc2\x9b\xff"
                               "\r\n";
    char whole[256];
    size_t n = sizeof(text) - 1, cut;
    (void)state;
    text_escape(whole, sizeof(whole), text, n, TEXT_LINES);
    /* Cut anywhere into two or three pieces: the same as at once. */
    for (cut = 0; cut <= n; cut++) {
        size_t cut2;
        for (cut2 = cut; cut2 <= n; cut2++) {
            struct text_stream t = { TEXT_LINES, { 0 }, 0 };
            struct capture c;
            char *got;
            capture_open(&c);
            text_stream_put(&t, c.f, text, cut);
            text_stream_put(&t, c.f, text + cut, cut2 - cut);
            text_stream_put(&t, c.f, text + cut2, n - cut2);
            text_stream_end(&t, c.f);
            got = capture_close(&c);
            assert_string_equal(got, whole);
            free(got);
        }
    }
    {
        /* A cut character at the end of the stream comes out escaped. */
        struct text_stream t = { 0, { 0 }, 0 };
        struct capture c;
        char *got;
        capture_open(&c);
        text_stream_put(&t, c.f, "a\xf0\x9f", 3);
        text_stream_end(&t, c.f);
        got = capture_close(&c);
        assert_string_equal(got, "a\\xf0\\x9f");
        free(got);
    }
}

/* ---------------------------------------------------------------- strings */

static char *string_of(const void *d, size_t n, const char **why)
{
    uint8_t *b = dup_bytes(d, n);
    char *s = usb_string_text(b, n, why);
    free(b);
    return s;
}

static void test_string_bad_length(void **state)
{
    static const uint8_t len0[] = { 0, 3, 'A', 0 }, len1[] = { 1, 3, 'A', 0 };
    static const uint8_t short1[] = { 4 }, not_string[] = { 4, 2, 'A', 0 };
    const char *why;
    (void)state;
    assert_null(string_of(len0, sizeof(len0), &why));
    assert_string_equal(why, "bLength 0");
    assert_null(string_of(len1, sizeof(len1), &why));
    assert_string_equal(why, "bLength 1");
    assert_null(string_of(short1, sizeof(short1), &why));
    assert_non_null(why);
    assert_null(string_of(not_string, sizeof(not_string), &why));
    assert_string_equal(why, "not a string descriptor");
    assert_null(usb_string_text(NULL, 0, &why));
}

static void test_string_lengths(void **state)
{
    /* bLength 7: two units and an odd byte (dropped). */
    static const uint8_t odd[] = { 7, 3, 'A', 0, 'B', 0, 'C' };
    /* bLength 2: empty. */
    static const uint8_t empty[] = { 2, 3 };
    /* bLength larger than what came: what came is used. */
    static const uint8_t cut[] = { 255, 3, 'h', 0, 'i', 0 };
    /* bLength smaller than what came: bLength is used. */
    static const uint8_t longer[] = { 4, 3, 'h', 0, 'i', 0 };
    const char *why;
    char *s;
    (void)state;
    s = string_of(odd, sizeof(odd), &why);
    assert_string_equal(s, "AB");
    free(s);
    s = string_of(empty, sizeof(empty), &why);
    assert_string_equal(s, "");
    free(s);
    s = string_of(cut, sizeof(cut), &why);
    assert_string_equal(s, "hi");
    free(s);
    s = string_of(longer, sizeof(longer), &why);
    assert_string_equal(s, "h");
    free(s);
}

static void test_string_unicode(void **state)
{
    /* é, a surrogate pair (U+1F600), a lone high surrogate, ESC, U+009B. */
    static const uint8_t d[] = { 14, 3, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0xd8,
                                 0x1b, 0, 0x9b, 0 };
    const char *why;
    char *s;
    (void)state;
    s = string_of(d, sizeof(d), &why);
    assert_string_equal(s, "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd\\x1b\\xc2\\x9b");
    free(s);
}

/* ---------------------------------------------------------------- descriptor walks */

/* A walk over bytes[0..n) (an exact-size copy) takes the first descriptor,
 * then stops at the second - and stays stopped - for the reason why. */
static void expect_walk_stops(const uint8_t *bytes, size_t n, const char *why)
{
    struct desc_iter it;
    const uint8_t *d;
    size_t dn;
    char got[128];
    uint8_t *b = dup_bytes(bytes, n);
    desc_iter_init(&it, b, n);
    assert_int_equal(desc_next(&it, &d, &dn), DESC_OK);
    assert_int_equal(desc_next(&it, &d, &dn), DESC_BAD);
    assert_int_equal(desc_next(&it, &d, &dn), DESC_BAD);
    desc_problem(&it, got, sizeof(got));
    assert_string_equal(got, why);
    free(b);
}

static void test_desc_walk(void **state)
{
    static const uint8_t ok[] = { 9, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0x99, 1 };
    static const uint8_t zero[] = { 9, 2, 0, 0, 0, 0, 0, 0, 0, 0, 4 };
    struct desc_iter it;
    const uint8_t *d;
    size_t n;
    uint8_t *b = dup_bytes(ok, sizeof(ok));
    (void)state;
    desc_iter_init(&it, b, sizeof(ok));
    assert_int_equal(desc_next(&it, &d, &n), DESC_OK);
    assert_int_equal(n, 9);
    assert_int_equal(desc_next(&it, &d, &n), DESC_OK);
    assert_ptr_equal(d, b + 9);
    assert_int_equal(n, 3);
    assert_int_equal(desc_next(&it, &d, &n), DESC_END);
    free(b);
    /* bLength 0 stops the walk (and keeps it stopped). */
    expect_walk_stops(zero, sizeof(zero), "malformed descriptor at byte 9: bLength 0");
}

/* A header in the last one or two bytes: the walk stops there, and the
 * printer reads nothing past the buffer (exact-size buffers). */
static void test_desc_header_at_end(void **state)
{
    static const uint8_t one_left[] = { 9, 2, 10, 0, 1, 1, 0, 0x80, 50, 9 };
    static const uint8_t two_left[] = { 9, 2, 11, 0, 1, 1, 0, 0x80, 50, 9, 4 };
    static const uint8_t ep_cut[] = { 9, 2, 14, 0, 1, 1, 0, 0x80, 50, 7, 5, 0x81, 3, 8 };
    (void)state;
    expect_walk_stops(one_left, sizeof(one_left),
                      "malformed descriptor at byte 9: 1 byte left, too short for one");
    expect_walk_stops(two_left, sizeof(two_left),
                      "malformed descriptor at byte 9: bLength 9, only 2 bytes left");
    /* Through the printer: each said once, the walk stopped where it was. */
    {
        static const uint8_t *const cfgs[3] = { one_left, two_left, ep_cut };
        static const size_t lens[3] = { sizeof(one_left), sizeof(two_left), sizeof(ep_cut) };
        static const uint8_t device[18] = { 18, 1, 0, 2, 0, 0, 0, 64, 0x27, 6, 1, 0, 0, 0,
                                            0, 0, 0, 3 };
        struct lsusb_desc desc;
        struct capture out, err;
        char *o, *e;
        int i;
        memset(&desc, 0, sizeof(desc));
        memcpy(desc.device, device, 18);
        desc.nconfig = 3;
        for (i = 0; i < 3; i++) {
            desc.config[i] = dup_bytes(cfgs[i], lens[i]);
            desc.config_len[i] = lens[i];
        }
        capture_open(&out);
        capture_open(&err);
        assert_int_equal(lsusb_print(out.f, err.f, "t", &desc), 3);
        o = capture_close(&out);
        e = capture_close(&err);
        assert_non_null(strstr(e, "t: configuration descriptor 0: malformed descriptor at byte 9: "
                                  "1 byte left, too short for one\n"));
        assert_non_null(strstr(e, "t: configuration descriptor 1: malformed descriptor at byte 9: "
                                  "bLength 9, only 2 bytes left\n"));
        assert_non_null(strstr(e, "t: configuration descriptor 2: malformed descriptor at byte 9: "
                                  "bLength 7, only 5 bytes left\n"));
        assert_null(strstr(o, "Endpoint Descriptor"));
        assert_non_null(strstr(o, "    ** malformed descriptor at byte 9: bLength 7, only 5 bytes "
                                  "left **\n"));
        free(o);
        free(e);
        lsusb_desc_free(&desc);
    }
}

/* 65535 bytes of descriptors whose last one, at 65389, is 156 bytes long:
 * a 16-bit offset would wrap to 9 and walk the same descriptors for ever. */
static uint8_t *wrapping_config(void)
{
    uint8_t *c = calloc(1, 65535);
    size_t off = 9, k;
    static const uint8_t hdr[9] = { 9, 2, 0xff, 0xff, 1, 1, 0, 0x80, 50 };
    assert_non_null(c);
    memcpy(c, hdr, 9);
    for (k = 0; k < 256; k++, off += 255) {
        c[off] = 255;
        c[off + 1] = 0x99;
    }
    c[off] = 100;
    c[off + 1] = 0x99;
    off += 100;
    assert_int_equal(off, 65389);
    c[off] = 156;
    c[off + 1] = 4;
    assert_int_equal((uint16_t)(off + c[off]), 9);
    return c;
}

static void test_config_wrapping_offset(void **state)
{
    uint8_t *c = wrapping_config();
    struct desc_iter it;
    const uint8_t *d;
    size_t n, count = 0;
    int r;
    char why[128];
    (void)state;
    alarm(20); /* a walk that never ends fails the test instead of hanging it */
    desc_iter_init(&it, c, 65535);
    while ((r = desc_next(&it, &d, &n)) == DESC_OK)
        count++;
    assert_int_equal(r, DESC_BAD);
    assert_int_equal(count, 1 + 256 + 1);
    assert_int_equal(it.off, 65389);
    desc_problem(&it, why, sizeof(why));
    assert_string_equal(why, "malformed descriptor at byte 65389: bLength 156, only 146 bytes left");
    {
        struct lsusb_desc desc;
        FILE *null = fopen("/dev/null", "w");
        assert_non_null(null);
        memset(&desc, 0, sizeof(desc));
        desc.device[17] = 1;
        desc.nconfig = 1;
        desc.config[0] = c;
        desc.config_len[0] = 65535;
        assert_int_equal(lsusb_print(null, null, "t", &desc), 1);
        fclose(null);
    }
    alarm(0);
    free(c);
}

/* ---------------------------------------------------------------- HID */

static void test_hid_truncated_item(void **state)
{
    /* Usage Page (1), then Logical Maximum with 2 data bytes of which 1 came. */
    static const uint8_t r[] = { 0x05, 0x01, 0x26, 0xff };
    uint8_t *b = dup_bytes(r, sizeof(r));
    struct hid_item it;
    struct capture c;
    size_t off = 0;
    char *o;
    (void)state;
    assert_int_equal(hid_next(b, sizeof(r), &off, &it), HID_OK);
    assert_int_equal(it.type, 1);
    assert_int_equal(it.tag, 0);
    assert_int_equal(it.value, 1);
    assert_int_equal(off, 2);
    assert_int_equal(hid_next(b, sizeof(r), &off, &it), HID_TRUNCATED);
    assert_int_equal(off, 2);
    capture_open(&c);
    assert_false(hid_print_items(c.f, b, sizeof(r)));
    o = capture_close(&c);
    assert_non_null(strstr(o, "Item(Global): Usage Page, data= [ 0x01 ] 1\n"));
    assert_non_null(strstr(o, "** truncated item **\n"));
    free(o);
    free(b);
    /* A 4-byte item with 3 bytes, and the last byte alone. */
    {
        static const uint8_t r4[] = { 0x27, 1, 2, 3 };
        b = dup_bytes(r4, sizeof(r4));
        off = 0;
        assert_int_equal(hid_next(b, sizeof(r4), &off, &it), HID_TRUNCATED);
        off = 3; /* 0x03: a 4-byte item with none */
        assert_int_equal(hid_next(b, sizeof(r4), &off, &it), HID_TRUNCATED);
        free(b);
    }
}

static void test_hid_long_item(void **state)
{
    /* A long item (2 data bytes, tag 0x10), then Usage Page (1). */
    static const uint8_t r[] = { 0xfe, 0x02, 0x10, 0xaa, 0xbb, 0x05, 0x01 };
    /* A long item announcing 5 bytes with 1. */
    static const uint8_t cut[] = { 0xfe, 0x05, 0x10, 0xaa };
    static const uint8_t hdr_only[] = { 0x05, 0x01, 0xfe, 0x05 };
    uint8_t *b = dup_bytes(r, sizeof(r));
    struct hid_item it;
    struct capture c;
    size_t off = 0;
    char *o;
    (void)state;
    assert_int_equal(hid_next(b, sizeof(r), &off, &it), HID_OK);
    assert_true(it.is_long);
    assert_int_equal(it.size, 2);
    assert_int_equal(it.tag, 0x10);
    assert_ptr_equal(it.data, b + 3);
    assert_int_equal(hid_next(b, sizeof(r), &off, &it), HID_OK);
    assert_false(it.is_long);
    assert_int_equal(it.value, 1);
    assert_int_equal(hid_next(b, sizeof(r), &off, &it), HID_END);
    capture_open(&c);
    assert_true(hid_print_items(c.f, b, sizeof(r)));
    o = capture_close(&c);
    assert_non_null(strstr(o, "** long item, tag 0x10, 2 bytes **\n"));
    assert_non_null(strstr(o, "Usage Page, data= [ 0x01 ] 1\n"));
    free(o);
    free(b);
    b = dup_bytes(cut, sizeof(cut));
    off = 0;
    assert_int_equal(hid_next(b, sizeof(cut), &off, &it), HID_TRUNCATED);
    free(b);
    b = dup_bytes(hdr_only, sizeof(hdr_only));
    off = 2;
    assert_int_equal(hid_next(b, sizeof(hdr_only), &off, &it), HID_TRUNCATED);
    free(b);
}

/* ---------------------------------------------------------------- SCSI, BOT */

static void test_capacity_block_size_zero(void **state)
{
    static const uint8_t zero[8] = { 0, 0, 0, 255, 0, 0, 0, 0 };
    static const uint8_t big[8] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 2, 0 };
    static const uint8_t last16[12] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0, 0, 2, 0 };
    static const uint8_t huge16[12] = { 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0 };
    uint64_t blocks;
    uint32_t bs;
    char why[128];
    (void)state;
    assert_int_equal(scsi_capacity10(zero, 8, &blocks, &bs), 0);
    assert_int_equal(blocks, 256);
    assert_int_equal(bs, 0);
    assert_int_equal(scsi_capacity_check(blocks, bs, why, sizeof(why)), -1);
    assert_string_equal(why, "a block size of 0 bytes is not supported");
    assert_int_equal(scsi_capacity_check(256, 520, why, sizeof(why)), -1);
    assert_int_equal(scsi_capacity_check(256, 512, why, sizeof(why)), 0);
    assert_int_equal(scsi_capacity_check(0, 512, why, sizeof(why)), -1);
    assert_int_equal(scsi_capacity10(zero, 7, &blocks, &bs), -1);
    /* The last block 0xffffffff: READ CAPACITY(16) to ask. */
    assert_int_equal(scsi_capacity10(big, 8, &blocks, &bs), 1);
    /* Its last block 2^64 - 1: no count fits. */
    assert_int_equal(scsi_capacity16(last16, 12, &blocks, &bs), -1);
    assert_int_equal(scsi_capacity16(last16, 11, &blocks, &bs), -1);
    /* 2^62 + 1 blocks of 4096 bytes overflow 64 bits. */
    assert_int_equal(scsi_capacity16(huge16, 12, &blocks, &bs), 0);
    assert_int_equal(bs, 4096);
    assert_int_equal(scsi_capacity_check(blocks, bs, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "is not possible"));
}

static void test_inquiry(void **state)
{
    uint8_t d[36];
    struct scsi_inquiry q;
    (void)state;
    memset(d, ' ', sizeof(d));
    d[0] = 0;
    d[1] = 0x80;
    memcpy(d + 8, "QEMU", 4);
    memcpy(d + 16, "\x1b[2JDI\0SK\0\0", 11);
    memcpy(d + 32, "2.5+", 4);
    assert_int_equal(scsi_inquiry_decode(d, 35, &q), -1);
    assert_int_equal(scsi_inquiry_decode(d, 36, &q), 0);
    assert_string_equal(q.vendor, "QEMU");
    assert_string_equal(q.product, "\\x1b[2JDI\\x00SK"); /* trailing NULs trimmed */
    assert_string_equal(q.revision, "2.5+");
    assert_true(q.removable);
    /* Every byte an escape: the fields still fit. */
    memset(d + 8, 0x9b, 28);
    assert_int_equal(scsi_inquiry_decode(d, 36, &q), 0);
    assert_int_equal(strlen(q.product), 16 * 4);
}

static void test_sense(void **state)
{
    static const uint8_t fixed[18] = { 0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x28, 0x01 };
    static const uint8_t desc[8] = { 0x72, 0x05, 0x24, 0x00 };
    struct scsi_sense s;
    (void)state;
    assert_int_equal(scsi_sense_decode(fixed, 18, &s), 0);
    assert_int_equal(s.key, 6);
    assert_int_equal(s.asc, 0x28);
    assert_int_equal(s.ascq, 1);
    assert_int_equal(scsi_sense_decode(fixed, 13, &s), -1);
    assert_int_equal(scsi_sense_decode(desc, 8, &s), 0);
    assert_int_equal(s.key, 5);
    assert_int_equal(s.asc, 0x24);
    assert_int_equal(scsi_sense_decode(desc, 0, &s), -1);
    assert_int_equal(scsi_sense_decode((const uint8_t *)"\x00\x00\x00\x00", 4, &s), -1);
}

static void test_csw(void **state)
{
    uint8_t c[13] = { 'U', 'S', 'B', 'S', 7, 0, 0, 0, 0, 0, 0, 0, 0 };
    uint8_t status;
    uint32_t residue;
    char why[128];
    (void)state;
    assert_int_equal(bot_csw_decode(c, 13, 7, 512, &status, &residue, why, sizeof(why)), 0);
    assert_int_equal(status, 0);
    assert_int_equal(bot_csw_decode(c, 12, 7, 512, &status, &residue, why, sizeof(why)), -1);
    assert_int_equal(bot_csw_decode(c, 13, 8, 512, &status, &residue, why, sizeof(why)), -1);
    assert_string_equal(why, "a bad status block (signature 0x53425355, tag 7)");
    c[12] = 3;
    assert_int_equal(bot_csw_decode(c, 13, 7, 512, &status, &residue, why, sizeof(why)), -1);
    assert_string_equal(why, "a bad status block (status 0x03)");
    c[12] = 1;
    c[8] = 1;
    c[9] = 2; /* residue 513 */
    assert_int_equal(bot_csw_decode(c, 13, 7, 512, &status, &residue, why, sizeof(why)), -1);
    assert_string_equal(why, "a bad status block (residue 513 for 512 bytes)");
    assert_int_equal(bot_csw_decode(c, 13, 7, 513, &status, &residue, why, sizeof(why)), 0);
    assert_int_equal(status, 1);
    assert_int_equal(residue, 513);
    c[0] = 'X';
    assert_int_equal(bot_csw_decode(c, 13, 7, 513, &status, &residue, why, sizeof(why)), -1);
}

/* ---------------------------------------------------------------- serial, reports */

static void test_serial_payload(void **state)
{
    static const uint8_t in[] = { 0x01, 0x60, 'a', 'b', 0x01, 0x60, 'c', 0x01, 0x60 };
    uint8_t out[sizeof(in)];
    (void)state;
    /* FTDI, 4-byte packets: 2 status bytes each; the last has no data. */
    assert_int_equal(serial_payload(true, 4, in, sizeof(in), out), 4);
    assert_memory_equal(out, "abc\x01", 4);
    assert_int_equal(serial_payload(true, 0, in, sizeof(in), out), 7);
    assert_int_equal(serial_payload(true, 1, in, sizeof(in), out), 0);
    assert_int_equal(serial_payload(true, 4, in, 1, out), 0);
    assert_int_equal(serial_payload(false, 4, in, sizeof(in), out), sizeof(in));
    assert_memory_equal(out, in, sizeof(in));
}

static void test_short_reports(void **state)
{
    struct kbd_state k;
    struct mouse_state m;
    struct capture c;
    char *o;
    uint8_t *r = dup_bytes("\x02\x00\x04", 3);
    (void)state;
    memset(&k, 0, sizeof(k));
    memset(&m, 0, sizeof(m));
    capture_open(&c);
    kbd_report(c.f, &k, r, 0);
    kbd_report(c.f, &k, r, 2);
    mouse_report(c.f, &m, r, 2);
    kbd_report(c.f, &k, r, 3); /* shift and 'a' */
    o = capture_close(&c);
    assert_string_equal(o, " LeftShift down, press a");
    assert_int_equal(k.ntyped, 1);
    assert_int_equal(k.typed[0], 'A');
    free(o);
    free(r);
}

/* ---------------------------------------------------------------- lsusb */

static void test_lsusb_keyboard(void **state)
{
    static const uint8_t device[18] = { 18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x27, 0x06,
                                        0x01, 0x00, 0x00, 0x00, 1, 2, 3, 1 };
    static const uint8_t config[34] = {
        9, 2, 34, 0, 1, 1, 0, 0xa0, 50,
        9, 4, 0, 0, 1, 3, 1, 1, 0,
        9, 0x21, 0x11, 0x01, 0, 1, 0x22, 7, 0,
        7, 5, 0x81, 3, 8, 0, 7,
    };
    static const uint8_t report[7] = { 0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0xc0 };
    static const uint8_t product[] = { 8, 3, 'K', 0, 0x1b, 0, 'd', 0 };
    struct lsusb_desc d;
    struct capture out, err;
    char *o, *e;
    const char *why;
    (void)state;
    memset(&d, 0, sizeof(d));
    memcpy(d.device, device, 18);
    d.nconfig = 1;
    d.config[0] = dup_bytes(config, sizeof(config));
    d.config_len[0] = sizeof(config);
    d.report[0] = dup_bytes(report, sizeof(report));
    d.report_len[0] = sizeof(report);
    d.string[2] = usb_string_text(product, sizeof(product), &why);
    d.have_status = true;
    capture_open(&out);
    capture_open(&err);
    assert_int_equal(lsusb_print(out.f, err.f, "t", &d), 0);
    o = capture_close(&out);
    e = capture_close(&err);
    assert_string_equal(e, "");
    assert_non_null(strstr(o, "Bus 001 Device 001: ID 0627:0001  K\\x1bd\n"));
    assert_non_null(strstr(o, "  iProduct                2 K\\x1bd\n"));
    assert_non_null(strstr(o, "        bEndpointAddress     0x81  EP 1 IN\n"));
    assert_non_null(strstr(o, "          Report Descriptor: (length is 7)\n"));
    assert_non_null(strstr(o, "            Item(Main  ): End Collection, data=none\n"));
    assert_non_null(strstr(o, "Device Status:     0x0000\n"));
    free(o);
    free(e);
    lsusb_desc_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_controls),
        cmocka_unit_test(test_escape_utf8),
        cmocka_unit_test(test_escape_truncation),
        cmocka_unit_test(test_escape_stream),
        cmocka_unit_test(test_string_bad_length),
        cmocka_unit_test(test_string_lengths),
        cmocka_unit_test(test_string_unicode),
        cmocka_unit_test(test_desc_walk),
        cmocka_unit_test(test_desc_header_at_end),
        cmocka_unit_test(test_config_wrapping_offset),
        cmocka_unit_test(test_hid_truncated_item),
        cmocka_unit_test(test_hid_long_item),
        cmocka_unit_test(test_capacity_block_size_zero),
        cmocka_unit_test(test_inquiry),
        cmocka_unit_test(test_sense),
        cmocka_unit_test(test_csw),
        cmocka_unit_test(test_serial_payload),
        cmocka_unit_test(test_short_reports),
        cmocka_unit_test(test_lsusb_keyboard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

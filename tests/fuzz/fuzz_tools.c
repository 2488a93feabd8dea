/*
 * fuzz_tools.c - libFuzzer target for the usbredir-guest command's parsers
 * of what a usb-host sends (tools/usbredir-guest/parse.h): the lsusb
 * printer over a fuzzed set of descriptors (device, configurations,
 * strings, HID report descriptors, qualifier, BOS), the HID item walk,
 * SCSI and Bulk-Only replies, serial adapters' data, boot reports and the
 * escaper.
 *
 * The input is a list of records: kind (1 byte), length (2 bytes, little-
 * endian), then that many bytes (fewer at the end of the input):
 *
 *   kind % 8  0 the device descriptor (up to 18 bytes)
 *             1 a configuration (up to 8 of them)
 *             2 a string descriptor: its index, then the descriptor
 *             3 a HID report descriptor: the interface (& 31), then it
 *             4 the device qualifier (up to 10 bytes)
 *             5 the BOS
 *             6 GET_STATUS, speed, address (4 bytes)
 *             7 a reply decoded by the others: INQUIRY, READ CAPACITY,
 *               REQUEST SENSE, a CSW, serial data, keyboard and mouse
 *               reports, and the text escaper
 *
 * Besides not crashing, over-reading or leaking (ASan, UBSan), it checks
 * with abort(): everything escaped has no control byte (C0 but the line
 * ends allowed, DEL, C1) and is well-formed UTF-8; the streaming escaper
 * cut anywhere gives what the escaper gives at once; the lsusb output is
 * such text too (lines); walks stay within their buffers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                              \
    do {                                                                                      \
        if (!(x)) {                                                                           \
            fprintf(stderr, "fuzz_tools: %s:%d: %s\n", __FILE__, __LINE__, #x);               \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

static FILE *devnull;

/* The checks below are the target's oracle, not code under test: no
 * coverage feedback from them (it would only steer the fuzzer towards long
 * output and slow every run down). */
#if defined(__clang__)
#define ORACLE __attribute__((no_sanitize("coverage")))
#else
#define ORACLE
#endif

/* One code point decoded from s[0..n) by the definition of UTF-8 (not by
 * the escaper under test): its length, or 0 if the bytes are not the
 * shortest encoding of a scalar value. */
ORACLE static size_t decode_utf8(const uint8_t *s, size_t n, uint32_t *cp)
{
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    size_t len = s[0] < 0x80 ? 1 : (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3
                               : (s[0] >> 3) == 30 ? 4 : 0;
    uint32_t c;
    if (!len || len > n)
        return 0;
    c = len == 1 ? s[0] : (uint32_t)(s[0] & (0x7f >> len));
    for (size_t k = 1; k < len; k++) {
        if ((s[k] >> 6) != 2)
            return 0;
        c = c << 6 | (s[k] & 0x3f);
    }
    if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c < 0xe000))
        return 0;
    *cp = c;
    return len;
}

/* Text that is safe on a terminal: well-formed UTF-8 with no control (C0,
 * DEL, C1) but those allowed (lines: \n; tab_cr: \r and \t too). */
ORACLE static void check_safe(const char *t, size_t n, bool lines, bool tab_cr)
{
    const uint8_t *s = (const uint8_t *)t;
    size_t i = 0;
    while (i < n) {
        uint32_t c = 0;
        size_t k = decode_utf8(s + i, n - i, &c);
        CHECK(k > 0);
        if (c < 0x20)
            CHECK((lines && c == '\n') || (tab_cr && (c == '\r' || c == '\t')));
        CHECK(c != 0x7f && !(c >= 0x80 && c < 0xa0));
        i += k;
    }
}

/* What f got: the caller frees it. */
struct mem {
    FILE *f;
    char *text;
    size_t len;
};

static void mem_open(struct mem *m)
{
    m->text = NULL;
    m->len = 0;
    m->f = open_memstream(&m->text, &m->len);
    if (!m->f)
        abort();
}

static void mem_close(struct mem *m)
{
    fclose(m->f);
}

static void fuzz_text(const uint8_t *s, size_t n)
{
    char *out = malloc(n * TEXT_MAX_GROWTH + 1);
    size_t len, cut;
    struct mem m;
    struct text_stream t = { TEXT_LINES, { 0 }, 0 };
    if (!out)
        return;
    len = text_escape(out, n * TEXT_MAX_GROWTH + 1, s, n, 0);
    CHECK(len == strlen(out));
    check_safe(out, len, false, false);
    /* Truncated: a prefix of the whole, still safe. */
    {
        char small[16];
        size_t sl = text_escape(small, sizeof(small), s, n, 0);
        CHECK(sl < sizeof(small) && memcmp(small, out, sl) == 0);
        check_safe(small, sl, false, false);
    }
    /* Streamed in three pieces cut where the input says: the same. */
    len = text_escape(out, n * TEXT_MAX_GROWTH + 1, s, n, TEXT_LINES);
    check_safe(out, len, true, true);
    cut = n ? s[0] % (n + 1) : 0;
    mem_open(&m);
    text_stream_put(&t, m.f, s, cut);
    text_stream_put(&t, m.f, s + cut, (n - cut) / 2);
    text_stream_put(&t, m.f, s + cut + (n - cut) / 2, n - cut - (n - cut) / 2);
    text_stream_end(&t, m.f);
    mem_close(&m);
    CHECK(m.len == len && memcmp(m.text, out, len) == 0);
    free(m.text);
    free(out);
}

static void fuzz_replies(const uint8_t *s, size_t n)
{
    struct scsi_inquiry q;
    struct scsi_sense sense;
    uint64_t blocks;
    uint32_t bs, residue;
    uint8_t status;
    char why[128];
    size_t off = 0;
    struct hid_item it;
    if (scsi_inquiry_decode(s, n, &q) == 0) {
        check_safe(q.vendor, strlen(q.vendor), false, false);
        check_safe(q.product, strlen(q.product), false, false);
        check_safe(q.revision, strlen(q.revision), false, false);
    }
    if (scsi_capacity10(s, n, &blocks, &bs) >= 0 &&
        scsi_capacity_check(blocks, bs, why, sizeof(why)) == 0)
        CHECK(bs >= 512 && blocks && blocks * bs / bs == blocks);
    if (scsi_capacity16(s, n, &blocks, &bs) == 0 &&
        scsi_capacity_check(blocks, bs, why, sizeof(why)) == 0)
        CHECK(blocks * bs / bs == blocks);
    scsi_sense_decode(s, n, &sense);
    if (n >= 13 && bot_csw_decode(s, 13, n > 13 ? s[13] : 0, n > 14 ? s[14] : 0, &status,
                                  &residue, why, sizeof(why)) == 0)
        CHECK(status <= 2 && residue <= (n > 14 ? s[14] : 0u));
    {
        uint8_t *out = malloc(n ? n : 1);
        if (out) {
            size_t got = serial_payload(n && (s[0] & 1), n > 1 ? s[1] : 0, s, n, out);
            CHECK(got <= n);
            got = serial_payload(false, 0, s, n, out);
            CHECK(got == n && memcmp(out, s, n) == 0);
            free(out);
        }
    }
    {
        struct kbd_state k;
        struct mouse_state m;
        size_t at;
        memset(&k, 0, sizeof(k));
        memset(&m, 0, sizeof(m));
        for (at = 0; at < n; at += 8) {
            size_t len = n - at < 8 ? n - at : 8;
            kbd_report(devnull, &k, s + at, len);
            mouse_report(devnull, &m, s + at, len);
            CHECK(k.ntyped < sizeof(k.typed));
        }
    }
    while (hid_next(s, n, &off, &it) == HID_OK)
        CHECK(off <= n && it.data >= s && it.data + it.size <= s + n);
    CHECK(off <= n);
    hid_print_items(devnull, s, n);
    fuzz_text(s, n);
}

static void check_walk(const uint8_t *b, size_t n)
{
    struct desc_iter it;
    const uint8_t *d;
    size_t dl, sum = 0;
    int r;
    desc_iter_init(&it, b, n);
    while ((r = desc_next(&it, &d, &dl)) == DESC_OK) {
        CHECK(dl >= 2 && d >= b && d + dl <= b + n && d[0] == dl);
        sum += dl;
    }
    CHECK(r == DESC_END ? sum == n : sum < n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lsusb_desc d;
    struct mem out;
    size_t off = 0;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    memset(&d, 0, sizeof(d));
    while (off < size) {
        uint8_t kind = data[off];
        size_t len = size - off >= 3 ? get_le16(data + off + 1) : 0, k;
        const uint8_t *p = data + off + 3;
        if (size - off < 3)
            break;
        if (len > size - off - 3)
            len = size - off - 3;
        off += 3 + len;
        switch (kind % 8) {
        case 0:
            memcpy(d.device, p, len < 18 ? len : 18);
            break;
        case 1:
            if (d.nconfig < LSUSB_MAX_CONFIGS && (d.config[d.nconfig] = malloc(len ? len : 1))) {
                memcpy(d.config[d.nconfig], p, len);
                d.config_len[d.nconfig++] = len;
                check_walk(p, len);
            }
            break;
        case 2:
            if (len >= 1) {
                const char *why;
                char *s = usb_string_text(p + 1, len - 1, &why);
                if (s) {
                    check_safe(s, strlen(s), false, false);
                    free(d.string[p[0]]);
                    d.string[p[0]] = s;
                } else {
                    CHECK(why != NULL);
                }
            }
            break;
        case 3:
            if (len >= 1) {
                k = p[0] & 31;
                free(d.report[k]);
                d.report[k] = malloc(len - 1 ? len - 1 : 1);
                if (d.report[k]) {
                    memcpy(d.report[k], p + 1, len - 1);
                    d.report_len[k] = len - 1;
                }
            }
            break;
        case 4:
            memcpy(d.qualifier, p, len < 10 ? len : 10);
            d.have_qualifier = true;
            break;
        case 5:
            free(d.bos);
            if ((d.bos = malloc(len ? len : 1))) {
                memcpy(d.bos, p, len);
                d.bos_len = len;
                check_walk(p, len);
            }
            break;
        case 6:
            if (len >= 4) {
                d.have_status = true;
                d.status = get_le16(p);
                d.speed = p[2];
                d.address = p[3];
            }
            break;
        default:
            fuzz_replies(p, len);
            break;
        }
    }
    mem_open(&out);
    lsusb_print(out.f, devnull, "fuzz", &d);
    mem_close(&out);
    check_safe(out.text, out.len, true, false);
    free(out.text);
    lsusb_desc_free(&d);
    return 0;
}

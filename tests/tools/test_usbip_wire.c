/*
 * test_usbip_wire.c - the USB/IP protocol code of the usbip command
 * (tools/usbredir-guest/usbip_wire.h): every check of the reader on a
 * client's bytes, given whole and a byte at a time, and the layout of what
 * the writer encodes, against the offsets of Linux's usbip_protocol.rst.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "usbip_wire.h"

#define DEVID 0x00010002u

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t cmd(uint8_t *out, uint32_t command, uint32_t seqnum, uint32_t dir, uint32_t ep,
                  uint32_t flags, uint32_t len, uint32_t npk)
{
    struct usbip_cmd c;
    memset(&c, 0, sizeof(c));
    c.command = command;
    c.seqnum = seqnum;
    c.devid = DEVID;
    c.direction = dir;
    c.ep = ep;
    c.transfer_flags = flags;
    c.transfer_buffer_length = len;
    c.number_of_packets = npk;
    c.unlink_seqnum = seqnum - 1;
    usbip_put_cmd(out, &c);
    return USBIP_HEADER_SIZE;
}

/* Feeds s[0..n) in pieces of `piece` bytes (0: whole), answering HEADER as
 * the server does with ep_type, into buf/iso. Returns the last event that
 * is not NEED_MORE (or NEED_MORE), counting events in *count. */
static enum usbip_event feed(struct usbip_reader *r, const uint8_t *s, size_t n, size_t piece,
                             int ep_type, uint8_t *buf, struct usbip_iso_desc *iso, int *count)
{
    size_t pos = 0;
    enum usbip_event last = USBIP_NEED_MORE;
    *count = 0;
    for (;;) {
        size_t give = n - pos, used;
        enum usbip_event ev;
        if (piece && give > piece)
            give = piece;
        ev = usbip_read(r, s + pos, give, &used);
        pos += used;
        if (ev == USBIP_MALFORMED)
            return ev;
        if (ev == USBIP_HEADER) {
            if (usbip_reader_endpoint(r, ep_type))
                return usbip_read(r, s + pos, n - pos, &used);
            usbip_reader_payload(r, buf, iso);
        }
        if (ev != USBIP_NEED_MORE) {
            last = ev;
            ++*count;
        }
        if (ev == USBIP_NEED_MORE && pos == n)
            return last;
    }
}

static void urb_reader(struct usbip_reader *r)
{
    usbip_reader_init(r, 1u << 20);
    usbip_reader_urb_mode(r, DEVID);
}

static void test_management(void **state)
{
    struct usbip_reader r;
    uint8_t req[48];
    int n;
    (void)state;
    /* OP_REQ_DEVLIST, a byte at a time. */
    usbip_reader_init(&r, 1024);
    usbip_put_op_header(req, USBIP_OP_REQ_DEVLIST, 0);
    assert_int_equal(feed(&r, req, 8, 1, 0, NULL, NULL, &n), USBIP_DEVLIST);
    assert_int_equal(n, 1);
    /* Anything after it is refused. */
    assert_int_equal(feed(&r, req, 1, 0, 0, NULL, NULL, &n), USBIP_MALFORMED);
    assert_string_equal(r.why, "1 bytes after the management request");
    /* OP_REQ_IMPORT: the busid. */
    usbip_reader_init(&r, 1024);
    memset(req, 0, sizeof(req));
    usbip_put_op_header(req, USBIP_OP_REQ_IMPORT, 0);
    memcpy(req + 8, "1-2", 3);
    assert_int_equal(feed(&r, req, 40, 3, 0, NULL, NULL, &n), USBIP_IMPORT);
    assert_string_equal(r.busid, "1-2");
    /* A busid with no NUL in its 32 bytes. */
    usbip_reader_init(&r, 1024);
    memset(req + 8, 'x', 32);
    assert_int_equal(feed(&r, req, 40, 0, 0, NULL, NULL, &n), USBIP_MALFORMED);
    assert_string_equal(r.why, "OP_REQ_IMPORT: the busid is not NUL-terminated");
    /* Another version, another code. */
    usbip_reader_init(&r, 1024);
    usbip_put_op_header(req, USBIP_OP_REQ_DEVLIST, 0);
    req[1] = 0x06;
    assert_int_equal(feed(&r, req, 8, 0, 0, NULL, NULL, &n), USBIP_MALFORMED);
    assert_string_equal(r.why, "protocol version 0x0106, not 0x0111");
    usbip_reader_init(&r, 1024);
    usbip_put_op_header(req, 0x8009, 0);
    assert_int_equal(feed(&r, req, 8, 0, 0, NULL, NULL, &n), USBIP_MALFORMED);
    assert_string_equal(r.why, "unknown request 0x8009 in the management phase");
    /* Once malformed, always malformed, and nothing is used. */
    {
        size_t used = 99;
        assert_int_equal(usbip_read(&r, req, 8, &used), USBIP_MALFORMED);
        assert_int_equal(used, 0);
    }
}

/* A control IN submit has no payload: whole right after its header, with
 * no more bytes. A stale number_of_packets off iso becomes 0. */
static void test_submit_without_payload(void **state)
{
    struct usbip_reader r;
    uint8_t s[USBIP_HEADER_SIZE];
    size_t used;
    (void)state;
    urb_reader(&r);
    cmd(s, USBIP_CMD_SUBMIT, 5, USBIP_DIR_IN, 0, 0x200, 18, 0xffffffff);
    memcpy(s + 40, "\x80\x06\x00\x01\x00\x00\x12\x00", 8);
    assert_int_equal(usbip_read(&r, s, sizeof(s), &used), USBIP_HEADER);
    assert_int_equal(used, sizeof(s));
    assert_int_equal(r.cmd.seqnum, 5);
    assert_int_equal(r.cmd.transfer_buffer_length, 18);
    assert_memory_equal(r.cmd.setup, "\x80\x06\x00\x01\x00\x00\x12\x00", 8);
    assert_int_equal(usbip_reader_endpoint(&r, 0), 0);
    assert_int_equal(r.cmd.number_of_packets, 0);
    usbip_reader_payload(&r, NULL, NULL);
    assert_int_equal(usbip_read(&r, s, 0, &used), USBIP_SUBMIT);
    assert_int_equal(used, 0);
    assert_int_equal(usbip_read(&r, s, 0, &used), USBIP_NEED_MORE);
}

/* OUT data and iso descriptors, split anywhere: the same result. */
static void test_submit_split_anywhere(void **state)
{
    static uint8_t s[USBIP_HEADER_SIZE + 8 * 100 + 8 * USBIP_ISO_DESC_SIZE];
    (void)state;
    size_t n = cmd(s, USBIP_CMD_SUBMIT, 9, USBIP_DIR_OUT, 4, 2, 800, 8);
    for (int i = 0; i < 800; i++)
        s[n + (size_t)i] = (uint8_t)(i * 7);
    n += 800;
    for (uint32_t k = 0; k < 8; k++, n += USBIP_ISO_DESC_SIZE) {
        struct usbip_iso_desc d = { k * 100, 100, 55, -1 };
        usbip_put_iso_desc(s + n, &d);
    }
    for (size_t piece = 0; piece <= 49; piece += 7) {
        struct usbip_reader r;
        uint8_t buf[800];
        struct usbip_iso_desc iso[8];
        int count;
        urb_reader(&r);
        memset(buf, 0, sizeof(buf));
        assert_int_equal(feed(&r, s, n, piece, USBIP_EP_ISO, buf, iso, &count), USBIP_SUBMIT);
        assert_int_equal(count, 2); /* HEADER, SUBMIT */
        assert_memory_equal(buf, s + USBIP_HEADER_SIZE, 800);
        for (uint32_t k = 0; k < 8; k++) {
            assert_int_equal(iso[k].offset, k * 100);
            assert_int_equal(iso[k].length, 100);
            assert_int_equal(iso[k].actual_length, 0); /* a client's is meaningless */
            assert_int_equal(iso[k].status, 0);
        }
    }
}

static void expect_malformed(const uint8_t *s, size_t n, int ep_type, const char *why)
{
    struct usbip_reader r;
    static uint8_t buf[1 << 16];
    static struct usbip_iso_desc iso[USBIP_MAX_ISO_PACKETS];
    int count;
    urb_reader(&r);
    assert_int_equal(feed(&r, s, n, 0, ep_type, buf, iso, &count), USBIP_MALFORMED);
    assert_string_equal(r.why, why);
}

static void test_bad_headers(void **state)
{
    uint8_t s[USBIP_HEADER_SIZE + 2 * USBIP_ISO_DESC_SIZE];
    (void)state;
    cmd(s, 7, 1, 0, 0, 0, 0, 0);
    expect_malformed(s, USBIP_HEADER_SIZE, 0, "unknown command 7 (seqnum 1)");
    cmd(s, USBIP_CMD_SUBMIT, 2, 0, 0, 0, 0, 0);
    put32(s + 8, 0x00010005);
    expect_malformed(s, USBIP_HEADER_SIZE, 0,
                     "devid 0x00010005 is not the imported device's 0x00010002");
    cmd(s, USBIP_CMD_SUBMIT, 3, 2, 1, 0, 0, 0);
    expect_malformed(s, USBIP_HEADER_SIZE, 0, "CMD_SUBMIT: direction 2 (seqnum 3)");
    cmd(s, USBIP_CMD_SUBMIT, 4, 1, 16, 0, 0, 0);
    expect_malformed(s, USBIP_HEADER_SIZE, 0, "CMD_SUBMIT: endpoint 16 (seqnum 4)");
    cmd(s, USBIP_CMD_SUBMIT, 5, 1, 1, 0, 0xffffffff, 0);
    expect_malformed(s, USBIP_HEADER_SIZE, 0,
                     "CMD_SUBMIT: transfer_buffer_length -1 is outside 0..1048576 (seqnum 5)");
    cmd(s, USBIP_CMD_SUBMIT, 6, 1, 1, 0, (1u << 20) + 1, 0);
    expect_malformed(s, USBIP_HEADER_SIZE, 0,
                     "CMD_SUBMIT: transfer_buffer_length 1048577 is outside 0..1048576 (seqnum 6)");
    /* Iso counts: 0, 1025 and negative are refused before any allocation. */
    cmd(s, USBIP_CMD_SUBMIT, 7, 1, 1, 0, 192, 0);
    expect_malformed(s, USBIP_HEADER_SIZE, USBIP_EP_ISO,
                     "CMD_SUBMIT: iso number_of_packets 0 is outside 1..1024 (seqnum 7)");
    cmd(s, USBIP_CMD_SUBMIT, 8, 1, 1, 0, 192, 1025);
    expect_malformed(s, USBIP_HEADER_SIZE, USBIP_EP_ISO,
                     "CMD_SUBMIT: iso number_of_packets 1025 is outside 1..1024 (seqnum 8)");
    cmd(s, USBIP_CMD_SUBMIT, 9, 1, 1, 0, 192, 0x80000000u);
    expect_malformed(s, USBIP_HEADER_SIZE, USBIP_EP_ISO,
                     "CMD_SUBMIT: iso number_of_packets -2147483648 is outside 1..1024 (seqnum 9)");
    /* A descriptor past the buffer, also one whose offset + length wraps
     * 32 bits. */
    {
        struct usbip_iso_desc ok = { 0, 96, 0, 0 }, past = { 96, 97, 0, 0 },
                              wrap = { 0xffffff00u, 0x200, 0, 0 };
        cmd(s, USBIP_CMD_SUBMIT, 10, 1, 1, 0, 192, 2);
        usbip_put_iso_desc(s + USBIP_HEADER_SIZE, &ok);
        usbip_put_iso_desc(s + USBIP_HEADER_SIZE + USBIP_ISO_DESC_SIZE, &past);
        expect_malformed(s, sizeof(s), USBIP_EP_ISO,
                         "CMD_SUBMIT: iso packet 1 (offset 96, length 97) ends past the buffer "
                         "of 192 bytes (seqnum 10)");
        usbip_put_iso_desc(s + USBIP_HEADER_SIZE + USBIP_ISO_DESC_SIZE, &wrap);
        expect_malformed(s, sizeof(s), USBIP_EP_ISO,
                         "CMD_SUBMIT: iso packet 1 (offset 4294967040, length 512) ends past the "
                         "buffer of 192 bytes (seqnum 10)");
    }
}

static void test_unlink(void **state)
{
    struct usbip_reader r;
    uint8_t s[USBIP_HEADER_SIZE];
    int count;
    (void)state;
    urb_reader(&r);
    cmd(s, USBIP_CMD_UNLINK, 41, 0, 0, 0, 0, 0);
    assert_int_equal(feed(&r, s, sizeof(s), 5, 0, NULL, NULL, &count), USBIP_UNLINK);
    assert_int_equal(r.cmd.seqnum, 41);
    assert_int_equal(r.cmd.unlink_seqnum, 40);
}

/* What the server writes, at the offsets of the protocol's tables. */
static void test_writer_layout(void **state)
{
    uint8_t h[USBIP_HEADER_SIZE], rec[USBIP_DEVICE_SIZE + 8];
    struct usbip_device d;
    struct usbip_iso_desc iso = { 0x11223344, 0x55, 0x44, -18 };
    (void)state;
    assert_int_equal(usbip_put_ret_submit(h, 0x01020304, -32, 13, 7, 3, 1), USBIP_HEADER_SIZE);
    assert_memory_equal(h, "\0\0\0\3\1\2\3\4", 8);
    assert_memory_equal(h + 8, "\0\0\0\0\0\0\0\0\0\0\0\0", 12); /* devid, direction, ep */
    assert_memory_equal(h + 20, "\xff\xff\xff\xe0", 4);            /* status -EPIPE */
    assert_memory_equal(h + 24, "\0\0\0\x0d\0\0\0\7\0\0\0\3\0\0\0\1", 16);
    assert_memory_equal(h + 40, "\0\0\0\0\0\0\0\0", 8);
    usbip_put_ret_unlink(h, 9, -104);
    assert_memory_equal(h, "\0\0\0\4\0\0\0\x09", 8);
    assert_memory_equal(h + 20, "\xff\xff\xff\x98", 4);
    usbip_put_iso_desc(h, &iso);
    assert_memory_equal(h, "\x11\x22\x33\x44\0\0\0\x55\0\0\0\x44\xff\xff\xff\xee", 16);
    usbip_put_op_header(h, USBIP_OP_REP_IMPORT, USBIP_ST_DEV_BUSY);
    assert_memory_equal(h, "\x01\x11\x00\x03\0\0\0\2", 8);
    memset(&d, 0, sizeof(d));
    strcpy(d.path, "/usbredir-guest/1-2");
    strcpy(d.busid, "1-2");
    d.busnum = 1;
    d.devnum = 2;
    d.speed = USBIP_SPEED_SUPER;
    d.id_vendor = 0x46f4;
    d.id_product = 0x0001;
    d.bcd_device = 0x0100;
    d.device_class = 0;
    d.configuration_value = 1;
    d.num_configurations = 1;
    d.num_interfaces = 2;
    d.interface[0].class_code = 8;
    d.interface[0].subclass = 6;
    d.interface[0].protocol = 0x50;
    d.interface[1].class_code = 3;
    assert_int_equal(usbip_put_device(rec, &d, 0), USBIP_DEVICE_SIZE);
    assert_int_equal(usbip_put_device(rec, &d, 1), USBIP_DEVICE_SIZE + 8);
    assert_string_equal((char *)rec, "/usbredir-guest/1-2");
    assert_string_equal((char *)rec + 256, "1-2");
    assert_memory_equal(rec + 288, "\0\0\0\1\0\0\0\2\0\0\0\5\x46\xf4\0\1\1\0", 18);
    assert_memory_equal(rec + 306, "\0\0\0\1\1\2", 6);
    assert_memory_equal(rec + 312, "\x08\x06\x50\0\x03\0\0\0", 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_management),
        cmocka_unit_test(test_submit_without_payload),
        cmocka_unit_test(test_submit_split_anywhere),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_unlink),
        cmocka_unit_test(test_writer_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

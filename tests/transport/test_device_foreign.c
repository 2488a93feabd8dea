/*
 * test_device_foreign.c - device:FILE (transport/recdev.c) built from the
 * recordings of a foreign usb-guest: QEMU 7.2's usb-redir, SeaBIOS then
 * Linux 6.1 in a VM, against Debian's usbredirect exporting QEMU's
 * emulated devices (fixtures/foreign-*, make fixtures-foreign;
 * docs/fixtures.md). A live guest that asks what the foreign one did not
 * ask, or asks it otherwise, gets what the device would say:
 *   - the disk's blocks are the image the device VM served (its bytes made
 *     here again, not taken from the truth file), the written range the
 *     seq pattern the foreign Linux wrote;
 *   - GET_STATUS, never recorded, says what the recorded configuration
 *     descriptor says: self-powered for QEMU's usb-storage (bmAttributes
 *     0xc0), as that device answers it live (tests/cli/expected/
 *     lsusb-real-msc.txt);
 *   - an FTDI vendor request recorded with another wValue (Linux set the
 *     latency timer to the 0 it read; usbredir-guest serial sets 16):
 *     the adapter takes it.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "evtest.h"

struct run {
    struct ev_loop *loop;
    urg_replay *r;
    struct tdev d;
    bool open;
};

/* The test's device and buffers: freed by the teardown, also after a
 * failed assertion. */
static struct run cur;
static uint8_t *disk_img, *disk_got;

/* The device recorded in path on one end of a socketpair, a guest (model
 * and transport) on the other, attached. */
static void device_start(struct run *rn, const char *path)
{
    struct urg_replay_config rc;
    int sv[2];
    char addr[32];
    memset(rn, 0, sizeof(*rn));
    rn->loop = ev_loop_new(0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    urg_replay_config_init(&rc);
    rc.capture_path = path;
    rc.mode = URG_REPLAY_DEVICE;
    rc.loop = rn->loop;
    rc.fd = sv[1];
    assert_int_equal(urg_replay_new(&rc, &rn->r), 0);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    tdev_init(&rn->d, rn->loop, addr, 0, 0, NULL);
    rn->open = true;
    assert_true(run_until(rn->loop, tdev_attached, &rn->d, 10));
}

static void device_end(struct run *rn)
{
    if (!rn->open)
        return;
    tdev_free(&rn->d);
    urg_replay_free(rn->r);
    ev_loop_destroy(rn->loop);
    rn->open = false;
}

static int teardown(void **state)
{
    (void)state;
    device_end(&cur);
    free(disk_img);
    free(disk_got);
    disk_img = disk_got = NULL;
    return 0;
}

static int control(struct run *rn, uint8_t rt, uint8_t req, uint16_t value, uint16_t index,
                   uint8_t *buf, uint16_t len, uint32_t *got)
{
    uint8_t setup[8] = { rt, req, (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)index,
                         (uint8_t)(index >> 8), (uint8_t)len, (uint8_t)(len >> 8) };
    return tdev_xfer(&rn->d, URG_EP_CONTROL, 0, setup, buf, len, got);
}

static uint64_t unanswerable(struct run *rn)
{
    struct urg_replay_coverage c;
    assert_int_equal(urg_replay_coverage(rn->r, &c), 0);
    return c.unanswerable;
}

static void read10(uint8_t *cdb, uint32_t lba, uint16_t blocks)
{
    memset(cdb, 0, 10);
    cdb[0] = 0x28;
    cdb[2] = (uint8_t)(lba >> 24), cdb[3] = (uint8_t)(lba >> 16), cdb[4] = (uint8_t)(lba >> 8),
    cdb[5] = (uint8_t)lba;
    cdb[7] = (uint8_t)(blocks >> 8), cdb[8] = (uint8_t)blocks;
}

/* The device VM's disk image from byte 0 to bytes (tests/realhost/vm.c
 * vm_make_image: xorshift32 seeded 0x2545f491, little-endian words). */
static uint8_t *image(uint32_t bytes)
{
    uint8_t *p = malloc(bytes);
    uint32_t x = 0x2545f491u;
    assert_non_null(p);
    for (uint32_t i = 0; i < bytes; i += 4) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x, p[i + 1] = (uint8_t)(x >> 8), p[i + 2] = (uint8_t)(x >> 16),
        p[i + 3] = (uint8_t)(x >> 24);
    }
    return p;
}

/* n bytes of `seq -w start 999999` (the VM's pattern: 6 digits and a
 * newline a line). */
static void seq_pattern(uint8_t *p, unsigned start, size_t n)
{
    char l[8];
    for (size_t i = 0; i < n; i += 7) {
        snprintf(l, sizeof(l), "%06u\n", start + (unsigned)(i / 7));
        memcpy(p + i, l, n - i < 7 ? n - i : 7);
    }
}

/* The blocks the foreign Linux read are the image's, in another split than
 * it read them; the range it wrote is its seq pattern (`seq -w 1000
 * 999999`, 7 bytes a line). */
static void test_foreign_disk_blocks(void **state)
{
    static const uint8_t inquiry[6] = { 0x12, 0, 0, 0, 36, 0 }, capacity[10] = { 0x25 };
    const uint32_t mid = 16384;
    uint8_t cdb[10], cap[8], inq[36], pat[4096];
    (void)state;
    disk_img = image((mid + 64) * 512);
    disk_got = malloc(64 * 512);
    assert_non_null(disk_got);
    device_start(&cur, "fixtures/foreign-disk.urgcap");
    assert_int_equal(tdev_scsi(&cur.d, inquiry, 6, inq, 36, 1), 0);
    assert_memory_equal(inq + 8, "QEMU    QEMU HARDDISK   ", 24);
    assert_int_equal(tdev_scsi(&cur.d, capacity, 10, cap, 8, 1), 0);
    assert_int_equal(cap[0] << 24 | cap[1] << 16 | cap[2] << 8 | cap[3], 32767);
    /* Blocks 0-127 (read as one 64 KiB command) in two halves, 16384-16447
     * (one 32 KiB command) in commands of 24, 24 and 16. */
    for (uint32_t lba = 0; lba < 128; lba += 64) {
        read10(cdb, lba, 64);
        assert_int_equal(tdev_scsi(&cur.d, cdb, 10, disk_got, 64 * 512, 1), 0);
        assert_memory_equal(disk_got, disk_img + lba * 512, 64 * 512);
    }
    for (uint32_t lba = mid; lba < mid + 64; lba += 24) {
        uint16_t n = (uint16_t)(mid + 64 - lba < 24 ? mid + 64 - lba : 24);
        read10(cdb, lba, n);
        assert_int_equal(tdev_scsi(&cur.d, cdb, 10, disk_got, n * 512u, 1), 0);
        assert_memory_equal(disk_got, disk_img + lba * 512, n * 512u);
    }
    /* The 4096 bytes written at block 24576 (written and read back as one
     * command), read as two of 4 blocks. */
    seq_pattern(pat, 1000, sizeof(pat));
    for (uint32_t i = 0; i < 8; i += 4) {
        read10(cdb, 24576 + i, 4);
        assert_int_equal(tdev_scsi(&cur.d, cdb, 10, disk_got, 4 * 512, 1), 0);
        assert_memory_equal(disk_got, pat + i * 512, 4 * 512);
    }
}

/* GET_STATUS of the device, which the foreign guest never asked: the
 * disk's configuration descriptor (bmAttributes 0xc0) says self-powered,
 * and QEMU's usb-storage answers 0x0001; the keyboard's (0xa0) says
 * bus-powered, and remote wakeup was never enabled: 0x0000. */
static void test_foreign_get_status(void **state)
{
    uint8_t st[2], cfg[9];
    uint32_t got = 0;
    (void)state;
    device_start(&cur, "fixtures/foreign-disk.urgcap");
    assert_int_equal(control(&cur, 0x80, 6, 0x0200, 0, cfg, 9, &got), URG_URB_SUCCESS);
    assert_int_equal(cfg[7], 0xc0);
    assert_int_equal(control(&cur, 0x80, 0, 0, 0, st, 2, &got), URG_URB_SUCCESS);
    assert_int_equal(got, 2);
    assert_int_equal(st[0] | st[1] << 8, 0x0001);
    device_end(&cur);

    device_start(&cur, "fixtures/foreign-keyboard.urgcap");
    assert_int_equal(control(&cur, 0x80, 6, 0x0200, 0, cfg, 9, &got), URG_URB_SUCCESS);
    assert_int_equal(cfg[7] & 0x40, 0); /* 0xa0 (the model clears remote wakeup: 0x80) */
    assert_int_equal(control(&cur, 0x80, 0, 0, 0, st, 2, &got), URG_URB_SUCCESS);
    assert_int_equal(got, 2);
    assert_int_equal(st[0] | st[1] << 8, 0x0000);
}

/* The FTDI setup usbredir-guest serial sends, where the foreign Linux
 * (ftdi_sio) sent the same requests but one: it read the latency timer
 * (0) and wrote it back, SET_LATENCY_TIMER(0); the command sets 16. The
 * adapter takes a vendor OUT request without data that it took with
 * another wValue: success, and nothing unanswerable. */
static void test_foreign_ftdi_setup(void **state)
{
    static const struct {
        uint8_t req;
        uint16_t value;
    } setup[] = {
        { 0x00, 0x0000 }, /* reset */
        { 0x01, 0x0303 }, /* DTR, RTS */
        { 0x02, 0x0000 }, /* no flow control */
        { 0x03, 0x001a }, /* 115200 baud */
        { 0x04, 0x0008 }, /* 8N1 */
        { 0x09, 0x0000 }, /* latency 0, as recorded */
        { 0x09, 0x0010 }, /* latency 16 ms: not recorded */
    };
    uint64_t u0;
    (void)state;
    device_start(&cur, "fixtures/foreign-serial.urgcap");
    u0 = unanswerable(&cur);
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
        int st = control(&cur, 0x40, setup[i].req, setup[i].value, 0, NULL, 0, NULL);
        if (st != URG_URB_SUCCESS)
            fail_msg("FTDI request 0x%02x wValue 0x%04x: %s", setup[i].req, setup[i].value,
                     urg_urb_status_name(st));
    }
    assert_int_equal(unanswerable(&cur), u0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_foreign_disk_blocks, teardown),
        cmocka_unit_test_teardown(test_foreign_get_status, teardown),
        cmocka_unit_test_teardown(test_foreign_ftdi_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

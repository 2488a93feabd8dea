/*
 * test_device.c - device:FILE, a device built from a recording
 * (URG_REPLAY_DEVICE: transport/recdev.c behind transport/replay.c),
 * serving a live guest (the model behind a transport) that does not repeat
 * the recorded session: control requests answered by their setup and cut
 * to the new wLength, recorded stalls and requests never recorded, resets
 * and settings in another order, interrupt streams (ending, looping, the
 * unplug once over), Bulk-Only mass storage by meaning (recorded blocks,
 * missing ones, writes kept), the coverage counts, and recordings that
 * cannot make a device.
 */
#include <setjmp.h>
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
#include "failalloc.h"


/* The device recorded in path on one end of a socketpair, a guest (model
 * and transport) on the other, attached; streams fast when fast_streams
 * is set. */
static int fast_streams;
static void device_start(struct replay_session *x, const char *path, int loop_streams, int close_when_done)
{
    struct urg_replay_config rc;
    int sv[2];
    char addr[32];
    memset(x, 0, sizeof(*x));
    x->loop = ev_loop_new(0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    urg_replay_config_init(&rc);
    rc.capture_path = path;
    rc.mode = URG_REPLAY_DEVICE;
    rc.loop_streams = loop_streams;
    rc.fast = fast_streams;
    rc.close_when_done = close_when_done;
    rc.loop = x->loop;
    rc.fd = sv[1];
    rc.done = replay_run_done;
    rc.user_data = x;
    assert_int_equal(urg_replay_new(&rc, &x->r), 0);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    tdev_init(&x->d, x->loop, addr, 0, 0, NULL);
    assert_true(run_until(x->loop, tdev_attached, &x->d, 10));
}


static struct urg_replay_coverage coverage(struct replay_session *x)
{
    struct urg_replay_coverage c;
    assert_int_equal(urg_replay_coverage(x->r, &c), 0);
    return c;
}

static int control_in(struct replay_session *x, uint8_t rt, uint8_t req, uint16_t value, uint16_t index,
                      uint8_t *buf, uint16_t len, uint32_t *got)
{
    uint8_t setup[8] = { rt, req, (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)index,
                         (uint8_t)(index >> 8), (uint8_t)len, (uint8_t)(len >> 8) };
    return tdev_xfer(&x->d, URG_EP_CONTROL, 0, setup, buf, len, got);
}

/* The lsusb recording answers by setup: the device descriptor read with
 * wLength 8, 18 and 64 (cut to each), out of the recorded order; a string
 * never read stalls; a reset and two SET_CONFIGURATIONs (a firmware and an
 * OS enumerating) are answered; each request counted once. */
static void test_control_by_setup(void **state)
{
    struct replay_session x;
    uint8_t desc[64], cfg[255];
    uint32_t got = 0;
    struct urg_replay_coverage c0, c1;
    (void)state;
    device_start(&x, "fixtures/keyboard-lsusb.urgcap", 0, 1);
    c0 = coverage(&x);
    assert_int_equal(control_in(&x, 0x80, 6, 0x0200, 0, cfg, 255, &got), URG_URB_SHORT);
    assert_int_equal(got, 34);
    assert_int_equal(cfg[1], 2);
    assert_int_equal(control_in(&x, 0x80, 6, 0x0100, 0, desc, 8, &got), URG_URB_SUCCESS);
    assert_int_equal(got, 8);
    assert_int_equal(desc[0], 18);
    assert_int_equal(desc[1], 1);
    assert_int_equal(control_in(&x, 0x80, 6, 0x0100, 0, desc, 64, &got), URG_URB_SHORT);
    assert_int_equal(got, 18);
    assert_int_equal(desc[8] | desc[9] << 8, 0x0627); /* idVendor */
    c1 = coverage(&x);
    assert_int_equal(c1.recorded - c0.recorded, 3);
    assert_int_equal(c1.unanswerable, c0.unanswerable);
    /* A string index the recording never read: a stall, counted. */
    assert_int_equal(control_in(&x, 0x80, 6, 0x0309, 0x0409, desc, 64, &got), URG_URB_STALL);
    assert_int_equal(coverage(&x).unanswerable, c0.unanswerable + 1);
    /* A reset, then the configuration set twice: answered each time. */
    assert_int_equal(urg_hcd_reset(x.d.dev), 0);
    {
        static const uint8_t set_config[8] = { 0x00, 9, 1, 0, 0, 0, 0, 0 };
        assert_int_equal(tdev_xfer(&x.d, URG_EP_CONTROL, 0, set_config, NULL, 0, NULL),
                         URG_URB_SUCCESS);
        assert_int_equal(tdev_xfer(&x.d, URG_EP_CONTROL, 0, set_config, NULL, 0, NULL),
                         URG_URB_SUCCESS);
    }
    assert_int_equal(urg_hcd_dev_info(x.d.dev)->configuration, 1);
    assert_int_equal(coverage(&x).unanswerable, c0.unanswerable + 1);
    replay_run_end(&x);
}

/* A keyboard's reports, in order, to a guest that starts receiving at
 * once; then the stream runs out, and LINGER after that the device is
 * unplugged (the guest detached, the replay done with status 0). */
static void test_interrupt_stream_then_unplug(void **state)
{
    static const uint8_t keys[11] = { 0x0b, 0x08, 0x0f, 0x0f, 0x12, 0x2c,
                                      0x1a, 0x12, 0x15, 0x0f, 0x07 }; /* hello world */
    struct replay_session x;
    uint8_t rep[8];
    uint32_t got;
    (void)state;
    device_start(&x, "fixtures/keyboard-hid.urgcap", 0, 1);
    for (int i = 0; i < 22; i++) {
        assert_int_equal(tdev_xfer(&x.d, URG_EP_INTERRUPT, 0x81, NULL, rep, 8, &got),
                         URG_URB_SUCCESS);
        assert_int_equal(got, 8);
        assert_int_equal(rep[2], i % 2 ? 0 : keys[i / 2]);
    }
    assert_int_equal(coverage(&x).stream_packets, 22);
    assert_true(run_until(x.loop, replay_run_detached, &x, 10));
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, 0);
    assert_non_null(strstr(x.report, "the device was unplugged"));
    assert_non_null(strstr(x.report, "stream packets sent: 22"));
    replay_run_end(&x);
}

/* loop_streams: the reports start over once they ran out (30 of the 22
 * recorded taken: the 23rd is the first again); no unplug. */
static void test_interrupt_stream_loops(void **state)
{
    struct replay_session x;
    uint8_t rep[8];
    uint32_t got;
    (void)state;
    device_start(&x, "fixtures/keyboard-hid.urgcap", 1, 1);
    for (int i = 0; i < 30; i++) {
        assert_int_equal(tdev_xfer(&x.d, URG_EP_INTERRUPT, 0x81, NULL, rep, 8, &got),
                         URG_URB_SUCCESS);
        if (i == 22)
            assert_int_equal(rep[2], 0x0b); /* h again */
    }
    assert_true(coverage(&x).stream_packets >= 30);
    assert_int_equal(x.d.detached, 0);
    replay_run_end(&x);
}

/* Without close_when_done the device stays once the recording is over:
 * the loop runs twice as long as the unplug would wait (1 s), and no
 * detach comes. */
static void test_no_unplug_without_close_when_done(void **state)
{
    struct replay_session x;
    uint8_t rep[8];
    uint32_t got;
    (void)state;
    device_start(&x, "fixtures/keyboard-hid.urgcap", 0, 0);
    for (int i = 0; i < 22; i++)
        assert_int_equal(tdev_xfer(&x.d, URG_EP_INTERRUPT, 0x81, NULL, rep, 8, &got),
                         URG_URB_SUCCESS);
    assert_false(run_until(x.loop, replay_run_detached, &x, 2));
    assert_int_equal(x.done, 0);
    replay_run_end(&x);
}

static const uint8_t inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };
static const uint8_t capacity10[10] = { 0x25 };

static void rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
    memset(cdb, 0, 10);
    cdb[0] = op;
    cdb[2] = (uint8_t)(lba >> 24), cdb[3] = (uint8_t)(lba >> 16), cdb[4] = (uint8_t)(lba >> 8),
    cdb[5] = (uint8_t)lba;
    cdb[7] = (uint8_t)(blocks >> 8), cdb[8] = (uint8_t)blocks;
}

/* The disk rebuilt from msc-read's READs: the recorded blocks read back in
 * another split than recorded (equal to what the exact replay gives), a
 * block never recorded fails with a medium error (REQUEST SENSE says so),
 * a WRITE is kept and read back, the CSW carries each CBW's tag
 * (tdev_scsi() checks it). */
static void test_mass_storage_by_meaning(void **state)
{
    struct replay_session x;
    uint8_t buf[36], cap[8], cdb[10], *blocks = malloc(256 * 512), *again = malloc(256 * 512);
    uint8_t sense[18], wr[1024];
    struct urg_replay_coverage c;
    (void)state;
    device_start(&x, "fixtures/msc-read.urgcap", 0, 1);
    assert_int_equal(tdev_scsi(&x.d, inquiry, 6, buf, 36, 1), 0);
    assert_memory_equal(buf + 8, "URG     EMULATED DISK", 21);
    assert_int_equal(tdev_scsi(&x.d, capacity10, 10, cap, 8, 1), 0);
    assert_int_equal(cap[3], 255); /* last LBA 255 */
    /* 256 blocks in 3 commands of 100, 100 and 56 (the recording read 2 of 128). */
    for (uint32_t lba = 0; lba < 256; lba += 100) {
        uint16_t n = (uint16_t)(256 - lba < 100 ? 256 - lba : 100);
        rw10(cdb, 0x28, lba, n);
        assert_int_equal(tdev_scsi(&x.d, cdb, 10, blocks + lba * 512, n * 512u, 1), 0);
    }
    /* The same blocks as the recording's: the emulated disk's pattern
     * ("block N" at the start of each, N's low byte at its end). */
    for (int b = 0; b < 256; b++) {
        char label[16];
        int n = snprintf(label, sizeof(label), "block %d", b);
        assert_memory_equal(blocks + b * 512, label, (size_t)n);
        assert_int_equal(blocks[b * 512 + 511], b & 0xff);
    }
    rw10(cdb, 0x28, 0, 128);
    assert_int_equal(tdev_scsi(&x.d, cdb, 10, again, 128 * 512, 1), 0);
    assert_memory_equal(again, blocks, 128 * 512);
    c = coverage(&x);
    assert_int_equal(c.blocks_read, 256 + 128);
    assert_int_equal(c.blocks_missing, 0);
    /* Block 300 was never recorded: a medium error. */
    rw10(cdb, 0x28, 300, 1);
    assert_int_equal(tdev_scsi(&x.d, cdb, 10, again, 512, 1), 1);
    {
        static const uint8_t request_sense[6] = { 0x03, 0, 0, 0, 18, 0 };
        assert_int_equal(tdev_scsi(&x.d, request_sense, 6, sense, 18, 1), 0);
        assert_int_equal(sense[2] & 0x0f, 3);
        assert_int_equal(sense[12], 0x11);
    }
    assert_int_equal(coverage(&x).blocks_missing, 1);
    /* Written, then read back: the new data; the block beside it is the
     * recording's still. */
    for (int i = 0; i < 1024; i++)
        wr[i] = (uint8_t)(i * 3 + 1);
    rw10(cdb, 0x2a, 10, 2);
    assert_int_equal(tdev_scsi(&x.d, cdb, 10, wr, 1024, 0), 0);
    rw10(cdb, 0x28, 9, 4);
    assert_int_equal(tdev_scsi(&x.d, cdb, 10, again, 2048, 1), 0);
    assert_memory_equal(again + 512, wr, 1024);
    assert_memory_equal(again, blocks + 9 * 512, 512);
    assert_memory_equal(again + 1536, blocks + 12 * 512, 512);
    assert_int_equal(coverage(&x).blocks_written, 2);
    /* A command never recorded: fails, ILLEGAL REQUEST. */
    {
        static const uint8_t report_luns[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0 };
        uint8_t luns[16];
        assert_int_equal(tdev_scsi(&x.d, report_luns, 12, luns, 16, 1), 1);
    }
    replay_run_end(&x);
    free(blocks);
    free(again);
}

/* fast and loop_streams: the reports come as fast as the guest reads them,
 * for ever; the device holds them back while its output is full (once
 * it killed its own session there): 3000 taken, the session alive. */
static void test_fast_looping_stream(void **state)
{
    struct replay_session x;
    uint8_t rep[8];
    uint32_t got;
    (void)state;
    fast_streams = 1;
    device_start(&x, "fixtures/keyboard-hid.urgcap", 1, 1);
    fast_streams = 0;
    for (int i = 0; i < 3000; i++)
        assert_int_equal(tdev_xfer(&x.d, URG_EP_INTERRUPT, 0x81, NULL, rep, 8, &got),
                         URG_URB_SUCCESS);
    assert_int_equal(x.done, 0);
    assert_true(coverage(&x).stream_packets >= 3000);
    replay_run_end(&x);
}

/* A READ of 600 blocks in one command (written first): one reply over the
 * device's 256 KiB output hint goes out whole. */
static void test_read_over_the_output_hint(void **state)
{
    struct replay_session x;
    uint8_t cdb[10], *buf = malloc(600 * 512), *back = malloc(600 * 512);
    (void)state;
    for (int i = 0; i < 600 * 512; i++)
        buf[i] = (uint8_t)(i * 7 + i / 512);
    device_start(&x, "fixtures/msc-read.urgcap", 0, 1);
    rw10(cdb, 0x2a, 0, 600);
    assert_int_equal(tdev_scsi(&x.d, cdb, 10, buf, 600 * 512, 0), 0);
    rw10(cdb, 0x28, 0, 600);
    assert_int_equal(tdev_scsi(&x.d, cdb, 10, back, 600 * 512, 1), 0);
    assert_memory_equal(back, buf, 600 * 512);
    assert_int_equal(x.done, 0);
    replay_run_end(&x);
    free(buf);
    free(back);
}

/* The device cannot allocate a READ's answer: the replay ends, done()
 * says why (it once closed without a word). */
static void test_answer_without_memory(void **state)
{
    struct replay_session x;
    struct urg_replay_config rc;
    struct fail_alloc fa;
    struct urg_allocator a;
    int sv[2];
    char addr[32];
    uint8_t cdb[10], *buf = calloc(128, 512);
    (void)state;
    memset(&x, 0, sizeof(x));
    memset(&fa, 0, sizeof(fa));
    a = fail_allocator(&fa);
    x.loop = ev_loop_new(0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    urg_replay_config_init(&rc);
    rc.capture_path = "fixtures/msc-read.urgcap";
    rc.mode = URG_REPLAY_DEVICE;
    rc.allocator = &a;
    rc.loop = x.loop;
    rc.fd = sv[1];
    rc.done = replay_run_done;
    rc.user_data = &x;
    assert_int_equal(urg_replay_new(&rc, &x.r), 0);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    tdev_init(&x.d, x.loop, addr, 0, 0, NULL);
    assert_true(run_until(x.loop, tdev_attached, &x.d, 10));
    fail_alloc_refuse(&fa, 1);
    rw10(cdb, 0x28, 0, 128);
    assert_int_equal(tdev_scsi(&x.d, cdb, 10, buf, 128 * 512, 1), -1);
    fail_alloc_refuse(&fa, 0);
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, URG_ERR_NOMEM);
    assert_non_null(strstr(x.report, "bulk_packet"));
    replay_run_end(&x);
    free(buf);
}

/* A device that listens: the guest connects, takes the keys, and the
 * device is unplugged once they are over. */
static void test_listening_device(void **state)
{
    struct replay_session x;
    struct urg_replay_config rc;
    char addr[64];
    uint8_t rep[8];
    uint32_t got;
    (void)state;
    memset(&x, 0, sizeof(x));
    x.loop = ev_loop_new(0);
    urg_replay_config_init(&rc);
    rc.capture_path = "fixtures/keyboard-hid.urgcap";
    rc.mode = URG_REPLAY_DEVICE;
    rc.listen_address = "127.0.0.1:0";
    rc.loop = x.loop;
    rc.done = replay_run_done;
    rc.user_data = &x;
    assert_int_equal(urg_replay_new(&rc, &x.r), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", urg_replay_port(x.r));
    tdev_init(&x.d, x.loop, addr, 0, 0, NULL);
    assert_true(run_until(x.loop, tdev_attached, &x.d, 10));
    for (int i = 0; i < 22; i++)
        assert_int_equal(tdev_xfer(&x.d, URG_EP_INTERRUPT, 0x81, NULL, rep, 8, &got),
                         URG_URB_SUCCESS);
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, 0);
    assert_non_null(strstr(x.report, "unplugged"));
    replay_run_end(&x);
}

/* Recordings that cannot make a device: refused, with a clear error. */
static void test_recordings_refused(void **state)
{
    struct urg_replay_config rc;
    urg_replay *r = NULL;
    char path[] = "/tmp/urg-device-XXXXXX";
    int fd = mkstemp(path), sv[2];
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a capture at all", 20), 20);
    close(fd);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    urg_replay_config_init(&rc);
    rc.mode = URG_REPLAY_DEVICE;
    rc.fd = sv[1];
    rc.capture_path = path;
    assert_int_equal(urg_replay_new(&rc, &r), URG_ERR_CAPTURE);
    assert_null(r);
    rc.capture_path = "/nonexistent/recording.urgcap";
    assert_int_equal(urg_replay_new(&rc, &r), URG_ERR_CAPTURE);
    unlink(path);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(urg_replay_coverage(NULL, NULL), URG_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_by_setup),
        cmocka_unit_test(test_interrupt_stream_then_unplug),
        cmocka_unit_test(test_interrupt_stream_loops),
        cmocka_unit_test(test_no_unplug_without_close_when_done),
        cmocka_unit_test(test_mass_storage_by_meaning),
        cmocka_unit_test(test_fast_looping_stream),
        cmocka_unit_test(test_read_over_the_output_hint),
        cmocka_unit_test(test_answer_without_memory),
        cmocka_unit_test(test_listening_device),
        cmocka_unit_test(test_recordings_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

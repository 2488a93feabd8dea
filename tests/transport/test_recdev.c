/*
 * test_recdev.c - device:FILE's device model (transport/recdev.c) driven
 * directly: guest packets in, the packets it sends recorded (a sink). Each
 * rule of the table in docs/transport.md "A device from a recording" that
 * the replay-level tests (test_device.c) do not reach, and recordings made
 * here: many distinct setups, blocks in any order, times going back, a
 * recorded alternate setting; the Bulk-Only edges (data stages that are
 * not whole blocks, missing blocks, write_limit); held bulk IN requests;
 * an answer that cannot be allocated.
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

#include "packets.h"
#include "recdev.h"
#include "failalloc.h"

/* ------------------------------------------------ what the device sends */
struct sink {
    int n;
    struct urg_packet last;
    uint8_t data[1 << 20];
    uint32_t len;
    int by_type[256];
    uint64_t ids[4096];
};

static int sink_send(void *ctx, const struct urg_packet *p)
{
    struct sink *s = ctx;
    if (s->n < 4096)
        s->ids[s->n] = p->id;
    s->n++;
    s->last = *p;
    s->len = p->type == URG_HELLO ? 0 : p->data_len;
    if (s->len && s->len <= sizeof(s->data))
        memcpy(s->data, p->data, s->len);
    if (p->type < 256)
        s->by_type[p->type]++;
    return 0;
}

static struct recdev *dev_from(const char *path, const void *mem, size_t len, struct sink *s)
{
    struct urg_replay_config cfg;
    struct recdev *d = NULL;
    char err[256] = "";
    urg_replay_config_init(&cfg);
    cfg.mode = URG_REPLAY_DEVICE;
    int rc = recdev_new(urg_allocator_default(), path, mem, len, &cfg, &d, err, sizeof(err));
    if (rc)
        print_message("recdev_new: %d %s\n", rc, err);
    assert_int_equal(rc, 0);
    assert_int_equal(recdev_start(d, sink_send, s, 0), 0);
    return d;
}

static void bulk_out(struct recdev *d, uint64_t id, uint8_t ep, const uint8_t *data, uint32_t len)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = id;
    p.h.bulk.endpoint = ep;
    p.h.bulk.length = len;
    p.data = data;
    p.data_len = len;
    assert_int_equal(recdev_guest(d, &p, 0), 0);
}

static void bulk_in(struct recdev *d, uint64_t id, uint8_t ep, uint32_t len)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = id;
    p.h.bulk.endpoint = ep;
    p.h.bulk.length = len;
    assert_int_equal(recdev_guest(d, &p, 0), 0);
}

static void cbw(uint8_t out[31], uint32_t tag, const uint8_t *cdb, int cdblen, uint32_t len, int in)
{
    memset(out, 0, 31);
    memcpy(out, "USBC", 4);
    memcpy(out + 4, &tag, 4);
    out[8] = (uint8_t)len, out[9] = (uint8_t)(len >> 8), out[10] = (uint8_t)(len >> 16),
    out[11] = (uint8_t)(len >> 24);
    out[12] = in ? 0x80 : 0;
    out[14] = (uint8_t)cdblen;
    memcpy(out + 15, cdb, (size_t)cdblen);
}

static void rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
    memset(cdb, 0, 10);
    cdb[0] = op;
    cdb[2] = (uint8_t)(lba >> 24), cdb[3] = (uint8_t)(lba >> 16), cdb[4] = (uint8_t)(lba >> 8),
    cdb[5] = (uint8_t)lba;
    cdb[7] = (uint8_t)(blocks >> 8), cdb[8] = (uint8_t)blocks;
}

/* The CSW that ends a command: its status (and that a CSW came). */
static uint8_t csw_status(struct recdev *d, struct sink *s, uint64_t id)
{
    bulk_in(d, id, 0x81, 13);
    assert_int_equal(s->len, 13);
    assert_memory_equal(s->data, "USBS", 4);
    return s->data[12];
}

static uint32_t csw_residue(const struct sink *s)
{
    return s->data[8] | (uint32_t)s->data[9] << 8 | (uint32_t)s->data[10] << 16 |
           (uint32_t)s->data[11] << 24;
}

/* A READ whose data stage is not whole blocks (2 blocks, 700 bytes): the
 * 700 bytes are block 0 and the first 188 of block 1 - the disk's, never
 * whatever the heap held. */
static void test_read_stage_of_part_blocks(void **state)
{
    static struct sink s;
    static uint8_t first[512], tail[188];
    uint8_t c[31], cdb[10];
    struct recdev *d;
    (void)state;
    memset(&s, 0, sizeof(s));
    d = dev_from("fixtures/msc-read.urgcap", NULL, 0, &s);
    rw10(cdb, 0x28, 0, 2);
    cbw(c, 2, cdb, 10, 700, 1);
    bulk_out(d, 4, 0x02, c, 31);
    bulk_in(d, 5, 0x81, 700);
    assert_int_equal(s.len, 700);
    memcpy(first, s.data, 512);
    memcpy(tail, s.data + 512, 188);
    assert_int_equal(csw_status(d, &s, 6), 0);
    rw10(cdb, 0x28, 1, 1);
    cbw(c, 3, cdb, 10, 512, 1);
    bulk_out(d, 7, 0x02, c, 31);
    bulk_in(d, 8, 0x81, 512);
    assert_memory_equal(tail, s.data, 188);
    assert_int_equal(csw_status(d, &s, 9), 0);
    recdev_free(d);
}

/* A data stage shorter than a block, of a block never recorded: the
 * command fails (medium error), with nothing but an empty data stage. */
static void test_read_short_stage_of_a_missing_block(void **state)
{
    static struct sink s;
    uint8_t c[31], cdb[10];
    struct recdev *d;
    struct urg_replay_coverage cv;
    (void)state;
    memset(&s, 0, sizeof(s));
    d = dev_from("fixtures/msc-read.urgcap", NULL, 0, &s);
    rw10(cdb, 0x28, 300, 1);
    cbw(c, 1, cdb, 10, 100, 1);
    bulk_out(d, 1, 0x02, c, 31);
    bulk_in(d, 2, 0x81, 100);
    assert_int_equal(s.len, 0);
    assert_int_equal(csw_status(d, &s, 3), 1);
    assert_int_equal(csw_residue(&s), 100);
    recdev_coverage(d, &cv);
    assert_int_equal(cv.blocks_missing, 1);
    recdev_free(d);
}

/* Bulk IN requests on an endpoint with nothing left wait (64 of them);
 * the 65th gets an empty transfer at once; a cancel answers a waiting one
 * (cancelled), once. */
static void test_held_bulk_in(void **state)
{
    static struct sink s;
    struct recdev *d;
    struct urg_packet p;
    int before;
    (void)state;
    memset(&s, 0, sizeof(s));
    d = dev_from("fixtures/keyboard-lsusb.urgcap", NULL, 0, &s);
    before = s.n;
    for (int i = 0; i < 64; i++)
        bulk_in(d, 100 + (uint64_t)i, 0x83, 64);
    assert_int_equal(s.n, before);
    bulk_in(d, 164, 0x83, 64);
    assert_int_equal(s.n, before + 1);
    assert_int_equal(s.last.id, 164);
    assert_int_equal(s.last.h.bulk.status, URG_STATUS_SUCCESS);
    assert_int_equal(s.len, 0);
    memset(&p, 0, sizeof(p));
    p.type = URG_CANCEL_DATA_PACKET;
    p.id = 130;
    assert_int_equal(recdev_guest(d, &p, 0), 0);
    assert_int_equal(s.n, before + 2);
    assert_int_equal(s.last.id, 130);
    assert_int_equal(s.last.h.bulk.status, URG_STATUS_CANCELLED);
    assert_int_equal(recdev_guest(d, &p, 0), 0); /* again: answered already */
    assert_int_equal(s.n, before + 2);
    recdev_free(d);
}

/* The rules a guest meets beyond the replay-level tests: GET_STATUS by
 * rule, a recorded stall kept, interrupt OUT and bulk OUT taken, stream
 * stops and bulk streams answered, reset starting the Bulk-Only state
 * over; each answer with the request's id. */
static void test_rules(void **state)
{
    static struct sink s;
    struct recdev *d;
    struct urg_packet p;
    uint8_t c[31], cdb[10];
    (void)state;
    memset(&s, 0, sizeof(s));
    d = dev_from("fixtures/msc-read.urgcap", NULL, 0, &s);
    /* GET_STATUS (never recorded): two zero bytes. */
    memset(&p, 0, sizeof(p));
    p.type = URG_CONTROL_PACKET;
    p.id = 1;
    p.h.control.endpoint = 0x80;
    p.h.control.requesttype = 0x80;
    p.h.control.request = 0;
    p.h.control.length = 2;
    assert_int_equal(recdev_guest(d, &p, 0), 0);
    assert_int_equal(s.last.id, 1);
    assert_int_equal(s.last.h.control.status, URG_STATUS_SUCCESS);
    assert_int_equal(s.len, 2);
    assert_int_equal(s.data[0] | s.data[1], 0);
    /* A vendor request never recorded: a stall. */
    p.id = 2;
    p.h.control.requesttype = 0xc0;
    p.h.control.request = 0x42;
    assert_int_equal(recdev_guest(d, &p, 0), 0);
    assert_int_equal(s.last.id, 2);
    assert_int_equal(s.last.h.control.status, URG_STATUS_STALL);
    /* Interrupt OUT: taken, with its length. */
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERRUPT_PACKET;
    p.id = 3;
    p.h.interrupt.endpoint = 0x03;
    p.h.interrupt.length = 4;
    p.data = (const uint8_t *)"abcd";
    p.data_len = 4;
    assert_int_equal(recdev_guest(d, &p, 0), 0);
    assert_int_equal(s.last.type, URG_INTERRUPT_PACKET);
    assert_int_equal(s.last.id, 3);
    assert_int_equal(s.last.h.interrupt.length, 4);
    assert_int_equal(s.len, 0);
    /* A stop, and bulk streams: each answered. */
    memset(&p, 0, sizeof(p));
    p.type = URG_STOP_INTERRUPT_RECEIVING;
    p.id = 4;
    p.h.stop_interrupt_receiving.endpoint = 0x85;
    assert_int_equal(recdev_guest(d, &p, 0), 0);
    assert_int_equal(s.last.type, URG_INTERRUPT_RECEIVING_STATUS);
    assert_int_equal(s.last.id, 4);
    memset(&p, 0, sizeof(p));
    p.type = URG_ALLOC_BULK_STREAMS;
    p.id = 5;
    p.h.alloc_bulk_streams.endpoints = 1u << 17;
    p.h.alloc_bulk_streams.no_streams = 4;
    assert_int_equal(recdev_guest(d, &p, 0), 0);
    assert_int_equal(s.last.type, URG_BULK_STREAMS_STATUS);
    assert_int_equal(s.last.id, 5);
    assert_int_equal(s.last.h.bulk_streams_status.no_streams, 4);
    p.type = URG_FREE_BULK_STREAMS;
    p.id = 6;
    assert_int_equal(recdev_guest(d, &p, 0), 0);
    assert_int_equal(s.last.type, URG_BULK_STREAMS_STATUS);
    assert_int_equal(s.last.id, 6);
    /* A CBW, then a reset: the next CBW is a command again (not data). */
    rw10(cdb, 0x2a, 10, 1);
    cbw(c, 7, cdb, 10, 512, 0);
    bulk_out(d, 7, 0x02, c, 31);
    memset(&p, 0, sizeof(p));
    p.type = URG_RESET;
    assert_int_equal(recdev_guest(d, &p, 0), 0);
    rw10(cdb, 0x28, 0, 1);
    cbw(c, 8, cdb, 10, 512, 1);
    bulk_out(d, 8, 0x02, c, 31);
    assert_int_equal(s.last.h.bulk.status, URG_STATUS_SUCCESS);
    bulk_in(d, 9, 0x81, 512);
    assert_int_equal(s.len, 512);
    assert_int_equal(csw_status(d, &s, 10), 0);
    assert_int_equal(csw_residue(&s), 0);
    recdev_free(d);
}

/* A WRITE whose data stage is longer than the device can take (over 64
 * MiB): it fails with the whole length as residue. */
static void test_write_too_long(void **state)
{
    static struct sink s;
    struct recdev *d;
    uint8_t c[31], cdb[10];
    (void)state;
    memset(&s, 0, sizeof(s));
    d = dev_from("fixtures/msc-read.urgcap", NULL, 0, &s);
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x2a;
    cdb[7] = 0xff;
    cdb[8] = 0xff;
    cbw(c, 1, cdb, 10, 65u << 20, 0);
    bulk_out(d, 1, 0x02, c, 31);
    assert_int_equal(csw_status(d, &s, 2), 1);
    assert_int_equal(csw_residue(&s), 65u << 20);
    recdev_free(d);
}

/* A guest's READ whose answer cannot be allocated: recdev_guest() says
 * URG_ERR_NOMEM (the replay then ends the session saying so:
 * test_device.c's test_answer_without_memory), having sent nothing. */
static void test_nomem_not_through_send(void **state)
{
    static struct sink s;
    struct fail_alloc fa;
    struct urg_allocator a;
    struct urg_replay_config cfg;
    struct recdev *d = NULL;
    char err[256];
    uint8_t c[31], cdb[10];
    struct urg_packet p;
    int before, rc;
    (void)state;
    memset(&s, 0, sizeof(s));
    memset(&fa, 0, sizeof(fa));
    a = fail_allocator(&fa);
    urg_replay_config_init(&cfg);
    cfg.mode = URG_REPLAY_DEVICE;
    assert_int_equal(recdev_new(&a, "fixtures/msc-read.urgcap", NULL, 0, &cfg, &d, err,
                                sizeof(err)),
                     0);
    assert_int_equal(recdev_start(d, sink_send, &s, 0), 0);
    rw10(cdb, 0x28, 0, 128);
    cbw(c, 1, cdb, 10, 128 * 512, 1);
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = 1;
    p.h.bulk.endpoint = 0x02;
    p.h.bulk.length = 31;
    p.data = c;
    p.data_len = 31;
    before = s.n;
    fail_alloc_refuse(&fa, 1);
    rc = recdev_guest(d, &p, 0);
    fail_alloc_refuse(&fa, 0);
    assert_int_equal(rc, URG_ERR_NOMEM);
    assert_int_equal(s.n - before, 0);
    recdev_free(d);
}

/* ------------------------------------------------ recordings built here */
struct w {
    urg_capture *c;
    struct urg_wire wire;
    uint64_t t;
};

static void put(struct w *w, enum urg_dir dir, const struct urg_packet *p)
{
    static uint8_t buf[512 + 70000];
    struct urg_wire none = { 0, 0 };
    int n = urg_encode(p->type == URG_HELLO ? &none : &w->wire, dir, p, buf, sizeof(buf));
    if (n <= 0)
        print_message("encode %s: %d\n", urg_type_name(p->type), n);
    assert_true(n > 0);
    if (p->type != URG_HELLO && p->data_len) {
        memcpy(buf + n, p->data, p->data_len);
        n += (int)p->data_len;
    }
    assert_int_equal(urg_capture_write_at(w->c, dir == URG_DIR_TO_HOST ? URG_CAP_GUEST : URG_CAP_HOST,
                                          w->t++, buf, (size_t)n), 0);
}

static void rec_open(struct w *w, const char *path, int msc)
{
    struct urg_packet p;
    uint32_t caps = URG_CAPS_ALL;
    assert_int_equal(urg_capture_create(path, &w->c), 0);
    w->t = 0;
    assert_int_equal(urg_capture_write(w->c, URG_CAP_CONNECT, NULL, 0), 0);
    p = hello_packet("guest", caps);
    put(w, URG_DIR_TO_HOST, &p);
    p = hello_packet("host", caps);
    put(w, URG_DIR_TO_GUEST, &p);
    w->wire = urg_wire_from_caps(caps, caps);
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERFACE_INFO;
    p.h.interface_info.interface_count = 1;
    if (msc) {
        p.h.interface_info.interface_class[0] = 8;
        p.h.interface_info.interface_subclass[0] = 6;
        p.h.interface_info.interface_protocol[0] = 0x50;
    }
    put(w, URG_DIR_TO_GUEST, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    for (int k = 0; k < 32; k++)
        p.h.ep_info.type[k] = URG_EP_INVALID;
    p.h.ep_info.type[0] = URG_EP_CONTROL;
    p.h.ep_info.type[16] = URG_EP_CONTROL;
    p.h.ep_info.max_packet_size[0] = p.h.ep_info.max_packet_size[16] = 64;
    if (msc) {
        p.h.ep_info.type[2] = URG_EP_BULK;
        p.h.ep_info.type[17] = URG_EP_BULK;
        p.h.ep_info.max_packet_size[2] = p.h.ep_info.max_packet_size[17] = 512;
    }
    put(w, URG_DIR_TO_GUEST, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_CONNECT;
    p.h.device_connect.speed = 2;
    p.h.device_connect.vendor_id = 0x1234;
    put(w, URG_DIR_TO_GUEST, &p);
}

/* write_limit counts the blocks kept: one block written again and again
 * costs one block; new blocks past the limit (4096 bytes: 8) fail. */
static void test_write_limit_counts_blocks_kept(void **state)
{
    static struct sink s;
    static uint8_t blk[512];
    uint8_t c[31], cdb[10];
    struct urg_replay_config cfg;
    struct recdev *d = NULL;
    struct urg_replay_coverage cv;
    char err[256];
    uint64_t id = 1;
    (void)state;
    memset(&s, 0, sizeof(s));
    urg_replay_config_init(&cfg);
    cfg.mode = URG_REPLAY_DEVICE;
    cfg.write_limit = 4096;
    assert_int_equal(recdev_new(urg_allocator_default(), "fixtures/msc-read.urgcap", NULL, 0,
                                &cfg, &d, err, sizeof(err)),
                     0);
    assert_int_equal(recdev_start(d, sink_send, &s, 0), 0);
    for (int i = 0; i < 20; i++) { /* block 1000, 20 times */
        rw10(cdb, 0x2a, 1000, 1);
        cbw(c, (uint32_t)i, cdb, 10, 512, 0);
        bulk_out(d, id++, 0x02, c, 31);
        bulk_out(d, id++, 0x02, blk, 512);
        assert_int_equal(csw_status(d, &s, id++), 0);
    }
    for (uint32_t lba = 1001; lba < 1009; lba++) { /* 7 more fit, the 8th not */
        rw10(cdb, 0x2a, lba, 1);
        cbw(c, lba, cdb, 10, 512, 0);
        bulk_out(d, id++, 0x02, c, 31);
        bulk_out(d, id++, 0x02, blk, 512);
        assert_int_equal(csw_status(d, &s, id++), lba < 1008 ? 0 : 1);
    }
    recdev_coverage(d, &cv);
    assert_int_equal(cv.blocks_written, 27);
    recdev_free(d);
}

/* A recording of n distinct vendor setups, each answered with its own two
 * bytes: every one is answered as recorded (the device's lookup is by
 * key, so a big recording builds and answers in linear time). */
static void test_many_setups(void **state)
{
    char path[] = "/tmp/urg-recdev-ctl-XXXXXX";
    int fd = mkstemp(path);
    const uint32_t n = 20000;
    struct w w;
    struct urg_packet q, r;
    static struct sink s;
    struct recdev *d;
    uint8_t two[2];
    (void)state;
    close(fd);
    rec_open(&w, path, 0);
    for (uint32_t i = 0; i < n; i++) {
        memset(&q, 0, sizeof(q));
        q.type = URG_CONTROL_PACKET;
        q.id = 10 + i;
        q.h.control.requesttype = 0xc0;
        q.h.control.endpoint = 0x80;
        q.h.control.request = (uint8_t)(i >> 16);
        q.h.control.value = (uint16_t)i;
        q.h.control.length = 2;
        put(&w, URG_DIR_TO_HOST, &q);
        r = q;
        two[0] = (uint8_t)i, two[1] = (uint8_t)(i >> 8);
        r.data = two;
        r.data_len = 2;
        put(&w, URG_DIR_TO_GUEST, &r);
    }
    urg_capture_close(w.c);
    memset(&s, 0, sizeof(s));
    d = dev_from(path, NULL, 0, &s);
    for (uint32_t i = 0; i < n; i += 997) {
        memset(&q, 0, sizeof(q));
        q.type = URG_CONTROL_PACKET;
        q.id = i;
        q.h.control.requesttype = 0xc0;
        q.h.control.endpoint = 0x80;
        q.h.control.value = (uint16_t)i;
        q.h.control.length = 64;
        assert_int_equal(recdev_guest(d, &q, 0), 0);
        assert_int_equal(s.last.h.control.status, URG_STATUS_SUCCESS);
        assert_int_equal(s.len, 2);
        assert_int_equal(s.data[0] | s.data[1] << 8, (int)(i & 0xffff));
    }
    recdev_free(d);
    unlink(path);
}

/* Blocks recorded in descending order, and written live in descending
 * order: each reads back as it was. */
static void test_blocks_in_any_order(void **state)
{
    char path[] = "/tmp/urg-recdev-blk-XXXXXX";
    int fd = mkstemp(path);
    struct w w;
    struct urg_packet q, r;
    static uint8_t blk[512], c[31], csw[13];
    uint8_t cdb[10];
    static struct sink s;
    const uint32_t n = 3000;
    uint64_t id = 10;
    struct recdev *d;
    (void)state;
    close(fd);
    rec_open(&w, path, 1);
    memcpy(csw, "USBS", 4);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t lba = n - 1 - i;
        rw10(cdb, 0x28, lba, 1);
        cbw(c, i, cdb, 10, 512, 1);
        memset(&q, 0, sizeof(q));
        q.type = URG_BULK_PACKET;
        q.id = id++;
        q.h.bulk.endpoint = 0x02;
        q.h.bulk.length = 31;
        q.data = c;
        q.data_len = 31;
        put(&w, URG_DIR_TO_HOST, &q);
        r = q;
        r.data = NULL;
        r.data_len = 0;
        put(&w, URG_DIR_TO_GUEST, &r);
        memset(&q, 0, sizeof(q));
        q.type = URG_BULK_PACKET;
        q.id = id++;
        q.h.bulk.endpoint = 0x81;
        q.h.bulk.length = 512;
        put(&w, URG_DIR_TO_HOST, &q);
        r = q;
        memcpy(blk, &lba, 4);
        r.data = blk;
        r.data_len = 512;
        put(&w, URG_DIR_TO_GUEST, &r);
        q.id = id++;
        q.h.bulk.length = 13;
        put(&w, URG_DIR_TO_HOST, &q);
        r = q;
        memcpy(csw + 4, &i, 4);
        r.data = csw;
        r.data_len = 13;
        put(&w, URG_DIR_TO_GUEST, &r);
    }
    urg_capture_close(w.c);
    memset(&s, 0, sizeof(s));
    d = dev_from(path, NULL, 0, &s);
    for (uint32_t lba = 0; lba < n; lba += 299) {
        uint32_t got;
        rw10(cdb, 0x28, lba, 1);
        cbw(c, lba, cdb, 10, 512, 1);
        bulk_out(d, id++, 0x02, c, 31);
        bulk_in(d, id++, 0x81, 512);
        memcpy(&got, s.data, 4);
        assert_int_equal(got, lba);
        assert_int_equal(csw_status(d, &s, id++), 0);
    }
    for (uint32_t i = 0; i < 2000; i++) { /* live writes, descending */
        uint32_t lba = 100000 - i;
        memcpy(blk, &lba, 4);
        rw10(cdb, 0x2a, lba, 1);
        cbw(c, i, cdb, 10, 512, 0);
        bulk_out(d, id++, 0x02, c, 31);
        bulk_out(d, id++, 0x02, blk, 512);
        assert_int_equal(csw_status(d, &s, id++), 0);
    }
    for (uint32_t lba = 98001; lba <= 100000; lba += 333) {
        uint32_t got;
        rw10(cdb, 0x28, lba, 1);
        cbw(c, lba, cdb, 10, 512, 1);
        bulk_out(d, id++, 0x02, c, 31);
        bulk_in(d, id++, 0x81, 512);
        memcpy(&got, s.data, 4);
        assert_int_equal(got, lba);
        assert_int_equal(csw_status(d, &s, id++), 0);
    }
    recdev_free(d);
    unlink(path);
}

/* Recorded: a control setup answered first short (8 bytes) then whole, a
 * stall of a stream start, an alternate setting 2 of interface 0. The
 * device keeps the longest reply, answers the start with the stall, and
 * says alt 2 once it is set. */
static void test_recorded_answers_kept(void **state)
{
    char path[] = "/tmp/urg-recdev-kept-XXXXXX";
    int fd = mkstemp(path);
    struct w w;
    struct urg_packet q, r;
    static struct sink s;
    static const uint8_t desc[18] = { 18, 1, 0, 2, 0, 0, 0, 64, 0x34, 0x12 };
    struct recdev *d;
    (void)state;
    close(fd);
    rec_open(&w, path, 0);
    for (int k = 0; k < 2; k++) {
        memset(&q, 0, sizeof(q));
        q.type = URG_CONTROL_PACKET;
        q.id = 20 + (uint64_t)k;
        q.h.control.endpoint = 0x80;
        q.h.control.requesttype = 0x80;
        q.h.control.request = 6;
        q.h.control.value = 0x0100;
        q.h.control.length = k ? 18 : 8;
        put(&w, URG_DIR_TO_HOST, &q);
        r = q;
        r.data = desc;
        r.data_len = k ? 18 : 8;
        put(&w, URG_DIR_TO_GUEST, &r);
    }
    memset(&q, 0, sizeof(q));
    q.type = URG_START_INTERRUPT_RECEIVING;
    q.id = 30;
    q.h.start_interrupt_receiving.endpoint = 0x81;
    put(&w, URG_DIR_TO_HOST, &q);
    memset(&r, 0, sizeof(r));
    r.type = URG_INTERRUPT_RECEIVING_STATUS;
    r.id = 30;
    r.h.interrupt_receiving_status.endpoint = 0x81;
    r.h.interrupt_receiving_status.status = URG_STATUS_STALL;
    put(&w, URG_DIR_TO_GUEST, &r);
    memset(&q, 0, sizeof(q));
    q.type = URG_SET_ALT_SETTING;
    q.id = 31;
    q.h.set_alt_setting.interface = 0;
    q.h.set_alt_setting.alt = 2;
    put(&w, URG_DIR_TO_HOST, &q);
    memset(&r, 0, sizeof(r));
    r.type = URG_ALT_SETTING_STATUS;
    r.id = 31;
    r.h.alt_setting_status.alt = 2;
    put(&w, URG_DIR_TO_GUEST, &r);
    urg_capture_close(w.c);
    memset(&s, 0, sizeof(s));
    d = dev_from(path, NULL, 0, &s);
    memset(&q, 0, sizeof(q));
    q.type = URG_CONTROL_PACKET;
    q.id = 1;
    q.h.control.endpoint = 0x80;
    q.h.control.requesttype = 0x80;
    q.h.control.request = 6;
    q.h.control.value = 0x0100;
    q.h.control.length = 64;
    assert_int_equal(recdev_guest(d, &q, 0), 0);
    assert_int_equal(s.len, 18);
    assert_memory_equal(s.data, desc, 18);
    memset(&q, 0, sizeof(q));
    q.type = URG_START_INTERRUPT_RECEIVING;
    q.id = 2;
    q.h.start_interrupt_receiving.endpoint = 0x81;
    assert_int_equal(recdev_guest(d, &q, 0), 0);
    assert_int_equal(s.last.id, 2);
    assert_int_equal(s.last.h.interrupt_receiving_status.status, URG_STATUS_STALL);
    memset(&q, 0, sizeof(q));
    q.type = URG_GET_ALT_SETTING;
    q.id = 3;
    assert_int_equal(recdev_guest(d, &q, 0), 0);
    assert_int_equal(s.last.h.alt_setting_status.alt, 0);
    memset(&q, 0, sizeof(q));
    q.type = URG_SET_ALT_SETTING;
    q.id = 4;
    q.h.set_alt_setting.alt = 2;
    assert_int_equal(recdev_guest(d, &q, 0), 0);
    assert_int_equal(s.last.h.alt_setting_status.status, URG_STATUS_SUCCESS);
    memset(&q, 0, sizeof(q));
    q.type = URG_GET_ALT_SETTING;
    q.id = 5;
    assert_int_equal(recdev_guest(d, &q, 0), 0);
    assert_int_equal(s.last.id, 5);
    assert_int_equal(s.last.h.alt_setting_status.alt, 2);
    recdev_free(d);
    unlink(path);
}

/* Stream items whose recorded times go backwards (a hostile or merged
 * recording): they are due at once, not in centuries. */
static void test_backwards_time(void **state)
{
    char path[] = "/tmp/urg-rev-time-XXXXXX";
    int fd = mkstemp(path);
    struct w w;
    struct urg_packet q, r;
    static uint8_t rep[8];
    static struct sink s;
    double next;
    (void)state;
    close(fd);
    rec_open(&w, path, 0);
    memset(&q, 0, sizeof(q));
    q.type = URG_START_INTERRUPT_RECEIVING;
    q.id = 5;
    q.h.start_interrupt_receiving.endpoint = 0x81;
    put(&w, URG_DIR_TO_HOST, &q);
    memset(&r, 0, sizeof(r));
    r.type = URG_INTERRUPT_RECEIVING_STATUS;
    r.id = 5;
    r.h.interrupt_receiving_status.endpoint = 0x81;
    put(&w, URG_DIR_TO_GUEST, &r);
    memset(&r, 0, sizeof(r));
    r.type = URG_INTERRUPT_PACKET;
    r.h.interrupt.endpoint = 0x81;
    r.h.interrupt.length = 8;
    r.data = rep;
    r.data_len = 8;
    w.t = 2000000000ull;
    put(&w, URG_DIR_TO_GUEST, &r);
    w.t = 1000000000ull;
    put(&w, URG_DIR_TO_GUEST, &r);
    urg_capture_close(w.c);
    memset(&s, 0, sizeof(s));
    struct recdev *d = dev_from(path, NULL, 0, &s);
    memset(&q, 0, sizeof(q));
    q.type = URG_START_INTERRUPT_RECEIVING;
    q.id = 1;
    q.h.start_interrupt_receiving.endpoint = 0x81;
    assert_int_equal(recdev_guest(d, &q, 0), 0);
    assert_int_equal(recdev_tick(d, 0, 1 << 20, &next), 0);
    assert_int_equal(s.by_type[URG_INTERRUPT_PACKET], 2);
    assert_true(next < 10);
    recdev_free(d);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_stage_of_part_blocks),
        cmocka_unit_test(test_read_short_stage_of_a_missing_block),
        cmocka_unit_test(test_held_bulk_in),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_write_too_long),
        cmocka_unit_test(test_nomem_not_through_send),
        cmocka_unit_test(test_write_limit_counts_blocks_kept),
        cmocka_unit_test(test_many_setups),
        cmocka_unit_test(test_blocks_in_any_order),
        cmocka_unit_test(test_recorded_answers_kept),
        cmocka_unit_test(test_backwards_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_hostile.c - a hostile usb-host against the host-controller model:
 * floods of stream data nobody reads, storms of stalls, replies to ids never
 * used. Memory is measured through the configured allocator (every
 * allocation of the model and the engine goes through it): it must stay
 * bounded, with the drops counted. The engine's own validation (bounds,
 * directions, hellos) is in tests/guest/test_session_*.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm.h"

#define ALL URG_CAPS_ALL

/* ---------------------------------------------------------------- a measuring allocator */

struct meter {
    size_t live, peak;
};

struct block {
    size_t size;
    max_align_t pad[];
};

static void *m_malloc(void *ctx, size_t size)
{
    struct meter *m = ctx;
    struct block *b = malloc(sizeof(*b) + size);
    if (!b)
        return NULL;
    b->size = size;
    m->live += size;
    if (m->live > m->peak)
        m->peak = m->live;
    return b->pad;
}

static void m_free(void *ctx, void *p)
{
    struct meter *m = ctx;
    struct block *b;
    if (!p)
        return;
    b = (struct block *)((char *)p - offsetof(struct block, pad));
    m->live -= b->size;
    free(b);
}

static void *m_realloc(void *ctx, void *p, size_t size)
{
    void *n;
    if (!p)
        return m_malloc(ctx, size);
    n = m_malloc(ctx, size);
    if (!n)
        return NULL;
    struct block *b = (struct block *)((char *)p - offsetof(struct block, pad));
    memcpy(n, p, b->size < size ? b->size : size);
    m_free(ctx, p);
    return n;
}

static struct meter meter;
static struct urg_allocator metered = { m_malloc, m_realloc, m_free, &meter };

static void metered_vmm(struct vmm *v)
{
    struct urg_hcd_config cfg;
    struct urg_session_config session;
    memset(&meter, 0, sizeof(meter));
    urg_hcd_config_init(&cfg); /* the default bounds */
    urg_session_config_init(&session);
    cfg.session = &session;
    session.allocator = &metered;
    vmm_init(v, &cfg, ALL);
    vmm_plug_default(v);
}

/* ---------------------------------------------------------------- host packets */

static const struct th_packet *sent(struct vmm *v, uint32_t type)
{
    const struct th_packet *p = th_find(&v->h, type);
    assert_non_null(p);
    return p;
}

static uint8_t payload[512]; /* what the flooding host sends */

/* ---------------------------------------------------------------- tests */

/* Interrupt, iso and buffered bulk streams started, then nobody reads:
 * 100,000 packets on each. The queues stay at their bounds (drops counted)
 * and memory stops growing once they are full. */
static void test_floods_with_no_urb_stay_bounded(void **state)
{
    const int total = 100000, batch = 1000;
    struct urg_hcd_ep_stats st;
    struct urg_urb *intr, *iso, *bulk;
    struct vmm v;
    size_t peak_half = 0;
    (void)state;
    metered_vmm(&v);
    /* Start the three streams, then take the URBs away. */
    intr = vmm_urb(URG_EP_INTERRUPT, 0x81, 8, 0);
    iso = vmm_urb(URG_EP_ISO, 0x85, 4 * 192, 4);
    bulk = vmm_urb(URG_EP_BULK, 0x83, 512, 0);
    for (int k = 0; k < 4; k++) {
        iso->iso[k].offset = (uint32_t)k * 192;
        iso->iso[k].length = 192;
    }
    assert_int_equal(urg_hcd_ep_set_buffered(v.dev, 0x83, 1), 0);
    assert_int_equal(urg_hcd_submit(v.dev, intr), 0);
    assert_true(urg_hcd_submit(v.dev, iso) >= 0);
    assert_int_equal(urg_hcd_submit(v.dev, bulk), 0);
    vmm_sync(&v, 0);
    th_stream_status(&v.h, URG_INTERRUPT_RECEIVING_STATUS,
                     sent(&v, URG_START_INTERRUPT_RECEIVING)->p.id, 0x81, URG_STATUS_SUCCESS);
    th_stream_status(&v.h, URG_ISO_STREAM_STATUS, sent(&v, URG_START_ISO_STREAM)->p.id, 0x85,
                     URG_STATUS_SUCCESS);
    th_stream_status(&v.h, URG_BULK_RECEIVING_STATUS, sent(&v, URG_START_BULK_RECEIVING)->p.id,
                     0x83, URG_STATUS_SUCCESS);
    vmm_sync(&v, 0);
    urg_hcd_cancel(v.dev, intr);
    urg_hcd_cancel(v.dev, bulk);

    for (int n = 0; n < total; n += batch) {
        for (int i = 0; i < batch; i++) {
            th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, payload, 8, URG_STATUS_SUCCESS);
            th_stream_data(&v.h, URG_ISO_PACKET, 0x85, payload, 192, URG_STATUS_SUCCESS);
            th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x83, payload, 512, URG_STATUS_SUCCESS);
        }
        assert_int_equal(vmm_sync(&v, 0), 0);
        if (n + batch == total / 2)
            peak_half = meter.peak;
    }
    assert_int_equal(urg_session_state(v.s), URG_STATE_CONNECTED);
    /* Interrupt: kept at 1000, dropped back to it past 2000. */
    assert_int_equal(urg_hcd_ep_stats(v.dev, 0x81, &st), 0);
    assert_int_equal(st.packets, (uint64_t)total);
    assert_true(st.queued <= 2000);
    assert_int_equal(st.drops + st.queued, (uint64_t)total);
    printf("flood: interrupt %u queued, %llu dropped; ", st.queued, (unsigned long long)st.drops);
    /* Buffered bulk: 5000 chunks. */
    assert_int_equal(urg_hcd_ep_stats(v.dev, 0x83, &st), 0);
    assert_true(st.queued <= 10000);
    assert_true(st.drops > 0);
    printf("buffered bulk %u queued, %llu dropped; ", st.queued, (unsigned long long)st.drops);
    /* Iso: its latency's worth. */
    assert_int_equal(urg_hcd_ep_stats(v.dev, 0x85, &st), 0);
    assert_true(st.queued < 1000);
    assert_true(st.drops > 0);
    printf("iso %u queued, %llu dropped; peak memory %zu bytes at half-way, %zu at the end\n",
           st.queued, (unsigned long long)st.drops, peak_half, meter.peak);
    /* Flat: the second 150,000 packets did not raise the peak. */
    assert_int_equal(meter.peak, peak_half);
    assert_true(meter.peak < 16u << 20);
    vmm_free(&v);
    assert_int_equal(meter.live, 0);
    vmm_urb_free(intr);
    vmm_urb_free(iso);
    vmm_urb_free(bulk);
}

/* The queues are bounded in bytes too: 4 KiB buffered bulk chunks (5000
 * of them would be 20 MB) stop at stream_queue_bytes, and so does memory. */
static void test_stream_queue_bounded_in_bytes(void **state)
{
    static uint8_t chunk[4096];
    struct urg_hcd_config cfg;
    struct urg_session_config session;
    struct urg_hcd_ep_stats st;
    struct urg_urb *bulk;
    struct vmm v;
    (void)state;
    memset(&meter, 0, sizeof(meter));
    urg_hcd_config_init(&cfg);
    urg_session_config_init(&session);
    cfg.session = &session;
    session.allocator = &metered;
    cfg.buffered_bulk_bytes = sizeof(chunk);
    cfg.stream_queue_bytes = 64 * 1024;
    vmm_init(&v, &cfg, ALL);
    vmm_plug_default(&v);
    bulk = vmm_urb(URG_EP_BULK, 0x83, 512, 0);
    assert_int_equal(urg_hcd_ep_set_buffered(v.dev, 0x83, 1), 0);
    assert_int_equal(urg_hcd_submit(v.dev, bulk), 0);
    vmm_sync(&v, 0);
    assert_int_equal(sent(&v, URG_START_BULK_RECEIVING)->p.h.start_bulk_receiving.bytes_per_transfer,
                     sizeof(chunk));
    th_stream_status(&v.h, URG_BULK_RECEIVING_STATUS, sent(&v, URG_START_BULK_RECEIVING)->p.id,
                     0x83, URG_STATUS_SUCCESS);
    vmm_sync(&v, 0);
    urg_hcd_cancel(v.dev, bulk);
    for (int n = 0; n < 20; n++) {
        for (int i = 0; i < 100; i++)
            th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x83, chunk, sizeof(chunk),
                           URG_STATUS_SUCCESS);
        assert_int_equal(vmm_sync(&v, 0), 0);
        assert_int_equal(urg_hcd_ep_stats(v.dev, 0x83, &st), 0);
        assert_true((uint64_t)st.queued * sizeof(chunk) <= cfg.stream_queue_bytes);
    }
    assert_int_equal(st.packets, 2000);
    assert_int_equal(st.queued, 16);
    assert_int_equal(st.drops + st.queued, 2000);
    assert_true(meter.peak < 1u << 20);
    vmm_free(&v);
    assert_int_equal(meter.live, 0);
    vmm_urb_free(bulk);
}

/* A host announcing devices the port cannot carry, again and again (two
 * of them in turn): each is refused, and the log hears of it once per
 * connection. */
static void test_refusals_logged_once(void **state)
{
    static const struct th_ep bulk[] = { { 0x81, URG_EP_BULK, 0, 0, 512, 0 } };
    struct urg_hcd_config cfg;
    struct urg_packet d;
    struct vmm v;
    uint8_t cls = 8;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.port_speeds = URG_SPEED_MASK(URG_SPEED_LOW); /* no bulk at low speed */
    vmm_init(&v, &cfg, ALL);
    memset(&d, 0, sizeof(d));
    d.type = URG_DEVICE_DISCONNECT;
    for (int i = 0; i < 200; i++) {
        th_device_ex(&v.h, URG_SPEED_HIGH, 0x1234, (uint16_t)(i & 1), 0, &cls, 1, bulk, 1);
        th_emit(&v.h, &d);
    }
    assert_int_equal(vmm_sync(&v, 0), 0);
    assert_int_equal(v.rejected, 200);
    assert_int_equal(v.last_reject, URG_ERR_HCD_SPEED);
    assert_int_equal(th_count(&v.h, URG_FILTER_REJECT), 200);
    assert_int_equal(v.logs[URG_LOG_WARNING], 1);
    assert_int_equal(v.logs[URG_LOG_ERROR], 0);
    vmm_free(&v);
}

/* 10,000 bulk URBs, each answered with a stall: each completes once, as a
 * stall, and memory is the same after as after the first. */
static void test_a_storm_of_stalls(void **state)
{
    struct urg_urb *u = vmm_urb(URG_EP_BULK, 0x83, 512, 0);
    struct vmm v;
    size_t after_first = 0;
    (void)state;
    metered_vmm(&v);
    for (int i = 0; i < 10000; i++) {
        int before = vmm_count(&v, u);
        assert_int_equal(urg_hcd_submit(v.dev, u), 0);
        vmm_sync(&v, 0);
        th_reply_bulk(&v.h, &sent(&v, URG_BULK_PACKET)->p, URG_STATUS_STALL, NULL, 0);
        th_clear(&v.h);
        assert_int_equal(vmm_sync(&v, 0), 0);
        assert_int_equal(vmm_count(&v, u), before + 1);
        assert_int_equal(vmm_last(&v, u)->status, URG_URB_STALL);
        if (i == 0)
            after_first = meter.live;
        v.ndone = 0; /* the fake VMM's own log, not the model's memory */
    }
    assert_int_equal(meter.live, after_first);
    assert_int_equal(urg_session_state(v.s), URG_STATE_CONNECTED);
    vmm_free(&v);
    vmm_urb_free(u);
}

/* Replies to ids the guest never used (or already finished): dropped and
 * counted; the session goes on and a real request still works. */
static void test_replies_to_unknown_ids(void **state)
{
    static const uint8_t data[8] = { 1, 2, 3 };
    struct urg_urb *u = vmm_urb(URG_EP_BULK, 0x83, 8, 0);
    struct urg_packet p;
    struct urg_stats st;
    struct vmm v;
    (void)state;
    metered_vmm(&v);
    for (int i = 0; i < 1000; i++) {
        memset(&p, 0, sizeof(p));
        p.type = URG_BULK_PACKET;
        p.id = 1000000 + (uint64_t)i;
        p.h.bulk.endpoint = 0x83;
        p.h.bulk.length = 8;
        p.data = data;
        p.data_len = 8;
        th_emit(&v.h, &p);
    }
    assert_int_equal(vmm_sync(&v, 0), 0);
    urg_session_stats(v.s, &st);
    assert_int_equal(st.late_replies, 1000);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    th_reply_bulk(&v.h, &sent(&v, URG_BULK_PACKET)->p, URG_STATUS_SUCCESS, data, 8);
    assert_int_equal(vmm_sync(&v, 0), 0);
    assert_int_equal(vmm_count(&v, u), 1);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_SUCCESS);
    assert_memory_equal(u->buffer, data, 8);
    vmm_free(&v);
    vmm_urb_free(u);
}

static void no_completion(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    (void)ud;
    (void)dev;
    (void)u;
    fail_msg("no URB was submitted");
}

/* The hello out of order: a device_connect before it, a second one; each
 * fails the session with its own error, and a URB pending at the second
 * completes once. */
static void test_hellos_out_of_order(void **state)
{
    struct urg_hcd_config cfg;
    struct urg_urb *u = vmm_urb(URG_EP_BULK, 0x83, 8, 0);
    struct testhost h;
    urg_hcd_dev *dev;
    urg_session *s;
    struct vmm v;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.callbacks.urb_complete = no_completion;
    assert_int_equal(urg_hcd_dev_new(&cfg, &dev), 0);
    assert_int_equal(urg_hcd_dev_connect(dev, &s), 0);
    th_init(&h, ALL);
    th_pump(&h, s);
    th_device(&h); /* no hello first */
    assert_int_equal(th_flush(&h, s, 0), URG_ERR_PROTO_BEFORE_HELLO);
    assert_int_equal(urg_session_state(s), URG_STATE_FAILED);
    urg_hcd_dev_free(dev);
    th_free(&h);

    metered_vmm(&v);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    th_hello(&v.h);
    assert_int_equal(vmm_sync(&v, 0), URG_ERR_PROTO_SECOND_HELLO);
    /* The session failed: the pending URB completed then, and dropping
     * the connection (as the transport does) does not complete it again. */
    assert_int_equal(vmm_count(&v, u), 1);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_NODEV);
    /* A fatal error is not logged by the engine or the model: whoever ends
     * the connection says it once (the transport does). */
    assert_int_equal(v.logs[URG_LOG_ERROR] + v.logs[URG_LOG_WARNING], 0);
    urg_hcd_dev_disconnect(v.dev, URG_ERR_PROTO_SECOND_HELLO);
    assert_int_equal(vmm_count(&v, u), 1);
    vmm_free(&v);
    vmm_urb_free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floods_with_no_urb_stay_bounded),
        cmocka_unit_test(test_stream_queue_bounded_in_bytes),
        cmocka_unit_test(test_refusals_logged_once),
        cmocka_unit_test(test_a_storm_of_stalls),
        cmocka_unit_test(test_replies_to_unknown_ids),
        cmocka_unit_test(test_hellos_out_of_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

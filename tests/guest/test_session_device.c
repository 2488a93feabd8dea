/*
 * test_session_device.c - the device as the engine session sees it from
 * the scripted test host (guest/dispatch.c, guest/session.c,
 * guest/filter.c in use): device_connect, ep_info and interface_info,
 * device_disconnect with everything pending, its ack and a replug, repeated
 * disconnects, warnings a host can repeat said once, and the device filter
 * (sent, applied, the host's reported).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "packets.h"
#include "session_fixture.h"
#include "testhost.h"

/* ---------------------------------------------------------------- tolerance */

/* An ep_info endpoint type above 3 (and not 255): the reference accepts
 * it. By default the session fails (URG_ERR_PROTO_FIELD), under skip the
 * packet is skipped (the endpoints stay as they were), under tolerate it
 * is taken as sent, warned once (then at debug), and the pending request
 * is untouched: it completes once, when its reply comes. */
static void test_tolerated_ep_info_type(void **state)
{
    (void)state;
    for (int policy = URG_POLICY_FAIL; policy <= URG_POLICY_TOLERATE; policy++) {
        struct urg_session_config cfg;
        struct rec r;
        struct testhost h;
        struct urg_packet p;
        const struct urg_device *dev;
        urg_session *s;
        uint64_t id;
        int rc;
        rec_init(&r);
        urg_session_config_init(&cfg);
        cfg.caps = ALL;
        cfg.policy = (enum urg_error_policy)policy;
        cfg.log_level = URG_LOG_DEBUG;
        s = connected_session_cfg(&r, &h, &cfg, ALL);
        assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, NULL, NULL, &id), 0);
        th_pump(&h, s);
        memset(&p, 0, sizeof(p));
        p.type = URG_EP_INFO;
        memset(p.h.ep_info.type, URG_EP_INVALID, 32);
        p.h.ep_info.type[0] = p.h.ep_info.type[16] = URG_EP_CONTROL;
        p.h.ep_info.type[1] = 4;
        p.h.ep_info.type[17] = 200;
        p.h.ep_info.interval[17] = 1;
        th_emit_unchecked(&h, &p);
        th_emit_unchecked(&h, &p); /* again: warned once */
        rc = th_flush(&h, s, 0);
        switch (policy) {
        case URG_POLICY_FAIL:
            assert_int_equal(rc, URG_ERR_PROTO_FIELD);
            assert_int_equal(r.fatal, 1);
            assert_int_equal(urg_session_state(s), URG_STATE_FAILED);
            assert_int_equal(rec_find(&r, id)->c.status, URG_STATUS_NODEV);
            break;
        case URG_POLICY_SKIP:
            assert_int_equal(rc, 0);
            assert_int_equal(r.errors, 2);
            assert_int_equal(r.fatal, 0);
            dev = urg_session_device(s);
            assert_int_equal(dev->ep[1].type, URG_EP_INVALID); /* th_device()'s */
            assert_int_equal(dev->ep[17].type, URG_EP_INTERRUPT);
            assert_int_equal(rec_count(&r, id), 0);
            break;
        default:
            assert_int_equal(rc, 0);
            assert_int_equal(r.errors, 0);
            dev = urg_session_device(s);
            assert_int_equal(dev->ep[1].type, 4);
            assert_int_equal(dev->ep[17].type, 200);
            assert_int_equal(r.logs[URG_LOG_WARNING], 1);
            assert_true(r.logs[URG_LOG_DEBUG] >= 1);
            assert_int_equal(urg_session_state(s), URG_STATE_CONNECTED);
            assert_int_equal(rec_count(&r, id), 0);
            break;
        }
        if (policy != URG_POLICY_FAIL) {
            /* the request is answered as any other */
            th_reply_control(&h, &th_find(&h, URG_CONTROL_PACKET)->p, URG_STATUS_SUCCESS,
                             (const uint8_t *)"0123456789abcdefgh", 18);
            assert_int_equal(th_flush(&h, s, 1), 0);
            assert_int_equal(rec_find(&r, id)->c.status, URG_STATUS_SUCCESS);
        }
        assert_int_equal(rec_count(&r, id), 1);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

/* A hello whose caps are not whole 32-bit words (the reference takes the
 * whole words and ignores the rest): the session fails by default, skips
 * it under skip (no hello: still waiting for one), takes its whole words
 * under tolerate, with one warning. */
static void test_tolerated_hello_partial_word(void **state)
{
    (void)state;
    for (int policy = URG_POLICY_FAIL; policy <= URG_POLICY_TOLERATE; policy++) {
        uint8_t b[12 + 64 + 5];
        struct rec r;
        struct testhost h;
        urg_session *s;
        int rc;
        memset(b, 0, sizeof(b));
        b[4] = 64 + 5;
        memcpy(b + 12, "odd host", 8);
        b[12 + 64] = 0xff; /* caps word 0xff: all 8 caps */
        b[12 + 64 + 4] = 0x7e;
        rec_init(&r);
        s = new_session(&r, ALL, policy);
        th_init(&h, ALL);
        th_pump(&h, s);
        th_raw(&h, b, sizeof(b));
        rc = th_flush(&h, s, policy == URG_POLICY_TOLERATE ? 1 : 0);
        switch (policy) {
        case URG_POLICY_FAIL:
            assert_int_equal(rc, URG_ERR_PROTO_HELLO);
            assert_int_equal(urg_session_state(s), URG_STATE_FAILED);
            break;
        case URG_POLICY_SKIP:
            assert_int_equal(rc, 0);
            assert_int_equal(r.errors, 1);
            assert_int_equal(urg_session_state(s), URG_STATE_WAIT_HELLO);
            break;
        default:
            assert_int_equal(rc, 0);
            assert_int_equal(r.errors, 0);
            assert_int_equal(r.hello, 1);
            assert_int_equal(urg_session_state(s), URG_STATE_READY);
            assert_int_equal(urg_session_caps(s), ALL);
            assert_int_equal(r.logs[URG_LOG_WARNING], 1);
            break;
        }
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

/* A filter_filter string with a NUL before its end (the reference reads
 * the rules before the first NUL): the session fails by default, skips it
 * under skip (no peer_filter), reads it to the NUL under tolerate (one
 * rule, one warning for two such strings). */
static void test_tolerated_filter_inner_nul(void **state)
{
    static const char str[] = "0x03,-1,-1,-1,0\0junk"; /* and its final NUL */
    (void)state;
    for (int policy = URG_POLICY_FAIL; policy <= URG_POLICY_TOLERATE; policy++) {
        struct urg_session_config cfg;
        struct urg_packet p;
        struct rec r;
        struct testhost h;
        urg_session *s;
        int rc;
        rec_init(&r);
        urg_session_config_init(&cfg);
        cfg.caps = ALL;
        cfg.policy = (enum urg_error_policy)policy;
        s = connected_session_cfg(&r, &h, &cfg, ALL);
        memset(&p, 0, sizeof(p));
        p.type = URG_FILTER_FILTER;
        p.data = (const uint8_t *)str;
        p.data_len = sizeof(str);
        th_emit_unchecked(&h, &p);
        th_emit_unchecked(&h, &p);
        rc = th_flush(&h, s, 0);
        switch (policy) {
        case URG_POLICY_FAIL:
            assert_int_equal(rc, URG_ERR_PROTO_FILTER);
            assert_int_equal(r.filter, 0);
            break;
        case URG_POLICY_SKIP:
            assert_int_equal(rc, 0);
            assert_int_equal(r.errors, 2);
            assert_int_equal(r.filter, 0);
            break;
        default:
            assert_int_equal(rc, 0);
            assert_int_equal(r.errors, 0);
            assert_int_equal(r.filter, 2);
            assert_non_null(strstr(r.log, "filter 1 0x03,-1,-1,-1,0"));
            assert_int_equal(r.logs[URG_LOG_WARNING], 1);
            break;
        }
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

/* ---------------------------------------------------------------- disconnect */

static void test_disconnect_with_everything_pending(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint64_t ids[32], n, i, id;
    uint8_t *out = malloc(512);
    struct urg_packet p;
    (void)state;
    memset(out, 0x33, 512);
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    n = pend_everything(s, ids, out);
    assert_int_equal(urg_session_pending_count(s), n);
    /* Half of it reaches the host before the unplug, half does not. */
    {
        struct iovec iov[64];
        int cnt = urg_session_output(s, iov, 64), k;
        size_t total = 0;
        for (k = 0; k < cnt; k++)
            total += iov[k].iov_len;
        assert_int_equal(urg_session_consume(s, total / 2), 0);
    }
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_DISCONNECT;
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 0), 0);
    /* Every request completed exactly once, with no-device, in order. */
    assert_int_equal(r.ndone, n);
    for (i = 0; i < n; i++) {
        assert_int_equal(rec_count(&r, ids[i]), 1);
        assert_int_equal(r.done[i].c.id, ids[i]);
        assert_int_equal(r.done[i].c.status, URG_STATUS_NODEV);
    }
    assert_int_equal(r.disconnect, 1);
    assert_int_equal(urg_session_state(s), URG_STATE_READY);
    assert_null(urg_session_device(s));
    assert_int_equal(urg_session_pending_count(s), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 1, NULL, NULL, &id), URG_ERR_NO_DEVICE);
    /* The OUT buffers are the caller's again: the queue kept copies. */
    memset(out, 0xee, 512);
    free(out);
    th_free(&h);
    th_init(&h, ALL);
    th_hello(&h); /* a fresh host decoder must see the hello first */
    {
        /* Decode the rest of the guest's output as a host would. */
        struct urg_session_callbacks unused;
        (void)unused;
    }
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* Many requests pending, some forgotten and their table slots taken again
 * by newer ones (so the table's order is not the submission order), then
 * the device goes: every request completes once, NODEV, in submission
 * order; with memory for sorting them in one piece, and without (256 at a
 * time). */
static void disconnect_in_order(int memory)
{
    enum { N = 1500 };
    struct fail_alloc f = { 0 };
    struct urg_session_config cfg;
    struct urg_packet p;
    struct testhost h;
    struct rec r;
    urg_session *s;
    uint64_t *ids = malloc(N * sizeof(*ids)), *expect = malloc(N * sizeof(*expect));
    size_t n = 0, i, k = 0;
    urg_session_config_init(&cfg);
    cfg.allocator = NULL;
    {
        static struct urg_allocator a;
        a = fail_allocator(&f);
        cfg.allocator = &a;
    }
    rec_init(&r);
    s = connected_session_cfg(&r, &h, &cfg, ALL);
    for (i = 0; i < N; i++)
        assert_int_equal(urg_session_get_configuration(s, NULL, &ids[i]), 0);
    for (i = 0; i < N; i += 3)
        assert_int_equal(urg_session_forget(s, ids[i]), 0);
    for (i = 0; i < N / 3; i++)
        assert_int_equal(urg_session_get_configuration(s, NULL, &ids[i * 3]), 0);
    /* Submission order: the survivors of the first round, then the new. */
    for (i = 0; i < N; i++)
        if (i % 3)
            expect[n++] = ids[i];
    for (i = 0; i < N; i += 3)
        expect[n++] = ids[i];
    assert_int_equal(urg_session_pending_count(s), n);
    fail_alloc_refuse(&f, !memory);
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_DISCONNECT;
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 0), 0);
    fail_alloc_refuse(&f, 0);
    assert_int_equal(r.ndone, n);
    for (k = 0; k < n; k++) {
        assert_int_equal(r.done[k].c.id, expect[k]);
        assert_int_equal(r.done[k].c.status, URG_STATUS_NODEV);
    }
    assert_int_equal(urg_session_pending_count(s), 0);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
    assert_int_equal(f.live, 0);
    free(ids);
    free(expect);
}

static void test_disconnect_in_submission_order(void **state)
{
    (void)state;
    disconnect_in_order(1);
    disconnect_in_order(0);
}

static void test_disconnect_ack_and_replug(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    struct urg_packet p;
    uint64_t id;
    (void)state;
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_DISCONNECT;
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(th_pump(&h, s), 1);
    assert_int_equal(h.pkts[h.npkts - 1].p.type, URG_DEVICE_DISCONNECT_ACK);
    /* The same connection brings a new device. */
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 1), 0);
    assert_int_equal(r.connect, 2);
    assert_int_equal(urg_session_state(s), URG_STATE_CONNECTED);
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), 0);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    /* Without the cap on the host side, no ack. */
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL & ~URG_CAP_BIT(URG_CAP_DEVICE_DISCONNECT_ACK));
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(th_pump(&h, s), 0);
    assert_int_equal(r.disconnect, 1);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* A device_disconnect is acknowledged once per device announced; a repeat
 * (or one before any device) gets nothing. */
static void test_disconnect_without_device_not_acked(void **state)
{
    struct urg_packet d;
    struct urg_stats st;
    struct rec r;
    struct testhost h;
    urg_session *s;
    int i;
    (void)state;
    memset(&d, 0, sizeof(d));
    d.type = URG_DEVICE_DISCONNECT;
    rec_init(&r);
    s = new_session(&r, ALL, URG_POLICY_FAIL);
    th_init(&h, ALL);
    th_pump(&h, s);
    th_hello(&h);
    th_emit(&h, &d); /* before any device */
    th_device(&h);
    for (i = 0; i < 5; i++)
        th_emit(&h, &d);
    assert_int_equal(th_flush(&h, s, 0), 0);
    th_pump(&h, s);
    assert_int_equal(th_count(&h, URG_DEVICE_DISCONNECT_ACK), 1);
    assert_int_equal(r.disconnect, 1);
    urg_session_stats(s, &st);
    assert_int_equal(st.unacked_disconnects, 5);
    assert_int_equal(urg_session_state(s), URG_STATE_READY);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* What a host can cause again and again is logged once per session, then
 * at the debug level: it cannot flood the application's log. */
static void test_repeated_warnings_said_once(void **state)
{
    struct urg_session_config cfg;
    struct urg_packet c, d;
    struct rec r;
    struct testhost h;
    urg_session *s;
    int i;
    (void)state;
    plug_packets(&c, &d, URG_SPEED_FULL);
    c.h.device_connect.device_class = 3; /* checked by the filter (0 is not) */
    rec_init(&r);
    urg_session_config_init(&cfg);
    cfg.filter = "-1,-1,-1,-1,0"; /* every device refused */
    rec_callbacks(&cfg.callbacks);
    cfg.user_data = &r;
    assert_int_equal(urg_session_new(&cfg, &s), 0);
    th_init(&h, ALL & ~URG_CAP_BIT(URG_CAP_FILTER));
    th_pump(&h, s);
    th_hello(&h);
    /* device_connects with no interface_info or ep_info before them, for a
     * host that cannot be sent filter_reject: two warnings, each once. */
    for (i = 0; i < 1000; i++) {
        th_emit(&h, &c);
        th_emit(&h, &d);
    }
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.rejected, 1000);
    /* the hello's "filter not sent", then the two, once each */
    assert_int_equal(r.logs[URG_LOG_WARNING], 3);
    assert_int_equal(r.logs[URG_LOG_ERROR], 0);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* ---------------------------------------------------------------- device */

static void test_device_state_and_info(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    const struct urg_device *d;
    struct urg_packet p;
    uint64_t id;
    (void)state;
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    d = urg_session_device(s);
    assert_non_null(d);
    assert_int_equal(d->vendor_id, 0x1234);
    assert_int_equal(d->product_id, 0x5678);
    assert_int_equal(d->device_version_bcd, 0x0102);
    assert_int_equal(d->has_device_version, 1);
    assert_int_equal(d->speed, URG_SPEED_HIGH);
    assert_int_equal(d->interface_count, 2);
    assert_int_equal(d->interface_class[1], 0x08);
    assert_int_equal(d->ep[urg_ep_index(0x81)].type, URG_EP_INTERRUPT);
    assert_int_equal(d->ep[urg_ep_index(0x81)].interval, 7);
    assert_int_equal(d->ep[urg_ep_index(0x82)].max_packet_size, 512);
    assert_int_equal(d->ep[urg_ep_index(0x82)].max_streams, 16);
    assert_int_equal(d->ep[urg_ep_index(0x05)].type, URG_EP_INVALID);
    /* set_configuration: new ep_info and interface_info come first. */
    assert_int_equal(urg_session_set_configuration(s, 2, NULL, &id), 0);
    th_pump(&h, s);
    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    memset(p.h.ep_info.type, URG_EP_INVALID, 32);
    p.h.ep_info.type[0] = p.h.ep_info.type[16] = URG_EP_CONTROL;
    p.h.ep_info.type[urg_ep_index(0x85)] = URG_EP_BULK;
    th_emit(&h, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERFACE_INFO;
    p.h.interface_info.interface_count = 1;
    p.h.interface_info.interface_class[0] = 0xff;
    th_emit(&h, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_CONFIGURATION_STATUS;
    p.id = id;
    p.h.configuration_status.configuration = 2;
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.info, 2);
    {
        const char *info = strstr(r.log, "info 2");
        const char *done = strstr(r.log, "complete id=");
        assert_non_null(info);
        assert_non_null(done);
        assert_true(info < strstr(info, "complete"));
        (void)done;
    }
    d = urg_session_device(s);
    assert_int_equal(d->interface_count, 1);
    assert_int_equal(d->interface_class[0], 0xff);
    assert_int_equal(d->ep[urg_ep_index(0x85)].type, URG_EP_BULK);
    assert_int_equal(d->ep[urg_ep_index(0x81)].type, URG_EP_INVALID);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    /* Without connect_device_version the version is absent. */
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL & ~URG_CAP_BIT(URG_CAP_CONNECT_DEVICE_VERSION));
    d = urg_session_device(s);
    assert_int_equal(d->has_device_version, 0);
    assert_int_equal(d->device_version_bcd, 0);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* ---------------------------------------------------------------- filter */

static urg_session *filtered_session(struct rec *r, const char *filter, uint32_t host_caps,
                                     struct testhost *h)
{
    struct urg_session_config cfg;
    urg_session *s;
    urg_session_config_init(&cfg);
    rec_callbacks(&cfg.callbacks);
    cfg.user_data = r;
    cfg.filter = filter;
    assert_int_equal(urg_session_new(&cfg, &s), 0);
    th_init(h, host_caps);
    th_pump(h, s);
    th_hello(h);
    assert_int_equal(th_flush(h, s, 0), 0);
    return s;
}

static void test_filter_in_session(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    struct urg_session_config cfg;
    struct urg_packet p;
    uint64_t id;
    (void)state;
    /* The filter goes to the host after the hellos; the test device has a
     * HID boot interface, which it denies. */
    rec_init(&r);
    s = filtered_session(&r, "0x03,-1,-1,-1,0|-1,-1,-1,-1,1", ALL, &h);
    assert_int_equal(th_pump(&h, s), 1);
    assert_string_equal((const char *)last(&h, URG_FILTER_FILTER)->data,
                        "0x03,-1,-1,-1,0|-1,-1,-1,-1,1");
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.connect, 0);
    assert_int_equal(r.rejected, 1);
    assert_non_null(strstr(r.log, "rejected 1234:5678 URG_ERR_FILTER_DENIED"));
    assert_int_equal(urg_session_state(s), URG_STATE_READY);
    assert_int_equal(th_pump(&h, s), 1);
    assert_non_null(th_find(&h, URG_FILTER_REJECT));
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    /* An allowed device whose new interfaces are denied: it ends. */
    rec_init(&r);
    s = filtered_session(&r, "0x07,-1,-1,-1,0|-1,-1,-1,-1,1", ALL, &h);
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.connect, 1);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 8, NULL, NULL, &id), 0);
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERFACE_INFO;
    p.h.interface_info.interface_count = 1;
    p.h.interface_info.interface_class[0] = 0x07; /* printer */
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(rec_count(&r, id), 1);
    assert_int_equal(rec_find(&r, id)->c.status, URG_STATUS_NODEV);
    assert_int_equal(urg_session_state(s), URG_STATE_READY);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    /* A host without the filter cap gets neither filter_filter nor reject. */
    rec_init(&r);
    s = filtered_session(&r, "-1,-1,-1,-1,0", ALL & ~URG_CAP_BIT(URG_CAP_FILTER), &h);
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(th_pump(&h, s), 0);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    /* The host's filter is reported. */
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    memset(&p, 0, sizeof(p));
    p.type = URG_FILTER_FILTER;
    p.data = (const uint8_t *)"0x08,-1,-1,-1,1|-1,-1,-1,-1,0";
    p.data_len = (uint32_t)strlen((const char *)p.data) + 1;
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 2), 0);
    assert_int_equal(r.filter, 1);
    assert_non_null(strstr(r.log, "filter 2 0x08,-1,-1,-1,1|-1,-1,-1,-1,0"));
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    urg_session_config_init(&cfg);
    rec_callbacks(&cfg.callbacks);
    cfg.filter = "1,2,3";
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_FILTER_SYNTAX);

    /* QEMU's syntax with its separators: the host gets the "," "|" form,
     * and the rules apply. */
    rec_init(&r);
    urg_session_config_init(&cfg);
    rec_callbacks(&cfg.callbacks);
    cfg.user_data = &r;
    cfg.filter = "3:-1:-1:-1:0|-1:-1:-1:-1:1";
    cfg.filter_token_sep = ":";
    cfg.filter_rule_sep = "|";
    assert_int_equal(urg_session_new(&cfg, &s), 0);
    th_init(&h, ALL);
    th_pump(&h, s);
    th_hello(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(th_pump(&h, s), 1);
    assert_string_equal((const char *)last(&h, URG_FILTER_FILTER)->data,
                        "0x03,-1,-1,-1,0|-1,-1,-1,-1,1");
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.connect, 0);
    assert_int_equal(r.rejected, 1);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
    /* the comma form is not QEMU's; no separators at all is invalid */
    urg_session_config_init(&cfg);
    rec_callbacks(&cfg.callbacks);
    cfg.filter = "0x03,-1,-1,-1,0";
    cfg.filter_token_sep = ":";
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_FILTER_SYNTAX);
    cfg.filter_token_sep = "";
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_INVALID);
    cfg.filter_token_sep = NULL;
    cfg.filter_rule_sep = "";
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disconnect_with_everything_pending),
        cmocka_unit_test(test_disconnect_in_submission_order),
        cmocka_unit_test(test_disconnect_ack_and_replug),
        cmocka_unit_test(test_disconnect_without_device_not_acked),
        cmocka_unit_test(test_repeated_warnings_said_once),
        cmocka_unit_test(test_tolerated_ep_info_type),
        cmocka_unit_test(test_tolerated_hello_partial_word),
        cmocka_unit_test(test_tolerated_filter_inner_nul),
        cmocka_unit_test(test_device_state_and_info),
        cmocka_unit_test(test_filter_in_session),
    };
    return cmocka_run_group_tests_name("session_device", tests, NULL, NULL);
}

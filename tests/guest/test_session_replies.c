/*
 * test_session_replies.c - what the engine session receives from the
 * scripted test host (guest/dispatch.c, the decoder under the session):
 * replies completing requests, payloads in place, copied once or read
 * through the recv window, bad replies under both error policies, protocol
 * errors, and a whole session fed whole, byte by byte and in odd chunks
 * under every caps layout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packets.h"
#include "session_fixture.h"
#include "testhost.h"

/* ---------------------------------------------------------------- replies */

static void test_replies_complete_requests(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t desc[18], out[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    uint64_t ctl, blk_in, blk_out, intr, cfg, alt, alloc;
    const struct rec_completion *c;
    struct urg_packet p;
    int i;
    (void)state;
    for (i = 0; i < 18; i++)
        desc[i] = (uint8_t)(i * 7);
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, NULL, (void *)1, &ctl), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 512, NULL, (void *)2, &blk_in), 0);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 8, out, (void *)3, &blk_out), 0);
    assert_int_equal(urg_session_interrupt_out(s, 0x04, 8, out, (void *)4, &intr), 0);
    assert_int_equal(urg_session_set_configuration(s, 1, (void *)5, &cfg), 0);
    assert_int_equal(urg_session_get_alt_setting(s, 1, (void *)6, &alt), 0);
    assert_int_equal(urg_session_alloc_bulk_streams(s, 1u << 18, 8, (void *)7, &alloc), 0);
    assert_int_equal(urg_session_pending_count(s), 7);
    th_pump(&h, s);

    th_reply_control(&h, &th_find(&h, URG_CONTROL_PACKET)->p, URG_STATUS_SUCCESS, desc, 18);
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = blk_in;
    p.h.bulk.endpoint = 0x82;
    p.h.bulk.status = URG_STATUS_SUCCESS;
    p.h.bulk.length = 13;
    p.data = desc;
    p.data_len = 13;
    th_emit(&h, &p);
    p.id = blk_out;
    p.h.bulk.endpoint = 0x02;
    p.h.bulk.length = 8;
    p.data_len = 0;
    p.data = NULL;
    th_emit(&h, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERRUPT_PACKET;
    p.id = intr;
    p.h.interrupt.endpoint = 0x04;
    p.h.interrupt.status = URG_STATUS_STALL;
    th_emit(&h, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_CONFIGURATION_STATUS;
    p.id = cfg;
    p.h.configuration_status.configuration = 1;
    th_emit(&h, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_ALT_SETTING_STATUS;
    p.id = alt;
    p.h.alt_setting_status.interface = 1;
    p.h.alt_setting_status.alt = 2;
    th_emit(&h, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_STREAMS_STATUS;
    p.id = alloc;
    p.h.bulk_streams_status.endpoints = 1u << 18;
    p.h.bulk_streams_status.no_streams = 8;
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 0), 0);

    assert_int_equal(r.ndone, 7);
    assert_int_equal(urg_session_pending_count(s), 0);
    c = rec_find(&r, ctl);
    assert_ptr_equal(c->c.user_data, (void *)1);
    assert_int_equal(c->c.type, URG_CONTROL_PACKET);
    assert_int_equal(c->c.status, URG_STATUS_SUCCESS);
    assert_int_equal(c->c.length, 18);
    assert_memory_equal(c->data, desc, 18);
    c = rec_find(&r, blk_in);
    assert_int_equal(c->c.length, 13);
    assert_memory_equal(c->data, desc, 13);
    assert_int_equal(c->c.endpoint, 0x82);
    c = rec_find(&r, blk_out);
    assert_int_equal(c->c.length, 8);
    assert_null(c->data);
    c = rec_find(&r, intr);
    assert_int_equal(c->c.status, URG_STATUS_STALL);
    c = rec_find(&r, cfg);
    assert_int_equal(c->c.u.config.configuration, 1);
    c = rec_find(&r, alt);
    assert_int_equal(c->c.u.alt.interface, 1);
    assert_int_equal(c->c.u.alt.alt, 2);
    c = rec_find(&r, alloc);
    assert_int_equal(c->c.u.streams.endpoints, 1u << 18);
    assert_int_equal(c->c.u.streams.no_streams, 8);
    assert_ptr_equal(c->c.user_data, (void *)7);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* ---------------------------------------------------------------- payloads */

static void test_zero_copy_and_window(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t desc[18], in_buf[18], big[16384], dest[16384];
    uint64_t id;
    struct urg_packet p;
    struct urg_stats st;
    size_t i;
    void *wb;
    size_t wl;
    (void)state;
    for (i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 31);
    memset(desc, 0x12, sizeof(desc));
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);

    /* Whole in the recv buffer: delivered in place, in_buf untouched. */
    memset(in_buf, 0, sizeof(in_buf));
    assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, in_buf, NULL, &id), 0);
    th_pump(&h, s);
    th_reply_control(&h, &th_find(&h, URG_CONTROL_PACKET)->p, 0, desc, 18);
    {
        uint8_t *copy = malloc(th_out_len(&h));
        size_t len = th_out_len(&h);
        const uint8_t *seen;
        memcpy(copy, th_out(&h), len);
        th_drop(&h);
        assert_int_equal(urg_session_recv(s, copy, len), 0);
        seen = rec_find(&r, id)->c.data; /* the recorder's copy */
        assert_memory_equal(seen, desc, 18);
        free(copy);
    }
    assert_int_equal(in_buf[0], 0);
    urg_session_stats(s, &st);
    assert_int_equal(st.payload_copies, 0);

    /* Straddling two recv calls: copied once, into in_buf. */
    assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, in_buf, NULL, &id), 0);
    th_pump(&h, s);
    th_reply_control(&h, &th_find(&h, URG_CONTROL_PACKET)->p, 0, desc, 18);
    assert_int_equal(th_flush(&h, s, 30), 0);
    assert_memory_equal(in_buf, desc, 18);
    urg_session_stats(s, &st);
    assert_int_equal(st.payload_copies, 1);

    /* The recv window: the socket's bytes go straight into dest. */
    assert_int_equal(urg_session_bulk(s, 0x82, 0, sizeof(dest), dest, NULL, &id), 0);
    th_pump(&h, s);
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = id;
    p.h.bulk.endpoint = 0x82;
    p.h.bulk.length = sizeof(big);
    p.data = big;
    p.data_len = sizeof(big);
    th_emit(&h, &p);
    assert_int_equal(urg_session_recv_window(s, &wb, &wl), 0);
    assert_int_equal(urg_session_recv(s, th_out(&h), 26), 0); /* headers only */
    assert_int_equal(urg_session_recv_window(s, &wb, &wl), 1);
    assert_ptr_equal(wb, dest);
    assert_int_equal(wl, sizeof(dest));
    memcpy(wb, th_out(&h) + 26, 10000);
    assert_int_equal(urg_session_recv_commit(s, 10000), 0);
    assert_int_equal(urg_session_recv_window(s, &wb, &wl), 1);
    assert_ptr_equal(wb, dest + 10000);
    memcpy(wb, th_out(&h) + 26 + 10000, wl);
    assert_int_equal(urg_session_recv_commit(s, wl), 0);
    th_drop(&h);
    assert_int_equal(rec_count(&r, id), 1);
    assert_memory_equal(dest, big, sizeof(big));
    assert_int_equal(rec_find(&r, id)->c.length, sizeof(big));
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* ---------------------------------------------------------------- bad hosts */

struct bad_reply {
    const char *what;
    int err;
};

/* Sends request kind k and a reply broken in way k. */
static uint64_t bad_case(urg_session *s, struct testhost *h, int k)
{
    struct urg_packet p;
    uint64_t id;
    memset(&p, 0, sizeof(p));
    switch (k) {
    case 0: /* set_configuration answered by an alt_setting_status */
        assert_int_equal(urg_session_set_configuration(s, 1, NULL, &id), 0);
        p.type = URG_ALT_SETTING_STATUS;
        break;
    case 1: /* a bulk reply for another endpoint */
        assert_int_equal(urg_session_bulk(s, 0x82, 0, 8, NULL, NULL, &id), 0);
        p.type = URG_BULK_PACKET;
        p.h.bulk.endpoint = 0x81;
        break;
    case 2: /* more IN data than asked for */
        assert_int_equal(urg_session_bulk(s, 0x82, 0, 8, NULL, NULL, &id), 0);
        p.type = URG_BULK_PACKET;
        p.h.bulk.endpoint = 0x82;
        p.h.bulk.length = 9;
        p.data = (const uint8_t *)"123456789";
        p.data_len = 9;
        break;
    case 3: /* a bulk reply on another stream */
        assert_int_equal(urg_session_bulk(s, 0x82, 1, 8, NULL, NULL, &id), 0);
        p.type = URG_BULK_PACKET;
        p.h.bulk.endpoint = 0x82;
        p.h.bulk.stream_id = 2;
        break;
    case 4: /* an alt status for another interface */
        assert_int_equal(urg_session_set_alt_setting(s, 1, 1, NULL, &id), 0);
        p.type = URG_ALT_SETTING_STATUS;
        p.h.alt_setting_status.interface = 0;
        break;
    default: /* an OUT reply claiming more than was sent */
        assert_int_equal(urg_session_interrupt_out(s, 0x04, 2, "ab", NULL, &id), 0);
        p.type = URG_INTERRUPT_PACKET;
        p.h.interrupt.endpoint = 0x04;
        p.h.interrupt.length = 3;
        break;
    }
    p.id = id;
    th_emit(h, &p);
    return id;
}

static const int bad_errs[6] = {
    URG_ERR_PROTO_REPLY_TYPE,   URG_ERR_PROTO_REPLY_ENDPOINT, URG_ERR_PROTO_REPLY_LENGTH,
    URG_ERR_PROTO_FIELD,        URG_ERR_PROTO_FIELD,          URG_ERR_PROTO_REPLY_LENGTH,
};

static void test_bad_replies_fail_the_session(void **state)
{
    int k;
    (void)state;
    for (k = 0; k < 6; k++) {
        struct rec r;
        struct testhost h;
        urg_session *s;
        uint64_t other, id, x;
        const char *msg;
        rec_init(&r);
        s = connected_session(&r, &h, ALL, ALL);
        assert_int_equal(urg_session_get_configuration(s, NULL, &other), 0);
        id = bad_case(s, &h, k);
        th_pump(&h, s);
        assert_int_equal(th_flush(&h, s, 0), bad_errs[k]);
        assert_int_equal(r.fatal, 1);
        assert_int_equal(r.last_error, bad_errs[k]);
        /* Everything pending completed, once, with no-device. */
        assert_int_equal(rec_count(&r, id), 1);
        assert_int_equal(rec_count(&r, other), 1);
        assert_int_equal(rec_find(&r, id)->c.status, URG_STATUS_NODEV);
        assert_int_equal(r.disconnect, 1);
        assert_int_equal(urg_session_state(s), URG_STATE_FAILED);
        assert_int_equal(urg_session_error(s, &msg), bad_errs[k]);
        assert_true(strlen(msg) > 10);
        assert_int_equal(urg_session_output_pending(s), 0);
        assert_int_equal(urg_session_get_configuration(s, NULL, &x), URG_ERR_FAILED);
        assert_int_equal(urg_session_recv(s, "x", 1), URG_ERR_FAILED);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

static void test_bad_replies_skipped(void **state)
{
    int k;
    (void)state;
    for (k = 0; k < 6; k++) {
        struct rec r;
        struct testhost h;
        urg_session *s;
        uint64_t id, good;
        struct urg_packet p;
        rec_init(&r);
        s = new_session(&r, ALL, URG_POLICY_SKIP);
        th_init(&h, ALL);
        th_pump(&h, s);
        th_hello(&h);
        th_device(&h);
        assert_int_equal(th_flush(&h, s, 0), 0);
        th_pump(&h, s);
        id = bad_case(s, &h, k);
        assert_int_equal(urg_session_get_configuration(s, NULL, &good), 0);
        th_pump(&h, s);
        memset(&p, 0, sizeof(p));
        p.type = URG_CONFIGURATION_STATUS;
        p.id = good;
        th_emit(&h, &p);
        assert_int_equal(th_flush(&h, s, 1), 0);
        assert_int_equal(r.errors, 1);
        assert_int_equal(r.fatal, 0);
        assert_int_equal(r.last_error, bad_errs[k]);
        if (k == 0) {
            /* A reply of the wrong type is not this request's reply. */
            assert_int_equal(rec_count(&r, id), 0);
        } else {
            assert_int_equal(rec_count(&r, id), 1);
            assert_int_equal(rec_find(&r, id)->c.status, URG_STATUS_IOERROR);
        }
        assert_int_equal(rec_count(&r, good), 1);
        assert_int_equal(urg_session_state(s), URG_STATE_CONNECTED);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

static void test_protocol_errors_from_host(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    struct urg_packet p;
    uint8_t junk[16] = { 99, 0, 0, 0 };
    (void)state;
    /* A second device_connect while connected. */
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_CONNECT;
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 0), URG_ERR_PROTO_STATE);
    assert_non_null(strstr(r.log, "device_connect"));
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
    /* Garbage before the hello. */
    rec_init(&r);
    s = new_session(&r, ALL, URG_POLICY_FAIL);
    assert_int_equal(urg_session_recv(s, junk, sizeof(junk)), URG_ERR_PROTO_TYPE);
    assert_int_equal(r.fatal, 1);
    assert_int_equal(urg_session_state(s), URG_STATE_FAILED);
    urg_session_free(s);
    rec_free(&r);
    /* A packet type the guest never receives. */
    rec_init(&r);
    s = new_session(&r, ALL, URG_POLICY_FAIL);
    th_init(&h, ALL);
    th_hello(&h);
    junk[0] = URG_RESET;
    junk[4] = 0;
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(urg_session_recv(s, junk, 16), URG_ERR_PROTO_DIRECTION);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* ---------------------------------------------------------------- splits */

/* A whole session, scripted: returns the recorder's log. */
static char *scripted_session(uint32_t guest_caps, uint32_t host_caps, size_t chunk)
{
    struct rec r;
    struct testhost h;
    urg_session *s = new_session(&r, guest_caps, URG_POLICY_FAIL);
    uint8_t bigdata[3000], desc[18];
    struct urg_packet p;
    uint64_t a, b, c, d;
    char *log;
    int i;
    rec_init(&r);
    urg_session_free(s);
    s = new_session(&r, guest_caps, URG_POLICY_FAIL);
    for (i = 0; i < 3000; i++)
        bigdata[i] = (uint8_t)(i ^ (i >> 3));
    memset(desc, 1, sizeof(desc));
    th_init(&h, host_caps);
    th_pump(&h, s);
    th_hello(&h);
    th_device(&h);
    assert_int_equal(th_flush(&h, s, chunk), 0);
    th_pump(&h, s);
    assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, NULL, NULL, &a), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 3000, NULL, NULL, &b), 0);
    assert_int_equal(urg_session_start_interrupt_receiving(s, 0x81, NULL, &c), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 100, NULL, NULL, &d), 0);
    th_pump(&h, s);
    th_reply_control(&h, &th_find(&h, URG_CONTROL_PACKET)->p, 0, desc, 18);
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = b;
    p.h.bulk.endpoint = 0x82;
    p.h.bulk.length = 3000;
    p.data = bigdata;
    p.data_len = 3000;
    th_emit(&h, &p);
    emit_status(&h, URG_INTERRUPT_RECEIVING_STATUS, c, 0x81, 0);
    for (i = 0; i < 5; i++) {
        memset(&p, 0, sizeof(p));
        p.type = URG_INTERRUPT_PACKET;
        p.id = (uint64_t)i;
        p.h.interrupt.endpoint = 0x81;
        p.h.interrupt.length = 8;
        p.data = bigdata + i;
        p.data_len = 8;
        th_emit(&h, &p);
    }
    emit_status(&h, URG_INTERRUPT_RECEIVING_STATUS, 0, 0x81, URG_STATUS_STALL);
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_DISCONNECT;
    th_emit(&h, &p);
    th_device(&h);
    assert_int_equal(th_flush(&h, s, chunk), 0);
    assert_int_equal(rec_count(&r, d), 1);
    urg_session_free(s);
    th_free(&h);
    log = r.log;
    r.log = NULL;
    rec_free(&r);
    return log;
}

static void test_split_equivalence_every_caps_layout(void **state)
{
    int g;
    (void)state;
    for (g = 0; g < LAYOUT_VARIANTS; g++) {
        uint32_t caps = layout_caps(g);
        char *whole = scripted_session(ALL, caps, 0);
        char *bytes = scripted_session(ALL, caps, 1);
        char *odd = scripted_session(ALL, caps, 13);
        char *guest_side = scripted_session(caps, ALL, 7);
        assert_string_equal(whole, bytes);
        assert_string_equal(whole, odd);
        assert_non_null(strstr(whole, "complete id=1 type=control_packet"));
        assert_non_null(strstr(whole, "disconnect"));
        assert_non_null(strstr(guest_side, "connect 1234:5678"));
        free(whole);
        free(bytes);
        free(odd);
        free(guest_side);
    }
}

/* ---------------------------------------------------------------- whole frames */

/* A frame as the host's bytes, header (64-bit ids: ALL) then rest: length
 * is the header's length field, whatever rest holds. */
static void raw_frame(struct testhost *h, uint32_t type, uint32_t length, uint64_t id,
                      const uint8_t *rest, size_t n)
{
    uint8_t b[16];
    int i;
    for (i = 0; i < 4; i++) {
        b[i] = (uint8_t)(type >> (8 * i));
        b[4 + i] = (uint8_t)(length >> (8 * i));
    }
    for (i = 0; i < 8; i++)
        b[8 + i] = (uint8_t)(id >> (8 * i));
    th_raw(h, b, sizeof(b));
    if (n)
        th_raw(h, rest, n);
}

/* A control type header and data: endpoint, requesttype, status, length
 * field; dlen bytes of data after it. */
static void control_frame(struct testhost *h, uint64_t id, uint8_t ep, uint8_t rt, uint16_t len,
                          uint32_t dlen)
{
    uint8_t b[10 + 64];
    memset(b, 0x5a, sizeof(b));
    b[0] = ep, b[1] = 6, b[2] = rt, b[3] = 0, b[4] = 0, b[5] = 1, b[6] = 0, b[7] = 0;
    b[8] = (uint8_t)len, b[9] = (uint8_t)(len >> 8);
    raw_frame(h, URG_CONTROL_PACKET, 10 + dlen, id, b, 10 + dlen);
}

/* A bulk type header (32bits_bulk_length: 10 bytes) and dlen bytes. */
static void bulk_frame(struct testhost *h, uint64_t id, uint8_t ep, uint32_t len, uint32_t sid,
                       uint32_t dlen)
{
    uint8_t b[10 + 600];
    memset(b, 0xa5, sizeof(b));
    b[0] = ep, b[1] = 0, b[2] = (uint8_t)len, b[3] = (uint8_t)(len >> 8);
    b[4] = (uint8_t)sid, b[5] = (uint8_t)(sid >> 8), b[6] = (uint8_t)(sid >> 16);
    b[7] = (uint8_t)(sid >> 24), b[8] = (uint8_t)(len >> 16), b[9] = (uint8_t)(len >> 24);
    raw_frame(h, URG_BULK_PACKET, 10 + dlen, id, b, 10 + dlen);
}

static void interrupt_frame(struct testhost *h, uint64_t id, uint8_t ep, uint16_t len,
                            uint32_t dlen)
{
    uint8_t b[4 + 64];
    memset(b, 0x3c, sizeof(b));
    b[0] = ep, b[1] = 0, b[2] = (uint8_t)len, b[3] = (uint8_t)(len >> 8);
    raw_frame(h, URG_INTERRUPT_PACKET, 4 + dlen, id, b, 4 + dlen);
}

/* A control reply whose endpoint and requesttype disagree on the
 * direction (the reference accepts it; its data follows the endpoint). By
 * default the session fails, every request completing NODEV; under skip
 * each such reply is skipped, its request completed IOERROR; under
 * tolerate each completes its request as the request expects (IN: the
 * data; OUT: the length written), one warning for all. A reply that also
 * breaks another rule is still refused under tolerate (skipped). */
static void test_tolerated_control_direction(void **state)
{
    (void)state;
    for (int policy = URG_POLICY_FAIL; policy <= URG_POLICY_TOLERATE; policy++) {
        struct urg_session_config cfg;
        struct rec r;
        struct testhost h;
        urg_session *s;
        uint64_t ids[3];
        uint8_t out[4] = { 1, 2, 3, 4 };
        int rc;
        rec_init(&r);
        urg_session_config_init(&cfg);
        cfg.caps = ALL;
        cfg.policy = (enum urg_error_policy)policy;
        cfg.log_level = URG_LOG_DEBUG;
        s = connected_session_cfg(&r, &h, &cfg, ALL);
        assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, NULL, NULL, &ids[0]), 0);
        assert_int_equal(urg_session_control(s, 0, SET_FEATURE_OUT4, out, NULL, &ids[1]), 0);
        assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, NULL, NULL, &ids[2]), 0);
        th_pump(&h, s);
        control_frame(&h, ids[0], 0x80, 0x00, 18, 18); /* IN, requesttype OUT */
        control_frame(&h, ids[1], 0x00, 0xa1, 4, 0);   /* OUT, requesttype IN */
        control_frame(&h, ids[2], 0x80, 0x00, 18, 17); /* and data != length */
        rc = th_flush(&h, s, policy == URG_POLICY_TOLERATE ? 1 : 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(rec_count(&r, ids[i]), 1);
        switch (policy) {
        case URG_POLICY_FAIL:
            assert_int_equal(rc, URG_ERR_PROTO_FIELD);
            for (int i = 0; i < 3; i++)
                assert_int_equal(rec_find(&r, ids[i])->c.status, URG_STATUS_NODEV);
            break;
        case URG_POLICY_SKIP:
            assert_int_equal(rc, 0);
            assert_int_equal(r.errors, 3);
            for (int i = 0; i < 3; i++)
                assert_int_equal(rec_find(&r, ids[i])->c.status, URG_STATUS_IOERROR);
            break;
        default:
            assert_int_equal(rc, 0);
            assert_int_equal(r.errors, 1);
            assert_int_equal(r.last_error, URG_ERR_PROTO_DATA_LENGTH);
            assert_int_equal(rec_find(&r, ids[0])->c.status, URG_STATUS_SUCCESS);
            assert_int_equal(rec_find(&r, ids[0])->c.length, 18);
            assert_int_equal(rec_find(&r, ids[0])->data[17], 0x5a);
            assert_int_equal(rec_find(&r, ids[1])->c.status, URG_STATUS_SUCCESS);
            assert_int_equal(rec_find(&r, ids[1])->c.length, 4);
            assert_int_equal(rec_find(&r, ids[2])->c.status, URG_STATUS_IOERROR);
            assert_int_equal(r.logs[URG_LOG_WARNING], 1);
            assert_true(r.logs[URG_LOG_DEBUG] >= 1); /* the second */
            break;
        }
        urg_session_free(s);
        th_free(&h);
        for (int i = 0; i < 3; i++)
            assert_int_equal(rec_count(&r, ids[i]), 1);
        rec_free(&r);
    }
    /* Under tolerate, a disagreeing reply refused for another rule (longer
     * than its request: the session's rule) is reported, not warned of. */
    {
        struct urg_session_config cfg;
        struct rec r;
        struct testhost h;
        urg_session *s;
        uint64_t id;
        rec_init(&r);
        urg_session_config_init(&cfg);
        cfg.caps = ALL;
        cfg.policy = URG_POLICY_TOLERATE;
        s = connected_session_cfg(&r, &h, &cfg, ALL);
        assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, NULL, NULL, &id), 0);
        th_pump(&h, s);
        control_frame(&h, id, 0x80, 0x00, 19, 19);
        assert_int_equal(th_flush(&h, s, 0), 0);
        assert_int_equal(r.errors, 1);
        assert_int_equal(r.last_error, URG_ERR_PROTO_REPLY_LENGTH);
        assert_int_equal(rec_find(&r, id)->c.status, URG_STATUS_IOERROR);
        assert_int_equal(r.logs[URG_LOG_WARNING], 0);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

/* A bulk reply with another stream id, an alt_setting_status for another
 * interface (the reference has no requests to hold them against; QEMU
 * reads neither field): refused by default (the session fails), skipped
 * under skip (IOERROR), completed under tolerate as the request expects
 * (the request's stream id and interface in the completion), one warning
 * per case however often it comes. */
static void test_tolerated_reply_fields(void **state)
{
    (void)state;
    for (int policy = URG_POLICY_FAIL; policy <= URG_POLICY_TOLERATE; policy++) {
        struct urg_session_config cfg;
        struct rec r;
        struct testhost h;
        struct urg_packet p;
        urg_session *s;
        uint64_t ids[4];
        int rc;
        rec_init(&r);
        urg_session_config_init(&cfg);
        cfg.caps = ALL;
        cfg.policy = (enum urg_error_policy)policy;
        s = connected_session_cfg(&r, &h, &cfg, ALL);
        assert_int_equal(urg_session_set_alt_setting(s, 1, 1, NULL, &ids[0]), 0);
        assert_int_equal(urg_session_bulk(s, 0x82, 2, 512, NULL, NULL, &ids[1]), 0);
        assert_int_equal(urg_session_get_alt_setting(s, 1, NULL, &ids[2]), 0);
        assert_int_equal(urg_session_bulk(s, 0x82, 2, 512, NULL, NULL, &ids[3]), 0);
        th_pump(&h, s);
        for (int i = 0; i < 4; i += 2) {
            memset(&p, 0, sizeof(p));
            p.type = URG_ALT_SETTING_STATUS;
            p.id = ids[i];
            p.h.alt_setting_status.interface = 3;
            p.h.alt_setting_status.alt = 1;
            th_emit(&h, &p);
            bulk_frame(&h, ids[i + 1], 0x82, 10, 5, 10);
        }
        rc = th_flush(&h, s, 0);
        for (int i = 0; i < 4; i++)
            assert_int_equal(rec_count(&r, ids[i]), 1);
        switch (policy) {
        case URG_POLICY_FAIL:
            assert_int_equal(rc, URG_ERR_PROTO_FIELD);
            for (int i = 0; i < 4; i++)
                assert_int_equal(rec_find(&r, ids[i])->c.status, URG_STATUS_NODEV);
            break;
        case URG_POLICY_SKIP:
            assert_int_equal(rc, 0);
            assert_int_equal(r.errors, 4);
            for (int i = 0; i < 4; i++)
                assert_int_equal(rec_find(&r, ids[i])->c.status, URG_STATUS_IOERROR);
            break;
        default:
            assert_int_equal(rc, 0);
            assert_int_equal(r.errors, 0);
            for (int i = 0; i < 4; i += 2) {
                const struct rec_completion *a = rec_find(&r, ids[i]), *b = rec_find(&r, ids[i + 1]);
                assert_int_equal(a->c.status, URG_STATUS_SUCCESS);
                assert_int_equal(a->c.u.alt.interface, 1);
                assert_int_equal(a->c.u.alt.alt, 1);
                assert_int_equal(b->c.status, URG_STATUS_SUCCESS);
                assert_int_equal(b->c.u.bulk.stream_id, 2);
                assert_int_equal(b->c.length, 10);
            }
            assert_int_equal(r.logs[URG_LOG_WARNING], 2);
            break;
        }
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

#define WHOLE_CASES 26

/* What each case fails the session with under policy fail (0: valid). */
static const int whole_errs[WHOLE_CASES] = {
    0, URG_ERR_PROTO_FIELD, URG_ERR_PROTO_DATA_LENGTH, URG_ERR_PROTO_REPLY_LENGTH,
    URG_ERR_PROTO_REPLY_ENDPOINT, 0, URG_ERR_PROTO_UNEXPECTED_DATA, URG_ERR_PROTO_REPLY_TYPE,
    0, 0, URG_ERR_PROTO_FIELD, URG_ERR_PROTO_BULK_LENGTH,
    0, URG_ERR_PROTO_REPLY_LENGTH, 0, URG_ERR_PROTO_STREAM_LENGTH,
    0, 0, 0, URG_ERR_PROTO_UNEXPECTED_DATA,
    URG_ERR_PROTO_REPLY_LENGTH, URG_ERR_PROTO_HEADER_LENGTH, URG_ERR_PROTO_PACKET_SIZE,
    URG_ERR_PROTO_REPLY_TYPE, URG_ERR_PROTO_FIELD, URG_ERR_PROTO_FIELD,
};

/* What URG_POLICY_TOLERATE carries on with: the cases that break only a
 * tolerable rule (the direction's, a bulk reply's stream id), each
 * completing its request as the request expects: what the log shows. */
static const char *whole_tolerated(int k)
{
    switch (k) {
    case 1: return "type=control_packet ep=0x80 status=success len=18";
    case 10: return "type=bulk_packet ep=0x82 status=success len=10 cancel=0 u=2,";
    case 24: return "type=control_packet ep=0x00 status=success len=4";
    default: return NULL;
    }
}

/* Frame case k against the requests pend_everything() made (ids). */
static void whole_case(struct testhost *h, const uint64_t *ids, int k)
{
    static const uint8_t five[5] = { 0x80, 6, 0x80, 0, 0 };
    switch (k) {
    case 0: control_frame(h, ids[0], 0x80, 0x80, 18, 18); break;   /* a control IN reply */
    case 1: control_frame(h, ids[0], 0x80, 0x00, 18, 18); break;   /* direction disagrees */
    case 2: control_frame(h, ids[0], 0x80, 0x80, 18, 17); break;   /* data != length field */
    case 3: control_frame(h, ids[0], 0x80, 0x80, 19, 19); break;   /* longer than asked */
    case 4: control_frame(h, ids[0], 0x81, 0x80, 18, 18); break;   /* another endpoint */
    case 5: control_frame(h, ids[1], 0x00, 0x21, 4, 0); break;     /* a control OUT reply */
    case 6: control_frame(h, ids[1], 0x00, 0x21, 4, 4); break;     /* OUT reply with data */
    case 7: control_frame(h, ids[2], 0x80, 0x80, 8, 8); break;     /* answers a bulk request */
    case 8: control_frame(h, 999999, 0x80, 0x80, 8, 8); break;     /* late */
    case 9: bulk_frame(h, ids[2], 0x82, 10, 0, 10); break;         /* a bulk IN reply */
    case 10: bulk_frame(h, ids[4], 0x82, 10, 0, 10); break;        /* another stream */
    case 11: bulk_frame(h, ids[3], 0x02, URG_MAX_BULK_LENGTH + 1, 0, 0); break; /* too long */
    case 12: bulk_frame(h, ids[3], 0x02, 512, 0, 0); break;        /* a bulk OUT reply */
    case 13: bulk_frame(h, ids[2], 0x82, 513, 0, 513); break;      /* longer than asked */
    case 14: interrupt_frame(h, 7, 0x81, 8, 8); break;             /* stream data */
    case 15: interrupt_frame(h, 7, 0x81, 9, 9); break;             /* over the max packet */
    case 16: interrupt_frame(h, 7, 0x83, 8, 8); break;             /* no stream there */
    case 17: interrupt_frame(h, 7, 0x81, 0, 0); break;             /* empty stream data */
    case 18: interrupt_frame(h, ids[5], 0x04, 8, 0); break;        /* an interrupt OUT reply */
    case 19: interrupt_frame(h, ids[5], 0x04, 8, 8); break;        /* OUT reply with data */
    case 20: interrupt_frame(h, ids[5], 0x04, 9, 0); break;        /* more than was sent */
    case 21: raw_frame(h, URG_CONTROL_PACKET, 5, ids[0], five, 5); break; /* short */
    case 22: raw_frame(h, URG_CONTROL_PACKET, 0x7fffffffu, ids[0], five, 5); break; /* huge */
    case 23: interrupt_frame(h, ids[0], 0x04, 0, 0); break;       /* answers a control request */
    case 24: control_frame(h, ids[1], 0x00, 0xa1, 4, 0); break;    /* OUT, requesttype says IN */
    default: control_frame(h, ids[0], 0x80, 0x00, 18, 17); break;  /* disagrees, data != length */
    }
}

/* One case, fed whole (the engine's whole-frame path) or byte by byte
 * (the generic path): the recorder's log, the result, the error and the
 * stats. */
static char *whole_run(int k, int policy, size_t chunk, int *rc, int *err, char *msg,
                       struct urg_stats *st, int *warnings)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint64_t ids[16];
    uint8_t out[512];
    const char *m;
    char *log;
    memset(out, 7, sizeof(out));
    rec_init(&r);
    s = new_session(&r, ALL, policy);
    th_init(&h, ALL);
    th_pump(&h, s);
    th_hello(&h);
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    pend_everything(s, ids, out);
    th_pump(&h, s);
    /* The output was written: no OUT payload waits in the queue. */
    whole_case(&h, ids, k);
    /* and what follows it, a valid reply of each path */
    control_frame(&h, ids[0], 0x80, 0x80, 2, 2);
    bulk_frame(&h, ids[3], 0x02, 1, 0, 0);
    interrupt_frame(&h, 8, 0x81, 1, 1);
    *rc = th_flush(&h, s, chunk);
    *err = urg_session_error(s, &m);
    snprintf(msg, 256, "%s", m);
    urg_session_stats(s, st);
    urg_session_free(s);
    th_free(&h);
    *warnings = r.logs[URG_LOG_WARNING];
    /* Every pending request completed exactly once (the session's end
     * completes what the host left). */
    for (int i = 0; i < 14; i++)
        assert_int_equal(rec_count(&r, ids[i]), 1);
    log = r.log;
    r.log = NULL;
    rec_free(&r);
    return log ? log : strdup("");
}

static void test_whole_frames_as_byte_by_byte(void **state)
{
    int k, pol;
    (void)state;
    /* every policy: fail, skip, tolerate */
    for (pol = 0; pol < 3; pol++) {
        for (k = 0; k < WHOLE_CASES; k++) {
            int policy = pol == 2 ? URG_POLICY_TOLERATE : pol ? URG_POLICY_SKIP : URG_POLICY_FAIL;
            int rc[2], err[2], warn[2];
            char msg[2][256], *log[2];
            struct urg_stats st[2];
            for (int c = 0; c < 2; c++) {
                memset(&st[c], 0, sizeof(st[c]));
                log[c] = whole_run(k, policy, c ? 1 : 0, &rc[c], &err[c], msg[c], &st[c],
                                   &warn[c]);
            }
            assert_string_equal(log[0], log[1]);
            assert_int_equal(warn[0], warn[1]);
            assert_int_equal(err[0], pol ? 0 : whole_errs[k]);
            /* Tolerated: no error, the reply completes its request with
             * success, one warning; what skip reports, tolerate reports
             * too otherwise. */
            if (policy == URG_POLICY_TOLERATE && whole_tolerated(k)) {
                assert_null(strstr(log[0], "error "));
                assert_non_null(strstr(log[0], whole_tolerated(k)));
                assert_int_equal(warn[0], 1);
            } else if (policy != URG_POLICY_FAIL && whole_errs[k]) {
                assert_non_null(strstr(log[0], "error "));
            }
            assert_int_equal(rc[0], rc[1]);
            assert_int_equal(err[0], err[1]);
            assert_string_equal(msg[0], msg[1]);
            /* The bytes whole are not copied; fed byte by byte, each
             * payload is. Every other count is the same. */
            assert_int_equal(st[0].payload_copies, 0);
            st[1].payload_copies = 0;
            assert_memory_equal(&st[0], &st[1], sizeof(st[0]));
            free(log[0]);
            free(log[1]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replies_complete_requests),
        cmocka_unit_test(test_zero_copy_and_window),
        cmocka_unit_test(test_bad_replies_fail_the_session),
        cmocka_unit_test(test_bad_replies_skipped),
        cmocka_unit_test(test_protocol_errors_from_host),
        cmocka_unit_test(test_split_equivalence_every_caps_layout),
        cmocka_unit_test(test_whole_frames_as_byte_by_byte),
        cmocka_unit_test(test_tolerated_control_direction),
        cmocka_unit_test(test_tolerated_reply_fields),
    };
    return cmocka_run_group_tests_name("session_replies", tests, NULL, NULL);
}

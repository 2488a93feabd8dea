/*
 * test_session.c - the usb-guest session against the scripted test host.
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
#include "session.h" /* internal: the id counter */
#include "testhost.h"

#define ALL URG_CAPS_ALL
#define NO64 (URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_64BITS_IDS))

static const uint8_t GET_DEVICE_DESCRIPTOR[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
static const uint8_t SET_FEATURE_OUT4[8] = { 0x21, 9, 0, 2, 0, 0, 4, 0 };

/* ---------------------------------------------------------------- hello */

static void test_hello_first_and_caps(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    const struct th_packet *hp;
    struct iovec iov[4];
    uint64_t id;
    (void)state;
    rec_init(&r);
    s = new_session(&r, URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_FILTER), URG_POLICY_FAIL);
    th_init(&h, ALL);
    /* The hello is queued at once, with a 12-byte header. */
    assert_int_equal(urg_session_output(s, iov, 4), 1);
    assert_int_equal(iov[0].iov_len, 12 + 64 + 4);
    assert_int_equal(urg_session_output_pending(s), 80);
    assert_int_equal(urg_session_state(s), URG_STATE_WAIT_HELLO);
    /* No request before the host's hello. */
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), URG_ERR_STATE);
    assert_int_equal(urg_session_cancel(s, 1), URG_ERR_STATE);
    assert_int_equal(th_pump(&h, s), 1);
    hp = th_find(&h, URG_HELLO);
    assert_non_null(hp);
    assert_int_equal(hp->p.h.hello.caps[0], URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_FILTER));
    assert_string_equal(hp->p.h.hello.version, "usbredir-guest " URG_VERSION_STRING);
    th_hello(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.hello, 1);
    assert_non_null(strstr(r.log, "hello version=testhost 1.0 caps=0xff"));
    assert_int_equal(urg_session_state(s), URG_STATE_READY);
    assert_int_equal(urg_session_peer_caps(s), ALL);
    assert_int_equal(urg_session_caps(s), URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_FILTER));
    assert_string_equal(urg_session_peer_version(s), "testhost 1.0");
    assert_null(urg_session_device(s));
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), URG_ERR_NO_DEVICE);
    /* Filter packets need the filter cap, which we left out. */
    assert_int_equal(urg_session_filter_reject(s), URG_ERR_NO_CAP);
    assert_int_equal(urg_session_send_filter(s, "-1,-1,-1,-1,1"), URG_ERR_NO_CAP);
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(urg_session_state(s), URG_STATE_CONNECTED);
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), 0);
    assert_int_equal(id, 1);
    /* After both hellos the guest's packets carry 64-bit ids. */
    assert_int_equal(th_pump(&h, s), 1);
    assert_int_equal(urg_decoder_wire(h.dec).id64, 1);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* ---------------------------------------------------------------- requests */

static const struct urg_packet *last(struct testhost *h, uint32_t type)
{
    const struct th_packet *t = th_find(h, type);
    assert_non_null(t);
    return &t->p;
}

static void test_every_request_on_the_wire(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t out[70000], iso[3] = { 1, 2, 3 };
    const struct urg_packet *p;
    uint64_t id;
    (void)state;
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    memset(out, 0x5a, sizeof(out));

    assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, NULL, NULL, &id), 0);
    th_pump(&h, s);
    p = last(&h, URG_CONTROL_PACKET);
    assert_int_equal(p->id, id);
    assert_int_equal(p->h.control.endpoint, 0x80);
    assert_int_equal(p->h.control.requesttype, 0x80);
    assert_int_equal(p->h.control.request, 6);
    assert_int_equal(p->h.control.value, 0x0100);
    assert_int_equal(p->h.control.length, 18);
    assert_int_equal(p->data_len, 0);

    assert_int_equal(urg_session_control(s, 0, SET_FEATURE_OUT4, out, NULL, &id), 0);
    th_pump(&h, s);
    p = last(&h, URG_CONTROL_PACKET);
    assert_int_equal(p->h.control.endpoint, 0x00);
    assert_int_equal(p->data_len, 4);
    assert_memory_equal(p->data, out, 4);

    assert_int_equal(urg_session_bulk(s, 0x02, 0, 70000, out, NULL, &id), 0);
    th_pump(&h, s);
    p = last(&h, URG_BULK_PACKET);
    assert_int_equal(p->h.bulk.endpoint, 0x02);
    assert_int_equal(p->h.bulk.length, 70000);
    assert_int_equal(p->data_len, 70000);
    assert_memory_equal(p->data, out, 70000);

    assert_int_equal(urg_session_bulk(s, 0x82, 5, 4096, NULL, NULL, &id), 0);
    th_pump(&h, s);
    p = last(&h, URG_BULK_PACKET);
    assert_int_equal(p->h.bulk.endpoint, 0x82);
    assert_int_equal(p->h.bulk.stream_id, 5);
    assert_int_equal(p->h.bulk.length, 4096);
    assert_int_equal(p->data_len, 0);

    assert_int_equal(urg_session_interrupt_out(s, 0x04, 3, iso, NULL, &id), 0);
    th_pump(&h, s);
    p = last(&h, URG_INTERRUPT_PACKET);
    assert_int_equal(p->h.interrupt.endpoint, 0x04);
    assert_memory_equal(p->data, iso, 3);

    /* Iso OUT is copied: changing the buffer after the call is fine. */
    assert_int_equal(urg_session_iso_out(s, 0x03, 3, iso), 0);
    iso[0] = 99;
    th_pump(&h, s);
    p = last(&h, URG_ISO_PACKET);
    assert_int_equal(p->h.iso.endpoint, 0x03);
    assert_int_equal(p->data[0], 1);

    assert_int_equal(urg_session_set_configuration(s, 2, NULL, &id), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), 0);
    assert_int_equal(urg_session_set_alt_setting(s, 1, 3, NULL, &id), 0);
    assert_int_equal(urg_session_get_alt_setting(s, 1, NULL, &id), 0);
    assert_int_equal(urg_session_start_interrupt_receiving(s, 0x81, NULL, &id), 0);
    assert_int_equal(urg_session_stop_interrupt_receiving(s, 0x81, NULL, &id), 0);
    assert_int_equal(urg_session_start_bulk_receiving(s, 0x82, 0, 2048, 5, NULL, &id), 0);
    assert_int_equal(urg_session_stop_bulk_receiving(s, 0x82, 0, NULL, &id), 0);
    assert_int_equal(urg_session_start_iso_stream(s, 0x83, 8, 4, NULL, &id), 0);
    assert_int_equal(urg_session_stop_iso_stream(s, 0x83, NULL, &id), 0);
    assert_int_equal(urg_session_alloc_bulk_streams(s, 1u << 18, 16, NULL, &id), 0);
    assert_int_equal(urg_session_free_bulk_streams(s, 1u << 18, NULL, &id), 0);
    assert_int_equal(urg_session_reset(s), 0);
    assert_int_equal(urg_session_send_filter(s, "8,-1,-1,-1,1"), 0);
    assert_int_equal(urg_session_filter_reject(s), 0);
    assert_int_equal(th_pump(&h, s), 15);
    assert_int_equal(last(&h, URG_SET_CONFIGURATION)->h.set_configuration.configuration, 2);
    assert_non_null(th_find(&h, URG_GET_CONFIGURATION));
    assert_int_equal(last(&h, URG_SET_ALT_SETTING)->h.set_alt_setting.alt, 3);
    assert_int_equal(last(&h, URG_GET_ALT_SETTING)->h.get_alt_setting.interface, 1);
    assert_int_equal(last(&h, URG_START_INTERRUPT_RECEIVING)->h.start_interrupt_receiving.endpoint,
                     0x81);
    assert_int_equal(last(&h, URG_STOP_INTERRUPT_RECEIVING)->h.stop_interrupt_receiving.endpoint,
                     0x81);
    p = last(&h, URG_START_BULK_RECEIVING);
    assert_int_equal(p->h.start_bulk_receiving.bytes_per_transfer, 2048);
    assert_int_equal(p->h.start_bulk_receiving.no_transfers, 5);
    assert_int_equal(last(&h, URG_STOP_BULK_RECEIVING)->h.stop_bulk_receiving.endpoint, 0x82);
    p = last(&h, URG_START_ISO_STREAM);
    assert_int_equal(p->h.start_iso_stream.pkts_per_urb, 8);
    assert_int_equal(p->h.start_iso_stream.no_urbs, 4);
    assert_int_equal(last(&h, URG_STOP_ISO_STREAM)->h.stop_iso_stream.endpoint, 0x83);
    p = last(&h, URG_ALLOC_BULK_STREAMS);
    assert_int_equal(p->h.alloc_bulk_streams.endpoints, 1u << 18);
    assert_int_equal(p->h.alloc_bulk_streams.no_streams, 16);
    assert_int_equal(last(&h, URG_FREE_BULK_STREAMS)->h.free_bulk_streams.endpoints, 1u << 18);
    assert_non_null(th_find(&h, URG_RESET));
    p = last(&h, URG_FILTER_FILTER);
    assert_string_equal((const char *)p->data, "0x08,-1,-1,-1,1");
    assert_non_null(th_find(&h, URG_FILTER_REJECT));
    assert_int_equal(h.dec_err, 0);

    /* Caller errors. */
    assert_int_equal(urg_session_start_interrupt_receiving(s, 0x01, NULL, &id),
                     URG_ERR_PROTO_NOT_IN_EP);
    assert_int_equal(urg_session_interrupt_out(s, 0x81, 1, iso, NULL, &id), URG_ERR_INVALID);
    assert_int_equal(urg_session_iso_out(s, 0x83, 1, iso), URG_ERR_INVALID);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 4, NULL, NULL, &id), URG_ERR_INVALID);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, URG_MAX_BULK_LENGTH + 1, out, NULL, &id),
                     URG_ERR_TOO_LONG);
    assert_int_equal(urg_session_control(s, 0, SET_FEATURE_OUT4, NULL, NULL, &id),
                     URG_ERR_INVALID);
    assert_int_equal(urg_session_control(s, 0x70, GET_DEVICE_DESCRIPTOR, NULL, NULL, &id),
                     URG_ERR_INVALID);
    assert_int_equal(urg_session_send_filter(s, "1,2"), URG_ERR_FILTER_SYNTAX);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

static void test_caps_limit_requests(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t out[70000];
    uint64_t id;
    (void)state;
    rec_init(&r);
    /* The host has none of the optional caps. */
    s = connected_session(&r, &h, ALL, 0);
    assert_int_equal(urg_session_caps(s), 0);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 65536, out, NULL, &id), URG_ERR_TOO_LONG);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 65535, out, NULL, &id), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 3, 512, NULL, NULL, &id), URG_ERR_NO_CAP);
    assert_int_equal(urg_session_start_bulk_receiving(s, 0x82, 0, 512, 2, NULL, &id),
                     URG_ERR_NO_CAP);
    assert_int_equal(urg_session_stop_bulk_receiving(s, 0x82, 0, NULL, &id), URG_ERR_NO_CAP);
    assert_int_equal(urg_session_alloc_bulk_streams(s, 1, 2, NULL, &id), URG_ERR_NO_CAP);
    assert_int_equal(urg_session_free_bulk_streams(s, 1, NULL, &id), URG_ERR_NO_CAP);
    assert_int_equal(urg_session_filter_reject(s), URG_ERR_NO_CAP);
    /* 32-bit ids on the wire. */
    th_pump(&h, s);
    assert_int_equal(urg_decoder_wire(h.dec).id64, 0);
    assert_int_equal(last(&h, URG_BULK_PACKET)->h.bulk.length, 65535);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

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

/* ---------------------------------------------------------------- ids */

static void test_ids(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint64_t a, b, c, d;
    (void)state;
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    /* 64-bit ids go past 32 bits. */
    s->pt.next_id = 0xfffffffeull;
    assert_int_equal(urg_session_get_configuration(s, NULL, &a), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &b), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &c), 0);
    assert_int_equal(a, 0xfffffffeull);
    assert_int_equal(c, 0x100000000ull);
    th_pump(&h, s);
    assert_int_equal(last(&h, URG_GET_CONFIGURATION)->id, 0x100000000ull);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    /* 32-bit ids wrap, skipping 0 and every id still pending. */
    rec_init(&r);
    s = connected_session(&r, &h, NO64, ALL);
    assert_int_equal(urg_session_get_configuration(s, NULL, &a), 0); /* id 1 */
    assert_int_equal(a, 1);
    s->pt.next_id = 0xffffffffull;
    assert_int_equal(urg_session_get_configuration(s, NULL, &b), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &c), 0);
    assert_int_equal(b, 0xffffffffull);
    assert_int_equal(c, 2); /* 0 is never used, 1 is pending */
    /* An id whose index slot is taken is skipped too. */
    s->pt.next_id = 2 + s->pt.index_size;
    assert_int_equal(urg_session_get_configuration(s, NULL, &d), 0);
    assert_int_equal(d, 3 + s->pt.index_size);
    th_pump(&h, s);
    assert_int_equal(last(&h, URG_GET_CONFIGURATION)->id, d);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

static void test_many_pending_each_once(void **state)
{
    enum { N = 100000 };
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint64_t *ids = malloc(N * sizeof(*ids));
    uint32_t rng = 42;
    struct urg_packet p;
    int i;
    (void)state;
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    for (i = 0; i < N; i++)
        assert_int_equal(urg_session_bulk(s, 0x82, 0, 64, NULL, NULL, &ids[i]), 0);
    assert_int_equal(urg_session_pending_count(s), N);
    th_pump(&h, s);
    /* Answer in a random order. */
    for (i = N - 1; i > 0; i--) {
        int j = (int)(rnd(&rng) % (uint32_t)(i + 1));
        uint64_t t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
    }
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.h.bulk.endpoint = 0x82;
    p.h.bulk.length = 1;
    p.data = (const uint8_t *)"x";
    p.data_len = 1;
    for (i = 0; i < N; i++) {
        p.id = ids[i];
        th_emit(&h, &p);
    }
    assert_int_equal(th_flush(&h, s, 4096), 0);
    assert_int_equal(r.ndone, N);
    assert_int_equal(urg_session_pending_count(s), 0);
    for (i = 0; i < N; i++)
        assert_int_equal(r.done[i].c.id, ids[i]);
    {
        struct urg_stats st;
        urg_session_stats(s, &st);
        assert_int_equal(st.pending_max, N);
        assert_int_equal(st.completions, N);
        assert_int_equal(st.late_replies, 0);
    }
    free(ids);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* ---------------------------------------------------------------- cancel */

static void test_cancel(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint64_t a, b, cfg;
    uint8_t data[4] = { 9, 8, 7, 6 };
    struct urg_packet p;
    struct urg_stats st;
    size_t before;
    (void)state;
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 4, NULL, NULL, &a), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 4, NULL, NULL, &b), 0);
    assert_int_equal(urg_session_set_configuration(s, 1, NULL, &cfg), 0);
    assert_int_equal(urg_session_cancel(s, a), 0);
    assert_int_equal(urg_session_cancel(s, a), 0); /* a no-op */
    assert_int_equal(urg_session_cancel(s, b), 0);
    assert_int_equal(urg_session_cancel(s, cfg), URG_ERR_NOT_CANCELLABLE);
    assert_int_equal(urg_session_cancel(s, 777), URG_ERR_NOT_FOUND);
    before = h.npkts;
    th_pump(&h, s);
    /* bulk a, bulk b, set_configuration, cancel a, cancel b */
    assert_int_equal(h.npkts - before, 5);
    assert_int_equal(h.pkts[before + 3].p.type, URG_CANCEL_DATA_PACKET);
    assert_int_equal(h.pkts[before + 3].p.id, a);
    assert_int_equal(h.pkts[before + 4].p.id, b);
    /* a was still running: the host answers cancelled. b had finished:
     * its real reply was on the wire and the host sends nothing more. */
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = b;
    p.h.bulk.endpoint = 0x82;
    p.h.bulk.length = 4;
    p.data = data;
    p.data_len = 4;
    th_emit(&h, &p);
    p.id = a;
    p.h.bulk.status = URG_STATUS_CANCELLED;
    p.h.bulk.length = 0;
    p.data_len = 0;
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 3), 0);
    assert_int_equal(rec_count(&r, a), 1);
    assert_int_equal(rec_count(&r, b), 1);
    assert_int_equal(rec_find(&r, a)->c.status, URG_STATUS_CANCELLED);
    assert_int_equal(rec_find(&r, a)->c.cancel_requested, 1);
    assert_int_equal(rec_find(&r, b)->c.status, URG_STATUS_SUCCESS);
    assert_int_equal(rec_find(&r, b)->c.length, 4);
    assert_memory_equal(rec_find(&r, b)->data, data, 4);
    assert_int_equal(urg_session_cancel(s, a), URG_ERR_NOT_FOUND);
    /* A broken host answering a again: dropped and counted. */
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(rec_count(&r, a), 1);
    urg_session_stats(s, &st);
    assert_int_equal(st.late_replies, 1);
    assert_int_equal(urg_session_state(s), URG_STATE_CONNECTED);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}


static void test_forget(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t *out = malloc(300), in_buf[4000], data[4000];
    uint64_t a, b, c, d;
    struct urg_packet p;
    struct urg_stats st;
    void *wb;
    size_t wl, before;
    (void)state;
    memset(out, 0x61, 300);
    memset(data, 0x62, sizeof(data));
    memset(in_buf, 0, sizeof(in_buf));
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 300, out, NULL, &a), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 4000, in_buf, NULL, &b), 0);
    assert_int_equal(urg_session_set_configuration(s, 1, NULL, &c), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 8, NULL, NULL, &d), 0);
    /* OUT payload not written yet: forget copies it; the caller frees it. */
    assert_int_equal(urg_session_forget(s, a), 0);
    memset(out, 0, 300);
    free(out);
    assert_int_equal(urg_session_forget(s, a), URG_ERR_NOT_FOUND);
    assert_int_equal(urg_session_forget(s, c), 0); /* not a data request */
    assert_int_equal(urg_session_pending_count(s), 2);
    before = h.npkts;
    th_pump(&h, s);
    /* bulk a (its copied payload intact), bulk b, set_config, bulk d, and
     * one cancel_data_packet for a (none for set_configuration). */
    assert_int_equal(h.npkts - before, 5);
    assert_int_equal(h.pkts[before].p.data[299], 0x61);
    assert_int_equal(h.pkts[before + 4].p.type, URG_CANCEL_DATA_PACKET);
    assert_int_equal(h.pkts[before + 4].p.id, a);
    /* b's reply arrives through the window; b is forgotten halfway. */
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = b;
    p.h.bulk.endpoint = 0x82;
    p.h.bulk.length = 4000;
    p.data = data;
    p.data_len = 4000;
    th_emit(&h, &p);
    assert_int_equal(urg_session_recv(s, h.out, 26), 0);
    assert_int_equal(urg_session_recv_window(s, &wb, &wl), 1);
    assert_ptr_equal(wb, in_buf);
    memcpy(wb, h.out + 26, 1000);
    assert_int_equal(urg_session_recv_commit(s, 1000), 0);
    assert_int_equal(urg_session_recv_window(s, &wb, &wl), 1);
    assert_int_equal(urg_session_forget(s, b), 0);
    /* Bytes read into the window before the forget still count. */
    assert_int_equal(urg_session_recv_commit(s, 500), 0);
    memset(in_buf, 0, sizeof(in_buf));
    assert_int_equal(urg_session_recv_window(s, &wb, &wl), 0);
    assert_int_equal(urg_session_recv(s, h.out + 26 + 1500, h.out_len - 26 - 1500), 0);
    h.out_len = 0;
    assert_int_equal(in_buf[3999], 0); /* never written after the forget */
    /* The host answers the forgotten ones; d still completes normally. */
    p.id = a;
    p.h.bulk.endpoint = 0x02;
    p.h.bulk.status = URG_STATUS_CANCELLED;
    p.h.bulk.length = 0;
    p.data_len = 0;
    th_emit(&h, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_CONFIGURATION_STATUS;
    p.id = c;
    th_emit(&h, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = d;
    p.h.bulk.endpoint = 0x82;
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 5), 0);
    assert_int_equal(r.ndone, 1);
    assert_int_equal(r.done[0].c.id, d);
    urg_session_stats(s, &st);
    assert_int_equal(st.forgotten, 3);
    /* a's and c's answers are late; b's came while it was still pending:
     * the rest of its payload (500 committed + 2500 fed) was skipped. */
    assert_int_equal(st.late_replies, 2);
    assert_int_equal(st.skipped_bytes, 3000);
    assert_int_equal(urg_session_state(s), URG_STATE_CONNECTED);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* ---------------------------------------------------------------- disconnect */

static uint64_t pend_everything(urg_session *s, uint64_t *ids, uint8_t *out)
{
    int n = 0;
    assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, NULL, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_control(s, 0, SET_FEATURE_OUT4, out, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 512, NULL, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 512, out, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 2, 512, NULL, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_interrupt_out(s, 0x04, 8, out, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_set_configuration(s, 1, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_set_alt_setting(s, 1, 1, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_get_alt_setting(s, 1, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_start_interrupt_receiving(s, 0x81, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_start_iso_stream(s, 0x83, 8, 4, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_start_bulk_receiving(s, 0x82, 0, 512, 4, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_alloc_bulk_streams(s, 1u << 18, 4, NULL, &ids[n++]), 0);
    return (uint64_t)n;
}

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

/* A hostile host answers an OUT request before the guest finished writing
 * it: the completion must not leave the queue pointing at the buffer. */
static void test_early_reply_detaches_out_payload(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t *out = malloc(1000);
    uint64_t id;
    struct urg_packet p;
    (void)state;
    memset(out, 0x77, 1000);
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 1000, out, NULL, &id), 0);
    assert_int_equal(urg_session_consume(s, 10), 0); /* part of the header */
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = id;
    p.h.bulk.endpoint = 0x02;
    p.h.bulk.length = 1000;
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(rec_count(&r, id), 1);
    free(out); /* the caller may free it now */
    {
        struct iovec iov[8];
        int n = urg_session_output(s, iov, 8), k;
        size_t total = 0;
        for (k = 0; k < n; k++) {
            total += iov[k].iov_len;
            if (iov[k].iov_len == 1000)
                assert_int_equal(((uint8_t *)iov[k].iov_base)[999], 0x77);
        }
        assert_int_equal(total, 16 + 10 + 1000 - 10);
        assert_int_equal(urg_session_consume(s, total), 0);
    }
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
        uint8_t *copy = malloc(h.out_len);
        size_t len = h.out_len;
        const uint8_t *seen;
        memcpy(copy, h.out, len);
        h.out_len = 0;
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
    assert_int_equal(urg_session_recv(s, h.out, 26), 0); /* headers only */
    assert_int_equal(urg_session_recv_window(s, &wb, &wl), 1);
    assert_ptr_equal(wb, dest);
    assert_int_equal(wl, sizeof(dest));
    memcpy(wb, h.out + 26, 10000);
    assert_int_equal(urg_session_recv_commit(s, 10000), 0);
    assert_int_equal(urg_session_recv_window(s, &wb, &wl), 1);
    assert_ptr_equal(wb, dest + 10000);
    memcpy(wb, h.out + 26 + 10000, wl);
    assert_int_equal(urg_session_recv_commit(s, wl), 0);
    h.out_len = 0;
    assert_int_equal(rec_count(&r, id), 1);
    assert_memory_equal(dest, big, sizeof(big));
    assert_int_equal(rec_find(&r, id)->c.length, sizeof(big));
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

static void test_output_iovecs_and_backpressure(void **state)
{
    struct urg_session_config cfg;
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t out[800];
    struct iovec iov[8];
    uint64_t id;
    int n;
    (void)state;
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    /* Small packets merge into one iovec; a bulk OUT payload is the
     * caller's own buffer. */
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), 0);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, sizeof(out), out, NULL, &id), 0);
    n = urg_session_output(s, iov, 8);
    assert_int_equal(n, 2);
    assert_int_equal(iov[0].iov_len, 16 + 16 + 26);
    assert_ptr_equal(iov[1].iov_base, out);
    assert_int_equal(iov[1].iov_len, sizeof(out));
    assert_int_equal(urg_session_output_pending(s), 58 + 800);
    assert_int_equal(urg_session_consume(s, 60), 0);
    n = urg_session_output(s, iov, 8);
    assert_int_equal(n, 1);
    assert_ptr_equal(iov[0].iov_base, out + 2);
    assert_int_equal(urg_session_output(s, iov, 0), 0);
    assert_int_equal(urg_session_consume(s, 799), URG_ERR_INVALID);
    assert_int_equal(urg_session_consume(s, 798), 0);
    assert_int_equal(urg_session_output_pending(s), 0);
    assert_int_equal(urg_session_output(s, iov, 8), 0);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    /* A bound on queued output. */
    rec_init(&r);
    urg_session_config_init(&cfg);
    cfg.max_output_bytes = 1000;
    s = connected_session_cfg(&r, &h, &cfg, ALL);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 600, out, NULL, &id), 0);      /* 626 */
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 800, out, NULL, &id), URG_ERR_AGAIN);
    assert_int_equal(urg_session_iso_out(s, 0x03, 192, out), 0);                  /* 838 */
    assert_int_equal(urg_session_iso_out(s, 0x03, 192, out), URG_ERR_AGAIN);      /* 1050 */
    assert_int_equal(urg_session_output_pending(s), 838);
    /* One-way packets the application sends are bounded as requests are;
     * a cancel never is (one per pending request at most). */
    assert_int_equal(urg_session_reset(s), 0);                                   /* 854 */
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 512, NULL, NULL, &id), 0);     /* 880 */
    assert_int_equal(urg_session_iso_out(s, 0x03, 101, out), URG_ERR_AGAIN);     /* 1001 */
    assert_int_equal(urg_session_iso_out(s, 0x03, 100, out), 0);                  /* 1000 */
    assert_int_equal(urg_session_reset(s), URG_ERR_AGAIN);
    assert_int_equal(urg_session_send_filter(s, "-1,-1,-1,-1,1"), URG_ERR_AGAIN);
    assert_int_equal(urg_session_cancel(s, id), 0);
    assert_int_equal(urg_session_output_pending(s), 1000 + 16);
    th_pump(&h, s);
    assert_int_equal(th_count(&h, URG_CANCEL_DATA_PACKET), 1);
    assert_int_equal(th_count(&h, URG_RESET), 1);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 800, out, NULL, &id), 0);
    /* A single request bigger than the bound goes when the queue is empty. */
    th_pump(&h, s);
    {
        static uint8_t big[5000];
        assert_int_equal(urg_session_bulk(s, 0x02, 0, sizeof(big), big, NULL, &id), 0);
    }
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* ---------------------------------------------------------------- streams */

static void emit_status(struct testhost *h, uint32_t type, uint64_t id, uint8_t ep, uint8_t status)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = type;
    p.id = id;
    switch (type) {
    case URG_INTERRUPT_RECEIVING_STATUS:
        p.h.interrupt_receiving_status.endpoint = ep;
        p.h.interrupt_receiving_status.status = status;
        break;
    case URG_ISO_STREAM_STATUS:
        p.h.iso_stream_status.endpoint = ep;
        p.h.iso_stream_status.status = status;
        break;
    default:
        p.h.bulk_receiving_status.endpoint = ep;
        p.h.bulk_receiving_status.status = status;
        break;
    }
    th_emit(h, &p);
}

/* Starts stream kind k (0 interrupt, 1 iso, 2 bulk receiving) on ep. */
static uint64_t start_stream(urg_session *s, int k, uint8_t ep)
{
    uint64_t id = 0;
    switch (k) {
    case 0: assert_int_equal(urg_session_start_interrupt_receiving(s, ep, NULL, &id), 0); break;
    case 1: assert_int_equal(urg_session_start_iso_stream(s, ep, 8, 4, NULL, &id), 0); break;
    default: assert_int_equal(urg_session_start_bulk_receiving(s, ep, 0, 512, 4, NULL, &id), 0);
    }
    return id;
}

static void test_stream_statuses(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint64_t start, stop, bulk;
    struct urg_stats st;
    int k;
    static const uint32_t kinds[3][3] = {
        { URG_START_INTERRUPT_RECEIVING, URG_STOP_INTERRUPT_RECEIVING,
          URG_INTERRUPT_RECEIVING_STATUS },
        { URG_START_ISO_STREAM, URG_STOP_ISO_STREAM, URG_ISO_STREAM_STATUS },
        { URG_START_BULK_RECEIVING, URG_STOP_BULK_RECEIVING, URG_BULK_RECEIVING_STATUS },
    };
    static const uint8_t eps[3] = { 0x81, 0x83, 0x82 };
    (void)state;
    for (k = 0; k < 3; k++) {
        uint8_t ep = eps[k];
        rec_init(&r);
        s = connected_session(&r, &h, ALL, ALL);
        start = start_stream(s, k, ep);
        assert_int_equal(urg_session_bulk(s, 0x82, 0, 8, NULL, NULL, &bulk), 0);
        th_pump(&h, s);
        assert_int_equal(urg_session_stream_active(s, kinds[k][0], ep), 0);
        emit_status(&h, kinds[k][2], start, ep, URG_STATUS_SUCCESS);
        assert_int_equal(th_flush(&h, s, 0), 0);
        assert_int_equal(rec_find(&r, start)->c.status, URG_STATUS_SUCCESS);
        assert_int_equal(urg_session_stream_active(s, kinds[k][0], ep), 1);
        /* A status with the id of a pending bulk request is not its reply. */
        emit_status(&h, kinds[k][2], bulk, ep, URG_STATUS_SUCCESS);
        /* An unsolicited stall (id 0) means the host stopped the stream. */
        emit_status(&h, kinds[k][2], 0, ep, URG_STATUS_STALL);
        assert_int_equal(th_flush(&h, s, 0), 0);
        assert_int_equal(rec_count(&r, bulk), 0);
        assert_int_equal(r.stream_status, 2);
        assert_non_null(strstr(r.log, "status=stall"));
        assert_int_equal(urg_session_stream_active(s, kinds[k][0], ep), 0);
        urg_session_stats(s, &st);
        assert_int_equal(st.unsolicited_statuses, 2);
        /* Restart, then stop. */
        start = start_stream(s, k, ep);
        emit_status(&h, kinds[k][2], start, ep, URG_STATUS_SUCCESS);
        assert_int_equal(th_flush(&h, s, 0), 0);
        assert_int_equal(urg_session_stream_active(s, kinds[k][0], ep), 1);
        switch (k) {
        case 0: assert_int_equal(urg_session_stop_interrupt_receiving(s, ep, NULL, &stop), 0); break;
        case 1: assert_int_equal(urg_session_stop_iso_stream(s, ep, NULL, &stop), 0); break;
        default: assert_int_equal(urg_session_stop_bulk_receiving(s, ep, 0, NULL, &stop), 0);
        }
        emit_status(&h, kinds[k][2], stop, ep, URG_STATUS_SUCCESS);
        assert_int_equal(th_flush(&h, s, 0), 0);
        assert_int_equal(rec_count(&r, stop), 1);
        assert_int_equal(urg_session_stream_active(s, kinds[k][0], ep), 0);
        assert_int_equal(urg_session_stream_active(s, URG_BULK_PACKET, ep), 0);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

static void test_stream_data(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t rep[8] = { 0, 0, 4, 0, 0, 0, 0, 0 }, audio[192], serial[300];
    (void)state;
    memset(audio, 0x44, sizeof(audio));
    memset(serial, 0x55, sizeof(serial));
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    start_stream(s, 0, 0x81);
    start_stream(s, 1, 0x83);
    start_stream(s, 2, 0x82);
    /* Data may follow a start at once (before its status). */
    th_stream_data(&h, URG_INTERRUPT_PACKET, 0x81, rep, 8, 0);
    th_stream_data(&h, URG_ISO_PACKET, 0x83, audio, 192, 0);
    th_stream_data(&h, URG_BUFFERED_BULK_PACKET, 0x82, serial, 300, 0);
    assert_int_equal(th_flush(&h, s, 1), 0);
    assert_int_equal(r.stream_data, 3);
    assert_int_equal(r.stream_bytes, 8 + 192 + 300);
    assert_non_null(strstr(r.log, "data interrupt_packet id=0 ep=0x81 status=success stream=0 "
                                  "0000040000000000"));
    assert_non_null(strstr(r.log, "data iso_packet id=1 ep=0x83"));
    assert_non_null(strstr(r.log, "data buffered_bulk_packet id=2 ep=0x82"));
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* An allocator that counts the bytes it holds at most. */
struct peak {
    size_t live, peak;
};
static void *peak_malloc(void *ctx, size_t n)
{
    struct peak *p = ctx;
    size_t *b = malloc(sizeof(size_t) * 2 + n);
    if (!b)
        return NULL;
    b[0] = n;
    p->live += n;
    if (p->live > p->peak)
        p->peak = p->live;
    return b + 2;
}
static void peak_free(void *ctx, void *ptr)
{
    struct peak *p = ctx;
    size_t *b = (size_t *)ptr - 2;
    p->live -= b[0];
    free(b);
}
static void *peak_realloc(void *ctx, void *ptr, size_t n)
{
    void *q = peak_malloc(ctx, n);
    if (q && ptr) {
        size_t old = ((size_t *)ptr)[-2];
        memcpy(q, ptr, old < n ? old : n);
        peak_free(ctx, ptr);
    }
    return q;
}

/* A hostile host sends stream data nobody asked for, and more than a
 * stream's transfers hold: skipped unbuffered, or refused. */
static void test_stream_data_bounded(void **state)
{
    struct urg_session_config cfg;
    struct peak pk = { 0, 0 };
    struct urg_allocator a = { peak_malloc, peak_realloc, peak_free, &pk };
    struct rec r;
    struct testhost h;
    struct urg_stats st;
    urg_session *s;
    static uint8_t big[1u << 20];
    uint8_t hdr[64];
    size_t before;
    int k;
    (void)state;
    rec_init(&r);
    urg_session_config_init(&cfg);
    cfg.allocator = &a;
    s = connected_session_cfg(&r, &h, &cfg, ALL);
    before = pk.peak;
    /* No stream runs: 1 MiB of buffered bulk data, fed 4 KiB at a time (so
     * it straddles every call), and interrupt and iso data are skipped
     * without a byte buffered. */
    th_stream_data(&h, URG_BUFFERED_BULK_PACKET, 0x82, big, sizeof(big), 0);
    th_stream_data(&h, URG_INTERRUPT_PACKET, 0x81, big, 8, 0);
    th_stream_data(&h, URG_ISO_PACKET, 0x83, big, 192, 0);
    assert_int_equal(th_flush(&h, s, 4096), 0);
    assert_int_equal(r.stream_data, 0);
    urg_session_stats(s, &st);
    assert_int_equal(st.stream_discarded, 3);
    assert_int_equal(st.payload_copies, 0);
    assert_true(pk.peak - before < 4096);
    assert_int_equal(urg_session_state(s), URG_STATE_CONNECTED);

    /* Running streams take what their transfers hold, no more. */
    start_stream(s, 0, 0x81); /* max packet 8 */
    start_stream(s, 1, 0x83); /* max packet 192 */
    start_stream(s, 2, 0x82); /* bytes_per_transfer 512 */
    th_stream_data(&h, URG_INTERRUPT_PACKET, 0x81, big, 8, 0);
    th_stream_data(&h, URG_ISO_PACKET, 0x83, big, 192, 0);
    th_stream_data(&h, URG_BUFFERED_BULK_PACKET, 0x82, big, 512, 0);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.stream_data, 3);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    /* One byte over: the session fails with its own error, before the
     * payload is read (a 128 MiB one is refused on its header). */
    for (k = 0; k < 4; k++) {
        static const uint32_t types[4] = { URG_INTERRUPT_PACKET, URG_ISO_PACKET,
                                           URG_BUFFERED_BULK_PACKET, URG_BUFFERED_BULK_PACKET };
        static const uint8_t eps[4] = { 0x81, 0x83, 0x82, 0x82 };
        static const uint32_t lens[4] = { 9, 193, 513, 128u << 20 };
        rec_init(&r);
        s = connected_session(&r, &h, ALL, ALL);
        start_stream(s, k < 2 ? k : 2, eps[k]);
        if (lens[k] <= sizeof(big)) {
            th_stream_data(&h, types[k], eps[k], big, lens[k], 0);
        } else {
            /* Headers only: the session must refuse before the payload. */
            struct urg_packet p;
            struct urg_wire w = th_wire(&h);
            int n;
            memset(&p, 0, sizeof(p));
            p.type = URG_BUFFERED_BULK_PACKET;
            p.h.buffered_bulk.endpoint = 0x82;
            p.h.buffered_bulk.length = lens[k];
            p.data = big;
            p.data_len = lens[k];
            n = urg_encode(&w, URG_DIR_TO_GUEST, &p, hdr, sizeof(hdr));
            assert_true(n > 0);
            th_raw(&h, hdr, (size_t)n);
        }
        assert_int_equal(th_flush(&h, s, 0), URG_ERR_PROTO_STREAM_LENGTH);
        assert_int_equal(r.fatal, 1);
        assert_int_equal(r.last_error, URG_ERR_PROTO_STREAM_LENGTH);
        assert_int_equal(r.stream_data, 0);
        /* Reported to the error callback, so not logged too. */
        assert_int_equal(r.logs[URG_LOG_ERROR] + r.logs[URG_LOG_WARNING], 0);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

/* Streams started, refused, stopped and started again: data of a stream
 * that runs (or starts) is never dropped, and a buffered bulk stream's old
 * transfers bound its data until the new start is answered. */
static void test_stream_restarts(void **state)
{
    static uint8_t data[1024];
    struct urg_stats st;
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint64_t a, b, stop;
    (void)state;
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    /* A running stream survives a second start the host refuses. */
    a = start_stream(s, 0, 0x81);
    b = start_stream(s, 0, 0x81);
    emit_status(&h, URG_INTERRUPT_RECEIVING_STATUS, a, 0x81, URG_STATUS_SUCCESS);
    emit_status(&h, URG_INTERRUPT_RECEIVING_STATUS, b, 0x81, URG_STATUS_INVAL);
    th_stream_data(&h, URG_INTERRUPT_PACKET, 0x81, data, 8, 0);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.stream_data, 1);
    assert_int_equal(urg_session_stream_active(s, URG_START_INTERRUPT_RECEIVING, 0x81), 1);
    /* Two starts pending: the first failing leaves the second's data. */
    a = start_stream(s, 1, 0x83);
    b = start_stream(s, 1, 0x83);
    emit_status(&h, URG_ISO_STREAM_STATUS, a, 0x83, URG_STATUS_INVAL);
    th_stream_data(&h, URG_ISO_PACKET, 0x83, data, 192, 0);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.stream_data, 2);
    emit_status(&h, URG_ISO_STREAM_STATUS, b, 0x83, URG_STATUS_SUCCESS);
    assert_int_equal(th_flush(&h, s, 0), 0);
    /* Buffered bulk at 1024, stopped, started again at 512: 1024 bytes of
     * the old stream still in the pipe are taken, until the new start is
     * answered. */
    assert_int_equal(urg_session_start_bulk_receiving(s, 0x82, 0, 1024, 4, NULL, &a), 0);
    emit_status(&h, URG_BULK_RECEIVING_STATUS, a, 0x82, URG_STATUS_SUCCESS);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(urg_session_stop_bulk_receiving(s, 0x82, 0, NULL, &stop), 0);
    assert_int_equal(urg_session_start_bulk_receiving(s, 0x82, 0, 512, 4, NULL, &b), 0);
    th_stream_data(&h, URG_BUFFERED_BULK_PACKET, 0x82, data, 1024, 0);
    emit_status(&h, URG_BULK_RECEIVING_STATUS, stop, 0x82, URG_STATUS_SUCCESS);
    emit_status(&h, URG_BULK_RECEIVING_STATUS, b, 0x82, URG_STATUS_SUCCESS);
    th_stream_data(&h, URG_BUFFERED_BULK_PACKET, 0x82, data, 512, 0);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.stream_data, 4);
    urg_session_stats(s, &st);
    assert_int_equal(st.stream_discarded, 0);
    th_stream_data(&h, URG_BUFFERED_BULK_PACKET, 0x82, data, 513, 0);
    assert_int_equal(th_flush(&h, s, 0), URG_ERR_PROTO_STREAM_LENGTH);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* Without an error callback, an error's one channel is the log: fatal at
 * the error level, skipped at the warning level, once each. */
static void test_errors_logged_without_callback(void **state)
{
    static uint8_t data[16];
    struct urg_session_config cfg;
    struct rec r;
    struct testhost h;
    urg_session *s;
    int policy;
    (void)state;
    for (policy = URG_POLICY_FAIL; policy <= URG_POLICY_SKIP; policy++) {
        rec_init(&r);
        urg_session_config_init(&cfg);
        cfg.policy = (enum urg_error_policy)policy;
        rec_callbacks(&cfg.callbacks);
        cfg.callbacks.error = NULL;
        cfg.user_data = &r;
        assert_int_equal(urg_session_new(&cfg, &s), 0);
        s = connect_session(s, &h, ALL);
        start_stream(s, 0, 0x81);
        th_stream_data(&h, URG_INTERRUPT_PACKET, 0x81, data, 9, 0);
        assert_int_equal(th_flush(&h, s, 0),
                         policy == URG_POLICY_FAIL ? URG_ERR_PROTO_STREAM_LENGTH : 0);
        assert_int_equal(r.errors, 0);
        assert_int_equal(r.logs[URG_LOG_ERROR], policy == URG_POLICY_FAIL);
        assert_int_equal(r.logs[URG_LOG_WARNING], policy == URG_POLICY_SKIP);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

/* ep_info's max packet size comes as the whole per-interval size or raw,
 * with the high-bandwidth multiplier in bits 11-12: the larger counts. */
static void test_stream_data_multiplier(void **state)
{
    static const struct th_ep eps[] = {
        { 0x81, URG_EP_INTERRUPT, 1, 0, 0x1400, 0 }, /* raw: 3 x 1024 */
        { 0x82, URG_EP_ISO, 1, 0, 3072, 0 },         /* already multiplied */
    };
    static uint8_t data[3073];
    uint8_t cls = 3;
    int k;
    (void)state;
    for (k = 0; k < 2; k++) {
        struct rec r;
        struct testhost h;
        urg_session *s;
        rec_init(&r);
        s = new_session(&r, ALL, URG_POLICY_SKIP);
        th_init(&h, ALL);
        th_pump(&h, s);
        th_hello(&h);
        th_device_ex(&h, URG_SPEED_HIGH, 1, 2, 0, &cls, 1, eps, 2);
        assert_int_equal(th_flush(&h, s, 0), 0);
        start_stream(s, k, eps[k].addr);
        th_stream_data(&h, k ? URG_ISO_PACKET : URG_INTERRUPT_PACKET, eps[k].addr, data, 3072, 0);
        th_stream_data(&h, k ? URG_ISO_PACKET : URG_INTERRUPT_PACKET, eps[k].addr, data, 3073, 0);
        th_stream_data(&h, k ? URG_ISO_PACKET : URG_INTERRUPT_PACKET, eps[k].addr, data, 1, 0);
        /* Policy skip: the long one is reported and skipped, the stream
         * goes on. */
        assert_int_equal(th_flush(&h, s, 0), 0);
        assert_int_equal(r.stream_data, 2);
        assert_int_equal(r.stream_bytes, 3073);
        assert_int_equal(r.errors, 1);
        assert_int_equal(r.fatal, 0);
        assert_int_equal(r.last_error, URG_ERR_PROTO_STREAM_LENGTH);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

/* A device_connect (of speed) and a device_disconnect, for floods. */
static void plug_packets(struct urg_packet *c, struct urg_packet *d, uint8_t speed)
{
    memset(c, 0, sizeof(*c));
    c->type = URG_DEVICE_CONNECT;
    c->h.device_connect.speed = speed;
    memset(d, 0, sizeof(*d));
    d->type = URG_DEVICE_DISCONNECT;
}

/* A host that reads nothing and keeps sending packets the guest must
 * answer cannot grow the output queue past its bound. */
static void test_answers_bounded(void **state)
{
    struct urg_session_config cfg;
    struct urg_packet c, d;
    struct rec r;
    struct testhost h;
    urg_session *s;
    size_t most = 0;
    int i, policy, rc = 0;
    (void)state;
    plug_packets(&c, &d, URG_SPEED_FULL);
    for (policy = URG_POLICY_FAIL; policy <= URG_POLICY_SKIP; policy++) {
        rec_init(&r);
        urg_session_config_init(&cfg);
        rec_callbacks(&cfg.callbacks);
        cfg.user_data = &r;
        cfg.policy = (enum urg_error_policy)policy;
        cfg.max_output_bytes = 4096;
        /* Every device is refused: each connect costs a filter_reject and
         * each disconnect an ack. */
        cfg.filter = "-1,-1,-1,-1,0";
        assert_int_equal(urg_session_new(&cfg, &s), 0);
        th_init(&h, ALL);
        th_pump(&h, s); /* the host takes our hello, then never reads again */
        th_hello(&h);
        assert_int_equal(th_flush(&h, s, 0), 0);
        for (i = 0; i < 20000 && rc == 0; i++) {
            th_emit(&h, &c);
            th_emit(&h, &d);
            rc = th_flush(&h, s, 0);
            if (urg_session_output_pending(s) > most)
                most = urg_session_output_pending(s);
        }
        /* Answers wait unread up to 64 KiB (the queue holds nothing else). */
        assert_true(most <= 64 * 1024);
        assert_true(most > 60 * 1024); /* it did fill up */
        if (policy == URG_POLICY_FAIL) {
            const char *msg;
            assert_int_equal(rc, URG_ERR_PROTO_FLOOD);
            assert_int_equal(urg_session_error(s, &msg), URG_ERR_PROTO_FLOOD);
            assert_non_null(strstr(msg, "reads none"));
            assert_int_equal(r.fatal, 1);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(i, 20000);
            assert_true(r.errors > 1000);
            assert_int_equal(r.fatal, 0);
        }
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
        rc = 0;
        most = 0;
    }
}

/* The answer bound counts what the host has not read, not the queue: a
 * request bigger than max_output_bytes (taken into an empty queue) does
 * not make the host's legitimate device_disconnect a flood, and a host that
 * reads gets its answers whatever else waits. */
static void test_answers_counted_from_what_the_host_read(void **state)
{
    static uint8_t big[256 * 1024];
    struct urg_session_config cfg;
    struct urg_packet c, d;
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint64_t id;
    int i;
    (void)state;
    plug_packets(&c, &d, URG_SPEED_HIGH);
    rec_init(&r);
    urg_session_config_init(&cfg);
    cfg.max_output_bytes = 4096;
    s = connected_session_cfg(&r, &h, &cfg, ALL);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, sizeof(big), big, NULL, &id), 0);
    assert_true(urg_session_output_pending(s) > sizeof(big));
    th_emit(&h, &d);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(urg_session_state(s), URG_STATE_READY); /* acked, not a flood */
    /* 64 KiB of acks unread is the most; the host reading a little makes
     * room for as much again. */
    for (i = 0; i < 64 * 1024 / 16 - 1; i++) { /* with the first: 64 KiB of acks */
        th_emit(&h, &c);
        th_emit(&h, &d);
    }
    assert_int_equal(th_flush(&h, s, 0), 0);
    th_emit(&h, &c);
    th_emit(&h, &d);
    assert_int_equal(th_flush(&h, s, 0), URG_ERR_PROTO_FLOOD);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    rec_init(&r);
    s = connected_session_cfg(&r, &h, &cfg, ALL);
    th_pump(&h, s);
    for (i = 0; i < 3 * 64 * 1024 / 16; i++) {
        th_emit(&h, &d);
        th_emit(&h, &c);
        assert_int_equal(th_flush(&h, s, 0), 0);
        assert_int_equal(urg_session_consume(s, 16), 0); /* the host reads each ack */
    }
    assert_int_equal(urg_session_state(s), URG_STATE_CONNECTED);
    assert_int_equal(urg_session_output_pending(s), 0);
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
}

/* ---------------------------------------------------------------- lifecycle */

static urg_session *free_me;
static int completions_seen;
static void free_in_complete(void *ud, const struct urg_completion *c)
{
    (void)ud;
    (void)c;
    completions_seen++;
    if (free_me) {
        urg_session *s = free_me;
        free_me = NULL;
        assert_int_equal(urg_session_recv(s, "x", 1), URG_ERR_BUSY);
        urg_session_free(s);
    }
}

static void test_abort_and_free(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint64_t ids[32], n, i;
    uint8_t out[512];
    struct urg_session_config cfg;
    (void)state;
    /* abort: everything completes, the device goes, calls fail. */
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    n = pend_everything(s, ids, out);
    urg_session_abort(s, URG_ERR_FAILED);
    assert_int_equal(r.ndone, n);
    for (i = 0; i < n; i++)
        assert_int_equal(r.done[i].c.status, URG_STATUS_NODEV);
    assert_int_equal(r.disconnect, 1);
    assert_int_equal(urg_session_state(s), URG_STATE_FAILED);
    assert_int_equal(urg_session_output_pending(s), 0);
    assert_int_equal(urg_session_reset(s), URG_ERR_FAILED);
    assert_int_equal(urg_session_error(s, NULL), URG_ERR_FAILED);
    urg_session_abort(s, 0); /* twice is harmless */
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    /* free with requests pending completes them first. */
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    n = pend_everything(s, ids, out);
    urg_session_free(s);
    assert_int_equal(r.ndone, n);
    th_free(&h);
    rec_free(&r);

    /* free from inside a completion callback, during recv. */
    urg_session_config_init(&cfg);
    cfg.callbacks.complete = free_in_complete;
    assert_int_equal(urg_session_new(&cfg, &s), 0);
    th_init(&h, ALL);
    th_pump(&h, s);
    th_hello(&h);
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &ids[0]), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &ids[1]), 0);
    th_pump(&h, s);
    {
        struct urg_packet p;
        memset(&p, 0, sizeof(p));
        p.type = URG_CONFIGURATION_STATUS;
        p.id = ids[0];
        th_emit(&h, &p);
    }
    free_me = s;
    completions_seen = 0;
    assert_int_equal(th_flush(&h, s, 0), URG_ERR_FAILED);
    /* The reply, then the other request completed by the deferred free. */
    assert_int_equal(completions_seen, 2);
    th_free(&h);
    urg_session_free(NULL);
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

/* ---------------------------------------------------------------- misc */

static int log_lines[4];
static void count_log(void *ud, int level, const char *msg)
{
    (void)ud;
    (void)msg;
    log_lines[level]++;
}
static void ignore_complete(void *ud, const struct urg_completion *c)
{
    (void)ud;
    (void)c;
}

static size_t live, total_allocs;
static int fail_at = -1;
static void *count_malloc(void *c, size_t n)
{
    (void)c;
    if (fail_at >= 0 && (int)total_allocs == fail_at)
        return NULL;
    total_allocs++;
    live++;
    return malloc(n);
}
static void *count_realloc(void *c, void *p, size_t n)
{
    (void)c;
    if (fail_at >= 0 && (int)total_allocs == fail_at)
        return NULL;
    total_allocs++;
    if (!p)
        live++;
    return realloc(p, n);
}
static void count_free(void *c, void *p)
{
    (void)c;
    if (p)
        live--;
    free(p);
}

static void test_stats_log_allocator_config(void **state)
{
    const struct urg_allocator counting = { count_malloc, count_realloc, count_free, NULL };
    struct urg_session_config cfg;
    struct testhost h;
    struct urg_stats st;
    urg_session *s;
    uint64_t id;
    int n, created = 0;
    (void)state;
    urg_session_config_init(&cfg);
    cfg.callbacks.complete = ignore_complete;
    cfg.callbacks.log = count_log;
    cfg.log_level = URG_LOG_INFO;
    cfg.allocator = &counting;
    cfg.filter = "-1,-1,-1,-1,1";
    live = total_allocs = 0;
    assert_int_equal(urg_session_new(&cfg, &s), 0);
    th_init(&h, ALL);
    th_pump(&h, s);
    th_hello(&h);
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), 0);
    th_pump(&h, s);
    urg_session_stats(s, &st);
    assert_int_equal(st.rx_packets[urg_type_index(URG_HELLO)], 1);
    assert_int_equal(st.rx_packets[urg_type_index(URG_EP_INFO)], 1);
    assert_int_equal(st.rx_bytes[urg_type_index(URG_EP_INFO)], 16 + 288);
    assert_int_equal(st.tx_packets[urg_type_index(URG_HELLO)], 1);
    assert_int_equal(st.tx_bytes[urg_type_index(URG_HELLO)], 80);
    assert_int_equal(st.tx_packets[urg_type_index(URG_FILTER_FILTER)], 1);
    assert_int_equal(st.tx_packets[urg_type_index(URG_GET_CONFIGURATION)], 1);
    assert_int_equal(st.requests, 1);
    /* info lines for the hello and the connect; no debug lines */
    assert_true(log_lines[URG_LOG_INFO] >= 2);
    assert_int_equal(log_lines[URG_LOG_DEBUG], 0);
    urg_session_free(s);
    th_free(&h);
    assert_true(total_allocs > 0);
    assert_int_equal(live, 0);

    /* The n-th allocation of urg_session_new failing: a clean error. */
    for (n = 0; n < 20 && !created; n++) {
        fail_at = n;
        live = total_allocs = 0;
        if (urg_session_new(&cfg, &s) == 0) {
            created = 1;
            urg_session_free(s);
        }
        assert_int_equal(live, 0);
    }
    fail_at = -1;
    assert_true(created);
    assert_true(n > 3);

    /* The default allocator works as libc's. */
    {
        const struct urg_allocator *d = urg_allocator_default();
        void *p = d->malloc(d->ctx, 16);
        assert_non_null(p);
        p = d->realloc(d->ctx, p, 4096);
        assert_non_null(p);
        d->free(d->ctx, p);
    }
    /* Bad configurations. */
    urg_session_config_init(&cfg);
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_INVALID); /* no complete */
    cfg.callbacks.complete = ignore_complete;
    cfg.caps = URG_CAP_BIT(URG_CAP_BULK_STREAMS);
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_INVALID);
    cfg.caps = 0x100;
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_INVALID);
    cfg.caps = 0;
    cfg.policy = 3;
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_INVALID);
    assert_int_equal(urg_session_new(NULL, &s), URG_ERR_INVALID);
    cfg.policy = URG_POLICY_FAIL;
    assert_int_equal(urg_session_new(&cfg, &s), 0);
    urg_session_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_first_and_caps),
        cmocka_unit_test(test_every_request_on_the_wire),
        cmocka_unit_test(test_caps_limit_requests),
        cmocka_unit_test(test_replies_complete_requests),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_many_pending_each_once),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_disconnect_with_everything_pending),
        cmocka_unit_test(test_disconnect_ack_and_replug),
        cmocka_unit_test(test_early_reply_detaches_out_payload),
        cmocka_unit_test(test_zero_copy_and_window),
        cmocka_unit_test(test_output_iovecs_and_backpressure),
        cmocka_unit_test(test_stream_statuses),
        cmocka_unit_test(test_stream_data),
        cmocka_unit_test(test_stream_data_bounded),
        cmocka_unit_test(test_stream_data_multiplier),
        cmocka_unit_test(test_stream_restarts),
        cmocka_unit_test(test_errors_logged_without_callback),
        cmocka_unit_test(test_answers_bounded),
        cmocka_unit_test(test_answers_counted_from_what_the_host_read),
        cmocka_unit_test(test_disconnect_without_device_not_acked),
        cmocka_unit_test(test_repeated_warnings_said_once),
        cmocka_unit_test(test_bad_replies_fail_the_session),
        cmocka_unit_test(test_bad_replies_skipped),
        cmocka_unit_test(test_protocol_errors_from_host),
        cmocka_unit_test(test_device_state_and_info),
        cmocka_unit_test(test_filter_in_session),
        cmocka_unit_test(test_abort_and_free),
        cmocka_unit_test(test_split_equivalence_every_caps_layout),
        cmocka_unit_test(test_stats_log_allocator_config),
    };
    return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}

/*
 * test_session_requests.c - the engine session's requests against the
 * scripted test host (guest/requests.c, guest/pending.c): every request on
 * the wire and the caller errors, what the negotiated caps allow, request
 * ids (64-bit, 32-bit wrap), 100,000 pending requests, cancel and forget.
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
#include "session.h" /* internal: the id counter */
#include "session_fixture.h"
#include "testhost.h"

/* ---------------------------------------------------------------- requests */

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

/* Control and bulk requests are written straight into the output by
 * their own path (requests.c data_begin): byte for byte what urg_encode()
 * writes for the same packet, on every caps layout, including where the
 * header would wrap at the ring's end (one byte is always left unconsumed,
 * so the ring's tail goes round it). */
static void expect_as_encoded(urg_session *s, struct urg_packet *p, uint64_t id,
                              const void *payload, uint32_t payload_len)
{
    struct urg_wire w = s->wire; /* internal (session.h) */
    uint8_t want[64], got[64 + 70000];
    struct iovec iov[16];
    int n, k, cnt;
    size_t len = 0;
    p->id = id;
    p->data = (const uint8_t *)payload;
    p->data_len = payload_len;
    n = urg_encode(&w, URG_DIR_TO_HOST, p, want, sizeof(want));
    assert_true(n > 0);
    cnt = urg_session_output(s, iov, 16);
    for (k = 0; k < cnt; k++) {
        assert_true(len + iov[k].iov_len <= sizeof(got));
        memcpy(got + len, iov[k].iov_base, iov[k].iov_len);
        len += iov[k].iov_len;
    }
    /* The byte left over from before, then this request. */
    assert_int_equal(len, 1 + (size_t)n + payload_len);
    assert_memory_equal(got + 1, want, (size_t)n);
    if (payload_len)
        assert_memory_equal(got + 1 + n, payload, payload_len);
    assert_int_equal(urg_session_consume(s, len - 1), 0);
}

static void test_data_requests_as_the_codec_writes_them(void **state)
{
    static uint8_t out[70000];
    int g, i;
    (void)state;
    for (i = 0; i < (int)sizeof(out); i++)
        out[i] = (uint8_t)(i * 7);
    for (g = 0; g < LAYOUT_VARIANTS; g++) {
        uint32_t caps = layout_caps(g);
        bool long_bulk = caps & URG_CAP_BIT(URG_CAP_32BITS_BULK_LENGTH);
        struct rec r;
        struct testhost h;
        urg_session *s;
        uint64_t id;
        rec_init(&r);
        s = connected_session(&r, &h, ALL, caps);
        /* One request's byte stays queued: a byte to start from. */
        assert_int_equal(urg_session_get_configuration(s, NULL, &id), 0);
        {
            struct iovec iov[4];
            int cnt = urg_session_output(s, iov, 4), k;
            size_t len = 0;
            for (k = 0; k < cnt; k++)
                len += iov[k].iov_len;
            assert_int_equal(urg_session_consume(s, len - 1), 0);
        }
        for (i = 0; i < 400; i++) {
            struct urg_packet p;
            uint8_t setup[8] = { (uint8_t)(i & 1 ? 0xc1 : 0x41), (uint8_t)i, (uint8_t)(i * 3),
                                 0xa5, (uint8_t)(i * 5), 0x5a, (uint8_t)(i % 7), 0 };
            uint32_t stream = (caps & URG_CAP_BIT(URG_CAP_BULK_STREAMS)) ? (uint32_t)i * 77 : 0;
            uint32_t blen = long_bulk && i % 3 == 0 ? 70000u - (uint32_t)i : 1000u + (uint32_t)i;
            uint8_t ep = (uint8_t)(i & 2 ? 0x82 : 0x02);
            memset(&p, 0, sizeof(p));
            assert_int_equal(urg_session_control(s, (uint8_t)(i % 3), setup, out, NULL, &id), 0);
            p.type = URG_CONTROL_PACKET;
            p.h.control.endpoint = (uint8_t)((i % 3) | (setup[0] & 0x80));
            p.h.control.requesttype = setup[0];
            p.h.control.request = setup[1];
            p.h.control.value = (uint16_t)(setup[2] | setup[3] << 8);
            p.h.control.index = (uint16_t)(setup[4] | setup[5] << 8);
            p.h.control.length = setup[6];
            expect_as_encoded(s, &p, id, setup[0] & 0x80 ? NULL : out,
                              setup[0] & 0x80 ? 0 : setup[6]);
            memset(&p, 0, sizeof(p));
            assert_int_equal(urg_session_bulk(s, ep, stream, blen, out, NULL, &id), 0);
            p.type = URG_BULK_PACKET;
            p.h.bulk.endpoint = ep;
            p.h.bulk.length = blen;
            p.h.bulk.stream_id = stream;
            expect_as_encoded(s, &p, id, ep & 0x80 ? NULL : out, ep & 0x80 ? 0 : blen);
        }
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
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
        /* Two more at once, after all completed: the most at once is
         * still N, and every request is counted. */
        assert_int_equal(urg_session_bulk(s, 0x82, 0, 1, NULL, NULL, NULL), 0);
        assert_int_equal(urg_session_bulk(s, 0x82, 0, 1, NULL, NULL, NULL), 0);
        urg_session_stats(s, &st);
        assert_int_equal(st.pending_max, N);
        assert_int_equal(st.requests, N + 2);
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
    assert_int_equal(urg_session_recv(s, th_out(&h), 26), 0);
    assert_int_equal(urg_session_recv_window(s, &wb, &wl), 1);
    assert_ptr_equal(wb, in_buf);
    memcpy(wb, th_out(&h) + 26, 1000);
    assert_int_equal(urg_session_recv_commit(s, 1000), 0);
    assert_int_equal(urg_session_recv_window(s, &wb, &wl), 1);
    assert_int_equal(urg_session_forget(s, b), 0);
    /* Bytes read into the window before the forget still count. */
    assert_int_equal(urg_session_recv_commit(s, 500), 0);
    memset(in_buf, 0, sizeof(in_buf));
    assert_int_equal(urg_session_recv_window(s, &wb, &wl), 0);
    assert_int_equal(urg_session_recv(s, th_out(&h) + 26 + 1500, th_out_len(&h) - 26 - 1500), 0);
    th_drop(&h);
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
    /* a, b, c and d were accepted: three forgotten, d completed. */
    assert_int_equal(st.requests, 4);
    assert_int_equal(st.completions, 1);
    /* a's and c's answers are late; b's came while it was still pending:
     * the rest of its payload (500 committed + 2500 fed) was skipped. */
    assert_int_equal(st.late_replies, 2);
    assert_int_equal(st.skipped_bytes, 3000);
    assert_int_equal(urg_session_state(s), URG_STATE_CONNECTED);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* Without memory to copy an OUT payload still queued, a forget lets go of
 * the caller's buffer all the same: the output is dropped, the session
 * fails (the other requests complete, NODEV) and the buffer is never read
 * again (freed here: ASan and valgrind would see a read). */
static void test_forget_without_memory(void **state)
{
    struct fail_alloc f = { 0 };
    const struct urg_allocator a = fail_allocator(&f);
    struct urg_session_config cfg;
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t *out = malloc(300);
    uint64_t ids[3];
    size_t before;
    const char *msg;
    (void)state;
    memset(out, 0x61, 300);
    rec_init(&r);
    urg_session_config_init(&cfg);
    cfg.allocator = &a;
    s = connected_session_cfg(&r, &h, &cfg, ALL);
    assert_int_equal(urg_session_get_configuration(s, NULL, &ids[0]), 0);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 300, out, NULL, &ids[1]), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 64, NULL, NULL, &ids[2]), 0);
    fail_alloc_refuse(&f, 1);
    assert_int_equal(urg_session_forget(s, ids[1]), URG_ERR_NOMEM);
    fail_alloc_refuse(&f, 0);
    free(out);
    assert_int_equal(urg_session_state(s), URG_STATE_FAILED);
    assert_int_equal(urg_session_error(s, &msg), URG_ERR_NOMEM);
    assert_non_null(strstr(msg, "forgotten"));
    assert_int_equal(rec_count(&r, ids[0]), 1);
    assert_int_equal(rec_count(&r, ids[1]), 0);
    assert_int_equal(rec_count(&r, ids[2]), 1);
    assert_int_equal(rec_find(&r, ids[2])->c.status, URG_STATUS_NODEV);
    assert_int_equal(urg_session_pending_count(s), 0);
    assert_int_equal(urg_session_output_pending(s), 0);
    before = h.npkts;
    th_pump(&h, s);
    assert_int_equal(h.npkts, before); /* nothing more reaches the host */
    assert_int_equal(urg_session_forget(s, ids[1]), URG_ERR_NOT_FOUND);
    assert_int_equal(urg_session_forget(NULL, ids[1]), URG_ERR_INVALID);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* A session that fails with requests pending: the first completion's
 * callback forgets the next one, which then never completes (the forget
 * works in a failed session too; it used to be refused, and the request
 * completed after its owner had let go of it). */
static urg_session *failing;
static uint64_t forget_next;
static int forget_result = 1;
static void (*record_complete)(void *, const struct urg_completion *);
static void forget_from_completion(void *ud, const struct urg_completion *c)
{
    record_complete(ud, c);
    if (forget_next) {
        forget_result = urg_session_forget(failing, forget_next);
        forget_next = 0;
    }
}

static void test_forget_while_failing(void **state)
{
    struct urg_session_config cfg;
    struct rec r;
    struct testhost h;
    uint64_t ids[4];
    int i;
    (void)state;
    rec_init(&r);
    urg_session_config_init(&cfg);
    rec_callbacks(&cfg.callbacks);
    record_complete = cfg.callbacks.complete;
    cfg.callbacks.complete = forget_from_completion;
    cfg.user_data = &r;
    assert_int_equal(urg_session_new(&cfg, &failing), 0);
    connect_session(failing, &h, ALL);
    for (i = 0; i < 4; i++)
        assert_int_equal(urg_session_get_configuration(failing, NULL, &ids[i]), 0);
    forget_next = ids[1];
    urg_session_abort(failing, URG_ERR_STALLED);
    assert_int_equal(forget_result, 0);
    for (i = 0; i < 4; i++)
        assert_int_equal(rec_count(&r, ids[i]), i == 1 ? 0 : 1);
    assert_int_equal(urg_session_pending_count(failing), 0);
    urg_session_free(failing);
    th_free(&h);
    rec_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_request_on_the_wire),
        cmocka_unit_test(test_data_requests_as_the_codec_writes_them),
        cmocka_unit_test(test_caps_limit_requests),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_many_pending_each_once),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_forget_without_memory),
        cmocka_unit_test(test_forget_while_failing),
    };
    return cmocka_run_group_tests_name("session_requests", tests, NULL, NULL);
}

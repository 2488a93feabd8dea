/*
 * test_session_streams.c - the engine session's streams against the
 * scripted test host (guest/streams.c): interrupt receiving, iso streams
 * and buffered bulk receiving started, stopped, refused and restarted,
 * their statuses, their data, and data no stream asked for or more than a
 * stream's transfers hold (high-bandwidth endpoints included).
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

/* ---------------------------------------------------------------- streams */

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_statuses),
        cmocka_unit_test(test_stream_data),
        cmocka_unit_test(test_stream_data_bounded),
        cmocka_unit_test(test_stream_data_multiplier),
        cmocka_unit_test(test_stream_restarts),
    };
    return cmocka_run_group_tests_name("session_streams", tests, NULL, NULL);
}

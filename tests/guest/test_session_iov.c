/*
 * test_session_iov.c - requests whose data is a list of segments (the
 * session's _iov calls, guest/requests.c, and the decoder's segment
 * destination, guest/decoder.c): an IN reply read straight into the
 * segments through the recv window, copied into them when it straddles
 * recv calls, handed out in place when it lies whole in the recv buffer;
 * an OUT payload sent from the segments themselves and copied out of them
 * when its request ends first; the arguments refused.
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

#define PAYLOAD 16384

/* Segments over one backing area, of odd sizes with an empty one among
 * them, as a guest's page list might be: 3, 0, 100, 4093, then the rest
 * of PAYLOAD and 100 bytes more than the transfer needs. */
struct segs {
    uint8_t area[PAYLOAD + 200];
    struct iovec v[5];
};

static void segs_init(struct segs *g)
{
    static const size_t len[5] = { 3, 0, 100, 4093, PAYLOAD - 3 - 100 - 4093 + 100 };
    size_t off = 0;
    memset(g->area, 0xee, sizeof(g->area));
    for (int k = 0; k < 5; k++) {
        /* a gap of 8 bytes between segments: writes past one show */
        g->v[k].iov_base = g->area + off;
        g->v[k].iov_len = len[k];
        off += len[k] + 8;
    }
}

/* The segments' first n bytes, gathered. */
static void segs_gather(const struct segs *g, uint8_t *out, size_t n)
{
    for (int k = 0; k < 5 && n; k++) {
        size_t c = g->v[k].iov_len < n ? g->v[k].iov_len : n;
        memcpy(out, g->v[k].iov_base, c);
        out += c;
        n -= c;
    }
}

/* Every gap byte between segments is untouched. */
static void assert_gaps_untouched(const struct segs *g)
{
    for (int k = 0; k < 5; k++) {
        const uint8_t *end = (const uint8_t *)g->v[k].iov_base + g->v[k].iov_len;
        for (int b = 0; b < 8; b++)
            assert_int_equal(end[b], 0xee);
    }
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131 + seed);
}

/* A bulk IN reply of len bytes to id on 0x82, scripted at the host. */
static void emit_bulk_in(struct testhost *h, uint64_t id, const uint8_t *data, uint32_t len)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = id;
    p.h.bulk.endpoint = 0x82;
    p.h.bulk.length = len;
    p.data = data;
    p.data_len = len;
    th_emit(h, &p);
}

/* The reply's headers (26 bytes with 64-bit ids and the bulk header). */
#define BULK_HEADERS 26

static void test_iov_in_through_the_window(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    struct segs g;
    uint8_t *big = malloc(PAYLOAD), *got = malloc(PAYLOAD);
    struct iovec w[8];
    struct urg_stats st;
    uint64_t id;
    const uint8_t *src;
    int n;
    (void)state;
    fill_pattern(big, PAYLOAD, 7);
    segs_init(&g);
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    assert_int_equal(urg_session_bulk_iov(s, 0x82, 0, PAYLOAD, g.v, 5, NULL, &id), 0);
    th_pump(&h, s);
    emit_bulk_in(&h, id, big, PAYLOAD);
    src = th_out(&h);

    assert_int_equal(urg_session_recv_window_iov(s, w, 8), 0); /* headers first */
    assert_int_equal(urg_session_recv(s, src, BULK_HEADERS), 0);
    /* One iovec per non-empty segment, the last cut to the payload. */
    n = urg_session_recv_window_iov(s, w, 8);
    assert_int_equal(n, 4);
    assert_ptr_equal(w[0].iov_base, g.v[0].iov_base);
    assert_int_equal(w[0].iov_len, 3);
    assert_ptr_equal(w[1].iov_base, g.v[2].iov_base);
    assert_int_equal(w[1].iov_len, 100);
    assert_ptr_equal(w[2].iov_base, g.v[3].iov_base);
    assert_int_equal(w[3].iov_len, g.v[4].iov_len - 100);
    /* As many as asked for. */
    assert_int_equal(urg_session_recv_window_iov(s, w, 2), 2);
    /* The flat window is the first of them. */
    {
        void *wb;
        size_t wl;
        assert_int_equal(urg_session_recv_window(s, &wb, &wl), 1);
        assert_ptr_equal(wb, g.v[0].iov_base);
        assert_int_equal(wl, 3);
    }

    /* A read of 50 bytes fills the first segment and part of the second:
     * the window then starts in the middle of it. */
    memcpy(g.v[0].iov_base, src + BULK_HEADERS, 3);
    memcpy(g.v[2].iov_base, src + BULK_HEADERS + 3, 47);
    assert_int_equal(urg_session_recv_commit(s, 50), 0);
    n = urg_session_recv_window_iov(s, w, 8);
    assert_int_equal(n, 3);
    assert_ptr_equal(w[0].iov_base, (uint8_t *)g.v[2].iov_base + 47);
    assert_int_equal(w[0].iov_len, 53);

    /* The rest, as a readv would place it. */
    {
        size_t off = 50;
        for (int k = 0; k < n; k++) {
            memcpy(w[k].iov_base, src + BULK_HEADERS + off, w[k].iov_len);
            off += w[k].iov_len;
        }
        assert_int_equal(off, PAYLOAD);
        assert_int_equal(urg_session_recv_commit(s, PAYLOAD - 50), 0);
    }
    th_drop(&h);
    assert_int_equal(rec_count(&r, id), 1);
    assert_int_equal(rec_find(&r, id)->c.length, PAYLOAD);
    assert_int_equal(rec_find(&r, id)->c.status, URG_STATUS_SUCCESS);
    assert_null(rec_find(&r, id)->c.data); /* in the segments */
    segs_gather(&g, got, PAYLOAD);
    assert_memory_equal(got, big, PAYLOAD);
    assert_gaps_untouched(&g);
    urg_session_stats(s, &st);
    assert_int_equal(st.payload_copies, 0);
    assert_int_equal(urg_session_recv_window_iov(s, w, 8), 0);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
    free(big);
    free(got);
}

/* Fed in chunks of every size from 1 to 40 bytes: the payload is copied
 * into the segments, across their edges, once per reply. */
static void test_iov_in_straddling_recv_calls(void **state)
{
    uint8_t *big = malloc(PAYLOAD), *got = malloc(PAYLOAD);
    (void)state;
    for (size_t chunk = 1; chunk <= 40; chunk += 3) {
        struct rec r;
        struct testhost h;
        urg_session *s;
        struct segs g;
        struct urg_stats st;
        uint64_t id;
        uint32_t len = PAYLOAD - (uint32_t)chunk; /* short: the last segment cut */
        fill_pattern(big, PAYLOAD, (unsigned)chunk);
        segs_init(&g);
        rec_init(&r);
        s = connected_session(&r, &h, ALL, ALL);
        assert_int_equal(urg_session_bulk_iov(s, 0x82, 0, PAYLOAD, g.v, 5, NULL, &id), 0);
        th_pump(&h, s);
        emit_bulk_in(&h, id, big, len);
        assert_int_equal(th_flush(&h, s, chunk), 0);
        assert_int_equal(rec_count(&r, id), 1);
        assert_int_equal(rec_find(&r, id)->c.length, len);
        assert_null(rec_find(&r, id)->c.data);
        segs_gather(&g, got, len);
        assert_memory_equal(got, big, len);
        /* nothing written past the payload */
        assert_int_equal(((uint8_t *)g.v[4].iov_base)[g.v[4].iov_len - 100 - chunk], 0xee);
        assert_gaps_untouched(&g);
        urg_session_stats(s, &st);
        assert_int_equal(st.payload_copies, 1);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
    free(big);
    free(got);
}

/* A reply lying whole in the recv buffer is handed out in place: the
 * segments are not written (the caller copies from data). */
static void test_iov_in_whole_in_place(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    struct segs g;
    uint8_t desc[18];
    uint8_t *copy;
    size_t len;
    uint64_t id;
    struct iovec v[3];
    (void)state;
    fill_pattern(desc, sizeof(desc), 3);
    segs_init(&g);
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    v[0] = (struct iovec){ g.area, 8 };
    v[1] = (struct iovec){ g.area + 100, 10 };
    v[2] = (struct iovec){ g.area + 200, 10 };
    assert_int_equal(urg_session_control_iov(s, 0, GET_DEVICE_DESCRIPTOR, v, 3, NULL, &id), 0);
    th_pump(&h, s);
    th_reply_control(&h, &th_find(&h, URG_CONTROL_PACKET)->p, 0, desc, 18);
    len = th_out_len(&h);
    copy = malloc(len);
    memcpy(copy, th_out(&h), len);
    th_drop(&h);
    assert_int_equal(urg_session_recv(s, copy, len), 0);
    assert_int_equal(rec_count(&r, id), 1);
    assert_non_null(rec_find(&r, id)->data);
    assert_memory_equal(rec_find(&r, id)->data, desc, 18);
    assert_int_equal(g.area[0], 0xee);
    assert_int_equal(g.area[100], 0xee);
    free(copy);

    /* The same request fed byte by byte lands in the three segments. */
    assert_int_equal(urg_session_control_iov(s, 0, GET_DEVICE_DESCRIPTOR, v, 3, NULL, &id), 0);
    th_pump(&h, s);
    th_reply_control(&h, &th_find(&h, URG_CONTROL_PACKET)->p, 0, desc, 18);
    assert_int_equal(th_flush(&h, s, 1), 0);
    assert_null(rec_find(&r, id)->c.data);
    assert_memory_equal(g.area, desc, 8);
    assert_memory_equal(g.area + 100, desc + 8, 10);
    assert_int_equal(g.area[200], 0xee);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* An OUT payload is sent from the segments themselves (an output iovec
 * per non-empty segment, the last cut to the length), and the host gets
 * the bytes in order. */
static void test_iov_out_sent_from_the_segments(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    struct segs g;
    uint8_t *want = malloc(PAYLOAD);
    struct iovec o[16];
    uint64_t id;
    int n;
    (void)state;
    segs_init(&g);
    for (int k = 0; k < 5; k++)
        fill_pattern(g.v[k].iov_base, g.v[k].iov_len, (unsigned)k * 40);
    segs_gather(&g, want, PAYLOAD);
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    assert_int_equal(urg_session_bulk_iov(s, 0x02, 0, PAYLOAD, g.v, 5, NULL, &id), 0);
    n = urg_session_output(s, o, 16);
    assert_int_equal(n, 5); /* the header, then the four segments */
    assert_ptr_equal(o[1].iov_base, g.v[0].iov_base);
    assert_ptr_equal(o[2].iov_base, g.v[2].iov_base);
    assert_ptr_equal(o[3].iov_base, g.v[3].iov_base);
    assert_ptr_equal(o[4].iov_base, g.v[4].iov_base);
    assert_int_equal(o[4].iov_len, g.v[4].iov_len - 100);
    th_pump(&h, s);
    {
        const struct urg_packet *p = last(&h, URG_BULK_PACKET);
        assert_int_equal(p->data_len, PAYLOAD);
        assert_memory_equal(p->data, want, PAYLOAD);
    }
    /* An interrupt OUT the same way. */
    assert_int_equal(urg_session_interrupt_out_iov(s, 0x04, 103, g.v, 5, NULL, &id), 0);
    th_pump(&h, s);
    {
        const struct urg_packet *p = last(&h, URG_INTERRUPT_PACKET);
        assert_int_equal(p->data_len, 103);
        assert_memory_equal(p->data, want, 103);
    }
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
    free(want);
}

/* The host answers an OUT request while its segments are partly written:
 * what is left of them is copied out at the completion, also when the
 * transport is exactly past one segment (not the last: the request is not
 * released by it). */
static void test_iov_out_early_reply_detaches_every_segment(void **state)
{
    static const size_t written[] = { 10, 16 + 10 + 3, 16 + 10 + 3 + 100, 16 + 10 + 50 };
    for (size_t c = 0; c < sizeof(written) / sizeof(written[0]); c++) {
        struct rec r;
        struct testhost h;
        urg_session *s;
        struct segs g;
        uint8_t *want = malloc(PAYLOAD + 26), *sent = malloc(PAYLOAD + 26);
        struct iovec o[16];
        struct urg_packet p;
        uint64_t id;
        size_t total = 0;
        int n;
        (void)state;
        segs_init(&g);
        for (int k = 0; k < 5; k++)
            fill_pattern(g.v[k].iov_base, g.v[k].iov_len, (unsigned)k * 9 + 1);
        rec_init(&r);
        s = connected_session(&r, &h, ALL, ALL);
        assert_int_equal(urg_session_bulk_iov(s, 0x02, 0, PAYLOAD, g.v, 5, NULL, &id), 0);
        /* What the whole packet is, before anything is written. */
        n = urg_session_output(s, o, 16);
        for (int k = 0; k < n; k++) {
            memcpy(want + total, o[k].iov_base, o[k].iov_len);
            total += o[k].iov_len;
        }
        assert_int_equal(total, 26 + PAYLOAD);
        assert_int_equal(urg_session_consume(s, written[c]), 0);
        memset(&p, 0, sizeof(p));
        p.type = URG_BULK_PACKET;
        p.id = id;
        p.h.bulk.endpoint = 0x02;
        p.h.bulk.length = PAYLOAD;
        th_emit(&h, &p);
        assert_int_equal(th_flush(&h, s, 0), 0);
        assert_int_equal(rec_count(&r, id), 1);
        memset(g.area, 0, sizeof(g.area)); /* the caller reuses its pages */
        n = urg_session_output(s, o, 16);
        total = 0;
        for (int k = 0; k < n; k++) {
            assert_true((uint8_t *)o[k].iov_base < g.area ||
                        (uint8_t *)o[k].iov_base >= g.area + sizeof(g.area));
            memcpy(sent + total, o[k].iov_base, o[k].iov_len);
            total += o[k].iov_len;
        }
        assert_int_equal(total, 26 + PAYLOAD - written[c]);
        assert_memory_equal(sent, want + written[c], total);
        assert_int_equal(urg_session_consume(s, total), 0);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
        free(want);
        free(sent);
    }
}

/* Forgotten while its payload is half read through the window: the rest
 * is skipped, the segments are not written again, the next reply decodes. */
static void test_iov_in_forgotten_mid_payload(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    struct segs g;
    uint8_t *big = malloc(PAYLOAD), desc[18];
    struct iovec w[8];
    uint64_t id, id2;
    const uint8_t *src;
    size_t len;
    uint8_t *copy;
    (void)state;
    fill_pattern(big, PAYLOAD, 1);
    fill_pattern(desc, sizeof(desc), 2);
    segs_init(&g);
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    assert_int_equal(urg_session_bulk_iov(s, 0x82, 0, PAYLOAD, g.v, 5, NULL, &id), 0);
    assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, NULL, NULL, &id2), 0);
    th_pump(&h, s);
    emit_bulk_in(&h, id, big, PAYLOAD);
    th_reply_control(&h, &th_find(&h, URG_CONTROL_PACKET)->p, 0, desc, 18);
    len = th_out_len(&h);
    copy = malloc(len);
    memcpy(copy, th_out(&h), len);
    th_drop(&h);
    src = copy;
    assert_int_equal(urg_session_recv(s, src, BULK_HEADERS), 0);
    assert_int_equal(urg_session_recv_window_iov(s, w, 8), 4);
    memcpy(w[0].iov_base, src + BULK_HEADERS, 3);
    assert_int_equal(urg_session_recv_commit(s, 3), 0);
    assert_int_equal(urg_session_forget(s, id), 0);
    assert_int_equal(urg_session_recv_window_iov(s, w, 8), 0);
    memset(g.area, 0x55, sizeof(g.area));
    assert_int_equal(urg_session_recv(s, src + BULK_HEADERS + 3, len - BULK_HEADERS - 3), 0);
    for (size_t i = 0; i < sizeof(g.area); i++)
        assert_int_equal(g.area[i], 0x55);
    assert_int_equal(rec_count(&r, id), 0);
    assert_int_equal(rec_count(&r, id2), 1);
    assert_memory_equal(rec_find(&r, id2)->data, desc, 18);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
    free(big);
    free(copy);
}

static void test_iov_arguments(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t b[64];
    struct iovec v[2] = { { b, 32 }, { b + 32, 32 } }, nul[2] = { { b, 8 }, { NULL, 8 } };
    struct iovec *many = calloc(URG_IOV_MAX + 1, sizeof(*many));
    uint64_t id;
    (void)state;
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    for (int k = 0; k <= URG_IOV_MAX; k++)
        many[k] = (struct iovec){ b, 1 };
    assert_int_equal(urg_session_bulk_iov(s, 0x82, 0, 64, v, -1, NULL, &id), URG_ERR_INVALID);
    assert_int_equal(urg_session_bulk_iov(s, 0x82, 0, 64, NULL, 2, NULL, &id), URG_ERR_INVALID);
    assert_int_equal(urg_session_bulk_iov(s, 0x82, 0, 65, v, 2, NULL, &id), URG_ERR_INVALID);
    assert_int_equal(urg_session_bulk_iov(s, 0x02, 0, 16, nul, 2, NULL, &id), URG_ERR_INVALID);
    assert_int_equal(urg_session_bulk_iov(s, 0x82, 0, 1, many, URG_IOV_MAX + 1, NULL, &id),
                     URG_ERR_INVALID);
    assert_int_equal(urg_session_interrupt_out_iov(s, 0x84, 8, v, 2, NULL, &id), URG_ERR_INVALID);
    assert_int_equal(urg_session_control_iov(s, 0, NULL, v, 2, NULL, &id), URG_ERR_INVALID);
    assert_int_equal(urg_session_bulk_iov(NULL, 0x82, 0, 64, v, 2, NULL, &id), URG_ERR_INVALID);
    assert_int_equal(urg_session_recv_window_iov(s, NULL, 1), 0);
    assert_int_equal(urg_session_pending_count(s), 0);
    /* What is allowed: a NULL segment past the length, no segments for
     * nothing, exactly URG_IOV_MAX of them, the first 8 bytes of nul. */
    assert_int_equal(urg_session_bulk_iov(s, 0x02, 0, 8, nul, 2, NULL, &id), 0);
    assert_int_equal(urg_session_bulk_iov(s, 0x82, 0, 0, NULL, 0, NULL, &id), 0);
    assert_int_equal(urg_session_bulk_iov(s, 0x82, 0, URG_IOV_MAX, many, URG_IOV_MAX, NULL, &id),
                     0);
    assert_int_equal(urg_session_pending_count(s), 3);
    /* The rules of the buffer calls still apply. */
    assert_int_equal(urg_session_bulk_iov(s, 0x82, 0, URG_MAX_BULK_LENGTH + 1, v, 2, NULL, &id),
                     URG_ERR_TOO_LONG);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
    free(many);
}


/* Random segment layouts (empty, 1-byte, leading and trailing
 * empties), random reply lengths <= the request, fed as a random mix of
 * recv() chunks and window_iov()/commit() partial reads; every byte in its
 * place, gaps untouched, one completion. */
static uint32_t rnd_state = 12345;
static uint32_t rnd32(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

static void test_iov_random_in(void **state)
{
    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        enum { MAXSEG = 24, LEN = 700 };
        static uint8_t area[MAXSEG * 208 + LEN + 64], payload[LEN];
        struct iovec v[MAXSEG];
        struct rec r;
        struct testhost h;
        urg_session *s;
        uint64_t id;
        int nseg = 1 + (int)(rnd32() % MAXSEG);
        uint32_t length = 1 + rnd32() % LEN, reply, cap = 0;
        size_t off = 4, total, fed = 0;
        const uint8_t *src;
        uint8_t *copy;
        memset(area, 0xee, sizeof(area));
        for (int k = 0; k < nseg; k++) {
            uint32_t kind = rnd32() % 4, n;
            n = kind == 0 ? 0 : kind == 1 ? 1 : rnd32() % 200;
            if (k == nseg - 1 && cap + n < length)
                n = length - cap + rnd32() % 3;
            v[k].iov_base = area + off;
            v[k].iov_len = n;
            off += n + 8;
            cap += n;
        }
        assert_true(off <= sizeof(area));
        reply = rnd32() % (length + 1);
        for (uint32_t i = 0; i < reply; i++)
            payload[i] = (uint8_t)rnd32();
        rec_init(&r);
        s = connected_session(&r, &h, ALL, ALL);
        assert_int_equal(urg_session_bulk_iov(s, 0x82, 0, length, v, nseg, NULL, &id), 0);
        th_pump(&h, s);
        emit_bulk_in(&h, id, payload, reply);
        total = th_out_len(&h);
        copy = malloc(total);
        memcpy(copy, th_out(&h), total);
        th_drop(&h);
        src = copy;
        while (fed < total) {
            struct iovec w[32];
            int max = 1 + (int)(rnd32() % 5);
            int n = urg_session_recv_window_iov(s, w, max);
            if (n > 0 && rnd32() % 3) {
                size_t want = 0, put = 0, lim;
                for (int k = 0; k < n; k++) {
                    assert_true(w[k].iov_len > 0);
                    want += w[k].iov_len;
                }
                lim = 1 + rnd32() % want;
                for (int k = 0; k < n && put < lim; k++) {
                    size_t c = w[k].iov_len < lim - put ? w[k].iov_len : lim - put;
                    memcpy(w[k].iov_base, src + fed + put, c);
                    put += c;
                }
                assert_int_equal(urg_session_recv_commit(s, put), 0);
                fed += put;
            } else {
                size_t c = 1 + rnd32() % 90;
                if (c > total - fed)
                    c = total - fed;
                assert_int_equal(urg_session_recv(s, src + fed, c), 0);
                fed += c;
            }
        }
        assert_int_equal(rec_count(&r, id), 1);
        assert_int_equal(rec_find(&r, id)->c.length, reply);
        {
            /* the payload in the segments, or handed out in place */
            const uint8_t *d = rec_find(&r, id)->c.data;
            uint32_t got = 0;
            if (d == NULL) {
                for (int k = 0; k < nseg && got < reply; k++) {
                    size_t c = v[k].iov_len < reply - got ? v[k].iov_len : reply - got;
                    assert_memory_equal(v[k].iov_base, payload + got, c);
                    got += (uint32_t)c;
                }
                /* nothing past the reply */
                for (int k = 0, at = 0; k < nseg; k++) {
                    for (size_t b = 0; b < v[k].iov_len; b++, at++)
                        if ((uint32_t)at >= reply)
                            assert_int_equal(((uint8_t *)v[k].iov_base)[b], 0xee);
                }
            } else {
                assert_memory_equal(rec_find(&r, id)->data, payload, reply);
            }
        }
        /* the gaps */
        for (int k = 0; k < nseg; k++)
            for (int b = 0; b < 8; b++)
                assert_int_equal(((uint8_t *)v[k].iov_base)[v[k].iov_len + b], 0xee);
        free(copy);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}


/* Random OUT layouts, consumed in random steps, answered early or
 * not; the bytes sent are the segments' as they were at submission, and
 * after the completion no output points into them. Iso OUT at random
 * offsets. */
static void test_iov_random_out(void **state)
{
    (void)state;
    for (int iter = 0; iter < 2000; iter++) {
        enum { MAXSEG = 20 };
        static uint8_t area[MAXSEG * 208 + 64], want[MAXSEG * 208 + 64], wire[MAXSEG * 208 + 256];
        struct iovec v[MAXSEG], o[64];
        struct rec r;
        struct testhost h;
        urg_session *s;
        uint64_t id;
        int nseg = 1 + (int)(rnd32() % MAXSEG), n;
        uint32_t cap = 0, length, wl = 0;
        size_t off = 0, total = 0, consumed = 0, goal;
        bool early = rnd32() % 2;
        for (int k = 0; k < nseg; k++) {
            uint32_t kind = rnd32() % 4, m = kind == 0 ? 0 : kind == 1 ? 1 : rnd32() % 200;
            v[k].iov_base = area + off;
            v[k].iov_len = m;
            off += m + 8;
            cap += m;
        }
        for (size_t i = 0; i < off; i++)
            area[i] = (uint8_t)rnd32();
        length = cap ? rnd32() % (cap + 1) : 0;
        for (int k = 0; k < nseg && wl < length; k++) {
            size_t c = v[k].iov_len < length - wl ? v[k].iov_len : length - wl;
            memcpy(want + wl, v[k].iov_base, c);
            wl += (uint32_t)c;
        }
        rec_init(&r);
        s = connected_session(&r, &h, ALL, ALL);
        assert_int_equal(urg_session_bulk_iov(s, 0x02, 0, length, v, nseg, NULL, &id), 0);
        total = urg_session_output_pending(s);
        assert_int_equal(total, 26 + length);
        goal = early ? rnd32() % (total + 1) : total;
        while (consumed < goal) {
            size_t step = 1 + rnd32() % 150, got = 0;
            if (step > goal - consumed)
                step = goal - consumed;
            n = urg_session_output(s, o, 64);
            for (int k = 0; k < n && got < step; k++) {
                size_t c = o[k].iov_len < step - got ? o[k].iov_len : step - got;
                memcpy(wire + consumed + got, o[k].iov_base, c);
                got += c;
            }
            assert_int_equal(got, step);
            assert_int_equal(urg_session_consume(s, step), 0);
            consumed += step;
        }
        if (early) {
            struct urg_packet p;
            memset(&p, 0, sizeof(p));
            p.type = URG_BULK_PACKET;
            p.id = id;
            p.h.bulk.endpoint = 0x02;
            p.h.bulk.length = length;
            th_emit(&h, &p);
            assert_int_equal(th_flush(&h, s, 0), 0);
            assert_int_equal(rec_count(&r, id), 1);
            memset(area, 0x5a, sizeof(area)); /* the guest reuses its pages */
        }
        n = urg_session_output(s, o, 64);
        for (int k = 0; k < n; k++) {
            if (early)
                assert_true((uint8_t *)o[k].iov_base < area ||
                            (uint8_t *)o[k].iov_base >= area + sizeof(area));
            memcpy(wire + consumed, o[k].iov_base, o[k].iov_len);
            consumed += o[k].iov_len;
        }
        assert_int_equal(consumed, total);
        assert_int_equal(urg_session_consume(s, urg_session_output_pending(s)), 0);
        assert_memory_equal(wire + 26, want, length);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

static void test_iov_random_iso_out(void **state)
{
    (void)state;
    for (int iter = 0; iter < 500; iter++) {
        enum { MAXSEG = 12 };
        static uint8_t area[MAXSEG * 208 + 64], flat[MAXSEG * 208 + 64];
        struct iovec v[MAXSEG];
        struct rec r;
        struct testhost h;
        urg_session *s;
        int nseg = 1 + (int)(rnd32() % MAXSEG);
        uint32_t cap = 0, offset, length;
        size_t off = 0;
        for (int k = 0; k < nseg; k++) {
            uint32_t kind = rnd32() % 4, m = kind == 0 ? 0 : kind == 1 ? 1 : rnd32() % 200;
            v[k].iov_base = area + off;
            v[k].iov_len = m;
            for (uint32_t b = 0; b < m; b++)
                flat[cap + b] = area[off + b] = (uint8_t)rnd32();
            off += m + 8;
            cap += m;
        }
        offset = rnd32() % (cap + 1);
        length = rnd32() % (cap - offset + 1);
        rec_init(&r);
        s = connected_session(&r, &h, ALL, ALL);
        start_stream(s, 1, 0x03);
        assert_int_equal(urg_session_iso_out_iov(s, 0x03, (uint16_t)length, v, nseg, offset), 0);
        /* one more than the segments hold: refused */
        assert_int_equal(urg_session_iso_out_iov(s, 0x03, (uint16_t)(cap - offset + 1), v, nseg,
                                                 offset),
                         URG_ERR_INVALID);
        th_pump(&h, s);
        {
            const struct urg_packet *p = last(&h, URG_ISO_PACKET);
            assert_int_equal(p->data_len, length);
            if (length)
                assert_memory_equal(p->data, flat + offset, length);
        }
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iov_in_through_the_window),
        cmocka_unit_test(test_iov_in_straddling_recv_calls),
        cmocka_unit_test(test_iov_in_whole_in_place),
        cmocka_unit_test(test_iov_out_sent_from_the_segments),
        cmocka_unit_test(test_iov_out_early_reply_detaches_every_segment),
        cmocka_unit_test(test_iov_in_forgotten_mid_payload),
        cmocka_unit_test(test_iov_arguments),
        cmocka_unit_test(test_iov_random_in),
        cmocka_unit_test(test_iov_random_out),
        cmocka_unit_test(test_iov_random_iso_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

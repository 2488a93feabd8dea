/*
 * test_internals.c - the pending table (pending.c) and the output queue
 * (outq.c) on their own: ids, slots, growth, order; ring wrap-around,
 * growth while wrapped, merging, external segments, detach. The receive
 * path's frame table (codec.c) against urgi_check_frame(); the field lists
 * (packet_types.c) against the field codecs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "outq.h"
#include "packets.h"
#include "pending.h"


/* ---------------------------------------------------------------- frame table */

/* The decoder checks a header with urgi_frame_ok() and asks
 * urgi_check_frame() only for a failure's message: the two must pass and
 * refuse exactly the same headers, with the same type-header size, for
 * every caps set, direction, type (known or not) and length around each
 * bound. */
static void test_frame_table_agrees_with_check_frame(void **state)
{
    static const uint32_t extra_types[] = { 28, 99, 105, 1000, UINT32_MAX };
    unsigned long checked = 0;
    (void)state;
    for (uint32_t caps = 0; caps < 256; caps++) {
        struct urg_wire w = urg_wire_from_caps(caps, caps);
        for (int dir = 0; dir < 2; dir++) {
            enum urg_dir d = dir ? URG_DIR_TO_HOST : URG_DIR_TO_GUEST;
            struct urgi_frame_table t;
            urgi_frame_table_init(&t, &w, d);
            for (int i = 0; i < URG_TYPE_COUNT + 5; i++) {
                uint32_t type = i < URG_TYPE_COUNT ? urg_type_at(i)
                                                   : extra_types[i - URG_TYPE_COUNT];
                int th = urg_type_header_len(&w, type, d);
                uint32_t lens[] = { 0, 1, 7, 8, 9, 10, 11, 64, 65, 288, 289, 1000, 4096, 4097 };
                for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
                    for (int dl = -1; dl <= 1; dl++) {
                        uint32_t len = lens[k], max = 4096;
                        int th_check = -7, ok;
                        if (th >= 0 && dl)
                            len = (uint32_t)(th + dl < 0 ? 0 : th + dl);
                        ok = urgi_check_frame(&w, d, type, len, max, &th_check, NULL, 0) == 0;
                        assert_int_equal(urgi_frame_ok(&t, urgi_type_index(type), len, max),
                                         ok ? th_check : -1);
                        checked++;
                    }
                }
            }
        }
    }
    assert_true(checked > 100000);
}

/* ---------------------------------------------------------------- field lists */

/* urg_type_field() lists what each row's codec reads and writes: under
 * every caps set, setting one element of a listed field changes type-header
 * bytes that no other element changes, a field a missing cap leaves out
 * changes none, nothing is written past the type header, and together the
 * elements write every byte of it (a text field all but its terminator).
 * Their roles are what urg_packet_fields() reads, and urg_type_info()
 * agrees with the rows' directions. */
static void test_field_lists_cover_the_field_codecs(void **state)
{
    unsigned long elements = 0;
    (void)state;
    for (uint32_t caps = 0; caps < 256; caps++) {
        struct urg_wire w = urg_wire_from_caps(caps, caps);
        for (int i = 0; i < URG_TYPE_COUNT; i++) {
            const struct urgi_type *row = &urgi_types[i];
            struct urg_type_info ti;
            struct urg_field f;
            struct urg_packet zero, q;
            uint8_t b0[400], b1[400], covered[400];
            int len = urgi_type_header_len(row, &w), n, texts = 0, uncovered = 0;
            assert_int_equal(urg_type_info(row->type, &ti), 0);
            memset(&zero, 0, sizeof(zero));
            zero.type = row->type;
            memset(b0, 0, sizeof(b0));
            memset(covered, 0, sizeof(covered));
            row->encode(&w, &zero, b0);
            for (n = 0; urg_type_field(row->type, n, &f); n++) {
                int present = f.cap < 0 || ((w.caps >> f.cap) & 1u);
                int count = f.role == URG_FIELD_TEXT ? 1 : f.count;
                texts += f.role == URG_FIELD_TEXT && present;
                for (int e = 0; e < count; e++) {
                    int changed = 0;
                    q = zero;
                    if (f.role == URG_FIELD_TEXT)
                        memset((uint8_t *)&q + f.offset, 'A', (size_t)f.count - 1);
                    else
                        urg_field_set(&q, &f, e, UINT32_MAX);
                    memset(b1, 0, sizeof(b1));
                    row->encode(&w, &q, b1);
                    for (int k = 0; k < (int)sizeof(b1); k++) {
                        if (b1[k] == b0[k])
                            continue;
                        if (k >= len || covered[k])
                            fail_msg("%s %s[%d] (caps 0x%x): byte %d of a %d-byte type header "
                                     "%s",
                                     row->name, f.name, e, caps, k, len,
                                     k >= len ? "is past it" : "belongs to another field");
                        covered[k] = 1;
                        changed++;
                    }
                    if (present != (changed > 0))
                        fail_msg("%s %s[%d] (caps 0x%x): %d bytes change, the field is %s",
                                 row->name, f.name, e, caps, changed,
                                 present ? "on the wire" : "not on the wire");
                    elements++;
                }
            }
            assert_int_equal(n, ti.fields);
            for (int k = 0; k < len; k++)
                uncovered += !covered[k];
            if (uncovered != texts)
                fail_msg("%s (caps 0x%x): %d bytes of the type header are in no field", row->name,
                         caps, uncovered - texts);
            /* The roles are the row's fields. */
            q = zero;
            for (n = 0; urg_type_field(row->type, n, &f); n++)
                urg_field_set(&q, &f, 0, f.role == URG_FIELD_OTHER || f.role == URG_FIELD_TEXT
                                             ? 0
                                             : 0x80u + f.role);
            {
                struct urg_packet_fields pf;
                urg_packet_fields(&q, &pf);
                assert_int_equal(pf.endpoint, row->endpoint_at ? 0x80 + URG_FIELD_ENDPOINT : -1);
                assert_int_equal(pf.status, row->status_at ? 0x80 + URG_FIELD_STATUS : -1);
                assert_int_equal(pf.length, row->length_at ? 0x80 + URG_FIELD_LENGTH : -1);
                assert_int_equal(pf.stream_id,
                                 row->stream_id_at ? 0x80 + URG_FIELD_STREAM_ID : -1);
            }
            for (int d = 0; d < 2; d++)
                assert_int_equal(!!(ti.dirs & URG_DIR_BIT(d)),
                                 urg_type_header_len(&w, row->type, (enum urg_dir)d) >= 0);
        }
    }
    assert_int_equal(elements, 256 * 352); /* 352 elements in the 33 lists */
    {
        struct urg_type_info ti;
        struct urg_field f;
        assert_int_equal(urg_type_info(1000, &ti), URG_ERR_INVALID);
        assert_int_equal(urg_type_info(URG_HELLO, NULL), URG_ERR_INVALID);
        assert_int_equal(urg_type_field(1000, 0, &f), 0);
        assert_int_equal(urg_type_field(URG_CONTROL_PACKET, -1, &f), 0);
        assert_int_equal(urg_type_field(URG_CONTROL_PACKET, 7, &f), 0);
        assert_int_equal(urg_type_field(URG_RESET, 0, &f), 0);
    }
}

/* ---------------------------------------------------------------- pending */

/* urgi_pt_oldest_first() in pieces of max gives every pending entry once,
 * in the order they were added: each strictly younger than the one before. */
static void expect_oldest_first(const struct urgi_ptable *t, uint32_t max)
{
    uint32_t *order = malloc((size_t)max * sizeof(*order)), n, k, seen = 0;
    uint64_t below = UINT64_MAX, last_age = UINT64_MAX;
    while ((n = urgi_pt_oldest_first(t, URGI_P_USED, t->next_id, below, order, max)) > 0) {
        assert_true(n <= max);
        for (k = 0; k < n; k++) {
            uint64_t age = urgi_pt_age(t, t->next_id, t->e[order[k]].id);
            assert_true(t->e[order[k]].flags & URGI_P_USED);
            assert_true(age < last_age); /* strictly younger: no repeat */
            last_age = age;
            seen++;
        }
        below = last_age;
    }
    assert_int_equal(seen, t->count);
    free(order);
}

static void test_pending_ids_and_lookup(void **state)
{
    struct urgi_ptable t;
    enum { N = 20000 };
    uint32_t *idx = malloc(N * sizeof(*idx));
    uint64_t *ids = malloc(N * sizeof(*ids));
    uint8_t *gone = calloc(N, 1);
    uint32_t rng = 7, i;
    (void)state;
    assert_int_equal(urgi_pt_init(&t, &urgi_default_allocator, 4), 0);
    assert_int_equal(t.cap, 16);
    assert_true(t.index_size >= 2 * t.cap);
    t.id_mask = UINT64_MAX;
    for (i = 0; i < N; i++) {
        idx[i] = urgi_pt_add(&t);
        assert_int_not_equal(idx[i], URGI_NIL);
        ids[i] = t.e[idx[i]].id;
        assert_true(ids[i] != 0);
        if (i)
            assert_true(ids[i] > ids[i - 1]);
    }
    assert_int_equal(t.count, N);
    assert_true(2 * t.count <= t.index_size);
    /* The memory bound pending.h gives: entries at most an eighth over,
     * at most 4 index slots per entry. */
    assert_true(t.cap <= N + N / 8 + 16);
    assert_true(t.index_size <= 4 * N);
    /* Remove a random half; the rest stay findable, the removed are gone. */
    for (i = 0; i < N; i++) {
        if (rnd(&rng) % 2) {
            urgi_pt_remove(&t, urgi_pt_find(&t, ids[i]));
            gone[i] = 1;
        }
    }
    for (i = 0; i < N; i++)
        assert_int_equal(urgi_pt_find(&t, ids[i]) == URGI_NIL, gone[i]);
    /* Submission order survives removal: oldest first, in one piece and
     * in pieces of 7. */
    expect_oldest_first(&t, t.count);
    expect_oldest_first(&t, 7);
    /* New ids never take a slot in use, even after the counter wraps. */
    t.id_mask = UINT32_MAX;
    t.next_id = 0xffffff00u;
    for (i = 0; i < 1000; i++) {
        uint32_t k = urgi_pt_add(&t), j;
        uint64_t id = t.e[k].id;
        assert_true(id != 0 && id <= 0xffffffffu);
        j = urgi_pt_find(&t, id);
        assert_int_equal(j, k);
    }
    /* The ids just wrapped past 0: still submission order. */
    expect_oldest_first(&t, t.count);
    expect_oldest_first(&t, 5);
    urgi_pt_destroy(&t);
    free(idx);
    free(ids);
    free(gone);
}

/* Oldest first is the real submission order across the 32-bit counter's
 * wrap: ids 0xffffffe0 .. 0xffffffff, then 1 .. 32 (0 is skipped). */
static void test_pending_order_across_32bit_wrap(void **state)
{
    struct urgi_ptable t;
    uint64_t sub[64];
    uint32_t order[64], n, k;
    (void)state;
    assert_int_equal(urgi_pt_init(&t, &urgi_default_allocator, 64), 0);
    t.id_mask = UINT32_MAX;
    t.next_id = 0xffffffe0u;
    for (k = 0; k < 64; k++)
        sub[k] = t.e[urgi_pt_add(&t)].id;
    assert_int_equal(sub[31], 0xffffffffu);
    assert_int_equal(sub[32], 1);
    n = urgi_pt_oldest_first(&t, URGI_P_USED, t.next_id, UINT64_MAX, order, 64);
    assert_int_equal(n, 64);
    for (k = 0; k < 64; k++)
        assert_int_equal(t.e[order[k]].id, sub[k]);
    /* In pieces of 5 too. */
    {
        uint64_t below = UINT64_MAX;
        uint32_t seen = 0;
        while ((n = urgi_pt_oldest_first(&t, URGI_P_USED, t.next_id, below, order, 5)) > 0) {
            for (k = 0; k < n; k++)
                assert_int_equal(t.e[order[k]].id, sub[seen + k]);
            seen += n;
            below = urgi_pt_age(&t, t.next_id, t.e[order[n - 1]].id);
        }
        assert_int_equal(seen, 64);
    }
    urgi_pt_destroy(&t);
}

static void test_pending_out_of_memory(void **state)
{
    struct fail_alloc f = { 0 };
    const struct urg_allocator a = fail_allocator(&f);
    struct urgi_ptable t;
    uint32_t i;
    (void)state;
    fail_alloc_refuse(&f, 0);
    assert_int_equal(urgi_pt_init(&t, &a, 16), 0);
    for (i = 0; i < 16; i++)
        assert_int_not_equal(urgi_pt_add(&t), URGI_NIL);
    fail_alloc_refuse(&f, 1);
    assert_int_equal(urgi_pt_add(&t), URGI_NIL); /* needs to grow */
    assert_int_equal(t.count, 16);
    fail_alloc_refuse(&f, 0);
    assert_int_not_equal(urgi_pt_add(&t), URGI_NIL);
    urgi_pt_destroy(&t);
    fail_alloc_refuse(&f, 1);
    assert_int_equal(urgi_pt_init(&t, &a, 16), URG_ERR_NOMEM);
    assert_int_equal(f.live, 0);
}

/* ---------------------------------------------------------------- outq */

/* Concatenates what the iovecs describe. */
static size_t gather(const struct urgi_outq *q, uint8_t *out, int *niov)
{
    struct iovec iov[1024];
    int n = urgi_outq_iov(q, iov, 1024), i;
    size_t len = 0;
    for (i = 0; i < n; i++) {
        memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    if (niov)
        *niov = n;
    return len;
}

static uint32_t released_owner;
static int releases;
static void on_release(void *ctx, uint32_t owner, uint64_t id)
{
    (void)ctx;
    (void)id;
    released_owner = owner;
    releases++;
}

static void test_outq_order_merge_wrap_grow(void **state)
{
    struct urgi_outq q;
    static uint8_t model[20000], got[20000], bytes[3000];
    size_t mlen = 0, i;
    uint32_t rng = 99;
    int niov, round;
    (void)state;
    for (i = 0; i < sizeof(bytes); i++)
        bytes[i] = (uint8_t)i;
    assert_int_equal(urgi_outq_init(&q, &urgi_default_allocator), 0);
    /* Small puts merge into one segment. */
    assert_int_equal(urgi_outq_reserve(&q, 30, 3), 0);
    urgi_outq_put(&q, "abc", 3);
    urgi_outq_put(&q, "defg", 4);
    assert_int_equal(q.scount, 1);
    assert_int_equal(gather(&q, got, &niov), 7);
    assert_int_equal(niov, 1);
    assert_memory_equal(got, "abcdefg", 7);
    memcpy(model, "abcdefg", 7);
    mlen = 7;
    /* A random mix of puts, external segments and consumes, checked
     * against a flat model; the ring wraps and grows while wrapped. */
    for (round = 0; round < 3000; round++) {
        uint32_t op = rnd(&rng) % 4, n = 1 + rnd(&rng) % 700;
        if (op == 0 || op == 1) {
            uint32_t segs;
            bool tail_ring;
            assert_int_equal(urgi_outq_reserve(&q, n, 1), 0);
            /* Ring bytes join a ring segment at the tail, else start one. */
            segs = q.scount;
            tail_ring = segs && !q.seg[(q.shead + segs - 1) & (q.scap - 1)].ext;
            urgi_outq_put(&q, bytes + (round % 100), n);
            assert_int_equal(q.scount, tail_ring ? segs : segs + 1);
            memcpy(model + mlen, bytes + (round % 100), n);
            mlen += n;
        } else if (op == 2) {
            assert_int_equal(urgi_outq_reserve(&q, 0, 1), 0);
            urgi_outq_put_ext(&q, bytes + 7, n, URGI_NIL, 0, true);
            memcpy(model + mlen, bytes + 7, n);
            mlen += n;
        } else {
            size_t c = mlen ? rnd(&rng) % (mlen + 1) : 0;
            urgi_outq_consume(&q, c, NULL, NULL);
            memmove(model, model + c, mlen - c);
            mlen -= c;
        }
        if (mlen > 15000) {
            urgi_outq_consume(&q, 10000, NULL, NULL);
            memmove(model, model + 10000, mlen - 10000);
            mlen -= 10000;
        }
        assert_int_equal(q.total, mlen);
        assert_int_equal(gather(&q, got, NULL), mlen);
        assert_memory_equal(got, model, mlen);
    }
    /* The segment array grows (moves) while the tail is a ring segment:
     * the next ring bytes still join that segment. */
    for (i = 0; i < 200; i++) {
        uint32_t segs = q.scount;
        assert_int_equal(urgi_outq_reserve(&q, 0, 1), 0);
        urgi_outq_put_ext(&q, bytes + 7, 3, URGI_NIL, 0, true);
        memcpy(model + mlen, bytes + 7, 3);
        mlen += 3;
        for (int k = 0; k < 2; k++) {
            /* k == 1, the first 8 times: room for more segments than the
             * array has left (it doubles) */
            assert_int_equal(urgi_outq_reserve(&q, 2, k && i < 8 ? q.scap - q.scount + 1 : 2), 0);
            urgi_outq_put(&q, bytes + i, 2);
            memcpy(model + mlen, bytes + i, 2);
            mlen += 2;
        }
        assert_int_equal(q.scount, segs + 2);
    }
    assert_true(q.scap > URGI_OUTQ_SEGS0);
    assert_int_equal(gather(&q, got, NULL), mlen);
    assert_memory_equal(got, model, mlen);
    /* The ring never grows past URGI_OUTQ_RING_MAX (so a ring segment's
     * length fits its 32 bits): refused before any allocation. */
    assert_int_equal(urgi_outq_reserve(&q, (size_t)URGI_OUTQ_RING_MAX + 1, 1), URG_ERR_NOMEM);
    assert_int_equal(q.total, mlen);
    assert_int_equal(gather(&q, got, NULL), mlen);
    assert_memory_equal(got, model, mlen);
    urgi_outq_destroy(&q);
}

/* A burst grows the ring past URGI_OUTQ_KEEP; once the queue is empty it
 * goes back to its first size, and without memory for that it keeps the
 * big ring and goes on working. */
static void test_outq_shrinks_after_a_burst(void **state)
{
    struct fail_alloc f = { 0 };
    const struct urg_allocator a = fail_allocator(&f);
    struct urgi_outq q;
    static uint8_t chunk[1000], got[1000];
    int round, i;
    (void)state;
    memset(chunk, 0x5a, sizeof(chunk));
    assert_int_equal(urgi_outq_init(&q, &a), 0);
    for (round = 0; round < 2; round++) {
        for (i = 0; i < 400; i++) {
            assert_int_equal(urgi_outq_reserve(&q, sizeof(chunk), 1), 0);
            urgi_outq_put(&q, chunk, sizeof(chunk));
        }
        assert_true(q.rcap > URGI_OUTQ_KEEP);
        fail_alloc_refuse(&f, round == 0);
        urgi_outq_consume(&q, q.total - 10, NULL, NULL);
        assert_true(q.rcap > URGI_OUTQ_KEEP); /* not empty yet */
        urgi_outq_consume(&q, 10, NULL, NULL);
        fail_alloc_refuse(&f, 0);
        assert_int_equal(q.total, 0);
        if (round == 0) {
            assert_true(q.rcap > URGI_OUTQ_KEEP); /* no memory: kept */
        } else {
            assert_int_equal(q.rcap, URGI_OUTQ_RING0);
        }
    }
    /* Still a queue. */
    assert_int_equal(urgi_outq_reserve(&q, sizeof(chunk), 1), 0);
    urgi_outq_put(&q, chunk, sizeof(chunk));
    assert_int_equal(gather(&q, got, NULL), sizeof(chunk));
    assert_memory_equal(got, chunk, sizeof(chunk));
    urgi_outq_destroy(&q);
    assert_int_equal(f.live, 0);
}

/* The segment array's shrink: 2100 header + external payload pairs grow it
 * past URGI_OUTQ_KEEP_SEGS; each external segment is released once;
 * emptied, it is back to its first size and still a queue. */
static int shrink_releases;
static void count_release(void *ctx, uint32_t owner, uint64_t id)
{
    (void)ctx;
    assert_int_equal(owner, (uint32_t)id);
    shrink_releases++;
}
static void test_outq_segments_shrink_after_a_burst(void **state)
{
    struct fail_alloc f = { 0 };
    const struct urg_allocator a = fail_allocator(&f);
    struct urgi_outq q;
    static uint8_t hdr[12], payload[8], got[64];
    uint32_t i;
    (void)state;
    assert_int_equal(urgi_outq_init(&q, &a), 0);
    for (i = 0; i < 2100; i++) {
        assert_int_equal(urgi_outq_reserve(&q, sizeof(hdr), 2), 0);
        urgi_outq_put(&q, hdr, sizeof(hdr));
        urgi_outq_put_ext(&q, payload, sizeof(payload), i, i, true);
    }
    assert_true(q.scap > URGI_OUTQ_KEEP_SEGS);
    shrink_releases = 0;
    urgi_outq_consume(&q, q.total - 1, count_release, NULL);
    assert_true(q.scap > URGI_OUTQ_KEEP_SEGS);
    urgi_outq_consume(&q, 1, count_release, NULL);
    assert_int_equal(shrink_releases, 2100);
    assert_int_equal(q.scap, URGI_OUTQ_SEGS0);
    assert_int_equal(q.shead, 0);
    assert_int_equal(urgi_outq_reserve(&q, sizeof(hdr), 2), 0);
    memset(hdr, 7, sizeof(hdr));
    urgi_outq_put(&q, hdr, sizeof(hdr));
    urgi_outq_put_ext(&q, payload, sizeof(payload), 1, 1, true);
    assert_int_equal(gather(&q, got, NULL), sizeof(hdr) + sizeof(payload));
    assert_memory_equal(got, hdr, sizeof(hdr));
    urgi_outq_destroy(&q);
    assert_int_equal(f.live, 0);
}

static void test_outq_release_and_detach(void **state)
{
    struct urgi_outq q;
    uint8_t *payload = malloc(100), got[200];
    (void)state;
    memset(payload, 0x42, 100);
    assert_int_equal(urgi_outq_init(&q, &urgi_default_allocator), 0);
    assert_int_equal(urgi_outq_reserve(&q, 10, 3), 0);
    urgi_outq_put(&q, "header", 6);
    urgi_outq_put_ext(&q, payload, 100, 5, 77, true);
    urgi_outq_put(&q, "tail", 4);
    /* The transport takes part of the payload, then the owner goes. */
    releases = 0;
    urgi_outq_consume(&q, 6 + 30, on_release, NULL);
    assert_int_equal(releases, 0);
    assert_int_equal(urgi_outq_detach(&q, 5, 78), 0); /* another id: nothing */
    assert_int_equal(q.seg[q.shead].owned, false);
    assert_int_equal(urgi_outq_detach(&q, 5, 77), 0);
    memset(payload, 0, 100);
    free(payload);
    assert_int_equal(gather(&q, got, NULL), 70 + 4);
    assert_int_equal(got[0], 0x42);
    assert_int_equal(got[69], 0x42);
    assert_memory_equal(got + 70, "tail", 4);
    /* A detached segment no longer names its owner. */
    urgi_outq_consume(&q, 70, on_release, NULL);
    assert_int_equal(releases, 0);
    /* An attached one is released when written. */
    payload = malloc(10);
    assert_int_equal(urgi_outq_reserve(&q, 0, 1), 0);
    urgi_outq_put_ext(&q, payload, 10, 9, 1, true);
    urgi_outq_consume(&q, 4 + 10, on_release, NULL);
    assert_int_equal(releases, 1);
    assert_int_equal(released_owner, 9);
    assert_int_equal(q.total, 0);
    free(payload);
    /* clear frees detached copies. */
    payload = malloc(10);
    assert_int_equal(urgi_outq_reserve(&q, 0, 1), 0);
    urgi_outq_put_ext(&q, payload, 10, 3, 3, true);
    assert_int_equal(urgi_outq_detach(&q, 3, 3), 0);
    free(payload);
    urgi_outq_clear(&q);
    assert_int_equal(q.total, 0);
    urgi_outq_destroy(&q);
}

/* The open ring segment takes new bytes while it is the partly consumed
 * head, and its length counts the consumed bytes too: a queue that never
 * empties passes 5 GiB through it while the ring stays small, and what it
 * hands out stays exactly what is queued (a 32-bit length wrapped here). */
static void test_outq_open_segment_length_bound(void **state)
{
    struct urgi_outq q;
    const size_t chunk = 1u << 20;
    uint64_t written = 0;
    (void)state;
    assert_int_equal(urgi_outq_init(&q, &urgi_default_allocator), 0);
    while (written < (5ull << 30)) {
        assert_int_equal(urgi_outq_reserve(&q, chunk, 1), 0);
        /* bytes need not be written for the bookkeeping: wrote() only */
        urgi_outq_wrote(&q, chunk);
        written += chunk;
        urgi_outq_consume(&q, q.total - 1, NULL, NULL); /* the queue never empties */
        assert_true(q.scount == 1 || q.scount == 2);
        assert_true(q.seg[q.shead].len >= q.off);
        assert_int_equal(q.seg[q.shead].len - q.off, q.total);
    }
    urgi_outq_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_table_agrees_with_check_frame),
        cmocka_unit_test(test_field_lists_cover_the_field_codecs),
        cmocka_unit_test(test_pending_ids_and_lookup),
        cmocka_unit_test(test_pending_out_of_memory),
        cmocka_unit_test(test_pending_order_across_32bit_wrap),
        cmocka_unit_test(test_outq_order_merge_wrap_grow),
        cmocka_unit_test(test_outq_release_and_detach),
        cmocka_unit_test(test_outq_shrinks_after_a_burst),
        cmocka_unit_test(test_outq_segments_shrink_after_a_burst),
        cmocka_unit_test(test_outq_open_segment_length_bound),
    };
    return cmocka_run_group_tests_name("internals", tests, NULL, NULL);
}

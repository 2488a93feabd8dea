/*
 * test_output.c - the codec API's output queue (urg_output, guest/
 * output.c): headers copied and merged, payloads written from the caller's
 * buffer and released exactly once (written, or dropped by a reset or the
 * free), any split of the writes, the bound, the allocator's failures,
 * re-entry from the release callback; and a random run against a model of
 * what the bytes out and the releases must be.
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
#include "urg_codec.h"

/* ---------------------------------------------------------------- helpers */

#define MAX_REL 4096

/* The release callback's record, and what it does when called. */
struct rel {
    int n;
    uintptr_t token[MAX_REL];
    int written[MAX_REL];
    urg_output *o;
    /* on the release of token act_on (0: none): */
    uintptr_t act_on;
    int act;      /* 1 queue bytes, 2 consume, 3 reset, 4 free */
    int act_rc;   /* what the call returned */
};

static void on_release(void *ctx, void *token, int written)
{
    struct rel *r = ctx;
    assert_true(r->n < MAX_REL);
    r->token[r->n] = (uintptr_t)token;
    r->written[r->n] = written;
    r->n++;
    if (r->act_on && (uintptr_t)token == r->act_on) {
        static const uint8_t more[5] = { 'm', 'o', 'r', 'e', '!' };
        switch (r->act) {
        case 1: r->act_rc = urg_output_put(r->o, more, sizeof(more), NULL, 0, NULL); break;
        case 2: r->act_rc = urg_output_consume(r->o, 1); break;
        case 3: r->act_rc = urg_output_reset(r->o); break;
        default: urg_output_free(r->o); r->act_rc = 0; break;
        }
    }
}

static urg_output *make(struct rel *r, size_t max, const struct urg_allocator *a)
{
    struct urg_output_config c;
    urg_output *o = NULL;
    memset(&c, 0, sizeof(c));
    c.max_bytes = max;
    c.allocator = a;
    c.release = on_release;
    c.ctx = r;
    if (r)
        memset(r, 0, sizeof(*r));
    assert_int_equal(urg_output_new(&c, &o), 0);
    if (r)
        r->o = o;
    return o;
}

/* Everything queued, flattened through the iovecs (n of them, if n not
 * NULL); *len its length. */
static uint8_t *flatten(const urg_output *o, size_t *len, int *n)
{
    struct iovec iov[256];
    int k = urg_output_iov(o, iov, 256);
    size_t t = 0;
    uint8_t *b;
    assert_true(k >= 0);
    for (int i = 0; i < k; i++)
        t += iov[i].iov_len;
    b = malloc(t + 1);
    assert_non_null(b);
    t = 0;
    for (int i = 0; i < k; i++) {
        memcpy(b + t, iov[i].iov_base, iov[i].iov_len);
        t += iov[i].iov_len;
    }
    *len = t;
    if (n)
        *n = k;
    return b;
}

/* ---------------------------------------------------------------- tests */

/* Adjacent headers go out as one iovec; a payload is its own, pointing at
 * the caller's buffer (not copied); what follows it merges again. */
static void test_headers_merge_payloads_uncopied(void **state)
{
    struct rel r;
    urg_output *o = make(&r, 1 << 20, NULL);
    static const uint8_t h1[12] = "headerone...", h2[20] = "header two, longer..";
    static uint8_t payload[1000];
    struct iovec iov[8];
    (void)state;
    memset(payload, 0x77, sizeof(payload));
    assert_int_equal(urg_output_put(o, h1, sizeof(h1), NULL, 0, NULL), 0);
    assert_int_equal(urg_output_put(o, h2, sizeof(h2), NULL, 0, NULL), 0);
    assert_int_equal(urg_output_iov(o, iov, 8), 1);
    assert_int_equal(iov[0].iov_len, 32);
    assert_memory_equal(iov[0].iov_base, h1, 12);
    assert_memory_equal((uint8_t *)iov[0].iov_base + 12, h2, 20);
    assert_int_equal(urg_output_put(o, h1, sizeof(h1), payload, sizeof(payload), (void *)1), 0);
    assert_int_equal(urg_output_put(o, h2, sizeof(h2), NULL, 0, NULL), 0);
    assert_int_equal(urg_output_put(o, h1, sizeof(h1), NULL, 0, NULL), 0);
    assert_int_equal(urg_output_iov(o, iov, 8), 3);
    assert_int_equal(iov[0].iov_len, 44);
    assert_ptr_equal(iov[1].iov_base, payload);
    assert_int_equal(iov[1].iov_len, sizeof(payload));
    assert_int_equal(iov[2].iov_len, 32);
    assert_int_equal(urg_output_queued(o), 44 + 1000 + 32);
    /* fewer iovecs than pieces: the first ones */
    assert_int_equal(urg_output_iov(o, iov, 2), 2);
    assert_int_equal(urg_output_iov(o, iov, 0), 0);
    assert_int_equal(r.n, 0);
    urg_output_free(o);
    /* the payload queued at the free: released, not written */
    assert_int_equal(r.n, 1);
    assert_int_equal(r.token[0], 1);
    assert_int_equal(r.written[0], 0);
}

/* Consumed a few bytes at a time: what is left is the rest of the stream,
 * and each payload is released once, as written, when its last byte goes. */
static void test_partial_writes_release_once(void **state)
{
    static uint8_t pay[3][300];
    uint8_t expect[3 * (16 + 300)], *b;
    size_t len, off = 0, at[3];
    struct rel r;
    urg_output *o = make(&r, 1 << 20, NULL);
    (void)state;
    for (int i = 0; i < 3; i++) {
        uint8_t h[16];
        memset(h, 'a' + i, sizeof(h));
        memset(pay[i], 'A' + i, sizeof(pay[i]));
        assert_int_equal(urg_output_put(o, h, sizeof(h), pay[i], sizeof(pay[i]),
                                        (void *)(uintptr_t)(i + 10)),
                         0);
        memcpy(expect + off, h, 16);
        memcpy(expect + off + 16, pay[i], 300);
        off += 316;
        at[i] = off; /* the payload's last byte is consumed here */
    }
    for (size_t done = 0; done < off;) {
        size_t step = 1 + (done * 7) % 23;
        if (step > off - done)
            step = off - done;
        b = flatten(o, &len, NULL);
        assert_int_equal(len, off - done);
        assert_memory_equal(b, expect + done, len);
        free(b);
        assert_int_equal(urg_output_consume(o, step), 0);
        done += step;
        /* released: exactly the payloads that ended by now, in order */
        for (int i = 0, k = 0; i < 3; i++)
            if (at[i] <= done) {
                assert_true(k < r.n);
                assert_int_equal(r.token[k], i + 10);
                assert_int_equal(r.written[k], 1);
                k++;
            }
        assert_int_equal(r.n, (at[0] <= done) + (at[1] <= done) + (at[2] <= done));
    }
    assert_int_equal(urg_output_queued(o), 0);
    assert_int_equal(urg_output_iov(o, NULL, 0), 0);
    assert_int_equal(urg_output_consume(o, 1), URG_ERR_INVALID);
    urg_output_free(o);
    assert_int_equal(r.n, 3); /* none twice */
}

/* The bound counts headers and payloads; a piece over it can never go. */
static void test_bound(void **state)
{
    static uint8_t bytes[200];
    struct rel r;
    urg_output *o = make(&r, 100, NULL);
    (void)state;
    assert_int_equal(urg_output_put(o, bytes, 10, bytes, 50, (void *)1), 0);
    assert_int_equal(urg_output_put(o, bytes, 10, bytes, 31, (void *)2), URG_ERR_AGAIN);
    assert_int_equal(urg_output_put(o, bytes, 40, NULL, 0, NULL), 0); /* 100: full */
    assert_int_equal(urg_output_put(o, bytes, 1, NULL, 0, NULL), URG_ERR_AGAIN);
    assert_int_equal(urg_output_put(o, bytes, 10, bytes, 91, (void *)3), URG_ERR_BUFFER);
    assert_int_equal(urg_output_put(o, bytes, 101, NULL, 0, NULL), URG_ERR_BUFFER);
    assert_int_equal(urg_output_queued(o), 100);
    assert_int_equal(urg_output_consume(o, 60), 0); /* the first packet */
    assert_int_equal(r.n, 1);
    assert_int_equal(urg_output_put(o, bytes, 10, bytes, 50, (void *)4), 0);
    assert_int_equal(urg_output_queued(o), 100);
    /* over 4 GiB - 1 */
    assert_int_equal(urg_output_put(o, bytes, 1, bytes, (size_t)UINT32_MAX + 1, (void *)5),
                     URG_ERR_TOO_LONG);
    urg_output_free(o);
    assert_int_equal(r.n, 2); /* 1 written, 4 dropped; the refused never */
    assert_int_equal(r.token[1], 4);
    assert_int_equal(r.written[1], 0);
}

/* The allocator fails: making the queue, and each growth (the ring, the
 * list of pieces) refuses the packet whole and leaves what was queued; no
 * block is left after the free. */
static void test_allocation_failure(void **state)
{
    static uint8_t big[10000], pays[100][4];
    struct fail_alloc f;
    struct urg_allocator a;
    struct urg_output_config c;
    urg_output *o;
    struct rel r;
    uint8_t *b;
    size_t len;
    uint64_t calls;
    (void)state;
    for (uint64_t k = 1; k <= 3; k++) {
        memset(&f, 0, sizeof(f));
        f.fail_at = k;
        a = fail_allocator(&f);
        memset(&c, 0, sizeof(c));
        c.max_bytes = 1 << 20;
        c.allocator = &a;
        o = (urg_output *)&c; /* must be left alone */
        assert_int_equal(urg_output_new(&c, &o), URG_ERR_NOMEM);
        assert_ptr_equal(o, (urg_output *)&c);
        assert_int_equal(f.live, 0);
    }
    memset(&f, 0, sizeof(f));
    a = fail_allocator(&f);
    o = make(&r, 1 << 20, &a);
    memset(big, 0x42, sizeof(big));
    assert_int_equal(urg_output_put(o, big, 100, NULL, 0, NULL), 0);
    calls = f.calls;
    /* the ring (4 KiB) must grow for this: refused */
    fail_alloc_refuse(&f, 1);
    assert_int_equal(urg_output_put(o, big, 5000, big, 10, (void *)1), URG_ERR_NOMEM);
    assert_int_equal(urg_output_queued(o), 100);
    b = flatten(o, &len, NULL);
    assert_int_equal(len, 100);
    free(b);
    /* the list of pieces (64) must grow: refused */
    for (int i = 0; i < 100; i++) {
        int rc = urg_output_put(o, NULL, 0, pays[i], 4, (void *)(uintptr_t)(100 + i));
        if (rc) {
            assert_int_equal(rc, URG_ERR_NOMEM);
            assert_true(i >= 60);
            break;
        }
    }
    assert_int_equal(r.n, 0);
    fail_alloc_refuse(&f, 0);
    assert_int_equal(urg_output_put(o, big, 5000, big, 10, (void *)1), 0);
    assert_true(f.calls > calls);
    urg_output_free(o);
    assert_int_equal(f.live, 0);
    /* every payload queued released once, as not written */
    for (int i = 0; i < r.n; i++)
        assert_int_equal(r.written[i], 0);
    assert_int_equal(r.token[r.n - 1], 1);
}

/* A reset drops everything (payloads released, not written) and keeps the
 * memory: queuing as much again allocates nothing. */
static void test_reset(void **state)
{
    static uint8_t bytes[3000];
    struct fail_alloc f;
    struct urg_allocator a;
    struct rel r;
    urg_output *o;
    uint64_t calls;
    (void)state;
    memset(&f, 0, sizeof(f));
    a = fail_allocator(&f);
    o = make(&r, 1 << 20, &a);
    for (int i = 0; i < 5; i++)
        assert_int_equal(urg_output_put(o, bytes, 1500, bytes, 100, (void *)(uintptr_t)(i + 1)),
                         0);
    assert_int_equal(urg_output_consume(o, 700), 0); /* part of the first */
    assert_int_equal(urg_output_reset(o), 0);
    assert_int_equal(urg_output_queued(o), 0);
    assert_int_equal(urg_output_iov(o, NULL, 0), 0);
    assert_int_equal(r.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(r.token[i], i + 1);
        assert_int_equal(r.written[i], 0);
    }
    calls = f.calls;
    for (int i = 0; i < 5; i++)
        assert_int_equal(urg_output_put(o, bytes, 1500, bytes, 100, (void *)(uintptr_t)(i + 1)),
                         0);
    assert_int_equal(f.calls, calls);
    urg_output_free(o);
    assert_int_equal(r.n, 10);
    assert_int_equal(f.live, 0);
}

/* urg_output_packet(): the headers urg_encode() writes, the payload by
 * reference; a packet urg_encode() refuses queues nothing. The encode-once
 * pattern: urg_encode_set_id() then urg_output_put(). */
static void test_packets(void **state)
{
    struct urg_wire w = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
    static uint8_t out[512];
    uint8_t enc[64], *b;
    struct urg_packet p, h = hello_packet("q", URG_CAPS_ALL);
    struct iovec iov[4];
    struct rel r;
    size_t len;
    int n;
    urg_output *o = make(&r, 1 << 20, NULL);
    (void)state;
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = 7;
    p.h.bulk.endpoint = 0x02;
    p.h.bulk.length = sizeof(out);
    p.data = out;
    p.data_len = sizeof(out);
    n = urg_encode(&w, URG_DIR_TO_HOST, &p, enc, sizeof(enc));
    assert_true(n > 0);
    assert_int_equal(urg_output_packet(o, &w, URG_DIR_TO_HOST, &p, (void *)9), 0);
    assert_int_equal(urg_output_iov(o, iov, 4), 2);
    assert_int_equal(iov[0].iov_len, (size_t)n);
    assert_memory_equal(iov[0].iov_base, enc, (size_t)n);
    assert_ptr_equal(iov[1].iov_base, out);
    /* refused as a receiver would: nothing queued */
    p.h.bulk.endpoint = 0x82; /* IN: no data may go with it to the host */
    assert_int_equal(urg_output_packet(o, &w, URG_DIR_TO_HOST, &p, (void *)10),
                     URG_ERR_PROTO_UNEXPECTED_DATA);
    assert_int_equal(urg_output_packet(o, &w, URG_DIR_TO_GUEST, &h, (void *)11), 0);
    assert_int_equal(urg_output_queued(o), (size_t)n + sizeof(out) + 12 + 64 + 4);
    /* encoded once, sent under ids 100 and 101 */
    for (uint64_t id = 100; id < 102; id++) {
        assert_int_equal(urg_encode_set_id(&w, enc, (size_t)n, id), 0);
        assert_int_equal(urg_output_put(o, enc, (size_t)n, out, sizeof(out), (void *)id), 0);
    }
    assert_int_equal(urg_output_consume(o, (size_t)n + sizeof(out) + 12 + 64 + 4), 0);
    assert_int_equal(r.n, 1); /* the first packet's; none for the hello */
    assert_int_equal(r.token[0], 9);
    b = flatten(o, &len, NULL);
    assert_int_equal(len, 2 * ((size_t)n + sizeof(out)));
    assert_int_equal(b[8], 100);
    assert_int_equal(b[n + sizeof(out) + 8], 101);
    free(b);
    assert_int_equal(urg_output_packet(NULL, &w, URG_DIR_TO_HOST, &p, NULL), URG_ERR_INVALID);
    assert_int_equal(urg_output_packet(o, NULL, URG_DIR_TO_HOST, &p, NULL), URG_ERR_INVALID);
    urg_output_free(o);
    assert_int_equal(r.n, 3);
}

/* From the release callback: queuing goes on after what was queued; a
 * consume or a reset is refused; a free waits for the call that runs the
 * callback, which then releases the rest as not written. */
static void test_release_reentry(void **state)
{
    static uint8_t pay[4][8];
    static const uint8_t h[4] = "hdr!";
    struct fail_alloc f;
    struct urg_allocator a;
    struct rel r;
    urg_output *o;
    uint8_t *b;
    size_t len;
    (void)state;
    for (int act = 1; act <= 4; act++) {
        memset(&f, 0, sizeof(f));
        a = fail_allocator(&f);
        o = make(&r, 1 << 20, &a);
        r.act_on = 1;
        r.act = act;
        r.act_rc = 99;
        for (int i = 0; i < 3; i++)
            assert_int_equal(urg_output_put(o, h, 4, pay[i], 8, (void *)(uintptr_t)(i + 1)), 0);
        /* the first packet written, and a byte of the second */
        assert_int_equal(urg_output_consume(o, 13), 0);
        assert_int_equal(r.n, act == 4 ? 3 : 1);
        assert_int_equal(r.written[0], 1);
        switch (act) {
        case 1: /* "more!" after the third packet */
            assert_int_equal(r.act_rc, 0);
            b = flatten(o, &len, NULL);
            assert_int_equal(len, 11 + 12 + 5);
            assert_memory_equal(b + 23, "more!", 5);
            free(b);
            break;
        case 2:
        case 3:
            assert_int_equal(r.act_rc, URG_ERR_BUSY);
            assert_int_equal(urg_output_queued(o), 2 * 12 - 1);
            break;
        default: /* freed when the consume returned: the rest dropped */
            assert_int_equal(r.written[1], 0);
            assert_int_equal(r.written[2], 0);
            assert_int_equal(f.live, 0);
            continue;
        }
        urg_output_free(o);
        assert_int_equal(r.n, 3);
        assert_int_equal(f.live, 0);
    }
    /* queuing from a release the free runs is refused */
    o = make(&r, 1 << 20, NULL);
    r.act_on = 1;
    r.act = 1;
    assert_int_equal(urg_output_put(o, h, 4, pay[0], 8, (void *)1), 0);
    urg_output_free(o);
    assert_int_equal(r.act_rc, URG_ERR_BUSY);
}

static void test_arguments(void **state)
{
    struct urg_output_config c;
    urg_output *o;
    struct iovec iov[1];
    uint8_t b[4] = { 0 };
    (void)state;
    memset(&c, 0, sizeof(c));
    assert_int_equal(urg_output_new(&c, &o), URG_ERR_INVALID); /* max_bytes 0 */
    c.max_bytes = 10;
    assert_int_equal(urg_output_new(NULL, &o), URG_ERR_INVALID);
    assert_int_equal(urg_output_new(&c, NULL), URG_ERR_INVALID);
    assert_int_equal(urg_output_new(&c, &o), 0); /* no release callback */
    assert_int_equal(urg_output_put(NULL, b, 1, NULL, 0, NULL), URG_ERR_INVALID);
    assert_int_equal(urg_output_put(o, NULL, 1, NULL, 0, NULL), URG_ERR_INVALID);
    assert_int_equal(urg_output_put(o, b, 1, NULL, 1, NULL), URG_ERR_INVALID);
    assert_int_equal(urg_output_put(o, NULL, 0, NULL, 0, NULL), 0); /* nothing */
    assert_int_equal(urg_output_put(o, b, 2, b, 2, NULL), 0);
    assert_int_equal(urg_output_iov(NULL, iov, 1), URG_ERR_INVALID);
    assert_int_equal(urg_output_iov(o, NULL, 1), URG_ERR_INVALID);
    assert_int_equal(urg_output_iov(o, iov, -1), URG_ERR_INVALID);
    assert_int_equal(urg_output_iov(o, iov, 1), 1);
    assert_int_equal(urg_output_consume(NULL, 0), URG_ERR_INVALID);
    assert_int_equal(urg_output_consume(o, 5), URG_ERR_INVALID);
    assert_int_equal(urg_output_queued(o), 4);
    assert_int_equal(urg_output_consume(o, 4), 0); /* no callback: just let go */
    assert_int_equal(urg_output_reset(NULL), URG_ERR_INVALID);
    assert_int_equal(urg_output_queued(NULL), 0);
    urg_output_free(o);
    urg_output_free(NULL);
}

/* Random puts, consumes and resets against a model: the bytes out (any
 * wrap of the ring), the releases (each payload once: written when its
 * last byte was consumed, dropped by a reset), the bound. */
static void test_random_against_model(void **state)
{
    static uint8_t src[8192];
    uint8_t *model = malloc(1 << 20), *b;
    struct {
        uintptr_t token;
        size_t end; /* offset in the model just past the payload */
    } live[MAX_REL];
    int nlive = 0, expect_rel = 0;
    size_t mlen = 0, len;
    uint32_t rng = 99;
    uintptr_t next = 1;
    struct rel r;
    urg_output *o = make(&r, 20000, NULL);
    (void)state;
    assert_non_null(model);
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 31 + 7);
    for (int step = 0; step < 20000; step++) {
        uint32_t op = rnd(&rng) % 1000; /* resets rare: the ring wraps */
        if (op < 600) {
            size_t n = rnd(&rng) % 40, d = rnd(&rng) % 3 ? 0 : rnd(&rng) % 3000;
            size_t so = rnd(&rng) % 4096, dof = rnd(&rng) % 4096;
            int rc = urg_output_put(o, src + so, n, d ? src + dof : NULL, d, (void *)next);
            if (mlen + n + d > 20000) {
                assert_int_equal(rc, URG_ERR_AGAIN);
                continue;
            }
            assert_int_equal(rc, 0);
            memcpy(model + mlen, src + so, n);
            memcpy(model + mlen + n, src + dof, d);
            mlen += n + d;
            if (d) {
                live[nlive].token = next++;
                live[nlive].end = mlen;
                nlive++;
            }
        } else if (op < 997) {
            size_t n = mlen ? rnd(&rng) % (mlen + 1) : 0;
            int k = 0;
            assert_int_equal(urg_output_consume(o, n), 0);
            memmove(model, model + n, mlen - n);
            mlen -= n;
            for (int i = 0; i < nlive; i++) {
                if (live[i].end <= n) {
                    assert_int_equal(r.token[expect_rel], live[i].token);
                    assert_int_equal(r.written[expect_rel], 1);
                    expect_rel++;
                } else {
                    live[k].token = live[i].token;
                    live[k].end = live[i].end - n;
                    k++;
                }
            }
            nlive = k;
        } else {
            assert_int_equal(urg_output_reset(o), 0);
            for (int i = 0; i < nlive; i++) {
                assert_int_equal(r.token[expect_rel], live[i].token);
                assert_int_equal(r.written[expect_rel], 0);
                expect_rel++;
            }
            nlive = 0;
            mlen = 0;
        }
        assert_int_equal(r.n, expect_rel);
        if (r.n > MAX_REL - 64) { /* keep the record small */
            r.n = expect_rel = 0;
        }
        assert_int_equal(urg_output_queued(o), mlen);
        b = flatten(o, &len, NULL);
        assert_int_equal(len, mlen);
        assert_memory_equal(b, model, len);
        free(b);
    }
    urg_output_free(o);
    assert_int_equal(r.n, expect_rel + nlive);
    free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_merge_payloads_uncopied),
        cmocka_unit_test(test_partial_writes_release_once),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_allocation_failure),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_packets),
        cmocka_unit_test(test_release_reentry),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests_name("output", tests, NULL, NULL);
}

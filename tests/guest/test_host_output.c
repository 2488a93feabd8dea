/*
 * test_host_output.c - a usb-host's output (urg_host_output, guest/
 * host_output.c), which the replay host and the test hosts share: what it
 * queues decodes back, as a guest reads it, to the packets given, under
 * the layout its decoder negotiated, however it is consumed meanwhile; its
 * bound and its allocator's failures refuse a packet whole and leave what
 * was queued; refused packets queue nothing. The host's decoder comes
 * from urg_host_decoder_new(), as the hosts' do.
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
#include "urg_codec.h"

static const struct urg_wire W0 = { 0, 0 };

/* ---------------------------------------------------------------- helpers */

/* A counting allocator that fails every call once fail_at reaches 0 (if
 * armed), and records the largest block asked for. */
struct counting {
    long live, calls;
    long fail_at;  /* < 0: never fail */
    size_t largest;
};

static int take(struct counting *c, size_t n)
{
    c->calls++;
    if (c->fail_at >= 0 && c->fail_at-- == 0)
        return 0;
    if (n > c->largest)
        c->largest = n;
    return 1;
}

static void *c_malloc(void *ctx, size_t n)
{
    struct counting *c = ctx;
    void *p;
    if (!take(c, n))
        return NULL;
    p = malloc(n);
    c->live++;
    return p;
}

static void *c_realloc(void *ctx, void *p, size_t n)
{
    struct counting *c = ctx;
    if (!take(c, n))
        return NULL;
    if (!p)
        c->live++;
    return realloc(p, n);
}

static void c_free(void *ctx, void *p)
{
    struct counting *c = ctx;
    if (p)
        c->live--;
    free(p);
}

static int ignore_packet(void *ctx, const struct urg_packet *p)
{
    (void)ctx;
    (void)p;
    return URG_DECODE_CONTINUE;
}

/* The host's decoder, with the guest's hello (caps guest_caps) fed to it
 * when guest_caps is not ~0: its layout is then negotiated. */
static urg_decoder *host_decoder(uint32_t host_caps, uint32_t guest_caps)
{
    const struct urg_decoder_callbacks cb = { .packet = ignore_packet };
    struct urg_packet hello = hello_packet("guest", guest_caps);
    urg_decoder *d;
    uint8_t b[128];
    int n;
    assert_int_equal(urg_host_decoder_new(host_caps, &cb, NULL, NULL, &d), 0);
    if (guest_caps != ~0u) {
        n = urg_encode(&W0, URG_DIR_TO_HOST, &hello, b, sizeof(b));
        assert_true(n > 0);
        assert_int_equal(urg_decoder_feed(d, b, (size_t)n, NULL), 0);
        assert_int_equal(urg_decoder_have_hello(d), 1);
    }
    return d;
}

static struct urg_packet disconnect(void)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_DISCONNECT;
    return p;
}

/* What a guest reads: every packet, its data copied. */
struct reader {
    urg_decoder *d;
    struct urg_packet p[256];
    uint8_t *data[256];
    int n, errors;
};

static int read_packet(void *ctx, const struct urg_packet *p)
{
    struct reader *r = ctx;
    assert_true(r->n < 256);
    r->p[r->n] = *p;
    r->data[r->n] = NULL;
    if (p->data_len) {
        r->data[r->n] = malloc(p->data_len);
        memcpy(r->data[r->n], p->data, p->data_len);
    }
    r->p[r->n].data = r->data[r->n];
    r->n++;
    return URG_DECODE_CONTINUE;
}

static void read_error(void *ctx, int err, const char *msg, int fatal)
{
    struct reader *r = ctx;
    (void)err;
    (void)fatal;
    fprintf(stderr, "guest decoder: %s\n", msg);
    r->errors++;
}

static void reader_init(struct reader *r, uint32_t guest_caps)
{
    struct urg_decoder_config c = { .role = URG_ROLE_GUEST, .our_caps = guest_caps,
                                    .callbacks = { .packet = read_packet, .error = read_error } };
    memset(r, 0, sizeof(*r));
    c.ctx = r;
    assert_int_equal(urg_decoder_new(&c, &r->d), 0);
}

static void reader_free(struct reader *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->data[i]);
    urg_decoder_free(r->d);
}

/* Feeds the guest up to n of the queued bytes and consumes them. */
static void deliver(struct urg_host_output *o, struct reader *r, size_t n)
{
    size_t have;
    const uint8_t *b = urg_host_output_data(o, &have);
    if (n > have)
        n = have;
    if (!n)
        return;
    assert_non_null(b);
    assert_int_equal(urg_decoder_feed(r->d, b, n, NULL), 0);
    urg_host_output_consume(o, n);
}

/* ---------------------------------------------------------------- round trips */

/* For every caps layout: the host's hello, then valid packets of every type
 * that travels to the guest, under the negotiated layout; the guest is fed
 * a random part of the queue after each packet (so the queue is consumed
 * while it grows and moves), the rest at the end. Each packet read equals
 * the one queued, and the bytes are exactly urg_encode()'s and the data. */
static void test_packets_decode_back_equal(void **state)
{
    static struct urg_packet sent[256];
    static uint8_t *sent_data[256];
    static uint8_t payload[70000], expect[400];
    uint32_t rng = 4242;
    int v, seen[URG_TYPE_COUNT] = { 0 };
    (void)state;
    for (v = 0; v < LAYOUT_VARIANTS; v++) {
        uint32_t guest_caps = layout_caps(v);
        urg_decoder *d = host_decoder(URG_CAPS_ALL, ~0u);
        struct urg_host_output o;
        static struct reader r;
        struct urg_packet hello = hello_packet("test host", URG_CAPS_ALL);
        struct urg_wire w;
        uint8_t b[128];
        size_t have;
        const uint8_t *q;
        int n = 0, i, k, len;
        reader_init(&r, guest_caps);
        assert_int_equal(urg_host_output_init(&o, d, NULL, 8u << 20), 0);
        assert_null(urg_host_output_data(&o, &have));
        assert_int_equal(have, 0);
        /* Before the guest's hello: the 12-byte header layout. */
        assert_int_equal(urg_host_output_packet(&o, &hello), 0);
        len = urg_encode(&W0, URG_DIR_TO_GUEST, &hello, expect, sizeof(expect));
        q = urg_host_output_data(&o, &have);
        assert_int_equal(have, (size_t)len);
        assert_memory_equal(q, expect, (size_t)len);
        sent[n] = hello;
        sent_data[n++] = NULL;
        /* The guest's hello reaches the host: the layout is negotiated. */
        hello = hello_packet("guest", guest_caps);
        len = urg_encode(&W0, URG_DIR_TO_HOST, &hello, b, sizeof(b));
        assert_int_equal(urg_decoder_feed(d, b, (size_t)len, NULL), 0);
        w = urg_decoder_wire(d);
        assert_int_equal(w.caps, urg_wire_from_caps(URG_CAPS_ALL, guest_caps).caps);
        for (i = 0; i < URG_TYPE_COUNT; i++) {
            uint32_t t = urg_type_at(i);
            if (t == URG_HELLO || t == URG_DEVICE_DISCONNECT)
                continue; /* a second hello is an error; a disconnect ends the device */
            for (k = 0; k < 4; k++) {
                struct urg_packet *p = &sent[n];
                size_t before;
                if (gen_packet(t, URG_DIR_TO_GUEST, &w, &rng, p, payload, sizeof(payload)) !=
                    GEN_OK)
                    break;
                urg_host_output_data(&o, &before);
                len = urg_encode(&w, URG_DIR_TO_GUEST, p, expect, sizeof(expect));
                assert_true(len > 0);
                assert_int_equal(urg_host_output_packet(&o, p), 0);
                /* Appended last: the header as urg_encode writes it, then the data. */
                q = urg_host_output_data(&o, &have);
                assert_int_equal(have, before + (size_t)len + p->data_len);
                assert_memory_equal(q + before, expect, (size_t)len);
                if (p->data_len)
                    assert_memory_equal(q + before + len, p->data, p->data_len);
                sent_data[n] = NULL;
                if (p->data_len) {
                    sent_data[n] = malloc(p->data_len);
                    memcpy(sent_data[n], p->data, p->data_len);
                }
                p->data = sent_data[n];
                seen[i]++;
                n++;
                deliver(&o, &r, rnd(&rng) % (have + 1));
            }
        }
        deliver(&o, &r, SIZE_MAX);
        assert_null(urg_host_output_data(&o, &have));
        assert_int_equal(r.errors, 0);
        assert_int_equal(r.n, n);
        for (i = 0; i < n; i++) {
            char why[200];
            if (i == 0) { /* the hello: its version and caps */
                assert_string_equal(r.p[0].h.hello.version, sent[0].h.hello.version);
                assert_int_equal(r.p[0].h.hello.caps[0], sent[0].h.hello.caps[0]);
            } else if (packet_diff(&sent[i], &r.p[i], &w, why, sizeof(why))) {
                fail_msg("layout %d, packet %d: %s", v, i, why);
            }
            free(sent_data[i]);
        }
        reader_free(&r);
        urg_host_output_free(&o);
        urg_decoder_free(d);
    }
    /* Every type the host sends, in every layout it can travel in. */
    for (v = 0; v < URG_TYPE_COUNT; v++) {
        uint32_t t = urg_type_at(v);
        int layouts = t == URG_BULK_STREAMS_STATUS ? 8 : 24; /* bulk_streams in 8 */
        if (t == URG_HELLO || t == URG_DEVICE_DISCONNECT ||
            urg_type_header_len(&W0, t, URG_DIR_TO_GUEST) < 0)
            continue;
        assert_int_equal(seen[v], 4 * layouts);
    }
}

/* ---------------------------------------------------------------- bounds */

/* The bound counts the bytes queued (consumed ones free room): a packet or
 * raw bytes that would pass it are refused whole, URG_ERR_NOMEM, the queue
 * as it was; up to it exactly is accepted; no block is ever larger. */
static void test_bound_refused(void **state)
{
    struct counting c = { 0, 0, -1, 0 };
    const struct urg_allocator a = { c_malloc, c_realloc, c_free, &c };
    urg_decoder *d = host_decoder(URG_CAPS_ALL, ~0u);
    struct urg_host_output o;
    struct urg_packet hello = hello_packet("test host", URG_CAPS_ALL), bye = disconnect(), big;
    static uint8_t data[300];
    uint8_t before[100];
    size_t have;
    const uint8_t *q;
    (void)state;
    assert_int_equal(urg_host_output_init(&o, d, &a, 100), 0);
    assert_int_equal(urg_host_output_packet(&o, &hello), 0); /* 12 + 64 + 4 */
    assert_int_equal(urg_host_output_packet(&o, &bye), 0);   /* 12 */
    q = urg_host_output_data(&o, &have);
    assert_int_equal(have, 92);
    memcpy(before, q, have);
    assert_int_equal(urg_host_output_packet(&o, &bye), URG_ERR_NOMEM);
    assert_int_equal(urg_host_output_bytes(&o, data, 9), URG_ERR_NOMEM);
    q = urg_host_output_data(&o, &have);
    assert_int_equal(have, 92);
    assert_memory_equal(q, before, 92);
    /* Exactly to the bound, then not a byte more. */
    assert_int_equal(urg_host_output_bytes(&o, data, 8), 0);
    assert_int_equal(urg_host_output_bytes(&o, data, 1), URG_ERR_NOMEM);
    urg_host_output_data(&o, &have);
    assert_int_equal(have, 100);
    /* Consumed bytes free room: the rest moves to the front. */
    urg_host_output_consume(&o, 80);
    assert_int_equal(urg_host_output_packet(&o, &bye), 0);
    q = urg_host_output_data(&o, &have);
    assert_int_equal(have, 32);
    assert_memory_equal(q, before + 80, 12);
    /* A payload over the bound on its own. */
    memset(&big, 0, sizeof(big));
    big.type = URG_BULK_PACKET;
    big.id = 1;
    big.h.bulk.endpoint = 0x81;
    big.h.bulk.length = sizeof(data);
    big.data = data;
    big.data_len = sizeof(data);
    assert_int_equal(urg_host_output_packet(&o, &big), URG_ERR_NOMEM);
    urg_host_output_data(&o, &have);
    assert_int_equal(have, 32);
    assert_true(c.largest <= 100);
    /* Raw bytes that overflow a size_t sum are refused too. */
    assert_int_equal(urg_host_output_bytes(&o, data, SIZE_MAX), URG_ERR_NOMEM);
    urg_host_output_free(&o);
    assert_int_equal(c.live, 0);
    urg_decoder_free(d);
}

/* ---------------------------------------------------------------- allocator failures */

/* Queues 40 bulk packets of 0, 500, ... bytes, consuming half of the queue
 * after every third: a refused packet must be URG_ERR_NOMEM and leave the
 * queue byte for byte as it was. Returns how many were refused. */
static int queue_bulk_packets(const struct urg_allocator *a)
{
    static uint8_t data[20000];
    urg_decoder *d = host_decoder(URG_CAPS_ALL, URG_CAPS_ALL);
    struct urg_host_output o;
    int refused = 0;
    memset(data, 0x5a, sizeof(data));
    assert_int_equal(urg_host_output_init(&o, d, a, 1u << 20), 0);
    for (uint32_t i = 0; i < 40; i++) {
        struct urg_packet p;
        uint8_t *copy = NULL;
        size_t have, after;
        const uint8_t *q = urg_host_output_data(&o, &have);
        int rc;
        if (have) {
            copy = malloc(have);
            memcpy(copy, q, have);
        }
        memset(&p, 0, sizeof(p));
        p.type = URG_BULK_PACKET;
        p.id = i;
        p.h.bulk.endpoint = 0x81;
        p.h.bulk.length = 500 * i;
        p.data = data;
        p.data_len = 500 * i;
        rc = urg_host_output_packet(&o, &p);
        q = urg_host_output_data(&o, &after);
        if (rc) {
            assert_int_equal(rc, URG_ERR_NOMEM);
            assert_int_equal(after, have);
            if (have)
                assert_memory_equal(q, copy, have);
            refused++;
        } else {
            /* 64-bit ids: a 16-byte header, a 10-byte bulk header */
            assert_int_equal(after, have + 16 + 10 + p.data_len);
            assert_memory_equal(q + after - p.data_len, data, p.data_len);
        }
        free(copy);
        if (i % 3 == 2)
            urg_host_output_consume(&o, after / 2);
    }
    urg_host_output_free(&o);
    urg_decoder_free(d);
    return refused;
}

/* Each allocation failing in turn: the call that needed it returns
 * URG_ERR_NOMEM and queues nothing, what was queued stays, the calls after
 * it succeed; nothing leaks. */
static void test_allocator_failure_reported(void **state)
{
    struct counting c = { 0, 0, -1, 0 };
    const struct urg_allocator a = { c_malloc, c_realloc, c_free, &c };
    long calls;
    (void)state;
    assert_int_equal(queue_bulk_packets(&a), 0);
    assert_int_equal(c.live, 0);
    calls = c.calls;
    assert_true(calls >= 3); /* it grew more than once */
    for (long fail = 0; fail < calls; fail++) {
        memset(&c, 0, sizeof(c));
        c.fail_at = fail;
        assert_int_equal(queue_bulk_packets(&a), 1);
        assert_true(c.fail_at < 0); /* the armed call was made, and failed */
        assert_int_equal(c.live, 0);
    }
}

/* ---------------------------------------------------------------- refusals */

/* A packet urg_encode refuses is refused with its error and queues
 * nothing; bad arguments are URG_ERR_INVALID. */
static void test_refusals_queue_nothing(void **state)
{
    urg_decoder *d = host_decoder(URG_CAPS_ALL, URG_CAPS_ALL), *d2 = NULL;
    struct urg_host_output o, zero;
    struct urg_packet p, bye = disconnect();
    uint8_t data[4] = { 1, 2, 3, 4 };
    size_t have;
    (void)state;
    assert_int_equal(urg_host_output_init(NULL, d, NULL, 100), URG_ERR_INVALID);
    assert_int_equal(urg_host_output_init(&o, NULL, NULL, 100), URG_ERR_INVALID);
    assert_int_equal(urg_host_output_init(&o, d, NULL, 0), URG_ERR_INVALID);
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(urg_host_output_packet(&zero, &bye), URG_ERR_INVALID);
    assert_int_equal(urg_host_output_bytes(&zero, data, 1), URG_ERR_INVALID);
    assert_int_equal(urg_host_output_init(&o, d, NULL, 4096), 0);
    assert_int_equal(urg_host_output_packet(&o, NULL), URG_ERR_INVALID);
    assert_int_equal(urg_host_output_bytes(&o, NULL, 1), URG_ERR_INVALID);
    assert_int_equal(urg_host_output_bytes(&o, NULL, 0), 0);
    /* Only the guest sends a reset. */
    memset(&p, 0, sizeof(p));
    p.type = URG_RESET;
    assert_int_equal(urg_host_output_packet(&o, &p), URG_ERR_PROTO_DIRECTION);
    /* Data that disagrees with the length field. */
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = 1;
    p.h.bulk.endpoint = 0x81;
    p.h.bulk.length = 3;
    p.data = data;
    p.data_len = 4;
    assert_int_equal(urg_host_output_packet(&o, &p), URG_ERR_PROTO_DATA_LENGTH);
    /* Buffered bulk travels only with an IN endpoint's data. */
    memset(&p, 0, sizeof(p));
    p.type = URG_BUFFERED_BULK_PACKET;
    p.h.buffered_bulk.endpoint = 0x02;
    assert_int_equal(urg_host_output_packet(&o, &p), URG_ERR_PROTO_EP_DIRECTION);
    assert_null(urg_host_output_data(&o, &have));
    assert_int_equal(have, 0);
    assert_int_equal(urg_host_output_packet(&o, &bye), 0); /* and it still works */
    urg_host_output_data(&o, &have);
    assert_int_equal(have, 16);
    urg_host_output_free(&o);
    assert_int_equal(urg_host_decoder_new(0, NULL, NULL, NULL, &d2), URG_ERR_INVALID);
    urg_decoder_free(d);
}

/* Consume in parts, then past the end; reset drops the rest; free twice. */
static void test_consume_and_reset(void **state)
{
    urg_decoder *d = host_decoder(URG_CAPS_ALL, URG_CAPS_ALL);
    struct urg_host_output o;
    struct urg_packet bye = disconnect();
    uint8_t data[4] = { 1, 2, 3, 4 };
    size_t have;
    (void)state;
    assert_int_equal(urg_host_output_init(&o, d, NULL, 4096), 0);
    assert_int_equal(urg_host_output_packet(&o, &bye), 0);
    assert_int_equal(urg_host_output_bytes(&o, data, 4), 0);
    urg_host_output_consume(&o, 10);
    /* the disconnect's 16-byte header (64-bit ids), then the raw bytes */
    assert_memory_equal(urg_host_output_data(&o, &have), "\0\0\0\0\0\0\x01\x02\x03\x04", 10);
    assert_int_equal(have, 10);
    urg_host_output_consume(&o, 100);
    assert_null(urg_host_output_data(&o, NULL));
    assert_int_equal(urg_host_output_bytes(&o, data, 4), 0);
    urg_host_output_reset(&o);
    assert_null(urg_host_output_data(&o, &have));
    assert_int_equal(have, 0);
    urg_host_output_free(&o);
    urg_host_output_free(&o); /* twice is harmless */
    urg_host_output_free(NULL);
    urg_decoder_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packets_decode_back_equal),
        cmocka_unit_test(test_bound_refused),
        cmocka_unit_test(test_allocator_failure_reported),
        cmocka_unit_test(test_refusals_queue_nothing),
        cmocka_unit_test(test_consume_and_reset),
    };
    return cmocka_run_group_tests_name("host_output", tests, NULL, NULL);
}

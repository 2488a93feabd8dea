/*
 * test_decoder.c - the streaming decoder: any split gives the same packets,
 * payload placement (in place, destination, own buffer, window), the hello
 * and the header switch, error policies, callback verdicts, limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decoder.h" /* internal: stats */
#include "failalloc.h"
#include "packets.h"
#include "urg_codec.h"

struct sink {
    urg_decoder *d;
    char *log;
    size_t len, cap;
    int packets, errors, fatal, last_err;
    char last_msg[256];
    const uint8_t *fed;      /* the buffer being fed */
    size_t fed_len;
    int in_place, in_dest, in_own;
    uint8_t *dest;           /* offered as destination when set */
    size_t dest_cap;
    int verdict_header;      /* returned by the header callback */
    int verdict_packet;
    int try_reenter;
    int reenter_result;
};

static void logf_(struct sink *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct sink *k, const char *fmt, ...)
{
    char b[256];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(b, sizeof(b), fmt, ap);
    va_end(ap);
    if (k->len + (size_t)n + 1 > k->cap) {
        k->cap = (k->len + (size_t)n + 1) * 2;
        k->log = realloc(k->log, k->cap);
    }
    memcpy(k->log + k->len, b, (size_t)n + 1);
    k->len += (size_t)n;
}

/* A digest of a packet: its re-encoding under the decoder's layout. */
static uint32_t digest(const struct urg_packet *p, const struct urg_wire *w)
{
    uint8_t b[16 + 288 + 64];
    uint32_t h = 2166136261u, i;
    int n = urg_encode(w, URG_DIR_TO_GUEST, p, b, sizeof(b));
    assert_true(n > 0);
    for (i = 0; i < (uint32_t)n; i++)
        h = (h ^ b[i]) * 16777619u;
    for (i = 0; p->type != URG_HELLO && i < p->data_len; i++)
        h = (h ^ p->data[i]) * 16777619u;
    return h;
}

static int on_header(void *ctx, const struct urg_packet *p, uint8_t **dest)
{
    struct sink *k = ctx;
    if (k->dest && p->data_len && p->data_len <= k->dest_cap)
        *dest = k->dest;
    return k->verdict_header;
}

static int on_packet(void *ctx, const struct urg_packet *p)
{
    struct sink *k = ctx;
    struct urg_wire w = urg_decoder_wire(k->d);
    k->packets++;
    if (p->data_len) {
        if (p->data >= k->fed && p->data < k->fed + k->fed_len)
            k->in_place++;
        else if (k->dest && p->data == k->dest)
            k->in_dest++;
        else
            k->in_own++;
    }
    if (p->type == URG_HELLO)
        w.id64 = 0, w.caps = 0; /* digest the hello as it was sent */
    logf_(k, "%s %llu %u %08x\n", urg_type_name(p->type), (unsigned long long)p->id, p->data_len,
          digest(p, &w));
    if (k->try_reenter)
        k->reenter_result = urg_decoder_feed(k->d, "x", 1, NULL);
    return k->verdict_packet;
}

static void on_error(void *ctx, int err, const char *msg, int fatal)
{
    struct sink *k = ctx;
    k->errors++;
    k->fatal += fatal;
    k->last_err = err;
    snprintf(k->last_msg, sizeof(k->last_msg), "%s", msg);
    logf_(k, "error %s %d\n", urg_error_name(err), fatal);
}

static void sink_init(struct sink *k, uint32_t our_caps, int policy,
                      const struct urg_allocator *a, uint32_t max)
{
    struct urg_decoder_config c;
    memset(k, 0, sizeof(*k));
    memset(&c, 0, sizeof(c));
    c.role = URG_ROLE_GUEST;
    c.our_caps = our_caps;
    c.policy = policy;
    c.allocator = a;
    c.max_packet_size = max;
    c.callbacks.header = on_header;
    c.callbacks.packet = on_packet;
    c.callbacks.error = on_error;
    c.ctx = k;
    assert_int_equal(urg_decoder_new(&c, &k->d), 0);
}

static void sink_free(struct sink *k)
{
    urg_decoder_free(k->d);
    free(k->log);
}

static int feed(struct sink *k, const uint8_t *b, size_t n)
{
    k->fed = b;
    k->fed_len = n;
    return urg_decoder_feed(k->d, b, n, NULL);
}

/* A host-to-guest stream: the host's hello, then n valid packets. */
struct stream {
    uint8_t *b;
    size_t len, cap;
};

static void put(struct stream *s, const void *p, size_t n)
{
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->b = realloc(s->b, s->cap);
    }
    memcpy(s->b + s->len, p, n);
    s->len += n;
}

static void add(struct stream *s, const struct urg_wire *w, const struct urg_packet *p)
{
    uint8_t h[16 + 288 + 64];
    int n = urg_encode(w, URG_DIR_TO_GUEST, p, h, sizeof(h));
    assert_true(n > 0);
    put(s, h, (size_t)n);
    if (p->type != URG_HELLO && p->data_len)
        put(s, p->data, p->data_len);
}

static void make_stream(struct stream *s, uint32_t host_caps, uint32_t guest_caps, int n,
                        uint32_t seed)
{
    static uint8_t payload[70000];
    struct urg_wire w0 = { 0, 0 }, w = urg_wire_from_caps(guest_caps, host_caps);
    struct urg_packet p;
    uint32_t rng = seed;
    int i;
    memset(s, 0, sizeof(*s));
    memset(&p, 0, sizeof(p));
    p.type = URG_HELLO;
    strcpy(p.h.hello.version, "unit host");
    p.h.hello.caps[0] = host_caps;
    p.h.hello.caps_words = 1;
    add(s, &w0, &p);
    for (i = 0; i < n;) {
        uint32_t t = urg_type_at((int)(rnd(&rng) % URG_TYPE_COUNT));
        if (t == URG_HELLO)
            continue;
        if (gen_packet(t, URG_DIR_TO_GUEST, &w, &rng, &p, payload, sizeof(payload)) != GEN_OK)
            continue;
        add(s, &w, &p);
        i++;
    }
}

static char *decode_with_splits(const struct stream *s, uint32_t guest_caps, int mode,
                                uint32_t seed, struct sink *out_counts)
{
    struct sink k;
    size_t off = 0;
    uint32_t rng = seed;
    char *log;
    sink_init(&k, guest_caps, URG_POLICY_FAIL, NULL, 0);
    while (off < s->len) {
        size_t n;
        void *wb;
        size_t wl;
        if (mode == 3 && urg_decoder_window(k.d, &wb, &wl)) {
            /* Read "from the socket" straight into the window. */
            n = wl < s->len - off ? wl : s->len - off;
            if (rnd(&rng) % 2)
                n = 1 + rnd(&rng) % n;
            memcpy(wb, s->b + off, n);
            assert_int_equal(urg_decoder_commit(k.d, n), 0);
            off += n;
            continue;
        }
        switch (mode) {
        case 0: n = s->len; break;
        case 1: n = 1; break;
        default: n = 1 + rnd(&rng) % 700; break;
        }
        if (n > s->len - off)
            n = s->len - off;
        assert_int_equal(feed(&k, s->b + off, n), 0);
        off += n;
    }
    assert_int_equal(k.errors, 0);
    log = k.log;
    k.log = NULL;
    if (out_counts)
        *out_counts = k;
    sink_free(&k);
    return log;
}

static void test_any_split_gives_the_same_packets(void **state)
{
    int v;
    (void)state;
    for (v = 0; v < LAYOUT_VARIANTS; v++) {
        struct stream s;
        struct sink counts;
        char *whole, *bytes, *random, *window;
        uint32_t caps = layout_caps(v);
        make_stream(&s, caps, URG_CAPS_ALL, 150, 77u + (uint32_t)v);
        whole = decode_with_splits(&s, URG_CAPS_ALL, 0, 1, &counts);
        assert_int_equal(counts.packets, 151);
        assert_int_equal(counts.in_own, 0); /* all in place */
        bytes = decode_with_splits(&s, URG_CAPS_ALL, 1, 1, NULL);
        random = decode_with_splits(&s, URG_CAPS_ALL, 2, 99u + (uint32_t)v, NULL);
        window = decode_with_splits(&s, URG_CAPS_ALL, 3, 5u + (uint32_t)v, NULL);
        assert_string_equal(whole, bytes);
        assert_string_equal(whole, random);
        assert_string_equal(whole, window);
        free(whole);
        free(bytes);
        free(random);
        free(window);
        free(s.b);
    }
}

static void test_payload_placement(void **state)
{
    struct stream s;
    struct sink k;
    static uint8_t dest[100];
    uint8_t data[64];
    struct urg_packet p;
    struct urg_wire w0 = { 0, 0 };
    size_t first;
    (void)state;
    memset(data, 0xab, sizeof(data));
    memset(&s, 0, sizeof(s));
    memset(&p, 0, sizeof(p));
    p.type = URG_HELLO;
    p.h.hello.caps_words = 1;
    add(&s, &w0, &p);
    first = s.len;
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERRUPT_PACKET;
    p.h.interrupt.endpoint = 0x81;
    p.h.interrupt.length = 64;
    p.data = data;
    p.data_len = 64;
    add(&s, &w0, &p);

    /* Whole in the buffer: handed out in place. */
    sink_init(&k, 0, URG_POLICY_FAIL, NULL, 0);
    assert_int_equal(feed(&k, s.b, s.len), 0);
    assert_int_equal(k.in_place, 2); /* the hello's caps and the report */
    assert_int_equal(urgi_decoder_stats(k.d)->payload_copies, 0);
    sink_free(&k);

    /* Split in the payload: into the offered destination. */
    sink_init(&k, 0, URG_POLICY_FAIL, NULL, 0);
    k.dest = dest;
    k.dest_cap = sizeof(dest);
    assert_int_equal(feed(&k, s.b, first + 12 + 4 + 10), 0);
    assert_int_equal(k.packets, 1);
    assert_int_equal(feed(&k, s.b + first + 26, s.len - first - 26), 0);
    assert_int_equal(k.in_dest, 1);
    assert_memory_equal(dest, data, 64);
    assert_int_equal(urgi_decoder_stats(k.d)->payload_copies, 1);
    sink_free(&k);

    /* Split, no destination: the decoder's own buffer. */
    sink_init(&k, 0, URG_POLICY_FAIL, NULL, 0);
    assert_int_equal(feed(&k, s.b, s.len - 1), 0);
    assert_int_equal(feed(&k, s.b + s.len - 1, 1), 0);
    assert_int_equal(k.in_own, 1);
    sink_free(&k);

    /* The window is the rest of the destination. */
    sink_init(&k, 0, URG_POLICY_FAIL, NULL, 0);
    k.dest = dest;
    k.dest_cap = sizeof(dest);
    memset(dest, 0, sizeof(dest));
    {
        void *wb;
        size_t wl;
        assert_int_equal(urg_decoder_window(k.d, &wb, &wl), 0);
        assert_int_equal(feed(&k, s.b, first + 16 + 8), 0);
        assert_int_equal(urg_decoder_window(k.d, &wb, &wl), 1);
        assert_ptr_equal(wb, dest + 8);
        assert_int_equal(wl, 56);
        assert_int_equal(urg_decoder_commit(k.d, 57), URG_ERR_INVALID);
        memcpy(wb, data, 56);
        assert_int_equal(urg_decoder_commit(k.d, 56), 0);
        assert_int_equal(k.in_dest, 1);
        assert_int_equal(urg_decoder_window(k.d, &wb, &wl), 0);
        assert_int_equal(urg_decoder_commit(k.d, 1), URG_ERR_INVALID);
        assert_int_equal(urg_decoder_commit(k.d, 0), 0);
    }
    sink_free(&k);
    free(s.b);
}

static void test_hello_switches_the_header(void **state)
{
    struct stream s;
    struct sink k;
    struct urg_packet p;
    struct urg_wire w0 = { 0, 0 }, w64 = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
    (void)state;
    memset(&s, 0, sizeof(s));
    memset(&p, 0, sizeof(p));
    p.type = URG_HELLO;
    p.h.hello.caps[0] = URG_CAPS_ALL;
    p.h.hello.caps_words = 1;
    add(&s, &w0, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_CONFIGURATION_STATUS;
    p.id = 0x1122334455667788ull;
    add(&s, &w64, &p);
    sink_init(&k, URG_CAPS_ALL, URG_POLICY_FAIL, NULL, 0);
    assert_int_equal(urg_decoder_have_hello(k.d), 0);
    assert_int_equal(urg_decoder_wire(k.d).id64, 0);
    assert_int_equal(feed(&k, s.b, s.len), 0);
    assert_int_equal(k.packets, 2);
    assert_int_equal(urg_decoder_have_hello(k.d), 1);
    assert_int_equal(urg_decoder_peer_caps(k.d), URG_CAPS_ALL);
    assert_int_equal(urg_decoder_wire(k.d).id64, 1);
    assert_non_null(strstr(k.log, "configuration_status 1234605616436508552"));
    sink_free(&k);

    /* We lack 64bits_ids: the same host stays at 12-byte headers. */
    sink_init(&k, URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_64BITS_IDS), URG_POLICY_FAIL, NULL, 0);
    assert_int_equal(feed(&k, s.b, 12 + 64 + 4), 0);
    assert_int_equal(urg_decoder_wire(k.d).id64, 0);
    assert_int_equal(urg_decoder_wire(k.d).caps, URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_64BITS_IDS));
    sink_free(&k);
    free(s.b);
}

static const uint8_t hello_ff[12 + 64 + 4] = { 0, 0, 0, 0, 68, 0, 0, 0, 0, 0, 0, 0,
                                              [76] = 0xff };
static const uint8_t get_cfg_status[12 + 2] = { 8, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 1 };

static void test_hello_rules(void **state)
{
    struct sink k;
    uint8_t bad_caps[sizeof(hello_ff)];
    (void)state;
    /* A packet before the hello. */
    sink_init(&k, URG_CAPS_ALL, URG_POLICY_FAIL, NULL, 0);
    assert_int_equal(feed(&k, get_cfg_status, sizeof(get_cfg_status)),
                     URG_ERR_PROTO_BEFORE_HELLO);
    assert_non_null(strstr(k.last_msg, "configuration_status"));
    assert_int_equal(k.fatal, 1);
    assert_int_equal(feed(&k, hello_ff, sizeof(hello_ff)), URG_ERR_FAILED);
    sink_free(&k);
    /* A second hello (read with 12-byte headers: we lack 64-bit ids). */
    sink_init(&k, 0, URG_POLICY_FAIL, NULL, 0);
    assert_int_equal(feed(&k, hello_ff, sizeof(hello_ff)), 0);
    assert_int_equal(feed(&k, hello_ff, sizeof(hello_ff)), URG_ERR_PROTO_SECOND_HELLO);
    assert_non_null(strstr(k.last_msg, "hello"));
    sink_free(&k);
    /* bulk_streams without ep_info_max_packet_size: fatal under fail... */
    memcpy(bad_caps, hello_ff, sizeof(bad_caps));
    bad_caps[76] = 0x01;
    sink_init(&k, URG_CAPS_ALL, URG_POLICY_FAIL, NULL, 0);
    assert_int_equal(feed(&k, bad_caps, sizeof(bad_caps)), URG_ERR_PROTO_CAPS);
    sink_free(&k);
    /* ...and under skip the cap is dropped, the hello kept. */
    sink_init(&k, URG_CAPS_ALL, URG_POLICY_SKIP, NULL, 0);
    assert_int_equal(feed(&k, bad_caps, sizeof(bad_caps)), 0);
    assert_int_equal(k.errors, 1);
    assert_int_equal(k.fatal, 0);
    assert_int_equal(k.packets, 1);
    assert_int_equal(urg_decoder_peer_caps(k.d), 0);
    sink_free(&k);
}

static void test_policies(void **state)
{
    struct sink k;
    uint8_t b[200];
    size_t n = 0;
    static const uint8_t bad[12 + 4] = { 2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
    (void)state;
    memcpy(b, hello_ff, sizeof(hello_ff));
    n += sizeof(hello_ff);
    /* 64-bit ids are not ours: headers stay 12 bytes. */
    memcpy(b + n, bad, sizeof(bad)); /* device_disconnect with 4 data bytes */
    n += sizeof(bad);
    memcpy(b + n, get_cfg_status, sizeof(get_cfg_status));
    n += sizeof(get_cfg_status);

    sink_init(&k, 0, URG_POLICY_SKIP, NULL, 0);
    assert_int_equal(feed(&k, b, n), 0);
    assert_int_equal(k.packets, 2);
    assert_int_equal(k.errors, 1);
    assert_int_equal(k.last_err, URG_ERR_PROTO_UNEXPECTED_DATA);
    assert_non_null(strstr(k.last_msg, "device_disconnect"));
    assert_int_equal(urgi_decoder_stats(k.d)->skipped_bytes, 4);
    assert_int_equal(urgi_decoder_stats(k.d)->errors, 1);
    sink_free(&k);

    /* Byte by byte, the same. */
    sink_init(&k, 0, URG_POLICY_SKIP, NULL, 0);
    {
        size_t i;
        for (i = 0; i < n; i++)
            assert_int_equal(feed(&k, b + i, 1), 0);
    }
    assert_int_equal(k.packets, 2);
    assert_int_equal(k.errors, 1);
    sink_free(&k);

    sink_init(&k, 0, URG_POLICY_FAIL, NULL, 0);
    assert_int_equal(feed(&k, b, n), URG_ERR_PROTO_UNEXPECTED_DATA);
    assert_int_equal(k.packets, 1);
    assert_int_equal(k.fatal, 1);
    assert_int_equal(feed(&k, get_cfg_status, sizeof(get_cfg_status)), URG_ERR_FAILED);
    assert_int_equal(urg_decoder_commit(k.d, 0), URG_ERR_FAILED);
    sink_free(&k);

    /* Skipping a huge bogus packet streams past it without buffering. */
    {
        static uint8_t huge[12 + 100000];
        memset(huge, 0, sizeof(huge));
        huge[0] = 77; /* unknown type */
        huge[4] = 0xa0;
        huge[5] = 0x86;
        huge[6] = 0x01; /* 100000 */
        sink_init(&k, 0, URG_POLICY_SKIP, NULL, 0);
        assert_int_equal(feed(&k, hello_ff, sizeof(hello_ff)), 0);
        assert_int_equal(feed(&k, huge, sizeof(huge)), 0);
        assert_int_equal(feed(&k, get_cfg_status, sizeof(get_cfg_status)), 0);
        assert_int_equal(k.last_err, URG_ERR_PROTO_TYPE);
        assert_int_equal(k.packets, 2);
        assert_int_equal(urgi_decoder_stats(k.d)->skipped_bytes, 100000);
        assert_int_equal(k.d->own_cap, 0);
        sink_free(&k);
    }
}

static void test_callback_verdicts(void **state)
{
    struct sink k;
    uint8_t b[200];
    size_t n = 0, used;
    (void)state;
    memcpy(b, hello_ff, sizeof(hello_ff));
    n += sizeof(hello_ff);
    memcpy(b + n, get_cfg_status, sizeof(get_cfg_status));
    n += sizeof(get_cfg_status);
    memcpy(b + n, get_cfg_status, sizeof(get_cfg_status));
    n += sizeof(get_cfg_status);

    /* DISCARD: no packet callback (the hello is not the callback's). */
    sink_init(&k, 0, URG_POLICY_FAIL, NULL, 0);
    k.verdict_header = URG_DECODE_DISCARD;
    assert_int_equal(feed(&k, b, n), 0);
    assert_int_equal(k.packets, 1);
    assert_non_null(strstr(k.log, "hello"));
    assert_null(strstr(k.log, "configuration_status"));
    sink_free(&k);

    /* STOP from the packet callback: feed returns 1 and says how far. */
    sink_init(&k, 0, URG_POLICY_FAIL, NULL, 0);
    k.verdict_packet = URG_DECODE_STOP;
    k.fed = b;
    k.fed_len = n;
    assert_int_equal(urg_decoder_feed(k.d, b, n, &used), 1);
    assert_int_equal(used, sizeof(hello_ff));
    assert_int_equal(urg_decoder_feed(k.d, b + used, n - used, &used), 1);
    assert_int_equal(used, sizeof(get_cfg_status));
    k.verdict_packet = URG_DECODE_CONTINUE;
    assert_int_equal(urg_decoder_feed(k.d, b + n - sizeof(get_cfg_status),
                                      sizeof(get_cfg_status), &used),
                     0);
    assert_int_equal(k.packets, 3);
    sink_free(&k);

    /* A negative verdict rejects the packet under the policy. */
    sink_init(&k, 0, URG_POLICY_SKIP, NULL, 0);
    assert_int_equal(feed(&k, hello_ff, sizeof(hello_ff)), 0);
    k.verdict_header = URG_ERR_PROTO_CALLBACK;
    assert_int_equal(feed(&k, get_cfg_status, sizeof(get_cfg_status)), 0);
    assert_int_equal(k.last_err, URG_ERR_PROTO_CALLBACK);
    assert_non_null(strstr(k.last_msg, "configuration_status"));
    assert_int_equal(k.packets, 1);
    sink_free(&k);

    /* Feeding from inside a callback is refused. */
    sink_init(&k, 0, URG_POLICY_FAIL, NULL, 0);
    k.try_reenter = 1;
    assert_int_equal(feed(&k, hello_ff, sizeof(hello_ff)), 0);
    assert_int_equal(k.reenter_result, URG_ERR_BUSY);
    sink_free(&k);
}

/* A header callback stops before a packet with no payload: no window
 * opens on nothing (a NULL destination), and the next feed - of more bytes
 * or none - or a commit of 0 finishes the packet. */
static void test_stop_before_an_empty_payload(void **state)
{
    struct sink k;
    uint8_t b[200];
    size_t n = 0, used;
    void *wb = (void *)1;
    size_t wl = 7;
    (void)state;
    memcpy(b, hello_ff, sizeof(hello_ff));
    n += sizeof(hello_ff);
    memcpy(b + n, get_cfg_status, sizeof(get_cfg_status));
    n += sizeof(get_cfg_status);
    memcpy(b + n, get_cfg_status, sizeof(get_cfg_status));
    n += sizeof(get_cfg_status);
    for (int how = 0; how < 3; how++) {
        sink_init(&k, 0, URG_POLICY_FAIL, NULL, 0);
        assert_int_equal(feed(&k, hello_ff, sizeof(hello_ff)), 0);
        k.verdict_header = URG_DECODE_STOP;
        k.fed = b + sizeof(hello_ff);
        k.fed_len = n - sizeof(hello_ff);
        assert_int_equal(urg_decoder_feed(k.d, k.fed, k.fed_len, &used), 1);
        assert_int_equal(used, sizeof(get_cfg_status)); /* the headers */
        assert_int_equal(k.packets, 1);                 /* the hello only */
        assert_int_equal(urg_decoder_window(k.d, &wb, &wl), 0);
        assert_ptr_equal(wb, (void *)1);
        assert_int_equal(wl, 7);
        k.verdict_header = URG_DECODE_CONTINUE;
        switch (how) {
        case 0: assert_int_equal(urg_decoder_feed(k.d, b, 0, NULL), 0); break;
        case 1: assert_int_equal(urg_decoder_commit(k.d, 0), 0); break;
        default: /* the next packet's bytes */
            assert_int_equal(feed(&k, k.fed + used, k.fed_len - used), 0);
            assert_int_equal(k.packets, 3);
            break;
        }
        assert_true(k.packets >= 2);
        assert_non_null(strstr(k.log, "configuration_status 1 0"));
        assert_int_equal(k.errors, 0);
        sink_free(&k);
    }
}

static void test_limits_and_memory(void **state)
{
    struct fail_alloc f = { 0 };
    const struct urg_allocator lim = fail_allocator(&f);
    struct urg_decoder_config c;
    urg_decoder *d;
    struct sink k;
    uint8_t b[12 + 10 + 2000];
    (void)state;
    /* A control reply over a 1024-byte maximum packet size. */
    memset(b, 0, sizeof(b));
    b[0] = URG_CONTROL_PACKET;
    b[4] = (uint8_t)((10 + 2000) & 0xff);
    b[5] = (uint8_t)((10 + 2000) >> 8);
    b[12] = 0x80;
    b[14] = 0x80;
    b[20] = (uint8_t)(2000 & 0xff);
    b[21] = (uint8_t)(2000 >> 8);
    sink_init(&k, 0, URG_POLICY_FAIL, NULL, 1024);
    assert_int_equal(feed(&k, hello_ff, sizeof(hello_ff)), 0);
    assert_int_equal(feed(&k, b, 12), URG_ERR_PROTO_PACKET_SIZE);
    sink_free(&k);
    /* No memory for a straddling payload: a clear, fatal error. */
    f.fail_from = f.calls + 2; /* the decoder itself, then nothing */
    sink_init(&k, 0, URG_POLICY_FAIL, &lim, 0);
    assert_int_equal(feed(&k, hello_ff, sizeof(hello_ff)), 0);
    assert_int_equal(feed(&k, b, 100), URG_ERR_NOMEM);
    assert_int_equal(k.last_err, URG_ERR_NOMEM);
    sink_free(&k);
    fail_alloc_refuse(&f, 1);
    memset(&c, 0, sizeof(c));
    c.callbacks.packet = on_packet;
    c.allocator = &lim;
    assert_int_equal(urg_decoder_new(&c, &d), URG_ERR_NOMEM);
    /* Bad configurations. */
    c.allocator = NULL;
    c.callbacks.packet = NULL;
    assert_int_equal(urg_decoder_new(&c, &d), URG_ERR_INVALID);
    c.callbacks.packet = on_packet;
    c.role = 7;
    assert_int_equal(urg_decoder_new(&c, &d), URG_ERR_INVALID);
    c.role = URG_ROLE_HOST;
    c.our_caps = URG_CAP_BIT(URG_CAP_BULK_STREAMS);
    assert_int_equal(urg_decoder_new(&c, &d), URG_ERR_INVALID);
    assert_int_equal(urg_decoder_feed(NULL, b, 1, NULL), URG_ERR_INVALID);
    urg_decoder_free(NULL);
}

/* ---------------------------------------------------------------- whole frames */

/*
 * The decoder's whole-frame path (a frame lying whole in the bytes fed,
 * read and checked in one step) against the generic path (the same bytes
 * fed one at a time): for every packet type, valid and broken in each way a
 * receiver checks, in both roles, under two layouts and both policies, and
 * under every callback verdict, the same packets (fields and payload), the
 * same errors (code, message, fatal), the same returns and the same stats.
 */

/* What a run saw, in order: callbacks and feed returns. */
struct wlog {
    urg_decoder *d;
    char *s;
    size_t len, cap;
    uint32_t verdict_type; /* the verdict below applies to this type only */
    int mode;              /* WM_* */
    uint8_t dest[4096];    /* offered by the header callback */
};

enum {
    WM_NO_HEADER,     /* no header callback */
    WM_CONTINUE,      /* a header callback that offers dest and goes on */
    WM_H_DISCARD,     /* the header callback discards verdict_type */
    WM_H_STOP,        /* the header callback stops at verdict_type */
    WM_H_ERROR,       /* the header callback rejects verdict_type */
    WM_P_STOP,        /* the packet callback stops after verdict_type */
    WM_P_ERROR,       /* the packet callback rejects verdict_type */
    WM_MODES
};

static void wlogf(struct wlog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wlogf(struct wlog *l, const char *fmt, ...)
{
    char b[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(b, sizeof(b), fmt, ap);
    va_end(ap);
    if (l->len + (size_t)n + 1 > l->cap) {
        l->cap = (l->len + (size_t)n + 1) * 2;
        l->s = realloc(l->s, l->cap);
        assert_non_null(l->s);
    }
    memcpy(l->s + l->len, b, (size_t)n + 1);
    l->len += (size_t)n;
}

/* Every field of p's type (as its codec reads them) and its payload. */
static uint32_t fields_digest(const struct urg_packet *p)
{
    struct urg_field f;
    uint32_t h = 2166136261u, i;
    for (int k = 0; urg_type_field(p->type, k, &f); k++)
        for (int e = 0; e < f.count; e++)
            h = (h ^ urg_field_get(p, &f, e)) * 16777619u;
    for (i = 0; i < p->data_len; i++)
        h = (h ^ p->data[i]) * 16777619u;
    return h;
}

static int w_header(void *ctx, const struct urg_packet *p, uint8_t **dest)
{
    struct wlog *l = ctx;
    wlogf(l, "header %s %llu %u %p\n", urg_type_name(p->type), (unsigned long long)p->id,
          p->data_len, (const void *)p->data);
    if (p->data_len <= sizeof(l->dest))
        *dest = l->dest;
    if (p->type != l->verdict_type)
        return URG_DECODE_CONTINUE;
    switch (l->mode) {
    case WM_H_DISCARD: return URG_DECODE_DISCARD;
    case WM_H_STOP: return URG_DECODE_STOP;
    case WM_H_ERROR: return URG_ERR_PROTO_CALLBACK;
    default: return URG_DECODE_CONTINUE;
    }
}

static int w_packet(void *ctx, const struct urg_packet *p)
{
    struct wlog *l = ctx;
    wlogf(l, "packet %s %llu %u %08x\n", urg_type_name(p->type), (unsigned long long)p->id,
          p->data_len, fields_digest(p));
    if (p->type != l->verdict_type)
        return URG_DECODE_CONTINUE;
    switch (l->mode) {
    case WM_P_STOP: return URG_DECODE_STOP;
    case WM_P_ERROR: return URG_ERR_PROTO_CALLBACK;
    default: return URG_DECODE_CONTINUE;
    }
}

static void w_error(void *ctx, int err, const char *msg, int fatal)
{
    wlogf(ctx, "error %s %d %s\n", urg_error_name(err), fatal, msg);
}

/* The session's tolerance hook (URG_POLICY_TOLERATE), and its calls. */
static unsigned long w_tolerations;
static void w_tolerated(void *ctx, const struct urg_packet *p, const char *msg)
{
    w_tolerations++;
    wlogf(ctx, "tolerated %s %s\n", urg_type_name(p->type), msg);
}

/* A frame as its bytes, unchecked: the header (length as given), the type
 * header by the row's codec under w, then data_len bytes of p->data. */
static void raw_put(struct stream *s, const struct urg_wire *w, const struct urg_packet *p,
                    uint32_t length, size_t th_bytes, uint32_t data_len)
{
    const struct urgi_type *row = urgi_type(p->type);
    uint8_t h[16 + URGI_MAX_TYPE_HEADER];
    int hl = p->type == URG_HELLO ? 12 : urg_header_len(w);
    size_t th = (size_t)urgi_type_header_len(row, w);
    urgi_put32(h, p->type);
    urgi_put32(h + 4, length);
    urgi_put_id(h, hl, p->id);
    row->encode(w, p, h + hl);
    put(s, h, (size_t)hl + (th_bytes < th ? th_bytes : th));
    if (data_len)
        put(s, p->data, data_len);
}

/* A valid packet travelling in dir, by urg_encode(). */
static void add_dir(struct stream *s, const struct urg_wire *w, enum urg_dir dir,
                    const struct urg_packet *p)
{
    uint8_t h[16 + URGI_MAX_TYPE_HEADER + 64];
    int n = urg_encode(w, dir, p, h, sizeof(h));
    assert_true(n > 0);
    put(s, h, (size_t)n);
    if (p->type != URG_HELLO && p->data_len)
        put(s, p->data, p->data_len);
}

static void raw_packet(struct stream *s, const struct urg_wire *w, const struct urg_packet *p)
{
    uint32_t th = (uint32_t)urgi_type_header_len(urgi_type(p->type), w);
    raw_put(s, w, p, th + p->data_len, th, p->data_len);
}

/* The broken copies of valid packet v (p is scratch): each a rule of the
 * receiver's, or a field a rule may be about. Returns how many it added. */
static int add_broken(struct stream *s, const struct urg_wire *w, const struct urg_packet *v,
                      uint32_t *rng, int which)
{
    static uint8_t more[700];
    struct urg_packet p = *v;
    struct urg_field f;
    uint32_t th = (uint32_t)urgi_type_header_len(urgi_type(v->type), w);
    int n = 0, k;
    switch (which) {
    case 0: /* one byte of data more than the frame says */
        memcpy(more, v->data ? v->data : more, v->data_len);
        more[v->data_len] = 0x5a;
        p.data = more;
        p.data_len = v->data_len + 1;
        raw_packet(s, w, &p);
        return 1;
    case 1: /* shorter than its type header */
        if (!th)
            return 0;
        raw_put(s, w, &p, th - 1, th - 1, 0);
        return 1;
    case 2: /* the endpoint's direction bit flipped; the length field + 1 */
        for (k = 0; urg_type_field(v->type, k, &f); k++) {
            if (f.role == URG_FIELD_ENDPOINT)
                urg_field_set(&p, &f, 0, urg_field_get(&p, &f, 0) ^ 0x80), n = 1;
            if (f.role == URG_FIELD_LENGTH)
                urg_field_set(&p, &f, 0, urg_field_get(&p, &f, 0) + 1), n = 1;
        }
        if (n)
            raw_packet(s, w, &p);
        return n;
    case 3: /* the first field 200 (an interface count, an endpoint type) */
        if (!urg_type_field(v->type, 0, &f))
            return 0;
        urg_field_set(&p, &f, 0, 200);
        if (f.role == URG_FIELD_TEXT)
            p.h.hello.version[sizeof(p.h.hello.version) - 1] = '\0';
        raw_packet(s, w, &p);
        return 1;
    case 4: /* what tolerance takes: an ep_info type 4, a control packet's
             * requesttype against its endpoint */
        if (v->type == URG_EP_INFO)
            p.h.ep_info.type[5] = 4;
        else if (v->type == URG_CONTROL_PACKET)
            p.h.control.requesttype ^= 0x80;
        else
            return 0;
        raw_packet(s, w, &p);
        return 1;
    default: /* a field set to a random value */
        for (k = 0; urg_type_field(v->type, k, &f); k++)
            ;
        if (!k)
            return 0;
        urg_type_field(v->type, (int)(rnd(rng) % (uint32_t)k), &f);
        urg_field_set(&p, &f, (int)(rnd(rng) % f.count),
                      rnd(rng) % 2 ? rnd(rng) : rnd(rng) % 300);
        if (f.role == URG_FIELD_TEXT)
            p.h.hello.version[sizeof(p.h.hello.version) - 1] = '\0';
        raw_packet(s, w, &p);
        return 1;
    }
}

#define W_MAX 2048 /* the decoders' maximum packet size */
#define W_BROKEN 8 /* add_broken()'s kinds (5 and on: random fields) */

/* Runs the stream through a decoder of role and policy in mode, fed whole
 * (chunk 0) or chunk bytes at a time. Returns the log; *st the stats. */
static char *wrun(const struct stream *s, enum urg_role role, int policy, int mode,
                  uint32_t verdict_type, size_t chunk, struct urgi_decoder_stats *st)
{
    struct urg_decoder_config c;
    struct wlog *l = calloc(1, sizeof(*l));
    size_t off = 0;
    char *out;
    assert_non_null(l);
    l->mode = mode;
    l->verdict_type = verdict_type;
    memset(&c, 0, sizeof(c));
    c.role = role;
    c.our_caps = URG_CAPS_ALL;
    c.max_packet_size = W_MAX;
    /* URG_POLICY_TOLERATE is the session's: its decoder skips, and
     * tolerates. */
    c.policy = policy == URG_POLICY_TOLERATE ? URG_POLICY_SKIP : policy;
    c.callbacks.header = mode == WM_NO_HEADER ? NULL : w_header;
    c.callbacks.packet = w_packet;
    c.callbacks.error = w_error;
    c.ctx = l;
    assert_int_equal(urg_decoder_new(&c, &l->d), 0);
    if (policy == URG_POLICY_TOLERATE) {
        l->d->tolerate = true;
        l->d->tolerated = w_tolerated;
    }
    wlogf(l, "\n");
    while (off < s->len) {
        size_t n = chunk && chunk < s->len - off ? chunk : s->len - off, used = 0;
        int rc = urg_decoder_feed(l->d, s->b + off, n, &used);
        if (rc == 1) {
            wlogf(l, "stop\n");
            off += used;
            continue;
        }
        if (rc) {
            wlogf(l, "feed %s\n", urg_error_name(rc));
            break;
        }
        off += n;
    }
    *st = *urgi_decoder_stats(l->d);
    urg_decoder_free(l->d);
    out = l->s;
    free(l);
    return out;
}

/* A case's stream: the peer's hello (unless no_hello), the case's frames,
 * then a valid control and bulk packet. */
static void wstream_begin(struct stream *s, const struct urg_wire *w, uint32_t caps, int no_hello)
{
    struct urg_packet h = hello_packet("whole", caps);
    memset(s, 0, sizeof(*s));
    if (!no_hello)
        add_dir(s, w, URG_DIR_TO_HOST, &h);
}

static void wstream_end(struct stream *s, const struct urg_wire *w, enum urg_dir dir,
                        uint32_t *rng)
{
    static uint8_t buf[600];
    struct urg_packet p;
    assert_int_equal(gen_packet(URG_CONTROL_PACKET, dir, w, rng, &p, buf, sizeof(buf)), GEN_OK);
    add_dir(s, w, dir, &p);
    assert_int_equal(gen_packet(URG_BULK_PACKET, dir, w, rng, &p, buf, sizeof(buf)), GEN_OK);
    add_dir(s, w, dir, &p);
}

/* The stream fed whole and byte by byte: the same log, stats but for the
 * copies and the whole-frame count. Returns the whole run's
 * whole-frame count. */
static uint64_t wcompare(const struct stream *s, enum urg_role role, int policy, int mode,
                         uint32_t verdict_type, const char *what)
{
    struct urgi_decoder_stats st[2];
    char *log[2];
    uint64_t whole;
    log[0] = wrun(s, role, policy, mode, verdict_type, 0, &st[0]);
    log[1] = wrun(s, role, policy, mode, verdict_type, 1, &st[1]);
    if (strcmp(log[0], log[1]))
        fail_msg("%s, role %d, policy %d, mode %d: whole\n%s\nbyte by byte\n%s", what, role,
                 policy, mode, log[0], log[1]);
    /* Fed byte by byte, no frame lies whole: none takes the path. */
    assert_int_equal(st[1].whole_frames, 0);
    whole = st[0].whole_frames;
    assert_true(st[0].payload_copies <= st[1].payload_copies);
    st[0].whole_frames = st[1].whole_frames = 0;
    st[0].payload_copies = st[1].payload_copies = 0;
    assert_memory_equal(&st[0], &st[1], sizeof(st[0]));
    free(log[0]);
    free(log[1]);
    return whole;
}

static void test_whole_frames_as_byte_by_byte(void **state)
{
    static const int layouts[2] = { 0, LAYOUT_VARIANTS - 1 };
    static uint8_t buf[600], big[W_MAX + 100];
    uint64_t taken = 0;
    int cases = 0;
    (void)state;
    memset(big, 0xa5, sizeof(big));
    for (int role = 0; role < 2; role++) {
        enum urg_dir dir = role == URG_ROLE_GUEST ? URG_DIR_TO_GUEST : URG_DIR_TO_HOST;
        enum urg_dir other = dir == URG_DIR_TO_GUEST ? URG_DIR_TO_HOST : URG_DIR_TO_GUEST;
        for (int li = 0; li < 2; li++) {
            uint32_t caps = layout_caps(layouts[li]), rng = 12345u + (uint32_t)(role * 7 + li);
            struct urg_wire w = urg_wire_from_caps(URG_CAPS_ALL, caps);
            struct urg_wire all = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
            for (int i = 0; i < URG_TYPE_COUNT; i++) {
                uint32_t t = urg_type_at(i);
                struct urg_packet v;
                char what[128];
                int g = gen_packet(t, dir, &w, &rng, &v, buf, sizeof(buf));
                for (int k = -1; k < W_BROKEN; k++) {
                    struct stream s;
                    wstream_begin(&s, &w, caps, 0);
                    if (g == GEN_NO_DIR || g == GEN_NO_CAP) {
                        /* a type that never travels this way, or whose caps
                         * the layout lacks: made where it can be, sent here */
                        struct urg_packet o;
                        if (k >= 0 ||
                            gen_packet(t, g == GEN_NO_DIR ? other : dir, &all, &rng, &o, buf,
                                       sizeof(buf)) != GEN_OK) {
                            free(s.b);
                            continue;
                        }
                        raw_packet(&s, &w, &o);
                    } else if (k < 0) {
                        add_dir(&s, &w, dir, &v); /* valid */
                    } else if (!add_broken(&s, &w, &v, &rng, k)) {
                        free(s.b);
                        continue;
                    }
                    wstream_end(&s, &w, dir, &rng);
                    snprintf(what, sizeof(what), "%s, layout %d, %s %d", urg_type_name(t),
                             layouts[li], k < 0 ? "valid" : "broken", k);
                    for (int pol = 0; pol < 3; pol++) {
                        int policy = pol == 2 ? URG_POLICY_TOLERATE
                                     : pol    ? URG_POLICY_SKIP
                                              : URG_POLICY_FAIL;
                        int modes = (k < 0 && g == GEN_OK) ? WM_MODES : WM_H_DISCARD;
                        for (int m = 0; m < modes; m++) {
                            unsigned long before = w_tolerations;
                            uint64_t n = wcompare(&s, (enum urg_role)role, policy, m, t, what);
                            /* what tolerance takes is taken (whole and byte
                             * by byte), and nothing else is */
                            if (k == 4 && g == GEN_OK && policy == URG_POLICY_TOLERATE)
                                assert_int_equal(w_tolerations - before, 2);
                            else if (policy != URG_POLICY_TOLERATE)
                                assert_int_equal(w_tolerations, before);
                            /* a valid frame of a type the path takes, and the
                             * two valid frames after it: taken whole */
                            if (k < 0 && g == GEN_OK && m <= WM_CONTINUE && t != URG_HELLO &&
                                t != URG_FILTER_FILTER)
                                if (n != 3) { struct urgi_decoder_stats x; char *lg = wrun(&s, (enum urg_role)role, policy, m, t, 0, &x); fail_msg("%s mode %d role %d: %llu taken\n%s", what, m, role, (unsigned long long)n, lg); }
                            taken += n;
                            cases++;
                        }
                    }
                    free(s.b);
                }
            }
            /* Frames whose rules are not the type's: unknown type, over the
             * maximum packet size, before the hello, a bad filter string, a
             * malformed first hello, a first hello whose caps break a rule. */
            for (int e = 0; e < 6; e++) {
                struct stream s;
                struct urg_packet p;
                wstream_begin(&s, &w, caps, e == 2 || e >= 4);
                memset(&p, 0, sizeof(p));
                switch (e) {
                case 0: {
                    static const uint8_t unknown[16 + 4] = { 77, 0, 0, 0, 4 };
                    put(&s, unknown, urg_header_len(&w) + 4u);
                    break;
                }
                case 1:
                    assert_int_equal(gen_packet(URG_CONTROL_PACKET, dir, &w, &rng, &p, buf,
                                                sizeof(buf)), GEN_OK);
                    p.data = big;
                    p.data_len = W_MAX;
                    raw_packet(&s, &w, &p);
                    break;
                case 2: {
                    struct urg_packet h = hello_packet("late", caps);
                    assert_int_equal(gen_packet(URG_CONTROL_PACKET, dir, &w, &rng, &p, buf,
                                                sizeof(buf)), GEN_OK);
                    add_dir(&s, &w, dir, &p);
                    add_dir(&s, &w, dir, &h);
                    break;
                }
                case 3:
                    p.type = URG_FILTER_FILTER;
                    p.data = (const uint8_t *)"-1,-1,-1,-1,1\0x";
                    p.data_len = 16;
                    raw_packet(&s, &w, &p);
                    break;
                case 4: { /* caps of 5 bytes */
                    static const uint8_t caps5[5] = { 0xff, 0, 0, 0, 0 };
                    p = hello_packet("odd", caps);
                    p.data = caps5;
                    p.data_len = 5;
                    raw_packet(&s, &w, &p);
                    break;
                }
                default: /* bulk_streams without ep_info_max_packet_size */
                    p = hello_packet("caps", URG_CAP_BIT(URG_CAP_BULK_STREAMS));
                    add_dir(&s, &w, dir, &p);
                    break;
                }
                wstream_end(&s, &w, dir, &rng);
                for (int pol = 0; pol < 3; pol++)
                    for (int m = 0; m < WM_H_DISCARD; m++) {
                        taken += wcompare(&s, (enum urg_role)role,
                                          pol == 2 ? URG_POLICY_TOLERATE
                                          : pol    ? URG_POLICY_SKIP
                                                   : URG_POLICY_FAIL,
                                          m,
                                          URG_CONTROL_PACKET, "extra");
                        cases++;
                    }
                free(s.b);
            }
        }
    }
    assert_true(cases > 1000);
    assert_true(taken > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_split_gives_the_same_packets),
        cmocka_unit_test(test_payload_placement),
        cmocka_unit_test(test_hello_switches_the_header),
        cmocka_unit_test(test_hello_rules),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_callback_verdicts),
        cmocka_unit_test(test_limits_and_memory),
        cmocka_unit_test(test_stop_before_an_empty_payload),
        cmocka_unit_test(test_whole_frames_as_byte_by_byte),
    };
    return cmocka_run_group_tests_name("decoder", tests, NULL, NULL);
}

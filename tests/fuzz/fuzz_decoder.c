/*
 * fuzz_decoder.c - libFuzzer target for the codec API's streaming decoder
 * (urg_decoder, guest/decoder.c), whole frames against the generic path.
 *
 * Input: 8 control bytes, then the bytes the peer sends. Control: [0] our
 * caps, [1] flags (bit 0 policy skip, bit 2 a small maximum packet size,
 * bit 3 read payloads through urg_decoder_window() in the split run, bit 4
 * the usb-host role (the bytes are what a guest sends), bit 5 a header
 * callback that offers a destination), [2..5] seed for the splits, [6] the
 * type index the verdict applies to, [7] the verdict (0 none, 1 header
 * discard, 2 header stop, 3 header error, 4 packet stop, 5 packet error).
 * The same layout as fuzz_recv's, so its seeds (host streams) serve: the
 * committed corpus, tests/fuzz/corpus/decoder, is 60 of them copied by
 * hand (make corpus does not rewrite it) and four guest streams for the
 * usb-host role (guest-stream-N: a session's hello and requests, flags
 * 0x10).
 *
 * The stream is decoded twice: fed whole (frames lying whole take the
 * decoder's whole-frame path) and in random pieces, byte-sized ones among
 * them (the generic path). Checked: every payload is readable for its
 * length, and both runs see the same callbacks (each packet's fields and
 * payload, each error's code, message and fatality), the same returns and
 * the same stats but for the copies; else abort. ASan and UBSan watch the
 * rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h" /* the stats */

struct run {
    urg_decoder *d;
    uint64_t h;             /* a hash of every event, in order */
    uint32_t events;
    uint32_t verdict_type;
    int verdict;
    int offer;
    uint8_t dest[2048];
};

static void mix(struct run *r, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        r->h = (r->h ^ b[i]) * 1099511628211ull;
}

static void mix32(struct run *r, uint32_t v) { mix(r, &v, sizeof(v)); }

static void packet_digest(struct run *r, const struct urg_packet *p)
{
    struct urg_field f;
    mix32(r, p->type);
    mix(r, &p->id, sizeof(p->id));
    mix32(r, p->data_len);
    for (int k = 0; urg_type_field(p->type, k, &f); k++)
        for (int e = 0; e < f.count; e++)
            mix32(r, urg_field_get(p, &f, e));
}

static int on_header(void *ctx, const struct urg_packet *p, uint8_t **dest)
{
    struct run *r = ctx;
    r->events++;
    mix32(r, 1);
    packet_digest(r, p);
    if (p->data)
        abort(); /* no payload yet */
    if (r->offer && p->data_len <= sizeof(r->dest))
        *dest = r->dest;
    if (p->type != r->verdict_type)
        return URG_DECODE_CONTINUE;
    switch (r->verdict) {
    case 1: return URG_DECODE_DISCARD;
    case 2: return URG_DECODE_STOP;
    case 3: return URG_ERR_PROTO_CALLBACK;
    default: return URG_DECODE_CONTINUE;
    }
}

static int on_packet(void *ctx, const struct urg_packet *p)
{
    struct run *r = ctx;
    r->events++;
    mix32(r, 2);
    packet_digest(r, p);
    if (p->data_len && !p->data)
        abort();
    mix(r, p->data, p->data_len); /* readable for its whole length */
    if (p->type != r->verdict_type)
        return URG_DECODE_CONTINUE;
    switch (r->verdict) {
    case 4: return URG_DECODE_STOP;
    case 5: return URG_ERR_PROTO_CALLBACK;
    default: return URG_DECODE_CONTINUE;
    }
}

static void on_error(void *ctx, int err, const char *msg, int fatal)
{
    struct run *r = ctx;
    r->events++;
    mix32(r, 3);
    mix32(r, (uint32_t)err);
    mix32(r, (uint32_t)fatal);
    mix(r, msg, strlen(msg));
}

static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x ? x : 1;
}

/* One run: whole (split 0) or in pieces. */
static void run(const uint8_t *ctl, const uint8_t *b, size_t len, int split, struct run *r,
                struct urgi_decoder_stats *st)
{
    struct urg_decoder_config c;
    uint32_t rng = ((uint32_t)ctl[2] | (uint32_t)ctl[3] << 8 | (uint32_t)ctl[4] << 16 |
                    (uint32_t)ctl[5] << 24) | 1u;
    size_t off = 0;
    memset(r, 0, sizeof(*r));
    r->h = 14695981039346656037ull;
    r->verdict_type = urg_type_at(ctl[6] % URG_TYPE_COUNT);
    r->verdict = ctl[7] % 6;
    r->offer = (ctl[1] >> 5) & 1;
    memset(&c, 0, sizeof(c));
    c.role = (ctl[1] & 16) ? URG_ROLE_HOST : URG_ROLE_GUEST;
    c.our_caps = ctl[0];
    if (!(c.our_caps & URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE)))
        c.our_caps &= ~URG_CAP_BIT(URG_CAP_BULK_STREAMS); /* else refused */
    c.max_packet_size = (ctl[1] & 4) ? 4096 : 0;
    c.policy = (ctl[1] & 1) ? URG_POLICY_SKIP : URG_POLICY_FAIL;
    c.callbacks.header = (r->offer || r->verdict) ? on_header : NULL;
    c.callbacks.packet = on_packet;
    c.callbacks.error = on_error;
    c.ctx = r;
    if (urg_decoder_new(&c, &r->d))
        abort();
    while (off < len) {
        size_t n = len - off, used = 0;
        void *wb;
        size_t wl;
        int rc;
        if (split && (ctl[1] & 8) && urg_decoder_window(r->d, &wb, &wl)) {
            n = n < wl ? n : wl;
            if (rnd(&rng) % 2)
                n = 1 + rnd(&rng) % n;
            memcpy(wb, b + off, n);
            rc = urg_decoder_commit(r->d, n);
            used = n;
        } else {
            if (split)
                n = 1 + rnd(&rng) % (rnd(&rng) % 4 ? 3 : 200);
            if (n > len - off)
                n = len - off;
            rc = urg_decoder_feed(r->d, b + off, n, &used);
            if (rc == 0)
                used = n;
        }
        if (rc) /* a stop (1) or the error that failed the stream */
            mix32(r, (uint32_t)rc);
        if (rc < 0)
            break;
        off += used;
    }
    *st = *urgi_decoder_stats(r->d);
    urg_decoder_free(r->d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run a, b;
    struct urgi_decoder_stats sa, sb;
    if (size < 8)
        return 0;
    run(data, data + 8, size - 8, 0, &a, &sa);
    run(data, data + 8, size - 8, 1, &b, &sb);
    if (a.h != b.h || a.events != b.events) {
        fprintf(stderr, "whole and split runs differ: %u and %u events\n", a.events, b.events);
        abort();
    }
    sa.payload_copies = sb.payload_copies = 0;
    sa.whole_frames = sb.whole_frames = 0;
    if (memcmp(&sa, &sb, sizeof(sa)))
        abort();
    return 0;
}

/*
 * fuzz_hcd.c - libFuzzer target for the host-controller model: random URB
 * operations (submit on every kind of endpoint, cancel, endpoint stop and
 * reset, device reset, buffered bulk, streams) interleaved with a fuzzed
 * usb-host stream.
 *
 * Input: 8 control bytes, then the bytes the host sends. Control: [0] the
 * guest's caps, [1] flags (bit 0 interrupt NAK mode, bit 1 interrupt OUT
 * completes at once, bit 2 disconnect and connect again half-way, bit 3
 * the session's policy tolerate: endpoint types above 3 reach the model,
 * which must refuse the device, bit 4 about half the URBs give their
 * data as segments: the buffer cut at random places, empty segments
 * among them, poisoned gaps between them), [2..5] the seed of the operations and of the splits.
 *
 * Checked (abort on failure): every URB accepted with 0 completes exactly
 * once, by the time the device is freed; one completed at submission (1)
 * gets no callback; a URB is never completed while not in flight; every
 * completion's actual_length fits its buffer. ASan reports any touch of a
 * buffer after its completion handed it back (each URB's buffer is a heap
 * block poisoned while the URB is idle).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h>

#include "urg_hcd.h"

#define NURB 48
#define BUFSZ 2048
#define NISO 8
#define NSEG 8
#define GAP 16 /* poisoned bytes between segments: a write past one shows */
#define AREA (BUFSZ + NSEG * GAP)

struct slot {
    struct urg_urb *u;
    uint8_t *buf;
    struct iovec seg[NSEG]; /* buf as segments, when the URB takes them */
    int busy;      /* accepted, not completed yet */
    int completions;
};

struct run {
    struct slot s[NURB];
    uint32_t rng;
    int segments;  /* flag bit 4 */
    urg_hcd_dev *dev;
    int depth;     /* submits from inside callbacks */
};

static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x ? x : 1;
}

static void submit(struct run *r, struct slot *sl);

/* ud is the run. As a VMM may, the callback sometimes cancels another URB
 * (also one a flush is about to complete), submits one, or stops an
 * endpoint. */
static void on_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    struct run *r = ud;
    struct slot *sl = u->user_data, *other;
    (void)dev;
    if (!sl || !sl->busy || sl->u != u)
        abort(); /* not in flight: twice, or never submitted */
    if (u->actual_length > u->length)
        abort();
    sl->busy = 0;
    sl->completions++;
    ASAN_POISON_MEMORY_REGION(sl->buf, AREA); /* the buffer is idle again */
    other = &r->s[rnd(&r->rng) % NURB];
    switch (rnd(&r->rng) % 8) {
    case 0:
        if (other->busy)
            urg_hcd_cancel(r->dev, other->u);
        break;
    case 1:
        if (!other->busy && r->depth < 4) {
            r->depth++;
            submit(r, other);
            r->depth--;
        }
        break;
    case 2:
        if (rnd(&r->rng) % 4 == 0)
            urg_hcd_ep_stop(r->dev, other->u->endpoint);
        break;
    case 3: /* one behind it on its endpoint: a flush may be completing both */
        for (int i = 0, k = (int)(rnd(&r->rng) % NURB); i < NURB; i++, k = (k + 1) % NURB) {
            if (r->s[k].busy && r->s[k].u->endpoint == u->endpoint) {
                urg_hcd_cancel(r->dev, r->s[k].u);
                break;
            }
        }
        break;
    default:
        break;
    }
}

static void on_detach(void *ud, urg_hcd_dev *dev)
{
    (void)ud;
    urg_hcd_detach_done(dev);
}

/* An endpoint the device has (from its table) or any address. */
static uint8_t pick_ep(struct run *r, uint8_t *type)
{
    const struct urg_hcd_device *info = urg_hcd_dev_info(r->dev);
    uint32_t i = rnd(&r->rng) % 32;
    if (info && info->usb.ep[i].type != URG_EP_INVALID && rnd(&r->rng) % 4) {
        *type = info->usb.ep[i].type;
        return (uint8_t)((i & 0x10) << 3 | (i & 0x0f));
    }
    *type = (uint8_t)(rnd(&r->rng) % 4);
    return (uint8_t)(rnd(&r->rng) & 0x8f);
}

static void submit(struct run *r, struct slot *sl)
{
    struct urg_urb *u = sl->u;
    uint8_t type;
    int rc;
    u->endpoint = pick_ep(r, &type);
    u->type = type;
    u->stream_id = rnd(&r->rng) % 8 == 0 ? 1 + rnd(&r->rng) % 4 : 0;
    u->length = rnd(&r->rng) % (BUFSZ + 1);
    if (type == URG_EP_CONTROL) {
        static const uint8_t setups[6][8] = {
            { 0x80, 6, 0, 1, 0, 0, 18, 0 },  /* GET_DESCRIPTOR */
            { 0x00, 9, 1, 0, 0, 0, 0, 0 },   /* SET_CONFIGURATION */
            { 0x01, 11, 1, 0, 1, 0, 0, 0 },  /* SET_INTERFACE */
            { 0x02, 1, 0, 0, 0x81, 0, 0, 0 }, /* CLEAR_FEATURE(HALT) */
            { 0x00, 5, 7, 0, 0, 0, 0, 0 },   /* SET_ADDRESS */
            { 0xc0, 0x42, 0, 0, 0, 0, 64, 0 },
        };
        u->endpoint = 0;
        memcpy(u->setup, setups[rnd(&r->rng) % 6], 8);
        if (u->length < (uint32_t)(u->setup[6] | u->setup[7] << 8))
            u->length = (uint32_t)(u->setup[6] | u->setup[7] << 8);
    }
    for (int i = 0; i < NISO; i++) {
        u->iso[i].offset = (uint32_t)i * (BUFSZ / NISO);
        u->iso[i].length = rnd(&r->rng) % (BUFSZ / NISO + 1);
    }
    u->buffer = sl->buf;
    u->iov = NULL;
    u->iovcnt = 0;
    if (r->segments && rnd(&r->rng) % 2) {
        /* BUFSZ bytes in NSEG pieces cut at random places, GAP bytes
         * apart. */
        uint32_t at = 0;
        for (int i = 0; i < NSEG; i++) {
            uint32_t n = i == NSEG - 1 ? BUFSZ - at : rnd(&r->rng) % (BUFSZ - at + 1) / 2;
            sl->seg[i].iov_base = sl->buf + at + (uint32_t)i * GAP;
            sl->seg[i].iov_len = n;
            at += n;
        }
        u->buffer = NULL;
        u->iov = sl->seg;
        u->iovcnt = NSEG;
    }
    if (u->iovcnt)
        for (int i = 0; i < NSEG; i++)
            ASAN_UNPOISON_MEMORY_REGION(sl->seg[i].iov_base, sl->seg[i].iov_len);
    else
        ASAN_UNPOISON_MEMORY_REGION(sl->buf, BUFSZ);
    sl->busy = 1;
    rc = urg_hcd_submit(r->dev, u);
    if (rc != 0) { /* completed now (1), or refused: no callback either way */
        sl->busy = 0;
        ASAN_POISON_MEMORY_REGION(sl->buf, AREA);
        if (rc == 1 && u->actual_length > u->length)
            abort();
    }
}

static void operate(struct run *r)
{
    int k = (int)(rnd(&r->rng) % 6);
    while (k-- > 0) {
        struct slot *sl = &r->s[rnd(&r->rng) % NURB];
        uint8_t type;
        switch (rnd(&r->rng) % 16) {
        case 0: case 1: case 2: case 3: case 4: case 5: case 6:
            if (!sl->busy)
                submit(r, sl);
            break;
        case 7: case 8:
            if (sl->busy)
                urg_hcd_cancel(r->dev, sl->u);
            break;
        case 9:
            urg_hcd_ep_stop(r->dev, pick_ep(r, &type));
            break;
        case 10:
            urg_hcd_ep_reset(r->dev, pick_ep(r, &type));
            break;
        case 11:
            if (rnd(&r->rng) % 8 == 0)
                urg_hcd_reset(r->dev);
            break;
        case 12:
            urg_hcd_ep_set_buffered(r->dev, pick_ep(r, &type), (int)(rnd(&r->rng) % 2));
            break;
        case 13:
            urg_hcd_alloc_streams(r->dev, rnd(&r->rng), 1 + rnd(&r->rng) % 8, NULL);
            break;
        case 14:
            urg_hcd_free_streams(r->dev, rnd(&r->rng), NULL);
            break;
        default: {
            struct urg_hcd_ep_stats st;
            urg_hcd_ep_stats(r->dev, pick_ep(r, &type), &st);
            break;
        }
        }
    }
}

/* Writes out a random part of the queued output. */
static void drain(struct run *r, urg_session *s)
{
    struct iovec iov[16];
    size_t total = 0;
    int n = urg_session_output(s, iov, 16);
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    if (total)
        urg_session_consume(s, rnd(&r->rng) % 2 ? total : rnd(&r->rng) % (total + 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct run r;
    struct urg_hcd_config cfg;
    struct urg_session_config session;
    urg_session *s = NULL;
    size_t off = 8, half;
    int reconnected = 0;
    if (size < 8)
        return 0;
    memset(&r, 0, sizeof(r));
    r.rng = (uint32_t)data[2] | (uint32_t)data[3] << 8 | (uint32_t)data[4] << 16 |
            (uint32_t)data[5] << 24;
    if (!r.rng)
        r.rng = 1;
    urg_hcd_config_init(&cfg);
    urg_session_config_init(&session);
    cfg.session = &session;
    session.caps = data[0] | URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE);
    if (data[1] & 8)
        session.policy = URG_POLICY_TOLERATE;
    r.segments = (data[1] & 16) != 0;
    cfg.interrupt_nak = data[1] & 1;
    cfg.interrupt_out_immediate = (data[1] >> 1) & 1;
    cfg.interrupt_queue = 16;
    cfg.buffered_bulk_queue = 16;
    session.max_output_bytes = 1 << 20;
    cfg.callbacks.urb_complete = on_complete;
    cfg.callbacks.detach = on_detach;
    cfg.user_data = &r;
    if (urg_hcd_dev_new(&cfg, &r.dev))
        abort();
    for (int i = 0; i < NURB; i++) {
        r.s[i].u = urg_urb_alloc(NISO);
        r.s[i].buf = malloc(AREA);
        if (!r.s[i].u || !r.s[i].buf)
            abort();
        r.s[i].u->buffer = r.s[i].buf;
        r.s[i].u->user_data = &r.s[i];
        ASAN_POISON_MEMORY_REGION(r.s[i].buf, AREA);
    }
    if (urg_hcd_dev_connect(r.dev, &s))
        abort();
    half = 8 + (size - 8) / 2;
    while (off < size && s) {
        size_t n = size - off;
        if (rnd(&r.rng) % 4)
            n = 1 + rnd(&r.rng) % (n < 300 ? n : 300);
        int rc = urg_session_recv(s, data + off, n);
        if (rc < 0 || urg_session_state(s) == URG_STATE_FAILED) {
            urg_hcd_dev_disconnect(r.dev, rc); /* as the transport does */
            s = NULL;
            break;
        }
        off += n;
        operate(&r);
        drain(&r, s);
        if ((data[1] & 4) && !reconnected && off >= half) {
            reconnected = 1;
            urg_hcd_dev_disconnect(r.dev, 0);
            if (urg_hcd_dev_connect(r.dev, &s))
                abort();
        }
    }
    operate(&r); /* with the connection gone, if it went */
    urg_hcd_dev_free(r.dev);
    for (int i = 0; i < NURB; i++) {
        if (r.s[i].busy)
            abort(); /* accepted and never completed */
        ASAN_UNPOISON_MEMORY_REGION(r.s[i].buf, AREA);
        free(r.s[i].buf);
        urg_urb_free(r.s[i].u);
    }
    return 0;
}

/*
 * fuzz_recv.c - libFuzzer target for the session's receive path.
 *
 * Input: 8 control bytes, then the bytes a (possibly hostile) usb-host
 * sends. Control: [0] the guest's caps, [1] flags (bit 0 policy skip, bit 1
 * a filter, bit 2 a small maximum packet size, bit 3 read payloads through
 * the recv window), [2..5] seed for the splits and the requests.
 *
 * While feeding the stream in random pieces, the harness makes requests
 * (ids are 1, 2, 3, ... so the fuzzer can answer them), cancels some,
 * forgets some, writes out part of the output queue. Every request's
 * buffers are heap blocks freed by its completion or right after its
 * forget, so ASan reports any use after either; the harness aborts if a
 * request completes twice or never, or completes after it was forgotten.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "urg_guest.h"

#define MAXREQ 512

struct req {
    uint64_t id;
    uint8_t *buf;
    int done;
};

struct run {
    struct req r[MAXREQ];
    int n;
    uint32_t rng;
};

static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x ? x : 1;
}

static void on_complete(void *ud, const struct urg_completion *c)
{
    struct req *q = c->user_data;
    volatile uint8_t sink = 0;
    uint32_t i;
    (void)ud;
    if (!q || q->done || q->id != c->id)
        abort(); /* twice, or not ours */
    /* The data must be readable for its whole length. */
    for (i = 0; c->data && i < c->length; i++)
        sink ^= c->data[i];
    (void)sink;
    q->done = 1;
    free(q->buf);
    q->buf = NULL;
}

static void on_data(void *ud, const struct urg_stream_data *d)
{
    volatile uint8_t sink = 0;
    uint32_t i;
    (void)ud;
    for (i = 0; i < d->length; i++)
        sink ^= d->data[i];
    (void)sink;
}

static struct req *new_req(struct run *run, uint32_t size)
{
    struct req *q;
    if (run->n == MAXREQ)
        return NULL;
    q = &run->r[run->n];
    memset(q, 0, sizeof(*q));
    q->buf = malloc(size ? size : 1);
    memset(q->buf, 0xa5, size ? size : 1);
    return q;
}

static void commit_req(struct run *run, struct req *q, int rc)
{
    if (rc == 0) {
        run->n++;
    } else {
        free(q->buf);
        q->buf = NULL;
    }
}

static void make_requests(urg_session *s, struct run *run)
{
    int k, count = (int)(rnd(&run->rng) % 3);
    for (k = 0; k < count; k++) {
        uint32_t pick = rnd(&run->rng) % 15, len = 1 + rnd(&run->rng) % 600;
        uint8_t setup[8] = { 0x80, 6, 0, 1, 0, 0, 0, 0 };
        struct req *q;
        int rc;
        if (urg_session_state(s) != URG_STATE_CONNECTED)
            return;
        if (pick == 12 && run->n) { /* cancel something */
            urg_session_cancel(s, run->r[rnd(&run->rng) % (uint32_t)run->n].id);
            continue;
        }
        if (pick == 14 && run->n) { /* forget something: its buffer goes now */
            struct req *f = &run->r[rnd(&run->rng) % (uint32_t)run->n];
            int r = urg_session_forget(s, f->id);
            if (r == 0 || r == URG_ERR_NOMEM) {
                if (f->done)
                    abort(); /* forgotten after it completed */
                f->done = 1; /* a completion now would be a second one */
                free(f->buf);
                f->buf = NULL;
            } else if (r != URG_ERR_NOT_FOUND || !f->done) {
                abort(); /* pending, yet not found */
            }
            if (urg_session_state(s) != URG_STATE_CONNECTED)
                return;
            continue;
        }
        if (pick == 13) {
            uint8_t iso[64] = { 0 };
            urg_session_iso_out(s, 0x03, (uint16_t)(len % 64), iso);
            continue;
        }
        q = new_req(run, len);
        if (!q)
            return;
        setup[6] = (uint8_t)len;
        setup[7] = (uint8_t)(len >> 8);
        switch (pick) {
        case 0: rc = urg_session_control(s, 0, setup, q->buf, q, &q->id); break;
        case 1: rc = urg_session_control(s, 0, setup, NULL, q, &q->id); break;
        case 2:
            setup[0] = 0x21;
            rc = urg_session_control(s, 0, setup, q->buf, q, &q->id);
            break;
        case 3: rc = urg_session_bulk(s, 0x82, 0, len, q->buf, q, &q->id); break;
        case 4: rc = urg_session_bulk(s, 0x82, 0, len, NULL, q, &q->id); break;
        case 5: rc = urg_session_bulk(s, 0x02, 0, len, q->buf, q, &q->id); break;
        case 6: rc = urg_session_interrupt_out(s, 0x04, (uint16_t)len, q->buf, q, &q->id); break;
        case 7: rc = urg_session_set_configuration(s, 1, q, &q->id); break;
        case 8: rc = urg_session_start_interrupt_receiving(s, 0x81, q, &q->id); break;
        case 9: rc = urg_session_start_iso_stream(s, 0x83, 4, 4, q, &q->id); break;
        case 10: rc = urg_session_start_bulk_receiving(s, 0x82, 0, 512, 2, q, &q->id); break;
        default: rc = urg_session_get_alt_setting(s, 0, q, &q->id); break;
        }
        commit_req(run, q, rc);
    }
}

/* Writes out a random part of the queued output. */
static void drain(urg_session *s, struct run *run)
{
    struct iovec iov[16];
    size_t total = 0, pending = urg_session_output_pending(s);
    int n = urg_session_output(s, iov, 16), i;
    for (i = 0; i < n; i++) {
        volatile uint8_t sink = ((const uint8_t *)iov[i].iov_base)[iov[i].iov_len - 1];
        (void)sink;
        total += iov[i].iov_len;
    }
    if (total > pending)
        abort();
    if (total)
        urg_session_consume(s, rnd(&run->rng) % 2 ? total : rnd(&run->rng) % (total + 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct run run;
    struct urg_session_config cfg;
    urg_session *s;
    size_t off = 8;
    int i;
    if (size < 8)
        return 0;
    memset(&run, 0, sizeof(run));
    run.rng = (uint32_t)data[2] | (uint32_t)data[3] << 8 | (uint32_t)data[4] << 16 |
              (uint32_t)data[5] << 24;
    if (!run.rng)
        run.rng = 1;
    urg_session_config_init(&cfg);
    cfg.caps = data[0];
    if (cfg.caps & URG_CAP_BIT(URG_CAP_BULK_STREAMS))
        cfg.caps |= URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE);
    cfg.policy = (data[1] & 1) ? URG_POLICY_SKIP : URG_POLICY_FAIL;
    if (data[1] & 2)
        cfg.filter = "0x03,-1,-1,-1,0|-1,-1,-1,-1,1";
    if (data[1] & 4)
        cfg.max_packet_size = 70000;
    cfg.max_output_bytes = 1 << 20;
    cfg.callbacks.complete = on_complete;
    cfg.callbacks.stream_data = on_data;
    cfg.user_data = &run;
    if (urg_session_new(&cfg, &s))
        abort();
    while (off < size && urg_session_state(s) != URG_STATE_FAILED) {
        size_t n = size - off;
        void *wb;
        size_t wl;
        if (rnd(&run.rng) % 4)
            n = 1 + rnd(&run.rng) % (n < 300 ? n : 300);
        if ((data[1] & 8) && urg_session_recv_window(s, &wb, &wl)) {
            if (n > wl)
                n = wl;
            memcpy(wb, data + off, n);
            urg_session_recv_commit(s, n);
        } else {
            urg_session_recv(s, data + off, n);
        }
        off += n;
        make_requests(s, &run);
        drain(s, &run);
    }
    urg_session_free(s);
    for (i = 0; i < run.n; i++)
        if (!run.r[i].done)
            abort(); /* every request completes exactly once */
    return 0;
}

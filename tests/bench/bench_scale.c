/*
 * bench_scale.c - how the library scales:
 *
 *   bench_scale cost N       cost of one control request and its reply with
 *                            N-1 other requests outstanding: prints "N ns";
 *                            the loop is bracketed for callgrind
 *   bench_scale memory       library memory per pending URB: the model and
 *                            the engine (through the allocator) with 100,000
 *                            bulk URBs pending, and the URB's private part
 *   bench_scale devices      256 devices on one libev loop (emulated hosts
 *                            over socketpairs): attach time, then 100
 *                            control transfers on each, all at once
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <valgrind/callgrind.h>

#include "emuhost.h"
#include "evtest.h"
#include "sessions.h"
#include "testhost.h"
#include "vmm.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const uint8_t get_device[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };

/* ---------------------------------------------------------------- cost */

static uint64_t completed;
static void no_complete(void *ud, const struct urg_completion *c)
{
    (void)ud;
    (void)c;
    completed++;
}

static void drain(urg_session *s)
{
    struct iovec iov[16];
    int n;
    while ((n = urg_session_output(s, iov, 16)) > 0) {
        size_t t = 0;
        for (int i = 0; i < n; i++)
            t += iov[i].iov_len;
        urg_session_consume(s, t);
    }
}

static int cost(uint32_t outstanding)
{
    const int rounds = 10000;
    static uint8_t buf[64], desc[18];
    struct urg_session_config cfg;
    struct testhost h;
    urg_session *s;
    size_t *at = malloc((rounds + 1) * sizeof(size_t));
    double t0;
    urg_session_config_init(&cfg);
    cfg.callbacks.complete = no_complete;
    /* Room for every id this run hands out, so that no id is skipped for
     * a taken index slot (pending.h) and each reply's id is known before
     * (outstanding + r). */
    cfg.pending_hint = outstanding + rounds;
    cfg.max_output_bytes = 0;
    urg_session_new(&cfg, &s);
    th_init(&h, URG_CAPS_ALL);
    th_pump(&h, s);
    th_hello(&h);
    th_device(&h);
    if (th_flush(&h, s, 0))
        return 1;
    for (uint32_t i = 1; i < outstanding; i++) /* ids 1 .. N-1, never answered */
        if (urg_session_bulk(s, 0x82, 0, 512, NULL, NULL, NULL))
            return 1;
    drain(s);
    /* The replies to the control requests, ids N, N+1, ... */
    for (int r = 0; r < rounds; r++) {
        struct urg_packet p;
        memset(&p, 0, sizeof(p));
        p.type = URG_CONTROL_PACKET;
        p.id = outstanding + (uint64_t)r;
        p.h.control.endpoint = 0x80;
        p.h.control.requesttype = 0x80;
        p.h.control.request = 6;
        p.h.control.value = 0x100;
        p.h.control.length = 18;
        p.data = desc;
        p.data_len = 18;
        at[r] = th_out_len(&h);
        th_emit(&h, &p);
    }
    at[rounds] = th_out_len(&h);
    CALLGRIND_TOGGLE_COLLECT;
    t0 = now();
    for (int r = 0; r < rounds; r++) {
        if (urg_session_control(s, 0, get_device, buf, NULL, NULL))
            return 1;
        drain(s);
        if (urg_session_recv(s, th_out(&h) + at[r], at[r + 1] - at[r]) < 0)
            return 1;
    }
    t0 = now() - t0;
    CALLGRIND_TOGGLE_COLLECT;
    /* Every reply met its request: none was late, no request left. */
    if (completed != (uint64_t)rounds || urg_session_pending_count(s) != outstanding - 1) {
        fprintf(stderr, "bench_scale: %llu of %d replies completed a request\n",
                (unsigned long long)completed, rounds);
        return 1;
    }
    printf("%u %.1f\n", outstanding, t0 / rounds * 1e9);
    urg_session_free(s);
    th_free(&h);
    free(at);
    return 0;
}

/* ---------------------------------------------------------------- memory */

static size_t live;
static void *m_malloc(void *ctx, size_t n)
{
    size_t *p = malloc(n + 16);
    (void)ctx;
    if (!p)
        return NULL;
    *p = n;
    live += n;
    return (char *)p + 16;
}
static void m_free(void *ctx, void *q)
{
    (void)ctx;
    if (!q)
        return;
    live -= *(size_t *)((char *)q - 16);
    free((char *)q - 16);
}
static void *m_realloc(void *ctx, void *q, size_t n)
{
    void *r = m_malloc(ctx, n);
    if (r && q) {
        size_t old = *(size_t *)((char *)q - 16);
        memcpy(r, q, old < n ? old : n);
        m_free(ctx, q);
    }
    return r;
}

static int memory(void)
{
    enum { N = 100000 };
    static struct urg_allocator a = { m_malloc, m_realloc, m_free, NULL };
    struct urg_hcd_config cfg;
    struct urg_session_config session;
    struct urg_urb **u = calloc(N, sizeof(*u));
    static uint8_t buf[512];
    struct vmm v;
    size_t before;
    size_t heap0;
    double per_urb;
    urg_hcd_config_init(&cfg);
    urg_session_config_init(&session);
    cfg.session = &session;
    session.allocator = &a;
    session.max_output_bytes = 0;
    vmm_init(&v, &cfg, URG_CAPS_ALL);
    vmm_plug_default(&v);
    heap0 = mallinfo2().uordblks;
    for (int i = 0; i < N; i++) {
        u[i] = urg_urb_alloc(0);
        u[i]->type = URG_EP_BULK;
        u[i]->endpoint = 0x83;
        u[i]->buffer = buf;
        u[i]->length = 512;
    }
    per_urb = (double)(mallinfo2().uordblks - heap0) / N; /* urg_urb_alloc(0), with malloc's own */
    vmm_sync(&v, 0);
    before = live;
    for (int i = 0; i < N; i++)
        if (urg_hcd_submit(v.dev, u[i]) != 0)
            return 1;
    vmm_sync(&v, 0); /* the requests went out: the output queue is empty */
    printf("memory: %.1f bytes per pending URB in the model and the engine (%zu bytes for "
           "%d URBs, tables included); urg_urb_alloc(0) takes %.0f bytes of heap, %zu of "
           "them the public struct urg_urb\n",
           (double)(live - before) / N, live - before, N, per_urb, sizeof(struct urg_urb));
    vmm_free(&v);
    for (int i = 0; i < N; i++)
        urg_urb_free(u[i]);
    free(u);
    return 0;
}

/* ---------------------------------------------------------------- devices */

enum { NDEV = 256, XFERS = 100 };
static int finished;

static void again(struct tdev *d, struct urg_urb *u)
{
    if (u->status != URG_URB_SUCCESS) {
        fprintf(stderr, "devices: a transfer failed\n");
        exit(1);
    }
    if (d->completions < XFERS)
        urg_hcd_submit(d->dev, u);
    else
        finished++;
}

static bool all_attached(void *p)
{
    struct tdev *d = p;
    for (int i = 0; i < NDEV; i++)
        if (!tdev_attached(&d[i]))
            return false;
    return true;
}

static bool all_done(void *p)
{
    (void)p;
    return finished == NDEV;
}

static int devices(void)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct tdev *d = calloc(NDEV, sizeof(*d));
    struct emuhost **e = calloc(NDEV, sizeof(*e));
    struct urg_urb **u = calloc(NDEV, sizeof(*u));
    static uint8_t bufs[NDEV][18];
    double t0 = now(), t1, t2;
    for (int i = 0; i < NDEV; i++)
        e[i] = tdev_pair(&d[i], loop, NULL, NULL, NULL, NULL);
    if (!run_until(loop, all_attached, d, 60))
        return 1;
    t1 = now();
    for (int i = 0; i < NDEV; i++) {
        u[i] = urg_urb_alloc(0);
        u[i]->type = URG_EP_CONTROL;
        memcpy(u[i]->setup, get_device, 8);
        u[i]->buffer = bufs[i];
        u[i]->length = 18;
        d[i].on_complete = again;
        if (urg_hcd_submit(d[i].dev, u[i]) != 0)
            return 1;
    }
    if (!run_until(loop, all_done, NULL, 60))
        return 1;
    t2 = now();
    printf("devices: %d on one loop attached in %.1f ms; %d control transfers each, %d in all, "
           "in %.1f ms (%.0f transfers/s)\n",
           NDEV, (t1 - t0) * 1e3, XFERS, NDEV * XFERS, (t2 - t1) * 1e3,
           NDEV * XFERS / (t2 - t1));
    for (int i = 0; i < NDEV; i++) {
        tdev_free(&d[i]);
        emu_free(e[i]);
        urg_urb_free(u[i]);
    }
    free(d);
    free(e);
    free(u);
    ev_loop_destroy(loop);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "cost"))
        return cost((uint32_t)atoi(argv[2]));
    if (argc == 2 && !strcmp(argv[1], "memory"))
        return memory();
    if (argc == 2 && !strcmp(argv[1], "devices"))
        return devices();
    fprintf(stderr, "usage: bench_scale cost N | memory | devices\n");
    return 2;
}

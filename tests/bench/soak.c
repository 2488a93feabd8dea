/*
 * soak.c - the library held against the fast usb-host (fasthost.h) for a
 * long time:
 *
 *   soak [CYCLES [URBS]]     (1000 and 1000000)
 *
 * 1. CYCLES connect and disconnect cycles: one model device, a transport
 *    made and freed for each, the device attaching, one control URB, the
 *    transport freed (the device detaches).
 * 2. URBS bulk IN URBs of 512 bytes, 32 outstanding, on one connection.
 *
 * Every URB must complete successfully and exactly once. Memory must stay
 * flat: the resident set after the first tenth and at the end of each phase
 * are printed, and a growth over 512 KiB fails the run. Leaks are found by
 * running it built with ASan (LeakSanitizer) or under valgrind (make soak).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <ev.h>

#include "fasthost.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif
#include "urg_hcd_transport.h"

struct soak {
    urg_hcd_dev *dev;
    int attached, detached;
    uint64_t done, failed, twice;
    uint64_t target;
    struct urg_urb *u[32];
    int k;
};

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    if (f)
        fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void on_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    (void)dev;
    (void)info;
    ((struct soak *)ud)->attached++;
}

static void on_detach(void *ud, urg_hcd_dev *dev)
{
    ((struct soak *)ud)->detached++;
    urg_hcd_detach_done(dev);
}

static void on_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    struct soak *s = ud;
    int *mark = u->user_data;
    if (++*mark != 1)
        s->twice++; /* completed again without a new submission */
    if (u->status != URG_URB_SUCCESS) {
        s->failed++;
        return;
    }
    s->done++;
    if (s->k && s->done + (uint64_t)s->k <= s->target) {
        *mark = 0;
        if (urg_hcd_submit(dev, u) != 0)
            s->failed++;
    }
}

struct until {
    struct soak *s;
    int what; /* 0 attached n, 1 done n */
    uint64_t n;
};

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    (void)w;
    ev_break(loop, EVBREAK_ONE);
}

/* Runs the loop until the condition, or fails after 30 s. */
static void run(struct ev_loop *loop, struct soak *s, int what, uint64_t n)
{
    ev_timer t;
    ev_tstamp end = ev_time() + 30;
    ev_timer_init(&t, on_tick, 0.5, 0.5);
    ev_timer_start(loop, &t);
    while (!(what == 0 ? s->attached >= (int)n : s->done + s->failed >= n)) {
        ev_run(loop, EVRUN_ONCE);
        if (ev_time() > end) {
            fprintf(stderr, "soak: stuck (attached %d, done %llu)\n", s->attached,
                    (unsigned long long)s->done);
            exit(1);
        }
    }
    ev_timer_stop(loop, &t);
}

static urg_transport *connect_dev(struct ev_loop *loop, struct soak *s, const char *addr)
{
    struct urg_transport_config tc;
    urg_transport *t;
    urg_transport_config_init(&tc);
    tc.address = addr;
    tc.loop = loop;
    tc.peer = urg_transport_peer_hcd(s->dev);
    if (urg_transport_new(&tc, &t))
        exit(1);
    return t;
}

int main(int argc, char **argv)
{
    int cycles = argc > 1 ? atoi(argv[1]) : 1000;
    uint64_t urbs = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
    static const uint8_t get_device[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    static uint8_t bufs[32][512], desc[18];
    struct ev_loop *loop = ev_loop_new(0);
    struct urg_hcd_config hc;
    struct soak s;
    urg_transport *t;
    char addr[128];
    pid_t host = fasthost_start(0, 0, addr, sizeof(addr));
    long rss_a, rss_b, rss_c, rss_d;
    int marks[33] = { 0 }, bad = 0;

    memset(&s, 0, sizeof(s));
    urg_hcd_config_init(&hc);
    hc.callbacks.attach = on_attach;
    hc.callbacks.detach = on_detach;
    hc.callbacks.urb_complete = on_complete;
    hc.user_data = &s;
    if (urg_hcd_dev_new(&hc, &s.dev))
        return 1;
    for (int i = 0; i < 32; i++)
        s.u[i] = urg_urb_alloc(0);

    /* 1. Connect, one control URB, disconnect. */
    rss_a = 0;
    for (int c = 1; c <= cycles; c++) {
        struct urg_urb *u = s.u[0];
        t = connect_dev(loop, &s, addr);
        run(loop, &s, 0, (uint64_t)c);
        memset(u, 0, offsetof(struct urg_urb, num_iso_packets));
        u->type = URG_EP_CONTROL;
        memcpy(u->setup, get_device, 8);
        u->buffer = desc;
        u->length = 18;
        marks[32] = 0;
        u->user_data = &marks[32];
        if (urg_hcd_submit(s.dev, u) != 0)
            return 1;
        run(loop, &s, 1, (uint64_t)c);
        urg_transport_free(t);
        if (s.detached != c) {
            fprintf(stderr, "soak: cycle %d did not detach\n", c);
            return 1;
        }
        if (c == cycles / 10)
            rss_a = rss_kib();
    }
    rss_b = rss_kib();
    printf("soak: %d connect and disconnect cycles, %llu control URBs done, %llu failed; "
           "RSS %ld KiB after %d, %ld KiB after %d\n",
           cycles, (unsigned long long)s.done, (unsigned long long)s.failed, rss_a,
           cycles / 10, rss_b, cycles);

    /* 2. URBS bulk IN URBs, 32 outstanding. */
    s.done = s.failed = 0;
    s.target = urbs;
    s.k = 32;
    t = connect_dev(loop, &s, addr);
    run(loop, &s, 0, (uint64_t)cycles + 1);
    for (int i = 0; i < 32; i++) {
        struct urg_urb *u = s.u[i];
        memset(u, 0, offsetof(struct urg_urb, num_iso_packets));
        u->type = URG_EP_BULK;
        u->endpoint = 0x81;
        u->buffer = bufs[i];
        u->length = 512;
        u->user_data = &marks[i];
        if (urg_hcd_submit(s.dev, u) != 0)
            return 1;
    }
    run(loop, &s, 1, urbs / 10);
    rss_c = rss_kib();
    run(loop, &s, 1, urbs);
    rss_d = rss_kib();
    printf("soak: %llu bulk URBs done, %llu failed, %llu completed twice; RSS %ld KiB after "
           "%llu, %ld KiB after %llu\n",
           (unsigned long long)s.done, (unsigned long long)s.failed,
           (unsigned long long)s.twice, rss_c, (unsigned long long)(urbs / 10), rss_d,
           (unsigned long long)urbs);
    urg_transport_free(t);
    urg_hcd_dev_free(s.dev);
    for (int i = 0; i < 32; i++)
        urg_urb_free(s.u[i]);
    ev_loop_destroy(loop);
    fasthost_stop(host, addr);

    if (s.failed || s.twice || s.done != urbs)
        bad = 1;
    /* ASan keeps freed memory in quarantine (up to 256 MiB): there the
     * resident set is no measure of the library's memory, and
     * LeakSanitizer's report at exit is the check. */
    if (!UNDER_ASAN && (rss_b - rss_a > 512 || rss_d - rss_c > 512)) {
        fprintf(stderr, "soak: memory grew\n");
        bad = 1;
    }
    printf("soak: %s%s\n", bad ? "FAILED" : "held",
           UNDER_ASAN ? " (ASan: the resident set is not checked; LeakSanitizer checks at exit)"
                      : "");
    return bad;
}

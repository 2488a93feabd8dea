/*
 * test_queue_stress.c - the device's command queue (urg_hcd_queue) under
 * threads: WORKERS threads submit and cancel at random while the loop runs
 * on a thread of its own - a model device behind a transport, the queue's
 * runner (urg_hcd_queue_runner) and the emulated FTDI adapter (emuhost) as
 * the usb-host over a socketpair, all on that loop. Each submission has a
 * sequence number; each must complete exactly once with a status that
 * fits it (bulk IN data with its FTDI status bytes, a control GET_STATUS,
 * a submission the model refuses; or cancelled), counted per number.
 *
 * Both completion modes: urb_complete on the loop's thread handing each
 * URB back to the thread that owns it; and the completion queue, reaped by
 * whichever thread comes first, which then owns the URB. Cancels hit URBs
 * whose submission waits, URBs in flight and URBs already complete.
 *
 * URG_QUEUE_STRESS_URBS (20000; make check-tsan: 1000000) URBs in all,
 * half in each mode. tests/tiers/tsan.sh runs it under ThreadSanitizer;
 * the unit tier, valgrind and ASan+UBSan with the default. A hang fails
 * after a bound (WATCHDOG_SECONDS), never a wait used to synchronise.
 * tests/hcd/test_queue.c holds each rule alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <ev.h>

#include "emuhost.h"
#include "evtest.h"

enum { WORKERS = 4, PER_WORKER = 16, BATCH = 16, BUF = 64 };
#define WATCHDOG_SECONDS 1800
#define DEFAULT_URBS 20000

enum { KIND_BULK, KIND_CONTROL, KIND_REFUSED };

struct stress;
struct worker;

/* A URB and what its current submission is. */
struct rec {
    struct urg_urb *u;
    struct worker *owner; /* callback mode: whose mailbox it goes back to */
    uint64_t seq;
    bool out;             /* the owner's view: submitted, not back yet */
    uint8_t buf[BUF];
};

struct worker {
    struct stress *s;
    pthread_t th;
    unsigned rng;
    struct rec recs[PER_WORKER];
    int outstanding;
    /* callback mode: completed URBs handed back by the loop's thread */
    pthread_mutex_t m;
    pthread_cond_t c;
    struct rec *mail[PER_WORKER];
    int nmail;
};

struct stress {
    int completion;             /* URG_HCD_QUEUE_* */
    uint64_t total;
    atomic_uint_fast64_t next_seq, completed;
    atomic_uchar *count;        /* completions per sequence number */
    uint8_t *kind;              /* KIND_* per sequence number */
    atomic_uint_fast64_t ok, cancelled, refused, cancel_calls, bad;
    struct ev_loop *loop;
    ev_async stop;
    pthread_t loop_th;
    urg_hcd_dev *dev;
    urg_transport *t;
    struct emuhost *emu;
    urg_hcd_queue_runner *runner;
    urg_hcd_queue *q;
    bool attached;
    struct worker w[WORKERS];
    struct rec *all[WORKERS * PER_WORKER];
    /* reap mode: completed's generation; both: done */
    pthread_mutex_t m;
    pthread_cond_t c;
    uint64_t gen;
    bool done;
};

static const uint8_t GET_STATUS[8] = { 0x80, 0, 0, 0, 0, 0, 2, 0 };

static unsigned rnd(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 16;
}

/* A failure seen on a thread that cannot assert: counted, the first few
 * said; the main thread asserts the count. */
static void bad(struct stress *s, const char *what, uint64_t seq, int status)
{
    if (atomic_fetch_add(&s->bad, 1) < 10)
        fprintf(stderr, "stress: %s (seq %llu, status %s)\n", what, (unsigned long long)seq,
                urg_urb_status_name(status));
}

/* ---------------------------------------------------------------- completions */

/* A URB came back (the loop's thread, or a reaper): counted once per
 * sequence number, its status checked against what it was. */
static void check(struct stress *s, struct rec *r)
{
    struct urg_urb *u = r->u;
    uint64_t seq = r->seq;
    bool fits;
    if (seq >= s->total) {
        bad(s, "a sequence number never issued", seq, u->status);
        return;
    }
    if (atomic_fetch_add(&s->count[seq], 1) != 0)
        bad(s, "completed twice", seq, u->status);
    if (u->status == URG_URB_CANCELLED) {
        fits = true; /* any kind, at any time before its result */
        atomic_fetch_add(&s->cancelled, 1);
    } else if (s->kind[seq] == KIND_REFUSED) {
        fits = u->status == URG_URB_REFUSED && urg_hcd_queue_error(u) == URG_ERR_HCD_ENDPOINT;
        atomic_fetch_add(&s->refused, 1);
    } else if (s->kind[seq] == KIND_CONTROL) {
        fits = u->status == URG_URB_SUCCESS && u->actual_length == 2;
        atomic_fetch_add(&s->ok, 1);
    } else {
        /* FTDI: every transfer starts with its two status bytes. */
        fits = (u->status == URG_URB_SUCCESS || u->status == URG_URB_SHORT) &&
               u->actual_length >= 2 && r->buf[0] == 0x01 && r->buf[1] == 0x60;
        atomic_fetch_add(&s->ok, 1);
    }
    if (!fits)
        bad(s, "a status that does not fit the URB", seq, u->status);
    if (atomic_fetch_add(&s->completed, 1) + 1 == s->total) {
        pthread_mutex_lock(&s->m);
        s->done = true;
        pthread_cond_broadcast(&s->c);
        pthread_mutex_unlock(&s->m);
    }
}

/* The device's urb_complete: callback mode, on the loop's thread. */
static void on_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    struct stress *s = ud;
    struct rec *r = u->user_data;
    struct worker *w = r->owner;
    (void)dev;
    if (s->completion != URG_HCD_QUEUE_CALLBACK) {
        bad(s, "urb_complete in reap mode", r->seq, u->status);
        return;
    }
    check(s, r);
    pthread_mutex_lock(&w->m);
    w->mail[w->nmail++] = r;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

/* Reap mode: the completion queue went non-empty (the loop's thread). */
static void on_completed(void *ud)
{
    struct stress *s = ud;
    pthread_mutex_lock(&s->m);
    s->gen++;
    pthread_cond_broadcast(&s->c);
    pthread_mutex_unlock(&s->m);
}

static void on_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    (void)dev;
    (void)info;
    ((struct stress *)ud)->attached = true;
}

static void on_detach(void *ud, urg_hcd_dev *dev)
{
    (void)ud;
    urg_hcd_detach_done(dev);
}

/* ---------------------------------------------------------------- workers */

/* Submits r with the next sequence number (false: all are issued). */
static bool issue(struct worker *w, struct rec *r)
{
    struct stress *s = w->s;
    struct urg_urb *u = r->u;
    uint64_t seq = atomic_fetch_add(&s->next_seq, 1);
    unsigned pick;
    int rc;
    if (seq >= s->total)
        return false;
    pick = rnd(&w->rng) % 16;
    r->seq = seq;
    r->owner = w;
    memset(r->buf, 0xee, sizeof(r->buf));
    memset(u->setup, 0, sizeof(u->setup));
    u->user_data = r;
    u->buffer = r->buf;
    if (pick == 0) {
        s->kind[seq] = KIND_REFUSED; /* no endpoint 0x87 */
        u->type = URG_EP_BULK;
        u->endpoint = 0x87;
        u->length = BUF;
    } else if (pick < 5) {
        s->kind[seq] = KIND_CONTROL;
        u->type = URG_EP_CONTROL;
        u->endpoint = 0;
        memcpy(u->setup, GET_STATUS, 8);
        u->length = 2;
    } else {
        s->kind[seq] = KIND_BULK;
        u->type = URG_EP_BULK;
        u->endpoint = 0x81;
        u->length = BUF;
    }
    /* Before the submission: from then on the URB is the queue's, and
     * another thread may reap it (TSan found this written after). */
    r->out = true;
    w->outstanding++;
    if ((rc = urg_hcd_queue_submit(s->q, u)) != 0) {
        bad(s, urg_error_name(rc), seq, 0);
        r->out = false;
        w->outstanding--;
        return false;
    }
    /* Now and then cancelled at once: most often while it waits. */
    if (rnd(&w->rng) % 8 == 0)
        urg_hcd_queue_cancel(s->q, u);
    return true;
}

/* A cancel of some URB: 0, or not found when it is not the queue's. */
static void cancel_one(struct worker *w, struct rec *r)
{
    int rc = urg_hcd_queue_cancel(w->s->q, r->u);
    atomic_fetch_add(&w->s->cancel_calls, 1);
    if (rc != 0 && rc != URG_ERR_NOT_FOUND)
        bad(w->s, urg_error_name(rc), r->seq, 0);
}

/* Callback mode: the worker owns its URBs; the loop's thread hands each
 * back through the mailbox. */
static void *callback_worker(void *arg)
{
    struct worker *w = arg;
    struct rec *got[PER_WORKER];
    int i, n;
    for (i = 0; i < PER_WORKER; i++)
        issue(w, &w->recs[i]);
    while (w->outstanding) {
        pthread_mutex_lock(&w->m);
        while (!w->nmail)
            pthread_cond_wait(&w->c, &w->m);
        n = w->nmail;
        memcpy(got, w->mail, (size_t)n * sizeof(got[0]));
        w->nmail = 0;
        pthread_mutex_unlock(&w->m);
        for (i = 0; i < n; i++) {
            got[i]->out = false;
            w->outstanding--;
            issue(w, got[i]);
        }
        if (rnd(&w->rng) % 4 == 0) {
            struct rec *r = &w->recs[rnd(&w->rng) % PER_WORKER];
            if (r->out)
                cancel_one(w, r);
        }
    }
    return NULL;
}

/* Reap mode: whoever reaps a URB owns it and submits it again; cancels hit
 * any URB, whoever owns it. */
static void *reap_worker(void *arg)
{
    struct worker *w = arg;
    struct stress *s = w->s;
    struct urg_urb *out[BATCH];
    int i, n;
    for (i = 0; i < PER_WORKER; i++)
        issue(w, &w->recs[i]);
    for (;;) {
        uint64_t gen;
        bool done;
        pthread_mutex_lock(&s->m);
        gen = s->gen;
        done = s->done;
        pthread_mutex_unlock(&s->m);
        if (done)
            break;
        n = urg_hcd_queue_reap(s->q, out, BATCH);
        if (n < 0) {
            bad(s, urg_error_name(n), 0, 0);
            break;
        }
        for (i = 0; i < n; i++) {
            struct rec *r = out[i]->user_data;
            check(s, r);
            issue(w, r);
        }
        if (rnd(&w->rng) % 4 == 0)
            cancel_one(w, s->all[rnd(&w->rng) % (WORKERS * PER_WORKER)]);
        if (n == 0) {
            /* Emptied: the next completion calls on_completed. */
            pthread_mutex_lock(&s->m);
            while (s->gen == gen && !s->done)
                pthread_cond_wait(&s->c, &s->m);
            pthread_mutex_unlock(&s->m);
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- the loop's thread */

static void on_stop(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void *loop_thread(void *arg)
{
    struct stress *s = arg;
    ev_run(s->loop, 0);
    return NULL;
}

static bool attached(void *ctx) { return ((struct stress *)ctx)->attached; }

static uint64_t urbs_from_env(void)
{
    const char *e = getenv("URG_QUEUE_STRESS_URBS");
    unsigned long long n = e ? strtoull(e, NULL, 10) : DEFAULT_URBS;
    return n >= 2 ? n : DEFAULT_URBS;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_stress(int completion)
{
    struct stress *s = calloc(1, sizeof(*s));
    struct urg_hcd_config hc;
    struct urg_transport_config tc;
    struct urg_hcd_queue_config qc;
    struct emu_config ec;
    struct timespec deadline;
    char addr[32];
    int sv[2], i, j;
    double t0;
    assert_non_null(s);
    s->completion = completion;
    s->total = urbs_from_env() / 2;
    s->count = calloc((size_t)s->total, sizeof(*s->count));
    s->kind = calloc((size_t)s->total, 1);
    assert_non_null(s->count);
    assert_non_null(s->kind);
    pthread_mutex_init(&s->m, NULL);
    pthread_cond_init(&s->c, NULL);
    s->loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(s->loop);
    ev_async_init(&s->stop, on_stop);
    ev_async_start(s->loop, &s->stop);

    /* The usb-host: an FTDI adapter, answering every bulk IN at once. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    emu_config_init(&ec, EMU_SERIAL);
    s->emu = emu_new(&ec);
    assert_non_null(s->emu);
    emu_serve(s->emu, s->loop, sv[1], NULL, NULL);

    urg_hcd_config_init(&hc);
    hc.buffered_bulk_serial = 0; /* bulk IN as ordinary requests */
    hc.callbacks.attach = on_attach;
    hc.callbacks.detach = on_detach;
    hc.callbacks.urb_complete = on_complete;
    hc.user_data = s;
    assert_int_equal(urg_hcd_dev_new(&hc, &s->dev), 0);
    urg_transport_config_init(&tc);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    tc.address = addr;
    tc.loop = s->loop;
    tc.peer = urg_transport_peer_hcd(s->dev);
    assert_int_equal(urg_transport_new(&tc, &s->t), 0);
    urg_hcd_queue_config_init(&qc);
    qc.completion = completion;
    qc.completed = on_completed;
    qc.user_data = s;
    assert_int_equal(urg_hcd_queue_runner_new(s->loop, s->dev, &qc, &s->runner), 0);
    s->q = urg_hcd_queue_runner_queue(s->runner);
    assert_non_null(s->q);
    assert_true(run_until(s->loop, attached, s, 10));

    for (i = 0; i < WORKERS; i++) {
        struct worker *w = &s->w[i];
        w->s = s;
        w->rng = 0x9e3779b9u * (unsigned)(i + 1) + (unsigned)completion;
        pthread_mutex_init(&w->m, NULL);
        pthread_cond_init(&w->c, NULL);
        for (j = 0; j < PER_WORKER; j++) {
            w->recs[j].u = urg_urb_alloc(0);
            assert_non_null(w->recs[j].u);
            s->all[i * PER_WORKER + j] = &w->recs[j];
        }
    }
    /* From here the loop (the device, the transport, the host) is the
     * loop thread's; the workers only submit, cancel and reap. */
    t0 = now();
    assert_int_equal(pthread_create(&s->loop_th, NULL, loop_thread, s), 0);
    for (i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&s->w[i].th, NULL,
                                        completion == URG_HCD_QUEUE_REAP ? reap_worker
                                                                         : callback_worker,
                                        &s->w[i]),
                         0);

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WATCHDOG_SECONDS;
    pthread_mutex_lock(&s->m);
    while (!s->done) {
        if (pthread_cond_timedwait(&s->c, &s->m, &deadline) == ETIMEDOUT) {
            fprintf(stderr, "stress: hung after %d s: %llu of %llu completed\n",
                    WATCHDOG_SECONDS, (unsigned long long)atomic_load(&s->completed),
                    (unsigned long long)s->total);
            abort();
        }
    }
    pthread_mutex_unlock(&s->m);
    for (i = 0; i < WORKERS; i++)
        pthread_join(s->w[i].th, NULL);
    ev_async_send(s->loop, &s->stop);
    pthread_join(s->loop_th, NULL);
    printf("stress (%s): %llu URBs, %d threads, %.2f s (%.0f URBs/s); %llu ok, %llu "
           "cancelled, %llu refused, %llu cancels\n",
           completion == URG_HCD_QUEUE_REAP ? "reap" : "callback",
           (unsigned long long)s->total, WORKERS, now() - t0, (double)s->total / (now() - t0),
           (unsigned long long)s->ok, (unsigned long long)s->cancelled,
           (unsigned long long)s->refused, (unsigned long long)s->cancel_calls);

    /* Joined: the loop is this thread's again. Nothing is left to come. */
    urg_hcd_queue_runner_free(s->runner);
    assert_int_equal(atomic_load(&s->bad), 0);
    assert_int_equal(atomic_load(&s->completed), s->total);
    for (uint64_t k = 0; k < s->total; k++)
        if (atomic_load(&s->count[k]) != 1)
            fail_msg("sequence number %llu completed %d times", (unsigned long long)k,
                     (int)atomic_load(&s->count[k]));
    assert_true(atomic_load(&s->ok) > 0);
    assert_true(atomic_load(&s->cancelled) > 0);
    assert_true(atomic_load(&s->refused) > 0);
    assert_int_equal(s->ok + s->cancelled + s->refused, s->total);

    urg_transport_free(s->t);
    urg_hcd_dev_free(s->dev);
    emu_free(s->emu);
    ev_async_stop(s->loop, &s->stop);
    ev_loop_destroy(s->loop);
    for (i = 0; i < WORKERS; i++) {
        for (j = 0; j < PER_WORKER; j++)
            urg_urb_free(s->w[i].recs[j].u);
        pthread_mutex_destroy(&s->w[i].m);
        pthread_cond_destroy(&s->w[i].c);
    }
    pthread_mutex_destroy(&s->m);
    pthread_cond_destroy(&s->c);
    free(s->count);
    free(s->kind);
    free(s);
}

static void test_stress_callback(void **state)
{
    (void)state;
    run_stress(URG_HCD_QUEUE_CALLBACK);
}

static void test_stress_reap(void **state)
{
    (void)state;
    run_stress(URG_HCD_QUEUE_REAP);
}

/* The runner's own checks; its queue is the model's (test_queue.c). */
static void test_runner_arguments(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct urg_hcd_queue_config qc, raw;
    struct urg_hcd_config hc;
    urg_hcd_queue_runner *r = NULL, *r2 = NULL;
    urg_hcd_dev *dev;
    (void)state;
    urg_hcd_config_init(&hc);
    hc.callbacks.urb_complete = on_complete;
    assert_int_equal(urg_hcd_dev_new(&hc, &dev), 0);
    urg_hcd_queue_config_init(&qc);
    memset(&raw, 0, sizeof(raw));
    assert_int_equal(urg_hcd_queue_runner_new(loop, NULL, &qc, &r), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_runner_new(loop, dev, NULL, &r), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_runner_new(loop, dev, &qc, NULL), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_runner_new(loop, dev, &raw, &r), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_runner_new(loop, dev, &qc, &r), 0);
    assert_non_null(urg_hcd_queue_runner_queue(r));
    assert_null(urg_hcd_queue_runner_queue(NULL));
    assert_int_equal(urg_hcd_queue_runner_new(loop, dev, &qc, &r2), URG_ERR_STATE);
    assert_null(r2);
    urg_hcd_queue_runner_free(r);
    urg_hcd_queue_runner_free(NULL);
    /* The watcher is gone with it: the loop has nothing left to run. */
    assert_int_equal(ev_run(loop, 0), 0);
    urg_hcd_dev_free(dev);
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runner_arguments),
        cmocka_unit_test(test_stress_callback),
        cmocka_unit_test(test_stress_reap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

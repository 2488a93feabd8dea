/*
 * test_queue.c - the device's command queue (urg_hcd_queue, urg_hcd.h
 * "threads"), one rule per test, on one thread against the scripted host:
 * commands run in order and only in urg_hcd_queue_run(); wake is
 * coalesced; a cancel before the run completes the URB unsubmitted, after
 * its completion it is a no-op, in flight it cancels; a refused submission
 * and one done at once come back once; the completion queue (reap mode);
 * a submission from a completion; a disconnect and a free with commands
 * and URBs everywhere. tests/transport/test_queue_stress.c is the threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm.h"

#define ALL URG_CAPS_ALL

struct qt {
    struct vmm v;
    urg_hcd_queue *q;
    int wakes, completed;
    struct urg_urb *resubmit; /* submitted again through q from its completion */
    int resubmit_result;
    int run_in_completion;    /* 1: urg_hcd_queue_run() from each completion */
    int nested_runs;          /* what those returned, summed */
    int reap_in_completed;    /* completed reaps this many itself */
    struct urg_urb *reaped[8];
    int nreaped;
    int free_in_completion;   /* 1: urg_hcd_queue_free() from each completion */
};

static void on_wake(void *ud) { ((struct qt *)ud)->wakes++; }

static void on_completed(void *ud)
{
    struct qt *t = ud;
    t->completed++;
    if (t->reap_in_completed) {
        int n = urg_hcd_queue_reap(t->q, t->reaped, (size_t)t->reap_in_completed);
        assert_true(n >= 0);
        t->nreaped += n;
    }
}

static void on_complete(struct vmm *v, struct urg_urb *u)
{
    struct qt *t = v->test;
    if (u == t->resubmit) {
        t->resubmit = NULL;
        t->resubmit_result = urg_hcd_queue_submit(t->q, u);
    }
    if (t->run_in_completion)
        t->nested_runs += urg_hcd_queue_run(t->q);
    if (t->free_in_completion)
        urg_hcd_queue_free(t->q);
}

static void qt_init(struct qt *t, int completion)
{
    struct urg_hcd_queue_config cfg;
    memset(t, 0, sizeof(*t));
    vmm_init(&t->v, NULL, ALL);
    vmm_plug_default(&t->v);
    t->v.on_complete = on_complete;
    t->v.test = t;
    urg_hcd_queue_config_init(&cfg);
    cfg.completion = completion;
    cfg.wake = on_wake;
    cfg.completed = on_completed;
    cfg.user_data = t;
    assert_int_equal(urg_hcd_queue_new(t->v.dev, &cfg, &t->q), 0);
}

static void qt_free(struct qt *t)
{
    urg_hcd_queue_free(t->q);
    vmm_free(&t->v);
}

/* The i-th packet the guest sent (since the last th_clear). */
static const struct urg_packet *pkt(struct qt *t, size_t i)
{
    assert_true(i < t->v.h.npkts);
    return &t->v.h.pkts[i].p;
}

static void answer_bulk(struct qt *t, size_t i, const void *data, uint32_t len)
{
    th_reply_bulk(&t->v.h, pkt(t, i), URG_STATUS_SUCCESS, data, len);
    vmm_sync(&t->v, 0);
}

static struct urg_urb *bulk_in(void) { return vmm_urb(URG_EP_BULK, 0x83, 512, 0); }

static struct urg_urb *control(const uint8_t setup[8], uint32_t len)
{
    struct urg_urb *u = vmm_urb(URG_EP_CONTROL, 0, len, 0);
    memcpy(u->setup, setup, 8);
    return u;
}

static const uint8_t GET_STATUS[8] = { 0x80, 0, 0, 0, 0, 0, 2, 0 };
static const uint8_t SET_ADDRESS[8] = { 0x00, 5, 7, 0, 0, 0, 0, 0 };

static void test_commands_run_in_order_on_run(void **state)
{
    struct qt t;
    struct urg_urb *a, *b, *c;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_CALLBACK);
    th_clear(&t.v.h);
    a = bulk_in();
    b = control(GET_STATUS, 2);
    c = bulk_in();
    assert_int_equal(urg_hcd_queue_submit(t.q, a), 0);
    assert_int_equal(urg_hcd_queue_submit(t.q, b), 0);
    assert_int_equal(urg_hcd_queue_submit(t.q, c), 0);
    /* Nothing happens before the run: the model is the loop's. */
    vmm_sync(&t.v, 0);
    assert_int_equal(t.v.h.npkts, 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 3);
    vmm_sync(&t.v, 0);
    assert_int_equal(t.v.h.npkts, 3);
    assert_int_equal(pkt(&t, 0)->type, URG_BULK_PACKET);
    assert_int_equal(pkt(&t, 1)->type, URG_CONTROL_PACKET);
    assert_int_equal(pkt(&t, 2)->type, URG_BULK_PACKET);
    assert_true(pkt(&t, 0)->id < pkt(&t, 2)->id);
    /* A URB of the queue's is not submitted twice. */
    assert_int_equal(urg_hcd_queue_submit(t.q, a), URG_ERR_HCD_BUSY);
    assert_int_equal(urg_hcd_queue_run(t.q), 0);
    answer_bulk(&t, 0, "abc", 3);
    th_reply_control(&t.v.h, pkt(&t, 1), URG_STATUS_SUCCESS, "\1\0", 2);
    vmm_sync(&t.v, 0);
    answer_bulk(&t, 2, "de", 2);
    assert_int_equal(t.v.ndone, 3);
    assert_ptr_equal(t.v.done[0].urb, a);
    assert_int_equal(t.v.done[0].status, URG_URB_SHORT);
    assert_int_equal(t.v.done[0].actual, 3);
    assert_ptr_equal(t.v.done[1].urb, b);
    assert_int_equal(t.v.done[1].status, URG_URB_SUCCESS);
    assert_ptr_equal(t.v.done[2].urb, c);
    assert_int_equal(urg_hcd_queue_error(a), 0);
    /* Its completion came: it is the VMM's again. */
    assert_int_equal(urg_hcd_queue_submit(t.q, a), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    qt_free(&t);
    vmm_urb_free(a);
    vmm_urb_free(b);
    vmm_urb_free(c);
}

static void test_wake_is_coalesced(void **state)
{
    struct qt t;
    struct urg_urb *u[3];
    int i;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_CALLBACK);
    for (i = 0; i < 3; i++) {
        u[i] = bulk_in();
        assert_int_equal(urg_hcd_queue_submit(t.q, u[i]), 0);
    }
    assert_int_equal(t.wakes, 1); /* the FIFO went non-empty once */
    /* A cancel of a URB whose submission waits adds no command. */
    assert_int_equal(urg_hcd_queue_cancel(t.q, u[2]), 0);
    assert_int_equal(t.wakes, 1);
    assert_int_equal(urg_hcd_queue_run(t.q), 3);
    /* Emptied by the run: the next command wakes again, once. */
    assert_int_equal(urg_hcd_queue_cancel(t.q, u[0]), 0);
    assert_int_equal(t.wakes, 2);
    assert_int_equal(urg_hcd_queue_cancel(t.q, u[1]), 0);
    assert_int_equal(urg_hcd_queue_cancel(t.q, u[0]), 0); /* the same cancel */
    assert_int_equal(t.wakes, 2);
    assert_int_equal(urg_hcd_queue_run(t.q), 2);
    assert_int_equal(t.v.ndone, 3);
    for (i = 0; i < 3; i++)
        assert_int_equal(vmm_count(&t.v, u[i]), 1);
    qt_free(&t);
    for (i = 0; i < 3; i++)
        vmm_urb_free(u[i]);
}

static void test_cancel_before_run_completes_unsubmitted(void **state)
{
    struct qt t;
    struct urg_urb *u;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_CALLBACK);
    th_clear(&t.v.h);
    u = bulk_in();
    assert_int_equal(urg_hcd_queue_submit(t.q, u), 0);
    assert_int_equal(urg_hcd_queue_cancel(t.q, u), 0);
    assert_int_equal(t.v.ndone, 0); /* on the loop's thread only */
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    assert_int_equal(vmm_count(&t.v, u), 1);
    assert_int_equal(vmm_last(&t.v, u)->status, URG_URB_CANCELLED);
    assert_int_equal(urg_hcd_queue_error(u), 0);
    vmm_sync(&t.v, 0);
    assert_int_equal(t.v.h.npkts, 0); /* never submitted */
    /* Completed: a cancel now is no cancel. */
    assert_int_equal(urg_hcd_queue_cancel(t.q, u), URG_ERR_NOT_FOUND);
    assert_int_equal(urg_hcd_queue_run(t.q), 0);
    /* The flag was for that submission only. */
    assert_int_equal(urg_hcd_queue_submit(t.q, u), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    vmm_sync(&t.v, 0);
    assert_int_equal(th_count(&t.v.h, URG_BULK_PACKET), 1);
    answer_bulk(&t, 0, "x", 1);
    assert_int_equal(vmm_count(&t.v, u), 2);
    assert_int_equal(vmm_last(&t.v, u)->status, URG_URB_SHORT);
    qt_free(&t);
    vmm_urb_free(u);
}

static void test_cancel_in_flight(void **state)
{
    struct qt t;
    struct urg_urb *u;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_CALLBACK);
    th_clear(&t.v.h);
    u = bulk_in();
    assert_int_equal(urg_hcd_queue_submit(t.q, u), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    assert_int_equal(urg_hcd_queue_cancel(t.q, u), 0);
    assert_int_equal(t.v.ndone, 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    assert_int_equal(vmm_count(&t.v, u), 1);
    assert_int_equal(vmm_last(&t.v, u)->status, URG_URB_CANCELLED);
    vmm_sync(&t.v, 0);
    assert_int_equal(th_count(&t.v.h, URG_CANCEL_DATA_PACKET), 1);
    /* The host's late answer is dropped. */
    answer_bulk(&t, 0, "late", 4);
    assert_int_equal(vmm_count(&t.v, u), 1);
    qt_free(&t);
    vmm_urb_free(u);
}

/* A cancel that waits while its URB completes is a no-op, also when the
 * URB was submitted again behind it: it was for the first submission. */
static void test_cancel_after_completion_is_a_no_op(void **state)
{
    struct qt t;
    struct urg_urb *u;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_CALLBACK);
    th_clear(&t.v.h);
    u = bulk_in();
    assert_int_equal(urg_hcd_queue_submit(t.q, u), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    assert_int_equal(urg_hcd_queue_cancel(t.q, u), 0);
    vmm_sync(&t.v, 0);
    answer_bulk(&t, 0, "abc", 3); /* completes before the cancel's turn */
    assert_int_equal(vmm_count(&t.v, u), 1);
    assert_int_equal(vmm_last(&t.v, u)->status, URG_URB_SHORT);
    assert_int_equal(urg_hcd_queue_submit(t.q, u), 0); /* behind the cancel */
    assert_int_equal(urg_hcd_queue_run(t.q), 2);
    vmm_sync(&t.v, 0);
    assert_int_equal(th_count(&t.v.h, URG_CANCEL_DATA_PACKET), 0);
    assert_int_equal(th_count(&t.v.h, URG_BULK_PACKET), 2);
    assert_int_equal(vmm_count(&t.v, u), 1); /* the second is in flight */
    answer_bulk(&t, 1, "de", 2);
    assert_int_equal(vmm_count(&t.v, u), 2);
    assert_int_equal(vmm_last(&t.v, u)->status, URG_URB_SHORT);
    assert_int_equal(vmm_last(&t.v, u)->actual, 2);
    qt_free(&t);
    vmm_urb_free(u);
}

static void test_refused_submission_comes_back_once(void **state)
{
    struct qt t;
    struct urg_urb *none, *bad, *ok;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_CALLBACK);
    th_clear(&t.v.h);
    none = vmm_urb(URG_EP_BULK, 0x87, 64, 0); /* no endpoint there */
    bad = bulk_in();
    free(bad->buffer);
    bad->buffer = NULL; /* a length with no buffer */
    ok = bulk_in();
    assert_int_equal(urg_hcd_queue_submit(t.q, none), 0);
    assert_int_equal(urg_hcd_queue_submit(t.q, bad), 0);
    assert_int_equal(urg_hcd_queue_submit(t.q, ok), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 3);
    assert_int_equal(t.v.ndone, 2);
    assert_int_equal(vmm_count(&t.v, none), 1);
    assert_int_equal(vmm_last(&t.v, none)->status, URG_URB_REFUSED);
    assert_int_equal(urg_hcd_queue_error(none), URG_ERR_HCD_ENDPOINT);
    assert_int_equal(vmm_count(&t.v, bad), 1);
    assert_int_equal(vmm_last(&t.v, bad)->status, URG_URB_REFUSED);
    assert_int_equal(urg_hcd_queue_error(bad), URG_ERR_INVALID);
    assert_string_equal(urg_urb_status_name(URG_URB_REFUSED), "refused");
    vmm_sync(&t.v, 0);
    assert_int_equal(th_count(&t.v.h, URG_BULK_PACKET), 1); /* ok's only */
    /* Submitted again, the error of the last time is gone. */
    bad->buffer = calloc(1, 512);
    assert_int_equal(urg_hcd_queue_submit(t.q, bad), 0);
    assert_int_equal(urg_hcd_queue_error(bad), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    assert_int_equal(vmm_count(&t.v, bad), 1);
    urg_hcd_queue_free(t.q); /* the two in flight are cancelled */
    assert_int_equal(vmm_count(&t.v, ok), 1);
    assert_int_equal(vmm_count(&t.v, bad), 2);
    assert_int_equal(vmm_last(&t.v, ok)->status, URG_URB_CANCELLED);
    vmm_free(&t.v);
    vmm_urb_free(none);
    vmm_urb_free(bad);
    vmm_urb_free(ok);
}

static void test_done_at_once_comes_back(void **state)
{
    struct qt t;
    struct urg_urb *u;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_CALLBACK);
    u = control(SET_ADDRESS, 0); /* urg_hcd_submit() returns 1 */
    assert_int_equal(urg_hcd_queue_submit(t.q, u), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    assert_int_equal(vmm_count(&t.v, u), 1);
    assert_int_equal(vmm_last(&t.v, u)->status, URG_URB_SUCCESS);
    assert_int_equal(urg_hcd_dev_info(t.v.dev)->address, 7);
    urg_hcd_queue_free(t.q);
    assert_int_equal(vmm_count(&t.v, u), 1);
    vmm_free(&t.v);
    vmm_urb_free(u);
}

/* From a completion on the loop's thread: submitted again, run by the next
 * run (not this one), and wake is called for it. */
static void test_submit_from_a_completion(void **state)
{
    struct qt t;
    struct urg_urb *u;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_CALLBACK);
    u = control(SET_ADDRESS, 0);
    t.resubmit = u;
    t.run_in_completion = 1; /* runs nothing: it would overtake */
    assert_int_equal(urg_hcd_queue_submit(t.q, u), 0);
    assert_int_equal(t.wakes, 1);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    assert_int_equal(t.resubmit_result, 0);
    assert_int_equal(t.nested_runs, 0);
    assert_int_equal(t.wakes, 2);
    assert_int_equal(vmm_count(&t.v, u), 1);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    assert_int_equal(vmm_count(&t.v, u), 2);
    assert_int_equal(urg_hcd_queue_run(t.q), 0);
    t.run_in_completion = 0;
    qt_free(&t);
    vmm_urb_free(u);
}

static void test_reap_mode(void **state)
{
    struct qt t;
    struct urg_urb *u[4], *out[8];
    int i;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_REAP);
    th_clear(&t.v.h);
    for (i = 0; i < 4; i++) {
        u[i] = i == 3 ? control(SET_ADDRESS, 0) : bulk_in();
        assert_int_equal(urg_hcd_queue_submit(t.q, u[i]), 0);
    }
    assert_int_equal(urg_hcd_queue_reap(t.q, out, 8), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 4);
    /* SET_ADDRESS was done at once: waiting to be reaped, announced once. */
    assert_int_equal(t.completed, 1);
    vmm_sync(&t.v, 0);
    answer_bulk(&t, 0, "a", 1);
    answer_bulk(&t, 1, "b", 1);
    assert_int_equal(t.completed, 1); /* coalesced */
    assert_int_equal(t.v.ndone, 0);   /* urb_complete is not called */
    assert_int_equal(urg_hcd_queue_reap(t.q, out, 1), 1);
    assert_ptr_equal(out[0], u[3]); /* oldest first */
    assert_int_equal(urg_hcd_queue_submit(t.q, u[3]), 0); /* reaped: the VMM's */
    assert_int_equal(urg_hcd_queue_submit(t.q, u[0]), URG_ERR_HCD_BUSY); /* not reaped */
    assert_int_equal(urg_hcd_queue_cancel(t.q, u[0]), URG_ERR_NOT_FOUND);
    assert_int_equal(urg_hcd_queue_reap(t.q, out, 8), 2); /* fewer: emptied */
    assert_ptr_equal(out[0], u[0]);
    assert_ptr_equal(out[1], u[1]);
    assert_int_equal(u[0]->status, URG_URB_SHORT);
    assert_int_equal(u[0]->actual_length, 1);
    /* Emptied: the next completion is announced again. */
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    assert_int_equal(t.completed, 2);
    assert_int_equal(urg_hcd_queue_reap(t.q, out, 8), 1);
    assert_ptr_equal(out[0], u[3]);
    /* completed may reap from inside. */
    t.reap_in_completed = 8;
    answer_bulk(&t, 2, "c", 1);
    assert_int_equal(t.completed, 3);
    assert_int_equal(t.nreaped, 1);
    assert_ptr_equal(t.reaped[0], u[2]);
    assert_int_equal(urg_hcd_queue_reap(t.q, out, 8), 0);
    assert_int_equal(urg_hcd_queue_reap(t.q, NULL, 0), 0);
    assert_int_equal(urg_hcd_queue_reap(t.q, NULL, 1), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_reap(NULL, out, 1), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_reap(t.q, out, (size_t)1 << 40), URG_ERR_INVALID);
    qt_free(&t);
    assert_int_equal(t.v.ndone, 0);
    for (i = 0; i < 4; i++)
        vmm_urb_free(u[i]);
}

static void test_reap_in_callback_mode_is_refused(void **state)
{
    struct qt t;
    struct urg_urb *out[1];
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_CALLBACK);
    assert_int_equal(urg_hcd_queue_reap(t.q, out, 1), URG_ERR_STATE);
    qt_free(&t);
}

/* The connection goes with a URB in flight and one queued: the first
 * completes NODEV through the queue, the second when its turn comes. */
static void test_disconnect(void **state)
{
    struct qt t;
    struct urg_urb *a, *b, *out[4];
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_REAP);
    a = bulk_in();
    b = bulk_in();
    assert_int_equal(urg_hcd_queue_submit(t.q, a), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    assert_int_equal(urg_hcd_queue_submit(t.q, b), 0);
    urg_hcd_dev_disconnect(t.v.dev, URG_ERR_EOF);
    assert_int_equal(t.v.detached, 1);
    assert_int_equal(urg_hcd_queue_reap(t.q, out, 4), 1);
    assert_ptr_equal(out[0], a);
    assert_int_equal(a->status, URG_URB_NODEV);
    assert_int_equal(urg_hcd_queue_error(a), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    assert_int_equal(urg_hcd_queue_reap(t.q, out, 4), 1);
    assert_ptr_equal(out[0], b);
    assert_int_equal(b->status, URG_URB_NODEV);
    assert_int_equal(urg_hcd_queue_error(b), URG_ERR_NO_DEVICE);
    qt_free(&t);
    assert_int_equal(t.v.ndone, 0);
    vmm_urb_free(a);
    vmm_urb_free(b);
}

/* The free with a submission and a cancel in the FIFO, URBs in flight and
 * a completion not reaped: each completes once, through urb_complete;
 * submitting from those completions is refused. */
static void test_free_with_everything_queued(void **state)
{
    struct qt t;
    struct urg_urb *queued, *cancelled, *flying, *done;
    size_t before;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_REAP);
    queued = bulk_in();
    cancelled = bulk_in();
    flying = control(GET_STATUS, 2);
    done = control(SET_ADDRESS, 0);
    assert_int_equal(urg_hcd_queue_submit(t.q, done), 0);
    assert_int_equal(urg_hcd_queue_submit(t.q, cancelled), 0);
    assert_int_equal(urg_hcd_queue_submit(t.q, flying), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 3);
    assert_int_equal(urg_hcd_queue_cancel(t.q, cancelled), 0);
    assert_int_equal(urg_hcd_queue_submit(t.q, queued), 0);
    vmm_sync(&t.v, 0);
    th_clear(&t.v.h);
    before = t.v.h.npkts;
    t.resubmit = flying;
    urg_hcd_queue_free(t.q);
    assert_int_equal(t.resubmit_result, URG_ERR_STATE);
    assert_int_equal(t.v.ndone, 4);
    /* In reap mode all wait to be reaped, then go to urb_complete in
     * their order: the one done before the free, then what it ended. */
    assert_ptr_equal(t.v.done[0].urb, done);
    assert_int_equal(t.v.done[0].status, URG_URB_SUCCESS);
    assert_ptr_equal(t.v.done[1].urb, cancelled);
    assert_int_equal(t.v.done[1].status, URG_URB_CANCELLED);
    assert_ptr_equal(t.v.done[2].urb, queued);
    assert_int_equal(t.v.done[2].status, URG_URB_CANCELLED);
    assert_ptr_equal(t.v.done[3].urb, flying);
    assert_int_equal(t.v.done[3].status, URG_URB_CANCELLED);
    vmm_sync(&t.v, 0);
    /* queued never went out; the two in flight were cancelled. */
    assert_int_equal(th_count(&t.v.h, URG_BULK_PACKET), 0);
    assert_int_equal(th_count(&t.v.h, URG_CANCEL_DATA_PACKET), 2);
    assert_int_equal(t.v.h.npkts, before + 2);
    /* The device works on alone: its completions are urb_complete's. */
    assert_int_equal(urg_hcd_submit(t.v.dev, queued), 0);
    urg_hcd_dev_free(t.v.dev);
    t.v.dev = NULL;
    assert_int_equal(vmm_count(&t.v, queued), 2);
    assert_int_equal(vmm_last(&t.v, queued)->status, URG_URB_NODEV);
    vmm_free(&t.v);
    vmm_urb_free(queued);
    vmm_urb_free(cancelled);
    vmm_urb_free(flying);
    vmm_urb_free(done);
}

static void test_arguments(void **state)
{
    struct qt t;
    struct urg_hcd_queue_config cfg, raw;
    urg_hcd_queue *q2 = NULL;
    struct urg_urb *u;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_CALLBACK);
    urg_hcd_queue_config_init(&cfg);
    assert_int_equal(cfg.completion, URG_HCD_QUEUE_CALLBACK);
    assert_null(cfg.wake);
    assert_int_equal(urg_hcd_queue_new(t.v.dev, &cfg, &q2), URG_ERR_STATE);
    assert_null(q2);
    assert_int_equal(urg_hcd_queue_new(NULL, &cfg, &q2), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_new(t.v.dev, NULL, &q2), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_new(t.v.dev, &cfg, NULL), URG_ERR_INVALID);
    memset(&raw, 0, sizeof(raw)); /* never initialised */
    assert_int_equal(urg_hcd_queue_new(t.v.dev, &raw, &q2), URG_ERR_INVALID);
    cfg.completion = 2;
    assert_int_equal(urg_hcd_queue_new(t.v.dev, &cfg, &q2), URG_ERR_INVALID);
    u = bulk_in();
    assert_int_equal(urg_hcd_queue_submit(NULL, u), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_submit(t.q, NULL), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_cancel(NULL, u), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_cancel(t.q, NULL), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_cancel(t.q, u), URG_ERR_NOT_FOUND); /* never submitted */
    assert_int_equal(urg_hcd_queue_run(NULL), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_queue_error(NULL), 0);
    urg_hcd_queue_free(NULL);
    qt_free(&t);
    /* A device may have a queue again once the first is freed; with no
     * wake the VMM runs it when it likes. */
    vmm_init(&t.v, NULL, ALL);
    urg_hcd_queue_config_init(&cfg);
    assert_int_equal(urg_hcd_queue_new(t.v.dev, &cfg, &q2), 0);
    assert_int_equal(urg_hcd_queue_submit(q2, u), 0);
    assert_int_equal(urg_hcd_queue_run(q2), 1);
    assert_int_equal(vmm_count(&t.v, u), 1); /* no device attached */
    assert_int_equal(u->status, URG_URB_NODEV);
    urg_hcd_queue_free(q2);
    vmm_free(&t.v);
    vmm_urb_free(u);
}


/* A URB the queue holds (its submission waiting, or its completion not
 * reaped yet) is not freed by urg_urb_free(), as a URB in flight in the
 * model is not: the refusal is logged and the URB comes back as usual. */
static void test_free_of_a_queued_urb_is_refused(void **state)
{
    struct qt t;
    struct urg_urb *a, *got[2];
    int errors;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_REAP);
    a = bulk_in();
    assert_int_equal(urg_hcd_queue_submit(t.q, a), 0);
    errors = t.v.logs[URG_LOG_ERROR];
    urg_urb_free(a); /* misuse: must be refused (and logged), not freed */
    assert_int_equal(t.v.logs[URG_LOG_ERROR], errors + 1);
    assert_int_equal(urg_hcd_queue_cancel(t.q, a), 0);
    assert_int_equal(urg_hcd_queue_run(t.q), 1);
    urg_urb_free(a); /* done, not reaped: still the queue's */
    assert_int_equal(t.v.logs[URG_LOG_ERROR], errors + 2);
    assert_int_equal(urg_hcd_queue_reap(t.q, got, 2), 1);
    assert_ptr_equal(got[0], a);
    assert_int_equal(a->status, URG_URB_CANCELLED);
    qt_free(&t);
    vmm_urb_free(a); /* reaped: the VMM's, freed */
}

/* urg_hcd_queue_free() from a completion that urg_hcd_queue_run()
 * delivers is refused (logged): the run goes on with its commands, on a
 * queue that is still there. */
static void test_free_from_inside_run_is_refused(void **state)
{
    struct qt t;
    struct urg_urb *a = control(SET_ADDRESS, 0), *b = control(SET_ADDRESS, 0);
    int errors;
    (void)state;
    qt_init(&t, URG_HCD_QUEUE_CALLBACK);
    assert_int_equal(urg_hcd_queue_submit(t.q, a), 0);
    assert_int_equal(urg_hcd_queue_submit(t.q, b), 0);
    errors = t.v.logs[URG_LOG_ERROR];
    t.free_in_completion = 1;
    assert_int_equal(urg_hcd_queue_run(t.q), 2);
    t.free_in_completion = 0;
    assert_int_equal(t.v.logs[URG_LOG_ERROR], errors + 2);
    assert_int_equal(vmm_count(&t.v, a), 1);
    assert_int_equal(vmm_count(&t.v, b), 1);
    qt_free(&t);
    vmm_urb_free(a);
    vmm_urb_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_of_a_queued_urb_is_refused),
        cmocka_unit_test(test_free_from_inside_run_is_refused),
        cmocka_unit_test(test_commands_run_in_order_on_run),
        cmocka_unit_test(test_wake_is_coalesced),
        cmocka_unit_test(test_cancel_before_run_completes_unsubmitted),
        cmocka_unit_test(test_cancel_in_flight),
        cmocka_unit_test(test_cancel_after_completion_is_a_no_op),
        cmocka_unit_test(test_refused_submission_comes_back_once),
        cmocka_unit_test(test_done_at_once_comes_back),
        cmocka_unit_test(test_submit_from_a_completion),
        cmocka_unit_test(test_reap_mode),
        cmocka_unit_test(test_reap_in_callback_mode_is_refused),
        cmocka_unit_test(test_disconnect),
        cmocka_unit_test(test_free_with_everything_queued),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * queue.c - the thread-safe command queue in front of a device
 * (urg_hcd_queue, urg_hcd.h "threads"): any thread submits and cancels,
 * the loop's thread runs the commands into urg_hcd_submit() and
 * urg_hcd_cancel(), and every URB comes back exactly once, through the
 * device's urb_complete or into the completion queue.
 *
 * One lock guards the FIFO, the two lists and every URB's entry (struct
 * urb_queue_entry in hcd.h: its state, its commands, its links). The
 * model itself is touched on the loop's thread only, outside the lock; the
 * callbacks (wake, completed, urb_complete) run outside it too.
 *
 * A URB's state as the queue knows it:
 *
 *   IDLE --submit--> QUEUED --run--> OUT --given back--> IDLE (callback)
 *                      |              |            \---> DONE --reap--> IDLE
 *                      +--------------+--(cancelled while QUEUED, or
 *                                        refused, or done at once)
 *
 * QUEUED: its submit command is in the FIFO. OUT: handed to the model,
 * on the list of URBs in flight; only the loop's thread moves it on.
 * DONE: on the list of completions to reap. A cancel of an OUT URB is a
 * command of its own; one of a QUEUED URB is a flag on its submission. A
 * cancel command found stale when it runs (its URB is not OUT) was for a
 * submission that has completed: a no-op. It cannot be for a later one:
 * that submission's command is behind it in the FIFO.
 */
#include <limits.h>
#include <pthread.h>

#include "hcd.h"

enum { QUEUE_IDLE, QUEUE_QUEUED, QUEUE_OUT, QUEUE_DONE };

/* A list of URBs through their entries' prev and next. */
struct urb_list {
    struct urg_urb *head, *tail;
};

struct urg_hcd_queue {
    urg_hcd_dev *dev;
    struct urg_hcd_queue_config cfg;
    pthread_mutex_t lock;
    /* Under lock: */
    struct queue_cmd *head, *tail; /* the FIFO */
    struct urb_list out;           /* URBs in flight (OUT) */
    struct urb_list done;          /* completions to reap (DONE) */
    bool closing;                  /* urg_hcd_queue_free() runs */
    /* The loop's thread's alone: */
    bool running;                  /* inside urg_hcd_queue_run() */
};

static struct urb_queue_entry *entry(struct urg_urb *u) { return &urb_private(u)->queue; }

/* Under lock (or with no other thread left): u is the VMM's again. */
static void set_idle(struct urg_urb *u)
{
    entry(u)->state = QUEUE_IDLE;
    entry(u)->owner = NULL;
}

bool queue_holds(struct urg_urb *u)
{
    /* (owner is set at submit and cleared when the URB comes back, both
     * under the lock, before the VMM may free it in a correct program.) */
    urg_hcd_queue *q = entry(u)->owner;
    bool held;
    if (!q)
        return false;
    pthread_mutex_lock(&q->lock);
    held = entry(u)->state != QUEUE_IDLE;
    pthread_mutex_unlock(&q->lock);
    if (held)
        hcd_log(q->dev, URG_LOG_ERROR, "urg_urb_free: URB on endpoint 0x%02x is in a queue",
                u->endpoint);
    return held;
}

static struct urg_urb *urb_of(struct queue_cmd *c)
{
    size_t off = c->is_cancel ? offsetof(struct urb_box, priv.queue.cancel)
                              : offsetof(struct urb_box, priv.queue.submit);
    return &((struct urb_box *)(void *)((char *)c - off))->pub;
}

static void list_add(struct urb_list *l, struct urg_urb *u)
{
    struct urb_queue_entry *e = entry(u);
    e->prev = l->tail;
    e->next = NULL;
    if (l->tail)
        entry(l->tail)->next = u;
    else
        l->head = u;
    l->tail = u;
}

static void list_remove(struct urb_list *l, struct urg_urb *u)
{
    struct urb_queue_entry *e = entry(u);
    if (e->prev)
        entry(e->prev)->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        entry(e->next)->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

URG_API void urg_hcd_queue_config_init_size(struct urg_hcd_queue_config *cfg, size_t size)
{
    struct urg_hcd_queue_config d;
    memset(&d, 0, sizeof(d));
    d.completion = URG_HCD_QUEUE_CALLBACK;
    if (cfg)
        urgi_config_give(cfg, size, &d, sizeof(d));
}

/* Under lock: appends c; true when the FIFO was empty (wake the loop). */
static bool push(urg_hcd_queue *q, struct queue_cmd *c, bool is_cancel)
{
    bool was_empty = !q->head;
    c->next = NULL;
    c->is_cancel = is_cancel;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    return was_empty;
}

/* On the loop's thread: u is given back, exactly once - to the VMM's
 * urb_complete, or onto the completions to reap. error: what
 * urg_hcd_submit() refused it with (0: it was not refused). */
static void give_back(urg_hcd_queue *q, struct urg_urb *u, int error)
{
    struct urb_queue_entry *e = entry(u);
    bool reap = q->cfg.completion == URG_HCD_QUEUE_REAP, was_empty = false;
    pthread_mutex_lock(&q->lock);
    if (e->state == QUEUE_OUT)
        list_remove(&q->out, u);
    e->error = error;
    if (reap) {
        was_empty = !q->done.head;
        e->state = QUEUE_DONE;
        list_add(&q->done, u);
    } else {
        set_idle(u);
    }
    pthread_mutex_unlock(&q->lock);
    if (!reap)
        q->dev->cfg.callbacks.urb_complete(q->dev->cfg.user_data, q->dev, u);
    else if (was_empty && q->cfg.completed)
        q->cfg.completed(q->cfg.user_data);
}

/* The model completed a URB of the device (urb_give_back()). */
static void on_model_complete(void *queue, struct urg_urb *u)
{
    give_back(queue, u, 0);
}

URG_API int urg_hcd_queue_new(urg_hcd_dev *dev, const struct urg_hcd_queue_config *given,
                              urg_hcd_queue **out)
{
    struct urg_hcd_queue_config c;
    urg_hcd_queue *q;
    if (!dev || !given || !out)
        return URG_ERR_INVALID;
    *out = NULL;
    urg_hcd_queue_config_init(&c);
    if (urgi_config_take(&c, sizeof(c), given))
        return URG_ERR_INVALID;
    if (c.completion != URG_HCD_QUEUE_CALLBACK && c.completion != URG_HCD_QUEUE_REAP)
        return URG_ERR_INVALID;
    if (dev->queue_give_back)
        return URG_ERR_STATE;
    q = urgi_calloc(&dev->alloc, sizeof(*q));
    if (!q)
        return URG_ERR_NOMEM;
    if (pthread_mutex_init(&q->lock, NULL)) {
        urgi_free(&dev->alloc, q);
        return URG_ERR_NOMEM;
    }
    q->dev = dev;
    q->cfg = c;
    dev->queue = q;
    dev->queue_give_back = on_model_complete;
    *out = q;
    return 0;
}

URG_API int urg_hcd_queue_submit(urg_hcd_queue *q, struct urg_urb *u)
{
    struct urb_queue_entry *e;
    bool wake = false;
    int r = 0;
    if (!q || !u)
        return URG_ERR_INVALID;
    e = entry(u);
    pthread_mutex_lock(&q->lock);
    if (q->closing) {
        r = URG_ERR_STATE;
    } else if (e->state != QUEUE_IDLE) {
        r = URG_ERR_HCD_BUSY;
    } else {
        e->state = QUEUE_QUEUED;
        e->owner = q;
        e->error = 0;
        e->cancel_at_submit = false;
        wake = push(q, &e->submit, false);
    }
    pthread_mutex_unlock(&q->lock);
    if (wake && q->cfg.wake)
        q->cfg.wake(q->cfg.user_data);
    return r;
}

URG_API int urg_hcd_queue_cancel(urg_hcd_queue *q, struct urg_urb *u)
{
    struct urb_queue_entry *e;
    bool wake = false;
    int r = 0;
    if (!q || !u)
        return URG_ERR_INVALID;
    e = entry(u);
    pthread_mutex_lock(&q->lock);
    switch (e->state) {
    case QUEUE_QUEUED:
        e->cancel_at_submit = true;
        break;
    case QUEUE_OUT:
        /* One waiting already is for this same submission (see the top). */
        if (!e->cancel_queued) {
            e->cancel_queued = true;
            wake = push(q, &e->cancel, true);
        }
        break;
    default:
        r = URG_ERR_NOT_FOUND;
        break;
    }
    pthread_mutex_unlock(&q->lock);
    if (wake && q->cfg.wake)
        q->cfg.wake(q->cfg.user_data);
    return r;
}

/* A submission's turn: to the model; or back at once if it was cancelled
 * while it waited, or the queue is closing. */
static void run_submit(urg_hcd_queue *q, struct urg_urb *u)
{
    struct urb_queue_entry *e = entry(u);
    bool cancelled;
    int r;
    pthread_mutex_lock(&q->lock);
    cancelled = e->cancel_at_submit || q->closing;
    e->cancel_at_submit = false;
    e->state = QUEUE_OUT;
    list_add(&q->out, u);
    pthread_mutex_unlock(&q->lock);
    if (cancelled) {
        u->status = URG_URB_CANCELLED;
        u->actual_length = 0;
        give_back(q, u, 0);
        return;
    }
    r = urg_hcd_submit(q->dev, u);
    if (r == 1) {
        give_back(q, u, 0); /* completed at once */
    } else if (r < 0) {
        u->status = r == URG_ERR_NO_DEVICE ? URG_URB_NODEV : URG_URB_REFUSED;
        u->actual_length = 0;
        give_back(q, u, r);
    }
    /* r == 0: in flight; the model gives it back (on_model_complete). */
}

/* A cancel's turn: urg_hcd_cancel() if the URB is still out. */
static void run_cancel(urg_hcd_queue *q, struct urg_urb *u)
{
    struct urb_queue_entry *e = entry(u);
    bool out;
    pthread_mutex_lock(&q->lock);
    e->cancel_queued = false;
    out = e->state == QUEUE_OUT;
    pthread_mutex_unlock(&q->lock);
    /* Only this thread moves an OUT URB on: it is still out here. */
    if (out)
        urg_hcd_cancel(q->dev, u);
}

URG_API int urg_hcd_queue_run(urg_hcd_queue *q)
{
    struct queue_cmd *c, *next;
    int n = 0;
    if (!q)
        return URG_ERR_INVALID;
    /* From a completion inside a run: the commands queued since wait for
     * the next run, behind the rest of this one's (FIFO order). */
    if (q->running)
        return 0;
    q->running = true;
    pthread_mutex_lock(&q->lock);
    c = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    for (; c; c = next, n++) {
        struct urg_urb *u = urb_of(c);
        /* Read first: once its command has run, a URB may be queued again
         * (from its completion), which rewrites next. */
        next = c->next;
        if (c->is_cancel)
            run_cancel(q, u);
        else
            run_submit(q, u);
    }
    q->running = false;
    return n;
}

URG_API int urg_hcd_queue_reap(urg_hcd_queue *q, struct urg_urb **out, size_t max)
{
    int n = 0;
    if (!q || (!out && max) || max > INT_MAX)
        return URG_ERR_INVALID;
    if (q->cfg.completion != URG_HCD_QUEUE_REAP)
        return URG_ERR_STATE;
    pthread_mutex_lock(&q->lock);
    while (q->done.head && (size_t)n < max) {
        struct urg_urb *u = q->done.head;
        list_remove(&q->done, u);
        set_idle(u);
        out[n++] = u;
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

URG_API int urg_hcd_queue_error(const struct urg_urb *u)
{
    if (!u)
        return 0;
    return urb_private((struct urg_urb *)(uintptr_t)u)->queue.error;
}

/* Under lock: the first URB in flight, or NULL. */
static struct urg_urb *first_out(urg_hcd_queue *q)
{
    struct urg_urb *u;
    pthread_mutex_lock(&q->lock);
    u = q->out.head;
    pthread_mutex_unlock(&q->lock);
    return u;
}

URG_API void urg_hcd_queue_free(urg_hcd_queue *q)
{
    urg_hcd_dev *d;
    struct urg_urb *u;
    if (!q)
        return;
    d = q->dev;
    if (q->running) {
        /* From a completion urg_hcd_queue_run() delivers: the run would go
         * on with the commands it took, on a freed queue. */
        hcd_log(d, URG_LOG_ERROR, "urg_hcd_queue_free: called from inside urg_hcd_queue_run(); "
                                  "not freed");
        return;
    }
    pthread_mutex_lock(&q->lock);
    q->closing = true; /* submissions from the completions below: refused */
    pthread_mutex_unlock(&q->lock);
    /* The FIFO (submissions come back cancelled), then the URBs in flight
     * are cancelled; the completions may cancel more (each command ends a
     * URB or finds it ended: this ends). */
    for (;;) {
        if (urg_hcd_queue_run(q))
            continue;
        if (!(u = first_out(q)))
            break;
        if (urg_hcd_cancel(d, u) < 0) {
            /* The model does not know it (cannot happen: an OUT URB is in
             * the model until it gives it back): it is given back here. */
            u->status = URG_URB_CANCELLED;
            give_back(q, u, 0);
        }
    }
    d->queue_give_back = NULL;
    d->queue = NULL;
    /* Completions not reaped: to urb_complete (no other thread reaps now). */
    while ((u = q->done.head)) {
        list_remove(&q->done, u);
        set_idle(u);
        d->cfg.callbacks.urb_complete(d->cfg.user_data, d, u);
    }
    pthread_mutex_destroy(&q->lock);
    urgi_free(&d->alloc, q);
}

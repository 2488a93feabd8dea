/*
 * hcd_peer.c - the transport's side of a host-controller model device
 * (urg_hcd_transport.h): the device as a transport's peer, and the runner
 * of its command queue on a libev loop. The one file of transport/ that
 * knows the model.
 */
#include <ev.h>

#include "urg_hcd_transport.h"
#include "urgi_common.h"

static int hcd_open(void *ctx, urg_session **s) { return urg_hcd_dev_connect(ctx, s); }
static void hcd_close(void *ctx, int reason) { urg_hcd_dev_disconnect(ctx, reason); }

URG_API struct urg_transport_peer urg_transport_peer_hcd(urg_hcd_dev *dev)
{
    struct urg_transport_peer p = { hcd_open, hcd_close, dev };
    return p;
}

/* ---------------------------------------------------------------- the queue's runner */

struct urg_hcd_queue_runner {
    struct ev_loop *loop;
    ev_async async;            /* sent by wake, from any thread */
    urg_hcd_queue *q;
    void (*completed)(void *ud); /* the VMM's, with its user_data */
    void *user_data;
};

/* The queue's wake, on a submitting thread: ev_async_send() is libev's one
 * call that may come from another thread. */
static void runner_wake(void *ud)
{
    urg_hcd_queue_runner *r = ud;
    ev_async_send(r->loop, &r->async);
}

static void runner_completed(void *ud)
{
    urg_hcd_queue_runner *r = ud;
    r->completed(r->user_data);
}

static void runner_run(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    urg_hcd_queue_run(((urg_hcd_queue_runner *)w->data)->q);
}

URG_API int urg_hcd_queue_runner_new(struct ev_loop *loop, urg_hcd_dev *dev,
                                     const struct urg_hcd_queue_config *cfg,
                                     urg_hcd_queue_runner **out)
{
    const struct urg_allocator *a = urg_allocator_default();
    struct urg_hcd_queue_config c;
    urg_hcd_queue_runner *r;
    int err;
    if (!dev || !cfg || !out)
        return URG_ERR_INVALID;
    *out = NULL;
    urg_hcd_queue_config_init(&c);
    if (urgi_config_take(&c, sizeof(c), cfg))
        return URG_ERR_INVALID;
    r = urgi_calloc(a, sizeof(*r));
    if (!r)
        return URG_ERR_NOMEM;
    r->loop = loop ? loop : EV_DEFAULT;
    r->completed = c.completed;
    r->user_data = c.user_data;
    c.wake = runner_wake;
    c.completed = r->completed ? runner_completed : NULL;
    c.user_data = r;
    if ((err = urg_hcd_queue_new(dev, &c, &r->q))) {
        urgi_free(a, r);
        return err;
    }
    ev_async_init(&r->async, runner_run);
    r->async.data = r;
    ev_async_start(r->loop, &r->async);
    *out = r;
    return 0;
}

URG_API urg_hcd_queue *urg_hcd_queue_runner_queue(const urg_hcd_queue_runner *r)
{
    return r ? r->q : NULL;
}

URG_API void urg_hcd_queue_runner_free(urg_hcd_queue_runner *r)
{
    if (!r)
        return;
    urg_hcd_queue_free(r->q);
    ev_async_stop(r->loop, &r->async);
    urgi_free(urg_allocator_default(), r);
}

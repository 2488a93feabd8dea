/*
 * evtest.c - see evtest.h.
 */
#include "evtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

static void watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    *(bool *)w->data = true;
    ev_break(loop, EVBREAK_ONE);
}

bool run_until(struct ev_loop *loop, bool (*cond)(void *ctx), void *ctx, double seconds)
{
    bool expired = false;
    ev_timer t;
    ev_timer_init(&t, watchdog, seconds, 0.);
    t.data = &expired;
    ev_timer_start(loop, &t);
    while (!cond(ctx) && !expired)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &t);
    return !expired;
}

static void cb_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    struct tdev *d = ud;
    (void)dev;
    (void)info;
    d->attached++;
}

static void cb_detach(void *ud, urg_hcd_dev *dev)
{
    struct tdev *d = ud;
    d->detached++;
    urg_hcd_detach_done(dev);
}

static void cb_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    struct tdev *d = ud;
    (void)dev;
    d->completions++;
    d->last_status = u->status;
    d->last_actual = u->actual_length;
    if (d->on_complete)
        d->on_complete(d, u);
    if (d->free_transport_on == u && d->t) {
        urg_transport_free(d->t); /* deferred: we are inside its read */
        d->t = NULL;
    }
}

static void cb_streams(void *ud, urg_hcd_dev *dev, void *op, int status, uint32_t no_streams)
{
    struct tdev *d = ud;
    (void)dev;
    (void)op;
    d->streams_done++;
    d->streams_status = status;
    d->streams_no = no_streams;
}

static void cb_endpoints(void *ud, urg_hcd_dev *dev)
{
    (void)dev;
    ((struct tdev *)ud)->endpoints_changed++;
}

static void cb_event(void *ud, urg_transport *t, int ev, int err)
{
    struct tdev *d = ud;
    if (ev > 0 && ev < 8)
        d->events[ev]++;
    if (ev == URG_TEV_RETRY && d->nretry < 16) {
        struct urg_transport_stats st;
        urg_transport_stats(t, &st);
        d->retry_delays[d->nretry++] = st.retry_delay;
    }
    d->last_err = err;
}

static void init(struct tdev *d, struct ev_loop *loop, const char *address, int listen,
                 int reconnect, int max_retries, const char *capture, size_t output_high,
                 double stall_timeout, const struct urg_hcd_config *model)
{
    struct urg_hcd_config hc;
    struct urg_transport_config tc;
    memset(d, 0, sizeof(*d));
    d->loop = loop;
    if (model)
        hc = *model;
    else
        urg_hcd_config_init(&hc);
    hc.callbacks.attach = cb_attach;
    hc.callbacks.detach = cb_detach;
    hc.callbacks.urb_complete = cb_complete;
    hc.callbacks.streams_done = cb_streams;
    hc.callbacks.endpoints_changed = cb_endpoints;
    hc.user_data = d;
    if (urg_hcd_dev_new(&hc, &d->dev))
        abort();
    urg_transport_config_init(&tc);
    tc.address = address;
    tc.listen = listen;
    tc.loop = loop;
    tc.peer = urg_transport_peer_hcd(d->dev);
    tc.reconnect = reconnect;
    tc.max_retries = max_retries;
    tc.backoff_initial = 0.01;
    tc.backoff_max = 0.08;
    tc.output_high = output_high;
    tc.stall_timeout = stall_timeout;
    tc.capture_path = capture;
    tc.callbacks.event = cb_event;
    tc.user_data = d;
    if (urg_transport_new(&tc, &d->t)) {
        fprintf(stderr, "evtest: urg_transport_new(%s) failed\n", address);
        abort();
    }
}

void tdev_init(struct tdev *d, struct ev_loop *loop, const char *address, int listen,
               int reconnect, const char *capture)
{
    init(d, loop, address, listen, reconnect, 0, capture, 256 * 1024, 60, NULL);
}

void tdev_init_model(struct tdev *d, struct ev_loop *loop, const char *address, int reconnect,
                     const struct urg_hcd_config *model)
{
    init(d, loop, address, 0, reconnect, 0, NULL, 256 * 1024, 60, model);
}

void tdev_init_bounds(struct tdev *d, struct ev_loop *loop, const char *address,
                      size_t output_high, double stall_timeout)
{
    init(d, loop, address, 0, 0, 0, NULL, output_high, stall_timeout, NULL);
}

void tdev_init_retries(struct tdev *d, struct ev_loop *loop, const char *address,
                       int max_retries)
{
    init(d, loop, address, 0, 1, max_retries, NULL, 256 * 1024, 60, NULL);
}

void tdev_free(struct tdev *d)
{
    urg_transport_free(d->t);
    d->t = NULL;
    urg_hcd_dev_free(d->dev);
    d->dev = NULL;
}

bool tdev_attached(void *p)
{
    struct tdev *d = p;
    return urg_hcd_dev_info(d->dev) != NULL;
}

bool tdev_detached(void *p)
{
    struct tdev *d = p;
    return d->detached > 0;
}

bool tdev_closed(void *p)
{
    struct tdev *d = p;
    return d->events[URG_TEV_CLOSED] > 0;
}

struct xfer_wait {
    struct tdev *d;
    int before;
};
static bool xfer_done(void *p)
{
    struct xfer_wait *w = p;
    return w->d->completions > w->before;
}

/* tdev_xfer() with the data in buf, or in iov[iovcnt] when iov is set. */
static int xfer(struct tdev *d, int type, uint8_t ep, const uint8_t *setup, void *buf,
                const struct iovec *iov, int iovcnt, uint32_t len, uint32_t *actual)
{
    struct urg_urb *u = urg_urb_alloc(0);
    struct xfer_wait w = { d, d->completions };
    int status = URG_URB_IOERROR;
    u->type = (uint8_t)type;
    u->endpoint = ep;
    if (setup)
        memcpy(u->setup, setup, 8);
    u->buffer = iov ? NULL : buf;
    u->iov = iov;
    u->iovcnt = iov ? iovcnt : 0;
    u->length = len;
    int rc = urg_hcd_submit(d->dev, u);
    if (rc == 1 || (rc == 0 && run_until(d->loop, xfer_done, &w, 10))) {
        status = u->status; /* completed at once (1), or through the callback */
        if (actual)
            *actual = u->actual_length;
    } else if (rc == 0) {
        urg_hcd_cancel(d->dev, u);
        run_until(d->loop, xfer_done, &w, 10);
    }
    urg_urb_free(u);
    return status;
}

int tdev_xfer(struct tdev *d, int type, uint8_t ep, const uint8_t *setup, void *buf,
              uint32_t len, uint32_t *actual)
{
    return xfer(d, type, ep, setup, buf, NULL, 0, len, actual);
}

void bot_cbw(uint8_t cbw[31], uint32_t tag, const uint8_t *cdb, int cdb_len, uint32_t len, int in)
{
    memset(cbw, 0, 31);
    memcpy(cbw, "USBC", 4);
    memcpy(cbw + 4, &tag, 4); /* echoed back as is: byte order does not matter */
    cbw[8] = (uint8_t)len;
    cbw[9] = (uint8_t)(len >> 8);
    cbw[10] = (uint8_t)(len >> 16);
    cbw[11] = (uint8_t)(len >> 24);
    cbw[12] = in ? 0x80 : 0;
    cbw[14] = (uint8_t)cdb_len;
    memcpy(cbw + 15, cdb, (size_t)cdb_len);
}

static int scsi(struct tdev *d, const uint8_t *cdb, int cdb_len, void *buf,
                const struct iovec *iov, int iovcnt, uint32_t len, int in)
{
    uint32_t tag = ++d->scsi_tag; /* per device: a replayed session sends the same */
    uint8_t cbw[31], csw[13];
    uint32_t got = 0;
    bot_cbw(cbw, tag, cdb, cdb_len, len, in);
    if (tdev_xfer(d, URG_EP_BULK, 0x02, NULL, cbw, 31, NULL) != URG_URB_SUCCESS)
        return -1;
    if (len) { /* (a short data stage is allowed: the CSW's residue says it) */
        int st = xfer(d, URG_EP_BULK, in ? 0x81 : 0x02, NULL, buf, iov, iovcnt, len, &got);
        if (st != URG_URB_SUCCESS && st != URG_URB_SHORT)
            return -1;
    }
    if (tdev_xfer(d, URG_EP_BULK, 0x81, NULL, csw, 13, &got) != URG_URB_SUCCESS || got != 13 ||
        memcmp(csw, "USBS", 4) != 0 || memcmp(csw + 4, &tag, 4) != 0)
        return -1;
    return csw[12];
}

int tdev_scsi(struct tdev *d, const uint8_t *cdb, int cdb_len, void *buf, uint32_t len, int in)
{
    return scsi(d, cdb, cdb_len, buf, NULL, 0, len, in);
}

int tdev_scsi_iov(struct tdev *d, const uint8_t *cdb, int cdb_len, const struct iovec *iov,
                  int iovcnt, uint32_t len, int in)
{
    return scsi(d, cdb, cdb_len, NULL, iov, iovcnt, len, in);
}

void replay_run_done(void *ud, urg_replay *r, int status, const char *report)
{
    struct replay_session *x = ud;
    (void)r;
    x->done++;
    x->status = status;
    snprintf(x->report, sizeof(x->report), "%s", report);
}

bool replay_run_finished(void *p) { return ((struct replay_session *)p)->done > 0; }
bool replay_run_detached(void *p) { return ((struct replay_session *)p)->d.detached > 0; }

void replay_run_end(struct replay_session *x)
{
    tdev_free(&x->d);
    urg_replay_free(x->r);
    ev_loop_destroy(x->loop);
}

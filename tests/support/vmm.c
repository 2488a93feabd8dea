/*
 * vmm.c - the fake VMM of the model's tests (see vmm.h).
 */
#include "vmm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void event(struct vmm *v, const char *what)
{
    size_t n = strlen(v->events);
    snprintf(v->events + n, sizeof(v->events) - n, "%s%s", n ? "," : "", what);
}

static void cb_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    struct vmm *v = ud;
    (void)dev;
    v->attached++;
    v->info = *info;
    event(v, "attach");
}

static void cb_detach(void *ud, urg_hcd_dev *dev)
{
    struct vmm *v = ud;
    v->detached++;
    event(v, "detach");
    if (!v->manual_detach_done)
        urg_hcd_detach_done(dev);
}

static void cb_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    struct vmm *v = ud;
    struct vmm_done *d;
    if (v->ndone == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->done = realloc(v->done, (size_t)v->cap * sizeof(*v->done));
    }
    d = &v->done[v->ndone++];
    d->urb = u;
    d->status = u->status;
    d->actual = u->actual_length;
    event(v, "complete");
    if (u == v->cancel_when && v->cancel_what) {
        struct urg_urb *c = v->cancel_what;
        v->cancel_what = NULL;
        v->cancel_result = urg_hcd_cancel(dev, c);
    }
    if (u == v->resubmit && v->resubmits > 0) {
        v->resubmits--;
        if (urg_hcd_submit(dev, u) == 1) {
            /* completed at once: record it as well */
            cb_complete(ud, dev, u);
        }
    }
    if (v->on_complete)
        v->on_complete(v, u);
}

static void cb_rejected(void *ud, urg_hcd_dev *dev, int reason)
{
    struct vmm *v = ud;
    (void)dev;
    v->rejected++;
    v->last_reject = reason;
    event(v, "rejected");
}

static void cb_changed(void *ud, urg_hcd_dev *dev)
{
    struct vmm *v = ud;
    (void)dev;
    v->changed++;
    event(v, "changed");
}

static void cb_streams(void *ud, urg_hcd_dev *dev, void *op, int status, uint32_t n)
{
    struct vmm *v = ud;
    (void)dev;
    (void)op;
    (void)n;
    v->streams_done++;
    v->streams_status = status;
    event(v, "streams");
}

static void cb_log(void *ud, int level, const char *msg)
{
    struct vmm *v = ud;
    if (level >= 0 && level < 4)
        v->logs[level]++;
    if (level == URG_LOG_WARNING)
        snprintf(v->last_warning, sizeof(v->last_warning), "%s", msg);
}

void vmm_init(struct vmm *v, const struct urg_hcd_config *cfg, uint32_t host_caps)
{
    struct urg_hcd_config c;
    memset(v, 0, sizeof(*v));
    if (cfg)
        c = *cfg;
    else
        urg_hcd_config_init(&c);
    c.callbacks.attach = cb_attach;
    c.callbacks.detach = cb_detach;
    c.callbacks.urb_complete = cb_complete;
    c.callbacks.rejected = cb_rejected;
    c.callbacks.endpoints_changed = cb_changed;
    c.callbacks.streams_done = cb_streams;
    c.callbacks.log = cb_log;
    c.user_data = v;
    if (urg_hcd_dev_new(&c, &v->dev)) {
        fprintf(stderr, "vmm: urg_hcd_dev_new failed\n");
        abort();
    }
    if (urg_hcd_dev_connect(v->dev, &v->s)) {
        fprintf(stderr, "vmm: urg_hcd_dev_connect failed\n");
        abort();
    }
    th_init(&v->h, host_caps);
    th_pump(&v->h, v->s);
    th_hello(&v->h);
    if (vmm_sync(v, 0)) {
        fprintf(stderr, "vmm: hello failed\n");
        abort();
    }
}

void vmm_free(struct vmm *v)
{
    urg_hcd_dev_free(v->dev);
    th_free(&v->h);
    free(v->done);
}

int vmm_sync(struct vmm *v, size_t chunk)
{
    int r = 0;
    urg_session *s = urg_hcd_dev_session(v->dev);
    if (s) {
        r = th_flush(&v->h, s, chunk);
        s = urg_hcd_dev_session(v->dev);
        if (s)
            th_pump(&v->h, s);
    }
    v->s = s;
    return r;
}

int vmm_count(const struct vmm *v, const struct urg_urb *u)
{
    int i, n = 0;
    for (i = 0; i < v->ndone; i++)
        n += v->done[i].urb == u;
    return n;
}

const struct vmm_done *vmm_last(const struct vmm *v, const struct urg_urb *u)
{
    int i;
    for (i = v->ndone - 1; i >= 0; i--)
        if (v->done[i].urb == u)
            return &v->done[i];
    fprintf(stderr, "vmm: URB never completed\n");
    abort();
}

const struct vmm_done *vmm_control_reply(struct vmm *v, struct urg_urb *u, uint8_t status,
                                         const void *reply, uint32_t len)
{
    const struct th_packet *req;
    th_clear(&v->h);
    if (urg_hcd_submit(v->dev, u) != 0) {
        fprintf(stderr, "vmm: the control URB was not sent\n");
        abort();
    }
    vmm_sync(v, 0);
    if (!(req = th_find(&v->h, URG_CONTROL_PACKET))) {
        fprintf(stderr, "vmm: no control request reached the host\n");
        abort();
    }
    th_reply_control(&v->h, &req->p, status, reply, len);
    vmm_sync(v, 0);
    return vmm_last(v, u);
}

struct urg_urb *vmm_urb(uint8_t type, uint8_t ep, uint32_t len, int iso_packets)
{
    struct urg_urb *u = urg_urb_alloc(iso_packets);
    int i;
    u->type = type;
    u->endpoint = ep;
    u->length = len;
    u->buffer = len ? calloc(1, len) : NULL;
    for (i = 0; i < iso_packets; i++) {
        u->iso[i].length = len / (uint32_t)iso_packets;
        u->iso[i].offset = (uint32_t)i * u->iso[i].length;
    }
    return u;
}

void vmm_urb_free(struct urg_urb *u)
{
    if (!u)
        return;
    free(u->buffer);
    urg_urb_free(u);
}

void vmm_plug_default(struct vmm *v)
{
    static const uint8_t ifs[3] = { 0x03, 0xff, 0x01 };
    static const struct th_ep eps[] = {
        { 0x81, URG_EP_INTERRUPT, 4, 0, 8, 0 },  { 0x02, URG_EP_INTERRUPT, 4, 0, 8, 0 },
        { 0x83, URG_EP_BULK, 0, 1, 512, 0 },     { 0x04, URG_EP_BULK, 0, 1, 512, 0 },
        { 0x85, URG_EP_ISO, 1, 2, 192, 0 },      { 0x06, URG_EP_ISO, 1, 2, 192, 0 },
    };
    th_device_ex(&v->h, URG_SPEED_HIGH, 0x1234, 0x5678, 0, ifs, 3, eps,
                 (int)(sizeof(eps) / sizeof(eps[0])));
    vmm_sync(v, 0);
}

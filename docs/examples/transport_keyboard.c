/*
 * transport_keyboard.c - a VMM's view of transport/: its own libev loop, a
 * model device behind a transport, reconnecting when the host goes, and a
 * keyboard's reports read through interrupt URBs.
 *
 *   transport_keyboard [ADDRESS]
 *
 * ADDRESS is where a usb-host exporting a keyboard listens (for example
 * `usbredirect --device 0627:0001 --as 127.0.0.1:4000`). Without one, the
 * example starts a replay host in the same loop serving the capture
 * fixtures/keyboard-hid.urgcap over a socketpair, and connects to that: the
 * same code path, no hardware. `make check` runs it that way.
 *
 * Build: cc transport_keyboard.c $(pkg-config --cflags --libs
 *        usbredirguest-transport) -lev
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ev.h>

#include "urg_capture.h"        /* the replay host */
#include "urg_hcd_transport.h"  /* urg_hcd.h, urg_transport.h and the adapter */

struct app {
    struct ev_loop *loop;
    urg_hcd_dev *dev;
    urg_transport *t;
    urg_replay *replay;
    struct urg_urb *urb;
    uint8_t report[8];
    int step;                  /* 0 SET_PROTOCOL, 1 SET_IDLE, 2 reports */
    int reports, want;
    int done;
};

/* What a guest OS does with a boot keyboard: the boot protocol, reports
 * only on change (class requests on interface 0), then the reports. */
static void control(struct app *a, uint8_t request)
{
    static const uint8_t tmpl[8] = { 0x21, 0, 0, 0, 0, 0, 0, 0 };
    memcpy(a->urb->setup, tmpl, 8);
    a->urb->setup[1] = request; /* 0x0b SET_PROTOCOL(boot), 0x0a SET_IDLE(0) */
    a->urb->type = URG_EP_CONTROL;
    a->urb->endpoint = 0;
    a->urb->buffer = NULL;
    a->urb->length = 0;
    urg_hcd_submit(a->dev, a->urb);
}

static void submit(struct app *a)
{
    if (a->step < 2) {
        control(a, a->step == 0 ? 0x0b : 0x0a);
        return;
    }
    a->urb->type = URG_EP_INTERRUPT;
    a->urb->endpoint = 0x81;
    a->urb->buffer = a->report;
    a->urb->length = sizeof(a->report);
    /* 1: it completed at once from queued reports (no callback follows). */
    while (urg_hcd_submit(a->dev, a->urb) == 1) {
        printf("report %d: key 0x%02x\n", ++a->reports, a->report[2]);
        if (a->reports == a->want) {
            a->done = 1;
            ev_break(a->loop, EVBREAK_ALL);
            return;
        }
    }
}

/* The model's callbacks: the device comes and goes with the connection. */
static void on_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    struct app *a = ud;
    (void)dev;
    printf("attached %04x:%04x at %s speed\n", info->usb.vendor_id, info->usb.product_id,
           urg_speed_name(info->speed));
    a->step = 0;
    submit(a);
}

static void on_detach(void *ud, urg_hcd_dev *dev)
{
    (void)ud;
    printf("detached\n");
    urg_hcd_detach_done(dev); /* the port is free: a reconnect may attach again */
}

static void on_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *urb)
{
    struct app *a = ud;
    (void)dev;
    if (urb->status != URG_URB_SUCCESS) {
        printf("URB ended: %s\n", urg_urb_status_name(urb->status));
        return; /* NODEV: the connection went; the next attach resubmits */
    }
    if (a->step < 2) {
        a->step++;
        submit(a);
        return;
    }
    printf("report %d: key 0x%02x\n", ++a->reports, a->report[2]);
    if (a->reports == a->want) {
        a->done = 1;
        ev_break(a->loop, EVBREAK_ALL);
        return;
    }
    submit(a);
}

/* The transport's: connection state, for the VMM's own log. */
static void on_event(void *ud, urg_transport *t, int ev, int err)
{
    struct app *a = ud;
    (void)t;
    if (ev == URG_TEV_CONNECTED)
        printf("connected\n");
    else if (ev == URG_TEV_RETRY)
        printf("retrying: %s\n", urg_strerror(err));
    else if (ev == URG_TEV_CLOSED)
        ev_break(a->loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
    struct app a;
    struct urg_hcd_config hc;
    struct urg_transport_config tc;
    char addr[32];
    int r;
    memset(&a, 0, sizeof(a));
    a.loop = ev_loop_new(0); /* the VMM's own loop */
    a.want = 22;             /* "hello world": 11 presses, 11 releases */
    a.urb = urg_urb_alloc(0);

    urg_hcd_config_init(&hc);
    hc.callbacks.attach = on_attach;
    hc.callbacks.detach = on_detach;
    hc.callbacks.urb_complete = on_complete;
    hc.user_data = &a;
    if ((r = urg_hcd_dev_new(&hc, &a.dev)))
        return fprintf(stderr, "%s\n", urg_strerror(r)), 1;

    if (argc < 2) {
        /* No host: replay a capture of one in this loop. */
        struct urg_replay_config rc;
        int sv[2];
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        urg_replay_config_init(&rc);
        rc.capture_path = "fixtures/keyboard-hid.urgcap";
        rc.loop = a.loop;
        rc.fd = sv[1];
        if ((r = urg_replay_new(&rc, &a.replay)))
            return fprintf(stderr, "replay: %s\n", urg_strerror(r)), 1;
        snprintf(addr, sizeof(addr), "fd:%d", sv[0]); /* the transport owns it now */
    }

    urg_transport_config_init(&tc);
    tc.address = argc < 2 ? addr : argv[1];
    tc.loop = a.loop;
    tc.peer = urg_transport_peer_hcd(a.dev);
    tc.reconnect = 1;          /* usbredirect serves one connection, then exits */
    tc.backoff_initial = 0.5;  /* 0.5 s, 1 s, 2 s ... up to 10 s */
    tc.callbacks.event = on_event;
    tc.user_data = &a;
    if ((r = urg_transport_new(&tc, &a.t)))
        return fprintf(stderr, "%s: %s\n", tc.address, urg_strerror(r)), 1;

    ev_run(a.loop, 0);

    /* Shutdown: the transport first (the device detaches, URBs complete
     * with NODEV), then the device, the replay, the loop. */
    urg_transport_free(a.t);
    urg_hcd_dev_free(a.dev);
    urg_replay_free(a.replay);
    urg_urb_free(a.urb);
    ev_loop_destroy(a.loop);
    return a.done ? 0 : 1;
}

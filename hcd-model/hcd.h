/*
 * hcd.h - the host-controller model's state, shared by the files of
 * hcd-model/. Not installed.
 *
 * The files call each other one way only (no file calls one above it):
 *
 *   device.c     the device's lifecycle, and the engine's events, each
 *                routed once (a completion by its request record)
 *     urb.c      a URB's whole lifecycle: the only file that moves URBs
 *                (submit, the per-endpoint FIFO, completion, cancel, stop,
 *                reset, serving URBs that wait for stream data)
 *       control.c, bulk.c, interrupt.c, iso.c
 *                what to do with a URB of that transfer type: each returns
 *                a verdict (sent with an id, done now, or wait) that urb.c
 *                applies; filling a URB from the stream queue
 *         stream.c   an endpoint's stream and its queue: start, stop,
 *                    the host's answers, packets in, URBs filled from it
 *         serial.c   which bulk IN endpoints are serial ports (buffered
 *                    bulk receiving), from serial_ids.c (Linux's tables)
 *           pktq.c   the bounded packet queue
 *           speed.c  port speeds and iso sizing
 *           pcap.c   usbmon capture
 *           log.c    the model's log line
 *
 *   queue.c      beside them, on top: the thread-safe command queue
 *                (urg_hcd_queue): any thread submits and cancels through
 *                it, the loop's thread runs the commands with
 *                urg_hcd_submit() and urg_hcd_cancel(); the model hands
 *                it the device's completions (urb_give_back(), below)
 *
 * A URB followed from urg_hcd_submit() to the wire and back visits urb.c,
 * its transfer type's file, and (for a completion) device.c, each once.
 */
#ifndef URG_HCD_INTERNAL_H
#define URG_HCD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "urg_codec.h" /* urg_packet_stream() */
#include "urg_hcd.h"
#include "urgi_common.h"

#if defined(__GNUC__)
#define HCD_HIDDEN __attribute__((visibility("hidden")))
#define HCD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HCD_HIDDEN
#define HCD_PRINTF(a, b)
#endif

/* ---- the bounded packet queue (pktq.c) ---- */

/* One stream packet; it owns its data (no chunk ever points into another). */
struct pkt {
    uint8_t *data;
    uint32_t len, off;
    int status;            /* the wire status of the packet */
};

struct pktq {
    struct pkt *ring;
    uint32_t cap, head, count;
    uint32_t target;       /* kept; above twice this, drop back to it */
    size_t bytes;          /* payload bytes queued */
    size_t max_bytes;      /* above this, drop the oldest until under it */
    uint64_t drops;
};

HCD_HIDDEN void pktq_init(struct pktq *q, uint32_t target, size_t max_bytes);
/* Copies len bytes in; returns 0 or URG_ERR_NOMEM. Drops the oldest
 * packets (counted) when the queue passes twice its target, or its byte
 * bound. */
HCD_HIDDEN int pktq_push(struct pktq *q, const struct urg_allocator *a, const uint8_t *data,
                         uint32_t len, int status);
static inline struct pkt *pktq_head(struct pktq *q)
{
    return q->count ? &q->ring[q->head] : NULL;
}
HCD_HIDDEN void pktq_pop(struct pktq *q, const struct urg_allocator *a);
HCD_HIDDEN void pktq_clear(struct pktq *q, const struct urg_allocator *a);
HCD_HIDDEN void pktq_destroy(struct pktq *q, const struct urg_allocator *a);

/* ---- URBs ---- */

/* Where a URB is (only urb.c moves it): not in the model; in its
 * endpoint's FIFO waiting for its result; or with its result, waiting for
 * the URBs before it to complete. */
enum { URB_IDLE, URB_AWAITS_RESULT, URB_AWAITS_TURN };
/* What gives a URB its result: an engine request, the endpoint's stream
 * queue, a standard request the model translates, or the model itself. */
enum { SERVED_BY_ENGINE, SERVED_FROM_QUEUE, SERVED_AS_STANDARD, SERVED_LOCALLY };
/* The standard request a control URB is (control.c). */
enum { STD_NONE, STD_SET_CONFIG, STD_GET_CONFIG, STD_SET_ALT, STD_GET_ALT, STD_CLEAR_HALT,
       STD_GET_DESCRIPTOR };

/* What an engine request was made for: the user_data of every request the
 * model makes is one of these (NULL for stream starts and stops, which the
 * completion's type and endpoint name), so a completion is routed by what
 * it is for, once. */
enum { REQUEST_URB = 1, REQUEST_OUT_COPY, REQUEST_STREAMS };
struct hcd_request {
    uint8_t kind; /* REQUEST_* */
};

/* A command in a urg_hcd_queue's FIFO (queue.c): a URB's submission or
 * its cancel, kept in the URB itself - no allocation per command, and at
 * most two commands per URB. */
struct queue_cmd {
    struct queue_cmd *next;
    bool is_cancel;
};

/* A URB as a urg_hcd_queue knows it. queue.c alone reads and writes it,
 * under that queue's lock; urb.c only allocates it (zeroed). */
struct urb_queue_entry {
    struct queue_cmd submit;       /* in the FIFO while its submission waits */
    struct queue_cmd cancel;       /* in the FIFO while a cancel waits */
    struct urg_urb *prev, *next;   /* on the queue's list of URBs in flight,
                                      or of completions to reap */
    int error;                     /* what urg_hcd_submit() refused it with */
    uint8_t state;                 /* QUEUE_* (queue.c) */
    bool cancel_queued;            /* cancel is in the FIFO */
    bool cancel_at_submit;         /* cancelled while its submission waited */
    struct urg_hcd_queue *owner;   /* the queue holding it (not IDLE), or NULL */
};
/* queue.c: whether a queue holds u (submitted, not given back or reaped
 * yet; it logs why): urg_urb_free() then refuses to free it. */
HCD_HIDDEN bool queue_holds(struct urg_urb *u);

/* The model's part of a URB in flight: its place in the FIFO, what serves
 * it, whether its result is known. Whether its engine request is still out
 * is the engine's to know (docs/architecture.md, "Who owns a URB in
 * flight"): id is only the handle to forget it by. */
struct urb_priv {
    urg_hcd_dev *dev;
    struct urg_urb *prev, *next; /* the endpoint's FIFO */
    uint64_t id;                 /* the engine request serving it (handle) */
    uint64_t pcap_id;
    const struct urg_allocator *alloc; /* the URB's memory came from it */
    struct hcd_request request;  /* REQUEST_URB: the engine request for it */
    uint8_t state;               /* URB_* */
    uint8_t served;              /* SERVED_* */
    uint8_t standard;            /* STD_* */
    struct urb_queue_entry queue; /* queue.c's, when it goes through a queue */
};

struct urb_box {
    struct urb_priv priv;
    struct urg_urb pub;
};

static inline struct urb_priv *urb_private(struct urg_urb *u)
{
    return &((struct urb_box *)(void *)((char *)u - offsetof(struct urb_box, pub)))->priv;
}
/* The engine request record of a URB, and the URB of one. */
static inline struct hcd_request *urb_request(struct urg_urb *u)
{
    return &urb_private(u)->request;
}
static inline struct urg_urb *request_urb(const struct hcd_request *r)
{
    return &((struct urb_box *)(void *)((char *)r - offsetof(struct urb_box, priv.request)))->pub;
}

/* ---- endpoints ---- */

enum { ST_NONE, ST_STARTING, ST_ACTIVE }; /* stream states */

struct endpoint {
    uint8_t addr;
    struct urg_endpoint info;  /* from ep_info */
    struct urg_urb *head, *tail;
    bool delivering;
    int stream;                /* ST_* of interrupt / iso / buffered bulk */
    uint64_t start_id;         /* the pending start request */
    int error;                 /* URB status waiting to be reported */
    bool buffered, ftdi;       /* buffered bulk receiving */
    bool prefill;              /* iso IN: filling before delivering */
    uint8_t iso_pkts, iso_urbs;
    int iso_error;             /* iso OUT: last error (URB status) */
    double iso_clock;          /* iso: when the frames given out end
                                  (urg_hcd_iso_frames(); 0: none given) */
    struct pktq q;
    struct urg_hcd_ep_stats st;
};

/* ---- the device ---- */

enum { D_NO_SESSION, D_WAIT_DEVICE, D_ATTACHED, D_DETACHING };

struct urg_pcap;

struct urg_hcd_dev {
    struct urg_hcd_config cfg;   /* strings below are our copies */
    struct urg_session_config session; /* cfg.session points here */
    char *filter, *version, *pcap_path;
    char *filter_token_sep, *filter_rule_sep;
    struct urg_allocator alloc;
    urg_session *s;
    int state;
    bool held;                   /* a device waits for the detach to finish */
    bool rejected;               /* the device on the session was refused */
    bool refused_said;           /* a refusal for speed was logged on this
                                    connection */
    struct urg_hcd_device info;
    struct endpoint ep[32];
    struct urg_pcap *pcap;
    uint64_t next_pcap_id;
    /* Where completed URBs go instead of the VMM's urb_complete: a
     * urg_hcd_queue's (queue.c sets and clears it), or NULL. */
    void (*queue_give_back)(void *queue, struct urg_urb *u);
    void *queue;
};

static inline struct endpoint *endpoint_of(urg_hcd_dev *d, uint8_t ep)
{
    return &d->ep[urg_ep_index(ep)];
}
/* Is type a stream's start request? (The stream a start belongs to is
 * named by the start itself.) */
static inline bool is_stream_start(uint32_t type)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = type;
    return urg_packet_stream(&p) == type;
}
static inline bool has_cap(const urg_hcd_dev *d, int cap)
{
    return d->s && ((urg_session_caps(d->s) >> cap) & 1u);
}

HCD_HIDDEN void hcd_log(urg_hcd_dev *d, int level, const char *fmt, ...) HCD_PRINTF(3, 4);

/* A completed URB leaves the model: to the device's queue if it has one,
 * else to the VMM's urb_complete. */
static inline void urb_give_back(urg_hcd_dev *d, struct urg_urb *u)
{
    if (d->queue_give_back)
        d->queue_give_back(d->queue, u);
    else
        d->cfg.callbacks.urb_complete(d->cfg.user_data, d, u);
}

/* urb.c */
HCD_HIDDEN int urb_status_from_wire(int wire);
/* Sets the result of a queued URB; delivers it (and those behind it) in
 * order. */
HCD_HIDDEN void urb_done(urg_hcd_dev *d, struct urg_urb *u, int status, uint32_t actual);
/* Completes every URB queued on e with status (forgetting engine ones). */
HCD_HIDDEN void urb_flush(urg_hcd_dev *d, struct endpoint *e, int status);
/* The engine finished request r made for a URB (a standard request too). */
HCD_HIDDEN void urb_engine_done(urg_hcd_dev *d, struct hcd_request *r,
                                const struct urg_completion *c);
/* Serves the URBs waiting on a stream endpoint from its queue (or with the
 * error the host left). */
HCD_HIDDEN void urb_serve(urg_hcd_dev *d, struct endpoint *e);
/* Copies IN data into the URB's data unless the engine wrote it there. */
HCD_HIDDEN void urb_take_data(struct urg_urb *u, const uint8_t *data, uint32_t len);

/* urb_data.c: a URB's data, a buffer or segments. Offsets and lengths are
 * within u->length (the caller's to ensure). */
/* 0 if the URB's data can carry its length, else URG_ERR_INVALID. */
HCD_HIDDEN int urb_data_check(const struct urg_urb *u);
/* Copies n bytes from src to the data at off, and back. */
HCD_HIDDEN void urb_data_write(struct urg_urb *u, uint32_t off, const void *src, uint32_t n);
HCD_HIDDEN void urb_data_read(const struct urg_urb *u, uint32_t off, void *dst, uint32_t n);
/* The n (> 0) bytes at off in one piece, or NULL when they cross segments. */
HCD_HIDDEN uint8_t *urb_data_span(struct urg_urb *u, uint32_t off, uint32_t n);

/* ---- what a transfer type's file decides for a URB ---- */

/* control.c, bulk.c, interrupt.c and iso.c look at a URB and return one of
 * these; urb.c, which alone moves URBs, applies it. */
struct urb_verdict {
    uint8_t served;    /* SERVED_BY_ENGINE, SERVED_AS_STANDARD: sent (id, standard);
                          SERVED_FROM_QUEUE: waits for stream data;
                          SERVED_LOCALLY: done now (status, actual) */
    uint8_t standard;  /* STD_*: the standard request a control URB is */
    bool end_waiting;  /* first end the URBs waiting for stream data (cancelled) */
    uint64_t id;       /* the engine request that serves it */
    int status;        /* done now: URG_URB_* */
    uint32_t actual;   /* done now: bytes moved */
};

static inline int verdict_done(struct urb_verdict *v, int status, uint32_t actual)
{
    v->served = SERVED_LOCALLY;
    v->status = status;
    v->actual = actual;
    return 0;
}
/* r: what the engine call that sent the request returned. */
static inline int verdict_sent(struct urb_verdict *v, int r, uint64_t id, int served, int standard)
{
    if (r < 0)
        return r;
    v->served = (uint8_t)served;
    v->standard = (uint8_t)standard;
    v->id = id;
    return 0;
}
static inline int verdict_wait(struct urb_verdict *v)
{
    v->served = SERVED_FROM_QUEUE;
    return 0;
}

/* Each returns 0 with *v set, or a negative error (the URB is refused). */
HCD_HIDDEN int control_submit(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u,
                              struct urb_verdict *v);
/* The result of a standard request's URB from the engine's completion:
 * its status and bytes, the device's state updated; *changed is the
 * interface whose alternate setting changed, -1 for a new configuration,
 * or NO_CHANGE. */
#define NO_CHANGE (-2)
HCD_HIDDEN void control_standard_result(urg_hcd_dev *d, struct urg_urb *u,
                                        const struct urg_completion *c, int *status,
                                        uint32_t *actual, int *changed);
/* The result of a control URB passed to the device that the model also
 * acts on (its standard: STD_CLEAR_HALT, STD_GET_DESCRIPTOR), with the
 * engine's status and the reply's length in the URB's buffer: the
 * endpoint reset after a CLEAR_FEATURE(HALT), a descriptor's fix-ups.
 * Returns the URB's length. */
HCD_HIDDEN uint32_t control_passed_result(urg_hcd_dev *d, struct urg_urb *u, int status,
                                          uint32_t actual);

/* speed.c */
/* The speed to show dev at on a port of port_speeds: its own if the port
 * has it, else the fastest slower one that can carry it (*mask: all that
 * can). 0, or URG_ERR_HCD_INTERVAL (an iso or interrupt endpoint with
 * bInterval 0) or URG_ERR_HCD_SPEED, with why in msg. */
HCD_HIDDEN int speed_choose(const struct urg_device *dev, uint32_t caps, uint32_t port_speeds,
                            int *speed, uint32_t *mask, char *msg, size_t cap);

/* stream.c */
/* Starts e's stream (interrupt receiving, buffered bulk, iso) if none runs. */
HCD_HIDDEN int stream_ensure(urg_hcd_dev *d, struct endpoint *e);
/* Before a URB waits for stream data: the URB status of an error the host
 * left for the next URB (> 0, taken), else 0 with the stream running or
 * starting, or a negative error. */
HCD_HIDDEN int stream_prepare(urg_hcd_dev *d, struct endpoint *e);
/* e's stream is gone without a stop (the host dropped it, or the device
 * went): a start not yet answered is forgotten, the queue dropped. */
HCD_HIDDEN void stream_forget(urg_hcd_dev *d, struct endpoint *e);
/* Stops e's stream (a stop request if it runs) and drops its queue. */
HCD_HIDDEN void stream_stop(urg_hcd_dev *d, struct endpoint *e);
/* Packets of a stream arrived; a stream's start was answered; the host
 * stopped a stream. Each returns true when URBs waiting on the endpoint
 * may be served now (urb_serve()). */
HCD_HIDDEN bool stream_data(urg_hcd_dev *d, const struct urg_stream_data *sd);
HCD_HIDDEN bool stream_started(urg_hcd_dev *d, const struct urg_completion *c);
HCD_HIDDEN bool stream_status(urg_hcd_dev *d, const struct urg_stream_status *st);
/* Fill a URB from the endpoint's queue (interrupt IN; buffered bulk IN);
 * true when it is complete, with its URB status in *status. */
HCD_HIDDEN bool stream_fill_interrupt(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u,
                                      int *status);
HCD_HIDDEN bool stream_fill_bulk(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u,
                                 int *status);

/* interrupt.c */
HCD_HIDDEN int interrupt_submit(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u,
                                struct urb_verdict *v);
/* The host answered an interrupt OUT already completed from a copy of its
 * data (interrupt_out_immediate): the copy goes. */
HCD_HIDDEN void interrupt_out_copy_done(urg_hcd_dev *d, const struct urg_completion *c);

/* bulk.c */
HCD_HIDDEN int bulk_submit(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u,
                           struct urb_verdict *v);
HCD_HIDDEN void bulk_streams_done(urg_hcd_dev *d, const struct urg_completion *c);

/* serial.c: serial adapters. The first bulk IN endpoint of each interface
 * that is a serial port gets buffered bulk receiving (FTDI: e->ftdi). */
/* Decides for the interfaces whose first bulk IN endpoint is in fresh (a
 * mask of urg_ep_index() bits: endpoints new since the last decision);
 * the others keep what they have. */
HCD_HIDDEN void serial_apply(urg_hcd_dev *d, uint32_t fresh);

/* serial_ids.c (generated by tools/serial-ids.sh): Linux's id tables of
 * ftdi_sio, cp210x, pl2303 and ch341, sorted by vendor and product, the
 * entries of one device in their driver's order. An entry makes every
 * interface of vendor:product a serial port, or the one its interface
 * field names (SID_IFNUM: that interface number; SID_IFCLASS: the one
 * whose class, subclass and protocol are serial_id_classes[interface]);
 * the first entry that matches an interface decides (as Linux's
 * usb_match_id()), and SID_NOT_PORTS(n) then leaves out interfaces below
 * n (ftdi_sio's JTAG quirks). */
struct serial_id {
    uint16_t vendor, product;
    uint8_t interface;
    uint8_t flags; /* SID_* */
};
#define SID_FTDI_SIO 1u /* the driver (SID_DRIVER bits) */
#define SID_CP210X 2u
#define SID_PL2303 3u
#define SID_CH341 4u
#define SID_DRIVER 0x07u
#define SID_IFNUM 0x08u
#define SID_IFCLASS 0x10u
#define SID_NOT_PORTS(n) ((unsigned)(n) << 5) /* n <= 3 */
#define SID_NOT_PORTS_OF(flags) ((unsigned)(flags) >> 5)
HCD_HIDDEN extern const struct serial_id serial_ids[];
HCD_HIDDEN extern const size_t serial_id_count;
HCD_HIDDEN extern const uint8_t serial_id_classes[][3];
HCD_HIDDEN extern const size_t serial_id_class_count;

/* iso.c */
HCD_HIDDEN int iso_submit(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u,
                          struct urb_verdict *v);

/* pcap.c */
/* Creates the capture file: 0 and *out, URG_ERR_NOMEM or URG_ERR_IO (the
 * file cannot be created or written). */
HCD_HIDDEN int usbmon_open(const char *path, uint16_t bus, const struct urg_allocator *a,
                           struct urg_pcap **out);
HCD_HIDDEN void usbmon_close(struct urg_pcap *p);
/* A record of URB u ('S' submitted, 'C' completed) of device d on
 * endpoint e (ep0 for control). */
HCD_HIDDEN void usbmon_urb(struct urg_pcap *p, char event, const urg_hcd_dev *d,
                           const struct endpoint *e, struct urg_urb *u);

#endif

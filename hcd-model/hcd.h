/*
 * hcd.h - the host-controller model's state, shared by the files of
 * hcd-model/. Not installed.
 *
 *   device.c    device lifecycle: sessions, attach/detach, engine events
 *   urb.c       URBs: allocation, per-endpoint order, submit, cancel, stop
 *   control.c   standard requests on endpoint 0
 *   stream.c    streams (interrupt, buffered bulk, iso): start, stop,
 *               packets into the queue, URBs served from it
 *   interrupt.c interrupt IN URBs from the queue; interrupt OUT
 *   bulk.c      bulk, buffered bulk receiving (serial adapters), streams
 *   iso.c       iso streams: sizing, IN pre-fill and underruns, OUT
 *   pktq.c      the bounded packet queue of stream endpoints
 *   speed.c     which port speeds can carry a device
 *   pcap.c      usbmon capture of URB traffic
 */
#ifndef URG_HCD_INTERNAL_H
#define URG_HCD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "urg_hcd.h"

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

enum { U_IDLE, U_QUEUED, U_DONE };        /* URB states */
enum { K_ENGINE, K_WAIT, K_STD, K_LOCAL }; /* how a queued URB is served */
enum { STD_NONE, STD_SET_CONFIG, STD_GET_CONFIG, STD_SET_ALT, STD_GET_ALT, STD_CLEAR_HALT };

struct urb_priv {
    urg_hcd_dev *dev;
    struct urg_urb *prev, *next; /* the endpoint's FIFO */
    uint64_t id;                 /* engine request id, 0 if none */
    uint64_t pcap_id;
    uint8_t state, kind, std;
};

struct urb_box {
    struct urb_priv priv;
    struct urg_urb pub;
};

static inline struct urb_priv *PRIV(struct urg_urb *u)
{
    return &((struct urb_box *)(void *)((char *)u - offsetof(struct urb_box, pub)))->priv;
}

/* ---- endpoints ---- */

enum { ST_NONE, ST_STARTING, ST_ACTIVE }; /* stream states */

struct hep {
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
    struct pktq q;
    struct urg_hcd_ep_stats st;
};

/* ---- the device ---- */

enum { D_NO_SESSION, D_WAIT_DEVICE, D_ATTACHED, D_DETACHING };

struct urg_pcap;

struct urg_hcd_dev {
    struct urg_hcd_config cfg;   /* strings below are our copies */
    char *filter, *version, *pcap_path;
    struct urg_allocator alloc;
    urg_session *s;
    int state;
    bool held;                   /* a device waits for the detach to finish */
    bool rejected;               /* the device on the session was refused */
    bool refused_said;           /* a refusal for speed was logged on this
                                    connection */
    struct urg_hcd_device info;
    struct hep ep[32];
    struct urg_pcap *pcap;
    uint64_t next_pcap_id;
};

static inline struct hep *hep_of(urg_hcd_dev *d, uint8_t ep)
{
    return &d->ep[urg_ep_index(ep)];
}
static inline bool has_cap(const urg_hcd_dev *d, int cap)
{
    return d->s && ((urg_session_caps(d->s) >> cap) & 1u);
}

HCD_HIDDEN void hcd_log(urg_hcd_dev *d, int level, const char *fmt, ...) HCD_PRINTF(3, 4);

/* urb.c */
HCD_HIDDEN int urb_status_from_wire(int wire);
/* Appends a URB to its endpoint's FIFO as queued. */
HCD_HIDDEN void urb_link(struct hep *e, struct urg_urb *u, int kind);
/* Sets the result of a queued URB; delivers it (and those behind it) in
 * order. */
HCD_HIDDEN void urb_done(urg_hcd_dev *d, struct urg_urb *u, int status, uint32_t actual);
/* Result of a URB being submitted: completes it now (returns 1) when no
 * earlier URB is queued on the endpoint, else queues it as done (0). */
HCD_HIDDEN int urb_complete_now(urg_hcd_dev *d, struct hep *e, struct urg_urb *u, int status,
                                uint32_t actual);
/* Completes every URB queued on e with status (forgetting engine ones). */
HCD_HIDDEN void urb_flush(urg_hcd_dev *d, struct hep *e, int status);
/* The engine finished a request made for a URB. */
HCD_HIDDEN void urb_engine_done(urg_hcd_dev *d, const struct urg_completion *c);
/* Copies IN data into the URB's buffer unless the engine wrote it there. */
HCD_HIDDEN void urb_take_data(struct urg_urb *u, const uint8_t *data, uint32_t len);

/* control.c */
HCD_HIDDEN int control_submit(urg_hcd_dev *d, struct hep *e, struct urg_urb *u);
HCD_HIDDEN void control_std_done(urg_hcd_dev *d, struct urg_urb *u,
                                 const struct urg_completion *c);

/* stream.c */
/* Starts e's stream (interrupt receiving, buffered bulk, iso) if none runs. */
HCD_HIDDEN int stream_ensure(urg_hcd_dev *d, struct hep *e);
/* Before a stream URB waits: reports an error the host left (returns 1,
 * the URB completed), else makes sure the stream runs (0, or an error). */
HCD_HIDDEN int stream_prepare(urg_hcd_dev *d, struct hep *e, struct urg_urb *u);
/* Serves waiting URBs of a stream endpoint from its queue. */
HCD_HIDDEN void stream_serve(urg_hcd_dev *d, struct hep *e);
/* Stops e's stream (a stop request if it runs) and drops its queue. */
HCD_HIDDEN void stream_stop(urg_hcd_dev *d, struct hep *e);
/* Packets of a stream arrived. */
HCD_HIDDEN void stream_data(urg_hcd_dev *d, const struct urg_stream_data *sd);
/* A stream's start answered, or the host stopped it. */
HCD_HIDDEN void stream_started(urg_hcd_dev *d, const struct urg_completion *c);
HCD_HIDDEN void stream_status(urg_hcd_dev *d, const struct urg_stream_status *st);

/* interrupt.c */
HCD_HIDDEN int interrupt_submit(urg_hcd_dev *d, struct hep *e, struct urg_urb *u);
/* Fills a waiting interrupt IN URB from the queue; true if it is done. */
HCD_HIDDEN bool interrupt_fill(urg_hcd_dev *d, struct hep *e, struct urg_urb *u, int *status);
HCD_HIDDEN void interrupt_out_bounce_done(urg_hcd_dev *d, const struct urg_completion *c);
/* Is this engine user_data an immediate interrupt OUT's copy? */
HCD_HIDDEN bool interrupt_is_bounce(const void *user_data);

/* bulk.c */
HCD_HIDDEN int bulk_submit(urg_hcd_dev *d, struct hep *e, struct urg_urb *u);
HCD_HIDDEN void bulk_apply_serial_quirks(urg_hcd_dev *d);
/* Fills a waiting buffered-bulk URB from the queue; true if it is done. */
HCD_HIDDEN bool bulk_fill(urg_hcd_dev *d, struct hep *e, struct urg_urb *u, int *status);
HCD_HIDDEN void bulk_streams_done(urg_hcd_dev *d, const struct urg_completion *c);

/* iso.c */
HCD_HIDDEN int iso_submit(urg_hcd_dev *d, struct hep *e, struct urg_urb *u);

/* pcap.c */
HCD_HIDDEN struct urg_pcap *usbmon_open(const char *path, uint16_t bus,
                                      const struct urg_allocator *a);
HCD_HIDDEN void usbmon_close(struct urg_pcap *p);
HCD_HIDDEN void usbmon_urb(struct urg_pcap *p, char event, uint8_t devnum, const struct urg_urb *u,
                         uint64_t id);

#endif

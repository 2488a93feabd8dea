/*
 * evtest.h - test support for the transport layer: running a libev loop
 * until a condition holds (a watchdog fails the test if it never does -
 * a bound on a hang, never a wait used to synchronise), and a device of the
 * host-controller model behind a transport, recording what happens.
 */
#ifndef URG_EVTEST_H
#define URG_EVTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "urg_capture.h"
#include "urg_hcd_transport.h"

struct ev_loop;

/* Runs loop until cond(ctx) is true; returns false if seconds passed first. */
bool run_until(struct ev_loop *loop, bool (*cond)(void *ctx), void *ctx, double seconds);

struct tdev {
    struct ev_loop *loop;
    urg_hcd_dev *dev;
    urg_transport *t;
    int attached, detached;
    int events[8];             /* count per urg_transport_event */
    int last_err;
    double retry_delays[16];   /* stats.retry_delay at each URG_TEV_RETRY */
    int nretry;
    uint32_t scsi_tag;         /* the last CBW tag tdev_scsi() used */
    int completions;
    int last_status;
    uint32_t last_actual;
    struct urg_urb *free_transport_on; /* urg_transport_free() from its completion */
    void (*on_complete)(struct tdev *d, struct urg_urb *u); /* also called, if set */
    int streams_done;          /* streams_done callbacks, and the last one's */
    int streams_status;        /* status and no_streams */
    uint32_t streams_no;
    int endpoints_changed;     /* endpoints_changed callbacks */
};

/* A model device with default options and a transport to address (listen
 * or connect), reconnecting with a 10 ms initial backoff when asked. */
void tdev_init(struct tdev *d, struct ev_loop *loop, const char *address, int listen,
               int reconnect, const char *capture);
/* As tdev_init (connecting, no capture), the model's options from model
 * (made by urg_hcd_config_init(); its callbacks and user_data are
 * tdev's). */
void tdev_init_model(struct tdev *d, struct ev_loop *loop, const char *address, int reconnect,
                     const struct urg_hcd_config *model);
/* Connects to address, reconnecting, giving up after max_retries. */
void tdev_init_retries(struct tdev *d, struct ev_loop *loop, const char *address,
                       int max_retries);
/* Connects to address with these output_high and stall_timeout. */
void tdev_init_bounds(struct tdev *d, struct ev_loop *loop, const char *address,
                      size_t output_high, double stall_timeout);
void tdev_free(struct tdev *d);
/* One transfer through the model, run to completion (10 s watchdog):
 * type URG_EP_*, setup for control (else NULL); returns the URB's status
 * and sets *actual. */
int tdev_xfer(struct tdev *d, int type, uint8_t ep, const uint8_t *setup, void *buf,
              uint32_t len, uint32_t *actual);
/* Bulk-Only Transport: a SCSI command (cdb, 6..16 bytes) with a data stage
 * of len bytes (IN when in, else OUT) on bulk 0x81 / 0x02; returns the CSW
 * status (0 passed, 1 failed) or -1 on a transfer error. */
int tdev_scsi(struct tdev *d, const uint8_t *cdb, int cdb_len, void *buf, uint32_t len, int in);
/* The same with the data stage's URB given as segments (struct urg_urb's
 * iov). */
int tdev_scsi_iov(struct tdev *d, const uint8_t *cdb, int cdb_len, const struct iovec *iov,
                  int iovcnt, uint32_t len, int in);
/* A Bulk-Only command block wrapper (31 bytes) for cdb, tag, a data stage
 * of len bytes (IN when in). */
void bot_cbw(uint8_t cbw[31], uint32_t tag, const uint8_t *cdb, int cdb_len, uint32_t len,
             int in);
bool tdev_attached(void *d);        /* conditions for run_until */
bool tdev_detached(void *d);
bool tdev_closed(void *d);

/* A replay (or a device:FILE) and a guest (tdev) on one loop, as the
 * replay tests run them; done() records its outcome. */
struct replay_session {
    struct ev_loop *loop;
    urg_replay *r;
    struct tdev d;
    int done, status;
    char report[1024];
};
/* urg_replay_config.done for a replay_session (user_data: it). */
void replay_run_done(void *ud, urg_replay *r, int status, const char *report);
/* run_until() conditions (p: the replay_session): done() came; the guest detached. */
bool replay_run_finished(void *p);
bool replay_run_detached(void *p);
/* Frees the guest, the replay and the loop. */
void replay_run_end(struct replay_session *x);

#endif

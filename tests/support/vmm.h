/*
 * vmm.h - test support: a fake VMM over the host-controller model and the
 * scripted test host. It records attach / detach / rejections and every
 * URB completion (a snapshot of its result, in order).
 */
#ifndef URG_TEST_VMM_H
#define URG_TEST_VMM_H

#include "testhost.h"
#include "urg_hcd.h"

struct vmm_done {
    struct urg_urb *urb;
    int status;
    uint32_t actual;
};

struct vmm {
    urg_hcd_dev *dev;
    urg_session *s;
    struct testhost h;
    int attached, detached, rejected, changed, streams_done;
    int last_reject, streams_status;
    int manual_detach_done;   /* 1: the test calls urg_hcd_detach_done() */
    struct urg_hcd_device info;
    struct vmm_done *done;
    int ndone, cap;
    char events[4096];        /* "attach,detach,complete,..." in order */
    struct urg_urb *resubmit; /* submitted again from its own completion */
    int resubmits;
    struct urg_urb *cancel_when, *cancel_what; /* cancel_what is cancelled
                                 from cancel_when's completion */
    int cancel_result;        /* what that cancel returned */
    int logs[4];              /* log lines (model and engine) per level */
    char last_warning[256];   /* the last warning line */
    void (*on_complete)(struct vmm *v, struct urg_urb *u); /* called last
                                 from each completion, if set */
    void *test;               /* the test's, for on_complete */
};

/* A model with cfg (NULL: defaults) and a connection to a host with
 * host_caps; the hellos are exchanged. */
void vmm_init(struct vmm *v, const struct urg_hcd_config *cfg, uint32_t host_caps);
void vmm_free(struct vmm *v);
/* Host bytes to the session (chunk 0: at once), then the guest's output to
 * the host. Returns the first recv error. */
int vmm_sync(struct vmm *v, size_t chunk);
/* Completions of that URB so far. */
int vmm_count(const struct vmm *v, const struct urg_urb *u);
/* The last completion of that URB (asserts there is one). */
const struct vmm_done *vmm_last(const struct vmm *v, const struct urg_urb *u);
/* Submits control URB u (it must be sent), answers its control request
 * as the host with status and reply (len bytes), delivers the answer:
 * u's completion. The host's record of packets is cleared first. */
const struct vmm_done *vmm_control_reply(struct vmm *v, struct urg_urb *u, uint8_t status,
                                         const void *reply, uint32_t len);
/* A URB of a type on an endpoint with a fresh buffer of len bytes. */
struct urg_urb *vmm_urb(uint8_t type, uint8_t ep, uint32_t len, int iso_packets);
void vmm_urb_free(struct urg_urb *u);

/* A high-speed device with: interrupt IN 0x81 (mps 8, bInterval 4),
 * interrupt OUT 0x02, bulk IN 0x83 / OUT 0x04 (mps 512) on interface 1,
 * iso IN 0x85 (mps 192, bInterval 1) and iso OUT 0x06 on interface 2. */
void vmm_plug_default(struct vmm *v);

#endif

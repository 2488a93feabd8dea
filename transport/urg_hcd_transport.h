/*
 * urg_hcd_transport.h - a transport (urg_transport.h) whose peer is a
 * host-controller model device (urg_hcd.h): the adapter between the two.
 *
 * Library: libusbredirguest-transport (transport/hcd_peer.c). Apart from
 * both headers it joins, so that neither urg_transport.h nor urg_hcd.h
 * includes the other.
 */
#ifndef URG_HCD_TRANSPORT_H
#define URG_HCD_TRANSPORT_H

#include "urg_hcd.h"
#include "urg_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A peer that is a host-controller model device: open() is
 *  urg_hcd_dev_connect(), close() is urg_hcd_dev_disconnect(). Put it in
 *  urg_transport_config.peer; dev must outlive the transport. (With dev
 *  NULL, open() fails with URG_ERR_INVALID.) */
URG_API struct urg_transport_peer urg_transport_peer_hcd(urg_hcd_dev *dev);

typedef struct urg_hcd_queue_runner urg_hcd_queue_runner;
/**
 * A device's command queue (urg_hcd_queue, urg_hcd.h) run on a libev loop:
 * its wake is an ev_async watcher on loop (ev_async_send(), from the
 * submitting thread), whose callback runs urg_hcd_queue_run() on the loop's
 * thread; what the commands queue for the host goes out before the loop
 * waits again, as anything queued from outside a transport's callbacks
 * (urg_transport.h). docs/vmm-guide.md, "Threads".
 *
 * urg_hcd_queue_runner_new() makes the queue from cfg, whose wake is the
 * runner's (cfg->wake is ignored; completed and user_data are kept), and
 * starts the watcher: call it on the loop's thread, or before the loop
 * runs. The watcher keeps the loop alive (ev_run() returns only once the
 * runner is freed), as any source of events does. loop NULL: EV_DEFAULT.
 * Returns 0 and *out, or what urg_hcd_queue_new() returns:
 * - URG_ERR_INVALID: dev, cfg or out NULL, cfg not made by
 *   urg_hcd_queue_config_init(), or a bad completion;
 * - URG_ERR_STATE: dev has a queue already;
 * - URG_ERR_NOMEM: the allocator (libc's) failed.
 */
URG_API int urg_hcd_queue_runner_new(struct ev_loop *loop, urg_hcd_dev *dev,
                                     const struct urg_hcd_queue_config *cfg,
                                     urg_hcd_queue_runner **out);
/** The runner's queue: submit, cancel and reap through it from any thread.
 *  NULL for r NULL. */
URG_API urg_hcd_queue *urg_hcd_queue_runner_queue(const urg_hcd_queue_runner *r);
/** Frees the queue (urg_hcd_queue_free(): every URB submitted through it
 *  completes first) and stops the watcher; on the loop's thread, once no
 *  other thread uses the queue, before the device is freed. A NULL r is
 *  ignored. */
URG_API void urg_hcd_queue_runner_free(urg_hcd_queue_runner *r);

#ifdef __cplusplus
}
#endif
#endif /* URG_HCD_TRANSPORT_H */

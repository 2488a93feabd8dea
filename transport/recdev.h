/*
 * recdev.h - the device behind device:FILE (internal to the transport):
 * a usb-host model built from a recording, answering a live guest by
 * meaning rather than packet for packet (docs/transport.md, "A device
 * from a recording"). replay.c does the I/O; this file decides what the
 * device says.
 */
#ifndef URG_RECDEV_H
#define URG_RECDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "urg_capture.h"
#include "urg_codec.h"
#include "urgi_common.h"

struct recdev;

/* Where the device's packets go (replay.c's output): 0, or an error that
 * ends the session. */
typedef int (*recdev_send_fn)(void *ctx, const struct urg_packet *p);

/* Builds the device from a capture (path, or data/len): 0 and *out, or
 * URG_ERR_CAPTURE (no host hello, no device_connect: err says which),
 * what urg_capture_decode() returns for a damaged capture, or
 * URG_ERR_NOMEM. */
int recdev_new(const struct urg_allocator *a, const char *path, const void *data, size_t len,
               const struct urg_replay_config *cfg, struct recdev **out, char *err,
               size_t errcap);
void recdev_free(struct recdev *d);
/* The recorded host's caps (its hello's first word). */
uint32_t recdev_host_caps(const struct recdev *d);
/* The most bytes the device queues at once before the guest reads. */
size_t recdev_output_hint(const struct recdev *d);

/* Serving: start() sends the hello; guest() answers one guest packet (the
 * guest's hello with the device: interface_info, ep_info,
 * device_connect); tick() sends the
 * stream packets due by now (seconds on the caller's clock), at most
 * budget bytes of them, and returns the seconds until the next one is due
 * (0: now, more than budget allowed), or -1 when none is. Each returns the
 * send function's error, if any. */
int recdev_start(struct recdev *d, recdev_send_fn send, void *ctx, double now);
int recdev_guest(struct recdev *d, const struct urg_packet *p, double now);
int recdev_tick(struct recdev *d, double now, size_t budget, double *next);
/* Every recorded IN packet has been delivered and the guest asked for
 * more: the recording is over (device:FILE then unplugs, if the config
 * says close_when_done). */
bool recdev_over(const struct recdev *d);
void recdev_coverage(const struct recdev *d, struct urg_replay_coverage *c);
/* The coverage as one line of text (snprintf semantics). */
int recdev_report(const struct recdev *d, char *buf, size_t cap);

#endif

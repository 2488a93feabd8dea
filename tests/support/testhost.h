/*
 * testhost.h - test support: a scripted usb-host speaking the host side
 * with the engine's own codec (urg_decoder in URG_ROLE_HOST; what it
 * scripts queued through urg_host_output, as the other hosts do), and a
 * recorder that logs every session callback as one text line.
 */
#ifndef URG_TESTHOST_H
#define URG_TESTHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "urg_codec.h"

/* A packet the guest sent, as the host decoded it (data copied). */
struct th_packet {
    struct urg_packet p;
    uint8_t *data;
};

struct testhost {
    uint32_t caps;          /* caps the host advertises */
    urg_decoder *dec;       /* host-role decoder of the guest's output */
    struct th_packet *pkts; /* every packet the guest sent, in order */
    size_t npkts, cap;
    struct urg_host_output out; /* bytes scripted for the guest: th_out() */
    int dec_err;            /* last error the host decoder reported */
    uint64_t stream_seq;    /* id of the next th_stream_data() packet */
};

void th_init(struct testhost *h, uint32_t host_caps);
void th_free(struct testhost *h);
/* The host's layout: negotiated once the guest's hello was pumped. */
struct urg_wire th_wire(const struct testhost *h);
/* Pulls everything the session queued (through its iovecs), consumes it and
 * decodes it as the host; returns the number of packets added. */
size_t th_pump(struct testhost *h, urg_session *s);
/* Appends an encoded packet for the guest (asserts it encodes). */
void th_emit(struct testhost *h, const struct urg_packet *p);
/* Appends p encoded by its row's codec with no rule checked (a field
 * value the encoder refuses: an ep_info type above 3, a control packet
 * whose endpoint and requesttype disagree), with p->data_len bytes of
 * p->data, under the host's layout (after the guest's hello was pumped). */
void th_emit_unchecked(struct testhost *h, const struct urg_packet *p);
/* Appends raw bytes for the guest. */
void th_raw(struct testhost *h, const void *bytes, size_t n);
/* The bytes scripted for the guest and not flushed yet, and how many;
 * th_drop() forgets them (a test that fed them itself). */
const uint8_t *th_out(const struct testhost *h);
size_t th_out_len(const struct testhost *h);
void th_drop(struct testhost *h);
/* The host's hello with the given caps and version "testhost 1.0". */
void th_hello(struct testhost *h);
/* interface_info, ep_info and device_connect of a device with an interrupt
 * IN endpoint 0x81, bulk endpoints 0x02 and 0x82, an iso IN endpoint 0x83
 * and an interrupt OUT endpoint 0x04; speed high, 1234:5678, class 0. */
void th_device(struct testhost *h);
/* An endpoint of a scripted device. */
struct th_ep {
    uint8_t addr, type, interval, interface;
    uint16_t mps;
    uint32_t max_streams;
};
/* A scripted device (endpoint types as given, even above 3): interface_info (one interface per class given),
 * ep_info (control endpoint 0 plus eps), device_connect. */
void th_device_ex(struct testhost *h, uint8_t speed, uint16_t vid, uint16_t pid,
                  uint8_t device_class, const uint8_t *if_classes, int n_if,
                  const struct th_ep *eps, int n_eps);
/* An interface of a scripted device. */
struct th_if {
    uint8_t number, cls, subclass, protocol;
};
/* The same with the interfaces' numbers, classes, subclasses and
 * protocols as given. */
void th_device_ifs(struct testhost *h, uint8_t speed, uint16_t vid, uint16_t pid,
                   uint8_t device_class, const struct th_if *ifs, int n_if,
                   const struct th_ep *eps, int n_eps);
/* interface_info and ep_info of a device already connected (a new
 * configuration or alternate setting, as the host announces it). */
void th_device_info(struct testhost *h, const struct th_if *ifs, int n_if, const struct th_ep *eps,
                    int n_eps);
/* A stream's status - interrupt_receiving_status, iso_stream_status or
 * bulk_receiving_status (type) - with request id id, for endpoint ep. */
void th_stream_status(struct testhost *h, uint32_t type, uint64_t id, uint8_t ep, uint8_t status);
/* Stream data - an interrupt, iso or buffered bulk packet (type) - of len
 * bytes on endpoint ep; ids count 0, 1, 2, ... per host. */
void th_stream_data(struct testhost *h, uint32_t type, uint8_t ep, const void *bytes, uint32_t len,
                    uint8_t status);
/* Number of packets of that type the guest sent since the last clear. */
int th_count(const struct testhost *h, uint32_t type);
/* Forgets the packets recorded so far. */
void th_clear(struct testhost *h);
/* Feeds the scripted bytes to the session in chunks of chunk bytes (0: all
 * at once), then forgets them. Returns the first nonzero recv result. */
int th_flush(struct testhost *h, urg_session *s, size_t chunk);
/* The last packet the guest sent of that type, or NULL. */
const struct th_packet *th_find(const struct testhost *h, uint32_t type);
/* Replies to a guest packet. */
void th_reply_control(struct testhost *h, const struct urg_packet *req, uint8_t status,
                      const void *data, uint16_t len);
void th_reply_bulk(struct testhost *h, const struct urg_packet *req, uint8_t status,
                   const void *data, uint32_t len);

/* ---- recorder ---- */

struct rec_completion {
    struct urg_completion c;
    uint8_t *data;          /* copy of c.data */
};

struct rec {
    char *log;              /* one line per callback */
    size_t len, cap;
    struct rec_completion *done;
    size_t ndone, done_cap;
    int hello, connect, disconnect, rejected, info, stream_data, stream_status, filter, errors,
        fatal;
    int last_error;
    uint32_t stream_bytes;
    int logs[4];            /* log lines per URG_LOG_* level */
};

void rec_init(struct rec *r);
void rec_free(struct rec *r);
/* Session callbacks that record into r (pass r as user_data). */
void rec_callbacks(struct urg_session_callbacks *cb);
/* The completion with that id, or NULL. */
const struct rec_completion *rec_find(const struct rec *r, uint64_t id);
/* Number of completions with that id (exactly-once checks). */
int rec_count(const struct rec *r, uint64_t id);

/* A session with the recorder and the given caps and policy. */
urg_session *new_session(struct rec *r, uint32_t caps, int policy);
/* A session connected to a testhost device: hellos exchanged, th_device()
 * delivered; the session's hello and acks pumped to the host. */
urg_session *connected_session(struct rec *r, struct testhost *h, uint32_t guest_caps,
                               uint32_t host_caps);
/* The same for a session made from cfg (its callbacks and user_data are
 * set to the recorder's). */
urg_session *connected_session_cfg(struct rec *r, struct testhost *h,
                                   struct urg_session_config *cfg, uint32_t host_caps);
/* Connects session s to a new testhost h as connected_session() does. */
urg_session *connect_session(urg_session *s, struct testhost *h, uint32_t host_caps);

#endif

/*
 * session.h - the session's state, shared by session.c (lifecycle, bytes in
 * and out), requests.c (guest-to-host packets) and dispatch.c (host-to-guest
 * packets). Not installed.
 */
#ifndef URG_GUEST_SESSION_H
#define URG_GUEST_SESSION_H

#include "decoder.h"
#include "outq.h"
#include "pending.h"

/* Stream kinds tracked per endpoint. */

/* Where urgi_on_header sends the packet being decoded: the session's own
 * handling (hello, device state, filter), a reply to a pending request, a
 * stream's status, a stream's data. */
enum { URGI_ROUTE_OWN, URGI_ROUTE_REPLY, URGI_ROUTE_STATUS, URGI_ROUTE_STREAM_DATA };

struct urg_session {
    struct urg_allocator alloc;
    struct urg_session_callbacks cb;
    void *ud;
    uint32_t our_caps;
    char version[64];
    enum urg_error_policy policy;
    size_t max_output;
    int log_level;
    unsigned filter_flags;
    struct urg_filter_rule *filter;
    size_t filter_count;
    char *filter_str;            /* formatted, sent as filter_filter */

    urg_decoder *dec;
    struct urg_wire wire;
    struct urgi_frame_table out_frames; /* the type-header sizes under wire, to the host */
    struct urgi_ptable pt;
    struct urgi_outq oq;

    int state;                   /* enum urg_session_state */
    struct urg_device dev;
    bool have_ifinfo, have_epinfo;
    bool announced;              /* device_connect seen (allowed or not) */
    uint32_t active[URGI_STREAM_KINDS]; /* bit urg_ep_index(): started */
    uint16_t starting[URGI_STREAM_KINDS][32]; /* starts pending, per
                                                 urg_ep_index() */
    uint32_t bulk_recv_bytes[32];  /* the most a buffered_bulk_packet may
                                      hold, per urg_ep_index(): the running
                                      stream's bytes_per_transfer, or the
                                      larger of it and a pending start's */
    size_t answers_unread;         /* bytes of answers queued since the host
                                      last read (consume) */
    uint32_t reply_at;             /* the pending entry of the reply being
                                      decoded (urgi_on_header), or URGI_NIL */
    uint8_t route;                 /* where the packet being decoded goes
                                      (URGI_ROUTE_*, set by urgi_on_header) */
    unsigned warned;               /* URGI_WARN_* said once already */
    uint16_t iso_out_seq[32];
    char peer_version[64];
    uint32_t peer_caps;

    int err;
    char errmsg[256];
    struct urgi_guard guard;     /* calls running callbacks; a free asked
                                    for from one of them */

    uint64_t tx_packets[URG_TYPE_COUNT], tx_bytes[URG_TYPE_COUNT];
    uint64_t late_replies, unsolicited, completions, forgotten;
    uint64_t stream_discarded, unacked_disconnects;
};

/* How far a packet the session queues may fill the output queue. */
enum urgi_bound {
    URGI_BOUND_REQUEST, /* max_output (URG_ERR_AGAIN past it) */
    URGI_BOUND_ANSWER,  /* URGI_ANSWER_RESERVE unread (URG_ERR_PROTO_FLOOD) */
    URGI_BOUND_NONE     /* always: our hello, one cancel per pending request */
};
#define URGI_ANSWER_RESERVE (64u * 1024u)

URGI_HIDDEN void urgi_log(urg_session *s, int level, const char *fmt, ...) URGI_PRINTF(3, 4);
/* Warnings a host can cause again and again: said once per session at
 * URG_LOG_WARNING, then at URG_LOG_DEBUG (a host cannot flood the log). */
enum {
    URGI_WARN_NO_INFO = 1,
    URGI_WARN_NO_FILTER_CAP = 2,
    URGI_WARN_TOLERATED_EP_TYPE = 4,   /* URG_POLICY_TOLERATE: ep_info */
    URGI_WARN_TOLERATED_CONTROL = 8,   /* URG_POLICY_TOLERATE: control_packet */
    URGI_WARN_TOLERATED_STREAM_ID = 16, /* and a bulk reply's stream id */
    URGI_WARN_TOLERATED_INTERFACE = 32, /* and alt_setting_status's interface */
    URGI_WARN_TOLERATED_HELLO = 64,    /* and a hello's partial caps word */
    URGI_WARN_TOLERATED_FILTER = 128   /* and a filter string's inner NUL */
};
#define urgi_warn_once(s, bit, ...)                                                              \
    do {                                                                                         \
        urgi_log((s), ((s)->warned & (bit)) ? URG_LOG_DEBUG : URG_LOG_WARNING, __VA_ARGS__);     \
        (s)->warned |= (bit);                                                                    \
    } while (0)
/* Would n more bytes fit under the bound? 0, URG_ERR_AGAIN (a request;
 * an empty queue always takes one) or URG_ERR_PROTO_FLOOD (an answer). */
static inline int urgi_output_fits(const urg_session *s, size_t n, enum urgi_bound bound)
{
    switch (bound) {
    case URGI_BOUND_REQUEST:
        return s->max_output && s->oq.total && s->oq.total + n > s->max_output ? URG_ERR_AGAIN
                                                                               : 0;
    case URGI_BOUND_ANSWER:
        /* Answers the host asked for, counted from what it last read: a
         * host that reads keeps getting them, whatever else is queued. */
        return s->answers_unread + n > URGI_ANSWER_RESERVE ? URG_ERR_PROTO_FLOOD : 0;
    default:
        return 0;
    }
}
/* Queues one packet (no pending entry): header in the ring, payload copied
 * into the ring. For cancel, reset, filter packets, acks, iso OUT. */
URGI_HIDDEN int urgi_send(urg_session *s, struct urg_packet *p, enum urgi_bound bound);
/* The same with the payload's p->data_len bytes copied from the segments
 * iov, from offset bytes into them (checked by the caller; p->data only
 * needs to be non-NULL). */
URGI_HIDDEN int urgi_send_iov(urg_session *s, struct urg_packet *p, const struct iovec *iov,
                              size_t offset, enum urgi_bound bound);
/* streams.c: which streams run or start, and what their data may hold. */
/* The stream kind (URGI_STREAM_*) a stream start request type starts, or
 * -1 for any other type. */
URGI_HIDDEN int urgi_stream_start_kind(uint32_t type);
/* Request p was queued as pending entry e (a start counts as pending). */
URGI_HIDDEN void urgi_stream_request_sent(urg_session *s, const struct urg_packet *p,
                                          struct urgi_pending *e);
/* Pending entry e ends (completed or forgotten). */
URGI_HIDDEN void urgi_stream_request_gone(urg_session *s, const struct urgi_pending *e);
/* The host answered start or stop request e (stream kind kind) with status;
 * called before the request completes. */
URGI_HIDDEN void urgi_stream_answered(urg_session *s, const struct urgi_pending *e, int kind,
                                      uint8_t status);
/* The host stopped a stream on its own (an unsolicited error status). */
URGI_HIDDEN void urgi_stream_stopped(urg_session *s, int kind, uint8_t ep);
/* No stream runs or starts any more (the device is gone). */
URGI_HIDDEN void urgi_streams_clear(urg_session *s);
/* Does a stream of kind kind run or start on endpoint ep? */
static inline bool urgi_stream_on(const urg_session *s, int kind, uint8_t ep)
{
    return ((s->active[kind] >> urg_ep_index(ep)) & 1u) || s->starting[kind][urg_ep_index(ep)];
}
/* The most a stream data packet may hold: what the guest asked for. */
static inline uint32_t urgi_stream_limit(const urg_session *s, int kind, uint8_t ep)
{
    uint32_t raw, decoded, whole;
    if (kind == URGI_STREAM_BULKRECV)
        return s->bulk_recv_bytes[urg_ep_index(ep)];
    /* Interrupt and iso: at low, full and high speed the host sends
     * ep_info's max packet size either as the whole per-interval size
     * (libusbredirhost: size x multiplier, at most 3 x 1024) or raw, with
     * the high-bandwidth multiplier in bits 11-12; the larger reading
     * counts. SuperSpeed has no multiplier bits: the value is the size. */
    raw = s->dev.ep[urg_ep_index(ep)].max_packet_size;
    if (!raw)
        return UINT16_MAX; /* unknown (no ep_info_max_packet_size) */
    if (s->dev.speed == URG_SPEED_SUPER)
        return raw;
    decoded = (raw & 0x7ffu) * (((raw >> 11) & 3u) + 1u);
    whole = raw < 3u * 1024u ? raw : 3u * 1024u;
    return decoded > whole ? decoded : whole;
}
/* The header callback's verdict on stream data p: go on, skip it unread
 * (no stream of its kind runs or starts on its endpoint), or
 * URG_ERR_PROTO_STREAM_LENGTH (longer than its stream's transfers; the
 * message is in the decoder's). */
URGI_HIDDEN int urgi_stream_check_data(urg_session *s, const struct urgi_type *t,
                                       const struct urg_packet *p);
/* Ends pending entry i and hands c to the complete callback: c's status,
 * length, data and u are the caller's, its other fields the entry's. */
URGI_HIDDEN void urgi_complete_entry(urg_session *s, uint32_t i, struct urg_completion *c);
/* Completes pending entry i and calls the complete callback. */
URGI_HIDDEN void urgi_complete(urg_session *s, uint32_t i, int status, uint32_t length,
                               const uint8_t *data, const struct urg_completion *extra);
/* Completes every pending request with URG_STATUS_NODEV, in submission
 * order. */
URGI_HIDDEN void urgi_complete_all(urg_session *s);
/* Ends the session: drops output, fails the decoder, completes everything,
 * reports the device gone. */
URGI_HIDDEN void urgi_session_end(urg_session *s, int err, const char *msg);
/* urgi_session_end() from a call that is not a recv: callbacks run inside
 * the guard, so a session freed from one goes when this returns (the caller
 * must not touch s after). */
URGI_HIDDEN void urgi_session_fail(urg_session *s, int err, const char *msg);
/* Forgets the device and its streams after it went away. */
URGI_HIDDEN void urgi_device_gone(urg_session *s);

/* dispatch.c: the decoder's callbacks, and its whole-frame path
 * (decoder.h, whole). */
URGI_HIDDEN int urgi_on_whole(void *ctx, const uint8_t *buf, size_t len, size_t *used);
URGI_HIDDEN int urgi_on_header(void *ctx, const struct urg_packet *p, uint8_t **dest);
URGI_HIDDEN int urgi_on_packet(void *ctx, const struct urg_packet *p);
URGI_HIDDEN void urgi_on_error(void *ctx, int err, const char *msg, int fatal);
/* URG_POLICY_TOLERATE: p broke a tolerable rule (msg) and is carried on
 * with; said once per session and case at URG_LOG_WARNING. */
URGI_HIDDEN void urgi_on_tolerated(void *ctx, const struct urg_packet *p, const char *msg);

#endif

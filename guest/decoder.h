/*
 * decoder.h - the streaming decoder's state, shared by decoder.c and the
 * session (which embeds one decoder). Not installed.
 */
#ifndef URG_GUEST_DECODER_H
#define URG_GUEST_DECODER_H

#include "internal.h"

struct urgi_decoder_stats {
    uint64_t rx_packets[URG_TYPE_COUNT], rx_bytes[URG_TYPE_COUNT];
    uint64_t errors;         /* packets rejected */
    uint64_t skipped_bytes;  /* bytes skipped (policy skip, discards) */
    uint64_t payload_copies; /* payloads copied because they straddled */
    uint64_t whole_frames;   /* frames the decoder's whole-frame path took
                                (whole_frames(); the owner's path not counted) */
};

struct urg_decoder {
    struct urg_allocator alloc;
    enum urg_dir dir;          /* direction of what we receive */
    uint32_t our_caps, peer_caps;
    bool have_hello;
    struct urg_wire wire;
    struct urgi_frame_table ft; /* the frame rules under wire, for dir */
    /* The frame rules of ft for the decoder's whole-frame path (decoder.c),
     * per type index: a frame is taken whole when min <= its length <= max
     * (min: the type-header size); min 1, max 0 for a type it leaves to
     * the generic path. */
    struct {
        uint32_t min, max;
        const struct urgi_type *row; /* &urgi_types[index] */
    } wt[URG_TYPE_COUNT];
    uint32_t max_packet_size;
    enum urg_error_policy policy;
    struct urg_decoder_callbacks cb;
    void *ctx;
    /* The owner's own path for whole frames (the session's urgi_on_whole),
     * asked instead of the decoder's (decoder.c, whole_frames(); NULL: the
     * decoder's): called at a frame boundary with the bytes left in the
     * buffer being fed (at least a header's worth), when the first frame
     * there lies whole. It takes the whole
     * frames at their start that it can handle completely (valid, and
     * needing none of the generic path), sets *used to their bytes, and
     * returns 0, or 1 to stop feeding (as a packet callback's
     * URG_DECODE_STOP). Every other frame, and any frame that breaks a
     * rule, it leaves to the generic path (*used stops before it). */
    int (*whole)(void *ctx, const uint8_t *buf, size_t len, size_t *used);
    /* URG_POLICY_TOLERATE (the session's; the decoder itself runs under
     * policy skip): a packet that breaks only its row's lenient rules
     * (struct urgi_type) is taken, and tolerated() told with the broken
     * rule's message after the header callback, if that took it
     * (URG_DECODE_CONTINUE); the same for a filter string's inner NUL,
     * before the packet callback. Its whole-frame paths
     * never take such a packet: it is always the generic path's. */
    bool tolerate;
    void (*tolerated)(void *ctx, const struct urg_packet *p, const char *msg);

    int state;
    bool busy;                 /* inside feed/commit */
    bool copied;               /* this payload was (partly) copied */
    bool th_done;              /* pkt.h holds the decoded type header */
    int hlen, th_len;          /* header and type-header sizes */
    uint32_t hfill;            /* bytes gathered in hbuf */
    uint8_t hbuf[URGI_MAX_HEADERS];
    uint32_t type, length;     /* of the current packet */
    const struct urgi_type *row; /* its row, once its header passed */
    struct urg_packet pkt;
    uint32_t data_len, data_fill;
    uint8_t *dest;             /* where the payload goes (NULL: in iov) */
    /* A payload placed in segments (urgi_decoder_dest_iov()): iovcnt of
     * them at iov, the next byte at iov[iov_at] + iov_off (a non-empty
     * segment while data_fill < data_len). */
    const struct iovec *iov;
    uint32_t iovcnt, iov_at;
    size_t iov_off;
    const struct iovec *offer_iov; /* the header callback's offer, for the */
    uint32_t offer_iovcnt;         /* packet being decoded */
    uint64_t skip_left;
    uint8_t *own;              /* own payload buffer */
    size_t own_cap;
    int fail_err;
    char msg[256];
    struct urgi_decoder_stats stats;
};

/* The message buffer a callback fills before returning an error. */
URGI_HIDDEN char *urgi_decoder_msg(urg_decoder *d, size_t *cap);
/* From inside the header callback: the packet's payload, if it must wait
 * for more bytes, goes into the segments iov[iovcnt] (which hold at least
 * its data_len bytes and stay valid until it is finished or forgotten) in
 * place of *dest; it is then handed out with data NULL. */
URGI_HIDDEN void urgi_decoder_dest_iov(urg_decoder *d, const struct iovec *iov, uint32_t iovcnt);
/* Up to max iovecs of where the rest of the payload in progress goes (its
 * destination's rest, segment by segment); 0 when the next bytes are
 * headers (as urg_decoder_window()). */
URGI_HIDDEN int urgi_decoder_window_iov(urg_decoder *d, struct iovec *iov, int max);
/* dest (a buffer, or a segment array given to urgi_decoder_dest_iov()) is
 * being released: if the payload in progress goes there, skip the rest of
 * it instead. */
URGI_HIDDEN void urgi_decoder_forget_dest(urg_decoder *d, const void *dest);
/* Marks the stream failed (the owner failed for its own reasons). */
URGI_HIDDEN void urgi_decoder_fail(urg_decoder *d);
URGI_HIDDEN const struct urgi_decoder_stats *urgi_decoder_stats(const urg_decoder *d);

#endif

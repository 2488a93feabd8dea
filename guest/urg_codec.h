/*
 * urg_codec.h - the wire codec of usbredir-guest in either role: the
 * project's own, NOT installed.
 *
 * urg_encode(), urg_decode() and the streaming urg_decoder (as usb-guest,
 * URG_ROLE_GUEST, or as usb-host, URG_ROLE_HOST), the output queue
 * (urg_output: headers merged, payloads uncopied), the wire layout, what a
 * packet is beyond its fields (urg_packet_endpoint/stream/answers), each
 * type's row and fields (urg_type_info, urg_type_field), and a usb-host's
 * output (urg_host_output). The engine is built on them; the project's
 * tests and scripted usb-hosts, the transport library's capture decoder,
 * dump and replay, the fuzz targets, the benchmarks and the examples'
 * scripted usb-host use them. A VMM needs
 * none of it: it talks to a usb-host through urg_session (urg_guest.h) or a
 * model device (urg_hcd.h), and reads captures through urg_capture.h, whose
 * packets (struct urg_packet, enum urg_dir) are in urg_guest.h.
 *
 * The functions stay exported by libusbredirguest.so (urg_ names, like every
 * exported symbol): libusbredirguest-transport.so calls them (capture.c,
 * dump.c, replay.c). That is no promise: they are not part of the
 * installed API and may change with no notice.
 */
#ifndef URG_CODEC_H
#define URG_CODEC_H

#include "urg_guest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Wire codec (both roles)
 * ====================================================================== */

/** Which side of the protocol; also the side that receives, for decoders. */
enum urg_role { URG_ROLE_GUEST = 0, URG_ROLE_HOST = 1 };

/**
 * The layout in force on a connection: the caps both sides have (our caps
 * AND the peer's) and whether headers carry 64-bit ids. Before the peer's
 * hello has been processed the layout is {0, 0}: 12-byte headers, smallest
 * type headers. urg_wire_from_caps() makes the layout after both hellos.
 */
struct urg_wire {
    uint32_t caps;  /* negotiated: ours & peer's */
    uint8_t id64;   /* 1: 16-byte header with a 64-bit id */
};
URG_API struct urg_wire urg_wire_from_caps(uint32_t our_caps, uint32_t peer_caps);
/** Size of the usbredir header: 12 or 16 (w not NULL). Returns no error
 *  code. */
URG_API int urg_header_len(const struct urg_wire *w);
/** Size of the type-specific header of a type travelling in dir under w,
 *  or -1 if that type never travels in that direction, is unknown, or w is
 *  NULL. Returns no error code (-1 is not URG_ERR_INVALID). */
URG_API int urg_type_header_len(const struct urg_wire *w, uint32_t type, enum urg_dir dir);

/* What a packet is, beyond its fields (every type's row: guest/packet_types.c). */

/** The endpoint a packet names: data packets, stream start, stop and
 *  status packets. -1 for a type without an endpoint field, an unknown
 *  type or p NULL. Returns no error code. */
URG_API int urg_packet_endpoint(const struct urg_packet *p);
/** The fields many types share, found through the type's row; each is -1
 *  when the type has no such field. */
struct urg_packet_fields {
    int endpoint;      /* as urg_packet_endpoint() */
    int status;        /* the wire status */
    int64_t stream_id; /* bulk streams and bulk receiving */
    int64_t length;    /* the data length field of a data packet */
};
/** Fills *f (f not NULL); every field -1 for an unknown type or p NULL. */
URG_API void urg_packet_fields(const struct urg_packet *p, struct urg_packet_fields *f);
/** The stream a packet starts, stops, reports on or carries, named by the
 *  request that starts it: URG_START_INTERRUPT_RECEIVING, URG_START_ISO_STREAM
 *  or URG_START_BULK_RECEIVING (an interrupt packet belongs to the interrupt
 *  stream only for an IN endpoint). 0 for any other packet, or p NULL. */
URG_API uint32_t urg_packet_stream(const struct urg_packet *p);
/** 1 if host packet reply answers guest packet request: the same id, a
 *  type that answers the request's type (control, bulk and interrupt
 *  packets themselves; configuration_status set/get_configuration; ...),
 *  an interrupt reply for an OUT endpoint, a stream status for the
 *  endpoint of its start or stop request. Else 0 (either NULL too).
 *  Returns no error code. */
URG_API int urg_packet_answers(const struct urg_packet *reply, const struct urg_packet *request);

/* A type's row and its codec's fields, for generic walks over packets (the
 * tests' packet generator and comparator). */

/** The bit of a direction in urg_type_info's dirs and data_only. */
#define URG_DIR_BIT(dir) (1u << (dir))
/** What a type's payload is. */
enum urg_data_rule {
    URG_DATA_NONE = 0,    /* none: the packet is its type header */
    URG_DATA_OWN = 1,     /* its own (a hello's caps words, filter_filter's string) */
    URG_DATA_ENDPOINT = 2 /* its endpoint's data, as long as its length field, in the
                             direction the endpoint's data goes */
};
struct urg_type_info {
    unsigned dirs;      /* URG_DIR_BIT()s of the directions it travels */
    uint32_t caps;      /* URG_CAP_BIT()s both sides need for it */
    int data;           /* enum urg_data_rule */
    unsigned data_only; /* URG_DIR_BIT()s of the directions in which it travels
                           only with its endpoint's data */
    int in_endpoint;    /* 1: its endpoint must be an IN endpoint */
    int fields;         /* its fields: urg_type_field(type, 0 .. fields - 1) */
};
/** Fills *info from type's row. Returns 0, or:
 *  - URG_ERR_INVALID: an unknown type, or info NULL. */
URG_API int urg_type_info(uint32_t type, struct urg_type_info *info);

/** What the row says a field is. */
enum urg_field_role {
    URG_FIELD_OTHER = 0,
    URG_FIELD_ENDPOINT,  /* as urg_packet_endpoint() */
    URG_FIELD_STATUS,
    URG_FIELD_LENGTH,    /* the data length of a URG_DATA_ENDPOINT type */
    URG_FIELD_STREAM_ID,
    URG_FIELD_TEXT       /* a NUL-terminated string of count bytes (a hello's version) */
};
/** One field of a type header, as the type's codec reads and writes it: a
 *  member of the type's struct in struct urg_packet, or an array of them. */
struct urg_field {
    const char *name; /* the member's name: "requesttype", "max_packet_size" */
    uint16_t offset;  /* of the member in struct urg_packet */
    uint8_t size;     /* bytes of one element in the struct: 1, 2 or 4 */
    uint8_t count;    /* elements: 1, or an array's length */
    int8_t cap;       /* the URG_CAP_* that brings it onto the wire (without
                         it the field is not sent and decodes as 0), or -1 */
    uint8_t role;     /* enum urg_field_role */
};
/** Sets *f to field i (0, 1, ...) of type's header, in the order of its
 *  codec's list, and returns 1; 0 past the last field, for i below 0, an
 *  unknown type or f NULL. Returns no error code. */
URG_API int urg_type_field(uint32_t type, int i, struct urg_field *f);
/** Element i of field f of p (a field of p->type), widened; p and f not
 *  NULL. */
URG_API uint32_t urg_field_get(const struct urg_packet *p, const struct urg_field *f, int i);
/** Sets element i of field f of p to v, cut to the element's size; p and
 *  f not NULL. */
URG_API void urg_field_set(struct urg_packet *p, const struct urg_field *f, int i, uint32_t v);

/** Bytes urg_encode() writes for p: header + type header (+ caps words for
 *  a hello, at most 8). The payload (p->data) is not included. -1 if
 *  p->type cannot travel in dir (or is unknown, or w is NULL); p must not be
 *  NULL. Returns no error code (-1 is not URG_ERR_INVALID). */
URG_API int urg_encoded_header_len(const struct urg_wire *w, const struct urg_packet *p,
                                   enum urg_dir dir);

/**
 * Encodes packet p travelling in dir under layout w: writes the usbredir
 * header and the type header (and, for a hello, the caps words) into buf and
 * returns the number of bytes written. The payload p->data (p->data_len
 * bytes) is checked but not copied: it goes on the wire right after. The
 * packet is validated as a receiver would (lengths, directions, caps), and
 * an invalid packet is refused with the URG_ERR_PROTO_* code a receiver
 * would report. Returns the length, or:
 * - URG_ERR_INVALID: w or p NULL, buf NULL with cap > 0, an id over 32 bits
 *   without 64-bit ids (but for a hello), a hello with caps_words over 8,
 *   or data_len > 0 with data NULL;
 * - URG_ERR_PROTO_DIRECTION: p->type never travels in dir, or is unknown
 *   (a receiver would say URG_ERR_PROTO_TYPE);
 * - URG_ERR_BUFFER: cap is under the length;
 * - URG_ERR_TOO_LONG: data_len with the type header is over 4 GiB;
 * - URG_ERR_PROTO_UNEXPECTED_DATA, URG_ERR_PROTO_CAP,
 *   URG_ERR_PROTO_NOT_IN_EP, URG_ERR_PROTO_DATA_LENGTH,
 *   URG_ERR_PROTO_EP_DIRECTION, URG_ERR_PROTO_INTERFACE_COUNT,
 *   URG_ERR_PROTO_FIELD, URG_ERR_PROTO_FILTER, URG_ERR_PROTO_BULK_LENGTH:
 *   the packet breaks that rule (docs/engine.md, "Validation").
 */
URG_API int urg_encode(const struct urg_wire *w, enum urg_dir dir, const struct urg_packet *p,
                       uint8_t *buf, size_t cap);

/**
 * Sets the id of a packet that urg_encode() wrote into buf (len bytes)
 * under w: a packet is encoded and checked once, then gets the id it is
 * sent under (a request's, known once its pending entry exists) or is sent
 * again under another, with no second encode or check. Only the header's
 * id field is written. Returns 0, or:
 * - URG_ERR_INVALID: w or buf NULL, len under urg_header_len(w), buf
 *   holding a hello (its id is always 0), or an id over 32 bits without
 *   64-bit ids.
 */
URG_API int urg_encode_set_id(const struct urg_wire *w, uint8_t *buf, size_t len, uint64_t id);

/**
 * Decodes and validates one whole packet at the start of buf (len bytes),
 * travelling in dir under w. On success fills *p (p->data points into buf)
 * and *consumed (if not NULL), and returns 0. max_packet_size 0 means
 * URG_DEFAULT_MAX_PACKET_SIZE. Stateless: a hello does not change w, and
 * the hello rules of a stream are not checked (see urg_decoder). Or:
 * - URG_ERR_INVALID: w or p NULL, or buf NULL with len > 0;
 * - URG_ERR_AGAIN: buf holds less than one whole packet (when it holds the
 *   header, the header's rules are checked first);
 * - URG_ERR_PROTO_TYPE, URG_ERR_PROTO_DIRECTION, URG_ERR_PROTO_PACKET_SIZE,
 *   URG_ERR_PROTO_HEADER_LENGTH, URG_ERR_PROTO_UNEXPECTED_DATA,
 *   URG_ERR_PROTO_CAP, URG_ERR_PROTO_HELLO, URG_ERR_PROTO_INTERFACE_COUNT,
 *   URG_ERR_PROTO_FIELD, URG_ERR_PROTO_FILTER, URG_ERR_PROTO_BULK_LENGTH,
 *   URG_ERR_PROTO_NOT_IN_EP, URG_ERR_PROTO_DATA_LENGTH,
 *   URG_ERR_PROTO_EP_DIRECTION: the first rule the packet breaks
 *   (docs/engine.md, "Validation").
 */
URG_API int urg_decode(const struct urg_wire *w, enum urg_dir dir, const uint8_t *buf, size_t len,
                       uint32_t max_packet_size, struct urg_packet *p, size_t *consumed);

/* ======================================================================
 * Streaming decoder (either role)
 * ====================================================================== */

/*
 * A frame lying whole in the bytes fed is read, checked and handed to the
 * callbacks in one step, its payload in place; a frame that straddles feed
 * calls goes through the decoder's states, its headers gathered and its
 * payload placed (the header callback's dest, the decoder's own buffer,
 * urg_decoder_window()). Packets, errors (codes and messages), returns and
 * verdicts are the same however the stream is split (docs/engine.md, "The
 * codec API").
 */
typedef struct urg_decoder urg_decoder;

/** Returned by a decoder callback: go on, skip this packet's payload (the
 *  packet callback is then not called), or stop feeding at once. A negative
 *  URG_ERR_PROTO_* return rejects the packet under the error policy. */
enum urg_decoder_verdict {
    URG_DECODE_CONTINUE = 0,
    URG_DECODE_DISCARD = 1,
    URG_DECODE_STOP = 2
};

struct urg_decoder_callbacks {
    /* Headers of a packet decoded and validated, payload not read yet.
     * p->data is NULL; p->data_len is the payload length to come. The
     * callback may set *dest to a buffer of at least p->data_len bytes into
     * which the payload is stored if it is not already whole in the buffer
     * being fed (the buffer must stay valid until the packet callback, or
     * until the decoder is freed). Not called for a hello. Optional. */
    int (*header)(void *ctx, const struct urg_packet *p, uint8_t **dest);
    /* A whole valid packet. p and p->data are valid during the call only.
     * For a hello, the decoder's layout has already switched. Required. */
    int (*packet)(void *ctx, const struct urg_packet *p);
    /* A packet was rejected: err and a message naming the packet type and
     * the field. fatal is 1 when the stream has failed (policy fail).
     * Optional. msg is valid during the call only. */
    void (*error)(void *ctx, int err, const char *msg, int fatal);
};

struct urg_decoder_config {
    enum urg_role role;            /* the side that receives */
    uint32_t our_caps;             /* caps we advertise in our hello */
    uint32_t max_packet_size;      /* 0: URG_DEFAULT_MAX_PACKET_SIZE */
    enum urg_error_policy policy;
    const struct urg_allocator *allocator; /* NULL: malloc/realloc/free */
    struct urg_decoder_callbacks callbacks;
    void *ctx;                     /* passed to every callback */
};

/** Creates a streaming decoder. Expects the peer's hello first. Returns 0
 *  and *out, or:
 *  - URG_ERR_INVALID: cfg or out NULL, no packet callback, a role out of
 *    its enum, a policy other than URG_POLICY_FAIL and URG_POLICY_SKIP
 *    (URG_POLICY_TOLERATE is the session's), or our_caps with bulk_streams and without
 *    ep_info_max_packet_size;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_decoder_new(const struct urg_decoder_config *cfg, urg_decoder **out);
/** Frees the decoder; a NULL d is ignored. */
URG_API void urg_decoder_free(urg_decoder *d);
/** Feeds len bytes (any split of the stream). If a callback returned
 *  URG_DECODE_STOP, returns 1 and *consumed (if not NULL) says how many bytes
 *  were used; feed the rest later. Returns 0, 1, or:
 *  - URG_ERR_INVALID: d NULL, or buf NULL with len > 0;
 *  - URG_ERR_BUSY: called from one of this decoder's callbacks;
 *  - URG_ERR_FAILED: the stream failed before (it stays failed);
 *  - URG_ERR_NOMEM: no memory for a payload's buffer (fails the stream
 *    under either policy);
 *  - under URG_POLICY_FAIL, the error that failed the stream now: the
 *    URG_ERR_PROTO_* code of the rule broken (urg_decode()'s, and
 *    URG_ERR_PROTO_BEFORE_HELLO, _SECOND_HELLO and _CAPS on the hellos),
 *    or what a callback returned below 0. */
URG_API int urg_decoder_feed(urg_decoder *d, const void *buf, size_t len, size_t *consumed);
/** Where the next bytes of the stream belong: when the decoder is inside a
 *  payload with bytes still to come, sets *buf and *len (> 0) to the rest
 *  of it (in the header callback's dest, or the decoder's own buffer) and
 *  returns 1; the caller may read up to *len bytes there and call
 *  urg_decoder_commit(). Returns 0 otherwise (any argument NULL, or called
 *  from a callback too; an empty payload held by a header callback's
 *  URG_DECODE_STOP is finished by the next urg_decoder_feed(), with any
 *  bytes or none, or urg_decoder_commit(d, 0)). Returns no error code. */
URG_API int urg_decoder_window(urg_decoder *d, void **buf, size_t *len);
/** Accounts n bytes the caller wrote into the window; a payload completed
 *  by them is delivered (its callbacks run). Returns 0, 1 (the packet
 *  callback returned URG_DECODE_STOP), or:
 *  - URG_ERR_INVALID: d NULL, n over what the window holds, or n > 0 when
 *    no window is open;
 *  - URG_ERR_BUSY: called from one of this decoder's callbacks;
 *  - URG_ERR_FAILED: the stream failed before;
 *  - under URG_POLICY_FAIL, the error that failed the stream now (a
 *    URG_ERR_PROTO_* code, or what a callback returned), as
 *    urg_decoder_feed(). */
URG_API int urg_decoder_commit(urg_decoder *d, size_t n);
/** The layout now in force for this stream (d not NULL). */
URG_API struct urg_wire urg_decoder_wire(const urg_decoder *d);
/** The peer's caps (0 before its hello; d not NULL). */
URG_API uint32_t urg_decoder_peer_caps(const urg_decoder *d);
/** 1 if the peer's hello arrived, else 0 (d not NULL). Returns no error
 *  code. */
URG_API int urg_decoder_have_hello(const urg_decoder *d);

/* ======================================================================
 * Output queue (either role)
 * ====================================================================== */

/*
 * What an embedder has to write to its peer, as the session queues its own
 * output: encoded packets whose headers (header and type header, a hello's
 * caps words) are copied into a byte ring, where adjacent ones merge, so
 * that a burst of small packets is written as one iovec; and payloads (a
 * request's OUT data) queued by reference, not copied, each written from
 * the embedder's own buffer and released once written. Sans-IO: the
 * embedder writes what urg_output_iov() hands out (writev) and consumes
 * what was written. Bounded: it never holds more than max_bytes, headers
 * and payloads counted. It allocates when it is made and when its ring or
 * its list of pieces must grow, never per packet otherwise; a
 * single-threaded object, as the rest of the library.
 *
 * Encode once, send many: encode a request once with urg_encode(), then for
 * each one urg_encode_set_id() on those bytes and urg_output_put() them
 * with the request's payload; or hand the packet to urg_output_packet().
 */
typedef struct urg_output urg_output;

struct urg_output_config {
    /* The most bytes queued at once, headers and payloads counted (> 0). */
    size_t max_bytes;
    const struct urg_allocator *allocator; /* NULL: malloc/realloc/free */
    /* A payload queued by reference is done with: written is 1 when its
     * last byte was consumed (written out: the buffer may be reused or
     * freed now), 0 when it was dropped unwritten, whole or in part, by
     * urg_output_reset() or urg_output_free(). Called once per payload
     * queued, from urg_output_consume(), urg_output_reset() or
     * urg_output_free(), with the token it was queued with; never for a
     * packet without payload. Until then the queue reads the payload's
     * buffer, which the embedder owns and must keep unchanged. The callback
     * may queue (urg_output_put(), urg_output_packet(), but not from
     * urg_output_free()) and read (urg_output_iov(), urg_output_queued());
     * what it queues goes after everything queued before and stays queued.
     * It may not consume or reset (URG_ERR_BUSY); urg_output_free() from it
     * is carried out when the call that runs it returns. Optional (NULL:
     * payloads are only let go of). */
    void (*release)(void *ctx, void *token, int written);
    void *ctx; /* passed to release */
};

/** Makes an empty queue: its ring (4 KiB) and its list of pieces are
 *  allocated now. Returns 0 and *out, or:
 *  - URG_ERR_INVALID: cfg or out NULL, or max_bytes 0;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_output_new(const struct urg_output_config *cfg, urg_output **out);
/** Frees the queue. Every payload still queued is released as not written
 *  (release(ctx, token, 0)), in queue order, first. From a release
 *  callback it is carried out when the consume or reset running that
 *  callback returns. A NULL o is ignored. */
URG_API void urg_output_free(urg_output *o);
/**
 * Queues n bytes (bytes, copied into the ring: a packet's encoded headers,
 * urg_encode()'s output) and after them data_len bytes of data (a payload,
 * by reference: not copied; token is handed to the release callback when
 * it is done with), whole or not at all: on an error nothing is queued.
 * Either length may be 0 (no payload: token unused). Returns 0, or:
 * - URG_ERR_INVALID: o NULL, bytes NULL with n > 0, or data NULL with
 *   data_len > 0;
 * - URG_ERR_BUSY: the queue is being freed (called from a release callback
 *   run by urg_output_free(), or after urg_output_free() from one);
 * - URG_ERR_TOO_LONG: n or data_len over 4 GiB - 1;
 * - URG_ERR_BUFFER: n + data_len is over max_bytes: it can never be queued;
 * - URG_ERR_AGAIN: it would queue more than max_bytes now: consume first;
 * - URG_ERR_NOMEM: the ring or the list of pieces could not grow.
 */
URG_API int urg_output_put(urg_output *o, const void *bytes, size_t n, const void *data,
                           size_t data_len, void *token);
/**
 * Encodes p travelling in dir under w (urg_encode(), which checks it) and
 * queues it as urg_output_put() does: its headers copied, its payload
 * (p->data, p->data_len bytes; a hello has none, its caps words are
 * encoded) by reference with token. Whole or not at all. Returns 0, or:
 * - URG_ERR_INVALID: o, w or p NULL, or urg_encode()'s URG_ERR_INVALID;
 * - urg_encode()'s refusals: URG_ERR_PROTO_DIRECTION, URG_ERR_TOO_LONG and
 *   the URG_ERR_PROTO_* code of the rule p breaks (URG_ERR_BUFFER cannot
 *   come from it: the headers always fit);
 * - urg_output_put()'s: URG_ERR_BUSY, URG_ERR_BUFFER, URG_ERR_AGAIN,
 *   URG_ERR_NOMEM.
 */
URG_API int urg_output_packet(urg_output *o, const struct urg_wire *w, enum urg_dir dir,
                              const struct urg_packet *p, void *token);
/** Fills up to iovcnt iovecs with what is queued, in order (ring bytes,
 *  merged where adjacent, and payloads in place), and returns how many; 0
 *  when nothing is queued. Valid until the next call that queues,
 *  consumes, resets or frees. Returns the count, or:
 *  - URG_ERR_INVALID: o NULL, iovcnt below 0, or iov NULL with iovcnt > 0. */
URG_API int urg_output_iov(const urg_output *o, struct iovec *iov, int iovcnt);
/** Drops the first n queued bytes: those written out (a partial write
 *  consumes part of an iovec; the rest stays queued). Each payload whose
 *  last byte is among them is released as written (release(ctx, token,
 *  1)), in order. Returns 0, or:
 *  - URG_ERR_INVALID: o NULL, or n over urg_output_queued();
 *  - URG_ERR_BUSY: called from a release callback. */
URG_API int urg_output_consume(urg_output *o, size_t n);
/** Drops everything queued, each payload released as not written
 *  (release(ctx, token, 0)); the memory is kept. Returns 0, or:
 *  - URG_ERR_INVALID: o NULL;
 *  - URG_ERR_BUSY: called from a release callback. */
URG_API int urg_output_reset(urg_output *o);
/** The bytes queued and not yet consumed, headers and payloads (0 for a
 *  NULL o). */
URG_API size_t urg_output_queued(const urg_output *o);

/* ======================================================================
 * A usb-host's plumbing (the project's usb-hosts: replay, test hosts)
 * ====================================================================== */

/** The decoder of what the guest sends to a usb-host that advertises
 *  our_caps: urg_decoder_new() in URG_ROLE_HOST, policy fail, the default
 *  maximum packet size, with *cb and ctx as its callbacks and a (NULL:
 *  libc) as its allocator. Returns 0 and *out, or urg_decoder_new()'s
 *  errors:
 *  - URG_ERR_INVALID: cb or out NULL, no packet callback, or our_caps with
 *    bulk_streams and without ep_info_max_packet_size;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_host_decoder_new(uint32_t our_caps, const struct urg_decoder_callbacks *cb,
                                 void *ctx, const struct urg_allocator *a, urg_decoder **out);

/**
 * What a usb-host queues for the guest: packets encoded under the layout
 * its host-role decoder (of what the guest sends) has negotiated, each
 * whole with its data, in one buffer that grows through an allocator and
 * never holds more than max bytes. Sans-IO: the host writes out
 * urg_host_output_data() and consumes what was written. The members are
 * the helper's; read them through the functions.
 */
struct urg_host_output {
    const urg_decoder *dec;      /* whose urg_decoder_wire() packets are encoded under */
    struct urg_allocator alloc;  /* a copy of the one given */
    size_t max;                  /* the most bytes queued at once */
    uint8_t *buf;                /* the queued bytes are buf[off .. len) */
    size_t cap, off, len;
};
/** Sets up an empty output for a host whose decoder is dec (which must
 *  outlive it), allocating through a (NULL: libc) and queuing at most max
 *  bytes. Allocates nothing. Returns 0, or:
 *  - URG_ERR_INVALID: o or dec NULL, or max 0. */
URG_API int urg_host_output_init(struct urg_host_output *o, const urg_decoder *dec,
                                 const struct urg_allocator *a, size_t max);
/** Frees the buffer; the output may be set up again. A NULL o is ignored. */
URG_API void urg_host_output_free(struct urg_host_output *o);
/** Encodes p for the guest (urg_encode(), URG_DIR_TO_GUEST, under the
 *  decoder's layout now) and queues it with its data (none for a hello:
 *  its caps words are encoded), whole or not at all: on an error nothing
 *  is queued. Returns 0, or:
 *  - URG_ERR_INVALID: o or p NULL, o not set up, or urg_encode()'s
 *    URG_ERR_INVALID;
 *  - URG_ERR_NOMEM: it would queue more than max bytes, or the allocator
 *    failed;
 *  - urg_encode()'s refusals: URG_ERR_PROTO_DIRECTION, URG_ERR_BUFFER,
 *    URG_ERR_TOO_LONG and the URG_ERR_PROTO_* code of the rule p breaks. */
URG_API int urg_host_output_packet(struct urg_host_output *o, const struct urg_packet *p);
/** Queues n raw bytes, whole or not at all. Returns 0, or:
 *  - URG_ERR_INVALID: o NULL or not set up, or bytes NULL with n > 0;
 *  - URG_ERR_NOMEM: as urg_host_output_packet(). */
URG_API int urg_host_output_bytes(struct urg_host_output *o, const void *bytes, size_t n);
/** The bytes queued and not yet consumed: sets *n (if n is not NULL) and
 *  returns where they start, or NULL (and 0) when there are none or o is
 *  NULL. Valid until the next call that queues, consumes or frees. */
URG_API const uint8_t *urg_host_output_data(const struct urg_host_output *o, size_t *n);
/** Drops the first n queued bytes (all of them if n is more). A NULL o is
 *  ignored. */
URG_API void urg_host_output_consume(struct urg_host_output *o, size_t n);
/** Drops every queued byte; the buffer is kept. A NULL o is ignored. */
URG_API void urg_host_output_reset(struct urg_host_output *o);

#ifdef __cplusplus
}
#endif
#endif /* URG_CODEC_H */

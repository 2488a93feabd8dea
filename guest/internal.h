/*
 * internal.h - declarations shared by the files of guest/, never installed.
 *
 * Internal functions carry the urgi_ prefix and hidden visibility, so the
 * shared library exports only urg_ symbols.
 */
#ifndef URG_GUEST_INTERNAL_H
#define URG_GUEST_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "urg_codec.h"
#include "urgi_common.h"

#if defined(__GNUC__)
#define URGI_HIDDEN __attribute__((visibility("hidden")))
#define URGI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define URGI_ALWAYS_INLINE inline __attribute__((always_inline))
#define URGI_LIKELY(x) __builtin_expect(!!(x), 1)
#define URGI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define URGI_HIDDEN
#define URGI_PRINTF(a, b)
#define URGI_ALWAYS_INLINE inline
#define URGI_LIKELY(x) (x)
#define URGI_UNLIKELY(x) (x)
#endif

static inline bool urgi_has(uint32_t caps, int cap) { return (caps >> cap) & 1u; }

/* Largest type header (ep_info with max_packet_size and max_streams). */
#define URGI_MAX_TYPE_HEADER 288
#define URGI_MAX_HEADER 16
/* Header + type header of any packet but a hello. */
#define URGI_MAX_HEADERS (URGI_MAX_HEADER + URGI_MAX_TYPE_HEADER)

/* A packet header's bytes under w: 16 with 64-bit ids, else 12. */
static inline int urgi_header_len(const struct urg_wire *w) { return w->id64 ? 16 : 12; }

/* ---- allocator ---- */

URGI_HIDDEN extern const struct urg_allocator urgi_default_allocator;

/* ---- codec (codec.c) ---- */

/* Writes id into an encoded header of hlen bytes (12: 32-bit id, 16:
 * 64-bit), as urg_encode() does; a request gets its id after encoding. */
static inline void urgi_put_id(uint8_t *hdr, int hlen, uint64_t id)
{
    if (hlen == 16)
        urgi_put64(hdr + 8, id);
    else
        urgi_put32(hdr + 8, (uint32_t)id);
}
/* ---- packet types (packet_types.c): a row per type ---- */

/* The dense index of a type: the control types are numbered from 0 with
 * no gap, the data types from URG_CONTROL_PACKET. */
#define URGI_CONTROL_TYPES (URG_BULK_RECEIVING_STATUS + 1)
#define URGI_DATA_TYPES (URG_BUFFERED_BULK_PACKET - URG_CONTROL_PACKET + 1)
#define URGI_INDEX(t)                                                                            \
    ((t) < URG_CONTROL_PACKET ? (int)(t) : (int)((t) - URG_CONTROL_PACKET) + URGI_CONTROL_TYPES)
#define URGI_BIT(t) (1ull << URGI_INDEX(t))
_Static_assert(URGI_CONTROL_TYPES + URGI_DATA_TYPES == URG_TYPE_COUNT,
               "URG_TYPE_COUNT counts every type");

enum {
    URGI_TO_HOST = 1u, /* the guest sends it */
    URGI_TO_GUEST = 2u /* the host sends it */
};
enum urgi_data {
    URGI_DATA_NONE,    /* the packet is its type header */
    URGI_DATA_OWN,     /* data of its own (hello: caps words; filter_filter: the string) */
    URGI_DATA_ENDPOINT /* data the way its endpoint's data goes, as long as its length field */
};
enum urgi_reply {
    URGI_NOT_A_REPLY,
    URGI_REPLY,        /* always answers a pending request, by its id */
    URGI_REPLY_IF_OUT, /* a reply for an OUT endpoint, stream data for an IN one */
    URGI_STATUS        /* answers a start/stop request by its id, or comes unasked */
};

/* The streams a session runs for the host's data; a row's stream column
 * holds the kind + 1 (0: not a stream's packet). */
enum { URGI_STREAM_INT, URGI_STREAM_ISO, URGI_STREAM_BULKRECV, URGI_STREAM_KINDS };

struct urgi_type {
    uint32_t type;
    const char *name;
    uint8_t dirs;         /* URGI_TO_HOST | URGI_TO_GUEST: which ways it travels */
    uint8_t data;         /* enum urgi_data */
    uint8_t data_only;    /* directions in which it must travel with its endpoint's data */
    bool in_endpoint;     /* its endpoint must be an IN endpoint */
    uint32_t caps;        /* caps both sides must have for it (URG_CAP_BIT) */
    uint16_t header;      /* type-header bytes without the parts below */
    struct {
        uint8_t cap;      /* a cap that adds bytes bytes to the type header */
        uint8_t bytes;
    } more[2];
    uint8_t endpoint_at;  /* offset in struct urg_packet of its endpoint, or 0 */
    uint8_t length_at;    /* of its data length field (URGI_DATA_ENDPOINT), */
    uint8_t length_size;  /* and that field's size */
    uint8_t status_at;    /* of its status field, or 0 */
    uint8_t stream_id_at; /* of its stream_id field, or 0 */
    uint8_t stream;       /* the stream kind + 1 it starts, stops, reports or carries; 0 */
    bool starts;          /* a stream's start request */
    uint8_t reply;        /* enum urgi_reply */
    uint64_t answers;     /* URGI_BIT()s of the request types it answers */
    /* Its field codec: reads or writes a type header of the length
     * urgi_type_header_len() gives (fields a cap does not bring read 0). */
    void (*decode)(const struct urg_wire *w, const uint8_t *th, struct urg_packet *p);
    void (*encode)(const struct urg_wire *w, const struct urg_packet *p, uint8_t *th);
    /* Its fields' own rules, beyond the columns above (NULL: none): 0, or
     * a URG_ERR_PROTO_* code with its message in msg. */
    int (*check)(const struct urg_wire *w, const struct urg_packet *p, char *msg, size_t cap);
    /* Its fields' rules that the reference does not have and
     * URG_POLICY_TOLERATE carries on with (docs/engine.md, "Tolerance"),
     * as check (NULL: none); applied before check. Under that policy they
     * are not rules but a warning. */
    int (*lenient)(const struct urg_wire *w, const struct urg_packet *p, char *msg, size_t cap);
};
URGI_HIDDEN extern const struct urgi_type urgi_types[URG_TYPE_COUNT];

/* urg_type_index(), inline for the receive path. */
static inline int urgi_type_index(uint32_t type)
{
    if (type < URGI_CONTROL_TYPES)
        return (int)type;
    if (type - URG_CONTROL_PACKET < URGI_DATA_TYPES)
        return URGI_INDEX(type);
    return -1;
}
/* A type's row, or NULL if the type is unknown. */
static inline const struct urgi_type *urgi_type(uint32_t type)
{
    int i = urgi_type_index(type);
    return i < 0 ? NULL : &urgi_types[i];
}
/* The type-header size of a row under the wire's caps. */
static inline int urgi_type_header_len(const struct urgi_type *t, const struct urg_wire *w)
{
    int n = t->header;
    for (int i = 0; i < 2; i++)
        if (t->more[i].bytes && urgi_has(w->caps, t->more[i].cap))
            n += t->more[i].bytes;
    return n;
}
/* Does this type ever carry a payload? */
static inline bool urgi_type_may_have_data(uint32_t type)
{
    const struct urgi_type *t = urgi_type(type);
    return t && t->data != URGI_DATA_NONE;
}
/* Its stream kind (URGI_STREAM_*), or -1. */
static inline int urgi_type_stream(const struct urgi_type *t) { return (int)t->stream - 1; }
/* Its endpoint field (-1 if it has none), its status and stream_id
 * fields (0 if none), and its data length field. */
static inline int urgi_packet_endpoint(const struct urgi_type *t, const struct urg_packet *p)
{
    return t->endpoint_at ? ((const uint8_t *)p)[t->endpoint_at] : -1;
}
static inline uint8_t urgi_packet_status(const struct urgi_type *t, const struct urg_packet *p)
{
    return t->status_at ? ((const uint8_t *)p)[t->status_at] : 0;
}
static inline uint32_t urgi_packet_stream_id(const struct urgi_type *t, const struct urg_packet *p)
{
    uint32_t v = 0;
    if (t->stream_id_at)
        memcpy(&v, (const uint8_t *)p + t->stream_id_at, 4);
    return v;
}
static inline uint32_t urgi_packet_length(const struct urgi_type *t, const struct urg_packet *p)
{
    uint16_t v16;
    uint32_t v32;
    if (t->length_size == 2) {
        memcpy(&v16, (const uint8_t *)p + t->length_at, 2);
        return v16;
    }
    memcpy(&v32, (const uint8_t *)p + t->length_at, 4);
    return v32;
}
/* urgi_check_frame()'s rules for one wire layout and direction, as a table
 * a receiver builds once per layout (urgi_frame_table_init): the type-header
 * size per type index (-1: never travels this way) and whether the type may
 * carry data. urgi_frame_ok() passes exactly what urgi_check_frame() passes;
 * on a failure, urgi_check_frame() gives the error and its message. */
struct urgi_frame_table {
    int16_t hl;             /* the packet header's bytes (urgi_header_len) */
    int16_t th[URG_TYPE_COUNT];
    uint64_t may_have_data; /* bit per type index */
};
URGI_HIDDEN void urgi_frame_table_init(struct urgi_frame_table *t, const struct urg_wire *w,
                                       enum urg_dir dir);
static inline int urgi_frame_ok(const struct urgi_frame_table *t, int idx, uint32_t length,
                                uint32_t max_packet_size)
{
    int th;
    if (idx < 0 || (th = t->th[idx]) < 0 || length > max_packet_size || length < (uint32_t)th ||
        (length > (uint32_t)th && !((t->may_have_data >> idx) & 1u)))
        return -1;
    return th;
}
/* Rules of row t's packet p that need the headers and the payload length,
 * not the payload. */
URGI_HIDDEN int urgi_check_headers(const struct urgi_type *t, const struct urg_wire *w, bool tolerate,
                                   enum urg_dir dir, const struct urg_packet *p, char *msg,
                                   size_t cap);
/* Rules that need the payload itself (the filter string); tolerate
 * (URG_POLICY_TOLERATE): not its lenient rule, urgi_filter_inner_nul(). */
URGI_HIDDEN int urgi_check_payload(const struct urg_wire *w, enum urg_dir dir,
                                   const struct urg_packet *p, bool tolerate, char *msg,
                                   size_t cap);
/* A filter_filter string with a NUL before its end (the reference reads it
 * to its first NUL): URG_ERR_PROTO_FILTER with msg, or 0. */
URGI_HIDDEN int urgi_filter_inner_nul(const struct urg_packet *p, char *msg, size_t cap);
/* Fills the hello's caps from its raw payload. */
URGI_HIDDEN void urgi_decode_hello_caps(struct urg_packet *p);
/* Header-level checks of a received header: type known and allowed in dir,
 * length within max and not shorter than the type header. On success sets
 * *th_len. */
URGI_HIDDEN int urgi_check_frame(const struct urg_wire *w, enum urg_dir dir, uint32_t type,
                                 uint32_t length, uint32_t max_packet_size, int *th_len, char *msg,
                                 size_t cap);

URGI_HIDDEN int urgi_fmt(char *msg, size_t cap, int err, const char *fmt, ...) URGI_PRINTF(4, 5);

/* ---- filter (filter.c) ---- */

/* Parses into a freshly allocated array (*rules, freed with urgi_free);
 * token_sep and rule_sep as urg_filter_parse_sep(). */
URGI_HIDDEN int urgi_filter_parse_alloc(const struct urg_allocator *a, const char *str,
                                        const char *token_sep, const char *rule_sep,
                                        struct urg_filter_rule **rules, size_t *count);

#endif /* URG_GUEST_INTERNAL_H */

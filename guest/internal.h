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

#include "urg_guest.h"

#if defined(__GNUC__)
#define URGI_HIDDEN __attribute__((visibility("hidden")))
#define URGI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define URGI_LIKELY(x) __builtin_expect(!!(x), 1)
#define URGI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define URGI_HIDDEN
#define URGI_PRINTF(a, b)
#define URGI_LIKELY(x) (x)
#define URGI_UNLIKELY(x) (x)
#endif

/* ---- little-endian access: byte by byte, whatever the host order ---- */

static inline uint16_t urgi_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t urgi_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t urgi_get64(const uint8_t *p)
{
    return (uint64_t)urgi_get32(p) | (uint64_t)urgi_get32(p + 4) << 32;
}
static inline void urgi_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void urgi_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void urgi_put64(uint8_t *p, uint64_t v)
{
    urgi_put32(p, (uint32_t)v);
    urgi_put32(p + 4, (uint32_t)(v >> 32));
}

static inline bool urgi_has(uint32_t caps, int cap) { return (caps >> cap) & 1u; }

/* Largest type header (ep_info with max_packet_size and max_streams). */
#define URGI_MAX_TYPE_HEADER 288
#define URGI_MAX_HEADER 16
/* Header + type header of any packet but a hello. */
#define URGI_MAX_HEADERS (URGI_MAX_HEADER + URGI_MAX_TYPE_HEADER)

/* ---- allocator ---- */

URGI_HIDDEN extern const struct urg_allocator urgi_default_allocator;
static inline void *urgi_malloc(const struct urg_allocator *a, size_t n)
{
    return a->malloc(a->ctx, n);
}
static inline void *urgi_realloc(const struct urg_allocator *a, void *p, size_t n)
{
    return a->realloc(a->ctx, p, n);
}
static inline void urgi_free(const struct urg_allocator *a, void *p)
{
    if (p)
        a->free(a->ctx, p);
}

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
/* Does this type ever carry a payload? */
URGI_HIDDEN bool urgi_type_may_have_data(uint32_t type);
/* urg_type_index(), inline for the receive path. */
static inline int urgi_type_index(uint32_t type)
{
    if (type <= URG_BULK_RECEIVING_STATUS)
        return (int)type;
    if (type - URG_CONTROL_PACKET <= URG_BUFFERED_BULK_PACKET - URG_CONTROL_PACKET)
        return (int)(type - URG_CONTROL_PACKET) + 28;
    return -1;
}
/* urgi_check_frame()'s rules for one wire layout and direction, as a table
 * a receiver builds once per layout (urgi_frame_table_init): the type-header
 * size per type index (-1: never travels this way) and whether the type may
 * carry data. urgi_frame_ok() passes exactly what urgi_check_frame() passes;
 * on a failure, urgi_check_frame() gives the error and its message. */
struct urgi_frame_table {
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
/* Decodes the type header at th (of the right length) into p->h. */
URGI_HIDDEN void urgi_decode_type_header(const struct urg_wire *w, uint32_t type, const uint8_t *th,
                                         struct urg_packet *p);
/* Rules that need the headers and the payload length, not the payload. */
URGI_HIDDEN int urgi_check_headers(const struct urg_wire *w, enum urg_dir dir,
                                   const struct urg_packet *p, char *msg, size_t cap);
/* Rules that need the payload itself (hello caps, filter string). */
URGI_HIDDEN int urgi_check_payload(const struct urg_wire *w, enum urg_dir dir,
                                   const struct urg_packet *p, char *msg, size_t cap);
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

/* Parses into a freshly allocated array (*rules, freed with urgi_free). */
URGI_HIDDEN int urgi_filter_parse_alloc(const struct urg_allocator *a, const char *str,
                                        struct urg_filter_rule **rules, size_t *count);

#endif /* URG_GUEST_INTERNAL_H */

/*
 * type_fields.h - where each field of the listed type headers lies on the
 * wire: FIELDS_x(F, x) names each field as F(x, kind, member, offset in
 * the type header). packet_types.c makes each listed type's codec from its
 * list; the whole-frame receive path (dispatch.c) reads the few fields it
 * needs straight from the wire bytes, and requests.c writes control and
 * bulk requests straight into the output, through the readers and writers
 * made here from the same lists. Never installed.
 */
#ifndef URG_GUEST_TYPE_FIELDS_H
#define URG_GUEST_TYPE_FIELDS_H

#include "urgi_common.h"

#define FIELDS_SET_CONFIGURATION(F, x) F(x, u8, configuration, 0)
#define FIELDS_CONFIGURATION_STATUS(F, x) F(x, u8, status, 0) F(x, u8, configuration, 1)
#define FIELDS_SET_ALT_SETTING(F, x) F(x, u8, interface, 0) F(x, u8, alt, 1)
#define FIELDS_GET_ALT_SETTING(F, x) F(x, u8, interface, 0)
#define FIELDS_ALT_SETTING_STATUS(F, x)                                                          \
    F(x, u8, status, 0) F(x, u8, interface, 1) F(x, u8, alt, 2)
#define FIELDS_START_ISO_STREAM(F, x)                                                            \
    F(x, u8, endpoint, 0) F(x, u8, pkts_per_urb, 1) F(x, u8, no_urbs, 2)
#define FIELDS_ENDPOINT(F, x) F(x, u8, endpoint, 0)
#define FIELDS_STATUS_ENDPOINT(F, x) F(x, u8, status, 0) F(x, u8, endpoint, 1)
#define FIELDS_ALLOC_BULK_STREAMS(F, x) F(x, u32, endpoints, 0) F(x, u32, no_streams, 4)
#define FIELDS_FREE_BULK_STREAMS(F, x) F(x, u32, endpoints, 0)
#define FIELDS_BULK_STREAMS_STATUS(F, x)                                                         \
    F(x, u32, endpoints, 0) F(x, u32, no_streams, 4) F(x, u8, status, 8)
#define FIELDS_START_BULK_RECEIVING(F, x)                                                        \
    F(x, u32, stream_id, 0) F(x, u32, bytes_per_transfer, 4) F(x, u8, endpoint, 8)             \
    F(x, u8, no_transfers, 9)
#define FIELDS_STOP_BULK_RECEIVING(F, x) F(x, u32, stream_id, 0) F(x, u8, endpoint, 4)
#define FIELDS_BULK_RECEIVING_STATUS(F, x)                                                       \
    F(x, u32, stream_id, 0) F(x, u8, endpoint, 4) F(x, u8, status, 5)
#define FIELDS_CONTROL(F, x)                                                                     \
    F(x, u8, endpoint, 0) F(x, u8, request, 1) F(x, u8, requesttype, 2) F(x, u8, status, 3)    \
    F(x, u16, value, 4) F(x, u16, index, 6) F(x, u16, length, 8)
#define FIELDS_ENDPOINT_STATUS_LENGTH(F, x)                                                      \
    F(x, u8, endpoint, 0) F(x, u8, status, 1) F(x, u16, length, 2)
#define FIELDS_BUFFERED_BULK(F, x)                                                               \
    F(x, u32, stream_id, 0) F(x, u32, length, 4) F(x, u8, endpoint, 8) F(x, u8, status, 9)

/* bulk_packet: the fields every wire has; its length's high 16 bits follow
 * at URGI_BULK_LENGTH_HIGH_AT with 32bits_bulk_length. */
#define FIELDS_BULK(F, x)                                                                        \
    F(x, u8, endpoint, 0) F(x, u8, status, 1) F(x, u16, length, 2) F(x, u32, stream_id, 4)
#define URGI_BULK_LENGTH_HIGH_AT 8

/* urgi_wire_<codec>_<member>(th): one field read from a type header's wire
 * bytes, for the types the whole-frame path takes. */
static inline uint32_t urgi_wire_u8(const uint8_t *p) { return p[0]; }
#define urgi_wire_u16 urgi_get16
#define urgi_wire_u32 urgi_get32
#define URGI_WIRE_READER(x, kind, m, off)                                                        \
    static inline uint32_t urgi_wire_##x##_##m(const uint8_t *th)                               \
    {                                                                                           \
        return urgi_wire_##kind(th + (off));                                                    \
    }
FIELDS_CONTROL(URGI_WIRE_READER, control)
FIELDS_BULK(URGI_WIRE_READER, bulk)
FIELDS_ENDPOINT_STATUS_LENGTH(URGI_WIRE_READER, interrupt)
#undef URGI_WIRE_READER

/* urgi_wire_put_<codec>_<member>(th, v): one field written, v cut to the
 * field's size, for the requests written straight into the output
 * (requests.c). */
static inline void urgi_wire_put_u8(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; }
static inline void urgi_wire_put_u16(uint8_t *p, uint32_t v) { urgi_put16(p, (uint16_t)v); }
static inline void urgi_wire_put_u32(uint8_t *p, uint32_t v) { urgi_put32(p, v); }
#define URGI_WIRE_WRITER(x, kind, m, off)                                                        \
    static inline void urgi_wire_put_##x##_##m(uint8_t *th, uint32_t v)                         \
    {                                                                                           \
        urgi_wire_put_##kind(th + (off), v);                                                    \
    }
FIELDS_CONTROL(URGI_WIRE_WRITER, control)
FIELDS_BULK(URGI_WIRE_WRITER, bulk)
#undef URGI_WIRE_WRITER

#endif

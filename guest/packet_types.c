/*
 * packet_types.c - one row per usbredir 0.7 packet type (urgi_types[]),
 * and beside the rows each type's field codec.
 *
 * A row holds every fact about a type that is not a field's value: its
 * number and name, the directions it travels, whether it carries data and
 * how, the caps both sides need, its type-header size under each set of
 * caps, which members are its endpoint, length, status and stream id, the
 * stream it belongs to, the IN-endpoint rule, whether it answers a request
 * and which, and its field codec. codec.c (sizes, checks, urg_encode,
 * urg_decode), names.c (names, the dense index), dispatch.c (reply
 * matching, routing, completions) and streams.c read the rows; nothing
 * else lists the types.
 *
 * Most types' fields are a list (FIELDS_x): the list gives both functions
 * of the codec, the type-header size and the codec's field list (struct
 * urg_field: name, member, size, the cap that brings it). The few whose
 * header changes with the caps, or holds arrays, have functions of their
 * own and their field list beside them. urg_type_info() and
 * urg_type_field() give a row's columns and its codec's fields to the
 * project's generic walks (the tests' packet generator and comparator).
 * Adding a type, or a caps variant of one, is a row and its fields.
 */
#include "internal.h"
#include "type_fields.h"

#include <stddef.h>

/* ---------------------------------------------------------------- field codecs */

/* Each decode_x reads a type header of the length urg_type_header_len()
 * gives for the wire, each encode_x writes one; fields a cap does not bring
 * decode as 0. */

static void decode_none(const struct urg_wire *w, const uint8_t *t, struct urg_packet *p)
{
    (void)w, (void)t, (void)p;
}
static void encode_none(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)
{
    (void)w, (void)p, (void)t;
}

/* Types whose type header is a fixed list of fields (the FIELDS_x lists,
 * type_fields.h): FIELD_CODEC makes decode_x and encode_x from the list. */
static inline uint8_t get_u8(const uint8_t *t) { return t[0]; }
static inline void put_u8(uint8_t *t, uint8_t v) { t[0] = v; }
#define get_u16 urgi_get16
#define get_u32 urgi_get32
#define put_u16 urgi_put16
#define put_u32 urgi_put32
#define GET(x, kind, m, off) p->h.x.m = get_##kind(t + (off));
#define PUT(x, kind, m, off) put_##kind(t + (off), p->h.x.m);
#define SIZE_u8 1
#define SIZE_u16 2
#define SIZE_u32 4
/* A field list's entries (struct urg_field), and the check that each
 * member has its kind's size. */
#define MEMBER(x, m) (((struct urg_packet *)0)->h.x.m)
#define ONE(x, m, cap) { #m, offsetof(struct urg_packet, h.x.m), sizeof(MEMBER(x, m)), 1, cap, 0 }
#define ARRAY(x, m, cap)                                                                         \
    { #m, offsetof(struct urg_packet, h.x.m), sizeof(MEMBER(x, m)[0]),                           \
      sizeof(MEMBER(x, m)) / sizeof(MEMBER(x, m)[0]), cap, 0 }
#define LIST(x, kind, m, off) ONE(x, m, -1),
#define SIZE_CHECK(x, kind, m, off)                                                              \
    _Static_assert(sizeof(MEMBER(x, m)) == SIZE_##kind, #x "." #m " is a " #kind);
#define FIELD_CODEC(x, FIELDS)                                                                   \
    static void decode_##x(const struct urg_wire *w, const uint8_t *t, struct urg_packet *p)    \
    {                                                                                           \
        (void)w;                                                                                \
        FIELDS(GET, x)                                                                          \
    }                                                                                           \
    static void encode_##x(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)    \
    {                                                                                           \
        (void)w;                                                                                \
        FIELDS(PUT, x)                                                                          \
    }                                                                                           \
    static const struct urg_field fields_##x[] = { FIELDS(LIST, x) };                           \
    FIELDS(SIZE_CHECK, x)

/* The codecs made from a list: X(codec, its list). */
#define LISTED_CODECS(X)                                                                         \
    X(set_configuration, FIELDS_SET_CONFIGURATION)                                               \
    X(configuration_status, FIELDS_CONFIGURATION_STATUS)                                         \
    X(set_alt_setting, FIELDS_SET_ALT_SETTING)                                                   \
    X(get_alt_setting, FIELDS_GET_ALT_SETTING)                                                   \
    X(alt_setting_status, FIELDS_ALT_SETTING_STATUS)                                             \
    X(start_iso_stream, FIELDS_START_ISO_STREAM)                                                 \
    X(stop_iso_stream, FIELDS_ENDPOINT)                                                          \
    X(iso_stream_status, FIELDS_STATUS_ENDPOINT)                                                 \
    X(start_interrupt_receiving, FIELDS_ENDPOINT)                                                \
    X(stop_interrupt_receiving, FIELDS_ENDPOINT)                                                 \
    X(interrupt_receiving_status, FIELDS_STATUS_ENDPOINT)                                        \
    X(alloc_bulk_streams, FIELDS_ALLOC_BULK_STREAMS)                                             \
    X(free_bulk_streams, FIELDS_FREE_BULK_STREAMS)                                               \
    X(bulk_streams_status, FIELDS_BULK_STREAMS_STATUS)                                           \
    X(start_bulk_receiving, FIELDS_START_BULK_RECEIVING)                                         \
    X(stop_bulk_receiving, FIELDS_STOP_BULK_RECEIVING)                                           \
    X(bulk_receiving_status, FIELDS_BULK_RECEIVING_STATUS)                                       \
    X(control, FIELDS_CONTROL)                                                                   \
    X(iso, FIELDS_ENDPOINT_STATUS_LENGTH)                                                        \
    X(interrupt, FIELDS_ENDPOINT_STATUS_LENGTH)                                                  \
    X(buffered_bulk, FIELDS_BUFFERED_BULK)
LISTED_CODECS(FIELD_CODEC)

/* Types whose type header changes with the caps, or holds arrays. */

/* Their field lists, as their functions below read and write them. */
static const struct urg_field fields_hello[] = {
    { "version", offsetof(struct urg_packet, h.hello.version), 1, 64, -1, URG_FIELD_TEXT },
};
static const struct urg_field fields_device_connect[] = {
    ONE(device_connect, speed, -1),           ONE(device_connect, device_class, -1),
    ONE(device_connect, device_subclass, -1), ONE(device_connect, device_protocol, -1),
    ONE(device_connect, vendor_id, -1),       ONE(device_connect, product_id, -1),
    ONE(device_connect, device_version_bcd, URG_CAP_CONNECT_DEVICE_VERSION),
};
static const struct urg_field fields_interface_info[] = {
    ONE(interface_info, interface_count, -1),      ARRAY(interface_info, interface, -1),
    ARRAY(interface_info, interface_class, -1),    ARRAY(interface_info, interface_subclass, -1),
    ARRAY(interface_info, interface_protocol, -1),
};
static const struct urg_field fields_ep_info[] = {
    ARRAY(ep_info, type, -1),
    ARRAY(ep_info, interval, -1),
    ARRAY(ep_info, interface, -1),
    ARRAY(ep_info, max_packet_size, URG_CAP_EP_INFO_MAX_PACKET_SIZE),
    ARRAY(ep_info, max_streams, URG_CAP_BULK_STREAMS),
};
/* length: 16 bits, and 16 more with 32bits_bulk_length */
static const struct urg_field fields_bulk[] = {
    ONE(bulk, endpoint, -1), ONE(bulk, status, -1), ONE(bulk, length, -1), ONE(bulk, stream_id, -1),
};

static void decode_hello(const struct urg_wire *w, const uint8_t *t, struct urg_packet *p)
{
    (void)w;
    memcpy(p->h.hello.version, t, 64);
    p->h.hello.version[63] = '\0';
}
static void encode_hello(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)
{
    int i;
    (void)w;
    memset(t, 0, 64);
    for (i = 0; i < 63 && p->h.hello.version[i]; i++)
        t[i] = (uint8_t)p->h.hello.version[i];
}

static void decode_device_connect(const struct urg_wire *w, const uint8_t *t,
                                  struct urg_packet *p)
{
    struct urg_device_connect *d = &p->h.device_connect;
    d->speed = t[0];
    d->device_class = t[1];
    d->device_subclass = t[2];
    d->device_protocol = t[3];
    d->vendor_id = urgi_get16(t + 4);
    d->product_id = urgi_get16(t + 6);
    d->device_version_bcd =
        urgi_has(w->caps, URG_CAP_CONNECT_DEVICE_VERSION) ? urgi_get16(t + 8) : 0;
}
static void encode_device_connect(const struct urg_wire *w, const struct urg_packet *p,
                                  uint8_t *t)
{
    const struct urg_device_connect *d = &p->h.device_connect;
    t[0] = d->speed;
    t[1] = d->device_class;
    t[2] = d->device_subclass;
    t[3] = d->device_protocol;
    urgi_put16(t + 4, d->vendor_id);
    urgi_put16(t + 6, d->product_id);
    if (urgi_has(w->caps, URG_CAP_CONNECT_DEVICE_VERSION))
        urgi_put16(t + 8, d->device_version_bcd);
}

static void decode_interface_info(const struct urg_wire *w, const uint8_t *t,
                                  struct urg_packet *p)
{
    struct urg_interface_info *d = &p->h.interface_info;
    (void)w;
    d->interface_count = urgi_get32(t);
    memcpy(d->interface, t + 4, 32);
    memcpy(d->interface_class, t + 36, 32);
    memcpy(d->interface_subclass, t + 68, 32);
    memcpy(d->interface_protocol, t + 100, 32);
}
static void encode_interface_info(const struct urg_wire *w, const struct urg_packet *p,
                                  uint8_t *t)
{
    const struct urg_interface_info *d = &p->h.interface_info;
    (void)w;
    urgi_put32(t, d->interface_count);
    memcpy(t + 4, d->interface, 32);
    memcpy(t + 36, d->interface_class, 32);
    memcpy(t + 68, d->interface_subclass, 32);
    memcpy(t + 100, d->interface_protocol, 32);
}

static void decode_ep_info(const struct urg_wire *w, const uint8_t *t, struct urg_packet *p)
{
    struct urg_ep_info *d = &p->h.ep_info;
    bool mps = urgi_has(w->caps, URG_CAP_EP_INFO_MAX_PACKET_SIZE);
    bool streams = urgi_has(w->caps, URG_CAP_BULK_STREAMS);
    memcpy(d->type, t, 32);
    memcpy(d->interval, t + 32, 32);
    memcpy(d->interface, t + 64, 32);
    for (int i = 0; i < 32; i++) {
        d->max_packet_size[i] = mps ? urgi_get16(t + 96 + 2 * i) : 0;
        d->max_streams[i] = streams ? urgi_get32(t + 160 + 4 * i) : 0;
    }
}
static void encode_ep_info(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)
{
    const struct urg_ep_info *d = &p->h.ep_info;
    memcpy(t, d->type, 32);
    memcpy(t + 32, d->interval, 32);
    memcpy(t + 64, d->interface, 32);
    if (urgi_has(w->caps, URG_CAP_EP_INFO_MAX_PACKET_SIZE))
        for (int i = 0; i < 32; i++)
            urgi_put16(t + 96 + 2 * i, d->max_packet_size[i]);
    if (urgi_has(w->caps, URG_CAP_BULK_STREAMS))
        for (int i = 0; i < 32; i++)
            urgi_put32(t + 160 + 4 * i, d->max_streams[i]);
}

static void decode_bulk(const struct urg_wire *w, const uint8_t *t, struct urg_packet *p)
{
    FIELDS_BULK(GET, bulk)
    /* Widen before shifting: length_high << 16 in 16 bits is UB. */
    if (urgi_has(w->caps, URG_CAP_32BITS_BULK_LENGTH))
        p->h.bulk.length |= (uint32_t)urgi_get16(t + URGI_BULK_LENGTH_HIGH_AT) << 16;
}
static void encode_bulk(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)
{
    FIELDS_BULK(PUT, bulk) /* put_u16 writes the length's low 16 bits */
    if (urgi_has(w->caps, URG_CAP_32BITS_BULK_LENGTH))
        urgi_put16(t + URGI_BULK_LENGTH_HIGH_AT, (uint16_t)(p->h.bulk.length >> 16));
}
/* ---------------------------------------------------------------- field rules */

/* The reference takes the whole words and ignores the rest (lenient). */
static int check_hello_words(const struct urg_wire *w, const struct urg_packet *p, char *msg,
                             size_t cap)
{
    (void)w;
    if (p->data_len % 4)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_HELLO,
                        "hello: caps array of %u bytes is not a whole number of 32-bit words",
                        p->data_len);
    return 0;
}

/* The reference reads the words it knows of any number; the engine
 * buffers no more than this (not lenient: memory). */
static int check_hello(const struct urg_wire *w, const struct urg_packet *p, char *msg,
                       size_t cap)
{
    (void)w;
    if (p->data_len / 4 > URG_MAX_HELLO_CAPS_WORDS)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_HELLO, "hello: %u caps words, over the limit of %u",
                        p->data_len / 4, URG_MAX_HELLO_CAPS_WORDS);
    return 0;
}

static int check_interface_info(const struct urg_wire *w, const struct urg_packet *p, char *msg,
                                size_t cap)
{
    (void)w;
    if (p->h.interface_info.interface_count > 32)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_INTERFACE_COUNT,
                        "interface_info: interface_count %u is over 32",
                        p->h.interface_info.interface_count);
    return 0;
}

static int check_ep_info(const struct urg_wire *w, const struct urg_packet *p, char *msg,
                         size_t cap)
{
    (void)w;
    for (int i = 0; i < 32; i++) {
        uint8_t t = p->h.ep_info.type[i];
        if (t > URG_EP_INTERRUPT && t != URG_EP_INVALID)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_FIELD,
                            "ep_info: type[%d] (endpoint 0x%02x) is %u, not an endpoint type", i,
                            urg_ep_address(i), t);
    }
    return 0;
}

/* The string itself is checked once it has arrived (urgi_check_payload). */
static int check_filter_filter(const struct urg_wire *w, const struct urg_packet *p, char *msg,
                               size_t cap)
{
    (void)w;
    if (p->data_len < 1)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_FILTER, "filter_filter: no filter string");
    if (p->data_len > URG_MAX_FILTER_LENGTH)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_FILTER,
                        "filter_filter: string of %u bytes, over the limit of %u", p->data_len,
                        URG_MAX_FILTER_LENGTH);
    return 0;
}

static int check_start_bulk_receiving(const struct urg_wire *w, const struct urg_packet *p,
                                      char *msg, size_t cap)
{
    (void)w;
    if (p->h.start_bulk_receiving.bytes_per_transfer > URG_MAX_BULK_LENGTH)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_BULK_LENGTH,
                        "start_bulk_receiving: bytes_per_transfer %u is over %u",
                        p->h.start_bulk_receiving.bytes_per_transfer, URG_MAX_BULK_LENGTH);
    return 0;
}

static int check_control(const struct urg_wire *w, const struct urg_packet *p, char *msg,
                         size_t cap)
{
    (void)w;
    if ((p->h.control.endpoint ^ p->h.control.requesttype) & 0x80)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_FIELD,
                        "control_packet: endpoint 0x%02x and requesttype 0x%02x disagree on the "
                        "direction",
                        p->h.control.endpoint, p->h.control.requesttype);
    return 0;
}

static int check_bulk(const struct urg_wire *w, const struct urg_packet *p, char *msg,
                      size_t cap)
{
    uint32_t length = p->h.bulk.length;
    if (length > 0xffff && !urgi_has(w->caps, URG_CAP_32BITS_BULK_LENGTH))
        return urgi_fmt(msg, cap, URG_ERR_PROTO_BULK_LENGTH,
                        "bulk_packet: length %u needs the 32bits_bulk_length cap", length);
    if (length > URG_MAX_BULK_LENGTH)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_BULK_LENGTH, "bulk_packet: length %u is over %u",
                        length, URG_MAX_BULK_LENGTH);
    return 0;
}

static int check_buffered_bulk(const struct urg_wire *w, const struct urg_packet *p, char *msg,
                               size_t cap)
{
    (void)w;
    if (p->h.buffered_bulk.length > URG_MAX_BULK_LENGTH)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_BULK_LENGTH,
                        "buffered_bulk_packet: length %u is over %u", p->h.buffered_bulk.length,
                        URG_MAX_BULK_LENGTH);
    return 0;
}

/* ---------------------------------------------------------------- the rows */

#define H URGI_TO_HOST
#define G URGI_TO_GUEST
#define HG (URGI_TO_HOST | URGI_TO_GUEST)
#define CAP(c) URG_CAP_BIT(c)
#define ROW(t, ...) [URGI_INDEX(t)] = { .type = (t), __VA_ARGS__ }
#define CODEC(x) .decode = decode_##x, .encode = encode_##x
/* A type whose fields are a list (FIELD_CODEC): its codec, and its type
 * header's size as the sum of its fields' sizes. */
#define SIZE_OF(x, kind, m, off) +SIZE_##kind
#define LISTED(x, FIELDS) .header = 0 FIELDS(SIZE_OF, x), CODEC(x)
/* Which members of its header are the endpoint, the data length, the
 * status and the stream id. */
#define EP(x) .endpoint_at = offsetof(struct urg_packet, h.x.endpoint)
#define STATUS(x) .status_at = offsetof(struct urg_packet, h.x.status)
#define STREAM_ID(x) .stream_id_at = offsetof(struct urg_packet, h.x.stream_id)
#define STREAM(k) .stream = (k) + 1
/* The request types a reply or status answers. */
#define ANSWERS(a, b) .answers = URGI_BIT(a) | URGI_BIT(b)
#define LEN(x) .length_at = offsetof(struct urg_packet, h.x.length), \
               .length_size = sizeof(((struct urg_packet *)0)->h.x.length)

const struct urgi_type urgi_types[URG_TYPE_COUNT] = {
    ROW(URG_HELLO, .name = "hello", .dirs = HG, .data = URGI_DATA_OWN,
        .header = 64, CODEC(hello), .check = check_hello, .lenient = check_hello_words),
    ROW(URG_DEVICE_CONNECT, .name = "device_connect", .dirs = G,
        .header = 8, .more = { { URG_CAP_CONNECT_DEVICE_VERSION, 2 } },
        CODEC(device_connect)),
    ROW(URG_DEVICE_DISCONNECT, .name = "device_disconnect", .dirs = G,
        CODEC(none)),
    ROW(URG_RESET, .name = "reset", .dirs = H,
        CODEC(none)),
    ROW(URG_INTERFACE_INFO, .name = "interface_info", .dirs = G,
        .header = 4 + 4 * 32, CODEC(interface_info), .check = check_interface_info),
    /* type, interval, interface; then max_packet_size; then max_streams
     * (bulk_streams only ever comes with ep_info_max_packet_size:
     * urg_wire_from_caps) */
    ROW(URG_EP_INFO, .name = "ep_info", .dirs = G,
        .header = 3 * 32,
        .more = { { URG_CAP_EP_INFO_MAX_PACKET_SIZE, 2 * 32 }, { URG_CAP_BULK_STREAMS, 4 * 32 } },
        CODEC(ep_info), .lenient = check_ep_info),
    ROW(URG_SET_CONFIGURATION, .name = "set_configuration", .dirs = H,
        LISTED(set_configuration, FIELDS_SET_CONFIGURATION)),
    ROW(URG_GET_CONFIGURATION, .name = "get_configuration", .dirs = H,
        CODEC(none)),
    ROW(URG_CONFIGURATION_STATUS, .name = "configuration_status", .dirs = G,
        LISTED(configuration_status, FIELDS_CONFIGURATION_STATUS),
        STATUS(configuration_status),
        .reply = URGI_REPLY, ANSWERS(URG_SET_CONFIGURATION, URG_GET_CONFIGURATION)),
    ROW(URG_SET_ALT_SETTING, .name = "set_alt_setting", .dirs = H,
        LISTED(set_alt_setting, FIELDS_SET_ALT_SETTING)),
    ROW(URG_GET_ALT_SETTING, .name = "get_alt_setting", .dirs = H,
        LISTED(get_alt_setting, FIELDS_GET_ALT_SETTING)),
    ROW(URG_ALT_SETTING_STATUS, .name = "alt_setting_status", .dirs = G,
        LISTED(alt_setting_status, FIELDS_ALT_SETTING_STATUS),
        STATUS(alt_setting_status),
        .reply = URGI_REPLY, ANSWERS(URG_SET_ALT_SETTING, URG_GET_ALT_SETTING)),
    ROW(URG_START_ISO_STREAM, .name = "start_iso_stream", .dirs = H,
        LISTED(start_iso_stream, FIELDS_START_ISO_STREAM),
        EP(start_iso_stream), STREAM(URGI_STREAM_ISO), .starts = true),
    ROW(URG_STOP_ISO_STREAM, .name = "stop_iso_stream", .dirs = H,
        LISTED(stop_iso_stream, FIELDS_ENDPOINT),
        EP(stop_iso_stream), STREAM(URGI_STREAM_ISO)),
    ROW(URG_ISO_STREAM_STATUS, .name = "iso_stream_status", .dirs = G,
        LISTED(iso_stream_status, FIELDS_STATUS_ENDPOINT),
        EP(iso_stream_status), STATUS(iso_stream_status), STREAM(URGI_STREAM_ISO),
        .reply = URGI_STATUS, ANSWERS(URG_START_ISO_STREAM, URG_STOP_ISO_STREAM)),
    ROW(URG_START_INTERRUPT_RECEIVING, .name = "start_interrupt_receiving", .dirs = H,
        LISTED(start_interrupt_receiving, FIELDS_ENDPOINT), .in_endpoint = true,
        EP(start_interrupt_receiving), STREAM(URGI_STREAM_INT), .starts = true),
    ROW(URG_STOP_INTERRUPT_RECEIVING, .name = "stop_interrupt_receiving", .dirs = H,
        LISTED(stop_interrupt_receiving, FIELDS_ENDPOINT), .in_endpoint = true,
        EP(stop_interrupt_receiving), STREAM(URGI_STREAM_INT)),
    ROW(URG_INTERRUPT_RECEIVING_STATUS, .name = "interrupt_receiving_status", .dirs = G,
        LISTED(interrupt_receiving_status, FIELDS_STATUS_ENDPOINT), .in_endpoint = true,
        EP(interrupt_receiving_status), STATUS(interrupt_receiving_status),
        STREAM(URGI_STREAM_INT),
        .reply = URGI_STATUS,
        ANSWERS(URG_START_INTERRUPT_RECEIVING, URG_STOP_INTERRUPT_RECEIVING)),
    ROW(URG_ALLOC_BULK_STREAMS, .name = "alloc_bulk_streams", .dirs = H,
        .caps = CAP(URG_CAP_BULK_STREAMS),
        LISTED(alloc_bulk_streams, FIELDS_ALLOC_BULK_STREAMS)),
    ROW(URG_FREE_BULK_STREAMS, .name = "free_bulk_streams", .dirs = H,
        .caps = CAP(URG_CAP_BULK_STREAMS),
        LISTED(free_bulk_streams, FIELDS_FREE_BULK_STREAMS)),
    ROW(URG_BULK_STREAMS_STATUS, .name = "bulk_streams_status", .dirs = G,
        .caps = CAP(URG_CAP_BULK_STREAMS),
        LISTED(bulk_streams_status, FIELDS_BULK_STREAMS_STATUS),
        STATUS(bulk_streams_status),
        .reply = URGI_REPLY, ANSWERS(URG_ALLOC_BULK_STREAMS, URG_FREE_BULK_STREAMS)),
    ROW(URG_CANCEL_DATA_PACKET, .name = "cancel_data_packet", .dirs = H,
        CODEC(none)),
    ROW(URG_FILTER_REJECT, .name = "filter_reject", .dirs = H,
        .caps = CAP(URG_CAP_FILTER),
        CODEC(none)),
    ROW(URG_FILTER_FILTER, .name = "filter_filter", .dirs = HG, .data = URGI_DATA_OWN,
        .caps = CAP(URG_CAP_FILTER),
        CODEC(none), .check = check_filter_filter),
    ROW(URG_DEVICE_DISCONNECT_ACK, .name = "device_disconnect_ack", .dirs = H,
        .caps = CAP(URG_CAP_DEVICE_DISCONNECT_ACK),
        CODEC(none)),
    ROW(URG_START_BULK_RECEIVING, .name = "start_bulk_receiving", .dirs = H,
        .caps = CAP(URG_CAP_BULK_RECEIVING),
        LISTED(start_bulk_receiving, FIELDS_START_BULK_RECEIVING), .in_endpoint = true,
        .check = check_start_bulk_receiving,
        EP(start_bulk_receiving), STREAM_ID(start_bulk_receiving),
        STREAM(URGI_STREAM_BULKRECV), .starts = true),
    ROW(URG_STOP_BULK_RECEIVING, .name = "stop_bulk_receiving", .dirs = H,
        .caps = CAP(URG_CAP_BULK_RECEIVING),
        LISTED(stop_bulk_receiving, FIELDS_STOP_BULK_RECEIVING), .in_endpoint = true,
        EP(stop_bulk_receiving), STREAM_ID(stop_bulk_receiving), STREAM(URGI_STREAM_BULKRECV)),
    ROW(URG_BULK_RECEIVING_STATUS, .name = "bulk_receiving_status", .dirs = G,
        .caps = CAP(URG_CAP_BULK_RECEIVING),
        LISTED(bulk_receiving_status, FIELDS_BULK_RECEIVING_STATUS), .in_endpoint = true,
        EP(bulk_receiving_status), STATUS(bulk_receiving_status),
        STREAM_ID(bulk_receiving_status), STREAM(URGI_STREAM_BULKRECV),
        .reply = URGI_STATUS, ANSWERS(URG_START_BULK_RECEIVING, URG_STOP_BULK_RECEIVING)),
    ROW(URG_CONTROL_PACKET, .name = "control_packet", .dirs = HG, .data = URGI_DATA_ENDPOINT,
        LISTED(control, FIELDS_CONTROL), .lenient = check_control,
        EP(control), LEN(control), STATUS(control),
        .reply = URGI_REPLY, ANSWERS(URG_CONTROL_PACKET, URG_CONTROL_PACKET)),
    ROW(URG_BULK_PACKET, .name = "bulk_packet", .dirs = HG, .data = URGI_DATA_ENDPOINT,
        .header = 8, .more = { { URG_CAP_32BITS_BULK_LENGTH, 2 } },
        CODEC(bulk), .check = check_bulk,
        EP(bulk), LEN(bulk), STATUS(bulk), STREAM_ID(bulk),
        .reply = URGI_REPLY, ANSWERS(URG_BULK_PACKET, URG_BULK_PACKET)),
    /* Iso data travels only the way its endpoint's data goes. */
    ROW(URG_ISO_PACKET, .name = "iso_packet", .dirs = HG, .data = URGI_DATA_ENDPOINT,
        .data_only = HG,
        LISTED(iso, FIELDS_ENDPOINT_STATUS_LENGTH),
        EP(iso), LEN(iso), STATUS(iso), STREAM(URGI_STREAM_ISO)),
    /* Interrupt: from the guest only to an OUT endpoint (IN is a stream);
     * from the host an IN endpoint's data, or the reply to an OUT request. */
    ROW(URG_INTERRUPT_PACKET, .name = "interrupt_packet", .dirs = HG,
        .data = URGI_DATA_ENDPOINT, .data_only = H,
        LISTED(interrupt, FIELDS_ENDPOINT_STATUS_LENGTH),
        EP(interrupt), LEN(interrupt), STATUS(interrupt), STREAM(URGI_STREAM_INT),
        .reply = URGI_REPLY_IF_OUT, ANSWERS(URG_INTERRUPT_PACKET, URG_INTERRUPT_PACKET)),
    ROW(URG_BUFFERED_BULK_PACKET, .name = "buffered_bulk_packet", .dirs = G,
        .data = URGI_DATA_ENDPOINT, .data_only = G, .caps = CAP(URG_CAP_BULK_RECEIVING),
        LISTED(buffered_bulk, FIELDS_BUFFERED_BULK), .check = check_buffered_bulk,
        EP(buffered_bulk), LEN(buffered_bulk), STATUS(buffered_bulk), STREAM_ID(buffered_bulk),
        STREAM(URGI_STREAM_BULKRECV)),
};

/* ---------------------------------------------------------------- public */

URG_API int urg_packet_endpoint(const struct urg_packet *p)
{
    const struct urgi_type *t = p ? urgi_type(p->type) : NULL;
    return t ? urgi_packet_endpoint(t, p) : -1;
}

URG_API void urg_packet_fields(const struct urg_packet *p, struct urg_packet_fields *f)
{
    const struct urgi_type *t = p ? urgi_type(p->type) : NULL;
    f->endpoint = f->status = -1;
    f->stream_id = f->length = -1;
    if (!t)
        return;
    f->endpoint = urgi_packet_endpoint(t, p);
    if (t->status_at)
        f->status = urgi_packet_status(t, p);
    if (t->stream_id_at)
        f->stream_id = urgi_packet_stream_id(t, p);
    if (t->length_at)
        f->length = urgi_packet_length(t, p);
}

URG_API uint32_t urg_packet_stream(const struct urg_packet *p)
{
    static const uint32_t start[URGI_STREAM_KINDS] = {
        [URGI_STREAM_INT] = URG_START_INTERRUPT_RECEIVING,
        [URGI_STREAM_ISO] = URG_START_ISO_STREAM,
        [URGI_STREAM_BULKRECV] = URG_START_BULK_RECEIVING,
    };
    const struct urgi_type *t = p ? urgi_type(p->type) : NULL;
    int kind = t ? urgi_type_stream(t) : -1;
    if (kind < 0 || (t->reply == URGI_REPLY_IF_OUT && !(urgi_packet_endpoint(t, p) & 0x80)))
        return 0;
    return start[kind];
}

URG_API int urg_packet_answers(const struct urg_packet *reply, const struct urg_packet *request)
{
    const struct urgi_type *t = reply ? urgi_type(reply->type) : NULL;
    int i = request ? urgi_type_index(request->type) : -1;
    if (!t || i < 0 || reply->id != request->id || !((t->answers >> i) & 1u))
        return 0;
    switch (t->reply) {
    case URGI_REPLY_IF_OUT:
        return !(urgi_packet_endpoint(t, reply) & 0x80);
    case URGI_STATUS:
        return urgi_packet_endpoint(t, reply) == urg_packet_endpoint(request);
    default:
        return 1;
    }
}

/* ---------------------------------------------------------------- a row's columns and fields */

_Static_assert(URGI_TO_HOST == URG_DIR_BIT(URG_DIR_TO_HOST) &&
                   URGI_TO_GUEST == URG_DIR_BIT(URG_DIR_TO_GUEST),
               "a row's dirs are URG_DIR_BIT()s");
_Static_assert((int)URGI_DATA_NONE == URG_DATA_NONE && (int)URGI_DATA_OWN == URG_DATA_OWN &&
                   (int)URGI_DATA_ENDPOINT == URG_DATA_ENDPOINT,
               "a row's data column is an enum urg_data_rule");

/* Each codec's field list. A row names its codec once (CODEC(x)); its
 * fields are found by the row's encode function. */
#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))
#define CODEC_FIELDS(x) { encode_##x, fields_##x, COUNT(fields_##x) },
#define LISTED_FIELDS(x, FIELDS) CODEC_FIELDS(x)
static const struct {
    void (*encode)(const struct urg_wire *w, const struct urg_packet *p, uint8_t *th);
    const struct urg_field *fields;
    int n;
} codec_fields[] = {
    LISTED_CODECS(LISTED_FIELDS)
    CODEC_FIELDS(hello)
    CODEC_FIELDS(device_connect)
    CODEC_FIELDS(interface_info)
    CODEC_FIELDS(ep_info)
    CODEC_FIELDS(bulk)
    /* encode_none: no fields */
};

static const struct urg_field *row_fields(const struct urgi_type *t, int *n)
{
    for (int i = 0; i < COUNT(codec_fields); i++)
        if (codec_fields[i].encode == t->encode) {
            *n = codec_fields[i].n;
            return codec_fields[i].fields;
        }
    *n = 0;
    return NULL;
}

URG_API int urg_type_info(uint32_t type, struct urg_type_info *info)
{
    const struct urgi_type *t = urgi_type(type);
    if (!t || !info)
        return URG_ERR_INVALID;
    memset(info, 0, sizeof(*info));
    info->dirs = t->dirs;
    info->caps = t->caps;
    info->data = t->data;
    info->data_only = t->data_only;
    info->in_endpoint = t->in_endpoint;
    row_fields(t, &info->fields);
    return 0;
}

URG_API int urg_type_field(uint32_t type, int i, struct urg_field *f)
{
    const struct urgi_type *t = urgi_type(type);
    const struct urg_field *list;
    int n;
    if (!t || !f || i < 0)
        return 0;
    list = row_fields(t, &n);
    if (i >= n)
        return 0;
    *f = list[i];
    if (f->offset == t->endpoint_at)
        f->role = URG_FIELD_ENDPOINT;
    else if (f->offset == t->status_at)
        f->role = URG_FIELD_STATUS;
    else if (f->offset == t->length_at)
        f->role = URG_FIELD_LENGTH;
    else if (f->offset == t->stream_id_at)
        f->role = URG_FIELD_STREAM_ID;
    return 1;
}

URG_API uint32_t urg_field_get(const struct urg_packet *p, const struct urg_field *f, int i)
{
    const uint8_t *m = (const uint8_t *)p + f->offset + (size_t)i * f->size;
    uint16_t v16;
    uint32_t v32;
    switch (f->size) {
    case 1: return *m;
    case 2: memcpy(&v16, m, 2); return v16;
    default: memcpy(&v32, m, 4); return v32;
    }
}

URG_API void urg_field_set(struct urg_packet *p, const struct urg_field *f, int i, uint32_t v)
{
    uint8_t *m = (uint8_t *)p + f->offset + (size_t)i * f->size;
    uint16_t v16 = (uint16_t)v;
    switch (f->size) {
    case 1: *m = (uint8_t)v; break;
    case 2: memcpy(m, &v16, 2); break;
    default: memcpy(m, &v, 4); break;
    }
}

/*
 * packet_types.c - one row per usbredir 0.7 packet type (urgi_types[]),
 * and beside each row its field codec.
 *
 * A row holds every fact about a type that is not a field's value: its
 * number and name, the directions it travels, whether it carries data and
 * how, the cap both sides need, its type-header size under each set of
 * caps, the IN-endpoint rule, whether it answers a request and which, and
 * the two functions that move its fields between the wire and struct
 * urg_packet. codec.c (sizes, frame and header checks, urg_encode,
 * urg_decode), names.c (urg_type_name, the dense index) and dispatch.c
 * (which reply answers which request) read the rows; nothing else lists
 * the types. Adding a type, or a caps variant of one, is a row here and
 * its two field functions.
 */
#include "internal.h"

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

/* Types whose type header is a few bytes, one field each: the struct's
 * members in wire order. */
#define BYTES1(x, a)                                                                            \
    static void decode_##x(const struct urg_wire *w, const uint8_t *t, struct urg_packet *p)    \
    {                                                                                           \
        (void)w;                                                                                \
        p->h.x.a = t[0];                                                                        \
    }                                                                                           \
    static void encode_##x(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)    \
    {                                                                                           \
        (void)w;                                                                                \
        t[0] = p->h.x.a;                                                                        \
    }
#define BYTES2(x, a, b)                                                                         \
    static void decode_##x(const struct urg_wire *w, const uint8_t *t, struct urg_packet *p)    \
    {                                                                                           \
        (void)w;                                                                                \
        p->h.x.a = t[0];                                                                        \
        p->h.x.b = t[1];                                                                        \
    }                                                                                           \
    static void encode_##x(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)    \
    {                                                                                           \
        (void)w;                                                                                \
        t[0] = p->h.x.a;                                                                        \
        t[1] = p->h.x.b;                                                                        \
    }
#define BYTES3(x, a, b, c)                                                                      \
    static void decode_##x(const struct urg_wire *w, const uint8_t *t, struct urg_packet *p)    \
    {                                                                                           \
        (void)w;                                                                                \
        p->h.x.a = t[0];                                                                        \
        p->h.x.b = t[1];                                                                        \
        p->h.x.c = t[2];                                                                        \
    }                                                                                           \
    static void encode_##x(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)    \
    {                                                                                           \
        (void)w;                                                                                \
        t[0] = p->h.x.a;                                                                        \
        t[1] = p->h.x.b;                                                                        \
        t[2] = p->h.x.c;                                                                        \
    }

BYTES1(set_configuration, configuration)
BYTES2(configuration_status, status, configuration)
BYTES2(set_alt_setting, interface, alt)
BYTES1(get_alt_setting, interface)
BYTES3(alt_setting_status, status, interface, alt)
BYTES3(start_iso_stream, endpoint, pkts_per_urb, no_urbs)
BYTES1(stop_iso_stream, endpoint)
BYTES2(iso_stream_status, status, endpoint)
BYTES1(start_interrupt_receiving, endpoint)
BYTES1(stop_interrupt_receiving, endpoint)
BYTES2(interrupt_receiving_status, status, endpoint)

static void decode_alloc_bulk_streams(const struct urg_wire *w, const uint8_t *t,
                                      struct urg_packet *p)
{
    (void)w;
    p->h.alloc_bulk_streams.endpoints = urgi_get32(t);
    p->h.alloc_bulk_streams.no_streams = urgi_get32(t + 4);
}
static void encode_alloc_bulk_streams(const struct urg_wire *w, const struct urg_packet *p,
                                      uint8_t *t)
{
    (void)w;
    urgi_put32(t, p->h.alloc_bulk_streams.endpoints);
    urgi_put32(t + 4, p->h.alloc_bulk_streams.no_streams);
}

static void decode_free_bulk_streams(const struct urg_wire *w, const uint8_t *t,
                                     struct urg_packet *p)
{
    (void)w;
    p->h.free_bulk_streams.endpoints = urgi_get32(t);
}
static void encode_free_bulk_streams(const struct urg_wire *w, const struct urg_packet *p,
                                     uint8_t *t)
{
    (void)w;
    urgi_put32(t, p->h.free_bulk_streams.endpoints);
}

static void decode_bulk_streams_status(const struct urg_wire *w, const uint8_t *t,
                                       struct urg_packet *p)
{
    (void)w;
    p->h.bulk_streams_status.endpoints = urgi_get32(t);
    p->h.bulk_streams_status.no_streams = urgi_get32(t + 4);
    p->h.bulk_streams_status.status = t[8];
}
static void encode_bulk_streams_status(const struct urg_wire *w, const struct urg_packet *p,
                                       uint8_t *t)
{
    (void)w;
    urgi_put32(t, p->h.bulk_streams_status.endpoints);
    urgi_put32(t + 4, p->h.bulk_streams_status.no_streams);
    t[8] = p->h.bulk_streams_status.status;
}

static void decode_start_bulk_receiving(const struct urg_wire *w, const uint8_t *t,
                                        struct urg_packet *p)
{
    (void)w;
    p->h.start_bulk_receiving.stream_id = urgi_get32(t);
    p->h.start_bulk_receiving.bytes_per_transfer = urgi_get32(t + 4);
    p->h.start_bulk_receiving.endpoint = t[8];
    p->h.start_bulk_receiving.no_transfers = t[9];
}
static void encode_start_bulk_receiving(const struct urg_wire *w, const struct urg_packet *p,
                                        uint8_t *t)
{
    (void)w;
    urgi_put32(t, p->h.start_bulk_receiving.stream_id);
    urgi_put32(t + 4, p->h.start_bulk_receiving.bytes_per_transfer);
    t[8] = p->h.start_bulk_receiving.endpoint;
    t[9] = p->h.start_bulk_receiving.no_transfers;
}

static void decode_stop_bulk_receiving(const struct urg_wire *w, const uint8_t *t,
                                       struct urg_packet *p)
{
    (void)w;
    p->h.stop_bulk_receiving.stream_id = urgi_get32(t);
    p->h.stop_bulk_receiving.endpoint = t[4];
}
static void encode_stop_bulk_receiving(const struct urg_wire *w, const struct urg_packet *p,
                                       uint8_t *t)
{
    (void)w;
    urgi_put32(t, p->h.stop_bulk_receiving.stream_id);
    t[4] = p->h.stop_bulk_receiving.endpoint;
}

static void decode_bulk_receiving_status(const struct urg_wire *w, const uint8_t *t,
                                         struct urg_packet *p)
{
    (void)w;
    p->h.bulk_receiving_status.stream_id = urgi_get32(t);
    p->h.bulk_receiving_status.endpoint = t[4];
    p->h.bulk_receiving_status.status = t[5];
}
static void encode_bulk_receiving_status(const struct urg_wire *w, const struct urg_packet *p,
                                         uint8_t *t)
{
    (void)w;
    urgi_put32(t, p->h.bulk_receiving_status.stream_id);
    t[4] = p->h.bulk_receiving_status.endpoint;
    t[5] = p->h.bulk_receiving_status.status;
}

static void decode_control(const struct urg_wire *w, const uint8_t *t, struct urg_packet *p)
{
    (void)w;
    p->h.control.endpoint = t[0];
    p->h.control.request = t[1];
    p->h.control.requesttype = t[2];
    p->h.control.status = t[3];
    p->h.control.value = urgi_get16(t + 4);
    p->h.control.index = urgi_get16(t + 6);
    p->h.control.length = urgi_get16(t + 8);
}
static void encode_control(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)
{
    (void)w;
    t[0] = p->h.control.endpoint;
    t[1] = p->h.control.request;
    t[2] = p->h.control.requesttype;
    t[3] = p->h.control.status;
    urgi_put16(t + 4, p->h.control.value);
    urgi_put16(t + 6, p->h.control.index);
    urgi_put16(t + 8, p->h.control.length);
}

static void decode_bulk(const struct urg_wire *w, const uint8_t *t, struct urg_packet *p)
{
    p->h.bulk.endpoint = t[0];
    p->h.bulk.status = t[1];
    p->h.bulk.length = urgi_get16(t + 2);
    p->h.bulk.stream_id = urgi_get32(t + 4);
    /* Widen before shifting: length_high << 16 in 16 bits is UB. */
    if (urgi_has(w->caps, URG_CAP_32BITS_BULK_LENGTH))
        p->h.bulk.length |= (uint32_t)urgi_get16(t + 8) << 16;
}
static void encode_bulk(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)
{
    t[0] = p->h.bulk.endpoint;
    t[1] = p->h.bulk.status;
    urgi_put16(t + 2, (uint16_t)p->h.bulk.length);
    urgi_put32(t + 4, p->h.bulk.stream_id);
    if (urgi_has(w->caps, URG_CAP_32BITS_BULK_LENGTH))
        urgi_put16(t + 8, (uint16_t)(p->h.bulk.length >> 16));
}

/* iso_packet and interrupt_packet: endpoint, status, 16-bit length. */
#define EP_STATUS_LENGTH(x)                                                                     \
    static void decode_##x(const struct urg_wire *w, const uint8_t *t, struct urg_packet *p)    \
    {                                                                                           \
        (void)w;                                                                                \
        p->h.x.endpoint = t[0];                                                                 \
        p->h.x.status = t[1];                                                                   \
        p->h.x.length = urgi_get16(t + 2);                                                      \
    }                                                                                           \
    static void encode_##x(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)    \
    {                                                                                           \
        (void)w;                                                                                \
        t[0] = p->h.x.endpoint;                                                                 \
        t[1] = p->h.x.status;                                                                   \
        urgi_put16(t + 2, p->h.x.length);                                                       \
    }
EP_STATUS_LENGTH(iso)
EP_STATUS_LENGTH(interrupt)

static void decode_buffered_bulk(const struct urg_wire *w, const uint8_t *t,
                                 struct urg_packet *p)
{
    (void)w;
    p->h.buffered_bulk.stream_id = urgi_get32(t);
    p->h.buffered_bulk.length = urgi_get32(t + 4);
    p->h.buffered_bulk.endpoint = t[8];
    p->h.buffered_bulk.status = t[9];
}
static void encode_buffered_bulk(const struct urg_wire *w, const struct urg_packet *p,
                                 uint8_t *t)
{
    (void)w;
    urgi_put32(t, p->h.buffered_bulk.stream_id);
    urgi_put32(t + 4, p->h.buffered_bulk.length);
    t[8] = p->h.buffered_bulk.endpoint;
    t[9] = p->h.buffered_bulk.status;
}

/* ---------------------------------------------------------------- field rules */

static int check_hello(const struct urg_wire *w, const struct urg_packet *p, char *msg,
                       size_t cap)
{
    (void)w;
    if (p->data_len % 4)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_HELLO,
                        "hello: caps array of %u bytes is not a whole number of 32-bit words",
                        p->data_len);
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
    ROW(URG_HELLO, .name = "hello", .dirs = HG, .data = URGI_DATA_OWN, .header = 64,
        CODEC(hello), .check = check_hello),
    ROW(URG_DEVICE_CONNECT, .name = "device_connect", .dirs = G, .header = 8,
        .more = { { URG_CAP_CONNECT_DEVICE_VERSION, 2 } },
        CODEC(device_connect)),
    ROW(URG_DEVICE_DISCONNECT, .name = "device_disconnect", .dirs = G,
        CODEC(none)),
    ROW(URG_RESET, .name = "reset", .dirs = H,
        CODEC(none)),
    ROW(URG_INTERFACE_INFO, .name = "interface_info", .dirs = G, .header = 4 + 4 * 32,
        CODEC(interface_info), .check = check_interface_info),
    /* type, interval, interface; then max_packet_size; then max_streams
     * (bulk_streams only ever comes with ep_info_max_packet_size:
     * urg_wire_from_caps) */
    ROW(URG_EP_INFO, .name = "ep_info", .dirs = G, .header = 3 * 32,
        .more = { { URG_CAP_EP_INFO_MAX_PACKET_SIZE, 2 * 32 }, { URG_CAP_BULK_STREAMS, 4 * 32 } },
        CODEC(ep_info), .check = check_ep_info),
    ROW(URG_SET_CONFIGURATION, .name = "set_configuration", .dirs = H, .header = 1,
        CODEC(set_configuration)),
    ROW(URG_GET_CONFIGURATION, .name = "get_configuration", .dirs = H,
        CODEC(none)),
    ROW(URG_CONFIGURATION_STATUS, .name = "configuration_status", .dirs = G, .header = 2,
        STATUS(configuration_status),
        .reply = URGI_REPLY, ANSWERS(URG_SET_CONFIGURATION, URG_GET_CONFIGURATION),
        CODEC(configuration_status)),
    ROW(URG_SET_ALT_SETTING, .name = "set_alt_setting", .dirs = H, .header = 2,
        CODEC(set_alt_setting)),
    ROW(URG_GET_ALT_SETTING, .name = "get_alt_setting", .dirs = H, .header = 1,
        CODEC(get_alt_setting)),
    ROW(URG_ALT_SETTING_STATUS, .name = "alt_setting_status", .dirs = G, .header = 3,
        STATUS(alt_setting_status),
        .reply = URGI_REPLY, ANSWERS(URG_SET_ALT_SETTING, URG_GET_ALT_SETTING),
        CODEC(alt_setting_status)),
    ROW(URG_START_ISO_STREAM, .name = "start_iso_stream", .dirs = H, .header = 3,
        EP(start_iso_stream), STREAM(URGI_STREAM_ISO), .starts = true,
        CODEC(start_iso_stream)),
    ROW(URG_STOP_ISO_STREAM, .name = "stop_iso_stream", .dirs = H, .header = 1,
        EP(stop_iso_stream), STREAM(URGI_STREAM_ISO),
        CODEC(stop_iso_stream)),
    ROW(URG_ISO_STREAM_STATUS, .name = "iso_stream_status", .dirs = G, .header = 2,
        EP(iso_stream_status), STATUS(iso_stream_status), STREAM(URGI_STREAM_ISO),
        .reply = URGI_STATUS, ANSWERS(URG_START_ISO_STREAM, URG_STOP_ISO_STREAM),
        CODEC(iso_stream_status)),
    ROW(URG_START_INTERRUPT_RECEIVING, .name = "start_interrupt_receiving", .dirs = H,
        .header = 1, .in_endpoint = true,
        EP(start_interrupt_receiving), STREAM(URGI_STREAM_INT), .starts = true,
        CODEC(start_interrupt_receiving)),
    ROW(URG_STOP_INTERRUPT_RECEIVING, .name = "stop_interrupt_receiving", .dirs = H,
        .header = 1, .in_endpoint = true,
        EP(stop_interrupt_receiving), STREAM(URGI_STREAM_INT),
        CODEC(stop_interrupt_receiving)),
    ROW(URG_INTERRUPT_RECEIVING_STATUS, .name = "interrupt_receiving_status", .dirs = G,
        .header = 2, .in_endpoint = true,
        EP(interrupt_receiving_status), STATUS(interrupt_receiving_status),
        STREAM(URGI_STREAM_INT),
        .reply = URGI_STATUS, ANSWERS(URG_START_INTERRUPT_RECEIVING, URG_STOP_INTERRUPT_RECEIVING),
        CODEC(interrupt_receiving_status)),
    ROW(URG_ALLOC_BULK_STREAMS, .name = "alloc_bulk_streams", .dirs = H,
        .caps = CAP(URG_CAP_BULK_STREAMS), .header = 8,
        CODEC(alloc_bulk_streams)),
    ROW(URG_FREE_BULK_STREAMS, .name = "free_bulk_streams", .dirs = H,
        .caps = CAP(URG_CAP_BULK_STREAMS), .header = 4,
        CODEC(free_bulk_streams)),
    ROW(URG_BULK_STREAMS_STATUS, .name = "bulk_streams_status", .dirs = G,
        .caps = CAP(URG_CAP_BULK_STREAMS), .header = 9,
        STATUS(bulk_streams_status),
        .reply = URGI_REPLY, ANSWERS(URG_ALLOC_BULK_STREAMS, URG_FREE_BULK_STREAMS),
        CODEC(bulk_streams_status)),
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
        .caps = CAP(URG_CAP_BULK_RECEIVING), .header = 10, .in_endpoint = true,
        EP(start_bulk_receiving), STREAM_ID(start_bulk_receiving),
        STREAM(URGI_STREAM_BULKRECV), .starts = true,
        CODEC(start_bulk_receiving), .check = check_start_bulk_receiving),
    ROW(URG_STOP_BULK_RECEIVING, .name = "stop_bulk_receiving", .dirs = H,
        .caps = CAP(URG_CAP_BULK_RECEIVING), .header = 5, .in_endpoint = true,
        EP(stop_bulk_receiving), STREAM_ID(stop_bulk_receiving), STREAM(URGI_STREAM_BULKRECV),
        CODEC(stop_bulk_receiving)),
    ROW(URG_BULK_RECEIVING_STATUS, .name = "bulk_receiving_status", .dirs = G,
        .caps = CAP(URG_CAP_BULK_RECEIVING), .header = 6, .in_endpoint = true,
        EP(bulk_receiving_status), STATUS(bulk_receiving_status),
        STREAM_ID(bulk_receiving_status), STREAM(URGI_STREAM_BULKRECV),
        .reply = URGI_STATUS, ANSWERS(URG_START_BULK_RECEIVING, URG_STOP_BULK_RECEIVING),
        CODEC(bulk_receiving_status)),
    ROW(URG_CONTROL_PACKET, .name = "control_packet", .dirs = HG, .data = URGI_DATA_ENDPOINT,
        .header = 10,
        EP(control), LEN(control), STATUS(control),
        .reply = URGI_REPLY, ANSWERS(URG_CONTROL_PACKET, URG_CONTROL_PACKET),
        CODEC(control), .check = check_control),
    ROW(URG_BULK_PACKET, .name = "bulk_packet", .dirs = HG, .data = URGI_DATA_ENDPOINT,
        .header = 8, .more = { { URG_CAP_32BITS_BULK_LENGTH, 2 } },
        EP(bulk), LEN(bulk), STATUS(bulk), STREAM_ID(bulk),
        .reply = URGI_REPLY, ANSWERS(URG_BULK_PACKET, URG_BULK_PACKET),
        CODEC(bulk), .check = check_bulk),
    /* Iso data travels only the way its endpoint's data goes. */
    ROW(URG_ISO_PACKET, .name = "iso_packet", .dirs = HG, .data = URGI_DATA_ENDPOINT,
        .data_only = HG, .header = 4,
        EP(iso), LEN(iso), STATUS(iso), STREAM(URGI_STREAM_ISO),
        CODEC(iso)),
    /* Interrupt: from the guest only to an OUT endpoint (IN is a stream);
     * from the host an IN endpoint's data, or the reply to an OUT request. */
    ROW(URG_INTERRUPT_PACKET, .name = "interrupt_packet", .dirs = HG,
        .data = URGI_DATA_ENDPOINT, .data_only = H, .header = 4,
        EP(interrupt), LEN(interrupt), STATUS(interrupt), STREAM(URGI_STREAM_INT),
        .reply = URGI_REPLY_IF_OUT, ANSWERS(URG_INTERRUPT_PACKET, URG_INTERRUPT_PACKET),
        CODEC(interrupt)),
    ROW(URG_BUFFERED_BULK_PACKET, .name = "buffered_bulk_packet", .dirs = G,
        .data = URGI_DATA_ENDPOINT, .data_only = G, .caps = CAP(URG_CAP_BULK_RECEIVING),
        .header = 10,
        EP(buffered_bulk), LEN(buffered_bulk), STATUS(buffered_bulk), STREAM_ID(buffered_bulk),
        STREAM(URGI_STREAM_BULKRECV),
        CODEC(buffered_bulk), .check = check_buffered_bulk),
};

/* ---------------------------------------------------------------- public */

URG_API int urg_packet_endpoint(const struct urg_packet *p)
{
    const struct urgi_type *t = p ? urgi_type(p->type) : NULL;
    return t ? urgi_packet_endpoint(t, p) : -1;
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

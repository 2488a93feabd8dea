/*
 * test_codec.c - the wire codec: layouts, exact bytes, round trips of every
 * type in every direction and caps layout, and every validation rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packets.h"
#include "urg_codec.h"

static const struct urg_wire W32 = { 0, 0 };

/* ---------------------------------------------------------------- tables */

static void test_type_index_and_names(void **state)
{
    int i, both = 0, to_host = 0, to_guest = 0;
    (void)state;
    for (i = 0; i < URG_TYPE_COUNT; i++) {
        uint32_t t = urg_type_at(i);
        int h = urg_type_header_len(&W32, t, URG_DIR_TO_HOST) >= 0;
        int g = urg_type_header_len(&W32, t, URG_DIR_TO_GUEST) >= 0;
        assert_int_equal(urg_type_index(t), i);
        assert_string_not_equal(urg_type_name(t), "unknown");
        assert_true(h || g);
        both += h && g;
        to_host += h && !g;
        to_guest += g && !h;
    }
    /* hello, filter_filter and the four data packets both ways. */
    assert_int_equal(both, 6);
    assert_int_equal(to_host, 16);
    assert_int_equal(to_guest, 11);
    assert_int_equal(urg_type_index(28), -1);
    assert_int_equal(urg_type_index(99), -1);
    assert_int_equal(urg_type_index(105), -1);
    assert_string_equal(urg_type_name(URG_BUFFERED_BULK_PACKET), "buffered_bulk_packet");
    assert_string_equal(urg_type_name(URG_BULK_RECEIVING_STATUS), "bulk_receiving_status");
    assert_string_equal(urg_type_name(1000), "unknown");
    assert_string_equal(urg_cap_name(URG_CAP_64BITS_IDS), "64bits_ids");
    assert_string_equal(urg_cap_name(8), "unknown");
    assert_string_equal(urg_status_name(URG_STATUS_STALL), "stall");
    assert_string_equal(urg_status_name(URG_STATUS_NODEV), "nodev");
    assert_string_equal(urg_status_name(77), "unknown");
    assert_string_equal(urg_speed_name(URG_SPEED_SUPER), "super");
    assert_string_equal(urg_ep_type_name(URG_EP_ISO), "iso");
    assert_int_equal(urg_ep_index(0x81), 17);
    assert_int_equal(urg_ep_index(0x0f), 15);
    assert_int_equal(urg_ep_address(17), 0x81);
    assert_int_equal(urg_ep_address(2), 0x02);
}

/* A packet of type t with id and endpoint ep (in whichever member holds
 * it), for the packet-fact functions. */
static struct urg_packet pkt(uint32_t t, uint64_t id, uint8_t ep)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = t;
    p.id = id;
    switch (t) {
    case URG_CONTROL_PACKET: p.h.control.endpoint = ep; break;
    case URG_BULK_PACKET: p.h.bulk.endpoint = ep; break;
    case URG_ISO_PACKET: p.h.iso.endpoint = ep; break;
    case URG_INTERRUPT_PACKET: p.h.interrupt.endpoint = ep; break;
    case URG_BUFFERED_BULK_PACKET: p.h.buffered_bulk.endpoint = ep; break;
    case URG_START_ISO_STREAM: p.h.start_iso_stream.endpoint = ep; break;
    case URG_STOP_ISO_STREAM: p.h.stop_iso_stream.endpoint = ep; break;
    case URG_ISO_STREAM_STATUS: p.h.iso_stream_status.endpoint = ep; break;
    case URG_START_INTERRUPT_RECEIVING: p.h.start_interrupt_receiving.endpoint = ep; break;
    case URG_STOP_INTERRUPT_RECEIVING: p.h.stop_interrupt_receiving.endpoint = ep; break;
    case URG_INTERRUPT_RECEIVING_STATUS: p.h.interrupt_receiving_status.endpoint = ep; break;
    case URG_START_BULK_RECEIVING: p.h.start_bulk_receiving.endpoint = ep; break;
    case URG_STOP_BULK_RECEIVING: p.h.stop_bulk_receiving.endpoint = ep; break;
    case URG_BULK_RECEIVING_STATUS: p.h.bulk_receiving_status.endpoint = ep; break;
    default: break;
    }
    return p;
}

/* urg_packet_endpoint, urg_packet_stream and urg_packet_answers: what a
 * packet is, from its type's row. */
static void test_packet_facts(void **state)
{
    static const uint32_t no_endpoint[] = { URG_HELLO, URG_DEVICE_CONNECT, URG_EP_INFO,
                                            URG_SET_CONFIGURATION, URG_CONFIGURATION_STATUS,
                                            URG_ALT_SETTING_STATUS, URG_CANCEL_DATA_PACKET,
                                            URG_BULK_STREAMS_STATUS };
    static const struct {
        uint32_t type;
        uint8_t ep;
        uint32_t stream;
    } streams[] = {
        { URG_START_ISO_STREAM, 0x03, URG_START_ISO_STREAM },
        { URG_STOP_ISO_STREAM, 0x83, URG_START_ISO_STREAM },
        { URG_ISO_STREAM_STATUS, 0x83, URG_START_ISO_STREAM },
        { URG_ISO_PACKET, 0x03, URG_START_ISO_STREAM },
        { URG_START_INTERRUPT_RECEIVING, 0x81, URG_START_INTERRUPT_RECEIVING },
        { URG_STOP_INTERRUPT_RECEIVING, 0x81, URG_START_INTERRUPT_RECEIVING },
        { URG_INTERRUPT_RECEIVING_STATUS, 0x81, URG_START_INTERRUPT_RECEIVING },
        { URG_INTERRUPT_PACKET, 0x81, URG_START_INTERRUPT_RECEIVING },
        { URG_INTERRUPT_PACKET, 0x01, 0 }, /* an OUT request or its reply */
        { URG_START_BULK_RECEIVING, 0x82, URG_START_BULK_RECEIVING },
        { URG_STOP_BULK_RECEIVING, 0x82, URG_START_BULK_RECEIVING },
        { URG_BULK_RECEIVING_STATUS, 0x82, URG_START_BULK_RECEIVING },
        { URG_BUFFERED_BULK_PACKET, 0x82, URG_START_BULK_RECEIVING },
        { URG_CONTROL_PACKET, 0x80, 0 },
        { URG_BULK_PACKET, 0x82, 0 },
    };
    struct urg_packet a, b;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(no_endpoint) / sizeof(no_endpoint[0]); i++) {
        a = pkt(no_endpoint[i], 1, 0);
        assert_int_equal(urg_packet_endpoint(&a), -1);
        assert_int_equal(urg_packet_stream(&a), 0);
    }
    for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        a = pkt(streams[i].type, 1, streams[i].ep);
        assert_int_equal(urg_packet_endpoint(&a), streams[i].ep);
        if (urg_packet_stream(&a) != streams[i].stream)
            fail_msg("%s ep 0x%02x: stream %u, want %u", urg_type_name(streams[i].type),
                     streams[i].ep, urg_packet_stream(&a), streams[i].stream);
    }
    /* The shared fields: endpoint, status, stream id, length. */
    {
        struct urg_packet_fields f;
        a = pkt(URG_BUFFERED_BULK_PACKET, 1, 0x82);
        a.h.buffered_bulk.status = URG_STATUS_STALL;
        a.h.buffered_bulk.stream_id = 7;
        a.h.buffered_bulk.length = 70000;
        urg_packet_fields(&a, &f);
        assert_int_equal(f.endpoint, 0x82);
        assert_int_equal(f.status, URG_STATUS_STALL);
        assert_int_equal(f.stream_id, 7);
        assert_int_equal(f.length, 70000);
        a = pkt(URG_CONTROL_PACKET, 1, 0x80);
        a.h.control.length = 18;
        urg_packet_fields(&a, &f);
        assert_int_equal(f.endpoint, 0x80);
        assert_int_equal(f.status, 0);
        assert_int_equal(f.stream_id, -1);
        assert_int_equal(f.length, 18);
        a = pkt(URG_STOP_ISO_STREAM, 1, 0x83);
        urg_packet_fields(&a, &f);
        assert_int_equal(f.endpoint, 0x83);
        assert_int_equal(f.status, -1);
        assert_int_equal(f.length, -1);
        a = pkt(URG_SET_CONFIGURATION, 1, 0);
        urg_packet_fields(&a, &f);
        assert_int_equal(f.endpoint, -1);
        assert_int_equal(f.status, -1);
        assert_int_equal(f.stream_id, -1);
        assert_int_equal(f.length, -1);
    }
    a = pkt(1000, 1, 0);
    assert_int_equal(urg_packet_endpoint(&a), -1);
    assert_int_equal(urg_packet_stream(&a), 0);
    assert_int_equal(urg_packet_endpoint(NULL), -1);

    /* Replies answer their requests by type and id... */
    a = pkt(URG_CONFIGURATION_STATUS, 7, 0);
    b = pkt(URG_SET_CONFIGURATION, 7, 0);
    assert_true(urg_packet_answers(&a, &b));
    b = pkt(URG_GET_CONFIGURATION, 7, 0);
    assert_true(urg_packet_answers(&a, &b));
    b.id = 8;
    assert_false(urg_packet_answers(&a, &b));
    b = pkt(URG_SET_ALT_SETTING, 7, 0);
    assert_false(urg_packet_answers(&a, &b));
    a = pkt(URG_BULK_PACKET, 9, 0x82);
    b = pkt(URG_BULK_PACKET, 9, 0x82);
    assert_true(urg_packet_answers(&a, &b));
    b = pkt(URG_CONTROL_PACKET, 9, 0x80);
    assert_false(urg_packet_answers(&a, &b));
    /* ... an interrupt packet only for an OUT endpoint ... */
    a = pkt(URG_INTERRUPT_PACKET, 3, 0x01);
    b = pkt(URG_INTERRUPT_PACKET, 3, 0x01);
    assert_true(urg_packet_answers(&a, &b));
    a = pkt(URG_INTERRUPT_PACKET, 3, 0x81);
    assert_false(urg_packet_answers(&a, &b));
    /* ... a stream status for its start or stop request's endpoint. */
    a = pkt(URG_ISO_STREAM_STATUS, 4, 0x83);
    b = pkt(URG_START_ISO_STREAM, 4, 0x83);
    assert_true(urg_packet_answers(&a, &b));
    b = pkt(URG_STOP_ISO_STREAM, 4, 0x83);
    assert_true(urg_packet_answers(&a, &b));
    b = pkt(URG_STOP_ISO_STREAM, 4, 0x84);
    assert_false(urg_packet_answers(&a, &b));
    b = pkt(URG_START_INTERRUPT_RECEIVING, 4, 0x83);
    assert_false(urg_packet_answers(&a, &b));
    /* Requests and notices answer nothing. */
    a = pkt(URG_DEVICE_CONNECT, 4, 0);
    b = pkt(URG_RESET, 4, 0);
    assert_false(urg_packet_answers(&a, &b));
    assert_false(urg_packet_answers(NULL, &b));
    assert_false(urg_packet_answers(&b, NULL));
}

/* One error space: the model's and the transport's codes have their own
 * sentence and name from urg_strerror and urg_error_name, distinct from
 * each other and from the engine's, and none is a protocol error. */
static void test_one_error_space(void **state)
{
    static const int layers[] = {
        URG_ERR_HCD_SPEED, URG_ERR_HCD_ENDPOINT, URG_ERR_HCD_BUSY, URG_ERR_HCD_INTERVAL,
        URG_ERR_ADDRESS,
        URG_ERR_RESOLVE,   URG_ERR_CONNECT,      URG_ERR_IO,       URG_ERR_EOF,
        URG_ERR_CAPTURE,   URG_ERR_PCAP,         URG_ERR_TCP_GAP,  URG_ERR_DIVERGED,
        URG_ERR_STALLED,
    };
    size_t i, n = sizeof(layers) / sizeof(layers[0]);
    int code;
    (void)state;
    for (i = 0; i < n; i++) {
        assert_string_not_equal(urg_strerror(layers[i]), "unknown error");
        assert_false(urg_error_is_protocol(layers[i]));
        /* unique among every code from -1 to -399 */
        for (code = -1; code >= -399; code--) {
            if (code == layers[i] || !strcmp(urg_error_name(code), "URG_ERR_UNKNOWN"))
                continue;
            assert_string_not_equal(urg_strerror(layers[i]), urg_strerror(code));
            assert_string_not_equal(urg_error_name(layers[i]), urg_error_name(code));
        }
    }
    assert_string_equal(urg_error_name(URG_ERR_HCD_BUSY), "URG_ERR_HCD_BUSY");
    assert_string_equal(urg_error_name(URG_ERR_STALLED), "URG_ERR_STALLED");
    assert_string_equal(urg_strerror(URG_ERR_EOF), "the peer closed the connection");
    assert_string_equal(urg_strerror(URG_ERR_HCD_SPEED), "no port speed can carry the device");
}

static void test_error_strings(void **state)
{
    static const int codes[] = {
        URG_ERR_INVALID, URG_ERR_NOMEM, URG_ERR_STATE, URG_ERR_NO_DEVICE, URG_ERR_NOT_FOUND,
        URG_ERR_NO_CAP, URG_ERR_TOO_LONG, URG_ERR_AGAIN, URG_ERR_BUSY, URG_ERR_FAILED,
        URG_ERR_NOT_CANCELLABLE, URG_ERR_FILTER_SYNTAX, URG_ERR_FILTER_DENIED,
        URG_ERR_FILTER_NO_MATCH, URG_ERR_BUFFER, URG_ERR_PROTO_TYPE, URG_ERR_PROTO_DIRECTION,
        URG_ERR_PROTO_BEFORE_HELLO, URG_ERR_PROTO_SECOND_HELLO, URG_ERR_PROTO_PACKET_SIZE,
        URG_ERR_PROTO_HEADER_LENGTH, URG_ERR_PROTO_UNEXPECTED_DATA, URG_ERR_PROTO_DATA_LENGTH,
        URG_ERR_PROTO_NOT_IN_EP, URG_ERR_PROTO_EP_DIRECTION, URG_ERR_PROTO_INTERFACE_COUNT,
        URG_ERR_PROTO_FILTER, URG_ERR_PROTO_CAP, URG_ERR_PROTO_CAPS, URG_ERR_PROTO_BULK_LENGTH,
        URG_ERR_PROTO_HELLO, URG_ERR_PROTO_REPLY_TYPE, URG_ERR_PROTO_REPLY_ENDPOINT,
        URG_ERR_PROTO_REPLY_LENGTH, URG_ERR_PROTO_FIELD, URG_ERR_PROTO_STATE,
        URG_ERR_PROTO_CALLBACK, URG_ERR_PROTO_STREAM_LENGTH, URG_ERR_PROTO_FLOOD,
    };
    size_t i, j, n = sizeof(codes) / sizeof(codes[0]);
    (void)state;
    for (i = 0; i < n; i++) {
        assert_string_not_equal(urg_strerror(codes[i]), "unknown error");
        assert_string_not_equal(urg_error_name(codes[i]), "URG_ERR_UNKNOWN");
        for (j = 0; j < i; j++) {
            assert_string_not_equal(urg_strerror(codes[i]), urg_strerror(codes[j]));
            assert_string_not_equal(urg_error_name(codes[i]), urg_error_name(codes[j]));
        }
    }
    assert_string_equal(urg_error_name(URG_ERR_PROTO_CAP), "URG_ERR_PROTO_CAP");
    for (i = 0; i < n; i++)
        assert_int_equal(urg_error_is_protocol(codes[i]), codes[i] <= URG_ERR_PROTO_TYPE);
    assert_int_equal(urg_error_is_protocol(URG_ERR_PROTO_FLOOD), 1);
    assert_int_equal(urg_error_is_protocol(-200), 0); /* the model's */
    assert_int_equal(urg_error_is_protocol(-300), 0); /* the transport's */
    assert_int_equal(urg_error_is_protocol(0), 0);
    assert_string_equal(urg_strerror(12345), "unknown error");
    assert_string_equal(urg_strerror(0), "success");
    assert_string_equal(urg_version(), URG_VERSION_STRING);
}

/* ---------------------------------------------------------------- layouts */

static void test_layout_sizes(void **state)
{
    struct urg_wire w;
    (void)state;
    w = urg_wire_from_caps(URG_CAPS_ALL, 0);
    assert_int_equal(w.caps, 0);
    assert_int_equal(urg_header_len(&w), 12);
    w = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
    assert_int_equal(w.caps, URG_CAPS_ALL);
    assert_int_equal(urg_header_len(&w), 16);
    assert_int_equal(urg_type_header_len(&w, URG_EP_INFO, URG_DIR_TO_GUEST), 288);
    assert_int_equal(urg_type_header_len(&w, URG_DEVICE_CONNECT, URG_DIR_TO_GUEST), 10);
    assert_int_equal(urg_type_header_len(&w, URG_BULK_PACKET, URG_DIR_TO_HOST), 10);
    assert_int_equal(urg_type_header_len(&W32, URG_EP_INFO, URG_DIR_TO_GUEST), 96);
    assert_int_equal(urg_type_header_len(&W32, URG_DEVICE_CONNECT, URG_DIR_TO_GUEST), 8);
    assert_int_equal(urg_type_header_len(&W32, URG_BULK_PACKET, URG_DIR_TO_GUEST), 8);
    w = urg_wire_from_caps(URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE),
                           URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE));
    assert_int_equal(urg_type_header_len(&w, URG_EP_INFO, URG_DIR_TO_GUEST), 160);
    /* bulk_streams on both sides without max_packet_size is dropped. */
    w = urg_wire_from_caps(URG_CAP_BIT(URG_CAP_BULK_STREAMS), URG_CAP_BIT(URG_CAP_BULK_STREAMS));
    assert_int_equal(w.caps, 0);
    assert_int_equal(urg_type_header_len(&w, URG_EP_INFO, URG_DIR_TO_GUEST), 96);
    assert_int_equal(urg_type_header_len(&W32, URG_EP_INFO, URG_DIR_TO_HOST), -1);
    assert_int_equal(urg_type_header_len(&W32, URG_RESET, URG_DIR_TO_GUEST), -1);
    assert_int_equal(urg_type_header_len(&W32, 55, URG_DIR_TO_GUEST), -1);
}

/* The exact bytes of a few packets, little-endian field by field. */
static void test_golden_bytes(void **state)
{
    struct urg_wire all = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
    struct urg_packet p;
    uint8_t b[512];
    int n;
    (void)state;

    /* A hello is always sent with a 12-byte header. */
    memset(&p, 0, sizeof(p));
    p.type = URG_HELLO;
    strcpy(p.h.hello.version, "abc");
    p.h.hello.caps[0] = 0xff;
    p.h.hello.caps_words = 1;
    n = urg_encode(&all, URG_DIR_TO_HOST, &p, b, sizeof(b));
    assert_int_equal(n, 12 + 64 + 4);
    {
        static const uint8_t head[] = { 0, 0, 0, 0, 68, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c', 0 };
        assert_memory_equal(b, head, sizeof(head));
        assert_int_equal(b[12 + 63], 0);
        assert_int_equal(b[76], 0xff);
        assert_int_equal(b[77], 0);
    }

    /* A 64-bit id bulk IN request of 0x12345 bytes on stream 7. */
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = 0x0102030405060708ull;
    p.h.bulk.endpoint = 0x81;
    p.h.bulk.length = 0x12345;
    p.h.bulk.stream_id = 7;
    n = urg_encode(&all, URG_DIR_TO_HOST, &p, b, sizeof(b));
    assert_int_equal(n, 26);
    {
        static const uint8_t want[26] = {
            101, 0, 0, 0,  10, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1, /* header */
            0x81, 0, 0x45, 0x23, 7, 0, 0, 0, 0x01, 0,           /* length_high 1 */
        };
        assert_memory_equal(b, want, sizeof(want));
    }
    /* Without 32bits_bulk_length the same request cannot be encoded. */
    assert_int_equal(urg_encode(&W32, URG_DIR_TO_HOST, &p, b, sizeof(b)), URG_ERR_INVALID);
    p.id = 9;
    assert_int_equal(urg_encode(&W32, URG_DIR_TO_HOST, &p, b, sizeof(b)),
                     URG_ERR_PROTO_BULK_LENGTH);

    /* device_connect without and with the version field. */
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_CONNECT;
    p.h.device_connect.speed = 2;
    p.h.device_connect.vendor_id = 0x0627;
    p.h.device_connect.product_id = 0x0001;
    p.h.device_connect.device_version_bcd = 0x0200;
    n = urg_encode(&W32, URG_DIR_TO_GUEST, &p, b, sizeof(b));
    assert_int_equal(n, 12 + 8);
    {
        static const uint8_t want[20] = { 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0,
                                          2, 0, 0, 0, 0x27, 0x06, 0x01, 0x00 };
        assert_memory_equal(b, want, sizeof(want));
    }
    n = urg_encode(&all, URG_DIR_TO_GUEST, &p, b, sizeof(b));
    assert_int_equal(n, 16 + 10);
    assert_int_equal(b[4], 10);
    assert_int_equal(b[16 + 8], 0x00);
    assert_int_equal(b[16 + 9], 0x02);

    /* ep_info: max_packet_size at 96, max_streams at 160. */
    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    p.h.ep_info.type[17] = URG_EP_INTERRUPT;
    p.h.ep_info.interval[17] = 7;
    p.h.ep_info.interface[17] = 3;
    p.h.ep_info.max_packet_size[17] = 0x0408;
    p.h.ep_info.max_streams[17] = 0x01020304;
    n = urg_encode(&all, URG_DIR_TO_GUEST, &p, b, sizeof(b));
    assert_int_equal(n, 16 + 288);
    assert_int_equal(b[16 + 17], 3);
    assert_int_equal(b[16 + 32 + 17], 7);
    assert_int_equal(b[16 + 64 + 17], 3);
    assert_int_equal(b[16 + 96 + 34], 0x08);
    assert_int_equal(b[16 + 96 + 35], 0x04);
    assert_int_equal(b[16 + 160 + 68], 0x04);
    assert_int_equal(b[16 + 160 + 71], 0x01);

    /* A control IN request: endpoint 0x80, wLength 18. */
    memset(&p, 0, sizeof(p));
    p.type = URG_CONTROL_PACKET;
    p.id = 5;
    p.h.control.endpoint = 0x80;
    p.h.control.requesttype = 0x80;
    p.h.control.request = 6;
    p.h.control.value = 0x0100;
    p.h.control.length = 18;
    n = urg_encode(&W32, URG_DIR_TO_HOST, &p, b, sizeof(b));
    {
        static const uint8_t want[22] = { 100, 0, 0, 0, 10, 0, 0, 0, 5, 0, 0, 0,
                                          0x80, 6, 0x80, 0, 0x00, 0x01, 0, 0, 18, 0 };
        assert_int_equal(n, 22);
        assert_memory_equal(b, want, sizeof(want));
    }
}

/* ---------------------------------------------------------------- round trips */

static void test_roundtrip_every_type_direction_layout(void **state)
{
    static uint8_t payload[70000], wire[70000 + 400];
    uint32_t rng = 0x1234567;
    int v, i, k, tested = 0;
    int seen[URG_TYPE_COUNT][2];
    (void)state;
    memset(seen, 0, sizeof(seen));
    for (v = 0; v < LAYOUT_VARIANTS; v++) {
        struct urg_wire w = urg_wire_from_caps(layout_caps(v), layout_caps(v));
        for (i = 0; i < URG_TYPE_COUNT; i++) {
            uint32_t t = urg_type_at(i);
            int dir;
            for (dir = 0; dir < 2; dir++) {
                for (k = 0; k < 12; k++) {
                    struct urg_packet p, q;
                    struct urg_wire ew = w;
                    size_t used = 0;
                    char why[160];
                    int n, r = gen_packet(t, (enum urg_dir)dir, &w, &rng, &p, payload,
                                          sizeof(payload));
                    if (r != GEN_OK)
                        break;
                    if (t == URG_HELLO)
                        ew = W32; /* a hello is read with the 12-byte header */
                    n = urg_encode(&w, (enum urg_dir)dir, &p, wire, sizeof(wire));
                    assert_true(n > 0);
                    if (t != URG_HELLO && p.data_len) {
                        memcpy(wire + n, p.data, p.data_len);
                        n += (int)p.data_len;
                    }
                    /* Every prefix is too short; the whole is exactly one. */
                    assert_int_equal(urg_decode(&ew, (enum urg_dir)dir, wire, (size_t)n - 1, 0,
                                                &q, &used),
                                     URG_ERR_AGAIN);
                    r = urg_decode(&ew, (enum urg_dir)dir, wire, (size_t)n, 0, &q, &used);
                    if (r)
                        fail_msg("%s dir %d layout %d: decode %s", urg_type_name(t), dir, v,
                                 urg_error_name(r));
                    assert_int_equal(used, (size_t)n);
                    if (packet_diff(&p, &q, &w, why, sizeof(why)))
                        fail_msg("layout %d dir %d: %s", v, dir, why);
                    seen[i][dir] = 1;
                    tested++;
                }
            }
        }
    }
    /* Every type was round-tripped in each direction it can travel. */
    for (i = 0; i < URG_TYPE_COUNT; i++) {
        struct urg_wire all = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
        uint32_t t = urg_type_at(i);
        assert_int_equal(seen[i][0], urg_type_header_len(&all, t, URG_DIR_TO_HOST) >= 0);
        assert_int_equal(seen[i][1], urg_type_header_len(&all, t, URG_DIR_TO_GUEST) >= 0);
    }
    assert_true(tested > 5000);
}

/* ---------------------------------------------------------------- validation */

/* Builds a packet from raw parts: 12-byte header, type header, payload. */
static size_t raw(uint8_t *b, uint32_t type, const void *th, size_t thn, const void *data,
                  size_t dn, uint32_t length_override)
{
    uint32_t len = length_override ? length_override : (uint32_t)(thn + dn);
    b[0] = (uint8_t)type;
    b[1] = (uint8_t)(type >> 8);
    b[2] = (uint8_t)(type >> 16);
    b[3] = (uint8_t)(type >> 24);
    b[4] = (uint8_t)len;
    b[5] = (uint8_t)(len >> 8);
    b[6] = (uint8_t)(len >> 16);
    b[7] = (uint8_t)(len >> 24);
    memset(b + 8, 0, 4);
    b[8] = 1;
    if (thn)
        memcpy(b + 12, th, thn);
    if (dn)
        memcpy(b + 12 + thn, data, dn);
    return 12 + thn + dn;
}

/* Turns raw()'s 12-byte header into a 16-byte one (64-bit id 0). */
static size_t to16(uint8_t *b, size_t n)
{
    memmove(b + 16, b + 12, n - 12);
    memset(b + 8, 0, 8);
    return n + 4;
}

static int dec(const struct urg_wire *w, enum urg_dir dir, const uint8_t *b, size_t n)
{
    struct urg_packet p;
    size_t used;
    return urg_decode(w, dir, b, n, 0, &p, &used);
}

#define G URG_DIR_TO_GUEST
#define H URG_DIR_TO_HOST

static void test_reject_frame_errors(void **state)
{
    uint8_t b[256], th[16] = { 0 };
    size_t n;
    struct urg_packet p;
    size_t used;
    (void)state;
    n = raw(b, 50, NULL, 0, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_TYPE);
    n = raw(b, URG_DEVICE_CONNECT, th, 8, NULL, 0, 0);
    assert_int_equal(dec(&W32, H, b, n), URG_ERR_PROTO_DIRECTION);
    n = raw(b, URG_RESET, NULL, 0, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_DIRECTION);
    /* Over the maximum packet size (checked on the header alone). */
    n = raw(b, URG_BULK_PACKET, th, 8, NULL, 0, 2000);
    assert_int_equal(urg_decode(&W32, G, b, 12, 1999, &p, &used), URG_ERR_PROTO_PACKET_SIZE);
    n = raw(b, URG_BULK_PACKET, th, 8, NULL, 0, URG_DEFAULT_MAX_PACKET_SIZE + 1);
    assert_int_equal(dec(&W32, G, b, 12), URG_ERR_PROTO_PACKET_SIZE);
    /* Shorter than the type header. */
    n = raw(b, URG_SET_CONFIGURATION, NULL, 0, NULL, 0, 0);
    assert_int_equal(dec(&W32, H, b, n), URG_ERR_PROTO_HEADER_LENGTH);
    n = raw(b, URG_CONTROL_PACKET, th, 9, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_HEADER_LENGTH);
    /* Data on a type that never carries any. */
    n = raw(b, URG_DEVICE_DISCONNECT, NULL, 0, "abcd", 4, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_UNEXPECTED_DATA);
    n = raw(b, URG_SET_CONFIGURATION, th, 1, "x", 1, 0);
    assert_int_equal(dec(&W32, H, b, n), URG_ERR_PROTO_UNEXPECTED_DATA);
    /* Incomplete. */
    n = raw(b, URG_SET_CONFIGURATION, th, 1, NULL, 0, 0);
    assert_int_equal(dec(&W32, H, b, n - 1), URG_ERR_AGAIN);
    assert_int_equal(dec(&W32, H, b, 11), URG_ERR_AGAIN);
    assert_int_equal(dec(&W32, H, b, n), 0);
}

static void test_reject_data_rules(void **state)
{
    uint8_t b[256], th[16];
    size_t n;
    (void)state;
    /* A control IN reply: data must equal the length field. */
    memset(th, 0, sizeof(th));
    th[0] = 0x80;
    th[2] = 0x80;
    th[8] = 10;
    n = raw(b, URG_CONTROL_PACKET, th, 10, "12345", 5, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_DATA_LENGTH);
    n = raw(b, URG_CONTROL_PACKET, th, 10, "1234567890", 10, 0);
    assert_int_equal(dec(&W32, G, b, n), 0);
    /* The same packet sent to the host (an IN request) carries no data. */
    assert_int_equal(dec(&W32, H, b, n), URG_ERR_PROTO_UNEXPECTED_DATA);
    /* endpoint and requesttype disagreeing on the direction. */
    th[2] = 0x00;
    n = raw(b, URG_CONTROL_PACKET, th, 10, "1234567890", 10, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_FIELD);
    /* A bulk OUT reply carries no data. */
    memset(th, 0, sizeof(th));
    th[0] = 0x02;
    th[2] = 4;
    n = raw(b, URG_BULK_PACKET, th, 8, "abcd", 4, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_UNEXPECTED_DATA);
    n = raw(b, URG_BULK_PACKET, th, 8, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), 0);
    /* Iso packets travel only with data, in their endpoint's direction. */
    memset(th, 0, sizeof(th));
    th[0] = 0x03;
    n = raw(b, URG_ISO_PACKET, th, 4, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_EP_DIRECTION);
    th[0] = 0x83;
    n = raw(b, URG_ISO_PACKET, th, 4, NULL, 0, 0);
    assert_int_equal(dec(&W32, H, b, n), URG_ERR_PROTO_EP_DIRECTION);
    /* An interrupt packet for an IN endpoint never goes to the host. */
    n = raw(b, URG_INTERRUPT_PACKET, th, 4, NULL, 0, 0);
    assert_int_equal(dec(&W32, H, b, n), URG_ERR_PROTO_EP_DIRECTION);
    /* ...but an OUT reply (no data) to the guest is fine. */
    th[0] = 0x04;
    th[2] = 1;
    n = raw(b, URG_INTERRUPT_PACKET, th, 4, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), 0);
}

static void test_reject_in_endpoint_rules(void **state)
{
    struct urg_wire w = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
    uint8_t b[256], th[16];
    struct urg_packet p;
    size_t used;
    struct {
        uint32_t type;
        enum urg_dir dir;
        size_t thn;
        int ep_off;
    } cases[] = {
        { URG_START_INTERRUPT_RECEIVING, H, 1, 0 }, { URG_STOP_INTERRUPT_RECEIVING, H, 1, 0 },
        { URG_INTERRUPT_RECEIVING_STATUS, G, 2, 1 }, { URG_START_BULK_RECEIVING, H, 10, 8 },
        { URG_STOP_BULK_RECEIVING, H, 5, 4 },         { URG_BULK_RECEIVING_STATUS, G, 6, 4 },
    };
    size_t i, n;
    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(th, 0, sizeof(th));
        th[cases[i].ep_off] = 0x01;
        n = to16(b, raw(b, cases[i].type, th, cases[i].thn, NULL, 0, 0));
        assert_int_equal(urg_decode(&w, cases[i].dir, b, n, 0, &p, &used),
                         URG_ERR_PROTO_NOT_IN_EP);
        b[16 + cases[i].ep_off] = 0x81;
        assert_int_equal(urg_decode(&w, cases[i].dir, b, n, 0, &p, &used), 0);
    }
}

static void test_reject_caps_rules(void **state)
{
    uint8_t b[256], th[16] = { 0 };
    size_t n;
    struct urg_wire f = urg_wire_from_caps(URG_CAP_BIT(URG_CAP_FILTER), URG_CAP_BIT(URG_CAP_FILTER));
    (void)state;
    n = raw(b, URG_FILTER_REJECT, NULL, 0, NULL, 0, 0);
    assert_int_equal(dec(&W32, H, b, n), URG_ERR_PROTO_CAP);
    assert_int_equal(dec(&f, H, b, n), 0);
    n = raw(b, URG_FILTER_FILTER, NULL, 0, "-1,-1,-1,-1,1", 14, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_CAP);
    assert_int_equal(dec(&f, G, b, n), 0);
    n = raw(b, URG_DEVICE_DISCONNECT_ACK, NULL, 0, NULL, 0, 0);
    assert_int_equal(dec(&W32, H, b, n), URG_ERR_PROTO_CAP);
    th[8] = 0x81;
    n = raw(b, URG_START_BULK_RECEIVING, th, 10, NULL, 0, 0);
    assert_int_equal(dec(&W32, H, b, n), URG_ERR_PROTO_CAP);
    n = raw(b, URG_BUFFERED_BULK_PACKET, th, 10, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_CAP);
    n = raw(b, URG_ALLOC_BULK_STREAMS, th, 8, NULL, 0, 0);
    assert_int_equal(dec(&W32, H, b, n), URG_ERR_PROTO_CAP);
    n = raw(b, URG_BULK_STREAMS_STATUS, th, 9, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_CAP);
}

static void test_reject_lengths_and_fields(void **state)
{
    struct urg_wire w = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
    uint8_t b[2048], th[300];
    struct urg_packet p;
    size_t used, n;
    (void)state;
    /* bulk length over 128 MiB (length_high 0x0800 + 1). */
    memset(th, 0, sizeof(th));
    th[0] = 0x02;
    th[2] = 1;
    th[8] = 0x00;
    th[9] = 0x08;
    n = to16(b, raw(b, URG_BULK_PACKET, th, 10, NULL, 0, 0));
    assert_int_equal(urg_decode(&w, G, b, n, 0, &p, &used), URG_ERR_PROTO_BULK_LENGTH);
    th[2] = 0;
    n = to16(b, raw(b, URG_BULK_PACKET, th, 10, NULL, 0, 0));
    assert_int_equal(urg_decode(&w, G, b, n, 0, &p, &used), 0);
    assert_int_equal(p.h.bulk.length, URG_MAX_BULK_LENGTH);
    /* start_bulk_receiving bytes_per_transfer and buffered bulk length. */
    memset(th, 0, sizeof(th));
    th[4] = 1;
    th[7] = 0x08; /* 0x08000001 */
    th[8] = 0x81;
    n = to16(b, raw(b, URG_START_BULK_RECEIVING, th, 10, NULL, 0, 0));
    assert_int_equal(urg_decode(&w, H, b, n, 0, &p, &used), URG_ERR_PROTO_BULK_LENGTH);
    n = to16(b, raw(b, URG_BUFFERED_BULK_PACKET, th, 10, NULL, 0, 0));
    assert_int_equal(urg_decode(&w, G, b, n, 0, &p, &used), URG_ERR_PROTO_BULK_LENGTH);
    /* interface_count 33. */
    memset(th, 0, sizeof(th));
    th[0] = 33;
    n = raw(b, URG_INTERFACE_INFO, th, 132, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_INTERFACE_COUNT);
    th[0] = 32;
    n = raw(b, URG_INTERFACE_INFO, th, 132, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), 0);
    /* ep_info type 7. */
    memset(th, 0, sizeof(th));
    th[5] = 7;
    n = raw(b, URG_EP_INFO, th, 96, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_FIELD);
    th[5] = 255;
    n = raw(b, URG_EP_INFO, th, 96, NULL, 0, 0);
    assert_int_equal(dec(&W32, G, b, n), 0);
    /* hello: caps not whole words, too many words. */
    memset(th, 0, sizeof(th));
    n = raw(b, URG_HELLO, th, 64, "abc", 3, 0);
    assert_int_equal(dec(&W32, G, b, n), URG_ERR_PROTO_HELLO);
    {
        static uint8_t big[12 + 64 + 4 * 257];
        static uint8_t caps[4 * 257];
        n = raw(big, URG_HELLO, th, 64, caps, sizeof(caps), 0);
        assert_int_equal(dec(&W32, G, big, n), URG_ERR_PROTO_HELLO);
        n = raw(big, URG_HELLO, th, 64, caps, 4 * 256, 0);
        assert_int_equal(dec(&W32, G, big, n), 0);
    }
}

static void test_reject_filter_strings(void **state)
{
    struct urg_wire f = urg_wire_from_caps(URG_CAP_BIT(URG_CAP_FILTER), URG_CAP_BIT(URG_CAP_FILTER));
    static uint8_t b[12 + 70000];
    static char s[70000];
    size_t n;
    (void)state;
    n = raw(b, URG_FILTER_FILTER, NULL, 0, NULL, 0, 0);
    assert_int_equal(dec(&f, G, b, n), URG_ERR_PROTO_FILTER);
    n = raw(b, URG_FILTER_FILTER, NULL, 0, "-1,-1,-1,-1,1", 13, 0);
    assert_int_equal(dec(&f, G, b, n), URG_ERR_PROTO_FILTER); /* no NUL */
    n = raw(b, URG_FILTER_FILTER, NULL, 0, "3,-1\0,-1,-1,1", 14, 0);
    assert_int_equal(dec(&f, G, b, n), URG_ERR_PROTO_FILTER); /* NUL inside */
    n = raw(b, URG_FILTER_FILTER, NULL, 0, "1,2,3", 6, 0);
    assert_int_equal(dec(&f, G, b, n), URG_ERR_PROTO_FILTER); /* 3 values */
    memset(s, '|', sizeof(s));
    s[URG_MAX_FILTER_LENGTH] = 0;
    n = raw(b, URG_FILTER_FILTER, NULL, 0, s, URG_MAX_FILTER_LENGTH + 1, 0);
    assert_int_equal(dec(&f, G, b, n), URG_ERR_PROTO_FILTER); /* too long */
    s[URG_MAX_FILTER_LENGTH - 1] = 0;
    n = raw(b, URG_FILTER_FILTER, NULL, 0, s, URG_MAX_FILTER_LENGTH, 0);
    assert_int_equal(dec(&f, G, b, n), 0); /* only empty rules: no rules */
}

static void test_encode_errors(void **state)
{
    struct urg_packet p;
    uint8_t b[64];
    (void)state;
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_CONNECT;
    assert_int_equal(urg_encode(&W32, H, &p, b, sizeof(b)), URG_ERR_PROTO_DIRECTION);
    assert_int_equal(urg_encode(&W32, G, &p, b, 19), URG_ERR_BUFFER);
    assert_int_equal(urg_encode(&W32, G, &p, b, 20), 20);
    assert_int_equal(urg_encode(NULL, G, &p, b, 20), URG_ERR_INVALID);
    p.type = URG_HELLO;
    p.h.hello.caps_words = 9;
    assert_int_equal(urg_encode(&W32, G, &p, b, sizeof(b)), URG_ERR_BUFFER);
    {
        uint8_t big[200];
        assert_int_equal(urg_encode(&W32, G, &p, big, sizeof(big)), URG_ERR_INVALID);
    }
    /* An id over 32 bits without 64-bit ids. */
    memset(&p, 0, sizeof(p));
    p.type = URG_GET_CONFIGURATION;
    p.id = 1ull << 32;
    assert_int_equal(urg_encode(&W32, H, &p, b, sizeof(b)), URG_ERR_INVALID);
    /* Data promised but no pointer. */
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.h.bulk.endpoint = 0x02;
    p.h.bulk.length = 4;
    p.data_len = 4;
    assert_int_equal(urg_encode(&W32, H, &p, b, sizeof(b)), URG_ERR_INVALID);
    /* Data length disagreeing with the length field. */
    p.data = (const uint8_t *)"abc";
    p.data_len = 3;
    assert_int_equal(urg_encode(&W32, H, &p, b, sizeof(b)), URG_ERR_PROTO_DATA_LENGTH);
}

/* Encoded and checked once, then sent under the ids it gets. */
static void test_encode_then_set_id(void **state)
{
    static const struct urg_wire W64 = { URG_CAPS_ALL, 1 };
    const struct urg_wire *ws[2] = { &W32, &W64 };
    struct urg_packet p, d;
    uint8_t b[64], first[64];
    (void)state;
    for (int k = 0; k < 2; k++) {
        int n;
        size_t used;
        memset(&p, 0, sizeof(p));
        p.type = URG_CONTROL_PACKET;
        p.h.control.endpoint = 0x80;
        p.h.control.requesttype = 0x80;
        p.h.control.request = 6;
        p.h.control.value = 0x100;
        p.h.control.length = 18;
        n = urg_encode(ws[k], H, &p, b, sizeof(b));
        assert_true(n > 0);
        memcpy(first, b, (size_t)n);
        assert_int_equal(urg_encode_set_id(ws[k], b, (size_t)n, 0xfedcba98u), 0);
        assert_int_equal(urg_decode(ws[k], H, b, (size_t)n, 0, &d, &used), 0);
        assert_int_equal(used, (size_t)n);
        assert_int_equal(d.id, 0xfedcba98u);
        /* Only the id changed: the same bytes as encoding with that id. */
        p.id = 0xfedcba98u;
        assert_int_equal(urg_encode(ws[k], H, &p, first, sizeof(first)), n);
        assert_memory_equal(first, b, (size_t)n);
        /* The errors. */
        assert_int_equal(urg_encode_set_id(NULL, b, (size_t)n, 1), URG_ERR_INVALID);
        assert_int_equal(urg_encode_set_id(ws[k], NULL, (size_t)n, 1), URG_ERR_INVALID);
        assert_int_equal(urg_encode_set_id(ws[k], b, (size_t)urg_header_len(ws[k]) - 1, 1),
                         URG_ERR_INVALID);
        assert_int_equal(urg_encode_set_id(ws[k], b, (size_t)n, 1ull << 32),
                         k ? 0 : URG_ERR_INVALID);
    }
    {
        uint8_t hb[128];
        memset(&p, 0, sizeof(p));
        p.type = URG_HELLO;
        assert_true(urg_encode(&W64, H, &p, hb, sizeof(hb)) > 0);
        assert_int_equal(urg_encode_set_id(&W64, hb, sizeof(hb), 1), URG_ERR_INVALID);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_index_and_names),
        cmocka_unit_test(test_error_strings),
        cmocka_unit_test(test_layout_sizes),
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_roundtrip_every_type_direction_layout),
        cmocka_unit_test(test_reject_frame_errors),
        cmocka_unit_test(test_reject_data_rules),
        cmocka_unit_test(test_reject_in_endpoint_rules),
        cmocka_unit_test(test_reject_caps_rules),
        cmocka_unit_test(test_reject_lengths_and_fields),
        cmocka_unit_test(test_reject_filter_strings),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_encode_then_set_id),
        cmocka_unit_test(test_packet_facts),
        cmocka_unit_test(test_one_error_space),
    };
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}

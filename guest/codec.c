/*
 * codec.c - the usbredir 0.7 wire codec, for both directions.
 *
 * Layouts: which types travel which way, type-header sizes under each set of
 * caps, encoding and decoding of every type header (field by field, little-
 * endian, never a struct cast over the buffer), and the validation rules a
 * receiver applies (at least those of libusbredirparser; see
 * docs/engine.md, "Validation").
 */
#include "internal.h"

#define TO_HOST 1u
#define TO_GUEST 2u
#define BOTH (TO_HOST | TO_GUEST)

static unsigned type_dirs(uint32_t type)
{
    switch (type) {
    case URG_HELLO:
    case URG_FILTER_FILTER:
    case URG_CONTROL_PACKET:
    case URG_BULK_PACKET:
    case URG_ISO_PACKET:
    case URG_INTERRUPT_PACKET:
        return BOTH;
    case URG_DEVICE_CONNECT:
    case URG_DEVICE_DISCONNECT:
    case URG_INTERFACE_INFO:
    case URG_EP_INFO:
    case URG_CONFIGURATION_STATUS:
    case URG_ALT_SETTING_STATUS:
    case URG_ISO_STREAM_STATUS:
    case URG_INTERRUPT_RECEIVING_STATUS:
    case URG_BULK_STREAMS_STATUS:
    case URG_BULK_RECEIVING_STATUS:
    case URG_BUFFERED_BULK_PACKET:
        return TO_GUEST;
    case URG_RESET:
    case URG_SET_CONFIGURATION:
    case URG_GET_CONFIGURATION:
    case URG_SET_ALT_SETTING:
    case URG_GET_ALT_SETTING:
    case URG_START_ISO_STREAM:
    case URG_STOP_ISO_STREAM:
    case URG_START_INTERRUPT_RECEIVING:
    case URG_STOP_INTERRUPT_RECEIVING:
    case URG_ALLOC_BULK_STREAMS:
    case URG_FREE_BULK_STREAMS:
    case URG_CANCEL_DATA_PACKET:
    case URG_FILTER_REJECT:
    case URG_DEVICE_DISCONNECT_ACK:
    case URG_START_BULK_RECEIVING:
    case URG_STOP_BULK_RECEIVING:
        return TO_HOST;
    default:
        return 0;
    }
}

static const char *dir_name(enum urg_dir dir)
{
    return dir == URG_DIR_TO_HOST ? "guest to host" : "host to guest";
}

bool urgi_type_may_have_data(uint32_t type)
{
    switch (type) {
    case URG_HELLO:
    case URG_FILTER_FILTER:
    case URG_CONTROL_PACKET:
    case URG_BULK_PACKET:
    case URG_ISO_PACKET:
    case URG_INTERRUPT_PACKET:
    case URG_BUFFERED_BULK_PACKET:
        return true;
    default:
        return false;
    }
}

URG_API struct urg_wire urg_wire_from_caps(uint32_t our_caps, uint32_t peer_caps)
{
    struct urg_wire w;
    w.caps = our_caps & peer_caps;
    /* bulk_streams is not allowed without ep_info_max_packet_size. */
    if (!urgi_has(w.caps, URG_CAP_EP_INFO_MAX_PACKET_SIZE))
        w.caps &= ~URG_CAP_BIT(URG_CAP_BULK_STREAMS);
    w.id64 = urgi_has(w.caps, URG_CAP_64BITS_IDS) ? 1 : 0;
    return w;
}

URG_API int urg_header_len(const struct urg_wire *w) { return w->id64 ? 16 : 12; }

void urgi_frame_table_init(struct urgi_frame_table *t, const struct urg_wire *w, enum urg_dir dir)
{
    t->may_have_data = 0;
    for (int i = 0; i < URG_TYPE_COUNT; i++) {
        uint32_t type = urg_type_at(i);
        t->th[i] = (int16_t)urg_type_header_len(w, type, dir);
        if (urgi_type_may_have_data(type))
            t->may_have_data |= 1ull << i;
    }
}

URG_API int urg_type_header_len(const struct urg_wire *w, uint32_t type, enum urg_dir dir)
{
    if (!(type_dirs(type) & (dir == URG_DIR_TO_HOST ? TO_HOST : TO_GUEST)))
        return -1;
    switch (type) {
    case URG_HELLO: return 64;
    case URG_DEVICE_CONNECT:
        return urgi_has(w->caps, URG_CAP_CONNECT_DEVICE_VERSION) ? 10 : 8;
    case URG_INTERFACE_INFO: return 4 + 4 * 32;
    case URG_EP_INFO:
        if (urgi_has(w->caps, URG_CAP_BULK_STREAMS))
            return 3 * 32 + 2 * 32 + 4 * 32;
        if (urgi_has(w->caps, URG_CAP_EP_INFO_MAX_PACKET_SIZE))
            return 3 * 32 + 2 * 32;
        return 3 * 32;
    case URG_SET_CONFIGURATION: return 1;
    case URG_CONFIGURATION_STATUS: return 2;
    case URG_SET_ALT_SETTING: return 2;
    case URG_GET_ALT_SETTING: return 1;
    case URG_ALT_SETTING_STATUS: return 3;
    case URG_START_ISO_STREAM: return 3;
    case URG_STOP_ISO_STREAM: return 1;
    case URG_ISO_STREAM_STATUS: return 2;
    case URG_START_INTERRUPT_RECEIVING: return 1;
    case URG_STOP_INTERRUPT_RECEIVING: return 1;
    case URG_INTERRUPT_RECEIVING_STATUS: return 2;
    case URG_ALLOC_BULK_STREAMS: return 8;
    case URG_FREE_BULK_STREAMS: return 4;
    case URG_BULK_STREAMS_STATUS: return 9;
    case URG_START_BULK_RECEIVING: return 10;
    case URG_STOP_BULK_RECEIVING: return 5;
    case URG_BULK_RECEIVING_STATUS: return 6;
    case URG_CONTROL_PACKET: return 10;
    case URG_BULK_PACKET: return urgi_has(w->caps, URG_CAP_32BITS_BULK_LENGTH) ? 10 : 8;
    case URG_ISO_PACKET: return 4;
    case URG_INTERRUPT_PACKET: return 4;
    case URG_BUFFERED_BULK_PACKET: return 10;
    default: return 0; /* no type header */
    }
}

/* ---------------------------------------------------------------------- */
/* Type headers                                                           */

void urgi_decode_type_header(const struct urg_wire *w, uint32_t type, const uint8_t *t,
                             struct urg_packet *p)
{
    int i;
    switch (type) {
    case URG_HELLO:
        memcpy(p->h.hello.version, t, 64);
        p->h.hello.version[63] = '\0';
        break;
    case URG_DEVICE_CONNECT: {
        struct urg_device_connect *d = &p->h.device_connect;
        d->speed = t[0];
        d->device_class = t[1];
        d->device_subclass = t[2];
        d->device_protocol = t[3];
        d->vendor_id = urgi_get16(t + 4);
        d->product_id = urgi_get16(t + 6);
        d->device_version_bcd =
            urgi_has(w->caps, URG_CAP_CONNECT_DEVICE_VERSION) ? urgi_get16(t + 8) : 0;
        break;
    }
    case URG_INTERFACE_INFO: {
        struct urg_interface_info *d = &p->h.interface_info;
        d->interface_count = urgi_get32(t);
        memcpy(d->interface, t + 4, 32);
        memcpy(d->interface_class, t + 36, 32);
        memcpy(d->interface_subclass, t + 68, 32);
        memcpy(d->interface_protocol, t + 100, 32);
        break;
    }
    case URG_EP_INFO: {
        struct urg_ep_info *d = &p->h.ep_info;
        bool mps = urgi_has(w->caps, URG_CAP_EP_INFO_MAX_PACKET_SIZE);
        bool streams = urgi_has(w->caps, URG_CAP_BULK_STREAMS);
        memcpy(d->type, t, 32);
        memcpy(d->interval, t + 32, 32);
        memcpy(d->interface, t + 64, 32);
        for (i = 0; i < 32; i++) {
            d->max_packet_size[i] = mps ? urgi_get16(t + 96 + 2 * i) : 0;
            d->max_streams[i] = streams ? urgi_get32(t + 160 + 4 * i) : 0;
        }
        break;
    }
    case URG_SET_CONFIGURATION:
        p->h.set_configuration.configuration = t[0];
        break;
    case URG_CONFIGURATION_STATUS:
        p->h.configuration_status.status = t[0];
        p->h.configuration_status.configuration = t[1];
        break;
    case URG_SET_ALT_SETTING:
        p->h.set_alt_setting.interface = t[0];
        p->h.set_alt_setting.alt = t[1];
        break;
    case URG_GET_ALT_SETTING:
        p->h.get_alt_setting.interface = t[0];
        break;
    case URG_ALT_SETTING_STATUS:
        p->h.alt_setting_status.status = t[0];
        p->h.alt_setting_status.interface = t[1];
        p->h.alt_setting_status.alt = t[2];
        break;
    case URG_START_ISO_STREAM:
        p->h.start_iso_stream.endpoint = t[0];
        p->h.start_iso_stream.pkts_per_urb = t[1];
        p->h.start_iso_stream.no_urbs = t[2];
        break;
    case URG_STOP_ISO_STREAM:
        p->h.stop_iso_stream.endpoint = t[0];
        break;
    case URG_ISO_STREAM_STATUS:
        p->h.iso_stream_status.status = t[0];
        p->h.iso_stream_status.endpoint = t[1];
        break;
    case URG_START_INTERRUPT_RECEIVING:
        p->h.start_interrupt_receiving.endpoint = t[0];
        break;
    case URG_STOP_INTERRUPT_RECEIVING:
        p->h.stop_interrupt_receiving.endpoint = t[0];
        break;
    case URG_INTERRUPT_RECEIVING_STATUS:
        p->h.interrupt_receiving_status.status = t[0];
        p->h.interrupt_receiving_status.endpoint = t[1];
        break;
    case URG_ALLOC_BULK_STREAMS:
        p->h.alloc_bulk_streams.endpoints = urgi_get32(t);
        p->h.alloc_bulk_streams.no_streams = urgi_get32(t + 4);
        break;
    case URG_FREE_BULK_STREAMS:
        p->h.free_bulk_streams.endpoints = urgi_get32(t);
        break;
    case URG_BULK_STREAMS_STATUS:
        p->h.bulk_streams_status.endpoints = urgi_get32(t);
        p->h.bulk_streams_status.no_streams = urgi_get32(t + 4);
        p->h.bulk_streams_status.status = t[8];
        break;
    case URG_START_BULK_RECEIVING:
        p->h.start_bulk_receiving.stream_id = urgi_get32(t);
        p->h.start_bulk_receiving.bytes_per_transfer = urgi_get32(t + 4);
        p->h.start_bulk_receiving.endpoint = t[8];
        p->h.start_bulk_receiving.no_transfers = t[9];
        break;
    case URG_STOP_BULK_RECEIVING:
        p->h.stop_bulk_receiving.stream_id = urgi_get32(t);
        p->h.stop_bulk_receiving.endpoint = t[4];
        break;
    case URG_BULK_RECEIVING_STATUS:
        p->h.bulk_receiving_status.stream_id = urgi_get32(t);
        p->h.bulk_receiving_status.endpoint = t[4];
        p->h.bulk_receiving_status.status = t[5];
        break;
    case URG_CONTROL_PACKET:
        p->h.control.endpoint = t[0];
        p->h.control.request = t[1];
        p->h.control.requesttype = t[2];
        p->h.control.status = t[3];
        p->h.control.value = urgi_get16(t + 4);
        p->h.control.index = urgi_get16(t + 6);
        p->h.control.length = urgi_get16(t + 8);
        break;
    case URG_BULK_PACKET:
        p->h.bulk.endpoint = t[0];
        p->h.bulk.status = t[1];
        p->h.bulk.length = urgi_get16(t + 2);
        p->h.bulk.stream_id = urgi_get32(t + 4);
        /* Widen before shifting: length_high << 16 in 16 bits is UB. */
        if (urgi_has(w->caps, URG_CAP_32BITS_BULK_LENGTH))
            p->h.bulk.length |= (uint32_t)urgi_get16(t + 8) << 16;
        break;
    case URG_ISO_PACKET:
        p->h.iso.endpoint = t[0];
        p->h.iso.status = t[1];
        p->h.iso.length = urgi_get16(t + 2);
        break;
    case URG_INTERRUPT_PACKET:
        p->h.interrupt.endpoint = t[0];
        p->h.interrupt.status = t[1];
        p->h.interrupt.length = urgi_get16(t + 2);
        break;
    case URG_BUFFERED_BULK_PACKET:
        p->h.buffered_bulk.stream_id = urgi_get32(t);
        p->h.buffered_bulk.length = urgi_get32(t + 4);
        p->h.buffered_bulk.endpoint = t[8];
        p->h.buffered_bulk.status = t[9];
        break;
    default:
        break;
    }
}

static void encode_type_header(const struct urg_wire *w, const struct urg_packet *p, uint8_t *t)
{
    int i;
    switch (p->type) {
    case URG_HELLO:
        memset(t, 0, 64);
        for (i = 0; i < 63 && p->h.hello.version[i]; i++)
            t[i] = (uint8_t)p->h.hello.version[i];
        break;
    case URG_DEVICE_CONNECT: {
        const struct urg_device_connect *d = &p->h.device_connect;
        t[0] = d->speed;
        t[1] = d->device_class;
        t[2] = d->device_subclass;
        t[3] = d->device_protocol;
        urgi_put16(t + 4, d->vendor_id);
        urgi_put16(t + 6, d->product_id);
        if (urgi_has(w->caps, URG_CAP_CONNECT_DEVICE_VERSION))
            urgi_put16(t + 8, d->device_version_bcd);
        break;
    }
    case URG_INTERFACE_INFO: {
        const struct urg_interface_info *d = &p->h.interface_info;
        urgi_put32(t, d->interface_count);
        memcpy(t + 4, d->interface, 32);
        memcpy(t + 36, d->interface_class, 32);
        memcpy(t + 68, d->interface_subclass, 32);
        memcpy(t + 100, d->interface_protocol, 32);
        break;
    }
    case URG_EP_INFO: {
        const struct urg_ep_info *d = &p->h.ep_info;
        memcpy(t, d->type, 32);
        memcpy(t + 32, d->interval, 32);
        memcpy(t + 64, d->interface, 32);
        if (urgi_has(w->caps, URG_CAP_EP_INFO_MAX_PACKET_SIZE))
            for (i = 0; i < 32; i++)
                urgi_put16(t + 96 + 2 * i, d->max_packet_size[i]);
        if (urgi_has(w->caps, URG_CAP_BULK_STREAMS))
            for (i = 0; i < 32; i++)
                urgi_put32(t + 160 + 4 * i, d->max_streams[i]);
        break;
    }
    case URG_SET_CONFIGURATION:
        t[0] = p->h.set_configuration.configuration;
        break;
    case URG_CONFIGURATION_STATUS:
        t[0] = p->h.configuration_status.status;
        t[1] = p->h.configuration_status.configuration;
        break;
    case URG_SET_ALT_SETTING:
        t[0] = p->h.set_alt_setting.interface;
        t[1] = p->h.set_alt_setting.alt;
        break;
    case URG_GET_ALT_SETTING:
        t[0] = p->h.get_alt_setting.interface;
        break;
    case URG_ALT_SETTING_STATUS:
        t[0] = p->h.alt_setting_status.status;
        t[1] = p->h.alt_setting_status.interface;
        t[2] = p->h.alt_setting_status.alt;
        break;
    case URG_START_ISO_STREAM:
        t[0] = p->h.start_iso_stream.endpoint;
        t[1] = p->h.start_iso_stream.pkts_per_urb;
        t[2] = p->h.start_iso_stream.no_urbs;
        break;
    case URG_STOP_ISO_STREAM:
        t[0] = p->h.stop_iso_stream.endpoint;
        break;
    case URG_ISO_STREAM_STATUS:
        t[0] = p->h.iso_stream_status.status;
        t[1] = p->h.iso_stream_status.endpoint;
        break;
    case URG_START_INTERRUPT_RECEIVING:
        t[0] = p->h.start_interrupt_receiving.endpoint;
        break;
    case URG_STOP_INTERRUPT_RECEIVING:
        t[0] = p->h.stop_interrupt_receiving.endpoint;
        break;
    case URG_INTERRUPT_RECEIVING_STATUS:
        t[0] = p->h.interrupt_receiving_status.status;
        t[1] = p->h.interrupt_receiving_status.endpoint;
        break;
    case URG_ALLOC_BULK_STREAMS:
        urgi_put32(t, p->h.alloc_bulk_streams.endpoints);
        urgi_put32(t + 4, p->h.alloc_bulk_streams.no_streams);
        break;
    case URG_FREE_BULK_STREAMS:
        urgi_put32(t, p->h.free_bulk_streams.endpoints);
        break;
    case URG_BULK_STREAMS_STATUS:
        urgi_put32(t, p->h.bulk_streams_status.endpoints);
        urgi_put32(t + 4, p->h.bulk_streams_status.no_streams);
        t[8] = p->h.bulk_streams_status.status;
        break;
    case URG_START_BULK_RECEIVING:
        urgi_put32(t, p->h.start_bulk_receiving.stream_id);
        urgi_put32(t + 4, p->h.start_bulk_receiving.bytes_per_transfer);
        t[8] = p->h.start_bulk_receiving.endpoint;
        t[9] = p->h.start_bulk_receiving.no_transfers;
        break;
    case URG_STOP_BULK_RECEIVING:
        urgi_put32(t, p->h.stop_bulk_receiving.stream_id);
        t[4] = p->h.stop_bulk_receiving.endpoint;
        break;
    case URG_BULK_RECEIVING_STATUS:
        urgi_put32(t, p->h.bulk_receiving_status.stream_id);
        t[4] = p->h.bulk_receiving_status.endpoint;
        t[5] = p->h.bulk_receiving_status.status;
        break;
    case URG_CONTROL_PACKET:
        t[0] = p->h.control.endpoint;
        t[1] = p->h.control.request;
        t[2] = p->h.control.requesttype;
        t[3] = p->h.control.status;
        urgi_put16(t + 4, p->h.control.value);
        urgi_put16(t + 6, p->h.control.index);
        urgi_put16(t + 8, p->h.control.length);
        break;
    case URG_BULK_PACKET:
        t[0] = p->h.bulk.endpoint;
        t[1] = p->h.bulk.status;
        urgi_put16(t + 2, (uint16_t)p->h.bulk.length);
        urgi_put32(t + 4, p->h.bulk.stream_id);
        if (urgi_has(w->caps, URG_CAP_32BITS_BULK_LENGTH))
            urgi_put16(t + 8, (uint16_t)(p->h.bulk.length >> 16));
        break;
    case URG_ISO_PACKET:
        t[0] = p->h.iso.endpoint;
        t[1] = p->h.iso.status;
        urgi_put16(t + 2, p->h.iso.length);
        break;
    case URG_INTERRUPT_PACKET:
        t[0] = p->h.interrupt.endpoint;
        t[1] = p->h.interrupt.status;
        urgi_put16(t + 2, p->h.interrupt.length);
        break;
    case URG_BUFFERED_BULK_PACKET:
        urgi_put32(t, p->h.buffered_bulk.stream_id);
        urgi_put32(t + 4, p->h.buffered_bulk.length);
        t[8] = p->h.buffered_bulk.endpoint;
        t[9] = p->h.buffered_bulk.status;
        break;
    default:
        break;
    }
}

void urgi_decode_hello_caps(struct urg_packet *p)
{
    uint32_t words = p->data_len / 4, i;
    memset(p->h.hello.caps, 0, sizeof(p->h.hello.caps));
    p->h.hello.caps_words = words;
    for (i = 0; i < words && i < 8; i++)
        p->h.hello.caps[i] = urgi_get32(p->data + 4 * i);
}

/* ---------------------------------------------------------------------- */
/* Validation                                                             */

int urgi_check_frame(const struct urg_wire *w, enum urg_dir dir, uint32_t type, uint32_t length,
                     uint32_t max_packet_size, int *th_len, char *msg, size_t cap)
{
    int th;
    if (urg_type_index(type) < 0)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_TYPE, "packet type %u is unknown (length %u)",
                        type, length);
    th = urg_type_header_len(w, type, dir);
    if (th < 0)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_DIRECTION, "%s: type %u never travels %s",
                        urg_type_name(type), type, dir_name(dir));
    if (length > max_packet_size)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_PACKET_SIZE,
                        "%s: header length %u is over the maximum packet size %u",
                        urg_type_name(type), length, max_packet_size);
    if (length < (uint32_t)th)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_HEADER_LENGTH,
                        "%s: header length %u is shorter than its %d-byte type header",
                        urg_type_name(type), length, th);
    if (length > (uint32_t)th && !urgi_type_may_have_data(type))
        return urgi_fmt(msg, cap, URG_ERR_PROTO_UNEXPECTED_DATA,
                        "%s: header length %u is over its %d-byte type header, and it carries "
                        "no data",
                        urg_type_name(type), length, th);
    *th_len = th;
    return 0;
}

static int need_cap(const struct urg_wire *w, int c, const struct urg_packet *p, char *msg,
                    size_t cap)
{
    if (urgi_has(w->caps, c))
        return 0;
    return urgi_fmt(msg, cap, URG_ERR_PROTO_CAP, "%s: needs the %s cap on both sides",
                    urg_type_name(p->type), urg_cap_name(c));
}

static int need_in_ep(uint8_t ep, const struct urg_packet *p, char *msg, size_t cap)
{
    if (ep & 0x80)
        return 0;
    return urgi_fmt(msg, cap, URG_ERR_PROTO_NOT_IN_EP, "%s: endpoint 0x%02x is not an IN endpoint",
                    urg_type_name(p->type), ep);
}

int urgi_check_headers(const struct urg_wire *w, enum urg_dir dir, const struct urg_packet *p,
                       char *msg, size_t cap)
{
    bool to_host = dir == URG_DIR_TO_HOST;
    uint32_t length = 0;
    int ep = -1, r, i;

    switch (p->type) {
    case URG_HELLO:
        if (p->data_len % 4)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_HELLO,
                            "hello: caps array of %u bytes is not a whole number of 32-bit words",
                            p->data_len);
        if (p->data_len / 4 > URG_MAX_HELLO_CAPS_WORDS)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_HELLO,
                            "hello: %u caps words, over the limit of %u", p->data_len / 4,
                            URG_MAX_HELLO_CAPS_WORDS);
        break;
    case URG_INTERFACE_INFO:
        if (p->h.interface_info.interface_count > 32)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_INTERFACE_COUNT,
                            "interface_info: interface_count %u is over 32",
                            p->h.interface_info.interface_count);
        break;
    case URG_EP_INFO:
        for (i = 0; i < 32; i++) {
            uint8_t t = p->h.ep_info.type[i];
            if (t > URG_EP_INTERRUPT && t != URG_EP_INVALID)
                return urgi_fmt(msg, cap, URG_ERR_PROTO_FIELD,
                                "ep_info: type[%d] (endpoint 0x%02x) is %u, not an endpoint type",
                                i, urg_ep_address(i), t);
        }
        break;
    case URG_START_INTERRUPT_RECEIVING:
        return need_in_ep(p->h.start_interrupt_receiving.endpoint, p, msg, cap);
    case URG_STOP_INTERRUPT_RECEIVING:
        return need_in_ep(p->h.stop_interrupt_receiving.endpoint, p, msg, cap);
    case URG_INTERRUPT_RECEIVING_STATUS:
        return need_in_ep(p->h.interrupt_receiving_status.endpoint, p, msg, cap);
    case URG_ALLOC_BULK_STREAMS:
    case URG_FREE_BULK_STREAMS:
    case URG_BULK_STREAMS_STATUS:
        return need_cap(w, URG_CAP_BULK_STREAMS, p, msg, cap);
    case URG_FILTER_REJECT:
        return need_cap(w, URG_CAP_FILTER, p, msg, cap);
    case URG_FILTER_FILTER:
        if ((r = need_cap(w, URG_CAP_FILTER, p, msg, cap)))
            return r;
        if (p->data_len < 1)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_FILTER, "filter_filter: no filter string");
        if (p->data_len > URG_MAX_FILTER_LENGTH)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_FILTER,
                            "filter_filter: string of %u bytes, over the limit of %u",
                            p->data_len, URG_MAX_FILTER_LENGTH);
        break;
    case URG_DEVICE_DISCONNECT_ACK:
        return need_cap(w, URG_CAP_DEVICE_DISCONNECT_ACK, p, msg, cap);
    case URG_START_BULK_RECEIVING:
        if ((r = need_cap(w, URG_CAP_BULK_RECEIVING, p, msg, cap)))
            return r;
        if (p->h.start_bulk_receiving.bytes_per_transfer > URG_MAX_BULK_LENGTH)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_BULK_LENGTH,
                            "start_bulk_receiving: bytes_per_transfer %u is over %u",
                            p->h.start_bulk_receiving.bytes_per_transfer, URG_MAX_BULK_LENGTH);
        return need_in_ep(p->h.start_bulk_receiving.endpoint, p, msg, cap);
    case URG_STOP_BULK_RECEIVING:
        if ((r = need_cap(w, URG_CAP_BULK_RECEIVING, p, msg, cap)))
            return r;
        return need_in_ep(p->h.stop_bulk_receiving.endpoint, p, msg, cap);
    case URG_BULK_RECEIVING_STATUS:
        if ((r = need_cap(w, URG_CAP_BULK_RECEIVING, p, msg, cap)))
            return r;
        return need_in_ep(p->h.bulk_receiving_status.endpoint, p, msg, cap);
    case URG_CONTROL_PACKET:
        length = p->h.control.length;
        ep = p->h.control.endpoint;
        if ((p->h.control.endpoint ^ p->h.control.requesttype) & 0x80)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_FIELD,
                            "control_packet: endpoint 0x%02x and requesttype 0x%02x disagree on "
                            "the direction",
                            p->h.control.endpoint, p->h.control.requesttype);
        break;
    case URG_BULK_PACKET:
        length = p->h.bulk.length;
        ep = p->h.bulk.endpoint;
        if (length > 0xffff && !urgi_has(w->caps, URG_CAP_32BITS_BULK_LENGTH))
            return urgi_fmt(msg, cap, URG_ERR_PROTO_BULK_LENGTH,
                            "bulk_packet: length %u needs the 32bits_bulk_length cap", length);
        if (length > URG_MAX_BULK_LENGTH)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_BULK_LENGTH,
                            "bulk_packet: length %u is over %u", length, URG_MAX_BULK_LENGTH);
        break;
    case URG_ISO_PACKET:
        length = p->h.iso.length;
        ep = p->h.iso.endpoint;
        break;
    case URG_INTERRUPT_PACKET:
        length = p->h.interrupt.length;
        ep = p->h.interrupt.endpoint;
        break;
    case URG_BUFFERED_BULK_PACKET:
        if ((r = need_cap(w, URG_CAP_BULK_RECEIVING, p, msg, cap)))
            return r;
        length = p->h.buffered_bulk.length;
        ep = p->h.buffered_bulk.endpoint;
        if (length > URG_MAX_BULK_LENGTH)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_BULK_LENGTH,
                            "buffered_bulk_packet: length %u is over %u", length,
                            URG_MAX_BULK_LENGTH);
        break;
    default:
        break;
    }

    if (ep < 0)
        return 0;
    /* The endpoint's direction decides which way data may travel. */
    if (((ep & 0x80) && !to_host) || (!(ep & 0x80) && to_host)) {
        if (p->data_len != length)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_DATA_LENGTH,
                            "%s: %u bytes of data but the length field says %u (endpoint 0x%02x)",
                            urg_type_name(p->type), p->data_len, length, ep);
        return 0;
    }
    if (p->data_len)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_UNEXPECTED_DATA,
                        "%s: %u bytes of data for endpoint 0x%02x, which carries none %s",
                        urg_type_name(p->type), p->data_len, ep, dir_name(dir));
    if (p->type == URG_ISO_PACKET || p->type == URG_BUFFERED_BULK_PACKET ||
        (p->type == URG_INTERRUPT_PACKET && to_host))
        return urgi_fmt(msg, cap, URG_ERR_PROTO_EP_DIRECTION,
                        "%s: endpoint 0x%02x is an %s endpoint; this packet cannot travel %s",
                        urg_type_name(p->type), ep, (ep & 0x80) ? "IN" : "OUT", dir_name(dir));
    return 0;
}

int urgi_check_payload(const struct urg_wire *w, enum urg_dir dir, const struct urg_packet *p,
                       char *msg, size_t cap)
{
    (void)w;
    (void)dir;
    if (p->type == URG_FILTER_FILTER) {
        size_t count = 0;
        if (p->data[p->data_len - 1] != 0)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_FILTER,
                            "filter_filter: string is not NUL-terminated");
        if (memchr(p->data, 0, p->data_len - 1))
            return urgi_fmt(msg, cap, URG_ERR_PROTO_FILTER,
                            "filter_filter: string has a NUL before its end");
        if (urg_filter_parse((const char *)p->data, NULL, 0, &count) == URG_ERR_FILTER_SYNTAX)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_FILTER,
                            "filter_filter: rule %zu of \"%.64s\" is malformed", count,
                            (const char *)p->data);
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Whole packets                                                          */

URG_API int urg_encoded_header_len(const struct urg_wire *w, const struct urg_packet *p,
                                   enum urg_dir dir)
{
    int th = urg_type_header_len(w, p->type, dir);
    if (th < 0)
        return -1;
    if (p->type == URG_HELLO) /* always a 32-bit id header */
        return 12 + th + 4 * (int)(p->h.hello.caps_words > 8 ? 8 : p->h.hello.caps_words);
    return urg_header_len(w) + th;
}

URG_API int urg_encode(const struct urg_wire *w, enum urg_dir dir, const struct urg_packet *p,
                       uint8_t *buf, size_t cap)
{
    struct urg_packet hv;          /* a hello as checked: its caps as data */
    const struct urg_packet *v = p;
    int n, th, hl, r;
    uint32_t i, data_len;

    if (!w || !p || (!buf && cap))
        return URG_ERR_INVALID;
    th = urg_type_header_len(w, p->type, dir);
    if (th < 0)
        return URG_ERR_PROTO_DIRECTION;
    if (p->type == URG_HELLO) /* always a 32-bit id header */
        hl = 12, n = 12 + th + 4 * (int)(p->h.hello.caps_words > 8 ? 8 : p->h.hello.caps_words);
    else
        hl = urg_header_len(w), n = hl + th;
    if ((size_t)n > cap)
        return URG_ERR_BUFFER;

    if (!w->id64 && p->id > 0xffffffffu && p->type != URG_HELLO)
        return URG_ERR_INVALID;
    if (p->type == URG_HELLO) {
        if (p->h.hello.caps_words > 8)
            return URG_ERR_INVALID;
        hv = *p;
        hv.data_len = 4 * p->h.hello.caps_words;
        hv.data = NULL;
        v = &hv;
    } else if (p->data_len && !p->data) {
        return URG_ERR_INVALID;
    }
    data_len = v->data_len;
    if (data_len > UINT32_MAX - (uint32_t)th)
        return URG_ERR_TOO_LONG;
    /* The frame rules left once th is known: the length is th + data_len. */
    if (data_len && !urgi_type_may_have_data(p->type))
        return URG_ERR_PROTO_UNEXPECTED_DATA;
    if ((r = urgi_check_headers(w, dir, v, NULL, 0)))
        return r;
    if (p->type == URG_FILTER_FILTER && data_len && (r = urgi_check_payload(w, dir, v, NULL, 0)))
        return r;

    urgi_put32(buf, p->type);
    urgi_put32(buf + 4, (uint32_t)th + data_len);
    urgi_put_id(buf, hl, p->type == URG_HELLO ? 0 : p->id);
    encode_type_header(w, p, buf + hl);
    if (p->type == URG_HELLO)
        for (i = 0; i < p->h.hello.caps_words; i++)
            urgi_put32(buf + hl + th + 4 * i, p->h.hello.caps[i]);
    return n;
}

URG_API int urg_decode(const struct urg_wire *w, enum urg_dir dir, const uint8_t *buf, size_t len,
                       uint32_t max_packet_size, struct urg_packet *p, size_t *consumed)
{
    int hl, th, r;
    uint32_t type, length;

    if (!w || !p || (!buf && len))
        return URG_ERR_INVALID;
    if (!max_packet_size)
        max_packet_size = URG_DEFAULT_MAX_PACKET_SIZE;
    hl = urg_header_len(w);
    if (len < (size_t)hl)
        return URG_ERR_AGAIN;
    type = urgi_get32(buf);
    length = urgi_get32(buf + 4);
    if ((r = urgi_check_frame(w, dir, type, length, max_packet_size, &th, NULL, 0)))
        return r;
    if (len - (size_t)hl < length)
        return URG_ERR_AGAIN;
    memset(p, 0, sizeof(*p));
    p->type = type;
    p->id = hl == 16 ? urgi_get64(buf + 8) : urgi_get32(buf + 8);
    urgi_decode_type_header(w, type, buf + hl, p);
    p->data_len = length - (uint32_t)th;
    p->data = p->data_len ? buf + hl + th : NULL;
    if (type == URG_HELLO)
        urgi_decode_hello_caps(p);
    if ((r = urgi_check_headers(w, dir, p, NULL, 0)))
        return r;
    if (p->data_len && (r = urgi_check_payload(w, dir, p, NULL, 0)))
        return r;
    if (consumed)
        *consumed = (size_t)hl + length;
    return 0;
}

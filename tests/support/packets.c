/*
 * packets.c - valid random packets and their comparison (see packets.h).
 */
#include "packets.h"

#include <stdio.h>
#include <string.h>

uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

uint32_t layout_caps(int v)
{
    static const uint32_t ep_variants[3] = {
        0,
        URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE),
        URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE) | URG_CAP_BIT(URG_CAP_BULK_STREAMS),
    };
    uint32_t c = URG_CAP_BIT(URG_CAP_FILTER) | URG_CAP_BIT(URG_CAP_DEVICE_DISCONNECT_ACK) |
                 URG_CAP_BIT(URG_CAP_BULK_RECEIVING);
    if (v & 1)
        c |= URG_CAP_BIT(URG_CAP_64BITS_IDS);
    if (v & 2)
        c |= URG_CAP_BIT(URG_CAP_CONNECT_DEVICE_VERSION);
    if (v & 4)
        c |= URG_CAP_BIT(URG_CAP_32BITS_BULK_LENGTH);
    c |= ep_variants[(v >> 3) % 3];
    return c;
}

static int has(const struct urg_wire *w, int cap) { return (w->caps >> cap) & 1; }

static void fill(uint8_t *b, uint32_t n, uint32_t *rng)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        b[i] = (uint8_t)rnd(rng);
}

/* Does data travel with an endpoint in this direction? */
static int carries(uint8_t ep, enum urg_dir dir)
{
    return (ep & 0x80) ? dir == URG_DIR_TO_GUEST : dir == URG_DIR_TO_HOST;
}

static uint32_t pick_len(uint32_t *rng, uint32_t max, size_t cap)
{
    uint32_t l;
    switch (rnd(rng) % 4) {
    case 0: l = 0; break;
    case 1: l = rnd(rng) % 64; break;
    case 2: l = rnd(rng) % 1024; break;
    default: l = max; break;
    }
    if (l > max)
        l = max;
    if (l > cap)
        l = (uint32_t)cap;
    return l;
}

int gen_packet(uint32_t type, enum urg_dir dir, const struct urg_wire *w, uint32_t *rng,
               struct urg_packet *p, uint8_t *buf, size_t cap)
{
    int i;
    uint32_t len;
    if (urg_type_header_len(w, type, dir) < 0)
        return GEN_NO_DIR;
    memset(p, 0, sizeof(*p));
    p->type = type;
    p->id = w->id64 ? ((uint64_t)rnd(rng) << 32 | rnd(rng)) : rnd(rng);
    switch (type) {
    case URG_DEVICE_CONNECT:
    case URG_DEVICE_DISCONNECT:
    case URG_RESET:
    case URG_INTERFACE_INFO:
    case URG_EP_INFO:
    case URG_FILTER_REJECT:
    case URG_DEVICE_DISCONNECT_ACK:
        p->id = 0; /* unsolicited: id 0 as the spec says */
        break;
    default:
        break;
    }
    switch (type) {
    case URG_HELLO: {
        int n = (int)(rnd(rng) % 63);
        p->id = 0;
        for (i = 0; i < n; i++)
            p->h.hello.version[i] = (char)(' ' + rnd(rng) % 95);
        p->h.hello.caps_words = 1 + rnd(rng) % 3;
        p->h.hello.caps[0] = rnd(rng) & URG_CAPS_ALL;
        if (p->h.hello.caps[0] & URG_CAP_BIT(URG_CAP_BULK_STREAMS))
            p->h.hello.caps[0] |= URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE);
        for (i = 1; i < (int)p->h.hello.caps_words; i++)
            p->h.hello.caps[i] = rnd(rng);
        break;
    }
    case URG_DEVICE_CONNECT:
        p->h.device_connect.speed = (uint8_t)(rnd(rng) % 4);
        p->h.device_connect.device_class = (uint8_t)rnd(rng);
        p->h.device_connect.device_subclass = (uint8_t)rnd(rng);
        p->h.device_connect.device_protocol = (uint8_t)rnd(rng);
        p->h.device_connect.vendor_id = (uint16_t)rnd(rng);
        p->h.device_connect.product_id = (uint16_t)rnd(rng);
        if (has(w, URG_CAP_CONNECT_DEVICE_VERSION))
            p->h.device_connect.device_version_bcd = (uint16_t)rnd(rng);
        break;
    case URG_INTERFACE_INFO:
        p->h.interface_info.interface_count = rnd(rng) % 33;
        fill(p->h.interface_info.interface, 32, rng);
        fill(p->h.interface_info.interface_class, 32, rng);
        fill(p->h.interface_info.interface_subclass, 32, rng);
        fill(p->h.interface_info.interface_protocol, 32, rng);
        break;
    case URG_EP_INFO:
        for (i = 0; i < 32; i++) {
            static const uint8_t types[5] = { 0, 1, 2, 3, 255 };
            p->h.ep_info.type[i] = types[rnd(rng) % 5];
            p->h.ep_info.interval[i] = (uint8_t)rnd(rng);
            p->h.ep_info.interface[i] = (uint8_t)rnd(rng);
            if (has(w, URG_CAP_EP_INFO_MAX_PACKET_SIZE))
                p->h.ep_info.max_packet_size[i] = (uint16_t)rnd(rng);
            if (has(w, URG_CAP_BULK_STREAMS))
                p->h.ep_info.max_streams[i] = rnd(rng);
        }
        break;
    case URG_SET_CONFIGURATION:
        p->h.set_configuration.configuration = (uint8_t)rnd(rng);
        break;
    case URG_CONFIGURATION_STATUS:
        p->h.configuration_status.status = (uint8_t)(rnd(rng) % 8);
        p->h.configuration_status.configuration = (uint8_t)rnd(rng);
        break;
    case URG_SET_ALT_SETTING:
        p->h.set_alt_setting.interface = (uint8_t)rnd(rng);
        p->h.set_alt_setting.alt = (uint8_t)rnd(rng);
        break;
    case URG_GET_ALT_SETTING:
        p->h.get_alt_setting.interface = (uint8_t)rnd(rng);
        break;
    case URG_ALT_SETTING_STATUS:
        p->h.alt_setting_status.status = (uint8_t)(rnd(rng) % 8);
        p->h.alt_setting_status.interface = (uint8_t)rnd(rng);
        p->h.alt_setting_status.alt = (uint8_t)rnd(rng);
        break;
    case URG_START_ISO_STREAM:
        p->h.start_iso_stream.endpoint = (uint8_t)rnd(rng);
        p->h.start_iso_stream.pkts_per_urb = (uint8_t)rnd(rng);
        p->h.start_iso_stream.no_urbs = (uint8_t)rnd(rng);
        break;
    case URG_STOP_ISO_STREAM:
        p->h.stop_iso_stream.endpoint = (uint8_t)rnd(rng);
        break;
    case URG_ISO_STREAM_STATUS:
        p->h.iso_stream_status.status = (uint8_t)(rnd(rng) % 8);
        p->h.iso_stream_status.endpoint = (uint8_t)rnd(rng);
        break;
    case URG_START_INTERRUPT_RECEIVING:
        p->h.start_interrupt_receiving.endpoint = (uint8_t)(rnd(rng) | 0x80);
        break;
    case URG_STOP_INTERRUPT_RECEIVING:
        p->h.stop_interrupt_receiving.endpoint = (uint8_t)(rnd(rng) | 0x80);
        break;
    case URG_INTERRUPT_RECEIVING_STATUS:
        p->h.interrupt_receiving_status.status = (uint8_t)(rnd(rng) % 8);
        p->h.interrupt_receiving_status.endpoint = (uint8_t)(rnd(rng) | 0x80);
        break;
    case URG_ALLOC_BULK_STREAMS:
        if (!has(w, URG_CAP_BULK_STREAMS))
            return GEN_NO_CAP;
        p->h.alloc_bulk_streams.endpoints = rnd(rng);
        p->h.alloc_bulk_streams.no_streams = rnd(rng);
        break;
    case URG_FREE_BULK_STREAMS:
        if (!has(w, URG_CAP_BULK_STREAMS))
            return GEN_NO_CAP;
        p->h.free_bulk_streams.endpoints = rnd(rng);
        break;
    case URG_BULK_STREAMS_STATUS:
        if (!has(w, URG_CAP_BULK_STREAMS))
            return GEN_NO_CAP;
        p->h.bulk_streams_status.endpoints = rnd(rng);
        p->h.bulk_streams_status.no_streams = rnd(rng);
        p->h.bulk_streams_status.status = (uint8_t)(rnd(rng) % 8);
        break;
    case URG_FILTER_REJECT:
        if (!has(w, URG_CAP_FILTER))
            return GEN_NO_CAP;
        break;
    case URG_FILTER_FILTER: {
        struct urg_filter_rule rules[4];
        int n = 1 + (int)(rnd(rng) % 4), r;
        if (!has(w, URG_CAP_FILTER))
            return GEN_NO_CAP;
        for (i = 0; i < n; i++) {
            rules[i].device_class = rnd(rng) % 3 ? (int)(rnd(rng) % 256) : -1;
            rules[i].vendor_id = rnd(rng) % 3 ? (int)(rnd(rng) % 65536) : -1;
            rules[i].product_id = rnd(rng) % 3 ? (int)(rnd(rng) % 65536) : -1;
            rules[i].device_version_bcd = rnd(rng) % 3 ? (int)(rnd(rng) % 65536) : -1;
            rules[i].allow = (int)(rnd(rng) % 2);
        }
        p->id = 0;
        r = urg_filter_format(rules, (size_t)n, (char *)buf, cap);
        if (r < 0 || (size_t)r >= cap)
            return GEN_NO_CAP;
        p->data = buf;
        p->data_len = (uint32_t)r + 1;
        break;
    }
    case URG_DEVICE_DISCONNECT_ACK:
        if (!has(w, URG_CAP_DEVICE_DISCONNECT_ACK))
            return GEN_NO_CAP;
        break;
    case URG_START_BULK_RECEIVING:
        if (!has(w, URG_CAP_BULK_RECEIVING))
            return GEN_NO_CAP;
        p->h.start_bulk_receiving.stream_id = rnd(rng);
        p->h.start_bulk_receiving.bytes_per_transfer = rnd(rng) % (URG_MAX_BULK_LENGTH + 1);
        p->h.start_bulk_receiving.endpoint = (uint8_t)(rnd(rng) | 0x80);
        p->h.start_bulk_receiving.no_transfers = (uint8_t)rnd(rng);
        break;
    case URG_STOP_BULK_RECEIVING:
        if (!has(w, URG_CAP_BULK_RECEIVING))
            return GEN_NO_CAP;
        p->h.stop_bulk_receiving.stream_id = rnd(rng);
        p->h.stop_bulk_receiving.endpoint = (uint8_t)(rnd(rng) | 0x80);
        break;
    case URG_BULK_RECEIVING_STATUS:
        if (!has(w, URG_CAP_BULK_RECEIVING))
            return GEN_NO_CAP;
        p->h.bulk_receiving_status.stream_id = rnd(rng);
        p->h.bulk_receiving_status.endpoint = (uint8_t)(rnd(rng) | 0x80);
        p->h.bulk_receiving_status.status = (uint8_t)(rnd(rng) % 8);
        break;
    case URG_CONTROL_PACKET: {
        uint8_t rt = (uint8_t)rnd(rng);
        p->h.control.requesttype = rt;
        p->h.control.endpoint = (uint8_t)((rt & 0x80) | (rnd(rng) % 16));
        p->h.control.request = (uint8_t)rnd(rng);
        p->h.control.status = dir == URG_DIR_TO_GUEST ? (uint8_t)(rnd(rng) % 8) : 0;
        p->h.control.value = (uint16_t)rnd(rng);
        p->h.control.index = (uint16_t)rnd(rng);
        len = pick_len(rng, 4096, cap);
        p->h.control.length = (uint16_t)len;
        if (carries(p->h.control.endpoint, dir)) {
            fill(buf, len, rng);
            p->data = len ? buf : NULL;
            p->data_len = len;
        }
        break;
    }
    case URG_BULK_PACKET:
        p->h.bulk.endpoint = (uint8_t)rnd(rng);
        p->h.bulk.status = dir == URG_DIR_TO_GUEST ? (uint8_t)(rnd(rng) % 8) : 0;
        p->h.bulk.stream_id = has(w, URG_CAP_BULK_STREAMS) ? rnd(rng) % 64 : 0;
        len = pick_len(rng, has(w, URG_CAP_32BITS_BULK_LENGTH) ? 70000 : 65535, cap);
        p->h.bulk.length = len;
        if (carries(p->h.bulk.endpoint, dir)) {
            fill(buf, len, rng);
            p->data = len ? buf : NULL;
            p->data_len = len;
        }
        break;
    case URG_ISO_PACKET:
        /* Iso packets travel only with their endpoint's data. */
        p->h.iso.endpoint = (uint8_t)((dir == URG_DIR_TO_GUEST ? 0x80 : 0) | (rnd(rng) % 16));
        p->h.iso.status = dir == URG_DIR_TO_GUEST ? (uint8_t)(rnd(rng) % 8) : 0;
        len = pick_len(rng, 3072, cap);
        p->h.iso.length = (uint16_t)len;
        fill(buf, len, rng);
        p->data = len ? buf : NULL;
        p->data_len = len;
        break;
    case URG_INTERRUPT_PACKET:
        /* To the host: OUT data. To the guest: IN data, or an OUT reply. */
        p->h.interrupt.endpoint = (uint8_t)(rnd(rng) % 16);
        if (dir == URG_DIR_TO_GUEST && rnd(rng) % 2)
            p->h.interrupt.endpoint |= 0x80;
        p->h.interrupt.status = dir == URG_DIR_TO_GUEST ? (uint8_t)(rnd(rng) % 8) : 0;
        len = pick_len(rng, 1024, cap);
        p->h.interrupt.length = (uint16_t)len;
        if (carries(p->h.interrupt.endpoint, dir)) {
            fill(buf, len, rng);
            p->data = len ? buf : NULL;
            p->data_len = len;
        }
        break;
    case URG_BUFFERED_BULK_PACKET:
        if (!has(w, URG_CAP_BULK_RECEIVING))
            return GEN_NO_CAP;
        p->h.buffered_bulk.stream_id = rnd(rng);
        p->h.buffered_bulk.endpoint = (uint8_t)(rnd(rng) | 0x80);
        p->h.buffered_bulk.status = (uint8_t)(rnd(rng) % 8);
        len = pick_len(rng, 70000, cap);
        p->h.buffered_bulk.length = len;
        fill(buf, len, rng);
        p->data = len ? buf : NULL;
        p->data_len = len;
        break;
    default:
        break;
    }
    return GEN_OK;
}

#define DIFF(field)                                                                               \
    do {                                                                                          \
        if ((a->field) != (b->field)) {                                                           \
            snprintf(why, cap, "%s: " #field " %llu != %llu", urg_type_name(a->type),             \
                     (unsigned long long)(a->field), (unsigned long long)(b->field));             \
            return 1;                                                                             \
        }                                                                                         \
    } while (0)
#define DIFFMEM(field, n)                                                                         \
    do {                                                                                          \
        if (memcmp(a->field, b->field, n)) {                                                      \
            snprintf(why, cap, "%s: " #field " differs", urg_type_name(a->type));                \
            return 1;                                                                             \
        }                                                                                         \
    } while (0)

int packet_diff(const struct urg_packet *a, const struct urg_packet *b, const struct urg_wire *w,
                char *why, size_t cap)
{
    int i;
    DIFF(type);
    DIFF(id);
    switch (a->type) {
    case URG_HELLO:
        if (strcmp(a->h.hello.version, b->h.hello.version)) {
            snprintf(why, cap, "hello: version \"%s\" != \"%s\"", a->h.hello.version,
                     b->h.hello.version);
            return 1;
        }
        DIFF(h.hello.caps_words);
        for (i = 0; i < (int)a->h.hello.caps_words && i < 8; i++)
            DIFF(h.hello.caps[i]);
        return 0; /* caps are the payload, compared above */
    case URG_DEVICE_CONNECT:
        DIFF(h.device_connect.speed);
        DIFF(h.device_connect.device_class);
        DIFF(h.device_connect.device_subclass);
        DIFF(h.device_connect.device_protocol);
        DIFF(h.device_connect.vendor_id);
        DIFF(h.device_connect.product_id);
        if (has(w, URG_CAP_CONNECT_DEVICE_VERSION))
            DIFF(h.device_connect.device_version_bcd);
        break;
    case URG_INTERFACE_INFO:
        DIFF(h.interface_info.interface_count);
        DIFFMEM(h.interface_info.interface, 32);
        DIFFMEM(h.interface_info.interface_class, 32);
        DIFFMEM(h.interface_info.interface_subclass, 32);
        DIFFMEM(h.interface_info.interface_protocol, 32);
        break;
    case URG_EP_INFO:
        DIFFMEM(h.ep_info.type, 32);
        DIFFMEM(h.ep_info.interval, 32);
        DIFFMEM(h.ep_info.interface, 32);
        for (i = 0; i < 32; i++) {
            if (has(w, URG_CAP_EP_INFO_MAX_PACKET_SIZE))
                DIFF(h.ep_info.max_packet_size[i]);
            if (has(w, URG_CAP_BULK_STREAMS))
                DIFF(h.ep_info.max_streams[i]);
        }
        break;
    case URG_SET_CONFIGURATION: DIFF(h.set_configuration.configuration); break;
    case URG_CONFIGURATION_STATUS:
        DIFF(h.configuration_status.status);
        DIFF(h.configuration_status.configuration);
        break;
    case URG_SET_ALT_SETTING:
        DIFF(h.set_alt_setting.interface);
        DIFF(h.set_alt_setting.alt);
        break;
    case URG_GET_ALT_SETTING: DIFF(h.get_alt_setting.interface); break;
    case URG_ALT_SETTING_STATUS:
        DIFF(h.alt_setting_status.status);
        DIFF(h.alt_setting_status.interface);
        DIFF(h.alt_setting_status.alt);
        break;
    case URG_START_ISO_STREAM:
        DIFF(h.start_iso_stream.endpoint);
        DIFF(h.start_iso_stream.pkts_per_urb);
        DIFF(h.start_iso_stream.no_urbs);
        break;
    case URG_STOP_ISO_STREAM: DIFF(h.stop_iso_stream.endpoint); break;
    case URG_ISO_STREAM_STATUS:
        DIFF(h.iso_stream_status.status);
        DIFF(h.iso_stream_status.endpoint);
        break;
    case URG_START_INTERRUPT_RECEIVING: DIFF(h.start_interrupt_receiving.endpoint); break;
    case URG_STOP_INTERRUPT_RECEIVING: DIFF(h.stop_interrupt_receiving.endpoint); break;
    case URG_INTERRUPT_RECEIVING_STATUS:
        DIFF(h.interrupt_receiving_status.status);
        DIFF(h.interrupt_receiving_status.endpoint);
        break;
    case URG_ALLOC_BULK_STREAMS:
        DIFF(h.alloc_bulk_streams.endpoints);
        DIFF(h.alloc_bulk_streams.no_streams);
        break;
    case URG_FREE_BULK_STREAMS: DIFF(h.free_bulk_streams.endpoints); break;
    case URG_BULK_STREAMS_STATUS:
        DIFF(h.bulk_streams_status.endpoints);
        DIFF(h.bulk_streams_status.no_streams);
        DIFF(h.bulk_streams_status.status);
        break;
    case URG_START_BULK_RECEIVING:
        DIFF(h.start_bulk_receiving.stream_id);
        DIFF(h.start_bulk_receiving.bytes_per_transfer);
        DIFF(h.start_bulk_receiving.endpoint);
        DIFF(h.start_bulk_receiving.no_transfers);
        break;
    case URG_STOP_BULK_RECEIVING:
        DIFF(h.stop_bulk_receiving.stream_id);
        DIFF(h.stop_bulk_receiving.endpoint);
        break;
    case URG_BULK_RECEIVING_STATUS:
        DIFF(h.bulk_receiving_status.stream_id);
        DIFF(h.bulk_receiving_status.endpoint);
        DIFF(h.bulk_receiving_status.status);
        break;
    case URG_CONTROL_PACKET:
        DIFF(h.control.endpoint);
        DIFF(h.control.request);
        DIFF(h.control.requesttype);
        DIFF(h.control.status);
        DIFF(h.control.value);
        DIFF(h.control.index);
        DIFF(h.control.length);
        break;
    case URG_BULK_PACKET:
        DIFF(h.bulk.endpoint);
        DIFF(h.bulk.status);
        DIFF(h.bulk.length);
        DIFF(h.bulk.stream_id);
        break;
    case URG_ISO_PACKET:
        DIFF(h.iso.endpoint);
        DIFF(h.iso.status);
        DIFF(h.iso.length);
        break;
    case URG_INTERRUPT_PACKET:
        DIFF(h.interrupt.endpoint);
        DIFF(h.interrupt.status);
        DIFF(h.interrupt.length);
        break;
    case URG_BUFFERED_BULK_PACKET:
        DIFF(h.buffered_bulk.stream_id);
        DIFF(h.buffered_bulk.length);
        DIFF(h.buffered_bulk.endpoint);
        DIFF(h.buffered_bulk.status);
        break;
    default:
        break;
    }
    DIFF(data_len);
    if (a->data_len && memcmp(a->data, b->data, a->data_len)) {
        snprintf(why, cap, "%s: payload differs", urg_type_name(a->type));
        return 1;
    }
    return 0;
}

/*
 * dump.c - one line of text per packet, as the dump command prints it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "urg_capture.h"
#include "urg_codec.h"
#include "urg_transport.h"

struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL, o->len < o->cap ? o->cap - o->len : 0,
                  fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

/* Text from the peer (or a capture file), escaped, in quotes. */
static void text(struct out *o, const void *t, size_t n)
{
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    put(o, "\"");
    o->len += urg_escape(t, n, NULL, room > 1 ? o->buf + o->len : NULL, room > 1 ? room - 1 : 0);
    put(o, "\"");
}

static void data(struct out *o, const uint8_t *d, uint32_t n)
{
    uint32_t i;
    if (!d || !n)
        return;
    put(o, " data=");
    for (i = 0; i < n && i < 16; i++)
        put(o, "%02x", d[i]);
    if (n > 16)
        put(o, "...(%u bytes)", n);
}

static const char *st(int s) { return urg_status_name(s); }

/* What a type with an endpoint has beyond its endpoint, stream id, length
 * and status (urg_packet_fields). */
static void own_fields(struct out *o, const struct urg_packet *p)
{
    switch (p->type) {
    case URG_START_ISO_STREAM:
        put(o, " pkts_per_urb=%u no_urbs=%u", p->h.start_iso_stream.pkts_per_urb,
            p->h.start_iso_stream.no_urbs);
        break;
    case URG_START_BULK_RECEIVING:
        put(o, " bytes=%u transfers=%u", p->h.start_bulk_receiving.bytes_per_transfer,
            p->h.start_bulk_receiving.no_transfers);
        break;
    case URG_CONTROL_PACKET:
        put(o, " rt=0x%02x req=0x%02x value=0x%04x index=0x%04x", p->h.control.requesttype,
            p->h.control.request, p->h.control.value, p->h.control.index);
        break;
    default:
        break;
    }
}

URG_API int urg_packet_format(const struct urg_packet *p, char *buf, size_t cap)
{
    struct out o = { buf, cap, 0 };
    int i, n = 0;
    if (!p)
        return URG_ERR_INVALID;
    if (cap)
        buf[0] = 0;
    put(&o, "%s", urg_type_name(p->type));
    if (p->type != URG_HELLO)
        put(&o, " id=%llu", (unsigned long long)p->id);
    switch (p->type) {
    case URG_HELLO:
        put(&o, " version=");
        text(&o, p->h.hello.version, strnlen(p->h.hello.version, sizeof(p->h.hello.version)));
        put(&o, " caps=0x%02x", p->h.hello.caps[0]);
        break;
    case URG_DEVICE_CONNECT: {
        const struct urg_device_connect *c = &p->h.device_connect;
        put(&o, " %04x:%04x speed=%s class=%02x/%02x/%02x version=0x%04x", c->vendor_id,
            c->product_id, urg_speed_name(c->speed), c->device_class, c->device_subclass,
            c->device_protocol, c->device_version_bcd);
        break;
    }
    case URG_INTERFACE_INFO: {
        const struct urg_interface_info *f = &p->h.interface_info;
        put(&o, " count=%u", f->interface_count);
        for (i = 0; i < (int)f->interface_count && i < 32; i++)
            put(&o, " if%u=%02x/%02x/%02x", f->interface[i], f->interface_class[i],
                f->interface_subclass[i], f->interface_protocol[i]);
        break;
    }
    case URG_EP_INFO:
        for (i = 0; i < 32; i++) {
            const struct urg_ep_info *e = &p->h.ep_info;
            if (e->type[i] == URG_EP_INVALID || (i == 0 || i == 16))
                continue;
            put(&o, " 0x%02x=%s/%u/%u", urg_ep_address(i), urg_ep_type_name(e->type[i]),
                e->interval[i], e->max_packet_size[i]);
            n++;
        }
        if (!n)
            put(&o, " (control only)");
        break;
    case URG_SET_CONFIGURATION:
        put(&o, " configuration=%u", p->h.set_configuration.configuration);
        break;
    case URG_CONFIGURATION_STATUS:
        put(&o, " status=%s configuration=%u", st(p->h.configuration_status.status),
            p->h.configuration_status.configuration);
        break;
    case URG_SET_ALT_SETTING:
        put(&o, " interface=%u alt=%u", p->h.set_alt_setting.interface, p->h.set_alt_setting.alt);
        break;
    case URG_GET_ALT_SETTING:
        put(&o, " interface=%u", p->h.get_alt_setting.interface);
        break;
    case URG_ALT_SETTING_STATUS:
        put(&o, " status=%s interface=%u alt=%u", st(p->h.alt_setting_status.status),
            p->h.alt_setting_status.interface, p->h.alt_setting_status.alt);
        break;
    case URG_ALLOC_BULK_STREAMS:
        put(&o, " endpoints=0x%08x no_streams=%u", p->h.alloc_bulk_streams.endpoints,
            p->h.alloc_bulk_streams.no_streams);
        break;
    case URG_FREE_BULK_STREAMS:
        put(&o, " endpoints=0x%08x", p->h.free_bulk_streams.endpoints);
        break;
    case URG_BULK_STREAMS_STATUS:
        put(&o, " endpoints=0x%08x no_streams=%u status=%s", p->h.bulk_streams_status.endpoints,
            p->h.bulk_streams_status.no_streams, st(p->h.bulk_streams_status.status));
        break;
    case URG_FILTER_FILTER:
        put(&o, " ");
        text(&o, p->data, p->data_len ? p->data_len - 1 : 0);
        break;
    default: {
        /* The types with an endpoint: their shared fields through their
         * rows, in one order, and between them what is the type's own. */
        struct urg_packet_fields f;
        urg_packet_fields(p, &f);
        if (f.endpoint >= 0)
            put(&o, " ep=0x%02x", (unsigned)f.endpoint);
        if (f.stream_id >= 0)
            put(&o, " stream=%u", (unsigned)f.stream_id);
        own_fields(&o, p);
        if (f.length >= 0)
            put(&o, " len=%u", (unsigned)f.length);
        if (f.status >= 0)
            put(&o, " status=%s", st(f.status));
        if (f.length >= 0)
            data(&o, p->data, p->data_len);
        break;
    }
    }
    return (int)o.len;
}

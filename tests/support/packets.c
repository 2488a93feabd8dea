/*
 * packets.c - valid random packets and their comparison (see packets.h).
 */
#include "packets.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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

struct urg_packet hello_packet(const char *version, uint32_t caps)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = URG_HELLO;
    snprintf(p.h.hello.version, sizeof(p.h.hello.version), "%s", version);
    p.h.hello.caps[0] = caps;
    p.h.hello.caps_words = 1;
    return p;
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

/*
 * What a packet is - the fields of its type header, the directions it
 * travels, the caps it needs, its data rule, its IN-endpoint rule - is its
 * row (urg_type_info, urg_type_field). Below are only the values: what
 * the protocol or this generator chooses for a field of a given type.
 */

/* Types whose id the protocol leaves unused: sent with id 0 (the table has
 * no column for ids; they are values). */
static int id_unused(uint32_t type)
{
    switch (type) {
    case URG_HELLO:
    case URG_DEVICE_CONNECT:
    case URG_DEVICE_DISCONNECT:
    case URG_RESET:
    case URG_INTERFACE_INFO:
    case URG_EP_INFO:
    case URG_FILTER_REJECT:
    case URG_FILTER_FILTER:
    case URG_DEVICE_DISCONNECT_ACK:
        return 1;
    default:
        return 0;
    }
}

/* The endpoint numbers and payload lengths drawn for a data packet's type:
 * endpoints 0-15, or any byte (the codec must not care); lengths up to max
 * (up to max32 with 32bits_bulk_length). */
static const struct {
    uint32_t type;
    uint8_t ep_bits;
    uint32_t max, max32;
} data_values[] = {
    { URG_CONTROL_PACKET, 0x0f, 4096, 4096 },
    { URG_BULK_PACKET, 0xff, 65535, 70000 },
    { URG_ISO_PACKET, 0x0f, 3072, 3072 },
    { URG_INTERRUPT_PACKET, 0x0f, 1024, 1024 },
    { URG_BUFFERED_BULK_PACKET, 0xff, 70000, 70000 },
};

static int data_values_of(uint32_t type)
{
    int i;
    for (i = 0; i < (int)(sizeof(data_values) / sizeof(data_values[0])); i++)
        if (data_values[i].type == type)
            return i;
    return -1;
}

#define AT(x, m) offsetof(struct urg_packet, h.x.m)

/* Fields whose values the protocol bounds: value % mod. */
static const struct {
    uint32_t type;
    size_t at;
    uint32_t mod;
} bounded[] = {
    { URG_DEVICE_CONNECT, AT(device_connect, speed), 4 },
    { URG_INTERFACE_INFO, AT(interface_info, interface_count), 33 }, /* at most 32 */
    { URG_START_BULK_RECEIVING, AT(start_bulk_receiving, bytes_per_transfer),
      URG_MAX_BULK_LENGTH + 1 },
};

/* An endpoint with the direction bit the row asks for: IN for an
 * in_endpoint row, the direction's own where the type travels only with
 * its endpoint's data, else either. A control packet's endpoint takes its
 * requesttype's direction (drawn here, first). */
static uint8_t pick_endpoint(uint32_t type, const struct urg_type_info *ti, enum urg_dir dir,
                             struct urg_packet *p, uint32_t *rng)
{
    int dv = data_values_of(type);
    uint8_t bits = dv >= 0 ? data_values[dv].ep_bits : 0xff, ep;
    if (type == URG_CONTROL_PACKET) {
        p->h.control.requesttype = (uint8_t)rnd(rng);
        return (uint8_t)((p->h.control.requesttype & 0x80) | (rnd(rng) & bits));
    }
    ep = (uint8_t)(rnd(rng) & bits);
    if (ti->in_endpoint || (ti->data_only & URG_DIR_BIT(dir) && dir == URG_DIR_TO_GUEST))
        return ep | 0x80;
    if (ti->data_only & URG_DIR_BIT(dir))
        return ep & 0x7f;
    if (!(bits & 0x80) && ti->data == URG_DATA_ENDPOINT && dir == URG_DIR_TO_GUEST && rnd(rng) % 2)
        ep |= 0x80; /* to the guest: IN data, or the reply to an OUT request */
    return ep;
}

/* Element i of field f of a packet of type travelling in dir under w. */
static uint32_t pick_value(uint32_t type, const struct urg_type_info *ti, const struct urg_field *f,
                           enum urg_dir dir, const struct urg_wire *w, struct urg_packet *p,
                           uint32_t *rng)
{
    static const uint8_t ep_types[5] = { URG_EP_CONTROL, URG_EP_ISO, URG_EP_BULK,
                                         URG_EP_INTERRUPT, URG_EP_INVALID };
    size_t k;
    switch (f->role) {
    case URG_FIELD_ENDPOINT:
        return pick_endpoint(type, ti, dir, p, rng);
    case URG_FIELD_STATUS: /* the guest sends none */
        return dir == URG_DIR_TO_GUEST ? rnd(rng) % 8 : 0;
    case URG_FIELD_STREAM_ID:
        if (type == URG_BULK_PACKET) /* a bulk packet's stream: with bulk_streams only */
            return has(w, URG_CAP_BULK_STREAMS) ? rnd(rng) % 64 : 0;
        break;
    default:
        break;
    }
    if (type == URG_CONTROL_PACKET && f->offset == AT(control, requesttype))
        return p->h.control.requesttype; /* drawn with the endpoint */
    if (type == URG_EP_INFO && f->offset == AT(ep_info, type))
        return ep_types[rnd(rng) % 5];
    for (k = 0; k < sizeof(bounded) / sizeof(bounded[0]); k++)
        if (bounded[k].type == type && bounded[k].at == f->offset)
            return rnd(rng) % bounded[k].mod;
    return rnd(rng);
}

static void pick_field(uint32_t type, const struct urg_type_info *ti, const struct urg_field *f,
                       enum urg_dir dir, const struct urg_wire *w, struct urg_packet *p,
                       uint32_t *rng)
{
    int i;
    if (f->role == URG_FIELD_TEXT) { /* printable, NUL-terminated */
        char *s = (char *)p + f->offset;
        int n = (int)(rnd(rng) % (uint32_t)(f->count - 1));
        for (i = 0; i < n; i++)
            s[i] = (char)(' ' + rnd(rng) % 95);
        return;
    }
    for (i = 0; i < f->count; i++)
        urg_field_set(p, f, i, pick_value(type, ti, f, dir, w, p, rng));
}

/* The payload of a URG_DATA_OWN type. */
static int pick_own_data(struct urg_packet *p, uint8_t *buf, size_t cap, uint32_t *rng)
{
    int i;
    if (p->type == URG_HELLO) { /* its caps words, kept in h.hello */
        p->h.hello.caps_words = 1 + rnd(rng) % 3;
        p->h.hello.caps[0] = rnd(rng) & URG_CAPS_ALL;
        if (p->h.hello.caps[0] & URG_CAP_BIT(URG_CAP_BULK_STREAMS))
            p->h.hello.caps[0] |= URG_CAP_BIT(URG_CAP_EP_INFO_MAX_PACKET_SIZE);
        for (i = 1; i < (int)p->h.hello.caps_words; i++)
            p->h.hello.caps[i] = rnd(rng);
    } else { /* filter_filter: a filter string */
        struct urg_filter_rule rules[4];
        int n = 1 + (int)(rnd(rng) % 4), r;
        for (i = 0; i < n; i++) {
            rules[i].device_class = rnd(rng) % 3 ? (int)(rnd(rng) % 256) : -1;
            rules[i].vendor_id = rnd(rng) % 3 ? (int)(rnd(rng) % 65536) : -1;
            rules[i].product_id = rnd(rng) % 3 ? (int)(rnd(rng) % 65536) : -1;
            rules[i].device_version_bcd = rnd(rng) % 3 ? (int)(rnd(rng) % 65536) : -1;
            rules[i].allow = (int)(rnd(rng) % 2);
        }
        r = urg_filter_format(rules, (size_t)n, (char *)buf, cap);
        if (r < 0 || (size_t)r >= cap)
            return GEN_NO_CAP;
        p->data = buf;
        p->data_len = (uint32_t)r + 1;
    }
    return GEN_OK;
}

int gen_packet(uint32_t type, enum urg_dir dir, const struct urg_wire *w, uint32_t *rng,
               struct urg_packet *p, uint8_t *buf, size_t cap)
{
    struct urg_type_info ti;
    struct urg_field f, length;
    int i, e, dv = data_values_of(type);
    uint32_t len;
    if (urg_type_header_len(w, type, dir) < 0 || urg_type_info(type, &ti))
        return GEN_NO_DIR;
    if (ti.data == URG_DATA_ENDPOINT && dv < 0) {
        fprintf(stderr, "packets.c: no data_values for %s\n", urg_type_name(type));
        abort();
    }
    memset(p, 0, sizeof(*p));
    p->type = type;
    p->id = w->id64 ? ((uint64_t)rnd(rng) << 32 | rnd(rng)) : rnd(rng);
    if (id_unused(type))
        p->id = 0;
    if ((w->caps & ti.caps) != ti.caps)
        return GEN_NO_CAP;
    /* The fields on this wire, in their list's order; ep_info's arrays one
     * endpoint at a time; the data length last, then the data it sizes. */
    memset(&length, 0, sizeof(length));
    for (i = 0; urg_type_field(type, i, &f); i++) {
        if (f.cap >= 0 && !has(w, f.cap))
            continue;
        if (f.role == URG_FIELD_LENGTH)
            length = f;
        else if (type != URG_EP_INFO)
            pick_field(type, &ti, &f, dir, w, p, rng);
    }
    for (e = 0; type == URG_EP_INFO && e < 32; e++)
        for (i = 0; urg_type_field(type, i, &f); i++)
            if (f.cap < 0 || has(w, f.cap))
                urg_field_set(p, &f, e, pick_value(type, &ti, &f, dir, w, p, rng));
    switch (ti.data) {
    case URG_DATA_OWN:
        return pick_own_data(p, buf, cap, rng);
    case URG_DATA_ENDPOINT:
        len = pick_len(rng,
                       has(w, URG_CAP_32BITS_BULK_LENGTH) ? data_values[dv].max32
                                                          : data_values[dv].max,
                       cap);
        urg_field_set(p, &length, 0, len);
        if (carries((uint8_t)urg_packet_endpoint(p), dir)) {
            fill(buf, len, rng);
            p->data = len ? buf : NULL;
            p->data_len = len;
        }
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

int packet_diff(const struct urg_packet *a, const struct urg_packet *b, const struct urg_wire *w,
                char *why, size_t cap)
{
    struct urg_field f;
    int i, e;
    DIFF(type);
    DIFF(id);
    /* The fields on this wire. */
    for (i = 0; urg_type_field(a->type, i, &f); i++) {
        if (f.cap >= 0 && !has(w, f.cap))
            continue;
        if (f.role == URG_FIELD_TEXT) {
            const char *x = (const char *)a + f.offset, *y = (const char *)b + f.offset;
            if (strncmp(x, y, f.count)) {
                snprintf(why, cap, "%s: %s \"%.*s\" != \"%.*s\"", urg_type_name(a->type), f.name,
                         (int)f.count, x, (int)f.count, y);
                return 1;
            }
            continue;
        }
        for (e = 0; e < f.count; e++) {
            uint32_t x = urg_field_get(a, &f, e), y = urg_field_get(b, &f, e);
            if (x != y && f.count > 1) {
                snprintf(why, cap, "%s: %s[%d] %u != %u", urg_type_name(a->type), f.name, e, x, y);
                return 1;
            }
            if (x != y) {
                snprintf(why, cap, "%s: %s %u != %u", urg_type_name(a->type), f.name, x, y);
                return 1;
            }
        }
    }
    if (a->type == URG_HELLO) { /* its data: the caps words, kept in h.hello */
        DIFF(h.hello.caps_words);
        for (i = 0; i < (int)a->h.hello.caps_words && i < 8; i++)
            DIFF(h.hello.caps[i]);
        return 0;
    }
    DIFF(data_len);
    if (a->data_len && memcmp(a->data, b->data, a->data_len)) {
        snprintf(why, cap, "%s: payload differs", urg_type_name(a->type));
        return 1;
    }
    return 0;
}

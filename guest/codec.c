/*
 * codec.c - the usbredir 0.7 wire codec, for both directions.
 *
 * What a type is (directions, data, caps, type-header sizes under each set
 * of caps, its field codec) is its row in packet_types.c; this file applies
 * the rows: type-header sizes for a wire layout, the frame checks a
 * receiver makes on a header, the header and payload checks on a decoded
 * packet (at least libusbredirparser's; see docs/engine.md, "Validation"),
 * and whole-packet urg_encode and urg_decode.
 */
#include "rules.h"

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

URG_API int urg_header_len(const struct urg_wire *w) { return urgi_header_len(w); }

void urgi_frame_table_init(struct urgi_frame_table *t, const struct urg_wire *w, enum urg_dir dir)
{
    t->hl = (int16_t)urgi_header_len(w);
    t->may_have_data = 0;
    for (int i = 0; i < URG_TYPE_COUNT; i++) {
        const struct urgi_type *row = &urgi_types[i];
        t->th[i] =
            (int16_t)((row->dirs & urgi_dir_bit(dir)) ? urgi_type_header_len(row, w) : -1);
        if (row->data != URGI_DATA_NONE)
            t->may_have_data |= 1ull << i;
    }
}

URG_API int urg_type_header_len(const struct urg_wire *w, uint32_t type, enum urg_dir dir)
{
    const struct urgi_type *t = urgi_type(type);
    if (!w || !t || !(t->dirs & urgi_dir_bit(dir)))
        return -1;
    return urgi_type_header_len(t, w);
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
                        urg_type_name(type), type, urgi_dir_name(dir));
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

/* The rules are rules.h's, shared with the decoder's whole-frame path. */
int urgi_check_headers(const struct urgi_type *t, const struct urg_wire *w, bool tolerate,
                       enum urg_dir dir, const struct urg_packet *p, char *msg, size_t cap)
{
    if (URGI_UNLIKELY(t->caps & ~w->caps))
        return urgi_caps_rule(t, w, msg, cap);
    return urgi_fields_rules(t, w, dir, p, msg, cap, tolerate);
}

int urgi_filter_inner_nul(const struct urg_packet *p, char *msg, size_t cap)
{
    if (p->type == URG_FILTER_FILTER && p->data_len > 1 && memchr(p->data, 0, p->data_len - 1))
        return urgi_fmt(msg, cap, URG_ERR_PROTO_FILTER,
                        "filter_filter: string has a NUL before its end");
    return 0;
}

int urgi_check_payload(const struct urg_wire *w, enum urg_dir dir, const struct urg_packet *p,
                       bool tolerate, char *msg, size_t cap)
{
    int r;
    (void)w;
    (void)dir;
    if (p->type == URG_FILTER_FILTER) {
        size_t count = 0;
        if (p->data[p->data_len - 1] != 0)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_FILTER,
                            "filter_filter: string is not NUL-terminated");
        /* Tolerated, the string is what comes before its first NUL. */
        if (!tolerate && (r = urgi_filter_inner_nul(p, msg, cap)))
            return r;
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

/* urg_encode() of a hello (row t, type header th bytes): a 32-bit id
 * header, and its caps words, checked as its data, after the type header. */
static int encode_hello(const struct urgi_type *t, const struct urg_wire *w, enum urg_dir dir,
                        const struct urg_packet *p, uint8_t *buf, size_t cap, int th)
{
    struct urg_packet hv; /* the hello as checked: its caps as data */
    uint32_t words = p->h.hello.caps_words, i;
    int n = 12 + th + 4 * (int)(words > 8 ? 8 : words), r;

    if ((size_t)n > cap)
        return URG_ERR_BUFFER;
    if (words > 8)
        return URG_ERR_INVALID;
    hv = *p;
    hv.data_len = 4 * words;
    hv.data = NULL;
    if ((r = urgi_headers_rules(t, w, dir, &hv, NULL, 0)))
        return r;
    urgi_put32(buf, p->type);
    urgi_put32(buf + 4, (uint32_t)th + hv.data_len);
    urgi_put32(buf + 8, 0);
    t->encode(w, p, buf + 12);
    for (i = 0; i < words; i++)
        urgi_put32(buf + 12 + th + 4 * i, p->h.hello.caps[i]);
    return n;
}

URG_API int urg_encode(const struct urg_wire *w, enum urg_dir dir, const struct urg_packet *p,
                       uint8_t *buf, size_t cap)
{
    const struct urgi_type *t;
    int n, th, hl, r;
    uint32_t data_len;

    if (!w || !p || (!buf && cap))
        return URG_ERR_INVALID;
    t = urgi_type(p->type);
    if (!t || !(t->dirs & urgi_dir_bit(dir)))
        return URG_ERR_PROTO_DIRECTION;
    th = urgi_type_header_len(t, w);
    if (p->type == URG_HELLO)
        return encode_hello(t, w, dir, p, buf, cap, th);
    hl = urgi_header_len(w);
    n = hl + th;
    if ((size_t)n > cap)
        return URG_ERR_BUFFER;
    if (!w->id64 && p->id > 0xffffffffu)
        return URG_ERR_INVALID;
    data_len = p->data_len;
    if (data_len && !p->data)
        return URG_ERR_INVALID;
    if (data_len > UINT32_MAX - (uint32_t)th)
        return URG_ERR_TOO_LONG;
    /* The frame rules left once th is known: the length is th + data_len. */
    if (data_len && t->data == URGI_DATA_NONE)
        return URG_ERR_PROTO_UNEXPECTED_DATA;
    if ((r = urgi_headers_rules(t, w, dir, p, NULL, 0)))
        return r;
    if (p->type == URG_FILTER_FILTER && data_len &&
        (r = urgi_check_payload(w, dir, p, false, NULL, 0)))
        return r;

    /* type and length as one little-endian 64-bit value (one store) */
    urgi_put64(buf, (uint64_t)p->type | (uint64_t)((uint32_t)th + data_len) << 32);
    urgi_put_id(buf, hl, p->id);
    t->encode(w, p, buf + hl);
    return n;
}

URG_API int urg_encode_set_id(const struct urg_wire *w, uint8_t *buf, size_t len, uint64_t id)
{
    int hl;
    if (!w || !buf)
        return URG_ERR_INVALID;
    hl = urgi_header_len(w);
    if (len < (size_t)hl || urgi_get32(buf) == URG_HELLO || (!w->id64 && id > 0xffffffffu))
        return URG_ERR_INVALID;
    urgi_put_id(buf, hl, id);
    return 0;
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
    urgi_type(type)->decode(w, buf + hl, p);
    p->data_len = length - (uint32_t)th;
    p->data = p->data_len ? buf + hl + th : NULL;
    if (type == URG_HELLO)
        urgi_decode_hello_caps(p);
    if ((r = urgi_check_headers(urgi_type(type), w, false, dir, p, NULL, 0)))
        return r;
    if (p->data_len && (r = urgi_check_payload(w, dir, p, false, NULL, 0)))
        return r;
    if (consumed)
        *consumed = (size_t)hl + length;
    return 0;
}

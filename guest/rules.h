/*
 * rules.h - the rules of a decoded packet's headers (urgi_check_headers()),
 * inline: codec.c's urgi_check_headers() is urgi_headers_rules(), and the
 * decoder's whole-frame path (decoder.c) inlines its parts. One definition
 * of the rules for both. Not installed.
 */
#ifndef URG_GUEST_RULES_H
#define URG_GUEST_RULES_H

#include "internal.h"

/* The URGI_TO_* bit of a direction. */
static inline unsigned urgi_dir_bit(enum urg_dir dir)
{
    return dir == URG_DIR_TO_HOST ? URGI_TO_HOST : URGI_TO_GUEST;
}

static inline const char *urgi_dir_name(enum urg_dir dir)
{
    return dir == URG_DIR_TO_HOST ? "guest to host" : "host to guest";
}

/* The caps row t's type needs, on both sides (w): 0, or URG_ERR_PROTO_CAP
 * with its message in msg (msg may be NULL). The same for every packet of
 * the type under w: a receiver may apply it once per layout. */
static inline int urgi_caps_rule(const struct urgi_type *t, const struct urg_wire *w, char *msg,
                                 size_t cap)
{
    uint32_t missing;
    if (URGI_UNLIKELY(missing = t->caps & ~w->caps)) {
        int c = 0;
        while (!((missing >> c) & 1u))
            c++;
        return urgi_fmt(msg, cap, URG_ERR_PROTO_CAP, "%s: needs the %s cap on both sides",
                        t->name, urg_cap_name(c));
    }
    return 0;
}

/* The rules on row t's packet p's fields that need the headers and the
 * payload length, not the payload: the row's field rules (t->check), the
 * IN-endpoint rule, and for data of an endpoint its direction and length.
 * 0, or the URG_ERR_PROTO_* code of the first rule broken with its message
 * in msg (msg may be NULL). tolerate: leave out the row's lenient rules
 * (URG_POLICY_TOLERATE; the caller warns). */
static URGI_ALWAYS_INLINE int urgi_fields_rules(const struct urgi_type *t,
                                                const struct urg_wire *w, enum urg_dir dir,
                                                const struct urg_packet *p, char *msg, size_t cap,
                                                bool tolerate)
{
    uint32_t length;
    int ep, r;

    if (t->lenient && !tolerate && (r = t->lenient(w, p, msg, cap)))
        return r;
    if (t->check && (r = t->check(w, p, msg, cap)))
        return r;
    ep = urgi_packet_endpoint(t, p);
    if (t->in_endpoint && !(ep & 0x80))
        return urgi_fmt(msg, cap, URG_ERR_PROTO_NOT_IN_EP,
                        "%s: endpoint 0x%02x is not an IN endpoint", t->name, ep);
    if (t->data != URGI_DATA_ENDPOINT)
        return 0;
    /* The endpoint's direction decides which way data may travel. */
    length = urgi_packet_length(t, p);
    if (((ep & 0x80) != 0) == (dir == URG_DIR_TO_GUEST)) {
        if (p->data_len != length)
            return urgi_fmt(msg, cap, URG_ERR_PROTO_DATA_LENGTH,
                            "%s: %u bytes of data but the length field says %u (endpoint 0x%02x)",
                            t->name, p->data_len, length, ep);
        return 0;
    }
    if (p->data_len)
        return urgi_fmt(msg, cap, URG_ERR_PROTO_UNEXPECTED_DATA,
                        "%s: %u bytes of data for endpoint 0x%02x, which carries none %s",
                        t->name, p->data_len, ep, urgi_dir_name(dir));
    if (t->data_only & urgi_dir_bit(dir))
        return urgi_fmt(msg, cap, URG_ERR_PROTO_EP_DIRECTION,
                        "%s: endpoint 0x%02x is an %s endpoint; this packet cannot travel %s",
                        t->name, ep, (ep & 0x80) ? "IN" : "OUT", urgi_dir_name(dir));
    return 0;
}

/* Every rule of row t's packet p that needs the headers and the payload
 * length, not the payload (urgi_check_headers()): the caps, then the
 * fields' rules. 0, or the first rule's code, its message in msg. */
static inline int urgi_headers_rules(const struct urgi_type *t, const struct urg_wire *w,
                                     enum urg_dir dir, const struct urg_packet *p, char *msg,
                                     size_t cap)
{
    int r = urgi_caps_rule(t, w, msg, cap);
    return r ? r : urgi_fields_rules(t, w, dir, p, msg, cap, false);
}

#endif

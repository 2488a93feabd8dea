/*
 * host_output.c - a usb-host's plumbing (urg_codec.h): its decoder of what
 * the guest sends, and its output - packets encoded for the guest under
 * the layout that decoder negotiated, queued whole in one buffer that
 * grows through an allocator up to a bound. The project's usb-hosts share
 * it: the replay host (transport/replay.c), the scripted and the emulated
 * test hosts (tests/support/).
 */
#include "internal.h"

URG_API int urg_host_decoder_new(uint32_t our_caps, const struct urg_decoder_callbacks *cb,
                                 void *ctx, const struct urg_allocator *a, urg_decoder **out)
{
    struct urg_decoder_config c;
    if (!cb || !out)
        return URG_ERR_INVALID;
    memset(&c, 0, sizeof(c));
    c.role = URG_ROLE_HOST;
    c.our_caps = our_caps;
    c.policy = URG_POLICY_FAIL;
    c.allocator = a;
    c.callbacks = *cb;
    c.ctx = ctx;
    return urg_decoder_new(&c, out);
}

/* Header, largest type header and a hello's 8 caps words. */
#define MAX_ENCODED (URGI_MAX_HEADERS + 4 * 8)

URG_API int urg_host_output_init(struct urg_host_output *o, const urg_decoder *dec,
                                 const struct urg_allocator *a, size_t max)
{
    if (!o)
        return URG_ERR_INVALID;
    memset(o, 0, sizeof(*o));
    if (!dec || !max)
        return URG_ERR_INVALID;
    o->dec = dec;
    o->alloc = *urgi_allocator_or_default(a);
    o->max = max;
    return 0;
}

URG_API void urg_host_output_free(struct urg_host_output *o)
{
    if (!o)
        return;
    if (o->buf)
        o->alloc.free(o->alloc.ctx, o->buf);
    o->buf = NULL;
    o->cap = o->off = o->len = 0;
}

/* Room for n more bytes: the consumed bytes dropped first, then the buffer
 * grown (to at most max). 0 or URG_ERR_NOMEM, with nothing changed but
 * where the queued bytes lie. */
static int reserve(struct urg_host_output *o, size_t n)
{
    size_t queued = o->len - o->off, nc;
    uint8_t *nb;
    if (n > o->max - queued)
        return URG_ERR_NOMEM;
    if (o->len + n <= o->cap)
        return 0;
    if (o->off) {
        memmove(o->buf, o->buf + o->off, queued);
        o->off = 0;
        o->len = queued;
        if (o->len + n <= o->cap)
            return 0;
    }
    nc = queued + n; /* at most max: twice that and 4096 more, or max */
    nc = o->max > 4096 && nc <= (o->max - 4096) / 2 ? 2 * nc + 4096 : o->max;
    nb = urgi_realloc(&o->alloc, o->buf, nc);
    if (!nb)
        return URG_ERR_NOMEM;
    o->buf = nb;
    o->cap = nc;
    return 0;
}

URG_API int urg_host_output_bytes(struct urg_host_output *o, const void *bytes, size_t n)
{
    int rc;
    if (!o || !o->max || (!bytes && n))
        return URG_ERR_INVALID;
    if (!n)
        return 0;
    if ((rc = reserve(o, n)))
        return rc;
    memcpy(o->buf + o->len, bytes, n);
    o->len += n;
    return 0;
}

URG_API int urg_host_output_packet(struct urg_host_output *o, const struct urg_packet *p)
{
    uint8_t hdr[MAX_ENCODED];
    struct urg_wire w;
    size_t data;
    int n, rc;
    if (!o || !o->max || !p)
        return URG_ERR_INVALID;
    w = urg_decoder_wire(o->dec);
    n = urg_encode(&w, URG_DIR_TO_GUEST, p, hdr, sizeof(hdr));
    if (n < 0)
        return n;
    /* A hello's payload, its caps words, is in what urg_encode wrote. */
    data = p->type == URG_HELLO ? 0 : p->data_len;
    if ((size_t)n + data < data || (rc = reserve(o, (size_t)n + data)))
        return URG_ERR_NOMEM;
    memcpy(o->buf + o->len, hdr, (size_t)n);
    if (data)
        memcpy(o->buf + o->len + n, p->data, data);
    o->len += (size_t)n + data;
    return 0;
}

URG_API const uint8_t *urg_host_output_data(const struct urg_host_output *o, size_t *n)
{
    if (!o || o->off == o->len) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = o->len - o->off;
    return o->buf + o->off;
}

URG_API void urg_host_output_consume(struct urg_host_output *o, size_t n)
{
    if (!o)
        return;
    if (n >= o->len - o->off)
        o->off = o->len = 0;
    else
        o->off += n;
}

URG_API void urg_host_output_reset(struct urg_host_output *o)
{
    if (o)
        o->off = o->len = 0;
}

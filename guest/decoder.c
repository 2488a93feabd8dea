/*
 * decoder.c - the streaming decoder: reassembles packets from any split of
 * the byte stream, validates them (codec.c), handles the peer's hello (and
 * the header-size switch after it), and applies the error policy.
 *
 * Copies: a packet lying whole in the buffer being fed is handed out in
 * place. Headers that straddle feed calls are gathered in hbuf; a payload
 * that straddles goes into the header callback's destination, or else the
 * decoder's own buffer. urg_decoder_window() lets the caller read a payload
 * straight into its final place.
 */
#include "decoder.h"

#include <stdio.h>

enum { S_HEADER, S_TYPE_HEADER, S_DATA, S_SKIP, S_FAILED };

/* Own payload buffers above this size are freed after use. */
#define OWN_KEEP (256u * 1024u)

URG_API int urg_decoder_new(const struct urg_decoder_config *cfg, urg_decoder **out)
{
    const struct urg_allocator *a;
    urg_decoder *d;
    if (!cfg || !out || !cfg->callbacks.packet ||
        (cfg->role != URG_ROLE_GUEST && cfg->role != URG_ROLE_HOST) ||
        (cfg->policy != URG_POLICY_FAIL && cfg->policy != URG_POLICY_SKIP))
        return URG_ERR_INVALID;
    if (urgi_has(cfg->our_caps, URG_CAP_BULK_STREAMS) &&
        !urgi_has(cfg->our_caps, URG_CAP_EP_INFO_MAX_PACKET_SIZE))
        return URG_ERR_INVALID;
    a = cfg->allocator ? cfg->allocator : &urgi_default_allocator;
    d = urgi_malloc(a, sizeof(*d));
    if (!d)
        return URG_ERR_NOMEM;
    memset(d, 0, sizeof(*d));
    d->alloc = *a;
    d->dir = cfg->role == URG_ROLE_GUEST ? URG_DIR_TO_GUEST : URG_DIR_TO_HOST;
    d->our_caps = cfg->our_caps;
    d->max_packet_size = cfg->max_packet_size ? cfg->max_packet_size : URG_DEFAULT_MAX_PACKET_SIZE;
    d->policy = cfg->policy;
    d->cb = cfg->callbacks;
    d->ctx = cfg->ctx;
    d->state = S_HEADER;
    d->hlen = 12;
    urgi_frame_table_init(&d->ft, &d->wire, d->dir);
    *out = d;
    return 0;
}

URG_API void urg_decoder_free(urg_decoder *d)
{
    if (!d)
        return;
    urgi_free(&d->alloc, d->own);
    urgi_free(&d->alloc, d);
}

URG_API struct urg_wire urg_decoder_wire(const urg_decoder *d) { return d->wire; }
URG_API uint32_t urg_decoder_peer_caps(const urg_decoder *d) { return d->peer_caps; }
URG_API int urg_decoder_have_hello(const urg_decoder *d) { return d->have_hello; }

char *urgi_decoder_msg(urg_decoder *d, size_t *cap)
{
    *cap = sizeof(d->msg);
    return d->msg;
}

void urgi_decoder_forget_dest(urg_decoder *d, const void *dest)
{
    /* The buffer is going away mid-payload: skip the rest of the payload. */
    if (d->state == S_DATA && d->dest == dest && d->dest != d->own) {
        d->skip_left = d->data_len - d->data_fill;
        d->state = d->skip_left ? S_SKIP : S_HEADER;
        d->hfill = 0;
    }
}

void urgi_decoder_fail(urg_decoder *d) { d->state = S_FAILED; }

/* Rejects the current packet: report, then fail the stream or skip the
 * rest of the packet (skip_left bytes of it are still to come). */
static int reject(urg_decoder *d, int err, uint64_t skip_left)
{
    bool fatal = d->policy == URG_POLICY_FAIL;
    d->stats.errors++;
    if (!d->msg[0])
        snprintf(d->msg, sizeof(d->msg), "%s: %s", urg_type_name(d->type), urg_strerror(err));
    if (fatal) {
        d->state = S_FAILED;
        d->fail_err = err;
    } else {
        d->skip_left = skip_left;
        d->state = skip_left ? S_SKIP : S_HEADER;
        d->hfill = 0;
    }
    if (d->cb.error)
        d->cb.error(d->ctx, err, d->msg, fatal);
    return fatal ? err : 0;
}

/* The hello: record the peer's caps and switch the layout. Returns 0 or
 * the reject() result. */
static int take_hello(urg_decoder *d, struct urg_packet *p)
{
    uint32_t caps = p->h.hello.caps[0];
    if (urgi_has(caps, URG_CAP_BULK_STREAMS) && !urgi_has(caps, URG_CAP_EP_INFO_MAX_PACKET_SIZE)) {
        /* As the reference does, drop the bad cap; under policy fail the
         * error also ends the stream. */
        int r;
        snprintf(d->msg, sizeof(d->msg),
                 "hello: caps 0x%08x have bulk_streams without ep_info_max_packet_size", caps);
        caps &= ~URG_CAP_BIT(URG_CAP_BULK_STREAMS);
        if ((r = reject(d, URG_ERR_PROTO_CAPS, 0)))
            return r;
    }
    d->peer_caps = caps;
    d->have_hello = true;
    d->wire = urg_wire_from_caps(d->our_caps, caps);
    d->hlen = urg_header_len(&d->wire); /* from the next packet on */
    urgi_frame_table_init(&d->ft, &d->wire, d->dir);
    return 0;
}

/* A whole packet: payload checks, hello handling, the packet callback.
 * Returns <0 (failed), 0, or 1 (callback said stop). */
static int finish(urg_decoder *d, const uint8_t *data)
{
    struct urg_packet *p = &d->pkt;
    int r, v;
    p->data = p->data_len ? data : NULL;
    d->msg[0] = '\0';
    if (p->type == URG_HELLO)
        urgi_decode_hello_caps(p);
    /* Only the filter string has rules on the payload itself. */
    if (p->type == URG_FILTER_FILTER && p->data_len &&
        (r = urgi_check_payload(&d->wire, d->dir, p, d->msg, sizeof(d->msg))))
        return reject(d, r, 0);
    d->state = S_HEADER;
    d->hfill = 0;
    if (p->type == URG_HELLO && (r = take_hello(d, p)))
        return r;
    if (d->state == S_FAILED)
        return d->fail_err;
    d->msg[0] = '\0';
    v = d->cb.packet(d->ctx, p);
    if (d->own_cap > OWN_KEEP && d->state == S_HEADER) {
        urgi_free(&d->alloc, d->own);
        d->own = NULL;
        d->own_cap = 0;
    }
    if (v < 0)
        return reject(d, v, 0);
    return v == URG_DECODE_STOP ? 1 : 0;
}

/* The type header has been read (after the frame header): decode it with
 * the row's codec, check, ask where the payload goes. *used says how much
 * of rest (the bytes after it in the buffer being fed) the packet took.
 * Returns <0, 0, or 1 (stop); may finish the packet. */
static int type_header_read(urg_decoder *d, const uint8_t *th, const uint8_t *rest,
                            size_t rest_len, size_t *used)
{
    struct urg_packet *p = &d->pkt;
    uint8_t *dest = NULL;
    int r, v;

    *used = 0;
    d->row->decode(&d->wire, th, p);
    d->th_done = true;
    p->data_len = d->length - (uint32_t)d->th_len;
    p->data = NULL;
    d->msg[0] = '\0';
    if ((r = urgi_check_headers(d->row, &d->wire, d->dir, p, d->msg, sizeof(d->msg))))
        return reject(d, r, p->data_len);
    v = URG_DECODE_CONTINUE;
    /* The hello belongs to the decoder (it sets the layout): the header
     * callback cannot discard it or place its payload. */
    if (d->cb.header && p->type != URG_HELLO) {
        d->msg[0] = '\0';
        v = d->cb.header(d->ctx, p, &dest);
        if (v < 0)
            return reject(d, v, p->data_len);
    }
    if (v == URG_DECODE_DISCARD) {
        d->skip_left = p->data_len;
        d->state = d->skip_left ? S_SKIP : S_HEADER;
        d->hfill = 0;
        return 0;
    }
    if (p->data_len == 0 || rest_len >= p->data_len) {
        if (v == URG_DECODE_STOP) {
            /* Resume later at the payload. */
            d->dest = dest;
            goto need_data;
        }
        *used = p->data_len;
        return finish(d, rest);
    }
need_data:
    d->data_len = p->data_len;
    d->data_fill = 0;
    d->copied = false;
    if (!dest && d->data_len) {
        if (d->own_cap < d->data_len) {
            uint8_t *n = urgi_realloc(&d->alloc, d->own, d->data_len);
            if (!n) {
                snprintf(d->msg, sizeof(d->msg), "%s: no memory for a %u-byte payload",
                         urg_type_name(d->type), d->data_len);
                d->state = S_FAILED;
                d->fail_err = URG_ERR_NOMEM;
                if (d->cb.error)
                    d->cb.error(d->ctx, URG_ERR_NOMEM, d->msg, 1);
                return URG_ERR_NOMEM;
            }
            d->own = n;
            d->own_cap = d->data_len;
        }
        dest = d->own;
    }
    d->dest = dest;
    d->state = S_DATA;
    return v == URG_DECODE_STOP ? 1 : 0;
}

/* The usbredir header (type, length, id) has been read: frame checks
 * against the type's row, hello-state checks. */
static int frame_header_read(urg_decoder *d, const uint8_t *h)
{
    int r, idx;
    d->type = urgi_get32(h);
    d->length = urgi_get32(h + 4);
    d->th_done = false;
    d->pkt.type = d->type;
    d->pkt.id = d->hlen == 16 ? urgi_get64(h + 8) : urgi_get32(h + 8);
    d->msg[0] = '\0';
    idx = urgi_type_index(d->type);
    d->row = idx >= 0 ? &urgi_types[idx] : NULL;
    d->th_len = urgi_frame_ok(&d->ft, idx, d->length, d->max_packet_size);
    r = 0;
    if (d->th_len < 0) /* the rule broken, and its message */
        r = urgi_check_frame(&d->wire, d->dir, d->type, d->length, d->max_packet_size,
                             &d->th_len, d->msg, sizeof(d->msg));
    if (!r && d->type != URG_HELLO && !d->have_hello)
        r = urgi_fmt(d->msg, sizeof(d->msg), URG_ERR_PROTO_BEFORE_HELLO,
                     "%s: received before the peer's hello", urg_type_name(d->type));
    if (!r && d->type == URG_HELLO && d->have_hello)
        r = urgi_fmt(d->msg, sizeof(d->msg), URG_ERR_PROTO_SECOND_HELLO,
                     "hello: a second hello after the peer's first");
    if (idx >= 0) {
        d->stats.rx_packets[idx]++;
        d->stats.rx_bytes[idx] += (uint64_t)d->hlen + d->length;
    }
    if (r)
        return reject(d, r, d->length);
    d->state = S_TYPE_HEADER;
    return 0;
}

static int feed(urg_decoder *d, const uint8_t *p, size_t left, size_t *consumed)
{
    const uint8_t *start = p;
    int r = 0;

    for (;;) {
        switch (d->state) {
        case S_FAILED:
            r = URG_ERR_FAILED;
            goto out;
        case S_HEADER: {
            const uint8_t *h;
            if (!left)
                goto out;
            if (d->hfill == 0 && left >= (size_t)d->hlen) {
                /* A whole frame there (its length field within the
                 * bytes left): the owner's path may take it. */
                if (d->whole && urgi_get32(p + 4) <= left - (size_t)d->hlen) {
                    size_t used = 0;
                    r = d->whole(d->ctx, p, left, &used);
                    p += used;
                    left -= used;
                    if (r)
                        goto out;
                    if (left < (size_t)d->hlen) /* gathered below */
                        continue;
                    /* else a frame it leaves to this path */
                }
                h = p;
                p += d->hlen;
                left -= (size_t)d->hlen;
            } else {
                size_t n = (size_t)d->hlen - d->hfill;
                if (n > left)
                    n = left;
                memcpy(d->hbuf + d->hfill, p, n);
                d->hfill += (uint32_t)n;
                p += n;
                left -= n;
                if (d->hfill < (uint32_t)d->hlen)
                    goto out;
                h = d->hbuf;
            }
            d->hfill = (uint32_t)d->hlen; /* type header gathers after it */
            if ((r = frame_header_read(d, h)) < 0)
                goto out;
            if (d->state != S_TYPE_HEADER)
                break;
        }
            /* fall through - to the type header, often in the same buffer */
        case S_TYPE_HEADER: {
            const uint8_t *th;
            size_t used, have = d->hfill - (uint32_t)d->hlen;
            if (have == 0 && left >= (size_t)d->th_len) {
                th = p;
                p += d->th_len;
                left -= (size_t)d->th_len;
            } else {
                size_t n = (size_t)d->th_len - have;
                if (n > left)
                    n = left;
                memcpy(d->hbuf + d->hfill, p, n);
                d->hfill += (uint32_t)n;
                p += n;
                left -= n;
                if (d->hfill - (uint32_t)d->hlen < (uint32_t)d->th_len)
                    goto out;
                th = d->hbuf + d->hlen;
            }
            r = type_header_read(d, th, p, left, &used);
            p += used;
            left -= used;
            if (r)
                goto out;
            break;
        }
        case S_DATA: {
            size_t n = d->data_len - d->data_fill;
            if (n > left)
                n = left;
            if (n) {
                memcpy(d->dest + d->data_fill, p, n);
                if (!d->copied) {
                    d->copied = true;
                    d->stats.payload_copies++;
                }
                d->data_fill += (uint32_t)n;
                p += n;
                left -= n;
            }
            if (d->data_fill < d->data_len)
                goto out;
            if ((r = finish(d, d->dest)))
                goto out;
            break;
        }
        case S_SKIP: {
            uint64_t n = d->skip_left;
            if (n > left)
                n = left;
            if (!n)
                goto out;
            d->skip_left -= n;
            d->stats.skipped_bytes += n;
            p += n;
            left -= (size_t)n;
            if (!d->skip_left) {
                d->state = S_HEADER;
                d->hfill = 0;
            }
            break;
        }
        }
    }
out:
    if (consumed)
        *consumed = (size_t)(p - start);
    return r;
}

URG_API int urg_decoder_feed(urg_decoder *d, const void *buf, size_t len, size_t *consumed)
{
    int r;
    if (!d || (!buf && len))
        return URG_ERR_INVALID;
    if (d->busy)
        return URG_ERR_BUSY;
    if (d->state == S_FAILED)
        return URG_ERR_FAILED;
    d->busy = true;
    r = feed(d, buf, len, consumed);
    d->busy = false;
    return r;
}

URG_API int urg_decoder_window(urg_decoder *d, void **buf, size_t *len)
{
    if (!d || !buf || !len || d->state != S_DATA || d->busy)
        return 0;
    *buf = d->dest + d->data_fill;
    *len = d->data_len - d->data_fill;
    return 1;
}

URG_API int urg_decoder_commit(urg_decoder *d, size_t n)
{
    int r = 0;
    if (!d)
        return URG_ERR_INVALID;
    if (d->busy)
        return URG_ERR_BUSY;
    if (d->state == S_FAILED)
        return URG_ERR_FAILED;
    if (d->state == S_SKIP && n <= d->skip_left) {
        /* The destination was forgotten after the window was handed out:
         * the bytes read are part of the stream, skipped. */
        d->skip_left -= n;
        d->stats.skipped_bytes += n;
        if (!d->skip_left) {
            d->state = S_HEADER;
            d->hfill = 0;
        }
        return 0;
    }
    if (d->state != S_DATA)
        return n ? URG_ERR_INVALID : 0;
    if (n > d->data_len - d->data_fill)
        return URG_ERR_INVALID;
    d->busy = true;
    d->data_fill += (uint32_t)n;
    if (d->data_fill == d->data_len)
        r = finish(d, d->dest);
    d->busy = false;
    return r;
}

const struct urgi_decoder_stats *urgi_decoder_stats(const urg_decoder *d) { return &d->stats; }

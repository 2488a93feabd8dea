/*
 * decoder.c - the streaming decoder: reassembles packets from any split of
 * the byte stream, validates them (codec.c), handles the peer's hello (and
 * the header-size switch after it), and applies the error policy.
 *
 * Whole frames: a frame lying whole in the buffer being fed is read,
 * checked and handed out in one step (whole_frames()), with the same rules
 * and results as the generic path, which takes the rest: frames that
 * straddle feed calls, the hello, filter_filter, and any frame that breaks
 * a rule (it reports the error). An owner with a path of its own for whole
 * frames (the session: decoder.h's whole hook) is asked instead.
 *
 * Copies: a packet lying whole in the buffer being fed is handed out in
 * place. Headers that straddle feed calls are gathered in hbuf; a payload
 * that straddles goes into the header callback's destination, or else the
 * decoder's own buffer. urg_decoder_window() lets the caller read a payload
 * straight into its final place.
 */
#include "decoder.h"
#include "rules.h"

#include <stdio.h>

/* S_HELD: a packet with no payload whose header callback said stop; the
 * next feed or commit finishes it (no window opens on nothing). */
enum { S_HEADER, S_TYPE_HEADER, S_DATA, S_SKIP, S_FAILED, S_HELD };

/* Own payload buffers above this size are freed after use. */
#define OWN_KEEP (256u * 1024u)

/* The frame rules under the layout now (ft), and wt: the same rules
 * (urgi_frame_ok()) as a length range per type, for the types
 * whole_frames() takes; none for those it leaves to the generic path: the
 * hello (it sets the layout), filter_filter (its string has rules of its
 * own), and any type whose caps the layout lacks (a rule the same for
 * every packet of the type, applied here once). */
static void frame_tables_init(urg_decoder *d)
{
    urgi_frame_table_init(&d->ft, &d->wire, d->dir);
    for (int i = 0; i < URG_TYPE_COUNT; i++) {
        const struct urgi_type *t = &urgi_types[i];
        int th = d->ft.th[i];
        d->wt[i].min = 1, d->wt[i].max = 0;
        d->wt[i].row = t;
        if (th < 0 || t->type == URG_HELLO || t->type == URG_FILTER_FILTER ||
            urgi_caps_rule(t, &d->wire, NULL, 0))
            continue;
        /* urgi_frame_ok(): not over the maximum packet size, not shorter
         * than the type header, and longer only for a type with data */
        d->wt[i].min = (uint32_t)th;
        d->wt[i].max = ((d->ft.may_have_data >> i) & 1u) ? d->max_packet_size : (uint32_t)th;
    }
}

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
    frame_tables_init(d);
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
    if (d->state == S_DATA && ((d->dest == dest && d->dest != d->own) || d->iov == dest)) {
        d->skip_left = d->data_len - d->data_fill;
        d->state = d->skip_left ? S_SKIP : S_HEADER;
        d->hfill = 0;
        d->iov = NULL;
    }
}

void urgi_decoder_dest_iov(urg_decoder *d, const struct iovec *iov, uint32_t iovcnt)
{
    d->offer_iov = iov;
    d->offer_iovcnt = iovcnt;
}

/* The segment cursor moves n bytes on (n within the payload), then onto
 * the next non-empty segment while bytes remain to come. */
static void iov_advance(urg_decoder *d, size_t n)
{
    d->iov_off += n;
    while (d->iov_at < d->iovcnt && d->iov_off >= d->iov[d->iov_at].iov_len &&
           d->data_fill < d->data_len) {
        d->iov_off -= d->iov[d->iov_at].iov_len;
        d->iov_at++;
    }
}

/* Copies n payload bytes (n within the payload) into the segments. */
static void iov_copy(urg_decoder *d, const uint8_t *p, size_t n)
{
    while (n) {
        const struct iovec *v = &d->iov[d->iov_at];
        size_t k = v->iov_len - d->iov_off;
        if (k > n)
            k = n;
        memcpy((uint8_t *)v->iov_base + d->iov_off, p, k);
        p += k;
        n -= k;
        d->data_fill += (uint32_t)k;
        iov_advance(d, k);
    }
}

int urgi_decoder_window_iov(urg_decoder *d, struct iovec *iov, int max)
{
    size_t left, off;
    uint32_t at;
    int n = 0;
    if (!d || d->state != S_DATA || d->busy || max < 1)
        return 0;
    left = d->data_len - d->data_fill;
    if (!d->iov) {
        iov[0].iov_base = d->dest + d->data_fill;
        iov[0].iov_len = left;
        return 1;
    }
    for (at = d->iov_at, off = d->iov_off; left && n < max && at < d->iovcnt; at++, off = 0) {
        size_t k = d->iov[at].iov_len - off;
        if (!k)
            continue;
        if (k > left)
            k = left;
        iov[n].iov_base = (uint8_t *)d->iov[at].iov_base + off;
        iov[n].iov_len = k;
        left -= k;
        n++;
    }
    return n;
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
    frame_tables_init(d);
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
        (r = urgi_check_payload(&d->wire, d->dir, p, d->tolerate, d->msg, sizeof(d->msg))))
        return reject(d, r, 0);
    if (d->tolerate && p->type == URG_FILTER_FILTER &&
        urgi_filter_inner_nul(p, d->msg, sizeof(d->msg)) && d->tolerated)
        d->tolerated(d->ctx, p, d->msg);
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

/* The rest of a packet whose headers passed, once the header callback (if
 * any) said v and offered dest: discarded, rejected, finished in place
 * (rest, rest_len: the bytes after its type header in the buffer being
 * fed; *used says how many it took), or its payload awaited (in dest, or
 * the decoder's own buffer). Returns <0, 0, or 1 (stop). */
static URGI_ALWAYS_INLINE int after_header(urg_decoder *d, int v, uint8_t *dest,
                                           const uint8_t *rest, size_t rest_len, size_t *used)
{
    struct urg_packet *p = &d->pkt;

    *used = 0;
    if (v < 0)
        return reject(d, v, p->data_len);
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
    if (!p->data_len) { /* stopped before no payload at all */
        d->state = S_HELD;
        return 1;
    }
    d->data_len = p->data_len;
    d->data_fill = 0;
    d->copied = false;
    d->iov = NULL;
    if (!dest && d->offer_iov) {
        /* Into the header callback's segments, from the first non-empty
         * one. */
        d->iov = d->offer_iov;
        d->iovcnt = d->offer_iovcnt;
        d->iov_at = 0;
        d->iov_off = 0;
        iov_advance(d, 0);
    } else if (!dest && d->data_len) {
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

/* The type header has been read (after the frame header): decode it with
 * the row's codec, check, ask where the payload goes. *used says how much
 * of rest (the bytes after it in the buffer being fed) the packet took.
 * Returns <0, 0, or 1 (stop); may finish the packet. */
static int type_header_read(urg_decoder *d, const uint8_t *th, const uint8_t *rest,
                            size_t rest_len, size_t *used)
{
    struct urg_packet *p = &d->pkt;
    uint8_t *dest = NULL;
    bool lenient;
    int r, v;

    *used = 0;
    d->row->decode(&d->wire, th, p);
    d->th_done = true;
    p->data_len = d->length - (uint32_t)d->th_len;
    p->data = NULL;
    d->msg[0] = '\0';
    if ((r = urgi_check_headers(d->row, &d->wire, d->tolerate, d->dir, p, d->msg,
                                sizeof(d->msg))))
        return reject(d, r, p->data_len);
    lenient = d->tolerate && d->row->lenient && d->row->lenient(&d->wire, p, NULL, 0);
    v = URG_DECODE_CONTINUE;
    /* The hello belongs to the decoder (it sets the layout): the header
     * callback cannot discard it or place its payload. */
    d->offer_iov = NULL;
    if (d->cb.header && p->type != URG_HELLO) {
        d->msg[0] = '\0';
        v = d->cb.header(d->ctx, p, &dest);
    }
    /* A tolerated rule is told of only for a packet taken (not one the
     * header callback refused for another rule, discarded or stopped). */
    if (lenient && v == URG_DECODE_CONTINUE && d->tolerated) {
        d->row->lenient(&d->wire, p, d->msg, sizeof(d->msg));
        d->tolerated(d->ctx, p, d->msg);
        d->msg[0] = '\0';
    }
    return after_header(d, v, dest, rest, rest_len, used);
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

/* A frame whole_frames() took: the decoder as frame_header_read() and
 * type_header_read() leave it, for the generic steps that follow in the
 * rare cases (a verdict, a rejection). */
static void whole_taken(urg_decoder *d, uint32_t length, int th_len)
{
    d->type = d->pkt.type;
    d->length = length;
    d->row = &urgi_types[urgi_type_index(d->type)];
    d->th_len = th_len;
    d->th_done = true;
}

/*
 * The frames lying whole at buf (len bytes, at a frame boundary), each read,
 * checked and handed out in one step: the header and the type header read
 * from the wire bytes, the frame rules (wt: urgi_frame_ok()'s, with the
 * type's caps checked once per layout) and the fields' rules (rules.h, the
 * generic path's own), the stats, the header callback, the packet callback
 * with the payload in place. The generic path's steps (frame_header_read(),
 * type_header_read(), finish()) for a frame that passes every rule, without
 * its states. A frame it does not take - one before the peer's hello, the
 * hello, filter_filter, or one that breaks a rule - is left where it is,
 * with nothing counted or changed for it: the generic path reads it again
 * and reports the error with its code and message. A header callback's
 * verdict other than URG_DECODE_CONTINUE goes the generic way
 * (after_header()), and the path returns. Sets *used to the bytes taken;
 * returns as feed()'s steps do: <0 (failed), 0, or 1 (a callback said
 * stop). dir is d->dir and header whether there is a header callback,
 * constants in each of the four copies (whole_frames()).
 */
static URGI_ALWAYS_INLINE int whole_frames_dir(urg_decoder *d, const uint8_t *buf, size_t len,
                                               size_t *used, enum urg_dir dir, bool header)
{
    const uint8_t *b = buf, *end = buf + len;
    const size_t hl = (size_t)d->hlen;
    struct urg_packet *p = &d->pkt;
    uint64_t taken = 0;
    int r = 0;

    while ((size_t)(end - b) >= hl) {
        uint32_t type = urgi_get32(b), length = urgi_get32(b + 4);
        const uint8_t *th = b + hl;
        const struct urgi_type *row;
        int idx, th_len, v;

        if (length > (size_t)(end - th))
            break;
        idx = urgi_type_index(type);
        if (idx < 0 || length < d->wt[idx].min || length > d->wt[idx].max)
            break;
        th_len = (int)d->wt[idx].min;
        row = d->wt[idx].row;
        p->type = type;
        p->id = hl == 16 ? urgi_get64(b + 8) : urgi_get32(b + 8);
        row->decode(&d->wire, th, p);
        p->data_len = length - (uint32_t)th_len;
        if (urgi_fields_rules(row, &d->wire, dir, p, NULL, 0, false))
            break;
        d->stats.rx_packets[idx]++;
        d->stats.rx_bytes[idx] += hl + length;
        taken++;
        b = th + th_len;
        if (header) {
            uint8_t *dest = NULL;
            p->data = NULL;
            d->msg[0] = '\0';
            d->offer_iov = NULL;
            v = d->cb.header(d->ctx, p, &dest);
            if (URGI_UNLIKELY(v != URG_DECODE_CONTINUE)) {
                size_t u;
                whole_taken(d, length, th_len);
                r = after_header(d, v, dest, b, (size_t)(end - b), &u);
                b += u;
                goto out;
            }
        }
        /* finish(), for a type with no payload rules and no hello (the own
         * buffer is not over OWN_KEEP here: whole_frames()) */
        p->data = p->data_len ? b : NULL;
        b += p->data_len;
        d->msg[0] = '\0';
        v = d->cb.packet(d->ctx, p);
        if (URGI_UNLIKELY(v != URG_DECODE_CONTINUE || d->state != S_HEADER)) {
            whole_taken(d, length, th_len);
            if (v < 0)
                r = reject(d, v, 0);
            else if (v == URG_DECODE_STOP)
                r = 1;
            if (r || d->state != S_HEADER) /* or the owner failed the stream */
                goto out;
        }
    }
out:
    d->stats.whole_frames += taken;
    *used = (size_t)(b - buf);
    return r;
}

/* Called once per buffer fed, not per frame: apart from feed(), so that its
 * loop has the registers to itself. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int whole_frames(urg_decoder *d, const uint8_t *buf, size_t len, size_t *used)
{
    *used = 0;
    if (!d->have_hello)
        return 0;
    /* finish() frees an own buffer over OWN_KEEP after a packet; one left
     * over (a state the owner changed) goes before these packets. */
    if (URGI_UNLIKELY(d->own_cap > OWN_KEEP)) {
        urgi_free(&d->alloc, d->own);
        d->own = NULL;
        d->own_cap = 0;
    }
    if (d->dir == URG_DIR_TO_GUEST)
        return d->cb.header ? whole_frames_dir(d, buf, len, used, URG_DIR_TO_GUEST, true)
                            : whole_frames_dir(d, buf, len, used, URG_DIR_TO_GUEST, false);
    return d->cb.header ? whole_frames_dir(d, buf, len, used, URG_DIR_TO_HOST, true)
                        : whole_frames_dir(d, buf, len, used, URG_DIR_TO_HOST, false);
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
                 * bytes left): the owner's path, or else the decoder's,
                 * may take it and those after it. */
                if (urgi_get32(p + 4) <= left - (size_t)d->hlen) {
                    size_t used = 0;
                    r = d->whole ? d->whole(d->ctx, p, left, &used)
                                 : whole_frames(d, p, left, &used);
                    p += used;
                    left -= used;
                    if (r)
                        goto out;
                    /* mid-packet (a verdict), or less than a header left
                     * (gathered below) */
                    if (d->state != S_HEADER || left < (size_t)d->hlen)
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
                if (URGI_UNLIKELY(d->iov)) {
                    iov_copy(d, p, n);
                } else {
                    memcpy(d->dest + d->data_fill, p, n);
                    d->data_fill += (uint32_t)n;
                }
                if (!d->copied) {
                    d->copied = true;
                    d->stats.payload_copies++;
                }
                p += n;
                left -= n;
            }
            if (d->data_fill < d->data_len)
                goto out;
            if ((r = finish(d, d->dest)))
                goto out;
            break;
        }
        case S_HELD:
            if ((r = finish(d, NULL)))
                goto out;
            break;
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
    struct iovec v;
    if (!buf || !len || !urgi_decoder_window_iov(d, &v, 1))
        return 0;
    *buf = v.iov_base;
    *len = v.iov_len;
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
    if (d->state != S_DATA) {
        if (d->state == S_HELD && !n) {
            d->busy = true;
            r = finish(d, NULL);
            d->busy = false;
            return r;
        }
        return n ? URG_ERR_INVALID : 0;
    }
    if (n > d->data_len - d->data_fill)
        return URG_ERR_INVALID;
    d->busy = true;
    d->data_fill += (uint32_t)n;
    if (URGI_UNLIKELY(d->iov))
        iov_advance(d, n);
    if (d->data_fill == d->data_len)
        r = finish(d, d->dest);
    d->busy = false;
    return r;
}

const struct urgi_decoder_stats *urgi_decoder_stats(const urg_decoder *d) { return &d->stats; }

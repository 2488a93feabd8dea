/*
 * output.c - the codec API's output queue (urg_codec.h, urg_output): what
 * an embedder other than the session has to write, on the session's own
 * queue (outq.c). Headers are copied into its byte ring, where adjacent
 * ones merge (a burst of small packets is one iovec); OUT payloads are
 * queued by reference, not copied, each with the embedder's token, and
 * released (the release callback) once the last of their bytes is
 * consumed, or dropped by a reset or the free. Bounded: never more than
 * max_bytes queued, headers and payloads.
 *
 * Re-entry: a release callback may queue (urg_output_put/packet) and read
 * (urg_output_iov/queued); what it queues goes after everything queued
 * before, so the consume or reset telling it never reaches it. It may not
 * consume or reset (URG_ERR_BUSY); its urg_output_free() is carried out
 * when the consume or reset returns.
 */
#include "outq.h"
#include "rules.h" /* URGI_ALWAYS_INLINE */

#include <stdint.h>

struct urg_output {
    struct urg_allocator alloc;
    struct urgi_outq q;       /* external segments: owner 0, owner_id the token */
    size_t max;
    void (*release)(void *ctx, void *token, int written);
    void *ctx;
    bool busy;                /* telling releases (consume, reset, free) */
    bool dropping;            /* the releases being told are drops, not writes */
    bool freeing;             /* being freed: nothing more is queued */
    bool free_pending;        /* urg_output_free() asked by a release callback */
    bool closed;              /* freeing || free_pending */
};

/* Header, largest type header and a hello's 8 caps words: the most
 * urg_encode() writes. */
#define MAX_ENCODED (URGI_MAX_HEADERS + 4 * 8)

URG_API int urg_output_new(const struct urg_output_config *cfg, urg_output **out)
{
    const struct urg_allocator *a;
    urg_output *o;
    if (!cfg || !out || !cfg->max_bytes)
        return URG_ERR_INVALID;
    a = urgi_allocator_or_default(cfg->allocator);
    o = urgi_malloc(a, sizeof(*o));
    if (!o)
        return URG_ERR_NOMEM;
    memset(o, 0, sizeof(*o));
    o->alloc = *a;
    o->max = cfg->max_bytes;
    o->release = cfg->release;
    o->ctx = cfg->ctx;
    if (urgi_outq_init(&o->q, &o->alloc)) {
        urgi_free(a, o);
        return URG_ERR_NOMEM;
    }
    *out = o;
    return 0;
}

/* outq's release: an external segment is done with; the token is its
 * owner_id. */
static void released(void *ctx, uint32_t owner, uint64_t token)
{
    urg_output *o = ctx;
    (void)owner;
    if (o->release)
        o->release(o->ctx, (void *)(uintptr_t)token, !o->dropping);
}

/* Drops what is queued now, each payload released as not written. */
static void drop_all(urg_output *o)
{
    o->busy = o->dropping = true;
    urgi_outq_consume(&o->q, o->q.total, released, o);
    o->busy = o->dropping = false;
}

static void really_free(urg_output *o)
{
    struct urg_allocator a = o->alloc;
    o->freeing = o->closed = true;
    drop_all(o);
    urgi_outq_destroy(&o->q);
    urgi_free(&a, o);
}

URG_API void urg_output_free(urg_output *o)
{
    if (!o)
        return;
    if (o->busy) { /* from a release callback: when it returns */
        o->free_pending = o->closed = true;
        return;
    }
    really_free(o);
}

/* Why n + data_len bytes cannot be queued now (put()'s slow path). */
static int refuse(const urg_output *o, size_t n, size_t data_len)
{
    if (o->freeing || o->free_pending)
        return URG_ERR_BUSY;
    if (n > UINT32_MAX || data_len > UINT32_MAX)
        return URG_ERR_TOO_LONG;
    if (data_len > o->max || n > o->max - data_len)
        return URG_ERR_BUFFER;
    return URG_ERR_AGAIN;
}

/* n bytes from b to t: a packet's headers (12 to 336 bytes) in two or
 * four overlapping moves of constant size, longer runs by memcpy(). */
static URGI_ALWAYS_INLINE void copy_small(uint8_t *t, const uint8_t *b, size_t n)
{
    if (n >= 8 && n <= 16) {
        memcpy(t, b, 8);
        memcpy(t + n - 8, b + n - 8, 8);
    } else if (n > 16 && n <= 32) {
        memcpy(t, b, 16);
        memcpy(t + n - 16, b + n - 16, 16);
    } else {
        memcpy(t, b, n);
    }
}

/* Queues n bytes copied, then data_len bytes of data by reference, or
 * nothing: the bound, then the memory. The arguments are checked. */
static URGI_ALWAYS_INLINE int put(urg_output *o, const void *bytes, size_t n, const void *data,
                                  size_t data_len, void *token)
{
    struct urgi_outq *q = &o->q;
    uint8_t *t;
    int r;
    /* Within 4 GiB each (so their sum does not wrap), within the bound,
     * and the queue not being freed (free_pending and freeing: flags). */
    if (URGI_UNLIKELY(((uint64_t)n | (uint64_t)data_len) > UINT32_MAX ||
                      (uint64_t)n + data_len > o->max - q->total || o->closed))
        return refuse(o, n, data_len);
    if ((r = urgi_outq_reserve(q, n, 2)))
        return r;
    if (n) {
        if (URGI_LIKELY((t = urgi_outq_tail(q, n)) != NULL)) {
            copy_small(t, bytes, n);
            urgi_outq_wrote(q, n);
        } else { /* it wraps */
            urgi_outq_put(q, bytes, n);
        }
    }
    if (data_len)
        urgi_outq_put_ext(q, data, (uint32_t)data_len, 0, (uint64_t)(uintptr_t)token, true);
    return 0;
}

URG_API int urg_output_put(urg_output *o, const void *bytes, size_t n, const void *data,
                           size_t data_len, void *token)
{
    if (!o || (!bytes && n) || (!data && data_len))
        return URG_ERR_INVALID;
    return put(o, bytes, n, data, data_len, token);
}

URG_API int urg_output_packet(urg_output *o, const struct urg_wire *w, enum urg_dir dir,
                              const struct urg_packet *p, void *token)
{
    uint8_t hdr[MAX_ENCODED];
    int n;
    if (!o || !w || !p)
        return URG_ERR_INVALID;
    if ((n = urg_encode(w, dir, p, hdr, sizeof(hdr))) < 0)
        return n;
    if (p->type == URG_HELLO) /* its caps words are encoded */
        return put(o, hdr, (size_t)n, NULL, 0, NULL);
    return put(o, hdr, (size_t)n, p->data, p->data_len, token);
}

URG_API int urg_output_iov(const urg_output *o, struct iovec *iov, int iovcnt)
{
    if (URGI_UNLIKELY(!o || iovcnt <= 0 || !iov))
        return o && (iovcnt == 0 || (iovcnt > 0 && iov)) ? 0 : URG_ERR_INVALID;
    return urgi_outq_iov(&o->q, iov, iovcnt);
}

URG_API int urg_output_consume(urg_output *o, size_t n)
{
    if (!o)
        return URG_ERR_INVALID;
    if (o->busy)
        return URG_ERR_BUSY;
    if (n > o->q.total)
        return URG_ERR_INVALID;
    o->busy = true;
    urgi_outq_consume(&o->q, n, released, o);
    o->busy = false;
    if (o->free_pending)
        really_free(o);
    return 0;
}

URG_API int urg_output_reset(urg_output *o)
{
    if (!o)
        return URG_ERR_INVALID;
    if (o->busy)
        return URG_ERR_BUSY;
    drop_all(o);
    if (o->free_pending)
        really_free(o);
    return 0;
}

URG_API size_t urg_output_queued(const urg_output *o) { return o ? o->q.total : 0; }

/*
 * outq.h - the output queue: what the session has to send, as a FIFO of
 * segments. Ring segments are bytes the session wrote (headers, copied
 * payloads) in a growable byte ring; adjacent ones merge, so a burst of
 * small packets pulls out as one or two iovecs. External segments are
 * caller buffers (OUT payloads), sent without a copy; each names the
 * pending request that owns it, so the session learns when the transport
 * is done with it and can detach (copy) it if the request ends first.
 */
#ifndef URG_GUEST_OUTQ_H
#define URG_GUEST_OUTQ_H

#include "pending.h"

/* The ring's and the segment array's first sizes, and the sizes above
 * which an emptied queue shrinks back to them (urgi_outq_consume_segs). */
#define URGI_OUTQ_RING0 4096u
#define URGI_OUTQ_SEGS0 64u
#define URGI_OUTQ_KEEP (256u * 1024)
#define URGI_OUTQ_KEEP_SEGS 4096u
/* The ring never grows past this (URG_ERR_NOMEM): a burst of headers and
 * copies stays bounded even without max_output. */
#define URGI_OUTQ_RING_MAX (1u << 31)

struct urgi_oseg {
    const uint8_t *ext; /* NULL: ring bytes */
    uint64_t len;       /* 64 bits: an open ring segment that is the head
                           also counts what was consumed of it (off), so
                           it may pass any 32-bit bound */
    uint64_t owner_id;
    uint32_t owner;     /* pending entry, or URGI_NIL */
    bool owned;         /* ext was allocated here (a detached copy) */
    bool last;          /* the owner's last segment (a payload given as
                           several segments has one): consuming it is what
                           releases the owner */
};

struct urgi_outq {
    const struct urg_allocator *alloc;
    uint8_t *ring;
    size_t rcap, rhead, rlen; /* power-of-two capacity, read position, bytes */
    struct urgi_oseg *seg;
    uint32_t scap, shead, scount;
    size_t off;               /* consumed bytes of the head segment */
    size_t total;             /* bytes queued */
    struct urgi_oseg *open;   /* the tail segment while it holds ring bytes
                                 (the next ring bytes join it), else NULL */
};

/* Called when the transport is done with an external segment. */
typedef void (*urgi_outq_release_fn)(void *ctx, uint32_t owner, uint64_t owner_id);

URGI_HIDDEN int urgi_outq_init(struct urgi_outq *q, const struct urg_allocator *a);
URGI_HIDDEN void urgi_outq_destroy(struct urgi_outq *q);
URGI_HIDDEN int urgi_outq_grow(struct urgi_outq *q, size_t ring_bytes, uint32_t nseg);
/* Makes room for ring_bytes more ring bytes and nseg more segments, so the
 * puts that follow cannot fail. */
static inline int urgi_outq_reserve(struct urgi_outq *q, size_t ring_bytes, uint32_t nseg)
{
    if (URGI_LIKELY(q->rlen + ring_bytes <= q->rcap && q->scount + nseg <= q->scap))
        return 0;
    return urgi_outq_grow(q, ring_bytes, nseg);
}
URGI_HIDDEN void urgi_outq_put(struct urgi_outq *q, const void *bytes, size_t n);
/* Where n (> 0, reserved) ring bytes can be written in one piece at the
 * tail, or NULL if they would wrap; urgi_outq_wrote() then queues them. */
static inline uint8_t *urgi_outq_tail(struct urgi_outq *q, size_t n)
{
    size_t tail = (q->rhead + q->rlen) & (q->rcap - 1);
    return q->rcap - tail >= n ? q->ring + tail : NULL;
}
URGI_HIDDEN void urgi_outq_new_seg(struct urgi_outq *q, size_t n);
/* Queues the n ring bytes written at the tail (urgi_outq_tail(), or
 * urgi_outq_put()): they join a ring segment at the tail (so a burst of
 * small packets pulls out as one iovec), or start one. */
static inline void urgi_outq_wrote(struct urgi_outq *q, size_t n)
{
    q->rlen += n;
    q->total += n;
    /* Merging with the head segment being consumed is fine: off stays
     * valid. */
    if (q->open)
        q->open->len += n;
    else
        urgi_outq_new_seg(q, n);
}
/* Queues n bytes at p uncopied, as a segment of (owner, owner_id); last:
 * the owner's last one, whose consumption releases the owner (fn of
 * urgi_outq_consume). */
URGI_HIDDEN void urgi_outq_put_ext(struct urgi_outq *q, const void *p, uint32_t n, uint32_t owner,
                                   uint64_t owner_id, bool last);
URGI_HIDDEN int urgi_outq_iov_all(const struct urgi_outq *q, struct iovec *iov, int cnt);
/* Up to cnt iovecs of what is queued, in order; how many. */
static inline int urgi_outq_iov(const struct urgi_outq *q, struct iovec *iov, int cnt)
{
    if (!q->scount)
        return 0;
    /* Only ring bytes, not wrapped (a burst of small packets): one iovec. */
    if (q->scount == 1 && !q->seg[q->shead].ext && cnt > 0 && q->rhead + q->rlen <= q->rcap) {
        iov[0].iov_base = q->ring + q->rhead;
        iov[0].iov_len = q->rlen;
        return 1;
    }
    return urgi_outq_iov_all(q, iov, cnt);
}
URGI_HIDDEN void urgi_outq_consume_segs(struct urgi_outq *q, size_t n, urgi_outq_release_fn fn,
                                        void *ctx);
/* Drops the first n queued bytes (n <= total); fn hears of each owner
 * whose last external segment the transport is done with. */
static inline void urgi_outq_consume(struct urgi_outq *q, size_t n, urgi_outq_release_fn fn,
                                     void *ctx)
{
    /* All of it, only ring bytes: nothing to release (nor to shrink). */
    if (n == q->total && q->scount == 1 && !q->seg[q->shead].ext &&
        q->rcap <= URGI_OUTQ_KEEP && q->scap <= URGI_OUTQ_KEEP_SEGS) {
        q->scount = 0;
        q->off = q->total = 0;
        q->rhead = q->rlen = 0;
        q->open = NULL;
        return;
    }
    urgi_outq_consume_segs(q, n, fn, ctx);
}
/* Copies the external segments owned by (owner, id) into queue-owned
 * memory: the caller's buffer is then no longer referenced. */
URGI_HIDDEN int urgi_outq_detach(struct urgi_outq *q, uint32_t owner, uint64_t owner_id);
/* Drops everything queued. */
URGI_HIDDEN void urgi_outq_clear(struct urgi_outq *q);

#endif

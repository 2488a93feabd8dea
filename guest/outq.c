/*
 * outq.c - the output queue (see outq.h).
 */
#include "outq.h"

int urgi_outq_init(struct urgi_outq *q, const struct urg_allocator *a)
{
    memset(q, 0, sizeof(*q));
    q->alloc = a;
    q->rcap = URGI_OUTQ_RING0;
    q->scap = URGI_OUTQ_SEGS0;
    q->ring = urgi_malloc(a, q->rcap);
    q->seg = urgi_malloc(a, q->scap * sizeof(*q->seg));
    if (!q->ring || !q->seg) {
        urgi_outq_destroy(q);
        return URG_ERR_NOMEM;
    }
    return 0;
}

static struct urgi_oseg *seg_at(const struct urgi_outq *q, uint32_t k)
{
    return &q->seg[(q->shead + k) & (q->scap - 1)];
}

void urgi_outq_clear(struct urgi_outq *q)
{
    uint32_t k;
    for (k = 0; k < q->scount; k++) {
        struct urgi_oseg *s = seg_at(q, k);
        if (s->owned)
            urgi_free(q->alloc, (void *)s->ext);
    }
    q->shead = q->scount = 0;
    q->rhead = q->rlen = 0;
    q->off = q->total = 0;
    q->open = NULL;
}

void urgi_outq_destroy(struct urgi_outq *q)
{
    if (q->seg)
        urgi_outq_clear(q);
    urgi_free(q->alloc, q->ring);
    urgi_free(q->alloc, q->seg);
    q->ring = NULL;
    q->seg = NULL;
}

int urgi_outq_grow(struct urgi_outq *q, size_t ring_bytes, uint32_t nseg)
{
    if (q->rlen + ring_bytes > q->rcap) {
        size_t ncap = q->rcap, first;
        uint8_t *n;
        while (ncap < q->rlen + ring_bytes) {
            if (ncap >= URGI_OUTQ_RING_MAX)
                return URG_ERR_NOMEM;
            ncap *= 2;
        }
        n = urgi_malloc(q->alloc, ncap);
        if (!n)
            return URG_ERR_NOMEM;
        /* Linearise: ring segments only record lengths, in order. */
        first = q->rcap - q->rhead;
        if (first > q->rlen)
            first = q->rlen;
        memcpy(n, q->ring + q->rhead, first);
        memcpy(n + first, q->ring, q->rlen - first);
        urgi_free(q->alloc, q->ring);
        q->ring = n;
        q->rcap = ncap;
        q->rhead = 0;
    }
    if (q->scount + nseg > q->scap) {
        uint32_t ncap = q->scap, k;
        struct urgi_oseg *n;
        while (ncap < q->scount + nseg) {
            if (ncap > UINT32_MAX / 2)
                return URG_ERR_NOMEM;
            ncap *= 2;
        }
        n = urgi_malloc(q->alloc, (size_t)ncap * sizeof(*n));
        if (!n)
            return URG_ERR_NOMEM;
        for (k = 0; k < q->scount; k++)
            n[k] = *seg_at(q, k);
        urgi_free(q->alloc, q->seg);
        q->seg = n;
        q->scap = ncap;
        q->shead = 0;
        if (q->open) /* the tail, moved */
            q->open = &n[q->scount - 1];
    }
    return 0;
}

void urgi_outq_new_seg(struct urgi_outq *q, size_t n)
{
    struct urgi_oseg *last = seg_at(q, q->scount++);
    memset(last, 0, sizeof(*last));
    last->len = n;
    last->owner = URGI_NIL;
    q->open = last;
}

void urgi_outq_put(struct urgi_outq *q, const void *bytes, size_t n)
{
    size_t tail = (q->rhead + q->rlen) & (q->rcap - 1), first = q->rcap - tail;
    if (!n)
        return;
    if (first > n)
        first = n;
    memcpy(q->ring + tail, bytes, first);
    if (n > first) /* wrapped */
        memcpy(q->ring, (const uint8_t *)bytes + first, n - first);
    urgi_outq_wrote(q, n);
}

void urgi_outq_put_ext(struct urgi_outq *q, const void *p, uint32_t n, uint32_t owner,
                       uint64_t owner_id, bool last)
{
    struct urgi_oseg *s;
    if (!n)
        return;
    s = seg_at(q, q->scount++);
    s->ext = p;
    s->len = n;
    s->owner = owner;
    s->owner_id = owner_id;
    s->owned = false;
    s->last = last;
    q->total += n;
    q->open = NULL;
}

int urgi_outq_iov_all(const struct urgi_outq *q, struct iovec *iov, int cnt)
{
    size_t rpos = q->rhead;
    int n = 0;
    uint32_t k;
    for (k = 0; k < q->scount && n < cnt; k++) {
        const struct urgi_oseg *s = seg_at(q, k);
        size_t skip = k == 0 ? q->off : 0, len = s->len - skip;
        if (s->ext) {
            iov[n].iov_base = (void *)(s->ext + skip);
            iov[n].iov_len = len;
            n++;
            continue;
        }
        /* Ring bytes: rhead is already past the consumed part. */
        {
            size_t first = q->rcap - rpos;
            if (first > len)
                first = len;
            iov[n].iov_base = q->ring + rpos;
            iov[n].iov_len = first;
            n++;
            if (first < len && n < cnt) {
                iov[n].iov_base = q->ring;
                iov[n].iov_len = len - first;
                n++;
            }
            rpos = (rpos + len) & (q->rcap - 1);
        }
    }
    return n;
}

/* An empty queue gives back what a burst made it grow to (the ring and
 * the segment array back to their first sizes), when there is memory for
 * the smaller ones; else it keeps the big ones. */
static void shrink(struct urgi_outq *q)
{
    if (q->rcap > URGI_OUTQ_KEEP) {
        uint8_t *n = urgi_malloc(q->alloc, URGI_OUTQ_RING0);
        if (n) {
            urgi_free(q->alloc, q->ring);
            q->ring = n;
            q->rcap = URGI_OUTQ_RING0;
        }
    }
    if (q->scap > URGI_OUTQ_KEEP_SEGS) {
        struct urgi_oseg *n = urgi_malloc(q->alloc, URGI_OUTQ_SEGS0 * sizeof(*n));
        if (n) {
            urgi_free(q->alloc, q->seg);
            q->seg = n;
            q->scap = URGI_OUTQ_SEGS0;
            q->shead = 0;
        }
    }
}

void urgi_outq_consume_segs(struct urgi_outq *q, size_t n, urgi_outq_release_fn fn, void *ctx)
{
    while (n && q->scount) {
        struct urgi_oseg *s = seg_at(q, 0);
        size_t k = s->len - q->off;
        if (k > n)
            k = n;
        if (!s->ext) {
            q->rhead = (q->rhead + k) & (q->rcap - 1);
            q->rlen -= k;
        }
        q->off += k;
        q->total -= k;
        n -= k;
        if (q->off == s->len) {
            uint32_t owner = s->last ? s->owner : URGI_NIL;
            uint64_t owner_id = s->owner_id;
            if (s->owned)
                urgi_free(q->alloc, (void *)s->ext);
            q->shead = (q->shead + 1) & (q->scap - 1);
            q->scount--;
            q->off = 0;
            if (owner != URGI_NIL && fn)
                fn(ctx, owner, owner_id);
        }
    }
    if (!q->scount) {
        q->rhead = q->rlen = 0;
        q->open = NULL;
        if (URGI_UNLIKELY(q->rcap > URGI_OUTQ_KEEP || q->scap > URGI_OUTQ_KEEP_SEGS))
            shrink(q);
    }
}

int urgi_outq_detach(struct urgi_outq *q, uint32_t owner, uint64_t owner_id)
{
    uint32_t k;
    for (k = 0; k < q->scount; k++) {
        struct urgi_oseg *s = seg_at(q, k);
        uint8_t *copy;
        if (!s->ext || s->owner != owner || s->owner_id != owner_id)
            continue;
        copy = urgi_malloc(q->alloc, s->len);
        if (!copy)
            return URG_ERR_NOMEM;
        memcpy(copy, s->ext, s->len);
        s->ext = copy;
        s->owned = true;
        s->owner = URGI_NIL;
    }
    return 0;
}

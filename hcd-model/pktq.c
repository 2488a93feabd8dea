/*
 * pktq.c - the bounded packet queue of a stream endpoint (interrupt IN,
 * iso IN, buffered bulk IN). Each packet owns a copy of its data, so
 * dropping or consuming one never touches another's memory. When the queue
 * passes twice its target, the oldest packets are dropped (and counted)
 * until it is back at the target; when its payload bytes pass max_bytes,
 * the oldest are dropped until they are under it again: memory stays
 * bounded in packets and in bytes whatever the host sends (the engine
 * already bounds each packet by what the stream asked for).
 */
#include "hcd.h"

void pktq_init(struct pktq *q, uint32_t target, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    q->target = target ? target : 1;
    q->max_bytes = max_bytes;
}

static void free_pkt(struct pkt *p, const struct urg_allocator *a)
{
    if (p->data)
        a->free(a->ctx, p->data);
    p->data = NULL;
}

void pktq_pop(struct pktq *q, const struct urg_allocator *a)
{
    if (!q->count)
        return;
    q->bytes -= q->ring[q->head].len;
    free_pkt(&q->ring[q->head], a);
    q->head = (q->head + 1) % q->cap;
    q->count--;
}

int pktq_push(struct pktq *q, const struct urg_allocator *a, const uint8_t *data, uint32_t len,
              int status)
{
    struct pkt *p;
    if (q->count == q->cap) {
        uint32_t ncap = q->cap ? q->cap * 2 : 16, i;
        struct pkt *n = a->malloc(a->ctx, (size_t)ncap * sizeof(*n));
        if (!n)
            return URG_ERR_NOMEM;
        for (i = 0; i < q->count; i++)
            n[i] = q->ring[(q->head + i) % q->cap];
        if (q->ring)
            a->free(a->ctx, q->ring);
        q->ring = n;
        q->cap = ncap;
        q->head = 0;
    }
    p = &q->ring[(q->head + q->count) % q->cap];
    p->data = NULL;
    if (len) {
        p->data = a->malloc(a->ctx, len);
        if (!p->data)
            return URG_ERR_NOMEM;
        memcpy(p->data, data, len);
    }
    p->len = len;
    p->off = 0;
    p->status = status;
    q->count++;
    q->bytes += len;
    if (q->count > 2 * q->target) {
        while (q->count > q->target) {
            pktq_pop(q, a);
            q->drops++;
        }
    }
    while (q->max_bytes && q->bytes > q->max_bytes && q->count > 1) {
        pktq_pop(q, a);
        q->drops++;
    }
    return 0;
}

void pktq_clear(struct pktq *q, const struct urg_allocator *a)
{
    while (q->count)
        pktq_pop(q, a);
}

void pktq_destroy(struct pktq *q, const struct urg_allocator *a)
{
    pktq_clear(q, a);
    if (q->ring)
        a->free(a->ctx, q->ring);
    q->ring = NULL;
    q->cap = 0;
}

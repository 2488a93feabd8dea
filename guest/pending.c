/*
 * pending.c - ids and the pending-request table (see pending.h).
 */
#include "pending.h"

/* docs/engine.md and pending.h give this size. */
_Static_assert(sizeof(struct urgi_pending) == 48, "pending entry is 48 bytes");

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

int urgi_pt_init(struct urgi_ptable *t, const struct urg_allocator *a, uint32_t hint)
{
    memset(t, 0, sizeof(*t));
    t->alloc = a;
    t->cap = hint < 16 ? 16 : hint;
    if (t->cap > (1u << 29))
        return URG_ERR_INVALID;
    t->index_size = pow2_at_least(2 * t->cap);
    t->e = urgi_malloc(a, (size_t)t->cap * sizeof(*t->e));
    t->index = urgi_malloc(a, (size_t)t->index_size * sizeof(*t->index));
    if (!t->e || !t->index) {
        urgi_pt_destroy(t);
        return URG_ERR_NOMEM;
    }
    memset(t->index, 0, (size_t)t->index_size * sizeof(*t->index));
    t->free_head = URGI_NIL;
    t->head = t->tail = URGI_NIL;
    t->next_id = 1;
    return 0;
}

void urgi_pt_destroy(struct urgi_ptable *t)
{
    urgi_free(t->alloc, t->e);
    urgi_free(t->alloc, t->index);
    t->e = NULL;
    t->index = NULL;
}

/* Doubles the entry array and, when needed, the index. */
static int grow(struct urgi_ptable *t)
{
    uint32_t ncap, nsize, i;
    struct urgi_pending *ne;
    if (t->cap >= (1u << 29))
        return URG_ERR_NOMEM;
    ncap = t->cap * 2;
    ne = urgi_realloc(t->alloc, t->e, (size_t)ncap * sizeof(*ne));
    if (!ne)
        return URG_ERR_NOMEM;
    t->e = ne;
    t->cap = ncap;
    nsize = pow2_at_least(2 * ncap);
    if (nsize > t->index_size) {
        uint32_t *ni = urgi_malloc(t->alloc, (size_t)nsize * sizeof(*ni));
        if (!ni)
            return URG_ERR_NOMEM; /* entries grew; index stays valid */
        memset(ni, 0, (size_t)nsize * sizeof(*ni));
        for (i = t->head; i != URGI_NIL; i = t->e[i].next)
            ni[t->e[i].id & (nsize - 1)] = i + 1;
        urgi_free(t->alloc, t->index);
        t->index = ni;
        t->index_size = nsize;
    }
    return 0;
}

int urgi_pt_room(struct urgi_ptable *t)
{
    /* Keep the index at most half full, so a free slot is always near. */
    if (grow(t) || 2 * (t->count + 1) > t->index_size)
        return URG_ERR_NOMEM;
    return 0;
}

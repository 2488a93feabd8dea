/*
 * pending.c - ids and the pending-request table (see pending.h).
 */
#include "pending.h"

/* docs/engine.md and pending.h give this size. */
_Static_assert(sizeof(struct urgi_pending) == 40, "pending entry is 40 bytes");


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
    t->limit = t->cap < t->index_size / 2 ? t->cap : t->index_size / 2;
    t->free_head = URGI_NIL;
    t->next_id = 1;
    t->id_mask = UINT32_MAX;
    return 0;
}

void urgi_pt_destroy(struct urgi_ptable *t)
{
    urgi_free(t->alloc, t->e);
    urgi_free(t->alloc, t->index);
    t->e = NULL;
    t->index = NULL;
}

/* Makes room for one more entry: the entry array grows by an eighth (at
 * least 16), and the index doubles when it would be over half full. */
int urgi_pt_room(struct urgi_ptable *t)
{
    if (t->count + 1 > t->cap) {
        uint32_t ncap = t->cap + (t->cap / 8 > 16 ? t->cap / 8 : 16);
        struct urgi_pending *ne;
        if (ncap > (1u << 29))
            return URG_ERR_NOMEM;
        ne = urgi_realloc(t->alloc, t->e, (size_t)ncap * sizeof(*ne));
        if (!ne)
            return URG_ERR_NOMEM;
        t->e = ne;
        t->cap = ncap;
    }
    if (2 * (t->count + 1) > t->index_size) {
        uint32_t nsize = t->index_size * 2, i;
        uint32_t *ni = urgi_malloc(t->alloc, (size_t)nsize * sizeof(*ni));
        if (!ni)
            return URG_ERR_NOMEM;
        memset(ni, 0, (size_t)nsize * sizeof(*ni));
        for (i = 0; i < t->hw; i++)
            if (t->e[i].flags & URGI_P_USED)
                ni[t->e[i].id & (nsize - 1)] = i + 1;
        urgi_free(t->alloc, t->index);
        t->index = ni;
        t->index_size = nsize;
    }
    t->limit = t->cap < t->index_size / 2 ? t->cap : t->index_size / 2;
    return 0;
}

/* order[0 .. n-1] as a heap with the youngest (smallest age) at the root. */
static void sift_down(const struct urgi_ptable *t, uint64_t base, uint32_t *order, uint32_t n,
                      uint32_t k)
{
    for (;;) {
        uint32_t c = 2 * k + 1, tmp;
        if (c >= n)
            return;
        if (c + 1 < n && urgi_pt_age(t, base, t->e[order[c + 1]].id) <
                             urgi_pt_age(t, base, t->e[order[c]].id))
            c++;
        if (urgi_pt_age(t, base, t->e[order[c]].id) >= urgi_pt_age(t, base, t->e[order[k]].id))
            return;
        tmp = order[c], order[c] = order[k], order[k] = tmp;
        k = c;
    }
}

uint32_t urgi_pt_oldest_first(const struct urgi_ptable *t, uint8_t want, uint64_t base,
                              uint64_t below_age, uint32_t *order, uint32_t max)
{
    uint32_t n = 0, i, k;

    if (!max)
        return 0;
    /* Keep the max oldest in a heap whose root is the youngest of them. */
    for (i = 0; i < t->hw; i++) {
        const struct urgi_pending *e = &t->e[i];
        uint64_t age;
        if ((e->flags & want) != want)
            continue;
        age = urgi_pt_age(t, base, e->id);
        if (age >= below_age)
            continue;
        if (n < max) {
            order[n++] = i;
            if (n == max)
                for (k = max / 2; k-- > 0;)
                    sift_down(t, base, order, n, k);
        } else if (age > urgi_pt_age(t, base, t->e[order[0]].id)) {
            order[0] = i;
            sift_down(t, base, order, n, 0);
        }
    }
    if (n < max)
        for (k = n / 2; k-- > 0;)
            sift_down(t, base, order, n, k);
    /* Take the youngest out to the end, again and again: oldest first. */
    for (k = n; k > 1; k--) {
        uint32_t tmp = order[0];
        order[0] = order[k - 1];
        order[k - 1] = tmp;
        sift_down(t, base, order, k - 1, 0);
    }
    return n;
}

/*
 * pending.h - the table of requests waiting for the host's answer.
 *
 * Ids: the table hands out ids from a counter (64-bit when negotiated, else
 * 32-bit wrapping, never 0) and skips any id whose index slot is taken, so
 * an id is never reused while pending and a lookup is one array access:
 * index[id & mask] -> entry, then a compare. The index is kept at most half
 * full; growing it keeps every pending id in a distinct slot (ids that
 * differ in their low bits differ in more of them).
 *
 * Order: the counter only goes forward, so the submission order of the
 * pending requests is the order of their ids' age (next_id - id, in the
 * counter's width); urgi_pt_oldest_first() sorts by it when everything
 * completes at once. Nothing is kept per entry for it. The one limit: with
 * 32-bit ids, a request still pending after 2^32 more ids were handed out
 * (the counter a whole lap past it) takes the age it had a lap earlier, so
 * among requests that far apart the order is by age modulo 2^32
 * (docs/engine.md).
 *
 * Memory: an entry is 40 bytes and the index 4 bytes per slot. The entry
 * array grows by an eighth when full, the index doubles when it would be
 * over half full (2 to 4 slots per pending request), both only at a new
 * high-water mark of pending requests: at most 45 + 16 bytes per pending
 * request past the first few.
 */
#ifndef URG_GUEST_PENDING_H
#define URG_GUEST_PENDING_H

#include "internal.h"

#define URGI_NIL UINT32_MAX

enum {
    URGI_P_USED = 1,
    URGI_P_CANCEL_SENT = 2, /* cancel_data_packet queued */
    URGI_P_OUT_QUEUED = 4,  /* the OUT payload is still in the output queue */
    URGI_P_IN = 8,          /* an IN transfer (data comes back) */
    URGI_P_ENDING = 16,     /* pending when the session ended: completes
                               with URG_STATUS_NODEV (urgi_complete_all) */
    URGI_P_IOV = 32         /* in is an iovec array of in_iovcnt segments */
};

struct urgi_pending {
    uint64_t id;
    void *user_data;
    void *in;           /* IN destination: a buffer, or with URGI_P_IOV the
                           caller's iovec array; NULL: none */
    uint32_t length;    /* requested length */
    uint32_t aux32;     /* stream id, endpoint mask */
    union {
        uint32_t next_free; /* a free entry's free-list link */
        uint32_t in_iovcnt; /* a used entry's: segments at in (URGI_P_IOV) */
    };
    uint8_t type;       /* request packet type */
    uint8_t endpoint;
    uint8_t flags;
    uint8_t aux8;       /* interface, configuration */
};

struct urgi_ptable {
    const struct urg_allocator *alloc;
    struct urgi_pending *e;
    uint32_t cap;       /* entries allocated */
    uint32_t hw;        /* entries ever used (0..hw-1 initialised); the free list
                           is used first, so also the most pending at once */
    uint32_t free_head;
    uint32_t *index;    /* entry + 1, 0 = empty */
    uint32_t index_size;/* power of two, >= 2 * (count + 1) after an add's room */
    uint32_t count;
    uint32_t limit;     /* an add below it needs no growth: min(cap, index_size / 2) */
    uint64_t next_id;
    uint64_t id_mask;   /* the ids' width: UINT64_MAX (64-bit ids) or UINT32_MAX */
};

URGI_HIDDEN int urgi_pt_init(struct urgi_ptable *t, const struct urg_allocator *a, uint32_t hint);
URGI_HIDDEN void urgi_pt_destroy(struct urgi_ptable *t);
/* Grows the table for one more entry: 0 or URG_ERR_NOMEM. */
URGI_HIDDEN int urgi_pt_room(struct urgi_ptable *t);
/* Takes a free entry and gives it a fresh id; URGI_NIL if out of memory.
 * Sets id and flags (URGI_P_USED); the caller sets the rest. */
static inline uint32_t urgi_pt_add(struct urgi_ptable *t)
{
    uint32_t i, mask;
    uint64_t id;
    struct urgi_pending *e;

    /* Keep the index at most half full, so a free slot is always near. */
    if (URGI_UNLIKELY(t->count >= t->limit) && urgi_pt_room(t))
        return URGI_NIL;
    if (t->free_head != URGI_NIL) {
        i = t->free_head;
        t->free_head = t->e[i].next_free;
    } else {
        i = t->hw++;
    }
    mask = t->index_size - 1;
    for (;;) {
        id = t->next_id;
        t->next_id = (id + 1) & t->id_mask;
        if (id == 0)
            continue;
        if (!t->index[id & mask])
            break;
    }
    e = &t->e[i];
    e->id = id;
    e->flags = URGI_P_USED;
    t->index[id & mask] = i + 1;
    t->count++;
    return i;
}
/* The pending entry with that id, or URGI_NIL. */
static inline uint32_t urgi_pt_find(const struct urgi_ptable *t, uint64_t id)
{
    uint32_t slot = t->index[id & (t->index_size - 1)];
    if (slot && t->e[slot - 1].id == id)
        return slot - 1;
    return URGI_NIL;
}
/* The index slot of a pending id: *slot is its entry + 1 when it is
 * pending (the entry's id equal), for urgi_pt_remove_at(). */
static inline uint32_t *urgi_pt_slot(const struct urgi_ptable *t, uint64_t id)
{
    return &t->index[id & (t->index_size - 1)];
}
/* Frees entry i (in use), whose index slot is slot. */
static inline void urgi_pt_remove_at(struct urgi_ptable *t, uint32_t i, uint32_t *slot)
{
    struct urgi_pending *e = &t->e[i];
    *slot = 0;
    e->flags = 0;
    e->next_free = t->free_head;
    t->free_head = i;
    t->count--;
}
/* Frees entry i (in use). */
static inline void urgi_pt_remove(struct urgi_ptable *t, uint32_t i)
{
    struct urgi_pending *e = &t->e[i];
    t->index[e->id & (t->index_size - 1)] = 0;
    e->flags = 0;
    e->next_free = t->free_head;
    t->free_head = i;
    t->count--;
}
/* The age of pending id against base (a value of next_id): how many ids
 * were handed out from id up to base. */
static inline uint64_t urgi_pt_age(const struct urgi_ptable *t, uint64_t base, uint64_t id)
{
    return (base - id) & t->id_mask;
}
/* Fills order[] with up to max entries that have every flag in want, the
 * oldest first by their age against base, and returns how many; only
 * entries younger than below_age (an age from an earlier call, or
 * UINT64_MAX) are taken, so repeated calls walk every such entry in
 * submission order, max at a time. Takes one pass over the entries and
 * O(log max) per taken entry; allocates nothing. */
URGI_HIDDEN uint32_t urgi_pt_oldest_first(const struct urgi_ptable *t, uint8_t want,
                                          uint64_t base, uint64_t below_age, uint32_t *order,
                                          uint32_t max);

#endif

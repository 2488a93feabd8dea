/*
 * pending.h - the table of requests waiting for the host's answer.
 *
 * Ids: the table hands out ids from a counter (64-bit when negotiated, else
 * 32-bit wrapping, never 0) and skips any id whose index slot is taken, so
 * an id is never reused while pending and a lookup is one array access:
 * index[id & mask] -> entry, then a compare. The index is kept at most half
 * full; growing it keeps every pending id in a distinct slot (ids that
 * differ in their low bits differ in more of them). Entries are linked in
 * submission order, for completing everything in order on a disconnect.
 *
 * Memory: an entry is 48 bytes and the index 4 bytes per slot (2 slots per
 * entry), so 56 bytes per pending request at most. Both arrays grow only
 * when a new high-water mark of pending requests is reached.
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
    URGI_P_ENDING = 16      /* pending when the session ended: completes
                               with URG_STATUS_NODEV (urgi_complete_all) */
};

struct urgi_pending {
    uint64_t id;
    void *user_data;
    uint8_t *in_buf;    /* IN destination, or NULL */
    uint32_t length;    /* requested length */
    uint32_t aux32;     /* stream id, endpoint mask */
    uint32_t prev, next;/* submission order; free-list link in next */
    uint8_t type;       /* request packet type */
    uint8_t endpoint;
    uint8_t flags;
    uint8_t aux8;       /* interface, configuration */
};

struct urgi_ptable {
    const struct urg_allocator *alloc;
    struct urgi_pending *e;
    uint32_t cap;       /* entries allocated */
    uint32_t hw;        /* entries ever used (0..hw-1 initialised) */
    uint32_t free_head;
    uint32_t *index;    /* entry + 1, 0 = empty */
    uint32_t index_size;/* power of two, >= 2 * cap */
    uint32_t count;
    uint32_t head, tail;
    uint64_t next_id;
    bool id64;
};

URGI_HIDDEN int urgi_pt_init(struct urgi_ptable *t, const struct urg_allocator *a, uint32_t hint);
URGI_HIDDEN void urgi_pt_destroy(struct urgi_ptable *t);
/* Grows the table for one more entry: 0 or URG_ERR_NOMEM. */
URGI_HIDDEN int urgi_pt_room(struct urgi_ptable *t);
/* Takes a free entry and gives it a fresh id; URGI_NIL if out of memory.
 * Sets id, flags (URGI_P_USED) and the links; the caller sets the rest. */
static inline uint32_t urgi_pt_add(struct urgi_ptable *t)
{
    uint32_t i, mask;
    uint64_t id;
    struct urgi_pending *e;

    /* Keep the index at most half full, so a free slot is always near. */
    if (URGI_UNLIKELY(t->count + 1 > t->cap || 2 * (t->count + 1) > t->index_size) &&
        urgi_pt_room(t))
        return URGI_NIL;
    if (t->free_head != URGI_NIL) {
        i = t->free_head;
        t->free_head = t->e[i].next;
    } else {
        i = t->hw++;
    }
    mask = t->index_size - 1;
    for (;;) {
        id = t->next_id;
        t->next_id = t->id64 ? id + 1 : (uint32_t)(id + 1);
        if (id == 0)
            continue;
        if (!t->index[id & mask])
            break;
    }
    e = &t->e[i];
    e->id = id;
    e->flags = URGI_P_USED;
    t->index[id & mask] = i + 1;
    e->prev = t->tail;
    e->next = URGI_NIL;
    if (t->tail != URGI_NIL)
        t->e[t->tail].next = i;
    else
        t->head = i;
    t->tail = i;
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
/* Frees entry i (in use). */
static inline void urgi_pt_remove(struct urgi_ptable *t, uint32_t i)
{
    struct urgi_pending *e = &t->e[i];
    t->index[e->id & (t->index_size - 1)] = 0;
    if (e->prev != URGI_NIL)
        t->e[e->prev].next = e->next;
    else
        t->head = e->next;
    if (e->next != URGI_NIL)
        t->e[e->next].prev = e->prev;
    else
        t->tail = e->prev;
    e->flags = 0;
    e->next = t->free_head;
    t->free_head = i;
    t->count--;
}

#endif

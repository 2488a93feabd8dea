/*
 * failalloc.h - test support: an urg_allocator over libc that counts its
 * calls and the blocks it holds, and fails the calls a test names.
 */
#ifndef URG_TEST_FAILALLOC_H
#define URG_TEST_FAILALLOC_H

#include <stdint.h>

#include "urg_guest.h"

struct fail_alloc {
    uint64_t calls;     /* malloc and realloc calls so far, failed ones too */
    uint64_t fail_at;   /* fail this call only (1: the first; 0: none) */
    uint64_t fail_from; /* fail this call and every later one (0: none) */
    uint64_t live;      /* blocks held */
    int failed;         /* a call failed */
};

/* The allocator over f (which must outlive it); f starts as the test set it. */
struct urg_allocator fail_allocator(struct fail_alloc *f);
/* From the next call on, every call fails (on) or none does (off). */
void fail_alloc_refuse(struct fail_alloc *f, int on);

#endif

/*
 * failalloc.c - test support: the failing allocator (failalloc.h).
 */
#include "failalloc.h"

#include <stdlib.h>

static int fails(struct fail_alloc *f)
{
    f->calls++;
    if (f->calls == f->fail_at || (f->fail_from && f->calls >= f->fail_from)) {
        f->failed = 1;
        return 1;
    }
    return 0;
}

static void *fa_malloc(void *ctx, size_t n)
{
    struct fail_alloc *f = ctx;
    void *p;
    if (fails(f))
        return NULL;
    p = malloc(n ? n : 1);
    if (p)
        f->live++;
    return p;
}

static void *fa_realloc(void *ctx, void *old, size_t n)
{
    struct fail_alloc *f = ctx;
    void *p;
    if (fails(f))
        return NULL;
    p = realloc(old, n ? n : 1);
    if (p && !old)
        f->live++;
    return p;
}

static void fa_free(void *ctx, void *p)
{
    struct fail_alloc *f = ctx;
    if (p)
        f->live--;
    free(p);
}

struct urg_allocator fail_allocator(struct fail_alloc *f)
{
    struct urg_allocator a = { fa_malloc, fa_realloc, fa_free, f };
    return a;
}

void fail_alloc_refuse(struct fail_alloc *f, int on)
{
    f->fail_from = on ? f->calls + 1 : 0;
}

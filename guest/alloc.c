/*
 * alloc.c - the default allocator (libc). Every allocation of the engine
 * goes through a struct urg_allocator, which the application may replace.
 */
#include <stdlib.h>

#include "internal.h"

static void *def_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void *def_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return realloc(p, n);
}

static void def_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

const struct urg_allocator urgi_default_allocator = { def_malloc, def_realloc, def_free, NULL };

URG_API const struct urg_allocator *urg_allocator_default(void) { return &urgi_default_allocator; }

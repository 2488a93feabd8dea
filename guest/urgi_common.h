/*
 * urgi_common.h - the small helpers every layer uses, once: little-endian
 * access, allocation through a struct urg_allocator, a log line through a
 * log callback, and the guard that defers freeing an object asked for from
 * inside its own callbacks. Internal (never installed): all of it is
 * static inline, so each library keeps its own private copy and exports
 * nothing.
 */
#ifndef URGI_COMMON_H
#define URGI_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "urg_guest.h"

/* ---- little-endian access: byte by byte, whatever the host order ---- */

static inline uint16_t urgi_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t urgi_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t urgi_get64(const uint8_t *p)
{
    return (uint64_t)urgi_get32(p) | (uint64_t)urgi_get32(p + 4) << 32;
}
static inline void urgi_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void urgi_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void urgi_put64(uint8_t *p, uint64_t v)
{
    urgi_put32(p, (uint32_t)v);
    urgi_put32(p + 4, (uint32_t)(v >> 32));
}

/* ---- allocation: every heap allocation of the library goes through one ---- */

/* a, or the default (libc) allocator for NULL. */
static inline const struct urg_allocator *urgi_allocator_or_default(const struct urg_allocator *a)
{
    return a ? a : urg_allocator_default();
}
static inline void *urgi_malloc(const struct urg_allocator *a, size_t n)
{
    return a->malloc(a->ctx, n);
}
static inline void *urgi_calloc(const struct urg_allocator *a, size_t n)
{
    void *p = a->malloc(a->ctx, n);
    if (p)
        memset(p, 0, n);
    return p;
}
static inline void *urgi_realloc(const struct urg_allocator *a, void *p, size_t n)
{
    return a->realloc(a->ctx, p, n);
}
static inline void urgi_free(const struct urg_allocator *a, void *p)
{
    if (p)
        a->free(a->ctx, p);
}

/* ---- configs that can grow ---- */

/* A public config starts with its size as the caller compiled it (the
 * *_config_init() macro sets it). The library fills out, a config of its
 * own size holding the defaults, from the caller's cfg as far as both know
 * it: fields added later keep their defaults for an older caller, and
 * fields a newer caller knows and the library does not are ignored.
 * URG_ERR_INVALID when cfg was never initialised (size under its own). */
static inline int urgi_config_take(void *out, size_t out_size, const void *cfg)
{
    size_t size;
    memcpy(&size, cfg, sizeof(size));
    if (size < sizeof(size_t))
        return URG_ERR_INVALID;
    memcpy(out, cfg, size < out_size ? size : out_size);
    memcpy(out, &out_size, sizeof(out_size));
    return 0;
}
/* What a *_config_init_size() writes: defaults (a whole config of the
 * library's size) into the caller's cfg of size bytes, the rest zero. */
static inline void urgi_config_give(void *cfg, size_t size, const void *defaults,
                                    size_t defaults_size)
{
    size_t n = size < defaults_size ? size : defaults_size;
    memset(cfg, 0, size);
    memcpy(cfg, defaults, n);
    if (size >= sizeof(size_t))
        memcpy(cfg, &n, sizeof(n));
}

/* ---- a log line ---- */

/* Formats a line and hands it to fn(ud, level, line) if fn is set and
 * level is at most max_level (URG_LOG_*). Lines are cut at 319 bytes. */
static inline void urgi_vlog(void (*fn)(void *ud, int level, const char *msg), void *ud,
                             int max_level, int level, const char *fmt, va_list ap)
{
    char buf[320];
    if (!fn || level > max_level)
        return;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    fn(ud, level, buf);
}

/* ---- freeing an object from inside its own callbacks ---- */

/* Every call that may run an object's callbacks runs between
 * urgi_guard_enter() and urgi_guard_leave(). A free asked for meanwhile is
 * left to the outermost leave. */
struct urgi_guard {
    int depth;         /* calls now running callbacks */
    bool free_pending; /* a free was asked for: no more callbacks */
};
static inline void urgi_guard_enter(struct urgi_guard *g) { g->depth++; }
/* True when the outermost call ends with a free asked for: free it now. */
static inline bool urgi_guard_leave(struct urgi_guard *g)
{
    return --g->depth == 0 && g->free_pending;
}
/* A free is asked for: true if it may happen now (no call is running). */
static inline bool urgi_guard_free(struct urgi_guard *g)
{
    g->free_pending = true;
    return g->depth == 0;
}

#endif /* URGI_COMMON_H */

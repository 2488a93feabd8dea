/*
 * guarded.h - the libev callbacks of the transport and the replay host
 * (internal: hidden in the library, never installed).
 *
 * Each object (urg_transport, urg_replay) runs its handlers between
 * enter() and leave(), its urgi_guard (guest/urgi_common.h): a free asked
 * for inside a handler (from a user callback it calls) is done by the
 * outermost leave(), once the handler is over. GUARDED_OBJECT writes the
 * two for a type, GUARDED_CALLBACK the frame of each watcher's callback.
 */
#ifndef URG_GUARDED_H
#define URG_GUARDED_H

#include <ev.h>

#include "urgi_common.h"

/* Defines enter() and leave() for objects of TYPE, whose urgi_guard is
 * their member guard: the outermost leave() after a free was asked for
 * frees the object with FREE_FN. */
#define GUARDED_OBJECT(type, free_fn)                                                            \
    static void enter(type *object) { urgi_guard_enter(&object->guard); }                        \
    static void leave(type *object)                                                              \
    {                                                                                            \
        if (urgi_guard_leave(&object->guard))                                                    \
            free_fn(object);                                                                     \
    }

/* Defines NAME, the callback of an ev_TYPE watcher (io, timer, prepare)
 * whose data is the object: it runs HANDLER(object) between enter(object)
 * and leave(object). */
#define GUARDED_CALLBACK(name, type, handler)                                                    \
    static void name(struct ev_loop *loop, ev_##type *w, int revents)                           \
    {                                                                                            \
        void *object = w->data;                                                                  \
        (void)loop;                                                                              \
        (void)revents;                                                                           \
        enter(object);                                                                           \
        handler(object);                                                                         \
        leave(object);                                                                           \
    }

#endif

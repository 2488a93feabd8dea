/*
 * urg_transport.h - I/O for usbredir-guest over libev: connections to a
 * usb-host (TCP client or server, Unix socket, an open fd), backpressure,
 * reconnect. It feeds any urg_session; the adapter that makes a model
 * device the peer is urg_hcd_transport.h, and captures, pcap import and
 * replay are urg_capture.h (same library).
 *
 * Library: libusbredirguest-transport (links libev and libpcap) on top of
 * libusbredirguest. Nothing here is thread-safe: use one loop per thread.
 * docs/transport.md is the guide.
 */
#ifndef URG_TRANSPORT_H
#define URG_TRANSPORT_H

#include "urg_guest.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ev_loop;

/* This layer's errors (URG_ERR_ADDRESS ... URG_ERR_STALLED, -300 to -399)
 * are in urg_guest.h's one error space: urg_strerror() and
 * urg_error_name() name them, and every other layer's. */

/* ---------------------------------------------------------------- addresses */

enum urg_address_kind { URG_ADDR_TCP = 1, URG_ADDR_UNIX = 2, URG_ADDR_FD = 3 };

struct urg_address {
    int kind;
    char host[256];   /* TCP: a name, an IPv4 address or an IPv6 address */
    uint16_t port;    /* TCP */
    char path[108];   /* Unix */
    int fd;           /* an open, connected socket or pipe pair end */
};

/**
 * Parses "host:port", "[v6address]:port", "unix:/path" or "fd:N" (names are
 * resolved when connecting). Returns 0, or:
 * - URG_ERR_INVALID: text or out NULL;
 * - URG_ERR_ADDRESS: none of these forms, e.g. a port that is not a
 *   decimal number from 0 to 65535, an IPv6 address without brackets,
 *   brackets around no IPv6 address, a host of 256 bytes or more, an empty
 *   Unix path or one of 108 bytes or more, an fd that is not a decimal
 *   number from 0 to INT_MAX.
 */
URG_API int urg_address_parse(const char *text, struct urg_address *out);
/** Formats an address back (snprintf semantics: returns the length the
 *  whole text needs). Or:
 *  - URG_ERR_INVALID: a is NULL, or a->kind is not an enum
 *    urg_address_kind. */
URG_API int urg_address_format(const struct urg_address *a, char *buf, size_t cap);

/* ---------------------------------------------------------------- transport */

typedef struct urg_transport urg_transport;

/**
 * What the transport feeds: open() is called when a connection is up and
 * returns the session whose bytes the transport moves; close() when it is
 * gone (the peer ends the session; the transport never touches it again).
 */
struct urg_transport_peer {
    int (*open)(void *ctx, urg_session **session);
    void (*close)(void *ctx, int reason);
    void *ctx;
};

/* A peer that is a host-controller model device (urg_transport_peer_hcd())
 * is declared in urg_hcd_transport.h. */

enum urg_transport_event {
    URG_TEV_CONNECTED = 1,   /* a connection is up (err 0) */
    URG_TEV_DISCONNECTED,    /* it went down (err: why) */
    URG_TEV_RETRY,           /* a connect failed or a connection dropped;
                                trying again after the backoff (err: why) */
    URG_TEV_CLOSED,          /* no more connections will be made (err: why) */
    URG_TEV_OUTPUT_BLOCKED,  /* queued output passed output_high: reading
                                stops until it drains */
    URG_TEV_OUTPUT_DRAINED   /* it came back under half of that: reading
                                goes on */
};

struct urg_transport_callbacks {
    /* The connection's state changed. Never called from inside
     * urg_transport_new(): even an fd address is taken up when the loop
     * runs. */
    void (*event)(void *ud, urg_transport *t, int event, int err);
    void (*log)(void *ud, int level, const char *msg);
};

struct urg_transport_config {
    size_t size;                  /* set by urg_transport_config_init(): the
                                     struct's size as this program knows it */
    const char *address;          /* see urg_address_parse() */
    int listen;                   /* 1: wait for the host to connect to us
                                     (usbredirect --to); else we connect
                                     (usbredirect --as) */
    struct ev_loop *loop;         /* the application's loop; NULL: EV_DEFAULT */
    struct urg_transport_peer peer;
    int reconnect;                /* 1: after a drop, connect again (TCP and
                                     Unix; listening keeps listening) */
    double backoff_initial;       /* seconds before the first retry (0.1) */
    double backoff_max;           /* doubling up to this (10); it starts over
                                     once a host has sent something */
    int max_retries;              /* give up after this many failed attempts
                                     in a row - connects that failed, or
                                     connections that closed before the host
                                     sent a byte (0: never) */
    size_t output_high;           /* queued output that blocks: above it
                                     nothing is read from the host until
                                     it drains under half (4 MiB) */
    double stall_timeout;         /* seconds the host may take no byte while
                                     output waits before the connection is
                                     dropped with URG_ERR_STALLED (60; 0:
                                     never) */
    size_t read_buffer;           /* bytes per read (64 KiB) */
    size_t read_budget;           /* bytes read per loop iteration before
                                     others get a turn (1 MiB) */
    const char *capture_path;     /* record both directions here, or NULL */
    int log_level;                /* URG_LOG_WARNING */
    const struct urg_allocator *allocator; /* NULL: libc. The transport, its
                                     read buffer and its capture; the peer's
                                     memory is the peer's (a model device:
                                     urg_hcd_config.session.allocator,
                                     urg_hcd.h) */
    struct urg_transport_callbacks callbacks;
    void *user_data;
};

/* (A macro, as urg_session_config_init(): a config must start from it. A
 * NULL cfg is ignored.) */
#define urg_transport_config_init(cfg) urg_transport_config_init_size((cfg), sizeof(*(cfg)))
URG_API void urg_transport_config_init_size(struct urg_transport_config *cfg, size_t size);
/**
 * Creates the transport and starts connecting (or listening) on the loop;
 * nothing happens until the loop runs (an fd address is then the connection,
 * with no connect). A connecting transport resolves and connects on the
 * loop: its failures come as events. Returns 0 and *out, or an error, and
 * then an fd address is still the caller's:
 * - URG_ERR_INVALID: cfg or out NULL, cfg not made by
 *   urg_transport_config_init(), no address, or no peer open() or close();
 * - URG_ERR_ADDRESS: a malformed address (urg_address_parse()), or an fd
 *   address to listen on;
 * - URG_ERR_RESOLVE: the host name to listen on does not resolve;
 * - URG_ERR_CONNECT: cannot bind or listen;
 * - URG_ERR_CAPTURE: capture_path cannot be created;
 * - URG_ERR_NOMEM: the allocator failed.
 */
URG_API int urg_transport_new(const struct urg_transport_config *cfg, urg_transport **out);
/**
 * Closes the connection (the peer's close() is called), stops every
 * watcher and frees. No callback of the transport runs after it returns.
 * From inside one of the transport's callbacks, the free is deferred to the
 * end of that callback. A NULL t is ignored.
 */
URG_API void urg_transport_free(urg_transport *t);
/** Pauses (1) or resumes (0) reading from the host: while paused the
 *  application receives nothing (the kernel buffers, then the host waits).
 *  A NULL t is ignored. */
URG_API void urg_transport_pause(urg_transport *t, int pause);
/** 1 while a connection is up, else 0 (t NULL too). Returns no error
 *  code. */
URG_API int urg_transport_connected(const urg_transport *t);
/** The port a listening transport got (for an address with port 0); 0 for
 *  a TCP transport that does not listen, a Unix or fd one, or t NULL.
 *  Returns no error code. */
URG_API int urg_transport_port(const urg_transport *t);
/** The connection's fd while one is up (for getpeername() and the like;
 *  the transport owns it: do not read, write or close it), else -1. TCP
 *  connections have TCP_NODELAY and keepalive (idle 30 s, interval 10 s,
 *  3 probes) on; Unix sockets keepalive. -1 for t NULL too. Returns no
 *  error code. */
URG_API int urg_transport_fd(const urg_transport *t);

struct urg_transport_stats {
    uint64_t bytes_in, bytes_out;
    uint64_t reads, writes;
    uint64_t connects;            /* connections made */
    uint64_t retries;             /* attempts after a failure or a drop */
    uint64_t blocked;             /* times output passed output_high */
    uint64_t direct_bytes;        /* read straight into a request's buffer */
    double retry_delay;           /* seconds before the attempt now scheduled
                                     (backoff_initial doubling up to
                                     backoff_max); 0 when none is */
};
/** The counters into *out; nothing if t or out is NULL. */
URG_API void urg_transport_stats(const urg_transport *t, struct urg_transport_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* URG_TRANSPORT_H */

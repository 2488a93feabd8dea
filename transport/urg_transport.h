/*
 * urg_transport.h - I/O for usbredir-guest over libev: connections to a
 * usb-host (TCP client or server, Unix socket, an open fd), backpressure,
 * reconnect; captures of sessions (record, read, decode, import from pcap);
 * a replay host that serves a capture to a guest.
 *
 * Library: libusbredirguest-transport (links libev and libpcap) on top of
 * libusbredirguest. Nothing here is thread-safe: use one loop per thread.
 * docs/transport.md is the guide; docs/fixtures.md describes captures.
 */
#ifndef URG_TRANSPORT_H
#define URG_TRANSPORT_H

#include "urg_guest.h"
#include "urg_hcd.h"

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
 * Parses "host:port", "[v6address]:port", "unix:/path" or "fd:N". Returns 0
 * or URG_ERR_ADDRESS.
 */
URG_API int urg_address_parse(const char *text, struct urg_address *out);
/** Formats an address back (snprintf semantics). */
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

/** A peer that is a host-controller model device: open() is
 *  urg_hcd_dev_connect(), close() is urg_hcd_dev_disconnect(). */
URG_API struct urg_transport_peer urg_transport_peer_hcd(urg_hcd_dev *dev);

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
    /* The connection's state changed. May be called from inside
     * urg_transport_new() only for URG_TEV_CLOSED (a bad fd). */
    void (*event)(void *ud, urg_transport *t, int event, int err);
    void (*log)(void *ud, int level, const char *msg);
};

struct urg_transport_config {
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
                                     urg_hcd_config.session.allocator) */
    struct urg_transport_callbacks callbacks;
    void *user_data;
};

URG_API void urg_transport_config_init(struct urg_transport_config *cfg);
/**
 * Creates the transport and starts connecting (or listening) on the loop;
 * nothing happens until the loop runs. An fd address is used at once.
 * Returns 0 or an error (bad address, cannot listen, cannot open the
 * capture, URG_ERR_NOMEM); on an error an fd address is still the caller's.
 */
URG_API int urg_transport_new(const struct urg_transport_config *cfg, urg_transport **out);
/**
 * Closes the connection (the peer's close() is called), stops every
 * watcher and frees. No callback of the transport runs after it returns.
 * From inside one of the transport's callbacks, the free is deferred to the
 * end of that callback.
 */
URG_API void urg_transport_free(urg_transport *t);
/** Pauses (1) or resumes (0) reading from the host: while paused the
 *  application receives nothing (the kernel buffers, then the host waits). */
URG_API void urg_transport_pause(urg_transport *t, int pause);
/** 1 while a connection is up. */
URG_API int urg_transport_connected(const urg_transport *t);
/** The port a listening transport got (for an address with port 0). */
URG_API int urg_transport_port(const urg_transport *t);
/** The connection's fd while one is up (for getpeername() and the like;
 *  the transport owns it: do not read, write or close it), else -1. TCP
 *  connections have TCP_NODELAY and keepalive (idle 30 s, interval 10 s,
 *  3 probes) on; Unix sockets keepalive. */
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
URG_API void urg_transport_stats(const urg_transport *t, struct urg_transport_stats *out);

/* ---------------------------------------------------------------- captures */

/* Record kinds of a capture file (docs/fixtures.md). */
enum urg_capture_kind {
    URG_CAP_GUEST = 'G',      /* bytes the guest sent */
    URG_CAP_HOST = 'H',       /* bytes the host sent */
    URG_CAP_NOTE = 'N',       /* a text note */
    URG_CAP_CONNECT = 'C'     /* a new connection starts */
};

typedef struct urg_capture urg_capture;
/* Captures, their readers, urg_capture_decode*() and the pcap import take
 * no config and allocate with urg_allocator_default() (libc). */
/** Creates (truncates) a capture file. */
URG_API int urg_capture_create(const char *path, urg_capture **out);
/** Appends a record (time: now, relative to the capture's creation). */
URG_API int urg_capture_write(urg_capture *c, int kind, const void *data, size_t len);
/** Appends a record with the given time (ns since the start), for tools
 *  that convert captures from elsewhere. A record holds at most 256 MiB. */
URG_API int urg_capture_write_at(urg_capture *c, int kind, uint64_t time_ns, const void *data,
                                 size_t len);
URG_API void urg_capture_close(urg_capture *c);

struct urg_capture_record {
    int kind;                 /* enum urg_capture_kind */
    uint64_t time_ns;         /* since the capture started */
    const uint8_t *data;      /* valid until the next call */
    uint32_t len;
};
typedef struct urg_capture_reader urg_capture_reader;
URG_API int urg_capture_open(const char *path, urg_capture_reader **out);
/** A reader of a capture held in memory (data must outlive the reader). */
URG_API int urg_capture_open_mem(const void *data, size_t len, urg_capture_reader **out);
/** The next record: 1, 0 at the end, or URG_ERR_CAPTURE (a damaged file). */
URG_API int urg_capture_next(urg_capture_reader *r, struct urg_capture_record *rec);
URG_API void urg_capture_reader_free(urg_capture_reader *r);

/** A packet of a capture, decoded. */
struct urg_capture_packet {
    enum urg_dir dir;         /* which way it went */
    uint32_t index;           /* 1, 2, 3 ... in capture order */
    uint32_t connection;      /* 1 for the first connection, ... */
    uint64_t time_ns;         /* of the record that completed it */
    uint32_t wire_len;        /* bytes on the wire (headers included) */
    const struct urg_packet *p; /* valid during the callback */
};
/**
 * Decodes both directions of a capture into packets, in capture order. fn
 * returns 0 to go on, anything else to stop (urg_capture_decode then
 * returns it). Returns 0, or an error with a message in err.
 */
URG_API int urg_capture_decode(const char *path,
                               int (*fn)(void *ctx, const struct urg_capture_packet *cp),
                               void *ctx, char *err, size_t errcap);
/** The same for a capture held in memory. */
URG_API int urg_capture_decode_mem(const void *data, size_t len,
                                   int (*fn)(void *ctx, const struct urg_capture_packet *cp),
                                   void *ctx, char *err, size_t errcap);

/**
 * Imports one TCP connection of a pcap or pcapng file (as tcpdump writes
 * it, read with libpcap) into a capture: each direction is reassembled in
 * sequence order (retransmissions dropped); a direction with a gap is
 * refused (URG_ERR_TCP_GAP, err says where). host_port picks the side of
 * the usb-host (0: the side that sends device_connect). Ethernet, Linux
 * cooked (v1, v2), raw IP and loopback link types; IPv4 and IPv6.
 */
URG_API int urg_capture_import_pcap(const char *pcap_path, const char *out_path, int host_port,
                                    char *err, size_t errcap);

/** One line describing a packet, as `dump` prints it (snprintf semantics).
 *  Text the peer supplied (a hello's version, a filter string) is quoted
 *  and escaped as urg_escape() does. */
URG_API int urg_packet_format(const struct urg_packet *p, char *buf, size_t cap);

/* ---------------------------------------------------------------- replay */

typedef struct urg_replay urg_replay;

struct urg_replay_config {
    const char *capture_path;     /* the capture to serve... */
    const void *capture_data;     /* ...or one in memory (when capture_path */
    size_t capture_size;          /*    is NULL), read during urg_replay_new() */
    struct ev_loop *loop;         /* NULL: EV_DEFAULT */
    int fd;                       /* serve the guest on this connected fd... */
    const char *listen_address;   /* ...or on the first guest that connects
                                     here (when fd < 0) */
    int close_when_done;          /* 1: close the connection once the whole
                                     capture has been replayed (1); a replay
                                     that fails always closes it */
    /* The replay finished: status 0 (the whole capture replayed) or an
     * error (URG_ERR_DIVERGED, URG_ERR_EOF, ...), report says where and
     * which field. */
    void (*done)(void *ud, urg_replay *r, int status, const char *report);
    void (*log)(void *ud, int level, const char *msg);
    void *user_data;
    int log_level;
    const struct urg_allocator *allocator; /* NULL: libc. The replay, the
                                     capture's packets, its decoders and its
                                     output buffer */
};
URG_API void urg_replay_config_init(struct urg_replay_config *cfg);
/** Reads the capture and starts serving. Returns 0 or an error
 *  (URG_ERR_CAPTURE, URG_ERR_NOMEM, ...; no done() call), and then cfg->fd
 *  is still the caller's. */
URG_API int urg_replay_new(const struct urg_replay_config *cfg, urg_replay **out);
URG_API void urg_replay_free(urg_replay *r);
/** The port a listening replay got (listen address with port 0). */
URG_API int urg_replay_port(const urg_replay *r);

#ifdef __cplusplus
}
#endif
#endif /* URG_TRANSPORT_H */

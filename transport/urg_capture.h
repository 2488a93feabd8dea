/*
 * urg_capture.h - captures of usbredir sessions for usbredir-guest: record,
 * read and decode them, import one from a pcap or pcapng file, and a replay
 * host that serves a capture to a guest (a usb-host for tests, no hardware).
 *
 * Library: libusbredirguest-transport (links libev and libpcap), with
 * urg_transport.h. The replay runs on a libev loop; nothing here is
 * thread-safe. docs/transport.md is the guide; docs/fixtures.md describes
 * the capture format. Decoded packets are struct urg_packet (urg_guest.h).
 */
#ifndef URG_CAPTURE_H
#define URG_CAPTURE_H

#include "urg_guest.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ev_loop;

/* The errors of captures, the import and the replay (URG_ERR_CAPTURE,
 * URG_ERR_PCAP, URG_ERR_TCP_GAP, URG_ERR_DIVERGED, ...) are in urg_guest.h's
 * one error space with every other layer's: urg_strerror() names them. */

/* ---------------------------------------------------------------- captures */

/* Record kinds of a capture file (docs/fixtures.md). */
enum urg_capture_kind {
    URG_CAP_GUEST = 'G',      /* bytes the guest sent */
    URG_CAP_HOST = 'H',       /* bytes the host sent */
    URG_CAP_NOTE = 'N',       /* a text note */
    URG_CAP_CONNECT = 'C'     /* a new connection starts */
};

typedef struct urg_capture urg_capture;
/* Captures, their readers, urg_capture_decode*() and
 * urg_capture_import_pcap() take no config and allocate with
 * urg_allocator_default() (libc); urg_capture_import() and
 * urg_capture_import_mem() with their config's allocator. */
/** Creates (truncates) a capture file. Returns 0 and *out, or:
 *  - URG_ERR_INVALID: path or out NULL;
 *  - URG_ERR_CAPTURE: the file cannot be created, or its header written;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_capture_create(const char *path, urg_capture **out);
/** Appends a record (time: now, relative to the capture's creation). kind
 *  is written as given (enum urg_capture_kind: a reader refuses any other
 *  as damage). Returns 0, or:
 *  - URG_ERR_INVALID: c NULL, data NULL with len > 0, or len over 256 MiB;
 *  - URG_ERR_CAPTURE: the record cannot be written. */
URG_API int urg_capture_write(urg_capture *c, int kind, const void *data, size_t len);
/** Appends a record with the given time (ns since the start), for tools
 *  that convert captures from elsewhere. A record holds at most 256 MiB.
 *  Returns 0, or:
 *  - URG_ERR_INVALID: c NULL, data NULL with len > 0, or len over 256 MiB;
 *  - URG_ERR_CAPTURE: the record cannot be written. */
URG_API int urg_capture_write_at(urg_capture *c, int kind, uint64_t time_ns, const void *data,
                                 size_t len);
/** Closes and frees the capture; a NULL c is ignored. */
URG_API void urg_capture_close(urg_capture *c);

struct urg_capture_record {
    int kind;                 /* enum urg_capture_kind */
    uint64_t time_ns;         /* since the capture started */
    const uint8_t *data;      /* valid until the next call */
    uint32_t len;
};
typedef struct urg_capture_reader urg_capture_reader;
/** A reader of a capture file. Returns 0 and *out, or:
 *  - URG_ERR_INVALID: path or out NULL;
 *  - URG_ERR_CAPTURE: the file cannot be opened, or is not a capture (its
 *    first 8 bytes);
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_capture_open(const char *path, urg_capture_reader **out);
/** A reader of a capture held in memory (data must outlive the reader).
 *  Returns 0 and *out, or:
 *  - URG_ERR_INVALID: data or out NULL with len > 0;
 *  - URG_ERR_CAPTURE: len 0, or not a capture (its first 8 bytes), or
 *    it cannot be opened as a stream;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_capture_open_mem(const void *data, size_t len, urg_capture_reader **out);
/** The next record into *rec (its data valid until the next call): 1, 0 at
 *  the end, or:
 *  - URG_ERR_INVALID: r or rec NULL;
 *  - URG_ERR_CAPTURE: a damaged file (a record cut short, an unknown kind,
 *    padding not zero, a length over 256 MiB, a read error);
 *  - URG_ERR_NOMEM: no memory for the record's data. */
URG_API int urg_capture_next(urg_capture_reader *r, struct urg_capture_record *rec);
/** Closes and frees the reader; a NULL r is ignored. */
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
 * returns it). A packet cut short by the end of the capture is not
 * delivered. Returns 0, what fn returned to stop (any value but 0,
 * positive ones too), or an error with a message in err (if err is not
 * NULL and errcap > 0):
 * - URG_ERR_INVALID: path or fn NULL;
 * - URG_ERR_CAPTURE: the file cannot be opened, is not a capture, or is
 *   damaged (as urg_capture_next());
 * - URG_ERR_PROTO_*: a packet breaks the protocol (the code a receiver
 *   would report: docs/engine.md, "Validation"; err names the packet);
 * - URG_ERR_NOMEM: the allocator failed.
 */
URG_API int urg_capture_decode(const char *path,
                               int (*fn)(void *ctx, const struct urg_capture_packet *cp),
                               void *ctx, char *err, size_t errcap);
/** The same for a capture held in memory. Returns 0, what fn returned to
 *  stop, or an error with a message in err:
 *  - URG_ERR_INVALID: data NULL with len > 0, or fn NULL;
 *  - URG_ERR_CAPTURE: len 0, not a capture, or a damaged one;
 *  - URG_ERR_PROTO_*: a packet breaks the protocol (err names it);
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_capture_decode_mem(const void *data, size_t len,
                                   int (*fn)(void *ctx, const struct urg_capture_packet *cp),
                                   void *ctx, char *err, size_t errcap);

/* ---------------------------------------------------------------- import */

/*
 * Importing a pcap or pcapng file (read with libpcap) into a capture. Two
 * kinds of file, told apart by their link type:
 *
 * - a usbredir session over TCP (tcpdump on the network: Ethernet, Linux
 *   cooked v1 and v2, raw IP and loopback link types; IPv4 and IPv6). The
 *   first TCP connection in the file is taken; each direction is
 *   reassembled in sequence order (retransmissions dropped); a direction
 *   with a gap is refused (URG_ERR_TCP_GAP, err says where). The usb-host
 *   is the side on host_port, or (host_port 0) the side whose second
 *   packet is one only a usb-host sends (interface_info, ep_info,
 *   device_connect);
 * - a Linux usbmon capture (link types USB_LINUX, 48-byte headers, and
 *   USB_LINUX_MMAPPED, 64-byte ones: tcpdump -i usbmonN, Wireshark's USB
 *   captures, QEMU's pcap= option): one device's URBs become a usbredir
 *   session with a synthesized usb-host and usb-guest (docs/transport.md,
 *   "Importing usbmon captures"): the device is the one at usb_bus,
 *   usb_address, or (-1) the one with the most data that is not a hub.
 *
 * note (if not NULL and notecap > 0) says what was taken and why: which
 * side is the usb-host ("the usb-host is 127.0.0.1:4000: it sent
 * interface_info, which only a usb-host sends"), which usb device, its
 * speed and why, and what the file lacked (transfers whose data the
 * capture cut, URBs never completed).
 */
struct urg_import_config {
    size_t size;              /* set by urg_import_config_init(): the
                                 struct's size as this program knows it */
    int host_port;            /* TCP: the usb-host's port (1-65535); 0:
                                 the side that sends what only a usb-host
                                 sends (0) */
    int usb_bus;              /* usbmon: the device's bus (0-65535) and */
    int usb_address;          /* address (0-255); -1 (both): the device
                                 with the most data that is not a hub (-1) */
    size_t max_bytes;         /* the most the import holds in memory: the
                                 reassembled streams, the usbmon
                                 conversion's records of unanswered URBs,
                                 the capture made by urg_capture_import_mem()
                                 (0: 1 GiB); the usbmon conversion's fixed
                                 tables come on top (at most about 3 MB:
                                 32768 URBs in flight, 1024 devices, 8
                                 configurations) */
    const struct urg_allocator *allocator; /* NULL: libc. Every allocation
                                 of the import, and the capture
                                 urg_capture_import_mem() returns */
};
/* (A macro, as urg_replay_config_init(): a config must start from it. A
 * NULL cfg is ignored.) */
#define urg_import_config_init(cfg) urg_import_config_init_size((cfg), sizeof(*(cfg)))
URG_API void urg_import_config_init_size(struct urg_import_config *cfg, size_t size);

/**
 * Imports the pcap or pcapng file in_path into the capture file out_path
 * (created only once the file has been read and checked). cfg NULL: the
 * defaults of urg_import_config_init(). Returns 0, or an error with a
 * message naming the file in err (if err is not NULL and errcap > 0):
 * - URG_ERR_INVALID: in_path or out_path NULL, or cfg not made by
 *   urg_import_config_init() (or with a value out of its range);
 * - URG_ERR_PCAP: the file cannot be opened or read, or is not a pcap or
 *   pcapng file, or a link type that is neither TCP/IP nor usbmon; TCP: a
 *   frame was cut short (captured with a snap length), a fragmented IPv4
 *   packet, no TCP connection with data, neither side on host_port, the
 *   side on host_port is the usb-guest's (the other sends what only a
 *   usb-host sends), (host_port 0) neither side sends what only a usb-host
 *   sends, the streams over max_bytes; usbmon: a record shorter than its
 *   header, no URBs, no URBs of the device asked for, only hubs, the
 *   conversion over max_bytes;
 * - URG_ERR_TCP_GAP: a TCP direction has bytes that were never captured;
 * - URG_ERR_CAPTURE: out_path cannot be created or written;
 * - URG_ERR_NOMEM: the allocator failed.
 */
URG_API int urg_capture_import(const char *in_path, const char *out_path,
                               const struct urg_import_config *cfg, char *note, size_t notecap,
                               char *err, size_t errcap);
/**
 * The same into memory: *data (from cfg's allocator: free it with it, or
 * with free() for libc's) holds the capture, *len bytes, for
 * urg_capture_decode_mem(), urg_capture_open_mem() or a replay's
 * capture_data. Returns 0, or an error with a message in err:
 * - URG_ERR_INVALID: in_path, data or len NULL, or cfg not made by
 *   urg_import_config_init() (or with a value out of its range);
 * - URG_ERR_PCAP, URG_ERR_TCP_GAP: as urg_capture_import();
 * - URG_ERR_CAPTURE: the capture would be over max_bytes;
 * - URG_ERR_NOMEM: the allocator failed.
 */
URG_API int urg_capture_import_mem(const char *in_path, const struct urg_import_config *cfg,
                                   void **data, size_t *len, char *note, size_t notecap,
                                   char *err, size_t errcap);
/**
 * urg_capture_import() with the defaults but host_port (kept for the
 * programs written before it). Returns 0, or an error with a message in
 * err:
 * - URG_ERR_INVALID: pcap_path or out_path NULL, or host_port out of
 *   0-65535;
 * - URG_ERR_PCAP, URG_ERR_TCP_GAP, URG_ERR_CAPTURE, URG_ERR_NOMEM: as
 *   urg_capture_import().
 */
URG_API int urg_capture_import_pcap(const char *pcap_path, const char *out_path, int host_port,
                                    char *err, size_t errcap);

/**
 * Writes a capture as a pcap file (raw IPv4, nanosecond times) for
 * Wireshark, tcpdump or urg_capture_import_pcap(): each connection of the
 * capture becomes a TCP connection from the guest, 127.0.0.1 port 40000,
 * 40001, ... (one per connection), to the usb-host, 127.0.0.2 port
 * host_port (0: 4000), with its handshake at its first record, each side's
 * bytes as segments with their sequence and ack numbers, and a FIN each
 * way at its last record. Each record is one segment, cut at 65495 bytes
 * (an IPv4 packet's room); with segment_sizes (nsizes of them), records
 * are cut into segments of those sizes taken in turn (a segment never
 * holds bytes of two records). Times are the records' times since the
 * capture began, counted from the epoch. Returns 0, or an error with a
 * message in err (if err is not NULL and errcap > 0):
 * - URG_ERR_INVALID: capture_path or pcap_path NULL, host_port outside
 *   0..65535, segment_sizes NULL with nsizes > 0, or a size outside
 *   1..65495;
 * - URG_ERR_CAPTURE: the capture cannot be opened, is not a capture, or is
 *   damaged (as urg_capture_next());
 * - URG_ERR_PCAP: the pcap file cannot be created or written;
 * - URG_ERR_NOMEM: the allocator failed.
 */
URG_API int urg_capture_export_pcap(const char *capture_path, const char *pcap_path, int host_port,
                                    const uint32_t *segment_sizes, size_t nsizes, char *err,
                                    size_t errcap);

/** One line describing a packet, as `dump` prints it (snprintf semantics:
 *  returns the length the whole line needs; buf may be NULL when cap is 0).
 *  Text the peer supplied (a hello's version, a filter string) is quoted
 *  and escaped as urg_escape() does. Or:
 *  - URG_ERR_INVALID: p NULL. */
URG_API int urg_packet_format(const struct urg_packet *p, char *buf, size_t cap);

/* ---------------------------------------------------------------- replay */

typedef struct urg_replay urg_replay;

struct urg_replay_config {
    size_t size;                  /* set by urg_replay_config_init(): the
                                     struct's size as this program knows it */
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
     * which field. URG_REPLAY_DEVICE: 0 when the guest hung up or the
     * device was unplugged at the recording's end (report: the
     * coverage), else the error that stopped the device (URG_ERR_NOMEM,
     * URG_ERR_IO, ...). Called once, from the loop (never from inside
     * urg_replay_new(), even for a capture replayed whole there); r may be
     * freed from it. Not called after urg_replay_free(). */
    void (*done)(void *ud, urg_replay *r, int status, const char *report);
    void (*log)(void *ud, int level, const char *msg);
    void *user_data;
    int log_level;
    const struct urg_allocator *allocator; /* NULL: libc. The replay, the
                                     capture's packets, its decoders and its
                                     output buffer */
    /* What the replay is (enum urg_replay_mode): URG_REPLAY_EXACT (0), the
     * guest must repeat the capture packet for packet (capture:FILE);
     * URG_REPLAY_DEVICE, a device built from the capture answers any
     * guest by meaning (device:FILE; docs/transport.md, "A device from a
     * recording"). The three below are for URG_REPLAY_DEVICE. */
    int mode;
    int fast;                     /* 1: stream packets (interrupt, iso,
                                     buffered bulk) as fast as the guest
                                     takes them; 0: at the recorded pace */
    int loop_streams;             /* 1: a stream that ran out of recorded
                                     packets starts again from its first;
                                     0: it ends */
    uint64_t write_limit;         /* bytes of blocks a guest adds to a
                                     mass-storage device, kept in memory
                                     (64 MiB; 0 also means 64 MiB); past it
                                     a WRITE of new blocks fails */
};
enum urg_replay_mode { URG_REPLAY_EXACT = 0, URG_REPLAY_DEVICE = 1 };

/** What a URG_REPLAY_DEVICE replay answered, and how. */
struct urg_replay_coverage {
    uint64_t recorded;         /* answered from the recording: a control
                                  request with a recorded reply to the same
                                  setup, a recorded status, recorded data */
    uint64_t by_rule;          /* answered by a rule: a reset, an OUT the
                                  device takes, a stream start with no
                                  recorded status, TEST UNIT READY, a write
                                  kept in memory, ... */
    uint64_t unanswerable;     /* stalled or failed: nothing recorded
                                  answers it (a control setup never seen, a
                                  SCSI command never recorded, blocks never
                                  read) */
    uint64_t stream_packets;   /* recorded stream packets sent */
    uint64_t blocks_read;      /* mass storage: blocks answered from the
                                  rebuilt disk */
    uint64_t blocks_missing;   /* blocks asked for that the recording never
                                  read nor wrote (medium error) */
    uint64_t blocks_written;   /* blocks the guest wrote (kept in memory) */
};
/* (A macro, as urg_session_config_init(): a config must start from it. A
 * NULL cfg is ignored.) */
#define urg_replay_config_init(cfg) urg_replay_config_init_size((cfg), sizeof(*(cfg)))
URG_API void urg_replay_config_init_size(struct urg_replay_config *cfg, size_t size);
/** Reads the capture and starts serving (with an fd, the capture's first
 *  host packets are queued at once). Returns 0 and *out, or an error (no
 *  done() call), and then cfg->fd is still the caller's:
 *  - URG_ERR_INVALID: cfg or out NULL, cfg not made by
 *    urg_replay_config_init(), no capture_path nor capture_data, or no fd
 *    nor listen_address;
 *  - URG_ERR_CAPTURE: the capture cannot be read, is damaged (as
 *    urg_capture_next()) or empty, or has no host hello;
 *  - URG_ERR_PROTO_*: a packet of the capture breaks the protocol (as
 *    urg_capture_decode());
 *  - URG_ERR_DIVERGED: with an fd, a host packet the capture starts with
 *    cannot be encoded (e.g. a hello with more than 8 caps words);
 *  - URG_ERR_ADDRESS: listen_address is malformed, or an fd address;
 *  - URG_ERR_RESOLVE: its host name does not resolve;
 *  - URG_ERR_CONNECT: cannot bind or listen there;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_replay_new(const struct urg_replay_config *cfg, urg_replay **out);
/** Stops serving, closes the connection and frees (from inside one of the
 *  replay's callbacks, at the end of that callback); a NULL r is ignored. */
URG_API void urg_replay_free(urg_replay *r);
/** The port a listening replay got (listen address with port 0); 0 for an
 *  fd replay, a Unix listen address or r NULL. Returns no error code. */
URG_API int urg_replay_port(const urg_replay *r);
/** What a URG_REPLAY_DEVICE replay has answered so far, into *out.
 *  Returns 0, or:
 *  - URG_ERR_INVALID: r or out NULL, or r is not a URG_REPLAY_DEVICE
 *    replay. */
URG_API int urg_replay_coverage(const urg_replay *r, struct urg_replay_coverage *out);

#ifdef __cplusplus
}
#endif
#endif /* URG_CAPTURE_H */

/*
 * urg_hcd.h - the virtual host-controller model of usbredir-guest.
 *
 * What a VMM's USB controller emulation (xHCI, EHCI, UHCI, ...) links
 * against: a redirected device with endpoints, URBs submitted and completed,
 * and all the usbredir bookkeeping QEMU's usb-guest does by hand (standard
 * requests, interrupt receiving, buffered bulk receiving, iso streams,
 * speeds, reset, disconnect) over the engine (urg_guest.h).
 *
 * Sans-IO like the engine: a urg_hcd_dev owns one urg_session per
 * connection to a usb-host; the caller (transport/, or the VMM's own I/O)
 * moves that session's bytes. A device is used from one thread at a time
 * (the loop's); other threads submit and cancel through its
 * urg_hcd_queue (at the end of this file), the one thread-safe object.
 * docs/vmm-guide.md gives the exact call sequence, "Threads" the queue's.
 */
#ifndef URG_HCD_H
#define URG_HCD_H

#include "urg_guest.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct urg_hcd_dev urg_hcd_dev;

/* The model's own errors (URG_ERR_HCD_*) are in urg_guest.h's one error
 * space, with every other layer's: urg_strerror() and urg_error_name()
 * name them all. */

/** Bits of a speed mask: URG_SPEED_MASK(URG_SPEED_HIGH) ... */
#define URG_SPEED_MASK(speed) (1u << (speed))
#define URG_SPEED_MASK_ALL                                                                        \
    (URG_SPEED_MASK(URG_SPEED_LOW) | URG_SPEED_MASK(URG_SPEED_FULL) |                             \
     URG_SPEED_MASK(URG_SPEED_HIGH) | URG_SPEED_MASK(URG_SPEED_SUPER))

/**
 * The speeds a controller port may present the device at (a mask of
 * URG_SPEED_MASK bits), given the device and the negotiated caps, as
 * QEMU's usb-redir decides: its own speed, and slower ones when its
 * endpoints fit them - no iso endpoint, the max packet sizes known
 * (ep_info_max_packet_size) if it has interrupt endpoints, and each
 * interrupt endpoint's max packet <= 64 at full speed, <= 1024 at high
 * speed. SuperSpeed itself needs 64bits_ids, 32bits_bulk_length and
 * ep_info_max_packet_size (an xHCI SuperSpeed port). Unknown speed counts as
 * full. 0 if an iso or interrupt endpoint has interval 0, an endpoint has
 * a type above 3 (not 255; URG_POLICY_TOLERATE), or dev is NULL.
 * The model checks it again when a configuration or alternate setting
 * changes the endpoints; a device its port speed no longer carries is
 * detached and refused (rejected callback).
 */
URG_API uint32_t urg_hcd_speed_mask(const struct urg_device *dev, uint32_t caps);

/**
 * Iso stream sizing for an endpoint (raw bInterval) at a speed: the
 * interval is an exponent at full, high and super speed (a period of
 * 2^(bInterval-1) frames or microframes), so packets per second are
 * 1000 / 2^(bInterval-1) at full speed and 8000 / 2^(bInterval-1) at high
 * and super speed. pkts_per_urb is about 10 ms of packets (1..32); no_urbs
 * covers latency_ms (doubled for OUT), at most 16, as QEMU's usb-redir
 * sizes them. Where 16 such transfers fall short of the target (more than
 * 80 ms OUT or 160 ms IN at full speed) the transfers grow instead, up to
 * 32 packets: 16 transfers of ceil(packets / 16). Returns 0, or:
 * - URG_ERR_INVALID: a speed other than full, high or super (no iso at
 *   low speed), interval outside 1..16, or pkts_per_urb or no_urbs NULL.
 */
URG_API int urg_hcd_iso_sizing(int speed, uint8_t interval, uint32_t latency_ms, int is_in,
                               uint8_t *pkts_per_urb, uint8_t *no_urbs);

/* ---------------------------------------------------------------- URBs */

/** URB statuses (what the controller reports for the transfer). */
enum urg_urb_status {
    URG_URB_SUCCESS = 0,
    URG_URB_SHORT = 1,     /* IN: fewer bytes than the buffer (a short packet) */
    URG_URB_STALL = 2,
    URG_URB_BABBLE = 3,
    URG_URB_CANCELLED = 4, /* cancelled by the VMM, the host or a stop */
    URG_URB_IOERROR = 5,
    URG_URB_NODEV = 6,     /* the device or the connection went away */
    URG_URB_NAK = 7,       /* interrupt IN, polled mode: no data now */
    URG_URB_PENDING = 8,   /* in flight */
    URG_URB_REFUSED = 9    /* through a urg_hcd_queue: urg_hcd_submit()
                              refused it, it never went out
                              (urg_hcd_queue_error() says why) */
};
/** The name of a URB status, e.g. "stall"; "unknown" for any other value. */
URG_API const char *urg_urb_status_name(int status);

struct urg_iso_packet_desc {
    uint32_t offset;        /* in the URB's data (buffer or segments) */
    uint32_t length;        /* bytes: OUT to send, IN room */
    uint32_t actual_length; /* set at completion */
    int status;             /* enum urg_urb_status, set at completion */
};

/**
 * A transfer. Allocate with urg_urb_alloc() (the library keeps its private
 * state in the same allocation) and reuse it as often as you like; fill the
 * request fields, submit, read the result fields at completion.
 */
struct urg_urb {
    /* request: set by the VMM before urg_hcd_submit() */
    uint8_t endpoint;     /* address: number | 0x80 for IN (0 for control) */
    uint8_t type;         /* URG_EP_CONTROL, _BULK, _INTERRUPT or _ISO */
    uint8_t setup[8];     /* control: the SETUP packet (wLength <= length) */
    uint32_t stream_id;   /* bulk streams, else 0 */
    uint8_t *buffer;      /* the VMM's buffer: OUT data, or room for IN data
                             (NULL when the data is in iov) */
    uint32_t length;      /* bytes of the transfer (control: the data stage) */
    /* Or the data as segments (scatter-gather: a TRB chain, a qTD's page
     * list): iovcnt iovecs, 1 to URG_IOV_MAX, whose first length bytes are
     * the data in order (urg_iov_check()); buffer NULL. IN data goes into
     * the segments straight from the socket, OUT data is sent from them;
     * the array and the memory stay the VMM's and must stay valid until the
     * URB completes. iovcnt 0: the data is in buffer. */
    const struct iovec *iov;
    int iovcnt;
    void *user_data;      /* the VMM's */
    /* result: set by the library when the URB completes */
    int status;           /* enum urg_urb_status */
    uint32_t actual_length;
    /* iso: num_iso_packets descriptors, fixed at allocation */
    int num_iso_packets;
    struct urg_iso_packet_desc *iso;
    /* request, for the usbmon capture only (pcap_path; the model does not
     * act on them); 0 when unknown: */
    uint32_t flags;       /* URG_URB_FLAG_*: what the guest's driver asked */
    uint32_t start_frame; /* iso: the frame number its frames start at, as
                             urg_hcd_iso_frames() gave it (*start_frame) */
};

/** URB flags (struct urg_urb's flags), Linux's URB transfer flags of the
 *  same names and values. The capture shows URG_URB_FLAG_SHORT_NOT_OK on
 *  control, bulk and interrupt IN and URG_URB_FLAG_ZERO_PACKET on bulk
 *  and interrupt OUT, as Linux allows them; the model does not act on
 *  either (a VMM that must send a zero-length packet submits one). */
#define URG_URB_FLAG_SHORT_NOT_OK 0x0001u /* a short IN transfer is an error */
#define URG_URB_FLAG_ZERO_PACKET 0x0040u  /* end an OUT that fills its last
                                             packet with a zero-length one */

/** Allocates a URB with room for num_iso_packets iso descriptors (0 to
 *  4096), zeroed, from the default (libc) allocator. NULL if out of range
 *  or out of memory. */
URG_API struct urg_urb *urg_urb_alloc(int num_iso_packets);
/** The same from allocator a (NULL: the default), e.g. the one given in a
 *  device's config.session.allocator: the URB and its descriptors are one
 *  allocation of a, and urg_urb_free() gives it back to a. The URB keeps
 *  the pointer: *a must stay valid until the URB is freed. */
URG_API struct urg_urb *urg_urb_alloc_with(const struct urg_allocator *a, int num_iso_packets);
/** Frees a URB that is not in flight. A URB in flight, or held by a
 *  urg_hcd_queue (submitted to it and not given back or reaped yet: it is
 *  the queue's until then), is not freed (its device logs an error); a
 *  NULL urb is ignored. */
URG_API void urg_urb_free(struct urg_urb *urb);

/* ---------------------------------------------------------------- device */

/** The device as attached. */
struct urg_hcd_device {
    struct urg_device usb;   /* ids, class, interfaces, endpoints (urg_guest.h) */
    uint8_t speed;           /* the speed the port presents (URG_SPEED_*) */
    uint32_t speed_mask;     /* every speed that could carry it */
    uint8_t address;         /* set by the guest's SET_ADDRESS */
    uint8_t configuration;   /* after SET/GET_CONFIGURATION */
};

/** Per-endpoint counters. */
struct urg_hcd_ep_stats {
    uint64_t urbs;           /* URBs completed */
    uint64_t packets, bytes; /* stream packets received (or sent, iso OUT) */
    uint64_t drops;          /* stream packets dropped by a full queue */
    uint64_t underruns;      /* iso IN URBs that found too few packets */
    uint32_t queued;         /* stream packets waiting now */
};

/**
 * Callbacks; ud is the config's user_data. Every one but urb_complete is
 * optional. Pointers are valid during the call only.
 *
 * urb_complete runs from inside urg_session_recv() (the byte mover),
 * urg_hcd_cancel(), urg_hcd_ep_stop(), urg_hcd_reset(),
 * urg_hcd_dev_disconnect() and urg_hcd_dev_free() - never from inside
 * urg_hcd_submit() - and, with a urg_hcd_queue delivering through it,
 * from inside urg_hcd_queue_run() and urg_hcd_queue_free(). All run on
 * the device's (the loop's) thread. From a callback the VMM may submit,
 * cancel and stop endpoints; it must not free the device.
 */
struct urg_hcd_callbacks {
    /* The device is ready: show it on a port at info->speed. */
    void (*attach)(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info);
    /* The device is gone (every URB has completed): unplug it from the
     * port, then call urg_hcd_detach_done() - now or later. A new device
     * is not attached before that. */
    void (*detach)(void *ud, urg_hcd_dev *dev);
    /* A URB finished (exactly once per URB accepted by urg_hcd_submit()
     * with 0). URBs on one endpoint complete in submission order, but a
     * cancelled URB completes at once. */
    void (*urb_complete)(void *ud, urg_hcd_dev *dev, struct urg_urb *urb);
    /* A device could not be attached, or was detached because a new
     * configuration or alternate setting does not fit its speed: reason
     * URG_ERR_HCD_SPEED (no port speed carries it; the log says why),
     * URG_ERR_HCD_INTERVAL (an iso or interrupt endpoint with bInterval 0),
     * URG_ERR_PROTO_FIELD (an endpoint type above 3 in ep_info, which only
     * the session's URG_POLICY_TOLERATE lets through: refused as QEMU does)
     * or a URG_ERR_FILTER_* code. filter_reject was sent if the host has the
     * filter cap. */
    void (*rejected)(void *ud, urg_hcd_dev *dev, int reason);
    /* The endpoint table changed (SET_CONFIGURATION, SET_INTERFACE): read
     * it with urg_hcd_dev_info(). Runs before the URB that caused it
     * completes. */
    void (*endpoints_changed)(void *ud, urg_hcd_dev *dev);
    /* urg_hcd_alloc_streams() / urg_hcd_free_streams() finished. */
    void (*streams_done)(void *ud, urg_hcd_dev *dev, void *op, int status, uint32_t no_streams);
    /* Log lines (engine and model) at or below session.log_level. */
    void (*log)(void *ud, int level, const char *msg);
};

/** What an interface of a device is to the model (the config's serial
 *  callback): a serial port's bulk IN gets buffered bulk receiving
 *  (docs/vmm-guide.md, "Serial adapters"). */
enum urg_serial_kind {
    URG_SERIAL_NONE = 0,  /* not a serial port: its bulk IN is ordinary bulk */
    URG_SERIAL_PLAIN = 1, /* a serial port whose bulk IN carries the bytes
                             as they are (cp210x, pl2303, ch341, ...) */
    URG_SERIAL_FTDI = 2   /* an FTDI port: each max-packet block starts with
                             2 status bytes, and the guest's URB gets the
                             device's packets whole, each at a max-packet
                             boundary of it */
};

struct urg_hcd_config {
    size_t size;                 /* set by urg_hcd_config_init(): the
                                    struct's size as this program knows it */
    uint32_t port_speeds;        /* speeds the port can present (URG_SPEED_MASK_ALL) */
    const char *filter;          /* usbredirfilter string, or NULL
                                    (separators: filter_token_sep) */
    int interrupt_nak;           /* 1: an interrupt IN URB with no data completes
                                    at once with URG_URB_NAK (UHCI-style polling) */
    int interrupt_out_immediate; /* 1: interrupt OUT URBs complete at once (QEMU) */
    uint32_t interrupt_queue;    /* interrupt IN packets kept per endpoint (1000);
                                    above twice that, drop back to it */
    int buffered_bulk_serial;    /* 1: buffered bulk receiving for the serial
                                    adapters of Linux's ftdi_sio, cp210x,
                                    pl2303 and ch341 drivers (1); 0: none
                                    but what the serial callback asks */
    uint32_t buffered_bulk_bytes; /* bytes_per_transfer (512, rounded up to max packet) */
    uint8_t buffered_bulk_transfers; /* no_transfers (5) */
    uint32_t buffered_bulk_queue; /* chunks kept per endpoint (5000) */
    size_t stream_queue_bytes;   /* payload bytes kept per stream endpoint
                                    (4 MiB; 0: no byte bound): above it the
                                    oldest packets are dropped (counted in
                                    drops) */
    uint32_t iso_latency_ms;     /* iso buffering target (60) */
    const char *pcap_path;       /* usbmon capture file, or NULL */
    uint16_t pcap_bus;           /* bus number in the capture (1) */
    /* Engine options (caps, policy, limits, allocator, log level,
     * version), or NULL for the engine's defaults. Copied by
     * urg_hcd_dev_new(). Its callbacks, user_data, filter and filter
     * separators are the model's: ignored here. */
    const struct urg_session_config *session;
    struct urg_hcd_callbacks callbacks;
    void *user_data;
    /* (Fields below were added later: a program built before them gets
     * their defaults.) */
    int suppress_remote_wake;    /* 1: clear the remote-wakeup bit (0x20 of
                                    bmAttributes) in configuration
                                    descriptors read with GET_DESCRIPTOR, so
                                    a guest cannot rely on remote wakeup and
                                    idle the device away (1, as QEMU) */
    /* Rewrites a descriptor reply, or NULL. Called for every standard
     * GET_DESCRIPTOR (bmRequestType 0x80, 0x81 or 0x82) passed to the
     * device that succeeded, before its URB completes and after the
     * built-in fix-ups (suppress_remote_wake): data is the URB's buffer
     * holding the length bytes of the reply (for a URB with segments: the
     * first non-empty segment when it holds max bytes, else a copy of the
     * URB's wLength bytes, written back after the call), setup the URB's setup packet.
     * The VMM may change the bytes in place and returns the reply's length:
     * at most max (the request's wLength; more counts as max), and it may
     * be more than length (the bytes past length are the VMM's to fill).
     * The URB then completes with that length (URG_URB_SHORT when under
     * wLength). data is the model's to read after the call; the callback
     * must not submit to or free this device. */
    uint32_t (*descriptor)(void *ud, urg_hcd_dev *dev, const uint8_t setup[8], uint8_t *data,
                           uint32_t length, uint32_t max);
    /* The separators of filter (separator sets, as urg_filter_parse_sep()
     * takes them), or NULL for "," and "|"; ":" and "|" take QEMU's
     * usb-redir filter property as it is. */
    const char *filter_token_sep;
    const char *filter_rule_sep;
    /* Which interfaces are serial ports, or NULL for the model's tables
     * (Linux's, with buffered_bulk_serial). Called for each interface
     * whose first bulk IN endpoint (lowest address) has a known max
     * packet size, when the device attaches (before the attach
     * callback), and again when a new configuration or alternate setting
     * changes that endpoint (before endpoints_changed). usb is the device (its
     * ids, and the number, class, subclass and protocol of each
     * interface), interface the interface's number, known what the
     * table says of it (enum urg_serial_kind; URG_SERIAL_NONE when
     * buffered_bulk_serial is 0). Returns enum urg_serial_kind: buffered
     * bulk receiving on the interface's first bulk IN endpoint, as plain
     * bytes or FTDI packets, or not (URG_SERIAL_NONE; any other value
     * counts as it). usb is valid during the call only; the callback must
     * not submit to or free this device. */
    int (*serial)(void *ud, urg_hcd_dev *dev, const struct urg_device *usb, uint8_t interface,
                  int known);
};

/** Fills cfg with the defaults shown above, and its size (a macro, as
 *  urg_session_config_init(): a config must start from it). A NULL cfg is
 *  ignored. */
#define urg_hcd_config_init(cfg) urg_hcd_config_init_size((cfg), sizeof(*(cfg)))
URG_API void urg_hcd_config_init_size(struct urg_hcd_config *cfg, size_t size);
/**
 * Creates a device with no connection yet (urg_hcd_dev_connect(), or a
 * transport's peer, makes one). Copies cfg and its strings.
 * The engine options in cfg->session are checked when a connection is
 * made (urg_hcd_dev_connect()). Returns 0 and *out, or:
 * - URG_ERR_INVALID: cfg or out NULL, cfg (or cfg->session) not made by
 *   its *_config_init(), no urb_complete callback, no speed in
 *   port_speeds, an empty filter_token_sep or filter_rule_sep;
 * - URG_ERR_FILTER_SYNTAX: filter is not a well-formed usbredirfilter string
 *   (with filter_token_sep and filter_rule_sep);
 * - URG_ERR_IO: the pcap_path capture cannot be created or written;
 * - URG_ERR_NOMEM: the allocator failed.
 */
URG_API int urg_hcd_dev_new(const struct urg_hcd_config *cfg, urg_hcd_dev **out);
/** Completes every URB with URG_URB_NODEV, closes the capture, frees.
 *  A NULL dev is ignored. */
URG_API void urg_hcd_dev_free(urg_hcd_dev *dev);

/**
 * A connection to a usb-host is up: creates its session (our hello is
 * queued) and returns it in *session. The caller moves its bytes with
 * urg_session_recv() / urg_session_output() / urg_session_consume(); the
 * device owns and frees it. session may be NULL (urg_hcd_dev_session()
 * gives it too). Returns 0, or:
 * - URG_ERR_INVALID: dev NULL, or urg_session_new() refused the engine
 *   options of the device's config (cfg->session): a caps bit outside
 *   URG_CAPS_ALL, bulk_streams without ep_info_max_packet_size, a bad
 *   policy, a max_packet_size from 1 to 1023, a pending_hint over 2^29;
 * - URG_ERR_STATE: a connection is already up;
 * - URG_ERR_NOMEM: the allocator failed.
 */
URG_API int urg_hcd_dev_connect(urg_hcd_dev *dev, urg_session **session);
/**
 * The connection is gone (EOF, error, the caller closed it): every URB
 * completes with URG_URB_NODEV, the device detaches, the session is freed.
 * reason is recorded in the log (0 for a normal close). Nothing happens
 * if dev is NULL or has no connection.
 */
URG_API void urg_hcd_dev_disconnect(urg_hcd_dev *dev, int reason);
/** The current session, or NULL (no connection, or dev NULL). */
URG_API urg_session *urg_hcd_dev_session(const urg_hcd_dev *dev);
/** The attached device, or NULL (none attached, or dev NULL). Valid until
 *  the next call into the model. */
URG_API const struct urg_hcd_device *urg_hcd_dev_info(const urg_hcd_dev *dev);
/** The VMM finished unplugging after the detach callback. Nothing happens
 *  if dev is NULL or not detaching. */
URG_API void urg_hcd_detach_done(urg_hcd_dev *dev);

/**
 * Submits a URB to the attached device. Returns 0 (it completes later,
 * through urb_complete, exactly once), 1 (it completed now: status and
 * actual_length are set and there is no callback), or a negative error
 * (refused: no completion, the URB is the VMM's again):
 * - URG_ERR_INVALID: dev or urb NULL, a length with no buffer, segments
 *   that urg_iov_check() refuses for length, both a buffer and segments, a
 *   type that is not URG_EP_CONTROL, _ISO, _BULK or _INTERRUPT; control:
 *   wLength over length; iso: no descriptors, a packet outside the data or
 *   over 65535 bytes;
 * - URG_ERR_HCD_BUSY: the URB is already in flight;
 * - URG_ERR_NO_DEVICE: no device is attached (or it is going: a URB
 *   submitted from a completion while the device goes away);
 * - URG_ERR_HCD_ENDPOINT: the device has no endpoint of the URB's type at
 *   its address (the type or the direction differs); iso: the endpoint's
 *   bInterval is outside 1..16, or the port is low speed;
 * - URG_ERR_TOO_LONG: bulk over 65535 bytes without 32bits_bulk_length, or
 *   over URG_MAX_BULK_LENGTH; interrupt OUT over 65535 bytes;
 * - URG_ERR_NO_CAP: a stream_id without the bulk_streams cap;
 * - URG_ERR_AGAIN: the engine's output queue would pass max_output_bytes
 *   (try again once output was written);
 * - URG_ERR_NOMEM: the allocator failed;
 * - URG_ERR_FAILED: the connection's session failed or was aborted (a URB
 *   submitted from a completion while the connection ends);
 * - URG_ERR_PROTO_BULK_LENGTH: buffered bulk receiving with a
 *   buffered_bulk_bytes (rounded up to max packet) over
 *   URG_MAX_BULK_LENGTH.
 *
 * Control transfers on endpoint 0 are intercepted: SET_ADDRESS is handled
 * here; SET/GET_CONFIGURATION and SET/GET_INTERFACE become the protocol's
 * own requests (streams of the affected endpoints are stopped first);
 * CLEAR_FEATURE(ENDPOINT_HALT) also resets the model's endpoint state.
 *
 * A bulk IN URB whose length is 0 or not a multiple of max packet turns
 * buffered receiving off for its endpoint (as QEMU does), even when it is
 * then refused: the URBs that waited for buffered data complete cancelled,
 * in their turn; from inside this call if it refuses the URB.
 */
URG_API int urg_hcd_submit(urg_hcd_dev *dev, struct urg_urb *urb);
/**
 * Cancels a URB in flight: it completes now, through urb_complete, with
 * URG_URB_CANCELLED (or with its result, if that had arrived and it was only
 * waiting for an earlier URB). Its buffer is the VMM's again when this
 * returns; a late reply from the host is dropped. Returns 0, or:
 * - URG_ERR_INVALID: dev or urb NULL;
 * - URG_ERR_NOT_FOUND: the URB is not in flight on dev.
 */
URG_API int urg_hcd_cancel(urg_hcd_dev *dev, struct urg_urb *urb);
/** The controller stopped an endpoint: its URBs complete (cancelled) and
 *  its stream (interrupt receiving, iso, buffered bulk) stops. Returns 0,
 *  or:
 *  - URG_ERR_INVALID: dev NULL. */
URG_API int urg_hcd_ep_stop(urg_hcd_dev *dev, uint8_t endpoint);
/** Resets the model's state of an endpoint (a halt cleared by the
 *  controller): a reported stall is forgotten, the stream restarts with the
 *  next URB, queued data is dropped. Returns 0, or:
 *  - URG_ERR_INVALID: dev NULL. */
URG_API int urg_hcd_ep_reset(urg_hcd_dev *dev, uint8_t endpoint);
/** Resets the device: every URB completes (cancelled), streams stop, the
 *  host resets the device. Returns 0, or:
 *  - URG_ERR_INVALID: dev NULL;
 *  - URG_ERR_NO_DEVICE: no device is attached (or it is going: called from
 *    a completion while the device goes away);
 *  - URG_ERR_AGAIN: the engine's output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed;
 *  - URG_ERR_FAILED: the connection's session failed (called from a
 *    completion while the connection ends).
 *  Without a device attached nothing is done; in the other cases the reset
 *  was not sent, but the URBs have completed and the streams stopped all
 *  the same. */
URG_API int urg_hcd_reset(urg_hcd_dev *dev);
/** Turns buffered bulk receiving on or off for a bulk IN endpoint
 *  (needs the bulk_receiving cap to take effect). Its data is taken as
 *  plain bytes, or as FTDI packets where the model's tables or the
 *  config's serial callback made it an FTDI port's. Returns 0, or:
 *  - URG_ERR_INVALID: dev NULL, or an OUT endpoint;
 *  - URG_ERR_HCD_ENDPOINT: the endpoint table has no bulk endpoint there
 *    (nor any endpoint before a device is attached). */
URG_API int urg_hcd_ep_set_buffered(urg_hcd_dev *dev, uint8_t endpoint, int enable);
/** Allocates bulk streams on the endpoints of a mask of urg_ep_index()
 *  bits; the host's answer comes through streams_done with op. Returns 0,
 *  or:
 *  - URG_ERR_INVALID: dev NULL;
 *  - URG_ERR_NO_DEVICE: no device is attached;
 *  - URG_ERR_NO_CAP: no bulk_streams cap;
 *  - URG_ERR_AGAIN: the engine's output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed;
 *  - URG_ERR_FAILED: the connection's session failed (called from a
 *    completion while the connection ends). */
URG_API int urg_hcd_alloc_streams(urg_hcd_dev *dev, uint32_t endpoints, uint32_t no_streams,
                                  void *op);
/** Frees the bulk streams of the endpoints of a mask of urg_ep_index()
 *  bits; the host's answer comes through streams_done with op. Returns 0,
 *  or:
 *  - URG_ERR_INVALID: dev NULL;
 *  - URG_ERR_NO_DEVICE: no device is attached;
 *  - URG_ERR_NO_CAP: no bulk_streams cap;
 *  - URG_ERR_AGAIN: the engine's output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed;
 *  - URG_ERR_FAILED: the connection's session failed (called from a
 *    completion while the connection ends). */
URG_API int urg_hcd_free_streams(urg_hcd_dev *dev, uint32_t endpoints, void *op);
/**
 * The frame clock of an iso endpoint, for a controller that paces its iso
 * URBs ("Iso timing" in docs/vmm-guide.md; the model itself completes them
 * at once): the frames the endpoint's next URB of n_packets takes. One
 * packet per period, the period 2^(bInterval-1) frames of 1 ms at full
 * speed or microframes of 125 us at high and SuperSpeed (the speed the
 * device is shown at); the frames start where the endpoint's last ones
 * ended, or at now if those ended already (a gap). now, *start and *end
 * are seconds on the VMM's own monotonic clock, the same for every call.
 * *end is when the URB's frames are over: complete an OUT URB no earlier,
 * and submit an IN URB to the model then, so that it carries what the
 * device sent during them. *start_frame (may be NULL) is the 1 ms frame
 * number of *start, 11 bits (USB/IP's and USB's SOF frame number). The
 * endpoint's clock moves to *end; it starts afresh on a new device, a
 * reset of the device or of the endpoint, and a new configuration or
 * alternate setting. Returns 0, or:
 *  - URG_ERR_INVALID: dev, start or end NULL, or n_packets 0;
 *  - URG_ERR_NO_DEVICE: no device is attached;
 *  - URG_ERR_HCD_ENDPOINT: endpoint is not an iso endpoint of the device.
 */
URG_API int urg_hcd_iso_frames(urg_hcd_dev *dev, uint8_t endpoint, uint32_t n_packets, double now,
                               double *start, double *end, uint32_t *start_frame);
/** Counters of an endpoint. Returns 0, or:
 *  - URG_ERR_INVALID: dev or out NULL. */
URG_API int urg_hcd_ep_stats(const urg_hcd_dev *dev, uint8_t endpoint,
                             struct urg_hcd_ep_stats *out);

/* ---------------------------------------------------------------- threads */

/**
 * A thread-safe command queue in front of one device, for a VMM that
 * submits from its vCPU threads and runs its I/O on another (the loop's
 * thread, which owns the device). docs/vmm-guide.md, "Threads", gives the
 * call sequence.
 *
 * Which thread calls what:
 * - any thread: urg_hcd_queue_submit(), urg_hcd_queue_cancel(),
 *   urg_hcd_queue_reap(), urg_hcd_queue_error();
 * - the loop's thread (the one that moves the device's bytes and calls
 *   every other function of this file): urg_hcd_queue_new(),
 *   urg_hcd_queue_run(), urg_hcd_queue_free().
 *
 * Submissions and cancels are commands in one FIFO, taken in order by
 * urg_hcd_queue_run() on the loop's thread into urg_hcd_submit() and
 * urg_hcd_cancel(). Each URB submitted through the queue comes back
 * exactly once - through the device's urb_complete on the loop's thread
 * (URG_HCD_QUEUE_CALLBACK), or into a completion queue any thread reaps
 * (URG_HCD_QUEUE_REAP) - including a URB the model completes at once
 * (urg_hcd_submit() returning 1), one it refuses, and one cancelled
 * before its submission ran. Its status is then, beside the model's:
 * - URG_URB_REFUSED: urg_hcd_submit() refused it (urg_hcd_queue_error()
 *   gives the error: its list in urg_hcd_submit()'s comment);
 * - URG_URB_NODEV: refused with URG_ERR_NO_DEVICE (no device attached,
 *   the same as a URB in flight when the device went);
 * - URG_URB_CANCELLED: cancelled while its submission waited in the FIFO
 *   (it was never submitted).
 *
 * The rules:
 * - A URB is the queue's from urg_hcd_queue_submit() returning 0 until its
 *   completion is given to the VMM (the urb_complete call; or
 *   urg_hcd_queue_reap() returning it). Meanwhile the VMM does not touch
 *   its fields or its buffer, nor free it; after, it may submit it again.
 * - Cancel by pointer applies to the URB's current submission: it is a
 *   no-op if that completes first. A cancel of a URB whose submission
 *   still waits completes it cancelled without submitting it; a cancel of
 *   a URB in flight runs urg_hcd_cancel() in its turn in the FIFO.
 * - All of the device's URBs go through the queue while it exists (no
 *   urg_hcd_submit() or urg_hcd_cancel() beside it). The loop's thread
 *   may still call the device's other functions (urg_hcd_ep_stop(),
 *   urg_hcd_reset(), urg_hcd_dev_disconnect(), ...): the URBs they
 *   complete come back through the queue the same way.
 * - Memory: no allocation per command. The FIFO holds at most two
 *   commands per URB (its submission and one cancel) and the completion
 *   queue each URB at most once, all inside the URBs: the queue is bounded
 *   by the URBs the VMM allocated.
 */
typedef struct urg_hcd_queue urg_hcd_queue;

/** Where a queue's completions go (urg_hcd_queue_config.completion). */
enum urg_hcd_queue_completion {
    URG_HCD_QUEUE_CALLBACK = 0, /* the device's urb_complete, on the loop's
                                   thread (from inside urg_hcd_queue_run()
                                   and every call that completes URBs today) */
    URG_HCD_QUEUE_REAP = 1      /* a completion queue: urg_hcd_queue_reap()
                                   from any thread; the device's urb_complete
                                   is not called while the queue exists */
};

struct urg_hcd_queue_config {
    size_t size;                /* set by urg_hcd_queue_config_init() */
    int completion;             /* enum urg_hcd_queue_completion (CALLBACK) */
    /* The FIFO went from empty to non-empty: make the loop's thread call
     * urg_hcd_queue_run() (an eventfd, ev_async_send(), ...). Called on
     * the thread that submitted or cancelled, outside the queue's lock,
     * once per such change however many commands follow (coalesced); it
     * must not call into the queue. NULL: the VMM calls
     * urg_hcd_queue_run() on its own schedule. */
    void (*wake)(void *ud);
    /* URG_HCD_QUEUE_REAP: the completion queue went from empty to
     * non-empty. Called on the loop's thread, outside the queue's lock,
     * once per such change: reap until urg_hcd_queue_reap() returns fewer
     * than it was asked for (the queue was then empty, and the next
     * completion calls this again). It may reap itself. NULL: none. */
    void (*completed)(void *ud);
    void *user_data;            /* wake's and completed's ud */
};

/** Fills cfg with the defaults shown above, and its size (a macro: a
 *  config must start from it). A NULL cfg is ignored. */
#define urg_hcd_queue_config_init(cfg) urg_hcd_queue_config_init_size((cfg), sizeof(*(cfg)))
URG_API void urg_hcd_queue_config_init_size(struct urg_hcd_queue_config *cfg, size_t size);
/**
 * Creates the queue of dev (on the loop's thread; memory from dev's
 * allocator). dev must outlive it. Returns 0 and *out, or:
 * - URG_ERR_INVALID: dev, cfg or out NULL, cfg not made by
 *   urg_hcd_queue_config_init(), completion not an enum
 *   urg_hcd_queue_completion;
 * - URG_ERR_STATE: dev has a queue already;
 * - URG_ERR_NOMEM: the allocator failed.
 */
URG_API int urg_hcd_queue_new(urg_hcd_dev *dev, const struct urg_hcd_queue_config *cfg,
                              urg_hcd_queue **out);
/**
 * Frees the queue, on the loop's thread, once no other thread uses it;
 * before dev is freed. Every URB submitted through q completes before it
 * returns: a submission still in the FIFO completes with
 * URG_URB_CANCELLED without being made, cancels in the FIFO run, and the
 * URBs in flight are cancelled (urg_hcd_cancel()). Submissions through q
 * from those completions are refused (URG_ERR_STATE). Then the
 * completions not yet reaped (URG_HCD_QUEUE_REAP) go to the device's
 * urb_complete, oldest first, from inside this call. Not from inside
 * urg_hcd_queue_run() or a completion (from a completion that run
 * delivers, it logs an error and frees nothing). A NULL q is ignored.
 */
URG_API void urg_hcd_queue_free(urg_hcd_queue *q);
/**
 * From any thread: submits urb (as urg_hcd_submit(), in its turn). On 0
 * the URB is the queue's until its completion, which comes exactly once
 * (the rules above). Returns 0, or:
 * - URG_ERR_INVALID: q or urb NULL;
 * - URG_ERR_HCD_BUSY: the URB is the queue's already (its submission
 *   waits, it is in flight, or its completion waits to be reaped);
 * - URG_ERR_STATE: the queue is being freed (a submission from a
 *   completion urg_hcd_queue_free() makes).
 */
URG_API int urg_hcd_queue_submit(urg_hcd_queue *q, struct urg_urb *urb);
/**
 * From any thread: cancels urb's current submission. If it still waits in
 * the FIFO, it will complete with URG_URB_CANCELLED, unsubmitted; if it is
 * in flight, urg_hcd_cancel() runs in the cancel's turn (a no-op if the
 * URB completed meanwhile). A second cancel before the first ran is the
 * same one. Returns 0, or:
 * - URG_ERR_INVALID: q or urb NULL;
 * - URG_ERR_NOT_FOUND: the URB is not the queue's (never submitted
 *   through it, or its completion came or waits to be reaped).
 */
URG_API int urg_hcd_queue_cancel(urg_hcd_queue *q, struct urg_urb *urb);
/**
 * On the loop's thread: runs the commands in the FIFO when it is called,
 * in order (the ones they add - a submission from a completion - wait for
 * the next call, and wake is called for them). From inside a completion
 * it runs, it runs nothing (returns 0): what was queued since waits for
 * the next call, behind the rest of this one. Returns the number of
 * commands run, or:
 * - URG_ERR_INVALID: q NULL.
 */
URG_API int urg_hcd_queue_run(urg_hcd_queue *q);
/**
 * From any thread, URG_HCD_QUEUE_REAP: takes up to max completed URBs,
 * oldest first, into out; they are the VMM's again. Returns how many, or:
 * - URG_ERR_INVALID: q NULL, out NULL with max over 0, or max over
 *   INT_MAX;
 * - URG_ERR_STATE: the queue delivers through urb_complete
 *   (URG_HCD_QUEUE_CALLBACK).
 */
URG_API int urg_hcd_queue_reap(urg_hcd_queue *q, struct urg_urb **out, size_t max);
/** Why a URB that completed through a queue with URG_URB_REFUSED or
 *  URG_URB_NODEV was refused: the error urg_hcd_submit() returned;
 *  0 for any other completion, or for urb NULL. Read it once the
 *  completion is yours (until the URB is submitted again). Returns no
 *  error code of its own. */
URG_API int urg_hcd_queue_error(const struct urg_urb *urb);

#ifdef __cplusplus
}
#endif
#endif /* URG_HCD_H */

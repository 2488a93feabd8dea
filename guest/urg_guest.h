/*
 * urg_guest.h - the usb-guest protocol engine of usbredir-guest.
 *
 * A sans-IO implementation of the usb-guest side of the usbredir protocol,
 * version 0.7: bytes in (urg_session_recv), bytes out (urg_session_output),
 * callbacks for everything the usb-host says. No sockets, no event loop, no
 * threads. The installed headers are this one, urg_hcd.h (the controller
 * model), and urg_transport.h, urg_capture.h and urg_hcd_transport.h (the
 * transport library). The wire codec in either role (urg_encode,
 * urg_decoder with URG_ROLE_HOST) is the project's own: guest/urg_codec.h,
 * not installed.
 *
 * Conventions
 *  - Every function that can fail returns 0 (or a count) on success and a
 *    negative URG_ERR_* code on failure; urg_strerror() names each code.
 *  - Objects are opaque and created by *_new(), destroyed by *_free().
 *  - Nothing here is thread-safe. A session must be used by one
 *    thread at a time; different sessions are independent.
 *  - Integers on the wire are little-endian whatever the machine.
 *
 * docs/engine.md is the guide: ownership of every buffer, what a callback
 * may call, the error policy, and the caps handled.
 */
#ifndef URG_GUEST_H
#define URG_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define URG_API __attribute__((visibility("default")))
#else
#define URG_API
#endif

#define URG_VERSION_MAJOR 0
#define URG_VERSION_MINOR 1
#define URG_VERSION_PATCH 0
#define URG_VERSION_STRING "0.1.0"

/** The library's version string, e.g. "0.1.0". */
URG_API const char *urg_version(void);

/* ======================================================================
 * Errors
 * ====================================================================== */

enum urg_error {
    URG_OK = 0,
    /* Errors of an API call. */
    URG_ERR_INVALID = -1,        /* an argument is out of range */
    URG_ERR_NOMEM = -2,          /* the allocator failed */
    URG_ERR_STATE = -3,          /* not allowed in the session's state */
    URG_ERR_NO_DEVICE = -4,      /* no device is connected */
    URG_ERR_NOT_FOUND = -5,      /* no pending request has that id */
    URG_ERR_NO_CAP = -6,         /* needs a capability not negotiated */
    URG_ERR_TOO_LONG = -7,       /* a length is over the protocol limit */
    URG_ERR_AGAIN = -8,          /* output queue is over its bound */
    URG_ERR_BUSY = -9,           /* not callable from inside a callback */
    URG_ERR_FAILED = -10,        /* the session failed or was aborted */
    URG_ERR_NOT_CANCELLABLE = -11, /* only data packets can be cancelled */
    URG_ERR_FILTER_SYNTAX = -12, /* a usbredirfilter string is malformed */
    URG_ERR_FILTER_DENIED = -13, /* a filter rule denies the device */
    URG_ERR_FILTER_NO_MATCH = -14, /* no filter rule matches the device */
    URG_ERR_BUFFER = -15,        /* the caller's buffer is too small */

    /* Errors in what the peer sent (validation of received packets): -100
     * to -199, urg_error_is_protocol(). */
    URG_ERR_PROTO_TYPE = -100,          /* unknown packet type */
    URG_ERR_PROTO_DIRECTION = -101,     /* type not allowed in this direction */
    URG_ERR_PROTO_BEFORE_HELLO = -102,  /* a packet before the peer's hello */
    URG_ERR_PROTO_SECOND_HELLO = -103,  /* a second hello */
    URG_ERR_PROTO_PACKET_SIZE = -104,   /* header.length over the maximum */
    URG_ERR_PROTO_HEADER_LENGTH = -105, /* header.length < type header */
    URG_ERR_PROTO_UNEXPECTED_DATA = -106, /* data where none is allowed */
    URG_ERR_PROTO_DATA_LENGTH = -107,   /* data length != length field */
    URG_ERR_PROTO_NOT_IN_EP = -108,     /* endpoint must be an IN endpoint */
    URG_ERR_PROTO_EP_DIRECTION = -109,  /* iso/interrupt/buffered bulk packet
                                           in the wrong direction for its ep */
    URG_ERR_PROTO_INTERFACE_COUNT = -110, /* interface_count > 32 */
    URG_ERR_PROTO_FILTER = -111,        /* bad filter_filter string */
    URG_ERR_PROTO_CAP = -112,           /* packet needs a cap not negotiated */
    URG_ERR_PROTO_CAPS = -113,          /* bulk_streams without
                                           ep_info_max_packet_size */
    URG_ERR_PROTO_BULK_LENGTH = -114,   /* bulk length over 128 MiB */
    URG_ERR_PROTO_HELLO = -115,         /* malformed hello */
    URG_ERR_PROTO_REPLY_TYPE = -116,    /* reply type != request type */
    URG_ERR_PROTO_REPLY_ENDPOINT = -117, /* reply endpoint != request's */
    URG_ERR_PROTO_REPLY_LENGTH = -118,  /* reply longer than requested */
    URG_ERR_PROTO_FIELD = -119,         /* a field value out of range */
    URG_ERR_PROTO_STATE = -120,         /* packet not valid in this state */
    URG_ERR_PROTO_CALLBACK = -121,      /* a decoder callback refused it */
    URG_ERR_PROTO_STREAM_LENGTH = -122, /* stream data longer than the
                                           stream's transfers (max packet
                                           size, bytes_per_transfer) */
    URG_ERR_PROTO_FLOOD = -123,         /* the host made the engine owe it
                                           more answers than the output
                                           bound holds, while not reading */

    /* Errors of the controller model (urg_hcd.h): -200 to -299. */
    URG_ERR_HCD_SPEED = -200,    /* no port speed can carry the device */
    URG_ERR_HCD_ENDPOINT = -201, /* the URB does not fit the endpoint */
    URG_ERR_HCD_BUSY = -202,     /* the URB is already in flight */
    URG_ERR_HCD_INTERVAL = -203, /* a periodic endpoint has bInterval 0 */

    /* Errors of the transport, captures and replay (urg_transport.h,
     * urg_capture.h): -300 to -399. */
    URG_ERR_ADDRESS = -300,     /* a malformed address */
    URG_ERR_RESOLVE = -301,     /* the host name does not resolve */
    URG_ERR_CONNECT = -302,     /* connect, bind or listen failed */
    URG_ERR_IO = -303,          /* read or write failed */
    URG_ERR_EOF = -304,         /* the peer closed the connection */
    URG_ERR_CAPTURE = -305,     /* a capture file cannot be read or written */
    URG_ERR_PCAP = -306,        /* a pcap file cannot be read or used */
    URG_ERR_TCP_GAP = -307,     /* the captured TCP stream has a gap */
    URG_ERR_DIVERGED = -308,    /* the guest did not do what the capture did */
    URG_ERR_STALLED = -309      /* the host took no byte for stall_timeout
                                   while output waited */
};

/** A fixed English sentence for an error code of any layer, the engine's,
 *  the controller model's or the transport's ("unknown error" if none). */
URG_API const char *urg_strerror(int err);
/** The enumerator's name for an error code, e.g. "URG_ERR_NOMEM";
 *  "URG_ERR_UNKNOWN" for a code that is none. */
URG_API const char *urg_error_name(int err);
/** 1 if err is a URG_ERR_PROTO_* code (-100 to -199): the peer broke the
 *  protocol - a broken or hostile usb-host, not the application, the
 *  system or the connection. Else 0. Returns no error code. */
URG_API int urg_error_is_protocol(int err);

/* ======================================================================
 * Protocol constants (usbredir 0.7)
 * ====================================================================== */

enum urg_packet_type {
    URG_HELLO = 0,
    URG_DEVICE_CONNECT = 1,
    URG_DEVICE_DISCONNECT = 2,
    URG_RESET = 3,
    URG_INTERFACE_INFO = 4,
    URG_EP_INFO = 5,
    URG_SET_CONFIGURATION = 6,
    URG_GET_CONFIGURATION = 7,
    URG_CONFIGURATION_STATUS = 8,
    URG_SET_ALT_SETTING = 9,
    URG_GET_ALT_SETTING = 10,
    URG_ALT_SETTING_STATUS = 11,
    URG_START_ISO_STREAM = 12,
    URG_STOP_ISO_STREAM = 13,
    URG_ISO_STREAM_STATUS = 14,
    URG_START_INTERRUPT_RECEIVING = 15,
    URG_STOP_INTERRUPT_RECEIVING = 16,
    URG_INTERRUPT_RECEIVING_STATUS = 17,
    URG_ALLOC_BULK_STREAMS = 18,
    URG_FREE_BULK_STREAMS = 19,
    URG_BULK_STREAMS_STATUS = 20,
    URG_CANCEL_DATA_PACKET = 21,
    URG_FILTER_REJECT = 22,
    URG_FILTER_FILTER = 23,
    URG_DEVICE_DISCONNECT_ACK = 24,
    URG_START_BULK_RECEIVING = 25,
    URG_STOP_BULK_RECEIVING = 26,
    URG_BULK_RECEIVING_STATUS = 27,
    URG_CONTROL_PACKET = 100,
    URG_BULK_PACKET = 101,
    URG_ISO_PACKET = 102,
    URG_INTERRUPT_PACKET = 103,
    URG_BUFFERED_BULK_PACKET = 104
};

/** Number of packet types; urg_type_index() maps a type to 0..32. */
#define URG_TYPE_COUNT 33

/** Dense index 0..URG_TYPE_COUNT-1 of a packet type, or -1 if unknown.
 *  Returns no error code (-1 is not URG_ERR_INVALID). */
URG_API int urg_type_index(uint32_t type);
/** The packet type at a dense index (inverse of urg_type_index);
 *  UINT32_MAX for an index outside 0..URG_TYPE_COUNT-1. */
URG_API uint32_t urg_type_at(int index);
/** The protocol's name for a type, e.g. "bulk_packet"; "unknown" if none. */
URG_API const char *urg_type_name(uint32_t type);

/** Capability bit numbers; a caps mask has bit (1u << cap) set. */
enum urg_cap {
    URG_CAP_BULK_STREAMS = 0,
    URG_CAP_CONNECT_DEVICE_VERSION = 1,
    URG_CAP_FILTER = 2,
    URG_CAP_DEVICE_DISCONNECT_ACK = 3,
    URG_CAP_EP_INFO_MAX_PACKET_SIZE = 4,
    URG_CAP_64BITS_IDS = 5,
    URG_CAP_32BITS_BULK_LENGTH = 6,
    URG_CAP_BULK_RECEIVING = 7
};
#define URG_CAP_BIT(cap) (1u << (cap))
#define URG_CAPS_ALL 0xffu
/** The protocol's name for a cap, e.g. "64bits_ids"; "unknown" for a
 *  number outside 0..7. */
URG_API const char *urg_cap_name(int cap);

/**
 * Statuses. 0..6 are the wire's status codes; any other wire value is
 * passed through unchanged and is an error. URG_STATUS_NODEV is local: the
 * request ended because the device went away (device_disconnect), or the
 * session failed, was aborted or freed, before the host answered.
 */
enum urg_status {
    URG_STATUS_SUCCESS = 0,
    URG_STATUS_CANCELLED = 1,
    URG_STATUS_INVAL = 2,
    URG_STATUS_IOERROR = 3,
    URG_STATUS_STALL = 4,
    URG_STATUS_TIMEOUT = 5,
    URG_STATUS_BABBLE = 6,
    URG_STATUS_NODEV = 0x100
};
/** Name of a status, e.g. "stall"; "unknown" for other wire values. */
URG_API const char *urg_status_name(int status);

enum urg_speed {
    URG_SPEED_LOW = 0,
    URG_SPEED_FULL = 1,
    URG_SPEED_HIGH = 2,
    URG_SPEED_SUPER = 3,
    URG_SPEED_UNKNOWN = 255
};
/** The name of a speed, e.g. "high"; "unknown" for any other value. */
URG_API const char *urg_speed_name(int speed);

enum urg_ep_type {
    URG_EP_CONTROL = 0,
    URG_EP_ISO = 1,
    URG_EP_BULK = 2,
    URG_EP_INTERRUPT = 3,
    URG_EP_INVALID = 255
};
/** The name of an endpoint type, e.g. "bulk" ("invalid" for
 *  URG_EP_INVALID); "unknown" for any other value. */
URG_API const char *urg_ep_type_name(int type);

/** Endpoint address to its index in ep_info and in stream bitmasks:
 *  OUT endpoints 0-15 are 0-15, IN endpoints 0x80-0x8f are 16-31. */
static inline int urg_ep_index(uint8_t ep) { return ((ep & 0x80) >> 3) | (ep & 0x0f); }
/** Index 0..31 back to an endpoint address. */
static inline uint8_t urg_ep_address(int index)
{
    return (uint8_t)(((index & 0x10) << 3) | (index & 0x0f));
}

/** Protocol limits of libusbredirparser, kept by this engine. */
#define URG_MAX_BULK_LENGTH (128u * 1024u * 1024u)
#define URG_DEFAULT_MAX_PACKET_SIZE (URG_MAX_BULK_LENGTH + 1024u)
/** Limits of this engine on packets without a request to bound them. */
#define URG_MAX_HELLO_CAPS_WORDS 256u
#define URG_MAX_FILTER_LENGTH 65536u

/* ======================================================================
 * Memory and logging
 * ====================================================================== */

/**
 * Copies len bytes of text from a peer or a file into buf, safe for a
 * terminal or a log: C0 controls (but those listed in keep, e.g. "\n\t",
 * or NULL for none), DEL, C1 controls (U+0080..U+009F) and every byte that
 * is not part of well-formed UTF-8 (overlong forms, surrogates, values over
 * U+10FFFF, cut sequences) become the four characters \xNN; everything
 * else is copied. A NUL byte is a control like the others. Always
 * NUL-terminates buf when cap > 0 and never cuts an escape or a character
 * in two. Returns the length the whole result needs (snprintf semantics):
 * at most 4 * len; buf may be NULL when cap is 0. text may be NULL only
 * when len is 0.
 */
URG_API size_t urg_escape(const void *text, size_t len, const char *keep, char *buf, size_t cap);
/**
 * The unit of text at text[0..n) (n >= 1) as urg_escape() sees it: 1-4,
 * the length of a character it copies (or a control listed in keep); 0, a
 * byte it escapes; -1, the well-formed start of a character cut short by
 * the end of the buffer (more bytes could complete it; urg_escape()
 * escapes it). For text that arrives in pieces: hold back a cut character
 * and escape it with the next piece. Returns no error code (-1 is not
 * URG_ERR_INVALID).
 */
URG_API int urg_escape_unit(const void *text, size_t n, const char *keep);

/** A replaceable allocator. All three functions are required; ctx is passed
 *  back unchanged. realloc(NULL, n) must behave as malloc(n). */
struct urg_allocator {
    void *(*malloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
};

/** The allocator used when none is given (libc malloc/realloc/free). */
URG_API const struct urg_allocator *urg_allocator_default(void);

enum urg_log_level {
    URG_LOG_ERROR = 0,
    URG_LOG_WARNING = 1,
    URG_LOG_INFO = 2,
    URG_LOG_DEBUG = 3
};

/* ======================================================================
 * Packets: what captures decode to (urg_capture.h)
 * ====================================================================== */

/* The project's wire codec, which encodes and decodes these in either role
 * (urg_encode, urg_decode, urg_decoder), is guest/urg_codec.h: for its
 * tests, test peers, replay, dump and benchmarks. It is not installed. */

/** Direction a packet travels. */
enum urg_dir { URG_DIR_TO_HOST = 0, URG_DIR_TO_GUEST = 1 };

struct urg_hello {
    char version[64];           /* always NUL-terminated after decode */
    uint32_t caps[8];           /* first 8 caps words */
    uint32_t caps_words;        /* words present on the wire (may be > 8) */
};
struct urg_device_connect {
    uint8_t speed, device_class, device_subclass, device_protocol;
    uint16_t vendor_id, product_id;
    uint16_t device_version_bcd; /* only with connect_device_version */
};
struct urg_interface_info {
    uint32_t interface_count;
    uint8_t interface[32], interface_class[32], interface_subclass[32],
        interface_protocol[32];
};
struct urg_ep_info {
    uint8_t type[32], interval[32], interface[32];
    uint16_t max_packet_size[32]; /* only with ep_info_max_packet_size */
    uint32_t max_streams[32];     /* only with bulk_streams */
};
struct urg_set_configuration { uint8_t configuration; };
struct urg_configuration_status { uint8_t status, configuration; };
struct urg_set_alt_setting { uint8_t interface, alt; };
struct urg_get_alt_setting { uint8_t interface; };
struct urg_alt_setting_status { uint8_t status, interface, alt; };
struct urg_start_iso_stream { uint8_t endpoint, pkts_per_urb, no_urbs; };
struct urg_stop_iso_stream { uint8_t endpoint; };
struct urg_iso_stream_status { uint8_t status, endpoint; };
struct urg_start_interrupt_receiving { uint8_t endpoint; };
struct urg_stop_interrupt_receiving { uint8_t endpoint; };
struct urg_interrupt_receiving_status { uint8_t status, endpoint; };
struct urg_alloc_bulk_streams { uint32_t endpoints, no_streams; };
struct urg_free_bulk_streams { uint32_t endpoints; };
struct urg_bulk_streams_status { uint32_t endpoints, no_streams; uint8_t status; };
struct urg_start_bulk_receiving {
    uint32_t stream_id, bytes_per_transfer;
    uint8_t endpoint, no_transfers;
};
struct urg_stop_bulk_receiving { uint32_t stream_id; uint8_t endpoint; };
struct urg_bulk_receiving_status { uint32_t stream_id; uint8_t endpoint, status; };
struct urg_control_packet {
    uint8_t endpoint, request, requesttype, status;
    uint16_t value, index, length;
};
struct urg_bulk_packet {
    uint8_t endpoint, status;
    uint32_t length;            /* length | length_high << 16 */
    uint32_t stream_id;
};
struct urg_iso_packet { uint8_t endpoint, status; uint16_t length; };
struct urg_interrupt_packet { uint8_t endpoint, status; uint16_t length; };
struct urg_buffered_bulk_packet {
    uint32_t stream_id, length;
    uint8_t endpoint, status;
};

/** One packet, decoded. data points at the payload (data packets and
 *  filter_filter, whose string includes its NUL); for a hello it points at
 *  the raw caps words. Decoders point data into the caller's buffer, a
 *  request's destination buffer or the decoder's own buffer; it is valid
 *  only during the callback that receives the packet. */
struct urg_packet {
    uint32_t type;
    uint64_t id;
    union {
        struct urg_hello hello;
        struct urg_device_connect device_connect;
        struct urg_interface_info interface_info;
        struct urg_ep_info ep_info;
        struct urg_set_configuration set_configuration;
        struct urg_configuration_status configuration_status;
        struct urg_set_alt_setting set_alt_setting;
        struct urg_get_alt_setting get_alt_setting;
        struct urg_alt_setting_status alt_setting_status;
        struct urg_start_iso_stream start_iso_stream;
        struct urg_stop_iso_stream stop_iso_stream;
        struct urg_iso_stream_status iso_stream_status;
        struct urg_start_interrupt_receiving start_interrupt_receiving;
        struct urg_stop_interrupt_receiving stop_interrupt_receiving;
        struct urg_interrupt_receiving_status interrupt_receiving_status;
        struct urg_alloc_bulk_streams alloc_bulk_streams;
        struct urg_free_bulk_streams free_bulk_streams;
        struct urg_bulk_streams_status bulk_streams_status;
        struct urg_start_bulk_receiving start_bulk_receiving;
        struct urg_stop_bulk_receiving stop_bulk_receiving;
        struct urg_bulk_receiving_status bulk_receiving_status;
        struct urg_control_packet control;
        struct urg_bulk_packet bulk;
        struct urg_iso_packet iso;
        struct urg_interrupt_packet interrupt;
        struct urg_buffered_bulk_packet buffered_bulk;
    } h;
    const uint8_t *data;
    uint32_t data_len;
};

/* ======================================================================
 * usbredirfilter rules
 * ====================================================================== */

/** One rule: -1 in a field matches any value. */
struct urg_filter_rule {
    int device_class;       /* -1 or 0..255 */
    int vendor_id;          /* -1 or 0..0xffff */
    int product_id;         /* -1 or 0..0xffff */
    int device_version_bcd; /* -1 or 0..0xffff */
    int allow;              /* any value: 0 denies, anything else allows
                               (as usbredirfilter; formatted as 1) */
};

/** The protocol's separators of the string form (filter_filter packets,
 *  urg_filter_parse(), urg_filter_format(), a config's NULL separators). */
#define URG_FILTER_TOKEN_SEP ","
#define URG_FILTER_RULE_SEP "|"

enum urg_filter_flags {
    URG_FILTER_DEFAULT_ALLOW = 1,       /* no matching rule: allow */
    URG_FILTER_DONT_SKIP_NON_BOOT_HID = 2 /* check non-boot HID interfaces */
};

/**
 * Parses the usbredirfilter string form exactly as libusbredirparser's
 * usbredirfilter_string_to_rules(str, token_sep, rule_sep, ...) does:
 * rules "class,vendor,product,version,allow" split at any character of
 * rule_sep, then at any character of token_sep (separator sets, as
 * strtok_r() takes them: runs of separators and leading or trailing ones
 * make no empty rule or token; a character in both sets separates rules).
 * Each rule has exactly five tokens, each a whole strtol(token, &end, 0)
 * in the C locale stored into an int: leading spaces (" \t\n\v\f\r"), a
 * sign, 0x hex, a leading 0 for octal; values past a long saturate and are
 * then truncated to int, as the reference's assignment does. Each rule
 * must then pass urg_filter_verify(); allow may be any int. QEMU's
 * usb-redir filter property is urg_filter_parse_sep(str, ":", "|", ...).
 * Writes at most max rules to rules (may be NULL to count) and the number
 * of rules to *count. Returns 0, or:
 * - URG_ERR_INVALID: str, token_sep, rule_sep or count NULL, or token_sep
 *   or rule_sep empty (*count then 0, if count is not NULL);
 * - URG_ERR_FILTER_SYNTAX: a malformed string (*count then holds the
 *   0-based index of the bad rule);
 * - URG_ERR_BUFFER: rules not NULL and more than max rules (the first max
 *   are written, *count is the whole number).
 */
URG_API int urg_filter_parse_sep(const char *str, const char *token_sep, const char *rule_sep,
                                 struct urg_filter_rule *rules, size_t max, size_t *count);
/**
 * urg_filter_parse_sep(str, ",", "|", rules, max, count): the separators
 * of the protocol's filter_filter packet. Returns 0, or:
 * - URG_ERR_INVALID: str or count NULL;
 * - URG_ERR_FILTER_SYNTAX: a malformed string (*count then holds the
 *   0-based index of the bad rule);
 * - URG_ERR_BUFFER: rules not NULL and more than max rules (the first max
 *   are written, *count is the whole number).
 */
URG_API int urg_filter_parse(const char *str, struct urg_filter_rule *rules, size_t max,
                             size_t *count);
/** Formats rules as usbredirfilter_rules_to_string(rules, count, token_sep,
 *  rule_sep) does: "0x03,-1,-1,-1,1|..." with the first character of
 *  token_sep between values and the first of rule_sep between rules; -1
 *  as "-1", the class as 0x%02x, the others as 0x%04x, allow as 1 or 0.
 *  Writes into buf (cap bytes, always NUL-terminated when cap > 0; buf may
 *  be NULL when cap is 0). Returns the string's length, which is >= cap if
 *  it did not fit, or:
 *  - URG_ERR_INVALID: a rule out of range (as urg_filter_verify()), rules
 *    NULL with count > 0, buf NULL with cap > 0, token_sep or rule_sep
 *    NULL or empty, or a length over INT_MAX. */
URG_API int urg_filter_format_sep(const struct urg_filter_rule *rules, size_t count,
                                  const char *token_sep, const char *rule_sep, char *buf,
                                  size_t cap);
/** urg_filter_format_sep(rules, count, ",", "|", buf, cap). Returns the
 *  string's length (>= cap if it did not fit), or:
 *  - URG_ERR_INVALID: a rule out of range (as urg_filter_verify()), rules
 *    NULL with count > 0, buf NULL with cap > 0, or a length over
 *    INT_MAX. */
URG_API int urg_filter_format(const struct urg_filter_rule *rules, size_t count, char *buf,
                              size_t cap);
/** Checks that every field of every rule is in range, as
 *  usbredirfilter_verify(): allow is not looked at. Returns 0, or:
 *  - URG_ERR_INVALID: a field out of range (class over 255, an id or
 *    version over 0xffff, a value under -1), or rules NULL with
 *    count > 0. */
URG_API int urg_filter_verify(const struct urg_filter_rule *rules, size_t count);

struct urg_device; /* below */
/**
 * Checks a device against rules as usbredirfilter does: the device class
 * (unless 0x00 or 0xef) and then each interface class must be allowed by the
 * first rule that matches it (class, vendor, product, version). Non-boot HID
 * interfaces are skipped when there are several interfaces, unless every
 * interface is one. Returns 0 (allowed), or:
 * - URG_ERR_FILTER_DENIED: the first rule matching the device class or an
 *   interface class denies it;
 * - URG_ERR_FILTER_NO_MATCH: no rule matches one of them (and flags lack
 *   URG_FILTER_DEFAULT_ALLOW);
 * - URG_ERR_INVALID: dev NULL, or rules that urg_filter_verify() refuses.
 */
URG_API int urg_filter_check(const struct urg_filter_rule *rules, size_t count,
                             const struct urg_device *dev, unsigned flags);

/* ======================================================================
 * Session: the usb-guest engine
 * ====================================================================== */

typedef struct urg_session urg_session;

/** What a session does with a packet it must reject (urg_session_config.
 *  policy; the project's decoder, guest/urg_codec.h, takes fail and skip).
 *  docs/engine.md, "Tolerance", lists every packet the engine refuses and
 *  the reference parser accepts, with what each policy does. */
enum urg_error_policy {
    URG_POLICY_FAIL = 0, /* a bad packet fails the stream (default) */
    URG_POLICY_SKIP = 1, /* a bad packet is reported and skipped */
    /* As QEMU's usb-redir (the session only; urg_decoder_new() refuses
     * it): what the reference parser accepts and the engine's own rules
     * refuse is logged (once per session and case at URG_LOG_WARNING,
     * then URG_LOG_DEBUG) and carried on with; anything else is skipped
     * as under URG_POLICY_SKIP. The cases (docs/engine.md, "Tolerance"):
     * - ep_info with an endpoint type above 3 (and not 255, invalid):
     *   taken as sent, the type is in urg_device's ep[] as the host sent
     *   it; a VMM must refuse the device, as QEMU does (the model, with
     *   reason URG_ERR_PROTO_FIELD);
     * - control_packet whose endpoint and requesttype disagree on the
     *   direction: the endpoint's direction is taken (as the reference's
     *   data rule does); a reply still answers its request's endpoint and
     *   completes it as any other reply;
     * - a bulk_packet reply with another stream_id, an alt_setting_status
     *   for another interface than its request's: completed as the
     *   request expects (u.bulk.stream_id, u.alt.interface the request's);
     * - a hello whose caps array is not whole 32-bit words: its whole
     *   words are taken;
     * - a filter_filter string with a NUL before its end: read to its
     *   first NUL.
     * A packet that also breaks another rule is refused for that rule.
     * The error callback is not called for what is tolerated: the log is
     * its one channel. */
    URG_POLICY_TOLERATE = 2
};

/** One endpoint, from ep_info; index with urg_ep_index(). */
struct urg_endpoint {
    uint8_t type;             /* enum urg_ep_type (under URG_POLICY_TOLERATE
                                 any value the host sent) */
    uint8_t interval;         /* raw bInterval */
    uint8_t interface;
    uint16_t max_packet_size; /* 0 without ep_info_max_packet_size */
    uint32_t max_streams;     /* 0 without bulk_streams */
};

/** The device as the host described it (device_connect, interface_info,
 *  ep_info). */
struct urg_device {
    uint8_t speed;            /* enum urg_speed */
    uint8_t device_class, device_subclass, device_protocol;
    uint16_t vendor_id, product_id;
    uint16_t device_version_bcd;
    uint8_t has_device_version; /* 1 if device_version_bcd came on the wire */
    uint32_t interface_count;
    uint8_t interface[32], interface_class[32], interface_subclass[32],
        interface_protocol[32];
    struct urg_endpoint ep[32];
};

/** What a finished request reports. Valid during the callback only. */
struct urg_completion {
    uint64_t id;              /* the id the session gave the request */
    void *user_data;          /* the request call's user_data */
    uint32_t type;            /* the request's packet type */
    uint8_t endpoint;         /* endpoint address, where the type has one */
    uint8_t cancel_requested; /* 1 if urg_session_cancel() was called */
    int status;               /* enum urg_status (or an unknown wire value) */
    uint32_t length;          /* bytes transferred: IN bytes in data, or OUT
                                 bytes the device took */
    const uint8_t *data;      /* IN payload (NULL otherwise). When the request
                                 gave a destination buffer and the payload
                                 straddled recv calls, data == that buffer;
                                 when it gave segments (the _iov calls) and
                                 the payload straddled, data is NULL and the
                                 payload is in the segments; otherwise it
                                 points into the caller's recv buffer or the
                                 session's own buffer (copy it from there). */
    union {
        struct { uint8_t configuration; } config;      /* set/get_configuration */
        struct { uint8_t interface, alt; } alt;          /* set/get_alt_setting */
        struct { uint32_t endpoints, no_streams; } streams; /* alloc/free streams */
        struct { uint32_t stream_id; } bulk;            /* bulk and bulk receiving */
    } u;
};

/** Unsolicited data of a stream: interrupt IN, iso IN, buffered bulk IN.
 *  Only data for a stream of its kind that runs (or whose start is pending)
 *  on its endpoint is delivered; other data is skipped without being
 *  buffered (urg_stats.stream_discarded). Its length is at most what the
 *  guest asked for: the endpoint's max packet size from ep_info (with its
 *  high-bandwidth multiplier; 65535 without ep_info_max_packet_size) for
 *  interrupt and iso, bytes_per_transfer for buffered bulk; longer data is
 *  a protocol error (URG_ERR_PROTO_STREAM_LENGTH). */
struct urg_stream_data {
    uint32_t type;            /* URG_INTERRUPT_PACKET, URG_ISO_PACKET or
                                 URG_BUFFERED_BULK_PACKET */
    uint64_t id;              /* host's sequence number (0, 1, 2, ...) */
    uint8_t endpoint;
    int status;
    uint32_t stream_id;       /* buffered bulk only */
    const uint8_t *data;      /* valid during the callback only */
    uint32_t length;
};

/** A stream status the guest did not ask for: the host stopped a stream
 *  (status is normally stall) or reports an iso OUT error. */
struct urg_stream_status {
    uint32_t type;            /* URG_ISO_STREAM_STATUS,
                                 URG_INTERRUPT_RECEIVING_STATUS or
                                 URG_BULK_RECEIVING_STATUS */
    uint64_t id;
    uint8_t endpoint;
    int status;
    uint32_t stream_id;       /* bulk receiving only */
};

enum urg_device_info_what { URG_INFO_INTERFACES = 1, URG_INFO_ENDPOINTS = 2 };

/**
 * Callbacks. Every one is optional except complete (needed as soon as a
 * request is made). All receive the config's user_data first. Pointers they
 * receive are valid during the call only. They run inside urg_session_recv()
 * / urg_session_recv_commit(), and complete also inside urg_session_abort()
 * and urg_session_free(). From a callback the application may make requests,
 * cancel, pull and consume output, read state and stats, call
 * urg_session_abort(), and call urg_session_free() (the session is then
 * freed when the outer call returns, which returns URG_ERR_FAILED); it must
 * not call urg_session_recv() or urg_session_recv_commit() (URG_ERR_BUSY).
 */
struct urg_session_callbacks {
    /* A request finished: called exactly once for every request call that
     * returned 0, never for one that failed. */
    void (*complete)(void *user_data, const struct urg_completion *c);
    /* The host's hello arrived: its version string and caps. */
    void (*hello)(void *user_data, const char *version, uint32_t peer_caps);
    /* The host announced a device that the session's filter (if any)
     * allows. dev is also available from urg_session_device(). */
    void (*device_connect)(void *user_data, const struct urg_device *dev);
    /* The session's filter denied the device (reason URG_ERR_FILTER_*); the
     * session sent filter_reject where the host has the filter cap. If the
     * device had been connected, this also ends it (like a disconnect:
     * pending requests complete with URG_STATUS_NODEV first). */
    void (*device_rejected)(void *user_data, const struct urg_device *dev, int reason);
    /* The device went away: every pending request has completed with
     * URG_STATUS_NODEV, streams are stopped, and the device state is gone. */
    void (*device_disconnect)(void *user_data);
    /* interface_info and/or ep_info changed while a device is connected
     * (after set_configuration or set_alt_setting); what is a mask of
     * enum urg_device_info_what. Called before the status that caused it;
     * not called for new interfaces the session's filter rejects (that is a
     * device_rejected). */
    void (*device_info)(void *user_data, const struct urg_device *dev, unsigned what);
    /* Interrupt IN, iso IN or buffered bulk data arrived. */
    void (*stream_data)(void *user_data, const struct urg_stream_data *d);
    /* A stream status that answers no request (see struct urg_stream_status). */
    void (*stream_status)(void *user_data, const struct urg_stream_status *st);
    /* The host sent filter_filter. rules[count] valid during the call. */
    void (*peer_filter)(void *user_data, const struct urg_filter_rule *rules, size_t count);
    /* The host sent something invalid. fatal: the session has failed (every
     * pending request completed with URG_STATUS_NODEV right after this call).
     * Not fatal (policy skip or tolerate): the packet was skipped; if it was the reply to
     * a pending request, that request completed with URG_STATUS_IOERROR.
     * An error reported here is not also logged: this callback is its one
     * channel (without it, the engine logs the message at URG_LOG_ERROR, or
     * URG_LOG_WARNING when skipped). msg names the packet and the field; any
     * text the host supplied in it is escaped (\xNN). */
    void (*error)(void *user_data, int err, const char *msg, int fatal);
    /* Log lines at or below the config's log_level. Text the host supplied
     * (its hello's version) is escaped: controls and bytes that are not
     * UTF-8 appear as \xNN. */
    void (*log)(void *user_data, int level, const char *msg);
};

struct urg_session_config {
    size_t size;                   /* set by urg_session_config_init(): the
                                      struct's size as this program knows it,
                                      so that the struct can grow */
    uint32_t caps;                 /* caps to advertise (URG_CAPS_ALL) */
    const char *version;           /* hello version ("usbredir-guest 0.1.0") */
    uint32_t max_packet_size;      /* URG_DEFAULT_MAX_PACKET_SIZE */
    enum urg_error_policy policy;  /* URG_POLICY_FAIL; URG_POLICY_SKIP as
                                      the reference parser; URG_POLICY_
                                      TOLERATE as QEMU's usb-redir */
    size_t max_output_bytes;       /* bound on queued requests (32 MiB);
                                      0: no bound. Packets the engine owes
                                      the host on its own (acks,
                                      filter_reject) have a bound of their
                                      own; see "bytes out" below */
    const char *filter;            /* usbredirfilter string, or NULL
                                      (separators: filter_token_sep) */
    unsigned filter_flags;         /* enum urg_filter_flags */
    uint32_t pending_hint;         /* pre-size for this many pending
                                      requests (64) */
    int log_level;                 /* URG_LOG_WARNING */
    const struct urg_allocator *allocator; /* NULL: libc */
    struct urg_session_callbacks callbacks;
    void *user_data;
    /* The separators of filter (separator sets, as urg_filter_parse_sep()
     * takes them), or NULL for the protocol's "," and "|". QEMU's usb-redir
     * filter property is ":" and "|". The host is always sent the ","
     * "|" form; urg_session_send_filter() always takes it. */
    const char *filter_token_sep;
    const char *filter_rule_sep;
};

/** Fills cfg with the defaults shown above, and its size. Every config
 *  must start from it: urg_session_new() refuses one whose size is not set.
 *  (A macro: it passes the size this program was compiled with, so a
 *  newer library gives fields it added their defaults.) A NULL cfg is
 *  ignored. */
#define urg_session_config_init(cfg) urg_session_config_init_size((cfg), sizeof(*(cfg)))
URG_API void urg_session_config_init_size(struct urg_session_config *cfg, size_t size);

/**
 * Creates a session. Its hello is queued at once (pull it with
 * urg_session_output()). Returns 0 and *out, or:
 * - URG_ERR_INVALID: cfg or out NULL, cfg not made by
 *   urg_session_config_init(), bad caps (a bit outside URG_CAPS_ALL, or
 *   bulk_streams without ep_info_max_packet_size), a bad policy, a
 *   max_packet_size from 1 to 1023, a pending_hint over 2^29, or a NULL
 *   complete callback;
 * - URG_ERR_FILTER_SYNTAX: a bad filter string (for its separators);
 * - URG_ERR_NOMEM: the allocator failed.
 * An empty filter_token_sep or filter_rule_sep is URG_ERR_INVALID.
 */
URG_API int urg_session_new(const struct urg_session_config *cfg, urg_session **out);

/**
 * Frees the session. Every pending request first completes with
 * URG_STATUS_NODEV (queued output is dropped before that, so no OUT buffer
 * is touched afterwards). Safe on NULL. From inside a callback the free is
 * deferred until the outermost recv call returns.
 */
URG_API void urg_session_free(urg_session *s);

/**
 * Ends the session without freeing it, e.g. when the connection is lost:
 * queued output is dropped, every pending request completes with
 * URG_STATUS_NODEV, device_disconnect is reported if a device was connected,
 * and every later call but free and the getters returns URG_ERR_FAILED.
 * reason is recorded as the session's error (0 for a normal close), unless
 * it had failed already. A NULL s is ignored.
 */
URG_API void urg_session_abort(urg_session *s, int reason);

/* ---- bytes in ---- */

/**
 * Feeds bytes received from the host, in any split. Callbacks run from here.
 * One byte at a time gives exactly the events one big buffer gives.
 * Payloads of packets that lie whole in buf are handed out as pointers into
 * buf (no copy). Returns 0, or:
 * - URG_ERR_INVALID: s NULL, or buf NULL with len > 0;
 * - URG_ERR_BUSY: called from inside a callback;
 * - URG_ERR_FAILED: the session had failed (it stays failed), or a
 *   callback freed it, or aborted it with reason 0;
 * - the error that failed the session now: a URG_ERR_PROTO_* code (the host
 *   broke a rule; never under URG_POLICY_SKIP or URG_POLICY_TOLERATE,
 *   which skip the packet instead), URG_ERR_NOMEM, or the reason a callback gave
 *   urg_session_abort().
 */
URG_API int urg_session_recv(urg_session *s, const void *buf, size_t len);

/**
 * Where the next bytes belong. When the session is inside a payload -- for a
 * bulk or control IN reply whose request gave a destination buffer, the rest
 * of that buffer -- sets *buf and *len and returns 1: the caller may read from
 * its socket straight into *buf (up to *len bytes) and then call
 * urg_session_recv_commit(). Returns 0 when the next bytes are headers (use
 * urg_session_recv() with the caller's own buffer), and when s is NULL,
 * failed or inside a callback. Returns no error code.
 */
URG_API int urg_session_recv_window(urg_session *s, void **buf, size_t *len);
/**
 * The same window as iovecs: up to iovcnt of them, in order, covering the
 * rest of the payload in progress, or as much of it as iovcnt holds. A
 * request that gave its destination as segments (the _iov calls) gives
 * one iovec per non-empty segment (the first from where the payload has
 * reached);
 * a buffer gives one. The caller may readv() into them and then call
 * urg_session_recv_commit() with what it read. Returns how many iovecs it
 * filled, 0 as urg_session_recv_window() (and for iov NULL or iovcnt < 1).
 * Returns no error code.
 */
URG_API int urg_session_recv_window_iov(urg_session *s, struct iovec *iov, int iovcnt);
/** Accounts n bytes the caller read into the window from
 *  urg_session_recv_window(), as urg_session_recv() would have. Returns 0,
 *  or:
 *  - URG_ERR_INVALID: s NULL, or n over the window (or n > 0 with none);
 *  - URG_ERR_BUSY: called from inside a callback;
 *  - URG_ERR_FAILED: the session had failed, or a callback freed it, or
 *    aborted it with reason 0;
 *  - the error that failed the session now, as urg_session_recv(): a
 *    URG_ERR_PROTO_* code, URG_ERR_NOMEM, or the reason a callback gave
 *    urg_session_abort(). */
URG_API int urg_session_recv_commit(urg_session *s, size_t n);

/* ---- bytes out ----
 *
 * The output queue is bounded: requests (and reset, iso OUT, filter
 * packets sent by the application) are refused with URG_ERR_AGAIN while
 * they would push it past max_output_bytes (unless it is empty). Packets the
 * engine sends on its own because the host asked for them -
 * device_disconnect_ack, filter_reject, the session's filter_filter after
 * the host's hello - are bounded by what the host has not read of them:
 * 64 KiB of answers queued since the last urg_session_consume() (whatever
 * else is queued). A host that makes the engine owe it more while reading
 * nothing fails the session with URG_ERR_PROTO_FLOOD (a skipped packet
 * under URG_POLICY_SKIP: the answer is then not sent); one that reads gets
 * its answers. cancel_data_packet is never refused: there is at most one
 * per pending request. A device_disconnect with no device announced since
 * the last one (a repeat) is not acknowledged: the host can only be waiting
 * for one ack; it is counted in urg_stats.unacked_disconnects.
 */

/**
 * Fills up to iovcnt iovecs with the queued output, in order, and returns
 * how many it filled (0: nothing queued). Headers and payloads are separate
 * iovecs; an OUT payload is the caller's own buffer. The iovecs stay valid
 * until the next urg_session_consume() or request call. Or:
 * - URG_ERR_INVALID: s or iov NULL, or iovcnt < 0.
 */
URG_API int urg_session_output(urg_session *s, struct iovec *iov, int iovcnt);
/** Marks the first n queued bytes as written. Returns 0, or:
 *  - URG_ERR_INVALID: s NULL, or n over urg_session_output_pending(). */
URG_API int urg_session_consume(urg_session *s, size_t n);
/** Bytes queued and not consumed yet (0 for a NULL s). */
URG_API size_t urg_session_output_pending(const urg_session *s);

/* ---- requests (guest to host) ----
 *
 * Every request call returns 0 and gives the request an id (*id if id is not
 * NULL), or a negative error and then no completion will ever come. Requests
 * need the host's hello (URG_ERR_STATE before it); all but filter ones need a
 * connected device (URG_ERR_NO_DEVICE). A request whose packet would push
 * the output queue past max_output_bytes is refused with URG_ERR_AGAIN
 * (unless the queue is empty). Each call's comment lists the codes it
 * returns; a rule of the protocol a request breaks (e.g. an OUT endpoint
 * for interrupt receiving) gives the URG_ERR_PROTO_* code a host would
 * report.
 *
 * Buffers: an OUT payload (data of an OUT transfer) is not copied; it must
 * stay valid and unchanged until the request completes. An IN destination
 * (data of an IN transfer, may be NULL) must stay valid until the request
 * completes; the engine writes at most length bytes into it, and only when
 * the reply's payload straddles recv calls or arrives through the recv
 * window. */

/** Control transfer. setup is the 8-byte SETUP packet (bmRequestType,
 *  bRequest, wValue, wIndex, wLength, little-endian); endpoint is the control
 *  endpoint number (normally 0); its direction comes from bmRequestType.
 *  Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s or setup NULL, endpoint outside 0-15 and
 *    0x80-0x8f, or an OUT transfer with wLength > 0 and data NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_control(urg_session *s, uint8_t endpoint, const uint8_t setup[8],
                                void *data, void *user_data, uint64_t *id);
/** Bulk transfer of length bytes (IN: at most length) on endpoint, on stream
 *  stream_id (0: no stream). Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL, or an OUT transfer with length > 0 and
 *    data NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_TOO_LONG: length over 65535 without 32bits_bulk_length, or
 *    over URG_MAX_BULK_LENGTH;
 *  - URG_ERR_NO_CAP: a stream_id without bulk_streams;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_bulk(urg_session *s, uint8_t endpoint, uint32_t stream_id, uint32_t length,
                             void *data, void *user_data, uint64_t *id);
/* Segments (scatter-gather): the _iov calls take a transfer's data as
 * iovcnt iovecs in place of one buffer (a guest's page list: xHCI TRBs,
 * EHCI qTD pages). The first length bytes of the segments (control:
 * wLength) are the data, in order; empty segments are allowed and
 * skipped. Nothing is copied: an OUT payload is sent from the segments
 * (one output iovec per non-empty one), an IN reply is written into them
 * (and read straight into them through urg_session_recv_window_iov()).
 * The iovec array and the memory it points to must stay valid and
 * unchanged until the request completes. (An iso OUT packet is the
 * exception: copied at the call, as urg_session_iso_out() copies.) Segments that urg_iov_check() refuses make the
 * call return URG_ERR_INVALID. */
#define URG_IOV_MAX 1024
/** Whether iov[iovcnt] can carry a transfer of length bytes. Returns 0,
 *  or:
 *  - URG_ERR_INVALID: iovcnt < 0 or over URG_IOV_MAX, iov NULL with
 *    iovcnt > 0, segments holding fewer than length bytes, or a NULL
 *    iov_base among those that hold them. */
URG_API int urg_iov_check(const struct iovec *iov, int iovcnt, uint32_t length);
/** urg_session_control() with the data stage as segments. Returns 0 and
 *  the id, or:
 *  - URG_ERR_INVALID: as urg_session_control() (data aside), or segments
 *    urg_iov_check() refuses for wLength;
 *  - URG_ERR_FAILED, URG_ERR_STATE, URG_ERR_NO_DEVICE, URG_ERR_AGAIN,
 *    URG_ERR_NOMEM: as urg_session_control(). */
URG_API int urg_session_control_iov(urg_session *s, uint8_t endpoint, const uint8_t setup[8],
                                    const struct iovec *iov, int iovcnt, void *user_data,
                                    uint64_t *id);
/** urg_session_bulk() with the data as segments. Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL, or segments urg_iov_check() refuses for
 *    length;
 *  - URG_ERR_TOO_LONG, URG_ERR_NO_CAP, URG_ERR_FAILED, URG_ERR_STATE,
 *    URG_ERR_NO_DEVICE, URG_ERR_AGAIN, URG_ERR_NOMEM: as
 *    urg_session_bulk(). */
URG_API int urg_session_bulk_iov(urg_session *s, uint8_t endpoint, uint32_t stream_id,
                                 uint32_t length, const struct iovec *iov, int iovcnt,
                                 void *user_data, uint64_t *id);
/** Interrupt OUT transfer (endpoint must be OUT). Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL, an IN endpoint, or length > 0 with data NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_interrupt_out(urg_session *s, uint8_t endpoint, uint16_t length,
                                      const void *data, void *user_data, uint64_t *id);
/** urg_session_interrupt_out() with the payload as segments. Returns 0
 *  and the id, or:
 *  - URG_ERR_INVALID: s NULL, an IN endpoint, or segments urg_iov_check()
 *    refuses for length;
 *  - URG_ERR_FAILED, URG_ERR_STATE, URG_ERR_NO_DEVICE, URG_ERR_AGAIN,
 *    URG_ERR_NOMEM: as urg_session_interrupt_out(). */
URG_API int urg_session_interrupt_out_iov(urg_session *s, uint8_t endpoint, uint16_t length,
                                          const struct iovec *iov, int iovcnt, void *user_data,
                                          uint64_t *id);
/** One iso OUT packet on a started OUT stream. The payload is copied; the
 *  host never answers iso OUT packets, so there is no completion and no id.
 *  Returns 0, or:
 *  - URG_ERR_INVALID: s NULL, an IN endpoint, or length > 0 with data NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_iso_out(urg_session *s, uint8_t endpoint, uint16_t length,
                                const void *data);
/** urg_session_iso_out() with the payload copied from segments: the
 *  length bytes at offset into their data (an iso URB's packet). Returns
 *  0, or:
 *  - URG_ERR_INVALID: s NULL, an IN endpoint, or segments urg_iov_check()
 *    refuses for offset + length bytes;
 *  - URG_ERR_FAILED, URG_ERR_STATE, URG_ERR_NO_DEVICE, URG_ERR_AGAIN,
 *    URG_ERR_NOMEM: as urg_session_iso_out(). */
URG_API int urg_session_iso_out_iov(urg_session *s, uint8_t endpoint, uint16_t length,
                                    const struct iovec *iov, int iovcnt, uint32_t offset);
/** set_configuration: the device is to take configuration (the host's
 *  configuration_status completes it, u.config). Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_set_configuration(urg_session *s, uint8_t configuration,
                                          void *user_data, uint64_t *id);
/** get_configuration: the device's configuration (the host's
 *  configuration_status completes it, u.config). Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_get_configuration(urg_session *s, void *user_data, uint64_t *id);
/** set_alt_setting: interface is to take alternate setting alt (the host's
 *  alt_setting_status completes it, u.alt). Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_set_alt_setting(urg_session *s, uint8_t interface, uint8_t alt,
                                        void *user_data, uint64_t *id);
/** get_alt_setting: interface's alternate setting (the host's
 *  alt_setting_status completes it, u.alt). Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_get_alt_setting(urg_session *s, uint8_t interface, void *user_data,
                                        uint64_t *id);
/** start_interrupt_receiving on an interrupt IN endpoint: its packets come as
 *  stream_data. Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_PROTO_NOT_IN_EP: endpoint is not an IN endpoint;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_start_interrupt_receiving(urg_session *s, uint8_t endpoint,
                                                  void *user_data, uint64_t *id);
/** stop_interrupt_receiving on an interrupt IN endpoint. Returns 0 and the
 *  id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_PROTO_NOT_IN_EP: endpoint is not an IN endpoint;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_stop_interrupt_receiving(urg_session *s, uint8_t endpoint,
                                                 void *user_data, uint64_t *id);
/** start_bulk_receiving on a bulk IN endpoint (needs bulk_receiving): its
 *  data comes as stream_data. bytes_per_transfer should be a multiple of the
 *  endpoint's max packet size (the host checks). Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_NO_CAP: no bulk_receiving;
 *  - URG_ERR_PROTO_NOT_IN_EP: endpoint is not an IN endpoint;
 *  - URG_ERR_PROTO_BULK_LENGTH: bytes_per_transfer over URG_MAX_BULK_LENGTH;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_start_bulk_receiving(urg_session *s, uint8_t endpoint, uint32_t stream_id,
                                             uint32_t bytes_per_transfer, uint8_t no_transfers,
                                             void *user_data, uint64_t *id);
/** stop_bulk_receiving on a bulk IN endpoint (needs bulk_receiving). Returns
 *  0 and the id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_NO_CAP: no bulk_receiving;
 *  - URG_ERR_PROTO_NOT_IN_EP: endpoint is not an IN endpoint;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_stop_bulk_receiving(urg_session *s, uint8_t endpoint, uint32_t stream_id,
                                            void *user_data, uint64_t *id);
/** start_iso_stream on an iso endpoint: IN packets come as stream_data; OUT
 *  packets go with urg_session_iso_out(). Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_start_iso_stream(urg_session *s, uint8_t endpoint, uint8_t pkts_per_urb,
                                         uint8_t no_urbs, void *user_data, uint64_t *id);
/** stop_iso_stream on an iso endpoint. Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_stop_iso_stream(urg_session *s, uint8_t endpoint, void *user_data,
                                        uint64_t *id);
/** alloc_bulk_streams (needs bulk_streams). endpoints is a bitmask of
 *  urg_ep_index() bits. Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_NO_CAP: no bulk_streams;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_alloc_bulk_streams(urg_session *s, uint32_t endpoints,
                                           uint32_t no_streams, void *user_data, uint64_t *id);
/** free_bulk_streams (needs bulk_streams). endpoints is a bitmask of
 *  urg_ep_index() bits. Returns 0 and the id, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_NO_CAP: no bulk_streams;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_free_bulk_streams(urg_session *s, uint32_t endpoints, void *user_data,
                                          uint64_t *id);
/** Resets the device. The protocol has no reply to a reset, so this is not
 *  a request: no id, no completion. Returns 0, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_DEVICE: no device is connected;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes: try again
 *    after writing;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_reset(urg_session *s);
/**
 * Cancels a pending data request (control, bulk, interrupt OUT) by sending
 * cancel_data_packet. The request still completes exactly once, with the
 * host's answer: URG_STATUS_CANCELLED, or its real result if it had already
 * finished. Cancelling twice is a no-op. Never URG_ERR_AGAIN (a cancel is not
 * bounded by max_output_bytes) and needs no device. Returns 0, or:
 * - URG_ERR_INVALID: s NULL;
 * - URG_ERR_FAILED: the session failed or was aborted;
 * - URG_ERR_STATE: the host's hello has not come yet;
 * - URG_ERR_NOT_FOUND: no pending request has that id;
 * - URG_ERR_NOT_CANCELLABLE: the request is not a data request;
 * - URG_ERR_NOMEM: the allocator failed (no cancel was sent).
 */
URG_API int urg_session_cancel(urg_session *s, uint64_t id);
/**
 * Forgets a pending request at once, without a completion: for a caller
 * that must have its buffers back now (a controller cancelling a transfer).
 * For a data request a cancel_data_packet is sent (once); an OUT payload not
 * yet written is copied first and the IN destination is never written again
 * (a payload arriving into it through the recv window is skipped). The
 * host's eventual answer is dropped and counted as a late reply.
 *
 * Whatever it returns, the engine never touches the request's buffers again
 * once this returns (also in a session that failed, whose requests are
 * still completing; it needs no hello and no device). Returns 0
 * (forgotten), or:
 * - URG_ERR_INVALID: s NULL;
 * - URG_ERR_NOT_FOUND: no request with that id is pending (it completed,
 *   or was forgotten);
 * - URG_ERR_NOMEM: no memory to copy the OUT payload or queue the cancel:
 *   the request is forgotten all the same, its buffers let go of, and the
 *   session fails with URG_ERR_NOMEM (output dropped, the other pending
 *   requests complete with URG_STATUS_NODEV from within this call; a
 *   session freed from one of those callbacks is gone when it returns).
 */
URG_API int urg_session_forget(urg_session *s, uint64_t id);
/** Sends filter_filter with the given rules, a string in the "," "|" form
 *  (urg_filter_parse(); for another form, urg_filter_parse_sep() then
 *  urg_filter_format()) (needs the filter cap; needs no device). Returns
 *  0, or:
 *  - URG_ERR_INVALID: s or filter NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_CAP: no filter cap;
 *  - URG_ERR_FILTER_SYNTAX: filter is not a well-formed usbredirfilter
 *    string;
 *  - URG_ERR_PROTO_FILTER: the rules, formatted, are over
 *    URG_MAX_FILTER_LENGTH bytes;
 *  - URG_ERR_AGAIN: the output queue would pass max_output_bytes;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_send_filter(urg_session *s, const char *filter);
/** Sends filter_reject: the guest refuses the device (needs the filter cap;
 *  meant to answer a device_connect or interface_info, which it does not
 *  check). An answer the host asked for, bounded as such (see "bytes out").
 *  Returns 0, or:
 *  - URG_ERR_INVALID: s NULL;
 *  - URG_ERR_FAILED: the session failed or was aborted;
 *  - URG_ERR_STATE: the host's hello has not come yet;
 *  - URG_ERR_NO_CAP: no filter cap;
 *  - URG_ERR_AGAIN: 64 KiB of answers already wait unread;
 *  - URG_ERR_NOMEM: the allocator failed. */
URG_API int urg_session_filter_reject(urg_session *s);

/* ---- state ----
 *
 * The getters below take a session (not NULL) and never fail. */

enum urg_session_state {
    URG_STATE_WAIT_HELLO = 0, /* the host's hello has not arrived */
    URG_STATE_READY = 1,      /* hello done, no device */
    URG_STATE_CONNECTED = 2,  /* a device is connected */
    URG_STATE_FAILED = 3      /* failed or aborted */
};
/** The session's state (enum urg_session_state). Returns no error code. */
URG_API int urg_session_state(const urg_session *s);
/** The connected device, or NULL. Valid until the next recv call. */
URG_API const struct urg_device *urg_session_device(const urg_session *s);
/** Negotiated caps (ours & the host's; 0 before the host's hello). */
URG_API uint32_t urg_session_caps(const urg_session *s);
URG_API uint32_t urg_session_peer_caps(const urg_session *s);
/** The host's hello version string ("" before it). */
URG_API const char *urg_session_peer_version(const urg_session *s);
/** The error that failed the session (0 if none; an abort's reason) and,
 *  if msg is not NULL, its message in *msg. Returns no error code of its
 *  own: the code is the session's. */
URG_API int urg_session_error(const urg_session *s, const char **msg);
/** Number of requests waiting for their completion. */
URG_API size_t urg_session_pending_count(const urg_session *s);
/** 1 if the stream of that kind (URG_START_INTERRUPT_RECEIVING,
 *  URG_START_ISO_STREAM or URG_START_BULK_RECEIVING) on endpoint was started
 *  successfully and has not been stopped since; else 0 (any other
 *  start_type too). Returns no error code. */
URG_API int urg_session_stream_active(const urg_session *s, uint32_t start_type, uint8_t endpoint);

/** Counters. Packet and byte counts are indexed by urg_type_index(); bytes
 *  are whole packets (headers included). tx counts packets as they are
 *  queued. */
struct urg_stats {
    uint64_t rx_packets[URG_TYPE_COUNT], rx_bytes[URG_TYPE_COUNT];
    uint64_t tx_packets[URG_TYPE_COUNT], tx_bytes[URG_TYPE_COUNT];
    uint64_t late_replies;        /* replies for no pending request, dropped */
    uint64_t unsolicited_statuses;/* stream statuses answering no request */
    uint64_t protocol_errors;     /* packets rejected (fatal or skipped) */
    uint64_t skipped_bytes;       /* bytes skipped under policy skip */
    uint64_t requests;            /* requests accepted */
    uint64_t completions;         /* completions delivered */
    uint64_t payload_copies;      /* payloads copied because they straddled */
    uint64_t pending_max;         /* most requests pending at once */
    uint64_t forgotten;           /* requests ended by urg_session_forget() */
    uint64_t stream_discarded;    /* stream data packets skipped unread: no
                                     stream of their kind was running or
                                     starting on their endpoint */
    uint64_t unacked_disconnects; /* device_disconnects with no device to
                                     acknowledge */
};
URG_API void urg_session_stats(const urg_session *s, struct urg_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* URG_GUEST_H */

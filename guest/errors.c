/*
 * errors.c - a sentence and a name for every URG_ERR_* code of every layer
 * (the engine's, the controller model's, the transport's): one error space.
 */
#include "internal.h"

#include <stdio.h>

struct err_desc {
    int code;
    const char *name;
    const char *text;
};

#define E(code, text) { code, #code, text }
static const struct err_desc errors[] = {
    E(URG_OK, "success"),
    E(URG_ERR_INVALID, "invalid argument"),
    E(URG_ERR_NOMEM, "out of memory"),
    E(URG_ERR_STATE, "not allowed in the session's state"),
    E(URG_ERR_NO_DEVICE, "no device is connected"),
    E(URG_ERR_NOT_FOUND, "no pending request has that id"),
    E(URG_ERR_NO_CAP, "the peer lacks the capability this needs"),
    E(URG_ERR_TOO_LONG, "length over the protocol limit"),
    E(URG_ERR_AGAIN, "output queue over its bound; try again after writing"),
    E(URG_ERR_BUSY, "not callable from inside a callback"),
    E(URG_ERR_FAILED, "the session has failed or was aborted"),
    E(URG_ERR_NOT_CANCELLABLE, "only data packets can be cancelled"),
    E(URG_ERR_FILTER_SYNTAX, "malformed usbredirfilter string"),
    E(URG_ERR_FILTER_DENIED, "a filter rule denies the device"),
    E(URG_ERR_FILTER_NO_MATCH, "no filter rule matches the device"),
    E(URG_ERR_BUFFER, "buffer too small"),
    E(URG_ERR_PROTO_TYPE, "unknown packet type"),
    E(URG_ERR_PROTO_DIRECTION, "packet type not allowed in this direction"),
    E(URG_ERR_PROTO_BEFORE_HELLO, "packet before the peer's hello"),
    E(URG_ERR_PROTO_SECOND_HELLO, "second hello"),
    E(URG_ERR_PROTO_PACKET_SIZE, "packet larger than the maximum packet size"),
    E(URG_ERR_PROTO_HEADER_LENGTH, "packet length shorter than its type header"),
    E(URG_ERR_PROTO_UNEXPECTED_DATA, "payload on a packet that carries none"),
    E(URG_ERR_PROTO_DATA_LENGTH, "payload length differs from the length field"),
    E(URG_ERR_PROTO_NOT_IN_EP, "endpoint is not an IN endpoint"),
    E(URG_ERR_PROTO_EP_DIRECTION, "packet in the wrong direction for its endpoint"),
    E(URG_ERR_PROTO_INTERFACE_COUNT, "interface_count over 32"),
    E(URG_ERR_PROTO_FILTER, "malformed filter_filter string"),
    E(URG_ERR_PROTO_CAP, "packet needs a capability that was not negotiated"),
    E(URG_ERR_PROTO_CAPS, "caps have bulk_streams without ep_info_max_packet_size"),
    E(URG_ERR_PROTO_BULK_LENGTH, "bulk length over 128 MiB"),
    E(URG_ERR_PROTO_HELLO, "malformed hello"),
    E(URG_ERR_PROTO_REPLY_TYPE, "reply type does not match the request"),
    E(URG_ERR_PROTO_REPLY_ENDPOINT, "reply endpoint does not match the request"),
    E(URG_ERR_PROTO_REPLY_LENGTH, "reply longer than the request"),
    E(URG_ERR_PROTO_FIELD, "field value out of range"),
    E(URG_ERR_PROTO_STATE, "packet not valid in the session's state"),
    E(URG_ERR_PROTO_CALLBACK, "packet refused by a decoder callback"),
    E(URG_ERR_PROTO_STREAM_LENGTH, "stream data longer than the stream's transfers"),
    E(URG_ERR_PROTO_FLOOD, "the host asks for answers faster than it reads them"),
    E(URG_ERR_HCD_SPEED, "no port speed can carry the device"),
    E(URG_ERR_HCD_ENDPOINT, "the URB does not fit the endpoint"),
    E(URG_ERR_HCD_BUSY, "the URB is already in flight"),
    E(URG_ERR_HCD_INTERVAL, "an iso or interrupt endpoint of the device has bInterval 0"),
    E(URG_ERR_ADDRESS, "malformed address (host:port, [v6]:port, unix:/path, fd:N)"),
    E(URG_ERR_RESOLVE, "the host name does not resolve"),
    E(URG_ERR_CONNECT, "cannot connect, bind or listen"),
    E(URG_ERR_IO, "read or write failed"),
    E(URG_ERR_EOF, "the peer closed the connection"),
    E(URG_ERR_CAPTURE, "not a capture file, or a damaged one"),
    E(URG_ERR_PCAP, "cannot read or use the pcap file"),
    E(URG_ERR_TCP_GAP, "the captured TCP stream has a gap"),
    E(URG_ERR_DIVERGED, "the guest did not do what the capture did"),
    E(URG_ERR_STALLED, "the host stopped reading what we send"),
};
#undef E

static const struct err_desc *find(int code)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (errors[i].code == code)
            return &errors[i];
    return NULL;
}

URG_API const char *urg_strerror(int err)
{
    const struct err_desc *d = find(err);
    return d ? d->text : "unknown error";
}

URG_API const char *urg_error_name(int err)
{
    const struct err_desc *d = find(err);
    return d ? d->name : "URG_ERR_UNKNOWN";
}

URG_API int urg_error_is_protocol(int err) { return err <= -100 && err > -200; }

int urgi_fmt(char *msg, size_t cap, int err, const char *fmt, ...)
{
    if (msg && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return err;
}

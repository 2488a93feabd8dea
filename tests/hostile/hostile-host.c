/*
 * hostile-host.c - a usb-host that misbehaves on purpose, for the hostile
 * tier (tests/hostile/run.sh, `make check-hostile`).
 *
 *   hostile-host --scenario NAME [--kind KIND] [options]
 *     --scenario NAME   what to do wrong (below); NAME-N sets --at N
 *     --kind KIND       keyboard (default), mouse, msc, ftdi, cp210x, pl2303:
 *                       the device it pretends to be
 *     --at N            the reply the scenario acts at (see below)
 *     --connections K   serve K connections, then exit (1); the first gets
 *                       the scenario, the others are served correctly (for
 *                       a guest that reconnects, as the transport example)
 *     --text TEXT       keyboard: what it types ("hello")
 *     --blocks N        msc: 512-byte blocks (512)
 *     --flood-seconds S how long a flood lasts (3)
 *     --listen ADDR     IPv4 host:port (127.0.0.1:0)
 *     --report FILE     at exit: "replies R" (replies and stream data sent
 *                       to the guest on the first connection) and
 *                       "connections C"
 *     --deadline S      exit after S seconds whatever happens (60)
 *
 * It prints "listening on ADDR" on stdout, flushed, as
 * tests/tools/emuhost-server does (tests/cli/common.sh's start_emu), and on
 * stderr a line per connection (bytes written and read, replies) and one
 * when a flood ends (bytes written while it lasted, bytes still queued).
 * SIGTERM ends it (the report is written).
 *
 * How: the emulated host of tests/support/emuhost.c serves a correct device;
 * this program sits between it and the socket. What the guest sends is
 * decoded (urg_decode, the guest-to-host layout) and handed to the emulated
 * host packet by packet - or answered here instead (the SCSI scenarios); what
 * the emulated host answers is decoded (host-to-guest layout: 12-byte
 * headers for the hello, then the layout both hellos negotiated) and goes
 * out unchanged unless the scenario replaces, drops, appends to, cuts or
 * paces it; new packets are encoded with urg_encode, or written raw where
 * they must be invalid. Everything appended "in the same write" is queued
 * behind the packet it follows before the socket is written, so the guest
 * gets both in one read (it may of course read them in pieces too).
 *
 * A "reply" below is any packet for the guest after device_connect that is
 * not device information: replies to requests and stream data (interrupt,
 * iso, buffered bulk packets). The replies are counted from 1; --at 0 means
 * right after device_connect.
 *
 * Scenarios (class numbers of issue 11):
 *  1 connect-then-disconnect  device_connect and device_disconnect in one
 *                             write; nothing more for the guest after.
 *    connect-then-garbage     device_connect, then in the same write a
 *                             packet of unknown type 0x7777 (fatal).
 *    disconnect-with-reply-N  the N-th reply followed in the same write by
 *                             device_disconnect; nothing more after.
 *    unplug-replug-N          the N-th reply followed in the same write by
 *                             device_disconnect and a fresh interface_info,
 *                             ep_info and device_connect of the same device
 *                             (the rest of what the device had answered in
 *                             that batch is dropped: it went away); then it
 *                             serves the new device correctly (N: 3).
 *    close-mid-header         the reply --at (1) cut after 7 header bytes,
 *                             then the connection closes (FIN).
 *    close-mid-payload        the first reply with 8 or more payload bytes
 *                             cut half-way through its payload, then closes.
 *    close-mid-bulk           the same for the first reply with 4096 or
 *                             more payload bytes (a bulk IN data stage: the
 *                             guest may be reading it straight into the
 *                             request's buffer).
 *    close-after-attach-N     the connection closes right after the N-th
 *                             reply (0: right after device_connect).
 *  2 string-len0, string-len1, string-odd
 *                             every string descriptor but 0 answered with
 *                             bLength 0, 1, or an odd bLength 7 (7 bytes).
 *    config-wrap              the configuration descriptor says wTotalLength
 *                             65535 and is 65535 bytes of bLength 255
 *                             descriptors (0xff filled but for bLength 9 and
 *                             type 2 in the header): a 16-bit offset walk
 *                             wraps past 65535 back to the header and never
 *                             ends; a walk bounded by the length ends.
 *    config-zero              a configuration with a bLength 0 descriptor
 *                             in the middle (a walk that trusts it loops).
 *    config-tail              a configuration whose last 2 bytes are a
 *                             header (09 04) claiming a 9-byte interface
 *                             descriptor: reading its fields runs 7 bytes
 *                             past the end.
 *    config-tail1             the same with only the bLength byte (09) of
 *                             that header in the last byte.
 *    config-stall             the configuration's 9-byte header comes, the
 *                             read of the whole configuration stalls.
 *    hid-report-long          HID report descriptor with long items, the
 *                             last one claiming 255 data bytes it lacks.
 *    hid-report-truncated     HID report descriptor whose last item claims
 *                             4 data bytes and has 1.
 *    inquiry-short            SCSI INQUIRY answered with 5 bytes of 36.
 *    capacity-zero-block      READ CAPACITY(10): 512 blocks of 0 bytes.
 *    capacity-huge            READ CAPACITY(10): last block 0xffffffff;
 *                             READ CAPACITY(16): last block 2^64-1, 512.
 *    csw-signature, csw-tag, csw-residue
 *                             INQUIRY's status block (CSW) with a wrong
 *                             signature, a wrong tag, or residue 0xffffffff
 *                             (more than the 36 bytes asked).
 *    serial-vendor-short      vendor control requests of the adapter
 *                             answered with no data (IN) or none taken (OUT).
 *    serial-vendor-garbage    IN vendor replies full of random bytes, OUT
 *                             vendor replies with status 0x42 (no such
 *                             status).
 *  3 no-read-disconnect-flood never reads from the guest; for
 *                             --flood-seconds writes, as fast as the guest
 *                             takes them, blocks of 4096 device_disconnect
 *                             packets (with no device announced: the guest
 *                             owes no ack; a guest that acked each would
 *                             send as many bytes as it got) and blocks of 16
 *                             interface_info, ep_info, device_connect,
 *                             device_disconnect sets (the device comes and
 *                             goes); then reads again and announces the
 *                             device for good.
 *    no-read-reject-flood     the same with a device no port can carry (an
 *                             interrupt endpoint with interval 0: the guest
 *                             answers each with filter_reject).
 *  4 huge-buffered-bulk       a buffered_bulk_packet of 128 MiB (zeros) on
 *                             bulk IN right after device_connect (bulk
 *                             receiving not started), and another right
 *                             after the bulk_receiving_status that starts it.
 *    huge-interrupt           one interrupt IN packet of 65535 bytes (the
 *                             endpoint's max packet is 8) right after the
 *                             interrupt_receiving_status.
 *    huge-interrupt-flood     2000 of them at that point (131 MB).
 *    stream-data-not-started  right after device_connect: 50,000 interrupt
 *                             packets (8 bytes, an "a" pressed) on 0x81,
 *                             2000 iso packets of 1023 bytes on 0x82 and
 *                             5000 buffered bulk packets of 512 bytes on
 *                             0x83, none of them started.
 *    late-reply-flood         right after device_connect: 100,000 control
 *                             and bulk replies to ids the guest never used.
 *  5 close-after-attach-N     (above) the connection closes mid-command.
 *    unplug-replug-N          (above).
 *  6 escape-version           the hello's version string holds ESC [ 2 J,
 *                             BEL, a C1 CSI (UTF-8 C2 9B), invalid UTF-8
 *                             (FF FE), DEL, raw 9B and 85.
 *    escape-strings           string descriptors holding ESC [ 2 J, BEL,
 *                             DEL, U+009B, U+0085, a lone surrogate, CR, BS.
 *    escape-inquiry           SCSI INQUIRY vendor/product/revision with the
 *                             same bytes (and CR, BS, an OSC sequence).
 *    escape-serial            (ftdi) right after bulk receiving starts, a
 *                             buffered bulk block whose data holds ESC [ 2 J,
 *                             BEL, DEL, a C1 CSI, an OSC title sequence and
 *                             invalid UTF-8, before the greeting.
 *  7 protocol-error           the first control or bulk reply is longer
 *                             than the request asked (IN: 16 bytes more
 *                             payload; OUT: a length 16 over the request's).
 *    garbage                  4096 random bytes (fixed seed) after the
 *                             hello, then the connection closes.
 *    slow-reader              reads at most 61 bytes at a time, 1 ms apart.
 *    slowloris                writes everything one byte at a time, 1 ms
 *                             apart (the guest must put packets together).
 *    slowloris-stall          the reply --at (1) and all after it one byte
 *                             every 100 ms (a 40-byte reply takes 4 s; the
 *                             guest's request times out first).
 *  none                       a correct host (the baseline).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "emuhost.h"
#include "urg_codec.h"

enum scenario {
    SC_NONE,
    SC_CONNECT_THEN_DISCONNECT,
    SC_CONNECT_THEN_GARBAGE,
    SC_DISCONNECT_WITH_REPLY,
    SC_UNPLUG_REPLUG,
    SC_CLOSE_MID_HEADER,
    SC_CLOSE_MID_PAYLOAD,
    SC_CLOSE_MID_BULK,
    SC_CLOSE_AFTER_ATTACH,
    SC_STRING_LEN0,
    SC_STRING_LEN1,
    SC_STRING_ODD,
    SC_CONFIG_WRAP,
    SC_CONFIG_ZERO,
    SC_CONFIG_TAIL,
    SC_CONFIG_TAIL1,
    SC_CONFIG_STALL,
    SC_HID_REPORT_LONG,
    SC_HID_REPORT_TRUNCATED,
    SC_INQUIRY_SHORT,
    SC_CAPACITY_ZERO_BLOCK,
    SC_CAPACITY_HUGE,
    SC_CSW_SIGNATURE,
    SC_CSW_TAG,
    SC_CSW_RESIDUE,
    SC_SERIAL_VENDOR_SHORT,
    SC_SERIAL_VENDOR_GARBAGE,
    SC_NO_READ_DISCONNECT_FLOOD,
    SC_NO_READ_REJECT_FLOOD,
    SC_HUGE_BUFFERED_BULK,
    SC_HUGE_INTERRUPT,
    SC_HUGE_INTERRUPT_FLOOD,
    SC_STREAM_DATA_NOT_STARTED,
    SC_LATE_REPLY_FLOOD,
    SC_ESCAPE_VERSION,
    SC_ESCAPE_STRINGS,
    SC_ESCAPE_INQUIRY,
    SC_ESCAPE_SERIAL,
    SC_PROTOCOL_ERROR,
    SC_GARBAGE,
    SC_SLOW_READER,
    SC_SLOWLORIS,
    SC_SLOWLORIS_STALL,
};

static const struct {
    const char *name;
    enum scenario sc;
    int at; /* default --at */
} scenarios[] = {
    { "none", SC_NONE, 0 },
    { "connect-then-disconnect", SC_CONNECT_THEN_DISCONNECT, 0 },
    { "connect-then-garbage", SC_CONNECT_THEN_GARBAGE, 0 },
    { "disconnect-with-reply", SC_DISCONNECT_WITH_REPLY, 1 },
    { "unplug-replug", SC_UNPLUG_REPLUG, 3 },
    { "close-mid-header", SC_CLOSE_MID_HEADER, 1 },
    { "close-mid-payload", SC_CLOSE_MID_PAYLOAD, 0 },
    { "close-mid-bulk", SC_CLOSE_MID_BULK, 0 },
    { "close-after-attach", SC_CLOSE_AFTER_ATTACH, 0 },
    { "string-len0", SC_STRING_LEN0, 0 },
    { "string-len1", SC_STRING_LEN1, 0 },
    { "string-odd", SC_STRING_ODD, 0 },
    { "config-wrap", SC_CONFIG_WRAP, 0 },
    { "config-zero", SC_CONFIG_ZERO, 0 },
    { "config-tail", SC_CONFIG_TAIL, 0 },
    { "config-tail1", SC_CONFIG_TAIL1, 0 },
    { "config-stall", SC_CONFIG_STALL, 0 },
    { "hid-report-long", SC_HID_REPORT_LONG, 0 },
    { "hid-report-truncated", SC_HID_REPORT_TRUNCATED, 0 },
    { "inquiry-short", SC_INQUIRY_SHORT, 0 },
    { "capacity-zero-block", SC_CAPACITY_ZERO_BLOCK, 0 },
    { "capacity-huge", SC_CAPACITY_HUGE, 0 },
    { "csw-signature", SC_CSW_SIGNATURE, 0 },
    { "csw-tag", SC_CSW_TAG, 0 },
    { "csw-residue", SC_CSW_RESIDUE, 0 },
    { "serial-vendor-short", SC_SERIAL_VENDOR_SHORT, 0 },
    { "serial-vendor-garbage", SC_SERIAL_VENDOR_GARBAGE, 0 },
    { "no-read-disconnect-flood", SC_NO_READ_DISCONNECT_FLOOD, 0 },
    { "no-read-reject-flood", SC_NO_READ_REJECT_FLOOD, 0 },
    { "huge-buffered-bulk", SC_HUGE_BUFFERED_BULK, 0 },
    { "huge-interrupt", SC_HUGE_INTERRUPT, 0 },
    { "huge-interrupt-flood", SC_HUGE_INTERRUPT_FLOOD, 0 },
    { "stream-data-not-started", SC_STREAM_DATA_NOT_STARTED, 0 },
    { "late-reply-flood", SC_LATE_REPLY_FLOOD, 0 },
    { "escape-version", SC_ESCAPE_VERSION, 0 },
    { "escape-strings", SC_ESCAPE_STRINGS, 0 },
    { "escape-inquiry", SC_ESCAPE_INQUIRY, 0 },
    { "escape-serial", SC_ESCAPE_SERIAL, 0 },
    { "protocol-error", SC_PROTOCOL_ERROR, 0 },
    { "garbage", SC_GARBAGE, 0 },
    { "slow-reader", SC_SLOW_READER, 0 },
    { "slowloris", SC_SLOWLORIS, 0 },
    { "slowloris-stall", SC_SLOWLORIS_STALL, 1 },
};

/* ---------------------------------------------------------------- options */

static struct {
    enum scenario sc;
    int at;
    int kind;
    int connections;
    const char *text;
    uint32_t blocks;
    double flood_seconds;
    const char *listen;
    const char *report;
    double deadline;
} opt;

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "hostile-host: %s\n", what);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A fixed-seed generator (xorshift32): the same "random" bytes every run. */
static uint32_t rng_state = 0x2545f491u;
static uint32_t rng(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

/* ---------------------------------------------------------------- output queue */

struct seg {
    struct seg *next;
    const uint8_t *data;      /* NULL: zeros */
    uint8_t *own;             /* freed with the segment (data == own) */
    size_t len, cap, off;
    int pace_ms;              /* > 0: one byte at a time, this far apart */
    bool close;               /* shut the write side when reached */
};

/* A request the guest made, for the length a reply may have. */
struct req {
    uint64_t id;
    uint32_t type;
    uint32_t length;
    uint8_t requesttype, request, endpoint;
    uint16_t value;
    bool used;
};
#define NREQ 1024

struct conn {
    int fd;
    bool hostile;             /* this connection gets the scenario */
    struct emuhost *emu;
    /* the guest's stream */
    uint8_t *gbuf;
    size_t glen, gcap;
    bool guest_hello, guest_bad;
    uint32_t guest_caps, host_caps;
    struct urg_wire w;        /* after both hellos */
    bool host_hello_seen;
    struct req reqs[NREQ];
    unsigned nreq;
    /* what goes to the guest */
    struct seg *head, *tail;
    size_t queued;
    double next_write;
    int pace_ms;              /* pacing of what is queued now */
    bool wclosed;             /* write side shut */
    bool reading;             /* read what the guest sends */
    double next_read;
    bool over;
    uint64_t written, read;   /* bytes, for the summary on stderr */
    uint64_t flood_bytes;     /* written while the flood lasted */
    /* state of the scenario */
    bool gone;                /* the device vanished: drop what it answers */
    bool drop_batch;          /* drop the rest of this batch */
    bool done;                /* the scenario's one-shot act happened */
    uint64_t replies;
    uint8_t *dev_ii, *dev_ei, *dev_dc; /* the device's packets, raw */
    size_t dev_ii_len, dev_ei_len, dev_dc_len;
    bool flooding;
    double flood_end;
    int flood_turn;
    uint8_t *flood_block[2];
    size_t flood_len[2];
    /* SCSI answered here (msc scenarios) */
    bool scsi;
    uint8_t scsi_op;
    uint32_t scsi_tag, scsi_expect;
    uint8_t scsi_data[64];
    uint32_t scsi_len, scsi_off;
};

static void seg_push(struct conn *c, struct seg *s)
{
    s->pace_ms = c->pace_ms;
    if (c->tail)
        c->tail->next = s;
    else
        c->head = s;
    c->tail = s;
    c->queued += s->len;
}

static void q_bytes(struct conn *c, const void *p, size_t n)
{
    struct seg *t = c->tail, *s;
    if (!n)
        return;
    if (t && t->own && !t->close && t->pace_ms == c->pace_ms && t->len + n <= t->cap) {
        memcpy(t->own + t->len, p, n);
        t->len += n;
        c->queued += n;
        return;
    }
    s = calloc(1, sizeof(*s));
    if (!s)
        die("out of memory");
    s->cap = n > 65536 ? n : 65536;
    s->own = xmalloc(s->cap);
    s->data = s->own;
    memcpy(s->own, p, n);
    s->len = n;
    seg_push(c, s);
}

/* Borrowed bytes (they outlive the connection's queue). */
static void q_static(struct conn *c, const uint8_t *p, size_t n)
{
    struct seg *s = calloc(1, sizeof(*s));
    if (!s)
        die("out of memory");
    s->data = p;
    s->len = n;
    seg_push(c, s);
}

static void q_zeros(struct conn *c, size_t n)
{
    struct seg *s = calloc(1, sizeof(*s));
    if (!s)
        die("out of memory");
    s->len = n;
    seg_push(c, s);
}

static void q_close(struct conn *c)
{
    struct seg *s = calloc(1, sizeof(*s));
    if (!s)
        die("out of memory");
    s->close = true;
    seg_push(c, s);
}

static void seg_pop(struct conn *c)
{
    struct seg *s = c->head;
    c->head = s->next;
    if (!c->head)
        c->tail = NULL;
    c->queued -= s->len - s->off;
    free(s->own);
    free(s);
}

/* ---------------------------------------------------------------- encoding */

static const struct urg_wire wire0 = { 0, 0 };

/* p->data == ZEROS: a payload of p->data_len zero bytes, never in memory. */
static const uint8_t zeros_marker[1];
#define ZEROS zeros_marker

static void emit(struct conn *c, const struct urg_packet *p)
{
    uint8_t h[16 + 288 + 64 + 1024];
    int n = urg_encode(p->type == URG_HELLO ? &wire0 : &c->w, URG_DIR_TO_GUEST, p, h, sizeof(h));
    if (n < 0) {
        fprintf(stderr, "hostile-host: cannot encode %s: %s\n", urg_type_name(p->type),
                urg_strerror(n));
        exit(2);
    }
    q_bytes(c, h, (size_t)n);
    if (p->type != URG_HELLO && p->data_len) {
        if (p->data == ZEROS)
            q_zeros(c, p->data_len);
        else
            q_bytes(c, p->data, p->data_len);
    }
}

/* A header as is, valid or not. */
static void emit_raw_header(struct conn *c, uint32_t type, uint32_t length, uint64_t id)
{
    uint8_t h[16];
    put_le32(h, type);
    put_le32(h + 4, length);
    put_le32(h + 8, (uint32_t)id);
    put_le32(h + 12, (uint32_t)(id >> 32));
    q_bytes(c, h, (size_t)urg_header_len(&c->w));
}

static void pkt_init(struct urg_packet *p, uint32_t type, uint64_t id)
{
    memset(p, 0, sizeof(*p));
    p->type = type;
    p->id = id;
}

static void emit_disconnect(struct conn *c)
{
    struct urg_packet p;
    pkt_init(&p, URG_DEVICE_DISCONNECT, 0);
    emit(c, &p);
}

static void emit_device(struct conn *c)
{
    q_bytes(c, c->dev_ii, c->dev_ii_len);
    q_bytes(c, c->dev_ei, c->dev_ei_len);
    q_bytes(c, c->dev_dc, c->dev_dc_len);
}

/* Encodes p into a new buffer (header and payload); *n its length. */
static uint8_t *encode_alloc(struct conn *c, const struct urg_packet *p, size_t *n)
{
    uint8_t h[16 + 288 + 64];
    int k = urg_encode(&c->w, URG_DIR_TO_GUEST, p, h, sizeof(h));
    uint8_t *b;
    if (k < 0)
        die("cannot encode a flood packet");
    b = xmalloc((size_t)k + p->data_len);
    memcpy(b, h, (size_t)k);
    if (p->data_len)
        memcpy(b + k, p->data, p->data_len);
    *n = (size_t)k + p->data_len;
    return b;
}

/* ---------------------------------------------------------------- requests */

static void req_note(struct conn *c, const struct urg_packet *p)
{
    struct req *r = &c->reqs[c->nreq++ % NREQ];
    memset(r, 0, sizeof(*r));
    r->id = p->id;
    r->type = p->type;
    r->used = true;
    if (p->type == URG_CONTROL_PACKET) {
        r->length = p->h.control.length;
        r->requesttype = p->h.control.requesttype;
        r->request = p->h.control.request;
        r->endpoint = p->h.control.endpoint;
        r->value = p->h.control.value;
    } else if (p->type == URG_BULK_PACKET) {
        r->length = p->h.bulk.length;
        r->endpoint = p->h.bulk.endpoint;
    }
}

static const struct req *req_find(const struct conn *c, uint64_t id, uint32_t type)
{
    unsigned i;
    for (i = 0; i < NREQ; i++) {
        const struct req *r = &c->reqs[(c->nreq - 1 - i) % NREQ];
        if (r->used && r->id == id && r->type == type)
            return r;
    }
    return NULL;
}

/* ---------------------------------------------------------------- crafted data */

/* "Evil" + ESC [ 2 J, BEL, DEL, U+009B, U+0085, a lone surrogate, CR, BS. */
static const uint16_t evil16[] = { 'E', 'v', 'i', 'l', 0x1b, '[', '2', 'J', 0x07, 0x7f,
                                   0x9b, 0x85, 0xd800, '\r', 0x08, '!' };
/* The hello's version: ESC [ 2 J, BEL, C2 9B (CSI), FF FE, DEL, 9B, 85. */
static const char evil_version[] = "emuhost\x1b[2J\x07\xc2\x9b"
                                   "6n\xff\xfe\x7f\x9b\x85"
                                   "end";

static uint16_t clip(size_t n, uint32_t max)
{
    return (uint16_t)(n < max ? n : max);
}

/* A string descriptor's replacement; returns its length. */
static size_t bad_string(uint8_t *b)
{
    size_t i, n;
    switch (opt.sc) {
    case SC_STRING_LEN0:
    case SC_STRING_LEN1:
        b[0] = opt.sc == SC_STRING_LEN0 ? 0 : 1;
        b[1] = 3;
        memcpy(b + 2, "Q\0E\0M\0U\0", 8);
        return 10;
    case SC_STRING_ODD:
        memcpy(b, "\x07\x03" "A\0B\0C", 7);
        return 7;
    default: /* escape-strings */
        n = sizeof(evil16) / sizeof(evil16[0]);
        b[0] = (uint8_t)(2 + 2 * n);
        b[1] = 3;
        for (i = 0; i < n; i++)
            put_le16(b + 2 + 2 * i, evil16[i]);
        return 2 + 2 * n;
    }
}

/* A configuration descriptor's replacement (at most 65535 bytes). */
static size_t bad_config(uint8_t *b)
{
    static const uint8_t zero[] = {
        9, 2, 34, 0, 1, 1, 0, 0xa0, 50,
        9, 4, 0, 0, 1, 3, 1, 1, 0,
        0, 0x24, 1, 2, 3, 4, 5, 6, 7,  /* bLength 0 */
        7, 5, 0x81, 3, 8, 0, 7,
    };
    static const uint8_t tail[] = {
        9, 2, 20, 0, 1, 1, 0, 0xa0, 50,
        9, 4, 0, 0, 1, 3, 1, 1, 0,
        9, 4, /* an interface descriptor header in the last 2 bytes */
    };
    switch (opt.sc) {
    case SC_CONFIG_WRAP:
        memset(b, 0xff, 65535);
        b[0] = 9;
        b[1] = 2;
        return 65535;
    case SC_CONFIG_ZERO:
        memcpy(b, zero, sizeof(zero));
        return sizeof(zero);
    case SC_CONFIG_TAIL1:
        memcpy(b, tail, sizeof(tail) - 1);
        b[2] = sizeof(tail) - 1;
        return sizeof(tail) - 1;
    default:
        memcpy(b, tail, sizeof(tail));
        return sizeof(tail);
    }
}

static size_t bad_report(uint8_t *b)
{
    static const uint8_t longi[] = {
        0x05, 0x01, 0x09, 0x06, 0xa1, 0x01,
        0xfe, 0x04, 0x10, 1, 2, 3, 4,          /* a long item, 4 data bytes */
        0x75, 0x08, 0x95, 0x01,
        0xfe, 0xff, 0x11, 0xaa, 0xbb,          /* claims 255 bytes, has 2 */
    };
    static const uint8_t trunc[] = {
        0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x75, 0x01, 0x95, 0x08,
        0x27, 0xff,                            /* Logical Maximum, 4 bytes: has 1 */
    };
    if (opt.sc == SC_HID_REPORT_LONG) {
        memcpy(b, longi, sizeof(longi));
        return sizeof(longi);
    }
    memcpy(b, trunc, sizeof(trunc));
    return sizeof(trunc);
}

/* A control reply the scenario changes: descriptors, vendor requests,
 * the first reply of protocol-error. Returns true if it emitted it. */
static bool mutate_control(struct conn *c, const struct urg_packet *p)
{
    const struct urg_control_packet *h = &p->h.control;
    const struct req *r = req_find(c, p->id, URG_CONTROL_PACKET);
    uint32_t want = r ? r->length : h->length;
    uint8_t type = (uint8_t)(h->value >> 8), index = (uint8_t)h->value;
    static uint8_t big[65536];
    struct urg_packet q = *p;
    size_t n;
    bool in = (h->endpoint & 0x80) != 0;
    if (h->status != URG_STATUS_SUCCESS)
        return false;
    switch (opt.sc) {
    case SC_STRING_LEN0:
    case SC_STRING_LEN1:
    case SC_STRING_ODD:
    case SC_ESCAPE_STRINGS:
        if (h->requesttype != 0x80 || h->request != 6 || type != 3 || index == 0)
            return false;
        n = bad_string(big);
        break;
    case SC_CONFIG_WRAP:
    case SC_CONFIG_ZERO:
    case SC_CONFIG_TAIL:
    case SC_CONFIG_TAIL1:
        if (h->requesttype != 0x80 || h->request != 6 || type != 2)
            return false;
        n = bad_config(big);
        break;
    case SC_CONFIG_STALL:
        /* The 9-byte header comes, the whole configuration stalls. */
        if (h->requesttype != 0x80 || h->request != 6 || type != 2 || want <= 9)
            return false;
        q.h.control.status = URG_STATUS_STALL;
        q.h.control.length = 0;
        q.data = NULL;
        q.data_len = 0;
        emit(c, &q);
        return true;
    case SC_HID_REPORT_LONG:
    case SC_HID_REPORT_TRUNCATED:
        if (h->requesttype != 0x81 || h->request != 6 || type != 0x22)
            return false;
        n = bad_report(big);
        break;
    case SC_SERIAL_VENDOR_SHORT:
        if ((h->requesttype & 0x60) != 0x40)
            return false;
        q.h.control.length = 0;
        q.data = NULL;
        q.data_len = 0;
        emit(c, &q);
        return true;
    case SC_SERIAL_VENDOR_GARBAGE:
        if ((h->requesttype & 0x60) != 0x40)
            return false;
        if (in) {
            for (n = 0; n < p->data_len; n++)
                big[n] = (uint8_t)rng();
            q.data = big;
        } else {
            q.h.control.status = 0x42;
        }
        emit(c, &q);
        return true;
    default:
        return false;
    }
    q.h.control.length = clip(n, want);
    q.data = big;
    q.data_len = q.h.control.length;
    emit(c, &q);
    return true;
}

/* protocol-error: the first control or bulk reply made longer than asked. */
static bool mutate_longer(struct conn *c, const struct urg_packet *p)
{
    static uint8_t more[65536 + 16];
    struct urg_packet q = *p;
    const struct req *r = req_find(c, p->id, p->type);
    uint32_t want = r ? r->length : 0;
    bool in = p->type == URG_CONTROL_PACKET ? (p->h.control.endpoint & 0x80) != 0
                                            : (p->h.bulk.endpoint & 0x80) != 0;
    if (in) {
        /* 16 bytes more than asked (the original payload, then 0x55). */
        uint32_t n = want + 16 < sizeof(more) ? want + 16 : (uint32_t)sizeof(more);
        memset(more, 0x55, n);
        if (p->data_len)
            memcpy(more, p->data, p->data_len < n ? p->data_len : n);
        q.data = more;
        q.data_len = n;
        if (p->type == URG_CONTROL_PACKET)
            q.h.control.length = (uint16_t)n;
        else
            q.h.bulk.length = n;
    } else if (p->type == URG_CONTROL_PACKET) {
        q.h.control.length = (uint16_t)(want + 16);
    } else {
        q.h.bulk.length = want + 16;
    }
    emit(c, &q);
    return true;
}

/* ---------------------------------------------------------------- floods */

/* interface_info, ep_info, device_connect of a device no port can carry
 * (an interrupt endpoint with interval 0), then device_disconnect. */
static void reject_set(struct conn *c, uint8_t **buf, size_t *len)
{
    struct urg_packet ii, ei, dc, dd;
    uint8_t *a, *b, *d, *e;
    size_t na, nb, nd, ne;
    pkt_init(&ii, URG_INTERFACE_INFO, 0);
    ii.h.interface_info.interface_count = 1;
    ii.h.interface_info.interface_class[0] = 3;
    ii.h.interface_info.interface_subclass[0] = 1;
    ii.h.interface_info.interface_protocol[0] = 1;
    pkt_init(&ei, URG_EP_INFO, 0);
    memset(ei.h.ep_info.type, URG_EP_INVALID, 32);
    ei.h.ep_info.type[0] = ei.h.ep_info.type[16] = URG_EP_CONTROL;
    ei.h.ep_info.max_packet_size[0] = ei.h.ep_info.max_packet_size[16] = 64;
    ei.h.ep_info.type[17] = URG_EP_INTERRUPT;
    ei.h.ep_info.interval[17] = 0;
    ei.h.ep_info.max_packet_size[17] = 8;
    pkt_init(&dc, URG_DEVICE_CONNECT, 0);
    dc.h.device_connect.speed = URG_SPEED_HIGH;
    dc.h.device_connect.vendor_id = 0x1234;
    dc.h.device_connect.product_id = 0x5678;
    pkt_init(&dd, URG_DEVICE_DISCONNECT, 0);
    a = encode_alloc(c, &ii, &na);
    b = encode_alloc(c, &ei, &nb);
    d = encode_alloc(c, &dc, &nd);
    e = encode_alloc(c, &dd, &ne);
    *len = na + nb + nd + ne;
    *buf = xmalloc(*len);
    memcpy(*buf, a, na);
    memcpy(*buf + na, b, nb);
    memcpy(*buf + na + nb, d, nd);
    memcpy(*buf + na + nb + nd, e, ne);
    free(a);
    free(b);
    free(d);
    free(e);
}

/* A block of n copies of unit. */
static uint8_t *repeat(const uint8_t *unit, size_t ulen, size_t n, size_t *len)
{
    uint8_t *b = xmalloc(ulen * n);
    size_t i;
    for (i = 0; i < n; i++)
        memcpy(b + i * ulen, unit, ulen);
    *len = ulen * n;
    return b;
}


/* The floods' two blocks, written in turn while the flood lasts. */
static void flood_start(struct conn *c)
{
    uint8_t *unit;
    size_t ulen;
    if (opt.sc == SC_NO_READ_DISCONNECT_FLOOD) {
        struct urg_packet dd;
        size_t nd;
        uint8_t *d;
        pkt_init(&dd, URG_DEVICE_DISCONNECT, 0);
        d = encode_alloc(c, &dd, &nd);
        c->flood_block[0] = repeat(d, nd, 4096, &c->flood_len[0]);
        ulen = c->dev_ii_len + c->dev_ei_len + c->dev_dc_len + nd;
        unit = xmalloc(ulen);
        memcpy(unit, c->dev_ii, c->dev_ii_len);
        memcpy(unit + c->dev_ii_len, c->dev_ei, c->dev_ei_len);
        memcpy(unit + c->dev_ii_len + c->dev_ei_len, c->dev_dc, c->dev_dc_len);
        memcpy(unit + ulen - nd, d, nd);
        c->flood_block[1] = repeat(unit, ulen, 16, &c->flood_len[1]);
        free(unit);
        free(d);
    } else {
        reject_set(c, &unit, &ulen);
        c->flood_block[0] = repeat(unit, ulen, 64, &c->flood_len[0]);
        c->flood_block[1] = repeat(unit, ulen, 64, &c->flood_len[1]);
        free(unit);
    }
    c->flooding = true;
    c->reading = false;
    c->flood_end = now() + opt.flood_seconds;
}

static void flood_fill(struct conn *c, double t)
{
    if (t >= c->flood_end) {
        /* Over: the device for good, and the guest is read again. */
        fprintf(stderr, "hostile-host: flood over: %llu bytes written in %g s, %zu queued\n",
                (unsigned long long)c->flood_bytes, opt.flood_seconds, c->queued);
        c->flooding = false;
        emit_device(c);
        c->reading = true;
        return;
    }
    while (c->queued < 512 * 1024) {
        int k = c->flood_turn++ & 1;
        q_static(c, c->flood_block[k], c->flood_len[k]);
    }
}

/* ---------------------------------------------------------------- SCSI */

static bool scsi_scenario(void)
{
    switch (opt.sc) {
    case SC_INQUIRY_SHORT:
    case SC_ESCAPE_INQUIRY:
    case SC_CSW_SIGNATURE:
    case SC_CSW_TAG:
    case SC_CSW_RESIDUE:
    case SC_CAPACITY_ZERO_BLOCK:
    case SC_CAPACITY_HUGE:
        return true;
    default:
        return false;
    }
}

/* Whether this command is answered here; fills its data. */
static bool scsi_take(struct conn *c, uint8_t op)
{
    uint8_t *d = c->scsi_data;
    memset(d, 0, sizeof(c->scsi_data));
    switch (opt.sc) {
    case SC_INQUIRY_SHORT:
    case SC_ESCAPE_INQUIRY:
    case SC_CSW_SIGNATURE:
    case SC_CSW_TAG:
    case SC_CSW_RESIDUE:
        if (op != 0x12)
            return false;
        d[2] = 0x05;
        d[3] = 0x02;
        d[4] = 31;
        if (opt.sc == SC_INQUIRY_SHORT) {
            c->scsi_len = 5;
            return true;
        }
        if (opt.sc == SC_ESCAPE_INQUIRY) {
            memcpy(d + 8, "\x1b[2J\x07\x9b\x85\x7f", 8);
            memcpy(d + 16, "\xc2\x9b" "1;1H" "\xff\xfe" "\x1b]0;x\x07" "zz", 16);
            memcpy(d + 32, "\r\b\x1bZ", 4);
        } else {
            memcpy(d + 8, "URG     ", 8);
            memcpy(d + 16, "EMULATED DISK   ", 16);
            memcpy(d + 32, "0.1 ", 4);
        }
        c->scsi_len = 36;
        return true;
    case SC_CAPACITY_ZERO_BLOCK:
        if (op != 0x25)
            return false;
        put_be32(d, opt.blocks - 1);
        put_be32(d + 4, 0);
        c->scsi_len = 8;
        return true;
    case SC_CAPACITY_HUGE:
        if (op == 0x25) {
            put_be32(d, 0xffffffffu);
            put_be32(d + 4, 512);
            c->scsi_len = 8;
            return true;
        }
        if (op == 0x9e) {
            memset(d, 0xff, 8);
            put_be32(d + 8, 512);
            c->scsi_len = 32;
            return true;
        }
        return false;
    default:
        return false;
    }
}

static void bulk_reply(struct conn *c, uint64_t id, uint8_t ep, uint32_t len, const uint8_t *data)
{
    struct urg_packet p;
    pkt_init(&p, URG_BULK_PACKET, id);
    p.h.bulk.endpoint = ep;
    p.h.bulk.status = URG_STATUS_SUCCESS;
    p.h.bulk.length = len;
    if (ep & 0x80) {
        p.data = data;
        p.data_len = len;
    }
    emit(c, &p);
    c->replies++;
}

/* Bulk packets of the msc scenarios: a CBW this program answers, and the
 * data and status stages that follow it. Returns true when handled. */
static bool scsi_packet(struct conn *c, const struct urg_packet *p)
{
    uint8_t ep = p->h.bulk.endpoint;
    if (!(ep & 0x80) && p->data_len == 31 && le32(p->data) == 0x43425355u) {
        if (!scsi_take(c, p->data[15]))
            return false;
        c->scsi = true;
        c->scsi_op = p->data[15];
        c->scsi_tag = le32(p->data + 4);
        c->scsi_expect = le32(p->data + 8);
        c->scsi_off = 0;
        bulk_reply(c, p->id, ep, 31, NULL);
        return true;
    }
    if (!(ep & 0x80) || !c->scsi)
        return false;
    if (c->scsi_off < c->scsi_len) {
        uint32_t n = c->scsi_len - c->scsi_off;
        if (n > p->h.bulk.length)
            n = p->h.bulk.length;
        bulk_reply(c, p->id, ep, n, c->scsi_data + c->scsi_off);
        c->scsi_off += n;
    } else {
        uint8_t csw[13];
        uint32_t residue = c->scsi_expect > c->scsi_len ? c->scsi_expect - c->scsi_len : 0;
        put_le32(csw, opt.sc == SC_CSW_SIGNATURE ? 0x58425355u : 0x53425355u);
        put_le32(csw + 4, opt.sc == SC_CSW_TAG ? c->scsi_tag + 1 : c->scsi_tag);
        put_le32(csw + 8, opt.sc == SC_CSW_RESIDUE ? 0xffffffffu : residue);
        csw[12] = 0;
        bulk_reply(c, p->id, ep, p->h.bulk.length < 13 ? p->h.bulk.length : 13, csw);
        c->scsi = false;
    }
    return true;
}

/* ---------------------------------------------------------------- host packets */

/* Replies and stream data: the points a scenario acts at. */
static bool is_point(uint32_t type)
{
    switch (type) {
    case URG_HELLO:
    case URG_DEVICE_CONNECT:
    case URG_DEVICE_DISCONNECT:
    case URG_INTERFACE_INFO:
    case URG_EP_INFO:
    case URG_FILTER_REJECT:
    case URG_FILTER_FILTER:
    case URG_DEVICE_DISCONNECT_ACK:
        return false;
    default:
        return true;
    }
}

static void save(uint8_t **to, size_t *len, const uint8_t *raw, size_t n)
{
    if (*to)
        return;
    *to = xmalloc(n);
    memcpy(*to, raw, n);
    *len = n;
}

static uint8_t bulk_in_ep(void)
{
    switch (opt.kind) {
    case EMU_SERIAL:
    case EMU_CP210X:
    case EMU_MSC:
        return 0x81;
    case EMU_PL2303:
        return 0x83;
    default:
        return 0x82; /* the keyboard and the mouse have none */
    }
}

static void huge_buffered_bulk(struct conn *c, uint8_t ep)
{
    struct urg_packet p;
    pkt_init(&p, URG_BUFFERED_BULK_PACKET, 1000000);
    p.h.buffered_bulk.endpoint = ep;
    p.h.buffered_bulk.length = URG_MAX_BULK_LENGTH;
    p.data = ZEROS;
    p.data_len = URG_MAX_BULK_LENGTH;
    emit(c, &p);
}

/* Stream data for streams nobody started, right after device_connect. */
/* Queues packet p, encoded, count times in a row. */
static void q_repeated(struct conn *c, const struct urg_packet *p, size_t count)
{
    size_t n, len;
    uint8_t *u = encode_alloc(c, p, &n), *b = repeat(u, n, count, &len);
    q_bytes(c, b, len);
    free(u);
    free(b);
}

static void stream_junk(struct conn *c)
{
    static const uint8_t key_a[8] = { 0, 0, 0x04, 0, 0, 0, 0, 0 };
    static uint8_t iso[1023], bulk[512];
    struct urg_packet p;
    memset(iso, 0xaa, sizeof(iso));
    memset(bulk, 'x', sizeof(bulk));
    pkt_init(&p, URG_INTERRUPT_PACKET, 0);
    p.h.interrupt.endpoint = 0x81;
    p.h.interrupt.length = 8;
    p.data = key_a;
    p.data_len = 8;
    q_repeated(c, &p, 50000);
    pkt_init(&p, URG_ISO_PACKET, 0);
    p.h.iso.endpoint = 0x82;
    p.h.iso.length = sizeof(iso);
    p.data = iso;
    p.data_len = sizeof(iso);
    q_repeated(c, &p, 2000);
    pkt_init(&p, URG_BUFFERED_BULK_PACKET, 0);
    p.h.buffered_bulk.endpoint = 0x83;
    p.h.buffered_bulk.length = sizeof(bulk);
    p.data = bulk;
    p.data_len = sizeof(bulk);
    q_repeated(c, &p, 5000);
}

/* Replies to ids the guest never used. */
static void late_replies(struct conn *c)
{
    static const uint8_t desc[18] = { 18, 1, 0, 2, 0, 0, 0, 64, 0x34, 0x12, 0x78, 0x56,
                                      0, 1, 1, 2, 3, 1 };
    uint64_t base = c->w.id64 ? (uint64_t)1 << 40 : 0xf0000000u;
    uint32_t i;
    for (i = 0; i < 50000; i++) {
        struct urg_packet p;
        pkt_init(&p, URG_CONTROL_PACKET, base + 2 * i);
        p.h.control.endpoint = 0x80;
        p.h.control.request = 6;
        p.h.control.requesttype = 0x80;
        p.h.control.value = 0x0100;
        p.h.control.length = sizeof(desc);
        p.data = desc;
        p.data_len = sizeof(desc);
        emit(c, &p);
        pkt_init(&p, URG_BULK_PACKET, base + 2 * i + 1);
        p.h.bulk.endpoint = 0x81;
        p.h.bulk.length = 0;
        emit(c, &p);
    }
}

/* One packet of the emulated host's, on its way to the guest. */
static void host_packet(struct conn *c, const struct urg_packet *p, const uint8_t *raw,
                        size_t len)
{
    bool point = is_point(p->type), at;
    if (p->type == URG_HELLO) {
        c->host_hello_seen = true;
        if (c->hostile && opt.sc == SC_ESCAPE_VERSION) {
            struct urg_packet q = *p;
            snprintf(q.h.hello.version, sizeof(q.h.hello.version), "%s", evil_version);
            emit(c, &q);
        } else {
            q_bytes(c, raw, len);
        }
        if (c->hostile && opt.sc == SC_GARBAGE) {
            uint8_t junk[4096];
            size_t i;
            for (i = 0; i < sizeof(junk); i++)
                junk[i] = (uint8_t)rng();
            q_bytes(c, junk, sizeof(junk));
            q_close(c);
            c->gone = true;
        }
        return;
    }
    if (p->type == URG_INTERFACE_INFO)
        save(&c->dev_ii, &c->dev_ii_len, raw, len);
    else if (p->type == URG_EP_INFO)
        save(&c->dev_ei, &c->dev_ei_len, raw, len);
    else if (p->type == URG_DEVICE_CONNECT)
        save(&c->dev_dc, &c->dev_dc_len, raw, len);
    if (c->gone || c->drop_batch)
        return;
    if (!c->hostile) {
        q_bytes(c, raw, len);
        return;
    }
    if (point)
        c->replies++;
    /* At the point --at: device_connect for 0, else the at-th reply. */
    at = (p->type == URG_DEVICE_CONNECT && opt.at == 0) ||
         (point && c->replies == (uint64_t)opt.at);
    switch (opt.sc) {
    case SC_CONNECT_THEN_DISCONNECT:
        q_bytes(c, raw, len);
        if (p->type == URG_DEVICE_CONNECT) {
            emit_disconnect(c);
            c->gone = true;
        }
        return;
    case SC_CONNECT_THEN_GARBAGE:
        q_bytes(c, raw, len);
        if (p->type == URG_DEVICE_CONNECT) {
            emit_raw_header(c, 0x7777, 0, 0);
            c->gone = true;
        }
        return;
    case SC_DISCONNECT_WITH_REPLY:
        q_bytes(c, raw, len);
        if (at) {
            emit_disconnect(c);
            c->gone = true;
        }
        return;
    case SC_UNPLUG_REPLUG:
        q_bytes(c, raw, len);
        if (at && !c->done) {
            emit_disconnect(c);
            emit_device(c);
            c->drop_batch = true;
            c->done = true;
        }
        return;
    case SC_CLOSE_MID_HEADER:
        if (point && c->replies == (uint64_t)opt.at) {
            q_bytes(c, raw, len < 7 ? len : 7);
            q_close(c);
            c->gone = true;
            return;
        }
        break;
    case SC_CLOSE_MID_PAYLOAD:
    case SC_CLOSE_MID_BULK:
        if (point && p->data_len >= (opt.sc == SC_CLOSE_MID_BULK ? 4096u : 8u)) {
            q_bytes(c, raw, len - p->data_len + p->data_len / 2);
            q_close(c);
            c->gone = true;
            return;
        }
        break;
    case SC_CLOSE_AFTER_ATTACH:
        q_bytes(c, raw, len);
        if (at) {
            q_close(c);
            c->gone = true;
        }
        return;
    case SC_STRING_LEN0:
    case SC_STRING_LEN1:
    case SC_STRING_ODD:
    case SC_ESCAPE_STRINGS:
    case SC_CONFIG_WRAP:
    case SC_CONFIG_ZERO:
    case SC_CONFIG_TAIL:
    case SC_CONFIG_TAIL1:
    case SC_CONFIG_STALL:
    case SC_HID_REPORT_LONG:
    case SC_HID_REPORT_TRUNCATED:
    case SC_SERIAL_VENDOR_SHORT:
    case SC_SERIAL_VENDOR_GARBAGE:
        if (p->type == URG_CONTROL_PACKET && mutate_control(c, p))
            return;
        break;
    case SC_PROTOCOL_ERROR:
        if (!c->done && (p->type == URG_CONTROL_PACKET || p->type == URG_BULK_PACKET) &&
            mutate_longer(c, p)) {
            c->done = true;
            return;
        }
        break;
    case SC_NO_READ_DISCONNECT_FLOOD:
    case SC_NO_READ_REJECT_FLOOD:
        if (!c->done && (p->type == URG_INTERFACE_INFO || p->type == URG_EP_INFO))
            return; /* sent when the flood is over (emit_device) */
        if (!c->done && p->type == URG_DEVICE_CONNECT) {
            c->done = true;
            flood_start(c);
            return;
        }
        break;
    case SC_HUGE_BUFFERED_BULK:
        q_bytes(c, raw, len);
        if (p->type == URG_DEVICE_CONNECT)
            huge_buffered_bulk(c, bulk_in_ep());
        if (p->type == URG_BULK_RECEIVING_STATUS && !c->done &&
            p->h.bulk_receiving_status.status == URG_STATUS_SUCCESS) {
            huge_buffered_bulk(c, p->h.bulk_receiving_status.endpoint);
            c->done = true;
        }
        return;
    case SC_HUGE_INTERRUPT:
    case SC_HUGE_INTERRUPT_FLOOD:
        q_bytes(c, raw, len);
        if (p->type == URG_INTERRUPT_RECEIVING_STATUS && !c->done &&
            p->h.interrupt_receiving_status.status == URG_STATUS_SUCCESS) {
            int i, n = opt.sc == SC_HUGE_INTERRUPT ? 1 : 2000;
            for (i = 0; i < n; i++) {
                struct urg_packet q;
                pkt_init(&q, URG_INTERRUPT_PACKET, 500000 + (uint64_t)i);
                q.h.interrupt.endpoint = p->h.interrupt_receiving_status.endpoint;
                q.h.interrupt.length = 65535;
                q.data = ZEROS;
                q.data_len = 65535;
                emit(c, &q);
            }
            c->done = true;
        }
        return;
    case SC_ESCAPE_SERIAL:
        q_bytes(c, raw, len);
        if (p->type == URG_BULK_RECEIVING_STATUS && !c->done &&
            p->h.bulk_receiving_status.status == URG_STATUS_SUCCESS) {
            /* One FTDI block: its 2-byte modem/line status, then the data. */
            static const uint8_t block[] = { 0x01, 0x60, 'E', 'v', 'i', 'l', 0x1b, '[', '2', 'J',
                                             0x07, 0x7f, 0xc2, 0x9b, '3', '1', 'm', 0x1b, ']',
                                             '0', ';', 't', 0x07, 0xff, 0xfe, '\r', '\n' };
            struct urg_packet q;
            pkt_init(&q, URG_BUFFERED_BULK_PACKET, 700000);
            q.h.buffered_bulk.endpoint = p->h.bulk_receiving_status.endpoint;
            q.h.buffered_bulk.length = sizeof(block);
            q.data = block;
            q.data_len = sizeof(block);
            emit(c, &q);
            c->done = true;
        }
        return;
    case SC_STREAM_DATA_NOT_STARTED:
    case SC_LATE_REPLY_FLOOD:
        /* Right after device_connect, once. */
        q_bytes(c, raw, len);
        if (p->type == URG_DEVICE_CONNECT && !c->done) {
            if (opt.sc == SC_STREAM_DATA_NOT_STARTED)
                stream_junk(c);
            else
                late_replies(c);
            c->done = true;
        }
        return;
    case SC_SLOWLORIS_STALL:
        if (point && c->replies == (uint64_t)opt.at)
            c->pace_ms = 100;
        break;
    default:
        break;
    }
    q_bytes(c, raw, len);
}

/* Whatever the emulated host has queued for the guest, through the
 * scenario. */
static void pump_emu(struct conn *c)
{
    size_t n, off = 0;
    const uint8_t *b = emu_output(c->emu, &n);
    c->drop_batch = false;
    while (off < n) {
        struct urg_packet p;
        size_t used;
        int r = urg_decode(c->host_hello_seen ? &c->w : &wire0, URG_DIR_TO_GUEST, b + off,
                           n - off, URG_DEFAULT_MAX_PACKET_SIZE, &p, &used);
        if (r) {
            fprintf(stderr, "hostile-host: cannot decode the emulated host's output: %s\n",
                    urg_strerror(r));
            exit(2);
        }
        host_packet(c, &p, b + off, used);
        off += used;
    }
    emu_consume(c->emu, n);
}

/* ---------------------------------------------------------------- guest packets */

static void forward(struct conn *c, const uint8_t *raw, size_t n)
{
    emu_recv(c->emu, raw, n); /* the emulated host reports what it refuses */
    if (c->guest_hello)
        pump_emu(c);
}

static void guest_packet(struct conn *c, const struct urg_packet *p, const uint8_t *raw,
                         size_t n)
{
    if (p->type == URG_HELLO) {
        c->guest_hello = true;
        c->guest_caps = p->h.hello.caps_words ? p->h.hello.caps[0] : 0;
        c->w = urg_wire_from_caps(c->host_caps, c->guest_caps);
        forward(c, raw, n);
        return;
    }
    if (p->type == URG_CONTROL_PACKET || p->type == URG_BULK_PACKET)
        req_note(c, p);
    if (c->hostile && scsi_scenario() && p->type == URG_BULK_PACKET && scsi_packet(c, p))
        return;
    forward(c, raw, n);
}

static void guest_bytes(struct conn *c, const uint8_t *buf, size_t n)
{
    size_t off = 0;
    if (c->guest_bad) {
        forward(c, buf, n);
        return;
    }
    if (c->glen + n > c->gcap) {
        c->gcap = (c->glen + n) * 2;
        c->gbuf = realloc(c->gbuf, c->gcap);
        if (!c->gbuf)
            die("out of memory");
    }
    memcpy(c->gbuf + c->glen, buf, n);
    c->glen += n;
    while (off < c->glen) {
        struct urg_packet p;
        size_t used;
        int r = urg_decode(c->guest_hello ? &c->w : &wire0, URG_DIR_TO_HOST, c->gbuf + off,
                           c->glen - off, URG_DEFAULT_MAX_PACKET_SIZE, &p, &used);
        if (r == URG_ERR_AGAIN)
            break;
        if (r) {
            /* Not ours to judge: the emulated host gets the rest as is. */
            fprintf(stderr, "hostile-host: the guest sent a bad packet: %s\n", urg_strerror(r));
            c->guest_bad = true;
            forward(c, c->gbuf + off, c->glen - off);
            off = c->glen;
            break;
        }
        guest_packet(c, &p, c->gbuf + off, used);
        off += used;
    }
    memmove(c->gbuf, c->gbuf + off, c->glen - off);
    c->glen -= off;
}

/* ---------------------------------------------------------------- the socket */

static void flush(struct conn *c)
{
    static const uint8_t zeros[65536];
    while (c->head && !c->over) {
        struct seg *s = c->head;
        const uint8_t *b;
        size_t n;
        ssize_t w;
        if (s->close) {
            shutdown(c->fd, SHUT_WR);
            c->wclosed = true;
            seg_pop(c);
            continue;
        }
        if (s->off == s->len || c->wclosed) {
            seg_pop(c);
            continue;
        }
        n = s->len - s->off;
        if (s->pace_ms) {
            if (now() < c->next_write)
                return;
            n = 1;
        }
        b = s->data ? s->data + s->off : zeros;
        if (!s->data && n > sizeof(zeros))
            n = sizeof(zeros);
        w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->over = true; /* the guest is gone */
            return;
        }
        s->off += (size_t)w;
        c->queued -= (size_t)w;
        c->written += (uint64_t)w;
        if (c->flooding)
            c->flood_bytes += (uint64_t)w;
        if (s->pace_ms)
            c->next_write = now() + s->pace_ms / 1000.0;
    }
}

static int ms_until(double wait)
{
    if (wait <= 0)
        return 0;
    if (wait > 3600)
        return 3600 * 1000;
    return (int)(wait * 1000) + 1;
}

/* Serves one connection; returns the replies sent. */
static uint64_t serve(int fd, bool hostile, double deadline)
{
    struct conn *c = calloc(1, sizeof(*c));
    struct emu_config ec;
    bool slow_reader = hostile && opt.sc == SC_SLOW_READER;
    uint64_t replies;
    int one = 1, i;
    if (!c)
        die("out of memory");
    c->fd = fd;
    c->hostile = hostile;
    c->reading = true;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    emu_config_init(&ec, opt.kind);
    ec.text = opt.text;
    ec.blocks = opt.blocks;
    c->host_caps = ec.caps;
    c->emu = emu_new(&ec);
    if (!c->emu)
        die("cannot make the emulated host");
    if (hostile && opt.sc == SC_SLOWLORIS)
        c->pace_ms = 1;
    while (!stop && !c->over) {
        double t = now(), wait = deadline - t;
        struct pollfd pfd;
        int r;
        if (wait <= 0)
            break;
        if (c->flooding)
            flood_fill(c, t);
        flush(c);
        if (c->flooding)
            flood_fill(c, now()); /* never an empty queue while it lasts */
        if (c->over)
            break;
        pfd.fd = fd;
        pfd.events = 0;
        pfd.revents = 0;
        if (c->reading || c->wclosed) {
            if (slow_reader && t < c->next_read && c->next_read - t < wait)
                wait = c->next_read - t;
            else
                pfd.events |= POLLIN;
        } else {
            pfd.events |= POLLRDHUP; /* not reading: notice the guest leaving */
        }
        if (c->head) {
            if (c->head->pace_ms && t < c->next_write) {
                if (c->next_write - t < wait)
                    wait = c->next_write - t;
            } else {
                pfd.events |= POLLOUT;
            }
        }
        if (c->flooding && c->flood_end - t < wait)
            wait = c->flood_end - t;
        r = poll(&pfd, 1, ms_until(wait));
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if (pfd.revents & POLLIN) {
            uint8_t buf[65536];
            ssize_t n = read(fd, buf, slow_reader ? 61 : sizeof(buf));
            if (n > 0) {
                c->read += (uint64_t)n;
                if (!c->wclosed)
                    guest_bytes(c, buf, (size_t)n);
                if (slow_reader)
                    c->next_read = now() + 0.001;
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                c->over = true; /* the guest closed */
            }
        } else if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
            c->over = true;
        }
    }
    replies = c->replies;
    fprintf(stderr, "hostile-host: %s connection: %llu bytes written, %llu read, %llu replies\n",
            hostile ? "hostile" : "correct", (unsigned long long)c->written,
            (unsigned long long)c->read, (unsigned long long)c->replies);
    while (c->head)
        seg_pop(c);
    emu_free(c->emu);
    close(fd);
    free(c->gbuf);
    free(c->dev_ii);
    free(c->dev_ei);
    free(c->dev_dc);
    for (i = 0; i < 2; i++)
        free(c->flood_block[i]);
    free(c);
    return replies;
}

/* ---------------------------------------------------------------- main */

static int listen_on(const char *text, char *shown, size_t cap)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    char host[64];
    const char *colon = strrchr(text, ':');
    int fd, one = 1;
    if (!colon || (size_t)(colon - text) >= sizeof(host))
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = 0;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4) ||
        getsockname(fd, (struct sockaddr *)&a, &al)) {
        close(fd);
        return -1;
    }
    inet_ntop(AF_INET, &a.sin_addr, host, sizeof(host));
    snprintf(shown, cap, "%s:%u", host, ntohs(a.sin_port));
    return fd;
}

static void usage(void)
{
    size_t i;
    fprintf(stderr, "usage: hostile-host --scenario NAME[-N] [--kind KIND] [--at N] "
                    "[--connections K] [--text T] [--blocks N] [--flood-seconds S] "
                    "[--listen ADDR] [--report FILE] [--deadline S]\nscenarios:");
    for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        fprintf(stderr, " %s", scenarios[i].name);
    fprintf(stderr, "\n");
    exit(2);
}

static bool set_scenario(const char *name)
{
    size_t i, n = strlen(name);
    for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        size_t k = strlen(scenarios[i].name);
        if (!strcmp(name, scenarios[i].name)) {
            opt.sc = scenarios[i].sc;
            opt.at = scenarios[i].at;
            return true;
        }
        /* NAME-N */
        if (n > k + 1 && !strncmp(name, scenarios[i].name, k) && name[k] == '-' &&
            strspn(name + k + 1, "0123456789") == n - k - 1) {
            opt.sc = scenarios[i].sc;
            opt.at = atoi(name + k + 1);
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    char shown[128];
    uint64_t first_replies = 0;
    double deadline;
    int i, lfd, served = 0, have_scenario = 0, at = -1;
    opt.kind = EMU_KEYBOARD;
    opt.connections = 1;
    opt.text = "hello";
    opt.blocks = 512;
    opt.flood_seconds = 3;
    opt.listen = "127.0.0.1:0";
    opt.deadline = 60;
    for (i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int k;
        if (!v)
            usage();
        if (!strcmp(argv[i], "--scenario")) {
            if (!set_scenario(v))
                usage();
            have_scenario = 1;
        } else if (!strcmp(argv[i], "--kind")) {
            if ((k = emu_kind_parse(v)) < 0)
                usage();
            opt.kind = k;
        } else if (!strcmp(argv[i], "--at")) {
            at = atoi(v);
        } else if (!strcmp(argv[i], "--connections")) {
            opt.connections = atoi(v) > 0 ? atoi(v) : 1;
        } else if (!strcmp(argv[i], "--text")) {
            opt.text = v;
        } else if (!strcmp(argv[i], "--blocks")) {
            opt.blocks = (uint32_t)strtoul(v, NULL, 0);
        } else if (!strcmp(argv[i], "--flood-seconds")) {
            opt.flood_seconds = atof(v);
        } else if (!strcmp(argv[i], "--listen")) {
            opt.listen = v;
        } else if (!strcmp(argv[i], "--report")) {
            opt.report = v;
        } else if (!strcmp(argv[i], "--deadline")) {
            opt.deadline = atof(v);
        } else {
            usage();
        }
    }
    if (!have_scenario)
        usage();
    if (at >= 0)
        opt.at = at;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    deadline = now() + opt.deadline;
    lfd = listen_on(opt.listen, shown, sizeof(shown));
    if (lfd < 0) {
        fprintf(stderr, "hostile-host: cannot listen on %s: %s\n", opt.listen, strerror(errno));
        return 1;
    }
    printf("listening on %s\n", shown);
    fflush(stdout);
    while (!stop && served < opt.connections && now() < deadline) {
        struct pollfd pfd = { lfd, POLLIN, 0 };
        int fd;
        uint64_t r;
        if (poll(&pfd, 1, ms_until(deadline - now())) <= 0)
            continue;
        fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        r = serve(fd, served == 0, deadline);
        if (served++ == 0)
            first_replies = r;
    }
    close(lfd);
    if (opt.report) {
        FILE *f = fopen(opt.report, "w");
        if (f) {
            fprintf(f, "replies %llu\nconnections %d\n", (unsigned long long)first_replies,
                    served);
            fclose(f);
        }
    }
    return 0;
}

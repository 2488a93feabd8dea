/*
 * serial.c - the serial command: USB serial adapters (FTDI, Silicon Labs
 * CP210x, Prolific PL2303). Sets the line up (baud rate, 8N1, DTR and RTS
 * on) with the adapter's own requests, then copies what arrives on its bulk
 * IN endpoint to stdout (the model reads it with buffered bulk receiving;
 * FTDI's 2-byte status headers are stripped) and sends --send TEXT and what
 * comes on stdin to its bulk OUT endpoint. What the device sends is
 * escaped (parse.h; line ends and tabs pass) unless --raw.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "cli.h"
#include "parse.h"

enum adapter { FTDI, CP210X, PL2303 };

static const struct {
    uint16_t vendor, product;
    enum adapter kind;
    const char *name;
} adapters[] = {
    { 0x0403, 0x6001, FTDI, "FTDI FT232R" },      { 0x0403, 0x6010, FTDI, "FTDI FT2232" },
    { 0x0403, 0x6011, FTDI, "FTDI FT4232" },      { 0x0403, 0x6014, FTDI, "FTDI FT232H" },
    { 0x0403, 0x6015, FTDI, "FTDI FT-X" },        { 0x10c4, 0xea60, CP210X, "CP210x" },
    { 0x10c4, 0xea61, CP210X, "CP210x" },         { 0x10c4, 0xea63, CP210X, "CP210x" },
    { 0x10c4, 0xea70, CP210X, "CP2105" },         { 0x10c4, 0xea71, CP210X, "CP2108" },
    { 0x10c4, 0xea80, CP210X, "CP2110" },         { 0x067b, 0x2303, PL2303, "PL2303" },
    { 0x067b, 0x2304, PL2303, "PL2303" },         { 0x067b, 0x23a3, PL2303, "PL2303GC" },
    { 0x067b, 0x23b3, PL2303, "PL2303GB" },       { 0x067b, 0x23c3, PL2303, "PL2303GT" },
    { 0x067b, 0x23d3, PL2303, "PL2303GL" },       { 0x067b, 0x23e3, PL2303, "PL2303GE" },
    { 0x067b, 0x23f3, PL2303, "PL2303GS" },
};

struct serial_opts {
    uint32_t baud;
    const char *send;
    uint64_t bytes;          /* stop after this many bytes (0: no limit) */
    double idle;             /* stop after this much silence (0: never) */
    int no_input;
    int raw;                 /* the device's bytes unchanged to stdout */
};

struct port {
    struct conn *c;
    const struct common *o;
    enum adapter kind;
    int iface;
    uint16_t index;          /* wIndex of the adapter's requests */
    uint8_t in, out;
    uint16_t mps;
};

/* ---------------------------------------------------------------- line setup */

static int req(struct port *p, uint8_t rt, uint8_t r, uint16_t value, uint16_t index, void *buf,
               uint16_t len)
{
    uint32_t got = 0;
    int st = conn_control(p->c, rt, r, value, index, buf, len, &got);
    if (st == URG_URB_SUCCESS || st == URG_URB_SHORT)
        return 0;
    if (st >= 0 && !conn_over(p->c))
        cli_error(p->o, "adapter request 0x%02x/0x%02x: %s", rt, r, urg_urb_status_name(st));
    return -1;
}

/* FTDI's baud divisor: 3 MHz over an integer plus eighths. */
static void ftdi_divisor(uint32_t baud, uint16_t *value, uint16_t *index)
{
    static const uint8_t code[8] = { 0, 3, 2, 4, 1, 5, 6, 7 }; /* eighths -> bits */
    uint32_t div8 = (3000000u * 8 + baud / 2) / baud;
    if (baud >= 3000000) {
        *value = 0;
        *index = 0;
        return;
    }
    if (div8 < 16)
        div8 = 16; /* 2 is the least divisor but 0 and 1 */
    *value = (uint16_t)((div8 >> 3) | (uint32_t)(code[div8 & 7] & 3) << 14);
    *index = (uint16_t)(code[div8 & 7] >> 2);
}

static int setup(struct port *p, uint32_t baud)
{
    uint8_t b[7];
    switch (p->kind) {
    case FTDI: {
        uint16_t v, hi;
        ftdi_divisor(baud, &v, &hi);
        return req(p, 0x40, 0x00, 0x0000, p->index, NULL, 0) ||        /* reset */
               req(p, 0x40, 0x01, 0x0303, p->index, NULL, 0) ||        /* DTR, RTS on */
               req(p, 0x40, 0x02, 0x0000, p->index, NULL, 0) ||        /* no flow control */
               req(p, 0x40, 0x03, v, (uint16_t)(hi << (p->index ? 8 : 0)) | p->index, NULL,
                   0) ||                                                 /* baud rate */
               req(p, 0x40, 0x04, 0x0008, p->index, NULL, 0) ||        /* 8N1 */
               req(p, 0x40, 0x09, 16, p->index, NULL, 0)               /* latency 16 ms */
                   ? -1
                   : 0;
    }
    case CP210X:
        b[0] = (uint8_t)baud;
        b[1] = (uint8_t)(baud >> 8);
        b[2] = (uint8_t)(baud >> 16);
        b[3] = (uint8_t)(baud >> 24);
        return req(p, 0x41, 0x00, 0x0001, p->index, NULL, 0) ||        /* IFC_ENABLE */
               req(p, 0x41, 0x03, 0x0800, p->index, NULL, 0) ||        /* SET_LINE_CTL 8N1 */
               req(p, 0x41, 0x1e, 0x0000, p->index, b, 4) ||           /* SET_BAUDRATE */
               req(p, 0x41, 0x07, 0x0303, p->index, NULL, 0)           /* SET_MHS DTR, RTS */
                   ? -1
                   : 0;
    case PL2303: {
        /* The vendor handshake Prolific's chips expect (as Linux does it). */
        static const struct {
            int write;
            uint16_t value, index;
        } init[] = {
            { 0, 0x8484, 0 }, { 1, 0x0404, 0 }, { 0, 0x8484, 0 }, { 0, 0x8383, 0 },
            { 0, 0x8484, 0 }, { 1, 0x0404, 1 }, { 0, 0x8484, 0 }, { 0, 0x8383, 0 },
            { 1, 0x0000, 1 }, { 1, 0x0001, 0 }, { 1, 0x0002, 0x44 },
        };
        size_t i;
        for (i = 0; i < sizeof(init) / sizeof(init[0]); i++) {
            uint8_t one;
            if (init[i].write ? req(p, 0x40, 0x01, init[i].value, init[i].index, NULL, 0)
                              : req(p, 0xc0, 0x01, init[i].value, init[i].index, &one, 1))
                return -1;
        }
        b[0] = (uint8_t)baud;
        b[1] = (uint8_t)(baud >> 8);
        b[2] = (uint8_t)(baud >> 16);
        b[3] = (uint8_t)(baud >> 24);
        b[4] = 0; /* 1 stop bit */
        b[5] = 0; /* no parity */
        b[6] = 8; /* 8 data bits */
        return req(p, 0x21, 0x20, 0, (uint16_t)p->iface, b, 7) ||          /* SET_LINE_CODING */
               req(p, 0x21, 0x22, 0x0003, (uint16_t)p->iface, NULL, 0)     /* DTR, RTS */
                   ? -1
                   : 0;
    }
    }
    return -1;
}

/* ---------------------------------------------------------------- data */

/* "\r\n" and friends in --send TEXT. */
static size_t unescape(const char *s, uint8_t *out)
{
    size_t n = 0;
    while (*s) {
        if (*s != '\\' || !s[1]) {
            out[n++] = (uint8_t)*s++;
            continue;
        }
        s++;
        switch (*s) {
        case 'r': out[n++] = '\r'; s++; break;
        case 'n': out[n++] = '\n'; s++; break;
        case 't': out[n++] = '\t'; s++; break;
        case 'x': {
            unsigned v = 0;
            int k;
            s++;
            for (k = 0; k < 2 && ((*s >= '0' && *s <= '9') || ((*s | 32) >= 'a' && (*s | 32) <= 'f')); k++, s++)
                v = v * 16 + (unsigned)(*s <= '9' ? *s - '0' : (*s | 32) - 'a' + 10);
            out[n++] = (uint8_t)v;
            break;
        }
        default: out[n++] = (uint8_t)*s++; break;
        }
    }
    return n;
}

/* Bytes from stdin waiting to go out, at most: stdin is not read beyond
 * (a device that does not take them does not make the command grow). */
#define PENDING_MAX 65536
/* Bytes read from the bulk IN endpoint at a time. */
#define IN_BUF 4096

struct pump {
    struct port *p;
    struct urg_urb *in, *out;
    struct xfer xin, xout;
    bool out_busy;
    uint8_t inbuf[IN_BUF], data[IN_BUF];
    uint8_t *pending;        /* bytes waiting to go out */
    size_t npending, cap;
    bool stdin_ready;
    ev_io sio;
    bool reading_stdin;      /* sio is started */
    bool stdin_paused;       /* ... stopped while PENDING_MAX bytes wait */
    struct text_stream text; /* the device's bytes as text (not --raw) */
    int raw;
    uint64_t received, sent;
};

static void on_stdin(struct ev_loop *loop, ev_io *w, int revents)
{
    struct pump *x = w->data;
    (void)revents;
    x->stdin_ready = true;
    ev_io_stop(loop, w); /* until the bytes are taken */
}

static bool something(void *ctx)
{
    struct pump *x = ctx;
    return x->xin.done || (x->out_busy && x->xout.done) || x->stdin_ready;
}

static int queue_out(struct pump *x, const uint8_t *b, size_t n)
{
    if (x->npending + n > x->cap) {
        size_t nc = (x->npending + n) * 2;
        uint8_t *np = realloc(x->pending, nc);
        if (!np) {
            cli_error(x->p->o, "out of memory");
            return -1;
        }
        x->pending = np;
        x->cap = nc;
    }
    memcpy(x->pending + x->npending, b, n);
    x->npending += n;
    return 0;
}

static uint8_t out_chunk[4096];

static int send_next(struct pump *x)
{
    size_t n = x->npending < sizeof(out_chunk) ? x->npending : sizeof(out_chunk);
    int r;
    if (x->out_busy || !n)
        return 0;
    memcpy(out_chunk, x->pending, n);
    memmove(x->pending, x->pending + n, x->npending - n);
    x->npending -= n;
    x->out->type = URG_EP_BULK;
    x->out->endpoint = x->p->out;
    x->out->buffer = out_chunk;
    x->out->length = (uint32_t)n;
    x->out->user_data = &x->xout;
    x->xout.done = false;
    r = conn_submit(x->p->c, x->out);
    if (r < 0)
        return -1;
    x->out_busy = true;
    x->xout.done = r == 1;
    return 0;
}

static int recv_next(struct pump *x)
{
    int r;
    x->in->type = URG_EP_BULK;
    x->in->endpoint = x->p->in;
    x->in->buffer = x->inbuf;
    /* A multiple of max packet: the model serves it from buffered bulk. */
    x->in->length = (uint32_t)(sizeof(x->inbuf) / x->p->mps * x->p->mps);
    x->in->user_data = &x->xin;
    x->xin.done = false;
    r = conn_submit(x->p->c, x->in);
    if (r < 0)
        return -1;
    x->xin.done = r == 1;
    return 0;
}

/* Writes what arrived to stdout (up to limit bytes in all, 0: no limit);
 * FTDI's status headers dropped. */
static size_t deliver(struct pump *x, uint64_t limit)
{
    size_t n = x->in->actual_length < sizeof(x->inbuf) ? x->in->actual_length : sizeof(x->inbuf);
    size_t take = serial_payload(x->p->kind == FTDI, x->p->mps, x->inbuf, n, x->data);
    if (limit && take > limit - x->received)
        take = (size_t)(limit - x->received);
    if (x->raw)
        fwrite(x->data, 1, take, stdout);
    else
        text_stream_put(&x->text, stdout, x->data, take);
    x->received += take;
    fflush(stdout);
    return take;
}

static int run(struct port *p, const struct serial_opts *so, bool use_stdin)
{
    struct pump x;
    double last = cli_now();
    int rc = EXIT_OK;
    memset(&x, 0, sizeof(x));
    x.p = p;
    x.raw = so->raw;
    x.text.flags = TEXT_LINES;
    x.in = urg_urb_alloc(0);
    x.out = urg_urb_alloc(0);
    if (!x.in || !x.out) {
        cli_error(p->o, "out of memory");
        urg_urb_free(x.in);
        urg_urb_free(x.out);
        return EXIT_FAIL;
    }
    if (so->send) {
        uint8_t *b = malloc(strlen(so->send) + 1);
        int r = b ? queue_out(&x, b, unescape(so->send, b)) : -1;
        if (!b)
            cli_error(p->o, "out of memory");
        free(b);
        if (r) {
            rc = EXIT_FAIL;
            goto out;
        }
    }
    if (use_stdin) {
        fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
        ev_io_init(&x.sio, on_stdin, 0, EV_READ);
        x.sio.data = &x;
        ev_io_start(conn_loop(p->c), &x.sio);
        x.reading_stdin = true;
    }
    if (recv_next(&x) || send_next(&x)) {
        rc = conn_fail(p->c); /* said */
        goto out;
    }
    for (;;) {
        double wait = 0;
        if (so->idle > 0) {
            wait = so->idle - (cli_now() - last);
            if (wait <= 0)
                break; /* quiet long enough */
        }
        if (conn_run_until(p->c, something, &x, wait) != 0) {
            if (conn_over(p->c))
                break;
            continue; /* the idle time is checked above */
        }
        if (x.xin.done) {
            int st = x.in->status;
            if (st != URG_URB_SUCCESS && st != URG_URB_SHORT) {
                if (!conn_over(p->c)) {
                    cli_error(p->o, "bulk IN: %s", urg_urb_status_name(st));
                    rc = EXIT_FAIL;
                }
                break;
            }
            if (deliver(&x, so->bytes))
                last = cli_now();
            if (so->bytes && x.received >= so->bytes)
                break;
            if (recv_next(&x)) {
                rc = conn_fail(p->c);
                break;
            }
        }
        if (x.out_busy && x.xout.done) {
            x.out_busy = false;
            if (x.out->status != URG_URB_SUCCESS) {
                if (!conn_over(p->c)) {
                    cli_error(p->o, "bulk OUT: %s", urg_urb_status_name(x.out->status));
                    rc = EXIT_FAIL;
                }
                break;
            }
            x.sent += x.out->actual_length;
            if (send_next(&x)) {
                rc = conn_fail(p->c);
                break;
            }
            if (x.stdin_paused && x.npending < PENDING_MAX) {
                x.stdin_paused = false;
                ev_io_start(conn_loop(p->c), &x.sio);
            }
        }
        if (x.stdin_ready) {
            uint8_t b[4096];
            ssize_t n = read(0, b, sizeof(b));
            x.stdin_ready = false;
            if (n > 0) {
                if (queue_out(&x, b, (size_t)n)) {
                    rc = EXIT_FAIL;
                    break;
                }
                if (send_next(&x)) {
                    rc = conn_fail(p->c);
                    break;
                }
            }
            if (n > 0 && x.npending >= PENDING_MAX)
                x.stdin_paused = true; /* until the device takes some */
            else if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
                ev_io_start(conn_loop(p->c), &x.sio);
            else
                x.reading_stdin = false; /* end of input: keep receiving */
        }
    }
    /* The end of a replayed capture, or the bytes wanted, is the end. */
    if (conn_over(p->c) && !conn_replay_finished(p->c) && rc == EXIT_OK &&
        !(so->bytes && x.received >= so->bytes))
        rc = conn_fail(p->c);
out:
    if (!x.raw)
        text_stream_end(&x.text, stdout);
    fflush(stdout);
    if (x.reading_stdin)
        ev_io_stop(conn_loop(p->c), &x.sio);
    if (!x.xin.done)
        urg_hcd_cancel(conn_dev(p->c), x.in);
    if (x.out_busy && !x.xout.done)
        urg_hcd_cancel(conn_dev(p->c), x.out);
    if (p->o->verbose)
        fprintf(stderr, "%s: info: %llu bytes received, %llu sent\n", p->o->prog,
                (unsigned long long)x.received, (unsigned long long)x.sent);
    urg_urb_free(x.in);
    urg_urb_free(x.out);
    free(x.pending);
    return rc;
}

/* ---------------------------------------------------------------- command */

static const char usage_text[] =
    "serial [-v] [--baud N] [--send TEXT] [--bytes N] [--idle SEC] [--no-input] [--raw]\n"
    "              [--timeout SEC] [--listen|--retry] [--usbmon FILE] [ADDRESS]\n"
    "Sets up an FTDI, CP210x or PL2303 adapter (N baud, 115200 by default, 8N1),\n"
    "writes what it receives to stdout and sends TEXT (\\r, \\n, \\t, \\xNN\n"
    "escapes) and stdin to it. Ends after N bytes, SEC seconds of silence, when\n"
    "the device goes, or on Ctrl-C. Against a capture stdin is not read.\n"
    "What it receives is printed with control characters and bytes that are not\n"
    "UTF-8 as \\xNN (line ends and tabs as they are); --raw: unchanged.\n" CLI_USBMON_HELP;

static int run_serial(struct conn *c, const struct common *o, void *opts)
{
    const struct serial_opts *so = opts;
    const struct urg_hcd_device *info = conn_device(c);
    const char *name = NULL;
    struct port p;
    size_t i;
    int rc;
    memset(&p, 0, sizeof(p));
    p.c = c;
    p.o = o;
    for (i = 0; i < sizeof(adapters) / sizeof(adapters[0]); i++)
        if (adapters[i].vendor == info->usb.vendor_id && adapters[i].product == info->usb.product_id) {
            p.kind = adapters[i].kind;
            name = adapters[i].name;
        }
    if (!name) {
        cli_error(o, "%04x:%04x is not an FTDI, CP210x or PL2303 serial adapter",
                  info->usb.vendor_id, info->usb.product_id);
        return EXIT_FAIL;
    }
    p.iface = info->usb.interface_count ? info->usb.interface[0] : 0;
    conn_bulk_endpoints(info, p.iface, &p.in, &p.out);
    if (!p.in || !p.out) {
        cli_error(o, "%s %04x:%04x has no bulk IN and OUT endpoints", name, info->usb.vendor_id,
                  info->usb.product_id);
        return EXIT_FAIL;
    }
    /* At most the receive buffer: each read is a whole number of packets
     * (recv_next), at least one. */
    p.mps = info->usb.ep[urg_ep_index(p.in)].max_packet_size;
    if (!p.mps)
        p.mps = 64;
    if (p.mps > IN_BUF)
        p.mps = IN_BUF;
    /* FTDI's multi-port chips number their ports from 1 in wIndex. */
    p.index = p.kind == FTDI ? (info->usb.interface_count > 1 ? (uint16_t)(p.iface + 1) : 0)
                             : (uint16_t)p.iface;
    if (o->verbose)
        fprintf(stderr, "%s: info: %s %04x:%04x, %u baud 8N1, bulk IN 0x%02x, OUT 0x%02x\n",
                o->prog, name, info->usb.vendor_id, info->usb.product_id, so->baud, p.in, p.out);
    if (setup(&p, so->baud))
        return conn_fail(c);
    rc = run(&p, so, o->address && !cli_address_is_file(o->address) && !so->no_input);
    if (p.kind == CP210X && !conn_over(c) && req(&p, 0x41, 0x00, 0x0000, p.index, NULL, 0) &&
        rc == EXIT_OK) /* IFC_ENABLE off */
        rc = conn_fail(c);
    return rc;
}

int cmd_serial(int argc, char **argv, struct common *o)
{
    static const struct device_command serial = { usage_text, "ftdi-serial", NULL, run_serial };
    struct serial_opts so = { .baud = 115200 };
    const struct cli_option options[] = {
        CLI_NUMBER("baud", 0, &so.baud, 300, 12000000),
        CLI_TEXT("send", 0, &so.send),
        CLI_NUMBER("bytes", 0, &so.bytes, 1, 1e15),
        CLI_NUMBER("idle", 0, &so.idle, 0.001, 86400),
        CLI_SET("no-input", 0, &so.no_input, 1),
        CLI_SET("raw", 0, &so.raw, 1),
        CLI_END,
    };
    return cli_device_command(argc, argv, o, &serial, options, &so);
}

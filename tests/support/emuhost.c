/*
 * emuhost.c - the emulated usb-host (see emuhost.h).
 */
#include "emuhost.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#define MAXPEND 64

struct pend {
    uint64_t id;
    uint32_t len;
    uint8_t ep;
};

struct emuhost {
    struct emu_config cfg;
    urg_decoder *dec;
    struct urg_host_output out; /* for the guest */
    bool unplugged;
    uint8_t config;
    uint64_t counts[URG_TYPE_COUNT];
    /* keyboard */
    uint64_t int_seq;
    /* msc: Bulk-Only Transport */
    uint8_t *disk;
    uint32_t blocks;
    int bot;                 /* BOT_* */
    uint32_t tag, expect, residue_base;
    uint8_t *stage;          /* data to send (IN) or being received (OUT) */
    uint32_t stage_len, stage_off, stage_cap;
    uint32_t write_lba;
    uint8_t csw_status;
    uint8_t sense_key, asc;
    struct pend in[MAXPEND]; /* bulk IN requests waiting for data */
    int nin;
    /* serial */
    bool receiving, greeted;
    uint8_t *stash;          /* data waiting for bulk IN requests */
    size_t stash_len;
    uint32_t baud;
    uint8_t line_coding[7];
    uint64_t serial_requests, serial_out;
    uint64_t iso_out_bytes;
    uint8_t iso_out_pkts, iso_out_urbs; /* the last iso OUT start_iso_stream's sizing */
    uint32_t bytes_per_transfer;
    uint64_t bulk_seq;
    /* libev glue */
    struct ev_loop *loop;
    ev_io rio, wio;
    int fd;
    void (*done)(void *, struct emuhost *);
    void *done_ctx;
};

enum { BOT_IDLE, BOT_DATA_IN, BOT_DATA_OUT, BOT_STATUS };

/* ---------------------------------------------------------------- descriptors */

static const uint8_t kbd_device[18] = { 18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x27, 0x06,
                                        0x01, 0x00, 0x00, 0x00, 1, 2, 3, 1 };
static const uint8_t kbd_config[34] = {
    9, 2, 34, 0, 1, 1, 0, 0xa0, 50,
    9, 4, 0, 0, 1, 3, 1, 1, 0,
    9, 0x21, 0x11, 0x01, 0, 1, 0x22, 63, 0,
    7, 5, 0x81, 3, 8, 0, 7,
};
static const uint8_t kbd_report[63] = {
    0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x75, 0x01, 0x95, 0x08, 0x05, 0x07, 0x19, 0xe0, 0x29,
    0xe7, 0x15, 0x00, 0x25, 0x01, 0x81, 0x02, 0x95, 0x01, 0x75, 0x08, 0x81, 0x01, 0x95, 0x05,
    0x75, 0x01, 0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02, 0x95, 0x01, 0x75, 0x03, 0x91,
    0x01, 0x95, 0x06, 0x75, 0x08, 0x15, 0x00, 0x25, 0xff, 0x05, 0x07, 0x19, 0x00, 0x29, 0xff,
    0x81, 0x00, 0xc0,
};
static const uint8_t mouse_device[18] = { 18, 1, 0x00, 0x02, 0, 0, 0, 8, 0x27, 0x06,
                                          0x01, 0x00, 0x00, 0x00, 1, 2, 3, 1 };
static const uint8_t mouse_config[34] = {
    9, 2, 34, 0, 1, 1, 0, 0xa0, 50,
    9, 4, 0, 0, 1, 3, 1, 2, 0,
    9, 0x21, 0x01, 0x00, 0, 1, 0x22, 52, 0,
    7, 5, 0x81, 3, 4, 0, 10,
};
/* Three buttons, X, Y, wheel. */
static const uint8_t mouse_report[52] = {
    0x05, 0x01, 0x09, 0x02, 0xa1, 0x01, 0x09, 0x01, 0xa1, 0x00, 0x05, 0x09, 0x19,
    0x01, 0x29, 0x03, 0x15, 0x00, 0x25, 0x01, 0x95, 0x03, 0x75, 0x01, 0x81, 0x02,
    0x95, 0x01, 0x75, 0x05, 0x81, 0x01, 0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x09,
    0x38, 0x15, 0x81, 0x25, 0x7f, 0x75, 0x08, 0x95, 0x03, 0x81, 0x06, 0xc0, 0xc0,
};
static const uint8_t msc_device[18] = { 18, 1, 0x00, 0x03, 0, 0, 0, 9, 0xf4, 0x46,
                                        0x01, 0x00, 0x00, 0x00, 1, 2, 3, 1 };
static const uint8_t msc_config[44] = {
    9, 2, 44, 0, 1, 1, 0, 0xc0, 0,
    9, 4, 0, 0, 2, 8, 6, 0x50, 0,
    7, 5, 0x81, 2, 0x00, 0x04, 0, 6, 0x30, 15, 0, 0, 0,
    7, 5, 0x02, 2, 0x00, 0x04, 0, 6, 0x30, 15, 0, 0, 0,
};
static const uint8_t ftdi_device[18] = { 18, 1, 0x00, 0x02, 0, 0, 0, 8, 0x03, 0x04,
                                         0x01, 0x60, 0x00, 0x06, 1, 2, 3, 1 };
static const uint8_t ftdi_config[32] = {
    9, 2, 32, 0, 1, 1, 0, 0xa0, 45,
    9, 4, 0, 0, 2, 0xff, 0xff, 0xff, 2,
    7, 5, 0x81, 2, 64, 0, 0,
    7, 5, 0x02, 2, 64, 0, 0,
};
static const uint8_t cp210x_device[18] = { 18, 1, 0x00, 0x02, 0, 0, 0, 64, 0xc4, 0x10,
                                           0x60, 0xea, 0x00, 0x01, 1, 2, 3, 1 };
static const uint8_t cp210x_config[32] = {
    9, 2, 32, 0, 1, 1, 0, 0x80, 50,
    9, 4, 0, 0, 2, 0xff, 0, 0, 2,
    7, 5, 0x81, 2, 64, 0, 0,
    7, 5, 0x01, 2, 64, 0, 0,
};
static const uint8_t pl2303_device[18] = { 18, 1, 0x10, 0x01, 0, 0, 0, 64, 0x7b, 0x06,
                                           0x03, 0x23, 0x00, 0x03, 1, 2, 0, 1 };
/* A vendor-class full-speed device with an iso IN (0x81) and an iso OUT
 * (0x02) endpoint of 192 bytes polled every frame, as an audio function. */
static const uint8_t iso_device[18] = { 18, 1, 0x10, 0x01, 0, 0, 0, 64, 0xf4, 0x46,
                                        0x02, 0x00, 0x00, 0x01, 1, 2, 0, 1 };
static const uint8_t iso_config[32] = {
    9, 2, 32, 0, 1, 1, 0, 0x80, 50,
    9, 4, 0, 0, 2, 0xff, 0, 0, 0,
    7, 5, 0x81, 1, 192, 0, 1,
    7, 5, 0x02, 1, 192, 0, 1,
};
static const uint8_t pl2303_config[39] = {
    9, 2, 39, 0, 1, 1, 0, 0xa0, 50,
    9, 4, 0, 0, 3, 0xff, 0, 0, 0,
    7, 5, 0x81, 3, 10, 0, 1,
    7, 5, 0x02, 2, 64, 0, 0,
    7, 5, 0x83, 2, 64, 0, 0,
};

/* One emulated device model. */
struct model {
    const uint8_t *device, *config, *report;
    uint16_t report_len;
    const char *strings[4];   /* [0] unused: index 0 is the language list */
    uint8_t speed;            /* the default */
    uint8_t serial_in;        /* serial: the data endpoints */
    uint8_t serial_out;
};

static const struct model models[EMU_KIND_COUNT] = {
    [EMU_KEYBOARD] = { kbd_device, kbd_config, kbd_report, sizeof(kbd_report),
                       { NULL, "QEMU", "QEMU USB Keyboard", "42" }, URG_SPEED_HIGH, 0, 0 },
    [EMU_MSC] = { msc_device, msc_config, NULL, 0,
                  { NULL, "QEMU", "QEMU USB HARDDRIVE", "1-0000:00:04.0-2" }, URG_SPEED_SUPER,
                  0, 0 },
    [EMU_SERIAL] = { ftdi_device, ftdi_config, NULL, 0,
                     { NULL, "FTDI", "FT232R USB UART", "A5XK3RJT" }, URG_SPEED_FULL, 0x81,
                     0x02 },
    [EMU_MOUSE] = { mouse_device, mouse_config, mouse_report, sizeof(mouse_report),
                    { NULL, "QEMU", "QEMU USB Mouse", "89126" }, URG_SPEED_FULL, 0, 0 },
    [EMU_CP210X] = { cp210x_device, cp210x_config, NULL, 0,
                     { NULL, "Silicon Labs", "CP2102 USB to UART Bridge Controller", "0001" },
                     URG_SPEED_FULL, 0x81, 0x01 },
    [EMU_PL2303] = { pl2303_device, pl2303_config, NULL, 0,
                     { NULL, "Prolific Technology Inc.", "USB-Serial Controller", NULL },
                     URG_SPEED_FULL, 0x83, 0x02 },
    [EMU_ISO] = { iso_device, iso_config, NULL, 0, { NULL, "usbredir-guest", "iso test", NULL },
                  URG_SPEED_FULL, 0, 0 },
};

static const char *const kind_names[EMU_KIND_COUNT] = {
    [EMU_KEYBOARD] = "keyboard", [EMU_MSC] = "msc",       [EMU_SERIAL] = "ftdi",
    [EMU_MOUSE] = "mouse",       [EMU_CP210X] = "cp210x", [EMU_PL2303] = "pl2303",
    [EMU_ISO] = "iso",
};

const char *emu_kind_name(int kind)
{
    return kind >= 0 && kind < EMU_KIND_COUNT ? kind_names[kind] : NULL;
}

int emu_kind_parse(const char *name)
{
    for (int k = 0; k < EMU_KIND_COUNT; k++)
        if (!strcmp(name, kind_names[k]))
            return k;
    return -1;
}

static const struct model *model(const struct emuhost *e) { return &models[e->cfg.kind]; }
static bool is_serial(const struct emuhost *e) { return model(e)->serial_in != 0; }

static void flush_out(struct emuhost *e);

/* ---------------------------------------------------------------- output */

/* What the host may have queued for the guest: far more than a burst of
 * replies between two writes. */
#define EMU_MAX_OUTPUT ((size_t)1 << 30)

static void send_pkt(struct emuhost *e, const struct urg_packet *p)
{
    int rc = urg_host_output_packet(&e->out, p);
    if (rc) {
        fprintf(stderr, "emuhost: cannot send %s: %s\n", urg_type_name(p->type),
                urg_strerror(rc));
        abort();
    }
}

static void pkt_init(struct urg_packet *p, uint32_t type, uint64_t id)
{
    memset(p, 0, sizeof(*p));
    p->type = type;
    p->id = id;
}

const uint8_t *emu_output(struct emuhost *e, size_t *n) { return urg_host_output_data(&e->out, n); }

void emu_consume(struct emuhost *e, size_t n) { urg_host_output_consume(&e->out, n); }

/* ---------------------------------------------------------------- device info */

/* interface_info and ep_info, read off the configuration descriptor. */
static void device_info(struct emuhost *e)
{
    const uint8_t *c = model(e)->config;
    uint16_t total = (uint16_t)(c[2] | c[3] << 8), off;
    struct urg_packet ii, ei;
    pkt_init(&ii, URG_INTERFACE_INFO, 0);
    pkt_init(&ei, URG_EP_INFO, 0);
    memset(ei.h.ep_info.type, URG_EP_INVALID, 32);
    ei.h.ep_info.type[0] = ei.h.ep_info.type[16] = URG_EP_CONTROL;
    ei.h.ep_info.max_packet_size[0] = ei.h.ep_info.max_packet_size[16] =
        model(e)->device[7] == 9 ? 512 : model(e)->device[7];
    for (off = 0; off + 2 <= total && c[off] >= 2; off = (uint16_t)(off + c[off])) {
        const uint8_t *d = c + off;
        if (d[1] == 4) {
            uint32_t n = ii.h.interface_info.interface_count++;
            ii.h.interface_info.interface[n] = d[2];
            ii.h.interface_info.interface_class[n] = d[5];
            ii.h.interface_info.interface_subclass[n] = d[6];
            ii.h.interface_info.interface_protocol[n] = d[7];
        } else if (d[1] == 5) {
            int i = urg_ep_index(d[2]);
            ei.h.ep_info.type[i] = d[3] & 3;
            ei.h.ep_info.interval[i] = d[6];
            ei.h.ep_info.max_packet_size[i] = (uint16_t)(d[4] | d[5] << 8);
        }
    }
    send_pkt(e, &ii);
    send_pkt(e, &ei);
}

static void device_connect(struct emuhost *e)
{
    struct urg_packet p;
    const uint8_t *d = model(e)->device;
    device_info(e);
    pkt_init(&p, URG_DEVICE_CONNECT, 0);
    p.h.device_connect.speed = e->cfg.speed;
    p.h.device_connect.device_class = d[4];
    p.h.device_connect.device_subclass = d[5];
    p.h.device_connect.device_protocol = d[6];
    p.h.device_connect.vendor_id = (uint16_t)(d[8] | d[9] << 8);
    p.h.device_connect.product_id = (uint16_t)(d[10] | d[11] << 8);
    p.h.device_connect.device_version_bcd = (uint16_t)(d[12] | d[13] << 8);
    send_pkt(e, &p);
}

/* ---------------------------------------------------------------- control */

static int string_desc(struct emuhost *e, uint8_t index, uint8_t *buf)
{
    const char *s;
    int n, i;
    if (index == 0) {
        buf[0] = 4;
        buf[1] = 3;
        buf[2] = 0x09;
        buf[3] = 0x04;
        return 4;
    }
    if (index > 3 || !model(e)->strings[index])
        return -1;
    s = model(e)->strings[index];
    n = (int)strlen(s);
    buf[0] = (uint8_t)(2 + 2 * n);
    buf[1] = 3;
    for (i = 0; i < n; i++) {
        buf[2 + 2 * i] = (uint8_t)s[i];
        buf[3 + 2 * i] = 0;
    }
    return 2 + 2 * n;
}

static uint32_t ftdi_baud(uint16_t value, uint16_t index)
{
    static const uint32_t eighths[8] = { 0, 4, 2, 1, 3, 5, 6, 7 }; /* code -> 1/8 */
    uint32_t div8 = (uint32_t)(value & 0x3fff) * 8 + eighths[(value >> 14) | (index & 1) << 2];
    if (div8 == 0)
        return 3000000;
    if (div8 == 8)
        return 2000000;
    return (3000000u * 8 + div8 / 2) / div8;
}

/* The serial adapters' own requests; returns the IN data length, or -1 to
 * stall. */
static int serial_control(struct emuhost *e, const struct urg_packet *req, uint8_t *buf)
{
    const struct urg_control_packet *c = &req->h.control;
    e->serial_requests++;
    switch (e->cfg.kind) {
    case EMU_SERIAL: /* FTDI */
        if (c->requesttype == 0x40) {
            if (c->request == 3)
                e->baud = ftdi_baud(c->value, c->index);
            return 0; /* reset, modem control, flow, baud rate, data, latency */
        }
        if (c->requesttype == 0xc0 && c->request == 5) {
            buf[0] = 0x01; /* modem status */
            buf[1] = 0x60;
            return 2;
        }
        break;
    case EMU_CP210X:
        if (c->requesttype == 0x41) {
            if (c->request == 0x1e && req->data_len == 4)
                e->baud = (uint32_t)req->data[0] | (uint32_t)req->data[1] << 8 |
                          (uint32_t)req->data[2] << 16 | (uint32_t)req->data[3] << 24;
            return 0; /* IFC_ENABLE, SET_LINE_CTL, SET_MHS, SET_BAUDRATE, ... */
        }
        if (c->requesttype == 0xc1) {
            memset(buf, 0, c->length < 64 ? c->length : 64);
            return c->length < 64 ? c->length : 64;
        }
        break;
    case EMU_PL2303:
        if (c->requesttype == 0x40 && c->request == 1)
            return 0; /* vendor write */
        if (c->requesttype == 0xc0 && c->request == 1) {
            buf[0] = 0; /* vendor read */
            return 1;
        }
        if (c->requesttype == 0x21 && c->request == 0x20 && req->data_len == 7) {
            memcpy(e->line_coding, req->data, 7);
            e->baud = (uint32_t)req->data[0] | (uint32_t)req->data[1] << 8 |
                      (uint32_t)req->data[2] << 16 | (uint32_t)req->data[3] << 24;
            return 0; /* SET_LINE_CODING */
        }
        if (c->requesttype == 0x21 && c->request == 0x22)
            return 0; /* SET_CONTROL_LINE_STATE */
        if (c->requesttype == 0xa1 && c->request == 0x21) {
            memcpy(buf, e->line_coding, 7);
            return 7; /* GET_LINE_CODING */
        }
        break;
    default:
        break;
    }
    e->serial_requests--;
    return -1;
}

static void control(struct emuhost *e, const struct urg_packet *req)
{
    const struct urg_control_packet *c = &req->h.control;
    struct urg_packet p = *req;
    uint8_t buf[256];
    int n = 0, stall = 0;
    uint8_t type = (uint8_t)(c->value >> 8);
    if (c->requesttype == 0x80 && c->request == 6) { /* GET_DESCRIPTOR */
        const uint8_t *d = NULL;
        if (type == 1) {
            d = model(e)->device;
            n = 18;
        } else if (type == 2) {
            d = model(e)->config;
            n = d[2];
        } else if (type == 3) {
            n = string_desc(e, (uint8_t)c->value, buf);
            stall = n < 0;
        } else {
            stall = 1; /* device qualifier, BOS, ...: not here */
        }
        if (d)
            memcpy(buf, d, (size_t)n);
    } else if (c->requesttype == 0x81 && c->request == 6 && type == 0x22 && model(e)->report) {
        memcpy(buf, model(e)->report, model(e)->report_len);
        n = model(e)->report_len;
    } else if (c->requesttype == 0x80 && c->request == 0) { /* GET_STATUS */
        buf[0] = buf[1] = 0;
        n = 2;
    } else if (c->requesttype == 0x21 && (c->request == 0x0a || c->request == 0x0b) &&
               model(e)->report) {
        n = 0; /* SET_IDLE, SET_PROTOCOL */
    } else if (c->requesttype == 0xa1 && c->request == 0xfe && e->cfg.kind == EMU_MSC) {
        buf[0] = 0; /* GET_MAX_LUN: one LUN */
        n = 1;
    } else if (c->requesttype == 0x21 && c->request == 0xff && e->cfg.kind == EMU_MSC) {
        e->bot = BOT_IDLE; /* Bulk-Only Mass Storage Reset */
        n = 0;
    } else if (c->requesttype == 0x02 && c->request == 1) {
        n = 0; /* CLEAR_FEATURE(ENDPOINT_HALT) */
    } else if (is_serial(e)) {
        n = serial_control(e, req, buf);
        stall = n < 0;
    } else {
        stall = 1;
    }
    if (stall || n > c->length) {
        if (!stall)
            n = c->length;
        else
            n = 0;
    }
    p.h.control.status = stall ? URG_STATUS_STALL : URG_STATUS_SUCCESS;
    p.h.control.length = (uint16_t)n;
    p.data = (c->endpoint & 0x80) && n ? buf : NULL;
    p.data_len = (c->endpoint & 0x80) ? (uint32_t)n : 0;
    send_pkt(e, &p);
}

/* ---------------------------------------------------------------- keyboard */

static void key_usage(char ch, uint8_t *mod, uint8_t *key)
{
    static const char shifted[] = "!@#$%^&*()";
    const char *s;
    *mod = 0;
    *key = 0;
    if (ch >= 'a' && ch <= 'z') {
        *key = (uint8_t)(0x04 + ch - 'a');
    } else if (ch >= 'A' && ch <= 'Z') {
        *mod = 0x02;
        *key = (uint8_t)(0x04 + ch - 'A');
    } else if (ch >= '1' && ch <= '9') {
        *key = (uint8_t)(0x1e + ch - '1');
    } else if (ch == '0') {
        *key = 0x27;
    } else if (ch == '\n') {
        *key = 0x28;
    } else if (ch == ' ') {
        *key = 0x2c;
    } else if (ch == '-') {
        *key = 0x2d;
    } else if (ch == '.') {
        *key = 0x37;
    } else if (ch == ',') {
        *key = 0x36;
    } else if ((s = strchr(shifted, ch)) && ch) {
        *mod = 0x02;
        *key = (uint8_t)(s - shifted == 9 ? 0x27 : 0x1e + (s - shifted));
    }
}

static void type_text(struct emuhost *e, uint8_t ep)
{
    const char *t = e->cfg.text ? e->cfg.text : "";
    for (; *t; t++) {
        uint8_t rep[8] = { 0 }, mod, key;
        struct urg_packet p;
        key_usage(*t, &mod, &key);
        if (!key)
            continue;
        rep[0] = mod;
        rep[2] = key;
        pkt_init(&p, URG_INTERRUPT_PACKET, e->int_seq++);
        p.h.interrupt.endpoint = ep;
        p.h.interrupt.length = 8;
        p.data = rep;
        p.data_len = 8;
        send_pkt(e, &p);
        memset(rep, 0, sizeof(rep));
        pkt_init(&p, URG_INTERRUPT_PACKET, e->int_seq++);
        p.h.interrupt.endpoint = ep;
        p.h.interrupt.length = 8;
        p.data = rep;
        p.data_len = 8;
        send_pkt(e, &p);
    }
}

/* ---------------------------------------------------------------- mass storage */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void stage(struct emuhost *e, const void *data, uint32_t n)
{
    if (n > e->stage_cap) {
        e->stage = realloc(e->stage, n);
        e->stage_cap = n;
    }
    if (data)
        memcpy(e->stage, data, n);
    e->stage_len = n;
    e->stage_off = 0;
}

static void sense(struct emuhost *e, uint8_t key, uint8_t asc)
{
    e->sense_key = key;
    e->asc = asc;
    e->csw_status = key ? 1 : 0;
}

/* A CBW arrived: set up the data phase. */
static void scsi_command(struct emuhost *e, const uint8_t *cbw)
{
    const uint8_t *cb = cbw + 15;
    uint8_t buf[64];
    uint32_t lba, count;
    e->tag = le32(cbw + 4);
    e->expect = le32(cbw + 8);
    e->csw_status = 0;
    switch (cb[0]) {
    case 0x00: /* TEST UNIT READY */
        sense(e, 0, 0);
        e->bot = BOT_STATUS;
        stage(e, NULL, 0);
        return;
    case 0x12: /* INQUIRY */
        memset(buf, 0, 36);
        buf[2] = 0x05;
        buf[3] = 0x02;
        buf[4] = 31;
        memcpy(buf + 8, "URG     ", 8);
        memcpy(buf + 16, "EMULATED DISK   ", 16);
        memcpy(buf + 32, "0.1 ", 4);
        stage(e, buf, 36);
        sense(e, 0, 0);
        break;
    case 0x03: /* REQUEST SENSE */
        memset(buf, 0, 18);
        buf[0] = 0x70;
        buf[2] = e->sense_key;
        buf[7] = 10;
        buf[12] = e->asc;
        stage(e, buf, 18);
        sense(e, 0, 0);
        break;
    case 0x25: /* READ CAPACITY(10) */
        put_be32(buf, e->blocks - 1);
        put_be32(buf + 4, 512);
        stage(e, buf, 8);
        sense(e, 0, 0);
        break;
    case 0x1a: /* MODE SENSE(6) */
        memset(buf, 0, 4);
        buf[0] = 3;
        stage(e, buf, 4);
        sense(e, 0, 0);
        break;
    case 0x28: /* READ(10) */
        lba = be32(cb + 2);
        count = (uint32_t)(cb[7] << 8 | cb[8]);
        if ((uint64_t)lba + count > e->blocks) {
            sense(e, 5, 0x21); /* LBA out of range */
            stage(e, NULL, 0);
            break;
        }
        stage(e, e->disk + (size_t)lba * 512, count * 512);
        sense(e, 0, 0);
        break;
    case 0x2a: /* WRITE(10) */
        lba = be32(cb + 2);
        count = (uint32_t)(cb[7] << 8 | cb[8]);
        if ((uint64_t)lba + count > e->blocks) {
            sense(e, 5, 0x21);
            e->bot = BOT_STATUS;
            stage(e, NULL, 0);
            return;
        }
        e->write_lba = lba;
        stage(e, NULL, count * 512);
        e->bot = count ? BOT_DATA_OUT : BOT_STATUS;
        sense(e, 0, 0);
        return;
    default:
        sense(e, 5, 0x20); /* invalid command operation code */
        stage(e, NULL, 0);
        break;
    }
    e->bot = e->stage_len ? BOT_DATA_IN : BOT_STATUS;
}

static void bulk_reply(struct emuhost *e, uint64_t id, uint8_t ep, uint8_t status,
                       const uint8_t *data, uint32_t len)
{
    struct urg_packet p;
    pkt_init(&p, URG_BULK_PACKET, id);
    p.h.bulk.endpoint = ep;
    p.h.bulk.status = status;
    p.h.bulk.length = len;
    if (ep & 0x80) {
        p.data = data;
        p.data_len = len;
    }
    send_pkt(e, &p);
}

/* Answers waiting bulk IN requests from the BOT state. */
static void msc_serve(struct emuhost *e)
{
    while (e->nin) {
        struct pend q = e->in[0];
        if (e->bot == BOT_DATA_IN) {
            uint32_t n = e->stage_len - e->stage_off;
            if (n > q.len)
                n = q.len;
            bulk_reply(e, q.id, q.ep, URG_STATUS_SUCCESS, e->stage + e->stage_off, n);
            e->stage_off += n;
            if (e->stage_off == e->stage_len)
                e->bot = BOT_STATUS;
        } else if (e->bot == BOT_STATUS) {
            uint8_t csw[13];
            uint32_t moved = e->stage_len;
            put_le32(csw, 0x53425355u);
            put_le32(csw + 4, e->tag);
            put_le32(csw + 8, e->expect > moved ? e->expect - moved : 0);
            csw[12] = e->csw_status;
            bulk_reply(e, q.id, q.ep, URG_STATUS_SUCCESS, csw, q.len < 13 ? q.len : 13);
            e->bot = BOT_IDLE;
        } else {
            return; /* waits for a CBW or OUT data */
        }
        memmove(e->in, e->in + 1, (size_t)(--e->nin) * sizeof(e->in[0]));
    }
}

static void msc_bulk(struct emuhost *e, const struct urg_packet *req)
{
    const struct urg_bulk_packet *b = &req->h.bulk;
    if (b->endpoint & 0x80) {
        if (e->nin == MAXPEND) {
            bulk_reply(e, req->id, b->endpoint, URG_STATUS_IOERROR, NULL, 0);
            return;
        }
        e->in[e->nin].id = req->id;
        e->in[e->nin].len = b->length;
        e->in[e->nin].ep = b->endpoint;
        e->nin++;
        msc_serve(e);
        return;
    }
    if (e->bot == BOT_DATA_OUT) {
        uint32_t n = req->data_len;
        if (n > e->stage_len - e->stage_off)
            n = e->stage_len - e->stage_off;
        memcpy(e->stage + e->stage_off, req->data, n);
        e->stage_off += n;
        bulk_reply(e, req->id, b->endpoint, URG_STATUS_SUCCESS, NULL, req->data_len);
        if (e->stage_off == e->stage_len) {
            memcpy(e->disk + (size_t)e->write_lba * 512, e->stage, e->stage_len);
            e->bot = BOT_STATUS;
        }
    } else if (req->data_len == 31 && le32(req->data) == 0x43425355u) {
        bulk_reply(e, req->id, b->endpoint, URG_STATUS_SUCCESS, NULL, 31);
        scsi_command(e, req->data);
    } else {
        bulk_reply(e, req->id, b->endpoint, URG_STATUS_STALL, NULL, 0);
    }
    msc_serve(e);
}

/* ---------------------------------------------------------------- serial */

/* FTDI frames its data in max-packet blocks, each starting with 2 status
 * bytes; CP210x and PL2303 send raw bytes. */
static size_t serial_frame(struct emuhost *e, uint8_t *out, size_t cap, const uint8_t **text,
                           size_t *n)
{
    size_t len = 0;
    if (e->cfg.kind != EMU_SERIAL) {
        len = *n < cap ? *n : cap;
        memcpy(out, *text, len);
        *text += len;
        *n -= len;
        return len;
    }
    while (*n && len + 3 <= cap) {
        size_t k = *n < 62 ? *n : 62;
        if (len + 2 + k > cap)
            k = cap - len - 2;
        out[len] = 0x01;
        out[len + 1] = 0x60;
        memcpy(out + len + 2, *text, k);
        len += 2 + k;
        *text += k;
        *n -= k;
        if (k < 62)
            break; /* a short block ends the transfer */
    }
    return len;
}

/* Answers waiting ordinary bulk IN requests from the stash. */
static void serial_serve(struct emuhost *e)
{
    while (e->nin && (e->stash_len || e->cfg.kind == EMU_SERIAL)) {
        struct pend q = e->in[0];
        uint8_t chunk[4096];
        const uint8_t *t = e->stash;
        size_t n = e->stash_len, len;
        if (e->cfg.kind == EMU_SERIAL && !n) {
            chunk[0] = 0x01; /* FTDI: only the status header */
            chunk[1] = 0x60;
            len = 2;
        } else {
            len = serial_frame(e, chunk, q.len < sizeof(chunk) ? q.len : sizeof(chunk), &t, &n);
        }
        if (len > q.len)
            len = q.len;
        bulk_reply(e, q.id, q.ep, URG_STATUS_SUCCESS, chunk, (uint32_t)len);
        memmove(e->stash, t, n);
        e->stash_len = n;
        memmove(e->in, e->in + 1, (size_t)(--e->nin) * sizeof(e->in[0]));
    }
}

/* The device sends text: buffered bulk packets while bulk receiving runs,
 * else it waits for bulk IN requests. */
static void serial_send(struct emuhost *e, const uint8_t *text, size_t n)
{
    uint8_t chunk[4096];
    size_t per = e->bytes_per_transfer ? e->bytes_per_transfer : 512;
    if (!e->receiving) {
        e->stash = realloc(e->stash, e->stash_len + n);
        memcpy(e->stash + e->stash_len, text, n);
        e->stash_len += n;
        serial_serve(e);
        return;
    }
    if (per > sizeof(chunk))
        per = sizeof(chunk);
    while (n) {
        struct urg_packet p;
        size_t len = serial_frame(e, chunk, per, &text, &n);
        pkt_init(&p, URG_BUFFERED_BULK_PACKET, e->bulk_seq++);
        p.h.buffered_bulk.endpoint = model(e)->serial_in;
        p.h.buffered_bulk.length = (uint32_t)len;
        p.data = chunk;
        p.data_len = (uint32_t)len;
        send_pkt(e, &p);
    }
}

static void serial_greet(struct emuhost *e)
{
    char hello[96];
    int n;
    if (e->greeted)
        return;
    e->greeted = true;
    n = snprintf(hello, sizeof(hello), "emulated %s ready\r\n",
                 e->cfg.kind == EMU_SERIAL ? "FT232R" : e->cfg.kind == EMU_CP210X ? "CP2102"
                                                                                 : "PL2303");
    serial_send(e, (const uint8_t *)hello, (size_t)n);
}

static void serial_bulk(struct emuhost *e, const struct urg_packet *req)
{
    const struct urg_bulk_packet *b = &req->h.bulk;
    if (b->endpoint & 0x80) {
        if (e->nin == MAXPEND) {
            bulk_reply(e, req->id, b->endpoint, URG_STATUS_IOERROR, NULL, 0);
            return;
        }
        e->in[e->nin].id = req->id;
        e->in[e->nin].len = b->length;
        e->in[e->nin].ep = b->endpoint;
        e->nin++;
        if (!e->greeted)
            serial_greet(e);
        else
            serial_serve(e);
        return;
    }
    bulk_reply(e, req->id, b->endpoint, URG_STATUS_SUCCESS, NULL, req->data_len);
    e->serial_out += req->data_len;
    if (req->data_len)
        serial_send(e, req->data, req->data_len); /* loopback */
}

/* ---------------------------------------------------------------- mouse */

/* Right 10, down 5, a left click, up-left with the right button, wheel. */
static void move_mouse(struct emuhost *e, uint8_t ep)
{
    static const int8_t moves[6][4] = {
        { 0, 10, 0, 0 }, { 0, 0, 5, 0 }, { 1, 0, 0, 0 }, { 0, 0, 0, 0 }, { 2, -3, -4, 0 },
        { 0, 0, 0, -1 },
    };
    int i;
    for (i = 0; i < 6; i++) {
        struct urg_packet p;
        pkt_init(&p, URG_INTERRUPT_PACKET, e->int_seq++);
        p.h.interrupt.endpoint = ep;
        p.h.interrupt.length = 4;
        p.data = (const uint8_t *)moves[i];
        p.data_len = 4;
        send_pkt(e, &p);
    }
}

/* ---------------------------------------------------------------- iso */

static void iso_burst(struct emuhost *e, uint8_t ep)
{
    uint8_t data[192];
    for (uint32_t k = 0; k < e->cfg.iso_burst; k++) {
        struct urg_packet p;
        uint16_t len = (uint16_t)(100 + k % 50);
        for (uint16_t i = 0; i < len; i++)
            data[i] = (uint8_t)(k + i);
        pkt_init(&p, URG_ISO_PACKET, k);
        p.h.iso.endpoint = ep;
        p.h.iso.length = len;
        p.data = data;
        p.data_len = len;
        send_pkt(e, &p);
    }
}

/* ---------------------------------------------------------------- dispatch */

static void stream_status(struct emuhost *e, uint32_t type, uint64_t id, uint8_t ep)
{
    struct urg_packet p;
    pkt_init(&p, type, id);
    if (type == URG_INTERRUPT_RECEIVING_STATUS)
        p.h.interrupt_receiving_status.endpoint = ep;
    else if (type == URG_BULK_RECEIVING_STATUS)
        p.h.bulk_receiving_status.endpoint = ep;
    else
        p.h.iso_stream_status.endpoint = ep;
    send_pkt(e, &p);
}

static int on_packet(void *ctx, const struct urg_packet *req)
{
    struct emuhost *e = ctx;
    struct urg_packet p;
    int i = urg_type_index(req->type);
    if (i >= 0)
        e->counts[i]++;
    if (e->unplugged && req->type != URG_HELLO)
        return URG_DECODE_CONTINUE;
    switch (req->type) {
    case URG_HELLO:
        device_connect(e);
        break;
    case URG_CONTROL_PACKET:
        control(e, req);
        break;
    case URG_SET_CONFIGURATION:
        e->config = req->h.set_configuration.configuration;
        device_info(e);
        pkt_init(&p, URG_CONFIGURATION_STATUS, req->id);
        p.h.configuration_status.configuration = e->config;
        send_pkt(e, &p);
        break;
    case URG_GET_CONFIGURATION:
        pkt_init(&p, URG_CONFIGURATION_STATUS, req->id);
        p.h.configuration_status.configuration = e->config;
        send_pkt(e, &p);
        break;
    case URG_SET_ALT_SETTING:
    case URG_GET_ALT_SETTING:
        pkt_init(&p, URG_ALT_SETTING_STATUS, req->id);
        p.h.alt_setting_status.interface = req->h.get_alt_setting.interface;
        send_pkt(e, &p);
        break;
    case URG_START_INTERRUPT_RECEIVING:
        stream_status(e, URG_INTERRUPT_RECEIVING_STATUS, req->id,
                      req->h.start_interrupt_receiving.endpoint);
        if (e->cfg.kind == EMU_KEYBOARD)
            type_text(e, req->h.start_interrupt_receiving.endpoint);
        else if (e->cfg.kind == EMU_MOUSE)
            move_mouse(e, req->h.start_interrupt_receiving.endpoint);
        break;
    case URG_STOP_INTERRUPT_RECEIVING:
        stream_status(e, URG_INTERRUPT_RECEIVING_STATUS, req->id,
                      req->h.stop_interrupt_receiving.endpoint);
        break;
    case URG_START_BULK_RECEIVING:
        e->receiving = true;
        e->bytes_per_transfer = req->h.start_bulk_receiving.bytes_per_transfer;
        stream_status(e, URG_BULK_RECEIVING_STATUS, req->id, req->h.start_bulk_receiving.endpoint);
        if (is_serial(e)) {
            serial_send(e, e->stash, e->stash_len); /* what waited */
            e->stash_len = 0;
            serial_greet(e);
        }
        break;
    case URG_STOP_BULK_RECEIVING:
        e->receiving = false;
        stream_status(e, URG_BULK_RECEIVING_STATUS, req->id, req->h.stop_bulk_receiving.endpoint);
        break;
    case URG_BULK_PACKET:
        if (e->cfg.kind == EMU_MSC)
            msc_bulk(e, req);
        else if (is_serial(e))
            serial_bulk(e, req);
        else
            bulk_reply(e, req->id, req->h.bulk.endpoint, URG_STATUS_INVAL, NULL, 0);
        break;
    case URG_INTERRUPT_PACKET: /* interrupt OUT */
        pkt_init(&p, URG_INTERRUPT_PACKET, req->id);
        p.h.interrupt.endpoint = req->h.interrupt.endpoint;
        p.h.interrupt.length = req->h.interrupt.length;
        send_pkt(e, &p);
        break;
    case URG_START_ISO_STREAM:
        if (!(req->h.start_iso_stream.endpoint & 0x80)) {
            e->iso_out_pkts = req->h.start_iso_stream.pkts_per_urb;
            e->iso_out_urbs = req->h.start_iso_stream.no_urbs;
        }
        stream_status(e, URG_ISO_STREAM_STATUS, req->id, req->h.start_iso_stream.endpoint);
        if (e->cfg.kind == EMU_ISO && (req->h.start_iso_stream.endpoint & 0x80))
            iso_burst(e, req->h.start_iso_stream.endpoint);
        break;
    case URG_STOP_ISO_STREAM:
        stream_status(e, URG_ISO_STREAM_STATUS, req->id, req->h.stop_iso_stream.endpoint);
        break;
    case URG_ISO_PACKET: /* iso OUT: never answered */
        e->iso_out_bytes += req->data_len;
        break;
    case URG_CANCEL_DATA_PACKET:
        for (i = 0; i < e->nin; i++) {
            if (e->in[i].id != req->id)
                continue;
            bulk_reply(e, req->id, e->in[i].ep, URG_STATUS_CANCELLED, NULL, 0);
            memmove(e->in + i, e->in + i + 1, (size_t)(e->nin - i - 1) * sizeof(e->in[0]));
            e->nin--;
            break;
        }
        break;
    case URG_RESET:
        e->bot = BOT_IDLE;
        break;
    default:
        break;
    }
    return URG_DECODE_CONTINUE;
}

static void on_error(void *ctx, int err, const char *msg, int fatal)
{
    (void)ctx;
    (void)err;
    (void)fatal;
    fprintf(stderr, "emuhost: the guest sent a bad packet: %s\n", msg);
}

void emu_config_init(struct emu_config *c, int kind)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->caps = URG_CAPS_ALL;
    c->text = "hello";
    c->blocks = 2048;
    c->iso_burst = 64;
    c->speed = models[kind].speed;
}

struct emuhost *emu_new(const struct emu_config *c)
{
    struct emuhost *e = calloc(1, sizeof(*e));
    const struct urg_decoder_callbacks cb = { .packet = on_packet, .error = on_error };
    struct urg_packet p;
    e->cfg = *c;
    e->fd = -1;
    if (urg_host_decoder_new(c->caps, &cb, e, NULL, &e->dec) ||
        urg_host_output_init(&e->out, e->dec, NULL, EMU_MAX_OUTPUT)) {
        urg_decoder_free(e->dec);
        free(e);
        return NULL;
    }
    if (c->kind == EMU_MSC) {
        uint32_t b;
        e->blocks = c->blocks ? c->blocks : 2048;
        e->disk = malloc((size_t)e->blocks * 512);
        for (b = 0; b < e->blocks; b++) {
            uint8_t *blk = e->disk + (size_t)b * 512;
            char label[32];
            int n = snprintf(label, sizeof(label), "block %u", (unsigned)b);
            memset(blk, (int)(b & 0xff), 512);
            memcpy(blk, label, (size_t)n);
        }
    }
    pkt_init(&p, URG_HELLO, 0);
    snprintf(p.h.hello.version, sizeof(p.h.hello.version), "emuhost (usbredir-guest tests)");
    p.h.hello.caps[0] = c->caps;
    p.h.hello.caps_words = 1;
    send_pkt(e, &p);
    return e;
}

int emu_recv(struct emuhost *e, const void *buf, size_t n)
{
    return urg_decoder_feed(e->dec, buf, n, NULL);
}

void emu_unplug(struct emuhost *e)
{
    struct urg_packet p;
    int i;
    for (i = 0; i < e->nin; i++)
        bulk_reply(e, e->in[i].id, e->in[i].ep, URG_STATUS_CANCELLED, NULL, 0);
    e->nin = 0;
    pkt_init(&p, URG_DEVICE_DISCONNECT, 0);
    send_pkt(e, &p);
    e->unplugged = true;
    if (e->fd >= 0)
        flush_out(e);
}

uint8_t *emu_disk(struct emuhost *e, uint32_t *blocks)
{
    if (blocks)
        *blocks = e->blocks;
    return e->disk;
}

uint32_t emu_serial_baud(const struct emuhost *e) { return e->baud; }
uint64_t emu_serial_requests(const struct emuhost *e) { return e->serial_requests; }
uint64_t emu_serial_received(const struct emuhost *e) { return e->serial_out; }
uint64_t emu_iso_out_bytes(const struct emuhost *e) { return e->iso_out_bytes; }
void emu_iso_out_sizing(const struct emuhost *e, uint8_t *pkts_per_urb, uint8_t *no_urbs)
{
    *pkts_per_urb = e->iso_out_pkts;
    *no_urbs = e->iso_out_urbs;
}

uint64_t emu_count(const struct emuhost *e, uint32_t type)
{
    int i = urg_type_index(type);
    return i < 0 ? 0 : e->counts[i];
}

/* ---------------------------------------------------------------- libev glue */

static void flush_out(struct emuhost *e)
{
    size_t n;
    const uint8_t *b;
    while ((b = emu_output(e, &n)) && n) {
        ssize_t w = write(e->fd, b, n);
        if (w > 0) {
            emu_consume(e, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            ev_io_start(e->loop, &e->wio);
            return;
        }
        return; /* the guest is gone; the read side will see it */
    }
    ev_io_stop(e->loop, &e->wio);
}

static void emu_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct emuhost *e = w->data;
    uint8_t buf[65536];
    (void)loop;
    (void)revents;
    for (;;) {
        ssize_t n = read(e->fd, buf, sizeof(buf));
        if (n > 0) {
            if (emu_recv(e, buf, (size_t)n))
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        emu_close(e); /* EOF or error */
        if (e->done)
            e->done(e->done_ctx, e);
        return;
    }
    flush_out(e);
}

static void emu_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    flush_out(w->data);
}

int emu_serve(struct emuhost *e, struct ev_loop *loop, int fd,
              void (*done)(void *ctx, struct emuhost *e), void *ctx)
{
    e->loop = loop;
    e->fd = fd;
    e->done = done;
    e->done_ctx = ctx;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    ev_io_init(&e->rio, emu_read, fd, EV_READ);
    ev_io_init(&e->wio, emu_write, fd, EV_WRITE);
    e->rio.data = e->wio.data = e;
    ev_io_start(loop, &e->rio);
    flush_out(e);
    return 0;
}

void emu_close(struct emuhost *e)
{
    if (e->fd < 0)
        return;
    ev_io_stop(e->loop, &e->rio);
    ev_io_stop(e->loop, &e->wio);
    close(e->fd);
    e->fd = -1;
}

void emu_pause(struct emuhost *e, int pause)
{
    if (e->fd < 0)
        return;
    if (pause)
        ev_io_stop(e->loop, &e->rio);
    else
        ev_io_start(e->loop, &e->rio);
}

void emu_free(struct emuhost *e)
{
    if (!e)
        return;
    if (e->loop)
        emu_close(e);
    urg_host_output_free(&e->out);
    urg_decoder_free(e->dec);
    free(e->disk);
    free(e->stage);
    free(e->stash);
    free(e);
}

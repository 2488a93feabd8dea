/*
 * usbip_wire.c - the USB/IP protocol read and written (usbip_wire.h).
 * The reader is a byte-at-a-time-safe state machine: any split of the
 * client's stream gives the same events.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "usbip_wire.h"

enum state {
    S_OP_HEADER,   /* management: the 8-byte header */
    S_BUSID,       /* management: OP_REQ_IMPORT's busid */
    S_DONE,        /* management: the request is read; nothing more */
    S_HEADER,      /* URB: a 48-byte header */
    S_ENDPOINT,    /* URB: waiting for usbip_reader_endpoint() */
    S_PAYLOAD,     /* URB: waiting for usbip_reader_payload() */
    S_DATA,        /* URB: OUT data */
    S_ISO,         /* URB: iso descriptors */
    S_COMPLETE,    /* URB: the submit is whole; the next read says so */
    S_MALFORMED
};

uint32_t usbip_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint16_t usbip_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* ---------------------------------------------------------------- reader */

void usbip_reader_init(struct usbip_reader *r, uint32_t max_transfer)
{
    memset(r, 0, sizeof(*r));
    r->max_transfer = max_transfer;
    r->mode = USBIP_MODE_MANAGEMENT;
    r->state = S_OP_HEADER;
}

void usbip_reader_urb_mode(struct usbip_reader *r, uint32_t devid)
{
    r->mode = USBIP_MODE_URB;
    r->devid = devid;
    r->state = S_HEADER;
    r->have = 0;
}

static enum usbip_event malformed(struct usbip_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static enum usbip_event malformed(struct usbip_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    r->state = S_MALFORMED;
    return USBIP_MALFORMED;
}

/* Gathers n bytes of a fixed-size piece into r->header; 1 when whole. */
static int gather(struct usbip_reader *r, size_t n, const uint8_t **buf, size_t *len)
{
    size_t take = n - r->have < *len ? n - r->have : *len;
    memcpy(r->header + r->have, *buf, take);
    r->have += take;
    *buf += take;
    *len -= take;
    if (r->have < n)
        return 0;
    r->have = 0;
    return 1;
}

static enum usbip_event op_header(struct usbip_reader *r)
{
    uint16_t version = usbip_get16(r->header), code = usbip_get16(r->header + 2);
    if (version != USBIP_VERSION)
        return malformed(r, "protocol version 0x%04x, not 0x0111", version);
    if (code == USBIP_OP_REQ_DEVLIST) {
        r->state = S_DONE;
        return USBIP_DEVLIST;
    }
    if (code == USBIP_OP_REQ_IMPORT) {
        r->state = S_BUSID;
        return USBIP_NEED_MORE;
    }
    return malformed(r, "unknown request 0x%04x in the management phase", code);
}

static enum usbip_event busid(struct usbip_reader *r)
{
    if (!memchr(r->header, 0, USBIP_BUSID_SIZE))
        return malformed(r, "OP_REQ_IMPORT: the busid is not NUL-terminated");
    memcpy(r->busid, r->header, USBIP_BUSID_SIZE);
    r->busid[USBIP_BUSID_SIZE] = 0;
    r->state = S_DONE;
    return USBIP_IMPORT;
}

static enum usbip_event urb_header(struct usbip_reader *r)
{
    const uint8_t *h = r->header;
    struct usbip_cmd *c = &r->cmd;
    int32_t length;
    memset(c, 0, sizeof(*c));
    c->command = usbip_get32(h);
    c->seqnum = usbip_get32(h + 4);
    c->devid = usbip_get32(h + 8);
    c->direction = usbip_get32(h + 12);
    c->ep = usbip_get32(h + 16);
    if (c->command != USBIP_CMD_SUBMIT && c->command != USBIP_CMD_UNLINK)
        return malformed(r, "unknown command %u (seqnum %u)", c->command, c->seqnum);
    if (c->devid != r->devid)
        return malformed(r, "devid 0x%08x is not the imported device's 0x%08x", c->devid,
                         r->devid);
    if (c->command == USBIP_CMD_UNLINK) {
        c->unlink_seqnum = usbip_get32(h + 20);
        r->state = S_HEADER;
        return USBIP_UNLINK;
    }
    if (c->direction != USBIP_DIR_OUT && c->direction != USBIP_DIR_IN)
        return malformed(r, "CMD_SUBMIT: direction %u (seqnum %u)", c->direction, c->seqnum);
    if (c->ep > 15)
        return malformed(r, "CMD_SUBMIT: endpoint %u (seqnum %u)", c->ep, c->seqnum);
    c->transfer_flags = usbip_get32(h + 20);
    length = (int32_t)usbip_get32(h + 24);
    if (length < 0 || (uint32_t)length > r->max_transfer)
        return malformed(r, "CMD_SUBMIT: transfer_buffer_length %d is outside 0..%u (seqnum %u)",
                         length, r->max_transfer, c->seqnum);
    c->transfer_buffer_length = (uint32_t)length;
    c->start_frame = (int32_t)usbip_get32(h + 28);
    c->number_of_packets = usbip_get32(h + 32); /* checked for iso only */
    c->interval = (int32_t)usbip_get32(h + 36);
    memcpy(c->setup, h + 40, 8);
    r->state = S_ENDPOINT;
    return USBIP_HEADER;
}

int usbip_reader_endpoint(struct usbip_reader *r, int ep_type)
{
    struct usbip_cmd *c = &r->cmd;
    if (r->state != S_ENDPOINT)
        return -1;
    if (ep_type == USBIP_EP_ISO) {
        int32_t n = (int32_t)c->number_of_packets;
        if (n < 1 || n > USBIP_MAX_ISO_PACKETS) {
            malformed(r, "CMD_SUBMIT: iso number_of_packets %d is outside 1..%d (seqnum %u)", n,
                  USBIP_MAX_ISO_PACKETS, c->seqnum);
            return -1;
        }
    } else {
        c->number_of_packets = 0;
    }
    r->state = S_PAYLOAD;
    return 0;
}

void usbip_reader_payload(struct usbip_reader *r, uint8_t *data, struct usbip_iso_desc *iso)
{
    const struct usbip_cmd *c = &r->cmd;
    if (r->state != S_PAYLOAD)
        return;
    r->data = data;
    r->data_len = 0;
    r->iso = iso;
    r->iso_count = 0;
    r->have = 0;
    if (c->direction == USBIP_DIR_OUT && c->transfer_buffer_length > 0)
        r->state = S_DATA;
    else if (c->number_of_packets > 0)
        r->state = S_ISO;
    else
        r->state = S_COMPLETE;
}

static enum usbip_event iso_desc(struct usbip_reader *r)
{
    struct usbip_iso_desc *d = &r->iso[r->iso_count++];
    const uint8_t *h = r->header;
    d->offset = usbip_get32(h);
    d->length = usbip_get32(h + 4);
    d->actual_length = 0; /* the client's are meaningless on a submit */
    d->status = 0;
    if ((uint64_t)d->offset + d->length > r->cmd.transfer_buffer_length)
        return malformed(r, "CMD_SUBMIT: iso packet %u (offset %u, length %u) ends past the buffer of %u bytes (seqnum %u)",
                         r->iso_count - 1, d->offset, d->length, r->cmd.transfer_buffer_length, r->cmd.seqnum);
    if (r->iso_count < r->cmd.number_of_packets)
        return USBIP_NEED_MORE;
    r->state = S_COMPLETE;
    return USBIP_NEED_MORE;
}

/* The states that gather a fixed-size piece into r->header, and what
 * reads it once it is whole. */
static const struct piece {
    size_t size;
    enum usbip_event (*read)(struct usbip_reader *r);
} pieces[] = {
    [S_OP_HEADER] = { USBIP_OP_HEADER_SIZE, op_header },
    [S_BUSID] = { USBIP_BUSID_SIZE, busid },
    [S_HEADER] = { USBIP_HEADER_SIZE, urb_header },
    [S_ISO] = { USBIP_ISO_DESC_SIZE, iso_desc },
};

enum usbip_event usbip_read(struct usbip_reader *r, const uint8_t *buf, size_t len, size_t *used)
{
    const uint8_t *start = buf;
    enum usbip_event ev = USBIP_NEED_MORE;
    *used = 0;
    for (;;) {
        const struct piece *piece =
            (size_t)r->state < sizeof(pieces) / sizeof(pieces[0]) ? &pieces[r->state] : NULL;
        if (piece && piece->read) {
            if (!gather(r, piece->size, &buf, &len))
                goto out;
            ev = piece->read(r);
            if (ev != USBIP_NEED_MORE)
                goto out;
            continue;
        }
        switch (r->state) {
        case S_DONE:
            if (len > 0)
                ev = malformed(r, "%zu bytes after the management request", len);
            goto out;
        case S_ENDPOINT:
        case S_PAYLOAD:
            ev = malformed(r, "internal: the submit's payload has no place");
            goto out;
        case S_DATA: {
            size_t want = r->cmd.transfer_buffer_length - r->data_len;
            size_t take = want < len ? want : len;
            if (r->data)
                memcpy(r->data + r->data_len, buf, take);
            r->data_len += take;
            buf += take;
            len -= take;
            if (r->data_len < r->cmd.transfer_buffer_length)
                goto out;
            r->state = r->cmd.number_of_packets > 0 ? S_ISO : S_COMPLETE;
            break;
        }
        case S_COMPLETE:
            r->state = S_HEADER;
            ev = USBIP_SUBMIT;
            goto out;
        default: /* S_MALFORMED */
            r->state = S_MALFORMED;
            *used = 0;
            return USBIP_MALFORMED;
        }
    }
out:
    *used = (size_t)(buf - start);
    return ev;
}

/* ---------------------------------------------------------------- writer */

size_t usbip_put_op_header(uint8_t out[USBIP_OP_HEADER_SIZE], uint16_t code, uint32_t status)
{
    put16(out, USBIP_VERSION);
    put16(out + 2, code);
    put32(out + 4, status);
    return USBIP_OP_HEADER_SIZE;
}

size_t usbip_put_device(uint8_t *out, const struct usbip_device *d, int with_interfaces)
{
    size_t n = USBIP_DEVICE_SIZE;
    memset(out, 0, USBIP_DEVICE_SIZE);
    memcpy(out, d->path, strnlen(d->path, sizeof(d->path) - 1));
    memcpy(out + 256, d->busid, strnlen(d->busid, sizeof(d->busid) - 1));
    put32(out + 288, d->busnum);
    put32(out + 292, d->devnum);
    put32(out + 296, d->speed);
    put16(out + 300, d->id_vendor);
    put16(out + 302, d->id_product);
    put16(out + 304, d->bcd_device);
    out[306] = d->device_class;
    out[307] = d->device_subclass;
    out[308] = d->device_protocol;
    out[309] = d->configuration_value;
    out[310] = d->num_configurations;
    out[311] = d->num_interfaces;
    if (with_interfaces) {
        for (unsigned i = 0; i < d->num_interfaces && i < 32; i++) {
            out[n++] = d->interface[i].class_code;
            out[n++] = d->interface[i].subclass;
            out[n++] = d->interface[i].protocol;
            out[n++] = 0;
        }
    }
    return n;
}

size_t usbip_put_ret_submit(uint8_t out[USBIP_HEADER_SIZE], uint32_t seqnum, int32_t status,
                            uint32_t actual_length, int32_t start_frame,
                            uint32_t number_of_packets, uint32_t error_count)
{
    memset(out, 0, USBIP_HEADER_SIZE);
    put32(out, USBIP_RET_SUBMIT);
    put32(out + 4, seqnum);
    put32(out + 20, (uint32_t)status);
    put32(out + 24, actual_length);
    put32(out + 28, (uint32_t)start_frame);
    put32(out + 32, number_of_packets);
    put32(out + 36, error_count);
    return USBIP_HEADER_SIZE;
}

size_t usbip_put_ret_unlink(uint8_t out[USBIP_HEADER_SIZE], uint32_t seqnum, int32_t status)
{
    memset(out, 0, USBIP_HEADER_SIZE);
    put32(out, USBIP_RET_UNLINK);
    put32(out + 4, seqnum);
    put32(out + 20, (uint32_t)status);
    return USBIP_HEADER_SIZE;
}

size_t usbip_put_iso_desc(uint8_t out[USBIP_ISO_DESC_SIZE], const struct usbip_iso_desc *d)
{
    put32(out, d->offset);
    put32(out + 4, d->length);
    put32(out + 8, d->actual_length);
    put32(out + 12, (uint32_t)d->status);
    return USBIP_ISO_DESC_SIZE;
}

void usbip_put_cmd(uint8_t out[USBIP_HEADER_SIZE], const struct usbip_cmd *c)
{
    memset(out, 0, USBIP_HEADER_SIZE);
    put32(out, c->command);
    put32(out + 4, c->seqnum);
    put32(out + 8, c->devid);
    put32(out + 12, c->direction);
    put32(out + 16, c->ep);
    if (c->command == USBIP_CMD_UNLINK) {
        put32(out + 20, c->unlink_seqnum);
        return;
    }
    put32(out + 20, c->transfer_flags);
    put32(out + 24, c->transfer_buffer_length);
    put32(out + 28, (uint32_t)c->start_frame);
    put32(out + 32, c->number_of_packets);
    put32(out + 36, (uint32_t)c->interval);
    memcpy(out + 40, c->setup, 8);
}

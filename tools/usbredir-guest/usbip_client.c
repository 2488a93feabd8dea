/*
 * usbip_client.c - a USB/IP client's connection (usbip.h): its management
 * request, then its URBs. Each CMD_SUBMIT becomes an urb_req - the URB,
 * its buffer and its iso descriptors in one allocation - whose state says
 * where it is; this file alone changes it:
 *
 *   READING -> (iso IN: SCHEDULED until its frames end) -> IN_FLIGHT in the
 *   model (HELD while the model's output is full; ZLP while the zero-length
 *   packet after it is out) -> (iso: PACED until its frames end) -> its
 *   RET_SUBMIT, then freed. CMD_UNLINK or the connection's end frees it at
 *   any point without a RET_SUBMIT.
 *
 * The client is an untrusted peer: usbip_wire.c checks every header; the
 * bytes in flight per client are bounded (reading stops above the bound),
 * as is its output (reading stops above OUTPUT_HIGH; a client that takes
 * no byte for STALL_SECONDS is dropped). docs/usbip.md is the guide.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "usbip.h"

#define READ_SIZE 65536

/* Bounds per client (docs/usbip.md). */
#define MAX_TRANSFER (16u << 20)       /* one URB's buffer */
#define MAX_IN_FLIGHT_BYTES (64u << 20) /* buffers of the URBs not answered */
#define MAX_IN_FLIGHT_URBS 4096
#define OUTPUT_HIGH (4u << 20)          /* queued replies that stop reading */
#define STALL_SECONDS 60.0              /* a client that takes no byte */
#define FLUSH_SECONDS 5.0               /* the last replies before a close */

enum req_state {
    REQ_READING,   /* its payload is being read */
    REQ_HELD,      /* the model's output was full (URG_ERR_AGAIN): retried */
    REQ_IN_FLIGHT, /* submitted */
    REQ_ZLP,       /* the zero-length packet after it is in flight */
    REQ_PACED,     /* completed; its reply waits for its frames to pass */
    REQ_SCHEDULED  /* iso IN: submitted once its frames have passed, so that
                      it carries what arrived during them */
};

struct urb_req {
    struct urb_req *prev, *next; /* the client's list, or the paced list */
    struct client *client;       /* NULL once the client is gone */
    struct usbip_cmd cmd;
    int ep_type;                 /* URG_EP_* from the live table */
    enum req_state state;
    int unlinked;                /* answered by RET_UNLINK: no RET_SUBMIT */
    uint32_t zlp_actual;         /* bytes of the data stage, during REQ_ZLP */
    double due;                  /* iso: when its frames end (the reply's time) */
    int32_t start_frame;
    struct urg_urb *urb;
    struct usbip_iso_desc *iso;  /* cmd.number_of_packets of them */
    uint8_t *buffer;             /* cmd.transfer_buffer_length bytes */
};

struct client {
    struct server *s;
    struct client *prev, *next;
    int fd;
    char peer[80];
    ev_io rio, wio;
    ev_timer stall, pace;
    ev_check retry;
    struct usbip_reader reader;
    uint8_t rbuf[READ_SIZE];
    size_t rpos, rlen;
    int paused, closing;
    int processing;              /* in client_process() */
    uint8_t *out;
    size_t out_pos, out_len, out_cap;
    struct export *exp;
    struct urb_req *reqs;        /* READING, HELD, IN_FLIGHT, ZLP */
    struct urb_req *paced;       /* PACED, by due time */
    struct urb_req *current;     /* REQ_READING */
    struct urb_req *held;        /* REQ_HELD */
    size_t in_flight_bytes;
    unsigned in_flight;
    double ep_clock[32];         /* iso: when each endpoint's frames are used up */
};

static void client_graceful_close(struct client *c);
static void client_process(struct client *c);
static void req_complete(struct urb_req *q);
static int req_submit(struct urb_req *q);

/* ---------------------------------------------------------------- output */

static void client_write(struct client *c)
{
    while (c->out_pos < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_pos, c->out_len - c->out_pos, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            client_close(c, n < 0 ? strerror(errno) : "the connection closed");
            return;
        }
        c->out_pos += (size_t)n;
        ev_timer_again(c->s->loop, &c->stall); /* progress */
    }
    if (c->out_pos == c->out_len) {
        c->out_pos = c->out_len = 0;
        ev_io_stop(c->s->loop, &c->wio);
        ev_timer_stop(c->s->loop, &c->stall);
        if (c->closing) {
            client_close(c, NULL);
            return;
        }
    } else {
        ev_io_start(c->s->loop, &c->wio);
        if (!ev_is_active(&c->stall))
            ev_timer_again(c->s->loop, &c->stall);
    }
    /* Reading goes on once the replies queued are under half the bound. */
    if (c->paused && c->out_len - c->out_pos < OUTPUT_HIGH / 2)
        client_process(c);
}

/* Room for n more bytes of output; NULL (the client closed) if memory
 * ran out. */
static uint8_t *out_reserve(struct client *c, size_t n)
{
    if (c->out_pos > 0 && c->out_pos == c->out_len)
        c->out_pos = c->out_len = 0;
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 65536;
        uint8_t *p;
        if (c->out_pos > 0) { /* compact first */
            memmove(c->out, c->out + c->out_pos, c->out_len - c->out_pos);
            c->out_len -= c->out_pos;
            c->out_pos = 0;
        }
        while (cap < c->out_len + n)
            cap *= 2;
        if (cap != c->out_cap) {
            if (!(p = realloc(c->out, cap))) {
                client_close(c, "out of memory for replies");
                return NULL;
            }
            c->out = p;
            c->out_cap = cap;
        }
    }
    c->out_len += n;
    return c->out + c->out_len - n;
}

/* ---------------------------------------------------------------- replies */

static int32_t errno_of(int status)
{
    switch (status) {
    case URG_URB_SUCCESS:
    case URG_URB_SHORT: return 0;
    case URG_URB_STALL: return -EPIPE;
    case URG_URB_BABBLE: return -EOVERFLOW;
    case URG_URB_CANCELLED: return -ECONNRESET;
    case URG_URB_NODEV: return -ENODEV;
    default: return -EPROTO;
    }
}

/* A submit the model refused (URG_ERR_*) as the status of its reply. */
static int32_t errno_of_refusal(int err)
{
    switch (err) {
    case URG_ERR_NO_DEVICE: return -ENODEV;
    case URG_ERR_HCD_ENDPOINT: return -EPIPE;
    case URG_ERR_TOO_LONG: return -EMSGSIZE;
    case URG_ERR_NOMEM: return -ENOMEM;
    default: return -EINVAL;
    }
}

static void req_unlist(struct urb_req *q)
{
    struct client *c = q->client;
    struct urb_req **head;
    if (!c)
        return;
    head = q->state == REQ_PACED || q->state == REQ_SCHEDULED ? &c->paced : &c->reqs;
    if (q->prev)
        q->prev->next = q->next;
    else if (*head == q)
        *head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
}

static void req_free(struct urb_req *q)
{
    struct client *c = q->client;
    req_unlist(q);
    if (c) {
        c->in_flight--;
        c->in_flight_bytes -= q->cmd.transfer_buffer_length;
        if (c->current == q)
            c->current = NULL;
        if (c->held == q)
            c->held = NULL;
    }
    urg_urb_free(q->urb);
    free(q);
    /* Reading stopped at the in-flight bound goes on. */
    if (c && c->paused && !c->held && c->in_flight_bytes < MAX_IN_FLIGHT_BYTES &&
        c->in_flight < MAX_IN_FLIGHT_URBS)
        client_process(c);
}

/* RET_SUBMIT for a request that finished with status (an errno), from its
 * URB's results. Iso IN data goes back to back, each packet's bytes. */
static void reply_submit(struct urb_req *q, int32_t status)
{
    struct client *c = q->client;
    const struct urg_urb *u = q->urb;
    uint32_t n = q->cmd.number_of_packets, actual = 0, errors = 0, data = 0, i;
    uint8_t *p;
    if (q->ep_type == URG_EP_ISO && status == 0) {
        for (i = 0; i < n; i++) {
            uint32_t a = u->iso[i].actual_length;
            if (a > q->iso[i].length)
                a = q->iso[i].length;
            q->iso[i].actual_length = a;
            q->iso[i].status = errno_of(u->iso[i].status);
            if (q->iso[i].status)
                errors++;
            actual += a;
        }
        if (q->cmd.direction == USBIP_DIR_IN)
            data = actual;
    } else if (q->ep_type == URG_EP_ISO) {
        for (i = 0; i < n; i++) {
            q->iso[i].actual_length = 0;
            q->iso[i].status = status;
        }
        errors = n;
    } else {
        actual = q->state == REQ_ZLP ? q->zlp_actual : u->actual_length;
        if (status != 0 && status != -EPIPE && status != -EOVERFLOW)
            actual = q->cmd.direction == USBIP_DIR_IN ? 0 : actual;
        if (actual > q->cmd.transfer_buffer_length)
            actual = q->cmd.transfer_buffer_length;
        if (q->cmd.direction == USBIP_DIR_IN)
            data = actual;
    }
    if (!(p = out_reserve(c, USBIP_HEADER_SIZE + data + n * USBIP_ISO_DESC_SIZE)))
        return;
    p += usbip_put_ret_submit(p, q->cmd.seqnum, status, actual, q->start_frame, n, errors);
    if (q->ep_type == URG_EP_ISO && data) {
        for (i = 0; i < n; i++) {
            memcpy(p, q->buffer + q->iso[i].offset, q->iso[i].actual_length);
            p += q->iso[i].actual_length;
        }
    } else if (data) {
        memcpy(p, q->buffer, data);
        p += data;
    }
    for (i = 0; i < n; i++)
        p += usbip_put_iso_desc(p, &q->iso[i]);
}

static void reply_unlink(struct client *c, uint32_t seqnum, int32_t status)
{
    uint8_t *p = out_reserve(c, USBIP_HEADER_SIZE);
    if (p)
        usbip_put_ret_unlink(p, seqnum, status);
}

/* ---------------------------------------------------------------- iso pacing */

static double now(struct client *c) { return ev_now(c->s->loop); }

/* The frames an iso URB takes: one packet per period, the period
 * 2^(bInterval-1) frames of 1 ms (full speed) or microframes of 125 us
 * (high and super speed). The URB's frames start when the endpoint's last
 * ones end, or now if they ended already; its reply goes no earlier than
 * their end. start_frame is the 1 ms frame number (11 bits). */
static void pace_schedule(struct urb_req *q, const struct urg_hcd_device *info)
{
    struct client *c = q->client;
    uint8_t addr = (uint8_t)(q->cmd.ep | (q->cmd.direction == USBIP_DIR_IN ? 0x80 : 0));
    int idx = urg_ep_index(addr);
    unsigned interval = info->usb.ep[idx].interval;
    double period, start;
    if (interval < 1)
        interval = 1;
    if (interval > 16)
        interval = 16;
    period = (info->speed >= URG_SPEED_HIGH && info->speed != URG_SPEED_UNKNOWN ? 125e-6 : 1e-3) *
             (double)(1u << (interval - 1));
    start = c->ep_clock[idx] > now(c) ? c->ep_clock[idx] : now(c);
    q->due = start + period * q->cmd.number_of_packets;
    c->ep_clock[idx] = q->due;
    q->start_frame = (int32_t)((long long)(start * 1000) & 0x7ff);
}

static void pace_arm(struct client *c)
{
    ev_timer_stop(c->s->loop, &c->pace);
    if (c->paced) {
        double wait = c->paced->due - ev_time();
        ev_timer_set(&c->pace, wait > 0 ? wait : 0, 0.);
        ev_timer_start(c->s->loop, &c->pace);
    }
}

/* Into the paced list, by due time, as REQ_PACED or REQ_SCHEDULED. */
static void pace_insert(struct urb_req *q, enum req_state state)
{
    struct client *c = q->client;
    struct urb_req **pp = &c->paced, *prev = NULL;
    req_unlist(q);
    q->state = state;
    while (*pp && (*pp)->due <= q->due) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    q->next = *pp;
    q->prev = prev;
    if (*pp)
        (*pp)->prev = q;
    *pp = q;
    pace_arm(c);
}

static void on_pace(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct client *c = w->data;
    double t = ev_time();
    (void)loop;
    (void)revents;
    while (c->paced && c->paced->due <= t) {
        struct urb_req *q = c->paced;
        if (q->state == REQ_SCHEDULED) {
            req_unlist(q);
            q->state = REQ_READING; /* back in the client's list */
            q->next = c->reqs;
            if (c->reqs)
                c->reqs->prev = q;
            c->reqs = q;
            if (req_submit(q) == 1) {
                ev_check_start(c->s->loop, &c->retry);
                break; /* the rest waits behind it */
            }
            if (c->fd < 0)
                return;
            continue;
        }
        reply_submit(q, errno_of(q->urb->status));
        if (c->fd < 0) /* the client closed while replying */
            return;
        req_free(q);
    }
    pace_arm(c);
    client_write(c);
}

/* ---------------------------------------------------------------- requests */

/* The request finished (its URB completed, at once or later). */
static void req_complete(struct urb_req *q)
{
    struct client *c = q->client;
    struct urg_urb *u = q->urb;
    if (!c || q->unlinked) {
        req_free(q); /* the client is gone, or RET_UNLINK answered it */
        return;
    }
    /* ZERO_PACKET: a bulk or interrupt OUT that filled its last packet is
     * followed by a zero-length OUT; the reply waits for both. */
    if (q->state == REQ_IN_FLIGHT && q->cmd.direction == USBIP_DIR_OUT &&
        (q->cmd.transfer_flags & USBIP_URB_ZERO_PACKET) &&
        (q->ep_type == URG_EP_BULK || q->ep_type == URG_EP_INTERRUPT) &&
        u->status == URG_URB_SUCCESS && u->actual_length > 0 && c->exp) {
        const struct urg_hcd_device *info = urg_hcd_dev_info(c->exp->dev);
        uint16_t mps = info ? info->usb.ep[urg_ep_index(u->endpoint)].max_packet_size : 0;
        if (mps && u->actual_length % mps == 0) {
            int r;
            q->zlp_actual = u->actual_length;
            q->state = REQ_ZLP;
            u->length = 0;
            r = urg_hcd_submit(c->exp->dev, u);
            if (r == 0)
                return;
            if (r < 0)
                u->status = URG_URB_IOERROR;
        }
    }
    if (q->ep_type == URG_EP_ISO && q->due > ev_time()) {
        pace_insert(q, REQ_PACED);
        return;
    }
    reply_submit(q, errno_of(u->status));
    if (c->fd < 0)
        return;
    req_free(q);
    client_write(c);
}

/* Submits q's URB: it is in flight, done now, held for later (the model's
 * output is full), or refused. Returns 0, or 1 when held. */
static int req_submit(struct urb_req *q)
{
    struct client *c = q->client;
    struct export *e = c->exp;
    int r = e ? urg_hcd_submit(e->dev, q->urb) : URG_ERR_NO_DEVICE;
    if (r == URG_ERR_AGAIN) {
        if (q->state != REQ_HELD && c->s->o->verbose)
            cli_error(c->s->o, "info: %s: %zu bytes wait for the usb-host: not reading %s",
                      e->busid, c->s->max_output, c->peer);
        q->state = REQ_HELD;
        c->held = q;
        return 1;
    }
    if (c->held == q)
        c->held = NULL;
    q->state = REQ_IN_FLIGHT;
    if (r == 0)
        return 0;
    if (r == 1) {
        req_complete(q);
        return 0;
    }
    if (c->s->o->verbose)
        cli_error(c->s->o, "%s: seqnum %u on endpoint %u refused: %s", c->peer, q->cmd.seqnum,
                  q->cmd.ep, urg_transport_strerror(r));
    reply_submit(q, errno_of_refusal(r));
    if (c->fd < 0)
        return 0;
    req_free(q);
    client_write(c);
    return 0;
}

static void on_retry(struct ev_loop *loop, ev_check *w, int revents)
{
    struct client *c = w->data;
    (void)revents;
    if (!c->held) {
        ev_check_stop(loop, w);
        return;
    }
    if (req_submit(c->held) == 0) {
        ev_check_stop(loop, w);
        if (c->fd >= 0)
            client_process(c);
    }
}

/* The header of a CMD_SUBMIT: the request, with room for its payload. */
static int req_begin(struct client *c)
{
    const struct usbip_cmd *cmd = &c->reader.cmd;
    const struct urg_hcd_device *info = c->exp ? urg_hcd_dev_info(c->exp->dev) : NULL;
    uint8_t addr = (uint8_t)(cmd->ep | (cmd->direction == USBIP_DIR_IN ? 0x80 : 0));
    int type = cmd->ep == 0 ? URG_EP_CONTROL : info ? info->usb.ep[urg_ep_index(addr)].type
                                                     : URG_EP_INVALID;
    struct urb_req *q;
    size_t n, size;
    if (usbip_reader_endpoint(&c->reader, type == URG_EP_ISO ? USBIP_EP_ISO : 0))
        return -1;
    n = cmd->number_of_packets;
    size = sizeof(*q) + n * sizeof(struct usbip_iso_desc) + cmd->transfer_buffer_length;
    if (!(q = calloc(1, size)) || !(q->urb = urg_urb_alloc((int)n))) {
        free(q);
        snprintf(c->reader.why, sizeof(c->reader.why), "out of memory for a %u-byte URB",
                 cmd->transfer_buffer_length);
        return -1;
    }
    q->client = c;
    q->cmd = *cmd;
    q->ep_type = type;
    q->state = REQ_READING;
    q->iso = (struct usbip_iso_desc *)(q + 1);
    q->buffer = (uint8_t *)(q->iso + n);
    q->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = q;
    c->reqs = q;
    c->current = q;
    c->in_flight++;
    c->in_flight_bytes += cmd->transfer_buffer_length;
    usbip_reader_payload(&c->reader, q->buffer, q->iso);
    return 0;
}

/* The whole CMD_SUBMIT is read: its URB goes to the model. */
static void req_ready(struct client *c)
{
    struct urb_req *q = c->current;
    struct urg_urb *u = q->urb;
    uint32_t i;
    c->current = NULL;
    u->endpoint = q->cmd.ep == 0 ? 0
                                 : (uint8_t)(q->cmd.ep |
                                             (q->cmd.direction == USBIP_DIR_IN ? 0x80 : 0));
    u->type = (uint8_t)(q->ep_type == URG_EP_INVALID ? URG_EP_BULK : q->ep_type);
    memcpy(u->setup, q->cmd.setup, 8);
    u->buffer = q->buffer;
    u->length = q->cmd.transfer_buffer_length;
    u->user_data = q;
    for (i = 0; i < q->cmd.number_of_packets; i++) {
        u->iso[i].offset = q->iso[i].offset;
        u->iso[i].length = q->iso[i].length;
    }
    /* A port reset (Windows clients send it on endpoint 0): the device is
     * reset, as the Linux stub does. */
    if (q->cmd.ep == 0 && !memcmp(q->cmd.setup, "\x23\x03\x04\x00", 4)) {
        if (c->exp)
            urg_hcd_reset(c->exp->dev);
        q->state = REQ_IN_FLIGHT;
        u->status = URG_URB_SUCCESS;
        u->actual_length = 0;
        req_complete(q);
        return;
    }
    if (q->ep_type == URG_EP_ISO && c->exp) {
        const struct urg_hcd_device *info = urg_hcd_dev_info(c->exp->dev);
        if (info)
            pace_schedule(q, info);
        if (info && q->cmd.direction == USBIP_DIR_IN) {
            pace_insert(q, REQ_SCHEDULED); /* submitted when its frames end */
            return;
        }
    }
    if (req_submit(q) == 1)
        ev_check_start(c->s->loop, &c->retry);
}

/* CMD_UNLINK: the URB seqnum is cancelled and answered by RET_UNLINK
 * -ECONNRESET, never by a RET_SUBMIT; status 0 when it was answered
 * already. */
static void req_unlink(struct client *c)
{
    uint32_t target = c->reader.cmd.unlink_seqnum, seqnum = c->reader.cmd.seqnum;
    struct urb_req *q, **lists[2] = { &c->reqs, &c->paced };
    for (int l = 0; l < 2; l++) {
        for (q = *lists[l]; q; q = q->next) {
            if (q->cmd.seqnum != target || q->state == REQ_READING || q->unlinked)
                continue;
            reply_unlink(c, seqnum, -ECONNRESET);
            q->unlinked = 1;
            if ((q->state == REQ_IN_FLIGHT || q->state == REQ_ZLP) && c->exp &&
                urg_hcd_cancel(c->exp->dev, q->urb) == 0)
                return; /* its completion, now, freed it */
            req_free(q);
            return;
        }
    }
    reply_unlink(c, seqnum, 0);
}

/* ---------------------------------------------------------------- management */

static void op_devlist(struct client *c)
{
    struct server *s = c->s;
    uint32_t n = 0;
    uint8_t *p;
    for (int i = 0; i < s->n_exports; i++)
        n += s->exports[i].ready ? 1 : 0;
    if (!(p = out_reserve(c, USBIP_OP_HEADER_SIZE + 4)))
        return;
    p += usbip_put_op_header(p, USBIP_OP_REP_DEVLIST, USBIP_ST_OK);
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    for (int i = 0; i < s->n_exports; i++) {
        struct usbip_device d;
        if (!s->exports[i].ready)
            continue;
        export_describe(&s->exports[i], &d);
        if (!(p = out_reserve(c, USBIP_DEVICE_SIZE + USBIP_INTERFACE_SIZE * d.num_interfaces)))
            return;
        usbip_put_device(p, &d, 1);
    }
    if (s->o->verbose)
        cli_error(s->o, "info: %s: listed %u device(s)", c->peer, n);
    client_graceful_close(c);
}

static void op_import(struct client *c)
{
    struct export *e = export_by_busid(c->s, c->reader.busid);
    uint32_t status = !e ? USBIP_ST_NODEV : !e->ready ? USBIP_ST_NA
                                       : e->importer ? USBIP_ST_DEV_BUSY : USBIP_ST_OK;
    uint8_t *p;
    if (status != USBIP_ST_OK) {
        static const char *why[] = { "", "its device is not there now", "it is imported already",
                                     "", "no such device" };
        cli_error(c->s->o, "%s: import of %s refused: %s", c->peer, c->reader.busid,
                  why[status]);
        if ((p = out_reserve(c, USBIP_OP_HEADER_SIZE)))
            usbip_put_op_header(p, USBIP_OP_REP_IMPORT, status);
        client_graceful_close(c);
        return;
    }
    if (!(p = out_reserve(c, USBIP_OP_HEADER_SIZE + USBIP_DEVICE_SIZE)))
        return;
    {
        struct usbip_device d;
        export_describe(e, &d);
        p += usbip_put_op_header(p, USBIP_OP_REP_IMPORT, USBIP_ST_OK);
        usbip_put_device(p, &d, 0);
    }
    c->exp = e;
    e->importer = c;
    usbip_reader_urb_mode(&c->reader, 1u << 16 | (uint32_t)e->devnum);
    if (c->s->o->verbose)
        cli_error(c->s->o, "info: %s imported %s (%s)", c->peer, e->busid, e->address);
}

/* ---------------------------------------------------------------- clients */

/* Reads what is buffered, then from the socket, until a bound stops it. */
static void client_process(struct client *c)
{
    struct server *s = c->s;
    if (c->processing)
        return; /* the loop below looks at the bounds again itself */
    c->processing = 1;
    for (;;) {
        size_t used;
        enum usbip_event ev;
        if (c->closing)
            break;
        c->paused = c->held || c->in_flight_bytes >= MAX_IN_FLIGHT_BYTES ||
                    c->in_flight >= MAX_IN_FLIGHT_URBS || c->out_len - c->out_pos >= OUTPUT_HIGH;
        if (c->paused) {
            ev_io_stop(s->loop, &c->rio);
            break;
        }
        /* Called with no bytes too: a submit with no payload is whole
         * right after its header. */
        ev = usbip_read(&c->reader, c->rbuf + c->rpos, c->rlen - c->rpos, &used);
        c->rpos += used;
        switch (ev) {
        case USBIP_NEED_MORE: /* every byte used: read the socket */
            ev_io_start(s->loop, &c->rio);
            c->processing = 0;
            return;
        case USBIP_DEVLIST:
            op_devlist(c);
            break;
        case USBIP_IMPORT:
            op_import(c);
            break;
        case USBIP_HEADER:
            if (req_begin(c))
                client_close(c, c->reader.why);
            break;
        case USBIP_SUBMIT:
            req_ready(c);
            break;
        case USBIP_UNLINK:
            req_unlink(c);
            break;
        case USBIP_MALFORMED:
        default:
            client_close(c, c->reader.why);
            break;
        }
        if (c->fd < 0)
            return;
        if (c->out_len > c->out_pos)
            client_write(c);
        if (c->fd < 0)
            return;
    }
    c->processing = 0;
}

static void on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct client *c = w->data;
    ssize_t n;
    (void)loop;
    (void)revents;
    if (c->rpos < c->rlen) {
        client_process(c);
        return;
    }
    n = recv(c->fd, c->rbuf, sizeof(c->rbuf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        client_close(c, n < 0 ? strerror(errno) : NULL);
        return;
    }
    c->rpos = 0;
    c->rlen = (size_t)n;
    client_process(c);
}

static void on_client_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    client_write(w->data);
}

static void on_client_stall(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct client *c = w->data;
    (void)loop;
    (void)revents;
    client_close(c, c->closing ? "it took no byte of the last replies" : "it took no byte for 60 s");
}

/* Stops reading; closes once the replies queued are written (a bound of
 * FLUSH_SECONDS for a client that does not read). */
static void client_graceful_close(struct client *c)
{
    c->closing = 1;
    ev_io_stop(c->s->loop, &c->rio);
    ev_check_stop(c->s->loop, &c->retry);
    if (c->out_len == c->out_pos) {
        client_close(c, NULL);
        return;
    }
    c->stall.repeat = FLUSH_SECONDS;
    ev_timer_again(c->s->loop, &c->stall);
    ev_io_start(c->s->loop, &c->wio);
}

/* The connection ends: every URB still in the model is cancelled (no reply
 * goes out), the device is reset as the Linux stub resets it, and it can
 * be imported again. why: NULL for a normal close. */
void client_close(struct client *c, const char *why)
{
    struct server *s = c->s;
    struct export *e = c->exp;
    struct urb_req *q;
    if (c->fd < 0)
        return; /* closing already (a cancel's completion called back) */
    if (why)
        cli_error(s->o, "%s: closing the connection: %s", c->peer, why);
    else if (s->o->verbose)
        cli_error(s->o, "info: %s: connection closed", c->peer);
    ev_io_stop(s->loop, &c->rio);
    ev_io_stop(s->loop, &c->wio);
    ev_timer_stop(s->loop, &c->stall);
    ev_timer_stop(s->loop, &c->pace);
    ev_check_stop(s->loop, &c->retry);
    close(c->fd);
    c->fd = -1;
    c->closing = 1;
    while ((q = c->paced)) {
        req_free(q);
    }
    while ((q = c->reqs)) {
        int in_model = (q->state == REQ_IN_FLIGHT || q->state == REQ_ZLP) && e;
        req_unlist(q);
        c->in_flight--;
        c->in_flight_bytes -= q->cmd.transfer_buffer_length;
        q->client = NULL; /* its completion frees it */
        if (!in_model || urg_hcd_cancel(e->dev, q->urb) != 0) {
            urg_urb_free(q->urb);
            free(q);
        }
    }
    if (e) {
        e->importer = NULL;
        if (e->ready)
            urg_hcd_reset(e->dev);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->out);
    c->out = NULL;
    c->out_pos = c->out_len = c->out_cap = 0;
    /* Freed once every caller up the stack has seen c->fd < 0. */
    c->next = s->closed;
    s->closed = c;
}

void clients_reap(struct server *s)
{
    while (s->closed) {
        struct client *c = s->closed;
        s->closed = c->next;
        free(c);
    }
}

static void describe_peer(int fd, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[64] = "?";
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(buf, cap, "%s:%u", host, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(buf, cap, "[%s]:%u", host, ntohs(a->sin6_port));
    } else {
        snprintf(buf, cap, "client fd %d", fd);
    }
}

void client_new(struct server *s, int fd)
{
    struct client *c = calloc(1, sizeof(*c));
    int one = 1;
    if (!c) {
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* A client whose machine vanished is noticed (idle 30 s, then 3 probes
     * 10 s apart), so that its device can be imported again. */
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &(int){ 30 }, sizeof(int));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &(int){ 10 }, sizeof(int));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &(int){ 3 }, sizeof(int));
    c->s = s;
    c->fd = fd;
    describe_peer(fd, c->peer, sizeof(c->peer));
    usbip_reader_init(&c->reader, MAX_TRANSFER);
    ev_io_init(&c->rio, on_client_read, fd, EV_READ);
    ev_io_init(&c->wio, on_client_write, fd, EV_WRITE);
    ev_init(&c->stall, on_client_stall);
    c->stall.repeat = STALL_SECONDS;
    ev_init(&c->pace, on_pace);
    ev_check_init(&c->retry, on_retry);
    c->rio.data = c->wio.data = c->stall.data = c->pace.data = c->retry.data = c;
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    ev_io_start(s->loop, &c->rio);
}

void clients_close_all(struct server *s)
{
    while (s->clients)
        client_close(s->clients, NULL);
    clients_reap(s);
}

void client_device_gone(struct client *c)
{
    struct export *e = c->exp;
    e->importer = NULL;
    c->exp = NULL;
    cli_error(c->s->o, "%s: the device went away: closing %s", e->busid, c->peer);
    client_graceful_close(c);
}

void client_urb_complete(struct urg_urb *u)
{
    req_complete(u->user_data);
}

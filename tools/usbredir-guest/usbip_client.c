/*
 * usbip_client.c - a USB/IP client's connection (usbip.h): its management
 * request, then its URBs. Each CMD_SUBMIT becomes an urb_req - its URB (and
 * the zero-length OUT after it, for URB_ZERO_PACKET), its buffer and its
 * iso descriptors in one allocation. This file alone changes its state:
 *
 *   READING    its payload is being read
 *   SCHEDULED  iso IN: handed to the model once its frames have passed, so
 *              that it carries what arrived during them (in c->paced)
 *   WAITING    not every part is in the model: the model's output was full
 *              (URG_ERR_AGAIN); retried in order (c->held_head)
 *   IN_FLIGHT  every part in the model; done when none is outstanding
 *   PACED      iso: done, its reply waits for its frames to end (c->paced)
 *
 * then its RET_SUBMIT, and it is freed. CMD_UNLINK, or the end of the
 * connection, frees it at any point without a RET_SUBMIT.
 *
 * The model is called only from this loop's own handlers (reading,
 * timers, the retry and resume watchers) - never from inside one of its
 * callbacks but to submit the next URB, which it allows. A client closed
 * from anywhere (a failed write, a malformed message, its device gone)
 * stops its I/O at once; its URBs are cancelled in the model and the
 * device reset when it is reaped, before the loop next waits.
 *
 * The client is an untrusted peer: usbip_wire.c checks every header; what
 * its URBs in flight hold is bounded (reading stops above the bound), as
 * are its replies (reading stops above OUTPUT_HIGH; a client that takes no
 * byte for STALL_SECONDS is dropped). docs/usbip.md is the guide.
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
#define MAX_IN_FLIGHT_BYTES (64u << 20) /* what the URBs not answered hold */
#define MAX_IN_FLIGHT_URBS 4096
#define OUTPUT_HIGH (4u << 20)          /* queued replies that stop reading */
#define STALL_SECONDS 60.0              /* a client that takes no byte */
#define FLUSH_SECONDS 5.0               /* the last replies before a close */
#define MANAGEMENT_SECONDS 30.0         /* to send its request and read the reply */
#define PEER_CHECK_SECONDS 1.0          /* while not reading: has it closed? */

enum req_state { REQ_READING, REQ_SCHEDULED, REQ_WAITING, REQ_IN_FLIGHT, REQ_PACED };

struct urb_req {
    struct urb_req *prev, *next; /* c->reqs, or c->paced when PACED or SCHEDULED */
    struct urb_req *held_next;   /* c->held_head's queue, when WAITING */
    struct client *client;
    struct usbip_cmd cmd;
    int ep_type;                 /* URG_EP_* from the live table */
    enum req_state state;
    int unlinked;                /* answered by RET_UNLINK: no RET_SUBMIT */
    struct urg_urb *part[2];     /* the URB, and the zero-length OUT after it */
    int parts, submitted, outstanding; /* parts: 1 or 2 */
    int refused;                 /* URG_ERR_* of a part the model refused */
    double due;                  /* iso: when its frames end (the reply's time) */
    int32_t start_frame;
    size_t cost;                 /* counted in c->in_flight_bytes */
    struct usbip_iso_desc *iso;  /* cmd.number_of_packets of them */
    uint8_t *buffer;             /* cmd.transfer_buffer_length bytes */
};

struct client {
    struct server *s;
    struct client *prev, *next;
    int fd;
    char peer[80];
    ev_io rio, wio;
    ev_timer stall, pace, deadline, peer_check;
    ev_check retry;              /* WAITING requests, after each poll */
    ev_idle resume;              /* reading re-evaluated, outside callbacks */
    struct usbip_reader reader;
    uint8_t rbuf[READ_SIZE];
    size_t rpos, rlen;
    int paused, closing;
    int processing;              /* in client_process() */
    uint8_t *out;
    size_t out_pos, out_len, out_cap;
    struct export *exp;          /* imported (kept until reaped) */
    struct urb_req *reqs;        /* READING, WAITING, IN_FLIGHT */
    struct urb_req *paced;       /* SCHEDULED and PACED, by due time */
    struct urb_req *current;     /* REQ_READING */
    struct urb_req *held_head, *held_tail;
    size_t in_flight_bytes;
    unsigned in_flight;
    /* For SIGUSR1's report (clients_report): when it connected, its
     * CMD_SUBMITs, and the time with at least one of them in the bridge or
     * at the usb-host (from its header read to its reply queued). */
    double connected_at, busy_since, busy;
    unsigned long long requests;
    /* And the time with at least one URB at the model (the usb-host's
     * side: from urg_hcd_submit() to its urb_complete). */
    unsigned urbs_out;
    double host_since, host_busy;
};

static void client_graceful_close(struct client *c);
static void client_process(struct client *c);
static void req_submit(struct urb_req *q);
static void req_go(struct urb_req *q);
static void req_finish(struct urb_req *q);

/* Reading is looked at again from the loop (not from inside a callback of
 * the model). */
static void client_wake(struct client *c)
{
    if (c->fd >= 0 && c->paused)
        ev_idle_start(c->s->loop, &c->resume);
}

/* ---------------------------------------------------------------- output */

static void client_write(struct client *c)
{
    if (c->fd < 0)
        return;
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
    if (c->out_len - c->out_pos < OUTPUT_HIGH / 2)
        client_wake(c);
}

/* Room for n more bytes of output; NULL (the client closed) if memory
 * ran out or the client is closed. */
static uint8_t *out_reserve(struct client *c, size_t n)
{
    if (c->fd < 0)
        return NULL;
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

/* The errno a finished request reports: a refusal, else its URB's status,
 * else the zero-length packet's. */
static int32_t req_status(const struct urb_req *q)
{
    if (q->refused && q->submitted == 0)
        return errno_of_refusal(q->refused);
    if (q->part[0]->status != URG_URB_SUCCESS || q->parts == 1)
        return errno_of(q->part[0]->status);
    if (q->refused)
        return errno_of_refusal(q->refused);
    return errno_of(q->part[1]->status);
}

/* RET_SUBMIT for a request that finished with status (an errno), from its
 * URB's results. Iso IN data goes back to back, each packet's bytes. */
static void reply_submit(struct urb_req *q, int32_t status)
{
    struct client *c = q->client;
    const struct urg_urb *u = q->part[0];
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
        actual = q->submitted ? u->actual_length : 0;
        if (status != 0 && status != -EPIPE && status != -EOVERFLOW &&
            q->cmd.direction == USBIP_DIR_IN)
            actual = 0;
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

/* ---------------------------------------------------------------- request lists */

static struct urb_req **req_list(struct urb_req *q)
{
    return q->state == REQ_PACED || q->state == REQ_SCHEDULED ? &q->client->paced
                                                               : &q->client->reqs;
}

static void req_unlist(struct urb_req *q)
{
    struct urb_req **head = req_list(q);
    if (q->prev)
        q->prev->next = q->next;
    else if (*head == q)
        *head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->prev = q->next = NULL;
}

/* Into the client's list (READING, WAITING, IN_FLIGHT). */
static void req_list_push(struct urb_req *q, enum req_state state)
{
    struct client *c = q->client;
    q->state = state;
    q->prev = NULL;
    q->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = q;
    c->reqs = q;
}

static void held_push(struct urb_req *q)
{
    struct client *c = q->client;
    q->held_next = NULL;
    if (c->held_tail)
        c->held_tail->held_next = q;
    else
        c->held_head = q;
    c->held_tail = q;
}

static void held_remove(struct urb_req *q)
{
    struct client *c = q->client;
    struct urb_req **pp = &c->held_head, *prev = NULL;
    while (*pp && *pp != q) {
        prev = *pp;
        pp = &(*pp)->held_next;
    }
    if (!*pp)
        return;
    *pp = q->held_next;
    if (c->held_tail == q)
        c->held_tail = prev;
    q->held_next = NULL;
}

static void req_free(struct urb_req *q)
{
    struct client *c = q->client;
    if (q->state == REQ_WAITING)
        held_remove(q);
    req_unlist(q);
    if (--c->in_flight == 0)
        c->busy += ev_time() - c->busy_since;
    c->in_flight_bytes -= q->cost;
    if (c->current == q)
        c->current = NULL;
    urg_urb_free(q->part[0]);
    urg_urb_free(q->part[1]);
    free(q);
    client_wake(c); /* the in-flight bound may allow reading again */
}

/* ---------------------------------------------------------------- iso pacing */

static double now(struct client *c) { return ev_now(c->s->loop); }

/* The frames an iso URB takes, from the model's frame clock of its
 * endpoint (urg_hcd_iso_frames()): its reply goes no earlier than their
 * end; start_frame is the 1 ms frame number of their start. A URB the
 * clock cannot place (no device, not an iso endpoint) is due now. */
static void pace_schedule(struct urb_req *q, urg_hcd_dev *dev)
{
    double start, end;
    uint32_t frame;
    if (urg_hcd_iso_frames(dev, q->part[0]->endpoint, (uint32_t)q->cmd.number_of_packets,
                           now(q->client), &start, &end, &frame)) {
        end = now(q->client);
        frame = (uint32_t)((long long)(end * 1000) & 0x7ff);
    }
    q->due = end;
    q->start_frame = (int32_t)frame;
    q->part[0]->start_frame = frame; /* for the --usbmon capture */
}

static void pace_arm(struct client *c)
{
    ev_timer_stop(c->s->loop, &c->pace);
    if (c->paced && c->fd >= 0) {
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

/* Whatever is due: SCHEDULED iso IN goes to the model, PACED replies go
 * out. */
static void on_pace(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct client *c = w->data;
    double t = ev_time();
    (void)loop;
    (void)revents;
    while (c->fd >= 0 && c->paced && c->paced->due <= t) {
        struct urb_req *q = c->paced;
        req_unlist(q);
        if (q->state == REQ_SCHEDULED) {
            req_list_push(q, REQ_READING);
            req_go(q);
            continue;
        }
        req_list_push(q, REQ_IN_FLIGHT);
        reply_submit(q, req_status(q));
        req_free(q);
    }
    pace_arm(c);
    client_write(c);
}

/* ---------------------------------------------------------------- requests */

/* Every part is done: the reply, now or when its frames end. */
static void req_finish(struct urb_req *q)
{
    struct client *c = q->client;
    if (c->fd < 0 || q->unlinked) {
        req_free(q); /* the client is gone, or RET_UNLINK answered it */
        return;
    }
    if (q->ep_type == URG_EP_ISO && q->due > ev_time() && q->refused == 0) {
        pace_insert(q, REQ_PACED);
        return;
    }
    reply_submit(q, req_status(q));
    req_free(q);
    client_write(c);
}

/* Hands q's parts not yet submitted to the model, in order. A part the
 * model refuses for a full output (URG_ERR_AGAIN) leaves q WAITING, first
 * in the held queue; another refusal ends q's submitting. */
static void req_submit(struct urb_req *q)
{
    struct client *c = q->client;
    struct export *e = c->exp;
    while (q->submitted < q->parts && !q->refused) {
        int r = e ? urg_hcd_submit(e->dev, q->part[q->submitted]) : URG_ERR_NO_DEVICE;
        if (r == URG_ERR_AGAIN) {
            if (q->state != REQ_WAITING) {
                if (c->s->o->verbose && !c->held_head)
                    cli_error(c->s->o, "info: %s: %zu bytes wait for the usb-host: not reading %s",
                              e->busid, c->s->max_output, c->peer);
                q->state = REQ_WAITING;
                held_push(q);
                ev_check_start(c->s->loop, &c->retry);
            }
            return;
        }
        if (r < 0) {
            if (c->s->o->verbose)
                cli_error(c->s->o, "%s: seqnum %u on endpoint %u refused: %s", c->peer,
                          q->cmd.seqnum, q->cmd.ep, urg_strerror(r));
            q->refused = r;
            break;
        }
        q->submitted++;
        if (r == 0) {
            q->outstanding++; /* 1: done already, no callback */
            if (c->urbs_out++ == 0)
                c->host_since = ev_time();
        }
    }
    if (q->state == REQ_WAITING)
        held_remove(q);
    q->state = REQ_IN_FLIGHT;
    if (q->outstanding == 0)
        req_finish(q);
}

/* After each poll while requests wait for the model's output to drain:
 * they go in order; the first still refused stops the rest. */
static void on_retry(struct ev_loop *loop, ev_check *w, int revents)
{
    struct client *c = w->data;
    (void)revents;
    while (c->fd >= 0 && c->held_head) {
        struct urb_req *q = c->held_head;
        req_submit(q);
        if (c->held_head == q)
            return; /* still full */
    }
    ev_check_stop(loop, w);
    client_wake(c);
}

static void on_resume(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    ev_idle_stop(loop, w);
    client_process(w->data);
}

/* The model completed a part of a request (its urb_complete). */
void client_urb_complete(struct urg_urb *u)
{
    struct urb_req *q = u->user_data;
    struct client *c = q->client;
    if (--c->urbs_out == 0)
        c->host_busy += ev_time() - c->host_since;
    if (--q->outstanding > 0)
        return;
    if (q->client->fd < 0 || q->unlinked) {
        req_free(q);
        return;
    }
    if (q->submitted == q->parts || q->refused)
        req_finish(q);
    /* else WAITING: the retry submits the rest, then it finishes */
}

/* To the model, unless requests already wait: then behind them. */
static void req_go(struct urb_req *q)
{
    if (q->client->held_head) {
        q->state = REQ_WAITING;
        held_push(q);
        ev_check_start(q->client->s->loop, &q->client->retry);
        return;
    }
    req_submit(q);
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
    if (!(q = calloc(1, size)) || !(q->part[0] = urg_urb_alloc((int)n))) {
        free(q);
        snprintf(c->reader.why, sizeof(c->reader.why), "out of memory for a %u-byte URB",
                 cmd->transfer_buffer_length);
        return -1;
    }
    q->client = c;
    q->cmd = *cmd;
    q->ep_type = type;
    q->parts = 1;
    q->iso = (struct usbip_iso_desc *)(q + 1);
    q->buffer = (uint8_t *)(q->iso + n);
    q->cost = size + n * sizeof(struct urg_iso_packet_desc);
    req_list_push(q, REQ_READING);
    c->current = q;
    if (c->in_flight++ == 0)
        c->busy_since = ev_time();
    c->requests++;
    c->in_flight_bytes += q->cost;
    usbip_reader_payload(&c->reader, q->buffer, q->iso);
    return 0;
}

/* URB_ZERO_PACKET on a bulk or interrupt OUT whose length is a non-zero
 * multiple of the endpoint's max packet size: a zero-length OUT right
 * behind it, as the second part (usbredir has no ZLP flag). */
static int want_zlp(const struct urb_req *q, const struct urg_hcd_device *info)
{
    uint16_t mps;
    if (!info || q->cmd.direction != USBIP_DIR_OUT ||
        !(q->cmd.transfer_flags & USBIP_URB_ZERO_PACKET) ||
        (q->ep_type != URG_EP_BULK && q->ep_type != URG_EP_INTERRUPT) ||
        q->cmd.transfer_buffer_length == 0)
        return 0;
    mps = info->usb.ep[urg_ep_index(q->part[0]->endpoint)].max_packet_size;
    return mps && q->cmd.transfer_buffer_length % mps == 0;
}

/* A port reset (Windows clients send SET_FEATURE(PORT_RESET) on endpoint
 * 0): the device is reset, as the Linux stub does. */
static void req_port_reset(struct urb_req *q)
{
    struct client *c = q->client;
    int r = c->exp ? urg_hcd_reset(c->exp->dev) : URG_ERR_NO_DEVICE;
    if (r < 0) {
        cli_error(c->s->o, "%s: the device was not reset: %s", c->peer,
                  urg_strerror(r));
        q->refused = r;
    } else {
        q->submitted = 1; /* its result: success, nothing moved */
        q->part[0]->status = URG_URB_SUCCESS;
        q->part[0]->actual_length = 0;
    }
    q->state = REQ_IN_FLIGHT;
    req_finish(q);
}

/* The whole CMD_SUBMIT is read: its URB goes to the model. */
static void req_ready(struct client *c)
{
    struct urb_req *q = c->current;
    struct urg_urb *u = q->part[0];
    const struct urg_hcd_device *info = c->exp ? urg_hcd_dev_info(c->exp->dev) : NULL;
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
    /* for the --usbmon capture: the client's flags (the zero-length
     * packet is the second part, below) */
    u->flags = q->cmd.transfer_flags & (USBIP_URB_SHORT_NOT_OK | USBIP_URB_ZERO_PACKET);
    u->start_frame = 0;
    for (i = 0; i < q->cmd.number_of_packets; i++) {
        u->iso[i].offset = q->iso[i].offset;
        u->iso[i].length = q->iso[i].length;
    }
    if (q->cmd.ep == 0 && !memcmp(q->cmd.setup, "\x23\x03\x04\x00", 4)) {
        req_port_reset(q);
        return;
    }
    if (want_zlp(q, info)) {
        struct urg_urb *z = urg_urb_alloc(0);
        if (!z) {
            client_close(c, "out of memory for a zero-length packet");
            return;
        }
        z->endpoint = u->endpoint;
        z->type = u->type;
        z->user_data = q;
        q->part[1] = z;
        q->parts = 2;
    }
    if (q->ep_type == URG_EP_ISO && info && q->cmd.number_of_packets > 0) {
        pace_schedule(q, c->exp->dev);
        if (q->cmd.direction == USBIP_DIR_IN) {
            pace_insert(q, REQ_SCHEDULED); /* handed to the model when its frames end */
            return;
        }
    }
    req_go(q);
}

/* Cancels q's parts in the model (the zero-length packet first: it waits
 * behind the other); each completes now, and the last one's completion
 * frees q, so nothing of q is touched after it. Returns how many could not
 * be cancelled (0 unless the model lost them). */
static int req_cancel_parts(struct urb_req *q)
{
    struct export *e = q->client->exp;
    int left = q->outstanding;
    for (int i = q->submitted - 1; i >= 0 && left > 0 && e; i--)
        if (urg_hcd_cancel(e->dev, q->part[i]) == 0)
            left--;
    return left;
}

/* CMD_UNLINK: the URB seqnum is cancelled and answered by RET_UNLINK
 * -ECONNRESET, never by a RET_SUBMIT; status 0 when it was answered
 * already (or is unknown). */
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
            if (q->outstanding == 0) {
                req_free(q);
                return;
            }
            req_cancel_parts(q); /* the last part's completion frees it */
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
    ev_timer_stop(c->s->loop, &c->deadline); /* URBs may be rare: no deadline */
    if (c->s->o->verbose)
        cli_error(c->s->o, "info: %s imported %s (%s)", c->peer, e->busid, e->address);
}

/* ---------------------------------------------------------------- clients */

/* Reads what is buffered, then from the socket, until a bound stops it. */
static void client_process(struct client *c)
{
    struct server *s = c->s;
    if (c->processing || c->fd < 0)
        return; /* the loop below looks at the bounds again itself */
    c->processing = 1;
    for (;;) {
        size_t used;
        enum usbip_event ev;
        if (c->closing)
            break;
        c->paused = c->held_head || c->in_flight_bytes >= MAX_IN_FLIGHT_BYTES ||
                    c->in_flight >= MAX_IN_FLIGHT_URBS || c->out_len - c->out_pos >= OUTPUT_HIGH;
        if (c->paused) {
            ev_io_stop(s->loop, &c->rio);
            if (!ev_is_active(&c->peer_check))
                ev_timer_again(s->loop, &c->peer_check);
            break;
        }
        ev_timer_stop(s->loop, &c->peer_check);
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

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    client_close(w->data, "no management request within 30 s");
}

/* While it is not read, a client that closed its end (FIN: TCP state
 * CLOSE_WAIT) is noticed all the same, so that its device is free again. */
static void on_peer_check(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct client *c = w->data;
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    (void)loop;
    (void)revents;
    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == TCP_CLOSE_WAIT)
        client_close(c, "it closed the connection while its URBs waited");
}

/* Stops reading; closes once the replies queued are written (a bound of
 * FLUSH_SECONDS for a client that does not read). */
static void client_graceful_close(struct client *c)
{
    if (c->fd < 0)
        return;
    c->closing = 1;
    ev_io_stop(c->s->loop, &c->rio);
    ev_check_stop(c->s->loop, &c->retry);
    ev_timer_stop(c->s->loop, &c->deadline);
    ev_timer_stop(c->s->loop, &c->peer_check);
    if (c->out_len == c->out_pos) {
        client_close(c, NULL);
        return;
    }
    c->stall.repeat = FLUSH_SECONDS;
    ev_timer_again(c->s->loop, &c->stall);
    ev_io_start(c->s->loop, &c->wio);
}

/* The connection ends now for the peer; the model's part waits for
 * clients_reap(). why: NULL for a normal close. */
void client_close(struct client *c, const char *why)
{
    struct server *s = c->s;
    if (c->fd < 0)
        return;
    if (why)
        cli_error(s->o, "%s: closing the connection: %s", c->peer, why);
    else if (s->o->verbose)
        cli_error(s->o, "info: %s: connection closed", c->peer);
    ev_io_stop(s->loop, &c->rio);
    ev_io_stop(s->loop, &c->wio);
    ev_timer_stop(s->loop, &c->stall);
    ev_timer_stop(s->loop, &c->pace);
    ev_timer_stop(s->loop, &c->deadline);
    ev_timer_stop(s->loop, &c->peer_check);
    ev_check_stop(s->loop, &c->retry);
    ev_idle_stop(s->loop, &c->resume);
    close(c->fd);
    c->fd = -1;
    c->closing = 1;
    free(c->out);
    c->out = NULL;
    c->out_pos = c->out_len = c->out_cap = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_clients--;
    c->prev = NULL;
    c->next = s->closed;
    s->closed = c;
}

/* Outside every callback: each closed client's URBs still in the model are
 * cancelled (their completions, now, answer no one), the device it
 * imported is reset as the Linux stub resets it and can be imported again,
 * and the client is freed. */
void clients_reap(struct server *s)
{
    while (s->closed) {
        struct client *c = s->closed;
        struct export *e = c->exp;
        struct urb_req *q;
        s->closed = c->next;
        while ((q = c->paced))
            req_free(q);
        while ((q = c->reqs)) {
            if (q->outstanding == 0 || req_cancel_parts(q) > 0) {
                q->outstanding = 0; /* not in the model (or lost by it) */
                req_free(q);
            }
        }
        if (e) {
            int r = e->ready ? urg_hcd_reset(e->dev) : 0;
            if (r < 0)
                cli_error(s->o, "%s: the device was not reset after %s: %s", e->busid, c->peer,
                          urg_strerror(r));
            if (e->importer == c)
                e->importer = NULL;
        }
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
    c->connected_at = ev_time();
    describe_peer(fd, c->peer, sizeof(c->peer));
    usbip_reader_init(&c->reader, MAX_TRANSFER);
    ev_io_init(&c->rio, on_client_read, fd, EV_READ);
    ev_io_init(&c->wio, on_client_write, fd, EV_WRITE);
    ev_init(&c->stall, on_client_stall);
    c->stall.repeat = STALL_SECONDS;
    ev_init(&c->pace, on_pace);
    ev_timer_init(&c->deadline, on_deadline, MANAGEMENT_SECONDS, 0.);
    ev_init(&c->peer_check, on_peer_check);
    c->peer_check.repeat = PEER_CHECK_SECONDS;
    ev_check_init(&c->retry, on_retry);
    ev_idle_init(&c->resume, on_resume);
    c->rio.data = c->wio.data = c->stall.data = c->pace.data = c->retry.data = c;
    c->deadline.data = c->peer_check.data = c->resume.data = c;
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->n_clients++;
    ev_io_start(s->loop, &c->rio);
    ev_timer_start(s->loop, &c->deadline);
}

void clients_close_all(struct server *s)
{
    while (s->clients)
        client_close(s->clients, NULL);
    clients_reap(s);
}

/* Its device went away (the export's detach, from inside the model): every
 * URB has completed by now. Replies waiting for their frames go at once,
 * requests the model never had get -ENODEV, then the connection closes. */
void client_device_gone(struct client *c)
{
    struct export *e = c->exp;
    struct urb_req *q;
    e->importer = NULL;
    c->exp = NULL;
    if (c->fd < 0)
        return; /* closed already */
    cli_error(c->s->o, "%s: the device went away: closing %s", e->busid, c->peer);
    while ((q = c->held_head)) {
        held_remove(q);
        q->state = REQ_IN_FLIGHT;
        q->refused = URG_ERR_NO_DEVICE;
    }
    while ((q = c->paced)) {
        req_unlist(q);
        if (q->state == REQ_SCHEDULED)
            q->refused = URG_ERR_NO_DEVICE;
        req_list_push(q, REQ_IN_FLIGHT);
        q->due = 0;
    }
    for (q = c->reqs; q; q = c->reqs) {
        while (q && (q->state == REQ_READING || q->outstanding > 0))
            q = q->next;
        if (!q)
            break;
        req_finish(q);
    }
    client_graceful_close(c);
}

/* SIGUSR1: for each connection, its requests and where its time went: with
 * at least one request in the bridge or at the usb-host (and the part of
 * that with a URB at the model, sent to or coming from the usb-host), or
 * with none (waiting for the client: its machine, its network, its next
 * command). */
void clients_report(struct server *s)
{
    double now = ev_time();
    for (struct client *c = s->clients; c; c = c->next) {
        double busy = c->busy + (c->in_flight ? now - c->busy_since : 0);
        double host = c->host_busy + (c->urbs_out ? now - c->host_since : 0);
        if (c->fd < 0)
            continue;
        cli_error(s->o,
                  "info: %s: %llu requests; %.6f s with a request in the bridge or at the "
                  "usb-host (%.6f s of it with a URB at the usb-host), %.6f s with none, in "
                  "%.6f s connected",
                  c->peer, c->requests, busy, host, now - c->connected_at - busy,
                  now - c->connected_at);
    }
}

/*
 * vmm_enumerate.c - a VMM's view: a redirected USB keyboard enumerated
 * through the host-controller model as a guest OS would do it.
 *
 *   GET_DESCRIPTOR(device, 8), then (18)    learn bMaxPacketSize0, the ids
 *   SET_ADDRESS                             handled by the model
 *   GET_DESCRIPTOR(configuration, 9)        learn wTotalLength
 *   GET_DESCRIPTOR(configuration, total)    find the interrupt IN endpoint
 *   SET_CONFIGURATION                       the model's set_configuration
 *   interrupt IN URBs                       read key reports
 *
 * The usb-host is scripted in this file with the library's codec (host
 * role; guest/urg_codec.h, the project's, not installed), answering from
 * descriptor tables; in a real VMM it is a socket to usbredirect, and the
 * VMM's side here uses only the installed urg_hcd.h. See docs/vmm-guide.md
 * for the call sequence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urg_hcd.h>

#include "urg_codec.h" /* the scripted host only: not installed */

/* ------------------------------------------------------------------ */
/* A scripted usb-host: a boot keyboard.                              */

static const uint8_t dev_desc[18] = {
    18, 1, 0x00, 0x02, 0, 0, 0, 8, 0x27, 0x06, 0x01, 0x00, 0x00, 0x01, 1, 2, 0, 1,
};
static const uint8_t cfg_desc[34] = {
    9, 2, 34, 0, 1, 1, 0, 0xa0, 50,        /* configuration 1, one interface */
    9, 4, 0, 0, 1, 3, 1, 1, 0,             /* interface 0: HID boot keyboard */
    9, 0x21, 0x11, 0x01, 0, 1, 0x22, 63, 0, /* HID descriptor */
    7, 5, 0x81, 3, 8, 0, 7,                /* endpoint 0x81: interrupt, 8 bytes */
};
static const uint8_t reports[4][8] = {
    { 0, 0, 0x0b, 0, 0, 0, 0, 0 }, /* h */
    { 0, 0, 0x0c, 0, 0, 0, 0, 0 }, /* i */
    { 0, 0, 0, 0, 0, 0, 0, 0 },    /* released */
    { 2, 0, 0x1e, 0, 0, 0, 0, 0 }, /* shift-1: ! */
};

struct host {
    urg_decoder *dec;
    uint8_t wire[8192];
    size_t len;
    int reports_sent;
};

static void host_send(struct host *h, const struct urg_packet *p)
{
    struct urg_wire w = urg_decoder_wire(h->dec);
    int n = urg_encode(&w, URG_DIR_TO_GUEST, p, h->wire + h->len, sizeof(h->wire) - h->len);
    if (n < 0) {
        fprintf(stderr, "host: %s\n", urg_strerror(n));
        exit(1);
    }
    h->len += (size_t)n;
    if (p->type != URG_HELLO && p->data_len) {
        memcpy(h->wire + h->len, p->data, p->data_len);
        h->len += p->data_len;
    }
}

static void host_device(struct host *h)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERFACE_INFO;
    p.h.interface_info.interface_count = 1;
    p.h.interface_info.interface_class[0] = 3;
    p.h.interface_info.interface_subclass[0] = 1;
    p.h.interface_info.interface_protocol[0] = 1;
    host_send(h, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    memset(p.h.ep_info.type, URG_EP_INVALID, 32);
    p.h.ep_info.type[0] = p.h.ep_info.type[16] = URG_EP_CONTROL;
    p.h.ep_info.max_packet_size[0] = p.h.ep_info.max_packet_size[16] = 8;
    p.h.ep_info.type[urg_ep_index(0x81)] = URG_EP_INTERRUPT;
    p.h.ep_info.interval[urg_ep_index(0x81)] = 7;
    p.h.ep_info.max_packet_size[urg_ep_index(0x81)] = 8;
    host_send(h, &p);
}

/* The host answers what the guest sent. */
static int host_got(void *ctx, const struct urg_packet *req)
{
    struct host *h = ctx;
    struct urg_packet p = *req;
    switch (req->type) {
    case URG_CONTROL_PACKET: {
        const uint8_t *d = NULL;
        uint16_t n = 0;
        if (req->h.control.request == 6 && (req->h.control.value >> 8) == 1) {
            d = dev_desc;
            n = sizeof(dev_desc);
        } else if (req->h.control.request == 6 && (req->h.control.value >> 8) == 2) {
            d = cfg_desc;
            n = sizeof(cfg_desc);
        }
        if (n > req->h.control.length)
            n = req->h.control.length;
        p.h.control.status = d ? URG_STATUS_SUCCESS : URG_STATUS_STALL;
        p.h.control.length = n;
        p.data = d;
        p.data_len = n;
        host_send(h, &p);
        break;
    }
    case URG_SET_CONFIGURATION:
        host_device(h); /* new ep_info and interface_info come first */
        memset(&p, 0, sizeof(p));
        p.type = URG_CONFIGURATION_STATUS;
        p.id = req->id;
        p.h.configuration_status.configuration = req->h.set_configuration.configuration;
        host_send(h, &p);
        break;
    case URG_START_INTERRUPT_RECEIVING:
        memset(&p, 0, sizeof(p));
        p.type = URG_INTERRUPT_RECEIVING_STATUS;
        p.id = req->id;
        p.h.interrupt_receiving_status.endpoint = req->h.start_interrupt_receiving.endpoint;
        host_send(h, &p);
        for (; h->reports_sent < 4; h->reports_sent++) {
            memset(&p, 0, sizeof(p));
            p.type = URG_INTERRUPT_PACKET;
            p.id = (uint64_t)h->reports_sent;
            p.h.interrupt.endpoint = 0x81;
            p.h.interrupt.length = 8;
            p.data = reports[h->reports_sent];
            p.data_len = 8;
            host_send(h, &p);
        }
        break;
    default:
        break;
    }
    return URG_DECODE_CONTINUE;
}

/* Moves bytes both ways until neither side has anything to say. */
static void pump(urg_hcd_dev *dev, struct host *h)
{
    for (;;) {
        urg_session *s = urg_hcd_dev_session(dev);
        struct iovec iov[16];
        int n, i, moved = 0;
        if (!s)
            return;
        while ((n = urg_session_output(s, iov, 16)) > 0) {
            size_t total = 0;
            for (i = 0; i < n; i++) {
                urg_decoder_feed(h->dec, iov[i].iov_base, iov[i].iov_len, NULL);
                total += iov[i].iov_len;
            }
            urg_session_consume(s, total);
            moved = 1;
        }
        if (h->len) {
            size_t len = h->len;
            uint8_t copy[sizeof(h->wire)];
            memcpy(copy, h->wire, len);
            h->len = 0;
            if (urg_session_recv(s, copy, len) < 0)
                return;
            moved = 1;
        }
        if (!moved)
            return;
    }
}

/* ------------------------------------------------------------------ */
/* The VMM: a guest OS enumerating the device.                         */

enum step { GET_DEV8, GET_DEV18, SET_ADDR, GET_CFG9, GET_CFG_ALL, SET_CFG, READING, DONE };

struct vmm {
    urg_hcd_dev *dev;
    struct urg_urb *ctl, *intr;
    uint8_t ctl_buf[256], intr_buf[8];
    enum step step;
    uint16_t total;
    uint8_t config_value, int_ep;
    int reports;
};

static void step_done(struct vmm *v, struct urg_urb *u);

static void control(struct vmm *v, uint8_t rt, uint8_t req, uint16_t value, uint16_t len)
{
    uint8_t setup[8] = { rt, req, (uint8_t)value, (uint8_t)(value >> 8), 0, 0,
                         (uint8_t)len, (uint8_t)(len >> 8) };
    int r;
    memcpy(v->ctl->setup, setup, 8);
    v->ctl->length = len;
    r = urg_hcd_submit(v->dev, v->ctl);
    if (r < 0) {
        fprintf(stderr, "submit: %s\n", urg_strerror(r));
        exit(1);
    }
    if (r == 1) /* completed at once (SET_ADDRESS): no callback */
        step_done(v, v->ctl);
}

static void read_interrupt(struct vmm *v)
{
    int r = urg_hcd_submit(v->dev, v->intr);
    if (r < 0) {
        fprintf(stderr, "submit: %s\n", urg_strerror(r));
        exit(1);
    }
    if (r == 1) /* a report was already queued */
        step_done(v, v->intr);
}

static void step_done(struct vmm *v, struct urg_urb *u)
{
    const uint8_t *d = u->buffer;
    int i;
    if (u->status != URG_URB_SUCCESS && u->status != URG_URB_SHORT) {
        fprintf(stderr, "step %d failed: %s\n", v->step, urg_urb_status_name(u->status));
        exit(1);
    }
    switch (v->step) {
    case GET_DEV8:
        printf("device descriptor (8 bytes): bMaxPacketSize0 %u\n", d[7]);
        v->step = GET_DEV18;
        control(v, 0x80, 6, 0x0100, 18);
        break;
    case GET_DEV18:
        printf("device descriptor: USB %x.%02x, id %04x:%04x, %u configuration(s)\n", d[3], d[2],
               d[8] | d[9] << 8, d[10] | d[11] << 8, d[17]);
        v->step = SET_ADDR;
        control(v, 0x00, 5, 7, 0);
        break;
    case SET_ADDR:
        printf("SET_ADDRESS 7 (handled by the model): address %u\n",
               urg_hcd_dev_info(v->dev)->address);
        v->step = GET_CFG9;
        control(v, 0x80, 6, 0x0200, 9);
        break;
    case GET_CFG9:
        v->total = (uint16_t)(d[2] | d[3] << 8);
        v->config_value = d[5];
        printf("configuration descriptor: %u bytes in all, value %u\n", v->total,
               v->config_value);
        v->step = GET_CFG_ALL;
        control(v, 0x80, 6, 0x0200, v->total);
        break;
    case GET_CFG_ALL:
        for (i = 0; i + 1 < (int)u->actual_length && d[i]; i += d[i]) {
            if (d[i + 1] == 4)
                printf("  interface %u: class %02x/%02x/%02x\n", d[i + 2], d[i + 5], d[i + 6],
                       d[i + 7]);
            if (d[i + 1] == 5) {
                printf("  endpoint 0x%02x: %s, max packet %u, bInterval %u\n", d[i + 2],
                       urg_ep_type_name(d[i + 3] & 3), d[i + 4] | d[i + 5] << 8, d[i + 6]);
                if ((d[i + 3] & 3) == URG_EP_INTERRUPT && (d[i + 2] & 0x80))
                    v->int_ep = d[i + 2];
            }
        }
        v->step = SET_CFG;
        control(v, 0x00, 9, v->config_value, 0);
        break;
    case SET_CFG:
        printf("SET_CONFIGURATION %u: done, configuration %u\n", v->config_value,
               urg_hcd_dev_info(v->dev)->configuration);
        v->step = READING;
        v->intr->endpoint = v->int_ep;
        read_interrupt(v);
        break;
    case READING:
        printf("report on 0x%02x:", u->endpoint);
        for (i = 0; i < (int)u->actual_length; i++)
            printf(" %02x", d[i]);
        printf("\n");
        if (++v->reports < 4)
            read_interrupt(v);
        else
            v->step = DONE;
        break;
    case DONE:
        break;
    }
}

static void on_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    struct vmm *v = ud;
    (void)dev;
    printf("attach %04x:%04x at %s speed\n", info->usb.vendor_id, info->usb.product_id,
           urg_speed_name(info->speed));
    v->step = GET_DEV8;
    control(v, 0x80, 6, 0x0100, 8);
}

static void on_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    (void)dev;
    step_done(ud, u);
}

int main(void)
{
    struct urg_hcd_config cfg;
    struct urg_decoder_config hc;
    struct host host;
    struct vmm v;
    struct urg_packet p;
    urg_session *s;

    memset(&v, 0, sizeof(v));
    memset(&host, 0, sizeof(host));
    memset(&hc, 0, sizeof(hc));
    hc.role = URG_ROLE_HOST;
    hc.our_caps = URG_CAPS_ALL;
    hc.callbacks.packet = host_got;
    hc.ctx = &host;
    if (urg_decoder_new(&hc, &host.dec))
        return 1;

    urg_hcd_config_init(&cfg);
    cfg.callbacks.attach = on_attach;
    cfg.callbacks.urb_complete = on_complete;
    cfg.user_data = &v;
    if (urg_hcd_dev_new(&cfg, &v.dev))
        return 1;
    v.ctl = urg_urb_alloc(0);
    v.ctl->type = URG_EP_CONTROL;
    v.ctl->endpoint = 0;
    v.ctl->buffer = v.ctl_buf;
    v.intr = urg_urb_alloc(0);
    v.intr->type = URG_EP_INTERRUPT;
    v.intr->buffer = v.intr_buf;
    v.intr->length = sizeof(v.intr_buf);

    /* A connection to the usb-host: the host's hello and its device. */
    if (urg_hcd_dev_connect(v.dev, &s))
        return 1;
    memset(&p, 0, sizeof(p));
    p.type = URG_HELLO;
    strcpy(p.h.hello.version, "scripted keyboard host");
    p.h.hello.caps[0] = URG_CAPS_ALL;
    p.h.hello.caps_words = 1;
    pump(v.dev, &host); /* our hello goes first */
    host_send(&host, &p);
    host_device(&host);
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_CONNECT;
    p.h.device_connect.speed = URG_SPEED_HIGH;
    p.h.device_connect.vendor_id = 0x0627;
    p.h.device_connect.product_id = 0x0001;
    host_send(&host, &p);
    pump(v.dev, &host);

    if (v.step != DONE) {
        fprintf(stderr, "enumeration stopped at step %d\n", v.step);
        return 1;
    }
    printf("enumerated and read %d reports\n", v.reports);
    urg_hcd_dev_free(v.dev);
    urg_urb_free(v.ctl);
    urg_urb_free(v.intr);
    urg_decoder_free(host.dec);
    return 0;
}

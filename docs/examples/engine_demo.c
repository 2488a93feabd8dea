/*
 * engine_demo.c - the usb-guest engine end to end, with no I/O at all.
 *
 * A tiny usb-host is scripted in this file with the library's own codec
 * (urg_encode, and urg_decoder in the host role: guest/urg_codec.h, the
 * project's, not installed); the guest is a urg_session, all installed
 * API. Bytes go from one to the other through plain buffers, the
 * way a transport would move them over a socket:
 *
 *   1. hellos cross; the host announces a USB keyboard;
 *   2. the guest reads the device descriptor (a control IN transfer);
 *   3. the guest starts interrupt receiving; the host sends key reports;
 *   4. the guest sends a bulk-free interrupt OUT (LEDs) and cancels one;
 *   5. the host unplugs the device; the guest acknowledges.
 *
 * Build: make run (or link against libusbredirguest, with -I to the
 * source's guest/ for urg_codec.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urg_guest.h>

#include "urg_codec.h" /* the scripted host only: not installed */

/* ------------------------------------------------------------------ */
/* The scripted host.                                                 */

struct host {
    urg_decoder *dec;          /* decodes what the guest sends */
    struct urg_packet last[8]; /* the guest's packets of this round */
    int nlast;
    uint8_t wire[4096];        /* bytes on their way to the guest */
    size_t len;
};

static int host_got(void *ctx, const struct urg_packet *p)
{
    struct host *h = ctx;
    printf("  host <- %-26s id=%llu\n", urg_type_name(p->type), (unsigned long long)p->id);
    if (h->nlast < 8)
        h->last[h->nlast++] = *p;
    return URG_DECODE_CONTINUE;
}

static void host_send(struct host *h, const struct urg_packet *p)
{
    struct urg_wire w = urg_decoder_wire(h->dec);
    int n = urg_encode(&w, URG_DIR_TO_GUEST, p, h->wire + h->len, sizeof(h->wire) - h->len);
    if (n < 0) {
        fprintf(stderr, "encode %s: %s\n", urg_type_name(p->type), urg_strerror(n));
        exit(1);
    }
    h->len += (size_t)n;
    if (p->type != URG_HELLO && p->data_len) {
        memcpy(h->wire + h->len, p->data, p->data_len);
        h->len += p->data_len;
    }
    printf("  host -> %s\n", urg_type_name(p->type));
}

/* Moves the guest's queued output to the host, as writev() would. */
static void guest_to_host(urg_session *s, struct host *h)
{
    struct iovec iov[16];
    int n, i;
    h->nlast = 0;
    while ((n = urg_session_output(s, iov, 16)) > 0) {
        size_t total = 0;
        for (i = 0; i < n; i++) {
            urg_decoder_feed(h->dec, iov[i].iov_base, iov[i].iov_len, NULL);
            total += iov[i].iov_len;
        }
        urg_session_consume(s, total);
    }
}

/* Moves the host's bytes to the guest, as read() would: here in 7-byte
 * pieces, to show that any split of the stream works. */
static void host_to_guest(struct host *h, urg_session *s)
{
    size_t off;
    for (off = 0; off < h->len; off += 7) {
        size_t n = h->len - off < 7 ? h->len - off : 7;
        int r = urg_session_recv(s, h->wire + off, n);
        if (r < 0) {
            fprintf(stderr, "recv: %s\n", urg_strerror(r));
            exit(1);
        }
    }
    h->len = 0;
}

/* ------------------------------------------------------------------ */
/* The guest's callbacks.                                             */

static void on_complete(void *ud, const struct urg_completion *c)
{
    (void)ud;
    printf("  guest: %s id=%llu %s, %u bytes%s\n", urg_type_name(c->type),
           (unsigned long long)c->id, urg_status_name(c->status), c->length,
           c->cancel_requested ? " (cancel was requested)" : "");
    if (c->type == URG_CONTROL_PACKET && c->data && c->length >= 18)
        printf("  guest: device descriptor: USB %x.%02x, vendor %04x product %04x\n",
               c->data[3], c->data[2], c->data[8] | c->data[9] << 8,
               c->data[10] | c->data[11] << 8);
}

static void on_hello(void *ud, const char *version, uint32_t caps)
{
    (void)ud;
    printf("  guest: host is \"%s\", caps 0x%02x\n", version, caps);
}

static void on_connect(void *ud, const struct urg_device *d)
{
    (void)ud;
    printf("  guest: device %04x:%04x connected at %s speed, %u interface(s)\n", d->vendor_id,
           d->product_id, urg_speed_name(d->speed), d->interface_count);
}

static void on_disconnect(void *ud)
{
    (void)ud;
    printf("  guest: device disconnected\n");
}

static void on_data(void *ud, const struct urg_stream_data *d)
{
    (void)ud;
    printf("  guest: %s on ep 0x%02x:", urg_type_name(d->type), d->endpoint);
    for (uint32_t i = 0; i < d->length; i++)
        printf(" %02x", d->data[i]);
    printf("\n");
}

int main(void)
{
    struct urg_session_config cfg;
    struct urg_decoder_config hc;
    struct host host;
    struct urg_packet p;
    urg_session *s;
    uint64_t leds_id, id;
    uint8_t desc_buf[18];
    const uint8_t leds[1] = { 0x02 };
    const uint8_t get_device_descriptor[8] = { 0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 18, 0 };
    static const uint8_t device_descriptor[18] = {
        18, 1, 0x00, 0x02, 0, 0, 0, 8, 0x27, 0x06, 0x01, 0x00, 0x00, 0x00, 1, 2, 0, 1,
    };
    static const uint8_t reports[3][8] = {
        { 0, 0, 0x04, 0, 0, 0, 0, 0 }, /* 'a' down */
        { 0, 0, 0, 0, 0, 0, 0, 0 },    /* released */
        { 2, 0, 0x06, 0, 0, 0, 0, 0 }, /* shift-c */
    };
    int i;

    printf("usbredir-guest %s: the engine against a scripted usb-host\n", urg_version());

    memset(&host, 0, sizeof(host));
    memset(&hc, 0, sizeof(hc));
    hc.role = URG_ROLE_HOST;
    hc.our_caps = URG_CAPS_ALL;
    hc.callbacks.packet = host_got;
    hc.ctx = &host;
    if (urg_decoder_new(&hc, &host.dec))
        return 1;

    urg_session_config_init(&cfg);
    cfg.callbacks.complete = on_complete;
    cfg.callbacks.hello = on_hello;
    cfg.callbacks.device_connect = on_connect;
    cfg.callbacks.device_disconnect = on_disconnect;
    cfg.callbacks.stream_data = on_data;
    if (urg_session_new(&cfg, &s))
        return 1;

    printf("1. hellos and a device\n");
    guest_to_host(s, &host);
    memset(&p, 0, sizeof(p));
    p.type = URG_HELLO;
    strcpy(p.h.hello.version, "demo-host 1.0");
    p.h.hello.caps[0] = URG_CAPS_ALL;
    p.h.hello.caps_words = 1;
    host_send(&host, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERFACE_INFO;
    p.h.interface_info.interface_count = 1;
    p.h.interface_info.interface_class[0] = 3; /* HID boot keyboard */
    p.h.interface_info.interface_subclass[0] = 1;
    p.h.interface_info.interface_protocol[0] = 1;
    host_send(&host, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    memset(p.h.ep_info.type, URG_EP_INVALID, 32);
    p.h.ep_info.type[0] = p.h.ep_info.type[16] = URG_EP_CONTROL;
    p.h.ep_info.type[urg_ep_index(0x81)] = URG_EP_INTERRUPT;
    p.h.ep_info.interval[urg_ep_index(0x81)] = 7;
    p.h.ep_info.max_packet_size[urg_ep_index(0x81)] = 8;
    p.h.ep_info.type[urg_ep_index(0x02)] = URG_EP_INTERRUPT;
    p.h.ep_info.max_packet_size[urg_ep_index(0x02)] = 8;
    host_send(&host, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_CONNECT;
    p.h.device_connect.speed = URG_SPEED_HIGH;
    p.h.device_connect.vendor_id = 0x0627;
    p.h.device_connect.product_id = 0x0001;
    host_send(&host, &p);
    host_to_guest(&host, s);

    printf("2. GET_DESCRIPTOR(device), read straight into the guest's buffer\n");
    urg_session_control(s, 0, get_device_descriptor, desc_buf, NULL, &id);
    guest_to_host(s, &host);
    p = host.last[0];
    p.h.control.status = URG_STATUS_SUCCESS;
    p.h.control.length = 18;
    p.data = device_descriptor;
    p.data_len = 18;
    host_send(&host, &p);
    host_to_guest(&host, s);

    printf("3. interrupt receiving on ep 0x81 and three key reports\n");
    urg_session_start_interrupt_receiving(s, 0x81, NULL, &id);
    guest_to_host(s, &host);
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERRUPT_RECEIVING_STATUS;
    p.id = id;
    p.h.interrupt_receiving_status.endpoint = 0x81;
    host_send(&host, &p);
    for (i = 0; i < 3; i++) {
        memset(&p, 0, sizeof(p));
        p.type = URG_INTERRUPT_PACKET;
        p.id = (uint64_t)i;
        p.h.interrupt.endpoint = 0x81;
        p.h.interrupt.length = 8;
        p.data = reports[i];
        p.data_len = 8;
        host_send(&host, &p);
    }
    host_to_guest(&host, s);

    printf("4. an interrupt OUT (LEDs), then one cancelled before the host ran it\n");
    urg_session_interrupt_out(s, 0x02, 1, leds, NULL, &id);
    urg_session_interrupt_out(s, 0x02, 1, leds, NULL, &leds_id);
    urg_session_cancel(s, leds_id);
    guest_to_host(s, &host);
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERRUPT_PACKET;
    p.id = id;
    p.h.interrupt.endpoint = 0x02;
    p.h.interrupt.length = 1;
    host_send(&host, &p);
    p.id = leds_id;
    p.h.interrupt.status = URG_STATUS_CANCELLED;
    p.h.interrupt.length = 0;
    host_send(&host, &p);
    host_to_guest(&host, s);

    printf("5. the device is unplugged\n");
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_DISCONNECT;
    host_send(&host, &p);
    host_to_guest(&host, s);
    guest_to_host(s, &host);

    {
        struct urg_stats st;
        urg_session_stats(s, &st);
        printf("done: %llu requests, %llu completions, %llu pending, %llu late replies\n",
               (unsigned long long)st.requests, (unsigned long long)st.completions,
               (unsigned long long)urg_session_pending_count(s),
               (unsigned long long)st.late_replies);
    }
    urg_session_free(s);
    urg_decoder_free(host.dec);
    return 0;
}

/*
 * test_diff_reference.c - differential tests against Debian's
 * libusbredirparser (tests only; the library never links it).
 *
 * For every layout-changing caps combination (64-bit ids, device version,
 * ep_info without / with max_packet_size / with max_streams, 32-bit bulk
 * length: 24 combinations) and both directions:
 *   ours -> reference: packets this library encodes are parsed by the
 *     reference (host role for guest-to-host packets, guest role for
 *     host-to-guest ones) into the same fields;
 *   reference -> ours: packets the reference sends (guest role for
 *     guest-to-host, host role for host-to-guest) are decoded by this
 *     library into the same fields.
 * Every packet type is covered in every direction it can travel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <usbredirfilter.h>
#include <usbredirparser.h>

#include "packets.h"
#include "urg_codec.h"

#define PER_TYPE 6
#define MAXP 2048

struct got {
    struct urg_packet p;
    uint8_t *data;
    struct urg_filter_rule rules[8];
    int nrules;
};

struct ref {
    struct usbredirparser *p;
    const uint8_t *in;
    size_t in_len, in_off;
    uint8_t *out;
    size_t out_len, out_cap;
    struct got *got;
    int ngot;
    int errors;
};

/* coverage[type index][dir][way]: way 0 ours->ref, 1 ref->ours */
static int coverage[URG_TYPE_COUNT][2][2];
static long compared;

static struct got *slot(struct ref *r, uint32_t type, uint64_t id)
{
    struct got *g;
    assert_true(r->ngot < MAXP);
    g = &r->got[r->ngot++];
    memset(g, 0, sizeof(*g));
    g->p.type = type;
    g->p.id = id;
    return g;
}

static void keep(struct got *g, const uint8_t *data, int len)
{
    if (len > 0) {
        g->data = malloc((size_t)len);
        memcpy(g->data, data, (size_t)len);
        g->p.data = g->data;
        g->p.data_len = (uint32_t)len;
    }
}

/* ---- reference callbacks: struct usb_redir_* -> struct urg_packet ---- */

static void r_log(void *priv, int level, const char *msg)
{
    struct ref *r = priv;
    if (level <= usbredirparser_error) {
        r->errors++;
        fprintf(stderr, "reference: %s\n", msg);
    }
}
static int r_read(void *priv, uint8_t *data, int count)
{
    struct ref *r = priv;
    size_t n = r->in_len - r->in_off;
    if (n > (size_t)count)
        n = (size_t)count;
    memcpy(data, r->in + r->in_off, n);
    r->in_off += n;
    return (int)n;
}
static int r_write(void *priv, uint8_t *data, int count)
{
    struct ref *r = priv;
    if (r->out_len + (size_t)count > r->out_cap) {
        r->out_cap = (r->out_len + (size_t)count) * 2;
        r->out = realloc(r->out, r->out_cap);
    }
    memcpy(r->out + r->out_len, data, (size_t)count);
    r->out_len += (size_t)count;
    return count;
}
static void r_hello(void *priv, struct usb_redir_hello_header *h)
{
    struct ref *r = priv;
    struct got *g = slot(r, URG_HELLO, 0);
    int i;
    snprintf(g->p.h.hello.version, sizeof(g->p.h.hello.version), "%.63s", h->version);
    /* The reference keeps the caps; read them back bit by bit. */
    for (i = 0; i < 8; i++)
        if (usbredirparser_peer_has_cap(r->p, i))
            g->p.h.hello.caps[0] |= 1u << i;
}
static void r_device_connect(void *priv, struct usb_redir_device_connect_header *h)
{
    struct got *g = slot(priv, URG_DEVICE_CONNECT, 0);
    g->p.h.device_connect.speed = h->speed;
    g->p.h.device_connect.device_class = h->device_class;
    g->p.h.device_connect.device_subclass = h->device_subclass;
    g->p.h.device_connect.device_protocol = h->device_protocol;
    g->p.h.device_connect.vendor_id = h->vendor_id;
    g->p.h.device_connect.product_id = h->product_id;
    g->p.h.device_connect.device_version_bcd = h->device_version_bcd;
}
static void r_device_disconnect(void *priv) { slot(priv, URG_DEVICE_DISCONNECT, 0); }
static void r_reset(void *priv) { slot(priv, URG_RESET, 0); }
static void r_interface_info(void *priv, struct usb_redir_interface_info_header *h)
{
    struct got *g = slot(priv, URG_INTERFACE_INFO, 0);
    g->p.h.interface_info.interface_count = h->interface_count;
    memcpy(g->p.h.interface_info.interface, h->interface, 32);
    memcpy(g->p.h.interface_info.interface_class, h->interface_class, 32);
    memcpy(g->p.h.interface_info.interface_subclass, h->interface_subclass, 32);
    memcpy(g->p.h.interface_info.interface_protocol, h->interface_protocol, 32);
}
static void r_ep_info(void *priv, struct usb_redir_ep_info_header *h)
{
    struct got *g = slot(priv, URG_EP_INFO, 0);
    int i;
    memcpy(g->p.h.ep_info.type, h->type, 32);
    memcpy(g->p.h.ep_info.interval, h->interval, 32);
    memcpy(g->p.h.ep_info.interface, h->interface, 32);
    for (i = 0; i < 32; i++) {
        g->p.h.ep_info.max_packet_size[i] = h->max_packet_size[i];
        g->p.h.ep_info.max_streams[i] = h->max_streams[i];
    }
}
static void r_set_configuration(void *priv, uint64_t id,
                                struct usb_redir_set_configuration_header *h)
{
    slot(priv, URG_SET_CONFIGURATION, id)->p.h.set_configuration.configuration = h->configuration;
}
static void r_get_configuration(void *priv, uint64_t id)
{
    slot(priv, URG_GET_CONFIGURATION, id);
}
static void r_configuration_status(void *priv, uint64_t id,
                                   struct usb_redir_configuration_status_header *h)
{
    struct got *g = slot(priv, URG_CONFIGURATION_STATUS, id);
    g->p.h.configuration_status.status = h->status;
    g->p.h.configuration_status.configuration = h->configuration;
}
static void r_set_alt_setting(void *priv, uint64_t id, struct usb_redir_set_alt_setting_header *h)
{
    struct got *g = slot(priv, URG_SET_ALT_SETTING, id);
    g->p.h.set_alt_setting.interface = h->interface;
    g->p.h.set_alt_setting.alt = h->alt;
}
static void r_get_alt_setting(void *priv, uint64_t id, struct usb_redir_get_alt_setting_header *h)
{
    slot(priv, URG_GET_ALT_SETTING, id)->p.h.get_alt_setting.interface = h->interface;
}
static void r_alt_setting_status(void *priv, uint64_t id,
                                 struct usb_redir_alt_setting_status_header *h)
{
    struct got *g = slot(priv, URG_ALT_SETTING_STATUS, id);
    g->p.h.alt_setting_status.status = h->status;
    g->p.h.alt_setting_status.interface = h->interface;
    g->p.h.alt_setting_status.alt = h->alt;
}
static void r_start_iso_stream(void *priv, uint64_t id, struct usb_redir_start_iso_stream_header *h)
{
    struct got *g = slot(priv, URG_START_ISO_STREAM, id);
    g->p.h.start_iso_stream.endpoint = h->endpoint;
    g->p.h.start_iso_stream.pkts_per_urb = h->pkts_per_urb;
    g->p.h.start_iso_stream.no_urbs = h->no_urbs;
}
static void r_stop_iso_stream(void *priv, uint64_t id, struct usb_redir_stop_iso_stream_header *h)
{
    slot(priv, URG_STOP_ISO_STREAM, id)->p.h.stop_iso_stream.endpoint = h->endpoint;
}
static void r_iso_stream_status(void *priv, uint64_t id,
                                struct usb_redir_iso_stream_status_header *h)
{
    struct got *g = slot(priv, URG_ISO_STREAM_STATUS, id);
    g->p.h.iso_stream_status.status = h->status;
    g->p.h.iso_stream_status.endpoint = h->endpoint;
}
static void r_start_int(void *priv, uint64_t id,
                        struct usb_redir_start_interrupt_receiving_header *h)
{
    slot(priv, URG_START_INTERRUPT_RECEIVING, id)->p.h.start_interrupt_receiving.endpoint =
        h->endpoint;
}
static void r_stop_int(void *priv, uint64_t id, struct usb_redir_stop_interrupt_receiving_header *h)
{
    slot(priv, URG_STOP_INTERRUPT_RECEIVING, id)->p.h.stop_interrupt_receiving.endpoint =
        h->endpoint;
}
static void r_int_status(void *priv, uint64_t id,
                         struct usb_redir_interrupt_receiving_status_header *h)
{
    struct got *g = slot(priv, URG_INTERRUPT_RECEIVING_STATUS, id);
    g->p.h.interrupt_receiving_status.status = h->status;
    g->p.h.interrupt_receiving_status.endpoint = h->endpoint;
}
static void r_alloc_streams(void *priv, uint64_t id, struct usb_redir_alloc_bulk_streams_header *h)
{
    struct got *g = slot(priv, URG_ALLOC_BULK_STREAMS, id);
    g->p.h.alloc_bulk_streams.endpoints = h->endpoints;
    g->p.h.alloc_bulk_streams.no_streams = h->no_streams;
}
static void r_free_streams(void *priv, uint64_t id, struct usb_redir_free_bulk_streams_header *h)
{
    slot(priv, URG_FREE_BULK_STREAMS, id)->p.h.free_bulk_streams.endpoints = h->endpoints;
}
static void r_streams_status(void *priv, uint64_t id,
                             struct usb_redir_bulk_streams_status_header *h)
{
    struct got *g = slot(priv, URG_BULK_STREAMS_STATUS, id);
    g->p.h.bulk_streams_status.endpoints = h->endpoints;
    g->p.h.bulk_streams_status.no_streams = h->no_streams;
    g->p.h.bulk_streams_status.status = h->status;
}
static void r_cancel(void *priv, uint64_t id) { slot(priv, URG_CANCEL_DATA_PACKET, id); }
static void r_filter_reject(void *priv) { slot(priv, URG_FILTER_REJECT, 0); }
static void r_filter_filter(void *priv, struct usbredirfilter_rule *rules, int count)
{
    struct got *g = slot(priv, URG_FILTER_FILTER, 0);
    int i;
    g->nrules = count;
    for (i = 0; i < count && i < 8; i++) {
        g->rules[i].device_class = rules[i].device_class;
        g->rules[i].vendor_id = rules[i].vendor_id;
        g->rules[i].product_id = rules[i].product_id;
        g->rules[i].device_version_bcd = rules[i].device_version_bcd;
        g->rules[i].allow = rules[i].allow;
    }
    usbredirfilter_free(rules);
}
static void r_ack(void *priv) { slot(priv, URG_DEVICE_DISCONNECT_ACK, 0); }
static void r_start_bulk_recv(void *priv, uint64_t id,
                              struct usb_redir_start_bulk_receiving_header *h)
{
    struct got *g = slot(priv, URG_START_BULK_RECEIVING, id);
    g->p.h.start_bulk_receiving.stream_id = h->stream_id;
    g->p.h.start_bulk_receiving.bytes_per_transfer = h->bytes_per_transfer;
    g->p.h.start_bulk_receiving.endpoint = h->endpoint;
    g->p.h.start_bulk_receiving.no_transfers = h->no_transfers;
}
static void r_stop_bulk_recv(void *priv, uint64_t id,
                             struct usb_redir_stop_bulk_receiving_header *h)
{
    struct got *g = slot(priv, URG_STOP_BULK_RECEIVING, id);
    g->p.h.stop_bulk_receiving.stream_id = h->stream_id;
    g->p.h.stop_bulk_receiving.endpoint = h->endpoint;
}
static void r_bulk_recv_status(void *priv, uint64_t id,
                               struct usb_redir_bulk_receiving_status_header *h)
{
    struct got *g = slot(priv, URG_BULK_RECEIVING_STATUS, id);
    g->p.h.bulk_receiving_status.stream_id = h->stream_id;
    g->p.h.bulk_receiving_status.endpoint = h->endpoint;
    g->p.h.bulk_receiving_status.status = h->status;
}
static void r_control(void *priv, uint64_t id, struct usb_redir_control_packet_header *h,
                      uint8_t *data, int len)
{
    struct ref *r = priv;
    struct got *g = slot(r, URG_CONTROL_PACKET, id);
    g->p.h.control.endpoint = h->endpoint;
    g->p.h.control.request = h->request;
    g->p.h.control.requesttype = h->requesttype;
    g->p.h.control.status = h->status;
    g->p.h.control.value = h->value;
    g->p.h.control.index = h->index;
    g->p.h.control.length = h->length;
    keep(g, data, len);
    usbredirparser_free_packet_data(r->p, data);
}
static void r_bulk(void *priv, uint64_t id, struct usb_redir_bulk_packet_header *h, uint8_t *data,
                   int len)
{
    struct ref *r = priv;
    struct got *g = slot(r, URG_BULK_PACKET, id);
    g->p.h.bulk.endpoint = h->endpoint;
    g->p.h.bulk.status = h->status;
    g->p.h.bulk.length = (uint32_t)h->length | (uint32_t)h->length_high << 16;
    g->p.h.bulk.stream_id = h->stream_id;
    keep(g, data, len);
    usbredirparser_free_packet_data(r->p, data);
}
static void r_iso(void *priv, uint64_t id, struct usb_redir_iso_packet_header *h, uint8_t *data,
                  int len)
{
    struct ref *r = priv;
    struct got *g = slot(r, URG_ISO_PACKET, id);
    g->p.h.iso.endpoint = h->endpoint;
    g->p.h.iso.status = h->status;
    g->p.h.iso.length = h->length;
    keep(g, data, len);
    usbredirparser_free_packet_data(r->p, data);
}
static void r_interrupt(void *priv, uint64_t id, struct usb_redir_interrupt_packet_header *h,
                        uint8_t *data, int len)
{
    struct ref *r = priv;
    struct got *g = slot(r, URG_INTERRUPT_PACKET, id);
    g->p.h.interrupt.endpoint = h->endpoint;
    g->p.h.interrupt.status = h->status;
    g->p.h.interrupt.length = h->length;
    keep(g, data, len);
    usbredirparser_free_packet_data(r->p, data);
}
static void r_buffered(void *priv, uint64_t id, struct usb_redir_buffered_bulk_packet_header *h,
                       uint8_t *data, int len)
{
    struct ref *r = priv;
    struct got *g = slot(r, URG_BUFFERED_BULK_PACKET, id);
    g->p.h.buffered_bulk.stream_id = h->stream_id;
    g->p.h.buffered_bulk.length = h->length;
    g->p.h.buffered_bulk.endpoint = h->endpoint;
    g->p.h.buffered_bulk.status = h->status;
    keep(g, data, len);
    usbredirparser_free_packet_data(r->p, data);
}

static void ref_new(struct ref *r, int host_role, uint32_t caps)
{
    uint32_t c[USB_REDIR_CAPS_SIZE] = { 0 };
    struct usbredirparser *p = usbredirparser_create();
    assert_non_null(p);
    memset(r, 0, sizeof(*r));
    r->got = calloc(MAXP, sizeof(*r->got));
    r->p = p;
    p->priv = r;
    p->log_func = r_log;
    p->read_func = r_read;
    p->write_func = r_write;
    p->hello_func = r_hello;
    p->device_connect_func = r_device_connect;
    p->device_disconnect_func = r_device_disconnect;
    p->reset_func = r_reset;
    p->interface_info_func = r_interface_info;
    p->ep_info_func = r_ep_info;
    p->set_configuration_func = r_set_configuration;
    p->get_configuration_func = r_get_configuration;
    p->configuration_status_func = r_configuration_status;
    p->set_alt_setting_func = r_set_alt_setting;
    p->get_alt_setting_func = r_get_alt_setting;
    p->alt_setting_status_func = r_alt_setting_status;
    p->start_iso_stream_func = r_start_iso_stream;
    p->stop_iso_stream_func = r_stop_iso_stream;
    p->iso_stream_status_func = r_iso_stream_status;
    p->start_interrupt_receiving_func = r_start_int;
    p->stop_interrupt_receiving_func = r_stop_int;
    p->interrupt_receiving_status_func = r_int_status;
    p->alloc_bulk_streams_func = r_alloc_streams;
    p->free_bulk_streams_func = r_free_streams;
    p->bulk_streams_status_func = r_streams_status;
    p->cancel_data_packet_func = r_cancel;
    p->filter_reject_func = r_filter_reject;
    p->filter_filter_func = r_filter_filter;
    p->device_disconnect_ack_func = r_ack;
    p->start_bulk_receiving_func = r_start_bulk_recv;
    p->stop_bulk_receiving_func = r_stop_bulk_recv;
    p->bulk_receiving_status_func = r_bulk_recv_status;
    p->control_packet_func = r_control;
    p->bulk_packet_func = r_bulk;
    p->iso_packet_func = r_iso;
    p->interrupt_packet_func = r_interrupt;
    p->buffered_bulk_packet_func = r_buffered;
    c[0] = caps;
    usbredirparser_init(p, "refparser 0.13", c, USB_REDIR_CAPS_SIZE,
                        host_role ? usbredirparser_fl_usb_host : 0);
}

static void ref_free(struct ref *r)
{
    int i;
    for (i = 0; i < r->ngot; i++)
        free(r->got[i].data);
    free(r->got);
    free(r->out);
    usbredirparser_destroy(r->p);
}

static void ref_read_all(struct ref *r, const uint8_t *b, size_t n)
{
    int rc;
    r->in = b;
    r->in_len = n;
    r->in_off = 0;
    do {
        rc = usbredirparser_do_read(r->p);
    } while (rc > 0);
    assert_int_equal(rc, 0);
    assert_int_equal(r->in_off, n);
    assert_int_equal(r->errors, 0);
}

/* ---- the packets under test ---- */

struct plan {
    struct urg_packet p[MAXP];
    uint8_t *data[MAXP];
    int n;
};

static void plan_free(struct plan *pl)
{
    int i;
    for (i = 0; i < pl->n; i++)
        free(pl->data[i]);
}

/* Valid packets of every type that travels in dir under w. */
static void make_plan(struct plan *pl, const struct urg_wire *w, enum urg_dir dir, uint32_t *rng)
{
    static uint8_t buf[70000];
    int i, k;
    pl->n = 0;
    for (i = 0; i < URG_TYPE_COUNT; i++) {
        uint32_t t = urg_type_at(i);
        if (t == URG_HELLO || t == URG_DEVICE_DISCONNECT_ACK)
            continue; /* sent by the parsers themselves */
        for (k = 0; k < PER_TYPE; k++) {
            struct urg_packet *p = &pl->p[pl->n];
            if (gen_packet(t, dir, w, rng, p, buf, sizeof(buf)) != GEN_OK)
                break;
            if (t == URG_DEVICE_DISCONNECT && dir == URG_DIR_TO_GUEST && k > 0)
                break; /* one is enough, and it triggers the reference's ack */
            pl->data[pl->n] = NULL;
            if (p->data_len) {
                pl->data[pl->n] = malloc(p->data_len);
                memcpy(pl->data[pl->n], p->data, p->data_len);
                p->data = pl->data[pl->n];
            }
            pl->n++;
        }
    }
}

static void compare(const struct urg_packet *want, const struct got *g, const struct urg_wire *w,
                    int way, enum urg_dir dir)
{
    char why[200];
    if (want->type == URG_FILTER_FILTER && way == 0) {
        /* The reference hands out rules: compare with ours parsed. */
        struct urg_filter_rule r[8];
        size_t n;
        assert_int_equal(g->p.type, URG_FILTER_FILTER);
        assert_int_equal(urg_filter_parse((const char *)want->data, r, 8, &n), 0);
        assert_int_equal((int)n, g->nrules);
        assert_memory_equal(r, g->rules, n * sizeof(r[0]));
    } else if (packet_diff(want, &g->p, w, why, sizeof(why))) {
        fail_msg("%s %s: %s", way ? "reference->ours" : "ours->reference",
                 dir == URG_DIR_TO_HOST ? "to host" : "to guest", why);
    }
    coverage[urg_type_index(want->type)][dir][way] = 1;
    compared++;
}

/* ---- ours -> reference ---- */

static void ours_to_ref(uint32_t caps, enum urg_dir dir, uint32_t *rng)
{
    struct urg_wire w0 = { 0, 0 }, w = urg_wire_from_caps(caps, caps);
    static struct plan pl;
    struct urg_packet hello;
    struct ref r;
    uint8_t *stream = NULL, hdr[400];
    size_t len = 0;
    int i, n;

    ref_new(&r, dir == URG_DIR_TO_HOST, caps);
    make_plan(&pl, &w, dir, rng);
    memset(&hello, 0, sizeof(hello));
    hello.type = URG_HELLO;
    strcpy(hello.h.hello.version, "usbredir-guest test");
    hello.h.hello.caps[0] = caps;
    hello.h.hello.caps_words = 1;
    stream = malloc(16 * 1024 * 1024);
    n = urg_encode(&w0, dir, &hello, stream, 400);
    assert_true(n > 0);
    len = (size_t)n;
    for (i = 0; i < pl.n; i++) {
        n = urg_encode(&w, dir, &pl.p[i], hdr, sizeof(hdr));
        assert_true(n > 0);
        memcpy(stream + len, hdr, (size_t)n);
        len += (size_t)n;
        if (pl.p[i].data_len)
            memcpy(stream + len, pl.p[i].data, pl.p[i].data_len);
        len += pl.p[i].data_len;
    }
    ref_read_all(&r, stream, len);
    assert_int_equal(r.ngot, pl.n + 1);
    assert_int_equal(r.got[0].p.type, URG_HELLO);
    assert_string_equal(r.got[0].p.h.hello.version, "usbredir-guest test");
    assert_int_equal(r.got[0].p.h.hello.caps[0], caps);
    coverage[urg_type_index(URG_HELLO)][dir][0] = 1;
    for (i = 0; i < pl.n; i++)
        compare(&pl.p[i], &r.got[i + 1], &w, 0, dir);
    /* The guest-role reference answered device_disconnect with an ack;
     * our host-role decoder reads it (reference -> ours, ack). */
    if (dir == URG_DIR_TO_GUEST) {
        struct urg_decoder_config c;
        urg_decoder *d;
        int got_ack = 0, k;
        uint8_t own_hello[100];
        assert_int_equal(usbredirparser_do_write(r.p), 0);
        memset(&c, 0, sizeof(c));
        c.role = URG_ROLE_HOST;
        c.our_caps = caps;
        c.callbacks.packet = NULL;
        (void)own_hello;
        for (k = 0; k + 12 <= (int)r.out_len;) {
            /* Walk the reference's output: hello (12-byte header), then
             * packets under w. */
            struct urg_packet q;
            size_t used;
            struct urg_wire ww = k == 0 ? w0 : w;
            assert_int_equal(urg_decode(&ww, URG_DIR_TO_HOST, r.out + k, r.out_len - (size_t)k,
                                        0, &q, &used),
                             0);
            if (q.type == URG_DEVICE_DISCONNECT_ACK)
                got_ack = 1;
            k += (int)used;
        }
        (void)d;
        assert_int_equal(got_ack, 1);
        coverage[urg_type_index(URG_DEVICE_DISCONNECT_ACK)][URG_DIR_TO_HOST][1] = 1;
    }
    free(stream);
    plan_free(&pl);
    ref_free(&r);
}

/* ---- reference -> ours ---- */

static void ref_send(struct ref *r, const struct urg_packet *p)
{
    uint8_t *d = (uint8_t *)p->data;
    int dl = (int)p->data_len;
    uint64_t id = p->id;
    switch (p->type) {
    case URG_DEVICE_CONNECT: {
        struct usb_redir_device_connect_header h = {
            p->h.device_connect.speed,           p->h.device_connect.device_class,
            p->h.device_connect.device_subclass, p->h.device_connect.device_protocol,
            p->h.device_connect.vendor_id,       p->h.device_connect.product_id,
            p->h.device_connect.device_version_bcd,
        };
        usbredirparser_send_device_connect(r->p, &h);
        break;
    }
    case URG_DEVICE_DISCONNECT: usbredirparser_send_device_disconnect(r->p); break;
    case URG_RESET: usbredirparser_send_reset(r->p); break;
    case URG_INTERFACE_INFO: {
        struct usb_redir_interface_info_header h;
        h.interface_count = p->h.interface_info.interface_count;
        memcpy(h.interface, p->h.interface_info.interface, 32);
        memcpy(h.interface_class, p->h.interface_info.interface_class, 32);
        memcpy(h.interface_subclass, p->h.interface_info.interface_subclass, 32);
        memcpy(h.interface_protocol, p->h.interface_info.interface_protocol, 32);
        usbredirparser_send_interface_info(r->p, &h);
        break;
    }
    case URG_EP_INFO: {
        struct usb_redir_ep_info_header h;
        int i;
        memcpy(h.type, p->h.ep_info.type, 32);
        memcpy(h.interval, p->h.ep_info.interval, 32);
        memcpy(h.interface, p->h.ep_info.interface, 32);
        for (i = 0; i < 32; i++) {
            h.max_packet_size[i] = p->h.ep_info.max_packet_size[i];
            h.max_streams[i] = p->h.ep_info.max_streams[i];
        }
        usbredirparser_send_ep_info(r->p, &h);
        break;
    }
    case URG_SET_CONFIGURATION: {
        struct usb_redir_set_configuration_header h = { p->h.set_configuration.configuration };
        usbredirparser_send_set_configuration(r->p, id, &h);
        break;
    }
    case URG_GET_CONFIGURATION: usbredirparser_send_get_configuration(r->p, id); break;
    case URG_CONFIGURATION_STATUS: {
        struct usb_redir_configuration_status_header h = {
            p->h.configuration_status.status, p->h.configuration_status.configuration
        };
        usbredirparser_send_configuration_status(r->p, id, &h);
        break;
    }
    case URG_SET_ALT_SETTING: {
        struct usb_redir_set_alt_setting_header h = { p->h.set_alt_setting.interface,
                                                      p->h.set_alt_setting.alt };
        usbredirparser_send_set_alt_setting(r->p, id, &h);
        break;
    }
    case URG_GET_ALT_SETTING: {
        struct usb_redir_get_alt_setting_header h = { p->h.get_alt_setting.interface };
        usbredirparser_send_get_alt_setting(r->p, id, &h);
        break;
    }
    case URG_ALT_SETTING_STATUS: {
        struct usb_redir_alt_setting_status_header h = { p->h.alt_setting_status.status,
                                                         p->h.alt_setting_status.interface,
                                                         p->h.alt_setting_status.alt };
        usbredirparser_send_alt_setting_status(r->p, id, &h);
        break;
    }
    case URG_START_ISO_STREAM: {
        struct usb_redir_start_iso_stream_header h = { p->h.start_iso_stream.endpoint,
                                                       p->h.start_iso_stream.pkts_per_urb,
                                                       p->h.start_iso_stream.no_urbs };
        usbredirparser_send_start_iso_stream(r->p, id, &h);
        break;
    }
    case URG_STOP_ISO_STREAM: {
        struct usb_redir_stop_iso_stream_header h = { p->h.stop_iso_stream.endpoint };
        usbredirparser_send_stop_iso_stream(r->p, id, &h);
        break;
    }
    case URG_ISO_STREAM_STATUS: {
        struct usb_redir_iso_stream_status_header h = { p->h.iso_stream_status.status,
                                                        p->h.iso_stream_status.endpoint };
        usbredirparser_send_iso_stream_status(r->p, id, &h);
        break;
    }
    case URG_START_INTERRUPT_RECEIVING: {
        struct usb_redir_start_interrupt_receiving_header h = {
            p->h.start_interrupt_receiving.endpoint
        };
        usbredirparser_send_start_interrupt_receiving(r->p, id, &h);
        break;
    }
    case URG_STOP_INTERRUPT_RECEIVING: {
        struct usb_redir_stop_interrupt_receiving_header h = {
            p->h.stop_interrupt_receiving.endpoint
        };
        usbredirparser_send_stop_interrupt_receiving(r->p, id, &h);
        break;
    }
    case URG_INTERRUPT_RECEIVING_STATUS: {
        struct usb_redir_interrupt_receiving_status_header h = {
            p->h.interrupt_receiving_status.status, p->h.interrupt_receiving_status.endpoint
        };
        usbredirparser_send_interrupt_receiving_status(r->p, id, &h);
        break;
    }
    case URG_ALLOC_BULK_STREAMS: {
        struct usb_redir_alloc_bulk_streams_header h = { p->h.alloc_bulk_streams.endpoints,
                                                         p->h.alloc_bulk_streams.no_streams };
        usbredirparser_send_alloc_bulk_streams(r->p, id, &h);
        break;
    }
    case URG_FREE_BULK_STREAMS: {
        struct usb_redir_free_bulk_streams_header h = { p->h.free_bulk_streams.endpoints };
        usbredirparser_send_free_bulk_streams(r->p, id, &h);
        break;
    }
    case URG_BULK_STREAMS_STATUS: {
        struct usb_redir_bulk_streams_status_header h = { p->h.bulk_streams_status.endpoints,
                                                          p->h.bulk_streams_status.no_streams,
                                                          p->h.bulk_streams_status.status };
        usbredirparser_send_bulk_streams_status(r->p, id, &h);
        break;
    }
    case URG_CANCEL_DATA_PACKET: usbredirparser_send_cancel_data_packet(r->p, id); break;
    case URG_FILTER_REJECT: usbredirparser_send_filter_reject(r->p); break;
    case URG_FILTER_FILTER: {
        struct urg_filter_rule ours[8];
        struct usbredirfilter_rule theirs[8];
        size_t n, i;
        assert_int_equal(urg_filter_parse((const char *)p->data, ours, 8, &n), 0);
        for (i = 0; i < n; i++) {
            theirs[i].device_class = ours[i].device_class;
            theirs[i].vendor_id = ours[i].vendor_id;
            theirs[i].product_id = ours[i].product_id;
            theirs[i].device_version_bcd = ours[i].device_version_bcd;
            theirs[i].allow = ours[i].allow;
        }
        usbredirparser_send_filter_filter(r->p, theirs, (int)n);
        break;
    }
    case URG_START_BULK_RECEIVING: {
        struct usb_redir_start_bulk_receiving_header h = {
            p->h.start_bulk_receiving.stream_id, p->h.start_bulk_receiving.bytes_per_transfer,
            p->h.start_bulk_receiving.endpoint, p->h.start_bulk_receiving.no_transfers
        };
        usbredirparser_send_start_bulk_receiving(r->p, id, &h);
        break;
    }
    case URG_STOP_BULK_RECEIVING: {
        struct usb_redir_stop_bulk_receiving_header h = { p->h.stop_bulk_receiving.stream_id,
                                                          p->h.stop_bulk_receiving.endpoint };
        usbredirparser_send_stop_bulk_receiving(r->p, id, &h);
        break;
    }
    case URG_BULK_RECEIVING_STATUS: {
        struct usb_redir_bulk_receiving_status_header h = {
            p->h.bulk_receiving_status.stream_id, p->h.bulk_receiving_status.endpoint,
            p->h.bulk_receiving_status.status
        };
        usbredirparser_send_bulk_receiving_status(r->p, id, &h);
        break;
    }
    case URG_CONTROL_PACKET: {
        struct usb_redir_control_packet_header h = {
            p->h.control.endpoint, p->h.control.request, p->h.control.requesttype,
            p->h.control.status,   p->h.control.value,   p->h.control.index,
            p->h.control.length,
        };
        usbredirparser_send_control_packet(r->p, id, &h, d, dl);
        break;
    }
    case URG_BULK_PACKET: {
        struct usb_redir_bulk_packet_header h = {
            p->h.bulk.endpoint, p->h.bulk.status, (uint16_t)p->h.bulk.length,
            p->h.bulk.stream_id, (uint16_t)(p->h.bulk.length >> 16),
        };
        usbredirparser_send_bulk_packet(r->p, id, &h, d, dl);
        break;
    }
    case URG_ISO_PACKET: {
        struct usb_redir_iso_packet_header h = { p->h.iso.endpoint, p->h.iso.status,
                                                 p->h.iso.length };
        usbredirparser_send_iso_packet(r->p, id, &h, d, dl);
        break;
    }
    case URG_INTERRUPT_PACKET: {
        struct usb_redir_interrupt_packet_header h = { p->h.interrupt.endpoint,
                                                       p->h.interrupt.status,
                                                       p->h.interrupt.length };
        usbredirparser_send_interrupt_packet(r->p, id, &h, d, dl);
        break;
    }
    case URG_BUFFERED_BULK_PACKET: {
        struct usb_redir_buffered_bulk_packet_header h = {
            p->h.buffered_bulk.stream_id, p->h.buffered_bulk.length, p->h.buffered_bulk.endpoint,
            p->h.buffered_bulk.status
        };
        usbredirparser_send_buffered_bulk_packet(r->p, id, &h, d, dl);
        break;
    }
    default:
        fail_msg("no reference sender for %s", urg_type_name(p->type));
    }
}

struct collect {
    struct got g[MAXP];
    int n;
    int errors;
};

static int col_packet(void *ctx, const struct urg_packet *p)
{
    struct collect *c = ctx;
    struct got *g = &c->g[c->n++];
    memset(g, 0, sizeof(*g));
    g->p = *p;
    if (p->data_len) {
        g->data = malloc(p->data_len);
        memcpy(g->data, p->data, p->data_len);
        g->p.data = g->data;
    }
    return URG_DECODE_CONTINUE;
}

static void col_error(void *ctx, int err, const char *msg, int fatal)
{
    struct collect *c = ctx;
    (void)err;
    (void)fatal;
    c->errors++;
    fprintf(stderr, "ours: %s\n", msg);
}

static void ref_to_ours(uint32_t caps, enum urg_dir dir, uint32_t *rng)
{
    struct urg_wire w0 = { 0, 0 }, w = urg_wire_from_caps(caps, caps);
    static struct plan pl;
    static struct collect col;
    struct urg_decoder_config c;
    struct urg_packet hello;
    urg_decoder *d;
    struct ref r;
    uint8_t hb[200];
    int i, n, first;

    /* The reference sends in dir: guest role to the host, host role to the
     * guest. It must first hear our hello to know the layout. */
    ref_new(&r, dir == URG_DIR_TO_GUEST, caps);
    memset(&hello, 0, sizeof(hello));
    hello.type = URG_HELLO;
    hello.h.hello.caps[0] = caps;
    hello.h.hello.caps_words = 1;
    n = urg_encode(&w0, dir == URG_DIR_TO_HOST ? URG_DIR_TO_GUEST : URG_DIR_TO_HOST, &hello, hb,
                   sizeof(hb));
    assert_true(n > 0);
    ref_read_all(&r, hb, (size_t)n);
    first = 1;
    if (dir == URG_DIR_TO_HOST) {
        /* Make the guest-role reference send its device_disconnect_ack. */
        struct urg_packet dc;
        memset(&dc, 0, sizeof(dc));
        dc.type = URG_DEVICE_DISCONNECT;
        n = urg_encode(&w, URG_DIR_TO_GUEST, &dc, hb, sizeof(hb));
        ref_read_all(&r, hb, (size_t)n);
        first = 2;
    }
    make_plan(&pl, &w, dir, rng);
    for (i = 0; i < pl.n; i++)
        ref_send(&r, &pl.p[i]);
    assert_int_equal(r.errors, 0);
    assert_int_equal(usbredirparser_do_write(r.p), 0);

    memset(&col, 0, sizeof(col));
    memset(&c, 0, sizeof(c));
    c.role = dir == URG_DIR_TO_HOST ? URG_ROLE_HOST : URG_ROLE_GUEST;
    c.our_caps = caps;
    c.callbacks.packet = col_packet;
    c.callbacks.error = col_error;
    c.ctx = &col;
    assert_int_equal(urg_decoder_new(&c, &d), 0);
    /* Byte by byte, to exercise reassembly against the reference's bytes. */
    for (i = 0; i < (int)r.out_len; i++)
        assert_int_equal(urg_decoder_feed(d, r.out + i, 1, NULL), 0);
    assert_int_equal(col.errors, 0);
    assert_int_equal(col.n, pl.n + first);
    assert_int_equal(col.g[0].p.type, URG_HELLO);
    assert_string_equal(col.g[0].p.h.hello.version, "refparser 0.13");
    assert_int_equal(col.g[0].p.h.hello.caps[0], caps);
    coverage[urg_type_index(URG_HELLO)][dir][1] = 1;
    if (first == 2) {
        assert_int_equal(col.g[1].p.type, URG_DEVICE_DISCONNECT_ACK);
        coverage[urg_type_index(URG_DEVICE_DISCONNECT_ACK)][URG_DIR_TO_HOST][1] = 1;
    }
    for (i = 0; i < pl.n; i++) {
        if (pl.p[i].type == URG_FILTER_FILTER) {
            /* The reference writes its own string form: compare rules. */
            struct urg_filter_rule a[8], b[8];
            size_t na, nb;
            assert_int_equal(urg_filter_parse((const char *)pl.p[i].data, a, 8, &na), 0);
            assert_int_equal(urg_filter_parse((const char *)col.g[i + first].p.data, b, 8, &nb),
                             0);
            assert_int_equal(na, nb);
            assert_memory_equal(a, b, na * sizeof(a[0]));
            coverage[urg_type_index(URG_FILTER_FILTER)][dir][1] = 1;
            compared++;
            continue;
        }
        compare(&pl.p[i], &col.g[i + first], &w, 1, dir);
    }
    for (i = 0; i < col.n; i++)
        free(col.g[i].data);
    urg_decoder_free(d);
    plan_free(&pl);
    ref_free(&r);
}

static void test_every_layout_both_ways(void **state)
{
    uint32_t rng = 20261121;
    int v, i, dir;
    (void)state;
    for (v = 0; v < LAYOUT_VARIANTS; v++) {
        uint32_t caps = layout_caps(v);
        ours_to_ref(caps, URG_DIR_TO_HOST, &rng);
        ours_to_ref(caps, URG_DIR_TO_GUEST, &rng);
        ref_to_ours(caps, URG_DIR_TO_HOST, &rng);
        ref_to_ours(caps, URG_DIR_TO_GUEST, &rng);
    }
    /* ours -> reference for the ack: the host-role reference reads ours. */
    {
        struct urg_wire w0 = { 0, 0 }, w = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
        struct urg_packet p;
        struct ref r;
        uint8_t b[200];
        int n, m;
        ref_new(&r, 1, URG_CAPS_ALL);
        memset(&p, 0, sizeof(p));
        p.type = URG_HELLO;
        p.h.hello.caps[0] = URG_CAPS_ALL;
        p.h.hello.caps_words = 1;
        n = urg_encode(&w0, URG_DIR_TO_HOST, &p, b, sizeof(b));
        memset(&p, 0, sizeof(p));
        p.type = URG_DEVICE_DISCONNECT_ACK;
        m = urg_encode(&w, URG_DIR_TO_HOST, &p, b + n, sizeof(b) - (size_t)n);
        ref_read_all(&r, b, (size_t)(n + m));
        assert_int_equal(r.ngot, 2);
        assert_int_equal(r.got[1].p.type, URG_DEVICE_DISCONNECT_ACK);
        coverage[urg_type_index(URG_DEVICE_DISCONNECT_ACK)][URG_DIR_TO_HOST][0] = 1;
        ref_free(&r);
    }
    /* Every type, every direction it travels, both ways. */
    for (i = 0; i < URG_TYPE_COUNT; i++) {
        struct urg_wire all = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
        for (dir = 0; dir < 2; dir++) {
            int travels = urg_type_header_len(&all, urg_type_at(i), (enum urg_dir)dir) >= 0;
            if (coverage[i][dir][0] != travels || coverage[i][dir][1] != travels)
                fail_msg("%s %s not covered (%d %d)", urg_type_name(urg_type_at(i)),
                         dir ? "to guest" : "to host", coverage[i][dir][0], coverage[i][dir][1]);
        }
    }
    printf("differential: %ld packets compared, 33 types, %d caps layouts, both ways, both "
           "roles\n",
           compared, LAYOUT_VARIANTS);
}

/* The reference's filter strings and ours agree on rules both ways. */
static void test_filter_strings_agree(void **state)
{
    static const char *strings[] = {
        "0x03,-1,-1,-1,0|-1,-1,-1,-1,1",
        "8,0x46f4,1,0x0100,1",
        "-1,-1,-1,-1,0|",
        "|0xff,0xffff,0xffff,0xffff,1||1,2,3,4,0",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        struct usbredirfilter_rule *theirs;
        struct urg_filter_rule ours[8];
        int count, j;
        size_t n;
        char *back;
        char mine[256];
        assert_int_equal(usbredirfilter_string_to_rules(strings[i], ",", "|", &theirs, &count), 0);
        assert_int_equal(urg_filter_parse(strings[i], ours, 8, &n), 0);
        assert_int_equal((int)n, count);
        for (j = 0; j < count; j++) {
            assert_int_equal(ours[j].device_class, theirs[j].device_class);
            assert_int_equal(ours[j].vendor_id, theirs[j].vendor_id);
            assert_int_equal(ours[j].product_id, theirs[j].product_id);
            assert_int_equal(ours[j].device_version_bcd, theirs[j].device_version_bcd);
            assert_int_equal(ours[j].allow, theirs[j].allow);
        }
        /* Each side reads the other's formatting back to the same rules. */
        back = usbredirfilter_rules_to_string(theirs, count, ",", "|");
        assert_int_equal(urg_filter_parse(back, ours, 8, &n), 0);
        assert_int_equal((int)n, count);
        assert_true(urg_filter_format(ours, n, mine, sizeof(mine)) > 0 || count == 0);
        usbredirfilter_free(theirs);
        assert_int_equal(usbredirfilter_string_to_rules(mine, ",", "|", &theirs, &count), 0);
        assert_int_equal((int)n, count);
        for (j = 0; j < count; j++)
            assert_int_equal(ours[j].vendor_id, theirs[j].vendor_id);
        usbredirfilter_free(theirs);
        usbredirfilter_free(back);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_layout_both_ways),
        cmocka_unit_test(test_filter_strings_agree),
    };
    return cmocka_run_group_tests_name("differential", tests, NULL, NULL);
}

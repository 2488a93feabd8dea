/*
 * test_sg.c - URBs whose data is a list of segments (struct urg_urb's iov:
 * a guest's TRB chain or qTD page list) through the model, for every
 * transfer type: bulk and control data to and from the segments without a
 * copy, standard replies and descriptor fix-ups across segment edges,
 * stream data (interrupt IN, buffered bulk, iso IN) and iso OUT packets
 * that straddle segments, the usbmon capture, and the URBs refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _GNU_SOURCE_MEMMEM /* memmem: a GNU extension, declared below */
void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);

#include <cmocka.h>

#include "packets.h"
#include "vmm.h"

#define ALL URG_CAPS_ALL
#define GAP 8
#define MAX_SEGS 16

/* Segments of the given sizes over one area, GAP bytes of 0xee between
 * them (a write past a segment shows). */
struct sg {
    uint8_t *area;
    size_t area_len;
    struct iovec v[MAX_SEGS];
    int n;
};

static void sg_init(struct sg *g, const uint32_t *sizes, int n)
{
    size_t off = 0;
    g->area_len = GAP;
    for (int k = 0; k < n; k++)
        g->area_len += sizes[k] + GAP;
    g->area = malloc(g->area_len);
    memset(g->area, 0xee, g->area_len);
    g->n = n;
    for (int k = 0; k < n; k++) {
        off += GAP;
        g->v[k].iov_base = g->area + off;
        g->v[k].iov_len = sizes[k];
        off += sizes[k];
    }
}

static void sg_free(struct sg *g) { free(g->area); }

static void sg_gather(const struct sg *g, uint8_t *out, size_t n)
{
    for (int k = 0; k < g->n && n; k++) {
        size_t c = g->v[k].iov_len < n ? g->v[k].iov_len : n;
        memcpy(out, g->v[k].iov_base, c);
        out += c;
        n -= c;
    }
}

static void sg_scatter(struct sg *g, const uint8_t *in, size_t n)
{
    for (int k = 0; k < g->n && n; k++) {
        size_t c = g->v[k].iov_len < n ? g->v[k].iov_len : n;
        memcpy(g->v[k].iov_base, in, c);
        in += c;
        n -= c;
    }
}

static void assert_gaps(const struct sg *g)
{
    for (int k = 0; k < g->n; k++) {
        const uint8_t *before = (const uint8_t *)g->v[k].iov_base - GAP;
        for (int b = 0; b < GAP; b++)
            assert_int_equal(before[b], 0xee);
    }
    for (int b = 0; b < GAP; b++)
        assert_int_equal(g->area[g->area_len - GAP + b], 0xee);
}

/* A URB of type on ep for len bytes whose data is g's segments. */
static struct urg_urb *sg_urb(uint8_t type, uint8_t ep, uint32_t len, int iso_packets,
                              const struct sg *g)
{
    struct urg_urb *u = vmm_urb(type, ep, 0, iso_packets);
    u->length = len;
    u->iov = g->v;
    u->iovcnt = g->n;
    for (int i = 0; i < iso_packets; i++) {
        u->iso[i].length = len / (uint32_t)iso_packets;
        u->iso[i].offset = (uint32_t)i * u->iso[i].length;
    }
    return u;
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 29 + seed);
}

static const struct urg_packet *sent(struct vmm *v, uint32_t type)
{
    const struct th_packet *t = th_find(&v->h, type);
    assert_non_null(t);
    return &t->p;
}

static void reply_bulk_in(struct vmm *v, uint64_t id, uint8_t ep, const void *data, uint32_t len)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = id;
    p.h.bulk.endpoint = ep;
    p.h.bulk.length = len;
    p.data = data;
    p.data_len = len;
    th_emit(&v->h, &p);
}

/* Bulk IN into segments, the reply fed whole (the model copies it from the
 * recv buffer) and in chunks (the engine writes it into the segments);
 * bulk OUT sent from the segments themselves. */
static void test_bulk_in_and_out(void **state)
{
    static const uint32_t sizes[] = { 1, 4095, 0, 4096, 3000, 1200 };
    uint8_t *want = malloc(12000), *got = malloc(12000);
    struct vmm v;
    (void)state;
    for (size_t chunk = 0; chunk <= 1000; chunk += 1000) {
        struct sg g;
        struct urg_urb *u;
        vmm_init(&v, NULL, ALL);
        vmm_plug_default(&v);
        sg_init(&g, sizes, 6);
        u = sg_urb(URG_EP_BULK, 0x83, 12000, 0, &g);
        pattern(want, 12000, (unsigned)chunk);
        assert_int_equal(urg_hcd_submit(v.dev, u), 0);
        vmm_sync(&v, 0);
        reply_bulk_in(&v, sent(&v, URG_BULK_PACKET)->id, 0x83, want, 11000);
        vmm_sync(&v, chunk);
        assert_int_equal(vmm_count(&v, u), 1);
        assert_int_equal(vmm_last(&v, u)->status, URG_URB_SHORT);
        assert_int_equal(vmm_last(&v, u)->actual, 11000);
        sg_gather(&g, got, 11000);
        assert_memory_equal(got, want, 11000);
        /* nothing past 11000 bytes (in the fifth segment) */
        assert_int_equal(((uint8_t *)g.v[4].iov_base)[11000 - 8192], 0xee);
        assert_gaps(&g);
        vmm_urb_free(u);
        sg_free(&g);
        vmm_free(&v);
    }
    vmm_init(&v, NULL, ALL);
    vmm_plug_default(&v);
    {
        struct sg g;
        struct urg_urb *u;
        struct iovec o[16];
        int n;
        sg_init(&g, sizes, 6);
        pattern(want, 12000, 5);
        sg_scatter(&g, want, 12000);
        u = sg_urb(URG_EP_BULK, 0x04, 12000, 0, &g);
        assert_int_equal(urg_hcd_submit(v.dev, u), 0);
        n = urg_session_output(v.s, o, 16);
        assert_int_equal(n, 6); /* the header and five non-empty segments */
        assert_ptr_equal(o[1].iov_base, g.v[0].iov_base);
        assert_ptr_equal(o[3].iov_base, g.v[3].iov_base);
        assert_ptr_equal(o[5].iov_base, g.v[5].iov_base);
        vmm_sync(&v, 0);
        assert_int_equal(sent(&v, URG_BULK_PACKET)->data_len, 12000);
        assert_memory_equal(sent(&v, URG_BULK_PACKET)->data, want, 12000);
        urg_hcd_dev_disconnect(v.dev, 0); /* unanswered: it ends (NODEV) */
        assert_int_equal(vmm_last(&v, u)->status, URG_URB_NODEV);
        vmm_urb_free(u);
        sg_free(&g);
    }
    vmm_free(&v);
    free(want);
    free(got);
}

static uint32_t hook_calls, hook_len;
static uint8_t hook_seen[64];

/* Sees the whole reply in one buffer, changes a byte in the second
 * segment and lengthens the reply. */
static uint32_t hook(void *ud, urg_hcd_dev *dev, const uint8_t setup[8], uint8_t *data,
                     uint32_t length, uint32_t max)
{
    (void)ud;
    (void)dev;
    (void)setup;
    hook_calls++;
    hook_len = length;
    memcpy(hook_seen, data, length < sizeof(hook_seen) ? length : sizeof(hook_seen));
    data[12] = 0x99;
    if (length + 2 <= max) {
        data[length] = 0xaa;
        data[length + 1] = 0xbb;
        return length + 2;
    }
    return length;
}

/* A configuration descriptor read into segments of 5, 6 and 53 bytes:
 * bmAttributes (byte 7) lies in the second segment; the descriptor hook
 * sees one buffer and its changes reach the segments. GET_CONFIGURATION
 * into a segment. */
static void test_control_across_segments(void **state)
{
    static const uint8_t GET_CONFIG_DESCRIPTOR[8] = { 0x80, 6, 0, 2, 0, 0, 64, 0 };
    static const uint8_t GET_CONFIGURATION[8] = { 0x80, 8, 0, 0, 0, 0, 1, 0 };
    static const uint8_t CONFIG[34] = { 9, 2, 34, 0, 1, 1, 0, 0xa0, 50, 9, 4, 0, 0, 1, 3, 1, 1 };
    static const uint32_t sizes[] = { 5, 6, 53 };
    struct urg_hcd_config cfg;
    struct vmm v;
    struct sg g;
    struct urg_urb *u;
    const struct vmm_done *done;
    uint8_t got[64];
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.descriptor = hook;
    vmm_init(&v, &cfg, ALL);
    vmm_plug_default(&v);
    sg_init(&g, sizes, 3);
    u = sg_urb(URG_EP_CONTROL, 0, 64, 0, &g);
    memcpy(u->setup, GET_CONFIG_DESCRIPTOR, 8);
    done = vmm_control_reply(&v, u, URG_STATUS_SUCCESS, CONFIG, 34);
    assert_int_equal(done->status, URG_URB_SHORT);
    assert_int_equal(done->actual, 36);
    assert_int_equal(hook_calls, 1);
    assert_int_equal(hook_len, 34);
    assert_int_equal(hook_seen[7], 0x80); /* fixed before the hook */
    assert_memory_equal(hook_seen + 8, CONFIG + 8, 26);
    sg_gather(&g, got, 36);
    assert_int_equal(got[7], 0x80);
    assert_int_equal(got[12], 0x99);
    assert_int_equal(got[34], 0xaa);
    assert_int_equal(got[35], 0xbb);
    assert_memory_equal(got, CONFIG, 7);
    assert_gaps(&g);
    /* GET_CONFIGURATION is answered by the host's get_configuration. */
    memcpy(u->setup, GET_CONFIGURATION, 8);
    u->length = 1;
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    {
        struct urg_packet p;
        memset(&p, 0, sizeof(p));
        p.type = URG_CONFIGURATION_STATUS;
        p.id = sent(&v, URG_GET_CONFIGURATION)->id;
        p.h.configuration_status.configuration = 7;
        th_emit(&v.h, &p);
    }
    vmm_sync(&v, 0);
    assert_int_equal(vmm_last(&v, u)->actual, 1);
    assert_int_equal(((uint8_t *)g.v[0].iov_base)[0], 7);
    vmm_urb_free(u);
    sg_free(&g);
    vmm_free(&v);
}


/* A hook that lengthens the reply to max without writing the bytes past
 * length (they are the URB's already: a buffer keeps what was there). */
static uint32_t hook_keep(void *ud, urg_hcd_dev *dev, const uint8_t setup[8], uint8_t *data,
                          uint32_t length, uint32_t max)
{
    (void)ud;
    (void)dev;
    (void)setup;
    (void)data;
    (void)length;
    return max;
}

/* With segments the hook's bytes past length must be the URB's
 * (as with a buffer), not a fresh heap block's. */
static void test_descriptor_hook_bounce_keeps_urb_bytes(void **state)
{
    static const uint8_t GET_CONFIG_DESCRIPTOR[8] = { 0x80, 6, 0, 2, 0, 0, 64, 0 };
    static const uint8_t CONFIG[34] = { 9, 2, 34, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 1, 3, 1, 1 };
    static const uint32_t sizes[] = { 5, 6, 53 };
    struct urg_hcd_config cfg;
    struct vmm v;
    struct sg g;
    struct urg_urb *u;
    const struct vmm_done *done;
    uint8_t got[64];
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.descriptor = hook_keep;
    vmm_init(&v, &cfg, ALL);
    vmm_plug_default(&v);
    sg_init(&g, sizes, 3);
    u = sg_urb(URG_EP_CONTROL, 0, 64, 0, &g);
    memcpy(u->setup, GET_CONFIG_DESCRIPTOR, 8);
    done = vmm_control_reply(&v, u, URG_STATUS_SUCCESS, CONFIG, 34);
    assert_int_equal(done->actual, 64);
    sg_gather(&g, got, 64);
    assert_memory_equal(got, CONFIG, 34);
    for (int i = 34; i < 64; i++)
        assert_int_equal(got[i], 0xee); /* what the segments held */
    vmm_urb_free(u);
    sg_free(&g);
    vmm_free(&v);
}

/* Interrupt IN packets of 8 bytes into segments of 3 and 5 (and 8 more),
 * interrupt OUT from segments, sent as they are and copied when they
 * complete at once. */
static void test_interrupt_across_segments(void **state)
{
    static const uint32_t sizes[] = { 3, 5, 8 };
    static const uint8_t pkt1[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, pkt2[4] = { 9, 10, 11, 12 };
    struct vmm v;
    struct sg g;
    struct urg_urb *u;
    uint8_t got[16];
    (void)state;
    vmm_init(&v, NULL, ALL);
    vmm_plug_default(&v);
    sg_init(&g, sizes, 3);
    u = sg_urb(URG_EP_INTERRUPT, 0x81, 16, 0, &g);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    th_stream_status(&v.h, URG_INTERRUPT_RECEIVING_STATUS, sent(&v, URG_START_INTERRUPT_RECEIVING)->id,
                     0x81, 0);
    /* A full packet completes the URB (the queue is then empty), written
     * across the first two segments; a short one goes to the next URB. */
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, pkt1, 8, 0);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_last(&v, u)->actual, 8);
    sg_gather(&g, got, 8);
    assert_memory_equal(got, pkt1, 8);
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, pkt2, 4, 0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 4);
    sg_gather(&g, got, 4);
    assert_memory_equal(got, pkt2, 4);
    assert_gaps(&g);
    vmm_urb_free(u);

    /* OUT: the host gets the bytes in order. */
    pattern(got, 16, 3);
    sg_scatter(&g, got, 16);
    u = sg_urb(URG_EP_INTERRUPT, 0x02, 7, 0, &g);
    th_clear(&v.h);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    assert_int_equal(sent(&v, URG_INTERRUPT_PACKET)->data_len, 7);
    assert_memory_equal(sent(&v, URG_INTERRUPT_PACKET)->data, got, 7);
    urg_hcd_dev_disconnect(v.dev, 0); /* unanswered: it ends (NODEV) */
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_NODEV);
    vmm_urb_free(u);
    vmm_free(&v);
    {
        struct urg_hcd_config cfg;
        urg_hcd_config_init(&cfg);
        cfg.interrupt_out_immediate = 1;
        vmm_init(&v, &cfg, ALL);
        vmm_plug_default(&v);
        u = sg_urb(URG_EP_INTERRUPT, 0x02, 16, 0, &g);
        assert_int_equal(urg_hcd_submit(v.dev, u), 1);
        memset(g.v[1].iov_base, 0, 5); /* the VMM has its pages back */
        vmm_sync(&v, 0);
        assert_memory_equal(sent(&v, URG_INTERRUPT_PACKET)->data, got, 16);
        vmm_urb_free(u);
        vmm_free(&v);
    }
    sg_free(&g);
}

/* Iso IN packets of 192 bytes into pages of 100, 300 and 368: packets
 * straddle the segments; iso OUT packets are sent from them the same way. */
static void test_iso_across_segments(void **state)
{
    static const uint32_t sizes[] = { 100, 300, 368 };
    struct vmm v;
    struct sg g;
    struct urg_urb *u;
    uint8_t pkt[192], got[768];
    const struct urg_packet *start;
    int i;
    (void)state;
    vmm_init(&v, NULL, ALL);
    vmm_plug_default(&v);
    sg_init(&g, sizes, 3);
    u = sg_urb(URG_EP_ISO, 0x85, 768, 4, &g);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    vmm_sync(&v, 0);
    start = sent(&v, URG_START_ISO_STREAM);
    th_stream_status(&v.h, URG_ISO_STREAM_STATUS, start->id, 0x85, 0);
    for (i = 0; i < 240; i++) {
        memset(pkt, i, sizeof(pkt));
        pkt[0] = 0xf0;
        th_stream_data(&v.h, URG_ISO_PACKET, 0x85, pkt, 192, 0);
    }
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 768);
    sg_gather(&g, got, 768);
    for (i = 0; i < 4; i++) {
        assert_int_equal(got[i * 192], 0xf0);
        assert_int_equal(got[i * 192 + 1], i);
        assert_int_equal(got[i * 192 + 191], i);
    }
    assert_gaps(&g);
    vmm_urb_free(u);

    pattern(got, 768, 11);
    sg_scatter(&g, got, 768);
    u = sg_urb(URG_EP_ISO, 0x06, 768, 4, &g);
    th_clear(&v.h);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 768);
    vmm_sync(&v, 0);
    assert_int_equal(th_count(&v.h, URG_ISO_PACKET), 4);
    {
        int k = 0;
        for (size_t j = 0; j < v.h.npkts; j++) {
            const struct th_packet *t = &v.h.pkts[j];
            if (t->p.type != URG_ISO_PACKET)
                continue;
            assert_int_equal(t->p.data_len, 192);
            assert_memory_equal(t->p.data, got + 192 * k, 192);
            k++;
        }
        assert_int_equal(k, 4);
    }
    vmm_urb_free(u);
    sg_free(&g);
    vmm_free(&v);
}

/* Buffered bulk receiving (a CP210x): chunks fill a URB's segments. */
static void test_buffered_bulk_across_segments(void **state)
{
    static const uint8_t ifs[1] = { 0xff };
    static const struct th_ep eps[2] = { { 0x81, URG_EP_BULK, 0, 0, 64, 0 },
                                         { 0x02, URG_EP_BULK, 0, 0, 64, 0 } };
    static const uint32_t sizes[] = { 10, 54, 64 };
    struct vmm v;
    struct sg g;
    struct urg_urb *u;
    uint8_t chunk[100], got[128];
    (void)state;
    vmm_init(&v, NULL, ALL);
    th_device_ex(&v.h, URG_SPEED_FULL, 0x10c4, 0xea60, 0, ifs, 1, eps, 2);
    vmm_sync(&v, 0);
    sg_init(&g, sizes, 3);
    u = sg_urb(URG_EP_BULK, 0x81, 128, 0, &g);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    th_stream_status(&v.h, URG_BULK_RECEIVING_STATUS, sent(&v, URG_START_BULK_RECEIVING)->id,
                     0x81, 0);
    pattern(chunk, 100, 1);
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, chunk, 100, 0);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_last(&v, u)->actual, 100);
    sg_gather(&g, got, 100);
    assert_memory_equal(got, chunk, 100);
    assert_gaps(&g);
    vmm_urb_free(u);
    sg_free(&g);
    vmm_free(&v);
}

/* The usbmon capture records the data gathered from the segments. */
static void test_usbmon_capture_of_segments(void **state)
{
    static const uint32_t sizes[] = { 7, 0, 4090, 5000 };
    char path[] = "/tmp/urg-sg-XXXXXX";
    struct urg_hcd_config cfg;
    struct vmm v;
    struct sg g;
    struct urg_urb *u;
    uint8_t want[9000], *file;
    long len;
    FILE *f;
    int fd = mkstemp(path);
    (void)state;
    assert_true(fd >= 0);
    close(fd);
    urg_hcd_config_init(&cfg);
    cfg.pcap_path = path;
    vmm_init(&v, &cfg, ALL);
    vmm_plug_default(&v);
    sg_init(&g, sizes, 4);
    pattern(want, sizeof(want), 77);
    sg_scatter(&g, want, sizeof(want));
    u = sg_urb(URG_EP_BULK, 0x04, 9000, 0, &g);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    vmm_free(&v);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    file = malloc((size_t)len);
    assert_int_equal(fread(file, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    /* The submission's record: its 9000 bytes follow its 64-byte header. */
    {
        const uint8_t *hit = memmem(file, (size_t)len, want, sizeof(want));
        assert_non_null(hit);
        assert_int_equal(hit[-64 + 8], 'S');
    }
    free(file);
    unlink(path);
    vmm_urb_free(u);
    sg_free(&g);
}

static void test_refused(void **state)
{
    static const uint32_t sizes[] = { 8, 8 };
    struct vmm v;
    struct sg g;
    struct urg_urb *u;
    uint8_t b[16];
    (void)state;
    vmm_init(&v, NULL, ALL);
    vmm_plug_default(&v);
    sg_init(&g, sizes, 2);
    u = sg_urb(URG_EP_BULK, 0x83, 17, 0, &g); /* segments too short */
    assert_int_equal(urg_hcd_submit(v.dev, u), URG_ERR_INVALID);
    u->length = 16;
    u->buffer = b; /* both */
    assert_int_equal(urg_hcd_submit(v.dev, u), URG_ERR_INVALID);
    u->buffer = NULL;
    u->iovcnt = URG_IOV_MAX + 1;
    assert_int_equal(urg_hcd_submit(v.dev, u), URG_ERR_INVALID);
    u->iovcnt = 2;
    g.v[0].iov_base = NULL;
    assert_int_equal(urg_hcd_submit(v.dev, u), URG_ERR_INVALID);
    g.v[0].iov_base = g.area + GAP;
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    urg_hcd_dev_disconnect(v.dev, 0);
    assert_int_equal(vmm_count(&v, u), 1);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_NODEV);
    vmm_free(&v);
    vmm_urb_free(u);
    sg_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_in_and_out),
        cmocka_unit_test(test_control_across_segments),
        cmocka_unit_test(test_descriptor_hook_bounce_keeps_urb_bytes),
        cmocka_unit_test(test_interrupt_across_segments),
        cmocka_unit_test(test_iso_across_segments),
        cmocka_unit_test(test_buffered_bulk_across_segments),
        cmocka_unit_test(test_usbmon_capture_of_segments),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_streams.c - stream endpoints through the model: interrupt IN
 * receiving, buffered bulk receiving (serial adapters), iso IN and OUT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm.h"

#define ALL URG_CAPS_ALL

static const struct urg_packet *sent(struct vmm *v, uint32_t type)
{
    const struct th_packet *t = th_find(&v->h, type);
    assert_non_null(t);
    return &t->p;
}

/* Starts interrupt receiving on 0x81 with a first URB; the host agrees. */
static struct urg_urb *start_interrupt(struct vmm *v, uint32_t len)
{
    struct urg_urb *u = vmm_urb(URG_EP_INTERRUPT, 0x81, len, 0);
    assert_int_equal(urg_hcd_submit(v->dev, u), 0);
    vmm_sync(v, 0);
    assert_int_equal(th_count(&v->h, URG_START_INTERRUPT_RECEIVING), 1);
    th_stream_status(&v->h, URG_INTERRUPT_RECEIVING_STATUS,
                     sent(v, URG_START_INTERRUPT_RECEIVING)->id, 0x81, URG_STATUS_SUCCESS);
    vmm_sync(v, 0);
    return u;
}

static void test_interrupt_receiving(void **state)
{
    struct vmm v;
    struct urg_urb *u, *big;
    (void)state;
    vmm_init(&v, NULL, ALL);
    vmm_plug_default(&v);
    u = start_interrupt(&v, 8);
    assert_int_equal(vmm_count(&v, u), 0); /* waits for data */
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "\0\0\x04\0\0\0\0\0", 8, 0);
    vmm_sync(&v, 3);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_SUCCESS);
    assert_int_equal(vmm_last(&v, u)->actual, 8);
    assert_int_equal(u->buffer[2], 4);
    /* Queued data serves the next URB at once. */
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "12345678", 8, 0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_memory_equal(u->buffer, "12345678", 8);
    /* A bigger URB merges packets up to a short one. */
    big = vmm_urb(URG_EP_INTERRUPT, 0x81, 64, 0);
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "aaaaaaaa", 8, 0);
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "bbbbbbbb", 8, 0);
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "ccc", 3, 0);
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "dddddddd", 8, 0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, big), 1);
    assert_int_equal(big->status, URG_URB_SHORT);
    assert_int_equal(big->actual_length, 19);
    assert_memory_equal(big->buffer, "aaaaaaaabbbbbbbbccc", 19);
    /* ...or up to a full buffer, or until the queue is empty. */
    assert_int_equal(urg_hcd_submit(v.dev, big), 1);
    assert_int_equal(big->actual_length, 8);
    assert_memory_equal(big->buffer, "dddddddd", 8);
    /* More than the URB holds: babble. (More than the endpoint's max
     * packet size never gets here: the engine refuses it.) */
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "12345678", 8, 0);
    vmm_sync(&v, 0);
    u->length = 4;
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_BABBLE);
    u->length = 8;
    /* Receiving was started exactly once. */
    assert_int_equal(th_count(&v.h, URG_START_INTERRUPT_RECEIVING), 1);
    vmm_free(&v);
    vmm_urb_free(u);
    vmm_urb_free(big);
}

static void test_interrupt_nak_mode(void **state)
{
    struct urg_hcd_config cfg;
    struct vmm v;
    struct urg_urb *u;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.interrupt_nak = 1;
    vmm_init(&v, &cfg, ALL);
    vmm_plug_default(&v);
    u = vmm_urb(URG_EP_INTERRUPT, 0x81, 8, 0);
    /* Polled: no data completes at once with NAK, receiving starts. */
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_NAK);
    vmm_sync(&v, 0);
    assert_int_equal(th_count(&v.h, URG_START_INTERRUPT_RECEIVING), 1);
    th_stream_status(&v.h, URG_INTERRUPT_RECEIVING_STATUS,
                     sent(&v, URG_START_INTERRUPT_RECEIVING)->id, 0x81, 0);
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "kbdrep00", 8, 0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_SUCCESS);
    assert_memory_equal(u->buffer, "kbdrep00", 8);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_NAK);
    assert_int_equal(v.ndone, 0); /* never a callback */
    vmm_free(&v);
    vmm_urb_free(u);
}

static void test_interrupt_stall_and_restart(void **state)
{
    struct vmm v;
    struct urg_urb *u;
    (void)state;
    vmm_init(&v, NULL, ALL);
    vmm_plug_default(&v);
    u = start_interrupt(&v, 8);
    /* The host stops the stream (stall): the waiting URB reports it. */
    th_stream_status(&v.h, URG_INTERRUPT_RECEIVING_STATUS, 0, 0x81, URG_STATUS_STALL);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_STALL);
    /* The next URB starts receiving again. */
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    assert_int_equal(th_count(&v.h, URG_START_INTERRUPT_RECEIVING), 2);
    th_stream_status(&v.h, URG_INTERRUPT_RECEIVING_STATUS,
                     sent(&v, URG_START_INTERRUPT_RECEIVING)->id, 0x81, 0);
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "again!!!", 8, 0);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_SUCCESS);
    /* A stall with no URB waiting goes to the next one submitted. */
    th_stream_status(&v.h, URG_INTERRUPT_RECEIVING_STATUS, 0, 0x81, URG_STATUS_STALL);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_STALL);
    /* A start the host refuses is reported the same way. */
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    th_stream_status(&v.h, URG_INTERRUPT_RECEIVING_STATUS,
                     sent(&v, URG_START_INTERRUPT_RECEIVING)->id, 0x81, URG_STATUS_INVAL);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_IOERROR);
    vmm_free(&v);
    vmm_urb_free(u);
}

static void test_interrupt_queue_overflow(void **state)
{
    struct urg_hcd_config cfg;
    struct urg_hcd_ep_stats st;
    struct vmm v;
    struct urg_urb *u;
    int i;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.interrupt_queue = 10;
    vmm_init(&v, &cfg, ALL);
    vmm_plug_default(&v);
    u = start_interrupt(&v, 8);
    assert_int_equal(urg_hcd_cancel(v.dev, u), 0); /* nobody reads */
    for (i = 0; i < 25; i++) {
        uint8_t b[8];
        memset(b, i, sizeof(b));
        th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, b, 8, 0);
    }
    vmm_sync(&v, 0);
    /* Packet 21 passed twice the target: back to 10 (11 dropped), then 4
     * more arrived. */
    assert_int_equal(urg_hcd_ep_stats(v.dev, 0x81, &st), 0);
    assert_int_equal(st.drops, 11);
    assert_int_equal(st.queued, 14);
    assert_int_equal(st.packets, 25);
    assert_int_equal(st.bytes, 200);
    /* The oldest went: the next URB gets packet 11. */
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->buffer[0], 11);
    vmm_free(&v);
    vmm_urb_free(u);
}

static void test_configuration_change_during_receiving(void **state)
{
    static const uint8_t SET_CONFIG1[8] = { 0x00, 9, 1, 0, 0, 0, 0, 0 };
    struct vmm v;
    struct urg_urb *u, *cfg;
    struct urg_packet p;
    (void)state;
    vmm_init(&v, NULL, ALL);
    vmm_plug_default(&v);
    u = start_interrupt(&v, 8);
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "stale!!!", 8, 0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0); /* waits */
    cfg = vmm_urb(URG_EP_CONTROL, 0, 0, 0);
    memcpy(cfg->setup, SET_CONFIG1, 8);
    th_clear(&v.h);
    assert_int_equal(urg_hcd_submit(v.dev, cfg), 0);
    vmm_sync(&v, 0);
    assert_int_equal(v.h.pkts[0].p.type, URG_STOP_INTERRUPT_RECEIVING);
    assert_int_equal(v.h.pkts[1].p.type, URG_SET_CONFIGURATION);
    /* A packet still in the pipe after the stop is not delivered. */
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "inpipe!!", 8, 0);
    /* Same endpoints in the new configuration. */
    memset(&p, 0, sizeof(p));
    p.type = URG_CONFIGURATION_STATUS;
    p.id = v.h.pkts[1].p.id;
    p.h.configuration_status.configuration = 1;
    th_emit(&v.h, &p);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_last(&v, cfg)->status, URG_URB_SUCCESS);
    assert_int_equal(vmm_count(&v, u), 1); /* only the first one */
    /* The waiting URB got a fresh stream; data after it reaches it. */
    assert_int_equal(th_count(&v.h, URG_START_INTERRUPT_RECEIVING), 1);
    th_stream_status(&v.h, URG_INTERRUPT_RECEIVING_STATUS,
                     sent(&v, URG_START_INTERRUPT_RECEIVING)->id, 0x81, 0);
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "freshrep", 8, 0);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_count(&v, u), 2);
    assert_memory_equal(u->buffer, "freshrep", 8);
    vmm_free(&v);
    vmm_urb_free(u);
    vmm_urb_free(cfg);
}

/* The host's ep_info of the device as it is, with endpoint ep's bInterval
 * changed (as after a SET_INTERFACE the host applied itself). */
static void emit_ep_info_new_interval(struct vmm *v, uint8_t ep, uint8_t interval)
{
    const struct urg_device *dev = urg_session_device(v->s);
    struct urg_packet p;
    int i;
    assert_non_null(dev);
    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    for (i = 0; i < 32; i++) {
        p.h.ep_info.type[i] = dev->ep[i].type;
        p.h.ep_info.interval[i] = dev->ep[i].interval;
        p.h.ep_info.interface[i] = dev->ep[i].interface;
        p.h.ep_info.max_packet_size[i] = dev->ep[i].max_packet_size;
        p.h.ep_info.max_streams[i] = dev->ep[i].max_streams;
    }
    p.h.ep_info.interval[urg_ep_index(ep)] = interval;
    th_emit(&v->h, &p);
}

/* A stream's start still unanswered when the host drops the stream (an
 * ep_info that changes the endpoint): the start is let go of; the URB,
 * cancelled and submitted again, starts a new stream; the old start's
 * answer (a stall) then reaches nothing, and the URB gets the new stream's
 * data. */
static void test_start_answered_after_the_endpoint_changed(void **state)
{
    struct vmm v;
    struct urg_urb *u;
    uint64_t old_start;
    (void)state;
    vmm_init(&v, NULL, ALL);
    vmm_plug_default(&v);
    u = vmm_urb(URG_EP_INTERRUPT, 0x81, 8, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    old_start = sent(&v, URG_START_INTERRUPT_RECEIVING)->id;
    emit_ep_info_new_interval(&v, 0x81, 8);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_cancel(v.dev, u), 0);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_CANCELLED);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    assert_int_equal(th_count(&v.h, URG_START_INTERRUPT_RECEIVING), 2);
    assert_true(sent(&v, URG_START_INTERRUPT_RECEIVING)->id != old_start);
    th_stream_status(&v.h, URG_INTERRUPT_RECEIVING_STATUS, old_start, 0x81, URG_STATUS_STALL);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_count(&v, u), 1); /* the stall reached no URB */
    th_stream_status(&v.h, URG_INTERRUPT_RECEIVING_STATUS,
                     sent(&v, URG_START_INTERRUPT_RECEIVING)->id, 0x81, URG_STATUS_SUCCESS);
    th_stream_data(&v.h, URG_INTERRUPT_PACKET, 0x81, "newdata!", 8, 0);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_count(&v, u), 2);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_SUCCESS);
    assert_memory_equal(u->buffer, "newdata!", 8);
    vmm_free(&v);
    vmm_urb_free(u);
}

/* An FTDI-like serial adapter: bulk IN 0x81 and OUT 0x02, max packet 64. */
static void plug_serial(struct vmm *v, uint16_t vid, uint16_t pid)
{
    static const uint8_t ifs[1] = { 0xff };
    static const struct th_ep eps[2] = { { 0x81, URG_EP_BULK, 0, 0, 64, 0 },
                                         { 0x02, URG_EP_BULK, 0, 0, 64, 0 } };
    th_device_ex(&v->h, URG_SPEED_FULL, vid, pid, 0, ifs, 1, eps, 2);
    vmm_sync(v, 0);
}

static void test_buffered_bulk_ftdi(void **state)
{
    struct vmm v;
    struct urg_urb *u;
    uint8_t chunk[130];
    const struct urg_packet *start;
    int i;
    (void)state;
    for (i = 0; i < 130; i++)
        chunk[i] = (uint8_t)i;
    chunk[0] = chunk[64] = chunk[128] = 0x01; /* FTDI status headers */
    chunk[1] = chunk[65] = chunk[129] = 0x60;
    vmm_init(&v, NULL, ALL);
    plug_serial(&v, 0x0403, 0x6001);
    u = vmm_urb(URG_EP_BULK, 0x81, 128, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    start = sent(&v, URG_START_BULK_RECEIVING);
    assert_int_equal(start->h.start_bulk_receiving.endpoint, 0x81);
    assert_int_equal(start->h.start_bulk_receiving.bytes_per_transfer, 512);
    assert_int_equal(start->h.start_bulk_receiving.no_transfers, 5);
    assert_int_equal(th_count(&v.h, URG_BULK_PACKET), 0);
    th_stream_status(&v.h, URG_BULK_RECEIVING_STATUS, start->id, 0x81, 0);
    /* One chunk of 130 bytes: blocks of 64, 64 and 2 (a header only). */
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, chunk, 130, 0);
    vmm_sync(&v, 0);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_SUCCESS);
    assert_int_equal(vmm_last(&v, u)->actual, 128);
    assert_memory_equal(u->buffer, chunk, 128);
    /* The rest: the third block, starting with its header. */
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_SHORT);
    assert_int_equal(u->actual_length, 2);
    assert_int_equal(u->buffer[0], 0x01);
    assert_int_equal(u->buffer[1], 0x60);
    /* A URB smaller than a chunk never splits a block: 64 of 130. */
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, chunk, 130, 0);
    vmm_sync(&v, 0);
    u->length = 64;
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 64);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->buffer[0], 0x01); /* the next block's header */
    assert_int_equal(u->buffer[2], 66);
    vmm_free(&v);
    vmm_urb_free(u);
}

static void test_buffered_bulk_raw_and_fallback(void **state)
{
    struct urg_hcd_config cfg;
    struct vmm v;
    struct urg_urb *u, *odd;
    struct urg_hcd_ep_stats st;
    int i;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.buffered_bulk_queue = 4;
    vmm_init(&v, &cfg, ALL);
    plug_serial(&v, 0x10c4, 0xea60); /* CP210x: raw data */
    u = vmm_urb(URG_EP_BULK, 0x81, 64, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    th_stream_status(&v.h, URG_BULK_RECEIVING_STATUS, sent(&v, URG_START_BULK_RECEIVING)->id, 0x81,
                     0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_cancel(v.dev, u), 0);
    /* Raw serial data merges across chunks. */
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, "hello ", 6, 0);
    th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, "world", 5, 0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 11);
    assert_memory_equal(u->buffer, "hello world", 11);
    /* The queue is bounded: 9 chunks into a queue of 4. */
    for (i = 0; i < 9; i++)
        th_stream_data(&v.h, URG_BUFFERED_BULK_PACKET, 0x81, "x", 1, 0);
    vmm_sync(&v, 0);
    urg_hcd_ep_stats(v.dev, 0x81, &st);
    assert_int_equal(st.drops, 5);
    assert_int_equal(st.queued, 4);
    /* A request that is not a multiple of max packet: buffered receiving
     * stops and it goes as ordinary bulk. */
    odd = vmm_urb(URG_EP_BULK, 0x81, 10, 0);
    th_clear(&v.h);
    assert_int_equal(urg_hcd_submit(v.dev, odd), 0);
    vmm_sync(&v, 0);
    assert_int_equal(v.h.pkts[0].p.type, URG_STOP_BULK_RECEIVING);
    assert_int_equal(v.h.pkts[1].p.type, URG_BULK_PACKET);
    assert_int_equal(v.h.pkts[1].p.h.bulk.length, 10);
    /* ...and so does a 64-byte one now. */
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    assert_int_equal(th_count(&v.h, URG_BULK_PACKET), 2);
    assert_int_equal(th_count(&v.h, URG_START_BULK_RECEIVING), 0);
    vmm_free(&v);
    vmm_urb_free(u);
    vmm_urb_free(odd);

    /* An odd size that is then refused (over 65535 bytes without
     * 32bits_bulk_length): buffered receiving is off all the same, and the
     * URB that waited for its data completes now (cancelled), once. */
    vmm_init(&v, &cfg, ALL & ~URG_CAP_BIT(URG_CAP_32BITS_BULK_LENGTH));
    plug_serial(&v, 0x10c4, 0xea60);
    u = vmm_urb(URG_EP_BULK, 0x81, 64, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    odd = vmm_urb(URG_EP_BULK, 0x81, 70001, 0);
    assert_int_equal(urg_hcd_submit(v.dev, odd), URG_ERR_TOO_LONG);
    assert_int_equal(vmm_count(&v, u), 1);
    assert_int_equal(vmm_last(&v, u)->status, URG_URB_CANCELLED);
    assert_int_equal(vmm_count(&v, odd), 0);
    vmm_sync(&v, 0);
    assert_int_equal(th_count(&v.h, URG_STOP_BULK_RECEIVING), 1);
    assert_int_equal(vmm_count(&v, u), 1);
    vmm_free(&v);
    vmm_urb_free(u);
    vmm_urb_free(odd);

    /* Not a serial adapter: ordinary bulk, unless the VMM opts in; its
     * transfer size (rounded up to max packet) and count are options. */
    urg_hcd_config_init(&cfg);
    cfg.buffered_bulk_bytes = 100;
    cfg.buffered_bulk_transfers = 3;
    vmm_init(&v, &cfg, ALL);
    plug_serial(&v, 0x1234, 0x0001);
    u = vmm_urb(URG_EP_BULK, 0x81, 64, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    assert_int_equal(th_count(&v.h, URG_BULK_PACKET), 1);
    assert_int_equal(urg_hcd_cancel(v.dev, u), 0);
    assert_int_equal(urg_hcd_ep_set_buffered(v.dev, 0x81, 1), 0);
    assert_int_equal(urg_hcd_ep_set_buffered(v.dev, 0x02, 1), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    assert_int_equal(th_count(&v.h, URG_START_BULK_RECEIVING), 1);
    assert_int_equal(sent(&v, URG_START_BULK_RECEIVING)->h.start_bulk_receiving.bytes_per_transfer,
                     128);
    assert_int_equal(sent(&v, URG_START_BULK_RECEIVING)->h.start_bulk_receiving.no_transfers, 3);
    vmm_free(&v);
    vmm_urb_free(u);

    /* Without the bulk_receiving cap: ordinary bulk even for serial. */
    vmm_init(&v, NULL, ALL & ~URG_CAP_BIT(URG_CAP_BULK_RECEIVING));
    plug_serial(&v, 0x0403, 0x6001);
    u = vmm_urb(URG_EP_BULK, 0x81, 64, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 0);
    vmm_sync(&v, 0);
    assert_int_equal(th_count(&v.h, URG_BULK_PACKET), 1);
    vmm_free(&v);
    vmm_urb_free(u);
}

static void test_iso_sizing(void **state)
{
    static const struct {
        int speed;
        uint8_t interval;
        uint32_t latency;
        int in;
        int ok;
        uint8_t pkts, urbs;
    } t[] = {
        /* full speed: 1000 frames/s; bInterval 1 -> every frame */
        { URG_SPEED_FULL, 1, 60, 1, 1, 10, 6 },
        /* full speed, bInterval 4 -> every 8 frames: 125 packets/s */
        { URG_SPEED_FULL, 4, 60, 1, 1, 1, 8 },
        /* high speed: 8000 microframes/s; bInterval 1 -> 8000/s */
        { URG_SPEED_HIGH, 1, 60, 1, 1, 32, 15 },
        /* high speed, bInterval 4 -> every 8 microframes: 1000/s
         * (a linear reading of bInterval, as QEMU's, would say 2000/s) */
        { URG_SPEED_HIGH, 4, 60, 1, 1, 10, 6 },
        { URG_SPEED_SUPER, 4, 60, 1, 1, 10, 6 },
        /* OUT keeps twice the transfers, at most 16 */
        { URG_SPEED_HIGH, 4, 60, 0, 1, 10, 12 },
        { URG_SPEED_HIGH, 1, 60, 0, 1, 32, 16 },
        /* a longer latency target */
        { URG_SPEED_HIGH, 4, 120, 1, 1, 10, 12 },
        /* past 16 transfers of 10 ms the transfers grow (at most 32
         * packets): 120 ms OUT at full speed is 240 packets, 16 x 15 */
        { URG_SPEED_FULL, 1, 120, 0, 1, 15, 16 },
        { URG_SPEED_FULL, 1, 200, 1, 1, 13, 16 },
        { URG_SPEED_FULL, 1, 250, 0, 1, 32, 16 },
        { URG_SPEED_HIGH, 1, 1000, 1, 1, 32, 16 },
        /* bInterval 16 at full speed: one packet every 32768 frames */
        { URG_SPEED_FULL, 16, 60, 1, 1, 1, 1 },
        /* no iso at low speed; bInterval outside 1..16 */
        { URG_SPEED_LOW, 1, 60, 1, 0, 0, 0 },
        { URG_SPEED_HIGH, 0, 60, 1, 0, 0, 0 },
        { URG_SPEED_HIGH, 17, 60, 1, 0, 0, 0 },
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint8_t p = 0, u = 0;
        int r = urg_hcd_iso_sizing(t[i].speed, t[i].interval, t[i].latency, t[i].in, &p, &u);
        if (!t[i].ok) {
            assert_int_equal(r, URG_ERR_INVALID);
            continue;
        }
        assert_int_equal(r, 0);
        if (p != t[i].pkts || u != t[i].urbs)
            fail_msg("case %zu: %u x %u, want %u x %u", i, p, u, t[i].pkts, t[i].urbs);
    }
}

static void test_iso_in_prefill_and_underrun(void **state)
{
    struct vmm v;
    struct urg_urb *u;
    struct urg_hcd_ep_stats st;
    const struct urg_packet *start;
    uint8_t pkt[192];
    int i;
    (void)state;
    vmm_init(&v, NULL, ALL);
    vmm_plug_default(&v); /* iso IN 0x85, high speed, bInterval 1 */
    u = vmm_urb(URG_EP_ISO, 0x85, 192 * 8, 8);
    /* Iso URBs never wait; the first starts the stream. */
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 0);
    vmm_sync(&v, 0);
    start = sent(&v, URG_START_ISO_STREAM);
    assert_int_equal(start->h.start_iso_stream.pkts_per_urb, 32);
    assert_int_equal(start->h.start_iso_stream.no_urbs, 15);
    th_stream_status(&v.h, URG_ISO_STREAM_STATUS, start->id, 0x85, 0);
    /* Pre-fill: nothing until half of 32 x 15 = 240 packets are queued. */
    for (i = 0; i < 239; i++) {
        memset(pkt, i, sizeof(pkt));
        th_stream_data(&v.h, URG_ISO_PACKET, 0x85, pkt, 192, 0);
    }
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 0);
    th_stream_data(&v.h, URG_ISO_PACKET, 0x85, pkt, 100, 0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 8 * 192);
    assert_int_equal(u->iso[0].actual_length, 192);
    assert_int_equal(u->buffer[0], 0);
    assert_int_equal(u->buffer[192 * 7], 7);
    /* Take the queue down to its last 8 packets (the short one last). */
    for (i = 0; i < 28; i++)
        assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    urg_hcd_ep_stats(v.dev, 0x85, &st);
    assert_int_equal(st.queued, 8);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 7 * 192 + 100);
    assert_int_equal(u->iso[7].actual_length, 100);
    urg_hcd_ep_stats(v.dev, 0x85, &st);
    assert_int_equal(st.underruns, 0);
    /* The queue is empty: the next URB underruns. */
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 0);
    assert_int_equal(u->iso[0].actual_length, 0);
    urg_hcd_ep_stats(v.dev, 0x85, &st);
    assert_int_equal(st.underruns, 1);
    assert_int_equal(st.packets, 240);
    assert_int_equal(st.bytes, 239 * 192 + 100);
    /* ...and pre-fills again. */
    th_stream_data(&v.h, URG_ISO_PACKET, 0x85, pkt, 192, 0);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->actual_length, 0);
    /* A stall stops the stream; the next URB says so, the one after
     * restarts it. */
    th_stream_status(&v.h, URG_ISO_STREAM_STATUS, 0, 0x85, URG_STATUS_STALL);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_STALL);
    th_clear(&v.h);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    vmm_sync(&v, 0);
    assert_int_equal(th_count(&v.h, URG_START_ISO_STREAM), 1);
    vmm_free(&v);
    vmm_urb_free(u);
}

static void test_iso_out(void **state)
{
    struct vmm v;
    struct urg_urb *u;
    const struct urg_packet *start;
    (void)state;
    vmm_init(&v, NULL, ALL);
    vmm_plug_default(&v); /* iso OUT 0x06 */
    u = vmm_urb(URG_EP_ISO, 0x06, 192 * 4, 4);
    memset(u->buffer, 0x33, 192 * 4);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_SUCCESS);
    assert_int_equal(u->actual_length, 192 * 4);
    vmm_sync(&v, 0);
    start = sent(&v, URG_START_ISO_STREAM);
    assert_int_equal(start->h.start_iso_stream.no_urbs, 16); /* 15 doubled, capped */
    assert_int_equal(th_count(&v.h, URG_ISO_PACKET), 4);
    assert_int_equal(sent(&v, URG_ISO_PACKET)->data_len, 192);
    th_stream_status(&v.h, URG_ISO_STREAM_STATUS, start->id, 0x06, 0);
    /* The host reports trouble: the next URB completes with it, once. */
    th_stream_status(&v.h, URG_ISO_STREAM_STATUS, 0, 0x06, URG_STATUS_IOERROR);
    vmm_sync(&v, 0);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_IOERROR);
    assert_int_equal(urg_hcd_submit(v.dev, u), 1);
    assert_int_equal(u->status, URG_URB_SUCCESS);
    vmm_free(&v);
    vmm_urb_free(u);
}

/* The frame clock of an iso endpoint (urg_hcd_iso_frames()): URBs take
 * one period per packet back to back, a gap starts again at now, the
 * period follows the speed and bInterval, a reset starts afresh. */
static void test_iso_frame_clock(void **state)
{
    static const uint8_t ifs[1] = { 1 };
    static const struct th_ep eps[3] = { { 0x81, URG_EP_ISO, 1, 0, 192, 0 },
                                         { 0x82, URG_EP_ISO, 4, 0, 192, 0 },
                                         { 0x03, URG_EP_BULK, 0, 0, 64, 0 } };
    double start, end;
    uint32_t frame;
    struct vmm v;
    (void)state;
    vmm_init(&v, NULL, ALL);
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x81, 8, 10.0, &start, &end, &frame),
                     URG_ERR_NO_DEVICE);
    th_device_ex(&v.h, URG_SPEED_FULL, 0x1234, 1, 0, ifs, 1, eps, 3);
    vmm_sync(&v, 0);
    assert_int_equal(v.attached, 1);
    /* Full speed, bInterval 1: 1 ms a packet. */
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x81, 8, 10.0, &start, &end, &frame), 0);
    assert_true(start == 10.0);
    assert_true(end > 10.008 - 1e-9 && end < 10.008 + 1e-9);
    assert_int_equal(frame, 10000 & 0x7ff);
    /* The next URB follows on, however early it comes. */
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x81, 8, 10.001, &start, &end, NULL), 0);
    assert_true(start > 10.008 - 1e-9 && start < 10.008 + 1e-9);
    assert_true(end > 10.016 - 1e-9 && end < 10.016 + 1e-9);
    /* After a gap: from now. bInterval 4 at full speed: 8 ms a packet. */
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x81, 2, 11.0, &start, &end, &frame), 0);
    assert_true(start == 11.0 && end > 11.002 - 1e-9 && end < 11.002 + 1e-9);
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x82, 2, 11.0, &start, &end, NULL), 0);
    assert_true(end > 11.016 - 1e-9 && end < 11.016 + 1e-9);
    /* A reset of the endpoint starts its clock afresh. */
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x81, 1000, 12.0, &start, &end, NULL), 0);
    assert_int_equal(urg_hcd_ep_reset(v.dev, 0x81), 0);
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x81, 1, 12.5, &start, &end, NULL), 0);
    assert_true(start == 12.5);
    /* Not an iso endpoint, no packets, no outputs. */
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x03, 1, 12.5, &start, &end, NULL),
                     URG_ERR_HCD_ENDPOINT);
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x84, 1, 12.5, &start, &end, NULL),
                     URG_ERR_HCD_ENDPOINT);
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x81, 0, 12.5, &start, &end, NULL),
                     URG_ERR_INVALID);
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x81, 1, 12.5, NULL, &end, NULL), URG_ERR_INVALID);
    assert_int_equal(urg_hcd_iso_frames(NULL, 0x81, 1, 12.5, &start, &end, NULL), URG_ERR_INVALID);
    vmm_free(&v);
    /* High speed, bInterval 1 and 4: 125 us and 1 ms a packet. */
    vmm_init(&v, NULL, ALL);
    th_device_ex(&v.h, URG_SPEED_HIGH, 0x1234, 1, 0, ifs, 1, eps, 3);
    vmm_sync(&v, 0);
    assert_int_equal(v.info.speed, URG_SPEED_HIGH);
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x81, 8, 20.0, &start, &end, NULL), 0);
    assert_true(end > 20.001 - 1e-9 && end < 20.001 + 1e-9);
    assert_int_equal(urg_hcd_iso_frames(v.dev, 0x82, 8, 20.0, &start, &end, NULL), 0);
    assert_true(end > 20.008 - 1e-9 && end < 20.008 + 1e-9);
    vmm_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interrupt_receiving),
        cmocka_unit_test(test_interrupt_nak_mode),
        cmocka_unit_test(test_interrupt_stall_and_restart),
        cmocka_unit_test(test_interrupt_queue_overflow),
        cmocka_unit_test(test_configuration_change_during_receiving),
        cmocka_unit_test(test_start_answered_after_the_endpoint_changed),
        cmocka_unit_test(test_buffered_bulk_ftdi),
        cmocka_unit_test(test_buffered_bulk_raw_and_fallback),
        cmocka_unit_test(test_iso_sizing),
        cmocka_unit_test(test_iso_in_prefill_and_underrun),
        cmocka_unit_test(test_iso_out),
        cmocka_unit_test(test_iso_frame_clock),
    };
    return cmocka_run_group_tests_name("hcd streams", tests, NULL, NULL);
}

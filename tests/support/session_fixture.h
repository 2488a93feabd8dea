/*
 * session_fixture.h - what several of the engine session's tests
 * (tests/guest/test_session_*.c) share: caps sets, two control setups, the
 * last packet of a type the scripted host saw, a request of every kind
 * pending at once, stream starts and statuses, plug/unplug packets.
 *
 * Header-only on purpose: the helpers assert with cmocka, and
 * the .c files of tests/support are linked into programs without cmocka
 * too (the benchmarks), so they are static inline here, not in a .c.
 */
#ifndef URG_SESSION_FIXTURE_H
#define URG_SESSION_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testhost.h"

#define ALL URG_CAPS_ALL
#define NO64 (URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_64BITS_IDS))

static const uint8_t GET_DEVICE_DESCRIPTOR[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
static const uint8_t SET_FEATURE_OUT4[8] = { 0x21, 9, 0, 2, 0, 0, 4, 0 };

/* The last packet of type the host decoded (the test fails without one). */
static inline const struct urg_packet *last(struct testhost *h, uint32_t type)
{
    const struct th_packet *t = th_find(h, type);
    assert_non_null(t);
    return &t->p;
}

/* Sends one request of every kind a device answers (OUT ones from out, 512
 * bytes) and stores their ids in ids; returns how many. */
static inline uint64_t pend_everything(urg_session *s, uint64_t *ids, uint8_t *out)
{
    int n = 0;
    assert_int_equal(urg_session_control(s, 0, GET_DEVICE_DESCRIPTOR, NULL, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_control(s, 0, SET_FEATURE_OUT4, out, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 512, NULL, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 512, out, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_bulk(s, 0x82, 2, 512, NULL, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_interrupt_out(s, 0x04, 8, out, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_set_configuration(s, 1, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_set_alt_setting(s, 1, 1, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_get_alt_setting(s, 1, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_start_interrupt_receiving(s, 0x81, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_start_iso_stream(s, 0x83, 8, 4, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_start_bulk_receiving(s, 0x82, 0, 512, 4, NULL, &ids[n++]), 0);
    assert_int_equal(urg_session_alloc_bulk_streams(s, 1u << 18, 4, NULL, &ids[n++]), 0);
    return (uint64_t)n;
}

/* A stream status from the host: the testhost's th_stream_status(). */
static inline void emit_status(struct testhost *h, uint32_t type, uint64_t id, uint8_t ep,
                               uint8_t status)
{
    th_stream_status(h, type, id, ep, status);
}

/* Starts stream kind k (0 interrupt, 1 iso, 2 bulk receiving) on ep. */
static inline uint64_t start_stream(urg_session *s, int k, uint8_t ep)
{
    uint64_t id = 0;
    switch (k) {
    case 0: assert_int_equal(urg_session_start_interrupt_receiving(s, ep, NULL, &id), 0); break;
    case 1: assert_int_equal(urg_session_start_iso_stream(s, ep, 8, 4, NULL, &id), 0); break;
    default: assert_int_equal(urg_session_start_bulk_receiving(s, ep, 0, 512, 4, NULL, &id), 0);
    }
    return id;
}

/* A device_connect (of speed) and a device_disconnect, for floods. */
static inline void plug_packets(struct urg_packet *c, struct urg_packet *d, uint8_t speed)
{
    memset(c, 0, sizeof(*c));
    c->type = URG_DEVICE_CONNECT;
    c->h.device_connect.speed = speed;
    memset(d, 0, sizeof(*d));
    d->type = URG_DEVICE_DISCONNECT;
}

#endif

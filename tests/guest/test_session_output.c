/*
 * test_session_output.c - the engine session's output queue against the
 * scripted test host (guest/outq.c, and guest/dispatch.c for answers):
 * iovecs and partial consumes, an OUT payload detached when its reply comes
 * early, the bound on queued output, and the bound on answers a host that
 * does not read can make the guest queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packets.h"
#include "session_fixture.h"
#include "testhost.h"

/* ---------------------------------------------------------------- output */

/* A hostile host answers an OUT request before the guest finished writing
 * it: the completion must not leave the queue pointing at the buffer. */
static void test_early_reply_detaches_out_payload(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t *out = malloc(1000);
    uint64_t id;
    struct urg_packet p;
    (void)state;
    memset(out, 0x77, 1000);
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 1000, out, NULL, &id), 0);
    assert_int_equal(urg_session_consume(s, 10), 0); /* part of the header */
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = id;
    p.h.bulk.endpoint = 0x02;
    p.h.bulk.length = 1000;
    th_emit(&h, &p);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(rec_count(&r, id), 1);
    free(out); /* the caller may free it now */
    {
        struct iovec iov[8];
        int n = urg_session_output(s, iov, 8), k;
        size_t total = 0;
        for (k = 0; k < n; k++) {
            total += iov[k].iov_len;
            if (iov[k].iov_len == 1000)
                assert_int_equal(((uint8_t *)iov[k].iov_base)[999], 0x77);
        }
        assert_int_equal(total, 16 + 10 + 1000 - 10);
        assert_int_equal(urg_session_consume(s, total), 0);
    }
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

static void test_output_iovecs_and_backpressure(void **state)
{
    struct urg_session_config cfg;
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint8_t out[800];
    struct iovec iov[8];
    uint64_t id;
    int n;
    (void)state;
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    /* Small packets merge into one iovec; a bulk OUT payload is the
     * caller's own buffer. */
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), 0);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, sizeof(out), out, NULL, &id), 0);
    n = urg_session_output(s, iov, 8);
    assert_int_equal(n, 2);
    assert_int_equal(iov[0].iov_len, 16 + 16 + 26);
    assert_ptr_equal(iov[1].iov_base, out);
    assert_int_equal(iov[1].iov_len, sizeof(out));
    assert_int_equal(urg_session_output_pending(s), 58 + 800);
    assert_int_equal(urg_session_consume(s, 60), 0);
    n = urg_session_output(s, iov, 8);
    assert_int_equal(n, 1);
    assert_ptr_equal(iov[0].iov_base, out + 2);
    assert_int_equal(urg_session_output(s, iov, 0), 0);
    assert_int_equal(urg_session_consume(s, 799), URG_ERR_INVALID);
    assert_int_equal(urg_session_consume(s, 798), 0);
    assert_int_equal(urg_session_output_pending(s), 0);
    assert_int_equal(urg_session_output(s, iov, 8), 0);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    /* A bound on queued output. */
    rec_init(&r);
    urg_session_config_init(&cfg);
    cfg.max_output_bytes = 1000;
    s = connected_session_cfg(&r, &h, &cfg, ALL);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 600, out, NULL, &id), 0);      /* 626 */
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 800, out, NULL, &id), URG_ERR_AGAIN);
    assert_int_equal(urg_session_iso_out(s, 0x03, 192, out), 0);                  /* 838 */
    assert_int_equal(urg_session_iso_out(s, 0x03, 192, out), URG_ERR_AGAIN);      /* 1050 */
    assert_int_equal(urg_session_output_pending(s), 838);
    /* One-way packets the application sends are bounded as requests are;
     * a cancel never is (one per pending request at most). */
    assert_int_equal(urg_session_reset(s), 0);                                   /* 854 */
    assert_int_equal(urg_session_bulk(s, 0x82, 0, 512, NULL, NULL, &id), 0);     /* 880 */
    assert_int_equal(urg_session_iso_out(s, 0x03, 101, out), URG_ERR_AGAIN);     /* 1001 */
    assert_int_equal(urg_session_iso_out(s, 0x03, 100, out), 0);                  /* 1000 */
    assert_int_equal(urg_session_reset(s), URG_ERR_AGAIN);
    assert_int_equal(urg_session_send_filter(s, "-1,-1,-1,-1,1"), URG_ERR_AGAIN);
    assert_int_equal(urg_session_cancel(s, id), 0);
    assert_int_equal(urg_session_output_pending(s), 1000 + 16);
    th_pump(&h, s);
    assert_int_equal(th_count(&h, URG_CANCEL_DATA_PACKET), 1);
    assert_int_equal(th_count(&h, URG_RESET), 1);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, 800, out, NULL, &id), 0);
    /* A single request bigger than the bound goes when the queue is empty. */
    th_pump(&h, s);
    {
        static uint8_t big[5000];
        assert_int_equal(urg_session_bulk(s, 0x02, 0, sizeof(big), big, NULL, &id), 0);
    }
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* ---------------------------------------------------------------- answers */

/* A host that reads nothing and keeps sending packets the guest must
 * answer cannot grow the output queue past its bound. */
static void test_answers_bounded(void **state)
{
    struct urg_session_config cfg;
    struct urg_packet c, d;
    struct rec r;
    struct testhost h;
    urg_session *s;
    size_t most = 0;
    int i, policy, rc = 0;
    (void)state;
    plug_packets(&c, &d, URG_SPEED_FULL);
    for (policy = URG_POLICY_FAIL; policy <= URG_POLICY_SKIP; policy++) {
        rec_init(&r);
        urg_session_config_init(&cfg);
        rec_callbacks(&cfg.callbacks);
        cfg.user_data = &r;
        cfg.policy = (enum urg_error_policy)policy;
        cfg.max_output_bytes = 4096;
        /* Every device is refused: each connect costs a filter_reject and
         * each disconnect an ack. */
        cfg.filter = "-1,-1,-1,-1,0";
        assert_int_equal(urg_session_new(&cfg, &s), 0);
        th_init(&h, ALL);
        th_pump(&h, s); /* the host takes our hello, then never reads again */
        th_hello(&h);
        assert_int_equal(th_flush(&h, s, 0), 0);
        for (i = 0; i < 20000 && rc == 0; i++) {
            th_emit(&h, &c);
            th_emit(&h, &d);
            rc = th_flush(&h, s, 0);
            if (urg_session_output_pending(s) > most)
                most = urg_session_output_pending(s);
        }
        /* Answers wait unread up to 64 KiB (the queue holds nothing else). */
        assert_true(most <= 64 * 1024);
        assert_true(most > 60 * 1024); /* it did fill up */
        if (policy == URG_POLICY_FAIL) {
            const char *msg;
            assert_int_equal(rc, URG_ERR_PROTO_FLOOD);
            assert_int_equal(urg_session_error(s, &msg), URG_ERR_PROTO_FLOOD);
            assert_non_null(strstr(msg, "reads none"));
            assert_int_equal(r.fatal, 1);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(i, 20000);
            assert_true(r.errors > 1000);
            assert_int_equal(r.fatal, 0);
        }
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
        rc = 0;
        most = 0;
    }
}

/* The answer bound counts what the host has not read, not the queue: a
 * request bigger than max_output_bytes (taken into an empty queue) does
 * not make the host's legitimate device_disconnect a flood, and a host that
 * reads gets its answers whatever else waits. */
static void test_answers_counted_from_what_the_host_read(void **state)
{
    static uint8_t big[256 * 1024];
    struct urg_session_config cfg;
    struct urg_packet c, d;
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint64_t id;
    int i;
    (void)state;
    plug_packets(&c, &d, URG_SPEED_HIGH);
    rec_init(&r);
    urg_session_config_init(&cfg);
    cfg.max_output_bytes = 4096;
    s = connected_session_cfg(&r, &h, &cfg, ALL);
    assert_int_equal(urg_session_bulk(s, 0x02, 0, sizeof(big), big, NULL, &id), 0);
    assert_true(urg_session_output_pending(s) > sizeof(big));
    th_emit(&h, &d);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(urg_session_state(s), URG_STATE_READY); /* acked, not a flood */
    /* 64 KiB of acks unread is the most; the host reading a little makes
     * room for as much again. */
    for (i = 0; i < 64 * 1024 / 16 - 1; i++) { /* with the first: 64 KiB of acks */
        th_emit(&h, &c);
        th_emit(&h, &d);
    }
    assert_int_equal(th_flush(&h, s, 0), 0);
    th_emit(&h, &c);
    th_emit(&h, &d);
    assert_int_equal(th_flush(&h, s, 0), URG_ERR_PROTO_FLOOD);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    rec_init(&r);
    s = connected_session_cfg(&r, &h, &cfg, ALL);
    th_pump(&h, s);
    for (i = 0; i < 3 * 64 * 1024 / 16; i++) {
        th_emit(&h, &d);
        th_emit(&h, &c);
        assert_int_equal(th_flush(&h, s, 0), 0);
        assert_int_equal(urg_session_consume(s, 16), 0); /* the host reads each ack */
    }
    assert_int_equal(urg_session_state(s), URG_STATE_CONNECTED);
    assert_int_equal(urg_session_output_pending(s), 0);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_early_reply_detaches_out_payload),
        cmocka_unit_test(test_output_iovecs_and_backpressure),
        cmocka_unit_test(test_answers_bounded),
        cmocka_unit_test(test_answers_counted_from_what_the_host_read),
    };
    return cmocka_run_group_tests_name("session_output", tests, NULL, NULL);
}

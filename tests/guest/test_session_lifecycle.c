/*
 * test_session_lifecycle.c - the engine session's life against the scripted
 * test host (guest/session.c): the hello exchange and the caps both sides
 * end with, the log as the one error channel without an error callback,
 * abort and free (also from inside a completion), stats, the log level,
 * a custom allocator and its failures, and bad configurations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "packets.h"
#include "session_fixture.h"
#include "testhost.h"

/* ---------------------------------------------------------------- hello */

static void test_hello_first_and_caps(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    const struct th_packet *hp;
    struct iovec iov[4];
    uint64_t id;
    (void)state;
    rec_init(&r);
    s = new_session(&r, URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_FILTER), URG_POLICY_FAIL);
    th_init(&h, ALL);
    /* The hello is queued at once, with a 12-byte header. */
    assert_int_equal(urg_session_output(s, iov, 4), 1);
    assert_int_equal(iov[0].iov_len, 12 + 64 + 4);
    assert_int_equal(urg_session_output_pending(s), 80);
    assert_int_equal(urg_session_state(s), URG_STATE_WAIT_HELLO);
    /* No request before the host's hello. */
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), URG_ERR_STATE);
    assert_int_equal(urg_session_cancel(s, 1), URG_ERR_STATE);
    assert_int_equal(th_pump(&h, s), 1);
    hp = th_find(&h, URG_HELLO);
    assert_non_null(hp);
    assert_int_equal(hp->p.h.hello.caps[0], URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_FILTER));
    assert_string_equal(hp->p.h.hello.version, "usbredir-guest " URG_VERSION_STRING);
    th_hello(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(r.hello, 1);
    assert_non_null(strstr(r.log, "hello version=testhost 1.0 caps=0xff"));
    assert_int_equal(urg_session_state(s), URG_STATE_READY);
    assert_int_equal(urg_session_peer_caps(s), ALL);
    assert_int_equal(urg_session_caps(s), URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_FILTER));
    assert_string_equal(urg_session_peer_version(s), "testhost 1.0");
    assert_null(urg_session_device(s));
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), URG_ERR_NO_DEVICE);
    /* Filter packets need the filter cap, which we left out. */
    assert_int_equal(urg_session_filter_reject(s), URG_ERR_NO_CAP);
    assert_int_equal(urg_session_send_filter(s, "-1,-1,-1,-1,1"), URG_ERR_NO_CAP);
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(urg_session_state(s), URG_STATE_CONNECTED);
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), 0);
    assert_int_equal(id, 1);
    /* After both hellos the guest's packets carry 64-bit ids. */
    assert_int_equal(th_pump(&h, s), 1);
    assert_int_equal(urg_decoder_wire(h.dec).id64, 1);
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);
}

/* ---------------------------------------------------------------- errors */

/* Without an error callback, an error's one channel is the log: fatal at
 * the error level, skipped at the warning level, once each. */
static void test_errors_logged_without_callback(void **state)
{
    static uint8_t data[16];
    struct urg_session_config cfg;
    struct rec r;
    struct testhost h;
    urg_session *s;
    int policy;
    (void)state;
    for (policy = URG_POLICY_FAIL; policy <= URG_POLICY_SKIP; policy++) {
        rec_init(&r);
        urg_session_config_init(&cfg);
        cfg.policy = (enum urg_error_policy)policy;
        rec_callbacks(&cfg.callbacks);
        cfg.callbacks.error = NULL;
        cfg.user_data = &r;
        assert_int_equal(urg_session_new(&cfg, &s), 0);
        s = connect_session(s, &h, ALL);
        start_stream(s, 0, 0x81);
        th_stream_data(&h, URG_INTERRUPT_PACKET, 0x81, data, 9, 0);
        assert_int_equal(th_flush(&h, s, 0),
                         policy == URG_POLICY_FAIL ? URG_ERR_PROTO_STREAM_LENGTH : 0);
        assert_int_equal(r.errors, 0);
        assert_int_equal(r.logs[URG_LOG_ERROR], policy == URG_POLICY_FAIL);
        assert_int_equal(r.logs[URG_LOG_WARNING], policy == URG_POLICY_SKIP);
        urg_session_free(s);
        th_free(&h);
        rec_free(&r);
    }
}

/* ---------------------------------------------------------------- lifecycle */

static urg_session *free_me;
static int completions_seen;
static void free_in_complete(void *ud, const struct urg_completion *c)
{
    (void)ud;
    (void)c;
    completions_seen++;
    if (free_me) {
        urg_session *s = free_me;
        free_me = NULL;
        assert_int_equal(urg_session_recv(s, "x", 1), URG_ERR_BUSY);
        urg_session_free(s);
    }
}

static void test_abort_and_free(void **state)
{
    struct rec r;
    struct testhost h;
    urg_session *s;
    uint64_t ids[32], n, i;
    uint8_t out[512];
    struct urg_session_config cfg;
    (void)state;
    /* abort: everything completes, the device goes, calls fail. */
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    n = pend_everything(s, ids, out);
    urg_session_abort(s, URG_ERR_FAILED);
    assert_int_equal(r.ndone, n);
    for (i = 0; i < n; i++)
        assert_int_equal(r.done[i].c.status, URG_STATUS_NODEV);
    assert_int_equal(r.disconnect, 1);
    assert_int_equal(urg_session_state(s), URG_STATE_FAILED);
    assert_int_equal(urg_session_output_pending(s), 0);
    assert_int_equal(urg_session_reset(s), URG_ERR_FAILED);
    assert_int_equal(urg_session_error(s, NULL), URG_ERR_FAILED);
    urg_session_abort(s, 0); /* twice is harmless */
    urg_session_free(s);
    th_free(&h);
    rec_free(&r);

    /* free with requests pending completes them first. */
    rec_init(&r);
    s = connected_session(&r, &h, ALL, ALL);
    n = pend_everything(s, ids, out);
    urg_session_free(s);
    assert_int_equal(r.ndone, n);
    th_free(&h);
    rec_free(&r);

    /* free from inside a completion callback, during recv. */
    urg_session_config_init(&cfg);
    cfg.callbacks.complete = free_in_complete;
    assert_int_equal(urg_session_new(&cfg, &s), 0);
    th_init(&h, ALL);
    th_pump(&h, s);
    th_hello(&h);
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &ids[0]), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &ids[1]), 0);
    th_pump(&h, s);
    {
        struct urg_packet p;
        memset(&p, 0, sizeof(p));
        p.type = URG_CONFIGURATION_STATUS;
        p.id = ids[0];
        th_emit(&h, &p);
    }
    free_me = s;
    completions_seen = 0;
    assert_int_equal(th_flush(&h, s, 0), URG_ERR_FAILED);
    /* The reply, then the other request completed by the deferred free. */
    assert_int_equal(completions_seen, 2);
    th_free(&h);
    urg_session_free(NULL);
}

/* The device goes (device_disconnect) with requests pending, and the
 * first completion's callback forgets the next one and makes a new one:
 * the forgotten request never completes, every other completes once
 * (NODEV), and the walk does not stray into the pending table's free slots
 * (it did: fuzz_hcd found a request that never completed, its memory
 * leaked, and others that completed twice). */
static urg_session *ending;
static uint64_t forget_id;
static int ending_done[8], ending_new;
static void forget_in_complete(void *ud, const struct urg_completion *c)
{
    (void)ud;
    assert_true(c->id < 8);
    ending_done[c->id]++;
    assert_int_equal(c->status, URG_STATUS_NODEV);
    if (forget_id) {
        uint64_t id;
        assert_int_equal(urg_session_forget(ending, forget_id), 0);
        forget_id = 0;
        /* a new request: refused, the device is gone */
        ending_new = urg_session_get_configuration(ending, NULL, &id);
    }
}

static void test_end_while_callbacks_forget(void **state)
{
    struct urg_session_config cfg;
    struct testhost h;
    uint64_t ids[6];
    int i;
    (void)state;
    urg_session_config_init(&cfg);
    cfg.callbacks.complete = forget_in_complete;
    assert_int_equal(urg_session_new(&cfg, &ending), 0);
    th_init(&h, ALL);
    th_pump(&h, ending);
    th_hello(&h);
    th_device(&h);
    assert_int_equal(th_flush(&h, ending, 0), 0);
    for (i = 0; i < 6; i++)
        assert_int_equal(urg_session_get_configuration(ending, NULL, &ids[i]), 0);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[5], 6);
    memset(ending_done, 0, sizeof(ending_done));
    forget_id = ids[1]; /* the next one in the walk */
    {
        struct urg_packet p;
        memset(&p, 0, sizeof(p));
        p.type = URG_DEVICE_DISCONNECT;
        th_emit(&h, &p);
        assert_int_equal(th_flush(&h, ending, 0), 0);
    }
    for (i = 0; i < 6; i++)
        assert_int_equal(ending_done[ids[i]], i == 1 ? 0 : 1);
    assert_int_equal(ending_new, URG_ERR_NO_DEVICE);
    assert_int_equal(urg_session_state(ending), URG_STATE_READY);
    urg_session_free(ending);
    th_free(&h);
}

/* ---------------------------------------------------------------- misc */

static int log_lines[4];
static void count_log(void *ud, int level, const char *msg)
{
    (void)ud;
    (void)msg;
    log_lines[level]++;
}
static void ignore_complete(void *ud, const struct urg_completion *c)
{
    (void)ud;
    (void)c;
}

static void test_stats_log_allocator_config(void **state)
{
    struct fail_alloc f = { 0 };
    const struct urg_allocator counting = fail_allocator(&f);
    struct urg_session_config cfg;
    struct testhost h;
    struct urg_stats st;
    urg_session *s;
    uint64_t id;
    int n, created = 0;
    (void)state;
    urg_session_config_init(&cfg);
    cfg.callbacks.complete = ignore_complete;
    cfg.callbacks.log = count_log;
    cfg.log_level = URG_LOG_INFO;
    cfg.allocator = &counting;
    cfg.filter = "-1,-1,-1,-1,1";
    assert_int_equal(urg_session_new(&cfg, &s), 0);
    th_init(&h, ALL);
    th_pump(&h, s);
    th_hello(&h);
    th_device(&h);
    assert_int_equal(th_flush(&h, s, 0), 0);
    assert_int_equal(urg_session_get_configuration(s, NULL, &id), 0);
    th_pump(&h, s);
    urg_session_stats(s, &st);
    assert_int_equal(st.rx_packets[urg_type_index(URG_HELLO)], 1);
    assert_int_equal(st.rx_packets[urg_type_index(URG_EP_INFO)], 1);
    assert_int_equal(st.rx_bytes[urg_type_index(URG_EP_INFO)], 16 + 288);
    assert_int_equal(st.tx_packets[urg_type_index(URG_HELLO)], 1);
    assert_int_equal(st.tx_bytes[urg_type_index(URG_HELLO)], 80);
    assert_int_equal(st.tx_packets[urg_type_index(URG_FILTER_FILTER)], 1);
    assert_int_equal(st.tx_packets[urg_type_index(URG_GET_CONFIGURATION)], 1);
    assert_int_equal(st.requests, 1);
    /* info lines for the hello and the connect; no debug lines */
    assert_true(log_lines[URG_LOG_INFO] >= 2);
    assert_int_equal(log_lines[URG_LOG_DEBUG], 0);
    urg_session_free(s);
    th_free(&h);
    assert_true(f.calls > 0);
    assert_int_equal(f.live, 0);

    /* The n-th allocation of urg_session_new failing: a clean error. */
    for (n = 0; n < 20 && !created; n++) {
        memset(&f, 0, sizeof(f));
        f.fail_from = (uint64_t)n + 1; /* the n first succeed, no later one */
        if (urg_session_new(&cfg, &s) == 0) {
            created = 1;
            urg_session_free(s);
        }
        assert_int_equal(f.live, 0);
    }
    assert_true(created);
    assert_true(n > 3);

    /* The default allocator works as libc's. */
    {
        const struct urg_allocator *d = urg_allocator_default();
        void *p = d->malloc(d->ctx, 16);
        assert_non_null(p);
        p = d->realloc(d->ctx, p, 4096);
        assert_non_null(p);
        d->free(d->ctx, p);
    }
    /* Bad configurations. */
    urg_session_config_init(&cfg);
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_INVALID); /* no complete */
    cfg.callbacks.complete = ignore_complete;
    cfg.caps = URG_CAP_BIT(URG_CAP_BULK_STREAMS);
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_INVALID);
    cfg.caps = 0x100;
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_INVALID);
    cfg.caps = 0;
    cfg.policy = 3;
    assert_int_equal(urg_session_new(&cfg, &s), URG_ERR_INVALID);
    assert_int_equal(urg_session_new(NULL, &s), URG_ERR_INVALID);
    cfg.policy = URG_POLICY_FAIL;
    assert_int_equal(urg_session_new(&cfg, &s), 0);
    urg_session_free(s);
}

/* Configs carry their size: urg_session_config_init() writes only the
 * bytes of the struct this program knows (an older program's smaller one
 * keeps what lies beyond), a bigger one (a newer program) gets zeros past
 * what the library knows, and a config never initialised is refused. */
static void test_config_sizes(void **state)
{
    const size_t small = offsetof(struct urg_session_config, pending_hint);
    union {
        struct urg_session_config cfg;
        unsigned char bytes[sizeof(struct urg_session_config) + 64];
    } u;
    urg_session *s = NULL;
    size_t i;
    (void)state;
    /* An older program: its struct ends before pending_hint. */
    memset(&u, 0xaa, sizeof(u));
    urg_session_config_init_size(&u.cfg, small);
    assert_int_equal(u.cfg.size, small);
    assert_int_equal(u.cfg.caps, URG_CAPS_ALL);
    assert_int_equal(u.cfg.policy, URG_POLICY_FAIL);
    for (i = small; i < sizeof(u.bytes); i++)
        assert_int_equal(u.bytes[i], 0xaa);
    /* A newer program: its struct is 64 bytes longer. */
    memset(&u, 0xaa, sizeof(u));
    urg_session_config_init_size(&u.cfg, sizeof(u.bytes));
    assert_int_equal(u.cfg.size, sizeof(struct urg_session_config));
    assert_int_equal(u.cfg.pending_hint, 64);
    for (i = sizeof(struct urg_session_config); i < sizeof(u.bytes); i++)
        assert_int_equal(u.bytes[i], 0);
    u.cfg.callbacks.complete = ignore_complete;
    assert_int_equal(urg_session_new(&u.cfg, &s), 0);
    urg_session_free(s);
    /* Never initialised: refused. */
    memset(&u, 0, sizeof(u));
    u.cfg.callbacks.complete = ignore_complete;
    s = NULL;
    assert_int_equal(urg_session_new(&u.cfg, &s), URG_ERR_INVALID);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_first_and_caps),
        cmocka_unit_test(test_errors_logged_without_callback),
        cmocka_unit_test(test_abort_and_free),
        cmocka_unit_test(test_stats_log_allocator_config),
        cmocka_unit_test(test_config_sizes),
        cmocka_unit_test(test_end_while_callbacks_forget),
    };
    return cmocka_run_group_tests_name("session_lifecycle", tests, NULL, NULL);
}

/*
 * test_alloc_failure.c - allocation failure along a whole session of the
 * host-controller model and the engine (every allocation of both goes
 * through the configured urg_allocator).
 *
 * The session: a device is created and connected, hellos, a device with
 * interrupt, bulk and iso endpoints attaches, six URBs of every kind are
 * submitted, the host answers the control and bulk ones, starts interrupt
 * receiving and sends reports, then unplugs the device; the model is freed.
 * It is run once with the N-th allocation failing, for N = 1, 2, 3, ...
 * until a run makes fewer than N allocations. Every run must end in a clean
 * error (URG_ERR_NOMEM from the call that failed, or the session failing
 * with it), every URB accepted must complete exactly once and every URB
 * refused never; valgrind and ASan (make check) report any leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "testhost.h"
#include "urg_hcd.h"

#define NURB 6

struct run {
    struct urg_urb *u[NURB];
    int rc[NURB];          /* what urg_hcd_submit returned */
    int completions[NURB];
    int attached, detached;
    int reports;           /* interrupt reports delivered */
};

static void on_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    struct run *r = ud;
    int i = (int)(intptr_t)u->user_data;
    (void)dev;
    r->completions[i]++;
    if (i == 3 && u->status == URG_URB_SUCCESS)
        r->reports++;
}

static void on_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    (void)dev;
    (void)info;
    ((struct run *)ud)->attached++;
}

static void on_detach(void *ud, urg_hcd_dev *dev)
{
    ((struct run *)ud)->detached++;
    urg_hcd_detach_done(dev);
}

/* Host bytes in; on an error the connection is dropped, as the transport
 * does. Returns 0 while the connection is up. */
static int deliver(struct testhost *h, urg_hcd_dev *dev)
{
    urg_session *s = urg_hcd_dev_session(dev);
    int rc;
    if (!s)
        return -1;
    rc = th_flush(h, s, 0);
    if (rc < 0 || urg_session_state(s) == URG_STATE_FAILED) {
        assert_int_equal(rc, URG_ERR_NOMEM);
        urg_hcd_dev_disconnect(dev, rc);
        return -1;
    }
    th_pump(h, s);
    return 0;
}

/* One whole session with the fail_at-th allocation failing. */
static void session(struct fail_alloc *f, struct run *r)
{
    static const uint8_t ifs[3] = { 0x03, 0xff, 0x01 };
    static const struct th_ep eps[] = {
        { 0x81, URG_EP_INTERRUPT, 4, 0, 8, 0 }, { 0x02, URG_EP_INTERRUPT, 4, 0, 8, 0 },
        { 0x83, URG_EP_BULK, 0, 1, 512, 0 },    { 0x04, URG_EP_BULK, 0, 1, 512, 0 },
        { 0x85, URG_EP_ISO, 1, 2, 192, 0 },     { 0x06, URG_EP_ISO, 1, 2, 192, 0 },
    };
    static const uint8_t get_device[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    static uint8_t bufs[NURB][1024], desc[18] = { 18, 1 };
    struct urg_allocator a = fail_allocator(f);
    struct urg_hcd_config cfg;
    struct urg_session_config session;
    struct testhost h;
    urg_hcd_dev *dev;
    urg_session *s;
    const struct th_packet *q;
    int rc, i;

    memset(r, 0, sizeof(*r));
    urg_hcd_config_init(&cfg);
    urg_session_config_init(&session);
    cfg.session = &session;
    session.allocator = &a;
    cfg.callbacks.urb_complete = on_complete;
    cfg.callbacks.attach = on_attach;
    cfg.callbacks.detach = on_detach;
    cfg.user_data = r;
    rc = urg_hcd_dev_new(&cfg, &dev);
    if (rc) {
        assert_int_equal(rc, URG_ERR_NOMEM);
        return;
    }
    rc = urg_hcd_dev_connect(dev, &s);
    if (rc) {
        assert_int_equal(rc, URG_ERR_NOMEM);
        urg_hcd_dev_free(dev);
        return;
    }
    th_init(&h, URG_CAPS_ALL);
    th_pump(&h, s);
    th_hello(&h);
    th_device_ex(&h, URG_SPEED_HIGH, 0x1234, 0x5678, 0, ifs, 3, eps,
                 (int)(sizeof(eps) / sizeof(eps[0])));
    if (deliver(&h, dev) == 0 && r->attached) {
        static const uint8_t types[NURB] = { URG_EP_CONTROL, URG_EP_BULK, URG_EP_BULK,
                                             URG_EP_INTERRUPT, URG_EP_ISO, URG_EP_ISO };
        static const uint8_t addrs[NURB] = { 0, 0x83, 0x04, 0x81, 0x85, 0x06 };
        for (i = 0; i < NURB; i++) {
            struct urg_urb *u = r->u[i] = urg_urb_alloc(types[i] == URG_EP_ISO ? 4 : 0);
            assert_non_null(u);
            u->type = types[i];
            u->endpoint = addrs[i];
            u->buffer = bufs[i];
            u->length = types[i] == URG_EP_CONTROL     ? 18
                        : types[i] == URG_EP_INTERRUPT ? 8
                        : types[i] == URG_EP_ISO       ? 4 * 192
                                                       : 512;
            if (types[i] == URG_EP_CONTROL)
                memcpy(u->setup, get_device, 8);
            for (int k = 0; types[i] == URG_EP_ISO && k < 4; k++) {
                u->iso[k].offset = (uint32_t)k * 192;
                u->iso[k].length = 192;
            }
            u->user_data = (void *)(intptr_t)i;
            r->rc[i] = urg_hcd_submit(dev, u);
            /* Refused for want of memory, accepted, or (iso) done at once. */
            if (r->rc[i] < 0)
                assert_int_equal(r->rc[i], URG_ERR_NOMEM);
            else if (urg_hcd_dev_session(dev))
                th_pump(&h, urg_hcd_dev_session(dev));
        }
        /* The host answers what reached it. */
        if ((q = th_find(&h, URG_CONTROL_PACKET)))
            th_reply_control(&h, &q->p, URG_STATUS_SUCCESS, desc, 18);
        if ((q = th_find(&h, URG_BULK_PACKET)))
            th_reply_bulk(&h, &q->p, URG_STATUS_SUCCESS, bufs[5], 512);
        if ((q = th_find(&h, URG_START_INTERRUPT_RECEIVING))) {
            static const uint8_t press_a[8] = { 0, 0, 0x04 }, release[8];
            th_stream_status(&h, URG_INTERRUPT_RECEIVING_STATUS, q->p.id, 0x81, URG_STATUS_SUCCESS);
            th_stream_data(&h, URG_INTERRUPT_PACKET, 0x81, press_a, 8, URG_STATUS_SUCCESS);
            th_stream_data(&h, URG_INTERRUPT_PACKET, 0x81, release, 8, URG_STATUS_SUCCESS);
        }
        if (deliver(&h, dev) == 0) {
            struct urg_packet p;
            memset(&p, 0, sizeof(p));
            p.type = URG_DEVICE_DISCONNECT;
            th_emit(&h, &p);
            deliver(&h, dev);
        }
    }
    urg_hcd_dev_free(dev);
    th_free(&h);
    for (i = 0; i < NURB; i++) {
        if (!r->u[i])
            continue;
        /* Accepted: exactly once. Refused or done at submission: never. */
        assert_int_equal(r->completions[i], r->rc[i] == 0 ? 1 : 0);
        urg_urb_free(r->u[i]);
    }
}

static void test_a_session_without_failures(void **state)
{
    struct fail_alloc f = { 0 };
    struct run r;
    (void)state;
    session(&f, &r);
    assert_int_equal(f.failed, 0);
    assert_int_equal(r.attached, 1);
    assert_int_equal(r.detached, 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(r.rc[i], 0);
    assert_int_equal(r.reports, 1); /* the interrupt URB took the first report */
    assert_true(f.calls > 10);
}

static void test_every_allocation_failing_in_turn(void **state)
{
    struct fail_alloc f;
    struct run r;
    uint64_t n, total;
    (void)state;
    memset(&f, 0, sizeof(f));
    session(&f, &r);
    total = f.calls;
    for (n = 1; n <= total; n++) {
        memset(&f, 0, sizeof(f));
        f.fail_at = n;
        session(&f, &r);
        assert_true(f.failed); /* the same path up to the failure */
        assert_int_equal(f.live, 0); /* all given back */
    }
    printf("alloc failure: each of the %llu allocations of the session failed in turn, "
           "every run ended cleanly\n", (unsigned long long)total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_session_without_failures),
        cmocka_unit_test(test_every_allocation_failing_in_turn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_replay.c - the replay host: sessions recorded against the emulated
 * host are served back to a live guest (the engine and the model behind a
 * transport), with ids remapped, and every way the guest can depart from
 * the capture is reported with the packet and the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "emuhost.h"
#include "evtest.h"
#include "sessions.h"

static const uint8_t get_device[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };

/* ---------------------------------------------------------------- a replay */


/* A replay of path on one end of a socketpair, a guest on the other. */
static void replay_start(struct replay_session *x, const char *path)
{
    struct urg_replay_config rc;
    int sv[2];
    char addr[32];
    memset(x, 0, sizeof(*x));
    x->loop = ev_loop_new(0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    urg_replay_config_init(&rc);
    rc.capture_path = path;
    rc.loop = x->loop;
    rc.fd = sv[1];
    rc.done = replay_run_done;
    rc.user_data = x;
    assert_int_equal(urg_replay_new(&rc, &x->r), 0);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    tdev_init(&x->d, x->loop, addr, 0, 0, NULL);
    assert_true(run_until(x->loop, tdev_attached, &x->d, 10));
}


/* Packets in a capture, and the index of the first of a type and direction. */
struct census {
    uint32_t packets;
    uint32_t type;
    enum urg_dir dir;
    uint32_t first;
    uint64_t min_id;
    uint32_t guest;       /* packets the guest sent */
};
static int count_packet(void *ctx, const struct urg_capture_packet *cp)
{
    struct census *c = ctx;
    c->packets++;
    if (cp->dir == URG_DIR_TO_HOST)
        c->guest++;
    if (!c->first && cp->p->type == c->type && cp->dir == c->dir)
        c->first = cp->index;
    if (cp->p->type == URG_CONTROL_PACKET && cp->p->id < c->min_id)
        c->min_id = cp->p->id;
    return 0;
}
static struct census census(const char *path, uint32_t type, enum urg_dir dir)
{
    struct census c;
    char err[256];
    memset(&c, 0, sizeof(c));
    c.type = type;
    c.dir = dir;
    c.min_id = UINT64_MAX;
    assert_int_equal(urg_capture_decode(path, count_packet, &c, err, sizeof(err)), 0);
    return c;
}

/* ---------------------------------------------------------------- tests */

static void test_replay_of_a_keyboard_session(void **state)
{
    char *path = temp_capture("kbd"), want[64];
    struct kbd_result live, rec;
    struct census c;
    struct replay_session x;
    (void)state;
    assert_int_equal(record_session(path, EMU_KEYBOARD), 0);
    c = census(path, 0, URG_DIR_TO_HOST);
    replay_start(&x, path);
    kbd_session(&x.d, &live);
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, 0);
    snprintf(want, sizeof(want), "replayed all %u packets of the capture", c.packets);
    assert_string_equal(x.report, want);
    assert_int_equal(live.status, URG_URB_SUCCESS);
    assert_int_equal(live.vendor, 0x0627);
    /* The same reports as a live host gives: h e l l o, each released. */
    {
        static const uint8_t keys[5] = { 0x0b, 0x08, 0x0f, 0x0f, 0x12 };
        int i;
        memset(&rec, 0, sizeof(rec));
        for (i = 0; i < 5; i++) {
            rec.reports[2 * i][2] = keys[i];
            assert_memory_equal(live.reports[2 * i], rec.reports[2 * i], 8);
            assert_memory_equal(live.reports[2 * i + 1], rec.reports[2 * i + 1], 8);
        }
    }
    /* Done: the replay closes the connection, the device goes. */
    assert_true(run_until(x.loop, replay_run_detached, &x, 10));
    assert_int_equal(x.done, 1);
    replay_run_end(&x);
    unlink(path);
}

/* Rewrites a capture with every id but the hellos' moved by delta. */
struct shift {
    urg_capture *out;
    uint64_t delta;
    uint32_t guest_caps, host_caps;
    int hellos;
};
static int shift_packet(void *ctx, const struct urg_capture_packet *cp)
{
    struct shift *s = ctx;
    struct urg_packet p = *cp->p;
    struct urg_wire w = { 0, 0 };
    uint8_t buf[400 + 65536];
    int n;
    if (p.type == URG_HELLO) {
        if (cp->dir == URG_DIR_TO_HOST)
            s->guest_caps = p.h.hello.caps[0];
        else
            s->host_caps = p.h.hello.caps[0];
        s->hellos++;
    } else {
        p.id += s->delta;
    }
    if (s->hellos == 2 && p.type != URG_HELLO)
        w = urg_wire_from_caps(s->guest_caps, s->host_caps);
    n = urg_encode(&w, cp->dir, &p, buf, sizeof(buf));
    assert_true(n > 0);
    if (p.type != URG_HELLO && p.data_len) {
        memcpy(buf + n, p.data, p.data_len);
        n += (int)p.data_len;
    }
    return urg_capture_write(s->out, cp->dir == URG_DIR_TO_HOST ? URG_CAP_GUEST : URG_CAP_HOST,
                             buf, (size_t)n);
}

static void test_ids_are_remapped(void **state)
{
    char *path = temp_capture("kbd2"), *moved = temp_capture("moved");
    struct shift s;
    struct kbd_result live;
    struct census c;
    struct replay_session x;
    char err[256];
    (void)state;
    assert_int_equal(record_session(path, EMU_KEYBOARD), 0);
    memset(&s, 0, sizeof(s));
    s.delta = 1000;
    assert_int_equal(urg_capture_create(moved, &s.out), 0);
    assert_int_equal(urg_capture_write(s.out, URG_CAP_CONNECT, NULL, 0), 0);
    assert_int_equal(urg_capture_decode(path, shift_packet, &s, err, sizeof(err)), 0);
    urg_capture_close(s.out);
    /* The captured guest used ids from 1000 on; the live one starts at 1. */
    c = census(moved, 0, URG_DIR_TO_HOST);
    assert_true(c.min_id >= 1000);
    replay_start(&x, moved);
    kbd_session(&x.d, &live);
    assert_int_equal(live.status, URG_URB_SUCCESS);
    assert_int_equal(live.vendor, 0x0627);
    assert_int_equal(live.reports[8][2], 0x12); /* o */
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, 0);
    replay_run_end(&x);
    unlink(path);
    unlink(moved);
}

/* A guest that retried (usbredir-guest --retry, a host still starting)
 * records connections the host closed before it spoke: the replay serves
 * the first one on which the host spoke. */
static void test_replay_skips_connections_the_host_never_answered(void **state)
{
    static const uint8_t hello_only[] = { 0, 0, 0, 0, 0x44, 0, 0, 0 };
    char *path = temp_capture("kbd3"), *retried = temp_capture("retried");
    urg_capture_reader *in;
    urg_capture *out;
    struct urg_capture_record rec;
    struct kbd_result live;
    struct replay_session x;
    (void)state;
    assert_int_equal(record_session(path, EMU_KEYBOARD), 0);
    assert_int_equal(urg_capture_create(retried, &out), 0);
    for (int i = 0; i < 2; i++) { /* two connections reset after our hello */
        assert_int_equal(urg_capture_write(out, URG_CAP_CONNECT, NULL, 0), 0);
        assert_int_equal(urg_capture_write(out, URG_CAP_GUEST, hello_only, sizeof(hello_only)), 0);
    }
    assert_int_equal(urg_capture_open(path, &in), 0);
    while (urg_capture_next(in, &rec) == 1)
        assert_int_equal(urg_capture_write_at(out, rec.kind, rec.time_ns, rec.data, rec.len), 0);
    urg_capture_reader_free(in);
    urg_capture_close(out);
    replay_start(&x, retried);
    kbd_session(&x.d, &live);
    assert_int_equal(live.status, URG_URB_SUCCESS);
    assert_int_equal(live.vendor, 0x0627);
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, 0);
    replay_run_end(&x);
    unlink(path);
    unlink(retried);
}

static bool one_more(void *p)
{
    struct tdev *d = p;
    return d->completions > 0;
}

static void test_divergence_in_a_field(void **state)
{
    static const uint8_t get_short[8] = { 0x80, 6, 0, 1, 0, 0, 9, 0 };
    char *path = temp_capture("kbd3"), want[128];
    struct census c;
    struct replay_session x;
    struct urg_urb *u;
    uint8_t desc[18];
    (void)state;
    assert_int_equal(record_session(path, EMU_KEYBOARD), 0);
    c = census(path, URG_CONTROL_PACKET, URG_DIR_TO_HOST);
    replay_start(&x, path);
    /* The guest asks for 9 bytes where the capture asked for 18. */
    u = urg_urb_alloc(0);
    u->type = URG_EP_CONTROL;
    memcpy(u->setup, get_short, 8);
    u->buffer = desc;
    u->length = 9;
    x.d.completions = 0;
    assert_int_equal(urg_hcd_submit(x.d.dev, u), 0);
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, URG_ERR_DIVERGED);
    snprintf(want, sizeof(want),
             "capture packet %u (guest to host): control_packet length is 9, the capture has 18\n",
             c.first);
    if (strncmp(x.report, want, strlen(want)) != 0)
        fail_msg("report:\n%s\nwanted it to start:\n%s", x.report, want);
    assert_non_null(strstr(x.report, "  capture: control_packet id="));
    assert_non_null(strstr(x.report, "len=18"));
    assert_non_null(strstr(x.report, "  guest:   control_packet id="));
    /* The replay hangs up; the request still completes, exactly once. */
    assert_true(run_until(x.loop, one_more, &x.d, 10));
    assert_int_equal(x.d.completions, 1);
    assert_int_equal(u->status, URG_URB_NODEV);
    assert_true(run_until(x.loop, replay_run_detached, &x, 10));
    assert_int_equal(x.done, 1);
    urg_urb_free(u);
    replay_run_end(&x);
    unlink(path);
}

static void test_divergence_in_the_data(void **state)
{
    char *path = temp_capture("msc");
    uint8_t back[512];
    struct replay_session x;
    (void)state;
    assert_int_equal(record_session(path, EMU_MSC), 0);
    replay_start(&x, path);
    /* The same commands, another pattern written. */
    assert_int_equal(msc_session(&x.d, 0x55, back), -1);
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, URG_ERR_DIVERGED);
    if (!strstr(x.report, ": bulk_packet data byte 0 is 0x55, the capture has 0xaa\n"))
        fail_msg("report: %s", x.report);
    replay_run_end(&x);

    /* And with the same pattern it replays to the end, data read back. */
    replay_start(&x, path);
    memset(back, 0, sizeof(back));
    assert_int_equal(msc_session(&x.d, 0xaa, back), 0);
    assert_int_equal(back[0], 0xaa);
    assert_int_equal(back[511], 0xaa);
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, 0);
    replay_run_end(&x);
    unlink(path);
}

static void test_divergence_in_the_type(void **state)
{
    char *path = temp_capture("kbd4");
    struct census c;
    struct replay_session x;
    uint8_t buf[8];
    char want[128];
    (void)state;
    assert_int_equal(record_session(path, EMU_KEYBOARD), 0);
    c = census(path, URG_CONTROL_PACKET, URG_DIR_TO_HOST);
    replay_start(&x, path);
    /* An interrupt URB first: the model sends start_interrupt_receiving
     * where the capture has the control request. */
    x.d.completions = 0;
    assert_int_not_equal(tdev_xfer(&x.d, URG_EP_INTERRUPT, 0x81, NULL, buf, 8, NULL),
                         URG_URB_SUCCESS);
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, URG_ERR_DIVERGED);
    snprintf(want, sizeof(want),
             "capture packet %u (guest to host): the guest sent start_interrupt_receiving, the "
             "capture has control_packet",
             c.first);
    assert_memory_equal(x.report, want, strlen(want));
    replay_run_end(&x);
    unlink(path);
}

static void test_guest_leaves_early(void **state)
{
    char *path = temp_capture("kbd5");
    struct census g;
    struct replay_session x;
    char want[160];
    uint32_t got;
    uint8_t desc[18];
    (void)state;
    assert_int_equal(record_session(path, EMU_KEYBOARD), 0);
    /* The session's guest packets: the hello, the descriptor request, the
     * start of interrupt receiving (the last). */
    g = census(path, URG_START_INTERRUPT_RECEIVING, URG_DIR_TO_HOST);
    assert_int_equal(g.guest, 3);
    replay_start(&x, path);
    assert_int_equal(tdev_xfer(&x.d, URG_EP_CONTROL, 0, get_device, desc, 18, &got),
                     URG_URB_SUCCESS);
    /* The guest goes before it asks for the reports. */
    urg_transport_free(x.d.t);
    x.d.t = NULL;
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, URG_ERR_EOF);
    snprintf(want, sizeof(want), "the guest closed the connection after 2 of %u guest packets",
             g.guest);
    if (strncmp(x.report, want, strlen(want)) != 0)
        fail_msg("report: %s", x.report);
    replay_run_end(&x);
    unlink(path);
}

static void test_listening_replay(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct urg_replay_config rc;
    char *path = temp_capture("kbd6"), addr[64];
    struct kbd_result live;
    struct replay_session x;
    (void)state;
    assert_int_equal(record_session(path, EMU_KEYBOARD), 0);
    memset(&x, 0, sizeof(x));
    x.loop = loop;
    urg_replay_config_init(&rc);
    rc.capture_path = path;
    rc.loop = loop;
    rc.listen_address = "127.0.0.1:0";
    rc.done = replay_run_done;
    rc.user_data = &x;
    assert_int_equal(urg_replay_new(&rc, &x.r), 0);
    assert_true(urg_replay_port(x.r) > 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", urg_replay_port(x.r));
    tdev_init(&x.d, loop, addr, 0, 0, NULL);
    assert_true(run_until(loop, tdev_attached, &x.d, 10));
    kbd_session(&x.d, &live);
    assert_int_equal(live.status, URG_URB_SUCCESS);
    assert_int_equal(live.reports[0][2], 0x0b);
    assert_true(run_until(loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, 0);
    replay_run_end(&x);
    unlink(path);
}

/* A capture held in memory (as the command bundles its fixtures). */
static void test_replay_from_memory(void **state)
{
    char *path = temp_capture("mem");
    struct urg_replay_config rc;
    struct kbd_result live;
    struct replay_session x;
    uint8_t *buf = malloc(1 << 20);
    size_t n;
    int sv[2];
    char addr[32];
    FILE *f;
    (void)state;
    assert_int_equal(record_session(path, EMU_KEYBOARD), 0);
    f = fopen(path, "rb");
    n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    unlink(path); /* nothing is read from the file from here on */
    memset(&x, 0, sizeof(x));
    x.loop = ev_loop_new(0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    urg_replay_config_init(&rc);
    rc.capture_data = buf;
    rc.capture_size = n;
    rc.loop = x.loop;
    rc.fd = sv[1];
    rc.done = replay_run_done;
    rc.user_data = &x;
    assert_int_equal(urg_replay_new(&rc, &x.r), 0);
    memset(buf, 0, n); /* the replay keeps its own copy */
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    tdev_init(&x.d, x.loop, addr, 0, 0, NULL);
    assert_true(run_until(x.loop, tdev_attached, &x.d, 10));
    kbd_session(&x.d, &live);
    assert_int_equal(live.status, URG_URB_SUCCESS);
    assert_int_equal(live.reports[8][2], 0x12);
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, 0);
    replay_run_end(&x);
    /* An empty or damaged buffer is refused. */
    rc.capture_data = "URGCAP";
    rc.capture_size = 6;
    rc.fd = 0;
    rc.loop = ev_loop_new(0);
    assert_int_equal(urg_replay_new(&rc, &x.r), URG_ERR_CAPTURE);
    ev_loop_destroy(rc.loop);
    free(buf);
}

/* The committed fixture fixtures/keyboard-hid.urgcap through the model, as
 * a guest OS would drive it: the keys are the ones its README gives. */
static void test_committed_fixture(void **state)
{
    static const uint8_t set_protocol[8] = { 0x21, 0x0b, 0, 0, 0, 0, 0, 0 };
    static const uint8_t set_idle[8] = { 0x21, 0x0a, 0, 0, 0, 0, 0, 0 };
    static const uint8_t usage[] = { 0x0b, 0x08, 0x0f, 0x0f, 0x12, 0x2c, /* hello_ */
                                     0x1a, 0x12, 0x15, 0x0f, 0x07 };     /* world */
    uint8_t rep[8];
    struct replay_session x;
    size_t i;
    (void)state;
    replay_start(&x, "fixtures/keyboard-hid.urgcap");
    assert_int_equal(tdev_xfer(&x.d, URG_EP_CONTROL, 0, set_protocol, NULL, 0, NULL),
                     URG_URB_SUCCESS);
    assert_int_equal(tdev_xfer(&x.d, URG_EP_CONTROL, 0, set_idle, NULL, 0, NULL),
                     URG_URB_SUCCESS);
    for (i = 0; i < sizeof(usage); i++) {
        assert_int_equal(tdev_xfer(&x.d, URG_EP_INTERRUPT, 0x81, NULL, rep, 8, NULL),
                         URG_URB_SUCCESS);
        assert_int_equal(rep[2], usage[i]); /* pressed */
        assert_int_equal(tdev_xfer(&x.d, URG_EP_INTERRUPT, 0x81, NULL, rep, 8, NULL),
                         URG_URB_SUCCESS);
        assert_int_equal(rep[2], 0); /* released */
    }
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.status, 0);
    /* Nothing more: the next report never comes, the replay hung up. */
    assert_int_equal(tdev_xfer(&x.d, URG_EP_INTERRUPT, 0x81, NULL, rep, 8, NULL), URG_URB_NODEV);
    replay_run_end(&x);
}

static void test_bad_captures(void **state)
{
    struct urg_replay_config rc;
    urg_replay *r = NULL;
    char *path = temp_capture("bad");
    FILE *f;
    struct ev_loop *loop = ev_loop_new(0);
    (void)state;
    urg_replay_config_init(&rc);
    rc.loop = loop;
    rc.capture_path = "/nonexistent/capture.urgcap";
    rc.fd = 0;
    assert_int_equal(urg_replay_new(&rc, &r), URG_ERR_CAPTURE);
    assert_null(r);
    f = fopen(path, "w");
    fputs("this is not a capture\n", f);
    fclose(f);
    rc.capture_path = path;
    assert_int_equal(urg_replay_new(&rc, &r), URG_ERR_CAPTURE);
    /* A capture with no host hello has nothing to replay. */
    {
        urg_capture *c;
        assert_int_equal(urg_capture_create(path, &c), 0);
        urg_capture_close(c);
    }
    assert_int_equal(urg_replay_new(&rc, &r), URG_ERR_CAPTURE);
    rc.fd = -1;
    assert_int_equal(urg_replay_new(&rc, &r), URG_ERR_INVALID);
    /* A config that urg_replay_config_init() never made is refused. */
    rc.fd = 0;
    rc.size = 0;
    assert_int_equal(urg_replay_new(&rc, &r), URG_ERR_INVALID);
    assert_null(r);
    unlink(path);
    ev_loop_destroy(loop);
}

/* A capture with nothing to wait for (the host's hello alone) is replayed
 * whole inside urg_replay_new(); done() still comes from the loop, after
 * urg_replay_new() returned, and may free the replay there (it used to be
 * called from inside urg_replay_new(), which then used the freed replay). */
static int new_returned, done_after_new;
static void free_in_done(void *ud, urg_replay *r, int status, const char *report)
{
    replay_run_done(ud, r, status, report);
    done_after_new = new_returned;
    urg_replay_free(r);
}

static void test_done_from_the_loop_only(void **state)
{
    char *path = temp_capture("full"), *hello = temp_capture("hello");
    urg_capture_reader *in;
    urg_capture *out;
    struct urg_capture_record rec;
    struct urg_replay_config rc;
    struct replay_session x;
    int sv[2];
    (void)state;
    assert_int_equal(record_session(path, EMU_KEYBOARD), 0);
    assert_int_equal(urg_capture_create(hello, &out), 0);
    assert_int_equal(urg_capture_open(path, &in), 0);
    while (urg_capture_next(in, &rec) == 1) {
        if (rec.kind == URG_CAP_GUEST)
            continue;
        assert_int_equal(urg_capture_write_at(out, rec.kind, rec.time_ns, rec.data, rec.len), 0);
        if (rec.kind == URG_CAP_HOST)
            break; /* its hello */
    }
    urg_capture_reader_free(in);
    urg_capture_close(out);
    memset(&x, 0, sizeof(x));
    x.loop = ev_loop_new(0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    urg_replay_config_init(&rc);
    rc.capture_path = hello;
    rc.loop = x.loop;
    rc.fd = sv[1];
    rc.done = free_in_done;
    rc.user_data = &x;
    new_returned = done_after_new = 0;
    assert_int_equal(urg_replay_new(&rc, &x.r), 0);
    assert_int_equal(x.done, 0);
    new_returned = 1;
    assert_true(run_until(x.loop, replay_run_finished, &x, 10));
    assert_int_equal(x.done, 1);
    assert_int_equal(done_after_new, 1);
    assert_int_equal(x.status, 0);
    close(sv[0]);
    ev_loop_destroy(x.loop);
    unlink(path);
    unlink(hello);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_of_a_keyboard_session),
        cmocka_unit_test(test_ids_are_remapped),
        cmocka_unit_test(test_replay_skips_connections_the_host_never_answered),
        cmocka_unit_test(test_divergence_in_a_field),
        cmocka_unit_test(test_divergence_in_the_data),
        cmocka_unit_test(test_divergence_in_the_type),
        cmocka_unit_test(test_guest_leaves_early),
        cmocka_unit_test(test_listening_replay),
        cmocka_unit_test(test_replay_from_memory),
        cmocka_unit_test(test_done_from_the_loop_only),
        cmocka_unit_test(test_committed_fixture),
        cmocka_unit_test(test_bad_captures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_transport.c - the libev transport: addresses, fd, TCP (IPv4, IPv6),
 * Unix, listening, reconnect, backpressure both ways, many devices on one
 * loop, free from a callback, capture, a broken host; when requests go
 * out (from outside and from a completion, over a socket and a pty).
 */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "emuhost.h"
#include "evtest.h"
#include "testhost.h"
#include "sessions.h"

/* ---------------------------------------------------------------- a host server */

/* Listens like usbredirect and serves an emulated device per connection. */
struct srv {
    struct ev_loop *loop;
    int lfd, port, kind;
    ev_io lio;
    struct emuhost *emu[16];
    int n;
    int resets;     /* connections closed at accept (kind -1) */
    char path[108];
};

static void srv_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct srv *s = w->data;
    struct emu_config c;
    int fd = accept(s->lfd, NULL, NULL);
    (void)revents;
    if (fd < 0 || s->n == 16)
        return;
    if (s->kind < 0) {
        /* Like a forwarded port whose usbredirect has exited: accepted,
         * then closed at once. */
        close(fd);
        s->resets++;
        return;
    }
    emu_config_init(&c, s->kind);
    s->emu[s->n] = emu_new(&c);
    emu_serve(s->emu[s->n], loop, fd, NULL, NULL);
    s->n++;
}

/* Binds s->lfd to where (a path, or an address of family with port) and
 * listens on it. */
static void srv_bind(struct srv *s, struct ev_loop *loop, int family, const char *where, int port)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof(ss);
    int one = 1;
    memset(&ss, 0, sizeof(ss));
    s->lfd = socket(family, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_UNIX) {
        struct sockaddr_un *u = (struct sockaddr_un *)&ss;
        u->sun_family = AF_UNIX;
        snprintf(s->path, sizeof(s->path), "%s", where);
        unlink(where);
        memcpy(u->sun_path, s->path, strlen(s->path) + 1);
        l = sizeof(*u);
    } else if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, where, &a->sin_addr);
        l = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, where, &a->sin6_addr);
        l = sizeof(*a);
    }
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&ss, l), 0);
    if (family != AF_UNIX) {
        l = sizeof(ss);
        getsockname(s->lfd, (struct sockaddr *)&ss, &l);
        s->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    assert_int_equal(listen(s->lfd, 8), 0);
    ev_io_init(&s->lio, srv_accept, s->lfd, EV_READ);
    s->lio.data = s;
    ev_io_start(loop, &s->lio);
}

static void srv_listen(struct srv *s, struct ev_loop *loop, int family, const char *where,
                       int kind)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->kind = kind;
    srv_bind(s, loop, family, where, 0);
}

/* Listens again on 127.0.0.1:port (the host restarted), keeping the
 * emulated hosts served so far. */
static void srv_listen_port(struct srv *s, struct ev_loop *loop, int port)
{
    srv_bind(s, loop, AF_INET, "127.0.0.1", port);
}

static void srv_stop_listening(struct srv *s)
{
    if (s->lfd < 0)
        return;
    ev_io_stop(s->loop, &s->lio);
    close(s->lfd);
    s->lfd = -1;
    if (s->path[0])
        unlink(s->path);
}

static void srv_free(struct srv *s)
{
    int i;
    srv_stop_listening(s);
    for (i = 0; i < s->n; i++)
        emu_free(s->emu[i]);
}

/* ---------------------------------------------------------------- helpers */

static bool one_completion(void *p) { return ((struct tdev *)p)->completions >= 1; }

/* Reads the device descriptor through the model; returns idVendor. */
static int read_vendor(struct tdev *d)
{
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    uint8_t buf[18];
    uint32_t got = 0;
    assert_int_equal(tdev_xfer(d, URG_EP_CONTROL, 0, get_dev, buf, 18, &got), URG_URB_SUCCESS);
    assert_int_equal(got, 18);
    return buf[8] | buf[9] << 8;
}

/* ---------------------------------------------------------------- tests */

static void test_addresses(void **state)
{
    struct urg_address a;
    char buf[300];
    (void)state;
    assert_int_equal(urg_address_parse("127.0.0.1:4000", &a), 0);
    assert_int_equal(a.kind, URG_ADDR_TCP);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 4000);
    assert_int_equal(urg_address_parse("[::1]:4000", &a), 0);
    assert_string_equal(a.host, "::1");
    urg_address_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "[::1]:4000");
    assert_int_equal(urg_address_parse("vmhost.example:0", &a), 0);
    assert_string_equal(a.host, "vmhost.example");
    assert_int_equal(urg_address_parse("unix:/run/usb.sock", &a), 0);
    assert_int_equal(a.kind, URG_ADDR_UNIX);
    assert_string_equal(a.path, "/run/usb.sock");
    assert_int_equal(urg_address_parse("fd:7", &a), 0);
    assert_int_equal(a.kind, URG_ADDR_FD);
    assert_int_equal(a.fd, 7);
    urg_address_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "fd:7");
    {
        static const char *bad[] = { "localhost", "::1:4000", "[::1]4000", "[]:1", "[1.2.3.4]:5",
                                     "host:65536", "host:-1", "host:", "unix:", "fd:", "fd:x",
                                     "fd:-3", ":80x" };
        size_t i;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            if (urg_address_parse(bad[i], &a) != URG_ERR_ADDRESS)
                fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_string_equal(urg_strerror(URG_ERR_TCP_GAP),
                        "the captured TCP stream has a gap");
    assert_string_equal(urg_strerror(URG_ERR_HCD_BUSY), "the URB is already in flight");
    assert_string_equal(urg_strerror(URG_ERR_STALLED),
                        "the host stopped reading what we send");
    /* A config that urg_transport_config_init() never made is refused;
     * one made for a smaller (older) struct keeps the library's defaults
     * for what lies beyond it. */
    {
        struct urg_transport_config tc;
        urg_transport *t = NULL;
        memset(&tc, 0, sizeof(tc));
        tc.address = "127.0.0.1:9";
        assert_int_equal(urg_transport_new(&tc, &t), URG_ERR_INVALID);
        assert_null(t);
        memset(&tc, 0x55, sizeof(tc));
        urg_transport_config_init_size(&tc, offsetof(struct urg_transport_config, reconnect));
        assert_int_equal(tc.size, offsetof(struct urg_transport_config, reconnect));
        assert_null(tc.address);
        assert_int_equal(tc.reconnect, 0x55555555); /* beyond its size: not written */
    }
}

static void test_fd_over_socketpair(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct emuhost *e;
    struct tdev d;
    struct urg_urb *u;
    uint8_t rep[8];
    (void)state;
    e = tdev_pair(&d, loop, NULL, NULL, NULL, NULL);
    assert_true(run_until(loop, tdev_attached, &d, 10));
    assert_int_equal(d.events[URG_TEV_CONNECTED], 1);
    assert_int_equal(read_vendor(&d), 0x0627);
    /* The first report typed: 'h'. */
    u = urg_urb_alloc(0);
    u->type = URG_EP_INTERRUPT;
    u->endpoint = 0x81;
    u->buffer = rep;
    u->length = 8;
    d.completions = 0;
    assert_int_equal(urg_hcd_submit(d.dev, u), 0);
    assert_true(run_until(loop, one_completion, &d, 10));
    assert_int_equal(rep[2], 0x0b);
    tdev_free(&d);
    assert_int_equal(d.detached, 1);
    urg_urb_free(u);
    emu_free(e);
    ev_loop_destroy(loop);
}

static bool hello_out(void *p)
{
    struct urg_transport_stats st;
    urg_transport_stats(((struct tdev *)p)->t, &st);
    return st.bytes_out > 0;
}

/* Bulk IN replies back to back: after the first read, each payload is read
 * straight into its URB's buffer (the engine's window) and only a header's
 * worth goes through the transport's buffer - no copy in user space. The
 * read that completes a window takes the next header's worth with it (one
 * readv per reply), kept in the transport's stash until it is fed.
 * The last reply is short (SHORT bytes): its header and payload fit the
 * stash whole. mode: BURST_PLAIN; BURST_PAUSE, the application pauses the
 * transport from the seventh URB's completion, when the stash holds the
 * whole last reply and the socket is empty, and resumes it later;
 * BURST_FREE, it frees the transport from the fifth's; BURST_STARVE, as
 * BURST_PAUSE with a descriptor readable at every loop turn beside it;
 * BURST_SEGMENTS, each URB's data is 41 segments (more than one readv
 * takes), read straight into them all the same, and the capture records
 * the host's bytes in order. */
enum { BURST_PLAIN, BURST_PAUSE, BURST_FREE, BURST_STARVE, BURST_SEGMENTS };
static void busy_cb(struct ev_loop *l, ev_io *w, int re) { (void)l; (void)w; (void)re; }
enum { BURST_N = 8, BURST_LEN = 16384, BURST_SHORT = 20 };
static struct urg_urb *burst_pause_on;

static void burst_pause(struct tdev *d, struct urg_urb *u)
{
    if (u == burst_pause_on)
        urg_transport_pause(d->t, 1);
}

static bool five_completions(void *p) { return ((struct tdev *)p)->completions >= 5; }
static bool seven_completions(void *p) { return ((struct tdev *)p)->completions >= 7; }
static bool all_completions(void *p) { return ((struct tdev *)p)->completions >= BURST_N; }


static void bulk_burst(int mode)
{
    enum { N = BURST_N, LEN = BURST_LEN, SEGS = 41, SEG = 400 };
    static struct iovec segs[N][SEGS];
    struct ev_loop *loop = ev_loop_new(0);
    struct urg_transport_stats st;
    struct urg_urb *u[N];
    struct testhost h;
    struct tdev d;
    static uint8_t bufs[N][LEN], payload[N][LEN];
    char addr[32], cap[64];
    static uint8_t wire[N * (LEN + 64) + 4096]; /* what the host wrote */
    size_t sent;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    snprintf(cap, sizeof(cap), "/tmp/urg-burst-%d.urgcap", (int)getpid());
    tdev_init(&d, loop, addr, 0, 0, mode == BURST_SEGMENTS ? cap : NULL);
    th_init(&h, URG_CAPS_ALL);
    /* The guest's hello, decoded by the host: the layout is known. */
    d.last_err = 0;
    assert_true(run_until(loop, hello_out, &d, 10));
    {
        uint8_t hello[512];
        ssize_t n = read(sv[1], hello, sizeof(hello));
        assert_true(n > 0);
        assert_int_equal(urg_decoder_feed(h.dec, hello, (size_t)n, NULL), 0);
    }
    th_hello(&h);
    th_device(&h); /* bulk IN 0x82 */
    assert_int_equal(write(sv[1], th_out(&h), th_out_len(&h)), (ssize_t)th_out_len(&h));
    sent = th_out_len(&h);
    memcpy(wire, th_out(&h), sent);
    th_drop(&h);
    assert_true(run_until(loop, tdev_attached, &d, 10));
    memset(bufs, 0, sizeof(bufs));
    for (int i = 0; i < N; i++) {
        u[i] = urg_urb_alloc(0);
        u[i]->type = URG_EP_BULK;
        u[i]->endpoint = 0x82;
        u[i]->buffer = bufs[i];
        u[i]->length = LEN;
        if (mode == BURST_SEGMENTS) {
            /* The same memory, as 41 segments (the last one short). */
            for (int k = 0; k < SEGS; k++) {
                segs[i][k].iov_base = bufs[i] + k * SEG;
                segs[i][k].iov_len = k < SEGS - 1 ? SEG : LEN - (SEGS - 1) * SEG;
            }
            u[i]->buffer = NULL;
            u[i]->iov = segs[i];
            u[i]->iovcnt = SEGS;
        }
        assert_int_equal(urg_hcd_submit(d.dev, u[i]), 0);
    }
    if (mode == BURST_PAUSE || mode == BURST_STARVE) {
        burst_pause_on = u[6];
        d.on_complete = burst_pause;
    } else if (mode == BURST_FREE) {
        d.free_transport_on = u[4];
    }
    /* The engine numbers the requests 1, 2, ...: the replies, all at once. */
    for (int i = 0; i < N; i++) {
        struct urg_packet p;
        for (int j = 0; j < LEN; j++) /* no two segments alike */
            payload[i][j] = (uint8_t)(j * 7 + j / 251 + i);
        memset(&p, 0, sizeof(p));
        p.type = URG_BULK_PACKET;
        p.id = (uint64_t)i + 1;
        p.h.bulk.endpoint = 0x82;
        p.h.bulk.length = i == N - 1 ? BURST_SHORT : LEN;
        p.data = payload[i];
        p.data_len = p.h.bulk.length;
        th_emit(&h, &p);
    }
    /* The guest's hello and requests are read by nobody: the socket keeps
     * them. The host side writes all its replies first. */
    assert_int_equal(write(sv[1], th_out(&h), th_out_len(&h)), (ssize_t)th_out_len(&h));
    assert_true(sent + th_out_len(&h) <= sizeof(wire));
    memcpy(wire + sent, th_out(&h), th_out_len(&h));
    sent += th_out_len(&h);
    d.completions = 0;
    if (mode == BURST_PAUSE || mode == BURST_STARVE) {
        assert_true(run_until(loop, seven_completions, &d, 10));
        /* Paused: the last reply, read already, waits in the stash. */
        for (int i = 0; i < 20; i++)
            ev_run(loop, EVRUN_NOWAIT);
        assert_int_equal(d.completions, 7);
        assert_int_equal(u[7]->status, URG_URB_PENDING);
        d.on_complete = NULL;
        urg_transport_pause(d.t, 0);
    }
    if (mode == BURST_STARVE) {
        /* Another descriptor on the same loop, readable at every turn (a
         * busy connection): the stash is fed all the same. */
        int bp[2];
        ev_io busy;
        assert_int_equal(pipe(bp), 0);
        assert_int_equal(write(bp[1], "x", 1), 1);
        ev_io_init(&busy, busy_cb, bp[0], EV_READ);
        ev_io_start(loop, &busy);
        for (int i = 0; i < 2000; i++)
            ev_run(loop, EVRUN_NOWAIT);
        ev_io_stop(loop, &busy);
        close(bp[0]);
        close(bp[1]);
        assert_int_equal(d.completions, N);
    }
    if (mode == BURST_FREE) {
        assert_true(run_until(loop, five_completions, &d, 10));
        assert_null(d.t);
        /* The rest complete (without a device) once the model lets go. */
        tdev_free(&d);
        assert_int_equal(d.completions, N);
        for (int i = 0; i < 5; i++)
            assert_memory_equal(bufs[i], payload[i], LEN);
    } else {
        assert_true(run_until(loop, all_completions, &d, 10));
        for (int i = 0; i < N; i++) {
            assert_int_equal(u[i]->status, i == N - 1 ? URG_URB_SHORT : URG_URB_SUCCESS);
            assert_int_equal(u[i]->actual_length, i == N - 1 ? BURST_SHORT : LEN);
            assert_memory_equal(bufs[i], payload[i], u[i]->actual_length);
        }
        urg_transport_stats(d.t, &st);
        /* The first read takes 64 KiB (copied); from the first direct read
         * on, only the 64-byte header reads are copied, and each comes in
         * the readv that completes the payload before it. */
        printf("bulk: %llu of %d payload bytes read straight into the URBs, %llu reads\n",
               (unsigned long long)st.direct_bytes, N * LEN, (unsigned long long)st.reads);
        assert_true(st.direct_bytes >= (uint64_t)(N - 5) * (LEN - 64));
        /* (A reply into 41 segments takes three readv of 16 at most.) */
        assert_true(st.reads <= (mode == BURST_SEGMENTS ? 3 * N : N));
        assert_int_equal(st.bytes_in, sent); /* each byte counted once */
        tdev_free(&d);
        if (mode == BURST_SEGMENTS) {
            /* The capture holds the host's bytes, each once, in order. */
            urg_capture_reader *rd;
            struct urg_capture_record rec;
            size_t got = 0;
            assert_int_equal(urg_capture_open(cap, &rd), 0);
            while (urg_capture_next(rd, &rec) == 1) {
                if (rec.kind != URG_CAP_HOST)
                    continue;
                assert_true(got + rec.len <= sent);
                assert_memory_equal(rec.data, wire + got, rec.len);
                got += rec.len;
            }
            assert_int_equal(got, sent);
            urg_capture_reader_free(rd);
            unlink(cap);
        }
    }
    th_free(&h);
    close(sv[1]);
    for (int i = 0; i < N; i++)
        urg_urb_free(u[i]);
    ev_loop_destroy(loop);
}

static void test_bulk_replies_read_straight_into_the_urbs(void **state)
{
    (void)state;
    bulk_burst(BURST_PLAIN);
}

static void test_bulk_replies_read_straight_into_segments(void **state)
{
    (void)state;
    bulk_burst(BURST_SEGMENTS);
}

static void test_bulk_replies_pause_with_a_header_read_ahead(void **state)
{
    (void)state;
    bulk_burst(BURST_PAUSE);
}

static void test_bulk_replies_stash_fed_beside_a_busy_fd(void **state)
{
    (void)state;
    bulk_burst(BURST_STARVE);
}

static void test_bulk_replies_free_with_a_header_read_ahead(void **state)
{
    (void)state;
    bulk_burst(BURST_FREE);
}

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t l = sizeof(v);
    assert_int_equal(getsockopt(fd, level, name, &v, &l), 0);
    return v;
}

static void connect_and_read(struct ev_loop *loop, const char *addr, int vendor)
{
    struct tdev d;
    int fd;
    tdev_init(&d, loop, addr, 0, 0, NULL);
    assert_int_equal(urg_transport_fd(d.t), -1);
    assert_true(run_until(loop, tdev_attached, &d, 10));
    fd = urg_transport_fd(d.t);
    assert_true(fd >= 0);
    assert_true(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE) != 0);
    if (strncmp(addr, "unix:", 5) != 0) {
        assert_true(sockopt(fd, IPPROTO_TCP, TCP_NODELAY) != 0);
        assert_int_equal(sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 30);
    }
    assert_int_equal(read_vendor(&d), vendor);
    tdev_free(&d);
}

static void test_tcp_ipv4_ipv6_and_unix(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct srv s4, s6, su;
    char addr[128];
    (void)state;
    srv_listen(&s4, loop, AF_INET, "127.0.0.1", EMU_MSC);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", s4.port);
    connect_and_read(loop, addr, 0x46f4);
    srv_listen(&s6, loop, AF_INET6, "::1", EMU_SERIAL);
    snprintf(addr, sizeof(addr), "[::1]:%d", s6.port);
    connect_and_read(loop, addr, 0x0403);
    snprintf(addr, sizeof(addr), "/tmp/urg-test-%d.sock", (int)getpid());
    srv_listen(&su, loop, AF_UNIX, addr, EMU_KEYBOARD);
    snprintf(addr, sizeof(addr), "unix:/tmp/urg-test-%d.sock", (int)getpid());
    connect_and_read(loop, addr, 0x0627);
    srv_free(&s4);
    srv_free(&s6);
    srv_free(&su);
    ev_loop_destroy(loop);
}

/* usbredirect --to: the host connects to a listening guest. */
static void test_listen_mode(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct emu_config c;
    struct emuhost *e;
    struct tdev d;
    struct sockaddr_in6 a;
    int fd;
    (void)state;
    tdev_init(&d, loop, "[::1]:0", 1, 0, NULL);
    assert_true(urg_transport_port(d.t) > 0);
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::1", &a.sin6_addr);
    a.sin6_port = htons((uint16_t)urg_transport_port(d.t));
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    emu_config_init(&c, EMU_MSC);
    e = emu_new(&c);
    emu_serve(e, loop, fd, NULL, NULL);
    assert_true(run_until(loop, tdev_attached, &d, 10));
    assert_int_equal(read_vendor(&d), 0x46f4);
    /* The host goes; the guest listens again for the next one. */
    emu_close(e);
    assert_true(run_until(loop, tdev_detached, &d, 10));
    assert_int_equal(d.events[URG_TEV_DISCONNECTED], 1);
    assert_int_equal(d.events[URG_TEV_CLOSED], 0);
    emu_free(e);
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    emu_config_init(&c, EMU_KEYBOARD);
    e = emu_new(&c);
    emu_serve(e, loop, fd, NULL, NULL);
    assert_true(run_until(loop, tdev_attached, &d, 10));
    assert_int_equal(d.attached, 2);
    assert_int_equal(read_vendor(&d), 0x0627);
    tdev_free(&d);
    emu_free(e);
    ev_loop_destroy(loop);
}

static bool attached_twice(void *p) { return ((struct tdev *)p)->attached >= 2; }
static bool five_retries(void *p) { return ((struct tdev *)p)->nretry >= 5; }
static bool attached_thrice(void *p) { return ((struct tdev *)p)->attached >= 3; }


static void test_reconnect(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct srv s;
    struct tdev d;
    struct urg_urb *u;
    uint8_t buf[512];
    char addr[64];
    int port;
    (void)state;
    srv_listen(&s, loop, AF_INET, "127.0.0.1", EMU_MSC);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", s.port);
    tdev_init(&d, loop, addr, 0, 1, NULL);
    assert_true(run_until(loop, tdev_attached, &d, 10));
    /* A URB waiting when the host dies (a bulk IN with no command). */
    u = urg_urb_alloc(0);
    u->type = URG_EP_BULK;
    u->endpoint = 0x81;
    u->buffer = buf;
    u->length = sizeof(buf);
    d.completions = 0;
    assert_int_equal(urg_hcd_submit(d.dev, u), 0);
    /* usbredirect serves one connection and exits: the host side closes,
     * and nobody listens until it is restarted. */
    port = s.port;
    srv_stop_listening(&s);
    emu_close(s.emu[0]);
    assert_true(run_until(loop, one_completion, &d, 10));
    assert_int_equal(d.last_status, URG_URB_NODEV);
    assert_true(run_until(loop, tdev_detached, &d, 10));
    assert_int_equal(d.events[URG_TEV_DISCONNECTED], 1);
    assert_int_equal(d.last_err, URG_ERR_EOF);
    /* Attempts fail with a backoff that doubles from 10 ms up to 80 ms. */
    assert_true(run_until(loop, five_retries, &d, 10));
    assert_int_equal(d.attached, 1);
    assert_true(d.retry_delays[0] == 0.01 && d.retry_delays[1] == 0.02 &&
                d.retry_delays[2] == 0.04 && d.retry_delays[3] == 0.08 &&
                d.retry_delays[4] == 0.08);
    /* ...it is restarted: the device attaches again, by itself. */
    srv_listen_port(&s, loop, port);
    assert_true(run_until(loop, attached_twice, &d, 10));
    assert_int_equal(s.n, 2);
    assert_int_equal(read_vendor(&d), 0x46f4);
    {
        struct urg_transport_stats st;
        urg_transport_stats(d.t, &st);
        assert_int_equal(st.connects, 2);
        assert_true(st.retries >= 5);
        assert_true(st.retry_delay == 0);
    }
    /* It exits again, and now its port accepts and closes at once (a
     * forwarded port whose usbredirect is gone): those connections end
     * before the host says a thing, so the backoff goes on doubling - from
     * the start, since the last host did speak. */
    s.kind = -1;
    d.nretry = 0;
    emu_close(s.emu[1]);
    assert_true(run_until(loop, five_retries, &d, 10));
    assert_true(s.resets >= 4);
    assert_int_equal(d.attached, 2);
    assert_true(d.retry_delays[0] == 0.01 && d.retry_delays[1] == 0.02 &&
                d.retry_delays[2] == 0.04 && d.retry_delays[3] == 0.08 &&
                d.retry_delays[4] == 0.08);
    /* ...until a real host is back. */
    s.kind = EMU_MSC;
    assert_true(run_until(loop, attached_thrice, &d, 10));
    assert_int_equal(read_vendor(&d), 0x46f4);
    tdev_free(&d);
    urg_urb_free(u);

    /* Nobody listens any more: bounded retries, then closed. */
    srv_free(&s);
    tdev_init_retries(&d, loop, addr, 3);
    assert_true(run_until(loop, tdev_closed, &d, 10));
    assert_int_equal(d.nretry, 3);
    assert_int_equal(d.events[URG_TEV_RETRY], 3);
    assert_int_equal(d.last_err, URG_ERR_CONNECT);
    assert_int_equal(d.attached, 0);
    tdev_free(&d);
    ev_loop_destroy(loop);
}

static bool blocked(void *p) { return ((struct tdev *)p)->events[URG_TEV_OUTPUT_BLOCKED] > 0; }

struct drain {
    struct tdev *d;
    int want;
};
static bool drained(void *p)
{
    struct drain *x = p;
    return x->d->events[URG_TEV_OUTPUT_DRAINED] > 0 && x->d->completions >= x->want;
}

/* The host has had the start and has written all its reports. */
static bool host_started_and_quiet(void *p)
{
    size_t n;
    emu_output(p, &n);
    return emu_count(p, URG_START_INTERRUPT_RECEIVING) == 1 && n == 0;
}

static void test_backpressure(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct emu_config c;
    struct emuhost *e;
    struct tdev d;
    struct urg_urb *u[1024], *intr;
    struct urg_transport_stats before, after;
    static uint8_t big[65536];
    uint8_t rep[8];
    int sv[2], small = 8192, i, n, r = 0;
    char addr[32];
    struct drain x;
    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    emu_config_init(&c, EMU_KEYBOARD);
    e = emu_new(&c);
    emu_serve(e, loop, sv[1], NULL, NULL);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    tdev_init(&d, loop, addr, 0, 0, NULL);
    assert_true(run_until(loop, tdev_attached, &d, 10));

    /* A slow host: it stops reading. The guest's output piles up: past
     * output_high (256 KiB here) the application is told, and at the
     * engine's bound (max_output_bytes, 32 MiB) requests are refused. */
    emu_pause(e, 1);
    d.completions = 0;
    for (n = 0; n < 1024; n++) {
        u[n] = urg_urb_alloc(0);
        u[n]->type = URG_EP_CONTROL;
        u[n]->setup[0] = 0x40; /* a vendor OUT request with 64 KiB - 1 of data */
        u[n]->setup[6] = 0xff;
        u[n]->setup[7] = 0xff;
        u[n]->buffer = big;
        u[n]->length = 65535;
        if ((r = urg_hcd_submit(d.dev, u[n])) != 0)
            break;
        if (n == 40)
            assert_true(run_until(loop, blocked, &d, 10));
    }
    assert_int_equal(r, URG_ERR_AGAIN);
    urg_urb_free(u[n]); /* refused: not in flight */
    assert_true(n > 400);
    assert_true(urg_session_output_pending(urg_hcd_dev_session(d.dev)) <= 32u << 20);
    assert_int_equal(d.events[URG_TEV_OUTPUT_BLOCKED], 1);
    assert_int_equal(d.completions, 0);
    /* The host reads again: everything drains, every URB completes. */
    emu_pause(e, 0);
    x.d = &d;
    x.want = n;
    assert_true(run_until(loop, drained, &x, 60));
    assert_int_equal(d.completions, n);

    /* The other way: the application pauses reading. */
    urg_transport_pause(d.t, 1);
    intr = urg_urb_alloc(0);
    intr->type = URG_EP_INTERRUPT;
    intr->endpoint = 0x81;
    intr->buffer = rep;
    intr->length = 8;
    d.completions = 0;
    assert_int_equal(urg_hcd_submit(d.dev, intr), 0);
    urg_transport_stats(d.t, &before);
    /* The start goes out (writing goes on), the host answers with reports
     * that wait in the socket: nothing reaches the guest. */
    assert_true(run_until(loop, host_started_and_quiet, e, 10));
    ev_run(loop, EVRUN_NOWAIT);
    urg_transport_stats(d.t, &after);
    assert_int_equal(after.bytes_in, before.bytes_in);
    assert_int_equal(d.completions, 0);
    urg_transport_pause(d.t, 0);
    assert_true(run_until(loop, one_completion, &d, 10));
    assert_int_equal(rep[2], 0x0b);
    tdev_free(&d);
    for (i = 0; i < n; i++)
        urg_urb_free(u[i]);
    urg_urb_free(intr);
    emu_free(e);
    ev_loop_destroy(loop);
}

struct many {
    struct tdev d[32];
    int n;
};
static bool all_attached(void *p)
{
    struct many *m = p;
    int i;
    for (i = 0; i < m->n; i++)
        if (!tdev_attached(&m->d[i]))
            return false;
    return true;
}
static bool all_completed(void *p)
{
    struct many *m = p;
    int i;
    for (i = 0; i < m->n; i++)
        if (m->d[i].completions < 1)
            return false;
    return true;
}

static void test_many_devices_on_one_loop(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    static struct many m;
    struct emuhost *e[32];
    struct urg_urb *u[32];
    uint8_t rep[32][8];
    int i;
    (void)state;
    m.n = 32;
    for (i = 0; i < 32; i++) {
        struct emu_config c;
        emu_config_init(&c, EMU_KEYBOARD);
        c.text = i % 2 ? "a" : "b";
        e[i] = tdev_pair(&m.d[i], loop, &c, NULL, NULL, NULL);
    }
    assert_true(run_until(loop, all_attached, &m, 20));
    for (i = 0; i < 32; i++) {
        u[i] = urg_urb_alloc(0);
        u[i]->type = URG_EP_INTERRUPT;
        u[i]->endpoint = 0x81;
        u[i]->buffer = rep[i];
        u[i]->length = 8;
        assert_int_equal(urg_hcd_submit(m.d[i].dev, u[i]), 0);
    }
    assert_true(run_until(loop, all_completed, &m, 20));
    for (i = 0; i < 32; i++) {
        assert_int_equal(rep[i][2], i % 2 ? 0x04 : 0x05); /* 'a' or 'b' */
        tdev_free(&m.d[i]);
        urg_urb_free(u[i]);
        emu_free(e[i]);
    }
    ev_loop_destroy(loop);
}

static bool emu_gone(void *p) { return *(int *)p != 0; }
static void emu_done(void *ctx, struct emuhost *e)
{
    (void)e;
    *(int *)ctx = 1;
}

static void test_free_inside_a_callback(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct emuhost *e;
    struct tdev d;
    struct urg_urb *u;
    uint8_t rep[8];
    int gone = 0, events_before;
    (void)state;
    e = tdev_pair(&d, loop, NULL, NULL, emu_done, &gone);
    assert_true(run_until(loop, tdev_attached, &d, 10));
    u = urg_urb_alloc(0);
    u->type = URG_EP_INTERRUPT;
    u->endpoint = 0x81;
    u->buffer = rep;
    u->length = 8;
    d.free_transport_on = u; /* the completion frees the transport */
    assert_int_equal(urg_hcd_submit(d.dev, u), 0);
    events_before = d.events[URG_TEV_DISCONNECTED] + d.events[URG_TEV_CLOSED];
    assert_true(run_until(loop, emu_gone, &gone, 10)); /* the host saw EOF */
    assert_null(d.t);
    /* No transport event after the free. */
    assert_int_equal(d.events[URG_TEV_DISCONNECTED] + d.events[URG_TEV_CLOSED], events_before);
    assert_int_equal(d.detached, 1);
    urg_hcd_dev_free(d.dev);
    urg_urb_free(u);
    emu_free(e);
    ev_loop_destroy(loop);
}

struct counts {
    int guest[URG_TYPE_COUNT], host[URG_TYPE_COUNT];
    uint32_t last_index;
};
static int count_packets(void *ctx, const struct urg_capture_packet *cp)
{
    struct counts *c = ctx;
    int i = urg_type_index(cp->p->type);
    if (cp->dir == URG_DIR_TO_HOST)
        c->guest[i]++;
    else
        c->host[i]++;
    assert_int_equal(cp->index, c->last_index + 1);
    c->last_index = cp->index;
    return 0;
}

static void test_capture_of_a_session(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct emu_config c;
    struct emuhost *e;
    struct tdev d;
    struct counts k;
    char path[] = "/tmp/urg-cap-XXXXXX", err[256];
    int fd, i;
    (void)state;
    fd = mkstemp(path);
    close(fd);
    emu_config_init(&c, EMU_MSC);
    e = tdev_pair(&d, loop, &c, path, NULL, NULL);
    assert_true(run_until(loop, tdev_attached, &d, 10));
    assert_int_equal(read_vendor(&d), 0x46f4);
    assert_int_equal(read_vendor(&d), 0x46f4);
    tdev_free(&d);
    memset(&k, 0, sizeof(k));
    assert_int_equal(urg_capture_decode(path, count_packets, &k, err, sizeof(err)), 0);
    /* Every packet the guest sent is in the capture, as the host saw it. */
    for (i = 0; i < URG_TYPE_COUNT; i++)
        assert_int_equal(k.guest[i], (int)emu_count(e, urg_type_at(i)));
    assert_int_equal(k.guest[urg_type_index(URG_CONTROL_PACKET)], 2);
    assert_int_equal(k.host[urg_type_index(URG_HELLO)], 1);
    assert_int_equal(k.host[urg_type_index(URG_DEVICE_CONNECT)], 1);
    assert_int_equal(k.host[urg_type_index(URG_CONTROL_PACKET)], 2);
    unlink(path);
    emu_free(e);
    ev_loop_destroy(loop);
}

/* A host that never reads and floods packets the guest must answer: a
 * device_connect and a device_disconnect, again and again (each costs the
 * guest a device_disconnect_ack). */
struct flood {
    struct ev_loop *loop;
    ev_io w;
    ev_check check;
    uint8_t *chunk;       /* hello + connects + disconnects, then pairs */
    size_t first, len, off;
    uint64_t written;
    int eagain;
    urg_hcd_dev *dev;
    size_t most;          /* the guest's output queue at its largest */
};

static void flood_write(struct ev_loop *loop, ev_io *w, int revents)
{
    struct flood *f = w->data;
    (void)loop;
    (void)revents;
    for (;;) {
        ssize_t n = write(w->fd, f->chunk + f->off, f->len - f->off);
        if (n <= 0) {
            if (n < 0 && errno == EAGAIN)
                f->eagain++;
            else
                ev_io_stop(f->loop, w); /* the guest hung up */
            return;
        }
        f->written += (uint64_t)n;
        f->off += (size_t)n;
        if (f->off == f->len)
            f->off = f->first; /* the pairs again, without the hello */
    }
}

static void flood_measure(struct ev_loop *loop, ev_check *w, int revents)
{
    struct flood *f = w->data;
    urg_session *s = urg_hcd_dev_session(f->dev);
    (void)loop;
    (void)revents;
    if (s && urg_session_output_pending(s) > f->most)
        f->most = urg_session_output_pending(s);
}

static bool closed_or_dropped(void *p)
{
    struct tdev *d = p;
    return d->events[URG_TEV_DISCONNECTED] > 0;
}

static void test_host_that_never_reads(void **state)
{
    const uint32_t host_caps = URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_64BITS_IDS);
    struct urg_wire w0 = { 0, 0 }, w = urg_wire_from_caps(host_caps, URG_CAPS_ALL);
    struct ev_loop *loop = ev_loop_new(0);
    struct urg_transport_stats st;
    struct urg_packet p;
    struct flood f;
    struct tdev d;
    int sv[2], small = 8192, n, i;
    char addr[32];
    (void)state;
    memset(&f, 0, sizeof(f));
    f.chunk = malloc(64 * 1024);
    assert_non_null(f.chunk);
    memset(&p, 0, sizeof(p));
    p.type = URG_HELLO;
    snprintf(p.h.hello.version, sizeof(p.h.hello.version), "flood");
    p.h.hello.caps[0] = host_caps;
    p.h.hello.caps_words = 1;
    n = urg_encode(&w0, URG_DIR_TO_GUEST, &p, f.chunk, 64 * 1024);
    assert_true(n > 0);
    f.first = f.len = (size_t)n;
    for (i = 0; i < 1000; i++) {
        memset(&p, 0, sizeof(p));
        p.type = URG_DEVICE_CONNECT;
        p.h.device_connect.speed = URG_SPEED_FULL;
        p.h.device_connect.vendor_id = 0x1234;
        n = urg_encode(&w, URG_DIR_TO_GUEST, &p, f.chunk + f.len, 64 * 1024 - f.len);
        assert_true(n > 0);
        f.len += (size_t)n;
        memset(&p, 0, sizeof(p));
        p.type = URG_DEVICE_DISCONNECT;
        n = urg_encode(&w, URG_DIR_TO_GUEST, &p, f.chunk + f.len, 64 * 1024 - f.len);
        assert_true(n > 0);
        f.len += (size_t)n;
    }
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    f.loop = loop;
    ev_io_init(&f.w, flood_write, sv[1], EV_WRITE);
    f.w.data = &f;
    ev_io_start(loop, &f.w);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    /* output_high under the engine's 64 KiB of unread answers, so the
     * transport stops reading before the engine would fail the session. */
    tdev_init_bounds(&d, loop, addr, 16 * 1024, 0.5);
    f.dev = d.dev;
    ev_check_init(&f.check, flood_measure);
    f.check.data = &f;
    ev_check_start(loop, &f.check);

    /* Reading stops once 16 KiB of answers wait; the host's writes then
     * block too; half a second without a byte taken ends the connection. */
    assert_true(run_until(loop, closed_or_dropped, &d, 20));
    assert_int_equal(d.last_err, URG_ERR_STALLED);
    urg_transport_stats(d.t, &st);
    assert_true(st.blocked >= 1);
    assert_true(f.eagain >= 1);
    /* At most output_high plus what one read (64 KiB) of requests for
     * answers can add (an ack per 30 bytes read). */
    assert_true(f.most > 16 * 1024);
    assert_true(f.most <= 16 * 1024 + 64 * 1024);
    printf("never-reading host: wrote %llu bytes, the guest's output queue peaked at %zu "
           "bytes, %llu bytes read\n",
           (unsigned long long)f.written, f.most, (unsigned long long)st.bytes_in);
    ev_check_stop(loop, &f.check);
    ev_io_stop(loop, &f.w);
    tdev_free(&d);
    close(sv[1]);
    free(f.chunk);
    ev_loop_destroy(loop);
}

/* ---------------------------------------------------------------- when requests go out */

/* The host's end of the connection, read by the test: every byte there is
 * decoded into h.pkts. */
struct order_host {
    struct testhost h;
    int fd;
};

static void host_take(struct order_host *o)
{
    uint8_t buf[4096];
    ssize_t n;
    while ((n = read(o->fd, buf, sizeof(buf))) > 0)
        assert_int_equal(urg_decoder_feed(o->h.dec, buf, (size_t)n, NULL), 0);
}

/* A prepare watcher: it runs when the loop is about to wait, by priority
 * before (EV_MAXPRI) or after (EV_MINPRI) the transport's own (0), and
 * once armed and the device has had min_completions, notes what the host
 * has received by then; then it ends the loop's iteration before the
 * wait. */
struct probe {
    ev_prepare w;
    struct order_host *host;
    struct tdev *d;
    bool armed, fired;
    int min_completions;
    int requests;              /* control requests on the host's end */
    uint64_t writes;           /* the transport's writes so far */
};

static void probe_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct probe *p = (struct probe *)w;
    struct urg_transport_stats st;
    (void)revents;
    if (!p->armed || p->fired || p->d->completions < p->min_completions)
        return;
    host_take(p->host);
    p->requests = th_count(&p->host->h, URG_CONTROL_PACKET);
    urg_transport_stats(p->d->t, &st);
    p->writes = st.writes;
    p->fired = true;
    ev_break(loop, EVBREAK_ONE); /* the loop does not wait */
}

static bool probe_fired(void *p) { return ((struct probe *)p)->fired; }

/* The completion resubmits its URB once (as a VMM's ring refills). */
static int resubmits;
static void resubmit(struct tdev *d, struct urg_urb *u)
{
    if (resubmits-- > 0)
        assert_int_equal(urg_hcd_submit(d->dev, u), 0);
}

/* Requests leave at once, one write each, and the loop waits with nothing
 * queued: a request made outside the transport's callbacks is written by
 * its prepare watcher, before the loop waits (seen by a prepare watcher
 * that runs after it); a request made from a completion is written at the
 * end of the read that completed it, before any prepare watcher runs (seen
 * by one that runs before the transport's), not an iteration later. The
 * order of events is what is checked, never time. guest_fd and host_fd
 * are the two ends of a socketpair (the transport send()s) or of a pty
 * (it write()s). */
static void requests_leave_at_once(int guest_fd, int host_fd)
{
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    static const uint8_t desc[18] = { 18, 1, 0, 2, 0, 0, 0, 64, 0x34, 0x12, 0x78, 0x56 };
    struct ev_loop *loop = ev_loop_new(0);
    struct order_host o;
    struct probe before, after;
    struct urg_transport_stats st0;
    struct urg_packet rep;
    struct urg_urb *u;
    struct tdev d;
    uint8_t buf[18];
    char addr[32];
    uint64_t id;
    memset(&o, 0, sizeof(o));
    o.fd = host_fd;
    fcntl(host_fd, F_SETFL, O_NONBLOCK);
    snprintf(addr, sizeof(addr), "fd:%d", guest_fd);
    tdev_init(&d, loop, addr, 0, 0, NULL);
    th_init(&o.h, URG_CAPS_ALL);
    assert_true(run_until(loop, hello_out, &d, 10));
    host_take(&o);
    th_hello(&o.h);
    th_device(&o.h);
    assert_int_equal(write(host_fd, th_out(&o.h), th_out_len(&o.h)), (ssize_t)th_out_len(&o.h));
    th_drop(&o.h);
    assert_true(run_until(loop, tdev_attached, &d, 10));
    host_take(&o);
    th_clear(&o.h);

    memset(&before, 0, sizeof(before));
    memset(&after, 0, sizeof(after));
    before.host = after.host = &o;
    before.d = after.d = &d;
    ev_prepare_init(&before.w, probe_cb);
    ev_set_priority(&before.w, EV_MAXPRI);
    ev_prepare_start(loop, &before.w);
    ev_prepare_init(&after.w, probe_cb);
    ev_set_priority(&after.w, EV_MINPRI);
    ev_prepare_start(loop, &after.w);

    /* From outside: on the host's end before the loop first waits. */
    u = urg_urb_alloc(0);
    u->type = URG_EP_CONTROL;
    memcpy(u->setup, get_dev, 8);
    u->buffer = buf;
    u->length = sizeof(buf);
    urg_transport_stats(d.t, &st0);
    assert_int_equal(urg_hcd_submit(d.dev, u), 0);
    after.armed = true;
    assert_true(run_until(loop, probe_fired, &after, 10));
    assert_int_equal(after.requests, 1);
    assert_int_equal(after.writes, st0.writes + 1);
    id = th_find(&o.h, URG_CONTROL_PACKET)->p.id;

    /* From a completion: the reply in, the completion resubmits, and the
     * next request is on the host's end before any prepare watcher. */
    th_clear(&o.h);
    resubmits = 1;
    d.on_complete = resubmit;
    d.completions = 0;
    memset(&rep, 0, sizeof(rep));
    rep.type = URG_CONTROL_PACKET;
    rep.id = id;
    rep.h.control.endpoint = 0x80;
    rep.h.control.request = 6;
    rep.h.control.requesttype = 0x80;
    rep.h.control.value = 0x100;
    rep.h.control.length = sizeof(desc);
    rep.data = desc;
    rep.data_len = sizeof(desc);
    th_emit(&o.h, &rep);
    assert_int_equal(write(host_fd, th_out(&o.h), th_out_len(&o.h)), (ssize_t)th_out_len(&o.h));
    th_drop(&o.h);
    before.min_completions = 1;
    before.armed = true;
    assert_true(run_until(loop, one_completion, &d, 10));
    assert_int_equal(d.last_status, URG_URB_SUCCESS);
    assert_memory_equal(buf, desc, sizeof(desc));
    assert_true(run_until(loop, probe_fired, &before, 10));
    assert_int_equal(before.requests, 1);
    assert_int_equal(before.writes, after.writes + 1);
    assert_int_equal(resubmits, 0);

    ev_prepare_stop(loop, &before.w);
    ev_prepare_stop(loop, &after.w);
    tdev_free(&d);
    th_free(&o.h);
    urg_urb_free(u);
    ev_loop_destroy(loop);
}

static void test_requests_leave_at_once(void **state)
{
    int sv[2];
    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    requests_leave_at_once(sv[0], sv[1]);
    close(sv[1]);
}

/* The same over a pty in raw mode: an fd that is no socket. */
static void test_requests_leave_at_once_not_a_socket(void **state)
{
    struct termios tio;
    int master, slave;
    (void)state;
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master) ||
        (slave = open(ptsname(master), O_RDWR | O_NOCTTY)) < 0) {
        if (master >= 0)
            close(master);
        skip(); /* no ptys here */
        return;
    }
    assert_int_equal(tcgetattr(slave, &tio), 0);
    cfmakeraw(&tio);
    assert_int_equal(tcsetattr(slave, TCSANOW, &tio), 0);
    requests_leave_at_once(master, slave);
    close(slave);
}

static void test_broken_host(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct tdev d;
    uint8_t junk[80 + 16];
    int sv[2];
    char addr[32];
    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(junk, 0, sizeof(junk));
    junk[4] = 68; /* a hello with one caps word */
    junk[76] = 0xff;
    junk[80] = 77; /* then a packet of an unknown type */
    assert_int_equal(write(sv[1], junk, sizeof(junk)), (ssize_t)sizeof(junk));
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    tdev_init(&d, loop, addr, 0, 1, NULL);
    assert_true(run_until(loop, tdev_closed, &d, 10));
    assert_int_equal(d.events[URG_TEV_DISCONNECTED], 1);
    assert_int_equal(d.last_err, URG_ERR_PROTO_TYPE);
    assert_int_equal(urg_transport_connected(d.t), 0);
    tdev_free(&d);
    close(sv[1]);
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_fd_over_socketpair),
        cmocka_unit_test(test_bulk_replies_read_straight_into_the_urbs),
        cmocka_unit_test(test_bulk_replies_read_straight_into_segments),
        cmocka_unit_test(test_bulk_replies_pause_with_a_header_read_ahead),
        cmocka_unit_test(test_bulk_replies_free_with_a_header_read_ahead),
        cmocka_unit_test(test_bulk_replies_stash_fed_beside_a_busy_fd),
        cmocka_unit_test(test_tcp_ipv4_ipv6_and_unix),
        cmocka_unit_test(test_listen_mode),
        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_host_that_never_reads),
        cmocka_unit_test(test_many_devices_on_one_loop),
        cmocka_unit_test(test_free_inside_a_callback),
        cmocka_unit_test(test_capture_of_a_session),
        cmocka_unit_test(test_broken_host),
        cmocka_unit_test(test_requests_leave_at_once),
        cmocka_unit_test(test_requests_leave_at_once_not_a_socket),
    };
    return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}

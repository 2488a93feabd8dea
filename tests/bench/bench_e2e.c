/*
 * bench_e2e.c - end-to-end bulk IN throughput over loopback TCP and a Unix
 * socket: a fast usb-host (libusbredirparser in the host role, answering
 * every bulk IN request on 0x81 with as many bytes as it asked for) in a
 * child process, and in this one a guest keeping K URBs of S bytes
 * outstanding:
 *
 *   urg   the library: hcd-model + transport (libev), the URB resubmitted
 *         from its completion
 *   ref   libusbredirparser in the guest role, polling its socket; each
 *         reply's data copied into the request's buffer (as QEMU does),
 *         the request sent again
 *   raw   no protocol: the host writes 64 KiB buffers, the guest reads them
 *   rawcopy  as raw, the host copying each 64 KiB into a fresh buffer
 *         first, as the parser in the host role sends every packet
 *   urg-wv, ref-wv  urg and ref against the writev host instead
 *         (FASTHOST_WRITEV: the handshake through the parser, then each
 *         request answered from a patched copy of its header and a static
 *         payload, many replies to a writev), which does little more per
 *         byte than raw's host
 *
 *   bench_e2e tcp|unix urg|ref|urg-wv|ref-wv|raw|rawcopy K S SECONDS
 *       prints "MB/s HOST% GUEST% FAULTS": the throughput, the CPU the host
 *       and the guest process used over the measured seconds (% of one
 *       CPU), and the host's minor page faults per GB moved
 *   bench_e2e tcp|unix rtt-urg|rtt-ref|rtt-raw|rtt-urg-wv|rtt-ref-wv|rtt-raw-ev N
 *       prints "P50 P99 GUEST-CPU HOST-CPU GUEST-WAIT HOST-WAIT" in µs: the
 *       latency's median and 99th percentile, and per round trip the CPU
 *       time of the guest and of the host and their time waiting for a CPU
 *       (/proc/PID/schedstat: the load of the machine shows in the waits)
 *
 * The round trip: N control IN requests of 18 bytes (GET_DESCRIPTOR), one
 * at a time; raw is a ping-pong of the same sizes on the wire (26 bytes
 * out, 44 back) with no protocol. rtt-urg and rtt-ref talk to the parser
 * host (what a real usbredirect does: parse each request, build each
 * reply); rtt-urg-wv and rtt-ref-wv to the writev host, which answers from
 * a reply encoded once with one read and one write per round trip, as raw's
 * host does: the difference to raw is then the guest's. rtt-raw-ev is raw's
 * ping-pong on a libev loop (non-blocking, an ev_io, the next request
 * written from its callback): what waiting on an event loop costs any
 * guest, with no protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>
#include <usbredirparser.h>

#include "fasthost.h"
#include "urg_hcd_transport.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- the reference's I/O */

static void io_hello(void *priv, struct usb_redir_hello_header *h) { (void)priv, (void)h; }
static void r_ii(void *priv, struct usb_redir_interface_info_header *h) { (void)priv, (void)h; }
static void r_ei(void *priv, struct usb_redir_ep_info_header *h) { (void)priv, (void)h; }

/* A reference guest connected to addr: the parser, its I/O and setup
 * callbacks (priv for all of them; it must start with a struct fasthost_io). The
 * caller sets device_connect_func and the reply callback, then calls
 * usbredirparser_init() through ref_guest_init(). */
static struct usbredirparser *ref_guest_open(struct fasthost_io *x, const char *addr, void *priv)
{
    struct usbredirparser *p = usbredirparser_create();
    x->p = p;
    x->fd = fasthost_connect(addr);
    fcntl(x->fd, F_SETFL, O_NONBLOCK);
    p->priv = priv;
    p->log_func = fasthost_io_log;
    p->read_func = fasthost_io_read;
    p->write_func = fasthost_io_write;
    p->hello_func = io_hello;
    p->interface_info_func = r_ii;
    p->ep_info_func = r_ei;
    return p;
}

static void ref_guest_init(struct usbredirparser *p)
{
    uint32_t caps[USB_REDIR_CAPS_SIZE] = { 0xff };
    usbredirparser_init(p, "refguest", caps, USB_REDIR_CAPS_SIZE, 0);
}

/* One wait for the socket and what it allows; -1 when it is over. */
static int ref_guest_poll(struct fasthost_io *x, int timeout_ms)
{
    struct pollfd f = { x->fd, POLLIN, 0 };
    if (usbredirparser_has_data_to_write(x->p))
        f.events |= POLLOUT;
    if (poll(&f, 1, timeout_ms) <= 0)
        return -1;
    if ((f.revents & POLLOUT) && usbredirparser_do_write(x->p) < 0)
        return -1;
    if ((f.revents & POLLIN) && usbredirparser_do_read(x->p) < 0)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- measuring */

/* CPU seconds (user + system) a process has used, and its minor page
 * faults, from /proc/PID/stat. */
struct proc_use {
    double cpu;
    unsigned long minflt;
};

static struct proc_use proc_use(pid_t pid)
{
    struct proc_use u = { 0, 0 };
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    size_t n;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return u;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* after "pid (comm) ": state is field 3; minflt 10; utime and stime 14 and 15 */
    if (!(p = strrchr(buf, ')')) ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %lu %*u %*u %*u %lu %lu", &u.minflt, &ut,
               &st) != 3)
        return u;
    u.cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return u;
}

struct meter {
    double t0, warm, until;
    uint64_t bytes;   /* counted after warm-up */
    int done, started;
    pid_t host;
    struct proc_use use0[2], use1[2]; /* host, guest at warm and at until */
};

static void count(struct meter *m, uint64_t n)
{
    double t = now();
    if (t >= m->warm && !m->started) {
        m->started = 1;
        m->use0[0] = proc_use(m->host);
        m->use0[1] = proc_use(getpid());
    }
    if (t >= m->warm && t < m->until)
        m->bytes += n;
    if (t >= m->until && !m->done) {
        m->done = 1;
        m->use1[0] = proc_use(m->host);
        m->use1[1] = proc_use(getpid());
    }
}

/* ---------------------------------------------------------------- urg */

struct urg_guest {
    struct meter m;
    urg_hcd_dev *dev;
    struct urg_urb **u;
    int k;
};

static void u_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    struct urg_guest *g = ud;
    (void)info;
    for (int i = 0; i < g->k; i++)
        urg_hcd_submit(dev, g->u[i]);
}

static void u_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    struct urg_guest *g = ud;
    if (u->status != URG_URB_SUCCESS)
        return;
    count(&g->m, u->actual_length);
    if (!g->m.done)
        urg_hcd_submit(dev, u);
}

static void u_detach(void *ud, urg_hcd_dev *dev)
{
    (void)ud;
    urg_hcd_detach_done(dev);
}

static void u_log(void *ud, int level, const char *msg)
{
    (void)ud;
    if (getenv("BENCH_DEBUG") || level <= URG_LOG_ERROR)
        fprintf(stderr, "urg: %s\n", msg);
}

static void u_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct urg_guest *g = w->data;
    (void)revents;
    if (getenv("BENCH_DEBUG"))
        fprintf(stderr, "tick: done %d, %.3f s to go\n", g->m.done, g->m.until - now());
    if (g->m.done || now() >= g->m.until)
        ev_break(loop, EVBREAK_ALL);
}

static void run_urg(const char *addr, int k, uint32_t size, struct meter *m)
{
    struct urg_guest g;
    struct urg_hcd_config hc;
    struct urg_session_config session;
    struct urg_transport_config tc;
    struct ev_loop *loop = ev_loop_new(0);
    urg_transport *t;
    ev_timer tick;
    memset(&g, 0, sizeof(g));
    g.m = *m;
    g.k = k;
    g.u = calloc((size_t)k, sizeof(*g.u));
    for (int i = 0; i < k; i++) {
        g.u[i] = urg_urb_alloc(0);
        g.u[i]->type = URG_EP_BULK;
        g.u[i]->endpoint = 0x81;
        g.u[i]->buffer = malloc(size);
        g.u[i]->length = size;
        memset(g.u[i]->buffer, 0, size);
    }
    urg_hcd_config_init(&hc);
    urg_session_config_init(&session);
    hc.session = &session;
    hc.callbacks.attach = u_attach;
    hc.callbacks.urb_complete = u_complete;
    hc.callbacks.detach = u_detach;
    hc.callbacks.log = u_log;
    session.log_level = getenv("BENCH_DEBUG") ? URG_LOG_DEBUG : URG_LOG_ERROR;
    hc.user_data = &g;
    urg_hcd_dev_new(&hc, &g.dev);
    urg_transport_config_init(&tc);
    tc.address = addr;
    tc.loop = loop;
    tc.peer = urg_transport_peer_hcd(g.dev);
    tc.callbacks.log = u_log;
    tc.log_level = getenv("BENCH_DEBUG") ? URG_LOG_DEBUG : URG_LOG_ERROR;
    if (urg_transport_new(&tc, &t))
        abort();
    ev_timer_init(&tick, u_tick, 0.05, 0.05);
    tick.data = &g;
    ev_timer_start(loop, &tick);
    ev_run(loop, 0);
    *m = g.m;
    urg_transport_free(t);
    urg_hcd_dev_free(g.dev);
    for (int i = 0; i < k; i++) {
        free(g.u[i]->buffer);
        urg_urb_free(g.u[i]);
    }
    free(g.u);
    ev_loop_destroy(loop);
}

/* ---------------------------------------------------------------- ref */

struct ref_guest {
    struct fasthost_io io;     /* first: the read and write callbacks take it */
    struct meter m;
    int k;
    uint32_t size;
    uint8_t **buf;    /* the requests' buffers, by id % k */
    uint64_t next_id;
};

static void send_request(struct ref_guest *g)
{
    struct usb_redir_bulk_packet_header h = { 0x81, 0, (uint16_t)g->size, 0,
                                              (uint16_t)(g->size >> 16) };
    usbredirparser_send_bulk_packet(g->io.p, g->next_id++, &h, NULL, 0);
}

static void r_connect(void *priv, struct usb_redir_device_connect_header *h)
{
    struct ref_guest *g = priv;
    (void)h;
    for (int i = 0; i < g->k; i++)
        send_request(g);
}

static void r_bulk(void *priv, uint64_t id, struct usb_redir_bulk_packet_header *h, uint8_t *d,
                   int len)
{
    struct ref_guest *g = priv;
    (void)h;
    if (len > 0)
        memcpy(g->buf[id % (uint64_t)g->k], d, (size_t)len); /* into the request's buffer */
    usbredirparser_free_packet_data(g->io.p, d);
    count(&g->m, (uint64_t)(len > 0 ? len : 0));
    if (!g->m.done)
        send_request(g);
}

static void run_ref(const char *addr, int k, uint32_t size, struct meter *m)
{
    struct ref_guest g;
    struct usbredirparser *p;
    memset(&g, 0, sizeof(g));
    g.m = *m;
    g.k = k;
    g.size = size;
    g.buf = calloc((size_t)k, sizeof(*g.buf));
    for (int i = 0; i < k; i++)
        g.buf[i] = calloc(1, size);
    p = ref_guest_open(&g.io, addr, &g);
    p->device_connect_func = r_connect;
    p->bulk_packet_func = r_bulk;
    ref_guest_init(p);
    while (!g.m.done && now() < g.m.until && ref_guest_poll(&g.io, 100) == 0)
        ;
    *m = g.m;
    usbredirparser_destroy(p);
    close(g.io.fd);
    for (int i = 0; i < k; i++)
        free(g.buf[i]);
    free(g.buf);
}

/* ---------------------------------------------------------------- raw */

/* The bytes read into K buffers of S bytes in turn, each filled before the
 * next, as the guest's URBs are (K 1: one buffer, always in the cache). */
static void run_raw(const char *addr, int k, uint32_t size, struct meter *m)
{
    uint8_t *buf = calloc((size_t)k, size);
    size_t at = 0, fill = 0;
    int fd = fasthost_connect(addr);
    ssize_t n;
    if (!buf)
        abort();
    while (!m->done && (n = read(fd, buf + at * size + fill, size - fill)) > 0) {
        count(m, (uint64_t)n);
        fill += (size_t)n;
        if (fill == size) {
            fill = 0;
            at = (at + 1) % (size_t)k;
        }
    }
    close(fd);
    free(buf);
}

/* The protocol's traffic with no protocol (FASTHOST_RAW_REQUESTS): k
 * requests outstanding, each reply (a header and 64 KiB) read into the
 * next of k buffers, each read at most to the end of a reply, and after
 * each read as many new requests written, in one write, as replies ended:
 * the system calls a guest that reads payloads straight into their URBs
 * needs at least, and nothing else. */
static void run_rawreq(const char *addr, int k, struct meter *m)
{
    enum { REPLY = FASTHOST_REPLY_HEADER + 65536 };
    uint8_t *buf = calloc((size_t)k, REPLY), req[64 * FASTHOST_REQUEST];
    size_t at = 0, fill = 0;
    int fd = fasthost_connect(addr), ended;
    ssize_t n;
    if (!buf || k > 64)
        abort();
    memset(req, 0, sizeof(req));
    if (write(fd, req, (size_t)k * FASTHOST_REQUEST) != (ssize_t)k * FASTHOST_REQUEST)
        abort();
    while (!m->done && (n = read(fd, buf + at * REPLY + fill, REPLY - fill)) > 0) {
        size_t from = fill > FASTHOST_REPLY_HEADER ? fill : FASTHOST_REPLY_HEADER;
        fill += (size_t)n;
        if (fill > from) /* the payload bytes of what was read */
            count(m, (uint64_t)(fill - from));
        ended = fill == REPLY;
        if (ended) {
            fill = 0;
            at = (at + 1) % (size_t)k;
            if (write(fd, req, FASTHOST_REQUEST) != FASTHOST_REQUEST)
                break;
        }
    }
    close(fd);
    free(buf);
}

/* ---------------------------------------------------------------- round trips */

static double *lat;
static int nlat, want_lat;
static double sent_at;

/* CPU time (on a CPU, and waiting for one) of the guest (this process)
 * and the host over the measured round trips, from /proc/PID/schedstat
 * (ns: run time, run-queue wait, timeslices): at the end of the warm-up
 * and at the end. */
static pid_t rtt_host;
static unsigned long long sched0[2][2], sched1[2][2]; /* [guest, host][run, wait] */

static void schedstat(pid_t pid, unsigned long long out[2])
{
    char path[64];
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
    out[0] = out[1] = 0;
    if ((f = fopen(path, "r"))) {
        if (fscanf(f, "%llu %llu", &out[0], &out[1]) != 2)
            out[0] = out[1] = 0;
        fclose(f);
    }
}

static void lat_add(double v)
{
    lat[nlat++] = v;
    if (nlat == want_lat / 10 || nlat == want_lat) {
        unsigned long long(*at)[2] = nlat == want_lat ? sched1 : sched0;
        schedstat(getpid(), at[0]);
        schedstat(rtt_host, at[1]);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const uint8_t get_device[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };

struct rtt_urg {
    struct urg_urb *u;
    uint8_t buf[18];
};
static struct ev_loop *rt_loop;

static void rt_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    struct rtt_urg *r = ud;
    (void)info;
    sent_at = now();
    urg_hcd_submit(dev, r->u);
}

static void rt_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    (void)ud;
    lat_add(now() - sent_at);
    if (u->status != URG_URB_SUCCESS || u->actual_length != 18) {
        fprintf(stderr, "bench: round trip %d: status %d, %u bytes\n", nlat, (int)u->status,
                (unsigned)u->actual_length);
        abort();
    }
    if (nlat < want_lat) {
        sent_at = now();
        urg_hcd_submit(dev, u);
    } else {
        ev_break(rt_loop, EVBREAK_ALL); /* as raw-ev: no watcher of ours per iteration */
    }
}

static void rtt_urg(const char *addr)
{
    struct rtt_urg r;
    struct urg_hcd_config hc;
    struct urg_transport_config tc;
    struct ev_loop *loop = ev_loop_new(0);
    urg_transport *t;
    urg_hcd_dev *dev;
    rt_loop = loop;
    r.u = urg_urb_alloc(0);
    r.u->type = URG_EP_CONTROL;
    memcpy(r.u->setup, get_device, 8);
    r.u->buffer = r.buf;
    r.u->length = 18;
    urg_hcd_config_init(&hc);
    hc.callbacks.attach = rt_attach;
    hc.callbacks.urb_complete = rt_complete;
    hc.callbacks.detach = u_detach;
    hc.user_data = &r;
    urg_hcd_dev_new(&hc, &dev);
    urg_transport_config_init(&tc);
    tc.address = addr;
    tc.loop = loop;
    tc.peer = urg_transport_peer_hcd(dev);
    if (urg_transport_new(&tc, &t))
        abort();
    ev_run(loop, 0);
    urg_transport_free(t);
    urg_hcd_dev_free(dev);
    urg_urb_free(r.u);
    ev_loop_destroy(loop);
}

static void rt_ref_send(struct usbredirparser *p)
{
    struct usb_redir_control_packet_header h = { 0x80, 6, 0x80, 0, 0x100, 0, 18 };
    sent_at = now();
    usbredirparser_send_control_packet(p, (uint64_t)nlat + 1, &h, NULL, 0);
}

static void rt_ref_connect(void *priv, struct usb_redir_device_connect_header *h)
{
    (void)h;
    rt_ref_send(((struct fasthost_io *)priv)->p);
}

static void rt_ref_control(void *priv, uint64_t id, struct usb_redir_control_packet_header *h,
                           uint8_t *d, int len)
{
    struct fasthost_io *x = priv;
    (void)id;
    lat_add(now() - sent_at);
    if (h->status != usb_redir_success || len != 18) {
        fprintf(stderr, "bench: round trip %d: status %d, %d bytes\n", nlat, h->status, len);
        abort();
    }
    usbredirparser_free_packet_data(x->p, d);
    if (nlat < want_lat)
        rt_ref_send(x->p);
}

static void rtt_ref(const char *addr)
{
    struct fasthost_io x;
    struct usbredirparser *p = ref_guest_open(&x, addr, &x);
    p->device_connect_func = rt_ref_connect;
    p->control_packet_func = rt_ref_control;
    ref_guest_init(p);
    while (nlat < want_lat && ref_guest_poll(&x, 1000) == 0)
        ;
    usbredirparser_destroy(p);
    close(x.fd);
}

static void rtt_raw(const char *addr)
{
    static const uint8_t req[26];
    uint8_t rep[44];
    int fd = fasthost_connect(addr);
    while (nlat < want_lat) {
        size_t got = 0;
        sent_at = now();
        if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req))
            break;
        while (got < sizeof(rep)) {
            ssize_t n = read(fd, rep + got, sizeof(rep) - got);
            if (n <= 0)
                abort();
            got += (size_t)n;
        }
        lat_add(now() - sent_at);
    }
    close(fd);
}

/* raw-ev: the ping-pong of rtt_raw on a libev loop (a non-blocking socket,
 * an ev_io, the next request written from the read callback): the floor of
 * any guest on an event loop, a wait for readiness (epoll_wait) before
 * each read. */
struct rtt_ev {
    ev_io io;
    int fd;
    size_t got;
};

static void rt_ev_send(struct rtt_ev *r)
{
    static const uint8_t req[26];
    sent_at = now();
    if (write(r->fd, req, sizeof(req)) != (ssize_t)sizeof(req))
        abort();
}

static void rt_ev_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct rtt_ev *r = (struct rtt_ev *)w;
    uint8_t rep[44];
    ssize_t n = read(r->fd, rep, sizeof(rep) - r->got);
    (void)revents;
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0)
        abort();
    r->got += (size_t)n;
    if (r->got < sizeof(rep))
        return;
    r->got = 0;
    lat_add(now() - sent_at);
    if (nlat < want_lat)
        rt_ev_send(r);
    else
        ev_break(loop, EVBREAK_ALL);
}

static void rtt_raw_ev(const char *addr)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct rtt_ev r;
    r.fd = fasthost_connect(addr);
    r.got = 0;
    fcntl(r.fd, F_SETFL, O_NONBLOCK);
    ev_io_init(&r.io, rt_ev_read, r.fd, EV_READ);
    ev_io_start(loop, &r.io);
    rt_ev_send(&r);
    ev_run(loop, 0);
    close(r.fd);
    ev_loop_destroy(loop);
}

static int run_rtt(int unix_socket, const char *impl, int n)
{
    char addr[160];
    pid_t host;
    int wv = !strcmp(impl, "rtt-urg-wv") || !strcmp(impl, "rtt-ref-wv");
    want_lat = n;
    lat = calloc((size_t)n, sizeof(double));
    host = rtt_host = fasthost_start(unix_socket,
                          !strncmp(impl, "rtt-raw", 7) ? FASTHOST_RAW_PINGPONG
                          : wv                         ? FASTHOST_WRITEV
                                                       : 0,
                          addr, sizeof(addr));
    if (!strncmp(impl, "rtt-urg", 7))
        rtt_urg(addr);
    else if (!strncmp(impl, "rtt-ref", 7))
        rtt_ref(addr);
    else if (!strcmp(impl, "rtt-raw-ev"))
        rtt_raw_ev(addr);
    else
        rtt_raw(addr);
    fasthost_stop(host, addr);
    if (nlat != n)
        return 1;
    /* The first tenth is warm-up. */
    qsort(lat + n / 10, (size_t)(n - n / 10), sizeof(double), cmp_double);
    {
        double k = (double)(n - n / 10) * 1e3; /* ns to µs per round trip */
        printf("%.1f %.1f %.2f %.2f %.2f %.2f\n", lat[n / 10 + (n - n / 10) / 2] * 1e6,
               lat[n / 10 + (size_t)((n - n / 10) * 0.99)] * 1e6,
               (double)(sched1[0][0] - sched0[0][0]) / k, (double)(sched1[1][0] - sched0[1][0]) / k,
               (double)(sched1[0][1] - sched0[0][1]) / k, (double)(sched1[1][1] - sched0[1][1]) / k);
    }
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    char addr[160];
    struct meter m;
    int unix_socket, k, wv;
    uint32_t size;
    double secs;
    pid_t host;
    if (argc == 4 && !strncmp(argv[2], "rtt-", 4))
        return run_rtt(!strcmp(argv[1], "unix"), argv[2], atoi(argv[3]));
    if (argc != 6) {
        fprintf(stderr, "usage: bench_e2e tcp|unix urg|ref|urg-wv|ref-wv|raw|rawcopy|rawreq K SIZE SECONDS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    unix_socket = !strcmp(argv[1], "unix");
    k = atoi(argv[3]);
    size = (uint32_t)atoi(argv[4]);
    secs = atof(argv[5]);
    wv = !strcmp(argv[2], "urg-wv") || !strcmp(argv[2], "ref-wv");
    host = fasthost_start(unix_socket,
                          !strcmp(argv[2], "raw")       ? FASTHOST_RAW_STREAM
                          : !strcmp(argv[2], "rawcopy") ? FASTHOST_RAW_COPY
                          : !strcmp(argv[2], "rawreq")  ? FASTHOST_RAW_REQUESTS
                          : wv                          ? FASTHOST_WRITEV
                                                        : 0,
                          addr, sizeof(addr));
    memset(&m, 0, sizeof(m));
    m.host = host;
    m.t0 = now();
    m.warm = m.t0 + 0.3;
    m.until = m.warm + secs;
    if (!strncmp(argv[2], "urg", 3))
        run_urg(addr, k, size, &m);
    else if (!strncmp(argv[2], "ref", 3))
        run_ref(addr, k, size, &m);
    else if (!strcmp(argv[2], "rawreq"))
        run_rawreq(addr, k, &m);
    else
        run_raw(addr, k, size, &m);
    if (!m.done) { /* the loop ended on the clock, not on a count */
        m.use1[0] = proc_use(host);
        m.use1[1] = proc_use(getpid());
    }
    fasthost_stop(host, addr);
    /* MB/s, the host's and the guest's CPU use over the measured seconds,
     * in % of one CPU, and the host's minor page faults per GB moved. */
    printf("%.1f %.0f %.0f %.0f\n", (double)m.bytes / secs / 1e6,
           100 * (m.use1[0].cpu - m.use0[0].cpu) / secs, 100 * (m.use1[1].cpu - m.use0[1].cpu) / secs,
           m.bytes ? (double)(m.use1[0].minflt - m.use0[0].minflt) * 1e9 / (double)m.bytes : 0.0);
    return 0;
}

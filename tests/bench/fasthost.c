/*
 * fasthost.c - see fasthost.h.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include "fasthost.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <usbredirparser.h>

#include "urg_transport.h"

static uint8_t data[1 << 20];

int fasthost_io_read(void *priv, uint8_t *b, int n)
{
    ssize_t r = read(((struct fasthost_io *)priv)->fd, b, (size_t)n);
    return r < 0 ? (errno == EAGAIN ? 0 : -1) : r == 0 ? -1 : (int)r;
}

int fasthost_io_write(void *priv, uint8_t *b, int n)
{
    ssize_t r = write(((struct fasthost_io *)priv)->fd, b, (size_t)n);
    return r < 0 ? (errno == EAGAIN ? 0 : -1) : (int)r;
}

void fasthost_io_log(void *priv, int level, const char *msg)
{
    (void)priv;
    if (level <= usbredirparser_error)
        fprintf(stderr, "usbredirparser: %s\n", msg);
}

static void h_bulk(void *priv, uint64_t id, struct usb_redir_bulk_packet_header *h, uint8_t *d,
                   int len)
{
    struct fasthost_io *x = priv;
    struct usb_redir_bulk_packet_header r = *h;
    uint32_t want = h->length | (uint32_t)h->length_high << 16;
    usbredirparser_free_packet_data(x->p, d);
    (void)len;
    if (want > sizeof(data))
        want = sizeof(data);
    r.status = usb_redir_success;
    r.length = (uint16_t)want;
    r.length_high = (uint16_t)(want >> 16);
    usbredirparser_send_bulk_packet(x->p, id, &r, data, (int)want);
}


/* The device, once the guest's hello is in (the layout is known only then,
 * as usbredirhost does it). */
static void h_guest_hello(void *priv, struct usb_redir_hello_header *h)
{
    struct fasthost_io *x = priv;
    struct usb_redir_interface_info_header ii;
    struct usb_redir_ep_info_header ei;
    struct usb_redir_device_connect_header dc = { usb_redir_speed_high, 0, 0, 0, 0x1234, 0x5678, 0 };
    (void)h;
    memset(&ii, 0, sizeof(ii));
    ii.interface_count = 1;
    ii.interface_class[0] = 0xff;
    memset(&ei, 0, sizeof(ei));
    for (int i = 0; i < 32; i++)
        ei.type[i] = usb_redir_type_invalid;
    ei.type[0] = ei.type[16] = usb_redir_type_control;
    ei.type[17] = usb_redir_type_bulk; /* 0x81 */
    ei.max_packet_size[17] = 512;
    usbredirparser_send_interface_info(x->p, &ii);
    usbredirparser_send_ep_info(x->p, &ei);
    usbredirparser_send_device_connect(x->p, &dc);
}
static void h_control(void *priv, uint64_t id, struct usb_redir_control_packet_header *h,
                      uint8_t *d, int len)
{
    struct fasthost_io *x = priv;
    struct usb_redir_control_packet_header r = *h;
    int in = h->endpoint & 0x80;
    usbredirparser_free_packet_data(x->p, d);
    r.status = usb_redir_success;
    r.length = in ? h->length : (uint16_t)len;
    usbredirparser_send_control_packet(x->p, id, &r, in ? data : NULL, in ? h->length : 0);
}

static void h_cancel(void *priv, uint64_t id) { (void)priv, (void)id; }
static void h_nothing(void *priv) { (void)priv; }

/* ---------------------------------------------------------------- the writev host */

/* The handshake goes through a parser on memory: its hello, then, once the
 * guest's hello is in, the device (h_guest_hello), as the parser host sends
 * them. The parser tells the header layout the two agreed on. */
struct mem_io {
    struct fasthost_io io; /* first: h_guest_hello takes it */
    const uint8_t *in;
    size_t in_len, in_at;
    uint8_t out[4096];
    size_t out_len;
};

static int mem_read(void *priv, uint8_t *b, int n)
{
    struct mem_io *m = priv;
    size_t k = m->in_len - m->in_at < (size_t)n ? m->in_len - m->in_at : (size_t)n;
    memcpy(b, m->in + m->in_at, k);
    m->in_at += k;
    return (int)k;
}

static int mem_write(void *priv, uint8_t *b, int n)
{
    struct mem_io *m = priv;
    if (m->out_len + (size_t)n > sizeof(m->out))
        return -1;
    memcpy(m->out + m->out_len, b, (size_t)n);
    m->out_len += (size_t)n;
    return n;
}

static int read_full(int fd, uint8_t *b, size_t n)
{
    while (n) {
        ssize_t r = read(fd, b, n);
        if (r <= 0)
            return -1;
        b += r, n -= (size_t)r;
    }
    return 0;
}

/* Writes iov[0..n) whole (a blocking socket), partial writes included. */
static int writev_full(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t r = writev(fd, iov, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        while (n > 0 && (size_t)r >= iov->iov_len) {
            r -= (ssize_t)iov->iov_len;
            iov++, n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + r;
            iov->iov_len -= (size_t)r;
        }
    }
    return 0;
}

/* The usbredir header and the two data packet type headers it answers,
 * little-endian on the wire. */
static uint32_t le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* Replies per writev; a reply slot: a header and type header, or a whole
 * control reply with its descriptor (16 + 10 + 18). */
enum { WV_BATCH = 256, WV_HDR_MAX = 64 };

/* GET_DESCRIPTOR(DEVICE, 18) as the guests send it (control packet header:
 * endpoint, request, requesttype, status, value, index, length), and the
 * device descriptor that answers it (the device h_guest_hello announces:
 * 1234:5678, high speed, 64-byte endpoint 0). */
static const uint8_t get_device_th[10] = { 0x80, 6, 0x80, 0, 0x00, 0x01, 0, 0, 18, 0 };
static const uint8_t device_descriptor[18] = { 18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x34, 0x12,
                                               0x78, 0x56, 0x00, 0x01, 0, 0, 0, 1 };

/* Answers bulk IN and control requests as the parser host does, with no
 * parser: each reply is the request's own header and type header, copied
 * into a slot of a fixed table with the length and status changed, and the
 * payload is the static buffer; up to WV_BATCH replies (two iovecs each)
 * go out in one writev. Nothing is allocated or copied per reply but the
 * header. GET_DESCRIPTOR(DEVICE, 18), the round trip's request, is
 * answered from a reply encoded once after the handshake (header, type
 * header and device descriptor: 44 bytes with 64-bit ids), the request's
 * id copied in: one iovec, as raw ping-pong's one write. */
static void host_writev(int fd)
{
    static uint8_t in[65536], hdr[WV_BATCH][WV_HDR_MAX], get_device_reply[WV_HDR_MAX];
    static struct iovec iov[2 * WV_BATCH];
    struct mem_io m;
    uint32_t caps[USB_REDIR_CAPS_SIZE] = { 0xff };
    size_t hl, bl, have = 0, gdl;
    int niov = 0, nrep = 0;
    memset(&m, 0, sizeof(m));
    m.io.p = usbredirparser_create();
    m.io.p->priv = &m;
    m.io.p->log_func = fasthost_io_log;
    m.io.p->read_func = mem_read;
    m.io.p->write_func = mem_write;
    m.io.p->hello_func = h_guest_hello;
    usbredirparser_init(m.io.p, "fasthost-writev", caps, USB_REDIR_CAPS_SIZE,
                        usbredirparser_fl_usb_host);
    /* The guest's hello: 32-bit ids always (protocol 0.7, usb_redir_hello). */
    if (read_full(fd, in, 12) || le32(in) != 0 || le32(in + 4) > sizeof(in) - 12 ||
        read_full(fd, in + 12, le32(in + 4)))
        goto out;
    m.in = in;
    m.in_len = 12 + le32(in + 4);
    if (usbredirparser_do_write(m.io.p) < 0 || usbredirparser_do_read(m.io.p) < 0 ||
        usbredirparser_do_write(m.io.p) < 0 || m.in_at != m.in_len ||
        usbredirparser_has_data_to_write(m.io.p)) {
        fprintf(stderr, "fasthost: the writev host's handshake failed\n");
        goto out;
    }
    {
        struct iovec h = { m.out, m.out_len };
        if (writev_full(fd, &h, 1))
            goto out;
    }
    hl = usbredirparser_peer_has_cap(m.io.p, usb_redir_cap_64bits_ids) &&
                 usbredirparser_have_cap(m.io.p, usb_redir_cap_64bits_ids)
             ? 16
             : 12;
    bl = usbredirparser_peer_has_cap(m.io.p, usb_redir_cap_32bits_bulk_length) &&
                 usbredirparser_have_cap(m.io.p, usb_redir_cap_32bits_bulk_length)
             ? 10
             : 8;
    /* type, length, id (copied from each request), type header, payload */
    gdl = hl + sizeof(get_device_th) + sizeof(device_descriptor);
    put_le32(get_device_reply, usb_redir_control_packet);
    put_le32(get_device_reply + 4, (uint32_t)(gdl - hl));
    memcpy(get_device_reply + hl, get_device_th, sizeof(get_device_th));
    memcpy(get_device_reply + hl + sizeof(get_device_th), device_descriptor,
           sizeof(device_descriptor));
    for (;;) {
        size_t at = 0;
        ssize_t n = read(fd, in + have, sizeof(in) - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        while (have - at >= hl) {
            const uint8_t *h = in + at;
            uint32_t type = le32(h), len = le32(h + 4), want;
            size_t th;
            uint8_t *r;
            if (len > sizeof(in) - hl)
                goto out; /* nothing the benchmarks send */
            if (have - at < hl + len)
                break;
            at += hl + len;
            if (type == usb_redir_control_packet && len == sizeof(get_device_th) &&
                !memcmp(h + hl, get_device_th, sizeof(get_device_th))) {
                r = hdr[nrep];
                memcpy(r, get_device_reply, gdl);
                memcpy(r + 8, h + 8, hl - 8); /* the id */
                iov[niov++] = (struct iovec){ r, gdl };
                goto queued;
            }
            if (type == usb_redir_bulk_packet && len == bl && (h[hl] & 0x80)) {
                /* endpoint, status, length, stream_id[, length_high] */
                th = bl;
                want = (uint32_t)h[hl + 2] | (uint32_t)h[hl + 3] << 8;
                if (bl == 10)
                    want |= ((uint32_t)h[hl + 8] | (uint32_t)h[hl + 9] << 8) << 16;
            } else if (type == usb_redir_control_packet && len >= 10) {
                /* endpoint, request, requesttype, status, value, index, length */
                th = 10;
                want = (h[hl] & 0x80) ? ((uint32_t)h[hl + 8] | (uint32_t)h[hl + 9] << 8) : 0;
            } else {
                continue; /* as the parser host: nothing to answer */
            }
            if (want > sizeof(data))
                want = sizeof(data);
            r = hdr[nrep];
            memcpy(r, h, hl + th);
            put_le32(r + 4, (uint32_t)th + want);
            if (type == usb_redir_bulk_packet) {
                r[hl + 1] = usb_redir_success;
                r[hl + 2] = (uint8_t)want, r[hl + 3] = (uint8_t)(want >> 8);
                if (bl == 10)
                    r[hl + 8] = (uint8_t)(want >> 16), r[hl + 9] = (uint8_t)(want >> 24);
            } else {
                r[hl + 3] = usb_redir_success;
                if (!(h[hl] & 0x80)) /* OUT: the length written */
                    r[hl + 8] = (uint8_t)(len - 10), r[hl + 9] = (uint8_t)((len - 10) >> 8);
            }
            iov[niov++] = (struct iovec){ r, hl + th };
            iov[niov++] = (struct iovec){ data, want };
        queued:
            if (++nrep == WV_BATCH) {
                if (writev_full(fd, iov, niov))
                    goto out;
                nrep = niov = 0;
            }
        }
        if (nrep) {
            if (writev_full(fd, iov, niov))
                goto out;
            nrep = niov = 0;
        }
        memmove(in, in + at, have - at);
        have -= at;
    }
out:
    usbredirparser_destroy(m.io.p);
}

static void host_run(int fd, int raw)
{
    struct fasthost_io x = { usbredirparser_create(), fd };
    uint32_t caps[USB_REDIR_CAPS_SIZE] = { 0xff };
    if (raw == FASTHOST_WRITEV) {
        usbredirparser_destroy(x.p);
        host_writev(fd);
        return;
    }
    if (raw == FASTHOST_RAW_STREAM) {
        while (write(fd, data, 65536) > 0)
            ;
        usbredirparser_destroy(x.p);
        return;
    }
    if (raw == FASTHOST_RAW_COPY) {
        for (;;) {
            uint8_t *b = malloc(65536);
            ssize_t n;
            if (!b)
                break;
            memcpy(b, data, 65536);
            n = write(fd, b, 65536);
            free(b);
            if (n <= 0)
                break;
        }
        usbredirparser_destroy(x.p);
        return;
    }
    if (raw == FASTHOST_RAW_REQUESTS) {
        static uint8_t in[65536];
        static struct iovec iov[2 * WV_BATCH];
        size_t carry = 0, reqs;
        ssize_t n;
        while ((n = read(fd, in, sizeof(in))) > 0) {
            reqs = (carry + (size_t)n) / FASTHOST_REQUEST;
            carry = (carry + (size_t)n) % FASTHOST_REQUEST;
            while (reqs) {
                int b = reqs < WV_BATCH ? (int)reqs : WV_BATCH;
                for (int i = 0; i < b; i++) {
                    iov[2 * i] = (struct iovec){ data, FASTHOST_REPLY_HEADER };
                    iov[2 * i + 1] = (struct iovec){ data, 65536 };
                }
                if (writev_full(fd, iov, 2 * b))
                    break;
                reqs -= (size_t)b;
            }
            if (reqs)
                break;
        }
        usbredirparser_destroy(x.p);
        return;
    }
    if (raw == FASTHOST_RAW_PINGPONG) { /* 26 bytes in, 44 out: a control GET */
        uint8_t req[26];
        for (;;) {
            size_t got = 0;
            while (got < sizeof(req)) {
                ssize_t n = read(fd, req + got, sizeof(req) - got);
                if (n <= 0) {
                    usbredirparser_destroy(x.p);
                    return;
                }
                got += (size_t)n;
            }
            if (write(fd, data, 44) != 44)
                break;
        }
        usbredirparser_destroy(x.p);
        return;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK); /* the parser reads until there is nothing */
    x.p->priv = &x;
    x.p->log_func = fasthost_io_log;
    x.p->read_func = fasthost_io_read;
    x.p->write_func = fasthost_io_write;
    x.p->hello_func = h_guest_hello;
    x.p->bulk_packet_func = h_bulk;
    x.p->control_packet_func = h_control;
    x.p->cancel_data_packet_func = h_cancel;
    x.p->reset_func = h_nothing;
    x.p->device_disconnect_ack_func = h_nothing;
    usbredirparser_init(x.p, "fasthost", caps, USB_REDIR_CAPS_SIZE, usbredirparser_fl_usb_host);
    for (;;) {
        struct pollfd f = { fd, POLLIN, 0 };
        if (usbredirparser_has_data_to_write(x.p))
            f.events |= POLLOUT;
        if (poll(&f, 1, -1) < 0 && errno != EINTR)
            break;
        if ((f.revents & POLLIN) && usbredirparser_do_read(x.p) < 0)
            break;
        if ((f.revents & POLLOUT) && usbredirparser_do_write(x.p) < 0)
            break;
        if (f.revents & (POLLHUP | POLLERR))
            break;
    }
    usbredirparser_destroy(x.p);
}

/* Listens, forks the host on the first connection; returns the address. */
/* With BENCH_PIN=1 in the environment and two CPUs or more, the host runs
 * on CPU 0 and the guest on CPU 1: each has a core of its own, and the
 * scheduler does not decide, run by run, whether the two share one. */
static void pin(int cpu)
{
    const char *e = getenv("BENCH_PIN");
    cpu_set_t set;
    if (!e || strcmp(e, "1") || sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set))
        perror("bench: sched_setaffinity");
}

/* glibc gives the top of the heap back to the kernel when more than
 * M_TRIM_THRESHOLD (128 KiB, raised as mmapped blocks are freed) is free
 * there. The parser host allocates every reply it queues and frees it once
 * written, so a batch of 64 KiB replies, written, may be trimmed and faulted
 * in again for the next batch, a page fault per 4 KiB, or not, as its heap
 * history falls (docs/benchmarks.md, "The parser host's heap"). Fixed
 * thresholds keep every run out of that. */
static void host_malloc(void)
{
    const char *e = getenv("BENCH_HOST_MALLOC");
    if (e && !strcmp(e, "default"))
        return;
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
}

pid_t fasthost_start(int unix_socket, int raw, char *addr, size_t cap)
{
    int l, one = 1;
    pid_t pid;
    if (unix_socket) {
        struct sockaddr_un a = { AF_UNIX, { 0 } };
        snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/urg-bench-%d.sock", (int)getpid());
        unlink(a.sun_path);
        l = socket(AF_UNIX, SOCK_STREAM, 0);
        if (bind(l, (struct sockaddr *)&a, sizeof(a)))
            abort();
        snprintf(addr, cap, "unix:%s", a.sun_path);
    } else {
        struct sockaddr_in a;
        socklen_t len = sizeof(a);
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        l = socket(AF_INET, SOCK_STREAM, 0);
        if (bind(l, (struct sockaddr *)&a, sizeof(a)) || getsockname(l, (struct sockaddr *)&a, &len))
            abort();
        snprintf(addr, cap, "127.0.0.1:%d", ntohs(a.sin_port));
    }
    listen(l, 1);
    pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        pin(0);
        host_malloc();
        for (;;) { /* connection after connection */
            int fd = accept(l, NULL, NULL);
            if (fd < 0)
                continue;
            if (!unix_socket)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            host_run(fd, raw);
            close(fd);
        }
    }
    close(l);
    pin(1);
    return pid;
}



void fasthost_stop(pid_t pid, const char *addr)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (!strncmp(addr, "unix:", 5))
        unlink(addr + 5);
}

int fasthost_connect(const char *addr)
{
    struct urg_address a;
    int fd, one = 1;
    if (urg_address_parse(addr, &a))
        abort();
    if (a.kind == URG_ADDR_UNIX) {
        struct sockaddr_un u = { AF_UNIX, { 0 } };
        snprintf(u.sun_path, sizeof(u.sun_path), "%s", a.path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&u, sizeof(u)))
            abort();
    } else {
        struct sockaddr_in in;
        memset(&in, 0, sizeof(in));
        in.sin_family = AF_INET;
        in.sin_port = htons((uint16_t)a.port);
        inet_pton(AF_INET, a.host, &in.sin_addr);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&in, sizeof(in)))
            abort();
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}


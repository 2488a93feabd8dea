/*
 * fasthost.c - see fasthost.h.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include "fasthost.h"

#include <errno.h>
#include <fcntl.h>
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

static void host_run(int fd, int raw)
{
    struct fasthost_io x = { usbredirparser_create(), fd };
    uint32_t caps[USB_REDIR_CAPS_SIZE] = { 0xff };
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


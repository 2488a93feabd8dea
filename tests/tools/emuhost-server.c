/*
 * emuhost-server - the emulated usb-host (tests/support/emuhost.h) as a
 * program that listens like `usbredirect --as`: the command-line tests and
 * `make fixtures` run the usbredir-guest command against it.
 *
 *   emuhost-server KIND [options]
 *     KIND            keyboard, mouse, msc, ftdi, cp210x, pl2303 or iso
 *     --listen ADDR   host:port, [v6]:port or unix:/path (127.0.0.1:0)
 *     --connect ADDR  connect to a guest that listens instead, serve it,
 *                     exit when it goes (usbredirect --to)
 *     --once          exit when the first connection ends, as usbredirect
 *     --text TEXT     keyboard: what it types ("hello")
 *     --blocks N      msc: 512-byte blocks (2048)
 *     --disk-out F    msc: write the RAM disk to F at exit
 *     --report F      write what the guest did to F at exit (packets sent
 *                     per type, the serial baud rate, serial bytes, iso
 *                     OUT bytes and the iso OUT stream's sizing)
 *
 * Prints "listening on ADDRESS" on stdout, flushed, when it accepts, or
 * "connected to ADDRESS".
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <ev.h>

#include "emuhost.h"
#include "urg_transport.h"

struct server {
    struct ev_loop *loop;
    struct emu_config cfg;
    struct emuhost *all[64];   /* every connection's, the last one reported */
    int n;
    int lfd, once;
    ev_io lio;
    ev_signal sig;
};

static void conn_done(void *ctx, struct emuhost *e)
{
    struct server *s = ctx;
    (void)e;
    if (s->once)
        ev_break(s->loop, EVBREAK_ALL);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct server *s = w->data;
    int fd = accept(s->lfd, NULL, NULL);
    (void)revents;
    if (fd < 0)
        return;
    if (s->n == 64) {
        close(fd);
        return;
    }
    s->all[s->n] = emu_new(&s->cfg);
    emu_serve(s->all[s->n], loop, fd, conn_done, s);
    s->n++;
    if (s->once) {
        ev_io_stop(loop, &s->lio); /* one connection only */
        close(s->lfd);
        s->lfd = -1;
    }
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static int listen_on(const char *text, char *shown, size_t cap)
{
    struct urg_address a;
    int fd, one = 1;
    if (urg_address_parse(text, &a))
        return -1;
    if (a.kind == URG_ADDR_UNIX) {
        struct sockaddr_un u;
        memset(&u, 0, sizeof(u));
        u.sun_family = AF_UNIX;
        memcpy(u.sun_path, a.path, strlen(a.path) + 1);
        unlink(a.path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&u, sizeof(u)) || listen(fd, 4))
            return -1;
        snprintf(shown, cap, "unix:%s", a.path);
    } else if (a.kind == URG_ADDR_TCP) {
        struct addrinfo hints, *res = NULL;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char port[8], host[INET6_ADDRSTRLEN];
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        snprintf(port, sizeof(port), "%u", a.port);
        if (getaddrinfo(a.host, port, &hints, &res) || !res)
            return -1;
        fd = socket(res->ai_family, SOCK_STREAM, 0);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 4)) {
            freeaddrinfo(res);
            return -1;
        }
        freeaddrinfo(res);
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
            snprintf(shown, cap, "[%s]:%u", host, ntohs(s6->sin6_port));
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
            snprintf(shown, cap, "%s:%u", host, ntohs(s4->sin_port));
        }
    } else {
        return -1;
    }
    return fd;
}

static int connect_to(const char *text)
{
    struct urg_address a;
    struct addrinfo hints, *res = NULL;
    char port[8];
    int fd;
    if (urg_address_parse(text, &a) || a.kind != URG_ADDR_TCP)
        return -1;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%u", a.port);
    if (getaddrinfo(a.host, port, &hints, &res) || !res)
        return -1;
    fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen)) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void write_report(const char *path, struct emuhost *e)
{
    FILE *f = fopen(path, "w");
    uint32_t t;
    uint8_t pkts, urbs;
    if (!f)
        return;
    emu_iso_out_sizing(e, &pkts, &urbs);
    fprintf(f, "baud %u\nserial_requests %llu\nserial_received %llu\niso_out_bytes %llu\n"
               "iso_out_stream %u x %u\n",
            emu_serial_baud(e), (unsigned long long)emu_serial_requests(e),
            (unsigned long long)emu_serial_received(e),
            (unsigned long long)emu_iso_out_bytes(e), pkts, urbs);
    for (t = 0; t < 200; t++)
        if (urg_type_index(t) >= 0 && emu_count(e, t))
            fprintf(f, "%s %llu\n", urg_type_name(t), (unsigned long long)emu_count(e, t));
    fclose(f);
}

int main(int argc, char **argv)
{
    struct server s;
    const char *listen_addr = "127.0.0.1:0", *connect_addr = NULL, *disk_out = NULL,
               *report = NULL;
    char shown[300];
    int i, kind = argc > 1 ? emu_kind_parse(argv[1]) : -1;
    memset(&s, 0, sizeof(s));
    if (kind < 0) {
        fprintf(stderr, "usage: emuhost-server keyboard|mouse|msc|ftdi|cp210x|pl2303|iso "
                        "[--listen ADDR] [--once] [--text T] [--blocks N] [--disk-out F] "
                        "[--report F]\n");
        return 2;
    }
    emu_config_init(&s.cfg, kind);
    for (i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--once"))
            s.once = 1;
        else if (!strcmp(argv[i], "--listen") && v)
            listen_addr = argv[++i];
        else if (!strcmp(argv[i], "--connect") && v)
            connect_addr = argv[++i];
        else if (!strcmp(argv[i], "--text") && v)
            s.cfg.text = argv[++i];
        else if (!strcmp(argv[i], "--blocks") && v)
            s.cfg.blocks = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--disk-out") && v)
            disk_out = argv[++i];
        else if (!strcmp(argv[i], "--report") && v)
            report = argv[++i];
        else {
            fprintf(stderr, "emuhost-server: bad option %s\n", argv[i]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (connect_addr) {
        int fd = connect_to(connect_addr);
        if (fd < 0) {
            fprintf(stderr, "emuhost-server: cannot connect to %s: %s\n", connect_addr,
                    strerror(errno));
            return 1;
        }
        s.once = 1;
        s.lfd = -1;
        s.loop = ev_default_loop(0);
        s.all[s.n] = emu_new(&s.cfg);
        emu_serve(s.all[s.n++], s.loop, fd, conn_done, &s);
        printf("connected to %s\n", connect_addr);
        fflush(stdout);
        goto run;
    }
    s.lfd = listen_on(listen_addr, shown, sizeof(shown));
    if (s.lfd < 0) {
        fprintf(stderr, "emuhost-server: cannot listen on %s: %s\n", listen_addr,
                strerror(errno));
        return 1;
    }
    s.loop = ev_default_loop(0);
    ev_io_init(&s.lio, on_accept, s.lfd, EV_READ);
    s.lio.data = &s;
    ev_io_start(s.loop, &s.lio);
    printf("listening on %s\n", shown);
    fflush(stdout);
run:
    ev_signal_init(&s.sig, on_signal, SIGTERM);
    ev_signal_start(s.loop, &s.sig);
    ev_run(s.loop, 0);
    if (s.n) {
        struct emuhost *last = s.all[s.n - 1];
        if (disk_out) {
            uint32_t blocks;
            uint8_t *d = emu_disk(last, &blocks);
            FILE *f = fopen(disk_out, "wb");
            if (f && d)
                fwrite(d, 512, blocks, f);
            if (f)
                fclose(f);
        }
        if (report)
            write_report(report, last);
    }
    for (i = 0; i < s.n; i++)
        emu_free(s.all[i]);
    if (s.lfd >= 0)
        close(s.lfd);
    ev_loop_destroy(s.loop);
    return 0;
}

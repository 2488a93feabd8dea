/*
 * transport.c - a connection to a usb-host on a libev loop.
 *
 *   connect mode:  attempt -> connected -> (drop) -> backoff -> attempt ...
 *   listen mode:   listening -> connected -> (drop) -> listening ...
 *   fd mode:       connected -> (drop) -> closed
 *
 * Reading: as long as the engine is inside a payload whose request gave a
 * buffer, read() goes straight into it (urg_session_recv_window); otherwise
 * into the transport's buffer and urg_session_recv(). A loop iteration reads
 * at most read_budget bytes so many devices share one loop fairly; reading
 * can be paused by the application. Writing: the engine's iovecs with one
 * writev/sendmsg (a lone segment with write/send), partial writes
 * consumed. What a completion queues goes out at the end of the read that
 * completed it; an ev_prepare watcher writes whatever the application
 * queued elsewhere before the loop blocks, so requests made from anywhere
 * go out without an explicit kick.
 *
 * Backpressure both ways: output over output_high is reported (blocked)
 * and reading stops until it drains under half of it, so a host that reads
 * nothing cannot make us queue answers without end; a host that takes no
 * byte for stall_timeout seconds while output waits is dropped
 * (URG_ERR_STALLED).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>

#include "guarded.h"
#include "sock.h"
#include "talloc.h"
#include "urg_transport.h"

enum { T_IDLE, T_CONNECTING, T_CONNECTED, T_WAITING, T_LISTENING, T_CLOSED };

struct urg_transport {
    struct urg_transport_config cfg;
    struct urg_allocator alloc; /* the transport, its buffer, its capture */
    struct urg_address addr;
    struct ev_loop *loop;
    ev_io rio, wio, lio;
    ev_timer timer;
    ev_timer stall;        /* output waits and the host takes none */
    ev_tstamp last_write;  /* when the host last took a byte (kept while the
                              stall timer runs: only it reads this) */
    ev_prepare prep;
    ev_idle stash_idle;    /* feeds the stash where no read would (stash_wake) */
    int fd, lfd;
    bool is_socket;
    int state;
    urg_session *s;
    uint8_t *rbuf;
    bool paused, blocked;
    bool after_direct;     /* the last read went straight into a request */
    /* What the read that completed a window brought beyond it (the start
     * of the next header), fed before the next read; stash_drained: that
     * read found the socket empty. */
    uint8_t stash[64];
    uint8_t stash_len;
    bool stash_drained;
    int failures;
    urg_capture *cap;
    struct urgi_guard guard; /* libev callbacks running; a free asked for in one */
    int port;
    char where[300];  /* the address, for log lines */
    struct urg_transport_stats st;
};

static void tlog(urg_transport *t, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void tlog(urg_transport *t, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    urgi_vlog(t->cfg.callbacks.log, t->cfg.user_data, t->cfg.log_level, level, fmt, ap);
    va_end(ap);
}

static void event(urg_transport *t, int ev, int err)
{
    if (t->cfg.callbacks.event && !t->guard.free_pending)
        t->cfg.callbacks.event(t->cfg.user_data, t, ev, err);
}

URG_API void urg_transport_config_init_size(struct urg_transport_config *cfg, size_t size)
{
    struct urg_transport_config d;
    memset(&d, 0, sizeof(d));
    d.backoff_initial = 0.1;
    d.backoff_max = 10.0;
    d.output_high = 4u * 1024u * 1024u;
    d.read_buffer = 64u * 1024u;
    d.read_budget = 1024u * 1024u;
    d.stall_timeout = 60.0;
    d.log_level = URG_LOG_WARNING;
    if (cfg)
        urgi_config_give(cfg, size, &d, sizeof(d));
}

/* ---------------------------------------------------------------- lifetime */

static void really_free(urg_transport *t)
{
    struct urg_allocator a = t->alloc;
    urgi_free(&a, t->rbuf);
    urgi_free(&a, t);
}

/* Every libev callback runs between enter() and leave() (GUARDED_CALLBACK,
 * guarded.h); a free asked for inside is done by the outermost leave(). */
GUARDED_OBJECT(urg_transport, really_free)

static void stop_watchers(urg_transport *t)
{
    ev_io_stop(t->loop, &t->rio);
    ev_io_stop(t->loop, &t->wio);
    ev_io_stop(t->loop, &t->lio);
    ev_timer_stop(t->loop, &t->timer);
    ev_timer_stop(t->loop, &t->stall);
    ev_idle_stop(t->loop, &t->stash_idle);
}


static void tune_socket(urg_transport *t, int fd)
{
    int one = 1, type = 0;
    socklen_t len = sizeof(type);
    t->is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
    if (!t->is_socket)
        return;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    if (t->addr.kind == URG_ADDR_TCP) {
        int idle = 30, intvl = 10, cnt = 3;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef TCP_KEEPIDLE
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
#else
        (void)idle;
        (void)intvl;
        (void)cnt;
#endif
    }
}

/* ---------------------------------------------------------------- drop, retry */

static void schedule(urg_transport *t, double delay)
{
    ev_timer_stop(t->loop, &t->timer);
    ev_timer_set(&t->timer, delay, 0.);
    ev_timer_start(t->loop, &t->timer);
}

/* After a failed attempt or a drop: try again, listen again, or give up. */
static void next_attempt(urg_transport *t, int err)
{
    double delay;
    if (t->addr.kind == URG_ADDR_FD) {
        t->state = T_CLOSED;
        event(t, URG_TEV_CLOSED, err);
        return;
    }
    if (t->cfg.listen) {
        t->state = T_LISTENING;
        ev_io_start(t->loop, &t->lio);
        return;
    }
    t->failures++;
    if (!t->cfg.reconnect || (t->cfg.max_retries && t->failures > t->cfg.max_retries)) {
        t->state = T_CLOSED;
        event(t, URG_TEV_CLOSED, err);
        return;
    }
    delay = t->cfg.backoff_initial;
    for (int i = 1; i < t->failures && delay < t->cfg.backoff_max; i++)
        delay *= 2;
    if (delay > t->cfg.backoff_max)
        delay = t->cfg.backoff_max;
    t->state = T_WAITING;
    t->st.retries++;
    t->st.retry_delay = delay;
    tlog(t, URG_LOG_INFO, "retrying in %.2f s (%s)", delay, urg_strerror(err));
    event(t, URG_TEV_RETRY, err);
    schedule(t, delay);
}

static void drop(urg_transport *t, int err)
{
    urg_session *s = t->s;
    if (t->state != T_CONNECTED)
        return;
    ev_io_stop(t->loop, &t->rio);
    ev_io_stop(t->loop, &t->wio);
    ev_timer_stop(t->loop, &t->stall);
    ev_idle_stop(t->loop, &t->stash_idle);
    t->stash_len = 0;
    close(t->fd);
    t->fd = -1;
    t->s = NULL;
    t->blocked = false;
    t->state = T_IDLE;
    tlog(t, URG_LOG_INFO, "connection closed: %s", urg_strerror(err));
    if (s)
        t->cfg.peer.close(t->cfg.peer.ctx, err);
    event(t, URG_TEV_DISCONNECTED, err);
    if (!t->guard.free_pending)
        next_attempt(t, err);
}

/* ---------------------------------------------------------------- writing */

static void capture_iov(urg_transport *t, const struct iovec *iov, int n, size_t written)
{
    int i;
    for (i = 0; i < n && written; i++) {
        size_t k = iov[i].iov_len < written ? iov[i].iov_len : written;
        urg_capture_write(t->cap, URG_CAP_GUEST, iov[i].iov_base, k);
        written -= k;
    }
}

/* Bytes read ahead wait in the stash while reading may go on: the loop
 * feeds them once nothing else is pending, as the socket may never become
 * readable for them (read_host). */
static void stash_wake(urg_transport *t)
{
    if (t->stash_len && t->state == T_CONNECTED && !t->paused && !t->blocked &&
        !t->guard.free_pending && !ev_is_active(&t->stash_idle))
        ev_idle_start(t->loop, &t->stash_idle);
}

/* We read while connected, not paused and not blocked. */
static void update_reading(urg_transport *t)
{
    bool want = t->state == T_CONNECTED && !t->paused && !t->blocked;
    if (want && !ev_is_active(&t->rio))
        ev_io_start(t->loop, &t->rio);
    else if (!want && ev_is_active(&t->rio))
        ev_io_stop(t->loop, &t->rio);
    stash_wake(t);
}

static void check_blocked(urg_transport *t, size_t pending)
{
    if (!t->blocked && pending > t->cfg.output_high) {
        t->blocked = true;
        t->st.blocked++;
        update_reading(t);
        event(t, URG_TEV_OUTPUT_BLOCKED, 0);
    } else if (t->blocked && pending <= t->cfg.output_high / 2) {
        t->blocked = false;
        update_reading(t);
        event(t, URG_TEV_OUTPUT_DRAINED, 0);
    }
}

/* The socket is full: from now on the host has stall_timeout to take a
 * byte (each byte taken starts the time again, see check_stall). */
static void watch_stall(urg_transport *t)
{
    if (t->cfg.stall_timeout > 0 && !ev_is_active(&t->stall)) {
        t->last_write = ev_now(t->loop);
        ev_timer_set(&t->stall, t->cfg.stall_timeout, 0.);
        ev_timer_start(t->loop, &t->stall);
    }
}

/* One write of iov[0..n): a lone segment (a request, most often) with
 * send() or write(), which the kernel takes for less than a message. */
static ssize_t write_iov(urg_transport *t, const struct iovec *iov, int n)
{
    if (n == 1)
        return t->is_socket ? send(t->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
                            : write(t->fd, iov[0].iov_base, iov[0].iov_len);
    if (t->is_socket) {
        struct msghdr m;
        memset(&m, 0, sizeof(m));
        m.msg_iov = (struct iovec *)iov;
        m.msg_iovlen = (size_t)n;
        return sendmsg(t->fd, &m, MSG_NOSIGNAL);
    }
    return writev(t->fd, iov, n);
}

/* Writes what the engine has queued; returns false if the connection
 * dropped. Called right after each read's completions (read_host), when
 * the socket takes more (on_write), and before the loop waits
 * (write_before_wait). */
static bool try_write(urg_transport *t)
{
    struct iovec iov[64];
    size_t pending = 0;
    while (t->state == T_CONNECTED && t->s && (pending = urg_session_output_pending(t->s))) {
        int n = urg_session_output(t->s, iov, 64);
        ssize_t w;
        if (n <= 0)
            break;
        w = write_iov(t, iov, n);
        if (w > 0) {
            if (t->cap)
                capture_iov(t, iov, n, (size_t)w);
            /* Only a full socket is watched for a stall (watch_stall sets
             * the time when it starts to). */
            if (ev_is_active(&t->stall))
                t->last_write = ev_now(t->loop);
            urg_session_consume(t->s, (size_t)w);
            t->st.bytes_out += (uint64_t)w;
            t->st.writes++;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(t->loop, &t->wio);
            watch_stall(t);
            check_blocked(t, pending);
            return true;
        }
        drop(t, URG_ERR_IO);
        return false;
    }
    /* All written (or the connection is gone, or the engine gave no
     * segment): nothing to wait for. The two stops are libev calls; most
     * writes have neither watcher running. */
    if (t->state == T_CONNECTED) {
        if (ev_is_active(&t->wio) || ev_is_pending(&t->wio))
            ev_io_stop(t->loop, &t->wio);
        if (ev_is_active(&t->stall) || ev_is_pending(&t->stall))
            ev_timer_stop(t->loop, &t->stall);
    }
    check_blocked(t, pending);
    return true;
}

/* The stall timer ran out: the host took nothing for stall_timeout
 * seconds, or it took something meanwhile. */
static void check_stall(urg_transport *t)
{
    ev_tstamp left = t->last_write + t->cfg.stall_timeout - ev_now(t->loop);
    if (t->state == T_CONNECTED && left > 0) {
        /* The host took something meanwhile: wait the rest. */
        ev_timer_set(&t->stall, left, 0.);
        ev_timer_start(t->loop, &t->stall);
    } else if (t->state == T_CONNECTED) {
        tlog(t, URG_LOG_ERROR, "%s: the host read nothing for %g s while %zu bytes waited",
             t->where, t->cfg.stall_timeout, t->s ? urg_session_output_pending(t->s) : 0);
        drop(t, URG_ERR_STALLED);
    }
}
GUARDED_CALLBACK(on_stall, timer, check_stall)

/* ---------------------------------------------------------------- reading */

/* A read after a direct one: a header (16 bytes, and at most 20 of a type
 * header) with a little to spare. */
#define HEADER_READ 64
_Static_assert(HEADER_READ <= sizeof(((struct urg_transport *)0)->stash), "the stash holds a header read");

/* The most segments of a request's destination one read fills (a URB
 * with more takes more reads). */
#define WINDOW_IOV 16

/* Reads what the host sent and feeds it to the session, up to the read
 * budget. A payload that has its request's buffer or segments (the
 * session's window) is read straight into it (readv); the read that completes such a window also
 * takes a header's worth beyond it into the stash (one readv for a reply's
 * payload and the next header), and the stash is fed first on the next
 * turn, once reading may go on (not paused, not blocked): in this loop,
 * or from an idle watcher (stash_wake), since the socket may have nothing
 * more to wake us. */
static void read_host(urg_transport *t)
{
    size_t budget = t->cfg.read_budget;
    while (budget && t->state == T_CONNECTED && !t->paused && !t->blocked && !t->guard.free_pending) {
        struct iovec iov[WINDOW_IOV + 1]; /* the window's, and the stash */
        size_t want, beyond = 0;
        ssize_t n;
        bool direct = false, drained;
        int r, nw = 0;
        if (t->stash_len) {
            /* Read already (by the readv below), counted and captured then. */
            n = t->stash_len;
            want = (size_t)n;
            drained = t->stash_drained;
            t->stash_len = 0;
            /* (after_direct stays: if the stash held less than a header,
             * the next read is a header's worth again.) */
            r = urg_session_recv(t->s, t->stash, (size_t)n);
            goto fed;
        }
        /* The window's iovecs are never empty (a readv of 0 bytes would
         * return 0, which says end of file). One more than a read takes
         * says whether the window goes on beyond them. */
        nw = urg_session_recv_window_iov(t->s, iov, WINDOW_IOV + 1);
        direct = nw > 0;
        if (direct) {
            /* The read completes the window unless the window has more
             * segments than a read takes or the budget cuts it. */
            bool completes = nw <= WINDOW_IOV;
            if (!completes)
                nw = WINDOW_IOV;
            want = 0;
            for (int k = 0; k < nw; k++) {
                if (iov[k].iov_len >= budget - want) {
                    if (iov[k].iov_len > budget - want || k + 1 < nw)
                        completes = false;
                    iov[k].iov_len = budget - want;
                    nw = k + 1;
                }
                want += iov[k].iov_len;
            }
            if (completes) {
                /* The next header comes with it. */
                iov[nw].iov_base = t->stash;
                iov[nw].iov_len = HEADER_READ;
                beyond = HEADER_READ;
                n = readv(t->fd, iov, nw + 1);
            } else {
                n = readv(t->fd, iov, nw);
            }
        } else {
            /* Right after a payload read straight into its request, the
             * next bytes are most likely the next reply's header, and its
             * payload may go straight in too: read a header's worth only,
             * so that payload is not read into our buffer and copied. */
            want = t->after_direct ? HEADER_READ : t->cfg.read_buffer;
            want = want < budget ? want : budget;
            n = read(t->fd, t->rbuf, want);
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            drop(t, n == 0 ? URG_ERR_EOF : URG_ERR_IO);
            break;
        }
        drained = (size_t)n < want + beyond;
        if ((size_t)n > want) {
            /* Beyond the window: into the stash, fed on the next turn. */
            t->stash_len = (uint8_t)((size_t)n - want);
            t->stash_drained = drained;
            n = (ssize_t)want;
        }
        if (t->cap) {
            /* What was read, in order: the window's pieces (or our
             * buffer), then the stash. */
            size_t left = (size_t)n;
            for (int k = 0; direct && left; k++) {
                size_t c = iov[k].iov_len < left ? iov[k].iov_len : left;
                urg_capture_write(t->cap, URG_CAP_HOST, iov[k].iov_base, c);
                left -= c;
            }
            if (!direct)
                urg_capture_write(t->cap, URG_CAP_HOST, t->rbuf, (size_t)n);
            if (t->stash_len)
                urg_capture_write(t->cap, URG_CAP_HOST, t->stash, t->stash_len);
        }
        /* The host spoke: the backoff starts over. A connection that is
         * accepted and closed at once (usbredirect's forwarded port once it
         * has exited) does not reset it. */
        t->failures = 0;
        t->st.bytes_in += (uint64_t)n + t->stash_len;
        t->st.reads++;
        budget -= (size_t)n + t->stash_len < budget ? (size_t)n + t->stash_len : budget;
        t->after_direct = direct;
        if (direct) {
            t->st.direct_bytes += (uint64_t)n;
            r = urg_session_recv_commit(t->s, (size_t)n);
        } else {
            r = urg_session_recv(t->s, t->rbuf, (size_t)n);
        }
fed:
        if (r < 0 && t->state == T_CONNECTED) {
            /* The session failed (a broken host): it is over. This is the
             * one line that says why (the engine and the model leave a
             * fatal error to whoever ends the connection). */
            const char *msg = "";
            if (t->s && urg_session_error(t->s, &msg) && msg[0])
                tlog(t, URG_LOG_ERROR, "%s: %s", t->where, msg);
            else
                tlog(t, URG_LOG_ERROR, "%s: %s", t->where, urg_strerror(r));
            drop(t, r);
            break;
        }
        /* Answers pile up faster than the host takes them: write, and stop
         * reading until they drain. */
        if (urg_session_output_pending(t->s) > t->cfg.output_high && !try_write(t))
            break;
        if (drained && !t->stash_len)
            break; /* the socket is empty */
    }
    if (t->state == T_CONNECTED && !t->guard.free_pending)
        try_write(t);
    stash_wake(t); /* the budget ran out right after a read ahead */
}
GUARDED_CALLBACK(on_read, io, read_host)
GUARDED_CALLBACK(on_write, io, try_write)

/* Before the loop waits: what the application queued meanwhile goes out.
 * Most iterations have nothing queued (what a callback of ours queued went
 * out at its end): then only a blocked transport looks again, in case the
 * engine dropped its output. */
static void write_before_wait(urg_transport *t)
{
    if (t->state == T_CONNECTED && !ev_is_active(&t->wio) &&
        (t->blocked || (t->s && urg_session_output_pending(t->s))))
        try_write(t);
}
GUARDED_CALLBACK(on_prepare, prepare, write_before_wait)

/* The stash's bytes, fed when nothing else is pending (stash_idle). */
static void feed_stash(urg_transport *t)
{
    ev_idle_stop(t->loop, &t->stash_idle);
    read_host(t);
}
GUARDED_CALLBACK(on_stash, idle, feed_stash)

/* ---------------------------------------------------------------- connecting */

static void connected(urg_transport *t, int fd)
{
    int r;
    sock_nonblock(fd);
    tune_socket(t, fd);
    t->fd = fd;
    r = t->cfg.peer.open(t->cfg.peer.ctx, &t->s);
    if (r < 0) {
        tlog(t, URG_LOG_ERROR, "the peer refused the connection: %s", urg_strerror(r));
        close(fd);
        t->fd = -1;
        t->s = NULL;
        next_attempt(t, r);
        return;
    }
    t->state = T_CONNECTED;
    t->after_direct = false;
    t->stash_len = 0;
    t->st.retry_delay = 0;
    t->st.connects++;
    if (t->cap)
        urg_capture_write(t->cap, URG_CAP_CONNECT, NULL, 0);
    ev_io_set(&t->rio, fd, EV_READ);
    ev_io_set(&t->wio, fd, EV_WRITE);
    update_reading(t);
    tlog(t, URG_LOG_INFO, "connected");
    event(t, URG_TEV_CONNECTED, 0);
    if (t->state == T_CONNECTED && !t->guard.free_pending)
        try_write(t);
}

static void on_connect_done(struct ev_loop *loop, ev_io *w, int revents);

/* One connect attempt (TCP or Unix); fd addresses start here too. */
static void attempt(urg_transport *t)
{
    int fd = -1, r, cerr = 0;
    if (t->addr.kind == URG_ADDR_FD) {
        connected(t, t->addr.fd);
        return;
    }
    if (t->addr.kind == URG_ADDR_UNIX) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, t->addr.path, strlen(t->addr.path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || sock_nonblock(fd)) {
            r = URG_ERR_CONNECT;
            goto fail;
        }
        r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
        cerr = errno;
    } else {
        struct addrinfo hints, *res = NULL, *ai;
        char port[8];
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        snprintf(port, sizeof(port), "%u", t->addr.port);
        if (getaddrinfo(t->addr.host, port, &hints, &res) || !res) {
            r = URG_ERR_RESOLVE;
            goto fail;
        }
        r = -1;
        for (ai = res; ai; ai = ai->ai_next) {
            fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd < 0)
                continue;
            sock_nonblock(fd);
            r = connect(fd, ai->ai_addr, ai->ai_addrlen);
            cerr = errno;
            if (r == 0 || cerr == EINPROGRESS)
                break;
            close(fd);
            fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0) {
            r = URG_ERR_CONNECT;
            goto fail;
        }
    }
    if (r == 0) {
        connected(t, fd);
        return;
    }
    if (cerr != EINPROGRESS && cerr != EAGAIN) {
        r = URG_ERR_CONNECT;
        goto fail;
    }
    t->state = T_CONNECTING;
    t->fd = fd;
    ev_io_stop(t->loop, &t->wio);
    ev_io_init(&t->wio, on_connect_done, fd, EV_WRITE);
    t->wio.data = t;
    ev_io_start(t->loop, &t->wio);
    return;
fail:
    if (fd >= 0)
        close(fd);
    tlog(t, URG_LOG_INFO, "connect to %s failed: %s", t->where, urg_strerror(r));
    next_attempt(t, r);
}

/* The connect() in progress ended, made or failed. */
static void connect_done(urg_transport *t)
{
    int err = 0, fd = t->fd;
    socklen_t len = sizeof(err);
    ev_io_stop(t->loop, &t->wio);
    ev_io_init(&t->wio, on_write, -1, EV_WRITE);
    t->wio.data = t;
    t->fd = -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
        close(fd);
        tlog(t, URG_LOG_INFO, "connect to %s failed: %s", t->where, strerror(err));
        next_attempt(t, URG_ERR_CONNECT);
    } else {
        connected(t, fd);
    }
}
GUARDED_CALLBACK(on_connect_done, io, connect_done)

/* The backoff is over: the next attempt. */
static void retry_due(urg_transport *t)
{
    t->st.retry_delay = 0;
    if (t->state == T_WAITING || t->state == T_IDLE)
        attempt(t);
}
GUARDED_CALLBACK(on_timer, timer, retry_due)

static void accept_host(urg_transport *t)
{
    int fd = accept(t->lfd, NULL, NULL);
    if (fd >= 0) {
        if (t->state == T_CONNECTED) {
            close(fd); /* one host at a time */
        } else {
            ev_io_stop(t->loop, &t->lio);
            connected(t, fd);
        }
    }
}
GUARDED_CALLBACK(on_accept, io, accept_host)

static int start_listening(urg_transport *t)
{
    int fd = sock_listen(&t->addr, 4, &t->port);
    if (fd < 0)
        return fd;
    t->lfd = fd;
    ev_io_init(&t->lio, on_accept, fd, EV_READ);
    t->lio.data = t;
    ev_io_start(t->loop, &t->lio);
    t->state = T_LISTENING;
    return 0;
}

/* ---------------------------------------------------------------- public */

URG_API int urg_transport_new(const struct urg_transport_config *given, urg_transport **out)
{
    const struct urg_allocator *a;
    struct urg_transport_config c, *cfg = &c;
    urg_transport *t;
    int r;
    if (!given || !out)
        return URG_ERR_INVALID;
    urg_transport_config_init(&c);
    if (urgi_config_take(&c, sizeof(c), given) || !cfg->address || !cfg->peer.open ||
        !cfg->peer.close)
        return URG_ERR_INVALID;
    *out = NULL;
    a = urgi_allocator_or_default(cfg->allocator);
    t = urgi_calloc(a, sizeof(*t));
    if (!t)
        return URG_ERR_NOMEM;
    t->alloc = *a;
    t->cfg = *cfg;
    t->cfg.allocator = NULL; /* our copy is t->alloc */
    t->fd = t->lfd = -1;
    if ((r = urg_address_parse(cfg->address, &t->addr))) {
        really_free(t);
        return r;
    }
    if (t->addr.kind == URG_ADDR_FD && cfg->listen) {
        really_free(t);
        return URG_ERR_ADDRESS;
    }
    if (!t->cfg.read_buffer)
        t->cfg.read_buffer = 64u * 1024u;
    if (!t->cfg.read_budget)
        t->cfg.read_budget = 1024u * 1024u;
    if (!t->cfg.output_high)
        t->cfg.output_high = 4u * 1024u * 1024u;
    if (t->cfg.backoff_initial <= 0)
        t->cfg.backoff_initial = 0.1;
    if (t->cfg.backoff_max < t->cfg.backoff_initial)
        t->cfg.backoff_max = t->cfg.backoff_initial;
    urg_address_format(&t->addr, t->where, sizeof(t->where));
    t->cfg.address = NULL; /* the caller's string is not kept */
    t->rbuf = urgi_malloc(&t->alloc, t->cfg.read_buffer);
    if (!t->rbuf) {
        really_free(t);
        return URG_ERR_NOMEM;
    }
    t->loop = cfg->loop ? cfg->loop : EV_DEFAULT;
    ev_io_init(&t->rio, on_read, -1, EV_READ);
    ev_io_init(&t->wio, on_write, -1, EV_WRITE);
    ev_timer_init(&t->timer, on_timer, 0., 0.);
    ev_timer_init(&t->stall, on_stall, 0., 0.);
    ev_prepare_init(&t->prep, on_prepare);
    ev_idle_init(&t->stash_idle, on_stash);
    /* An idle watcher runs only when nothing of its priority or higher is
     * pending: at the top priority, a busy descriptor elsewhere on the loop
     * cannot keep the stash waiting. */
    ev_set_priority(&t->stash_idle, EV_MAXPRI);
    t->rio.data = t->wio.data = t->lio.data = t->timer.data = t->stall.data = t->prep.data = t;
    t->stash_idle.data = t;
    if (cfg->capture_path && (r = urgt_capture_create(&t->alloc, cfg->capture_path, &t->cap))) {
        really_free(t);
        return r;
    }
    if (cfg->listen) {
        if ((r = start_listening(t))) {
            urg_capture_close(t->cap);
            really_free(t);
            return r;
        }
    } else {
        t->state = T_IDLE;
        schedule(t, 0.); /* the first attempt, from the loop */
    }
    /* The prepare watcher must not keep the loop alive on its own. */
    ev_prepare_start(t->loop, &t->prep);
    ev_unref(t->loop);
    *out = t;
    return 0;
}

URG_API void urg_transport_free(urg_transport *t)
{
    urg_session *s;
    if (!t)
        return;
    if (t->guard.free_pending)
        return;
    urgi_guard_free(&t->guard); /* from now on: no event callbacks */
    stop_watchers(t);
    ev_ref(t->loop);
    ev_prepare_stop(t->loop, &t->prep);
    s = t->s;
    t->s = NULL;
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    if (t->lfd >= 0) {
        close(t->lfd);
        if (t->addr.kind == URG_ADDR_UNIX)
            unlink(t->addr.path);
    }
    t->lfd = -1;
    if (s && t->state == T_CONNECTED)
        t->cfg.peer.close(t->cfg.peer.ctx, 0);
    t->state = T_CLOSED;
    urg_capture_close(t->cap);
    t->cap = NULL;
    if (!t->guard.depth)
        really_free(t); /* else the outermost leave() does */
}

URG_API void urg_transport_pause(urg_transport *t, int pause)
{
    if (!t)
        return;
    t->paused = pause != 0;
    update_reading(t);
}

URG_API int urg_transport_connected(const urg_transport *t)
{
    return t && t->state == T_CONNECTED;
}

URG_API int urg_transport_port(const urg_transport *t) { return t ? t->port : 0; }

URG_API int urg_transport_fd(const urg_transport *t)
{
    return t && t->state == T_CONNECTED ? t->fd : -1;
}

URG_API void urg_transport_stats(const urg_transport *t, struct urg_transport_stats *out)
{
    if (t && out)
        *out = t->st;
}

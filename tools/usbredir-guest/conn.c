/*
 * conn.c - the device a command talks to: the host-controller model behind
 * a transport, on libev's default loop; with no address, behind an
 * in-process replay of a bundled capture over a socketpair. Commands are
 * written as straight-line code: each request is run to completion by
 * spinning the loop (conn_xfer), bounded by a timeout.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "cli.h"
#include "parse.h"

struct conn {
    struct common o;
    struct ev_loop *loop;
    urg_hcd_dev *dev;
    struct urg_hcd_device info; /* the device's, kept from on_attach on */
    urg_transport *t;
    urg_replay *replay;
    bool device;               /* the replay is a device:FILE */
    char where[300];           /* the address, or the capture replayed */
    struct replay_end replayed;
    bool attached, gone, interrupted, rejected;
    bool said;                 /* why the session ended was printed */
    bool transport_said;       /* the transport logged why it ended the
                                  connection (an error line) */
    int gone_err, reject_reason;
    struct cli_signals signals; /* SIGINT, SIGTERM: interrupted */
};

const char *cli_prog = "usbredir-guest";

/* The message is escaped whole: it may quote what a peer or a file said. */
void cli_error(const struct common *o, const char *fmt, ...)
{
    char buf[512], *msg = buf;
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(buf) && (msg = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    fprintf(stderr, "%s: ", o && o->prog ? o->prog : cli_prog);
    text_puts(stderr, msg ? msg : buf, 0);
    fputc('\n', stderr);
    if (msg != buf)
        free(msg);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *level_name(int level)
{
    switch (level) {
    case URG_LOG_ERROR: return "error";
    case URG_LOG_WARNING: return "warning";
    case URG_LOG_INFO: return "info";
    default: return "debug";
    }
}

int cli_log_level(const struct common *o)
{
    return o->verbose >= 2 ? URG_LOG_DEBUG : o->verbose == 1 ? URG_LOG_INFO : URG_LOG_WARNING;
}

static void on_log(void *ud, int level, const char *msg)
{
    struct conn *c = ud;
    if (level <= cli_log_level(&c->o))
        cli_error(&c->o, "%s: %s", level_name(level), msg);
}

/* The transport logs an error line only when it ends a connection (a
 * broken host, one that stopped reading): that line is the reason, and
 * the command does not say it again. */
static void on_transport_log(void *ud, int level, const char *msg)
{
    struct conn *c = ud;
    if (level == URG_LOG_ERROR)
        c->transport_said = true;
    on_log(ud, level, msg);
}

/* The usb-host broke the protocol (the engine refused what it sent): the
 * device failed (exit 1), it did not just go away (exit 3). */
static int gone_code(const struct conn *c)
{
    return urg_error_is_protocol(c->gone_err) ? EXIT_FAIL : EXIT_CONN;
}

int cli_device_new(const struct common *o, const struct urg_hcd_callbacks *callbacks, void *ud,
                   size_t max_output, uint32_t iso_latency_ms, int for_guest, const char *usbmon,
                   urg_hcd_dev **out)
{
    struct urg_hcd_config hc;
    struct urg_session_config session;
    int r;
    urg_hcd_config_init(&hc);
    urg_session_config_init(&session);
    hc.session = &session;
    hc.callbacks = *callbacks;
    hc.user_data = ud;
    session.log_level = cli_log_level(o);
    if (max_output)
        session.max_output_bytes = max_output;
    if (iso_latency_ms)
        hc.iso_latency_ms = iso_latency_ms;
    hc.suppress_remote_wake = for_guest;
    hc.pcap_path = usbmon;
    hc.pcap_bus = 1;
    errno = 0;
    if ((r = urg_hcd_dev_new(&hc, out))) {
        if (r == URG_ERR_IO && usbmon)
            cli_error(o, "--usbmon %s: cannot create: %s", usbmon,
                      errno ? strerror(errno) : urg_strerror(r));
        else
            cli_error(o, "%s", urg_strerror(r));
        return EXIT_FAIL;
    }
    return 0;
}

/* ---------------------------------------------------------------- callbacks */

static void on_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    struct conn *c = ud;
    (void)dev;
    c->attached = true;
    c->info = *info;
    if (c->o.verbose)
        fprintf(stderr, "%s: info: device %04x:%04x attached at %s speed\n", c->o.prog,
                info->usb.vendor_id, info->usb.product_id, urg_speed_name(info->speed));
}

static void on_detach(void *ud, urg_hcd_dev *dev)
{
    struct conn *c = ud;
    c->gone = true;
    urg_hcd_detach_done(dev);
}

static void on_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    struct conn *c = ud;
    struct xfer *x = u->user_data;
    (void)dev;
    if (u->status == URG_URB_NODEV)
        c->gone = true; /* whatever comes next is not this device */
    if (x)
        x->done = true;
}

static void on_endpoints_changed(void *ud, urg_hcd_dev *dev)
{
    struct conn *c = ud;
    const struct urg_hcd_device *info = urg_hcd_dev_info(dev);
    if (info && !c->gone)
        c->info = *info;
}

static void on_rejected(void *ud, urg_hcd_dev *dev, int reason)
{
    struct conn *c = ud;
    (void)dev;
    c->rejected = true;
    c->reject_reason = reason;
}

static void on_event(void *ud, urg_transport *t, int ev, int err)
{
    struct conn *c = ud;
    (void)t;
    /* With --retry, drops before the device attached are retried. */
    if (c->o.retry && !c->attached && ev == URG_TEV_DISCONNECTED)
        return;
    if (ev == URG_TEV_CONNECTED)
        c->transport_said = false; /* a line about an earlier connection is not this one's */
    if (ev == URG_TEV_DISCONNECTED || ev == URG_TEV_CLOSED) {
        c->gone = true;
        if (!c->gone_err)
            c->gone_err = err;
    }
}

void replay_end_keep(struct replay_end *e, int status, const char *report)
{
    e->done = true;
    e->status = status;
    snprintf(e->report, sizeof(e->report), "%s", report);
}

static void on_replay_done(void *ud, urg_replay *r, int status, const char *report)
{
    struct conn *c = ud;
    (void)r;
    replay_end_keep(&c->replayed, status, report);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct cli_signals *s = w->data;
    (void)revents;
    if (s->caught)
        *s->caught = true;
    ev_break(loop, EVBREAK_ALL);
}

void cli_signals_start(struct cli_signals *s, struct ev_loop *loop, bool *caught)
{
    s->caught = caught;
    ev_signal_init(&s->sigint, on_signal, SIGINT);
    ev_signal_init(&s->sigterm, on_signal, SIGTERM);
    s->sigint.data = s->sigterm.data = s;
    ev_signal_start(loop, &s->sigint);
    ev_signal_start(loop, &s->sigterm);
}

void cli_signals_stop(struct cli_signals *s, struct ev_loop *loop)
{
    ev_signal_stop(loop, &s->sigint);
    ev_signal_stop(loop, &s->sigterm);
}

/* ---------------------------------------------------------------- running */

/* Says once why the session is over: SIGINT, or the device (or the
 * connection) went away. A replay that ended is conn_close()'s to report. */
static void say_gone(struct conn *c, const char *when)
{
    if (c->said || (c->replayed.done && !c->interrupted))
        return;
    c->said = true;
    if (c->transport_said && !c->interrupted)
        return; /* its error line said why */
    if (c->interrupted)
        cli_error(&c->o, "interrupted");
    else if (c->gone_err)
        cli_error(&c->o, "the device went away%s: %s: %s", when, c->where,
                  urg_strerror(c->gone_err));
    else
        cli_error(&c->o, "the device went away%s", when);
}

int conn_fail(struct conn *c)
{
    if (!conn_over(c))
        return EXIT_FAIL;
    say_gone(c, "");
    return c->interrupted ? EXIT_CONN : gone_code(c);
}

struct watch {
    bool expired;
};

static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    ((struct watch *)w->data)->expired = true;
    ev_break(loop, EVBREAK_ONE);
}

int conn_run_until(struct conn *c, bool (*cond)(void *ctx), void *ctx, double timeout)
{
    struct watch wd = { false };
    ev_timer t;
    ev_timer_init(&t, on_watchdog, timeout, 0.);
    t.data = &wd;
    if (timeout > 0)
        ev_timer_start(c->loop, &t);
    while (!cond(ctx) && !wd.expired && !c->interrupted && !c->gone)
        ev_run(c->loop, EVRUN_ONCE);
    ev_timer_stop(c->loop, &t);
    return cond(ctx) ? 0 : -1;
}

static bool xfer_done(void *p) { return ((struct xfer *)p)->done; }

int conn_submit(struct conn *c, struct urg_urb *u)
{
    int r;
    if (conn_over(c)) {
        /* Not to a device plugged in since: it is another one. */
        say_gone(c, "");
        return URG_ERR_NO_DEVICE;
    }
    r = urg_hcd_submit(c->dev, u);
    if (r == URG_ERR_NO_DEVICE) {
        c->gone = true;
        say_gone(c, "");
    } else if (r < 0) {
        cli_error(&c->o, "cannot submit the transfer: %s", urg_strerror(r));
    } else if (r == 1 && u->status == URG_URB_NODEV) {
        c->gone = true;
    }
    return r;
}

int conn_xfer(struct conn *c, struct urg_urb *u, double timeout)
{
    struct xfer x = { false };
    void *saved = u->user_data;
    int r;
    u->user_data = &x;
    r = conn_submit(c, u);
    if (r == 1) {
        u->user_data = saved;
        return u->status; /* completed at once */
    }
    if (r < 0) {
        u->user_data = saved;
        return -1;
    }
    if (conn_run_until(c, xfer_done, &x, timeout) != 0) {
        urg_hcd_cancel(c->dev, u); /* completes now */
        u->user_data = saved;
        if (conn_over(c))
            say_gone(c, "");
        else
            cli_error(&c->o, "the device did not answer within %g s", timeout);
        return -1;
    }
    u->user_data = saved;
    if (u->status == URG_URB_NODEV)
        say_gone(c, "");
    return u->status;
}

int conn_control(struct conn *c, uint8_t rt, uint8_t req, uint16_t value, uint16_t index,
                 void *buf, uint16_t len, uint32_t *actual)
{
    struct urg_urb *u = urg_urb_alloc(0);
    int st;
    if (!u) {
        cli_error(&c->o, "out of memory");
        return -1;
    }
    u->type = URG_EP_CONTROL;
    u->setup[0] = rt;
    u->setup[1] = req;
    u->setup[2] = (uint8_t)value;
    u->setup[3] = (uint8_t)(value >> 8);
    u->setup[4] = (uint8_t)index;
    u->setup[5] = (uint8_t)(index >> 8);
    u->setup[6] = (uint8_t)len;
    u->setup[7] = (uint8_t)(len >> 8);
    u->buffer = buf;
    u->length = len;
    st = conn_xfer(c, u, c->o.timeout);
    if (actual)
        *actual = st >= 0 ? u->actual_length : 0;
    urg_urb_free(u);
    return st;
}

/* ---------------------------------------------------------------- open, close */

static bool attached_or_over(void *p)
{
    struct conn *c = p;
    return c->attached || c->rejected;
}

void cli_coverage(const struct common *o, const char *where,
                  const struct urg_replay_coverage *cv)
{
    (void)o;
    fprintf(stderr,
            "%s: %s: answered from the recording %llu, by rule %llu, not answerable %llu; "
            "stream packets %llu",
            cli_prog, where, (unsigned long long)cv->recorded, (unsigned long long)cv->by_rule,
            (unsigned long long)cv->unanswerable, (unsigned long long)cv->stream_packets);
    if (cv->blocks_read || cv->blocks_missing || cv->blocks_written)
        fprintf(stderr, "; blocks read %llu, missing %llu, written %llu",
                (unsigned long long)cv->blocks_read, (unsigned long long)cv->blocks_missing,
                (unsigned long long)cv->blocks_written);
    fputc('\n', stderr);
}

bool cli_address_is_file(const char *address)
{
    return !strncmp(address, "capture:", 8) || !strncmp(address, "device:", 7);
}

static int start_replay(struct conn *c, const char *fixture, char *addr, size_t cap)
{
    struct urg_replay_config rc;
    void *imported = NULL;
    int sv[2], r;
    urg_replay_config_init(&rc);
    if (c->o.address && !strncmp(c->o.address, "device:", 7)) {
        rc.capture_path = c->o.address + strlen("device:");
        rc.mode = URG_REPLAY_DEVICE;
        c->device = true;
        rc.fast = c->o.fast;
        rc.loop_streams = c->o.loop;
        snprintf(c->where, sizeof(c->where), "the recording %s", rc.capture_path);
    } else if (c->o.address) {
        rc.capture_path = c->o.address + strlen("capture:");
        snprintf(c->where, sizeof(c->where), "the capture %s", rc.capture_path);
    } else {
        const struct fixture *f = fixture_find(fixture);
        if (!f) {
            cli_error(&c->o, "no bundled capture %s", fixture);
            return EXIT_FAIL;
        }
        rc.capture_data = f->data;
        rc.capture_size = f->size;
        snprintf(c->where, sizeof(c->where), "the bundled capture %s", f->name);
    }
    /* A pcap or pcapng file (a session over TCP, or usbmon): imported */
    if (rc.capture_path && (r = cli_recording(&c->o, rc.capture_path, 0, &imported,
                                              &rc.capture_size)))
        return r;
    if (imported) {
        rc.capture_path = NULL;
        rc.capture_data = imported;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        cli_error(&c->o, "socketpair: %s", strerror(errno));
        free(imported);
        return EXIT_FAIL;
    }
    rc.loop = c->loop;
    rc.fd = sv[1];
    rc.done = on_replay_done;
    rc.log = c->o.verbose ? on_log : NULL; /* conn_close() prints the outcome */
    rc.log_level = cli_log_level(&c->o);
    rc.user_data = c;
    r = urg_replay_new(&rc, &c->replay);
    free(imported); /* (read by urg_replay_new()) */
    if (r) {
        cli_error(&c->o, "cannot replay %s: %s", c->where, urg_strerror(r));
        close(sv[0]);
        close(sv[1]);
        return EXIT_FAIL;
    }
    snprintf(addr, cap, "fd:%d", sv[0]);
    return 0;
}

/* The model, the transport (or the replay), and the wait for the device.
 * Every way out but 0 has said why, or leaves it to conn_close() (a
 * replay's report). */
static int open_device(struct conn *c, const struct common *o, const char *fixture)
{
    static const struct urg_hcd_callbacks callbacks = {
        .attach = on_attach, .detach = on_detach, .urb_complete = on_complete,
        .rejected = on_rejected, .endpoints_changed = on_endpoints_changed, .log = on_log,
    };
    struct urg_transport_config tc;
    char addr[64];
    int r;
    if ((r = cli_device_new(o, &callbacks, c, 0, 0, 0, o->usbmon, &c->dev)))
        return r;
    urg_transport_config_init(&tc);
    if (!o->address || cli_address_is_file(o->address)) {
        if ((r = start_replay(c, fixture, addr, sizeof(addr))))
            return r;
        tc.address = addr;
    } else {
        tc.address = o->address;
        tc.listen = o->listen;
        /* --retry: a host that is not up yet (refused, or a forwarded
         * port that accepts and resets) is tried again, 50 ms doubling to
         * 1 s, within the timeout; once the device attached, a drop ends
         * the command as usual. */
        tc.reconnect = o->retry;
        tc.backoff_initial = 0.05;
        tc.backoff_max = 1.0;
        snprintf(c->where, sizeof(c->where), "%s", o->address);
    }
    tc.loop = c->loop;
    tc.peer = urg_transport_peer_hcd(c->dev);
    tc.capture_path = o->record;
    tc.log_level = cli_log_level(o);
    tc.callbacks.event = on_event;
    tc.callbacks.log = on_transport_log;
    tc.stall_timeout = o->timeout; /* a host that stops reading, as one that stops answering */
    tc.user_data = c;
    if ((r = urg_transport_new(&tc, &c->t))) {
        cli_error(o, "%s: %s", o->record && r == URG_ERR_CAPTURE ? o->record : c->where,
                  urg_strerror(r));
        return r == URG_ERR_ADDRESS ? EXIT_USAGE : EXIT_CONN;
    }
    if (o->listen) {
        /* The port matters when the address asked for any (port 0). */
        struct urg_address a;
        urg_address_parse(o->address, &a);
        if (a.kind == URG_ADDR_TCP)
            fprintf(stderr, strchr(a.host, ':') ? "%s: waiting for a usb-host on [%s]:%d\n"
                                                 : "%s: waiting for a usb-host on %s:%d\n",
                    o->prog, a.host, urg_transport_port(c->t));
        else
            fprintf(stderr, "%s: waiting for a usb-host on %s\n", o->prog, o->address);
    }
    if (conn_run_until(c, attached_or_over, c, o->listen ? 0 : o->timeout) != 0 || c->rejected) {
        if (c->replayed.done && c->replayed.status)
            return EXIT_DIVERGED; /* conn_close() prints the report */
        if (c->rejected)
            cli_error(o, "the device was rejected: %s", urg_strerror(c->reject_reason));
        else if (c->interrupted)
            cli_error(o, "interrupted");
        else if (c->gone && c->transport_said)
            return gone_code(c); /* the transport's error line said why */
        else if (c->gone)
            cli_error(o, "%s: %s", c->where,
                      c->gone_err ? urg_strerror(c->gone_err)
                                  : "the connection closed before a device attached");
        else
            cli_error(o, "%s: no device attached within %g s", c->where, o->timeout);
        return EXIT_CONN;
    }
    if (conn_over(c)) {
        /* It attached and went in the same read (or the connection did). */
        if (c->replayed.done && c->replayed.status)
            return EXIT_DIVERGED;
        say_gone(c, " right after it attached");
        return c->interrupted ? EXIT_CONN : gone_code(c);
    }
    return 0;
}

int conn_open(struct conn **out, const struct common *o, const char *fixture)
{
    struct conn *c = calloc(1, sizeof(*c));
    int r;
    *out = NULL;
    if (!c) {
        cli_error(o, "out of memory");
        return EXIT_FAIL;
    }
    c->o = *o;
    c->loop = ev_default_loop(0);
    cli_signals_start(&c->signals, c->loop, &c->interrupted);
    *out = c;
    if ((r = open_device(c, o, fixture)))
        c->said = true; /* conn_close() adds no second line */
    return r;
}

static bool replay_over(void *p) { return ((struct conn *)p)->replayed.done; }

int conn_close(struct conn *c, int rc)
{
    if (!c)
        return rc;
    if (c->replay && !c->device && !c->replayed.done && rc == EXIT_OK && !c->interrupted) {
        /* The command is done: the rest of the capture must follow. */
        c->gone = false;
        conn_run_until(c, replay_over, c, c->o.timeout > 0 ? c->o.timeout : 10);
    }
    urg_transport_free(c->t);
    urg_hcd_dev_free(c->dev);
    if (c->replay && c->device) {
        /* A device answers whatever it is asked: what it could answer is
         * the report, and the command's result is its own. */
        struct urg_replay_coverage cv;
        if (urg_replay_coverage(c->replay, &cv) == 0)
            cli_coverage(&c->o, c->where, &cv);
        if (c->replayed.done && c->replayed.status)
            cli_error(&c->o, "%s: %s", c->where, c->replayed.report);
        urg_replay_free(c->replay);
    } else if (c->replay) {
        urg_replay_free(c->replay);
        if (c->replayed.done && c->replayed.status) {
            cli_error(&c->o, "%s diverged: %s", c->where, c->replayed.report);
            rc = EXIT_DIVERGED;
        } else if (!c->replayed.done && rc == EXIT_OK) {
            cli_error(&c->o, "%s was not replayed to its end", c->where);
            rc = EXIT_DIVERGED;
        } else if (c->replayed.done && rc == EXIT_CONN && !c->said && !c->interrupted) {
            c->said = true;
            cli_error(&c->o, "the device went away: %s ended", c->where);
        } else if (c->o.verbose && c->replayed.done) {
            cli_error(&c->o, "info: %s: %s", c->where, c->replayed.report);
        }
    }
    if (rc == EXIT_CONN)
        say_gone(c, ""); /* if nothing did */
    cli_signals_stop(&c->signals, c->loop);
    ev_loop_destroy(c->loop);
    free(c);
    return rc;
}

/* The copy taken at attach, kept up to date while the device is there: the
 * model's own is gone with the device. */
const struct urg_hcd_device *conn_device(struct conn *c)
{
    const struct urg_hcd_device *info = conn_over(c) ? NULL : urg_hcd_dev_info(c->dev);
    if (info)
        c->info = *info;
    return &c->info;
}
urg_hcd_dev *conn_dev(struct conn *c) { return c->dev; }
struct ev_loop *conn_loop(struct conn *c) { return c->loop; }
bool conn_over(struct conn *c) { return c->gone || c->interrupted; }
bool conn_replay_diverged(struct conn *c)
{
    return c->replay && c->replayed.done && c->replayed.status;
}
bool conn_replay_finished(struct conn *c)
{
    return c->replay && c->replayed.done && !c->replayed.status;
}

bool conn_bulk32(struct conn *c)
{
    urg_session *s = urg_hcd_dev_session(c->dev);
    return s && (urg_session_caps(s) & URG_CAP_BIT(URG_CAP_32BITS_BULK_LENGTH));
}

void conn_bulk_endpoints(const struct urg_hcd_device *info, int iface, uint8_t *in, uint8_t *out)
{
    int k;
    *in = *out = 0;
    for (k = 1; k < 32; k++) {
        const struct urg_endpoint *e = &info->usb.ep[k];
        if (e->type != URG_EP_BULK || e->interface != iface)
            continue;
        if (k >= 16 && !*in)
            *in = urg_ep_address(k);
        if (k < 16 && !*out)
            *out = urg_ep_address(k);
    }
}

/*
 * usbip.c - `usbredir-guest usbip`: a USB/IP server whose devices are
 * usbredir devices, so that Linux's vhci-hcd (`usbip attach`) drives a
 * device a usb-host exports. The bridge is exactly what a VMM's
 * host-controller emulation is: it uses the public headers only
 * (urg_hcd.h, urg_transport.h) - a USB/IP CMD_SUBMIT is urg_hcd_submit(),
 * a CMD_UNLINK is urg_hcd_cancel().
 *
 * This file: the command, the listening socket and the exports - one per
 * ADDRESS, a model device behind a transport that reconnects, listed and
 * importable while its device is there. A client's connection and its
 * URBs are usbip_client.c's. docs/usbip.md is the guide.
 */
#include <errno.h>
#include <getopt.h> /* optind */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "usbip.h"

#define DEFAULT_LISTEN "127.0.0.1:3240"

/* ---------------------------------------------------------------- logging */

static void on_model_log(void *ud, int level, const char *msg)
{
    struct export *e = ud;
    if (level <= cli_log_level(e->s->o))
        cli_error(e->s->o, "%s: %s: %s", e->busid, e->address, msg);
}

static void on_transport_log(void *ud, int level, const char *msg)
{
    on_model_log(ud, level, msg);
}

/* A device:FILE export's device says why it stopped answering (an error:
 * the export then has no device). */
static void on_device_log(void *ud, int level, const char *msg)
{
    struct export *e = ud;
    if (level <= cli_log_level(e->s->o))
        cli_error(e->s->o, "%s: %s", e->recording, msg);
}

static void on_device_done(void *ud, urg_replay *r, int status, const char *report)
{
    struct export *e = ud;
    (void)r;
    if (status)
        cli_error(e->s->o, "%s: the recorded device stopped: %s", e->recording, report);
}

struct export *export_by_busid(struct server *s, const char *busid)
{
    for (int i = 0; i < s->n_exports; i++)
        if (!strcmp(s->exports[i].busid, busid))
            return &s->exports[i];
    return NULL;
}

void export_describe(const struct export *e, struct usbip_device *d)
{
    const struct urg_hcd_device *info = urg_hcd_dev_info(e->dev);
    static const uint32_t speeds[] = { USBIP_SPEED_LOW, USBIP_SPEED_FULL, USBIP_SPEED_HIGH,
                                       USBIP_SPEED_SUPER };
    memset(d, 0, sizeof(*d));
    snprintf(d->path, sizeof(d->path), "/usbredir-guest/%s", e->busid);
    snprintf(d->busid, sizeof(d->busid), "%s", e->busid);
    d->busnum = 1;
    d->devnum = (uint32_t)e->devnum;
    if (!info)
        return;
    d->speed = info->speed < 4 ? speeds[info->speed] : 0;
    d->id_vendor = info->usb.vendor_id;
    d->id_product = info->usb.product_id;
    d->bcd_device = info->usb.has_device_version ? info->usb.device_version_bcd
                                                 : (uint16_t)(e->descriptor[12] |
                                                              e->descriptor[13] << 8);
    d->device_class = info->usb.device_class;
    d->device_subclass = info->usb.device_subclass;
    d->device_protocol = info->usb.device_protocol;
    d->configuration_value = info->configuration;
    d->num_configurations = e->num_configurations;
    d->num_interfaces = (uint8_t)(info->usb.interface_count < 32 ? info->usb.interface_count : 32);
    for (unsigned i = 0; i < d->num_interfaces; i++) {
        d->interface[i].class_code = info->usb.interface_class[i];
        d->interface[i].subclass = info->usb.interface_subclass[i];
        d->interface[i].protocol = info->usb.interface_protocol[i];
    }
}

/* ---------------------------------------------------------------- exports */

static void probe_done(struct export *e, const struct urg_urb *u);

/* Step 1 reads the device descriptor, step 2 GET_CONFIGURATION (the model
 * keeps the answer in urg_hcd_device.configuration). */
static void probe_start(struct export *e)
{
    static const uint8_t get_device[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    static const uint8_t get_config[8] = { 0x80, 8, 0, 0, 0, 0, 1, 0 };
    struct urg_urb *u = e->probe;
    int r;
    u->type = URG_EP_CONTROL;
    u->endpoint = 0;
    u->user_data = NULL;
    memcpy(u->setup, e->probing == 1 ? get_device : get_config, 8);
    u->buffer = e->probing == 1 ? e->descriptor : &e->configuration;
    u->length = e->probing == 1 ? 18 : 1;
    r = urg_hcd_submit(e->dev, u);
    if (r == 1 || r == URG_ERR_NO_DEVICE) {
        u->status = r == 1 ? u->status : URG_URB_NODEV;
        probe_done(e, u);
    } else if (r < 0) {
        /* Listed all the same, with what the model knows. */
        cli_error(e->s->o, "%s: warning: cannot read the device's descriptor: %s", e->busid,
                  urg_strerror(r));
        u->status = URG_URB_IOERROR;
        u->actual_length = 0;
        probe_done(e, u);
    }
}

/* The device's descriptor (bNumConfigurations, bcdDevice) and its
 * configuration, as a server describes it, read through the model once per
 * attach; then the device is listed. */
static void probe_done(struct export *e, const struct urg_urb *u)
{
    if (u->status == URG_URB_NODEV) {
        e->probing = 0; /* gone already: detach follows */
        return;
    }
    if (e->probing == 1) {
        e->num_configurations = u->status == URG_URB_SUCCESS && u->actual_length == 18
                                    ? e->descriptor[17] : 1;
        e->probing = 2;
        probe_start(e);
        return;
    }
    e->probing = 0;
    e->ready = 1;
    if (e->s->o->verbose) {
        const struct urg_hcd_device *info = urg_hcd_dev_info(e->dev);
        if (info)
            cli_error(e->s->o, "info: %s: %04x:%04x at %s speed, exportable (%s)", e->busid,
                      info->usb.vendor_id, info->usb.product_id, urg_speed_name(info->speed),
                      e->address);
    }
}

static void redial_arm(struct export *e);

static void on_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    struct export *e = ud;
    (void)dev;
    (void)info;
    ev_timer_stop(e->s->loop, &e->redial);
    memset(e->descriptor, 0, sizeof(e->descriptor));
    e->probing = 1;
    probe_start(e);
}

static void on_detach(void *ud, urg_hcd_dev *dev)
{
    struct export *e = ud;
    e->ready = 0;
    e->probing = 0;
    if (e->importer) {
        /* vhci's only unplug signal: the connection closes, after the
         * replies of the URBs the model just completed (-ENODEV). */
        client_device_gone(e->importer);
    } else if (e->s->o->verbose) {
        cli_error(e->s->o, "info: %s: the device went away", e->busid);
    }
    urg_hcd_detach_done(dev);
    if (e->can_redial && e->t && urg_transport_connected(e->t))
        redial_arm(e);
}

static void on_urb_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    struct export *e = ud;
    (void)dev;
    if (u == e->probe) {
        probe_done(e, u);
        return;
    }
    client_urb_complete(u);
}

static void on_rejected(void *ud, urg_hcd_dev *dev, int reason)
{
    struct export *e = ud;
    (void)dev;
    cli_error(e->s->o, "%s: the device was rejected: %s", e->busid, urg_strerror(reason));
}

static int export_dial(struct export *e);

/* The usb-host kept the connection but has had no device for
 * --device-wait seconds: usbredirect, for one, never sees a device plugged
 * in again until it is started again (it is, by whatever restarts it when
 * its guest goes). The connection is dropped and dialled again. */
static void on_redial(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct export *e = w->data;
    (void)loop;
    (void)revents;
    if (e->ready || e->probing)
        return;
    {
        /* Only a host that said hello and has no device: a forwarded port
         * may accept long before a usb-host listens behind it, and an
         * abandoned connection would use up one of usbredirect's serves. */
        urg_session *ss = urg_hcd_dev_session(e->dev);
        if (!ss || urg_session_state(ss) == URG_STATE_WAIT_HELLO) {
            redial_arm(e);
            return;
        }
    }
    if (e->s->o->verbose)
        cli_error(e->s->o, "info: %s: no device on %s for %g s: connecting again", e->busid,
                  e->address, e->s->device_wait);
    {
        urg_transport *t = e->t;
        e->t = NULL; /* the detach its close may cause does not re-arm */
        urg_transport_free(t);
    }
    if (export_dial(e))
        cli_error(e->s->o, "%s: %s: cannot connect again", e->busid, e->address);
}

/* (Re)starts the wait for a device on the connection (set again each
 * time: a one-shot timer that fired keeps its old expiry). */
static void redial_arm(struct export *e)
{
    ev_timer_stop(e->s->loop, &e->redial);
    ev_timer_set(&e->redial, e->s->device_wait, 0.);
    ev_timer_start(e->s->loop, &e->redial);
}

static void on_transport_event(void *ud, urg_transport *t, int event, int err)
{
    struct export *e = ud;
    (void)t;
    (void)err;
    if (event == URG_TEV_CONNECTED && e->can_redial)
        redial_arm(e); /* stopped when a device attaches */
    else if (event != URG_TEV_CONNECTED)
        ev_timer_stop(e->s->loop, &e->redial);
}

/* The usbmon capture of export e: --usbmon's FILE with one usb-host, else
 * FILE with the busid before its extension (usb.pcap: usb-1-2.pcap), or
 * after its name if it has none. -1 if that does not fit. */
static int usbmon_path(const struct server *s, struct export *e)
{
    const char *file = s->o->usbmon, *slash = strrchr(file, '/');
    const char *base = slash ? slash + 1 : file, *dot = strrchr(base, '.');
    char path[sizeof(e->usbmon)];
    int n;
    if (s->n_addresses == 1)
        n = snprintf(path, sizeof(path), "%s", file);
    else if (dot && dot != base)
        n = snprintf(path, sizeof(path), "%.*s-%s%s", (int)(dot - file), file, e->busid, dot);
    else
        n = snprintf(path, sizeof(path), "%s-%s", file, e->busid);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    memcpy(e->usbmon, path, (size_t)n + 1);
    return 0;
}

static int export_open(struct server *s, struct export *e, const char *address)
{
    static const struct urg_hcd_callbacks callbacks = {
        .attach = on_attach, .detach = on_detach, .urb_complete = on_urb_complete,
        .rejected = on_rejected, .log = on_model_log,
    };
    struct urg_address a;
    int r;
    e->s = s;
    ev_timer_init(&e->redial, on_redial, s->device_wait > 0 ? s->device_wait : 1., 0.);
    e->redial.data = e;
    if (!strncmp(address, "device:", 7)) {
        /* The recorded device answers whatever Linux asks, for as long as
         * the bridge runs (no unplug at the recording's end). */
        struct urg_replay_config rc;
        void *imported;
        int sv[2];
        urg_replay_config_init(&rc);
        /* a pcap or pcapng file (a session over TCP, or usbmon): imported */
        if ((r = cli_recording(s->o, address + 7, 0, &imported, &rc.capture_size)))
            return r;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
            cli_error(s->o, "socketpair: %s", strerror(errno));
            free(imported);
            return EXIT_FAIL;
        }
        e->recording = address + 7;
        rc.capture_path = imported ? NULL : e->recording;
        rc.capture_data = imported;
        rc.log = on_device_log;
        rc.done = on_device_done;
        rc.user_data = e;
        rc.mode = URG_REPLAY_DEVICE;
        rc.fast = s->o->fast;
        rc.loop_streams = s->o->loop;
        rc.close_when_done = 0;
        rc.loop = s->loop;
        rc.fd = sv[1];
        rc.log_level = cli_log_level(s->o);
        r = urg_replay_new(&rc, &e->device);
        free(imported); /* (read by urg_replay_new()) */
        if (r) {
            cli_error(s->o, "usbip: %s: %s", address, urg_strerror(r));
            close(sv[0]);
            close(sv[1]);
            return EXIT_FAIL;
        }
        snprintf(e->fd_address, sizeof(e->fd_address), "fd:%d", sv[0]);
        address = e->fd_address;
    }
    if (urg_address_parse(address, &a)) {
        cli_error(s->o, "usbip: \"%s\" is not an address (host:port, [v6]:port, unix:/path, fd:N)",
                  address);
        return EXIT_USAGE;
    }
    e->address = address;
    e->devnum = (int)(e - s->exports) + 1;
    snprintf(e->busid, sizeof(e->busid), "1-%d", e->devnum);
    if (!(e->probe = urg_urb_alloc(0))) {
        cli_error(s->o, "out of memory");
        return EXIT_FAIL;
    }
    if (s->o->usbmon && usbmon_path(s, e) < 0) {
        cli_error(s->o, "usbip: --usbmon %s: the name is too long", s->o->usbmon);
        return EXIT_USAGE;
    }
    if ((r = cli_device_new(s->o, &callbacks, e, s->max_output, s->iso_latency_ms, 1,
                            s->o->usbmon ? e->usbmon : NULL, &e->dev)))
        return r;
    e->can_redial = a.kind != URG_ADDR_FD && s->device_wait > 0; /* an fd cannot be */
    return export_dial(e);
}

/* The transport to the usb-host, which connects again after a drop. */
static int export_dial(struct export *e)
{
    struct server *s = e->s;
    struct urg_transport_config tc;
    int r;
    urg_transport_config_init(&tc);
    tc.address = e->address;
    tc.loop = s->loop;
    tc.peer = urg_transport_peer_hcd(e->dev);
    tc.reconnect = 1;           /* a usb-host that goes away is waited for */
    tc.backoff_initial = 0.05;
    tc.backoff_max = 2.0;
    tc.log_level = cli_log_level(s->o);
    tc.callbacks.log = on_transport_log;
    tc.callbacks.event = on_transport_event;
    tc.user_data = e;
    if ((r = urg_transport_new(&tc, &e->t))) {
        cli_error(s->o, "%s: %s", e->address, urg_strerror(r));
        return r == URG_ERR_ADDRESS ? EXIT_USAGE : EXIT_CONN;
    }
    return 0;
}

static void export_close(struct export *e)
{
    urg_transport *t = e->t;
    e->t = NULL;
    if (t)
        urg_transport_free(t);
    ev_timer_stop(e->s->loop, &e->redial);
    if (e->dev)
        urg_hcd_dev_free(e->dev);
    urg_urb_free(e->probe);
    if (e->device) {
        struct urg_replay_coverage cv;
        if (urg_replay_coverage(e->device, &cv) == 0)
            cli_coverage(e->s->o, e->recording, &cv);
        urg_replay_free(e->device);
        e->device = NULL;
    }
}

/* ---------------------------------------------------------------- listening */

static int listen_on(struct server *s, const char *text)
{
    struct urg_address a;
    char port[16], shown[300];
    int fd = -1, one = 1;
    if (urg_address_parse(text, &a) || a.kind == URG_ADDR_FD) {
        cli_error(s->o, "usbip: --listen \"%s\" is not host:port, [v6]:port or unix:/path", text);
        return EXIT_USAGE;
    }
    if (a.kind == URG_ADDR_UNIX) {
        struct sockaddr_un un;
        memset(&un, 0, sizeof(un));
        un.sun_family = AF_UNIX;
        snprintf(un.sun_path, sizeof(un.sun_path), "%s", a.path);
        unlink(a.path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) || listen(fd, 16)) {
            cli_error(s->o, "usbip: cannot listen on %s: %s", text, strerror(errno));
            if (fd >= 0)
                close(fd);
            return EXIT_CONN;
        }
        snprintf(shown, sizeof(shown), "unix:%s", a.path);
    } else {
        struct addrinfo hints, *res = NULL;
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char host[64] = "";
        int r;
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        snprintf(port, sizeof(port), "%u", a.port);
        if ((r = getaddrinfo(a.host, port, &hints, &res)) != 0) {
            cli_error(s->o, "usbip: --listen %s: %s", text, gai_strerror(r));
            return EXIT_USAGE;
        }
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 16)) {
            cli_error(s->o, "usbip: cannot listen on %s: %s", text, strerror(errno));
            if (fd >= 0)
                close(fd);
            freeaddrinfo(res);
            return EXIT_CONN;
        }
        freeaddrinfo(res);
        getsockname(fd, (struct sockaddr *)&ss, &len);
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
            snprintf(shown, sizeof(shown), "[%s]:%u", host, ntohs(a6->sin6_port));
        } else {
            struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
            snprintf(shown, sizeof(shown), "%s:%u", host, ntohs(a4->sin_port));
        }
    }
    s->lfd = fd;
    printf("listening on %s\n", shown);
    fflush(stdout);
    return 0;
}

/* A client is accepted if there is room (MAX_CLIENTS); out of file
 * descriptors, accepting pauses for a second instead of spinning. */
static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct server *s = w->data;
    int fd = accept(s->lfd, NULL, NULL);
    (void)revents;
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            cli_error(s->o, "usbip: cannot accept a client: %s (trying again in 1 s)",
                      strerror(errno));
            ev_io_stop(loop, &s->lio);
            ev_timer_start(loop, &s->accept_again);
        }
        return;
    }
    if (s->n_clients >= MAX_CLIENTS) {
        if (s->o->verbose)
            cli_error(s->o, "info: usbip: %d clients already: one more refused", MAX_CLIENTS);
        close(fd);
        return;
    }
    client_new(s, fd);
}

static void on_accept_again(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct server *s = w->data;
    (void)revents;
    ev_io_start(loop, &s->lio);
}

/* Clients closed during an iteration are freed before the loop waits. */
static void on_reap(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop;
    (void)revents;
    clients_reap(w->data);
}

static void on_report(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    clients_report(w->data);
}

/* ---------------------------------------------------------------- the command */

static const char usage_text[] =
    "usbip [-v] [--listen ADDR] [--device-wait S] [--max-output N]\n"
    "      [--iso-latency MS] [--usbmon FILE] [--fast] [--loop] ADDRESS...\n"
    "\n"
    "A USB/IP server (protocol 1.1.1): each ADDRESS is a usb-host (host:port,\n"
    "[v6]:port, unix:/path or fd:N) whose device is offered as busid 1-N, N\n"
    "its place on the command line. A usb-host that goes away is connected to\n"
    "again. Linux attaches a device with `usbip attach -r HOST -b 1-N`.\n"
    "An ADDRESS device:FILE serves the device recorded in FILE, for as long as\n"
    "the server runs (never unplugged); on exit a line says how much of what\n"
    "the clients asked the recording answered.\n"
    "\n"
    "  --listen ADDR   where USB/IP clients connect (" DEFAULT_LISTEN ");\n"
    "                  port 0 picks one. There is no authentication: keep it\n"
    "                  on loopback or a trusted network.\n"
    "  --device-wait S a usb-host connected with no device for S seconds (2)\n"
    "                  is dialled again (usbredirect sees a device plugged\n"
    "                  in again only when started again); 0: wait on it\n"
    "  --max-output N  bytes of requests queued for each usb-host (32 MiB):\n"
    "                  above it a client's URBs wait and it is not read\n"
    "  --iso-latency MS iso buffering at the usb-host (60, as QEMU): raise it\n"
    "                  if the usb-host's side may stall that long (an iso OUT\n"
    "                  packet finding usbredirect's buffer full is dropped,\n"
    "                  with the next 60 ms of packets at the default)\n"
    "  --usbmon FILE   write each device's URBs to FILE, a usbmon pcap that\n"
    "                  Wireshark reads; with several ADDRESSes, FILE with the\n"
    "                  busid before its extension (usb.pcap: usb-1-2.pcap)\n"
    "  --usb-device B.D an ADDRESS device:FILE whose FILE is a usbmon capture:\n"
    "                  the device at bus B, address D (else the busiest one\n"
    "                  that is no hub)\n"
    "  --fast          device:FILE: its stream packets (interrupt, iso,\n"
    "                  buffered bulk) as fast as they are taken, not at the\n"
    "                  recorded pace\n"
    "  --loop          device:FILE: a stream that ran out starts over\n"
    "  -v              say what happens (-vv: the protocol's debug lines)\n"
    "\n"
    "Prints \"listening on ADDR\" on stdout when it accepts clients; runs until\n"
    "SIGINT or SIGTERM (exit 0). SIGUSR1 logs each connection's requests, its\n"
    "time with a request in the bridge or at the usb-host (from a request's\n"
    "header read to its reply queued; and how much of it with a URB at the\n"
    "usb-host), and its time with none (waiting for the client).\n";

int cmd_usbip(int argc, char **argv, struct common *o)
{
    struct server *s;
    const char *listen_addr = DEFAULT_LISTEN;
    size_t max_output = 0;
    double device_wait = 2, iso_latency = 60;
    const struct cli_option options[] = {
        CLI_TEXT("listen", 'l', &listen_addr),
        CLI_NUMBER("max-output", 0, &max_output, 4096, 1 << 30),
        CLI_NUMBER("device-wait", 0, &device_wait, 0, 86400),
        CLI_NUMBER("iso-latency", 0, &iso_latency, 1, 1000),
        CLI_TEXT("usbmon", 0, &o->usbmon),
        CLI_SET("fast", 0, &o->fast, 1),
        CLI_SET("loop", 0, &o->loop, 1),
        CLI_PARSE("usb-device", 0, o, cli_parse_usb_device),
        CLI_COUNT("verbose", 'v', &o->verbose),
        CLI_HELP,
        CLI_END,
    };
    int first = cli_options(argc, argv, o, options), rc = 0;
    if (first == CLI_ASKED_HELP)
        return cli_usage(o, usage_text, EXIT_OK);
    if (first == CLI_BAD_VALUE)
        return EXIT_USAGE;
    if (first == CLI_UNKNOWN) {
        cli_error(o, "usbip: unknown option %s, or it needs a value", argv[optind - 1]);
        return cli_usage(o, usage_text, EXIT_USAGE);
    }
    if (first == argc || argc - first > MAX_EXPORTS) {
        cli_error(o, "usbip: give 1 to %d usb-host addresses", MAX_EXPORTS);
        return cli_usage(o, usage_text, EXIT_USAGE);
    }
    for (int i = first; i < argc; i++) {
        for (int j = first; j < i; j++) {
            if (!strcmp(argv[i], argv[j])) {
                /* Two devices dialling one usb-host would knock each other
                 * off: usbredirect serves one guest at a time. */
                cli_error(o, "usbip: %s is given twice (busids 1-%d and 1-%d)", argv[i],
                          j - first + 1, i - first + 1);
                return EXIT_USAGE;
            }
        }
        if (!strncmp(argv[i], "capture:", 8)) {
            cli_error(o, "usbip: %s: a capture replays one guest's packets exactly; give "
                         "device:%s to serve the device it recorded", argv[i], argv[i] + 8);
            return EXIT_USAGE;
        }
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        cli_error(o, "out of memory");
        return EXIT_FAIL;
    }
    s->o = o;
    s->max_output = max_output;
    s->device_wait = device_wait;
    s->iso_latency_ms = (uint32_t)iso_latency;
    s->n_addresses = argc - first;
    s->loop = ev_default_loop(0);
    s->lfd = -1;
    /* The signals are handled from before "listening on" is printed: a
     * script may send one as soon as it reads that line. */
    cli_signals_start(&s->signals, s->loop, NULL);
    ev_signal_init(&s->report, on_report, SIGUSR1);
    s->report.data = s;
    ev_signal_start(s->loop, &s->report);
    for (int i = first; i < argc && !rc; i++)
        rc = export_open(s, &s->exports[s->n_exports++], argv[i]);
    if (!rc)
        rc = listen_on(s, listen_addr);
    if (!rc) {
        ev_prepare_init(&s->reaper, on_reap);
        s->reaper.data = s;
        ev_prepare_start(s->loop, &s->reaper);
        ev_io_init(&s->lio, on_accept, s->lfd, EV_READ);
        s->lio.data = s;
        ev_timer_init(&s->accept_again, on_accept_again, 1., 0.);
        s->accept_again.data = s;
        ev_io_start(s->loop, &s->lio);
        ev_run(s->loop, 0);
        ev_io_stop(s->loop, &s->lio);
        ev_timer_stop(s->loop, &s->accept_again);
    }
    ev_signal_stop(s->loop, &s->report);
    cli_signals_stop(&s->signals, s->loop);
    clients_close_all(s);
    for (int i = 0; i < s->n_exports; i++)
        export_close(&s->exports[i]);
    clients_reap(s);
    ev_prepare_stop(s->loop, &s->reaper);
    if (s->lfd >= 0)
        close(s->lfd);
    ev_loop_destroy(s->loop);
    free(s);
    return rc;
}

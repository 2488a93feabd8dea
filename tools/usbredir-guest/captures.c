/*
 * captures.c - the commands on captures: record (a device command with its
 * session captured), replay (a capture served to a usb-guest, as a
 * usb-host), dump (each packet on a line), import (pcap/pcapng to a
 * capture), export (a capture to pcap, for Wireshark) and stats (per
 * endpoint and per packet type). Whatever comes from a capture file or a
 * guest is printed escaped (parse.h).
 */
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>

#include "cli.h"
#include "parse.h"

/* ---------------------------------------------------------------- record */

int cmd_record(int argc, char **argv, struct common *o)
{
    static const char *const device_commands[] = { "lsusb", "hid", "msc", "serial" };
    static int (*const runs[])(int, char **, struct common *) = { cmd_lsusb, cmd_hid, cmd_msc,
                                                                  cmd_serial };
    size_t i;
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: %s record FILE COMMAND [OPTIONS] [ADDRESS]\n"
               "Runs a device command (lsusb, hid, msc, serial) and records its session,\n"
               "both directions with timestamps, into the capture FILE.\n",
               o->prog);
        return EXIT_OK;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: %s record FILE COMMAND [OPTIONS] [ADDRESS]\n", o->prog);
        return EXIT_USAGE;
    }
    for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        if (!strcmp(argv[2], device_commands[i])) {
            o->record = argv[1];
            return runs[i](argc - 2, argv + 2, o);
        }
    }
    cli_error(o, "record: \"%s\" is not a device command (lsusb, hid, msc, serial)", argv[2]);
    return EXIT_USAGE;
}

/* ---------------------------------------------------------------- replay */

struct replay_run {
    struct replay_end end;
    const struct common *o;
};

static void replay_done(void *ud, urg_replay *r, int status, const char *report)
{
    struct replay_run *x = ud;
    (void)r;
    replay_end_keep(&x->end, status, report);
    ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void replay_log(void *ud, int level, const char *msg)
{
    struct replay_run *x = ud;
    if (level <= (x->o->verbose >= 2 ? URG_LOG_DEBUG : URG_LOG_INFO) && x->o->verbose)
        cli_error(x->o, "%s", msg);
}

static void on_sigint(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

/* A connected socket to address (host:port, [v6]:port or unix:/path). */
static int connect_to(const struct common *o, const char *address)
{
    struct urg_address a;
    int fd;
    if (urg_address_parse(address, &a) || a.kind == URG_ADDR_FD) {
        cli_error(o, "replay: bad address \"%s\"", address);
        return -1;
    }
    if (a.kind == URG_ADDR_UNIX) {
        struct sockaddr_un u;
        memset(&u, 0, sizeof(u));
        u.sun_family = AF_UNIX;
        memcpy(u.sun_path, a.path, strlen(a.path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&u, sizeof(u)) == 0)
            return fd;
    } else {
        struct addrinfo hints, *res = NULL, *ai;
        char port[8];
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        snprintf(port, sizeof(port), "%u", a.port);
        if (getaddrinfo(a.host, port, &hints, &res)) {
            cli_error(o, "replay: %s does not resolve", a.host);
            return -1;
        }
        fd = -1;
        for (ai = res; ai && fd < 0; ai = ai->ai_next) {
            fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
            if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
                close(fd);
                fd = -1;
            }
        }
        freeaddrinfo(res);
        if (fd >= 0)
            return fd;
    }
    cli_error(o, "replay: cannot connect to %s: %s", address, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

int cmd_replay(int argc, char **argv, struct common *o)
{
    static const char usage_text[] =
        "replay [-v] [--listen ADDRESS | --connect ADDRESS] FILE\n"
        "Acts as a usb-host that serves the capture FILE to one usb-guest: listens\n"
        "(127.0.0.1:0 unless given; the address is printed) or connects to a guest\n"
        "that listens. Prints where the guest diverged from the capture, if it did.\n";
    struct urg_replay_config rc;
    struct replay_run x;
    const char *listen_at = NULL, *connect_at = NULL;
    const struct cli_option options[] = {
        CLI_TEXT("listen", 0, &listen_at),
        CLI_TEXT("connect", 0, &connect_at),
        CLI_COUNT("verbose", 'v', &o->verbose),
        CLI_HELP,
        CLI_END,
    };
    struct ev_loop *loop;
    urg_replay *r;
    ev_signal sig;
    int first = cli_options(argc, argv, o, options), err;
    if (first == CLI_ASKED_HELP)
        return cli_usage(o, usage_text, EXIT_OK);
    if (first < 0 || first != argc - 1 || (listen_at && connect_at))
        return cli_usage(o, usage_text, EXIT_USAGE);
    memset(&x, 0, sizeof(x));
    x.o = o;
    loop = EV_DEFAULT;
    urg_replay_config_init(&rc);
    rc.capture_path = argv[first];
    rc.loop = loop;
    rc.done = replay_done;
    rc.log = replay_log;
    rc.log_level = URG_LOG_DEBUG;
    rc.user_data = &x;
    if (connect_at) {
        rc.fd = connect_to(o, connect_at);
        if (rc.fd < 0) {
            ev_loop_destroy(loop);
            return EXIT_CONN;
        }
    } else {
        rc.listen_address = listen_at ? listen_at : "127.0.0.1:0";
    }
    if ((err = urg_replay_new(&rc, &r))) {
        cli_error(o, "replay %s: %s", argv[first], urg_strerror(err));
        if (rc.fd >= 0)
            close(rc.fd);
        ev_loop_destroy(loop);
        return err == URG_ERR_CONNECT || err == URG_ERR_RESOLVE ? EXIT_CONN : EXIT_FAIL;
    }
    if (!connect_at) {
        struct urg_address a;
        urg_address_parse(rc.listen_address, &a);
        if (a.kind == URG_ADDR_UNIX)
            printf("replay: listening on unix:%s\n", a.path);
        else if (strchr(a.host, ':'))
            printf("replay: listening on [%s]:%d\n", a.host, urg_replay_port(r));
        else
            printf("replay: listening on %s:%d\n", a.host, urg_replay_port(r));
        fflush(stdout);
    }
    ev_signal_init(&sig, on_sigint, SIGINT);
    ev_signal_start(loop, &sig);
    ev_run(loop, 0);
    ev_signal_stop(loop, &sig);
    urg_replay_free(r);
    ev_loop_destroy(loop);
    if (!x.end.done) {
        cli_error(o, "replay: interrupted");
        return EXIT_FAIL;
    }
    if (x.end.status) {
        cli_error(o, "replay: %s", x.end.report);
        return x.end.status == URG_ERR_DIVERGED ? EXIT_DIVERGED : EXIT_CONN;
    }
    printf("replay: ");
    text_puts(stdout, x.end.report, 0);
    printf("\n");
    return EXIT_OK;
}

/* ---------------------------------------------------------------- reading captures */

/* A pcap or pcapng file (by its magic), imported to a temporary capture;
 * else the file itself. Returns the path to decode (tmp when imported). */
static const char *as_capture(const struct common *o, const char *path, int host_port, char *tmp,
                              size_t cap, int *rc)
{
    static const uint8_t magics[5][4] = {
        { 0xd4, 0xc3, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0xc3, 0xd4 }, { 0x4d, 0x3c, 0xb2, 0xa1 },
        { 0xa1, 0xb2, 0x3c, 0x4d }, { 0x0a, 0x0d, 0x0d, 0x0a },
    };
    uint8_t m[4] = { 0 };
    char err[512];
    FILE *f = fopen(path, "rb");
    int i, fd, r;
    *rc = 0;
    tmp[0] = 0;
    if (!f) {
        cli_error(o, "%s: %s", path, strerror(errno));
        *rc = EXIT_FAIL;
        return NULL;
    }
    r = (int)fread(m, 1, 4, f);
    fclose(f);
    for (i = 0; i < 5 && r == 4; i++) {
        if (memcmp(m, magics[i], 4))
            continue;
        snprintf(tmp, cap, "/tmp/usbredir-guest-XXXXXX");
        fd = mkstemp(tmp);
        if (fd < 0) {
            cli_error(o, "a temporary file: %s", strerror(errno));
            *rc = EXIT_FAIL;
            return NULL;
        }
        close(fd);
        if ((r = urg_capture_import_pcap(path, tmp, host_port, err, sizeof(err)))) {
            cli_error(o, "%s", err);
            unlink(tmp);
            tmp[0] = 0;
            *rc = EXIT_FAIL;
            return NULL;
        }
        return tmp;
    }
    return path;
}

/* The command line of dump, import and stats: --host-port, then nfiles
 * files (1, or 2 for import) into files[]. Returns true to go on; else
 * *exit_code is the code to exit with (EXIT_OK after --help, EXIT_USAGE
 * after saying why). */
static bool files_command_line(int argc, char **argv, struct common *o, const char *usage_text,
                               int *host_port, const char **files, int nfiles, int *exit_code)
{
    const struct cli_option options[] = {
        CLI_NUMBER("host-port", 0, host_port, 1, 65535),
        CLI_HELP,
        CLI_END,
    };
    int first = cli_options(argc, argv, o, options), i;
    if (first == CLI_ASKED_HELP) {
        *exit_code = cli_usage(o, usage_text, EXIT_OK);
        return false;
    }
    *exit_code = EXIT_USAGE;
    if (first == CLI_BAD_VALUE)
        return false;
    if (first < 0 || argc - first != nfiles) {
        cli_usage(o, usage_text, EXIT_USAGE);
        return false;
    }
    for (i = 0; i < nfiles; i++)
        files[i] = argv[first + i];
    return true;
}

/* dump and stats: their command line, then each packet of the file (a
 * capture, or a pcap/pcapng imported first: as_capture) through fn.
 * Returns true when the whole file went through (*file names it); else
 * *exit_code is the code to exit with, and why was said (after what fn
 * printed). */
static bool decode_command(int argc, char **argv, struct common *o, const char *usage_text,
                           int (*fn)(void *ctx, const struct urg_capture_packet *cp), void *ctx,
                           const char **file, int *exit_code)
{
    const char *path;
    char tmp[64], err[512];
    int host_port = 0, rc;
    if (!files_command_line(argc, argv, o, usage_text, &host_port, file, 1, exit_code))
        return false;
    if (!(path = as_capture(o, *file, host_port, tmp, sizeof(tmp), exit_code)))
        return false;
    rc = urg_capture_decode(path, fn, ctx, err, sizeof(err));
    if (tmp[0])
        unlink(tmp);
    if (rc) {
        fflush(stdout);
        cli_error(o, "%s: %s", *file, err);
        *exit_code = EXIT_FAIL;
        return false;
    }
    *exit_code = EXIT_OK;
    return true;
}

/* ---------------------------------------------------------------- dump */

struct dump_ctx {
    uint32_t connection;
};

static int dump_packet(void *ctx, const struct urg_capture_packet *cp)
{
    struct dump_ctx *d = ctx;
    char line[1024];
    if (cp->connection != d->connection) {
        if (d->connection)
            printf("-- connection %u\n", cp->connection);
        d->connection = cp->connection;
    }
    urg_packet_format(cp->p, line, sizeof(line));
    /* urg_packet_format() escapes the file's text (a version, a filter). */
    printf("%5u %11.6f %s %s\n", cp->index, (double)cp->time_ns / 1e9,
           cp->dir == URG_DIR_TO_HOST ? "guest -> host " : "host  -> guest", line);
    return 0;
}

int cmd_dump(int argc, char **argv, struct common *o)
{
    static const char usage_text[] =
        "dump [--host-port PORT] FILE\n"
        "Prints each packet of a capture, or of a usbredir session in a pcap/pcapng\n"
        "file, on one line: number, seconds, direction, type, id and fields.\n";
    struct dump_ctx d = { 0 };
    const char *file;
    int rc;
    decode_command(argc, argv, o, usage_text, dump_packet, &d, &file, &rc);
    return rc;
}

/* ---------------------------------------------------------------- import */

int cmd_import(int argc, char **argv, struct common *o)
{
    static const char usage_text[] =
        "import [--host-port PORT] PCAP CAPTURE\n"
        "Reassembles the first TCP connection in PCAP (pcap or pcapng, as tcpdump\n"
        "writes) and writes it as a capture. The usb-host is the side on PORT, or\n"
        "the side that sends device_connect.\n";
    const char *files[2]; /* the pcap, the capture */
    char err[512];
    int host_port = 0, rc;
    if (!files_command_line(argc, argv, o, usage_text, &host_port, files, 2, &rc))
        return rc;
    if (urg_capture_import_pcap(files[0], files[1], host_port, err, sizeof(err))) {
        cli_error(o, "%s", err);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ---------------------------------------------------------------- export */

#define EXPORT_MAX_SIZES 64

struct export_opts {
    const struct common *o;
    uint32_t sizes[EXPORT_MAX_SIZES];
    size_t nsizes;
};

/* --segments N[,N...] */
static int segment_sizes(void *target, const char *arg)
{
    struct export_opts *x = target;
    const char *p = arg;
    char *end;
    x->nsizes = 0;
    for (;;) {
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || v < 1 || v > 65495 || x->nsizes == EXPORT_MAX_SIZES ||
            (*end && *end != ',')) {
            cli_error(x->o,
                      "--segments: \"%s\" is not a list of at most %d sizes of 1 to 65495 "
                      "bytes (7,1,1000)",
                      arg, EXPORT_MAX_SIZES);
            return -1;
        }
        x->sizes[x->nsizes++] = (uint32_t)v;
        if (!*end)
            return 0;
        p = end + 1;
    }
}

int cmd_export(int argc, char **argv, struct common *o)
{
    static const char usage_text[] =
        "export [--host-port PORT] [--segments N[,N...]] CAPTURE PCAP\n"
        "Writes the capture as a pcap file of TCP over IPv4, for Wireshark or\n"
        "tcpdump: each connection from 127.0.0.1 (port 40000, 40001, ...) to the\n"
        "usb-host, 127.0.0.2 port PORT (4000). Each record of the capture is one\n"
        "TCP segment, or is cut into segments of the sizes given, in turn.\n";
    struct export_opts x;
    int host_port = 0, first;
    char err[512];
    const struct cli_option options[] = {
        CLI_NUMBER("host-port", 0, &host_port, 1, 65535),
        CLI_PARSE("segments", 0, &x, segment_sizes),
        CLI_HELP,
        CLI_END,
    };
    memset(&x, 0, sizeof(x));
    x.o = o;
    first = cli_options(argc, argv, o, options);
    if (first == CLI_ASKED_HELP)
        return cli_usage(o, usage_text, EXIT_OK);
    if (first == CLI_BAD_VALUE)
        return EXIT_USAGE;
    if (first < 0 || argc - first != 2)
        return cli_usage(o, usage_text, EXIT_USAGE);
    if (urg_capture_export_pcap(argv[first], argv[first + 1], host_port, x.sizes, x.nsizes, err,
                                sizeof(err))) {
        cli_error(o, "%s", err);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ---------------------------------------------------------------- stats */

struct ep_stats {
    uint64_t pkts[2], bytes[2];   /* [0] guest to host, [1] host to guest */
    uint64_t status[8];           /* host to guest, by status */
    uint8_t type;
    bool seen;
};

struct stats_ctx {
    struct ep_stats ep[32];
    uint64_t types[URG_TYPE_COUNT][2]; /* packets by type (urg_type_index), each way */
    uint64_t packets[2];
    uint32_t connections;
    uint64_t last_ns;
};

/* Where each data packet keeps its endpoint and its status (uint8_t both). */
#define DATA_PACKET(type, member)                                                                 \
    { type, offsetof(struct urg_packet, h.member.endpoint),                                       \
      offsetof(struct urg_packet, h.member.status) }
static const struct data_packet {
    uint32_t type;
    size_t endpoint, status; /* in struct urg_packet */
} data_packets[] = {
    DATA_PACKET(URG_CONTROL_PACKET, control),
    DATA_PACKET(URG_BULK_PACKET, bulk),
    DATA_PACKET(URG_INTERRUPT_PACKET, interrupt),
    DATA_PACKET(URG_ISO_PACKET, iso),
    DATA_PACKET(URG_BUFFERED_BULK_PACKET, buffered_bulk),
};

static int stats_packet(void *ctx, const struct urg_capture_packet *cp)
{
    struct stats_ctx *s = ctx;
    const struct urg_packet *p = cp->p;
    const uint8_t *bytes = (const uint8_t *)p;
    const struct data_packet *d = NULL;
    int dir = cp->dir == URG_DIR_TO_GUEST, ep, i;
    uint8_t status;
    s->packets[dir]++;
    if (urg_type_index(p->type) >= 0) /* always: the decoder knows every type it gives */
        s->types[urg_type_index(p->type)][dir]++;
    s->connections = cp->connection;
    s->last_ns = cp->time_ns;
    if (p->type == URG_EP_INFO) {
        for (i = 0; i < 32; i++)
            s->ep[i].type = p->h.ep_info.type[i];
        return 0;
    }
    for (i = 0; i < (int)(sizeof(data_packets) / sizeof(data_packets[0])) && !d; i++)
        if (data_packets[i].type == p->type)
            d = &data_packets[i];
    if (!d)
        return 0;
    /* One row for both directions of the control endpoint. */
    ep = p->type == URG_CONTROL_PACKET ? 0 : urg_ep_index(bytes[d->endpoint]);
    status = bytes[d->status];
    s->ep[ep].seen = true;
    s->ep[ep].pkts[dir]++;
    s->ep[ep].bytes[dir] += p->data_len;
    if (dir)
        s->ep[ep].status[status < 8 ? status : 7]++;
    return 0;
}

int cmd_stats(int argc, char **argv, struct common *o)
{
    static const char usage_text[] =
        "stats [--host-port PORT] FILE\n"
        "Per-endpoint statistics of a capture (or a pcap/pcapng of a session):\n"
        "packets and payload bytes each way, and the host's statuses; then the\n"
        "packets of each type each way.\n";
    struct stats_ctx *s = calloc(1, sizeof(*s));
    const char *file;
    int i, k, rc;
    if (!s) {
        cli_error(o, "out of memory");
        return EXIT_FAIL;
    }
    if (!decode_command(argc, argv, o, usage_text, stats_packet, s, &file, &rc)) {
        free(s);
        return rc;
    }
    printf("%s: %u connection%s, %.3f s, %llu packets guest -> host, %llu host -> guest\n", file,
           s->connections, s->connections == 1 ? "" : "s", (double)s->last_ns / 1e9,
           (unsigned long long)s->packets[0], (unsigned long long)s->packets[1]);
    printf("%-8s %-11s %9s %12s %9s %12s  %s\n", "endpoint", "type", "pkts out", "bytes out",
           "pkts in", "bytes in", "host statuses");
    for (i = 0; i < 32; i++) {
        const struct ep_stats *e = &s->ep[i];
        bool first = true;
        if (!e->seen)
            continue;
        printf("0x%02x     %-11s %9llu %12llu %9llu %12llu ", i ? urg_ep_address(i) : 0,
               i ? urg_ep_type_name(e->type) : "control", (unsigned long long)e->pkts[0],
               (unsigned long long)e->bytes[0], (unsigned long long)e->pkts[1],
               (unsigned long long)e->bytes[1]);
        for (k = 0; k < 8; k++) {
            if (!e->status[k])
                continue;
            printf("%s%s %llu", first ? " " : ", ", k < 7 ? urg_status_name(k) : "other",
                   (unsigned long long)e->status[k]);
            first = false;
        }
        printf("\n");
    }
    printf("\n%-28s %9s %9s\n", "packet type", "pkts out", "pkts in");
    for (i = 0; i < URG_TYPE_COUNT; i++)
        if (s->types[i][0] || s->types[i][1])
            printf("%-28s %9llu %9llu\n", urg_type_name(urg_type_at(i)),
                   (unsigned long long)s->types[i][0], (unsigned long long)s->types[i][1]);
    free(s);
    return EXIT_OK;
}

/*
 * captures.c - the commands on captures: record (a device command with its
 * session captured), replay (a capture served to a usb-guest, as a
 * usb-host), dump (each packet on a line), import (pcap/pcapng to a
 * capture), export (a capture to pcap, for Wireshark) and stats (per
 * endpoint and per packet type); and the recordings the replay takes
 * (cli_recording(): a capture, or a pcap/pcapng imported in memory).
 * Whatever comes from a capture file or a guest is printed escaped
 * (parse.h).
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

/* ---------------------------------------------------------------- recordings */

int cli_parse_usb_device(void *target, const char *arg)
{
    struct common *o = target;
    unsigned bus, address;
    char end;
    if (sscanf(arg, "%u.%u%c", &bus, &address, &end) != 2 || bus > 65535 || address > 255) {
        cli_error(o, "--usb-device: \"%s\" is not BUS.DEV (a bus 0-65535 and an address "
                     "0-255, as 1.3)",
                  arg);
        return -1;
    }
    o->usb_bus = (int)bus;
    o->usb_address = (int)address;
    return 0;
}

/* 1 for a pcap or pcapng file (by its magic), 0 for another or one that
 * cannot be read (the reader of captures says why). */
static int is_pcap(const char *path)
{
    static const uint8_t magics[5][4] = {
        { 0xd4, 0xc3, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0xc3, 0xd4 }, { 0x4d, 0x3c, 0xb2, 0xa1 },
        { 0xa1, 0xb2, 0x3c, 0x4d }, { 0x0a, 0x0d, 0x0d, 0x0a },
    };
    uint8_t m[4] = { 0 };
    FILE *f = fopen(path, "rb");
    int i, r;
    if (!f)
        return 0;
    r = (int)fread(m, 1, 4, f);
    fclose(f);
    for (i = 0; i < 5 && r == 4; i++)
        if (!memcmp(m, magics[i], 4))
            return 1;
    return 0;
}

/* The import's options from the command line's. */
static void import_options(const struct common *o, int host_port, struct urg_import_config *ic)
{
    urg_import_config_init(ic);
    ic->host_port = host_port;
    ic->usb_bus = o->usb_bus;
    ic->usb_address = o->usb_address;
}

int cli_recording(const struct common *o, const char *path, int host_port, void **data,
                  size_t *size)
{
    struct urg_import_config ic;
    char note[1024], err[512];
    *data = NULL;
    *size = 0;
    if (!is_pcap(path))
        return 0;
    import_options(o, host_port, &ic);
    if (urg_capture_import_mem(path, &ic, data, size, note, sizeof(note), err, sizeof(err))) {
        cli_error(o, "%s", err);
        return EXIT_FAIL;
    }
    if (note[0])
        cli_error(o, "%s: %s", path, note);
    return 0;
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
        "replay [-v] [--listen ADDRESS | --connect ADDRESS] [--host-port PORT]\n"
        "       [--usb-device BUS.DEV] FILE\n"
        "Acts as a usb-host that serves the capture FILE to one usb-guest: listens\n"
        "(127.0.0.1:0 unless given; the address is printed) or connects to a guest\n"
        "that listens. Prints where the guest diverged from the capture, if it did.\n"
        "FILE may be a pcap/pcapng of a usbredir session (its usb-host on PORT, or\n"
        "the side that sends device_connect) or a usbmon pcap (its device BUS.DEV,\n"
        "or the busiest but hubs): imported first, as import does.\n";
    struct urg_replay_config rc;
    struct replay_run x;
    const char *listen_at = NULL, *connect_at = NULL;
    int host_port = 0;
    const struct cli_option options[] = {
        CLI_TEXT("listen", 0, &listen_at),
        CLI_TEXT("connect", 0, &connect_at),
        CLI_NUMBER("host-port", 0, &host_port, 1, 65535),
        CLI_PARSE("usb-device", 0, o, cli_parse_usb_device),
        CLI_COUNT("verbose", 'v', &o->verbose),
        CLI_HELP,
        CLI_END,
    };
    struct ev_loop *loop;
    urg_replay *r;
    ev_signal sig;
    void *imported;
    size_t imported_size;
    int first = cli_options(argc, argv, o, options), err;
    if (first == CLI_ASKED_HELP)
        return cli_usage(o, usage_text, EXIT_OK);
    if (first == CLI_BAD_VALUE)
        return EXIT_USAGE;
    if (first < 0 || first != argc - 1 || (listen_at && connect_at))
        return cli_usage(o, usage_text, EXIT_USAGE);
    if ((err = cli_recording(o, argv[first], host_port, &imported, &imported_size)))
        return err;
    memset(&x, 0, sizeof(x));
    x.o = o;
    loop = EV_DEFAULT;
    urg_replay_config_init(&rc);
    rc.capture_path = imported ? NULL : argv[first];
    rc.capture_data = imported;
    rc.capture_size = imported_size;
    rc.loop = loop;
    rc.done = replay_done;
    rc.log = replay_log;
    rc.log_level = URG_LOG_DEBUG;
    rc.user_data = &x;
    if (connect_at) {
        rc.fd = connect_to(o, connect_at);
        if (rc.fd < 0) {
            free(imported);
            ev_loop_destroy(loop);
            return EXIT_CONN;
        }
    } else {
        rc.listen_address = listen_at ? listen_at : "127.0.0.1:0";
    }
    err = urg_replay_new(&rc, &r);
    free(imported); /* (read by urg_replay_new()) */
    if (err) {
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

/* The command line of dump, import and stats: --host-port, --usb-device,
 * the command's own options (extra, NULL: none), then nfiles files (1,
 * or 2 for import) into files[]. Returns true to go on; else *exit_code is
 * the code to exit with (EXIT_OK after --help, EXIT_USAGE after saying
 * why). */
static bool files_command_line(int argc, char **argv, struct common *o, const char *usage_text,
                               const struct cli_option *extra, int *host_port,
                               const char **files, int nfiles, int *exit_code)
{
    const struct cli_option shared[] = {
        CLI_NUMBER("host-port", 0, host_port, 1, 65535),
        CLI_PARSE("usb-device", 0, o, cli_parse_usb_device),
        CLI_HELP,
    };
    struct cli_option options[16];
    size_t n = 0;
    int first, i;
    for (; n < sizeof(shared) / sizeof(shared[0]); n++)
        options[n] = shared[n];
    for (; extra && extra->name && n < sizeof(options) / sizeof(options[0]) - 1; extra++)
        options[n++] = *extra;
    options[n].name = NULL;
    first = cli_options(argc, argv, o, options);
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

/* dump and stats: each packet of file (a capture, or a pcap/pcapng imported
 * first: cli_recording()) through fn. Returns EXIT_OK when the whole file
 * went through; else the code to exit with, after saying why (after what
 * fn printed). */
static int decode_file(const struct common *o, const char *file, int host_port,
                       int (*fn)(void *ctx, const struct urg_capture_packet *cp), void *ctx)
{
    char err[512];
    void *imported;
    size_t size;
    int rc;
    if ((rc = cli_recording(o, file, host_port, &imported, &size)))
        return rc;
    rc = imported ? urg_capture_decode_mem(imported, size, fn, ctx, err, sizeof(err))
                  : urg_capture_decode(file, fn, ctx, err, sizeof(err));
    free(imported);
    if (rc > 0)
        return EXIT_FAIL; /* fn stopped it, and says why */
    if (rc) {
        fflush(stdout);
        cli_error(o, "%s: %s", file, err);
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

/* The row of p's type in data_packets, or NULL for a type without
 * endpoint data. */
static const struct data_packet *data_packet(const struct urg_packet *p)
{
    for (size_t i = 0; i < sizeof(data_packets) / sizeof(data_packets[0]); i++)
        if (data_packets[i].type == p->type)
            return &data_packets[i];
    return NULL;
}

/* ---------------------------------------------------------------- dump */

struct dump_ctx {
    uint32_t connection;
    int full;              /* --full: every payload byte, 16 a line */
    int payload_of;        /* --payload-of: the endpoint, or -1 */
    const char *out_path;  /* -o */
    FILE *out;             /* where its bytes go */
    bool lines;            /* print the packet lines (not with -o -) */
    uint64_t bytes, packets;
    bool write_failed;
};

/* The payload of a packet, 16 bytes a line: offset, hex, and the bytes
 * that are printable ASCII (the rest as '.'). */
static void hexdump(const uint8_t *d, uint32_t n)
{
    for (uint32_t off = 0; off < n; off += 16) {
        char text[17];
        uint32_t i;
        printf("        %04x ", off);
        for (i = 0; i < 16; i++) {
            if (off + i < n) {
                printf("%s%02x", i == 8 ? "  " : " ", d[off + i]);
                text[i] = d[off + i] >= 0x20 && d[off + i] < 0x7f ? (char)d[off + i] : '.';
            } else {
                printf("%s  ", i == 8 ? "  " : " ");
                text[i] = 0;
            }
        }
        text[n - off < 16 ? n - off : 16] = 0;
        printf("  %s\n", text);
    }
}

/* Is p's payload the data of endpoint ep (a data packet on it)? */
static bool endpoint_data(const struct urg_packet *p, int ep)
{
    const struct data_packet *d = data_packet(p);
    return d && p->data_len && ((const uint8_t *)p)[d->endpoint] == ep;
}

static int dump_packet(void *ctx, const struct urg_capture_packet *cp)
{
    struct dump_ctx *d = ctx;
    const struct urg_packet *p = cp->p;
    char line[1024];
    if (d->payload_of >= 0 && endpoint_data(p, d->payload_of)) {
        if (fwrite(p->data, 1, p->data_len, d->out) != p->data_len)
            d->write_failed = true;
        d->bytes += p->data_len;
        d->packets++;
    }
    if (!d->lines)
        return d->write_failed;
    if (cp->connection != d->connection) {
        if (d->connection)
            printf("-- connection %u\n", cp->connection);
        d->connection = cp->connection;
    }
    urg_packet_format(p, line, sizeof(line));
    /* urg_packet_format() escapes the file's text (a version, a filter). */
    printf("%5u %11.6f %s %s\n", cp->index, (double)cp->time_ns / 1e9,
           cp->dir == URG_DIR_TO_HOST ? "guest -> host " : "host  -> guest", line);
    if (d->full && p->type != URG_HELLO && p->data && p->data_len)
        hexdump(p->data, p->data_len);
    return d->write_failed;
}

/* --payload-of EP: an endpoint address (0x81, 129; 0x00 and 0x80 are the
 * control endpoint's OUT and IN data). */
static int parse_endpoint(void *target, const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 0);
    if (!*arg || *end || v < 0 || v > 0xff || (v & 0x70)) {
        fprintf(stderr, "%s: --payload-of: \"%s\" is not an endpoint address (0x00-0x0f, "
                        "0x80-0x8f)\n", cli_prog, arg);
        return -1;
    }
    *(int *)target = (int)v;
    return 0;
}

int cmd_dump(int argc, char **argv, struct common *o)
{
    static const char usage_text[] =
        "dump [--full] [--payload-of EP -o FILE] [--host-port PORT] [--usb-device BUS.DEV]\n"
        "     FILE\n"
        "Prints each packet of a capture, or of a usbredir session in a pcap/pcapng\n"
        "file, or of a usbmon pcap's device (as import turns it into a session), on\n"
        "one line: number, seconds, direction, type, id and fields (16 bytes of the\n"
        "payload). --full: every payload byte below its packet, 16 a line.\n"
        "--payload-of EP -o FILE: the payload bytes of endpoint EP (0x81: IN data,\n"
        "0x02: OUT data; 0x80, 0x00: the control endpoint's), in order, into FILE\n"
        "(- for stdout: then no packet lines).\n";
    struct dump_ctx d;
    const struct cli_option own[] = {
        CLI_SET("full", 0, &d.full, 1),
        CLI_PARSE("payload-of", 0, &d.payload_of, parse_endpoint),
        CLI_TEXT("output", 'o', &d.out_path),
        CLI_END,
    };
    const char *file;
    int host_port = 0, rc;
    memset(&d, 0, sizeof(d));
    d.payload_of = -1;
    d.lines = true;
    if (!files_command_line(argc, argv, o, usage_text, own, &host_port, &file, 1, &rc))
        return rc;
    if ((d.payload_of >= 0) != (d.out_path != NULL)) {
        cli_error(o, "dump: --payload-of EP and -o FILE go together");
        return EXIT_USAGE;
    }
    if (d.out_path && !strcmp(d.out_path, "-")) {
        d.out = stdout;
        d.lines = false;
    } else if (d.out_path && !(d.out = fopen(d.out_path, "wb"))) {
        cli_error(o, "dump: -o %s: %s", d.out_path, strerror(errno));
        return EXIT_FAIL;
    }
    rc = decode_file(o, file, host_port, dump_packet, &d);
    if (d.out && d.out != stdout && fclose(d.out))
        d.write_failed = true;
    if (d.write_failed) {
        cli_error(o, "dump: -o %s: cannot write: %s", d.out_path, strerror(errno));
        return EXIT_FAIL;
    }
    if (rc == EXIT_OK && d.out)
        fprintf(stderr, "%s: dump: %llu bytes of endpoint 0x%02x in %llu packets to %s\n",
                o->prog, (unsigned long long)d.bytes, (unsigned)d.payload_of,
                (unsigned long long)d.packets, d.out == stdout ? "stdout" : d.out_path);
    return rc;
}

/* ---------------------------------------------------------------- import */

int cmd_import(int argc, char **argv, struct common *o)
{
    static const char usage_text[] =
        "import [--host-port PORT] [--usb-device BUS.DEV] PCAP CAPTURE\n"
        "Turns PCAP (pcap or pcapng) into the capture CAPTURE and says what it took\n"
        "and why. A usbredir session over TCP (tcpdump on the network): the first TCP\n"
        "connection, reassembled; the usb-host is the side on PORT (refused when that\n"
        "is the usb-guest's side), or the side that sends device_connect. A usbmon\n"
        "capture (tcpdump -i usbmonN, Wireshark, QEMU's pcap=): the URBs of device\n"
        "BUS.DEV, or of the one with the most data that is not a hub, as a session.\n";
    struct urg_import_config ic;
    const char *files[2]; /* the pcap, the capture */
    char note[1024], err[512];
    int host_port = 0, rc;
    if (!files_command_line(argc, argv, o, usage_text, NULL, &host_port, files, 2, &rc))
        return rc;
    import_options(o, host_port, &ic);
    if (urg_capture_import(files[0], files[1], &ic, note, sizeof(note), err, sizeof(err))) {
        cli_error(o, "%s", err);
        return EXIT_FAIL;
    }
    printf("import: ");
    text_puts(stdout, note, 0);
    printf("\n");
    return EXIT_OK;
}

/* ---------------------------------------------------------------- stats */

struct ep_stats {
    uint64_t pkts[2], bytes[2];   /* [0] guest to host, [1] host to guest */
    uint64_t status[8];           /* host to guest, by status */
    unsigned types;               /* the types (1 << URG_EP_*, 1 << 4 invalid)
                                     the ep_info in force gave it when its
                                     packets went */
    bool seen;
};

struct stats_ctx {
    struct ep_stats ep[32];
    uint8_t type[32];             /* the ep_info in force: each endpoint's type */
    uint64_t types[URG_TYPE_COUNT][2]; /* packets by type (urg_type_index), each way */
    uint64_t packets[2];
    uint32_t connections;
    uint64_t last_ns;
};

static int stats_packet(void *ctx, const struct urg_capture_packet *cp)
{
    struct stats_ctx *s = ctx;
    const struct urg_packet *p = cp->p;
    const uint8_t *bytes = (const uint8_t *)p;
    const struct data_packet *d = data_packet(p);
    int dir = cp->dir == URG_DIR_TO_GUEST, ep;
    uint8_t status;
    s->packets[dir]++;
    if (urg_type_index(p->type) >= 0) /* always: the decoder knows every type it gives */
        s->types[urg_type_index(p->type)][dir]++;
    if (cp->connection != s->connections) /* a new connection: no ep_info yet */
        memset(s->type, URG_EP_INVALID, sizeof(s->type));
    s->connections = cp->connection;
    s->last_ns = cp->time_ns;
    if (p->type == URG_EP_INFO) {
        memcpy(s->type, p->h.ep_info.type, sizeof(s->type));
        return 0;
    }
    if (!d)
        return 0;
    /* One row for both directions of the control endpoint. */
    ep = p->type == URG_CONTROL_PACKET ? 0 : urg_ep_index(bytes[d->endpoint]);
    status = bytes[d->status];
    s->ep[ep].seen = true;
    s->ep[ep].types |= 1u << (s->type[ep] <= URG_EP_INTERRUPT ? s->type[ep] : 4);
    s->ep[ep].pkts[dir]++;
    s->ep[ep].bytes[dir] += p->data_len;
    if (dir)
        s->ep[ep].status[status < 8 ? status : 7]++;
    return 0;
}

/* The types an endpoint had when its packets went: "bulk", or
 * "iso/invalid" when an alternate setting changed it in between. */
static void type_names(unsigned types, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (int t = 0; t <= 4; t++)
        if (types & (1u << t))
            n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? "/" : "",
                                  urg_ep_type_name(t < 4 ? t : URG_EP_INVALID));
}

int cmd_stats(int argc, char **argv, struct common *o)
{
    static const char usage_text[] =
        "stats [--host-port PORT] [--usb-device BUS.DEV] FILE\n"
        "Per-endpoint statistics of a capture (or a pcap/pcapng of a session, or a\n"
        "usbmon pcap's device): packets and payload bytes each way, and the host's\n"
        "statuses. An endpoint's type is the one the ep_info in force gave it when\n"
        "its packets went. Then the packets of each type each way.\n";
    struct stats_ctx *s = calloc(1, sizeof(*s));
    const char *file;
    char types[64];
    int i, k, rc, host_port = 0;
    if (!s) {
        cli_error(o, "out of memory");
        return EXIT_FAIL;
    }
    if (!files_command_line(argc, argv, o, usage_text, NULL, &host_port, &file, 1, &rc) ||
        (rc = decode_file(o, file, host_port, stats_packet, s))) {
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
        type_names(e->types, types, sizeof(types));
        printf("0x%02x     %-11s %9llu %12llu %9llu %12llu ", i ? urg_ep_address(i) : 0,
               i ? types : "control", (unsigned long long)e->pkts[0],
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

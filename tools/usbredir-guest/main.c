/*
 * main.c - usbredir-guest: a usb-guest on the command line.
 *
 *   usbredir-guest [-v] [--version] [--help] COMMAND [OPTIONS] [ADDRESS]
 *
 * Device commands (lsusb, hid, msc, serial) connect to a usb-host at
 * ADDRESS; with no ADDRESS they run against a bundled capture through the
 * replay host, so they work with no hardware. docs/usbredir-guest.1 is the
 * manual.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv, struct common *o);
    const char *summary;
};

static const struct command commands[] = {
    { "lsusb", cmd_lsusb, "print the device's descriptors as lsusb -v does" },
    { "hid", cmd_hid, "print HID reports; keyboard keys, mouse buttons and movement" },
    { "msc", cmd_msc, "mass storage: capacity, read blocks to a file, write, verify" },
    { "serial", cmd_serial, "FTDI, CP210x, PL2303 adapters: print what arrives, send input" },
    { "record", cmd_record, "run a command and record its session into a capture" },
    { "replay", cmd_replay, "serve a capture to a usb-guest, as a usb-host would" },
    { "dump", cmd_dump, "print each packet of a capture (or pcap) decoded" },
    { "import", cmd_import, "turn a tcpdump pcap/pcapng of a session into a capture" },
    { "stats", cmd_stats, "per-endpoint statistics of a capture (or pcap)" },
    { "usbip", cmd_usbip, "serve usb-hosts' devices to USB/IP clients (usbip attach)" },
};

static void usage(FILE *f, const char *prog)
{
    size_t i;
    fprintf(f,
            "usage: %s [-v] [--version] [--help] COMMAND [OPTIONS] [ADDRESS]\n"
            "\n"
            "A usb-guest for the usbredir protocol: talks to a usb-host such as\n"
            "usbredirect and uses the device it exports.\n"
            "\n"
            "Commands:\n",
            prog);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "ADDRESS is host:port, [v6addr]:port, unix:/path, fd:N, or capture:FILE\n"
               "(replay a capture). Without one, a device command runs against a bundled\n"
               "capture. `%s COMMAND --help` describes a command.\n"
               "\n"
               "Exit status: 0 success, 1 the device or a check failed, 2 usage error,\n"
               "3 cannot connect or the device went away, 4 a replayed capture diverged.\n",
               prog);
}

/* ---------------------------------------------------------------- shared parsing */

enum { OPT_TIMEOUT = 1000, OPT_LISTEN, OPT_RETRY };

int cli_number(const struct common *o, const char *what, const char *text, double lo, double hi,
               double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || v < lo || v > hi) {
        cli_error(o, "%s: \"%s\" is not a number from %g to %g", what, text, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse(int argc, char **argv, struct common *o, const char *shortopts,
              const struct option *longopts, int (*own)(void *ctx, int opt, const char *arg),
              void *ctx)
{
    struct option all[32];
    char shorts[64];
    int n = 0, opt;
    static const struct option common[] = {
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "listen", no_argument, NULL, OPT_LISTEN },
        { "retry", no_argument, NULL, OPT_RETRY },
    };
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        all[n++] = common[i];
    for (; longopts && longopts->name && n < 31; longopts++)
        all[n++] = *longopts;
    memset(&all[n], 0, sizeof(all[n]));
    snprintf(shorts, sizeof(shorts), "+vh%s", shortopts ? shortopts : "");
    optind = 0; /* glibc: start over */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
        double v;
        switch (opt) {
        case 'v':
            o->verbose++;
            break;
        case 'h':
            return -2;
        case OPT_TIMEOUT:
            if (cli_number(o, "--timeout", optarg, 0, 86400, &v))
                return -1;
            o->timeout = v;
            break;
        case OPT_LISTEN:
            o->listen = 1;
            break;
        case OPT_RETRY:
            o->retry = 1;
            break;
        case '?':
            if (optopt > 0 && optopt < 128)
                cli_error(o, "%s: unknown option -%c, or it needs a value", argv[0], optopt);
            else
                cli_error(o, "%s: unknown option %s, or it needs a value", argv[0],
                          argv[optind - 1]);
            return -1;
        default:
            if (!own || own(ctx, opt, optarg))
                return -1;
        }
    }
    return optind;
}

int cli_command_line(int argc, char **argv, struct common *o, const char *usage_text,
                     const char *shortopts, const struct option *longopts,
                     int (*own)(void *ctx, int opt, const char *arg), void *ctx)
{
    int first = cli_parse(argc, argv, o, shortopts, longopts, own, ctx);
    if (first == -2) {
        printf("usage: %s %s", o->prog, usage_text);
        return EXIT_OK + 1000; /* done: --help */
    }
    if (first >= 0 && argc - first > 1) {
        cli_error(o, "%s: one address at most (got \"%s\" and \"%s\")", argv[0], argv[first],
                  argv[first + 1]);
        first = -1;
    }
    if (first < 0) {
        fprintf(stderr, "usage: %s %s", o->prog, usage_text);
        return EXIT_USAGE + 1000;
    }
    if (first < argc)
        o->address = argv[first];
    if (o->listen && (!o->address || !strncmp(o->address, "capture:", 8))) {
        cli_error(o, "%s: --listen needs an address to listen on", argv[0]);
        return EXIT_USAGE + 1000;
    }
    if (o->retry && (o->listen || !o->address || !strncmp(o->address, "capture:", 8) ||
                     !strncmp(o->address, "fd:", 3))) {
        cli_error(o, "%s: --retry needs an address to connect to", argv[0]);
        return EXIT_USAGE + 1000;
    }
    return 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    struct common o;
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    int i = 1;
    size_t k;
    memset(&o, 0, sizeof(o));
    o.prog = cli_prog = prog;
    o.timeout = 10;
    signal(SIGPIPE, SIG_IGN);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            o.verbose++;
        } else if (!strcmp(argv[i], "-vv")) {
            o.verbose += 2;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout, prog);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
            printf("usbredir-guest %s (usbredir protocol 0.7)\n", urg_version());
            return EXIT_OK;
        } else {
            cli_error(&o, "unknown option %s (try --help)", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (i == argc) {
        usage(stderr, prog);
        return EXIT_USAGE;
    }
    for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
        if (!strcmp(argv[i], commands[k].name))
            return commands[k].run(argc - i, argv + i, &o);
    cli_error(&o, "unknown command \"%s\" (try --help)", argv[i]);
    return EXIT_USAGE;
}

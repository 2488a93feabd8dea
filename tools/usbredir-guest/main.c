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
    { "export", cmd_export, "write a capture as a pcap file, for Wireshark" },
    { "stats", cmd_stats, "per-endpoint and per-type statistics of a capture (or pcap)" },
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
               "ADDRESS is host:port, [v6addr]:port, unix:/path, fd:N, capture:FILE (replay\n"
               "it exactly) or device:FILE (serve the device it recorded; --fast, --loop).\n"
               "FILE is a capture, a pcap/pcapng of a usbredir session over TCP, or a usbmon\n"
               "pcap (--usb-device BUS.DEV picks its device; else the busiest but hubs).\n"
               "Without one, a device command runs against a bundled\n"
               "capture. `%s COMMAND --help` describes a command.\n"
               "\n"
               "Exit status: 0 success, 1 the device or a check failed, 2 usage error,\n"
               "3 cannot connect or the device went away, 4 a replayed capture diverged.\n",
               prog);
}

/* ---------------------------------------------------------------- shared parsing */

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

int cli_usage(const struct common *o, const char *usage_text, int exit_code)
{
    fprintf(exit_code == EXIT_OK ? stdout : stderr, "usage: %s %s", o->prog, usage_text);
    return exit_code;
}

/* The most options a command has, the device commands' shared ones with
 * its own. */
#define MAX_OPTIONS 24
/* getopt_long's val for row n of a table: its letter, or LONG_ONLY + n
 * for an option with no letter. */
#define LONG_ONLY 1000

/* Does what option row t does with arg: 0, or -1 after saying why. */
static int apply(const struct common *o, const struct cli_option *t, const char *arg)
{
    char what[64];
    double v;
    switch (t->kind) {
    case CLI_KIND_COUNT:
        ++*(int *)t->target;
        return 0;
    case CLI_KIND_SET:
        *(int *)t->target = t->value;
        return 0;
    case CLI_KIND_TEXT:
        *(const char **)t->target = arg;
        return 0;
    case CLI_KIND_PARSE:
        return t->parse(t->target, arg);
    case CLI_KIND_NUMBER:
        break;
    default:
        return -1;
    }
    if (t->letter)
        snprintf(what, sizeof(what), "-%c", t->letter);
    else
        snprintf(what, sizeof(what), "--%s", t->name);
    if (cli_number(o, what, arg, t->lo, t->hi, &v))
        return -1;
    switch (t->type) {
    case CLI_DOUBLE: *(double *)t->target = v; break;
    case CLI_INT: *(int *)t->target = (int)v; break;
    case CLI_LONG: *(long *)t->target = (long)v; break;
    case CLI_U32: *(uint32_t *)t->target = (uint32_t)v; break;
    case CLI_U64: *(uint64_t *)t->target = (uint64_t)v; break;
    }
    return 0;
}

int cli_options(int argc, char **argv, const struct common *o, const struct cli_option *table)
{
    struct option longs[MAX_OPTIONS + 1];
    char shorts[2 * MAX_OPTIONS + 2] = "+"; /* "+": options end at the first argument */
    size_t n, k = 1;
    int opt;
    for (n = 0; table[n].name && n < MAX_OPTIONS; n++) {
        const struct cli_option *t = &table[n];
        bool takes_value = t->kind == CLI_KIND_TEXT || t->kind == CLI_KIND_NUMBER ||
                           t->kind == CLI_KIND_PARSE;
        longs[n].name = t->name;
        longs[n].has_arg = takes_value ? required_argument : no_argument;
        longs[n].flag = NULL;
        longs[n].val = t->letter ? t->letter : LONG_ONLY + (int)n;
        if (t->letter) {
            shorts[k++] = t->letter;
            if (takes_value)
                shorts[k++] = ':';
        }
    }
    memset(&longs[n], 0, sizeof(longs[n]));
    shorts[k] = 0;
    optind = 0; /* glibc: start over */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        const struct cli_option *t = NULL;
        if (opt >= LONG_ONLY)
            t = &table[opt - LONG_ONLY];
        for (k = 0; !t && k < n; k++)
            if (opt == table[k].letter)
                t = &table[k];
        if (!t)
            return CLI_UNKNOWN;
        if (t->kind == CLI_KIND_HELP)
            return CLI_ASKED_HELP;
        if (apply(o, t, optarg))
            return CLI_BAD_VALUE;
    }
    return optind;
}

/* The whole command line of a device command (cli_device_command()):
 * true when the command goes on; else it said what it had to (the usage,
 * an error) and *exit_code is the code to exit with. */
static bool device_command_line(int argc, char **argv, struct common *o, const char *usage_text,
                                const struct cli_option *own, int *exit_code)
{
    const struct cli_option shared[] = {
        CLI_COUNT("verbose", 'v', &o->verbose),
        CLI_HELP,
        CLI_NUMBER("timeout", 0, &o->timeout, 0, 86400),
        CLI_SET("listen", 0, &o->listen, 1),
        CLI_SET("retry", 0, &o->retry, 1),
        CLI_TEXT("usbmon", 0, &o->usbmon),
        CLI_SET("fast", 0, &o->fast, 1),
        CLI_SET("loop", 0, &o->loop, 1),
        CLI_PARSE("usb-device", 0, o, cli_parse_usb_device),
    };
    struct cli_option all[MAX_OPTIONS + 1];
    size_t n = 0;
    int first;
    for (; n < sizeof(shared) / sizeof(shared[0]); n++)
        all[n] = shared[n];
    for (; own && own->name && n < MAX_OPTIONS; own++)
        all[n++] = *own;
    all[n].name = NULL;
    first = cli_options(argc, argv, o, all);
    if (first == CLI_ASKED_HELP) {
        *exit_code = cli_usage(o, usage_text, EXIT_OK);
        return false;
    }
    *exit_code = EXIT_USAGE;
    if (first == CLI_UNKNOWN) {
        if (optopt > 0 && optopt < 128)
            cli_error(o, "%s: unknown option -%c, or it needs a value", argv[0], optopt);
        else
            cli_error(o, "%s: unknown option %s, or it needs a value", argv[0], argv[optind - 1]);
    } else if (first >= 0 && argc - first > 1) {
        cli_error(o, "%s: one address at most (got \"%s\" and \"%s\")", argv[0], argv[first],
                  argv[first + 1]);
    }
    if (first < 0 || argc - first > 1) {
        cli_usage(o, usage_text, EXIT_USAGE);
        return false;
    }
    if (first < argc)
        o->address = argv[first];
    if (o->listen && (!o->address || cli_address_is_file(o->address))) {
        cli_error(o, "%s: --listen needs an address to listen on", argv[0]);
        return false;
    }
    if (o->retry && (o->listen || !o->address || cli_address_is_file(o->address) ||
                     !strncmp(o->address, "fd:", 3))) {
        cli_error(o, "%s: --retry needs an address to connect to", argv[0]);
        return false;
    }
    if ((o->fast || o->loop) && (!o->address || strncmp(o->address, "device:", 7))) {
        cli_error(o, "%s: --fast and --loop are for a device:FILE address", argv[0]);
        return false;
    }
    return true;
}

int cli_device_command(int argc, char **argv, struct common *o, const struct device_command *cmd,
                       const struct cli_option *options, void *opts)
{
    struct conn *c;
    int rc;
    if (!device_command_line(argc, argv, o, cmd->usage_text, options, &rc))
        return rc;
    if (cmd->check && (rc = cmd->check(o, opts)))
        return rc;
    rc = conn_open(&c, o, cmd->fixture);
    if (rc == 0)
        rc = cmd->run(c, o, opts);
    return conn_close(c, rc);
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
    o.usb_bus = o.usb_address = -1;
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

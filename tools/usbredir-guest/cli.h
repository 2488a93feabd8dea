/*
 * cli.h - the usbredir-guest command: what its files share.
 *
 *   main.c      options, the command table, help, version, exit codes
 *   conn.c      a device behind a transport (a host, or a capture replayed
 *               in-process), run to completion one request at a time
 *   lsusb.c     descriptors printed as `lsusb -v` prints them
 *   hid.c       HID reports; boot keyboard and mouse decoded
 *   msc.c       mass storage: Bulk-Only Transport and SCSI; the md5 of the
 *               data is libmd's (<md5.h>, -lmd)
 *   serial.c    FTDI, CP210x and PL2303 adapters
 *   captures.c  record, replay, dump, import, stats
 *   usbip.c, usbip_client.c (usbip.h)
 *               the USB/IP server (usbip_wire.c: its protocol, pure code)
 *   text.c, parse.c, describe.c (parse.h)
 *               what the host or a capture sends: checked, decoded,
 *               escaped and printed with no connection (fuzzed, unit-tested)
 *   fixtures.c  (generated) the bundled captures used with no address
 */
#ifndef URG_CLI_H
#define URG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "urg_capture.h"
#include "urg_hcd_transport.h" /* urg_hcd.h and urg_transport.h */

/* Exit codes (the man page lists them). */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,      /* the device or a transfer failed, verify failed */
    EXIT_USAGE = 2,     /* bad command line */
    EXIT_CONN = 3,      /* cannot connect, the connection or device went away */
    EXIT_DIVERGED = 4   /* a replayed capture and the command disagreed */
};

/* Options every device command takes. */
struct common {
    const char *address;     /* NULL: the command's bundled fixture */
    int listen;              /* wait for the host to connect (usbredirect --to) */
    int retry;               /* connect again (backoff) until a device attaches */
    double timeout;          /* seconds for the device to attach and per request */
    int verbose;             /* -v: 1 info, 2 debug */
    const char *record;      /* capture the session here (the record command) */
    const char *usbmon;      /* --usbmon: the model's usbmon capture (pcap) */
    int fast;                /* --fast: device:FILE's streams as fast as taken */
    int loop;                /* --loop: device:FILE's streams start over */
    int usb_bus, usb_address; /* --usb-device BUS.DEV: the device of a usbmon
                                recording; -1: the busiest that is no hub */
    const char *prog;        /* argv[0] for messages */
};

/* ---------------------------------------------------------------- conn.c */

struct conn;

/* Opens the connection and waits for the device. With no address the
 * fixture named (fixtures.c) is replayed in-process; "capture:FILE" replays
 * a capture file exactly, "device:FILE" serves the device recorded in it
 * (URG_REPLAY_DEVICE). Returns 0, or an exit code after printing why. */
/* True for an address served in-process from a file (capture:, device:). */
bool cli_address_is_file(const char *address);
/* The coverage report of a device:FILE (where: the recording), one line on
 * stderr. */
struct urg_replay_coverage;
void cli_coverage(const struct common *o, const char *where,
                  const struct urg_replay_coverage *cv);
int conn_open(struct conn **out, const struct common *o, const char *fixture);
/* Ends the session. For a replay, first lets the replay finish (it must
 * have served the whole capture). Returns the exit code: rc, or
 * EXIT_DIVERGED / EXIT_CONN when the replay says so. With EXIT_CONN it
 * says why the session ended if nothing did yet. */
int conn_close(struct conn *c, int rc);
/* The device as it attached (never NULL after conn_open() returned 0, also
 * once the device is gone). */
const struct urg_hcd_device *conn_device(struct conn *c);
urg_hcd_dev *conn_dev(struct conn *c);
struct ev_loop *conn_loop(struct conn *c);
/* The session negotiated 32-bit bulk lengths. */
bool conn_bulk32(struct conn *c);
/* True once the device or the connection went away, or on SIGINT. From
 * then on every transfer fails (as with URG_URB_NODEV): a device attached
 * again is another one. */
bool conn_over(struct conn *c);
/* The exit code of a command that failed: when the session is over,
 * EXIT_CONN after saying why (once per session: conn_xfer() and the rest
 * say it only once too); else EXIT_FAIL, the caller having said why. */
int conn_fail(struct conn *c);
/* True when the session is a replay that found the command doing something
 * else than the capture (conn_close() reports it). */
bool conn_replay_diverged(struct conn *c);
/* True when the session is a replay whose capture is used up. */
bool conn_replay_finished(struct conn *c);
/* The first bulk IN and OUT endpoints (addresses) of interface iface of
 * the device, 0 for one it does not have. */
void conn_bulk_endpoints(const struct urg_hcd_device *info, int iface, uint8_t *in, uint8_t *out);

/* SIGINT and SIGTERM while a loop runs: each ends the run (ev_break) and
 * sets *caught when caught is not NULL. */
struct cli_signals {
    ev_signal sigint, sigterm;
    bool *caught;
};
void cli_signals_start(struct cli_signals *s, struct ev_loop *loop, bool *caught);
void cli_signals_stop(struct cli_signals *s, struct ev_loop *loop);

/* How a replay ended, as its done callback said (replay_end_keep()). */
struct replay_end {
    bool done;
    int status;        /* 0: the capture was replayed whole; else why not
                          (URG_ERR_DIVERGED, ...) */
    char report[1024]; /* what happened, or where the guest diverged */
};
/* Keeps what urg_replay_config.done was given. */
void replay_end_keep(struct replay_end *e, int status, const char *report);

/* What a URB's user_data points to when the command wants to know that it
 * completed (conn_submit); NULL otherwise. */
struct xfer {
    bool done;
};

/* One URB run to completion (timeout from the options; 0: no limit).
 * Returns its status (URG_URB_*), or -1 after printing why if it could not
 * be submitted, timed out (it is cancelled) or the connection went. */
int conn_xfer(struct conn *c, struct urg_urb *u, double timeout);
/* Submits without waiting; the completion counts in conn_completions(). */
int conn_submit(struct conn *c, struct urg_urb *u);
/* Runs the loop until cond(ctx), the timeout (0: none), the end of the
 * connection or SIGINT. Returns 0 when cond held, else -1. */
int conn_run_until(struct conn *c, bool (*cond)(void *ctx), void *ctx, double timeout);
/* Convenience: a control transfer. Returns the status; *actual the bytes. */
int conn_control(struct conn *c, uint8_t rt, uint8_t req, uint16_t value, uint16_t index,
                 void *buf, uint16_t len, uint32_t *actual);
/* The line of the device commands' usage texts on --usbmon. */
#define CLI_USBMON_HELP                                                                           \
    "--usbmon FILE: write every URB to FILE, a usbmon pcap that Wireshark reads.\n"
/* A model device (urg_hcd_dev_new()) with these callbacks and their
 * user_data ud, its engine logging at the level -v asks for; max_output
 * (the engine's max_output_bytes) and iso_latency_ms as given, 0 for the
 * defaults; for_guest: descriptors as a guest OS gets them (the model's
 * suppress_remote_wake, as QEMU), else as the device sends them (the
 * commands that read and show them); usbmon: the model's usbmon capture
 * (pcap_path, bus 1), or NULL. Returns 0, or EXIT_FAIL after saying why. */
int cli_device_new(const struct common *o, const struct urg_hcd_callbacks *callbacks, void *ud,
                   size_t max_output, uint32_t iso_latency_ms, int for_guest, const char *usbmon,
                   urg_hcd_dev **out);
/* Prints "prog: msg" on stderr, msg escaped (text_escape(): it may quote
 * what a peer or a file sent). */
void cli_error(const struct common *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The log level (URG_LOG_*) -v and -vv ask for. */
int cli_log_level(const struct common *o);
/* Seconds on a monotonic clock. */
double cli_now(void);
/* The prog name for messages from commands that have no struct common. */
extern const char *cli_prog;

/* ---------------------------------------------------------------- commands */

int cmd_lsusb(int argc, char **argv, struct common *o);
int cmd_hid(int argc, char **argv, struct common *o);
int cmd_msc(int argc, char **argv, struct common *o);
int cmd_serial(int argc, char **argv, struct common *o);
int cmd_record(int argc, char **argv, struct common *o);
int cmd_replay(int argc, char **argv, struct common *o);
int cmd_dump(int argc, char **argv, struct common *o);
int cmd_import(int argc, char **argv, struct common *o);
int cmd_export(int argc, char **argv, struct common *o);
int cmd_stats(int argc, char **argv, struct common *o);
int cmd_usbip(int argc, char **argv, struct common *o);

/* ---------------------------------------------------------------- captures.c */

/* A recording as the replay takes it (capture:, device:, replay FILE): a
 * capture file is read from path (*data NULL); a pcap or pcapng file - a
 * usbredir session over TCP (its usb-host on host_port, 0: found by what
 * it sends), or a usbmon capture (its device o->usb_bus.o->usb_address) -
 * is imported into memory, *data and *size (free() it), after saying on
 * stderr what was taken and why. Returns 0, or EXIT_FAIL after saying
 * why. */
int cli_recording(const struct common *o, const char *path, int host_port, void **data,
                  size_t *size);
/* --usb-device BUS.DEV (CLI_PARSE's parse, target the struct common):
 * 0, or -1 after saying why. */
int cli_parse_usb_device(void *target, const char *arg);

/* ---------------------------------------------------------------- options */

/* A command's options are a table (struct cli_option, its rows made with
 * the macros below, ended by CLI_END); cli_options() parses argv against
 * it and sets what each option given sets. */
enum cli_kind {
    CLI_KIND_HELP,   /* -h, --help: the command prints its usage */
    CLI_KIND_COUNT,  /* one more in *(int *)target (-v -v) */
    CLI_KIND_SET,    /* *(int *)target = value (--raw: 1, --no-progress: 0) */
    CLI_KIND_TEXT,   /* *(const char **)target = the argument */
    CLI_KIND_NUMBER, /* the argument, a number from lo to hi (cli_number), into
                        target as its type says */
    CLI_KIND_PARSE   /* parse(target, the argument): 0, or -1 after saying why */
};
/* The type of a CLI_KIND_NUMBER's target. */
enum cli_number_type { CLI_DOUBLE, CLI_INT, CLI_LONG, CLI_U32, CLI_U64 };
#define CLI_NUMBER_TYPE(target)                                                                   \
    _Generic(*(target), double: CLI_DOUBLE, int: CLI_INT, long: CLI_LONG, uint32_t: CLI_U32,      \
             uint64_t: CLI_U64)

struct cli_option {
    const char *name;   /* the long name: "baud" is --baud; NULL ends a table */
    char letter;        /* the short name: 'n' is -n; 0 for none */
    enum cli_kind kind;
    void *target;       /* what it sets */
    int value;          /* CLI_KIND_SET's */
    enum cli_number_type type; /* CLI_KIND_NUMBER's target's */
    double lo, hi;      /* CLI_KIND_NUMBER's range */
    int (*parse)(void *target, const char *arg); /* CLI_KIND_PARSE's */
};
#define CLI_HELP { .name = "help", .letter = 'h', .kind = CLI_KIND_HELP }
#define CLI_COUNT(name_, letter_, target_)                                                        \
    { .name = (name_), .letter = (letter_), .kind = CLI_KIND_COUNT, .target = (target_) }
#define CLI_SET(name_, letter_, target_, value_)                                                  \
    { .name = (name_), .letter = (letter_), .kind = CLI_KIND_SET, .target = (target_),            \
      .value = (value_) }
#define CLI_TEXT(name_, letter_, target_)                                                         \
    { .name = (name_), .letter = (letter_), .kind = CLI_KIND_TEXT, .target = (target_) }
#define CLI_NUMBER(name_, letter_, target_, lo_, hi_)                                             \
    { .name = (name_), .letter = (letter_), .kind = CLI_KIND_NUMBER, .target = (target_),         \
      .type = CLI_NUMBER_TYPE(target_), .lo = (lo_), .hi = (hi_) }
#define CLI_PARSE(name_, letter_, target_, parse_)                                                \
    { .name = (name_), .letter = (letter_), .kind = CLI_KIND_PARSE, .target = (target_),          \
      .parse = (parse_) }
#define CLI_END { .name = NULL }

/* What cli_options() returns when it does not return the index of the
 * first argument left. */
enum {
    CLI_ASKED_HELP = -1, /* -h or --help */
    CLI_BAD_VALUE = -2,  /* an option's value is wrong (said) */
    CLI_UNKNOWN = -3     /* an option it does not know, or one without its value
                            (not said: argv[optind - 1] is the argument) */
};
/* Parses the options at the start of argv (argv[0] is the command's name)
 * against the table, up to the first argument that is not one. A value is
 * named in a message by the option's short name if it has one (-n), else
 * its long one (--baud). */
int cli_options(int argc, char **argv, const struct common *o, const struct cli_option *table);
/* Prints "usage: PROG usage_text": on stdout when exit_code is EXIT_OK
 * (--help), else on stderr. Returns exit_code. */
int cli_usage(const struct common *o, const char *usage_text, int exit_code);

/* A device command (lsusb, hid, msc, serial), as cli_device_command() runs
 * it. */
struct device_command {
    const char *usage_text; /* after "usage: PROG " */
    const char *fixture;    /* the bundled capture it runs against with no ADDRESS */
    /* NULL, or what checks the options once parsed, before connecting: 0,
     * or the exit code after saying why */
    int (*check)(const struct common *o, void *opts);
    /* The command on the device: its exit code (conn_close() follows). */
    int (*run)(struct conn *c, const struct common *o, void *opts);
};
/* Runs a device command: its command line - the options every device
 * command shares (-v, -h, --timeout, --listen, --retry), then its own (the
 * table, which sets opts), then at most one ADDRESS (o->address) - then
 * check, then run on the device between conn_open() and conn_close().
 * Returns the exit code (EXIT_OK after --help, EXIT_USAGE after saying
 * what is wrong with the command line). */
int cli_device_command(int argc, char **argv, struct common *o, const struct device_command *cmd,
                       const struct cli_option *options, void *opts);
/* Parses a number with an optional range; -1 on error (printed). */
int cli_number(const struct common *o, const char *what, const char *text, double lo, double hi,
               double *out);

/* ---------------------------------------------------------------- helpers */

/* fixtures.c: the bundled captures. */
struct fixture {
    const char *name;        /* "keyboard-lsusb" */
    const unsigned char *data;
    size_t size;
};
const struct fixture *fixture_find(const char *name);

#endif

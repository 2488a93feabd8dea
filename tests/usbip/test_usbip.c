/*
 * test_usbip.c - `usbredir-guest usbip` driven by a USB/IP client written
 * here, against the emulated usb-host (tests/tools/emuhost-server): the
 * management phase, control, bulk (Bulk-Only storage) and interrupt URBs,
 * CMD_UNLINK both ways, ZERO_PACKET, malformed input, a device that goes
 * away and comes back; the --usbmon capture of each device (the client's
 * transfer flags, iso start frames). The client's sockets have a receive timeout, so a
 * missing reply fails a test instead of hanging it; every wait is for an
 * event (a line on the server's stderr, a reply), never a sleep.
 *
 * Environment: URG_TOOL (the command), URG_EMUHOST (emuhost-server),
 * URG_HOSTILE (tests/hostile's hostile-host), URG_TOOL_RUNNER (valgrind ...
 * for the server, optional).
 * Linux's own client (vhci-hcd) drives the same server in tests/realhost.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "usbip_wire.h"

#define TIMEOUT_S 20

/* ---------------------------------------------------------------- processes */

struct proc {
    pid_t pid;
    int out;                  /* its stdout (emuhost) or stderr (server) */
    char addr[64];            /* "listening on ADDR" */
    char log[65536];          /* the server's stderr so far */
    size_t log_len;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts argv with stdout (or stderr, with err_pipe) on a pipe. */
static void spawn(struct proc *p, char *const argv[], int err_pipe, int out_pipe_for_addr)
{
    int po[2], pe[2];
    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(po[1], 1);
        if (err_pipe)
            dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    /* "listening on ADDR" on stdout */
    {
        char line[256];
        size_t n = 0;
        double end = now_s() + TIMEOUT_S;
        while (n < sizeof(line) - 1 && now_s() < end) {
            struct pollfd pf = { po[0], POLLIN, 0 };
            if (poll(&pf, 1, 1000) <= 0)
                continue;
            if (read(po[0], line + n, 1) != 1)
                break;
            if (line[n++] == '\n')
                break;
        }
        line[n] = 0;
        assert_true(sscanf(line, "listening on %63s", p->addr) == 1 || !out_pipe_for_addr);
    }
    close(po[0]);
    p->out = pe[0];
    if (!err_pipe) {
        close(pe[0]);
        p->out = -1;
    }
    p->log_len = 0;
}

/* Ends the process; returns its wait status. */
static int stop(struct proc *p, int sig)
{
    int st = 0;
    if (p->pid <= 0)
        return 0;
    kill(p->pid, sig);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    if (p->out >= 0)
        close(p->out);
    p->out = -1;
    return st;
}

/* Reads the server's stderr until text appears after offset from (or the
 * timeout fails the test). Returns where it ends. */
static size_t wait_log(struct proc *p, size_t from, const char *text)
{
    double end = now_s() + TIMEOUT_S;
    for (;;) {
        char *hit;
        p->log[p->log_len] = 0;
        if (from <= p->log_len && (hit = strstr(p->log + from, text)) != NULL)
            return (size_t)(hit - p->log) + strlen(text);
        assert_true(now_s() < end);
        struct pollfd pf = { p->out, POLLIN, 0 };
        if (poll(&pf, 1, 200) > 0) {
            ssize_t n = read(p->out, p->log + p->log_len, sizeof(p->log) - 1 - p->log_len);
            assert_true(n > 0);
            p->log_len += (size_t)n;
        }
    }
}

/* Drains what the server has logged so far (no waiting). */
static void read_log(struct proc *p)
{
    struct pollfd pf = { p->out, POLLIN, 0 };
    while (poll(&pf, 1, 0) > 0 && p->log_len < sizeof(p->log) - 1) {
        ssize_t n = read(p->out, p->log + p->log_len, sizeof(p->log) - 1 - p->log_len);
        if (n <= 0)
            break;
        p->log_len += (size_t)n;
    }
    p->log[p->log_len] = 0;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *h = hay; (h = strstr(h, needle)) != NULL; h += strlen(needle))
        n++;
    return n;
}

/* ---------------------------------------------------------------- the fixture */

struct world {
    struct proc msc, kbd, iso, ftdi, server;
    char iso_report[128], ftdi_report[128];
    char kbd_port[16];
    char usbmon[128];         /* --usbmon: usbmon-1-N.pcap for busid 1-N */
};
static struct world W;

static void start_emuhost(struct proc *p, const char *kind, const char *listen)
{
    char *argv[] = { getenv("URG_EMUHOST"), (char *)kind, "--listen", (char *)listen, "--text",
                     "", NULL };
    if (!strcmp(kind, "iso") || !strcmp(kind, "ftdi")) {
        argv[4] = "--report";
        argv[5] = !strcmp(kind, "iso") ? W.iso_report : W.ftdi_report;
    } else if (strcmp(kind, "keyboard")) {
        argv[4] = NULL;
    }
    spawn(p, argv, 0, 1);
}

/* `usbredir-guest usbip -v --listen 127.0.0.1:0 ARGS...` under
 * URG_TOOL_RUNNER when given (valgrind ...: split at spaces). */
static void start_server(struct proc *p, char *const args[])
{
    static char runner[512];
    char *argv[48], *tok;
    int n = 0;
    snprintf(runner, sizeof(runner), "%s", getenv("URG_TOOL_RUNNER") ? getenv("URG_TOOL_RUNNER") : "");
    for (tok = strtok(runner, " "); tok && n < 30; tok = strtok(NULL, " "))
        argv[n++] = tok;
    if (n && argv[0][0] != '/') { /* a runner named without its path */
        static char path[600];
        snprintf(path, sizeof(path), "/usr/bin/%s", argv[0]);
        argv[0] = path;
    }
    argv[n++] = getenv("URG_TOOL");
    argv[n++] = "usbip";
    argv[n++] = "-v";
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    /* 100 ms of iso buffering at the usb-host: 200 packets for OUT at full
     * speed, more than 16 transfers of 10 (test_iso checks the sizing). */
    argv[n++] = "--iso-latency";
    argv[n++] = "100";
    for (int i = 0; args[i] && n < 47; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    spawn(p, argv, 1, 1);
}

static int setup_world(void **state)
{
    (void)state;
    memset(&W, 0, sizeof(W));
    signal(SIGPIPE, SIG_IGN);
    start_emuhost(&W.msc, "msc", "127.0.0.1:0");
    start_emuhost(&W.kbd, "keyboard", "127.0.0.1:0");
    snprintf(W.iso_report, sizeof(W.iso_report), "/tmp/test_usbip-iso-%d.report", (int)getpid());
    start_emuhost(&W.iso, "iso", "127.0.0.1:0");
    snprintf(W.ftdi_report, sizeof(W.ftdi_report), "/tmp/test_usbip-ftdi-%d.report", (int)getpid());
    start_emuhost(&W.ftdi, "ftdi", "127.0.0.1:0");
    snprintf(W.usbmon, sizeof(W.usbmon), "/tmp/test_usbip-%d.pcap", (int)getpid());
    {
        char *args[] = { "--usbmon", W.usbmon, W.msc.addr, W.kbd.addr, W.iso.addr, W.ftdi.addr,
                         NULL };
        start_server(&W.server, args);
    }
    wait_log(&W.server, 0, "1-1: 46f4:0001 at super speed, exportable");
    wait_log(&W.server, 0, "1-2: 0627:0001 at high speed, exportable");
    wait_log(&W.server, 0, "1-3: 46f4:0002 at full speed, exportable");
    wait_log(&W.server, 0, "1-4: 0403:6001 at full speed, exportable");
    return 0;
}

/* The server ends on SIGTERM with status 0 (under valgrind: no error,
 * no leak). */
static int teardown_world(void **state)
{
    int st = stop(&W.server, SIGTERM);
    (void)state;
    stop(&W.msc, SIGTERM);
    stop(&W.kbd, SIGTERM);
    stop(&W.iso, SIGTERM);
    stop(&W.ftdi, SIGTERM);
    unlink(W.iso_report);
    unlink(W.ftdi_report);
    for (int i = 1; i <= 4; i++) {
        char path[160];
        snprintf(path, sizeof(path), "/tmp/test_usbip-%d-1-%d.pcap", (int)getpid(), i);
        unlink(path);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "the server ended with wait status 0x%x; its log:\n%s\n", st, W.server.log);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the capture */

/* A usbmon record's header fields. */
struct usbmon_rec {
    char event;
    uint8_t ep;
    uint32_t len, interval, start_frame, flags;
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The records of event on endpoint ep in busid's --usbmon capture (the
 * server flushes each record), at most max; returns how many. */
static int usbmon_records(const char *busid, char event, uint8_t ep, struct usbmon_rec *out,
                          int max)
{
    char path[160];
    uint8_t rec[16], h[64];
    FILE *f;
    int n = 0;
    snprintf(path, sizeof(path), "/tmp/test_usbip-%d-%s.pcap", (int)getpid(), busid);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(h, 1, 24, f), 24);
    assert_int_equal(le32(h), 0xa1b2c3d4u);
    assert_int_equal(le32(h + 20), 220);
    while (fread(rec, 1, 16, f) == 16) {
        uint32_t caplen = le32(rec + 8);
        assert_true(caplen >= 64);
        assert_int_equal(fread(h, 1, 64, f), 64);
        assert_int_equal(fseek(f, (long)(caplen - 64), SEEK_CUR), 0);
        if ((char)h[8] != event || h[10] != ep || n >= max)
            continue;
        out[n].event = (char)h[8];
        out[n].ep = h[10];
        out[n].len = le32(h + 32);
        out[n].interval = le32(h + 48);
        out[n].start_frame = le32(h + 52);
        out[n].flags = le32(h + 56);
        n++;
    }
    fclose(f);
    return n;
}

/* ---------------------------------------------------------------- the client */

static int connect_server(void)
{
    struct sockaddr_in a;
    char host[64];
    int port, fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = { TIMEOUT_S, 0 };
    assert_true(fd >= 0);
    assert_int_equal(sscanf(W.server.addr, "%63[^:]:%d", host, &port), 2);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const void *buf, size_t n)
{
    assert_int_equal(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads exactly n bytes; 0 on EOF before any, fails the test on a timeout. */
static int recv_all(int fd, void *buf, size_t n)
{
    size_t have = 0;
    while (have < n) {
        ssize_t r = recv(fd, (char *)buf + have, n - have, 0);
        if (r == 0)
            return 0;
        if (r < 0 && errno == EINTR)
            continue;
        assert_true(r > 0); /* a timeout: the server did not answer */
        have += (size_t)r;
    }
    return 1;
}

/* The server closed the connection (EOF, or a reset), within the timeout. */
static void expect_closed(int fd)
{
    char b[256];
    for (;;) {
        ssize_t r = recv(fd, b, sizeof(b), 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return;
        assert_true(r > 0);
    }
}

/* Closes a connection and waits for the server to log that it closed it
 * ("127.0.0.1:PORT: connection closed" or "...: closing the connection:
 * WHY", PORT this end's). */
static void close_and_wait(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    char line[64];
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    /* "connection closed", or "closing the connection: WHY" (a reset) */
    snprintf(line, sizeof(line), "127.0.0.1:%u: c", ntohs(a.sin_port));
    close(fd);
    wait_log(&W.server, 0, line);
}

struct devlist {
    uint32_t n;
    struct usbip_device d[4];
};

static void devlist(struct devlist *out)
{
    int fd = connect_server();
    uint8_t h[8], rec[USBIP_DEVICE_SIZE], ifc[4];
    usbip_put_op_header(h, USBIP_OP_REQ_DEVLIST, 0);
    send_all(fd, h, 8);
    assert_true(recv_all(fd, h, 8));
    assert_int_equal(usbip_get16(h), USBIP_VERSION);
    assert_int_equal(usbip_get16(h + 2), USBIP_OP_REP_DEVLIST);
    assert_int_equal(usbip_get32(h + 4), 0);
    assert_true(recv_all(fd, h, 4));
    out->n = usbip_get32(h);
    assert_true(out->n <= 4);
    for (uint32_t i = 0; i < out->n; i++) {
        struct usbip_device *d = &out->d[i];
        assert_true(recv_all(fd, rec, sizeof(rec)));
        memcpy(d->path, rec, 256);
        memcpy(d->busid, rec + 256, 32);
        d->busnum = usbip_get32(rec + 288);
        d->devnum = usbip_get32(rec + 292);
        d->speed = usbip_get32(rec + 296);
        d->id_vendor = usbip_get16(rec + 300);
        d->id_product = usbip_get16(rec + 302);
        d->bcd_device = usbip_get16(rec + 304);
        d->device_class = rec[306];
        d->configuration_value = rec[309];
        d->num_configurations = rec[310];
        d->num_interfaces = rec[311];
        for (unsigned k = 0; k < d->num_interfaces && k < 32; k++) {
            assert_true(recv_all(fd, ifc, 4));
            d->interface[k].class_code = ifc[0];
            d->interface[k].subclass = ifc[1];
            d->interface[k].protocol = ifc[2];
        }
    }
    expect_closed(fd); /* usbipd closes after a list */
    close(fd);
}

/* OP_REQ_IMPORT: returns the status; on 0 the connection (fd) is left in
 * the URB phase and *rec has the record. */
static uint32_t import(const char *busid, int *fd_out, uint8_t rec[USBIP_DEVICE_SIZE])
{
    int fd = connect_server();
    uint8_t req[40], h[8];
    uint32_t st;
    memset(req, 0, sizeof(req));
    usbip_put_op_header(req, USBIP_OP_REQ_IMPORT, 0);
    snprintf((char *)req + 8, 32, "%s", busid);
    send_all(fd, req, sizeof(req));
    assert_true(recv_all(fd, h, 8));
    assert_int_equal(usbip_get16(h + 2), USBIP_OP_REP_IMPORT);
    st = usbip_get32(h + 4);
    if (st == 0) {
        assert_true(recv_all(fd, rec, USBIP_DEVICE_SIZE));
        *fd_out = fd;
    } else {
        expect_closed(fd);
        close(fd);
        *fd_out = -1;
    }
    return st;
}

static uint32_t devid_of(const char *busid)
{
    return 1u << 16 | (uint32_t)atoi(busid + 2);
}

static void submit(int fd, const char *busid, uint32_t seqnum, uint32_t ep, uint32_t dir,
                   uint32_t flags, uint32_t len, const uint8_t setup[8], const void *data)
{
    struct usbip_cmd c;
    uint8_t h[USBIP_HEADER_SIZE];
    memset(&c, 0, sizeof(c));
    c.command = USBIP_CMD_SUBMIT;
    c.seqnum = seqnum;
    c.devid = devid_of(busid);
    c.direction = dir;
    c.ep = ep;
    c.transfer_flags = flags;
    c.transfer_buffer_length = len;
    c.number_of_packets = 0xffffffff; /* stale, as on a reused URB: ignored off iso */
    if (setup)
        memcpy(c.setup, setup, 8);
    usbip_put_cmd(h, &c);
    send_all(fd, h, sizeof(h));
    if (dir == USBIP_DIR_OUT && len)
        send_all(fd, data, len);
}

static void unlink_urb(int fd, const char *busid, uint32_t seqnum, uint32_t target)
{
    struct usbip_cmd c;
    uint8_t h[USBIP_HEADER_SIZE];
    memset(&c, 0, sizeof(c));
    c.command = USBIP_CMD_UNLINK;
    c.seqnum = seqnum;
    c.devid = devid_of(busid);
    c.unlink_seqnum = target;
    usbip_put_cmd(h, &c);
    send_all(fd, h, sizeof(h));
}

struct ret {
    uint32_t command, seqnum;
    int32_t status;
    uint32_t actual, npackets, errors;
    uint8_t data[65536];
};

/* The next reply; data holds an IN reply's bytes (dir says which). */
static void next_reply(int fd, struct ret *r, uint32_t dir_of_seqnum_in)
{
    uint8_t h[USBIP_HEADER_SIZE];
    assert_true(recv_all(fd, h, sizeof(h)));
    r->command = usbip_get32(h);
    r->seqnum = usbip_get32(h + 4);
    assert_int_equal(usbip_get32(h + 8), 0);
    r->status = (int32_t)usbip_get32(h + 20);
    r->actual = usbip_get32(h + 24);
    r->npackets = usbip_get32(h + 32);
    r->errors = usbip_get32(h + 36);
    if (r->command == USBIP_RET_SUBMIT && dir_of_seqnum_in && r->actual) {
        assert_true(r->actual <= sizeof(r->data));
        assert_true(recv_all(fd, r->data, r->actual));
    }
}

static const uint8_t get_device_desc[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };

/* ---------------------------------------------------------------- tests */

static void test_devlist(void **state)
{
    struct devlist l;
    (void)state;
    devlist(&l);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.d[0].busid, "1-1");
    assert_int_equal(l.d[0].busnum, 1);
    assert_int_equal(l.d[0].devnum, 1);
    assert_int_equal(l.d[0].speed, USBIP_SPEED_SUPER);
    assert_int_equal(l.d[0].id_vendor, 0x46f4);
    assert_int_equal(l.d[0].id_product, 0x0001);
    assert_int_equal(l.d[0].num_configurations, 1);
    assert_int_equal(l.d[0].num_interfaces, 1);
    assert_int_equal(l.d[0].interface[0].class_code, 8);
    assert_int_equal(l.d[0].interface[0].subclass, 6);
    assert_int_equal(l.d[0].interface[0].protocol, 0x50);
    assert_string_equal(l.d[1].busid, "1-2");
    assert_int_equal(l.d[1].speed, USBIP_SPEED_HIGH);
    assert_int_equal(l.d[1].id_vendor, 0x0627);
    assert_int_equal(l.d[1].interface[0].class_code, 3);
    assert_int_equal(l.d[1].interface[0].subclass, 1);
    assert_int_equal(l.d[1].interface[0].protocol, 1);
}

static void test_import_refusals(void **state)
{
    uint8_t rec[USBIP_DEVICE_SIZE];
    int fd, fd2;
    (void)state;
    assert_int_equal(import("1-9", &fd, rec), USBIP_ST_NODEV);
    assert_int_equal(import("1-2", &fd, rec), USBIP_ST_OK);
    assert_memory_equal(rec + 256, "1-2", 4);
    assert_int_equal(usbip_get32(rec + 288), 1);
    assert_int_equal(usbip_get32(rec + 292), 2);
    assert_int_equal(usbip_get32(rec + 296), USBIP_SPEED_HIGH);
    assert_int_equal(import("1-2", &fd2, rec), USBIP_ST_DEV_BUSY);
    /* Free again once the importer is gone. */
    close_and_wait(fd);
    assert_int_equal(import("1-2", &fd2, rec), USBIP_ST_OK);
    close_and_wait(fd2);
}

static void test_control(void **state)
{
    uint8_t rec[USBIP_DEVICE_SIZE];
    static struct ret r;
    int fd;
    (void)state;
    assert_int_equal(import("1-2", &fd, rec), 0);
    submit(fd, "1-2", 7, 0, USBIP_DIR_IN, 0x200, 18, get_device_desc, NULL);
    next_reply(fd, &r, 1);
    assert_int_equal(r.command, USBIP_RET_SUBMIT);
    assert_int_equal(r.seqnum, 7);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.actual, 18);
    assert_int_equal(r.data[0], 18);
    assert_int_equal(r.data[8] | r.data[9] << 8, 0x0627);
    /* A request the device stalls: -EPIPE, and endpoint 0 goes on. */
    {
        static const uint8_t vendor[8] = { 0xc0, 0x77, 0, 0, 0, 0, 4, 0 };
        submit(fd, "1-2", 8, 0, USBIP_DIR_IN, 0x200, 4, vendor, NULL);
        next_reply(fd, &r, 1);
        assert_int_equal(r.seqnum, 8);
        assert_int_equal(r.status, -EPIPE);
        assert_int_equal(r.actual, 0);
    }
    submit(fd, "1-2", 9, 0, USBIP_DIR_IN, 0x200, 18, get_device_desc, NULL);
    next_reply(fd, &r, 1);
    assert_int_equal(r.seqnum, 9);
    assert_int_equal(r.status, 0);
    /* An endpoint the device does not have: answered, not left hanging. */
    submit(fd, "1-2", 10, 5, USBIP_DIR_IN, 0x200, 8, NULL, NULL);
    next_reply(fd, &r, 1);
    assert_int_equal(r.seqnum, 10);
    assert_int_equal(r.status, -EPIPE);
    close_and_wait(fd);
}

static void bot_cbw(uint8_t cbw[31], uint32_t tag, uint32_t len, int in, const uint8_t *cdb,
                    uint8_t cdb_len)
{
    memset(cbw, 0, 31);
    memcpy(cbw, "USBC", 4);
    cbw[4] = (uint8_t)tag;
    cbw[5] = (uint8_t)(tag >> 8);
    cbw[8] = (uint8_t)len;
    cbw[9] = (uint8_t)(len >> 8);
    cbw[10] = (uint8_t)(len >> 16);
    cbw[12] = in ? 0x80 : 0;
    cbw[14] = cdb_len;
    memcpy(cbw + 15, cdb, cdb_len);
}

/* READ(10) of 64 blocks from block 100: CBW, data and CSW submitted at once
 * (pipelined, as usb-storage does not, but a client may); the data equals
 * the emulated disk ("block N" then N's low byte). */
/* The server's SIGUSR1 line for the connection fd is this end of. */
struct usbip_report {
    unsigned long long requests;
    double busy, host, idle, total;
};
static void usbip_report(int fd, struct usbip_report *r)
{
    size_t from = W.server.log_len;
    const char *line;
    char peer[64];
    struct sockaddr_in me;
    socklen_t me_len = sizeof(me);
    /* This connection's line (another one may still be open), by the peer
     * the server names: this end's address. */
    assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &me_len), 0);
    snprintf(peer, sizeof(peer), "127.0.0.1:%u: ", ntohs(me.sin_port));
    kill(W.server.pid, SIGUSR1);
    from = wait_log(&W.server, from, peer);
    wait_log(&W.server, from, " s connected"); /* the line is whole */
    line = W.server.log + from - 2;            /* ": N requests; ..." */
    if (sscanf(line, ": %llu requests; %lf s with a request in the bridge or at the usb-host "
                     "(%lf s of it with a URB at the usb-host), %lf s with none, in %lf s "
                     "connected",
               &r->requests, &r->busy, &r->host, &r->idle, &r->total) != 5)
        fail_msg("the report: %.300s", line);
}

static void test_bulk_storage(void **state)
{
    uint8_t rec[USBIP_DEVICE_SIZE], cbw[31];
    static const uint8_t read10[10] = { 0x28, 0, 0, 0, 0, 100, 0, 0, 64, 0 };
    static struct ret r;
    int fd, got_data = 0, got_csw = 0, got_cbw = 0;
    (void)state;
    assert_int_equal(import("1-1", &fd, rec), 0);
    bot_cbw(cbw, 0x1234, 64 * 512, 1, read10, 10);
    submit(fd, "1-1", 100, 2, USBIP_DIR_OUT, 0, 31, NULL, cbw);
    submit(fd, "1-1", 101, 1, USBIP_DIR_IN, 0x201, 64 * 512, NULL, NULL);
    submit(fd, "1-1", 102, 1, USBIP_DIR_IN, 0x201, 13, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        r.seqnum = 0;
        /* seqnum 101 and 102 are IN: their data follows the header. */
        uint8_t h[USBIP_HEADER_SIZE];
        assert_true(recv_all(fd, h, sizeof(h)));
        r.seqnum = usbip_get32(h + 4);
        r.status = (int32_t)usbip_get32(h + 20);
        r.actual = usbip_get32(h + 24);
        assert_int_equal(usbip_get32(h), USBIP_RET_SUBMIT);
        assert_int_equal(r.status, 0);
        if (r.seqnum == 100) {
            assert_int_equal(r.actual, 31); /* OUT: bytes written, no data back */
            got_cbw = 1;
        } else {
            assert_true(recv_all(fd, r.data, r.actual));
            if (r.seqnum == 101) {
                char label[16];
                assert_int_equal(r.actual, 64 * 512);
                for (int b = 0; b < 64; b++) {
                    int n = snprintf(label, sizeof(label), "block %d", 100 + b);
                    assert_memory_equal(r.data + b * 512, label, (size_t)n);
                    assert_int_equal(r.data[b * 512 + 511], (100 + b) & 0xff);
                }
                got_data = 1;
            } else {
                assert_int_equal(r.seqnum, 102);
                assert_int_equal(r.actual, 13);
                assert_memory_equal(r.data, "USBS", 4);
                assert_int_equal(r.data[4] | r.data[5] << 8, 0x1234);
                assert_int_equal(r.data[12], 0); /* passed */
                got_csw = 1;
            }
        }
    }
    assert_true(got_cbw && got_data && got_csw);
    /* A URB the model answers at submit (SET_ADDRESS: no callback) is
     * never at the usb-host: after its reply none is. */
    {
        static const uint8_t set_address[8] = { 0x00, 5, 3, 0, 0, 0, 0, 0 };
        uint8_t h[USBIP_HEADER_SIZE];
        submit(fd, "1-1", 103, 0, USBIP_DIR_OUT, 0, 0, set_address, NULL);
        assert_true(recv_all(fd, h, sizeof(h)));
        assert_int_equal(usbip_get32(h + 4), 103);
        assert_int_equal((int32_t)usbip_get32(h + 20), 0);
    }
    /* SIGUSR1, twice: this connection's 4 requests; the time with a URB at
     * the usb-host is part of the time with a request in the bridge; with
     * nothing in flight between the two reports, both stay as they were
     * (to the microsecond) and only the time with none grows. */
    {
        struct usbip_report r1, r2;
        usbip_report(fd, &r1);
        usbip_report(fd, &r2);
        assert_int_equal(r1.requests, 4);
        assert_true(r1.busy > 0 && r1.host > 0 && r1.host <= r1.busy + 2e-6 && r1.idle >= 0);
        assert_true(r1.busy + r1.idle > r1.total - 3e-6 && r1.busy + r1.idle < r1.total + 3e-6);
        assert_int_equal(r2.requests, 4);
        assert_true(r2.busy == r1.busy && r2.host == r1.host);
        assert_true(r2.idle > r1.idle && r2.total > r1.total);
    }
    close_and_wait(fd);
}

/* An interrupt IN URB the keyboard never answers (it types nothing):
 * CMD_UNLINK gives RET_UNLINK -ECONNRESET and never a RET_SUBMIT for it;
 * unlinking an answered URB gives status 0. */
static void test_unlink(void **state)
{
    uint8_t rec[USBIP_DEVICE_SIZE];
    static struct ret r;
    int fd;
    (void)state;
    assert_int_equal(import("1-2", &fd, rec), 0);
    submit(fd, "1-2", 20, 1, USBIP_DIR_IN, 0x200, 8, NULL, NULL);
    unlink_urb(fd, "1-2", 21, 20);
    next_reply(fd, &r, 0);
    assert_int_equal(r.command, USBIP_RET_UNLINK);
    assert_int_equal(r.seqnum, 21);
    assert_int_equal(r.status, -ECONNRESET);
    /* The next reply is the control transfer's: nothing came for 20. */
    submit(fd, "1-2", 22, 0, USBIP_DIR_IN, 0x200, 18, get_device_desc, NULL);
    next_reply(fd, &r, 1);
    assert_int_equal(r.command, USBIP_RET_SUBMIT);
    assert_int_equal(r.seqnum, 22);
    assert_int_equal(r.status, 0);
    /* 22 was answered: unlinking it is a no-op, status 0. */
    unlink_urb(fd, "1-2", 23, 22);
    next_reply(fd, &r, 0);
    assert_int_equal(r.command, USBIP_RET_UNLINK);
    assert_int_equal(r.seqnum, 23);
    assert_int_equal(r.status, 0);
    /* Unknown seqnum: also 0. */
    unlink_urb(fd, "1-2", 24, 999);
    next_reply(fd, &r, 0);
    assert_int_equal(r.command, USBIP_RET_UNLINK);
    assert_int_equal(r.status, 0);
    /* A URB still pending when the client goes is cancelled in the model,
     * and the device can be imported and used at once. */
    submit(fd, "1-2", 25, 1, USBIP_DIR_IN, 0x200, 8, NULL, NULL);
    close_and_wait(fd);
    assert_int_equal(import("1-2", &fd, rec), 0);
    submit(fd, "1-2", 26, 1, USBIP_DIR_IN, 0x200, 8, NULL, NULL);
    unlink_urb(fd, "1-2", 27, 26);
    next_reply(fd, &r, 0);
    assert_int_equal(r.command, USBIP_RET_UNLINK);
    assert_int_equal(r.status, -ECONNRESET);
    close_and_wait(fd);
}

/* SET_FEATURE(PORT_RESET) on endpoint 0 (what Windows clients send): the
 * device is reset, so three interrupt URBs pending come back cancelled
 * (-ECONNRESET) before the reset's own reply (status 0). Then the same
 * with a client that resets the connection right after sending: the
 * replies cannot be written while the model is completing the URBs, and
 * the bridge must neither crash nor leak (valgrind, ASan in make check);
 * the device is importable again. */
static void test_port_reset(void **state)
{
    static const uint8_t port_reset[8] = { 0x23, 3, 4, 0, 1, 0, 0, 0 };
    uint8_t rec[USBIP_DEVICE_SIZE];
    static struct ret r;
    int fd, cancelled = 0;
    (void)state;
    assert_int_equal(import("1-2", &fd, rec), 0);
    for (uint32_t k = 0; k < 3; k++)
        submit(fd, "1-2", 80 + k, 1, USBIP_DIR_IN, 0x200, 8, NULL, NULL);
    submit(fd, "1-2", 83, 0, USBIP_DIR_OUT, 0, 0, port_reset, NULL);
    for (int i = 0; i < 4; i++) {
        next_reply(fd, &r, 1);
        assert_int_equal(r.command, USBIP_RET_SUBMIT);
        if (r.seqnum == 83) {
            assert_int_equal(r.status, 0);
            assert_int_equal(cancelled, 3);
        } else {
            assert_int_equal(r.seqnum, 80 + (uint32_t)cancelled);
            assert_int_equal(r.status, -ECONNRESET);
            cancelled++;
        }
    }
    close_and_wait(fd);
    for (int round = 0; round < 3; round++) {
        struct linger lg = { 1, 0 };
        assert_int_equal(import("1-2", &fd, rec), 0);
        for (uint32_t k = 0; k < 3; k++)
            submit(fd, "1-2", 90 + k, 1, USBIP_DIR_IN, 0x200, 8, NULL, NULL);
        submit(fd, "1-2", 93, 0, USBIP_DIR_OUT, 0, 0, port_reset, NULL);
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close_and_wait(fd); /* RST */
        assert_int_equal(import("1-2", &fd, rec), USBIP_ST_OK);
        close_and_wait(fd);
    }
}

/* Malformed input closes that connection with one log line; the device
 * stays exportable. */
static void test_malformed(void **state)
{
    static const struct {
        const char *what;
        uint32_t field_offset, value;
        const char *logged;
    } cases[] = {
        { "endpoint 16", 16, 16, "CMD_SUBMIT: endpoint 16" },
        { "direction 2", 12, 2, "CMD_SUBMIT: direction 2" },
        { "negative length", 24, 0xfffffff0u, "transfer_buffer_length -16 is outside" },
        { "huge length", 24, 0x7fffffffu, "transfer_buffer_length 2147483647 is outside" },
        { "unknown command", 0, 9, "unknown command 9" },
        { "another devid", 8, 0x00010007u, "devid 0x00010007 is not" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t rec[USBIP_DEVICE_SIZE], h[USBIP_HEADER_SIZE];
        struct usbip_cmd c;
        int fd, before;
        size_t mark;
        (void)state;
        read_log(&W.server);
        mark = W.server.log_len;
        before = count(W.server.log, "closing the connection");
        assert_int_equal(import("1-2", &fd, rec), 0);
        memset(&c, 0, sizeof(c));
        c.command = USBIP_CMD_SUBMIT;
        c.seqnum = 30;
        c.devid = devid_of("1-2");
        c.direction = USBIP_DIR_IN;
        c.transfer_buffer_length = 8;
        usbip_put_cmd(h, &c);
        h[cases[i].field_offset] = (uint8_t)(cases[i].value >> 24);
        h[cases[i].field_offset + 1] = (uint8_t)(cases[i].value >> 16);
        h[cases[i].field_offset + 2] = (uint8_t)(cases[i].value >> 8);
        h[cases[i].field_offset + 3] = (uint8_t)cases[i].value;
        send_all(fd, h, sizeof(h));
        expect_closed(fd);
        close(fd);
        wait_log(&W.server, mark, cases[i].logged);
        read_log(&W.server);
        assert_int_equal(count(W.server.log, "closing the connection"), before + 1);
    }
    /* Garbage in the management phase, a bad version. */
    {
        int fd = connect_server();
        uint8_t h[8];
        usbip_put_op_header(h, USBIP_OP_REQ_DEVLIST, 0);
        h[1] = 0x06;
        send_all(fd, h, 8);
        expect_closed(fd);
        close(fd);
        wait_log(&W.server, 0, "protocol version 0x0106, not 0x0111");
    }
    /* Still importable. */
    {
        uint8_t rec[USBIP_DEVICE_SIZE];
        int fd;
        assert_int_equal(import("1-2", &fd, rec), 0);
        close_and_wait(fd);
    }
}

/* The keyboard's usb-host goes away while imported: the import connection
 * closes (vhci's unplug signal), the pending URB's RET_SUBMIT says -ENODEV
 * first; the device leaves the list; the host comes back on its port and
 * the device is listed and importable again. */
static void test_device_gone_and_back(void **state)
{
    uint8_t rec[USBIP_DEVICE_SIZE];
    static struct ret r;
    struct devlist l;
    char listen[64];
    size_t mark;
    int fd;
    (void)state;
    assert_int_equal(import("1-2", &fd, rec), 0);
    submit(fd, "1-2", 40, 1, USBIP_DIR_IN, 0x200, 8, NULL, NULL);
    /* The model has it once the control transfer after it is answered. */
    submit(fd, "1-2", 41, 0, USBIP_DIR_IN, 0x200, 18, get_device_desc, NULL);
    next_reply(fd, &r, 1);
    assert_int_equal(r.seqnum, 41);
    read_log(&W.server);
    mark = W.server.log_len;
    snprintf(listen, sizeof(listen), "%s", W.kbd.addr);
    stop(&W.kbd, SIGKILL);
    next_reply(fd, &r, 1);
    assert_int_equal(r.command, USBIP_RET_SUBMIT);
    assert_int_equal(r.seqnum, 40);
    assert_int_equal(r.status, -ENODEV);
    expect_closed(fd);
    close(fd);
    wait_log(&W.server, mark, "1-2: the device went away");
    devlist(&l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.d[0].busid, "1-1");
    assert_string_equal(l.d[1].busid, "1-3");
    assert_string_equal(l.d[2].busid, "1-4");
    assert_int_equal(import("1-2", &fd, rec), USBIP_ST_NA);
    start_emuhost(&W.kbd, "keyboard", listen);
    wait_log(&W.server, mark, "1-2: 0627:0001 at high speed, exportable");
    devlist(&l);
    assert_int_equal(l.n, 4);
    assert_int_equal(import("1-2", &fd, rec), USBIP_ST_OK);
    submit(fd, "1-2", 42, 0, USBIP_DIR_IN, 0x200, 18, get_device_desc, NULL);
    next_reply(fd, &r, 1);
    assert_int_equal(r.seqnum, 42);
    assert_int_equal(r.status, 0);
    close_and_wait(fd);
}

/* A counter of the emulated host's report ("NAME VALUE" lines), written
 * when it ends. */
static unsigned long long report_value(const char *path, const char *name)
{
    char line[128], fmt[64];
    unsigned long long v = 0;
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    snprintf(fmt, sizeof(fmt), "%s %%llu", name);
    while (fgets(line, sizeof(line), f))
        sscanf(line, fmt, &v);
    fclose(f);
    return v;
}

/* URB_ZERO_PACKET on the FTDI adapter's bulk OUT (max packet 64): 128
 * bytes with the flag become a bulk packet and a zero-length one, answered
 * once with 128 bytes written; 100 bytes with the flag (not a multiple) and
 * 64 without it are one packet each. Then two pipelined. The device saw 7
 * bulk packets and 420 bytes. */
static void test_zero_packet(void **state)
{
    uint8_t rec[USBIP_DEVICE_SIZE], data[128];
    static struct ret r;
    static const uint32_t len[3] = { 128, 100, 64 }, flags[3] = { 0x40, 0x40, 0 };
    int fd;
    (void)state;
    memset(data, 'z', sizeof(data));
    assert_int_equal(import("1-4", &fd, rec), 0);
    for (uint32_t k = 0; k < 3; k++) {
        submit(fd, "1-4", 70 + k, 2, USBIP_DIR_OUT, flags[k], len[k], NULL, data);
        next_reply(fd, &r, 0);
        assert_int_equal(r.seqnum, 70 + k);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.actual, len[k]);
    }
    /* Pipelined: A with the flag, then B at once. The zero-length packet
     * goes right behind A, before B; the replies come in order. */
    submit(fd, "1-4", 73, 2, USBIP_DIR_OUT, 0x40, 64, NULL, data);
    submit(fd, "1-4", 74, 2, USBIP_DIR_OUT, 0, 64, NULL, data);
    next_reply(fd, &r, 0);
    assert_int_equal(r.seqnum, 73);
    assert_int_equal(r.actual, 64);
    next_reply(fd, &r, 0);
    assert_int_equal(r.seqnum, 74);
    assert_int_equal(r.actual, 64);
    close_and_wait(fd);
    {
        /* The capture: the client's URB_ZERO_PACKET on the URBs that asked
         * for it, then the zero-length packet of those that needed one
         * (128 and 64 bytes: multiples of 64), as URBs of their own. */
        static const uint32_t want_len[7] = { 128, 0, 100, 64, 64, 0, 64 };
        static const uint32_t want_flags[7] = { 0x40, 0, 0x40, 0, 0x40, 0, 0 };
        struct usbmon_rec m[16];
        assert_int_equal(usbmon_records("1-4", 'S', 0x02, m, 16), 7);
        for (int i = 0; i < 7; i++) {
            assert_int_equal(m[i].len, want_len[i]);
            assert_int_equal(m[i].flags, want_flags[i]);
        }
    }
    stop(&W.ftdi, SIGTERM);
    assert_int_equal(report_value(W.ftdi_report, "bulk_packet"), 4 + 3);
    assert_int_equal(report_value(W.ftdi_report, "serial_received"), 292 + 128);
}

/* Backpressure: behind a usb-host that reads 61 bytes a millisecond
 * (hostile-host slow-reader) and a bound of 8 KiB of requests queued for
 * it, 60 bulk OUT URBs of 2 KiB wait in the bridge (it logs that it stops
 * reading the client) and all complete, in order, every byte written. */
static void test_backpressure(void **state)
{
    struct proc host, server;
    uint8_t rec[USBIP_DEVICE_SIZE], data[2048];
    static struct ret r;
    int fd;
    struct world saved = W;
    (void)state;
    memset(&host, 0, sizeof(host));
    memset(&server, 0, sizeof(server));
    {
        char *hargv[] = { getenv("URG_HOSTILE"), "--scenario", "slow-reader", "--kind", "ftdi",
                          NULL };
        spawn(&host, hargv, 0, 1);
    }
    {
        char *args[] = { "--max-output", "8192", host.addr, NULL };
        start_server(&server, args);
    }
    W.server = server; /* the helpers talk to W.server */
    wait_log(&W.server, 0, "1-1: 0403:6001 at full speed, exportable");
    assert_int_equal(import("1-1", &fd, rec), 0);
    for (uint32_t k = 0; k < 60; k++) {
        memset(data, (int)k, sizeof(data));
        submit(fd, "1-1", 200 + k, 2, USBIP_DIR_OUT, 0, sizeof(data), NULL, data);
    }
    for (uint32_t k = 0; k < 60; k++) {
        next_reply(fd, &r, 0);
        assert_int_equal(r.seqnum, 200 + k);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.actual, sizeof(data));
    }
    wait_log(&W.server, 0, "1-1: 8192 bytes wait for the usb-host: not reading 127.0.0.1:");
    close_and_wait(fd);
    {
        int st = stop(&W.server, SIGTERM);
        W = saved;
        stop(&host, SIGTERM);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
}

/* The bridge behind a usb-host that misbehaves (tests/hostile's
 * hostile-host, its first connection hostile, the next ones correct): the
 * device vanishing at a reply (and coming back on the same connection),
 * garbage, a protocol error, a connection cut mid-packet, a flood of late
 * replies. Each time the bridge lives on, connects again, offers the
 * device again and a client uses it; it ends with status 0 (no sanitizer
 * report or leak under make check's runners). */
static void test_hostile_hosts(void **state)
{
    static const char *const scenarios[] = {
        "disconnect-with-reply-1", "disconnect-with-reply-3", "unplug-replug-2",
        "connect-then-garbage",    "garbage",                 "protocol-error",
        "close-mid-payload",       "late-reply-flood",        "huge-interrupt",
    };
    struct world saved = W;
    (void)state;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        struct proc host, server;
        uint8_t rec[USBIP_DEVICE_SIZE];
        static struct ret r;
        char *hargv[] = { getenv("URG_HOSTILE"), "--scenario", (char *)scenarios[i], "--kind",
                          "keyboard", "--connections", "3", "--text", "", NULL };
        int fd = -1, st, tries;
        size_t mark = 0;
        memset(&host, 0, sizeof(host));
        memset(&server, 0, sizeof(server));
        spawn(&host, hargv, 0, 1);
        {
            char *args[] = { host.addr, NULL };
            start_server(&server, args);
        }
        W.server = server;
        /* Until an import holds: the device may come and go first. */
        for (tries = 0; tries < 4; tries++) {
            mark = wait_log(&W.server, mark, "1-1: 0627:0001 at high speed, exportable");
            if (import("1-1", &fd, rec) == USBIP_ST_OK)
                break;
        }
        assert_true(tries < 4);
        submit(fd, "1-1", 1, 0, USBIP_DIR_IN, 0x200, 18, get_device_desc, NULL);
        next_reply(fd, &r, 1);
        if (r.status != 0) {
            /* The hostile connection broke under this request: the next
             * one serves it. */
            assert_true(r.status == -ENODEV || r.status == -EPROTO);
            expect_closed(fd);
            close(fd);
            mark = wait_log(&W.server, mark, "1-1: 0627:0001 at high speed, exportable");
            assert_int_equal(import("1-1", &fd, rec), USBIP_ST_OK);
            submit(fd, "1-1", 2, 0, USBIP_DIR_IN, 0x200, 18, get_device_desc, NULL);
            next_reply(fd, &r, 1);
        }
        assert_int_equal(r.status, 0);
        assert_int_equal(r.actual, 18);
        close_and_wait(fd);
        st = stop(&W.server, SIGTERM);
        W = saved;
        stop(&host, SIGTERM);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("%s: the server ended with wait status 0x%x", scenarios[i], st);
    }
}

/* An iso CMD_SUBMIT: npk packets of pktlen bytes each, back to back; OUT
 * data is byte (seqnum + i). */
static void submit_iso(int fd, uint32_t seqnum, uint32_t ep, uint32_t dir, uint32_t npk,
                       uint32_t pktlen)
{
    static uint8_t data[64 * 192], desc[64 * USBIP_ISO_DESC_SIZE];
    struct usbip_cmd c;
    uint8_t h[USBIP_HEADER_SIZE];
    assert_true(npk <= 64 && pktlen <= 192);
    memset(&c, 0, sizeof(c));
    c.command = USBIP_CMD_SUBMIT;
    c.seqnum = seqnum;
    c.devid = devid_of("1-3");
    c.direction = dir;
    c.ep = ep;
    c.transfer_flags = 0x2 | (dir ? 0x200 : 0); /* ISO_ASAP */
    c.transfer_buffer_length = npk * pktlen;
    c.number_of_packets = npk;
    c.interval = 1;
    usbip_put_cmd(h, &c);
    send_all(fd, h, sizeof(h));
    if (dir == USBIP_DIR_OUT) {
        for (uint32_t i = 0; i < npk * pktlen; i++)
            data[i] = (uint8_t)(seqnum + i);
        send_all(fd, data, npk * pktlen);
    }
    for (uint32_t k = 0; k < npk; k++) {
        struct usbip_iso_desc d = { k * pktlen, pktlen, 0, 0 };
        usbip_put_iso_desc(desc + k * USBIP_ISO_DESC_SIZE, &d);
    }
    send_all(fd, desc, npk * USBIP_ISO_DESC_SIZE);
}

/* An iso RET_SUBMIT: the header into r, IN data into r->data, the
 * descriptors into d. */
static void next_iso_reply(int fd, struct ret *r, int in, struct usbip_iso_desc *d, uint32_t max)
{
    uint8_t raw[USBIP_ISO_DESC_SIZE];
    next_reply(fd, r, (uint32_t)in);
    assert_int_equal(r->command, USBIP_RET_SUBMIT);
    assert_true(r->npackets <= max);
    for (uint32_t k = 0; k < r->npackets; k++) {
        assert_true(recv_all(fd, raw, sizeof(raw)));
        d[k].offset = usbip_get32(raw);
        d[k].length = usbip_get32(raw + 4);
        d[k].actual_length = usbip_get32(raw + 8);
        d[k].status = (int32_t)usbip_get32(raw + 12);
    }
}

/* Iso OUT through the bridge, paced: 10 URBs of 8 packets on a full-speed
 * endpoint with bInterval 1 take 8 frames (8 ms) each, so the last reply
 * comes no earlier than 80 ms after the first submit (the model itself
 * completes iso OUT at once). Every packet reaches the device. Then iso IN:
 * the device's burst comes back packet by packet, each packet's bytes back
 * to back in the reply, descriptors carrying the submitted offset and
 * length and the received length. */
static void test_iso(void **state)
{
    uint8_t rec[USBIP_DEVICE_SIZE];
    static struct ret r;
    struct usbip_iso_desc d[64];
    double t0, last = 0;
    uint32_t next_pkt = 0;
    int fd;
    FILE *f;
    char line[128];
    unsigned long long out_bytes = 0;
    unsigned pkts = 0, urbs = 0;
    (void)state;
    assert_int_equal(import("1-3", &fd, rec), 0);
    assert_int_equal(usbip_get32(rec + 296), USBIP_SPEED_FULL);
    t0 = now_s();
    for (uint32_t k = 0; k < 10; k++)
        submit_iso(fd, 50 + k, 2, USBIP_DIR_OUT, 8, 192);
    for (uint32_t k = 0; k < 10; k++) {
        next_iso_reply(fd, &r, 0, d, 64);
        last = now_s();
        assert_int_equal(r.seqnum, 50 + k);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.npackets, 8);
        assert_int_equal(r.actual, 8 * 192);
        assert_int_equal(r.errors, 0);
        for (int i = 0; i < 8; i++) {
            assert_int_equal(d[i].offset, (uint32_t)i * 192);
            assert_int_equal(d[i].length, 192);
            assert_int_equal(d[i].actual_length, 192);
            assert_int_equal(d[i].status, 0);
        }
    }
    assert_true(last - t0 >= 0.080);
    {
        /* The capture: URB_ISO_ASAP, the interval in frames (full speed),
         * and start frames back to back, 8 packets of one interval each
         * (11-bit frame numbers). */
        struct usbmon_rec m[16];
        assert_int_equal(usbmon_records("1-3", 'C', 0x02, m, 16), 10);
        for (int k = 0; k < 10; k++) {
            assert_int_equal(m[k].flags, 0x2);
            assert_int_equal(m[k].interval, 1);
            assert_int_equal(m[k].len, 8 * 192);
            if (k)
                assert_int_equal((m[k].start_frame - m[k - 1].start_frame) & 0x7ff,
                                 8 * m[k].interval);
        }
    }
    /* Iso IN: 4 URBs of 8 packets with 192 bytes of room each, their
     * frames 32 ms in all: each goes to the model when its frames end. */
    t0 = now_s();
    for (uint32_t k = 0; k < 4; k++)
        submit_iso(fd, 60 + k, 1, USBIP_DIR_IN, 8, 192);
    for (uint32_t k = 0; k < 4; k++) {
        uint32_t at = 0, sum = 0;
        next_iso_reply(fd, &r, 1, d, 64);
        assert_int_equal(r.seqnum, 60 + k);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.npackets, 8);
        for (int i = 0; i < 8; i++) {
            assert_int_equal(d[i].offset, (uint32_t)i * 192);
            assert_int_equal(d[i].length, 192);
            sum += d[i].actual_length;
            if (d[i].actual_length == 0)
                continue; /* a frame the device had no packet for yet */
            /* The burst's next packet: 100 + n % 50 bytes of (n + j). */
            assert_int_equal(d[i].actual_length, 100 + next_pkt % 50);
            for (uint32_t j = 0; j < d[i].actual_length; j++)
                assert_int_equal(r.data[at + j], (uint8_t)(next_pkt + j));
            at += d[i].actual_length;
            next_pkt++;
        }
        assert_int_equal(r.actual, sum);
    }
    assert_true(now_s() - t0 >= 0.032);
    assert_true(next_pkt >= 8); /* the burst arrived during the first URB's frames */
    /* Unlinked while its reply waits for its frames (OUT), or before it
     * went to the model (IN): RET_UNLINK -ECONNRESET and no RET_SUBMIT. A
     * URB submitted after it on the same endpoint is due later, so its
     * reply coming first proves none follows for the unlinked one. */
    submit_iso(fd, 64, 2, USBIP_DIR_OUT, 8, 192);
    submit_iso(fd, 65, 2, USBIP_DIR_OUT, 8, 192);
    unlink_urb(fd, "1-3", 66, 65);
    submit_iso(fd, 67, 2, USBIP_DIR_OUT, 8, 192);
    submit_iso(fd, 68, 1, USBIP_DIR_IN, 8, 192);
    unlink_urb(fd, "1-3", 69, 68);
    submit_iso(fd, 70, 1, USBIP_DIR_IN, 8, 192);
    {
        int seen[8] = { 0 };
        for (int i = 0; i < 5; i++) {
            uint8_t h[USBIP_HEADER_SIZE];
            uint32_t seq, np;
            assert_true(recv_all(fd, h, sizeof(h)));
            seq = usbip_get32(h + 4);
            np = usbip_get32(h + 32);
            assert_true(seq >= 64 && seq <= 70);
            seen[seq - 64]++;
            if (usbip_get32(h) == USBIP_RET_UNLINK) {
                assert_int_equal((int32_t)usbip_get32(h + 20), -ECONNRESET);
                continue;
            }
            assert_int_equal(usbip_get32(h), USBIP_RET_SUBMIT);
            if (seq == 70 && usbip_get32(h + 24))
                assert_true(recv_all(fd, r.data, usbip_get32(h + 24)));
            assert_true(np <= 64);
            assert_true(np == 0 || recv_all(fd, r.data, np * USBIP_ISO_DESC_SIZE));
        }
        assert_int_equal(seen[0], 1);
        assert_int_equal(seen[1], 0); /* 65: unlinked */
        assert_int_equal(seen[2], 1); /* its RET_UNLINK */
        assert_int_equal(seen[3], 1);
        assert_int_equal(seen[4], 0); /* 68: unlinked */
        assert_int_equal(seen[5], 1);
        assert_int_equal(seen[6], 1);
    }
    close_and_wait(fd);
    /* The device got every OUT byte. */
    stop(&W.iso, SIGTERM);
    f = fopen(W.iso_report, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        sscanf(line, "iso_out_bytes %llu", &out_bytes);
        sscanf(line, "iso_out_stream %u x %u", &pkts, &urbs);
    }
    fclose(f);
    assert_int_equal(out_bytes, 13 * 8 * 192); /* 65's packets went before its unlink */
    /* --iso-latency 100 reached the model: 200 packets (twice 100 ms, OUT)
     * in 16 transfers of 13. */
    assert_int_equal(pkts, 13);
    assert_int_equal(urbs, 16);
}

/* device:FILE exports: a bridge of its own serves devices rebuilt from
 * recordings (the emulated disk's read, the keyboard's typing) to a client
 * that asks in its own order: 64 blocks read at LBA 100 in one command (the
 * recording read 128 at 0 and 128 at 128), the recorded keys in order; on
 * SIGTERM each export says what it answered and how. */
static void test_recorded_devices(void **state)
{
    static const uint8_t keys[11] = { 0x0b, 0x08, 0x0f, 0x0f, 0x12, 0x2c,
                                      0x1a, 0x12, 0x15, 0x0f, 0x07 }; /* hello world */
    static const uint8_t read10[10] = { 0x28, 0, 0, 0, 0, 100, 0, 0, 64, 0 };
    static struct proc dev, saved;
    static uint8_t data[64 * 512];
    uint8_t rec[USBIP_DEVICE_SIZE], cbw[31], h[USBIP_HEADER_SIZE], csw[13];
    char *args[] = { "device:fixtures/msc-read.urgcap", "device:fixtures/keyboard-hid.urgcap",
                     NULL };
    size_t mark;
    int fd;
    (void)state;
    memset(&dev, 0, sizeof(dev));
    start_server(&dev, args);
    wait_log(&dev, 0, "1-1: 46f4:0001 at super speed, exportable");
    wait_log(&dev, 0, "1-2: 0627:0001 at high speed, exportable");
    saved = W.server;
    W.server = dev;
    /* The disk: CBW, data, CSW, one at a time. */
    assert_int_equal(import("1-1", &fd, rec), 0);
    bot_cbw(cbw, 0x4321, 64 * 512, 1, read10, 10);
    submit(fd, "1-1", 1, 2, USBIP_DIR_OUT, 0, 31, NULL, cbw);
    assert_true(recv_all(fd, h, sizeof(h)));
    assert_int_equal((int32_t)usbip_get32(h + 20), 0);
    submit(fd, "1-1", 2, 1, USBIP_DIR_IN, 0x201, 64 * 512, NULL, NULL);
    assert_true(recv_all(fd, h, sizeof(h)));
    assert_int_equal((int32_t)usbip_get32(h + 20), 0);
    assert_int_equal(usbip_get32(h + 24), 64 * 512);
    assert_true(recv_all(fd, data, 64 * 512));
    for (int b = 0; b < 64; b++) {
        char label[16];
        int n = snprintf(label, sizeof(label), "block %d", 100 + b);
        assert_memory_equal(data + b * 512, label, (size_t)n);
    }
    submit(fd, "1-1", 3, 1, USBIP_DIR_IN, 0x201, 13, NULL, NULL);
    assert_true(recv_all(fd, h, sizeof(h)));
    assert_int_equal(usbip_get32(h + 24), 13);
    assert_true(recv_all(fd, csw, 13));
    assert_memory_equal(csw, "USBS", 4);
    assert_int_equal(csw[4] | csw[5] << 8, 0x4321);
    assert_int_equal(csw[12], 0);
    close_and_wait(fd);
    /* The keyboard: its 22 reports, one per interrupt URB. */
    assert_int_equal(import("1-2", &fd, rec), 0);
    for (uint32_t i = 0; i < 22; i++) {
        uint8_t rep[8];
        submit(fd, "1-2", 10 + i, 1, USBIP_DIR_IN, 0, 8, NULL, NULL);
        assert_true(recv_all(fd, h, sizeof(h)));
        assert_int_equal(usbip_get32(h + 4), 10 + i);
        assert_int_equal(usbip_get32(h + 24), 8);
        assert_true(recv_all(fd, rep, 8));
        assert_int_equal(rep[2], i % 2 ? 0 : keys[i / 2]);
    }
    close_and_wait(fd);
    dev = W.server;
    W.server = saved;
    mark = dev.log_len;
    kill(dev.pid, SIGTERM);
    mark = wait_log(&dev, mark, "msc-read.urgcap: answered from the recording");
    wait_log(&dev, mark, "blocks read 64, missing 0, written 0");
    wait_log(&dev, 0, "keyboard-hid.urgcap: answered from the recording");
    stop(&dev, SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devlist),
        cmocka_unit_test(test_import_refusals),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_bulk_storage),
        cmocka_unit_test(test_unlink),
        cmocka_unit_test(test_port_reset),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_device_gone_and_back),
        cmocka_unit_test(test_zero_packet),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_hostile_hosts),
        cmocka_unit_test(test_iso),
        cmocka_unit_test(test_recorded_devices),
    };
    if (!getenv("URG_TOOL") || !getenv("URG_EMUHOST") || !getenv("URG_HOSTILE")) {
        fprintf(stderr, "test_usbip: set URG_TOOL, URG_EMUHOST and URG_HOSTILE\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, setup_world, teardown_world);
}

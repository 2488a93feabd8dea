/*
 * sessions.c - see sessions.h.
 */
#include "sessions.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "emuhost.h"

static const uint8_t get_device[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };

void kbd_session(struct tdev *d, struct kbd_result *r)
{
    uint8_t desc[18];
    uint32_t got = 0;
    int i;
    memset(r, 0, sizeof(*r));
    r->status = tdev_xfer(d, URG_EP_CONTROL, 0, get_device, desc, 18, &got);
    if (r->status != URG_URB_SUCCESS || got != 18)
        return;
    r->vendor = (uint32_t)(desc[8] | desc[9] << 8);
    for (i = 0; i < 10; i++) {
        r->status = tdev_xfer(d, URG_EP_INTERRUPT, 0x81, NULL, r->reports[i], 8, &got);
        if (r->status != URG_URB_SUCCESS)
            return;
    }
}

int msc_session(struct tdev *d, uint8_t pattern, uint8_t *out)
{
    static const uint8_t tur[6] = { 0x00 };
    static const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 7, 0, 0, 1, 0 };
    static const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 7, 0, 0, 1, 0 };
    uint8_t blk[512];
    int r;
    memset(blk, pattern, sizeof(blk));
    if ((r = tdev_scsi(d, tur, 6, NULL, 0, 1)) != 0 || (r = tdev_scsi(d, w10, 10, blk, 512, 0)))
        return r;
    return tdev_scsi(d, r10, 10, out, 512, 1);
}

struct emuhost *tdev_pair(struct tdev *d, struct ev_loop *loop, const struct emu_config *c,
                          const char *capture, void (*done)(void *ctx, struct emuhost *e),
                          void *ctx)
{
    struct emu_config kbd;
    struct emuhost *e;
    int sv[2];
    char addr[32];
    if (!c) {
        emu_config_init(&kbd, EMU_KEYBOARD);
        c = &kbd;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        abort();
    e = emu_new(c);
    emu_serve(e, loop, sv[1], done, ctx);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    tdev_init(d, loop, addr, 0, 0, capture);
    return e;
}

int record_session(const char *path, int kind)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct emu_config c;
    struct emuhost *e;
    struct tdev d;
    int ok = 0;
    emu_config_init(&c, kind);
    e = tdev_pair(&d, loop, &c, path, NULL, NULL);
    if (run_until(loop, tdev_attached, &d, 10)) {
        if (kind == EMU_KEYBOARD) {
            struct kbd_result r;
            kbd_session(&d, &r);
            ok = r.status == URG_URB_SUCCESS && r.vendor == 0x0627 && r.reports[0][2] == 0x0b;
        } else {
            uint8_t back[512];
            ok = msc_session(&d, 0xaa, back) == 0 && back[0] == 0xaa;
        }
    }
    tdev_free(&d);
    emu_free(e);
    ev_loop_destroy(loop);
    return ok ? 0 : -1;
}

char *temp_capture(const char *what)
{
    static char paths[4][80];
    static int n;
    char *p = paths[n++ % 4];
    snprintf(p, sizeof(paths[0]), "/tmp/urg-test-%d-%s.urgcap", (int)getpid(), what);
    return p;
}

int tcpdump_start(struct tcpdump *t, const char *pcap, int port)
{
    char filter[32], line[512];
    size_t got = 0;
    int errp[2];
    pid_t pid;
    line[0] = 0;
    t->pid = t->err = -1;
    snprintf(filter, sizeof(filter), "tcp port %d", port);
    close(open(pcap, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    if (pipe(errp))
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* It goes when this process goes, even after a failed assertion,
         * and holds none of its output open. */
        int null = open("/dev/null", O_WRONLY);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(null, 1);
        dup2(errp[1], 2);
        close(errp[0]);
        /* -B: the default 2 MiB ring holds 8 whole (-s 0) frames; a burst of
         * more would be dropped by the kernel. */
        execlp("tcpdump", "tcpdump", "-i", "lo", "-U", "--immediate-mode", "-s", "0", "-B",
               "65536", "-w", pcap, filter, (char *)NULL);
        _exit(127);
    }
    close(errp[1]);
    while (!strstr(line, "listening on")) {
        struct pollfd p = { errp[0], POLLIN, 0 };
        ssize_t n = 0;
        if (poll(&p, 1, 20000) != 1 || /* a bound on a hang */
            (n = read(errp[0], line + got, sizeof(line) - 1 - got)) <= 0) {
            fprintf(stderr, "tcpdump did not start: %.*s\n", (int)got, line);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            close(errp[0]);
            return -1;
        }
        got += (size_t)n;
        line[got] = 0;
    }
    t->pid = (int)pid;
    t->err = errp[0];
    return 0;
}

int tcpdump_stop(struct tcpdump *t)
{
    char text[4096];
    size_t got = 0;
    ssize_t n;
    const char *d;
    int st;
    if (t->pid < 0)
        return -1;
    kill((pid_t)t->pid, SIGTERM);
    while (got < sizeof(text) - 1 && (n = read(t->err, text + got, sizeof(text) - 1 - got)) > 0)
        got += (size_t)n;
    text[got] = 0;
    close(t->err);
    waitpid((pid_t)t->pid, &st, 0);
    t->pid = t->err = -1;
    d = strstr(text, " packets dropped by kernel");
    if (!d)
        return -1;
    while (d > text && d[-1] >= '0' && d[-1] <= '9')
        d--;
    return atoi(d);
}

static int pcap_fins(const char *mode, const char *pcap, int n)
{
    char self[4096], tool[4200], count[16];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    int st;
    pid_t p;
    if (len <= 0)
        return -1;
    self[len] = 0;
    *strrchr(self, '/') = 0;
    snprintf(tool, sizeof(tool), "%s/pcap-fins", self);
    snprintf(count, sizeof(count), "%d", n);
    p = fork();
    if (p < 0)
        return -1;
    if (p == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        if (mode)
            execl(tool, tool, mode, pcap, count, (char *)NULL);
        else
            execl(tool, tool, pcap, count, (char *)NULL);
        _exit(127);
    }
    if (waitpid(p, &st, 0) != p)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int pcap_wait_fins(const char *pcap, int n) { return pcap_fins(NULL, pcap, n); }
int pcap_wait_closed(const char *pcap, int n) { return pcap_fins("--closed", pcap, n); }

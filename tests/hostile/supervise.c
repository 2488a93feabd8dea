/*
 * supervise.c - runs a command under a wall-clock limit and says how it
 * ended, for tests/hostile/run.sh.
 *
 *   supervise [-t SECONDS] [-o FILE] -- COMMAND [ARGS...]
 *
 * The command runs in a process group of its own, with the supervisor's
 * stdin, stdout and stderr. When it has not ended after SECONDS (10) its
 * group is killed (SIGKILL) and that is reported as a timeout. The
 * supervisor waits with SIGCHLD blocked and sigtimedwait() bounded by the
 * time left - no sleeping, no polling loop. One line is written to FILE
 * (stderr without -o), as key=value pairs:
 *
 *   result=exit code=3 signal=- rss_kb=24816 wall_s=0.412 limit_s=8
 *   result=signal code=- signal=SIGSEGV rss_kb=24816 wall_s=0.412 limit_s=8
 *   result=timeout code=- signal=SIGKILL rss_kb=31002 wall_s=8.001 limit_s=8
 *
 * rss_kb is the command's peak resident set (wait4's ru_maxrss), wall_s the
 * time from fork to its end. The supervisor's own exit status is the
 * command's exit code, 128 + the signal, 124 after a timeout, or 125 when
 * the command could not be run.
 *
 *   supervise --check-text FILE...
 *
 * Checks that each file holds no terminal controls: C0 controls but \n and
 * \t (so no ESC, BEL, CR, BS, NUL), DEL, C1 controls encoded in UTF-8 (C2 80
 * to C2 9F) or as raw bytes 0x80-0x9F outside a valid UTF-8 sequence. Prints
 * "FILE: offset N: byte 0xNN (what)" for the first few and exits 1 if any.
 *
 *   supervise --check-lines FILE...
 *
 * The same, but CR passes too: a serial line's text (the serial command
 * lets \n, \r and \t through and escapes every other control).
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_chld(int sig)
{
    (void)sig; /* only makes SIGCHLD pending while blocked */
}

static const char *sig_name(int sig)
{
    static char buf[16];
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGPIPE: return "SIGPIPE";
    case SIGTRAP: return "SIGTRAP";
    case SIGSYS: return "SIGSYS";
    default:
        snprintf(buf, sizeof(buf), "SIG%d", sig);
        return buf;
    }
}

/* Length of the valid UTF-8 sequence at p (n bytes left) and its code
 * point, or 0 if it is not one. */
static int utf8_seq(const unsigned char *p, size_t n, unsigned long *cp)
{
    int len, i;
    unsigned long c;
    if (p[0] < 0xc2 || p[0] > 0xf4)
        return 0;
    len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
    if ((size_t)len > n)
        return 0;
    c = p[0] & (0x7f >> len);
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
        return 0; /* overlong or out of range */
    *cp = c;
    return len;
}

static int check_text(const char *path, bool allow_cr)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    size_t n = 0, cap = 0, i;
    int bad = 0;
    if (!f) {
        fprintf(stderr, "supervise: %s: %s\n", path, strerror(errno));
        return 1;
    }
    for (;;) {
        size_t k;
        if (n == cap) {
            unsigned char *nb = realloc(b, cap = cap ? cap * 2 : 65536);
            if (!nb) {
                fclose(f);
                free(b);
                return 1;
            }
            b = nb;
        }
        k = fread(b + n, 1, cap - n, f);
        if (!k)
            break;
        n += k;
    }
    fclose(f);
    for (i = 0; i < n && bad < 3;) {
        unsigned long cp = 0;
        const char *what = NULL;
        int len = 1;
        if (b[i] < 0x20 && b[i] != '\n' && b[i] != '\t' && !(allow_cr && b[i] == '\r'))
            what = b[i] == 0x1b ? "ESC" : "a C0 control";
        else if (b[i] == 0x7f)
            what = "DEL";
        else if (b[i] >= 0x80) {
            len = utf8_seq(b + i, n - i, &cp);
            if (len && cp >= 0x80 && cp <= 0x9f)
                what = "a C1 control in UTF-8";
            else if (!len && b[i] <= 0x9f)
                what = "a raw C1 control byte";
            if (!len)
                len = 1;
        }
        if (what) {
            printf("%s: offset %zu: byte 0x%02x (%s)\n", path, i, b[i], what);
            bad++;
        }
        i += (size_t)len;
    }
    free(b);
    return bad ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: supervise [-t SECONDS] [-o FILE] -- COMMAND [ARGS...]\n"
                    "       supervise --check-text FILE...\n"
                    "       supervise --check-lines FILE...\n");
    exit(125);
}

int main(int argc, char **argv)
{
    double limit = 10, start, left;
    const char *out = NULL;
    struct sigaction sa;
    struct rusage ru;
    sigset_t set, old;
    int i, status = 0, timed_out = 0, rc;
    pid_t pid;
    FILE *f;
    if (argc > 1 && (!strcmp(argv[1], "--check-text") || !strcmp(argv[1], "--check-lines"))) {
        int bad = 0;
        for (i = 2; i < argc; i++)
            bad |= check_text(argv[i], !strcmp(argv[1], "--check-lines"));
        return bad;
    }
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (!strcmp(argv[i], "-t") && i + 1 < argc)
            limit = atof(argv[++i]);
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else
            usage();
    }
    if (i >= argc || limit <= 0)
        usage();

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_chld;
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    start = mono();
    pid = fork();
    if (pid < 0) {
        perror("supervise: fork");
        return 125;
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        setpgid(0, 0);
        execvp(argv[i], argv + i);
        fprintf(stderr, "supervise: cannot run %s: %s\n", argv[i], strerror(errno));
        _exit(125);
    }
    setpgid(pid, pid);
    memset(&ru, 0, sizeof(ru));
    for (;;) {
        struct timespec ts;
        pid_t r = wait4(pid, &status, WNOHANG, &ru);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            perror("supervise: wait4");
            return 125;
        }
        left = start + limit - mono();
        if (left <= 0) {
            timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
                ;
            break;
        }
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        sigtimedwait(&set, NULL, &ts); /* SIGCHLD, or the time is up */
    }
    left = mono() - start;

    f = out ? fopen(out, "w") : stderr;
    if (!f)
        f = stderr;
    if (timed_out) {
        fprintf(f, "result=timeout code=- signal=SIGKILL");
        rc = 124;
    } else if (WIFSIGNALED(status)) {
        fprintf(f, "result=signal code=- signal=%s", sig_name(WTERMSIG(status)));
        rc = 128 + WTERMSIG(status);
    } else {
        fprintf(f, "result=exit code=%d signal=-", WEXITSTATUS(status));
        rc = WEXITSTATUS(status);
    }
    fprintf(f, " rss_kb=%ld wall_s=%.3f limit_s=%g\n", ru.ru_maxrss, left, limit);
    if (f != stderr)
        fclose(f);
    return rc;
}

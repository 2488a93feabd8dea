/*
 * vm.c - see vm.h.
 */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "evtest.h"

double vm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A port nothing listens on now (the kernel's choice for port 0). */
static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool kvm_usable(void)
{
    const char *accel = getenv("URG_REALHOST_ACCEL");
    struct stat st;
    if (accel)
        return strcmp(accel, "kvm") == 0;
    /* /dev/kvm alone is not enough: some machines have a variant that
     * cannot boot a stock kernel (../shared/reference/real-host.md). */
    return stat("/dev/kvm", &st) == 0 &&
           (stat("/sys/module/kvm_intel", &st) == 0 || stat("/sys/module/kvm_amd", &st) == 0);
}

static void on_console(struct ev_loop *loop, ev_io *w, int revents)
{
    struct vm *vm = w->data;
    char buf[4096];
    ssize_t n;
    (void)revents;
    n = read(w->fd, buf, sizeof(buf));
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        ev_io_stop(loop, w); /* QEMU is gone */
        vm->console_out = -1;
        return;
    }
    if (vm->log_len + (size_t)n + 1 > vm->log_cap) {
        size_t cap = vm->log_cap ? vm->log_cap * 2 : 65536;
        char *p;
        while (cap < vm->log_len + (size_t)n + 1)
            cap *= 2;
        if (!(p = realloc(vm->log, cap)))
            abort();
        vm->log = p;
        vm->log_cap = cap;
    }
    memcpy(vm->log + vm->log_len, buf, (size_t)n);
    vm->log_len += (size_t)n;
    vm->log[vm->log_len] = 0;
    if (vm->log_fd >= 0 && write(vm->log_fd, buf, (size_t)n) != n)
        perror("vm: serial.log");
}

int vm_start(struct vm *vm, struct ev_loop *loop, const struct vm_config *cfg, double timeout)
{
    return vm_launch(vm, loop, cfg) ? -1 : vm_booted(vm, timeout);
}

int vm_launch(struct vm *vm, struct ev_loop *loop, const struct vm_config *cfg)
{
    char kernel[512], initrd[512], append[1024], nic[1024], mon[160], path[512];
    const char *argv[96];
    int in[2], out[2], argc = 0, i;
    ev_io *w;

    memset(vm, 0, sizeof(*vm));
    vm->loop = loop;
    vm->log_fd = -1;
    vm->console_in = vm->console_out = -1;
    vm->kvm = kvm_usable();
    snprintf(kernel, sizeof(kernel), "%s/vmlinux", cfg->image);
    snprintf(initrd, sizeof(initrd), "%s/initramfs.cpio", cfg->image);
    snprintf(vm->monitor, sizeof(vm->monitor), "%s/monitor.sock", cfg->dir);
    snprintf(mon, sizeof(mon), "unix:%s,server=on,wait=off", vm->monitor);
    snprintf(path, sizeof(path), "%s/serial.log", cfg->dir);
    unlink(vm->monitor);
    vm->log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    /* The kernel stays quiet on the console (a message in the middle of a
     * marker line would hide it); the attach role's tests read dmesg. */
    snprintf(append, sizeof(append), "console=ttyS0 panic=-1 loglevel=1 urg_role=%s urg_devs=",
             cfg->role ? cfg->role : "device");
    snprintf(nic, sizeof(nic), "user,model=virtio-net-pci");
    for (i = 0; i < VM_MAX_PORTS && cfg->serve[i]; i++) {
        size_t l = strlen(append);
        vm->guest_port[i] = atoi(cfg->serve[i]);
        vm->host_port[i] = free_port();
        snprintf(append + l, sizeof(append) - l, "%s%s", i ? "," : "", cfg->serve[i]);
        l = strlen(nic);
        snprintf(nic + l, sizeof(nic) - l, ",hostfwd=tcp:127.0.0.1:%d-:%d", vm->host_port[i],
                 vm->guest_port[i]);
    }
    vm->nports = i;

    argv[argc++] = "qemu-system-x86_64";
    argv[argc++] = "-accel";
    argv[argc++] = vm->kvm ? "kvm" : "tcg";
    argv[argc++] = "-m";
    argv[argc++] = "256";
    argv[argc++] = "-smp";
    argv[argc++] = "1";
    argv[argc++] = "-nodefaults";
    argv[argc++] = "-display";
    argv[argc++] = "none";
    argv[argc++] = "-no-reboot";
    argv[argc++] = "-kernel";
    argv[argc++] = kernel;
    argv[argc++] = "-initrd";
    argv[argc++] = initrd;
    argv[argc++] = "-append";
    argv[argc++] = append;
    argv[argc++] = "-serial";
    argv[argc++] = "stdio";
    argv[argc++] = "-monitor";
    argv[argc++] = mon;
    argv[argc++] = "-nic";
    argv[argc++] = nic;
    argv[argc++] = "-device";
    argv[argc++] = "qemu-xhci,id=xhci,p2=8,p3=8";
    for (i = 0; cfg->qemu_args && cfg->qemu_args[i] && argc < 94; i++)
        argv[argc++] = cfg->qemu_args[i];
    argv[argc] = NULL;

    if (pipe(in) || pipe(out)) {
        perror("vm: pipe");
        return -1;
    }
    for (i = 0; i < 2; i++) {
        fcntl(in[i], F_SETFD, FD_CLOEXEC);
        fcntl(out[i], F_SETFD, FD_CLOEXEC);
    }
    vm->t_launch = vm_now();
    vm->pid = fork();
    if (vm->pid < 0) {
        perror("vm: fork");
        return -1;
    }
    if (vm->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        execvp(argv[0], (char *const *)argv);
        perror("vm: qemu-system-x86_64");
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    vm->console_in = in[1];
    vm->console_out = out[0];
    fcntl(vm->console_out, F_SETFL, O_NONBLOCK);
    w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    ev_io_init(w, on_console, vm->console_out, EV_READ);
    w->data = vm;
    ev_io_start(loop, w);
    vm->watcher = w;
    return 0;
}

int vm_booted(struct vm *vm, double timeout)
{
    size_t from = 0;
    if (!vm_wait(vm, "URG-BOOTED", &from, timeout)) {
        fprintf(stderr, "vm: no URG-BOOTED on the console within %g s; it printed:\n%s\n",
                timeout, vm->log ? vm->log : "");
        return -1;
    }
    vm->boot_seconds = vm_now() - vm->t_launch;
    return 0;
}

void vm_stop(struct vm *vm)
{
    if (vm->watcher) {
        ev_io_stop(vm->loop, vm->watcher);
        free(vm->watcher);
        vm->watcher = NULL;
    }
    if (vm->pid > 0) {
        kill(vm->pid, SIGKILL);
        while (waitpid(vm->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        vm->pid = 0;
    }
    if (vm->console_in >= 0)
        close(vm->console_in);
    if (vm->console_out >= 0)
        close(vm->console_out);
    if (vm->log_fd >= 0)
        close(vm->log_fd);
    vm->console_in = vm->console_out = vm->log_fd = -1;
    free(vm->log);
    vm->log = NULL;
    vm->log_len = vm->log_cap = 0;
}

static bool console_closed(void *p)
{
    return ((struct vm *)p)->console_out < 0;
}

int vm_quit(struct vm *vm, double timeout)
{
    struct sockaddr_un a;
    static const char quit[] = "quit\n";
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", vm->monitor);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
         write(fd, quit, sizeof(quit) - 1) == (ssize_t)sizeof(quit) - 1;
    ok = ok && run_until(vm->loop, console_closed, vm, timeout);
    if (fd >= 0)
        close(fd);
    if (!ok) {
        fprintf(stderr, "vm: QEMU did not quit within %g s\n", timeout);
        return -1;
    }
    while (waitpid(vm->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    vm->pid = 0;
    return 0;
}

uint8_t *vm_pattern(unsigned start, size_t n)
{
    uint8_t *p = malloc(n + 8);
    for (size_t i = 0; p && i < n; i += 7)
        snprintf((char *)p + i, 8, "%06u\n", start + (unsigned)(i / 7));
    return p;
}

const char *vm_address(const struct vm *vm, int guest_port)
{
    static char addr[VM_MAX_PORTS][32]; /* one for each port: a test may hold them all */
    static int n;
    char *a = addr[n++ % VM_MAX_PORTS];
    for (int i = 0; i < vm->nports; i++)
        if (vm->guest_port[i] == guest_port) {
            snprintf(a, sizeof(addr[0]), "127.0.0.1:%d", vm->host_port[i]);
            return a;
        }
    abort();
}

struct wait_ctx {
    struct vm *vm;
    const char *needle;
    size_t *from;
    bool found;
};

static bool seen(void *p)
{
    struct wait_ctx *c = p;
    const char *hit;
    if (c->vm->log && *c->from <= c->vm->log_len &&
        (hit = strstr(c->vm->log + *c->from, c->needle))) {
        *c->from = (size_t)(hit - c->vm->log) + strlen(c->needle);
        c->found = true;
    }
    return c->found || c->vm->console_out < 0;
}

bool vm_wait(struct vm *vm, const char *needle, size_t *from, double timeout)
{
    struct wait_ctx c = { vm, needle, from, false };
    run_until(vm->loop, seen, &c, timeout);
    return c.found;
}

int vm_console(struct vm *vm, const char *line)
{
    size_t len = strlen(line);
    if (write(vm->console_in, line, len) != (ssize_t)len || write(vm->console_in, "\n", 1) != 1)
        return -1;
    return 0;
}

/* Reads from fd into buf until it ends with the HMP prompt. */
static int read_prompt(int fd, char *buf, size_t cap, size_t *len, double deadline)
{
    static const char prompt[] = "(qemu) ";
    while (*len < 7 || strcmp(buf + *len - 7, prompt) != 0) {
        struct pollfd p = { fd, POLLIN, 0 };
        int ms = (int)((deadline - vm_now()) * 1000);
        ssize_t n;
        if (ms <= 0 || poll(&p, 1, ms) <= 0)
            return -1;
        if (*len + 1 >= cap)
            *len = 0; /* keep the tail only */
        n = read(fd, buf + *len, cap - *len - 1);
        if (n <= 0)
            return -1;
        *len += (size_t)n;
        buf[*len] = 0;
    }
    return 0;
}

int vm_hmp(struct vm *vm, const char *cmd, char *out, size_t cap)
{
    struct sockaddr_un a;
    char buf[8192];
    size_t len = 0;
    double deadline = vm_now() + 10;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -1;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", vm->monitor);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        goto out;
    if (read_prompt(fd, buf, sizeof(buf), &len, deadline))
        goto out;
    len = 0;
    buf[0] = 0;
    if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(fd, "\n", 1) != 1)
        goto out;
    if (read_prompt(fd, buf, sizeof(buf), &len, deadline))
        goto out;
    buf[len - 7] = 0;
    if (out)
        snprintf(out, cap, "%s", buf);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        fprintf(stderr, "vm: the monitor did not answer \"%s\"\n", cmd);
    return rc;
}

int vm_make_image(const char *path, uint32_t bytes, uint32_t seed)
{
    uint32_t *buf = malloc(bytes), x = seed;
    FILE *f = fopen(path, "wb");
    int rc = -1;
    if (buf && f) {
        for (uint32_t i = 0; i < bytes / 4; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = x;
        }
        rc = fwrite(buf, 1, bytes, f) == bytes ? 0 : -1;
    }
    if (f && fclose(f))
        rc = -1;
    free(buf);
    return rc;
}

int vm_common_devices(const char **args, int n, const char *dir, const char *disk_path,
                      const char *audiodev)
{
    static char disk_arg[700], chardev_arg[700], sock[600], audio_arg[700];
    snprintf(disk_arg, sizeof(disk_arg),
             "driver=raw,node-name=disk0,file.driver=file,file.filename=%s", disk_path);
    snprintf(sock, sizeof(sock), "%s/serial.sock", dir);
    unlink(sock);
    snprintf(chardev_arg, sizeof(chardev_arg), "socket,id=serchr,path=%s,server=on,wait=off",
             sock);
    snprintf(audio_arg, sizeof(audio_arg), "%s", audiodev);
    args[n++] = "-device";
    args[n++] = "usb-kbd,id=kbd,bus=xhci.0";
    args[n++] = "-blockdev";
    args[n++] = disk_arg;
    args[n++] = "-device";
    args[n++] = "usb-storage,id=stor,drive=disk0,bus=xhci.0";
    args[n++] = "-chardev";
    args[n++] = chardev_arg;
    args[n++] = "-device";
    args[n++] = "usb-serial,id=ser,chardev=serchr,bus=xhci.0";
    args[n++] = "-audiodev";
    args[n++] = audio_arg;
    /* usb-audio drops a packet that finds its buffer full (debug=2 logs
     * "output overrun"), and its buffer holds 32 ms by default. QEMU 7.2's
     * wav audiodev with mixing-engine=off (the device's own samples, no
     * volume or resampling) writes at the audiodev's default 44.1 kHz (its
     * header says so too), slower than usb-audio's 48 kHz arrive: a 2 s
     * tone lost about 3%, through QEMU's usb-redir as through the bridge.
     * 128 KiB (680 ms at 48 kHz) holds several seconds of the backlog. */
    args[n++] = "-device";
    args[n++] = "usb-audio,id=audio,audiodev=snd,bus=xhci.0,buffer=131072";
    return n;
}

int vm_serve_common(struct vm_config *cfg)
{
    cfg->serve[0] = "4000/0627:0001";
    cfg->serve[1] = "4001/46f4:0001";
    cfg->serve[2] = "4002/0403:6001";
    cfg->serve[3] = "4003/46f4:0002";
    return 4;
}

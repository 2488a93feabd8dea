/*
 * record_foreign.c - make fixtures-foreign: recordings of a foreign
 * usb-guest, QEMU's own usb-redir, driven by the Linux of a second VM,
 * against Debian's usbredirect in the device VM (docs/realhost.md, "The
 * foreign guest's recordings"; docs/fixtures.md).
 *
 *   guest VM (the image's attach role): SeaBIOS, then Linux - usbhid +
 *            evdev, usb-storage + sd, ftdi_sio - on its qemu-xhci, where
 *            three usb-redir devices (on the QEMU command line, so the
 *            firmware enumerates them first) each write QEMU's usbmon
 *            pcap (pcap=)
 *        |  usbredir over TCP: 127.0.0.1:P, P forwarded into the device
 *        |  VM; tcpdump -i lo captures each connection
 *   device VM: usbredirect --device VID:PID for usb-kbd (4000),
 *            usb-storage on a 16 MiB image (4001), usb-serial FTDI on a
 *            socket chardev here (4002)
 *
 * What the guest's Linux does, and the ground truth checked here:
 *   keyboard  `keys Keyboard 16` (evdev) while the device VM's monitor
 *             types shift-f o r e i g n: exactly the 16 EV_KEY events
 *   disk      O_DIRECT reads of blocks 0-127 and 16384-16447 (md5 equal
 *             to the image file here at those offsets), a write of 4096
 *             bytes of the seq pattern at block 24576 (those bytes in the
 *             image file here), that range read back (O_DIRECT)
 *   serial    210 bytes written into the chardev socket here arrive at
 *             ttyUSB0 (checked in the VM), 210 bytes written to ttyUSB0
 *             arrive here
 *
 * Then each tcpdump pcap is imported (`usbredir-guest import`) into
 * OUT/foreign-{keyboard,disk,serial}.urgcap, QEMU's usbmon files are
 * copied to OUT/foreign-NAME.usbmon.pcap, and the ground truth is written
 * to OUT/foreign-NAME.truth. The tcpdump pcaps stay in DIR/foreign.
 *
 *   record_foreign OUT
 *
 * Environment (make fixtures-foreign sets them): URG_REALHOST_IMAGE,
 * URG_REALHOST_DIR (the rig works in DIR/foreign), URG_TOOL, URG_PCAP_FINS
 * (tests/tools/pcap-fins.c: waits until a capture has its FINs). Needs root
 * (tcpdump on lo). Readiness is waited for by console markers and
 * tcpdump's "listening on", each wait bounded by WAIT; exits 1 with what
 * went wrong, 0 when all ground truth held and the files are written.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "evtest.h"
#include "vm.h"

#define WAIT 60.0 /* seconds: a bound on a hang, never a wait that synchronises */
#define DISK_BYTES (16u << 20)
#define DISK_SEED 0x2545f491u  /* the image of the other real-host tests */

/* The recordings: one usbredirect port each. */
enum { R_KBD, R_DISK, R_SERIAL, NREC };
static const struct {
    const char *name;          /* fixtures/foreign-NAME.* */
    int port;                  /* usbredirect's port in the device VM */
    const char *serve;         /* PORT/VID:PID */
} rec[NREC] = {
    { "keyboard", 4000, "4000/0627:0001" },
    { "disk", 4001, "4001/46f4:0001" },
    { "serial", 4002, "4002/0403:6001" },
};

/* The keyboard: what the device VM's monitor types, and the evdev key
 * events (code, value) Linux must see. */
static const char *const sendkeys[] = { "shift-f", "o", "r", "e", "i", "g", "n" };
#define TYPED "Foreign"
#define NKEYEV 16
static const int want_keys[NKEYEV][2] = {
    { 42, 1 }, { 33, 1 }, { 33, 0 }, { 42, 0 }, /* shift-f */
    { 24, 1 }, { 24, 0 }, { 19, 1 }, { 19, 0 }, /* o r */
    { 18, 1 }, { 18, 0 }, { 23, 1 }, { 23, 0 }, /* e i */
    { 34, 1 }, { 34, 0 }, { 49, 1 }, { 49, 0 }, /* g n */
};
/* The disk: the ranges read (first block, blocks), the write. */
static const unsigned disk_reads[2][2] = { { 0, 128 }, { 16384, 64 } };
#define WRITE_LBA 24576u
#define WRITE_BYTES 4096u
#define WRITE_SEQ 1000u
/* The serial adapter: bytes each way, their seq patterns. 210 bytes (4
 * FTDI packets in) stay whole in QEMU's usbmon file, which keeps the first
 * 256 bytes of a bulk transfer (DATA_LEN in QEMU's hw/usb/pcap.c). */
#define SERIAL_BYTES 210u
#define TO_GUEST_SEQ 2000u
#define FROM_GUEST_SEQ 3000u

static struct ev_loop *loop;
static struct vm dev, guest;
static const char *tool, *pcap_fins, *out_dir;
static char dir[512], disk_path[600];

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("record-foreign: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

/* The tcpdump captures, one per recording (td_start()). */
static struct {
    pid_t pid;
    int err;                  /* its stderr */
    char text[2048];          /* what it printed there */
    size_t len;
    char path[700];
} td[NREC];

/* Ends the run: everything started is killed by PID (the VMs and tcpdump
 * also die with this process, PR_SET_PDEATHSIG). */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "record-foreign: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (console logs in %s/{device,guest}/serial.log)\n", dir);
    va_end(ap);
    vm_stop(&guest);
    vm_stop(&dev);
    for (int i = 0; i < NREC; i++)
        if (td[i].pid > 0) {
            kill(td[i].pid, SIGKILL);
            waitpid(td[i].pid, NULL, 0);
        }
    exit(1);
}

static void md5_hex(const uint8_t *p, size_t n, char out[33])
{
    char tmp[700], cmd[800], line[128] = "";
    FILE *f;
    snprintf(tmp, sizeof(tmp), "%s/md5.tmp", dir);
    f = fopen(tmp, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f))
        die("%s: %s", tmp, strerror(errno));
    snprintf(cmd, sizeof(cmd), "md5sum '%s'", tmp);
    f = popen(cmd, "r");
    if (!f || !fgets(line, sizeof(line), f) || strlen(line) < 32)
        die("md5sum failed");
    pclose(f);
    memcpy(out, line, 32);
    out[32] = 0;
}

static uint8_t *read_image(uint64_t off, size_t len)
{
    uint8_t *p = malloc(len);
    int fd = open(disk_path, O_RDONLY);
    if (!p || fd < 0 || pread(fd, p, len, (off_t)off) != (ssize_t)len)
        die("%s: cannot read %zu bytes at %llu", disk_path, len, (unsigned long long)off);
    close(fd);
    return p;
}

/* ---------------------------------------------------------------- consoles */

struct text_wait {
    struct vm *vm;
    const char *needle;
    size_t *from;
    const char *hit;
};

static bool text_seen(void *p)
{
    struct text_wait *c = p;
    const char *t = c->vm->log, *hit;
    if (t && *c->from <= c->vm->log_len && (hit = strstr(t + *c->from, c->needle)) &&
        strchr(hit, '\n')) {
        c->hit = hit;
        *c->from = (size_t)(hit - t) + strlen(c->needle);
        return true;
    }
    return c->vm->console_out < 0;
}

/* Waits for marker (a whole line) at or after *from; the line into line. */
static void expect(struct vm *vm, const char *marker, size_t *from, char *line, size_t cap)
{
    struct text_wait c = { vm, marker, from, NULL };
    if (!run_until(loop, text_seen, &c, WAIT) || !c.hit)
        die("%s VM: no \"%s\" within %g s", vm == &dev ? "device" : "guest", marker, WAIT);
    if (line) {
        size_t n = (size_t)(strchr(c.hit, '\n') - c.hit);
        while (n && c.hit[n - 1] == '\r')
            n--;
        snprintf(line, cap, "%.*s", (int)n, c.hit);
    }
}

/* A console command, then its marker's line; returns the offset past it. */
static size_t vm_do(struct vm *vm, const char *marker, char *line, size_t cap, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));
static size_t vm_do(struct vm *vm, const char *marker, char *line, size_t cap, const char *fmt,
                    ...)
{
    char cmd[512];
    size_t from = vm->log_len;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (vm_console(vm, cmd))
        die("cannot write to the console");
    expect(vm, marker, &from, line, cap);
    return from;
}

static void hmp(struct vm *vm, const char *cmd)
{
    char out[2048];
    if (vm_hmp(vm, cmd, out, sizeof(out)) || strstr(out, "rror"))
        die("the monitor answered \"%s\" with: %s", cmd, out);
}

/* ---------------------------------------------------------------- the serial chardev */

/* The device VM's usb-serial is behind a socket chardev here: QEMU plugs
 * the adapter in while a client is connected. */
static struct {
    int fd;
    ev_io r;
    uint8_t rx[4096];
    size_t rx_len;
} ser = { .fd = -1 };

static void on_ser_read(struct ev_loop *l, ev_io *w, int revents)
{
    ssize_t n;
    (void)revents;
    if (ser.rx_len == sizeof(ser.rx)) {
        ev_io_stop(l, w); /* more than ever expected: the check fails */
        return;
    }
    n = read(w->fd, ser.rx + ser.rx_len, sizeof(ser.rx) - ser.rx_len);
    if (n > 0)
        ser.rx_len += (size_t)n;
    else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        ev_io_stop(l, w);
}

static void ser_connect(void)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/device/serial.sock", dir) >=
        sizeof(a.sun_path))
        die("%s/device/serial.sock: too long for a Unix socket", dir);
    ser.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ser.fd < 0 || connect(ser.fd, (struct sockaddr *)&a, sizeof(a)))
        die("the serial chardev %s: %s", a.sun_path, strerror(errno));
    fcntl(ser.fd, F_SETFL, O_NONBLOCK);
    ev_io_init(&ser.r, on_ser_read, ser.fd, EV_READ);
    ev_io_start(loop, &ser.r);
}

static bool ser_received(void *p)
{
    return ser.rx_len >= *(size_t *)p;
}

/* ---------------------------------------------------------------- tcpdump */


/* Reads the capture's stderr until needle (true) or it ends. */
static bool td_read_until(int i, const char *needle, double timeout)
{
    double deadline = vm_now() + timeout;
    while (!needle || !strstr(td[i].text, needle)) {
        struct pollfd p = { td[i].err, POLLIN, 0 };
        int ms = (int)((deadline - vm_now()) * 1000);
        ssize_t n;
        int r;
        if (ms <= 0)
            return false;
        if ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
            continue;
        if (r != 1)
            return false;
        n = read(td[i].err, td[i].text + td[i].len, sizeof(td[i].text) - 1 - td[i].len);
        if (n <= 0)
            return needle == NULL;
        td[i].len += (size_t)n;
        td[i].text[td[i].len] = 0;
    }
    return true;
}

/* tcpdump -i lo of the connection to host port, packet-buffered. */
static void td_start(int i, int port)
{
    char filter[64];
    int e[2];
    snprintf(td[i].path, sizeof(td[i].path), "%s/foreign-%s.tcpdump.pcap", dir, rec[i].name);
    snprintf(filter, sizeof(filter), "tcp port %d", port);
    if (pipe(e))
        die("pipe: %s", strerror(errno));
    td[i].pid = fork();
    if (td[i].pid < 0)
        die("fork: %s", strerror(errno));
    if (td[i].pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(e[1], 2);
        if (null >= 0)
            dup2(null, 1);
        close(e[0]);
        close(e[1]);
        /* -Z root: tcpdump keeps its user, so that it also keeps the
         * death signal (changing its user would clear it). */
        execlp("tcpdump", "tcpdump", "-i", "lo", "-U", "-s", "0", "-Z", "root", "-w", td[i].path,
               filter, (char *)NULL);
        _exit(127);
    }
    close(e[1]);
    td[i].err = e[0];
    fcntl(td[i].err, F_SETFD, FD_CLOEXEC);
    if (!td_read_until(i, "listening on", WAIT))
        die("tcpdump did not start (root and tcpdump are needed): %s", td[i].text);
}

/* SIGINT; it writes the rest of the file and its counts. */
static void td_stop(int i)
{
    int st = 0;
    kill(td[i].pid, SIGINT);
    if (!td_read_until(i, NULL, WAIT))
        kill(td[i].pid, SIGKILL);
    close(td[i].err);
    while (waitpid(td[i].pid, &st, 0) < 0 && errno == EINTR)
        ;
    td[i].pid = 0;
    if (!strstr(td[i].text, "\n0 packets dropped by kernel"))
        die("tcpdump of %s: %s", rec[i].name, td[i].text);
}

/* ---------------------------------------------------------------- the sessions */

static FILE *truth_open(int i)
{
    char path[700];
    FILE *f;
    snprintf(path, sizeof(path), "%s/foreign-%s.truth.tmp", dir, rec[i].name);
    if (!(f = fopen(path, "w")))
        die("%s: %s", path, strerror(errno));
    fprintf(f, "# The ground truth of fixtures/foreign-%s.urgcap (the usbredir session, from\n"
               "# tcpdump) and fixtures/foreign-%s.usbmon.pcap (QEMU's usb-redir pcap=),\n"
               "# one recording: QEMU 7.2's usb-redir in a VM (SeaBIOS, then Linux 6.1)\n"
               "# against Debian's usbredirect 0.13 in another (tests/realhost/record_foreign.c,\n"
               "# make fixtures-foreign; docs/fixtures.md). Checked when recorded.\n",
            rec[i].name, rec[i].name);
    return f;
}

static void session_keyboard(FILE *t)
{
    int n = 0, msc = 0;
    size_t from, done;
    const char *p, *end;
    char line[128];
    from = vm_do(&guest, "URG-KEYS-READY", line, sizeof(line), "keys Keyboard %d", NKEYEV);
    for (size_t i = 0; i < sizeof(sendkeys) / sizeof(sendkeys[0]); i++) {
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "sendkey %s", sendkeys[i]);
        hmp(&dev, cmd);
    }
    done = from;
    expect(&guest, "URG-KEYS-DONE", &done, NULL, 0);
    end = guest.log + done;
    fprintf(t, "device 0627:0001 QEMU USB Keyboard (QEMU's usb-kbd), interrupt IN 0x81\n");
    fprintf(t, "sendkey");
    for (size_t i = 0; i < sizeof(sendkeys) / sizeof(sendkeys[0]); i++)
        fprintf(t, " %s", sendkeys[i]);
    fprintf(t, "\ntyped %s\n# reports: the key reports (before them the recording has the all-zero\n"
               "# reports the keyboard repeated while SeaBIOS polled it: its SET_IDLE of 32 ms)\n"
               "reports %d\n# evdev CODE:VALUE: the EV_KEY events the foreign Linux read\nevdev",
            TYPED, NKEYEV);
    for (p = guest.log + from; (p = strstr(p, "URG-EV ")) && p < end; p += 7) {
        int type, code, value;
        if (sscanf(p, "URG-EV %d %d %d", &type, &code, &value) != 3)
            continue;
        if (type == 4) {
            msc++;
            continue;
        }
        if (type != 1 || n >= NKEYEV || code != want_keys[n][0] || value != want_keys[n][1])
            die("key event %d: type %d code %d value %d", n, type, code, value);
        fprintf(t, " %d:%d", code, value);
        n++;
    }
    if (n != NKEYEV)
        die("%d key events, not %d", n, NKEYEV);
    fprintf(t, "\n");
    note("keyboard: evdev gave exactly the %d key events of \"%s\" (and %d MSC_SCAN)", n, TYPED,
         msc);
}

static void readblk(const char *sd, unsigned lba, unsigned count, char md5[33])
{
    char line[160], want[64];
    snprintf(want, sizeof(want), "URG-READBLK %s %u %u ", sd, lba, count);
    vm_do(&guest, want, line, sizeof(line), "readblk %s %u %u", sd, lba, count);
    if (sscanf(line + strlen(want), "%32s rc=0", md5) != 1 || !strstr(line, " rc=0"))
        die("readblk: %s", line);
}

static void session_disk(FILE *t)
{
    char line[160], sd[16], got[33], want[33];
    unsigned long sectors = 0;
    uint8_t *img, *pat;
    vm_do(&guest, "URG-BLOCK ", line, sizeof(line), "block");
    if (sscanf(line, "URG-BLOCK %15s %lu", sd, &sectors) != 2 || sectors != DISK_BYTES / 512)
        die("the disk: %s", line);
    fprintf(t, "device 46f4:0001 QEMU USB HARDDRIVE (QEMU's usb-storage, super speed), %lu "
               "blocks of 512 bytes: the xorshift32 stream seeded 0x%08x "
               "(tests/realhost/vm.c vm_make_image)\n", sectors, DISK_SEED);
    fprintf(t, "# read LBA COUNT MD5: Linux read COUNT blocks from LBA (O_DIRECT), equal to\n"
               "# the image file there\n");
    for (int i = 0; i < 2; i++) {
        readblk(sd, disk_reads[i][0], disk_reads[i][1], got);
        img = read_image((uint64_t)disk_reads[i][0] * 512, disk_reads[i][1] * 512u);
        md5_hex(img, disk_reads[i][1] * 512u, want);
        free(img);
        if (strcmp(got, want))
            die("blocks %u:%u read as %s, the image file has %s", disk_reads[i][0],
                disk_reads[i][1], got, want);
        fprintf(t, "read %u %u %s\n", disk_reads[i][0], disk_reads[i][1], got);
    }
    /* The write, then the image file here has it. */
    vm_do(&guest, "URG-WROTE ", line, sizeof(line), "write %s %u %u %u", sd, WRITE_LBA * 512,
          WRITE_SEQ, WRITE_BYTES);
    if (!strstr(line, "rc=0"))
        die("write: %s", line);
    pat = vm_pattern(WRITE_SEQ, WRITE_BYTES);
    img = read_image((uint64_t)WRITE_LBA * 512, WRITE_BYTES);
    if (!pat || memcmp(pat, img, WRITE_BYTES))
        die("the image file does not hold the %u bytes written at block %u", WRITE_BYTES,
            WRITE_LBA);
    md5_hex(pat, WRITE_BYTES, want);
    fprintf(t, "# write LBA COUNT MD5 SEQ: Linux wrote COUNT blocks at LBA (busybox dd\n"
               "# conv=fsync: one WRITE(10) after a READ(10) of the old blocks, then\n"
               "# SYNCHRONIZE CACHE): `seq -w SEQ 999999 | head -c BYTES`, found in the\n"
               "# image file; then read back\n");
    fprintf(t, "write %u %u %s %u\n", WRITE_LBA, WRITE_BYTES / 512, want, WRITE_SEQ);
    readblk(sd, WRITE_LBA, WRITE_BYTES / 512, got);
    if (strcmp(got, want))
        die("the written blocks read back as %s, not %s", got, want);
    fprintf(t, "read %u %u %s\n", WRITE_LBA, WRITE_BYTES / 512, got);
    free(pat);
    free(img);
    fprintf(t, "# QEMU's usbmon file keeps the first 256 bytes of each bulk transfer (DATA_LEN\n"
               "# in QEMU's hw/usb/pcap.c): the blocks above are whole in the .urgcap only\n");
    note("disk: %s of %lu blocks; blocks 0:128 and 16384:64 read equal to the image file, "
         "%u bytes written at block %u are in the image file and read back", sd, sectors,
         WRITE_BYTES, WRITE_LBA);
}

static void session_serial(FILE *t)
{
    char line[160], tty[32], md5[33], want_line[64];
    uint8_t *in = vm_pattern(TO_GUEST_SEQ, SERIAL_BYTES), *out = vm_pattern(FROM_GUEST_SEQ,
                                                                            SERIAL_BYTES);
    size_t want = SERIAL_BYTES, from;
    if (!in || !out)
        die("no memory");
    vm_do(&guest, "URG-TTY ", line, sizeof(line), "tty");
    if (sscanf(line, "URG-TTY %31s", tty) != 1 || !strcmp(tty, "none"))
        die("no ttyUSB: %s", line);
    fprintf(t, "device 0403:6001 FTDI FT232R (QEMU's usb-serial), full speed; Linux's ftdi_sio, "
               "%s raw 115200 8N1\n", tty);
    /* Here -> the chardev -> bulk IN -> ttyUSB0 (the VM compares). */
    from = vm_do(&guest, "URG-SERIAL-READY", NULL, 0, "serial-rx %s %u %u", tty, TO_GUEST_SEQ,
                 SERIAL_BYTES);
    if (write(ser.fd, in, SERIAL_BYTES) != (ssize_t)SERIAL_BYTES)
        die("the serial chardev: %s", strerror(errno));
    expect(&guest, "URG-SERIAL-RX ", &from, line, sizeof(line));
    snprintf(want_line, sizeof(want_line), "URG-SERIAL-RX ok %u ", SERIAL_BYTES);
    if (strncmp(line, want_line, strlen(want_line)))
        die("%s read: %s", tty, line);
    md5_hex(in, SERIAL_BYTES, md5);
    fprintf(t, "# to-guest BYTES MD5 SEQ: bytes into the chardev, read from the tty:\n"
               "# `seq -w SEQ 999999 | head -c BYTES`\n");
    fprintf(t, "to-guest %u %s %u\n", SERIAL_BYTES, md5, TO_GUEST_SEQ);
    /* ttyUSB0 -> bulk OUT -> the chardev -> here. */
    ser.rx_len = 0;
    vm_do(&guest, "URG-SERIAL-TX ", line, sizeof(line), "serial-tx %s %u %u", tty, FROM_GUEST_SEQ,
          SERIAL_BYTES);
    if (strncmp(line, "URG-SERIAL-TX rc=0 ", 19))
        die("%s write: %s", tty, line);
    if (!run_until(loop, ser_received, &want, WAIT) || ser.rx_len != SERIAL_BYTES ||
        memcmp(ser.rx, out, SERIAL_BYTES))
        die("the chardev got %zu bytes, not the %u written to %s", ser.rx_len, SERIAL_BYTES, tty);
    md5_hex(out, SERIAL_BYTES, md5);
    fprintf(t, "# from-guest BYTES MD5 SEQ: bytes written to the tty, read from the chardev\n");
    fprintf(t, "from-guest %u %s %u\n", SERIAL_BYTES, md5, FROM_GUEST_SEQ);
    free(in);
    free(out);
    note("serial: %u bytes each way between the chardev here and %s, byte-exact", SERIAL_BYTES,
         tty);
}

/* ---------------------------------------------------------------- main */

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        die("failed: %s", cmd);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int main(int argc, char **argv)
{
    static char devdir[600], gdir[600], chardev[NREC][128], redir[NREC][900];
    static const char *dargs[32], *gargs[2 * 2 * NREC + 1];
    const char *image = getenv("URG_REALHOST_IMAGE"), *base = getenv("URG_REALHOST_DIR");
    struct vm_config dc, gc;
    FILE *truth[NREC];
    double t0 = vm_now(), t1;
    char line[128];
    int n = 0, g = 0;

    tool = getenv("URG_TOOL");
    pcap_fins = getenv("URG_PCAP_FINS");
    if (argc != 2 || !image || !base || !tool || !pcap_fins) {
        fprintf(stderr, "usage: record_foreign OUT (with URG_REALHOST_IMAGE, URG_REALHOST_DIR, "
                        "URG_TOOL and URG_PCAP_FINS set; make fixtures-foreign sets them)\n");
        return 2;
    }
    out_dir = argv[1];
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    mkdir(base, 0755);
    snprintf(dir, sizeof(dir), "%s/foreign", base);
    snprintf(devdir, sizeof(devdir), "%s/device", dir);
    snprintf(gdir, sizeof(gdir), "%s/guest", dir);
    mkdir(dir, 0755);
    mkdir(devdir, 0755);
    mkdir(gdir, 0755);
    snprintf(disk_path, sizeof(disk_path), "%s/disk.img", dir);
    if (vm_make_image(disk_path, DISK_BYTES, DISK_SEED))
        die("cannot write %s", disk_path);
    loop = ev_loop_new(EVFLAG_AUTO);

    /* The device VM: usbredirect on the keyboard, the disk, the FTDI. */
    n = vm_common_devices(dargs, n, devdir, disk_path, "none,id=snd");
    dargs[n] = NULL;
    memset(&dc, 0, sizeof(dc));
    dc.image = image;
    dc.dir = devdir;
    for (int i = 0; i < NREC; i++)
        dc.serve[i] = rec[i].serve;
    dc.qemu_args = dargs;
    if (vm_start(&dev, loop, &dc, 120))
        die("the device VM did not boot");
    ser_connect(); /* QEMU plugs the FTDI in now */
    for (int i = 0; i < NREC; i++) {
        char want[64];
        size_t from = 0;
        snprintf(want, sizeof(want), "URG-SERVING %s 1", rec[i].serve);
        *strchr(want + 12, '/') = ' ';
        expect(&dev, want, &from, NULL, 0);
        snprintf(want, sizeof(want), "URG-LISTENING %d ", rec[i].port);
        vm_do(&dev, want, line, sizeof(line), "listening %d", rec[i].port);
        if (!strstr(line, " ok"))
            die("usbredirect does not listen: %s", line);
    }
    note("device VM booted in %.1f s (%s); usbredirect listens on 4000-4002", dev.boot_seconds,
         dev.kvm ? "kvm" : "tcg");

    /* tcpdump on each forwarded port, then the guest VM with usb-redir on
     * each: its QEMU connects once, as it starts. */
    for (int i = 0; i < NREC; i++) {
        char path[700];
        int port = atoi(strchr(vm_address(&dev, rec[i].port), ':') + 1);
        td_start(i, port);
        snprintf(path, sizeof(path), "%s/foreign-%s.usbmon.pcap", gdir, rec[i].name);
        unlink(path);
        snprintf(chardev[i], sizeof(chardev[i]), "socket,id=ur%d,host=127.0.0.1,port=%d", i,
                 port);
        snprintf(redir[i], sizeof(redir[i]), "usb-redir,chardev=ur%d,id=redir%d,bus=xhci.0,pcap=%s",
                 i, i, path);
        gargs[g++] = "-chardev";
        gargs[g++] = chardev[i];
        gargs[g++] = "-device";
        gargs[g++] = redir[i];
    }
    gargs[g] = NULL;
    memset(&gc, 0, sizeof(gc));
    gc.image = image;
    gc.dir = gdir;
    gc.role = "attach";
    gc.qemu_args = gargs;
    if (vm_start(&guest, loop, &gc, 120))
        die("the guest VM did not boot");
    note("guest VM booted in %.1f s (SeaBIOS and Linux enumerated the three devices)",
         guest.boot_seconds);

    t1 = vm_now();
    for (int i = 0; i < NREC; i++)
        truth[i] = truth_open(i);
    session_keyboard(truth[R_KBD]);
    session_disk(truth[R_DISK]);
    session_serial(truth[R_SERIAL]);
    note("the three sessions took %.1f s", vm_now() - t1);

    /* QEMU quits: usb-redir closes its connections and pcap files; each
     * capture is complete once it holds both FINs (tcpdump, stopped
     * before it read them, leaves the last packets out). */
    if (vm_quit(&guest, WAIT))
        die("the guest VM did not quit");
    for (int i = 0; i < NREC; i++) {
        run("'%s' '%s' 2 %d", pcap_fins, td[i].path, (int)WAIT);
        td_stop(i);
    }
    vm_stop(&dev);
    ev_loop_destroy(loop);

    for (int i = 0; i < NREC; i++) {
        char from[700], to[700];
        if (fclose(truth[i]))
            die("writing the truth of %s", rec[i].name);
        /* One connection (QEMU connected once, nothing reconnected), so
         * the import, which takes the first, has the whole session. */
        run("test \"$(tcpdump -r '%s' -nn 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' "
            "2> /dev/null | wc -l)\" = 1", td[i].path);
        run("'%s' import '%s' '%s/foreign-%s.urgcap'", tool, td[i].path, out_dir, rec[i].name);
        run("cp '%s/foreign-%s.usbmon.pcap' '%s/'", gdir, rec[i].name, out_dir);
        snprintf(from, sizeof(from), "%s/foreign-%s.truth.tmp", dir, rec[i].name);
        snprintf(to, sizeof(to), "%s/foreign-%s.truth", out_dir, rec[i].name);
        run("cp '%s' '%s'", from, to);
        snprintf(from, sizeof(from), "%s/foreign-%s.urgcap", out_dir, rec[i].name);
        snprintf(to, sizeof(to), "%s/foreign-%s.usbmon.pcap", out_dir, rec[i].name);
        note("%s: %s/foreign-%s.urgcap %ld bytes (tcpdump %ld), .usbmon.pcap %ld bytes",
             rec[i].name, out_dir, rec[i].name, file_size(from), file_size(td[i].path),
             file_size(to));
    }
    note("done in %.1f s", vm_now() - t0);
    return 0;
}

/*
 * test_realhost.c - the whole stack (transport, hcd-model, engine) and the
 * usbredir-guest command against the real usb-host: Debian's usbredirect
 * 0.13 in a QEMU VM (vm.h), exporting QEMU's emulated USB devices.
 *
 * Every check is against ground truth the test controls from outside the
 * usbredir session: keys and mouse movements injected through QEMU's
 * monitor, the disk image files behind the emulated storage, the serial
 * adapter's chardev socket.
 *
 * Environment (the Makefile's check-realhost sets them):
 *   URG_REALHOST_IMAGE     the image folder (tests/realhost/image.sh)
 *   URG_REALHOST_DIR       a work folder (disk images, sockets, logs)
 *   URG_TOOL               the usbredir-guest command
 *   URG_REALHOST_FIXTURES  if set, the recordings of real traffic are also
 *                          copied there (make fixtures-real)
 *   URG_WIRESHARK_LUA      the Wireshark dissector (tools/wireshark/), for
 *                          test_wireshark_live (with tshark and tcpdump)
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "evtest.h"
#include "sessions.h"
#include "urg_capture.h"
#include "urg_transport.h"
#include "vm.h"

/* Guest ports of the devices usbredirect serves. */
enum { P_KBD = 4000, P_MSC = 4001, P_SERIAL = 4002, P_AUDIO = 4003, P_UAS = 4004 };

#define DISK_BYTES (16u << 20)
#define UAS_BYTES (4u << 20)
#define WAIT 60.0 /* seconds: a bound on a hang, never a wait that synchronises */

static struct vm vm;
static struct ev_loop *loop;
static const char *dir, *tool;
static char disk_path[512], uas_path[512];
static double t_start;

static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("realhost: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

static char *path_in_dir(const char *name)
{
    static char paths[8][512];
    static int n;
    char *p = paths[n++ % 8];
    snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
    return p;
}

static int read_image(const char *path, uint64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? pread(fd, buf, len, (off_t)off) : -1;
    if (fd >= 0)
        close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

/* ---------------------------------------------------------------- devices */

/* A model device connected to a port of the VM, reconnecting (usbredirect
 * restarts between connections), attached within WAIT seconds. */
static struct tdev td;     /* the device of the test running */
static bool td_open;

static void open_dev(struct tdev *d, int port, const char *capture)
{
    tdev_init(d, loop, vm_address(&vm, port), 0, 1, capture);
    td_open = true;
    assert_true(run_until(loop, tdev_attached, d, WAIT));
}

/* Closing the connection ends that usbredirect, and the VM starts it
 * again for the next test. */
static void close_dev(struct tdev *d)
{
    tdev_free(d);
    td_open = false;
}

/* Counts each URB's completions in the int its user_data points to. */
static void count_completion(struct tdev *d, struct urg_urb *u)
{
    (void)d;
    if (u->user_data)
        ++*(int *)u->user_data;
}

static int control(struct tdev *d, uint8_t rt, uint8_t req, uint16_t value, uint16_t index,
                   void *buf, uint16_t len, uint32_t *actual)
{
    uint8_t setup[8] = { rt, req, (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)index,
                         (uint8_t)(index >> 8), (uint8_t)len, (uint8_t)(len >> 8) };
    return tdev_xfer(d, URG_EP_CONTROL, 0, setup, buf, len, actual);
}

struct counts {
    uint32_t n[2][URG_TYPE_COUNT]; /* per direction and type */
    int iso_status[4], niso;       /* iso_stream_status statuses */
    int streams_status;            /* the last bulk_streams_status */
};

static int count_packet(void *ctx, const struct urg_capture_packet *cp)
{
    struct counts *c = ctx;
    int t = urg_type_index(cp->p->type);
    if (t >= 0)
        c->n[cp->dir][t]++;
    if (cp->p->type == URG_ISO_STREAM_STATUS && c->niso < 4)
        c->iso_status[c->niso++] = cp->p->h.iso_stream_status.status;
    if (cp->p->type == URG_BULK_STREAMS_STATUS)
        c->streams_status = cp->p->h.bulk_streams_status.status;
    return 0;
}

static void count_capture(const char *path, struct counts *c)
{
    char err[256];
    memset(c, 0, sizeof(*c));
    if (urg_capture_decode(path, count_packet, c, err, sizeof(err)) != 0)
        fail_msg("%s: %s", path, err);
}

static uint32_t sent(const struct counts *c, uint32_t type)
{
    return c->n[URG_DIR_TO_HOST][urg_type_index(type)];
}

static uint32_t received(const struct counts *c, uint32_t type)
{
    return c->n[URG_DIR_TO_GUEST][urg_type_index(type)];
}

/* ---------------------------------------------------------------- setup */

static int group_setup(void **state)
{
    static char uas_arg[700];
    static const char *args[32];
    struct vm_config cfg;
    const char *image = getenv("URG_REALHOST_IMAGE");
    int n = 0;
    (void)state;
    dir = getenv("URG_REALHOST_DIR");
    tool = getenv("URG_TOOL");
    if (!image || !dir || !tool) {
        fprintf(stderr, "realhost: set URG_REALHOST_IMAGE, URG_REALHOST_DIR and URG_TOOL "
                        "(make check-realhost does)\n");
        return -1;
    }
    mkdir(dir, 0755);
    snprintf(disk_path, sizeof(disk_path), "%s/disk.img", dir);
    snprintf(uas_path, sizeof(uas_path), "%s/uas.img", dir);
    if (vm_make_image(disk_path, DISK_BYTES, 0x2545f491u) || vm_make_image(uas_path, UAS_BYTES, 0x9e3779b9u))
        return -1;
    snprintf(uas_arg, sizeof(uas_arg),
             "driver=raw,node-name=disk1,file.driver=file,file.filename=%s", uas_path);
    n = vm_common_devices(args, n, dir, disk_path, "none,id=snd");
    args[n++] = "-blockdev";
    args[n++] = uas_arg;
    args[n++] = "-device";
    args[n++] = "usb-uas,id=uas,bus=xhci.0";
    args[n++] = "-device";
    args[n++] = "scsi-hd,bus=uas.0,scsi-id=0,lun=0,drive=disk1";
    args[n] = NULL;

    memset(&cfg, 0, sizeof(cfg));
    cfg.image = image;
    cfg.dir = dir;
    cfg.serve[vm_serve_common(&cfg)] = "4004/46f4:0003";
    cfg.qemu_args = args;
    loop = ev_loop_new(EVFLAG_AUTO);
    t_start = vm_now();
    if (vm_start(&vm, loop, &cfg, 120))
        return -1;
    note("VM booted in %.1f s (%s); console log %s/serial.log", vm.boot_seconds,
         vm.kvm ? "kvm" : "tcg", dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    vm_stop(&vm);
    ev_loop_destroy(loop);
    note("the tier took %.1f s", vm_now() - t_start);
    return 0;
}

static double t_test;
static int test_setup(void **state)
{
    (void)state;
    t_test = vm_now();
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    if (td_open) /* the test failed half-way */
        close_dev(&td);
    note("  %.1f s", vm_now() - t_test);
    return 0;
}

/* ---------------------------------------------------------------- control */

static void test_control_requests(void **state)
{
    uint8_t desc[256], st[2];
    uint32_t got = 0;
    (void)state;
    open_dev(&td, P_KBD, NULL);

    /* Descriptors: the device, the whole configuration, the HID report
     * descriptor, a string. */
    assert_int_equal(control(&td, 0x80, 6, 0x0100, 0, desc, 18, &got), URG_URB_SUCCESS);
    assert_int_equal(got, 18);
    assert_int_equal(desc[1], 1);
    assert_int_equal(desc[8] | desc[9] << 8, 0x0627);
    assert_int_equal(desc[10] | desc[11] << 8, 0x0001);
    assert_int_equal(control(&td, 0x80, 6, 0x0200, 0, desc, 9, &got), URG_URB_SUCCESS);
    uint16_t total = (uint16_t)(desc[2] | desc[3] << 8);
    assert_true(total > 9 && total <= sizeof(desc));
    assert_int_equal(control(&td, 0x80, 6, 0x0200, 0, desc, total, &got), URG_URB_SUCCESS);
    assert_int_equal(got, total);
    /* QEMU's keyboard offers remote wakeup; the model clears it by
     * default (test_remote_wake_as_sent reads it as sent). */
    assert_int_equal(desc[7] & 0x20, 0);
    assert_int_equal(desc[7] & 0x80, 0x80);
    assert_int_equal(desc[9 + 1], 4);    /* an interface descriptor follows */
    assert_int_equal(desc[9 + 5], 3);    /* HID */
    assert_int_equal(control(&td, 0x81, 6, 0x2200, 0, desc, 255, &got), URG_URB_SHORT);
    assert_true(got > 16);
    assert_int_equal(desc[0], 0x05);     /* Usage Page (Generic Desktop) */
    assert_int_equal(control(&td, 0x80, 6, 0x0300, 0, desc, 255, &got), URG_URB_SHORT);
    assert_int_equal(got, 4);            /* the language ids: 0x0409 */
    assert_int_equal(desc[2] | desc[3] << 8, 0x0409);

    /* SET_CONFIGURATION and SET_INTERFACE become the protocol's own
     * requests; the model tracks the result. */
    assert_int_equal(control(&td, 0x00, 9, 1, 0, NULL, 0, &got), URG_URB_SUCCESS);
    assert_int_equal(urg_hcd_dev_info(td.dev)->configuration, 1);
    assert_int_equal(control(&td, 0x80, 8, 0, 0, desc, 1, &got), URG_URB_SUCCESS);
    assert_int_equal(desc[0], 1);
    assert_int_equal(control(&td, 0x01, 11, 0, 0, NULL, 0, &got), URG_URB_SUCCESS);
    assert_int_equal(control(&td, 0x81, 10, 0, 0, desc, 1, &got), URG_URB_SUCCESS);
    assert_int_equal(desc[0], 0);

    /* GET_STATUS of the device. */
    assert_int_equal(control(&td, 0x80, 0, 0, 0, st, 2, &got), URG_URB_SUCCESS);
    assert_int_equal(got, 2);

    /* A request the device does not know stalls, and endpoint 0 works on. */
    assert_int_equal(control(&td, 0xc0, 0x42, 0, 0, desc, 4, &got), URG_URB_STALL);
    assert_int_equal(control(&td, 0x80, 0, 0, 0, st, 2, &got), URG_URB_SUCCESS);
    close_dev(&td);
}

/* ---------------------------------------------------------------- HID */

/* The host answered start_interrupt_receiving. */
static bool receiving(void *p)
{
    struct urg_stats st;
    urg_session_stats(urg_hcd_dev_session(((struct tdev *)p)->dev), &st);
    return st.rx_packets[urg_type_index(URG_INTERRUPT_RECEIVING_STATUS)] > 0;
}


struct reports {
    struct tdev *d;
    struct urg_urb *u;
    uint8_t buf[8];
    uint8_t got[16][8];
    int len[16];
    int n;
    int want;
};

static void on_report(struct tdev *d, struct urg_urb *u)
{
    struct reports *r = u->user_data;
    if (!r || u != r->u)
        return;
    if (u->status == URG_URB_SUCCESS || u->status == URG_URB_SHORT) {
        if (r->n < 16) {
            memcpy(r->got[r->n], u->buffer, u->actual_length);
            r->len[r->n] = (int)u->actual_length;
        }
        r->n++;
        if (r->n < r->want)
            urg_hcd_submit(d->dev, u); /* the next report */
    }
}

static bool reports_in(void *p)
{
    struct reports *r = p;
    return r->n >= r->want;
}

/* Starts reading reports of len bytes from interrupt endpoint 0x81. */
static void reports_start(struct reports *r, struct tdev *d, uint32_t len, int want)
{
    memset(r, 0, sizeof(*r));
    r->d = d;
    r->want = want;
    r->u = urg_urb_alloc(0);
    r->u->type = URG_EP_INTERRUPT;
    r->u->endpoint = 0x81;
    r->u->buffer = r->buf;
    r->u->length = len;
    r->u->user_data = r;
    d->on_complete = on_report;
    assert_int_equal(urg_hcd_submit(d->dev, r->u), 0);
}

static void hmp(const char *cmd)
{
    char out[1024];
    assert_int_equal(vm_hmp(&vm, cmd, out, sizeof(out)), 0);
    if (strstr(out, "rror"))
        fail_msg("the monitor answered \"%s\" with: %s", cmd, out);
}

/* The configuration descriptor as the keyboard sends it (the model's
 * suppress_remote_wake off), and through the VMM's descriptor hook. */
static uint32_t hook_calls;
static uint32_t bcd_device_hook(void *ud, urg_hcd_dev *dev, const uint8_t setup[8],
                                    uint8_t *data, uint32_t length, uint32_t max)
{
    (void)ud;
    (void)dev;
    (void)max;
    hook_calls++;
    if (setup[3] == 1 && length >= 18) /* the device descriptor: a new bcdDevice */
        data[12] = 0x42, data[13] = 0x00;
    return length;
}

static void test_remote_wake_as_sent(void **state)
{
    struct urg_hcd_config cfg;
    uint8_t desc[64];
    uint32_t got = 0;
    (void)state;
    urg_hcd_config_init(&cfg);
    cfg.suppress_remote_wake = 0;
    cfg.descriptor = bcd_device_hook;
    hook_calls = 0;
    tdev_init_model(&td, loop, vm_address(&vm, P_KBD), 1, &cfg);
    td_open = true;
    assert_true(run_until(loop, tdev_attached, &td, WAIT));
    assert_int_equal(control(&td, 0x80, 6, 0x0200, 0, desc, 9, &got), URG_URB_SUCCESS);
    assert_int_equal(got, 9);
    assert_int_equal(desc[7] & 0xa0, 0xa0); /* bus powered, remote wakeup */
    assert_int_equal(control(&td, 0x80, 6, 0x0100, 0, desc, 18, &got), URG_URB_SUCCESS);
    assert_int_equal(desc[12] | desc[13] << 8, 0x0042);
    assert_int_equal(hook_calls, 2);
    close_dev(&td);
}

static void test_keyboard_reports(void **state)
{
    static const uint8_t want[8][8] = {
        { 0, 0, 0x0b }, { 0 },           /* h down, up */
        { 0, 0, 0x0c }, { 0 },           /* i down, up */
        { 0x02 }, { 0x02, 0, 0x06 },     /* shift down, c down */
        { 0x02 }, { 0 },                 /* c up, shift up */
    };
    struct reports r;
    (void)state;
    open_dev(&td, P_KBD, NULL);
    assert_int_equal(control(&td, 0x21, 0x0a, 0, 0, NULL, 0, NULL), URG_URB_SUCCESS); /* SET_IDLE(0) */
    reports_start(&r, &td, 8, 8);
    assert_true(run_until(loop, receiving, &td, WAIT));
    hmp("sendkey h");
    hmp("sendkey i");
    hmp("sendkey shift-c");
    assert_true(run_until(loop, reports_in, &r, WAIT));
    for (int i = 0; i < 8; i++) {
        assert_int_equal(r.len[i], 8);
        assert_memory_equal(r.got[i], want[i], 8);
    }
    /* Nothing else came in between: the next report is the next key. */
    r.want = 9;
    assert_int_equal(urg_hcd_submit(td.dev, r.u), 0);
    hmp("sendkey z");
    assert_true(run_until(loop, reports_in, &r, WAIT));
    assert_int_equal(r.got[8][2], 0x1d); /* z */
    close_dev(&td);
    urg_urb_free(r.u);
}

/* ---------------------------------------------------------------- storage */

static const uint8_t inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };

static void read10(uint8_t *cdb, uint32_t lba, uint16_t blocks, int write)
{
    memset(cdb, 0, 10);
    cdb[0] = write ? 0x2a : 0x28;
    cdb[2] = (uint8_t)(lba >> 24);
    cdb[3] = (uint8_t)(lba >> 16);
    cdb[4] = (uint8_t)(lba >> 8);
    cdb[5] = (uint8_t)lba;
    cdb[7] = (uint8_t)(blocks >> 8);
    cdb[8] = (uint8_t)blocks;
}

static void check_inquiry(struct tdev *d)
{
    uint8_t buf[36];
    assert_int_equal(tdev_scsi(d, inquiry, 6, buf, 36, 1), 0);
    assert_memory_equal(buf + 8, "QEMU    QEMU HARDDISK   ", 24);
}

static void test_msc_read_write(void **state)
{
    static const uint8_t capacity[10] = { 0x25 };
    const uint32_t chunk = 1u << 20, total = 8u << 20;
    uint8_t cap[8], cdb[10], *buf = malloc(chunk), *want = malloc(chunk);
    double t0, secs;
    (void)state;
    open_dev(&td, P_MSC, NULL);
    check_inquiry(&td);
    assert_int_equal(tdev_scsi(&td, capacity, 10, cap, 8, 1), 0);
    assert_int_equal((uint32_t)(cap[0] << 24 | cap[1] << 16 | cap[2] << 8 | cap[3]),
                     DISK_BYTES / 512 - 1);
    assert_int_equal(cap[4] << 24 | cap[5] << 16 | cap[6] << 8 | cap[7], 512);

    /* 8 MiB in 1 MiB commands, each compared with the image file. */
    t0 = vm_now();
    for (uint32_t off = 0; off < total; off += chunk) {
        read10(cdb, off / 512, (uint16_t)(chunk / 512), 0);
        assert_int_equal(tdev_scsi(&td, cdb, 10, buf, chunk, 1), 0);
        assert_int_equal(read_image(disk_path, off, want, chunk), 0);
        assert_memory_equal(buf, want, chunk);
    }
    secs = vm_now() - t0;
    note("  read %u MiB in 1 MiB READ(10)s, equal to the image file: %.1f MB/s", total >> 20,
         total / secs / 1e6);

    /* A pattern written lands in the image file on this machine. */
    for (uint32_t i = 0; i < 64 * 512; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    read10(cdb, 20000, 64, 1);
    assert_int_equal(tdev_scsi(&td, cdb, 10, buf, 64 * 512, 0), 0);
    assert_int_equal(read_image(disk_path, 20000ull * 512, want, 64 * 512), 0);
    assert_memory_equal(want, buf, 64 * 512);
    read10(cdb, 20000, 64, 0);
    memset(want, 0, 64 * 512);
    assert_int_equal(tdev_scsi(&td, cdb, 10, want, 64 * 512, 1), 0);
    assert_memory_equal(want, buf, 64 * 512);
    close_dev(&td);
    free(buf);
    free(want);
}

static bool bulk_reply_in(void *p)
{
    struct tdev *d = p;
    struct urg_stats st;
    urg_session_stats(urg_hcd_dev_session(d->dev), &st);
    return st.rx_packets[urg_type_index(URG_BULK_PACKET)] > (uint64_t)d->last_err;
}

static bool request_out(void *p)
{
    struct tdev *d = p;
    struct urg_transport_stats st;
    urg_transport_stats(d->t, &st);
    return st.bytes_out > (uint64_t)d->last_err;
}

/* QEMU's SuperSpeed disk on a USB 2 port (no SuperSpeed in port_speeds):
 * shown at high speed, its bMaxPacketSize0 (9 at SuperSpeed) given as 64,
 * and it works there. On an xHCI SuperSpeed port it stays 9. */
static void test_msc_super_speed_on_a_usb2_port(void **state)
{
    static const uint8_t capacity[10] = { 0x25 };
    struct urg_hcd_config cfg;
    uint8_t desc[18], cap[8], cdb[10], *buf = malloc(65536), *want = malloc(65536);
    uint32_t got = 0;
    (void)state;
    open_dev(&td, P_MSC, NULL);
    assert_int_equal(urg_hcd_dev_info(td.dev)->speed, URG_SPEED_SUPER);
    assert_int_equal(control(&td, 0x80, 6, 0x0100, 0, desc, 18, &got), URG_URB_SUCCESS);
    assert_int_equal(desc[7], 9);
    close_dev(&td);

    urg_hcd_config_init(&cfg);
    cfg.port_speeds = URG_SPEED_MASK_ALL & ~URG_SPEED_MASK(URG_SPEED_SUPER);
    tdev_init_model(&td, loop, vm_address(&vm, P_MSC), 1, &cfg);
    td_open = true;
    assert_true(run_until(loop, tdev_attached, &td, WAIT));
    assert_int_equal(urg_hcd_dev_info(td.dev)->speed, URG_SPEED_HIGH);
    assert_int_equal(urg_hcd_dev_info(td.dev)->usb.speed, URG_SPEED_SUPER);
    assert_int_equal(control(&td, 0x80, 6, 0x0100, 0, desc, 18, &got), URG_URB_SUCCESS);
    assert_int_equal(got, 18);
    assert_int_equal(desc[7], 64);
    check_inquiry(&td);
    assert_int_equal(tdev_scsi(&td, capacity, 10, cap, 8, 1), 0);
    assert_int_equal(cap[4] << 24 | cap[5] << 16 | cap[6] << 8 | cap[7], 512);
    read10(cdb, 0, 128, 0);
    assert_int_equal(tdev_scsi(&td, cdb, 10, buf, 65536, 1), 0);
    assert_int_equal(read_image(disk_path, 0, want, 65536), 0);
    assert_memory_equal(buf, want, 65536);
    close_dev(&td);
    free(buf);
    free(want);
}

/* 1 MiB in 64 KiB READ(10)s into URBs given as 4 KiB pages, the first
 * starting 1000 bytes into its page (a guest's TD over scattered pages),
 * read straight from the socket into them: equal to the image file; then
 * 64 KiB written from such pages lands in it. */
static void test_msc_read_into_segments(void **state)
{
    enum { LEN = 65536, PAGE = 4096, FIRST = 1000, PAGES = (LEN - (PAGE - FIRST)) / PAGE + 2 };
    uint8_t *pages = malloc((size_t)PAGES * 2 * PAGE), *want = malloc(LEN), *got = malloc(LEN);
    struct iovec v[PAGES];
    uint32_t left = LEN, at = 0;
    uint8_t cdb[10];
    struct urg_transport_stats st0, st1;
    int n = 0;
    (void)state;
    /* Pages two apart, the gaps between them filled with 0x5a. */
    memset(pages, 0x5a, (size_t)PAGES * 2 * PAGE);
    while (left) {
        uint32_t off = n == 0 ? FIRST : 0, k = PAGE - off < left ? PAGE - off : left;
        v[n].iov_base = pages + (size_t)n * 2 * PAGE + off;
        v[n].iov_len = k;
        left -= k;
        n++;
    }
    open_dev(&td, P_MSC, NULL);
    check_inquiry(&td);
    urg_transport_stats(td.t, &st0);
    for (uint32_t off = 0; off < (1u << 20); off += LEN) {
        read10(cdb, off / 512, LEN / 512, 0);
        assert_int_equal(tdev_scsi_iov(&td, cdb, 10, v, n, LEN, 1), 0);
        assert_int_equal(read_image(disk_path, off, want, LEN), 0);
        at = 0;
        for (int k = 0; k < n; k++) {
            memcpy(got + at, v[k].iov_base, v[k].iov_len);
            at += (uint32_t)v[k].iov_len;
        }
        assert_memory_equal(got, want, LEN);
    }
    urg_transport_stats(td.t, &st1);
    /* Most of it went straight from the socket into the pages. */
    note("  1 MiB read into %d segments per 64 KiB: %llu bytes straight into them", n,
         (unsigned long long)(st1.direct_bytes - st0.direct_bytes));
    assert_true(st1.direct_bytes - st0.direct_bytes >= (1u << 20) / 2);
    for (int k = 0; k < n; k++) { /* nothing outside the pages */
        const uint8_t *gap = (const uint8_t *)v[k].iov_base + v[k].iov_len;
        for (int b = 0; b < PAGE; b++)
            assert_int_equal(gap[b], 0x5a);
    }
    /* Written from the pages. */
    for (uint32_t i = 0; i < LEN; i++)
        want[i] = (uint8_t)(i * 13 + 5);
    at = 0;
    for (int k = 0; k < n; k++) {
        memcpy(v[k].iov_base, want + at, v[k].iov_len);
        at += (uint32_t)v[k].iov_len;
    }
    read10(cdb, 30000, LEN / 512, 1);
    assert_int_equal(tdev_scsi_iov(&td, cdb, 10, v, n, LEN, 0), 0);
    assert_int_equal(read_image(disk_path, 30000ull * 512, got, LEN), 0);
    assert_memory_equal(got, want, LEN);
    close_dev(&td);
    free(pages);
    free(want);
    free(got);
}

static void test_msc_cancel_in_flight(void **state)
{
    const uint32_t len = 4u << 20;
    uint8_t cbw[31], *buf = malloc(len), cdb[10], blk[512], want[512];
    struct urg_transport_stats ts;
    struct urg_stats st;
    struct urg_urb *u = urg_urb_alloc(0);
    int count = 0;
    uint32_t got;
    (void)state;
    open_dev(&td, P_MSC, NULL);
    td.on_complete = count_completion;
    check_inquiry(&td);

    /* READ(10) of 4 MiB: the CBW, then the data URB, cancelled in flight. */
    read10(cdb, 0, (uint16_t)(len / 512), 0);
    bot_cbw(cbw, 0x77, cdb, 10, len, 1);
    assert_int_equal(tdev_xfer(&td, URG_EP_BULK, 0x02, NULL, cbw, 31, &got), URG_URB_SUCCESS);
    u->type = URG_EP_BULK;
    u->endpoint = 0x81;
    u->buffer = buf;
    u->length = len;
    u->user_data = &count;
    urg_transport_stats(td.t, &ts);
    urg_session_stats(urg_hcd_dev_session(td.dev), &st);
    assert_int_equal(urg_hcd_submit(td.dev, u), 0);
    td.last_err = (int)ts.bytes_out; /* run until the request is on the wire */
    assert_true(run_until(loop, request_out, &td, WAIT));
    assert_int_equal(urg_hcd_cancel(td.dev, u), 0);
    assert_int_equal(count, 1);
    assert_int_equal(u->status, URG_URB_CANCELLED);
    /* The host answers the cancelled request; the answer is dropped. */
    td.last_err = (int)st.rx_packets[urg_type_index(URG_BULK_PACKET)];
    assert_true(run_until(loop, bulk_reply_in, &td, WAIT));
    urg_session_stats(urg_hcd_dev_session(td.dev), &st);
    assert_int_equal(st.tx_packets[urg_type_index(URG_CANCEL_DATA_PACKET)], 1);
    assert_int_equal(count, 1);
    note("  cancelled a 4 MiB read in flight: completed once, cancelled");

    /* Reset recovery (Bulk-Only Mass Storage Reset, clear both halts), and
     * the device reads correctly again. */
    assert_int_equal(control(&td, 0x21, 0xff, 0, 0, NULL, 0, &got), URG_URB_SUCCESS);
    assert_int_equal(control(&td, 0x02, 1, 0, 0x81, NULL, 0, &got), URG_URB_SUCCESS);
    assert_int_equal(control(&td, 0x02, 1, 0, 0x02, NULL, 0, &got), URG_URB_SUCCESS);
    read10(cdb, 5, 1, 0);
    assert_int_equal(tdev_scsi(&td, cdb, 10, blk, 512, 1), 0);
    assert_int_equal(read_image(disk_path, 5 * 512, want, 512), 0);
    assert_memory_equal(blk, want, 512);
    assert_int_equal(count, 1);
    close_dev(&td);
    urg_urb_free(u);
    free(buf);
}

static void test_host_crash_and_restart(void **state)
{
    size_t from = vm.log_len;
    (void)state;
    open_dev(&td, P_MSC, NULL);
    check_inquiry(&td);
    assert_int_equal(vm_console(&vm, "crash 4001"), 0);
    assert_true(vm_wait(&vm, "URG-KILLED 4001", &from, WAIT));
    assert_true(run_until(loop, tdev_detached, &td, WAIT));
    /* The transport reconnects on its own; usbredirect is back. */
    assert_true(run_until(loop, tdev_attached, &td, WAIT));
    assert_int_equal(td.attached, 2);
    assert_true(td.events[URG_TEV_DISCONNECTED] >= 1);
    assert_true(td.events[URG_TEV_CONNECTED] >= 2);
    check_inquiry(&td);
    close_dev(&td);
}

static bool acked(void *p)
{
    struct urg_stats st;
    urg_session_stats(urg_hcd_dev_session(((struct tdev *)p)->dev), &st);
    return st.tx_packets[urg_type_index(URG_DEVICE_DISCONNECT_ACK)] > 0;
}

static void test_hot_unplug_and_replug(void **state)
{
    char *cap = path_in_dir("unplug.urgcap");
    uint8_t b1[8], b2[8], desc[18];
    struct urg_urb *u1 = urg_urb_alloc(0), *u2 = urg_urb_alloc(0);
    struct counts c;
    int n1 = 0, n2 = 0;
    uint32_t got;
    (void)state;
    open_dev(&td, P_KBD, cap);
    td.on_complete = count_completion;
    /* Two interrupt IN URBs: interrupt receiving starts at the host, which
     * keeps a transfer pending on the device; no key is pressed. */
    u1->type = u2->type = URG_EP_INTERRUPT;
    u1->endpoint = u2->endpoint = 0x81;
    u1->buffer = b1;
    u2->buffer = b2;
    u1->length = u2->length = 8;
    u1->user_data = &n1;
    u2->user_data = &n2;
    assert_int_equal(urg_hcd_submit(td.dev, u1), 0);
    assert_int_equal(urg_hcd_submit(td.dev, u2), 0);
    assert_true(run_until(loop, receiving, &td, WAIT));
    hmp("device_del kbd");
    assert_true(run_until(loop, tdev_detached, &td, WAIT));
    assert_int_equal(n1, 1);
    assert_int_equal(n2, 1);
    assert_int_equal(u1->status, URG_URB_NODEV);
    assert_int_equal(u2->status, URG_URB_NODEV);
    assert_true(run_until(loop, acked, &td, WAIT));
    note("  unplugged: both pending URBs completed once (nodev), device_disconnect_ack sent; "
         "the connection %s", td.events[URG_TEV_DISCONNECTED] ? "dropped" : "stayed up");
    /* Plugged in again. usbredirect keeps its connection (with no device)
     * and serves the new device on the next one: reconnect. */
    hmp("device_add usb-kbd,id=kbd,bus=xhci.0");
    close_dev(&td);
    open_dev(&td, P_KBD, NULL);
    assert_int_equal(control(&td, 0x80, 6, 0x0100, 0, desc, 18, &got), URG_URB_SUCCESS);
    assert_int_equal(desc[8] | desc[9] << 8, 0x0627);
    close_dev(&td);
    assert_int_equal(n1, 1);
    assert_int_equal(n2, 1);
    count_capture(cap, &c);
    assert_int_equal(received(&c, URG_DEVICE_DISCONNECT), 1);
    assert_int_equal(sent(&c, URG_DEVICE_DISCONNECT_ACK), 1);
    urg_urb_free(u1);
    urg_urb_free(u2);
}

/* ---------------------------------------------------------------- serial */

struct serial_rx {
    struct urg_urb *u;
    uint8_t buf[512];
    char text[256];
    size_t len, want;
};

/* FTDI: every 64-byte packet starts with two status bytes. */
static void on_serial(struct tdev *d, struct urg_urb *u)
{
    struct serial_rx *r = u->user_data;
    if (!r || u != r->u || (u->status != URG_URB_SUCCESS && u->status != URG_URB_SHORT))
        return;
    for (uint32_t p = 0; p < u->actual_length; p += 64)
        for (uint32_t i = p + 2; i < u->actual_length && i < p + 64; i++)
            if (r->len < sizeof(r->text) - 1)
                r->text[r->len++] = (char)u->buffer[i];
    if (r->len < r->want)
        urg_hcd_submit(d->dev, u);
}

static bool serial_in(void *p)
{
    struct serial_rx *r = p;
    return r->len >= r->want;
}

static void test_serial_ftdi(void **state)
{
    static const char down[] = "from the chardev to the guest\n";
    static const char up[] = "from the guest to the chardev\n";
    char *cap = path_in_dir("serial.urgcap"), got[64];
    struct sockaddr_un a;
    struct serial_rx r;
    struct urg_hcd_ep_stats es;
    struct counts c;
    size_t n = 0;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    (void)state;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/serial.sock", dir);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    open_dev(&td, P_SERIAL, cap);
    assert_int_equal(urg_hcd_dev_info(td.dev)->usb.vendor_id, 0x0403);

    /* Bytes written into the chardev arrive through buffered bulk
     * receiving. */
    memset(&r, 0, sizeof(r));
    r.want = strlen(down);
    r.u = urg_urb_alloc(0);
    r.u->type = URG_EP_BULK;
    r.u->endpoint = 0x81;
    r.u->buffer = r.buf;
    r.u->length = sizeof(r.buf);
    r.u->user_data = &r;
    td.on_complete = on_serial;
    assert_int_equal(urg_hcd_submit(td.dev, r.u), 0);
    assert_int_equal(write(fd, down, strlen(down)), (ssize_t)strlen(down));
    assert_true(run_until(loop, serial_in, &r, WAIT));
    assert_int_equal(r.len, strlen(down));
    assert_memory_equal(r.text, down, strlen(down));
    assert_int_equal(urg_hcd_ep_stats(td.dev, 0x81, &es), 0);
    assert_true(es.packets > 0);

    /* Bytes sent on bulk OUT arrive at the chardev. */
    assert_int_equal(tdev_xfer(&td, URG_EP_BULK, 0x02, NULL, (void *)up, (uint32_t)strlen(up), NULL),
                     URG_URB_SUCCESS);
    while (n < strlen(up)) {
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t k;
        assert_int_equal(poll(&p, 1, (int)(WAIT * 1000)), 1);
        k = read(fd, got + n, sizeof(got) - n);
        assert_true(k > 0);
        n += (size_t)k;
    }
    assert_int_equal(n, strlen(up));
    assert_memory_equal(got, up, n);
    close_dev(&td);
    close(fd);
    urg_urb_free(r.u);
    count_capture(cap, &c);
    assert_true(sent(&c, URG_START_BULK_RECEIVING) >= 1);
    assert_true(received(&c, URG_BUFFERED_BULK_PACKET) >= 1);
    assert_int_equal(received(&c, URG_BULK_PACKET), 1); /* the OUT's answer only */
    note("  %llu buffered bulk packets, %llu bytes (status bytes included)",
         (unsigned long long)es.packets, (unsigned long long)es.bytes);
}

/* 64 KiB each way through QEMU's FTDI at once: the chardev socket here,
 * bulk IN and OUT URBs through the model. Each direction is a numbered
 * pattern (a byte out of place, lost or doubled shows).
 *
 * The first SERIAL_SHAPED bytes to the guest go into the socket in pieces
 * of 124 and 100 bytes, the next when the host's last read has reached
 * the model (a chunk came): QEMU's FTDI sends a piece of 124 as 2 full
 * packets, one of 100 as a full packet and a short one. Meanwhile an IN
 * URB goes out again only when SERIAL_GATE chunks wait, so that a URB
 * meets several chunks: it takes chunks of full packets on and ends at a
 * short packet (a URB taking the chunks as plain bytes would put a status
 * pair off the max-packet boundaries). The rest goes as fast as the
 * socket takes it, read by URBs that wait for data, as a guest's do. */
#define SERIAL_BYTES (64u * 1024u)
#define SERIAL_SHAPED (16u * 1024u)
#define SERIAL_GATE 4
#define SERIAL_URBS 2      /* each way, as ftdi_sio keeps two reads out */
#define SERIAL_URB 4096    /* bytes of a URB, a multiple of 64 */

static uint8_t down_byte(size_t i) { return (uint8_t)(i * 13 + i / 251); }
static uint8_t up_byte(size_t i) { return (uint8_t)(i * 7 + 3 + i / 253); }

struct serial_io {
    struct tdev *d;
    int fd;
    ev_io w;
    ev_prepare shape;
    uint16_t mps;
    size_t written, down, up_sent, up;  /* into the socket, out of bulk IN,
                                           onto bulk OUT, out of the socket */
    size_t piece_end;                   /* the shaped piece being written */
    uint64_t chunks_seen;               /* chunks when it was begun */
    int pieces;
    uint8_t *down_got, *up_got;
    struct urg_urb *in[SERIAL_URBS], *out[SERIAL_URBS];
    bool in_idle[SERIAL_URBS];          /* held back until chunks queue */
    uint8_t inbuf[SERIAL_URBS][SERIAL_URB], outbuf[SERIAL_URBS][SERIAL_URB];
    uint32_t in_urbs, out_urbs, blocks, bad_status, most_blocks;
    uint32_t most_chunks;               /* chunks one URB took, at most */
    int failed;                         /* a URB that did not succeed */
};

/* An IN URB's blocks, as Linux's ftdi_sio reads them: 2 status bytes
 * (QEMU's: the modem lines | 1, then 0) at every max-packet boundary. */
static void serial_in_done(struct serial_io *io, struct urg_urb *u)
{
    uint32_t blocks = 0;
    io->in_urbs++;
    for (uint32_t p = 0; p < u->actual_length; p += io->mps) {
        uint32_t n = u->actual_length - p < io->mps ? u->actual_length - p : io->mps;
        blocks++;
        if (n < 2 || (u->buffer[p] & 0x0f) != 0x01 || u->buffer[p + 1] != 0) {
            io->bad_status++;
            continue;
        }
        n -= 2;
        if (io->down + n > SERIAL_BYTES)
            n = (uint32_t)(SERIAL_BYTES - io->down);
        memcpy(io->down_got + io->down, u->buffer + p + 2, n);
        io->down += n;
    }
    io->blocks += blocks;
    if (blocks > io->most_blocks)
        io->most_blocks = blocks;
}

static uint64_t serial_chunks(struct serial_io *io, uint32_t *queued)
{
    struct urg_hcd_ep_stats es;
    memset(&es, 0, sizeof(es));
    urg_hcd_ep_stats(io->d->dev, 0x81, &es);
    if (queued)
        *queued = es.queued;
    return es.packets;
}

/* Submits u (IN, or OUT with its next piece) while there is work; a URB
 * that completes at once is taken here, and the chunks it took from the
 * queue counted (those it emptied). */
static void serial_submit(struct serial_io *io, struct urg_urb *u)
{
    bool in = (u->endpoint & 0x80) != 0;
    for (;;) {
        uint32_t before = 0, after = 0;
        int r;
        if (in && io->down >= SERIAL_BYTES)
            return;
        if (!in) {
            uint32_t n = SERIAL_BYTES - io->up_sent < SERIAL_URB
                             ? (uint32_t)(SERIAL_BYTES - io->up_sent)
                             : SERIAL_URB;
            if (!n)
                return;
            for (uint32_t i = 0; i < n; i++)
                u->buffer[i] = up_byte(io->up_sent + i);
            u->length = n;
            io->up_sent += n;
        }
        serial_chunks(io, &before);
        r = urg_hcd_submit(io->d->dev, u);
        if (r == 0)
            return;
        serial_chunks(io, &after);
        if (in && before > after && before - after > io->most_chunks)
            io->most_chunks = before - after;
        if (r < 0 || (u->status != URG_URB_SUCCESS && u->status != URG_URB_SHORT)) {
            io->failed++;
            return;
        }
        if (in)
            serial_in_done(io, u);
        else
            io->out_urbs++;
        if (in && io->down < SERIAL_SHAPED)
            return; /* the caller holds it back */
    }
}

static struct serial_io *serial_io_now;

static void hold_back(struct serial_io *io, struct urg_urb *u)
{
    for (int i = 0; i < SERIAL_URBS; i++)
        if (io->in[i] == u && io->down < SERIAL_SHAPED && io->down < SERIAL_BYTES)
            io->in_idle[i] = true;
}

static void on_serial_io(struct tdev *d, struct urg_urb *u)
{
    struct serial_io *io = serial_io_now;
    (void)d;
    if (!io || u->user_data != io)
        return;
    if (u->status != URG_URB_SUCCESS && u->status != URG_URB_SHORT) {
        if (u->status != URG_URB_NODEV && u->status != URG_URB_CANCELLED)
            io->failed++;
        return;
    }
    if (u->endpoint & 0x80) {
        serial_in_done(io, u);
        if (io->down < SERIAL_SHAPED) {
            hold_back(io, u);
            return;
        }
    } else {
        io->out_urbs++;
    }
    serial_submit(io, u);
}

/* Before the loop waits for events, while shaping: the next piece once a chunk
 * came since the last began; an IN URB held back goes out once
 * SERIAL_GATE chunks wait (it completes at once, with all it holds). */
static void serial_shape(struct ev_loop *l, ev_prepare *w, int revents)
{
    struct serial_io *io = w->data;
    uint32_t queued;
    uint64_t chunks = serial_chunks(io, &queued);
    (void)revents;
    if (io->written < SERIAL_SHAPED) {
        if (io->written == io->piece_end && (io->pieces == 0 || chunks > io->chunks_seen)) {
            io->piece_end += io->pieces++ % 3 == 2 ? 100 : 124;
            if (io->piece_end > SERIAL_SHAPED)
                io->piece_end = SERIAL_SHAPED;
            io->chunks_seen = chunks;
        }
        if (io->written < io->piece_end) {
            uint8_t buf[128];
            size_t n = io->piece_end - io->written;
            ssize_t k;
            for (size_t i = 0; i < n; i++)
                buf[i] = down_byte(io->written + i);
            k = write(io->fd, buf, n);
            if (k > 0)
                io->written += (size_t)k;
        }
        if (io->written >= SERIAL_SHAPED) {
            /* The rest as fast as the socket takes it. */
            ev_io_stop(l, &io->w);
            ev_io_set(&io->w, io->fd, EV_READ | EV_WRITE);
            ev_io_start(l, &io->w);
        }
    }
    for (int i = 0; i < SERIAL_URBS; i++) {
        if (!io->in_idle[i])
            continue;
        if (io->down < SERIAL_SHAPED && queued < SERIAL_GATE)
            return;
        io->in_idle[i] = false;
        serial_submit(io, io->in[i]);
        hold_back(io, io->in[i]);
        serial_chunks(io, &queued);
    }
}

/* The socket: the up bytes out of it; past the shaped part, the down
 * pattern into it while it takes bytes. */
static void on_serial_sock(struct ev_loop *l, ev_io *w, int revents)
{
    struct serial_io *io = w->data;
    if (revents & EV_READ) {
        uint8_t buf[4096];
        ssize_t k = read(io->fd, buf, sizeof(buf));
        if (k > 0) {
            size_t n = io->up + (size_t)k > SERIAL_BYTES ? SERIAL_BYTES - io->up : (size_t)k;
            memcpy(io->up_got + io->up, buf, n);
            io->up += (size_t)k; /* more than was sent shows as a failure */
        }
    }
    if ((revents & EV_WRITE) && io->written < SERIAL_BYTES) {
        uint8_t buf[4096];
        size_t n = SERIAL_BYTES - io->written < sizeof(buf) ? SERIAL_BYTES - io->written
                                                             : sizeof(buf);
        ssize_t k;
        for (size_t i = 0; i < n; i++)
            buf[i] = down_byte(io->written + i);
        k = write(io->fd, buf, n);
        if (k > 0)
            io->written += (size_t)k;
    }
    if (io->written >= SERIAL_BYTES && (w->events & EV_WRITE)) {
        ev_io_stop(l, w);
        ev_io_set(w, io->fd, EV_READ);
        ev_io_start(l, w);
    }
}

static bool serial_both_ways(void *p)
{
    struct serial_io *io = p;
    return io->failed || io->bad_status ||
           (io->down >= SERIAL_BYTES && io->up >= SERIAL_BYTES &&
                          io->out_urbs * (size_t)SERIAL_URB >= SERIAL_BYTES);
}

static void test_serial_ftdi_64k_each_way(void **state)
{
    static struct serial_io io;
    struct sockaddr_un a;
    struct urg_hcd_ep_stats es;
    double t0, secs;
    size_t bad_down = SERIAL_BYTES, bad_up = SERIAL_BYTES;
    bool through;
    (void)state;
    memset(&io, 0, sizeof(io));
    io.d = &td;
    io.fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/serial.sock", dir);
    assert_int_equal(connect(io.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(fcntl(io.fd, F_SETFL, fcntl(io.fd, F_GETFL) | O_NONBLOCK), 0);
    io.down_got = malloc(SERIAL_BYTES);
    io.up_got = malloc(SERIAL_BYTES);
    open_dev(&td, P_SERIAL, NULL);
    io.mps = urg_hcd_dev_info(td.dev)->usb.ep[urg_ep_index(0x81)].max_packet_size;
    assert_int_equal(io.mps, 64);
    assert_int_equal(urg_hcd_dev_info(td.dev)->usb.ep[urg_ep_index(0x02)].type, URG_EP_BULK);

    serial_io_now = &io;
    td.on_complete = on_serial_io;
    t0 = vm_now();
    for (int i = 0; i < SERIAL_URBS; i++) {
        io.in[i] = urg_urb_alloc(0);
        io.in[i]->type = URG_EP_BULK;
        io.in[i]->endpoint = 0x81;
        io.in[i]->buffer = io.inbuf[i];
        io.in[i]->length = SERIAL_URB;
        io.in[i]->user_data = &io;
        io.out[i] = urg_urb_alloc(0);
        io.out[i]->type = URG_EP_BULK;
        io.out[i]->endpoint = 0x02;
        io.out[i]->buffer = io.outbuf[i];
        io.out[i]->user_data = &io;
        serial_submit(&io, io.in[i]);
        serial_submit(&io, io.out[i]);
    }
    ev_io_init(&io.w, on_serial_sock, io.fd, EV_READ);
    io.w.data = &io;
    ev_io_start(loop, &io.w);
    ev_prepare_init(&io.shape, serial_shape);
    io.shape.data = &io;
    ev_prepare_start(loop, &io.shape);
    /* Driven by the loop until both ways are through; the bound only
     * fails a hang. */
    through = run_until(loop, serial_both_ways, &io, 2 * WAIT);
    secs = vm_now() - t0;
    ev_io_stop(loop, &io.w);
    ev_prepare_stop(loop, &io.shape);
    assert_int_equal(io.failed, 0);
    if (io.bad_status)
        fail_msg("%u blocks without FTDI status bytes at a max-packet boundary (after %zu bytes)",
                 io.bad_status, io.down);
    if (!through)
        fail_msg("after %.0f s: %zu of %u bytes to the guest (%zu into the socket), %zu from it",
                 2 * WAIT, io.down, SERIAL_BYTES, io.written, io.up);
    assert_int_equal(io.down, SERIAL_BYTES);
    assert_int_equal(io.up, SERIAL_BYTES);
    for (size_t i = 0; i < SERIAL_BYTES; i++) {
        if (bad_down == SERIAL_BYTES && io.down_got[i] != down_byte(i))
            bad_down = i;
        if (bad_up == SERIAL_BYTES && io.up_got[i] != up_byte(i))
            bad_up = i;
    }
    if (bad_down != SERIAL_BYTES || bad_up != SERIAL_BYTES)
        fail_msg("not byte-exact: to the guest from byte %zu, from the guest from byte %zu "
                 "(%u: none)",
                 bad_down, bad_up, SERIAL_BYTES);
    assert_int_equal(urg_hcd_ep_stats(td.dev, 0x81, &es), 0);
    /* URBs took several chunks, chunks several packets. */
    assert_true(io.most_chunks >= 2);
    assert_true(io.blocks > es.packets);
    /* Every chunk the host read was kept: none dropped. */
    assert_int_equal(es.drops, 0);
    note("  %u bytes each way at once in %.2f s (the first %u to the guest in %d pieces); "
         "bulk IN: %llu chunks, %llu bytes, in %u URBs of %u packets (at most %u packets and "
         "%u chunks in one); bulk OUT: %u URBs",
         SERIAL_BYTES, secs, SERIAL_SHAPED, io.pieces, (unsigned long long)es.packets,
         (unsigned long long)es.bytes, io.in_urbs, io.blocks, io.most_blocks, io.most_chunks,
         io.out_urbs);
    serial_io_now = NULL;
    close_dev(&td);
    close(io.fd);
    for (int i = 0; i < SERIAL_URBS; i++) {
        urg_urb_free(io.in[i]);
        urg_urb_free(io.out[i]);
    }
    free(io.down_got);
    free(io.up_got);
}

/* ---------------------------------------------------------------- audio */

/* The first endpoint of type in alternate setting alt of an interface of
 * class/subclass in a configuration descriptor: its interface, address and
 * max packet size. */
static int find_ep(const uint8_t *cfg, uint32_t len, uint8_t cls, uint8_t sub, uint8_t alt,
                   uint8_t type, uint8_t *iface, uint8_t *ep, uint16_t *mps)
{
    int in_match = 0;
    for (uint32_t i = 0; i + 2 <= len && cfg[i] >= 2; i += cfg[i]) {
        if (cfg[i + 1] == 4 && i + 9 <= len) {
            in_match = cfg[i + 5] == cls && cfg[i + 6] == sub && cfg[i + 3] == alt;
            if (in_match)
                *iface = cfg[i + 2];
        } else if (cfg[i + 1] == 5 && in_match && i + 7 <= len && (cfg[i + 3] & 3) == type) {
            *ep = cfg[i + 2];
            *mps = (uint16_t)(cfg[i + 4] | cfg[i + 5] << 8);
            return 0;
        }
    }
    return -1;
}

static int config_descriptor(struct tdev *d, uint8_t *buf, uint16_t cap, uint32_t *len)
{
    uint32_t got = 0;
    if (control(d, 0x80, 6, 0x0200, 0, buf, 9, &got) != URG_URB_SUCCESS || got != 9)
        return -1;
    uint16_t total = (uint16_t)(buf[2] | buf[3] << 8);
    if (total > cap || control(d, 0x80, 6, 0x0200, 0, buf, total, len) != URG_URB_SUCCESS)
        return -1;
    return 0;
}

static void test_audio_iso_stream(void **state)
{
    char *cap = path_in_dir("audio.urgcap");
    uint8_t cfg[1024], iface = 0, ep = 0;
    uint16_t mps = 0;
    uint32_t len = 0, got;
    const int per_urb = 8, urbs = 24;
    const uint32_t psize = 192; /* 1 ms of 48 kHz 16-bit stereo */
    uint8_t *pcm = calloc(1, per_urb * psize);
    struct urg_hcd_ep_stats es;
    struct counts c;
    (void)state;
    open_dev(&td, P_AUDIO, cap);
    assert_int_equal(config_descriptor(&td, cfg, sizeof(cfg), &len), 0);
    /* AudioStreaming (1/2), alternate setting 1: an iso endpoint. */
    assert_int_equal(find_ep(cfg, len, 1, 2, 1, URG_EP_ISO, &iface, &ep, &mps), 0);
    assert_true(mps >= psize);
    assert_int_equal(urg_hcd_dev_info(td.dev)->usb.ep[urg_ep_index(ep)].type, URG_EP_INVALID);
    assert_int_equal(control(&td, 0x01, 11, 1, iface, NULL, 0, &got), URG_URB_SUCCESS);
    assert_true(td.endpoints_changed >= 1);
    assert_int_equal(urg_hcd_dev_info(td.dev)->usb.ep[urg_ep_index(ep)].type, URG_EP_ISO);

    for (int k = 0; k < urbs; k++) {
        struct urg_urb *u = urg_urb_alloc(per_urb);
        int rc;
        u->type = URG_EP_ISO;
        u->endpoint = ep;
        u->buffer = pcm;
        u->length = per_urb * psize;
        for (int i = 0; i < per_urb; i++) {
            u->iso[i].offset = (uint32_t)i * psize;
            u->iso[i].length = psize;
        }
        rc = urg_hcd_submit(td.dev, u);
        assert_int_equal(rc, 1); /* iso OUT completes at submission */
        assert_int_equal(u->status, URG_URB_SUCCESS);
        urg_urb_free(u);
        ev_run(loop, EVRUN_NOWAIT);
    }
    assert_int_equal(urg_hcd_ep_stats(td.dev, ep, &es), 0);
    assert_int_equal(es.packets, (uint64_t)per_urb * urbs);
    assert_int_equal(es.bytes, (uint64_t)per_urb * urbs * psize);
    /* Alternate setting 0 stops the stream. */
    assert_int_equal(control(&td, 0x01, 11, 0, iface, NULL, 0, &got), URG_URB_SUCCESS);
    assert_int_equal(urg_hcd_dev_info(td.dev)->usb.ep[urg_ep_index(ep)].type, URG_EP_INVALID);
    close_dev(&td);
    free(pcm);
    count_capture(cap, &c);
    assert_int_equal(sent(&c, URG_START_ISO_STREAM), 1);
    assert_int_equal(sent(&c, URG_STOP_ISO_STREAM), 1);
    assert_int_equal(sent(&c, URG_ISO_PACKET), (uint32_t)(per_urb * urbs));
    for (int i = 0; i < c.niso; i++)
        assert_int_equal(c.iso_status[i], URG_STATUS_SUCCESS);
    note("  iso OUT 0x%02x: %d packets of %u bytes sent, stream started and stopped; "
         "%d iso_stream_status from the host",
         ep, per_urb * urbs, psize, c.niso);
}

/* ---------------------------------------------------------------- UAS */

struct uas_cmd {
    int done, want;
};

static void on_uas(struct tdev *d, struct urg_urb *u)
{
    (void)d;
    if (u->user_data)
        ((struct uas_cmd *)u->user_data)->done++;
}

static bool uas_done(void *p)
{
    struct uas_cmd *x = p;
    return x->done >= x->want;
}

/* One SCSI command over UAS with streams: the status URB (and the data-in
 * URB) on stream tag, the command IU on the command pipe. Returns the
 * SCSI status from the sense IU (0 good, 2 check condition, with the sense
 * key in *key), or -1 if a transfer failed. */
static int uas_scsi(struct tdev *d, const uint8_t ep[4], uint16_t tag, const uint8_t *cdb,
                    int cdb_len, uint8_t *data, uint32_t len, int *key)
{
    uint8_t iu[32], sense[64];
    struct uas_cmd x = { 0, len ? 3 : 2 };
    struct urg_urb *st = urg_urb_alloc(0), *dt = urg_urb_alloc(0), *cmd = urg_urb_alloc(0);
    int status = -1;
    memset(iu, 0, sizeof(iu));
    memset(sense, 0, sizeof(sense));
    iu[0] = 0x01; /* COMMAND IU */
    iu[2] = (uint8_t)(tag >> 8);
    iu[3] = (uint8_t)tag;
    memcpy(iu + 16, cdb, (size_t)cdb_len);
    st->type = dt->type = cmd->type = URG_EP_BULK;
    st->endpoint = ep[1];
    st->stream_id = tag;
    st->buffer = sense;
    st->length = sizeof(sense);
    dt->endpoint = ep[2];
    dt->stream_id = tag;
    dt->buffer = data;
    dt->length = len;
    cmd->endpoint = ep[0];
    cmd->buffer = iu;
    cmd->length = sizeof(iu);
    st->user_data = dt->user_data = cmd->user_data = &x;
    d->on_complete = on_uas;
    *key = 0;
    if (urg_hcd_submit(d->dev, st) == 0 && (!len || urg_hcd_submit(d->dev, dt) == 0) &&
        urg_hcd_submit(d->dev, cmd) == 0 && run_until(loop, uas_done, &x, WAIT) &&
        cmd->status == URG_URB_SUCCESS && st->actual_length >= 16 && sense[0] == 0x03 &&
        (sense[2] << 8 | sense[3]) == tag) {
        status = sense[6];
        *key = st->actual_length > 18 ? sense[18] & 0x0f : 0;
        if (status == 0 && len && dt->actual_length != len)
            status = -1;
    } else {
        fprintf(stderr, "uas: status %s (%u bytes, IU 0x%02x), data %s (%u), command %s\n",
                urg_urb_status_name(st->status), st->actual_length, sense[0],
                urg_urb_status_name(dt->status), dt->actual_length,
                urg_urb_status_name(cmd->status));
    }
    d->on_complete = NULL;
    urg_urb_free(st);
    urg_urb_free(dt);
    urg_urb_free(cmd);
    return status;
}

static bool streams_answered(void *p) { return ((struct tdev *)p)->streams_done > 0; }

static void test_uas_bulk_streams(void **state)
{
    char *cap = path_in_dir("uas.urgcap");
    uint8_t cfg[1024], buf[8192], want[8192], cdb[10], ep[4] = { 0 }, iface = 0;
    uint32_t len = 0, got, mask = 0;
    uint8_t alt = 0xff;
    struct counts c;
    (void)state;
    open_dev(&td, P_UAS, cap);
    assert_int_equal(urg_hcd_dev_info(td.dev)->usb.vendor_id, 0x46f4);
    assert_int_equal(config_descriptor(&td, cfg, sizeof(cfg), &len), 0);
    /* The UAS alternate setting (08/06/62) and its pipes, from the pipe
     * usage descriptors (0x24) after each endpoint. */
    for (uint32_t i = 0, cur = 0, last_ep = 0; i + 2 <= len && cfg[i] >= 2; i += cfg[i]) {
        if (cfg[i + 1] == 4) {
            cur = cfg[i + 5] == 8 && cfg[i + 7] == 0x62;
            if (cur) {
                alt = cfg[i + 3];
                iface = cfg[i + 2];
            }
        } else if (cur && cfg[i + 1] == 5) {
            last_ep = cfg[i + 2];
        } else if (cur && cfg[i + 1] == 0x24 && cfg[i + 2] >= 1 && cfg[i + 2] <= 4) {
            ep[cfg[i + 2] - 1] = (uint8_t)last_ep;
        }
    }
    assert_int_not_equal(alt, 0xff);
    assert_true(ep[0] && ep[1] && ep[2] && ep[3]);
    assert_int_equal(control(&td, 0x01, 11, alt, iface, NULL, 0, &got), URG_URB_SUCCESS);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(urg_hcd_dev_info(td.dev)->usb.ep[urg_ep_index(ep[i])].type, URG_EP_BULK);
        mask |= 1u << urg_ep_index(ep[i]);
    }
    assert_int_equal(urg_hcd_alloc_streams(td.dev, mask, 4, NULL), 0);
    assert_true(run_until(loop, streams_answered, &td, WAIT));
    assert_int_equal(td.streams_status, URG_STATUS_SUCCESS);
    uint32_t streams = td.streams_no;
    assert_true(streams >= 4);

    /* TEST UNIT READY on stream 1: the first command after the reset
     * reports the power-on UNIT ATTENTION, or passes. */
    static const uint8_t tur[6] = { 0 };
    int key, st = uas_scsi(&td, ep, 1, tur, 6, NULL, 0, &key);
    assert_true(st == 0 || (st == 2 && key == 6));
    /* INQUIRY on stream 2, READ(10) of 16 blocks on stream 3. */
    assert_int_equal(uas_scsi(&td, ep, 2, inquiry, 6, buf, 36, &key), 0);
    assert_memory_equal(buf + 8, "QEMU    QEMU HARDDISK   ", 24);
    read10(cdb, 3, 16, 0);
    assert_int_equal(uas_scsi(&td, ep, 3, cdb, 10, buf, 16 * 512, &key), 0);
    assert_int_equal(read_image(uas_path, 3 * 512, want, 16 * 512), 0);
    assert_memory_equal(buf, want, 16 * 512);

    assert_int_equal(urg_hcd_free_streams(td.dev, mask, NULL), 0);
    td.streams_done = 0;
    assert_true(run_until(loop, streams_answered, &td, WAIT));
    assert_int_equal(td.streams_status, URG_STATUS_SUCCESS);
    close_dev(&td);
    count_capture(cap, &c);
    assert_int_equal(sent(&c, URG_ALLOC_BULK_STREAMS), 1);
    assert_int_equal(sent(&c, URG_FREE_BULK_STREAMS), 1);
    assert_int_equal(received(&c, URG_BULK_STREAMS_STATUS), 2);
    note("  UAS: %u streams on 3 pipes; TEST UNIT READY, INQUIRY, READ(10) on streams 1-3",
         streams);
}

/* ---------------------------------------------------------------- mouse */

static void test_mouse_reports(void **state)
{
    static const uint8_t want[3][4] = { { 0, 10, 0xfb, 0 }, { 1, 0, 0, 0 }, { 0, 0, 0, 0 } };
    struct reports r;
    (void)state;
    /* usb-kbd and usb-mouse have the same VID:PID, so one VM cannot export
     * both: the mouse takes the keyboard's place. */
    size_t from = vm.log_len;
    hmp("device_del kbd");
    hmp("device_add usb-mouse,id=mouse,bus=xhci.0");
    /* The idle usbredirect still holds the keyboard it opened at start:
     * end it, and the VM starts a new one on the mouse. */
    assert_int_equal(vm_console(&vm, "crash 4000"), 0);
    assert_true(vm_wait(&vm, "URG-SERVING 4000", &from, WAIT));
    open_dev(&td, P_KBD, path_in_dir("mouse.urgcap"));
    assert_int_equal(urg_hcd_dev_info(td.dev)->usb.interface_protocol[0], 2); /* mouse */
    /* SET_IDLE(0), as HID drivers send it: reports on change only. QEMU
     * also gives pointer events to this mouse from then on (else they go
     * to the PC's PS/2 mouse until the host's first poll reaches it). */
    assert_int_equal(control(&td, 0x21, 0x0a, 0, 0, NULL, 0, NULL), URG_URB_SUCCESS);
    reports_start(&r, &td, 8, 3);
    assert_true(run_until(loop, receiving, &td, WAIT));
    hmp("mouse_move 10 -5");
    hmp("mouse_button 1");
    hmp("mouse_button 0");
    assert_true(run_until(loop, reports_in, &r, WAIT));
    for (int i = 0; i < 3; i++) {
        assert_true(r.len[i] >= 3);
        assert_memory_equal(r.got[i], want[i], 3);
    }
    close_dev(&td);
    urg_urb_free(r.u);
}

/* ---------------------------------------------------------------- the command */

/* The usbredir-guest command as a child process: its stdout through a
 * pipe, its stderr into DIR/NAME.err. */
struct proc {
    pid_t pid;
    int out;
    char buf[1 << 16];
    size_t len;
};

static void proc_start(struct proc *p, const char *name, const char *const args[])
{
    const char *argv[24];
    int fds[2], n = 0;
    char *err = path_in_dir(name);
    memset(p, 0, sizeof(*p));
    argv[n++] = tool;
    for (int i = 0; args[i] && n < 23; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    strcat(err, ".err");
    assert_int_equal(pipe(fds), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fds[1], 1);
        if (e >= 0)
            dup2(e, 2);
        close(fds[0]);
        execv(tool, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    p->out = fds[0];
}

/* Reads the command's output until needle appears (true) or it ends. */
static bool proc_read_until(struct proc *p, const char *needle, double timeout)
{
    double deadline = vm_now() + timeout;
    while (!needle || !strstr(p->buf, needle)) {
        struct pollfd f = { p->out, POLLIN, 0 };
        int ms = (int)((deadline - vm_now()) * 1000);
        ssize_t k;
        if (ms <= 0 || poll(&f, 1, ms) != 1)
            return false;
        k = read(p->out, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
        if (k <= 0)
            return needle == NULL; /* the end */
        p->len += (size_t)k;
        p->buf[p->len] = 0;
    }
    return true;
}

/* Reads the rest and reaps it: its exit code (-1 if it did not end). */
static int proc_finish(struct proc *p, double timeout)
{
    int st = 0;
    if (!proc_read_until(p, NULL, timeout))
        kill(p->pid, SIGKILL);
    close(p->out);
    waitpid(p->pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run_tool(struct proc *p, const char *name, const char *const args[])
{
    proc_start(p, name, args);
    return proc_finish(p, WAIT);
}

/* Keeps a recording of real traffic: in URG_REALHOST_FIXTURES too, if set
 * (make fixtures-real). */
static void keep_fixture(const char *name)
{
    const char *to = getenv("URG_REALHOST_FIXTURES");
    char cmd[1400];
    if (!to)
        return;
    snprintf(cmd, sizeof(cmd), "cp '%s/%s' '%s/%s'", dir, name, to, name);
    assert_int_equal(system(cmd), 0);
    note("  kept %s/%s", to, name);
}

static void test_cli_lsusb(void **state)
{
    const char *args[] = { "record", path_in_dir("real-msc-lsusb.urgcap"), "lsusb", "--retry",
                           "--timeout", "60", vm_address(&vm, P_MSC), NULL };
    const char *replay[] = { "lsusb", "capture:", NULL };
    static struct proc p, q;
    char cap[600];
    (void)state;
    assert_int_equal(run_tool(&p, "lsusb", args), 0);
    assert_non_null(strstr(p.buf, "ID 46f4:0001 QEMU QEMU USB HARDDRIVE"));
    assert_non_null(strstr(p.buf, "bcdUSB               3.00"));
    assert_non_null(strstr(p.buf, "bInterfaceClass         8 Mass Storage"));
    assert_non_null(strstr(p.buf, "SuperSpeed Endpoint Companion Descriptor"));
    assert_non_null(strstr(p.buf, "SuperSpeed USB Device Capability"));
    /* QEMU's device qualifier: 0a 06 00 02 00 00 00 40 01 00. */
    assert_non_null(strstr(p.buf, "  bMaxPacketSize0        64\n  bNumConfigurations      1\n"
                                  "Binary Object Store"));
    /* The recording replays to the same output. */
    snprintf(cap, sizeof(cap), "capture:%s/real-msc-lsusb.urgcap", dir);
    replay[1] = cap;
    assert_int_equal(run_tool(&q, "lsusb-replay", replay), 0);
    assert_string_equal(q.buf, p.buf);
    keep_fixture("real-msc-lsusb.urgcap");
}

static void test_cli_hid(void **state)
{
    const char *args[] = { "record", path_in_dir("real-keyboard-hid.urgcap"), "hid", "-n", "6",
                           "--retry", "--timeout", "60", vm_address(&vm, P_KBD), NULL };
    const char *replay[] = { "hid", "-n", "6", "capture:", NULL };
    static struct proc p, q;
    char cap[600];
    (void)state;
    proc_start(&p, "hid", args);
    /* The command prints what it found before it reads reports. */
    assert_true(proc_read_until(&p, "8-byte reports\n", WAIT));
    hmp("sendkey h");
    hmp("sendkey shift-i");
    assert_int_equal(proc_finish(&p, WAIT), 0);
    assert_non_null(strstr(p.buf, "keyboard 0627:0001, interface 0, endpoint 0x81"));
    assert_non_null(strstr(p.buf, "typed: \"hI\""));
    snprintf(cap, sizeof(cap), "capture:%s/real-keyboard-hid.urgcap", dir);
    replay[3] = cap;
    assert_int_equal(run_tool(&q, "hid-replay", replay), 0);
    assert_string_equal(q.buf, p.buf);
    keep_fixture("real-keyboard-hid.urgcap");
}

/* The md5 line of msc's output, without the throughput after it. */
static void md5_line(const char *out, char *line, size_t cap)
{
    const char *m = strstr(out, "md5 ");
    assert_non_null(m);
    snprintf(line, cap, "%.36s", m);
}

static void test_cli_msc(void **state)
{
    char *file = path_in_dir("msc-read.bin"), *file2 = path_in_dir("msc-replay.bin");
    const char *args[] = { "record", path_in_dir("real-msc-read.urgcap"), "msc", "--read", "0:64",
                           "-o", file, "--retry", "--timeout", "60", vm_address(&vm, P_MSC), NULL };
    const char *replay[] = { "msc", "--read", "0:64", "-o", file2, "capture:", NULL };
    static struct proc p, q;
    uint8_t got[32768], want[32768];
    char cap[600], l1[64], l2[64];
    (void)state;
    assert_int_equal(run_tool(&p, "msc", args), 0);
    assert_non_null(strstr(p.buf, "inquiry: vendor \"QEMU\", product \"QEMU HARDDISK\", revision \"2.5+\""));
    assert_non_null(strstr(p.buf, "capacity: 32768 blocks of 512 bytes"));
    assert_int_equal(read_image(file, 0, got, sizeof(got)), 0);
    assert_int_equal(read_image(disk_path, 0, want, sizeof(want)), 0);
    assert_memory_equal(got, want, sizeof(got));
    snprintf(cap, sizeof(cap), "capture:%s/real-msc-read.urgcap", dir);
    replay[5] = cap;
    assert_int_equal(run_tool(&q, "msc-replay", replay), 0);
    md5_line(p.buf, l1, sizeof(l1));
    md5_line(q.buf, l2, sizeof(l2));
    assert_string_equal(l1, l2);
    assert_int_equal(read_image(file2, 0, got, sizeof(got)), 0);
    assert_memory_equal(got, want, sizeof(got));
    note("  msc read 64 blocks: %s, equal to the image file, live and replayed", l1);
    keep_fixture("real-msc-read.urgcap");
}

/* The Wireshark dissector on a real session as the kernel saw it: tcpdump
 * on the loopback while the command reads the disk from the real
 * usbredirect (and records what it sent and got): tshark's count of each
 * packet type each way in the pcap equals stats on the recording
 * (tests/wireshark/compare.sh), with the usb-host found by its port and
 * by what it sends, the port given as Decode As. */
static void test_wireshark_live(void **state)
{
    char *pcap = path_in_dir("live.pcap"), *cap = path_in_dir("live.urgcap");
    char *home = path_in_dir("wireshark-home"), *out = path_in_dir("compare.out");
    const char *addr = vm_address(&vm, P_MSC), *lua = getenv("URG_WIRESHARK_LUA");
    const char *args[] = { "record", cap, "msc", "--read", "0:64", "--retry", "--timeout", "60",
                           addr, NULL };
    static struct proc p;
    struct urg_capture_record rec;
    urg_capture_reader *r;
    int port = atoi(strrchr(addr, ':') + 1), conns = 0, rc;
    struct tcpdump dump;
    char cmd[4096], text[2048];
    FILE *f;
    size_t n;
    (void)state;
    if (!lua)
        fail_msg("URG_WIRESHARK_LUA is not set (the Makefile's check-realhost sets it)");
    assert_int_equal(tcpdump_start(&dump, pcap, port), 0);
    assert_int_equal(run_tool(&p, "wireshark-msc", args), 0);
    /* Every connection the command made has ended (its retries by QEMU's
     * RST, the last by a FIN each way): once they are all in the file, so
     * is everything before them. */
    assert_int_equal(urg_capture_open(cap, &r), 0);
    while ((rc = urg_capture_next(r, &rec)) == 1)
        conns += rec.kind == URG_CAP_CONNECT;
    urg_capture_reader_free(r);
    assert_int_equal(rc, 0);
    assert_true(conns >= 1);
    assert_int_equal(pcap_wait_closed(pcap, conns), 0);
    assert_int_equal(tcpdump_stop(&dump), 0); /* no packet dropped */
    mkdir(home, 0755);
    for (int content = 0; content < 2; content++) {
        char host_port[64] = "";
        if (!content) /* else the usb-host is found by what it sends */
            snprintf(host_port, sizeof(host_port), "-o usbredir.host_ports:%d", port);
        snprintf(cmd, sizeof(cmd),
                 "HOME='%s' sh tests/wireshark/compare.sh %s '%s' '%s' '%s' '%s' "
                 "-d tcp.port==%d,usbredir %s > '%s' 2>&1",
                 home, content ? "--content" : "", lua, tool, cap, pcap, port, host_port, out);
        rc = system(cmd);
        f = fopen(out, "r");
        assert_non_null(f);
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = 0;
        note("  %s", strtok(text, "\n") ? text : "(compare.sh said nothing)");
        assert_int_equal(rc, 0);
    }
    note("  %d connection%s captured by tcpdump", conns, conns == 1 ? "" : "s");
}

/* ---------------------------------------------------------------- main */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_control_requests, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_remote_wake_as_sent, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_keyboard_reports, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_cli_lsusb, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_cli_hid, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_cli_msc, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_wireshark_live, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_msc_read_write, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_msc_cancel_in_flight, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_msc_read_into_segments, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_msc_super_speed_on_a_usb2_port, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_serial_ftdi, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_serial_ftdi_64k_each_way, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_audio_iso_stream, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_uas_bulk_streams, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_host_crash_and_restart, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_hot_unplug_and_replug, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_mouse_reports, test_setup, test_teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("URG_REALHOST_ONLY")) /* a glob of test names, for debugging */
        cmocka_set_test_filter(getenv("URG_REALHOST_ONLY"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

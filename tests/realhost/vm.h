/*
 * vm.h - the real-host VMs for the tests in tests/realhost/: QEMU (TCG, or
 * KVM where kvm_intel or kvm_amd is loaded) booting the image that
 * image.sh builds. In the device role (the default) Debian's usbredirect
 * exports emulated USB devices on forwarded ports; in the attach role the
 * VM is a Linux USB/IP client (vhci-hcd, `usbip attach`) that reaches this
 * machine's loopback at 10.0.2.2 (tests/realhost/init lists its commands).
 *
 * The VM's serial console is read on the test's libev loop, so readiness is
 * waited for by its markers (see tests/realhost/init) with run_until(),
 * never with sleeps. Everything is torn down by PID: the QEMU process is
 * killed and reaped in vm_stop(), and dies with the test process if that
 * dies first (PR_SET_PDEATHSIG).
 */
#ifndef URG_REALHOST_VM_H
#define URG_REALHOST_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ev_loop;

#define VM_MAX_PORTS 8

struct vm_config {
    const char *image;        /* folder with vmlinux and initramfs.cpio */
    const char *dir;          /* work folder: serial log, monitor socket */
    /* Devices usbredirect serves: "PORT/VID:PID" each, guest ports. */
    const char *serve[VM_MAX_PORTS];
    /* Further QEMU arguments (devices, drives, chardevs), NULL-ended. */
    const char *const *qemu_args;
    /* "attach" for the USB/IP client role; NULL: the device role. */
    const char *role;
};

struct vm {
    pid_t pid;
    int console_in;           /* writes go to the VM's serial console */
    int console_out;          /* what the console prints (read on the loop) */
    char *log;                /* everything the console printed, NUL-ended */
    size_t log_len, log_cap;
    int log_fd;               /* the same, appended to DIR/serial.log */
    char monitor[108];        /* the HMP monitor's Unix socket */
    int guest_port[VM_MAX_PORTS];
    int host_port[VM_MAX_PORTS]; /* 127.0.0.1:host_port forwards to guest_port */
    int nports;
    bool kvm;
    double boot_seconds;      /* QEMU start to URG-BOOTED */
    double t_launch;
    struct ev_loop *loop;
    void *watcher;
};

/* Starts QEMU and waits (up to timeout seconds) for the URG-BOOTED marker.
 * Returns 0, or -1 after printing why. */
int vm_start(struct vm *vm, struct ev_loop *loop, const struct vm_config *cfg, double timeout);
/* The same in two steps, so that two VMs boot at the same time: vm_launch()
 * starts QEMU, vm_booted() waits for the marker. */
int vm_launch(struct vm *vm, struct ev_loop *loop, const struct vm_config *cfg);
int vm_booted(struct vm *vm, double timeout);
/* Kills QEMU by its PID and reaps it; frees everything. */
void vm_stop(struct vm *vm);
/* Ends QEMU the orderly way: "quit" on the monitor, then runs the loop
 * until QEMU has closed its console (it has exited, its files - a
 * usb-redir pcap= - written and closed) and reaps it. Returns 0, or -1
 * if it did not exit within timeout seconds (then it is left to
 * vm_stop). */
int vm_quit(struct vm *vm, double timeout);
/* 127.0.0.1:PORT forwarding to a guest port, as an address string. */
const char *vm_address(const struct vm *vm, int guest_port);
/* Runs the loop until the console printed needle at or after offset *from
 * (then *from moves past it); false after timeout seconds. */
bool vm_wait(struct vm *vm, const char *needle, size_t *from, double timeout);
/* Sends one command line to /init's console reader ("crash PORT", ...). */
int vm_console(struct vm *vm, const char *line);
/* One HMP monitor command; its output (without the prompt) into out.
 * Returns 0, or -1 if the monitor did not answer within 10 s. */
int vm_hmp(struct vm *vm, const char *cmd, char *out, size_t cap);

/* The emulated devices both programs put on the device VM's xHCI, their
 * QEMU arguments appended to args at n (returns the new n): usb-kbd,
 * usb-storage on disk_path (node disk0), usb-serial on the socket chardev
 * DIR/serial.sock (any old one removed), usb-audio on the audiodev given
 * ("none,id=snd", or a wav one with id=snd). The strings are the
 * function's own (one device VM per process). Ports 4000-4003 of
 * vm_serve_common() export them in that order. */
int vm_common_devices(const char **args, int n, const char *dir, const char *disk_path,
                      const char *audiodev);
/* cfg->serve[0..3] for the devices above; returns 4, the next free slot. */
int vm_serve_common(struct vm_config *cfg);
/* The VM's seq pattern (init's `pattern START N`, `seq -w START 999999 |
 * head -c N`): 6-digit numbers and a newline each, so a byte out of place
 * shows. A malloc'ed buffer of n bytes (and a few more), or NULL. */
uint8_t *vm_pattern(unsigned start, size_t n);
/* Seconds on a monotonic clock. */
double vm_now(void);
/* Writes a disk image of bytes (a multiple of 4): a fixed pseudo-random
 * stream (xorshift32 from seed), so the fixtures recorded from it have a
 * fixed md5. Returns 0 or -1. */
int vm_make_image(const char *path, uint32_t bytes, uint32_t seed);

#endif

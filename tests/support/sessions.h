/*
 * sessions.h - scripted guest sessions through the whole stack (model,
 * transport) used by the capture and replay tests: each does the same
 * thing every time, so a recording of it can be replayed to it.
 */
#ifndef URG_SESSIONS_H
#define URG_SESSIONS_H

#include <stdint.h>

#include "evtest.h"

/* What the keyboard session saw. */
struct kbd_result {
    int status;              /* of the last transfer (URG_URB_*) */
    uint32_t vendor;         /* idVendor from the device descriptor */
    uint8_t reports[10][8];  /* the reports typing "hello" */
};

struct emuhost;
struct emu_config;
/* The emulated host c (a keyboard when NULL) on one end of a socketpair,
 * a model device with a transport to the other (fd:N) in d, recording to
 * capture if not NULL; done/ctx as emu_serve() takes them. Returns the
 * host (emu_free() it after tdev_free()). */
struct emuhost *tdev_pair(struct tdev *d, struct ev_loop *loop, const struct emu_config *c,
                          const char *capture, void (*done)(void *ctx, struct emuhost *e),
                          void *ctx);

/* Reads the device descriptor, then the ten reports typing "hello". */
void kbd_session(struct tdev *d, struct kbd_result *r);
/* TEST UNIT READY, WRITE(10) of block 7 filled with pattern, READ(10) of it
 * into out (512 bytes). Returns 0, the failing CSW status, or -1. */
int msc_session(struct tdev *d, uint8_t pattern, uint8_t *out);
/* Records the session of kind (EMU_KEYBOARD, or EMU_MSC with pattern 0xaa)
 * against the emulated host into a capture at path. Returns 0, or -1 if
 * the session did not see what the emulated host gives. */
int record_session(const char *path, int kind);
/* A path in /tmp for a capture named after what and this process. */
char *temp_capture(const char *what);

/* tcpdump on the loopback writing pcap (whole frames, each at once) for
 * "tcp port PORT", started and ready (it said "listening on"); it is
 * killed if this process dies. Returns 0, or -1 if it did not start within
 * 20 s (said on stderr). tcpdump_stop() ends it and returns the packets
 * the kernel dropped (its last words), or -1 if it did not say. */
struct tcpdump {
    int pid;
    int err; /* the read end of its stderr, open until it ends */
};
int tcpdump_start(struct tcpdump *t, const char *pcap, int port);
int tcpdump_stop(struct tcpdump *t);
/* Waits until the pcap being written holds n TCP segments with FIN set
 * (tests/tools/pcap-fins, beside the test program): every segment before
 * them is in the file then. Returns pcap-fins's exit code: 0, or 1 after a
 * bound of 20 s. pcap_wait_closed() waits for n TCP connections ended (a
 * FIN each way, or a RST). */
int pcap_wait_fins(const char *pcap, int n);
int pcap_wait_closed(const char *pcap, int n);

#endif

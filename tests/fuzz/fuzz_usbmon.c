/*
 * fuzz_usbmon.c - libFuzzer target for the usbmon import
 * (transport/usbmon.c): a usbmon capture turned into a usbredir session
 * in memory, then that session decoded.
 *
 * Input: a pcap file (the seeds, tests/fuzz/corpus/usbmon: the fixtures'
 * usbmon captures in both link types, a bus with a hub, the audio-like
 * device of tests/support/usbmonw.c, QEMU's pcap= form). It is read from
 * a memfd; the input's size picks the device (the default, 1.0, or 1.4)
 * and, one time in five, a memory budget of 16 KiB. Checked: the import
 * returns 0 or an error with a message (never a crash, an overread or a
 * leak: ASan, LeakSanitizer); what it made decodes whole, every packet (a
 * session it synthesized must be one the decoder takes), and no capture
 * is returned with an error.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <unistd.h>

#include "urg_capture.h"
#include "urg_transport.h"

static int count(void *ctx, const struct urg_capture_packet *cp)
{
    (void)cp;
    ++*(unsigned *)ctx;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct urg_import_config ic;
    char in[64], note[512], err[512];
    int fi = memfd_create("usbmon", 0), rc;
    void *mem = NULL;
    size_t len = 0;
    unsigned n = 0;
    if (fi < 0 || write(fi, data, size) != (ssize_t)size)
        abort();
    snprintf(in, sizeof(in), "/proc/self/fd/%d", fi);
    urg_import_config_init(&ic);
    switch (size % 3) {
    case 1: ic.usb_bus = 1, ic.usb_address = 0; break;
    case 2: ic.usb_bus = 1, ic.usb_address = 4; break;
    default: break;
    }
    if (size % 5 == 0)
        ic.max_bytes = 16384;
    err[0] = 0;
    rc = urg_capture_import_mem(in, &ic, &mem, &len, note, sizeof(note), err, sizeof(err));
    if (rc != 0 && (!err[0] || mem))
        abort(); /* every refusal says why, and returns nothing */
    if (rc == 0) {
        err[0] = 0;
        if (!mem || !len || strlen(note) >= sizeof(note))
            abort();
        if (urg_capture_decode_mem(mem, len, count, &n, err, sizeof(err)) != 0)
            abort(); /* the session made is one the decoder takes whole */
        if (n < 5)
            abort(); /* two hellos, interface_info, ep_info, device_connect */
        free(mem);
    }
    close(fi);
    return 0;
}

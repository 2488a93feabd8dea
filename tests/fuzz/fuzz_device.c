/*
 * fuzz_device.c - libFuzzer target for device:FILE's device model
 * (transport/recdev.c): a recording is built into a device, and the
 * recording's own guest packets are then put to it, in order, with the
 * stream turns between them.
 *
 * Input: a capture (the corpus: the fixtures). Checked: recdev_new()
 * returns 0 or an error with a message; every packet the device sends
 * encodes under the recorded host's caps (a send that fails aborts);
 * nothing crashes, overreads or leaks (ASan, LeakSanitizer); memory stays
 * within the recording's size times a bound (libFuzzer's rss limit).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recdev.h"

struct feed {
    struct recdev *d;
    struct urg_wire wire;
    double now;
    unsigned sent;
};

static int sent_ok(void *ctx, const struct urg_packet *p)
{
    struct feed *f = ctx;
    uint8_t hdr[512];
    int n = urg_encode(&f->wire, URG_DIR_TO_GUEST, p, hdr, sizeof(hdr));
    /* Every packet the device sends is one a host may send. */
    if (n < 0 && n != URG_ERR_BUFFER)
        abort();
    f->sent++;
    return 0;
}

static int guest_packet(void *ctx, const struct urg_capture_packet *cp)
{
    struct feed *f = ctx;
    double next;
    if (cp->dir != URG_DIR_TO_HOST)
        return 0;
    f->now += 0.001;
    recdev_guest(f->d, cp->p, f->now);
    recdev_tick(f->d, f->now, 1 << 20, &next);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct urg_replay_config cfg;
    struct feed f;
    char err[512];
    int rc;
    memset(&f, 0, sizeof(f));
    urg_replay_config_init(&cfg);
    cfg.mode = URG_REPLAY_DEVICE;
    cfg.loop_streams = size & 1;
    cfg.fast = (size >> 1) & 1;
    err[0] = 0;
    rc = recdev_new(urg_allocator_default(), NULL, data, size, &cfg, &f.d, err, sizeof(err));
    if (rc) {
        if (!err[0])
            abort(); /* every refusal says why */
        return 0;
    }
    f.wire = urg_wire_from_caps(URG_CAPS_ALL, recdev_host_caps(f.d));
    recdev_start(f.d, sent_ok, &f, 0);
    urg_capture_decode_mem(data, size, guest_packet, &f, err, sizeof(err));
    {
        struct urg_replay_coverage c;
        char line[512];
        recdev_coverage(f.d, &c);
        recdev_report(f.d, line, sizeof(line));
        (void)recdev_over(f.d);
    }
    recdev_free(f.d);
    return 0;
}

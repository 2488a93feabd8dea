/*
 * sessions.c - see sessions.h.
 */
#include "sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
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

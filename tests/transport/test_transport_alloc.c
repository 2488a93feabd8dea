/*
 * test_transport_alloc.c - allocation failure at every allocation of the
 * transport layer, and of the model and the engine under it.
 *
 * Each scenario is run once to count its allocations, then again with the
 * first, the second, ... the last of them failing:
 *
 *   a) a transport recording a capture, with a model device behind it, over
 *      a socketpair to the emulated usb-host: attach, read the device
 *      descriptor, close;
 *   b) a replay host serving a capture to a model device through a
 *      transport, to the end: fixtures/keyboard-hid.urgcap, and a mass
 *      storage session recorded first whose 128 KiB each way make the
 *      replay allocate while it serves;
 *   c) urg_capture_decode_mem() of a fixture;
 *   d) the pcap import of a fixture's pcap, and a usbmon capture's import
 *      into memory;
 *   e) a capture reader over a file;
 *   f) the pcap export of a fixture.
 *
 * Every layer gets its own allocator (the transport, the replay, the model
 * and its engine, the capture functions), all failing on one shared count,
 * each counting its calls and its live blocks and bytes (a block freed by
 * another layer's allocator is an error). Every run must end cleanly - the
 * call that failed returns URG_ERR_NOMEM, or the connection, the session or
 * the replay ends with it, or the failure is tolerated and the scenario
 * finishes as without it - with no live block left once everything is
 * freed, and every URB accepted completed exactly once (refused ones
 * never). Nothing waits for time: the loop runs until a condition holds,
 * under a watchdog that fails the test (run_until). URG_ALLOC_VERBOSE=1
 * prints how each run ended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "emuhost.h"
#include "evtest.h"
#include "sessions.h"
#include "talloc.h"
#include "urg_transport.h"

/* ---------------------------------------------------------------- the allocator */

struct fail;

struct layer {
    const char *name;
    struct fail *f;
    struct urg_allocator a;
    uint64_t calls;          /* malloc and realloc calls */
    int64_t blocks, bytes;   /* live */
};

enum { L_TRANSPORT, L_MODEL, L_REPLAY, L_CAPTURE, L_COUNT };
static const char *const layer_names[L_COUNT] = { "transport", "model+engine", "replay",
                                                   "capture" };

struct fail {
    uint64_t calls, fail_at;  /* fail the fail_at-th call (0: never) */
    int failed;
    int failed_layer;
    int foreign_frees;        /* blocks freed or moved by another layer */
    struct layer l[L_COUNT];
};

/* Every block carries its size and its layer in front. */
struct hdr {
    size_t size;
    struct layer *owner;
    uint64_t pad;
};
#define HDR sizeof(struct hdr)

static int fail_now(struct layer *l)
{
    struct fail *f = l->f;
    l->calls++;
    if (++f->calls == f->fail_at) {
        f->failed = 1;
        f->failed_layer = (int)(l - f->l);
        return 1;
    }
    return 0;
}

static void *take(struct layer *l, size_t size)
{
    struct hdr *h = malloc(HDR + (size ? size : 1));
    if (!h)
        return NULL;
    h->size = size;
    h->owner = l;
    l->blocks++;
    l->bytes += (int64_t)size;
    return (uint8_t *)h + HDR;
}

static void *l_malloc(void *ctx, size_t size)
{
    struct layer *l = ctx;
    return fail_now(l) ? NULL : take(l, size);
}

static void *l_realloc(void *ctx, void *p, size_t size)
{
    struct layer *l = ctx;
    struct hdr *h, *nh;
    if (fail_now(l))
        return NULL;
    if (!p)
        return take(l, size);
    h = (struct hdr *)((uint8_t *)p - HDR);
    if (h->owner != l)
        l->f->foreign_frees++;
    nh = realloc(h, HDR + (size ? size : 1));
    if (!nh)
        return NULL;
    nh->owner->bytes += (int64_t)size - (int64_t)nh->size;
    nh->size = size;
    return (uint8_t *)nh + HDR;
}

static void l_free(void *ctx, void *p)
{
    struct layer *l = ctx;
    struct hdr *h;
    if (!p)
        return;
    h = (struct hdr *)((uint8_t *)p - HDR);
    if (h->owner != l)
        l->f->foreign_frees++;
    h->owner->blocks--;
    h->owner->bytes -= (int64_t)h->size;
    free(h);
}

static void fail_init(struct fail *f, uint64_t fail_at)
{
    memset(f, 0, sizeof(*f));
    f->fail_at = fail_at;
    f->failed_layer = -1;
    for (int i = 0; i < L_COUNT; i++) {
        struct layer *l = &f->l[i];
        l->name = layer_names[i];
        l->f = f;
        l->a.malloc = l_malloc;
        l->a.realloc = l_realloc;
        l->a.free = l_free;
        l->a.ctx = l;
    }
}

/* Everything was freed, by the layer that allocated it. */
static void assert_no_leak(const struct fail *f, const char *scenario)
{
    for (int i = 0; i < L_COUNT; i++)
        if (f->l[i].blocks || f->l[i].bytes)
            fail_msg("%s, allocation %llu failing: %s leaks %lld blocks, %lld bytes", scenario,
                     (unsigned long long)f->fail_at, f->l[i].name, (long long)f->l[i].blocks,
                     (long long)f->l[i].bytes);
    if (f->foreign_frees)
        fail_msg("%s, allocation %llu failing: %d blocks freed by another layer's allocator",
                 scenario, (unsigned long long)f->fail_at, f->foreign_frees);
}

/* ---------------------------------------------------------------- outcomes */

enum outcome {
    OUT_SUCCESS,    /* as without a failure */
    OUT_TOLERATED,  /* an allocation failed and the scenario finished anyway */
    OUT_NOMEM,      /* it ended with URG_ERR_NOMEM, cleanly */
    OUT_COUNT
};

/* What the last run did, for URG_ALLOC_VERBOSE=1. */
static char detail[256];

/* ---------------------------------------------------------------- a guest: model + transport */

#define MAX_URBS 32

struct urb_rec {
    struct urg_urb *u;
    int rc;            /* what urg_hcd_submit returned */
    int completions;   /* urb_complete calls */
};

struct guest {
    struct ev_loop *loop;
    urg_hcd_dev *dev;
    urg_transport *t;
    int attached, detached;
    int events[8];
    int nomem;           /* URG_ERR_NOMEM seen: returned, or a transport event's err */
    struct urb_rec urbs[MAX_URBS];
    int nurbs;
};

static void g_attach(void *ud, urg_hcd_dev *dev, const struct urg_hcd_device *info)
{
    (void)dev;
    (void)info;
    ((struct guest *)ud)->attached++;
}

static void g_detach(void *ud, urg_hcd_dev *dev)
{
    ((struct guest *)ud)->detached++;
    urg_hcd_detach_done(dev);
}

static void g_complete(void *ud, urg_hcd_dev *dev, struct urg_urb *u)
{
    (void)ud;
    (void)dev;
    ((struct urb_rec *)u->user_data)->completions++;
}

static void g_event(void *ud, urg_transport *t, int ev, int err)
{
    struct guest *g = ud;
    (void)t;
    if (ev > 0 && ev < 8)
        g->events[ev]++;
    if (err == URG_ERR_NOMEM)
        g->nomem = 1;
}

/* A model device (allocating with the model layer) behind a transport
 * (the transport layer) on address. 0 or the error (URG_ERR_NOMEM). */
static int guest_new(struct guest *g, struct fail *f, struct ev_loop *loop, const char *address,
                     const char *capture)
{
    struct urg_hcd_config hc;
    struct urg_session_config session;
    struct urg_transport_config tc;
    int rc;
    memset(g, 0, sizeof(*g));
    g->loop = loop;
    urg_hcd_config_init(&hc);
    urg_session_config_init(&session);
    hc.session = &session;
    session.allocator = &f->l[L_MODEL].a;
    hc.callbacks.attach = g_attach;
    hc.callbacks.detach = g_detach;
    hc.callbacks.urb_complete = g_complete;
    hc.user_data = g;
    if ((rc = urg_hcd_dev_new(&hc, &g->dev)))
        return rc;
    urg_transport_config_init(&tc);
    tc.address = address;
    tc.loop = loop;
    tc.peer = urg_transport_peer_hcd(g->dev);
    tc.capture_path = capture;
    tc.allocator = &f->l[L_TRANSPORT].a;
    tc.callbacks.event = g_event;
    tc.user_data = g;
    if ((rc = urg_transport_new(&tc, &g->t))) {
        urg_hcd_dev_free(g->dev);
        g->dev = NULL;
    }
    return rc;
}

/* Frees the transport and the device, then checks every URB: accepted,
 * exactly one completion; refused or done at submission, none. */
static void guest_free(struct guest *g)
{
    urg_transport_free(g->t);
    g->t = NULL;
    urg_hcd_dev_free(g->dev);
    g->dev = NULL;
    assert_int_equal(g->detached, g->attached);
    for (int i = 0; i < g->nurbs; i++) {
        struct urb_rec *r = &g->urbs[i];
        if (r->completions != (r->rc == 0 ? 1 : 0))
            fail_msg("URB %d (submitted: %d) completed %d times", i, r->rc, r->completions);
        urg_urb_free(r->u);
    }
    g->nurbs = 0;
}

static bool g_attached_or_closed(void *p)
{
    struct guest *g = p;
    return g->attached || g->events[URG_TEV_CLOSED];
}

static bool g_urb_done(void *p)
{
    struct guest *g = p;
    return g->urbs[g->nurbs - 1].completions > 0;
}

/* One transfer: its status (URG_URB_*), or the error urg_hcd_submit
 * returned. An accepted URB completes - answered, or NODEV when the
 * connection goes - before the watchdog. */
static int guest_xfer(struct guest *g, int type, uint8_t ep, const uint8_t *setup, void *buf,
                      uint32_t len)
{
    struct urb_rec *r;
    struct urg_urb *u = urg_urb_alloc(0);
    assert_non_null(u);
    assert_true(g->nurbs < MAX_URBS);
    r = &g->urbs[g->nurbs++];
    r->u = u;
    u->type = (uint8_t)type;
    u->endpoint = ep;
    if (setup)
        memcpy(u->setup, setup, 8);
    u->buffer = buf;
    u->length = len;
    u->user_data = r;
    r->rc = urg_hcd_submit(g->dev, u);
    if (r->rc < 0) {
        if (r->rc == URG_ERR_NOMEM)
            g->nomem = 1;
        else
            assert_int_equal(r->rc, URG_ERR_NO_DEVICE); /* the connection went */
        return r->rc;
    }
    if (r->rc == 0 && !run_until(g->loop, g_urb_done, g, 10))
        fail_msg("an accepted URB never completed");
    return u->status;
}

/* ---------------------------------------------------------------- a) a transport session */

static const uint8_t get_device[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };

static char capture_path[64];

static int count_packets(void *ctx, const struct urg_capture_packet *cp)
{
    (void)cp;
    (*(int *)ctx)++;
    return 0;
}

static enum outcome scenario_transport(struct fail *f)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct emu_config ec;
    struct emuhost *e;
    struct guest g;
    uint8_t desc[18];
    char addr[32];
    int sv[2], rc, st = 1, ok = 0, nomem = 0;
    assert_non_null(loop);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    emu_config_init(&ec, EMU_KEYBOARD);
    e = emu_new(&ec);
    emu_serve(e, loop, sv[1], NULL, NULL);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    rc = guest_new(&g, f, loop, addr, capture_path);
    if (rc) {
        assert_int_equal(rc, URG_ERR_NOMEM);
        close(sv[0]); /* not taken by a transport that was not made */
        nomem = 1;
    } else {
        assert_true(run_until(loop, g_attached_or_closed, &g, 10));
        if (g.attached) {
            memset(desc, 0, sizeof(desc));
            st = guest_xfer(&g, URG_EP_CONTROL, 0, get_device, desc, 18);
            ok = st == URG_URB_SUCCESS && g.urbs[0].u->actual_length == 18 && desc[0] == 18 &&
                 desc[1] == 1 && (desc[8] | desc[9] << 8) == 0x0627;
        }
        nomem = g.nomem;
        /* Not attached, or the URB failed: the connection ended for want of
         * memory. */
        if (!ok && !nomem)
            fail_msg("transport session, allocation %llu (%s) failing: attached %d, URB status "
                     "%d, no URG_ERR_NOMEM reported",
                     (unsigned long long)f->fail_at,
                     f->failed_layer >= 0 ? layer_names[f->failed_layer] : "none", g.attached, st);
        guest_free(&g);
    }
    emu_free(e);
    ev_loop_destroy(loop);
    if (nomem)
        return OUT_NOMEM;
    return f->failed ? OUT_TOLERATED : OUT_SUCCESS;
}

/* ---------------------------------------------------------------- b) a replay */

/* A guest's script: does what the recorded guest did, up to the first
 * transfer that fails; returns 1 if every transfer succeeded, and counts
 * in *wrong the ones whose data was not what the capture has. */
struct script {
    const char *name;
    const char *capture;     /* set before the scenario runs */
    int (*run)(struct guest *g, int *wrong);
    uint8_t ep;              /* the endpoint whose stream drops are tolerated */
};

/* fixtures/keyboard-hid.urgcap: boot protocol, idle, 22 reports typing
 * "hello world" (fixtures/README.md). */
static int keyboard_script(struct guest *g, int *wrong)
{
    static const uint8_t set_protocol[8] = { 0x21, 0x0b, 0, 0, 0, 0, 0, 0 };
    static const uint8_t set_idle[8] = { 0x21, 0x0a, 0, 0, 0, 0, 0, 0 };
    static const uint8_t usage[] = { 0x0b, 0x08, 0x0f, 0x0f, 0x12, 0x2c, /* hello_ */
                                     0x1a, 0x12, 0x15, 0x0f, 0x07 };     /* world */
    uint8_t rep[8];
    size_t i;
    if (guest_xfer(g, URG_EP_CONTROL, 0, set_protocol, NULL, 0) != URG_URB_SUCCESS ||
        guest_xfer(g, URG_EP_CONTROL, 0, set_idle, NULL, 0) != URG_URB_SUCCESS)
        return 0;
    for (i = 0; i < 2 * sizeof(usage); i++) {
        memset(rep, 0xee, sizeof(rep));
        if (guest_xfer(g, URG_EP_INTERRUPT, 0x81, NULL, rep, 8) != URG_URB_SUCCESS)
            return 0;
        if (rep[2] != (i % 2 ? 0 : usage[i / 2]))
            (*wrong)++;
    }
    return 1;
}

/* Mass storage (the emulated host's, recorded first): TEST UNIT READY,
 * WRITE(10) of 256 blocks, READ(10) of them back. 128 KiB each way: the
 * replay's decoder keeps a payload that straddles its reads, its output
 * grows while it serves, the engine reads straight into the URB. */
#define MSC_BLOCKS 256
static uint8_t msc_out[MSC_BLOCKS * 512], msc_in[MSC_BLOCKS * 512];

/* One SCSI command over Bulk-Only Transport: 1 if it passed. */
static int scsi(struct guest *g, uint32_t tag, const uint8_t *cdb, int cdb_len, void *buf,
                uint32_t len, int in)
{
    uint8_t cbw[31], csw[13];
    bot_cbw(cbw, tag, cdb, cdb_len, len, in);
    if (guest_xfer(g, URG_EP_BULK, 0x02, NULL, cbw, 31) != URG_URB_SUCCESS)
        return 0;
    if (len && guest_xfer(g, URG_EP_BULK, in ? 0x81 : 0x02, NULL, buf, len) != URG_URB_SUCCESS)
        return 0;
    memset(csw, 0, sizeof(csw));
    if (guest_xfer(g, URG_EP_BULK, 0x81, NULL, csw, 13) != URG_URB_SUCCESS)
        return 0;
    return !memcmp(csw, "USBS", 4) && !memcmp(csw + 4, &tag, 4) && csw[12] == 0;
}

static int msc_script(struct guest *g, int *wrong)
{
    static const uint8_t tur[6] = { 0 };
    uint8_t rw[10] = { 0, 0, 0, 0, 0, 16, 0, MSC_BLOCKS >> 8, MSC_BLOCKS & 0xff, 0 };
    for (size_t i = 0; i < sizeof(msc_out); i++)
        msc_out[i] = (uint8_t)(i * 7 + i / 512);
    memset(msc_in, 0, sizeof(msc_in));
    if (!scsi(g, 1, tur, 6, NULL, 0, 0))
        return 0;
    rw[0] = 0x2a;
    if (!scsi(g, 2, rw, 10, msc_out, sizeof(msc_out), 0))
        return 0;
    rw[0] = 0x28;
    if (!scsi(g, 3, rw, 10, msc_in, sizeof(msc_in), 1))
        return 0;
    if (memcmp(msc_in, msc_out, sizeof(msc_in)))
        (*wrong)++;
    return 1;
}

static struct script keyboard = { "replay (keyboard-hid.urgcap)", "fixtures/keyboard-hid.urgcap",
                                  keyboard_script, 0x81 };
static struct script msc = { "replay (a recorded msc session)", NULL, msc_script, 0 };
static struct script *script; /* the one scenario_replay runs */

/* Records the msc session against the emulated host into path (no
 * allocation failing). */
static void record_msc(const char *path)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct emu_config ec;
    struct emuhost *e;
    struct guest g;
    struct fail f;
    char addr[32];
    int sv[2], wrong = 0;
    fail_init(&f, 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    emu_config_init(&ec, EMU_MSC);
    e = emu_new(&ec);
    emu_serve(e, loop, sv[1], NULL, NULL);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    assert_int_equal(guest_new(&g, &f, loop, addr, path), 0);
    assert_true(run_until(loop, g_attached_or_closed, &g, 10));
    assert_true(g.attached);
    assert_int_equal(msc_script(&g, &wrong), 1);
    assert_int_equal(wrong, 0);
    guest_free(&g);
    emu_free(e);
    ev_loop_destroy(loop);
    assert_no_leak(&f, "recording");
}

struct replay_run {
    int done, status;
    char report[1024];
};

static void on_done(void *ud, urg_replay *r, int status, const char *report)
{
    struct replay_run *x = ud;
    (void)r;
    x->done++;
    x->status = status;
    snprintf(x->report, sizeof(x->report), "%s", report);
}

static bool replay_done(void *p) { return ((struct replay_run *)p)->done > 0; }

static enum outcome scenario_replay(struct fail *f)
{
    struct ev_loop *loop = ev_loop_new(0);
    struct urg_replay_config rc;
    struct urg_hcd_ep_stats es;
    struct replay_run x;
    urg_replay *r = NULL;
    struct guest g;
    char addr[32];
    int sv[2], all = 0, wrong = 0, nomem = 0, ret;
    uint64_t drops = 0;
    assert_non_null(loop);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(&x, 0, sizeof(x));
    urg_replay_config_init(&rc);
    rc.capture_path = script->capture;
    rc.loop = loop;
    rc.fd = sv[1];
    rc.done = on_done;
    rc.user_data = &x;
    rc.allocator = &f->l[L_REPLAY].a;
    ret = urg_replay_new(&rc, &r);
    if (ret) {
        assert_int_equal(ret, URG_ERR_NOMEM);
        assert_int_equal(x.done, 0);
        close(sv[0]);
        close(sv[1]); /* still ours */
        ev_loop_destroy(loop);
        return OUT_NOMEM;
    }
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    ret = guest_new(&g, f, loop, addr, NULL);
    if (ret) {
        assert_int_equal(ret, URG_ERR_NOMEM);
        close(sv[0]);
        urg_replay_free(r);
        ev_loop_destroy(loop);
        return OUT_NOMEM;
    }
    assert_true(run_until(loop, g_attached_or_closed, &g, 10));
    if (g.attached)
        all = script->run(&g, &wrong);
    if (g.attached && script->ep && urg_hcd_ep_stats(g.dev, script->ep, &es) == 0)
        drops = es.drops;
    nomem = g.nomem;
    /* The guest goes; the replay ends (if it had not): all of it replayed,
     * the guest left early (EOF), or the replay ran out of memory. */
    guest_free(&g);
    assert_true(run_until(loop, replay_done, &x, 10));
    assert_int_equal(x.done, 1);
    if (x.status == URG_ERR_NOMEM)
        nomem = 1;
    else if (x.status == URG_ERR_EOF)
        assert_true(nomem); /* a guest with no failure does not leave early */
    else if (x.status)
        fail_msg("%s, allocation %llu (%s) failing: the replay ended with %d: %s", script->name,
                 (unsigned long long)f->fail_at,
                 f->failed_layer >= 0 ? layer_names[f->failed_layer] : "none", x.status,
                 x.report);
    urg_replay_free(r);
    ev_loop_destroy(loop);
    snprintf(detail, sizeof(detail), "guest: all %d, wrong %d, drops %llu, nomem %d; "
             "replay: %d (%.100s)", all, wrong, (unsigned long long)drops, nomem, x.status,
             x.report);
    if (nomem)
        return OUT_NOMEM;
    if (all && !wrong && !x.status)
        return f->failed ? OUT_TOLERATED : OUT_SUCCESS;
    /* The one failure that is tolerated: a packet dropped (and counted) by
     * the model's stream queue; the replay is whole. */
    if (drops && !x.status)
        return OUT_TOLERATED;
    fail_msg("%s, allocation %llu (%s) failing: %s, no URG_ERR_NOMEM reported", script->name,
             (unsigned long long)f->fail_at,
             f->failed_layer >= 0 ? layer_names[f->failed_layer] : "none", detail);
    return OUT_COUNT;
}

/* ---------------------------------------------------------------- c) decode */

#define DECODE_FIXTURE "fixtures/real-keyboard-hid.urgcap"

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *b;
    long n;
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    assert_true(n > 0);
    rewind(fp);
    b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static uint8_t *decode_data;
static size_t decode_len;
static int decode_packets; /* of the run without a failure */

static enum outcome scenario_decode(struct fail *f)
{
    char err[256];
    int n = 0;
    int rc = urgt_capture_decode_mem(&f->l[L_CAPTURE].a, decode_data, decode_len, count_packets,
                                     &n, err, sizeof(err));
    if (rc) {
        assert_int_equal(rc, URG_ERR_NOMEM);
        assert_true(err[0] != 0);
        return OUT_NOMEM;
    }
    if (!f->fail_at)
        decode_packets = n;
    assert_int_equal(n, decode_packets);
    return f->failed ? OUT_TOLERATED : OUT_SUCCESS;
}

/* ---------------------------------------------------------------- d) import */

#define IMPORT_PCAP "tests/fuzz/corpus/import/fixture-keyboard-hid.pcap"

static char import_out[64];
static uint8_t *import_ref;  /* the capture the run without a failure wrote */
static size_t import_ref_len;

static enum outcome scenario_import(struct fail *f)
{
    char err[300];
    uint8_t *got;
    size_t len;
    int rc;
    unlink(import_out);
    rc = urgt_capture_import_pcap(&f->l[L_CAPTURE].a, IMPORT_PCAP, import_out, 0, err,
                                  sizeof(err));
    if (rc) {
        assert_int_equal(rc, URG_ERR_NOMEM);
        assert_true(err[0] != 0);
        return OUT_NOMEM;
    }
    got = slurp(import_out, &len);
    if (!f->fail_at) {
        free(import_ref);
        import_ref = got;
        import_ref_len = len;
        return OUT_SUCCESS;
    }
    assert_int_equal(len, import_ref_len);
    assert_memory_equal(got, import_ref, len);
    free(got);
    return f->failed ? OUT_TOLERATED : OUT_SUCCESS;
}

#define USBMON_PCAP "fixtures/keyboard.usbmon.pcap"

static uint8_t *usbmon_ref; /* the capture the run without a failure made */
static size_t usbmon_ref_len;

static enum outcome scenario_usbmon(struct fail *f)
{
    struct urg_import_config ic;
    const struct urg_allocator *a = &f->l[L_CAPTURE].a;
    char err[300];
    void *got;
    size_t len;
    int rc;
    urg_import_config_init(&ic);
    ic.allocator = a;
    rc = urg_capture_import_mem(USBMON_PCAP, &ic, &got, &len, NULL, 0, err, sizeof(err));
    if (rc) {
        assert_int_equal(rc, URG_ERR_NOMEM);
        assert_true(err[0] != 0);
        assert_null(got);
        return OUT_NOMEM;
    }
    if (!f->fail_at) {
        free(usbmon_ref);
        usbmon_ref = malloc(len);
        assert_non_null(usbmon_ref);
        memcpy(usbmon_ref, got, len);
        usbmon_ref_len = len;
    } else {
        assert_int_equal(len, usbmon_ref_len);
        assert_memory_equal(got, usbmon_ref, len);
    }
    a->free(a->ctx, got);
    return f->failed ? OUT_TOLERATED : OUT_SUCCESS;
}

/* ---------------------------------------------------------------- e) a reader */

#define READER_FIXTURE "fixtures/keyboard-lsusb.urgcap"

static uint64_t reader_sum; /* records and bytes of the run without a failure */

static enum outcome scenario_reader(struct fail *f)
{
    struct urg_capture_record rec;
    urg_capture_reader *r;
    uint64_t sum = 0;
    int rc = urgt_capture_open(&f->l[L_CAPTURE].a, READER_FIXTURE, &r);
    if (rc) {
        assert_int_equal(rc, URG_ERR_NOMEM);
        return OUT_NOMEM;
    }
    while ((rc = urg_capture_next(r, &rec)) == 1)
        sum += ((uint64_t)1 << 32) + rec.len;
    urg_capture_reader_free(r);
    if (rc) {
        assert_int_equal(rc, URG_ERR_NOMEM);
        return OUT_NOMEM;
    }
    if (!f->fail_at)
        reader_sum = sum;
    assert_true(sum == reader_sum);
    return f->failed ? OUT_TOLERATED : OUT_SUCCESS;
}

/* ---------------------------------------------------------------- f) export */

#define EXPORT_FIXTURE "fixtures/msc-read.urgcap"

static char export_out[64];
static uint8_t *export_ref;  /* the pcap the run without a failure wrote */
static size_t export_ref_len;

static enum outcome scenario_export(struct fail *f)
{
    static const uint32_t sizes[] = { 1000, 7 };
    char err[300];
    uint8_t *got;
    size_t len;
    int rc;
    unlink(export_out);
    rc = urgt_capture_export_pcap(&f->l[L_CAPTURE].a, EXPORT_FIXTURE, export_out, 0, sizes, 2,
                                  err, sizeof(err));
    if (rc) {
        assert_int_equal(rc, URG_ERR_NOMEM);
        assert_true(err[0] != 0);
        return OUT_NOMEM;
    }
    got = slurp(export_out, &len);
    if (!f->fail_at) {
        free(export_ref);
        export_ref = got;
        export_ref_len = len;
        return OUT_SUCCESS;
    }
    assert_int_equal(len, export_ref_len);
    assert_memory_equal(got, export_ref, len);
    free(got);
    return f->failed ? OUT_TOLERATED : OUT_SUCCESS;
}

/* ---------------------------------------------------------------- every failure in turn */

/* Runs fn without a failure (counting), then failing each allocation in
 * turn; layers: the ones that must allocate (a bit per L_*). */
static void every_failure(const char *name, enum outcome (*fn)(struct fail *f), unsigned layers)
{
    struct fail f;
    uint64_t total, per[L_COUNT], n;
    int outs[L_COUNT][OUT_COUNT];
    char line[512];
    size_t o = 0;

    memset(outs, 0, sizeof(outs));
    fail_init(&f, 0);
    assert_int_equal(fn(&f), OUT_SUCCESS);
    assert_int_equal(f.failed, 0);
    assert_no_leak(&f, name);
    total = f.calls;
    for (int i = 0; i < L_COUNT; i++) {
        per[i] = f.l[i].calls;
        if (layers & (1u << i))
            assert_true(per[i] > 0); /* not vacuous */
        else
            assert_int_equal(per[i], 0);
    }
    assert_true(total > 0);
    for (n = 1; n <= total; n++) {
        enum outcome out;
        detail[0] = 0;
        fail_init(&f, n);
        out = fn(&f);
        assert_true(out < OUT_COUNT);
        assert_no_leak(&f, name);
        if (!f.failed) /* the same path up to the failure */
            fail_msg("%s: allocation %llu of %llu was never made", name, (unsigned long long)n,
                     (unsigned long long)total);
        outs[f.failed_layer][out]++;
        if (getenv("URG_ALLOC_VERBOSE"))
            printf("  %s: allocation %llu (%s) failing: %s %s\n", name, (unsigned long long)n,
                   layer_names[f.failed_layer],
                   out == OUT_NOMEM ? "URG_ERR_NOMEM" : out == OUT_TOLERATED ? "tolerated" : "?",
                   detail);
    }
    /* "NAME: N allocations, each failed in turn: LAYER K (x URG_ERR_NOMEM,
     * y tolerated), ...; ..." */
    o += (size_t)snprintf(line + o, sizeof(line) - o, "%s: %llu allocations, each failed in turn:",
                          name, (unsigned long long)total);
    for (int i = 0, first = 1; i < L_COUNT; i++) {
        if (!(layers & (1u << i)))
            continue;
        o += (size_t)snprintf(line + o, sizeof(line) - o, "%s %s %llu (%d URG_ERR_NOMEM",
                              first ? "" : ",", layer_names[i], (unsigned long long)per[i],
                              outs[i][OUT_NOMEM]);
        if (outs[i][OUT_TOLERATED])
            o += (size_t)snprintf(line + o, sizeof(line) - o, ", %d tolerated",
                                  outs[i][OUT_TOLERATED]);
        o += (size_t)snprintf(line + o, sizeof(line) - o, ")");
        first = 0;
    }
    snprintf(line + o, sizeof(line) - o, "; no leak%s",
             layers & (1u << L_MODEL) ? ", every URB completed once" : "");
    printf("%s\n", line);
}

static void test_transport_session(void **state)
{
    int packets = 0;
    char err[256];
    (void)state;
    snprintf(capture_path, sizeof(capture_path), "/tmp/urg-alloc-%d.urgcap", (int)getpid());
    every_failure("transport session", scenario_transport,
                  1u << L_TRANSPORT | 1u << L_MODEL);
    /* The last run's capture (no failure in it at the end) is a capture. */
    {
        struct fail f;
        fail_init(&f, 0);
        assert_int_equal(scenario_transport(&f), OUT_SUCCESS);
    }
    assert_int_equal(urg_capture_decode(capture_path, count_packets, &packets, err, sizeof(err)),
                     0);
    assert_true(packets >= 7); /* hellos, interface_info, ep_info, device_connect, the
                                  request and its reply */
    unlink(capture_path);
}

static void test_replay(void **state)
{
    (void)state;
    script = &keyboard;
    every_failure(script->name, scenario_replay,
                  1u << L_TRANSPORT | 1u << L_MODEL | 1u << L_REPLAY);
}

static void test_replay_recorded(void **state)
{
    (void)state;
    msc.capture = temp_capture("alloc-msc");
    record_msc(msc.capture);
    script = &msc;
    every_failure(script->name, scenario_replay,
                  1u << L_TRANSPORT | 1u << L_MODEL | 1u << L_REPLAY);
    unlink(msc.capture);
}

static void test_decode(void **state)
{
    (void)state;
    decode_data = slurp(DECODE_FIXTURE, &decode_len);
    every_failure("capture decode", scenario_decode, 1u << L_CAPTURE);
    assert_true(decode_packets > 0);
    free(decode_data);
}

static void test_import(void **state)
{
    (void)state;
    snprintf(import_out, sizeof(import_out), "/tmp/urg-alloc-%d-import.urgcap", (int)getpid());
    every_failure("pcap import", scenario_import, 1u << L_CAPTURE);
    free(import_ref);
    import_ref = NULL;
    unlink(import_out);
}

static void test_export(void **state)
{
    (void)state;
    snprintf(export_out, sizeof(export_out), "/tmp/urg-alloc-%d-export.pcap", (int)getpid());
    every_failure("pcap export", scenario_export, 1u << L_CAPTURE);
    assert_true(export_ref_len > 131072);
    free(export_ref);
    export_ref = NULL;
    unlink(export_out);
}

static void test_usbmon_import(void **state)
{
    (void)state;
    every_failure("usbmon import", scenario_usbmon, 1u << L_CAPTURE);
    assert_true(usbmon_ref_len > 1000);
    free(usbmon_ref);
    usbmon_ref = NULL;
}

static void test_reader(void **state)
{
    (void)state;
    every_failure("capture reader", scenario_reader, 1u << L_CAPTURE);
    assert_true(reader_sum > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transport_session), cmocka_unit_test(test_replay),
        cmocka_unit_test(test_replay_recorded),   cmocka_unit_test(test_decode),
        cmocka_unit_test(test_import),            cmocka_unit_test(test_usbmon_import),
        cmocka_unit_test(test_reader),            cmocka_unit_test(test_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

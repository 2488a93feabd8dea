/*
 * usbmon.c - a Linux usbmon capture (pcap link types USB_LINUX, 48-byte
 * headers, and USB_LINUX_MMAPPED, 64-byte ones) into a usbredir session:
 * one device's URBs as what a usb-guest would have asked for and a
 * usb-host answered (import.h; docs/transport.md, "Importing usbmon
 * captures").
 *
 * The file is read three times, each a stream (libpcap opens it again):
 *  1. survey: every device's URBs and data bytes, and whether it is a hub
 *     (its device or interface descriptors say class 9); the device is
 *     chosen: the one asked for, else the one with the most data that is
 *     not a hub;
 *  2. learn: that device's descriptors (device, configurations, whether it
 *     answered for a device qualifier), its endpoints as its URBs used
 *     them, what tells its speed;
 *  3. convert: the hellos (every cap), interface_info, ep_info and
 *     device_connect from the descriptors, then each URB as the usbredir
 *     packets of its request at its submission's time and of the answer at
 *     its completion's.
 *
 * A record's fields are in the byte order of the machine that captured it;
 * libpcap swaps them for a file written on the other one, so they are read
 * here in this machine's order. URBs are paired by (bus, address, endpoint,
 * transfer type, URB id), a control URB by its pipe whatever its
 * direction: QEMU's pcap= gives every control URB id 0, and its control
 * transfers are one at a time. QEMU's pcap= (bus 0) has more ways of its
 * own (docs/transport.md): one device at any address, control completions
 * written only for failures, IN submissions and OUT completions of length
 * 0, a submission written again after a NAK.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <sys/random.h>
#include <time.h>

#include "import.h"
#include "urg_codec.h"

#define SLOTS_FIRST 256       /* the table of URBs in flight: its first size, */
#define INFLIGHT_MAX 16384    /* doubled up to twice the URBs tracked at once */
#define DEVICES_MAX 1024      /* devices the survey tells apart */
#define CONFIGS_MAX 8         /* configuration descriptors kept */
#define ISODESC_LEN 16

enum { XFER_ISO = 0, XFER_INT = 1, XFER_CTRL = 2, XFER_BULK = 3 };

/* One usbmon record, parsed. */
struct ev {
    uint64_t id;
    char type;                /* 'S' submitted, 'C' completed, 'E' error */
    uint8_t xfer, ep, dev;    /* ep: with 0x80 for IN */
    uint16_t bus;
    bool has_setup;
    uint8_t setup[8];
    int32_t status;
    uint32_t length;          /* S: the transfer's length; C: actual */
    int32_t interval;         /* -1: not in the file (48-byte headers) */
    uint32_t numdesc, ndesc;  /* iso: packets; descriptors in the record */
    const uint8_t *desc;      /* ndesc * 16 bytes */
    const uint8_t *data;
    uint32_t data_len;        /* bytes captured */
    uint64_t t;               /* ns since the file's first record */
    uint64_t n;               /* the record's number, from 1 */
};

/* What an URB's request became in the session. */
enum { K_NONE, K_CONTROL, K_SETCFG, K_SETALT, K_GETCFG, K_GETALT, K_BULK, K_INTOUT };

/* An URB in flight: its submission. */
struct slot {
    bool used;
    uint8_t dev, ep, xfer;
    uint16_t bus;
    uint64_t id;
    uint64_t n;               /* the submission's record number */
    bool has_setup;
    uint8_t setup[8];
    uint32_t length;
    uint8_t kind;             /* K_* (convert) */
    bool late;                /* an IN request of unknown length (QEMU's
                                 pcap= gives none): made at its completion */
    uint64_t rid;             /* the request's usbredir id (convert) */
};

struct devstat {
    uint16_t bus;
    uint8_t dev;
    bool hub, have_desc;
    bool not_root_hub;        /* a transfer a root hub does not make: other
                                 than a status change (interrupt IN 0x81 of
                                 at most 4 bytes) */
    uint16_t vid, pid;
    uint64_t urbs, data, changes;
};

struct config {               /* a configuration descriptor, whole */
    uint8_t index;
    uint8_t *raw;
    uint32_t len;
};

struct epobs {                /* an endpoint as the device's URBs used it */
    bool seen;
    uint8_t xfer;
    int32_t interval;         /* the first URB's, -1 unknown */
    uint32_t max_len;         /* the largest transfer (iso: packet) */
    uint64_t first_t;
    uint32_t inflight, max_inflight;
};

struct um {
    struct import *x;
    uint64_t seed;            /* the URB table's hash: a file cannot choose
                                 ids that collide */
    uint32_t hdr;             /* 48 or 64 */
    uint64_t t0;
    bool have_t0;
    struct slot *slots;
    uint32_t nslots, slotcap; /* used; size (a power of 2) */
    uint64_t dropped;         /* submissions not tracked (table full) */
    uint64_t repeated;        /* submissions of an URB in flight again */
    uint64_t qemu_addrs[4];   /* bus 0 (QEMU's pcap=): the addresses seen */
    /* survey */
    struct devstat *devs;
    uint32_t ndevs;
    uint64_t more_devs;       /* URBs of devices past DEVICES_MAX */
    /* the device */
    uint16_t bus;
    uint8_t dev;
    /* learn */
    uint8_t devdesc[18];
    uint32_t devdesc_len;
    struct config cfgs[CONFIGS_MAX];
    uint32_t ncfgs;
    bool qualifier;
    struct epobs obs[32];
    int first_setcfg;         /* value of the first SET_CONFIGURATION, -1 none */
    uint64_t setif_t[256];    /* first SET_INTERFACE per interface (UINT64_MAX) */
    /* convert */
    int speed;                /* URG_SPEED_* */
    struct urg_wire w;
    uint8_t *buf;
    size_t bufcap;
    uint64_t next_id;
    const struct config *cur;
    int cur_value;
    uint8_t cur_alt[256];
    struct urg_packet cur_ep;  /* the ep_info in force */
    int started[32];          /* -1, or URG_START_* of the stream on it */
    uint64_t seq[32];         /* stream packet ids */
    uint64_t cut, unanswered, unmatched, unencodable;
    uint64_t unrecorded_out, unrecorded_in; /* control completions not in
                                 the file (QEMU's pcap=) */
    uint64_t *done_unrecorded; /* the record numbers of the control
                                 submissions found done with no record of
                                 it (learn), in order; */
    size_t ndone, donecap, donenext; /* the next one (convert) */
    int err;                  /* a write error, kept */
};

/* ---------------------------------------------------------------- records */

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Parses record n (caplen bytes at d): 0, or URG_ERR_PCAP after saying
 * why. */
static int parse(struct um *u, const struct pcap_pkthdr *h, const uint8_t *d, uint64_t n,
                 struct ev *e)
{
    uint32_t avail, ndesc;
    uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
    if (h->caplen < u->hdr)
        return import_fail(u->x, URG_ERR_PCAP,
                           "%s: record %llu is shorter than a usbmon header (%u of %u bytes)",
                           u->x->path, (unsigned long long)n, h->caplen, u->hdr);
    memset(e, 0, sizeof(*e));
    memcpy(&e->id, d, 8);
    e->type = (char)d[8];
    e->xfer = d[9] & 3;
    e->ep = d[10];
    e->dev = d[11];
    memcpy(&e->bus, d + 12, 2);
    if (e->bus == 0) {
        /* QEMU's pcap= (the only writer of bus 0: Linux numbers its buses
         * from 1) writes one device's URBs per file, at whatever address
         * the firmware and then the OS gave it: one device, 0.0. */
        u->qemu_addrs[e->dev >> 6] |= 1ull << (e->dev & 63);
        e->dev = 0;
    }
    e->has_setup = d[14] == 0;
    memcpy(e->setup, d + 40, 8);
    e->status = (int32_t)rd32(d + 28);
    e->length = rd32(d + 32);
    e->interval = u->hdr == 64 ? (int32_t)rd32(d + 48) : -1;
    avail = h->caplen - u->hdr;
    if (e->xfer == XFER_ISO) {
        e->numdesc = rd32(d + 44);
        /* Linux writes at most 128 descriptors (mon_bin.c); the 48-byte
         * header has no count of them. */
        ndesc = u->hdr == 64 ? rd32(d + 60) : (e->numdesc < 128 ? e->numdesc : 128);
        if (ndesc > avail / ISODESC_LEN)
            ndesc = avail / ISODESC_LEN;
        e->ndesc = ndesc;
        e->desc = d + u->hdr;
        avail -= ndesc * ISODESC_LEN;
    }
    /* The bytes present, whatever len_cap says (QEMU's counts its header). */
    e->data = d + h->caplen - avail;
    e->data_len = avail;
    if (!u->have_t0) {
        u->t0 = ts;
        u->have_t0 = true;
    }
    e->t = ts > u->t0 ? ts - u->t0 : 0;
    e->n = n;
    return 0;
}

/* ---------------------------------------------------------------- URBs in flight */

/* A control URB's submission and completion name the same endpoint; the
 * pipe, not its direction, is what pairs QEMU's (every one is id 0). */
static uint8_t key_ep(uint8_t ep, uint8_t xfer) { return xfer == XFER_CTRL ? ep & 0x0f : ep; }

/* splitmix64's finaliser: every bit of x moves every bit of the result. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint32_t slot_hash(const struct um *u, uint16_t bus, uint8_t dev, uint8_t ep,
                          uint8_t xfer, uint64_t id)
{
    ep = key_ep(ep, xfer);
    return (uint32_t)(mix(mix(id ^ u->seed) ^ ((uint64_t)bus << 24 | (uint64_t)dev << 16 |
                                               (uint64_t)ep << 8 | xfer)) >>
                      32) &
           (u->slotcap - 1);
}

static bool slot_is(const struct slot *s, const struct ev *e)
{
    return s->used && s->id == e->id && s->bus == e->bus && s->dev == e->dev &&
           s->xfer == e->xfer && key_ep(s->ep, s->xfer) == key_ep(e->ep, e->xfer);
}

static struct slot *slot_find(struct um *u, const struct ev *e)
{
    uint32_t h = slot_hash(u, e->bus, e->dev, e->ep, e->xfer, e->id);
    for (; u->slots[h].used; h = (h + 1) & (u->slotcap - 1))
        if (slot_is(&u->slots[h], e))
            return &u->slots[h];
    return NULL;
}

/* Removes s, moving back the entries that probed past it. */
static void slot_remove(struct um *u, struct slot *s)
{
    uint32_t i = (uint32_t)(s - u->slots), j = i;
    u->slots[i].used = false;
    u->nslots--;
    for (;;) {
        uint32_t k;
        j = (j + 1) & (u->slotcap - 1);
        if (!u->slots[j].used)
            return;
        k = slot_hash(u, u->slots[j].bus, u->slots[j].dev, u->slots[j].ep, u->slots[j].xfer,
                      u->slots[j].id);
        /* j stays if its home k lies cyclically in (i, j] */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        u->slots[i] = u->slots[j];
        u->slots[j].used = false;
        i = j;
    }
}

/* Where s goes in the table (its first free place from its home). */
static struct slot *slot_place(struct um *u, const struct slot *s)
{
    uint32_t h = slot_hash(u, s->bus, s->dev, s->ep, s->xfer, s->id);
    while (u->slots[h].used)
        h = (h + 1) & (u->slotcap - 1);
    return &u->slots[h];
}

/* The table twice as large: 0, or URG_ERR_NOMEM. */
static int slot_grow(struct um *u)
{
    struct slot *old = u->slots;
    uint32_t oldcap = u->slotcap;
    if (!(u->slots = urgi_calloc(u->x->alloc, (size_t)oldcap * 2 * sizeof(*old)))) {
        u->slots = old;
        return URG_ERR_NOMEM;
    }
    u->slotcap = oldcap * 2;
    for (uint32_t i = 0; i < oldcap; i++)
        if (old[i].used)
            *slot_place(u, &old[i]) = old[i];
    urgi_free(u->x->alloc, old);
    return 0;
}

/* A submission (none with its key in flight): 0 and its slot in *out,
 * NULL when too many are in flight; or URG_ERR_NOMEM. */
static int slot_add(struct um *u, const struct ev *e, struct slot **out)
{
    struct slot *s, key;
    int rc;
    *out = NULL;
    if (u->nslots >= INFLIGHT_MAX) {
        u->dropped++;
        return 0;
    }
    if ((u->nslots + 1) * 2 > u->slotcap && (rc = slot_grow(u)))
        return rc;
    key.bus = e->bus;
    key.dev = e->dev;
    key.ep = e->ep;
    key.xfer = e->xfer;
    key.id = e->id;
    s = slot_place(u, &key);
    memset(s, 0, sizeof(*s));
    s->used = true;
    s->id = e->id;
    s->bus = e->bus;
    s->dev = e->dev;
    s->ep = e->ep;
    s->xfer = e->xfer;
    s->has_setup = e->has_setup;
    memcpy(s->setup, e->setup, 8);
    s->length = e->length;
    s->n = e->n;
    u->nslots++;
    *out = s;
    return 0;
}

/* Each record of the file (of the device only when one_device) through fn,
 * with the slot of its submission (NULL: none known; for an 'S', NULL when
 * it could not be tracked). The slot of a completion is freed after fn.
 * Returns 0, fn's error, or URG_ERR_PCAP after saying why. */
static int walk(struct um *u, bool one_device, int (*fn)(struct um *u, const struct ev *e,
                                                          struct slot *s))
{
    char ebuf[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t n = 0;
    pcap_t *pc;
    int nx, rc = 0;
    memset(u->slots, 0, u->slotcap * sizeof(*u->slots));
    u->nslots = 0;
    u->dropped = u->repeated = 0;
    u->have_t0 = false;
    pc = pcap_open_offline_with_tstamp_precision(u->x->path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!pc)
        return import_fail(u->x, URG_ERR_PCAP, "%s: %s", u->x->path, ebuf);
    while ((nx = pcap_next_ex(pc, &h, &d)) == 1) {
        struct ev e;
        struct slot *s;
        if ((rc = parse(u, h, d, ++n, &e)))
            break;
        if (one_device && (e.bus != u->bus || e.dev != u->dev))
            continue;
        if (e.type == 'S') {
            if ((s = slot_find(u, &e)) && e.xfer == XFER_CTRL && !e.bus) {
                /* A control transfer on the pipe again: the one before
                 * completed with no record of it (QEMU's pcap=, bus 0,
                 * writes the completions of failed ones only): 'U'. */
                struct ev done = e;
                done.type = 'U';
                done.status = 0;
                done.length = (uint32_t)(s->setup[6] | s->setup[7] << 8);
                done.data = NULL;
                done.data_len = 0;
                done.ndesc = 0;
                if ((rc = fn(u, &done, s)))
                    break;
                slot_remove(u, s);
            } else if (s && e.xfer == XFER_CTRL) {
                /* Linux's usbmon lost the completion (its buffer ran
                 * over): the one before stays unanswered. */
                u->dropped++;
                slot_remove(u, s);
            } else if (s) {
                u->repeated++; /* the same URB again (QEMU's after a NAK): one */
                continue;
            }
            if ((rc = slot_add(u, &e, &s)) || (rc = fn(u, &e, s)))
                break;
        } else if (e.type == 'C' || e.type == 'E') {
            s = slot_find(u, &e);
            if ((rc = fn(u, &e, s)))
                break;
            if (s)
                slot_remove(u, s);
        }
    }
    if (!rc && nx == PCAP_ERROR)
        rc = import_fail(u->x, URG_ERR_PCAP, "%s: %s", u->x->path, pcap_geterr(pc));
    pcap_close(pc);
    return rc;
}

/* ---------------------------------------------------------------- descriptors */

static bool is_get_descriptor(const struct slot *s, uint8_t type)
{
    return s && s->xfer == XFER_CTRL && s->has_setup && s->setup[0] == 0x80 &&
           s->setup[1] == 6 && s->setup[3] == type;
}

/* Each interface, alternate setting and endpoint descriptor of a
 * configuration, in order: fn(ctx, d) with d the descriptor (at least its
 * type's length; an interface's or endpoint's cut short ends the walk),
 * iface the interface descriptor it comes after (NULL: none yet). */
#define CONFIG_WALK_MAX 1024

static void config_walk(const struct config *c, void *ctx,
                        void (*fn)(void *ctx, const uint8_t *iface, const uint8_t *d))
{
    const uint8_t *iface = NULL;
    uint32_t total;
    if (!c || c->len < 9)
        return;
    total = (uint32_t)(c->raw[2] | c->raw[3] << 8);
    if (total > c->len)
        total = c->len;
    /* At most CONFIG_WALK_MAX descriptors: a configuration of thousands of
     * tiny ones would make every walk (one per SET_INTERFACE) slow. */
    for (uint32_t seen = 0, off = c->raw[0] >= 2 ? c->raw[0] : 9;
         off + 2 <= total && seen < CONFIG_WALK_MAX; seen++) {
        const uint8_t *d = c->raw + off;
        if (d[0] < 2 || off + d[0] > total)
            return;
        if ((d[1] == 4 && d[0] < 9) || (d[1] == 5 && d[0] < 7))
            return;
        if (d[1] == 4)
            iface = d;
        fn(ctx, iface, d);
        off += d[0];
    }
}

static const struct config *config_by_value(const struct um *u, int value)
{
    for (uint32_t i = 0; i < u->ncfgs; i++)
        if (u->cfgs[i].len >= 9 && u->cfgs[i].raw[5] == value)
            return &u->cfgs[i];
    return NULL;
}

static void find_hub(void *ctx, const uint8_t *iface, const uint8_t *d)
{
    (void)iface;
    if (d[1] == 4 && d[5] == 9)
        *(bool *)ctx = true;
}

/* ---------------------------------------------------------------- 1: survey */

static struct devstat *devstat(struct um *u, uint16_t bus, uint8_t dev)
{
    static const struct devstat none;
    for (uint32_t i = 0; i < u->ndevs; i++)
        if (u->devs[i].bus == bus && u->devs[i].dev == dev)
            return &u->devs[i];
    if (u->ndevs == DEVICES_MAX)
        return NULL;
    u->devs[u->ndevs] = none;
    u->devs[u->ndevs].bus = bus;
    u->devs[u->ndevs].dev = dev;
    return &u->devs[u->ndevs++];
}

static int survey(struct um *u, const struct ev *e, struct slot *s)
{
    struct devstat *ds = devstat(u, e->bus, e->dev);
    bool in = e->ep & 0x80;
    if (!ds) {
        u->more_devs++;
        return 0;
    }
    if (e->type == 'S' && e->xfer != XFER_CTRL && !in)
        ds->data += e->data_len;
    if (e->type != 'C' && e->type != 'U')
        return 0;
    ds->urbs++;
    if (e->xfer != XFER_CTRL && in)
        ds->data += e->data_len;
    if (e->xfer != XFER_CTRL) {
        if (e->xfer == XFER_INT && e->ep == 0x81 && e->data_len <= 4)
            ds->changes++;
        else
            ds->not_root_hub = true;
    }
    if (e->status != 0)
        return 0;
    if (is_get_descriptor(s, 1) && e->data_len >= 8 && e->data[1] == 1) {
        ds->hub = ds->hub || e->data[4] == 9;
        if (e->data_len >= 12) {
            ds->have_desc = true;
            ds->vid = (uint16_t)(e->data[8] | e->data[9] << 8);
            ds->pid = (uint16_t)(e->data[10] | e->data[11] << 8);
        }
    } else if (is_get_descriptor(s, 2) && e->data_len >= 9 && e->data[1] == 2) {
        struct config c = { 0, (uint8_t *)(uintptr_t)e->data, e->data_len };
        config_walk(&c, &ds->hub, find_hub);
    }
    return 0;
}

/* A hub: its descriptors say class 9; or, with no device descriptor in
 * the capture (a root hub is enumerated at boot), it is at address 1 -
 * Linux's root hubs' - and its transfers are all status changes. */
static bool is_hub(const struct devstat *d)
{
    return d->hub || (!d->have_desc && d->dev == 1 && d->changes && !d->not_root_hub);
}

/* Picks the device (u->bus, u->dev) and says which and why. */
static int choose(struct um *u)
{
    const struct urg_import_config *cfg = u->x->cfg;
    const struct devstat *best = NULL;
    uint32_t i, hubs = 0;
    char list[200];
    size_t n = 0;
    list[0] = 0;
    for (i = 0; i < u->ndevs && n < sizeof(list) - 16; i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%u.%u", i ? ", " : "",
                              u->devs[i].bus, u->devs[i].dev);
    if (i < u->ndevs)
        snprintf(list + n, sizeof(list) - n, ", ...");
    if (!u->ndevs)
        return import_fail(u->x, URG_ERR_PCAP, "%s: no URBs in the usbmon capture", u->x->path);
    if (cfg->usb_bus >= 0) {
        for (i = 0; i < u->ndevs; i++)
            if (u->devs[i].bus == cfg->usb_bus && u->devs[i].dev == cfg->usb_address)
                best = &u->devs[i];
        if (!best)
            return import_fail(u->x, URG_ERR_PCAP,
                               "%s: no URBs of usb device %d.%d in the capture (its devices: %s)",
                               u->x->path, cfg->usb_bus, cfg->usb_address, list);
    } else {
        for (i = 0; i < u->ndevs; i++) {
            const struct devstat *d = &u->devs[i];
            if (is_hub(d)) {
                hubs++;
                continue;
            }
            if (!best || d->data > best->data || (d->data == best->data && d->urbs > best->urbs))
                best = d;
        }
        if (!best)
            return import_fail(u->x, URG_ERR_PCAP,
                               "%s: only hubs in the capture (%s): ask for one by its bus and "
                               "address",
                               u->x->path, list);
    }
    u->bus = best->bus;
    u->dev = best->dev;
    if (u->bus == 0 && (u->qemu_addrs[0] | u->qemu_addrs[1] | u->qemu_addrs[2] |
                        u->qemu_addrs[3])) {
        char addrs[128];
        size_t k = 0;
        addrs[0] = 0;
        for (int a = 0; a < 256 && k < sizeof(addrs) - 8; a++)
            if (u->qemu_addrs[a >> 6] & (1ull << (a & 63)))
                k += (size_t)snprintf(addrs + k, sizeof(addrs) - k, "%s%d", k ? ", " : "", a);
        import_note(u->x, "bus 0: QEMU's pcap=, one device per file (at addresses %s: 0.0)",
                    addrs);
    }
    {
        char id[16] = "";
        if (best->have_desc)
            snprintf(id, sizeof(id), " (%04x:%04x)", best->vid, best->pid);
        if (cfg->usb_bus >= 0)
            import_note(u->x, "usb device %u.%u%s: the one asked for", best->bus, best->dev, id);
        else if (u->ndevs == 1)
            import_note(u->x, "usb device %u.%u%s: the only one in the capture", best->bus,
                        best->dev, id);
        else
            import_note(u->x,
                        "usb device %u.%u%s: the one with the most data (%llu bytes) of the "
                        "%u devices (%s)%s",
                        best->bus, best->dev, id, (unsigned long long)best->data, u->ndevs, list,
                        hubs ? ", hubs aside" : "");
    }
    return 0;
}

/* ---------------------------------------------------------------- 2: learn */

static int keep_config(struct um *u, uint8_t index, const uint8_t *d, uint32_t len)
{
    struct config *c = NULL;
    uint8_t *raw;
    for (uint32_t i = 0; i < u->ncfgs; i++)
        if (u->cfgs[i].index == index)
            c = &u->cfgs[i];
    if (c && c->len >= len)
        return 0; /* the longest stays (read with wLength 9 first, then whole) */
    if (!c) {
        if (u->ncfgs == CONFIGS_MAX)
            return 0;
        c = &u->cfgs[u->ncfgs++];
        memset(c, 0, sizeof(*c));
        c->index = index;
    }
    if (!(raw = urgi_realloc(u->x->alloc, c->raw, len)))
        return URG_ERR_NOMEM;
    memcpy(raw, d, len);
    c->raw = raw;
    c->len = len;
    return 0;
}

static int learn(struct um *u, const struct ev *e, struct slot *s)
{
    int i = urg_ep_index(e->ep);
    struct epobs *o = &u->obs[i];
    uint32_t len = e->data_len;
    if (e->type == 'U' && s) {
        /* convert answers it right after its request */
        if (u->ndone == u->donecap) {
            size_t nc = u->donecap ? u->donecap * 2 : 64;
            uint64_t *nd;
            if (nc * sizeof(*nd) > u->x->budget)
                return import_fail(u->x, URG_ERR_PCAP,
                                   "%s: too many control transfers to follow within %zu bytes "
                                   "(max_bytes)",
                                   u->x->path, u->x->budget);
            if (!(nd = urgi_realloc(u->x->alloc, u->done_unrecorded, nc * sizeof(*nd))))
                return URG_ERR_NOMEM;
            u->done_unrecorded = nd;
            u->donecap = nc;
        }
        u->done_unrecorded[u->ndone++] = s->n;
    }
    if (e->xfer != XFER_CTRL) {
        if (!o->seen) {
            o->seen = true;
            o->xfer = e->xfer;
            o->interval = e->interval;
            o->first_t = e->t;
        }
        if (e->type == 'S') {
            if (++o->inflight > o->max_inflight)
                o->max_inflight = o->inflight;
        } else if (o->inflight && s) {
            o->inflight--;
        }
        if (e->xfer == XFER_ISO) {
            for (uint32_t k = 0; k < e->ndesc; k++)
                if (rd32(e->desc + k * ISODESC_LEN + 8) > o->max_len)
                    o->max_len = rd32(e->desc + k * ISODESC_LEN + 8);
        } else if (e->length > o->max_len && (e->type == 'C' || !(e->ep & 0x80))) {
            o->max_len = e->length;
        }
        return 0;
    }
    if (!s || !s->has_setup || (e->type != 'C' && e->type != 'U') || e->status != 0)
        return 0;
    if (s->setup[0] == 0x00 && s->setup[1] == 9 && u->first_setcfg < 0 && s->setup[2])
        u->first_setcfg = s->setup[2];
    if (s->setup[0] == 0x01 && s->setup[1] == 0x0b && u->setif_t[s->setup[4]] == UINT64_MAX)
        u->setif_t[s->setup[4]] = e->t;
    if (is_get_descriptor(s, 1) && len >= 8 && e->data[1] == 1 && len > u->devdesc_len) {
        u->devdesc_len = len < 18 ? len : 18;
        memcpy(u->devdesc, e->data, u->devdesc_len);
    } else if (is_get_descriptor(s, 2) && len >= 9 && e->data[1] == 2) {
        return keep_config(u, s->setup[2], e->data, len > 65535 ? 65535 : len);
    } else if (is_get_descriptor(s, 6) && len >= 2) {
        u->qualifier = true;
    }
    return 0;
}

/* The configuration's endpoint descriptor of ep (address), and the
 * interface descriptor before it, in the alternate setting alt of its
 * interface (-1: any). */
struct ep_find {
    uint8_t ep;
    int alt;
    const uint8_t *iface, *d;
};
static void ep_find_fn(void *ctx, const uint8_t *iface, const uint8_t *d)
{
    struct ep_find *f = ctx;
    if (!f->d && iface && d[1] == 5 && d[2] == f->ep && (f->alt < 0 || iface[3] == f->alt)) {
        f->iface = iface;
        f->d = d;
    }
}

/* What the descriptors and URBs say the speed is; why into the note. */
struct speed_scan {
    int speed;
    char why[96];
};
static void speed_fn(void *ctx, const uint8_t *iface, const uint8_t *d)
{
    struct speed_scan *s = ctx;
    uint16_t mps;
    (void)iface;
    if (d[1] != 5 || s->speed >= URG_SPEED_HIGH)
        return;
    mps = (uint16_t)(d[4] | d[5] << 8);
    if ((d[3] & 3) == 2 && mps == 512) {
        s->speed = URG_SPEED_HIGH;
        snprintf(s->why, sizeof(s->why), "bulk endpoint 0x%02x of 512 bytes", d[2]);
    } else if ((d[3] & 1) && ((mps >> 11) & 3)) {
        s->speed = URG_SPEED_HIGH;
        snprintf(s->why, sizeof(s->why), "endpoint 0x%02x of %u transactions a microframe",
                 d[2], ((mps >> 11) & 3) + 1);
    } else if ((d[3] & 3) == 3 && (mps & 0x7ff) > 64) {
        s->speed = URG_SPEED_HIGH;
        snprintf(s->why, sizeof(s->why), "interrupt endpoint 0x%02x of %u bytes", d[2],
                 mps & 0x7ff);
    }
}

static int guess_speed(struct um *u, char *why, size_t cap)
{
    struct speed_scan sc = { URG_SPEED_FULL, "" };
    uint32_t i;
    if (u->devdesc_len >= 8) {
        uint16_t bcd = (uint16_t)(u->devdesc[2] | u->devdesc[3] << 8);
        if (bcd >= 0x0300 || u->devdesc[7] == 9) {
            snprintf(why, cap, "bcdUSB %x.%02x", bcd >> 8, bcd & 0xff);
            return URG_SPEED_SUPER;
        }
    }
    for (i = 0; i < u->ncfgs && sc.speed < URG_SPEED_HIGH; i++)
        config_walk(&u->cfgs[i], &sc, speed_fn);
    if (sc.speed == URG_SPEED_HIGH) {
        snprintf(why, cap, "%s", sc.why);
        return sc.speed;
    }
    /* An interrupt URB's interval: 2^(bInterval-1) microframes at high
     * speed, bInterval rounded down to a power of 2 frames below it. */
    for (i = 0; i < 32; i++) {
        struct ep_find f = { urg_ep_address((int)i), -1, NULL, NULL };
        uint32_t hs, fs, b;
        if (!u->obs[i].seen || u->obs[i].xfer != XFER_INT || u->obs[i].interval <= 0)
            continue;
        for (uint32_t k = 0; k < u->ncfgs && !f.d; k++)
            config_walk(&u->cfgs[k], &f, ep_find_fn);
        if (!f.d || !(b = f.d[6]))
            continue;
        hs = 1u << ((b > 16 ? 16 : b) - 1);
        for (fs = 1; fs * 2 <= b; fs *= 2)
            ;
        if ((uint32_t)u->obs[i].interval == hs && hs != fs) {
            snprintf(why, cap, "interval %u microframes for bInterval %u on endpoint 0x%02x", hs,
                     b, f.d[2]);
            return URG_SPEED_HIGH;
        }
        if ((uint32_t)u->obs[i].interval == fs && hs != fs) {
            snprintf(why, cap, "interval %u frames for bInterval %u on endpoint 0x%02x", fs, b,
                     f.d[2]);
            return URG_SPEED_FULL;
        }
    }
    if (u->qualifier) {
        snprintf(why, cap, "it has a device qualifier");
        return URG_SPEED_HIGH;
    }
    snprintf(why, cap, "nothing in the capture says high or SuperSpeed");
    return URG_SPEED_FULL;
}

/* ---------------------------------------------------------------- 3: convert */

/* Writes p (going dir, at t) into the capture. A packet that cannot be
 * encoded is counted and left out; a write error ends the import. */
static int put(struct um *u, enum urg_dir dir, uint64_t t, struct urg_packet *p)
{
    static const struct urg_wire before_hellos = { 0, 0 };
    const struct urg_wire *w = p->type == URG_HELLO ? &before_hellos : &u->w;
    int n = urg_encoded_header_len(w, p, dir), rc;
    size_t need;
    if (n < 0) {
        u->unencodable++;
        return 0;
    }
    need = (size_t)n + p->data_len;
    if (need > u->bufcap) {
        uint8_t *nb = urgi_realloc(u->x->alloc, u->buf, need);
        if (!nb)
            return u->err = URG_ERR_NOMEM;
        u->buf = nb;
        u->bufcap = need;
    }
    n = urg_encode(w, dir, p, u->buf, u->bufcap);
    if (n < 0) {
        u->unencodable++;
        return 0;
    }
    if (p->data_len)
        memcpy(u->buf + n, p->data, p->data_len);
    rc = urg_capture_write_at(u->x->cap, dir == URG_DIR_TO_HOST ? URG_CAP_GUEST : URG_CAP_HOST, t,
                              u->buf, (size_t)n + p->data_len);
    if (rc)
        return u->err = import_fail(u->x, rc, "%s: cannot write the capture: %s",
                                    u->x->out_path ? u->x->out_path : u->x->path,
                                    urg_strerror(rc));
    return 0;
}

static void pkt(struct urg_packet *p, uint32_t type, uint64_t id)
{
    memset(p, 0, sizeof(*p));
    p->type = type;
    p->id = id;
}

/* A completion's usbredir status: Linux's (a negative errno) mapped; -1
 * for a device that went away (no answer). -EREMOTEIO is a short read
 * with URB_SHORT_NOT_OK in Linux (data came: success), and every failure
 * but ENODEV in QEMU's pcap= (qemu: bus 0; a stall). */
static int status_of(int32_t st, bool data, bool qemu)
{
    switch (st) {
    case 0: return URG_STATUS_SUCCESS;
    case -EPIPE: return URG_STATUS_STALL;
    case -ENOENT:
    case -ECONNRESET: return URG_STATUS_CANCELLED;
    case -ETIMEDOUT:
    case -ETIME: return URG_STATUS_TIMEOUT;
    case -EOVERFLOW: return URG_STATUS_BABBLE;
    case -EREMOTEIO: return data && !qemu ? URG_STATUS_SUCCESS : URG_STATUS_STALL;
    case -ENODEV:
    case -ESHUTDOWN: return -1;
    default: return URG_STATUS_IOERROR;
    }
}

struct infos_build {
    struct um *u;
    struct urg_packet *ii, *ei;
    bool in_alt;
};
static void infos_fn(void *ctx, const uint8_t *iface, const uint8_t *d)
{
    struct infos_build *b = ctx;
    struct urg_interface_info *ii = &b->ii->h.interface_info;
    struct urg_ep_info *ei = &b->ei->h.ep_info;
    if (d[1] == 4) {
        bool listed = false;
        b->in_alt = d[3] == b->u->cur_alt[d[2]];
        for (uint32_t k = 0; k < ii->interface_count; k++)
            listed = listed || ii->interface[k] == d[2];
        if (b->in_alt && !listed && ii->interface_count < 32) {
            uint32_t k = ii->interface_count++;
            ii->interface[k] = d[2];
            ii->interface_class[k] = d[5];
            ii->interface_subclass[k] = d[6];
            ii->interface_protocol[k] = d[7];
        }
    } else if (d[1] == 5 && iface && b->in_alt && (d[2] & 0x0f)) {
        int i = urg_ep_index(d[2]);
        uint16_t mps = (uint16_t)(d[4] | d[5] << 8);
        ei->type[i] = d[3] & 3;
        ei->interval[i] = d[6];
        ei->interface[i] = iface[2];
        /* as libusbredirhost: the bytes of a microframe's transactions */
        ei->max_packet_size[i] = (uint16_t)((mps & 0x7ff) * (((mps >> 11) & 3) + 1));
    }
}

/* usbmon's interval (frames or microframes) back to a bInterval. */
static uint8_t binterval(int speed, uint8_t xfer, int32_t v)
{
    uint8_t b = 1;
    if (v <= 0)
        return 1;
    if (xfer == XFER_INT && speed < URG_SPEED_HIGH)
        return (uint8_t)(v > 255 ? 255 : v);
    while (b < 16 && (1 << (b - 1)) < v)
        b++;
    return b;
}

/* interface_info and ep_info as they are now: from the configuration's
 * descriptors with the alternate settings in force, or (no configuration
 * descriptor) one interface with the endpoints the URBs used. */
static void infos_now(struct um *u, struct urg_packet *ii, struct urg_packet *ei)
{
    int speed = u->speed;
    struct urg_ep_info *e = &ei->h.ep_info;
    uint8_t mps0 = u->devdesc_len >= 8 ? u->devdesc[7] : 64;
    pkt(ii, URG_INTERFACE_INFO, 0);
    pkt(ei, URG_EP_INFO, 0);
    memset(e->type, URG_EP_INVALID, 32);
    e->type[0] = e->type[16] = URG_EP_CONTROL;
    e->max_packet_size[0] = e->max_packet_size[16] = mps0 == 9 ? 512 : mps0;
    if (u->cur) {
        struct infos_build b = { u, ii, ei, false };
        config_walk(u->cur, &b, infos_fn);
        return;
    }
    ii->h.interface_info.interface_count = 1;
    ii->h.interface_info.interface_class[0] = 0xff;
    for (int i = 0; i < 32; i++) {
        const struct epobs *o = &u->obs[i];
        uint32_t mps = o->max_len;
        if (!o->seen || !(i & 0x0f))
            continue;
        e->type[i] = o->xfer == XFER_ISO ? URG_EP_ISO
                     : o->xfer == XFER_INT ? URG_EP_INTERRUPT
                                           : URG_EP_BULK;
        e->interval[i] = o->xfer == XFER_BULK ? 0 : binterval(speed, o->xfer, o->interval);
        if (o->xfer == XFER_BULK)
            mps = speed == URG_SPEED_SUPER ? 1024 : speed == URG_SPEED_HIGH ? 512 : 64;
        e->max_packet_size[i] = (uint16_t)(mps > 3072 ? 3072 : mps ? mps : 8);
    }
}

static int send_infos(struct um *u, uint64_t t)
{
    struct urg_packet ii, ei;
    int rc;
    infos_now(u, &ii, &ei);
    u->cur_ep = ei;
    if ((rc = put(u, URG_DIR_TO_GUEST, t, &ii)))
        return rc;
    return put(u, URG_DIR_TO_GUEST, t, &ei);
}

/* Stops the streams running on the endpoints of interface iface (-1:
 * every one), as a guest does before changing settings: each stop and the
 * host's status. */
static int stop_streams(struct um *u, int iface, uint64_t t)
{
    for (int i = 0; i < 32; i++) {
        struct urg_packet p, st;
        uint8_t ep = urg_ep_address(i);
        int rc;
        if (u->started[i] < 0 || (iface >= 0 && u->cur_ep.h.ep_info.interface[i] != iface))
            continue;
        if (u->started[i] == URG_START_ISO_STREAM) {
            pkt(&p, URG_STOP_ISO_STREAM, u->next_id);
            p.h.stop_iso_stream.endpoint = ep;
            pkt(&st, URG_ISO_STREAM_STATUS, u->next_id++);
            st.h.iso_stream_status.endpoint = ep;
        } else {
            pkt(&p, URG_STOP_INTERRUPT_RECEIVING, u->next_id);
            p.h.stop_interrupt_receiving.endpoint = ep;
            pkt(&st, URG_INTERRUPT_RECEIVING_STATUS, u->next_id++);
            st.h.interrupt_receiving_status.endpoint = ep;
        }
        u->started[i] = -1;
        if ((rc = put(u, URG_DIR_TO_HOST, t, &p)) || (rc = put(u, URG_DIR_TO_GUEST, t, &st)))
            return rc;
    }
    return 0;
}

/* Starts the stream of an IN interrupt or iso endpoint (or iso OUT) if it
 * does not run: the start and the host's status. */
static int start_stream(struct um *u, const struct ev *e, uint64_t t)
{
    int i = urg_ep_index(e->ep), rc;
    struct urg_packet p, st;
    if (u->started[i] >= 0)
        return 0;
    if (e->xfer == XFER_ISO) {
        uint32_t per = e->numdesc ? e->numdesc : 1, urbs = u->obs[i].max_inflight;
        pkt(&p, URG_START_ISO_STREAM, u->next_id);
        p.h.start_iso_stream.endpoint = e->ep;
        p.h.start_iso_stream.pkts_per_urb = (uint8_t)(per > 32 ? 32 : per);
        p.h.start_iso_stream.no_urbs = (uint8_t)(urbs > 16 ? 16 : urbs ? urbs : 1);
        pkt(&st, URG_ISO_STREAM_STATUS, u->next_id++);
        st.h.iso_stream_status.endpoint = e->ep;
        u->started[i] = URG_START_ISO_STREAM;
    } else {
        pkt(&p, URG_START_INTERRUPT_RECEIVING, u->next_id);
        p.h.start_interrupt_receiving.endpoint = e->ep;
        pkt(&st, URG_INTERRUPT_RECEIVING_STATUS, u->next_id++);
        st.h.interrupt_receiving_status.endpoint = e->ep;
        u->started[i] = URG_START_INTERRUPT_RECEIVING;
    }
    if ((rc = put(u, URG_DIR_TO_HOST, t, &p)))
        return rc;
    return put(u, URG_DIR_TO_GUEST, t, &st);
}

/* The bytes of a transfer that the capture has, at most want: counted
 * when fewer. */
static uint32_t have(struct um *u, const struct ev *e, uint32_t want)
{
    if (e->data_len >= want)
        return want;
    u->cut++;
    return e->data_len;
}

static int convert_complete(struct um *u, const struct ev *e, struct slot *s);

/* Was the control submission e found done with no record of it (learn)?
 * Then it is answered right after its request. */
static bool done_unrecorded(struct um *u, const struct ev *e)
{
    while (u->donenext < u->ndone && u->done_unrecorded[u->donenext] < e->n)
        u->donenext++;
    return u->donenext < u->ndone && u->done_unrecorded[u->donenext] == e->n;
}

/* A submission: the request it becomes. */
static int convert_submit(struct um *u, const struct ev *e, struct slot *s)
{
    struct urg_packet p;
    bool in = e->ep & 0x80;
    int rc;
    if (e->xfer == XFER_CTRL) {
        uint8_t rt = e->setup[0], req = e->setup[1];
        uint16_t value = (uint16_t)(e->setup[2] | e->setup[3] << 8);
        uint16_t index = (uint16_t)(e->setup[4] | e->setup[5] << 8);
        uint16_t wlen = (uint16_t)(e->setup[6] | e->setup[7] << 8);
        if (!e->has_setup || !s || (rt == 0x00 && req == 5))
            return 0; /* no setup; or SET_ADDRESS, the usb-host's own */
        /* a guest stops the streams a change of settings ends first */
        if (rt == 0x00 && req == 9 && (rc = stop_streams(u, -1, e->t)))
            return rc;
        if (rt == 0x01 && req == 0x0b && (rc = stop_streams(u, index & 0xff, e->t)))
            return rc;
        s->rid = u->next_id++;
        if (rt == 0x00 && req == 9) {
            pkt(&p, URG_SET_CONFIGURATION, s->rid);
            p.h.set_configuration.configuration = (uint8_t)value;
            s->kind = K_SETCFG;
        } else if (rt == 0x01 && req == 0x0b) {
            pkt(&p, URG_SET_ALT_SETTING, s->rid);
            p.h.set_alt_setting.interface = (uint8_t)index;
            p.h.set_alt_setting.alt = (uint8_t)value;
            s->kind = K_SETALT;
        } else if (rt == 0x80 && req == 8) {
            pkt(&p, URG_GET_CONFIGURATION, s->rid);
            s->kind = K_GETCFG;
        } else if (rt == 0x81 && req == 0x0a) {
            pkt(&p, URG_GET_ALT_SETTING, s->rid);
            p.h.get_alt_setting.interface = (uint8_t)index;
            s->kind = K_GETALT;
        } else {
            pkt(&p, URG_CONTROL_PACKET, s->rid);
            p.h.control.endpoint = rt & 0x80;
            p.h.control.requesttype = rt;
            p.h.control.request = req;
            p.h.control.value = value;
            p.h.control.index = index;
            p.h.control.length = wlen;
            if (!(rt & 0x80) && wlen) {
                p.data = e->data;
                p.data_len = have(u, e, wlen);
                p.h.control.length = (uint16_t)p.data_len;
            }
            s->kind = K_CONTROL;
        }
        if ((rc = put(u, URG_DIR_TO_HOST, e->t, &p)))
            return rc;
        if (done_unrecorded(u, e)) {
            struct ev done = *e;
            done.type = 'U';
            done.status = 0;
            done.length = wlen;
            done.data = NULL;
            done.data_len = 0;
            rc = convert_complete(u, &done, s);
            s->kind = K_NONE; /* answered */
            return rc;
        }
        return 0;
    }
    if ((e->xfer == XFER_INT || e->xfer == XFER_ISO) && in)
        return start_stream(u, e, e->t); /* the completions are its data */
    if (e->xfer == XFER_ISO) {
        /* iso OUT: the stream, then each packet the guest sends */
        int i = urg_ep_index(e->ep);
        if ((rc = start_stream(u, e, e->t)))
            return rc;
        for (uint32_t k = 0, budget = e->data_len; k < e->ndesc; k++) {
            uint32_t off = rd32(e->desc + k * ISODESC_LEN + 4);
            uint32_t len = rd32(e->desc + k * ISODESC_LEN + 8);
            pkt(&p, URG_ISO_PACKET, u->seq[i]++);
            p.h.iso.endpoint = e->ep;
            if (len > 0xffff)
                len = 0xffff;
            if (off > e->data_len || len > e->data_len - off) {
                u->cut++;
                len = off > e->data_len ? 0 : e->data_len - off;
            }
            /* Descriptors that overlap: no more bytes out than the record
             * holds (else a small file writes a huge capture). */
            if (len > budget) {
                u->cut++;
                len = budget;
            }
            budget -= len;
            p.h.iso.length = (uint16_t)len;
            p.data = len ? e->data + off : NULL;
            p.data_len = len;
            if ((rc = put(u, URG_DIR_TO_HOST, e->t, &p)))
                return rc;
        }
        return 0;
    }
    if (!s)
        return 0;
    if (in && !e->length) {
        /* an IN transfer of unknown length (QEMU's pcap= writes 0): its
         * request is made at its completion, as long as what came */
        s->kind = K_BULK;
        s->late = true;
        return 0;
    }
    s->rid = u->next_id++;
    if (e->xfer == XFER_BULK) {
        pkt(&p, URG_BULK_PACKET, s->rid);
        p.h.bulk.endpoint = e->ep;
        p.h.bulk.length = e->length > URG_MAX_BULK_LENGTH ? URG_MAX_BULK_LENGTH : e->length;
        s->kind = K_BULK;
    } else {
        pkt(&p, URG_INTERRUPT_PACKET, s->rid);
        p.h.interrupt.endpoint = e->ep;
        s->kind = K_INTOUT;
    }
    if (!in) {
        p.data = e->data;
        p.data_len = have(u, e, e->length > 0xffff && e->xfer == XFER_INT ? 0xffff : e->length);
        if (p.data_len > URG_MAX_BULK_LENGTH)
            p.data_len = URG_MAX_BULK_LENGTH;
        if (e->xfer == XFER_BULK)
            p.h.bulk.length = p.data_len;
        else
            p.h.interrupt.length = (uint16_t)p.data_len;
    }
    return put(u, URG_DIR_TO_HOST, e->t, &p);
}

/* A completion of an IN interrupt or iso endpoint: the stream's data. */
static int convert_stream_data(struct um *u, const struct ev *e)
{
    int i = urg_ep_index(e->ep), st = status_of(e->status, e->data_len > 0, !e->bus), rc;
    struct urg_packet p;
    if (st < 0 || (st == URG_STATUS_CANCELLED && !e->data_len))
        return 0; /* stopped, or the device went */
    if ((rc = start_stream(u, e, e->t)))
        return rc; /* (an URB submitted before the capture began) */
    if (e->xfer == XFER_INT) {
        pkt(&p, URG_INTERRUPT_PACKET, u->seq[i]++);
        p.h.interrupt.endpoint = e->ep;
        p.h.interrupt.status = (uint8_t)st;
        p.data = e->data;
        p.data_len = have(u, e, e->length > 0xffff ? 0xffff : e->length);
        p.h.interrupt.length = (uint16_t)p.data_len;
        return put(u, URG_DIR_TO_GUEST, e->t, &p);
    }
    if (!e->ndesc) {
        /* no descriptors: the whole buffer as one packet */
        pkt(&p, URG_ISO_PACKET, u->seq[i]++);
        p.h.iso.endpoint = e->ep;
        p.h.iso.status = (uint8_t)st;
        p.data = e->data;
        p.data_len = e->data_len > 0xffff ? 0xffff : e->data_len;
        p.h.iso.length = (uint16_t)p.data_len;
        return put(u, URG_DIR_TO_GUEST, e->t, &p);
    }
    for (uint32_t k = 0, budget = e->data_len; k < e->ndesc; k++) {
        const uint8_t *d = e->desc + k * ISODESC_LEN;
        uint32_t off = rd32(d + 4), len = rd32(d + 8);
        int pst = status_of((int32_t)rd32(d), len > 0, !e->bus);
        pkt(&p, URG_ISO_PACKET, u->seq[i]++);
        p.h.iso.endpoint = e->ep;
        p.h.iso.status = (uint8_t)(pst < 0 ? URG_STATUS_IOERROR : pst);
        if (len > 0xffff)
            len = 0xffff;
        if (off > e->data_len || len > e->data_len - off) {
            u->cut++;
            len = off > e->data_len ? 0 : e->data_len - off;
        }
        /* (overlapping descriptors: as for iso OUT) */
        if (len > budget) {
            u->cut++;
            len = budget;
        }
        budget -= len;
        p.data = len ? e->data + off : NULL;
        p.data_len = len;
        p.h.iso.length = (uint16_t)len;
        if ((rc = put(u, URG_DIR_TO_GUEST, e->t, &p)))
            return rc;
    }
    return 0;
}

/* The bytes an OUT transfer of asked bytes moved, as its completion e
 * says: a success with none, when some were asked, is QEMU's pcap=, which
 * writes 0 for every OUT completion - the whole. */
static uint32_t out_done(const struct ev *e, int status, uint32_t asked)
{
    if (!e->length && status == URG_STATUS_SUCCESS)
        return asked;
    return e->length < asked ? e->length : asked;
}

/* A completion: the answer to its request. */
static int convert_complete(struct um *u, const struct ev *e, struct slot *s)
{
    bool in = e->ep & 0x80;
    struct urg_packet p;
    struct ev failed;
    int st, rc;
    if ((e->xfer == XFER_INT || e->xfer == XFER_ISO) && in && e->type == 'C')
        return convert_stream_data(u, e);
    if (!s) {
        if (e->xfer != XFER_ISO)
            u->unmatched++;
        return 0;
    }
    if (s->kind == K_NONE)
        return 0;
    if (e->type == 'U') {
        /* done, with no record of it: an OUT one succeeded (a failure
         * would have been written); an IN one's data is not in the file */
        if ((s->setup[0] & 0x80) || s->kind == K_GETCFG || s->kind == K_GETALT) {
            u->unrecorded_in++;
            return 0;
        }
        u->unrecorded_out++;
    }
    st = status_of(e->status, e->data_len > 0, !e->bus);
    if (st != URG_STATUS_SUCCESS && !e->bus) {
        /* QEMU's pcap= writes its stale buffer with a failure */
        failed = *e;
        failed.data_len = failed.length = 0;
        e = &failed;
    }
    if (st < 0 || (st == URG_STATUS_CANCELLED && in && !e->data_len)) {
        u->unanswered++;
        return 0;
    }
    switch (s->kind) {
    case K_SETCFG:
        if (st == URG_STATUS_SUCCESS) {
            u->cur_value = s->setup[2];
            u->cur = config_by_value(u, u->cur_value);
            memset(u->cur_alt, 0, sizeof(u->cur_alt));
            if ((rc = send_infos(u, e->t)))
                return rc;
        }
        pkt(&p, URG_CONFIGURATION_STATUS, s->rid);
        p.h.configuration_status.status = (uint8_t)st;
        p.h.configuration_status.configuration = (uint8_t)u->cur_value;
        break;
    case K_SETALT:
        if (st == URG_STATUS_SUCCESS) {
            u->cur_alt[s->setup[4]] = s->setup[2];
            if ((rc = send_infos(u, e->t)))
                return rc;
        }
        pkt(&p, URG_ALT_SETTING_STATUS, s->rid);
        p.h.alt_setting_status.status = (uint8_t)st;
        p.h.alt_setting_status.interface = s->setup[4];
        p.h.alt_setting_status.alt = u->cur_alt[s->setup[4]];
        break;
    case K_GETCFG:
        pkt(&p, URG_CONFIGURATION_STATUS, s->rid);
        p.h.configuration_status.status = (uint8_t)st;
        p.h.configuration_status.configuration =
            e->data_len ? e->data[0] : (uint8_t)u->cur_value;
        break;
    case K_GETALT:
        pkt(&p, URG_ALT_SETTING_STATUS, s->rid);
        p.h.alt_setting_status.status = (uint8_t)st;
        p.h.alt_setting_status.interface = s->setup[4];
        p.h.alt_setting_status.alt = e->data_len ? e->data[0] : u->cur_alt[s->setup[4]];
        break;
    case K_CONTROL: {
        uint16_t wlen = (uint16_t)(s->setup[6] | s->setup[7] << 8);
        pkt(&p, URG_CONTROL_PACKET, s->rid);
        p.h.control.endpoint = s->setup[0] & 0x80;
        p.h.control.requesttype = s->setup[0];
        p.h.control.request = s->setup[1];
        p.h.control.value = (uint16_t)(s->setup[2] | s->setup[3] << 8);
        p.h.control.index = (uint16_t)(s->setup[4] | s->setup[5] << 8);
        p.h.control.status = (uint8_t)st;
        if (s->setup[0] & 0x80) {
            p.data = e->data;
            p.data_len = have(u, e, e->length < wlen ? e->length : wlen);
            p.h.control.length = (uint16_t)p.data_len;
        } else {
            p.h.control.length = (uint16_t)out_done(e, st, wlen);
        }
        break;
    }
    case K_BULK:
        if (s->late) {
            s->rid = u->next_id++;
            s->length = e->length > URG_MAX_BULK_LENGTH ? URG_MAX_BULK_LENGTH : e->length;
            pkt(&p, URG_BULK_PACKET, s->rid);
            p.h.bulk.endpoint = s->ep;
            p.h.bulk.length = s->length;
            if ((rc = put(u, URG_DIR_TO_HOST, e->t, &p)))
                return rc;
        }
        pkt(&p, URG_BULK_PACKET, s->rid);
        p.h.bulk.endpoint = s->ep;
        p.h.bulk.status = (uint8_t)st;
        if (in) {
            uint32_t want = e->length < s->length ? e->length : s->length;
            p.data = e->data;
            p.data_len = have(u, e, want > URG_MAX_BULK_LENGTH ? URG_MAX_BULK_LENGTH : want);
            p.h.bulk.length = p.data_len;
        } else {
            p.h.bulk.length = out_done(e, st, s->length);
            if (p.h.bulk.length > URG_MAX_BULK_LENGTH)
                p.h.bulk.length = URG_MAX_BULK_LENGTH;
        }
        break;
    default: /* K_INTOUT */
        pkt(&p, URG_INTERRUPT_PACKET, s->rid);
        p.h.interrupt.endpoint = s->ep;
        p.h.interrupt.status = (uint8_t)st;
        {
            uint32_t n = out_done(e, st, s->length);
            p.h.interrupt.length = (uint16_t)(n > 0xffff ? 0xffff : n);
        }
        break;
    }
    return put(u, URG_DIR_TO_GUEST, e->t, &p);
}

static int convert(struct um *u, const struct ev *e, struct slot *s)
{
    int rc = e->type == 'S' ? convert_submit(u, e, s) : convert_complete(u, e, s);
    return rc ? rc : u->err;
}

/* The session's start: hellos, the device's interface_info, ep_info and
 * device_connect. */
static int session_start(struct um *u)
{
    struct urg_packet p;
    int rc;
    pkt(&p, URG_HELLO, 0);
    snprintf(p.h.hello.version, sizeof(p.h.hello.version), "usbredir-guest usbmon import");
    p.h.hello.caps[0] = URG_CAPS_ALL;
    p.h.hello.caps_words = 1;
    if ((rc = urg_capture_write_at(u->x->cap, URG_CAP_CONNECT, 0, NULL, 0)))
        return import_fail(u->x, rc, "%s: cannot write the capture: %s",
                           u->x->out_path ? u->x->out_path : u->x->path, urg_strerror(rc));
    if ((rc = put(u, URG_DIR_TO_HOST, 0, &p)) || (rc = put(u, URG_DIR_TO_GUEST, 0, &p)))
        return rc;
    if ((rc = send_infos(u, 0)))
        return rc;
    pkt(&p, URG_DEVICE_CONNECT, 0);
    p.h.device_connect.speed = (uint8_t)u->speed;
    if (u->devdesc_len >= 8) {
        p.h.device_connect.device_class = u->devdesc[4];
        p.h.device_connect.device_subclass = u->devdesc[5];
        p.h.device_connect.device_protocol = u->devdesc[6];
    }
    if (u->devdesc_len >= 14) {
        p.h.device_connect.vendor_id = (uint16_t)(u->devdesc[8] | u->devdesc[9] << 8);
        p.h.device_connect.product_id = (uint16_t)(u->devdesc[10] | u->devdesc[11] << 8);
        p.h.device_connect.device_version_bcd = (uint16_t)(u->devdesc[12] | u->devdesc[13] << 8);
    }
    return put(u, URG_DIR_TO_GUEST, 0, &p);
}

/* The alternate settings in force when the capture begins: 0, or the
 * one whose endpoints the device used before the interface's first
 * SET_INTERFACE. */
static void initial_alts(struct um *u)
{
    memset(u->cur_alt, 0, sizeof(u->cur_alt));
    if (!u->cur)
        return;
    for (int i = 0; i < 32; i++) {
        struct ep_find f0 = { urg_ep_address(i), 0, NULL, NULL }, fa = f0;
        if (!u->obs[i].seen)
            continue;
        fa.alt = -1;
        config_walk(u->cur, &f0, ep_find_fn);
        config_walk(u->cur, &fa, ep_find_fn);
        if (f0.d || !fa.d)
            continue;
        if (u->obs[i].first_t < u->setif_t[fa.iface[2]])
            u->cur_alt[fa.iface[2]] = fa.iface[3];
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int usbmon_import(struct import *x, int dlt)
{
    struct um *u;
    char why[128];
    int rc;
    if (!(u = urgi_calloc(x->alloc, sizeof(*u))))
        return URG_ERR_NOMEM;
    u->x = x;
    if (getrandom(&u->seed, sizeof(u->seed), GRND_NONBLOCK) != (ssize_t)sizeof(u->seed))
        u->seed = mix((uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)u);
    u->hdr = dlt == 220 ? 64 : 48;
    u->first_setcfg = -1;
    memset(u->setif_t, 0xff, sizeof(u->setif_t));
    for (int i = 0; i < 32; i++)
        u->started[i] = -1;
    u->slotcap = SLOTS_FIRST;
    u->slots = urgi_calloc(x->alloc, SLOTS_FIRST * sizeof(*u->slots));
    u->devs = urgi_calloc(x->alloc, DEVICES_MAX * sizeof(*u->devs));
    if (!u->slots || !u->devs) {
        rc = URG_ERR_NOMEM;
        goto out;
    }
    if ((rc = walk(u, false, survey)) || (rc = choose(u)))
        goto out;
    if ((rc = walk(u, true, learn)))
        goto out;
    if (u->ndone > 1)
        qsort(u->done_unrecorded, u->ndone, sizeof(*u->done_unrecorded), cmp_u64);
    u->speed = guess_speed(u, why, sizeof(why));
    import_note(x, "speed %s: %s", urg_speed_name(u->speed), why);
    if (u->devdesc_len < 14)
        import_note(x, "no device descriptor in the capture: vendor and product 0000:0000");
    u->cur_value = u->first_setcfg >= 0 ? u->first_setcfg
                   : u->ncfgs && u->cfgs[0].len >= 9 ? u->cfgs[0].raw[5]
                                                     : 0;
    u->cur = config_by_value(u, u->cur_value);
    if (!u->cur)
        import_note(x,
                    "no configuration descriptor in the capture: one interface (class ff) "
                    "with the endpoints its URBs used");
    initial_alts(u);
    u->w = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
    u->next_id = 1;
    if ((rc = import_output(x)) || (rc = session_start(u)))
        goto out;
    if ((rc = walk(u, true, convert)))
        goto out;
    u->unanswered += u->nslots;
    if (u->cut)
        import_note(x, "%llu transfers' data was cut by the capture (kept as captured)",
                    (unsigned long long)u->cut);
    if (u->unanswered)
        import_note(x, "%llu URBs never completed or were cancelled (left unanswered)",
                    (unsigned long long)u->unanswered);
    if (u->unmatched)
        import_note(x, "%llu completions of URBs submitted before the capture began (left out)",
                    (unsigned long long)u->unmatched);
    if (u->more_devs)
        import_note(x, "%llu records of devices past the first %u not looked at",
                    (unsigned long long)u->more_devs, DEVICES_MAX);
    if (u->dropped)
        import_note(x, "%llu URBs not followed (over %u in flight)",
                    (unsigned long long)u->dropped, INFLIGHT_MAX);
    if (u->repeated)
        import_note(x, "%llu submissions of an URB in flight again (QEMU's after a NAK) taken "
                    "as one", (unsigned long long)u->repeated);
    if (u->unrecorded_out || u->unrecorded_in)
        import_note(x,
                    "%llu control transfers completed with no record of it (QEMU's pcap= "
                    "writes failed ones only): %llu OUT ones answered as done, %llu IN ones "
                    "left unanswered (their data is not in the file)",
                    (unsigned long long)(u->unrecorded_out + u->unrecorded_in),
                    (unsigned long long)u->unrecorded_out, (unsigned long long)u->unrecorded_in);
    if (u->unencodable)
        import_note(x, "%llu packets left out: they could not be encoded",
                    (unsigned long long)u->unencodable);
out:
    for (uint32_t i = 0; i < u->ncfgs; i++)
        urgi_free(x->alloc, u->cfgs[i].raw);
    urgi_free(x->alloc, u->buf);
    urgi_free(x->alloc, u->done_unrecorded);
    urgi_free(x->alloc, u->slots);
    urgi_free(x->alloc, u->devs);
    urgi_free(x->alloc, u);
    return rc;
}

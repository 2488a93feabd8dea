/*
 * recdev.c - the device behind device:FILE: a usb-host model built from a
 * recording, answering a live guest by meaning (recdev.h;
 * docs/transport.md, "A device from a recording").
 *
 * Built from every connection of the capture (a recording by QEMU has the
 * firmware's enumeration and the OS's, maybe over several connections):
 * - the host's hello, the first device_connect and the interface_info and
 *   ep_info before it;
 * - control: the reply to each setup (bmRequestType, bRequest, wValue,
 *   wIndex), the longest successful one kept, else the recorded stall;
 * - set_configuration / set_alt_setting: the status and the
 *   interface_info / ep_info that came with it, per value;
 * - per IN endpoint, the data the host sent on it in order, whichever way
 *   it went (bulk replies, interrupt, iso or buffered bulk packets): served
 *   to whichever way the live guest asks (a stream it starts, or bulk
 *   requests), a stream's status as recorded;
 * - Bulk-Only mass storage (an interface of class 8, subclass 6, protocol
 *   0x50): the commands parsed from its CBWs, data and CSWs; READ and
 *   WRITE fill a sparse disk, other commands keep their recorded answer.
 *   The live guest's commands are answered from those (the CBW's tag in
 *   the CSW), a block never recorded with a medium error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recdev.h"
#include "talloc.h"

enum { KIND_INT, KIND_ISO, KIND_BULKRECV, KINDS };

/* Sense keys and codes the mass-storage rules use. */
enum { SENSE_NONE = 0, SENSE_MEDIUM_ERROR = 3, SENSE_ILLEGAL_REQUEST = 5 };

#define ITEM_MAX_LEN (1u << 20)  /* a buffered bulk chunk is cut to this */
#define PENDING_MAX 64           /* bulk IN requests held per endpoint */
#define BOT_RECORD_MAX (64u << 20) /* a recorded data stage learnt whole */

struct item {                    /* recorded IN data on an endpoint */
    uint64_t t_ns;
    uint8_t status;
    uint32_t len;
    uint8_t *data;
};

struct ctl {                     /* a control setup's recorded reply */
    uint8_t rt, req;
    uint16_t value, index;
    uint8_t status;
    uint32_t len;
    uint8_t *data;
};

struct infos {                   /* interface_info and ep_info */
    struct urg_packet ifinfo, epinfo;
    bool have_if, have_ep;
};

struct setting {                 /* a configuration or alternate setting */
    uint8_t iface, value, status;
    struct infos infos;
};

struct pending_in {              /* a bulk IN request waiting for data */
    uint64_t id;
    uint32_t length, stream_id;
};

struct ep {
    struct item *items;
    uint32_t nitems, cap;
    bool start_rec[KINDS];
    uint8_t start_status[KINDS];
    /* live */
    uint32_t next, off;          /* the next item, bytes of it given */
    int running;                 /* KIND_* of the stream the guest runs, or -1 */
    uint32_t stream_id, bytes_per_transfer;
    double t0_live;              /* when the stream (re)started */
    uint64_t t0_rec;             /* the recorded time of its first item */
    uint64_t seq;                /* stream packet ids */
    struct pending_in pending[PENDING_MAX];
    uint32_t npending;
    bool asked_after_end;        /* wanted more once none was left */
};

struct scsi {                    /* a recorded mass-storage answer */
    uint8_t op, page;            /* page: INQUIRY EVPD page (+0x100 flag
                                    folded in evpd), MODE SENSE page */
    bool evpd;
    uint8_t status;
    uint32_t len;
    uint8_t *data;
};

struct block {
    uint64_t lba;
    uint8_t *data;
    bool live;                   /* written by the live guest */
};

/* A map from a 64-bit key to an index (into one of the arrays below):
 * open addressing, at most half full, so every lookup is near O(1) - a
 * recording of many distinct setups or blocks, or a guest writing blocks
 * in any order, stays linear. */
struct map {
    uint64_t *key;
    uint32_t *val;               /* index + 1; 0: empty */
    uint32_t size, count;        /* size: a power of two, or 0 */
};

struct bot {                     /* the live Bulk-Only state */
    enum { BOT_CBW, BOT_DATA_IN, BOT_DATA_OUT, BOT_CSW } phase;
    uint8_t tag[4];
    uint8_t cdb[16];
    uint32_t want;               /* the CBW's data length */
    uint8_t *buf;                /* IN: the answer; OUT: what came */
    uint32_t len, off;
    uint8_t csw_status;
    uint8_t sense_key, asc, ascq;
    bool zero_sent;              /* a failed IN command's empty data stage */
};

struct recdev {
    struct urg_allocator alloc;
    struct urg_packet hello, connect;
    bool have_hello, have_connect;
    struct infos initial, current;
    struct ctl *ctl;
    uint32_t nctl, ctlcap;
    struct map ctl_map;          /* setup (rt, req, value, index) -> ctl */
    struct map ctl_kind_map;     /* (rt, req) -> a ctl that succeeded */
    struct setting *set;         /* iface 0xff: a configuration */
    uint32_t nset, setcap;
    struct map set_map;          /* (iface, value) -> set */
    uint8_t alt[256];            /* each interface's alternate setting now */
    uint8_t config_value;        /* recorded get_configuration answer */
    bool have_config_value;
    struct ep ep[32];
    /* mass storage */
    bool msc;
    uint8_t msc_in, msc_out;
    struct scsi *scsi;
    uint32_t nscsi, scsicap;
    struct map scsi_map;         /* (op, evpd, page) -> scsi */
    struct block *blk;           /* in the order stored */
    uint32_t nblk, blkcap;
    struct map blk_map;          /* lba -> blk */
    uint32_t block_size;
    uint64_t live_written;
    struct bot bot;
    /* options */
    bool fast, loop;
    uint64_t write_limit;
    /* serving */
    recdev_send_fn send;
    void *ctx;
    struct urg_replay_coverage cov;
};

/* ---------------------------------------------------------------- memory */

static void *grow(struct recdev *d, void *arr, uint32_t *cap, uint32_t n, size_t elem)
{
    uint32_t nc;
    void *na;
    if (n < *cap)
        return arr;
    nc = *cap ? *cap * 2 : 16;
    na = urgi_realloc(&d->alloc, arr, (size_t)nc * elem);
    if (na)
        *cap = nc;
    return na;
}

static uint8_t *dup_bytes(struct recdev *d, const uint8_t *p, uint32_t n)
{
    uint8_t *c;
    if (!n)
        return NULL;
    c = urgi_malloc(&d->alloc, n);
    if (c)
        memcpy(c, p, n);
    return c;
}

static void map_free(struct recdev *d, struct map *m);

void recdev_free(struct recdev *d)
{
    struct urg_allocator a;
    uint32_t i, k;
    if (!d)
        return;
    a = d->alloc;
    for (i = 0; i < d->nctl; i++)
        urgi_free(&a, d->ctl[i].data);
    for (k = 0; k < 32; k++) {
        for (i = 0; i < d->ep[k].nitems; i++)
            urgi_free(&a, d->ep[k].items[i].data);
        urgi_free(&a, d->ep[k].items);
    }
    for (i = 0; i < d->nscsi; i++)
        urgi_free(&a, d->scsi[i].data);
    for (i = 0; i < d->nblk; i++)
        urgi_free(&a, d->blk[i].data);
    map_free(d, &d->ctl_map);
    map_free(d, &d->ctl_kind_map);
    map_free(d, &d->set_map);
    map_free(d, &d->scsi_map);
    map_free(d, &d->blk_map);
    urgi_free(&a, d->ctl);
    urgi_free(&a, d->set);
    urgi_free(&a, d->scsi);
    urgi_free(&a, d->blk);
    urgi_free(&a, d->bot.buf);
    urgi_free(&a, d);
}

/* ---------------------------------------------------------------- maps */

static uint32_t map_slot(const struct map *m, uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) & (m->size - 1);
}

/* The index stored for key, or UINT32_MAX. */
static uint32_t map_get(const struct map *m, uint64_t key)
{
    if (!m->size)
        return UINT32_MAX;
    for (uint32_t i = map_slot(m, key);; i = (i + 1) & (m->size - 1)) {
        if (!m->val[i])
            return UINT32_MAX;
        if (m->key[i] == key)
            return m->val[i] - 1;
    }
}

/* Stores key -> index (key not in m): 0 or URG_ERR_NOMEM. */
static int map_put(struct recdev *d, struct map *m, uint64_t key, uint32_t index)
{
    uint32_t i;
    if ((m->count + 1) * 2 > m->size) {
        struct map n = { NULL, NULL, m->size ? m->size * 2 : 64, 0 };
        if (n.size > (1u << 30) || !(n.key = urgi_malloc(&d->alloc, (size_t)n.size * 8)) ||
            !(n.val = urgi_calloc(&d->alloc, (size_t)n.size * 4))) {
            urgi_free(&d->alloc, n.key);
            return URG_ERR_NOMEM;
        }
        for (uint32_t k = 0; k < m->size; k++) {
            if (!m->val[k])
                continue;
            for (i = map_slot(&n, m->key[k]); n.val[i]; i = (i + 1) & (n.size - 1))
                ;
            n.key[i] = m->key[k];
            n.val[i] = m->val[k];
        }
        n.count = m->count;
        urgi_free(&d->alloc, m->key);
        urgi_free(&d->alloc, m->val);
        *m = n;
    }
    for (i = map_slot(m, key); m->val[i]; i = (i + 1) & (m->size - 1))
        ;
    m->key[i] = key;
    m->val[i] = index + 1;
    m->count++;
    return 0;
}

static void map_free(struct recdev *d, struct map *m)
{
    urgi_free(&d->alloc, m->key);
    urgi_free(&d->alloc, m->val);
}

/* ---------------------------------------------------------------- the disk */

/* Stores one block (block_size bytes at p): 0 or URG_ERR_NOMEM; *fresh
 * says whether it is new (not a block stored before). */
static int blk_put(struct recdev *d, uint64_t lba, const uint8_t *p, bool live, bool *fresh)
{
    uint32_t i = map_get(&d->blk_map, lba);
    struct block *nb;
    *fresh = i == UINT32_MAX;
    if (!*fresh) {
        memcpy(d->blk[i].data, p, d->block_size);
        d->blk[i].live = d->blk[i].live || live;
        return 0;
    }
    if (!(nb = grow(d, d->blk, &d->blkcap, d->nblk, sizeof(*nb))))
        return URG_ERR_NOMEM;
    d->blk = nb;
    nb = &d->blk[d->nblk];
    nb->lba = lba;
    nb->live = live;
    if (!(nb->data = dup_bytes(d, p, d->block_size)))
        return URG_ERR_NOMEM;
    if (map_put(d, &d->blk_map, lba, d->nblk)) {
        urgi_free(&d->alloc, nb->data);
        return URG_ERR_NOMEM;
    }
    d->nblk++;
    return 0;
}

static const uint8_t *blk_get(const struct recdev *d, uint64_t lba)
{
    uint32_t i = map_get(&d->blk_map, lba);
    return i == UINT32_MAX ? NULL : d->blk[i].data;
}

/* ---------------------------------------------------------------- SCSI */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

/* A READ or WRITE command's first block and count; false for others. */
static bool rw_range(const uint8_t *cdb, uint64_t *lba, uint32_t *count, bool *write)
{
    switch (cdb[0]) {
    case 0x08: case 0x0a: /* READ(6), WRITE(6) */
        *lba = ((uint32_t)(cdb[1] & 0x1f) << 16) | (uint32_t)cdb[2] << 8 | cdb[3];
        *count = cdb[4] ? cdb[4] : 256;
        break;
    case 0x28: case 0x2a: /* (10) */
        *lba = be32(cdb + 2);
        *count = (uint32_t)cdb[7] << 8 | cdb[8];
        break;
    case 0xa8: case 0xaa: /* (12) */
        *lba = be32(cdb + 2);
        *count = be32(cdb + 6);
        break;
    case 0x88: case 0x8a: /* (16) */
        *lba = (uint64_t)be32(cdb + 2) << 32 | be32(cdb + 6);
        *count = be32(cdb + 10);
        break;
    default:
        return false;
    }
    *write = cdb[0] == 0x0a || cdb[0] == 0x2a || cdb[0] == 0xaa || cdb[0] == 0x8a;
    return true;
}

/* The page a recorded answer is kept by: INQUIRY's EVPD page, MODE
 * SENSE's page code. */
static void scsi_key(const uint8_t *cdb, bool *evpd, uint8_t *page)
{
    *evpd = false;
    *page = 0;
    if (cdb[0] == 0x12) {
        *evpd = cdb[1] & 1;
        *page = *evpd ? cdb[2] : 0;
    } else if (cdb[0] == 0x1a || cdb[0] == 0x5a) {
        *page = cdb[2] & 0x3f;
    } else if (cdb[0] == 0x9e) {
        *page = cdb[1] & 0x1f; /* SERVICE ACTION IN: READ CAPACITY(16) */
    }
}

static uint64_t scsi_map_key(const uint8_t *cdb)
{
    bool evpd;
    uint8_t page;
    scsi_key(cdb, &evpd, &page);
    return (uint64_t)cdb[0] << 9 | (uint64_t)evpd << 8 | page;
}

static struct scsi *scsi_find(struct recdev *d, const uint8_t *cdb)
{
    uint32_t i = map_get(&d->scsi_map, scsi_map_key(cdb));
    return i == UINT32_MAX ? NULL : &d->scsi[i];
}

/* A recorded command, whole: its data (IN or OUT) and its CSW status. */
static int scsi_learn(struct recdev *d, const uint8_t *cdb, bool in, const uint8_t *data,
                      uint32_t len, uint8_t status)
{
    uint64_t lba;
    uint32_t count;
    bool write, evpd;
    uint8_t page;
    struct scsi *s;
    if (rw_range(cdb, &lba, &count, &write)) {
        /* The blocks it moved, whole ones only, if it passed. */
        uint32_t n = len / d->block_size;
        bool fresh;
        if (status != 0 || (write == in) || lba > UINT64_MAX - count)
            return 0;
        for (uint32_t i = 0; i < n && i < count; i++)
            if (blk_put(d, lba + i, data + (size_t)i * d->block_size, false, &fresh))
                return URG_ERR_NOMEM;
        return 0;
    }
    if (!in)
        return 0; /* (an OUT command's data is not an answer) */
    if (cdb[0] == 0x25 && status == 0 && len >= 8) {
        uint32_t bs = be32(data + 4);
        if (bs >= 512 && bs <= 65536 && !(bs & (bs - 1)) && !d->nblk)
            d->block_size = bs;
    }
    if ((s = scsi_find(d, cdb))) {
        if (s->status == 0 && (status != 0 || len <= s->len))
            return 0; /* the longest that passed stays */
        urgi_free(&d->alloc, s->data);
    } else {
        if (!(s = grow(d, d->scsi, &d->scsicap, d->nscsi, sizeof(*s))))
            return URG_ERR_NOMEM;
        d->scsi = s;
        if (map_put(d, &d->scsi_map, scsi_map_key(cdb), d->nscsi))
            return URG_ERR_NOMEM;
        s = &d->scsi[d->nscsi++];
        s->data = NULL;
    }
    scsi_key(cdb, &evpd, &page);
    s->op = cdb[0];
    s->evpd = evpd;
    s->page = page;
    s->status = status;
    s->len = len;
    s->data = dup_bytes(d, data, len);
    if (len && !s->data) {
        s->len = 0;
        return URG_ERR_NOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------- building */

struct gp {                      /* a recorded guest request */
    struct urg_packet p;
    uint8_t *data;
    uint32_t connection;
};

/* The recorded Bulk-Only conversation, as the build walks it. */
struct bot_rec {
    int phase;                   /* 0 CBW, 1 data, 2 CSW */
    uint8_t cdb[16];
    bool in;
    uint32_t want;
    uint8_t *buf;
    uint32_t len, cap;
};

struct build {
    struct recdev *d;
    struct gp *g;                /* guest requests, by (connection, id) */
    uint32_t ng, gcap;
    uint32_t *index;             /* open addressing: g + 1, 0 empty */
    uint32_t index_size;
    int32_t pending_set;         /* the guest request of an unanswered set_*, or -1 */
    uint32_t pending_set_conn;
    struct bot_rec bot;
    int err;
};

static uint32_t hash(uint32_t connection, uint64_t id)
{
    uint64_t x = id * 0x9e3779b97f4a7c15ull ^ connection;
    return (uint32_t)(x >> 29);
}

static int index_put(struct build *b, uint32_t gi)
{
    if ((b->ng + 1) * 2 > b->index_size) {
        uint32_t ns = b->index_size ? b->index_size * 2 : 1024, *ni, k;
        if (!(ni = urgi_calloc(&b->d->alloc, (size_t)ns * sizeof(*ni))))
            return URG_ERR_NOMEM;
        for (k = 0; k < b->index_size; k++) {
            uint32_t e = b->index[k], h;
            if (!e)
                continue;
            for (h = hash(b->g[e - 1].connection, b->g[e - 1].p.id) & (ns - 1); ni[h];
                 h = (h + 1) & (ns - 1))
                ;
            ni[h] = e;
        }
        urgi_free(&b->d->alloc, b->index);
        b->index = ni;
        b->index_size = ns;
    }
    {
        uint32_t h = hash(b->g[gi].connection, b->g[gi].p.id) & (b->index_size - 1);
        while (b->index[h]) {
            const struct gp *o = &b->g[b->index[h] - 1];
            if (o->connection == b->g[gi].connection && o->p.id == b->g[gi].p.id)
                break; /* a later request with the same id replaces it */
            h = (h + 1) & (b->index_size - 1);
        }
        b->index[h] = gi + 1;
    }
    return 0;
}

static struct gp *index_get(struct build *b, uint32_t connection, uint64_t id)
{
    uint32_t h;
    if (!b->index_size)
        return NULL;
    for (h = hash(connection, id) & (b->index_size - 1); b->index[h];
         h = (h + 1) & (b->index_size - 1)) {
        struct gp *o = &b->g[b->index[h] - 1];
        if (o->connection == connection && o->p.id == id)
            return o;
    }
    return NULL;
}

static void take_info(struct infos *in, const struct urg_packet *p)
{
    if (p->type == URG_INTERFACE_INFO) {
        in->ifinfo = *p;
        in->have_if = true;
    } else {
        in->epinfo = *p;
        in->have_ep = true;
    }
    (p->type == URG_INTERFACE_INFO ? &in->ifinfo : &in->epinfo)->data = NULL;
}

static struct setting *setting_find(struct recdev *d, uint8_t iface, uint8_t value)
{
    uint32_t i = map_get(&d->set_map, (uint64_t)iface << 8 | value);
    return i == UINT32_MAX ? NULL : &d->set[i];
}

static struct setting *setting_get(struct recdev *d, uint8_t iface, uint8_t value)
{
    struct setting *s = setting_find(d, iface, value);
    if (s)
        return s;
    if (!(s = grow(d, d->set, &d->setcap, d->nset, sizeof(*s))))
        return NULL;
    d->set = s;
    if (map_put(d, &d->set_map, (uint64_t)iface << 8 | value, d->nset))
        return NULL;
    s = &d->set[d->nset++];
    memset(s, 0, sizeof(*s));
    s->iface = iface;
    s->value = value;
    s->status = URG_STATUS_SUCCESS;
    return s;
}

static int add_item(struct recdev *d, uint8_t ep, uint64_t t, uint8_t status, const uint8_t *data,
                    uint32_t len)
{
    struct ep *e = &d->ep[urg_ep_index(ep)];
    struct item *it;
    if (!(it = grow(d, e->items, &e->cap, e->nitems, sizeof(*it))))
        return URG_ERR_NOMEM;
    e->items = it;
    it = &e->items[e->nitems];
    it->t_ns = t;
    it->status = status;
    it->len = len;
    it->data = dup_bytes(d, data, len);
    if (len && !it->data)
        return URG_ERR_NOMEM;
    e->nitems++;
    return 0;
}

/* A setup's key: bmRequestType, bRequest, wValue, wIndex. */
static uint64_t setup_key(const struct urg_control_packet *c)
{
    return (uint64_t)c->requesttype << 40 | (uint64_t)c->request << 32 |
           (uint64_t)c->value << 16 | c->index;
}

static const struct ctl *ctl_find(const struct recdev *d, const struct urg_control_packet *c)
{
    uint32_t i = map_get(&d->ctl_map, setup_key(c));
    return i == UINT32_MAX ? NULL : &d->ctl[i];
}

static int learn_control(struct recdev *d, const struct urg_packet *req, const struct urg_packet *rep)
{
    const struct urg_control_packet *c = &req->h.control;
    struct ctl *k = (struct ctl *)(uintptr_t)ctl_find(d, c);
    bool in = c->requesttype & 0x80;
    uint64_t kind = (uint64_t)c->requesttype << 8 | c->request;
    if (k) {
        /* The longest successful reply stays (a descriptor read first with
         * wLength 8, then whole). */
        if (k->status == URG_STATUS_SUCCESS &&
            (rep->h.control.status != URG_STATUS_SUCCESS || rep->data_len <= k->len))
            return 0;
        urgi_free(&d->alloc, k->data);
        k->data = NULL;
    } else {
        if (!(k = grow(d, d->ctl, &d->ctlcap, d->nctl, sizeof(*k))))
            return URG_ERR_NOMEM;
        d->ctl = k;
        if (map_put(d, &d->ctl_map, setup_key(c), d->nctl))
            return URG_ERR_NOMEM;
        k = &d->ctl[d->nctl++];
        k->data = NULL;
        k->rt = c->requesttype;
        k->req = c->request;
        k->value = c->value;
        k->index = c->index;
    }
    k->status = rep->h.control.status;
    k->len = in ? rep->data_len : 0;
    k->data = in ? dup_bytes(d, rep->data, rep->data_len) : NULL;
    if (k->len && !k->data) {
        k->len = 0;
        return URG_ERR_NOMEM;
    }
    /* The first request of its kind that succeeded (for OUT requests with
     * other values: reply_control). */
    if (k->status == URG_STATUS_SUCCESS && map_get(&d->ctl_kind_map, kind) == UINT32_MAX &&
        map_put(d, &d->ctl_kind_map, kind, (uint32_t)(k - d->ctl)))
        return URG_ERR_NOMEM;
    return 0;
}

/* The mass-storage interface and its bulk endpoints, from the initial
 * interface_info and ep_info. */
static void find_msc(struct recdev *d)
{
    const struct urg_interface_info *ii = &d->initial.ifinfo.h.interface_info;
    const struct urg_ep_info *ei = &d->initial.epinfo.h.ep_info;
    if (!d->initial.have_if || !d->initial.have_ep)
        return;
    for (uint32_t i = 0; i < ii->interface_count && i < 32; i++) {
        if (ii->interface_class[i] != 8 || ii->interface_subclass[i] != 6 ||
            ii->interface_protocol[i] != 0x50)
            continue;
        for (int k = 0; k < 32; k++) {
            if (ei->type[k] != URG_EP_BULK || ei->interface[k] != ii->interface[i])
                continue;
            if (k >= 16 && !d->msc_in)
                d->msc_in = (uint8_t)(0x80 | (k - 16));
            if (k < 16 && k && !d->msc_out)
                d->msc_out = (uint8_t)k;
        }
        d->msc = d->msc_in && d->msc_out;
        return;
    }
}

/* One recorded bulk transfer on the mass-storage endpoints, in order. */
static int bot_record(struct build *b, bool in, const uint8_t *data, uint32_t len)
{
    struct bot_rec *r = &b->bot;
    struct recdev *d = b->d;
    if (!in && len == 31 && !memcmp(data, "USBC", 4)) {
        r->phase = 1;
        memcpy(r->cdb, data + 15, 16);
        r->in = data[12] & 0x80;
        r->want = data[8] | (uint32_t)data[9] << 8 | (uint32_t)data[10] << 16 |
                  (uint32_t)data[11] << 24;
        r->len = 0;
        return 0;
    }
    if (in && len == 13 && !memcmp(data, "USBS", 4) && r->phase == 1) {
        int rc = scsi_learn(d, r->cdb, r->in, r->buf, r->len, data[12]);
        r->phase = 0;
        return rc;
    }
    if (r->phase != 1 || in != r->in)
        return 0; /* not a data stage we follow */
    if (len > r->want - (r->len < r->want ? r->len : r->want))
        len = r->want - (r->len < r->want ? r->len : r->want);
    if ((uint64_t)r->len + len > BOT_RECORD_MAX) {
        r->phase = 0; /* a data stage this long is not learnt */
        return 0;
    }
    if (r->len + len > r->cap) {
        uint32_t nc = r->cap ? r->cap : 4096;
        uint8_t *nb;
        while (nc < r->len + len)
            nc *= 2;
        if (!(nb = urgi_realloc(&d->alloc, r->buf, nc)))
            return URG_ERR_NOMEM;
        r->buf = nb;
        r->cap = nc;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return 0;
}

/* A stream packet's status. */
static uint8_t status_of(const struct urg_packet *p)
{
    struct urg_packet_fields f;
    urg_packet_fields(p, &f);
    return f.status > 0 ? (uint8_t)f.status : URG_STATUS_SUCCESS;
}

static int collect(void *ctx, const struct urg_capture_packet *cp)
{
    struct build *b = ctx;
    struct recdev *d = b->d;
    const struct urg_packet *p = cp->p;
    struct gp *req;
    int ep = urg_packet_endpoint(p), rc = 0;
    if (cp->dir == URG_DIR_TO_HOST) {
        struct gp *g;
        if (!(g = grow(d, b->g, &b->gcap, b->ng, sizeof(*g))))
            return URG_ERR_NOMEM;
        b->g = g;
        g = &b->g[b->ng];
        g->p = *p;
        g->connection = cp->connection;
        g->data = dup_bytes(d, p->data, p->data_len);
        if (p->data_len && !g->data)
            return URG_ERR_NOMEM;
        g->p.data = g->data;
        if ((rc = index_put(b, b->ng)))
            return rc;
        if (p->type == URG_SET_CONFIGURATION || p->type == URG_SET_ALT_SETTING) {
            b->pending_set = (int32_t)b->ng;
            b->pending_set_conn = cp->connection;
        }
        b->ng++;
        return 0;
    }
    switch (p->type) {
    case URG_HELLO:
        if (!d->have_hello) {
            d->hello = *p;
            d->hello.data = NULL;
            d->have_hello = true;
        }
        return 0;
    case URG_DEVICE_CONNECT:
        if (!d->have_connect) {
            /* The infos before it are the device's; its mass-storage
             * interface, if any, is known from here on. */
            d->connect = *p;
            d->connect.data = NULL;
            d->have_connect = true;
            find_msc(d);
        }
        return 0;
    case URG_INTERFACE_INFO:
    case URG_EP_INFO:
        if (b->pending_set >= 0 && b->pending_set_conn == cp->connection) {
            const struct urg_packet *sp = &b->g[b->pending_set].p;
            struct setting *s = sp->type == URG_SET_CONFIGURATION
                                    ? setting_get(d, 0xff, sp->h.set_configuration.configuration)
                                    : setting_get(d, sp->h.set_alt_setting.interface,
                                                  sp->h.set_alt_setting.alt);
            if (!s)
                return URG_ERR_NOMEM;
            take_info(&s->infos, p);
        } else if (!d->have_connect) {
            take_info(&d->initial, p);
        }
        return 0;
    default:
        break;
    }
    req = index_get(b, cp->connection, p->id);
    if (req && !urg_packet_answers(p, &req->p))
        req = NULL;
    switch (p->type) {
    case URG_CONTROL_PACKET:
        return req ? learn_control(d, &req->p, p) : 0;
    case URG_CONFIGURATION_STATUS:
        if (req && req->p.type == URG_SET_CONFIGURATION) {
            struct setting *s = setting_get(d, 0xff, req->p.h.set_configuration.configuration);
            if (!s)
                return URG_ERR_NOMEM;
            s->status = p->h.configuration_status.status;
        } else if (req && p->h.configuration_status.status == URG_STATUS_SUCCESS) {
            d->config_value = p->h.configuration_status.configuration;
            d->have_config_value = true;
        }
        b->pending_set = -1;
        return 0;
    case URG_ALT_SETTING_STATUS:
        if (req && req->p.type == URG_SET_ALT_SETTING) {
            struct setting *s = setting_get(d, req->p.h.set_alt_setting.interface,
                                            req->p.h.set_alt_setting.alt);
            if (!s)
                return URG_ERR_NOMEM;
            s->status = p->h.alt_setting_status.status;
        }
        b->pending_set = -1;
        return 0;
    case URG_INTERRUPT_RECEIVING_STATUS:
    case URG_ISO_STREAM_STATUS:
    case URG_BULK_RECEIVING_STATUS: {
        int kind = p->type == URG_INTERRUPT_RECEIVING_STATUS ? KIND_INT
                   : p->type == URG_ISO_STREAM_STATUS        ? KIND_ISO
                                                             : KIND_BULKRECV;
        struct ep *e = &d->ep[urg_ep_index((uint8_t)ep)];
        if (req && urg_packet_stream(&req->p) == req->p.type && !e->start_rec[kind]) {
            e->start_rec[kind] = true;
            e->start_status[kind] = status_of(p);
        }
        return 0;
    }
    case URG_BULK_PACKET:
        if (!req)
            return 0;
        if (d->msc && (ep == d->msc_in || ep == d->msc_out))
            return ep & 0x80 ? bot_record(b, true, p->data, p->data_len)
                             : bot_record(b, false, req->p.data, req->p.data_len);
        if (ep & 0x80)
            return add_item(d, (uint8_t)ep, cp->time_ns, p->h.bulk.status, p->data, p->data_len);
        return 0;
    case URG_INTERRUPT_PACKET:
    case URG_ISO_PACKET:
    case URG_BUFFERED_BULK_PACKET:
        if (!(ep & 0x80))
            return 0; /* an OUT's answer */
        return add_item(d, (uint8_t)ep, cp->time_ns, status_of(p), p->data, p->data_len);
    default:
        return 0;
    }
}

int recdev_new(const struct urg_allocator *a, const char *path, const void *data, size_t len,
               const struct urg_replay_config *cfg, struct recdev **out, char *err,
               size_t errcap)
{
    struct build b;
    struct recdev *d;
    int rc;
    *out = NULL;
    if (!(d = urgi_calloc(a, sizeof(*d))))
        return URG_ERR_NOMEM;
    d->alloc = *a;
    d->block_size = 512;
    d->fast = cfg->fast != 0;
    d->loop = cfg->loop_streams != 0;
    d->write_limit = cfg->write_limit ? cfg->write_limit : 64ull << 20;
    for (int k = 0; k < 32; k++)
        d->ep[k].running = -1;
    memset(&b, 0, sizeof(b));
    b.d = d;
    b.pending_set = -1;
    rc = path ? urgt_capture_decode(a, path, collect, &b, err, errcap)
              : urgt_capture_decode_mem(a, data, len, collect, &b, err, errcap);
    for (uint32_t i = 0; i < b.ng; i++)
        urgi_free(a, b.g[i].data);
    urgi_free(a, b.g);
    urgi_free(a, b.index);
    urgi_free(a, b.bot.buf);
    if (rc == 0 && !d->have_hello) {
        snprintf(err, errcap, "the recording has no host hello");
        rc = URG_ERR_CAPTURE;
    }
    if (rc == 0 && !d->have_connect) {
        snprintf(err, errcap, "the recording has no device_connect: no device to serve");
        rc = URG_ERR_CAPTURE;
    }
    if (rc) {
        recdev_free(d);
        return rc < 0 ? rc : URG_ERR_CAPTURE;
    }
    d->current = d->initial;
    *out = d;
    return 0;
}

uint32_t recdev_host_caps(const struct recdev *d) { return d->hello.h.hello.caps[0]; }

size_t recdev_output_hint(const struct recdev *d)
{
    (void)d;
    return 256 * 1024;
}

/* ---------------------------------------------------------------- serving */

static int send_pkt(struct recdev *d, struct urg_packet *p) { return d->send(d->ctx, p); }

static int send_infos(struct recdev *d, const struct infos *in)
{
    int rc = 0;
    if (in->have_if) {
        struct urg_packet p = in->ifinfo;
        p.id = 0;
        if ((rc = send_pkt(d, &p)))
            return rc;
        d->current.ifinfo = in->ifinfo;
        d->current.have_if = true;
    }
    if (in->have_ep) {
        struct urg_packet p = in->epinfo;
        p.id = 0;
        if ((rc = send_pkt(d, &p)))
            return rc;
        d->current.epinfo = in->epinfo;
        d->current.have_ep = true;
    }
    return 0;
}

int recdev_start(struct recdev *d, recdev_send_fn send, void *ctx, double now)
{
    struct urg_packet p;
    (void)now;
    d->send = send;
    d->ctx = ctx;
    p = d->hello;
    p.id = 0;
    return send_pkt(d, &p);
}

/* The guest's hello: the layout is known both ways, the device goes. */
static int plug(struct recdev *d)
{
    struct urg_packet p;
    int rc;
    if ((rc = send_infos(d, &d->initial)))
        return rc;
    p = d->connect;
    p.id = 0;
    return send_pkt(d, &p);
}

static bool self_powered_config(const struct recdev *d);

static int reply_control(struct recdev *d, const struct urg_packet *req)
{
    const struct urg_control_packet *c = &req->h.control;
    struct urg_packet p = *req;
    bool in = c->requesttype & 0x80;
    const struct ctl *k = ctl_find(d, c);
    p.data = NULL;
    p.data_len = 0;
    if (k) {
        d->cov.recorded++;
        p.h.control.status = k->status;
        if (in) {
            p.data_len = k->len < c->length ? k->len : c->length;
            p.data = k->data;
        }
    } else if ((c->requesttype & 0x60) == 0 && c->request == 0 /* GET_STATUS */ && in &&
               c->length >= 2) {
        /* Zeros, but a device's self-powered bit: its configuration
         * descriptor's bmAttributes bit 6. */
        static const uint8_t zero[2], self_powered[2] = { 1, 0 };
        d->cov.by_rule++;
        p.h.control.status = URG_STATUS_SUCCESS;
        p.data = (c->requesttype & 0x1f) == 0 && self_powered_config(d) ? self_powered : zero;
        p.data_len = 2;
    } else if (!in && !c->length && (c->requesttype & 0x60) &&
               map_get(&d->ctl_kind_map, (uint64_t)c->requesttype << 8 | c->request) !=
                   UINT32_MAX) {
        /* A class or vendor OUT request with no data that the recording
         * saw succeed with other values (an FTDI latency timer of 16, set
         * to 0 when recorded): taken. */
        d->cov.by_rule++;
        p.h.control.status = URG_STATUS_SUCCESS;
    } else {
        d->cov.unanswerable++;
        p.h.control.status = URG_STATUS_STALL;
    }
    p.h.control.length = in ? (uint16_t)p.data_len : c->length;
    return send_pkt(d, &p);
}

/* A configuration descriptor's bmAttributes has self-powered (0x40). */
static bool self_powered_config(const struct recdev *d)
{
    for (uint32_t i = 0; i < 256; i++) {
        struct urg_control_packet c = { 0, 6, 0x80, 0, (uint16_t)(0x0200 | i), 0, 0 };
        const struct ctl *k = ctl_find(d, &c);
        if (k && k->len >= 8 && k->data[1] == 2)
            return (k->data[7] & 0x40) != 0;
    }
    return false;
}

/* A configuration value the recording's configuration descriptors name
 * (bConfigurationValue of a GET_DESCRIPTOR(CONFIGURATION) reply). */
static bool config_described(const struct recdev *d, uint8_t value)
{
    for (uint32_t i = 0; i < 256; i++) {
        struct urg_control_packet c = { 0, 6, 0x80, 0, (uint16_t)(0x0200 | i), 0, 0 };
        const struct ctl *k = ctl_find(d, &c);
        if (k && k->len >= 6 && k->data[1] == 2 && k->data[5] == value)
            return true;
    }
    return false;
}

/* set_configuration and set_alt_setting: the recorded status and infos,
 * or (not recorded) success for a setting the device has (0, the
 * configuration it reported or described, as the host's infos stand). */
static int reply_setting(struct recdev *d, const struct urg_packet *req)
{
    bool cfg = req->type == URG_SET_CONFIGURATION;
    uint8_t iface = cfg ? 0xff : req->h.set_alt_setting.interface;
    uint8_t value = cfg ? req->h.set_configuration.configuration : req->h.set_alt_setting.alt;
    struct setting *s = setting_find(d, iface, value);
    struct urg_packet p;
    uint8_t status;
    int rc;
    if (s) {
        d->cov.recorded++;
        if ((rc = send_infos(d, &s->infos)))
            return rc;
        status = s->status;
    } else if (value == 0 ||
               (cfg && ((d->have_config_value && value == d->config_value) ||
                        config_described(d, value)))) {
        d->cov.by_rule++;
        status = URG_STATUS_SUCCESS;
    } else {
        d->cov.unanswerable++;
        status = URG_STATUS_STALL;
    }
    memset(&p, 0, sizeof(p));
    p.id = req->id;
    if (cfg) {
        p.type = URG_CONFIGURATION_STATUS;
        p.h.configuration_status.status = status;
        p.h.configuration_status.configuration = value;
        if (status == URG_STATUS_SUCCESS) {
            d->config_value = value;
            d->have_config_value = true;
        }
    } else {
        p.type = URG_ALT_SETTING_STATUS;
        p.h.alt_setting_status.status = status;
        p.h.alt_setting_status.interface = iface;
        p.h.alt_setting_status.alt = value;
        if (status == URG_STATUS_SUCCESS)
            d->alt[iface] = value;
    }
    return send_pkt(d, &p);
}

/* The stream status for a start or stop (id 0: one the guest did not ask
 * for). */
static int stream_status(struct recdev *d, int kind, uint8_t ep, uint32_t stream_id, uint64_t id,
                         uint8_t status)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.id = id;
    switch (kind) {
    case KIND_INT:
        p.type = URG_INTERRUPT_RECEIVING_STATUS;
        p.h.interrupt_receiving_status.endpoint = ep;
        p.h.interrupt_receiving_status.status = status;
        break;
    case KIND_ISO:
        p.type = URG_ISO_STREAM_STATUS;
        p.h.iso_stream_status.endpoint = ep;
        p.h.iso_stream_status.status = status;
        break;
    default:
        p.type = URG_BULK_RECEIVING_STATUS;
        p.h.bulk_receiving_status.endpoint = ep;
        p.h.bulk_receiving_status.stream_id = stream_id;
        p.h.bulk_receiving_status.status = status;
        break;
    }
    return send_pkt(d, &p);
}

static int start_stream(struct recdev *d, const struct urg_packet *req, int kind, double now)
{
    uint8_t ep = (uint8_t)urg_packet_endpoint(req);
    struct ep *e = &d->ep[urg_ep_index(ep)];
    uint8_t status = URG_STATUS_SUCCESS;
    if (e->start_rec[kind]) {
        d->cov.recorded++;
        status = e->start_status[kind];
    } else {
        d->cov.by_rule++;
    }
    if (status == URG_STATUS_SUCCESS) {
        e->running = kind;
        e->t0_live = now;
        e->t0_rec = e->next < e->nitems ? e->items[e->next].t_ns : 0;
        if (kind == KIND_BULKRECV) {
            e->stream_id = req->h.start_bulk_receiving.stream_id;
            e->bytes_per_transfer = req->h.start_bulk_receiving.bytes_per_transfer;
        }
    }
    return stream_status(d, kind, ep,
                         kind == KIND_BULKRECV ? req->h.start_bulk_receiving.stream_id : 0,
                         req->id, status);
}

static int stop_stream(struct recdev *d, const struct urg_packet *req, int kind)
{
    uint8_t ep = (uint8_t)urg_packet_endpoint(req);
    struct ep *e = &d->ep[urg_ep_index(ep)];
    uint32_t sid = kind == KIND_BULKRECV ? req->h.stop_bulk_receiving.stream_id : 0;
    d->cov.by_rule++;
    if (e->running == kind)
        e->running = -1;
    /* (stop_interrupt_receiving is answered as usbredirect does: with a
     * status; the guest takes it or drops it.) */
    return stream_status(d, kind, ep, sid, req->id, URG_STATUS_SUCCESS);
}

/* The next recorded IN data of e, n bytes at most: a pointer to them, and
 * how many (the item moves on once given whole). NULL when none is left
 * (looping back first if the options say so). */
static const uint8_t *take(struct recdev *d, struct ep *e, uint32_t max, uint32_t *n,
                           uint8_t *status, double now)
{
    struct item *it;
    if (e->next >= e->nitems) {
        if (!d->loop || !e->nitems) {
            e->asked_after_end = true;
            return NULL;
        }
        e->next = e->off = 0;
        e->t0_live = now;
        e->t0_rec = e->items[0].t_ns;
    }
    it = &e->items[e->next];
    *status = it->status;
    *n = it->len - e->off < max ? it->len - e->off : max;
    {
        const uint8_t *p = it->data ? it->data + e->off : NULL;
        e->off += *n;
        if (e->off >= it->len) {
            e->next++;
            e->off = 0;
        }
        return p ? p : (const uint8_t *)"";
    }
}

static int bulk_in_reply(struct recdev *d, uint64_t id, uint8_t ep, uint32_t stream_id,
                         uint8_t status, const uint8_t *data, uint32_t n)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = URG_BULK_PACKET;
    p.id = id;
    p.h.bulk.endpoint = ep;
    p.h.bulk.status = status;
    p.h.bulk.length = n;
    p.h.bulk.stream_id = stream_id;
    p.data = data;
    p.data_len = n;
    return send_pkt(d, &p);
}

/* ---------------------------------------------------------------- live BOT */

static void bot_sense(struct recdev *d, uint8_t key, uint8_t asc, uint8_t ascq)
{
    d->bot.sense_key = key;
    d->bot.asc = asc;
    d->bot.ascq = ascq;
}

/* The IN answer to the command in d->bot: into bot.buf, its CSW status
 * set. 0 or URG_ERR_NOMEM. */
static int bot_answer(struct recdev *d, const uint8_t *cdb, uint32_t want)
{
    struct bot *b = &d->bot;
    uint64_t lba;
    uint32_t count;
    bool write;
    const struct scsi *s;
    b->len = b->off = 0;
    b->csw_status = 0;
    b->zero_sent = false;
    if (rw_range(cdb, &lba, &count, &write) && !write) {
        uint64_t bytes = (uint64_t)count * d->block_size;
        uint8_t *nb;
        if (bytes > want)
            bytes = want;
        /* every block the data stage touches, a partial last one too */
        count = (uint32_t)((bytes + d->block_size - 1) / d->block_size);
        if (lba > UINT64_MAX - count) {
            d->cov.unanswerable++;
            b->csw_status = 1;
            bot_sense(d, SENSE_ILLEGAL_REQUEST, 0x21, 0x00); /* LBA out of range */
            return 0;
        }
        for (uint32_t i = 0; i < count; i++) {
            if (!blk_get(d, lba + i)) {
                d->cov.blocks_missing += count - i;
                d->cov.unanswerable++;
                b->csw_status = 1;
                bot_sense(d, SENSE_MEDIUM_ERROR, 0x11, 0x00); /* unrecovered read error */
                return 0;
            }
        }
        if (bytes && !(nb = urgi_realloc(&d->alloc, b->buf, (size_t)bytes)))
            return URG_ERR_NOMEM;
        if (bytes)
            b->buf = nb;
        for (uint32_t i = 0; i < count; i++) {
            uint64_t at = (uint64_t)i * d->block_size;
            memcpy(b->buf + at, blk_get(d, lba + i),
                   bytes - at < d->block_size ? (size_t)(bytes - at) : d->block_size);
        }
        b->len = (uint32_t)bytes;
        d->cov.blocks_read += count;
        d->cov.recorded++;
        bot_sense(d, SENSE_NONE, 0, 0);
        return 0;
    }
    if (cdb[0] == 0x03) { /* REQUEST SENSE: what the last command left */
        uint8_t sense[18] = { 0x70, 0, b->sense_key, 0, 0, 0, 0, 10, 0, 0, 0, 0, b->asc, b->ascq };
        uint8_t *nb = urgi_realloc(&d->alloc, b->buf, sizeof(sense));
        if (!nb)
            return URG_ERR_NOMEM;
        b->buf = nb;
        memcpy(b->buf, sense, sizeof(sense));
        b->len = want < sizeof(sense) ? want : (uint32_t)sizeof(sense);
        bot_sense(d, SENSE_NONE, 0, 0);
        d->cov.by_rule++;
        return 0;
    }
    switch (cdb[0]) {
    case 0x00: /* TEST UNIT READY: the disk is ready, whatever was recorded */
    case 0x1b: /* START STOP UNIT */
    case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
    case 0x35: /* SYNCHRONIZE CACHE(10) */
    case 0x2f: /* VERIFY(10) */
        d->cov.by_rule++;
        bot_sense(d, SENSE_NONE, 0, 0);
        return 0;
    default:
        break;
    }
    if ((s = scsi_find(d, cdb))) {
        uint32_t n = s->len < want ? s->len : want;
        uint8_t *nb = n ? urgi_realloc(&d->alloc, b->buf, n) : b->buf;
        if (n && !nb)
            return URG_ERR_NOMEM;
        b->buf = nb;
        if (n)
            memcpy(b->buf, s->data, n);
        b->len = n;
        b->csw_status = s->status;
        d->cov.recorded++;
        if (s->status == 0)
            bot_sense(d, SENSE_NONE, 0, 0);
        return 0;
    }
    d->cov.unanswerable++;
    b->csw_status = 1;
    bot_sense(d, SENSE_ILLEGAL_REQUEST, 0x20, 0x00); /* invalid command operation code */
    return 0;
}

/* The guest's WRITE data, whole: kept in memory (up to write_limit). */
static void bot_write(struct recdev *d)
{
    struct bot *b = &d->bot;
    uint64_t lba;
    uint32_t count;
    bool write;
    b->csw_status = 0;
    if (!rw_range(b->cdb, &lba, &count, &write) || !write) {
        /* another OUT command (MODE SELECT, ...): taken, by rule */
        d->cov.by_rule++;
        return;
    }
    count = b->len / d->block_size < count ? b->len / d->block_size : count;
    if (lba > UINT64_MAX - count) {
        d->cov.unanswerable++;
        b->csw_status = 1;
        bot_sense(d, SENSE_ILLEGAL_REQUEST, 0x21, 0x00); /* LBA out of range */
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        bool fresh = !blk_get(d, lba + i);
        /* Memory: blocks the guest adds count against write_limit (a
         * block written again costs nothing more). */
        if ((fresh && d->live_written + d->block_size > d->write_limit) ||
            blk_put(d, lba + i, b->buf + (size_t)i * d->block_size, true, &fresh)) {
            b->csw_status = 1;
            bot_sense(d, SENSE_MEDIUM_ERROR, 0x0c, 0x00); /* write error */
            d->cov.unanswerable++;
            d->cov.blocks_written += i;
            return;
        }
        if (fresh)
            d->live_written += d->block_size;
    }
    d->cov.blocks_written += count;
    d->cov.by_rule++;
    bot_sense(d, SENSE_NONE, 0, 0);
}

static int bot_out(struct recdev *d, const struct urg_packet *req)
{
    struct bot *b = &d->bot;
    struct urg_packet p = *req;
    const uint8_t *data = req->data;
    uint32_t len = req->data_len;
    p.data = NULL;
    p.data_len = 0;
    p.h.bulk.status = URG_STATUS_SUCCESS;
    if (b->phase == BOT_DATA_OUT) {
        uint32_t n = len < b->want - b->len ? len : b->want - b->len;
        memcpy(b->buf + b->len, data, n);
        b->len += n;
        if (b->len == b->want) {
            bot_write(d);
            b->phase = BOT_CSW;
        }
        return send_pkt(d, &p);
    }
    if (len != 31 || memcmp(data, "USBC", 4) != 0) {
        d->cov.unanswerable++;
        p.h.bulk.status = URG_STATUS_STALL; /* not a CBW: as a device in phase error */
        return send_pkt(d, &p);
    }
    memcpy(b->tag, data + 4, 4);
    memcpy(b->cdb, data + 15, 16);
    b->want = data[8] | (uint32_t)data[9] << 8 | (uint32_t)data[10] << 16 |
              (uint32_t)data[11] << 24;
    b->len = b->off = 0;
    b->zero_sent = false;
    if (!(data[12] & 0x80) && b->want) {
        /* Data comes: room for it (a WRITE's blocks), bounded. */
        uint8_t *nb = b->want > (64u << 20) ? NULL : urgi_realloc(&d->alloc, b->buf, b->want);
        if (!nb) {
            /* (the residue: all of it) */
            b->len = 0;
            b->csw_status = 1;
            bot_sense(d, SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
            d->cov.unanswerable++;
            b->phase = BOT_CSW;
            return send_pkt(d, &p);
        }
        b->buf = nb;
        b->phase = BOT_DATA_OUT;
        return send_pkt(d, &p);
    }
    if (bot_answer(d, b->cdb, b->want))
        return URG_ERR_NOMEM;
    b->phase = b->want ? BOT_DATA_IN : BOT_CSW;
    return send_pkt(d, &p);
}

static int bot_in(struct recdev *d, const struct urg_packet *req)
{
    struct bot *b = &d->bot;
    uint32_t want = req->h.bulk.length;
    if (b->phase == BOT_DATA_IN) {
        uint32_t n = b->len - b->off < want ? b->len - b->off : want;
        const uint8_t *p = b->buf ? b->buf + b->off : NULL;
        b->off += n;
        if (b->off == b->len || n < want)
            b->phase = BOT_CSW;
        return bulk_in_reply(d, req->id, req->h.bulk.endpoint, req->h.bulk.stream_id,
                             URG_STATUS_SUCCESS, p, n);
    }
    if (b->phase == BOT_CSW && want >= 13) {
        uint8_t csw[13];
        memcpy(csw, "USBS", 4);
        memcpy(csw + 4, b->tag, 4);
        put_be32(csw + 8, 0);
        {
            uint32_t residue = b->want - (b->len < b->want ? b->len : b->want);
            csw[8] = (uint8_t)residue, csw[9] = (uint8_t)(residue >> 8),
            csw[10] = (uint8_t)(residue >> 16), csw[11] = (uint8_t)(residue >> 24);
        }
        csw[12] = b->csw_status;
        b->phase = BOT_CBW;
        return bulk_in_reply(d, req->id, req->h.bulk.endpoint, req->h.bulk.stream_id,
                             URG_STATUS_SUCCESS, csw, 13);
    }
    d->cov.unanswerable++;
    return bulk_in_reply(d, req->id, req->h.bulk.endpoint, req->h.bulk.stream_id,
                         URG_STATUS_STALL, NULL, 0);
}

/* ---------------------------------------------------------------- bulk */

static int bulk(struct recdev *d, const struct urg_packet *req, double now)
{
    uint8_t ep = req->h.bulk.endpoint;
    struct ep *e = &d->ep[urg_ep_index(ep)];
    const uint8_t *data;
    uint32_t n;
    uint8_t status;
    if (d->msc && ep == d->msc_out)
        return bot_out(d, req);
    if (d->msc && ep == d->msc_in)
        return bot_in(d, req);
    if (!(ep & 0x80)) {
        struct urg_packet p = *req;
        d->cov.by_rule++;
        p.data = NULL;
        p.data_len = 0;
        p.h.bulk.status = URG_STATUS_SUCCESS;
        return send_pkt(d, &p);
    }
    data = take(d, e, req->h.bulk.length, &n, &status, now);
    if (!data) {
        /* Nothing left: it waits, as on a device with nothing to say (a
         * cancel answers it); past PENDING_MAX waiting, it gets an empty
         * transfer at once (a zero-length packet, as a device may send). */
        d->cov.unanswerable++;
        if (e->npending == PENDING_MAX)
            return bulk_in_reply(d, req->id, ep, req->h.bulk.stream_id, URG_STATUS_SUCCESS, NULL,
                                 0);
        {
            struct pending_in *pi = &e->pending[e->npending++];
            pi->id = req->id;
            pi->length = req->h.bulk.length;
            pi->stream_id = req->h.bulk.stream_id;
        }
        return 0;
    }
    d->cov.recorded++;
    return bulk_in_reply(d, req->id, ep, req->h.bulk.stream_id, status, data, n);
}

static int cancel(struct recdev *d, const struct urg_packet *req)
{
    for (int k = 16; k < 32; k++) {
        struct ep *e = &d->ep[k];
        for (uint32_t i = 0; i < e->npending; i++) {
            if (e->pending[i].id != req->id)
                continue;
            struct pending_in pi = e->pending[i];
            e->pending[i] = e->pending[--e->npending];
            return bulk_in_reply(d, pi.id, (uint8_t)(0x80 | (k - 16)), pi.stream_id,
                                 URG_STATUS_CANCELLED, NULL, 0);
        }
    }
    return 0; /* answered already: the guest drops it */
}

int recdev_guest(struct recdev *d, const struct urg_packet *p, double now)
{
    struct urg_packet r;
    switch (p->type) {
    case URG_HELLO:
        return plug(d);
    case URG_DEVICE_DISCONNECT_ACK:
    case URG_FILTER_FILTER:
    case URG_FILTER_REJECT:
    case URG_ISO_PACKET: /* iso OUT: taken */
        return 0;
    case URG_RESET:
        d->cov.by_rule++;
        d->bot.phase = BOT_CBW;
        return 0;
    case URG_CANCEL_DATA_PACKET:
        return cancel(d, p);
    case URG_CONTROL_PACKET:
        return reply_control(d, p);
    case URG_SET_CONFIGURATION:
    case URG_SET_ALT_SETTING:
        return reply_setting(d, p);
    case URG_GET_CONFIGURATION:
        memset(&r, 0, sizeof(r));
        r.type = URG_CONFIGURATION_STATUS;
        r.id = p->id;
        r.h.configuration_status.configuration = d->config_value;
        d->have_config_value ? d->cov.recorded++ : d->cov.by_rule++;
        return send_pkt(d, &r);
    case URG_GET_ALT_SETTING:
        memset(&r, 0, sizeof(r));
        r.type = URG_ALT_SETTING_STATUS;
        r.id = p->id;
        r.h.alt_setting_status.interface = p->h.get_alt_setting.interface;
        r.h.alt_setting_status.alt = d->alt[p->h.get_alt_setting.interface];
        d->cov.by_rule++;
        return send_pkt(d, &r);
    case URG_START_INTERRUPT_RECEIVING: return start_stream(d, p, KIND_INT, now);
    case URG_START_ISO_STREAM: return start_stream(d, p, KIND_ISO, now);
    case URG_START_BULK_RECEIVING: return start_stream(d, p, KIND_BULKRECV, now);
    case URG_STOP_INTERRUPT_RECEIVING: return stop_stream(d, p, KIND_INT);
    case URG_STOP_ISO_STREAM: return stop_stream(d, p, KIND_ISO);
    case URG_STOP_BULK_RECEIVING: return stop_stream(d, p, KIND_BULKRECV);
    case URG_ALLOC_BULK_STREAMS:
    case URG_FREE_BULK_STREAMS:
        memset(&r, 0, sizeof(r));
        r.type = URG_BULK_STREAMS_STATUS;
        r.id = p->id;
        r.h.bulk_streams_status.endpoints = p->type == URG_ALLOC_BULK_STREAMS
                                                ? p->h.alloc_bulk_streams.endpoints
                                                : p->h.free_bulk_streams.endpoints;
        r.h.bulk_streams_status.no_streams =
            p->type == URG_ALLOC_BULK_STREAMS ? p->h.alloc_bulk_streams.no_streams : 0;
        d->cov.by_rule++;
        return send_pkt(d, &r);
    case URG_BULK_PACKET:
        return bulk(d, p, now);
    case URG_INTERRUPT_PACKET: /* an interrupt OUT: taken */
        r = *p;
        r.data = NULL;
        r.data_len = 0;
        r.h.interrupt.status = URG_STATUS_SUCCESS;
        d->cov.by_rule++;
        return send_pkt(d, &r);
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------- streams */

/* When e's next item is due (on the caller's clock). */
static double due(const struct recdev *d, const struct ep *e)
{
    uint64_t t = e->items[e->next].t_ns;
    if (d->fast || t < e->t0_rec) /* (times that go back: at once) */
        return e->t0_live;
    return e->t0_live + (double)(t - e->t0_rec) / 1e9;
}

static int stream_send(struct recdev *d, struct ep *e, int k, uint8_t status, const uint8_t *data,
                       uint32_t n)
{
    struct urg_packet p;
    uint8_t ep = (uint8_t)(k >= 16 ? 0x80 | (k - 16) : k);
    memset(&p, 0, sizeof(p));
    p.id = e->seq++;
    p.data = data;
    p.data_len = n;
    switch (e->running) {
    case KIND_INT:
        p.type = URG_INTERRUPT_PACKET;
        p.h.interrupt.endpoint = ep;
        p.h.interrupt.status = status;
        p.h.interrupt.length = (uint16_t)n;
        break;
    case KIND_ISO:
        p.type = URG_ISO_PACKET;
        p.h.iso.endpoint = ep;
        p.h.iso.status = status;
        p.h.iso.length = (uint16_t)n;
        break;
    default:
        p.type = URG_BUFFERED_BULK_PACKET;
        p.h.buffered_bulk.endpoint = ep;
        p.h.buffered_bulk.status = status;
        p.h.buffered_bulk.length = n;
        p.h.buffered_bulk.stream_id = e->stream_id;
        break;
    }
    d->cov.stream_packets++;
    return send_pkt(d, &p);
}

int recdev_tick(struct recdev *d, double now, size_t budget, double *next)
{
    size_t sent = 0;
    *next = -1;
    for (int k = 16; k < 32; k++) {
        struct ep *e = &d->ep[k];
        while (e->running >= 0) {
            uint32_t max, n;
            uint8_t status;
            const uint8_t *data;
            double t;
            int rc;
            if (e->next >= e->nitems) {
                if (!d->loop || !e->nitems) {
                    e->asked_after_end = true;
                    break;
                }
                e->next = e->off = 0;
                e->t0_live = now;
                e->t0_rec = e->items[0].t_ns;
            }
            t = due(d, e);
            if (t > now || sent >= budget) {
                double wait = sent >= budget ? 0 : t - now;
                if (*next < 0 || wait < *next)
                    *next = wait;
                break;
            }
            /* A packet as long as the stream takes: an interrupt or iso
             * packet at most 65535 bytes, a buffered bulk chunk at most
             * bytes_per_transfer. */
            max = e->running == KIND_BULKRECV
                      ? (e->bytes_per_transfer && e->bytes_per_transfer < ITEM_MAX_LEN
                             ? e->bytes_per_transfer
                             : ITEM_MAX_LEN)
                      : 0xffff;
            if (!(data = take(d, e, max, &n, &status, now)))
                break;
            d->cov.recorded++;
            if ((rc = stream_send(d, e, k, status, data, n)))
                return rc;
            sent += n + 32; /* (a header: 16 bytes, a type header at most 16) */
        }
    }
    return 0;
}

bool recdev_over(const struct recdev *d)
{
    bool asked = false;
    if (d->loop)
        return false;
    for (int k = 16; k < 32; k++) {
        const struct ep *e = &d->ep[k];
        if (d->msc && (uint8_t)(0x80 | (k - 16)) == d->msc_in)
            continue;
        if (e->next < e->nitems)
            return false;
        asked = asked || (e->nitems && e->asked_after_end);
    }
    return asked;
}

void recdev_coverage(const struct recdev *d, struct urg_replay_coverage *c) { *c = d->cov; }

int recdev_report(const struct recdev *d, char *buf, size_t cap)
{
    const struct urg_replay_coverage *c = &d->cov;
    int n = snprintf(buf, cap,
                     "answered from the recording: %llu, by rule: %llu, not answerable: %llu; "
                     "stream packets sent: %llu",
                     (unsigned long long)c->recorded, (unsigned long long)c->by_rule,
                     (unsigned long long)c->unanswerable, (unsigned long long)c->stream_packets);
    if (d->msc && n >= 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n,
                      "; blocks read: %llu, missing: %llu, written: %llu (disk of %u recorded "
                      "blocks of %u bytes)",
                      (unsigned long long)c->blocks_read, (unsigned long long)c->blocks_missing,
                      (unsigned long long)c->blocks_written, d->nblk, d->block_size);
    return n;
}

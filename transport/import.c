/*
 * import.c - a pcap or pcapng file (read with libpcap) into a capture: the
 * file opened and told apart by its link type (a usbmon capture goes to
 * usbmon.c), a usbredir session over TCP reassembled here, the capture
 * written to a file or to memory.
 *
 * TCP: the first TCP connection in the file is taken. Each direction is
 * reassembled by sequence number: segments are delivered in order,
 * retransmitted bytes are dropped, early segments wait for the bytes before
 * them; bytes that never arrive are a gap, and a gap refuses the import
 * with where it is. The usb-host is the side given by host_port or, by
 * default, the side whose second packet is interface_info, ep_info or
 * device_connect (only a host sends those); a host_port on the other side
 * than that one is refused.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <sys/socket.h>

#include "import.h"
#include "urg_capture.h"
#include "urg_transport.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

struct seg {
    uint32_t seq;
    uint8_t *data;
    uint32_t len;
    uint64_t t;
};

/* One direction of the connection. */
struct side {
    uint8_t addr[16];
    int family;
    uint16_t port;
    bool started;      /* the next expected sequence number is known */
    uint32_t next;     /* next expected sequence number */
    uint32_t isn;      /* first data byte's sequence number */
    struct seg *held;  /* early segments */
    size_t nheld, cap;
};

/* Bytes in order, as they became deliverable. */
struct chunk {
    int side;          /* 0 or 1 */
    uint64_t t;
    uint8_t *data;
    uint32_t len;
};

struct imp {
    struct import *x;
    const struct urg_allocator *alloc;
    struct side s[2];
    bool have_conn;
    struct chunk *ch;
    size_t nch, chcap;
    uint64_t t0;
    bool have_t0;
    uint8_t *stream[2]; /* the first bytes of each side, for host detection */
    size_t slen[2];
    size_t held;        /* bytes of chunks and early segments (the budget) */
};

#define DEFAULT_MAX_BYTES ((size_t)1 << 30)

int import_fail(struct import *x, int code, const char *fmt, ...)
{
    va_list ap;
    if (x->err && x->errcap) {
        va_start(ap, fmt);
        vsnprintf(x->err, x->errcap, fmt, ap);
        va_end(ap);
    }
    return code;
}

void import_note(struct import *x, const char *fmt, ...)
{
    size_t n;
    va_list ap;
    if (!x->note || !x->notecap)
        return;
    n = strlen(x->note);
    if (n && n + 2 < x->notecap) {
        memcpy(x->note + n, "; ", 3);
        n += 2;
    }
    if (n + 1 >= x->notecap)
        return;
    va_start(ap, fmt);
    vsnprintf(x->note + n, x->notecap - n, fmt, ap);
    va_end(ap);
}

int import_output(struct import *x)
{
    int rc;
    if (x->out_path) {
        if ((rc = urgt_capture_create(x->alloc, x->out_path, &x->cap)))
            return import_fail(x, rc, "%s: cannot create the capture", x->out_path);
        return 0;
    }
    if ((rc = urgt_capture_create_mem(x->alloc, x->budget, &x->cap)))
        return import_fail(x, rc, "%s: %s", x->path, urg_strerror(rc));
    return 0;
}

static int fail(struct imp *m, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct imp *m, int code, const char *fmt, ...)
{
    va_list ap;
    if (m->x->err && m->x->errcap) {
        va_start(ap, fmt);
        vsnprintf(m->x->err, m->x->errcap, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Counts n more bytes held against the budget: 0, or the refusal. */
static int hold(struct imp *m, size_t n)
{
    if (n > m->x->budget - m->held)
        return fail(m, URG_ERR_PCAP,
                    "%s: the TCP streams are over %zu bytes (max_bytes): too big to import",
                    m->x->path, m->x->budget);
    m->held += n;
    return 0;
}

static void side_name(const struct side *s, char *buf, size_t cap)
{
    char a[INET6_ADDRSTRLEN];
    if (!inet_ntop(s->family == 4 ? AF_INET : AF_INET6, s->addr, a, sizeof(a)))
        snprintf(a, sizeof(a), "?");
    snprintf(buf, cap, s->family == 4 ? "%s:%u" : "[%s]:%u", a, s->port);
}

/* The array p (n used of *cap elements) with room for one more: p, or p
 * moved and *cap doubled (from first); NULL when out of memory (p stays). */
static void *grow(const struct urg_allocator *a, void *p, size_t n, size_t *cap, size_t elem,
                  size_t first)
{
    size_t nc;
    void *np;
    if (n < *cap)
        return p;
    nc = *cap ? *cap * 2 : first;
    if (!(np = urgi_realloc(a, p, nc * elem)))
        return NULL;
    *cap = nc;
    return np;
}

static int emit(struct imp *m, int side, uint64_t t, const uint8_t *data, uint32_t len)
{
    struct chunk *c;
    int r;
    if (!len)
        return 0;
    if ((r = hold(m, len)))
        return r;
    if (!(c = grow(m->alloc, m->ch, m->nch, &m->chcap, sizeof(*m->ch), 256)))
        return URG_ERR_NOMEM;
    m->ch = c;
    c = &m->ch[m->nch];
    c->data = urgi_malloc(m->alloc, len);
    if (!c->data)
        return URG_ERR_NOMEM;
    memcpy(c->data, data, len);
    c->len = len;
    c->side = side;
    c->t = t;
    m->nch++;
    if (m->slen[side] < 4096) {
        size_t k = len < 4096 - m->slen[side] ? len : 4096 - m->slen[side];
        /* Without these bytes the host could not be told apart: the
         * import fails rather than guess. */
        uint8_t *n = urgi_realloc(m->alloc, m->stream[side], m->slen[side] + k);
        if (!n)
            return URG_ERR_NOMEM;
        memcpy(n + m->slen[side], data, k);
        m->stream[side] = n;
        m->slen[side] += k;
    }
    return 0;
}

/* Sequence comparison modulo 2^32. */
static int32_t seqdiff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }

/* Delivers what is in order now, the held segments included. */
static int deliver(struct imp *m, int side, uint32_t seq, const uint8_t *data, uint32_t len,
                   uint64_t t)
{
    struct side *s = &m->s[side];
    int r;
    if (!s->started) {
        s->started = true;
        s->next = s->isn = seq;
    }
    if (seqdiff(seq, s->next) > 0) {
        /* Early: hold it until the bytes before it come. */
        struct seg *g;
        if ((r = hold(m, len)))
            return r;
        g = grow(m->alloc, s->held, s->nheld, &s->cap, sizeof(*s->held), 16);
        if (!g)
            return URG_ERR_NOMEM;
        s->held = g;
        g = &s->held[s->nheld];
        g->seq = seq;
        g->len = len;
        g->t = t;
        g->data = urgi_malloc(m->alloc, len);
        if (!g->data)
            return URG_ERR_NOMEM;
        memcpy(g->data, data, len);
        s->nheld++;
        return 0;
    }
    if (seqdiff(seq + len, s->next) > 0) {
        uint32_t skip = (uint32_t)seqdiff(s->next, seq); /* already delivered */
        if ((r = emit(m, side, t, data + skip, len - skip)))
            return r;
        s->next = seq + len;
    }
    /* Held segments that fit now. */
    for (;;) {
        size_t i;
        bool progress = false;
        for (i = 0; i < s->nheld; i++) {
            struct seg *g = &s->held[i];
            if (seqdiff(g->seq, s->next) > 0)
                continue;
            if (seqdiff(g->seq + g->len, s->next) > 0) {
                uint32_t skip = (uint32_t)seqdiff(s->next, g->seq);
                if ((r = emit(m, side, g->t, g->data + skip, g->len - skip)))
                    return r;
                s->next = g->seq + g->len;
            }
            urgi_free(m->alloc, g->data);
            s->held[i] = s->held[--s->nheld];
            progress = true;
            break;
        }
        if (!progress)
            return 0;
    }
}

static bool same(const struct side *s, int family, const uint8_t *addr, uint16_t port)
{
    return s->family == family && s->port == port && !memcmp(s->addr, addr, family == 4 ? 4 : 16);
}

/* One TCP segment (src -> dst). */
static int tcp(struct imp *m, int family, const uint8_t *src, const uint8_t *dst,
               const uint8_t *t, uint32_t len, uint64_t ts)
{
    uint16_t sport, dport;
    uint32_t seq, off;
    uint8_t flags;
    int side;
    if (len < 20)
        return 0;
    sport = (uint16_t)(t[0] << 8 | t[1]);
    dport = (uint16_t)(t[2] << 8 | t[3]);
    seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
    off = (uint32_t)(t[12] >> 4) * 4;
    flags = t[13];
    if (off < 20 || off > len)
        return 0;
    if (!m->have_conn) {
        m->have_conn = true;
        memcpy(m->s[0].addr, src, family == 4 ? 4 : 16);
        memcpy(m->s[1].addr, dst, family == 4 ? 4 : 16);
        m->s[0].family = m->s[1].family = family;
        m->s[0].port = sport;
        m->s[1].port = dport;
    }
    if (same(&m->s[0], family, src, sport) && same(&m->s[1], family, dst, dport))
        side = 0;
    else if (same(&m->s[1], family, src, sport) && same(&m->s[0], family, dst, dport))
        side = 1;
    else
        return 0; /* another connection */
    if (flags & 0x02) { /* SYN: data starts after it */
        m->s[side].started = true;
        m->s[side].next = m->s[side].isn = seq + 1;
        return 0;
    }
    if (len == off)
        return 0; /* no data: an ACK, a FIN (they may be ahead of the data) */
    return deliver(m, side, seq, t + off, len - off, ts);
}

/* One IP packet. */
static int ip(struct imp *m, const uint8_t *p, uint32_t len, uint64_t ts)
{
    if (len < 1)
        return 0;
    if ((p[0] >> 4) == 4) {
        uint32_t ihl = (uint32_t)(p[0] & 15) * 4, total;
        if (len < 20 || ihl < 20 || ihl > len)
            return 0;
        total = (uint32_t)(p[2] << 8 | p[3]);
        if (total < ihl || total > len)
            total = len; /* snapped or padded */
        if (p[9] != 6)
            return 0;
        if ((p[6] & 0x3f) || p[7])
            return fail(m, URG_ERR_PCAP, "%s: fragmented IPv4 packets are not supported",
                        m->x->path);
        return tcp(m, 4, p + 12, p + 16, p + ihl, total - ihl, ts);
    }
    if ((p[0] >> 4) == 6) {
        uint32_t plen;
        if (len < 40)
            return 0;
        plen = (uint32_t)(p[4] << 8 | p[5]);
        if (40 + plen > len)
            plen = len - 40;
        if (p[6] != 6)
            return 0; /* extension headers: not a plain TCP packet */
        return tcp(m, 6, p + 8, p + 24, p + 40, plen, ts);
    }
    return 0;
}

static int frame(struct imp *m, int dlt, const uint8_t *p, uint32_t len, uint64_t ts)
{
    uint16_t proto;
    switch (dlt) {
    case DLT_EN10MB:
        if (len < 14)
            return 0;
        proto = (uint16_t)(p[12] << 8 | p[13]);
        p += 14;
        len -= 14;
        while ((proto == 0x8100 || proto == 0x88a8) && len >= 4) { /* VLAN tags */
            proto = (uint16_t)(p[2] << 8 | p[3]);
            p += 4;
            len -= 4;
        }
        return (proto == 0x0800 || proto == 0x86dd) ? ip(m, p, len, ts) : 0;
    case DLT_LINUX_SLL:
        if (len < 16)
            return 0;
        proto = (uint16_t)(p[14] << 8 | p[15]);
        return (proto == 0x0800 || proto == 0x86dd) ? ip(m, p + 16, len - 16, ts) : 0;
    case DLT_LINUX_SLL2:
        if (len < 20)
            return 0;
        proto = (uint16_t)(p[0] << 8 | p[1]);
        return (proto == 0x0800 || proto == 0x86dd) ? ip(m, p + 20, len - 20, ts) : 0;
    case DLT_NULL:
    case DLT_LOOP:
        if (len < 4)
            return 0;
        return ip(m, p + 4, len - 4, ts);
    case DLT_RAW:
#ifdef DLT_IPV4
    case DLT_IPV4:
    case DLT_IPV6:
#endif
        return ip(m, p, len, ts);
    default:
        return fail(m, URG_ERR_PCAP,
                    "%s: link type %s is not supported (TCP/IP over Ethernet, Linux cooked, "
                    "raw IP or loopback; or usbmon)",
                    m->x->path,
                    pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?");
    }
}

/* The type of this side's second packet when it is one only a usb-host
 * sends (interface_info, ep_info, device_connect); else -1. */
static int host_only_packet(const uint8_t *b, size_t n)
{
    uint32_t len, type;
    if (n < 12 || b[0] || b[1] || b[2] || b[3])
        return -1; /* not a hello first */
    len = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    if (12 + (size_t)len + 4 > n)
        return -1;
    b += 12 + len;
    type = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return type == URG_INTERFACE_INFO || type == URG_EP_INFO || type == URG_DEVICE_CONNECT
               ? (int)type
               : -1;
}

/* The usb-host's side (0 or 1) by m->x->cfg->host_port or by what it
 * sent; says which and why in the note. */
static int host_side(struct imp *m)
{
    const char *path = m->x->path;
    int port = m->x->cfg->host_port, sent[2], side, i;
    char name[2][80];
    for (i = 0; i < 2; i++) {
        sent[i] = host_only_packet(m->stream[i], m->slen[i]);
        side_name(&m->s[i], name[i], sizeof(name[i]));
    }
    if (port) {
        bool on[2] = { m->s[0].port == port, m->s[1].port == port };
        if (!on[0] && !on[1])
            return fail(m, URG_ERR_PCAP,
                        "%s: neither side of the connection uses port %d (its sides are %s and "
                        "%s)",
                        path, port, name[0], name[1]);
        side = on[0] && on[1] ? (sent[1] >= 0 && sent[0] < 0) : !on[0];
        if (sent[1 - side] >= 0 && sent[side] < 0)
            return fail(m, URG_ERR_PCAP,
                        "%s: port %d is the usb-guest's side (%s): the usb-host is %s, which "
                        "sent %s (only a usb-host does)",
                        path, port, name[side], name[1 - side],
                        urg_type_name((uint32_t)sent[1 - side]));
        import_note(m->x, "the usb-host is %s: its port was given (%d)", name[side], port);
        return side;
    }
    side = sent[0] >= 0 ? 0 : sent[1] >= 0 ? 1 : -1;
    if (side < 0)
        return fail(m, URG_ERR_PCAP,
                    "%s: cannot tell which side is the usb-host: neither %s nor %s sent "
                    "interface_info, ep_info or device_connect after its hello; give the host's "
                    "port",
                    path, name[0], name[1]);
    import_note(m->x, "the usb-host is %s: it sent %s (only a usb-host does)", name[side],
                urg_type_name((uint32_t)sent[side]));
    return side;
}

/* The TCP connection of pc (link type dlt) into the capture. */
static int tcp_import(struct import *x, pcap_t *pc, int dlt)
{
    struct pcap_pkthdr *hdr;
    const u_char *data;
    struct imp m;
    int rc = 0, nx, hs, i;
    unsigned frames = 0;
    size_t k;
    const char *pcap_path = x->path;

    memset(&m, 0, sizeof(m));
    m.x = x;
    m.alloc = x->alloc;
    while ((nx = pcap_next_ex(pc, &hdr, &data)) == 1) {
        uint64_t ts = (uint64_t)hdr->ts.tv_sec * 1000000000u + (uint64_t)hdr->ts.tv_usec;
        frames++;
        if (hdr->caplen < hdr->len) {
            rc = fail(&m, URG_ERR_PCAP,
                      "%s: frame %u was cut short: captured %u of %u bytes (capture with "
                      "tcpdump -s 0)",
                      pcap_path, frames, hdr->caplen, hdr->len);
            goto out;
        }
        if (!m.have_t0) {
            m.t0 = ts;
            m.have_t0 = true;
        }
        if ((rc = frame(&m, dlt, data, hdr->caplen, ts - m.t0)))
            goto out;
    }
    if (nx == PCAP_ERROR) {
        rc = fail(&m, URG_ERR_PCAP, "%s: %s", pcap_path, pcap_geterr(pc));
        goto out;
    }
    if (!m.have_conn || !m.nch) {
        rc = fail(&m, URG_ERR_PCAP, "%s: no TCP connection with data", pcap_path);
        goto out;
    }
    for (i = 0; i < 2; i++) {
        if (m.s[i].nheld) {
            /* The earliest byte still held shows where the hole ends. */
            char a[80], b[80];
            uint32_t first = m.s[i].held[0].seq;
            for (k = 1; k < m.s[i].nheld; k++)
                if (seqdiff(m.s[i].held[k].seq, first) < 0)
                    first = m.s[i].held[k].seq;
            side_name(&m.s[i], a, sizeof(a));
            side_name(&m.s[1 - i], b, sizeof(b));
            rc = fail(&m, URG_ERR_TCP_GAP,
                      "%s: the TCP stream %s -> %s has a gap: bytes %u to %u were never "
                      "captured",
                      pcap_path, a, b, m.s[i].next - m.s[i].isn, first - m.s[i].isn);
            goto out;
        }
    }
    if ((hs = host_side(&m)) < 0) {
        rc = hs;
        goto out;
    }
    if ((rc = import_output(x)))
        goto out;
    if ((rc = urg_capture_write_at(x->cap, URG_CAP_CONNECT, 0, NULL, 0)))
        goto written;
    for (k = 0; k < m.nch; k++) {
        int kind = m.ch[k].side == hs ? URG_CAP_HOST : URG_CAP_GUEST;
        if ((rc = urg_capture_write_at(x->cap, kind, m.ch[k].t, m.ch[k].data, m.ch[k].len)))
            goto written;
    }
written:
    if (rc)
        fail(&m, rc, "%s: cannot write the capture: %s", x->out_path ? x->out_path : pcap_path,
             urg_strerror(rc));
out:
    for (k = 0; k < m.nch; k++)
        urgi_free(m.alloc, m.ch[k].data);
    urgi_free(m.alloc, m.ch);
    for (i = 0; i < 2; i++) {
        for (k = 0; k < m.s[i].nheld; k++)
            urgi_free(m.alloc, m.s[i].held[k].data);
        urgi_free(m.alloc, m.s[i].held);
        urgi_free(m.alloc, m.stream[i]);
    }
    return rc;
}

#ifndef DLT_USB_LINUX
#define DLT_USB_LINUX 189
#endif
#ifndef DLT_USB_LINUX_MMAPPED
#define DLT_USB_LINUX_MMAPPED 220
#endif

URG_API void urg_import_config_init_size(struct urg_import_config *cfg, size_t size)
{
    struct urg_import_config d;
    memset(&d, 0, sizeof(d));
    d.usb_bus = d.usb_address = -1;
    if (cfg)
        urgi_config_give(cfg, size, &d, sizeof(d));
}

/* The import of in_path to out_path (NULL: to memory, into *data and
 * *len), as the public functions below take it. */
static int import_file(const char *in_path, const char *out_path,
                       const struct urg_import_config *cfg_in, void **data, size_t *len,
                       char *note, size_t notecap, char *err, size_t errcap)
{
    char ebuf[PCAP_ERRBUF_SIZE];
    struct urg_import_config cfg;
    struct import x;
    pcap_t *pc;
    int rc, dlt;

    if (err && errcap)
        err[0] = 0;
    if (note && notecap)
        note[0] = 0;
    urg_import_config_init(&cfg);
    if (cfg_in && urgi_config_take(&cfg, sizeof(cfg), cfg_in))
        return URG_ERR_INVALID;
    if (cfg.host_port < 0 || cfg.host_port > 65535 || cfg.usb_bus < -1 || cfg.usb_bus > 65535 ||
        cfg.usb_address < -1 || cfg.usb_address > 255 || (cfg.usb_bus < 0) != (cfg.usb_address < 0))
        return URG_ERR_INVALID;
    memset(&x, 0, sizeof(x));
    x.alloc = urgi_allocator_or_default(cfg.allocator);
    x.cfg = &cfg;
    x.path = in_path;
    x.out_path = out_path;
    x.budget = cfg.max_bytes ? cfg.max_bytes : DEFAULT_MAX_BYTES;
    if (x.budget < 64)
        x.budget = 64;
    x.note = note;
    x.notecap = notecap;
    x.err = err;
    x.errcap = errcap;
    pc = pcap_open_offline_with_tstamp_precision(in_path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!pc)
        return import_fail(&x, URG_ERR_PCAP, "%s: %s", in_path, ebuf);
    dlt = pcap_datalink(pc);
    if (dlt == DLT_USB_LINUX || dlt == DLT_USB_LINUX_MMAPPED) {
        pcap_close(pc);
        rc = usbmon_import(&x, dlt);
    } else {
        rc = tcp_import(&x, pc, dlt);
        pcap_close(pc);
    }
    if (rc == 0 && !out_path)
        urgt_capture_take_mem(x.cap, data, len);
    else
        urg_capture_close(x.cap);
    if (rc < 0 && err && errcap && !err[0])
        snprintf(err, errcap, "%s: %s", in_path, urg_strerror(rc));
    return rc;
}

URG_API int urg_capture_import(const char *in_path, const char *out_path,
                               const struct urg_import_config *cfg, char *note, size_t notecap,
                               char *err, size_t errcap)
{
    if (!in_path || !out_path)
        return URG_ERR_INVALID;
    return import_file(in_path, out_path, cfg, NULL, NULL, note, notecap, err, errcap);
}

URG_API int urg_capture_import_mem(const char *in_path, const struct urg_import_config *cfg,
                                   void **data, size_t *len, char *note, size_t notecap,
                                   char *err, size_t errcap)
{
    if (!in_path || !data || !len)
        return URG_ERR_INVALID;
    *data = NULL;
    *len = 0;
    return import_file(in_path, NULL, cfg, data, len, note, notecap, err, errcap);
}

int urgt_capture_import_pcap(const struct urg_allocator *alloc, const char *pcap_path,
                             const char *out_path, int host_port, char *err, size_t errcap)
{
    struct urg_import_config cfg;
    urg_import_config_init(&cfg);
    cfg.host_port = host_port;
    cfg.allocator = alloc;
    return urg_capture_import(pcap_path, out_path, &cfg, NULL, 0, err, errcap);
}

URG_API int urg_capture_import_pcap(const char *pcap_path, const char *out_path, int host_port,
                                    char *err, size_t errcap)
{
    return urgt_capture_import_pcap(NULL, pcap_path, out_path, host_port, err, errcap);
}

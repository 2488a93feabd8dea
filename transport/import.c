/*
 * import.c - a TCP session captured by tcpdump (pcap or pcapng, read with
 * libpcap) into a capture file.
 *
 * The first TCP connection in the file is taken. Each direction is
 * reassembled by sequence number: segments are delivered in order,
 * retransmitted bytes are dropped, early segments wait for the bytes before
 * them; bytes that never arrive are a gap, and a gap refuses the import
 * with where it is. The usb-host is the side given by host_port or, by
 * default, the side whose second packet is interface_info, ep_info or
 * device_connect (only a host sends those).
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

#include "talloc.h"
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
    const struct urg_allocator *alloc;
    struct side s[2];
    bool have_conn;
    struct chunk *ch;
    size_t nch, chcap;
    uint64_t t0;
    bool have_t0;
    char *err;
    size_t errcap;
    uint8_t *stream[2]; /* the first bytes of each side, for host detection */
    size_t slen[2];
};

static int fail(struct imp *m, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct imp *m, int code, const char *fmt, ...)
{
    va_list ap;
    if (m->err && m->errcap) {
        va_start(ap, fmt);
        vsnprintf(m->err, m->errcap, fmt, ap);
        va_end(ap);
    }
    return code;
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
    if (!len)
        return 0;
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
        struct seg *g = grow(m->alloc, s->held, s->nheld, &s->cap, sizeof(*s->held), 16);
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
            return fail(m, URG_ERR_PCAP, "fragmented IPv4 packets are not supported");
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
        return fail(m, URG_ERR_PCAP, "link type %s is not supported",
                    pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?");
    }
}

/* Is this side's second packet one only a usb-host sends? */
static int looks_like_host(const uint8_t *b, size_t n)
{
    uint32_t len, type;
    if (n < 12 || b[0] || b[1] || b[2] || b[3])
        return -1; /* not a hello first */
    len = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    if (12 + (size_t)len + 4 > n)
        return -1;
    b += 12 + len;
    type = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return type == URG_INTERFACE_INFO || type == URG_EP_INFO || type == URG_DEVICE_CONNECT;
}

int urgt_capture_import_pcap(const struct urg_allocator *alloc, const char *pcap_path,
                             const char *out_path, int host_port, char *err, size_t errcap)
{
    char ebuf[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *hdr;
    const u_char *data;
    struct imp m;
    pcap_t *pc;
    urg_capture *cap = NULL;
    int rc = 0, dlt, nx, host_side = -1, i;
    unsigned frames = 0;
    size_t k;

    if (!pcap_path || !out_path)
        return URG_ERR_INVALID;
    memset(&m, 0, sizeof(m));
    m.alloc = urgi_allocator_or_default(alloc);
    m.err = err;
    m.errcap = errcap;
    if (err && errcap)
        err[0] = 0;
    pc = pcap_open_offline_with_tstamp_precision(pcap_path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!pc)
        return fail(&m, URG_ERR_PCAP, "%s: %s", pcap_path, ebuf);
    dlt = pcap_datalink(pc);
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
    if (host_port) {
        host_side = m.s[0].port == host_port ? 0 : m.s[1].port == host_port ? 1 : -1;
        if (host_side < 0) {
            rc = fail(&m, URG_ERR_PCAP, "%s: neither side of the connection uses port %d",
                      pcap_path, host_port);
            goto out;
        }
    } else {
        int a = looks_like_host(m.stream[0], m.slen[0]);
        int b = looks_like_host(m.stream[1], m.slen[1]);
        host_side = a == 1 ? 0 : b == 1 ? 1 : -1;
        if (host_side < 0) {
            rc = fail(&m, URG_ERR_PCAP,
                      "%s: cannot tell which side is the usb-host (no device_connect); give "
                      "the host's port",
                      pcap_path);
            goto out;
        }
    }
    if ((rc = urgt_capture_create(m.alloc, out_path, &cap))) {
        fail(&m, rc, "%s: cannot create the capture", out_path);
        goto out;
    }
    if ((rc = urg_capture_write_at(cap, URG_CAP_CONNECT, 0, NULL, 0)))
        goto out;
    for (k = 0; k < m.nch; k++) {
        int kind = m.ch[k].side == host_side ? URG_CAP_HOST : URG_CAP_GUEST;
        if ((rc = urg_capture_write_at(cap, kind, m.ch[k].t, m.ch[k].data, m.ch[k].len))) {
            fail(&m, rc, "%s: cannot write the capture", out_path);
            goto out;
        }
    }
out:
    if (rc < 0 && err && errcap && !err[0])
        snprintf(err, errcap, "%s: %s", pcap_path, urg_strerror(rc));
    urg_capture_close(cap);
    pcap_close(pc);
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

URG_API int urg_capture_import_pcap(const char *pcap_path, const char *out_path, int host_port,
                                    char *err, size_t errcap)
{
    return urgt_capture_import_pcap(NULL, pcap_path, out_path, host_port, err, errcap);
}

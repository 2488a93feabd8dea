/*
 * export.c - a capture file written as a pcap file of TCP over IPv4 (libpcap's
 * writer), for Wireshark, tcpdump and the importer (import.c).
 *
 * Each connection of the capture becomes one TCP connection: the guest
 * 127.0.0.1:EXPORT_GUEST_PORT + n - 1 (n = 1, 2, ... wrapping after
 * EXPORT_GUEST_PORTS connections) connects to the usb-host 127.0.0.2:host_port;
 * the handshake at the connection's first record, each side's bytes as
 * segments (PSH, ACK) with their sequence numbers and the other side's
 * next byte as ack, then a FIN each way and the last ACK at its last
 * record. A segment never spans records: a record is one segment, or
 * several when segment sizes are given (taken in turn, across records) or
 * when it is longer than one IPv4 packet holds. Times are the records'
 * (nanoseconds since the capture began, on the epoch).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "talloc.h"
#include "urg_capture.h"

#define EXPORT_GUEST_PORT 40000u
#define EXPORT_GUEST_PORTS 20000u
#define EXPORT_DEFAULT_HOST_PORT 4000
#define IP_HDR 20
#define TCP_HDR 20
#define SEG_MAX (65535u - IP_HDR - TCP_HDR) /* TCP payload of one IPv4 packet */

enum { F_FIN = 0x01, F_SYN = 0x02, F_PSH = 0x08, F_ACK = 0x10 };

struct tcp_side {
    uint8_t addr[4];
    uint16_t port;
    uint32_t next; /* the sequence number of its next byte */
};

struct exporter {
    pcap_dumper_t *dumper;
    uint8_t *pkt; /* one IPv4 packet: IP_HDR + TCP_HDR + SEG_MAX */
    uint16_t ip_id;
    struct tcp_side s[2]; /* [0] the guest, [1] the usb-host */
    bool open;            /* a connection is up (its handshake written) */
    uint64_t last_ns;     /* of the open connection's last record */
    uint32_t connections;
    const uint32_t *sizes;
    size_t nsizes, next_size;
    char *err;
    size_t errcap;
};

static int fail(struct exporter *x, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct exporter *x, int code, const char *fmt, ...)
{
    va_list ap;
    if (x->err && x->errcap) {
        va_start(ap, fmt);
        vsnprintf(x->err, x->errcap, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

/* The Internet checksum of n bytes, added to sum (folded by the caller). */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}
static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* One segment from side `from` with flags and len bytes of data (len at
 * most SEG_MAX), written at time ns; SYN and FIN take a sequence number. */
static void segment(struct exporter *x, int from, uint8_t flags, const uint8_t *data, uint32_t len,
                    uint64_t ns)
{
    const struct tcp_side *a = &x->s[from], *b = &x->s[1 - from];
    uint8_t *ip = x->pkt, *tcp = x->pkt + IP_HDR, pseudo[12];
    uint32_t total = IP_HDR + TCP_HDR + len, sum;
    struct pcap_pkthdr h;

    memset(ip, 0, IP_HDR + TCP_HDR);
    ip[0] = 0x45;
    put16(ip + 2, total);
    put16(ip + 4, x->ip_id++);
    ip[6] = 0x40; /* don't fragment */
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, a->addr, 4);
    memcpy(ip + 16, b->addr, 4);
    put16(ip + 10, fold(sum16(0, ip, IP_HDR)));

    put16(tcp, a->port);
    put16(tcp + 2, b->port);
    put32(tcp + 4, a->next);
    put32(tcp + 8, flags & F_ACK ? b->next : 0);
    tcp[12] = (TCP_HDR / 4) << 4;
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    if (len)
        memcpy(tcp + TCP_HDR, data, len);
    memcpy(pseudo, a->addr, 4);
    memcpy(pseudo + 4, b->addr, 4);
    pseudo[8] = 0;
    pseudo[9] = 6;
    put16(pseudo + 10, TCP_HDR + len);
    sum = sum16(sum16(0, pseudo, sizeof(pseudo)), tcp, TCP_HDR + len);
    put16(tcp + 16, fold(sum));

    memset(&h, 0, sizeof(h));
    /* A nanosecond pcap: tv_usec holds the nanoseconds. */
    h.ts.tv_sec = (time_t)(ns / 1000000000u);
    h.ts.tv_usec = (suseconds_t)(ns % 1000000000u);
    h.caplen = h.len = total;
    pcap_dump((u_char *)x->dumper, &h, x->pkt);
    x->s[from].next += len + ((flags & (F_SYN | F_FIN)) ? 1 : 0);
}

static void open_connection(struct exporter *x, uint64_t ns)
{
    uint32_t n = x->connections++;
    x->s[0].port = (uint16_t)(EXPORT_GUEST_PORT + n % EXPORT_GUEST_PORTS);
    x->s[0].next = 0x10000000u + n * 0x10000u;
    x->s[1].next = 0x20000000u + n * 0x10000u;
    segment(x, 0, F_SYN, NULL, 0, ns);
    segment(x, 1, F_SYN | F_ACK, NULL, 0, ns);
    segment(x, 0, F_ACK, NULL, 0, ns);
    x->open = true;
    x->last_ns = ns;
}

static void close_connection(struct exporter *x)
{
    if (!x->open)
        return;
    segment(x, 0, F_FIN | F_ACK, NULL, 0, x->last_ns);
    segment(x, 1, F_FIN | F_ACK, NULL, 0, x->last_ns);
    segment(x, 0, F_ACK, NULL, 0, x->last_ns);
    x->open = false;
}

/* A record's bytes from side `from`, cut into segments. */
static void data(struct exporter *x, int from, const uint8_t *p, uint32_t len, uint64_t ns)
{
    while (len) {
        uint32_t n = SEG_MAX;
        if (x->nsizes) {
            n = x->sizes[x->next_size];
            x->next_size = (x->next_size + 1) % x->nsizes;
        }
        if (n > len)
            n = len;
        segment(x, from, F_PSH | F_ACK, p, n, ns);
        p += n;
        len -= n;
    }
}

int urgt_capture_export_pcap(const struct urg_allocator *alloc, const char *capture_path,
                             const char *pcap_path, int host_port, const uint32_t *segment_sizes,
                             size_t nsizes, char *err, size_t errcap)
{
    static const uint8_t guest_addr[4] = { 127, 0, 0, 1 }, host_addr[4] = { 127, 0, 0, 2 };
    const struct urg_allocator *a = urgi_allocator_or_default(alloc);
    struct urg_capture_record rec;
    struct exporter x;
    urg_capture_reader *r = NULL;
    pcap_t *dead = NULL;
    size_t i;
    int rc;

    memset(&x, 0, sizeof(x));
    x.err = err;
    x.errcap = errcap;
    if (err && errcap)
        err[0] = 0;
    if (!capture_path || !pcap_path || (nsizes && !segment_sizes) || host_port < 0 ||
        host_port > 65535)
        return URG_ERR_INVALID;
    for (i = 0; i < nsizes; i++)
        if (segment_sizes[i] < 1 || segment_sizes[i] > SEG_MAX)
            return fail(&x, URG_ERR_INVALID, "a segment size of %u bytes: each must be 1 to %u",
                        segment_sizes[i], SEG_MAX);
    x.sizes = segment_sizes;
    x.nsizes = nsizes;
    memcpy(x.s[0].addr, guest_addr, 4);
    memcpy(x.s[1].addr, host_addr, 4);
    x.s[1].port = (uint16_t)(host_port ? host_port : EXPORT_DEFAULT_HOST_PORT);

    if ((rc = urgt_capture_open(a, capture_path, &r)))
        return fail(&x, rc, "%s: %s", capture_path, urg_strerror(rc));
    if (!(x.pkt = urgi_malloc(a, IP_HDR + TCP_HDR + SEG_MAX))) {
        rc = URG_ERR_NOMEM;
        goto out;
    }
    dead = pcap_open_dead_with_tstamp_precision(DLT_RAW, IP_HDR + TCP_HDR + SEG_MAX,
                                                PCAP_TSTAMP_PRECISION_NANO);
    if (!dead) {
        rc = fail(&x, URG_ERR_NOMEM, "%s: libpcap cannot make a writer", pcap_path);
        goto out;
    }
    if (!(x.dumper = pcap_dump_open(dead, pcap_path))) {
        rc = fail(&x, URG_ERR_PCAP, "%s: %s", pcap_path, pcap_geterr(dead));
        goto out;
    }
    while ((rc = urg_capture_next(r, &rec)) == 1) {
        switch (rec.kind) {
        case URG_CAP_CONNECT:
            close_connection(&x);
            open_connection(&x, rec.time_ns);
            break;
        case URG_CAP_GUEST:
        case URG_CAP_HOST:
            if (!rec.len)
                break;
            if (!x.open)
                open_connection(&x, rec.time_ns);
            data(&x, rec.kind == URG_CAP_HOST, rec.data, rec.len, rec.time_ns);
            x.last_ns = rec.time_ns;
            break;
        default: /* a note */
            break;
        }
    }
    if (rc) {
        fail(&x, rc, "%s: %s", capture_path, urg_strerror(rc));
        goto out;
    }
    close_connection(&x);
    if (pcap_dump_flush(x.dumper) || ferror(pcap_dump_file(x.dumper)))
        rc = fail(&x, URG_ERR_PCAP, "%s: cannot write the file", pcap_path);
out:
    if (x.dumper)
        pcap_dump_close(x.dumper);
    if (dead)
        pcap_close(dead);
    urgi_free(a, x.pkt);
    urg_capture_reader_free(r);
    if (rc < 0 && err && errcap && !err[0])
        snprintf(err, errcap, "%s: %s", capture_path, urg_strerror(rc));
    return rc;
}

URG_API int urg_capture_export_pcap(const char *capture_path, const char *pcap_path, int host_port,
                                    const uint32_t *segment_sizes, size_t nsizes, char *err,
                                    size_t errcap)
{
    return urgt_capture_export_pcap(NULL, capture_path, pcap_path, host_port, segment_sizes,
                                    nsizes, err, errcap);
}

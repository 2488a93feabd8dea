/*
 * corpus_from_fixtures.c - seeds for the fuzz targets that take a usb-host
 * stream (fuzz_recv, fuzz_hcd) from the committed fixtures (make corpus).
 *
 *   corpus_from_fixtures DIR FIXTURE.urgcap...
 *   corpus_from_fixtures --pcap DIR FIXTURE.urgcap...
 *
 * For each fixture: the bytes the host sent on the first connection on
 * which it spoke, after the targets' 8 control bytes (all caps; three flag
 * and seed variants, one for streams over 64 KiB), written to
 * DIR/fixture-NAME-V.
 *
 * With --pcap (seeds of fuzz_import): that connection as tcpdump would
 * have captured it, both directions over Ethernet, IPv4 and TCP (SYNs, data
 * in segments of up to 1448 bytes, FINs), written to DIR/fixture-NAME.pcap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urg_capture.h"
#include "urg_transport.h"

/* ---------------------------------------------------------------- pcap */

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

struct pcapw {
    FILE *f;
    uint32_t seq[2];   /* next sequence number of the guest (0), host (1) */
    uint32_t t;
};

static void frame(struct pcapw *w, int host, uint8_t flags, const uint8_t *data, uint32_t len)
{
    uint8_t h[16 + 54];
    uint32_t caplen = 54 + len;
    memset(h, 0, sizeof(h));
    w->t += 100;
    h[0] = (uint8_t)(w->t / 1000000); /* little-endian record header */
    h[4] = (uint8_t)(w->t % 1000000);
    h[5] = (uint8_t)((w->t % 1000000) >> 8);
    h[6] = (uint8_t)((w->t % 1000000) >> 16);
    for (int i = 0; i < 4; i++)
        h[8 + i] = h[12 + i] = (uint8_t)(caplen >> (8 * i));
    uint8_t *e = h + 16, *ip = e + 14, *tcp = ip + 20;
    e[5] = (uint8_t)(1 + host);        /* dst and src MACs */
    e[11] = (uint8_t)(2 - host);
    put16(e + 12, 0x0800);
    ip[0] = 0x45;
    put16(ip + 2, 40 + len);
    put16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, host ? 0x0a000002 : 0x0a000001);
    put32(ip + 16, host ? 0x0a000001 : 0x0a000002);
    put16(tcp, host ? 4000 : 40000);
    put16(tcp + 2, host ? 40000 : 4000);
    put32(tcp + 4, w->seq[host]);
    put32(tcp + 8, w->seq[!host]);
    tcp[12] = 0x50;
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    fwrite(h, 1, sizeof(h), w->f);
    fwrite(data, 1, len, w->f);
    w->seq[host] += len + ((flags & 0x03) ? 1 : 0); /* SYN and FIN count one */
}

static int write_pcap(const char *path, urg_capture_reader *r)
{
    static const uint8_t global[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0,
                                        0,    0,    0,    0,    0xff, 0xff, 0, 0, 1, 0, 0, 0 };
    struct urg_capture_record rec;
    struct pcapw w = { fopen(path, "wb"), { 1000, 0xfffff000u }, 0 };
    int spoke = 0, rc;
    if (!w.f)
        return -1;
    fwrite(global, 1, sizeof(global), w.f);
    frame(&w, 0, 0x02, NULL, 0); /* SYN */
    frame(&w, 1, 0x12, NULL, 0); /* SYN-ACK: the host's sequence wraps */
    while ((rc = urg_capture_next(r, &rec)) == 1) {
        if (rec.kind == URG_CAP_CONNECT && spoke)
            break;
        if (rec.kind != URG_CAP_GUEST && rec.kind != URG_CAP_HOST)
            continue;
        spoke |= rec.kind == URG_CAP_HOST;
        for (uint32_t off = 0; off < rec.len; off += 1448) {
            uint32_t n = rec.len - off < 1448 ? rec.len - off : 1448;
            frame(&w, rec.kind == URG_CAP_HOST, 0x18, rec.data + off, n);
        }
    }
    frame(&w, 0, 0x11, NULL, 0); /* FIN */
    frame(&w, 1, 0x11, NULL, 0);
    return fclose(w.f) || rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "--pcap")) {
        for (int a = 3; a < argc; a++) {
            const char *base = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
            char path[1024];
            urg_capture_reader *r;
            snprintf(path, sizeof(path), "%s/fixture-%.*s.pcap", argv[2],
                     (int)(strlen(base) - strlen(".urgcap")), base);
            if (urg_capture_open(argv[a], &r) || write_pcap(path, r)) {
                fprintf(stderr, "corpus: cannot make %s\n", path);
                return 1;
            }
            urg_capture_reader_free(r);
        }
        return 0;
    }
    static const uint8_t flags[3] = { 0x00, 0x04, 0x09 };
    for (int a = 2; a < argc; a++) {
        urg_capture_reader *r;
        struct urg_capture_record rec;
        uint8_t *host = NULL;
        size_t len = 0;
        int spoke = 0, rc;
        const char *base = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
        if (urg_capture_open(argv[a], &r)) {
            fprintf(stderr, "corpus: cannot read %s\n", argv[a]);
            return 1;
        }
        while ((rc = urg_capture_next(r, &rec)) == 1) {
            if (rec.kind == URG_CAP_CONNECT && spoke)
                break;
            if (rec.kind == URG_CAP_HOST) {
                uint8_t *p = realloc(host, len + rec.len);
                if (!p)
                    return 1;
                host = p;
                memcpy(host + len, rec.data, rec.len);
                len += rec.len;
                spoke = 1;
            }
        }
        urg_capture_reader_free(r);
        if (rc < 0 || !spoke) {
            fprintf(stderr, "corpus: %s has no host bytes\n", argv[a]);
            return 1;
        }
        for (int v = 0; v < (len > 65536 ? 1 : 3); v++) { /* large ones once */
            char path[1024], name[256];
            uint8_t ctl[8] = { 0xff, flags[v], (uint8_t)(0x11 * (v + 1)), 0x5a, 0xa5, 0x3c, 0, 0 };
            FILE *f;
            snprintf(name, sizeof(name), "%.*s", (int)(strlen(base) - strlen(".urgcap")), base);
            snprintf(path, sizeof(path), "%s/fixture-%s-%d", argv[1], name, v);
            if (!(f = fopen(path, "wb")) || fwrite(ctl, 1, 8, f) != 8 ||
                fwrite(host, 1, len, f) != len || fclose(f)) {
                fprintf(stderr, "corpus: cannot write %s\n", path);
                return 1;
            }
        }
        free(host);
    }
    return 0;
}

/*
 * pcap-fins [--closed] FILE N [SECONDS] - waits until the pcap FILE (being
 * written by tcpdump -U) holds N TCP segments with FIN set (with --closed:
 * N TCP connections over IPv4 that ended, by a FIN each way or a RST),
 * watching it with inotify; exits 0 then, 1 if SECONDS (20) pass first - a
 * bound on a hang, not a wait used to synchronise. Every segment before a
 * FIN is in the file once the FIN is, so the capture of a closed
 * connection is then complete.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

/* Connections that ended, by FINs both ways or a RST (IPv4 over Ethernet,
 * raw IP or Linux cooked capture). */
static int closed(const char *path)
{
    struct conn {
        uint8_t a[6], b[6]; /* address and port of each side, a < b */
        int fin_a, fin_b, rst;
    } c[256];
    char eb[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *d;
    int n = 0, done = 0, link;
    size_t off;
    pcap_t *p = pcap_open_offline(path, eb);
    if (!p)
        return 0;
    link = pcap_datalink(p);
    off = link == DLT_EN10MB ? 14 : link == DLT_LINUX_SLL ? 16 : 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        const u_char *ip = d + off, *tcp;
        uint8_t src[6], dst[6];
        size_t ihl;
        int i, from_a;
        if (h->caplen < off + 40 || (ip[0] >> 4) != 4 || ip[9] != 6)
            continue;
        ihl = (size_t)(ip[0] & 15) * 4;
        if (h->caplen < off + ihl + 14)
            continue;
        tcp = ip + ihl;
        memcpy(src, ip + 12, 4);
        memcpy(src + 4, tcp, 2);
        memcpy(dst, ip + 16, 4);
        memcpy(dst + 4, tcp + 2, 2);
        from_a = memcmp(src, dst, 6) < 0;
        for (i = 0; i < n; i++)
            if (!memcmp(c[i].a, from_a ? src : dst, 6) && !memcmp(c[i].b, from_a ? dst : src, 6))
                break;
        if (i == n) {
            if (n == 256)
                continue;
            memset(&c[n], 0, sizeof(c[n]));
            memcpy(c[n].a, from_a ? src : dst, 6);
            memcpy(c[n].b, from_a ? dst : src, 6);
            n++;
        }
        if (tcp[13] & 0x02) /* a SYN: a new connection on the same ports */
            c[i].fin_a = c[i].fin_b = c[i].rst = 0;
        if (tcp[13] & 0x01)
            *(from_a ? &c[i].fin_a : &c[i].fin_b) = 1;
        if (tcp[13] & 0x04)
            c[i].rst = 1;
    }
    pcap_close(p);
    for (int i = 0; i < n; i++)
        done += c[i].rst || (c[i].fin_a && c[i].fin_b);
    return done;
}

static int fins(const char *path)
{
    char eb[PCAP_ERRBUF_SIZE];
    struct bpf_program prog;
    struct pcap_pkthdr *h;
    const u_char *d;
    int n = 0;
    pcap_t *p = pcap_open_offline(path, eb);
    if (!p)
        return 0;
    if (pcap_compile(p, &prog, "tcp[tcpflags] & tcp-fin != 0", 1, PCAP_NETMASK_UNKNOWN) == 0) {
        while (pcap_next_ex(p, &h, &d) == 1)
            if (pcap_offline_filter(&prog, h, d))
                n++;
        pcap_freecode(&prog);
    }
    pcap_close(p);
    return n;
}

int main(int argc, char **argv)
{
    struct timespec start, now;
    int want, ino;
    int (*count)(const char *) = fins;
    double limit;
    if (argc > 1 && !strcmp(argv[1], "--closed")) {
        count = closed;
        argv++;
        argc--;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: pcap-fins [--closed] FILE N [SECONDS]\n");
        return 2;
    }
    want = atoi(argv[2]);
    limit = argc > 3 ? atof(argv[3]) : 20;
    ino = inotify_init1(IN_NONBLOCK);
    if (ino < 0 || inotify_add_watch(ino, argv[1], IN_MODIFY) < 0) {
        perror(argv[1]);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (count(argv[1]) < want) {
        struct pollfd p = { ino, POLLIN, 0 };
        char ev[4096];
        double left;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = limit - (double)(now.tv_sec - start.tv_sec) -
               (double)(now.tv_nsec - start.tv_nsec) / 1e9;
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) < 0) {
            fprintf(stderr, "pcap-fins: %s has %d %s, not %d\n", argv[1], count(argv[1]),
                    count == fins ? "FINs" : "closed connections", want);
            return 1;
        }
        while (read(ino, ev, sizeof(ev)) > 0)
            ;
    }
    return 0;
}

/*
 * pcap-fins FILE N [SECONDS] - waits until the pcap FILE (being written by
 * tcpdump -U) holds N TCP segments with FIN set, watching it with inotify;
 * exits 0 then, 1 if SECONDS (20) pass first - a bound on a hang, not a
 * wait used to synchronise. Every segment before a FIN is in the file once
 * the FIN is, so the capture of a closed connection is then complete.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

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
    double limit;
    if (argc < 3) {
        fprintf(stderr, "usage: pcap-fins FILE N [SECONDS]\n");
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
    while (fins(argv[1]) < want) {
        struct pollfd p = { ino, POLLIN, 0 };
        char ev[4096];
        double left;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = limit - (double)(now.tv_sec - start.tv_sec) -
               (double)(now.tv_nsec - start.tv_nsec) / 1e9;
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) < 0) {
            fprintf(stderr, "pcap-fins: %s has %d FINs, not %d\n", argv[1], fins(argv[1]), want);
            return 1;
        }
        while (read(ino, ev, sizeof(ev)) > 0)
            ;
    }
    return 0;
}

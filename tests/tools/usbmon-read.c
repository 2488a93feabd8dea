/*
 * usbmon-read FILE - prints a usbmon pcap (link type 220, as the model's
 * capture writes it) read with libpcap: "linktype N" first, then one line
 * per record: event, transfer type, endpoint, device, bus, status, URB
 * length, captured length, interval, start_frame, transfer flags (hex),
 * iso descriptors; "records N" last. Exits 1 if libpcap cannot read it or
 * a record is shorter than its 64-byte header.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int main(int argc, char **argv)
{
    char eb[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const uint8_t *d;
    unsigned long n = 0;
    pcap_t *p;
    int r;
    if (argc != 2) {
        fprintf(stderr, "usage: usbmon-read FILE\n");
        return 2;
    }
    if (!(p = pcap_open_offline(argv[1], eb))) {
        fprintf(stderr, "usbmon-read: %s\n", eb);
        return 1;
    }
    printf("linktype %d\n", pcap_datalink(p));
    while ((r = pcap_next_ex(p, &h, &d)) == 1) {
        if (h->caplen < 64) {
            fprintf(stderr, "usbmon-read: record %lu: %u bytes\n", n + 1, h->caplen);
            pcap_close(p);
            return 1;
        }
        printf("%c type=%u ep=0x%02x dev=%u bus=%u status=%" PRId32 " len=%u cap=%u interval=%u "
               "start_frame=%u flags=0x%x ndesc=%u\n",
               d[8], d[9], d[10], d[11], (unsigned)(d[12] | d[13] << 8), (int32_t)le32(d + 28),
               le32(d + 32), le32(d + 36), le32(d + 48), le32(d + 52), le32(d + 56), le32(d + 60));
        n++;
    }
    pcap_close(p);
    if (r != PCAP_ERROR_BREAK) {
        fprintf(stderr, "usbmon-read: %s\n", r == PCAP_ERROR ? pcap_geterr(p) : "read error");
        return 1;
    }
    printf("records %lu\n", n);
    return 0;
}

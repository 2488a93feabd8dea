/*
 * make_corpus.c - writes the seed corpus of fuzz_recv into the folder
 * given as argv[1] (make corpus): host sessions under every caps layout
 * (hello, a device, answers to the harness's first requests, stream data,
 * unplug and replug) and a few malformed streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packets.h"
#include "urg_codec.h"

static uint8_t buf[1 << 20];
static size_t len;

static void emit(const struct urg_wire *w, const struct urg_packet *p)
{
    int n = urg_encode(w, URG_DIR_TO_GUEST, p, buf + len, sizeof(buf) - len);
    if (n < 0) {
        fprintf(stderr, "encode %s: %s\n", urg_type_name(p->type), urg_strerror(n));
        exit(1);
    }
    len += (size_t)n;
    if (p->type != URG_HELLO && p->data_len) {
        memcpy(buf + len, p->data, p->data_len);
        len += p->data_len;
    }
}

static void header(uint8_t caps, uint8_t flags, uint32_t seed)
{
    len = 0;
    buf[len++] = caps;
    buf[len++] = flags;
    buf[len++] = (uint8_t)seed;
    buf[len++] = (uint8_t)(seed >> 8);
    buf[len++] = (uint8_t)(seed >> 16);
    buf[len++] = (uint8_t)(seed >> 24);
    buf[len++] = 0;
    buf[len++] = 0;
}

static void hello(uint32_t caps)
{
    struct urg_wire w0 = { 0, 0 };
    struct urg_packet p = hello_packet("corpus host", caps);
    emit(&w0, &p);
}

static void device(const struct urg_wire *w)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = URG_INTERFACE_INFO;
    p.h.interface_info.interface_count = 1;
    p.h.interface_info.interface_class[0] = 8;
    emit(w, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    memset(p.h.ep_info.type, URG_EP_INVALID, 32);
    p.h.ep_info.type[0] = p.h.ep_info.type[16] = URG_EP_CONTROL;
    p.h.ep_info.type[17] = URG_EP_INTERRUPT;
    p.h.ep_info.type[18] = p.h.ep_info.type[2] = URG_EP_BULK;
    p.h.ep_info.type[19] = URG_EP_ISO;
    p.h.ep_info.type[4] = URG_EP_INTERRUPT;
    emit(w, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_CONNECT;
    p.h.device_connect.speed = URG_SPEED_HIGH;
    p.h.device_connect.vendor_id = 0x46f4;
    p.h.device_connect.product_id = 1;
    emit(w, &p);
}

static void save(const char *dir, const char *name)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
        perror(path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    static uint8_t payload[70000];
    uint32_t rng = 2026;
    int v, i, files = 0;
    char name[64];
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    for (v = 0; v < LAYOUT_VARIANTS; v++) {
        uint32_t caps = layout_caps(v);
        struct urg_wire w = urg_wire_from_caps(URG_CAPS_ALL, caps);
        struct urg_packet p;
        int flags;
        for (flags = 0; flags < 16; flags += 5) {
            header(URG_CAPS_ALL, (uint8_t)flags, 1000u + (uint32_t)v);
            hello(caps);
            device(&w);
            /* Random valid host packets answering ids 1..12. */
            for (i = 0; i < 40;) {
                uint32_t t = urg_type_at((int)(rnd(&rng) % URG_TYPE_COUNT));
                if (t == URG_HELLO || t == URG_DEVICE_CONNECT)
                    continue;
                if (gen_packet(t, URG_DIR_TO_GUEST, &w, &rng, &p, payload, 512) != GEN_OK)
                    continue;
                if (p.id)
                    p.id = 1 + rnd(&rng) % 12;
                emit(&w, &p);
                i++;
            }
            device(&w); /* after any disconnect above, or a protocol error */
            snprintf(name, sizeof(name), "session-%02d-%02d", v, flags);
            save(argv[1], name);
            files++;
        }
    }
    /* Malformed: garbage, a packet before the hello, a second hello, a
     * huge length, a truncated packet. */
    header(URG_CAPS_ALL, 0, 1);
    memcpy(buf + len, "\x63\x00\x00\x00\xff\xff\xff\x7f\x00\x00\x00\x00", 12);
    len += 12;
    save(argv[1], "bad-type");
    header(URG_CAPS_ALL, 1, 2);
    hello(URG_CAPS_ALL);
    hello(URG_CAPS_ALL);
    save(argv[1], "second-hello");
    header(URG_CAPS_ALL, 1, 3);
    {
        struct urg_wire w0 = { 0, 0 };
        struct urg_packet p;
        memset(&p, 0, sizeof(p));
        p.type = URG_CONFIGURATION_STATUS;
        emit(&w0, &p);
    }
    save(argv[1], "before-hello");
    header(URG_CAPS_ALL, 5, 4);
    hello(URG_CAPS_ALL & ~URG_CAP_BIT(URG_CAP_64BITS_IDS));
    memcpy(buf + len, "\x65\x00\x00\x00\x0a\x00\x01\x00\x01\x00\x00\x00\x82\x00", 14);
    len += 14;
    save(argv[1], "truncated-bulk");
    files += 4;
    printf("%d seed inputs written to %s\n", files, argv[1]);
    return 0;
}

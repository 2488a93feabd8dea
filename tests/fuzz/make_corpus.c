/*
 * make_corpus.c - writes the seed corpus of fuzz_recv into the folder
 * given as argv[1] (make corpus): host sessions under every caps layout
 * (hello, a device, answers to the harness's first requests, stream data,
 * unplug and replug) and a few malformed streams; and, for its
 * differential mode, sessions answering the requests the harness makes at
 * each device_connect (fuzz_recv.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* the rows' codecs, for emit_unchecked() */
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

/* p by its row's codec, no rule checked (what URG_POLICY_TOLERATE takes),
 * and its p->data_len bytes of data. */
static void emit_unchecked(const struct urg_wire *w, const struct urg_packet *p)
{
    const struct urgi_type *row = urgi_type(p->type);
    int hl = w->id64 ? 16 : 12, th = urgi_type_header_len(row, w);
    memset(buf + len, 0, 16);
    for (int i = 0; i < 4; i++) {
        buf[len + (size_t)i] = (uint8_t)(p->type >> (8 * i));
        buf[len + 4 + (size_t)i] = (uint8_t)(((uint32_t)th + p->data_len) >> (8 * i));
    }
    for (int i = 0; i < hl - 8; i++)
        buf[len + 8 + (size_t)i] = (uint8_t)(p->id >> (8 * i));
    row->encode(w, p, buf + len + hl);
    len += (size_t)(hl + th);
    if (p->data_len) {
        memcpy(buf + len, p->data, p->data_len);
        len += p->data_len;
    }
}

/* ep_info with an endpoint type above 3 on 0x85 (index 21). */
static void bad_ep_info(const struct urg_wire *w)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = URG_EP_INFO;
    memset(p.h.ep_info.type, URG_EP_INVALID, 32);
    p.h.ep_info.type[0] = p.h.ep_info.type[16] = URG_EP_CONTROL;
    p.h.ep_info.type[17] = URG_EP_INTERRUPT;
    p.h.ep_info.interval[17] = 4;
    p.h.ep_info.max_packet_size[17] = 8;
    p.h.ep_info.type[21] = 7;
    p.h.ep_info.interval[21] = 1;
    emit_unchecked(w, &p);
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

/* A device whose endpoints have max packet sizes (interrupt IN data on
 * 0x81 fits them where ep_info carries them). */
static void device_mps(const struct urg_wire *w)
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
    p.h.ep_info.type[17] = p.h.ep_info.type[4] = URG_EP_INTERRUPT;
    p.h.ep_info.type[18] = p.h.ep_info.type[2] = URG_EP_BULK;
    p.h.ep_info.max_packet_size[0] = p.h.ep_info.max_packet_size[16] = 64;
    p.h.ep_info.max_packet_size[17] = p.h.ep_info.max_packet_size[4] = 8;
    p.h.ep_info.max_packet_size[18] = p.h.ep_info.max_packet_size[2] = 512;
    emit(w, &p);
    memset(&p, 0, sizeof(p));
    p.type = URG_DEVICE_CONNECT;
    p.h.device_connect.speed = URG_SPEED_HIGH;
    p.h.device_connect.vendor_id = 0x46f4;
    p.h.device_connect.product_id = 2;
    emit(w, &p);
}

static void data_reply(const struct urg_wire *w, uint32_t type, uint64_t id, uint8_t ep,
                       uint8_t status, uint32_t length, const uint8_t *data, uint32_t data_len)
{
    struct urg_packet p;
    memset(&p, 0, sizeof(p));
    p.type = type;
    p.id = id;
    if (type == URG_CONTROL_PACKET) {
        p.h.control.endpoint = ep;
        p.h.control.request = 6;
        p.h.control.requesttype = ep & 0x80 ? 0x80 : 0x21;
        p.h.control.status = status;
        p.h.control.value = 0x100;
        p.h.control.length = (uint16_t)length;
    } else if (type == URG_BULK_PACKET) {
        p.h.bulk.endpoint = ep;
        p.h.bulk.status = status;
        p.h.bulk.length = length;
    } else {
        p.h.interrupt.endpoint = ep;
        p.h.interrupt.status = status;
        p.h.interrupt.length = (uint16_t)length;
    }
    p.data = data;
    p.data_len = data_len;
    emit(w, &p);
}

/* For the differential mode (flag bit 4): after a device, the answers to
 * the requests fuzz_recv makes at its device_connect (ids 1 to 8: control
 * IN 255 twice, control OUT 16, bulk IN 512 twice, bulk OUT 64, interrupt
 * OUT 8, start_interrupt_receiving 0x81), with various statuses and
 * lengths, in order or not, then interrupt IN data on 0x81. */
static void diff_session(int v, uint32_t *rng)
{
    uint32_t caps = layout_caps(v);
    struct urg_wire w = urg_wire_from_caps(URG_CAPS_ALL, caps);
    uint8_t data[512], st[8];
    struct urg_packet p;
    int i, k;
    for (i = 0; i < (int)sizeof(data); i++)
        data[i] = (uint8_t)rnd(rng);
    for (i = 0; i < 8; i++) /* mostly success, any status, an unknown one */
        st[i] = (uint8_t)(rnd(rng) % 3 ? 0 : rnd(rng) % 8);
    header(URG_CAPS_ALL, (uint8_t)(16 | (v % 16)), 3000u + (uint32_t)v);
    buf[6] = (uint8_t)(v % 11); /* the small pieces: 1 + v % 11 bytes */
    hello(caps);
    device_mps(&w);
    for (k = 0; k < 8; k++) {
        int id = v & 1 ? 8 - k : 1 + k; /* in order, or backwards */
        uint32_t n = rnd(rng);
        switch (id) {
        case 1: n %= 256; data_reply(&w, URG_CONTROL_PACKET, 1, 0x80, st[0], n, data, n); break;
        case 2: data_reply(&w, URG_CONTROL_PACKET, 2, 0x80, st[1], 18, data, 18); break;
        case 3: data_reply(&w, URG_CONTROL_PACKET, 3, 0x00, st[2], 16, NULL, 0); break;
        case 4: n %= 513; data_reply(&w, URG_BULK_PACKET, 4, 0x82, st[3], n, data, n); break;
        case 5: data_reply(&w, URG_BULK_PACKET, 5, 0x82, st[4], 512, data, 512); break;
        case 6: data_reply(&w, URG_BULK_PACKET, 6, 0x02, st[5], 64, NULL, 0); break;
        case 7: data_reply(&w, URG_INTERRUPT_PACKET, 7, 0x04, st[6], 8, NULL, 0); break;
        default:
            memset(&p, 0, sizeof(p));
            p.type = URG_INTERRUPT_RECEIVING_STATUS;
            p.id = 8;
            p.h.interrupt_receiving_status.endpoint = 0x81;
            p.h.interrupt_receiving_status.status = st[7] == 4 ? 4 : 0;
            emit(&w, &p);
            break;
        }
    }
    for (k = 0; k < 4; k++)
        data_reply(&w, URG_INTERRUPT_PACKET, (uint64_t)k, 0x81, 0, (uint32_t)k * 2,
                   data + k, (uint32_t)k * 2);
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
    for (v = 0; v < LAYOUT_VARIANTS; v++) {
        diff_session(v, &rng);
        snprintf(name, sizeof(name), "diff-%02d", v);
        save(argv[1], name);
        files++;
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
    /* What policy tolerate takes (flags 0x38: fuzz_recv's tolerate,
     * differential and window bits; fuzz_hcd's tolerate bit): control
     * replies to ids 1 (IN) and 3 (OUT) whose requesttype disagrees with
     * the endpoint, an endpoint type above 3 for the connected device,
     * then for a new one before its device_connect. */
    header(URG_CAPS_ALL, 0x38, 5);
    hello(URG_CAPS_ALL);
    {
        struct urg_wire wa = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
        struct urg_packet p;
        device_mps(&wa);
        memset(&p, 0, sizeof(p));
        p.type = URG_CONTROL_PACKET;
        p.id = 1;
        p.h.control.endpoint = 0x80;
        p.h.control.request = 6;
        p.h.control.requesttype = 0x00;
        p.h.control.length = 4;
        p.data = (const uint8_t *)"\x12\x01\x00\x02";
        p.data_len = 4;
        emit_unchecked(&wa, &p);
        p.data = NULL;
        p.data_len = 0;
        p.id = 3;
        p.h.control.endpoint = 0x00;
        p.h.control.requesttype = 0xa1;
        p.h.control.length = 16;
        emit_unchecked(&wa, &p);
        bad_ep_info(&wa);
        memset(&p, 0, sizeof(p));
        p.type = URG_DEVICE_DISCONNECT;
        emit(&wa, &p);
        bad_ep_info(&wa);
        memset(&p, 0, sizeof(p));
        p.type = URG_DEVICE_CONNECT;
        p.h.device_connect.speed = URG_SPEED_HIGH;
        p.h.device_connect.vendor_id = 0x46f4;
        p.h.device_connect.product_id = 3;
        emit(&wa, &p);
    }
    save(argv[1], "tolerate");
    files += 5;
    printf("%d seed inputs written to %s\n", files, argv[1]);
    return 0;
}

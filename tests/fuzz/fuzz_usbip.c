/*
 * fuzz_usbip.c - libFuzzer target for what a USB/IP client sends to
 * `usbredir-guest usbip` (tools/usbredir-guest/usbip_wire.h): the
 * management request, then - as the server does after an import - the URB
 * phase, read by the server's reader with its limits, the endpoint types
 * from a fuzzed table, each submit's payload put where the server puts it
 * (a buffer of exactly transfer_buffer_length bytes, exactly
 * number_of_packets descriptors, allocated from the header as the server
 * does).
 *
 * Input: byte 0 picks the import (bit 0: go to the URB phase after the
 * first request whatever it was), byte 1..16 the endpoint types (2 bits
 * each: control, iso, bulk, interrupt) for endpoints 0..15 OUT and IN, byte
 * 17 the piece size the stream is cut into (0: all at once); the rest is the
 * client's stream.
 *
 * Aborts on: a submit whose OUT data is not exactly transfer_buffer_length
 * bytes, an iso descriptor ending past the buffer, a count outside
 * 1..1024 accepted, a length over the limit accepted, an event after
 * USBIP_MALFORMED, a malformed stream with no reason, bytes used beyond
 * those given, or a different event sequence when the stream is cut into
 * other pieces.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usbip_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                              \
    do {                                                                                      \
        if (!(x)) {                                                                           \
            fprintf(stderr, "fuzz_usbip: %s:%d: %s\n", __FILE__, __LINE__, #x);             \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

#define MAX_TRANSFER (1u << 20)
#define MAX_EVENTS 4096

struct run {
    int events[MAX_EVENTS];
    uint32_t sums[MAX_EVENTS]; /* a digest of each event's content */
    int n;
};

static uint32_t digest(const uint8_t *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void run_stream(const uint8_t *types, int urb_after_first, const uint8_t *s, size_t len,
                       size_t piece, struct run *out)
{
    struct usbip_reader r;
    uint8_t *buf = NULL;
    struct usbip_iso_desc *iso = NULL;
    size_t pos = 0;
    int malformed = 0;
    usbip_reader_init(&r, MAX_TRANSFER);
    out->n = 0;
    for (;;) {
        size_t give = len - pos, used = 0;
        enum usbip_event ev;
        uint32_t sum = 0;
        if (piece && give > piece)
            give = piece;
        ev = usbip_read(&r, s + pos, give, &used);
        CHECK(used <= give);
        if (malformed) {
            CHECK(ev == USBIP_MALFORMED && used == 0);
            break;
        }
        pos += used;
        switch (ev) {
        case USBIP_NEED_MORE:
            CHECK(used == give);
            break;
        case USBIP_DEVLIST:
        case USBIP_IMPORT:
            if (ev == USBIP_IMPORT) {
                CHECK(memchr(r.busid, 0, sizeof(r.busid)) != NULL);
                sum = digest((const uint8_t *)r.busid, strlen(r.busid), 1);
            }
            if (urb_after_first)
                usbip_reader_urb_mode(&r, 0x00010001);
            break;
        case USBIP_HEADER: {
            const struct usbip_cmd *c = &r.cmd;
            int idx = (int)(c->ep | (c->direction ? 16 : 0));
            int type = c->ep == 0 ? 0 : (types[idx / 4] >> (2 * (idx % 4))) & 3;
            CHECK(c->command == USBIP_CMD_SUBMIT);
            CHECK(c->ep <= 15 && c->direction <= 1);
            CHECK(c->transfer_buffer_length <= MAX_TRANSFER);
            CHECK(c->devid == 0x00010001);
            if (usbip_reader_endpoint(&r, type == USBIP_EP_ISO ? USBIP_EP_ISO : 0)) {
                CHECK(type == USBIP_EP_ISO);
                CHECK(r.why[0]);
                malformed = 1;
                break;
            }
            if (type == USBIP_EP_ISO)
                CHECK(c->number_of_packets >= 1 && c->number_of_packets <= USBIP_MAX_ISO_PACKETS);
            else
                CHECK(c->number_of_packets == 0);
            free(buf);
            free(iso);
            /* Exactly sized, so ASan sees any write past them. */
            buf = malloc(c->transfer_buffer_length ? c->transfer_buffer_length : 1);
            iso = malloc((c->number_of_packets ? c->number_of_packets : 1) * sizeof(*iso));
            CHECK(buf && iso);
            usbip_reader_payload(&r, buf, iso);
            sum = c->seqnum;
            break;
        }
        case USBIP_SUBMIT: {
            const struct usbip_cmd *c = &r.cmd;
            if (c->direction == USBIP_DIR_OUT) {
                CHECK(r.data_len == c->transfer_buffer_length);
                sum = digest(buf, c->transfer_buffer_length, 7);
            }
            CHECK(r.iso_count == c->number_of_packets);
            for (uint32_t i = 0; i < c->number_of_packets; i++) {
                CHECK((uint64_t)iso[i].offset + iso[i].length <= c->transfer_buffer_length);
                sum = digest((const uint8_t *)&iso[i].offset, 4, sum);
            }
            break;
        }
        case USBIP_UNLINK:
            CHECK(r.cmd.command == USBIP_CMD_UNLINK && r.cmd.devid == 0x00010001);
            sum = r.cmd.unlink_seqnum;
            break;
        case USBIP_MALFORMED:
            CHECK(r.why[0]);
            malformed = 1;
            break;
        default:
            CHECK(0);
        }
        if (ev != USBIP_NEED_MORE && out->n < MAX_EVENTS) {
            out->events[out->n] = ev;
            out->sums[out->n++] = sum;
        }
        if (malformed)
            continue; /* one more read: it must say MALFORMED again */
        if (ev == USBIP_NEED_MORE && pos == len)
            break;
    }
    free(buf);
    free(iso);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct run whole, cut;
    if (size < 18)
        return 0;
    run_stream(data + 1, data[0] & 1, data + 18, size - 18, 0, &whole);
    run_stream(data + 1, data[0] & 1, data + 18, size - 18, (size_t)data[17] % 61 + 1, &cut);
    CHECK(whole.n == cut.n);
    CHECK(!memcmp(whole.events, cut.events, sizeof(int) * (size_t)whole.n));
    CHECK(!memcmp(whole.sums, cut.sums, sizeof(uint32_t) * (size_t)whole.n));
    return 0;
}

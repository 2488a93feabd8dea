/*
 * test_export.c - urg_capture_export_pcap(): a capture as a pcap of TCP over
 * IPv4. The pcap is read back with libpcap and checked packet by packet:
 * the link type and nanosecond times, valid IPv4 and TCP checksums, each
 * connection's handshake, its segments' sequence and ack numbers with no
 * byte missing or repeated, the FINs, the ports, the segment sizes asked
 * for, and every byte of each direction equal to the capture's; the
 * importer reads it back to the same streams. And its refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "sessions.h"
#include "urg_capture.h"

/* One direction of one connection, as the capture has it and as the pcap
 * does. */
struct way {
    uint8_t *bytes;
    size_t n, got;           /* the capture's; how many the pcap gave so far */
    uint32_t next;           /* the next sequence number expected */
    int syn, fin;
};
struct conn {
    struct way w[2];         /* 0: the guest's bytes, 1: the host's */
    uint64_t first_ns;       /* of its first record */
};

struct expectation {
    struct conn c[16];
    int n;
};

static void add_bytes(struct way *w, const uint8_t *d, size_t n)
{
    w->bytes = realloc(w->bytes, w->n + n + 1);
    assert_non_null(w->bytes);
    memcpy(w->bytes + w->n, d, n);
    w->n += n;
}

/* Each connection's bytes each way, from the capture. */
static void read_capture(const char *path, struct expectation *x)
{
    urg_capture_reader *r;
    struct urg_capture_record rec;
    int rc;
    memset(x, 0, sizeof(*x));
    assert_int_equal(urg_capture_open(path, &r), 0);
    while ((rc = urg_capture_next(r, &rec)) == 1) {
        int data = (rec.kind == URG_CAP_GUEST || rec.kind == URG_CAP_HOST) && rec.len;
        /* A connection starts at each 'C', and at the first bytes before any. */
        if (rec.kind == URG_CAP_CONNECT || (data && !x->n)) {
            assert_true(x->n < 16);
            x->c[x->n++].first_ns = rec.time_ns;
        }
        if (data)
            add_bytes(&x->c[x->n - 1].w[rec.kind == URG_CAP_HOST], rec.data, rec.len);
    }
    assert_int_equal(rc, 0);
    urg_capture_reader_free(r);
}

static void free_expectation(struct expectation *x)
{
    for (int i = 0; i < x->n; i++) {
        free(x->c[i].w[0].bytes);
        free(x->c[i].w[1].bytes);
    }
}

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return be16(p) << 16 | be16(p + 2); }

/* The ones' complement sum of n bytes, folded: 0xffff over a whole header
 * with its checksum in it. */
static uint32_t csum(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += be16(p + i);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

/* The size of each data segment, in order: each record cut into the sizes
 * asked for, in turn across records (65495 when none). */
static uint32_t *segment_plan(const char *capture, const uint32_t *sizes, size_t nsizes,
                              size_t *n)
{
    urg_capture_reader *r;
    struct urg_capture_record rec;
    uint32_t *plan = NULL;
    size_t cap = 0, k = 0;
    int rc;
    *n = 0;
    assert_int_equal(urg_capture_open(capture, &r), 0);
    while ((rc = urg_capture_next(r, &rec)) == 1) {
        uint32_t left = rec.kind == URG_CAP_GUEST || rec.kind == URG_CAP_HOST ? rec.len : 0;
        while (left) {
            uint32_t size = nsizes ? sizes[k++ % nsizes] : 65495;
            if (*n == cap) {
                cap = cap ? 2 * cap : 256;
                plan = realloc(plan, cap * sizeof(*plan));
                assert_non_null(plan);
            }
            plan[(*n)++] = size < left ? size : left;
            left -= size < left ? size : left;
        }
    }
    assert_int_equal(rc, 0);
    urg_capture_reader_free(r);
    return plan;
}

/* Reads the pcap and checks it against the capture; sizes (n of them) the
 * segment sizes asked for, in turn. */
static void check_pcap(const char *pcap_path, const char *capture, int host_port,
                       const uint32_t *sizes, size_t nsizes)
{
    char ebuf[PCAP_ERRBUF_SIZE];
    struct expectation x;
    struct pcap_pkthdr *h;
    const u_char *d;
    pcap_t *pc;
    int rc, conns = 0;
    size_t nplan, segments = 0;
    uint32_t *plan = segment_plan(capture, sizes, nsizes, &nplan);
    uint64_t last_ns = 0;

    read_capture(capture, &x);
    pc = pcap_open_offline_with_tstamp_precision(pcap_path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    assert_non_null(pc);
    assert_int_equal(pcap_datalink(pc), DLT_RAW);
    assert_int_equal(pcap_get_tstamp_precision(pc), PCAP_TSTAMP_PRECISION_NANO);
    while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
        const uint8_t *ip = d, *tcp = d + 20;
        uint32_t len, sport, dport, seq, ack, flags, payload, pseudo;
        uint64_t ns = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
        int from, c;
        struct way *me, *peer;
        assert_int_equal(h->caplen, h->len);
        assert_true(h->caplen >= 40);
        /* IPv4, 20-byte header, don't fragment, TCP, checksum valid. */
        assert_int_equal(ip[0], 0x45);
        len = be16(ip + 2);
        assert_int_equal(len, h->caplen);
        assert_int_equal(ip[6], 0x40);
        assert_int_equal(ip[9], 6);
        assert_int_equal(csum(0, ip, 20), 0xffff);
        /* The guest is 127.0.0.1, the host 127.0.0.2 on host_port. */
        sport = be16(tcp);
        dport = be16(tcp + 2);
        from = ip[15] == 2; /* from the host */
        assert_int_equal(ip[12], 127);
        assert_int_equal(ip[15], from ? 2 : 1);
        assert_int_equal(ip[19], from ? 1 : 2);
        assert_int_equal(from ? sport : dport, (uint32_t)(host_port ? host_port : 4000));
        c = (int)(from ? dport : sport) - 40000;
        assert_true(c >= 0 && c < x.n);
        /* TCP: 20-byte header, checksum valid over the pseudo-header. */
        assert_int_equal(tcp[12] >> 4, 5);
        payload = len - 40;
        pseudo = csum(0, ip + 12, 8) + 6 + (len - 20);
        assert_int_equal(csum(pseudo, tcp, len - 20), 0xffff);
        seq = be32(tcp + 4);
        ack = be32(tcp + 8);
        flags = tcp[13];
        me = &x.c[c].w[from];
        peer = &x.c[c].w[1 - from];
        /* Times never go back; a connection starts at its first record. */
        assert_true(ns >= last_ns);
        last_ns = ns;
        if (flags & 0x02) { /* SYN: the guest's, then the host's with ACK */
            assert_false(me->syn);
            assert_int_equal(flags, from ? 0x12 : 0x02);
            assert_true(!from || peer->syn);
            if (!from) {
                assert_int_equal(c, conns);
                conns++;
                assert_int_equal(ns, x.c[c].first_ns);
            }
            me->syn = 1;
            me->next = seq + 1;
            continue;
        }
        assert_true(me->syn && peer->syn);
        assert_true(!me->fin || (flags == 0x10 && !payload)); /* after its FIN, an ACK */
        assert_true(flags & 0x10);
        assert_int_equal(seq, me->next);
        assert_int_equal(ack, peer->next);
        if (flags & 0x01) { /* FIN: after every byte */
            assert_int_equal(payload, 0);
            assert_int_equal(me->got, me->n);
            me->fin = 1;
            me->next++;
            continue;
        }
        if (!payload)
            continue; /* the handshake's and the close's last ACK */
        assert_int_equal(flags, 0x18);
        assert_true(segments < nplan);
        assert_int_equal(payload, plan[segments]);
        segments++;
        assert_true(me->got + payload <= me->n);
        assert_memory_equal(tcp + 20, me->bytes + me->got, payload);
        me->got += payload;
        me->next += payload;
    }
    assert_int_equal(rc, PCAP_ERROR_BREAK);
    pcap_close(pc);
    assert_int_equal(conns, x.n);
    assert_int_equal(segments, nplan);
    free(plan);
    for (int i = 0; i < x.n; i++)
        for (int k = 0; k < 2; k++) {
            assert_int_equal(x.c[i].w[k].got, x.c[i].w[k].n);
            assert_true(x.c[i].w[k].fin);
        }
    free_expectation(&x);
}

static char *temp(const char *what)
{
    static char paths[4][80];
    static int n;
    char *p = paths[n++ % 4];
    snprintf(p, sizeof(paths[0]), "/tmp/urg-test-export-%d-%s", (int)getpid(), what);
    return p;
}

/* ---------------------------------------------------------------- tests */

static void test_export_one_connection(void **state)
{
    char *pcap = temp("one.pcap"), err[256];
    (void)state;
    /* msc-read: records over 65495 bytes, cut. */
    assert_int_equal(urg_capture_export_pcap("fixtures/msc-read.urgcap", pcap, 0, NULL, 0, err,
                                             sizeof(err)),
                     0);
    check_pcap(pcap, "fixtures/msc-read.urgcap", 0, NULL, 0);
    unlink(pcap);
}

static void test_export_connections_and_segments(void **state)
{
    static const uint32_t sizes[] = { 1, 7, 1000 };
    char *pcap = temp("many.pcap"), err[256];
    (void)state;
    /* Seven connections, the first six with the guest's hello alone. */
    assert_int_equal(urg_capture_export_pcap("fixtures/real-msc-lsusb.urgcap", pcap, 5000, sizes,
                                             3, err, sizeof(err)),
                     0);
    check_pcap(pcap, "fixtures/real-msc-lsusb.urgcap", 5000, sizes, 3);
    assert_int_equal(urg_capture_export_pcap("fixtures/msc-write.urgcap", pcap, 65535, sizes, 3,
                                             err, sizeof(err)),
                     0);
    check_pcap(pcap, "fixtures/msc-write.urgcap", 65535, sizes, 3);
    unlink(pcap);
}

/* The importer takes the exported connection back: the same bytes each
 * way, whole and cut. */
static void test_export_then_import(void **state)
{
    static const uint32_t sizes[] = { 3, 1 };
    char *pcap = temp("round.pcap"), *back = temp("round.urgcap"), err[256];
    static const char *const fixtures[] = { "fixtures/keyboard-hid.urgcap",
                                            "fixtures/msc-read.urgcap",
                                            "fixtures/ftdi-serial.urgcap" };
    (void)state;
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        for (int cut = 0; cut < 2; cut++) {
            struct expectation a, b;
            assert_int_equal(urg_capture_export_pcap(fixtures[i], pcap, 0, cut ? sizes : NULL,
                                                     cut ? 2 : 0, err, sizeof(err)),
                             0);
            assert_int_equal(urg_capture_import_pcap(pcap, back, 4000, err, sizeof(err)), 0);
            read_capture(fixtures[i], &a);
            read_capture(back, &b);
            assert_int_equal(a.n, 1);
            assert_int_equal(b.n, 1);
            for (int k = 0; k < 2; k++) {
                assert_true(a.c[0].w[k].n > 0);
                assert_int_equal(a.c[0].w[k].n, b.c[0].w[k].n);
                assert_memory_equal(a.c[0].w[k].bytes, b.c[0].w[k].bytes, a.c[0].w[k].n);
            }
            free_expectation(&a);
            free_expectation(&b);
        }
    }
    unlink(pcap);
    unlink(back);
}

static void test_export_refusals(void **state)
{
    static const uint32_t zero[] = { 7, 0 }, big[] = { 65496 }, most[] = { 65495 };
    char *pcap = temp("bad.pcap"), *damaged = temp("damaged.urgcap"), err[256];
    uint8_t buf[4096];
    FILE *f;
    size_t n;
    (void)state;
    assert_int_equal(urg_capture_export_pcap(NULL, pcap, 0, NULL, 0, err, sizeof(err)),
                     URG_ERR_INVALID);
    assert_int_equal(urg_capture_export_pcap("fixtures/keyboard-hid.urgcap", NULL, 0, NULL, 0,
                                             err, sizeof(err)),
                     URG_ERR_INVALID);
    assert_int_equal(urg_capture_export_pcap("fixtures/keyboard-hid.urgcap", pcap, 0, NULL, 2,
                                             err, sizeof(err)),
                     URG_ERR_INVALID);
    assert_int_equal(urg_capture_export_pcap("fixtures/keyboard-hid.urgcap", pcap, 65536, NULL,
                                             0, err, sizeof(err)),
                     URG_ERR_INVALID);
    assert_int_equal(urg_capture_export_pcap("fixtures/keyboard-hid.urgcap", pcap, -1, NULL, 0,
                                             err, sizeof(err)),
                     URG_ERR_INVALID);
    assert_int_equal(urg_capture_export_pcap("fixtures/keyboard-hid.urgcap", pcap, 0, zero, 2,
                                             err, sizeof(err)),
                     URG_ERR_INVALID);
    assert_non_null(strstr(err, "a segment size of 0 bytes"));
    assert_int_equal(urg_capture_export_pcap("fixtures/keyboard-hid.urgcap", pcap, 0, big, 1,
                                             err, sizeof(err)),
                     URG_ERR_INVALID);
    assert_int_equal(urg_capture_export_pcap("fixtures/keyboard-hid.urgcap", pcap, 0, most, 1,
                                             NULL, 0),
                     0);
    /* Not a capture; one cut inside a record; no such file. */
    assert_int_equal(urg_capture_export_pcap("Makefile", pcap, 0, NULL, 0, err, sizeof(err)),
                     URG_ERR_CAPTURE);
    assert_non_null(strstr(err, "Makefile"));
    f = fopen("fixtures/keyboard-hid.urgcap", "rb");
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(n > 200);
    f = fopen(damaged, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, 200, f), 200);
    fclose(f);
    assert_int_equal(urg_capture_export_pcap(damaged, pcap, 0, NULL, 0, err, sizeof(err)),
                     URG_ERR_CAPTURE);
    assert_non_null(strstr(err, damaged));
    assert_int_equal(urg_capture_export_pcap("/nonexistent.urgcap", pcap, 0, NULL, 0, err,
                                             sizeof(err)),
                     URG_ERR_CAPTURE);
    /* A pcap that cannot be created. */
    assert_int_equal(urg_capture_export_pcap("fixtures/keyboard-hid.urgcap",
                                             "/nonexistent-dir/x.pcap", 0, NULL, 0, err,
                                             sizeof(err)),
                     URG_ERR_PCAP);
    assert_non_null(strstr(err, "/nonexistent-dir/x.pcap"));
    unlink(pcap);
    unlink(damaged);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_one_connection),
        cmocka_unit_test(test_export_connections_and_segments),
        cmocka_unit_test(test_export_then_import),
        cmocka_unit_test(test_export_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

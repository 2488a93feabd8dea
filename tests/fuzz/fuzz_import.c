/*
 * fuzz_import.c - libFuzzer target for the capture importer (tcpdump pcap
 * and pcapng files to captures, transport/import.c) and, on what it
 * writes, the capture reader and decoder.
 *
 * Input: a pcap or pcapng file. It is imported from a memfd; when the
 * import succeeds, the capture written is decoded packet by packet. Checked:
 * the import returns 0 or an error with a message (never a crash, an
 * overread or a leak: ASan and LeakSanitizer), and what it accepted
 * decodes or is refused with a message.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <unistd.h>

#include "urg_capture.h"
#include "urg_transport.h"

static int count(void *ctx, const struct urg_capture_packet *cp)
{
    (void)cp;
    ++*(unsigned *)ctx;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[64], out[64], err[512];
    int fi = memfd_create("pcap", 0), fo = memfd_create("urgcap", 0), rc;
    unsigned n = 0;
    if (fi < 0 || fo < 0 || write(fi, data, size) != (ssize_t)size)
        abort();
    snprintf(in, sizeof(in), "/proc/self/fd/%d", fi);
    snprintf(out, sizeof(out), "/proc/self/fd/%d", fo);
    err[0] = 0;
    rc = urg_capture_import_pcap(in, out, size % 2 ? 0 : 4000, err, sizeof(err));
    if (rc != 0 && !err[0])
        abort(); /* every refusal says why */
    if (rc == 0) {
        err[0] = 0;
        rc = urg_capture_decode(out, count, &n, err, sizeof(err));
        if (rc != 0 && !err[0])
            abort();
    }
    close(fi);
    close(fo);
    return 0;
}

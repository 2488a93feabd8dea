/*
 * msc.c - the msc command: a mass storage device over Bulk-Only Transport
 * (CBW, data, CSW) with SCSI INQUIRY, TEST UNIT READY, REQUEST SENSE, READ
 * CAPACITY (10 and 16), READ(10) and WRITE(10).
 *
 * A command's data stage goes out as several bulk URBs at once (32 KiB
 * each, or one URB when 32-bit bulk lengths were negotiated), so the
 * transfer is pipelined as a host controller would do it.
 */
#include <md5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "parse.h"

#define PIECE 32768u          /* bytes per data-stage URB without 32-bit lengths */
#define MAX_PIECES 64

struct msc_opts {
    struct common *o;
    int read;                 /* --read given */
    uint64_t read_lba, read_count; /* count 0: to the end */
    const char *out, *in;
    int write;
    uint64_t write_lba;
    int verify;
    uint32_t chunk;           /* blocks per SCSI command */
    int progress;             /* 1 on, 0 off, -1 when stderr is a terminal */
};

struct msc {
    struct conn *c;
    const struct common *o;
    uint8_t in, out;
    uint32_t tag;
    uint32_t block;           /* bytes per block */
    uint64_t blocks;
};

/* A transfer that failed with status st (or -1) still needs saying: not
 * when conn_xfer() said it (-1), nor when the session is over (said once,
 * by conn_fail()). */
static bool to_say(const struct msc *m, int st)
{
    return st >= 0 && !conn_over(m->c);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---------------------------------------------------------------- Bulk-Only Transport */

static int clear_halt(struct msc *m, uint8_t ep)
{
    int st = conn_control(m->c, 0x02, 1, 0, ep, NULL, 0, NULL);
    if (st == URG_URB_SUCCESS)
        return 0;
    if (to_say(m, st))
        cli_error(m->o, "CLEAR_FEATURE(ENDPOINT_HALT) of 0x%02x: %s", ep, urg_urb_status_name(st));
    return -1;
}

struct stage {
    struct urg_urb *u[MAX_PIECES];
    struct xfer x[MAX_PIECES];
    uint32_t n;
};

/* Every piece is done - or one came back short (the device ended the data
 * early) and the one after it, which holds the CSW, is done too. */
static bool stage_settled(void *p)
{
    struct stage *s = p;
    uint32_t i;
    for (i = 0; i < s->n; i++) {
        if (!s->x[i].done)
            return false;
        if (s->u[i]->status == URG_URB_SHORT || s->u[i]->status == URG_URB_STALL)
            return i + 1 == s->n || s->x[i + 1].done || s->u[i]->status == URG_URB_STALL;
    }
    return true;
}

/* The data stage as pieces in flight together. Returns the bytes moved, or
 * -1; *stalled when the device stalled the endpoint, *got_csw when a short
 * IN piece was followed by the CSW (copied to csw). */
static int64_t data_stage(struct msc *m, uint8_t *data, uint32_t len, int in, bool *stalled,
                          uint8_t *csw, bool *got_csw)
{
    struct stage s;
    uint32_t piece = conn_bulk32(m->c) ? len : PIECE, want, i;
    int64_t moved = 0;
    bool short_seen = false;
    want = (len + piece - 1) / piece;
    if (want > MAX_PIECES) {
        cli_error(m->o, "a data stage of %u bytes is too large", len);
        return -1;
    }
    memset(&s, 0, sizeof(s));
    for (i = 0; i < want; i++) {
        struct urg_urb *u = urg_urb_alloc(0);
        int r;
        if (!u) {
            cli_error(m->o, "out of memory");
            moved = -1;
            break;
        }
        u->type = URG_EP_BULK;
        u->endpoint = in ? m->in : m->out;
        u->buffer = data + (size_t)i * piece;
        u->length = len - i * piece < piece ? len - i * piece : piece;
        u->user_data = &s.x[i];
        r = conn_submit(m->c, u);
        if (r < 0) {
            urg_urb_free(u);
            moved = -1;
            break;
        }
        s.u[s.n++] = u;
        s.x[i].done = r == 1;
    }
    if (conn_run_until(m->c, stage_settled, &s, m->o->timeout) != 0) {
        if (!conn_over(m->c))
            cli_error(m->o, "the data stage did not finish within %g s", m->o->timeout);
        moved = -1;
    }
    for (i = 0; i < s.n; i++)
        if (!s.x[i].done)
            urg_hcd_cancel(conn_dev(m->c), s.u[i]); /* completes now */
    for (i = 0; i < s.n; i++) {
        struct urg_urb *u = s.u[i];
        int st = u->status;
        if (moved >= 0 && !*stalled) {
            if (st == URG_URB_STALL) {
                *stalled = true;
            } else if (short_seen) {
                /* After a short packet the device moved on to the CSW. */
                if (st != URG_URB_CANCELLED && u->actual_length == 13 &&
                    get_le32(u->buffer) == 0x53425355u && !*got_csw) {
                    memcpy(csw, u->buffer, 13);
                    *got_csw = true;
                }
            } else if (st == URG_URB_SUCCESS || st == URG_URB_SHORT) {
                moved += u->actual_length;
                short_seen = st == URG_URB_SHORT;
            } else {
                if (to_say(m, st))
                    cli_error(m->o, "bulk %s: %s", in ? "IN" : "OUT", urg_urb_status_name(st));
                moved = -1;
            }
        }
        urg_urb_free(u);
    }
    return moved;
}

/* One SCSI command. Returns the CSW status (0 passed, 1 failed, 2 phase
 * error) or -1 (printed). */
static int bot(struct msc *m, const uint8_t *cdb, int cdb_len, uint8_t *data, uint32_t len, int in,
               uint32_t *moved_out)
{
    uint8_t cbw[31], csw[13], status;
    struct urg_urb *u;
    bool stalled = false, got_csw = false;
    int64_t moved = 0;
    uint32_t residue;
    char why[128];
    int st, attempt;
    memset(cbw, 0, sizeof(cbw));
    cbw[0] = 'U';
    cbw[1] = 'S';
    cbw[2] = 'B';
    cbw[3] = 'C';
    m->tag++;
    cbw[4] = (uint8_t)m->tag;
    cbw[5] = (uint8_t)(m->tag >> 8);
    cbw[6] = (uint8_t)(m->tag >> 16);
    cbw[7] = (uint8_t)(m->tag >> 24);
    cbw[8] = (uint8_t)len;
    cbw[9] = (uint8_t)(len >> 8);
    cbw[10] = (uint8_t)(len >> 16);
    cbw[11] = (uint8_t)(len >> 24);
    cbw[12] = in ? 0x80 : 0;
    cbw[14] = (uint8_t)cdb_len;
    memcpy(cbw + 15, cdb, (size_t)cdb_len);
    u = urg_urb_alloc(0);
    if (!u) {
        cli_error(m->o, "out of memory");
        return -1;
    }
    u->type = URG_EP_BULK;
    u->endpoint = m->out;
    u->buffer = cbw;
    u->length = 31;
    st = conn_xfer(m->c, u, m->o->timeout);
    if (st != URG_URB_SUCCESS) {
        if (to_say(m, st))
            cli_error(m->o, "sending the command: %s", urg_urb_status_name(st));
        urg_urb_free(u);
        return -1;
    }
    if (len) {
        moved = data_stage(m, data, len, in, &stalled, csw, &got_csw);
        if (moved < 0) {
            urg_urb_free(u);
            return -1;
        }
        if (stalled && clear_halt(m, in ? m->in : m->out)) {
            urg_urb_free(u);
            return -1; /* said */
        }
    }
    for (attempt = 0; !got_csw && attempt < 2; attempt++) {
        u->type = URG_EP_BULK;
        u->endpoint = m->in;
        u->buffer = csw;
        u->length = 13;
        st = conn_xfer(m->c, u, m->o->timeout);
        if (st == URG_URB_STALL && attempt == 0 && clear_halt(m, m->in) == 0)
            continue; /* a stalled CSW is read again once */
        if (st != URG_URB_SUCCESS || u->actual_length != 13) {
            if (to_say(m, st))
                cli_error(m->o, "reading the status: %s (%u bytes)", urg_urb_status_name(st),
                          u->actual_length);
            urg_urb_free(u);
            return -1;
        }
        got_csw = true;
    }
    urg_urb_free(u);
    if (!got_csw)
        return -1;
    if (bot_csw_decode(csw, sizeof(csw), m->tag, len, &status, &residue, why, sizeof(why))) {
        cli_error(m->o, "the device answered with %s", why);
        return -1;
    }
    if (moved_out)
        *moved_out = (uint32_t)moved;
    return status;
}

/* REQUEST SENSE: 0 when it passed (*valid: its data decoded as sense
 * data), 1 when it failed, -1 when it could not run (said). */
static int request_sense(struct msc *m, struct scsi_sense *sense, bool *valid)
{
    static const uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
    uint8_t s[18];
    uint32_t moved = 0;
    int r;
    memset(s, 0, sizeof(s));
    r = bot(m, rs, 6, s, 18, 1, &moved);
    *valid = r == 0 && scsi_sense_decode(s, moved, sense) == 0;
    return r < 0 ? -1 : r ? 1 : 0;
}

static void report_sense(struct msc *m, const char *what)
{
    struct scsi_sense s;
    bool valid;
    int r = request_sense(m, &s, &valid);
    if (r == 0 && valid)
        cli_error(m->o, "%s failed: sense key 0x%x, asc 0x%02x, ascq 0x%02x", what, s.key, s.asc,
                  s.ascq);
    else if (r == 0)
        cli_error(m->o, "%s failed, and REQUEST SENSE returned no sense data", what);
    else if (!conn_over(m->c))
        cli_error(m->o, "%s failed, and so did REQUEST SENSE", what);
}

/* Runs a command; a failure is reported with its sense data. 0 or -1. */
static int scsi(struct msc *m, const char *what, const uint8_t *cdb, int cdb_len, uint8_t *data,
                uint32_t len, int in)
{
    uint32_t moved = 0;
    int r = bot(m, cdb, cdb_len, data, len, in, &moved);
    if (r == 1)
        report_sense(m, what);
    else if (r == 2)
        cli_error(m->o, "%s: phase error", what);
    else if (r == 0 && moved < len && in) {
        cli_error(m->o, "%s: the device sent %u of %u bytes", what, moved, len);
        return -1;
    }
    return r == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- progress */

struct progress {
    int on;
    double start;
    uint64_t total, done;
    const char *what;
};

static void progress_show(struct progress *p)
{
    double t = cli_now() - p->start;
    int i, filled = p->total ? (int)(30 * p->done / p->total) : 30;
    if (!p->on)
        return;
    fprintf(stderr, "\r%s [", p->what);
    for (i = 0; i < 30; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %3d%% %8.1f MB/s", p->total ? (int)(100 * p->done / p->total) : 100,
            t > 0 ? (double)p->done / t / 1e6 : 0.0);
    if (p->done == p->total)
        fputc('\n', stderr);
}

static void throughput(const char *what, uint64_t bytes, double seconds)
{
    printf("throughput: %s %.1f MB/s (%llu bytes in %.3f s)\n", what,
           seconds > 0 ? (double)bytes / seconds / 1e6 : 0.0, (unsigned long long)bytes, seconds);
}

/* ---------------------------------------------------------------- transfers */

/* Reads or writes count blocks from lba through buf (chunk blocks per
 * command, fewer if the block size the device gave would make a command
 * larger than one data stage can be); feeds the md5 with the data; the
 * file, if any, is written (read) or read (write) as it goes. */
static int blocks_io(struct msc *m, const struct msc_opts *mo, int write, uint64_t lba,
                     uint64_t count, FILE *f, MD5_CTX *md, uint8_t *compare_to)
{
    uint64_t stage_max = conn_bulk32(m->c) ? URG_MAX_BULK_LENGTH : (uint64_t)MAX_PIECES * PIECE;
    uint32_t chunk = (uint64_t)mo->chunk * m->block > stage_max ? (uint32_t)(stage_max / m->block)
                                                                 : mo->chunk;
    size_t bytes = (size_t)chunk * m->block;
    uint8_t *buf = malloc(bytes);
    struct progress p = { 0, cli_now(), count * m->block, 0, write ? "write" : "read " };
    uint64_t done = 0;
    p.on = mo->progress < 0 ? isatty(2) : mo->progress;
    if (compare_to)
        p.what = "check";
    if (!buf) {
        cli_error(m->o, "out of memory");
        return -1;
    }
    while (done < count) {
        uint32_t n = count - done < chunk ? (uint32_t)(count - done) : chunk;
        uint32_t len = n * m->block;
        uint64_t at = lba + done;
        uint8_t cdb[10] = { write ? 0x2a : 0x28, 0, 0, 0, 0, 0, 0, (uint8_t)(n >> 8), (uint8_t)n,
                            0 };
        put_be32(cdb + 2, (uint32_t)at);
        if (write && fread(buf, 1, len, f) != len) {
            cli_error(m->o, "%s: short read", mo->in);
            free(buf);
            return -1;
        }
        if (scsi(m, write ? "WRITE(10)" : "READ(10)", cdb, 10, buf, len, !write)) {
            free(buf);
            return -1;
        }
        if (compare_to) {
            uint32_t k;
            for (k = 0; k < n; k++) {
                if (memcmp(buf + (size_t)k * m->block,
                           compare_to + (size_t)(done + k) * m->block, m->block)) {
                    if (p.on)
                        fputc('\n', stderr);
                    printf("verify: block %llu differs\n", (unsigned long long)(at + k));
                    free(buf);
                    return 1;
                }
            }
        }
        if (md)
            MD5Update(md, buf, len);
        if (!write && f && fwrite(buf, 1, len, f) != len) {
            cli_error(m->o, "%s: cannot write", mo->out);
            free(buf);
            return -1;
        }
        done += n;
        p.done = done * m->block;
        progress_show(&p);
    }
    free(buf);
    return 0;
}

static int do_write(struct msc *m, const struct msc_opts *mo)
{
    FILE *f = fopen(mo->in, "rb");
    MD5_CTX md;
    char hex[MD5_DIGEST_STRING_LENGTH];
    long size;
    uint64_t count;
    uint8_t *all = NULL;
    double t;
    int r;
    if (!f) {
        cli_error(m->o, "%s: cannot open", mo->in);
        return EXIT_FAIL;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    if (size <= 0 || size % m->block) {
        cli_error(m->o, "%s is %ld bytes: not a whole number of %u-byte blocks", mo->in, size,
                  m->block);
        fclose(f);
        return EXIT_FAIL;
    }
    count = (uint64_t)size / m->block;
    if (mo->write_lba >= m->blocks || count > m->blocks - mo->write_lba ||
        mo->write_lba + count > 0xffffffffu) {
        cli_error(m->o, "blocks %llu to %llu are past the end of the disk (%llu blocks)",
                  (unsigned long long)mo->write_lba,
                  (unsigned long long)(mo->write_lba + count - 1),
                  (unsigned long long)m->blocks);
        fclose(f);
        return EXIT_FAIL;
    }
    MD5Init(&md);
    t = cli_now();
    r = blocks_io(m, mo, 1, mo->write_lba, count, f, &md, NULL);
    t = cli_now() - t;
    if (r) {
        fclose(f);
        return conn_fail(m->c);
    }
    MD5End(&md, hex);
    printf("wrote %llu blocks (%ld bytes) at block %llu: md5 %s\n", (unsigned long long)count,
           size, (unsigned long long)mo->write_lba, hex);
    throughput("write", (uint64_t)size, t);
    if (mo->verify) {
        all = malloc((size_t)size);
        rewind(f);
        if (!all || fread(all, 1, (size_t)size, f) != (size_t)size) {
            cli_error(m->o, all ? "%s: cannot read it again" : "out of memory", mo->in);
            free(all);
            fclose(f);
            return EXIT_FAIL;
        }
        r = blocks_io(m, mo, 0, mo->write_lba, count, NULL, NULL, all);
        free(all);
        if (r < 0) {
            fclose(f);
            return conn_fail(m->c);
        }
        if (r > 0) {
            fclose(f);
            return EXIT_FAIL;
        }
        printf("verify: ok, %llu blocks read back equal\n", (unsigned long long)count);
    }
    fclose(f);
    return EXIT_OK;
}

static int do_read(struct msc *m, const struct msc_opts *mo)
{
    uint64_t lba = mo->read_lba, count = mo->read_count;
    FILE *f = NULL;
    MD5_CTX md;
    char hex[MD5_DIGEST_STRING_LENGTH];
    double t;
    int r;
    if (lba >= m->blocks) {
        cli_error(m->o, "block %llu is past the end of the disk (%llu blocks)",
                  (unsigned long long)lba, (unsigned long long)m->blocks);
        return EXIT_FAIL;
    }
    if (!count || count > m->blocks - lba)
        count = m->blocks - lba;
    if (lba + count > 0xffffffffu) {
        cli_error(m->o, "READ(10) reaches block 4294967295 at most");
        return EXIT_FAIL;
    }
    if (mo->out && !(f = fopen(mo->out, "wb"))) {
        cli_error(m->o, "%s: cannot create", mo->out);
        return EXIT_FAIL;
    }
    MD5Init(&md);
    t = cli_now();
    r = blocks_io(m, mo, 0, lba, count, f, &md, NULL);
    t = cli_now() - t;
    if (f && fclose(f) && !r) {
        cli_error(m->o, "%s: cannot write", mo->out);
        return EXIT_FAIL;
    }
    if (r)
        return conn_fail(m->c);
    MD5End(&md, hex);
    printf("read %llu blocks (%llu bytes) from block %llu%s%s: md5 %s\n",
           (unsigned long long)count, (unsigned long long)(count * m->block),
           (unsigned long long)lba, mo->out ? " to " : "", mo->out ? mo->out : "", hex);
    throughput("read", count * m->block, t);
    return EXIT_OK;
}

/* ---------------------------------------------------------------- command */

static int identify(struct msc *m)
{
    static const uint8_t inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };
    static const uint8_t tur[6] = { 0 };
    static const uint8_t cap10[10] = { 0x25 };
    uint8_t d[36], cap[32];
    struct scsi_inquiry q;
    struct scsi_sense sense;
    bool valid;
    char why[128];
    int i, r;
    if (scsi(m, "INQUIRY", inquiry, 6, d, 36, 1))
        return -1;
    scsi_inquiry_decode(d, sizeof(d), &q); /* all 36 bytes came (scsi()) */
    for (i = 0; i < 8; i++) {
        r = bot(m, tur, 6, NULL, 0, 1, NULL);
        if (r == 0)
            break;
        if (r == 1 && i == 7)
            report_sense(m, "TEST UNIT READY");
        else if (r == 2)
            cli_error(m->o, "TEST UNIT READY: phase error");
        if (r != 1 || i == 7)
            return -1;
        r = request_sense(m, &sense, &valid); /* clears a unit attention */
        if (r > 0)
            cli_error(m->o, "TEST UNIT READY failed, and so did REQUEST SENSE");
        if (r)
            return -1;
    }
    printf("inquiry: vendor \"%s\", product \"%s\", revision \"%s\", %s, peripheral type %u\n",
           q.vendor, q.product, q.revision, q.removable ? "removable" : "fixed",
           q.peripheral_type);
    if (scsi(m, "READ CAPACITY(10)", cap10, 10, cap, 8, 1))
        return -1;
    if (scsi_capacity10(cap, 8, &m->blocks, &m->block) == 1) {
        uint8_t c16[16] = { 0x9e, 0x10 };
        c16[13] = 32;
        if (scsi(m, "READ CAPACITY(16)", c16, 16, cap, 32, 1))
            return -1;
        if (scsi_capacity16(cap, 32, &m->blocks, &m->block)) {
            cli_error(m->o, "READ CAPACITY(16): the last block is 2^64 - 1");
            return -1;
        }
    }
    if (scsi_capacity_check(m->blocks, m->block, why, sizeof(why))) {
        cli_error(m->o, "%s", why);
        return -1;
    }
    printf("capacity: %llu blocks of %u bytes (%.1f MiB)\n", (unsigned long long)m->blocks,
           m->block, (double)m->blocks * m->block / 1048576.0);
    return 0;
}

static int bad_blocks(const struct msc_opts *mo, const char *arg)
{
    cli_error(mo->o, "msc: bad block number or range \"%s\"", arg);
    return -1;
}

/* --read LBA[:COUNT] */
static int read_range(void *target, const char *arg)
{
    struct msc_opts *mo = target;
    char *end;
    mo->read = 1;
    mo->read_lba = strtoull(arg, &end, 0);
    mo->read_count = 0;
    if (end == arg || (*end && *end != ':'))
        return bad_blocks(mo, arg);
    if (*end == ':') {
        const char *c = end + 1;
        mo->read_count = strtoull(c, &end, 0);
        if (end == c || *end || !mo->read_count)
            return bad_blocks(mo, arg);
    }
    return 0;
}

/* --write LBA */
static int write_at(void *target, const char *arg)
{
    struct msc_opts *mo = target;
    char *end;
    mo->write = 1;
    mo->write_lba = strtoull(arg, &end, 0);
    return end == arg || *end ? bad_blocks(mo, arg) : 0;
}

static const char usage_text[] =
    "msc [-v] [--read LBA[:COUNT]] [-o FILE] [--write LBA -i FILE [--verify]]\n"
    "           [--chunk BLOCKS] [--progress|--no-progress] [--timeout SEC] [--listen|--retry]\n"
    "           [--usbmon FILE] [ADDRESS]\n"
    "Identifies a Bulk-Only mass storage device (INQUIRY, READ CAPACITY), then\n"
    "writes FILE at block LBA (and reads it back with --verify), then reads\n"
    "COUNT blocks (to the end) from LBA into FILE, printing their md5 and the\n"
    "throughput. With neither --read nor --write it reads up to 2048 blocks\n"
    "from block 0. BLOCKS per command: 128.\n" CLI_USBMON_HELP;

static int run_msc(struct conn *c, const struct common *o, void *opts)
{
    const struct msc_opts *mo = opts;
    const struct urg_hcd_device *info = conn_device(c);
    struct msc m;
    uint32_t i;
    int iface = -1, rc = EXIT_OK;
    memset(&m, 0, sizeof(m));
    m.c = c;
    m.o = o;
    for (i = 0; i < info->usb.interface_count && iface < 0; i++)
        if (info->usb.interface_class[i] == 8 && info->usb.interface_protocol[i] == 0x50)
            iface = info->usb.interface[i];
    if (iface >= 0)
        conn_bulk_endpoints(info, iface, &m.in, &m.out);
    if (iface < 0 || !m.in || !m.out) {
        cli_error(o, "%04x:%04x has no Bulk-Only mass storage interface", info->usb.vendor_id,
                  info->usb.product_id);
        return EXIT_FAIL;
    }
    printf("mass storage %04x:%04x, interface %d, bulk IN 0x%02x, OUT 0x%02x\n",
           info->usb.vendor_id, info->usb.product_id, iface, m.in, m.out);
    if (identify(&m))
        return conn_fail(c);
    if (mo->write)
        rc = do_write(&m, mo);
    if (rc == EXIT_OK && mo->read)
        rc = do_read(&m, mo);
    fflush(stdout);
    return rc;
}

/* The options go together, and with neither --read nor --write the
 * command reads. */
static int check_msc(const struct common *o, void *opts)
{
    struct msc_opts *mo = opts;
    if (mo->write != !!mo->in || (mo->verify && !mo->write) || (mo->out && !mo->read)) {
        cli_error(o, "msc: --write goes with -i FILE (and --verify with --write), -o with --read");
        return cli_usage(o, usage_text, EXIT_USAGE);
    }
    if (!mo->read && !mo->write) {
        mo->read = 1;
        mo->read_count = 2048;
    }
    return 0;
}

int cmd_msc(int argc, char **argv, struct common *o)
{
    static const struct device_command msc = { usage_text, "msc-read", check_msc, run_msc };
    struct msc_opts mo = { .o = o, .chunk = 128, .progress = -1 };
    const struct cli_option options[] = {
        CLI_PARSE("read", 0, &mo, read_range),
        CLI_PARSE("write", 0, &mo, write_at),
        CLI_TEXT("output", 'o', &mo.out),
        CLI_TEXT("input", 'i', &mo.in),
        CLI_SET("verify", 0, &mo.verify, 1),
        CLI_NUMBER("chunk", 0, &mo.chunk, 1, 65535),
        CLI_SET("progress", 0, &mo.progress, 1),
        CLI_SET("no-progress", 0, &mo.progress, 0),
        CLI_END,
    };
    return cli_device_command(argc, argv, o, &msc, options, &mo);
}

/*
 * parse.h - the pure parts of the usbredir-guest command: everything a
 * usb-host (or a capture file) sends is checked, decoded and printed here,
 * from a buffer and its length, with no connection - so that it can be
 * fuzzed (tests/fuzz/fuzz_tools.c) and unit-tested (tests/tools/test_parse.c).
 *
 *   text.c      text from a peer or a file made safe for a terminal;
 *               UTF-16LE string descriptors to UTF-8
 *   parse.c     descriptor and HID item iterators, SCSI and Bulk-Only
 *               replies, serial adapters' data, boot keyboard and mouse
 *               reports
 *   describe.c  the descriptors laid out as `lsusb -v` prints them
 *
 * Nothing here trusts a length, an offset or a count that came from the
 * peer: every read is within the buffer and within the descriptor's own
 * bLength, offsets are size_t, and a walk ends at the end of the buffer or
 * at the first malformed descriptor.
 */
#ifndef URG_CLI_PARSE_H
#define URG_CLI_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------- text.c */

/* Everything printed that came from a peer or a file goes through these,
 * escaped by the library's rules (urg_escape() in urg_guest.h: controls
 * and ill-formed UTF-8 become \xNN). */
enum {
    TEXT_LINES = 1   /* \n, \r and \t pass too (the serial line) */
};
/* Bytes each escaped input byte may take at most ("\xNN"). */
#define TEXT_MAX_GROWTH 4
/* Escapes s[0..n) into out (always NUL-terminated when cap > 0; on
 * truncation only whole characters and whole escapes are written).
 * Returns the length written. TEXT_MAX_GROWTH * n + 1 bytes always fit. */
size_t text_escape(char *out, size_t cap, const void *s, size_t n, unsigned flags);
/* Writes s[0..n) escaped to f. */
void text_put(FILE *f, const void *s, size_t n, unsigned flags);
/* The same for a NUL-terminated string. */
void text_puts(FILE *f, const char *s, unsigned flags);

/* A byte stream written in pieces (the serial line): a UTF-8 character cut
 * between two pieces is held back and written whole with the next one. */
struct text_stream {
    unsigned flags;
    uint8_t part[4];
    size_t npart;
};
void text_stream_put(struct text_stream *t, FILE *f, const void *s, size_t n);
/* The end of the stream: a character still cut is written escaped. */
void text_stream_end(struct text_stream *t, FILE *f);

/* A USB string descriptor (d[0..n), n the bytes received) as escaped UTF-8
 * text, malloc'ed: UTF-16LE, a lone surrogate as U+FFFD, an odd last byte
 * dropped, at most min(n, bLength) bytes read. NULL when it is not a string
 * descriptor (fewer than 2 bytes, bLength < 2, bDescriptorType not 3; *why
 * then says which, if why is given) or when memory runs out (*why NULL). */
char *usb_string_text(const uint8_t *d, size_t n, const char **why);

/* ---------------------------------------------------------------- parse.c */

static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walks the descriptors packed in buf[0..len) (a configuration, a BOS),
 * starting with the one at offset 0. */
struct desc_iter {
    const uint8_t *buf;
    size_t len, off;
    bool bad;          /* stopped at a malformed descriptor (at off) */
};
enum { DESC_END = 0, DESC_OK = 1, DESC_BAD = -1 };
void desc_iter_init(struct desc_iter *it, const uint8_t *buf, size_t len);
/* DESC_OK with *d and *dlen (its bLength: at least 2, within the buffer);
 * DESC_END after the last; DESC_BAD at a descriptor whose bLength is under
 * 2 or runs past the end, or a single byte left over (and from then on). */
int desc_next(struct desc_iter *it, const uint8_t **d, size_t *dlen);
/* Why the walk stopped (after DESC_BAD): "malformed descriptor at byte N:
 * ...". */
void desc_problem(const struct desc_iter *it, char *buf, size_t cap);

/* HID report descriptor items (HID 1.11, 6.2.2). */
struct hid_item {
    uint8_t type;      /* 0 main, 1 global, 2 local, 3 reserved (short items) */
    uint8_t tag;
    uint8_t size;      /* data bytes: 0, 1, 2, 4; a long item's bDataSize */
    bool is_long;      /* a long item (0xfe): tag is bLongItemTag */
    uint32_t value;    /* short items: the data, little-endian */
    const uint8_t *data;
};
enum { HID_END = 0, HID_OK = 1, HID_TRUNCATED = -1 };
/* The item at *off in r[0..n): HID_OK (and *off moves past it), HID_END at
 * the end, HID_TRUNCATED when the item runs past the end (*off stays). */
int hid_next(const uint8_t *r, size_t n, size_t *off, struct hid_item *it);
/* Prints the items as lsusb -v does; returns false if it ended at a
 * truncated item (printed as "** truncated item **"). */
bool hid_print_items(FILE *out, const uint8_t *r, size_t n);

/* SCSI INQUIRY (36 bytes standard data): fields trimmed, escaped. */
struct scsi_inquiry {
    char vendor[8 * TEXT_MAX_GROWTH + 1];
    char product[16 * TEXT_MAX_GROWTH + 1];
    char revision[4 * TEXT_MAX_GROWTH + 1];
    uint8_t peripheral_type;
    bool removable;
};
/* 0, or -1 with fewer than 36 bytes. */
int scsi_inquiry_decode(const uint8_t *d, size_t n, struct scsi_inquiry *q);
/* READ CAPACITY (10): 0, 1 when READ CAPACITY (16) must be asked (the last
 * block is 0xffffffff), -1 with fewer than 8 bytes. */
int scsi_capacity10(const uint8_t *d, size_t n, uint64_t *blocks, uint32_t *block_size);
/* READ CAPACITY (16): 0, or -1 with fewer than 12 bytes or a last block of
 * 2^64 - 1 (the count would not fit). */
int scsi_capacity16(const uint8_t *d, size_t n, uint64_t *blocks, uint32_t *block_size);
/* A capacity the command can use: a block size that is a power of two from
 * 512 to 65536, at least one block, and blocks * block size within 64 bits.
 * 0, or -1 with why set. */
int scsi_capacity_check(uint64_t blocks, uint32_t block_size, char *why, size_t cap);
/* REQUEST SENSE data, fixed (0x70, 0x71) or descriptor (0x72, 0x73)
 * format: 0, or -1 when n is too short or the response code is neither. */
struct scsi_sense {
    uint8_t key, asc, ascq;
};
int scsi_sense_decode(const uint8_t *s, size_t n, struct scsi_sense *out);

/* A Bulk-Only Transport command status wrapper (13 bytes) for the command
 * with that tag and data length: 0 with *status (0 passed, 1 failed, 2
 * phase error) and *residue, or -1 with why set (a wrong length, signature
 * or tag, a status over 2, a residue over the data length). */
int bot_csw_decode(const uint8_t *c, size_t n, uint32_t tag, uint32_t data_len, uint8_t *status,
                   uint32_t *residue, char *why, size_t cap);

/* The data in what a serial adapter's bulk IN endpoint returned: an FTDI
 * chip starts each max-packet-size piece with 2 status bytes, dropped
 * (mps 0: one piece); others send data only. Copies to out (n bytes fit);
 * returns the bytes of data. */
size_t serial_payload(bool ftdi, uint16_t mps, const uint8_t *in, size_t n, uint8_t *out);

/* Boot protocol reports, decoded to out after their hex (hid). */
struct kbd_state {
    uint8_t prev[8];
    char typed[4096];
    size_t ntyped;
};
void kbd_report(FILE *out, struct kbd_state *s, const uint8_t *r, size_t n);
struct mouse_state {
    uint8_t buttons;
    long x, y, wheel;
    unsigned clicks[3];
};
void mouse_report(FILE *out, struct mouse_state *m, const uint8_t *r, size_t n);

/* ---------------------------------------------------------------- describe.c */

#define LSUSB_MAX_CONFIGS 8
#define LSUSB_MAX_REPORTS 32

/* What lsusb read from the device. */
struct lsusb_desc {
    uint8_t device[18];
    uint8_t *config[LSUSB_MAX_CONFIGS];  /* as received */
    size_t config_len[LSUSB_MAX_CONFIGS];
    int nconfig;
    char *string[256];                   /* escaped UTF-8 (usb_string_text) */
    uint16_t langid;
    uint8_t *report[LSUSB_MAX_REPORTS];  /* HID report descriptors, per interface */
    size_t report_len[LSUSB_MAX_REPORTS];
    uint8_t qualifier[10];
    bool have_qualifier;
    uint8_t *bos;
    size_t bos_len;
    uint16_t status;
    bool have_status;
    uint8_t speed;                       /* URG_SPEED_* (3: SuperSpeed) */
    uint8_t address;
};
/* Prints d to out as lsusb -v does; each malformed structure met is said
 * once on err as "PROG: WHAT: WHY" (and noted in out). Returns the number
 * of problems said. */
int lsusb_print(FILE *out, FILE *err, const char *prog, const struct lsusb_desc *d);
/* Frees what d holds (not d). */
void lsusb_desc_free(struct lsusb_desc *d);

#endif

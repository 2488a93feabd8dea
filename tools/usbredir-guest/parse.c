/*
 * parse.c - what a usb-host sends, decoded from a buffer and its length
 * (parse.h): descriptor and HID item walks, SCSI and Bulk-Only Transport
 * replies, serial adapters' data, boot keyboard and mouse reports.
 */
#include <string.h>

#include "parse.h"

/* ---------------------------------------------------------------- descriptors */

void desc_iter_init(struct desc_iter *it, const uint8_t *buf, size_t len)
{
    it->buf = buf;
    it->len = buf ? len : 0;
    it->off = 0;
    it->bad = false;
}

int desc_next(struct desc_iter *it, const uint8_t **d, size_t *dlen)
{
    size_t left, n;
    if (it->bad)
        return DESC_BAD;
    if (it->off >= it->len)
        return DESC_END;
    left = it->len - it->off;
    n = left >= 2 ? it->buf[it->off] : 0;
    if (left < 2 || n < 2 || n > left) {
        it->bad = true;
        return DESC_BAD;
    }
    *d = it->buf + it->off;
    *dlen = n;
    it->off += n;
    return DESC_OK;
}

void desc_problem(const struct desc_iter *it, char *buf, size_t cap)
{
    size_t left = it->len - it->off;
    if (left < 2)
        snprintf(buf, cap, "malformed descriptor at byte %zu: 1 byte left, too short for one",
                 it->off);
    else if (it->buf[it->off] < 2)
        snprintf(buf, cap, "malformed descriptor at byte %zu: bLength %u", it->off,
                 it->buf[it->off]);
    else
        snprintf(buf, cap, "malformed descriptor at byte %zu: bLength %u, only %zu bytes left",
                 it->off, it->buf[it->off], left);
}

/* ---------------------------------------------------------------- HID items */

int hid_next(const uint8_t *r, size_t n, size_t *off, struct hid_item *it)
{
    size_t i = *off;
    uint8_t b;
    memset(it, 0, sizeof(*it));
    if (i >= n)
        return HID_END;
    b = r[i];
    if (b == 0xfe) { /* a long item: bDataSize, bLongItemTag, data */
        if (n - i < 3 || n - i - 3 < r[i + 1])
            return HID_TRUNCATED;
        it->is_long = true;
        it->type = 3;
        it->size = r[i + 1];
        it->tag = r[i + 2];
        it->data = r + i + 3;
        *off = i + 3 + it->size;
        return HID_OK;
    }
    it->size = (uint8_t)((b & 3) == 3 ? 4 : b & 3);
    it->type = (b >> 2) & 3;
    it->tag = b >> 4;
    if (n - i - 1 < it->size)
        return HID_TRUNCATED;
    it->data = r + i + 1;
    for (unsigned k = 0; k < it->size; k++)
        it->value |= (uint32_t)it->data[k] << (8 * k);
    *off = i + 1 + it->size;
    return HID_OK;
}

bool hid_print_items(FILE *out, const uint8_t *r, size_t n)
{
    static const char *const main_tags[16] = { [8] = "Input", [9] = "Output",
                                               [10] = "Collection", [11] = "Feature",
                                               [12] = "End Collection" };
    static const char *const global_tags[16] = {
        "Usage Page",       "Logical Minimum", "Logical Maximum", "Physical Minimum",
        "Physical Maximum", "Unit Exponent",   "Unit",            "Report Size",
        "Report ID",        "Report Count",    "Push",            "Pop",
    };
    static const char *const local_tags[16] = {
        "Usage",           "Usage Minimum", "Usage Maximum", "Designator Index",
        "Designator Minimum", "Designator Maximum", NULL,     "String Index",
        "String Minimum",  "String Maximum", "Delimiter",
    };
    static const char *const types[4] = { "Main  ", "Global", "Local ", "Reserved" };
    size_t off = 0;
    struct hid_item it;
    int r_;
    fprintf(out, "          Report Descriptor: (length is %zu)\n", n);
    while ((r_ = hid_next(r, n, &off, &it)) == HID_OK) {
        const char *name = NULL;
        if (it.is_long) {
            fprintf(out, "            ** long item, tag 0x%02x, %u bytes **\n", it.tag, it.size);
            continue;
        }
        if (it.type == 0)
            name = main_tags[it.tag];
        else if (it.type == 1)
            name = global_tags[it.tag];
        else if (it.type == 2)
            name = local_tags[it.tag];
        fprintf(out, "            Item(%s): %s, data=", types[it.type], name ? name : "(unknown)");
        if (!it.size) {
            fprintf(out, "none\n");
        } else {
            fprintf(out, " [ ");
            for (unsigned k = 0; k < it.size; k++)
                fprintf(out, "0x%02x ", it.data[k]);
            fprintf(out, "] %u\n", it.value);
        }
    }
    if (r_ == HID_TRUNCATED) {
        fprintf(out, "            ** truncated item **\n");
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- SCSI */

/* A fixed-width ASCII field: trailing spaces and NULs trimmed, escaped. */
static void scsi_field(char *out, size_t cap, const uint8_t *f, size_t n)
{
    while (n && (f[n - 1] == ' ' || f[n - 1] == 0))
        n--;
    text_escape(out, cap, f, n, 0);
}

int scsi_inquiry_decode(const uint8_t *d, size_t n, struct scsi_inquiry *q)
{
    memset(q, 0, sizeof(*q));
    if (n < 36)
        return -1;
    scsi_field(q->vendor, sizeof(q->vendor), d + 8, 8);
    scsi_field(q->product, sizeof(q->product), d + 16, 16);
    scsi_field(q->revision, sizeof(q->revision), d + 32, 4);
    q->peripheral_type = d[0] & 0x1f;
    q->removable = (d[1] & 0x80) != 0;
    return 0;
}

int scsi_capacity10(const uint8_t *d, size_t n, uint64_t *blocks, uint32_t *block_size)
{
    uint32_t last;
    if (n < 8)
        return -1;
    last = get_be32(d);
    *blocks = (uint64_t)last + 1;
    *block_size = get_be32(d + 4);
    return last == 0xffffffffu ? 1 : 0;
}

int scsi_capacity16(const uint8_t *d, size_t n, uint64_t *blocks, uint32_t *block_size)
{
    uint64_t last;
    if (n < 12)
        return -1;
    last = (uint64_t)get_be32(d) << 32 | get_be32(d + 4);
    if (last == UINT64_MAX)
        return -1;
    *blocks = last + 1;
    *block_size = get_be32(d + 8);
    return 0;
}

int scsi_capacity_check(uint64_t blocks, uint32_t block_size, char *why, size_t cap)
{
    if (block_size < 512 || block_size > 65536 || (block_size & (block_size - 1))) {
        snprintf(why, cap, "a block size of %u bytes is not supported", block_size);
        return -1;
    }
    if (!blocks || blocks > UINT64_MAX / block_size) {
        snprintf(why, cap, "a capacity of %llu blocks of %u bytes is not possible",
                 (unsigned long long)blocks, block_size);
        return -1;
    }
    return 0;
}

/* Where a sense format keeps the key, ASC and ASCQ, and the bytes it
 * needs for them. */
struct sense_format {
    uint8_t len, key, asc, ascq;
};

int scsi_sense_decode(const uint8_t *s, size_t n, struct scsi_sense *out)
{
    static const struct sense_format fixed = { 14, 2, 12, 13 };     /* 0x70, 0x71 */
    static const struct sense_format descriptor = { 4, 1, 2, 3 };   /* 0x72, 0x73 */
    uint8_t code = n ? s[0] & 0x7f : 0;
    const struct sense_format *f = code >= 0x72 ? &descriptor : &fixed;
    memset(out, 0, sizeof(*out));
    if (code < 0x70 || code > 0x73 || n < f->len)
        return -1;
    out->key = s[f->key] & 15;
    out->asc = s[f->asc];
    out->ascq = s[f->ascq];
    return 0;
}

int bot_csw_decode(const uint8_t *c, size_t n, uint32_t tag, uint32_t data_len, uint8_t *status,
                   uint32_t *residue, char *why, size_t cap)
{
    if (n != 13) {
        snprintf(why, cap, "a status block of %zu bytes, not 13", n);
        return -1;
    }
    if (get_le32(c) != 0x53425355u || get_le32(c + 4) != tag) {
        snprintf(why, cap, "a bad status block (signature 0x%08x, tag %u)", get_le32(c),
                 get_le32(c + 4));
        return -1;
    }
    if (c[12] > 2) {
        snprintf(why, cap, "a bad status block (status 0x%02x)", c[12]);
        return -1;
    }
    if (get_le32(c + 8) > data_len) {
        snprintf(why, cap, "a bad status block (residue %u for %u bytes)", get_le32(c + 8),
                 data_len);
        return -1;
    }
    *status = c[12];
    *residue = get_le32(c + 8);
    return 0;
}

/* ---------------------------------------------------------------- serial */

size_t serial_payload(bool ftdi, uint16_t mps, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t off, o = 0;
    if (!ftdi) {
        memmove(out, in, n);
        return n;
    }
    for (off = 0; off < n;) {
        size_t piece = mps && n - off > mps ? mps : n - off;
        size_t skip = piece < 2 ? piece : 2;
        memmove(out + o, in + off + skip, piece - skip);
        o += piece - skip;
        off += piece;
    }
    return o;
}

/* ---------------------------------------------------------------- boot reports */

static const char *key_name(uint8_t k, char *buf, size_t cap)
{
    static const char *const named[] = {
        [0x28] = "Enter", [0x29] = "Esc",      [0x2a] = "Backspace", [0x2b] = "Tab",
        [0x2c] = "Space", [0x39] = "CapsLock", [0x46] = "PrintScreen", [0x47] = "ScrollLock",
        [0x48] = "Pause", [0x49] = "Insert",   [0x4a] = "Home",      [0x4b] = "PageUp",
        [0x4c] = "Delete", [0x4d] = "End",     [0x4e] = "PageDown",  [0x4f] = "Right",
        [0x50] = "Left",  [0x51] = "Down",     [0x52] = "Up",
    };
    static const char punct[] = "-=[]\\#;'`,./";
    if (k >= 0x04 && k <= 0x1d)
        snprintf(buf, cap, "%c", 'a' + (k - 0x04));
    else if (k >= 0x1e && k <= 0x27)
        snprintf(buf, cap, "%c", k == 0x27 ? '0' : '1' + (k - 0x1e));
    else if (k >= 0x2d && k <= 0x38)
        snprintf(buf, cap, "%c", punct[k - 0x2d]);
    else if (k >= 0x3a && k <= 0x45)
        snprintf(buf, cap, "F%u", k - 0x3a + 1);
    else if (k < sizeof(named) / sizeof(named[0]) && named[k])
        snprintf(buf, cap, "%s", named[k]);
    else
        snprintf(buf, cap, "0x%02x", k);
    return buf;
}

/* The character a key types, or 0. */
static char key_char(uint8_t k, bool shift)
{
    static const char digits[] = "1234567890", shifted_digits[] = "!@#$%^&*()";
    static const char punct[] = "-=[]\\#;'`,./", shifted_punct[] = "_+{}|~:\"~<>?";
    if (k >= 0x04 && k <= 0x1d)
        return (char)((shift ? 'A' : 'a') + (k - 0x04));
    if (k >= 0x1e && k <= 0x27)
        return shift ? shifted_digits[k - 0x1e] : digits[k - 0x1e];
    if (k >= 0x2d && k <= 0x38)
        return shift ? shifted_punct[k - 0x2d] : punct[k - 0x2d];
    if (k == 0x2c)
        return ' ';
    if (k == 0x28)
        return '\n';
    if (k == 0x2b)
        return '\t';
    return 0;
}

static const char *const modifiers[8] = { "LeftCtrl",  "LeftShift",  "LeftAlt",  "LeftGUI",
                                          "RightCtrl", "RightShift", "RightAlt", "RightGUI" };

static bool in_report(const uint8_t *r, size_t n, uint8_t k)
{
    size_t i;
    for (i = 2; i < n; i++)
        if (r[i] == k)
            return true;
    return false;
}

void kbd_report(FILE *out, struct kbd_state *s, const uint8_t *r, size_t n)
{
    char name[16];
    bool any = false, shift;
    size_t i;
    int b;
    if (n < 3)
        return;
    shift = (r[0] & 0x22) != 0;
    if (n >= 8 && r[2] == 1 && r[3] == 1) {
        fprintf(out, " rollover");
        return;
    }
    for (b = 0; b < 8; b++) {
        uint8_t bit = (uint8_t)(1u << b);
        if ((r[0] & bit) != (s->prev[0] & bit)) {
            fprintf(out, "%s %s", any ? "," : "", modifiers[b]);
            fprintf(out, r[0] & bit ? " down" : " up");
            any = true;
        }
    }
    for (i = 2; i < n && i < 8; i++) {
        char ch;
        if (!r[i] || in_report(s->prev, 8, r[i]))
            continue;
        fprintf(out, "%s press %s", any ? "," : "", key_name(r[i], name, sizeof(name)));
        any = true;
        ch = key_char(r[i], shift);
        if (ch && s->ntyped < sizeof(s->typed) - 1)
            s->typed[s->ntyped++] = ch;
    }
    for (i = 2; i < 8; i++) {
        if (!s->prev[i] || in_report(r, n < 8 ? n : 8, s->prev[i]))
            continue;
        fprintf(out, "%s release %s", any ? "," : "", key_name(s->prev[i], name, sizeof(name)));
        any = true;
    }
    memset(s->prev, 0, sizeof(s->prev));
    memcpy(s->prev, r, n < 8 ? n : 8);
}

void mouse_report(FILE *out, struct mouse_state *m, const uint8_t *r, size_t n)
{
    static const char *const names[3] = { "left", "right", "middle" };
    bool any = false;
    int b;
    if (n < 3)
        return;
    for (b = 0; b < 3; b++) {
        uint8_t bit = (uint8_t)(1u << b);
        if ((r[0] & bit) != (m->buttons & bit)) {
            fprintf(out, "%s %s %s", any ? "," : "", r[0] & bit ? "press" : "release", names[b]);
            if (r[0] & bit)
                m->clicks[b]++;
            any = true;
        }
    }
    m->buttons = r[0];
    if ((int8_t)r[1] || (int8_t)r[2]) {
        fprintf(out, "%s move x=%+d y=%+d", any ? "," : "", (int8_t)r[1], (int8_t)r[2]);
        m->x += (int8_t)r[1];
        m->y += (int8_t)r[2];
        any = true;
    }
    if (n >= 4 && (int8_t)r[3]) {
        fprintf(out, "%s wheel %+d", any ? "," : "", (int8_t)r[3]);
        m->wheel += (int8_t)r[3];
        any = true;
    }
    if (!any)
        fprintf(out, " (no change)");
}

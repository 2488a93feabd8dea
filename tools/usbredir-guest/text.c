/*
 * text.c - text from a usb-host or a capture file made safe to print with
 * the library's escaper (urg_escape()): to a buffer, to a FILE, as a stream
 * written in pieces; and USB string descriptors (UTF-16LE) to UTF-8.
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "urg_guest.h"

/* The controls the serial line lets through. The rules are the library's
 * (urg_escape(), urg_escape_unit()): one escaper for the engine's log
 * lines, the dump command and this. */
static const char *keep(unsigned flags) { return (flags & TEXT_LINES) ? "\n\r\t" : NULL; }

size_t text_escape(char *out, size_t cap, const void *data, size_t n, unsigned flags)
{
    if (!cap)
        return 0;
    urg_escape(data, n, keep(flags), out, cap);
    return strlen(out);
}

/* Writes s[0..n) with each unit checked; a cut character at the end is
 * escaped (stream: returned, not written, when hold is set). Returns the
 * bytes taken. */
static size_t put_units(FILE *f, const uint8_t *s, size_t n, unsigned flags, bool hold)
{
    size_t i = 0, run = 0; /* s[i - run .. i) is printable, not yet written */
    while (i < n) {
        int k = urg_escape_unit(s + i, n - i, keep(flags));
        char esc[5];
        if (k < 0 && hold)
            break;
        if (k > 0) {
            i += (size_t)k;
            run += (size_t)k;
            continue;
        }
        fwrite(s + i - run, 1, run, f);
        run = 0;
        urg_escape(s + i, 1, NULL, esc, sizeof(esc)); /* one byte to escape: \xNN */
        fputs(esc, f);
        i++;
    }
    fwrite(s + i - run, 1, run, f);
    return i;
}

void text_put(FILE *f, const void *s, size_t n, unsigned flags) { put_units(f, s, n, flags, false); }

void text_puts(FILE *f, const char *s, unsigned flags) { put_units(f, (const uint8_t *)s, strlen(s), flags, false); }

void text_stream_put(struct text_stream *t, FILE *f, const void *data, size_t n)
{
    const uint8_t *s = data;
    size_t i = 0, took;
    if (t->npart) {
        /* The held bytes and the first few new ones: a character is at most
         * 4 bytes, so once the held ones are written it ends within these. */
        uint8_t tmp[8];
        size_t take = n < 4 ? n : 4, len = t->npart + take;
        memcpy(tmp, t->part, t->npart);
        memcpy(tmp + t->npart, s, take);
        took = put_units(f, tmp, len, t->flags, true);
        if (took < t->npart) {
            /* Still cut: then every new byte is in tmp (take == n). */
            t->npart = len - took;
            memmove(t->part, tmp + took, t->npart);
            return;
        }
        i = took - t->npart;
        t->npart = 0;
    }
    took = put_units(f, s + i, n - i, t->flags, true);
    t->npart = n - i - took; /* less than 4: a cut character */
    memcpy(t->part, s + i + took, t->npart);
}

void text_stream_end(struct text_stream *t, FILE *f)
{
    put_units(f, t->part, t->npart, t->flags, false);
    t->npart = 0;
}

/* ---------------------------------------------------------------- strings */

static size_t put_utf8(uint8_t *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (uint8_t)(0xc0 | c >> 6);
        out[1] = (uint8_t)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (uint8_t)(0xe0 | c >> 12);
        out[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | c >> 18);
    out[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (c & 0x3f));
    return 4;
}

char *usb_string_text(const uint8_t *d, size_t n, const char **why)
{
    /* At most 253 bytes of UTF-16: 126 units, 3 bytes of UTF-8 each at
     * most (a pair of units makes 4). */
    uint8_t u8[126 * 3];
    size_t len, i, o = 0;
    char *out;
    if (why)
        *why = NULL;
    if (n < 2) {
        if (why)
            *why = "shorter than 2 bytes";
        return NULL;
    }
    if (d[0] < 2) {
        if (why)
            *why = d[0] ? "bLength 1" : "bLength 0";
        return NULL;
    }
    if (d[1] != 3) {
        if (why)
            *why = "not a string descriptor";
        return NULL;
    }
    len = n < d[0] ? n : d[0];
    for (i = 2; i + 1 < len; i += 2) {
        uint32_t c = get_le16(d + i);
        if (c >= 0xd800 && c < 0xdc00 && i + 3 < len && get_le16(d + i + 2) >= 0xdc00 &&
            get_le16(d + i + 2) < 0xe000) {
            c = 0x10000 + ((c - 0xd800) << 10) + (uint32_t)(get_le16(d + i + 2) - 0xdc00);
            i += 2;
        } else if (c >= 0xd800 && c < 0xe000) {
            c = 0xfffd; /* a lone surrogate */
        }
        o += put_utf8(u8 + o, c);
    }
    out = malloc(o * TEXT_MAX_GROWTH + 1);
    if (out)
        text_escape(out, o * TEXT_MAX_GROWTH + 1, u8, o, 0);
    return out;
}

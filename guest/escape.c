/*
 * escape.c - text from a peer or a file made safe for a terminal or a log
 * (urg_escape). Well-formed UTF-8 as the Unicode standard's table 3-7
 * defines it; controls (C0, DEL, C1) and every other byte become \xNN.
 */
#include "internal.h"

/* Length of the well-formed UTF-8 sequence at p (n bytes available) that
 * is not a control, or 0 if the byte at p must be escaped. */
static size_t utf8_char(const uint8_t *p, size_t n, const char *keep)
{
    uint8_t b = p[0], lo = 0x80, hi = 0xbf;
    size_t len, k;
    if (b < 0x20)
        return keep && b && strchr(keep, b) ? 1 : 0;
    if (b < 0x7f)
        return 1;
    if (b < 0xc2 || b > 0xf4)
        return 0; /* DEL, a continuation byte, an overlong lead, out of range */
    if (b < 0xe0)
        len = 2;
    else if (b < 0xf0)
        len = 3;
    else
        len = 4;
    if (n < len)
        return 0;
    if (b == 0xc2 && p[1] < 0xa0)
        return 0; /* U+0080..U+009F: C1 controls */
    if (b == 0xe0)
        lo = 0xa0; /* overlong */
    else if (b == 0xed)
        hi = 0x9f; /* surrogates */
    else if (b == 0xf0)
        lo = 0x90; /* overlong */
    else if (b == 0xf4)
        hi = 0x8f; /* over U+10FFFF */
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (k = 2; k < len; k++)
        if (p[k] < 0x80 || p[k] > 0xbf)
            return 0;
    return len;
}

URG_API size_t urg_escape(const void *text, size_t len, const char *keep, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = text;
    size_t i = 0, out = 0;
    bool full = cap == 0;
    while (i < len) {
        size_t k = utf8_char(p + i, len - i, keep);
        size_t need = k ? k : 4;
        if (!full && out + need < cap) {
            if (k) {
                memcpy(buf + out, p + i, k);
            } else {
                buf[out] = '\\';
                buf[out + 1] = 'x';
                buf[out + 2] = hex[p[i] >> 4];
                buf[out + 3] = hex[p[i] & 15];
            }
        } else if (!full) {
            full = true;
            buf[out] = '\0';
        }
        out += need;
        i += k ? k : 1;
    }
    if (!full)
        buf[out] = '\0';
    return out;
}

/*
 * escape.c - text from a peer or a file made safe for a terminal or a log
 * (urg_escape). Well-formed UTF-8 as the Unicode standard's table 3-7
 * defines it; controls (C0, DEL, C1) and every other byte become \xNN.
 */
#include "internal.h"

URG_API int urg_escape_unit(const void *text, size_t n, const char *keep)
{
    const uint8_t *p = text;
    uint8_t b = p[0], lo = 0x80, hi = 0xbf;
    size_t len, k;
    if (b < 0x20)
        return keep && b && strchr(keep, b) ? 1 : 0;
    if (b < 0x7f)
        return 1;
    if (b < 0xc2 || b > 0xf4)
        return 0; /* DEL, a continuation byte, an overlong lead, out of range */
    len = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    if (b == 0xc2)
        lo = 0xa0; /* U+0080..U+009F: C1 controls */
    else if (b == 0xe0)
        lo = 0xa0; /* overlong */
    else if (b == 0xed)
        hi = 0x9f; /* surrogates */
    else if (b == 0xf0)
        lo = 0x90; /* overlong */
    else if (b == 0xf4)
        hi = 0x8f; /* over U+10FFFF */
    for (k = 1; k < len; k++) {
        if (k >= n)
            return -1; /* a well-formed start, cut short */
        if (p[k] < (k == 1 ? lo : 0x80) || p[k] > (k == 1 ? hi : 0xbf))
            return 0;
    }
    return (int)len;
}

URG_API size_t urg_escape(const void *text, size_t len, const char *keep, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = text;
    size_t i = 0, out = 0;
    bool full = cap == 0;
    while (i < len) {
        int unit = urg_escape_unit(p + i, len - i, keep);
        size_t k = unit > 0 ? (size_t)unit : 0, need = k ? k : 4;
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

/*
 * md5.c - MD5 (RFC 1321), for the md5 of data the msc command reads and
 * writes: the fixtures' ground truth is given as md5sum prints it.
 */
#include <string.h>

#include "cli.h"

static uint32_t rol(uint32_t x, int c) { return x << c | x >> (32 - c); }

static void block(struct md5 *m, const uint8_t *p)
{
    static const uint32_t k[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    };
    static const int r[64] = { 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                               5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                               4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                               6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21 };
    uint32_t w[16], a = m->a, b = m->b, c = m->c, d = m->d;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    for (i = 0; i < 64; i++) {
        uint32_t f, t;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) & 15;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) & 15;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) & 15;
        }
        t = d;
        d = c;
        c = b;
        b = b + rol(a + f + k[i] + w[g], r[i]);
        a = t;
    }
    m->a += a;
    m->b += b;
    m->c += c;
    m->d += d;
}

void md5_init(struct md5 *m)
{
    m->a = 0x67452301;
    m->b = 0xefcdab89;
    m->c = 0x98badcfe;
    m->d = 0x10325476;
    m->len = 0;
}

void md5_update(struct md5 *m, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t have = (size_t)(m->len & 63);
    m->len += len;
    if (have) {
        size_t k = 64 - have < len ? 64 - have : len;
        memcpy(m->buf + have, p, k);
        p += k;
        len -= k;
        if (have + k < 64)
            return;
        block(m, m->buf);
    }
    for (; len >= 64; p += 64, len -= 64)
        block(m, p);
    memcpy(m->buf, p, len);
}

void md5_hex(struct md5 *m, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t pad[72] = { 0x80 };
    uint64_t bits = m->len * 8;
    size_t have = (size_t)(m->len & 63), n = have < 56 ? 56 - have : 120 - have;
    uint32_t v[4];
    int i;
    for (i = 0; i < 8; i++)
        pad[n + (size_t)i] = (uint8_t)(bits >> (8 * i));
    md5_update(m, pad, n + 8);
    v[0] = m->a;
    v[1] = m->b;
    v[2] = m->c;
    v[3] = m->d;
    for (i = 0; i < 16; i++) {
        uint8_t byte = (uint8_t)(v[i / 4] >> (8 * (i % 4)));
        out[2 * i] = hex[byte >> 4];
        out[2 * i + 1] = hex[byte & 15];
    }
    out[32] = 0;
}

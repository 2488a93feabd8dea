/*
 * address.c - the address forms: "host:port", "[v6address]:port",
 * "unix:/path", "fd:N".
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urg_transport.h"

static int parse_uint(const char *s, long max, long *out)
{
    char *end;
    long v;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    v = strtol(s, &end, 10);
    if (*end || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

URG_API int urg_address_parse(const char *text, struct urg_address *out)
{
    const char *colon;
    long v;
    size_t n;
    if (!text || !out)
        return URG_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    if (!strncmp(text, "unix:", 5)) {
        n = strlen(text + 5);
        if (!n || n >= sizeof(out->path))
            return URG_ERR_ADDRESS;
        out->kind = URG_ADDR_UNIX;
        memcpy(out->path, text + 5, n + 1);
        return 0;
    }
    if (!strncmp(text, "fd:", 3)) {
        if (parse_uint(text + 3, INT_MAX, &v))
            return URG_ERR_ADDRESS;
        out->kind = URG_ADDR_FD;
        out->fd = (int)v;
        return 0;
    }
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return URG_ERR_ADDRESS;
        n = (size_t)(close - text - 1);
        if (!n || n >= sizeof(out->host) || memchr(text + 1, ':', n) == NULL)
            return URG_ERR_ADDRESS; /* brackets are for IPv6 literals */
        memcpy(out->host, text + 1, n);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return URG_ERR_ADDRESS;
        n = (size_t)(colon - text);
        if (n >= sizeof(out->host) || memchr(text, ':', n))
            return URG_ERR_ADDRESS; /* a bare IPv6 address needs brackets */
        memcpy(out->host, text, n);
    }
    if (parse_uint(colon + 1, 65535, &v))
        return URG_ERR_ADDRESS;
    out->kind = URG_ADDR_TCP;
    out->port = (uint16_t)v;
    return 0;
}

URG_API int urg_address_format(const struct urg_address *a, char *buf, size_t cap)
{
    if (!a)
        return URG_ERR_INVALID;
    switch (a->kind) {
    case URG_ADDR_UNIX: return snprintf(buf, cap, "unix:%s", a->path);
    case URG_ADDR_FD: return snprintf(buf, cap, "fd:%d", a->fd);
    case URG_ADDR_TCP:
        if (strchr(a->host, ':'))
            return snprintf(buf, cap, "[%s]:%u", a->host, a->port);
        return snprintf(buf, cap, "%s:%u", a->host, a->port);
    default: return URG_ERR_INVALID;
    }
}

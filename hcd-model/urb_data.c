/*
 * urb_data.c - a URB's data, in one buffer or in segments (struct
 * urg_urb's iov): the check at submission, and copies into and out of it
 * at an offset, for the data the model moves itself (stream data, iso
 * packets, standard replies, the usbmon capture). Data the engine moves
 * (control, bulk and interrupt OUT requests) goes to and from the
 * segments directly.
 */
#include "hcd.h"

int urb_data_check(const struct urg_urb *u)
{
    if (u->iovcnt)
        return u->buffer ? URG_ERR_INVALID : urg_iov_check(u->iov, u->iovcnt, u->length);
    return u->length && !u->buffer ? URG_ERR_INVALID : 0;
}

/* The segment holding byte off of the data, and where in it (*at). */
static const struct iovec *segment_at(const struct urg_urb *u, uint32_t off, size_t *at)
{
    const struct iovec *v = u->iov;
    while (off >= v->iov_len) {
        off -= (uint32_t)v->iov_len;
        v++;
    }
    *at = off;
    return v;
}

void urb_data_write(struct urg_urb *u, uint32_t off, const void *src, uint32_t n)
{
    const uint8_t *p = src;
    const struct iovec *v;
    size_t at;
    if (!n)
        return;
    if (!u->iovcnt) {
        memcpy(u->buffer + off, src, n);
        return;
    }
    for (v = segment_at(u, off, &at); n; v++, at = 0) {
        size_t k = v->iov_len - at < n ? v->iov_len - at : n;
        memcpy((uint8_t *)v->iov_base + at, p, k);
        p += k;
        n -= (uint32_t)k;
    }
}

void urb_data_read(const struct urg_urb *u, uint32_t off, void *dst, uint32_t n)
{
    uint8_t *p = dst;
    const struct iovec *v;
    size_t at;
    if (!n)
        return;
    if (!u->iovcnt) {
        memcpy(dst, u->buffer + off, n);
        return;
    }
    for (v = segment_at(u, off, &at); n; v++, at = 0) {
        size_t k = v->iov_len - at < n ? v->iov_len - at : n;
        memcpy(p, (const uint8_t *)v->iov_base + at, k);
        p += k;
        n -= (uint32_t)k;
    }
}

uint8_t *urb_data_span(struct urg_urb *u, uint32_t off, uint32_t n)
{
    const struct iovec *v;
    size_t at;
    if (!u->iovcnt)
        return u->buffer + off;
    if (!n)
        return NULL;
    v = segment_at(u, off, &at);
    return v->iov_len - at >= n ? (uint8_t *)v->iov_base + at : NULL;
}

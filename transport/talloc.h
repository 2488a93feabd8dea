/*
 * talloc.h - the transport layer's allocator variants (internal: hidden in
 * the library, never installed).
 *
 * Every heap allocation of transport/ goes through a struct urg_allocator
 * (urgi_malloc() and the rest, guest/urgi_common.h):
 * the transport's and the replay's come from their configs; captures, the
 * capture decoder and the pcap import have no config, so their public
 * functions use urg_allocator_default() and call the variants below, which
 * take one (the transport, the replay and the tests call these). Memory
 * that libc (fopen, fmemopen, getaddrinfo), libev and libpcap allocate for
 * themselves is theirs and does not come through here.
 */
#ifndef URG_TALLOC_H
#define URG_TALLOC_H

#include <string.h>

#include "urg_capture.h"
#include "urg_transport.h"
#include "urgi_common.h"

/* urg_capture_create(), urg_capture_open(), urg_capture_open_mem(): the
 * capture or reader, its buffer, come from a (NULL: libc); a copy of *a is
 * kept, so a itself need not outlive the call. */
int urgt_capture_create(const struct urg_allocator *a, const char *path, urg_capture **out);
int urgt_capture_open(const struct urg_allocator *a, const char *path, urg_capture_reader **out);
/* A capture written to memory (from a, at most max bytes: a record that
 * would go past it is refused whole, URG_ERR_CAPTURE; urg_capture_write_at()
 * also returns URG_ERR_NOMEM for it): 0, URG_ERR_INVALID (out NULL, max
 * under 8) or URG_ERR_NOMEM. urgt_capture_take_mem() ends it: its bytes
 * (from a; the caller frees them) to *data and *len, and frees c;
 * urg_capture_close() frees both. */
int urgt_capture_create_mem(const struct urg_allocator *a, size_t max, urg_capture **out);
void urgt_capture_take_mem(urg_capture *c, void **data, size_t *len);
int urgt_capture_open_mem(const struct urg_allocator *a, const void *data, size_t len,
                          urg_capture_reader **out);

/* urg_capture_decode() and urg_capture_decode_mem(): the readers, the
 * decoders and the table of hellos come from a. */
int urgt_capture_decode(const struct urg_allocator *a, const char *path,
                        int (*fn)(void *ctx, const struct urg_capture_packet *cp), void *ctx,
                        char *err, size_t errcap);
int urgt_capture_decode_mem(const struct urg_allocator *a, const void *data, size_t len,
                            int (*fn)(void *ctx, const struct urg_capture_packet *cp), void *ctx,
                            char *err, size_t errcap);

/* urg_capture_import_pcap(): the reassembly's segments and chunks, and the
 * capture written, come from a (libpcap's own buffers do not). */
int urgt_capture_import_pcap(const struct urg_allocator *alloc, const char *pcap_path,
                             const char *out_path, int host_port, char *err, size_t errcap);

/* urg_capture_export_pcap(): the reader and the packet buffer come from
 * alloc (libpcap's writer does not). */
int urgt_capture_export_pcap(const struct urg_allocator *alloc, const char *capture_path,
                             const char *pcap_path, int host_port, const uint32_t *segment_sizes,
                             size_t nsizes, char *err, size_t errcap);

#endif

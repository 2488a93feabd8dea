/*
 * packets.h - test support: valid random packets of any type, direction
 * and layout, and a field-by-field comparison. Both walk each type's row
 * (urg_type_info, urg_type_field in urg_codec.h): its fields, directions,
 * caps and data rule; only the values drawn are chosen here.
 */
#ifndef URG_TEST_PACKETS_H
#define URG_TEST_PACKETS_H

#include <stddef.h>
#include <stdint.h>

#include "urg_codec.h"

/* xorshift32; never seed with 0. */
uint32_t rnd(uint32_t *state);

/* The caps combinations that change a layout: 64-bit ids, device version,
 * ep_info (none / max_packet_size / + max_streams), 32-bit bulk length;
 * filter, disconnect ack and bulk receiving are always on. */
#define LAYOUT_VARIANTS 24
uint32_t layout_caps(int variant);

/* A hello with that version and one caps word. */
struct urg_packet hello_packet(const char *version, uint32_t caps);

enum { GEN_OK = 0, GEN_NO_DIR = -1, GEN_NO_CAP = -2 };

/* Fills *p with a valid packet of type travelling in dir under w. The
 * payload (if any) is written to buf (cap bytes, at least 70000 for big
 * bulk packets; smaller buffers give smaller payloads). Returns GEN_OK, or
 * GEN_NO_DIR / GEN_NO_CAP when no valid packet of that type exists there. */
int gen_packet(uint32_t type, enum urg_dir dir, const struct urg_wire *w, uint32_t *rng,
               struct urg_packet *p, uint8_t *buf, size_t cap);

/* 0 if a and b carry the same fields under w (only the fields on the wire),
 * else 1 with the first difference in why. */
int packet_diff(const struct urg_packet *a, const struct urg_packet *b, const struct urg_wire *w,
                char *why, size_t cap);

#endif

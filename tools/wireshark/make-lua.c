/*
 * make-lua.c - writes the Wireshark dissector (usbredir.lua) from its
 * template (usbredir.lua.in) and the engine's packet-type rows
 * (guest/packet_types.c), so that the dissector's table of types, fields,
 * layouts and names is made from the one the library uses, never kept
 * beside it.
 *
 *   make-lua TEMPLATE OUT
 *
 * The template's line "--@TABLES@" is replaced by a Lua table, USBREDIR:
 * each type's name, directions, caps, payload rule and fields (name, bytes
 * on the wire, count, the cap that brings it, its role), from
 * urg_type_info() and urg_type_field(); the names of caps, statuses,
 * speeds and endpoint types; the header sizes and the caps that decide
 * them; the limits. One field is not where its struct member is:
 * bulk_packet's length is 16 bits on the wire, its high 16 bits later
 * (length_high, with 32bits_bulk_length), as guest/type_fields.h lays it
 * out. Before writing, the table is checked against the codec: under every
 * combination of the 8 caps, the negotiation the table describes gives the
 * codec's layout (urg_wire_from_caps()), and each type's fields present
 * add up to urg_type_header_len() in each direction it travels; any
 * difference fails the build.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "type_fields.h"
#include "urg_codec.h"

#define NCAPS 8
#define MAX_FIELDS 16

struct wire_field {
    const char *name;
    int size, count, cap; /* bytes of one element on the wire; -1: always */
    const char *role;
};

static const char *role_name(int role)
{
    switch (role) {
    case URG_FIELD_ENDPOINT: return "endpoint";
    case URG_FIELD_STATUS: return "status";
    case URG_FIELD_LENGTH: return "length";
    case URG_FIELD_STREAM_ID: return "stream_id";
    case URG_FIELD_TEXT: return "text";
    default: return "";
    }
}

/* bulk_packet's fields as the wire has them (type_fields.h). */
#define BULK_WIRE(x, kind, m, off) { #m, SIZE_##kind, off },
#define SIZE_u8 1
#define SIZE_u16 2
#define SIZE_u32 4
static const struct {
    const char *name;
    int size, offset;
} bulk_wire[] = { FIELDS_BULK(BULK_WIRE, bulk) };

/* The fields of type on the wire, in order, into f; their number. */
static int wire_fields(uint32_t type, struct wire_field *f)
{
    struct urg_field uf;
    int n = 0, i, at = 0;
    for (i = 0; urg_type_field(type, i, &uf); i++) {
        if (n == MAX_FIELDS - 1) {
            fprintf(stderr, "make-lua: %s has over %d fields\n", urg_type_name(type), MAX_FIELDS);
            exit(1);
        }
        f[n].name = uf.name;
        f[n].size = uf.size;
        f[n].count = uf.count;
        f[n].cap = uf.cap;
        f[n].role = role_name(uf.role);
        if (type == URG_BULK_PACKET) {
            size_t k;
            int found = 0;
            for (k = 0; k < sizeof(bulk_wire) / sizeof(bulk_wire[0]); k++) {
                if (strcmp(bulk_wire[k].name, uf.name))
                    continue;
                if (bulk_wire[k].offset != at) {
                    fprintf(stderr, "make-lua: bulk_packet.%s is at %d, the list says %d\n",
                            uf.name, at, bulk_wire[k].offset);
                    exit(1);
                }
                f[n].size = bulk_wire[k].size;
                found = 1;
            }
            if (!found) {
                fprintf(stderr, "make-lua: bulk_packet.%s is not in FIELDS_BULK\n", uf.name);
                exit(1);
            }
        }
        at += f[n].size * f[n].count;
        n++;
    }
    if (type == URG_BULK_PACKET) {
        if (at != URGI_BULK_LENGTH_HIGH_AT) {
            fprintf(stderr, "make-lua: bulk_packet's length_high follows byte %d, not %d\n", at,
                    URGI_BULK_LENGTH_HIGH_AT);
            exit(1);
        }
        f[n] = (struct wire_field){ "length_high", 2, 1, URG_CAP_32BITS_BULK_LENGTH,
                                    "length_high" };
        n++;
    }
    return n;
}

/* The caps each cap needs to stay on after negotiation (urg_wire_from_caps
 * drops it without them): needs[c] is a mask. */
static void cap_needs(uint32_t needs[NCAPS])
{
    for (int c = 0; c < NCAPS; c++) {
        needs[c] = 0;
        for (int n = 0; n < NCAPS; n++) {
            uint32_t ours = URG_CAPS_ALL & ~URG_CAP_BIT(n);
            struct urg_wire w = urg_wire_from_caps(ours, URG_CAPS_ALL);
            if (n != c && !(w.caps & URG_CAP_BIT(c)))
                needs[c] |= URG_CAP_BIT(n);
        }
    }
}

/* The negotiation as the table describes it (the dissector's rule). */
static uint32_t negotiate(uint32_t a, uint32_t b, const uint32_t needs[NCAPS])
{
    uint32_t caps = a & b & URG_CAPS_ALL;
    for (int c = 0; c < NCAPS; c++)
        if ((needs[c] & caps) != needs[c])
            caps &= ~URG_CAP_BIT(c);
    return caps;
}

static int id64_cap(void)
{
    for (int c = 0; c < NCAPS; c++) {
        struct urg_wire w = urg_wire_from_caps(URG_CAP_BIT(c), URG_CAP_BIT(c));
        if (w.id64)
            return c;
    }
    fprintf(stderr, "make-lua: no cap gives 64-bit ids\n");
    exit(1);
}

/* The table against the codec, under every set of caps; exits on a
 * difference. */
static void check(const uint32_t needs[NCAPS], int id_cap)
{
    struct wire_field f[MAX_FIELDS];
    for (uint32_t c = 0; c <= URG_CAPS_ALL; c++) {
        struct urg_wire w = urg_wire_from_caps(c, URG_CAPS_ALL);
        uint32_t mine = negotiate(c, URG_CAPS_ALL, needs);
        if (mine != w.caps || (w.id64 != 0) != ((mine & URG_CAP_BIT(id_cap)) != 0)) {
            fprintf(stderr, "make-lua: caps 0x%02x: the codec negotiates 0x%02x (id64 %d), the "
                            "table 0x%02x\n", c, w.caps, w.id64, mine);
            exit(1);
        }
        for (int i = 0; i < URG_TYPE_COUNT; i++) {
            uint32_t type = urg_type_at(i);
            int n = wire_fields(type, f), sum = 0;
            for (int k = 0; k < n; k++)
                if (f[k].cap < 0 || (w.caps & URG_CAP_BIT(f[k].cap)))
                    sum += f[k].size * f[k].count;
            for (int d = URG_DIR_TO_HOST; d <= URG_DIR_TO_GUEST; d++) {
                int want = urg_type_header_len(&w, type, (enum urg_dir)d);
                if (want >= 0 && want != sum) {
                    fprintf(stderr, "make-lua: %s under caps 0x%02x: the codec's type header is "
                                    "%d bytes, the table's fields %d\n",
                            urg_type_name(type), w.caps, want, sum);
                    exit(1);
                }
            }
        }
    }
}

static void names(FILE *o, const char *what, const char *(*name)(int), const int *values, int n)
{
    fprintf(o, "  %s = {", what);
    for (int i = 0; i < n; i++)
        fprintf(o, " [%d] = \"%s\",", values[i], name(values[i]));
    fprintf(o, " },\n");
}

static const char *type_name_int(int t) { return urg_type_name((uint32_t)t); }

static void table(FILE *o, const uint32_t needs[NCAPS], int id_cap)
{
    static const int statuses[] = { 0, 1, 2, 3, 4, 5, 6 };
    static const int speeds[] = { URG_SPEED_LOW, URG_SPEED_FULL, URG_SPEED_HIGH, URG_SPEED_SUPER,
                                  URG_SPEED_UNKNOWN };
    static const int ep_types[] = { URG_EP_CONTROL, URG_EP_ISO, URG_EP_BULK, URG_EP_INTERRUPT,
                                    URG_EP_INVALID };
    int caps[NCAPS], types[URG_TYPE_COUNT];
    struct urg_wire w0 = { 0, 0 }, w64 = urg_wire_from_caps(URG_CAPS_ALL, URG_CAPS_ALL);
    struct wire_field f[MAX_FIELDS];

    for (int c = 0; c < NCAPS; c++)
        caps[c] = c;
    for (int i = 0; i < URG_TYPE_COUNT; i++)
        types[i] = (int)urg_type_at(i);
    fprintf(o, "-- Made by tools/wireshark/make-lua.c from the library's packet-type rows\n"
               "-- (guest/packet_types.c); edit those, not this table.\n"
               "local USBREDIR = {\n");
    fprintf(o, "  header_len = %d, header_len_id64 = %d, id64_cap = %d, ncaps = %d,\n",
            urg_header_len(&w0), urg_header_len(&w64), id_cap, NCAPS);
    fprintf(o, "  dir_to_host = %d, dir_to_guest = %d, -- enum urg_dir\n", URG_DIR_TO_HOST,
            URG_DIR_TO_GUEST);
    fprintf(o, "  to_host = %u, to_guest = %u, -- their bits in dirs and data_only\n",
            URG_DIR_BIT(URG_DIR_TO_HOST), URG_DIR_BIT(URG_DIR_TO_GUEST));
    fprintf(o, "  data_none = %d, data_own = %d, data_endpoint = %d,\n", URG_DATA_NONE,
            URG_DATA_OWN, URG_DATA_ENDPOINT);
    fprintf(o, "  max_packet_size = %u, max_bulk_length = %u, max_hello_caps_words = %u,\n"
               "  max_filter_length = %u,\n",
            URG_DEFAULT_MAX_PACKET_SIZE, URG_MAX_BULK_LENGTH, URG_MAX_HELLO_CAPS_WORDS,
            URG_MAX_FILTER_LENGTH);
    fprintf(o, "  -- a cap is dropped by the negotiation unless both sides also have these\n"
               "  cap_needs = {");
    for (int c = 0; c < NCAPS; c++)
        fprintf(o, " [%d] = 0x%02x,", c, needs[c]);
    fprintf(o, " },\n");
    names(o, "cap_names", urg_cap_name, caps, NCAPS);
    names(o, "type_names", type_name_int, types, URG_TYPE_COUNT);
    names(o, "status_names", urg_status_name, statuses, 7);
    names(o, "speed_names", urg_speed_name, speeds, 5);
    names(o, "ep_type_names", urg_ep_type_name, ep_types, 5);
    fprintf(o, "  types = {\n");
    for (int i = 0; i < URG_TYPE_COUNT; i++) {
        uint32_t type = urg_type_at(i);
        struct urg_type_info ti;
        int n = wire_fields(type, f);
        urg_type_info(type, &ti);
        fprintf(o,
                "    [%u] = { name = \"%s\", dirs = %u, caps = 0x%02x, data = %d, "
                "data_only = %u, in_endpoint = %s,\n      fields = {\n",
                type, urg_type_name(type), ti.dirs, ti.caps, ti.data, ti.data_only,
                ti.in_endpoint ? "true" : "false");
        for (int k = 0; k < n; k++)
            fprintf(o,
                    "        { name = \"%s\", size = %d, count = %d, cap = %d, role = \"%s\" },\n",
                    f[k].name, f[k].size, f[k].count, f[k].cap, f[k].role);
        fprintf(o, "      } },\n");
    }
    fprintf(o, "  },\n}\n");
}

int main(int argc, char **argv)
{
    uint32_t needs[NCAPS];
    char line[4096], tmp[4096];
    FILE *in, *out;
    int id_cap, done = 0;
    if (argc != 3) {
        fprintf(stderr, "usage: make-lua TEMPLATE OUT\n");
        return 2;
    }
    cap_needs(needs);
    id_cap = id64_cap();
    check(needs, id_cap);
    if (!(in = fopen(argv[1], "r"))) {
        perror(argv[1]);
        return 1;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
    if (!(out = fopen(tmp, "w"))) {
        perror(tmp);
        fclose(in);
        return 1;
    }
    while (fgets(line, sizeof(line), in)) {
        if (!strcmp(line, "--@TABLES@\n")) {
            table(out, needs, id_cap);
            done++;
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    if (fclose(out) || done != 1 || rename(tmp, argv[2])) {
        fprintf(stderr, "make-lua: %s: %s\n", argv[2],
                done != 1 ? "the template must have one line \"--@TABLES@\"" : "not written");
        remove(tmp);
        return 1;
    }
    return 0;
}

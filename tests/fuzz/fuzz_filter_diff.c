/*
 * fuzz_filter_diff.c - differential libFuzzer target: the filter string
 * parser and formatter against libusbredirparser's
 * (usbredirfilter_string_to_rules, usbredirfilter_rules_to_string).
 *
 * Input: token_sep NUL rule_sep NUL string (the string ends at the next NUL
 * or the end). With fewer than two NULs the separators are "," and "|" and
 * the string is the input up to its first NUL. Empty separators are
 * allowed (both sides must refuse them).
 *
 * Checked (abort on a difference, tests/diff/filter_diff.h): the same
 * verdict, the same count and rules, the same formatted string (ours of our
 * rules and of the reference's, the reference's of ours), and the same
 * again for the formatted string; counting (rules NULL) agrees, a short
 * array is refused with the whole count. The target links the reference;
 * the library never does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../diff/filter_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *z1 = memchr(data, 0, size), *z2 = NULL;
    char *buf, *ts = ",", *rs = "|", *str;
    struct fd_result res;
    buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (z1)
        z2 = memchr(z1 + 1, 0, size - (size_t)(z1 + 1 - data));
    if (z2) {
        ts = buf;
        rs = buf + (z1 + 1 - data);
        str = buf + (z2 + 1 - data);
    } else {
        str = buf;
    }
    if (fd_compare(str, ts, rs, &res)) {
        fprintf(stderr, "filter_diff: \"%s\" with \"%s\" and \"%s\": %s\n", str, ts, rs,
                res.why);
        abort();
    }
    free(buf);
    return 0;
}

/*
 * fuzz_filter.c - libFuzzer target for the usbredirfilter parser.
 *
 * Input: a filter string (any bytes; a copy is NUL-terminated at the first
 * NUL or the end), then, after the first NUL if any, bytes that describe a
 * device to check against the rules.
 *
 * Properties checked (abort on failure): a string that parses gives rules
 * that verify, format, and parse back to the same rules (allow as 0 or 1); counting (rules
 * NULL) gives the same count; a too-small rule array is refused with
 * URG_ERR_BUFFER; checking a device returns one of the four documented
 * results.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "urg_guest.h"

#define MAXRULES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct urg_filter_rule rules[MAXRULES], again[MAXRULES];
    static char text[MAXRULES * 64];
    struct urg_device dev;
    size_t n = 0, m = 0, k = 0, slen = 0;
    char *str;
    int rc, len;

    while (slen < size && data[slen])
        slen++;
    str = malloc(slen + 1);
    if (!str)
        return 0;
    memcpy(str, data, slen);
    str[slen] = 0;

    rc = urg_filter_parse(str, rules, MAXRULES, &n);
    if (rc != 0 && rc != URG_ERR_FILTER_SYNTAX && rc != URG_ERR_BUFFER)
        abort();
    /* Counting (no array) agrees with parsing: the same result, except that
     * it has no bound, and the same count. */
    if (urg_filter_parse(str, NULL, 0, &k) != (rc == URG_ERR_BUFFER ? 0 : rc) ||
        (rc != URG_ERR_FILTER_SYNTAX && k != n))
        abort();
    if (rc == 0) {
        if (n > MAXRULES || urg_filter_verify(rules, n) != 0)
            abort();
        if (n > 1 && urg_filter_parse(str, rules, n - 1, &m) != URG_ERR_BUFFER)
            abort();
        len = urg_filter_format(rules, n, text, sizeof(text));
        if (len < 0 || (size_t)len >= sizeof(text))
            abort();
        if (urg_filter_parse(text, again, MAXRULES, &m) != 0 || m != n)
            abort(); /* format and parse are inverse... */
        for (size_t i = 0; i < n; i++) /* ...but allow is formatted as 0 or 1 */
            if (rules[i].device_class != again[i].device_class ||
                rules[i].vendor_id != again[i].vendor_id ||
                rules[i].product_id != again[i].product_id ||
                rules[i].device_version_bcd != again[i].device_version_bcd ||
                !rules[i].allow != !again[i].allow || (again[i].allow & ~1))
                abort();

        /* A device from the bytes after the string. */
        memset(&dev, 0, sizeof(dev));
        if (slen + 1 < size) {
            const uint8_t *d = data + slen + 1;
            size_t dl = size - slen - 1;
            dev.device_class = d[0];
            dev.vendor_id = (uint16_t)(dl > 2 ? d[1] | d[2] << 8 : 0);
            dev.product_id = (uint16_t)(dl > 4 ? d[3] | d[4] << 8 : 0);
            dev.device_version_bcd = (uint16_t)(dl > 6 ? d[5] | d[6] << 8 : 0);
            dev.interface_count = dl > 7 ? d[7] % 33 : 0;
            for (uint32_t i = 0; i < dev.interface_count; i++) {
                size_t at = 8 + i * 3;
                dev.interface_class[i] = at < dl ? d[at] : 0;
                dev.interface_subclass[i] = at + 1 < dl ? d[at + 1] : 0;
                dev.interface_protocol[i] = at + 2 < dl ? d[at + 2] : 0;
            }
            for (unsigned flags = 0; flags < 4; flags++) {
                rc = urg_filter_check(rules, n, &dev, flags);
                if (rc != 0 && rc != URG_ERR_FILTER_DENIED && rc != URG_ERR_FILTER_NO_MATCH)
                    abort();
            }
        }
    }
    free(str);
    return 0;
}

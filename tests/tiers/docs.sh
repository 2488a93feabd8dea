#!/bin/sh
# docs.sh BUILD - keeps the docs true to the code (make check-docs; make
# check runs it): the man page renders without warnings and names every
# command and option the program's --help texts name; docs/transport.md
# names every function of the transport library's installed headers
# (urg_transport.h, urg_capture.h, urg_hcd_transport.h); and every function
# of the installed headers (the Makefile's PUBLIC_HEADERS) that returns a
# signed integer lists the error codes it returns.
#
# An error list: the comment that ends on the line right above the URG_API
# declaration has an item naming a code, a line
#      * - URG_ERR_NAME: when it is returned;
# (any indent before the star, one or more spaces after it), or says, for a
# function whose int is never an error code (a flag, a count, -1), that it
# "returns no error code" (any case, across line breaks).
#
# Needs BUILD/usbredir-guest built; groff (groff-base).
set -u
B=$1
TOOL=$B/usbredir-guest
MAN=docs/usbredir-guest.1
fail=0

warnings=$(groff -man -Tutf8 -ww -z "$MAN" 2>&1)
if [ -n "$warnings" ]; then
    echo "$MAN: groff warns: $warnings"
    fail=1
fi
commands=$("$TOOL" --help | awk '/^Commands:/ { on = 1; next } on && !NF { exit } on { print $1 }')
[ -n "$commands" ] || { echo "no commands in --help"; fail=1; }
for c in $commands; do
    grep -q "^\.B $c\( \|$\)" "$MAN" || { echo "$MAN does not describe the command $c"; fail=1; }
    for o in $("$TOOL" "$c" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        # in roff a - is written \-
        esc=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
        grep -q -- "$esc" "$MAN" || { echo "$MAN does not mention $c $o"; fail=1; }
    done
done
TR_HEADERS="transport/urg_transport.h transport/urg_capture.h transport/urg_hcd_transport.h"
for f in $(cat $TR_HEADERS | grep -o 'URG_API [^(]*(' | grep -o 'urg_[a-z0-9_]*' | sort -u); do
    grep -q "$f" docs/transport.md || { echo "docs/transport.md does not mention $f"; fail=1; }
done

# errlists FILE... prints FILE:LINE: NAME for each URG_API function that
# returns a signed integer and has no error list (above).
errlists() {
    awk '
    FNR == 1 { adjacent = 0; inside = 0; text = ""; items = 0 }
    inside {
        line = $0
        sub(/^[ \t]*\*+/, "", line)
        text = text " " line
        if ($0 ~ /^[ \t]*\*+[ \t]+- URG_ERR_[A-Z0-9_]+/)
            items++
        if (index($0, "*/")) { inside = 0; adjacent = 1 }
        next
    }
    index($0, "/*") {
        text = $0
        items = 0
        if (index(substr($0, index($0, "/*") + 2), "*/")) adjacent = 1
        else inside = 1
        next
    }
    /^URG_API[ \t]+(signed|int|long|short|ssize_t|int8_t|int16_t|int32_t|int64_t|intptr_t|enum[ \t]+urg_error)[ \t]+((int|long)[ \t]+)*urg_[a-z0-9_]*[ \t]*\(/ {
        name = $0
        sub(/[ \t]*\(.*/, "", name)
        sub(/.*[ \t]/, "", name)
        t = tolower(text)
        gsub(/[ \t]+/, " ", t)
        if (!adjacent || (!items && !index(t, "returns no error code")))
            print FILENAME ":" FNR ": " name
    }
    { adjacent = 0 }' "$@"
}
# The check, on a header made for it: it finds exactly its two functions
# without an error list.
found=$(errlists - <<'SAMPLE' | sed 's/.*: //' | tr '\n' ' '
/** Lists its errors. Returns 0, or:
 *  - URG_ERR_INVALID: x NULL. */
URG_API int urg_listed(int *x);
/**
 * Another list.
 * - URG_ERR_NOMEM: the allocator failed.
 */
URG_API int urg_listed_too(void);
/** A flag: 1 or 0. Returns no error
 *  code. */
URG_API int urg_flag(void);
/** Returns 0 or a negative error. */
URG_API int urg_unlisted(void);
/** Returns 0, or:
 *  - URG_ERR_INVALID: x NULL. */
URG_API int urg_listed_long(int *x,
                            int y);
URG_API int urg_below_another(void);
/** A name. */
URG_API const char *urg_name(int x);
URG_API uint32_t urg_count(void);
SAMPLE
)
if [ "$found" != "urg_unlisted urg_below_another " ]; then
    echo "the error-list check finds \"$found\" in its sample, not urg_unlisted and urg_below_another"
    fail=1
fi
HEADERS=$(awk '/^PUBLIC_HEADERS[ \t]*:?=/ { on = 1; sub(/^[^=]*=/, "") }
    on { more = sub(/\\$/, ""); printf "%s ", $0; if (!more) exit }' Makefile)
[ -n "$HEADERS" ] || { echo "no PUBLIC_HEADERS in the Makefile"; fail=1; }
missing=$(errlists $HEADERS)
if [ -n "$missing" ]; then
    echo "functions that return an int with no error list in the comment right above them"
    echo "(a line \" * - URG_ERR_NAME: when\", or \"returns no error code\"):"
    echo "$missing"
    fail=1
fi
[ $fail -eq 0 ] && echo "== docs: man page and transport guide cover every command, option and function; every int function of the installed headers lists its errors"
exit $fail

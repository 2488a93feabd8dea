#!/bin/sh
# docs.sh BUILD - keeps the docs true to the code (make check-docs; make
# check runs it): the man page renders without warnings and names every
# command and option the program's --help texts name; docs/transport.md
# names every function of the transport library's installed headers
# (urg_transport.h, urg_capture.h, urg_hcd_transport.h).
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
[ $fail -eq 0 ] && echo "== docs: man page and transport guide cover every command, option and function"
exit $fail

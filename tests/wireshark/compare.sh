#!/bin/sh
# compare.sh [--content] LUA TOOL CAPTURE PCAP [TSHARK_OPTION...] - the
# dissector's count of each packet type each way in PCAP equals what
# `usbredir-guest stats CAPTURE` counts (its "packet type" table: pkts out
# is guest -> host, pkts in host -> guest). PCAP holds the same session as
# CAPTURE: exported from it, or captured by tcpdump while the command
# recorded it.
#
# tshark runs in two passes (-2), so that every packet of a stream knows
# which side is the usb-host; each frame is one direction, and its
# usbredir.type values (one per packet, in the frame) take its first
# usbredir.direction. The TSHARK_OPTIONs say how to find the streams and
# the usb-host (-d tcp.port==P,usbredir; -o usbredir.host_ports:P). Every
# packet must have a direction, but with --content, where the usb-host is
# found by content alone: there a hello of a connection on which the host
# never spoke cannot be placed, so a packet without a direction may be a
# hello only; each type's total must still be equal, and its count each way
# no more than stats says.
#
# Needs tshark; HOME should be a folder of its own (no personal Wireshark
# plugins or preferences). WS_TYPE_NAMES may name a file of "NUMBER NAME"
# lines, the type names tshark -G values gives (else they are asked for).
# Prints one line; exits 1 on a difference.
set -u
content=0
if [ "${1:-}" = --content ]; then content=1; shift; fi
LUA=$1 TOOL=$2 CAPTURE=$3 PCAP=$4
shift 4
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$TOOL" stats "$CAPTURE" > "$TMP/stats" || { echo "$CAPTURE: stats failed"; exit 1; }
LUA_OPT=
[ -n "$LUA" ] && LUA_OPT="-Xlua_script:$LUA"
if [ -n "${WS_TYPE_NAMES:-}" ]; then
    cp "$WS_TYPE_NAMES" "$TMP/names"
else
    tshark -G values $LUA_OPT 2> /dev/null |
        awk -F '\t' '$1 == "V" && $2 == "usbredir.type" { print $3, $4 }' > "$TMP/names"
fi
[ -s "$TMP/names" ] || { echo "$PCAP: tshark does not know usbredir.type"; exit 1; }
# shellcheck disable=SC2086
tshark -2 $LUA_OPT -r "$PCAP" -Y usbredir -T fields -E occurrence=a -E aggregator=, \
    -e usbredir.direction -e usbredir.type "$@" > "$TMP/fields" 2> "$TMP/err"
rc=$?
if [ $rc -ne 0 ] || grep -q -i -e "lua error" -e "usbredir dissector error" "$TMP/err" "$TMP/fields"; then
    echo "$PCAP: tshark exit $rc: $(head -c 600 "$TMP/err")"
    exit 1
fi

awk -v content=$content -v pcap="$PCAP" -v capture="$CAPTURE" '
FILENAME == ARGV[1] { name[$1] = $2; next }
FILENAME == ARGV[2] {
    if ($0 == "packet type" || $1 == "packet" && $2 == "type") { on = 1; next }
    if (on && NF == 3) { want[$1, "out"] = $2; want[$1, "in"] = $3; types[$1] = 1 }
    next
}
{
    split($0, col, "\t")
    nd = split(col[1], dirs, ",")
    n = split(col[2], ts, ",")
    d = nd ? (dirs[1] == 0 ? "out" : "in") : "?"
    for (i = 1; i <= n; i++) {
        t = (ts[i] in name) ? name[ts[i]] : "type" ts[i]
        got[t, d]++
        types[t] = 1
        total++
    }
}
END {
    bad = 0
    for (t in types) {
        o = got[t, "out"] + 0; i = got[t, "in"] + 0; u = got[t, "?"] + 0
        wo = want[t, "out"] + 0; wi = want[t, "in"] + 0
        if (content) {
            if (o + i + u != wo + wi || o > wo || i > wi || (u && t != "hello")) {
                printf "%s: %s: tshark %d out, %d in, %d without a direction; stats %d out, %d in\n", pcap, t, o, i, u, wo, wi
                bad = 1
            }
            unplaced += u
        } else if (o != wo || i != wi || u) {
            printf "%s: %s: tshark %d out, %d in, %d without a direction; stats %d out, %d in\n", pcap, t, o, i, u, wo, wi
            bad = 1
        }
        ntypes++
    }
    if (!total) { printf "%s: tshark shows no usbredir packet\n", pcap; bad = 1 }
    if (!bad)
        printf "%s: %d packets of %d types, each type each way as stats counts in %s%s\n", pcap, total, ntypes, capture, content ? " (" unplaced + 0 " hellos without a direction)" : ""
    exit bad
}' "$TMP/names" "$TMP/stats" "$TMP/fields"

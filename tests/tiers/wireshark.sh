#!/bin/sh
# wireshark.sh BUILD - the Wireshark tier (make check-wireshark; make check
# runs it): the dissector BUILD/wireshark/usbredir.lua (tools/wireshark/,
# docs/wireshark.md) in tshark.
#
# * Every fixture (fixtures/*.urgcap, the real usbredirect's real-*
#   among them), exported to pcap by `usbredir-guest export`: tshark's
#   count of each packet type each way equals `usbredir-guest stats`
#   (tests/wireshark/compare.sh), once with the usb-host found by its port
#   (-o usbredir.host_ports:4000), once with the TCP payload cut into
#   segments of 1, 7 and 1000 bytes in turn (reassembly) and the usb-host
#   found by what it sends; and one found by the heuristic (a stream that
#   starts with a hello, on a port no dissector claims), one by Decode As
#   (-d tcp.port==5000,usbredir, a port another dissector claims).
# * tests/wireshark/cases.c's captures: layouts (every type in every
#   direction under the 24 caps layouts, the guest or the host having the
#   fewer caps, and bulk_streams negotiated away) compared with stats as
#   above, cut and whole, and every field of every packet compared with
#   what was written; odd (a guest that speaks before the host's hello, a
#   stream captured without its hellos) field by field.
# * Hostile streams - the fuzz corpora's files (tests/fuzz/corpus/recv,
#   decoder) after a hello each way and alone, random bytes, headers with
#   random types and lengths - whole and cut, with the whole tree built
#   (-V): tshark exits 0, no "Lua Error" and no "usbredir dissector error"
#   (an error the dissector caught), and the expert infos for unknown
#   types, short packets, lengths over the limit, stray data and text
#   without its NUL do appear.
#
# Needs tshark (Wireshark 4.0 or later), the command, the dissector and
# BUILD/tests/wireshark-cases built. tshark runs with HOME in a temporary
# folder (no personal plugins or preferences); a usbredir dissector
# installed in Wireshark's global plugin folder must be this one (it is
# then used, as -X lua_script would load a second copy).
set -u
B=$1
case $B in /*) ABS=$B ;; *) ABS=$(pwd -P)/$B ;; esac
TOOL=$ABS/usbredir-guest
LUA=$ABS/wireshark/usbredir.lua
CASES=$ABS/tests/wireshark-cases
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
HOME=$TMP/home
export HOME
mkdir -p "$HOME"
start=$(date +%s)
fail=0
bad() { echo "FAIL: $*"; fail=1; }

command -v tshark > /dev/null || { echo "FAIL: tshark is not installed"; exit 1; }
# A copy installed globally is loaded by every tshark: it must be this one.
LUA=$(tests/wireshark/lua-option.sh "$LUA") || { echo "FAIL: see above"; exit 1; }
LUA_OPT=
[ -n "$LUA" ] && LUA_OPT="-Xlua_script:$LUA"
# The names of the types, once (tshark -G values takes a while).
tshark -G values $LUA_OPT 2> /dev/null |
    awk -F '\t' '$1 == "V" && $2 == "usbredir.type" { print $3, $4 }' > "$TMP/type-names"
WS_TYPE_NAMES=$TMP/type-names
export WS_TYPE_NAMES
compare() { tests/wireshark/compare.sh "$@" || fail=1; }

# ---------------------------------------------------------------- fixtures
n=0
for f in fixtures/*.urgcap; do
    name=$(basename "$f" .urgcap)
    "$TOOL" export "$f" "$TMP/$name.pcap" || bad "export $f"
    "$TOOL" export --segments 1,7,1000 "$f" "$TMP/$name-cut.pcap" || bad "export --segments $f"
    compare "$LUA" "$TOOL" "$f" "$TMP/$name.pcap" -o usbredir.host_ports:4000
    compare --content "$LUA" "$TOOL" "$f" "$TMP/$name-cut.pcap"
    n=$((n + 1))
done
[ $n -ge 12 ] || bad "only $n fixtures"

# ---------------------------------------------------------------- ports
# A hello found by the heuristic on a port nobody claims; Decode As on a
# port another dissector claims (5000: RSL), the heuristic off.
f=fixtures/keyboard-hid.urgcap
"$TOOL" export --host-port 47000 "$f" "$TMP/heuristic.pcap" || bad "export --host-port 47000"
"$TOOL" export --host-port 5000 "$f" "$TMP/decode-as.pcap" || bad "export --host-port 5000"
compare --content "$LUA" "$TOOL" "$f" "$TMP/heuristic.pcap"
compare "$LUA" "$TOOL" "$f" "$TMP/decode-as.pcap" --disable-heuristic usbredir_tcp \
    -d tcp.port==5000,usbredir -o usbredir.host_ports:5000

# ---------------------------------------------------------------- every type, every layout
"$CASES" write "$TMP" || bad "cases write"
"$CASES" fields > "$TMP/fields" || bad "cases fields"
set -- $(sed 's/^/-e /' "$TMP/fields")
for c in layouts odd; do
    "$TOOL" export "$TMP/$c.urgcap" "$TMP/$c.pcap" || bad "export $c"
    # shellcheck disable=SC2086
    tshark -2 $LUA_OPT -r "$TMP/$c.pcap" -o usbredir.host_ports:4000 -Y usbredir -T fields \
        -E occurrence=a -E aggregator=, "$@" > "$TMP/$c.out" 2> "$TMP/$c.err" ||
        bad "tshark on $c: $(head -c 400 "$TMP/$c.err")"
    "$CASES" check "$c" "$TMP/$c.out" || fail=1
done
"$TOOL" export --segments 1,7,1000 "$TMP/layouts.urgcap" "$TMP/layouts-cut.pcap" ||
    bad "export layouts"
compare "$LUA" "$TOOL" "$TMP/layouts.urgcap" "$TMP/layouts.pcap" -o usbredir.host_ports:4000
compare --content "$LUA" "$TOOL" "$TMP/layouts.urgcap" "$TMP/layouts-cut.pcap"

# ---------------------------------------------------------------- hostile
"$CASES" hostile "$TMP/hostile.urgcap" tests/fuzz/corpus/recv/* tests/fuzz/corpus/decoder/* ||
    bad "cases hostile"
"$TOOL" export "$TMP/hostile.urgcap" "$TMP/hostile.pcap" || bad "export hostile"
"$TOOL" export --segments 1,7,1000,3 "$TMP/hostile.urgcap" "$TMP/hostile-cut.pcap" ||
    bad "export hostile --segments"
for p in hostile hostile-cut; do
    # shellcheck disable=SC2086
    tshark -2 -V $LUA_OPT -r "$TMP/$p.pcap" > "$TMP/$p.txt" 2>&1
    rc=$?
    [ $rc -eq 0 ] || bad "tshark on $p exits $rc"
    if grep -q -i -e "lua error" -e "usbredir dissector error" "$TMP/$p.txt"; then
        bad "$p: $(grep -i -m 3 -e "lua error" -e "usbredir dissector error" "$TMP/$p.txt")"
    fi
    for x in "unknown packet type" "bytes after the header, its type header is" \
        "over the protocol's limit" "carries no data" "the version does not end with a NUL" \
        "the filter string does not end with a NUL" "bytes after the filter string's NUL"; do
        grep -q "$x" "$TMP/$p.txt" || bad "$p: no \"$x\" in tshark's output"
    done
    echo "$p: $(grep -c "^USB redirection protocol" "$TMP/$p.txt") usbredir packets," \
        "$(grep -c "Expert Info" "$TMP/$p.txt") expert infos, no Lua error"
done

end=$(date +%s)
if [ $fail -eq 0 ]; then
    echo "== wireshark: $n fixtures, every type and layout, hostile streams: the dissector" \
        "agrees with usbredir-guest ($((end - start)) s)"
fi
exit $fail

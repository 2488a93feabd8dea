#!/bin/sh
# run.sh BUILD - make bench: the codec benchmark (tests/bench/bench_codec.c)
# natively for wall time, then each workload and implementation alone under
# callgrind for instructions per packet (repeatable where time is not).
# Writes BUILD/bench/codec.md (a markdown table) and prints it.
set -eu
B=$1
BIN=$B/bench/bench_codec
OUT=$B/bench
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
command -v valgrind > /dev/null || { echo "bench: valgrind is needed" >&2; exit 1; }

"$BIN" > "$TMP/wall"   # WORKLOAD IMPL N NS_PER_PACKET MB_PER_S (best of 5)
{
    echo "| workload | impl | packets | ns/packet | MB/s | instructions/packet |"
    echo "|---|---|---:|---:|---:|---:|"
    while read -r w i n ns mbs; do
        valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$TMP/cg" \
            "$BIN" "$w" "$i" > /dev/null 2>&1
        ir=$(awk '/^summary:/ {print $2}' "$TMP/cg")
        case $mbs in 0.0) mbs="-" ;; esac
        printf '| %s | %s | %s | %s | %s | %s |\n' "$w" "$i" "$n" "$ns" "$mbs" "$((ir / n))"
    done < "$TMP/wall"
} > "$OUT/codec.md"
cat "$OUT/codec.md"
echo "bench: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)"

#!/bin/sh
# run.sh BUILD - make bench: the codec benchmark (tests/bench/bench_codec.c)
# natively for wall time, then each workload and implementation alone under
# callgrind for instructions per packet (repeatable where time is not); then
# the end-to-end benchmark (tests/bench/bench_e2e.c) over TCP and a Unix
# socket, throughput and control round trips; then the scale runs
# (tests/bench/bench_scale.c). Writes BUILD/bench/codec.md, e2e.md, rtt.md,
# scale.md (markdown tables) and
# throughput.png (gnuplot, when installed), and prints the tables.
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

# End to end: bulk IN from a fast usb-host (libusbredirparser, host role),
# K URBs of S bytes outstanding, 2 s after 0.3 s of warm-up.
E2E=$B/bench/bench_e2e
SECS=${BENCH_SECONDS:-2}
{
    echo "| socket | impl | outstanding | URB size | MB/s |"
    echo "|---|---|---:|---:|---:|"
    for sock in tcp unix; do
        raw=$("$E2E" $sock raw 1 65536 "$SECS")
        echo "| $sock | raw | - | - | $raw |"
        for size in 16384 65536; do
            for k in 1 8 32; do
                for impl in urg ref; do
                    echo "| $sock | $impl | $k | $size | $("$E2E" $sock $impl $k $size "$SECS") |"
                done
            done
        done
        echo "$sock $raw" > "$TMP/raw-$sock"
    done
} > "$OUT/e2e.md"
cat "$OUT/e2e.md"

# Control round trips: 20,000 GET_DESCRIPTOR(18) one at a time; raw is a
# ping-pong of the same sizes with no protocol.
{
    echo "| socket | impl | p50 µs | p99 µs |"
    echo "|---|---|---:|---:|"
    for sock in tcp unix; do
        for impl in urg ref raw; do
            set -- $("$E2E" $sock rtt-$impl 20000)
            echo "| $sock | $impl | $1 | $2 |"
        done
    done
} > "$OUT/rtt.md"
cat "$OUT/rtt.md"

# Scale: one control request and its reply with N-1 others outstanding;
# memory per pending URB; 256 devices on one loop.
SCALE=$B/bench/bench_scale
{
    echo "| outstanding | ns/request | instructions/request |"
    echo "|---:|---:|---:|"
    for n in 1 10 100 1000 10000 100000; do
        set -- $("$SCALE" cost $n)
        valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$TMP/cg" \
            "$SCALE" cost $n > /dev/null 2>&1
        echo "| $n | $2 | $(($(awk '/^summary:/ {print $2}' "$TMP/cg") / 10000)) |"
    done
    echo
    "$SCALE" memory
    echo
    "$SCALE" devices
} > "$OUT/scale.md"
cat "$OUT/scale.md"

# The plot: throughput against outstanding URBs, 64 KiB, TCP.
if command -v gnuplot > /dev/null; then
    raw=$(cut -d' ' -f2 "$TMP/raw-tcp")
    for impl in urg ref; do
        awk -F'|' -v i=" $impl " '$2 == " tcp " && $3 == i && $5 ~ /65536/ {print $4, $6}' \
            "$OUT/e2e.md" > "$TMP/$impl.dat"
    done
    printf '1 %s\n8 %s\n32 %s\n' "$raw" "$raw" "$raw" > "$TMP/raw.dat"
    gnuplot <<PLOT
set terminal png size 800,500
set output "$OUT/throughput.png"
set title "Bulk IN over loopback TCP, 64 KiB URBs"
set xlabel "outstanding URBs"
set ylabel "MB/s"
set logscale x 2
set xtics (1, 8, 32)
set yrange [0:*]
set key bottom right
plot "$TMP/urg.dat" with linespoints title "usbredir-guest", \
     "$TMP/ref.dat" with linespoints title "libusbredirparser guest", \
     "$TMP/raw.dat" with lines dashtype 2 title "raw socket (no protocol)"
PLOT
    echo "bench: plot in $OUT/throughput.png"
else
    echo "bench: no gnuplot (apt-get install gnuplot-nox): no plot"
fi
echo "bench: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)"

#!/bin/sh
# run.sh BUILD - make bench: the codec benchmark (tests/bench/bench_codec.c)
# natively for wall time, then each workload and implementation alone under
# callgrind for instructions per packet (repeatable where time is not); then
# the end-to-end benchmark (tests/bench/bench_e2e.c) over TCP and a Unix
# socket, throughput and control round trips (against the parser host and
# the writev host, beside raw's ping-pong blocking and on a libev loop;
# with the CPU time per round trip, and the system calls and the guest's
# instructions per round trip under strace and callgrind); then the scale
# runs (tests/bench/bench_scale.c). Writes BUILD/bench/codec.md, e2e.md,
# rtt.md, scale.md (markdown tables) and throughput.png (gnuplot, when
# installed), and prints the tables.
#
# BENCH_PARTS: which of "codec e2e rtt scale" to run (all by default).
# BENCH_CPUS=1: every end-to-end and round-trip process on CPU 0
# (taskset -c 0), the host and the guest sharing one core.
# BENCH_HOST_MALLOC=default: the fast host keeps glibc's malloc thresholds
# (tests/bench/fasthost.h).
set -eu
B=$1
part() {
    case " ${BENCH_PARTS:-codec e2e rtt scale} " in *" $1 "*) return 0 ;; esac
    return 1
}
PIN=
if [ "${BENCH_CPUS:-}" = 1 ]; then PIN="taskset -c 0"; fi
BIN=$B/bench/bench_codec
OUT=$B/bench
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
command -v valgrind > /dev/null || { echo "bench: valgrind is needed" >&2; exit 1; }
# (strace, for the round trips' system calls, is optional: "-" without it)

if part codec; then
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
fi

# End to end: bulk IN from a fast usb-host (libusbredirparser, host role),
# K URBs of S bytes outstanding, SECS s after 0.3 s of warm-up; raw is the
# same pair with no protocol, rawcopy the host copying each 64 KiB first as
# the parser does; urg-wv and ref-wv the two guests against the writev host
# (no parser after the handshake), at 32 x 64 KiB; rawreq the protocol's
# traffic with no protocol (26-byte requests, 32 outstanding, each answered
# with 28 bytes and 64 KiB: the system calls any guest needs). Every configuration runs
# REPEAT times, the runs interleaved (round r of all of them, then round
# r+1), so that a slow moment of the machine falls on all; the tables give
# the median, min and max, and the medians of: the CPU use of the host and
# the guest process over the measured seconds (% of one CPU: 100 is a core
# kept busy), the host's minor page faults per GB, and the guest's CPU
# seconds per GB.
E2E=$B/bench/bench_e2e
SECS=${BENCH_SECONDS:-1}
REPEAT=${BENCH_REPEAT:-5}
if part e2e; then
r=0
while [ $r -lt "$REPEAT" ]; do
    r=$((r + 1))
    for sock in tcp unix; do
        for impl in raw rawcopy; do
            echo "$sock $impl - - $($PIN "$E2E" $sock $impl 1 65536 "$SECS")"
        done
        for impl in urg-wv ref-wv rawreq; do
            echo "$sock $impl 32 65536 $($PIN "$E2E" $sock $impl 32 65536 "$SECS")"
        done
        for size in 16384 65536; do
            for k in 1 8 32; do
                for impl in urg ref; do
                    echo "$sock $impl $k $size $($PIN "$E2E" $sock $impl $k $size "$SECS")"
                done
            done
        done
    done
done > "$TMP/e2e-runs"
cp "$TMP/e2e-runs" "$OUT/e2e-runs.txt"
# median (middle of the sorted runs), min, max per configuration, in the
# order first run
awk 'function sort(a, c,   i, j, t) {
        for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
     }
     function med(a, c) { return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 }
     { k = $1 " " $2 " " $3 " " $4; if (!(k in n)) order[++m] = k; n[k]++
       v[k, n[k]] = $5; h[k, n[k]] = $6; g[k, n[k]] = $7; f[k, n[k]] = $8
       e[k, n[k]] = $5 > 0 ? 10 * $7 / $5 : 0 }   # guest CPU s per GB
     END {
        for (i = 1; i <= m; i++) {
            k = order[i]; c = n[k]
            for (a = 1; a <= c; a++) {
                s[a] = v[k, a] + 0; hs[a] = h[k, a] + 0; gs[a] = g[k, a] + 0
                fs[a] = f[k, a] + 0; es[a] = e[k, a] + 0
            }
            sort(s, c); sort(hs, c); sort(gs, c); sort(fs, c); sort(es, c)
            print k, med(s, c), s[1], s[c], med(hs, c), med(gs, c), med(fs, c), med(es, c)
        }
     }' "$TMP/e2e-runs" > "$TMP/e2e-med"   # SOCK IMPL K SIZE MEDIAN MIN MAX HOST% GUEST% FAULTS/GB GUEST-S/GB
{
    echo "| socket | impl | outstanding | URB size | MB/s (median of $REPEAT) | min | max | host CPU % | guest CPU % | host faults/GB | guest CPU s/GB |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk '{ printf "| %s | %s | %s | %s | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f | %.3f |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }' \
        "$TMP/e2e-med"
    echo
    echo "| socket | impl (writev host) | MB/s | % of raw | guest CPU s/GB | / raw reader's | / rawreq's |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    awk '$2 == "raw" { raw[$1] = $5; rawe[$1] = $11 }
         $2 == "rawreq" { reqe[$1] = $11 }
         $2 ~ /-wv$/ || $2 == "rawreq" { line[++m] = $0 }
         END {
            for (i = 1; i <= m; i++) {
                split(line[i], x, " ")
                printf "| %s | %s | %.1f | %.0f%% | %.3f | %.2f | %.2f |\n", x[1], x[2], x[5],
                    100 * x[5] / raw[x[1]], x[11], (rawe[x[1]] > 0 ? x[11] / rawe[x[1]] : 0),
                    (reqe[x[1]] > 0 ? x[11] / reqe[x[1]] : 0)
            }
         }' "$TMP/e2e-med"
    echo
    echo "| socket | outstanding | URB size | urg / ref | urg / raw | urg / rawcopy | runs urg > ref |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    # Per run: was the library above the reference in the same round?
    awk -v R="$REPEAT" 'NR == FNR { if ($2 == "raw" || $2 == "rawcopy") base[$1, $2] = $5
                                     else med[$1, $2, $3, $4] = $5; next }
         $2 == "urg" { u[$1, $3, $4, ++cu[$1, $3, $4]] = $5; key[++m] = $1 SUBSEP $3 SUBSEP $4 }
         $2 == "ref" { f[$1, $3, $4, ++cf[$1, $3, $4]] = $5 }
         END {
            for (i = 1; i <= m; i++) {
                if (seen[key[i]]++) continue
                split(key[i], x, SUBSEP); s = x[1]; k = x[2]; z = x[3]; above = 0
                for (j = 1; j <= cu[s, k, z]; j++) above += u[s, k, z, j] > f[s, k, z, j]
                printf "| %s | %s | %s | %.2f | %.0f%% | %.0f%% | %d of %d |\n", s, k, z,
                    med[s, "urg", k, z] / med[s, "ref", k, z], 100 * med[s, "urg", k, z] / base[s, "raw"],
                    100 * med[s, "urg", k, z] / base[s, "rawcopy"], above, cu[s, k, z]
            }
         }' "$TMP/e2e-med" "$TMP/e2e-runs"
} > "$OUT/e2e.md"
cat "$OUT/e2e.md"
awk '$2 == "raw" { print $1, $5 }' "$TMP/e2e-med" | while read -r sock v; do
    echo "$sock $v" > "$TMP/raw-$sock"
done
fi

# Control round trips: 20,000 GET_DESCRIPTOR(18) one at a time, REPEAT
# times, interleaved; raw is a ping-pong of the same sizes with no protocol
# (its host: one read, one write per round trip). urg and ref against the
# parser host (libusbredirparser parses each request and builds each
# reply, as a real usbredirect does), urg-wv and ref-wv against the writev
# host (a reply encoded once, the id copied in: one read, one writev per
# round trip, as raw's host), where the difference to raw is the guest's;
# raw-ev is raw's ping-pong on a libev loop (what waiting on an event loop
# costs, with no protocol). The table gives the median of the runs' p50s
# and of their p99s, their ratios to raw's, the medians of the guest's and
# the host's CPU time per round trip and of the guest's time waiting for a
# CPU (/proc/PID/schedstat: how loaded the machine was), and three counts
# that do not depend on the machine's load: the guest's and the host's
# system calls per round trip (strace -ff, the difference between 3,000
# and 1,000 round trips over 2,000) and the guest's instructions per round
# trip (callgrind, 6,000 against 1,000, the sort of the latencies left
# out).
rtt_impls="urg ref urg-wv ref-wv raw-ev raw"
# sys SOCK IMPL: "GUEST HOST" system calls per round trip, or "- -"
rtt_sys() {
    if ! command -v strace > /dev/null; then echo "- -"; return; fi
    for n in 1000 3000; do
        mkdir -p "$TMP/st$n"
        rm -f "$TMP/st$n"/*
        $PIN strace -ff -o "$TMP/st$n/t" "$E2E" "$1" "rtt-$2" $n > /dev/null
    done
    for who in guest host; do
        for n in 1000 3000; do
            # the guest is the process strace started (its execve)
            g=$(grep -l '^execve(' "$TMP/st$n"/t.*)
            if [ $who = guest ]; then f=$g; else f=$(ls "$TMP/st$n"/t.* | grep -vx "$g"); fi
            grep -c '^[a-z_0-9]*(' "$f" || true
        done | { read -r a; read -r b; printf '%s ' "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b - a) / 2000 }')"; }
    done
    echo
}
# ins SOCK IMPL: the guest's instructions per round trip
rtt_ins() {
    for n in 1000 6000; do
        valgrind --tool=callgrind --callgrind-out-file="$TMP/cg$n" "$E2E" "$1" "rtt-$2" $n \
            > /dev/null 2>&1
    done
    for n in 1000 6000; do
        callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$TMP/cg$n" 2>/dev/null | awk '
            /PROGRAM TOTALS/ { gsub(",", "", $1); t = $1 }
            /msort.c:qsort / { gsub(",", "", $1); s += $1 }
            END { print t - s }'
    done | { read -r a; read -r b; echo $(((b - a) / 5000)); }
}
if part rtt; then
r=0
while [ $r -lt "$REPEAT" ]; do
    r=$((r + 1))
    for sock in tcp unix; do
        for impl in $rtt_impls; do
            echo "$sock $impl $($PIN "$E2E" $sock rtt-$impl 20000)"
        done
    done
done > "$TMP/rtt-runs"
cp "$TMP/rtt-runs" "$OUT/rtt-runs.txt"
for sock in tcp unix; do
    for impl in $rtt_impls; do
        echo "$sock $impl $(rtt_sys $sock $impl) $(rtt_ins $sock $impl)"
    done
done > "$TMP/rtt-counts"   # SOCK IMPL GUEST-SYSCALLS HOST-SYSCALLS GUEST-INSTRUCTIONS
{
    echo "| socket | impl | host | p50 µs (median of $REPEAT) | p99 µs (median of $REPEAT) | p50 / raw | p99 / raw | guest CPU µs/rt | host CPU µs/rt | guest wait µs/rt | guest syscalls/rt | host syscalls/rt | guest instructions/rt |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk 'function med(a, c,   i, j, t) {
            for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
         }
         NR == FNR { cnt[$1 " " $2] = sprintf("%s | %s | %s", $3, $4, $5); next }
         { k = $1 " " $2; if (!(k in n)) order[++m] = k; n[k]++; p50[k, n[k]] = $3; p99[k, n[k]] = $4
           gc[k, n[k]] = $5; hc[k, n[k]] = $6; gw[k, n[k]] = $7 }
         END {
            for (i = 1; i <= m; i++) {
                k = order[i]
                for (j = 1; j <= n[k]; j++) { a[j] = p50[k, j] + 0; b[j] = p99[k, j] + 0 }
                r50[k] = med(a, n[k]); r99[k] = med(b, n[k])
                for (j = 1; j <= n[k]; j++) { a[j] = gc[k, j] + 0; b[j] = hc[k, j] + 0 }
                rgc[k] = med(a, n[k]); rhc[k] = med(b, n[k])
                for (j = 1; j <= n[k]; j++) a[j] = gw[k, j] + 0
                rgw[k] = med(a, n[k])
            }
            for (i = 1; i <= m; i++) {
                k = order[i]; split(k, x, " "); raw = x[1] " raw"
                host = x[2] ~ /^raw/ ? "ping-pong" : x[2] ~ /-wv$/ ? "writev" : "parser"
                printf "| %s | %s | %s | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |\n", x[1], x[2],
                    host, r50[k], r99[k], r50[k] / r50[raw], r99[k] / r99[raw], rgc[k], rhc[k], rgw[k], cnt[k]
            }
         }' "$TMP/rtt-counts" "$TMP/rtt-runs"
} > "$OUT/rtt.md"
cat "$OUT/rtt.md"
fi

# Scale: one control request and its reply with N-1 others outstanding;
# memory per pending URB; 256 devices on one loop.
SCALE=$B/bench/bench_scale
if part scale; then
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
fi

# The plot: throughput against outstanding URBs, 64 KiB, TCP.
if ! part e2e; then
    :
elif command -v gnuplot > /dev/null; then
    raw=$(cut -d' ' -f2 "$TMP/raw-tcp")
    for impl in urg ref; do
        awk -F'|' -v i=" $impl " '$2 == " tcp " && $3 == i && $5 ~ /65536/ {print $4, $6}' \
            "$OUT/e2e.md" > "$TMP/$impl.dat"
    done
    printf '1 %s\n8 %s\n32 %s\n' "$raw" "$raw" "$raw" > "$TMP/raw.dat"
    rawcopy=$(awk '$1 == "tcp" && $2 == "rawcopy" { print $5 }' "$TMP/e2e-med")
    printf '1 %s\n8 %s\n32 %s\n' "$rawcopy" "$rawcopy" "$rawcopy" > "$TMP/rawcopy.dat"
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
     "$TMP/raw.dat" with lines dashtype 2 title "raw socket (no protocol)", \
     "$TMP/rawcopy.dat" with lines dashtype 3 title "raw, the host copying each 64 KiB first"
PLOT
    echo "bench: plot in $OUT/throughput.png"
else
    echo "bench: no gnuplot (apt-get install gnuplot-nox): no plot"
fi
echo "bench: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)"

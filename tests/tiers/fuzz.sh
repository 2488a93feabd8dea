#!/bin/sh
# fuzz.sh FUZZ_BUILD SECONDS TARGET... - each libFuzzer target for SECONDS
# (make check-fuzz: CHECK_FUZZ_SECONDS; make fuzz: FUZZ_SECONDS;
# docs/robustness.md), on a copy of its committed seed corpus
# (tests/fuzz/corpus/NAME for TARGET fuzz_NAME, and the regression inputs
# of tests/fuzz/regressions/NAME): new inputs stay in
# FUZZ_BUILD/corpus-NAME, the committed corpus is not changed. A crash
# leaves FUZZ_BUILD/crash-NAME-*, prints the end of FUZZ_BUILD/fuzz-NAME.log
# and fails.
#
# Needs the targets built (clang -fsanitize=fuzzer; the Makefile builds
# them in build-fuzz).
set -eu
FB=$1
S=$2
shift 2
for f in "$@"; do
    n=$(basename "$f" | sed 's/^fuzz_//')
    rm -rf "$FB/corpus-$n" && mkdir -p "$FB/corpus-$n"
    cp tests/fuzz/corpus/"$n"/* "$FB/corpus-$n/"
    # inputs that once found a bug, kept by hand (make corpus rebuilds
    # tests/fuzz/corpus and never touches them)
    if [ -d tests/fuzz/regressions/"$n" ]; then
        cp tests/fuzz/regressions/"$n"/* "$FB/corpus-$n/"
    fi
    echo "== fuzz $n for $S s"
    "$f" -max_total_time="$S" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$FB/crash-$n-" "$FB/corpus-$n" \
        2> "$FB/fuzz-$n.log" || { tail -n 60 "$FB/fuzz-$n.log"; exit 1; }
    grep -E '^(Done|stat::number_of_executed_units)' "$FB/fuzz-$n.log"
done

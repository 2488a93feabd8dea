#!/bin/sh
# tsan.sh - the tests that use threads, built with clang's ThreadSanitizer
# (the Makefile's TSAN=1 flags) in build-tsan and run there; any report
# fails at once (halt_on_error) (make check-tsan):
#   test_queue         the device's command queue, rule by rule
#   test_queue_stress  4 threads submitting and cancelling at random
#                      through the queue while the loop runs on its own
#                      thread, URG_QUEUE_STRESS_URBS URBs (1,000,000 here)
#                      each completed exactly once, in both completion
#                      modes (about 18 s on 2 CPUs)
# libev is not built with TSan: its own accesses are not seen (only what
# the library and the tests do around it); the queue does not rely on
# libev for ordering (its lock does).
#
# Needs clang and its sanitizer runtime (libclang-rt-14-dev); MAKE, the
# make to run (the Makefile passes its own). setarch (util-linux) runs the
# tests without address-space randomisation where it can: TSan's fixed
# memory layout does not fit every kernel's randomised one.
set -eu
B=build-tsan
BINS="$B/tests/test_queue $B/tests/test_queue_stress"
# shellcheck disable=SC2086
${MAKE:-make} --no-print-directory $BINS BUILD=$B CC=clang TSAN=1
TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}"
URG_QUEUE_STRESS_URBS=${URG_QUEUE_STRESS_URBS:-1000000}
export TSAN_OPTIONS URG_QUEUE_STRESS_URBS
NORAND=""
if setarch "$(uname -m)" -R true 2>/dev/null; then
    NORAND="setarch $(uname -m) -R"
fi
for t in $BINS; do
    echo "== tsan $t"
    $NORAND "$t"
done
echo "== all tests passed under tsan in $B"

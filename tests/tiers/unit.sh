#!/bin/sh
# unit.sh BUILD - every test binary, the examples, the command's tests and
# the USB/IP server's test, each under RUNNER when one is given (make
# run-tests and check-unit; valgrind.sh and, through run-tests, asan.sh run
# it too). Fails on the first failure, after printing its output.
#
# Needs the tests built in BUILD (make tests BUILD=...), and from the
# environment (the Makefile's run-tests sets them):
#   TEST_BINS    the test binaries (cmocka), run in this order
#   EXAMPLES     the examples (docs/examples); each one's output goes to
#                BUILD/NAME.out
#   RUNNER       the command each test runs under (valgrind ...), or empty
#   RUNNER_NAME  its name with a trailing space ("valgrind "), for the log
# Runs tests/cli/run.sh BUILD and tests/cli/foreign.sh BUILD (the foreign
# guest's recordings as device:FILE), then BUILD/tests/test_usbip with the
# command, the emulated host and the hostile host of BUILD (the server
# under RUNNER).
set -eu
B=$1
RUNNER=${RUNNER:-}
RUNNER_NAME=${RUNNER_NAME:-}
ROOT=$(pwd -P)

for t in $TEST_BINS; do
    echo "== $RUNNER_NAME$t"
    $RUNNER "$t"
done
for e in $EXAMPLES; do
    echo "== $RUNNER_NAME$e"
    $RUNNER "$e" > "$B/$(basename "$e").out"
done
echo "== ${RUNNER_NAME}tests/cli/run.sh"
RUNNER="$RUNNER" tests/cli/run.sh "$B"
echo "== ${RUNNER_NAME}tests/cli/foreign.sh"
RUNNER="$RUNNER" tests/cli/foreign.sh "$B"
echo "== $RUNNER_NAME$B/tests/test_usbip (the server under ${RUNNER_NAME:-no runner})"
URG_TOOL=$ROOT/$B/usbredir-guest URG_EMUHOST=$ROOT/$B/tests/emuhost-server \
    URG_HOSTILE=$ROOT/$B/tests/hostile-host URG_TOOL_RUNNER="$RUNNER" \
    "$B/tests/test_usbip"
echo "== all tests passed ${RUNNER_NAME}in $B"

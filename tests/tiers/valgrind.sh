#!/bin/sh
# valgrind.sh BUILD - unit.sh with every test, example, command and the
# USB/IP server under valgrind memcheck: any error, and any leak of any kind,
# fails (exit code 99) (make check-valgrind).
#
# Needs valgrind, and what unit.sh needs (TEST_BINS, EXAMPLES). VALGRIND, if
# set, is the valgrind command instead of the one below.
set -eu
RUNNER=${VALGRIND:-valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=all \
--errors-for-leak-kinds=all --track-origins=yes}
RUNNER_NAME="valgrind "
export RUNNER RUNNER_NAME
exec "$(dirname "$0")/unit.sh" "$@"

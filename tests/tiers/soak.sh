#!/bin/sh
# soak.sh BUILD - the soak (tests/bench/soak.c, docs/robustness.md) as built
# in BUILD: 1000 connect and disconnect cycles and 1,000,000 URBs against
# the fast host, memory flat. make soak runs it for this build, then builds
# it with ASan+UBSan (build-asan) and runs it there, where LeakSanitizer
# reports any leak.
#
# Needs BUILD/bench/soak built (make soak builds it).
set -eu
B=$1
"$B/bench/soak"

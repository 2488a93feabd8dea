#!/bin/sh
# clang.sh - the libraries and every test built with clang in build-clang
# (gcc builds everything in build/): the clang build is warning-free too
# (-Werror) (make check-clang). Builds, runs nothing.
#
# Needs clang; MAKE, the make to run (the Makefile passes its own).
set -eu
exec ${MAKE:-make} --no-print-directory lib tests BUILD=build-clang CC=clang

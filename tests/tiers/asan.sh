#!/bin/sh
# asan.sh - unit.sh's tests built with clang's AddressSanitizer and
# UndefinedBehaviorSanitizer (the Makefile's SAN=1 flags: any report is an
# error) in build-asan, and run there (make check-asan).
#
# Needs clang and its sanitizer runtimes (libclang-rt-14-dev); MAKE, the
# make to run (the Makefile passes its own; its command-line variables come
# through MAKEFLAGS).
set -eu
exec ${MAKE:-make} --no-print-directory run-tests BUILD=build-asan CC=clang SAN=1 \
    RUNNER_NAME="asan+ubsan "

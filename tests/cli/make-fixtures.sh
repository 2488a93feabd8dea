#!/bin/sh
# make-fixtures.sh BUILD - records fixtures/ with the usbredir-guest command
# against the emulated usb-host (tests/tools/emuhost-server.c). `make
# fixtures` runs it. The four bundled ones are recorded with each command's
# default options, so that the command run with no address replays them;
# fixtures/README.md gives each one's ground truth.
set -eu
B=$1
TOOL="$B/usbredir-guest"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/common.sh"
F=fixtures
mkdir -p $F

# rec FIXTURE COMMAND [ARGS]: records COMMAND against the host started last.
rec() {
    fix=$1
    shift
    "$TOOL" record "$F/$fix.urgcap" "$@" "$ADDR" < /dev/null > "$TMP/$fix.out"
    wait_emu e
    echo "recorded $F/$fix.urgcap ($(wc -c < "$F/$fix.urgcap") bytes)"
}

start_emu e keyboard --text "hello world"
rec keyboard-lsusb lsusb
start_emu e keyboard --text "hello world"
rec keyboard-hid hid -n 22
start_emu e msc --blocks 256
rec msc-read msc --no-progress
start_emu e ftdi
rec ftdi-serial serial --bytes 23
start_emu e mouse
rec mouse-hid hid -n 6
start_emu e msc --blocks 256
rec msc-lsusb lsusb
# 16 blocks of a known pattern written at block 32 and read back, then read.
awk 'BEGIN { for (i = 0; i < 8192; i++) printf "%c", 65 + i % 26 }' > "$TMP/pattern.bin"
start_emu e msc --blocks 256
rec msc-write msc --no-progress --write 32 -i "$TMP/pattern.bin" --verify --read 32:16
start_emu e cp210x
rec cp210x-serial serial --baud 9600 --send 'ping\r\n' --bytes 29
start_emu e pl2303
rec pl2303-serial serial --baud 9600 --send 'ping\r\n' --bytes 29

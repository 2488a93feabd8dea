#!/bin/sh
# make-fixtures.sh BUILD [usbmon] - records fixtures/ with the usbredir-guest
# command against the emulated usb-host (tests/tools/emuhost-server.c).
# `make fixtures` runs it. The four bundled ones are recorded with each
# command's default options, so that the command run with no address
# replays them; fixtures/README.md gives each one's ground truth. With
# "usbmon" it records only the usbmon captures (fixtures/*.usbmon.pcap, at
# the end).
set -eu
B=$1
ONLY=${2:-}
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

if [ "$ONLY" != usbmon ]; then
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
fi

# usbmon captures: the model's own (--usbmon) of a device as Linux's usbmon
# sees one that a program enumerates (lsusb) and another then uses: the two
# sessions merged into one file by tests/tools/usbmon-make (whose times
# keep them in order). device:FILE serves each as the .urgcap above does.
# recmon NAME "KIND [OPTIONS]" USE [ARGS]: lsusb, then USE with ARGS, each on
# an emulated host started with KIND [OPTIONS] (a shell word list).
recmon() {
    name=$1
    emu=$2
    shift 2
    eval "start_emu e $emu"
    "$TOOL" lsusb --usbmon "$TMP/$name-1.pcap" "$ADDR" < /dev/null > /dev/null
    wait_emu e
    eval "start_emu e $emu"
    "$TOOL" "$@" --usbmon "$TMP/$name-2.pcap" "$ADDR" < /dev/null > /dev/null
    wait_emu e
    "$B/tests/usbmon-make" cat "$F/$name.usbmon.pcap" "$TMP/$name-1.pcap" "$TMP/$name-2.pcap"
    echo "recorded $F/$name.usbmon.pcap ($(wc -c < "$F/$name.usbmon.pcap") bytes)"
}
awk 'BEGIN { for (i = 0; i < 8192; i++) printf "%c", 65 + i % 26 }' > "$TMP/pattern.bin"
recmon keyboard "keyboard --text 'hello world'" hid -n 22
recmon msc "msc --blocks 256" msc --no-progress --write 32 -i "$TMP/pattern.bin" --verify \
    --read 32:16
recmon ftdi ftdi serial --bytes 23

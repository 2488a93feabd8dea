#!/bin/sh
# usbmon-corpus.sh USBMON_MAKE DIR - the seed corpus of fuzz_usbmon (make
# corpus): the fixtures' usbmon captures (fixtures/NAME.usbmon.pcap) as
# they are and in the 48-byte form (USB_LINUX), the audio-like device and
# the hub of tests/support/usbmonw.c, QEMU's way of writing them
# (umw_qemu()), a bus of a hub, the audio device and the keyboard
# (renumbered) in one capture, and the usbmon captures QEMU's pcap= wrote
# of real sessions (fixtures/foreign-NAME.usbmon.pcap) when there are any.
set -eu
UM=$1
D=$2
mkdir -p "$D"
rm -f "$D"/*
for f in keyboard msc ftdi; do
    cp "fixtures/$f.usbmon.pcap" "$D/$f.pcap"
    "$UM" cat --usb-linux "$D/$f-48.pcap" "fixtures/$f.usbmon.pcap"
done
"$UM" audio "$D/audio.pcap"
"$UM" audio --usb-linux "$D/audio-48.pcap"
"$UM" hub "$D/hub.pcap"
"$UM" qemu "$D/qemu.pcap"
"$UM" cat "$D/bus.pcap" "$D/hub.pcap" "$D/audio.pcap" --device 1.5 fixtures/keyboard.usbmon.pcap
for f in fixtures/foreign-*.usbmon.pcap; do
    [ -e "$f" ] && cp "$f" "$D/$(basename "$f")"
done
true

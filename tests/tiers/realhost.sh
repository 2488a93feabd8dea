#!/bin/sh
# realhost.sh BUILD - the real usb-host tier (tests/realhost/,
# docs/realhost.md): Debian's usbredirect in a QEMU VM serving QEMU's
# emulated devices, driven by BUILD/tests/test_realhost, then Linux's own
# USB/IP client (vhci-hcd in a second VM) against the bridge,
# BUILD/tests/test_usbip_linux (make check-realhost; make fixtures-real).
#
# Needs test_realhost, test_usbip_linux and the command built in BUILD;
# qemu-system-x86, cpio, xz, libc6-dev (tests/realhost/image.sh builds the VM
# image once, with apt-get download, and caches it); root for tcpdump.
# Passes URG_REALHOST_IMAGE (image.sh's output), URG_REALHOST_DIR
# (BUILD/realhost), URG_TOOL (BUILD/usbredir-guest) and URG_WIRESHARK_LUA
# (BUILD/wireshark/usbredir.lua, tests/wireshark/lua-option.sh) to both;
# the environment's URG_REALHOST_ONLY, URG_REALHOST_FIXTURES ... go
# through. Then the Wireshark dissector against stats on each capture the
# tests recorded (below); tshark.
set -eu
B=$1
ROOT=$(pwd -P)
img=$(tests/realhost/image.sh)
# tshark is given no personal plugins or preferences (the Wireshark checks).
WS_HOME=$ROOT/$B/realhost/wireshark-home
mkdir -p "$WS_HOME"
rm -f "$B"/realhost/*.urgcap # what this run records is checked below
lua=$(HOME=$WS_HOME tests/wireshark/lua-option.sh "$ROOT/$B/wireshark/usbredir.lua")
for t in test_realhost test_usbip_linux; do
    URG_REALHOST_IMAGE=$img URG_REALHOST_DIR=$ROOT/$B/realhost \
        URG_TOOL=$ROOT/$B/usbredir-guest URG_WIRESHARK_LUA=$lua "$B/tests/$t"
done
# The Wireshark dissector on every session test_realhost recorded from the
# real usbredirect (storage, keyboard, mouse, hot unplug, FTDI buffered bulk,
# audio iso, UAS bulk streams), exported to pcap: each type's count each way
# equals stats (tests/wireshark/compare.sh), whole with the usb-host found
# by its port, and cut into 1, 7 and 1000-byte segments with it found by
# what it sends. (test_wireshark_live did the same on tcpdump's capture.)
n=0
for cap in "$B"/realhost/*.urgcap; do
    [ -e "$cap" ] || continue # none (URG_REALHOST_ONLY picked no recording test)
    case $(basename "$cap") in live.urgcap) continue ;; esac
    pcap=$B/realhost/wireshark-$(basename "$cap" .urgcap)
    "$B/usbredir-guest" export "$cap" "$pcap.pcap"
    "$B/usbredir-guest" export --segments 1,7,1000 "$cap" "$pcap-cut.pcap"
    HOME=$WS_HOME tests/wireshark/compare.sh "$lua" "$B/usbredir-guest" "$cap" "$pcap.pcap" \
        -o usbredir.host_ports:4000
    HOME=$WS_HOME tests/wireshark/compare.sh --content "$lua" "$B/usbredir-guest" "$cap" \
        "$pcap-cut.pcap"
    n=$((n + 1))
done
if [ -z "${URG_REALHOST_ONLY:-}" ] && [ $n -lt 8 ]; then
    echo "only $n captures of the real usb-host in $B/realhost"
    exit 1
fi
echo "== real usb-host tier passed in $B"


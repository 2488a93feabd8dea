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
# (BUILD/realhost) and URG_TOOL (BUILD/usbredir-guest) to both; the
# environment's URG_REALHOST_ONLY, URG_REALHOST_FIXTURES ... go through.
set -eu
B=$1
ROOT=$(pwd -P)
img=$(tests/realhost/image.sh)
for t in test_realhost test_usbip_linux; do
    URG_REALHOST_IMAGE=$img URG_REALHOST_DIR=$ROOT/$B/realhost \
        URG_TOOL=$ROOT/$B/usbredir-guest "$B/tests/$t"
done
echo "== real usb-host tier passed in $B"

#!/bin/sh
# tests/realhost/image.sh - builds (once) the small Linux VM of the
# real-host tests. One image, two roles (chosen on the kernel command line,
# see tests/realhost/init): the device VM runs the real usb-host, Debian's
# usbredirect; the attach VM is a Linux USB/IP client (vhci-hcd and Debian's
# `usbip` tool) with the class drivers that bind what it attaches.
#
#   tests/realhost/image.sh            prints the image folder, building it
#                                      if it is not cached yet
#
# Everything comes from Debian 12 packages fetched with `apt-get download`
# and unpacked with `dpkg -x` (nothing is installed on this machine): the
# kernel (booted as the uncompressed ELF vmlinux, about 4.5 s faster than the
# bzImage under emulation), busybox-static, usbredirect, usbip and the
# shared libraries they need. The initramfs is an uncompressed cpio with
# tests/realhost/init as its /init, and urg-vmtool (tests/realhost/vmtool.c,
# built here with cc -static) for what busybox cannot do.
#
# Cache: $URG_REALHOST_CACHE (default /var/cache/usbredir-guest/realhost).
# The .debs stay in debs/; the image goes to image-KEY/, KEY being a hash of
# this script, the init script, vmtool.c and the package versions, so
# changing any of them builds a new image. Only the newest image is kept.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${URG_REALHOST_CACHE:-/var/cache/usbredir-guest/realhost}
mkdir -p "$cache/debs"

# usbredirect, usbip and every library `ld.so --list` shows they need
# (checked below). usbip's other dependencies (usb.ids, libwrap0) serve
# `usbip list` names and usbipd only.
USER_PKGS="busybox-static usbredirect libusbredirhost1 libusbredirparser1 libusb-1.0-0 \
libglib2.0-0 libc6 libudev1 libpcre2-8-0 zlib1g libmount1 libselinux1 libffi8 libblkid1 usbip"
BINARIES="usr/bin/usbredirect usr/sbin/usbip"
# Kernel modules loaded by /init, with what they depend on, per role.
# Device: the xHCI controller and virtio-net; no class drivers (usbhid,
# usb-storage), so nothing competes with usbredirect for the devices.
# Attach: the same, vhci-hcd, and the class drivers of the devices the
# tests attach - usb-storage and sd, usbhid and evdev, ftdi_sio,
# snd-usb-audio, cdc_ether (usbnet, mii) for QEMU's usb-net - and vfat
# with the codepage (437) and iocharset (ascii; utf8 too) that Debian's
# kernel mounts vfat with by default (the xHCI controller carries QEMU's
# own usb-redir there).
MODULES_DEVICE="xhci_pci virtio_net virtio_pci"
MODULES_ATTACH="$MODULES_DEVICE vhci_hcd usb_storage sd_mod usbhid hid_generic evdev ftdi_sio \
snd_usb_audio cdc_ether vfat nls_cp437 nls_ascii nls_utf8"

say() { echo "image: $*" >&2; }

# The kernel package that linux-image-amd64 points at.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$kpkg" ]; then
    say "apt has no package lists yet: apt-get update"
    apt-get update -q >&2
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$kpkg" ] || { say "cannot find the kernel package behind linux-image-amd64"; exit 1; }

versions=$(for p in $kpkg $USER_PKGS; do
    printf '%s=%s\n' "$p" "$(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')"
done)
key=$( { cat "$0" "$here/init" "$here/vmtool.c"; echo "$versions"; } | sha256sum | cut -c1-16)
img="$cache/image-$key"
if [ -f "$img/ready" ]; then
    echo "$img"
    exit 0
fi

start=$(date +%s)
# Fetch what is missing (apt-get download names files PKG_VERSION_ARCH.deb).
cd "$cache/debs"
need=""
for pv in $versions; do
    p=${pv%%=*}
    v=$(echo "${pv#*=}" | sed 's/:/%3a/')
    ls "${p}_${v}_"*.deb >/dev/null 2>&1 || need="$need $pv"
done
if [ -n "$need" ]; then
    say "downloading:$need"
    # shellcheck disable=SC2086
    apt-get download -q $need >&2 2>/dev/null || { apt-get update -q >&2; apt-get download -q $need >&2; }
fi

work="$cache/build.$$"
rm -rf "$work"
mkdir -p "$work/deb" "$work/root"
trap 'rm -rf "$work"' EXIT
for pv in $versions; do
    p=${pv%%=*}
    v=$(echo "${pv#*=}" | sed 's/:/%3a/')
    dpkg -x "$(ls "${p}_${v}_"*.deb | head -n 1)" "$work/deb"
done

kver=${kpkg#linux-image-}
moddir="$work/deb/lib/modules/$kver"
[ -d "$moddir" ] || { say "no modules for $kver in $kpkg"; exit 1; }

# The ELF vmlinux inside the bzImage: the payload after the first
# compression magic that decompresses to an ELF file.
bz="$work/deb/boot/vmlinuz-$kver"
vmlinux="$work/vmlinux"
for magic in '\xfd7zXZ\x00' '\x28\xb5\x2f\xfd' '\x1f\x8b\x08' '\x02\x21\x4c\x18'; do
    for off in $(LC_ALL=C grep -obUaP "$magic" "$bz" | cut -d: -f1 | head -n 3); do
        case $magic in
            '\xfd7zXZ\x00') dec="xz -dc" ;;
            '\x28\xb5\x2f\xfd') dec="zstd -dc" ;;
            '\x1f\x8b\x08') dec="gzip -dc" ;;
            *) dec="lz4 -dc" ;;
        esac
        tail -c +"$((off + 1))" "$bz" | $dec > "$vmlinux" 2>/dev/null || true
        if [ "$(head -c 4 "$vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ]; then
            break 2
        fi
        rm -f "$vmlinux"
    done
done
if [ ! -f "$vmlinux" ]; then
    say "could not unpack vmlinux from the bzImage; booting the bzImage"
    cp "$bz" "$vmlinux"
fi

# The modules in load order, one list per role (lib/modules/order.ROLE):
# each after what its modinfo depends= names.
r="$work/root"
mkdir -p "$r/bin" "$r/lib/modules" "$r/proc" "$r/sys" "$r/dev" "$r/run" "$r/tmp" "$r/var"
ln -s ../run "$r/var/run"
add_module() {
    local name ko deps d
    name=$(echo "$1" | tr - _)
    grep -qx "$name" "$work/order" && return 0
    ko=$(find "$moddir" -name "$name.ko" -o -name "$(echo "$name" | tr _ -).ko" | head -n 1)
    if [ -z "$ko" ]; then
        grep -q "/$name.ko\$\|/$(echo "$name" | tr _ -).ko\$" "$moddir/modules.builtin" 2>/dev/null && return 0
        say "module $name not found"; exit 1
    fi
    deps=$(tr '\0' '\n' < "$ko" | sed -n 's/^depends=//p' | head -n 1 | tr , ' ')
    for d in $deps; do add_module "$d"; done
    cp "$ko" "$r/lib/modules/$name.ko"
    echo "$name" >> "$work/order"
}
for role in device attach; do
    : > "$work/order"
    if [ $role = device ]; then mods=$MODULES_DEVICE; else mods=$MODULES_ATTACH; fi
    for m in $mods; do add_module "$m"; done
    cp "$work/order" "$r/lib/modules/order.$role"
done

# busybox, usbredirect, usbip, and the libraries: the dynamic loader lists
# what each needs; every one must resolve inside the unpacked tree.
cp "$work/deb/bin/busybox" "$r/bin/busybox"
libpath="$work/deb/lib/x86_64-linux-gnu:$work/deb/usr/lib/x86_64-linux-gnu"
mkdir -p "$r/lib/x86_64-linux-gnu" "$r/lib64"
: > "$work/ldd"
for b in $BINARIES; do
    "$work/deb/lib64/ld-linux-x86-64.so.2" --list --library-path "$libpath" \
        "$work/deb/$b" > "$work/ldd.one"
    if grep -q 'not found' "$work/ldd.one" || grep '=>' "$work/ldd.one" | grep -v "$work/deb" | grep -q .; then
        say "$b needs a library not in the package list:"; cat "$work/ldd.one" >&2; exit 1
    fi
    { echo "$b:"; cat "$work/ldd.one"; } >> "$work/ldd"
    grep '=>' "$work/ldd.one" | awk '{print $3}' | while read -r lib; do
        cp -L "$lib" "$r/lib/x86_64-linux-gnu/"
    done
    cp "$work/deb/$b" "$r/bin/"
    chmod 755 "$r/bin/$(basename "$b")"
done
cp -L "$work/deb/lib64/ld-linux-x86-64.so.2" "$r/lib64/"
# The helper for evdev and the sound card (static, so that it needs nothing
# from the image; `cc` and not $CC: a sanitizer build's CC would not do).
cc -static -O2 -Wall -o "$r/bin/urg-vmtool" "$here/vmtool.c" -lm ||
    { say "cannot build vmtool.c with cc -static (libc6-dev has libc.a)"; exit 1; }
cp "$here/init" "$r/init"
chmod 755 "$r/init" "$r/bin/busybox"

(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$work/initramfs.cpio"

rm -rf "$cache"/image-*
mkdir -p "$img"
mv "$work/vmlinux" "$work/initramfs.cpio" "$img/"
echo "$versions" > "$img/versions"
cp "$work/ldd" "$img/ldd"
echo "built in $(($(date +%s) - start)) s" > "$img/ready"
say "built $img in $(($(date +%s) - start)) s"
echo "$img"

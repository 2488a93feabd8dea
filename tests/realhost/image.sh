#!/bin/sh
# tests/realhost/image.sh - builds (once) the small Linux VM that runs the
# real usb-host, Debian's usbredirect, for the real-host tests.
#
#   tests/realhost/image.sh            prints the image folder, building it
#                                      if it is not cached yet
#
# Everything comes from Debian 12 packages fetched with `apt-get download`
# and unpacked with `dpkg -x` (nothing is installed on this machine): the
# kernel (booted as the uncompressed ELF vmlinux, about 4.5 s faster than the
# bzImage under emulation), busybox-static, usbredirect and the shared
# libraries it needs. The initramfs is an uncompressed cpio with
# tests/realhost/init as its /init.
#
# Cache: $URG_REALHOST_CACHE (default /var/cache/usbredir-guest/realhost).
# The .debs stay in debs/; the image goes to image-KEY/, KEY being a hash of
# this script, the init script and the package versions, so changing either
# builds a new image. Only the newest image is kept.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${URG_REALHOST_CACHE:-/var/cache/usbredir-guest/realhost}
mkdir -p "$cache/debs"

# usbredirect and every library `ld.so --list` shows it needs (checked below).
USER_PKGS="busybox-static usbredirect libusbredirhost1 libusbredirparser1 libusb-1.0-0 \
libglib2.0-0 libc6 libudev1 libpcre2-8-0 zlib1g libmount1 libselinux1 libffi8 libblkid1"
# Kernel modules loaded by /init, with what they depend on: the xHCI
# controller and virtio-net. No class drivers (usbhid, usb-storage), so
# nothing competes with usbredirect for the devices.
MODULES="xhci_pci virtio_net virtio_pci"

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
key=$( { cat "$0" "$here/init"; echo "$versions"; } | sha256sum | cut -c1-16)
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

# The modules in load order: each after what its modinfo depends= names.
r="$work/root"
mkdir -p "$r/bin" "$r/lib/modules" "$r/proc" "$r/sys" "$r/dev" "$r/run" "$r/tmp"
: > "$work/order"
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
for m in $MODULES; do add_module "$m"; done
cp "$work/order" "$r/lib/modules/order"

# busybox, usbredirect, and the libraries: the dynamic loader lists what
# usbredirect needs; every one must resolve inside the unpacked tree.
cp "$work/deb/bin/busybox" "$r/bin/busybox"
cp "$work/deb/usr/bin/usbredirect" "$r/bin/usbredirect"
libpath="$work/deb/lib/x86_64-linux-gnu:$work/deb/usr/lib/x86_64-linux-gnu"
"$work/deb/lib64/ld-linux-x86-64.so.2" --list --library-path "$libpath" \
    "$work/deb/usr/bin/usbredirect" > "$work/ldd"
if grep -q 'not found' "$work/ldd" || grep '=>' "$work/ldd" | grep -v "$work/deb" | grep -q .; then
    say "usbredirect needs a library not in the package list:"; cat "$work/ldd" >&2; exit 1
fi
mkdir -p "$r/lib/x86_64-linux-gnu" "$r/lib64"
grep '=>' "$work/ldd" | awk '{print $3}' | while read -r lib; do
    cp -L "$lib" "$r/lib/x86_64-linux-gnu/"
done
cp -L "$work/deb/lib64/ld-linux-x86-64.so.2" "$r/lib64/"
cp "$here/init" "$r/init"
chmod 755 "$r/init" "$r/bin/busybox" "$r/bin/usbredirect"

(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$work/initramfs.cpio"

rm -rf "$cache"/image-*
mkdir -p "$img"
mv "$work/vmlinux" "$work/initramfs.cpio" "$img/"
echo "$versions" > "$img/versions"
cp "$work/ldd" "$img/ldd"
echo "built in $(($(date +%s) - start)) s" > "$img/ready"
say "built $img in $(($(date +%s) - start)) s"
echo "$img"

#!/bin/sh
# install.sh BUILD - the install check (make check-install), on what make
# install put into BUILD/stage (DESTDIR; PREFIX=/usr/local): the examples
# (docs/examples) built from the installed headers and pkg-config files
# alone, linked against the installed shared libraries, and run; the USB/IP
# bridge (tools/usbredir-guest/usbip.c, usbip_client.c) compiled as a VMM
# would, with the installed headers only (no -Iguest, -Ihcd-model,
# -Itransport), and every library symbol it uses exported by the installed
# shared libraries; the installed command runs and its man page is there.
#
# Needs BUILD/stage installed (make check-install does it first);
# pkg-config, nm; from the environment: CC, WARN_CFLAGS (the Makefile's
# -std and warning flags).
set -eu
B=$1
STAGE=$(pwd -P)/$B/stage
P=$STAGE/usr/local
CC=${CC:-cc}
WARN_CFLAGS=${WARN_CFLAGS:-}

pc() { PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --define-variable=prefix="$P" "$@"; }

# example NAME PACKAGE CFLAGS LIBS: docs/examples/NAME.c against PACKAGE,
# built and run.
example() {
    # shellcheck disable=SC2046,SC2086
    $CC $WARN_CFLAGS $3 "docs/examples/$1.c" -o "$B/$1_installed" \
        $(pc --cflags --libs "$2") $4 -Wl,-rpath,"$P/lib"
    "$B/$1_installed" > /dev/null
}
# The two engine examples script their usb-host with the project's codec,
# guest/urg_codec.h, which is not installed: it alone is put beside the
# installed headers (in BUILD/uninstalled); the rest is what a VMM has.
rm -rf "$B/uninstalled" && mkdir -p "$B/uninstalled"
cp guest/urg_codec.h "$B/uninstalled/"
example engine_demo usbredirguest "-I$B/uninstalled" ""
example vmm_enumerate usbredirguest "-I$B/uninstalled" ""
example transport_keyboard usbredirguest-transport -D_DEFAULT_SOURCE -lev

for f in usbip usbip_client; do
    # shellcheck disable=SC2046,SC2086
    $CC $WARN_CFLAGS -D_DEFAULT_SOURCE -c "tools/usbredir-guest/$f.c" -Itools/usbredir-guest \
        $(pc --cflags usbredirguest-transport) -o "$B/${f}_installed.o"
done
for f in $(nm -u "$B/usbip_installed.o" "$B/usbip_client_installed.o" |
    awk '/urg/ {print $2}' | sort -u); do
    nm -D --defined-only "$P"/lib/libusbredirguest*.so | grep -q " T $f$" ||
        { echo "the USB/IP bridge uses $f, which the installed libraries do not export"; exit 1; }
done
test -x "$P/bin/usbredir-guest"
"$P/bin/usbredir-guest" hid > /dev/null
test -f "$P/share/man/man1/usbredir-guest.1"
echo "== install to DESTDIR, pkg-config and linking against the shared libraries work"

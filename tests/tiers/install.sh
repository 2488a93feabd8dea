#!/bin/sh
# install.sh BUILD - the install check (make check-install), on what make
# install put into BUILD/stage (DESTDIR; PREFIX=/usr/local): the examples
# (docs/examples) built from the installed headers and pkg-config files
# alone, linked against the installed shared libraries, and run; the USB/IP
# bridge (tools/usbredir-guest/usbip.c, usbip_client.c) compiled as a VMM
# would, with the installed headers only (no -Iguest, -Ihcd-model,
# -Itransport), and every library symbol it uses exported by the installed
# shared libraries; the installed command runs and its man page is there;
# the Wireshark dissector is installed in WIRESHARK_PLUGINDIR, which is a
# folder where tshark looks for Lua plugins (its "Global Lua Plugins" or a
# folder under it, by default), and from such a folder tshark loads it by
# itself and decodes an exported fixture with it.
#
# Needs BUILD/stage installed (make check-install does it first);
# pkg-config, nm; from the environment: CC, WARN_CFLAGS (the Makefile's
# -std and warning flags), WIRESHARK_PLUGINDIR (the Makefile's). Without
# tshark only the file's place is checked, and that is said.
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

# The dissector, where Wireshark looks for Lua plugins.
WS_DIR=${WIRESHARK_PLUGINDIR:?the Makefile passes WIRESHARK_PLUGINDIR}
cmp "$STAGE$WS_DIR/usbredir.lua" "$B/wireshark/usbredir.lua"
if command -v tshark > /dev/null; then
    WS_HOME=$(pwd -P)/$B/stage-home
    rm -rf "$WS_HOME"
    mkdir -p "$WS_HOME"
    folders=$(HOME=$WS_HOME tshark -G folders 2> /dev/null |
        sed -n 's/^\(Global\|Personal\) Lua Plugins:[[:space:]]*//p')
    looked=0
    for d in $folders; do
        case "$WS_DIR/" in "$d"/*) looked=1 ;; esac
    done
    [ $looked = 1 ] || { echo "WIRESHARK_PLUGINDIR $WS_DIR is not a folder where tshark looks" \
        "for Lua plugins ($folders)"; exit 1; }
    # From a plugin folder (the personal one, in a HOME of its own) tshark
    # loads it unasked: no -X lua_script. A copy already installed for every
    # user would be loaded as well: that one is used then.
    if ! HOME=$WS_HOME tshark -G plugins 2> /dev/null | grep -q '^usbredir\.lua'; then
        mkdir -p "$WS_HOME/.local/lib/wireshark/plugins"
        cp "$STAGE$WS_DIR/usbredir.lua" "$WS_HOME/.local/lib/wireshark/plugins/"
    fi
    "$P/bin/usbredir-guest" export fixtures/keyboard-hid.urgcap "$B/stage-kbd.pcap"
    n=$(HOME=$WS_HOME tshark -r "$B/stage-kbd.pcap" -T fields -E occurrence=a -e usbredir.type \
        2> /dev/null | tr ',' '\n' | grep -c '^103$')
    [ "$n" -eq 22 ] || { echo "tshark with the installed dissector finds $n interrupt packets" \
        "in the keyboard's capture, not 22"; exit 1; }
    rm -rf "$WS_HOME" "$B/stage-kbd.pcap"
    echo "== the dissector is in $WS_DIR, where tshark looks, and loads from there"
else
    echo "== the dissector is in $WS_DIR (tshark is not installed: not checked that it looks there)"
fi
echo "== install to DESTDIR, pkg-config and linking against the shared libraries work"

#!/bin/sh
# tools/serial-ids.sh - writes hcd-model/serial_ids.c, the USB serial
# adapters whose bulk IN gets buffered bulk receiving, from the device id
# tables of Linux's ftdi_sio, cp210x, pl2303 and ch341 drivers.
#
#   tools/serial-ids.sh KERNEL_TREE [LABEL] > hcd-model/serial_ids.c
#
# KERNEL_TREE is a Linux source tree (only drivers/usb/serial/, include/
# linux/usb.h, include/linux/mod_devicetable.h, include/uapi/linux/usb/ch9.h
# and the top Makefile are read); LABEL says where it came from (e.g.
# "Debian linux-source-6.1 6.1.192-2"), and goes into the file's header
# with the kernel's version and a sha256 of every file read.
#
# Nothing is parsed by hand: each driver's id table, with the #defines
# before it and its ids header, is compiled with Linux's own USB_DEVICE*
# macros and struct usb_device_id (taken from the tree) and the program
# prints every entry. An entry of a kind the model does not know (a match
# on anything but vendor and product, the interface number, or the
# interface class), or a driver_info quirk the script does not know, stops
# the script: a new kernel that adds one needs a look first.
#
# What the quirks mean (ftdi_sio.c):
#   ftdi_jtag_quirk      ftdi_jtag_probe: interface 0 is JTAG, not a port
#   ftdi_stmclite_quirk  ftdi_stmclite_probe: interfaces 0 and 1 are not
#                        ports
#   ftdi_8u2232c_quirk   ftdi_8u2232c_probe: interface 0 is JTAG only for
#                        some manufacturer and product strings, which the
#                        model does not read: every interface is a port
#   ftdi_NDI_device_quirk, ftdi_USB_UIRT_quirk, ftdi_HE_TIRA1_quirk
#                        settings of the port (latency, baud base): ports
# pl2303's driver_info flags (UART state index, legacy, the endpoint hack
# that takes the interrupt IN of interface 0 for a port on interface 1) do
# not change which interface's bulk IN is the port's; cp210x and ch341 have
# none.
set -eu

if [ $# -lt 1 ] || [ ! -f "$1/drivers/usb/serial/ftdi_sio.c" ]; then
    echo "usage: $0 KERNEL_TREE [LABEL] > hcd-model/serial_ids.c" >&2
    exit 2
fi
K=$1
LABEL=${2:-}
CC=${CC:-cc}
S=$K/drivers/usb/serial
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

version=$(awk -F' *= *' '$1=="VERSION"{v=$2} $1=="PATCHLEVEL"{p=$2} $1=="SUBLEVEL"{s=$2}
    END{print v "." p "." s}' "$K/Makefile")

# The logical #define lines (continuations joined) of a file whose name
# matches a pattern, up to a line matching stop (or the end).
defines() { # file name-regex [stop-regex]
    awk -v pat="$2" -v stop="${3:-}" '
        stop != "" && $0 ~ stop { exit }
        cont { line = line "\n" $0; if ($0 !~ /\\$/) { emit(); cont = 0 }; next }
        /^#define[ \t]/ { split($0, w, /[ \t(]+/); if (w[2] ~ pat) { line = $0
            if ($0 ~ /\\$/) cont = 1; else emit() } else if ($0 ~ /\\$/) skip = 1; next }
        skip { if ($0 !~ /\\$/) skip = 0; next }
        function emit() { print line }' "$1"
}

{
    echo '#include <stdint.h>'
    echo '#include <stdio.h>'
    echo 'typedef uint8_t __u8;'
    echo 'typedef uint16_t __u16;'
    echo 'typedef unsigned long kernel_ulong_t;'
    echo '#define BIT(n) (1UL << (n))'
    awk '/^struct usb_device_id \{/{on=1} on{print} on&&/^};/{exit}' \
        "$K/include/linux/mod_devicetable.h"
    defines "$K/include/linux/mod_devicetable.h" '^USB_DEVICE_ID_MATCH_'
    defines "$K/include/linux/usb.h" '^USB_(DEVICE|INTERFACE)'
    defines "$K/include/uapi/linux/usb/ch9.h" '^USB_(SUB)?CLASS_'
} > "$T/common.h"

# One program per driver (their #defines may clash): prints
#   driver index match_flags vendor product ifnum class subclass protocol quirk
dump() { # driver file table-name [ids-header]
    drv=$1 file=$S/$2 table=$3
    {
        echo '#include "common.h"'
        [ $# -ge 4 ] && cat "$S/$4"
        defines "$file" '.' "^static const struct usb_device_id $table\\[\\]"
        # The quirk objects the table points at: one distinct address each.
        quirks=$(awk -v t="$table" '$0 ~ "^static const struct usb_device_id " t "\\[\\]"{on=1}
            on{while (match($0, /&[A-Za-z0-9_]+/)) { print substr($0, RSTART + 1, RLENGTH - 1)
            $0 = substr($0, RSTART + RLENGTH) } } on&&/^};/{exit}' "$file" | sort -u)
        for q in $quirks; do echo "static const char $q;"; done
        awk -v t="$table" '$0 ~ "^static const struct usb_device_id " t "\\[\\]"{on=1}
            on{print} on&&/^};/{exit}' "$file"
        echo 'int main(void) {'
        echo '    for (unsigned i = 0; i < sizeof('"$table"') / sizeof('"$table"'[0]); i++) {'
        echo '        const struct usb_device_id *d = &'"$table"'[i];'
        echo '        const char *q = "-";'
        for q in $quirks; do
            echo "        if (d->driver_info == (kernel_ulong_t)&$q) q = \"$q\";"
        done
        echo '        if (!d->match_flags) continue;'
        echo '        if (q[0] == 0x2d && d->driver_info) q = "flags";'
        printf '%s\n' '        printf("'"$drv"' %u %u %u %u %u %u %u %u %s\n", i, d->match_flags,'
        echo '               d->idVendor, d->idProduct, d->bInterfaceNumber, d->bInterfaceClass,'
        echo '               d->bInterfaceSubClass, d->bInterfaceProtocol, q);'
        echo '    }'
        echo '    return 0;'
        echo '}'
    } > "$T/$drv.c"
    $CC -std=gnu11 -w -I"$T" -o "$T/$drv" "$T/$drv.c"
    "$T/$drv"
}

{
    dump ftdi_sio ftdi_sio.c id_table_combined ftdi_sio_ids.h
    dump cp210x cp210x.c id_table
    dump pl2303 pl2303.c id_table pl2303.h
    dump ch341 ch341.c id_table
} > "$T/entries"

sums=$(cd "$K" && sha256sum drivers/usb/serial/ftdi_sio.c drivers/usb/serial/ftdi_sio_ids.h \
    drivers/usb/serial/cp210x.c drivers/usb/serial/pl2303.c drivers/usb/serial/pl2303.h \
    drivers/usb/serial/ch341.c | awk '{printf " *   %s  %s\n", substr($1, 1, 16), $2}')

# Sorted by vendor and product; entries of one device keep their driver's
# table order (Linux takes the first that matches an interface).
sort -k4,4n -k5,5n -k1,1 -k2,2n "$T/entries" | awk -v version="$version" -v label="$LABEL" \
    -v sums="$sums" '
    BEGIN {
        # usb_device_id match flags (mod_devicetable.h)
        VENDOR = 1; PRODUCT = 2; INT_CLASS = 128; INT_SUBCLASS = 256; INT_PROTOCOL = 512
        INT_NUMBER = 1024
        DEVICE = VENDOR + PRODUCT; INT_INFO = INT_CLASS + INT_SUBCLASS + INT_PROTOCOL
        drvflag["ftdi_sio"] = "SID_FTDI_SIO"; drvflag["cp210x"] = "SID_CP210X"
        drvflag["pl2303"] = "SID_PL2303"; drvflag["ch341"] = "SID_CH341"
        skip["-"] = 0; skip["ftdi_jtag_quirk"] = 1; skip["ftdi_stmclite_quirk"] = 2
        skip["ftdi_8u2232c_quirk"] = 0; skip["ftdi_NDI_device_quirk"] = 0
        skip["ftdi_USB_UIRT_quirk"] = 0; skip["ftdi_HE_TIRA1_quirk"] = 0
        nclass = 0
    }
    function die(msg) { print "serial-ids.sh: " msg > "/dev/stderr"; failed = 1; exit 1 }
    {
        drv = $1; flags = $3; vid = $4; pid = $5; ifn = $6; q = $10
        if (q == "flags" && drv != "pl2303")
            die(drv " entry " $2 ": a driver_info the script does not know")
        if (q != "flags" && !(q in skip))
            die(drv " entry " $2 ": quirk " q " unknown (see the top of the script)")
        f = drvflag[drv]
        if (q != "flags" && skip[q])
            f = f " | SID_NOT_PORTS(" skip[q] ")"
        if (flags == DEVICE) {
            iface = 0
        } else if (flags == DEVICE + INT_NUMBER) {
            iface = ifn; f = f " | SID_IFNUM"
        } else if (flags == DEVICE + INT_INFO) {
            key = $7 "," $8 "," $9
            if (!(key in classidx)) { classidx[key] = nclass; classes[nclass++] = key }
            iface = classidx[key]; f = f " | SID_IFCLASS"
        } else {
            die(drv " entry " $2 ": match_flags " flags " (only device, interface number and interface class)")
        }
        line = sprintf("{ 0x%04x, 0x%04x, %u, %s }", vid, pid, iface, f)
        if (line in seen)
            next # the same entry twice: the first one wins anyway
        seen[line] = 1
        out[n++] = line
        count[drv]++
        # A device in two drivers: Linux binds whichever probes first. Only
        # FTDI differs in what the model does.
        if (prev == vid "," pid && prevdrv != drv) {
            if (prevdrv == "ftdi_sio" || drv == "ftdi_sio")
                die(sprintf("%04x:%04x in ftdi_sio and in %s", vid, pid,
                            drv == "ftdi_sio" ? prevdrv : drv))
            twice = twice sprintf(" %04x:%04x (%s, %s)", vid, pid, prevdrv, drv)
        }
        prev = vid "," pid; prevdrv = drv
    }
    END {
        if (failed)
            exit 1
        print "/*"
        print " * serial_ids.c - the USB serial adapters Linux drives with ftdi_sio, cp210x,"
        print " * pl2303 and ch341: their device id tables, for buffered bulk receiving"
        print " * (serial.c says how they are used)."
        print " *"
        print " * GENERATED by tools/serial-ids.sh from Linux " version (label != "" ? " (" label ")" : "") ";"
        print " * do not edit, run the script again. The files read (sha256, first 16 digits):"
        print sums
        printf " * %u entries (ftdi_sio %u, cp210x %u, pl2303 %u, ch341 %u), %u bytes,\n", \
            n, count["ftdi_sio"], count["cp210x"], count["pl2303"], count["ch341"], n * 6
        print " * sorted by vendor and product; a device'"'"'s entries in its driver'"'"'s order."
        if (twice != "")
            print " * In two drivers (the first listed is looked up):" twice "."
        print " */"
        print "#include \"hcd.h\""
        print ""
        print "const uint8_t serial_id_classes[][3] = {"
        for (i = 0; i < nclass; i++) {
            split(classes[i], c, ",")
            printf "    { 0x%02x, 0x%02x, 0x%02x },\n", c[1], c[2], c[3]
        }
        print "};"
        print "const size_t serial_id_class_count = sizeof(serial_id_classes) / sizeof(serial_id_classes[0]);"
        print ""
        print "const struct serial_id serial_ids[] = {"
        for (i = 0; i < n; i++)
            print "    " out[i] ","
        print "};"
        print "const size_t serial_id_count = sizeof(serial_ids) / sizeof(serial_ids[0]);"
    }'

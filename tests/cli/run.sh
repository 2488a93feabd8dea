#!/bin/sh
# run.sh BUILD - tests of the usbredir-guest command, run by `make check`
# (RUNNER=valgrind... wraps each run of the command).
#
# Every subcommand runs against the emulated usb-host (live, over TCP) and
# against fixtures (replayed); its output is compared with the golden files
# in tests/cli/expected/ (UPDATE=1 rewrites them: review the diff), and the
# ground truth is checked apart from the output: keys typed against the text
# the emulated keyboard was given, data read against the emulated disk's
# image, serial bytes and baud rate against what the emulated adapter saw,
# exit codes against the manual.
set -u
B=$1
RUNNER=${RUNNER:-}
HERE=$(cd "$(dirname "$0")" && pwd)
EXP=$HERE/expected
TMP=$(mktemp -d)
cleanup() {
    for p in $(jobs -p); do kill "$p" 2> /dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
. "$HERE/common.sh"
. "$HERE/check.sh"
# The command, under RUNNER when one is given (word splitting wanted).
T="$RUNNER $B/usbredir-guest"
pass=0
fail=0

# ---------------------------------------------------------------- the command line
t help 0 --help && has help out "Commands:"
t version 0 --version && has version out "usbredir-guest 0.1.0 (usbredir protocol 0.7)"
t noargs 2
t unknown 2 frobnicate && has unknown err "unknown command \"frobnicate\""
t badopt 2 lsusb --bogus && has badopt err "unknown option --bogus"
t twoaddr 2 lsusb a:1 b:2 && has twoaddr err "one address at most"
t badaddr 2 lsusb localhost && has badaddr err "malformed address"
t mscopts 2 msc --write 3 && has mscopts err "--write goes with -i FILE"
t badnum 2 hid -n zero && has badnum err "-n: \"zero\" is not a number"
# usbip: its usage errors (tests/usbip/test_usbip.c drives the server).
t usbip-noaddr 2 usbip && has usbip-noaddr err "give 1 to 32 usb-host addresses"
t usbip-twice 2 usbip 127.0.0.1:9 127.0.0.1:8 127.0.0.1:9 &&
    has usbip-twice err "127.0.0.1:9 is given twice (busids 1-1 and 1-3)"
t usbip-capture 2 usbip capture:x.urgcap && has usbip-capture err "a capture replays one guest"
t usbip-badaddr 2 usbip localhost && has usbip-badaddr err "\"localhost\" is not an address"
t usbip-badlisten 2 usbip --listen fd:3 127.0.0.1:9 && has usbip-badlisten err "--listen \"fd:3\""
t usbip-badopt 2 usbip --max-output 12 127.0.0.1:9 && has usbip-badopt err "--max-output"
t usbip-badiso 2 usbip --iso-latency 0 127.0.0.1:9 &&
    has usbip-badiso err '--iso-latency: "0" is not a number from 1 to 1000'
# --usbmon: the model's usbmon capture, read back with libpcap
# (tests/tools/usbmon-read): link type 220, its records, their fields.
# lsusb: control IN transfers (URB_DIR_IN); hid: interrupt IN of the bundled
# keyboard (high speed, bInterval 7: 64 microframes).
usbmon_read() {
    if "$B/tests/usbmon-read" "$1" > "$TMP/$2.out" 2> "$TMP/$2.err"; then
        pass=$((pass + 1))
    else
        bad "$2: usbmon-read $1 failed"
        sed 's/^/    /' "$TMP/$2.err" >&2
    fi
}
if t usbmon-lsusb 0 lsusb --usbmon "$TMP/lsusb.pcap"; then
    golden usbmon-lsusb lsusb-keyboard.txt
    usbmon_read "$TMP/lsusb.pcap" usbmon-lsusb-read
    has usbmon-lsusb-read out "linktype 220"
    has usbmon-lsusb-read out "S type=2 ep=0x80 dev=0 bus=1 status=-115 len=18 cap=0 interval=0 start_frame=0 flags=0x200"
    has usbmon-lsusb-read out "C type=2 ep=0x80 dev=0 bus=1 status=0 len=18 cap=18 interval=0 start_frame=0 flags=0x200"
    n=$(sed -n 's/^records //p' "$TMP/usbmon-lsusb-read.out")
    if [ "${n:-0}" -gt 0 ] && [ $((n % 2)) -eq 0 ]; then
        pass=$((pass + 1))
    else
        bad "usbmon-lsusb: ${n:-no} records, wanted an even number above 0"
    fi
fi
if t usbmon-hid 0 hid -n 2 --usbmon "$TMP/hid.pcap"; then
    usbmon_read "$TMP/hid.pcap" usbmon-hid-read
    has usbmon-hid-read out "C type=1 ep=0x81 dev=0 bus=1 status=0 len=8 cap=8 interval=64 start_frame=0 flags=0x200 ndesc=0"
fi
t usbmon-nodir 1 lsusb --usbmon /nonexistent-dir/x.pcap &&
    has usbmon-nodir err "--usbmon /nonexistent-dir/x.pcap: cannot create: No such file or directory"
t usbmon-noarg 2 lsusb --usbmon && has usbmon-noarg err "unknown option --usbmon, or it needs a value"
t usbip-usbmon-nodir 1 usbip --usbmon /nonexistent-dir/x.pcap 127.0.0.1:9 &&
    has usbip-usbmon-nodir err "--usbmon /nonexistent-dir/x.pcap: cannot create"
# with two usb-hosts, one file each, the busid before the extension
t usbip-usbmon-two 1 usbip --usbmon /nonexistent-dir/x.pcap 127.0.0.1:9 127.0.0.1:8 &&
    has usbip-usbmon-two err "--usbmon /nonexistent-dir/x-1-1.pcap: cannot create"
long=$(printf '%05000d' 0)
t usbip-usbmon-long 2 usbip --usbmon "$TMP/$long" 127.0.0.1:9 127.0.0.1:8 &&
    has usbip-usbmon-long err "the name is too long"
for c in lsusb hid msc serial record replay dump import export stats usbip; do
    t "help-$c" 0 "$c" --help && has "help-$c" out "usage: usbredir-guest $c"
done
# Nobody listens on a port just closed.
start_emu e keyboard
closed=$ADDR
t gone-first 0 lsusb "$ADDR"
wait_emu e
t refused 3 lsusb "$closed" && has refused err "cannot connect"
t nocapture 1 lsusb capture:/nonexistent.urgcap && has nocapture err "cannot replay"
# --retry: a host not up yet (as usbredirect in a VM that is still booting)
# is tried again until it is; the host starts once the command has retried.
mkfifo "$TMP/retry.fifo"
# shellcheck disable=SC2086
$T -v lsusb --retry --timeout 60 "$closed" < /dev/null > "$TMP/retry.out" 2> "$TMP/retry.fifo" &
retry_pid=$!
exec 5< "$TMP/retry.fifo"
retried=0
while read -r _line <&5; do
    case $_line in *"retrying in 0.05 s"*) retried=1 && break ;; esac
done
start_emu e keyboard --listen "$closed"
cat <&5 > "$TMP/retry.err"
exec 5<&-
wait "$retry_pid"
rc=$?
if [ $rc -eq 0 ]; then pass=$((pass + 1)); else bad "retry: exit $rc"; fi
wait_emu e
golden retry lsusb-keyboard.txt
if [ $retried = 1 ]; then pass=$((pass + 1)); else bad "retry: it never said \"retrying in 0.05 s\""; fi
t retry-listen 2 lsusb --retry --listen 127.0.0.1:0 &&
    has retry-listen err "--retry needs an address to connect to"
t retry-capture 2 lsusb --retry && has retry-capture err "--retry needs an address to connect to"

# ---------------------------------------------------------------- lsusb
for k in keyboard mouse msc ftdi cp210x pl2303; do
    start_emu e $k
    t "lsusb-$k" 0 lsusb "$ADDR" && golden "lsusb-$k" "lsusb-$k.txt"
    wait_emu e
done
has lsusb-keyboard out "iProduct                2 QEMU USB Keyboard"
has lsusb-msc out "bMaxBurst              15"
has lsusb-msc out "SuperSpeed Endpoint Companion Descriptor:"
# With no address: the bundled capture of the same session.
t lsusb-default 0 lsusb && golden lsusb-default lsusb-keyboard.txt
t lsusb-msc-fixture 0 lsusb capture:fixtures/msc-lsusb.urgcap &&
    golden lsusb-msc-fixture lsusb-msc.txt

# The host connects to a listening guest (usbredirect --to).
mkfifo "$TMP/listen.fifo"
# shellcheck disable=SC2086
$T lsusb --listen 127.0.0.1:0 < /dev/null > "$TMP/listen.out" 2> "$TMP/listen.fifo" &
listen_pid=$!
exec 5< "$TMP/listen.fifo"
read -r _line <&5
ADDR=${_line##* on }
"$EMU" keyboard --connect "$ADDR" > /dev/null &
cat <&5 > "$TMP/listen.err"
exec 5<&-
wait "$listen_pid"
rc=$?
if [ $rc -eq 0 ]; then pass=$((pass + 1)); else bad "listen: exit $rc"; fi
golden listen lsusb-keyboard.txt
t listen-noaddr 2 lsusb --listen && has listen-noaddr err "--listen needs an address"

# ---------------------------------------------------------------- hid
start_emu e keyboard --text "hello world"
t hid-keyboard 0 hid -n 22 "$ADDR" && golden hid-keyboard hid-keyboard.txt
wait_emu e
has hid-keyboard out 'typed: "hello world"'
has hid-keyboard out "22 reports"
start_emu e keyboard --text "Hi, you! 42"
t hid-shift 0 hid -n 22 "$ADDR" && has hid-shift out 'typed: "Hi, you! 42"'
wait_emu e
t hid-default 0 hid && golden hid-default hid-keyboard.txt
start_emu e mouse
t hid-mouse 0 hid -n 6 "$ADDR" && golden hid-mouse hid-mouse.txt
wait_emu e
has hid-mouse out "total: x=+7 y=+1 wheel=-1, clicks: left 1, right 1, middle 0"
t hid-mouse-fixture 0 hid capture:fixtures/mouse-hid.urgcap && golden hid-mouse-fixture hid-mouse.txt
t hid-raw 0 hid --raw capture:fixtures/mouse-hid.urgcap && has hid-raw out "[02 fd fc 00]"
# The host goes while the command waits for a report that never comes.
start_emu e keyboard --text "a"
mkfifo "$TMP/hid-gone.fifo"
# shellcheck disable=SC2086
$T hid -n 3 "$ADDR" < /dev/null > "$TMP/hid-gone.fifo" 2> "$TMP/hid-gone.err" &
hid_pid=$!
exec 8< "$TMP/hid-gone.fifo"
read -r _ <&8 && read -r _ <&8 && read -r _ <&8 # the header and the two reports
kill "$e_pid"
cat <&8 > /dev/null
exec 8<&-
wait "$hid_pid"
rc=$?
if [ $rc -eq 3 ]; then pass=$((pass + 1)); else bad "hid-gone: exit $rc, wanted 3"; fi
has hid-gone err "the device went away"

# ---------------------------------------------------------------- msc
awk 'BEGIN { for (i = 0; i < 8192; i++) printf "%c", 65 + i % 26 }' > "$TMP/pattern.bin"
start_emu e msc --blocks 256 --disk-out "$TMP/disk.img"
t msc-live 0 msc --no-progress --write 32 -i "$TMP/pattern.bin" --verify --read 0 \
    -o "$TMP/read.bin" "$ADDR" && golden msc-live msc-live.txt
wait_emu e
same "$TMP/read.bin" "$TMP/disk.img"
dd if="$TMP/disk.img" of="$TMP/written.bin" bs=512 skip=32 count=16 2> /dev/null
same "$TMP/written.bin" "$TMP/pattern.bin"
has msc-live out "md5 $(md5 "$TMP/pattern.bin")"
has msc-live out "read 256 blocks (131072 bytes) from block 0 to $TMP/read.bin: md5 $(md5 "$TMP/disk.img")"
has msc-live out "verify: ok, 16 blocks read back equal"
# A fresh disk read whole: the same md5 as the bundled capture's.
start_emu e msc --blocks 256 --disk-out "$TMP/fresh.img"
t msc-fresh 0 msc --no-progress --chunk 7 "$ADDR"
wait_emu e
has msc-fresh out "md5 $(md5 "$TMP/fresh.img")"
t msc-default 0 msc --no-progress && golden msc-default msc-read.txt
has msc-default out "md5 $(md5 "$TMP/fresh.img")"
grep -q "$(md5 "$TMP/fresh.img")" fixtures/README.md && pass=$((pass + 1)) ||
    bad "fixtures/README.md does not give the msc-read md5 $(md5 "$TMP/fresh.img")"
t msc-write-fixture 0 msc --no-progress --write 32 -i "$TMP/pattern.bin" --verify --read 32:16 \
    capture:fixtures/msc-write.urgcap && golden msc-write-fixture msc-write.txt
# Another pattern than the capture wrote: the replay says where.
tr A-Z a-z < "$TMP/pattern.bin" > "$TMP/other.bin"
t msc-diverged 4 msc --no-progress --write 32 -i "$TMP/other.bin" --verify --read 32:16 \
    capture:fixtures/msc-write.urgcap && has msc-diverged err "bulk_packet data byte 0 is 0x61, the capture has 0x41"
# Fixtures of the real usbredirect (recorded by tests/realhost/), replayed;
# the md5 is the one fixtures/README.md gives (the real-host test compared
# those bytes with the VM's disk image).
t real-lsusb 0 lsusb capture:fixtures/real-msc-lsusb.urgcap && golden real-lsusb lsusb-real-msc.txt
has real-lsusb out "ID 46f4:0001 QEMU QEMU USB HARDDRIVE"
t real-hid 0 hid -n 6 capture:fixtures/real-keyboard-hid.urgcap && golden real-hid hid-real-keyboard.txt
has real-hid out 'typed: "hI"'
t real-msc 0 msc --no-progress --read 0:64 -o "$TMP/real.bin" capture:fixtures/real-msc-read.urgcap
has real-msc out "md5 $(md5 "$TMP/real.bin")"
grep -q "$(md5 "$TMP/real.bin")" fixtures/README.md && pass=$((pass + 1)) ||
    bad "fixtures/README.md does not give the real-msc-read md5 $(md5 "$TMP/real.bin")"
start_emu e msc --blocks 256
t msc-past-end 1 msc --no-progress --read 300 "$ADDR" && has msc-past-end err "past the end"
wait_emu e

# ---------------------------------------------------------------- device:FILE
# A device rebuilt from a recording answers commands that do other things
# than the recorded one did; each run ends with the coverage line.
t dev-lsusb 0 lsusb device:fixtures/keyboard-lsusb.urgcap && golden dev-lsusb lsusb-keyboard.txt
has dev-lsusb err "keyboard-lsusb.urgcap: answered from the recording"
has dev-lsusb err "not answerable 0"
t dev-hid 0 hid device:fixtures/keyboard-hid.urgcap && has dev-hid out 'typed: "hello world"'
has dev-hid out "22 reports"
has dev-hid err "stream packets 22"
# lsusb of the keyboard's typing: what was never read stalls (counted).
t dev-lsusb-hid 1 lsusb device:fixtures/keyboard-hid.urgcap
has dev-lsusb-hid err "stalled GET_DESCRIPTOR(DEVICE)"
has dev-lsusb-hid err "not answerable 1"
# The disk: the whole recorded disk as the exact replay reads it, then
# blocks 16 to 215 in commands of 50 (recorded as two of 128): the same
# bytes; blocks the real disk's recording never read fail (medium error).
t dev-msc 0 msc --no-progress --read 0:256 -o "$TMP/dev-full.bin" device:fixtures/msc-read.urgcap
has dev-msc out "md5 7617f8e071b0b081bc7ce4941d79a2bb"
has dev-msc err "blocks read 256, missing 0"
t dev-msc-split 0 msc --no-progress --read 16:200 --chunk 50 -o "$TMP/dev-part.bin" \
    device:fixtures/msc-read.urgcap
dd if="$TMP/dev-full.bin" of="$TMP/dev-want.bin" bs=512 skip=16 count=200 2> /dev/null
same "$TMP/dev-part.bin" "$TMP/dev-want.bin"
t dev-msc-missing 1 msc --no-progress --read 60:8 device:fixtures/real-msc-read.urgcap
has dev-msc-missing err "sense key 0x3, asc 0x11"
has dev-msc-missing err "missing 4"
# Serial adapters at baud rates the recordings never set: the device's
# greeting and echo, as recorded.
for k in cp210x pl2303; do
    case $k in cp210x) chip=CP2102 ;; pl2303) chip=PL2303 ;; esac
    printf 'emulated %s ready\r\nping\r\n' $chip > "$TMP/dev-serial-$k.want"
    t "dev-serial-$k" 0 serial --baud 57600 --bytes 29 "device:fixtures/$k-serial.urgcap"
    same "$TMP/dev-serial-$k.out" "$TMP/dev-serial-$k.want"
done
t dev-fast-capture 2 lsusb --fast capture:fixtures/keyboard-lsusb.urgcap &&
    has dev-fast-capture err "--fast and --loop are for a device:FILE address"
t dev-none 1 lsusb device:/nonexistent.urgcap && has dev-none err "cannot replay"

# ---------------------------------------------------------------- usbmon recordings
# The model's usbmon captures of a device enumerated (lsusb) then used
# (fixtures/NAME.usbmon.pcap, tests/cli/make-fixtures.sh) serve the device as
# its usbredir recordings do - the same output - and so does each in the
# 48-byte form (link type USB_LINUX, written by tests/tools/usbmon-make).
UM="$B/tests/usbmon-make"
printf 'emulated FT232R ready\r\n' > "$TMP/um-serial.want"
t um-hid-ref 0 hid device:fixtures/keyboard-hid.urgcap
t um-msc-ref 0 msc --no-progress --read 32:16 -o "$TMP/um-msc-ref.bin" \
    device:fixtures/msc-write.urgcap
for form in 64 48; do
    for f in keyboard msc ftdi; do
        if [ $form = 64 ]; then
            cp "fixtures/$f.usbmon.pcap" "$TMP/$f.$form.pcap"
        else
            "$UM" cat --usb-linux "$TMP/$f.$form.pcap" "fixtures/$f.usbmon.pcap"
        fi
    done
    t "um-lsusb-$form" 0 lsusb "device:$TMP/keyboard.$form.pcap" &&
        golden "um-lsusb-$form" lsusb-keyboard.txt
    has "um-lsusb-$form" err "usb device 1.0 (0627:0001): the only one in the capture"
    has "um-lsusb-$form" err "not answerable 0"
    t "um-hid-$form" 0 hid "device:$TMP/keyboard.$form.pcap"
    same "$TMP/um-hid-$form.out" "$TMP/um-hid-ref.out"
    has "um-hid-$form" out 'typed: "hello world"'
    has "um-hid-$form" err "stream packets 22"
    t "um-msc-lsusb-$form" 0 lsusb "device:$TMP/msc.$form.pcap" &&
        golden "um-msc-lsusb-$form" lsusb-msc.txt
    t "um-msc-$form" 0 msc --no-progress --read 32:16 -o "$TMP/um-msc-$form.bin" \
        "device:$TMP/msc.$form.pcap"
    same "$TMP/um-msc-$form.bin" "$TMP/um-msc-ref.bin"
    has "um-msc-$form" out "md5 6a02b95f08ef18b5bbf661447389cf56"
    has "um-msc-$form" err "blocks read 16, missing 0"
    t "um-serial-$form" 0 serial --bytes 23 "device:$TMP/ftdi.$form.pcap"
    same "$TMP/um-serial-$form.out" "$TMP/um-serial.want"
done
# The speed: the interrupt URBs' interval says high (64-byte headers only).
has um-hid-64 err "speed high: interval 64 microframes for bInterval 7 on endpoint 0x81"
has um-hid-48 err "speed full: nothing in the capture says high or SuperSpeed"
has um-msc-64 err "speed super: bcdUSB 3.00"
# A bus: the keyboard at 1.5 and the disk at 1.7 in one capture. By
# default the disk (the most data); the keyboard when asked for.
"$UM" cat "$TMP/bus.pcap" --device 1.5 fixtures/keyboard.usbmon.pcap \
    --device 1.7 fixtures/msc.usbmon.pcap
t um-bus 0 lsusb "device:$TMP/bus.pcap" && golden um-bus lsusb-msc.txt
has um-bus err "usb device 1.7 (46f4:0001): the one with the most data"
has um-bus err "of the 2 devices (1.5, 1.7)"
t um-bus-kbd 0 lsusb --usb-device 1.5 "device:$TMP/bus.pcap" && golden um-bus-kbd lsusb-keyboard.txt
has um-bus-kbd err "usb device 1.5 (0627:0001): the one asked for"
t um-bus-none 1 lsusb --usb-device 2.9 "device:$TMP/bus.pcap" &&
    has um-bus-none err "$TMP/bus.pcap: no URBs of usb device 2.9 in the capture (its devices: 1.5, 1.7)"
t um-bus-bad 2 lsusb --usb-device 1 "device:$TMP/bus.pcap" &&
    has um-bus-bad err '--usb-device: "1" is not BUS.DEV'
# import says which device and why; the capture it writes serves the same.
t um-import 0 import --usb-device 1.5 "$TMP/bus.pcap" "$TMP/bus-kbd.urgcap" &&
    has um-import out "import: usb device 1.5 (0627:0001): the one asked for; speed high"
t um-import-hid 0 hid "device:$TMP/bus-kbd.urgcap"
same "$TMP/um-import-hid.out" "$TMP/um-hid-ref.out"
# the USB/IP bridge's device:FILE takes one too (its usage errors only here)
t um-dump 0 dump fixtures/keyboard.usbmon.pcap &&
    has um-dump out "device_connect id=0 0627:0001 speed=high class=00/00/00"
has um-dump err "fixtures/keyboard.usbmon.pcap: usb device 1.0 (0627:0001)"
# Damage: the file cut inside a record; not a capture of anything.
head -c 5000 fixtures/keyboard.usbmon.pcap > "$TMP/cut.pcap"
t um-cut 1 hid "device:$TMP/cut.pcap" && has um-cut err "$TMP/cut.pcap: truncated dump file"

# ---------------------------------------------------------------- serial
for k in ftdi cp210x pl2303; do
    case $k in ftdi) chip=FT232R ;; cp210x) chip=CP2102 ;; pl2303) chip=PL2303 ;; esac
    printf 'emulated %s ready\r\nping\r\n' $chip > "$TMP/serial-$k.want"
    start_emu e $k --report "$TMP/serial-$k.report"
    t "serial-$k" 0 serial --baud 9600 --send 'ping\r\n' --bytes 29 "$ADDR"
    wait_emu e
    same "$TMP/serial-$k.out" "$TMP/serial-$k.want"
    has "serial-$k" report "baud 9600"
    has "serial-$k" report "serial_received 6"
done
for k in cp210x pl2303; do
    t "serial-$k-fixture" 0 serial --baud 9600 --send 'ping\r\n' --bytes 29 \
        "capture:fixtures/$k-serial.urgcap"
    same "$TMP/serial-$k-fixture.out" "$TMP/serial-$k.want"
done
t serial-default 0 serial
printf 'emulated FT232R ready\r\n' > "$TMP/serial-default.want"
same "$TMP/serial-default.out" "$TMP/serial-default.want"
# What is typed on stdin goes out (the emulated adapter echoes it).
start_emu e ftdi --report "$TMP/serial-stdin.report"
# shellcheck disable=SC2086
printf 'typed\n' | $T serial --bytes 29 "$ADDR" > "$TMP/serial-stdin.out" 2> "$TMP/serial-stdin.err"
wait_emu e
printf 'emulated FT232R ready\r\ntyped\n' > "$TMP/serial-stdin.want"
same "$TMP/serial-stdin.out" "$TMP/serial-stdin.want"
# 115200 baud is 3 MHz / 26: the FT232R runs at 115385.
has serial-stdin report "baud 115385"
# The device's data is escaped but for line ends and tabs; --raw passes it
# unchanged (the emulated adapter echoes ESC [ 1 m and a BEL back).
for m in escaped raw; do
    start_emu e ftdi
    if [ $m = raw ]; then
        t serial-$m 0 serial --raw --send 'a\x1b[1mb\x07\r\n' --bytes 32 "$ADDR"
        printf 'emulated FT232R ready\r\na\033[1mb\007\r\n' > "$TMP/serial-$m.want"
    else
        t serial-$m 0 serial --send 'a\x1b[1mb\x07\r\n' --bytes 32 "$ADDR"
        printf 'emulated FT232R ready\r\na\\x1b[1mb\\x07\r\n' > "$TMP/serial-$m.want"
    fi
    wait_emu e
    same "$TMP/serial-$m.out" "$TMP/serial-$m.want"
done
start_emu e keyboard
t serial-notadapter 1 serial "$ADDR" && has serial-notadapter err "is not an FTDI, CP210x or PL2303"
wait_emu e

# ---------------------------------------------------------------- record, replay
start_emu e msc --blocks 256
t record 0 record "$TMP/rec.urgcap" lsusb "$ADDR" && golden record lsusb-msc.txt
wait_emu e
t record-replayed 0 lsusb "capture:$TMP/rec.urgcap" && golden record-replayed lsusb-msc.txt
t record-notdevice 2 record "$TMP/x.urgcap" dump x && has record-notdevice err "not a device command"
t diverged 4 lsusb capture:fixtures/keyboard-hid.urgcap &&
    has diverged err "diverged: capture packet" &&
    has diverged err "control_packet endpoint is 0x80, the capture has 0x00"

# replay as a usb-host that a guest connects to.
replay_at() { # replay_at FIXTURE: starts `replay`, sets ADDR and rp_pid
    mkfifo "$TMP/rp.fifo"
    # shellcheck disable=SC2086
    $T replay "$1" > "$TMP/rp.fifo" 2> "$TMP/rp.err" &
    rp_pid=$!
    exec 7< "$TMP/rp.fifo"
    read -r _line <&7
    ADDR=${_line#replay: listening on }
}
replay_done() { # replay_done NAME RC: collects the replay's output and exit code
    cat <&7 > "$TMP/$1.out"
    exec 7<&-
    rm -f "$TMP/rp.fifo"
    wait "$rp_pid"
    _rc=$?
    cp "$TMP/rp.err" "$TMP/$1.err"
    if [ $_rc -eq "$2" ]; then pass=$((pass + 1)); else bad "$1: replay exit $_rc, wanted $2"; fi
}
replay_at fixtures/keyboard-hid.urgcap
t replay-guest 0 hid -n 22 "$ADDR" && golden replay-guest hid-keyboard.txt
replay_done replay-host 0
has replay-host out "replay: replayed all"
# A pcap of a session (tests/fuzz/corpus/import: the fixtures as a network
# carries them): capture: and replay take it directly.
t replay-pcap-capture 0 lsusb capture:tests/fuzz/corpus/import/fixture-keyboard-lsusb.pcap &&
    golden replay-pcap-capture lsusb-keyboard.txt
has replay-pcap-capture err "the usb-host is 10.0.0.2:4000: it sent interface_info"
replay_at tests/fuzz/corpus/import/fixture-keyboard-hid.pcap
t replay-pcap-guest 0 hid -n 22 "$ADDR" && golden replay-pcap-guest hid-keyboard.txt
replay_done replay-pcap-host 0
has replay-pcap-host out "replay: replayed all"
t replay-pcap-wrong 1 replay --host-port 40000 tests/fuzz/corpus/import/fixture-keyboard-hid.pcap &&
    has replay-pcap-wrong err "port 40000 is the usb-guest's side"
replay_at fixtures/keyboard-lsusb.urgcap
t replay-wrong-guest 3 hid "$ADDR"
replay_done replay-wrong-host 4
has replay-wrong-host err "capture packet 6 (guest to host): control_packet endpoint is 0x00, the capture has 0x80"

# ---------------------------------------------------------------- dump, stats
t dump 0 dump fixtures/keyboard-hid.urgcap && golden dump dump-keyboard-hid.txt
t stats 0 stats fixtures/msc-read.urgcap && golden stats stats-msc-read.txt
t dump-bad 1 dump "$TMP/pattern.bin" && has dump-bad err "not a capture file"
# --full: each payload whole below its line, 16 bytes a line.
t dump-full 0 dump --full fixtures/keyboard-lsusb.urgcap
has dump-full out "        0000  12 01 00 02 00 00 00 40  27 06 01 00 00 00 01 02  .......@'......."
has dump-full out "        0010  03 01                                             .."
# --payload-of EP -o FILE: an endpoint's payload in order; the keyboard's
# 22 reports are the same bytes from its usbmon capture.
t dump-payload 0 dump --payload-of 0x81 -o "$TMP/kbd-reports.bin" fixtures/keyboard-hid.urgcap &&
    has dump-payload err "dump: 176 bytes of endpoint 0x81 in 22 packets to $TMP/kbd-reports.bin"
t dump-payload-um 0 dump --payload-of 129 -o "$TMP/kbd-reports-um.bin" fixtures/keyboard.usbmon.pcap
same "$TMP/kbd-reports.bin" "$TMP/kbd-reports-um.bin"
grep '^\[' tests/cli/expected/hid-keyboard.txt | sed 's/\].*//; s/\[//' | xxd -r -p > "$TMP/kbd-reports.want"
same "$TMP/kbd-reports.bin" "$TMP/kbd-reports.want"
# the disk's written blocks, OUT data of 0x02: the CBWs and the pattern
t dump-payload-out 0 dump --payload-of 0x02 -o "$TMP/msc-out.bin" fixtures/msc-write.urgcap
if grep -q ABCDEFGHIJKLMNOPQRSTUVWXYZABC "$TMP/msc-out.bin"; then pass=$((pass + 1)); else bad "dump-payload-out: no pattern in the OUT data"; fi
t dump-payload-usage 2 dump --payload-of 0x81 fixtures/keyboard-hid.urgcap &&
    has dump-payload-usage err "--payload-of EP and -o FILE go together"
t dump-payload-bad 2 dump --payload-of 0x31 -o "$TMP/x.bin" fixtures/keyboard-hid.urgcap &&
    has dump-payload-bad err '--payload-of: "0x31" is not an endpoint address'
# An iso endpoint that only an alternate setting has (the audio-like device
# of tests/support/usbmonw.c, as usbmon saw it): its packets went while the
# ep_info in force called it iso - alternate setting 0 takes it away later.
"$UM" audio "$TMP/audio.pcap"
t stats-alt 0 stats "$TMP/audio.pcap" &&
    has stats-alt out "0x81     iso                 0            0        96        16128  success 96"
# its payload: packet k of URB u holds (u * 8 + k), 192 bytes or (every 4th) 96
awk 'BEGIN { for (u = 0; u < 12; u++) for (k = 0; k < 8; k++) for (i = 0; i < (k % 4 == 3 ? 96 : 192); i++) printf "%c", u * 8 + k }' \
    > "$TMP/audio.want"
t dump-iso 0 dump --payload-of 0x81 -o - "$TMP/audio.pcap"
same "$TMP/dump-iso.out" "$TMP/audio.want"

# ---------------------------------------------------------------- export
# A capture to pcap and back: the same packets each way (import reads the
# first TCP connection; these fixtures have one), whole or cut into
# segments of 1, 7 and 1000 bytes; the host on the port given.
for f in keyboard-hid msc-write; do
    t "export-$f" 0 export "fixtures/$f.urgcap" "$TMP/$f.pcap"
    t "export-cut-$f" 0 export --host-port 5000 --segments 1,7,1000 "fixtures/$f.urgcap" \
        "$TMP/$f-cut.pcap"
    t "dump-$f" 0 dump "fixtures/$f.urgcap"
    t "dump-pcap-$f" 0 dump --host-port 4000 "$TMP/$f.pcap"
    t "dump-cut-$f" 0 dump --host-port 5000 "$TMP/$f-cut.pcap"
    cut -c19- "$TMP/dump-$f.out" > "$TMP/a.txt"
    cut -c19- "$TMP/dump-pcap-$f.out" > "$TMP/b.txt"
    cut -c19- "$TMP/dump-cut-$f.out" > "$TMP/c.txt"
    same "$TMP/a.txt" "$TMP/b.txt"
    same "$TMP/a.txt" "$TMP/c.txt"
done
t export-usage 2 export fixtures/keyboard-hid.urgcap
t export-bad-size 2 export --segments 1,0 fixtures/keyboard-hid.urgcap "$TMP/x.pcap" &&
    has export-bad-size err "--segments: \"1,0\" is not a list"
t export-big-size 2 export --segments 65496 fixtures/keyboard-hid.urgcap "$TMP/x.pcap"
t export-not-capture 1 export "$TMP/pattern.bin" "$TMP/x.pcap" && has export-not-capture err "not a capture"
t export-unwritable 1 export fixtures/keyboard-hid.urgcap /nonexistent-dir/x.pcap &&
    has export-unwritable err "/nonexistent-dir/x.pcap"

# ---------------------------------------------------------------- a tcpdump capture
start_emu e keyboard --text "hello world"
port=${ADDR##*:}
mkfifo "$TMP/td.fifo"
# -B: with whole frames (-s 0) the default 2 MiB ring holds 8 of them, and a
# burst of more is dropped by the kernel.
tcpdump -i lo -U --immediate-mode -s 0 -B 65536 -w "$TMP/live.pcap" "tcp port $port" \
    2> "$TMP/td.fifo" &
td_pid=$!
exec 6< "$TMP/td.fifo"
td_ready=0
while read -r _line <&6; do
    case $_line in *"listening on"*) td_ready=1; break ;; esac
done
if [ $td_ready = 1 ]; then
    t td-record 0 record "$TMP/live.urgcap" lsusb "$ADDR"
    wait_emu e
    if "$B/tests/pcap-fins" "$TMP/live.pcap" 2; then pass=$((pass + 1)); else bad "tcpdump missed the FINs"; fi
    kill "$td_pid"
    cat <&6 > "$TMP/td.stats"
    wait "$td_pid"
    if grep -qx '0 packets dropped by kernel' "$TMP/td.stats"; then
        pass=$((pass + 1))
    else
        bad "tcpdump dropped packets: $(tr '\n' ' ' < "$TMP/td.stats")"
    fi
    t td-import 0 import "$TMP/live.pcap" "$TMP/imported.urgcap" &&
        has td-import out "import: the usb-host is 127.0.0.1:$port: it sent interface_info (only a usb-host does)"
    t td-replayed 0 lsusb "capture:$TMP/imported.urgcap" && golden td-replayed lsusb-keyboard.txt
    t td-import-port 0 import --host-port "$port" "$TMP/live.pcap" "$TMP/imported2.urgcap" &&
        has td-import-port out "import: the usb-host is 127.0.0.1:$port: its port was given ($port)"
    same "$TMP/imported.urgcap" "$TMP/imported2.urgcap"
    # A port neither side has; the usb-guest's port: refused, saying why.
    t td-import-none 1 import --host-port 1 "$TMP/live.pcap" "$TMP/x.urgcap" &&
        has td-import-none err "neither side of the connection uses port 1 (its sides are"
    gport=$(sed -n 's/.*its sides are 127.0.0.1:\([0-9]*\) and 127.0.0.1:\([0-9]*\)).*/\1 \2/p' \
        "$TMP/td-import-none.err" | tr ' ' '\n' | grep -vx "$port")
    t td-import-guest 1 import --host-port "$gport" "$TMP/live.pcap" "$TMP/x.urgcap" &&
        has td-import-guest err "port $gport is the usb-guest's side (127.0.0.1:$gport): the usb-host is 127.0.0.1:$port, which sent interface_info"
    [ ! -e "$TMP/x.urgcap" ] && pass=$((pass + 1)) || bad "td-import-guest wrote a capture"
    # capture: and replay take the pcap as it is (imported in memory).
    t td-capture-pcap 0 lsusb "capture:$TMP/live.pcap" && golden td-capture-pcap lsusb-keyboard.txt
    has td-capture-pcap err "the usb-host is 127.0.0.1:$port: it sent interface_info"
    replay_at "$TMP/live.pcap"
    t td-replay-guest 0 lsusb "$ADDR" && golden td-replay-guest lsusb-keyboard.txt
    replay_done td-replay-host 0
    has td-replay-host out "replay: replayed all"
    # The same packets each way as the command's own recording, numbers and
    # times aside (how the two directions interleave may differ).
    t td-dump-pcap 0 dump "$TMP/live.pcap"
    t td-dump-rec 0 dump "$TMP/live.urgcap"
    for d in "guest -> host" "host  -> guest"; do
        grep -F "$d" "$TMP/td-dump-pcap.out" | cut -c19- > "$TMP/a.txt"
        grep -F "$d" "$TMP/td-dump-rec.out" | cut -c19- > "$TMP/b.txt"
        [ -s "$TMP/a.txt" ] || bad "no packets $d in the tcpdump capture"
        same "$TMP/a.txt" "$TMP/b.txt"
    done
    t td-stats 0 stats "$TMP/live.pcap" && has td-stats out "0x00     control"
else
    bad "tcpdump did not start (run as root, with tcpdump installed)"
    kill "$td_pid" 2> /dev/null
fi
exec 6<&-

echo "tests/cli/run.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]

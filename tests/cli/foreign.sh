#!/bin/sh
# foreign.sh BUILD - the recordings of a foreign usb-guest (QEMU's own
# usb-redir driven by Linux, fixtures/foreign-*; make fixtures-foreign)
# replayed as device:FILE into the command, each checked against its
# ground truth (fixtures/foreign-*.truth), not against what the command
# printed before: the keys typed, the md5 of each range of blocks the
# foreign Linux read or wrote, the serial bytes the device sent; lsusb
# against the golden files in tests/cli/expected/ (UPDATE=1 rewrites them:
# review the diff). Run by `make check` after tests/cli/run.sh (RUNNER=...
# wraps each run of the command). Prints each replay's coverage line.
set -u
B=$1
RUNNER=${RUNNER:-}
HERE=$(cd "$(dirname "$0")" && pwd)
EXP=$HERE/expected
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$HERE/check.sh"
# Each run bounded: a replay that never ends (the device neither sends nor
# goes) fails with exit 124 instead of hanging make check.
T="timeout 120 $RUNNER $B/usbredir-guest"
F=fixtures
pass=0
fail=0

# truth NAME KEY: the words after KEY on the line of fixtures/foreign-NAME.truth
# that starts with it (the first such line).
truth() {
    sed -n "s/^$2 //p" "$F/foreign-$1.truth" | head -n 1
}

# coverage NAME: the replay's coverage line (its last line on stderr).
coverage() {
    echo "coverage: $1: $(grep 'the recording' "$TMP/$1.err" | sed 's/.*: answered/answered/')"
}

# ---------------------------------------------------------------- keyboard
# The keys typed (QEMU's sendkey in the device VM, evdev in the foreign
# Linux) print as typed; the key reports in order as in the golden file.
# The recording's interrupt IN data also has the all-zero reports the
# keyboard repeated while SeaBIOS polled it with an idle rate (SET_IDLE 32
# ms); the device serves them too (a report equal to the one before: no
# key changes), so the golden file leaves those lines out. --fast: the
# recorded pace would take 15 s (the firmware, then Linux booting).
if t foreign-hid 0 hid --fast device:$F/foreign-keyboard.urgcap; then
    has foreign-hid out "typed: \"$(truth keyboard typed)\""
    has foreign-hid err "not answerable 0;"
    grep -v '^\[00 00 00 00 00 00 00 00\]$' "$TMP/foreign-hid.out" | grep -v '^[0-9]* reports$' \
        > "$TMP/foreign-hid-keys.out"
    golden foreign-hid-keys hid-foreign-keyboard.txt
    n=$(grep -c '^\[' "$TMP/foreign-hid.out")
    echo "foreign-hid: $n reports: the $(truth keyboard reports | cut -d' ' -f1) of the keys and $((n - $(truth keyboard reports | cut -d' ' -f1))) repeated idle ones"
fi
coverage foreign-hid

# ---------------------------------------------------------------- disk
# Every range the foreign Linux read (and the one it wrote, read back): the
# md5 of the truth, from the disk the device rebuilt from the recorded
# READs and WRITEs, and the blocks in a file equal to it; a block never
# recorded is a medium error.
sed -n 's/^read //p' "$F/foreign-disk.truth" > "$TMP/reads"
[ -s "$TMP/reads" ] || bad "fixtures/foreign-disk.truth has no read lines"
i=0
while read -r lba count sum; do
    i=$((i + 1))
    if t "foreign-msc-$i" 0 msc --no-progress --read "$lba:$count" -o "$TMP/msc-$i.bin" \
        device:$F/foreign-disk.urgcap; then
        has "foreign-msc-$i" out "read $count blocks ($((count * 512)) bytes) from block $lba"
        has "foreign-msc-$i" out "md5 $sum"
        if [ "$(md5 "$TMP/msc-$i.bin")" = "$sum" ]; then
            pass=$((pass + 1))
        else
            bad "foreign-msc-$i: the file of blocks $lba:$count has md5 $(md5 "$TMP/msc-$i.bin"), the truth $sum"
        fi
        has "foreign-msc-$i" err "not answerable 0;"
    fi
    coverage "foreign-msc-$i"
done < "$TMP/reads"
t foreign-msc-missing 1 msc --no-progress --read 8192:1 device:$F/foreign-disk.urgcap &&
    has foreign-msc-missing err "READ(10) failed: sense key 0x3, asc 0x11"
coverage foreign-msc-missing

# ---------------------------------------------------------------- serial
# The bytes the device sent (written into the FTDI's chardev in the device
# VM, read by the foreign Linux from ttyUSB0), exactly, then the device goes.
# shellcheck disable=SC2046 # (its three words)
set -- $(truth serial to-guest)
seq -w "$3" 999999 | head -c "$1" > "$TMP/serial.want"
if [ "$(md5 "$TMP/serial.want")" != "$2" ]; then
    bad "fixtures/foreign-serial.truth: to-guest md5 $2, but its pattern has $(md5 "$TMP/serial.want")"
fi
if t foreign-serial 0 serial device:$F/foreign-serial.urgcap; then
    same "$TMP/foreign-serial.out" "$TMP/serial.want"
    has foreign-serial err "not answerable 0;"
fi
coverage foreign-serial

# ---------------------------------------------------------------- lsusb
# Each device's descriptors as the foreign guest's enumeration read them.
# lsusb-foreign-disk.txt is QEMU's usb-storage as it is, as
# lsusb-real-msc.txt shows it read live: GET_STATUS says self-powered
# (its configuration's bmAttributes 0xc0); the device qualifier, which the
# foreign guest never asked for, is left out (not answerable).
for k in keyboard disk serial; do
    t "foreign-lsusb-$k" 0 lsusb device:$F/foreign-$k.urgcap &&
        golden "foreign-lsusb-$k" "lsusb-foreign-$k.txt"
    coverage "foreign-lsusb-$k"
done

echo "tests/cli/foreign.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]

#!/bin/sh
# lua-option.sh LUA - prints the dissector tshark should be given with
# -X lua_script: LUA, or nothing when Wireshark loads a usbredir.lua of its
# own (installed in a plugin folder) that is the same file, since tshark
# would otherwise load both. Exits 1, saying why, when the one installed is
# another. Run with the HOME the tests give tshark.
set -u
LUA=$1
installed=$(tshark -G plugins 2> /dev/null | awk -F '\t' '$1 == "usbredir.lua" { print $4 }')
if [ -z "$installed" ]; then
    echo "$LUA"
elif cmp -s "$installed" "$LUA"; then
    echo
else
    echo "$installed is installed and is not $LUA: tshark would load both;" \
        "install this one (make install) or remove it" >&2
    exit 1
fi

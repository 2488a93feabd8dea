#!/bin/sh
# symbols.sh SOVERSION LIB.so.VERSION... - the exported-symbol check (make
# check-symbols): each shared library exports only urg_ names, its static
# archive (LIB.a beside it) has only urg_ global symbols, and its soname is
# LIB.so.SOVERSION.
#
# Needs the libraries built (make lib); nm, readelf (binutils).
set -eu
SOVERSION=$1
shift
for so in "$@"; do
    bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^urg_' || true)
    if [ -n "$bad" ]; then echo "non-urg_ symbols exported by $so:"; echo "$bad"; exit 1; fi
done
for so in "$@"; do
    a=${so%%.so.*}.a
    bad=$(nm -g --defined-only "$a" | awk 'NF==3 {print $3}' | grep -v '^urg_' || true)
    if [ -n "$bad" ]; then echo "non-urg_ global symbols in $a:"; echo "$bad"; exit 1; fi
done
counts=""
sonames=""
for so in "$@"; do
    soname=$(basename "${so%%.so.*}").so.$SOVERSION
    readelf -d "$so" | grep -q "SONAME.*$soname" || { echo "soname is not $soname"; exit 1; }
    counts="$counts${counts:+ + }$(nm -D --defined-only "$so" | wc -l)"
    sonames="$sonames${sonames:+, }$soname"
done
echo "== exported symbols: $counts, all urg_; sonames $sonames"

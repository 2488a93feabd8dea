# check.sh - the checks of tests/cli/run.sh and tests/cli/foreign.sh, each
# counted in pass or fail. Needs T (the command, under RUNNER), TMP (a
# scratch folder), EXP (tests/cli/expected) and pass=0 fail=0 set.

bad() {
    echo "FAIL: $*" >&2
    fail=$((fail + 1))
}

# t NAME RC COMMAND-ARGS...: runs the command (stdin from /dev/null),
# stdout to $TMP/NAME.out, stderr to $TMP/NAME.err; checks the exit code.
t() {
    _n=$1
    _want=$2
    shift 2
    # shellcheck disable=SC2086
    $T "$@" < /dev/null > "$TMP/$_n.out" 2> "$TMP/$_n.err"
    _rc=$?
    if [ "$_rc" -ne "$_want" ]; then
        bad "$_n: exit $_rc, wanted $_want ($*)"
        sed 's/^/    /' "$TMP/$_n.err" >&2
        return 1
    fi
    pass=$((pass + 1))
    return 0
}

# golden NAME FILE: $TMP/NAME.out, throughput lines dropped, equals FILE.
golden() {
    grep -v '^throughput:' "$TMP/$1.out" | sed "s|$TMP|TMP|g" > "$TMP/$1.cmp"
    if [ "${UPDATE:-0}" = 1 ]; then
        cp "$TMP/$1.cmp" "$EXP/$2"
    fi
    if diff -u "$EXP/$2" "$TMP/$1.cmp" > "$TMP/$1.diff"; then
        pass=$((pass + 1))
    else
        bad "$1: output differs from expected/$2"
        head -n 40 "$TMP/$1.diff" >&2
    fi
}

# has NAME WHERE TEXT: $TMP/NAME.WHERE (out or err) contains TEXT.
has() {
    if grep -qF -- "$3" "$TMP/$1.$2"; then
        pass=$((pass + 1))
    else
        bad "$1: std$2 lacks \"$3\""
        sed 's/^/    /' "$TMP/$1.$2" | head -n 20 >&2
    fi
}

# same A B: the two files are equal.
same() {
    if cmp -s "$1" "$2"; then
        pass=$((pass + 1))
    else
        bad "$1 and $2 differ"
        diff "$1" "$2" | head -n 10 >&2
    fi
}

md5() { md5sum "$1" | cut -d' ' -f1; }

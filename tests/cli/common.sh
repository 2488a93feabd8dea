# common.sh - shell helpers for tests/cli/run.sh and make-fixtures.sh.
# Needs B (the build folder) and TMP (a scratch folder) set.

EMU="$B/tests/emuhost-server"

# start_emu NAME KIND [OPTIONS]: starts the emulated host serving one
# connection (--once, as usbredirect does); sets ADDR and NAME_pid. The
# address is read from the line it prints once it accepts (no waiting).
start_emu() {
    _name=$1
    shift
    rm -f "$TMP/$_name.fifo"
    mkfifo "$TMP/$_name.fifo"
    "$EMU" "$@" --once > "$TMP/$_name.fifo" &
    eval "${_name}_pid=$!"
    exec 9< "$TMP/$_name.fifo"
    read -r _line <&9 || _line=""
    exec 9<&-
    ADDR=${_line#listening on }
    if [ -z "$_line" ] || [ "$ADDR" = "$_line" ]; then
        echo "emuhost-server $* did not start" >&2
        return 1
    fi
}

# wait_emu NAME: waits for that emulated host to exit (it does after its one
# connection ends) - so its --report and --disk-out files are written.
wait_emu() {
    eval "wait \$${1}_pid"
}

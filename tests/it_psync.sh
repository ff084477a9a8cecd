#!/usr/bin/env bash
# it_psync.sh -- the replica link's phases and its recovery, against real
# redis-server 7.0 processes.
#
#   phases     a source with repl-diskless-sync-delay 2: the status says
#              "connecting to the source" once, then "waiting for the source
#              to start the snapshot" (the delay is not "connecting"); a
#              source that is down gives its one error line and no
#              "offset -1" status line before it (exit 5)
#
# KEEP_TMP=1 keeps the server dirs and logs; PSYNC_SCENARIOS="phases" runs
# only those.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip psync "no binary at $RDBSYNC (run make)"
    exit 0
fi

SYNC_PID=

note() { printf '# %s\n' "$*" >&2; }
info() { rs_cli "$1" INFO "$2" | tr -d '\r' | sed -n "s/^$3://p" || true; }

# Only our own rdbsync, by PID, and only while it is one.
kill_sync() {
    local pid=$1
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q rdbsync "/proc/$pid/cmdline" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi
}

# sync_start NAME SRC TGT [args...]: rdbsync in the background, stderr in
# $IT_TMP/NAME.err; SYNC_PID.
sync_start() {
    local name=$1 src=$2 tgt=$3
    shift 3
    "$RDBSYNC" --source "$(rs_url "$src")" --target "$(rs_url "$tgt")" "$@" \
        >"$IT_TMP/$name.out" 2>"$IT_TMP/$name.err" &
    SYNC_PID=$!
    on_exit "kill_sync $SYNC_PID"
}

# sync_stop: SIGTERM, wait up to 10 s (then KILL); STOP_RC.
sync_stop() {
    local deadline=$((SECONDS + 10))
    kill -TERM "$SYNC_PID" 2>/dev/null || true
    while kill -0 "$SYNC_PID" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then kill_sync "$SYNC_PID"; break; fi
        sleep 0.05
    done
    STOP_RC=0
    wait "$SYNC_PID" 2>/dev/null || STOP_RC=$?
}

has_line() { grep -q -- "$2" "$IT_TMP/$1.err"; }
show_err() {
    note "rdbsync stderr ($1), last lines:"
    tail -n 12 "$IT_TMP/$1.err" | cut -c1-300 | sed 's/^/#   /' >&2
}

# ---- phases ----

phases() {
    local t=phases rc=0 down
    rs_start "${t}_src" --repl-diskless-sync yes --repl-diskless-sync-delay 2
    rs_start "${t}_tgt"
    rs_cli "${t}_src" DEBUG POPULATE 1000 >/dev/null
    sync_start "$t" "${t}_src" "${t}_tgt"
    if wait_until 15 has_line "$t" 'snapshot applied'; then pass "$t.applied"; else fail "$t.applied" "no snapshot"; fi
    sync_stop
    assert_eq "$t.connecting_once" 1 "$(grep -c 'connecting to the source' "$IT_TMP/$t.err" || true)"
    # The delay is its own phase, after connecting, before the snapshot.
    assert_eq "$t.phase_order" "connecting to the source|waiting for the source to start the snapshot|snapshot applied" \
        "$(grep -o -E 'connecting to the source|waiting for the source to start the snapshot|snapshot applied' \
            "$IT_TMP/$t.err" | head -n 3 | paste -sd'|')"
    # A source that is down: its one error line, no status line with a
    # made-up offset before it.
    down=$(free_port)
    timeout -k 5 15 "$RDBSYNC" --source "redis://127.0.0.1:$down" --target "$(rs_url "${t}_tgt")" \
        >/dev/null 2>"$IT_TMP/$t.down.err" || rc=$?
    assert_eq "$t.down.exit" 5 "$rc"
    if grep -q 'offset -1' "$IT_TMP/$t.down.err"; then fail "$t.down.no_offset_minus_1" "$(it_show "$(cat "$IT_TMP/$t.down.err")")"
    else pass "$t.down.no_offset_minus_1"; fi
    assert_match "$t.down.last_line_is_error" "cannot connect to 127\.0\.0\.1:$down" "$(tail -n 1 "$IT_TMP/$t.down.err")"
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- main ----

for s in ${PSYNC_SCENARIOS:-phases}; do
    t0=$SECONDS
    case $s in
    phases) phases ;;
    *) fail "psync.scenario" "unknown scenario '$s'" ;;
    esac
    note "$s: $((SECONDS - t0)) s"
done

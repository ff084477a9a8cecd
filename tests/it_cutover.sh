#!/usr/bin/env bash
# it_cutover.sh -- the switch at the end of a live sync (SIGUSR1, --cutover),
# against real redis-server 7.0 processes under a running write load
# (tests/sync/load.c, without short TTLs or consumer reads, whose state a
# target cannot share).
#
#   signal     SIGUSR1 to a running sync: exit 0 with the one line
#              "cut-over: target identical to the source at offset N; source
#              writes paused until HH:MM:SS", N the source's
#              master_repl_offset; a write to the source does not complete
#              (paused) while reads do; DEBUG DIGEST of target and source
#              equal; once the pause ends, the source takes writes again
#   cold       --cutover --cutover-verify from a cold start under the load:
#              full sync, catch up, cut over by itself; the verification
#              says equal, the same line, exit 0, digests equal
#   short      a target asleep (DEBUG SLEEP 4) and --pause-timeout 1: the
#              target cannot reach the final offset in the pause, so the
#              source is unpaused ("source writes unpaused"), nothing is
#              claimed, exit 10, and a write to the source completes at once
#   abandon    SIGTERM while the source is paused and the target asleep:
#              the pause is lifted ("cut-over abandoned (SIGTERM)"), exit 10
#   early      SIGUSR1 during the snapshot load waits for it ("cut-over
#              requested: waiting"); a SIGTERM then ends the run (exit 9)
#              saying the cut-over never began; the source was never paused
#   old        --cutover against Redis 2.8 (no CLIENT PAUSE WRITE): refused
#              before the full sync, exit 1 (skipped without
#              ../shared/servers)
#
# KEEP_TMP=1 keeps the server dirs and logs; CUTOVER_SCENARIOS="signal"
# runs only those.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip cutover "no binary at $RDBSYNC (run make)"
    exit 0
fi
load_build cutover || exit 0

SYNC_PID=
LOAD_PID=
in_sync() { tail -n 2 "$IT_TMP/$1.err" | grep -q 'in sync'; }
show_err() {
    note "rdbsync stderr ($1), last lines:"
    tail -n 12 "$IT_TMP/$1.err" | cut -c1-300 | sed 's/^/#   /' >&2
}
load_bg() {
    "$LOAD" --port "$(rs_port "$1")" --seconds "$2" --rate 1500 --no-volatile --no-groups --quiet \
        >"$IT_TMP/load.out" 2>&1 &
    LOAD_PID=$!
    on_exit "kill $LOAD_PID 2>/dev/null || true"
}
load_stop() { kill "$LOAD_PID" 2>/dev/null || true; wait "$LOAD_PID" 2>/dev/null || true; }
# A write that cannot complete within a second: the source's writes paused.
write_blocked() { ! timeout 1 redis-cli -p "$(rs_port "$1")" SET cutover:probe 1 >/dev/null 2>&1; }
write_ok() { [ "$(timeout 2 redis-cli -p "$(rs_port "$1")" SET cutover:probe 2 2>/dev/null)" == OK ]; }

# assert_cutover TEST NAME SRC TGT: the line, the offset, the pause, the data.
assert_cutover() {
    local t=$1 name=$2 src=$3 tgt=$4 line off
    line=$(grep '^cut-over:' "$IT_TMP/$name.out" || true)
    assert_match "$t.line" '^cut-over: target identical to the source at offset [0-9]+; source writes paused until [0-9]{2}:[0-9]{2}:[0-9]{2}$' "$line"
    off=$(sed -n 's/^cut-over: .* at offset \([0-9]*\);.*/\1/p' <<<"$line")
    assert_eq "$t.final_offset" "$(info "$src" replication master_repl_offset)" "$off"
    if write_blocked "$src"; then pass "$t.source_writes_paused"; else fail "$t.source_writes_paused" "a SET completed"; fi
    assert_eq "$t.reads_go_on" PONG "$(timeout 1 redis-cli -p "$(rs_port "$src")" PING || true)"
    assert_eq "$t.digest_equal" "$(rs_digest "$src")" "$(rs_digest "$tgt")"
    assert_eq "$t.dbsize_equal" "$(rs_cli "$src" DBSIZE)" "$(rs_cli "$tgt" DBSIZE)"
}

# ---- signal ----

signal() {
    local t=signal
    rs_start "${t}_src" --repl-diskless-sync-delay 0
    rs_start "${t}_tgt"
    rs_cli "${t}_src" DEBUG POPULATE 20000 key 50 >/dev/null
    load_bg "${t}_src" 30
    sync_start "$t" "${t}_src" "${t}_tgt" --pause-timeout 6 --status-interval 1
    wait_until 20 has_line "$t" 'snapshot applied' || note "$t: no snapshot"
    sleep 2
    kill -USR1 "$SYNC_PID"
    sync_exit 10
    assert_eq "$t.exit" 0 "$EXIT_RC"
    if [ "$EXIT_RC" != 0 ]; then show_err "$t"; fi
    assert_cutover "$t" "$t" "${t}_src" "${t}_tgt"
    load_stop
    if wait_until 8 write_ok "${t}_src"; then pass "$t.writes_after_pause"; else fail "$t.writes_after_pause" "still paused"; fi
}

# ---- cold ----

cold() {
    local t=cold
    rs_start "${t}_src" --repl-diskless-sync-delay 0
    rs_start "${t}_tgt"
    rs_cli "${t}_src" DEBUG POPULATE 20000 key 50 >/dev/null
    load_bg "${t}_src" 40
    sleep 1
    sync_start "$t" "${t}_src" "${t}_tgt" --cutover --cutover-verify --pause-timeout 20
    sync_exit 45
    assert_eq "$t.exit" 0 "$EXIT_RC"
    if [ "$EXIT_RC" != 0 ]; then show_err "$t"; fi
    assert_ok "$t.snapshot_first" has_line "$t" 'snapshot applied'
    assert_match "$t.verified" '^verify: equal: [0-9]+ source keys checked, 0 differ' "$(grep '^verify:' "$IT_TMP/$t.out" || true)"
    assert_cutover "$t" "$t" "${t}_src" "${t}_tgt"
    load_stop
}

# ---- short ----

short() {
    local t=short sleeper
    rs_start "${t}_src" --repl-diskless-sync-delay 0
    rs_start "${t}_tgt"
    rs_cli "${t}_src" DEBUG POPULATE 5000 >/dev/null
    load_bg "${t}_src" 30
    sync_start "$t" "${t}_src" "${t}_tgt" --pause-timeout 1 --status-interval 1
    wait_until 20 in_sync "$t" || note "$t: never in sync"
    rs_cli "${t}_tgt" DEBUG SLEEP 4 >/dev/null &
    sleeper=$!
    sleep 0.3
    kill -USR1 "$SYNC_PID"
    sync_exit 15
    assert_eq "$t.exit" 10 "$EXIT_RC"
    assert_match "$t.said_why" 'cut-over failed: the target reached offset [0-9]+ of [0-9]+ before the pause \(--pause-timeout 1.0 s\) ran out; source writes unpaused at [0-9:]{8}; nothing was switched' \
        "$(cat "$IT_TMP/$t.err")"
    assert_eq "$t.no_claim" "" "$(grep '^cut-over:' "$IT_TMP/$t.out" || true)"
    if write_ok "${t}_src"; then pass "$t.source_writable"; else fail "$t.source_writable" "a SET did not complete"; fi
    wait "$sleeper" 2>/dev/null || true
    load_stop
}

# ---- abandon ----

abandon() {
    local t=abandon sleeper
    rs_start "${t}_src" --repl-diskless-sync-delay 0
    rs_start "${t}_tgt"
    rs_cli "${t}_src" DEBUG POPULATE 5000 >/dev/null
    load_bg "${t}_src" 30
    sync_start "$t" "${t}_src" "${t}_tgt" --pause-timeout 20 --status-interval 1
    wait_until 20 has_line "$t" 'snapshot applied' || note "$t: no snapshot"
    rs_cli "${t}_tgt" DEBUG SLEEP 3 >/dev/null &
    sleeper=$!
    sleep 0.3
    kill -USR1 "$SYNC_PID"
    wait_until 5 has_line "$t" 'cut-over: source writes paused until' || note "$t: no pause"
    kill -TERM "$SYNC_PID"
    sync_exit 15
    assert_eq "$t.exit" 10 "$EXIT_RC"
    assert_ok "$t.said" has_line "$t" 'cut-over abandoned (SIGTERM): source writes unpaused; nothing was switched'
    assert_eq "$t.no_claim" "" "$(grep '^cut-over:' "$IT_TMP/$t.out" || true)"
    if write_ok "${t}_src"; then pass "$t.source_writable"; else fail "$t.source_writable" "a SET did not complete"; fi
    wait "$sleeper" 2>/dev/null || true
    load_stop
}

# ---- early ----

early() {
    local t=early
    rs_start "${t}_src" --repl-diskless-sync yes --repl-diskless-sync-delay 0 --rdb-key-save-delay 500
    rs_start "${t}_tgt"
    rs_cli "${t}_src" DEBUG POPULATE 10000 >/dev/null
    sync_start "$t" "${t}_src" "${t}_tgt" --status-interval 1
    sleep 1
    kill -USR1 "$SYNC_PID"
    wait_until 5 has_line "$t" 'cut-over requested: waiting for the snapshot' || note "$t: not said"
    kill -TERM "$SYNC_PID"
    sync_exit 15
    assert_eq "$t.exit" 9 "$EXIT_RC"
    assert_ok "$t.waiting_said" has_line "$t" 'cut-over requested: waiting for the snapshot to be applied'
    assert_ok "$t.not_begun_said" has_line "$t" 'cut-over requested but not begun: the sync ended first; nothing was paused or switched'
    if write_ok "${t}_src"; then pass "$t.source_writable"; else fail "$t.source_writable" "a SET did not complete"; fi
}

# ---- old ----

old() {
    local t=old
    if ! rs_version_bin redis-2.8.24 >/dev/null; then skip "$t" "no ../shared/servers/redis-2.8.24"; return 0; fi
    # rs_start_v: a free port, retried when another test takes it first.
    rs_start_v "${t}_src" redis-2.8.24 || { fail "$t.start" "redis 2.8.24 did not start"; return 0; }
    local port
    port=$(rs_port "${t}_src")
    rs_start "${t}_tgt"
    rdb_run "$t" --source "redis://127.0.0.1:$port" --target "$(rs_url "${t}_tgt")" --cutover
    assert_eq "$t.exit" 1 "$RC"
    assert_match "$t.line" '--cutover: the source \(Redis 2\.8\.24\) has no CLIENT PAUSE WRITE' "$(cat "$IT_TMP/$t.err")"
    assert_eq "$t.nothing_written" 0 "$(rs_cli "${t}_tgt" DBSIZE)"
    rs_stop "${t}_src"
}

for s in ${CUTOVER_SCENARIOS:-signal cold short abandon early old}; do
    "$s"
done

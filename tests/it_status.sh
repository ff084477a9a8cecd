#!/usr/bin/env bash
# it_status.sh -- status lines an operator can follow (#14), against real
# redis-server 7.0 processes; stderr is a file here (not a terminal).
#
# 1. stamped   live sync with --status-interval 1: every status line carries
#              a UTC timestamp after the prefix ("rdbsync: 2026-...Z ..."),
#              error/info lines keep the bare prefix; "in sync" shows up.
# 2. hung      the target stopped (SIGSTOP) for 7 s while the source takes
#              writes: status lines go on and say so ("target not answering
#              for N s" while the apply side can still run, "waiting on the
#              target for N s" once it blocks on a full window; at least 3
#              such lines), never "in sync" meanwhile; after SIGCONT
#              "in sync" again and the datasets are DEBUG DIGEST-equal.
# 3. json      --log-format json: every stderr line is a JSON object with
#              time, level and msg; status lines have a phase; the "snapshot
#              applied" line is level info.
# 4. follow    scan mode following changes: the status line shows the lag
#              ("N events pending (oldest N ms)") and "in sync" when idle.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
rs_start S --enable-debug-command yes || exit 1
rs_cli S DEBUG POPULATE 5000 key 20 >/dev/null

PIDS=()
bg() { # bg NAME args...: rdbsync in the background, stderr to NAME.err
    local n=$1
    shift
    "$RDBSYNC" "$@" 2>"$IT_TMP/$n.err" &
    PIDS+=($!)
    eval "PID_$n=$!"
}
stop_bg() { local p="PID_$1"; kill -TERM "${!p}" 2>/dev/null; wait "${!p}" 2>/dev/null; }
on_exit 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done'
has() { grep -q -E "$2" "$IT_TMP/$1.err"; }
lines_from() { tail -n +"$(($2 + 1))" "$IT_TMP/$1.err"; }

# 1 + 2
rs_start T --enable-debug-command yes || exit 1
bg live --source "$(rs_url S)" --target "$(rs_url T)" --status-interval 1
if wait_until 30 has live 'in sync'; then pass status.stamped.in_sync; else fail status.stamped.in_sync "$(tail -3 "$IT_TMP/live.err")"; fi
st=$(grep -E 'streaming: ' "$IT_TMP/live.err" | head -n 1)
assert_match status.stamped.status_line "^rdbsync: $TS streaming: offset [0-9]+" "$st"
assert_match status.stamped.info_line_bare "^rdbsync: snapshot applied \(5000 keys read, 5000 written\); streaming$" \
    "$(grep 'snapshot applied' "$IT_TMP/live.err")"

n0=$(wc -l <"$IT_TMP/live.err")
kill -STOP "$RS_PID_T"
# Enough commands to fill the writer's window: the apply side then blocks.
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "SET w:%d %d\r\n", i, i }' | redis-cli -p "$RS_PORT_S" --pipe >/dev/null
sleep 7
during=$(lines_from live "$n0")
kill -CONT "$RS_PID_T"
waits=$(grep -c -E '(waiting on the target|target not answering) for [0-9]+ s' <<<"$during" || true)
if [ "$waits" -ge 3 ]; then pass status.hung.lines_go_on; else fail status.hung.lines_go_on "$waits lines in 7 s: $(tail -c 400 <<<"$during")"; fi
if grep -q 'in sync' <<<"$during"; then fail status.hung.no_in_sync "$(grep -m1 'in sync' <<<"$during")"; else pass status.hung.no_in_sync; fi
n1=$(wc -l <"$IT_TMP/live.err")
if wait_until 20 eval 'lines_from live '"$n1"' | grep -q "in sync"'; then pass status.hung.in_sync_again; else fail status.hung.in_sync_again "$(tail -3 "$IT_TMP/live.err")"; fi
wait_until 10 test "$(rs_digest S)" = "$(rs_digest T)" || true
assert_eq status.hung.digest "$(rs_digest S)" "$(rs_digest T)"
stop_bg live

# 3
rs_start T2 || exit 1
bg json --source "$(rs_url S)" --target "$(rs_url T2)" --status-interval 1 --log-format json
wait_until 30 has json 'in sync' || true
stop_bg json
if jq -e -s 'length > 2 and all(.[]; (.time | test("^[0-9T:.-]+Z$")) and has("level") and has("msg"))' \
    "$IT_TMP/json.err" >/dev/null 2>&1; then pass status.json.objects
else fail status.json.objects "$(head -c 400 "$IT_TMP/json.err")"; fi
assert_eq status.json.status_has_phase true \
    "$(jq -s 'map(select(.level == "status")) | length > 0 and all(.[]; has("phase"))' "$IT_TMP/json.err" 2>/dev/null)"
assert_eq status.json.applied_is_info info \
    "$(jq -r 'select(.msg | startswith("snapshot applied")) | .level' "$IT_TMP/json.err" 2>/dev/null)"

# 4
rs_start T3 || exit 1
bg follow --mode scan --source "$(rs_url S)" --target "$(rs_url T3)" --status-interval 1
if wait_until 30 has follow 'following: 0 events pending \(oldest 0 ms\), 0 writes unacknowledged, in sync'; then
    pass status.follow.in_sync
else fail status.follow.in_sync "$(tail -3 "$IT_TMP/follow.err")"; fi
assert_match status.follow.lag_shape "events pending \(oldest [0-9]+ ms\)" "$(grep -m1 following: "$IT_TMP/follow.err")"
stop_bg follow
exit 0

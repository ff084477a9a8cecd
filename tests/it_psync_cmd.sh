#!/usr/bin/env bash
# it_psync_cmd.sh -- a source whose PSYNC is renamed (as managed services
# hand out on request) and whose SYNC is gone: with --psync-command NAME,
# rdbsync still copies as a replica (the source counts a full sync) rather
# than falling back to scan mode; without it, it falls back and says so.
# Live, such a link (no offsets) shows bytes since the snapshot, never -1.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip psynccmd "no binary at $RDBSYNC (run make)"
    exit 0
fi
rs_start src --repl-diskless-sync-delay 0 --rename-command PSYNC xpsync42 --rename-command SYNC ""
rs_start dst
rs_start dst2
rs_start dst3
bash "$ROOT/tests/gen_dataset.sh" "$(rs_port src)" >/dev/null 2>&1 || { fail psynccmd.dataset "gen_dataset failed"; exit 0; }

err=$("$RDBSYNC" --source "$(rs_url src)" --target "$(rs_url dst)" --psync-command xpsync42 --once -q 2>&1 >/dev/null) && rc=0 || rc=$?
assert_eq psynccmd.exit 0 "$rc"
assert_eq psynccmd.digest "$(rs_digest src)" "$(rs_digest dst)"
full=$(rs_cli src INFO stats | tr -d '\r' | sed -n 's/^sync_full://p')
assert_eq psynccmd.full_sync_counted 1 "$full"
if [[ $err == *"scan mode"* ]]; then fail psynccmd.no_scan "fell back to scan mode: $(it_show "$err")"; else pass psynccmd.no_scan; fi

err=$("$RDBSYNC" --source "$(rs_url src)" --target "$(rs_url dst2)" --once -q 2>&1 >/dev/null) && rc=0 || rc=$?
assert_eq psynccmd.without.exit 0 "$rc"
assert_match psynccmd.without.says_scan 'switching to scan mode' "$err"
assert_eq psynccmd.without.digest "$(rs_digest src)" "$(rs_digest dst2)"

out=$("$RDBSYNC" --source "$(rs_url src)" --psync-command xpsync42 --checksum 2>/dev/null | grep '^rdb_version' || true)
assert_eq psynccmd.live_checksum_via_replica 'rdb_version: 10' "$out"

# A SYNC-style link has no source offsets: the status says what ours count
# (bytes since the snapshot), never "offset -1".
"$RDBSYNC" --source "$(rs_url src)" --target "$(rs_url dst3)" --psync-command xpsync42 \
    >/dev/null 2>"$IT_TMP/live.err" &
pid=$!
on_exit "kill $pid 2>/dev/null || true"
applied() { grep -q 'snapshot applied' "$IT_TMP/live.err"; }
wait_until 15 applied || true
rs_cli src SET after:snapshot 1 >/dev/null
has_after() { [ "$(rs_cli dst3 GET after:snapshot)" == 1 ]; }
wait_until 10 has_after || true
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
err=$(cat "$IT_TMP/live.err")
assert_match psynccmd.sync_style.status 'streaming: [0-9]+ bytes applied since the snapshot' "$err"
if [[ $err == *"offset -1"* ]]; then fail psynccmd.sync_style.no_offset_minus_1 "$(it_show "$err")"
else pass psynccmd.sync_style.no_offset_minus_1; fi
assert_eq psynccmd.sync_style.stream_applied 1 "$(rs_cli dst3 GET after:snapshot)"

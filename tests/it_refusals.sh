#!/usr/bin/env bash
# it_refusals.sh -- one cause, one line (#14): refusals that share a cause
# print the first with its key and one line counting the rest, never a line
# per key; the counts still add up and the exit status is 6.
#
# A target with maxmemory 2 MB and noeviction refuses most of a 3,000-key
# import with OOM. With --on-error skip: exit 6; exactly one refusal line
# naming a key (db 0, key '...') and one "N more refusals with the same
# cause (OOM)" line, where 1 + N = the summary's "failed" count; keys read =
# written + failed; the target holds exactly the keys written. The same
# through live sync (--once): exit 6, two OOM lines. --log-format json
# gives the same lines as JSON objects (level error), each parsed by jq.
#
# Stop means stop: a live sync whose target refuses a streamed command
# (APPEND on a key that is a hash there) exits 6 naming the command, the
# key and the source offset; commands already on the wire when the refusal
# came are said ("after it, N commands already sent ran on the target")
# and counted in the offset; nothing written on the source after the stop
# reaches the target.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

rs_start S || exit 1
rs_cli S DEBUG POPULATE 3000 key 300 >/dev/null
cp "$(rs_save S)" "$IT_TMP/dump.rdb"

oom_target() {
    rs_start "$1" --maxmemory 2mb --maxmemory-policy noeviction || exit 1
}

# check NAME RC_WANT ERRFILE TARGET
check() {
    local t=$1 want=$2 err=$3 tgt=$4 rc
    rc=$(cat "$IT_TMP/$t.rc")
    assert_eq "refusals.$t.rc" "$want" "$rc"
    local first more summary failed written n
    first=$(grep -c "OOM command not allowed" "$err" || true)
    more=$(grep -E "[0-9]+ more refusals? with the same cause \(OOM\)" "$err" || true)
    assert_eq "refusals.$t.one_line_for_the_cause" 1 "$first"
    assert_match "refusals.$t.first_names_the_key" "db 0, key 'key:[0-9]+'.*OOM" "$(grep "OOM command" "$err" | head -n 1)"
    if [ -z "$more" ]; then fail "refusals.$t.counted_line" "no 'N more refusals' line: $(head -c 600 "$err")"; return; fi
    n=$(sed -E 's/.* ([0-9]+) more refusals?.*/\1/' <<<"$more")
    pass "refusals.$t.counted_line"
    assert_eq "refusals.$t.lines" 2 "$(grep -c -E "OOM command|cause \(OOM\)" "$err")"
    summary=$(grep -E "keys read|keys scanned|snapshot applied" "$err" | head -n 1)
    echo "# $t: $summary; $more"
    if [ "$t" = import ]; then
        failed=$(sed -E 's/.*; ([0-9]+) failed.*/\1/' <<<"$summary")
        written=$(sed -E 's/.* keys read, ([0-9]+) written.*/\1/' <<<"$summary")
        assert_eq "refusals.$t.first_plus_more_is_failed" "$failed" "$((n + 1))"
        assert_eq "refusals.$t.read_is_written_plus_failed" 3000 "$((written + failed))"
        assert_eq "refusals.$t.target_holds_written" "$written" "$(rs_cli "$tgt" DBSIZE)"
    fi
}

oom_target T1
"$RDBSYNC" --file "$IT_TMP/dump.rdb" --target "$(rs_url T1)" --on-error skip 2>"$IT_TMP/import.err"
echo $? >"$IT_TMP/import.rc"
check import 6 "$IT_TMP/import.err" T1

oom_target T2
"$RDBSYNC" --source "$(rs_url S)" --target "$(rs_url T2)" --once -q --on-error skip 2>"$IT_TMP/sync.err"
echo $? >"$IT_TMP/sync.rc"
check sync 6 "$IT_TMP/sync.err" T2

oom_target T3
"$RDBSYNC" --file "$IT_TMP/dump.rdb" --target "$(rs_url T3)" --on-error skip --log-format json 2>"$IT_TMP/json.err"
assert_eq refusals.json.rc 6 "$?"
if jq -e -s 'all(.[]; has("time") and has("level") and has("msg"))' "$IT_TMP/json.err" >/dev/null 2>&1; then
    pass refusals.json.every_line_an_object
else
    fail refusals.json.every_line_an_object "$(head -c 400 "$IT_TMP/json.err")"
fi
assert_eq refusals.json.oom_lines 2 "$(jq -r 'select(.level == "error") | .msg' "$IT_TMP/json.err" | grep -c OOM)"

# ---- stop means stop ----
rs_start S2 || exit 1
rs_start T4 || exit 1
rs_cli T4 HSET w f v >/dev/null
"$RDBSYNC" --source "$(rs_url S2)" --target "$(rs_url T4)" --on-conflict skip --status-interval 1 \
    2>"$IT_TMP/stop.err" &
pid=$!
on_exit "kill -9 $pid 2>/dev/null"
wait_until 20 grep -q 'in sync' "$IT_TMP/stop.err" || true
printf 'SET a 1\r\nAPPEND w x\r\nSET c 3\r\n' | redis-cli -p "$RS_PORT_S2" --pipe >/dev/null
rc=0
if wait_until 10 eval '! kill -0 '"$pid"' 2>/dev/null'; then wait "$pid"; rc=$?; else kill -9 "$pid"; rc=kill; fi
assert_eq refusals.stop.rc 6 "$rc"
line=$(grep 'refused APPEND' "$IT_TMP/stop.err" || true)
assert_match refusals.stop.names_it "the target refused APPEND \(db 0, key 'w', source offset [0-9]+\): WRONGTYPE.*stopped at source offset [0-9]+" "$line"
rs_cli S2 SET d 4 >/dev/null
sleep 1
assert_eq refusals.stop.nothing_after "0" "$(rs_cli T4 EXISTS d)"
assert_eq refusals.stop.before_applied 1 "$(rs_cli T4 GET a)"
if [ "$(rs_cli T4 EXISTS c)" = 1 ]; then
    assert_match refusals.stop.on_the_wire_said "after it, 1 commands already sent ran on the target" "$line"
else
    if grep -q "commands already sent ran" <<<"$line"; then fail refusals.stop.on_the_wire_said "c absent but: $line"
    else pass refusals.stop.on_the_wire_said; fi
fi
exit 0

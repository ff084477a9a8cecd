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
exit 0

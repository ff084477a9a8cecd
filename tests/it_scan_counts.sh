#!/usr/bin/env bash
# it_scan_counts.sh -- scan mode says exactly what it did (issue #14 defect
# 7) and leaves the source's settings as it found them.
#
# 1. counts   4000 keys, --mode scan --once: "4000 keys scanned, 4000
#             written", DBSIZE 4000. A key already on the target: exit 7,
#             one line naming the key and its db, and scanned = written +
#             conflicting + not attempted with written + 1 = DBSIZE. With
#             --on-conflict skip: 10 existing skipped, 3990 written.
#             Following 1001 keys (db 0 and db 3): "1001 written".
# 2. connect  a source that takes no second client (--maxclients 1): the
#             notification subscriber cannot connect -> exit 5, not 1.
# 3. ksn      notify-keyspace-events "" on the source: rdbsync sets KA to
#             follow, and puts "" back when stopped (SIGTERM, exit 0).
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip scan_counts "no binary at $RDBSYNC (run make)"
    exit 0
fi

run() { rdb_run "$@"; }

# summary NAME FIELD: a count from the "scan copy:" summary line.
summary() {
    grep 'scan copy:' "$IT_TMP/$1.err" | head -n 1 | grep -oE "[0-9]+ $2" | grep -oE '^[0-9]+' || true
}

errtail() { tail -n 3 "$IT_TMP/$1.err" 2>/dev/null | tr '\n' ' ' | cut -c1-300; }

rs_start S
rs_start T
rs_cli S DEBUG POPULATE 4000 key 16 >/dev/null

# ---- 1. counts ----

run plain --mode scan --once -q --source "$(rs_url S)" --target "$(rs_url T)"
assert_eq scan_counts.plain.exit 0 "$RC"
assert_eq scan_counts.plain.scanned 4000 "$(summary plain 'keys scanned')"
assert_eq scan_counts.plain.written 4000 "$(summary plain written)"
assert_eq scan_counts.plain.not_attempted 0 "$(summary plain 'not attempted')"
assert_eq scan_counts.plain.dbsize 4000 "$(rs_cli T DBSIZE)"

rs_cli T FLUSHALL >/dev/null
rs_cli T SET key:1000 mine >/dev/null
run conflict --mode scan --once -q --source "$(rs_url S)" --target "$(rs_url T)"
assert_eq scan_counts.conflict.exit 7 "$RC"
assert_eq scan_counts.conflict.names_key 1 \
    "$(grep -c "key 'key:1000' (db 0) already exists on the target" "$IT_TMP/conflict.err" || true)"
assert_eq scan_counts.conflict.no_bare_stopped 0 "$(grep -cx 'rdbsync: stopped' "$IT_TMP/conflict.err" || true)"
assert_eq scan_counts.conflict.kept mine "$(rs_cli T GET key:1000)"
written=$(summary conflict written)
assert_eq scan_counts.conflict.written_is_dbsize "$(($(rs_cli T DBSIZE) - 1))" "$written"
# The pass stops at the conflict: keys it never scanned are not "read".
assert_eq scan_counts.conflict.adds_up "$(summary conflict 'keys scanned')" \
    "$((written + $(summary conflict conflicting) + $(summary conflict 'not attempted')))"
assert_eq scan_counts.conflict.one_conflict 1 "$(summary conflict conflicting)"

rs_cli T FLUSHALL >/dev/null
for i in $(seq 0 9); do rs_cli T SET "key:$i" mine >/dev/null; done
run skip --mode scan --once -q --on-conflict skip --source "$(rs_url S)" --target "$(rs_url T)"
assert_eq scan_counts.skip.exit 0 "$RC"
assert_eq scan_counts.skip.written 3990 "$(summary skip written)"
assert_eq scan_counts.skip.existing 10 "$(summary skip 'existing skipped')"
assert_eq scan_counts.skip.dbsize 4000 "$(rs_cli T DBSIZE)"

# Following, over two dbs.
rs_start F --notify-keyspace-events KA
rs_start TF
rs_cli F DEBUG POPULATE 1000 key 16 >/dev/null
rs_cli F -n 3 SET other 1 >/dev/null
"$RDBSYNC" --mode scan --source "$(rs_url F)" --target "$(rs_url TF)" >"$IT_TMP/follow.out" 2>"$IT_TMP/follow.err" &
FPID=$!
on_exit "rdb_kill $FPID"
if wait_until 20 grep -q 'following changes' "$IT_TMP/follow.err"; then
    assert_eq scan_counts.follow.written 1001 "$(summary follow written)"
    assert_eq scan_counts.follow.scanned 1001 "$(summary follow 'keys scanned')"
else
    fail scan_counts.follow.pass "the pass did not end: $(errtail follow)"
fi
kill -TERM "$FPID" 2>/dev/null || true
RC=0
wait "$FPID" || RC=$?
assert_eq scan_counts.follow.sigterm_exit 0 "$RC"
assert_eq scan_counts.follow.dbsize "1000 1" "$(rs_cli TF DBSIZE) $(rs_cli TF -n 3 DBSIZE)"
rs_stop F
rs_stop TF

# ---- 2. the subscriber cannot connect ----

rs_start M --maxclients 1
rs_cli M SET k v >/dev/null
rs_cli T FLUSHALL >/dev/null
run maxclients --mode scan --source "$(rs_url M)" --target "$(rs_url T)"
assert_eq scan_counts.subscriber_connect.exit 5 "$RC"
assert_match scan_counts.subscriber_connect.says 'source' "$(errtail maxclients)"
rs_stop M

# ---- 3. notify-keyspace-events put back ----

rs_start N --notify-keyspace-events ""
rs_cli N SET k v >/dev/null
rs_cli T FLUSHALL >/dev/null
"$RDBSYNC" --mode scan --source "$(rs_url N)" --target "$(rs_url T)" >"$IT_TMP/ksn.out" 2>"$IT_TMP/ksn.err" &
NPID=$!
on_exit "rdb_kill $NPID"
if wait_until 20 grep -q 'following changes' "$IT_TMP/ksn.err"; then
    assert_match scan_counts.ksn.enabled 'K.*A|A.*K' "$(rs_cli N CONFIG GET notify-keyspace-events | tail -n 1)"
else
    fail scan_counts.ksn.following "$(errtail ksn)"
fi
kill -TERM "$NPID" 2>/dev/null || true
RC=0
wait "$NPID" || RC=$?
assert_eq scan_counts.ksn.exit 0 "$RC"
assert_eq scan_counts.ksn.restored "" "$(rs_cli N CONFIG GET notify-keyspace-events | tail -n 1)"
assert_eq scan_counts.ksn.says 1 "$(grep -c "restored notify-keyspace-events on the source to ''" "$IT_TMP/ksn.err" || true)"
rs_stop N
rs_stop S
rs_stop T

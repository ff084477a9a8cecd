#!/usr/bin/env bash
# it_flags.sh -- flags that contradict each other or would do harm are
# refused with one line before anything is touched (issue #14, "refuse
# before harm"), and -q keeps only what a script needs.
#
# 1. contradictions: --target alone, --source alone, --source --target
#    --file, --source --target --checksum, --file --target --checksum and
#    --dump, --json without --checksum, a /db in the target URL of an import
#    or a sync (it would be ignored), --state/--cutover outside live sync as
#    a replica, --cutover --once, --cutover-verify with --db, a bad
#    --pause-timeout: exit 1, one line, nothing written to the target,
#    never "not implemented".
# 2. --file F --checksum with F missing: exit 2, one line naming F.
# 3. --source URL --file F with F present (an import with the flags
#    swapped): exit 1, F unchanged; --force replaces it; the snapshot file
#    is mode 0600.
# 4. -q: the import prints its one summary line and nothing else; --file
#    --checksum prints nothing on stderr; scan --once prints its summary.
# 5. --mode replica against a source that refuses SYNC and PSYNC: exit 5
#    without claiming to switch to scan mode.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip flags "no binary at $RDBSYNC (run make)"
    exit 0
fi

run() { rdb_run "$@"; }

rs_start S
rs_start T
rs_cli S DEBUG POPULATE 100 key 8 >/dev/null
DUMP=$(rs_save S)
S_URL=$(rs_url S)
T_URL=$(rs_url T)

# ---- 1. contradictions ----

refused() {
    local name=$1 want=$2
    shift 2
    run "$name" "$@"
    assert_eq "flags.$name.exit" 1 "$RC"
    assert_eq "flags.$name.one_line" 1 "$(wc -l <"$IT_TMP/$name.err")"
    assert_match "flags.$name.says" "$want" "$(cat "$IT_TMP/$name.err")"
    assert_eq "flags.$name.not_unimplemented" 0 "$(grep -c 'not implemented' "$IT_TMP/$name.err" || true)"
    assert_eq "flags.$name.target_untouched" 0 "$(rs_cli T DBSIZE)"
}

refused target_alone '--target needs something to copy: --file F .* or --source URL' --target "$T_URL"
refused source_alone '--source needs something to do' --source "$S_URL"
refused three_endpoints '--source, --target and --file together' --source "$S_URL" --target "$T_URL" --file "$DUMP"
refused sync_checksum '--checksum with both --source and --target.*--verify' --source "$S_URL" --target "$T_URL" --checksum
refused import_checksum '--checksum/--dump read the file and --target imports it' --file "$DUMP" --target "$T_URL" --checksum
refused import_dump '--checksum/--dump read the file and --target imports it' --file "$DUMP" --target "$T_URL" --dump
refused json_dump '--json is for the --checksum report' --file "$DUMP" --dump --json
refused json_import '--json is for the --checksum report' --file "$DUMP" --target "$T_URL" --json
refused target_db_import '--target names db 3, .*--db-map SRC:3' --file "$DUMP" --target "$(rs_url T 3)"
refused target_db_sync '--target names db 2, .*--db-map SRC:2' --source "$S_URL" --target "$(rs_url T 2)"
refused state_scan '--state, --cutover, --cutover-verify and --pause-timeout are for live sync as a replica' \
    --source "$S_URL" --target "$T_URL" --mode scan --state "$IT_TMP/x.state"
refused cutover_import '--state, --cutover, --cutover-verify and --pause-timeout are for live sync' --file "$DUMP" --target "$T_URL" --cutover
refused cutover_once '--cutover and --once' --source "$S_URL" --target "$T_URL" --cutover --once
refused cutover_verify_db '--cutover-verify compares whole servers' --source "$S_URL" --target "$T_URL" --cutover-verify --db 0
refused pause_timeout_bad "bad value '0' for --pause-timeout" --source "$S_URL" --target "$T_URL" --pause-timeout 0

# ---- 2. a missing file ----

run missing --file "$IT_TMP/no-such.rdb" --checksum
assert_eq flags.missing_file.exit 2 "$RC"
assert_eq flags.missing_file.one_line 1 "$(wc -l <"$IT_TMP/missing.err")"
assert_match flags.missing_file.says 'no-such\.rdb: cannot open: No such file' "$(cat "$IT_TMP/missing.err")"

# ---- 3. never overwrite a file without --force ----

BACKUP=$IT_TMP/backup.rdb
cp "$DUMP" "$BACKUP"
rs_cli S SET extra 1 >/dev/null
before=$(md5sum <"$BACKUP")
run swapped --file "$BACKUP" --source "$S_URL"
assert_eq flags.swapped.exit 1 "$RC"
assert_eq flags.swapped.one_line 1 "$(wc -l <"$IT_TMP/swapped.err")"
assert_match flags.swapped.says 'backup\.rdb exists: .*give --force to replace it' "$(cat "$IT_TMP/swapped.err")"
assert_eq flags.swapped.file_unchanged "$before" "$(md5sum <"$BACKUP")"
run forced --file "$BACKUP" --source "$S_URL" --force
assert_eq flags.force.exit 0 "$RC"
run forced_sum --file "$BACKUP" --checksum
assert_eq flags.force.replaced 101 "$(sed -n 's/^keys: //p' "$IT_TMP/forced_sum.out")"
assert_eq flags.force.mode 600 "$(stat -c %a "$BACKUP")"
run fresh --source "$S_URL" --file "$IT_TMP/fresh.rdb"
assert_eq flags.fresh.exit 0 "$RC"
assert_eq flags.fresh.mode 600 "$(stat -c %a "$IT_TMP/fresh.rdb")"

# ---- 4. -q ----

run quiet_import -q --file "$DUMP" --target "$T_URL"
assert_eq flags.quiet.import_exit 0 "$RC"
assert_eq flags.quiet.import_one_line 1 "$(wc -l <"$IT_TMP/quiet_import.err")"
assert_match flags.quiet.import_summary ': 100 keys read, 100 written' "$(cat "$IT_TMP/quiet_import.err")"
run quiet_sum -q --file "$DUMP" --checksum
assert_eq flags.quiet.checksum_silent "" "$(cat "$IT_TMP/quiet_sum.err")"
assert_match flags.quiet.checksum_report '^keys: 100$' "$(grep '^keys:' "$IT_TMP/quiet_sum.out")"
rs_cli T FLUSHALL >/dev/null
run quiet_scan -q --mode scan --once --source "$S_URL" --target "$T_URL"
assert_eq flags.quiet.scan_exit 0 "$RC"
assert_eq flags.quiet.scan_one_line 1 "$(wc -l <"$IT_TMP/quiet_scan.err")"
assert_match flags.quiet.scan_summary 'scan copy: 101 keys scanned, 101 written' "$(cat "$IT_TMP/quiet_scan.err")"

# ---- 5. --mode replica forbids the scan fallback: say so, not "switching" ----

rs_start R --rename-command SYNC "" --rename-command PSYNC ""
rs_cli T FLUSHALL >/dev/null
run replica_only --mode replica --source "$(rs_url R)" --target "$T_URL"
assert_eq flags.replica_only.exit 5 "$RC"
assert_eq flags.replica_only.no_switch 0 "$(grep -c 'switching to scan mode' "$IT_TMP/replica_only.err" || true)"
assert_match flags.replica_only.says 'no scan fallback' "$(cat "$IT_TMP/replica_only.err")"
assert_eq flags.replica_only.target_untouched 0 "$(rs_cli T DBSIZE)"
rs_stop R
rs_stop S
rs_stop T

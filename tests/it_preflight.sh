#!/usr/bin/env bash
# it_preflight.sh -- refuse before harm: every writing mode looks at the
# target before its first write (src/preflight.c), against real servers.
#
# 1. A read-only replica (started with --replicaof) as the target of an
#    import, a live sync and scan mode: exit 6, one stderr line "target
#    ... is a read-only replica", nothing written.
# 2. ACL users on a 7.0 target (checked with ACL DRYRUN): one without
#    RESTORE (import; with --flush-target too, whose FLUSHALL must not have
#    run: the target's key is still there), one without SELECT under a live
#    sync and scan mode from a source with keys in dbs 0 and 1, one without
#    FLUSHALL under --flush-target: exit 6, one line naming the command and
#    the user, the target untouched; one without FUNCTION, for a source
#    with a function library (import and live sync). A user that may not run ACL itself is
#    not checked (the import just runs, no preflight line).
# 3. A target with maxmemory smaller than the data (import of a 4 MB file,
#    live sync of the same source): one warning line, the run goes on
#    (allkeys-lru) and exits 0.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip it_preflight "no rdbsync binary"; exit 0; fi
T=${PREFLIGHT_TIMEOUT:-30}
run() { timeout -k 5 "$T" "$RDBSYNC" -q "$@"; }

# run_case NAME EXPECTED_RC ERE CMD...: the exit status and a stderr of one
# line matching ERE.
run_case() {
    local name=$1 want=$2 ere=$3 rc=0 err
    shift 3
    err=$(run "$@" 2>&1 >/dev/null) || rc=$?
    assert_eq "$name.rc" "$want" "$rc"
    assert_eq "$name.lines" 1 "$(printf '%s\n' "$err" | grep -c .)"
    assert_match "$name.msg" "$ere" "$err"
}

rs_start src || exit 1
rs_cli src DEBUG POPULATE 300 a >/dev/null
rs_cli src -n 1 DEBUG POPULATE 200 b >/dev/null
rs_cli src FUNCTION LOAD "#!lua name=lib1
redis.register_function('f1', function() return 1 end)" >/dev/null
DUMP=$(rs_save src)
SRC=$(rs_url src)

# ---- 1. read-only replica ----
rs_start master || exit 1
rs_start rep --replicaof 127.0.0.1 "$RS_PORT_master" || exit 1
wait_until 10 sh -c "redis-cli -p $RS_PORT_rep INFO replication | grep -q master_link_status:up"
RO="^rdbsync: target 127\.0\.0\.1:$RS_PORT_rep is a read-only replica \(of 127\.0\.0\.1:$RS_PORT_master\)"
run_case ro.import 6 "$RO" --file "$DUMP" --target "$(rs_url rep)"
run_case ro.flush 6 "$RO" --file "$DUMP" --target "$(rs_url rep)" --flush-target
run_case ro.sync 6 "$RO" --source "$SRC" --target "$(rs_url rep)" --once
run_case ro.scan 6 "$RO" --source "$SRC" --target "$(rs_url rep)" --mode scan --once
assert_eq ro.untouched 0 "$(rs_cli rep DBSIZE)"

# ---- 2. ACL users ----
rs_start dst || exit 1
DST=127.0.0.1:$RS_PORT_dst
rs_cli dst ACL SETUSER norestore on '>pw' '~*' '+@all' '-restore' >/dev/null
rs_cli dst ACL SETUSER noselect on '>pw' '~*' '+@all' '-select' >/dev/null
rs_cli dst ACL SETUSER noflush on '>pw' '~*' '+@all' '-flushall' >/dev/null
rs_cli dst ACL SETUSER nofunc on '>pw' '~*' '+@all' '-function' >/dev/null
rs_cli dst ACL SETUSER noacl on '>pw' '~*' '+@all' '-acl' >/dev/null
rs_cli dst SET keep me >/dev/null
u() { printf 'redis://%s:pw@%s\n' "$1" "$DST"; }

run_case acl.restore 6 "^rdbsync: target $DST: user 'norestore' may not run RESTORE \(ACL DRYRUN: .*restore.*\); nothing was written$" \
    --file "$DUMP" --target "$(u norestore)"
run_case acl.restore_flush 6 "user 'norestore' may not run RESTORE" --file "$DUMP" --target "$(u norestore)" --flush-target
assert_eq acl.restore_flush.kept "me" "$(rs_cli dst GET keep)"
run_case acl.select_sync 6 "^rdbsync: target $DST: user 'noselect' may not run SELECT \(ACL DRYRUN: .*\); nothing was written$" \
    --source "$SRC" --target "$(u noselect)" --once
run_case acl.select_scan 6 "user 'noselect' may not run SELECT" --source "$SRC" --target "$(u noselect)" --mode scan --once
run_case acl.function 6 "user 'nofunc' may not run FUNCTION LOAD" --file "$DUMP" --target "$(u nofunc)"
run_case acl.function_sync 6 "user 'nofunc' may not run FUNCTION LOAD" --source "$SRC" --target "$(u nofunc)" --once
run_case acl.flushall 6 "user 'noflush' may not run FLUSHALL" --file "$DUMP" --target "$(u noflush)" --flush-target
assert_eq acl.untouched "1 me" "$(rs_cli dst DBSIZE) $(rs_cli dst GET keep)"

# ACL DRYRUN itself refused: nothing to say, the import runs.
rc=0
err=$(run --file "$DUMP" --target "$(u noacl)" 2>&1 >/dev/null) || rc=$?
assert_eq acl.unchecked.rc 0 "$rc"
assert_eq acl.unchecked.quiet "" "$(printf '%s\n' "$err" | grep -v ' keys read, ' || true)"
assert_eq acl.unchecked.keys "501" "$(( $(rs_cli dst DBSIZE) + $(rs_cli dst -n 1 DBSIZE) ))"

# ---- 3. maxmemory smaller than the data: a warning, and on ----
rs_start big --rdbcompression no || exit 1
rs_cli big DEBUG POPULATE 20000 k 200 >/dev/null
BIGDUMP=$(rs_save big)
rs_start small --maxmemory 3mb --maxmemory-policy allkeys-lru || exit 1
MEM="^rdbsync: warning: target 127\.0\.0\.1:$RS_PORT_small has [0-9.]+ MB free under maxmemory \(3\.0 MB, [0-9.]+ MB used, policy allkeys-lru\) and"
rc=0
err=$(run --file "$BIGDUMP" --target "$(rs_url small)" 2>&1 >/dev/null) || rc=$?
assert_eq mem.import.rc 0 "$rc"
assert_match mem.import.warn "${MEM} the file is [4-9]\.[0-9] MB: keys may be evicted" "$(printf '%s\n' "$err" | head -n 1)"
rs_cli small FLUSHALL >/dev/null
rc=0
err=$(run --source "$(rs_url big)" --target "$(rs_url small)" --once 2>&1 >/dev/null) || rc=$?
assert_eq mem.sync.rc 0 "$rc"
assert_match mem.sync.warn "${MEM} the source's dataset is [0-9.]+ MB: keys may be evicted" "$(printf '%s\n' "$err" | head -n 1)"

# A target with room: no warning.
rs_cli small CONFIG SET maxmemory 1gb >/dev/null
rs_cli small FLUSHALL >/dev/null
err=$(run --file "$BIGDUMP" --target "$(rs_url small)" 2>&1 >/dev/null) || true
assert_eq mem.room.quiet "" "$(printf '%s\n' "$err" | grep warning || true)"

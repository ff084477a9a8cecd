#!/usr/bin/env bash
# it_cluster_target.sh -- a Redis Cluster as the target (issue #11), on one
# cluster of real redis-server 7.0 nodes (3 masters, a replica each, made by
# cluster_start in lib.sh), emptied between cases.
#
# "equal" means: the XOR of the masters' DEBUG DIGEST (cluster_digest, which
# puts back the per-node db-0 constant) equals the standalone server's
# DEBUG DIGEST of the same keys.
#
#   file        --file of tests/gen_dataset.sh's dump (every type, a function
#               library; dbs 0, 1 and 3) with --db 0, through a REPLICA's
#               URL: "target: cluster of 3 masters", equal to a standalone
#               server given the same import, the library on every master,
#               the summary's keys per node add up to the keys written and
#               to the masters' DBSIZE; --verify with the cluster as target:
#               equal, then exit 8 naming a key missing there and one only
#               there
#   multidb     the same dump without --db: exit 6, one line naming dbs 1
#               and 3 and suggesting --db 0 / --db-map 1:0, nothing written
#               (no key, no function); then --db 1 --db-map 1:0: equal to a
#               standalone server given the same
#   scan        --mode scan --once --db 0 from the dataset: equal
#   sync        live sync from a standalone source (db 0 only) while a
#               single-slot load runs (a FLUSHALL first, which must empty
#               every master; SET/INCR/RPUSH/HSET/SADD/ZADD/XADD,
#               expiring keys, DEL, MSET and MULTI/EXEC and EVAL within one
#               hash tag): equal after the load; then a target replica
#               takes over with CLUSTER FAILOVER during more load, and
#               `redis-cli --cluster reshard` moves 3000 slots while the
#               load goes on, and a master is killed (SIGKILL, its replica
#               caught up) while writes go on: equal after each (the
#               writes the dead node never answered are sent again to the
#               replica that takes over); SIGTERM exits 0 and the summary
#               names the nodes
#   crossslot   a SUNIONSTORE over two slots in the stream is applied (the
#               cross-slot planner, xslot.h): the union arrives, what came
#               before it too, the summary counts it; SIGTERM exits 0
#   reshard     --file of 60k keys while 3000 slots move: equal, exit 0
#   tls         a cluster of TLS-only nodes (tls-port, tls-cluster yes) and
#               an ACL user on every node: rediss://user:pass@ one node with
#               --cacert/--cert/--key reaches every master; equal
#   slots62     a 3-master Redis 6.2 cluster ($SHARED/servers; no CLUSTER
#               SHARDS, so the map comes from CLUSTER SLOTS): every key of
#               a --file import arrives
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip cluster_target "no rdbsync binary"; exit 0; fi

cluster_start 3 1 || { fail cluster_target.start "cluster did not come up"; exit 0; }
rs_start src --repl-diskless-sync-delay 0
rs_start ref

cluster_empty() {
    local n
    for n in $(cluster_masters); do
        rs_cli "$n" FLUSHALL >/dev/null
        rs_cli "$n" FUNCTION FLUSH >/dev/null
    done
}
ref_empty() { rs_cli ref FLUSHALL >/dev/null; rs_cli ref FUNCTION FLUSH >/dev/null; }
equal_now() { [ "$(cluster_digest)" = "$(rs_digest "$1")" ]; }
assert_equal() {
    if wait_until "${3:-10}" equal_now "$2"; then pass "$1"
    else fail "$1" "cluster $(cluster_digest) ($(cluster_dbsize) keys) != $2 $(rs_digest "$2") ($(rs_cli "$2" DBSIZE) keys)"; fi
}
err_of() { cat "$IT_TMP/$1.err"; }

# ---- file ----
tests/gen_dataset.sh "$RS_PORT_src" >/dev/null
DUMP=$(rs_save src)
replica=${CLUSTER_REPLICAS%% *}
rdb_run file --file "$DUMP" --target "$(rs_url "$replica")" --db 0
assert_eq file.exit 0 "$RC"
assert_match file.startup 'target: cluster of 3 masters' "$(err_of file)"
rdb_run file_ref --file "$DUMP" --target "$(rs_url ref)" --db 0
assert_equal file.equal ref
libs=0
for n in $(cluster_masters); do
    if rs_cli "$n" FUNCTION LIST | grep -qx mylib; then libs=$((libs + 1)); fi
done
assert_eq file.functions_every_master 3 "$libs"
per_node=$(grep -o 'cluster: .*; [0-9]* MOVED' "$IT_TMP/file.err" | grep -o '[0-9]* keys' | awk '{s += $1} END {print s}')
written=$(grep -o '[0-9]* written' "$IT_TMP/file.err" | head -n 1 | awk '{print $1}')
assert_eq file.per_node_sum "$written" "$per_node"
assert_eq file.dbsize "$written" "$(cluster_dbsize)"
# --verify with the cluster as the target: each key looked up on the master
# of its slot; equal, then one key changed on the cluster is named (exit 8).
rdb_run verify_eq --verify --source "$(rs_url ref)" --target "$(cluster_url)" --ttl-tolerance 0
assert_eq file.verify_equal_exit 0 "$RC"
assert_match file.verify_equal 'verify: equal: [0-9]+ source keys checked, 0 differ' "$(cat "$IT_TMP/verify_eq.out")"
rs_cli ref SET only:on:ref 1 >/dev/null
cluster_cli SET only:on:cluster 1 >/dev/null
rdb_run verify_ne --verify --source "$(rs_url ref)" --target "$(cluster_url)"
assert_eq file.verify_differ_exit 8 "$RC"
assert_match file.verify_names_missing "key 'only:on:ref': missing on the target" "$(cat "$IT_TMP/verify_ne.out")"
assert_match file.verify_names_only_target "key 'only:on:cluster': only on the target" "$(cat "$IT_TMP/verify_ne.out")"
rs_cli ref DEL only:on:ref >/dev/null
cluster_cli DEL only:on:cluster >/dev/null

# ---- multidb ----
cluster_empty
rdb_run multidb --file "$DUMP" --target "$(cluster_url)"
assert_eq multidb.exit 6 "$RC"
assert_match multidb.line 'cluster, which has db 0 only; the source has keys in db 1, 3: .*--db 0.*--db-map 1:0' "$(err_of multidb)"
assert_eq multidb.nothing_written 0 "$(cluster_dbsize)"
libs=$(for n in $(cluster_masters); do rs_cli "$n" FUNCTION LIST; done | grep -c mylib || true)
assert_eq multidb.no_function 0 "$libs"
rdb_run dbmap --file "$DUMP" --target "$(cluster_url)" --db 1 --db-map 1:0
assert_eq dbmap.exit 0 "$RC"
ref_empty
rdb_run dbmap_ref --file "$DUMP" --target "$(rs_url ref)" --db 1 --db-map 1:0
assert_equal dbmap.equal ref

# ---- scan ----
cluster_empty
ref_empty
rdb_run scan --source "$(rs_url src)" --target "$(cluster_url)" --mode scan --once --db 0
assert_eq scan.exit 0 "$RC"
rdb_run scan_ref --file "$DUMP" --target "$(rs_url ref)" --db 0
assert_equal scan.equal ref

# ---- sync ----
# One round of single-slot writes, prefix $1, $2 of each.
load_round() {
    local p=$1 n=$2 i
    for ((i = 1; i <= n; i++)); do
        echo "SET $p:s:$i v$i"
        echo "INCR {$p}:ctr"
        echo "RPUSH $p:l:$((i % 20)) $i"
        echo "HSET $p:h:$((i % 20)) f$i $i"
        echo "SADD $p:set:$((i % 15)) m$i"
        echo "ZADD $p:z:$((i % 15)) $i m$i"
        echo "XADD $p:x:$((i % 5)) * f $i"
        echo "SET $p:e:$i v PX $((200 + i % 300))"
        if [ $((i % 7)) -eq 0 ]; then echo "DEL $p:s:$((i - 3))"; fi
        if [ $((i % 5)) -eq 0 ]; then echo "MSET {$p$i}a 1 {$p$i}b 2"; fi
        if [ $((i % 9)) -eq 0 ]; then printf 'MULTI\nINCR {%s}m\nLPUSH {%s}ml %s\nEXEC\n' "$p" "$p" "$i"; fi
        if [ $((i % 11)) -eq 0 ]; then
            echo "EVAL \"redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])\" 2 {$p}ev {$p}ec $i"
        fi
    done | redis-cli -p "$RS_PORT_src" >/dev/null
}
streaming() { grep -q 'streaming' "$IT_TMP/$1.err"; }
no_volatile() { [ -z "$(redis-cli -p "$RS_PORT_src" --scan --pattern '*:e:*' | head -n 1)" ]; }

cluster_empty
rs_cli src FLUSHALL >/dev/null
rs_cli src FUNCTION FLUSH >/dev/null
load_round a 200
sync_start sync src "$replica"
if wait_until 20 streaming sync; then pass sync.streaming; else fail sync.streaming "$(tail -n 3 "$IT_TMP/sync.err")"; fi
# A FLUSHALL in the stream reaches every master (the snapshot's keys are on all three).
rs_cli src FLUSHALL >/dev/null
cluster_empty_now() { [ "$(cluster_dbsize)" = 0 ]; }
if wait_until 10 cluster_empty_now; then pass sync.flushall_everywhere; else fail sync.flushall_everywhere "$(cluster_dbsize) keys left"; fi
load_round b 400
wait_until 5 no_volatile || true
assert_equal sync.equal src 15

# A replica takes over (CLUSTER FAILOVER) while the load goes on.
load_round c 600 &
LOAD_PID=$!
newmaster=$replica
rs_cli "$newmaster" CLUSTER FAILOVER >/dev/null
is_master() { [ "$(rs_cli "$1" ROLE | head -n 1)" = master ]; }
if wait_until 15 is_master "$newmaster"; then pass sync.failover_done; else fail sync.failover_done "$newmaster still a replica"; fi
wait "$LOAD_PID"
load_round d 200
wait_until 5 no_volatile || true
assert_equal sync.equal_after_failover src 15

# redis-cli --cluster reshard moves 3000 slots between masters under load.
ids=($(for n in $(cluster_masters); do rs_cli "$n" CLUSTER MYID; done))
load_round e 1500 &
LOAD_PID=$!
if cluster_reshard "${ids[0]}" "${ids[1]}" 3000 sync; then pass sync.reshard_ran; else fail sync.reshard_ran "$(tail -n 2 "$IT_TMP/reshard.sync.log")"; fi
wait "$LOAD_PID"
load_round f 200
wait_until 5 no_volatile || true
wait_until 20 cluster_ok || true
assert_equal sync.equal_after_reshard src 15
# A master dies (SIGKILL) once its replica has every write; the load goes
# on at once: writes to the dead node are sent again to the replica that
# takes over (cluster-node-timeout 2 s), after the map is read again.
victim=$newmaster
vreplica=
for n in $CLUSTER_NODES; do
    if [ "$n" != "$victim" ] && rs_cli "$n" INFO replication | tr -d '\r' | grep -q "^master_port:$(rs_port "$victim")\$"; then
        vreplica=$n
    fi
done
offset_of() { rs_cli "$1" INFO replication | tr -d '\r' | sed -n "s/^$2://p"; }
caught_up() { [ "$(offset_of "$victim" master_repl_offset)" = "$(offset_of "$vreplica" slave_repl_offset)" ]; }
if [ -n "$vreplica" ] && wait_until 10 caught_up; then
    { kill -9 "$(rs_pid "$victim")"; it_wait_pid "$(rs_pid "$victim")" 5 || true; } 2>/dev/null
    it_forget "$victim"
    load_round g 300
    if wait_until 20 is_master "$vreplica"; then pass sync.kill_promoted; else fail sync.kill_promoted "$vreplica not promoted"; fi
    load_round h 100
    wait_until 5 no_volatile || true
    assert_equal sync.equal_after_master_killed src 20
else
    fail sync.kill_setup "no caught-up replica of $victim"
fi
alive=0
kill -0 "$SYNC_PID" 2>/dev/null && alive=1
assert_eq sync.still_running 1 "$alive"
kill -TERM "$SYNC_PID" 2>/dev/null || true
rc=0
wait "$SYNC_PID" || rc=$?
assert_eq sync.sigterm_exit 0 "$rc"
assert_match sync.summary 'cluster: [0-9.:]+ [0-9]+ keys [0-9]+ commands, ' "$(err_of sync)"
echo "# sync: $(grep -o '[0-9]* MOVED.*' "$IT_TMP/sync.err" | tail -n 1)"

# ---- crossslot ----
cluster_empty
rs_cli src FLUSHALL >/dev/null
sync_start xs src "$(cluster_masters | head -n 1)"
wait_until 20 streaming xs || true
printf 'SADD x1 a\nSADD x2 b\nSUNIONSTORE x3 x1 x2\n' | redis-cli -p "$RS_PORT_src" >/dev/null
union_arrived() { [ "$(cluster_cli SCARD x3)" = 2 ]; }
if wait_until 10 union_arrived; then pass crossslot.applied; else fail crossslot.applied "x3: $(cluster_cli SMEMBERS x3 | tr '\n' ' ')"; fi
assert_eq crossslot.union "a b" "$(cluster_cli SMEMBERS x3 | sort | tr '\n' ' ' | sed 's/ $//')"
assert_eq crossslot.before_applied "a b" "$(cluster_cli SMEMBERS x1) $(cluster_cli SMEMBERS x2)"
kill -TERM "$SYNC_PID" 2>/dev/null || true
rc=0
wait "$SYNC_PID" || rc=$?
assert_eq crossslot.exit 0 "$rc"
assert_match crossslot.line 'cluster stream: 0 transactions split across slots, 0 commands split per slot, 1 applied through copies' "$(err_of xs)"

# ---- reshard during a --file import ----
cluster_empty
ref_empty
rs_cli src FLUSHALL >/dev/null
rs_cli src DEBUG POPULATE 60000 big 100 >/dev/null
tests/gen_dataset.sh "$RS_PORT_src" >/dev/null
rs_cli src FUNCTION FLUSH >/dev/null
DUMP=$(rs_save src)
ids=($(for n in $(cluster_masters); do rs_cli "$n" CLUSTER MYID; done))
rdb_bg imp --file "$DUMP" --target "$(cluster_url)" --db 0
IMP_PID=$BG_PID
cluster_reshard "${ids[1]}" "${ids[2]}" 3000 imp || fail reshard.ran "$(tail -n 2 "$IT_TMP/reshard.imp.log")"
rc=0
wait "$IMP_PID" || rc=$?
assert_eq reshard.exit 0 "$rc"
rdb_run reshard_ref --file "$DUMP" --target "$(rs_url ref)" --db 0
wait_until 20 cluster_ok || true
assert_equal reshard.equal ref
echo "# reshard: $(grep -o '[0-9]* MOVED.*' "$IT_TMP/imp.err" | tail -n 1)"

# ---- tls: TLS-only nodes (tls-port, tls-cluster) and an ACL user on each ----
for n in $CLUSTER_NODES; do if it_running "$n"; then rs_stop "$n"; fi; done
if it_make_certs "$IT_TMP/certs"; then
    CLUSTER_NAME=tl IT_TLS_DIR=$IT_TMP/certs cluster_start 3 0 --tls-cluster yes --tls-replication yes ||
        fail tls.start "the TLS cluster did not come up"
    for n in $CLUSTER_NODES; do rs_cli "$n" ACL SETUSER rs on '>s3cret' '~*' '&*' +@all >/dev/null; done
    rs_cli src FLUSHALL >/dev/null
    rs_cli src DEBUG POPULATE 3000 t 10 >/dev/null
    url=$(cluster_url)
    rdb_run tls --file "$(rs_save src)" --target "rediss://rs:s3cret@${url#rediss://}" \
        --cacert "$IT_TMP/certs/ca.crt" --cert "$IT_TMP/certs/client.crt" --key "$IT_TMP/certs/client.key"
    assert_eq tls.exit 0 "$RC"
    assert_match tls.startup 'target: cluster of 3 masters' "$(err_of tls)"
    assert_equal tls.equal src
    clients=0
    for n in $CLUSTER_MASTERS; do
        if rs_cli "$n" ACL LOG | grep -q .; then clients=-1; fi
    done
    assert_eq tls.no_acl_denials 0 "$clients"
else
    skip tls "openssl could not make certificates"
fi

# ---- slots62: a Redis 6.2 cluster (no CLUSTER SHARDS: the map comes from CLUSTER SLOTS) ----
B62=${SHARED:+$SHARED/servers/redis-6.2.16}
if [ -z "$B62" ] || [ ! -x "$B62/redis-server" ]; then
    skip slots62 "no \$SHARED/servers/redis-6.2.16"
    exit 0
fi
ports62=()
for i in 0 1 2; do
    IT_CLUSTER_PORTS=1 it_pick_port
    ports62+=("$IT_PORT")
    mkdir -p "$IT_TMP/n62_$i"
    "$B62/redis-server" --port "$IT_PORT" --bind 127.0.0.1 --dir "$IT_TMP/n62_$i" --save '' --appendonly no \
        --cluster-enabled yes --logfile "$IT_TMP/n62_$i/log" </dev/null >/dev/null 2>&1 &
    on_exit "kill $! 2>/dev/null; it_wait_pid $! 5"
done
up62() { for p in "${ports62[@]}"; do [ "$("$B62/redis-cli" -p "$p" PING 2>/dev/null)" = PONG ] || return 1; done; }
ok62() { "$B62/redis-cli" -p "${ports62[0]}" CLUSTER INFO | grep -q '^cluster_state:ok'; }
if wait_until 20 up62 && "$B62/redis-cli" --cluster create "${ports62[@]/#/127.0.0.1:}" --cluster-yes \
    </dev/null >"$IT_TMP/create62.log" 2>&1 && wait_until 20 ok62; then
    rs_cli src FLUSHALL >/dev/null
    rs_cli src DEBUG POPULATE 5000 k 10 >/dev/null
    rs_cli src HSET h a 1 >/dev/null
    rdb_run s62 --file "$(rs_save src)" --target "redis://127.0.0.1:${ports62[1]}"
    assert_eq slots62.exit 0 "$RC"
    assert_match slots62.startup 'target: cluster of 3 masters' "$(err_of s62)"
    total=0
    for p in "${ports62[@]}"; do total=$((total + $("$B62/redis-cli" -p "$p" DBSIZE))); done
    assert_eq slots62.keys 5001 "$total"
else
    fail slots62.start "the 6.2 cluster did not come up: $(tail -n 2 "$IT_TMP"/create62.log "$IT_TMP"/n62_*/log 2>&1)"
fi

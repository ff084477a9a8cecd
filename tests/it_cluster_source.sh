#!/usr/bin/env bash
# it_cluster_source.sh -- a Redis Cluster as the source (issue #12).
#
# A 3-master cluster with a replica each (tests/lib.sh cluster_start):
#   - --checksum of the cluster is one report for all shards, equal to
#     --file --checksum of the cluster written with --source --file (and
#     loadable by redis-check-rdb); --json has the three shards, summing up;
#     with --source-replicas the same digest, read from the replicas;
#   - --once copies every shard and exits 0, equal; also into a 2-master
#     cluster (3 shards into 2), equal;
#   - live sync into a standalone server under a slot-routed load (every
#     type, expiring keys, same-slot EVAL and MULTI/EXEC); during it a
#     CLUSTER FAILOVER on one shard and a reshard of 300 slots between two
#     others; afterwards the target equals the cluster (cluster_digest vs
#     DEBUG DIGEST), the promoted node served rdbsync a partial resync and no
#     full one, and "in sync" was said only for all shards at once;
#   - a full resync of one shard (its backlog lost) replaces that shard's
#     slots on the target, the other shards' keys stay;
#   - --checksum of the cluster equals --file --checksum of the target's SAVE;
#   - resharding under INCR/LPUSH/APPEND load, the importer's RESTORE first
#     (the exporter's replica held back, --source-replicas): each write
#     applied once, target equal (shows the double apply without the fix);
#   - function libraries: the union of the shards' (one on every master, one
#     on the first, one on the last: 3 in --checksum, --file and --once); one
#     name with other code on two masters stops with one line naming both;
#   - --verify of the cluster against the target: equal (exit 0), then a
#     changed key and a key only on the target (exit 8, both named);
#   - a cluster whose nodes refuse SYNC and PSYNC: scan mode by itself, one
#     scan copy per master, following a slot-routed load until equal;
#   - --metrics: one series per shard (shard="HOST:PORT"), /status in sync
#     for all.
# (Snapshots of a cluster that refuses SYNC: it_cluster_scan.sh.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip cluster_source "no rdbsync binary"; exit 0; fi
if ! cluster_start 3 1 --repl-diskless-sync yes --repl-diskless-sync-delay 0; then
    fail cluster_source.start "the cluster did not come up"
    exit 0
fi
P0=${CLUSTER_PORTS%% *}
SRC=$(cluster_url)

# ---- the load: slot-routed through redis-cli -c ----

# Commands for i in FROM..TO: every type, expiring keys (long and short),
# counters, deletes, and an EVAL over two keys of one slot.
gen_load() {
    local i
    for ((i = $1; i <= $2; i++)); do
        echo "SET s:$i v$i"
        echo "HSET h:$((i % 50)) f$i v$i"
        echo "RPUSH l:$((i % 30)) e$i"
        echo "SADD st:$((i % 40)) m$i"
        echo "ZADD z:$((i % 40)) $i m$i"
        echo "XADD x:$((i % 10)) * f $i"
        echo "SET e:$i v$i PX 600000"
        if [ -n "${SHORT:-}" ]; then echo "SET short:$i v PX 1500"; fi
        echo "INCR c:$((i % 20))"
        echo "DEL s:$((i - 7))"
        echo "EVAL \"redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])\" 2 {ev$((i % 7))}a {ev$((i % 7))}b $i"
    done
}

# A MULTI/EXEC over one slot goes to every master: only the owner runs it
# (the others answer MOVED and the transaction is discarded).
multi_block() {
    local n
    for n in $(cluster_masters); do
        printf 'MULTI\nSET {mx%s}a %s\nINCR {mx%s}b\nLPUSH {mx%s}l %s\nEXEC\n' "$1" "$2" "$1" "$1" "$2" |
            rs_cli_stdin "$n" >/dev/null 2>&1 || true
    done
}
rs_cli_stdin() { redis-cli -h 127.0.0.1 -p "$(it_var PORT "$1")"; }

run_load() {
    local from=$1 to=$2 step=200 i
    for ((i = from; i <= to; i += step)); do
        gen_load "$i" $((i + step - 1)) | redis-cli -c -p "$P0" >/dev/null 2>&1 || true
        multi_block $((i % 5)) "$i"
        if [ -e "$IT_TMP/load.stop" ]; then break; fi
    done
}

gen_load 1 1500 | redis-cli -c -p "$P0" >/dev/null
multi_block 1 0

# ---- --checksum and --file of the whole cluster ----

rdb_run sum --source "$SRC" --checksum
assert_eq cluster_source.checksum.rc 0 "$RC"
assert_eq cluster_source.checksum.keys "keys: $(cluster_dbsize)" "$(grep '^keys:' "$IT_TMP/sum.out")"
rdb_run file --source "$SRC" --file "$IT_TMP/all.rdb"
assert_eq cluster_source.file.rc 0 "$RC"
rdb_run filesum --file "$IT_TMP/all.rdb" --checksum
assert_eq cluster_source.file.checksum "$(grep -v '^crc64' "$IT_TMP/sum.out")" "$(grep -v '^crc64' "$IT_TMP/filesum.out")"
assert_ok cluster_source.file.check_rdb redis-check-rdb "$IT_TMP/all.rdb"
rdb_run json --source "$SRC" --checksum --json
assert_eq cluster_source.json.shards 3 "$(jq '.shards | length' "$IT_TMP/json.out")"
assert_eq cluster_source.json.sum "$(jq .keys "$IT_TMP/json.out")" "$(jq '[.shards[].keys] | add' "$IT_TMP/json.out")"

# --source-replicas: the same report, each shard read from its replica.
rdb_run rsum --source "$SRC" --checksum --json --source-replicas
assert_eq cluster_source.replicas.digest "$(jq -r .digest "$IT_TMP/json.out")" "$(jq -r .digest "$IT_TMP/rsum.out")"
replica_ports=" "
for n in $CLUSTER_REPLICAS; do replica_ports+="127.0.0.1:$(rs_port "$n") "; done
read_from=$(jq -r '.shards[].node' "$IT_TMP/rsum.out" | while read -r node; do
    case "$replica_ports" in *" $node "*) echo replica ;; *) echo "master $node" ;; esac; done | sort -u)
assert_eq cluster_source.replicas.nodes replica "$read_from"

# --once: every shard's snapshot applied, then exit 0.
rs_start tgt0
rdb_run once --source "$SRC" --target "$(rs_url tgt0)" --once
assert_eq cluster_source.once.rc 0 "$RC"
assert_eq cluster_source.once.equal "$(cluster_digest)" "$(rs_digest tgt0)"
rs_stop tgt0

# --once from this 3-master cluster into a 2-master one: every shard's
# keys routed to the target's masters; equal (cluster_digest of each, with
# its own node list).
saved=("$CLUSTER_NODES" "$CLUSTER_MASTERS" "$CLUSTER_REPLICAS" "$CLUSTER_PORTS" "$CLUSTER_PIDS")
restore_src() {
    CLUSTER_NODES=${saved[0]} CLUSTER_MASTERS=${saved[1]} CLUSTER_REPLICAS=${saved[2]}
    CLUSTER_PORTS=${saved[3]} CLUSTER_PIDS=${saved[4]}
}
if CLUSTER_NAME=two cluster_start 2 0; then
    DST_NODES=$CLUSTER_NODES
    rdb_run two --source "$SRC" --target "$(cluster_url)" --once
    assert_eq cluster_source.into_two.rc 0 "$RC"
    assert_match cluster_source.into_two.target 'target: cluster of 2 masters' "$(cat "$IT_TMP/two.err")"
    dst_digest=$(cluster_digest) dst_keys=$(cluster_dbsize)
    restore_src
    assert_eq cluster_source.into_two.equal "$(cluster_digest) $(cluster_dbsize)" "$dst_digest $dst_keys"
    for n in $DST_NODES; do rs_stop "$n"; done
else
    fail cluster_source.into_two.start "the 2-master target cluster did not come up"
fi
restore_src

# ---- live sync through a failover and a reshard ----

http_get() {
    python3 - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        sys.stdout.write(r.read().decode())
except Exception:
    sys.exit(1)
PY
}

rs_start tgt
it_pick_port
MP=$IT_PORT
rdb_bg sync --source "$SRC" --target "$(rs_url tgt)" --status-interval 1 --metrics "127.0.0.1:$MP"
SYNC_PID=$BG_PID
if ! wait_until 60 grep -q 'shards streaming, in sync' "$IT_TMP/sync.err"; then
    fail cluster_source.sync.in_sync "no aggregated 'in sync' within 60 s: $(tail -n 3 "$IT_TMP/sync.err")"
fi
# --metrics: every series labelled with its shard; /status in sync for all.
if wait_until 10 sh -c "[ \$(python3 -c 'import urllib.request,json;print(json.load(urllib.request.urlopen(\"http://127.0.0.1:$MP/status\"))[\"in_sync\"])') = True ]"; then
    pass cluster_source.metrics.status_in_sync
else
    fail cluster_source.metrics.status_in_sync "$(http_get "http://127.0.0.1:$MP/status")"
fi
assert_eq cluster_source.metrics.shards 3 "$(http_get "http://127.0.0.1:$MP/metrics" | grep -c '^rdbsync_in_sync{shard="127.0.0.1:[0-9]*"} 1$')"
SHORT=1 run_load 1501 9000 &
LOAD_PID=$!
on_exit "touch $IT_TMP/load.stop; kill $LOAD_PID 2>/dev/null || true"

# The replica of the first master takes over (its log from here on is
# checked below: --source-replicas read snapshots from it before).
M0=${CLUSTER_MASTERS%% *}
PROMOTED=
for n in $CLUSTER_REPLICAS; do
    if rs_cli "$n" INFO replication | tr -d '\r' | grep -q "^master_port:$(rs_port "$M0")\$"; then PROMOTED=$n; fi
done
LOG="$(rs_dir "$PROMOTED")/$PROMOTED.log"
LOG_FROM=$(($(wc -l <"$LOG") + 1))
sleep 2
rs_cli "$PROMOTED" CLUSTER FAILOVER >/dev/null
if wait_until 20 sh -c "redis-cli -p $(rs_port "$PROMOTED") ROLE | head -n 1 | grep -qx master"; then
    pass cluster_source.failover.promoted
else
    fail cluster_source.failover.promoted "$PROMOTED did not become a master"
fi
wait_until 20 cluster_ok || true
sleep 2

# 300 slots move from the second master to the third, under the load.
masters=($CLUSTER_MASTERS)
FROM_ID=$(rs_cli "${masters[1]}" CLUSTER MYID)
TO_ID=$(rs_cli "${masters[2]}" CLUSTER MYID)
if cluster_reshard "$FROM_ID" "$TO_ID" 300 live; then
    pass cluster_source.reshard
else
    fail cluster_source.reshard "redis-cli --cluster reshard failed: $(tail -n 2 "$IT_TMP/reshard.live.log")"
fi
touch "$IT_TMP/load.stop"
wait "$LOAD_PID" 2>/dev/null || true

# Keys on one side only (a failure's diagnosis).
cluster_keys_diff() {
    local n
    for n in $(cluster_masters); do redis-cli -p "$(rs_port "$n")" --scan; done | sort >"$IT_TMP/keys.src"
    redis-cli -p "$(rs_port tgt)" --scan | sort >"$IT_TMP/keys.tgt"
    diff "$IT_TMP/keys.src" "$IT_TMP/keys.tgt" | grep '^[<>]' | tr '\n' ' '
}

# Equal once the short TTLs ran out and their DELs came through.
same() { [ "$(rs_digest tgt)" = "$(cluster_digest)" ]; }
if wait_until 40 same; then
    pass cluster_source.sync.equal
else
    fail cluster_source.sync.equal "target $(rs_digest tgt) ($(rs_cli tgt DBSIZE) keys), cluster $(cluster_digest) ($(cluster_dbsize) keys); only on one side: $(cluster_keys_diff | head -c 300)"
fi
assert_match cluster_source.sync.keys '^[1-9][0-9]{3,}$' "$(rs_cli tgt DBSIZE)"

# The promoted node served rdbsync a partial resync, and no full one
# (rdbsync says listening-port 0: the log names it <unknown-replica-port>;
# cluster nodes give their port).
assert_eq cluster_source.failover.no_full_resync 0 \
    "$(tail -n +"$LOG_FROM" "$LOG" | grep -c 'Full resync requested by replica 127.0.0.1:<unknown-replica-port>' || true)"
assert_match cluster_source.failover.partial_resync '^[1-9]' \
    "$(tail -n +"$LOG_FROM" "$LOG" | grep -c 'Partial resynchronization request from 127.0.0.1:<unknown-replica-port> accepted' || true)"
assert_match cluster_source.failover.relocated 'the shard.s node moved from' "$(cat "$IT_TMP/sync.err")"

# A full resync of one shard replaces that shard's slots only: its master
# gets a tiny backlog, rdbsync is frozen, its link killed, and 3 MB
# written there: the link's PSYNC can then only be answered with a full
# sync.
M2=${masters[2]}
rs_cli "$M2" CONFIG SET repl-backlog-size 16384 >/dev/null
TAG=$(redis-cli -p "$(rs_port "$M2")" --scan --pattern 'e:*' | sed -n 1p) # a key of M2's slots
kill -STOP "$SYNC_PID"
rs_cli "$M2" CLIENT KILL TYPE replica >/dev/null
big=$(head -c 100000 /dev/zero | tr '\0' x)
for i in $(seq 1 30); do
    rs_cli "$M2" SET "{$TAG}big$i" "$big" >/dev/null
done
kill -CONT "$SYNC_PID"
if wait_until 30 grep -q "replacing the shard's slots" "$IT_TMP/sync.err"; then
    pass cluster_source.resync.slots_only
else
    fail cluster_source.resync.slots_only "no slot-scoped full resync: $(grep -v '^rdbsync: 20' "$IT_TMP/sync.err" | tail -n 3)"
fi
if wait_until 40 same; then
    pass cluster_source.resync.equal
else
    fail cluster_source.resync.equal "target $(rs_digest tgt) ($(rs_cli tgt DBSIZE) keys), cluster $(cluster_digest) ($(cluster_dbsize) keys); only on one side: $(cluster_keys_diff | head -c 300)"
fi

# "in sync" is said once per status line, for all shards, never per shard.
assert_eq cluster_source.sync.no_shard_in_sync 0 "$(grep -c 'in sync.*in sync' "$IT_TMP/sync.err" || true)"
# The short TTLs run out on the source and their DELs reach the target
# while the sync still runs: stopped earlier, the target would keep them
# until its own, later, expire times (--expire-grace), and the checksums
# and --verify below would see keys only on the target.
no_short() {
    local n
    for n in $(cluster_masters) tgt; do
        [ -z "$(redis-cli -p "$(rs_port "$n")" --scan --pattern 'short:*' | head -n 1)" ] || return 1
    done
}
wait_until 30 no_short || echo "# short:* keys still on one side after 30 s" >&2
kill -TERM "$SYNC_PID"
rc=0
wait "$SYNC_PID" || rc=$?
assert_eq cluster_source.sync.exit 0 "$rc"

# ---- --checksum of the cluster = --file --checksum of the target's SAVE ----

rdb_run sum2 --source "$SRC" --checksum
rdb_run tsum --file "$(rs_save tgt)" --checksum
assert_eq cluster_source.checksum.target "$(grep -E '^(keys|types|expires|digest)' "$IT_TMP/tsum.out")" \
    "$(grep -E '^(keys|types|expires|digest)' "$IT_TMP/sum2.out")"

# ---- --verify: the cluster against the target, equal, then one key changed ----

rdb_run verify --verify --source "$SRC" --target "$(rs_url tgt)"
assert_eq cluster_source.verify.rc 0 "$RC"
assert_match cluster_source.verify.equal '^verify: equal: [1-9][0-9]* source keys checked' "$(cat "$IT_TMP/verify.out")"
rs_cli tgt SET e:1000 changed >/dev/null
rs_cli tgt SET only:target x >/dev/null
rdb_run verify2 --verify --source "$SRC" --target "$(rs_url tgt)"
assert_eq cluster_source.verify.differ.rc 8 "$RC"
assert_match cluster_source.verify.differ.key "key 'e:1000': differs" "$(cat "$IT_TMP/verify2.out")"
assert_match cluster_source.verify.only_target "key 'only:target': only on the target" "$(cat "$IT_TMP/verify2.out")"

# ---- resharding under non-idempotent writes: each write applied once ----
# Keys in 12 slots of one master take INCR, LPUSH, APPEND and DEL+SET+INCR
# without pause while those slots move to another master and back (MIGRATE,
# 10 keys at a time, as redis-cli --cluster reshard does). The sync reads
# each shard from its replica (--source-replicas), and the exporter's
# replica is stopped while a slot's hot keys migrate: the importer's
# RESTORE (the value after every write) reaches the target first, then the
# exporter's writes before the MIGRATE and its DEL, which must all be
# dropped (else the writes apply twice and the DEL loses the key; a user's
# DEL just before is not the migration DEL). Afterwards the target equals
# the cluster (cluster_digest vs DEBUG DIGEST).
for n in $(cluster_masters); do rs_cli "$n" CONFIG SET repl-backlog-size 64mb >/dev/null; done
read -r RA RB _ <<<"$(cluster_masters | tr '\n' ' ')"
RA_ID=$(rs_cli "$RA" CLUSTER MYID) RB_ID=$(rs_cli "$RB" CLUSTER MYID)
# The exporter's first 12 slots, and 2 hash tags in each.
first=$(rs_cli "$RA" CLUSTER NODES | awk '/myself/ {split($9, r, "-"); print r[1]}')
MV_FROM=$first MV_TO=$((first + 11))
declare -A tag_of=() hot_in=()
while read -r t s; do
    if [ "$s" -ge "$MV_FROM" ] && [ "$s" -le "$MV_TO" ] && [ "${tag_of[$s]:-0}" -lt 2 ]; then
        tag_of[$s]=$((${tag_of[$s]:-0} + 1)) HOT+=" $t" hot_in[$s]+=" {$t}c {$t}l {$t}a {$t}d"
    fi
done < <(for i in $(seq 1 40000); do echo "CLUSTER KEYSLOT t$i"; done | rs_cli_stdin "$RA" | paste -d' ' <(seq -f 't%.0f' 1 40000) -)
# Cold keys so that each slot takes several MIGRATE batches.
for t in $HOT; do for i in $(seq 1 40); do echo "SET {$t}cold$i v$i"; done; done | redis-cli -c -p "$(rs_port "$RA")" >/dev/null
hot_load() {
    local t
    while [ ! -e "$IT_TMP/hot.stop" ]; do
        for t in $HOT; do printf 'INCR {%s}c\nLPUSH {%s}l x\nAPPEND {%s}a y\nDEL {%s}d\nSET {%s}d 1\nINCR {%s}d\n' "$t" "$t" "$t" "$t" "$t" "$t"; done
    done | redis-cli -c -p "$(rs_port "$RA")" >/dev/null 2>&1 || true
}
# The replica of master $1.
replica_of() {
    local n
    for n in $CLUSTER_NODES; do
        it_running "$n" || continue
        if rs_cli "$n" INFO replication | tr -d '\r' | grep -q "^master_port:$(rs_port "$1")\$"; then echo "$n"; return; fi
    done
}
# Slots MV_FROM..MV_TO from node $1 to node $2 (ids $3 $4), 10 keys per
# MIGRATE. Each slot's hot keys go first, while the exporter's replica (the
# link reads from it: --source-replicas) is stopped: the writes before the
# MIGRATE and its DEL reach rdbsync only after the importer's RESTORE.
move_slots() {
    local from=$1 to=$2 fid=$3 tid=$4 s keys rep
    rep=$(replica_of "$from")
    for ((s = MV_FROM; s <= MV_TO; s++)); do
        rs_cli "$to" CLUSTER SETSLOT "$s" IMPORTING "$fid" >/dev/null
        rs_cli "$from" CLUSTER SETSLOT "$s" MIGRATING "$tid" >/dev/null
        if [ -n "${hot_in[$s]:-}" ] && [ -n "$rep" ]; then
            kill -STOP "$(rs_pid "$rep")"
            sleep 0.05
            # shellcheck disable=SC2086
            rs_cli "$from" MIGRATE 127.0.0.1 "$(rs_port "$to")" "" 0 5000 KEYS ${hot_in[$s]} >/dev/null
            sleep 0.2
            kill -CONT "$(rs_pid "$rep")"
        fi
        while keys=$(rs_cli "$from" CLUSTER GETKEYSINSLOT "$s" 10 | tr '\n' ' '); [ -n "${keys// /}" ]; do
            # shellcheck disable=SC2086
            rs_cli "$from" MIGRATE 127.0.0.1 "$(rs_port "$to")" "" 0 5000 KEYS $keys >/dev/null
        done
        for n in $to $from; do rs_cli "$n" CLUSTER SETSLOT "$s" NODE "$tid" >/dev/null; done
    done
}
rs_start tgtr
rdb_bg reshard --source "$SRC" --source-replicas --target "$(rs_url tgtr)" --status-interval 1
RS_SYNC=$BG_PID
wait_until 60 grep -q 'shards streaming, in sync' "$IT_TMP/reshard.err" || true
rm -f "$IT_TMP/hot.stop"
hot_load &
HOT_PID=$!
on_exit "touch $IT_TMP/hot.stop; kill $HOT_PID 2>/dev/null || true"
sleep 1
move_slots "$RA" "$RB" "$RA_ID" "$RB_ID"
move_slots "$RB" "$RA" "$RB_ID" "$RA_ID"
touch "$IT_TMP/hot.stop"
wait "$HOT_PID" 2>/dev/null || true
same_r() { [ "$(rs_digest tgtr)" = "$(cluster_digest)" ]; }
if wait_until 30 same_r; then
    pass cluster_source.reshard_exact.equal
else
    diffs=
    for t in $HOT; do
        for k in "{$t}c" "{$t}l" "{$t}a" "{$t}d"; do
            src=$(cluster_cli DEBUG DIGEST-VALUE "$k" | tail -n 1) dst=$(rs_cli tgtr DEBUG DIGEST-VALUE "$k")
            [ "$src" = "$dst" ] || diffs+=" $k"
        done
    done
    fail cluster_source.reshard_exact.equal "target $(rs_digest tgtr) ($(rs_cli tgtr DBSIZE) keys), cluster $(cluster_digest) ($(cluster_dbsize) keys); hot keys differing:${diffs:0:300}"
fi
one=${HOT# }
one=${one%% *}
assert_eq cluster_source.reshard_exact.counter "$(cluster_cli GET "{$one}c")" "$(rs_cli tgtr GET "{$one}c")"
kill -TERM "$RS_SYNC"
rc=0
wait "$RS_SYNC" || rc=$?
assert_eq cluster_source.reshard_exact.exit 0 "$rc"

# ---- function libraries: the union of every shard's ----
# A library on every master (the same code), one only on the first master,
# one only on the last: --checksum counts 3, --file holds 3, --once loads 3.
# Then one name with other code on two masters: one line naming both nodes.
fn_code() { printf '#!lua name=%s\nredis.register_function("%s", function() return %s end)' "$1" "$2" "$3"; }
read -r FA FB FC _ <<<"$(cluster_masters | tr '\n' ' ')"
for n in $FA $FB $FC; do rs_cli "$n" FUNCTION LOAD "$(fn_code libeach feach 1)" >/dev/null; done
rs_cli "$FA" FUNCTION LOAD "$(fn_code libfirst ffirst 2)" >/dev/null
rs_cli "$FC" FUNCTION LOAD "$(fn_code liblast flast 3)" >/dev/null
rdb_run fsum --source "$SRC" --checksum --json
assert_eq cluster_source.functions.checksum 3 "$(jq .functions "$IT_TMP/fsum.out")"
rdb_run ffile --source "$SRC" --file "$IT_TMP/fn.rdb"
rdb_run ffilesum --file "$IT_TMP/fn.rdb" --checksum --json
assert_eq cluster_source.functions.file "3 $(jq -r .digest "$IT_TMP/fsum.out")" \
    "$(jq -r '"\(.functions) \(.digest)"' "$IT_TMP/ffilesum.out")"
rs_start tgtf
rdb_run fonce --source "$SRC" --target "$(rs_url tgtf)" --once
assert_eq cluster_source.functions.once.rc 0 "$RC"
assert_eq cluster_source.functions.once.libs "libeach libfirst liblast" \
    "$(rs_cli tgtf FUNCTION LIST | grep -A1 '^library_name$' | grep -v '^library_name$\|^--$' | sort | tr '\n' ' ' | sed 's/ $//')"
assert_eq cluster_source.functions.once.call 3 "$(rs_cli tgtf FCALL flast 0)"
rs_cli "$FA" FUNCTION LOAD "$(fn_code libdiff fdiff 1)" >/dev/null
rs_cli "$FB" FUNCTION LOAD "$(fn_code libdiff fdiff 2)" >/dev/null
rdb_run fconflict --source "$SRC" --checksum
assert_eq cluster_source.functions.conflict.rc 3 "$RC"
both="127.0.0.1:($(rs_port "$FA")|$(rs_port "$FB"))"
assert_match cluster_source.functions.conflict.line "function library 'libdiff' differs between shards $both and $both" \
    "$(cat "$IT_TMP/fconflict.err")"
assert_eq cluster_source.functions.conflict.no_report "" "$(cat "$IT_TMP/fconflict.out")"
rs_cli tgtf FLUSHALL >/dev/null
rs_cli tgtf FUNCTION FLUSH >/dev/null
rdb_run fconflict_once --source "$SRC" --target "$(rs_url tgtf)" --once
assert_eq cluster_source.functions.conflict_once.rc 3 "$RC"
assert_match cluster_source.functions.conflict_once.line "function library 'libdiff' differs between shards $both and $both" \
    "$(cat "$IT_TMP/fconflict_once.err")"
rs_stop tgtf
for n in $FA $FB $FC; do rs_cli "$n" FUNCTION FLUSH >/dev/null; done

# ---- SYNC and PSYNC renamed away on every node: scan mode by itself ----

CLUSTER_NAME=rn cluster_start 3 0 --rename-command SYNC '' --rename-command PSYNC '' || {
    fail cluster_source.renamed.start "the renamed cluster did not come up"; exit 0; }
P0=$(rs_port rn0)
gen_load 1 300 | redis-cli -c -p "$P0" >/dev/null
rs_start tgt2
rdb_bg scan --source "$(rs_url rn0)" --target "$(rs_url tgt2)" --status-interval 1
SCAN_PID=$BG_PID
if wait_until 60 sh -c "[ \$(grep -c 'following changes' '$IT_TMP/scan.err') -ge 3 ]"; then
    pass cluster_source.renamed.following
else
    fail cluster_source.renamed.following "not every master followed: $(tail -n 3 "$IT_TMP/scan.err")"
fi
assert_match cluster_source.renamed.switch 'switching to scan mode' "$(cat "$IT_TMP/scan.err")"
assert_eq cluster_source.renamed.no_error 0 "$(grep -c 'no scan fallback\|stopping the other' "$IT_TMP/scan.err" || true)"
rm -f "$IT_TMP/load.stop"
SHORT=1 run_load 301 1500
same_rn() { [ "$(rs_digest tgt2)" = "$(cluster_digest)" ]; }
if wait_until 40 same_rn; then
    pass cluster_source.renamed.equal
else
    fail cluster_source.renamed.equal "target $(rs_digest tgt2) ($(rs_cli tgt2 DBSIZE) keys), cluster $(cluster_digest) ($(cluster_dbsize) keys)"
fi
kill -TERM "$SCAN_PID"
rc=0
wait "$SCAN_PID" || rc=$?
assert_eq cluster_source.renamed.exit 0 "$rc"

#!/usr/bin/env bash
# it_cluster_state.sh -- --state FILE and the cut-over with a cluster
# source: one record per shard, a restart resumes every shard
# (src/cstate.h); SIGUSR1 pauses every master and switches all shards at
# once (src/ccutover.h).
#
# A 3-master cluster with a replica each, into a standalone redis-server,
# under a slot-routed idempotent load (SET, HSET, SADD, ZADD, DEL: delivery
# after a SIGKILL is at least once without --exactly-once):
#   kill       rdbsync SIGKILLed mid-stream; the file holds three records
#              keyed by slot ranges with node ids and positions; started
#              again with the same --state, each shard says "resumed at
#              offset N" (N its record's), no master served a new full sync
#              (INFO stats sync_full unchanged), and the target equals the
#              cluster once the load stops (cluster_digest vs DEBUG DIGEST);
#   failover   stopped, a replica promoted (CLUSTER FAILOVER) and writes
#              meanwhile, started again: the promoted node continues the old
#              replication id (master_replid2): every shard resumes, the
#              promoted node served no full sync, the target equals;
#   backlog    stopped cleanly, every master's backlog cut to 16 KB, then
#              300 KB of writes (and deletes of keys the target holds) to one
#              slot: its shard says why it cannot resume and full-syncs alone,
#              replacing only its slots (said), the other two resume; the
#              target equals the cluster;
#   cutover    SIGUSR1 to a running sync (resumed from the file, with
#              --exactly-once) under the load: exit 0 with one line
#              "cut-over: target identical to the source at offsets
#              0-5460:N, ...", each N a master's
#              master_repl_offset; every master refuses writes meanwhile
#              (paused), the checkpoint key is gone from the target and the
#              target equals the cluster while paused;
#   auto       --cutover --cutover-verify under the load: once every shard
#              is caught up it cuts over by itself, the verification of the
#              cluster against the target says equal, the line, exit 0;
#   short      a target asleep (DEBUG SLEEP 3) and --pause-timeout 1: exit
#              10, "cut-over failed", every master unpaused (a write
#              completes at once), nothing claimed on stdout;
#   exactly    --exactly-once into a second target under a load of INCR
#              and RPUSH (which a replay would apply twice): SIGKILLed
#              mid-stream, the checkpoint hash holds three fields per shard
#              (slots:RANGES:replid/offset/db); started again, every shard
#              resumes right after its own; once every shard's checkpoint
#              reaches its master's offset, the target (checkpoint key
#              removed) equals the cluster exactly;
#   foreign    the file given with another target, a standalone source's
#              file, or the file with other node ids (another cluster): refused, one line, exit 1,
#              nothing written.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip cluster_state "no rdbsync binary"; exit 0; fi
if ! cluster_start 3 1 --repl-diskless-sync yes --repl-diskless-sync-delay 0; then
    fail cluster_state.start "the cluster did not come up"
    exit 0
fi
P0=${CLUSTER_PORTS%% *}
SRC=$(cluster_url)
ST=$IT_TMP/cluster.state

show_err() {
    note "rdbsync stderr ($1), last lines:"
    tail -n 12 "$IT_TMP/$1.err" | cut -c1-300 | sed 's/^/#   /' >&2
}

# Idempotent commands for i in FROM..TO (a replayed window ends the same).
gen_load() {
    local i
    for ((i = $1; i <= $2; i++)); do
        echo "SET s:$i v$i"
        echo "HSET h:$((i % 50)) f$((i % 97)) v$i"
        echo "SADD st:$((i % 40)) m$i"
        echo "ZADD z:$((i % 40)) $i m$((i % 300))"
        echo "SET c:$((i % 20)) $i"
        echo "DEL s:$((i - 7))"
    done
}
resumed_all() { [ "$(grep -c 'resumed at offset' "$IT_TMP/$1.err")" -ge 3 ]; }
# Every shard says it resumed at its record's offset.
assert_resumed() {
    local t=$1 name=$2 offs
    if wait_until 20 resumed_all "$name"; then pass "$t.each_shard_resumed"
    else fail "$t.each_shard_resumed" "$(grep -c 'resumed at offset' "$IT_TMP/$name.err") of 3"; show_err "$name"; fi
    offs=$(sed -n 's/.*resumed at offset \([0-9]*\) .*/\1/p' "$IT_TMP/$name.err" | sort -n | tr '\n' ' ')
    assert_eq "$t.resumed_at_recorded_offsets" "$3" "$offs"
    assert_eq "$t.no_snapshot" 0 "$(grep -c 'snapshot applied' "$IT_TMP/$name.err" || true)"
}
recorded_offsets() { sed -n 's/^link .* offset=\([0-9-]*\) .*/\1/p' "$ST" | sort -n | tr '\n' ' '; }

gen_load 1 3000 | redis-cli -c -p "$P0" >/dev/null
rs_start tgt

# ---- kill ----

t=kill
cluster_load_start 3001
rdb_bg run1 --source "$SRC" --target "$(rs_url tgt)" --state "$ST" --status-interval 1
SYNC_PID=$BG_PID
if ! wait_until 60 grep -q 'shards streaming, in sync' "$IT_TMP/run1.err"; then
    fail "$t.first_run_in_sync" "$(tail -n 2 "$IT_TMP/run1.err" | cut -c1-300)"
fi
sleep 3
before=$(cluster_full_syncs)
rdb_kill "$SYNC_PID"
wait "$SYNC_PID" 2>/dev/null || true
assert_eq "$t.three_records" 3 "$(grep -c '^link source=slots:[0-9]' "$ST" || true)"
assert_match "$t.records_name_nodes" '^link source=slots:0-5460 nodes=[0-9a-f]{40},[0-9a-f]{40} ' "$(grep -m1 '^link' "$ST")"
offs=$(recorded_offsets)
assert_match "$t.records_have_positions" '^[1-9][0-9]* [1-9][0-9]* [1-9][0-9]* $' "$offs"
sleep 1 # writes while nothing syncs
rdb_bg run2 --source "$SRC" --target "$(rs_url tgt)" --state "$ST" --status-interval 1
SYNC_PID=$BG_PID
assert_resumed "$t" run2 "$offs"
cluster_load_stop
assert_cluster_same "$t" 30
assert_eq "$t.no_new_full_sync" "$before" "$(cluster_full_syncs)"
sync_stop
assert_eq "$t.clean_exit" 0 "$STOP_RC"

# ---- failover between two runs ----

t=failover
M0=${CLUSTER_MASTERS%% *}
PROMOTED=
for n in $CLUSTER_REPLICAS; do
    if [ "$(info "$n" replication master_port)" = "$(rs_port "$M0")" ]; then PROMOTED=$n; fi
done
cluster_load_start 200000
sleep 1
offs=$(recorded_offsets)
rs_cli "$PROMOTED" CLUSTER FAILOVER >/dev/null
if wait_until 20 sh -c "redis-cli -p $(rs_port "$PROMOTED") ROLE | head -n 1 | grep -qx master"; then
    pass "$t.promoted"
else
    fail "$t.promoted" "$PROMOTED did not become a master"
fi
wait_until 20 cluster_ok || true
sleep 1
before=$(cluster_full_syncs)
rdb_bg run3 --source "$SRC" --target "$(rs_url tgt)" --state "$ST" --status-interval 1
SYNC_PID=$BG_PID
assert_resumed "$t" run3 "$offs"
cluster_load_stop
assert_cluster_same "$t" 30
assert_eq "$t.no_new_full_sync" "$before" "$(cluster_full_syncs)"
sync_stop
assert_eq "$t.clean_exit" 0 "$STOP_RC"

# ---- backlog: one shard cannot continue ----

t=backlog
gen_bk() { local i; for ((i = $1; i <= $2; i++)); do echo "SET {bk}:$i $3"; done; }
gen_bk 1 200 old | redis-cli -c -p "$P0" >/dev/null
rdb_bg bk1 --source "$SRC" --target "$(rs_url tgt)" --state "$ST" --status-interval 1
SYNC_PID=$BG_PID
if ! wait_until 30 cluster_same tgt; then fail "$t.first_run_equal" "$(tail -n 2 "$IT_TMP/bk1.err" | cut -c1-300)"; fi
sync_stop
for n in $(cluster_masters); do rs_cli "$n" CONFIG SET repl-backlog-size 16384 >/dev/null; done
{ gen_bk 1 3000 "$(printf 'x%.0s' {1..100})"; for ((i = 1; i <= 200; i += 2)); do echo "DEL {bk}:$i"; done; } |
    redis-cli -c -p "$P0" >/dev/null
rdb_bg bk2 --source "$SRC" --target "$(rs_url tgt)" --state "$ST" --status-interval 1
SYNC_PID=$BG_PID
assert_cluster_same "$t" 40
assert_eq "$t.two_resumed" 2 "$(grep -c 'resumed at offset' "$IT_TMP/bk2.err" || true)"
assert_match "$t.said_why" 'cannot resume at offset [0-9]+: its backlog no longer holds offset' "$(cat "$IT_TMP/bk2.err")"
assert_match "$t.replaced_its_slots_alone" "replacing the shard's slots \([0-9,-]+\) on the target instead of emptying it" \
    "$(cat "$IT_TMP/bk2.err")"
sync_stop
assert_eq "$t.clean_exit" 0 "$STOP_RC"
for n in $(cluster_masters); do rs_cli "$n" CONFIG SET repl-backlog-size 1048576 >/dev/null; done

# ---- cut-over ----

# Every master refuses a write within a second (paused), or takes it at once.
# (a key the master holds: another one would be answered MOVED at once).
masters_paused() {
    local n k
    for n in $(cluster_masters); do
        k=$(rs_cli "$n" RANDOMKEY)
        if timeout 1 redis-cli -p "$(rs_port "$n")" SET "$k" 1 >/dev/null 2>&1; then return 1; fi
    done
}
masters_writable() {
    local n
    for n in $(cluster_masters); do
        [ "$(timeout 2 redis-cli -p "$(rs_port "$n")" SET cutover:probe 2 2>/dev/null)" != MOVED ] || return 1
        timeout 2 redis-cli -c -p "$(rs_port "$n")" SET "cutover:probe:$n" 2 >/dev/null 2>&1 || return 1
    done
}
master_offsets() {
    local n
    for n in $(cluster_masters); do info "$n" replication master_repl_offset; done | sort -n | tr '\n' ' '
}
# offsets_match "A B C " "X Y Z ": each line offset is its master's now, or
# behind it by the replication PINGs (14 bytes each) a paused master still
# sends to its replicas every repl-ping-replica-period.
offsets_match() {
    local m=($1) o=($2) i d
    [ "${#m[@]}" -eq 3 ] && [ "${#o[@]}" -eq 3 ] || return 1
    for i in 0 1 2; do
        d=$((m[i] - o[i]))
        if [ "$d" -lt 0 ] || [ "$d" -gt 56 ] || [ $((d % 14)) -ne 0 ]; then return 1; fi
    done
}
streaming_all() { tail -n 2 "$IT_TMP/$1.err" | grep -q '3 of 3 shards streaming'; }

t=cutover
cluster_load_start 400000
rdb_bg cut --source "$SRC" --target "$(rs_url tgt)" --state "$ST" --status-interval 1 --pause-timeout 20 --exactly-once
SYNC_PID=$BG_PID
if ! wait_until 30 streaming_all cut; then fail "$t.streaming" "$(tail -n 2 "$IT_TMP/cut.err" | cut -c1-300)"; fi
sleep 2
kill -USR1 "$SYNC_PID"
sync_exit 25
assert_eq "$t.exit" 0 "$EXIT_RC"
line=$(grep '^cut-over:' "$IT_TMP/cut.out" || true)
assert_match "$t.line" '^cut-over: target identical to the source at offsets 0-5460:[0-9]+, 5461-10922:[0-9]+, 10923-16383:[0-9]+; source writes paused until [0-9]{2}:[0-9]{2}:[0-9]{2}$' "$line"
offs=$(grep -o ':[0-9]*[,;]' <<<"$line" | tr -d ':,;' | sort -n | tr '\n' ' ')
if offsets_match "$(master_offsets)" "$offs"; then pass "$t.final_offsets"
else fail "$t.final_offsets" "line $offs, masters $(master_offsets)"; fi
if masters_paused; then pass "$t.masters_paused"; else fail "$t.masters_paused" "a master took a write"; fi
assert_eq "$t.equal_while_paused" "$(cluster_digest) $(cluster_dbsize)" "$(rs_digest tgt) $(rs_cli tgt DBSIZE)"
assert_eq "$t.checkpoint_removed" 0 "$(rs_cli tgt EXISTS rdbsync:checkpoint)"
for n in $(cluster_masters); do rs_cli "$n" CLIENT UNPAUSE >/dev/null; done
cluster_load_stop

t=auto
cluster_load_start 450000
rdb_bg auto --source "$SRC" --target "$(rs_url tgt)" --state "$ST" --status-interval 1 --pause-timeout 20 \
    --cutover --cutover-verify
SYNC_PID=$BG_PID
sync_exit 40
assert_eq "$t.exit" 0 "$EXIT_RC"
assert_match "$t.verified" '^verify: equal: [0-9]+ source keys checked, 0 differ' "$(grep '^verify:' "$IT_TMP/auto.out" || true)"
assert_match "$t.line" '^cut-over: target identical to the source at offsets 0-5460:[0-9]+, ' "$(grep '^cut-over:' "$IT_TMP/auto.out" || true)"
offs=$(grep '^cut-over:' "$IT_TMP/auto.out" | grep -o ':[0-9]*[,;]' | tr -d ':,;' | sort -n | tr '\n' ' ')
if offsets_match "$(master_offsets)" "$offs"; then pass "$t.final_offsets"
else fail "$t.final_offsets" "line $offs, masters $(master_offsets)"; fi
for n in $(cluster_masters); do rs_cli "$n" CLIENT UNPAUSE >/dev/null; done
cluster_load_stop

t=short
cluster_load_start 500000
rdb_bg short --source "$SRC" --target "$(rs_url tgt)" --state "$ST" --status-interval 1 --pause-timeout 1
SYNC_PID=$BG_PID
if ! wait_until 30 streaming_all short; then fail "$t.streaming" "$(tail -n 2 "$IT_TMP/short.err" | cut -c1-300)"; fi
rs_cli tgt DEBUG SLEEP 3 >/dev/null &
sleep 0.3
kill -USR1 "$SYNC_PID"
sync_exit 20
assert_eq "$t.exit" 10 "$EXIT_RC"
assert_match "$t.said" 'cut-over failed: the shard of slots [0-9-]+ reached offset [0-9]+ of [0-9]+ before the pause \(--pause-timeout 1.0 s\) ran out; source writes unpaused at [0-9:]+ on every master; nothing was switched' \
    "$(cat "$IT_TMP/short.err")"
assert_eq "$t.nothing_claimed" "" "$(cat "$IT_TMP/short.out")"
if masters_writable; then pass "$t.masters_unpaused"; else fail "$t.masters_unpaused" "a master still blocks writes"; fi
cluster_load_stop

# ---- exactly-once ----

t=exactly
gen_incr() {
    local i
    for ((i = $1; i <= $2; i++)); do
        echo "INCR n:$((i % 30))"
        echo "RPUSH q:$((i % 10)) $i"
        echo "HINCRBY hi:$((i % 7)) f$((i % 3)) 1"
    done
}
run_incr() {
    local i=1
    while [ ! -e "$IT_TMP/load.stop" ]; do
        gen_incr "$i" $((i + 99)) | redis-cli -c -p "$P0" >/dev/null 2>&1 || true
        i=$((i + 100))
    done
}
cp_offsets() {
    rs_cli tgt2 HGETALL rdbsync:checkpoint | paste - - | sed -n 's/^slots:[0-9,-]*:offset\t//p' | sort -n | tr '\n' ' '
}
cp_caught_up() { [ "$(cp_offsets)" == "$(master_offsets)" ]; }
rs_start tgt2
rm -f "$IT_TMP/load.stop"
run_incr &
LOAD_PID=$!
on_exit "touch $IT_TMP/load.stop; kill $LOAD_PID 2>/dev/null || true"
rdb_bg ex1 --source "$SRC" --target "$(rs_url tgt2)" --exactly-once --status-interval 1
SYNC_PID=$BG_PID
if ! wait_until 60 grep -q 'shards streaming' "$IT_TMP/ex1.err"; then
    fail "$t.first_run_streaming" "$(tail -n 2 "$IT_TMP/ex1.err" | cut -c1-300)"
fi
sleep 3
rdb_kill "$SYNC_PID"
wait "$SYNC_PID" 2>/dev/null || true
assert_eq "$t.fields_per_shard" "9" "$(rs_cli tgt2 HGETALL rdbsync:checkpoint | paste - - | grep -c '^slots:[0-9,-]*:\(replid\|offset\|db\)'$'\t' || true)"
offs=$(cp_offsets)
sleep 1
rdb_bg ex2 --source "$SRC" --target "$(rs_url tgt2)" --exactly-once --status-interval 1
SYNC_PID=$BG_PID
if wait_until 20 resumed_all ex2; then pass "$t.each_shard_resumed"
else fail "$t.each_shard_resumed" "$(grep -c 'resumed at offset' "$IT_TMP/ex2.err") of 3"; show_err ex2; fi
assert_eq "$t.resumed_at_checkpoints" "$offs" \
    "$(sed -n 's/.*resumed at offset \([0-9]*\) .*/\1/p' "$IT_TMP/ex2.err" | sort -n | tr '\n' ' ')"
assert_eq "$t.no_snapshot" 0 "$(grep -c 'snapshot applied' "$IT_TMP/ex2.err" || true)"
cluster_load_stop
if ! wait_until 30 cp_caught_up; then fail "$t.caught_up" "checkpoints $(cp_offsets), masters $(master_offsets)"; fi
sync_stop
rs_cli tgt2 DEL rdbsync:checkpoint >/dev/null
assert_eq "$t.target_equals_cluster" "$(cluster_digest) $(cluster_dbsize)" "$(rs_digest tgt2) $(rs_cli tgt2 DBSIZE)"

# ---- foreign ----

t=foreign
rs_start other
rs_cli other SET mine 1 >/dev/null
rdb_run "$t.target" --source "$SRC" --target "$(rs_url other)" --state "$ST"
assert_eq "$t.other_target_exit" 1 "$RC"
assert_match "$t.other_target_line" "refused: it was written for target 127.0.0.1:$(rs_port tgt), not 127.0.0.1:$(rs_port other)" \
    "$(cat "$IT_TMP/$t.target.err")"
assert_eq "$t.other_target_untouched" 1 "$(rs_cli other DBSIZE)"
rs_start single
# seal BODY FILE: FILE is BODY with the checksum line state.c writes (the
# CRC-64 Jones, reflected, as Redis's crc64).
seal() {
    python3 - "$1" "$2" <<'PY'
import sys
def crc64(data):
    poly, crc = 0x95ac9329ac4bc9b5, 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc
body = open(sys.argv[1], 'rb').read()
open(sys.argv[2], 'wb').write(body + b'checksum %016x\n' % crc64(body))
PY
}
sed -n '1,2p' "$ST" >"$IT_TMP/single.body"
echo "link source=127.0.0.1:$(rs_port single) run_id=- replid=- offset=-1 db=0 target_ours=1 updated=1" >>"$IT_TMP/single.body"
seal "$IT_TMP/single.body" "$IT_TMP/single.state"
rdb_run "$t.single" --source "$SRC" --target "$(rs_url tgt)" --state "$IT_TMP/single.state"
assert_eq "$t.single_source_exit" 1 "$RC"
assert_match "$t.single_source_line" "refused: it was written for the single source 127.0.0.1:$(rs_port single), not this cluster" \
    "$(cat "$IT_TMP/$t.single.err")"
# The same file with other node ids: another cluster (same slot layout).
grep -v '^checksum' "$ST" | sed 's/nodes=[0-9a-f,]*/nodes=0123456789012345678901234567890123456789/' >"$IT_TMP/other.body"
seal "$IT_TMP/other.body" "$IT_TMP/other.state"
rdb_run "$t.cluster" --source "$SRC" --target "$(rs_url tgt)" --state "$IT_TMP/other.state"
assert_eq "$t.other_cluster_exit" 1 "$RC"
assert_match "$t.other_cluster_line" 'refused: it was written for another cluster' "$(cat "$IT_TMP/$t.cluster.err")"

#!/usr/bin/env bash
# it_cluster_durable.sh -- a cluster source's --state and cut-over through
# topology changes (src/cstate.h, src/ccutover.h): slots moved while
# rdbsync runs or is stopped, a failover while it is stopped, a failover
# between the cut-over's pause and its declaration.
#
# A 3-master cluster with a replica each, into a standalone redis-server,
# under a slot-routed idempotent load (SET, HSET, SADD, ZADD, DEL):
#   reshard    a live sync with --state; redis-cli --cluster reshard moves
#              500 slots from the first master to the second and rdbsync
#              is stopped (SIGTERM, exit 0) in the middle of it; started
#              again with the same file once the reshard ended: every shard
#              resumes by PSYNC ("resumed at offset N", no snapshot, the
#              masters' INFO sync_full unchanged), the two shards whose
#              slots changed say so and resume all the same;
#   live       while that run streams, 300 slots go back; the status line
#              shows the new owners without a restart; stopped right after
#              the reshard and started again: every shard resumes again;
#              the load stops: the target equals the cluster (XOR of the
#              masters' DEBUG DIGEST, DBSIZE) and --checksum of the cluster
#              equals --checksum of the target;
#   failover   stopped, a replica of the resharded master promoted (CLUSTER
#              FAILOVER) with writes meanwhile, started again: every shard
#              resumes, the promoted node served no full sync (its
#              sync_full), the target equals the cluster;
#   cutover    SIGUSR1 while the target sleeps (DEBUG SLEEP 4): every master
#              paused, no shard can reach its final offset; meanwhile a
#              replica takes over its master (CLUSTER FAILOVER) and a write
#              lands on the promoted node. rdbsync says the shard failed
#              over during the pause, pauses the new master (its write is
#              in the final offset), applies up to it and declares: exit 0,
#              the line's offsets are the current masters' offsets, every
#              current master refuses writes, the target equals the cluster
#              (with the write made on the promoted node) while paused;
#   killed     the same with a master SIGKILLed during the pause: once its
#              replica is elected it is paused and followed: exit 0, the
#              line's offsets the current masters', every master paused,
#              the target equals the cluster.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip cluster_durable "no rdbsync binary"; exit 0; fi
if ! cluster_start 3 1 --repl-diskless-sync yes --repl-diskless-sync-delay 0; then
    fail cluster_durable.start "the cluster did not come up"
    exit 0
fi
P0=${CLUSTER_PORTS%% *}
SRC=$(cluster_url)
ST=$IT_TMP/cluster.state
CLUSTER_LOAD_BATCH=50 CLUSTER_LOAD_PAUSE=0.05 # small batches, spaced

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
        echo "DEL s:$((i - 7))"
    done
}
resumed_all() { [ "$(grep -c 'resumed at offset' "$IT_TMP/$1.err")" -ge 3 ]; }
assert_resumed() {
    local t=$1 name=$2
    if wait_until 20 resumed_all "$name"; then pass "$t.each_shard_resumed"
    else fail "$t.each_shard_resumed" "$(grep -c 'resumed at offset' "$IT_TMP/$name.err") of 3"; show_err "$name"; fi
    assert_eq "$t.no_snapshot" 0 "$(grep -c 'snapshot applied' "$IT_TMP/$name.err" || true)"
    assert_eq "$t.no_full_sync_said" 0 "$(grep -c 'full sync of its slots alone\|cannot resume' "$IT_TMP/$name.err" || true)"
}
streaming_all() { tail -n 2 "$IT_TMP/$1.err" | grep -q '3 of 3 shards streaming'; }
start_sync() {
    rdb_bg "$1" --source "$SRC" --target "$(rs_url tgt)" --state "$ST" --status-interval 1 "${@:2}"
    SYNC_PID=$BG_PID
}
# owned NODE: how many slots NODE serves, as it says (CLUSTER NODES).
owned() {
    rs_cli "$1" CLUSTER NODES | grep myself | awk '{ n = 0; for (i = 9; i <= NF; i++) if ($i !~ /^\[/) {
        split($i, r, "-"); n += (r[2] == "" ? 1 : r[2] - r[1] + 1) } print n }'
}
owns_slot0() {
    rs_cli "$1" CLUSTER NODES | grep myself | awk '{ for (i = 9; i <= NF; i++) if ($i ~ /^0(-|$)/) f = 1 } END { exit !f }'
}

# keys in every slot range, so that a reshard takes a while (MIGRATE by 10s)
{ gen_load 1 3000; for ((i = 1; i <= 20000; i++)); do echo "SET pad:$i $i"; done; } | redis-cli -c -p "$P0" >/dev/null
rs_start tgt
read -r M0 M1 M2 <<<"$CLUSTER_MASTERS"
ID0=$(rs_cli "$M0" CLUSTER MYID)
ID1=$(rs_cli "$M1" CLUSTER MYID)

# ---- reshard: stopped in the middle of a reshard, started after it ----

t=reshard
cluster_load_start 10000
start_sync rs1
if ! wait_until 60 streaming_all rs1; then fail "$t.first_run_streaming" "$(tail -n 2 "$IT_TMP/rs1.err" | cut -c1-300)"; fi
sleep 1
cluster_reshard "$ID0" "$ID1" 500 a &
RESHARD_PID=$!
# stopped as soon as the first slot changed hands (the reshard goes on)
wait_until 20 owns_slot0 "$M1" || true
sync_stop
mid=$(owned "$M1")
assert_eq "$t.stopped_cleanly" 0 "$STOP_RC"
RESHARD_RC=0
wait "$RESHARD_PID" || RESHARD_RC=$?
assert_eq "$t.reshard_ok" 0 "$RESHARD_RC"
if [ "$mid" -gt 5462 ] && [ "$mid" -lt 5962 ]; then pass "$t.stopped_mid_reshard"
else note "the stop came after $((mid - 5462)) of 500 slots moved"; fi
wait_until 20 cluster_ok || true
before=$(cluster_full_syncs)
start_sync rs2
assert_resumed "$t" rs2
assert_match "$t.new_slots_said" "shard 127\.0\.0\.1:$(rs_port "$M0") serves slots 500-5460 now \(0-5460 in the file\): it resumes all the same" \
    "$(cat "$IT_TMP/rs2.err")"
assert_eq "$t.no_new_full_sync" "$before" "$(cluster_full_syncs)"

# ---- live: a reshard while it runs, stopped right after ----

t=live
cluster_reshard "$ID1" "$ID0" 300 b || fail "$t.reshard_ok" "$(tail -n 3 "$IT_TMP/reshard.b.log")"
# the first 300 slots the second master serves are 0-299 (moved in above)
if wait_until 15 sh -c "tail -n 2 '$IT_TMP/rs2.err' | grep -q '\[0-299,500-5460\]'"; then pass "$t.new_owner_shown"
else fail "$t.new_owner_shown" "$(tail -n 1 "$IT_TMP/rs2.err" | cut -c1-300)"; fi
sync_stop
assert_eq "$t.stopped_cleanly" 0 "$STOP_RC"
start_sync rs3
assert_resumed "$t" rs3
cluster_load_stop
assert_cluster_same "$t" 30
assert_eq "$t.no_new_full_sync" "$before" "$(cluster_full_syncs)"
rdb_run sum.src --source "$SRC" --checksum
rc_src=$RC
rdb_run sum.tgt --source "$(rs_url tgt)" --checksum
assert_eq "$t.checksum_rc" "0 0" "$rc_src $RC"
assert_eq "$t.checksums_equal" "$(grep -v '^crc64\|^source' "$IT_TMP/sum.src.out")" "$(grep -v '^crc64\|^source' "$IT_TMP/sum.tgt.out")"
sync_stop
assert_eq "$t.clean_exit" 0 "$STOP_RC"

# ---- failover while stopped, after the reshards ----

t=failover
PROMOTED=
for n in $CLUSTER_REPLICAS; do
    if [ "$(info "$n" replication master_port)" = "$(rs_port "$M0")" ]; then PROMOTED=$n; fi
done
cluster_load_start 200000
sleep 1
rs_cli "$PROMOTED" CLUSTER FAILOVER >/dev/null
if wait_until 20 sh -c "redis-cli -p $(rs_port "$PROMOTED") ROLE | head -n 1 | grep -qx master"; then pass "$t.promoted"
else fail "$t.promoted" "$PROMOTED did not become a master"; fi
wait_until 20 cluster_ok || true
sleep 1
before=$(cluster_full_syncs)
start_sync fo1
assert_resumed "$t" fo1
cluster_load_stop
assert_cluster_same "$t" 30
assert_eq "$t.no_new_full_sync" "$before" "$(cluster_full_syncs)"
assert_eq "$t.promoted_served_no_full_sync" 0 "$(info "$PROMOTED" stats sync_full)"

# ---- cutover: a failover between the pause and the declaration ----

masters_paused() {
    local n k
    for n in $(cluster_masters); do
        k=$(rs_cli "$n" RANDOMKEY)
        if timeout 1 redis-cli -p "$(rs_port "$n")" SET "$k" 1 >/dev/null 2>&1; then return 1; fi
    done
}
master_offsets() {
    local n
    for n in $(cluster_masters); do info "$n" replication master_repl_offset; done | sort -n | tr '\n' ' '
}
offsets_match() { # each line offset is its master's now, or behind by replication PINGs
    local m=($1) o=($2) i d
    [ "${#m[@]}" -eq 3 ] && [ "${#o[@]}" -eq 3 ] || return 1
    for i in 0 1 2; do
        d=$((m[i] - o[i]))
        if [ "$d" -lt 0 ] || [ "$d" -gt 56 ] || [ $((d % 14)) -ne 0 ]; then return 1; fi
    done
}

t=cutover
# fo1 streams; the new master of the shard and its replica (the old master)
NEWM=$PROMOTED
OLDM=$M0
for n in $CLUSTER_REPLICAS $M0; do
    if [ "$n" != "$NEWM" ] && [ "$(info "$n" replication master_port)" = "$(rs_port "$NEWM")" ]; then OLDM=$n; fi
done
if ! wait_until 20 streaming_all fo1; then fail "$t.streaming" "$(tail -n 2 "$IT_TMP/fo1.err" | cut -c1-300)"; fi
sync_stop
cluster_load_start 300000
start_sync cut --pause-timeout 30
if ! wait_until 30 streaming_all cut; then fail "$t.streaming" "$(tail -n 2 "$IT_TMP/cut.err" | cut -c1-300)"; fi
sleep 1
rs_cli tgt DEBUG SLEEP 4 >/dev/null &
sleep 0.5
kill -USR1 "$SYNC_PID"
if wait_until 5 grep -q 'writes of all 3 masters paused' "$IT_TMP/cut.err"; then pass "$t.paused_first"
else fail "$t.paused_first" "$(tail -n 2 "$IT_TMP/cut.err" | cut -c1-300)"; fi
rs_cli "$OLDM" CLUSTER FAILOVER >/dev/null
if wait_until 10 sh -c "redis-cli -p $(rs_port "$OLDM") ROLE | head -n 1 | grep -qx master"; then pass "$t.promoted_during_pause"
else fail "$t.promoted_during_pause" "$OLDM did not become a master"; fi
# a key of the promoted node's slots, written there at once (before
# rdbsync can have noticed the failover)
key=$(rs_cli "$OLDM" RANDOMKEY)
late=$(timeout 2 redis-cli -p "$(rs_port "$OLDM")" SET "$key" written-after-the-failover 2>&1 || echo blocked)
sync_exit 40
assert_eq "$t.exit" 0 "$EXIT_RC"
assert_match "$t.said_failover" "cut-over: the shard of slots [0-9,-]+ failed over to 127\.0\.0\.1:$(rs_port "$OLDM") during the pause: paused it too" \
    "$(cat "$IT_TMP/cut.err")"
line=$(grep '^cut-over:' "$IT_TMP/cut.out" || true)
assert_match "$t.line" '^cut-over: target identical to the source at offsets .*; source writes paused until [0-9]{2}:[0-9]{2}:[0-9]{2}$' "$line"
offs=$(grep -o ':[0-9]*[,;]' <<<"$line" | tr -d ':,;' | sort -n | tr '\n' ' ')
if offsets_match "$(master_offsets)" "$offs"; then pass "$t.final_offsets_are_current_masters"
else fail "$t.final_offsets_are_current_masters" "line $offs, masters $(master_offsets)"; fi
if masters_paused; then pass "$t.current_masters_paused"; else fail "$t.current_masters_paused" "a master took a write"; fi
assert_eq "$t.equal_while_paused" "$(cluster_digest) $(cluster_dbsize)" "$(rs_digest tgt) $(rs_cli tgt DBSIZE)"
if [ "$late" = OK ]; then
    assert_eq "$t.late_write_copied" written-after-the-failover "$(rs_cli tgt GET "$key")"
else
    note "the write on the promoted node came after its pause ($late)"
fi
for n in $CLUSTER_NODES; do rs_cli "$n" CLIENT UNPAUSE >/dev/null; done
cluster_load_stop

# ---- killed: a master killed during the pause, its replica elected ----

t=killed
cluster_load_start 400000
start_sync kill --pause-timeout 30
if ! wait_until 30 streaming_all kill; then fail "$t.streaming" "$(tail -n 2 "$IT_TMP/kill.err" | cut -c1-300)"; fi
sleep 1
rs_cli tgt DEBUG SLEEP 3 >/dev/null &
sleep 0.5
kill -USR1 "$SYNC_PID"
if ! wait_until 5 grep -q 'writes of all 3 masters paused' "$IT_TMP/kill.err"; then
    fail "$t.paused_first" "$(tail -n 2 "$IT_TMP/kill.err" | cut -c1-300)"
fi
VICTIM=$M2
HEIR=
for n in $CLUSTER_NODES; do
    if [ "$n" != "$VICTIM" ] && [ "$(info "$n" replication master_port)" = "$(rs_port "$VICTIM")" ]; then HEIR=$n; fi
done
kill -9 "$(rs_pid "$VICTIM")"
it_wait_pid "$(rs_pid "$VICTIM")" 5 2>/dev/null || true # (no "Killed" line)
it_forget "$VICTIM"
if wait_until 20 sh -c "redis-cli -p $(rs_port "$HEIR") ROLE | head -n 1 | grep -qx master"; then pass "$t.replica_elected"
else fail "$t.replica_elected" "$HEIR did not become a master"; fi
sync_exit 40
assert_eq "$t.exit" 0 "$EXIT_RC"
assert_match "$t.said_failover" "cut-over: the shard of slots 10923-16383 failed over to 127\.0\.0\.1:$(rs_port "$HEIR") during the pause: paused it too" \
    "$(cat "$IT_TMP/kill.err")"
line=$(grep '^cut-over:' "$IT_TMP/kill.out" || true)
offs=$(grep -o ':[0-9]*[,;]' <<<"$line" | tr -d ':,;' | sort -n | tr '\n' ' ')
if offsets_match "$(master_offsets)" "$offs"; then pass "$t.final_offsets_are_current_masters"
else fail "$t.final_offsets_are_current_masters" "line '$line', masters $(master_offsets)"; fi
if masters_paused; then pass "$t.current_masters_paused"; else fail "$t.current_masters_paused" "a master took a write"; fi
assert_eq "$t.equal_while_paused" "$(cluster_digest) $(cluster_dbsize)" "$(rs_digest tgt) $(rs_cli tgt DBSIZE)"
for n in $(cluster_masters); do rs_cli "$n" CLIENT UNPAUSE >/dev/null; done
cluster_load_stop


#!/usr/bin/env bash
# it_tload_cluster.sh -- --target-load replica with a cluster source
# (src/ctload.h): the shards' snapshots as one RDB the target loads once,
# against a real 3-master cluster (7.0, tests/lib.sh cluster_start 3 0).
# "equal" below: DEBUG DIGEST of the target equals the XOR of the
# masters' (cluster_digest), and rdbsync's --checksum of the cluster
# equals the target's.
#
#   once      keys of every type in all slots (redis-benchmark --cluster
#             and redis-cli -c), a third of them with an expire, the same
#             function library on every master and one on the first only,
#             into an empty target with repl-diskless-load disabled:
#             exit 0, equal, both libraries on the target (each once: a
#             duplicate would have failed the load), the target a master
#             with repl-diskless-load back to disabled, one RESIZEDB
#             line for the sum of the masters' keys, the load line
#   live      the same without --once, a slot-routed write load running
#             through the snapshot: equal after the load stops; SIGTERM
#             exits 0, the target a master
#   conflict  one library name with other code on two masters: exit 3
#             with the line the cluster --file path uses, naming both
#             nodes; the target a master, empty, its config restored
#   cut       one master's snapshot slowed (rdb-key-save-delay) and its
#             replica link killed while the target loads: exit 6 with the
#             abandon line, the target a master, empty, repl-diskless-load
#             restored (nothing partial loaded)
#   state     --state FILE --once with --target-load replica (loaded as our
#             replica), writes, the same again: the resume says the mode
#             does not apply, every shard resumes (no full sync), exit 0, equal
#   refusal   with --exactly-once: exit 1, one line, nothing written
#
# KEEP_TMP=1 keeps the logs.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

DBG=(--enable-debug-command yes)

if ! have_rdbsync; then
    skip tload_cluster "no binary at $RDBSYNC (run make)"
    exit 0
fi
if ! cluster_start 3 0 "${DBG[@]}" --repl-diskless-sync yes --repl-diskless-sync-delay 0; then
    fail tload_cluster.start "the cluster did not come up"
    exit 0
fi
P0=${CLUSTER_PORTS%% *}
SRC=$(cluster_url)
read -r MA MB MC _ <<<"$(cluster_masters | tr '\n' ' ')"

fn_code() { printf '#!lua name=%s\nredis.register_function("%s", function() return %s end)' "$1" "$2" "$3"; }

# Commands for i in FROM..TO, slot-routed by redis-cli -c: every type, an
# expire on a third of them.
gen_keys() {
    local i
    for ((i = $1; i <= $2; i++)); do
        echo "SET s:$i v$i"
        echo "HSET h:$((i % 500)) f$i v$i"
        echo "RPUSH l:$((i % 300)) e$i"
        echo "SADD st:$((i % 400)) m$i"
        echo "ZADD z:$((i % 400)) $i m$i"
        echo "XADD x:$((i % 100)) * f $i"
        echo "PFADD hll:$((i % 50)) e$i"
        if ((i % 3 == 0)); then echo "PEXPIRE s:$i 600000"; echo "EXPIRE h:$((i % 500)) 900"; fi
        echo "INCR c:$((i % 200))"
    done
}

fill() {
    gen_keys 1 3000 | redis-cli -c -p "$P0" >/dev/null 2>&1
    # bulk: many keys in every slot, strings, lists and hashes
    redis-benchmark --cluster -p "$P0" -t set,lpush,hset -n 60000 -r 100000 -d 24 -P 32 -q >/dev/null 2>&1 || true
    for n in $MA $MB $MC; do rs_cli "$n" FUNCTION LOAD "$(fn_code libeach feach 1)" >/dev/null; done
    rs_cli "$MA" FUNCTION LOAD "$(fn_code libfirst ffirst 2)" >/dev/null
}

# equal NAME TGT: the target against the cluster.
equal() {
    local name=$1 t=$2 a b
    a=$(cluster_digest)
    b=$(rs_digest "$t")
    if [ "$a" != "$b" ]; then
        fail "$name" "DEBUG DIGEST differs: cluster $a, target $b"
        return 1
    fi
    rdb_run "$name.cs" --source "$SRC" --checksum
    a=$(sed -n 's/^digest: //p' "$IT_TMP/$name.cs.out")
    rdb_run "$name.ct" --source "$(rs_url "$t")" --checksum
    b=$(sed -n 's/^digest: //p' "$IT_TMP/$name.ct.out")
    if [ -z "$a" ] || [ "$a" != "$b" ]; then
        fail "$name" "rdbsync --checksum differs: cluster '$a', target '$b'"
        return 1
    fi
}
equal_quiet() { [ "$(cluster_digest)" == "$(rs_digest "$1")" ]; }

libs() {
    rs_cli "$1" FUNCTION LIST | grep -A1 '^library_name$' | grep -v '^library_name$\|^--$' | sort | tr '\n' ' ' |
        sed 's/ $//'
}

scenario_once() {
    rs_start o_tgt "${DBG[@]}" --repl-diskless-load disabled || { fail tload_cluster.once "no target"; return; }
    rdb_run o --source "$SRC" --target "$(rs_url o_tgt)" --target-load replica --once
    if [ "$RC" -ne 0 ]; then
        fail tload_cluster.once "exit $RC: $(tail -3 "$IT_TMP/o.err")"
        return
    fi
    local role dl sum
    role=$(info o_tgt replication role)
    dl=$(rs_cli o_tgt CONFIG GET repl-diskless-load | tail -1)
    sum=$(cluster_dbsize)
    if [ "$role" != master ] || [ "$dl" != disabled ]; then
        fail tload_cluster.once "after the load: role '$role', repl-diskless-load '$dl'"
    elif ! has_line o "one snapshot of 3 shards, sized for $sum keys"; then
        fail tload_cluster.once "no sizing line for $sum keys: $(cat "$IT_TMP/o.err")"
    elif ! has_line o "the target loaded the snapshot as our replica and holds $sum keys"; then
        fail tload_cluster.once "no load line with $sum keys: $(cat "$IT_TMP/o.err")"
    elif [ "$(libs o_tgt)" != "libeach libfirst" ]; then
        fail tload_cluster.once "libraries '$(libs o_tgt)', not 'libeach libfirst'"
    elif equal tload_cluster.once o_tgt; then
        pass tload_cluster.once
    fi
    rs_stop o_tgt
}

# The load: slot-routed, every type, for about 4 s from a background job.
bg_load() {
    local i=100000 end=$((SECONDS + 4))
    while [ "$SECONDS" -lt "$end" ]; do
        gen_keys "$i" $((i + 150)) | redis-cli -c -p "$P0" >/dev/null 2>&1 || true
        i=$((i + 151))
    done
}

scenario_live() {
    local t=live
    rs_start l_tgt "${DBG[@]}" || { fail tload_cluster.live "no target"; return; }
    bg_load &
    local load_pid=$!
    sleep 0.3
    rdb_bg "$t" --source "$SRC" --target "$(rs_url l_tgt)" --target-load replica
    SYNC_PID=$BG_PID
    wait "$load_pid" || true
    if ! wait_until 40 equal_quiet l_tgt; then
        fail tload_cluster.live "the target never equalled the cluster: $(tail -3 "$IT_TMP/$t.err")"
        sync_stop
        rs_stop l_tgt
        return
    fi
    sync_stop
    if [ "$STOP_RC" != 0 ]; then fail tload_cluster.live "SIGTERM exit $STOP_RC: $(tail -2 "$IT_TMP/$t.err")"
    elif ! has_line "$t" "the target loaded the snapshot as our replica"; then
        fail tload_cluster.live "no load line: $(cat "$IT_TMP/$t.err")"
    elif [ "$(info l_tgt replication role)" != master ]; then fail tload_cluster.live "the target is not a master"
    elif equal tload_cluster.live l_tgt; then pass tload_cluster.live; fi
    rs_stop l_tgt
}

scenario_conflict() {
    rs_start c_tgt --repl-diskless-load disabled || { fail tload_cluster.conflict "no target"; return; }
    rs_cli "$MA" FUNCTION LOAD "$(fn_code libdiff fdiff 1)" >/dev/null
    rs_cli "$MB" FUNCTION LOAD "$(fn_code libdiff fdiff 2)" >/dev/null
    rdb_run c --source "$SRC" --target "$(rs_url c_tgt)" --target-load replica --once
    local both="127.0.0.1:($(rs_port "$MA")|$(rs_port "$MB"))"
    if [ "$RC" != 3 ]; then fail tload_cluster.conflict "exit $RC, not 3: $(tail -3 "$IT_TMP/c.err")"
    elif ! grep -Eq "function library 'libdiff' differs between shards $both and $both" "$IT_TMP/c.err"; then
        fail tload_cluster.conflict "no conflict line: $(cat "$IT_TMP/c.err")"
    elif [ "$(info c_tgt replication role)" != master ]; then fail tload_cluster.conflict "the target is not a master"
    elif [ "$(rs_cli c_tgt CONFIG GET repl-diskless-load | tail -1)" != disabled ]; then
        fail tload_cluster.conflict "repl-diskless-load not restored"
    elif [ "$(rs_cli c_tgt DBSIZE)" != 0 ] || [ -n "$(libs c_tgt)" ]; then
        fail tload_cluster.conflict "the target holds $(rs_cli c_tgt DBSIZE) keys, libraries '$(libs c_tgt)'"
    else pass tload_cluster.conflict; fi
    rs_cli "$MA" FUNCTION DELETE libdiff >/dev/null
    rs_cli "$MB" FUNCTION DELETE libdiff >/dev/null
    rs_stop c_tgt
}

scenario_cut() {
    rs_start x_tgt --repl-diskless-load disabled || { fail tload_cluster.cut "no target"; return; }
    rs_cli "$MB" CONFIG SET rdb-key-save-delay 200 >/dev/null
    rdb_bg x --source "$SRC" --target "$(rs_url x_tgt)" --target-load replica --once
    SYNC_PID=$BG_PID
    wait_until 10 has_line x "sized for" || true
    sleep 1
    rs_cli "$MB" CLIENT KILL TYPE replica >/dev/null
    sync_exit 30
    rs_cli "$MB" CONFIG SET rdb-key-save-delay 0 >/dev/null
    if [ "$EXIT_RC" != 6 ]; then fail tload_cluster.cut "exit $EXIT_RC, not 6: $(tail -3 "$IT_TMP/x.err")"
    elif ! has_line x "rdbsync: shard 127.0.0.1:$(rs_port "$MB"): --target-load replica: the snapshot of shard 127.0.0.1:$(rs_port "$MB") was cut short (the source's link closed), so the target's load of every shard was abandoned (it was promoted, nothing of it kept); run again"; then
        fail tload_cluster.cut "no abandon line: $(cat "$IT_TMP/x.err")"
    elif [ "$(info x_tgt replication role)" != master ]; then fail tload_cluster.cut "the target is not a master"
    elif [ "$(rs_cli x_tgt CONFIG GET repl-diskless-load | tail -1)" != disabled ]; then
        fail tload_cluster.cut "repl-diskless-load not restored"
    elif [ "$(rs_cli x_tgt DBSIZE)" != 0 ]; then fail tload_cluster.cut "the target holds $(rs_cli x_tgt DBSIZE) keys"
    else pass tload_cluster.cut; fi
    rs_stop x_tgt
}

scenario_state() {
    rs_start s_tgt "${DBG[@]}" || { fail tload_cluster.state "no target"; return; }
    rdb_run s1 --source "$SRC" --target "$(rs_url s_tgt)" --target-load replica --once --state "$IT_TMP/state"
    if [ "$RC" != 0 ] || ! has_line s1 "the target loaded the snapshot as our replica"; then
        fail tload_cluster.state "first run: exit $RC: $(tail -2 "$IT_TMP/s1.err")"
        rs_stop s_tgt
        return
    fi
    gen_keys 200000 200300 | redis-cli -c -p "$P0" >/dev/null 2>&1
    rdb_run s2 --source "$SRC" --target "$(rs_url s_tgt)" --target-load replica --once --state "$IT_TMP/state"
    if [ "$RC" != 0 ]; then fail tload_cluster.state "resume: exit $RC: $(tail -2 "$IT_TMP/s2.err")"
    elif ! has_line s2 "resumes: --target-load replica does not apply (a shard's full sync goes by RESTORE)"; then
        fail tload_cluster.state "no line about the resume: $(head -3 "$IT_TMP/s2.err")"
    elif [ "$(grep -c 'partial resync from --state: no full sync' "$IT_TMP/s2.err")" != 3 ]; then
        fail tload_cluster.state "not every shard resumed: $(grep -v 'cluster: ' "$IT_TMP/s2.err" | head -8)"
    elif equal tload_cluster.state s_tgt; then pass tload_cluster.state; fi
    rs_stop s_tgt
}

scenario_refusal() {
    rs_start r_tgt || { fail tload_cluster.refusal "no target"; return; }
    rdb_run r --source "$SRC" --target "$(rs_url r_tgt)" --target-load replica --exactly-once
    if [ "$RC" != 1 ]; then fail tload_cluster.refusal "exit $RC, not 1: $(tail -2 "$IT_TMP/r.err")"
    elif ! has_line r "rdbsync: --target-load replica with a cluster source: --exactly-once writes each shard's checkpoint before its snapshot, which a target loading as our replica cannot take; use --target-load restore (the default)"; then
        fail tload_cluster.refusal "no line: $(cat "$IT_TMP/r.err")"
    elif [ "$(rs_cli r_tgt DBSIZE)" != 0 ]; then fail tload_cluster.refusal "the target was written"
    else pass tload_cluster.refusal; fi
    rs_stop r_tgt
}

fill
for s in ${TLOAD_CLUSTER_SCENARIOS:-refusal once conflict cut state live}; do "scenario_$s"; done

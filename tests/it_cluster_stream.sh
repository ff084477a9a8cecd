#!/usr/bin/env bash
# it_cluster_stream.sh -- live sync from a standalone redis 7.0 into a
# 3-master cluster while the source runs commands whose keys lie in
# different slots: every family the planner handles (xslot.h) -- MSET,
# MSETNX, DEL, UNLINK split per slot; RENAME, RENAMENX, COPY, SMOVE, LMOVE,
# BLMOVE, RPOPLPUSH, SUNIONSTORE/SINTERSTORE/SDIFFSTORE, ZUNIONSTORE/
# ZINTERSTORE/ZDIFFSTORE/ZRANGESTORE, BITOP, PFMERGE, GEOSEARCHSTORE,
# GEORADIUS STORE, SORT STORE applied through copies; EVAL with keys in two
# slots and MULTI/EXEC over several slots (split, counted); keys that expire
# during the load and keys with expire times moved across slots.
# After the load: the cluster equals the source (the masters' digests XOR-ed
# against the source's DEBUG DIGEST), every expire time arrived as it is on
# the source, no temporary key is left, the summary counts the split
# transactions, SIGTERM exits 0. Then a command the cluster refuses (SORT BY
# across slots) stops the sync with one line naming it, or is counted under
# --on-error skip, and no temporary key stays behind.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip cluster_stream "no $RDBSYNC (run make)"
    exit 0
fi

rs_start src
if ! cluster_start 3 0; then
    fail cluster_stream.start "the cluster did not come up"
    exit 0
fi
src=$(rs_port src)

# Some data before the sync: the snapshot carries it.
for i in $(seq 1 20); do
    printf 'SET pre:%d v%d\nSADD pset:%d a%d b c\n' "$i" "$i" "$i" "$i"
done | redis-cli -p "$src" >/dev/null

rdb_bg stream --source "$(rs_url src)" --target "$(cluster_url)"
sync_pid=$BG_PID
snapshot_applied() { grep -q 'snapshot applied' "$IT_TMP/stream.err"; }
if ! wait_until 30 snapshot_applied; then
    fail cluster_stream.snapshot "no snapshot applied: $(it_show "$(tail -n 5 "$IT_TMP/stream.err")")"
    exit 0
fi

for i in $(seq 1 25); do xslot_round "$i"; done >"$IT_TMP/load.txt"
if ! redis-cli -p "$src" <"$IT_TMP/load.txt" >"$IT_TMP/load.out" 2>&1; then
    fail cluster_stream.load "redis-cli failed: $(it_show "$(tail -n 3 "$IT_TMP/load.out")")"
fi
assert_eq cluster_stream.load_clean 0 "$(grep -c 'ERR\|WRONGTYPE' "$IT_TMP/load.out" || true)"

# The short-lived keys expire on the source (DEL in the stream) and on the
# cluster; then both hold the same data.
same() { [ "$(cluster_digest)" = "$(rs_digest src)" ]; }
sleep 1.5
if wait_until 40 same; then
    pass cluster_stream.digest
else
    fail cluster_stream.digest "cluster $(cluster_digest) != source $(rs_digest src) (source $(rs_cli src DBSIZE) keys, cluster $(cluster_dbsize)); $(it_show "$(tail -n 3 "$IT_TMP/stream.err")")"
fi
assert_eq cluster_stream.dbsize "$(rs_cli src DBSIZE)" "$(cluster_dbsize)"
assert_eq cluster_stream.ttl_moved 4102444800000 "$(cluster_cli PEXPIRETIME ttl2:7)"
assert_eq cluster_stream.eval "$(rs_cli src GET ev:3)" "$(cluster_cli GET ev:3)"
tmp=0
for n in $(cluster_masters); do tmp=$((tmp + $(rs_cli "$n" KEYS 'rdbsync:tmp:*' | grep -c . || true))); done
assert_eq cluster_stream.no_temporaries 0 "$tmp"

kill -TERM "$sync_pid"
rc=0
wait "$sync_pid" || rc=$?
assert_eq cluster_stream.sigterm_rc 0 "$rc"
# 25 rounds, each with one MULTI/EXEC over several slots (EVAL arrives as
# a MULTI/EXEC of its effects, in two slots most rounds).
line=$(grep 'cluster stream:' "$IT_TMP/stream.err" || true)
assert_match cluster_stream.summary '^rdbsync: cluster stream: [0-9]+ transactions split across slots, [0-9]+ commands split per slot, [0-9]+ applied through copies$' "$line"
split=$(sed -n 's/.*stream: \([0-9]*\) transactions split.*/\1/p' <<<"$line")
copies=$(sed -n 's/.* \([0-9]*\) applied through copies.*/\1/p' <<<"$line")
if [ "${split:-0}" -ge 25 ] && [ "${split:-0}" -le 50 ]; then pass cluster_stream.split_counted
else fail cluster_stream.split_counted "split transactions: ${split:-none} (want 25..50)"; fi
if [ "${copies:-0}" -ge 300 ]; then pass cluster_stream.copies_counted
else fail cluster_stream.copies_counted "applied through copies: ${copies:-none} (want >= 300)"; fi

# ---- a command the cluster cannot take exactly: one line, the sync stops ----
# SORT ... BY a pattern: a cluster refuses it (the pattern's keys may lie in
# other slots), so it cannot be applied; with --on-error skip it is counted.
rs_start src2
rs_cli src2 RPUSH '{l}x' 3 1 2 >/dev/null
for mode in stop skip; do
    args=()
    if [ "$mode" = skip ]; then args=(--on-error skip --on-conflict replace); fi
    rdb_bg "sort_$mode" --source "$(rs_url src2)" --target "$(cluster_url)" "${args[@]}"
    pid=$BG_PID
    wait_until 30 grep -q 'snapshot applied' "$IT_TMP/sort_$mode.err" || true
    rs_cli src2 SORT '{l}x' BY 'w_*' STORE "sorted_$mode" >/dev/null
    rs_cli src2 SET "after_$mode" 1 >/dev/null
    if [ "$mode" = skip ]; then
        wait_until 20 sh -c "redis-cli -c -p $(rs_port "${CLUSTER_NODES%% *}") GET after_skip | grep -q 1" || true
        kill -TERM "$pid" 2>/dev/null || true
    fi
    rc=0
    timeout 30 tail --pid="$pid" -f /dev/null || true
    wait "$pid" || rc=$?
    assert_eq "cluster_stream.sort_$mode.rc" 6 "$rc"
    msg=$(grep -c "the target refused SORT (db 0, key '{l}x', source offset [0-9]*): ERR BY option of SORT denied in Cluster mode" \
          "$IT_TMP/sort_$mode.err" || true)
    assert_eq "cluster_stream.sort_$mode.line" 1 "$msg"
    if [ "$mode" = stop ]; then assert_eq cluster_stream.sort_stop.not_after "" "$(cluster_cli GET after_stop)"; fi
done
assert_eq cluster_stream.sort_skip.after 1 "$(cluster_cli GET after_skip)"
assert_match cluster_stream.sort_skip.counted '1 refused' "$(grep 'stopped at source offset' "$IT_TMP/sort_skip.err" || true)"
tmp=0
for n in $(cluster_masters); do tmp=$((tmp + $(rs_cli "$n" KEYS 'rdbsync:tmp:*' | grep -c . || true))); done
assert_eq cluster_stream.sort_skip.no_temporaries 0 "$tmp"

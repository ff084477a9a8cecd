#!/usr/bin/env bash
# it_exactly.sh -- --exactly-once (src/checkpoint.h) against real redis-server
# 7.0 processes: nothing applied twice, nothing skipped.
#
# The load is tests/sync/load.c (compiled here) with --no-groups
# --no-volatile, so that DEBUG DIGEST compares whole datasets exactly: INCR,
# APPEND, LPUSH/RPUSH/RPOP, ZINCRBY, XADD, MULTI/EXEC with a SELECT inside,
# EVAL writing two keys with redis.call, 3 dbs. Sources keep a 256 MB
# backlog so that a restarted rdbsync can continue.
# "equal" below: rdbsync stopped once the target's checkpoint reached the
# source's master_repl_offset, the checkpoint key deleted, then DEBUG
# DIGEST of source and target equal.
#
#   kills      under the load, the target connection cut 5 times (CLIENT
#              KILL TYPE normal on the target) and rdbsync SIGKILLed and
#              started again once: every loss resumes right after the
#              checkpoint read back, the restart continues the replica link
#              (the source served one full sync in all, and partial ones);
#              --verify says equal (the checkpoint left out) and the live
#              --checksum digests of both sides agree; then equal
#   control    16 such cuts without --exactly-once (--on-error skip): at
#              least once, a cut lands on commands in flight that run
#              twice, and the datasets differ (SKIP when no cut happened to
#              land there: the proof is then only the kills case)
#   restart    the target restarted with its data from a SAVE taken
#              mid-load: its checkpoint is behind what was acknowledged and
#              the link resumes from it, with no full resync; equal
#   once       --once --exactly-once --checkpoint-key ck:once leaves the
#              snapshot's checkpoint; writes, then the same command again
#              resumes from it with no second full sync and exits 0 once
#              caught up; equal
#   cutover    --exactly-once --cutover under a load: exit 0 with the cut-over
#              line, no checkpoint key left on the target, which equals the
#              paused source
#   refusals   a cluster target (cluster_enabled:1) is refused (exit 1, one
#              line saying at-least-once); a checkpoint key of another type
#              stops before any write (exit 7, naming the key); a user
#              who may not run HSET is refused before it too (exit 6);
#              --exactly-once outside live sync and --checkpoint-key alone
#              are usage errors (exit 1)
#
# KEEP_TMP=1 keeps the logs; EXACTLY_SCENARIOS="kills once" runs only those.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

SRC_ARGS=(--repl-diskless-sync-delay 0 --repl-backlog-size 256mb)
LOAD_ARGS=(--no-groups --no-volatile --quiet)
CKPT=rdbsync:checkpoint

if ! have_rdbsync; then
    skip exactly "no binary at $RDBSYNC (run make)"
    exit 0
fi
load_build exactly || exit 0


# load_bg NAME SECONDS SEED [args]: the load in the background; LOAD_PID.
load_bg() {
    local name=$1 secs=$2 seed=$3
    shift 3
    "$LOAD" --port "$(rs_port "$name")" --seconds "$secs" --seed "$seed" "${LOAD_ARGS[@]}" "$@" \
        >>"$IT_TMP/load.out" 2>&1 &
    LOAD_PID=$!
}
load_wait() { wait "$LOAD_PID" || note "load exited $?: $(tail -n 3 "$IT_TMP/load.out")"; }

# caught_up SRC TGT [KEY]: the checkpoint on TGT is at SRC's offset.
caught_up() {
    local off
    off=$(rs_cli "$2" HGET "${3:-$CKPT}" offset)
    [ -n "$off" ] && [ "$off" == "$(info "$1" replication master_repl_offset)" ]
}

# stop_sync NAME: SIGTERM the running sync; STOP_RC.
stop_sync() {
    STOP_RC=0
    kill -TERM "$SYNC_PID" 2>/dev/null || true
    if ! it_wait_pid "$SYNC_PID" 10; then
        STOP_RC=hung
        rdb_kill "$SYNC_PID"
    fi
    wait "$SYNC_PID" 2>/dev/null || STOP_RC=$?
}

last_in_sync() { tail -n 1 "$IT_TMP/$1.err" | grep -q 'in sync'; }

show_err() { note "rdbsync stderr ($1):"; tail -n 8 "$IT_TMP/$1.err" | sed 's/^/#   /' >&2; }

# assert_equal T SRC TGT [KEY]: wait for the checkpoint to reach the source,
# stop rdbsync (exit 0), delete the checkpoint, compare DEBUG DIGEST.
assert_equal() {
    local t=$1 src=$2 tgt=$3 key=${4:-$CKPT}
    if wait_until 30 caught_up "$src" "$tgt" "$key"; then pass "$t.caught_up"
    else fail "$t.caught_up" "checkpoint $(rs_cli "$tgt" HGET "$key" offset), source" \
        "$(info "$src" replication master_repl_offset)"; show_err "$t"; fi
    stop_sync "$t"
    assert_eq "$t.exit" 0 "$STOP_RC"
    rs_cli "$tgt" DEL "$key" >/dev/null
    assert_eq "$t.equal" "$(rs_digest "$src")" "$(rs_digest "$tgt")"
}

new_pair() {
    rs_start "${1}_src" "${SRC_ARGS[@]}"
    rs_start "${1}_tgt"
}

# ---- kills: target link cut 5 times, rdbsync SIGKILLed once ----

scenario_kills() {
    local t=kills full0 i n sums
    new_pair "$t"
    load_bg "${t}_src" 1 41 --rate 3000
    load_wait
    sync_start "$t" "${t}_src" "${t}_tgt" --exactly-once
    wait_until 20 grep -q 'snapshot applied' "$IT_TMP/$t.err" || true
    full0=$(info "${t}_src" stats sync_full)
    load_bg "${t}_src" 8 42 --rate 8000
    for i in 1 2 3; do
        sleep 0.7
        rs_cli "${t}_tgt" CLIENT KILL TYPE normal >/dev/null || true
    done
    sleep 0.5
    rdb_kill "$SYNC_PID"
    wait "$SYNC_PID" 2>/dev/null || true
    cp "$IT_TMP/$t.err" "$IT_TMP/$t.first.err"
    sleep 0.3
    sync_start "$t" "${t}_src" "${t}_tgt" --exactly-once
    for i in 1 2; do
        sleep 0.8
        rs_cli "${t}_tgt" CLIENT KILL TYPE normal >/dev/null || true
    done
    load_wait
    n=$(cat "$IT_TMP/$t.first.err" "$IT_TMP/$t.err" | grep -c 'checkpoint says source offset .*: resuming right after it' || true)
    if [ "$n" -ge 4 ]; then pass "$t.resumed_from_checkpoint"
    else fail "$t.resumed_from_checkpoint" "$n resumes from the checkpoint, want at least 4"; show_err "$t"; fi
    assert_match "$t.restart_continues" 'asking the source to continue right after it' "$(cat "$IT_TMP/$t.err")"
    if wait_until 30 caught_up "${t}_src" "${t}_tgt"; then :; fi
    assert_eq "$t.one_full_sync" "1 1" "$full0 $(info "${t}_src" stats sync_full)"
    # --verify and the live checksums leave the checkpoint out.
    rdb_run "$t.verify" --verify --source "$(rs_url "${t}_src")" --target "$(rs_url "${t}_tgt")"
    assert_eq "$t.verify_exit" 0 "$RC"
    assert_match "$t.verify_equal" '^verify: equal' "$(cat "$IT_TMP/$t.verify.out")"
    assert_match "$t.verify_note" "left out db 0 key '$CKPT'" "$(cat "$IT_TMP/$t.verify.err")"
    rdb_run "$t.sum_src" --source "$(rs_url "${t}_src")" --checksum
    rdb_run "$t.sum_tgt" --source "$(rs_url "${t}_tgt")" --checksum
    sums="$(grep '^digest:' "$IT_TMP/$t.sum_src.out") / $(grep '^digest:' "$IT_TMP/$t.sum_tgt.out")"
    assert_match "$t.checksum_equal" '^digest: ([0-9a-f]+) / digest: \1$' "$sums"
    assert_equal "$t" "${t}_src" "${t}_tgt"
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- control: the same cuts without --exactly-once ----

scenario_control() {
    local t=control i
    new_pair "$t"
    sync_start "$t" "${t}_src" "${t}_tgt" --on-error skip --status-interval 1
    wait_until 20 grep -q 'snapshot applied' "$IT_TMP/$t.err" || true
    load_bg "${t}_src" 5 42 --rate 8000
    for i in $(seq 1 16); do
        sleep 0.25
        rs_cli "${t}_tgt" CLIENT KILL TYPE normal >/dev/null || true
    done
    load_wait
    wait_until 20 last_in_sync "$t" || true
    stop_sync "$t"
    if [ "$(rs_digest "${t}_src")" != "$(rs_digest "${t}_tgt")" ]; then
        pass "$t.double_apply_without_exactly_once"
    else
        skip "$t.double_apply_without_exactly_once" "no cut landed on commands in flight this time"
    fi
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- restart: the target comes back with older data ----

scenario_restart() {
    local t=restart full0
    new_pair "$t"
    sync_start "$t" "${t}_src" "${t}_tgt" --exactly-once
    wait_until 20 grep -q 'snapshot applied' "$IT_TMP/$t.err" || true
    full0=$(info "${t}_src" stats sync_full)
    load_bg "${t}_src" 4 51 --rate 5000
    sleep 1.5
    rs_cli "${t}_tgt" SAVE >/dev/null
    sleep 1
    # Back from the SAVE: the writes after it are lost with the process.
    rs_restart "${t}_tgt" || fail "$t.target_back" "the target did not restart"
    load_wait
    assert_match "$t.behind" 'the target restarted without its last writes' "$(cat "$IT_TMP/$t.err")"
    if wait_until 30 caught_up "${t}_src" "${t}_tgt"; then :; fi
    assert_eq "$t.no_full_resync" "1 1" "$full0 $(info "${t}_src" stats sync_full)"
    assert_equal "$t" "${t}_src" "${t}_tgt"
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- once: the snapshot's checkpoint, then a later run resumes ----

scenario_once() {
    local t=once key=ck:once off
    new_pair "$t"
    load_bg "${t}_src" 1 61 --rate 3000
    load_wait
    rdb_run "$t.first" --source "$(rs_url "${t}_src")" --target "$(rs_url "${t}_tgt")" --once --exactly-once \
        --checkpoint-key "$key"
    assert_eq "$t.first_exit" 0 "$RC"
    off=$(rs_cli "${t}_tgt" HGET "$key" offset)
    assert_match "$t.snapshot_checkpoint" '^[0-9]+$' "$off"
    assert_eq "$t.default_key_unused" 0 "$(rs_cli "${t}_tgt" EXISTS "$CKPT")"
    load_bg "${t}_src" 2 62 --rate 3000
    load_wait
    # --once again: no snapshot this time; it ends once caught up.
    rdb_run "$t.second" --source "$(rs_url "${t}_src")" --target "$(rs_url "${t}_tgt")" --once --exactly-once \
        --checkpoint-key "$key"
    assert_eq "$t.second_exit" 0 "$RC"
    assert_match "$t.resumed" "offset $off: asking the source to continue" "$(cat "$IT_TMP/$t.second.err")"
    assert_eq "$t.one_full_sync" 1 "$(info "${t}_src" stats sync_full)"
    assert_eq "$t.caught_up" "$(info "${t}_src" replication master_repl_offset)" \
        "$(rs_cli "${t}_tgt" HGET "$key" offset)"
    rs_cli "${t}_tgt" DEL "$key" >/dev/null
    assert_eq "$t.equal" "$(rs_digest "${t}_src")" "$(rs_digest "${t}_tgt")"
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- cutover: the checkpoint key goes before the switch ----

scenario_cutover() {
    local t=cutover
    new_pair "$t"
    load_bg "${t}_src" 1 71 --rate 3000
    load_wait
    load_bg "${t}_src" 30 72 --rate 2000
    rdb_run "$t" --source "$(rs_url "${t}_src")" --target "$(rs_url "${t}_tgt")" --exactly-once --cutover \
        --pause-timeout 20
    assert_eq "$t.exit" 0 "$RC"
    assert_match "$t.line" '^cut-over: target identical to the source at offset [0-9]+' "$(cat "$IT_TMP/$t.out")"
    assert_eq "$t.no_checkpoint" 0 "$(rs_cli "${t}_tgt" EXISTS "$CKPT")"
    # The source is still paused: nothing moved since.
    assert_eq "$t.equal" "$(rs_digest "${t}_src")" "$(rs_digest "${t}_tgt")"
    kill "$LOAD_PID" 2>/dev/null || true
    wait "$LOAD_PID" 2>/dev/null || true
    rs_cli "${t}_src" CLIENT UNPAUSE >/dev/null || true
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- refusals ----

scenario_refusals() {
    local t=refusals cport cl=0 _
    rs_start "${t}_src"
    rs_start "${t}_tgt"
    # The bus port may be taken meanwhile (other tests run clusters): a few tries.
    for _ in 1 2 3; do
        it_pick_port # in this shell, so that rs_start never picks the same one
        cport=$IT_PORT
        if rs_start "${t}_cl" --cluster-enabled yes --cluster-port "$cport" --cluster-config-file nodes.conf \
            2>/dev/null; then cl=1; break; fi
    done
    if [ "$cl" = 1 ]; then
        rdb_run "$t.cluster" --source "$(rs_url "${t}_src")" --target "$(rs_url "${t}_cl")" --exactly-once
        assert_eq "$t.cluster_exit" 1 "$RC"
        assert_match "$t.cluster_msg" 'cluster node \(cluster_enabled:1\).*at-least-once' "$(cat "$IT_TMP/$t.cluster.err")"
        assert_eq "$t.cluster_untouched" 0 "$(rs_cli "${t}_cl" DBSIZE)"
        rs_stop "${t}_cl"
    else
        fail "$t.cluster_start" "cannot start a cluster-enabled redis-server"
    fi
    rs_cli "${t}_src" SET k v >/dev/null
    rs_cli "${t}_tgt" SET "$CKPT" not-a-hash >/dev/null
    rdb_run "$t.wrongtype" --source "$(rs_url "${t}_src")" --target "$(rs_url "${t}_tgt")" --exactly-once
    assert_eq "$t.wrongtype_exit" 7 "$RC"
    assert_match "$t.wrongtype_msg" "db 0 key '$CKPT' is not rdbsync's checkpoint \(WRONGTYPE" \
        "$(cat "$IT_TMP/$t.wrongtype.err")"
    assert_eq "$t.wrongtype_untouched" "0 not-a-hash" "$(rs_cli "${t}_tgt" EXISTS k) $(rs_cli "${t}_tgt" GET "$CKPT")"
    # A user who may not run HSET is refused before the first write.
    rs_cli "${t}_tgt" DEL "$CKPT" >/dev/null
    rs_cli "${t}_tgt" ACL SETUSER nohset on '>pw' '~*' '&*' +@all -hset >/dev/null
    rdb_run "$t.acl" --source "$(rs_url "${t}_src")" --target "redis://nohset:pw@127.0.0.1:$(rs_port "${t}_tgt")" \
        --exactly-once
    assert_eq "$t.acl_exit" 6 "$RC"
    assert_match "$t.acl_msg" "user 'nohset' may not run HSET" "$(cat "$IT_TMP/$t.acl.err")"
    rdb_run "$t.import" --file /dev/null --target "$(rs_url "${t}_tgt")" --exactly-once
    assert_eq "$t.import_exit" 1 "$RC"
    assert_match "$t.import_msg" '--exactly-once is for live sync' "$(cat "$IT_TMP/$t.import.err")"
    rdb_run "$t.keyonly" --file /dev/null --checksum --checkpoint-key x
    assert_eq "$t.keyonly_exit" 1 "$RC"
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

for s in ${EXACTLY_SCENARIOS:-refusals once cutover kills restart control}; do
    "scenario_$s"
done

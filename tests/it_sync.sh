#!/usr/bin/env bash
# it_sync.sh -- live sync (`rdbsync --source URL --target URL`) against real
# redis-server 7.0 processes: acceptance of the live-sync issue.
#
# Sources hold tests/gen_dataset.sh's data (every type, 3 dbs, a function)
# and take writes from tests/sync/load.c (compiled here): every data type,
# expires, MULTI/EXEC with a SELECT inside, EVAL, 3 dbs, DEL, RENAME, SPOP,
# streams with a consumer group, PUBLISH. Sources start with
# --repl-diskless-sync-delay 0 (no 5 s wait before a snapshot).
#
# "equal" below means: DEBUG DIGEST of source and target equal (polled up
# to 10 s once the writes stop); where rdbsync is stopped afterwards, also
# XINFO STREAM FULL of the load's streams equal apart from consumer
# seen-times and group entries-read/lag (see streams()), then, with those
# streams deleted on both sides, our own digest (SAVE + --checksum) equal,
# which also covers expire times and stream group state of the dataset.
#
#   diskless / disk     a mixed load running before, through and after the
#                       snapshot, with repl-diskless-sync yes and no: equal;
#                       the source sees our ACK reach its master_repl_offset;
#                       WAIT 1 on the source returns 1 (GETACK answered) and
#                       later writes still arrive;
#                       SIGTERM (disk: SIGINT while writes go on) exits 0
#                       within 5 s and prints the final offset
#   kill                CLIENT KILL TYPE replica twice mid-stream: partial
#                       resyncs (sync_partial_ok +2), sync_full stays 1; equal
#   slow                client-output-buffer-limit "replica 8mb 4mb 10", 200k
#                       keys, a target held by DEBUG SLEEP 0.2 in a loop while
#                       ~15 MB/s of writes arrive during the snapshot load:
#                       one full sync, no output-buffer disconnect; equal
#   srcrestart          the source restarted (SAVE, same port and dir)
#                       mid-stream, writes after it: rdbsync stays up; equal.
#                       Its offset moved past the SAVE (PINGs, expiry DELs),
#                       so the restarted source cannot continue and answers
#                       with a new history: a full resync from a restarted
#                       source, which rdbsync refuses without --resync-flush
#                       (it_resync.sh); given here
#   tgtrestart_persist  the target restarted mid-load, back with its data
#                       (SAVE first), and
#   tgtrestart_empty    back empty (no persistence): rdbsync sees a new
#                       run_id and does a second full sync (which must empty
#                       the target first); equal
#   once                --once exits 0 once the snapshot is applied; equal
#   refused             the target refuses a forwarded write (WRONGTYPE: the
#                       key was changed on the target): exit 6, one line
#                       naming the command, db and key
#   err                 source down, wrong source password (URL and
#                       RDBSYNC_SOURCE_AUTH), target down: exit 5 with one
#                       stderr line, no password in the output
#
# On a failure, rdbsync's stderr tail and the keys that differ (DEBUG
# DIGEST-VALUE of the load's keys) go to stderr. KEEP_TMP=1 keeps the
# server dirs and logs; SYNC_SCENARIOS="kill slow" runs only those. About
# a minute when everything passes.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

SRC_ARGS=(--repl-diskless-sync-delay 0)
SYNC_PID=
STOP_RC=
STOP_MS=

if ! have_rdbsync; then
    skip sync "no binary at $RDBSYNC (run make)"
    exit 0
fi
load_build sync || exit 0

# ---- helpers ----

now_ms() { date +%s%3N; }

# info NAME SECTION FIELD: one field of INFO.

# load NAME SECONDS SEED [args...]: the load generator, in the foreground.
load() {
    local name=$1 secs=$2 seed=$3
    shift 3
    "$LOAD" --port "$(rs_port "$name")" --seconds "$secs" --seed "$seed" --quiet "$@"
}
# load_bg ...: same in the background; LOAD_PID. load_wait: its status.
load_bg() {
    load "$@" >"$IT_TMP/load.$LOAD_N.out" 2>&1 &
    LOAD_PID=$!
    LOAD_N=$((LOAD_N + 1))
}
LOAD_N=0
load_wait() {
    local rc=0
    wait "$LOAD_PID" || rc=$?
    if [ "$rc" -ne 0 ]; then note "load exited $rc: $(cat "$IT_TMP/load.$((LOAD_N - 1)).out")"; fi
    return 0
}

# sync_stop SIG: signal rdbsync, wait up to 10 s; STOP_RC (or "hung"),
# STOP_MS the time it took.
sync_stop() {
    local sig=$1 t0 deadline=$((SECONDS + 10))
    t0=$(now_ms)
    kill "-$sig" "$SYNC_PID" 2>/dev/null || true
    while kill -0 "$SYNC_PID" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            kill -9 "$SYNC_PID" 2>/dev/null || true
            wait "$SYNC_PID" 2>/dev/null || true
            STOP_RC=hung
            STOP_MS=$(($(now_ms) - t0))
            return 0
        fi
        sleep 0.05
    done
    STOP_RC=0
    wait "$SYNC_PID" || STOP_RC=$?
    STOP_MS=$(($(now_ms) - t0))
}

sync_alive() { kill -0 "$SYNC_PID" 2>/dev/null; }

# The stderr line that reports the end of the snapshot.
snapshot_applied() { grep -q 'snapshot applied' "$IT_TMP/$1.err"; }

digests_equal() { [ "$(rs_digest "$1")" == "$(rs_digest "$2")" ]; }

# The load's keys whose values differ, for a failure message (DEBUG
# DIGEST-VALUE takes many keys: one call per db and side).
show_diff() {
    local src=$1 tgt=$2 db keys
    for db in 0 1 2 3; do
        note "db$db keys: $src=$(rs_cli "$src" -n "$db" DBSIZE) $tgt=$(rs_cli "$tgt" -n "$db" DBSIZE)"
        mapfile -t keys < <({ rs_cli "$src" -n "$db" --scan --pattern 'ld:*'
            rs_cli "$tgt" -n "$db" --scan --pattern 'ld:*'; } | sort -u)
        if [ ${#keys[@]} -eq 0 ]; then continue; fi
        if [ ${#keys[@]} -gt 2000 ]; then keys=("${keys[@]:0:2000}"); fi
        paste <(printf '%s\n' "${keys[@]}") <(rs_cli "$src" -n "$db" DEBUG DIGEST-VALUE "${keys[@]}") \
            <(rs_cli "$tgt" -n "$db" DEBUG DIGEST-VALUE "${keys[@]}") |
            awk -v db="$db" '$2 != $3 { print "#   db" db " " $1 ": source " $2 ", target " $3 }' | head -n 10 >&2 || true
    done
}

show_sync_err() {
    note "rdbsync stderr ($1), last lines:"
    tail -n 12 "$IT_TMP/$1.err" | cut -c1-300 | sed 's/^/#   /' >&2
}

# assert_converge TEST SRC TGT SYNCNAME [SECONDS]: DEBUG DIGEST equal
# within SECONDS (10).
assert_converge() {
    local t=$1 src=$2 tgt=$3 sname=$4 secs=${5:-10}
    if wait_until "$secs" digests_equal "$src" "$tgt"; then
        pass "$t.digest_equal"
    else
        fail "$t.digest_equal" "DEBUG DIGEST $src $(rs_digest "$src") != $tgt $(rs_digest "$tgt") after ${secs}s"
        show_sync_err "$sname"
        show_diff "$src" "$tgt"
    fi
    # Once the writes are over and while rdbsync runs, the load's short-lived
    # keys leave the target when the source's DELs arrive: their expire times
    # were written as the grace (--expire-grace, README), which a target cut
    # off from its source (assert_same_data runs after the stop) keeps.
    if sync_alive && ! kill -0 "${LOAD_PID:-0}" 2>/dev/null; then
        wait_until 8 no_volatile "$src" "$tgt" || note "$t: keys ld:e:* still there after 8 s"
    fi
}

# The load's streams as XINFO STREAM FULL shows them, minus consumer
# seen-times (a target's consumer gets the target's clock) and the groups'
# entries-read and lag: Redis 7.0 does not keep those equal on its own
# replicas either (under this load a real replica shows nil where its
# master shows a count), so they depend on when the snapshot was taken.
streams() {
    local db i strip='^(seen-time|active-time|entries-read|lag)$'
    for db in 0 1 2; do
        for i in 0 1 2 3; do
            echo "db$db ld:x:$i"
            rs_cli "$1" -n "$db" XINFO STREAM "ld:x:$i" FULL |
                awk -v re="$strip" 'skip { skip = 0; next } $0 ~ re { skip = 1; next } { print }' || true
        done
    done
}

# our_digest NAME: the digest line of `--checksum` on a fresh SAVE, once
# no fork is running (SAVE is refused while the BGSAVE child that fed a
# replica, or its diskless transfer, is still there); empty on failure.
no_child() { [ "$(info "$1" persistence rdb_bgsave_in_progress)" == 0 ]; }
our_digest() {
    local f
    wait_until 10 no_child "$1" || true
    f=$(rs_save "$1") || return 0
    "$RDBSYNC" --file "$f" --checksum 2>&1 | sed -n 's/^digest: //p' || true
}

# no_volatile NAME...: no ld:e:* key left in dbs 0-2 (the SCAN expires them).
no_volatile() {
    local n db
    for n in "$@"; do
        for db in 0 1 2; do
            if [ -n "$(rs_cli "$n" -n "$db" --scan --pattern 'ld:e:*')" ]; then return 1; fi
        done
    done
}

# assert_same_data TEST SRC TGT: with rdbsync stopped, the load's streams
# equal (see streams), then our digests equal without those streams.
assert_same_data() {
    local t=$1 src=$2 tgt=$3 a b db n
    a=$(streams "$src")
    b=$(streams "$tgt")
    if [ "$a" == "$b" ]; then pass "$t.streams_equal"
    else
        fail "$t.streams_equal" "XINFO STREAM FULL of the load's streams differs"
        diff -u <(echo "$a") <(echo "$b") | head -n 40 | sed 's/^/#   /' >&2 || true
    fi
    for db in 0 1 2; do
        for n in "$src" "$tgt"; do rs_cli "$n" -n "$db" DEL ld:x:0 ld:x:1 ld:x:2 ld:x:3 >/dev/null; done
    done
    # The two SAVEs are not taken at once: wait until the load's short-lived
    # keys are gone, lest one expire between them. SCAN drops keys whose time
    # is up (a source may hold one a while: active expiry samples), and our
    # digest counts what a file holds, expired or not.
    if ! wait_until 6 no_volatile "$src" "$tgt"; then note "$t: keys ld:e:* still there after 6 s"; fi
    a=$(our_digest "$src")
    b=$(our_digest "$tgt")
    if [ -n "$a" ] && [ "$a" == "$b" ]; then pass "$t.our_digest_equal"
    else fail "$t.our_digest_equal" "source '$a', target '$b'"; fi
}

# assert_stopped TEST SIG: rdbsync exits 0 within 5 s of SIG and prints
# "stopped at source offset N"; STOP_OFFSET=N.
assert_stopped() {
    local t=$1 sig=$2
    sync_stop "$sig"
    assert_eq "$t.${sig,,}_exit" 0 "$STOP_RC"
    if [ "$STOP_RC" == hung ] || [ "$STOP_MS" -gt 5000 ]; then
        fail "$t.${sig,,}_fast" "exit took ${STOP_MS} ms"
    else
        pass "$t.${sig,,}_fast"
    fi
    STOP_OFFSET=$(sed -n 's/.*stopped at source offset \(-\{0,1\}[0-9]*\).*/\1/p' "$IT_TMP/$t.err" | tail -n 1)
    assert_match "$t.final_offset" '^[0-9]+$' "$STOP_OFFSET"
}

# rdbsync in the source's INFO replication: the replica line with port=0
# (it announces listening-port 0); a real replica: port=$2.
replica_line() { rs_cli "$1" INFO replication | tr -d '\r' | grep -E "^slave[0-9]+:.*,port=${2:-0},"; }
acked_offset() { replica_line "$1" | sed -n 's/.*,offset=\([0-9]*\),.*/\1/p' || true; }
caught_up() { [ "$(acked_offset "$1")" == "$(info "$1" replication master_repl_offset)" ]; }
replica_online() { replica_line "$1" "${2:-0}" | grep -q 'state=online'; }

# new_pair TEST [source args...]: fresh source (with the dataset) and target.
new_pair() {
    local t=$1
    shift
    rs_start "${t}_src" "${SRC_ARGS[@]}" "$@"
    rs_start "${t}_tgt"
    "$ROOT/tests/gen_dataset.sh" "$(rs_port "${t}_src")" >/dev/null
}

# ---- 1. a mixed load through the snapshot, diskless and disk-based ----

# mixed TEST DISKLESS SIG
mixed() {
    local t=$1 diskless=$2 sig=$3 off a
    new_pair "$t" --repl-diskless-sync "$diskless"
    load_bg "${t}_src" 3 11 --rate 2000
    sleep 0.5
    sync_start "$t" "${t}_src" "${t}_tgt"
    load_wait
    assert_converge "$t" "${t}_src" "${t}_tgt" "$t"
    assert_eq "$t.sync_full" 1 "$(info "${t}_src" stats sync_full)"
    # Our ACKs reach the source's offset: the applied offset is right.
    if wait_until 5 caught_up "${t}_src"; then pass "$t.ack_offset"
    else fail "$t.ack_offset" "acked $(acked_offset "${t}_src"), master_repl_offset $(info "${t}_src" replication master_repl_offset)"; fi
    # The snapshot went the way the source was told to send it.
    if [ "$diskless" == yes ]; then a='target: replicas sockets'; else a='target: disk'; fi
    if grep -q "Starting BGSAVE for SYNC with $a" "$(rs_dir "${t}_src")/${t}_src.log"; then pass "$t.transfer_kind"
    else fail "$t.transfer_kind" "no '$a' in the source's log"; fi
    # WAIT makes the source ask for an ACK (REPLCONF GETACK in the stream):
    # answered, and the stream goes on after it.
    a=$(printf 'SET ld:wait 1\nWAIT 1 5000\n' | redis-cli -h 127.0.0.1 -p "$(rs_port "${t}_src")" | tr '\n' ' ') || true
    assert_eq "$t.wait_acked" "OK 1 " "$a"
    rs_cli "${t}_src" -n 1 SET ld:after_wait 1 >/dev/null
    assert_converge "$t.after_wait" "${t}_src" "${t}_tgt" "$t" 5
    off=$(info "${t}_src" replication master_repl_offset)
    if [ "$sig" == INT ]; then
        # Stopped while writes go on: still a clean, prompt exit.
        load_bg "${t}_src" 3 12 --rate 1000
        sleep 1
        assert_stopped "$t" INT
        load_wait
        a=${STOP_OFFSET:-0}
        if [ "$a" -gt "$off" ] 2>/dev/null; then pass "$t.offset_moved"
        else fail "$t.offset_moved" "stopped at '$a', not past $off reached before the writes"; fi
    else
        assert_stopped "$t" TERM
        a=$(info "${t}_src" replication master_repl_offset)
        if [ -n "$STOP_OFFSET" ] && [ "$STOP_OFFSET" -ge "$off" ] && [ "$STOP_OFFSET" -le "$a" ]; then
            pass "$t.offset_value"
        else
            fail "$t.offset_value" "stopped at '$STOP_OFFSET', source offset $off..$a"
        fi
        assert_same_data "$t" "${t}_src" "${t}_tgt"
    fi
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- 2. replica link killed mid-stream: partial resync ----

kill_link() {
    local t=kill full0 part0 k1 k2
    new_pair "$t"
    load_bg "${t}_src" 4 21 --rate 2000
    sync_start "$t" "${t}_src" "${t}_tgt"
    wait_until 10 snapshot_applied "$t" || true
    sleep 0.5
    full0=$(info "${t}_src" stats sync_full)
    part0=$(info "${t}_src" stats sync_partial_ok)
    k1=$(rs_cli "${t}_src" CLIENT KILL TYPE replica) || true
    sleep 1
    k2=$(rs_cli "${t}_src" CLIENT KILL TYPE slave) || true
    assert_eq "$t.killed" "1 1" "$k1 $k2"
    load_wait
    assert_converge "$t" "${t}_src" "${t}_tgt" "$t"
    assert_eq "$t.sync_full" "1 1" "$full0 $(info "${t}_src" stats sync_full)"
    assert_eq "$t.sync_partial_ok" $((part0 + 2)) "$(info "${t}_src" stats sync_partial_ok)"
    if sync_alive; then pass "$t.still_running"; else fail "$t.still_running" "rdbsync exited"; show_sync_err "$t"; fi
    assert_stopped "$t" TERM
    assert_same_data "$t" "${t}_src" "${t}_tgt"
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- 3. a slow target and a small replica output buffer ----

slow_target() {
    local t=slow sleeper n=0
    rs_start "${t}_src" "${SRC_ARGS[@]}" --client-output-buffer-limit "replica 8mb 4mb 10"
    rs_start "${t}_tgt"
    "$ROOT/tests/gen_dataset.sh" "$(rs_port "${t}_src")" >/dev/null
    assert_eq "$t.populate" OK "$(rs_cli "${t}_src" DEBUG POPULATE 200000 pop 200)"
    sync_start "$t" "${t}_src" "${t}_tgt"
    # The target answers in bursts between 0.2 s sleeps while the snapshot
    # and the writes go in.
    (while :; do redis-cli -h 127.0.0.1 -p "$(rs_port "${t}_tgt")" DEBUG SLEEP 0.2 >/dev/null 2>&1 || sleep 0.2; done) &
    sleeper=$!
    on_exit "kill $sleeper 2>/dev/null || true"
    # Heavy writes once the snapshot is on its way: the source's buffer for
    # us overflows 8 MB in half a second unless rdbsync keeps reading.
    wait_until 20 replica_online "${t}_src" || true
    load "${t}_src" 3 31 --heavy --rate 2000 --value-size 8192 >/dev/null || note "heavy load failed"
    kill "$sleeper" 2>/dev/null || true
    wait "$sleeper" 2>/dev/null || true
    n=$(grep -c 'snapshot applied' "$IT_TMP/$t.err" || true)
    note "slow: snapshot applied lines after the writes: $n (0 = the writes came during the snapshot load)"
    assert_converge "$t" "${t}_src" "${t}_tgt" "$t" 40
    assert_eq "$t.sync_full" 1 "$(info "${t}_src" stats sync_full)"
    if grep -q 'output buffer limits' "$(rs_dir "${t}_src")/${t}_src.log"; then
        fail "$t.no_obuf_disconnect" "$(grep -m1 'output buffer limits' "$(rs_dir "${t}_src")/${t}_src.log" | cut -c1-200)"
    else
        pass "$t.no_obuf_disconnect"
    fi
    assert_stopped "$t" TERM
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- 4. restarts ----

source_restart() {
    local t=srcrestart
    new_pair "$t"
    load_bg "${t}_src" 2 41 --rate 2000
    sync_start "$t" "${t}_src" "${t}_tgt" --resync-flush
    load_wait
    assert_converge "$t.before" "${t}_src" "${t}_tgt" "$t"
    assert_eq "$t.saved" OK "$(rs_cli "${t}_src" SAVE)"
    if rs_restart "${t}_src" "${SRC_ARGS[@]}"; then pass "$t.restarted"
    else fail "$t.restarted" "the source did not come back"; return 0; fi
    load "${t}_src" 2 42 --rate 2000 >/dev/null || note "load after the restart failed"
    assert_converge "$t" "${t}_src" "${t}_tgt" "$t" 20
    if sync_alive; then pass "$t.still_running"; else fail "$t.still_running" "rdbsync exited"; show_sync_err "$t"; fi
    note "$t: after the restart: sync_full $(info "${t}_src" stats sync_full), sync_partial_ok $(info "${t}_src" stats sync_partial_ok)"
    assert_stopped "$t" TERM
    assert_same_data "$t" "${t}_src" "${t}_tgt"
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# target_restart TEST PERSIST(yes|no)
target_restart() {
    local t=$1 persist=$2 a
    new_pair "$t"
    load_bg "${t}_src" 4 51 --rate 2000
    sync_start "$t" "${t}_src" "${t}_tgt"
    wait_until 10 snapshot_applied "$t" || true
    sleep 0.5
    if [ "$persist" == yes ]; then
        assert_eq "$t.saved" OK "$(rs_cli "${t}_tgt" SAVE)"
    else
        rm -f "$(rs_dir "${t}_tgt")/dump.rdb"
    fi
    if rs_restart "${t}_tgt"; then pass "$t.restarted"
    else fail "$t.restarted" "the target did not come back"; return 0; fi
    # How it came back (DBSIZE would race with rdbsync's reconnection).
    if grep -q 'DB loaded from disk' "$(rs_dir "${t}_tgt")/${t}_tgt.log"; then a=yes; else a=no; fi
    assert_eq "$t.back_with_data" "$persist" "$a"
    load_wait
    assert_converge "$t" "${t}_src" "${t}_tgt" "$t" 20
    if sync_alive; then pass "$t.still_running"; else fail "$t.still_running" "rdbsync exited"; show_sync_err "$t"; fi
    # A target that lost data can only be repaired by a new snapshot.
    assert_eq "$t.sync_full" 2 "$(info "${t}_src" stats sync_full)"
    assert_stopped "$t" TERM
    assert_same_data "$t" "${t}_src" "${t}_tgt"
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- 5. --once ----

once() {
    local t=once rc=0 t0 a
    new_pair "$t"
    t0=$SECONDS
    timeout -k 5 30 "$RDBSYNC" --source "$(rs_url "${t}_src")" --target "$(rs_url "${t}_tgt")" --once -q \
        >"$IT_TMP/$t.out" 2>"$IT_TMP/$t.err" || rc=$?
    assert_eq "$t.exit" 0 "$rc"
    note "$t: took $((SECONDS - t0)) s"
    assert_eq "$t.digest_equal" "$(rs_digest "${t}_src")" "$(rs_digest "${t}_tgt")"
    a=$(our_digest "${t}_src")
    assert_eq "$t.our_digest_equal" "$a" "$(our_digest "${t}_tgt")"
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- 6. errors ----

# has_value NAME DB KEY VALUE
has_value() { [ "$(rs_cli "$1" -n "$2" GET "$3")" == "$4" ]; }

# A stream command the target refuses stops the sync (--on-error stop):
# exit 6, one line naming the command, db and key.
refused() {
    local t=refused rc=0 deadline
    rs_start "${t}_src" "${SRC_ARGS[@]}"
    rs_start "${t}_tgt"
    rs_cli "${t}_src" -n 2 SET wt x >/dev/null
    sync_start "$t" "${t}_src" "${t}_tgt" -q
    wait_until 10 has_value "${t}_tgt" 2 wt x || note "$t: wt never reached the target"
    # Someone else writes the key on the target with another type.
    rs_cli "${t}_tgt" -n 2 DEL wt >/dev/null
    rs_cli "${t}_tgt" -n 2 RPUSH wt a >/dev/null
    rs_cli "${t}_src" -n 2 APPEND wt y >/dev/null
    deadline=$((SECONDS + 10))
    while sync_alive && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if sync_alive; then
        fail "$t.stops" "rdbsync still running 10 s after a refused write"
        sync_stop KILL
        return 0
    fi
    wait "$SYNC_PID" || rc=$?
    assert_eq "$t.exit" 6 "$rc"
    assert_match "$t.message" "^rdbsync: .*APPEND.*db 2.*'wt'.*WRONGTYPE" "$(cat "$IT_TMP/$t.err")"
    assert_eq "$t.one_line" 1 "$(wc -l <"$IT_TMP/$t.err")"
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# expect_err TEST SECRET CMD...: exit 5, one line on stderr, within 15 s,
# SECRET (if any) nowhere in the output.
expect_err() {
    local t=$1 secret=$2 rc=0 lines
    shift 2
    timeout -k 5 15 "$@" >"$IT_TMP/$t.out" 2>"$IT_TMP/$t.err" || rc=$?
    assert_eq "$t.exit" 5 "$rc"
    lines=$(wc -l <"$IT_TMP/$t.err")
    assert_eq "$t.one_line" 1 "$lines"
    if [ "$lines" != 1 ]; then note "$t stderr: $(head -c 400 "$IT_TMP/$t.err" | tr '\n' '|')"; fi
    if [ -n "$secret" ]; then
        if grep -q -- "$secret" "$IT_TMP/$t.out" "$IT_TMP/$t.err"; then fail "$t.no_password" "the password is in the output"
        else pass "$t.no_password"; fi
    fi
}

errors() {
    local down
    rs_start err_src "${SRC_ARGS[@]}" --requirepass right-pass-1
    rs_start err_tgt
    down=$(free_port)
    expect_err err.source_down "" "$RDBSYNC" -q --source "redis://127.0.0.1:$down" --target "$(rs_url err_tgt)"
    assert_match err.source_down.says '(source|127\.0\.0\.1:'"$down"')' "$(cat "$IT_TMP/err.source_down.err")"
    expect_err err.wrong_password wrong-pass-2 "$RDBSYNC" -q \
        --source "redis://:wrong-pass-2@127.0.0.1:$(rs_port err_src)" --target "$(rs_url err_tgt)"
    expect_err err.wrong_password_env wrong-pass-3 env RDBSYNC_SOURCE_AUTH=wrong-pass-3 "$RDBSYNC" -q \
        --source "$(rs_url err_src)" --target "$(rs_url err_tgt)"
    expect_err err.target_down "" env RDBSYNC_SOURCE_AUTH=right-pass-1 "$RDBSYNC" -q \
        --source "$(rs_url err_src)" --target "redis://127.0.0.1:$down"
    assert_eq err.target_down.no_sync 0 "$(rs_cli err_src -a right-pass-1 --no-auth-warning INFO stats |
        tr -d '\r' | sed -n 's/^sync_full://p')"
    rs_cli err_src -a right-pass-1 --no-auth-warning SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    rs_stop err_src
    rs_stop err_tgt
}

# ---- main ----

SCENARIOS=${SYNC_SCENARIOS:-diskless disk kill slow srcrestart tgtrestart_persist tgtrestart_empty once refused err}
for s in $SCENARIOS; do
    t0=$SECONDS
    case $s in
    diskless) mixed diskless yes TERM ;;
    disk) mixed disk no INT ;;
    kill) kill_link ;;
    slow) slow_target ;;
    srcrestart) source_restart ;;
    tgtrestart_persist) target_restart tgtrestart_persist yes ;;
    tgtrestart_empty) target_restart tgtrestart_empty no ;;
    once) once ;;
    refused) refused ;;
    err) errors ;;
    *) fail "sync.scenario" "unknown scenario '$s'" ;;
    esac
    note "$s: $((SECONDS - t0)) s"
done

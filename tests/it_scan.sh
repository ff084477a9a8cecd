#!/usr/bin/env bash
# it_scan.sh -- scan mode: sources that refuse SYNC/PSYNC (acceptance of the
# scan-mode issue), live snapshots, live checksums and verification.
#
# Servers (redis-server 7.0, all on 127.0.0.1):
#   U   unrestricted, holds the mixed dataset of tests/gen_dataset.sh; its
#       dump is base.rdb. The restricted servers cannot answer DEBUG DIGEST,
#       so U's is what the copies are compared to.
#   S   base.rdb with SYNC, PSYNC, DEBUG, CONFIG and BGSAVE renamed away
#   F   the same, plus --notify-keyspace-events KA, under a write load
#   G   restricted, KA, 50 keys in db 0 and 1000 in db 1 (a slow pass)
#   N   the same as S (notifications off, CONFIG refused)
#   T*  empty targets; L* servers that load the files written by rdbsync
#
# 1. copy   `--source S --target T --once` (mode auto): one "switching to
#           scan mode" line, exit 0, DEBUG DIGEST of T equals U's, MONITOR
#           on S shows SCAN and never KEYS, FUNCTION LIST WITHCODE equal.
# 2. follow --follow (the default) from F while tests/sync/load.c writes
#           (every type, expires, DEL, RENAME, SPOP, several dbs...) before,
#           during and after the pass: once the load stops, --verify exits
#           0, the live --checksum digests of F and T2 agree, and a
#           snapshot of F loads to T2's DEBUG DIGEST; SIGTERM exits 0.
#           From G: SIGTERM during the pass with events queued exits 9 (no
#           leak under ASan); more than 100000 events during the pass (the
#           queue overflows) and then DELs of keys already copied: the keys
#           still leave the target; with --db 0 --db 1, a DEL in db 2 of the
#           source leaves db 2 of the target alone. Then N: `--mode scan`
#           with follow must exit non-zero with one line naming
#           notify-keyspace-events and 'KA'.
# 3. file   `--source URL --file out.rdb` by replication (U), by scan (S,
#           auto) and by `--mode scan` (U): redis-check-rdb passes and a
#           7.0 server loads each to U's DEBUG DIGEST.
# 4. sums   live --checksum (replica path, scan path, --mode scan) prints the
#           same counts and digest as --file --checksum of base.rdb;
#           --verify: equal -> 0; a changed hash field, a changed expire, a
#           missing key, an extra key on the target -> 8 naming the key.
# 5. rate   --rate 2000 over 6000 keys takes at least 2.5 s; 300 values of
#           64 KiB at --rate 20000 are copied exactly in bursts of one or
#           two keys (at least 75 reads on the source).
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

GEN=$ROOT/tests/gen_dataset.sh
RESTRICT=(--rename-command SYNC "" --rename-command PSYNC "" --rename-command DEBUG ""
    --rename-command CONFIG "" --rename-command BGSAVE "")

if ! have_rdbsync; then
    skip scan "no binary at $RDBSYNC (run make)"
    exit 0
fi
load_build scan || exit 0

# ---- helpers ----

now_ms() { date +%s%3N; }

# run NAME ARGS...: rdbsync in the foreground; stdout/stderr in
# $IT_TMP/NAME.out/.err, exit status in RC.
run() { rdb_run "$@"; }

# field NAME KEY: the value of "KEY: value" in NAME's stdout.
field() { sed -n "s/^$2: //p" "$IT_TMP/$1.out" | head -n 1; }

# The lines of a --checksum report that describe the data (not the file).
data_lines() { grep -E '^(keys|keys\.db[0-9]+|types|expires|functions|digest): ' "$IT_TMP/$1.out" || true; }

# errtail NAME: the last stderr lines of a run, for a FAIL message.
errtail() { tail -n 3 "$IT_TMP/$1.err" 2>/dev/null | tr '\n' ' ' | cut -c1-300; }

# bg NAME ARGS...: rdbsync in the background; BG_PID.
bg() { rdb_bg "$@"; }

# bg_wait PID SECONDS: wait for it to exit; BG_RC is its status, or "hung"
# (then it was killed).
bg_wait() {
    local pid=$1
    if it_wait_pid_alive "$pid" "$2"; then
        rdb_kill "$pid"
        wait "$pid" 2>/dev/null || true
        BG_RC=hung
        return 0
    fi
    BG_RC=0
    wait "$pid" || BG_RC=$?
}

# 0 while PID still runs after SECONDS.
it_wait_pid_alive() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then return 0; fi
        sleep 0.05
    done
    return 1
}

# check_rdb_loads TEST FILE: redis-check-rdb passes and a 7.0 server
# loads FILE to U's digest.
check_rdb_loads() {
    local t=$1 file=$2 out srv=L_${1//[^A-Za-z0-9_]/_}
    if [ ! -s "$file" ]; then
        fail "$t.written" "no file $file"
        return 0
    fi
    if out=$(redis-check-rdb "$file" 2>&1) && [[ $out == *"RDB looks OK"* ]]; then
        pass "$t.check_rdb"
    else
        fail "$t.check_rdb" "$(it_show "$(printf '%s' "$out" | tail -n 3)")"
    fi
    if rs_start_with_rdb "$srv" "$file"; then
        assert_eq "$t.loaded_digest" "$U_DIGEST" "$(rs_digest "$srv")"
        rs_stop "$srv"
    else
        fail "$t.loads" "redis-server did not start with $file"
    fi
}

# ---- the reference server and the restricted source ----

rs_start U
assert_ok scan.setup.load_dataset "$GEN" "$(rs_port U)"
cp "$(rs_save U)" "$IT_TMP/base.rdb"
U_DIGEST=$(rs_digest U)
U_FUNCS=$(rs_cli U FUNCTION LIST WITHCODE)
rs_start_with_rdb S "$IT_TMP/base.rdb" "${RESTRICT[@]}"
# The restrictions are in force (else the test proves nothing).
assert_match scan.setup.restricted '^ERR unknown command' "$(rs_cli S CONFIG GET maxmemory 2>&1 | head -n 1)"
assert_eq scan.setup.same_keys "$(rs_cli U DBSIZE)" "$(rs_cli S DBSIZE)"

# ---- 1. copy from a restricted source, --once, mode auto ----

rs_start T1
redis-cli -h 127.0.0.1 -p "$(rs_port S)" MONITOR >"$IT_TMP/monitor.txt" 2>/dev/null </dev/null &
MON_PID=$!
on_exit "kill $MON_PID 2>/dev/null || true"
wait_until 5 grep -q '^OK' "$IT_TMP/monitor.txt" || note "MONITOR did not answer OK"
run copy --source "$(rs_url S)" --target "$(rs_url T1)" --once
sleep 0.2 # the last commands reach the MONITOR client
kill "$MON_PID" 2>/dev/null || true
wait "$MON_PID" 2>/dev/null || true

assert_eq scan.copy.exit 0 "$RC"
[ "$RC" -eq 0 ] || note "copy: $(errtail copy)"
assert_eq scan.copy.switch_said_once 1 "$(grep -c 'switching to scan mode' "$IT_TMP/copy.err" || true)"
assert_eq scan.copy.digest "$U_DIGEST" "$(rs_digest T1)"
assert_eq scan.copy.functions "$U_FUNCS" "$(rs_cli T1 FUNCTION LIST WITHCODE)"
n_scan=$(grep -c '"SCAN"' "$IT_TMP/monitor.txt" || true)
if [ "$n_scan" -gt 0 ]; then pass scan.copy.monitor_scan; else fail scan.copy.monitor_scan "no SCAN in MONITOR"; fi
assert_eq scan.copy.monitor_no_keys 0 "$(grep -ci '"KEYS"' "$IT_TMP/monitor.txt" || true)"
# Every key of the dataset was read with DUMP, once.
assert_eq scan.copy.monitor_dump_count \
    $(($(rs_cli U DBSIZE) + $(rs_cli U -n 1 DBSIZE) + $(rs_cli U -n 3 DBSIZE))) \
    "$(grep -c '"DUMP"' "$IT_TMP/monitor.txt" || true)"

# ---- 3. --source --file, both paths ----

run file_replica --source "$(rs_url U)" --file "$IT_TMP/file_replica.rdb"
assert_eq scan.file_replica.exit 0 "$RC"
assert_match scan.file_replica.path 'by replication' "$(cat "$IT_TMP/file_replica.err")"
check_rdb_loads scan.file_replica "$IT_TMP/file_replica.rdb"

run file_auto --source "$(rs_url S)" --file "$IT_TMP/file_auto.rdb"
assert_eq scan.file_auto.exit 0 "$RC"
assert_match scan.file_auto.path 'by SCAN \+ DUMP' "$(cat "$IT_TMP/file_auto.err")"
check_rdb_loads scan.file_auto "$IT_TMP/file_auto.rdb"

run file_scan --mode scan --source "$(rs_url U)" --file "$IT_TMP/file_scan.rdb"
assert_eq scan.file_scan.exit 0 "$RC"
assert_match scan.file_scan.path 'by SCAN \+ DUMP' "$(cat "$IT_TMP/file_scan.err")"
check_rdb_loads scan.file_scan "$IT_TMP/file_scan.rdb"

# The file written by scan decodes to the same report as the server's own.
run sum_file --file "$IT_TMP/base.rdb" --checksum
assert_eq scan.sum_file.exit 0 "$RC"
BASE_LINES=$(data_lines sum_file)
run sum_file_auto --file "$IT_TMP/file_auto.rdb" --checksum
assert_eq scan.file_auto.checksum "$BASE_LINES" "$(data_lines sum_file_auto)"
assert_eq scan.file_auto.crc64 ok "$(field sum_file_auto crc64)"

# ---- 4. live checksums equal the file's; verification ----

run sum_live_replica --source "$(rs_url U)" --checksum
assert_eq scan.sum_live_replica.exit 0 "$RC"
assert_eq scan.sum_live_replica.equal "$BASE_LINES" "$(data_lines sum_live_replica)"
run sum_live_auto --source "$(rs_url S)" --checksum
assert_eq scan.sum_live_auto.exit 0 "$RC"
assert_eq scan.sum_live_auto.equal "$BASE_LINES" "$(data_lines sum_live_auto)"
assert_eq scan.sum_live_auto.crc64 n/a "$(field sum_live_auto crc64)"
run sum_live_scan --mode scan --source "$(rs_url U)" --checksum
assert_eq scan.sum_live_scan.exit 0 "$RC"
assert_eq scan.sum_live_scan.equal "$BASE_LINES" "$(data_lines sum_live_scan)"
run sum_live_json --mode scan --source "$(rs_url U)" --checksum --json
assert_match scan.sum_live_json.digest "\"digest\":\"$(field sum_file digest)\"" "$(cat "$IT_TMP/sum_live_json.out")"
# --mode replica refuses to fall back.
run sum_live_replica_only --mode replica --source "$(rs_url S)" --checksum
if [ "$RC" -ne 0 ] && [ ! -s "$IT_TMP/sum_live_replica_only.out" ]; then pass scan.mode_replica.refuses
else fail scan.mode_replica.refuses "exit $RC, stdout $(it_show "$(cat "$IT_TMP/sum_live_replica_only.out")")"; fi

# verify_case NAME WANT_RC [KEY]: --verify S against T1; exit WANT_RC and,
# when KEY is given, stdout names it.
verify_case() {
    local t=scan.verify.$1
    run "verify_$1" --verify --source "$(rs_url S)" --target "$(rs_url T1)"
    assert_eq "$t.exit" "$2" "$RC"
    if [ -n "${3:-}" ]; then
        assert_match "$t.names_key" "'$3'" "$(cat "$IT_TMP/verify_$1.out")"
    fi
}

verify_case equal 0
assert_match scan.verify.equal.says '^verify: equal' "$(cat "$IT_TMP/verify_equal.out")"

rs_cli T1 HSET hash:small f1 v1-changed >/dev/null
verify_case field 8 hash:small
assert_match scan.verify.field.says 'differs' "$(grep hash:small "$IT_TMP/verify_field.out" || true)"
rs_cli T1 HSET hash:small f1 v1 >/dev/null

assert_ok scan.verify.setup_expire "$GEN" --change expire "$(rs_port T1)"
verify_case expire 8 str:exp
assert_ok scan.verify.setup_unexpire "$GEN" --undo expire "$(rs_port T1)"

rs_cli T1 -n 1 DEL list:small >/dev/null
verify_case missing 8 list:small
assert_match scan.verify.missing.says 'missing' "$(grep list:small "$IT_TMP/verify_missing.out" || true)"
assert_eq scan.verify.setup_restore OK \
    "$(rs_cli U -n 1 MIGRATE 127.0.0.1 "$(rs_port T1)" list:small 1 5000 COPY)"

rs_cli T1 -n 3 SET extra:only-on-target 1 >/dev/null
verify_case extra 8 extra:only-on-target
assert_match scan.verify.extra.says 'only on the target' \
    "$(grep extra:only-on-target "$IT_TMP/verify_extra.out" || true)"
rs_cli T1 -n 3 DEL extra:only-on-target >/dev/null

verify_case equal_again 0
assert_eq scan.verify.target_restored "$U_DIGEST" "$(rs_digest T1)"
rs_stop T1

# ---- 5. --rate ----

rs_start R
assert_eq scan.rate.setup OK "$(rs_cli R DEBUG POPULATE 6000 rate: 10)"
t0=$(now_ms)
run rate --mode scan --source "$(rs_url R)" --checksum --rate 2000
elapsed=$(($(now_ms) - t0))
assert_eq scan.rate.exit 0 "$RC"
assert_eq scan.rate.keys 6000 "$(field rate keys)"
if [ "$elapsed" -ge 2500 ]; then pass scan.rate.slow_enough
else fail scan.rate.slow_enough "6000 keys at --rate 2000 took ${elapsed} ms (< 2500)"; fi
rs_stop R

# Big values: a burst holds what costs the source PACE_BUDGET_US (pace.h), so
# 300 values of 64 KiB (LZF-compressed by DUMP: ~130 us each) go one or two a
# burst, not 40 (2 ms of keys at the rate): at least 75 reads on the source,
# one per burst (the build before this pacing: 35). The copy is exact.
rs_start RB --enable-debug-command yes
rs_start TB --enable-debug-command yes
assert_eq scan.rate_big.setup OK "$(rs_cli RB DEBUG POPULATE 300 big: 65536)"
reads() { rs_cli "$1" INFO stats | tr -d '\r' | sed -n 's/^total_reads_processed://p'; }
r0=$(reads RB)
run rate_big --mode scan --source "$(rs_url RB)" --target "$(rs_url TB)" --once --rate 20000
r1=$(reads RB)
assert_eq scan.rate_big.exit 0 "$RC"
assert_eq scan.rate_big.digest "$(rs_digest RB)" "$(rs_digest TB)"
if [ $((r1 - r0)) -ge 75 ]; then pass scan.rate_big.small_bursts
else fail scan.rate_big.small_bursts "300 keys of 64 KiB in $((r1 - r0)) reads on the source (< 75)"; fi
rs_stop RB
rs_stop TB

# ---- 2. --follow under a write load ----

rs_start_with_rdb F "$IT_TMP/base.rdb" "${RESTRICT[@]}" --notify-keyspace-events KA
rs_start T2
# Keys of every type in 3 dbs before the pass, then the load goes on
# through the pass (slowed down by --rate) and after it.
# --no-groups: XREADGROUP/XACK change a stream's consumer state without any
# keyspace notification, so following cannot see them (see the report).
# (--no-volatile first: the second run makes the same ld:e:N names.)
"$LOAD" --port "$(rs_port F)" --seconds 1 --seed 5 --keys 150 --rate 3000 --no-groups --no-volatile --quiet \
    >"$IT_TMP/load.pre.out" 2>&1 || note "load (pre) failed: $(cat "$IT_TMP/load.pre.out")"
"$LOAD" --port "$(rs_port F)" --seconds 5 --seed 6 --keys 150 --rate 2000 --no-groups --quiet \
    >"$IT_TMP/load.out" 2>&1 &
LOAD_PID=$!
bg follow --source "$(rs_url F)" --target "$(rs_url T2)" --rate 1500 --scan-count 100
FOLLOW_PID=$BG_PID
# The pass (about 1900 keys at 1500/s) ends while the load still runs.
if wait_until 10 grep -q 'following changes' "$IT_TMP/follow.err"; then pass scan.follow.pass_done
else fail scan.follow.pass_done "no 'following changes' line: $(errtail follow)"; fi
if kill -0 "$LOAD_PID" 2>/dev/null; then pass scan.follow.pass_during_load
else fail scan.follow.pass_during_load "the load ended before the pass did"; fi
load_rc=0
wait "$LOAD_PID" || load_rc=$?
assert_eq scan.follow.load_ok "0 " "$load_rc $(cat "$IT_TMP/load.out")"
if kill -0 "$FOLLOW_PID" 2>/dev/null; then pass scan.follow.running
else fail scan.follow.running "rdbsync exited: $(errtail follow)"; fi

# The load's short-lived keys live at most 3 s; then poll until equal.
sleep 3.2
verify_follow() {
    run verify_follow --verify --source "$(rs_url F)" --target "$(rs_url T2)"
    [ "$RC" -eq 0 ]
}
if wait_until 20 verify_follow; then pass scan.follow.verify_equal
else fail scan.follow.verify_equal "exit $RC: $(head -n 3 "$IT_TMP/verify_follow.out" | tr '\n' ' ')"; fi
run follow_sum_src --source "$(rs_url F)" --checksum
run follow_sum_tgt --source "$(rs_url T2)" --checksum
assert_match scan.follow.checksum_format '^[0-9a-f]{64}$' "$(field follow_sum_src digest)"
assert_eq scan.follow.checksum_equal "$(data_lines follow_sum_src)" "$(data_lines follow_sum_tgt)"
if [ "$(field follow_sum_src keys)" -gt 1000 ] 2>/dev/null; then pass scan.follow.load_keys
else fail scan.follow.load_keys "only $(field follow_sum_src keys) keys on the source"; fi
# And by Redis's own digest: a snapshot of F (by scan), loaded, against T2.
run follow_file --source "$(rs_url F)" --file "$IT_TMP/follow.rdb"
if [ "$RC" -eq 0 ] && rs_start_with_rdb LF "$IT_TMP/follow.rdb"; then
    assert_eq scan.follow.debug_digest "$(rs_digest LF)" "$(rs_digest T2)"
    rs_stop LF
else
    fail scan.follow.debug_digest "no snapshot of F: exit $RC: $(errtail follow_file)"
fi

kill -TERM "$FOLLOW_PID" 2>/dev/null || true
bg_wait "$FOLLOW_PID" 10
assert_eq scan.follow.sigterm_exit 0 "$BG_RC"
rs_stop F
rs_stop T2

# A stop during the pass, with notifications already queued: exit 9 (the
# target is partial) and, under the sanitizers, nothing leaked.
rs_start G "${RESTRICT[@]}" --notify-keyspace-events KA
rs_start T4
rs_cli G EVAL "for i=1,50 do redis.call('SET','victim:'..i,i) end" 0 >/dev/null
rs_cli G -n 1 EVAL "for i=1,1000 do redis.call('SET','bulk:'..i,i) end" 0 >/dev/null
rs_cli G -n 2 SET mine source >/dev/null
bg stoppass --source "$(rs_url G)" --target "$(rs_url T4)" --rate 200 --scan-count 10
STOP_PID=$BG_PID
sleep 0.5
rs_cli G -n 2 EVAL "for i=1,20 do redis.call('INCR','stoppass:c') end" 0 >/dev/null
rs_cli G -n 2 DEL stoppass:c >/dev/null
kill -TERM "$STOP_PID" 2>/dev/null || true
bg_wait "$STOP_PID" 10
assert_eq scan.stop_in_pass.exit 9 "$BG_RC" # the pass was cut: the target is partial
[ "$BG_RC" = 0 ] || note "stop in pass: $(grep -m1 -E 'ERROR|SUMMARY' "$IT_TMP/stoppass.err" || errtail stoppass)"

# More notifications than rdbsync queues (100000) arrive during the pass,
# then keys it already read are deleted: those events are dropped, and the
# fresh pass that follows must still remove the keys from the target. And
# --db: a key deleted in a db that is not copied is left alone on the
# target.
rs_cli T4 FLUSHALL >/dev/null
rs_cli T4 -n 2 SET mine target >/dev/null
bg overflow --source "$(rs_url G)" --target "$(rs_url T4)" --db 0 --db 1 --rate 400 --scan-count 10
OVER_PID=$BG_PID
sleep 0.6 # db 0 (the victims) is read in the first 0.15 s, db 1 takes 2.5 s
rs_cli G EVAL "for i=1,100500 do redis.call('INCR','counter') end" 0 >/dev/null
rs_cli G EVAL "for i=1,50 do redis.call('DEL','victim:'..i) end" 0 >/dev/null
wait_until 20 grep -q 'following changes' "$IT_TMP/overflow.err" || note "overflow: the pass did not end"
counter_synced() { [ "$(rs_cli T4 GET counter)" = 100500 ]; }
wait_until 20 counter_synced || note "overflow: counter not copied"
# Events are applied in order: once 'marker' is on the target, the DEL of
# 'mine' (db 2, not copied) before it was seen, and must have been ignored.
rs_cli G -n 2 DEL mine >/dev/null
rs_cli G SET marker 1 >/dev/null
marker_copied() { [ "$(rs_cli T4 GET marker)" = 1 ]; }
wait_until 20 marker_copied || note "overflow: marker not copied"
assert_eq scan.db_filter.delete_ignored target "$(rs_cli T4 -n 2 GET mine)"
victims_gone() { [ "$(rs_cli T4 DBSIZE)" = 2 ]; }
if wait_until 10 victims_gone; then pass scan.overflow.deleted_keys_removed
else fail scan.overflow.deleted_keys_removed "target db 0 keeps $(($(rs_cli T4 DBSIZE) - 2)) keys deleted on the source while events were dropped"; fi
assert_eq scan.overflow.db1 1000 "$(rs_cli T4 -n 1 DBSIZE)"
kill -TERM "$OVER_PID" 2>/dev/null || true
bg_wait "$OVER_PID" 10
assert_eq scan.overflow.sigterm_exit 0 "$BG_RC"
rs_stop G
rs_stop T4

# Notifications off and CONFIG refused: following cannot work; say which
# setting to change, with what value, and stop.
rs_start_with_rdb N "$IT_TMP/base.rdb" "${RESTRICT[@]}"
rs_start T3
bg nonotify --mode scan --source "$(rs_url N)" --target "$(rs_url T3)"
bg_wait "$BG_PID" 10
if [ "$BG_RC" != hung ] && [ "$BG_RC" -ne 0 ]; then pass scan.nonotify.fails
else fail scan.nonotify.fails "exit $BG_RC (want non-zero, promptly): $(errtail nonotify)"; fi
hint=$(grep -E "notify-keyspace-events.*'KA'" "$IT_TMP/nonotify.err" || true)
assert_eq scan.nonotify.one_line 1 "$(printf '%s' "$hint" | grep -c . || true)"

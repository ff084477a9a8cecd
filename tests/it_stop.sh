#!/usr/bin/env bash
# it_stop.sh -- SIGINT, SIGTERM and SIGHUP in every mode (issue #14: a stop
# says how far it got, removes what it created, and exits 9 when the work
# is unfinished; a live sync stopped after its snapshot exits 0).
#
# 1. --file F --checksum and --dump, fed through a FIFO that stalls halfway:
#    SIGTERM / SIGINT -> exit 9, one line with the offset, no report.
# 2. --file F --target URL through the same stalled FIFO: SIGTERM -> exit
#    9; "N keys written" equals the target's DBSIZE.
# 3. --source URL --file out.rdb and --source --checksum, from a source that
#    streams its diskless snapshot slowly (--rdb-key-save-delay): SIGTERM
#    mid-transfer -> exit 9, neither out.rdb nor out.rdb.rdbsync-tmp left.
#    --verify at --rate 2000: SIGTERM -> exit 9, no verdict.
#    --mode scan --once at --rate 1000: SIGHUP -> exit 9, the summary adds
#    up (scanned = written + not attempted) and written = DBSIZE.
# 4. live sync: SIGTERM during the snapshot load -> exit 9, "the target is
#    partial (N keys written", N = the target's DBSIZE, 0 < N < all;
#    SIGHUP once streaming -> exit 0, "stopped at source offset"; with
#    --on-error skip and a refused command, a stop exits 6 ("1 refused").
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip stop "no binary at $RDBSYNC (run make)"
    exit 0
fi

# bg NAME ARGS...: rdbsync in the background; BG_PID.
bg() { rdb_bg "$@"; }

# stop_and_wait PID SIG SECONDS: send SIG, then wait; RC is the exit
# status, or "hung" (then it was killed).
stop_and_wait() {
    local pid=$1 deadline=$((SECONDS + $3))
    kill "-$2" "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            rdb_kill "$pid"
            wait "$pid" 2>/dev/null || true
            RC=hung
            return 0
        fi
        sleep 0.05
    done
    RC=0
    wait "$pid" || RC=$?
}

errtail() { tail -n 3 "$IT_TMP/$1.err" 2>/dev/null | tr '\n' ' ' | cut -c1-300; }

# ---- 1. and 2.: a file that stalls halfway ----

rs_start D
rs_cli D DEBUG POPULATE 50000 key 64 >/dev/null
DUMP=$(rs_save D)
SIZE=$(stat -c %s "$DUMP")
HALF=$((SIZE / 2))
rs_stop D

# stalled NAME SIG ARGS...: rdbsync reads a FIFO that gets half the dump
# and then nothing; SIG once it has read that half.
stalled() {
    local name=$1 sig=$2 fifo=$IT_TMP/$1.fifo
    shift 2
    mkfifo "$fifo"
    bg "$name" "$@" --file "$fifo"
    local pid=$BG_PID
    exec 3>"$fifo"
    head -c "$HALF" "$DUMP" >&3
    sleep "${STALL_WAIT:-1}"
    stop_and_wait "$pid" "$sig" 10
    exec 3>&-
}

stalled sum TERM --checksum
assert_eq stop.checksum.exit 9 "$RC"
assert_match stop.checksum.says 'interrupted by SIGTERM at offset [0-9]+: no report' "$(cat "$IT_TMP/sum.err")"
assert_eq stop.checksum.no_report "" "$(cat "$IT_TMP/sum.out")"
assert_eq stop.checksum.one_line 1 "$(wc -l <"$IT_TMP/sum.err")"

stalled dump INT --dump
assert_eq stop.dump.exit 9 "$RC"
assert_match stop.dump.says 'interrupted by SIGINT at offset [0-9]+' "$(cat "$IT_TMP/dump.err")"
if [ "$(wc -l <"$IT_TMP/dump.out")" -gt 1000 ]; then pass stop.dump.printed_keys
else fail stop.dump.printed_keys "only $(wc -l <"$IT_TMP/dump.out") lines before the stop"; fi

rs_start T
STALL_WAIT=2 stalled imp TERM --target "$(rs_url T)" -q
assert_eq stop.import.exit 9 "$RC"
line=$(grep 'interrupted' "$IT_TMP/imp.err" || true)
assert_match stop.import.says 'interrupted by SIGTERM at offset [0-9]+: [0-9]+ keys written; the target holds a partial import' "$line"
written=$(sed -n 's/.*: \([0-9]*\) keys written;.*/\1/p' <<<"$line")
assert_eq stop.import.count_is_dbsize "$(rs_cli T DBSIZE)" "$written"
if [ "${written:-0}" -gt 0 ] && [ "$written" -lt 50000 ]; then pass stop.import.partial
else fail stop.import.partial "written '$written' (want between 1 and 49999)"; fi
# The summary still comes, and adds up: read = written + not attempted.
sum=$(grep 'keys read' "$IT_TMP/imp.err" || true)
read=$(sed -n 's/.*: \([0-9]*\) keys read.*/\1/p' <<<"$sum")
rest=$(sed -n 's/.*; \([0-9]*\) not attempted.*/\1/p' <<<"$sum")
assert_eq stop.import.counts_add_up "$read" "$((written + ${rest:-0}))"
rs_stop T

# ---- 3. one-shot modes on a live source ----

# A diskless snapshot at about 100 us a key: 20000 keys take 2 s.
rs_start S --repl-diskless-sync yes --repl-diskless-sync-delay 0 --rdb-key-save-delay 100
rs_cli S DEBUG POPULATE 20000 key 32 >/dev/null

bg snapfile --source "$(rs_url S)" --file "$IT_TMP/out.rdb"
sleep 0.8
stop_and_wait "$BG_PID" TERM 15
assert_eq stop.snapshot_file.exit 9 "$RC"
assert_match stop.snapshot_file.says 'interrupted by SIGTERM after [0-9]+ bytes .*removed the partial' "$(errtail snapfile)"
if [ ! -e "$IT_TMP/out.rdb" ] && [ ! -e "$IT_TMP/out.rdb.rdbsync-tmp" ]; then pass stop.snapshot_file.nothing_left
else fail stop.snapshot_file.nothing_left "$(ls "$IT_TMP" | grep out.rdb | tr '\n' ' ')"; fi
# The source's fork is still busy with us: let it notice we left.
wait_until 20 sh -c "[ \"\$(redis-cli -p $(rs_port S) INFO persistence | grep -c 'rdb_bgsave_in_progress:0')\" = 1 ]" || true

bg snapsum --source "$(rs_url S)" --checksum
sleep 0.8
stop_and_wait "$BG_PID" TERM 15
assert_eq stop.snapshot_checksum.exit 9 "$RC"
assert_match stop.snapshot_checksum.says 'interrupted by SIGTERM: no report' "$(errtail snapsum)"
assert_eq stop.snapshot_checksum.no_report "" "$(cat "$IT_TMP/snapsum.out")"
wait_until 20 sh -c "[ \"\$(redis-cli -p $(rs_port S) INFO persistence | grep -c 'rdb_bgsave_in_progress:0')\" = 1 ]" || true

rs_start T2
# --verify at 2000 keys/s over 20000 keys: a stop gives no verdict.
bg verify --verify --rate 2000 --source "$(rs_url S)" --target "$(rs_url T2)"
sleep 1
stop_and_wait "$BG_PID" TERM 15
assert_eq stop.verify.exit 9 "$RC"
assert_match stop.verify.says "interrupted by SIGTERM (after [0-9]+ source keys|while reading both sides' digests): no verdict" "$(errtail verify)"
assert_eq stop.verify.no_verdict 0 "$(grep -c '^verify:' "$IT_TMP/verify.out" || true)"

bg scanonce --mode scan --once --rate 1000 --source "$(rs_url S)" --target "$(rs_url T2)"
sleep 2
stop_and_wait "$BG_PID" HUP 15
assert_eq stop.scan_once.exit 9 "$RC"
assert_match stop.scan_once.says 'interrupted by SIGHUP before the pass was complete: the target is partial' \
    "$(grep interrupted "$IT_TMP/scanonce.err" || true)"
sum=$(grep 'scan copy:' "$IT_TMP/scanonce.err" || true)
scanned=$(sed -n 's/.*scan copy: \([0-9]*\) keys scanned.*/\1/p' <<<"$sum")
written=$(sed -n 's/.*scanned, \([0-9]*\) written.*/\1/p' <<<"$sum")
rest=$(sed -n 's/.*, \([0-9]*\) not attempted.*/\1/p' <<<"$sum")
assert_eq stop.scan_once.written_is_dbsize "$(rs_cli T2 DBSIZE)" "$written"
assert_eq stop.scan_once.counts_add_up "$scanned" "$((written + ${rest:-0}))"
if [ "${written:-0}" -gt 0 ] && [ "$written" -lt 20000 ]; then pass stop.scan_once.partial
else fail stop.scan_once.partial "written '$written'"; fi
rs_stop T2

# ---- 4. live sync ----

rs_start T3
bg live --source "$(rs_url S)" --target "$(rs_url T3)"
LIVE_PID=$BG_PID
sleep 1
stop_and_wait "$LIVE_PID" TERM 15
assert_eq stop.live_in_load.exit 9 "$RC"
line=$(grep 'during the snapshot load' "$IT_TMP/live.err" || true)
assert_match stop.live_in_load.says 'stopped by SIGTERM during the snapshot load: the target is partial \([0-9]+ keys written' "$line"
written=$(sed -n 's/.*partial (\([0-9]*\) keys written.*/\1/p' <<<"$line")
assert_eq stop.live_in_load.count_is_dbsize "$(rs_cli T3 DBSIZE)" "$written"
read=$(sed -n 's/.* keys written of \([0-9]*\) read so far.*/\1/p' <<<"$line")
rest=$(sed -n 's/.*; \([0-9]*\) not attempted).*/\1/p' <<<"$line")
assert_eq stop.live_in_load.counts_add_up "$read" "$((${written:-0} + ${rest:-0}))"
if [ "${written:-0}" -gt 0 ] && [ "$written" -lt 20000 ]; then pass stop.live_in_load.partial
else fail stop.live_in_load.partial "written '$written' (the snapshot was not cut)"; fi
wait_until 20 sh -c "[ \"\$(redis-cli -p $(rs_port S) INFO persistence | grep -c 'rdb_bgsave_in_progress:0')\" = 1 ]" || true

# Once streaming, a SIGHUP (a closed ssh session) is a clean stop.
rs_cli T3 FLUSHALL >/dev/null
bg live2 --source "$(rs_url S)" --target "$(rs_url T3)"
LIVE_PID=$BG_PID
if wait_until 30 grep -q 'snapshot applied' "$IT_TMP/live2.err"; then
    rs_cli S SET after-snapshot 1 >/dev/null
    wait_until 10 sh -c "[ \"\$(redis-cli -p $(rs_port T3) GET after-snapshot)\" = 1 ]" || true
    stop_and_wait "$LIVE_PID" HUP 15
    assert_eq stop.live_streaming.exit 0 "$RC"
    assert_match stop.live_streaming.says 'stopped at source offset [0-9]+ \([0-9]+ commands applied' "$(errtail live2)"
    assert_eq stop.live_streaming.all_keys 20001 "$(rs_cli T3 DBSIZE)"
else
    fail stop.live_streaming.applied "no snapshot applied: $(errtail live2)"
    rdb_kill "$LIVE_PID"
fi

# --on-error skip goes on past a refused command, and the exit status then
# says the target lacks writes (6), as --help promises.
rs_start T4 --rename-command SETRANGE ""
bg skip --on-error skip --source "$(rs_url S)" --target "$(rs_url T4)"
LIVE_PID=$BG_PID
if wait_until 30 grep -q 'snapshot applied' "$IT_TMP/skip.err"; then
    rs_cli S SETRANGE after-snapshot 0 x >/dev/null
    rs_cli S SET marker 1 >/dev/null
    wait_until 10 sh -c "[ \"\$(redis-cli -p $(rs_port T4) GET marker)\" = 1 ]" || true
    stop_and_wait "$LIVE_PID" TERM 15
    assert_eq stop.live_skip.exit 6 "$RC"
    assert_match stop.live_skip.says 'stopped at source offset [0-9]+ \([0-9]+ commands applied, 1 refused\)' \
        "$(grep 'stopped at source offset' "$IT_TMP/skip.err" || true)"
    assert_eq stop.live_skip.marker 1 "$(rs_cli T4 GET marker)"
else
    fail stop.live_skip.applied "no snapshot applied: $(errtail skip)"
    rdb_kill "$LIVE_PID"
fi
rs_stop T4
rs_stop S
rs_stop T3

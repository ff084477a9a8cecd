#!/usr/bin/env bash
# it_psync.sh -- the replica link's phases and its recovery, against real
# redis-server 7.0 processes.
#
#   phases     a source with repl-diskless-sync-delay 2: the status says
#              "connecting to the source" once, then "waiting for the source
#              to start the snapshot" (the delay is not "connecting"); a
#              source that is down gives its one error line and no
#              "offset -1" status line before it (exit 5)
#   cut_diskless, cut_diskless_load, cut_disk, cut_disk_load
#              the source drops the replica link (CLIENT KILL TYPE slave)
#              while its snapshot is on the way: 20,000 keys, saved slowly
#              (--rdb-key-save-delay 100); diskless: killed 0.7 s in; disk:
#              rdbsync is held (SIGSTOP) once the BGSAVE runs, the kill comes
#              while the master sends the file (send_bulk), then SIGCONT, so
#              rdbsync gets part of the file and then the end of the link.
#              Idle, or with ~100 writes/s before, during and after. The cut
#              snapshot must not be continued by a partial resync (the
#              source's backlog would accept it): sync_partial_ok stays 0, a
#              second full sync comes, and the target ends with every key
#              (DEBUG DIGEST and DBSIZE equal), the keys written after the
#              cut included
#   silent     a source frozen by SIGSTOP (--repl-ping-replica-period 1, so
#              "silent" means more than 2 s): the status stops saying
#              "in sync" and says "source silent for N s" within seconds;
#              after SIGCONT, "in sync" again and new writes arrive. With
#              --source-timeout 3, the frozen link is dropped ("sent nothing
#              for"), and once the source is back the sync continues (a
#              partial resync, no new full sync): DEBUG DIGEST equal
#
# KEEP_TMP=1 keeps the server dirs and logs; PSYNC_SCENARIOS="phases" runs
# only those.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip psync "no binary at $RDBSYNC (run make)"
    exit 0
fi

SYNC_PID=


show_err() {
    note "rdbsync stderr ($1), last lines:"
    tail -n 12 "$IT_TMP/$1.err" | cut -c1-300 | sed 's/^/#   /' >&2
}

# ---- phases ----

phases() {
    local t=phases rc=0 down
    rs_start "${t}_src" --repl-diskless-sync yes --repl-diskless-sync-delay 2
    rs_start "${t}_tgt"
    rs_cli "${t}_src" DEBUG POPULATE 1000 >/dev/null
    sync_start "$t" "${t}_src" "${t}_tgt"
    if wait_until 15 has_line "$t" 'snapshot applied'; then pass "$t.applied"; else fail "$t.applied" "no snapshot"; fi
    sync_stop
    assert_eq "$t.connecting_once" 1 "$(grep -c 'connecting to the source' "$IT_TMP/$t.err" || true)"
    # The delay is its own phase, after connecting, before the snapshot.
    assert_eq "$t.phase_order" "connecting to the source|waiting for the source to start the snapshot|snapshot applied" \
        "$(grep -o -E 'connecting to the source|waiting for the source to start the snapshot|snapshot applied' \
            "$IT_TMP/$t.err" | head -n 3 | paste -sd'|')"
    # A source that is down: its one error line, no status line with a
    # made-up offset before it.
    down=$(free_port)
    timeout -k 5 15 "$RDBSYNC" --source "redis://127.0.0.1:$down" --target "$(rs_url "${t}_tgt")" \
        >/dev/null 2>"$IT_TMP/$t.down.err" || rc=$?
    assert_eq "$t.down.exit" 5 "$rc"
    if grep -q 'offset -1' "$IT_TMP/$t.down.err"; then fail "$t.down.no_offset_minus_1" "$(it_show "$(cat "$IT_TMP/$t.down.err")")"
    else pass "$t.down.no_offset_minus_1"; fi
    assert_match "$t.down.last_line_is_error" "cannot connect to 127\.0\.0\.1:$down" "$(tail -n 1 "$IT_TMP/$t.down.err")"
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- a snapshot cut short ----

# writer_bg PORT N: N writes (SET w:i i) at about 100/s, in the background.
writer_bg() {
    local port=$1 n=$2
    (for i in $(seq 1 "$n"); do echo "SET w:$i $i"; sleep 0.01; done) |
        redis-cli -h 127.0.0.1 -p "$port" >/dev/null 2>&1 &
    WRITER_PID=$!
    on_exit "kill $WRITER_PID 2>/dev/null || true"
}

replica_state() { rs_cli "$1" INFO replication | tr -d '\r' | sed -n 's/^slave0:.*state=\([a-z_]*\).*/\1/p'; }
in_state() { [ "$(replica_state "$1")" == "$2" ]; }
same_data() {
    [ "$(rs_digest "$1")" == "$(rs_digest "$2")" ] && [ "$(rs_cli "$1" DBSIZE)" == "$(rs_cli "$2" DBSIZE)" ]
}

# cut_case TEST DISKLESS(yes|no) LOAD(0|1)
has_keys() { [ "$(rs_cli "$1" DBSIZE)" -gt 0 ]; }

cut_case() {
    local t=$1 diskless=$2 load=$3 k i full
    # Diskless: 20000 keys at 400 us each make an 8 s snapshot, so that the
    # cut lands inside it even when this machine is slow to get there.
    local delay=100
    if [ "$diskless" == yes ]; then delay=400; fi
    local args=(--repl-diskless-sync "$diskless" --repl-diskless-sync-delay 0 --rdb-key-save-delay "$delay")
    # Disk: values big and uncompressed, so that the file is far larger
    # than the socket buffers and the master is still sending it when the
    # link is cut.
    if [ "$diskless" == no ]; then args+=(--rdbcompression no); fi
    rs_start "${t}_src" "${args[@]}"
    rs_start "${t}_tgt"
    if [ "$diskless" == no ]; then rs_cli "${t}_src" DEBUG POPULATE 20000 key 1000 >/dev/null
    else rs_cli "${t}_src" DEBUG POPULATE 20000 key 100 >/dev/null; fi # > the writer's 256 KB flush
    if [ "$load" == 1 ]; then writer_bg "$(rs_port "${t}_src")" 400; fi
    sync_start "$t" "${t}_src" "${t}_tgt"
    if [ "$diskless" == yes ]; then
        wait_until 10 has_keys "${t}_tgt" || note "$t: no key on the target before the cut"
        kill -STOP "$SYNC_PID"
        k=$(rs_cli "${t}_src" CLIENT KILL TYPE slave) || true
        # Keys the cut attempt wrote, then deleted on the source: the retry
        # must not leave them behind (REPLACE alone never removes a key).
        for i in 1 2 3; do
            kk=$(rs_cli "${t}_tgt" RANDOMKEY)
            if [ -n "$kk" ]; then rs_cli "${t}_src" DEL "$kk" >/dev/null; fi
        done
        kill -CONT "$SYNC_PID"
    else
        wait_until 10 in_state "${t}_src" wait_bgsave || note "$t: no replica waiting for the BGSAVE"
        kill -STOP "$SYNC_PID"
        wait_until 15 in_state "${t}_src" send_bulk || note "$t: the master never sent the file"
        sleep 0.3
        k=$(rs_cli "${t}_src" CLIENT KILL TYPE slave) || true
        kill -CONT "$SYNC_PID"
    fi
    assert_eq "$t.killed_mid_snapshot" "1 no" "$k $(if has_line "$t" 'snapshot applied'; then echo yes; else echo no; fi)"
    rs_cli "${t}_src" CONFIG SET rdb-key-save-delay 0 >/dev/null
    for i in 1 2 3 4 5; do rs_cli "${t}_src" SET "after:cut:$i" "$i" >/dev/null; done
    if [ "$load" == 1 ]; then wait "$WRITER_PID" 2>/dev/null || true; fi
    if wait_until 25 same_data "${t}_src" "${t}_tgt"; then pass "$t.target_exact"
    else
        fail "$t.target_exact" "source $(rs_cli "${t}_src" DBSIZE) keys, target $(rs_cli "${t}_tgt" DBSIZE) keys after 25 s"
        show_err "$t"
    fi
    if has_line "$t" 'cut short'; then pass "$t.said_cut"; else fail "$t.said_cut" "no 'cut short' line"; show_err "$t"; fi
    assert_eq "$t.no_partial_resync" 0 "$(info "${t}_src" stats sync_partial_ok)"
    full=$(info "${t}_src" stats sync_full)
    if [ "${full:-0}" -ge 2 ]; then pass "$t.full_again"; else fail "$t.full_again" "sync_full $full"; fi
    sync_stop
    rs_stop "${t}_src"
    rs_stop "${t}_tgt"
}

# ---- a silent source ----

lines() { wc -l <"$IT_TMP/$1.err"; }
# since NAME N PATTERN: a line after the first N matches PATTERN.
since() { tail -n +"$(($2 + 1))" "$IT_TMP/$1.err" | grep -q -- "$3"; }
digests_equal() { [ "$(rs_digest "$1")" == "$(rs_digest "$2")" ]; }

silent() {
    local t=silent n0 n1 pid part0 full0
    rs_start "${t}_src" --repl-diskless-sync-delay 0 --repl-ping-replica-period 1
    rs_start "${t}_tgt"
    rs_start "${t}_tgt2"
    pid=$(rs_pid "${t}_src")
    on_exit "kill -CONT $pid 2>/dev/null || true"
    rs_cli "${t}_src" DEBUG POPULATE 1000 >/dev/null
    sync_start "$t" "${t}_src" "${t}_tgt"
    wait_until 15 has_line "$t" 'snapshot applied' || note "$t: no snapshot"
    if wait_until 8 has_line "$t" 'in sync'; then pass "$t.in_sync_while_pinged"
    else fail "$t.in_sync_while_pinged" "no 'in sync' line"; show_err "$t"; fi
    kill -STOP "$pid"
    sleep 2.5 # twice the PING period, and a little
    n0=$(lines "$t")
    if wait_until 10 since "$t" "$n0" 'source silent for [0-9]* s'; then pass "$t.says_silent"
    else fail "$t.says_silent" "no 'source silent' line 10 s after SIGSTOP"; show_err "$t"; fi
    if since "$t" "$n0" 'in sync'; then fail "$t.not_in_sync_while_frozen" "$(tail -n +"$((n0 + 1))" "$IT_TMP/$t.err" | grep -m1 'in sync')"
    else pass "$t.not_in_sync_while_frozen"; fi
    kill -CONT "$pid"
    n1=$(lines "$t")
    rs_cli "${t}_src" SET after:thaw 1 >/dev/null
    if wait_until 10 since "$t" "$n1" 'in sync'; then pass "$t.in_sync_again"
    else fail "$t.in_sync_again" "no 'in sync' line 10 s after SIGCONT"; show_err "$t"; fi
    if wait_until 10 digests_equal "${t}_src" "${t}_tgt"; then pass "$t.digest_equal"
    else fail "$t.digest_equal" "source and target differ"; fi
    sync_stop
    # --source-timeout: the frozen link is dropped, then continued.
    t=silent_timeout
    part0=$(info silent_src stats sync_partial_ok)
    sync_start "$t" silent_src silent_tgt2 --source-timeout 3
    wait_until 15 has_line "$t" 'snapshot applied' || note "$t: no snapshot"
    full0=$(info silent_src stats sync_full)
    kill -STOP "$pid"
    if wait_until 10 has_line "$t" 'sent nothing for [0-9]* s (--source-timeout): reconnecting'; then pass "$t.reconnects"
    else fail "$t.reconnects" "no reconnection 10 s after SIGSTOP"; show_err "$t"; fi
    kill -CONT "$pid"
    rs_cli silent_src SET after:timeout 1 >/dev/null
    if wait_until 15 digests_equal silent_src silent_tgt2; then pass "$t.digest_equal"
    else fail "$t.digest_equal" "source and target differ 15 s after SIGCONT"; show_err "$t"; fi
    assert_eq "$t.continued" "$full0 $((part0 + 1))" \
        "$(info silent_src stats sync_full) $(info silent_src stats sync_partial_ok)"
    if kill -0 "$SYNC_PID" 2>/dev/null; then pass "$t.still_running"; else fail "$t.still_running" "rdbsync exited"; fi
    sync_stop
    rs_stop silent_src
    rs_stop silent_tgt
    rs_stop silent_tgt2
}

# ---- main ----

for s in ${PSYNC_SCENARIOS:-phases cut_diskless cut_diskless_load cut_disk cut_disk_load silent}; do
    t0=$SECONDS
    case $s in
    phases) phases ;;
    cut_diskless) cut_case cut_diskless yes 0 ;;
    cut_diskless_load) cut_case cut_diskless_load yes 1 ;;
    cut_disk) cut_case cut_disk no 0 ;;
    cut_disk_load) cut_case cut_disk_load no 1 ;;
    silent) silent ;;
    *) fail "psync.scenario" "unknown scenario '$s'" ;;
    esac
    note "$s: $((SECONDS - t0)) s"
done

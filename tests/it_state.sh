#!/usr/bin/env bash
# it_state.sh -- --state FILE: a restarted live sync continues where the
# killed one stopped, against real redis-server 7.0 processes.
#
#   resume     50,000 keys and a write load (tests/sync/load.c --idempotent:
#              delivery after a SIGKILL is at least once without
#              --exactly-once, so the load's writes are ones that may run
#              twice); rdbsync SIGKILLed 5 s in, started again with the same
#              --state: it says "resumed at offset N", the source's log and
#              INFO stats show exactly one full sync served in all (and a
#              partial one accepted), and the target equals the source once
#              the load stops (DEBUG DIGEST)
#   in_load    SIGKILL while the snapshot is still loading (the source
#              saves slowly): the file holds no position, so the next run
#              does a full sync (said), empties what the cut one wrote, and
#              ends identical to the source
#   foreign    the file of one sync given with another target, another
#              source, or a target restarted since (new run_id): refused
#              with one line, exit 1, nothing written to the target
#   corrupt    a second run on the file of a running one: refused (exit 1,
#              "in use"); the file cut short, or one byte changed: refused
#              (exit 2, "corrupt state file"), nothing written
#   backlog    stopped cleanly (the file written at exit), then 300 KB of
#              writes through a 16 KB backlog: the next run says "cannot
#              resume at offset N: its backlog no longer holds offset ..."
#              and does a full sync that ends identical to the source
#
# KEEP_TMP=1 keeps the server dirs and logs; STATE_SCENARIOS="resume" runs
# only those.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip state "no binary at $RDBSYNC (run make)"
    exit 0
fi
load_build state || exit 0

SYNC_PID=
show_err() {
    note "rdbsync stderr ($1), last lines:"
    tail -n 12 "$IT_TMP/$1.err" | cut -c1-300 | sed 's/^/#   /' >&2
}
same_data() {
    [ "$(rs_digest "$1")" == "$(rs_digest "$2")" ] && [ "$(rs_cli "$1" DBSIZE)" == "$(rs_cli "$2" DBSIZE)" ]
}
assert_same() {
    local t=$1 src=$2 tgt=$3 secs=${4:-20}
    if wait_until "$secs" same_data "$src" "$tgt"; then pass "$t.target_equals_source"
    else fail "$t.target_equals_source" "DEBUG DIGEST/DBSIZE differ after ${secs}s: $(rs_digest "$src")/$(rs_cli "$src" DBSIZE) vs $(rs_digest "$tgt")/$(rs_cli "$tgt" DBSIZE)"
    fi
}
sync_kill9() {
    rdb_kill "$SYNC_PID"
    wait "$SYNC_PID" 2>/dev/null || true
}
full_syncs_logged() { grep -c 'Full resync requested by replica' "$(rs_dir "$1")/$1.log" || true; }
partials_logged() { grep -c 'Partial resynchronization request from .* accepted' "$(rs_dir "$1")/$1.log" || true; }
in_sync() { tail -n 3 "$IT_TMP/$1.err" | grep -q 'in sync'; }
tgt_has_keys() { [ "$(rs_cli "$1" DBSIZE)" -gt 100 ]; }

# ---- resume ----

resume() {
    local t=resume st=$IT_TMP/resume.state off
    rs_start "${t}_src" --repl-diskless-sync-delay 0
    rs_start "${t}_tgt"
    rs_cli "${t}_src" DEBUG POPULATE 50000 key 50 >/dev/null
    "$LOAD" --port "$(rs_port "${t}_src")" --seconds 14 --rate 1500 --idempotent --no-groups --quiet \
        >"$IT_TMP/$t.load" 2>&1 &
    local load_pid=$!
    on_exit "kill $load_pid 2>/dev/null || true"
    sync_start "$t" "${t}_src" "${t}_tgt" --state "$st" --status-interval 1
    sleep 5
    assert_ok "$t.first_run_streaming" has_line "$t" 'snapshot applied'
    sync_kill9
    if [ -f "$st" ]; then pass "$t.state_written"; else fail "$t.state_written" "no $st after 5 s"; fi
    off=$(sed -n 's/^link .* offset=\([0-9-]*\) .*/\1/p' "$st")
    assert_match "$t.state_has_position" '^[1-9][0-9]*$' "$off"
    sleep 1 # the load goes on while nothing syncs
    sync_start "${t}2" "${t}_src" "${t}_tgt" --state "$st" --status-interval 1
    if wait_until 15 has_line "${t}2" 'resumed at offset'; then pass "$t.resumed"
    else fail "$t.resumed" "no 'resumed at offset' line"; show_err "${t}2"; fi
    assert_match "$t.resumed_at_state_offset" "resumed at offset $off " "$(grep -m1 'resumed at offset' "$IT_TMP/${t}2.err" || true)"
    wait "$load_pid" 2>/dev/null || true
    assert_same "$t" "${t}_src" "${t}_tgt" 20
    sync_stop
    assert_eq "$t.clean_exit" 0 "$STOP_RC"
    assert_eq "$t.one_full_sync_in_all" "1 1" "$(full_syncs_logged "${t}_src") $(info "${t}_src" stats sync_full)"
    assert_match "$t.partial_accepted" '^[1-9]' "$(partials_logged "${t}_src")"
    assert_eq "$t.no_snapshot_second_run" 0 "$(grep -c 'snapshot applied' "$IT_TMP/${t}2.err" || true)"
    cp "$st" "$IT_TMP/foreign.state"
    RESUME_SRC_PORT=$(rs_port "${t}_src")
    RESUME_TGT_PORT=$(rs_port "${t}_tgt")
}

# ---- in_load ----

in_load() {
    local t=in_load st=$IT_TMP/in_load.state
    rs_start "${t}_src" --repl-diskless-sync yes --repl-diskless-sync-delay 0 --rdb-key-save-delay 200
    rs_start "${t}_tgt"
    rs_cli "${t}_src" DEBUG POPULATE 20000 key 100 >/dev/null
    sync_start "$t" "${t}_src" "${t}_tgt" --state "$st"
    wait_until 10 tgt_has_keys "${t}_tgt" || note "$t: no key on the target"
    sync_kill9
    assert_eq "$t.killed_in_load" "no" "$(if has_line "$t" 'snapshot applied'; then echo yes; else echo no; fi)"
    assert_match "$t.no_position" '^link .* replid=- offset=-1 .*target_ours=1 ' "$(grep '^link' "$st" || true)"
    rs_cli "${t}_src" CONFIG SET rdb-key-save-delay 0 >/dev/null
    rs_cli "${t}_src" DEL key:1 key:2 key:3 >/dev/null # keys the cut load wrote, gone from the source
    sync_start "${t}2" "${t}_src" "${t}_tgt" --state "$st"
    if wait_until 20 has_line "${t}2" 'snapshot applied'; then pass "$t.full_sync"; else fail "$t.full_sync" "none"; show_err "${t}2"; fi
    assert_ok "$t.said_why" has_line "${t}2" 'stopped before its snapshot was applied: a full sync'
    assert_same "$t" "${t}_src" "${t}_tgt" 10
    sync_stop
}

# ---- foreign ----

foreign() {
    local t=foreign st=$IT_TMP/foreign.state
    if [ ! -f "$st" ]; then skip "$t" "needs the resume scenario's state file"; return 0; fi
    rs_start "${t}_other"
    rs_cli "${t}_other" SET mine 1 >/dev/null
    rdb_run "$t.target" --source "redis://127.0.0.1:$RESUME_SRC_PORT" --target "$(rs_url "${t}_other")" --state "$st"
    assert_eq "$t.other_target_exit" 1 "$RC"
    assert_match "$t.other_target_line" "refused: it was written for target 127.0.0.1:$RESUME_TGT_PORT, not 127.0.0.1:$(rs_port "${t}_other")" \
        "$(cat "$IT_TMP/$t.target.err")"
    assert_eq "$t.other_target_untouched" 1 "$(rs_cli "${t}_other" DBSIZE)"
    # Another source, the same target: the link's key is the source's address.
    cp "$st" "$IT_TMP/foreign2.state"
    sed -i "s/^target addr=127.0.0.1:$RESUME_TGT_PORT /target addr=127.0.0.1:$(rs_port "${t}_other") /" "$IT_TMP/foreign2.state"
    rdb_run "$t.edited" --source "redis://127.0.0.1:$RESUME_SRC_PORT" --target "$(rs_url "${t}_other")" \
        --state "$IT_TMP/foreign2.state"
    assert_eq "$t.edited_exit" 2 "$RC"
    assert_match "$t.edited_line" 'corrupt state file, line 0: checksum mismatch' "$(cat "$IT_TMP/$t.edited.err")"
    rdb_run "$t.source" --source "$(rs_url "${t}_other")" --target "redis://127.0.0.1:$RESUME_TGT_PORT" --state "$st"
    assert_eq "$t.other_source_exit" 1 "$RC"
    assert_match "$t.other_source_line" "refused: it was written for source 127.0.0.1:$RESUME_SRC_PORT, not 127.0.0.1:$(rs_port "${t}_other")" \
        "$(cat "$IT_TMP/$t.source.err")"
    # The same address, another server (restarted: new run_id).
    local before
    before=$(rs_digest resume_tgt)
    rs_cli resume_tgt SAVE >/dev/null
    rs_restart resume_tgt
    rdb_run "$t.restarted" --source "redis://127.0.0.1:$RESUME_SRC_PORT" --target "$(rs_url resume_tgt)" --state "$st"
    assert_eq "$t.restarted_exit" 1 "$RC"
    assert_match "$t.restarted_line" 'is not the server it was written for \(run_id [0-9a-f]{40}, now [0-9a-f]{40}\): it restarted or was replaced' \
        "$(cat "$IT_TMP/$t.restarted.err")"
    assert_eq "$t.restarted_untouched" "$before" "$(rs_digest resume_tgt)"
}

# ---- corrupt ----

corrupt() {
    local t=corrupt st=$IT_TMP/corrupt.state
    rs_start "${t}_src"
    rs_start "${t}_tgt"
    rs_cli "${t}_src" DEBUG POPULATE 100 >/dev/null
    sync_start "$t" "${t}_src" "${t}_tgt" --state "$st"
    wait_until 10 has_line "$t" 'snapshot applied' || note "$t: no snapshot"
    # One FILE, one run: a second sync on it while the first runs is refused.
    rdb_run "$t.twice" --source "$(rs_url "${t}_src")" --target "$(rs_url "${t}_tgt")" --state "$st"
    assert_eq "$t.twice_exit" 1 "$RC"
    assert_match "$t.twice_line" 'corrupt\.state: in use by another rdbsync \(.*corrupt\.state\.lock is locked\): two syncs must not share one position' \
        "$(cat "$IT_TMP/$t.twice.err")"
    sleep 1.2
    sync_stop
    assert_eq "$t.first_exit" 0 "$STOP_RC"
    rs_cli "${t}_tgt" FLUSHALL >/dev/null
    head -c -20 "$st" >"$IT_TMP/cut.state"
    rdb_run "$t.cut" --source "$(rs_url "${t}_src")" --target "$(rs_url "${t}_tgt")" --state "$IT_TMP/cut.state"
    assert_eq "$t.cut_exit" 2 "$RC"
    assert_match "$t.cut_line" "cut.state: corrupt state file, line 0: (no checksum line|cut short).*refusing to trust it; nothing was written" \
        "$(cat "$IT_TMP/$t.cut.err")"
    # One digit of the offset changed: a plausible file, refused all the same.
    sed 's/ offset=\([0-9]\)/ offset=9\1/' "$st" >"$IT_TMP/flip.state"
    rdb_run "$t.flip" --source "$(rs_url "${t}_src")" --target "$(rs_url "${t}_tgt")" --state "$IT_TMP/flip.state"
    assert_eq "$t.flip_exit" 2 "$RC"
    assert_match "$t.flip_line" 'corrupt state file, line 0: checksum mismatch' "$(cat "$IT_TMP/$t.flip.err")"
    assert_eq "$t.nothing_written" 0 "$(rs_cli "${t}_tgt" DBSIZE)"
}

# ---- backlog ----

backlog() {
    local t=backlog st=$IT_TMP/backlog.state i big
    rs_start "${t}_src" --repl-backlog-size 16kb --repl-diskless-sync-delay 0
    rs_start "${t}_tgt"
    rs_cli "${t}_src" DEBUG POPULATE 2000 >/dev/null
    sync_start "$t" "${t}_src" "${t}_tgt" --state "$st" --status-interval 1
    wait_until 15 in_sync "$t" || note "$t: never in sync"
    rs_cli "${t}_src" SET before:stop 1 >/dev/null
    sleep 1.2
    sync_stop
    assert_eq "$t.first_exit" 0 "$STOP_RC"
    big=$(head -c 3000 /dev/zero | tr '\0' 'x')
    for i in $(seq 1 100); do rs_cli "${t}_src" SET "big:$i" "$big" >/dev/null; done
    sync_start "${t}2" "${t}_src" "${t}_tgt" --state "$st"
    if wait_until 15 has_line "${t}2" 'snapshot applied'; then pass "$t.full_sync"; else fail "$t.full_sync" "none"; fi
    assert_match "$t.said_why" 'cannot resume at offset [0-9]+: its backlog no longer holds offset [0-9]+ \(it holds [0-9]+-[0-9]+: raise repl-backlog-size\); full sync' \
        "$(cat "$IT_TMP/${t}2.err")"
    assert_same "$t" "${t}_src" "${t}_tgt" 10
    sync_stop
    assert_eq "$t.second_exit" 0 "$STOP_RC"
    assert_eq "$t.two_full_syncs" 2 "$(info "${t}_src" stats sync_full)"
}

for s in ${STATE_SCENARIOS:-resume in_load foreign corrupt backlog}; do
    "$s"
done

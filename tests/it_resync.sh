#!/usr/bin/env bash
# it_resync.sh -- a later full resync must not empty the target when the
# source restarted or holds far fewer keys, unless --resync-flush (README
# "Live sync", src/resync.h), against real redis-server 7.0 processes.
#
# Each case: a source with 20,000 keys (DEBUG POPULATE) and a marker key
# written after the snapshot (so the applied offset is past 0), live-synced
# into an empty target until digest-equal. Then:
#
#   empty       the source restarts WITHOUT its data (SHUTDOWN NOSAVE, same
#               port and empty dir): rdbsync exits 7 with one line naming
#               the restart (run_id changed, offset went back) and the key
#               counts (0 against 20001); nothing was flushed: the target
#               still has its 20,001 keys, digest unchanged
#   flush       as empty, with --resync-flush: rdbsync warns, empties the
#               target and follows the new source: the target ends
#               digest-equal to it (5 keys written after the restart), and
#               SIGTERM then exits 0
#   backlog     a full resync rdbsync caused by falling behind: the source
#               has repl-backlog-size 16kb; rdbsync is SIGSTOPped, its link
#               killed (CLIENT KILL TYPE replica) and ~300 KB written, then
#               SIGCONT: PSYNC finds its offset gone from the backlog, the
#               source answers +FULLRESYNC (sync_full 2) with the same
#               history, and rdbsync goes through without the flag: the
#               target ends digest-equal to the source, still running. Then
#               the source restarts WITH its data (SAVE first): Redis 7.0
#               continues the link (+CONTINUE, sync_partial_ok 1), and a
#               second overflow's full resync from the restarted process
#               goes through too (it continued our history: same source)
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

SRC_ARGS=(--repl-diskless-sync-delay 0)
SYNC_PID=

if ! have_rdbsync; then
    skip resync "no binary at $RDBSYNC (run make)"
    exit 0
fi

digests_equal() { [ "$(rs_digest "$1")" == "$(rs_digest "$2")" ]; }
has_key() { [ "$(rs_cli "$1" EXISTS "$2")" == 1 ]; }
sync_alive() { kill -0 "$SYNC_PID" 2>/dev/null; }
sync_gone() { ! sync_alive; }
snapshot_applied() { grep -q 'snapshot applied' "$IT_TMP/$1.err"; }

# fill NAME: ~300 KB of writes (2,000 SETs of 150 bytes), pipelined.
fill() {
    local val i
    val=$(head -c 150 /dev/zero | tr '\0' x)
    for i in $(seq 1 2000); do printf 'SET fill:%d %s\n' "$i" "$val"; done |
        redis-cli -h 127.0.0.1 -p "$(rs_port "$1")" >/dev/null
}

# overflow T: rdbsync frozen, its link cut, the backlog overrun, then
# thawed: the resync it asks for must be full.
overflow() {
    kill -STOP "$SYNC_PID"
    rs_cli "$1_src" CLIENT KILL TYPE replica >/dev/null
    fill "$1_src"
    kill -CONT "$SYNC_PID"
}

# The exit status of the background rdbsync once it ended (waited here).
sync_rc() {
    local rc=0
    wait "$SYNC_PID" || rc=$?
    printf '%s\n' "$rc"
}

show_err() {
    note "rdbsync stderr ($1), last lines:"
    tail -n 12 "$IT_TMP/$1.err" | cut -c1-400 | sed 's/^/#   /' >&2
}

# setup NAME [source args...]: servers NAME_src (20,000 keys) and NAME_tgt,
# rdbsync between them (extra rdbsync flags in SYNC_FLAGS), caught up with
# a marker written after the snapshot. 1 when that did not happen.
setup() {
    local t=$1
    shift
    rs_start "${t}_src" "${SRC_ARGS[@]}" "$@" || return 1
    rs_start "${t}_tgt" || return 1
    rs_cli "${t}_src" DEBUG POPULATE 20000 key 16 >/dev/null
    "$RDBSYNC" --source "$(rs_url "${t}_src")" --target "$(rs_url "${t}_tgt")" "${SYNC_FLAGS[@]}" \
        >"$IT_TMP/$t.out" 2>"$IT_TMP/$t.err" &
    SYNC_PID=$!
    on_exit "rdb_kill $SYNC_PID"
    if ! wait_until 30 snapshot_applied "$t"; then
        fail "$t.synced" "no 'snapshot applied' within 30 s"
        show_err "$t"
        return 1
    fi
    rs_cli "${t}_src" SET marker 1 >/dev/null
    if wait_until 30 has_key "${t}_tgt" marker && wait_until 10 digests_equal "${t}_src" "${t}_tgt"; then
        pass "$t.synced"
        return 0
    fi
    fail "$t.synced" "the target did not catch up with the source"
    show_err "$t"
    return 1
}

teardown() {
    rdb_kill "$SYNC_PID"
    rs_stop "$1_src"
    rs_stop "$1_tgt"
}

# refused NAME: rdbsync stopped on its own with exit 7 and the one line,
# and the target is as it was (DIGEST before: $2).
assert_refused() {
    local t=$1 before=$2 why=$3 line
    if wait_until 30 sync_gone; then pass "$t.stopped"
    else fail "$t.stopped" "rdbsync still runs 30 s after the restart"; show_err "$t"; return 0; fi
    assert_eq "$t.exit" 7 "$(sync_rc)"
    line=$(grep 'full resync refused' "$IT_TMP/$t.err" || true)
    assert_eq "$t.one_line" 1 "$(printf '%s\n' "$line" | grep -c 'full resync refused' || true)"
    assert_match "$t.why" "^rdbsync: full resync refused: the source restarted or was replaced \\($why.*; the target was left as it was \\(nothing flushed or written\\)\\. If the source is right, run again with --flush-target .*\\(stopped at source offset [1-9][0-9]*\\)$" "$line"
    if grep -q 'emptying the target' "$IT_TMP/$t.err"; then fail "$t.no_flush_notice" "$(grep 'emptying' "$IT_TMP/$t.err")"
    else pass "$t.no_flush_notice"; fi
    assert_eq "$t.target_keys" 20001 "$(rs_cli "${t}_tgt" DBSIZE)"
    assert_eq "$t.target_unchanged" "$before" "$(rs_digest "${t}_tgt")"
}

# ---- a source restarted without its data ----
t=empty
SYNC_FLAGS=()
if setup "$t"; then
    before=$(rs_digest "${t}_tgt")
    rs_stop "${t}_src"
    rm -f "$(rs_dir "${t}_src")"/*.rdb
    if rs_restart "${t}_src" "${SRC_ARGS[@]}"; then
        assert_refused "$t" "$before" 'run_id changed, replication offset went back from [1-9][0-9]* to 0\) and it holds 0 keys where the target holds 20001'
    else
        fail "$t.restarted" "the source did not come back"
    fi
fi
teardown "$t"

# ---- --resync-flush accepts it ----
t=flush
SYNC_FLAGS=(--resync-flush)
if setup "$t"; then
    rs_stop "${t}_src"
    rm -f "$(rs_dir "${t}_src")"/*.rdb
    if rs_restart "${t}_src" "${SRC_ARGS[@]}"; then
        for i in 1 2 3 4 5; do rs_cli "${t}_src" SET "new:$i" "v$i" >/dev/null; done
        if wait_until 30 digests_equal "${t}_src" "${t}_tgt"; then pass "$t.digest_equal"
        else fail "$t.digest_equal" "target $(rs_cli "${t}_tgt" DBSIZE) keys, source $(rs_cli "${t}_src" DBSIZE)"; show_err "$t"; fi
        assert_eq "$t.target_keys" 5 "$(rs_cli "${t}_tgt" DBSIZE)"
        assert_match "$t.warned" "rdbsync: warning: full resync: the source restarted or was replaced \\(run_id changed.*--resync-flush: emptying the target anyway" "$(cat "$IT_TMP/$t.err")"
        if sync_alive; then pass "$t.still_running"; else fail "$t.still_running" "rdbsync exited"; show_err "$t"; fi
        kill -TERM "$SYNC_PID" 2>/dev/null || true
        if wait_until 10 sync_gone; then assert_eq "$t.term_exit" 0 "$(sync_rc)"
        else fail "$t.term_exit" "rdbsync did not stop on SIGTERM"; fi
    else
        fail "$t.restarted" "the source did not come back"
    fi
fi
teardown "$t"

# ---- a full resync caused by falling behind goes through ----
t=backlog
SYNC_FLAGS=()
BACKLOG=(--repl-backlog-size 16kb)
if setup "$t" "${BACKLOG[@]}"; then
    overflow "$t"
    if wait_until 30 digests_equal "${t}_src" "${t}_tgt"; then pass "$t.digest_equal"
    else fail "$t.digest_equal" "target $(rs_cli "${t}_tgt" DBSIZE) keys, source $(rs_cli "${t}_src" DBSIZE)"; show_err "$t"; fi
    assert_eq "$t.full_resync" 2 "$(info "${t}_src" stats sync_full)"
    assert_eq "$t.target_keys" 22001 "$(rs_cli "${t}_tgt" DBSIZE)"
    # A restart with its data: Redis 7.0 keeps its replication id and offset
    # in the dump and continues the link (+CONTINUE): nothing to refuse. A
    # later full resync from that process is ours again: it goes through.
    assert_eq "$t.saved" OK "$(rs_cli "${t}_src" SAVE)"
    if rs_restart "${t}_src" --dbfilename dump.rdb "${SRC_ARGS[@]}" "${BACKLOG[@]}"; then
        rs_cli "${t}_src" SET after_restart 1 >/dev/null
        if wait_until 30 has_key "${t}_tgt" after_restart; then pass "$t.continued"
        else fail "$t.continued" "a write after the restart did not arrive"; show_err "$t"; fi
        assert_eq "$t.partial_after_restart" 1 "$(info "${t}_src" stats sync_partial_ok)"
        rs_cli "${t}_src" DEL fill:1 >/dev/null
        overflow "$t"
        if wait_until 30 digests_equal "${t}_src" "${t}_tgt"; then pass "$t.after_restart_digest_equal"
        else fail "$t.after_restart_digest_equal" "target $(rs_cli "${t}_tgt" DBSIZE) keys, source $(rs_cli "${t}_src" DBSIZE)"; show_err "$t"; fi
        assert_eq "$t.full_after_restart" 1 "$(info "${t}_src" stats sync_full)"
    else
        fail "$t.restarted" "the source did not come back"
    fi
    if grep -q 'refused' "$IT_TMP/$t.err"; then fail "$t.not_refused" "$(grep refused "$IT_TMP/$t.err")"
    else pass "$t.not_refused"; fi
    if sync_alive; then pass "$t.still_running"; else fail "$t.still_running" "rdbsync exited"; show_err "$t"; fi
fi
teardown "$t"

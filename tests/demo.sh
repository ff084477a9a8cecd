#!/usr/bin/env bash
# tests/demo.sh -- `make demo`: rdbsync's job end to end, on throwaway local
# redis-server processes (free ports, temp dirs, stopped on exit).
#
# Steps, each a function, run in order by main():
#   step_source     start a source server (redis-server 7.0+)
#   step_data       write a small mixed dataset into dbs 0 and 1
#   step_save       SAVE it to an RDB file
#   step_checksum   rdbsync --file dump.rdb --checksum
#   step_import     rdbsync --file dump.rdb --target (a second server), then
#                   DEBUG DIGEST of both servers and our digest of the file
#                   and of the copy, equal
#   step_sync       rdbsync --source --target (a third server) under a small
#                   write load (tests/sync/load.c, compiled here), stopped
#                   with SIGINT once in sync; DEBUG DIGEST and our digest of
#                   source and target, equal
# Later steps go after these: add a function and a line in main().
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

TOOL=$RDBSYNC_REL   # the release build, as a user would run it
DUMP=

say() { printf '\n==> %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# w ARGS...: one write to the source; stops the demo on an error reply.
w() {
    local out
    if ! out=$(rs_cli src -e "$@" 2>&1); then
        echo "demo: '$*' failed: $out" >&2
        exit 1
    fi
}

step_source() {
    local v
    v=$(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')
    say "Starting a throwaway redis-server $v on 127.0.0.1 (temp dir $IT_TMP)"
    case $v in [0-6].*) echo "demo: needs redis-server 7.0 or later" >&2; exit 1 ;; esac
    rs_start src
    echo "source: $(rs_url src)"
}

step_data() {
    say "Writing a small mixed dataset: strings, list, set, zset, hash, stream with a consumer group, expires, 2 dbs, a function"
    w MSET greeting hello counter 42 pi 3.14159
    w SET session:1 token-abc EX 86400
    w RPUSH queue job1 job2 job3 7 8 9
    w SADD tags red green blue
    w SADD ids 1 2 3 1000000
    w ZADD board 100 alice 250 bob 75.5 carol
    w HSET user:1 name Ada lang C born 1815
    w EXPIRE user:1 604800
    w XADD events '1-1' type login user ada
    w XADD events '1-2' type click user ada
    w XADD events '1-3' type logout user ada
    w XGROUP CREATE events workers 0
    w XREADGROUP GROUP workers w1 COUNT 2 STREAMS events '>'
    w FUNCTION LOAD "#!lua name=demo
redis.register_function('hello', function() return 'hi' end)"
    w -n 1 SET other:db yes
    w -n 1 RPUSH other:list a b c
    w -n 1 PEXPIRE other:list 3600000
    echo "Redis says (so the file must show keys: 12, expires: 3, functions: 1):"
    rs_cli src INFO keyspace | grep '^db'
}

step_save() {
    say "Saving it to an RDB file (SAVE)"
    DUMP=$(rs_save src)
    ls -l "$DUMP"
}

step_checksum() {
    say "Verifying the RDB file's CRC-64 and computing its logical digest"
    run "$TOOL" --file "$DUMP" --checksum
}

# digest_of NAME: our digest of a fresh SAVE of server NAME.
digest_of() { "$TOOL" --file "$(rs_save "$1")" --checksum | sed -n 's/^digest: //p'; }

# same WHAT A B: print both, stop the demo when they differ.
same() {
    printf '%-30s %s\n%-30s %s\n' "$1 (source):" "$2" "$1 (target):" "$3"
    if [ -z "$2" ] || [ "$2" != "$3" ]; then
        echo "demo: $1 differs" >&2
        exit 1
    fi
}

step_import() {
    say "Importing the RDB file into a second, empty server (RESTORE ... ABSTTL, pipelined)"
    rs_start copy
    run "$TOOL" --file "$DUMP" --target "$(rs_url copy)"
    say "Comparing: Redis's own DEBUG DIGEST, and rdbsync's digest of the file and of the copy's SAVE"
    same "DEBUG DIGEST" "$(rs_digest src)" "$(rs_digest copy)"
    same "rdbsync digest" "$("$TOOL" --file "$DUMP" --checksum | sed -n 's/^digest: //p')" "$(digest_of copy)"
    rs_stop copy
}

step_sync() {
    local load=$IT_TMP/load pid rc=0 deadline
    say "Live sync: rdbsync attaches to the source as a replica and copies it to a third server, while writes go on"
    cc -std=gnu11 -O2 -o "$load" "$ROOT/tests/sync/load.c" -lhiredis
    rs_start live
    # Redis waits 5 s before a diskless snapshot, for more replicas to join.
    rs_cli src CONFIG SET repl-diskless-sync-delay 0 >/dev/null
    # No consumer-group reads in this load: a consumer's seen-time is the
    # clock of whichever server applies the read, so it never matches.
    echo "A write load starts: every type, 3 dbs, MULTI/EXEC, EVAL, expires... (about 300 operations/s for 4 s)"
    "$load" --port "$(rs_port src)" --seconds 4 --rate 300 --seed 1 --no-groups --no-volatile &
    local lpid=$!
    sleep 1
    printf '$ %s --source %s --target %s &\n' "$TOOL" "$(rs_url src)" "$(rs_url live)"
    "$TOOL" --source "$(rs_url src)" --target "$(rs_url live)" 2>"$IT_TMP/sync.err" &
    pid=$!
    on_exit "kill -9 $pid 2>/dev/null || true"
    wait "$lpid"
    deadline=$((SECONDS + 15))
    until [ "$(rs_digest src)" == "$(rs_digest live)" ]; do
        if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pid" 2>/dev/null; then
            cat "$IT_TMP/sync.err" >&2
            echo "demo: the target did not catch up" >&2
            exit 1
        fi
        sleep 0.2
    done
    echo "Writes stopped; the target caught up. rdbsync said so far:"
    sed 's/^/    /' "$IT_TMP/sync.err"
    say "Stopping rdbsync with SIGINT (it applies what it read, prints the offset, exits 0)"
    : >"$IT_TMP/sync.err.mark"
    kill -INT "$pid"
    deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            kill -9 "$pid" 2>/dev/null || true
            echo "demo: rdbsync did not exit within 10 s of SIGINT" >&2
            exit 1
        fi
        sleep 0.1
    done
    wait "$pid" || rc=$?
    tail -n 1 "$IT_TMP/sync.err" | sed 's/^/    /'
    echo "    (exit status $rc; the source is at offset $(rs_cli src INFO replication | tr -d '\r' | sed -n 's/^master_repl_offset://p'))"
    if [ "$rc" -ne 0 ]; then echo "demo: rdbsync exited $rc" >&2; exit 1; fi
    say "Comparing source and target after the live sync"
    rs_cli src INFO keyspace | grep '^db'
    same "DEBUG DIGEST" "$(rs_digest src)" "$(rs_digest live)"
    same "rdbsync digest" "$(digest_of src)" "$(digest_of live)"
    rs_stop live
}

main() {
    if [ ! -x "$TOOL" ]; then
        echo "demo: no $TOOL; run make first" >&2
        exit 1
    fi
    step_source
    step_data
    step_save
    step_checksum
    step_import
    step_sync
    say "Done; stopping the servers"
}

main "$@"

#!/usr/bin/env bash
# tests/demo.sh -- `make demo`: rdbsync's job end to end, on throwaway local
# redis-server processes (free ports, temp dirs, stopped on exit).
#
# Steps, each a function, run in order by main():
#   step_source     start a source server (redis-server 7.0+)
#   step_data       write a small mixed dataset into dbs 0 and 1
#   step_save       SAVE it to an RDB file
#   step_checksum   rdbsync --file dump.rdb --checksum
# Later steps (import into a second server, live sync) go after these: add
# a function and a line in main().
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

main() {
    if [ ! -x "$TOOL" ]; then
        echo "demo: no $TOOL; run make first" >&2
        exit 1
    fi
    step_source
    step_data
    step_save
    step_checksum
    say "Done; stopping the servers"
}

main "$@"

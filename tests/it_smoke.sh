#!/usr/bin/env bash
# it_smoke.sh -- the harness itself works: a throwaway redis-server starts on
# a free port, answers, digests, stops; and the tool answers --version/--help.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

rs_start a
port=$(rs_port a)
assert_match smoke.port '^[0-9]+$' "$port"
assert_eq smoke.port_var "$port" "${RS_PORT_a:-}"
assert_eq smoke.set OK "$(rs_cli a SET smoke:key 'hello world')"
assert_eq smoke.get 'hello world' "$(rs_cli a GET smoke:key)"
assert_match smoke.digest '^[0-9a-f]{40}$' "$(rs_digest a)"
assert_eq smoke.url "redis://127.0.0.1:$port/1" "$(rs_url a 1)"

pid=$(rs_pid a)
rs_stop a
if kill -0 "$pid" 2>/dev/null; then
    fail smoke.stop "redis-server $pid still alive after rs_stop"
else
    pass smoke.stop
fi

if ! have_rdbsync; then
    skip smoke.version "no binary at $RDBSYNC (run make)"
    skip smoke.help "no binary at $RDBSYNC (run make)"
    exit 0
fi
out=$("$RDBSYNC" --version 2>&1) || true
assert_match smoke.version '[0-9]+\.[0-9]+' "$out"
out=$("$RDBSYNC" --help 2>&1) || true
if [[ $out == *--file* && $out == *--checksum* ]]; then
    pass smoke.help
else
    fail smoke.help "--help does not mention --file and --checksum: $(it_show "$out")"
fi

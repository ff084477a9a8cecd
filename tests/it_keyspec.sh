#!/usr/bin/env bash
# it_keyspec.sh -- key positions from real command tables: the sanitized
# unit binary test_keyspec against redis-server 7.0 (key specs) and the
# 6.2 build in $SHARED/servers (first/last/step, COMMAND GETKEYS for
# movable keys). The assertions live in tests/test_keyspec.c.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bin=${TEST_KEYSPEC_BIN:-$ROOT/build/san/tests/test_keyspec}
if [ ! -x "$bin" ]; then
    skip keyspec.it "no $bin (run make)"
    exit 0
fi

# start62 NAME: the 6.2 build as server NAME (rs_start_v: a free port,
# stopped by PID at exit); its port in PORT62. 1 when it does not start.
start62() {
    rs_start_v "$1" redis-6.2.16 || return 1
    PORT62=$(rs_port "$1")
}

rs_start r70
env62=()
srv62=${SHARED:+$SHARED/servers/redis-6.2.16/redis-server}
if [ -z "$srv62" ] || [ ! -x "$srv62" ]; then
    skip keyspec.it.6.2 "no redis 6.2 build in \$SHARED/servers"
else
    if start62 r62; then
        env62=(RDBSYNC_TEST_PORT_62="$PORT62")
    else
        fail keyspec.it.6.2_start "redis 6.2 did not answer (3 ports tried): $(it_show "$(tail -n 3 "$IT_TMP/r62/r62.log")")"
    fi
fi

out=$(env "${env62[@]}" RDBSYNC_TEST_PORT="$(rs_port r70)" "$bin" 2>"$IT_TMP/test_keyspec.err") && rc=0 || rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ] && { [ "$rc" -ne 1 ] || ! grep -q '^FAIL ' <<<"$out"; }; then
    fail keyspec.it.exit "test_keyspec exited $rc: $(it_show "$(tail -n 5 "$IT_TMP/test_keyspec.err")")"
fi
if ! grep -q '^PASS keyspec.7.0.load$' <<<"$out"; then
    fail keyspec.it.ran "the server tests did not run"
fi

#!/usr/bin/env bash
# it_xslot.sh -- the cross-slot planner (src/xslot.c) against real servers:
# the sanitized unit binary test_xslot with two redis-server 7.0, one the
# reference running commands as they are, the other written through the
# planner; and two 6.2 servers from $SHARED/servers when there (no key
# specs: every key compared and written back). The assertions live in
# tests/test_xslot.c.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bin=${TEST_XSLOT_BIN:-$ROOT/build/san/tests/test_xslot}
if [ ! -x "$bin" ]; then
    skip xslot.it "no $bin (run make)"
    exit 0
fi
rs_start ref
rs_start dut
# start62 NAME: the 6.2 build as server NAME (rs_start_v: a free port,
# stopped by PID at exit); its port in PORT62. 1 when it does not start.
start62() {
    rs_start_v "$1" redis-6.2.16 || return 1
    PORT62=$(rs_port "$1")
}
# Two 6.2 servers (no key specs).
env62=()
srv62=${SHARED:+$SHARED/servers/redis-6.2.16/redis-server}
if [ -n "$srv62" ] && [ -x "$srv62" ]; then
    for n in ref62 dut62; do
        if start62 "$n"; then
            env62+=("RDBSYNC_TEST_$([ $n = ref62 ] && echo PORT || echo PORT2)_62=$PORT62")
        else
            fail "xslot.it.${n}_start" "redis 6.2 did not answer (3 ports tried): $(it_show "$(tail -n 3 "$IT_TMP/$n/$n.log")")"
        fi
    done
fi
out=$(env "${env62[@]}" RDBSYNC_TEST_PORT="$(rs_port ref)" RDBSYNC_TEST_PORT2="$(rs_port dut)" "$bin" \
      2>"$IT_TMP/test_xslot.err") && rc=0 || rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ] && { [ "$rc" -ne 1 ] || ! grep -q '^FAIL ' <<<"$out"; }; then
    fail xslot.it.exit "test_xslot exited $rc: $(it_show "$(tail -n 5 "$IT_TMP/test_xslot.err")")"
fi
if ! grep -q '^PASS xslot.real.7.0.digest$' <<<"$out"; then
    fail xslot.it.ran "the exactness test did not pass"
fi

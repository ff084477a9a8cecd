#!/usr/bin/env bash
# it_xslot.sh -- the cross-slot planner (src/xslot.c) against real servers:
# the sanitized unit binary test_xslot with two redis-server 7.0, one the
# reference running commands as they are, the other written through the
# planner. The assertions live in tests/test_xslot.c.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bin=${TEST_XSLOT_BIN:-$ROOT/build/san/tests/test_xslot}
if [ ! -x "$bin" ]; then
    skip xslot.it "no $bin (run make)"
    exit 0
fi
rs_start ref
rs_start dut
out=$(RDBSYNC_TEST_PORT="$(rs_port ref)" RDBSYNC_TEST_PORT2="$(rs_port dut)" "$bin" 2>"$IT_TMP/test_xslot.err") && rc=0 || rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ] && { [ "$rc" -ne 1 ] || ! grep -q '^FAIL ' <<<"$out"; }; then
    fail xslot.it.exit "test_xslot exited $rc: $(it_show "$(tail -n 5 "$IT_TMP/test_xslot.err")")"
fi
if ! grep -q '^PASS xslot.real.digest$' <<<"$out"; then
    fail xslot.it.ran "the exactness test did not pass"
fi

#!/usr/bin/env bash
# run.sh BIN SECONDS -- run the libFuzzer target BIN for a bounded time.
#
# The seed corpus (tests/fuzz/corpus) and the crafted bad inputs
# (fixtures/corrupt) are copied to a temporary working corpus, so a run never
# adds files to the repo; tests/fuzz/rdb.dict holds format tokens. Prints
# one line:
#   PASS fuzz_decode (N runs)
#   FAIL fuzz_decode: <sanitizer summary> (reproducer: PATH)
# and on failure the first 256 bytes of the reproducer as hex plus the tail of
# the fuzzer's log, so that a CI log alone shows what broke. Reproducers are
# kept under $FUZZ_ARTIFACTS (default build/fuzz-artifacts); replay one with
#   BIN PATH
# Exit status: 0 on PASS, 1 on FAIL, 2 on bad usage.
set -uo pipefail

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 BIN SECONDS" >&2
    exit 2
fi
bin=$1
secs=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
name=fuzz_decode
if [ ! -x "$bin" ]; then
    echo "FAIL $name: no fuzzer binary at $bin"
    exit 1
fi
artifacts=${FUZZ_ARTIFACTS:-$root/build/fuzz-artifacts}
mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/out"
cp "$root"/tests/fuzz/corpus/* "$work/corpus/"
cp "$root"/fixtures/corrupt/*.rdb "$work/corpus/" 2>/dev/null || true

dict=()
if [ -f "$root/tests/fuzz/rdb.dict" ]; then dict=(-dict="$root/tests/fuzz/rdb.dict"); fi
rc=0
"$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$work/out/" "${dict[@]}" \
    "$work/corpus" "$root/tests/fuzz/corpus" >"$work/log" 2>&1 || rc=$?

crash=$(find "$work/out" -type f | head -n 1)
runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/log" | tail -n 1)
if [ -z "$runs" ]; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$work/log" | tail -n 1)
fi

if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
    echo "PASS $name (${runs:-?} runs)"
    exit 0
fi

why=$(grep -m 1 -E '^SUMMARY: |ERROR: libFuzzer|^==[0-9]+==ERROR|fuzz_decode: ' "$work/log" || true)
[ -n "$why" ] || why="fuzzer exited $rc"
kept=
if [ -n "$crash" ]; then
    kept="$artifacts/$(basename "$crash")"
    cp "$crash" "$kept"
fi
echo "FAIL $name: ${why//$'\n'/ } (reproducer: ${kept:-none})"
if [ -n "$kept" ]; then
    echo "---- reproducer, first 256 of $(wc -c <"$kept") bytes ----"
    head -c 256 "$kept" | od -A d -t x1 -v
fi
echo "---- fuzzer log tail ----"
tail -n 60 "$work/log"
exit 1

#!/usr/bin/env bash
# tests/run.sh -- run every test and print one closing count.
#
#   tests/run.sh [unit-test binaries...]     (make test passes build/san/tests/test_*)
#
# Runs the given unit-test binaries, then every tests/it_*.sh (sorted), each
# with its stdout shown and counted: lines "PASS <name>", "FAIL <name>: <why>",
# "SKIP <name>: <why>" (tests/test.h and tests/lib.sh print them). A binary or
# script that exits non-zero (or crashes, or times out) without printing a
# FAIL counts as one more failure, named after it; so does one that prints no
# result at all. Ends with exactly one line:
#
#   N passed, N failed, N skipped
#
# and exits 1 when anything failed.
#
# Environment:
#   TESTS=ERE        run only binaries/scripts whose base name matches the
#                    extended regex, e.g. `TESTS=smoke make test`,
#                    `TESTS='crc|decode' make test`
#   TEST_TIMEOUT=S   per binary/script limit in seconds (default 600)
#   TEST_JOBS=N      integration scripts run N at a time (default 2): most of
#                    their time is spent waiting on servers, and each picks
#                    its own free ports and temp dirs. A script's output is
#                    shown whole when it ends, with its time. 1: one after
#                    another, output shown as it comes.
#   KEEP_TMP=1       integration scripts keep their temp dirs
# Passed on to every test: ROOT, RDBSYNC (sanitized build/san/rdbsync),
# RDBSYNC_REL (./rdbsync), SHARED (../shared or empty), ASAN_OPTIONS,
# UBSAN_OPTIONS.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RDBSYNC=$ROOT/build/san/rdbsync
RDBSYNC_REL=$ROOT/rdbsync
if [ -d "$ROOT/../shared" ]; then SHARED=$(cd "$ROOT/../shared" && pwd); else SHARED=; fi
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ROOT RDBSYNC RDBSYNC_REL SHARED ASAN_OPTIONS UBSAN_OPTIONS

TESTS=${TESTS:-}
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
TEST_JOBS=${TEST_JOBS:-2}
passed=0 failed=0 skipped=0
failures=()
out=$(mktemp "${TMPDIR:-/tmp}/rdbsync-run.XXXXXX")
pool=$(mktemp -d "${TMPDIR:-/tmp}/rdbsync-pool.XXXXXX")
trap 'rm -f "$out"; rm -rf "$pool"' EXIT

# Why a run ended badly, from its exit status.
describe_status() {
    local rc=$1
    if [ "$rc" -eq 124 ]; then echo "timed out after ${TEST_TIMEOUT}s"
    elif [ "$rc" -gt 128 ]; then echo "killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null || echo '?'))"
    else echo "exited with status $rc"; fi
}

count() { grep -c "^$1 " "$2" || true; }

# tally NAME RC FILE: count a finished run's PASS/FAIL/SKIP lines; a run
# that failed without saying so, or said nothing, is one more failure.
tally() {
    local name=$1 rc=$2 file=$3 p f s
    p=$(count PASS "$file") f=$(count FAIL "$file") s=$(count SKIP "$file")
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    mapfile -t -O "${#failures[@]}" failures < <(sed -n 's/^FAIL \([^:]*\):.*/\1/p' "$file")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: $(describe_status "$rc") without printing a FAIL line"
        failed=$((failed + 1))
        failures+=("$name")
    elif [ "$rc" -eq 0 ] && [ $((p + f + s)) -eq 0 ]; then
        echo "FAIL $name: printed no PASS/FAIL/SKIP line"
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

# run_one NAME CMD...: run, show as it comes, count.
run_one() {
    local name=$1 rc
    shift
    echo "== $name"
    (cd "$ROOT" && timeout -k 10 "$TEST_TIMEOUT" "$@") </dev/null | tee "$out"
    rc=${PIPESTATUS[0]}
    tally "$name" "$rc" "$out"
}

# The pool: pool_start NAME CMD... runs in the background into
# $pool/NAME.out (stdout and stderr) and $pool/NAME.rc; pool_reap waits for
# one to end, shows it whole and counts it.
declare -A pool_names=() pool_t0=()
pool_start() {
    local name=$1
    shift
    (cd "$ROOT" && timeout -k 10 "$TEST_TIMEOUT" "$@" </dev/null >"$pool/$name.out" 2>&1
     echo $? >"$pool/$name.rc") &
    pool_names[$!]=$name
    pool_t0[$!]=$SECONDS
}
pool_reap() {
    local pid name rc
    wait -n -p pid "${!pool_names[@]}" || true
    [ -n "${pid:-}" ] || return 1
    name=${pool_names[$pid]}
    rc=$(cat "$pool/$name.rc" 2>/dev/null || echo 1)
    echo "== $name ($((SECONDS - pool_t0[$pid])) s)"
    cat "$pool/$name.out"
    tally "$name" "$rc" "$pool/$name.out"
    unset "pool_names[$pid]" "pool_t0[$pid]"
}

selected() { [ -z "$TESTS" ] || [[ $1 =~ $TESTS ]]; }

for bin in "$@"; do
    name=$(basename "$bin")
    selected "$name" || continue
    case $bin in /*) ;; *) bin=$ROOT/$bin ;; esac
    run_one "$name" "$bin"
done

shopt -s nullglob
scripts=()
for script in "$ROOT"/tests/it_*.sh; do
    selected "$(basename "$script")" && scripts+=("$script")
done
if [ "$TEST_JOBS" -le 1 ]; then
    for script in "${scripts[@]}"; do run_one "$(basename "$script")" bash "$script"; done
else
    # The longest scripts first, so that the two lanes end together.
    mapfile -t scripts < <(for s in "${scripts[@]}"; do
        case $(basename "$s") in it_matrix.sh | it_cluster_* | it_psync.sh | it_exactly.sh) echo "0 $s" ;; *) echo "1 $s" ;; esac
    done | sort -s -k1,1n | cut -d' ' -f2-)
    for script in "${scripts[@]}"; do
        while [ "${#pool_names[@]}" -ge "$TEST_JOBS" ]; do pool_reap || break; done
        pool_start "$(basename "$script")" bash "$script"
    done
    while [ "${#pool_names[@]}" -gt 0 ]; do pool_reap || break; done
fi

# The failures again, one per line, so they are easy to find in a long log.
for f in "${failures[@]:0:50}"; do echo "failed: $f"; done
if [ ${#failures[@]} -gt 50 ]; then echo "failed: ... $((${#failures[@]} - 50)) more"; fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

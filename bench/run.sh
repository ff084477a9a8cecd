#!/usr/bin/env bash
# bench/run.sh -- rdbsync benchmarks, each against a reference measured in
# the same run on the same input.
#
#   bench/run.sh [checksum] [import]      (default: every section)
#
#   checksum  `rdbsync --file D --checksum` vs `redis-check-rdb D`
#             (+ `rdbsync --file D --dump > /dev/null` when available)
#   import    `rdbsync --file D --target URL --flush-target -q` vs
#             `redis-cli --pipe < restore.resp` (the same keys as pre-generated
#             RESTORE commands: the target's own ingest limit), into an empty
#             redis-server; skipped until rdbsync has --target
#
# D is a generated dump of BENCH_KEYS (default 1,000,000) mixed keys, built
# once by a throwaway redis-server 7.0 and cached in build/bench/ under a name
# that carries the generator's hash, so re-runs start at once.
#
# The machine is shared and noisy: every figure is the median of BENCH_RUNS
# (default 5) runs, the two tools alternating. Targets are reported as
# PASS/MISS; a miss does not fail the run (exit 0), a broken tool does (1).
# BENCH_RDBSYNC=path benches another build (default ./rdbsync).
set -euo pipefail

cd "$(dirname "$0")/.."
# The release build, unless told otherwise (tests/lib.sh would pick the
# sanitized one).
RDBSYNC=${BENCH_RDBSYNC:-./rdbsync}
RS_START_TIMEOUT=${RS_START_TIMEOUT:-120} # loading a big dump takes seconds
. tests/lib.sh # rs_start/rs_stop, IT_TMP, cleanup of servers on exit
. bench/lib.sh

RUNS=${BENCH_RUNS:-5}
KEYS=${BENCH_KEYS:-1000000}
OUT=build/bench
DATA_VERSION=v1 # bump when the dataset shape changes outside gen.c
BENCH_TMP=$IT_TMP

usage() {
    echo "usage: bench/run.sh [checksum] [import]" >&2
    exit 1
}

# ---- Tools ---------------------------------------------------------------

# build_tool NAME [LIBS...]: compile bench/NAME.c into build/bench/NAME when
# the source is newer than the binary.
build_tool() {
    local name=$1
    shift
    if [[ ! -x $OUT/$name || bench/$name.c -nt $OUT/$name ]]; then
        ${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -Werror -o "$OUT/$name" "bench/$name.c" "$@" ||
            bench_die "cannot build $OUT/$name"
    fi
}

# measure LOG CMD...: run CMD under maxrss, appending its key=value line to LOG.
measure() {
    local log=$1
    shift
    "$OUT/maxrss" -o "$log" -- "$@"
}

rdbsync_has() {
    [[ -x $RDBSYNC ]] && "$RDBSYNC" --help 2>&1 | grep -q -- "$1"
}

# ---- Dataset ---------------------------------------------------------------

# dataset: sets DATA (the dump), DATA_MB, DATA_KEYS, DATA_EXPIRES, building
# and caching it when needed.
dataset() {
    local label=$KEYS hash
    [[ $KEYS == 1000000 ]] && label=1m
    hash=$(sha256sum <bench/gen.c | cut -c1-8)
    DATA="$OUT/mixed$label-$DATA_VERSION-$hash.rdb"
    if [[ ! -s $DATA || ! -s $DATA.meta ]]; then
        dataset_build
    fi
    # shellcheck disable=SC1090
    . "$DATA.meta"
    DATA_MB=$(awk -v b="$(stat -c %s "$DATA")" 'BEGIN { printf "%.1f", b / 1048576 }')
    echo "dataset: $DATA ($DATA_MB MB, $DATA_KEYS keys, $DATA_EXPIRES with expires)"
}

dataset_build() {
    local t0 pipelog="$BENCH_TMP/gen-pipe.log" info
    echo "dataset: generating $KEYS keys (once; cached in $OUT/)..."
    t0=$(date +%s)
    build_tool gen
    rs_start gen || bench_die "cannot start redis-server"
    redis-server --version | grep -q 'v=7\.0\.' ||
        echo "dataset: note: $(redis-server --version | cut -d' ' -f3) is not 7.0" >&2
    "$OUT/gen" "$KEYS" 1 | redis-cli -p "$(rs_port gen)" --pipe >"$pipelog" 2>&1 ||
        bench_die "redis-cli --pipe failed: $(tail -n 3 "$pipelog")"
    grep -q '^errors: 0,' "$pipelog" || bench_die "dataset load had errors: $(tail -n 1 "$pipelog")"
    info=$(rs_cli gen info keyspace | tr -d '\r' | grep '^db0:')
    cp "$(rs_save gen)" "$DATA.tmp" || bench_die "SAVE failed"
    mv "$DATA.tmp" "$DATA"
    {
        echo "DATA_KEYS=$(sed -n 's/.*keys=\([0-9]*\).*/\1/p' <<<"$info")"
        echo "DATA_EXPIRES=$(sed -n 's/.*expires=\([0-9]*\).*/\1/p' <<<"$info")"
    } >"$DATA.meta"
    rs_stop gen
    echo "dataset: built in $(($(date +%s) - t0)) s"
}

# ---- Reporting -------------------------------------------------------------

print_header() {
    printf '%-26s %9s %9s %12s %9s %11s %s\n' tool "wall s" "cpu s" "peak RSS MB" "MB/s" "keys/s" "$1"
}

# print_row NAME LOG [EXTRA]: medians of wall and cpu, max of peak RSS. Sets
# ROW_WALL, ROW_CPU, ROW_RSS_MB for the caller's ratios.
print_row() {
    local name=$1 log=$2 extra=${3:-}
    ROW_WALL=$(bench_field "$log" wall | bench_median)
    ROW_CPU=$(bench_field "$log" cpu | bench_median)
    ROW_RSS_MB=$(bench_field "$log" maxrss_kb | bench_max | awk '{ printf "%.1f", $1 / 1024 }')
    awk -v n="$name" -v w="$ROW_WALL" -v c="$ROW_CPU" -v r="$ROW_RSS_MB" -v mb="$DATA_MB" \
        -v k="$DATA_KEYS" -v x="$extra" 'BEGIN {
        printf "%-26s %9.3f %9.3f %12.1f %9.1f %11.0f %s\n", n, w, c, r, mb / w, k / w, x }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

# ---- Section: checksum -----------------------------------------------------

# checksum_check: one untimed rdbsync --checksum run whose output must agree
# with the dataset (else the timing would measure a broken tool).
checksum_check() {
    local out="$BENCH_TMP/checksum.out" rc=0
    "$RDBSYNC" --file "$DATA" --checksum >"$out" 2>&1 || rc=$?
    if ((rc != 0)); then
        echo "rdbsync --checksum: exit $rc: $(tail -n 1 "$out")"
        return 1
    fi
    local keys crc expires
    keys=$(sed -n 's/^keys: //p' "$out")
    crc=$(sed -n 's/^crc64: //p' "$out")
    expires=$(sed -n 's/^expires: //p' "$out")
    if [[ $keys != "$DATA_KEYS" || $crc != ok || $expires != "$DATA_EXPIRES" ]]; then
        echo "rdbsync --checksum: WRONG output: keys=$keys (want $DATA_KEYS)" \
            "crc64=$crc (want ok) expires=$expires (want $DATA_EXPIRES)"
        return 1
    fi
}

run_ours() {
    measure "$1" "$RDBSYNC" --file "$DATA" --checksum >/dev/null ||
        bench_die "rdbsync --checksum failed during timing"
}

section_checksum() {
    local ref="$BENCH_TMP/ref.log" ours="$BENCH_TMP/ours.log" dump="$BENCH_TMP/dump.log"
    local have=1 r ref_wall ref_cpu
    echo
    echo "== checksum: $RUNS runs, medians (peak RSS: max over runs)"
    cat "$DATA" >/dev/null # page cache: both tools read from memory
    if ! rdbsync_has --checksum; then
        echo "rdbsync --checksum: not available yet"
        have=0
    elif ! checksum_check; then
        have=0
    fi
    redis-check-rdb "$DATA" >/dev/null 2>&1 || bench_die "redis-check-rdb rejects $DATA"
    for ((r = 1; r <= RUNS; r++)); do
        # Alternate the order so drift on the shared machine hits both.
        if ((r % 2 == 0 && have)); then run_ours "$ours"; fi
        measure "$ref" redis-check-rdb "$DATA" >/dev/null 2>&1 || bench_die "redis-check-rdb failed"
        if ((r % 2 == 1 && have)); then run_ours "$ours"; fi
    done
    print_header ""
    print_row "redis-check-rdb" "$ref"
    ref_wall=$ROW_WALL ref_cpu=$ROW_CPU
    ((have)) || return 0
    print_row "rdbsync --checksum" "$ours"
    local q
    q=$(ratio "$ROW_WALL" "$ref_wall")
    echo "ratio rdbsync/redis-check-rdb (wall): $q (target <= 0.50) $(bench_verdict "$q" 0.5)"
    echo "  same, median of per-run pairs: $(bench_paired_ratio "$ours" "$ref" wall);" \
        "cpu: $(ratio "$ROW_CPU" "$ref_cpu") (less sensitive to a busy machine)"
    echo "peak RSS rdbsync --checksum: $ROW_RSS_MB MB (target < 32 MB) $(bench_verdict "$ROW_RSS_MB" 31.99)"
    if rdbsync_has --dump; then
        local dr=$(((RUNS + 1) / 2))
        for ((r = 1; r <= dr; r++)); do
            measure "$dump" "$RDBSYNC" --file "$DATA" --dump >/dev/null ||
                { echo "rdbsync --dump: failed"; return 0; }
        done
        print_row "rdbsync --dump >/dev/null" "$dump" "($dr runs; decode + JSON)"
    fi
}

# ---- Section: import -------------------------------------------------------

# restore_file: sets RESTORE_FILE, the RESP file of RESTORE commands for the
# dataset, made by mkrestore from a server that loaded the dump (cached).
restore_file() {
    RESTORE_FILE="${DATA%.rdb}.restore.resp"
    [[ -s $RESTORE_FILE ]] && return 0
    echo "import: generating the reference RESTORE file (once)..."
    build_tool mkrestore -lhiredis
    rs_start_with_rdb src "$DATA" || bench_die "cannot start the source server"
    [[ $(rs_cli src dbsize) == "$DATA_KEYS" ]] || bench_die "source server did not load $DATA"
    "$OUT/mkrestore" 127.0.0.1 "$(rs_port src)" >"$RESTORE_FILE.tmp" 2>"$BENCH_TMP/mkrestore.err" ||
        bench_die "mkrestore failed: $(cat "$BENCH_TMP/mkrestore.err")"
    mv "$RESTORE_FILE.tmp" "$RESTORE_FILE"
    rs_stop src
}

# import_run LOG CPULOG CMD...: empty the target (untimed), time CMD, record
# the target server's CPU over the run, and check every key arrived.
import_run() {
    local log=$1 cpulog=$2 c0 c1 n
    shift 2
    [[ $(rs_cli target flushall) == OK ]] || bench_die "FLUSHALL failed"
    c0=$(bench_proc_cpu "$(rs_pid target)")
    measure "$log" "$@" 2>"$BENCH_TMP/import.err" ||
        bench_die "$1 exited $?: $(tail -n 3 "$BENCH_TMP/import.err")"
    c1=$(bench_proc_cpu "$(rs_pid target)")
    awk -v a="$c0" -v b="$c1" 'BEGIN { printf "server_cpu=%.2f\n", b - a }' >>"$cpulog"
    n=$(rs_cli target dbsize)
    [[ $n == "$DATA_KEYS" ]] || bench_die "$1: target has $n keys, want $DATA_KEYS"
}

section_import() {
    echo
    if ! rdbsync_has --target; then
        echo "import: skipped (not built yet)"
        return 0
    fi
    restore_file
    local ref="$BENCH_TMP/iref.log" ours="$BENCH_TMP/iours.log" r
    local refcpu="$BENCH_TMP/iref.cpu" ourcpu="$BENCH_TMP/iours.cpu" pipeout="$BENCH_TMP/pipe.out"
    echo "== import: $RUNS runs into an empty redis-server, medians (peak RSS: max over runs)"
    cat "$DATA" "$RESTORE_FILE" >/dev/null
    rs_start target || bench_die "cannot start the target server"
    local url
    url=$(rs_url target)
    for ((r = 1; r <= RUNS; r++)); do
        if ((r % 2 == 0)); then
            import_run "$ours" "$ourcpu" "$RDBSYNC" --file "$DATA" --target "$url" --flush-target -q
        fi
        # shellcheck disable=SC2016 # $1.. are the inner shell's arguments
        import_run "$ref" "$refcpu" sh -c 'exec redis-cli -p "$1" --pipe <"$2" >"$3" 2>&1' \
            sh "$(rs_port target)" "$RESTORE_FILE" "$pipeout"
        grep -q '^errors: 0,' "$pipeout" || bench_die "redis-cli --pipe: $(tail -n 1 "$pipeout")"
        if ((r % 2 == 1)); then
            import_run "$ours" "$ourcpu" "$RDBSYNC" --file "$DATA" --target "$url" --flush-target -q
        fi
    done
    rs_stop target

    local ref_wall ref_srv our_srv q
    ref_srv=$(bench_field "$refcpu" server_cpu | bench_median)
    our_srv=$(bench_field "$ourcpu" server_cpu | bench_median)
    print_header "server cpu s"
    print_row "redis-cli --pipe RESTORE" "$ref" "$(printf '%12.2f' "$ref_srv")"
    ref_wall=$ROW_WALL
    print_row "rdbsync --target" "$ours" "$(printf '%12.2f' "$our_srv")"
    q=$(ratio "$ROW_WALL" "$ref_wall")
    echo "ratio rdbsync/redis-cli --pipe (wall): $q (target <= 1.10) $(bench_verdict "$q" 1.1)"
    echo "  same, median of per-run pairs: $(bench_paired_ratio "$ours" "$ref" wall)"
    q=$(ratio "$ROW_CPU" "$our_srv")
    echo "rdbsync cpu / target server cpu: $q (target: well below; PASS under 0.50) $(bench_verdict "$q" 0.5)"
    echo "peak RSS rdbsync --target: $ROW_RSS_MB MB (target < 64 MB) $(bench_verdict "$ROW_RSS_MB" 63.99)"
}

# ---- Main ------------------------------------------------------------------

main() {
    local sections=("$@") s
    ((${#sections[@]})) || sections=(checksum import)
    for s in "${sections[@]}"; do
        [[ $s == checksum || $s == import ]] || usage
    done
    [[ $RUNS =~ ^[1-9][0-9]*$ ]] || bench_die "BENCH_RUNS must be a positive integer"
    command -v redis-server >/dev/null || bench_die "redis-server not found"
    mkdir -p "$OUT"
    build_tool maxrss
    echo "bench: $(redis-server --version | cut -d' ' -f3), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    dataset
    for s in "${sections[@]}"; do "section_$s"; done
}

main "$@"

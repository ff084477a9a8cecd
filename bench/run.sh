#!/usr/bin/env bash
# bench/run.sh -- rdbsync benchmarks, each against a reference measured in
# the same run on the same input.
#
#   bench/run.sh [checksum] [import] [sync] [lag] [scan] [tls] [verify] [burst] [sync5m] [cluster] [exactly] [scan5m]
#                                          (default: every section but sync5m, csource and scan5m: BENCH_BIG=1 adds them)
#
#   checksum  `rdbsync --file D --checksum` vs `redis-check-rdb D`
#             (+ `rdbsync --file D --dump > /dev/null`; the same with
#             RDBSYNC_SIMD=avx2 and each value BENCH_SIMD lists; the SHA-256
#             kernels' ns a block, bench/sha256k.c)
#   import    `rdbsync --file D --target URL --flush-target -q` vs
#             `redis-cli --pipe < restore.resp` (the same keys as pre-generated
#             RESTORE commands: the target's own ingest limit), into an empty
#             redis-server
#   sync      full sync of D loaded in a redis-server source (diskless, delay
#             0): `rdbsync --source S --target T --once -q` until it exits vs a
#             native replica (REPLICAOF, until link up and sync done; replwait.c)
#   lag       live replication lag under redis-benchmark SET load: a probe
#             (lagprobe.c) writes on the source and times until the key shows
#             on rdbsync's target and on a native replica of the same source
#   scan      `--mode scan --once` vs `--mode replica --once` vs a plain
#             SCAN + DUMP/RESTORE loop (rump.c), with the source's PING round
#             trip during each copy (pingprobe.c) against an idle baseline
#   tls       import and full sync over TLS (rediss://, --cacert) vs plain TCP
#   verify    `--verify` of two equal servers vs `--source --checksum` of one
#   sync5m    the sync section at 5M keys (4.5M DEBUG POPULATE strings + 500k mixed),
#             with a row for --target-load replica (BENCH_REPLICA_ARGS: the native
#             replica's redis-server arguments, e.g. --repl-diskless-load on-empty-db)
#   scan5m    scan mode on the same 5M keys: --rate windows (the source's PING
#             p99 added against an idle window beside each), then whole
#             copies against rump.c with the PING p50/p99 during each
#   burst     redis-benchmark -P 16 at full speed on a source with rdbsync and a
#             native replica attached: when each sees the last write
#   cluster   BENCH_CLUSTER_KEYS (default 200,000) mixed keys imported into a
#             3-master cluster on loopback (`rdbsync --file D --target NODE
#             --flush-target -q`) vs `redis-cli --cluster import --cluster-copy`
#             of the same keys from a loaded server (one run: it is the slow
#             anchor) and vs rdbsync into one standalone server
#   csource   a full sync of a 3-master cluster (BENCH_CSOURCE_KEYS, default 1M keys)
#             into one server vs three native replicas, one of each master, by
#             RESTORE and by --target-load replica (the shards' snapshots as one RDB)
#   exactly   --exactly-once against the same without: the lag of two live syncs
#             of one source side by side under redis-benchmark SET load (p99
#             under 10 ms), and the full sync time (within 10%)
#
# D is a generated dump of BENCH_KEYS (default 1,000,000) mixed keys, built
# once by a throwaway redis-server 7.0 and cached in build/bench/ under a name
# that carries the generator's hash, so re-runs start at once.
#
# The machine is shared and noisy: every figure is the median of BENCH_RUNS
# (default 5) runs, the tools alternating; the heavy sections (sync, scan,
# tls: a 1M-key copy per run and tool) do BENCH_HEAVY_RUNS (default 3, at
# most BENCH_RUNS). Targets are reported as PASS/MISS; a miss does not fail
# the run (exit 0). A broken tool (failure, wrong key count, hang: killed
# after BENCH_TIMEOUT s, default 300) stops its section and makes the run
# exit 1 after the other sections ran.
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
HEAVY_RUNS=${BENCH_HEAVY_RUNS:-$((RUNS < 3 ? RUNS : 3))}
TIMEOUT=${BENCH_TIMEOUT:-300}
KEYS=${BENCH_KEYS:-1000000}
OUT=build/bench
DATA_VERSION=v1 # bump when the dataset shape changes outside gen.c
BENCH_TMP=$IT_TMP

SECTIONS=(checksum import sync lag scan tls verify burst cluster exactly sync5m csource scan5m)
# The 5M-key and cluster-source sections (several minutes each) run by
# default only with BENCH_BIG=1 (scan5m also with BENCH_SCAN5M=1): they
# would take a full run past 15 minutes. Name them to run them alone.
DEFAULT_SECTIONS=(checksum import sync lag scan tls verify burst cluster exactly)
if [[ ${BENCH_BIG:-0} == 1 ]]; then DEFAULT_SECTIONS+=(sync5m csource); fi
if [[ ${BENCH_BIG:-0} == 1 || ${BENCH_SCAN5M:-0} == 1 ]]; then DEFAULT_SECTIONS+=(scan5m); fi

usage() {
    echo "usage: bench/run.sh$(printf ' [%s]' "${SECTIONS[@]}")" >&2
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
    printf '%-26s %9s %9s %12s %9s %11s %s\n' tool "wall s" "cpu s" "peak RSS MB" "MB/s" "keys/s" "${1:-}"
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

# The same with RDBSYNC_SIMD=$2 (rdb/sha256x.h): "avx2" is what a CPU without
# AVX-512 gets (Intel client parts, AMD Zen 1-3: SHA-NI, else the AVX2 lanes).
run_simd() {
    RDBSYNC_SIMD=$2 measure "$1" "$RDBSYNC" --file "$DATA" --checksum >/dev/null ||
        bench_die "rdbsync --checksum (RDBSYNC_SIMD=$2) failed during timing"
}

# ns a block of each SHA-256 kernel (bench/sha256k.c, best of 21 runs in
# thread CPU time): what the default order in rdb/sha256x.c rests on.
sha256_kernels() {
    ${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -Werror -I. -DOPENSSL_API_COMPAT=0x10100000L -o "$OUT/sha256k" \
        bench/sha256k.c rdb/sha256x.c -lcrypto -lpthread || { echo "sha256k: cannot build"; return 0; }
    echo "SHA-256 kernels (ns a block, best of 21):"
    "$OUT/sha256k" 20000 21 | sed 's/^/  /'
}

section_checksum() {
    local ref="$BENCH_TMP/ref.log" ours="$BENCH_TMP/ours.log" dump="$BENCH_TMP/dump.log"
    local have=1 r ref_wall ref_cpu v simds=()
    # Beside the default: what a CPU without AVX-512 gets when that differs,
    # and whatever BENCH_SIMD names (e.g. "avx512 avx2lanes").
    if [[ $(RDBSYNC_SIMD=avx2 "$RDBSYNC" --version) != "$("$RDBSYNC" --version)" ]]; then simds+=(avx2); fi
    for v in ${BENCH_SIMD:-}; do simds+=("$v"); done
    echo
    echo "== checksum: $RUNS runs, medians (peak RSS: max over runs)"
    sha256_kernels
    cat "$DATA" >/dev/null # page cache: both tools read from memory
    if ! checksum_check; then
        have=0
    fi
    redis-check-rdb "$DATA" >/dev/null 2>&1 || bench_die "redis-check-rdb rejects $DATA"
    for ((r = 1; r <= RUNS; r++)); do
        # Alternate the order so drift on the shared machine hits both.
        if ((r % 2 == 0 && have)); then run_ours "$ours"; fi
        measure "$ref" redis-check-rdb "$DATA" >/dev/null 2>&1 || bench_die "redis-check-rdb failed"
        if ((r % 2 == 1 && have)); then run_ours "$ours"; fi
        if ((have)); then for v in "${simds[@]}"; do run_simd "$BENCH_TMP/simd-$v.log" "$v"; done; fi
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
    echo "kernels: $("$RDBSYNC" --version | sed -n 's/^kernels: //p')"
    for v in "${simds[@]}"; do
        print_row "rdbsync --checksum, RDBSYNC_SIMD=$v" "$BENCH_TMP/simd-$v.log"
        q=$(ratio "$ROW_WALL" "$ref_wall")
        echo "ratio rdbsync($v)/redis-check-rdb (wall): $q (target <= 0.50) $(bench_verdict "$q" 0.5)"
        echo "  same, median of per-run pairs: $(bench_paired_ratio "$BENCH_TMP/simd-$v.log" "$ref" wall);" \
            "cpu: $(ratio "$ROW_CPU" "$ref_cpu"); kernels: $(RDBSYNC_SIMD=$v "$RDBSYNC" --version | sed -n 's/^kernels: //p')"
    done
    local dr=$(((RUNS + 1) / 2))
    for ((r = 1; r <= dr; r++)); do
        measure "$dump" "$RDBSYNC" --file "$DATA" --dump >/dev/null ||
            { echo "rdbsync --dump: failed"; return 0; }
    done
    print_row "rdbsync --dump >/dev/null" "$dump" "($dr runs; decode + JSON)"
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

# ---- Shared by sync, lag, scan, tls ----------------------------------------

# keyspace NAME: the "db0:keys=N,expires=M ..." of a server (avg_ttl left
# out), the per-db key counts every copy is checked against.
keyspace() {
    rs_cli "$1" info keyspace | tr -d '\r' |
        sed -n 's/^\(db[0-9]*:keys=[0-9]*,expires=[0-9]*\).*/\1/p' | paste -sd' '
}

# timed LOG CMD...: measure CMD (output discarded), killed after $TIMEOUT s;
# dies naming the command when it fails or hangs.
timed() {
    local log=$1 rc=0 err="$BENCH_TMP/timed.err"
    shift
    measure "$log" timeout -k 5 "$TIMEOUT" "$@" >/dev/null 2>"$err" || rc=$?
    if ((rc == 124 || rc == 137)); then
        bench_die "HANG: killed after $TIMEOUT s: $*"
    elif ((rc != 0)); then
        bench_die "$* exited $rc: $(tail -n 3 "$err")"
    fi
}

# copy_run TARGET LOG CPULOG WANT CMD...: FLUSHALL the server TARGET
# (untimed), time CMD, record the target server's CPU over the run as
# target_cpu=S in CPULOG, then check TARGET's keyspace is WANT.
copy_run() {
    local tgt=$1 log=$2 cpulog=$3 want=$4 c0 c1 got
    shift 4
    [[ $(rs_cli "$tgt" flushall) == OK ]] || bench_die "FLUSHALL failed"
    c0=$(bench_proc_cpu "$(rs_pid "$tgt")")
    timed "$log" "$@"
    c1=$(bench_proc_cpu "$(rs_pid "$tgt")")
    awk -v a="$c0" -v b="$c1" 'BEGIN { printf "target_cpu=%.2f\n", b - a }' >>"$cpulog"
    got=$(keyspace "$tgt")
    [[ $got == "$want" ]] || bench_die "WRONG COPY by $*: target has '$got', want '$want'"
}

print_copy_header() {
    printf '%-30s %9s %9s %13s %12s %11s %s\n' tool "wall s" "cpu s" "target cpu s" "peak RSS MB" \
        "keys/s" "${1:-}"
}

# tload_row LOG CPULOG REFLOG REF_WALL TARGET: the --target-load replica
# copy's row, its wall ratio to the reference's and the paired one (sets
# ROW_* as print_copy does).
tload_row() {
    local q
    print_copy "rdbsync --target-load replica" "$1" "$2"
    q=$(ratio "$ROW_WALL" "$4")
    echo "ratio rdbsync --target-load replica/native (wall): $q (target <= $5) $(bench_verdict "$q" "$5")"
    echo "  same, median of per-run pairs: $(bench_paired_ratio "$1" "$3" wall)"
}

# print_copy NAME LOG CPULOG [EXTRA]: medians of wall, own cpu and the
# target's cpu, max of peak RSS, keys/s of the dataset. NAME starting with
# '=' is a reference whose own process is only a stopwatch (cpu and RSS
# shown as -). Sets ROW_WALL, ROW_CPU, ROW_TCPU, ROW_RSS_MB.
print_copy() {
    local name=$1 log=$2 cpulog=$3 extra=${4:-} ref=0
    [[ $name == =* ]] && ref=1 name=${name#=}
    ROW_WALL=$(bench_field "$log" wall | bench_median)
    ROW_CPU=$(bench_field "$log" cpu | bench_median)
    ROW_TCPU=$(bench_field "$cpulog" target_cpu | bench_median)
    ROW_RSS_MB=$(bench_field "$log" maxrss_kb | bench_max | awk '{ printf "%.1f", $1 / 1024 }')
    awk -v n="$name" -v w="$ROW_WALL" -v c="$ROW_CPU" -v t="$ROW_TCPU" -v r="$ROW_RSS_MB" \
        -v k="$DATA_KEYS" -v x="$extra" -v ref="$ref" 'BEGIN {
        cs = ref ? "-" : sprintf("%.3f", c); rs = ref ? "-" : sprintf("%.1f", r)
        printf "%-30s %9.3f %9s %13.2f %12s %11.0f %s\n", n, w, cs, t, rs, k / w, x }'
}

# start_source NAME [args]: a redis-server loaded with the dataset, diskless
# replication without delay (7.0 waits 5 s for more replicas by default),
# checked to hold every key.
start_source() {
    local name=$1
    shift
    rs_start_with_rdb "$name" "$DATA" --repl-diskless-sync yes --repl-diskless-sync-delay 0 "$@" ||
        bench_die "cannot start the source server"
    [[ $(rs_cli "$name" dbsize) == "$DATA_KEYS" ]] || bench_die "source server did not load $DATA"
}

# ---- Section: sync ---------------------------------------------------------

# sync_native LOG CPULOG: detach and empty the replica (untimed), time
# REPLICAOF until the replica is in sync, check its keys, detach it again so
# that it costs the source nothing during rdbsync's runs.
sync_native() {
    local log=$1 cpulog=$2 c0 c1 got
    [[ $(rs_cli replica replicaof no one) == OK ]] || bench_die "REPLICAOF NO ONE failed"
    [[ $(rs_cli replica flushall) == OK ]] || bench_die "FLUSHALL failed"
    c0=$(bench_proc_cpu "$(rs_pid replica)")
    timed "$log" "$OUT/replwait" "$(rs_port replica)" "$(rs_port src)" "$TIMEOUT"
    c1=$(bench_proc_cpu "$(rs_pid replica)")
    awk -v a="$c0" -v b="$c1" 'BEGIN { printf "target_cpu=%.2f\n", b - a }' >>"$cpulog"
    got=$(keyspace replica)
    [[ $got == "$SRC_KS" ]] || bench_die "native replica has '$got', want '$SRC_KS'"
    [[ $(rs_cli replica replicaof no one) == OK ]] || bench_die "REPLICAOF NO ONE failed"
}

# ours_run LOG CPULOG DIGEST CMD...: copy_run into "target" with its
# command stats reset first, then its DEBUG DIGEST checked.
ours_run() {
    local log=$1 cpulog=$2 digest=$3
    shift 3
    rs_cli target config resetstat >/dev/null
    copy_run target "$log" "$cpulog" "$SRC_KS" "$@"
    copy_digest "$digest"
}

# copy_digest WANT: the target's DEBUG DIGEST is WANT (nothing when empty).
copy_digest() {
    [[ -z $1 ]] && return 0
    local got
    got=$(rs_cli target debug digest)
    [[ $got == "$1" ]] || bench_die "WRONG COPY: target's DEBUG DIGEST $got, the source's $1"
}

# run_line R REF REFCPU OURS OURCPU: run R's own figures (the
# last line of each log), the load average after it.
run_line() {
    local r=$1 rst
    run_last() { bench_field "$1" "$2" | tail -n 1; }
    printf 'run %s: native %s s (replica cpu %s s); rdbsync %s s (cpu %s s, target cpu %s s, RSS %s KB)' "$r" \
        "$(run_last "$2" wall)" "$(run_last "$3" target_cpu)" "$(run_last "$4" wall)" "$(run_last "$4" cpu)" \
        "$(run_last "$5" target_cpu)" "$(run_last "$4" maxrss_kb)"
    # the target's time inside RESTORE itself (the rest: reading, parsing, replies)
    rst=$(rs_cli target info commandstats | tr -d '\r' | sed -n 's/^cmdstat_restore:calls=\([0-9]*\),usec=\([0-9]*\),usec_per_call=\([0-9.]*\).*/\1 calls, \2 us, \3 us each/p')
    printf '; target in RESTORE: %s' "${rst:-none}"
    echo "; load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# sync_compare LABEL: rdbsync --once against a native REPLICAOF of the
# loaded source "src", HEAVY_RUNS each, alternating, and the report.
sync_compare() {
    local ref="$BENCH_TMP/sref.log" ours="$BENCH_TMP/sours.log" r
    local refcpu="$BENCH_TMP/sref.cpu" ourcpu="$BENCH_TMP/sours.cpu" target=$2
    rs_start target --enable-debug-command local || bench_die "cannot start the target server"
    # BENCH_REPLICA_ARGS: the native replica's own settings, e.g.
    # "--repl-diskless-load on-empty-db" (what --target-load replica sets on its target).
    # shellcheck disable=SC2086
    rs_start replica ${BENCH_REPLICA_ARGS:-} || bench_die "cannot start the replica server"
    echo "native replica: repl-diskless-load $(rs_cli replica config get repl-diskless-load | tail -n 1)"
    SRC_KS=$(keyspace src)
    # A source that answers DEBUG DIGEST (sync5m's): every copy is checked
    # to hold exactly its data, not just as many keys (untimed).
    local digest
    digest=$(rs_cli src debug digest 2>/dev/null) || true
    [[ $digest =~ ^[0-9a-f]{40}$ ]] || digest=
    local cmd=("$RDBSYNC" --source "$(rs_url src)" --target "$(rs_url target)" --once -q)
    # $3 = tload: also --target-load replica (the target loads the snapshot
    # as rdbsync's replica), in the same runs, its copies checked the same way.
    local tl="$BENCH_TMP/stl.log" tlcpu="$BENCH_TMP/stl.cpu" with_tl=${3:-}
    for ((r = 1; r <= HEAVY_RUNS; r++)); do
        # (its RESTORE figures in run_line: the RESTORE copy runs last before it)
        if [[ -n $with_tl ]] && ((r % 2 == 0)); then ours_run "$tl" "$tlcpu" "$digest" "${cmd[@]}" --target-load replica; fi
        if ((r % 2 == 0)); then ours_run "$ours" "$ourcpu" "$digest" "${cmd[@]}"; fi
        sync_native "$ref" "$refcpu"
        if ((r % 2 == 1)); then ours_run "$ours" "$ourcpu" "$digest" "${cmd[@]}"; fi
        run_line "$r" "$ref" "$refcpu" "$ours" "$ourcpu"
        if [[ -n $with_tl ]] && ((r % 2 == 1)); then ours_run "$tl" "$tlcpu" "$digest" "${cmd[@]}" --target-load replica; fi
        if [[ -n $with_tl ]]; then
            echo "run $r: --target-load replica $(bench_field "$tl" wall | tail -n 1) s (cpu $(bench_field "$tl" cpu | tail -n 1) s, target cpu $(bench_field "$tlcpu" target_cpu | tail -n 1) s); load $(cut -d' ' -f1-3 /proc/loadavg)"
        fi
    done

    local q spool=64
    print_copy_header
    print_copy "=native replica (REPLICAOF)" "$ref" "$refcpu"
    local ref_wall=$ROW_WALL
    print_copy "rdbsync --once" "$ours" "$ourcpu"
    q=$(ratio "$ROW_WALL" "$ref_wall")
    echo "ratio rdbsync/native (wall): $q (target <= $target) $(bench_verdict "$q" "$target")"
    echo "  same, median of per-run pairs: $(bench_paired_ratio "$ours" "$ref" wall)"
    if [[ -n $with_tl ]]; then
        local our_row=("$ROW_WALL" "$ROW_CPU" "$ROW_TCPU" "$ROW_RSS_MB")
        tload_row "$tl" "$tlcpu" "$ref" "$ref_wall" "$target"
        ROW_WALL=${our_row[0]} ROW_CPU=${our_row[1]} ROW_TCPU=${our_row[2]} ROW_RSS_MB=${our_row[3]}
    fi
    echo "rdbsync cpu: $(printf %.2f "$ROW_CPU") s for $1 keys; target server cpu: $ROW_TCPU s" \
        "(native: the replica loads the RDB itself)"
    echo "peak RSS rdbsync --once: $ROW_RSS_MB MB (target < 64 MB + --spool-mem ${spool} MB)" \
        "$(bench_verdict "$ROW_RSS_MB" $((64 + spool - 1)).99)"
}

section_sync() {
    echo
    build_tool replwait -lhiredis
    echo "== sync: $HEAVY_RUNS runs, full sync (diskless, delay 0) from a loaded redis-server" \
        "into an empty one, medians"
    start_source src
    sync_compare "$DATA_KEYS" 1.00
}

# The same at 5M keys: BENCH_BIG_POPULATE (4.5M) DEBUG POPULATE strings
# beside BENCH_BIG_MIXED (500k) keys of the mixed dataset: where the gap to
# a native replica grows with the dataset.
section_sync5m() {
    echo
    build_tool replwait -lhiredis
    local pop=${BENCH_BIG_POPULATE:-4500000}
    KEYS=${BENCH_BIG_MIXED:-500000}
    dataset
    echo "== sync5m: $HEAVY_RUNS runs, full sync of $pop DEBUG POPULATE strings + $DATA_KEYS mixed keys, medians"
    start_source src --enable-debug-command local
    [[ $(rs_cli src debug populate "$pop" big: 16) == OK ]] || bench_die "DEBUG POPULATE failed"
    sync_compare "$((pop + DATA_KEYS))" 0.90 tload
}

# ---- Section: verify -------------------------------------------------------

# --verify of two equal servers against --source --checksum of one of them:
# the verdict should cost about one checksum (digests first, both sides
# read at once), not a round trip per key.
section_verify() {
    echo
    local ref="$BENCH_TMP/vref.log" ours="$BENCH_TMP/vours.log" out="$BENCH_TMP/verify.out" r
    echo "== verify: $HEAVY_RUNS runs, two equal servers loaded from the dump, medians"
    start_source src
    start_source copy
    local vcmd=("$RDBSYNC" --verify --source "$(rs_url src)" --target "$(rs_url copy)" -q)
    "${vcmd[@]}" >"$out" 2>&1 || bench_die "--verify of equal servers: $(tail -n 1 "$out")"
    grep -q "^verify: equal: $DATA_KEYS source keys checked" "$out" ||
        bench_die "--verify of equal servers says: $(tail -n 1 "$out")"
    for ((r = 1; r <= HEAVY_RUNS; r++)); do
        if ((r % 2 == 0)); then measure "$ours" "${vcmd[@]}" >/dev/null 2>&1 || bench_die "--verify failed"; fi
        measure "$ref" "$RDBSYNC" --source "$(rs_url src)" --checksum >/dev/null 2>&1 ||
            bench_die "--source --checksum failed"
        if ((r % 2 == 1)); then measure "$ours" "${vcmd[@]}" >/dev/null 2>&1 || bench_die "--verify failed"; fi
    done
    print_header ""
    print_row "rdbsync --source --checksum" "$ref"
    local ref_wall=$ROW_WALL q
    print_row "rdbsync --verify (equal)" "$ours"
    q=$(ratio "$ROW_WALL" "$ref_wall")
    echo "ratio verify/checksum (wall): $q (target <= 2.00) $(bench_verdict "$q" 2.0)"
    echo "  same, median of per-run pairs: $(bench_paired_ratio "$ours" "$ref" wall)"
}

# ---- Section: burst --------------------------------------------------------

# seen_at NAME KEY FILE: poll until KEY is on NAME, then write the time.
seen_at() {
    until [[ $(rs_cli "$1" exists "$2") == 1 ]]; do sleep 0.005; done
    now_s >"$3"
}

# The source written as fast as pipelined clients go; rdbsync and a native
# replica attached side by side. Both are timed from the start of the load
# to the moment a marker written after the load's last command shows on
# them: a ratio of how late rdbsync's target is complete.
section_burst() {
    echo
    command -v redis-benchmark >/dev/null || { echo "burst: skipped (no redis-benchmark)"; return 0; }
    build_tool replwait -lhiredis
    local n=${BENCH_BURST_OPS:-1500000} err="$BENCH_TMP/burst.err" pid rc=0 m
    local clients=${BENCH_BURST_CLIENTS:-4}
    echo "== burst: redis-benchmark -P 16 -c $clients -t set,incr,lpush,hset -r 1000000 -n $n on the source,"         "rdbsync and a native replica attached"
    rs_start src --repl-diskless-sync-delay 0 --enable-debug-command yes || bench_die "cannot start the source"
    rs_start target --enable-debug-command yes || bench_die "cannot start the target server"
    rs_start replica --enable-debug-command yes || bench_die "cannot start the replica server"
    "$OUT/replwait" "$(rs_port replica)" "$(rs_port src)" 60 >/dev/null || bench_die "native replica not in sync"
    "$RDBSYNC" --source "$(rs_url src)" --target "$(rs_url target)" -q 2>"$err" &
    pid=$!
    on_exit "kill $pid 2>/dev/null"
    for m in 1 2; do
        rs_cli src set "burst:marker$m" 1 >/dev/null
        wait_until 60 has_key target "burst:marker$m" || bench_die "rdbsync: marker $m not on the target"
    done
    local t0 tn tr
    t0=$(now_s)
    redis-benchmark -h 127.0.0.1 -p "$(rs_port src)" -P 16 -c "$clients" -d "$size" -t set,incr,lpush,hset -r 1000000 \
        -n "$n" -q >"$BENCH_TMP/burst.bench" 2>&1 || bench_die "redis-benchmark failed"
    local tl
    tl=$(now_s)
    rs_cli src set burst:end 1 >/dev/null
    seen_at target burst:end "$BENCH_TMP/burst.rdbsync" &
    local w1=$!
    seen_at replica burst:end "$BENCH_TMP/burst.native" &
    local w2=$!
    timeout 120 bash -c "wait $w1 $w2" 2>/dev/null || true
    wait "$w1" "$w2" || bench_die "the end marker did not arrive"
    tr=$(cat "$BENCH_TMP/burst.rdbsync") tn=$(cat "$BENCH_TMP/burst.native")
    wait_until 30 same_digest src replica || bench_die "native replica differs from the source"
    wait_until 30 same_digest src target ||
        bench_die "WRONG COPY: rdbsync's target differs from the source 30 s after the load"
    local hwm
    hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    ((rc == 0)) || bench_die "rdbsync exited $rc on SIGTERM: $(tail -n 3 "$err")"
    sed 's/^/  /' "$BENCH_TMP/burst.bench" | tr '\r' '\n' | grep 'requests per second' | sed 's/^ *//; s/^/  /'
    awk -v s="$t0" -v l="$tl" -v n="$tn" -v r="$tr" 'BEGIN {
        printf "load ran %.1f s; last write seen after %.2f s on the native replica, %.2f s on rdbsync'"'"'s target\n",
            l - s, n - s, r - s
        printf "ratio rdbsync/native (from the start of the load): %.2f\n", (r - s) / (n - s) }' |
        tee "$BENCH_TMP/burst.ratio"
    local q
    q=$(sed -n 's/^ratio.*: //p' "$BENCH_TMP/burst.ratio")
    echo "target <= 1.10 $(bench_verdict "$q" 1.1); data equal afterwards (DEBUG DIGEST of source, replica, target)"
    echo "peak RSS rdbsync (live): $hwm MB (target < 64 MB + --spool-mem 64 MB) $(bench_verdict "$hwm" 127.99)"
}

# ---- Section: lag ----------------------------------------------------------

same_digest() {
    [[ $(rs_digest "$1") == "$(rs_digest "$2")" ]]
}

has_key() {
    [[ $(rs_cli "$1" exists "$2") == 1 ]]
}

commands_processed() {
    rs_cli "$1" info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'
}

now_s() {
    date +%s.%N
}

# lag_report NAME LINE: one lagprobe line as a table row.
lag_report() {
    awk -v n="$1" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%-26s %7d %5d %9.2f %9.2f %9.2f %9.2f\n", n, v["n"], v["lost"],
            v["p50_us"] / 1000, v["p90_us"] / 1000, v["p99_us"] / 1000, v["max_us"] / 1000 }' <<<"$2"
}

# lag_stalls TRACE: the probes that took 100 ms or more on either side (or
# were lost: -1), as seconds into the probing, to tell a steady lag from
# stalls (a few lines at most).
lag_stalls() {
    awk 'NR == 1 { t0 = $2 } $3 >= 100000 || $3 < 0 || $4 >= 100000 || $4 < 0 {
        if (++n <= 8) printf "  stall: probe %d at +%.2f s: rdbsync %s, native %s\n", $1, ($2 - t0) / 1e6,
            $3 < 0 ? "lost" : sprintf("%.1f ms", $3 / 1000), $4 < 0 ? "lost" : sprintf("%.1f ms", $4 / 1000) }
        END { if (n > 8) printf "  (%d probes of 100 ms or more in all)\n", n }' "$1"
}

# lag_probe OUT "PIDS" NAME=SERVER...: the probe loop of lag and exactly.
# Marker keys first, until each SERVER (a target fed by the source "src")
# holds them: marker 1 may travel in a snapshot, but once it is visible the
# snapshot has begun, so marker 2 comes through the stream, after the whole
# snapshot. Then redis-benchmark SETs on the source while lagprobe writes
# probes there and times until each shows on each SERVER (NAME its label in
# OUT; trace in OUT.trace). Sets LAG_RATE (source commands/s), LAG_SECS and
# LAG_CPU (the CPU seconds of each of PIDS over the probing, in order).
lag_probe() {
    local out=$1 cpu_pids=$2 probes=${BENCH_LAG_PROBES:-2000} ops=${BENCH_LAG_OPS:-500000}
    shift 2
    local m t targets=() bpid n0 n1 t0 t1 c0='' c1='' p
    for t in "$@"; do targets+=("${t%%=*}=$(rs_port "${t#*=}")"); done
    for m in 1 2; do
        rs_cli src set "lag:marker$m" 1 >/dev/null
        for t in "$@"; do
            wait_until 60 has_key "${t#*=}" "lag:marker$m" ||
                bench_die "${t%%=*}: marker $m not on its target within 60 s"
        done
    done
    timeout 60 redis-benchmark -h 127.0.0.1 -p "$(rs_port src)" -t set -n "$ops" -r 100000 -P 1 -c 8 \
        -q >/dev/null 2>&1 &
    bpid=$!
    on_exit "kill $bpid 2>/dev/null"
    sleep 0.5
    n0=$(commands_processed src) t0=$(now_s)
    for p in $cpu_pids; do c0+=" $(bench_proc_cpu "$p")"; done
    LAGPROBE_TRACE="$out.trace" timeout 120 "$OUT/lagprobe" "$(rs_port src)" "$probes" 1500 2000 "${targets[@]}" \
        >"$out" 2>"$out.err" || bench_die "lagprobe failed: $(tail -n 3 "$out.err")"
    n1=$(commands_processed src) t1=$(now_s)
    for p in $cpu_pids; do c1+=" $(bench_proc_cpu "$p")"; done
    kill "$bpid" 2>/dev/null || true
    wait "$bpid" 2>/dev/null || true
    [[ -s $out.err ]] && echo "note: $(cat "$out.err")"
    LAG_RATE=$(awk -v a="$n0" -v b="$n1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", (b - a) / (e - s) }')
    LAG_SECS=$(awk -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f", e - s }')
    local a b i
    read -ra a <<<"$c0"
    read -ra b <<<"$c1"
    LAG_CPU=
    for i in "${!a[@]}"; do
        LAG_CPU+="${LAG_CPU:+ }$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.2f", y - x }')"
    done
    return 0
}

section_lag() {
    echo
    command -v redis-benchmark >/dev/null || { echo "lag: skipped (no redis-benchmark)"; return 0; }
    build_tool lagprobe -lhiredis
    build_tool replwait -lhiredis
    local probes=${BENCH_LAG_PROBES:-2000}
    local out="$BENCH_TMP/lag.out" err="$BENCH_TMP/lag.err" pid rc=0
    echo "== lag: $probes probes (one every 1.5 ms) while redis-benchmark SETs on the source;" \
        "rdbsync's target and a native replica side by side"
    rs_start src --repl-diskless-sync-delay 0 || bench_die "cannot start the source server"
    rs_start target || bench_die "cannot start the target server"
    rs_start replica || bench_die "cannot start the replica server"
    [[ $(rs_cli src dbsize) == 0 ]] || bench_die "the lag source is not empty"
    "$OUT/replwait" "$(rs_port replica)" "$(rs_port src)" 60 >/dev/null || bench_die "native replica not in sync"
    "$RDBSYNC" --source "$(rs_url src)" --target "$(rs_url target)" -q 2>"$err" &
    pid=$!
    on_exit "kill $pid 2>/dev/null"
    lag_probe "$out" "$pid" rdbsync=target native=replica

    # After the load: all three hold the same data, and rdbsync stops cleanly.
    wait_until 30 same_digest src replica || bench_die "native replica differs from the source"
    wait_until 30 same_digest src target ||
        bench_die "WRONG COPY: rdbsync's target differs from the source 30 s after the writes stopped"
    local hwm
    hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    ((rc == 0)) || bench_die "rdbsync exited $rc on SIGTERM: $(tail -n 3 "$err")"

    awk -v r="$LAG_RATE" -v s="$LAG_SECS" -v c="$LAG_CPU" 'BEGIN {
        printf "load: %.0f commands/s on the source over %.1f s; rdbsync cpu %.2f s (%.0f%% of a core)\n",
            r, s, c, 100 * c / s }'
    printf '%-26s %7s %5s %9s %9s %9s %9s\n' "lag (write -> visible)" probes lost "p50 ms" "p90 ms" \
        "p99 ms" "max ms"
    local line p99
    line=$(grep '^native ' "$out") && lag_report "native replica" "$line"
    line=$(grep '^rdbsync ' "$out") && lag_report "rdbsync" "$line"
    p99=$(sed -n 's/^rdbsync .*p99_us=\([-0-9]*\).*/\1/p' "$out" | awk '{ printf "%.2f", $1 / 1000 }')
    echo "rdbsync lag p99: $p99 ms (target < 10 ms) $(bench_verdict "$p99" 9.999)" \
        "(a lost probe, not seen within 2 s, counts as 2000 ms)"
    echo "peak RSS rdbsync (live): $hwm MB"
    lag_stalls "$out.trace"
}

# ---- Section: scan ---------------------------------------------------------

# scan_run NAME CMD...: one timed copy into the emptied target, with
# pingprobe on the source from just before to just after it.
scan_run() {
    local name=$1 ppid
    shift
    "$OUT/pingprobe" "$(rs_port src)" 10 "$TIMEOUT" >>"$BENCH_TMP/ping-$name.log" &
    ppid=$!
    copy_run target "$BENCH_TMP/scan-$name.log" "$BENCH_TMP/scan-$name.cpu" "$SRC_KS" "$@"
    kill -TERM "$ppid"
    wait "$ppid" || bench_die "pingprobe failed"
}

# ping_extra NAME: "p50 / p99 ms" medians over the runs of a tool.
ping_extra() {
    local f="$BENCH_TMP/ping-$1.log"
    awk -v a="$(bench_field "$f" p50_us | bench_median)" -v b="$(bench_field "$f" p99_us | bench_median)" \
        'BEGIN { printf "%8.2f %8.2f", a / 1000, b / 1000 }'
}

section_scan() {
    echo
    build_tool rump -lhiredis
    build_tool pingprobe -lhiredis
    echo "== scan: $HEAVY_RUNS runs, copy of a loaded redis-server into an empty one, medians;" \
        "source PING round trip every 10 ms during the copy"
    start_source src
    rs_start target || bench_die "cannot start the target server"
    SRC_KS=$(keyspace src)
    local src tgt r t
    src=$(rs_url src) tgt=$(rs_url target)
    timeout 30 "$OUT/pingprobe" "$(rs_port src)" 10 3 >"$BENCH_TMP/ping-idle.log" ||
        bench_die "pingprobe failed"
    local order=(scan replica rump)
    for ((r = 1; r <= HEAVY_RUNS; r++)); do
        for t in "${order[@]}"; do
            case $t in
            scan) scan_run scan "$RDBSYNC" --source "$src" --target "$tgt" --mode scan --once -q ;;
            replica) scan_run replica "$RDBSYNC" --source "$src" --target "$tgt" --mode replica --once -q ;;
            rump) scan_run rump "$OUT/rump" "$(rs_port src)" "$(rs_port target)" ;;
            esac
        done
        order=("${order[@]:1}" "${order[0]}") # rotate: each tool goes first once
    done

    local rump_wall scan_wall q
    print_copy_header "ping p50/p99 ms"
    echo "$(printf '%-30s %9s %9s %13s %12s %11s' "(source idle)" - - - - -)" \
        "$(ping_extra idle)"
    print_copy "rump.c (SCAN+DUMP/RESTORE)" "$BENCH_TMP/scan-rump.log" "$BENCH_TMP/scan-rump.cpu" \
        "$(ping_extra rump)"
    rump_wall=$ROW_WALL
    print_copy "rdbsync --mode scan --once" "$BENCH_TMP/scan-scan.log" "$BENCH_TMP/scan-scan.cpu" \
        "$(ping_extra scan)"
    scan_wall=$ROW_WALL
    print_copy "rdbsync --mode replica --once" "$BENCH_TMP/scan-replica.log" \
        "$BENCH_TMP/scan-replica.cpu" "$(ping_extra replica)"
    q=$(ratio "$scan_wall" "$rump_wall")
    echo "ratio scan mode/rump.c (wall): $q (target <= 1.00: reads and writes overlap)" \
        "$(bench_verdict "$q" 1.0)"
    echo "ratio replica path/scan mode (wall): $(ratio "$ROW_WALL" "$scan_wall")"
}

# ---- Section: scan5m -------------------------------------------------------

# scan5m_pace BIN RATE LOG: one window of a --rate copy. An idle window
# first (pingprobe alone, BENCH_SCAN5M_WINDOW s), then the same window with
# `BIN --mode scan --once --rate RATE` started just before the probe and
# stopped by SIGTERM after it: the two sit side by side in time, so their
# p99 difference is what the paced copy added on a machine whose own load
# moves. Appends "idle_p99_us=.. paced_p99_us=.. added_us=.. keys_s=.." to LOG.
scan5m_pace() {
    local bin=$1 rate=$2 log=$3 w=${BENCH_SCAN5M_WINDOW:-10} idle paced pid rc=0 k0 k1 t0 t1
    [[ $(rs_cli target flushall) == OK ]] || bench_die "FLUSHALL failed"
    idle=$(timeout $((w + 30)) "$OUT/pingprobe" "$(rs_port src)" 10 "$w") || bench_die "pingprobe failed"
    k0=$(rs_cli target dbsize) t0=$(now_s)
    "$bin" --source "$(rs_url src)" --target "$(rs_url target)" --mode scan --once --rate "$rate" -q \
        2>"$BENCH_TMP/pace.err" &
    pid=$!
    on_exit "kill $pid 2>/dev/null"
    paced=$(timeout $((w + 30)) "$OUT/pingprobe" "$(rs_port src)" 10 "$w") || bench_die "pingprobe failed"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    k1=$(rs_cli target dbsize) t1=$(now_s)
    # 0: it finished the copy within the window; 9: stopped by the SIGTERM.
    ((rc == 0 || rc == 9)) || bench_die "$bin --rate $rate exited $rc: $(tail -n 2 "$BENCH_TMP/pace.err")"
    awk -v i="$idle" -v p="$paced" -v a="$k0" -v b="$k1" -v s="$t0" -v e="$t1" 'BEGIN {
        match(i, /p99_us=[0-9]+/); ip = substr(i, RSTART + 7, RLENGTH - 7)
        match(p, /p99_us=[0-9]+/); pp = substr(p, RSTART + 7, RLENGTH - 7)
        printf "idle_p99_us=%d paced_p99_us=%d added_us=%d keys_s=%.0f\n", ip, pp, pp - ip, (b - a) / (e - s) }' >>"$log"
}

# scan5m_pace_row NAME LOG: the medians of a tool's windows at one rate.
scan5m_pace_row() {
    local f=$2 added
    added=$(bench_field "$f" added_us | bench_median | awk '{ printf "%.2f", $1 / 1000 }')
    printf '%-34s %9.0f %12.2f %13.2f %13s %s\n' "$1" "$(bench_field "$f" keys_s | bench_median)" \
        "$(bench_field "$f" idle_p99_us | bench_median | awk '{ print $1 / 1000 }')" \
        "$(bench_field "$f" paced_p99_us | bench_median | awk '{ print $1 / 1000 }')" "$added" \
        "(target < 1 ms) $(bench_verdict "$added" 0.999)"
    echo "  per window (idle/paced/added p99 ms):" \
        "$(awk '{ gsub(/[a-z_0-9]+=/, ""); printf " %.2f/%.2f/%.2f", $1 / 1000, $2 / 1000, $3 / 1000 }' "$f")"
}

# Scan mode on the 5M-key source of sync5m (BENCH_BIG_POPULATE DEBUG
# POPULATE strings + BENCH_BIG_MIXED mixed keys). First --rate: for each of
# BENCH_SCAN5M_RATES, the p99 a paced copy adds to the source's PING against
# an idle window beside it (target: under 1 ms); BENCH_SCAN5M_BEFORE=path
# runs another build's windows alternating with ours (before/after a
# change). Then whole copies: keys/s of scan mode against rump.c in the same
# run, with the source's PING p50/p99 during each. Opt-in in a full run
# (BENCH_SCAN5M=1): several minutes (BENCH_SCAN5M_RUNS, default
# BENCH_HEAVY_RUNS, of each; BENCH_SCAN5M_COPIES=0 does the --rate part only).
section_scan5m() {
    echo
    build_tool rump -lhiredis
    build_tool pingprobe -lhiredis
    local pop=${BENCH_BIG_POPULATE:-4500000} runs=${BENCH_SCAN5M_RUNS:-$HEAVY_RUNS} r t rate
    local before=${BENCH_SCAN5M_BEFORE:-}
    KEYS=${BENCH_BIG_MIXED:-500000}
    dataset
    echo "== scan5m: $runs runs, $pop DEBUG POPULATE strings + $DATA_KEYS mixed keys copied" \
        "into an empty server, medians; source PING every 10 ms"
    start_source src --enable-debug-command local
    [[ $(rs_cli src debug populate "$pop" big: 16) == OK ]] || bench_die "DEBUG POPULATE failed"
    DATA_KEYS=$((pop + DATA_KEYS)) # the keys/s of print_copy
    rs_start target || bench_die "cannot start the target server"
    SRC_KS=$(keyspace src)
    local src tgt
    src=$(rs_url src) tgt=$(rs_url target)

    echo "-- --rate: $runs windows of ${BENCH_SCAN5M_WINDOW:-10} s per tool and rate, each beside an" \
        "idle window; load $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-34s %9s %12s %13s %13s\n' "--rate (keys/s), build" "keys/s" "idle p99 ms" "paced p99 ms" \
        "added p99 ms"
    for rate in ${BENCH_SCAN5M_RATES:-10000 50000}; do
        for ((r = 1; r <= runs; r++)); do
            if [[ -n $before ]] && ((r % 2 == 0)); then
                scan5m_pace "$before" "$rate" "$BENCH_TMP/pace-before-$rate.log"
            fi
            scan5m_pace "$RDBSYNC" "$rate" "$BENCH_TMP/pace-$rate.log"
            if [[ -n $before ]] && ((r % 2 == 1)); then
                scan5m_pace "$before" "$rate" "$BENCH_TMP/pace-before-$rate.log"
            fi
        done
        [[ -z $before ]] || scan5m_pace_row "$rate, $before" "$BENCH_TMP/pace-before-$rate.log"
        scan5m_pace_row "$rate, $RDBSYNC" "$BENCH_TMP/pace-$rate.log"
    done

    [[ ${BENCH_SCAN5M_COPIES:-1} == 0 ]] && return 0
    echo "-- whole copies, load $(cut -d' ' -f1-3 /proc/loadavg)"
    for ((r = 1; r <= runs; r++)); do
        timeout 30 "$OUT/pingprobe" "$(rs_port src)" 10 3 >>"$BENCH_TMP/ping-idle.log" ||
            bench_die "pingprobe failed"
        if ((r % 2 == 1)); then t="scan rump"; else t="rump scan"; fi
        for t in $t; do
            case $t in
            scan) scan_run scan "$RDBSYNC" --source "$src" --target "$tgt" --mode scan --once -q ;;
            rump) scan_run rump "$OUT/rump" "$(rs_port src)" "$(rs_port target)" ;;
            esac
        done
    done
    local rump_wall q
    print_copy_header "ping p50/p99 ms"
    echo "$(printf '%-30s %9s %9s %13s %12s %11s' "(source idle)" - - - - -)" "$(ping_extra idle)"
    print_copy "rump.c (SCAN+DUMP/RESTORE)" "$BENCH_TMP/scan-rump.log" "$BENCH_TMP/scan-rump.cpu" \
        "$(ping_extra rump)"
    rump_wall=$ROW_WALL
    print_copy "rdbsync --mode scan --once" "$BENCH_TMP/scan-scan.log" "$BENCH_TMP/scan-scan.cpu" \
        "$(ping_extra scan)"
    q=$(ratio "$ROW_WALL" "$rump_wall")
    echo "ratio scan mode/rump.c (wall): $q $(bench_verdict "$q" 1.0)" \
        "(median of per-run pairs: $(bench_paired_ratio "$BENCH_TMP/scan-scan.log" "$BENCH_TMP/scan-rump.log" wall))"
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---- Section: tls ----------------------------------------------------------

# tls_certs: sets CERTS, a directory of test certificates (it_make_certs:
# ca.crt, server.crt/.key, client.crt/.key...), made once and remade when
# they expire within 2 hours (they are valid for 2 days).
tls_certs() {
    CERTS=$PWD/$OUT/tls
    if [[ -s $CERTS/server.crt && -s $CERTS/client.crt ]] &&
        openssl x509 -checkend 7200 -noout -in "$CERTS/ca.crt" >/dev/null 2>&1 &&
        openssl x509 -checkend 7200 -noout -in "$CERTS/server.crt" >/dev/null 2>&1; then
        return 0
    fi
    rm -rf "$CERTS"
    it_make_certs "$CERTS" || bench_die "openssl could not make test certificates"
}

# start_tls NAME [FILE]: a TLS-only redis-server (no client certificates
# required), loading FILE when given.
start_tls() {
    local name=$1 file=${2:-} args=(--tls-auth-clients no)
    if [[ -n $file ]]; then
        printf -v "RS_DIR_$name" '%s' "$IT_TMP/$name"
        mkdir -p "$IT_TMP/$name"
        cp "$file" "$IT_TMP/$name/dump.rdb"
        args+=(--dbfilename dump.rdb --repl-diskless-sync yes --repl-diskless-sync-delay 0)
    fi
    rs_start_tls "$name" "$CERTS" "${args[@]}" || bench_die "cannot start the TLS server $name"
}

section_tls() {
    echo
    command -v openssl >/dev/null || { echo "tls: skipped (no openssl)"; return 0; }
    tls_certs
    echo "== tls: $HEAVY_RUNS runs, import and full sync over TLS vs plain TCP, medians"
    start_source psrc
    rs_start ptgt || bench_die "cannot start the target server"
    start_tls tsrc "$DATA"
    start_tls ttgt
    [[ $(rs_cli tsrc dbsize) == "$DATA_KEYS" ]] || bench_die "TLS source did not load $DATA"
    local ks file_ks r L=$BENCH_TMP/tls
    ks=$(keyspace psrc)
    file_ks="db0:keys=$DATA_KEYS,expires=$DATA_EXPIRES"
    local tls=(--cacert "$CERTS/ca.crt")
    cat "$DATA" >/dev/null
    local imp_plain=(ptgt "$L-imp-plain.log" "$L-imp-plain.cpu" "$file_ks"
        "$RDBSYNC" --file "$DATA" --target "$(rs_url ptgt)" -q)
    local imp_tls=(ttgt "$L-imp-tls.log" "$L-imp-tls.cpu" "$file_ks"
        "$RDBSYNC" --file "$DATA" --target "$(rs_url ttgt)" "${tls[@]}" -q)
    local sync_plain=(ptgt "$L-sync-plain.log" "$L-sync-plain.cpu" "$ks"
        "$RDBSYNC" --source "$(rs_url psrc)" --target "$(rs_url ptgt)" --once -q)
    local sync_tls=(ttgt "$L-sync-tls.log" "$L-sync-tls.cpu" "$ks"
        "$RDBSYNC" --source "$(rs_url tsrc)" --target "$(rs_url ttgt)" "${tls[@]}" --once -q)
    for ((r = 1; r <= HEAVY_RUNS; r++)); do
        if ((r % 2)); then # alternate which goes first
            copy_run "${imp_plain[@]}"
            copy_run "${imp_tls[@]}"
            copy_run "${sync_plain[@]}"
            copy_run "${sync_tls[@]}"
        else
            copy_run "${imp_tls[@]}"
            copy_run "${imp_plain[@]}"
            copy_run "${sync_tls[@]}"
            copy_run "${sync_plain[@]}"
        fi
    done

    local w q
    print_copy_header
    print_copy "import, plain" "$L-imp-plain.log" "$L-imp-plain.cpu"
    w=$ROW_WALL
    print_copy "import, TLS" "$L-imp-tls.log" "$L-imp-tls.cpu"
    q=$(ratio "$ROW_WALL" "$w")
    echo "ratio import TLS/plain (wall): $q (target <= 1.30) $(bench_verdict "$q" 1.3)"
    echo "  same, median of per-run pairs: $(bench_paired_ratio "$L-imp-tls.log" "$L-imp-plain.log" wall)"
    print_copy "sync --once, plain" "$L-sync-plain.log" "$L-sync-plain.cpu"
    w=$ROW_WALL
    print_copy "sync --once, TLS" "$L-sync-tls.log" "$L-sync-tls.cpu"
    q=$(ratio "$ROW_WALL" "$w")
    echo "ratio sync TLS/plain (wall): $q (target <= 1.30) $(bench_verdict "$q" 1.3)"
    echo "  same, median of per-run pairs: $(bench_paired_ratio "$L-sync-tls.log" "$L-sync-plain.log" wall)"
}

# ---- Section: cluster -------------------------------------------------------

cluster_flush() {
    local n
    for n in $(cluster_masters); do rs_cli "$n" flushall >/dev/null; done
}

# cluster_run LOG CMD...: the cluster emptied (untimed), CMD timed, every key
# checked to have arrived.
cluster_run() {
    local log=$1 n
    shift
    cluster_flush
    timed "$log" "$@"
    n=$(cluster_dbsize)
    [[ $n == "$DATA_KEYS" ]] || bench_die "WRONG COPY by $*: the cluster has $n keys, want $DATA_KEYS"
}

section_cluster() {
    echo
    KEYS=${BENCH_CLUSTER_KEYS:-200000}
    dataset
    local L="$BENCH_TMP/cl" r url single_url
    echo "== cluster: $DATA_KEYS keys into 3 masters on loopback ($RUNS runs of rdbsync, medians;" \
        "redis-cli --cluster import once)"
    cluster_start 3 0 || bench_die "cannot start the cluster"
    rs_start single || bench_die "cannot start the standalone target"
    start_source src
    url=$(cluster_url)
    single_url=$(rs_url single)
    cat "$DATA" >/dev/null
    for ((r = 1; r <= RUNS; r++)); do
        cluster_run "$L-ours.log" "$RDBSYNC" --file "$DATA" --target "$url" --flush-target -q
        copy_run single "$L-single.log" "$L-single.cpu" "db0:keys=$DATA_KEYS,expires=$DATA_EXPIRES" \
            "$RDBSYNC" --file "$DATA" --target "$single_url" --flush-target -q
    done
    cluster_run "$L-ref.log" redis-cli --cluster import "${url#redis://}" --cluster-from "127.0.0.1:$(rs_port src)" \
        --cluster-copy
    print_header
    print_row "redis-cli --cluster import" "$L-ref.log"
    local ref_wall=$ROW_WALL single_wall q
    print_row "rdbsync into one server" "$L-single.log"
    single_wall=$ROW_WALL
    print_row "rdbsync into the cluster" "$L-ours.log"
    q=$(ratio "$ROW_WALL" "$ref_wall")
    echo "ratio rdbsync cluster / redis-cli --cluster import (wall): $q (target <= 0.10) $(bench_verdict "$q" 0.1)"
    q=$(ratio "$ROW_WALL" "$single_wall")
    echo "ratio rdbsync cluster / rdbsync standalone (wall): $q (target <= 1.50) $(bench_verdict "$q" 1.5)"
    echo "  same, median of per-run pairs: $(bench_paired_ratio "$L-ours.log" "$L-single.log" wall)"
}

# ---- Section: csource ------------------------------------------------------

# natives_sync M...: every replica r0.. REPLICAOF its master M (cluster
# node names) at once, until all are in sync; then detached again.
natives_sync() {
    local i=0 m pids=()
    for m in "$@"; do
        [[ $(rs_cli "r$i" replicaof no one) == OK && $(rs_cli "r$i" flushall) == OK ]] ||
            bench_die "r$i: cannot reset"
        i=$((i + 1))
    done
    i=0
    for m in "$@"; do
        "$OUT/replwait" "$(rs_port "r$i")" "$(rs_port "$m")" "$TIMEOUT" >/dev/null &
        pids+=($!)
        i=$((i + 1))
    done
    for m in "${pids[@]}"; do wait "$m" || return 1; done
}

# The CPU seconds of the replicas r0..r2 so far.
replicas_cpu() {
    local m s=0
    for m in 0 1 2; do s=$(awk -v a="$s" -v b="$(bench_proc_cpu "$(rs_pid "r$m")")" 'BEGIN { print a + b }'); done
    printf '%s\n' "$s"
}

# A cluster source: one replica link per shard, all into one standalone
# server, against what it costs natively (a replica of each master).
section_csource() {
    echo
    build_tool replwait -lhiredis
    KEYS=${BENCH_CSOURCE_KEYS:-1000000}
    dataset
    local L="$BENCH_TMP/cs" r m masters n
    echo "== csource: a 3-master cluster holding $DATA_KEYS keys, full sync into one server;" \
        "$HEAVY_RUNS runs, medians"
    cluster_start 3 0 --repl-diskless-sync yes --repl-diskless-sync-delay 0 || bench_die "cannot start the cluster"
    "$RDBSYNC" --file "$DATA" --target "$(cluster_url)" --db 0 -q || bench_die "cannot load the cluster"
    [[ $(cluster_dbsize) == "$DATA_KEYS" ]] || bench_die "the cluster holds $(cluster_dbsize) keys"
    masters=$(cluster_masters)
    rs_start target || bench_die "cannot start the target server"
    for m in 0 1 2; do rs_start "r$m" || bench_die "cannot start a replica"; done
    for ((r = 1; r <= HEAVY_RUNS; r++)); do
        copy_run target "$L-ours.log" "$L-ours.cpu" "db0:keys=$DATA_KEYS,expires=$DATA_EXPIRES" \
            "$RDBSYNC" --source "$(cluster_url)" --target "$(rs_url target)" --once -q
        copy_run target "$L-tl.log" "$L-tl.cpu" "db0:keys=$DATA_KEYS,expires=$DATA_EXPIRES" \
            "$RDBSYNC" --source "$(cluster_url)" --target "$(rs_url target)" --once -q --target-load replica
        local t0 t1 c0 c1
        c0=$(replicas_cpu) t0=$(now_s)
        # shellcheck disable=SC2086
        natives_sync $masters || bench_die "native replicas did not sync"
        t1=$(now_s) c1=$(replicas_cpu)
        # The replicas' CPU (they load the snapshots) in the target column.
        awk -v a="$c0" -v b="$c1" 'BEGIN { printf "target_cpu=%.2f\n", b - a }' >>"$L-ref.cpu"
        # Wall time only (the servers do the work): maxrss's line format.
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "wall=%.6f user=0 sys=0 cpu=0 maxrss_kb=0 status=0\n", b - a }' \
            >>"$L-ref.log"
        n=0
        for m in 0 1 2; do n=$((n + $(rs_cli "r$m" dbsize))); done
        [[ $n == "$DATA_KEYS" ]] || bench_die "the native replicas hold $n keys, want $DATA_KEYS"
    done
    print_copy_header "(target cpu s: the 3 replicas' for the natives)"
    print_copy "=3 native replicas (REPLICAOF each master)" "$L-ref.log" "$L-ref.cpu"
    local ref_wall=$ROW_WALL ref_cpu=$ROW_TCPU q
    print_copy "rdbsync --once from the cluster" "$L-ours.log" "$L-ours.cpu"
    q=$(ratio "$ROW_WALL" "$ref_wall")
    echo "ratio rdbsync/native (wall): $q (target <= 1.20) $(bench_verdict "$q" 1.2)"
    local rs_cpu=$ROW_CPU rs_tcpu=$ROW_TCPU rs_rss=$ROW_RSS_MB
    tload_row "$L-tl.log" "$L-tl.cpu" "$L-ref.log" "$ref_wall" 1.20
    ROW_CPU=$rs_cpu ROW_TCPU=$rs_tcpu ROW_RSS_MB=$rs_rss
    echo "cpu s, rdbsync + target vs the 3 replicas: $(awk -v a="$ROW_CPU" -v b="$ROW_TCPU" 'BEGIN { printf "%.2f", a + b }') vs $ref_cpu, ratio $(ratio "$(awk -v a="$ROW_CPU" -v b="$ROW_TCPU" 'BEGIN { print a + b }')" "$ref_cpu")"
    echo "peak RSS rdbsync: $ROW_RSS_MB MB (target < 3 x 64 MB + --spool-mem per shard)"
}

# ---- Section: exactly ------------------------------------------------------

# exactly_lag: two live syncs of one source, one with --exactly-once, into
# two targets, probed in the same loop under the same redis-benchmark load.
exactly_lag() {
    local out="$BENCH_TMP/xlag.out" p1 p2
    rs_start src --repl-diskless-sync-delay 0 || bench_die "cannot start the source server"
    rs_start plain || bench_die "cannot start a target server"
    rs_start exact || bench_die "cannot start a target server"
    "$RDBSYNC" --source "$(rs_url src)" --target "$(rs_url plain)" -q 2>"$BENCH_TMP/xplain.err" &
    p1=$!
    on_exit "kill $p1 2>/dev/null"
    "$RDBSYNC" --source "$(rs_url src)" --target "$(rs_url exact)" --exactly-once -q 2>"$BENCH_TMP/xexact.err" &
    p2=$!
    on_exit "kill $p2 2>/dev/null"
    lag_probe "$out" "$(rs_pid plain) $(rs_pid exact)" rdbsync=plain exactly=exact
    # Equal once caught up, the checkpoint (rdbsync's, not the source's) left out.
    wait_until 30 checkpoint_at_source src exact || bench_die "rdbsync --exactly-once did not catch up"
    kill -TERM "$p2"
    wait "$p2" || bench_die "rdbsync --exactly-once exited $? on SIGTERM: $(tail -n 3 "$BENCH_TMP/xexact.err")"
    rs_cli exact del rdbsync:checkpoint >/dev/null
    same_digest src exact ||
        bench_die "WRONG COPY: the --exactly-once target differs from the source after the writes stopped"
    echo "load: $LAG_RATE commands/s on the source over $LAG_SECS s"
    echo "target server cpu while probing: ${LAG_CPU% *} s plain, ${LAG_CPU#* } s with --exactly-once"
    printf '%-26s %7s %5s %9s %9s %9s %9s\n' "lag (write -> visible)" probes lost "p50 ms" "p90 ms" \
        "p99 ms" "max ms"
    local line a b
    line=$(grep '^rdbsync ' "$out") && lag_report "rdbsync" "$line"
    line=$(grep '^exactly ' "$out") && lag_report "rdbsync --exactly-once" "$line"
    a=$(sed -n 's/^rdbsync .*p99_us=\([-0-9]*\).*/\1/p' "$out" | awk '{ printf "%.2f", $1 / 1000 }')
    b=$(sed -n 's/^exactly .*p99_us=\([-0-9]*\).*/\1/p' "$out" | awk '{ printf "%.2f", $1 / 1000 }')
    echo "lag p99 with --exactly-once: $b ms (target < 10 ms) $(bench_verdict "$b" 9.999);" \
        "without: $a ms; ratio $(ratio "$b" "$a")"
    rs_stop src
    rs_stop plain
    rs_stop exact
}

# The --exactly-once target has caught up: its checkpoint is at the
# source's offset.
checkpoint_at_source() {
    [[ $(rs_cli "$2" hget rdbsync:checkpoint offset) == \
        "$(rs_cli "$1" info replication | tr -d '\r' | sed -n 's/^master_repl_offset://p')" ]]
}

section_exactly() {
    echo
    command -v redis-benchmark >/dev/null || { echo "exactly: skipped (no redis-benchmark)"; return 0; }
    build_tool lagprobe -lhiredis
    echo "== exactly: --exactly-once against the same without: live lag side by side, then" \
        "$HEAVY_RUNS full syncs each"
    exactly_lag
    local L=$BENCH_TMP/xsync r q
    start_source src
    rs_start target || bench_die "cannot start the target server"
    SRC_KS=$(keyspace src)
    local plain=(target "$L-plain.log" "$L-plain.cpu" "$SRC_KS"
        "$RDBSYNC" --source "$(rs_url src)" --target "$(rs_url target)" --once -q)
    # The checkpoint is one more key in db 0: deleted after each run (a
    # few ms, inside the timing) before the keyspace is checked.
    local exact=(target "$L-exact.log" "$L-exact.cpu" "$SRC_KS" sh -c '"$0" "$@" &&
        redis-cli -p "$RDBSYNC_BENCH_TPORT" del rdbsync:checkpoint >/dev/null'
        "$RDBSYNC" --source "$(rs_url src)" --target "$(rs_url target)" --once --exactly-once -q)
    export RDBSYNC_BENCH_TPORT=$(rs_port target)
    for ((r = 1; r <= HEAVY_RUNS; r++)); do
        if ((r % 2)); then copy_run "${plain[@]}"; copy_run "${exact[@]}"
        else copy_run "${exact[@]}"; copy_run "${plain[@]}"; fi
    done
    print_copy_header
    print_copy "sync --once" "$L-plain.log" "$L-plain.cpu"
    local w=$ROW_WALL
    print_copy "sync --once --exactly-once" "$L-exact.log" "$L-exact.cpu"
    q=$(ratio "$ROW_WALL" "$w")
    echo "ratio full sync with/without --exactly-once (wall): $q (target <= 1.10) $(bench_verdict "$q" 1.1)"
    echo "  same, median of per-run pairs: $(bench_paired_ratio "$L-exact.log" "$L-plain.log" wall)"
}

# ---- Main ------------------------------------------------------------------

# run_section NAME: runs section_NAME in a subshell with errexit on, so that a
# broken tool (bench_die) ends that section only; the servers and processes
# it started are stopped by its own trap. Its servers get their own
# directories (a server's dir may keep a dump.rdb, which a later server of
# the same name would load). Returns its exit status.
run_section() {
    local rc=0
    set +e
    (
        set -e
        IT_TMP=$BENCH_TMP/$1
        mkdir -p "$IT_TMP"
        trap 'KEEP_TMP=1 it_cleanup 2>/dev/null' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        "section_$1"
    )
    rc=$?
    set -e
    return "$rc"
}

main() {
    local sections=("$@") s failed=()
    ((${#sections[@]})) || sections=("${DEFAULT_SECTIONS[@]}")
    for s in "${sections[@]}"; do
        [[ " ${SECTIONS[*]} " == *" $s "* ]] || usage
    done
    [[ $RUNS =~ ^[1-9][0-9]*$ ]] || bench_die "BENCH_RUNS must be a positive integer"
    [[ $HEAVY_RUNS =~ ^[1-9][0-9]*$ ]] || bench_die "BENCH_HEAVY_RUNS must be a positive integer"
    command -v redis-server >/dev/null || bench_die "redis-server not found"
    [[ -x $RDBSYNC ]] || bench_die "no rdbsync at $RDBSYNC (run make)"
    mkdir -p "$OUT"
    build_tool maxrss
    echo "bench: $(redis-server --version | cut -d' ' -f3), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    # The 1M dump, unless every section asked for builds its own dataset.
    [[ " ${sections[*]} " =~ ^( (sync5m|scan5m|cluster|csource))+\ $ ]] || dataset
    for s in "${sections[@]}"; do
        run_section "$s" || failed+=("$s")
    done
    if ((${#failed[@]})); then
        echo "bench: broken in: ${failed[*]}" >&2
        exit 1
    fi
}

main "$@"

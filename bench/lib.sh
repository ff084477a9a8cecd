# shellcheck shell=bash
# bench/lib.sh -- helpers for bench/run.sh: process CPU, stats, verdicts.
#
# Sourced, not run. Servers come from tests/lib.sh (rs_start & co., stopped
# by PID on exit); timing from build/bench/maxrss (wait4/getrusage), which
# appends one key=value line per run to a log that the helpers here read.

# bench_die MSG: print and exit; the EXIT trap of tests/lib.sh stops servers.
bench_die() {
    echo "bench: $*" >&2
    exit 1
}

# bench_proc_cpu PID: user+sys seconds consumed so far by a running process
# (all its threads), from /proc/PID/stat fields 14 and 15.
bench_proc_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat"
}

# bench_field FILE KEY: the values of KEY=... from maxrss lines, one a line.
bench_field() {
    sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$1"
}

# bench_median: the median of the numbers on stdin (mean of the two middle
# ones for an even count).
bench_median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

bench_max() {
    sort -g | tail -n 1
}

# bench_verdict VALUE LIMIT: PASS when VALUE <= LIMIT, else MISS.
bench_verdict() {
    awk -v v="$1" -v l="$2" 'BEGIN { print (v + 0 <= l + 0) ? "PASS" : "MISS" }'
}

# bench_paired_ratio LOG_A LOG_B KEY: the median over runs of A[i]/B[i]. Run i
# of both tools ran back to back, so each pair saw the same machine load.
bench_paired_ratio() {
    paste <(bench_field "$1" "$3") <(bench_field "$2" "$3") |
        awk '$2 > 0 { printf "%.6f\n", $1 / $2 }' | bench_median | awk '{ printf "%.2f", $1 }'
}

#!/usr/bin/env bash
# it_import.sh -- `rdbsync --file F --target URL` against real redis-server
# 7.0 processes (acceptance of the import issue).
#
# 1. Round trip (two lanes of servers at once, for time). Every dump 7.0
#    can load: dumps made now with
#    tests/gen_dataset.sh (compact, expanded encodings, no CRC), the
#    committed fixtures/gen files, and every file of $SHARED/fixtures with
#    rdb_version <= 10 that is not corrupt, an EDGE case, a "walker stops"
#    file, a CRC MISMATCH or a module file (corrupt_empty_keys* is kept:
#    7.0 loads it, skipping its empty keys). Server A loads the file
#    (DEBUG RELOAD NOSAVE; a file A refuses is a SKIP with A's log line),
#    rdbsync imports it into the empty server B, and A and B must agree on
#    DEBUG DIGEST, on every absolute expire (PEXPIRETIME) and every stream's
#    metadata, groups, PELs and consumers (tests/import/meta.lua), and on
#    FUNCTION LIST WITHCODE. stderr must hold the summary line only.
# 2. Newer dumps (RDB 11 and 12 of $SHARED/fixtures, same exclusions) into
#    7.0: B must hold exactly what the decoder sees in the file
#    (`rdbsync --dump`, through tests/import/canon.jq) as read back from the
#    server (tests/import/values.lua): TYPE, GET/LRANGE/SMEMBERS/ZRANGE/
#    HGETALL/XINFO STREAM FULL and PEXPIRETIME. Keys already expired are
#    not written; hash fields whose TTL is past are not written either (a
#    server loading the file drops them; they are expired data). A hash
#    with a field TTL still to come cannot live on 7.0: exit 6, one stderr
#    line naming each such key, the key absent; with --drop-field-ttls,
#    exit 0 and the fields present without TTLs. Plus the values the origin
#    projects state (catcherwong mykey, Valkey's encodings-rdb12 foo=bar).
# 3. Corrupt dumps: a truncated one (exit 3) and one with a broken listpack
#    entry (exit 3) stop the import with one line naming the offset and the
#    keys written before it, and that number is what the target holds; a
#    byte changed inside a string value fails the CRC at the end (exit 4);
#    all three with --no-precheck, which lets the decoder meet the damage.
#    Without it (the default) the file's CRC is checked before the first
#    write: the two flipped files write nothing at all (exit 4, "CRC-64
#    mismatch"; a truncated file has no CRC where one is looked for, and
#    is left to the decoder);
#    --ignore-crc skips the check too (part 1 imports a dump saved with
#    rdbchecksum no, whose CRC is zero). A gzip'd dump: exit 3 with a hint
#    to gunzip it, nothing written (and the same hint from --checksum).
# 4. Connections and conflicts: nothing listening (exit 5, "Connection
#    refused"); wrong password (exit 5, "authentication failed", never
#    printed); password in RDBSYNC_TARGET_AUTH; ACL user in the URL and
#    with --target-user; a listener that never answers (exit 5, "timed
#    out", within 3 s with --connect-timeout 300); an existing key (exit
#    7, one line naming it and "N keys written" with N what the target
#    holds besides it, the key unchanged; --on-conflict skip and replace);
#    --flush-target.
# 5. Huge values: --max-restore-size 1k sends lists, sets, zsets (inf,
#    -inf, -0), hashes, a 100 KB string and a stream with groups and PELs
#    as native commands: DEBUG DIGEST, expires and the reproducible stream
#    state equal; no temporary key left; an existing key is a conflict
#    (RENAMENX) and stays as it was, and a temporary key left by the stop
#    has a TTL.
# 6. --db and --db-map on the dataset's dbs 0, 1 and 3.
#
# Needs: redis-server/redis-cli 7.0, jq, cc (the listener of part 4).
# Everything runs on 127.0.0.1; nothing is sent off this machine.
# IMPORT_TIMEOUT (seconds, default 20) bounds every rdbsync run (a hang is
# a FAIL, not a stuck suite); IMPORT_TIMING=1 prints times on stderr.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

HERE=$ROOT/tests/import
GEN=$ROOT/tests/gen_dataset.sh
FIX=${SHARED:+$SHARED/fixtures}
EXPANDED=(--hash-max-listpack-entries 0 --zset-max-listpack-entries 0
    --set-max-intset-entries 0 --list-max-listpack-size 1
    --list-compress-depth 1 --rdbcompression no)
# The decoder's view for part 2: the release build is faster, and --dump
# is not what this script tests.
DUMPER=$RDBSYNC_REL
[ -x "$DUMPER" ] || DUMPER=$RDBSYNC
# --dump writes valid UTF-8 as it is and other bytes as \udcXX (print.h);
# values.lua writes every byte from 0x7f up as \u00XX, so that jq sees one
# code point per byte. bytewise brings --dump lines to that form.
bytewise() {
    perl -pe 's/(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])/$1\\u00$2/g; s/([\x7f-\xff])/sprintf("\\u%04x", ord($1))/ge'
}
SUMMARY_RE='^rdbsync: (redis|unix)://[^ ]+: [0-9]+ keys read, [0-9]+ written'
export LC_ALL=C
# Credentials from the caller's environment would change what is tested.
unset RDBSYNC_TARGET_AUTH REDISCLI_AUTH

if ! have_rdbsync; then
    skip import "no binary at $RDBSYNC (run make)"
    exit 0
fi
if ! command -v jq >/dev/null 2>&1; then
    skip import "jq not installed (the README's setup installs it)"
    exit 0
fi

# ---- helpers ----

# imp NAME ARGS...: run the tool; stdout/stderr in $IT_TMP/NAME.out/.err,
# the exit status in RC (124: killed after IMPORT_TIMEOUT seconds).
imp() {
    local n=$1
    shift
    RC=0
    timeout "${IMPORT_TIMEOUT:-20}" "$RDBSYNC" "$@" >"$IT_TMP/$n.out" 2>"$IT_TMP/$n.err" || RC=$?
}

# The stderr lines of run NAME other than the summary line.
other_lines() { grep -v -E "$SUMMARY_RE" "$IT_TMP/$1.err" || true; }
errtail() { it_show "$(head -c 400 "$IT_TMP/$1.err")"; }
sanitized() { grep -qE 'Sanitizer|runtime error:' "$IT_TMP/$1.err"; }

cli() { # NAME: redis-cli reading commands from stdin
    local n=$1
    shift
    redis-cli -h 127.0.0.1 -p "$(rs_port "$n")" "$@"
}
reset() { printf 'FLUSHALL\nFUNCTION FLUSH\n' | cli "$1" >/dev/null; }
keysum() { # total keys over all dbs
    rs_cli "$1" INFO keyspace | sed -n 's/^db[0-9]*:keys=\([0-9]*\),.*/\1/p' |
        awk '{ s += $1 } END { print s + 0 }'
}
values() { cli "$1" --eval "$HERE/values.lua" , "${2:-0}" "${3:-15}" </dev/null; }
# canon NAME [FIRSTDB LASTDB]: values.lua's lines made canonical (sorted
# members/fields), one line per key, sorted.
canon() { values "$@" | jq -c -L "$HERE" --argjson now 0 'include "canon"; canon' | sort; }
firstdiff() { diff <(printf '%s\n' "$1") <(printf '%s\n' "$2") | grep '^[<>]' | head -n 2 | cut -c1-300 | tr '\n' ' '; }
now_ms() { date +%s%3N; }

# state NAME [MODE]: what two servers holding the same data agree on, in
# one redis-cli call: FUNCTION LIST WITHCODE (lines sorted), DEBUG DIGEST,
# then meta.lua's lines (MODE: full, native or expires).
MARK=--end-of-functions--
state() {
    local out
    out=$(printf 'FUNCTION LIST WITHCODE\nECHO %s\nDEBUG DIGEST\nEVALSHA %s 0 0 15 %s\n' \
        "$MARK" "$META_SHA" "${2:-full}" | cli "$1" 2>&1)
    printf '%s\n%s\n' "$(sort <<<"${out%%"$MARK"*}")" "${out#*"$MARK"}"
}
# meta.lua is called by its SHA: load it into every server once (again
# after a restart).
META_SHA=$(sha1sum "$HERE/meta.lua" | cut -d' ' -f1)
load_meta() { cli "$1" -x SCRIPT LOAD <"$HERE/meta.lua" >/dev/null; }

# same_data X Y [MODE]: the first difference between servers X and Y, on
# stdout, and status 1.
same_data() {
    local a b
    a=$(state "$1" "${3:-full}")
    b=$(state "$2" "${3:-full}")
    if grep -qE '^(NOSCRIPT|ERR |Could not connect)' <<<"$a$b"; then
        echo "cannot read the state of the servers: $(grep -m1 -E '^(NOSCRIPT|ERR |Could not connect)' <<<"$a$b")"
        return 1
    fi
    [ "$a" == "$b" ] ||
        { echo "$1 and $2 differ in functions, DEBUG DIGEST or expires/streams (< $1 > $2): $(firstdiff "$a" "$b")"; return 1; }
}

# The exit status, no sanitizer report, and nothing on stderr but the
# summary line (when the status is 0).
check_run() { # NAME WANT_RC
    if sanitized "$1"; then echo "sanitizer report: $(errtail "$1")"; return 1; fi
    if [ "$RC" -eq 124 ]; then echo "still running after ${IMPORT_TIMEOUT:-20} s (killed): $(errtail "$1")"; return 1; fi
    [ "$RC" -eq "$2" ] || { echo "exit $RC, want $2: $(errtail "$1")"; return 1; }
    if [ "$2" -eq 0 ] && [ -n "$(other_lines "$1")" ]; then
        echo "exit 0 but stderr has more than the summary: $(it_show "$(other_lines "$1")")"
        return 1
    fi
    if [ "$2" -eq 0 ] && ! grep -qE "$SUMMARY_RE" "$IT_TMP/$1.err"; then
        echo "no summary line on stderr: $(errtail "$1")"
        return 1
    fi
}

# one_error NAME ERE...: exactly one stderr line besides the summary,
# starting `rdbsync: `, matching every ERE.
one_error() {
    local n=$1 lines re
    shift
    lines=$(other_lines "$n")
    if [ -z "$lines" ] || [ "$(printf '%s\n' "$lines" | wc -l)" -ne 1 ]; then
        echo "want one error line on stderr, got $(it_show "$lines")"
        return 1
    fi
    [[ $lines == "rdbsync: "* ]] || { echo "error line does not start with 'rdbsync: ': $(it_show "$lines")"; return 1; }
    for re in "$@"; do
        [[ $lines =~ $re ]] || { echo "error line lacks /$re/: $(it_show "$lines")"; return 1; }
    done
}

# fails_with NAME RC ERE...: run NAME exited RC with one error line
# matching every ERE.
fails_with() {
    local n=$1 rc=$2
    shift 2
    check_run "$n" "$rc" && one_error "$n" "$@"
}

# check NAME CMD...: PASS NAME when CMD succeeds, else FAIL with its output.
check() {
    local name=$1 why
    shift
    if why=$("$@"); then pass "$name"; else fail "$name" "${why:-failed}"; fi
}

# ---- servers ----

# A loads files (DEBUG RELOAD NOSAVE of its dump.rdb); B is the target.
start_loader() { rs_start "$1" --dbfilename dump.rdb && load_meta "$1"; }
start_loader A || { fail import.setup "server A did not start"; exit 0; }
rs_start B || { fail import.setup "server B did not start"; exit 0; }
load_meta B

# restart NAME: a loader that exited, without the file that made it exit.
restart() {
    rs_stop "$1"
    rm -f "$(rs_dir "$1")/dump.rdb"
    start_loader "$1"
}

# load_into NAME FILE: 0 when loader NAME holds the file's data; else 1
# with the server's reason in LOAD_WHY (restarted when the file made it
# exit).
load_into() {
    local dir log off r
    dir=$(rs_dir "$1")
    log=$dir/$1.log
    cp "$2" "$dir/dump.rdb"
    off=$(stat -c %s "$log")
    r=$(printf 'FUNCTION FLUSH\nDEBUG RELOAD NOSAVE\n' | cli "$1" 2>&1 | tail -n 1)
    [ "$r" == OK ] && return 0
    LOAD_WHY=$(tail -c +$((off + 1)) "$log" | grep ' # ' | grep -v 'skipping empty key' | head -n 1 |
        sed -E 's/^[0-9]+:[A-Z] [^#]* # //')
    [ -n "$LOAD_WHY" ] || LOAD_WHY="DEBUG RELOAD answered $(it_show "$r")"
    if ! kill -0 "$(rs_pid "$1")" 2>/dev/null; then restart "$1" || true; fi
    return 1
}

# ---- part 1: round trip of what 7.0 loads ----
[ -z "${IMPORT_TIMING:-}" ] || echo "# part 1 starts at ${SECONDS}s" >&2

# roundtrip X Y FILE (X holds the file): import into an empty Y, compare.
# Prints the problem. Runs in $(...): it must not start servers.
roundtrip() {
    reset "$2"
    imp "rt_$2" --file "$3" --target "$(rs_url "$2")" -q
    check_run "rt_$2" 0 || return 1
    same_data "$1" "$2"
}

# lane X Y LIST: round trips of the "origin<TAB>label<TAB>path" lines of
# LIST through loader X and target Y. Prints one result line per file:
# "ok<TAB>origin", "skip<TAB>label<TAB>why" or "fail<TAB>label<TAB>why".
# Two lanes run at once, in background subshells: a loader restarted here
# is this subshell's, so it is stopped here at the end, and its PID goes
# to lanes.pids for the cleanup should the script be killed meanwhile.
lane() {
    local x=$1 y=$2 origin label path why t0 pid restarted=0
    while IFS=$'\t' read -r -u 3 origin label path; do
        t0=$(date +%s%N)
        pid=$(rs_pid "$x")
        if ! load_into "$x" "$path"; then
            printf 'skip\t%s\t%s\n' "$label" "redis-server 7.0 refuses it: $LOAD_WHY"
            if [ "$(rs_pid "$x")" != "$pid" ]; then
                rs_pid "$x" >>"$IT_TMP/lanes.pids"
                restarted=1
            fi
        elif why=$(roundtrip "$x" "$y" "$path"); then
            printf 'ok\t%s\n' "$origin"
        else
            printf 'fail\t%s\t%s\n' "$label" "$why"
        fi
        [ -z "${IMPORT_TIMING:-}" ] || echo "# $(( ($(date +%s%N) - t0) / 1000000 )) ms $label" >&2
    done 3<"$3"
    if [ "$restarted" = 1 ]; then rs_stop "$x"; fi
}

# Fresh dumps of the mixed dataset, made by this 7.0.
gen_ok=1
if ! "$GEN" "$(rs_port A)" >/dev/null; then gen_ok=0; fi
if [ "$gen_ok" = 1 ] && cp "$(rs_save A)" "$IT_TMP/gen_compact.rdb"; then
    rs_cli A CONFIG SET rdbchecksum no >/dev/null
    cp "$(rs_save A)" "$IT_TMP/gen_nocrc.rdb"
    rs_cli A CONFIG SET rdbchecksum yes >/dev/null
    if rs_start E "${EXPANDED[@]}" && [ "$(rs_cli E DEBUG QUICKLIST-PACKED-THRESHOLD 1000)" == OK ] &&
        "$GEN" "$(rs_port E)" >/dev/null && "$GEN" --copy-timed "$(rs_port A)" "$(rs_port E)"; then
        cp "$(rs_save E)" "$IT_TMP/gen_expanded.rdb"
    fi
    rs_stop E
else
    gen_ok=0
fi

# fixture_rows MAXVER|newer: MANIFEST rows to import (path, version).
fixture_rows() {
    awk -F'\t' -v sel="$1" 'NR > 1 && $7 ~ /^[0-9]+$/ {
        v = $7 + 0
        if (sel == "newer" ? (v != 11 && v != 12) : (v > sel + 0)) next
        note = $8
        if ($1 !~ /corrupt_empty_keys/ &&
            (note ~ /CORRUPT|corrupt|EDGE|walker stops|MISMATCH/)) next
        if (note ~ /types: [^;|]*module/) next
        print $1 "\t" v
    }' "$FIX/MANIFEST.tsv"
}

# The files, one "origin<TAB>label<TAB>path" line each.
{
    if [ "$gen_ok" = 1 ]; then
        for v in compact expanded nocrc; do
            [ ! -f "$IT_TMP/gen_$v.rdb" ] || printf 'gen\tgen_%s\t%s\n' "$v" "$IT_TMP/gen_$v.rdb"
        done
    fi
    for f in "$ROOT"/fixtures/gen/*.rdb; do
        [ -f "$f" ] && printf 'fixtures/gen\tfixtures/gen/%s\t%s\n' "${f##*/}" "$f"
    done
    if [ -n "$FIX" ] && [ -f "$FIX/MANIFEST.tsv" ]; then
        fixture_rows 10 | while IFS=$'\t' read -r path _; do
            printf '%s\t%s\t%s\n' "${path%%/*}" "$path" "$FIX/$path"
        done
    fi
} >"$IT_TMP/rt.list"
[ "$gen_ok" = 1 ] || fail import.setup "tests/gen_dataset.sh could not make the dumps"
if [ -z "$FIX" ] || [ ! -f "$FIX/MANIFEST.tsv" ]; then
    skip import.roundtrip.fixtures "../shared/fixtures not present"
fi
if [ "$gen_ok" = 1 ] && [ ! -f "$IT_TMP/gen_expanded.rdb" ]; then
    fail "import.roundtrip gen_expanded" "could not make the dump"
fi

: >"$IT_TMP/lanes.pids"
on_exit 'lane_cleanup'
# Servers a lane restarted and may not have stopped (the script was
# killed): by PID, only while it still is a redis-server of this run.
lane_cleanup() {
    local pid
    while read -r pid; do
        [ -n "$pid" ] || continue
        [ -r "/proc/$pid/cmdline" ] || continue
        if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$IT_TMP/"; then
            kill "$pid" 2>/dev/null
        fi
    done <"$IT_TMP/lanes.pids"
}

if start_loader A2 && rs_start B2 && load_meta B2; then
    awk 'NR % 2 == 1' "$IT_TMP/rt.list" >"$IT_TMP/rt1.list"
    awk 'NR % 2 == 0' "$IT_TMP/rt.list" >"$IT_TMP/rt2.list"
    lane A B "$IT_TMP/rt1.list" >"$IT_TMP/rt1.res" &
    lane1=$!
    lane A2 B2 "$IT_TMP/rt2.list" >"$IT_TMP/rt2.res" &
    wait "$!"
    wait "$lane1"
    # A restarted by lane 1 (a subshell) is unknown here: start it again.
    if [ "$(printf 'PING\n' | cli A 2>/dev/null)" != PONG ]; then it_forget A; start_loader A; fi
    if [ "$(printf 'PING\n' | cli A2 2>/dev/null)" == PONG ]; then rs_stop A2; else it_forget A2; fi
    rs_stop B2
else
    fail import.setup "the second pair of servers did not start"
    lane A B "$IT_TMP/rt.list" >"$IT_TMP/rt1.res"
    : >"$IT_TMP/rt2.res"
fi

declare -A rt_pass=()
while IFS=$'\t' read -r what label why; do
    case $what in
    ok) rt_pass[$label]=$(( ${rt_pass[$label]:-0} + 1 )) ;;
    skip) skip "import.roundtrip $label" "$why" ;;
    fail) fail "import.roundtrip $label" "$why" ;;
    esac
done < <(sort -t$'\t' -k2,2 "$IT_TMP/rt1.res" "$IT_TMP/rt2.res")
while read -r origin; do
    [ -n "$origin" ] && pass "import.roundtrip $origin (${rt_pass[$origin]} files)"
done < <(printf '%s\n' "${!rt_pass[@]}" | sort)

# A holds the compact dataset again from here on (parts 3, 4 and 6).
have_gen() { [ "$gen_ok" = 1 ] && load_into A "$IT_TMP/gen_compact.rdb"; }

# ---- part 2: RDB 11 and 12 into 7.0 ----
[ -z "${IMPORT_TIMING:-}" ] || echo "# part 2 starts at ${SECONDS}s" >&2

# One jq pass over the file's --dump lines (newer.jsonl), as of $NOW:
#   C<TAB>line        the canonical line of a key a server would hold
#   U<TAB>db<TAB>key  a key a 7.0 cannot hold (a field TTL still to come)
#   P<TAB>prefix      the start of that key's canonical line
#   T                 a hash with field TTLs (past or to come)
#   F<TAB>base64      a function library's code
JQ_SUMMARY='include "canon";
    if has("function") then "F\t" + (.function | @base64)
    else (canon | "C\t" + tojson),
        (select(unrepresentable) | "U\t\(.db)\t\(.key)",
            "P\t{\"db\":\(.db),\"key\":\(.key | tojson),"),
        (select(fieldttls) | "T")
    end'
summary() { sed -n "s/^$1\t//p" "$IT_TMP/newer.sum"; }

# Every function library of the dump is on B (code compared as text).
functions_there() {
    local got b code n=0
    got=$(rs_cli B FUNCTION LIST WITHCODE)
    while read -r b; do
        [ -n "$b" ] || continue
        n=$((n + 1))
        code=$(printf '%s' "$b" | base64 -d)
        [[ $got == *"$code"* ]] || { echo "function library missing on the target: $(it_show "$code")"; return 1; }
    done < <(summary F)
    got=$(rs_cli B FUNCTION LIST | grep -cx library_name || true)
    [ "$got" == "$n" ] || { echo "$got function libraries on the target, the dump has $n"; return 1; }
}

# expect_content WANT: B's canonical view equals WANT.
expect_content() {
    local got
    got=$(canon B)
    [ "$got" == "$1" ] || { echo "target differs from the dump (< dump > target): $(firstdiff "$1" "$got")"; return 1; }
}

# named_keys NAME KEYS WHAT: each "db<TAB>key" of KEYS has a stderr line
# containing WHAT and naming it; no other line besides the summary and
# "module aux" notices.
named_keys() {
    local n=$1 keys=$2 what=$3 lines db key extra
    lines=$(other_lines "$n")
    while IFS=$'\t' read -r db key; do
        [ -n "$key" ] || continue
        grep -F -- "$what" <<<"$lines" | grep -qF -- "db $db, key '$key'" ||
            { echo "no stderr line '$what ... db $db, key '$key'': $(it_show "$lines")"; return 1; }
    done <<<"$keys"
    extra=$(grep -vF -- "$what" <<<"$lines" | grep -v 'module aux data' || true)
    [ -z "$extra" ] || { echo "unexpected stderr: $(it_show "$extra")"; return 1; }
}

# newer_file FILE (WANT, UNREP and PAT set from the summary): import into
# an empty B; prints the problem.
newer_file() {
    local want_part=$WANT rc_want=0
    if [ -n "$UNREP" ]; then
        want_part=$(grep -v -F -- "$PAT" <<<"$WANT" || true)
        rc_want=6
    fi
    reset B
    imp newer --file "$1" --target "$(rs_url B)" -q
    if sanitized newer; then echo "sanitizer report: $(errtail newer)"; return 1; fi
    [ "$RC" -eq "$rc_want" ] || { echo "exit $RC, want $rc_want: $(errtail newer)"; return 1; }
    named_keys newer "$UNREP" "cannot hold this key" || return 1
    expect_content "$want_part" || return 1
    functions_there
}

# newer_drop FILE: the same with --drop-field-ttls.
newer_drop() {
    reset B
    imp newer_drop --file "$1" --target "$(rs_url B)" -q --drop-field-ttls
    if sanitized newer_drop; then echo "sanitizer report: $(errtail newer_drop)"; return 1; fi
    [ "$RC" -eq 0 ] || { echo "exit $RC, want 0: $(errtail newer_drop)"; return 1; }
    named_keys newer_drop "$UNREP" "without its hash field TTLs" || return 1
    expect_content "$WANT"
}

if [ -z "$FIX" ] || [ ! -f "$FIX/MANIFEST.tsv" ]; then
    skip import.newer "../shared/fixtures not present"
else
    declare -A nw_pass=()
    while IFS=$'\t' read -r path _; do
        origin=${path%%/*}
        if ! "$DUMPER" --file "$FIX/$path" --dump 2>"$IT_TMP/newer_dump.err" | bytewise >"$IT_TMP/newer.jsonl"; then
            fail "import.newer $path" "--dump of the file failed: $(errtail newer_dump)"
            continue
        fi
        NOW=$(now_ms)
        jq -r -L "$HERE" --argjson now "$NOW" "$JQ_SUMMARY" "$IT_TMP/newer.jsonl" >"$IT_TMP/newer.sum"
        WANT=$(summary C | sort)
        UNREP=$(summary U)
        PAT=$(summary P)
        if why=$(newer_file "$FIX/$path"); then
            nw_pass[$origin]=$(( ${nw_pass[$origin]:-0} + 1 ))
        else
            fail "import.newer $path" "$why"
        fi
        # Hashes with field TTLs (past or to come): the lossy leg too.
        if grep -qx T "$IT_TMP/newer.sum"; then
            check "import.newer.drop_field_ttls $path" newer_drop "$FIX/$path"
        fi
        # What the origin projects state.
        case $path in
        catcherwong-rdb-tools/tests/dumps/redis74_hash_ttl_*)
            # f1's TTL (2024) is past: only f2=v2 is live data.
            reset B
            imp origin --file "$FIX/$path" --target "$(rs_url B)" -q --drop-field-ttls
            assert_eq "import.newer.value ${path##*/}" "f2 v2" "$(rs_cli B HGETALL mykey | paste -sd ' ')"
            ;;
        */encodings-rdb12.rdb)
            assert_eq "import.newer.value ${path##*/}" "bar" "$(rs_cli B GET foo)"
            ;;
        esac
    done < <(fixture_rows newer)
    while read -r origin; do
        [ -n "$origin" ] && pass "import.newer $origin (${nw_pass[$origin]} files)"
    done < <(printf '%s\n' "${!nw_pass[@]}" | sort)
fi

# ---- part 3: corrupt dumps ----
[ -z "${IMPORT_TIMING:-}" ] || echo "# part 3 starts at ${SECONDS}s" >&2

# corrupt NAME FILE WANT_RC: the import stops with one line naming the
# offset and "N keys written before it", N = keys on the target.
corrupt_case() {
    local n=$1 file=$2 want=$3 line n_said
    reset B
    imp "$n" --file "$file" --target "$(rs_url B)" -q --no-precheck
    if sanitized "$n"; then echo "sanitizer report: $(errtail "$n")"; return 1; fi
    [ "$RC" -eq "$want" ] || { echo "exit $RC, want $want: $(errtail "$n")"; return 1; }
    one_error "$n" 'offset [0-9]+' '[0-9]+ keys written before it' || return 1
    line=$(other_lines "$n")
    [[ $line =~ ([0-9]+)\ keys\ written\ before\ it ]] && n_said=${BASH_REMATCH[1]}
    [ "$n_said" == "$(keysum B)" ] ||
        { echo "says $n_said keys written, the target holds $(keysum B)"; return 1; }
}

# precheck NAME FILE WANT_RC ERE: the default import refuses the file
# before writing: one line matching ERE, the target still empty.
precheck_case() {
    local n=$1 file=$2 want=$3 ere=$4
    reset B
    imp "$n" --file "$file" --target "$(rs_url B)" -q
    if sanitized "$n"; then echo "sanitizer report: $(errtail "$n")"; return 1; fi
    [ "$RC" -eq "$want" ] || { echo "exit $RC, want $want: $(errtail "$n")"; return 1; }
    one_error "$n" "$ere" || return 1
    [ "$(keysum B)" == 0 ] || { echo "the target holds $(keysum B) keys"; return 1; }
}

if [ "$gen_ok" = 1 ]; then
    f=$IT_TMP/gen_compact.rdb
    size=$(stat -c %s "$f")
    head -c $((size / 2)) "$f" >"$IT_TMP/truncated.rdb"
    check import.corrupt.truncated corrupt_case truncated "$IT_TMP/truncated.rdb" 3

    # A small dataset saved without compression, so values can be found
    # in the file: 'victim' is a listpack list whose last entry is
    # MARKERMARKER1 (13 bytes: encoding byte 0x8d before it).
    reset A
    {
        for i in $(seq 1 40); do printf 'SET pre:%d value-%d\n' "$i" "$i"; done
        printf 'RPUSH victim aaa bbb MARKERMARKER1\n'
        printf 'SET strvictim STRINGMARKER-0123456789\n'
        for i in $(seq 1 40); do printf 'SET post:%d value-%d\n' "$i" "$i"; done
        printf 'CONFIG SET rdbcompression no\n'
    } | cli A >/dev/null
    cp "$(rs_save A)" "$IT_TMP/flip_src.rdb"
    rs_cli A CONFIG SET rdbcompression yes >/dev/null
    off=$(grep -obUa MARKERMARKER1 "$IT_TMP/flip_src.rdb" | head -n 1 | cut -d: -f1)
    soff=$(grep -obUa STRINGMARKER "$IT_TMP/flip_src.rdb" | head -n 1 | cut -d: -f1)
    if [ -n "$off" ] && [ "$(od -An -tx1 -j $((off - 1)) -N1 "$IT_TMP/flip_src.rdb" | tr -d ' ')" == 8d ]; then
        cp "$IT_TMP/flip_src.rdb" "$IT_TMP/flip_lp.rdb"
        # Length 63: the entry now runs past the end of its listpack.
        printf '\xbf' | dd of="$IT_TMP/flip_lp.rdb" bs=1 seek=$((off - 1)) conv=notrunc 2>/dev/null
        check import.corrupt.listpack_entry corrupt_case flip_lp "$IT_TMP/flip_lp.rdb" 3
    else
        fail import.corrupt.listpack_entry "setup: no listpack entry MARKERMARKER1 (0x8d) in the dump"
    fi
    if [ -n "$soff" ]; then
        cp "$IT_TMP/flip_src.rdb" "$IT_TMP/flip_crc.rdb"
        printf 's' | dd of="$IT_TMP/flip_crc.rdb" bs=1 seek="$soff" conv=notrunc 2>/dev/null
        check import.corrupt.crc corrupt_case flip_crc "$IT_TMP/flip_crc.rdb" 4
        # The default: the CRC is checked first, nothing is written.
        check import.precheck.crc precheck_case pre_crc "$IT_TMP/flip_crc.rdb" 4 'CRC-64 mismatch \(stored [0-9a-f]{16}, computed [0-9a-f]{16}\): the file is corrupt; nothing was written'
        check import.precheck.listpack precheck_case pre_lp "$IT_TMP/flip_lp.rdb" 4 'CRC-64 mismatch'
        # --ignore-crc means it: no precheck, the import runs to the end.
        reset B
        imp pre_ignore --file "$IT_TMP/flip_crc.rdb" --target "$(rs_url B)" -q --ignore-crc
        assert_eq import.precheck.ignore_crc "0 82" "$RC $(keysum B)"
    else
        fail import.corrupt.crc "setup: STRINGMARKER not found in the dump"
    fi
    # A gzip'd dump: a hint, exit 3, nothing written; the same for --checksum.
    gzip -c "$IT_TMP/flip_src.rdb" >"$IT_TMP/dump.rdb.gz"
    check import.gzip precheck_case gz "$IT_TMP/dump.rdb.gz" 3 'dump\.rdb\.gz: offset [0-9]+: not an RDB file: it is gzip-compressed; gunzip it first'
    imp gzsum --file "$IT_TMP/dump.rdb.gz" --checksum
    check import.gzip.checksum fails_with gzsum 3 'it is gzip-compressed; gunzip it first'
else
    skip import.corrupt "no generated dump"
fi

# ---- part 4: connections, passwords, conflicts ----
[ -z "${IMPORT_TIMING:-}" ] || echo "# part 4 starts at ${SECONDS}s" >&2

SRC=$IT_TMP/gen_compact.rdb
if [ "$gen_ok" = 1 ] && have_gen; then
    # Nothing listening.
    it_pick_port
    imp down --file "$SRC" --target "redis://127.0.0.1:$IT_PORT" -q
    check import.conn.refused fails_with down 5 "Connection refused"

    # A password-protected target.
    PW=s3cr3t-Pass-42
    BAD=wr0ng-Pass-77
    if rs_start P --requirepass "$PW"; then
        pcli() { REDISCLI_AUTH=$PW rs_cli P "$@" 2>/dev/null; }
        preset() { printf 'FLUSHALL\nFUNCTION FLUSH\n' | REDISCLI_AUTH=$PW cli P >/dev/null 2>&1; }
        secret_absent() { # NAME SECRET
            ! grep -qF -- "$2" "$IT_TMP/$1.out" "$IT_TMP/$1.err" ||
                { echo "the password appears in the output: $(errtail "$1")"; return 1; }
        }
        auth_fails() { # NAME SECRET
            fails_with "$1" 5 "authentication failed" && secret_absent "$1" "$2"
        }
        auth_works() { # NAME SECRET
            check_run "$1" 0 && secret_absent "$1" "$2" && same_as_a
        }
        same_as_a() {
            local a b
            a=$(rs_digest A)
            b=$(pcli DEBUG DIGEST)
            [ "$a" == "$b" ] || { echo "DEBUG DIGEST A $a, P $b"; return 1; }
        }

        imp badpw --file "$SRC" --target "redis://:$BAD@127.0.0.1:$(rs_port P)" -q
        check import.auth.wrong_password auth_fails badpw "$BAD"
        RDBSYNC_TARGET_AUTH=$BAD imp badpw_env --file "$SRC" --target "$(rs_url P)" -q
        check import.auth.wrong_password_env auth_fails badpw_env "$BAD"
        imp nopw --file "$SRC" --target "$(rs_url P)" -q
        check import.auth.no_password fails_with nopw 5 auth

        preset
        RDBSYNC_TARGET_AUTH=$PW imp envpw --file "$SRC" --target "$(rs_url P)" -q
        check import.auth.env_password auth_works envpw "$PW"

        UPW=user-Pass-99
        pcli ACL SETUSER importer on ">$UPW" '~*' '&*' '+@all' >/dev/null
        preset
        imp aclurl --file "$SRC" --target "redis://importer:$UPW@127.0.0.1:$(rs_port P)" -q
        check import.auth.acl_url auth_works aclurl "$UPW"
        assert_match import.auth.masked_url 'redis://importer:\*\*\*@127\.0\.0\.1:' "$(cat "$IT_TMP/aclurl.err")"
        preset
        RDBSYNC_TARGET_AUTH=$UPW imp acluser --file "$SRC" --target "$(rs_url P)" --target-user importer -q
        check import.auth.target_user auth_works acluser "$UPW"
        REDISCLI_AUTH=$PW rs_stop P
    else
        fail import.auth.setup "server with --requirepass did not start"
    fi

    # A listener that never answers: connect succeeds, replies never come.
    if command -v cc >/dev/null 2>&1 && cc -O1 -o "$IT_TMP/blackhole" "$HERE/blackhole.c" 2>"$IT_TMP/cc.err"; then
        "$IT_TMP/blackhole" 20 >"$IT_TMP/bh.port" &
        bh_pid=$!
        on_exit "kill $bh_pid 2>/dev/null; wait $bh_pid 2>/dev/null"
        wait_until 3 test -s "$IT_TMP/bh.port"
        bh_port=$(cat "$IT_TMP/bh.port")
        "$RDBSYNC" --file "$SRC" --target "redis://127.0.0.1:$bh_port" --connect-timeout 300 -q \
            >"$IT_TMP/bh.out" 2>"$IT_TMP/bh.err" &
        imp_pid=$!
        if wait_until 3 eval "! kill -0 $imp_pid"; then
            RC=0
            wait "$imp_pid" || RC=$?
            check import.conn.no_answer fails_with bh 5 "timed out"
        else
            kill "$imp_pid" 2>/dev/null
            wait "$imp_pid" 2>/dev/null
            fail import.conn.no_answer "still waiting after 3 s with --connect-timeout 300 (a server that accepts but never answers)"
        fi
        kill "$bh_pid" 2>/dev/null
        wait "$bh_pid" 2>/dev/null
    else
        skip import.conn.no_answer "no C compiler for tests/import/blackhole.c: $(head -c 200 "$IT_TMP/cc.err" 2>/dev/null)"
    fi

    ok_and_same() { check_run "$1" 0 && same_data A B; }

    # Conflicts: B already holds str:neg (db 0 of the dataset).
    conflict_setup() { reset B; rs_cli B SET str:neg pre-existing >/dev/null; }
    conflict_error() {
        local line n_said
        check_run conflict 7 || return 1
        one_error conflict "key 'str:neg'" '[0-9]+ keys written' || return 1
        [ "$(rs_cli B GET str:neg)" == pre-existing ] || { echo "str:neg was overwritten"; return 1; }
        line=$(other_lines conflict)
        [[ $line =~ ([0-9]+)\ keys\ written ]] && n_said=${BASH_REMATCH[1]}
        [ "$((n_said + 1))" == "$(keysum B)" ] ||
            { echo "says $n_said keys written, the target holds $(keysum B) (1 of them pre-existing)"; return 1; }
    }
    conflict_setup
    imp conflict --file "$SRC" --target "$(rs_url B)" -q
    check import.conflict.error conflict_error

    # skip: every other key as in A, str:neg as it was.
    conflict_skip() {
        local a b
        check_run conflict_skip 0 || return 1
        [ "$(rs_cli B GET str:neg)" == pre-existing ] || { echo "str:neg was overwritten"; return 1; }
        a=$(canon A | grep -vF '"key":"str:neg"')
        b=$(canon B | grep -vF '"key":"str:neg"')
        [ "$a" == "$b" ] || { echo "the other keys differ: $(firstdiff "$a" "$b")"; return 1; }
    }
    conflict_setup
    imp conflict_skip --file "$SRC" --target "$(rs_url B)" -q --on-conflict skip
    check import.conflict.skip conflict_skip

    conflict_setup
    imp conflict_replace --file "$SRC" --target "$(rs_url B)" -q --on-conflict replace
    check import.conflict.replace ok_and_same conflict_replace

    # --flush-target: B holds a conflicting key, a key of its own and the
    # dataset's function library (left by the run above).
    rs_cli B SET str:neg pre-existing >/dev/null
    rs_cli B -n 7 SET other:key 1 >/dev/null
    imp flush --file "$SRC" --target "$(rs_url B)" -q --flush-target
    check import.flush_target ok_and_same flush
else
    skip import.conn "no generated dump"
fi

# ---- part 5: huge values as native commands ----
[ -z "${IMPORT_TIMING:-}" ] || echo "# part 5 starts at ${SECONDS}s" >&2

# RESP of one command (as gen_dataset.sh writes it).
r() {
    local a
    printf '*%d\r\n' "$#"
    for a in "$@"; do printf '$%d\r\n%s\r\n' "${#a}" "$a"; done
}
huge_dataset() {
    local i l=() s=() z=() h=() chunk
    for ((i = 0; i < 5000; i++)); do
        l+=("$((i * 7 - 3000))" "e$i")
        s+=("m$i")
        z+=("$((i - 2500)).5" "z$i")
        h+=("f$i" "v$((i * i))")
    done
    r RPUSH huge:list "${l[@]}"
    r SADD huge:set "${s[@]}" 1 2 3
    r ZADD huge:zset "${z[@]}" inf posinf -inf neginf -0 negzero 0.1 tenth 1e300 huge
    r HSET huge:hash "${h[@]}"
    printf -v chunk '%01024d' 7
    for ((i = 0; i < 100; i++)); do r APPEND huge:str "$chunk"; done
    for ((i = 1; i <= 3000; i++)); do r XADD huge:stream "5000-$i" f "$i" g "x$i"; done
    r XDEL huge:stream 5000-10 5000-2000
    r XGROUP CREATE huge:stream g1 0
    r XREADGROUP GROUP g1 alice COUNT 150 STREAMS huge:stream '>'
    r XREADGROUP GROUP g1 bob COUNT 50 STREAMS huge:stream '>'
    r XACK huge:stream g1 5000-1 5000-2 5000-151
    r XGROUP CREATE huge:stream g2 5000-1000
    r XGROUP CREATECONSUMER huge:stream g2 carol
    r SET small:str tiny
    r RPUSH small:list a b c
    r PEXPIREAT huge:list 4102444800123
    r PEXPIREAT huge:zset 4102444800456
    r PEXPIREAT huge:str 4102444800789
    r PEXPIREAT huge:stream 4102444801000
    r PEXPIREAT small:str 4102444802000
}

huge_check() {
    local a b
    check_run huge 0 || return 1
    grep -q 'some as native commands' "$IT_TMP/huge.err" ||
        { echo "the summary does not mention native commands: $(errtail huge)"; return 1; }
    same_data A B native || return 1
    a=$(rs_cli B --scan --pattern 'rdbsync:tmp:*')
    [ -z "$a" ] || { echo "temporary keys left: $(it_show "$a")"; return 1; }
    for k in huge:list huge:set huge:zset huge:hash huge:str; do
        a=$(rs_cli A DEBUG DIGEST-VALUE "$k")
        b=$(rs_cli B DEBUG DIGEST-VALUE "$k")
        [ "$a" == "$b" ] || { echo "$k: DEBUG DIGEST-VALUE $a vs $b"; return 1; }
    done
}

huge_conflict() {
    local line n_said a k tmps
    check_run huge_conflict 7 || return 1
    one_error huge_conflict "key 'huge:list'" '[0-9]+ keys written' || return 1
    a=$(rs_cli B LRANGE huge:list 0 -1 | paste -sd ' ')
    [ "$a" == "pre existing" ] || { echo "huge:list is now $(it_show "$a")"; return 1; }
    # A key being filled when the import stopped may be left, but not for
    # good: it must carry a TTL. It is not a key written.
    tmps=0
    for k in $(rs_cli B --scan --pattern 'rdbsync:tmp:*'); do
        [ "$(rs_cli B PTTL "$k")" -gt 0 ] || { echo "temporary key $k left without a TTL"; return 1; }
        tmps=$((tmps + 1))
    done
    line=$(other_lines huge_conflict)
    [[ $line =~ ([0-9]+)\ keys\ written ]] && n_said=${BASH_REMATCH[1]}
    [ "$((n_said + 1 + tmps))" == "$(keysum B)" ] ||
        { echo "says $n_said keys written, the target holds $(keysum B) (1 of them pre-existing, $tmps temporary)"; return 1; }
}

reset A
if out=$(huge_dataset | cli A --pipe 2>&1) && [[ $out == *"errors: 0,"* ]]; then
    cp "$(rs_save A)" "$IT_TMP/huge.rdb"
    reset B
    imp huge --file "$IT_TMP/huge.rdb" --target "$(rs_url B)" -q --max-restore-size 1k
    check import.huge.native huge_check
    reset B
    rs_cli B RPUSH huge:list pre existing >/dev/null
    imp huge_conflict --file "$IT_TMP/huge.rdb" --target "$(rs_url B)" -q --max-restore-size 1k
    check import.huge.conflict huge_conflict
else
    fail import.huge.setup "building the dataset: $(it_show "$(tail -n 3 <<<"$out")")"
fi

# ---- part 6: --db and --db-map ----
[ -z "${IMPORT_TIMING:-}" ] || echo "# part 6 starts at ${SECONDS}s" >&2

# dbs_of NAME: the dbs holding keys, space separated.
dbs_of() { rs_cli "$1" INFO keyspace | sed -n 's/^db\([0-9]*\):.*/\1/p' | paste -sd ' '; }
# same_db X DBX Y DBY: the keys of db DBX of X are those of db DBY of Y.
same_db() {
    local a b
    a=$(canon "$1" "$2" "$2" | sed "s/^{\"db\":$2,/{\"db\":N,/")
    b=$(canon "$3" "$4" "$4" | sed "s/^{\"db\":$4,/{\"db\":N,/")
    [ -n "$a" ] || { echo "$1 db $2 is empty"; return 1; }
    [ "$a" == "$b" ] || { echo "$1 db $2 vs $3 db $4: $(firstdiff "$a" "$b")"; return 1; }
}

# ok_and_dbs NAME SRC:DST...: run NAME exited 0 and each db SRC of A is
# db DST of B.
ok_and_dbs() {
    local n=$1 m
    shift
    check_run "$n" 0 || return 1
    for m in "$@"; do same_db A "${m%%:*}" B "${m#*:}" || return 1; done
}

if [ "$gen_ok" = 1 ] && have_gen; then
    reset B
    imp db1 --file "$SRC" --target "$(rs_url B)" -q --db 1
    check import.db.only ok_and_dbs db1 1:1
    assert_eq import.db.only_dbs 1 "$(dbs_of B)"

    reset B
    imp dbmap --file "$SRC" --target "$(rs_url B)" -q --db-map 1:5
    check import.db.map ok_and_dbs dbmap 1:5 0:0 3:3
    assert_eq import.db.map_dbs "0 3 5" "$(dbs_of B)"

    reset B
    imp dbonlymap --file "$SRC" --target "$(rs_url B)" -q --db 1 --db-map 1:5
    check import.db.only_map ok_and_dbs dbonlymap 1:5
    assert_eq import.db.only_map_dbs 5 "$(dbs_of B)"
else
    skip import.db "no generated dump"
fi

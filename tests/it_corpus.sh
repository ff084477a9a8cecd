#!/usr/bin/env bash
# it_corpus.sh -- every RDB file of the shared fixture pool, judged by what
# its MANIFEST note says, then decoded values checked against what the
# origin projects assert (EXPECTATIONS.md).
#
# Part 1 walks $SHARED/fixtures/MANIFEST.tsv. For each RDB row (rdb_version
# numeric or VALKEYnnn) it runs `rdbsync --file F --checksum` and expects:
#   unsupported version (REDIS > 13, VALKEY other than 080)
#                 exit 3, one `rdbsync:` line naming the version;
#   corrupt_empty_keys*.rdb
#                 exit 0 (empty keys accepted or skipped) or a clean error;
#   module_pre_ga (type 6, opaque without the module)
#                 exit 3, one `rdbsync:` line naming the type;
#   "checksum MISMATCH"
#                 exit 4, one `rdbsync:` line with an offset;
#   "reference walker stops" / "CORRUPT"
#                 exit 3 or 4, one `rdbsync:` line with an offset;
#   anything else exit 0 and the counts the note implies: crc64 (MISMATCH /
#                 zero / n/a(<v5) / otherwise ok), keys (sum of "types:"),
#                 the per-type counts, dbs, expires and functions.
#   Each file that decodes is also printed with --dump: exit 0, one line per
#   key and function, every line valid JSON.
# Part 1b runs every DUMP payload row with `--payload F` (--checksum and
#   --dump): valid payloads (kvrocks, Redis' legacy streams) give one key
#   of the noted type; Redis' corrupt-dump payloads are rejected cleanly
#   (always when their CRC is wrong) or decoded without harm.
# Part 1c cuts every good file under 64 KiB in two places (the middle, the
#   last byte): each prefix must fail with exit 3 and a clean offset.
# No run may print a sanitizer report. PASS lines are grouped per origin
# folder; a FAIL line names the file.
#
# Part 2 decodes chosen files with `--dump` and compares values with jq:
#   - tests/corpus/encodings.expected: Redis' csvdump listing of
#     encodings.rdb, restated (also checked against kvrocks' v10 re-save);
#   - short listings restated below from EXPECTATIONS.md (rdb-tools,
#     Redis assets, catcherwong, kvrocks payloads);
#   - HDT3213's cases/X.json and librdb's *_data.json, read in place from
#     the pool and compared after bringing both sides to one shape.
#
# Needs: bash, coreutils (timeout), jq (part 2 and the JSON check are
# skipped without it; CI must install the jq package).
# Environment: RDBSYNC, SHARED (tests/lib.sh), CORPUS_TIMEOUT (s per run),
# CORPUS_QUICK=1 skips the per-file --dump pass and part 1c (about half the
# run time: ~1.5 min on 2 busy cores with the sanitized build).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

FIX=${SHARED:+$SHARED/fixtures}
if [ -z "$FIX" ] || [ ! -f "$FIX/MANIFEST.tsv" ]; then
    echo "SKIP corpus: ../shared/fixtures not present"
    exit 0
fi
if ! have_rdbsync; then
    skip corpus "no binary at $RDBSYNC (run make)"
    exit 0
fi
CORPUS_TIMEOUT=${CORPUS_TIMEOUT:-120}
CORPUS_DIR=$ROOT/tests/corpus

# ---- Reading a MANIFEST note ----

# "types: stringx3, set_intsetx1; ..." -> "string 3\nset_intset 1". Empty
# for "no keys".
note_types() {
    [[ $1 =~ types:\ ([^;|]*) ]] || return 0
    local item
    IFS=',' read -ra items <<<"${BASH_REMATCH[1]}"
    for item in "${items[@]}"; do
        item=${item//[[:space:]]/}
        [[ $item =~ ^(.+)x([0-9]+)$ ]] && printf '%s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    done
}

# Count of an opcode in "opcodes: EXPIRETIME_MSx2, FREQx1".
note_opcode() {
    [[ $1 =~ opcodes:\ ([^;|]*) ]] || { echo 0; return; }
    local list=" ${BASH_REMATCH[1]//,/ } "
    if [[ $list =~ \ $2x([0-9]+)\  ]]; then echo "${BASH_REMATCH[1]}"; else echo 0; fi
}

# Logical type of an encoding name from the notes (Redis' RDB_TYPE_* names).
ltype_of() {
    case $1 in
    string*) echo string ;; list*) echo list ;; set*) echo set ;;
    zset*) echo zset ;; hash*) echo hash ;; stream*) echo stream ;;
    module*) echo module ;; *) echo unknown ;;
    esac
}

# The `types:` line rdbsync should print for this note.
expect_types_line() {
    declare -A n=([string]=0 [list]=0 [set]=0 [zset]=0 [hash]=0 [stream]=0 [module]=0)
    local enc cnt t line=
    while read -r enc cnt; do
        [ -n "$enc" ] || continue
        t=$(ltype_of "$enc")
        n[$t]=$(( ${n[$t]:-0} + cnt ))
    done < <(note_types "$1")
    for t in string list set zset hash stream module; do line+=" $t=${n[$t]}"; done
    echo "${line# }"
}

expect_keys() {
    local enc cnt sum=0
    while read -r enc cnt; do [ -n "$enc" ] && sum=$((sum + cnt)); done < <(note_types "$1")
    echo "$sum"
}

expect_crc() { # NOTE VERSION
    case $1 in
    *"checksum MISMATCH"*) echo mismatch ;;
    *"checksum zero"* | *"checksum n/a"*) echo absent ;;
    *) if [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -lt 5 ]; then echo absent; else echo ok; fi ;;
    esac
}

# "dbs [0, 2]" -> "0 2"; empty when the note does not list dbs.
expect_dbs() {
    [[ $1 =~ dbs\ \[([0-9, ]*)\] ]] || return 0
    echo "${BASH_REMATCH[1]//,/}"
}

# "REDIS0011" -> 11, "VALKEY080" -> 80.
version_number() {
    local v=${1#VALKEY}
    echo $((10#$v))
}

version_supported() {
    case $1 in
    VALKEY080) return 0 ;;
    VALKEY*) return 1 ;;
    *) [ "$1" -ge 1 ] && [ "$1" -le 13 ] ;;
    esac
}

# ---- Judging one run ----

# Value of "name: value" in the --checksum output.
field() { sed -n "s/^$1: //p" "$2" | head -n 1; }

sanitizer_report() { grep -qE 'Sanitizer|runtime error:' "$1"; }

# Exactly one stderr line, `rdbsync: ...`, containing every extra ERE given.
clean_error() { # ERRFILE [ERE...]
    local f=$1 line
    shift
    [ "$(wc -l <"$f")" -eq 1 ] || { echo "stderr has $(wc -l <"$f") lines: $(it_show "$(head -c 300 "$f")")"; return 1; }
    line=$(cat "$f")
    [[ $line == "rdbsync: "* ]] || { echo "stderr line does not start with 'rdbsync: ': $(it_show "$line")"; return 1; }
    local re
    for re in "$@"; do
        [[ $line =~ $re ]] || { echo "stderr line lacks /$re/: $(it_show "$line")"; return 1; }
    done
}

# Checks for a file that must decode; prints the first problem.
judge_ok() { # NOTE VERSION OUT ERR RC
    local note=$1 ver=$2 out=$3 err=$4 rc=$5 got want d
    [ "$rc" -eq 0 ] || { echo "exit $rc, want 0: $(it_show "$(head -c 300 "$err")")"; return 1; }
    [ ! -s "$err" ] || { echo "exit 0 but stderr: $(it_show "$(head -c 300 "$err")")"; return 1; }
    got=$(field rdb_version "$out"); want=$(version_number "$ver")
    [ "$got" == "$want" ] || { echo "rdb_version $(it_show "$got"), want $want"; return 1; }
    got=$(field crc64 "$out"); want=$(expect_crc "$note" "$ver")
    [ "$got" == "$want" ] || { echo "crc64 $(it_show "$got"), want $want"; return 1; }
    got=$(field keys "$out"); want=$(expect_keys "$note")
    [ "$got" == "$want" ] || { echo "keys $(it_show "$got"), want $want (from the note)"; return 1; }
    # Compared as a set of name=count: the order is the printer's business.
    got=$(field types "$out" | tr ' ' '\n' | LC_ALL=C sort | tr '\n' ' ')
    want=$(expect_types_line "$note" | tr ' ' '\n' | LC_ALL=C sort | tr '\n' ' ')
    [ "$got" == "$want" ] || { echo "types $(it_show "$got"), want '$want'"; return 1; }
    want=$(( $(note_opcode "$note" EXPIRETIME_MS) + $(note_opcode "$note" EXPIRETIME) ))
    got=$(field expires "$out")
    [ "$got" == "$want" ] || { echo "expires $(it_show "$got"), want $want"; return 1; }
    want=$(( $(note_opcode "$note" FUNCTION2) + $(note_opcode "$note" FUNCTION_PRE_GA) ))
    got=$(field functions "$out")
    [ "$got" == "$want" ] || { echo "functions $(it_show "$got"), want $want"; return 1; }
    # The note lists every db the file selects, some maybe empty: the dbs
    # with keys must be among them.
    want=$(expect_dbs "$note")
    if [ -n "$want" ]; then
        for d in $(sed -n 's/^keys\.db\([0-9]*\): .*/\1/p' "$out"); do
            [[ " $want " == *" $d "* ]] || { echo "keys in db $d, the note lists dbs [$want]"; return 1; }
        done
    fi
    got=$(field digest "$out")
    [[ $got =~ ^[0-9a-f]{64}$ ]] || { echo "digest $(it_show "$got")"; return 1; }
}

# Classify and judge one RDB file; prints the problem and returns 1 on FAIL.
judge_file() { # PATH VERSION NOTE OUT ERR RC
    local path=$1 ver=$2 note=$3 out=$4 err=$5 rc=$6
    if sanitizer_report "$err"; then
        echo "sanitizer report: $(it_show "$(grep -m1 -E 'Sanitizer|runtime error:' "$err")")"
        return 1
    fi
    if [ "$rc" -eq 124 ]; then echo "timed out after ${CORPUS_TIMEOUT}s"; return 1; fi
    if ! version_supported "$ver"; then
        [ "$rc" -eq 3 ] || { echo "unsupported version $ver: exit $rc, want 3"; return 1; }
        clean_error "$err" "(^|[^0-9])$(version_number "$ver")([^0-9]|$)"
        return
    fi
    case $path in
    */corrupt_empty_keys*.rdb)
        # Redis skips empty keys; accepting them with 0 elements is fine too.
        if [ "$rc" -eq 0 ]; then
            local crc
            crc=$(field crc64 "$out")
            [ "$crc" == "$(expect_crc "$note" "$ver")" ] || { echo "crc64 '$crc'"; return 1; }
            return 0
        fi
        [ "$rc" -eq 3 ] || { echo "exit $rc, want 0 or 3"; return 1; }
        clean_error "$err" offset
        return
        ;;
    esac
    case $note in
    *module_pre_ga*)
        [ "$rc" -eq 3 ] || { echo "module type 6: exit $rc, want 3"; return 1; }
        clean_error "$err" '(type 6|module)'
        ;;
    *"checksum MISMATCH"*)
        [ "$rc" -eq 4 ] || { echo "checksum mismatch: exit $rc, want 4"; return 1; }
        clean_error "$err" offset
        ;;
    *"reference walker stops"* | *CORRUPT*)
        [ "$rc" -eq 3 ] || [ "$rc" -eq 4 ] || { echo "corrupt file: exit $rc, want 3 or 4"; return 1; }
        clean_error "$err" offset
        ;;
    *) judge_ok "$note" "$ver" "$out" "$err" "$rc" ;;
    esac
}

# A file that decodes must also print: --dump exits 0, prints one JSON
# object per key (plus one per function), and jq reads every line. Without
# jq only the exit status and the line count are checked.
judge_dump() { # PATH OUT(checksum report)
    local rc=0 keys lines
    timeout "$CORPUS_TIMEOUT" "$RDBSYNC" --file "$FIX/$1" --dump >"$IT_TMP/dump.jsonl" 2>"$IT_TMP/dump.err" || rc=$?
    if sanitizer_report "$IT_TMP/dump.err"; then echo "--dump: sanitizer report"; return 1; fi
    [ "$rc" -eq 0 ] || { echo "--dump exit $rc: $(it_show "$(head -c 300 "$IT_TMP/dump.err")")"; return 1; }
    keys=$(( $(field keys "$2") + $(field functions "$2") ))
    lines=$(wc -l <"$IT_TMP/dump.jsonl")
    [ "$lines" -eq "$keys" ] || { echo "--dump printed $lines lines for $keys keys+functions"; return 1; }
    if [ -n "$HAVE_JQ" ] && ! jq -e . "$IT_TMP/dump.jsonl" >/dev/null 2>&1; then
        echo "--dump output is not valid JSON lines"; return 1
    fi
}

# ---- Part 1: the walk ----

HAVE_JQ=$(command -v jq || true)
declare -A origin_pass=()
payloads=()   # "path<TAB>note" of DUMP payload rows, judged after the files
truncs=()     # files small enough for the truncation pass
out=$IT_TMP/out err=$IT_TMP/err
while IFS=$'\t' read -r path _repo _opath _commit _lic bytes ver note; do
    case $ver in
    rdb_version | -) continue ;;
    dump-*) payloads+=("$path"$'\t'"$note"); continue ;;
    esac
    [[ $ver =~ ^([0-9]+|VALKEY[0-9]+)$ ]] || continue
    origin=${path%%/*}
    rc=0
    timeout "$CORPUS_TIMEOUT" "$RDBSYNC" --file "$FIX/$path" --checksum >"$out" 2>"$err" || rc=$?
    if why=$(judge_file "$path" "$ver" "$note" "$out" "$err" "$rc") &&
        { [ "$rc" -ne 0 ] || [ -n "${CORPUS_QUICK:-}" ] || why=$(judge_dump "$path" "$out"); }; then
        origin_pass[$origin]=$(( ${origin_pass[$origin]:-0} + 1 ))
        # Truncation candidates: decoded fine, nothing after the RDB proper.
        if [ "$rc" -eq 0 ] && [ "$bytes" -le 65536 ] && [[ $note != *trailing* ]]; then
            truncs+=("$path")
        fi
    else
        fail "corpus $path" "$why"
    fi
done <"$FIX/MANIFEST.tsv"

while read -r origin; do
    [ -n "$origin" ] && pass "corpus $origin (${origin_pass[$origin]} files)"
done < <(printf '%s\n' "${!origin_pass[@]}" | LC_ALL=C sort)

# ---- Part 1b: DUMP payloads (`--payload F`) ----
# Valid payloads (kvrocks' restore tests, Redis' legacy stream loads) must
# decode to one key of the type their note names. Redis' corrupt-dump
# payloads must be rejected cleanly -- always when their CRC is wrong -- or,
# where they are only semantically bad (duplicates, TTL order, empty
# nodes), may be accepted; both without a sanitizer report, and --dump must
# agree with --checksum.
judge_payload() { # PATH NOTE
    local f=$FIX/$1 note=$2 rc=0 rcd=0 t
    timeout "$CORPUS_TIMEOUT" "$RDBSYNC" --payload "$f" --checksum >"$out" 2>"$err" || rc=$?
    timeout "$CORPUS_TIMEOUT" "$RDBSYNC" --payload "$f" --dump >"$IT_TMP/dump.jsonl" 2>"$IT_TMP/dump.err" || rcd=$?
    if sanitizer_report "$err" || sanitizer_report "$IT_TMP/dump.err"; then
        echo "sanitizer report: $(it_show "$(grep -h -m1 -E 'Sanitizer|runtime error:' "$err" "$IT_TMP/dump.err")")"
        return 1
    fi
    [ "$rc" -eq "$rcd" ] || { echo "--checksum exit $rc but --dump exit $rcd"; return 1; }
    case $1 in
    */corrupt-dump/*)
        case $note in
        *"crc MISMATCH"*)
            [ "$rc" -eq 3 ] || [ "$rc" -eq 4 ] || { echo "bad CRC: exit $rc, want 3 or 4"; return 1; }
            clean_error "$err" '[Cc]hecksum|CRC' || return 1 ;;
        *)
            if [ "$rc" -eq 0 ]; then PAYLOAD_ACCEPTED=1; return 0; fi
            [ "$rc" -eq 3 ] || { echo "exit $rc, want 0 or 3"; return 1; }
            clean_error "$err" offset || return 1 ;;
        esac
        ;;
    *)
        [ "$rc" -eq 0 ] || { echo "exit $rc, want 0: $(it_show "$(head -c 300 "$err")")"; return 1; }
        [ "$(field keys "$out")" == 1 ] || { echo "keys $(it_show "$(field keys "$out")"), want 1"; return 1; }
        [[ $note =~ value\ type\ [0-9]+\ ([a-z0-9_]+) ]] || { echo "note names no type"; return 1; }
        t=$(ltype_of "${BASH_REMATCH[1]}")
        [[ " $(field types "$out") " == *" $t=1 "* ]] || { echo "types '$(field types "$out")', want $t=1"; return 1; }
        ;;
    esac
}

declare -A pay_pass=() pay_acc=()
for row in "${payloads[@]}"; do
    path=${row%%$'\t'*}
    group=${path%/*}
    PAYLOAD_ACCEPTED=0
    if why=$(judge_payload "$path" "${row#*$'\t'}" && echo "acc=$PAYLOAD_ACCEPTED"); then
        pay_pass[$group]=$(( ${pay_pass[$group]:-0} + 1 ))
        [[ $why == *acc=1 ]] && pay_acc[$group]=$(( ${pay_acc[$group]:-0} + 1 ))
    else
        fail "corpus-payload $path" "$why"
    fi
done
while read -r group; do
    [ -n "$group" ] || continue
    np=${pay_pass[$group]} na=${pay_acc[$group]:-0}
    if [[ $group == */corrupt-dump ]]; then
        pass "corpus-payload $group ($np payloads: $((np - na)) rejected, $na decoded as given)"
    else
        pass "corpus-payload $group ($np payloads)"
    fi
done < <(printf '%s\n' "${!pay_pass[@]}" | LC_ALL=C sort)

# ---- Part 1c: truncated copies ----
# Every prefix of a good file that stops before its end must fail cleanly
# (exit 3: input ended early) with an offset no larger than the cut. Two
# cuts per file: the middle (inside some value, mostly) and the last byte
# (inside the CRC, or the EOF opcode before version 5).
ntr=0
[ -z "${CORPUS_QUICK:-}" ] || truncs=()
for path in "${truncs[@]}"; do
    size=$(stat -c %s "$FIX/$path")
    bad=
    for cut in $((size / 2)) $((size - 1)); do
        if [ "$cut" -lt 9 ] || [ "$cut" -ge "$size" ]; then continue; fi
        head -c "$cut" "$FIX/$path" >"$IT_TMP/cut.rdb"
        rc=0
        timeout "$CORPUS_TIMEOUT" "$RDBSYNC" --file "$IT_TMP/cut.rdb" --checksum >"$out" 2>"$err" || rc=$?
        if sanitizer_report "$err"; then bad="cut at $cut: sanitizer report"; break; fi
        if [ "$rc" -ne 3 ]; then bad="cut at $cut of $size: exit $rc, want 3"; break; fi
        if ! why=$(clean_error "$err" 'offset [0-9]+'); then bad="cut at $cut: $why"; break; fi
        off=$(grep -oE 'offset [0-9]+' "$err" | head -n 1 | cut -d' ' -f2)
        if [ "$off" -gt "$cut" ]; then bad="cut at $cut: error names offset $off"; break; fi
    done
    if [ -n "$bad" ]; then fail "corpus-truncated $path" "$bad"; else ntr=$((ntr + 1)); fi
done
if [ -n "${CORPUS_QUICK:-}" ]; then skip corpus-truncated "CORPUS_QUICK is set"
else pass "corpus-truncated ($ntr files, 2 cuts each)"; fi

# ---- Part 1d: same data, other encodings: equal digests ----
# Files the origins wrote with the same content in other encodings or RDB
# versions (Redis 7 re-saves of rdb-tools' dumps, kvrocks' v10 re-save of
# encodings.rdb, zipmap vs ziplist hashes). Each group must share one
# digest: the digest does not depend on the encoding (rdb/digest.h).
# The groups were checked to hold equal keys and values with --dump.
RR=redis-redis/tests/assets
RT=sripathikrishnan-redis-rdb-tools/tests/dumps
RT7=sripathikrishnan-redis-rdb-tools/_history
digest_groups=(
    "$RR/encodings.rdb apache-kvrocks/_history/a60a2d47bb/tests/testdata/encodings_ver10.rdb"
    "$RR/hash-ziplist.rdb $RR/hash-zipmap.rdb redis-redis/_history/d102db1dd8/tests/assets/hash-ziplist.rdb"
    "$RT/hash_as_ziplist.rdb $RT/zipmap_that_compresses_easily.rdb $RT7/9221f71146/tests/dumps-7/zipmap_that_compresses_easily.rdb"
    "redis-librdb/test/dumps/ziplist_v3.rdb $RT7/9221f71146/tests/dumps-7/ziplist_that_compresses_easily.rdb"
)
# rdb-tools' dumps and every Redis 7 re-save of the same name in the pool.
for b in easily_compressible_string_key empty_database integer_keys intset_16 intset_32 intset_64 \
    multiple_databases regular_set sorted_set_as_ziplist ziplist_that_doesnt_compress \
    ziplist_with_integers zipmap_that_doesnt_compress; do
    group="$RT/$b.rdb"
    for f in "$FIX"/$RT7/*/tests/dumps-7/"$b".rdb; do
        [ -f "$f" ] && group+=" ${f#"$FIX"/}"
    done
    digest_groups+=("$group")
done
for group in "${digest_groups[@]}"; do
    read -ra files <<<"$group"
    name="corpus-digest $(basename "${files[0]}" .rdb)"
    first='' why=
    for f in "${files[@]}"; do
        if [ ! -f "$FIX/$f" ]; then why="$f not in the pool"; break; fi
        d=$("$RDBSYNC" --file "$FIX/$f" --checksum 2>/dev/null | sed -n 's/^digest: //p')
        if [ -z "$d" ]; then why="$f: no digest"; break; fi
        if [ -z "$first" ]; then first=$d
        elif [ "$d" != "$first" ]; then why="$f: digest $d, ${files[0]}: $first"; break; fi
    done
    if [ -z "$why" ]; then pass "$name (${#files[@]} files)"
    elif [[ $why == *"not in the pool" ]]; then skip "$name" "$why"
    else fail "$name" "$why"; fi
done

# ---- Part 2: decoded values ----

if [ -z "$HAVE_JQ" ]; then
    skip corpus-values "jq not installed (the CI image needs the jq package)"
    exit 0
fi

# Dump FILE (relative to the pool) to $IT_TMP/dump.jsonl; 1 when it fails.
# DUMP_INPUT=--payload reads FILE as a DUMP payload. --dump writes a byte
# that is not valid UTF-8 as \udcXX, which jq would read as U+FFFD; here it
# becomes \u00XX (U+00XX in jq), the convention of the other tools' JSON,
# while valid UTF-8 stays text (print.h).
dump() {
    local rc=0
    timeout "$CORPUS_TIMEOUT" "$RDBSYNC" "${DUMP_INPUT:---file}" "$FIX/$1" --dump \
        >"$IT_TMP/dump.raw" 2>"$IT_TMP/dump.err" || rc=$?
    perl -pe 's/(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])/$1\\u00$2/g' "$IT_TMP/dump.raw" >"$IT_TMP/dump.jsonl"
    if [ "$rc" -ne 0 ] || sanitizer_report "$IT_TMP/dump.err"; then
        DUMP_WHY="--dump exit $rc: $(it_show "$(head -c 300 "$IT_TMP/dump.err")")"
        return 1
    fi
    if ! jq -e . "$IT_TMP/dump.jsonl" >/dev/null 2>"$IT_TMP/jq.err"; then
        DUMP_WHY="--dump output is not JSON lines: $(it_show "$(head -c 200 "$IT_TMP/jq.err")")"
        return 1
    fi
}

# One line per key, csvdump-like, tab separated, lines sorted:
#   db key type values...
# Sets are sorted, hashes sorted by field (f v f v ...), zsets sorted by
# score then member (m s m s ...); an expire is appended as "expire=MS".
# Hash field TTLs, when present, follow each value as "ttl=MS".
JQ_FLAT='
  def num: if type == "number" then (if . == (.|floor) and (.|fabs) < 1e17
           then (.|tostring|sub("\\.0$";"")) else tostring end) else . end;
  select(.key != null)
  | [(.db|tostring), .key, .type] +
    (if .type == "string" then [.value]
     elif .type == "list" then .value
     elif .type == "set" then (.value|sort)
     elif .type == "zset" then (.value|sort_by(.[1], .[0])|map(.[0], (.[1]|num)))
     elif .type == "hash" then
        (if (.value|type) == "array"
         then (.value|sort_by(.[0])|map(.[0], .[1] + (if .[2] then "\tttl=\(.[2])" else "" end)))
         else (.value|to_entries|sort_by(.key)|map(.key, .value)) end)
     else [.value|tojson] end)
    + (if .expire then ["expire=\(.expire)"] else [] end)
  | join("\t")'

flat() { jq -r "$JQ_FLAT" "$IT_TMP/dump.jsonl" | LC_ALL=C sort; }

# value_check NAME FILE EXPECTED: EXPECTED is the flat listing (any order).
value_check() {
    local name=$1 file=$2 want got
    if [ ! -f "$FIX/$file" ]; then skip "$name" "$file not in the pool"; return; fi
    if ! dump "$file"; then fail "$name" "$DUMP_WHY"; return; fi
    want=$(printf '%s\n' "$3" | sed '/^$/d' | LC_ALL=C sort)
    got=$(flat)
    if [ "$got" == "$want" ]; then pass "$name"
    else fail "$name" "$file: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | head -n 4 | tr '\n' ' ' | cut -c1-400)"
    fi
}

T=$'\t'

if [ -f "$CORPUS_DIR/encodings.expected" ]; then
    enc=$(grep -v '^#' "$CORPUS_DIR/encodings.expected")
    value_check corpus-value.encodings "$RR/encodings.rdb" "$enc"
    value_check corpus-value.kvrocks_encodings_ver10 \
        apache-kvrocks/_history/a60a2d47bb/tests/testdata/encodings_ver10.rdb "$enc"
else
    fail corpus-value.encodings "missing $CORPUS_DIR/encodings.expected"
fi
value_check corpus-value.hash_zipmap "$RR/hash-zipmap.rdb" "0${T}hash${T}hash${T}f1${T}v1${T}f2${T}v2"
value_check corpus-value.hash_ziplist "$RR/hash-ziplist.rdb" "0${T}hash${T}hash${T}f1${T}v1${T}f2${T}v2"
value_check corpus-value.zset_ziplist "$RR/zset-ziplist.rdb" "0${T}zset${T}zset${T}one${T}1${T}two${T}2"
value_check corpus-value.intset_16 "$RT/intset_16.rdb" "0${T}intset_16${T}set${T}32764${T}32765${T}32766"
value_check corpus-value.intset_32 "$RT/intset_32.rdb" \
    "0${T}intset_32${T}set${T}2147418108${T}2147418109${T}2147418110"
value_check corpus-value.intset_64 "$RT/intset_64.rdb" \
    "0${T}intset_64${T}set${T}9223090557583032316${T}9223090557583032317${T}9223090557583032318"
value_check corpus-value.ziplist_with_integers "$RT/ziplist_with_integers.rdb" \
    "0${T}ziplist_with_integers${T}list${T}$(printf '%s\t' 0 1 2 3 4 5 6 7 8 9 10 11 12 -2 13 25 -61 63 \
        16380 -16000 65535 -65523 4194304 9223372036854775807 | sed 's/\t$//')"
# 2022-12-25 10:11:12.573 UTC
value_check corpus-value.keys_with_expiry "$RT/keys_with_expiry.rdb" \
    "0${T}expires_ms_precision${T}string${T}2022-12-25 10:11:12.573 UTC${T}expire=1671963072573"
value_check corpus-value.multiple_databases "$RT/multiple_databases.rdb" \
    "0${T}key_in_zeroth_database${T}string${T}zero
2${T}key_in_second_database${T}string${T}second"
value_check corpus-value.integer_keys "$RT/integer_keys.rdb" \
    "0${T}125${T}string${T}Positive 8 bit integer
0${T}43947${T}string${T}Positive 16 bit integer
0${T}183358245${T}string${T}Positive 32 bit integer
0${T}-123${T}string${T}Negative 8 bit integer
0${T}-29477${T}string${T}Negative 16 bit integer
0${T}-183358245${T}string${T}Negative 32 bit integer"
value_check corpus-value.zipmap_compresses "$RT/zipmap_that_compresses_easily.rdb" \
    "0${T}zipmap_compresses_easily${T}hash${T}a${T}aa${T}aa${T}aaaa${T}aaaaa${T}aaaaaaaaaaaaaa"
value_check corpus-value.zipmap_doesnt_compress "$RT/zipmap_that_doesnt_compress.rdb" \
    "0${T}zimap_doesnt_compress${T}hash${T}MKD1G6${T}2${T}YNNXK${T}F7TI"
value_check corpus-value.regular_set "$RT/regular_set.rdb" \
    "0${T}regular_set${T}set${T}alpha${T}beta${T}delta${T}gamma${T}kappa${T}phi"
value_check corpus-value.sorted_set_as_ziplist "$RT/sorted_set_as_ziplist.rdb" \
    "0${T}sorted_set_as_ziplist${T}zset${T}8b6ba6718a786daefa69438148361901${T}1${T}cb7a24bb7528f934b841b34c3a73e0c7${T}2.37${T}523af537946b79c4f8369ed39ba78605${T}3.423"

# DUMP payloads whose origin test states the value (kvrocks restore_test,
# Redis stream-cgroups); a payload decodes as key "payload".
KV=apache-kvrocks/dump-payloads/restore_test
P=0${T}payload
DUMP_INPUT=--payload
value_check corpus-value.payload_string "$KV/001_TestRestore_String_value.dump" "$P${T}string${T}bar"
value_check corpus-value.payload_string_new "$KV/002_TestRestore_String_newValue.dump" "$P${T}string${T}new"
value_check corpus-value.payload_hash_listpack "$KV/005_TestRestore_Hash_List_pack_encoding_value.dump" \
    "$P${T}hash${T}f1${T}v1${T}f2${T}v2${T}f3${T}v3"
value_check corpus-value.payload_zset2 "$KV/007_TestRestore_ZSet_ZSet2_object_encoding_value.dump" \
    "$P${T}zset${T}a${T}1.1${T}b${T}2.2${T}c${T}3.3"
value_check corpus-value.payload_set_listpack "$KV/015_TestRestore_Set_List_pack_encoding_value.dump" \
    "$P${T}set${T}1${T}2${T}3${T}4${T}abcd"
value_check corpus-value.payload_intset16 "$KV/016_TestRestore_Set_16bit_INTSET_encoding_value.dump" \
    "$P${T}set${T}1${T}2${T}3${T}4"
value_check corpus-value.payload_intset32 "$KV/017_TestRestore_Set_32bit_INTSET_encoding_value.dump" \
    "$P${T}set${T}1234${T}123456${T}33333"
value_check corpus-value.payload_intset64 "$KV/018_TestRestore_Set_64bit_INTSET_encoding_value.dump" \
    "$P${T}set${T}55555555555${T}55555555556${T}55555555557"
for f in 012_TestRestore_List_Quick_list_encoding_value:7 013_TestRestore_List_List_pack_with_32bit_string_value:601; do
    name=corpus-value.payload_llen_${f%%_*}
    if dump "$KV/${f%:*}.dump"; then
        assert_eq "$name" "${f#*:}" "$(jq -r '.value | length' "$IT_TMP/dump.jsonl")"
    else fail "$name" "$DUMP_WHY"; fi
done
SC=redis-redis/dump-payloads/stream-cgroups
name=corpus-value.payload_stream_v1
if dump "$SC/001_Loading_from_legacy_Redis_v6_2_x_rdb_ver_10_persistence.dump"; then
    # Type 15 carries neither: Redis synthesizes max-deleted 0-0 and
    # entries-added = length.
    assert_eq "$name" "0-0 2" "$(jq -r '.value | "\(.max_deleted_id) \(.entries_added)"' "$IT_TMP/dump.jsonl")"
else fail "$name" "$DUMP_WHY"; fi
name=corpus-value.payload_stream_v2
if dump "$SC/002_Loading_from_legacy_Redis_v7_0_x_rdb_ver_11_persistence.dump"; then
    # Type 19 has no active-time: it equals seen-time, as Redis loads it.
    assert_eq "$name" "true" "$(jq -r '[.value.groups[].consumers[] | .seen_time == .active_time] | all' "$IT_TMP/dump.jsonl")"
else fail "$name" "$DUMP_WHY"; fi
DUMP_INPUT=--file

# list-quicklist.rdb: GET x is 7 and the list's first element is 7.
name=corpus-value.list_quicklist
if dump "$RR/list-quicklist.rdb"; then
    got=$(jq -r 'select(.key=="x") | .value' "$IT_TMP/dump.jsonl")/$(jq -r 'select(.key=="list") | .value[0]' "$IT_TMP/dump.jsonl")
    assert_eq "$name" "7/7" "$got"
else fail "$name" "$DUMP_WHY"; fi

# zipmap_with_big_values: field -> value length.
name=corpus-value.zipmap_with_big_values
if dump "$RT/zipmap_with_big_values.rdb"; then
    got=$(jq -r 'select(.key=="zipmap_with_big_values") | .value | to_entries | sort_by(.value|length)
                 | map("\(.key)=\(.value|length)") | join(" ")' "$IT_TMP/dump.jsonl")
    assert_eq "$name" "253bytes=253 254bytes=254 255bytes=255 300bytes=300 20kbytes=20000" "$got"
else fail "$name" "$DUMP_WHY"; fi

# Redis 7.4 hash field TTLs: f1 has one, f2 none.
for f in listpack_ex hash_metadata; do
    name=corpus-value.redis74_hash_ttl_$f
    if dump "catcherwong-rdb-tools/tests/dumps/redis74_hash_ttl_$f.rdb"; then
        got=$(jq -r 'select(.key=="mykey") | .value | sort_by(.[0])
                     | map("\(.[0])=\(.[1]):\(if .[2] == null then "none" elif .[2] > 0 then "ttl" else .[2] end)")
                     | join(" ")' "$IT_TMP/dump.jsonl")
        assert_eq "$name" "f1=v1:ttl f2=v2:none" "$got"
    else fail "$name" "$DUMP_WHY"; fi
done

# Dragonfly's stream fixtures are not in the pool (license); say so.
for f in RDB_TYPE_STREAM_LISTPACKS_2 RDB_TYPE_STREAM_LISTPACKS_3; do
    p=$(awk -F'\t' -v f="/$f.rdb" 'index($1, f) { print $1; exit }' "$FIX/MANIFEST.tsv")
    if [ -z "$p" ]; then skip "corpus-value.dragonfly_$f" "not in the pool"; fi
done

# ---- HDT3213/rdb's converter outputs against our decode ----
# Its cases/X.json is what `rdb -c json` prints for X.rdb: one object per key
# with type-specific members, expirations as local time (+08:00), strings
# as UTF-8. Both sides are brought to one shape and compared key by key;
# stream metadata is compared on the members their JSON has.
JQ_HDT='
  # Strings are UTF-8 text on both sides (print.h).
  def ms: . as $t | ($t[0:19] + "Z" | fromdateiso8601) as $s
      | ($t | capture("T[0-9:]{8}(\\.(?<f>[0-9]+))?(?<z>Z|(?<sg>[+-])(?<h>[0-9]{2}):(?<m>[0-9]{2}))$")) as $c
      | (if $c.sg == null then 0 else (($c.h|tonumber) * 3600 + ($c.m|tonumber) * 60)
         * (if $c.sg == "+" then 1 else -1 end) end) as $off
      | ((($c.f // "0") + "000")[0:3] | tonumber) as $frac
      | ($s - $off) * 1000 + $frac;
  def pairs: [range(0; length; 2) as $i | {key: .[$i], value: .[$i + 1]}] | from_entries;
  def proj($shape): if ($shape|type) == "object" and type == "object"
        then . as $o | reduce ($shape|keys[]) as $k ({}; .[$k] = ($o[$k] | proj($shape[$k])))
      elif ($shape|type) == "array" and type == "array" and length == ($shape|length)
        then [range(0; length) as $i | .[$i] | proj($shape[$i])]
      else . end;
  def nottl: if .ttl == {} then del(.ttl) else . end;

  def t_stream: {len, last: .lastId, first: .firstId, maxdel: .maxDeletedId,
        added: .addedEntriesCount,
        msgs: [.entries[]?.msgs[] | select(.deleted|not) | [.id, .fields]],
        groups: ((.groups // []) | map({name, last: .lastId, read: .entriesRead,
          pel: ((.pending // []) | map([.id, .deliveryTime, .deliveryCount])),
          consumers: ((.consumers // []) | map({name, seen: .seenTime, active: .activeTime,
                                               pel: (.pending // [])}
                                              | with_entries(select(.value != null))))}
          | with_entries(select(.value != null))))}
      | with_entries(select(.value != null));
  def m_stream: {len: .length, last: .last_id, first: .first_id, maxdel: .max_deleted_id,
        added: .entries_added, msgs: (.entries | map([.[0], (.[1]|pairs)])),
        groups: (.groups | map({name, last: .last_id, read: .entries_read,
          pel: .pel, consumers: (.consumers | map({name, seen: .seen_time,
                                 active: .active_time, pel}))}))};

  # Go wrote invalid UTF-8 as U+FFFD: such a key cannot be compared.
  def theirs: .[] | (tojson | test("\ufffd")) as $lossy
      | (if $lossy then {lossy: true} else {} end) + if .type == "functions" then {function: .functionsLua}
      elif .type == "aux" or .type == "module_aux" then empty
      else {db, key, type, expire: (if .expiration then (.expiration|ms) else null end)}
        + (if .type == "string" then {v: .value}
           elif .type == "list" then {v: .values}
           elif .type == "set" then {v: (.members|sort)}
           elif .type == "zset" then {v: (.entries|map([.member, .score])|sort)}
           elif .type == "hash" then ({v: .hash, ttl: ((.expire // {})|with_entries(select(.value != 0)))}|nottl)
           elif .type == "stream" then {v: t_stream}
           else {v: "unsupported by this check"} end) end;
  def mine: if .function then {function} else
      {db, key, type, expire}
        + (if .type == "string" or .type == "list" then {v: .value}
           elif .type == "set" then {v: (.value|sort)}
           elif .type == "zset" then {v: (.value|map([.[0], .[1]])|sort)}
           elif .type == "hash" then (if (.value|type) == "array"
               then ({v: (.value|map({key: .[0], value: .[1]})|from_entries),
                      ttl: (.value|map(select(.[2] != null)|{key: .[0], value: .[2]})|from_entries)}|nottl)
               else {v: .value} end)
           elif .type == "stream" then {v: (.value|m_stream)}
           else {v: .value} end) end;

  def order: sort_by(.function // "", .db // -1, .key // "");
  ([$t[0] | theirs | if .lossy then {db, key, lossy} else . end] | order) as $want
  | ([$m[] | mine] | order) as $got
  | if ($want|length) != ($got|length) then "\($want|length) keys expected, \($got|length) decoded"
    else [range(0; $want|length) as $i
          | ($got[$i] | if .type == "stream" then .v |= proj($want[$i].v) else . end
             | if $want[$i].lossy then {db, key, lossy: true} else . end) as $g
          | select($g != $want[$i])
          | "expected \($want[$i]|tojson|.[0:240]) got \($g|tojson|.[0:240])"] | first // "ok"
    end'

# X.json -> the pool path of X.rdb: beside it, or where DUPLICATES.tsv says
# the same bytes as HDT3213/rdb's cases/X.rdb are kept.
hdt_rdb_for() {
    local json=$1 rdb=${1%.json}.rdb
    if [ -f "$FIX/$rdb" ]; then echo "$rdb"; return; fi
    awk -F'\t' -v want="HDT3213/rdb:cases/$(basename "$rdb")" '$2 == want { print $1; exit }' \
        "$FIX/DUPLICATES.tsv"
}

nhdt=0
while IFS=$'\t' read -r path _; do
    case $path in HDT3213-rdb/*.json) ;; *) continue ;; esac
    rdb=$(hdt_rdb_for "$path")
    [ -n "$rdb" ] || continue # an output with no dump of its own (filters, reports)
    name="corpus-hdt $(basename "$path" .json)"
    [[ $path == */_history/* ]] && name+=" (${path#HDT3213-rdb/_history/})"
    nhdt=$((nhdt + 1))
    if ! dump "$rdb"; then fail "$name" "$DUMP_WHY"; continue; fi
    got=$(jq -n -r --slurpfile m "$IT_TMP/dump.jsonl" --slurpfile t "$FIX/$path" "$JQ_HDT" 2>&1)
    if [ "$got" == ok ]; then pass "$name"; else fail "$name" "$rdb: $got"; fi
done <"$FIX/MANIFEST.tsv"
[ "$nhdt" -gt 0 ] || skip corpus-hdt "no HDT3213 JSON outputs in the pool"

# ---- redis/librdb's data-level outputs against our decode ----
# test/dumps/*_data.json are what librdb's JSON converter prints at
# RDB_LEVEL_DATA: "key":value members (the file is the inside of an
# object; multiple_dbs is an array of per-db objects), "__aux__" etc. for
# file metadata, "__func__" for function libraries. Values: string "s",
# list [..], set [..], zset {"member":"score"}, hash {"f":"v"}, stream
# {"entries":[{"id":..,"items":{..}}]}. Field TTLs are not at this level.
JQ_LIBRDB='
  def pairs: [range(0; length; 2) as $i | {key: .[$i], value: .[$i + 1]}] | from_entries;
  def score: if type == "string" and (. == "inf" or . == "-inf") then . else tonumber end;
  # rdb-rs writes bytes that form valid UTF-8 as they are, others as \u00XX:
  # the same as --dump once dump() has turned its \udcXX into \u00XX.
  ($m | map(select(.key != null) | {key, value: .type}) | from_entries) as $types
  | ($m | map(select(.key != null) | {key, value: (
        if .type == "string" or .type == "list" then .value
        elif .type == "set" then (.value|sort)
        elif .type == "zset" then (.value|map({key: .[0], value: (.[1]|score)})|from_entries)
        elif .type == "hash" then (if (.value|type) == "array"
            then (.value|map({key: .[0], value: .[1]})|from_entries) else .value end)
        elif .type == "stream" then {entries: (.value.entries|map({id: .[0], items: (.[1]|pairs)}))}
        else "module" end)}) | from_entries) as $got
  | ($m | map(select(.function) | .function) | sort) as $gotf
  | ($raw | if test("^\\s*\\[") then fromjson else ("{" + . + "}" | fromjson) end
     | if type == "array" then (add // {}) else . end) as $doc
  | (($doc.__func__ // {}) | [.[]] | sort) as $wantf
  | ($doc | del(.__aux__, .__dbsize__, .__slotinfo__, .__func__)
     | to_entries | map(.key as $k | .value |= (
         if $types[$k] == "set" then sort
         elif $types[$k] == "zset" then map_values(score)
         elif $types[$k] == "module" then "module"
         else . end)) | from_entries) as $want
  | if ($want|keys) != ($got|keys) then "keys \($want|keys|tojson|.[0:200]) expected, got \($got|keys|tojson|.[0:200])"
    elif $wantf != $gotf then "functions differ: \($wantf|tojson|.[0:200]) vs \($gotf|tojson|.[0:200])"
    else ([$want|keys[] | select($want[.] != $got[.])
           | "key \(.): expected \($want[.]|tojson|.[0:200]) got \($got[.]|tojson|.[0:200])"] | first // "ok")
    end'

# librdb dump stem -> its expected file stem (EXPECTATIONS.md, restated).
LIBRDB_PAIRS="ziplist_v3:ziplist_data plain_list_v6:plain_list_v6_data hash_v3:hash_data
  hash_with_expire_v12:hash_ex_v12_data hash_lp_with_hexpire_v12:hash_lp_ex_v12_data
  hash_zl_v6:hash_zl_v6_data hash_lp_v11:hash_lp_v11_data hash_zm_v2:hash_zm_v2_data
  plain_set_v6:plain_set_v6_data set_is_v11:set_is_v11_data set_lp_v11:set_lp_v11_data
  plain_zset_v6:plain_zset_v6_data plain_zset_2_v11:plain_zset_2_v11_data
  zset_lp_v11:zset_lp_v11_data zset_zl_v6:zset_zl_v6_data quicklist:quicklist_data
  quicklist2_v11:single_list_data multiple_lists_strings:multiple_lists_strings_data
  single_key:single_key_data multiple_dbs:multiple_dbs_data function2:function2
  string_int_encoded:string_int_encoded stream_v11:stream_data
  cluster_slot_info:cluster_slot_info set_not_expired_v11:set_not_expired
  mem_policy_lfu:mem_policy_lfu module:module_data"

# Where the pool keeps librdb's X.rdb (itself, or the first copy of its bytes).
librdb_rdb() {
    local d
    for d in test/dumps examples/dumps; do
        [ -f "$FIX/redis-librdb/$d/$1.rdb" ] && { echo "redis-librdb/$d/$1.rdb"; return; }
    done
    awk -F'\t' -v want="redis/librdb:test/dumps/$1.rdb" '$2 == want { print $1; exit }' "$FIX/DUPLICATES.tsv"
}

for pair in $LIBRDB_PAIRS; do
    name="corpus-librdb ${pair%%:*}"
    json=redis-librdb/test/dumps/${pair#*:}.json
    rdb=$(librdb_rdb "${pair%%:*}")
    if [ -z "$rdb" ] || [ ! -f "$FIX/$json" ]; then skip "$name" "dump or $json not in the pool"; continue; fi
    if ! dump "$rdb"; then fail "$name" "$DUMP_WHY"; continue; fi
    got=$(jq -n -r --slurpfile m "$IT_TMP/dump.jsonl" --rawfile raw "$FIX/$json" \
        "$JQ_LIBRDB" 2>&1)
    if [ "$got" == ok ]; then pass "$name"; else fail "$name" "$rdb vs $json: $got"; fi
done

# ---- badboy/rdb-rs's JSON formatter outputs against our decode ----
# tests/dumps/json/X.json is an array of per-db objects of "key":value in
# the librdb data-level shapes (zset scores as strings), with valid UTF-8 as
# text and other bytes as \u00XX, as dump() reads --dump: the same
# comparison applies.
nrs=0
while IFS=$'\t' read -r path _; do
    case $path in badboy-rdb-rs/tests/dumps/json/*.json) ;; *) continue ;; esac
    stem=$(basename "$path" .json)
    rdb=badboy-rdb-rs/tests/dumps/$stem.rdb
    [ -f "$FIX/$rdb" ] || rdb=$(awk -F'\t' -v want="badboy/rdb-rs:tests/dumps/$stem.rdb" \
        '$2 == want { print $1; exit }' "$FIX/DUPLICATES.tsv")
    [ -n "$rdb" ] || continue
    name="corpus-rdbrs $stem"
    nrs=$((nrs + 1))
    if ! dump "$rdb"; then fail "$name" "$DUMP_WHY"; continue; fi
    got=$(jq -n -r --slurpfile m "$IT_TMP/dump.jsonl" --rawfile raw "$FIX/$path" \
        "$JQ_LIBRDB" 2>&1)
    if [ "$got" == ok ]; then pass "$name"; else fail "$name" "$rdb vs $path: $got"; fi
done <"$FIX/MANIFEST.tsv"
[ "$nrs" -gt 0 ] || skip corpus-rdbrs "no rdb-rs JSON outputs in the pool"

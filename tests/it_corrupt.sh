#!/usr/bin/env bash
# it_corrupt.sh -- every crafted bad input fails cleanly.
#
# fixtures/corrupt/*.rdb are made by fixtures/craft.c, one failure kind each;
# fixtures/corrupt/EXPECTED.tsv (written by the same program, next to the
# bytes it describes) says per file: the exit status (3 corrupt/unsupported,
# 4 checksum mismatch), the key the message must name ("-": none expected),
# an extended regex the message must match (case-insensitive), and "mem"
# when the file states a size that would take gigabytes to honour.
#
# For each file, `rdbsync --file F --checksum` (sanitized build) must, and
# so must the same through a pipe (--file -) and with --dump:
#   - exit with the expected status, within 10 s;
#   - print exactly one line on stderr: `rdbsync: ... offset N ...`, with N
#     no larger than the file, naming `key 'K'` when the table gives K;
#   - print no sanitizer report (ASan may not allocate more than 1 GiB in
#     one piece: a trusted lying length shows up as an ASan error).
# For "mem" files the release build also runs under `ulimit -v 2000000`
# (~2 GB of address space; ASan builds cannot run under a ulimit), so an
# attempt to allocate what the file claims fails loudly.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=$ROOT/fixtures/corrupt
table=$dir/EXPECTED.tsv

if ! have_rdbsync; then
    skip corrupt "no binary at $RDBSYNC (run make)"
    exit 0
fi
if [ ! -f "$table" ]; then
    fail corrupt "no $table (run fixtures/craft.sh)"
    exit 0
fi

san_opts="${ASAN_OPTIONS}:max_allocation_size_mb=1024"

# The checked-in files are what fixtures/craft.c makes today.
if command -v "${CC:-cc}" >/dev/null 2>&1 &&
    "${CC:-cc}" -std=gnu11 -O1 -o "$IT_TMP/craft" "$ROOT/fixtures/craft.c" 2>"$IT_TMP/cc.err"; then
    "$IT_TMP/craft" corrupt "$IT_TMP/fresh" >/dev/null
    if d=$(diff -rq "$IT_TMP/fresh" "$dir" 2>&1); then
        pass corrupt.fixtures_current
    else
        fail corrupt.fixtures_current "fixtures/corrupt differs from craft.c's output (run fixtures/craft.sh): $(it_show "$d")"
    fi
else
    skip corrupt.fixtures_current "cannot build fixtures/craft.c: $(head -n 1 "$IT_TMP/cc.err" 2>/dev/null)"
fi

# check NAME BIN FILE EXIT KEY REGEX [MODE]: one run, one result line.
# MODE: empty (read the file), "stdin" (the file through a pipe, --file -:
# short reads, another reader path), "dump" (--dump instead of --checksum:
# the printer's handling of a key cut short) or "ulimit" (release build,
# ~2 GB address space).
check() {
    local name=$1 bin=$2 f=$3 want=$4 key=$5 re=$6 mode=${7:-} rc=0
    local out="$IT_TMP/out" err="$IT_TMP/err" lines msg off size
    # The braces' 2>/dev/null keeps bash's own "Aborted" notices out of the
    # log; the tool's stderr is in $err.
    {
        case $mode in
        ulimit)
            (ulimit -v 2000000 && exec timeout 10 "$bin" --file "$f" --checksum) >"$out" 2>"$err" || rc=$?
            ;;
        stdin)
            # shellcheck disable=SC2002 # a pipe on purpose: not seekable, short reads
            cat "$f" | ASAN_OPTIONS=$san_opts timeout 10 "$bin" --file - --checksum >"$out" 2>"$err" || rc=$?
            ;;
        dump)
            ASAN_OPTIONS=$san_opts timeout 10 "$bin" --file "$f" --dump >"$out" 2>"$err" || rc=$?
            ;;
        *)
            ASAN_OPTIONS=$san_opts timeout 10 "$bin" --file "$f" --checksum >"$out" 2>"$err" || rc=$?
            ;;
        esac
    } 2>/dev/null
    msg=$(head -n 1 "$err")
    lines=$(wc -l <"$err")
    if [ -s "$err" ] && [ -n "$(tail -c 1 "$err")" ]; then lines=$((lines + 1)); fi
    if [ "$rc" -eq 124 ]; then
        fail "$name" "no answer within 10 s (hang?)"
    elif grep -qE 'Sanitizer|runtime error:|AddressSanitizer|LeakSanitizer' "$err"; then
        fail "$name" "sanitizer report: $(grep -m 1 -E 'SUMMARY|ERROR|runtime error' "$err")"
    elif [ "$rc" -ne "$want" ]; then
        fail "$name" "exit $rc, expected $want; stderr: $(it_show "$msg")"
    elif [ "$lines" -ne 1 ]; then
        fail "$name" "$lines lines on stderr, expected 1: $(it_show "$(cat "$err")")"
    elif [[ $msg != rdbsync:* || $msg != *"offset "* ]]; then
        fail "$name" "message is not 'rdbsync: ... offset N ...': $(it_show "$msg")"
    elif [ "$key" != - ] && [[ $msg != *"key '$key'"* ]]; then
        fail "$name" "message does not name key '$key': $(it_show "$msg")"
    elif ! grep -qiE -- "$re" <<<"$msg"; then
        fail "$name" "message does not match /$re/: $(it_show "$msg")"
    else
        off=$(sed -n 's/.*offset \([0-9][0-9]*\).*/\1/p' <<<"$msg")
        size=$(wc -c <"$f")
        if [ -n "$off" ] && [ "$off" -gt "$size" ]; then
            fail "$name" "offset $off is past the file's $size bytes: $(it_show "$msg")"
        else
            pass "$name"
        fi
    fi
}

declare -A listed=()
while IFS=$'\t' read -r file want key re mem; do
    case $file in '' | '#'*) continue ;; esac
    listed[$file]=1
    name=corrupt.${file%.rdb}
    if [ ! -f "$dir/$file" ]; then
        fail "$name" "listed in EXPECTED.tsv but not in fixtures/corrupt"
        continue
    fi
    check "$name" "$RDBSYNC" "$dir/$file" "$want" "$key" "$re"
    check "corrupt_stdin.${file%.rdb}" "$RDBSYNC" "$dir/$file" "$want" "$key" "$re" stdin
    check "corrupt_dump.${file%.rdb}" "$RDBSYNC" "$dir/$file" "$want" "$key" "$re" dump
    if [ "$mem" = mem ]; then
        if [ -x "$RDBSYNC_REL" ]; then
            check "corrupt_ulimit.${file%.rdb}" "$RDBSYNC_REL" "$dir/$file" "$want" "$key" "$re" ulimit
        else
            skip "corrupt_ulimit.${file%.rdb}" "no release build at $RDBSYNC_REL"
        fi
    fi
done <"$table"

for f in "$dir"/*.rdb; do
    b=$(basename "$f")
    if [ -z "${listed[$b]:-}" ]; then
        fail "corrupt.${b%.rdb}" "no row in EXPECTED.tsv"
    fi
done

# Big inputs, made here rather than checked in: a lying length followed by
# megabytes of real data (the reader grows its buffer with what arrives and
# must still fail at the end, across many refills), and the same through a
# pipe.
big=$IT_TMP/str_len32_lie_3mb.rdb
{
    printf 'REDIS0010\376\000\000\003big\200\377\377\377\360'
    head -c 3000000 /dev/zero
} >"$big"
check corrupt.big_str_len32_lie_3mb "$RDBSYNC" "$big" 3 big end
check corrupt_stdin.big_str_len32_lie_3mb "$RDBSYNC" "$big" 3 big end stdin
if [ -x "$RDBSYNC_REL" ]; then
    check corrupt_ulimit.big_str_len32_lie_3mb "$RDBSYNC_REL" "$big" 3 big end ulimit
fi
# An LZF string whose compressed length lies the same way.
big=$IT_TMP/lzf_clen_lie_3mb.rdb
{
    printf 'REDIS0010\376\000\000\002lz\303\200\377\377\377\360\005'
    head -c 3000000 /dev/zero
} >"$big"
check corrupt.big_lzf_clen_lie_3mb "$RDBSYNC" "$big" 3 lz end
check corrupt_stdin.big_lzf_clen_lie_3mb "$RDBSYNC" "$big" 3 lz end stdin

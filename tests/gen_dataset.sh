#!/usr/bin/env bash
# gen_dataset.sh -- write the deterministic mixed test dataset into a running
# redis-server (7.0+), for digest, import and sync tests.
#
#   tests/gen_dataset.sh PORT [VARIANT]
#       Writes the dataset into 127.0.0.1:PORT (dbs 0, 1 and 3 plus one
#       function library) through one `redis-cli --pipe`. The server should
#       be empty. VARIANT (a small integer, default 0) changes values and
#       sizes a little, for tests that need two different datasets. Exits 0
#       only when the server answered every command without error.
#
#   tests/gen_dataset.sh --copy-timed SRC_PORT DST_PORT
#       Copies the keys whose content depends on the clock (see below) from
#       SRC to DST with MIGRATE COPY REPLACE, so that two servers that ran
#       the same dataset end up with exactly the same data.
#
#   tests/gen_dataset.sh --timed-keys
#       Prints those keys, one "DB KEY" per line.
#
#   tests/gen_dataset.sh --change NAME PORT / --undo NAME PORT
#       Applies (or reverts) one small change to a server holding the
#       dataset, for tests that a digest notices it. NAME is one of
#         field   one field of the listpack hash 'hash:small' (db 0)
#         expire  the expire of 'str:exp' (db 0) moved by 1 ms
#         move    'hash:small' moved from db 0 to db 3
#         pel     XACK of one pending entry of 'stream:groups' (no undo:
#                 apply it last; DEBUG DIGEST does not see it, ours must)
#
#   tests/gen_dataset.sh --expect PORT
#       Prints what `rdbsync --checksum` must report for that server's data:
#       the keys:, keys.dbN:, types:, expires: and functions: lines, from
#       INFO keyspace, SCAN TYPE and FUNCTION LIST.
#
# Determinism: every command and value is fixed (no random, no time), with
# one exception Redis imposes: a consumer's seen-time is the clock at
# XREADGROUP/XCLAIM/XGROUP CREATECONSUMER. Pending entries are re-claimed
# with XCLAIM TIME/RETRYCOUNT so their delivery times and counts are fixed,
# but the seen-times of the consumers of 'stream:groups' in db 0 stay
# clock-dependent; --copy-timed exists for that key. Expires are absolute
# (PEXPIREAT) far in the future (2100-01-01 and later).
#
# What the data covers (per encoding it may get on a 7.0 server):
#   strings: short, int-looking (12345, -7, 0, int32/int64 limits), not
#     canonical ints ("007", "+5"), empty, 100 KB compressible, 25-byte
#     compressible (LZF threshold), binary with NUL and 0xFF, binary key name
#   lists: small, 1000 mixed ints/strings (all listpack int widths), one with
#     20 KB elements (a PLAIN quicklist node when the caller lowered
#     DEBUG QUICKLIST-PACKED-THRESHOLD), elements of 200 compressible bytes
#   sets: intsets of 16/32/64-bit members, small strings, 600 mixed, 600 ints
#   zsets: small with scores 0.1 1e300 -inf inf and integers, 200 members
#     with those and -0
#   hashes: small, 600 fields with int values, one with a 100-byte value,
#     empty field and value, binary field
#   streams: varying fields, XDEL, exact XTRIM, multiple nodes, XSETID
#     ENTRIESADDED/MAXDELETEDID, an emptied stream, a MKSTREAM group without
#     consumers, a group with two consumers and pending entries (XREADGROUP,
#     XACK), a second group, CREATECONSUMER
#   expires on strings, lists, hashes, zsets, sets, streams in dbs 0, 1, 3;
#   the same key names in several dbs; a function library.
set -euo pipefail
export LC_ALL=C

# The keys whose stored content depends on the clock (consumer seen-time).
TIMED_KEYS=("0 stream:groups")

usage() {
    echo "usage: $0 PORT [VARIANT] | --copy-timed SRC_PORT DST_PORT | --timed-keys |" >&2
    echo "       --change|--undo field|expire|move|pel PORT | --expect PORT" >&2
    exit 1
}

# ---- RESP output ----

# r ARG...: one command in RESP. ${#a} counts bytes because LC_ALL=C.
r() {
    local a
    printf '*%d\r\n' "$#"
    for a in "$@"; do printf '$%d\r\n%s\r\n' "${#a}" "$a"; done
}

# Lua source strings carry the bytes bash cannot hold in a variable (NUL):
# EVAL with a literal like 'a\0b\255' stores those bytes exactly.
lua() { r EVAL "$1" 0; }

# Far-future absolute expire: 2100-01-01T00:00:00Z plus $1 ms.
EXP0=4102444800000
exp_at() { printf '%d' $((EXP0 + $1)); }

# ---- strings ----

gen_strings() {
    local v=$1 big="" i line
    r SET str:short "hello$v"
    r SET str:int $((12345 + v))
    r SET str:neg -7
    r SET str:zero 0
    r SET str:int8 -128
    r SET str:int16 32767
    r SET str:int32max 2147483647
    r SET str:int32min -2147483648
    r SET str:int64max 9223372036854775807
    r SET str:int64min -9223372036854775808
    r SET str:notcanon 007
    r SET str:plus +5
    r SET str:float 3.14
    r SET str:empty ""
    r SET str:lzfmin "aaaaaaaaaaaaaaaaaaaaaaaa$v"
    for ((i = 0; i < 1600; i++)); do
        printf -v line 'line %06d: the quick brown fox jumps over the dog %d\n' "$i" "$v"
        big+=${line:0:64}
    done
    r SET str:big100k "$big"
    lua "redis.call('SET', 'str:bin', 'bin\\0ary\\255\\254\\1\\0end$v')"
    lua "redis.call('SET', 'key\\0with\\255nul', 'binary key name')"
    r SET "str:utf8 ключ 鍵 with spaces" "значение $v"
    r SET str:exp "expiring"
    r PEXPIREAT str:exp "$(exp_at 1000)"
    r SET str:exp2 12
    r PEXPIREAT str:exp2 "$(exp_at 2000)"
}

# ---- lists ----

# Element i of list:big: integers of every listpack width, negative ones,
# strings, numeric-looking strings that are not canonical integers, and a
# compressible 200-byte string now and then. Sets ELEM (no subshell).
list_elem() {
    local i=$1 v=$2
    case $((i % 12)) in
        0) ELEM=$((i / 12)) ;;
        1) ELEM=$((-i)) ;;
        2) ELEM=$((4000 + i)) ;;
        3) ELEM=$((30000 + i * 3)) ;;
        4) ELEM=$((8000000 + i)) ;;
        5) ELEM=$((2000000000 + i)) ;;
        6) ELEM=$((9223372036854775807 - i)) ;;
        7) ELEM="str-$i-$v" ;;
        8) ELEM="0$i" ;;
        9) ELEM="$i.5" ;;
        10) if ((i % 5 == 0)); then printf -v ELEM '%0200d' "$i"; else ELEM="x$i"; fi ;;
        11) ELEM=$((-9223372036854775807 - 1 + i)) ;;
    esac
}

gen_lists() {
    local v=$1 i n args=() big20k
    n=$((1000 + v))
    r RPUSH list:small a b c 1 2 3 -1 ""
    for ((i = 0; i < n; i++)); do
        list_elem "$i" "$v"
        args+=("$ELEM")
    done
    r RPUSH list:big "${args[@]}"
    printf -v big20k '%20480s' "plain$v"
    big20k=${big20k// /p}
    r RPUSH list:plain head "$big20k" middle "${big20k//p/q}" tail
    r LPUSH list:exp 3 2 1
    r PEXPIREAT list:exp "$(exp_at 3000)"
}

# ---- sets ----

gen_sets() {
    local v=$1 i a=() b=()
    r SADD set:int16 1 2 3 -5 100 32767 "$v"
    r SADD set:int32 1 70000 -70000 2147483647 -2147483648
    r SADD set:int64 1 5000000000 -9223372036854775808 9223372036854775807
    r SADD set:str apple banana cherry "" "$v"
    for ((i = 0; i < 600; i++)); do
        if ((i % 3 == 0)); then a+=("m$i"); else a+=("$((i * 7 - 1000))"); fi
        b+=("$((i * 1000003 + v))")
    done
    r SADD set:big "${a[@]}"
    r SADD set:bigint "${b[@]}"
    lua "redis.call('SADD', 'set:bin', 'a\\0b', '\\255', 'plain')"
    r SADD set:exp x y z
    r PEXPIREAT set:exp "$(exp_at 4000)"
}

# ---- sorted sets ----

gen_zsets() {
    local v=$1 i args=()
    # No -0 here: a 7.0 listpack stores the score -0 as "0", so the data
    # itself would differ between encodings. -0 lives in zset:big instead
    # (a skiplist in every configuration).
    r ZADD zset:small 0.1 tenth 1e300 huge -inf neginf inf posinf \
        1 one -3 minus3 2.5 twoandhalf 100000 hundredk 0 zero 1e-300 tiny \
        -1.5 neg "$v" variant 3 ""
    for ((i = 0; i < 200; i++)); do
        args+=("$((i * 3 - 250)).25" "member:$i")
    done
    r ZADD zset:big "${args[@]}" -0 negzero 0.1 tenth -inf neginf inf posinf 1e300 huge
    r ZADD zset:ints 1 a 2 b 3 c
    r ZADD zset:exp 1 a
    r PEXPIREAT zset:exp "$(exp_at 5000)"
}

# ---- hashes ----

gen_hashes() {
    local v=$1 i args=() long
    r HSET hash:small f1 v1 n 123 neg -5 empty "" "" emptyfield f2 "v$v"
    for ((i = 0; i < 600; i++)); do args+=("field:$i" "$((i * i - 500))"); done
    r HSET hash:big "${args[@]}"
    printf -v long '%0100d' "$v"
    r HSET hash:longval a 1 b "$long"
    lua "redis.call('HSET', 'hash:bin', 'f\\0ld', 'v\\255lue', 'x', '1')"
    r HSET hash:exp a 1 b 2
    r PEXPIREAT hash:exp "$(exp_at 6000)"
}

# ---- streams ----

gen_streams() {
    local v=$1 i
    # Entries with the master fields (SAMEFIELDS) and with other fields.
    r XADD stream:simple 1-1 name alice age 30
    r XADD stream:simple 1-2 name bob age 40
    r XADD stream:simple 2-0 other field extra "v$v" third 3
    r XADD stream:simple 3-0 name carol age ""
    r XADD stream:simple 5-7 "" empty-field-name
    r XDEL stream:simple 1-2

    # Several nodes (100 entries per node by default), exact trimming from
    # the head, holes in the middle, then a forced last id and counters.
    for ((i = 1; i <= 250 + v; i++)); do
        if ((i % 4 == 0)); then
            r XADD stream:big "1000-$i" f "$i" g "x$i" h "$((i * 31))"
        else
            r XADD stream:big "1000-$i" f "$i" g "x$i"
        fi
    done
    r XTRIM stream:big MAXLEN = 220
    r XDEL stream:big 1000-120 1000-121 1000-199
    r XSETID stream:big 2000-0 ENTRIESADDED 400 MAXDELETEDID 1500-3

    # A stream whose entries were all deleted: length 0, ids kept.
    r XADD stream:emptied 7-1 a 1
    r XADD stream:emptied 7-2 a 2
    r XDEL stream:emptied 7-1 7-2

    # A group on an empty stream, no consumers.
    r XGROUP CREATE stream:mk g0 '$' MKSTREAM

    # Consumer groups: g1 with two consumers and pending entries, some
    # acknowledged; g2 behind, with a consumer that never read.
    for ((i = 1; i <= 8; i++)); do r XADD stream:groups "10-$i" k "$i" tag "t$((i % 3))"; done
    r XGROUP CREATE stream:groups g1 0
    r XGROUP CREATE stream:groups g2 10-2
    r XREADGROUP GROUP g1 alice COUNT 3 STREAMS stream:groups '>'
    r XREADGROUP GROUP g1 bob COUNT 2 STREAMS stream:groups '>'
    r XACK stream:groups g1 10-2 10-4
    r XGROUP CREATECONSUMER stream:groups g2 carol
    # Fixed delivery times and counts for what is still pending.
    r XCLAIM stream:groups g1 alice 0 10-1 10-3 TIME 1700000000000 RETRYCOUNT 2 JUSTID
    r XCLAIM stream:groups g1 bob 0 10-5 TIME 1700000001000 RETRYCOUNT 1 JUSTID
    r PEXPIREAT stream:simple "$(exp_at 7000)"
}

# ---- other dbs, functions ----

gen_db1() {
    local v=$1
    r SELECT 1
    r SET str:short "db1 value $v"   # same key name as in db 0
    r SET str:int 99
    r RPUSH list:small x y z
    r SADD set:int16 7 8 9
    r ZADD zset:small 1 a 2 b
    r HSET hash:small f v
    r XADD stream:simple 1-1 a b
    r SET db1:exp v
    r PEXPIREAT db1:exp "$(exp_at 8000)"
    r HSET db1:hexp a 1
    r PEXPIREAT db1:hexp "$(exp_at 9000)"
}

gen_db3() {
    local v=$1
    r SELECT 3
    r SET db3:str "three$v"
    r SET str:short "db3 value"
    r RPUSH db3:list 1 2 3
    r SET db3:exp v
    r PEXPIREAT db3:exp "$(exp_at 10000)"
}

gen_functions() {
    r FUNCTION LOAD $'#!lua name=mylib\nredis.register_function(\'f1\', function(keys, args) return 1 end)'
}

gen_all() {
    local v=$1
    r SELECT 0
    gen_strings "$v"
    gen_lists "$v"
    gen_sets "$v"
    gen_zsets "$v"
    gen_hashes "$v"
    gen_streams "$v"
    gen_db1 "$v"
    gen_db3 "$v"
    gen_functions
}

# ---- main ----

load_dataset() {
    local port=$1 v=${2:-0} out rc=0
    [[ $port =~ ^[0-9]+$ && $v =~ ^[0-9]+$ ]] || usage
    # --pipe prints each error reply, then "errors: N, replies: M".
    out=$(gen_all "$v" | redis-cli -h 127.0.0.1 -p "$port" --pipe 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] || ! [[ $out == *"errors: 0,"* ]]; then
        printf 'gen_dataset: loading into port %s failed (the server should be empty):\n' "$port" >&2
        printf '%s\n' "$out" | head -n 5 >&2
        printf '%s\n' "$out" | tail -n 1 >&2
        return 1
    fi
}

copy_timed() {
    local src=$1 dst=$2 db key r e
    for e in "${TIMED_KEYS[@]}"; do
        db=${e%% *}
        key=${e#* }
        r=$(redis-cli -h 127.0.0.1 -p "$src" -n "$db" MIGRATE 127.0.0.1 "$dst" "$key" "$db" 5000 COPY REPLACE </dev/null)
        if [ "$r" != OK ]; then
            echo "gen_dataset: MIGRATE $key from $src to $dst answered '$r'" >&2
            return 1
        fi
    done
}

change() {
    local what=$1 port=$2 undo=$3 r
    local c=(redis-cli -h 127.0.0.1 -p "$port")
    case $what:$undo in
        field:0) r=$("${c[@]}" HSET hash:small f1 v1-changed) ;;
        field:1) r=$("${c[@]}" HSET hash:small f1 v1) ;;
        expire:0) r=$("${c[@]}" PEXPIREAT str:exp "$(exp_at 1001)") ;;
        expire:1) r=$("${c[@]}" PEXPIREAT str:exp "$(exp_at 1000)") ;;
        move:0) r=$("${c[@]}" MOVE hash:small 3) ;;
        move:1) r=$("${c[@]}" -n 3 MOVE hash:small 0) ;;
        pel:0) r=$("${c[@]}" XACK stream:groups g1 10-5) ;;
        *) usage ;;
    esac </dev/null
    # HSET of an existing field answers 0; the others answer 1.
    case $what:$r in
        field:0 | expire:1 | move:1 | pel:1) ;;
        *) echo "gen_dataset: --change $what answered '$r'" >&2; return 1 ;;
    esac
}

# count_type PORT DB TYPE: how many keys of TYPE db DB holds (SCAN TYPE;
# redis-cli 7.0 has no --scan --type).
count_type() {
    local c=(redis-cli -h 127.0.0.1 -p "$1" -n "$2") cur=0 n=0 lines k
    while :; do
        # Raw reply: the next cursor, then one key per line, or one empty
        # line when there are none. So keys must have no newline and not be
        # empty (true of every dataset here).
        mapfile -t lines < <("${c[@]}" SCAN "$cur" COUNT 1000 TYPE "$3" </dev/null)
        cur=${lines[0]:-0}
        for k in "${lines[@]:1}"; do
            if [ -n "$k" ]; then n=$((n + 1)); fi
        done
        [ "$cur" != 0 ] || break
    done
    printf '%d\n' "$n"
}

# The lines rdbsync --checksum prints about the data, computed by the
# server. Key names must not contain newlines (the dataset's do not).
expect() {
    local port=$1 line db n keys=0 exps=0 t
    local c=(redis-cli -h 127.0.0.1 -p "$port")
    local dbs=() types=(string list set zset hash stream) counts=(0 0 0 0 0 0)
    while IFS= read -r line; do
        line=${line%$'\r'}
        [[ $line =~ ^db([0-9]+):keys=([0-9]+),expires=([0-9]+) ]] || continue
        db=${BASH_REMATCH[1]}
        dbs+=("$db")
        keys=$((keys + BASH_REMATCH[2]))
        exps=$((exps + BASH_REMATCH[3]))
        printf -v "KEYS_DB_$db" '%s' "${BASH_REMATCH[2]}"
        for t in 0 1 2 3 4 5; do
            counts[t]=$((counts[t] + $(count_type "$port" "$db" "${types[t]}")))
        done
    done < <("${c[@]}" INFO keyspace </dev/null)
    printf 'keys: %d\n' "$keys"
    for db in $(printf '%s\n' "${dbs[@]}" | sort -n); do
        n="KEYS_DB_$db"
        printf 'keys.db%s: %s\n' "$db" "${!n}"
    done
    printf 'types: string=%d list=%d set=%d zset=%d hash=%d module=0 stream=%d\n' "${counts[@]}"
    printf 'expires: %d\n' "$exps"
    n=$("${c[@]}" FUNCTION LIST </dev/null | grep -cx library_name || true)
    printf 'functions: %d\n' "$n"
}

case ${1:-} in
    --change) [ $# -eq 3 ] || usage; change "$2" "$3" 0 ;;
    --undo) [ $# -eq 3 ] || usage; change "$2" "$3" 1 ;;
    --expect) [ $# -eq 2 ] || usage; expect "$2" ;;
    --copy-timed) [ $# -eq 3 ] || usage; copy_timed "$2" "$3" ;;
    --timed-keys) printf '%s\n' "${TIMED_KEYS[@]}" ;;
    '' | -*) usage ;;
    *) [ $# -le 2 ] || usage; load_dataset "$1" "${2:-0}" ;;
esac

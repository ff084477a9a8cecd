#!/usr/bin/env bash
# it_filters.sh -- --match/--exclude/--type in every mode that reads data
# (issue #15, "Key filters"), with exact counts and data.
#
# The source S (7.0) holds 40 user:N strings, 5 user:tmp:N, 10 hashes, 6
# lists, 4 zsets, 3 sets, a stream, 'a[b]' and 'x*y' in db 0, and user:db1
# (string) and other:db1 (hash) in db 1: 73 keys. The subset F is
# --match 'user:*' --exclude 'user:tmp:*' (41 keys); "digest of F" is our
# --checksum of S with F. A --type that is no type, and filters with
# --source --file (written whole), are usage errors (exit 1).
#  1. file      --file dump --target with F: the target holds exactly F
#               (its digest is F's), the summary says "32 filtered"; --type
#               hash --type zset: 15 keys (--verify with those types: equal,
#               until the target holds a hash where the source has a list);
#               --checksum/--dump of the file with
#               F give F's digest and 41 JSON lines; globs with escapes
#               ('a\[b\]', 'x\*y') select the one key each.
#  2. checksum  F's digest is the same from the file, the replica path and
#               scan mode (client-side, "32 keys left out"), and from SCAN
#               MATCH alone (--match 'h:*' against a file's --match 'h:*').
#  3. scan      --mode scan --once: one --match goes to SCAN MATCH ("not
#               counted"), F is filtered client-side ("32 filtered"), --type
#               stream by SCAN TYPE: each target holds exactly its subset.
#  4. replica   live sync --once with F: the snapshot writes F, counting 32
#               filtered; --verify with F says equal although the target
#               also holds a key F leaves out (without F: exit 8).
#  5. stream    a live sync with F: commands on user:* arrive, those on
#               other keys are dropped and counted; MSET user:p 1 other:q 2
#               stops the sync (exit 6) with one line naming MSET and both
#               keys, the writes before it applied; with --on-error skip it
#               is dropped, counted, the sync goes on, exit 6 at the stop.
#  6. type      a live sync with --type hash: HSET arrives, LPUSH is
#               dropped, SET over a hash deletes it on the target, RENAME of
#               a hash moves it, RENAME of a string onto a hash deletes it:
#               the target ends with exactly the source's hashes.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip filters "no binary at $RDBSYNC (run make)"
    exit 0
fi

F=(--match 'user:*' --exclude 'user:tmp:*')
# feed NAME: commands on stdin, one per line, to server NAME.
feed() { redis-cli -h 127.0.0.1 -p "$(rs_port "$1")" >/dev/null; }

rs_start S --repl-diskless-sync-delay 0
{
    for i in $(seq 1 40); do echo "SET user:$i v$i"; done
    for i in $(seq 1 5); do echo "SET user:tmp:$i t$i"; done
    for i in $(seq 1 10); do echo "HSET h:$i f $i g x"; done
    for i in $(seq 1 6); do echo "RPUSH l:$i a b $i"; done
    for i in $(seq 1 4); do echo "ZADD z:$i 1 a 2 b$i"; done
    for i in $(seq 1 3); do echo "SADD s:$i a $i"; done
    echo "XADD st:1 1-1 f v"
    echo "SET a[b] 1"
    echo "SET x*y 1"
    echo "PEXPIRE user:1 900000"
    echo "SELECT 1"
    echo "SET user:db1 1"
    echo "HSET other:db1 f v"
} | feed S
assert_eq filters.setup.keys 73 $(($(rs_cli S -n 0 DBSIZE) + $(rs_cli S -n 1 DBSIZE)))
DUMP=$(rs_save S)

digest_of() { grep '^digest:' "$IT_TMP/$1.out" | cut -d' ' -f2; }
keys_of() { grep '^keys:' "$IT_TMP/$1.out" | cut -d' ' -f2; }
# count NAME WORD: the number before WORD in NAME's stderr (first match).
count() { grep -oE "[0-9]+ $2" "$IT_TMP/$1.err" | head -n 1 | grep -oE '^[0-9]+' || true; }
target_digest() { rdb_run "$1" --source "$(rs_url "$2")" --checksum --mode scan -q; digest_of "$1"; }

rdb_run bad_type --file "$DUMP" --checksum --type strings
assert_eq filters.flags.bad_type 1 "$RC"
assert_match filters.flags.bad_type.line "bad value 'strings' for --type" "$(cat "$IT_TMP/bad_type.err")"
rdb_run snap_file --source "$(rs_url S)" --file "$IT_TMP/never.rdb" --match 'user:*'
assert_eq filters.flags.snapshot_file 1 "$RC"
assert_eq filters.flags.snapshot_file.untouched no "$([ -e "$IT_TMP/never.rdb" ] && echo yes || echo no)"

rdb_run f_file --file "$DUMP" --checksum "${F[@]}"
FD=$(digest_of f_file)
assert_eq filters.checksum.file.keys 41 "$(keys_of f_file)"
assert_match filters.checksum.file.note '32 keys left out' "$(cat "$IT_TMP/f_file.err")"

# ---- 1. file ----
rs_start T1
rdb_run imp --file "$DUMP" --target "$(rs_url T1)" "${F[@]}"
assert_eq filters.file.exit 0 "$RC"
assert_eq filters.file.db0 40 "$(rs_cli T1 -n 0 DBSIZE)"
assert_eq filters.file.db1 1 "$(rs_cli T1 -n 1 DBSIZE)"
assert_eq filters.file.filtered 32 "$(count imp filtered)"
assert_eq filters.file.written 41 "$(count imp written)"
assert_eq filters.file.digest "$FD" "$(target_digest t1sum T1)"

rs_start T2
rdb_run imp_type --file "$DUMP" --target "$(rs_url T2)" --type hash --type zset
assert_eq filters.file.type.exit 0 "$RC"
assert_eq filters.file.type.keys 15 $(($(rs_cli T2 -n 0 DBSIZE) + $(rs_cli T2 -n 1 DBSIZE)))
assert_eq filters.file.type.only "hash zset" "$(for k in $(rs_cli T2 KEYS '*'); do rs_cli T2 TYPE "$k"; done | sort -u | tr '\n' ' ' | sed 's/ $//')"
assert_eq filters.file.type.filtered 58 "$(count imp_type filtered)"

rdb_run ver_type --verify --source "$(rs_url S)" --target "$(rs_url T2)" --type hash --type zset
assert_eq filters.verify.type.exit 0 "$RC"
rs_cli T2 HSET l:1 f v >/dev/null # a list on the source: of a type left out there
rdb_run ver_type2 --verify --source "$(rs_url S)" --target "$(rs_url T2)" --type hash --type zset
assert_eq filters.verify.type.other_type.exit 8 "$RC"
assert_match filters.verify.type.other_type.line "db 0 key 'l:1': only on the target" "$(cat "$IT_TMP/ver_type2.out")"

rdb_run dump_f --file "$DUMP" --dump "${F[@]}"
assert_eq filters.dump.lines 41 "$(wc -l <"$IT_TMP/dump_f.out" | tr -d ' ')"
rdb_run esc1 --file "$DUMP" --checksum --match 'a\[b\]'
rdb_run esc2 --file "$DUMP" --checksum --match 'x\*y'
rdb_run esc3 --file "$DUMP" --checksum --match '[ax]?[by]*'
assert_eq filters.glob.escaped_brackets 1 "$(keys_of esc1)"
assert_eq filters.glob.escaped_star 1 "$(keys_of esc2)"
assert_eq filters.glob.class "$(rs_cli S KEYS '[ax]?[by]*' | wc -l | tr -d ' ')" "$(keys_of esc3)"

# ---- 2. checksum: the same subset from every path ----
rdb_run c_repl --source "$(rs_url S)" --checksum "${F[@]}"
assert_eq filters.checksum.replica "$FD" "$(digest_of c_repl)"
rdb_run c_scan --source "$(rs_url S)" --checksum --mode scan "${F[@]}"
assert_eq filters.checksum.scan "$FD" "$(digest_of c_scan)"
assert_match filters.checksum.scan.counted '32 keys left out by' "$(cat "$IT_TMP/c_scan.err")"
rdb_run c_hfile --file "$DUMP" --checksum --match 'h:*'
rdb_run c_hscan --source "$(rs_url S)" --checksum --mode scan --match 'h:*'
assert_eq filters.checksum.scan_match "$(digest_of c_hfile)" "$(digest_of c_hscan)"
assert_match filters.checksum.scan_match.said 'SCAN MATCH/TYPE on the source' "$(cat "$IT_TMP/c_hscan.err")"

# ---- 3. scan mode ----
rs_start T3
rdb_run scan_m --mode scan --once --source "$(rs_url S)" --target "$(rs_url T3)" --match 'user:*'
assert_eq filters.scan.match.exit 0 "$RC"
assert_eq filters.scan.match.keys 46 $(($(rs_cli T3 -n 0 DBSIZE) + $(rs_cli T3 -n 1 DBSIZE)))
assert_match filters.scan.match.server 'not counted' "$(cat "$IT_TMP/scan_m.err")"
rs_start T4
rdb_run scan_f --mode scan --once --source "$(rs_url S)" --target "$(rs_url T4)" "${F[@]}"
assert_eq filters.scan.client.exit 0 "$RC"
assert_eq filters.scan.client.filtered 32 "$(count scan_f filtered)"
assert_eq filters.scan.client.digest "$FD" "$(target_digest t4sum T4)"
rs_start T5
rdb_run scan_t --mode scan --once --source "$(rs_url S)" --target "$(rs_url T5)" --type stream
assert_eq filters.scan.type.keys "st:1" "$(rs_cli T5 KEYS '*')"

# ---- 4. replica snapshot, verify ----
rs_start T6
rdb_run repl_f --once --source "$(rs_url S)" --target "$(rs_url T6)" "${F[@]}"
assert_eq filters.replica.exit 0 "$RC"
assert_eq filters.replica.filtered 32 "$(count repl_f filtered)"
assert_eq filters.replica.digest "$FD" "$(target_digest t6sum T6)"
rs_cli T6 SET other:extra 1 >/dev/null
rdb_run ver_f --verify --source "$(rs_url S)" --target "$(rs_url T6)" "${F[@]}"
assert_eq filters.verify.subset.exit 0 "$RC"
assert_match filters.verify.subset.line 'equal: 41 source keys checked' "$(cat "$IT_TMP/ver_f.out")"
rdb_run ver_all --verify --source "$(rs_url S)" --target "$(rs_url T6)"
assert_eq filters.verify.all.exit 8 "$RC"

# ---- 5. the stream ----
applied() { grep -q 'snapshot applied' "$IT_TMP/$1.err"; }
has_key() { [ "$(rs_cli "$1" EXISTS "$2")" = 1 ]; }
stopped() { ! kill -0 "$1" 2>/dev/null; }

rs_start T7
sync_start live S T7 "${F[@]}" --status-interval 1
wait_until 30 applied live || fail filters.stream.snapshot "no 'snapshot applied' in 30 s"
{
    echo "SET user:new 1"
    echo "SET other:new 1"
    echo "DEL h:1"
    echo "MSET user:m 1 user:n 2"
    echo "HSET other:h f v"
    echo "SET user:marker 1"
} | feed S
wait_until 10 has_key T7 user:marker || true
assert_eq filters.stream.selected "1 1 1" "$(rs_cli T7 EXISTS user:new) $(rs_cli T7 EXISTS user:m) $(rs_cli T7 EXISTS user:n)"
assert_eq filters.stream.dropped "0 0 0" "$(rs_cli T7 EXISTS other:new) $(rs_cli T7 EXISTS other:h) $(rs_cli T7 EXISTS h:1)"
rs_cli S MSET user:p 1 other:q 2 >/dev/null
rs_cli S SET user:after 1 >/dev/null
wait_until 10 stopped "$SYNC_PID" || true
RC=0
wait "$SYNC_PID" || RC=$?
assert_eq filters.stream.partial.exit 6 "$RC"
assert_eq filters.stream.partial.one_line 1 "$(grep -c "MSET has keys selected by --match/--exclude ('user:p') and keys left out ('other:q')" "$IT_TMP/live.err")"
assert_match filters.stream.partial.where 'db 0, source offset [0-9]+' "$(grep 'MSET has keys' "$IT_TMP/live.err")"
assert_eq filters.stream.partial.nothing_after "0 0" "$(rs_cli T7 EXISTS user:p) $(rs_cli T7 EXISTS user:after)"

rs_start T8
sync_start skip S T8 "${F[@]}" --on-error skip
wait_until 30 applied skip || fail filters.stream.skip.snapshot "no 'snapshot applied' in 30 s"
{
    echo "SET other:x 1"
    echo "MSET user:p2 1 other:q2 2"
    echo "SET user:after2 1"
} | feed S
wait_until 10 has_key T8 user:after2 || true
assert_eq filters.stream.skip.went_on 1 "$(rs_cli T8 EXISTS user:after2)"
assert_eq filters.stream.skip.not_written 0 "$(rs_cli T8 EXISTS user:p2)"
kill -TERM "$SYNC_PID"
RC=0
wait "$SYNC_PID" || RC=$?
assert_eq filters.stream.skip.exit 6 "$RC"
assert_match filters.stream.skip.counts 'stream: 1 filtered, 0 sent as DEL \(type left out\), 1 partly selected skipped' \
    "$(cat "$IT_TMP/skip.err")"

# ---- 6. --type in the stream ----
rs_start T9
sync_start typed S T9 --type hash
wait_until 30 applied typed || fail filters.type.snapshot "no 'snapshot applied' in 30 s"
{
    echo "HSET h:new f v"
    echo "LPUSH l:x a"
    echo "SET h:1 now-a-string"
    echo "RENAME h:2 h:renamed"
    echo "RENAME user:2 h:3"
    echo "HSET h:marker f v"
} | feed S
wait_until 10 has_key T9 h:marker || true
hashes() { rs_cli "$1" -n 0 SCAN 0 COUNT 10000 TYPE hash | tail -n +2 | sort | tr '\n' ' '; }
assert_eq filters.type.same_hashes "$(hashes S)" "$(hashes T9)"
assert_eq filters.type.only_hashes "$(rs_cli T9 -n 0 DBSIZE)" "$(hashes T9 | wc -w | tr -d ' ')"
kill -TERM "$SYNC_PID"
RC=0
wait "$SYNC_PID" || RC=$?
assert_eq filters.type.exit 0 "$RC"
assert_match filters.type.counts 'stream: 1 filtered, 1 sent as DEL' "$(cat "$IT_TMP/typed.err")"

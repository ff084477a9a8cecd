#!/usr/bin/env bash
# it_verify.sh -- --verify names the part of a key that differs, shows its
# progress, and treats a stream group's entries_read as Redis's own
# replicas do (#14).
#
#   copy     a source with strings, a TTL, a hash, a list and a stream with
#            consumer groups (pending entries, consumers, a deleted entry),
#            copied by rdbsync (--once): --verify exits 0, "verify: equal".
#   replica  a native Redis replica of that source, after consumers read
#            through the stream: its groups show entries_read nil or lower
#            where the source has a count (XREADGROUP reaches a replica as
#            XCLAIM ... LASTID, which leaves entries_read alone) and consumer
#            seen-times a millisecond off. --verify says equal (exit 0) with
#            a note naming the group's entries_read: the same definition of
#            equal as Redis's replication.
#   live     the same reads through rdbsync's live sync: equal, exit 0.
#   differ   eight keys changed on the target, each named with its part:
#            a string value, an expire time, a hash field, a stream group's
#            last-delivered-id, a list element, a set member (and its
#            length), a zset score, the type; exit 8, "8 differ".
#   progress at --rate 6 over 40 keys, a status line "verify: N source keys
#            compared" appears on stderr before the verdict.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

rs_start S --repl-diskless-sync-delay 0 || exit 1
rs_start T || exit 1

# run NAME ARGS...: rdbsync; stdout/stderr in $IT_TMP/NAME.out/.err, exit in RC.
run() {
    local name=$1
    shift
    "$RDBSYNC" "$@" >"$IT_TMP/$name.out" 2>"$IT_TMP/$name.err"
    RC=$?
}

s() { rs_cli S "$@" >/dev/null; }
s SET str:v hello
s SET str:ttl t EX 5000
s HSET hash:h f1 v1 f2 v2 f3 v3
s RPUSH list:l a b c
s SADD set:s a b c
s ZADD zset:z 1 a 2 b
s SET type:k x
for i in 1 2 3 4 5; do s XADD st "$i-1" n "$i"; done
s XGROUP CREATE st g1 0
s XGROUP CREATE st g2 '$'
s XREADGROUP GROUP g1 alice COUNT 2 STREAMS st '>'
s XDEL st 4-1
s XREADGROUP GROUP g1 bob COUNT 1 STREAMS st '>'

# copy
run copy --source "$(rs_url S)" --target "$(rs_url T)" --once -q
assert_eq verify.copy.sync_rc 0 "$RC"
run copy_verify --verify --source "$(rs_url S)" --target "$(rs_url T)"
assert_eq verify.copy.rc 0 "$RC"
assert_match verify.copy.equal '^verify: equal: 8 source keys checked' "$(cat "$IT_TMP/copy_verify.out")"

# replica: reads on the source after the replica's full sync.
rs_start R --replicaof 127.0.0.1 "$(rs_port S)" || exit 1
# dbsize_is NAME N, g2_at NAME ID: conditions for wait_until (evaluated each poll).
dbsize_is() { test "$(rs_cli "$1" DBSIZE)" = "$2"; }
last_g2() { rs_cli "$1" XINFO GROUPS st | awk 'p {print; exit} $0 == "g2" {g=1} g && $0 == "last-delivered-id" {p=1}'; }
g2_at() { test "$(last_g2 "$1")" = "$2"; }
assert_ok verify.replica.synced wait_until 20 dbsize_is R 8
s XREADGROUP GROUP g1 alice COUNT 1 STREAMS st '>'
s XREADGROUP GROUP g2 carol COUNT 1 STREAMS st '>'
s XADD st 6-1 n 6
s XREADGROUP GROUP g2 carol COUNT 1 STREAMS st '>'
assert_ok verify.replica.streamed wait_until 20 g2_at R 6-1
echo "# source groups: $(rs_cli S XINFO GROUPS st | paste -sd' ')"
echo "# replica groups: $(rs_cli R XINFO GROUPS st | paste -sd' ')"
run replica --verify --source "$(rs_url S)" --target "$(rs_url R)"
assert_eq verify.replica.rc 0 "$RC"
assert_match verify.replica.equal '^verify: equal' "$(cat "$IT_TMP/replica.out")"
assert_match verify.replica.note_names_entries_read \
    "note: db 0 key 'st': stream group '(g1|g2)' entries_read: [0-9]+ on the source, (nil|[0-9]+) on the target \(not compared" \
    "$(cat "$IT_TMP/replica.err")"

# live: the same kind of reads through rdbsync's live sync.
rs_cli T FLUSHALL >/dev/null
"$RDBSYNC" --source "$(rs_url S)" --target "$(rs_url T)" -q 2>"$IT_TMP/live.err" &
LIVE=$!
on_exit "kill $LIVE 2>/dev/null"
assert_ok verify.live.snapshot wait_until 20 dbsize_is T 8
s XADD st 7-1 n 7
s XREADGROUP GROUP g1 dave COUNT 2 STREAMS st '>'
s XREADGROUP GROUP g2 carol COUNT 1 STREAMS st '>'
assert_ok verify.live.streamed wait_until 20 g2_at T 7-1
kill -TERM "$LIVE" 2>/dev/null
wait "$LIVE"
assert_eq verify.live.sync_rc 0 "$?"
run live --verify --source "$(rs_url S)" --target "$(rs_url T)"
assert_eq verify.live.rc 0 "$RC"
assert_match verify.live.equal '^verify: equal: 8 source keys checked' "$(cat "$IT_TMP/live.out")"

# differ
t() { rs_cli T "$@" >/dev/null; }
t SET str:v hellO
t EXPIRE str:ttl 9000
t HSET hash:h f2 changed
t XGROUP SETID st g1 2-1
t LSET list:l 1 B
t SREM set:s c
t ZADD zset:z 5 b
t DEL type:k
t RPUSH type:k x
run differ --verify --source "$(rs_url S)" --target "$(rs_url T)"
OUT=$(cat "$IT_TMP/differ.out")
assert_eq verify.differ.rc 8 "$RC"
assert_match verify.differ.value "key 'str:v': differs: value: same length \(5 bytes\), other bytes" "$OUT"
assert_match verify.differ.ttl "key 'str:ttl': differs: expire time: [0-9]+ \(unix ms\) on the source, [0-9]+ \(unix ms\) on the target" "$OUT"
assert_match verify.differ.hash_field "key 'hash:h': differs: hash field 'f2': 2 bytes on the source, 7 bytes on the target" "$OUT"
assert_match verify.differ.stream_group_last_id "key 'st': differs: stream group 'g1' last-delivered-id: [0-9]+-1 on the source, 2-1 on the target" "$OUT"
assert_match verify.differ.list_element "key 'list:l': differs: list element 1: same length \(1 bytes\), other bytes" "$OUT"
assert_match verify.differ.set_member "key 'set:s': differs: set member 'c' only on the source \(and 1 more differing part\)" "$OUT"
assert_match verify.differ.zset_score "key 'zset:z': differs: zset member 'b' score: 2 on the source, 5 on the target" "$OUT"
assert_match verify.differ.type "key 'type:k': differs: type: string on the source, list on the target" "$OUT"
assert_match verify.differ.summary '^verify: DIFFERENT: 8 source keys checked, 8 differ, 0 missing' "$(grep '^verify:' <<<"$OUT")"

# progress
rs_cli S DEBUG POPULATE 35 pop >/dev/null
run progress --verify --rate 6 --source "$(rs_url S)" --target "$(rs_url T)"
assert_eq verify.progress.rc 8 "$RC"
assert_match verify.progress.line 'verify: [0-9]+ source keys compared' \
    "$(cat "$IT_TMP/progress.err")"

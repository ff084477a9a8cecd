#!/usr/bin/env bash
# it_strbatch.sh -- small plain strings of a full sync go as MSETNX/MSET
# runs (src/strbatch.c), and nothing else changes.
#
#   empty      a source with 3000 DEBUG POPULATE strings, ints, empty and
#              1 KB / 2 KB strings, strings with expires, a hash and a
#              list, in db 0 and db 3, synced --once into an empty target:
#              DEBUG DIGEST equal per db, every expire equal (PEXPIRETIME),
#              the target ran MSETNX (the runs) and RESTORE (the others:
#              expires, the 2 KB string, the collections), no MSET
#   replace    --on-conflict replace into a target holding one of the
#              keys with another value: MSET, the value is the source's,
#              digest equal
#   conflict   the default policy into a target holding one key: no run
#              at all (the target was not empty), RESTORE's exit 7 naming
#              that key, its value unchanged
#   off        RDBSYNC_NO_MSET=1: a RESTORE per key, digest equal
#   acl        a target user denied MSET and MSETNX (ACL DRYRUN says so):
#              a RESTORE per key, exit 0, digest equal
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rs_start src --enable-debug-command yes --repl-diskless-sync yes --repl-diskless-sync-delay 0
rs_start tgt --enable-debug-command yes

fill() {
    local db=$1
    rs_cli src -n "$db" DEBUG POPULATE 3000 "p$db" 16 >/dev/null
    local cmds="$IT_TMP/fill$db.cmds"
    {
        for i in $(seq 1 200); do
            echo "SET int$db:$i $((i * 7919 - 500000))"
            echo "SET ttl$db:$i v$i PX $((3600000 + i))"
        done
        echo "SET empty$db ''"
        echo "SET kb$db $(head -c 1024 /dev/zero | tr '\0' a)"
        echo "SET kb2$db $(head -c 2048 /dev/zero | tr '\0' b)"
        echo "HSET h$db f1 v1 f2 v2"
        echo "RPUSH l$db a b c"
    } >"$cmds"
    redis-cli -h 127.0.0.1 -p "$(rs_port src)" -n "$db" <"$cmds" >/dev/null
}
fill 0
fill 3

digest_db() { rs_cli "$1" -n "$2" DEBUG DIGEST; }
# expires NAME: every ttl key's PEXPIRETIME, in order.
expires() {
    local db i
    for db in 0 3; do
        for i in $(seq 1 200); do echo "$(rs_cli "$1" -n $db PEXPIRETIME ttl$db:$i)"; done
    done | md5sum
}
calls() { rs_cli tgt INFO commandstats | tr -d '\r' | sed -n "s/^cmdstat_$1:calls=\([0-9]*\).*/\1/p"; }

same() {
    local db
    for db in 0 3; do
        [ "$(digest_db src $db)" == "$(digest_db tgt $db)" ] ||
            { echo "db $db: DEBUG DIGEST differs"; return 1; }
    done
    [ "$(expires src)" == "$(expires tgt)" ] || { echo "expire times differ"; return 1; }
}

reset_tgt() {
    rs_cli tgt FLUSHALL >/dev/null
    rs_cli tgt CONFIG RESETSTAT >/dev/null
}

once() { rdb_run "$1" --source "$(rs_url src)" --target "$(rs_url tgt)" --once -q "${@:2}"; }

case_empty() {
    reset_tgt
    once empty
    [ "$RC" -eq 0 ] || { echo "exit $RC: $(tail -n 2 "$IT_TMP/empty.err")"; return 1; }
    same || return 1
    local nx restore
    nx=$(calls msetnx) restore=$(calls restore)
    [ "${nx:-0}" -gt 0 ] || { echo "no MSETNX on the target"; return 1; }
    # 6000 populated + 400 ints + 2 empty + 2 of 1 KB in runs of at most 128
    [ "$nx" -le $(((6404 + 127) / 128 + 2)) ] || { echo "$nx MSETNX for 6404 strings: runs too short"; return 1; }
    # 400 with expires + 2 of 2 KB + 2 hashes + 2 lists
    [ "$restore" == 406 ] || { echo "$restore RESTOREs, want 406"; return 1; }
    [ -z "$(calls mset)" ] || { echo "MSET on an empty target without --on-conflict replace"; return 1; }
}

case_replace() {
    reset_tgt
    rs_cli tgt SET p0:5 other >/dev/null
    once replace --on-conflict replace
    [ "$RC" -eq 0 ] || { echo "exit $RC: $(tail -n 2 "$IT_TMP/replace.err")"; return 1; }
    [ "$(calls mset)" -gt 0 ] || { echo "no MSET on the target"; return 1; }
    same
}

case_conflict() {
    reset_tgt
    rs_cli tgt SET p0:5 other >/dev/null
    once conflict
    [ "$RC" -eq 7 ] || { echo "exit $RC, want 7: $(tail -n 2 "$IT_TMP/conflict.err")"; return 1; }
    grep -q "key 'p0:5' (db 0) already exists on the target" "$IT_TMP/conflict.err" ||
        { echo "no line naming p0:5: $(tail -n 2 "$IT_TMP/conflict.err")"; return 1; }
    [ -z "$(calls msetnx)" ] || { echo "MSETNX into a target that was not empty"; return 1; }
    [ "$(rs_cli tgt GET p0:5)" == other ] || { echo "p0:5 was overwritten"; return 1; }
}

case_off() {
    reset_tgt
    RDBSYNC_NO_MSET=1 once off
    [ "$RC" -eq 0 ] || { echo "exit $RC: $(tail -n 2 "$IT_TMP/off.err")"; return 1; }
    [ -z "$(calls msetnx)$(calls mset)" ] || { echo "MSET/MSETNX with RDBSYNC_NO_MSET"; return 1; }
    same
}

case_acl() {
    reset_tgt
    rs_cli tgt ACL SETUSER app on '>pw' '~*' '&*' +@all -mset -msetnx >/dev/null
    RDBSYNC_TARGET_AUTH=pw once acl --target-user app
    [ "$RC" -eq 0 ] || { echo "exit $RC: $(tail -n 2 "$IT_TMP/acl.err")"; return 1; }
    [ -z "$(calls msetnx)$(calls mset)" ] || { echo "MSET/MSETNX by a user denied them"; return 1; }
    [ "$(calls restore)" == 6810 ] || { echo "$(calls restore) RESTOREs, want 6810 (every key)"; return 1; }
    same
}

for c in ${STRBATCH_CASES:-empty replace conflict off acl}; do
    if out=$(case_$c 2>&1); then pass "strbatch.$c"; else fail "strbatch.$c" "$out"; fi
done

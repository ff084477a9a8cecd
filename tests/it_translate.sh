#!/usr/bin/env bash
# it_translate.sh -- a live sync into a target older than its source
# (issue #15 finding 3): commands the target lacks are translated into
# exact equivalents (translate.h), and the sync stops with one line only
# where none exists. Uses $SHARED/servers (skips when absent).
#
# 1. 7.0 -> Redis 2.8.24: SET ... PX/EXAT/PXAT (7.0 propagates PXAT),
#    SET ... GET, GETEX (PX, PERSIST, plain), GETDEL, LMOVE in all four
#    directions, EXPIRE NX/GT, ZADD GT/NX/INCR/CH, UNLINK, multi-pair HSET,
#    and a mixed load of 600 such commands: the sync keeps going (exit 0 at
#    SIGTERM, "N translated", nothing skipped) and both sides end equal:
#    our --checksum of each side (read as a replica: exact expire times)
#    gives the same digest, and per key TYPE, value and PTTL (within 2 s)
#    agree.
# 2. 7.0 -> 2.8: XADD has no equivalent: exit 6, one line naming XADD, the
#    version it needs, the db and the source offset; the write after it
#    is not applied.
# 3. Redis 7.4.1 -> 7.0: HEXPIRE/HPERSIST with --drop-field-ttls are
#    dropped and counted, the HSETs around them arrive, exit 0; without the
#    flag the first one stops the sync (exit 6) with one line.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip translate "no binary at $RDBSYNC (run make)"
    exit 0
fi
SERVERS=${SHARED:+$SHARED/servers}
if [ -z "$SERVERS" ] || [ ! -x "$SERVERS/redis-2.8.24/redis-server" ]; then
    skip translate "no \$SHARED/servers/redis-2.8.24 (the cross-version servers)"
    exit 0
fi

# other_start NAME BINARY [args...]: rs_start with that server binary (free
# port, own dir, a start that lost its port to another test retried, stopped
# at exit by PID with the others).
other_start() {
    local name=$1
    printf -v "RS_BIN_$name" '%s' "$2"
    shift 2
    rs_start "$name" "$@"
}
pong() { [ "$(rs_cli "$1" PING 2>/dev/null)" = PONG ]; }
feed() { redis-cli -h 127.0.0.1 -p "$(rs_port "$1")" >/dev/null; }
applied() { grep -q 'snapshot applied' "$IT_TMP/$1.err"; }
has_key() { [ "$(rs_cli "$1" EXISTS "$2")" = 1 ]; }
stopped() { ! kill -0 "$1" 2>/dev/null; }
digest_of() { grep '^digest:' "$IT_TMP/$1.out" | cut -d' ' -f2; }
finish() { # finish NAME: SIGTERM the sync, RC its exit status
    kill -TERM "$SYNC_PID" 2>/dev/null || true
    RC=0
    wait "$SYNC_PID" || RC=$?
}

# One line per key: name, type, value (sorted where order is not data).
dump_keys() {
    local s=$1 k t
    for k in $(rs_cli "$s" KEYS '*' | sort); do
        t=$(rs_cli "$s" TYPE "$k")
        case $t in
        string) v=$(rs_cli "$s" GET "$k") ;;
        list) v=$(rs_cli "$s" LRANGE "$k" 0 -1 | tr '\n' ,) ;;
        set) v=$(rs_cli "$s" SMEMBERS "$k" | sort | tr '\n' ,) ;;
        zset) v=$(rs_cli "$s" ZRANGE "$k" 0 -1 WITHSCORES | tr '\n' ,) ;;
        hash) v=$(rs_cli "$s" HGETALL "$k" | paste - - | sort | tr '\n' ,) ;;
        *) v=? ;;
        esac
        printf '%s %s %s\n' "$k" "$t" "$v"
    done
}
# Keys whose PTTL differs by more than 2 s between the sides.
ttl_drift() {
    local k a b
    for k in $(rs_cli "$1" KEYS '*'); do
        a=$(rs_cli "$1" PTTL "$k")
        b=$(rs_cli "$2" PTTL "$k")
        if [ $((a > b ? a - b : b - a)) -gt 2000 ]; then printf '%s(%s/%s) ' "$k" "$a" "$b"; fi
    done
}

# ---- 1. 7.0 -> 2.8: translated, equal ----
rs_start S --repl-diskless-sync-delay 0
other_start OLD "$SERVERS/redis-2.8.24/redis-server" || { fail translate.28.start "redis 2.8.24 did not start"; exit 0; }
rs_cli S RPUSH L a b c d e f g h >/dev/null
sync_start to28 S OLD
wait_until 30 applied to28 || fail translate.28.snapshot "no 'snapshot applied' in 30 s"
NOW=$(date +%s)
{
    echo "SET p1 v PX 200000"
    echo "SET p2 v EXAT $((NOW + 300))"
    echo "SET p3 v PXAT $(((NOW + 400) * 1000 + 123))"
    echo "SET g1 a"
    echo "SET g1 b GET"
    echo "SET x1 v"
    echo "GETEX x1 PX 500000"
    echo "GETEX x1"
    echo "SET x2 v EX 100000"
    echo "GETEX x2 PERSIST"
    echo "SET d1 v"
    echo "GETDEL d1"
    echo "LMOVE L L2 RIGHT LEFT"
    echo "LMOVE L L2 LEFT RIGHT"
    echo "LMOVE L L3 LEFT LEFT"
    echo "LMOVE L L3 RIGHT RIGHT"
    echo "SET e1 v"
    echo "EXPIRE e1 300000 NX"
    echo "EXPIRE e1 400000 GT"
    echo "ZADD z 1 a"
    echo "ZADD z GT 5 a"
    echo "ZADD z NX 2 b"
    echo "ZADD z INCR 3 b"
    echo "ZADD z CH 7 c 8 d"
    echo "HSET h a 1 b 2 c 3"
    echo "SET u1 v"
    echo "UNLINK u1"
    for i in $(seq 1 100); do
        echo "SET k:$i v$i PX $((100000 + i))"
        echo "SET k:$i w$i GET"
        echo "LPUSH q $i"
        echo "LMOVE q q2 LEFT RIGHT"
        echo "HSET hh:$((i % 7)) f$i $i g $i"
        echo "GETEX k:$i PXAT $(((NOW + 600) * 1000 + i))"
    done
    echo "SET marker 1"
} | feed S
wait_until 20 has_key OLD marker || fail translate.28.marker "the last write did not reach 2.8 in 20 s"
assert_eq translate.28.still_running 1 "$(kill -0 "$SYNC_PID" 2>/dev/null && echo 1 || echo 0)"
rdb_run sum_s --source "$(rs_url S)" --checksum
rdb_run sum_old --source "$(rs_url OLD)" --checksum
assert_match translate.28.digest_read '^[0-9a-f]{64}$' "$(digest_of sum_old)"
assert_eq translate.28.digest "$(digest_of sum_s)" "$(digest_of sum_old)"
assert_eq translate.28.key_count "$(rs_cli S DBSIZE)" "$(dump_keys OLD | wc -l | tr -d ' ')"
assert_eq translate.28.keys "$(dump_keys S)" "$(dump_keys OLD)"
assert_eq translate.28.ttls "" "$(ttl_drift S OLD)"
# PXAT kept its absolute time: both PTTLs, read a moment apart, agree
# within 100 ms (a relative rewrite would be off by the lag at least).
pt_s=$(rs_cli S PTTL p3) pt_o=$(rs_cli OLD PTTL p3)
assert_eq translate.28.exact_pxat 1 "$(( pt_o > 0 && pt_s - pt_o < 100 && pt_o - pt_s < 100 ))"
finish
assert_eq translate.28.exit 0 "$RC"
assert_match translate.28.counted 'translated, 0 field-TTL commands dropped, 0 without equivalent skipped' \
    "$(cat "$IT_TMP/to28.err")"

# ---- 2. no equivalent ----
other_start OLD2 "$SERVERS/redis-2.8.24/redis-server" || { fail translate.none.start "redis 2.8.24 did not start"; exit 0; }
sync_start noeq S OLD2
wait_until 30 applied noeq || fail translate.none.snapshot "no 'snapshot applied' in 30 s"
{
    echo "SET before 1"
    echo "XADD st 1-1 f v"
    echo "SET after 1"
} | feed S
wait_until 10 stopped "$SYNC_PID" || true
RC=0
wait "$SYNC_PID" || RC=$?
assert_eq translate.none.exit 6 "$RC"
assert_eq translate.none.one_line 1 "$(grep -c 'the target has no XADD (it needs Redis 5.0) and nothing exact replaces it (db 0, source offset [0-9]*)' "$IT_TMP/noeq.err")"
assert_eq translate.none.before_after "1 0" "$(rs_cli OLD2 EXISTS before) $(rs_cli OLD2 EXISTS after)"

# ---- 3. field TTLs from 7.4 into 7.0 ----
if [ -x "$SERVERS/redis-7.4.1/redis-server" ]; then
    other_start NEW "$SERVERS/redis-7.4.1/redis-server" --repl-diskless-sync-delay 0 ||
        { fail translate.fttl.start "redis 7.4.1 did not start"; exit 0; }
    rs_start T
    sync_start fttl NEW T --drop-field-ttls
    wait_until 30 applied fttl || fail translate.fttl.snapshot "no 'snapshot applied' in 30 s"
    {
        echo "HSET fh a 1 b 2"
        echo "HEXPIRE fh 1000 FIELDS 1 a"
        echo "HPERSIST fh FIELDS 1 a"
        echo "HSET fh c 3"
        echo "SET fmarker 1"
    } | feed NEW
    wait_until 10 has_key T fmarker || true
    assert_eq translate.fttl.fields "a 1 b 2 c 3" "$(rs_cli T HGETALL fh | paste - - | sort | tr '\n\t' '  ' | sed 's/ $//')"
    finish
    assert_eq translate.fttl.exit 0 "$RC"
    assert_match translate.fttl.counted '2 field-TTL commands dropped' "$(cat "$IT_TMP/fttl.err")"

    rs_start T2
    sync_start fstop NEW T2
    wait_until 30 applied fstop || fail translate.fstop.snapshot "no 'snapshot applied' in 30 s"
    printf 'HEXPIRE fh 1000 FIELDS 1 b\nSET fafter 1\n' | feed NEW
    wait_until 10 stopped "$SYNC_PID" || true
    RC=0
    wait "$SYNC_PID" || RC=$?
    assert_eq translate.fstop.exit 6 "$RC"
    assert_eq translate.fstop.one_line 1 "$(grep -cE 'the target has no HP?EXPIRE(AT)? \(hash field TTLs\)' "$IT_TMP/fstop.err")"
    assert_eq translate.fstop.after 0 "$(rs_cli T2 EXISTS fafter)"
else
    skip translate.fttl "no \$SHARED/servers/redis-7.4.1"
fi

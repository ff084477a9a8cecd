#!/usr/bin/env bash
# it_trust.sh -- data-safety defects of issue #14 against real redis-server
# 7.0 processes; each case failed before its fix.
#
# 1. dbs     a target started with --databases 4 and a source using db 15:
#            --file import stops at the refused SELECT 15 with exit 6, one
#            line naming db 15 and suggesting --db-map, no key of db 15 in
#            any db of the target and "N keys written" = what it holds;
#            --db-map 15:3 copies everything. Live sync and scan mode refuse
#            before writing anything (CONFIG GET databases; SELECT probes
#            where CONFIG is renamed away): exit 6, the target empty. A
#            live stream that SELECTs db 15 later stops at it: exit 6, the
#            key written after the SELECT in no db of the target.
# 2. flush   --flush-target in live sync (--once) and scan mode (--mode
#            scan --once) with a target holding conflicting keys, keys the
#            source lacks (db 3) and another function library: exit 0,
#            DEBUG DIGEST and FUNCTION LIST equal to the source's. The
#            README's restart path of a stopped live sync: stopped by
#            SIGTERM, the source changed (DEL, SET), the same command again
#            exits 7 naming a key, with --flush-target it ends equal.
# 3. tmp     huge values (--max-restore-size 1k: a 300-element list) go
#            through a temporary key that never collides with user data:
#            a target key literally named 'k1:rdbsync-tmp' is untouched and
#            source keys of such names arrive whole (import and live sync),
#            every key exact (DEBUG DIGEST-VALUE), no rdbsync:tmp:* left.
#            Temporary keys of an interrupted run (rdbsync:tmp:*, in two
#            dbs) are deleted by the next run, which says how many.
# 4. grace   live sync while the target is stalled by CLIENT PAUSE 6000 WRITE
#            (then 30000) and the source renews TTLs just in time: SET k v
#            EX 1 then EXPIRE k 500, and EXPIRE k 1 then EXPIRE k 500 on
#            existing keys, 8,000 keys over 3 s. Once the target catches up,
#            it holds every key of the source, DEBUG DIGEST equal, and
#            --verify (values and expire times) exits 0. A key that really
#            expires on the source (SET EX 1, never renewed) leaves the
#            target when the source's DEL for it arrives. --expire-grace with a file import is refused.
#
# Everything runs on 127.0.0.1. TRUST_PARTS="dbs" runs only those parts.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

export LC_ALL=C
unset RDBSYNC_TARGET_AUTH RDBSYNC_SOURCE_AUTH REDISCLI_AUTH

if ! have_rdbsync; then
    skip trust "no binary at $RDBSYNC (run make)"
    exit 0
fi

# ---- helpers ----

part() { [ -z "${TRUST_PARTS:-}" ] || [[ " $TRUST_PARTS " == *" $1 "* ]]; }

# run NAME ARGS...: rdbsync in the foreground (at most 60 s); output in
# $IT_TMP/NAME.out/.err, exit status in RC.
run() {
    local n=$1
    shift
    RC=0
    timeout 60 "$RDBSYNC" "$@" >"$IT_TMP/$n.out" 2>"$IT_TMP/$n.err" || RC=$?
}
errtail() { it_show "$(tail -n 4 "$IT_TMP/$1.err" 2>/dev/null)"; }
# expect_rc NAME TESTNAME CODE: the run exited CODE (its stderr on failure).
expect_rc() {
    if [ "$RC" == "$3" ]; then pass "$2"; else fail "$2" "exit $RC, expected $3: $(errtail "$1")"; fi
}

# bg NAME ARGS...: rdbsync in the background; BG_PID.
bg() { rdb_bg "$@"; }
# bg_wait SECONDS: wait for the background run to end by itself; RC, or
# RC=hung after killing it.
bg_wait() {
    local deadline=$((SECONDS + $1))
    while kill -0 "$BG_PID" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            rdb_kill "$BG_PID"
            wait "$BG_PID" 2>/dev/null || true
            RC=hung
            return 0
        fi
        sleep 0.1
    done
    RC=0
    wait "$BG_PID" || RC=$?
}
# bg_stop: SIGTERM, then bg_wait 10.
bg_stop() { kill -TERM "$BG_PID" 2>/dev/null || true; bg_wait 10; }

keysum() {
    rs_cli "$1" INFO keyspace | sed -n 's/^db[0-9]*:keys=\([0-9]*\),.*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}
# in_any_db NAME KEY NDBS: the dbs (0..NDBS-1) of NAME holding KEY.
in_any_db() {
    local d out=
    for ((d = 0; d < $3; d++)); do
        [ "$(rs_cli "$1" -n "$d" EXISTS "$2")" == 1 ] && out+="$d "
    done
    printf '%s' "$out"
}
written_said() { sed -n 's/.*[( ]\([0-9][0-9]*\) keys written.*/\1/p' "$IT_TMP/$1.err" | head -n 1; }

# ---- part 1: a target with fewer dbs ----

# fill_dbs NAME: 50 keys in db 0, 30 in db 2, 20 in db 15.
fill_dbs() {
    rs_cli "$1" DEBUG POPULATE 50 a >/dev/null
    rs_cli "$1" -n 2 DEBUG POPULATE 30 b >/dev/null
    rs_cli "$1" -n 15 DEBUG POPULATE 20 c >/dev/null
}
# no_db15_keys NAME: no key of db 15 ("c:*") anywhere on the 4-db target.
no_db15_keys() {
    local d n
    for d in 0 1 2 3; do
        n=$(rs_cli "$1" -n "$d" --scan --pattern 'c:*' | wc -l)
        [ "$n" == 0 ] || { echo "$n keys of db 15 in db $d"; return 1; }
    done
}

if part dbs; then
    rs_start S1 && rs_start T4 --databases 4 && rs_start T4n --databases 4 --rename-command CONFIG "" || true
    fill_dbs S1
    cp "$(rs_save S1)" "$IT_TMP/dbs.rdb"

    run dbs_import --file "$IT_TMP/dbs.rdb" --target "$(rs_url T4)" -q
    expect_rc dbs_import trust.dbs.import.rc 6
    assert_match trust.dbs.import.msg 'no db 15 .*stopped before writing any key of it.*--db-map' \
        "$(cat "$IT_TMP/dbs_import.err")"
    assert_eq trust.dbs.import.no_db15_key "" "$(no_db15_keys T4)"
    assert_eq trust.dbs.import.counted "$(keysum T4)" "$(written_said dbs_import)"
    assert_eq trust.dbs.import.held "50 30" "$(rs_cli T4 DBSIZE) $(rs_cli T4 -n 2 DBSIZE)"

    rs_cli T4 FLUSHALL >/dev/null
    run dbs_import_map --file "$IT_TMP/dbs.rdb" --target "$(rs_url T4)" -q --db-map 15:3
    expect_rc dbs_import_map trust.dbs.import_map.rc 0
    assert_eq trust.dbs.import_map.held "50 30 20" "$(rs_cli T4 DBSIZE) $(rs_cli T4 -n 2 DBSIZE) $(rs_cli T4 -n 3 DBSIZE)"

    # Live sync and scan mode: refused before anything is written.
    for t in T4 T4n; do
        rs_cli "$t" FLUSHALL >/dev/null
        run "dbs_sync_$t" --source "$(rs_url S1)" --target "$(rs_url "$t")" --once -q
        expect_rc "dbs_sync_$t" "trust.dbs.sync_$t.rc" 6
        assert_match "trust.dbs.sync_$t.msg" 'no db 15 .*stopped before writing anything.*--db-map' \
            "$(cat "$IT_TMP/dbs_sync_$t.err")"
        assert_eq "trust.dbs.sync_$t.empty" 0 "$(keysum "$t")"
    done
    rs_cli T4 FLUSHALL >/dev/null
    run dbs_scan --source "$(rs_url S1)" --target "$(rs_url T4)" --mode scan --once -q
    expect_rc dbs_scan trust.dbs.scan.rc 6
    assert_match trust.dbs.scan.msg 'no db 15 .*stopped before writing anything' "$(cat "$IT_TMP/dbs_scan.err")"
    assert_eq trust.dbs.scan.empty 0 "$(keysum T4)"

    # The stream: db 15 appears only after the snapshot.
    rs_cli S1 -n 15 FLUSHDB >/dev/null
    rs_cli T4 FLUSHALL >/dev/null
    bg dbs_stream --source "$(rs_url S1)" --target "$(rs_url T4)" -q
    if wait_until 20 grep -q 'snapshot applied' "$IT_TMP/dbs_stream.err" ||
        wait_until 20 test "$(keysum T4)" == 80; then
        printf 'SELECT 15\nSET late15 x\nSELECT 0\nSET after0 y\n' | redis-cli -p "$(rs_port S1)" >/dev/null
        bg_wait 20
        expect_rc dbs_stream trust.dbs.stream.rc 6
        assert_match trust.dbs.stream.msg 'no db 15 .*stopped before writing any key of it' \
            "$(cat "$IT_TMP/dbs_stream.err")"
        assert_eq trust.dbs.stream.late_key_nowhere "" "$(in_any_db T4 late15 4)"
    else
        fail trust.dbs.stream "the snapshot was not applied: $(errtail dbs_stream)"
        bg_stop
    fi
    rs_stop S1; rs_stop T4; rs_stop T4n
fi

# ---- part 2: --flush-target in every mode ----

LIB_SRC="#!lua name=srclib
redis.register_function('f1', function() return 1 end)"
LIB_OLD="#!lua name=oldlib
redis.register_function('f0', function() return 0 end)"
# dirty NAME: what a target holds before a copy: keys of the source's
# names with other values, keys the source lacks, another library.
dirty() {
    rs_cli "$1" DEBUG POPULATE 300 key 5 >/dev/null
    rs_cli "$1" -n 3 DEBUG POPULATE 10 stale >/dev/null
    rs_cli "$1" FUNCTION LOAD "$LIB_OLD" >/dev/null
}
funcs() { rs_cli "$1" FUNCTION LIST WITHCODE | sort | paste -sd ' '; }
# same NAME A B: DEBUG DIGEST and functions of A and B equal.
same() {
    local da db
    wait_until 10 test "$(rs_digest "$2")" == "$(rs_digest "$3")" || true
    da=$(rs_digest "$2") db=$(rs_digest "$3")
    if [ "$da" != "$db" ]; then fail "$1" "DEBUG DIGEST $da vs $db ($(keysum "$2") vs $(keysum "$3") keys)"
    elif [ "$(funcs "$2")" != "$(funcs "$3")" ]; then fail "$1" "functions differ: $(funcs "$3")"
    else pass "$1"; fi
}

if part flush; then
    rs_start S2 --repl-diskless-sync-delay 0 && rs_start T2 || true
    rs_cli S2 DEBUG POPULATE 1000 key >/dev/null
    rs_cli S2 -n 1 DEBUG POPULATE 200 one >/dev/null
    rs_cli S2 FUNCTION LOAD "$LIB_SRC" >/dev/null

    dirty T2
    run flush_sync --source "$(rs_url S2)" --target "$(rs_url T2)" --once -q --flush-target
    expect_rc flush_sync trust.flush.sync.rc 0
    same trust.flush.sync.equal S2 T2

    rs_cli T2 FLUSHALL >/dev/null; rs_cli T2 FUNCTION FLUSH >/dev/null
    dirty T2
    run flush_scan --source "$(rs_url S2)" --target "$(rs_url T2)" --mode scan --once -q --flush-target
    expect_rc flush_scan trust.flush.scan.rc 0
    same trust.flush.scan.equal S2 T2

    # The restart path of a stopped live sync (README, Live sync).
    rs_cli T2 FLUSHALL >/dev/null; rs_cli T2 FUNCTION FLUSH >/dev/null
    bg flush_first --source "$(rs_url S2)" --target "$(rs_url T2)"
    if wait_until 20 grep -q 'snapshot applied' "$IT_TMP/flush_first.err"; then
        bg_stop
        rs_cli S2 DEL key:1 key:2 key:3 >/dev/null
        rs_cli S2 SET newkey v >/dev/null
        run flush_again --source "$(rs_url S2)" --target "$(rs_url T2)" --once -q
        expect_rc flush_again trust.flush.restart_plain.rc 7
        assert_match trust.flush.restart_plain.msg "already exists on the target.*--flush-target" \
            "$(cat "$IT_TMP/flush_again.err")"
        run flush_restart --source "$(rs_url S2)" --target "$(rs_url T2)" --once -q --flush-target
        expect_rc flush_restart trust.flush.restart.rc 0
        same trust.flush.restart.equal S2 T2
    else
        fail trust.flush.restart "the first run did not apply its snapshot: $(errtail flush_first)"
        bg_stop
    fi
    rs_stop S2; rs_stop T2
fi

# ---- part 3: the temporary keys of huge values ----

# huge_src NAME: k1..k10, lists too big for one RESTORE under
# --max-restore-size 1k, each with a key named like its old temporary key
# (ten pairs: the RDB's order puts some of those before their list), and
# one more list in db 2.
HUGE_KEYS=()
huge_src() {
    local i args=()
    for ((i = 0; i < 300; i++)); do args+=("element-$i-$(printf '%040d' "$i")"); done
    for ((i = 1; i <= 10; i++)); do
        rs_cli "$1" RPUSH "k$i" "${args[@]}" >/dev/null
        rs_cli "$1" SET "k$i:rdbsync-tmp" "source-own-$i" >/dev/null
    done
    rs_cli "$1" -n 2 RPUSH k2 "${args[@]}" >/dev/null
}
for ((i = 1; i <= 10; i++)); do HUGE_KEYS+=("k$i" "k$i:rdbsync-tmp"); done
HUGE_KEYS+=(k2@2)
# exact NAME A B KEY[@DB]...: each key's DEBUG DIGEST-VALUE equal on A and B.
exact() {
    local n=$1 a=$2 b=$3 k db bad=
    shift 3
    for k in "$@"; do
        db=0
        [[ $k == *@* ]] && db=${k#*@} k=${k%@*}
        [ "$(rs_cli "$a" -n "$db" DEBUG DIGEST-VALUE "$k")" == "$(rs_cli "$b" -n "$db" DEBUG DIGEST-VALUE "$k")" ] &&
            [ "$(rs_cli "$b" -n "$db" EXISTS "$k")" == 1 ] || bad+="$k (db $db) "
    done
    if [ -z "$bad" ]; then pass "$n"; else fail "$n" "differ or missing: $bad"; fi
}
tmps_left() { local d; for d in 0 2; do rs_cli "$1" -n "$d" --scan --pattern 'rdbsync:tmp:*'; done | wc -l; }

if part tmp; then
    rs_start S3 --repl-diskless-sync-delay 0 && rs_start T3 || true
    huge_src S3
    cp "$(rs_save S3)" "$IT_TMP/huge.rdb"

    # A target key of the old temporary name, the source without it.
    rs_cli S3 DEL k1:rdbsync-tmp >/dev/null
    cp "$(rs_save S3)" "$IT_TMP/huge_no_tmpname.rdb"
    rs_cli S3 SET k1:rdbsync-tmp source-own-1 >/dev/null
    rs_cli T3 SET k1:rdbsync-tmp target-own >/dev/null
    run tmp_target --file "$IT_TMP/huge_no_tmpname.rdb" --target "$(rs_url T3)" -q --max-restore-size 1k
    expect_rc tmp_target trust.tmp.target_key.rc 0
    assert_eq trust.tmp.target_key.untouched target-own "$(rs_cli T3 GET k1:rdbsync-tmp)"
    exact trust.tmp.target_key.exact S3 T3 k1 k2@2
    assert_eq trust.tmp.target_key.no_tmp_left 0 "$(tmps_left T3)"

    # A source key of that name: import and live sync.
    rs_cli T3 FLUSHALL >/dev/null
    run tmp_source --file "$IT_TMP/huge.rdb" --target "$(rs_url T3)" -q --max-restore-size 1k
    expect_rc tmp_source trust.tmp.source_key.rc 0
    exact trust.tmp.source_key.exact S3 T3 "${HUGE_KEYS[@]}"
    assert_eq trust.tmp.source_key.all "$(keysum S3)" "$(keysum T3)"
    rs_cli T3 FLUSHALL >/dev/null
    run tmp_sync --source "$(rs_url S3)" --target "$(rs_url T3)" --once -q --max-restore-size 1k
    expect_rc tmp_sync trust.tmp.sync.rc 0
    exact trust.tmp.sync.exact S3 T3 "${HUGE_KEYS[@]}"
    assert_eq trust.tmp.sync.digest "$(rs_digest S3)" "$(rs_digest T3)"

    # What a killed run leaves: deleted by the next one, counted.
    rs_cli T3 FLUSHALL >/dev/null
    rs_cli T3 SET 'rdbsync:tmp:{k}:0123456789abcdef:4242' x PX 3600000 >/dev/null
    rs_cli T3 -n 2 RPUSH 'rdbsync:tmp:{k2}:fedcba9876543210:4242' a >/dev/null
    run tmp_clean --file "$IT_TMP/huge.rdb" --target "$(rs_url T3)" -q --max-restore-size 1k
    expect_rc tmp_clean trust.tmp.clean.rc 0
    assert_match trust.tmp.clean.msg 'deleted 2 temporary keys \(rdbsync:tmp:\*\)' "$(cat "$IT_TMP/tmp_clean.err")"
    assert_eq trust.tmp.clean.gone 0 "$(tmps_left T3)"
    assert_eq trust.tmp.clean.digest "$(rs_digest S3)" "$(rs_digest T3)"
    rs_stop S3; rs_stop T3
fi

# ---- part 4: expire times and a lagging target ----

# renewals PORT FIRST COUNT: COUNT keys from FIRST: SET g:i v EX 1 then
# EXPIRE g:i 500 (even i), EXPIRE g:i 1 then EXPIRE g:i 500 on a key that
# exists (odd i); in batches of 200 over about 3 s.
renewals() {
    local port=$1 first=$2 count=$3 b
    for ((b = first; b < first + count; b += 200)); do
        awk -v a="$b" -v n=200 'BEGIN {
            for (i = a; i < a + n; i++) {
                if (i % 2 == 0) printf "SET g:%d v%d EX 1\r\nEXPIRE g:%d 500\r\n", i, i, i
                else printf "SET g:%d v%d\r\nEXPIRE g:%d 1\r\nEXPIRE g:%d 500\r\n", i, i, i, i
            } }' | redis-cli -p "$port" --pipe >/dev/null 2>&1
        sleep 0.07
    done
}
# stalled NAME TGT MS FIRST: pause TGT's writes for MS ms while the renewals
# run on S4, then wait for TGT to hold what S4 holds; check it.
stalled() {
    local n=$1 t=$2 ms=$3 first=$4
    rs_cli "$t" CLIENT PAUSE "$ms" WRITE >/dev/null
    renewals "$(rs_port S4)" "$first" 8000
    rs_cli S4 SET g:dies v EX 1 >/dev/null
    sleep $((ms / 1000 + 3))
    # g:dies expired on the source long ago, but active expiry may not have
    # sampled it yet among 16,000 keys with TTLs; the target keeps it (the
    # grace) until the source's DEL arrives. A read makes the source delete
    # it and send that DEL.
    rs_cli S4 EXISTS g:dies >/dev/null
    wait_until 30 test "$(rs_digest S4)" == "$(rs_digest "$t")" || true
    assert_eq "trust.grace.$n.keys" "$(keysum S4)" "$(keysum "$t")"
    assert_eq "trust.grace.$n.digest" "$(rs_digest S4)" "$(rs_digest "$t")"
    assert_eq "trust.grace.$n.renewed_ttl" "$(rs_cli S4 PEXPIRETIME "g:$((first + 7))")" \
        "$(rs_cli "$t" PEXPIRETIME "g:$((first + 7))")"
    assert_eq "trust.grace.$n.expired_gone" 0 "$(rs_cli "$t" EXISTS g:dies)"
    run "grace_verify_$n" --verify --source "$(rs_url S4)" --target "$(rs_url "$t")" -q
    expect_rc "grace_verify_$n" "trust.grace.$n.verify" 0
}

if part grace; then
    rs_start S4 --repl-diskless-sync-delay 0 && rs_start T5 || true
    rs_cli S4 DEBUG POPULATE 1000 base >/dev/null
    bg grace_sync --source "$(rs_url S4)" --target "$(rs_url T5)"
    if wait_until 20 grep -q 'snapshot applied' "$IT_TMP/grace_sync.err"; then
        stalled pause6 T5 6000 0
        [ "${TRUST_SHORT:-}" == 1 ] || stalled pause30 T5 30000 100000
        bg_stop
        expect_rc grace_sync trust.grace.sync_stops 0
    else
        fail trust.grace.sync "the snapshot was not applied: $(errtail grace_sync)"
        bg_stop
    fi
    run grace_file --file /dev/null --target "$(rs_url T5)" --expire-grace 5000
    expect_rc grace_file trust.grace.file_refused 1
    rs_stop S4; rs_stop T5
fi

exit 0

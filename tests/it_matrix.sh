#!/usr/bin/env bash
# it_matrix.sh -- the cross-version matrix of issue #15, with the server
# builds of ../shared/servers (skipped, saying so, when the folder is
# absent): every version as the source into Debian's 7.0, 7.0 into every
# version as the target, and every version into itself.
#
# For each pair SRC -> TGT (a fresh source, target and, where it can be,
# native replica, all on free ports):
#   live     the load generator (tests/sync/load.c: strings, counters,
#            lists, sets, zsets, hashes, streams, EXPIRE/PEXPIRE/SET EX of
#            an hour, RENAME, MULTI/EXEC across dbs, EVAL, PUBLISH) writes
#            1 s before rdbsync starts and 2 s while it takes the snapshot
#            and streams; then, once rdbsync's acknowledged offset equals
#            the source's:
#            - DEBUG DIGEST equal between two servers of the same version:
#              source and target when SRC = TGT; otherwise the target and a
#              native replica of the same source (a TGT server doing
#              REPLICAOF), where TGT can load SRC's RDB. DEBUG DIGEST is not
#              compared across versions: 7.2+ hash zset scores differently.
#            - --verify source target: equal (exit 0), key by key, with the
#              automatic TTL tolerance (2.8 and 6.2 replicate relative
#              EXPIREs: their replicas' expire times trail by the lag).
#            - our digest (--source URL --checksum) equal on both sides
#              where both are 7.0+ (absolute expire times on both).
#            - SIGTERM: rdbsync exits 0.
#   import   the source's SAVE imported into the emptied target: --verify
#            equal, and the file's digest equal to the target's where the
#            target takes RESTORE ... ABSTTL (5.0+: exact expire times).
#
# Load per pair: --no-groups (a consumer's seen time is the clock of the
# server that applies the read, so whole-dataset digests would differ) and
# --no-volatile (keys expiring within seconds are written with
# --expire-grace on a live target); --no-streams where 2.8 is involved (no
# streams there) and for 7.0 -> 6.2 (7.0's stream metadata does not fit
# 6.2's format: the copy is knowingly lossy, it_import_versions.sh).
#
# Known, pending translation of commands for older targets (the filters
# branch, #15 finding 3): 7.0 -> 2.8 live stops at the first SET ... PXAT
# (7.0 propagates SET EX that way; 2.8 has no PXAT). That pair is marked
# expected to stop: the stop must come with exit 6 and the line
# "the target refused SET (db N, key 'K', source offset N): ERR syntax error";
# then the same pair runs live again under a load that writes SET, then
# EXPIRE, instead of SET ... EX, and is checked like the others. Once a translation lets it run, the
# pair is checked like the others instead, and says so.
#
# Pairs run two at a time (2 cores), each as its own process of this
# script (`it_matrix.sh --pair SRC TGT`, with its own temp dir, servers and
# traps); their result lines are printed pair by pair. MATRIX_PAIRS='a>b
# c>d' runs only those; MATRIX_JOBS sets the parallelism (default 2).
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

DEBIAN=debian-7.0   # Debian's redis-server 7.0 (not a folder of servers/)
VERSIONS=(redis-2.8.24 redis-6.2.16 redis-7.2.6 redis-7.4.1 redis-8.0-m01 valkey-8.0.1 valkey-unstable-20241025)

# ---- one pair (a child process) ----


# start NAME VERSION [args...]
start() {
    local name=$1 v=$2
    shift 2
    if [ "$v" = "$DEBIAN" ]; then rs_start "$name" "$@"; else rs_start_v "$name" "$v" "$@"; fi
}

# The server's version as major*100+minor (valkey-unstable reports 255.255).
vnum() {
    case $1 in
    "$DEBIAN") echo 700 ;;
    redis-2.8.*) echo 208 ;;
    redis-6.2.*) echo 602 ;;
    redis-7.2.*) echo 702 ;;
    redis-7.4.*) echo 704 ;;
    redis-8.0*) echo 800 ;;
    valkey-8.0.*) echo 800 ;;
    valkey-unstable*) echo 900 ;;
    esac
}

# RDB version of its dumps (../shared/servers/README.md): whether a TGT
# server can be a native replica of SRC.
rdbv() {
    case $1 in
    redis-2.8.*) echo 6 ;; redis-6.2.*) echo 9 ;; "$DEBIAN") echo 10 ;;
    redis-7.2.*|valkey-*) echo 11 ;; *) echo 12 ;;
    esac
}

info() { rs_cli "$1" INFO "$2" | tr -d '\r' | sed -n "s/^$3://p"; }
replica_offset() {
    rs_cli "$1" INFO replication | tr -d '\r' | grep -E "^slave[0-9]+:.*,port=$2," |
        sed -n 's/.*,offset=\([0-9]*\).*/\1/p'
}
caught_up() { [ "$(replica_offset "$1" "$2")" == "$(info "$1" replication master_repl_offset)" ]; }
settled() { caught_up S 0 || ! kill -0 "$SYNC_PID" 2>/dev/null; }
digest_of() { "$RDBSYNC" --source "$(rs_url "$1")" --checksum 2>/dev/null | sed -n 's/^digest: //p'; }
file_digest() { "$RDBSYNC" --file "$1" --checksum 2>/dev/null | sed -n 's/^digest: //p'; }
load() { "$MATRIX_LOAD" --port "$(rs_port "$1")" --quiet --no-groups --no-volatile "${LOAD_ARGS[@]}" "${@:2}"; }

verify_equal() {
    local t=$1 rc=0
    "$RDBSYNC" --verify --source "$(rs_url S)" --target "$(rs_url T)" >"$IT_TMP/$t.out" 2>"$IT_TMP/$t.err" || rc=$?
    if [ "$rc" -eq 0 ]; then pass "$t"
    else
        fail "$t" "--verify exited $rc: $(it_show "$(grep -m 3 -E '^(db|verify)' "$IT_TMP/$t.out" | paste -sd'|')$(tail -n 1 "$IT_TMP/$t.err")")"
    fi
}

# expected_stop SRC TGT: the regex of the line a pair is known to stop with.
expected_stop() {
    if [ "$(vnum "$1")" -ge 700 ] && [ "$(vnum "$2")" -lt 602 ]; then
        echo "the target refused SET \\(db [0-9]+, key '[^']*', source offset [0-9]+\\): ERR syntax error"
    fi
}

# live_checks TEST SYNCNAME NATIVE SRC TGT: a live sync that should be in
# sync now (rdbsync's acknowledged offset is the source's).
live_checks() {
    local t=$1 name=$2 native=$3 src=$4 tgt=$5 rc
    assert_ok "$t.caught_up" caught_up S 0
    if [ "$native" = 1 ]; then
        assert_ok "$t.replica_caught_up" wait_until 30 caught_up S "$(rs_port R)"
        assert_eq "$t.debug_digest_vs_native_replica" "$(rs_digest R)" "$(rs_digest T)"
    elif [ "$src" = "$tgt" ]; then
        assert_eq "$t.debug_digest" "$(rs_digest S)" "$(rs_digest T)"
    fi
    verify_equal "$t.verify"
    if [ "$(vnum "$src")" -ge 700 ] && [ "$(vnum "$tgt")" -ge 700 ]; then
        assert_eq "$t.our_digest" "$(digest_of S)" "$(digest_of T)"
    fi
    kill -TERM "$SYNC_PID" 2>/dev/null
    rc=0
    wait "$SYNC_PID" || rc=$?
    assert_eq "$t.sigterm_exit" 0 "$rc"
    if [ "$rc" -ne 0 ]; then tail -n 3 "$IT_TMP/$name.err" | cut -c1-300 | sed 's/^/#   /' >&2; fi
}

pair() {
    local src=$1 tgt=$2 p="m.$1>$2" t0=$SECONDS rc
    local sv tv
    sv=$(vnum "$src") tv=$(vnum "$tgt")
    LOAD_ARGS=(--keys 40 --dbs 3 --rate 1500 --value-size 600)
    if [ "$sv" -lt 602 ] || [ "$tv" -lt 602 ] || { [ "$tv" -lt 700 ] && [ "$sv" -gt "$tv" ]; }; then
        LOAD_ARGS+=(--no-streams)
    fi
    start S "$src" --repl-diskless-sync-delay 0 || { fail "$p.start_source" "$src did not start"; return; }
    start T "$tgt" --repl-diskless-sync-delay 0 || { fail "$p.start_target" "$tgt did not start"; return; }
    local native=0
    if [ "$src" != "$tgt" ] && [ "$(rdbv "$tgt")" -ge "$(rdbv "$src")" ]; then
        native=1
        start R "$tgt" --replicaof 127.0.0.1 "$(rs_port S)" || { fail "$p.start_replica" "$tgt did not start"; return; }
    fi

    # live
    load S --seconds 1 --seed 11 || note "$p: load before the sync exited $?"
    sync_start live S T --status-interval 1
    load S --seconds 2 --seed 12 || note "$p: load during the sync exited $?"
    local stop_re
    stop_re=$(expected_stop "$src" "$tgt")
    wait_until 30 settled || true
    if ! kill -0 "$SYNC_PID" 2>/dev/null && [ -n "$stop_re" ]; then
        rc=0
        wait "$SYNC_PID" || rc=$?
        assert_eq "$p.live.expected_stop_exit" 6 "$rc"
        assert_match "$p.live.expected_stop_line" "$stop_re" "$(cat "$IT_TMP/live.err")"
        note "$p: live sync stopped as expected (command translation for older targets pending): $(grep -m 1 -E 'refused' "$IT_TMP/live.err" | cut -c1-160)"
        # The same pair under a load without SET ... EX (SET, then EXPIRE),
        # which 7.0 propagates in forms 2.8 knows: checked like the others.
        rs_cli T FLUSHALL >/dev/null
        LOAD_ARGS+=(--no-set-ttl)
        sync_start live_nopxat S T --status-interval 1
        load S --seconds 2 --seed 13 || note "$p: load during the second sync exited $?"
        wait_until 30 settled || true
        live_checks "$p.live_no_set_ttl" live_nopxat "$native" "$src" "$tgt"
    else
        if [ -n "$stop_re" ]; then note "$p: did not stop at SET ... PXAT (translated?): checked like the others"; fi
        live_checks "$p.live" live "$native" "$src" "$tgt"
    fi
    if [ "$native" = 1 ]; then rs_stop R; fi

    # import
    local f
    f=$(rs_save S) || { fail "$p.import.save" "SAVE refused"; return; }
    cp "$f" "$IT_TMP/source.rdb"
    rs_cli T FLUSHALL >/dev/null
    rc=0
    "$RDBSYNC" --file "$IT_TMP/source.rdb" --target "$(rs_url T)" -q >"$IT_TMP/import.out" 2>"$IT_TMP/import.err" || rc=$?
    assert_eq "$p.import.exit" 0 "$rc"
    if [ "$rc" -ne 0 ]; then tail -n 3 "$IT_TMP/import.err" | cut -c1-300 >&2; fi
    verify_equal "$p.import.verify"
    if [ "$tv" -ge 500 ]; then
        assert_eq "$p.import.our_digest" "$(file_digest "$IT_TMP/source.rdb")" "$(digest_of T)"
    fi
    note "$p: $((SECONDS - t0)) s, $(rs_cli S DBSIZE) keys in db 0"
}

if [ "${1:-}" = "--pair" ]; then
    pair "$2" "$3"
    exit 0
fi

# ---- the matrix (the parent) ----

if [ -z "$SHARED" ] || [ ! -d "$SHARED/servers" ]; then
    skip matrix "no ../shared/servers (the cross-version server builds are absent)"
    exit 0
fi
if ! have_rdbsync; then
    skip matrix "no binary at $RDBSYNC (run make)"
    exit 0
fi
load_build matrix || exit 0
MATRIX_LOAD=$LOAD
export MATRIX_LOAD

pairs=()
for v in "${VERSIONS[@]}"; do
    if ! rs_version_bin "$v" >/dev/null; then
        skip "matrix.$v" "no server in ../shared/servers/$v"
        continue
    fi
    pairs+=("$v>$DEBIAN" "$DEBIAN>$v" "$v>$v")
done
pairs+=("$DEBIAN>$DEBIAN")
if [ -n "${MATRIX_PAIRS:-}" ]; then read -r -a pairs <<<"$MATRIX_PAIRS"; fi

t0=$SECONDS
mkdir -p "$IT_TMP/pairs"
i=0
for pr in "${pairs[@]}"; do
    printf '%03d %s %s\n' "$i" "${pr%%>*}" "${pr#*>}"
    i=$((i + 1))
done | xargs -P "${MATRIX_JOBS:-2}" -L 1 sh -c \
    'bash "$0" --pair "$2" "$3" >"$IT_TMP/pairs/$1.out" 2>"$IT_TMP/pairs/$1.err"' "$0"
for f in "$IT_TMP"/pairs/*.out; do
    cat "$f"
    cat "${f%.out}.err" >&2
    if ! grep -q -E '^(PASS|FAIL|SKIP) ' "$f"; then fail "matrix.$(basename "$f" .out)" "the pair printed no result"; fi
done
note "matrix: ${#pairs[@]} pairs in $((SECONDS - t0)) s"

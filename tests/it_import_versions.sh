#!/usr/bin/env bash
# it_import_versions.sh -- what an import says when the target is older
# than the dump (issue #15, findings 4 and 5), with the servers of
# ../shared/servers (skipped when absent).
#
#   stream72   a Redis 7.2 dump whose stream has a consumer with an active
#              time apart from its seen time (stream v3), imported into 7.0:
#              the key is named "written without stream metadata...", the
#              summary says "1 streams written without metadata the
#              target's stream format cannot hold" and nothing about field
#              TTLs (it said "1 written without field TTLs" before).
#   hfe74      a Redis 7.4 dump with a hash field TTL, into 7.0 with
#              --drop-field-ttls: the summary says "1 hashes written without
#              their field TTLs" and nothing about streams.
#   abs28      a 7.0 dump of 300 keys with expires, into Redis 2.8 (no
#              RESTORE ... ABSTTL): the notice that the target cannot take
#              absolute expire times comes exactly once, and every key's
#              expire time on 2.8 is within 100 ms of the dump's
#              (--verify --ttl-tolerance 100 against the 7.0 source).
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip import_versions "no binary at $RDBSYNC (run make)"
    exit 0
fi
if ! rs_version_bin redis-7.2.6 >/dev/null; then
    skip import_versions "no ../shared/servers (the cross-version servers are absent)"
    exit 0
fi

run() {
    local name=$1
    shift
    RC=0
    "$RDBSYNC" "$@" >"$IT_TMP/$name.out" 2>"$IT_TMP/$name.err" || RC=$?
}
summary() { grep -E 'keys read, [0-9]+ written' "$IT_TMP/$1.err" || true; }

rs_start T70 || exit 1

# stream72
rs_start_v S72 redis-7.2.6 || exit 1
rs_cli S72 XADD st 1-1 f v >/dev/null
rs_cli S72 XGROUP CREATE st g 0 >/dev/null
rs_cli S72 XREADGROUP GROUP g alice COUNT 1 STREAMS st '>' >/dev/null
sleep 0.05
rs_cli S72 XREADGROUP GROUP g alice COUNT 1 STREAMS st '>' >/dev/null # seen moves, active stays
run stream72 --file "$(rs_save S72)" --target "$(rs_url T70)"
assert_eq import_versions.stream72.rc 0 "$RC"
assert_match import_versions.stream72.key_named "written without stream metadata the target's stream format cannot hold: db 0, key 'st'" "$(cat "$IT_TMP/stream72.err")"
assert_match import_versions.stream72.summary '; 1 streams written without metadata the target.s stream format cannot hold;' "$(summary stream72)"
assert_eq import_versions.stream72.no_field_ttls "" "$(summary stream72 | grep -i 'field TTL' || true)"
rs_stop S72
rs_cli T70 FLUSHALL >/dev/null

# hfe74
if rs_version_bin redis-7.4.1 >/dev/null; then
    rs_start_v S74 redis-7.4.1 || exit 1
    rs_cli S74 HSET h f1 v1 f2 v2 >/dev/null
    rs_cli S74 HEXPIRE h 3600 FIELDS 1 f1 >/dev/null
    run hfe74 --file "$(rs_save S74)" --target "$(rs_url T70)" --drop-field-ttls
    assert_eq import_versions.hfe74.rc 0 "$RC"
    assert_match import_versions.hfe74.summary '; 1 hashes written without their field TTLs \(--drop-field-ttls\);' "$(summary hfe74)"
    assert_eq import_versions.hfe74.no_streams "" "$(summary hfe74 | grep -i 'stream' || true)"
    rs_stop S74
    rs_cli T70 FLUSHALL >/dev/null
else
    skip import_versions.hfe74 "no ../shared/servers/redis-7.4.1"
fi

# abs28
if rs_version_bin redis-2.8.24 >/dev/null; then
    rs_start_v T28 redis-2.8.24 || exit 1
    for i in $(seq 1 300); do echo "SET k:$i v$i PX $((600000 + i * 1000))"; done |
        redis-cli -h 127.0.0.1 -p "$(rs_port T70)" >/dev/null
    run abs28 --file "$(rs_save T70)" --target "$(rs_url T28)"
    assert_eq import_versions.abs28.rc 0 "$RC"
    assert_eq import_versions.abs28.keys 300 "$(rs_cli T28 DBSIZE)"
    assert_eq import_versions.abs28.said_once 1 "$(grep -c 'cannot take absolute expire times (RESTORE ... ABSTTL needs 5.0)' "$IT_TMP/abs28.err")"
    run abs28_verify --verify --ttl-tolerance 100 --source "$(rs_url T70)" --target "$(rs_url T28)"
    assert_eq import_versions.abs28.within_100ms 0 "$RC"
    if [ "$RC" -ne 0 ]; then head -n 3 "$IT_TMP/abs28_verify.out" | sed 's/^/#   /' >&2; fi
else
    skip import_versions.abs28 "no ../shared/servers/redis-2.8.24"
fi

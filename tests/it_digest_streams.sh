#!/usr/bin/env bash
# it_digest_streams.sh -- the digest is equal across a lossless copy from
# Redis 6.2 (RDB 9) into 7.0 (issue #15, finding 1), with the 6.2 build of
# ../shared/servers (skipped when absent).
#
# RDB 9 streams carry neither a group's entries_read nor the stream's first
# ID; 7.0 computes them when it loads one: entries_read by estimate, and for
# a stream emptied by XDEL the first ID becomes the maximum ID, where 7.0's
# own XDEL leaves 0-0. Digest version 2 leaves entries_read out and counts
# an empty stream's first ID as 0-0 (README "Digest").
#
#   source   6.2: stream 'st' (3 entries, group 'g' with a consumer that read
#            one entry, pending) and stream 'em' (one entry added then
#            deleted, group 'g2'), and a string.
#   import   the 6.2 SAVE imported into an empty 7.0 (--file --target):
#            7.0 reports 'em' with first ID 18446744073709551615-... (the
#            case is really exercised) and its SAVE digests equal to the
#            6.2 file's.
#   sync     the same through a live sync (--once) into another 7.0: equal.
#   live     --source --checksum of the 6.2 server and of the 7.0 target
#            give the same digest as the files.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! rs_version_bin redis-6.2.16 >/dev/null; then
    skip digest_streams "no ../shared/servers/redis-6.2.16 (the cross-version servers are absent)"
    exit 0
fi
if ! have_rdbsync; then
    skip digest_streams "no binary at $RDBSYNC (run make)"
    exit 0
fi

rs_start_v S redis-6.2.16 --repl-diskless-sync-delay 0 || exit 1
rs_start T || exit 1
rs_start U || exit 1

s() { rs_cli S "$@" >/dev/null; }
s SET plain v
s XADD st 1-1 f a
s XADD st 2-1 f b
s XADD st 3-1 f c
s XGROUP CREATE st g 0
s XREADGROUP GROUP g alice COUNT 1 STREAMS st '>'
s XADD em 5-1 f x
s XGROUP CREATE em g2 '$'
s XDEL em 5-1

digest_of_file() { "$RDBSYNC" --file "$1" --checksum 2>/dev/null | sed -n 's/^digest: //p'; }
digest_of_server() { "$RDBSYNC" --source "$(rs_url "$1")" --checksum 2>/dev/null | sed -n 's/^digest: //p'; }

f62=$(rs_save S)
d62=$(digest_of_file "$f62")
assert_match digest_streams.source_digest '^[0-9a-f]{64}$' "$d62"
assert_eq digest_streams.source_live "$d62" "$(digest_of_server S)"

# import
assert_ok digest_streams.import "$RDBSYNC" --file "$f62" --target "$(rs_url T)" -q
first=$(rs_cli T XINFO STREAM em | awk 'p {print; exit} $0 == "recorded-first-entry-id" {p=1}')
assert_eq digest_streams.import.first_id_is_max "18446744073709551615-18446744073709551615" "$first"
assert_eq digest_streams.import.file "$d62" "$(digest_of_file "$(rs_save T)")"
assert_eq digest_streams.import.live "$d62" "$(digest_of_server T)"

# sync
assert_ok digest_streams.sync "$RDBSYNC" --source "$(rs_url S)" --target "$(rs_url U)" --once -q
assert_eq digest_streams.sync.file "$d62" "$(digest_of_file "$(rs_save U)")"
assert_eq digest_streams.sync.live "$d62" "$(digest_of_server U)"

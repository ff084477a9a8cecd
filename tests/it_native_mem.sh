#!/usr/bin/env bash
# it_native_mem.sh -- a huge string written as native batches is bounded by
# the batch, not held twice (#14).
#
# A 100 MB string above --max-restore-size 1m goes to the target as APPENDs
# through a temporary key. It used to be in memory twice or three times
# (the raw capture, the decoder's whole string, and the whole string again
# when native.c decoded the capture): 220 MB peak RSS for 100 MB of zeros,
# 320 MB for 100 MB of noise. Now the decoder hands the string over in
# pieces (decode.h string_chunk), so:
#   - zeros (stored LZF-compressed, 1.2 MB in the file): peak RSS < 48 MB,
#     i.e. bounded by the batch and not by the value;
#   - noise (stored plain, 100 MB in the file): peak RSS < 150 MB, well
#     under twice the value (the raw capture is the one copy).
# Each value arrives exact (DEBUG DIGEST-VALUE and STRLEN equal to the
# source's) and nothing else is left on the target (DBSIZE 1: no temporary
# key). Peak RSS of the release build (ASan's shadow memory would blur it)
# by /usr/bin/time, or VmHWM polled from /proc when it is missing.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

SIZE=104857600
rs_start S --enable-debug-command yes || exit 1
rs_start T --enable-debug-command yes || exit 1

# peak_kb OUTFILE CMD...: run CMD (stderr to OUTFILE.err); prints its peak
# RSS in KB; the exit status is left in $IT_TMP/peak.rc.
peak_kb() {
    local out=$1
    shift
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M' -o "$out.rss" "$@" 2>"$out.err"
        echo $? >"$IT_TMP/peak.rc"
        tail -n 1 "$out.rss"
        return
    fi
    "$@" 2>"$out.err" &
    local pid=$! hwm=0 v
    while kill -0 "$pid" 2>/dev/null; do
        v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        [ -n "$v" ] && hwm=$v
        sleep 0.02
    done
    wait "$pid"
    echo $? >"$IT_TMP/peak.rc"
    echo "$hwm"
}

# one NAME LIMIT_KB: import S's dump (one key, NAME) into an empty T.
one() {
    local name=$1 limit=$2 kb
    cp "$(rs_save S)" "$IT_TMP/$name.rdb"
    rs_cli T FLUSHALL >/dev/null
    kb=$(peak_kb "$IT_TMP/$name" "$RDBSYNC_REL" --file "$IT_TMP/$name.rdb" --target "$(rs_url T)" --max-restore-size 1m)
    assert_eq "native_mem.$name.rc" 0 "$(cat "$IT_TMP/peak.rc")"
    assert_match "native_mem.$name.went_native" "1 written \(some as native commands\)" "$(cat "$IT_TMP/$name.err")"
    echo "# $name: peak RSS $kb KB (limit $limit KB) for a $SIZE-byte string"
    if [ -n "$kb" ] && [ "$kb" -gt 0 ] && [ "$kb" -lt "$limit" ]; then pass "native_mem.$name.peak_rss_bounded"
    else fail "native_mem.$name.peak_rss_bounded" "peak RSS ${kb:-?} KB, limit $limit KB"; fi
    assert_eq "native_mem.$name.strlen" "$SIZE" "$(rs_cli T STRLEN "$name")"
    assert_eq "native_mem.$name.exact" "$(rs_cli S DEBUG DIGEST-VALUE "$name")" "$(rs_cli T DEBUG DIGEST-VALUE "$name")"
    assert_eq "native_mem.$name.no_temporary_key" 1 "$(rs_cli T DBSIZE)"
    rs_cli S DEL "$name" >/dev/null
}

# 100 MB of zeros but its last byte: Redis stores it LZF-compressed.
rs_cli S SETRANGE zeros $((SIZE - 1)) x >/dev/null
one zeros 49152

# 100 MB of noise: stored as is.
head -c "$SIZE" /dev/urandom >"$IT_TMP/noise.bin"
redis-cli -h 127.0.0.1 -p "$(rs_port S)" -x SET noise <"$IT_TMP/noise.bin" >/dev/null # rs_cli reads no stdin
rm -f "$IT_TMP/noise.bin"
one noise 153600

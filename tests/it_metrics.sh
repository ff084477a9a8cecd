#!/usr/bin/env bash
# it_metrics.sh -- live sync's --metrics (#13), against real redis-server
# processes and, when Debian's prometheus package is installed, a real
# Prometheus server.
#
# 1. values    live sync of a 5000-key source with --metrics: /metrics passes
#              `promtool check metrics`, has HELP and TYPE for every family;
#              rdbsync_keys_written_total is 5000 after the snapshot,
#              rdbsync_in_sync 1 and rdbsync_phase{phase="streaming"} 1 once
#              in sync; after some writes the applied offset equals the
#              source's master_repl_offset, lag 0; full syncs 1.
# 2. status    GET /status is one JSON object (jq) that agrees with /metrics;
#              any other path is a 404.
# 3. scrape    a Prometheus server (own temp dir, free port, scraping every
#              1 s) answers a query for rdbsync_lag_bytes with a sample.
# 4. hung      the target stopped (SIGSTOP) under 200k writes: while the
#              apply side is blocked, the published source offset follows the
#              source's (the watchdog refreshes what the blocked thread cannot),
#              in_sync is 0 and lag_bytes > 0; after SIGCONT in sync
#              again at the source's offset.
# 5. busy      --metrics on a port already listened on: exit 5 and one line
#              naming the address and the reason, nothing else printed.
# 6. rules     contrib/prometheus/rdbsync.rules.yml passes promtool check rules.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

# http_get URL: the body on stdout; exit 0 on 2xx, 4 on 404, 1 otherwise.
http_get() {
    python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.exit(4 if e.code == 404 else 1)
except Exception:
    sys.exit(1)
PY
}
# metric NAME_WITH_LABELS: its value from the last /metrics fetched ($M).
metric() { awk -v n="$1" '$1 == n { print $2 }' <<<"$M"; }
fetch() { M=$(http_get "http://127.0.0.1:$MP/metrics"); }
status() { http_get "http://127.0.0.1:$MP/status" | jq -r "$1"; }

rs_start S --enable-debug-command yes || exit 1
rs_start T || exit 1
rs_cli S DEBUG POPULATE 5000 key 20 >/dev/null
it_pick_port || exit 1
MP=$IT_PORT

# 1
rdb_bg live --source "$(rs_url S)" --target "$(rs_url T)" --metrics "127.0.0.1:$MP" --status-interval 1
LIVE=$BG_PID
if wait_until 40 eval '[ "$(status .in_sync)" = true ]'; then pass metrics.values.in_sync_status
else fail metrics.values.in_sync_status "$(http_get "http://127.0.0.1:$MP/status"; tail -3 "$IT_TMP/live.err")"; fi
fetch
assert_eq metrics.values.keys_written 5000 "$(metric rdbsync_keys_written_total)"
assert_eq metrics.values.in_sync 1 "$(metric rdbsync_in_sync)"
assert_eq metrics.values.phase_streaming 1 "$(metric 'rdbsync_phase{phase="streaming"}')"
assert_eq metrics.values.phase_snapshot 0 "$(metric 'rdbsync_phase{phase="snapshot"}')"
assert_eq metrics.values.full_syncs 1 "$(metric rdbsync_full_syncs_total)"
fams=$(grep -c '^# TYPE rdbsync_' <<<"$M"); helps=$(grep -c '^# HELP rdbsync_' <<<"$M")
assert_eq metrics.values.help_and_type "12 12" "$fams $helps"
for f in phase in_sync source_offset_bytes applied_offset_bytes lag_bytes lag_seconds keys_written_total \
    commands_applied_total errors_total spool_bytes full_syncs_total partial_resyncs_total; do
    grep -q "^# TYPE rdbsync_$f " <<<"$M" || fail "metrics.values.family_$f" "no TYPE line"
done
if command -v promtool >/dev/null 2>&1; then
    if out=$(promtool check metrics <<<"$M" 2>&1); then pass metrics.values.promtool_check
    else fail metrics.values.promtool_check "$out"; fi
else skip metrics.values.promtool_check "promtool not installed (Debian package prometheus)"; fi

awk 'BEGIN { for (i = 1; i <= 200; i++) printf "SET w:%d %d\r\nINCR n\r\n", i, i }' |
    redis-cli -p "$RS_PORT_S" --pipe >/dev/null
# The source's offset also moves by its PINGs: compare both in one pass.
same_offset() {
    fetch
    local src
    src=$(rs_cli S INFO replication | tr -d '\r' | awk -F: '$1 == "master_repl_offset" { print $2 }')
    [ "$(metric rdbsync_applied_offset_bytes)" = "$src" ] && [ "$(metric rdbsync_in_sync)" = 1 ]
}
if wait_until 20 same_offset; then pass metrics.values.applied_is_source_offset
else fail metrics.values.applied_is_source_offset "applied $(metric rdbsync_applied_offset_bytes), source $(rs_cli S INFO replication | grep master_repl_offset)"; fi
assert_eq metrics.values.lag_zero "0 0" "$(metric rdbsync_lag_bytes) $(metric rdbsync_spool_bytes)"
if [ "$(metric rdbsync_commands_applied_total)" -ge 400 ] 2>/dev/null; then pass metrics.values.commands_applied
else fail metrics.values.commands_applied "$(metric rdbsync_commands_applied_total) < 400"; fi
assert_eq metrics.values.target_has_writes 200 "$(rs_cli T GET n)"
assert_eq metrics.values.no_errors "0 0 0" "$(metric 'rdbsync_errors_total{reason="refused"}') $(metric 'rdbsync_errors_total{reason="conflict"}') $(metric 'rdbsync_errors_total{reason="link"}')"

# 2
S_JSON=$(http_get "http://127.0.0.1:$MP/status")
fetch
if jq -e . <<<"$S_JSON" >/dev/null 2>&1; then pass metrics.status.json; else fail metrics.status.json "$S_JSON"; fi
want="streaming true $(metric rdbsync_keys_written_total) $(metric rdbsync_full_syncs_total) $(metric rdbsync_partial_resyncs_total)"
got=$(jq -r '"\(.phase) \(.in_sync) \(.keys_written_total) \(.full_syncs_total) \(.partial_resyncs_total)"' <<<"$S_JSON")
assert_eq metrics.status.agrees "$want" "$got"
assert_eq metrics.status.errors_object "refused conflict link" "$(jq -r '.errors_total | keys_unsorted | join(" ")' <<<"$S_JSON")"
rc=0; http_get "http://127.0.0.1:$MP/nope" >/dev/null || rc=$?
assert_eq metrics.status.other_404 4 "$rc"

# 3
if command -v prometheus >/dev/null 2>&1; then
    it_pick_port || exit 1
    PP=$IT_PORT
    mkdir -p "$IT_TMP/prom"
    cat >"$IT_TMP/prom/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: rdbsync
    static_configs:
      - targets: ['127.0.0.1:$MP']
YML
    prometheus --config.file="$IT_TMP/prom/prometheus.yml" --storage.tsdb.path="$IT_TMP/prom/data" \
        --web.listen-address="127.0.0.1:$PP" >"$IT_TMP/prom/log" 2>&1 &
    PROM=$!
    on_exit "kill $PROM 2>/dev/null; wait $PROM 2>/dev/null"
    q="http://127.0.0.1:$PP/api/v1/query?query=rdbsync_lag_bytes"
    sampled() { http_get "$q" | jq -e '.status == "success" and (.data.result | length) == 1 and .data.result[0].value[1] == "0"'; }
    if wait_until 30 sampled; then pass metrics.scrape.prometheus_query
    else fail metrics.scrape.prometheus_query "$(http_get "$q"; tail -3 "$IT_TMP/prom/log")"; fi
    kill "$PROM" 2>/dev/null; wait "$PROM" 2>/dev/null
else skip metrics.scrape.prometheus_query "prometheus not installed (Debian package prometheus)"; fi

# 4: a target that stops answering (SIGSTOP) under writes: the apply side
# blocks, and the numbers must not keep its last "in sync".
kill -STOP "$RS_PID_T"
on_exit "kill -CONT $RS_PID_T 2>/dev/null"
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "SET h:%d %d\r\n", i, i }' |
    redis-cli -p "$RS_PORT_S" --pipe >/dev/null
sleep 5
rs_cli S SET after-block 1 >/dev/null
# The link keeps receiving: the source offset published must follow it.
src_seen() {
    fetch
    [ "$(metric rdbsync_source_offset_bytes)" = "$(rs_cli S INFO replication | tr -d '\r' |
        awk -F: '$1 == "master_repl_offset" { print $2 }')" ]
}
if wait_until 5 src_seen; then pass metrics.hung.source_offset_follows
else fail metrics.hung.source_offset_follows "$(metric rdbsync_source_offset_bytes) vs $(rs_cli S INFO replication | grep master_repl_offset)"; fi
hung="$(metric rdbsync_in_sync) $(metric rdbsync_lag_bytes)"
kill -CONT "$RS_PID_T"
if [[ $hung =~ ^0\ [1-9][0-9]*$ ]]; then pass metrics.hung.not_in_sync
else fail metrics.hung.not_in_sync "in_sync and lag_bytes with the target stopped: $hung"; fi
if wait_until 30 same_offset; then pass metrics.hung.in_sync_again
else fail metrics.hung.in_sync_again "$(http_get "http://127.0.0.1:$MP/status")"; fi

# 5: the live sync still holds $MP.
rs_start T2 || exit 1
rdb_run busy --source "$(rs_url S)" --target "$(rs_url T2)" --metrics "127.0.0.1:$MP"
assert_eq metrics.busy.exit 5 "$RC"
assert_eq metrics.busy.line "rdbsync: --metrics: cannot listen on 127.0.0.1:$MP: Address already in use" \
    "$(cat "$IT_TMP/busy.err")"
assert_eq metrics.busy.target_untouched 0 "$(rs_cli T2 DBSIZE)"

kill -TERM "$LIVE" 2>/dev/null; wait "$LIVE" 2>/dev/null
assert_eq metrics.values.live_exit 0 "$?"

# 6
if command -v promtool >/dev/null 2>&1; then
    assert_ok metrics.rules.promtool promtool check rules "$ROOT/contrib/prometheus/rdbsync.rules.yml"
else skip metrics.rules.promtool "promtool not installed (Debian package prometheus)"; fi
exit 0

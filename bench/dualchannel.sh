#!/usr/bin/env bash
# bench/dualchannel.sh -- the source's memory during a full sync under write
# load: a native Valkey replica with and without dual-channel replication,
# and rdbsync (which does not announce the capability, so the source serves
# it the classic single-connection way whatever its setting).
#
#   bench/dualchannel.sh [KEYS] [VALUE_BYTES]      (default 100000 1024)
#
# Needs ../shared/servers/valkey-8.0.1 and Debian's redis-server 7.0 (the
# rdbsync target), redis-benchmark for the load. Every server runs on a free
# port in a temp dir and is stopped by PID. For each run it prints the
# source's peak used_memory, mem_clients_slaves and
# mem_total_replication_buffers above their value just before the sync
# started (sampled every 50 ms while the sync runs), and the sync's wall time.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/lib.sh"
KEYS=${1:-100000}
VSIZE=${2:-1024}
VK=${SHARED:+$SHARED/servers/valkey-8.0.1}
if [ -z "$VK" ] || [ ! -x "$VK/valkey-server" ]; then
    echo "dualchannel: no ../shared/servers/valkey-8.0.1" >&2
    exit 0
fi
bin=$IT_TMP/vkbin
mkdir -p "$bin"
ln -sf "$VK/valkey-server" "$bin/redis-server"

info() { rs_cli "$1" INFO memory | tr -d '\r' | sed -n "s/^$2://p"; }

# sample SRC OUTFILE: peak of the three fields until $IT_TMP/stop exists.
sample() {
    local src=$1 out=$2 u=0 c=0 r=0 a b d
    while [ ! -e "$IT_TMP/stop" ]; do
        a=$(info "$src" used_memory); b=$(info "$src" mem_clients_slaves)
        d=$(info "$src" mem_total_replication_buffers); d=${d:-0}
        [ "${a:-0}" -gt "$u" ] && u=$a
        [ "${b:-0}" -gt "$c" ] && c=$b
        [ "$d" -gt "$r" ] && r=$d
        sleep 0.05
    done
    echo "$u $c $r" >"$out"
}

# run LABEL DUAL KIND: KIND is native|rdbsync.
run() {
    local label=$1 dual=$2 kind=$3 t0 t1 base_u base_c base_r peak
    rm -f "$IT_TMP/stop"
    PATH="$bin:$PATH" rs_start src --repl-diskless-sync yes --repl-diskless-sync-delay 0 \
        --dual-channel-replication-enabled "$dual" --repl-backlog-size 1mb
    rs_cli src DEBUG POPULATE "$KEYS" key "$VSIZE" >/dev/null
    redis-benchmark -p "$(rs_port src)" -t set -d "$VSIZE" -r "$KEYS" -n 100000000 -c 4 -P 4 -q \
        >/dev/null 2>&1 &
    local load=$!
    sleep 2
    base_u=$(info src used_memory); base_c=$(info src mem_clients_slaves)
    base_r=$(info src mem_total_replication_buffers); base_r=${base_r:-0}
    sample src "$IT_TMP/peak" &
    local sampler=$!
    t0=$(date +%s.%N)
    if [ "$kind" = native ]; then
        PATH="$bin:$PATH" rs_start rep --dual-channel-replication-enabled "$dual"
        rs_cli rep REPLICAOF 127.0.0.1 "$(rs_port src)" >/dev/null
        wait_until 300 bash -c "redis-cli -p $(rs_port rep) INFO replication | tr -d '\r' | grep -q '^master_link_status:up'" || true
    else
        rs_start tgt
        "$RDBSYNC_REL" --source "$(rs_url src)" --target "$(rs_url tgt)" --once -q >/dev/null 2>&1 || true
    fi
    t1=$(date +%s.%N)
    touch "$IT_TMP/stop"
    wait "$sampler"
    kill "$load" 2>/dev/null || true
    wait "$load" 2>/dev/null || true
    read -r pu pc pr <"$IT_TMP/peak"
    printf '%-34s sync %6.1f s  used_memory +%5d MB  mem_clients_slaves +%5d MB  repl_buffers +%5d MB\n' \
        "$label" "$(echo "$t1 - $t0" | bc)" $(((pu - base_u) / 1048576)) $(((pc - base_c) / 1048576)) \
        $(((pr - base_r) / 1048576))
    if [ "$kind" = native ]; then rs_stop rep; else rs_stop tgt; fi
    rs_stop src
}

echo "dualchannel: $KEYS keys of $VSIZE bytes on valkey-8.0.1, SET load (redis-benchmark -c 4 -P 4) during the sync"
run "native replica, dual-channel no" no native
run "native replica, dual-channel yes" yes native
run "rdbsync, source dual-channel no" no rdbsync
run "rdbsync, source dual-channel yes" yes rdbsync

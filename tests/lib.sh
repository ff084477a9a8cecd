# shellcheck shell=bash
# tests/lib.sh -- helpers for the integration scripts tests/it_*.sh.
#
# Source it at the top of a script (works with set -euo pipefail):
#
#     #!/usr/bin/env bash
#     set -euo pipefail
#     . "$(dirname "$0")/lib.sh"
#
#     rs_start src                        # a redis-server, port in $RS_PORT_src
#     rs_cli src SET k v >/dev/null
#     assert_eq it_x.get v "$(rs_cli src GET k)"
#     "$RDBSYNC" --file "$(rs_save src)" --checksum
#
# Environment (tests/run.sh sets these; defaults here allow running a script
# by hand with `bash tests/it_x.sh`):
#   ROOT         repo root
#   RDBSYNC      the tool to test (build/san/rdbsync, sanitized; falls back to ./rdbsync)
#   RDBSYNC_REL  the release build ./rdbsync
#   SHARED       ../shared when it exists, else empty (fixtures: $SHARED/fixtures)
#   IT_TMP       this script's temp dir (created here, removed on exit;
#                KEEP_TMP=1 keeps it for debugging)
#
# Servers, by NAME ([A-Za-z0-9_]+; each started at most once at a time):
#   rs_start NAME [redis-server args...]   start on a free port, wait for PONG;
#                     returns 1 (log tail on stderr) if it does not come up.
#                     Call it directly, never inside $(...): it records the PID
#                     and the port in this shell.
#   rs_start_with_rdb NAME FILE [args...]  same, loading FILE as dump.rdb
#   rs_start_tls NAME CERTDIR [args...]  same, TLS only (--port 0, --tls-port):
#                     CERTDIR holds ca.crt, server.crt/.key, client.crt/.key;
#                     redis-server's default is --tls-auth-clients yes.
#                     (it_make_certs DIR makes such a directory.)
#                     rs_cli, rs_save, rs_stop... then speak TLS (with the client
#                     certificate), and rs_url prints rediss://
#   rs_port NAME      prints the port        (also $RS_PORT_NAME, exported)
#   rs_pid NAME       prints the PID         (also $RS_PID_NAME)
#   rs_dir NAME       prints its --dir       (also $RS_DIR_NAME)
#   rs_url NAME [DB]  prints redis://127.0.0.1:PORT[/DB]
#   rs_cli NAME args  redis-cli against it (raw output, as when piped)
#   rs_save NAME      SAVE, then prints the path of its dump.rdb
#   rs_digest NAME    prints DEBUG DIGEST (40 hex, zeros when empty)
#   rs_stop NAME      SHUTDOWN NOSAVE, then kill by PID; waits for it
#   rs_restart NAME [args...]  rs_stop, then start again on the same port and
#                     dir (loading its dump.rdb if any; SAVE first to keep
#                     data); pass the args given to rs_start. 1 when it
#                     does not come back (log tail on stderr).
#   free_port         prints a free TCP port in 23000-29999 (for other
#                     listeners; in $(...) it cannot remember what it gave)
#   load_build NAME   compiles tests/sync/load.c into $LOAD (a FAIL otherwise)
#   sync_stop         SIGTERM $SYNC_PID, 10 s, then SIGKILL; STOP_RC
#   sync_exit S       wait S seconds for $SYNC_PID to exit; EXIT_RC (or "hung")
#
# Other server versions ($SHARED/servers/<folder>, see its README):
#   rs_version_bin FOLDER   prints the folder's server binary; 1 when absent
#   rs_start_v NAME FOLDER [args...]   rs_start with that binary (rs_restart
#                     keeps it); --enable-debug-command only where it exists
#                     (7.0 and later: older servers refuse the unknown option)
#
# Results (the line protocol counted by tests/run.sh; they never exit, and
# return 0 so that set -e scripts go on after a failed assertion):
#   pass NAME | fail NAME WHY | skip NAME WHY
#   assert_eq NAME EXPECTED ACTUAL      exact string equality
#   assert_match NAME ERE ACTUAL        ACTUAL matches the extended regex
#   assert_ok NAME CMD...               CMD exits 0 (else its stderr tail is shown)
#   it_failures                         prints how many fail lines so far
#   have_rdbsync                        0 when $RDBSYNC is an executable
#   wait_until SECONDS CMD...           polls CMD every 0.1 s; 0 when it held
#   on_exit CMD...                      run CMD (eval) at exit, before servers stop
#
# Cleanup: a trap on EXIT, INT and TERM kills every server this script started
# (by PID, TERM then KILL), runs on_exit commands and removes IT_TMP, even
# when the script fails. A script that sets its own EXIT trap must call
# it_cleanup from it.

IT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${ROOT:=$(cd "$IT_LIB_DIR/.." && pwd)}"
if [ -z "${RDBSYNC:-}" ]; then
    if [ -x "$ROOT/build/san/rdbsync" ]; then RDBSYNC=$ROOT/build/san/rdbsync
    else RDBSYNC=$ROOT/rdbsync; fi
fi
: "${RDBSYNC_REL:=$ROOT/rdbsync}"
if [ -z "${SHARED+x}" ]; then
    if [ -d "$ROOT/../shared" ]; then SHARED=$(cd "$ROOT/../shared" && pwd); else SHARED=; fi
fi
: "${ASAN_OPTIONS:=detect_leaks=1:abort_on_error=1}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
export ROOT RDBSYNC RDBSYNC_REL SHARED ASAN_OPTIONS UBSAN_OPTIONS

IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rdbsync-it.XXXXXX")
export IT_TMP
IT_SERVERS=()     # names currently running
IT_PORTS_USED=" " # ports handed out by this script, never reused
IT_ON_EXIT=()
IT_FAILS=0
IT_PORT=
RS_START_TIMEOUT=${RS_START_TIMEOUT:-10}

# ---- results ----

pass() { printf 'PASS %s\n' "$1"; }
skip() { printf 'SKIP %s: %s\n' "$1" "${2:-skipped}"; }
fail() {
    IT_FAILS=$((IT_FAILS + 1))
    printf 'FAIL %s: %s\n' "$1" "${2:-failed}"
}
it_failures() { printf '%s\n' "$IT_FAILS"; }

# Long values are cut, newlines shown as \n, so a FAIL stays one line.
it_show() {
    local s=${1//$'\n'/\\n}
    s=${s//$'\r'/\\r}
    if [ ${#s} -gt 200 ]; then s="${s:0:200}...(${#1} chars)"; fi
    printf "'%s'" "$s"
}

assert_eq() {
    if [ "$2" == "$3" ]; then pass "$1"
    else fail "$1" "expected $(it_show "$2"), got $(it_show "$3")"; fi
}

assert_match() {
    if [[ $3 =~ $2 ]]; then pass "$1"
    else fail "$1" "$(it_show "$3") does not match /$2/"; fi
}

assert_ok() {
    local name=$1 err rc=0
    shift
    err=$("$@" 2>&1 >/dev/null) || rc=$?
    if [ "$rc" -eq 0 ]; then pass "$name"
    else fail "$name" "'$*' exited $rc: $(it_show "$(printf '%s' "$err" | tail -n 3)")"; fi
}

have_rdbsync() { [ -x "$RDBSYNC" ]; }

wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then return 1; fi
        sleep 0.1
    done
}

on_exit() { IT_ON_EXIT+=("$*"); }

# ---- rdbsync runs ----
# rdb_run NAME ARGS...   $RDBSYNC in the foreground, stdout and stderr in
#                        $IT_TMP/NAME.out and NAME.err; RC is its status.
# rdb_bg NAME ARGS...    the same in the background; BG_PID. Killed at exit
#                        if still running.
# rdb_kill PID           kill -9 our own rdbsync: by PID, only while that PID
#                        is an rdbsync (a stopped one is continued first).
rdb_run() {
    local name=$1
    shift
    RC=0
    "$RDBSYNC" "$@" >"$IT_TMP/$name.out" 2>"$IT_TMP/$name.err" || RC=$?
}
rdb_bg() {
    local name=$1
    shift
    "$RDBSYNC" "$@" >"$IT_TMP/$name.out" 2>"$IT_TMP/$name.err" &
    BG_PID=$!
    on_exit "rdb_kill $BG_PID"
}
# sync_start NAME SRC TGT [ARGS...]   a live sync from server SRC to TGT by
#                        rdb_bg; SYNC_PID.
sync_start() {
    local name=$1 src=$2 tgt=$3
    shift 3
    rdb_bg "$name" --source "$(rs_url "$src")" --target "$(rs_url "$tgt")" "$@"
    SYNC_PID=$BG_PID
}
rdb_kill() {
    local pid=$1
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q rdbsync "/proc/$pid/cmdline" 2>/dev/null; then
        kill -CONT "$pid" 2>/dev/null || true
        kill -9 "$pid" 2>/dev/null || true
    fi
}

# ---- ports ----

# 0 when something on this machine listens on 127.0.0.1:$1 or any address.
it_port_busy() {
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# Sets IT_PORT to a free port in 23000-29999 (cluster nodes: 20000-22767)
# that this script has not handed out before (in this shell: call it
# directly, not in $(...)).
it_pick_port() {
    local p _
    for _ in $(seq 1 200); do
        # Below the ephemeral range (32768+), where a client's local port
        # (redis-cli, our own connections) can take one between our check
        # and the server's bind (seen in CI: "Address already in use"):
        # servers on 23000-29999; cluster nodes on 20000-22767 with their
        # bus (port + 10000) on 30000-32767.
        p=$((23000 + (RANDOM * 32768 + RANDOM) % 7000))
        if [ -n "${IT_CLUSTER_PORTS:-}" ]; then p=$((20000 + p % 2768)); fi
        case $IT_PORTS_USED in *" $p "*) continue ;; esac
        if [ -n "${IT_CLUSTER_PORTS:-}" ] && it_port_busy $((p + 10000)); then continue; fi
        if ! it_port_busy "$p"; then
            IT_PORTS_USED+="$p "
            IT_PORT=$p
            return 0
        fi
    done
    echo "lib.sh: no free port found" >&2
    return 1
}

free_port() { it_pick_port && printf '%s\n' "$IT_PORT"; }

# ---- servers ----

it_check_name() {
    if ! [[ $1 =~ ^[A-Za-z0-9_]+$ ]]; then
        echo "lib.sh: bad server name '$1' (use [A-Za-z0-9_])" >&2
        return 1
    fi
}

it_var() { local v="RS_${1}_$2"; printf '%s' "${!v:-}"; }
rs_port() { it_var PORT "$1"; echo; }
rs_pid() { it_var PID "$1"; echo; }
rs_dir() { it_var DIR "$1"; echo; }
rs_url() {
    local s=redis
    if [ -n "$(it_var TLSDIR "$1")" ]; then s=rediss; fi
    printf '%s://127.0.0.1:%s%s\n' "$s" "$(it_var PORT "$1")" "${2:+/$2}"
}

# redis-cli flags for a TLS server's certificate directory (none when "").
it_tls_cli() {
    if [ -n "$1" ]; then
        IT_CLI_TLS=(--tls --cacert "$1/ca.crt" --cert "$1/client.crt" --key "$1/client.key")
    else
        IT_CLI_TLS=()
    fi
}

rs_cli() {
    local name=$1
    shift
    it_tls_cli "$(it_var TLSDIR "$name")"
    redis-cli "${IT_CLI_TLS[@]}" -h 127.0.0.1 -p "$(it_var PORT "$name")" "$@" </dev/null
}

rs_digest() { rs_cli "$1" DEBUG DIGEST; }

rs_save() {
    local r
    r=$(rs_cli "$1" SAVE)
    if [ "$r" != OK ]; then
        echo "rs_save $1: SAVE answered '$r'" >&2
        return 1
    fi
    printf '%s/%s\n' "$(it_var DIR "$1")" "$(rs_cli "$1" CONFIG GET dbfilename | tail -n 1)"
}

it_log_tail() {
    local log=$1
    echo "---- last lines of $log ----" >&2
    tail -n 20 "$log" >&2 2>/dev/null || true
    echo "----" >&2
}

# Start once on a given port; 0 when PING answers PONG, 1 when the server
# died (maybe the port was taken meanwhile: the caller retries), 2 when it
# did not answer in time.
it_try_start() {
    local name=$1 port=$2 dir=$3
    shift 3
    local log="$dir/$name.log" pid r deadline=$((SECONDS + RS_START_TIMEOUT))
    local tls=${IT_TLS_DIR:-} listen=(--port "$port")
    if [ -n "$tls" ]; then
        listen=(--port 0 --tls-port "$port" --tls-cert-file "$tls/server.crt" --tls-key-file "$tls/server.key"
                --tls-ca-cert-file "$tls/ca.crt")
    fi
    local bin debug=(--enable-debug-command yes)
    bin=$(it_var BIN "$name")
    if [ -n "$bin" ] && [[ $("$bin" --version) =~ v=[0-6]\. ]]; then debug=(); fi
    it_tls_cli "$tls"
    : >"$log"
    "${bin:-redis-server}" "${listen[@]}" --bind 127.0.0.1 --dir "$dir" --save '' \
        --appendonly no "${debug[@]}" --daemonize no \
        --logfile "$log" "$@" </dev/null >>"$dir/$name.out" 2>&1 &
    pid=$!
    printf -v "RS_PID_$name" '%s' "$pid"
    printf -v "RS_PORT_$name" '%s' "$port"
    export "RS_PORT_$name"
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            return 1
        fi
        r=$(redis-cli "${IT_CLI_TLS[@]}" -h 127.0.0.1 -p "$port" PING </dev/null 2>/dev/null || true)
        case "$r" in PONG|NOAUTH*) return 0 ;; esac  # NOAUTH: up, with a password
        if [ "$SECONDS" -ge "$deadline" ]; then return 2; fi
        sleep 0.05
    done
}

rs_start() {
    local name=$1 dir port _ rc=1
    shift
    it_check_name "$name" || return 1
    if [ -n "$(it_var PID "$name")" ]; then
        echo "rs_start $name: already running" >&2
        return 1
    fi
    dir=$(it_var DIR "$name")
    if [ -z "$dir" ]; then
        dir="$IT_TMP/$name"
        mkdir -p "$dir"
        printf -v "RS_DIR_$name" '%s' "$dir"
    fi
    for _ in 1 2 3 4 5; do
        it_pick_port || return 1
        port=$IT_PORT
        it_try_start "$name" "$port" "$dir" "$@" && rc=0 || rc=$?
        if [ "$rc" -eq 0 ]; then
            IT_SERVERS+=("$name")
            return 0
        fi
        # A port lost to a race is worth another try; anything else is not.
        if [ "$rc" -eq 1 ] && grep -q 'Address already in use' "$dir/$name.log" "$dir/$name.out" 2>/dev/null; then
            continue
        fi
        break
    done
    if [ "$rc" -eq 2 ]; then
        echo "rs_start $name: no PONG on port $port within ${RS_START_TIMEOUT}s" >&2
        kill -9 "$(it_var PID "$name")" 2>/dev/null || true
        wait "$(it_var PID "$name")" 2>/dev/null || true
    else
        echo "rs_start $name: redis-server exited (port $port)" >&2
    fi
    it_log_tail "$dir/$name.log"
    printf -v "RS_PID_$name" '%s' ""
    return 1
}

rs_version_bin() {
    local d=${SHARED:+$SHARED/servers/$1} b
    for b in "$d/redis-server" "$d/valkey-server"; do
        if [ -n "$SHARED" ] && [ -x "$b" ]; then printf '%s\n' "$b"; return 0; fi
    done
    return 1
}

rs_start_v() {
    local name=$1 bin
    bin=$(rs_version_bin "$2") || { echo "rs_start_v $1: no server in servers/$2" >&2; return 1; }
    shift 2
    it_check_name "$name" || return 1
    printf -v "RS_BIN_$name" '%s' "$bin"
    rs_start "$name" "$@"
}

rs_start_with_rdb() {
    local name=$1 file=$2 dir
    shift 2
    it_check_name "$name" || return 1
    if [ ! -f "$file" ]; then
        echo "rs_start_with_rdb $name: no file $file" >&2
        return 1
    fi
    dir=$(it_var DIR "$name")
    if [ -z "$dir" ]; then
        dir="$IT_TMP/$name"
        printf -v "RS_DIR_$name" '%s' "$dir"
    fi
    mkdir -p "$dir"
    cp "$file" "$dir/dump.rdb"
    rs_start "$name" --dbfilename dump.rdb "$@"
}

# it_make_certs DIR: with the openssl CLI, a test CA (ca.crt/.key), server.crt
# for localhost and 127.0.0.1, other.crt for other.example only, client.crt
# (clientAuth), and wrongca.crt, an unrelated CA. 1 when openssl fails.
it_make_cert() {
    local d=$1 n=$2
    openssl req -new -nodes -newkey rsa:2048 -keyout "$d/$n.key" -out "$d/$n.csr" \
        -subj "/CN=rdbsync test $n" 2>/dev/null &&
        printf '%s\n' "$3" >"$d/$n.ext" &&
        openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
            -days 2 -extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null
}

it_make_certs() {
    local d=$1
    mkdir -p "$d" &&
        openssl req -x509 -new -nodes -newkey rsa:2048 -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
            -subj "/CN=rdbsync test CA" 2>/dev/null &&
        openssl req -x509 -new -nodes -newkey rsa:2048 -keyout "$d/wrongca.key" -out "$d/wrongca.crt" \
            -days 2 -subj "/CN=some other CA" 2>/dev/null &&
        it_make_cert "$d" server "subjectAltName=DNS:localhost,IP:127.0.0.1" &&
        it_make_cert "$d" other "subjectAltName=DNS:other.example" &&
        it_make_cert "$d" client "extendedKeyUsage=clientAuth"
}

rs_start_tls() {
    local name=$1 certs=$2 rc=0
    shift 2
    it_check_name "$name" || return 1
    IT_TLS_DIR=$certs rs_start "$name" "$@" || rc=$?
    if [ "$rc" -eq 0 ]; then printf -v "RS_TLSDIR_$name" '%s' "$certs"; fi
    return "$rc"
}

# Wait up to $2 seconds for PID $1 to exit; 0 when it did.
it_wait_pid() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then return 1; fi
        sleep 0.05
    done
    wait "$pid" 2>/dev/null || true
    return 0
}

it_forget() {
    local name=$1 n keep=()
    for n in "${IT_SERVERS[@]}"; do
        if [ "$n" != "$name" ]; then keep+=("$n"); fi
    done
    IT_SERVERS=("${keep[@]}")
    printf -v "RS_PID_$name" '%s' ""
}

rs_stop() {
    local name=$1 pid
    pid=$(it_var PID "$name")
    if [ -z "$pid" ]; then return 0; fi
    rs_cli "$name" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    if ! it_wait_pid "$pid" 5; then
        kill -9 "$pid" 2>/dev/null || true
        it_wait_pid "$pid" 5 || true
    fi
    it_forget "$name"
}

# The port was free a moment ago, so a failed start is retried only while
# the kernel still reports it in use. The previous log is kept as .log.1.
rs_restart() {
    local name=$1 port dir _ rc=1
    shift
    port=$(it_var PORT "$name")
    dir=$(it_var DIR "$name")
    if [ -z "$port" ] || [ -z "$dir" ]; then
        echo "rs_restart $name: never started" >&2
        return 1
    fi
    rs_stop "$name"
    cp "$dir/$name.log" "$dir/$name.log.1" 2>/dev/null || true
    for _ in $(seq 1 20); do
        IT_TLS_DIR=$(it_var TLSDIR "$name") it_try_start "$name" "$port" "$dir" "$@" && rc=0 || rc=$?
        if [ "$rc" -eq 0 ]; then
            IT_SERVERS+=("$name")
            return 0
        fi
        if [ "$rc" -eq 1 ] && grep -q 'Address already in use' "$dir/$name.log" 2>/dev/null; then
            sleep 0.1
            continue
        fi
        break
    done
    echo "rs_restart $name: not back on port $port" >&2
    kill -9 "$(it_var PID "$name")" 2>/dev/null || true
    wait "$(it_var PID "$name")" 2>/dev/null || true
    it_log_tail "$dir/$name.log"
    printf -v "RS_PID_$name" '%s' ""
    return 1
}

# note TEXT: a "# " line on stderr (kept beside the PASS/FAIL lines).
note() { printf '# %s\n' "$*" >&2; }
# info NAME SECTION FIELD: one field of NAME's INFO SECTION ("" when absent).
info() { rs_cli "$1" INFO "$2" | tr -d '\r' | sed -n "s/^$3://p" || true; }
# has_line NAME PATTERN: rdbsync's stderr of run NAME ($IT_TMP/NAME.err) has it.
has_line() { grep -q -- "$2" "$IT_TMP/$1.err"; }

# sync_stop: SIGTERM to the sync started by sync_start ($SYNC_PID), wait
# up to 10 s (then SIGKILL); its exit status in STOP_RC.
sync_stop() {
    local deadline=$((SECONDS + 10))
    kill -TERM "$SYNC_PID" 2>/dev/null || true
    while kill -0 "$SYNC_PID" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then rdb_kill "$SYNC_PID"; break; fi
        sleep 0.05
    done
    STOP_RC=0
    wait "$SYNC_PID" 2>/dev/null || STOP_RC=$?
}

# sync_exit SECONDS: wait up to SECONDS for the sync started by sync_start
# ($SYNC_PID) to exit by itself; its exit status in EXIT_RC, or "hung" (then
# it is killed).
sync_exit() {
    EXIT_RC=hung
    if it_wait_pid "$SYNC_PID" "$1"; then
        EXIT_RC=0
        wait "$SYNC_PID" 2>/dev/null || EXIT_RC=$?
    else
        rdb_kill "$SYNC_PID"
    fi
}

# load_build NAME: compiles tests/sync/load.c, the mixed write load, into
# $IT_TMP/load and sets LOAD to it; on failure one "FAIL NAME.load_builds"
# with the compiler's first words, and 1.
load_build() {
    LOAD=$IT_TMP/load
    if cc -std=gnu11 -O2 -Wall -Wextra -o "$LOAD" "$ROOT/tests/sync/load.c" -lhiredis 2>"$IT_TMP/cc.err"; then
        return 0
    fi
    fail "$1.load_builds" "$(head -c 300 "$IT_TMP/cc.err")"
    return 1
}

# ---- clusters ----
# cluster_start N_MASTERS N_REPLICAS_EACH [redis-server args...]
#     (IT_TLS_DIR=CERTDIR cluster_start ... --tls-cluster yes --tls-replication yes:
#     TLS-only nodes, as rs_start_tls; rs_cli and cluster_cli then speak TLS)
#     starts N_MASTERS * (1 + N_REPLICAS_EACH) nodes with --cluster-enabled yes
#     (ports 20000-22767 with port + 10000 free for the bus: both below the
#     ephemeral range), joins them
#     (redis-cli --cluster create for 3+ masters, CLUSTER ADDSLOTSRANGE + MEET
#     + REPLICATE below that), and waits until every node says cluster_state:ok
#     and knows every node. Nodes are servers named ${CLUSTER_NAME:-cl}0,
#     cl1, ... (rs_cli, rs_url, rs_stop, rs_restart work on them; the trap
#     stops them). Exports:
#       CLUSTER_NODES    "cl0 cl1 ..."    every node
#       CLUSTER_MASTERS  "cl0 cl1 cl2"    the masters at start
#       CLUSTER_REPLICAS the replicas at start
#       CLUSTER_PORTS / CLUSTER_PIDS     the nodes' ports / PIDs, same order
#     1 (with the reason on stderr) when it does not come up in 30 s.
#     One cluster at a time per CLUSTER_NAME.
# cluster_url [NODE]     redis://127.0.0.1:PORT of NODE (default: the first running)
# cluster_masters        prints the names of the nodes that are masters now
#                        (asks each node ROLE; a stopped node is skipped)
# cluster_ok             0 when every running node says cluster_state:ok
# cluster_digest         the XOR of the current masters' DEBUG DIGEST, made
#                        comparable with a standalone server's rs_digest of
#                        the same keys in db 0 (see below)
# cluster_dbsize         the sum of the masters' DBSIZE
# cluster_cli ARGS...    redis-cli -c against the first running node
#
# Why cluster_digest XORs a constant back in: a server's DEBUG DIGEST starts
# from zero and, for each non-empty db, mixes in the db number
# (digest = SHA1(digest ^ SHA1(htonl(db)))) before XOR-ing every key's
# digest. For db 0 alone that is K = SHA1(SHA1(htonl(0))) XOR the keys. A
# cluster spreads the keys over masters, each adding K once if it holds any
# key: XOR-ing the masters gives the keys' XOR plus K once per non-empty
# master, so K is XOR-ed once more when that count is even.

CLUSTER_DIGEST_K=
cluster_k() {
    if [ -z "$CLUSTER_DIGEST_K" ]; then
        CLUSTER_DIGEST_K=$(printf '\0\0\0\0' | sha1sum | cut -c1-40 | xxd -r -p | sha1sum | cut -c1-40)
    fi
    printf '%s\n' "$CLUSTER_DIGEST_K"
}

# XOR of two 40-hex strings.
it_xor40() {
    local a=$1 b=$2 out= i
    for i in 0 8 16 24 32; do
        out+=$(printf '%08x' $(( 16#${a:$i:8} ^ 16#${b:$i:8} )))
    done
    printf '%s\n' "$out"
}

cluster_url() {
    local n
    if [ -n "${1:-}" ]; then rs_url "$1"; return; fi
    for n in $CLUSTER_NODES; do
        if it_running "$n"; then rs_url "$n"; return; fi
    done
}

it_running() { [ -n "$(it_var PID "$1")" ] && kill -0 "$(it_var PID "$1")" 2>/dev/null; }

cluster_masters() {
    local n
    for n in $CLUSTER_NODES; do
        it_running "$n" || continue
        if [ "$(rs_cli "$n" ROLE 2>/dev/null | head -n 1)" = master ]; then printf '%s\n' "$n"; fi
    done
}

cluster_cli() {
    local n
    for n in $CLUSTER_NODES; do
        if it_running "$n"; then
            it_tls_cli "$(it_var TLSDIR "$n")"
            redis-cli "${IT_CLI_TLS[@]}" -c -h 127.0.0.1 -p "$(it_var PORT "$n")" "$@" </dev/null
            return
        fi
    done
    return 1
}

cluster_ok() {
    local n
    for n in $CLUSTER_NODES; do
        it_running "$n" || continue
        rs_cli "$n" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    done
}

# Every running node is up, knows N nodes and sees all 16384 slots served.
it_cluster_settled() {
    local n want=$1
    for n in $CLUSTER_NODES; do
        it_running "$n" || continue
        local info
        info=$(rs_cli "$n" CLUSTER INFO 2>/dev/null | tr -d '\r')
        [[ $info == *cluster_state:ok* ]] || return 1
        [[ $info == *cluster_slots_ok:16384* ]] || return 1
        [[ $info == *"cluster_known_nodes:$want"* ]] || return 1
    done
}

cluster_digest() {
    local n d acc=0000000000000000000000000000000000000000 nonempty=0
    for n in $(cluster_masters); do
        d=$(rs_cli "$n" DEBUG DIGEST)
        if [ "$d" != 0000000000000000000000000000000000000000 ]; then
            acc=$(it_xor40 "$acc" "$d")
            nonempty=$((nonempty + 1))
        fi
    done
    if [ "$nonempty" -gt 0 ] && [ $((nonempty % 2)) -eq 0 ]; then acc=$(it_xor40 "$acc" "$(cluster_k)"); fi
    printf '%s\n' "$acc"
}

cluster_dbsize() {
    local n sum=0
    for n in $(cluster_masters); do sum=$((sum + $(rs_cli "$n" DBSIZE))); done
    printf '%s\n' "$sum"
}

# Below 3 masters redis-cli refuses to create a cluster: slots by hand.
it_cluster_join_small() {
    local masters=$1 replicas=$2 i first per start end id
    first=${CLUSTER_NODES%% *}
    local names=($CLUSTER_NODES)
    per=$((16384 / masters))
    for ((i = 0; i < masters; i++)); do
        start=$((i * per))
        end=$((i == masters - 1 ? 16383 : start + per - 1))
        rs_cli "${names[$i]}" CLUSTER ADDSLOTSRANGE "$start" "$end" >/dev/null || return 1
    done
    for n in "${names[@]:1}"; do
        rs_cli "$first" CLUSTER MEET 127.0.0.1 "$(it_var PORT "$n")" >/dev/null || return 1
    done
    wait_until 20 it_cluster_known "${#names[@]}" || return 1
    for ((i = masters; i < ${#names[@]}; i++)); do
        id=$(rs_cli "${names[$(((i - masters) % masters))]}" CLUSTER MYID)
        wait_until 10 rs_cli_ok "${names[$i]}" CLUSTER REPLICATE "$id" || return 1
    done
}
rs_cli_ok() { [ "$(rs_cli "$@" 2>/dev/null)" = OK ]; }
it_cluster_known() {
    local n
    for n in $CLUSTER_NODES; do
        rs_cli "$n" CLUSTER INFO | tr -d '\r' | grep -q "^cluster_known_nodes:$1\$" || return 1
    done
}

cluster_start() {
    local masters=$1 replicas=$2 total i name base=${CLUSTER_NAME:-cl} addrs=()
    shift 2
    total=$((masters * (1 + replicas)))
    CLUSTER_NODES=
    for ((i = 0; i < total; i++)); do
        name=$base$i
        IT_CLUSTER_PORTS=1 rs_start "$name" --cluster-enabled yes --cluster-config-file nodes.conf \
            --cluster-node-timeout 2000 "$@" || return 1
        if [ -n "${IT_TLS_DIR:-}" ]; then printf -v "RS_TLSDIR_$name" '%s' "$IT_TLS_DIR"; fi
        CLUSTER_NODES+="${CLUSTER_NODES:+ }$name"
        addrs+=("127.0.0.1:$(it_var PORT "$name")")
    done
    if [ "$masters" -ge 3 ]; then
        it_tls_cli "${IT_TLS_DIR:-}"
        if ! redis-cli "${IT_CLI_TLS[@]}" --cluster create "${addrs[@]}" --cluster-replicas "$replicas" --cluster-yes \
            </dev/null >"$IT_TMP/$base.create.log" 2>&1; then
            echo "cluster_start: redis-cli --cluster create failed:" >&2
            tail -n 5 "$IT_TMP/$base.create.log" >&2
            return 1
        fi
    elif ! it_cluster_join_small "$masters" "$replicas"; then
        echo "cluster_start: joining $masters master(s) by hand failed" >&2
        return 1
    fi
    if ! wait_until 30 it_cluster_settled "$total"; then
        echo "cluster_start: cluster_state not ok on every node after 30s" >&2
        return 1
    fi
    CLUSTER_MASTERS=$(cluster_masters | tr '\n' ' ')
    CLUSTER_MASTERS=${CLUSTER_MASTERS% }
    CLUSTER_REPLICAS= CLUSTER_PORTS= CLUSTER_PIDS=
    for name in $CLUSTER_NODES; do
        case " $CLUSTER_MASTERS " in *" $name "*) ;; *) CLUSTER_REPLICAS+="${CLUSTER_REPLICAS:+ }$name" ;; esac
        CLUSTER_PORTS+="${CLUSTER_PORTS:+ }$(it_var PORT "$name")"
        CLUSTER_PIDS+="${CLUSTER_PIDS:+ }$(it_var PID "$name")"
    done
    if [ "$replicas" -gt 0 ] && ! wait_until 20 it_cluster_replicas_up; then
        echo "cluster_start: replicas not linked to their masters after 20s" >&2
        return 1
    fi
    export CLUSTER_NODES CLUSTER_MASTERS CLUSTER_REPLICAS CLUSTER_PORTS CLUSTER_PIDS
}

it_cluster_replicas_up() {
    local n
    for n in $CLUSTER_REPLICAS; do
        rs_cli "$n" INFO replication | tr -d '\r' | grep -q '^master_link_status:up' || return 1
    done
}

# xslot_round I: one round of every cross-slot family as redis-cli input
# lines (keys of round I, names spread over slots): MSET, MSETNX, RENAME,
# RENAMENX, COPY, SMOVE, LMOVE, BLMOVE, RPOPLPUSH, S*STORE, Z*STORE, BITOP,
# PFMERGE, GEOSEARCHSTORE, GEORADIUS STORE, SORT STORE, EVAL over two
# slots, a MULTI/EXEC over several, DEL/UNLINK across slots, expire times
# moved across slots, keys expiring within 300 ms and 1 s.
xslot_round() {
    local i=$1
    cat <<EOF
MSET a:$i 1 b:$i 2 c:$i 3 d:$i 4
MSETNX n1:$i x n2:$i y
MSETNX n1:$i z n3:$i w
SADD s1:$i m1 m2 m3
SADD s2:$i m3 m4
ZADD z1:$i 1 e1 2 e2
ZADD z2:$i 3 e2 4 e3
RPUSH l1:$i x y z
RPUSH nums:$i 5 3 9 1
PFADD h1:$i p q
PFADD h2:$i r
GEOADD g:$i 13.36 38.11 pa 15.08 37.50 ca
SET bits1:$i abc
SET bits2:$i xyz
SET ttl:$i v PXAT 4102444800000
SET short:$i v PX 300
HSET hash:$i f v
RENAME a:$i a2:$i
RENAME ttl:$i ttl2:$i
RENAMENX hash:$i hash2:$i
COPY s1:$i s1copy:$i
COPY z1:$i z2:$i REPLACE
SMOVE s1:$i s2:$i m1
LMOVE l1:$i l2:$i LEFT RIGHT
BLMOVE l1:$i l3:$i RIGHT LEFT 0.01
RPOPLPUSH l1:$i l2:$i
SUNIONSTORE su:$i s1:$i s2:$i
SINTERSTORE si:$i s1:$i s2:$i
SDIFFSTORE sd:$i s2:$i s1:$i
ZUNIONSTORE zu:$i 2 z1:$i z2:$i WEIGHTS 2 3
ZINTERSTORE zi:$i 2 z1:$i z2:$i
ZDIFFSTORE zd:$i 2 z2:$i z1:$i
ZRANGESTORE zr:$i z2:$i 0 -1
BITOP XOR bx:$i bits1:$i bits2:$i
PFMERGE hm:$i h1:$i h2:$i
GEOSEARCHSTORE gs:$i g:$i FROMLONLAT 15 37 BYRADIUS 200 km
GEORADIUS g:$i 15 37 200 km STORE gr:$i
SORT nums:$i STORE sorted:$i
EVAL "redis.call('SET', KEYS[2], redis.call('GET', KEYS[1]) .. '!')" 2 b:$i ev:$i
MULTI
INCR c:$i
SADD s2:$i m9
LPUSH l2:$i w
SET tx:$i done
EXEC
DEL b:$i c:$i nope:$i
UNLINK d:$i su:$i
EXPIRE sd:$i 1
EOF
}

# cluster_reshard FROM_ID TO_ID N LOG: redis-cli --cluster reshard moves N
# slots (the lowest FROM_ID serves) to TO_ID, through the first master;
# its output in $IT_TMP/reshard.LOG.log.
cluster_reshard() {
    local via
    via=$(cluster_masters | sed -n 1p) # no head: pipefail would see its SIGPIPE
    redis-cli --cluster reshard "127.0.0.1:$(rs_port "$via")" --cluster-from "$1" --cluster-to "$2" \
        --cluster-slots "$3" --cluster-yes </dev/null >"$IT_TMP/reshard.$4.log" 2>&1
}

# ---- a slot-routed write load ----

# cluster_gen_load FROM TO: commands for i in FROM..TO through redis-cli -c:
# every type, expiring keys (long: they outlive the comparisons), counters,
# deletes, an EVAL over two keys of one slot.
cluster_gen_load() {
    local i
    for ((i = $1; i <= $2; i++)); do
        echo "SET s:$i v$i"
        echo "HSET h:$((i % 50)) f$i v$i"
        echo "RPUSH l:$((i % 30)) e$i"
        echo "SADD st:$((i % 40)) m$i"
        echo "ZADD z:$((i % 40)) $i m$i"
        echo "XADD x:$((i % 10)) * f $i"
        echo "SET e:$i v$i PX 900000"
        echo "INCR c:$((i % 20))"
        echo "DEL s:$((i - 7))"
        echo "EVAL \"redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])\" 2 {ev$((i % 7))}a {ev$((i % 7))}b $i"
    done
}

# cluster_load_start FROM: the test's gen_load FROM.. in batches of
# CLUSTER_LOAD_BATCH (100) through the first cluster node, CLUSTER_LOAD_PAUSE
# (0) s apart, in the background until cluster_load_stop.
it_cluster_load() {
    local i=$1 b=${CLUSTER_LOAD_BATCH:-100} port=${CLUSTER_PORTS%% *}
    while [ ! -e "$IT_TMP/load.stop" ]; do
        gen_load "$i" $((i + b - 1)) | timeout 30 redis-cli -c -p "$port" >/dev/null 2>&1 || true
        i=$((i + b))
        sleep "${CLUSTER_LOAD_PAUSE:-0}"
    done
}
cluster_load_start() {
    rm -f "$IT_TMP/load.stop"
    it_cluster_load "$1" &
    LOAD_PID=$!
    on_exit "touch $IT_TMP/load.stop; kill $LOAD_PID 2>/dev/null || true"
}
cluster_load_stop() {
    touch "$IT_TMP/load.stop"
    wait "$LOAD_PID" 2>/dev/null || true
}

# The full syncs every node served so far, "name:count ...".
cluster_full_syncs() {
    local n out=
    for n in $CLUSTER_NODES; do out+="$n:$(info "$n" stats sync_full) "; done
    printf '%s\n' "$out"
}

# cluster_same TARGET: TARGET's DEBUG DIGEST and DBSIZE are the cluster's.
cluster_same() {
    [ "$(cluster_digest)" == "$(rs_digest "$1")" ] && [ "$(cluster_dbsize)" == "$(rs_cli "$1" DBSIZE)" ]
}
# assert_cluster_same NAME SECS [TARGET]: within SECS s TARGET (tgt) equals
# the cluster (NAME.target_equals_cluster).
assert_cluster_same() {
    local t=${3:-tgt}
    if wait_until "$2" cluster_same "$t"; then pass "$1.target_equals_cluster"
    else fail "$1.target_equals_cluster" "after $2 s: $(cluster_digest)/$(cluster_dbsize) vs $(rs_digest "$t")/$(rs_cli "$t" DBSIZE)"
    fi
}

# ---- cleanup ----

it_cleanup() {
    local n pid pids=() c
    for c in "${IT_ON_EXIT[@]}"; do eval "$c" || true; done
    IT_ON_EXIT=()
    for n in "${IT_SERVERS[@]}"; do
        pid=$(it_var PID "$n")
        if [ -n "$pid" ]; then pids+=("$pid"); fi
    done
    if [ ${#pids[@]} -gt 0 ]; then
        kill "${pids[@]}" 2>/dev/null || true
        for pid in "${pids[@]}"; do
            it_wait_pid "$pid" 3 || { kill -9 "$pid" 2>/dev/null || true; it_wait_pid "$pid" 3 || true; }
        done
    fi
    IT_SERVERS=()
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "lib.sh: kept $IT_TMP" >&2
    else
        rm -rf "$IT_TMP"
    fi
}

trap 'it_cleanup' EXIT
trap 'it_cleanup; trap - EXIT; exit 130' INT
trap 'it_cleanup; trap - EXIT; exit 143' TERM

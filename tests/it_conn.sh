#!/usr/bin/env bash
# it_conn.sh -- the connection layer (src/conn.c) against real servers: a
# plain one (also on a unix socket), one with requirepass, one with an ACL
# user, and two TLS-only ones (client certificates required; one with a
# certificate for other.example only), certificates made here. The assertions live in the sanitized unit binary test_conn, which
# runs its server tests when RDBSYNC_TEST_*PORT are set. Then rdbsync
# itself against peers that are not Redis servers (an HTTP server, a
# listener answering junk): exit 5, one line asking "is this a Redis
# server?".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bin=${TEST_CONN_BIN:-$ROOT/build/san/tests/test_conn}
if [ ! -x "$bin" ]; then
    skip conn.it "no $bin (run make)"
    exit 0
fi

sock="$IT_TMP/plain.sock"
rs_start plain --unixsocket "$sock" --unixsocketperm 700
# rs_start waits for an unauthenticated PONG, so the password is set after.
rs_start auth
assert_eq conn.it.requirepass OK "$(rs_cli auth CONFIG SET requirepass s3cret)"
rs_start acl
assert_eq conn.it.acl_setuser OK "$(rs_cli acl ACL SETUSER alice on '>pw' '~*' '&*' '+@all')"

tls_env=()
certs="$IT_TMP/certs"
if ! command -v openssl >/dev/null 2>&1; then
    skip conn.it.tls "no openssl CLI"
elif ! it_make_certs "$certs"; then
    fail conn.it.tls_certs "openssl could not make the test certificates"
elif rs_start_tls tls "$certs" && rs_start_tls tlsother "$certs" \
        --tls-cert-file "$certs/other.crt" --tls-key-file "$certs/other.key"; then
    tls_env=(RDBSYNC_TEST_TLS_CERTS="$certs" RDBSYNC_TEST_TLS_PORT="$(rs_port tls)"
             RDBSYNC_TEST_TLS_OTHER_PORT="$(rs_port tlsother)")
else
    fail conn.it.tls_server "redis-server did not start with --tls-port"
fi

out=$(env "${tls_env[@]}" RDBSYNC_TEST_PORT=$(rs_port plain) RDBSYNC_TEST_UNIX=$sock \
      RDBSYNC_TEST_AUTH_PORT=$(rs_port auth) RDBSYNC_TEST_ACL_PORT=$(rs_port acl) \
      "$bin" 2>"$IT_TMP/test_conn.err") && rc=0 || rc=$?
printf '%s\n' "$out"
# A crash (sanitizer, signal) must not pass silently: exit 1 means
# "some FAIL lines were printed", anything else is a failure of its own.
if [ "$rc" -ne 0 ] && { [ "$rc" -ne 1 ] || ! grep -q '^FAIL ' <<<"$out"; }; then
    fail conn.it.exit "test_conn exited $rc: $(it_show "$(tail -n 5 "$IT_TMP/test_conn.err")")"
fi
if ! grep -q '^PASS conn.auth.wrong_password$' <<<"$out"; then
    fail conn.it.ran "the server tests did not run"
fi

# ---- a peer that is not a Redis server: one line saying so, exit 5 ----
# An HTTP server (answers RESP with "HTTP/1.0 400", a protocol error) and a
# listener that answers every connection with valid RESP that is no PONG.
if ! have_rdbsync; then
    skip conn.not_redis "no $RDBSYNC (run make)"
elif ! command -v python3 >/dev/null 2>&1; then
    skip conn.not_redis "no python3 for the fake peers"
else
    rs_cli plain SET k v >/dev/null
    dump=$(rs_save plain)
    http_port=$(free_port)
    python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$IT_TMP" >/dev/null 2>&1 &
    http_pid=$!
    on_exit "kill $http_pid 2>/dev/null; wait $http_pid 2>/dev/null"
    junk_port=$(free_port)
    python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); s.settimeout(60)
while True:
    c, _ = s.accept(); c.sendall(b"+WHAT\r\n" * 8); c.close()
' "$junk_port" >/dev/null 2>&1 &
    junk_pid=$!
    on_exit "kill $junk_pid 2>/dev/null; wait $junk_pid 2>/dev/null"
    wait_until 5 sh -c "ss -Htln 'sport = :$http_port' | grep -q . && ss -Htln 'sport = :$junk_port' | grep -q ."
    for peer in http:$http_port junk:$junk_port; do
        name=${peer%%:*} port=${peer#*:}
        rc=0
        err=$(timeout 20 "$RDBSYNC" -q --file "$dump" --target "redis://127.0.0.1:$port" 2>&1 >/dev/null) || rc=$?
        assert_eq "conn.not_redis.$name.import.rc" 5 "$rc"
        assert_match "conn.not_redis.$name.import.msg" "^rdbsync: target: .*127\\.0\\.0\\.1:$port.* \\(is this a Redis server\\?\\)$" "$err"
        rc=0
        err=$(timeout 20 "$RDBSYNC" -q --source "redis://127.0.0.1:$port" --target "$(rs_url plain)" --once 2>&1 >/dev/null) || rc=$?
        assert_eq "conn.not_redis.$name.source.rc" 5 "$rc"
        assert_match "conn.not_redis.$name.source.msg" "127\\.0\\.0\\.1:$port.* \\(is this a Redis server\\?\\)$" "$err"
        assert_eq "conn.not_redis.$name.source.lines" 1 "$(printf '%s\n' "$err" | grep -c .)"
    done
fi

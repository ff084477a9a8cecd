#!/usr/bin/env bash
# it_conn.sh -- the connection layer (src/conn.c) against real servers: a
# plain one (also on a unix socket), one with requirepass, one with an ACL
# user, and two TLS-only ones (client certificates required; one with a
# certificate for other.example only), certificates made here. The assertions live in the sanitized unit binary test_conn, which
# runs its server tests when RDBSYNC_TEST_*PORT are set.
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

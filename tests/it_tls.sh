#!/usr/bin/env bash
# it_tls.sh -- every connection over TLS, against real redis-server 7.0 TLS
# ports (--port 0 --tls-port P). Certificates are made here with the openssl
# CLI: a CA, a server certificate for localhost and 127.0.0.1, one for
# other.example only, a client certificate, and an unrelated CA.
#   tls.import.*        --file dump --target rediss://... --cacert: digest equal
#   tls.wrong_ca.*      verification error, exit 5, nothing written;
#                       --insecure then works and warns; a CA, certificate
#                       or key file that is missing: exit 2, one line naming
#                       the flag and the path (tls.missing_*)
#   tls.hostname.*      a certificate for another name fails unless --sni
#                       names it (or --insecure)
#   tls.client_cert.*   tls-auth-clients yes: refused without --cert/--key
#   tls.sync.*          live sync from a source requiring client certificates
#                       to a TLS target under a write load: digests equal
#   tls.flags.*         per-side flags win; flags for a plain side are refused
#   tls.secret.*        a wrong password over TLS is never printed
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then
    skip tls.all "no $RDBSYNC (run make)"
    exit 0
fi
if ! command -v openssl >/dev/null 2>&1; then
    skip tls.all "no openssl CLI"
    exit 0
fi

certs=$IT_TMP/certs
if ! it_make_certs "$certs"; then
    fail tls.certs "openssl could not make the test certificates"
    exit 0
fi

R=("$RDBSYNC" -q)
CA=(--cacert "$certs/ca.crt")
MTLS=(--cacert "$certs/ca.crt" --cert "$certs/client.crt" --key "$certs/client.key")

# A reference: the dataset on a plain server, saved.
rs_start plain
if ! "$ROOT/tests/gen_dataset.sh" "$(rs_port plain)" >/dev/null; then
    fail tls.dataset "gen_dataset.sh failed"
    exit 0
fi
dump=$(rs_save plain)
want=$(rs_digest plain)

# A TLS server must come up at all (Debian's redis-server is built with TLS).
if ! rs_start_tls t1 "$certs" --tls-auth-clients no; then
    skip tls.all "redis-server did not start with --tls-port (built without TLS?)"
    exit 0
fi
p1=$(rs_port t1)

# ---- import ----

rc=0
err=$("${R[@]}" --file "$dump" --target "$(rs_url t1)" "${CA[@]}" 2>&1 >/dev/null) || rc=$?
assert_eq tls.import.exit 0 "$rc"
[ "$rc" -eq 0 ] || printf '%s\n' "$err" | tail -n 3 >&2
assert_eq tls.import.digest "$want" "$(rs_digest t1)"

# By name: localhost is in the certificate's DNS names, SNI is sent.
rc=0
"${R[@]}" --file "$dump" --target "rediss://localhost:$p1" "${CA[@]}" --flush-target >/dev/null 2>&1 || rc=$?
assert_eq tls.import.localhost_name "0 $want" "$rc $(rs_digest t1)"

# --tls turns a redis:// URL into TLS.
rc=0
"${R[@]}" --file "$dump" --target "redis://127.0.0.1:$p1" --tls "${CA[@]}" --flush-target >/dev/null 2>&1 || rc=$?
assert_eq tls.import.tls_flag "0 $want" "$rc $(rs_digest t1)"

# A plain client on a TLS port: a connection error that points at rediss://.
rc=0
err=$("${R[@]}" --file "$dump" --target "redis://127.0.0.1:$p1" --flush-target 2>&1 >/dev/null) || rc=$?
assert_eq tls.import.plain_on_tls_port.exit 5 "$rc"
assert_match tls.import.plain_on_tls_port.hint 'use rediss:// or --tls' "$err"

# ---- wrong CA, then --insecure ----

rs_start_tls t2 "$certs" --tls-auth-clients no
p2=$(rs_port t2)
rc=0
err=$("${R[@]}" --file "$dump" --target "$(rs_url t2)" --cacert "$certs/wrongca.crt" 2>&1 >/dev/null) || rc=$?
assert_eq tls.wrong_ca.exit 5 "$rc"
assert_eq tls.wrong_ca.one_line 1 "$(printf '%s\n' "$err" | grep -c .)"
assert_match tls.wrong_ca.message "^rdbsync: target: cannot verify the TLS certificate of 127\\.0\\.0\\.1:$p2: .+ \\(.*--cacert.*\\)$" "$err"
assert_eq tls.wrong_ca.nothing_written 0 "$(rs_cli t2 DBSIZE)"

# The system store does not know our CA either.
rc=0
err=$("${R[@]}" --file "$dump" --target "$(rs_url t2)" 2>&1 >/dev/null) || rc=$?
assert_match tls.wrong_ca.system_store "^5 .*cannot verify the TLS certificate.*system CA store" "$rc $err"

rc=0
err=$("${R[@]}" --file "$dump" --target "$(rs_url t2)" --cacert "$certs/wrongca.crt" --insecure 2>&1 >/dev/null) || rc=$?
assert_eq tls.insecure.exit 0 "$rc"
assert_match tls.insecure.warning 'warning: --insecure: the TLS certificate of the target is not verified' "$err"
assert_eq tls.insecure.digest "$want" "$(rs_digest t2)"

# A missing CA, certificate or key file is named, before connecting, as an
# input error (exit 2): not the server's fault (exit 5).
rc=0
err=$("${R[@]}" --file "$dump" --target "$(rs_url t2)" --cacert "$certs/nope.crt" 2>&1 >/dev/null) || rc=$?
assert_match tls.wrong_ca.missing_file "^2 rdbsync: --cacert .*nope\\.crt: cannot read: No such file or directory$" "$rc $err"
rc=0
err=$("${R[@]}" --file "$dump" --target "$(rs_url t2)" "${CA[@]}" --cert "$certs/nope-client.crt" \
    --key "$certs/client.key" 2>&1 >/dev/null) || rc=$?
assert_match tls.missing_cert "^2 rdbsync: --cert .*nope-client\\.crt: cannot read: No such file or directory$" "$rc $err"
rc=0
err=$("${R[@]}" --source "$(rs_url t2)" --target "$(rs_url t2)" "${CA[@]}" --cert "$certs/client.crt" \
    --target-key "$certs/nope.key" --once 2>&1 >/dev/null) || rc=$?
assert_match tls.missing_key "^2 rdbsync: --target-key .*nope\\.key: cannot read: No such file or directory$" "$rc $err"

# ---- a certificate for another host name ----

rs_start_tls oth "$certs" --tls-auth-clients no --tls-cert-file "$certs/other.crt" --tls-key-file "$certs/other.key"
po=$(rs_port oth)
rc=0
err=$("${R[@]}" --file "$dump" --target "$(rs_url oth)" "${CA[@]}" 2>&1 >/dev/null) || rc=$?
assert_eq tls.hostname.exit 5 "$rc"
assert_match tls.hostname.message "^rdbsync: target: cannot verify the TLS certificate of 127\\.0\\.0\\.1:$po: .*mismatch \\(it is for DNS:other\\.example, not 127\\.0\\.0\\.1; .*--sni.*\\)$" "$err"
assert_eq tls.hostname.nothing_written 0 "$(rs_cli oth DBSIZE)"

rc=0
err=$("${R[@]}" --file "$dump" --target "$(rs_url oth)" "${CA[@]}" --sni other.example 2>&1 >/dev/null) || rc=$?
assert_eq tls.hostname.sni "0 $want" "$rc $(rs_digest oth)"
[ "$rc" -eq 0 ] || printf '%s\n' "$err" | tail -n 3 >&2

rc=0
"${R[@]}" --file "$dump" --target "$(rs_url oth)" "${CA[@]}" --sni wrong.example --flush-target >/dev/null 2>&1 || rc=$?
assert_eq tls.hostname.wrong_sni 5 "$rc"

rc=0
"${R[@]}" --file "$dump" --target "$(rs_url oth)" "${CA[@]}" --insecure --flush-target >/dev/null 2>&1 || rc=$?
assert_eq tls.hostname.insecure "0 $want" "$rc $(rs_digest oth)"

# ---- per-side flags ----

rc=0
"${R[@]}" --file "$dump" --target "$(rs_url t2)" --cacert "$certs/wrongca.crt" --target-cacert "$certs/ca.crt" \
    --flush-target >/dev/null 2>&1 || rc=$?
assert_eq tls.flags.target_wins "0 $want" "$rc $(rs_digest t2)"

rc=0
err=$("${R[@]}" --file "$dump" --target "$(rs_url plain)" --target-cacert "$certs/ca.crt" 2>&1 >/dev/null) || rc=$?
assert_match tls.flags.plain_side_refused "^1 rdbsync: --target-\\* TLS options given, but the target is not TLS" "$rc $err"

# ---- client certificates (tls-auth-clients yes, the server default) ----

rs_start_tls mt "$certs"
rc=0
err=$("${R[@]}" --file "$dump" --target "$(rs_url mt)" "${CA[@]}" 2>&1 >/dev/null) || rc=$?
assert_match tls.client_cert.required "^5 rdbsync: target: .*client certificate: give --cert and --key\\)$" "$rc $err"
assert_eq tls.client_cert.nothing_written 0 "$(rs_cli mt DBSIZE)"
rc=0
"${R[@]}" --file "$dump" --target "$(rs_url mt)" "${MTLS[@]}" >/dev/null 2>&1 || rc=$?
assert_eq tls.client_cert.import "0 $want" "$rc $(rs_digest mt)"

# ---- live sync: mTLS source (holding the dataset) to a TLS target ----

mkdir -p "$IT_TMP/src"
cp "$dump" "$IT_TMP/src/dump.rdb"
RS_DIR_src=$IT_TMP/src
rs_start_tls src "$certs" --dbfilename dump.rdb --tls-replication yes
rs_start_tls dst "$certs"
assert_eq tls.sync.source_loaded "$want" "$(rs_digest src)"

"$RDBSYNC" -q --source "$(rs_url src)" --target "$(rs_url dst)" "${MTLS[@]}" \
    >"$IT_TMP/sync.out" 2>"$IT_TMP/sync.err" &
sync_pid=$!
on_exit "kill $sync_pid 2>/dev/null"

# A write load while the snapshot goes and after it.
it_tls_cli "$certs"
load() {
    local i
    for i in $(seq "$1" "$2"); do
        printf 'SET load:%s v%s\nINCR counter\nHSET h:%s f %s\nLPUSH list:load %s\n' "$i" "$i" "$((i % 50))" "$i" "$i"
    done | redis-cli "${IT_CLI_TLS[@]}" -h 127.0.0.1 -p "$(rs_port src)" >/dev/null
}
load 1 300
for round in 1 2 3 4; do
    load $((round * 300 + 1)) $((round * 300 + 300))
    sleep 0.2
done
same_digest() { [ "$(rs_digest src)" = "$(rs_digest dst)" ]; }
if wait_until 30 same_digest; then pass tls.sync.digest
else fail tls.sync.digest "source $(rs_digest src), target $(rs_digest dst): $(it_show "$(tail -n 3 "$IT_TMP/sync.err")")"; fi
assert_eq tls.sync.counter 1500 "$(rs_cli dst GET counter)"
kill -TERM "$sync_pid" 2>/dev/null || true
rc=0
stopped() { ! kill -0 "$sync_pid" 2>/dev/null; }
if wait_until 15 stopped; then
    wait "$sync_pid" || rc=$?
    assert_eq tls.sync.sigterm_exit 0 "$rc"
else
    kill -9 "$sync_pid" 2>/dev/null || true
    wait "$sync_pid" 2>/dev/null || true
    fail tls.sync.sigterm_exit "still running 15 s after SIGTERM"
fi
assert_match tls.sync.stopped_line 'stopped at source offset [0-9]+' "$(cat "$IT_TMP/sync.err")"

# ---- scan mode ----

if "$RDBSYNC" --help 2>/dev/null | grep -q -- '--mode'; then
    rs_start_tls sc "$certs"
    rc=0
    err=$("${R[@]}" --mode scan --no-follow --source "$(rs_url src)" --target "$(rs_url sc)" "${MTLS[@]}" 2>&1 >/dev/null) || rc=$?
    assert_eq tls.scan "0 $(rs_digest src)" "$rc $(rs_digest sc)"
    [ "$rc" -eq 0 ] || printf '%s\n' "$err" | tail -n 3 >&2
else
    skip tls.scan "this build has no --mode (scan mode not implemented yet)"
fi

# ---- secrets: a wrong password over TLS ----

assert_eq tls.secret.requirepass OK "$(rs_cli t2 CONFIG SET requirepass right-pass-1)"
rc=0
err=$("${R[@]}" --file "$dump" --target "rediss://:Wr0ngSecretXYZ@127.0.0.1:$p2" "${CA[@]}" 2>&1 >/dev/null) || rc=$?
assert_match tls.secret.auth_failed "^5 rdbsync: target: authentication failed for rediss://:\\*\\*\\*@127\\.0\\.0\\.1:$p2: WRONGPASS" "$rc $err"
case "$err" in *Wr0ngSecretXYZ*) fail tls.secret.not_printed "the password is in: $(it_show "$err")" ;;
    *) pass tls.secret.not_printed ;; esac
rc=0
RDBSYNC_TARGET_AUTH=right-pass-1 "${R[@]}" --file "$dump" --target "$(rs_url t2)" "${CA[@]}" --flush-target \
    >/dev/null 2>&1 || rc=$?
assert_eq tls.secret.env_auth 0 "$rc"

/* tls.h -- TLS (OpenSSL) as an rsTransport (transport.h), for rediss://
 * URLs and --tls.
 *
 * tlsOpen connects the socket (net.h), refuses unix sockets, then runs a
 * non-blocking SSL_connect within the same timeout:
 *   - verification is on unless insecure: the chain against cacert and/or
 *     cacertdir, or the system store when neither is given; and the name:
 *     sni when given, else the URL host (a host name, or an IP address
 *     checked against the certificate's IP entries);
 *   - SNI is sent: sni, else the URL host when it is not an IP address;
 *   - a client certificate (cert, key in key or in the cert file) for
 *     servers with tls-auth-clients yes; an encrypted key is refused,
 *     OpenSSL never prompts;
 *   - TLS 1.2 or later.
 * Error lines (besides those of net.h):
 *   cannot verify the TLS certificate of 127.0.0.1:6380: unable to get local issuer certificate (issued by CN=Test CA, not trusted by 'ca.crt'; give the CA that signed it with --cacert, or use --insecure)
 *   cannot verify the TLS certificate of 127.0.0.1:6380: hostname mismatch (it is for DNS:other.example, not 127.0.0.1; ...)
 *   TLS handshake with 127.0.0.1:6380 failed: wrong version number (does the server speak TLS on this port?)
 *   TLS handshake with 127.0.0.1:6380 timed out after 5000 ms (does the server speak TLS on this port?)
 *   cannot load the TLS CA file 'ca.crt': No such file or directory
 *   a TLS key ('k.pem') needs its certificate (--cert)
 *   cannot use TLS on a unix socket (/tmp/redis.sock)
 * and on I/O, OpenSSL's reason with a hint when the user can act:
 *   cannot read from 127.0.0.1:6380: tlsv13 alert certificate required (the server wants a client certificate: give --cert and --key)
 *
 * Bytes go through our own socket BIO (send with MSG_NOSIGNAL, recv), so
 * the transport rules hold: non-blocking, no SIGPIPE, partial writes with
 * the retry rule of transportWrite. A close without close_notify is a
 * plain EOF (RESP frames itself; killed servers never send one).
 *
 * Contexts: one SSL_CTX per distinct option set (files, insecure), made on
 * first use and cached for the life of the process (up to 8; more are made
 * per connection), under a mutex: reconnects do not reload CAs, and any
 * thread may call tlsOpen. A connection costs an SSL object and about
 * 1.5 KB of ours.
 */
#ifndef RDBSYNC_TLS_H
#define RDBSYNC_TLS_H

#include <stddef.h>

#include "src/transport.h"
#include "src/url.h"

/* TLS settings (redis-cli's --tls, --cacert, ...). Strings are paths or
 * names owned by the caller, only read during tlsOpen; NULL = not given.
 * A zeroed struct = no TLS unless the URL is rediss:// (see conn.h). */
typedef struct rsTlsOptions {
    int enabled;           /* TLS even for a redis:// URL (--tls) */
    const char *cacert;    /* PEM file of trusted CAs */
    const char *cacertdir; /* directory of trusted CAs (c_rehash layout) */
    const char *cert;      /* client certificate chain (PEM) */
    const char *key;       /* its private key (PEM); NULL = in the cert file */
    const char *sni;       /* server name sent AND checked; NULL = URL host */
    int insecure;          /* 1 = no chain or name verification */
} rsTlsOptions;

/* Connect to u and complete the TLS handshake within timeout_ms (< 0 =
 * forever). A transport whose transportInfo is e.g. "TLSv1.3
 * TLS_AES_256_GCM_SHA384", or NULL with one line in err. */
rsTransport *tlsOpen(const rsUrl *u, const rsTlsOptions *o, int timeout_ms, char *err, size_t errlen);

#endif

/* tls.c -- see tls.h. Layers, bottom up: our socket BIO; error text and
 * hints; the transport's read/write; the SSL_CTX cache; verification
 * messages; tlsOpen (peer name, handshake). */
#include "clock.h"
#include "src/tls.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <pthread.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "src/net.h"

/* What verification messages need, only while tlsOpen runs (on its
 * stack), so an open connection does not carry 1.5 KB of it. */
typedef struct tlsVerify {
    char checked[256]; /* the name the certificate must match */
    char trust[600];   /* where trusted CAs come from */
    char note[600];    /* why verification failed (verify callback) */
} tlsVerify;

typedef struct tlsConn {
    rsTransport base;   /* first: the rsTransport * handed out is this */
    SSL *ssl;
    tlsVerify *verify;  /* during tlsOpen only, else NULL */
    int eof;            /* the socket BIO saw EOF */
    int dead;           /* a fatal TLS error happened (message in base.err) */
    int cert_asked;     /* the server wanted a client cert we do not have */
    char info[96];      /* "TLSv1.3 TLS_AES_256_GCM_SHA384" */
} tlsConn;

#define setErr(c, ...) netSetError(&(c)->base, __VA_ARGS__)

/* ---- the socket BIO ----
 *
 * OpenSSL does the record layer; bytes still go through our fd, via a
 * minimal socket BIO (send with MSG_NOSIGNAL, recv), so the non-blocking
 * and no-SIGPIPE rules of the plain transport hold. Partial writes and
 * moving write buffers are enabled, so tlsWrite keeps "bytes written so
 * far" semantics (see transport.h for the retry rule). */

static BIO_METHOD *bioMethod;
static int exIdx = -1; /* SSL ex_data slot: the tlsConn */
static pthread_once_t tlsOnce = PTHREAD_ONCE_INIT;

static int bioWrite(BIO *b, const char *buf, size_t len, size_t *done) {
    tlsConn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = send(c->base.fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) {
            *done = (size_t)n;
            return 1;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
        return 0;
    }
}

static int bioRead(BIO *b, char *buf, size_t cap, size_t *done) {
    tlsConn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = recv(c->base.fd, buf, cap, 0);
        if (n > 0) {
            *done = (size_t)n;
            return 1;
        }
        if (n == 0) {
            c->eof = 1; /* BIO_eof: OpenSSL tells EOF from an error */
            return 0;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
        return 0;
    }
}

static long bioCtrl(BIO *b, int cmd, long num, void *ptr) {
    tlsConn *c = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1; /* nothing buffered here */
    case BIO_CTRL_EOF: return c && c->eof;
    default: return 0;
    }
}

static int bioCreate(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static void tlsInitOnce(void) {
    exIdx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    bioMethod = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rdbsync socket");
    if (!bioMethod) return;
    BIO_meth_set_write_ex(bioMethod, bioWrite);
    BIO_meth_set_read_ex(bioMethod, bioRead);
    BIO_meth_set_ctrl(bioMethod, bioCtrl);
    BIO_meth_set_create(bioMethod, bioCreate);
}

/* ---- errors ---- */

/* The first queued OpenSSL error as text (a missing file shows as the
 * system error), or NULL when the queue is empty. */
static const char *tlsErrText(char *buf, size_t len) {
    unsigned long e = ERR_peek_error();
    if (!e) return NULL;
    if (ERR_GET_LIB(e) == ERR_LIB_SYS) {
        snprintf(buf, len, "%s", strerror(ERR_GET_REASON(e)));
    } else {
        const char *r = ERR_reason_error_string(e);
        if (r)
            snprintf(buf, len, "%s", r);
        else
            ERR_error_string_n(e, buf, len);
    }
    return buf;
}

/* What to try, for the errors a user can fix. */
static const char *tlsHint(unsigned long e) {
    if (!e || ERR_GET_LIB(e) != ERR_LIB_SSL) return NULL;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return "the server wants a client certificate: give --cert and --key";
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
        return "the server rejected our client certificate (is it signed by the server's tls-ca-cert-file?)";
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
        return "the server refused the handshake; does it want a client certificate (--cert, --key)?";
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
        return "does the server speak TLS on this port?";
    }
    return NULL;
}

/* Set "<prefix>: <reason>[ (hint)]" for a failed SSL_* call that returned
 * SSL_get_error() == sslerr; clears the thread's error queue. */
static void tlsFail(tlsConn *c, int sslerr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void tlsFail(tlsConn *c, int sslerr, const char *fmt, ...) {
    char prefix[400], why[256];
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    const char *r = tlsErrText(why, sizeof(why));
    if (!r && sslerr == SSL_ERROR_SYSCALL && saved && !c->eof) r = strerror(saved);
    if (!r) r = c->eof ? "connection closed by the server" : "unknown TLS error";
    const char *hint = tlsHint(ERR_peek_error());
    /* TLS 1.3 servers reject a missing client certificate after our side
     * of the handshake is done: the failure shows on the first I/O. */
    if (!hint && c->cert_asked) hint = "the server asked for a client certificate: give --cert and --key";
    setErr(c, "%s: %s%s%s%s", prefix, r, hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
    c->dead = 1; /* no SSL_shutdown after a fatal error */
    ERR_clear_error();
}

/* ---- the transport ---- */

/* Map SSL_get_error to the transport's convention: TRANSPORT_AGAIN (with
 * base.want), 0 for a clean close, -1 for errors (message set). */
static ssize_t tlsResult(tlsConn *c, int sslerr, const char *dir) {
    switch (sslerr) {
    case SSL_ERROR_WANT_READ: c->base.want = POLLIN; return TRANSPORT_AGAIN;
    case SSL_ERROR_WANT_WRITE: c->base.want = POLLOUT; return TRANSPORT_AGAIN;
    case SSL_ERROR_ZERO_RETURN: ERR_clear_error(); return 0;
    }
    if (sslerr == SSL_ERROR_SYSCALL && c->eof && ERR_peek_error() == 0) return 0;
    tlsFail(c, sslerr, "cannot %s %s", dir, c->base.addr);
    return -1;
}

/* Read until cap is full or OpenSSL would block: one SSL_read gives one
 * record (16 KiB at most), and several per call keep syscalls per byte
 * close to the plain path. */
static ssize_t tlsRead(rsTransport *t, void *buf, size_t cap) {
    tlsConn *c = (tlsConn *)t;
    size_t total = 0;
    if (c->dead) return -1; /* the message of the failure stays */
    while (total < cap) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_read_ex(c->ssl, (char *)buf + total, cap - total, &n) == 1) {
            total += n;
            continue;
        }
        ssize_t r = tlsResult(c, SSL_get_error(c->ssl, 0), "read from");
        return total > 0 ? (ssize_t)total : r; /* EOF, AGAIN, error: next call */
    }
    return (ssize_t)total;
}

static ssize_t tlsWrite(rsTransport *t, const void *buf, size_t len) {
    tlsConn *c = (tlsConn *)t;
    size_t total = 0;
    if (c->dead) return -1;
    while (total < len) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_write_ex(c->ssl, (const char *)buf + total, len - total, &n) == 1) {
            total += n;
            continue;
        }
        ssize_t r = tlsResult(c, SSL_get_error(c->ssl, 0), "write to");
        if (r == 0) {
            setErr(c, "connection closed by %s", c->base.addr);
            r = -1;
        }
        return total > 0 && r == TRANSPORT_AGAIN ? (ssize_t)total : r;
    }
    return (ssize_t)total;
}

/* Decrypted bytes OpenSSL holds that poll() cannot see. Without
 * read-ahead (the default, kept) OpenSSL reads one record at a time, so
 * there is never a complete undecrypted record buffered; SSL_has_pending
 * would also count a partial one and make pollers spin. */
static size_t tlsPending(const rsTransport *t) {
    const tlsConn *c = (const tlsConn *)t;
    return c->ssl ? (size_t)SSL_pending(c->ssl) : 0;
}

static const char *tlsInfo(const rsTransport *t) {
    return ((const tlsConn *)t)->info;
}

/* ---- contexts: one per option set, cached ---- */

#define TLS_CTX_CACHE 8

typedef struct tlsCtxEntry {
    char *cacert, *cacertdir, *cert, *key;
    int insecure;
    SSL_CTX *ctx;
} tlsCtxEntry;

static tlsCtxEntry ctxCache[TLS_CTX_CACHE];
static int ctxCached;
static pthread_mutex_t ctxLock = PTHREAD_MUTEX_INITIALIZER;

static int sameStr(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int ctxMatches(const tlsCtxEntry *e, const rsTlsOptions *t) {
    return sameStr(e->cacert, t->cacert) && sameStr(e->cacertdir, t->cacertdir) && sameStr(e->cert, t->cert) &&
           sameStr(e->key, t->key) && e->insecure == (t->insecure != 0);
}

/* Encrypted keys are not supported: never let OpenSSL prompt on a tty. */
static int noPassword(char *buf, int size, int rwflag, void *u) {
    return 0;
}

/* A TLS file or directory that did not load: -1 with
 * "cannot load the TLS <what> 'path': why" (the system error if unreadable). */
static int loadFailed(const char *what, const char *path, char *err, size_t errlen) {
    char why[256];
    const char *r = access(path, R_OK) < 0 ? strerror(errno) : tlsErrText(why, sizeof(why));
    snprintf(err, errlen, "cannot load the TLS %s '%s': %s", what, path, r ? r : "unusable");
    ERR_clear_error();
    return -1;
}

static int ctxLoadTrust(SSL_CTX *ctx, const rsTlsOptions *t, char *err, size_t errlen) {
    if (t->cacert && SSL_CTX_load_verify_file(ctx, t->cacert) != 1)
        return loadFailed("CA file", t->cacert, err, errlen);
    if (t->cacertdir && SSL_CTX_load_verify_dir(ctx, t->cacertdir) != 1)
        return loadFailed("CA directory", t->cacertdir, err, errlen);
    if (!t->cacert && !t->cacertdir && SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(err, errlen, "cannot load the system CA store (give --cacert)");
        ERR_clear_error();
        return -1;
    }
    return 0;
}

static int ctxLoadClientCert(SSL_CTX *ctx, const rsTlsOptions *t, char *err, size_t errlen) {
    const char *key = t->key ? t->key : t->cert;
    if (!t->cert) {
        if (!t->key) return 0;
        snprintf(err, errlen, "a TLS key ('%s') needs its certificate (--cert)", t->key);
        return -1;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1)
        return loadFailed("client certificate", t->cert, err, errlen);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        return loadFailed("client key (PEM, not encrypted)", key, err, errlen);
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "the TLS key '%s' does not match the certificate '%s'", key, t->cert);
        ERR_clear_error();
        return -1;
    }
    return 0;
}

static int verifyCallback(int ok, X509_STORE_CTX *st);

/* Called only when the server asks for a client certificate and none is
 * configured: remember it for the error message, go on without one. */
static int clientCertCallback(SSL *ssl, X509 **x509, EVP_PKEY **pkey) {
    tlsConn *c = SSL_get_ex_data(ssl, exIdx);
    if (c) c->cert_asked = 1;
    return 0;
}

static SSL_CTX *ctxNew(const rsTlsOptions *t, char *err, size_t errlen) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context (OpenSSL)");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* RESP frames itself, so a close without close_notify cannot truncate
     * a reply unnoticed; servers that are killed never send one. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_default_passwd_cb(ctx, noPassword);
    SSL_CTX_set_verify(ctx, t->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, verifyCallback);
    if (!t->cert) SSL_CTX_set_client_cert_cb(ctx, clientCertCallback);
    if ((!t->insecure && ctxLoadTrust(ctx, t, err, errlen) < 0) || ctxLoadClientCert(ctx, t, err, errlen) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void ctxEntryFree(tlsCtxEntry *e) {
    free(e->cacert);
    free(e->cacertdir);
    free(e->cert);
    free(e->key);
}

/* Remember ctx for t; 0 when it could not be (cache full, out of memory). */
static int ctxRemember(const rsTlsOptions *t, SSL_CTX *ctx) {
    if (ctxCached == TLS_CTX_CACHE) return 0;
    tlsCtxEntry e = {.insecure = t->insecure != 0, .ctx = ctx};
    int oom = (t->cacert && !(e.cacert = strdup(t->cacert))) ||
              (t->cacertdir && !(e.cacertdir = strdup(t->cacertdir))) || (t->cert && !(e.cert = strdup(t->cert))) ||
              (t->key && !(e.key = strdup(t->key)));
    if (oom) {
        ctxEntryFree(&e);
        return 0;
    }
    ctxCache[ctxCached++] = e;
    return 1;
}

/* A context for t with one reference for the caller (SSL_CTX_free it);
 * cached ones keep a reference of the cache's, for the process lifetime. */
static SSL_CTX *ctxGet(const rsTlsOptions *t, char *err, size_t errlen) {
    SSL_CTX *ctx = NULL;
    pthread_mutex_lock(&ctxLock);
    for (int i = 0; i < ctxCached && !ctx; i++)
        if (ctxMatches(&ctxCache[i], t)) ctx = ctxCache[i].ctx;
    if (ctx) {
        SSL_CTX_up_ref(ctx);
    } else if ((ctx = ctxNew(t, err, errlen)) && ctxRemember(t, ctx)) {
        SSL_CTX_up_ref(ctx);
    }
    pthread_mutex_unlock(&ctxLock);
    return ctx;
}

/* ---- verification messages ---- */

typedef struct sbuf {
    char *p;
    size_t cap, len;
} sbuf;

static void sput(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sput(sbuf *b, const char *fmt, ...) {
    if (b->len + 1 >= b->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - b->len - 1;
}

/* "CN=x,O=y" of a certificate name. */
static void putName(sbuf *b, const X509_NAME *name) {
    BIO *m = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = 0;
    if (m && X509_NAME_print_ex(m, name, 0, XN_FLAG_RFC2253) >= 0) n = BIO_get_mem_data(m, &data);
    sput(b, "%.*s", (int)(n > 0 ? (n > 200 ? 200 : n) : 0), data ? data : "");
    if (n <= 0) sput(b, "(no name)");
    BIO_free(m);
}

/* The names a certificate is for: its DNS and IP subject alternative
 * names, else its subject. */
static void putCertNames(sbuf *b, X509 *cert) {
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int shown = 0;
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && shown < 6; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char ip[INET6_ADDRSTRLEN];
        if (g->type == GEN_DNS) {
            sput(b, "%sDNS:%.*s", shown++ ? ", " : "", ASN1_STRING_length(g->d.dNSName),
                 (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        } else if (g->type == GEN_IPADD) {
            int len = ASN1_STRING_length(g->d.iPAddress);
            int fam = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
            if (fam && inet_ntop(fam, ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof(ip)))
                sput(b, "%sIP:%s", shown++ ? ", " : "", ip);
        }
    }
    GENERAL_NAMES_free(gens);
    if (!shown) putName(b, X509_get_subject_name(cert));
}

static void putTime(sbuf *b, const ASN1_TIME *t) {
    BIO *m = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = 0;
    if (m && ASN1_TIME_print(m, t)) n = BIO_get_mem_data(m, &data);
    sput(b, "%.*s", (int)(n > 0 ? n : 0), data ? data : "");
    BIO_free(m);
}

/* The "(why)" part of a verification failure, from the certificate that
 * failed and what the user can change. */
static void noteVerifyFailure(tlsVerify *v, int code, X509 *cert) {
    sbuf b = {v->note, sizeof(v->note), 0};
    switch (code) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        sput(&b, "it is for ");
        if (cert) putCertNames(&b, cert);
        sput(&b, ", not %s; give the name it was issued for with --sni, or use --insecure", v->checked);
        break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        sput(&b, "issued by ");
        if (cert) putName(&b, X509_get_issuer_name(cert));
        sput(&b, ", not trusted by %s; give the CA that signed it with --cacert, or use --insecure", v->trust);
        break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        sput(&b, "valid from ");
        if (cert) putTime(&b, X509_get0_notBefore(cert));
        sput(&b, " to ");
        if (cert) putTime(&b, X509_get0_notAfter(cert));
        sput(&b, "; check the clocks, or renew it");
        break;
    default:
        sput(&b, "subject ");
        if (cert) putName(&b, X509_get_subject_name(cert));
        break;
    }
}

/* Keeps OpenSSL's verdict; only records the first failure for the message. */
static int verifyCallback(int ok, X509_STORE_CTX *st) {
    if (ok) return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(st, SSL_get_ex_data_X509_STORE_CTX_idx());
    tlsConn *c = ssl ? SSL_get_ex_data(ssl, exIdx) : NULL;
    if (c && c->verify && !c->verify->note[0])
        noteVerifyFailure(c->verify, X509_STORE_CTX_get_error(st), X509_STORE_CTX_get_current_cert(st));
    return 0;
}

/* ---- opening ---- */

static int isIpLiteral(const char *s) {
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* SNI and the name the certificate must match: --sni, else the host. */
static int tlsSetPeer(tlsConn *c, const rsUrl *u, const rsTlsOptions *t) {
    const char *name = t->sni && *t->sni ? t->sni : u->host;
    X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
    int ip = isIpLiteral(name), ok = 1;
    snprintf(c->verify->checked, sizeof(c->verify->checked), "%s", name);
    if (!ip) ok = SSL_set_tlsext_host_name(c->ssl, name) == 1; /* no SNI for addresses (RFC 6066) */
    if (ok && !t->insecure) {
        X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, name) == 1 : X509_VERIFY_PARAM_set1_host(vp, name, 0) == 1;
    }
    if (!ok) {
        setErr(c, "cannot use '%s' as the TLS server name", name);
        ERR_clear_error();
        return -1;
    }
    return 0;
}

static void tlsDescribeTrust(tlsVerify *v, const rsTlsOptions *t) {
    if (t->cacert && t->cacertdir)
        snprintf(v->trust, sizeof(v->trust), "'%s' nor '%s'", t->cacert, t->cacertdir);
    else if (t->cacert || t->cacertdir)
        snprintf(v->trust, sizeof(v->trust), "'%s'", t->cacert ? t->cacert : t->cacertdir);
    else
        snprintf(v->trust, sizeof(v->trust), "the system CA store");
}

static int tlsHandshakeFailed(tlsConn *c, int sslerr) {
    long v = SSL_get_verify_result(c->ssl);
    if (v != X509_V_OK) {
        setErr(c, "cannot verify the TLS certificate of %s: %s (%s)", c->base.addr, X509_verify_cert_error_string(v),
               c->verify->note[0] ? c->verify->note : "no detail");
        c->dead = 1;
        ERR_clear_error();
        return -1;
    }
    tlsFail(c, sslerr, "TLS handshake with %s failed", c->base.addr);
    return -1;
}

/* Non-blocking SSL_connect, waiting with poll() up to timeout_ms in all. */
static int tlsHandshake(tlsConn *c, int timeout_ms) {
    long long deadline = timeout_ms < 0 ? 0 : clockMonoMs() + timeout_ms;
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1) {
            snprintf(c->info, sizeof(c->info), "%s %s", SSL_get_version(c->ssl),
                     SSL_get_cipher_name(c->ssl));
            return 0;
        }
        int e = SSL_get_error(c->ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev) return tlsHandshakeFailed(c, e);
        int left = timeout_ms < 0 ? -1 : (int)(deadline - clockMonoMs());
        int p = timeout_ms >= 0 && left <= 0 ? 0 : netPoll(c->base.fd, ev, left);
        if (p == 0) {
            setErr(c, "TLS handshake with %s timed out after %d ms (does the server speak TLS on this port?)",
                   c->base.addr, timeout_ms);
            return -1;
        }
        if (p < 0) {
            setErr(c, "TLS handshake with %s: poll: %s", c->base.addr, strerror(errno));
            return -1;
        }
    }
}

static int tlsStart(tlsConn *c, const rsUrl *u, const rsTlsOptions *t, int timeout_ms) {
    char why[512];
    pthread_once(&tlsOnce, tlsInitOnce);
    if (!bioMethod || exIdx < 0) {
        setErr(c, "cannot initialize OpenSSL");
        return -1;
    }
    SSL_CTX *ctx = ctxGet(t, why, sizeof(why));
    if (!ctx) {
        setErr(c, "%s", why);
        return -1;
    }
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    BIO *bio = c->ssl ? BIO_new(bioMethod) : NULL;
    if (!bio) {
        setErr(c, "cannot create a TLS session (out of memory)");
        return -1;
    }
    BIO_set_data(bio, c);
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_ex_data(c->ssl, exIdx, c);
    tlsDescribeTrust(c->verify, t);
    if (tlsSetPeer(c, u, t) < 0) return -1;
    return tlsHandshake(c, timeout_ms);
}

static void tlsClose(rsTransport *t) {
    tlsConn *c = (tlsConn *)t;
    if (c->ssl) {
        /* Best effort close_notify; never after a fatal error (OpenSSL rule). */
        if (!c->dead && SSL_is_init_finished(c->ssl)) {
            ERR_clear_error();
            (void)SSL_shutdown(c->ssl);
        }
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    if (c->base.fd >= 0) close(c->base.fd);
    free(c);
}

static const rsTransportType tlsType = {
    .name = "tls",
    .read = tlsRead,
    .write = tlsWrite,
    .pending = tlsPending,
    .info = tlsInfo,
    .close = tlsClose,
};

rsTransport *tlsOpen(const rsUrl *u, const rsTlsOptions *o, int timeout_ms, char *err, size_t errlen) {
    tlsVerify v;
    tlsConn *c = calloc(1, sizeof(*c));
    memset(&v, 0, sizeof(v));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->base.type = &tlsType;
    c->base.want = POLLIN;
    urlFormatAddr(u, c->base.addr, sizeof(c->base.addr));
    if ((c->base.fd = netConnect(u, timeout_ms, err, errlen)) < 0) {
        free(c);
        return NULL;
    }
    /* Checked once connected, so a wrong path still says so first. */
    if (u->is_unix) {
        snprintf(err, errlen, "cannot use TLS on a unix socket (%s)", c->base.addr);
        tlsClose(&c->base);
        return NULL;
    }
    c->verify = &v;
    int rc = tlsStart(c, u, o, timeout_ms);
    c->verify = NULL;
    if (rc < 0) {
        snprintf(err, errlen, "%s", c->base.err);
        tlsClose(&c->base);
        return NULL;
    }
    return &c->base;
}

/* conn.c -- see conn.h. Layers, bottom up:
 *   sockRead/sockWrite   one syscall on the non-blocking fd (the TLS seam)
 *   waitFd               poll() for the I/O timeout
 *   input buffer         the hiredis reader's own buffer doubles as ours: raw
 *                        reads take its unparsed bytes first (see takeBuffered)
 *   replies, commands, handshake, INFO.
 */
#include "src/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <pthread.h>

#include <hiredis/sds.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "rdb/rdb.h"

#define CONN_READ_CHUNK (64 * 1024)

struct rsConn {
    int fd;
    int io_timeout_ms;
    short want;             /* events the last CONN_AGAIN waits for */
    int midreply;           /* the reader holds a half-parsed reply */
    redisReader *reader;    /* reply parser and input buffer */
    SSL *ssl;               /* NULL = plain */
    int tls_eof;            /* the socket BIO saw EOF */
    int tls_dead;           /* a fatal TLS error happened (message in err) */
    int tls_cert_asked;     /* the server wanted a client cert we do not have */
    char tls_checked[256];  /* the name the certificate must match */
    char tls_trust[600];    /* where trusted CAs come from, for messages */
    char tls_note[600];     /* why verification failed (verify callback) */
    char tls_info[96];      /* "TLSv1.3 TLS_AES_256_GCM_SHA384" */
    char name[512];         /* masked URL */
    char addr[300];         /* host:port or socket path */
    char err[1024];
    char chunk[CONN_READ_CHUNK];
};

/* ---- errors ---- */

static void setErr(rsConn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void setErr(rsConn *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
}

static void copyErr(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static int timeoutOf(int ms, int dflt) {
    return ms == 0 ? dflt : (ms < 0 ? -1 : ms);
}

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll() one fd for events, retrying EINTR with the remaining time.
 * 1 = ready (including error/hangup: the next syscall reports it),
 * 0 = timed out, -1 = poll failed (errno). */
static int pollFd(int fd, short events, int timeout_ms) {
    long long deadline = timeout_ms < 0 ? 0 : nowMs() + timeout_ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int left = timeout_ms < 0 ? -1 : (int)(deadline - nowMs());
        if (timeout_ms >= 0 && left < 0) left = 0;
        int n = poll(&p, 1, left);
        if (n > 0) return 1;
        if (n == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

/* ---- TLS ----
 *
 * OpenSSL does the record layer; bytes still go through our fd, via a
 * minimal socket BIO (send with MSG_NOSIGNAL, recv), so the non-blocking
 * and no-SIGPIPE rules of the plain path hold. Partial writes and moving
 * write buffers are enabled, so connWriteSome keeps "bytes written so far"
 * semantics (see conn.h for the retry rule). */

static BIO_METHOD *bioMethod;
static int connExIdx = -1;
static pthread_once_t tlsOnce = PTHREAD_ONCE_INIT;

static int bioWrite(BIO *b, const char *buf, size_t len, size_t *done) {
    rsConn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
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
    rsConn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = recv(c->fd, buf, cap, 0);
        if (n > 0) {
            *done = (size_t)n;
            return 1;
        }
        if (n == 0) {
            c->tls_eof = 1; /* BIO_eof: OpenSSL tells EOF from an error */
            return 0;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
        return 0;
    }
}

static long bioCtrl(BIO *b, int cmd, long num, void *ptr) {
    rsConn *c = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1; /* nothing buffered here */
    case BIO_CTRL_EOF: return c && c->tls_eof;
    default: return 0;
    }
}

static int bioCreate(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static void tlsInitOnce(void) {
    connExIdx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    bioMethod = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rdbsync socket");
    if (!bioMethod) return;
    BIO_meth_set_write_ex(bioMethod, bioWrite);
    BIO_meth_set_read_ex(bioMethod, bioRead);
    BIO_meth_set_ctrl(bioMethod, bioCtrl);
    BIO_meth_set_create(bioMethod, bioCreate);
}

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
static void tlsFail(rsConn *c, int sslerr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void tlsFail(rsConn *c, int sslerr, const char *fmt, ...) {
    char prefix[400], why[256];
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    const char *r = tlsErrText(why, sizeof(why));
    if (!r && sslerr == SSL_ERROR_SYSCALL && saved && !c->tls_eof) r = strerror(saved);
    if (!r) r = c->tls_eof ? "connection closed by the server" : "unknown TLS error";
    const char *hint = tlsHint(ERR_peek_error());
    /* TLS 1.3 servers reject a missing client certificate after our side
     * of the handshake is done: the failure shows on the first I/O. */
    if (!hint && c->tls_cert_asked) hint = "the server asked for a client certificate: give --cert and --key";
    setErr(c, "%s: %s%s%s%s", prefix, r, hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
    c->tls_dead = 1; /* no SSL_shutdown after a fatal error */
    ERR_clear_error();
}

/* Map SSL_get_error to our convention: CONN_AGAIN (with c->want), 0 for a
 * clean close, -1 for errors (message set). */
static ssize_t tlsResult(rsConn *c, int sslerr, const char *dir) {
    switch (sslerr) {
    case SSL_ERROR_WANT_READ: c->want = POLLIN; return CONN_AGAIN;
    case SSL_ERROR_WANT_WRITE: c->want = POLLOUT; return CONN_AGAIN;
    case SSL_ERROR_ZERO_RETURN: ERR_clear_error(); return 0;
    }
    if (sslerr == SSL_ERROR_SYSCALL && c->tls_eof && ERR_peek_error() == 0) return 0;
    tlsFail(c, sslerr, "cannot %s %s", dir, c->addr);
    return -1;
}

/* Read until cap is full or OpenSSL would block: one SSL_read gives one
 * record (16 KiB at most), and several per call keep syscalls per byte
 * close to the plain path. */
static ssize_t tlsRead(rsConn *c, void *buf, size_t cap) {
    size_t total = 0;
    if (c->tls_dead) return -1; /* the message of the failure stays */
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

static ssize_t tlsWrite(rsConn *c, const void *buf, size_t len) {
    size_t total = 0;
    if (c->tls_dead) return -1;
    while (total < len) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_write_ex(c->ssl, (const char *)buf + total, len - total, &n) == 1) {
            total += n;
            continue;
        }
        ssize_t r = tlsResult(c, SSL_get_error(c->ssl, 0), "write to");
        if (r == 0) {
            setErr(c, "connection closed by %s", c->addr);
            r = -1;
        }
        return total > 0 && r == CONN_AGAIN ? (ssize_t)total : r;
    }
    return (ssize_t)total;
}

/* Decrypted bytes OpenSSL holds that poll() cannot see. Without
 * read-ahead (the default, kept) OpenSSL reads one record at a time, so
 * there is never a complete undecrypted record buffered; SSL_has_pending
 * would also count a partial one and make pollers spin. */
static size_t tlsPending(const rsConn *c) {
    return c->ssl ? (size_t)SSL_pending(c->ssl) : 0;
}

/* -- contexts: one per option set, cached -- */

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
    rsConn *c = SSL_get_ex_data(ssl, connExIdx);
    if (c) c->tls_cert_asked = 1;
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

/* -- verification messages -- */

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
static void noteVerifyFailure(rsConn *c, int code, X509 *cert) {
    sbuf b = {c->tls_note, sizeof(c->tls_note), 0};
    switch (code) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        sput(&b, "it is for ");
        if (cert) putCertNames(&b, cert);
        sput(&b, ", not %s; give the name it was issued for with --sni, or use --insecure", c->tls_checked);
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
        sput(&b, ", not trusted by %s; give the CA that signed it with --cacert, or use --insecure", c->tls_trust);
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
    rsConn *c = ssl ? SSL_get_ex_data(ssl, connExIdx) : NULL;
    if (c && !c->tls_note[0])
        noteVerifyFailure(c, X509_STORE_CTX_get_error(st), X509_STORE_CTX_get_current_cert(st));
    return 0;
}

/* -- connecting -- */

static int isIpLiteral(const char *s) {
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* SNI and the name the certificate must match: --sni, else the host. */
static int tlsSetPeer(rsConn *c, const rsUrl *u, const rsTlsOptions *t) {
    const char *name = t->sni && *t->sni ? t->sni : u->host;
    X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
    int ip = isIpLiteral(name), ok = 1;
    snprintf(c->tls_checked, sizeof(c->tls_checked), "%s", name);
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

static void tlsDescribeTrust(rsConn *c, const rsTlsOptions *t) {
    if (t->cacert && t->cacertdir)
        snprintf(c->tls_trust, sizeof(c->tls_trust), "'%s' nor '%s'", t->cacert, t->cacertdir);
    else if (t->cacert || t->cacertdir)
        snprintf(c->tls_trust, sizeof(c->tls_trust), "'%s'", t->cacert ? t->cacert : t->cacertdir);
    else
        snprintf(c->tls_trust, sizeof(c->tls_trust), "the system CA store");
}

static int tlsHandshakeFailed(rsConn *c, int sslerr) {
    long v = SSL_get_verify_result(c->ssl);
    if (v != X509_V_OK) {
        setErr(c, "cannot verify the TLS certificate of %s: %s (%s)", c->addr, X509_verify_cert_error_string(v),
               c->tls_note[0] ? c->tls_note : "no detail");
        c->tls_dead = 1;
        ERR_clear_error();
        return -1;
    }
    tlsFail(c, sslerr, "TLS handshake with %s failed", c->addr);
    return -1;
}

/* Non-blocking SSL_connect, waiting with poll() up to timeout_ms in all. */
static int tlsHandshake(rsConn *c, int timeout_ms) {
    long long deadline = timeout_ms < 0 ? 0 : nowMs() + timeout_ms;
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1) {
            snprintf(c->tls_info, sizeof(c->tls_info), "%s %s", SSL_get_version(c->ssl),
                     SSL_get_cipher_name(c->ssl));
            return 0;
        }
        int e = SSL_get_error(c->ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!ev) return tlsHandshakeFailed(c, e);
        int left = timeout_ms < 0 ? -1 : (int)(deadline - nowMs());
        int p = timeout_ms >= 0 && left <= 0 ? 0 : pollFd(c->fd, ev, left);
        if (p == 0) {
            setErr(c, "TLS handshake with %s timed out after %d ms (does the server speak TLS on this port?)",
                   c->addr, timeout_ms);
            return -1;
        }
        if (p < 0) {
            setErr(c, "TLS handshake with %s: poll: %s", c->addr, strerror(errno));
            return -1;
        }
    }
}

static int tlsStart(rsConn *c, const rsUrl *u, const rsTlsOptions *t, int timeout_ms) {
    char why[512];
    pthread_once(&tlsOnce, tlsInitOnce);
    if (!bioMethod || connExIdx < 0) {
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
    SSL_set_ex_data(c->ssl, connExIdx, c);
    tlsDescribeTrust(c, t);
    if (tlsSetPeer(c, u, t) < 0) return -1;
    return tlsHandshake(c, timeout_ms);
}

static void tlsClose(rsConn *c) {
    if (!c->ssl) return;
    /* Best effort close_notify; never after a fatal error (OpenSSL rule). */
    if (!c->tls_dead && SSL_is_init_finished(c->ssl)) {
        ERR_clear_error();
        (void)SSL_shutdown(c->ssl);
    }
    SSL_free(c->ssl);
    ERR_clear_error();
    c->ssl = NULL;
}

const char *connTlsInfo(const rsConn *c) {
    return c->tls_info;
}

/* ---- one syscall (or one TLS record loop) ---- */

static ssize_t sockRead(rsConn *c, void *buf, size_t cap) {
    if (c->ssl) return tlsRead(c, buf, cap);
    for (;;) {
        ssize_t n = read(c->fd, buf, cap);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->want = POLLIN;
            return CONN_AGAIN;
        }
        setErr(c, "cannot read from %s: %s", c->addr, strerror(errno));
        return -1;
    }
}

static ssize_t sockWrite(rsConn *c, const void *buf, size_t len) {
    if (c->ssl) return tlsWrite(c, buf, len);
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->want = POLLOUT;
            return CONN_AGAIN;
        }
        setErr(c, "cannot write to %s: %s", c->addr, strerror(errno));
        return -1;
    }
}

/* Wait for connEvents(c) within the I/O timeout. 0 ready, -1 error set. */
static int waitFd(rsConn *c) {
    int r = pollFd(c->fd, c->want, c->io_timeout_ms);
    if (r > 0) return 0;
    const char *dir = c->want == POLLOUT ? "write to" : "read from";
    if (r == 0)
        setErr(c, "cannot %s %s: timed out after %d ms", dir, c->addr, c->io_timeout_ms);
    else
        setErr(c, "cannot %s %s: poll: %s", dir, c->addr, strerror(errno));
    return -1;
}

/* ---- input buffer (the reader's) ---- */

size_t connPending(const rsConn *c) {
    return c->reader->len - c->reader->pos + tlsPending(c);
}

/* Bytes in the reader's buffer only. */
static size_t buffered(const rsConn *c) {
    return c->reader->len - c->reader->pos;
}

/* Raw reads must not steal bytes from a half-parsed reply. */
static int checkNotMidReply(rsConn *c) {
    if (!c->midreply) return 0;
    setErr(c, "internal error: raw read on %s while a reply is half-parsed", c->addr);
    return -1;
}

/* Drop n unparsed bytes from the reader's buffer (n <= connPending). */
static void consume(rsConn *c, size_t n) {
    redisReader *r = c->reader;
    r->pos += n;
    if (r->pos == r->len) { /* drained: reset so the buffer does not grow */
        sdsclear(r->buf);
        r->pos = r->len = 0;
    }
}

/* Take up to cap unparsed bytes out of the reader's buffer. */
static size_t takeBuffered(rsConn *c, void *buf, size_t cap) {
    size_t n = buffered(c);
    if (n > cap) n = cap;
    memcpy(buf, c->reader->buf + c->reader->pos, n);
    consume(c, n);
    return n;
}

/* Append freshly read bytes to the reader's buffer. */
static int feed(rsConn *c, const char *buf, size_t n) {
    if (redisReaderFeed(c->reader, buf, n) == REDIS_OK) return 0;
    setErr(c, "protocol error from %s: %s", c->addr, c->reader->errstr);
    return -1;
}

/* One read() into the reader's buffer: >0, 0 = EOF (error set), CONN_AGAIN, -1. */
static ssize_t fill(rsConn *c) {
    ssize_t n = sockRead(c, c->chunk, sizeof(c->chunk));
    if (n == 0) setErr(c, "connection closed by %s", c->addr);
    if (n > 0 && feed(c, c->chunk, (size_t)n) < 0) return -1;
    return n;
}

/* ---- non-blocking byte I/O ---- */

ssize_t connWriteSome(rsConn *c, const void *buf, size_t len) {
    if (len == 0) return 0;
    return sockWrite(c, buf, len);
}

ssize_t connReadNonBlock(rsConn *c, void *buf, size_t cap) {
    if (checkNotMidReply(c) < 0) return -1;
    if (cap == 0) return 0;
    if (buffered(c) > 0) return (ssize_t)takeBuffered(c, buf, cap);
    return sockRead(c, buf, cap);
}

/* ---- blocking byte I/O ---- */

int connWrite(rsConn *c, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = sockWrite(c, p, len);
        if (n == CONN_AGAIN) {
            if (waitFd(c) < 0) return -1;
            continue;
        }
        if (n < 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t connRead(rsConn *c, void *buf, size_t cap) {
    for (;;) {
        ssize_t n = connReadNonBlock(c, buf, cap);
        if (n != CONN_AGAIN) return n;
        if (waitFd(c) < 0) return -1;
    }
}

ssize_t connReadLine(rsConn *c, char *buf, size_t cap) {
    if (checkNotMidReply(c) < 0) return -1;
    for (;;) {
        redisReader *r = c->reader;
        size_t avail = buffered(c);
        const char *nl = memchr(r->buf + r->pos, '\n', avail);
        if (nl) {
            size_t len = (size_t)(nl - (r->buf + r->pos));
            size_t keep = len > 0 && nl[-1] == '\r' ? len - 1 : len;
            if (keep >= cap) break;
            memcpy(buf, r->buf + r->pos, keep);
            buf[keep] = '\0';
            consume(c, len + 1); /* the line and its '\n' */
            return (ssize_t)keep;
        }
        if (avail >= cap + 1) break;
        ssize_t n = fill(c);
        if (n == CONN_AGAIN) {
            if (waitFd(c) < 0) return -1;
            continue;
        }
        if (n <= 0) return -1;
    }
    setErr(c, "protocol error from %s: line longer than %zu bytes", c->addr, cap - 1);
    return -1;
}

ssize_t connReadFn(void *conn, void *buf, size_t cap, char *err, size_t errlen) {
    rsConn *c = conn;
    ssize_t n = connRead(c, buf, cap);
    if (n < 0) copyErr(err, errlen, c->err);
    return n;
}

/* ---- replies ---- */

/* Parse one reply out of buffered bytes: 1 got it, 0 need more, -1 error. */
static int parseReply(rsConn *c, redisReply **out) {
    void *rep = NULL;
    *out = NULL;
    if (buffered(c) == 0) return 0;
    if (redisReaderGetReply(c->reader, &rep) != REDIS_OK) {
        setErr(c, "protocol error from %s: %s", c->addr, c->reader->errstr);
        return -1;
    }
    c->midreply = rep == NULL;
    *out = rep;
    return rep != NULL;
}

int connPollReply(rsConn *c, redisReply **out) {
    int r = parseReply(c, out);
    if (r != 0) return r;
    /* Plain: one read(). TLS: also drain what OpenSSL holds, so that 0
     * always means "poll() the fd" (see conn.h). */
    do {
        ssize_t n = fill(c);
        if (n == CONN_AGAIN) return 0;
        if (n <= 0) return -1;
        if ((r = parseReply(c, out)) != 0) return r;
    } while (tlsPending(c));
    return 0;
}

redisReply *connGetReply(rsConn *c) {
    redisReply *rep;
    for (;;) {
        int r = connPollReply(c, &rep);
        if (r > 0) return rep;
        if (r < 0) return NULL;
        if (waitFd(c) < 0) return NULL;
    }
}

static redisReply *sendFormatted(rsConn *c, char *cmd, int len) {
    if (len < 0 || !cmd) {
        setErr(c, "cannot format command (out of memory or bad format)");
        return NULL;
    }
    int rc = connWrite(c, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc < 0 ? NULL : connGetReply(c);
}

redisReply *connCommand(rsConn *c, int argc, const char **argv, const size_t *lens) {
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    return sendFormatted(c, cmd, len);
}

redisReply *connCommandf(rsConn *c, const char *fmt, ...) {
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    return sendFormatted(c, cmd, len);
}

/* ---- accessors ---- */

int connFd(const rsConn *c) { return c->fd; }
short connEvents(const rsConn *c) { return c->want; }
const char *connError(const rsConn *c) { return c->err; }
const char *connName(const rsConn *c) { return c->name; }
const char *connAddr(const rsConn *c) { return c->addr; }

void connSetTimeout(rsConn *c, int io_timeout_ms) {
    c->io_timeout_ms = timeoutOf(io_timeout_ms, CONN_DEFAULT_IO_TIMEOUT_MS);
}

void connClose(rsConn *c) {
    if (!c) return;
    tlsClose(c);
    if (c->fd >= 0) close(c->fd);
    if (c->reader) redisReaderFree(c->reader);
    free(c);
}

/* ---- connecting ---- */

static void tuneTcp(int fd) {
    int on = 1, idle = 60, intvl = 15, cnt = 4;
    /* Best effort: a failure here does not make the link unusable. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Non-blocking connect of one address. fd >= 0, or -1 with why filled. */
static int connectOne(int family, const struct sockaddr *sa, socklen_t salen, int timeout_ms, char *why,
                      size_t whylen) {
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whylen, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(fd, sa, salen);
    if (rc < 0 && (errno == EINPROGRESS || errno == EAGAIN || errno == EINTR)) {
        int r = pollFd(fd, POLLOUT, timeout_ms);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (r == 0) {
            snprintf(why, whylen, "timed out after %d ms", timeout_ms);
            close(fd);
            return -1;
        }
        if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) soerr = errno;
        errno = soerr;
        rc = soerr ? -1 : 0;
    }
    if (rc < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int connectTcp(rsConn *c, const rsUrl *u, int timeout_ms) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
    char port[16], why[256] = "no usable address";
    snprintf(port, sizeof(port), "%d", u->port);
    int g = getaddrinfo(u->host, port, &hints, &res);
    if (g != 0) {
        setErr(c, "cannot resolve host '%s': %s", u->host, g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        c->fd = connectOne(ai->ai_family, ai->ai_addr, ai->ai_addrlen, timeout_ms, why, sizeof(why));
        if (c->fd >= 0) break;
    }
    freeaddrinfo(res);
    if (c->fd < 0) {
        setErr(c, "cannot connect to %s: %s", c->addr, why);
        return -1;
    }
    tuneTcp(c->fd);
    return 0;
}

static int connectUnix(rsConn *c, const rsUrl *u, int timeout_ms) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char why[256];
    if (strlen(u->path) >= sizeof(sa.sun_path)) {
        setErr(c, "cannot connect to %s: socket path too long", c->addr);
        return -1;
    }
    memcpy(sa.sun_path, u->path, strlen(u->path) + 1);
    c->fd = connectOne(AF_UNIX, (struct sockaddr *)&sa, sizeof(sa), timeout_ms, why, sizeof(why));
    if (c->fd < 0) {
        setErr(c, "cannot connect to %s: %s", c->addr, why);
        return -1;
    }
    return 0;
}

/* ---- handshake: [AUTH] [SELECT] [CLIENT SETNAME] [PING], one write ---- */

enum { STEP_AUTH, STEP_SELECT, STEP_NAME, STEP_PING };

/* Append one formatted command to an sds and remember which step it is. */
static int addStep(sds *out, int *steps, int *n, int step, int argc, const char **argv) {
    sds s = NULL;
    if (redisFormatSdsCommandArgv(&s, argc, argv, NULL) < 0) return -1;
    sds joined = sdscatsds(*out, s);
    explicit_bzero(s, sdslen(s)); /* may hold the password */
    sdsfree(s);
    if (!joined) return -1;
    *out = joined;
    steps[(*n)++] = step;
    return 0;
}

static int buildHandshake(const rsUrl *u, const rsConnOptions *o, sds *out, int *steps, int *n) {
    char db[16];
    snprintf(db, sizeof(db), "%d", u->db);
    int rc = 0;
    if (u->password && u->user)
        rc |= addStep(out, steps, n, STEP_AUTH, 3, (const char *[]){"AUTH", u->user, u->password});
    else if (u->password)
        rc |= addStep(out, steps, n, STEP_AUTH, 2, (const char *[]){"AUTH", u->password});
    if (u->db >= 0) rc |= addStep(out, steps, n, STEP_SELECT, 2, (const char *[]){"SELECT", db});
    if (o->client_name)
        rc |= addStep(out, steps, n, STEP_NAME, 3, (const char *[]){"CLIENT", "SETNAME", o->client_name});
    if (!o->skip_ping) rc |= addStep(out, steps, n, STEP_PING, 1, (const char *[]){"PING"});
    return rc ? -1 : 0;
}

/* Map an error reply of a handshake step to the message. 0 = ignore it. */
static int stepFailed(rsConn *c, int step, const rsUrl *u, const redisReply *r) {
    int noauth = strncmp(r->str, "NOAUTH", 6) == 0;
    switch (step) {
    case STEP_AUTH:
        setErr(c, "authentication failed for %s: %s", c->name, r->str);
        return 1;
    case STEP_SELECT:
        if (noauth) break;
        setErr(c, "cannot select db %d on %s: %s", u->db, c->name, r->str);
        return 1;
    case STEP_NAME:
        return 0; /* CLIENT may be renamed/denied: the name is cosmetic */
    case STEP_PING:
        if (noauth) break;
        return 0; /* e.g. LOADING: later commands will tell */
    }
    setErr(c, "authentication required for %s: %s", c->name, r->str);
    return 1;
}

static int handshake(rsConn *c, const rsUrl *u, const rsConnOptions *o) {
    int steps[4], n = 0, failed = 0;
    sds out = sdsempty();
    if (!out || buildHandshake(u, o, &out, steps, &n) < 0) {
        if (out) explicit_bzero(out, sdslen(out));
        sdsfree(out);
        setErr(c, "out of memory");
        return -1;
    }
    int rc = n ? connWrite(c, out, sdslen(out)) : 0;
    explicit_bzero(out, sdslen(out)); /* it held the password */
    sdsfree(out);
    /* Read every reply even after a failure, so the first error is kept. */
    for (int i = 0; rc == 0 && i < n; i++) {
        redisReply *r = connGetReply(c);
        int dropped = strncmp(c->err, "connection closed", 17) == 0 || strstr(c->err, "reset by peer");
        if (!r && i == 0 && !c->ssl && dropped) {
            size_t l = strlen(c->err); /* a TLS-only port drops plain clients */
            snprintf(c->err + l, sizeof(c->err) - l, " (if it expects TLS, use rediss:// or --tls)");
        }
        if (!r) return -1;
        if (r->type == REDIS_REPLY_ERROR && !failed) failed = stepFailed(c, steps[i], u, r);
        freeReplyObject(r);
    }
    return rc < 0 || failed ? -1 : 0;
}

rsConn *connOpen(const rsUrl *u, const rsConnOptions *o, char *err, size_t errlen) {
    static const rsConnOptions defaults;
    rsConn *c = calloc(1, sizeof(*c));
    if (!o) o = &defaults;
    if (!c || !(c->reader = redisReaderCreate())) {
        connClose(c);
        copyErr(err, errlen, "out of memory");
        return NULL;
    }
    c->fd = -1;
    c->want = POLLIN;
    c->io_timeout_ms = timeoutOf(o->io_timeout_ms, CONN_DEFAULT_IO_TIMEOUT_MS);
    urlFormatMasked(u, c->name, sizeof(c->name));
    urlFormatAddr(u, c->addr, sizeof(c->addr));
    int cto = timeoutOf(o->connect_timeout_ms, CONN_DEFAULT_CONNECT_TIMEOUT_MS);
    int tls = u->tls || o->tls.enabled;
    int rc = u->is_unix ? connectUnix(c, u, cto) : connectTcp(c, u, cto);
    if (rc == 0 && tls && u->is_unix) {
        setErr(c, "cannot use TLS on a unix socket (%s)", c->addr);
        rc = -1;
    }
    if (rc == 0 && tls) rc = tlsStart(c, u, &o->tls, cto);
    if (rc == 0) {
        /* A server that accepts but never answers (stuck, or a proxy with
         * no backend) is a failure to connect: the handshake gets the
         * connect timeout, not the I/O timeout. */
        int io = c->io_timeout_ms;
        if (cto < io) c->io_timeout_ms = cto;
        rc = handshake(c, u, o);
        c->io_timeout_ms = io;
    }
    if (rc < 0) {
        copyErr(err, errlen, c->err);
        connClose(c);
        return NULL;
    }
    return c;
}

/* ---- server facts ---- */

char *connInfo(rsConn *c, const char *section) {
    redisReply *r = section ? connCommandf(c, "INFO %s", section) : connCommandf(c, "INFO");
    char *s = NULL;
    if (!r) return NULL;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        if (!(s = strdup(r->str))) setErr(c, "out of memory");
    } else if (r->type == REDIS_REPLY_ERROR) {
        setErr(c, "INFO refused by %s: %s", c->name, r->str);
    } else {
        setErr(c, "protocol error from %s: unexpected reply type %d to INFO", c->addr, r->type);
    }
    freeReplyObject(r);
    return s;
}

/* Copy the value of "key:value" in INFO text into dst. 1 found, 0 not. */
static int infoField(const char *info, const char *key, char *dst, size_t cap) {
    size_t kl = strlen(key);
    for (const char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) != 0 || p[kl] != ':') continue;
        const char *v = p + kl + 1;
        size_t vl = strcspn(v, "\r\n");
        if (vl >= cap) vl = cap - 1;
        memcpy(dst, v, vl);
        dst[vl] = '\0';
        return 1;
    }
    return 0;
}

int connServerAtLeast(const rsServerInfo *i, int major, int minor) {
    if (i->is_valkey) return major < 7 || (major == 7 && minor <= 2);
    return i->major > major || (i->major == major && i->minor >= minor);
}

int connParseInfo(const char *info, rsServerInfo *out) {
    memset(out, 0, sizeof(*out));
    out->proto_max_bulk_len = CONN_DEFAULT_PROTO_MAX_BULK_LEN;
    if (!infoField(info, "redis_version", out->redis_version, sizeof(out->redis_version))) return -1;
    infoField(info, "valkey_version", out->valkey_version, sizeof(out->valkey_version));
    infoField(info, "server_name", out->server_name, sizeof(out->server_name));
    infoField(info, "redis_mode", out->redis_mode, sizeof(out->redis_mode));
    out->is_valkey = out->valkey_version[0] || strcasecmp(out->server_name, "valkey") == 0;
    const char *ver = out->valkey_version[0] ? out->valkey_version : out->redis_version;
    if (sscanf(ver, "%d.%d.%d", &out->major, &out->minor, &out->patch) < 2) return -1;
    out->rdb_version = rdbVersionForRelease(out->is_valkey ? RDB_FLAVOUR_VALKEY : RDB_FLAVOUR_REDIS, out->major, out->minor);
    return 0;
}

/* CONFIG GET proto-max-bulk-len; refusals keep the default. */
static int readBulkLimit(rsConn *c, rsServerInfo *out) {
    redisReply *r = connCommandf(c, "CONFIG GET proto-max-bulk-len");
    if (!r) return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING) {
        char *end;
        long long v = strtoll(r->element[1]->str, &end, 10);
        if (end != r->element[1]->str && *end == '\0' && v > 0) {
            out->proto_max_bulk_len = v;
            out->proto_max_bulk_len_known = 1;
        }
    }
    freeReplyObject(r);
    return 0;
}

int connServerInfo(rsConn *c, rsServerInfo *out) {
    char *info = connInfo(c, "server");
    if (!info) return -1;
    int rc = connParseInfo(info, out);
    free(info);
    if (rc < 0) {
        setErr(c, "cannot parse INFO server from %s (no redis_version)", c->name);
        return -1;
    }
    return readBulkLimit(c, out);
}

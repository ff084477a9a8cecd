/* url.c -- see url.h. Parsing is split by URL part; every error message is
 * built from the part that failed, and never from the userinfo. */
#include "src/url.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Quote at most 40 bytes of user input in an error, so a pasted blob (which
 * might be a secret put in the wrong place) is not echoed whole. */
#define QUOTE_MAX 40
#define QFMT "'%.*s%s'"
#define QARG(p, n) (int)((n) > QUOTE_MAX ? QUOTE_MAX : (n)), (p), ((n) > QUOTE_MAX ? "..." : "")

static void wipe(char *s) {
    if (s) explicit_bzero(s, strlen(s));
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into a fresh string. 'what' names the part for the
 * error message; the content itself is never quoted. */
static int decode(const char *s, size_t n, const char *what, char **out, char *err, size_t errlen) {
    char *d = malloc(n + 1);
    size_t j = 0;
    if (!d) return fail(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            d[j++] = s[i];
            continue;
        }
        if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
            explicit_bzero(d, n + 1);
            free(d);
            return fail(err, errlen, "bad percent-encoding in URL %s", what);
        }
        int c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
        if (c == 0) {
            explicit_bzero(d, n + 1);
            free(d);
            return fail(err, errlen, "NUL byte (%%00) in URL %s", what);
        }
        d[j++] = (char)c;
        i += 2;
    }
    d[j] = '\0';
    *out = d;
    return 0;
}

void urlFree(rsUrl *u) {
    if (!u) return;
    wipe(u->password);
    free(u->password);
    free(u->user);
    free(u->host);
    free(u->path);
    memset(u, 0, sizeof(*u));
    u->db = -1;
}

/* Decimal in [lo, hi], the whole string, no sign, no spaces. */
static int parseNum(const char *s, size_t n, long lo, long hi, long *out) {
    long v = 0;
    if (n == 0 || n > 10) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parseDb(const char *s, size_t n, rsUrl *u, char *err, size_t errlen) {
    long v;
    if (parseNum(s, n, 0, 2147483647L, &v) < 0)
        return fail(err, errlen, "bad db " QFMT " in URL", QARG(s, n));
    u->db = (int)v;
    return 0;
}

/* "k=v&k=v": only db is known. Unknown keys are named, values never. */
static int parseQuery(const char *q, size_t n, rsUrl *u, char *err, size_t errlen) {
    const char *end = q + n;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(pe - q));
        size_t klen = (size_t)((eq ? eq : pe) - q);
        if (klen == 2 && strncasecmp(q, "db", 2) == 0 && eq) {
            if (parseDb(eq + 1, (size_t)(pe - eq - 1), u, err, errlen) < 0) return -1;
        } else if (klen > 0) {
            return fail(err, errlen, "unknown URL parameter " QFMT, QARG(q, klen));
        }
        q = amp ? amp + 1 : end;
    }
    return 0;
}

/* host[:port] or [v6][:port] */
static int parseAuthority(const char *a, size_t n, rsUrl *u, char *err, size_t errlen) {
    const char *h = a, *port = NULL;
    size_t hlen, plen = 0;
    if (n > 0 && a[0] == '[') {
        const char *rb = memchr(a, ']', n);
        if (!rb) return fail(err, errlen, "bad IPv6 address in URL (missing ']')");
        h = a + 1;
        hlen = (size_t)(rb - h);
        const char *after = rb + 1;
        size_t rest = n - (size_t)(after - a);
        if (rest > 0) {
            if (after[0] != ':')
                return fail(err, errlen, "unexpected characters after ']' in URL");
            port = after + 1;
            plen = rest - 1;
        }
    } else {
        const char *c1 = memchr(a, ':', n);
        if (c1 && memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - a)))
            return fail(err, errlen, "IPv6 address in URL must be in brackets, as in redis://[::1]:6379");
        hlen = c1 ? (size_t)(c1 - a) : n;
        if (c1) {
            port = c1 + 1;
            plen = n - hlen - 1;
        }
    }
    if (hlen == 0) return fail(err, errlen, "missing host in URL");
    if (decode(h, hlen, "host", &u->host, err, errlen) < 0) return -1;
    u->port = URL_DEFAULT_PORT;
    if (port) {
        long v;
        if (parseNum(port, plen, 1, 65535, &v) < 0)
            return fail(err, errlen, "bad port " QFMT " in URL", QARG(port, plen));
        u->port = (int)v;
    }
    return 0;
}

/* "[user:]password" (redis-cli semantics, see url.h). Empty parts = absent. */
static int parseUserinfo(const char *s, size_t n, rsUrl *u, char *err, size_t errlen) {
    const char *colon = memchr(s, ':', n);
    const char *pw = s;
    size_t pwlen = n;
    if (colon) {
        size_t ulen = (size_t)(colon - s);
        if (ulen > 0 && decode(s, ulen, "user name", &u->user, err, errlen) < 0) return -1;
        pw = colon + 1;
        pwlen = n - ulen - 1;
    }
    if (pwlen > 0) {
        if (decode(pw, pwlen, "password", &u->password, err, errlen) < 0) return -1;
        u->auth_from = URL_AUTH_URL;
    }
    return 0;
}

/* Everything after "redis://". */
static int parseTcp(const char *r, rsUrl *u, char *err, size_t errlen) {
    const char *at = strrchr(r, '@');
    const char *hp = r;
    if (at) {
        if (parseUserinfo(r, (size_t)(at - r), u, err, errlen) < 0) return -1;
        hp = at + 1;
    }
    size_t alen = strcspn(hp, "/?#");
    if (parseAuthority(hp, alen, u, err, errlen) < 0) return -1;
    const char *p = hp + alen;
    if (*p == '#') return fail(err, errlen, "unexpected '#' in URL");
    if (*p == '/') {
        size_t dlen = strcspn(p + 1, "?#");
        if (dlen > 0 && parseDb(p + 1, dlen, u, err, errlen) < 0) return -1;
        p += 1 + dlen;
    }
    if (*p == '#') return fail(err, errlen, "unexpected '#' in URL");
    if (*p == '?') {
        if (strchr(p, '#')) return fail(err, errlen, "unexpected '#' in URL");
        return parseQuery(p + 1, strlen(p + 1), u, err, errlen);
    }
    return 0;
}

/* Everything after "unix:" (with or without "//"). */
static int parseUnix(const char *r, rsUrl *u, char *err, size_t errlen) {
    size_t plen = strcspn(r, "?");
    if (plen == 0 || r[0] != '/')
        return fail(err, errlen, "missing socket path in unix:// URL (use unix:///path/to/redis.sock)");
    if (decode(r, plen, "socket path", &u->path, err, errlen) < 0) return -1;
    u->is_unix = 1;
    u->port = 0;
    if (r[plen] == '?') return parseQuery(r + plen + 1, strlen(r + plen + 1), u, err, errlen);
    return 0;
}

static int isSchemeChar(int c) {
    return isalnum(c) || c == '+' || c == '-' || c == '.';
}

/* Length of a well-formed "scheme" before "://", or 0 if there is none. */
static size_t schemeLen(const char *s) {
    const char *sep = strstr(s, "://");
    if (!sep || sep == s) return 0;
    for (const char *p = s; p < sep; p++)
        if (!isSchemeChar((unsigned char)*p)) return 0;
    return (size_t)(sep - s);
}

int urlParse(const char *s, rsUrl *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    out->db = -1;
    if (!s || !*s) return fail(err, errlen, "empty URL");
    size_t sl = schemeLen(s);
    int rc;
    if (sl == 5 && strncasecmp(s, "redis", 5) == 0) {
        rc = parseTcp(s + 8, out, err, errlen);
    } else if (sl == 6 && strncasecmp(s, "rediss", 6) == 0) {
        out->tls = 1;
        rc = parseTcp(s + 9, out, err, errlen);
    } else if (sl == 4 && strncasecmp(s, "unix", 4) == 0) {
        rc = parseUnix(s + 7, out, err, errlen);
    } else if (sl > 0) {
        return fail(err, errlen, "unsupported URL scheme " QFMT " (expected redis://, rediss:// or unix://)",
                    QARG(s, sl));
    } else if (strncasecmp(s, "unix:", 5) == 0) {
        rc = parseUnix(s + 5, out, err, errlen);
    } else {
        rc = parseTcp(s, out, err, errlen);
    }
    if (rc < 0) urlFree(out);
    return rc;
}

static int setStr(char **dst, const char *v, int secret) {
    char *n = NULL;
    if (v && !(n = strdup(v))) return -1;
    if (secret) wipe(*dst);
    free(*dst);
    *dst = n;
    return 0;
}

int urlSetUser(rsUrl *u, const char *user) {
    return setStr(&u->user, user && *user ? user : NULL, 0);
}

int urlSetPassword(rsUrl *u, const char *password) {
    if (setStr(&u->password, password, 1) < 0) return -1;
    u->auth_from = password ? URL_AUTH_FLAG : URL_AUTH_NONE;
    u->auth_env = NULL;
    return 0;
}

int urlApplyEnvAuth(rsUrl *u, const char *envname) {
    const char *v = envname ? getenv(envname) : NULL;
    if (u->password || !v || !*v) return 0;
    if (!(u->password = strdup(v))) return -1;
    u->auth_from = URL_AUTH_ENV;
    u->auth_env = envname;
    return 1;
}

int urlCopy(rsUrl *dst, const rsUrl *src, char *err, size_t errlen) {
    *dst = *src;
    dst->host = dst->path = dst->user = dst->password = NULL;
    if ((src->host && !(dst->host = strdup(src->host))) || (src->path && !(dst->path = strdup(src->path))) ||
        (src->user && !(dst->user = strdup(src->user))) ||
        (src->password && !(dst->password = strdup(src->password)))) {
        urlFree(dst);
        return fail(err, errlen, "out of memory");
    }
    return 0;
}

/* Bounded appender: keeps buf NUL-terminated, silently truncates. */
typedef struct {
    char *buf;
    size_t len, used;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(sbuf *b, const char *fmt, ...) {
    if (b->used + 1 >= b->len) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->used, b->len - b->used, fmt, ap);
    va_end(ap);
    if (n > 0) b->used += (size_t)n < b->len - b->used ? (size_t)n : b->len - b->used - 1;
}

/* Percent-encode everything but RFC 3986 unreserved and sub-delims,
 * so ':' '@' '/' '%' in a user or host print unambiguously. */
static void putEncoded(sbuf *b, const char *s, const char *keep) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~!$&'()*+,;=", c) || (c && strchr(keep, c)))
            put(b, "%c", c);
        else
            put(b, "%%%02X", c);
    }
}

static void putHostPort(sbuf *b, const rsUrl *u) {
    int v6 = u->host && strchr(u->host, ':');
    put(b, "%s", v6 ? "[" : "");
    putEncoded(b, u->host ? u->host : "", v6 ? ":" : "");
    put(b, "%s:%d", v6 ? "]" : "", u->port);
}

char *urlFormatMasked(const rsUrl *u, char *buf, size_t len) {
    sbuf b = {buf, len, 0};
    if (len) buf[0] = '\0';
    if (u->is_unix) {
        put(&b, "unix://%s", u->path ? u->path : "");
        if (u->db >= 0) put(&b, "?db=%d", u->db);
        return buf;
    }
    put(&b, "%s://", u->tls ? "rediss" : "redis");
    if (u->user) putEncoded(&b, u->user, "");
    if (u->password) put(&b, ":***");
    if (u->user || u->password) put(&b, "@");
    putHostPort(&b, u);
    if (u->db >= 0) put(&b, "/%d", u->db);
    return buf;
}

char *urlFormatAddr(const rsUrl *u, char *buf, size_t len) {
    sbuf b = {buf, len, 0};
    if (len) buf[0] = '\0';
    if (u->is_unix)
        put(&b, "%s", u->path ? u->path : "");
    else
        putHostPort(&b, u);
    return buf;
}

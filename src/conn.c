/* conn.c -- see conn.h. Layers, bottom up:
 *   transport            the byte stream (net.c or tls.c, chosen once in
 *                        connOpen); xRead/xWrite keep its errors as ours
 *   waitFd               poll() for the I/O timeout
 *   input buffer         the hiredis reader's own buffer doubles as ours: raw
 *                        reads take its unparsed bytes first (see takeBuffered)
 *   replies, commands, handshake, INFO.
 */
#include "src/conn.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/sds.h>

#include "rdb/rdb.h"
#include "src/net.h"
#include "src/transport.h"

#define CONN_READ_CHUNK (64 * 1024)

_Static_assert(CONN_AGAIN == TRANSPORT_AGAIN, "conn.h promises the transport's would-block value");

struct rsConn {
    rsTransport *t;         /* plain or TLS; NULL only while opening */
    int io_timeout_ms;
    int midreply;           /* the reader holds a half-parsed reply */
    redisReader *reader;    /* reply parser and input buffer */
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

/* ---- the transport: one call, its error kept as ours ---- */

static ssize_t xRead(rsConn *c, void *buf, size_t cap) {
    ssize_t n = transportRead(c->t, buf, cap);
    if (n == -1) setErr(c, "%s", transportError(c->t));
    return n;
}

static ssize_t xWrite(rsConn *c, const void *buf, size_t len) {
    ssize_t n = transportWrite(c->t, buf, len);
    if (n == -1) setErr(c, "%s", transportError(c->t));
    return n;
}

/* Wait for connEvents(c) within the I/O timeout. 0 ready, -1 error set. */
static int waitFd(rsConn *c) {
    short want = transportEvents(c->t);
    int r = netPoll(transportFd(c->t), want, c->io_timeout_ms);
    if (r > 0) return 0;
    const char *dir = want == POLLOUT ? "write to" : "read from";
    if (r == 0)
        setErr(c, "cannot %s %s: timed out after %d ms", dir, c->addr, c->io_timeout_ms);
    else
        setErr(c, "cannot %s %s: poll: %s", dir, c->addr, strerror(errno));
    return -1;
}

/* ---- input buffer (the reader's) ---- */

size_t connPending(const rsConn *c) {
    return c->reader->len - c->reader->pos + transportPending(c->t);
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
    ssize_t n = xRead(c, c->chunk, sizeof(c->chunk));
    if (n == 0) setErr(c, "connection closed by %s", c->addr);
    if (n > 0 && feed(c, c->chunk, (size_t)n) < 0) return -1;
    return n;
}

/* ---- non-blocking byte I/O ---- */

ssize_t connWriteSome(rsConn *c, const void *buf, size_t len) {
    if (len == 0) return 0;
    return xWrite(c, buf, len);
}

ssize_t connReadNonBlock(rsConn *c, void *buf, size_t cap) {
    if (checkNotMidReply(c) < 0) return -1;
    if (cap == 0) return 0;
    if (buffered(c) > 0) return (ssize_t)takeBuffered(c, buf, cap);
    return xRead(c, buf, cap);
}

/* ---- blocking byte I/O ---- */

int connWrite(rsConn *c, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = xWrite(c, p, len);
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
    /* One read, and more while the transport holds bytes poll() cannot
     * see (TLS), so that 0 always means "poll() the fd" (see conn.h). */
    do {
        ssize_t n = fill(c);
        if (n == CONN_AGAIN) return 0;
        if (n <= 0) return -1;
        if ((r = parseReply(c, out)) != 0) return r;
    } while (transportPending(c->t));
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

int connFd(const rsConn *c) { return transportFd(c->t); }
short connEvents(const rsConn *c) { return transportEvents(c->t); }
const char *connError(const rsConn *c) { return c->err; }
const char *connName(const rsConn *c) { return c->name; }
const char *connAddr(const rsConn *c) { return c->addr; }
const char *connTlsInfo(const rsConn *c) { return transportInfo(c->t); }

void connSetTimeout(rsConn *c, int io_timeout_ms) {
    c->io_timeout_ms = timeoutOf(io_timeout_ms, CONN_DEFAULT_IO_TIMEOUT_MS);
}

void connClose(rsConn *c) {
    if (!c) return;
    transportClose(c->t);
    if (c->reader) redisReaderFree(c->reader);
    free(c);
}

/* ---- handshake: [AUTH] [SELECT] [READONLY] [CLIENT SETNAME] [PING], one write ---- */

enum { STEP_AUTH, STEP_SELECT, STEP_READONLY, STEP_NAME, STEP_PING, STEP_MAX };

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
    if (o->readonly) rc |= addStep(out, steps, n, STEP_READONLY, 1, (const char *[]){"READONLY"});
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
    case STEP_READONLY:
        if (noauth) break;
        setErr(c, "READONLY refused by %s: %s", c->name, r->str);
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

/* PONG, or an error (LOADING, NOAUTH...: stepFailed judges those). */
static int isPong(const redisReply *r) {
    return r->type == REDIS_REPLY_ERROR || (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0);
}

static int handshake(rsConn *c, const rsUrl *u, const rsConnOptions *o, int tls) {
    int steps[STEP_MAX], n = 0, failed = 0;
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
        if (!r && i == 0 && !tls && dropped) {
            size_t l = strlen(c->err); /* a TLS-only port drops plain clients */
            snprintf(c->err + l, sizeof(c->err) - l, " (if it expects TLS, use rediss:// or --tls)");
        }
        if (!r && strncmp(c->err, "protocol error", 14) == 0) {
            size_t l = strlen(c->err); /* an HTTP server, a port that answers junk */
            snprintf(c->err + l, sizeof(c->err) - l, " (is this a Redis server?)");
        }
        if (!r) return -1;
        if (steps[i] == STEP_PING && !failed && !isPong(r)) {
            setErr(c, "unexpected reply to PING from %s (is this a Redis server?)", c->addr);
            failed = 1;
        }
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
    c->io_timeout_ms = timeoutOf(o->io_timeout_ms, CONN_DEFAULT_IO_TIMEOUT_MS);
    urlFormatMasked(u, c->name, sizeof(c->name));
    urlFormatAddr(u, c->addr, sizeof(c->addr));
    int cto = timeoutOf(o->connect_timeout_ms, CONN_DEFAULT_CONNECT_TIMEOUT_MS);
    int tls = u->tls || o->tls.enabled;
    c->t = tls ? tlsOpen(u, &o->tls, cto, c->err, sizeof(c->err)) : netOpen(u, cto, c->err, sizeof(c->err));
    int rc = c->t ? 0 : -1;
    if (rc == 0) {
        /* A server that accepts but never answers (stuck, or a proxy with
         * no backend) is a failure to connect: the handshake gets the
         * connect timeout, not the I/O timeout. */
        int io = c->io_timeout_ms;
        if (cto < io) c->io_timeout_ms = cto;
        rc = handshake(c, u, o, tls);
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

int connInfoField(const char *info, const char *key, char *dst, size_t cap) {
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

int connKeyspaceDbs(rsConn *c, int *dbs, int max) {
    char *info = connInfo(c, "keyspace");
    int n = 0;
    if (!info) return -1;
    for (const char *p = info; p && *p && n < max; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, "db", 2) == 0) dbs[n++] = atoi(p + 2);
    free(info);
    return n;
}

int connServerAtLeast(const rsServerInfo *i, int major, int minor) {
    if (i->is_valkey) return major < 7 || (major == 7 && minor <= 2);
    return i->major > major || (i->major == major && i->minor >= minor);
}

int connParseInfo(const char *info, rsServerInfo *out) {
    memset(out, 0, sizeof(*out));
    out->proto_max_bulk_len = CONN_DEFAULT_PROTO_MAX_BULK_LEN;
    if (!connInfoField(info, "redis_version", out->redis_version, sizeof(out->redis_version))) return -1;
    connInfoField(info, "valkey_version", out->valkey_version, sizeof(out->valkey_version));
    connInfoField(info, "server_name", out->server_name, sizeof(out->server_name));
    connInfoField(info, "redis_mode", out->redis_mode, sizeof(out->redis_mode));
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

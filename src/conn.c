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

#include <hiredis/sds.h>

#define CONN_READ_CHUNK (64 * 1024)

struct rsConn {
    int fd;
    int io_timeout_ms;
    short want;             /* events the last CONN_AGAIN waits for */
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

/* ---- one syscall: the place where TLS will plug in ---- */

static ssize_t sockRead(rsConn *c, void *buf, size_t cap) {
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
    size_t n = connPending(c);
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
    if (connPending(c) > 0) return (ssize_t)takeBuffered(c, buf, cap);
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
        size_t avail = connPending(c);
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
    if (connPending(c) == 0) return 0;
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
    ssize_t n = fill(c);
    if (n == CONN_AGAIN) return 0;
    if (n <= 0) return -1;
    return parseReply(c, out);
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
    int rc = u->is_unix ? connectUnix(c, u, cto) : connectTcp(c, u, cto);
    if (rc == 0) rc = handshake(c, u, o);
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

int connRdbVersionFor(int is_valkey, int major, int minor) {
    if (is_valkey) return major >= 9 ? 80 : 11;
    int v = major * 100 + minor;
    if (v < 204) return 1;
    if (v < 206) return 2;
    if (v < 302) return 6;
    if (v < 400) return 7;
    if (v < 500) return 8;
    if (v < 700) return 9;
    if (v < 702) return 10;
    if (v < 704) return 11;
    return 12;
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
    out->rdb_version = connRdbVersionFor(out->is_valkey, out->major, out->minor);
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

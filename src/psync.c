/* psync.c -- the replication wire, replica side (see psync.h). */
#include "psync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PSYNC_CHUNK (64 * 1024)

/* ---- requests ---- */

/* A handshake command: only a broken connection fails it. */
static int replconf(rsConn *c, const char *cmd) {
    redisReply *r = connCommandf(c, cmd);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}

int psyncHandshake(rsConn *c, int flags) {
    if ((flags & PSYNC_LISTENING_PORT) && replconf(c, "REPLCONF listening-port 0") < 0) return -1;
    if (replconf(c, "REPLCONF capa eof capa psync2") < 0) return -1;
    if ((flags & PSYNC_RDB_ONLY) && replconf(c, "REPLCONF rdb-only 1") < 0) return -1;
    return 0;
}

int psyncRequest(rsConn *c, const char *name, const char *replid, int64_t offset) {
    char off[24], cmd[400];
    const char *ps = name ? name : "PSYNC";
    const char *id = replid && *replid ? replid : "?";
    snprintf(off, sizeof(off), "%" PRId64, offset < 0 ? (int64_t)-1 : offset);
    int n = snprintf(cmd, sizeof(cmd), "*3\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(ps), ps, strlen(id),
                     id, strlen(off), off);
    if (n < 0 || n >= (int)sizeof(cmd)) return -1;
    return connWrite(c, cmd, (size_t)n);
}

int psyncRequestSync(rsConn *c) { return connWrite(c, "SYNC\r\n", 6); }

int psyncAck(rsConn *c, int64_t offset) {
    char off[24], cmd[96];
    int n = snprintf(off, sizeof(off), "%" PRId64, offset < 0 ? 0 : offset);
    int len = snprintf(cmd, sizeof(cmd), "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%s\r\n", n, off);
    return connWrite(c, cmd, (size_t)len);
}

/* CONFIG GET's value for one name: > 0, 0 when not given, -1 when the
 * connection failed. */
static int configInt(rsConn *c, const char *name) {
    redisReply *r = connCommandf(c, "CONFIG GET %s", name);
    if (!r) return -1;
    int v = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
        v = atoi(r->element[1]->str);
    freeReplyObject(r);
    return v > 0 ? v : 0;
}

int psyncPingPeriod(rsConn *c) {
    int v = configInt(c, "repl-ping-replica-period");
    if (v == 0) v = configInt(c, "repl-ping-slave-period"); /* before 5.0 */
    if (v < 0) return -1;
    return v ? v : PSYNC_DEFAULT_PING_PERIOD;
}

/* ---- replies ---- */

int psyncReadLine(rsConn *c, char *line, size_t cap, psyncKeepaliveFn fn, void *ctx) {
    for (;;) {
        ssize_t n = connReadLine(c, line, cap);
        if (n < 0) return -1;
        if (n > 0) return 0;
        if (fn && fn(ctx)) return -1;
    }
}

int psyncIsRefusal(const char *line) {
    return line[0] == '-' && (strstr(line, "unknown command") || strstr(line, "NOPERM"));
}

psyncReplyKind psyncParseReply(const char *line, psyncReply *out) {
    char id[64] = "";
    long long off = -1;
    memset(out, 0, sizeof(*out));
    out->offset = -1;
    out->kind = PSYNC_ERROR;
    if (psyncIsRefusal(line)) {
        out->kind = PSYNC_REFUSED;
    } else if (line[0] == '$') {
        out->kind = PSYNC_SNAPSHOT;
    } else if (strncmp(line, "+FULLRESYNC ", 12) == 0) {
        if (sscanf(line + 12, "%63s %lld", id, &off) == 2 && strlen(id) == PSYNC_REPLID_LEN && off >= 0) {
            out->kind = PSYNC_FULLRESYNC;
            out->offset = off;
        }
    } else if (strncmp(line, "+CONTINUE", 9) == 0 && (line[9] == ' ' || line[9] == '\0')) {
        out->kind = PSYNC_CONTINUE; /* before PSYNC2 (4.0), without a replid */
        if (sscanf(line + 9, "%63s", id) == 1 && strlen(id) != PSYNC_REPLID_LEN) out->kind = PSYNC_ERROR;
    }
    if (out->kind == PSYNC_FULLRESYNC || out->kind == PSYNC_CONTINUE)
        snprintf(out->replid, sizeof(out->replid), "%.40s", id);
    return out->kind;
}

/* ---- the snapshot transfer ---- */

int psyncTransferStart(psyncTransfer *t, rsConn *c, const char *header, char *err, size_t errlen) {
    memset(t, 0, sizeof(*t));
    t->c = c;
    t->size = t->left = -1;
    if (strncmp(header, PSYNC_EOF_PREFIX, PSYNC_EOF_PREFIX_LEN) == 0 && strlen(header) == PSYNC_EOF_HEADER_LEN) {
        memcpy(t->mark, header + PSYNC_EOF_PREFIX_LEN, PSYNC_MARK_LEN);
        return 0;
    }
    char *end = NULL;
    long long size = header[0] == '$' && header[1] >= '0' && header[1] <= '9' ? strtoll(header + 1, &end, 10) : -1;
    if (size < 0 || !end || *end) {
        snprintf(err, errlen, "unexpected reply to SYNC: '%.100s' (expected $<length> or " PSYNC_EOF_PREFIX "<mark>)", header);
        return -1;
    }
    t->size = t->left = size;
    t->done = size == 0;
    return 0;
}

static ssize_t cut(psyncTransfer *t, char *err, size_t errlen) {
    const char *why = connError(t->c)[0] ? connError(t->c) : "connection closed";
    if (t->size >= 0)
        snprintf(err, errlen, "the source closed the link during the transfer, after %" PRIu64 " of %" PRId64
                 " bytes: %s", t->passed, t->size, why);
    else
        snprintf(err, errlen, "the source closed the link during the transfer, after %" PRIu64
                 " bytes, before the end mark: %s", t->passed, why);
    return -1;
}

static ssize_t readSized(psyncTransfer *t, void *buf, size_t cap, char *err, size_t errlen) {
    ssize_t n = connRead(t->c, buf, (int64_t)cap < t->left ? cap : (size_t)t->left);
    if (n <= 0) return cut(t, err, errlen);
    t->left -= n;
    t->done = t->left == 0;
    return n;
}

/* Bytes come out only once PSYNC_MARK_LEN newer ones are known: those may
 * be the mark. The held bytes are read again in front of each new read, so
 * a mark split across reads is still seen whole. */
static ssize_t readMarked(psyncTransfer *t, void *buf, size_t cap, char *err, size_t errlen) {
    char tmp[PSYNC_MARK_LEN + PSYNC_CHUNK];
    for (;;) {
        memcpy(tmp, t->hold, t->held);
        ssize_t n = connRead(t->c, tmp + t->held, cap < PSYNC_CHUNK ? cap : PSYNC_CHUNK);
        if (n <= 0) return cut(t, err, errlen);
        size_t total = t->held + (size_t)n;
        t->done = total >= PSYNC_MARK_LEN && memcmp(tmp + total - PSYNC_MARK_LEN, t->mark, PSYNC_MARK_LEN) == 0;
        size_t emit = total > PSYNC_MARK_LEN ? total - PSYNC_MARK_LEN : 0;
        t->held = t->done ? 0 : total - emit;
        memcpy(t->hold, tmp + emit, t->held);
        if (emit) {
            memcpy(buf, tmp, emit);
            return (ssize_t)emit;
        }
        if (t->done) return 0;
    }
}

ssize_t psyncTransferRead(psyncTransfer *t, void *buf, size_t cap, char *err, size_t errlen) {
    if (t->done) return 0;
    if (cap == 0) return 0;
    ssize_t n = t->size >= 0 ? readSized(t, buf, cap, err, errlen) : readMarked(t, buf, cap, err, errlen);
    if (n > 0) t->passed += (uint64_t)n;
    return n;
}

ssize_t psyncTransferReadFn(void *transfer, void *buf, size_t cap, char *err, size_t errlen) {
    return psyncTransferRead(transfer, buf, cap, err, errlen);
}

/* strbatch.c -- runs of small strings as one MSET (see strbatch.h). */
#include "strbatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

struct strBatch {
    uint64_t db;
    int nx;
    size_t n, bytes;
    const char *argv[1 + 2 * STRBATCH_KEYS];
    size_t lens[1 + 2 * STRBATCH_KEYS];
    size_t offs[2 * STRBATCH_KEYS]; /* into buf: argv is rebuilt at flush (buf moves) */
    char *buf;
    size_t len, cap;
};

strBatch *strBatchNew(void) { return calloc(1, sizeof(strBatch)); }

void strBatchFree(strBatch *b) {
    if (!b) return;
    free(b->buf);
    free(b);
}

size_t strBatchPending(const strBatch *b) { return b->n; }

void strBatchReset(strBatch *b) { b->n = b->len = b->bytes = 0; }

/* One ACL DRYRUN: 1 when the answer is OK. */
static int mayRun(rsConn *c, const char *user, const char *cmd) {
    redisReply *r = connCommandf(c, "ACL DRYRUN %s %s strbatch:probe x", user, cmd);
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
    return ok;
}

int strBatchPermitted(rsConn *c, const rsServerInfo *info) {
    redisReply *r = connCommandf(c, "ACL WHOAMI");
    if (!r) return 0;
    char user[256];
    /* An error: a server without ACLs (before 6.0), where anyone may. */
    int ok = r->type == REDIS_REPLY_ERROR;
    int known = r->type == REDIS_REPLY_STRING && r->len < (int)sizeof(user);
    if (known) snprintf(user, sizeof(user), "%s", r->str);
    freeReplyObject(r);
    if (ok || !known) return ok;
    /* Before 7.0 nobody can be asked: the default user is taken to be
     * unrestricted, anyone else is not. */
    if (!connServerAtLeast(info, 7, 0)) return !strcmp(user, "default");
    return mayRun(c, user, "MSET") && mayRun(c, user, "MSETNX");
}

static int append(strBatch *b, const char *p, size_t len) {
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : STRBATCH_BYTES + 2 * STRBATCH_VALUE_MAX;
        while (cap < b->len + len) cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) return -1;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, len);
    b->len += len;
    return 0;
}

int strBatchFlush(strBatch *b, writer *w) {
    if (!b->n) return 0;
    b->argv[0] = b->nx ? "MSETNX" : "MSET";
    b->lens[0] = b->nx ? 6 : 4;
    for (size_t i = 0; i < 2 * b->n; i++) b->argv[1 + i] = b->buf + b->offs[i];
    writerTag t = {b->argv[0], b->db, b->argv[1], b->lens[1], (uint64_t)b->n, WRITER_K_MSET};
    int argc = (int)(1 + 2 * b->n);
    b->n = b->len = b->bytes = 0;
    if (writerSelect(w, t.db) < 0) return -1;
    return writerCommand(w, argc, b->argv, b->lens, &t);
}

int strBatchAdd(strBatch *b, writer *w, uint64_t db, int nx, const char *k, size_t kl, const char *v, size_t vl) {
    if (b->n && (b->db != db || b->nx != nx) && strBatchFlush(b, w) < 0) return -1;
    b->db = db;
    b->nx = nx;
    size_t at = b->len;
    if (append(b, k, kl) < 0 || append(b, v, vl) < 0) {
        b->len = at;
        return -1;
    }
    b->offs[2 * b->n] = at;
    b->lens[1 + 2 * b->n] = kl;
    b->offs[2 * b->n + 1] = at + kl;
    b->lens[2 + 2 * b->n] = vl;
    b->n++;
    b->bytes += kl + vl;
    return b->n >= STRBATCH_KEYS || b->bytes >= STRBATCH_BYTES ? strBatchFlush(b, w) : 0;
}

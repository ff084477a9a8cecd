/* checkpoint.c -- exactly-once apply: batches that carry their checkpoint
 * (see checkpoint.h).
 *
 * Two sides, each with its own state, since the writer pipelines: the
 * send side knows whether a batch is open and how full it is; the reply
 * side, running behind it, knows whether the replies now arriving are a
 * batch's (between the MULTI's +OK and the EXEC's array) and keeps the tag
 * of every command queued in it, so that element i of EXEC's array names
 * the command it answers.
 */
#include "checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rdb/rdb.h"

/* A command queued in the batch whose EXEC has not answered yet. */
typedef struct queued {
    char cmd[32];
    uint64_t db, src_offset;
    writerKind kind;
    size_t keylen;
    char key[WRITER_KEY_MAX];
} queued;

struct checkpoint {
    char *key;
    size_t keylen;
    char field[3][200];   /* replid, offset, db: prefixed for a cluster's shard */
    /* send side */
    int open;             /* MULTI sent, EXEC not yet */
    size_t cmds, bytes;   /* stream commands and their argument bytes in the open batch */
    /* reply side */
    int rx_open;          /* MULTI answered, EXEC not yet */
    int rx_discarded;     /* a command of it was refused at queueing: EXECABORT follows */
    queued *q;
    size_t nq, capq;
    char err[600];
};

checkpoint *checkpointNew(const char *key) {
    checkpoint *cp = calloc(1, sizeof(*cp));
    if (!cp) return NULL;
    cp->key = strdup(key ? key : CHECKPOINT_DEFAULT_KEY);
    if (!cp->key) {
        free(cp);
        return NULL;
    }
    cp->keylen = strlen(cp->key);
    checkpointSetShard(cp, "");
    return cp;
}

void checkpointSetShard(checkpoint *cp, const char *prefix) {
    static const char *names[3] = {"replid", "offset", "db"};
    for (int i = 0; i < 3; i++) snprintf(cp->field[i], sizeof(cp->field[i]), "%.180s%s", prefix, names[i]);
}

int checkpointIsShard(const checkpoint *cp) { return strcmp(cp->field[0], "replid") != 0; }

void checkpointFree(checkpoint *cp) {
    if (!cp) return;
    free(cp->q);
    free(cp->key);
    free(cp);
}

const char *checkpointKey(const checkpoint *cp) { return cp->key; }
const char *checkpointError(const checkpoint *cp) { return cp->err; }

int checkpointIsKey(const char *name, int db, const char *key, size_t keylen) {
    return db == CHECKPOINT_DB && keylen == strlen(name) && memcmp(key, name, keylen) == 0;
}

/* ---- Plain connection ---- */

int checkpointCheckTarget(rsConn *c, char *err, size_t errlen) {
    char *info = connInfo(c, "cluster"), enabled[8] = "";
    if (!info) {
        snprintf(err, errlen, "cannot read INFO cluster: %s", connError(c));
        return -1;
    }
    connInfoField(info, "cluster_enabled", enabled, sizeof(enabled));
    free(info);
    if (strcmp(enabled, "1") != 0) return 0;
    snprintf(err, errlen, "--exactly-once needs a standalone target, and this one is a cluster node "
             "(cluster_enabled:1): a checkpoint per node does not exist yet, so a cluster target is "
             "at-least-once; run without --exactly-once");
    return -1;
}

/* A checkpoint field: replid is 40 hex digits or "?", offset and db are
 * non-negative integers. */
static int parseField(const redisReply *r, const char *field, checkpointPos *pos, char *err, size_t errlen) {
    char *end;
    size_t fl = strlen(field);
    /* its kind by its name's end (a shard's fields are prefixed) */
    const char *name = fl >= 6 && !strcmp(field + fl - 6, "replid") ? "replid"
                       : fl >= 6 && !strcmp(field + fl - 6, "offset") ? "offset" : "db";
    if (r->type != REDIS_REPLY_STRING) {
        snprintf(err, errlen, "has no field '%s'", field);
        return -1;
    }
    if (name[0] == 'r') {
        int ok = r->len == 1 ? r->str[0] == '?' : r->len == 40 && strspn(r->str, "0123456789abcdef") == 40;
        if (ok) memcpy(pos->replid, r->str, r->len + 1);
        else snprintf(err, errlen, "field %s '%.60s' is not a replication id", field, r->str);
        return ok ? 0 : -1;
    }
    errno = 0;
    long long v = strtoll(r->str, &end, 10);
    if (errno || end == r->str || *end || v < 0 || (name[0] == 'd' && v > 1 << 20)) {
        snprintf(err, errlen, "field %s '%.60s' is not a valid number", field, r->str);
        return -1;
    }
    if (name[0] == 'o') pos->offset = v;
    else pos->db = (int)v;
    return 0;
}

/* The three fields f[] of the hash key. */
static int readFields(rsConn *c, const char *key, const char (*f)[200], checkpointPos *pos, char *err,
                      size_t errlen) {
    char why[300], kr[300];
    redisReply *r = connCommandf(c, "SELECT %d", CHECKPOINT_DB);
    int rc = -1;
    rdbKeyRepr(key, strlen(key), kr, sizeof(kr));
    if (r && r->type != REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        r = connCommandf(c, "HMGET %s %s %s %s", key, f[0], f[1], f[2]);
    }
    if (!r) {
        snprintf(err, errlen, "reading the checkpoint '%s': %s", kr, connError(c));
        return -2;
    }
    memset(pos, 0, sizeof(*pos));
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "WRONGTYPE", 9) == 0) {
        snprintf(err, errlen, "db %d key '%s' is not rdbsync's checkpoint (%s): rename it or choose another "
                 "--checkpoint-key", CHECKPOINT_DB, kr, r->str);
    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "cannot read the checkpoint, db %d key '%s': %s", CHECKPOINT_DB, kr, r->str);
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        snprintf(err, errlen, "reading the checkpoint '%s': unexpected reply to HMGET", kr);
    } else if (r->element[0]->type == REDIS_REPLY_NIL && r->element[1]->type == REDIS_REPLY_NIL &&
               r->element[2]->type == REDIS_REPLY_NIL) {
        rc = 0; /* absent (or a hash without our fields: HSET would overwrite them) */
    } else if (parseField(r->element[0], f[0], pos, why, sizeof(why)) < 0 ||
               parseField(r->element[1], f[1], pos, why, sizeof(why)) < 0 ||
               parseField(r->element[2], f[2], pos, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "db %d key '%s' is not a valid checkpoint: it %s", CHECKPOINT_DB, kr, why);
    } else {
        rc = 1;
    }
    freeReplyObject(r);
    return rc;
}

int checkpointRead(rsConn *c, const char *key, checkpointPos *pos, char *err, size_t errlen) {
    static const char f[3][200] = {"replid", "offset", "db"};
    return readFields(c, key, f, pos, err, errlen);
}

int checkpointReadOwn(rsConn *c, const checkpoint *cp, checkpointPos *pos, char *err, size_t errlen) {
    return readFields(c, cp->key, (const char (*)[200])cp->field, pos, err, errlen);
}

/* ---- Send side ---- */

static int sendMulti(checkpoint *cp, writer *w) {
    const char *argv[1] = {"MULTI"};
    size_t lens[1] = {5};
    writerTag t = {.cmd = "MULTI", .kind = WRITER_K_BATCH};
    if (writerCommand(w, 1, argv, lens, &t) < 0) return -1;
    cp->open = 1;
    cp->cmds = cp->bytes = 0;
    return 0;
}

int checkpointForward(checkpoint *cp, writer *w, uint64_t tdb, int argc, const char **argv, const size_t *lens,
                      const writerTag *t) {
    /* Opening a batch: the db first, outside it, where the writer's guard
     * on a db's first SELECT sees the real verdict (inside, SELECT only
     * answers +QUEUED). */
    if (!cp->open && (writerSelect(w, tdb) < 0 || sendMulti(cp, w) < 0)) return -1;
    if (writerSelect(w, tdb) < 0 || writerCommand(w, argc, argv, lens, t) < 0) return -1;
    cp->cmds++;
    for (int i = 0; i < argc; i++) cp->bytes += lens[i];
    return 0;
}

int checkpointInBatch(const checkpoint *cp) { return cp->open; }

int checkpointDue(const checkpoint *cp) {
    return cp->open && (cp->cmds >= CHECKPOINT_BATCH_CMDS || cp->bytes >= CHECKPOINT_BATCH_BYTES);
}

int checkpointCommit(checkpoint *cp, writer *w, const checkpointPos *pos) {
    char off[24], db[16];
    size_t lo = (size_t)snprintf(off, sizeof(off), "%lld", (long long)pos->offset);
    size_t ld = (size_t)snprintf(db, sizeof(db), "%d", pos->db);
    const char *argv[8] = {"HSET", cp->key, cp->field[0], pos->replid, cp->field[1], off, cp->field[2], db};
    size_t lens[8] = {4, cp->keylen, strlen(cp->field[0]), strlen(pos->replid), strlen(cp->field[1]), lo,
                      strlen(cp->field[2]), ld};
    /* Inside a batch the HSET is one more queued command; alone, its own
     * reply commits it. The EXEC (or lone HSET) carries the position. */
    writerTag h = {"HSET", CHECKPOINT_DB, cp->key, cp->keylen, (uint64_t)pos->offset,
                   cp->open ? WRITER_K_BATCH : WRITER_K_CHECKPOINT};
    writerTag x = {"EXEC", (uint64_t)pos->db, NULL, 0, (uint64_t)pos->offset, WRITER_K_CHECKPOINT};
    const char *exec[1] = {"EXEC"};
    size_t elen[1] = {4};
    if (!cp->open) h.db = (uint64_t)pos->db; /* the lone HSET's tag carries the stream db, as EXEC's does */
    if (writerSelect(w, CHECKPOINT_DB) < 0 || writerCommand(w, 8, argv, lens, &h) < 0) return -1;
    if (cp->open && writerCommand(w, 1, exec, elen, &x) < 0) return -1;
    cp->open = 0;
    return 0;
}

int checkpointDiscard(checkpoint *cp, writer *w) {
    const char *argv[1] = {"DISCARD"};
    size_t lens[1] = {7};
    writerTag t = {.cmd = "DISCARD", .kind = WRITER_K_CHECKPOINT};
    if (!cp->open) return 0;
    cp->open = 0;
    writerResetDb(w); /* the SELECTs queued in it never ran */
    return writerCommand(w, 1, argv, lens, &t);
}

int checkpointRemove(checkpoint *cp, writer *w) {
    /* A shard's: only its own fields, the other shards' stay. */
    const char *argv[5] = {"HDEL", cp->key, cp->field[0], cp->field[1], cp->field[2]};
    size_t lens[5] = {4, cp->keylen, strlen(cp->field[0]), strlen(cp->field[1]), strlen(cp->field[2])};
    writerTag t = {"HDEL", CHECKPOINT_DB, cp->key, cp->keylen, 0, WRITER_K_OTHER};
    int shard = checkpointIsShard(cp);
    if (!shard) argv[0] = t.cmd = "DEL", lens[0] = 3;
    return writerSelect(w, CHECKPOINT_DB) < 0 ? -1 : writerCommand(w, shard ? 5 : 2, argv, lens, &t);
}

void checkpointReset(checkpoint *cp) {
    cp->open = cp->rx_open = cp->rx_discarded = 0;
    cp->cmds = cp->bytes = 0;
    cp->nq = 0;
}

/* ---- Reply side ---- */

int checkpointOwns(const checkpoint *cp, const writerTag *t) {
    return cp->rx_open || t->kind == WRITER_K_BATCH || t->kind == WRITER_K_CHECKPOINT;
}

static int remember(checkpoint *cp, const writerTag *t) {
    if (cp->nq == cp->capq) {
        size_t cap = cp->capq ? cp->capq * 2 : 64;
        queued *q = realloc(cp->q, cap * sizeof(*q));
        if (!q) {
            snprintf(cp->err, sizeof(cp->err), "out of memory tracking a batch of %zu commands", cp->nq);
            return -1;
        }
        cp->q = q;
        cp->capq = cap;
    }
    queued *e = &cp->q[cp->nq++];
    snprintf(e->cmd, sizeof(e->cmd), "%s", t->cmd ? t->cmd : "command");
    e->db = t->db;
    e->src_offset = t->src_offset;
    e->kind = t->kind;
    e->keylen = t->key ? (t->keylen < WRITER_KEY_MAX ? t->keylen : WRITER_KEY_MAX) : 0;
    if (e->keylen) memcpy(e->key, t->key, e->keylen);
    return 0;
}

static writerTag tagOf(const queued *e) {
    return (writerTag){e->cmd, e->db, e->keylen ? e->key : NULL, e->keylen, e->src_offset, e->kind};
}

/* The checkpoint did not commit with its writes: what, at which offset. */
static int failed(checkpoint *cp, checkpointVerdict *v, const char *what, const char *detail) {
    char kr[300];
    rdbKeyRepr(cp->key, cp->keylen, kr, sizeof(kr));
    snprintf(cp->err, sizeof(cp->err), "the checkpoint '%s' (db %d) at source offset %lld did not commit: %s (%s)",
             kr, CHECKPOINT_DB, (long long)v->offset, what, detail);
    v->failed = 1;
    return -1;
}

/* EXEC's array: one reply per queued command, in order. */
static int execArray(checkpoint *cp, const redisReply *r, checkpointVerdict *v, checkpointRefusedFn refused,
                     void *ctx) {
    if (r->elements != cp->nq) {
        char n[48];
        snprintf(n, sizeof(n), "%zu replies for %zu commands", r->elements, cp->nq);
        return failed(cp, v, "EXEC's reply does not match the batch", n);
    }
    int rc = 0;
    for (size_t i = 0; i < cp->nq; i++) {
        const queued *e = &cp->q[i];
        const redisReply *el = r->element[i];
        if (e->kind == WRITER_K_STREAM) v->commands++;
        if (el->type != REDIS_REPLY_ERROR) continue;
        if (e->kind == WRITER_K_BATCH) /* our HSET: the writes committed without it */
            return failed(cp, v, "the target refused its HSET inside the batch, whose writes ran", el->str);
        if (e->kind == WRITER_K_SELECT) { /* the commands after it ran in another db */
            char what[120];
            snprintf(what, sizeof(what), "the target refused SELECT %llu inside the batch, whose later commands "
                     "ran in the db selected before", (unsigned long long)e->db);
            return failed(cp, v, what, el->str);
        }
        writerTag t = tagOf(e);
        int r2 = refused ? refused(ctx, &t, el->str, 0) : 0;
        if (r2 && !rc) rc = r2;
    }
    v->committed = 1;
    return rc;
}

/* The reply that ends a batch (EXEC) or a lone checkpoint (HSET). */
static int endReply(checkpoint *cp, const writerTag *t, const redisReply *r, checkpointVerdict *v,
                    checkpointRefusedFn refused, void *ctx) {
    int in_batch = cp->rx_open, discarded = cp->rx_discarded;
    v->offset = (int64_t)t->src_offset;
    v->db = (int)t->db;
    cp->rx_open = cp->rx_discarded = 0;
    int rc = 0;
    if (!in_batch && r->type == REDIS_REPLY_ERROR)
        rc = failed(cp, v, "the target refused HSET", r->str);
    else if (!in_batch)
        v->committed = 1;
    else if (r->type == REDIS_REPLY_ARRAY)
        rc = execArray(cp, r, v, refused, ctx);
    else if (!discarded) /* EXECABORT without a refusal seen, or nil */
        rc = failed(cp, v, "the target discarded the batch", r->type == REDIS_REPLY_ERROR ? r->str : "nil");
    else
        rc = -1; /* the queued refusal was said; nothing of the batch ran */
    cp->nq = 0;
    return rc;
}

int checkpointOnReply(checkpoint *cp, const writerTag *t, const redisReply *r, checkpointVerdict *v,
                      checkpointRefusedFn refused, void *ctx) {
    memset(v, 0, sizeof(*v));
    if (t->kind == WRITER_K_CHECKPOINT && strcasecmp(t->cmd, "DISCARD") == 0) {
        cp->rx_open = cp->rx_discarded = 0;
        cp->nq = 0;
        return r->type == REDIS_REPLY_ERROR ? failed(cp, v, "the target refused DISCARD", r->str) : 0;
    }
    if (t->kind == WRITER_K_CHECKPOINT) return endReply(cp, t, r, v, refused, ctx);
    if (t->kind == WRITER_K_BATCH && strcasecmp(t->cmd, "MULTI") == 0) {
        if (r->type == REDIS_REPLY_ERROR) return failed(cp, v, "the target refused MULTI", r->str);
        cp->rx_open = 1;
        cp->rx_discarded = 0;
        cp->nq = 0;
        return 0;
    }
    /* A command queued in the batch: +QUEUED, or refused at queueing. */
    if (remember(cp, t) < 0) {
        v->failed = 1;
        return -1;
    }
    if (r->type != REDIS_REPLY_ERROR) return 0;
    cp->rx_discarded = 1;
    return refused ? refused(ctx, t, r->str, 1) : -1;
}

/* ---- Hiding the key from a digest ---- */

/* Every event goes on to the inner set, except inside the hidden key. */
#define HIDE_FORWARDER(name, params, args)                                                     \
    static int hide_##name(void *ctx, RDB_UNPAREN params) {                                    \
        checkpointHide *h = ctx;                                                               \
        return h->hiding ? 0 : h->inner.name(h->inner.ctx, RDB_UNPAREN args);                  \
    }
RDB_EVENTS(HIDE_FORWARDER)
#undef HIDE_FORWARDER

static int hidden(const checkpointHide *h, const rdbKeyInfo *k) {
    return checkpointIsKey(h->key, (int)k->db, k->key, k->keylen);
}

static int hideKeyBegin(void *ctx, const rdbKeyInfo *k) {
    checkpointHide *h = ctx;
    h->hiding = hidden(h, k);
    if (h->hiding) h->hidden++;
    return h->hiding || !h->inner.key_begin ? 0 : h->inner.key_begin(h->inner.ctx, k);
}

static int hideKeyEnd(void *ctx, const rdbKeyInfo *k) {
    checkpointHide *h = ctx;
    int was = h->hiding;
    h->hiding = 0;
    return was || !h->inner.key_end ? 0 : h->inner.key_end(h->inner.ctx, k);
}

static int hideWantRaw(void *ctx, const rdbKeyInfo *k) {
    checkpointHide *h = ctx;
    if (hidden(h, k)) return 0;
    return h->inner.want_raw ? h->inner.want_raw(h->inner.ctx, k) : 1;
}

static int hideRawValue(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    checkpointHide *h = ctx;
    return hidden(h, k) ? 0 : h->inner.raw_value(h->inner.ctx, k, p, len);
}

static int hideStringChunk(void *ctx, const char *p, size_t len, uint64_t off, uint64_t total) {
    checkpointHide *h = ctx;
    return h->hiding ? 0 : h->inner.string_chunk(h->inner.ctx, p, len, off, total);
}

static const char *hideError(void *ctx) {
    checkpointHide *h = ctx;
    return h->inner.error ? h->inner.error(h->inner.ctx) : NULL;
}

void checkpointHideHandlers(checkpointHide *h, const rdbHandlers *inner, const char *key, rdbHandlers *out) {
    memset(h, 0, sizeof(*h));
    h->inner = *inner;
    h->key = key;
    memset(out, 0, sizeof(*out));
    out->ctx = h;
    out->frame_only = inner->frame_only;
    out->error = hideError;
#define HIDE_WIRE(name, params, args) out->name = inner->name ? hide_##name : NULL;
    RDB_EVENTS(HIDE_WIRE)
#undef HIDE_WIRE
    /* Always seen, to know where the hidden key begins and ends. */
    out->key_begin = hideKeyBegin;
    out->key_end = hideKeyEnd;
    if (inner->raw_value) out->want_raw = hideWantRaw, out->raw_value = hideRawValue;
    if (inner->string_chunk) out->string_chunk = hideStringChunk;
}

/* relay.c -- decoder events to a worker thread (see relay.h).
 *
 * Events are serialized into chunks: one opcode byte, then fixed-size
 * fields and length-prefixed strings, in the host's byte order (both ends
 * are this process). Full chunks go to the worker through a short queue;
 * the producer waits when MAX_QUEUED chunks are pending, which bounds the
 * memory in flight.
 */
#include "relay.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024) /* small enough to stay in cache between the cores */
#define MAX_QUEUED 8

enum {
    OP_HEADER = 1, OP_KEY_BEGIN, OP_KEY_END, OP_RAW, OP_STRING, OP_LIST, OP_SET, OP_ZSET, OP_HASH,
    OP_SNODE, OP_SENTRY, OP_SFIELD, OP_SMETA, OP_SGROUP, OP_SPEL, OP_SCONS, OP_SCPEL, OP_FUNCTION,
    OP_MODULE, OP_EOF
};

typedef struct chunk {
    struct chunk *next;
    size_t len, cap;
    unsigned char data[];
} chunk;

struct rdbRelay {
    rdbHandlers t;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t work, space;
    chunk *head, *tail, *cur, *spare;
    int queued, busy, stop, err;
    int nomem;       /* producer side: a chunk could not be allocated */
    /* worker side */
    rdbKeyInfo key;
    char *keybuf;
    size_t keycap;
    rdbFlavour flavour;
};

/* ---- Producer ---- */

static chunk *chunkNew(size_t cap) {
    chunk *c = malloc(sizeof(*c) + cap);
    if (c) c->next = NULL, c->len = 0, c->cap = cap;
    return c;
}

/* Hand the current chunk to the worker, waiting for room in the queue. */
static void submit(rdbRelay *r) {
    chunk *c = r->cur;
    r->cur = NULL;
    if (!c || !c->len) {
        r->cur = c;
        return;
    }
    c->next = NULL; /* a reused chunk still points where it once did */
    pthread_mutex_lock(&r->mu);
    while (r->queued >= MAX_QUEUED && !r->err) pthread_cond_wait(&r->space, &r->mu);
    if (r->tail) r->tail->next = c;
    else r->head = c;
    r->tail = c;
    r->queued++;
    if (r->spare) r->cur = r->spare, r->spare = NULL, r->cur->len = 0;
    pthread_cond_signal(&r->work);
    pthread_mutex_unlock(&r->mu);
}

/* Room for n more bytes in the current chunk, or -1. */
static int room(rdbRelay *r, size_t n) {
    if (__atomic_load_n(&r->err, __ATOMIC_RELAXED)) return -1;
    if (r->cur && r->cur->len + n <= r->cur->cap) return 0;
    submit(r);
    if (r->cur && r->cur->len + n <= r->cur->cap) return 0;
    if (r->cur && r->cur->len == 0) free(r->cur);
    r->cur = chunkNew(n > CHUNK ? n : CHUNK);
    if (!r->cur) r->nomem = 1;
    return r->cur ? 0 : -1;
}

static void put(rdbRelay *r, const void *p, size_t n) {
    if (n) memcpy(r->cur->data + r->cur->len, p, n);
    r->cur->len += n;
}

static void putU64(rdbRelay *r, uint64_t v) { put(r, &v, 8); }

static void putStr(rdbRelay *r, const void *p, size_t n) {
    putU64(r, n);
    put(r, p, n);
}

#define STRSZ(n) (8 + (n))

static int emitStr(void *ctx, int op, const char *p, size_t len) {
    rdbRelay *r = ctx;
    if (room(r, 1 + STRSZ(len)) < 0) return -1;
    unsigned char o = (unsigned char)op;
    put(r, &o, 1);
    putStr(r, p, len);
    return 0;
}

static int opOnly(rdbRelay *r, int op, size_t extra) {
    if (room(r, 1 + extra) < 0) return -1;
    unsigned char o = (unsigned char)op;
    put(r, &o, 1);
    return 0;
}

static int pHeader(void *ctx, int version, rdbFlavour fl) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_HEADER, 16) < 0) return -1;
    putU64(r, (uint64_t)version);
    putU64(r, (uint64_t)fl);
    return 0;
}

static int pKeyBegin(void *ctx, const rdbKeyInfo *k) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_KEY_BEGIN, 8 * 7 + STRSZ(k->keylen)) < 0) return -1;
    putU64(r, k->db);
    putU64(r, (uint64_t)k->type);
    putU64(r, (uint64_t)k->expire_ms);
    putU64(r, (uint64_t)k->idle);
    putU64(r, (uint64_t)(int64_t)k->freq);
    putU64(r, k->offset);
    putU64(r, (uint64_t)k->ltype);
    putStr(r, k->key, k->key ? k->keylen : 0);
    return 0;
}

static int pKeyEnd(void *ctx, const rdbKeyInfo *k) { return opOnly(ctx, OP_KEY_END, 0); }

static int pWantRaw(void *ctx, const rdbKeyInfo *k) {
    rdbRelay *r = ctx;
    return r->t.raw_value && (!r->t.want_raw || r->t.want_raw(r->t.ctx, k));
}

static int pRaw(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    return emitStr(ctx, OP_RAW, (const char *)p, len);
}
static int pString(void *ctx, const char *p, size_t len) { return emitStr(ctx, OP_STRING, p, len); }
static int pList(void *ctx, const char *p, size_t len) { return emitStr(ctx, OP_LIST, p, len); }
static int pSet(void *ctx, const char *p, size_t len) { return emitStr(ctx, OP_SET, p, len); }

static int pZset(void *ctx, const char *p, size_t len, double score) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_ZSET, 8 + STRSZ(len)) < 0) return -1;
    put(r, &score, 8);
    putStr(r, p, len);
    return 0;
}

static int pHash(void *ctx, const char *f, size_t fl, const char *v, size_t vl, int64_t exp) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_HASH, 8 + STRSZ(fl) + STRSZ(vl)) < 0) return -1;
    putU64(r, (uint64_t)exp);
    putStr(r, f, fl);
    putStr(r, v, vl);
    return 0;
}

static int pSnode(void *ctx, const unsigned char *key16, const unsigned char *lp, size_t lplen) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_SNODE, 16 + STRSZ(lplen)) < 0) return -1;
    put(r, key16, 16);
    putStr(r, lp, lplen);
    return 0;
}

static int pSentry(void *ctx, rdbStreamId id, uint64_t nfields) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_SENTRY, 24) < 0) return -1;
    putU64(r, id.ms);
    putU64(r, id.seq);
    putU64(r, nfields);
    return 0;
}

static int pSfield(void *ctx, const char *f, size_t fl, const char *v, size_t vl) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_SFIELD, STRSZ(fl) + STRSZ(vl)) < 0) return -1;
    putStr(r, f, fl);
    putStr(r, v, vl);
    return 0;
}

static int pSmeta(void *ctx, const rdbStreamMeta *m) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_SMETA, sizeof(*m)) < 0) return -1;
    put(r, m, sizeof(*m));
    return 0;
}

static int pSgroup(void *ctx, const rdbStreamGroup *g) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_SGROUP, sizeof(*g) + STRSZ(g->namelen)) < 0) return -1;
    put(r, g, sizeof(*g));
    putStr(r, g->name, g->namelen);
    return 0;
}

static int pSpel(void *ctx, rdbStreamId id, int64_t t, uint64_t count) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_SPEL, 32) < 0) return -1;
    putU64(r, id.ms);
    putU64(r, id.seq);
    putU64(r, (uint64_t)t);
    putU64(r, count);
    return 0;
}

static int pScons(void *ctx, const rdbStreamConsumer *c) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_SCONS, sizeof(*c) + STRSZ(c->namelen)) < 0) return -1;
    put(r, c, sizeof(*c));
    putStr(r, c->name, c->namelen);
    return 0;
}

static int pScpel(void *ctx, rdbStreamId id) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_SCPEL, 16) < 0) return -1;
    putU64(r, id.ms);
    putU64(r, id.seq);
    return 0;
}

static int pFunction(void *ctx, const rdbFunction *fn) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_FUNCTION, 8 + STRSZ(fn->len) + STRSZ(fn->namelen) + STRSZ(fn->enginelen)) < 0) return -1;
    putU64(r, (uint64_t)fn->pre_ga);
    putStr(r, fn->code, fn->len);
    putStr(r, fn->name, fn->name ? fn->namelen : 0);
    putStr(r, fn->engine, fn->engine ? fn->enginelen : 0);
    return 0;
}

static int pModule(void *ctx, const char *name, int encver) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_MODULE, 8 + STRSZ(strlen(name))) < 0) return -1;
    putU64(r, (uint64_t)encver);
    putStr(r, name, strlen(name));
    return 0;
}

static int pEof(void *ctx, const rdbEofInfo *e) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_EOF, sizeof(*e)) < 0) return -1;
    put(r, e, sizeof(*e));
    return 0;
}

/* Why the relay's handlers said stop: the target's reason (read after the
 * worker recorded its failure under the lock, so its writes are seen). */
static const char *pError(void *ctx) {
    rdbRelay *r = ctx;
    if (r->nomem) return "out of memory relaying an event";
    pthread_mutex_lock(&r->mu);
    int err = r->err;
    pthread_mutex_unlock(&r->mu);
    const char *why = err && r->t.error ? r->t.error(r->t.ctx) : NULL;
    return why && why[0] ? why : "the relayed consumer stopped";
}

void rdbRelayHandlers(rdbRelay *r, rdbHandlers *h) {
    const rdbHandlers *t = &r->t;
    memset(h, 0, sizeof(*h));
    h->ctx = r;
    h->error = pError;
#define WIRE(name, fn) \
    if (t->name) h->name = fn
    h->header = pHeader;       /* the worker needs the flavour for type lookups */
    h->key_begin = pKeyBegin; /* and the key for every key callback */
    h->key_end = pKeyEnd;
    if (t->raw_value) h->want_raw = pWantRaw, h->raw_value = pRaw;
    WIRE(string, pString);
    WIRE(list_item, pList);
    WIRE(set_member, pSet);
    WIRE(zset_member, pZset);
    WIRE(hash_field, pHash);
    WIRE(stream_node, pSnode);
    WIRE(stream_entry, pSentry);
    WIRE(stream_field, pSfield);
    WIRE(stream_meta, pSmeta);
    WIRE(stream_group, pSgroup);
    WIRE(stream_pel, pSpel);
    WIRE(stream_consumer, pScons);
    WIRE(stream_consumer_pel, pScpel);
    WIRE(function, pFunction);
    WIRE(module_value, pModule);
    WIRE(eof, pEof);
#undef WIRE
}

/* ---- Worker: replay one chunk ---- */

typedef struct cursor {
    const unsigned char *p;
} cursor;

static uint64_t getU64(cursor *c) {
    uint64_t v;
    memcpy(&v, c->p, 8);
    c->p += 8;
    return v;
}

static const char *getStr(cursor *c, size_t *len) {
    *len = (size_t)getU64(c);
    const char *s = (const char *)c->p;
    c->p += *len;
    return s;
}

static void getPod(cursor *c, void *out, size_t n) {
    memcpy(out, c->p, n);
    c->p += n;
}

#define CALL(name, ...) (r->t.name ? r->t.name(r->t.ctx, __VA_ARGS__) : 0)

static int replayKeyBegin(rdbRelay *r, cursor *c) {
    rdbKeyInfo *k = &r->key;
    size_t len;
    k->db = getU64(c);
    k->type = (int)getU64(c);
    k->expire_ms = (int64_t)getU64(c);
    k->idle = (int64_t)getU64(c);
    k->freq = (int)(int64_t)getU64(c);
    k->offset = getU64(c);
    k->ltype = (rdbLType)(int64_t)getU64(c);
    const char *key = getStr(c, &len);
    if (len + 1 > r->keycap) {
        char *nb = realloc(r->keybuf, len + 1);
        if (!nb) return -1;
        r->keybuf = nb;
        r->keycap = len + 1;
    }
    memcpy(r->keybuf, key, len);
    k->key = r->keybuf;
    k->keylen = len;
    k->info = rdbTypeLookup(k->type, r->flavour);
    return CALL(key_begin, k);
}

static int replayStream(rdbRelay *r, int op, cursor *c) {
    size_t a, b;
    const char *s, *t;
    rdbStreamId id;
    switch (op) {
    case OP_SNODE: {
        const unsigned char *key = c->p;
        c->p += 16;
        s = getStr(c, &a);
        return CALL(stream_node, key, (const unsigned char *)s, a);
    }
    case OP_SENTRY:
        id.ms = getU64(c), id.seq = getU64(c);
        return CALL(stream_entry, id, getU64(c));
    case OP_SFIELD:
        s = getStr(c, &a), t = getStr(c, &b);
        return CALL(stream_field, s, a, t, b);
    case OP_SMETA: {
        rdbStreamMeta m;
        getPod(c, &m, sizeof(m));
        return CALL(stream_meta, &m);
    }
    case OP_SGROUP: {
        rdbStreamGroup g;
        getPod(c, &g, sizeof(g));
        g.name = getStr(c, &g.namelen);
        return CALL(stream_group, &g);
    }
    case OP_SPEL: {
        id.ms = getU64(c), id.seq = getU64(c);
        int64_t t0 = (int64_t)getU64(c);
        return CALL(stream_pel, id, t0, getU64(c));
    }
    case OP_SCONS: {
        rdbStreamConsumer k;
        getPod(c, &k, sizeof(k));
        k.name = getStr(c, &k.namelen);
        return CALL(stream_consumer, &k);
    }
    default: /* OP_SCPEL */
        id.ms = getU64(c), id.seq = getU64(c);
        return CALL(stream_consumer_pel, id);
    }
}

static int replayOne(rdbRelay *r, cursor *c) {
    int op = *c->p++;
    size_t a, b;
    const char *s, *t;
    switch (op) {
    case OP_HEADER: {
        int v = (int)getU64(c);
        r->flavour = (rdbFlavour)getU64(c);
        return CALL(header, v, r->flavour);
    }
    case OP_KEY_BEGIN: return replayKeyBegin(r, c);
    case OP_KEY_END: return CALL(key_end, &r->key);
    case OP_RAW: s = getStr(c, &a); return CALL(raw_value, &r->key, (const unsigned char *)s, a);
    case OP_STRING: s = getStr(c, &a); return CALL(string, s, a);
    case OP_LIST: s = getStr(c, &a); return CALL(list_item, s, a);
    case OP_SET: s = getStr(c, &a); return CALL(set_member, s, a);
    case OP_ZSET: {
        double score;
        getPod(c, &score, 8);
        s = getStr(c, &a);
        return CALL(zset_member, s, a, score);
    }
    case OP_HASH: {
        int64_t exp = (int64_t)getU64(c);
        s = getStr(c, &a), t = getStr(c, &b);
        return CALL(hash_field, s, a, t, b, exp);
    }
    case OP_FUNCTION: {
        rdbFunction fn = {0};
        fn.pre_ga = (int)getU64(c);
        fn.code = getStr(c, &fn.len);
        fn.name = getStr(c, &fn.namelen);
        fn.engine = getStr(c, &fn.enginelen);
        return CALL(function, &fn);
    }
    case OP_MODULE: {
        int encver = (int)getU64(c);
        char name[16] = {0};
        s = getStr(c, &a);
        memcpy(name, s, a < 15 ? a : 15);
        return CALL(module_value, name, encver);
    }
    case OP_EOF: {
        rdbEofInfo e;
        getPod(c, &e, sizeof(e));
        return CALL(eof, &e);
    }
    }
    return replayStream(r, op, c);
}

static void *worker(void *arg) {
    rdbRelay *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->head && !r->stop) pthread_cond_wait(&r->work, &r->mu);
        chunk *ch = r->head;
        if (!ch) break;
        r->head = ch->next;
        if (!r->head) r->tail = NULL;
        r->busy = 1;
        int err = r->err;
        pthread_mutex_unlock(&r->mu);
        cursor c = {ch->data};
        while (!err && c.p < ch->data + ch->len) err = replayOne(r, &c);
        pthread_mutex_lock(&r->mu);
        if (err && !r->err) __atomic_store_n(&r->err, err, __ATOMIC_RELAXED);
        r->queued--;
        r->busy = 0;
        if (!r->spare && ch->cap == CHUNK) r->spare = ch;
        else free(ch);
        pthread_cond_broadcast(&r->space);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- Lifecycle ---- */

rdbRelay *rdbRelayNew(const rdbHandlers *target) {
    rdbRelay *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->t = *target;
    r->key.expire_ms = -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->work, NULL);
    pthread_cond_init(&r->space, NULL);
    r->cur = chunkNew(CHUNK);
    if (!r->cur || pthread_create(&r->th, NULL, worker, r) != 0) {
        free(r->cur);
        free(r);
        return NULL;
    }
    return r;
}

int rdbRelaySync(rdbRelay *r) {
    submit(r);
    pthread_mutex_lock(&r->mu);
    while ((r->head || r->busy) && !r->err) pthread_cond_wait(&r->space, &r->mu);
    int err = r->err;
    pthread_mutex_unlock(&r->mu);
    return err;
}

void rdbRelayFree(rdbRelay *r) {
    if (!r) return;
    rdbRelaySync(r);
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->work);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->th, NULL);
    while (r->head) {
        chunk *c = r->head;
        r->head = c->next;
        free(c);
    }
    free(r->cur);
    free(r->spare);
    free(r->keybuf);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->work);
    pthread_cond_destroy(&r->space);
    free(r);
}

/* relay.c -- decoder events to a worker thread (see relay.h).
 *
 * Events are serialized into chunks: one opcode byte, then fixed-size
 * fields and length-prefixed strings, in the host's byte order (both ends
 * are this process). Full chunks go to the worker through a short queue;
 * the producer waits when MAX_QUEUED chunks are pending, which bounds the
 * memory in flight.
 *
 * The opcodes, the wiring and the replay dispatch are generated from
 * decode.h's RDB_EVENTS; each event has, side by side, its sender
 * (send_<name>, a decoder callback) and its replayer (replay_<name>), and
 * the build fails while a listed event lacks either.
 */
#include "relay.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024) /* small enough to stay in cache between the cores */
#define MAX_QUEUED 8

#define RELAY_OP(name, params, args) OP_##name,
enum { OP_RAW = 1, RDB_EVENTS(RELAY_OP) OP_END };
#undef RELAY_OP

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

/* ---- Reading a chunk back (worker side) ---- */

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

static void putId(rdbRelay *r, rdbStreamId id) {
    putU64(r, id.ms);
    putU64(r, id.seq);
}

static rdbStreamId getId(cursor *c) {
    rdbStreamId id;
    id.ms = getU64(c);
    id.seq = getU64(c);
    return id;
}

#define CALL(name, ...) (r->t.name ? r->t.name(r->t.ctx, __VA_ARGS__) : 0)

/* ---- Events: send_<name> (decoder thread), replay_<name> (worker) ---- */

static int send_header(void *ctx, int version, rdbFlavour fl) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_header, 16) < 0) return -1;
    putU64(r, (uint64_t)version);
    putU64(r, (uint64_t)fl);
    return 0;
}
static int replay_header(rdbRelay *r, cursor *c) {
    int v = (int)getU64(c);
    r->flavour = (rdbFlavour)getU64(c);
    return CALL(header, v, r->flavour);
}

/* Two strings: aux, stream_field. */
static int sendTwo(void *ctx, int op, const char *a, size_t al, const char *b, size_t bl) {
    rdbRelay *r = ctx;
    if (opOnly(r, op, STRSZ(al) + STRSZ(bl)) < 0) return -1;
    putStr(r, a, al);
    putStr(r, b, bl);
    return 0;
}
static int send_aux(void *ctx, const char *k, size_t kl, const char *v, size_t vl) {
    return sendTwo(ctx, OP_aux, k, kl, v, vl);
}
static int replay_aux(rdbRelay *r, cursor *c) {
    size_t a, b;
    const char *s = getStr(c, &a), *t = getStr(c, &b);
    return CALL(aux, s, a, t, b);
}

/* Up to three integers: select_db, resize_db, slot_info. */
static int sendInts(void *ctx, int op, int n, uint64_t a, uint64_t b, uint64_t c) {
    rdbRelay *r = ctx;
    if (opOnly(r, op, 8 * (size_t)n) < 0) return -1;
    putU64(r, a);
    if (n > 1) putU64(r, b);
    if (n > 2) putU64(r, c);
    return 0;
}
static int send_select_db(void *ctx, uint64_t db) { return sendInts(ctx, OP_select_db, 1, db, 0, 0); }
static int replay_select_db(rdbRelay *r, cursor *c) { return CALL(select_db, getU64(c)); }
static int send_resize_db(void *ctx, uint64_t keys, uint64_t expires) {
    return sendInts(ctx, OP_resize_db, 2, keys, expires, 0);
}
static int replay_resize_db(rdbRelay *r, cursor *c) {
    uint64_t keys = getU64(c);
    return CALL(resize_db, keys, getU64(c));
}
static int send_slot_info(void *ctx, uint64_t slot, uint64_t keys, uint64_t expires) {
    return sendInts(ctx, OP_slot_info, 3, slot, keys, expires);
}
static int replay_slot_info(rdbRelay *r, cursor *c) {
    uint64_t slot = getU64(c), keys = getU64(c);
    return CALL(slot_info, slot, keys, getU64(c));
}

static int send_function(void *ctx, const rdbFunction *fn) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_function, 8 + STRSZ(fn->len) + STRSZ(fn->namelen) + STRSZ(fn->enginelen)) < 0) return -1;
    putU64(r, (uint64_t)fn->pre_ga);
    putStr(r, fn->code, fn->len);
    putStr(r, fn->name, fn->name ? fn->namelen : 0);
    putStr(r, fn->engine, fn->engine ? fn->enginelen : 0);
    return 0;
}
static int replay_function(rdbRelay *r, cursor *c) {
    rdbFunction fn = {0};
    fn.pre_ga = (int)getU64(c);
    fn.code = getStr(c, &fn.len);
    fn.name = getStr(c, &fn.namelen);
    fn.engine = getStr(c, &fn.enginelen);
    return CALL(function, &fn);
}

/* A module name (9 characters, NUL-terminated) and two integers:
 * module_aux, module_value. */
static int sendModule(void *ctx, int op, const char *name, int encver, int when) {
    rdbRelay *r = ctx;
    if (opOnly(r, op, 16 + STRSZ(strlen(name))) < 0) return -1;
    putU64(r, (uint64_t)encver);
    putU64(r, (uint64_t)when);
    putStr(r, name, strlen(name));
    return 0;
}
static void getModule(cursor *c, char name[16], int *encver, int *when) {
    size_t a;
    *encver = (int)getU64(c);
    *when = (int)getU64(c);
    const char *s = getStr(c, &a);
    memset(name, 0, 16);
    memcpy(name, s, a < 15 ? a : 15);
}
static int send_module_aux(void *ctx, const char *module, int encver, int when) {
    return sendModule(ctx, OP_module_aux, module, encver, when);
}
static int replay_module_aux(rdbRelay *r, cursor *c) {
    char name[16];
    int encver, when;
    getModule(c, name, &encver, &when);
    return CALL(module_aux, name, encver, when);
}
static int send_module_value(void *ctx, const char *name, int encver) {
    return sendModule(ctx, OP_module_value, name, encver, 0);
}
static int replay_module_value(rdbRelay *r, cursor *c) {
    char name[16];
    int encver, when;
    getModule(c, name, &encver, &when);
    return CALL(module_value, name, encver);
}

static int send_eof(void *ctx, const rdbEofInfo *e) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_eof, sizeof(*e)) < 0) return -1;
    put(r, e, sizeof(*e));
    return 0;
}
static int replay_eof(rdbRelay *r, cursor *c) {
    rdbEofInfo e;
    getPod(c, &e, sizeof(e));
    return CALL(eof, &e);
}

static int send_key_begin(void *ctx, const rdbKeyInfo *k) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_key_begin, 8 * 7 + STRSZ(k->keylen)) < 0) return -1;
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
static int replay_key_begin(rdbRelay *r, cursor *c) {
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

static int send_key_end(void *ctx, const rdbKeyInfo *k) { return opOnly(ctx, OP_key_end, 0); }
static int replay_key_end(rdbRelay *r, cursor *c) { return CALL(key_end, &r->key); }

/* raw_value is no event (decode.h) but travels like one. */
static int sendWantRaw(void *ctx, const rdbKeyInfo *k) {
    rdbRelay *r = ctx;
    return r->t.raw_value && (!r->t.want_raw || r->t.want_raw(r->t.ctx, k));
}
static int sendRaw(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    return emitStr(ctx, OP_RAW, (const char *)p, len);
}
static int replayRaw(rdbRelay *r, cursor *c) {
    size_t a;
    const char *s = getStr(c, &a);
    return CALL(raw_value, &r->key, (const unsigned char *)s, a);
}

static int send_string(void *ctx, const char *p, size_t len) { return emitStr(ctx, OP_string, p, len); }
static int send_list_item(void *ctx, const char *p, size_t len) { return emitStr(ctx, OP_list_item, p, len); }
static int send_set_member(void *ctx, const char *p, size_t len) { return emitStr(ctx, OP_set_member, p, len); }
static int replay_string(rdbRelay *r, cursor *c) {
    size_t a;
    const char *s = getStr(c, &a);
    return CALL(string, s, a);
}
static int replay_list_item(rdbRelay *r, cursor *c) {
    size_t a;
    const char *s = getStr(c, &a);
    return CALL(list_item, s, a);
}
static int replay_set_member(rdbRelay *r, cursor *c) {
    size_t a;
    const char *s = getStr(c, &a);
    return CALL(set_member, s, a);
}

static int send_zset_member(void *ctx, const char *p, size_t len, double score) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_zset_member, 8 + STRSZ(len)) < 0) return -1;
    put(r, &score, 8);
    putStr(r, p, len);
    return 0;
}
static int replay_zset_member(rdbRelay *r, cursor *c) {
    double score;
    size_t a;
    getPod(c, &score, 8);
    const char *s = getStr(c, &a);
    return CALL(zset_member, s, a, score);
}

static int send_hash_field(void *ctx, const char *f, size_t fl, const char *v, size_t vl, int64_t exp) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_hash_field, 8 + STRSZ(fl) + STRSZ(vl)) < 0) return -1;
    putU64(r, (uint64_t)exp);
    putStr(r, f, fl);
    putStr(r, v, vl);
    return 0;
}
static int replay_hash_field(rdbRelay *r, cursor *c) {
    size_t a, b;
    int64_t exp = (int64_t)getU64(c);
    const char *s = getStr(c, &a), *t = getStr(c, &b);
    return CALL(hash_field, s, a, t, b, exp);
}

static int send_stream_node(void *ctx, const unsigned char *key16, const unsigned char *lp, size_t lplen) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_stream_node, 16 + STRSZ(lplen)) < 0) return -1;
    put(r, key16, 16);
    putStr(r, lp, lplen);
    return 0;
}
static int replay_stream_node(rdbRelay *r, cursor *c) {
    size_t a;
    const unsigned char *key = c->p;
    c->p += 16;
    const char *s = getStr(c, &a);
    return CALL(stream_node, key, (const unsigned char *)s, a);
}

static int send_stream_entry(void *ctx, rdbStreamId id, uint64_t nfields) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_stream_entry, 24) < 0) return -1;
    putId(r, id);
    putU64(r, nfields);
    return 0;
}
static int replay_stream_entry(rdbRelay *r, cursor *c) {
    rdbStreamId id = getId(c);
    return CALL(stream_entry, id, getU64(c));
}

static int send_stream_field(void *ctx, const char *f, size_t fl, const char *v, size_t vl) {
    return sendTwo(ctx, OP_stream_field, f, fl, v, vl);
}
static int replay_stream_field(rdbRelay *r, cursor *c) {
    size_t a, b;
    const char *s = getStr(c, &a), *t = getStr(c, &b);
    return CALL(stream_field, s, a, t, b);
}

static int send_stream_meta(void *ctx, const rdbStreamMeta *m) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_stream_meta, sizeof(*m)) < 0) return -1;
    put(r, m, sizeof(*m));
    return 0;
}
static int replay_stream_meta(rdbRelay *r, cursor *c) {
    rdbStreamMeta m;
    getPod(c, &m, sizeof(m));
    return CALL(stream_meta, &m);
}

static int send_stream_group(void *ctx, const rdbStreamGroup *g) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_stream_group, sizeof(*g) + STRSZ(g->namelen)) < 0) return -1;
    put(r, g, sizeof(*g));
    putStr(r, g->name, g->namelen);
    return 0;
}
static int replay_stream_group(rdbRelay *r, cursor *c) {
    rdbStreamGroup g;
    getPod(c, &g, sizeof(g));
    g.name = getStr(c, &g.namelen);
    return CALL(stream_group, &g);
}

static int send_stream_idmp_entry(void *ctx, const char *pid, size_t pl, const char *iid, size_t il,
                                  rdbStreamId id) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_stream_idmp_entry, 16 + STRSZ(pl) + STRSZ(il)) < 0) return -1;
    putId(r, id);
    putStr(r, pid, pl);
    putStr(r, iid, il);
    return 0;
}
static int replay_stream_idmp_entry(rdbRelay *r, cursor *c) {
    size_t a, b;
    rdbStreamId id = getId(c);
    const char *s = getStr(c, &a), *t = getStr(c, &b);
    return CALL(stream_idmp_entry, s, a, t, b, id);
}

static int send_stream_idmp(void *ctx, const rdbStreamIdmp *m) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_stream_idmp, sizeof(*m)) < 0) return -1;
    put(r, m, sizeof(*m));
    return 0;
}
static int replay_stream_idmp(rdbRelay *r, cursor *c) {
    rdbStreamIdmp m;
    getPod(c, &m, sizeof(m));
    return CALL(stream_idmp, &m);
}

static int send_stream_pel(void *ctx, rdbStreamId id, int64_t t, uint64_t count) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_stream_pel, 32) < 0) return -1;
    putId(r, id);
    putU64(r, (uint64_t)t);
    putU64(r, count);
    return 0;
}
static int replay_stream_pel(rdbRelay *r, cursor *c) {
    rdbStreamId id = getId(c);
    int64_t t = (int64_t)getU64(c);
    return CALL(stream_pel, id, t, getU64(c));
}

static int send_stream_consumer(void *ctx, const rdbStreamConsumer *k) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_stream_consumer, sizeof(*k) + STRSZ(k->namelen)) < 0) return -1;
    put(r, k, sizeof(*k));
    putStr(r, k->name, k->namelen);
    return 0;
}
static int replay_stream_consumer(rdbRelay *r, cursor *c) {
    rdbStreamConsumer k;
    getPod(c, &k, sizeof(k));
    k.name = getStr(c, &k.namelen);
    return CALL(stream_consumer, &k);
}

static int send_stream_consumer_pel(void *ctx, rdbStreamId id) {
    rdbRelay *r = ctx;
    if (opOnly(r, OP_stream_consumer_pel, 16) < 0) return -1;
    putId(r, id);
    return 0;
}
static int replay_stream_consumer_pel(rdbRelay *r, cursor *c) { return CALL(stream_consumer_pel, getId(c)); }

/* ---- Wiring and dispatch, generated ---- */

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
#define RELAY_WIRE(name, params, args) \
    if (t->name) h->name = send_##name;
    RDB_EVENTS(RELAY_WIRE)
#undef RELAY_WIRE
    h->header = send_header;       /* the worker needs the flavour for type lookups */
    h->key_begin = send_key_begin; /* and the key for every key callback */
    h->key_end = send_key_end;
    if (t->raw_value) h->want_raw = sendWantRaw, h->raw_value = sendRaw;
}

static int replayOne(rdbRelay *r, cursor *c) {
    int op = *c->p++;
    switch (op) {
    case OP_RAW: return replayRaw(r, c);
#define RELAY_CASE(name, params, args) \
    case OP_##name: return replay_##name(r, c);
        RDB_EVENTS(RELAY_CASE)
#undef RELAY_CASE
    }
    return -1; /* never: both ends are this build */
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

/* digest.c -- the logical dataset digest defined in digest.h.
 *
 * A consumer of the decoder. Per key, the content callbacks build V:
 *   - ordered types (list, stream) feed one running SHA-256 (dg->ord);
 *   - unordered types (set, zset, hash) hash each element on its own and add
 *     the hashes into a 256-bit sum (dg->esum), so that any order gives the
 *     same result without keeping the elements;
 *   - string and module values are hashed when they arrive.
 * key_end turns V into K and adds K to the key sum; function() adds to the
 * function sum. Memory is this struct, whatever the dataset.
 *
 * Speed: every hash goes through a small stack buffer (hasher) in front of
 * SHA256_Update, so a short element costs one compression and a couple of
 * memcpys, while a long value is passed to SHA-256 in place, never copied.
 * The low-level SHA256_Init/Update/Final on a stack context are used: in
 * OpenSSL 3 the one-shot SHA256() goes through EVP and fetches the
 * algorithm per call (measured 307 ns against 53 ns for a 20-byte input).
 */
#include "digest.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST_MAGIC "rdbsync-digest-1"

/* ---- A SHA-256 with a small buffer in front of it ---- */

typedef struct hasher {
    SHA256_CTX c;
    size_t n;
    unsigned char b[240];
} hasher;

static void hInit(hasher *h) {
    SHA256_Init(&h->c);
    h->n = 0;
}

static void hPut(hasher *h, const void *p, size_t len) {
    if (len == 0) return; /* p may be NULL then (a key-less DUMP value) */
    if (h->n + len > sizeof h->b) {
        if (h->n) SHA256_Update(&h->c, h->b, h->n);
        h->n = 0;
        if (len > sizeof h->b / 2) { /* big: hash in place, no copy */
            SHA256_Update(&h->c, p, len);
            return;
        }
    }
    memcpy(h->b + h->n, p, len);
    h->n += len;
}

/* Most hashes here are of one short element: for a message that fits one
 * block, pad it ourselves and run the compression function once, which
 * skips SHA256_Final's bookkeeping (a third of the time per element). */
static int hFinalShort(hasher *h, unsigned char out[RDB_DIGEST_LEN]) {
    unsigned char blk[64];
    if (h->c.Nl || h->c.Nh || h->n > 55) return 0;
    memcpy(blk, h->b, h->n);
    blk[h->n] = 0x80;
    memset(blk + h->n + 1, 0, 55 - h->n);
    uint64_t bits = (uint64_t)h->n * 8;
    for (int i = 0; i < 8; i++) blk[63 - i] = (unsigned char)(bits >> (8 * i));
    SHA256_Transform(&h->c, blk);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(h->c.h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h->c.h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h->c.h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h->c.h[i];
    }
    return 1;
}

static void hFinal(hasher *h, unsigned char out[RDB_DIGEST_LEN]) {
    if (hFinalShort(h, out)) return;
    if (h->n) SHA256_Update(&h->c, h->b, h->n);
    SHA256_Final(out, &h->c);
}

static void hU8(hasher *h, unsigned char v) { hPut(h, &v, 1); }

/* Integers are little-endian in the definition whatever the host. */
static inline uint64_t toLE(uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static void hU64(hasher *h, uint64_t v) {
    v = toLE(v);
    hPut(h, &v, 8);
}

static void hI64(hasher *h, int64_t v) { hU64(h, (uint64_t)v); }

/* str(s) = u64le(len(s)) || s */
static void hStr(hasher *h, const void *p, size_t len) {
    hU64(h, len);
    hPut(h, p, len);
}

static void hId(hasher *h, rdbStreamId id) {
    hU64(h, id.ms);
    hU64(h, id.seq);
}

/* f64le: the IEEE-754 bits of the double, little-endian; -0 as +0 (see
 * digest.h: the encoding decides whether Redis keeps the sign). */
static void hF64(hasher *h, double d) {
    uint64_t bits;
    if (d == 0) d = 0.0;
    memcpy(&bits, &d, sizeof bits);
    hU64(h, bits);
}

/* ---- 256-bit sums of hashes read as little-endian integers ---- */

typedef struct sum256 {
    uint64_t w[4]; /* w[0] least significant */
} sum256;

static void sumAdd(sum256 *s, const unsigned char hash[RDB_DIGEST_LEN]) {
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t x;
        memcpy(&x, hash + 8 * i, 8);
        x = toLE(x);
        /* s + x + carry, with the carry out of either addition */
        uint64_t c1 = __builtin_add_overflow(s->w[i], x, &s->w[i]);
        uint64_t c2 = __builtin_add_overflow(s->w[i], carry, &s->w[i]);
        carry = c1 | c2;
    }
}

static void hSum(hasher *h, const sum256 *s) {
    for (int i = 0; i < 4; i++) hU64(h, s->w[i]);
}

/* ---- The digest ---- */

struct rdbDigest {
    uint64_t nkeys, nfunctions;
    sum256 keysum, fnsum;

    /* The key being decoded. */
    rdbLType ltype;
    int have_v;             /* v is set (string, module) */
    unsigned char v[RDB_DIGEST_LEN];
    uint64_t n;             /* elements so far (list, set, zset, hash) */
    sum256 esum;            /* set, zset, hash */
    hasher ord;             /* list, stream */
    int consumers_pending;  /* stream: u64le(nconsumers) not yet written */
    uint64_t nconsumers;
};

rdbDigest *rdbDigestNew(void) { return calloc(1, sizeof(rdbDigest)); }

void rdbDigestFree(rdbDigest *dg) { free(dg); }

uint64_t rdbDigestKeys(const rdbDigest *dg) { return dg->nkeys; }

/* Add H(parts) to the element sum; the caller has fed the parts to h. */
static void addElement(rdbDigest *dg, hasher *h) {
    unsigned char e[RDB_DIGEST_LEN];
    hFinal(h, e);
    sumAdd(&dg->esum, e);
    dg->n++;
}

static int onKeyBegin(void *ctx, const rdbKeyInfo *k) {
    rdbDigest *dg = ctx;
    dg->ltype = k->ltype;
    dg->have_v = 0;
    dg->n = 0;
    memset(&dg->esum, 0, sizeof dg->esum);
    dg->consumers_pending = 0;
    if (k->ltype == RDB_LT_LIST) {
        hInit(&dg->ord);
        hPut(&dg->ord, "l", 1);
    } else if (k->ltype == RDB_LT_STREAM) {
        hInit(&dg->ord);
        hPut(&dg->ord, "x", 1);
    }
    return 0;
}

/* H(tag || str(p)): the V of a string or a module value. */
static void tagStrHash(const char *tag, const void *p, size_t len, unsigned char out[RDB_DIGEST_LEN]) {
    hasher h;
    hInit(&h);
    hPut(&h, tag, 1);
    hStr(&h, p, len);
    hFinal(&h, out);
}

/* H(tag || u64le(n) || SUM): the V of a set, zset or hash. */
static void countedSumHash(const char *tag, uint64_t n, const sum256 *s, unsigned char out[RDB_DIGEST_LEN]) {
    hasher h;
    hInit(&h);
    hPut(&h, tag, 1);
    hU64(&h, n);
    hSum(&h, s);
    hFinal(&h, out);
}

static void flushConsumerCount(rdbDigest *dg) {
    if (!dg->consumers_pending) return;
    hU64(&dg->ord, dg->nconsumers);
    dg->consumers_pending = 0;
}

/* V for the key that ends, from whatever its callbacks accumulated. A type
 * without content callbacks gets the V of its empty value. */
static void finishValue(rdbDigest *dg, unsigned char v[RDB_DIGEST_LEN]) {
    switch (dg->ltype) {
    case RDB_LT_LIST:
        hU64(&dg->ord, dg->n);
        hFinal(&dg->ord, v);
        return;
    case RDB_LT_STREAM:
        flushConsumerCount(dg);
        hFinal(&dg->ord, v);
        return;
    case RDB_LT_SET: countedSumHash("S", dg->n, &dg->esum, v); return;
    case RDB_LT_ZSET: countedSumHash("z", dg->n, &dg->esum, v); return;
    case RDB_LT_HASH: countedSumHash("h", dg->n, &dg->esum, v); return;
    case RDB_LT_MODULE:
        if (!dg->have_v) tagStrHash("M", "", 0, dg->v);
        break;
    default: /* string (and nothing else reaches here from the decoder) */
        if (!dg->have_v) tagStrHash("s", "", 0, dg->v);
        break;
    }
    memcpy(v, dg->v, RDB_DIGEST_LEN);
}

static int onKeyEnd(void *ctx, const rdbKeyInfo *k) {
    rdbDigest *dg = ctx;
    unsigned char v[RDB_DIGEST_LEN], key[RDB_DIGEST_LEN];
    hasher h;

    finishValue(dg, v);
    hInit(&h);
    hPut(&h, "K", 1);
    hU64(&h, k->db);
    hStr(&h, k->key, k->keylen);
    hU8(&h, (unsigned char)k->ltype);
    hI64(&h, k->expire_ms);
    hPut(&h, v, sizeof v);
    hFinal(&h, key);
    sumAdd(&dg->keysum, key);
    dg->nkeys++;
    return 0;
}

static int onFunction(void *ctx, const rdbFunction *fn) {
    rdbDigest *dg = ctx;
    unsigned char f[RDB_DIGEST_LEN];
    tagStrHash("F", fn->code, fn->len, f);
    sumAdd(&dg->fnsum, f);
    dg->nfunctions++;
    return 0;
}

/* Raw bytes are only needed for module values, and capturing costs a copy
 * of every value, so ask for them for module keys alone. */
static int onWantRaw(void *ctx, const rdbKeyInfo *k) { return k->ltype == RDB_LT_MODULE; }

static int onRawValue(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    rdbDigest *dg = ctx;
    if (k->ltype != RDB_LT_MODULE) return 0;
    tagStrHash("M", p, len, dg->v);
    dg->have_v = 1;
    return 0;
}

/* ---- Content ---- */

static int onString(void *ctx, const char *p, size_t len) {
    rdbDigest *dg = ctx;
    tagStrHash("s", p, len, dg->v);
    dg->have_v = 1;
    return 0;
}

static int onListItem(void *ctx, const char *p, size_t len) {
    rdbDigest *dg = ctx;
    hStr(&dg->ord, p, len);
    dg->n++;
    return 0;
}

static int onSetMember(void *ctx, const char *p, size_t len) {
    hasher h;
    hInit(&h);
    hStr(&h, p, len);
    addElement(ctx, &h);
    return 0;
}

static int onZsetMember(void *ctx, const char *p, size_t len, double score) {
    hasher h;
    hInit(&h);
    hStr(&h, p, len);
    hF64(&h, score);
    addElement(ctx, &h);
    return 0;
}

static int onHashField(void *ctx, const char *f, size_t flen, const char *v, size_t vlen,
                       int64_t expire_ms) {
    hasher h;
    hInit(&h);
    hStr(&h, f, flen);
    hStr(&h, v, vlen);
    hI64(&h, expire_ms);
    addElement(ctx, &h);
    return 0;
}

/* ---- Streams: one ordered serialization ---- */

static int onStreamEntry(void *ctx, rdbStreamId id, uint64_t nfields) {
    rdbDigest *dg = ctx;
    hId(&dg->ord, id);
    hU64(&dg->ord, nfields);
    return 0;
}

static int onStreamField(void *ctx, const char *f, size_t flen, const char *v, size_t vlen) {
    rdbDigest *dg = ctx;
    hStr(&dg->ord, f, flen);
    hStr(&dg->ord, v, vlen);
    return 0;
}

static int onStreamMeta(void *ctx, const rdbStreamMeta *m) {
    rdbDigest *dg = ctx;
    hPut(&dg->ord, "m", 1);
    hU64(&dg->ord, m->length);
    hId(&dg->ord, m->last_id);
    hId(&dg->ord, m->first_id);
    hId(&dg->ord, m->max_deleted);
    hU64(&dg->ord, m->entries_added);
    hU64(&dg->ord, m->groups);
    return 0;
}

/* The group's consumer count goes after its PEL, which has not arrived
 * yet: it is written by whatever comes next (consumer, group, key end). */
static int onStreamGroup(void *ctx, const rdbStreamGroup *g) {
    rdbDigest *dg = ctx;
    flushConsumerCount(dg);
    hPut(&dg->ord, "g", 1);
    hStr(&dg->ord, g->name, g->namelen);
    hId(&dg->ord, g->last_id);
    hI64(&dg->ord, g->entries_read);
    hU64(&dg->ord, g->pel_count);
    dg->nconsumers = g->consumers;
    dg->consumers_pending = 1;
    return 0;
}

static int onStreamPel(void *ctx, rdbStreamId id, int64_t delivery_time, uint64_t delivery_count) {
    rdbDigest *dg = ctx;
    hId(&dg->ord, id);
    hI64(&dg->ord, delivery_time);
    hU64(&dg->ord, delivery_count);
    return 0;
}

static int onStreamConsumer(void *ctx, const rdbStreamConsumer *c) {
    rdbDigest *dg = ctx;
    flushConsumerCount(dg);
    hPut(&dg->ord, "c", 1);
    hStr(&dg->ord, c->name, c->namelen);
    hI64(&dg->ord, c->seen_time);
    hI64(&dg->ord, c->active_time);
    hU64(&dg->ord, c->pel_count);
    return 0;
}

static int onStreamConsumerPel(void *ctx, rdbStreamId id) {
    rdbDigest *dg = ctx;
    hId(&dg->ord, id);
    return 0;
}

/* ---- Public ---- */

void rdbDigestHandlers(rdbDigest *dg, rdbHandlers *h) {
    memset(h, 0, sizeof *h);
    h->ctx = dg;
    h->function = onFunction;
    h->key_begin = onKeyBegin;
    h->key_end = onKeyEnd;
    h->want_raw = onWantRaw;
    h->raw_value = onRawValue;
    h->string = onString;
    h->list_item = onListItem;
    h->set_member = onSetMember;
    h->zset_member = onZsetMember;
    h->hash_field = onHashField;
    h->stream_entry = onStreamEntry;
    h->stream_field = onStreamField;
    h->stream_meta = onStreamMeta;
    h->stream_group = onStreamGroup;
    h->stream_pel = onStreamPel;
    h->stream_consumer = onStreamConsumer;
    h->stream_consumer_pel = onStreamConsumerPel;
}

void rdbDigestFinal(rdbDigest *dg, unsigned char out[RDB_DIGEST_LEN]) {
    hasher h;
    hInit(&h);
    hPut(&h, DIGEST_MAGIC, sizeof DIGEST_MAGIC - 1);
    hU64(&h, dg->nkeys);
    hSum(&h, &dg->keysum);
    hU64(&h, dg->nfunctions);
    hSum(&h, &dg->fnsum);
    hFinal(&h, out);
}

void rdbDigestHex(rdbDigest *dg, char out[2 * RDB_DIGEST_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char d[RDB_DIGEST_LEN];
    rdbDigestFinal(dg, d);
    for (int i = 0; i < RDB_DIGEST_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * RDB_DIGEST_LEN] = '\0';
}

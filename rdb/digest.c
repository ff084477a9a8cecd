/* digest.c -- the logical dataset digest defined in digest.h.
 *
 * A consumer of the decoder. Per key, the content callbacks build V:
 *   - ordered types (list, stream) feed one running SHA-256 (dg->ord), or
 *     for a list, its message is kept in its slot and hashed in lanes;
 *   - unordered types (set, zset, hash) hash each element on its own and add
 *     the hashes into a 256-bit sum (the key's slot), so that any order
 *     gives the same result without keeping the elements;
 *   - string and module values are hashed when they arrive.
 * key_end turns V into K and adds K to the key sum; function() adds to the
 * function sum. Memory is this struct (and one K message and, for lists,
 * up to LMSG_MAX bytes per key in flight), whatever the dataset.
 *
 * Speed: a dump is mostly short elements, each one SHA-256 block, so the
 * elements (up to four blocks), a set's V, a string's V of one block and
 * the blocks of every K go through 16-lane batches (sha256x.h) and finish a
 * few batches later; see "Blocks in flight" below. So do a string's V of
 * 2-4 blocks and a list's V of up to LMSG_MAX bytes, chained a block a
 * batch, where that is faster than OpenSSL one message at a time
 * (sha256xChainInLanes: AVX-512, SHA-NI, or AVX2 without SHA-NI). Longer messages
 * (streams, big strings, long lists)
 * go through a small stack buffer (hasher) in front of OpenSSL's
 * SHA256_Update, passed in place when long. The low-level
 * SHA256_Init/Update/Final on a stack context are used: in OpenSSL 3 the
 * one-shot SHA256() goes through EVP and fetches the algorithm per call
 * (measured 307 ns against 53 ns for a 20-byte input).
 */
#include "digest.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "sha256x.h"

#define DIGEST_MAGIC "rdbsync-digest-2"

/* ---- A SHA-256 with a small buffer in front of it ---- */

/* SHA-256 padding after a message of len bytes in m: 0x80, zeros, the bit
 * length big-endian; m has room for it. The padded length (blocks * 64). */
static size_t padMessage(unsigned char *m, size_t len) {
    uint64_t bits = (uint64_t)len * 8;
    size_t total = (len + 9 + 63) / 64 * 64;
    m[len] = 0x80;
    memset(m + len + 1, 0, total - len - 9);
    for (int i = 0; i < 8; i++) m[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    return total;
}

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
    padMessage(blk, h->n);
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

/* ---- 256-bit sums of hashes read as little-endian integers ---- */

/* A sum is kept as w (normalised) plus acc: the hash's eight 32-bit limbs
 * added into eight 64-bit accumulators with no carry between them, so that
 * consecutive adds do not wait on each other's carries (they did: the
 * carry chain showed in profiles). sumFold moves acc into w; it runs
 * before a sum is read, and every 2^30 adds, long before acc could
 * overflow. */
typedef struct sum256 {
    uint64_t w[4]; /* w[0] least significant */
    uint64_t acc[8];
    uint32_t pending;
} sum256;

static void sumFold(sum256 *s) {
    uint64_t limb[8], carry = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t t = s->acc[i] + carry; /* acc < 2^62, carry < 2^33: no wrap */
        limb[i] = t & 0xffffffffu;
        carry = t >> 32;
        s->acc[i] = 0;
    }
    carry = 0; /* what passes 2^256 is dropped: the sum is mod 2^256 */
    for (int i = 0; i < 4; i++) {
        uint64_t x = limb[2 * i] | limb[2 * i + 1] << 32;
        uint64_t c1 = __builtin_add_overflow(s->w[i], x, &s->w[i]);
        uint64_t c2 = __builtin_add_overflow(s->w[i], carry, &s->w[i]);
        carry = c1 | c2;
    }
    s->pending = 0;
}

static void sumAdd(sum256 *s, const unsigned char hash[RDB_DIGEST_LEN]) {
    for (int i = 0; i < 8; i++) {
        uint32_t x;
        memcpy(&x, hash + 4 * i, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        x = __builtin_bswap32(x);
#endif
        s->acc[i] += x;
    }
    if (++s->pending == 1u << 30) sumFold(s);
}

static void sumAddSum(sum256 *s, sum256 *t) {
    unsigned char b[RDB_DIGEST_LEN];
    sumFold(t);
    for (int i = 0; i < 4; i++) {
        uint64_t x = toLE(t->w[i]);
        memcpy(b + 8 * i, &x, 8);
    }
    sumAdd(s, b);
}

static void hSum(hasher *h, sum256 *s) {
    sumFold(s);
    for (int i = 0; i < 4; i++) hU64(h, s->w[i]);
}

/* ---- Blocks in flight: 16-lane batches ---- *
 *
 * Every message of one block (most elements, a set's V) and every block of
 * every K message is compressed in a batch of SHA256X_LANES independent
 * blocks. A lane carries a job; when the batch has run, each job's
 * completion does what the definition says with its hash, which may start
 * the next job of the same key:
 *   JOB_ELEM  add to the key's element sum; the last one starts JOB_VSUM
 *   JOB_ELEMX one block of an element of 2-4 blocks, kept in an xmsg until
 *             its last block, which does what JOB_ELEM does
 *   JOB_VSUM  V = H(tag || n || SUM) of a set, zset or hash: starts K
 *   JOB_STRV  V = H("s" || str(value)) of a string of one block: starts K
 *             once the key has ended (an xmsg carries the longer ones)
 *   JOB_LIST  one block of a list's V, its message kept in the slot (lm)
 *             from key_begin on; queued at key_end; the last one starts K
 *   JOB_KEY   one block of K; the last one adds K to the key sum
 * So keys are finished out of order, a few batches after their last event,
 * and each key in flight keeps a slot (its element sum and K message). */

enum { JOB_ELEM, JOB_ELEMX, JOB_VSUM, JOB_KEY, JOB_STRV, JOB_LIST };

#define NSLOTS 256
#define SLOT_MSG 256 /* K message bytes kept per slot; longer keys grow it */
#define NXMSG 64     /* elements of 2-4 blocks in flight */
#define XMSG_MAX 256 /* longer elements are hashed on the spot */
#define LMSG_MAX 2048 /* a list's V message kept for lanes; longer lists stream into 'ord' */

typedef struct xmsg {
    unsigned char m[XMSG_MAX]; /* the padded message */
    uint16_t slot, blk, nblk;
    uint8_t strv; /* a string's V, not an element */
} xmsg;

typedef struct slot {
    rdbLType ltype;
    int ended;          /* key_end seen, K message prefix written */
    uint32_t pending;   /* JOB_ELEMs in flight */
    int vstate;         /* string V: 0 not queued, 1 in flight, 2 known (v) */
    unsigned char v[RDB_DIGEST_LEN];
    uint64_t n;         /* elements (set, zset, hash) */
    sum256 esum;
    unsigned char *msg; /* K message: prefix, then V and padding */
    size_t len, cap, blk, nblk;
    unsigned char *lm;  /* list: its V message (LMSG_MAX + padding), while lanes hash it */
    size_t llen, lblk, lnblk;
} slot;

typedef struct batch {
    unsigned char blk[SHA256X_LANES][64];
    unsigned char st[SHA256X_LANES][32];
    unsigned char kind[SHA256X_LANES];
    uint16_t slot[SHA256X_LANES];
    int n;
    int chained;    /* lanes continuing a message (not from the IV) */
    uint32_t fresh; /* lanes starting a message: st not yet set */
} batch;

struct rdbDigest {
    uint64_t nkeys, nfunctions;
    sum256 keysum, fnsum;

    /* Two batches: the jobs that completions start go into the other one
     * while a batch's outputs are read in place. */
    batch bb[2];
    int cb; /* the batch being filled */
    slot slots[NSLOTS];
    uint16_t freelist[NSLOTS];
    int nfree;
    xmsg x[NXMSG];
    uint16_t xfree[NXMSG];
    int nxfree;

    /* The key being decoded. */
    int cur;                /* its slot */
    int have_v;             /* v is set (string, module) */
    unsigned char v[RDB_DIGEST_LEN];
    hasher ord;             /* stream, and a list too long for lanes */
    int lsync;              /* the current list streams into 'ord' */
    int chain;              /* long string V and lists in lanes (sha256xChainInLanes) */
    int consumers_pending;  /* stream: u64le(nconsumers) not yet written */
    uint64_t nconsumers;
};

/* Slot buffers are allocated on first use: --verify makes a digest per key. */
rdbDigest *rdbDigestNew(void) {
    rdbDigest *dg = calloc(1, sizeof(*dg));
    if (!dg) return NULL;
    for (int i = 0; i < NSLOTS; i++) dg->freelist[dg->nfree++] = (uint16_t)(NSLOTS - 1 - i);
    for (int i = 0; i < NXMSG; i++) dg->xfree[dg->nxfree++] = (uint16_t)i;
    dg->cur = -1;
    dg->chain = sha256xChainInLanes();
    return dg;
}

void rdbDigestFree(rdbDigest *dg) {
    if (!dg) return;
    for (int i = 0; i < NSLOTS; i++) free(dg->slots[i].msg), free(dg->slots[i].lm);
    free(dg);
}

uint64_t rdbDigestKeys(const rdbDigest *dg) { return dg->nkeys; }

/* Put a job in the next lane; the caller has made room (see room()).
 * blk NULL: the caller writes the block into the lane itself (returned). */
static unsigned char *push(rdbDigest *dg, int kind, int sl, const unsigned char *blk,
                           const unsigned char *state) {
    batch *b = &dg->bb[dg->cb];
    int lane = b->n++;
    if (blk) memcpy(b->blk[lane], blk, 64);
    if (state) { /* a lane from the IV gets it only if the batch needs states */
        memcpy(b->st[lane], state, 32);
        b->chained++;
    } else {
        b->fresh |= 1u << lane;
    }
    b->kind[lane] = (unsigned char)kind;
    b->slot[lane] = (uint16_t)sl;
    return b->blk[lane];
}

/* Pad a message of len bytes (< 56) in a block that was zeroed before the
 * message went in (one constant-size clear instead of a variable one). */
static void padBlock(unsigned char blk[64], size_t len) {
    uint64_t bits = (uint64_t)len * 8;
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
    bits = __builtin_bswap64(bits); /* the length is big-endian */
#endif
    blk[len] = 0x80;
    memcpy(blk + 56, &bits, 8);
}

/* V is known: finish the slot's K message (V, padding) and queue its
 * first block. The message has room: see keyPrefix(). */
static void startKey(rdbDigest *dg, int sl, const unsigned char v[RDB_DIGEST_LEN]) {
    slot *s = &dg->slots[sl];
    memcpy(s->msg + s->len, v, RDB_DIGEST_LEN);
    s->len = padMessage(s->msg, s->len + RDB_DIGEST_LEN);
    s->nblk = s->len / 64;
    s->blk = 0;
    push(dg, JOB_KEY, sl, s->msg, NULL);
}

/* H(tag || u64le(n) || SUM): the V of a set, zset or hash, as a job. */
static void startSumValue(rdbDigest *dg, int sl) {
    static const char tags[RDB_LT_COUNT] = {[RDB_LT_SET] = 'S', [RDB_LT_ZSET] = 'z', [RDB_LT_HASH] = 'h'};
    slot *s = &dg->slots[sl];
    unsigned char *blk = push(dg, JOB_VSUM, sl, NULL, NULL);
    uint64_t n = toLE(s->n);
    memset(blk, 0, 64);
    blk[0] = (unsigned char)tags[s->ltype];
    memcpy(blk + 1, &n, 8);
    sumFold(&s->esum);
    for (int i = 0; i < 4; i++) {
        uint64_t x = toLE(s->esum.w[i]);
        memcpy(blk + 9 + 8 * i, &x, 8);
    }
    padBlock(blk, 41);
}

static void freeSlot(rdbDigest *dg, int sl) { dg->freelist[dg->nfree++] = (uint16_t)sl; }

/* An element's hash is known: into its key's sum; the key's last one
 * starts V. */
static void elementDone(rdbDigest *dg, int sl, const unsigned char h[RDB_DIGEST_LEN]) {
    slot *s = &dg->slots[sl];
    sumAdd(&s->esum, h);
    if (--s->pending == 0 && s->ended) startSumValue(dg, sl);
}

/* A string's V is known: K starts now if the key has ended, else at its
 * end. */
static void stringDone(rdbDigest *dg, int sl, const unsigned char h[RDB_DIGEST_LEN]) {
    slot *s = &dg->slots[sl];
    if (s->ended) {
        s->vstate = 0;
        startKey(dg, sl, h);
        return;
    }
    memcpy(s->v, h, RDB_DIGEST_LEN);
    s->vstate = 2;
}

/* What a finished job means (see the comment above JOB_ELEM). Each queues
 * at most one job, so the completions of one batch fit in the next. */
static void complete(rdbDigest *dg, int kind, int sl, const unsigned char h[RDB_DIGEST_LEN]) {
    slot *s = &dg->slots[sl];
    switch (kind) {
    case JOB_ELEMX: {
        xmsg *x = &dg->x[sl]; /* sl is the xmsg here */
        if (++x->blk < x->nblk) {
            push(dg, JOB_ELEMX, sl, x->m + 64 * x->blk, h);
            return;
        }
        dg->xfree[dg->nxfree++] = (uint16_t)sl;
        if (x->strv) stringDone(dg, x->slot, h);
        else elementDone(dg, x->slot, h);
        return;
    }
    case JOB_ELEM: elementDone(dg, sl, h); return;
    case JOB_STRV: stringDone(dg, sl, h); return;
    case JOB_LIST:
        if (++s->lblk < s->lnblk) push(dg, JOB_LIST, sl, s->lm + 64 * s->lblk, h);
        else startKey(dg, sl, h);
        return;
    case JOB_VSUM: startKey(dg, sl, h); return;
    default:
        if (++s->blk < s->nblk) {
            push(dg, JOB_KEY, sl, s->msg + 64 * s->blk, h);
            return;
        }
        sumAdd(&dg->keysum, h);
        freeSlot(dg, sl);
    }
}

/* Compress the lanes in use and complete their jobs. */
static void runBatch(rdbDigest *dg) {
    batch *b = &dg->bb[dg->cb];
    int n = b->n;
    if (n == 0) return;
    if (b->chained) {
        for (uint32_t f = b->fresh; f; f &= f - 1) memcpy(b->st[__builtin_ctz(f)], sha256xIV, 32);
        sha256xCompress(b->st, (const unsigned char (*)[64])b->blk);
    } else {
        sha256xCompressFromIV(b->st, (const unsigned char (*)[64])b->blk); /* skips loading st */
    }
    b->chained = 0;
    b->fresh = 0;
    dg->cb ^= 1; /* the other batch is empty: completions queue there */
    for (int lane = 0; lane < n; lane++) complete(dg, b->kind[lane], b->slot[lane], b->st[lane]);
    b->n = 0;
}

/* Make room for one more job. */
static void room(rdbDigest *dg) {
    while (dg->bb[dg->cb].n == SHA256X_LANES) runBatch(dg);
}

/* Every job done, every key in the key sum. */
static void drain(rdbDigest *dg) {
    while (dg->bb[dg->cb].n) runBatch(dg);
}

/* One element, whose message is str(a) [|| str(b)] [|| 8 bytes of tail]
 * (set: member; zset: member, score; hash: field, value, TTL): hashed in a
 * lane, written straight into it, when it fits one block, else here and
 * now; either way added to the current key's element sum. */
static void putLE64(unsigned char *p, uint64_t v) {
    v = toLE(v);
    memcpy(p, &v, 8);
}

/* str(a) [|| str(b)] [|| tail8] into o. */
static void putElement(unsigned char *o, const char *a, size_t al, const char *b, size_t bl, int hasb,
                       const unsigned char *tail8) {
    putLE64(o, al), o += 8;
    if (al) memcpy(o, a, al), o += al;
    if (hasb) {
        putLE64(o, bl), o += 8;
        if (bl) memcpy(o, b, bl), o += bl;
    }
    if (tail8) memcpy(o, tail8, 8);
}

static void addElement(rdbDigest *dg, const char *a, size_t al, const char *b, size_t bl, int hasb,
                       const unsigned char *tail8) {
    slot *s = &dg->slots[dg->cur];
    size_t len = 8 + al + (hasb ? 8 + bl : 0) + (tail8 ? 8 : 0);
    s->n++;
    if (len <= 55) {
        room(dg);
        unsigned char *blk = push(dg, JOB_ELEM, dg->cur, NULL, NULL);
        memset(blk, 0, 64);
        putElement(blk, a, al, b, bl, hasb, tail8);
        padBlock(blk, len);
        s->pending++;
        return;
    }
    if (len + 9 <= XMSG_MAX) {
        room(dg);
        while (dg->nxfree == 0) runBatch(dg); /* each xmsg in use has a block queued */
        int xi = dg->xfree[--dg->nxfree];
        xmsg *x = &dg->x[xi];
        putElement(x->m, a, al, b, bl, hasb, tail8);
        x->slot = (uint16_t)dg->cur, x->blk = 0, x->nblk = (uint16_t)(padMessage(x->m, len) / 64), x->strv = 0;
        room(dg); /* runBatch above may have filled the batch */
        push(dg, JOB_ELEMX, xi, x->m, NULL);
        s->pending++;
        return;
    }
    hasher h;
    unsigned char e[RDB_DIGEST_LEN];
    hInit(&h);
    hStr(&h, a, al);
    if (hasb) hStr(&h, b, bl);
    if (tail8) hPut(&h, tail8, 8);
    hFinal(&h, e);
    sumAdd(&s->esum, e);
}

static int onKeyBegin(void *ctx, const rdbKeyInfo *k) {
    rdbDigest *dg = ctx;
    int sl;
    if (dg->cur >= 0) {
        /* The previous key never ended (its decode failed and the digest
         * is used again): finish its jobs, which start nothing since it did
         * not end, and take its slot, so failures cannot leak slots. */
        drain(dg);
        sl = dg->cur;
    } else {
        while (dg->nfree == 0) runBatch(dg); /* every key in flight has a job queued */
        sl = dg->freelist[--dg->nfree];
    }
    slot *s = &dg->slots[sl];
    dg->cur = sl;
    s->ltype = k->ltype;
    s->ended = 0;
    s->pending = 0;
    s->vstate = 0;
    s->n = 0;
    memset(&s->esum, 0, sizeof s->esum);
    dg->have_v = 0;
    dg->consumers_pending = 0;
    if (k->ltype == RDB_LT_LIST) {
        /* Into lanes at key_end, unless it outgrows LMSG_MAX (or no room). */
        if (!s->lm && dg->chain) s->lm = malloc(LMSG_MAX + 72);
        dg->lsync = !dg->chain || !s->lm;
        if (dg->lsync) {
            hInit(&dg->ord);
            hPut(&dg->ord, "l", 1);
        } else {
            s->lm[0] = 'l';
            s->llen = 1;
        }
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

static void flushConsumerCount(rdbDigest *dg) {
    if (!dg->consumers_pending) return;
    hU64(&dg->ord, dg->nconsumers);
    dg->consumers_pending = 0;
}

/* V of a key whose value is known at its end (all but set, zset, hash). A
 * type without content callbacks gets the V of its empty value. */
static void finishValue(rdbDigest *dg, const slot *s, unsigned char v[RDB_DIGEST_LEN]) {
    switch (s->ltype) {
    case RDB_LT_LIST:
        hU64(&dg->ord, s->n);
        hFinal(&dg->ord, v);
        return;
    case RDB_LT_STREAM:
        flushConsumerCount(dg);
        hFinal(&dg->ord, v);
        return;
    case RDB_LT_MODULE:
        if (!dg->have_v) tagStrHash("M", "", 0, dg->v);
        break;
    default: /* string (and nothing else reaches here from the decoder) */
        if (!dg->have_v) tagStrHash("s", "", 0, dg->v);
        break;
    }
    memcpy(v, dg->v, RDB_DIGEST_LEN);
}

/* "K" || u64le(db) || str(key) || u8(ltype) || i64le(expire_ms), with room
 * after it for V and the padding (at most 32 + 72 bytes). */
static int keyPrefix(slot *s, const rdbKeyInfo *k) {
    size_t need = 1 + 8 + 8 + k->keylen + 1 + 8 + RDB_DIGEST_LEN + 72;
    if (need < SLOT_MSG) need = SLOT_MSG;
    if (need > s->cap) {
        unsigned char *p = realloc(s->msg, need);
        if (!p) return -1;
        s->msg = p;
        s->cap = need;
    }
    unsigned char *p = s->msg;
    *p++ = 'K';
    putLE64(p, k->db), p += 8;
    putLE64(p, k->keylen), p += 8;
    if (k->keylen) memcpy(p, k->key, k->keylen), p += k->keylen;
    *p++ = (unsigned char)k->ltype;
    putLE64(p, (uint64_t)k->expire_ms), p += 8;
    s->len = (size_t)(p - s->msg);
    return 0;
}

static int onKeyEnd(void *ctx, const rdbKeyInfo *k) {
    rdbDigest *dg = ctx;
    int sl = dg->cur;
    slot *s = &dg->slots[sl];
    dg->cur = -1;
    dg->nkeys++;
    if (keyPrefix(s, k) < 0) return -1;
    room(dg); /* before 'ended': completions in there must not start V */
    s->ended = 1;
    if (s->ltype == RDB_LT_SET || s->ltype == RDB_LT_ZSET || s->ltype == RDB_LT_HASH) {
        if (s->pending == 0) startSumValue(dg, sl);
        return 0;
    }
    if (s->ltype == RDB_LT_LIST && !dg->lsync) { /* "l" || items || u64le(n), then lanes */
        putLE64(s->lm + s->llen, s->n);
        s->llen = padMessage(s->lm, s->llen + 8);
        s->lnblk = s->llen / 64;
        s->lblk = 0;
        push(dg, JOB_LIST, sl, s->lm, NULL);
        return 0;
    }
    if (s->vstate == 1) return 0; /* stringDone starts K */
    if (s->vstate == 2) {
        s->vstate = 0;
        startKey(dg, sl, s->v);
        return 0;
    }
    unsigned char v[RDB_DIGEST_LEN];
    finishValue(dg, s, v);
    startKey(dg, sl, v);
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

/* V = H("s" || str(value)): in a lane when it is one block, or 2-4 blocks
 * (an xmsg) where chained lanes are the faster way (dg->chain); finished by
 * stringDone. Else here and now. */
static int onString(void *ctx, const char *p, size_t len) {
    rdbDigest *dg = ctx;
    slot *s = &dg->slots[dg->cur];
    size_t mlen = 1 + 8 + len;
    if (s->vstate == 0 && mlen <= 55) {
        room(dg);
        unsigned char *blk = push(dg, JOB_STRV, dg->cur, NULL, NULL);
        memset(blk, 0, 64);
        blk[0] = 's';
        putLE64(blk + 1, len);
        if (len) memcpy(blk + 9, p, len);
        padBlock(blk, mlen);
        s->vstate = 1;
        return 0;
    }
    if (s->vstate == 0 && mlen + 9 <= XMSG_MAX && dg->chain) {
        room(dg);
        while (dg->nxfree == 0) runBatch(dg); /* each xmsg in use has a block queued */
        int xi = dg->xfree[--dg->nxfree];
        xmsg *x = &dg->x[xi];
        x->m[0] = 's';
        putLE64(x->m + 1, len);
        if (len) memcpy(x->m + 9, p, len);
        x->slot = (uint16_t)dg->cur, x->blk = 0, x->nblk = (uint16_t)(padMessage(x->m, mlen) / 64), x->strv = 1;
        s->vstate = 1; /* before room(): its completions may finish nothing of this key yet */
        room(dg);
        push(dg, JOB_ELEMX, xi, x->m, NULL);
        return 0;
    }
    tagStrHash("s", p, len, dg->v);
    dg->have_v = 1;
    return 0;
}

static int onListItem(void *ctx, const char *p, size_t len) {
    rdbDigest *dg = ctx;
    slot *s = &dg->slots[dg->cur];
    s->n++;
    if (s->ltype == RDB_LT_LIST && !dg->lsync) {
        if (len <= LMSG_MAX && s->llen + 8 + len + 8 <= LMSG_MAX) { /* room for this and u64le(n) */
            putLE64(s->lm + s->llen, len);
            if (len) memcpy(s->lm + s->llen + 8, p, len);
            s->llen += 8 + len;
            return 0;
        }
        hInit(&dg->ord); /* too long for lanes: what is kept goes first */
        hPut(&dg->ord, s->lm, s->llen);
        dg->lsync = 1;
    }
    hStr(&dg->ord, p, len);
    return 0;
}

static int onSetMember(void *ctx, const char *p, size_t len) {
    addElement(ctx, p, len, NULL, 0, 0, NULL);
    return 0;
}

static int onZsetMember(void *ctx, const char *p, size_t len, double score) {
    unsigned char tail[8];
    uint64_t bits;
    /* f64le: the IEEE-754 bits, little-endian; -0 as +0 (see digest.h:
     * the encoding decides whether Redis keeps the sign). */
    if (score == 0) score = 0.0;
    memcpy(&bits, &score, 8);
    bits = toLE(bits);
    memcpy(tail, &bits, 8);
    addElement(ctx, p, len, NULL, 0, 0, tail);
    return 0;
}

static int onHashField(void *ctx, const char *f, size_t flen, const char *v, size_t vlen,
                       int64_t expire_ms) {
    unsigned char tail[8];
    uint64_t x = toLE((uint64_t)expire_ms);
    memcpy(tail, &x, 8);
    addElement(ctx, f, flen, v, vlen, 1, tail);
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

/* An empty stream's first ID is not data: Redis 7.0+ sets 0-0 when XDEL or
 * XTRIM empties it, but loading an RDB 9 stream (which does not store it)
 * takes the edge of no entries, the maximum ID. Every server reads it the
 * same way only as "none", so it counts as 0-0 whenever length is 0. */
static int onStreamMeta(void *ctx, const rdbStreamMeta *m) {
    rdbDigest *dg = ctx;
    rdbStreamId none = {0, 0};
    hPut(&dg->ord, "m", 1);
    hU64(&dg->ord, m->length);
    hId(&dg->ord, m->last_id);
    hId(&dg->ord, m->length ? m->first_id : none);
    hId(&dg->ord, m->max_deleted);
    hU64(&dg->ord, m->entries_added);
    hU64(&dg->ord, m->groups);
    return 0;
}

/* The group's consumer count goes after its PEL, which has not arrived
 * yet: it is written by whatever comes next (consumer, group, key end).
 * entries_read is left out: it is derived (the base of XINFO's "lag"), RDB 9
 * does not store it, each server version estimates it on load, and Redis's
 * own replicas do not keep it equal to their master's (keydiff.h). */
static int onStreamGroup(void *ctx, const rdbStreamGroup *g) {
    rdbDigest *dg = ctx;
    flushConsumerCount(dg);
    hPut(&dg->ord, "g", 1);
    hStr(&dg->ord, g->name, g->namelen);
    hId(&dg->ord, g->last_id);
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

/* Redis 8.6 IDMP records, in file order (by producer, oldest first);
 * streams without any add nothing, so their V is what older versions
 * give. The configuration and the counters are not data, as entries_read
 * is not: a target before 8.6 cannot hold them and loses nothing a reader
 * sees. */
static int onStreamIdmpEntry(void *ctx, const char *pid, size_t pidlen, const char *iid, size_t iidlen,
                             rdbStreamId id) {
    rdbDigest *dg = ctx;
    flushConsumerCount(dg);
    hPut(&dg->ord, "i", 1);
    hStr(&dg->ord, pid, pidlen);
    hStr(&dg->ord, iid, iidlen);
    hId(&dg->ord, id);
    return 0;
}

/* ---- Public ---- */

/* Callbacks fail only when a key's message cannot grow (keyPrefix). */
static const char *onError(void *ctx) { return "out of memory hashing the key"; }

void rdbDigestHandlers(rdbDigest *dg, rdbHandlers *h) {
    memset(h, 0, sizeof *h);
    h->ctx = dg;
    h->error = onError;
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
    h->stream_idmp_entry = onStreamIdmpEntry;
}

void rdbDigestFinal(rdbDigest *dg, unsigned char out[RDB_DIGEST_LEN]) {
    hasher h;
    drain(dg);
    hInit(&h);
    hPut(&h, DIGEST_MAGIC, sizeof DIGEST_MAGIC - 1);
    hU64(&h, dg->nkeys);
    hSum(&h, &dg->keysum);
    hU64(&h, dg->nfunctions);
    hSum(&h, &dg->fnsum);
    hFinal(&h, out);
}

void rdbDigestMerge(rdbDigest *dst, rdbDigest *src) {
    drain(src);
    dst->nkeys += src->nkeys;
    dst->nfunctions += src->nfunctions;
    sumAddSum(&dst->keysum, &src->keysum);
    sumAddSum(&dst->fnsum, &src->fnsum);
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

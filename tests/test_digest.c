/* test_digest.c -- the dataset digest, driven through its handlers.
 *
 * No decoder: the tests call the callbacks the way the decoder does, so
 * they pin the definition in digest.h (known answers computed here with
 * OpenSSL from the spec's byte layouts) and its invariances (element and key
 * order) and sensitivities (every field the spec names).
 */
#include <openssl/sha.h>

#include "rdb/digest.h"
#include "tests/test.h"

/* ---- Driving the handlers ---- */

typedef struct drv {
    rdbDigest *dg;
    rdbHandlers h;
    rdbKeyInfo k;
} drv;

static void drvInit(drv *d) {
    d->dg = rdbDigestNew();
    rdbDigestHandlers(d->dg, &d->h);
}

static void keyBegin(drv *d, uint64_t db, const char *key, rdbLType lt, int64_t expire) {
    memset(&d->k, 0, sizeof d->k);
    d->k.db = db;
    d->k.key = key;
    d->k.keylen = strlen(key);
    d->k.ltype = lt;
    d->k.expire_ms = expire;
    d->k.idle = -1;
    d->k.freq = -1;
    d->h.key_begin(d->h.ctx, &d->k);
}

static void keyEnd(drv *d) { d->h.key_end(d->h.ctx, &d->k); }

static void str(drv *d, const char *s) { d->h.string(d->h.ctx, s, strlen(s)); }
static void item(drv *d, const char *s) { d->h.list_item(d->h.ctx, s, strlen(s)); }
static void member(drv *d, const char *s) { d->h.set_member(d->h.ctx, s, strlen(s)); }
static void zmember(drv *d, const char *s, double sc) { d->h.zset_member(d->h.ctx, s, strlen(s), sc); }
static void field(drv *d, const char *f, const char *v, int64_t ttl) {
    d->h.hash_field(d->h.ctx, f, strlen(f), v, strlen(v), ttl);
}
static void sfield(drv *d, const char *f, const char *v) {
    d->h.stream_field(d->h.ctx, f, strlen(f), v, strlen(v));
}
static rdbStreamId sid(uint64_t ms, uint64_t seq) { return (rdbStreamId){ms, seq}; }

static void finish(drv *d, unsigned char out[RDB_DIGEST_LEN]) {
    rdbDigestFinal(d->dg, out);
    rdbDigestFree(d->dg);
}

/* ---- A dataset with every type, and the ways to vary it ---- */

enum variant {
    V_BASE,
    /* must not change the digest */
    V_SET_ORDER, V_HASH_ORDER, V_ZSET_ORDER, V_KEY_ORDER, V_LRU_HINTS,
    V_ENTRIES_READ, /* derived: each server computes its own (digest.h) */
    /* each must change the digest */
    V_LIST_ORDER, V_HASH_VALUE, V_FIELD_TTL, V_EXPIRE, V_NO_EXPIRE, V_DB,
    V_ZSCORE, V_GROUP_LAST_ID, V_STRING_VALUE, V_KEY_NAME, V_SET_MEMBER,
    V_SET_EXTRA, V_STREAM_FIELD, V_STREAM_ID, V_CONSUMER_PEL, V_PEL_COUNT,
    V_MODULE_RAW, V_FUNCTION, V_NO_FUNCTION, V_TYPE,
    V_LIST_SPLIT, V_ZSCORE_NEG_ZERO,
    V_COUNT
};

static const char *variant_name[V_COUNT] = {
    "base", "set_order", "hash_order", "zset_order", "key_order", "lru_hints",
    "entries_read", "list_order", "hash_value", "field_ttl", "expire", "no_expire",
    "db", "zset_score", "group_last_id", "string_value", "key_name",
    "set_member", "set_extra", "stream_field", "stream_id", "consumer_pel",
    "pel_delivery_count", "module_raw", "function",
    "no_function", "type", "list_split", "zset_score_neg_zero",
};

static char long_member[300];

static void addString(drv *d, int v) {
    keyBegin(d, 0, v == V_KEY_NAME ? "str2" : "str", RDB_LT_STRING,
             v == V_EXPIRE ? 1700000000001 : v == V_NO_EXPIRE ? -1 : 1700000000000);
    if (v == V_LRU_HINTS) d->k.idle = 77, d->k.freq = 5;
    str(d, v == V_STRING_VALUE ? "hellp" : "hello");
    keyEnd(d);
}

static void addList(drv *d, int v) {
    keyBegin(d, 0, "list", RDB_LT_LIST, -1);
    if (v == V_LIST_ORDER) {
        item(d, "b"), item(d, "a"), item(d, "c");
    } else if (v == V_LIST_SPLIT) {
        item(d, "ab"), item(d, "c");
    } else {
        item(d, "a"), item(d, "b"), item(d, "c");
    }
    keyEnd(d);
}

static void addSet(drv *d, int v) {
    keyBegin(d, 0, "set", RDB_LT_SET, -1);
    if (v == V_SET_ORDER) {
        member(d, long_member), member(d, "z"), member(d, "x"), member(d, "y");
    } else {
        member(d, "x"), member(d, v == V_SET_MEMBER ? "w" : "y"), member(d, "z");
        member(d, long_member);
    }
    if (v == V_SET_EXTRA) member(d, "extra");
    keyEnd(d);
}

static void addZset(drv *d, int v) {
    keyBegin(d, v == V_DB ? 2 : 1, "zset", RDB_LT_ZSET, -1);
    double s1 = v == V_ZSCORE ? 1.25 : 1.5, s2 = v == V_ZSCORE_NEG_ZERO ? -0.0 : 0.0;
    if (v == V_ZSET_ORDER) {
        zmember(d, "m2", s2), zmember(d, "m1", s1), zmember(d, "m3", -2);
    } else {
        zmember(d, "m1", s1), zmember(d, "m2", s2), zmember(d, "m3", -2);
    }
    keyEnd(d);
}

static void addHash(drv *d, int v) {
    const char *v2 = v == V_HASH_VALUE ? "v2x" : "v2";
    int64_t ttl = v == V_FIELD_TTL ? 1800000000001 : 1800000000000;
    keyBegin(d, 0, "hash", v == V_TYPE ? RDB_LT_SET : RDB_LT_HASH, -1);
    if (v == V_HASH_ORDER) {
        field(d, "f2", v2, ttl), field(d, "f3", long_member, -1), field(d, "f1", "v1", -1);
    } else {
        field(d, "f1", "v1", -1), field(d, "f2", v2, ttl), field(d, "f3", long_member, -1);
    }
    keyEnd(d);
}

static void addStream(drv *d, int v) {
    void *c = d->h.ctx;
    keyBegin(d, 0, "stream", RDB_LT_STREAM, -1);
    d->h.stream_entry(c, sid(1, 1), 1);
    sfield(d, "f", v == V_STREAM_FIELD ? "w" : "v");
    d->h.stream_entry(c, v == V_STREAM_ID ? sid(2, 1) : sid(2, 0), 2);
    sfield(d, "a", "b"), sfield(d, "c", "d");
    rdbStreamMeta m = {2, sid(2, 0), sid(1, 1), sid(0, 0), 2, 2};
    d->h.stream_meta(c, &m);
    rdbStreamGroup g1 = {"g1", 2, v == V_GROUP_LAST_ID ? sid(1, 1) : sid(2, 0),
                         v == V_ENTRIES_READ ? -1 : 2, 1, 1};
    d->h.stream_group(c, &g1);
    d->h.stream_pel(c, sid(1, 1), 1000, v == V_PEL_COUNT ? 2 : 1);
    rdbStreamConsumer c1 = {"c1", 2, 1000, 1000, 1};
    d->h.stream_consumer(c, &c1);
    d->h.stream_consumer_pel(c, v == V_CONSUMER_PEL ? sid(1, 2) : sid(1, 1));
    rdbStreamGroup g2 = {"g2", 2, sid(0, 0), 0, 0, 0};
    d->h.stream_group(c, &g2);
    keyEnd(d);
}

static void addModule(drv *d, int v) {
    static const unsigned char raw[] = {0x81, 1, 2, 3, 4, 5, 6, 7, 8, 2, 5, 0};
    static const unsigned char raw2[] = {0x81, 1, 2, 3, 4, 5, 6, 7, 8, 2, 6, 0};
    keyBegin(d, 0, "mod", RDB_LT_MODULE, -1);
    d->h.want_raw(d->h.ctx, &d->k);
    d->h.raw_value(d->h.ctx, &d->k, v == V_MODULE_RAW ? raw2 : raw, sizeof raw);
    keyEnd(d);
}

static void addFunction(drv *d, int v) {
    const char *code = v == V_FUNCTION ? "#!lua name=lib\nreturn 2" : "#!lua name=lib\nreturn 1";
    rdbFunction fn = {code, strlen(code), 0, NULL, NULL, 0, 0};
    if (v != V_NO_FUNCTION) d->h.function(d->h.ctx, &fn);
}

static void buildDataset(int v, unsigned char out[RDB_DIGEST_LEN]) {
    drv d;
    drvInit(&d);
    addFunction(&d, v);
    if (v == V_KEY_ORDER) {
        addStream(&d, v), addModule(&d, v), addHash(&d, v), addZset(&d, v);
        addSet(&d, v), addList(&d, v), addString(&d, v);
    } else {
        addString(&d, v), addList(&d, v), addSet(&d, v), addZset(&d, v);
        addHash(&d, v), addStream(&d, v), addModule(&d, v);
    }
    finish(&d, out);
}

static void testVariants(void) {
    unsigned char base[RDB_DIGEST_LEN], other[RDB_DIGEST_LEN];
    memset(long_member, 'q', sizeof long_member - 1);
    buildDataset(V_BASE, base);
    for (int v = V_BASE + 1; v < V_COUNT; v++) {
        buildDataset(v, other);
        int same = memcmp(base, other, sizeof base) == 0;
        /* -0 counts as +0: Redis keeps or drops the sign by encoding. */
        if (v < V_LIST_ORDER || v == V_ZSCORE_NEG_ZERO)
            test_cond(test_fmt("digest.same_when.%s", variant_name[v]), same);
        else
            test_cond(test_fmt("digest.differs_when.%s", variant_name[v]), !same);
    }
}

/* Same elements and element count in total, but one element moves to the
 * other key: the per-key sums must keep them apart. */
static void testElementsStayInTheirKey(void) {
    unsigned char x[RDB_DIGEST_LEN], y[RDB_DIGEST_LEN];
    drv d;
    drvInit(&d);
    keyBegin(&d, 0, "s1", RDB_LT_SET, -1), member(&d, "a"), member(&d, "b"), keyEnd(&d);
    keyBegin(&d, 0, "s2", RDB_LT_SET, -1), member(&d, "c"), keyEnd(&d);
    finish(&d, x);
    drvInit(&d);
    keyBegin(&d, 0, "s1", RDB_LT_SET, -1), member(&d, "a"), keyEnd(&d);
    keyBegin(&d, 0, "s2", RDB_LT_SET, -1), member(&d, "b"), member(&d, "c"), keyEnd(&d);
    finish(&d, y);
    test_cond("digest.differs_when.element_moves_between_keys", memcmp(x, y, sizeof x) != 0);
}

/* ---- Known answers, computed from the spec's bytes ---- */

typedef struct bytes {
    unsigned char b[1024];
    size_t n;
} bytes;

static void put(bytes *s, const void *p, size_t len) {
    memcpy(s->b + s->n, p, len);
    s->n += len;
}
static void putU64(bytes *s, uint64_t v) {
    for (int i = 0; i < 8; i++) s->b[s->n++] = (unsigned char)(v >> (8 * i));
}
static void putStr(bytes *s, const char *p) {
    putU64(s, strlen(p));
    put(s, p, strlen(p));
}
static void sha(const bytes *s, unsigned char out[32]) { SHA256(s->b, s->n, out); }

/* acc += h, both little-endian 256-bit numbers, one byte at a time. */
static void addLE(unsigned char acc[32], const unsigned char h[32]) {
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned t = acc[i] + h[i] + carry;
        acc[i] = (unsigned char)t;
        carry = t >> 8;
    }
}

static void expectedTop(uint64_t nkeys, const unsigned char ksum[32], uint64_t nfn,
                        const unsigned char fsum[32], unsigned char out[32]) {
    bytes s = {.n = 0};
    put(&s, "rdbsync-digest-2", 16);
    putU64(&s, nkeys);
    put(&s, ksum, 32);
    putU64(&s, nfn);
    put(&s, fsum, 32);
    sha(&s, out);
}

static void expectedKey(uint64_t db, const char *key, int lt, int64_t expire,
                        const unsigned char v[32], unsigned char out[32]) {
    bytes s = {.n = 0};
    put(&s, "K", 1);
    putU64(&s, db);
    putStr(&s, key);
    s.b[s.n++] = (unsigned char)lt;
    putU64(&s, (uint64_t)expire);
    put(&s, v, 32);
    sha(&s, out);
}

static void testEmpty(void) {
    static const unsigned char zero[32];
    unsigned char want[32], got[32];
    drv d;
    expectedTop(0, zero, 0, zero, want);
    drvInit(&d);
    finish(&d, got);
    test_eq_mem("digest.kat.empty", want, 32, got, 32);
}

static void testStringKat(void) {
    static const unsigned char zero[32];
    unsigned char v[32], k[32], want[32], got[32];
    bytes s = {.n = 0};
    drv d;

    put(&s, "s", 1), putStr(&s, "v"), sha(&s, v);
    expectedKey(0, "k", 0, -1, v, k);
    expectedTop(1, k, 0, zero, want); /* the sum of one hash is that hash */

    drvInit(&d);
    keyBegin(&d, 0, "k", RDB_LT_STRING, -1), str(&d, "v"), keyEnd(&d);
    test_eq_uint("digest.keys_counted", 1, rdbDigestKeys(d.dg));
    finish(&d, got);
    test_eq_mem("digest.kat.string_k_v", want, 32, got, 32);
}

/* Many members, so that carries cross every limb and the sum wraps. */
static void testSetKat(void) {
    static const unsigned char zero[32];
    unsigned char sum[32] = {0}, e[32], v[32], k[32], want[32], got[32];
    char name[16];
    bytes s;
    drv d;

    drvInit(&d);
    keyBegin(&d, 3, "set", RDB_LT_SET, 5);
    for (int i = 0; i < 64; i++) {
        snprintf(name, sizeof name, "m%d", i);
        s.n = 0, putStr(&s, name), sha(&s, e), addLE(sum, e);
        member(&d, name);
    }
    keyEnd(&d);
    finish(&d, got);

    s.n = 0, put(&s, "S", 1), putU64(&s, 64), put(&s, sum, 32), sha(&s, v);
    expectedKey(3, "set", 2, 5, v, k);
    expectedTop(1, k, 0, zero, want);
    test_eq_mem("digest.kat.set_64_members", want, 32, got, 32);
}

/* Elements of every size around the block boundaries: one block (up to
 * 55 bytes of message), 2-4 blocks (the digest's multi-block lanes, up to
 * 247), and beyond (hashed on the spot): all must follow the definition. */
static void testElementSizesKat(void) {
    static const unsigned char zero[32];
    static char buf[400], fbuf[400];
    unsigned char sum[32] = {0}, hsum[32] = {0}, e[32], v[32], k[32], ksum[32] = {0};
    unsigned char want[32], got[32];
    bytes s;
    drv d;
    int n = 0, nh = 0;

    drvInit(&d);
    keyBegin(&d, 0, "sizes", RDB_LT_SET, -1);
    for (int len = 0; len <= 320; len++, n++) {
        for (int i = 0; i < len; i++) buf[i] = (char)('a' + (i + len) % 26);
        d.h.set_member(d.h.ctx, buf, (size_t)len);
        s.n = 0, putU64(&s, (uint64_t)len), put(&s, buf, (size_t)len), sha(&s, e), addLE(sum, e);
    }
    keyEnd(&d);
    keyBegin(&d, 0, "hsizes", RDB_LT_HASH, -1);
    for (int fl = 0; fl <= 300; fl += 7, nh++) {
        int vl = 300 - fl;
        for (int i = 0; i < fl; i++) fbuf[i] = (char)('A' + (i + fl) % 26);
        for (int i = 0; i < vl; i++) buf[i] = (char)('0' + (i + vl) % 10);
        d.h.hash_field(d.h.ctx, fbuf, (size_t)fl, buf, (size_t)vl, fl % 2 ? 1700000000000LL + fl : -1);
        s.n = 0, putU64(&s, (uint64_t)fl), put(&s, fbuf, (size_t)fl), putU64(&s, (uint64_t)vl);
        put(&s, buf, (size_t)vl), putU64(&s, (uint64_t)(fl % 2 ? 1700000000000LL + fl : -1));
        sha(&s, e), addLE(hsum, e);
    }
    keyEnd(&d);
    finish(&d, got);

    s.n = 0, put(&s, "S", 1), putU64(&s, (uint64_t)n), put(&s, sum, 32), sha(&s, v);
    expectedKey(0, "sizes", 2, -1, v, k), addLE(ksum, k);
    s.n = 0, put(&s, "h", 1), putU64(&s, (uint64_t)nh), put(&s, hsum, 32), sha(&s, v);
    expectedKey(0, "hsizes", 4, -1, v, k), addLE(ksum, k);
    expectedTop(2, ksum, 0, zero, want);
    test_eq_mem("digest.kat.element_sizes_0_to_320", want, 32, got, 32);
}

/* String values of every size around the block boundaries: V in one lane
 * (up to 46 bytes), in 2-4 chained lanes (up to 238), and on the spot
 * beyond; key names long and short, so K is 2-5 blocks; and keys whose
 * string V is still in a lane when a broken key (no key_end) takes the
 * next slot. All must follow the definition. */
static void testStringSizesKat(void) {
    static const unsigned char zero[32];
    static char buf[400], key[200];
    unsigned char v[32], k[32], ksum[32] = {0}, want[32], got[32];
    bytes s;
    drv d;
    uint64_t n = 0;

    drvInit(&d);
    for (int len = 0; len <= 320; len++, n++) {
        for (int i = 0; i < len; i++) buf[i] = (char)('a' + (i * 7 + len) % 26);
        snprintf(key, sizeof key, "%.*s:%d", len % 150, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
                 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", len);
        if (len % 5 == 0) { /* a broken key in between: begun, valued, never ended */
            keyBegin(&d, 0, "broken", RDB_LT_STRING, -1);
            d.h.string(d.h.ctx, buf, (size_t)len);
        }
        keyBegin(&d, 1, key, RDB_LT_STRING, len % 3 ? -1 : 1700000000000LL + len);
        d.h.string(d.h.ctx, buf, (size_t)len);
        keyEnd(&d);
        s.n = 0, put(&s, "s", 1), putU64(&s, (uint64_t)len), put(&s, buf, (size_t)len), sha(&s, v);
        expectedKey(1, key, 0, len % 3 ? -1 : 1700000000000LL + len, v, k), addLE(ksum, k);
    }
    finish(&d, got);
    expectedTop(n, ksum, 0, zero, want);
    test_eq_mem("digest.kat.string_sizes_0_to_320", want, 32, got, 32);
}

/* Lists whose V message is short (lanes, chained a block at a time) and
 * long (past the digest's 2048 bytes kept per list: streamed), items of
 * 0-300 bytes, with a broken list key in between: all by the definition. */
static void testListSizesKat(void) {
    static const unsigned char zero[32];
    static char buf[400];
    unsigned char v[32], k[32], ksum[32] = {0}, want[32], got[32];
    char key[32];
    drv d;
    uint64_t n = 0;
    SHA256_CTX c;

    drvInit(&d);
    for (int items = 0; items <= 60; items += 3, n++) {
        unsigned char le[8];
        snprintf(key, sizeof key, "list%d", items);
        if (items % 9 == 0) { /* begun, given items, never ended */
            keyBegin(&d, 0, "broken", RDB_LT_LIST, -1);
            d.h.list_item(d.h.ctx, "x", 1);
        }
        keyBegin(&d, 2, key, RDB_LT_LIST, -1);
        SHA256_Init(&c), SHA256_Update(&c, "l", 1);
        for (int i = 0; i < items; i++) {
            size_t len = (size_t)(i * 37 + items) % 301;
            for (size_t j = 0; j < len; j++) buf[j] = (char)('a' + (j + (size_t)i) % 26);
            d.h.list_item(d.h.ctx, buf, len);
            for (int b = 0; b < 8; b++) le[b] = (unsigned char)((uint64_t)len >> (8 * b));
            SHA256_Update(&c, le, 8), SHA256_Update(&c, buf, len);
        }
        keyEnd(&d);
        for (int b = 0; b < 8; b++) le[b] = (unsigned char)((uint64_t)items >> (8 * b));
        SHA256_Update(&c, le, 8), SHA256_Final(v, &c);
        expectedKey(2, key, 1, -1, v, k), addLE(ksum, k);
    }
    finish(&d, got);
    expectedTop(n, ksum, 0, zero, want);
    test_eq_mem("digest.kat.list_sizes_lanes_and_streamed", want, 32, got, 32);
}

static void testHashListFunctionKat(void) {
    unsigned char e[32], v[32], ksum[32] = {0}, k[32], f[32], want[32], got[32];
    bytes s;
    drv d;

    s.n = 0, putStr(&s, "f"), putStr(&s, "x"), putU64(&s, (uint64_t)INT64_C(-1)), sha(&s, e);
    s.n = 0, put(&s, "h", 1), putU64(&s, 1), put(&s, e, 32), sha(&s, v);
    expectedKey(0, "h", 4, -1, v, k), addLE(ksum, k);
    s.n = 0, put(&s, "l", 1), putStr(&s, "a"), putStr(&s, ""), putU64(&s, 2), sha(&s, v);
    expectedKey(1, "l", 1, 42, v, k), addLE(ksum, k);
    s.n = 0, put(&s, "F", 1), putStr(&s, "code"), sha(&s, f);
    expectedTop(2, ksum, 1, f, want);

    drvInit(&d);
    rdbFunction fn = {"code", 4, 0, NULL, NULL, 0, 0};
    d.h.function(d.h.ctx, &fn);
    keyBegin(&d, 1, "l", RDB_LT_LIST, 42), item(&d, "a"), item(&d, ""), keyEnd(&d);
    keyBegin(&d, 0, "h", RDB_LT_HASH, -1), field(&d, "f", "x", -1), keyEnd(&d);
    finish(&d, got);
    test_eq_mem("digest.kat.hash_list_function", want, 32, got, 32);
}

static void testZsetStreamModuleKat(void) {
    static const unsigned char zero[32];
    static const unsigned char raw[] = {1, 2, 3};
    unsigned char e[32], v[32], ksum[32] = {0}, k[32], want[32], got[32];
    double score = 2.5;
    uint64_t bits;
    bytes s;
    drv d;

    memcpy(&bits, &score, 8);
    s.n = 0, putStr(&s, "m"), putU64(&s, bits), sha(&s, e);
    s.n = 0, put(&s, "z", 1), putU64(&s, 1), put(&s, e, 32), sha(&s, v);
    expectedKey(0, "z", 3, -1, v, k), addLE(ksum, k);

    s.n = 0, put(&s, "x", 1);
    putU64(&s, 5), putU64(&s, 0), putU64(&s, 1), putStr(&s, "f"), putStr(&s, "v"); /* entry */
    put(&s, "m", 1), putU64(&s, 1), putU64(&s, 5), putU64(&s, 0), putU64(&s, 5), putU64(&s, 0);
    putU64(&s, 0), putU64(&s, 0), putU64(&s, 1), putU64(&s, 1);
    put(&s, "g", 1), putStr(&s, "grp"), putU64(&s, 5), putU64(&s, 0), putU64(&s, 1); /* no entries_read */
    putU64(&s, 5), putU64(&s, 0), putU64(&s, 999), putU64(&s, 3); /* pel */
    putU64(&s, 1);                                                   /* nconsumers */
    put(&s, "c", 1), putStr(&s, "con"), putU64(&s, 998), putU64(&s, 997), putU64(&s, 1);
    putU64(&s, 5), putU64(&s, 0);
    sha(&s, v);
    expectedKey(0, "x", 6, -1, v, k), addLE(ksum, k);

    s.n = 0, put(&s, "M", 1), putU64(&s, 3), put(&s, raw, 3), sha(&s, v);
    expectedKey(0, "mod", 5, -1, v, k), addLE(ksum, k);
    expectedTop(3, ksum, 0, zero, want);

    drvInit(&d);
    void *c = d.h.ctx;
    keyBegin(&d, 0, "z", RDB_LT_ZSET, -1), zmember(&d, "m", 2.5), keyEnd(&d);
    keyBegin(&d, 0, "x", RDB_LT_STREAM, -1);
    d.h.stream_entry(c, sid(5, 0), 1), sfield(&d, "f", "v");
    rdbStreamMeta m = {1, sid(5, 0), sid(5, 0), sid(0, 0), 1, 1};
    d.h.stream_meta(c, &m);
    rdbStreamGroup g = {"grp", 3, sid(5, 0), 1, 1, 1};
    d.h.stream_group(c, &g);
    d.h.stream_pel(c, sid(5, 0), 999, 3);
    rdbStreamConsumer con = {"con", 3, 998, 997, 1};
    d.h.stream_consumer(c, &con);
    d.h.stream_consumer_pel(c, sid(5, 0));
    keyEnd(&d);
    keyBegin(&d, 0, "mod", RDB_LT_MODULE, -1);
    test_cond("digest.want_raw.module", d.h.want_raw(c, &d.k) == 1);
    d.h.raw_value(c, &d.k, raw, sizeof raw);
    keyEnd(&d);
    finish(&d, got);
    test_eq_mem("digest.kat.zset_stream_module", want, 32, got, 32);
}

/* An emptied stream: 0-0 as its first ID (XDEL on 7.0) or the maximum ID
 * (7.0 loading the same stream from RDB 9) is the same data; a non-empty
 * stream's first ID still counts. */
static void emptyStream(rdbStreamId first, uint64_t length, unsigned char out[32]) {
    drv d;
    drvInit(&d);
    void *c = d.h.ctx;
    keyBegin(&d, 0, "x", RDB_LT_STREAM, -1);
    if (length) d.h.stream_entry(c, sid(5, 0), 1), sfield(&d, "f", "v");
    rdbStreamMeta m = {length, sid(5, 0), first, sid(0, 0), 1, 1};
    d.h.stream_meta(c, &m);
    rdbStreamGroup g = {"grp", 3, sid(5, 0), length ? 1 : -1, 0, 0};
    d.h.stream_group(c, &g);
    keyEnd(&d);
    finish(&d, out);
}

static void testStreamDerivedFields(void) {
    unsigned char a[32], b[32];
    emptyStream(sid(0, 0), 0, a);
    emptyStream(sid(UINT64_MAX, UINT64_MAX), 0, b);
    test_cond("digest.same_when.empty_stream_first_id", memcmp(a, b, 32) == 0);
    emptyStream(sid(5, 0), 1, a);
    emptyStream(sid(4, 0), 1, b);
    test_cond("digest.differs_when.stream_first_id", memcmp(a, b, 32) != 0);
}

/* ---- Smaller properties ---- */

static void testApi(void) {
    unsigned char a[32], b[32];
    char hex[2 * RDB_DIGEST_LEN + 1], want[2 * RDB_DIGEST_LEN + 1];
    drv d;
    drvInit(&d);

    TEST("digest.want_raw_only_for_modules") {
        for (int lt = RDB_LT_STRING; lt < RDB_LT_COUNT; lt++) {
            rdbKeyInfo k = {.ltype = (rdbLType)lt, .expire_ms = -1};
            CHECK_EQ_INT(lt == RDB_LT_MODULE, d.h.want_raw(d.h.ctx, &k));
        }
    }
    test_cond("digest.handlers_ctx", d.h.ctx == d.dg);
    test_cond("digest.no_aux_handler", d.h.aux == NULL && d.h.header == NULL);

    keyBegin(&d, 0, "k", RDB_LT_STRING, -1), str(&d, "v"), keyEnd(&d);
    rdbDigestFinal(d.dg, a);
    rdbDigestFinal(d.dg, b);
    test_eq_mem("digest.final_does_not_reset", a, 32, b, 32);
    for (int i = 0; i < 32; i++) snprintf(want + 2 * i, 3, "%02x", a[i]);
    rdbDigestHex(d.dg, hex);
    test_eq_str("digest.hex", want, hex);
    rdbDigestFree(d.dg);
}

/* A value of many megabytes goes through without a copy (the ASan build
 * would show an overflow if it were copied into a fixed buffer). */
static void testLargeValues(void) {
    size_t len = 3 << 20;
    char *big = malloc(len);
    unsigned char v[32], k[32], want[32], got[32];
    static const unsigned char zero[32];
    SHA256_CTX c;
    unsigned char hdr[9] = {'s'};
    drv d;

    memset(big, 'b', len);
    for (int i = 0; i < 8; i++) hdr[1 + i] = (unsigned char)((uint64_t)len >> (8 * i));
    SHA256_Init(&c), SHA256_Update(&c, hdr, 9), SHA256_Update(&c, big, len), SHA256_Final(v, &c);
    expectedKey(0, "big", 0, -1, v, k);
    expectedTop(1, k, 0, zero, want);

    drvInit(&d);
    keyBegin(&d, 0, "big", RDB_LT_STRING, -1);
    d.h.string(d.h.ctx, big, len);
    keyEnd(&d);
    finish(&d, got);
    test_eq_mem("digest.kat.large_string", want, 32, got, 32);
    free(big);
}

/* Keys whose decode failed (key_begin, elements, no key_end) leave no
 * trace and no leak when the digest is used again: 1000 of them (more than
 * the digest keeps keys in flight), then one whole key, digest like that
 * key alone. Also many keys of big sets in flight, in any order. */
static void testAbandonedKeys(void) {
    unsigned char a[RDB_DIGEST_LEN], b[RDB_DIGEST_LEN];
    drv d, e;
    drvInit(&d);
    for (int i = 0; i < 1000; i++) {
        keyBegin(&d, 0, "broken", RDB_LT_SET, -1);
        for (int m = 0; m < 20; m++) member(&d, test_fmt("m%d", m));
    }
    keyBegin(&d, 0, "whole", RDB_LT_SET, -1);
    for (int m = 0; m < 50; m++) member(&d, test_fmt("m%d", m));
    keyEnd(&d);
    finish(&d, a);
    drvInit(&e);
    keyBegin(&e, 0, "whole", RDB_LT_SET, -1);
    for (int m = 49; m >= 0; m--) member(&e, test_fmt("m%d", m));
    keyEnd(&e);
    test_eq_uint("digest.abandoned_keys_counted", 1, rdbDigestKeys(e.dg));
    finish(&e, b);
    test_eq_mem("digest.abandoned_keys_leave_no_trace", a, sizeof a, b, sizeof b);

    TEST("digest.many_keys_in_flight_any_order") {
        drvInit(&d);
        drvInit(&e);
        for (int k = 0; k < 3000; k++) {
            char key[32], key2[32]; /* not test_fmt: the key must outlive 8 more calls */
            snprintf(key, sizeof key, "s%d", k);
            keyBegin(&d, 0, key, RDB_LT_SET, -1);
            for (int m = 0; m < k % 40; m++) member(&d, test_fmt("%d", m));
            keyEnd(&d);
            snprintf(key2, sizeof key2, "s%d", 2999 - k);
            keyBegin(&e, 0, key2, RDB_LT_SET, -1);
            for (int m = (2999 - k) % 40 - 1; m >= 0; m--) member(&e, test_fmt("%d", m));
            keyEnd(&e);
        }
        finish(&d, a);
        finish(&e, b);
        CHECK_EQ_MEM(a, sizeof a, b, sizeof b);
    }
}

int main(void) {
    testEmpty();
    testStringKat();
    testSetKat();
    testElementSizesKat();
    testStringSizesKat();
    testListSizesKat();
    testHashListFunctionKat();
    testZsetStreamModuleKat();
    testStreamDerivedFields();
    testLargeValues();
    testApi();
    testVariants();
    testElementsStayInTheirKey();
    testAbandonedKeys();
    return test_report();
}

/* test_encode.c -- the RDB writers, DUMP payloads and the re-encoder.
 *
 * Round trips: a value is decoded (from a payload built here, from the
 * fixtures/gen files written by redis-server 7.0, and, when $SHARED is set,
 * from every public fixture file the decoder accepts), re-encoded for the
 * targets RDB 6, 8, 9, 10, 11, 12 and Valkey 80, and the produced payload
 * must: carry the expected type byte and footer version, have a right
 * CRC-64, decode again, and digest (rdb/digest.h) like the original value,
 * except where the encoder says it dropped something (field TTLs: then like
 * the TTL-less hash; stream metadata: then the parts every stream version
 * holds must still agree).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rdb/crc64.h"
#include "rdb/decode.h"
#include "rdb/digest.h"
#include "rdb/encode.h"
#include "rdb/rdb.h"
#include "rdb/rio.h"
#include "rdb/tee.h"
#include "tests/test.h"

/* ---- targets ---- */

typedef struct target {
    const char *name;
    int version;
    rdbFlavour flavour;
} target;

static const target TARGETS[] = {
    {"t6", 6, RDB_FLAVOUR_REDIS},   {"t8", 8, RDB_FLAVOUR_REDIS},   {"t9", 9, RDB_FLAVOUR_REDIS},
    {"t10", 10, RDB_FLAVOUR_REDIS}, {"t11", 11, RDB_FLAVOUR_REDIS}, {"t12", 12, RDB_FLAVOUR_REDIS},
    {"valkey80", 80, RDB_FLAVOUR_VALKEY},
};
#define NTARGETS (sizeof(TARGETS) / sizeof(TARGETS[0]))

static int targetHasTtls(const target *t) {
    return t->flavour == RDB_FLAVOUR_VALKEY ? t->version >= 80 : t->version >= 12;
}

/* ---- facts about one value, from a decode ---- */

typedef struct facts {
    rdbLType ltype;
    uint64_t n;  /* elements */
    int has_ttl; /* a hash field has a TTL */
} facts;

static int fKeyBegin(void *ctx, const rdbKeyInfo *k) {
    facts *f = ctx;
    memset(f, 0, sizeof(*f));
    f->ltype = k->ltype;
    return 0;
}
static int fItem(void *ctx, const char *p, size_t len) {
    (void)p, (void)len;
    ((facts *)ctx)->n++;
    return 0;
}
static int fZset(void *ctx, const char *p, size_t len, double s) {
    (void)p, (void)len, (void)s;
    ((facts *)ctx)->n++;
    return 0;
}
static int fHash(void *ctx, const char *f, size_t fl, const char *v, size_t vl, int64_t exp) {
    facts *x = ctx;
    (void)f, (void)fl, (void)v, (void)vl;
    x->n++;
    if (exp >= 0) x->has_ttl = 1;
    return 0;
}

static void factsHandlers(facts *f, rdbHandlers *h) {
    memset(h, 0, sizeof(*h));
    h->ctx = f;
    h->key_begin = fKeyBegin;
    h->list_item = fItem;
    h->set_member = fItem;
    h->zset_member = fZset;
    h->hash_field = fHash;
}

/* ---- the parts of a stream every stream version holds ---- */

static void logU64(rdbBuf *b, uint64_t v) { rdbWriteLe64(b, v); }
static void logId(rdbBuf *b, rdbStreamId id) { logU64(b, id.ms), logU64(b, id.seq); }
static void logStr(rdbBuf *b, const char *p, size_t n) { rdbWriteString(b, p, n); }

static int sEntry(void *ctx, rdbStreamId id, uint64_t nf) {
    rdbBufAppendByte(ctx, 'e'), logId(ctx, id), logU64(ctx, nf);
    return 0;
}
static int sField(void *ctx, const char *f, size_t fl, const char *v, size_t vl) {
    logStr(ctx, f, fl), logStr(ctx, v, vl);
    return 0;
}
static int sMeta(void *ctx, const rdbStreamMeta *m) {
    rdbBufAppendByte(ctx, 'm'), logU64(ctx, m->length), logId(ctx, m->last_id), logU64(ctx, m->groups);
    return 0;
}
static int sGroup(void *ctx, const rdbStreamGroup *g) {
    rdbBufAppendByte(ctx, 'g'), logStr(ctx, g->name, g->namelen), logId(ctx, g->last_id);
    logU64(ctx, g->pel_count);
    return 0;
}
static int sPel(void *ctx, rdbStreamId id, int64_t t, uint64_t cnt) {
    logId(ctx, id), logU64(ctx, (uint64_t)t), logU64(ctx, cnt);
    return 0;
}
static int sConsumer(void *ctx, const rdbStreamConsumer *c) {
    rdbBufAppendByte(ctx, 'c'), logStr(ctx, c->name, c->namelen), logU64(ctx, (uint64_t)c->seen_time);
    logU64(ctx, c->pel_count);
    return 0;
}
static int sConsumerPel(void *ctx, rdbStreamId id) {
    logId(ctx, id);
    return 0;
}

static void streamLogHandlers(rdbBuf *b, rdbHandlers *h) {
    memset(h, 0, sizeof(*h));
    h->ctx = b;
    h->stream_entry = sEntry;
    h->stream_field = sField;
    h->stream_meta = sMeta;
    h->stream_group = sGroup;
    h->stream_pel = sPel;
    h->stream_consumer = sConsumer;
    h->stream_consumer_pel = sConsumerPel;
}

/* ---- decoding a payload into a digest ---- */

/* The digest's own hash_field, called with the TTL removed: the expected
 * digest of a hash whose field TTLs were dropped. */
static int (*g_digest_field)(void *, const char *, size_t, const char *, size_t, int64_t);
static int stripTtl(void *ctx, const char *f, size_t fl, const char *v, size_t vl, int64_t exp) {
    (void)exp;
    return g_digest_field(ctx, f, fl, v, vl, -1);
}

typedef struct decoded {
    unsigned char digest[RDB_DIGEST_LEN];
    facts facts;
    rdbBuf slog; /* stream projection */
    int version; /* footer */
    char err[256];
} decoded;

/* 0 when the payload decodes; its digest (TTLs stripped when asked), facts
 * and stream projection into d. */
static int decodePayload(const unsigned char *p, size_t len, const rdbKeyInfo *base, int strip,
                         decoded *d) {
    rdbDigest *dg = rdbDigestNew();
    rdbHandlers hd, hf, hs, ht, h;
    rdbBufClear(&d->slog);
    rdbDigestHandlers(dg, &hd);
    if (strip) {
        g_digest_field = hd.hash_field;
        hd.hash_field = stripTtl;
    }
    factsHandlers(&d->facts, &hf);
    streamLogHandlers(&d->slog, &hs);
    rdbTee *t1 = rdbTeeNew(&hf, &hs);
    rdbTeeHandlers(t1, &ht);
    rdbTee *t2 = rdbTeeNew(&hd, &ht);
    rdbTeeHandlers(t2, &h);
    d->err[0] = '\0';
    int rc = rdbDecodePayload(p, len, base, &h, &d->version, NULL, d->err, sizeof(d->err));
    rdbDigestFinal(dg, d->digest);
    rdbTeeFree(t2);
    rdbTeeFree(t1);
    rdbDigestFree(dg);
    return rc;
}

/* ---- re-encoding ---- */

typedef struct encoded {
    rdbBuf payload;
    unsigned flags;
    int rc;
    char err[256];
} encoded;

static int reencode(const unsigned char *p, size_t len, const rdbKeyInfo *base, const target *t,
                    int drop, encoded *out) {
    rdbEncodeTarget et = {.version = t->version, .flavour = t->flavour, .drop_field_ttls = drop};
    rdbEncoder *e = rdbEncoderNew(&et);
    rdbHandlers h;
    const unsigned char *pp;
    size_t pl;
    rdbEncoderHandlers(e, &h);
    rdbBufClear(&out->payload);
    out->flags = 0;
    out->err[0] = '\0';
    out->rc = rdbDecodePayload(p, len, base, &h, NULL, NULL, out->err, sizeof(out->err));
    if (out->rc == 0) out->rc = rdbEncoderResult(e, &pp, &pl, &out->flags);
    if (out->rc == 0 && pp) rdbBufAppend(&out->payload, pp, pl);
    if (out->rc != 0 && !out->err[0]) snprintf(out->err, sizeof(out->err), "%s", rdbEncoderError(e));
    rdbEncoderFree(e);
    return out->rc;
}

/* ---- what must come out ---- */

static int expectedType(const facts *f, const target *t, int drop) {
    (void)drop;
    switch (f->ltype) {
    case RDB_LT_STRING: return 0;
    case RDB_LT_LIST: return 1;
    case RDB_LT_SET: return 2;
    case RDB_LT_ZSET: return t->version >= 8 ? 5 : 3;
    case RDB_LT_HASH:
        if (f->has_ttl && targetHasTtls(t)) return t->flavour == RDB_FLAVOUR_VALKEY ? 22 : 24;
        return 4;
    case RDB_LT_STREAM: return t->version >= 11 ? 21 : t->version == 10 ? 19 : t->version == 9 ? 15 : -1;
    default: return -1;
    }
}

static unsigned expectedFlags(const facts *f, const target *t, int drop) {
    unsigned fl = 0;
    if (f->ltype == RDB_LT_MODULE || (f->ltype == RDB_LT_STREAM && t->version < 9))
        fl |= RDB_ENC_UNREPRESENTABLE;
    if (f->ltype == RDB_LT_HASH && f->has_ttl && !targetHasTtls(t))
        fl |= drop ? RDB_ENC_DROPPED_FIELD_TTLS : RDB_ENC_UNREPRESENTABLE;
    if ((f->ltype == RDB_LT_LIST || f->ltype == RDB_LT_SET || f->ltype == RDB_LT_ZSET ||
         f->ltype == RDB_LT_HASH) && f->n == 0)
        fl |= RDB_ENC_EMPTY;
    return fl;
}

static uint64_t rdLe64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Check one value against one target. 0 when all holds, else -1 with the
 * reason in why. */
static int checkOne(const unsigned char *p, size_t len, const rdbKeyInfo *base, const target *t, int drop,
                    decoded *orig, decoded *got, encoded *enc, char *why, size_t whylen) {
    if (decodePayload(p, len, base, 0, orig) < 0) {
        snprintf(why, whylen, "original does not decode: %s", orig->err);
        return -1;
    }
    facts f = orig->facts;
    if (reencode(p, len, base, t, drop, enc) < 0) {
        snprintf(why, whylen, "re-encode failed: %s", enc->err);
        return -1;
    }
    unsigned want = expectedFlags(&f, t, drop);
    unsigned got_flags = enc->flags & ~(RDB_ENC_LOSSY_STREAM | RDB_ENC_DROPPED_IDMP);
    if (got_flags != want) {
        snprintf(why, whylen, "flags 0x%x, expected 0x%x", enc->flags, want);
        return -1;
    }
    if (want & RDB_ENC_UNREPRESENTABLE) {
        if (enc->payload.len) snprintf(why, whylen, "a payload for an unrepresentable value");
        return enc->payload.len ? -1 : 0;
    }
    if ((enc->flags & (RDB_ENC_LOSSY_STREAM | RDB_ENC_DROPPED_IDMP)) && f.ltype != RDB_LT_STREAM) {
        snprintf(why, whylen, "lossy-stream or IDMP flag on a %s", rdbLTypeName(f.ltype));
        return -1;
    }
    const unsigned char *q = enc->payload.p;
    size_t ql = enc->payload.len;
    int type = expectedType(&f, t, drop);
    if (ql < 11 || q[0] != type) {
        snprintf(why, whylen, "type byte %d, expected %d", ql ? q[0] : -1, type);
        return -1;
    }
    rdbFlavour tf = type == 22 ? RDB_FLAVOUR_VALKEY : RDB_FLAVOUR_REDIS;
    int ver = t->version <= 6 ? t->version : rdbTypeLookup(type, tf)->min_version;
    int fver = q[ql - 10] | q[ql - 9] << 8;
    if (fver != ver) {
        snprintf(why, whylen, "footer version %d, expected %d", fver, ver);
        return -1;
    }
    if (rdLe64(q + ql - 8) != crc64(0, q, ql - 8)) {
        snprintf(why, whylen, "CRC-64 mismatch");
        return -1;
    }
    if (!rdbTargetSupportsType(type, tf, t->version, t->flavour)) {
        snprintf(why, whylen, "produced type %d that the target does not load", type);
        return -1;
    }
    if (decodePayload(q, ql, base, 0, got) < 0) {
        snprintf(why, whylen, "re-encoded payload does not decode: %s", got->err);
        return -1;
    }
    if (got->facts.n != f.n) {
        snprintf(why, whylen, "%llu elements, expected %llu", (unsigned long long)got->facts.n,
                 (unsigned long long)f.n);
        return -1;
    }
    if (enc->flags & RDB_ENC_DROPPED_FIELD_TTLS) {
        decodePayload(p, len, base, 1, orig); /* the expected, TTL-less digest */
        if (got->facts.has_ttl) {
            snprintf(why, whylen, "field TTLs dropped but still present");
            return -1;
        }
    }
    int same = memcmp(orig->digest, got->digest, RDB_DIGEST_LEN) == 0;
    if (enc->flags & (RDB_ENC_LOSSY_STREAM | RDB_ENC_DROPPED_IDMP)) {
        /* Something was dropped: what every stream version holds must be
         * intact. The digest may or may not see the drop: since digest
         * version 2 it leaves out what a server derives on load
         * (entries_read, an empty stream's first ID), and a v4 stream's
         * IDMP configuration is not in it (its records are). */
        (void)same;
        if (orig->slog.len != got->slog.len || memcmp(orig->slog.p, got->slog.p, got->slog.len) != 0) {
            snprintf(why, whylen, "stream entries/groups/PEL/consumers differ");
            return -1;
        }
        return 0;
    }
    if (!same) {
        snprintf(why, whylen, "digest differs from the original's");
        return -1;
    }
    return 0;
}

static void decodedFree(decoded *d) { rdbBufFree(&d->slog); }

/* A whole value against every target, one TEST line per target. */
typedef struct ctxs {
    decoded orig, got;
    encoded enc;
} ctxs;

static ctxs C;

static void checkAllTargets(const char *name, const unsigned char *p, size_t len, int drop) {
    rdbKeyInfo base = {.db = 2, .key = "key", .keylen = 3, .expire_ms = 4102444800000LL, .idle = -1,
                       .freq = -1};
    char why[512];
    for (size_t i = 0; i < NTARGETS; i++) {
        TEST(test_fmt("encode.%s.%s%s", name, TARGETS[i].name, drop ? "" : ".keep_ttls")) {
            if (checkOne(p, len, &base, &TARGETS[i], drop, &C.orig, &C.got, &C.enc, why, sizeof(why)) < 0)
                CHECK_EQ_STR("ok", why);
        }
    }
}

/* ---- 1. writers ---- */

static void testWriters(void) {
    rdbBuf b = RDB_BUF_INIT;
    struct {
        uint64_t v;
        const char *bytes;
        size_t n;
    } lens[] = {
        {0, "\x00", 1},
        {63, "\x3f", 1},
        {64, "\x40\x40", 2},
        {16383, "\x7f\xff", 2},
        {16384, "\x80\x00\x00\x40\x00", 5},
        {0xFFFFFFFFULL, "\x80\xff\xff\xff\xff", 5},
        {0x100000000ULL, "\x81\x00\x00\x00\x01\x00\x00\x00\x00", 9},
        {UINT64_MAX, "\x81\xff\xff\xff\xff\xff\xff\xff\xff", 9},
    };
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        rdbBufClear(&b);
        rdbWriteLen(&b, lens[i].v);
        test_eq_mem(test_fmt("encode.len.%llu", (unsigned long long)lens[i].v), lens[i].bytes, lens[i].n,
                    b.p, b.len);
    }

    TEST("encode.string_double") {
        rdbBufClear(&b);
        rdbWriteStringDouble(&b, 1.5);
        rdbWriteStringDouble(&b, INFINITY);
        rdbWriteStringDouble(&b, -INFINITY);
        rdbWriteStringDouble(&b, -0.0);
        rdbWriteStringDouble(&b, 0.1);
        CHECK_EQ_MEM("\x03" "1.5" "\xfe\xff\x02-0\x13" "0.10000000000000001", 29, b.p, b.len);
    }
    TEST("encode.binary_double") {
        rdbBufClear(&b);
        rdbWriteBinaryDouble(&b, 1.5);
        CHECK_EQ_MEM("\x00\x00\x00\x00\x00\x00\xf8\x3f", 8, b.p, b.len);
    }
    TEST("encode.string_and_le") {
        rdbBufClear(&b);
        rdbWriteString(&b, "ab", 2);
        rdbWriteLe16(&b, 0x1234);
        rdbWriteLe64(&b, 0x0102030405060708ULL);
        rdbWriteRawStreamId(&b, (rdbStreamId){1, 2});
        CHECK_EQ_MEM("\x02" "ab" "\x34\x12" "\x08\x07\x06\x05\x04\x03\x02\x01"
                     "\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x02",
                     29, b.p, b.len);
    }
    TEST("encode.payload_build_matches_redis_dump") {
        /* DUMP of SET k bar on redis-server 7.0.15. */
        static const unsigned char want[] = "\x00\x03" "bar" "\x0a\x00\xe6\xbe\x49\x60\xee\x66\xfd\x17";
        CHECK_EQ_INT(0, rdbPayloadBuild(&b, 0, (const unsigned char *)"\x03" "bar", 4, 10));
        CHECK_EQ_MEM(want, sizeof(want) - 1, b.p, b.len);
    }
    rdbBufFree(&b);
}

/* ---- 2. versions and target support ---- */

static void testTables(void) {
    const rdbFlavour R = RDB_FLAVOUR_REDIS, V = RDB_FLAVOUR_VALKEY;
    TEST("encode.payload_version") {
        CHECK_EQ_INT(1, rdbPayloadVersion(0, R, 10));
        CHECK_EQ_INT(6, rdbPayloadVersion(0, R, 6));
        CHECK_EQ_INT(6, rdbPayloadVersion(4, R, 6));
        CHECK_EQ_INT(8, rdbPayloadVersion(5, R, 10));
        CHECK_EQ_INT(10, rdbPayloadVersion(18, R, 11));
        CHECK_EQ_INT(11, rdbPayloadVersion(20, R, 12));
        CHECK_EQ_INT(11, rdbPayloadVersion(21, R, 80));
        CHECK_EQ_INT(12, rdbPayloadVersion(24, R, 12));
        CHECK_EQ_INT(80, rdbPayloadVersion(22, V, 80));
        CHECK_EQ_INT(-1, rdbPayloadVersion(8, R, 10));
        CHECK_EQ_INT(-1, rdbPayloadVersion(24, V, 80));
    }
    TEST("encode.target_supports") {
        CHECK_EQ_INT(1, rdbTargetSupportsType(20, R, 11, R));
        CHECK_EQ_INT(0, rdbTargetSupportsType(20, R, 10, R));  /* 7.0: no set listpack */
        CHECK_EQ_INT(0, rdbTargetSupportsType(21, R, 10, R));  /* 7.0: no stream v3 */
        CHECK_EQ_INT(1, rdbTargetSupportsType(19, R, 10, R));
        CHECK_EQ_INT(0, rdbTargetSupportsType(16, R, 9, R));   /* 6.2: no listpacks */
        CHECK_EQ_INT(0, rdbTargetSupportsType(18, R, 9, R));
        CHECK_EQ_INT(1, rdbTargetSupportsType(14, R, 9, R));
        CHECK_EQ_INT(0, rdbTargetSupportsType(15, R, 8, R));
        CHECK_EQ_INT(1, rdbTargetSupportsType(5, R, 8, R));
        CHECK_EQ_INT(0, rdbTargetSupportsType(5, R, 7, R));
        CHECK_EQ_INT(1, rdbTargetSupportsType(3, R, 6, R));
        CHECK_EQ_INT(0, rdbTargetSupportsType(24, R, 11, R));  /* Valkey 8 / Redis 7.2 */
        CHECK_EQ_INT(1, rdbTargetSupportsType(24, R, 12, R));
        CHECK_EQ_INT(1, rdbTargetSupportsType(25, R, 12, R));
        CHECK_EQ_INT(0, rdbTargetSupportsType(22, V, 12, R));  /* HASH_2 on Redis 7.4 */
        CHECK_EQ_INT(1, rdbTargetSupportsType(22, V, 80, V));
        CHECK_EQ_INT(0, rdbTargetSupportsType(22, V, 11, R));
        CHECK_EQ_INT(0, rdbTargetSupportsType(24, R, 80, V));  /* Redis HFE on Valkey 9 */
        CHECK_EQ_INT(0, rdbTargetSupportsType(25, R, 80, V));
        CHECK_EQ_INT(0, rdbTargetSupportsType(22, R, 80, V));
        CHECK_EQ_INT(1, rdbTargetSupportsType(21, R, 80, V));
        CHECK_EQ_INT(1, rdbTargetSupportsType(20, R, 80, V));
        CHECK_EQ_INT(1, rdbTargetSupportsType(7, R, 80, V));
        CHECK_EQ_INT(1, rdbTargetSupportsType(6, R, 8, R));
        CHECK_EQ_INT(0, rdbTargetSupportsType(6, R, 9, R));
        CHECK_EQ_INT(0, rdbTargetSupportsType(8, R, 12, R));
    }
}

/* ---- 3. payloads built here ---- */

static void payload(rdbBuf *out, int type, const rdbBuf *body, int version) {
    rdbPayloadBuild(out, type, body->p, body->len, version);
}

static void testBuilt(void) {
    rdbBuf b = RDB_BUF_INIT, p = RDB_BUF_INIT;

    /* string */
    rdbWriteString(&b, "hello\0world", 11);
    payload(&p, 0, &b, 10);
    checkAllTargets("built.string", p.p, p.len, 1);

    /* plain list of 3, with an empty element */
    rdbBufClear(&b);
    rdbWriteLen(&b, 3);
    rdbWriteString(&b, "a", 1), rdbWriteString(&b, "", 0), rdbWriteString(&b, "12345", 5);
    payload(&p, 1, &b, 10);
    checkAllTargets("built.list", p.p, p.len, 1);

    /* empty list: RESTORE would refuse it */
    rdbBufClear(&b);
    rdbWriteLen(&b, 0);
    payload(&p, 1, &b, 10);
    checkAllTargets("built.list_empty", p.p, p.len, 1);

    /* zset with string scores: inf, -inf, -0, 0.1, 1e300 */
    rdbBufClear(&b);
    rdbWriteLen(&b, 5);
    const double sc[] = {INFINITY, -INFINITY, -0.0, 0.1, 1e300};
    for (int i = 0; i < 5; i++) {
        char m[2] = {(char)('a' + i), 0};
        rdbWriteString(&b, m, 1);
        rdbWriteStringDouble(&b, sc[i]);
    }
    payload(&p, 3, &b, 10);
    checkAllTargets("built.zset_string_scores", p.p, p.len, 1);

    /* Redis 7.4 HASH_METADATA: two fields with TTLs, one without. min is
     * 1700000000000; ttl = abs - min + 1, 0 = none. */
    int64_t min = 1700000000000LL;
    rdbBufClear(&b);
    rdbWriteLe64(&b, (uint64_t)min);
    rdbWriteLen(&b, 3);
    rdbWriteLen(&b, 1), rdbWriteString(&b, "f1", 2), rdbWriteString(&b, "v1", 2);
    rdbWriteLen(&b, 0), rdbWriteString(&b, "f2", 2), rdbWriteString(&b, "v2", 2);
    rdbWriteLen(&b, 5001), rdbWriteString(&b, "f3", 2), rdbWriteString(&b, "v3", 2);
    payload(&p, 24, &b, 12);
    checkAllTargets("built.hash_metadata", p.p, p.len, 1);
    checkAllTargets("built.hash_metadata", p.p, p.len, 0);

    TEST("encode.built.hash_metadata.t12_bytes") {
        /* Re-encoding type 24 for RDB 12 gives the same bytes back. */
        rdbKeyInfo base = {.key = "k", .keylen = 1, .expire_ms = -1, .idle = -1, .freq = -1};
        CHECK_EQ_INT(0, reencode(p.p, p.len, &base, &TARGETS[5], 1, &C.enc));
        CHECK_EQ_MEM(p.p, p.len, C.enc.payload.p, C.enc.payload.len);
    }

    /* Valkey 9 HASH_2: every field with its expiry, -1 for none */
    rdbBufClear(&b);
    rdbWriteLen(&b, 2);
    rdbWriteString(&b, "a", 1), rdbWriteString(&b, "1", 1), rdbWriteLe64(&b, (uint64_t)-1);
    rdbWriteString(&b, "b", 1), rdbWriteString(&b, "2", 1), rdbWriteLe64(&b, 1800000000123ULL);
    payload(&p, 22, &b, 80);
    checkAllTargets("built.valkey_hash2", p.p, p.len, 1);
    checkAllTargets("built.valkey_hash2", p.p, p.len, 0);
    TEST("encode.built.valkey_hash2.t80_bytes") {
        rdbKeyInfo base = {.key = "k", .keylen = 1, .expire_ms = -1, .idle = -1, .freq = -1};
        CHECK_EQ_INT(0, reencode(p.p, p.len, &base, &TARGETS[6], 1, &C.enc));
        CHECK_EQ_MEM(p.p, p.len, C.enc.payload.p, C.enc.payload.len);
    }

    /* A plain hash whose fields carry no TTL stays type 4 everywhere. */
    rdbBufClear(&b);
    rdbWriteLen(&b, 1);
    rdbWriteString(&b, "f", 1), rdbWriteString(&b, "v", 1);
    payload(&p, 4, &b, 10);
    checkAllTargets("built.hash", p.p, p.len, 0);

    /* Stream v3 without nodes (all deleted), a group with a PEL entry and a
     * consumer whose active time differs from its seen time: v2 and v1
     * targets cannot say that (lossy). */
    rdbBufClear(&b);
    rdbWriteLen(&b, 0);                               /* nodes */
    rdbWriteLen(&b, 0), rdbWriteLen(&b, 5), rdbWriteLen(&b, 0); /* length, last 5-0 */
    rdbWriteLen(&b, 0), rdbWriteLen(&b, 0);           /* first 0-0 */
    rdbWriteLen(&b, 3), rdbWriteLen(&b, 0);           /* max deleted 3-0 */
    rdbWriteLen(&b, 5);                               /* entries added */
    rdbWriteLen(&b, 1);                               /* groups */
    rdbWriteString(&b, "g", 1), rdbWriteLen(&b, 4), rdbWriteLen(&b, 0), rdbWriteLen(&b, 4);
    rdbWriteLen(&b, 1);                               /* PEL */
    rdbWriteRawStreamId(&b, (rdbStreamId){4, 0}), rdbWriteLe64(&b, 1000), rdbWriteLen(&b, 2);
    rdbWriteLen(&b, 1);                               /* consumers */
    rdbWriteString(&b, "c", 1), rdbWriteLe64(&b, 100), rdbWriteLe64(&b, 200), rdbWriteLen(&b, 1);
    rdbWriteRawStreamId(&b, (rdbStreamId){4, 0});
    payload(&p, 21, &b, 11);
    checkAllTargets("built.stream_v3", p.p, p.len, 1);
    TEST("encode.built.stream_v3.lossy_flags") {
        rdbKeyInfo base = {.key = "k", .keylen = 1, .expire_ms = -1, .idle = -1, .freq = -1};
        CHECK_EQ_INT(0, reencode(p.p, p.len, &base, &TARGETS[4], 1, &C.enc));
        CHECK_EQ_UINT(0, C.enc.flags);
        CHECK_EQ_MEM(p.p, p.len, C.enc.payload.p, C.enc.payload.len); /* 21 -> 21 verbatim */
        CHECK_EQ_INT(0, reencode(p.p, p.len, &base, &TARGETS[3], 1, &C.enc));
        CHECK_EQ_UINT(RDB_ENC_LOSSY_STREAM, C.enc.flags);
        CHECK_EQ_INT(0, reencode(p.p, p.len, &base, &TARGETS[2], 1, &C.enc));
        CHECK_EQ_UINT(RDB_ENC_LOSSY_STREAM, C.enc.flags);
    }

    /* Stream v1: entries_read unknown (-1) goes up as 2^64-1. */
    rdbBufClear(&b);
    rdbWriteLen(&b, 0);
    rdbWriteLen(&b, 0), rdbWriteLen(&b, 7), rdbWriteLen(&b, 1);
    rdbWriteLen(&b, 1);
    rdbWriteString(&b, "grp", 3), rdbWriteLen(&b, 7), rdbWriteLen(&b, 1);
    rdbWriteLen(&b, 0);                               /* PEL */
    rdbWriteLen(&b, 2);                               /* consumers */
    rdbWriteString(&b, "x", 1), rdbWriteLe64(&b, 5), rdbWriteLen(&b, 0);
    rdbWriteString(&b, "y", 1), rdbWriteLe64(&b, 6), rdbWriteLen(&b, 0);
    payload(&p, 15, &b, 9);
    checkAllTargets("built.stream_v1", p.p, p.len, 1);
    TEST("encode.built.stream_v1.unknown_entries_read") {
        rdbKeyInfo base = {.key = "k", .keylen = 1, .expire_ms = -1, .idle = -1, .freq = -1};
        CHECK_EQ_INT(0, reencode(p.p, p.len, &base, &TARGETS[3], 1, &C.enc));
        CHECK(memmem(C.enc.payload.p, C.enc.payload.len, "grp\x07\x01\x81\xff\xff\xff\xff\xff\xff\xff\xff", 14) != NULL);
    }

    /* A module value: never re-encoded. Id of "mymodule1" style name is
     * irrelevant here; any 64-bit id with an EOF opcode decodes. */
    rdbBufClear(&b);
    rdbWriteLen(&b, 0x1234567890ABC000ULL | 3);
    rdbWriteLen(&b, RDB_MODULE_OPCODE_UINT), rdbWriteLen(&b, 42);
    rdbWriteLen(&b, RDB_MODULE_OPCODE_EOF);
    payload(&p, 7, &b, 10);
    checkAllTargets("built.module", p.p, p.len, 1);

    rdbBufFree(&b);
    rdbBufFree(&p);
}

/* ---- 4. values from RDB files ---- */

typedef struct fileKey {
    rdbKeyInfo base;
    char *key;
    rdbBuf payload;
} fileKey;

typedef struct fileKeys {
    int version;
    rdbFlavour flavour;
    fileKey *k;
    size_t n, cap;
    rdbKeyInfo cur;
    rdbBuf raw;
    int type;
} fileKeys;

static int fkHeader(void *ctx, int version, rdbFlavour f) {
    fileKeys *fk = ctx;
    fk->version = version;
    fk->flavour = f;
    return 0;
}
static int fkWant(void *ctx, const rdbKeyInfo *k) {
    (void)ctx, (void)k;
    return 1;
}
static int fkRaw(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    fileKeys *fk = ctx;
    if (fk->n == fk->cap) {
        fk->cap = fk->cap ? fk->cap * 2 : 16;
        fk->k = realloc(fk->k, fk->cap * sizeof(*fk->k));
        if (!fk->k) return -1;
    }
    fileKey *x = &fk->k[fk->n++];
    memset(x, 0, sizeof(*x));
    x->key = malloc(k->keylen + 1);
    memcpy(x->key, k->key, k->keylen);
    x->base = *k;
    x->base.key = x->key;
    /* The footer version makes rdbDecodePayload read 22+ in the right
     * flavour; file versions 1-4 have no CRC but payloads always do. */
    return rdbPayloadBuild(&x->payload, k->type, p, len, fk->version);
}

static void fileKeysFree(fileKeys *fk) {
    for (size_t i = 0; i < fk->n; i++) {
        free(fk->k[i].key);
        rdbBufFree(&fk->k[i].payload);
    }
    free(fk->k);
    memset(fk, 0, sizeof(*fk));
}

/* 0 when the whole file decodes (then its keys are in fk). */
static int loadFile(const char *path, fileKeys *fk, char *err, size_t errlen) {
    rdbReader *r = rdbReaderFile(path);
    rdbHandlers h;
    memset(fk, 0, sizeof(*fk));
    if (!r) {
        snprintf(err, errlen, "cannot open %s", path);
        return -1;
    }
    memset(&h, 0, sizeof(h));
    h.ctx = fk;
    h.header = fkHeader;
    h.want_raw = fkWant;
    h.raw_value = fkRaw;
    rdbDecodeOptions opt = {.ignore_crc = 1};
    rdbDecoder *d = rdbDecoderNew(r, &h, &opt);
    int rc = rdbDecode(d);
    if (rc < 0) snprintf(err, errlen, "%s", rdbDecoderError(d));
    rdbDecoderFree(d);
    rdbReaderFree(r);
    return rc;
}

/* Per target: how often each flag came out over the corpus (for the log). */
static size_t g_flag_counts[NTARGETS][4];

static int checkFileKeys(const fileKeys *fk, const target *t, int drop, const char *file, char *why,
                         size_t whylen, size_t *nchecked) {
    char one[400];
    for (size_t i = 0; i < fk->n; i++) {
        const fileKey *x = &fk->k[i];
        if (x->base.type == RDB_TYPE_MODULE_PRE_GA) continue;
        if (checkOne(x->payload.p, x->payload.len, &x->base, t, drop, &C.orig, &C.got, &C.enc, one,
                     sizeof(one)) < 0) {
            snprintf(why, whylen, "%s [%s: key '%.*s', type %d]", one, file,
                     (int)(x->base.keylen > 60 ? 60 : x->base.keylen), x->key, x->base.type);
            fprintf(stderr, "# %s: %s\n", t->name, why);
            return -1;
        }
        (*nchecked)++;
        for (int b = 0; b < 4; b++)
            if (C.enc.flags & (1u << b)) g_flag_counts[t - TARGETS][b]++;
    }
    return 0;
}

static const char *genDir(void) {
    static char buf[4096];
    const char *root = getenv("ROOT");
    snprintf(buf, sizeof(buf), "%s/fixtures/gen", root && *root ? root : ".");
    return buf;
}

static void testGenFixtures(void) {
    DIR *dir = opendir(genDir());
    if (!dir) {
        test_skip("encode.gen", "no fixtures/gen directory");
        return;
    }
    struct dirent *de;
    char path[8192], err[512];
    while ((de = readdir(dir)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 4, ".rdb") != 0) continue;
        snprintf(path, sizeof(path), "%s/%s", genDir(), de->d_name);
        fileKeys fk;
        int ok = loadFile(path, &fk, err, sizeof(err)) == 0;
        for (size_t i = 0; i < NTARGETS; i++) {
            TEST(test_fmt("encode.gen.%.*s.%s", (int)(nl - 4), de->d_name, TARGETS[i].name)) {
                size_t n = 0;
                if (!ok) {
                    CHECK_EQ_STR("decodes", err);
                    continue;
                }
                if (checkFileKeys(&fk, &TARGETS[i], 1, de->d_name, err, sizeof(err), &n) < 0)
                    CHECK_EQ_STR("ok", err);
            }
        }
        fileKeysFree(&fk);
    }
    closedir(dir);
}

/* Every public fixture file (< 2 MB) the decoder accepts, every key, every
 * target: one line per target. */
typedef struct corpus {
    char **paths;
    size_t n, cap;
} corpus;

static void corpusWalk(corpus *c, const char *dir, int depth) {
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[8192];
    struct stat st;
    if (!d || depth > 12) {
        if (d) closedir(d);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (lstat(path, &st) < 0) continue;
        if (S_ISDIR(st.st_mode)) {
            corpusWalk(c, path, depth + 1);
        } else if (S_ISREG(st.st_mode) && st.st_size < 2 * 1024 * 1024) {
            size_t nl = strlen(de->d_name);
            if (nl < 5 || strcmp(de->d_name + nl - 4, ".rdb") != 0) continue;
            if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 64;
                c->paths = realloc(c->paths, c->cap * sizeof(char *));
            }
            c->paths[c->n++] = strdup(path);
        }
    }
    closedir(d);
}

static int cmpStr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void testCorpus(void) {
    const char *dir = test_env_path("SHARED", "fixtures");
    corpus c = {0};
    char err[1024];
    if (!dir) {
        test_skip("encode.corpus", "SHARED is not set");
        return;
    }
    corpusWalk(&c, dir, 0);
    qsort(c.paths, c.n, sizeof(char *), cmpStr);
    size_t files = 0, keys[NTARGETS] = {0};
    int failed[NTARGETS] = {0};
    char why[NTARGETS][1024];
    for (size_t f = 0; f < c.n; f++) {
        fileKeys fk;
        if (loadFile(c.paths[f], &fk, err, sizeof(err)) < 0) {
            fileKeysFree(&fk);
            continue; /* corrupt or unsupported: the decoder's tests cover it */
        }
        files++;
        const char *rel = c.paths[f] + strlen(dir) + 1;
        for (size_t i = 0; i < NTARGETS; i++) {
            if (failed[i]) continue;
            if (checkFileKeys(&fk, &TARGETS[i], 1, rel, why[i], sizeof(why[i]), &keys[i]) < 0) failed[i] = 1;
        }
        fileKeysFree(&fk);
    }
    for (size_t i = 0; i < NTARGETS; i++) {
        TEST(test_fmt("encode.corpus.%s", TARGETS[i].name)) {
            if (failed[i]) {
                CHECK_EQ_STR("ok", why[i]);
                continue;
            }
            CHECK(files > 0 && keys[i] > 0);
        }
    }
    fprintf(stderr, "# corpus: %zu files decoded, %zu keys per target\n", files, keys[0]);
    for (size_t i = 0; i < NTARGETS; i++)
        fprintf(stderr, "# corpus %s: dropped-ttls %zu unrepresentable %zu empty %zu lossy-stream %zu\n",
                TARGETS[i].name, g_flag_counts[i][0], g_flag_counts[i][1], g_flag_counts[i][2],
                g_flag_counts[i][3]);
    for (size_t i = 0; i < c.n; i++) free(c.paths[i]);
    free(c.paths);
}

static void testEncoderState(void) {
    TEST("encode.result_before_any_key") {
        rdbEncodeTarget et = {.version = 10, .flavour = RDB_FLAVOUR_REDIS};
        rdbEncoder *e = rdbEncoderNew(&et);
        const unsigned char *p = (const unsigned char *)"x";
        CHECK_EQ_INT(-1, rdbEncoderResult(e, &p, NULL, NULL));
        CHECK_EQ_INT(-1, rdbEncoderType(e));
        CHECK_EQ_STR("", rdbEncoderError(e));
        rdbEncoderFree(e);
    }
}

int main(void) {
    testWriters();
    testEncoderState();
    testTables();
    testBuilt();
    testGenFixtures();
    testCorpus();
    decodedFree(&C.orig);
    decodedFree(&C.got);
    rdbBufFree(&C.enc.payload);
    return test_report();
}

/* keyverdict.c -- one key of --verify judged (see keyverdict.h). */
#include "keyverdict.h"

#include <stdio.h>
#include <string.h>

#include "keydiff.h"
#include "rdb/decode.h"
#include "rdb/digest.h"

#define TTL_LAG_ALLOWANCE_MS 1000

int64_t keyVerdictAutoTolerance(const rsServerInfo *s, const rsServerInfo *t, int64_t slowest_read_ms) {
    if (connServerAtLeast(s, 7, 0) && connServerAtLeast(t, 7, 0)) return 0;
    return TTL_LAG_ALLOWANCE_MS + 2 * slowest_read_ms;
}

/* One key's digest (its K term): decode a payload into a fresh digest. */
static int keyDigest(const scanItem *it, unsigned char out[RDB_DIGEST_LEN], char *err, size_t errlen) {
    rdbDigest *dg = rdbDigestNew();
    rdbHandlers h;
    if (!dg) return snprintf(err, errlen, "out of memory"), -1;
    rdbDigestHandlers(dg, &h);
    rdbKeyInfo base = {.db = (uint64_t)it->db, .key = it->key, .keylen = it->keylen, .expire_ms = it->expire_ms,
                       .idle = -1, .freq = -1};
    int rc = rdbDecodePayload(it->payload, it->len, &base, &h, NULL, NULL, err, errlen);
    rdbDigestFinal(dg, out);
    rdbDigestFree(dg);
    return rc;
}

static int termsEqual(const scanItem *a, const scanItem *b, int *equal, char *err, size_t errlen) {
    unsigned char da[RDB_DIGEST_LEN], db[RDB_DIGEST_LEN];
    if (keyDigest(a, da, err, errlen) < 0 || keyDigest(b, db, err, errlen) < 0) return -1;
    *equal = memcmp(da, db, sizeof(da)) == 0;
    return 0;
}

/* How far apart two expire times are; INT64_MAX when only one has one. */
static int64_t expireGap(int64_t a, int64_t b) {
    if (a == -1 || b == -1) return a == b ? 0 : INT64_MAX;
    return a > b ? a - b : b - a;
}

static void expireText(int64_t ms, char *out, size_t outlen) {
    if (ms == -1) snprintf(out, outlen, "none");
    else snprintf(out, outlen, "%lld (unix ms)", (long long)ms);
}

static void ttlText(const scanItem *s, const scanItem *t, int64_t tol, char *out, size_t outlen) {
    char a[40], b[40];
    expireText(s->expire_ms, a, sizeof(a));
    expireText(t->expire_ms, b, sizeof(b));
    int64_t gap = expireGap(s->expire_ms, t->expire_ms);
    if (gap == INT64_MAX)
        snprintf(out, outlen, "expire time: %s on the source, %s on the target", a, b);
    else
        snprintf(out, outlen, "expire time: %s on the source, %s on the target (%lld ms apart; TTL tolerance %lld ms)",
                 a, b, (long long)gap, (long long)tol);
}

int keyVerdict(const scanItem *src, const scanItem *tgt, int64_t tol_ms, char *what, size_t whatlen, char *err,
               size_t errlen) {
    int equal;
    what[0] = 0;
    if (termsEqual(src, tgt, &equal, err, errlen) < 0) return -1;
    if (equal) return KV_EQUAL;
    scanItem same = *tgt; /* the target's key with the source's expire time */
    same.expire_ms = src->expire_ms;
    int64_t gap = expireGap(src->expire_ms, tgt->expire_ms);
    int ttl_differs = gap > tol_ms;
    char ttl[300], part[1400];
    ttlText(src, tgt, tol_ms, ttl, sizeof(ttl));
    if (gap && termsEqual(src, &same, &equal, err, errlen) < 0) return -1;
    if (gap && equal) { /* the expire time alone */
        if (!ttl_differs) return KV_TTL_WITHIN;
        snprintf(what, whatlen, "differs in TTL only: %s", ttl);
        return KV_DIFFER_TTL;
    }
    int r = keydiffCompare(src, &same, part, sizeof(part), err, errlen);
    if (r < 0) return -1;
    if (r != KEYDIFF_DIFFER) { /* only parts not compared differ, and maybe the TTL */
        if (ttl_differs) {
            snprintf(what, whatlen, "differs in TTL only: %s", ttl);
            return KV_DIFFER_TTL;
        }
        if (r == KEYDIFF_NOTED) {
            snprintf(what, whatlen, "%s", part);
            return KV_NOTED;
        }
        return gap ? KV_TTL_WITHIN : KV_EQUAL;
    }
    int type = strncmp(part, "type:", 5) == 0;
    snprintf(what, whatlen, "differs in %s: %s%s%s", type ? "type" : "value", part,
             ttl_differs ? "; and in TTL: " : "", ttl_differs ? ttl : "");
    return type ? KV_DIFFER_TYPE : KV_DIFFER_VALUE;
}

int keyVerdictCount(keyVerdictCounts *c, int kind) {
    switch (kind) {
    case KV_TTL_WITHIN: c->within++; return 0;
    case KV_DIFFER_TYPE: c->type++; return 1;
    case KV_DIFFER_VALUE: c->value++; return 1;
    case KV_DIFFER_TTL: c->ttl++; return 1;
    default: return 0;
    }
}

void keyVerdictSummary(const keyVerdictCounts *c, int64_t tol_ms, int automatic, char *out, size_t outlen) {
    snprintf(out, outlen,
             "(differ: %llu in value, %llu in type, %llu in TTL only; TTL tolerance %lld ms%s, %llu expire "
             "times apart within it)",
             (unsigned long long)c->value, (unsigned long long)c->type, (unsigned long long)c->ttl,
             (long long)tol_ms, automatic ? " (auto)" : "", (unsigned long long)c->within);
}

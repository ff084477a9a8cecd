/* checksum.c -- counters and digest for `--checksum` (see checksum.h). */
#include "checksum.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rdb/digest.h"
#include "rdb/parallel.h"
#include "rdb/relay.h"
#include "rdb/tee.h"

struct checksum {
    rdbDigest *dg;
    rdbHandlers digest_h, relay_h, count_h;
    rdbRelay *relay;   /* the digest hashes on its own thread */
    rdbTee *tee;
    /* Parallel: values decoded and hashed by workers, a digest each. */
    rdbParallel *par;
    rdbHandlers par_h;
    int nworkers, merged;
    rdbDigest **wdg;
    rdbHandlers *wh;
    int version;
    rdbCrcStatus crc;
    int saw_eof;
    uint64_t keys, expires, functions;
    uint64_t types[RDB_LT_COUNT];
    uint64_t *per_db; /* keys per db index, grown on demand */
    size_t ndb;
};

static int onHeader(void *ctx, int version, rdbFlavour flavour) {
    ((checksum *)ctx)->version = version;
    return 0;
}

static int onKeyEnd(void *ctx, const rdbKeyInfo *k) {
    checksum *c = ctx;
    if (k->db >= c->ndb) {
        size_t n = (size_t)k->db + 1;
        uint64_t *p = realloc(c->per_db, n * sizeof(*p));
        if (!p) return -1;
        memset(p + c->ndb, 0, (n - c->ndb) * sizeof(*p));
        c->per_db = p;
        c->ndb = n;
    }
    c->per_db[k->db]++;
    c->keys++;
    if (k->expire_ms != -1) c->expires++;
    if (k->ltype >= 0 && k->ltype < RDB_LT_COUNT) c->types[k->ltype]++;
    return 0;
}

/* The counters fail only when their per-db table cannot grow. */
static const char *onError(void *ctx) { return "out of memory counting keys per db"; }

static int onFunction(void *ctx, const rdbFunction *fn) {
    checksum *c = ctx;
    c->functions++;
    /* Parallel mode: functions are few and come on the framing thread. */
    if (c->par) return c->digest_h.function(c->digest_h.ctx, fn);
    return 0;
}

static int onEof(void *ctx, const rdbEofInfo *e) {
    checksum *c = ctx;
    c->crc = e->crc;
    c->saw_eof = 1;
    return 0;
}

checksum *checksumNew(void) {
    checksum *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->dg = rdbDigestNew();
    if (!c->dg) {
        free(c);
        return NULL;
    }
    rdbDigestHandlers(c->dg, &c->digest_h);
    c->relay = rdbRelayNew(&c->digest_h);
    if (c->relay) rdbRelayHandlers(c->relay, &c->relay_h);
    c->count_h = (rdbHandlers){.ctx = c, .header = onHeader, .key_end = onKeyEnd,
                               .function = onFunction, .eof = onEof, .error = onError};
    c->tee = c->relay ? rdbTeeNew(&c->count_h, &c->relay_h) : NULL;
    if (!c->tee) {
        checksumFree(c);
        return NULL;
    }
    return c;
}

checksum *checksumNewParallel(int nworkers) {
    checksum *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->nworkers = nworkers < 1 ? 1 : nworkers;
    c->dg = rdbDigestNew();
    c->wdg = calloc((size_t)c->nworkers, sizeof(*c->wdg));
    c->wh = calloc((size_t)c->nworkers, sizeof(*c->wh));
    int ok = c->dg && c->wdg && c->wh;
    for (int i = 0; ok && i < c->nworkers; i++) {
        c->wdg[i] = rdbDigestNew();
        if (c->wdg[i]) rdbDigestHandlers(c->wdg[i], &c->wh[i]);
        else ok = 0;
    }
    if (ok) c->par = rdbParallelNew(c->nworkers, c->wh);
    if (!c->par) {
        checksumFree(c);
        return NULL;
    }
    rdbDigestHandlers(c->dg, &c->digest_h);
    rdbParallelHandlers(c->par, &c->par_h);
    /* The counters need no content, so the tee stays framing-only. */
    c->count_h = (rdbHandlers){.ctx = c, .frame_only = 1, .header = onHeader, .key_end = onKeyEnd,
                               .function = onFunction, .eof = onEof, .error = onError};
    c->tee = rdbTeeNew(&c->count_h, &c->par_h);
    if (!c->tee) {
        checksumFree(c);
        return NULL;
    }
    return c;
}

int checksumFinish(checksum *c, rdbErrCode *code, const char **err) {
    if (!c->par) {
        rdbRelaySync(c->relay);
        return 0;
    }
    if (rdbParallelFinish(c->par) < 0) {
        *err = rdbParallelError(c->par, code);
        return -1;
    }
    if (!c->merged) {
        for (int i = 0; i < c->nworkers; i++) rdbDigestMerge(c->dg, c->wdg[i]);
        c->merged = 1;
    }
    return 0;
}

void checksumFree(checksum *c) {
    if (!c) return;
    rdbTeeFree(c->tee);
    rdbRelayFree(c->relay);
    rdbParallelFree(c->par);
    for (int i = 0; c->wdg && i < c->nworkers; i++) rdbDigestFree(c->wdg[i]);
    free(c->wdg);
    free(c->wh);
    rdbDigestFree(c->dg);
    free(c->per_db);
    free(c);
}

void checksumHandlers(checksum *c, rdbHandlers *h) { rdbTeeHandlers(c->tee, h); }

static const char *crcName(const checksum *c) {
    if (!c->saw_eof) return "n/a"; /* no file: a scan of a live source */
    return c->crc == RDB_CRC_OK ? "ok" : c->crc == RDB_CRC_MISMATCH ? "mismatch" : "absent";
}

void checksumReport(checksum *c, FILE *out, int json) {
    char hex[2 * RDB_DIGEST_LEN + 1];
    rdbErrCode code;
    const char *err;
    checksumFinish(c, &code, &err); /* every key hashed (callers check errors first) */
    rdbDigestHex(c->dg, hex);
    if (!json) {
        if (c->version) fprintf(out, "rdb_version: %d\n", c->version);
        fprintf(out, "crc64: %s\nkeys: %" PRIu64 "\n", crcName(c), c->keys);
        for (size_t i = 0; i < c->ndb; i++)
            if (c->per_db[i]) fprintf(out, "keys.db%zu: %" PRIu64 "\n", i, c->per_db[i]);
        fprintf(out, "types:");
        for (int t = 0; t < RDB_LT_COUNT; t++) fprintf(out, " %s=%" PRIu64, rdbLTypeName(t), c->types[t]);
        fprintf(out, "\nexpires: %" PRIu64 "\nfunctions: %" PRIu64 "\ndigest: %s\n", c->expires,
                c->functions, hex);
        return;
    }
    fprintf(out, "{\"rdb_version\":%d,\"crc64\":\"%s\",\"keys\":%" PRIu64 ",\"keys_per_db\":{",
            c->version, crcName(c), c->keys);
    const char *sep = "";
    for (size_t i = 0; i < c->ndb; i++) {
        if (!c->per_db[i]) continue;
        fprintf(out, "%s\"%zu\":%" PRIu64, sep, i, c->per_db[i]);
        sep = ",";
    }
    fprintf(out, "},\"types\":{");
    for (int t = 0; t < RDB_LT_COUNT; t++)
        fprintf(out, "%s\"%s\":%" PRIu64, t ? "," : "", rdbLTypeName(t), c->types[t]);
    fprintf(out, "},\"expires\":%" PRIu64 ",\"functions\":%" PRIu64 ",\"digest\":\"%s\"}\n", c->expires,
            c->functions, hex);
}

/* checksum.c -- counters and digest for `--checksum` (see checksum.h). */
#include "checksum.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rdb/digest.h"
#include "rdb/parallel.h"
#include "rdb/relay.h"
#include "rdb/tee.h"

/* ---- Keys per db: a table of the dbs seen, never indexed by db ----
 *
 * A file may say SELECTDB 2000000000; an array indexed by db would then
 * ask for 16 GB. Memory here follows the number of distinct dbs (each
 * holding at least one key): entries in the order first seen, found
 * through an open-addressing index; keys come grouped by db, so the last
 * entry used is tried first. Sorted by db only for the report. */

typedef struct dbCount {
    uint64_t db, keys;
} dbCount;

typedef struct dbTable {
    dbCount *e;
    size_t n, cap;
    size_t *index;  /* nindex slots (a power of two): entry + 1, 0 = free */
    size_t nindex;
    size_t last;    /* entry of the last db counted */
} dbTable;

static size_t dbSlot(const dbTable *t, uint64_t db) {
    size_t i = (size_t)((db * 0x9E3779B97F4A7C15ULL) >> 17) & (t->nindex - 1);
    while (t->index[i] && t->e[t->index[i] - 1].db != db) i = (i + 1) & (t->nindex - 1);
    return i;
}

/* Index size twice the entries' room, so probes stay short. */
static int dbReindex(dbTable *t, size_t nindex) {
    size_t *idx = calloc(nindex, sizeof(*idx));
    if (!idx) return -1;
    free(t->index);
    t->index = idx;
    t->nindex = nindex;
    for (size_t j = 0; j < t->n; j++) t->index[dbSlot(t, t->e[j].db)] = j + 1;
    return 0;
}

static int dbCountKey(dbTable *t, uint64_t db) {
    if (t->n && t->e[t->last].db == db) {
        t->e[t->last].keys++;
        return 0;
    }
    size_t i = t->nindex ? dbSlot(t, db) : 0;
    if (!t->nindex || !t->index[i]) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 16;
            dbCount *e = realloc(t->e, cap * sizeof(*e));
            if (!e) return -1;
            t->e = e;
            t->cap = cap;
            if (dbReindex(t, 2 * cap) < 0) return -1;
            i = dbSlot(t, db);
        }
        t->e[t->n] = (dbCount){db, 0};
        t->index[i] = ++t->n;
    }
    t->last = t->index[i] - 1;
    t->e[t->last].keys++;
    return 0;
}

static int byDb(const void *a, const void *b) {
    uint64_t x = ((const dbCount *)a)->db, y = ((const dbCount *)b)->db;
    return x < y ? -1 : x > y;
}

/* The entries in db order (the index is rebuilt for any later count). */
static const dbCount *dbSorted(dbTable *t) {
    if (t->n > 1) {
        qsort(t->e, t->n, sizeof(*t->e), byDb);
        for (size_t i = 0; i < t->nindex; i++) t->index[i] = 0;
        for (size_t j = 0; j < t->n; j++) t->index[dbSlot(t, t->e[j].db)] = j + 1;
        t->last = 0;
    }
    return t->e;
}

static void dbFree(dbTable *t) {
    free(t->e);
    free(t->index);
}

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
    dbTable per_db;
};

static int onHeader(void *ctx, int version, rdbFlavour flavour) {
    ((checksum *)ctx)->version = version;
    return 0;
}

static int onKeyEnd(void *ctx, const rdbKeyInfo *k) {
    checksum *c = ctx;
    if (dbCountKey(&c->per_db, k->db) < 0) return -1;
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
    dbFree(&c->per_db);
    free(c);
}

void checksumHandlers(checksum *c, rdbHandlers *h) { rdbTeeHandlers(c->tee, h); }

static const char *crcName(const checksum *c) {
    if (!c->saw_eof) return "n/a"; /* no file: a scan of a live source */
    return c->crc == RDB_CRC_OK ? "ok" : c->crc == RDB_CRC_MISMATCH ? "mismatch" : "absent";
}

void checksumDigest(checksum *c, unsigned char out[32], uint64_t *keys) {
    rdbErrCode code;
    const char *err;
    checksumFinish(c, &code, &err);
    rdbDigestFinal(c->dg, out);
    *keys = c->keys;
}

void checksumReport(checksum *c, FILE *out, int json) {
    char hex[2 * RDB_DIGEST_LEN + 1];
    rdbErrCode code;
    const char *err;
    checksumFinish(c, &code, &err); /* every key hashed (callers check errors first) */
    rdbDigestHex(c->dg, hex);
    const dbCount *dbs = dbSorted(&c->per_db);
    if (!json) {
        if (c->version) fprintf(out, "rdb_version: %d\n", c->version);
        fprintf(out, "crc64: %s\nkeys: %" PRIu64 "\n", crcName(c), c->keys);
        for (size_t i = 0; i < c->per_db.n; i++)
            fprintf(out, "keys.db%" PRIu64 ": %" PRIu64 "\n", dbs[i].db, dbs[i].keys);
        fprintf(out, "types:");
        for (int t = 0; t < RDB_LT_COUNT; t++) fprintf(out, " %s=%" PRIu64, rdbLTypeName(t), c->types[t]);
        fprintf(out, "\nexpires: %" PRIu64 "\nfunctions: %" PRIu64 "\ndigest: %s\n", c->expires,
                c->functions, hex);
        return;
    }
    fprintf(out, "{\"rdb_version\":%d,\"crc64\":\"%s\",\"keys\":%" PRIu64 ",\"keys_per_db\":{",
            c->version, crcName(c), c->keys);
    const char *sep = "";
    for (size_t i = 0; i < c->per_db.n; i++) {
        fprintf(out, "%s\"%" PRIu64 "\":%" PRIu64, sep, dbs[i].db, dbs[i].keys);
        sep = ",";
    }
    fprintf(out, "},\"types\":{");
    for (int t = 0; t < RDB_LT_COUNT; t++)
        fprintf(out, "%s\"%s\":%" PRIu64, t ? "," : "", rdbLTypeName(t), c->types[t]);
    fprintf(out, "},\"expires\":%" PRIu64 ",\"functions\":%" PRIu64 ",\"digest\":\"%s\"}\n", c->expires,
            c->functions, hex);
}

void checksumFigures(checksum *c, uint64_t *keys, uint64_t *expires, char *hex) {
    rdbErrCode code;
    const char *err;
    checksumFinish(c, &code, &err);
    rdbDigestHex(c->dg, hex);
    *keys = c->keys;
    *expires = c->expires;
}

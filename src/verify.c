/* verify.c -- --verify: digests first, then key by key (see verify.h). */
#include "verify.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "filter.h"
#include "clock.h"
#include "keyverdict.h"
#include "log.h"
#include "progress.h"
#include "rdb/decode.h"
#include "rdb/digest.h"
#include "scan.h"
#include "stop.h"

#define BATCH_KEYS 1000
#define BATCH_BYTES (8u << 20)

/* ---- Digests of both sides, read at once ---- */

typedef struct side {
    snapshotConfig cfg;
    checksum *cs;
    outcome why;
    snapshotSumInfo si;
    char err[800];
} side;

static void *sideRun(void *arg) {
    side *s = arg;
    s->cs = snapshotSum(&s->cfg, &s->why, &s->si, s->err, sizeof(s->err));
    return NULL;
}

/* 1: equal digests and key counts, 0: not, -1: a side could not be read
 * (the key-by-key pass then says why, or finds what differs). */
static int digestsEqual(const snapshotConfig *cfg, uint64_t *keys, char *how, size_t howlen) {
    side src = {.cfg = *cfg}, tgt = {.cfg = *cfg};
    src.cfg.quiet = tgt.cfg.quiet = 1;
    /* --rate bounds the load on both servers; a replica snapshot cannot be
     * slowed down, so with it the digests are read by SCAN + DUMP too. */
    if (cfg->rate > 0 && cfg->mode == 0) src.cfg.mode = tgt.cfg.mode = 2;
    tgt.cfg.source = cfg->target, tgt.cfg.source_conn = cfg->target_conn;
    pthread_t th;
    int threaded = pthread_create(&th, NULL, sideRun, &tgt) == 0;
    sideRun(&src);
    if (threaded) pthread_join(th, NULL);
    else sideRun(&tgt);
    int rc = -1;
    if (src.cs && tgt.cs) {
        unsigned char a[RDB_DIGEST_LEN], b[RDB_DIGEST_LEN];
        uint64_t ka, kb;
        checksumDigest(src.cs, a, &ka);
        checksumDigest(tgt.cs, b, &kb);
        rc = ka == kb && memcmp(a, b, sizeof(a)) == 0;
        *keys = ka;
        snprintf(how, howlen, "the source read by %s, the target by %s", src.si.how, tgt.si.how);
        if (rc == 1) /* else the key-by-key pass says it */
            snapshotNoteCheckpoint(cfg, src.si.checkpoint_hidden + tgt.si.checkpoint_hidden);
    } else if (!cfg->quiet && !stopRequested()) {
        logInfo("verify: no digest of the %s (%s): comparing key by key", src.cs ? "target" : "source",
                src.cs ? tgt.err : src.err);
    }
    checksumFree(src.cs);
    checksumFree(tgt.cs);
    return rc;
}

/* ---- Key by key ---- */

/* Keys of one side waiting to be looked up on the other: copies, since a
 * scan sink's items live only during the call. */
typedef struct batch {
    scanItem *items;
    size_t n, cap, bytes;
    int db;
} batch;

typedef struct verifier {
    rsConn *other;
    rsServerInfo oinfo;
    const verifySource *others; /* a cluster source: the master of each key's slot; else NULL */
    int compare;        /* 1: compare content; 0: existence only */
    const keyFilter *filter; /* --type: a key of a type left out on the other side is not there */
    uint64_t checked, differ, missing, noted;
    keyVerdictCounts kv;    /* differ by kind; equal within the TTL tolerance */
    int64_t tol_ms;         /* the TTL tolerance in force */
    int auto_tol;           /* tol_ms follows the reads (keyVerdictAutoTolerance) */
    rsServerInfo sinfo;     /* the source's, for the automatic tolerance */
    int64_t slowest_read_ms;/* the slowest batch read of 'other' so far */
    progress *pg;       /* status lines; NULL: none */
    int quiet;          /* -q: no notes */
    uint64_t base;      /* keys checked by the passes before this one */
    const char *ckpt;   /* the --exactly-once checkpoint key: not compared */
    uint64_t left_out;
    batch b;
    char *err;
    size_t errlen;
} verifier;

static void reportKey(verifier *v, const scanItem *it, const char *what) {
    if (v->differ + v->missing > 10) return;
    char kr[300];
    rdbKeyRepr(it->key, it->keylen, kr, sizeof(kr));
    printf("db %d key '%s': %s\n", it->db, kr, what);
}

/* A part equality leaves out (keydiff.h) differs: a note on stderr for the
 * first few keys, counted in the summary. */
static void noteKey(verifier *v, const scanItem *it, const char *what) {
    if (v->noted++ >= 3 || v->quiet) return;
    char kr[300];
    rdbKeyRepr(it->key, it->keylen, kr, sizeof(kr));
    logInfo("note: db %d key '%s': %s (not compared: derived state, which replicas and older formats "
            "do not keep equal)", it->db, kr, what);
}

static void verifyProgress(verifier *v) {
    if (!progressDue(v->pg, 0)) return;
    if (v->compare)
        progressLine(v->pg, "verify", "verify: %llu source keys compared, %llu differ, %llu missing on the target",
                     (unsigned long long)v->checked, (unsigned long long)v->differ, (unsigned long long)v->missing);
    else
        progressLine(v->pg, "verify", "verify: %llu source keys compared; looking for keys only on the target: "
                     "%llu target keys checked, %llu only there", (unsigned long long)v->base,
                     (unsigned long long)v->checked, (unsigned long long)v->missing);
}

/* Content: one verdict per key (keyverdict.h): equal, equal within the
 * TTL tolerance, noted (a part not compared differs), or differing in
 * type, value or TTL only. */
static int compareKey(verifier *v, const scanItem *it, const scanItem *o) {
    char what[1800];
    int kind = keyVerdict(it, o, v->tol_ms, what, sizeof(what), v->err, v->errlen);
    if (kind < 0) return -1;
    if (kind == KV_NOTED) noteKey(v, it, what);
    if (keyVerdictCount(&v->kv, kind)) {
        v->differ++;
        reportKey(v, it, what);
    }
    return 0;
}

static void batchClear(batch *b) {
    for (size_t i = 0; i < b->n; i++) free((void *)b->items[i].key);
    b->n = b->bytes = 0;
}

static int fetchCheck(verifier *v, rsConn *other, const rsServerInfo *oinfo, const scanItem *items, size_t n,
                      int db);

/* Look the batch up on the other side in one round trip (per node, when
 * the other side is a cluster's masters), and judge each key. */
static int batchCheck(verifier *v) {
    batch *b = &v->b;
    int rc = 0;
    if (!b->n) return 0;
    if (!v->others) {
        rc = fetchCheck(v, v->other, &v->oinfo, b->items, b->n, b->db);
    } else { /* each master's share of the batch, in place, then the next */
        scanItem *mine = malloc(b->n * sizeof(*mine));
        if (!mine) return snprintf(v->err, v->errlen, "out of memory"), -1;
        for (int o = 0; rc == 0 && o < v->others->n; o++) {
            size_t m = 0;
            for (size_t i = 0; i < b->n; i++)
                if (v->others->owner(v->others->ctx, b->items[i].key, b->items[i].keylen) == o) mine[m++] = b->items[i];
            if (m) rc = fetchCheck(v, v->others->conns[o], &v->others->infos[o], mine, m, b->db);
        }
        free(mine);
    }
    batchClear(b);
    verifyProgress(v);
    return rc;
}

static int fetchCheck(verifier *v, rsConn *other, const rsServerInfo *oinfo, const scanItem *items, size_t n,
                      int db) {
    char ferr[600];
    int64_t t0 = clockMonoMs();
    scanFetch *f = scanFetchKeys(other, oinfo, db, items, n, ferr, sizeof(ferr));
    /* The automatic tolerance follows the slowest read so far (a batch's
     * expire times are made absolute before its replies are all in). */
    int64_t took = clockMonoMs() - t0;
    if (took > v->slowest_read_ms) v->slowest_read_ms = took;
    if (v->auto_tol) v->tol_ms = keyVerdictAutoTolerance(&v->sinfo, oinfo, v->slowest_read_ms);
    if (!f) {
        snprintf(v->err, v->errlen, "%s: %s", v->compare ? "target" : "source", ferr);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        scanItem o;
        v->checked++;
        int found = scanFetchItem(f, i, &o);
        if (found && !v->compare && !filterType(v->filter, filterPayloadType(o.payload, o.len)))
            found = 0; /* there, but of a type the filter leaves out */
        if (!found) {
            v->missing++;
            reportKey(v, &items[i], v->compare ? "missing on the target" : "only on the target");
        } else if (v->compare) {
            rc = compareKey(v, &items[i], &o);
        }
    }
    scanFetchFree(f);
    return rc;
}

/* Key and payload copied in one block, freed through the key. */
static int batchAdd(batch *b, const scanItem *it, int with_payload) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        scanItem *ni = realloc(b->items, cap * sizeof(*ni));
        if (!ni) return -1;
        b->items = ni, b->cap = cap;
    }
    size_t plen = with_payload ? it->len : 0;
    char *mem = malloc(it->keylen + plen + 1);
    if (!mem) return -1;
    memcpy(mem, it->key, it->keylen);
    if (plen) memcpy(mem + it->keylen, it->payload, plen);
    b->items[b->n++] = (scanItem){it->db, mem, it->keylen, (const unsigned char *)mem + it->keylen, plen,
                                  it->expire_ms};
    b->bytes += it->keylen + plen;
    b->db = it->db;
    return 0;
}

static int verifyKey(void *ctx, const scanItem *it) {
    verifier *v = ctx;
    if (checkpointIsKey(v->ckpt, it->db, it->key, it->keylen)) {
        v->left_out++;
        return 0;
    }
    if (v->b.n && it->db != v->b.db && batchCheck(v) < 0) return -1;
    if (batchAdd(&v->b, it, v->compare) < 0) {
        snprintf(v->err, v->errlen, "out of memory holding a batch of keys");
        return -1;
    }
    if (v->b.n >= BATCH_KEYS || v->b.bytes >= BATCH_BYTES) return batchCheck(v);
    return 0;
}

static int pass(rsConn *from, const rsServerInfo *info, const scanOptions *so, verifier *v, scanStats *st) {
    int rc = scanPass(from, info, so, verifyKey, v, st, v->err, v->errlen);
    if (rc == 0) rc = batchCheck(v);
    batchClear(&v->b);
    free(v->b.items);
    v->b.items = NULL, v->b.cap = 0;
    return rc;
}

/* Both passes: every key of every source node on the target with the same
 * content, then every key of every target node on the source (each looked
 * up on the node of its slot when that side is a cluster). */
static outcome keyByKeyOn(const snapshotConfig *cfg, const verifySource *vs, const verifySource *vt) {
    char err[800] = "";
    const rsServerInfo *sinfo = &vs->infos[0], *tinfo = &vt->infos[0];
    scanOptions so = {.count = cfg->scan_count, .rate = cfg->rate, .quiet = 1, .filter = cfg->filter};
    scanStats st1 = {0}, st2 = {0};
    progress *pg = progressNew(cfg->quiet, "verify", 0); /* NULL (out of memory): no status lines */
    verifier fwd = {.other = vt->conns[0], .oinfo = *tinfo, .others = vt->n > 1 ? vt : NULL, .compare = 1,
                    .filter = cfg->filter, .pg = pg, .quiet = cfg->quiet, .err = err, .errlen = sizeof(err),
                    .ckpt = snapshotCheckpointName(cfg), .sinfo = *sinfo, .auto_tol = cfg->ttl_tolerance_ms < 0,
                    .tol_ms = cfg->ttl_tolerance_ms < 0 ? keyVerdictAutoTolerance(sinfo, tinfo, 0)
                                                         : cfg->ttl_tolerance_ms};
    verifier back = {.other = vs->conns[0], .oinfo = *sinfo, .others = vs->n > 1 ? vs : NULL, .compare = 0,
                     .filter = cfg->filter, .pg = pg, .err = err, .errlen = sizeof(err),
                     .ckpt = snapshotCheckpointName(cfg)};
    int rc = 0;
    for (int i = 0; rc == 0 && i < vs->n; i++) rc = pass(vs->conns[i], &vs->infos[i], &so, &fwd, &st1);
    back.base = fwd.checked;
    for (int i = 0; rc == 0 && i < vt->n; i++) rc = pass(vt->conns[i], &vt->infos[i], &so, &back, &st2);
    progressClear(pg);
    progressFree(pg);
    if (rc < 0 && stopRequested()) {
        logError("interrupted by %s after %llu source keys: no verdict", stopSignalName(),
                 (unsigned long long)fwd.checked);
        return OUTCOME_INTERRUPTED;
    }
    if (rc < 0) {
        logError("%s", err);
        return OUTCOME_CONNECT;
    }
    if (fwd.noted > 3 && !cfg->quiet)
        logInfo("note: %llu keys in all differ only in parts not compared", (unsigned long long)fwd.noted);
    int equal = fwd.missing + fwd.differ + back.missing == 0;
    snapshotNoteCheckpoint(cfg, fwd.left_out + back.left_out);
    if (filterActive(cfg->filter) && !cfg->quiet)
        logInfo("verify: %llu source and %llu target keys left out by --match/--exclude/--type%s",
                (unsigned long long)st1.filtered, (unsigned long long)st2.filtered,
                st1.server_side ? " (more by SCAN MATCH/TYPE, not counted)" : "");
    char kinds[300];
    keyVerdictSummary(&fwd.kv, fwd.tol_ms, fwd.auto_tol, kinds, sizeof(kinds));
    printf("verify: %s: %llu source keys checked, %llu differ, %llu missing on the target, %llu only on the "
           "target %s\n", equal ? "equal" : "DIFFERENT", (unsigned long long)fwd.checked,
           (unsigned long long)fwd.differ, (unsigned long long)fwd.missing, (unsigned long long)back.missing, kinds);
    return equal ? OUTCOME_OK : OUTCOME_DIFFER;
}

/* A side given as NULL: the one server of its URL. */
typedef struct single {
    rsConn *c;
    rsServerInfo info;
    verifySource vs;
} single;

static int openSingle(const snapshotConfig *cfg, int target, single *one) {
    char err[800] = "";
    snapshotConfig tc = *cfg;
    if (target) tc.source = cfg->target, tc.source_conn = cfg->target_conn;
    one->c = snapshotOpenSource(&tc, &one->info, err, sizeof(err));
    if (!one->c) return logError("%s", err), -1;
    one->vs = (verifySource){.n = 1, .conns = &one->c, .infos = &one->info};
    return 0;
}

outcome verifyRunSides(const snapshotConfig *cfg, const verifySource *src, const verifySource *tgt) {
    single s = {0}, t = {0};
    outcome rc = OUTCOME_CONNECT;
    if ((src || openSingle(cfg, 0, &s) == 0) && (tgt || openSingle(cfg, 1, &t) == 0))
        rc = keyByKeyOn(cfg, src ? src : &s.vs, tgt ? tgt : &t.vs);
    connClose(s.c);
    connClose(t.c);
    return rc;
}

outcome verifyRun(const snapshotConfig *cfg) {
    char how[300];
    uint64_t keys = 0;
    int eq = digestsEqual(cfg, &keys, how, sizeof(how));
    if (stopRequested()) {
        logError("interrupted by %s while reading both sides' digests: no verdict", stopSignalName());
        return OUTCOME_INTERRUPTED;
    }
    if (eq == 1) {
        printf("verify: equal: %llu source keys checked, 0 differ, 0 missing on the target, 0 only on the target "
               "(digests equal; %s)\n", (unsigned long long)keys, how);
        return OUTCOME_OK;
    }
    if (eq == 0 && !cfg->quiet) logInfo("verify: the digests differ: comparing key by key");
    return verifyRunSides(cfg, NULL, NULL);
}

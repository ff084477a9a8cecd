/* ctload.c -- one target load for every shard of a cluster source
 * (ctload.h).
 *
 * Two locks: mu guards the session's state and counts (the first join
 * holds it through tloadBegin, so the others join the begun session);
 * share.mu, taken by the importers for each record, guards the writer.
 * Order: mu before share.mu. The last shard to arrive finishes the load
 * with mu released (FINISHING), so the others keep ticking.
 */
#include "ctload.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tload.h"

typedef enum { CT_IDLE = 0, CT_ACTIVE, CT_FINISHING, CT_DONE, CT_FAILED } ctState;

struct ctload {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ctState st;
    int shards, arrived;
    uint64_t written, read;
    rsUrl target;          /* borrowed: csource's, outlives the session */
    rsConnOptions conn;
    int tdb;
    uint64_t keys, expires;
    int quiet;
    rsConn *tc;            /* the session's own control connection */
    tload *tl;
    importRdbShare share;
    char why[1000];        /* why it failed (CT_FAILED) */
    outcome rc;            /* and the outcome of the shard it failed on: the others stop with it */
};

ctload *ctloadNew(int shards, const rsUrl *target, const rsConnOptions *conn, int tdb, uint64_t keys,
                  uint64_t expires, int quiet) {
    ctload *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pthread_mutex_init(&c->share.mu, NULL);
    c->share.db = -1;
    c->shards = shards, c->target = *target, c->conn = *conn, c->tdb = tdb;
    c->keys = keys, c->expires = expires, c->quiet = quiet;
    return c;
}

void ctloadHint(const rsUrl *const *masters, int n, const rsConnOptions *conn, uint64_t *keys, uint64_t *expires) {
    char err[300];
    *keys = *expires = 0;
    for (int i = 0; i < n; i++) {
        rsConn *m = connOpen(masters[i], conn, err, sizeof(err));
        char *info = m ? connInfo(m, "keyspace") : NULL;
        const char *db0 = info ? strstr(info, "db0:keys=") : NULL;
        unsigned long long k = 0, e = 0;
        if (db0 && sscanf(db0, "db0:keys=%llu,expires=%llu", &k, &e) >= 1) *keys += k, *expires += e;
        free(info);
        if (m) connClose(m);
    }
}

/* The target's writer closes and the target is promoted (tloadEnd); the
 * importers' next record fails with why. Under mu. */
static void endSession(ctload *c, ctState st, const char *why, outcome rc) {
    pthread_mutex_lock(&c->share.mu);
    c->share.fw = NULL;
    snprintf(c->share.why, sizeof(c->share.why), "%s", why);
    pthread_mutex_unlock(&c->share.mu);
    tloadEnd(c->tl);
    c->tl = NULL;
    if (c->tc) connClose(c->tc);
    c->tc = NULL;
    if (st == CT_FAILED) snprintf(c->why, sizeof(c->why), "%s", why), c->rc = rc;
    c->st = st;
    pthread_cond_broadcast(&c->cv);
}

static int begin(ctload *c, int (*stopped)(void), outcome *rc, char *err, size_t errlen) {
    rsServerInfo ti;
    char e[600];
    c->tc = connOpen(&c->target, &c->conn, e, sizeof(e));
    if (!c->tc || connServerInfo(c->tc, &ti) < 0) {
        snprintf(err, errlen, "--target-load replica: target: %s", c->tc ? connError(c->tc) : e);
        *rc = OUTCOME_CONNECT;
        return -1;
    }
    if (!(c->tl = tloadBegin(c->tc, &ti, stopped, c->quiet, rc, err, errlen))) return -1;
    rdbFileWriter *fw = tloadWriter(c->tl);
    /* One RESIZEDB for the whole, before any key: the shards' own would
     * each size the table for a third. */
    if (rdbFileSelectDb(fw, (uint64_t)c->tdb) < 0 || rdbFileResizeDb(fw, c->keys, c->expires) < 0) {
        snprintf(err, errlen, "--target-load replica: the target closed the replication link as the snapshot began");
        *rc = OUTCOME_WRITE;
        return -1;
    }
    if (!c->quiet)
        logInfo("--target-load replica: one snapshot of %d shards, sized for %llu keys (%llu with an expire) by "
                "the masters' INFO keyspace", c->shards, (unsigned long long)c->keys, (unsigned long long)c->expires);
    c->share.fw = fw;
    c->share.db = c->tdb;
    return 0;
}

importRdbShare *ctloadJoin(ctload *c, int (*stopped)(void), outcome *rc, char *err, size_t errlen) {
    importRdbShare *sh = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->st == CT_IDLE) {
        if (begin(c, stopped, rc, err, errlen) == 0) c->st = CT_ACTIVE;
        else endSession(c, CT_FAILED, err, *rc);
    }
    if (c->st == CT_ACTIVE) sh = &c->share;
    else if (c->st == CT_FAILED && !sh) {
        if (strcmp(err, c->why) != 0) snprintf(err, errlen, "%s", c->why);
        *rc = c->rc;
    } else { /* done already: a shard snapshot after the load (cannot happen: the barrier waits for all) */
        snprintf(err, errlen, "--target-load replica: a shard's first snapshot arrived after the load");
        *rc = OUTCOME_INTERNAL;
    }
    pthread_mutex_unlock(&c->mu);
    return sh;
}

int ctloadBegun(ctload *c) {
    pthread_mutex_lock(&c->mu);
    int yes = c->st != CT_IDLE;
    pthread_mutex_unlock(&c->mu);
    return yes;
}

void ctloadFail(ctload *c, const char *why, outcome rc) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    if (c->st == CT_IDLE || c->st == CT_ACTIVE) endSession(c, CT_FAILED, why, rc);
    pthread_mutex_unlock(&c->mu);
}

outcome ctloadFailure(ctload *c) {
    pthread_mutex_lock(&c->mu);
    outcome rc = c->st == CT_FAILED ? c->rc : OUTCOME_OK;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* The last shard: EOF, CRC, mark; the target loads and is promoted. */
static void finish(ctload *c) {
    char err[900];
    uint64_t w = c->written, r = c->read;
    c->st = CT_FINISHING;
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_lock(&c->share.mu); /* every importer is done: held for form */
    int rc = tloadFinish(c->tl, w, r, err, sizeof(err));
    pthread_mutex_unlock(&c->share.mu);
    pthread_mutex_lock(&c->mu);
    endSession(c, rc < 0 ? CT_FAILED : CT_DONE, rc < 0 ? err : "the load is done", OUTCOME_WRITE);
}

int ctloadArrive(ctload *c, uint64_t written, uint64_t read, int (*tick)(void *), void *ctx, char *err,
                 size_t errlen) {
    pthread_mutex_lock(&c->mu);
    c->written += written, c->read += read;
    if (++c->arrived == c->shards && c->st == CT_ACTIVE) finish(c);
    while (c->st == CT_ACTIVE || c->st == CT_FINISHING) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT && tick) {
            pthread_mutex_unlock(&c->mu);
            if (tick(ctx)) /* stopped: the load in progress is abandoned (not while it finishes) */
                ctloadFail(c, "stopped while the shards' snapshots loaded into the target: its load was abandoned "
                              "(it was promoted, nothing kept); run again", OUTCOME_INTERRUPTED);
            pthread_mutex_lock(&c->mu);
        }
    }
    int rc = c->st == CT_DONE ? 0 : -1;
    if (rc < 0) snprintf(err, errlen, "%s", c->why);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void ctloadFree(ctload *c) {
    if (!c) return;
    ctloadFail(c, "--target-load replica: the run ended before every shard's snapshot arrived", OUTCOME_INTERRUPTED);
    pthread_mutex_lock(&c->mu);
    if (c->tl) tloadEnd(c->tl);
    if (c->tc) connClose(c->tc);
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_destroy(&c->share.mu);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

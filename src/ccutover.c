/* ccutover.c -- the cut-over of a cluster source (see ccutover.h). */
#include "ccutover.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "clock.h"
#include "cluster.h"
#include "cutover.h"
#include "log.h"
#include "stop.h"
#include "snapshot.h"
#include "sync.h"

typedef struct ccutShard {
    int ready, settled;       /* reported by its apply thread */
    int64_t applied;
    cutoverState cut;         /* its master's pause */
    rsUrl url;                /* its master, as paused */
    int have_url;
    char id[48];              /* that master's node id */
    char ranges[160];
} ccutShard;

/* A master paused before its shard failed over: its pause stays (a master
 * that has not heard of its successor yet takes no write meanwhile) and is
 * lifted, quietly, if the cut-over fails. */
typedef struct ccutRetired {
    cutoverState cut;
    rsUrl url;
} ccutRetired;

#define CCUT_MAX_RETIRED 16

struct ccut {
    pthread_mutex_t mu;       /* phase and the shards' reports */
    int n, phase, quiet, said_waiting, tried;
    int64_t asked_mono;       /* when the request was first seen; 0 none */
    const syncConfig *cfg;    /* the run's: source (seed), target, --cutover... */
    const char *checkpoint_key; /* --exactly-once: deleted before the line; NULL */
    int64_t pause_ms;
    int64_t deadline_mono, until_wall_ms;
    outcome rc;
    ccutShard *sh;
    ccutRetired retired[CCUT_MAX_RETIRED];
    int nretired;
};

ccut *ccutNew(int n, const syncConfig *cfg) {
    ccut *c = calloc(1, sizeof(*c));
    if (!c || !(c->sh = calloc((size_t)n, sizeof(*c->sh)))) return free(c), NULL;
    pthread_mutex_init(&c->mu, NULL);
    c->n = n;
    c->cfg = cfg;
    c->checkpoint_key = !cfg->exactly_once ? NULL : cfg->checkpoint_key ? cfg->checkpoint_key : CHECKPOINT_DEFAULT_KEY;
    c->pause_ms = cfg->pause_ms > 0 ? cfg->pause_ms : CUTOVER_DEFAULT_PAUSE_MS;
    c->quiet = cfg->quiet;
    c->rc = OUTCOME_OK;
    return c;
}

void ccutFree(ccut *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        cutoverClose(&c->sh[i].cut);
        if (c->sh[i].have_url) urlFree(&c->sh[i].url);
    }
    for (int i = 0; i < c->nretired; i++) {
        cutoverClose(&c->retired[i].cut);
        urlFree(&c->retired[i].url);
    }
    pthread_mutex_destroy(&c->mu);
    free(c->sh);
    free(c);
}

int ccutLink(ccut *c, int i, int ready, int settled, int64_t applied) {
    pthread_mutex_lock(&c->mu);
    c->sh[i].ready = ready;
    c->sh[i].settled = settled;
    c->sh[i].applied = applied;
    int phase = c->phase;
    pthread_mutex_unlock(&c->mu);
    return phase;
}

/* "RANGES:OFFSET, ..." of every shard's final offset, for the lines. */
static void offsetsLine(const ccut *c, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < c->n && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s:%lld", i ? ", " : "", c->sh[i].ranges,
                              (long long)c->sh[i].cut.final_offset);
}

static void setPhase(ccut *c, int phase) {
    pthread_mutex_lock(&c->mu);
    c->phase = phase;
    pthread_mutex_unlock(&c->mu);
}

/* Lift every pause given so far. "" when all were lifted, else the
 * failures (their pauses end by themselves at until). */
static void unpauseAll(ccut *c, char *failed, size_t cap) {
    size_t n = 0;
    failed[0] = '\0';
    for (int i = 0; i < c->n; i++) {
        char err[400];
        ccutShard *s = &c->sh[i];
        if (s->cut.paused && cutoverUnpause(&s->cut, &s->url, &c->cfg->source_conn, err, sizeof(err)) < 0 && n < cap)
            n += (size_t)snprintf(failed + n, cap - n, "%s%s", n ? "; " : "", err);
        cutoverClose(&s->cut);
    }
    for (int i = 0; i < c->nretired; i++) { /* replicas now, or gone: their pauses hold no writer */
        char err[400];
        cutoverUnpause(&c->retired[i].cut, &c->retired[i].url, &c->cfg->source_conn, err, sizeof(err));
        cutoverClose(&c->retired[i].cut);
    }
}

/* The one line of a cut-over that did not happen; the shards stop. */
static void fail(ccut *c, outcome rc, const char *what) {
    char failed[800], at[16];
    unpauseAll(c, failed, sizeof(failed));
    cutoverClock(failed[0] ? c->until_wall_ms : clockWallMs(), at, sizeof(at));
    if (failed[0])
        logError("cut-over failed: %s; the pause could not be lifted everywhere (%s): source writes resume at %s; "
                 "nothing was switched: keep the clients on the source", what, failed, at);
    else
        logError("cut-over failed: %s; source writes unpaused at %s on every master; nothing was switched: keep the "
                 "clients on the source", what, at);
    c->rc = rc;
    setPhase(c, CCUT_FAILED);
    syncRequestStop();
}

/* The earliest end of the pauses held now (a retired master's pause no
 * longer holds its shard's writers). */
static void pausesEnd(ccut *c) {
    c->deadline_mono = INT64_MAX;
    c->until_wall_ms = INT64_MAX;
    for (int i = 0; i < c->n; i++) {
        if (!c->sh[i].cut.paused) continue;
        if (c->sh[i].cut.deadline_mono < c->deadline_mono) c->deadline_mono = c->sh[i].cut.deadline_mono;
        if (c->sh[i].cut.until_wall_ms < c->until_wall_ms) c->until_wall_ms = c->sh[i].cut.until_wall_ms;
    }
}

/* Every master paused, each final offset read. */
static void pauseAll(ccut *c, const csShard *shards) {
    char err[600], what[900], until[16];
    c->tried = 1;
    for (int i = 0; i < c->n; i++) {
        ccutShard *s = &c->sh[i];
        const csNode *m = &shards[i].master;
        clusterNode cn = {.host = (char *)m->host, .port = m->port};
        if (s->have_url) urlFree(&s->url);
        s->have_url = clusterNodeUrl(c->cfg->source, &cn, &s->url) == 0;
        if (!s->have_url || cutoverPause(&s->url, &c->cfg->source_conn, c->pause_ms, &s->cut, err, sizeof(err)) < 0) {
            snprintf(what, sizeof(what), "master %s:%d (slots %s) could not be paused: %s", m->host, m->port,
                     s->ranges, s->have_url ? err : "out of memory");
            fail(c, OUTCOME_CUTOVER, what);
            return;
        }
        snprintf(s->id, sizeof(s->id), "%s", m->id);
        pausesEnd(c); /* for a failure of the next one */
    }
    char offs[1200];
    offsetsLine(c, offs, sizeof(offs));
    cutoverClock(c->until_wall_ms, until, sizeof(until));
    logInfo("cut-over: writes of all %d masters paused until %s (--pause-timeout %.1f s); applying each shard's "
            "stream up to its final offset (%s)", c->n, until, (double)c->pause_ms / 1000.0, offs);
    setPhase(c, CCUT_PAUSED);
}

/* The node paused for shard s still says it is a master (ROLE, on the
 * pausing connection): while it is, every write of its slots goes through
 * it, paused. A failover (CLUSTER FAILOVER, a dead master replaced) ends
 * that: its successor takes writes the final offset does not cover. */
static int stillMaster(ccutShard *s) {
    redisReply *r = s->cut.c ? connCommandf(s->cut.c, "ROLE") : NULL;
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING &&
             strcmp(r->element[0]->str, "master") == 0;
    if (r) freeReplyObject(r);
    return ok;
}

/* second_repl_offset of the paused node (INFO replication): a promoted
 * replica continues its old master's history up to that offset only; -1
 * when not known. */
static int64_t continuesTo(ccutShard *s) {
    char *info = s->cut.c ? connInfo(s->cut.c, "replication") : NULL, v[32];
    int64_t off = info && connInfoField(info, "second_repl_offset", v, sizeof(v)) ? strtoll(v, NULL, 10) : -1;
    free(info);
    return off;
}

/* Shard i failed over during the pause (the topology names another
 * master): that master is paused too and its master_repl_offset is the
 * shard's final offset now (the promoted replica continues the old
 * replication history, so the link's offsets go on in the same space; the
 * writes it took before this pause are below it). The old master's pause
 * stays. 0, or -1 when the new master cannot be paused (failed, said). */
static int followFailover(ccut *c, int i, const csNode *m) {
    ccutShard *s = &c->sh[i];
    char err[600], what[1800], was[300];
    int64_t old_final = s->cut.final_offset;
    snprintf(was, sizeof(was), "%s:%d", s->have_url ? s->url.host : "?", s->have_url ? s->url.port : 0);
    if (c->nretired < CCUT_MAX_RETIRED && s->have_url) {
        c->retired[c->nretired].cut = s->cut;
        c->retired[c->nretired++].url = s->url;
    } else {
        cutoverClose(&s->cut);
        if (s->have_url) urlFree(&s->url);
    }
    memset(&s->cut, 0, sizeof(s->cut));
    clusterNode cn = {.host = (char *)m->host, .port = m->port};
    s->have_url = clusterNodeUrl(c->cfg->source, &cn, &s->url) == 0;
    if (!s->have_url || cutoverPause(&s->url, &c->cfg->source_conn, c->pause_ms, &s->cut, err, sizeof(err)) < 0) {
        snprintf(what, sizeof(what), "the shard of slots %s failed over from %s to %s:%d during the pause, and the new "
                 "master could not be paused: %s", s->ranges, was, m->host, m->port, s->have_url ? err : "out of memory");
        fail(c, OUTCOME_CUTOVER, what);
        return -1;
    }
    snprintf(s->id, sizeof(s->id), "%s", m->id);
    pausesEnd(c);
    pthread_mutex_lock(&c->mu);
    int64_t applied = s->applied;
    pthread_mutex_unlock(&c->mu);
    int64_t cont = continuesTo(s);
    if (cont > 0 && applied + 1 > cont) { /* a dead master's last writes, lost with it */
        snprintf(what, sizeof(what), "the shard of slots %s failed over from %s to %s:%d during the pause, which holds "
                 "the old master's history up to offset %lld only, and the target holds it up to %lld: writes the old "
                 "master took were lost with it, so the target is not the source's copy (a restart full-syncs the "
                 "shard)", s->ranges, was, m->host, m->port, (long long)cont - 1, (long long)applied);
        fail(c, OUTCOME_CUTOVER, what);
        return -1;
    }
    logInfo("cut-over: the shard of slots %s failed over to %s:%d during the pause: paused it too; the shard's final "
            "offset is now %lld (%lld on %s)", s->ranges, m->host, m->port, (long long)s->cut.final_offset,
            (long long)old_final, was);
    return 0;
}

/* --exactly-once: the checkpoint hash (every shard's fields) goes before
 * the switch. 0, or -1 with err. */
static int removeCheckpoint(ccut *c, char *err, size_t errlen) {
    char cerr[400];
    if (!c->checkpoint_key) return 0;
    rsConn *t = connOpen(c->cfg->target, &c->cfg->target_conn, cerr, sizeof(cerr));
    redisReply *r = t ? connCommandf(t, "SELECT %d", CHECKPOINT_DB) : NULL;
    if (r && r->type != REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        const char *argv[2] = {"DEL", c->checkpoint_key};
        size_t lens[2] = {3, strlen(c->checkpoint_key)};
        r = connCommand(t, 2, argv, lens);
    }
    int ok = r && r->type == REDIS_REPLY_INTEGER;
    if (!ok) snprintf(err, errlen, "the checkpoint key '%s' could not be removed from the target (%s)",
                      c->checkpoint_key, !t ? cerr : r && r->type == REDIS_REPLY_ERROR ? r->str : connError(t));
    if (r) freeReplyObject(r);
    connClose(t);
    return ok ? 0 : -1;
}

/* --cutover-verify: both sides compared key by key while every master is
 * paused, the cluster's masters as they are now (csourceVerify; its
 * verdict line goes to stdout). */
static outcome verifyAll(ccut *c) {
    const syncConfig *cfg = c->cfg;
    snapshotConfig vc = {.source = cfg->source, .target = cfg->target, .source_conn = cfg->source_conn,
                         .target_conn = cfg->target_conn, .scan_count = 1000, .quiet = 1,
                         .filter = cfg->imp.filter}; /* with --match...: the subset copied */
    csTopo src = {0}, tgt = {0};
    char err[600];
    int sc = csourceDetect(cfg->source, &cfg->source_conn, &src, err, sizeof(err));
    int tc = sc == 1 ? csourceDetect(cfg->target, &cfg->target_conn, &tgt, err, sizeof(err)) : -1;
    outcome rc = OUTCOME_CONNECT;
    if (sc == 0) logError("--cutover-verify: the source is no longer a cluster node");
    else if (sc < 0 || tc < 0) logError("--cutover-verify: %s", err);
    else rc = csourceVerify(&vc, &src, tc ? &tgt : NULL);
    csourceTopoFree(&src);
    csourceTopoFree(&tgt);
    return rc;
}

/* Every shard reached its offset and ended: the checkpoint goes, the
 * check runs, the line says it (or, past the deadline, nothing is
 * claimed and every master is unpaused). */
static void declare(ccut *c) {
    char what[600], until[16], offs[1200];
    outcome v = OUTCOME_OK;
    for (int i = 0; i < c->n; i++)
        if (!stillMaster(&c->sh[i])) { /* the shards ended: too late to follow it */
            snprintf(what, sizeof(what), "master %s:%d (slots %s) is no longer a master: its shard failed over after "
                     "every shard had caught up, and its successor is not paused",
                     c->sh[i].have_url ? c->sh[i].url.host : "?", c->sh[i].have_url ? c->sh[i].url.port : 0,
                     c->sh[i].ranges);
            fail(c, OUTCOME_CUTOVER, what);
            return;
        }
    if (removeCheckpoint(c, what, sizeof(what)) < 0) {
        fail(c, OUTCOME_WRITE, what);
        return;
    }
    if (c->cfg->cutover_verify && (v = verifyAll(c)) != OUTCOME_OK) {
        fail(c, v, v == OUTCOME_DIFFER ? "--cutover-verify: the datasets differ (named above)"
                                       : "--cutover-verify could not compare (said above)");
        return;
    }
    if (clockMonoMs() > c->deadline_mono) {
        snprintf(what, sizeof(what), "the pause (--pause-timeout %.1f s) ends before the cut-over could be declared",
                 (double)c->pause_ms / 1000.0);
        fail(c, OUTCOME_CUTOVER, what);
        return;
    }
    offsetsLine(c, offs, sizeof(offs));
    cutoverClock(c->until_wall_ms, until, sizeof(until));
    logClearStatus();
    printf("cut-over: target identical to the source at offsets %s; source writes paused until %s\n", offs, until);
    fflush(stdout);
    for (int i = 0; i < c->n; i++) cutoverClose(&c->sh[i].cut); /* the pauses stay: clients move meanwhile */
}

/* Paused: declared once every shard reached its offset; failed when the
 * deadline comes first. */
static void catchUp(ccut *c) {
    char what[600];
    int behind = -1;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n && behind < 0; i++)
        if (!c->sh[i].settled || c->sh[i].applied < c->sh[i].cut.final_offset) behind = i;
    pthread_mutex_unlock(&c->mu);
    /* every shard caught up: each paused node must still be its master (a
     * failover's new master is paused by ccutStep once the topology names it) */
    int lost = -1;
    for (int i = 0; i < c->n && behind < 0; i++)
        if (!stillMaster(&c->sh[i])) behind = lost = i;
    if (behind < 0 && clockMonoMs() <= c->deadline_mono) {
        /* The shards end first (ccutEnd declares): none may commit a
         * checkpoint after it is removed, nor write after the check. */
        setPhase(c, CCUT_DONE);
    } else if (clockMonoMs() > c->deadline_mono) {
        int i = behind < 0 ? 0 : behind;
        if (lost >= 0)
            snprintf(what, sizeof(what), "master %s:%d of the slots %s is no longer a master, and no new one was named "
                     "before the pause (--pause-timeout %.1f s) ran out", c->sh[i].have_url ? c->sh[i].url.host : "?",
                     c->sh[i].have_url ? c->sh[i].url.port : 0, c->sh[i].ranges, (double)c->pause_ms / 1000.0);
        else
            snprintf(what, sizeof(what), "the shard of slots %s reached offset %lld of %lld before the pause "
                     "(--pause-timeout %.1f s) ran out", c->sh[i].ranges, (long long)c->sh[i].applied,
                     (long long)c->sh[i].cut.final_offset, (double)c->pause_ms / 1000.0);
        fail(c, OUTCOME_CUTOVER, what);
    }
}

void ccutStep(ccut *c, const csShard *shards) {
    if (c->phase == CCUT_PAUSED) {
        for (int i = 0; i < c->n; i++)
            if (shards[i].master.id[0] && strcmp(shards[i].master.id, c->sh[i].id) != 0 &&
                followFailover(c, i, &shards[i].master) < 0)
                return;
        catchUp(c);
        return;
    }
    if (c->phase != CCUT_NONE || stopRequested() || !(syncCutoverRequested() || c->cfg->cutover)) return;
    int ready = 1;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n; i++) {
        ready = ready && c->sh[i].ready;
        snprintf(c->sh[i].ranges, sizeof(c->sh[i].ranges), "%s", shards[i].ranges);
    }
    pthread_mutex_unlock(&c->mu);
    if (ready) {
        pauseAll(c, shards);
    } else if (!c->asked_mono) {
        c->asked_mono = clockMonoMs(); /* the shards report from their next status point on */
    } else if (syncCutoverRequested() && !c->said_waiting && !c->quiet && clockMonoMs() - c->asked_mono > 1000) {
        c->said_waiting = 1;
        logInfo("cut-over requested: waiting for every shard's snapshot to be applied and its link to stream");
    }
}

outcome ccutEnd(ccut *c, outcome rc) {
    char failed[800];
    if (!c) return rc;
    if (c->phase == CCUT_DONE && rc == OUTCOME_OK) {
        declare(c);
        return c->phase == CCUT_FAILED ? c->rc : OUTCOME_OK;
    }
    if (c->phase == CCUT_PAUSED || c->phase == CCUT_DONE) {
        unpauseAll(c, failed, sizeof(failed));
        if (failed[0])
            logError("cut-over abandoned: %s; the source's writes resume when the pause ends", failed);
        else
            logError("cut-over abandoned (%s): source writes unpaused on every master; nothing was switched",
                     stopRequested() ? stopSignalName() : "a shard stopped on the error above");
        return rc == OUTCOME_OK ? OUTCOME_CUTOVER : rc;
    }
    if (c->phase == CCUT_FAILED) return rc == OUTCOME_OK ? c->rc : rc;
    if (c->phase == CCUT_NONE && !c->tried && (syncCutoverRequested() || c->cfg->cutover)) {
        logError("cut-over requested but not begun: the sync ended first; nothing was paused or switched");
        return rc == OUTCOME_OK ? OUTCOME_CUTOVER : rc;
    }
    return rc;
}

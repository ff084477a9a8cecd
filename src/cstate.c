/* cstate.c -- --state with a cluster source (see cstate.h). */
#include "cstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct cstate {
    char *path;
    int lock;
    stateKeeper *keeper;
    int n;
    stateLink *start;   /* each shard's record as the run starts */
    int target_ours;
};

void cstateKey(const csShard *s, char *out, size_t cap) { snprintf(out, cap, "slots:%s", s->ranges); }

void cstateNodes(const csShard *s, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < s->nids && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, i ? ",%s" : "%s", s->ids[i]);
}

int cstateSameShard(const stateLink *rec, const csShard *s) {
    for (int i = 0; i < s->nids; i++) {
        size_t len = strlen(s->ids[i]);
        for (const char *p = rec->nodes; len && (p = strstr(p, s->ids[i])) != NULL; p += len)
            if ((p == rec->nodes || p[-1] == ',') && (p[len] == ',' || p[len] == '\0')) return 1;
    }
    return 0;
}

/* The target's run_id (INFO server), as the file names it. */
static int targetRunId(const rsUrl *target, const rsConnOptions *tco, char *out, size_t cap, char *err, size_t errlen) {
    rsConn *c = connOpen(target, tco, err, errlen);
    if (!c) return -1;
    char *info = connInfo(c, "server");
    out[0] = '\0';
    if (info) connInfoField(info, "run_id", out, cap);
    else snprintf(err, errlen, "cannot read INFO server: %s", connError(c));
    free(info);
    connClose(c);
    return info ? 0 : -1;
}

/* Is FILE about this cluster? 0, or -1 with why. */
static int sameCluster(const stateFile *st, const csTopo *t, char *why, size_t cap) {
    int common = 0;
    for (int i = 0; i < st->nlinks; i++) {
        if (!st->links[i].nodes[0]) {
            snprintf(why, cap, "it was written for the single source %s, not this cluster", st->links[i].source);
            return -1;
        }
        for (int j = 0; j < t->n; j++) common |= cstateSameShard(&st->links[i], &t->shard[j]);
    }
    if (st->nlinks && !common) {
        snprintf(why, cap, "it was written for another cluster (none of its shards' nodes, %.60s..., is a node of "
                 "this one)", st->links[0].nodes);
        return -1;
    }
    return 0;
}

/* The file's record of shard s: the one keyed by its ranges now, else
 * (slots moved by a reshard, during the last run or since) the one naming
 * one of its nodes. A replication position belongs to the nodes' history,
 * not to the slots: the moved keys are in the streams (RESTORE-ASKING on
 * the importer's, DEL on the exporter's), replayed as a live run does. */
static const stateLink *recordOf(const stateFile *st, const csShard *s, const char *key) {
    const stateLink *old = stateFind((stateFile *)st, key);
    if (old && cstateSameShard(old, s)) return old;
    for (int i = 0; i < st->nlinks; i++)
        if (cstateSameShard(&st->links[i], s)) return &st->links[i];
    return NULL;
}

/* Shard s's record for this run: the file's, when the shard is the same
 * (a node in common), else one without a position. */
static void startRecord(const stateFile *st, const csShard *s, stateLink *rec, const char *path, int quiet) {
    char key[STATE_ADDR_LEN];
    cstateKey(s, key, sizeof(key));
    const stateLink *old = recordOf(st, s, key);
    memset(rec, 0, sizeof(*rec));
    if (old) {
        *rec = *old;
        if (!rec->updated_ms) rec->updated_ms = 1; /* from the file: sync.c tells them apart by it */
        const char *was = strncmp(old->source, "slots:", 6) == 0 ? old->source + 6 : old->source;
        if (!quiet && strcmp(was, s->ranges) != 0)
            logInfo("--state %s: shard %s:%d serves slots %s now (%s in the file): it resumes all the same", path,
                    s->master.host, s->master.port, s->ranges, was);
    }
    rec->offset = old ? old->offset : -1;
    snprintf(rec->source, sizeof(rec->source), "%s", key);
    cstateNodes(s, rec->nodes, sizeof(rec->nodes));
    if (!st->nlinks || old) return;
    if (!quiet)
        logInfo("--state %s: shard %s:%d (slots %s) has no record in it (its nodes were all replaced): it does a full "
                "sync of its slots alone", path, s->master.host, s->master.port, s->ranges);
}

static outcome openFail(cstate *c, outcome rc) {
    stateUnlock(c->lock);
    free(c->start);
    free(c->path);
    free(c);
    return rc;
}

outcome cstateOpen(const char *path, const csTopo *t, const rsUrl *target, const rsConnOptions *tco, int quiet,
                   cstate **out) {
    char err[700], why[500], tgt[STATE_ADDR_LEN], run_id[48];
    cstate *c = calloc(1, sizeof(*c));
    stateFile *st = calloc(1, sizeof(*st)), *now = calloc(1, sizeof(*now));
    *out = NULL;
    if (c) c->lock = -1;
    if (!c || !st || !now || !(c->path = strdup(path)) || !(c->start = calloc((size_t)t->n, sizeof(*c->start)))) {
        free(st), free(now);
        logError("out of memory");
        return c ? openFail(c, OUTCOME_INTERNAL) : OUTCOME_INTERNAL;
    }
    outcome rc = OUTCOME_OK;
    int got = 0;
    stateAddress(target, tgt, sizeof(tgt));
    if (t->n > STATE_MAX_LINKS) {
        logError("--state %s: %d shards, a state file holds %d; nothing was written", path, t->n, STATE_MAX_LINKS);
        rc = OUTCOME_USAGE;
    } else if ((c->lock = stateLock(path, err, sizeof(err))) < 0) {
        logError("--state %s: two syncs must not share one position; nothing was written", err);
        rc = OUTCOME_USAGE;
    } else if ((got = stateLoad(path, st, err, sizeof(err))) < 0) {
        logError("--state %s: refusing to trust it; nothing was written (remove it to start over: a full sync, with "
                 "--flush-target)", err);
        rc = OUTCOME_INPUT;
    } else if (targetRunId(target, tco, run_id, sizeof(run_id), err, sizeof(err)) < 0) {
        logError("target: %s", err);
        rc = OUTCOME_CONNECT;
    } else if (got && (stateMatches(st, tgt, run_id, NULL, why, sizeof(why)) < 0 ||
                       sameCluster(st, t, why, sizeof(why)) < 0)) {
        logError("--state %s: refused: %s; nothing was written (give each source and target their own state file; "
                 "remove this one to start over with a full sync)", path, why);
        rc = OUTCOME_USAGE;
    }
    if (rc != OUTCOME_OK) {
        free(st), free(now);
        return openFail(c, rc);
    }
    if (!got) memset(st, 0, sizeof(*st));
    c->n = t->n;
    c->target_ours = st->nlinks > 0;
    for (int i = 0; i < st->nlinks; i++) c->target_ours &= st->links[i].target_ours;
    snprintf(now->target, sizeof(now->target), "%s", tgt);
    snprintf(now->target_run_id, sizeof(now->target_run_id), "%.40s", run_id);
    for (int i = 0; i < t->n; i++) {
        startRecord(st, &t->shard[i], &c->start[i], path, quiet);
        stateSet(now, &c->start[i]);
    }
    c->keeper = stateKeeperStart(path, now, 1000, err, sizeof(err));
    free(st), free(now);
    if (c->keeper) {
        *out = c;
        return OUTCOME_OK;
    }
    logError("--state %s; nothing was written", err);
    return openFail(c, OUTCOME_INPUT);
}

stateKeeper *cstateShard(cstate *c, int i, stateLink *rec, int *target_ours) {
    *rec = c->start[i];
    *target_ours = c->target_ours;
    return c->keeper;
}

int cstateResumes(const cstate *c) {
    for (int i = 0; i < c->n; i++)
        if (stateHasPosition(&c->start[i])) return 1;
    return 0;
}

void cstateClose(cstate *c) {
    char err[600];
    if (!c) return;
    if (stateKeeperStop(c->keeper, err, sizeof(err)) < 0) logError("--state %s: the last positions were not saved", err);
    stateUnlock(c->lock); /* after the last write */
    free(c->start);
    free(c->path);
    free(c);
}

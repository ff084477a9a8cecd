/* sync.c -- the apply side of live sync (see sync.h).
 *
 * One loop takes epochs from the replica link. A full epoch is decoded
 * from its spool straight into the importer; whatever the reader pulled
 * past the RDB's checksum is the start of the command stream. Commands
 * are parsed with hiredis' reply reader, which also gives the exact byte
 * count of each, so every command knows the stream offset at its end.
 * Forwarded commands carry that offset in their writer tag; when the
 * target acknowledges one, the offset becomes the applied offset that the
 * link reports in REPLCONF ACK (and that a resume starts from).
 */
#include "sync.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "clock.h"
#include "ctarget.h"
#include "ccutover.h"
#include "cutover.h"
#include "csource.h"
#include "grace.h"
#include "log.h"
#include "outcome.h"
#include "preflight.h"
#include "progress.h"
#include "rdb/tee.h"
#include "replica.h"
#include "resync.h"
#include "snapshot.h"
#include "state.h"
#include "stop.h"
#include "ctload.h"
#include "tload.h"
#include "verify.h"
#include "streamstage.h"
#include "writer.h"
#include "cstream.h"


static volatile sig_atomic_t stop_requested, cutover_requested;

void syncRequestStop(void) { stop_requested = 1; }
void syncRequestCutover(void) { cutover_requested = 1; }
int syncCutoverRequested(void) { return cutover_requested; }

/* Status lines come from the apply thread, which blocks while the target
 * does not answer (paused, stopped, swapping): the watchdog thread then
 * keeps saying where things stand, so a log never goes quiet on a hung
 * target. It shares only this struct, under its lock, with the apply
 * thread; its own progress object throttles its lines. */
typedef struct watchdog {
    pthread_t th;
    pthread_mutex_t mu;
    int started, stop;
    int64_t alive_ms;       /* when the apply thread last reached a status point */
    char line[300];         /* its last status line, and that line's phase */
    const char *phase;
    progress *pg;
    replica *rep;           /* its status is locked: safe to read here */
    metrics *metrics;       /* --metrics: refreshed here too while the apply side is blocked */
    metricsSnapshot snap;   /* the apply thread's last one */
    int have_snap;
} watchdog;

#define WATCHDOG_STALL_MS 3000 /* the apply side silent this long is blocked */

typedef struct syncer {
    const syncConfig *cfg;
    replica *rep;
    rsConn *tc;
    rsServerInfo tinfo;
    char run_id[48];
    char src_run_id[RESYNC_RUN_ID_LEN + 1]; /* the source of the epoch applied last; "" unknown */
    uint64_t epoch_seq;     /* of the epoch applied last */
    writer *w;
    router *rt;             /* a cluster target (ctarget.h): w routes through it */
    cstream *cs;            /* and the stream's commands through this (cross-slot ones: xslot.h) */
    importer *im;
    streamStage *stage;     /* filters and translation of the stream's commands */
    redisReader *rr;
    int64_t base;           /* stream offset before this epoch's first command byte */
    uint64_t fed;           /* bytes fed to rr in this epoch */
    int db;                 /* source stream db at the parse position */
    int in_multi;
    int64_t multi_start;    /* offset before the open MULTI */
    int64_t prev_end;       /* offset at the end of the previous command */
    int snap_attempts;
    int64_t applied;
    uint64_t forwarded, acked, refused;
    int loaded_once;        /* a snapshot was fully applied */
    int epoch_ready;        /* this epoch's snapshot (if any) is applied */
    int loading;            /* inside loadSnapshot */
    int partial;            /* a snapshot load began writing and did not finish: the target is partial */
    int target_was_empty;   /* no key on the target when the sync began: all it holds is ours */
    importStats at_start;   /* the importer's counts when this snapshot began */
    char snap_summary[320]; /* the last applied snapshot's counts, for the final line (also with -q) */
    int target_lost, fatal;
    outcome rc;             /* once fatal */
    progress *pg;           /* the status lines */
    watchdog wd;            /* status lines while the apply side is blocked */
    uint64_t last_replies;  /* the writer's reply count, and when it last moved */
    int64_t last_reply_ms;
    int64_t last_count_ms;
    int last_phase;         /* of the last status line; -1 = none yet */
    uint64_t last_count;
    double rate;
    uint64_t keys;
    spool *sp;              /* the epoch being applied: its unread bytes are the spool's */
    uint64_t target_losses;
    outcome open_refused;   /* openTarget refused the target (not a failure to connect) */
    checkpoint *cp;         /* --exactly-once; NULL otherwise */
    stateKeeper *keeper;    /* --state: where the position is kept; NULL = none */
    int state_lock;         /* --state: FILE.lock held for the run; -1 = none */
    char src_addr[STATE_ADDR_LEN]; /* the source's address, the state's link key */
    char src_nodes[STATE_NODES_LEN + 1]; /* a cluster shard's node ids (cstate.h); "" */
    int shared_keeper;      /* a cluster shard: the keeper is csource's, for every shard */
    char replid[41];        /* of the epoch applied last ("?" on a SYNC-style link) */
    int applied_db;         /* the stream db at s->applied */
    cutoverState cut;       /* the source's pause, once a cut-over began */
    int cut_phase;          /* CUT_* */
    int finished;           /* cut over: the run is done */
    int cut_tried;          /* a cut-over began (and said how it ended) */
    tload *tl;              /* --target-load replica: the target loading as our replica */
    long tl_dbs;            /* the target's databases (tloadCheck) */
    ctload *ct;             /* a cluster shard's part of one load for all shards (ctload.h), joined */
    char err[1024];
} syncer;

enum { CUT_NONE = 0, CUT_WAITING, CUT_PAUSED };

/* --state and the cut-over, hooked in at the status points and the
 * snapshot load (their sections are at the end). */
static void keepState(syncer *s);
static int keepStateNow(syncer *s, const char *when);
static void cutoverStep(syncer *s);
static int openShardState(syncer *s, replState *resume, int *have);

static void fatal(syncer *s, outcome rc, const char *msg) {
    if (s->fatal) return;
    s->fatal = 1;
    s->rc = rc;
    snprintf(s->err, sizeof(s->err), "%s", msg);
}

/* ---- Status line ---- */

/* The line for a phase with nothing to count, or "" for a counting one. */
static const char *waitingLine(replPhase phase) {
    switch (phase) {
    case REPL_CONNECTING: return "connecting to the source";
    case REPL_WAIT_START: return "waiting for the source to start the snapshot";
    case REPL_WAIT_SNAPSHOT: return "waiting for the source's snapshot";
    default: return "";
    }
}

/* "In sync" is what an operator switches on, so it is claimed only when
 * proven: this epoch's snapshot applied and no newer epoch waiting,
 * everything received applied and acknowledged by the target, and the
 * source heard from within twice its PING period (an idle master still
 * PINGs; a frozen one says nothing). */
/* How long commands have been waiting for a reply of the target without
 * any reply coming: 0 when none wait. */
static int64_t targetSilentMs(syncer *s) {
    int64_t now = clockMonoMs();
    uint64_t replies = s->w ? writerReplies(s->w) : 0;
    if (!s->w || writerInFlight(s->w) == 0 || replies != s->last_replies) {
        s->last_replies = replies;
        s->last_reply_ms = now;
        return 0;
    }
    return now - s->last_reply_ms;
}

static int inSync(syncer *s, const replStatus *st) {
    return st->phase == REPL_STREAMING && !s->loading && st->silent_ms <= 2 * st->ping_period_ms &&
           targetSilentMs(s) < WATCHDOG_STALL_MS && st->received - st->applied <= 0 && s->epoch_ready &&
           st->pending_epochs == 0;
}

static void streamingLine(syncer *s, const replStatus *st, char *line, size_t cap) {
    int64_t lag = st->received - st->applied;
    char at[80], tail[64] = "";
    /* A SYNC-style link has no source offsets: say what ours count. */
    if (st->sync_only) snprintf(at, sizeof(at), "%lld bytes applied since the snapshot", (long long)st->applied);
    else snprintf(at, sizeof(at), "offset %lld", (long long)st->applied);
    int64_t unanswered = targetSilentMs(s);
    if (st->silent_ms > 2 * st->ping_period_ms)
        snprintf(tail, sizeof(tail), ", source silent for %lld s", (long long)(st->silent_ms / 1000));
    else if (unanswered >= WATCHDOG_STALL_MS)
        snprintf(tail, sizeof(tail), ", target not answering for %lld s", (long long)(unanswered / 1000));
    else if (inSync(s, st))
        snprintf(tail, sizeof(tail), ", in sync");
    snprintf(line, cap, "streaming: %s, lag %lld bytes / %lld ms, %.0f cmds/s%s", at,
             (long long)(lag < 0 ? 0 : lag), (long long)st->lag_ms, s->rate, tail);
}

/* Keys of the current snapshot the target acknowledged (not those only
 * sent, refused or conflicting). */
static uint64_t snapshotWritten(const syncer *s) {
    return s->im ? importGetStats(s->im)->written - s->at_start.written : 0;
}

/* The link's phase as operators see it: in status lines' JSON and in
 * the rdbsync_phase metric alike. */
static metricsPhase phaseOf(replPhase phase) {
    switch (phase) {
    case REPL_CONNECTING:
    case REPL_FAILED: return METRICS_CONNECTING;
    case REPL_WAIT_START:
    case REPL_WAIT_SNAPSHOT: return METRICS_WAITING;
    case REPL_TRANSFER: return METRICS_SNAPSHOT;
    default: return METRICS_STREAMING;
    }
}

static const char *phaseWord(replPhase phase) { return metricsPhaseName(phaseOf(phase)); }

static void watchAlive(watchdog *wd, const char *phase, const char *line) {
    if (!wd->started) return;
    pthread_mutex_lock(&wd->mu);
    wd->alive_ms = clockMonoMs();
    if (line) {
        snprintf(wd->line, sizeof(wd->line), "%s", line);
        wd->phase = phase;
    }
    pthread_mutex_unlock(&wd->mu);
}

/* The apply side blocked: its last snapshot may say "in sync". Publish
 * what the link knows now, never in sync (the target does not answer). */
static void watchMetrics(watchdog *wd) {
    pthread_mutex_lock(&wd->mu);
    metricsSnapshot m = wd->snap;
    int have = wd->have_snap;
    pthread_mutex_unlock(&wd->mu);
    if (!wd->metrics || !have) return;
    replStatus st;
    replicaGetStatus(wd->rep, &st);
    m.in_sync = 0;
    m.source_offset = st.received;
    m.lag_bytes = st.received > st.applied ? st.received - st.applied : 0;
    m.lag_seconds = (double)st.lag_ms / 1000.0;
    metricsPublish(wd->metrics, &m);
}

static void *watchdogThread(void *arg) {
    watchdog *wd = arg;
    for (;;) {
        usleep(200 * 1000);
        pthread_mutex_lock(&wd->mu);
        int stop = wd->stop;
        int64_t quiet = clockMonoMs() - wd->alive_ms;
        char line[300];
        snprintf(line, sizeof(line), "%s", wd->line);
        const char *phase = wd->phase;
        pthread_mutex_unlock(&wd->mu);
        if (stop) return NULL;
        if (quiet >= WATCHDOG_STALL_MS) watchMetrics(wd);
        if (quiet < WATCHDOG_STALL_MS || !line[0] || !progressDue(wd->pg, 0)) continue;
        if (phase && strcmp(phase, "streaming") == 0) {
            /* The last line may have said "in sync": say what the link
             * knows now instead (it keeps receiving). */
            replStatus st;
            replicaGetStatus(wd->rep, &st);
            int64_t lag = st.received - st.applied;
            snprintf(line, sizeof(line), "streaming: offset %lld, lag %lld bytes / %lld ms", (long long)st.applied,
                     (long long)(lag < 0 ? 0 : lag), (long long)st.lag_ms);
        }
        progressLine(wd->pg, phase, "%s; waiting on the target for %lld s", line, (long long)(quiet / 1000));
    }
}

static void watchdogStart(syncer *s) {
    watchdog *wd = &s->wd;
    pthread_mutex_init(&wd->mu, NULL);
    wd->alive_ms = clockMonoMs();
    wd->rep = s->rep;
    wd->metrics = s->cfg->metrics;
    wd->pg = progressNew(s->cfg->quiet, "sync", 0);
    progressSetInterval(wd->pg, s->cfg->status_interval_ms);
    wd->started = wd->pg && pthread_create(&wd->th, NULL, watchdogThread, wd) == 0;
    if (!wd->started) progressFree(wd->pg); /* no watchdog: the apply thread's lines remain */
}

static void watchdogStop(syncer *s) {
    watchdog *wd = &s->wd;
    if (!wd->started) return;
    pthread_mutex_lock(&wd->mu);
    wd->stop = 1;
    pthread_mutex_unlock(&wd->mu);
    pthread_join(wd->th, NULL);
    progressFree(wd->pg);
    pthread_mutex_destroy(&wd->mu);
    wd->started = 0;
}

/* --metrics: what the status line says, as numbers (metrics.h). */
static void publishMetrics(syncer *s, const replStatus *st, replPhase phase, int stopped) {
    if (!s->cfg->metrics) return;
    const importStats *is = s->im ? importGetStats(s->im) : NULL;
    metricsSnapshot m = {
        .phase = stopped ? METRICS_STOPPED : phaseOf(phase),
        .in_sync = !stopped && inSync(s, st),
        .source_offset = st->received,
        .applied_offset = st->applied,
        .lag_bytes = st->received > st->applied ? st->received - st->applied : 0,
        .lag_seconds = (double)st->lag_ms / 1000.0,
        .spool_bytes = s->sp ? spoolWritten(s->sp) - spoolConsumed(s->sp) : 0,
        .keys_written_total = is ? is->written : 0,
        .commands_applied_total = s->acked - s->refused,
        .errors_refused_total = s->refused + (is ? is->failed : 0),
        .errors_conflict_total = is ? is->conflicts : 0,
        .errors_link_total = st->reconnects + s->target_losses,
        .full_syncs_total = st->full_syncs,
        .partial_resyncs_total = st->partial_syncs,
    };
    if (s->wd.started) {
        pthread_mutex_lock(&s->wd.mu);
        s->wd.snap = m;
        s->wd.have_snap = 1;
        pthread_mutex_unlock(&s->wd.mu);
    }
    if (s->cfg->shard) csourceLinkMetrics(s->cfg->shard, &m); /* labelled shard="..." */
    else metricsPublish(s->cfg->metrics, &m);
}

/* One shard of a cluster source: its line goes into the aggregated one. */
static void shardStatus(syncer *s, const replStatus *st, replPhase phase) {
    char line[300];
    if (*waitingLine(phase)) snprintf(line, sizeof(line), "%s", waitingLine(phase));
    else if (phase == REPL_TRANSFER)
        snprintf(line, sizeof(line), "loading, %.1f MB received, %llu keys applied", st->snapshot_bytes / 1048576.0,
                 (unsigned long long)snapshotWritten(s));
    else streamingLine(s, st, line, sizeof(line));
    /* "in sync" is the aggregated line's word, said only when every shard is. */
    char *tail = strstr(line, ", in sync");
    if (tail) *tail = '\0';
    csourceLinkStatus(s->cfg->shard, phaseWord(phase), line, phase == REPL_STREAMING && inSync(s, st), s->applied);
}

static void statusLine(syncer *s, int force) {
    watchAlive(&s->wd, NULL, NULL);
    keepState(s);
    replStatus st;
    replicaGetStatus(s->rep, &st);
    /* The link may stream while the target still loads the snapshot. */
    replPhase phase = s->loading && st.phase == REPL_STREAMING ? REPL_TRANSFER : st.phase;
    publishMetrics(s, &st, phase, 0);
    /* A failed link says why in its own error line. Off a terminal, a
     * phase with nothing to count is said once, as it begins. */
    if (phase == REPL_FAILED) return;
    if (s->cfg->shard) {
        shardStatus(s, &st, phase);
        return;
    }
    int waiting = *waitingLine(phase) != '\0', changed = phase != (replPhase)s->last_phase;
    if (waiting && !changed && !progressLive(s->pg)) return;
    if (!progressDue(s->pg, force || (waiting && changed))) return;
    s->last_phase = phase;
    int64_t t = clockMonoMs();
    if (t - s->last_count_ms >= 1000) {
        s->rate = (double)(s->acked - s->last_count) * 1000.0 / (double)(t - s->last_count_ms + 1);
        s->last_count = s->acked;
        s->last_count_ms = t;
    }
    char line[300];
    if (waiting) {
        snprintf(line, sizeof(line), "%s", waitingLine(phase));
    } else if (phase == REPL_TRANSFER) {
        char total[48] = "";
        if (st.snapshot_size >= 0) snprintf(total, sizeof(total), " of %.1f MB", st.snapshot_size / 1048576.0);
        snprintf(line, sizeof(line), "loading snapshot: %.1f MB%s received, %llu keys %s",
                 st.snapshot_bytes / 1048576.0, total, (unsigned long long)snapshotWritten(s),
                 s->tl ? "sent to the target, which loads them as our replica" : "applied");
    } else {
        streamingLine(s, &st, line, sizeof(line));
    }
    watchAlive(&s->wd, phaseWord(phase), line);
    progressLine(s->pg, phaseWord(phase), "%s", line);
}

/* ---- Replies ---- */

static const redisReply *firstError(const redisReply *r) {
    if (r->type == REDIS_REPLY_ERROR) return r;
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_ERROR) return r->element[i];
    return NULL;
}

/* A stream command the target refused: counted, and the sync stops unless
 * --on-error skip. 'discarded': refused while queued in an --exactly-once
 * batch, which the target then drops whole (EXECABORT), so it cannot be
 * skipped alone. A checkpointRefusedFn. */
static int streamRefused(void *ctx, const writerTag *t, const char *err, int discarded) {
    syncer *s = ctx;
    char kr[300], msg[900], what[64];
    rdbKeyRepr(t->key ? t->key : "", t->key ? t->keylen : 0, kr, sizeof(kr));
    snprintf(what, sizeof(what), "the target refused %s", t->cmd);
    snprintf(msg, sizeof(msg), "%s (db %llu, key '%s', source offset %llu): %s%s", what, (unsigned long long)t->db,
             kr, (unsigned long long)t->src_offset, err,
             discarded ? "; --exactly-once: so the target discarded its whole batch (none of it ran, the checkpoint "
                         "did not move)"
                       : "");
    s->refused++;
    if (discarded || s->cfg->imp.on_error == ONERROR_STOP) {
        fatal(s, OUTCOME_WRITE, msg);
        return -1;
    }
    logRefused(what, err, "%s", msg);
    return 0;
}

static void setApplied(syncer *s, int64_t offset, int db) {
    if (offset <= s->applied) return;
    s->applied = offset;
    s->applied_db = db;
    replicaSetApplied(s->rep, offset, db);
    if (s->cfg->shard) csourceLinkApplied(s->cfg->shard, offset); /* a RESTORE on another link may wait for it */
}

static int onStreamReply(syncer *s, const writerTag *t, const redisReply *r) {
    const redisReply *e = firstError(r);
    if (e && streamRefused(s, t, e->str, 0) < 0) return -1;
    s->acked++;
    setApplied(s, (int64_t)t->src_offset, (int)t->db);
    return 0;
}

/* --exactly-once: a reply of a batch; its commands count and its
 * position applies once the EXEC (or a lone checkpoint) committed. */
static int onBatchReply(syncer *s, const writerTag *t, const redisReply *r) {
    checkpointVerdict v;
    int rc = checkpointOnReply(s->cp, t, r, &v, streamRefused, s);
    if (v.failed) fatal(s, OUTCOME_WRITE, checkpointError(s->cp));
    if (v.committed) {
        s->acked += v.commands;
        setApplied(s, v.offset, v.db);
    }
    return rc;
}

static int onReply(void *ctx, const writerTag *t, const redisReply *r) {
    syncer *s = ctx;
    if (s->cp && checkpointOwns(s->cp, t)) return onBatchReply(s, t, r);
    if (t->kind == WRITER_K_STREAM) return onStreamReply(s, t, r);
    int rc = importOnReply(s->im, t, r);
    if (rc) fatal(s, importConflicted(s->im) ? OUTCOME_CONFLICT : OUTCOME_WRITE, importError(s->im));
    return rc;
}

/* ---- Target connection ---- */

static int targetRunId(rsConn *c, char *out, size_t len) {
    char *info = connInfo(c, "server");
    if (!info) return -1;
    out[0] = '\0';
    connInfoField(info, "run_id", out, len);
    free(info);
    return 0;
}

static int openTarget(syncer *s, char *err, size_t errlen) {
    s->tc = connOpen(s->cfg->target, &s->cfg->target_conn, err, errlen);
    if (!s->tc) return -1;
    if (connServerInfo(s->tc, &s->tinfo) < 0) {
        snprintf(err, errlen, "cannot read INFO server: %s", connError(s->tc));
        return -1;
    }
    /* Before the cluster router: a cluster target is refused with
     * --exactly-once whether or not it is complete. */
    if (s->cfg->exactly_once && checkpointCheckTarget(s->tc, err, errlen) < 0) {
        s->open_refused = OUTCOME_USAGE;
        return -1;
    }
    /* A cluster node as the target: the router (one writer per master) and
     * the stream's cluster entry. The first time it says so; a reconnect
     * opens it quietly. */
    if (ctargetOpen(s->tc, s->cfg->target, &s->cfg->target_conn, s->cfg->quiet || s->target_losses, &s->rt, err,
                    errlen) < 0 ||
        (s->rt && !(s->cs = cstreamNew(s->rt, s->tc, err, errlen))))
        return -1;
    if (s->stage) stageSetTarget(s->stage, &s->tinfo);
    else if (!(s->stage = stageNew(s->cfg->imp.filter, &s->tinfo, &s->cfg->imp))) return -1;
    writerOptions wo = {.on_reply = onReply, .ctx = s};
    s->w = s->rt ? writerNewRouted(s->rt, &wo) : writerNew(s->tc, &wo);
    if (!s->w) return -1;
    if (s->im) importSetWriter(s->im, s->w);
    return 0;
}

static void closeTarget(syncer *s) {
    cstreamFree(s->cs);
    if (s->cp) checkpointReset(s->cp); /* a batch open on this connection dies with it */
    writerFree(s->w);
    routerFree(s->rt);
    connClose(s->tc);
    s->w = NULL;
    s->cs = NULL;
    s->rt = NULL;
    s->tc = NULL;
}

/* --exactly-once, the target back: its checkpoint says what ran, whatever
 * replies were lost with the link (an EXEC that committed moved it; one
 * that did not, did not), also after the target restarted with its data
 * (the checkpoint was persisted with the writes it covers, so it may be
 * behind what was acknowledged). 0 when the link resumes right after it
 * (replicaSetResume); -1 for a full resync. */
static int resumeFromCheckpoint(syncer *s) {
    checkpointPos pos;
    char err[700], kr[300];
    const char *key = checkpointKey(s->cp);
    int got = checkpointReadOwn(s->tc, s->cp, &pos, err, sizeof(err));
    writerResetDb(s->w);
    rdbKeyRepr(key, strlen(key), kr, sizeof(kr));
    if (got < 0) {
        logWarn("%s; full resync", err);
        return -1;
    }
    if (got == 0 || strcmp(pos.replid, s->replid) != 0) {
        logWarn("the target's checkpoint '%s' %s: what the target holds cannot be told; full resync", kr,
                got == 0 ? "is gone" : "belongs to another replication history");
        return -1;
    }
    replState st = {"", pos.offset, pos.db};
    snprintf(st.replid, sizeof(st.replid), "%s", pos.replid);
    if (replicaSetResume(s->rep, &st) < 0) return -1; /* no replication id: a SYNC-only source */
    if (pos.offset != s->applied)
        logInfo("the target's checkpoint is at source offset %lld, the last acknowledged %lld (%s)",
                (long long)pos.offset, (long long)s->applied,
                pos.offset > s->applied ? "a batch committed although its reply was lost"
                                        : "the target restarted without its last writes");
    s->applied = pos.offset;
    s->applied_db = pos.db;
    logInfo("--exactly-once: the target's checkpoint says source offset %lld: resuming right after it",
            (long long)pos.offset);
    return 0;
}

/* Reconnect with backoff. A target that restarted (new run_id) may have
 * lost data: only a full resync makes it identical again (unless its
 * --exactly-once checkpoint says where it stands). */
static void recoverTarget(syncer *s) {
    char err[512], old[48];
    int backoff = 200;
    snprintf(old, sizeof(old), "%s", s->run_id);
    closeTarget(s);
    s->target_losses++;
    logWarn("lost the target; reconnecting");
    while (!stop_requested) {
        if (openTarget(s, err, sizeof(err)) == 0 && targetRunId(s->tc, s->run_id, sizeof(s->run_id)) == 0) break;
        closeTarget(s);
        usleep((useconds_t)backoff * 1000);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    if (stop_requested) return;
    int restarted = strcmp(old, s->run_id) != 0;
    /* A snapshot whose load was cut (s->partial) is not whole on the target. */
    int full = !s->loaded_once || s->partial || restarted;
    if (s->cp && s->loaded_once && !s->partial) {
        full = resumeFromCheckpoint(s) < 0;
        if (full) logInfo("target back%s; full resync from the source", restarted ? " after a restart" : "");
        if (!full) {
            s->target_lost = 0;
            return; /* the link resumes from the checkpoint */
        }
    } else {
        logInfo("target back%s; %s", restarted ? " after a restart" : "",
                full ? "full resync from the source" : "resuming from the applied offset");
    }
    /* loaded_once stays set: the next snapshot then empties the target
     * first, which a restarted target needs (keys it persisted that the
     * source deleted since would stay otherwise). */
    replicaResync(s->rep, full);
    s->target_lost = 0;
}

/* ---- Command stream ---- */

static int isCmd(const redisReply *c, const char *name) {
    return c->element[0]->type == REDIS_REPLY_STRING && strcasecmp(c->element[0]->str, name) == 0;
}

/* One command to the target, tagged with the source offset at which it
 * counts as applied. */
static int forwardArgv(syncer *s, int argc, const char **av, size_t *lv, int64_t off) {
    graceScratch gs;
    /* An expire time the target would reach before the source's DEL (or a
     * renewal) arrives is written as the grace instead. */
    graceRewrite(&argc, av, lv, graceNowMs(), s->cfg->imp.expire_grace_ms, &gs);
    writerTag t = {av[0], (uint64_t)s->db, argc > 1 ? av[1] : NULL, argc > 1 ? lv[1] : 0, (uint64_t)off,
                   WRITER_K_STREAM};
    int tdb = s->db < IMPORT_MAX_DBS && s->cfg->imp.db_map[s->db] >= 0 ? s->cfg->imp.db_map[s->db] : s->db;
    int rc;
    if (s->cp) { /* --exactly-once: in the batch whose EXEC moves the checkpoint */
        rc = checkpointForward(s->cp, s->w, (uint64_t)tdb, argc, av, lv, &t);
    } else {
        rc = writerSelect(s->w, (uint64_t)tdb);
        if (rc == 0) rc = s->cs ? cstreamCommand(s->cs, argc, av, lv, &t) : writerCommand(s->w, argc, av, lv, &t);
    }
    if (rc == 0) s->forwarded++;
    return rc;
}

/* The command through the stream stage (streamstage.h: filters, then
 * translation), then what it became to the target. Of several commands,
 * only the last carries the command's end offset, so that the offset
 * moves only once all of them ran. */
static int forwardStaged(syncer *s, int argc, const char **av, size_t *lv, int64_t end) {
    stageOut so;
    stageVerdict v = stageCommand(s->stage, argc, av, lv, s->in_multi, &so);
    int rc = 0;
    if (v == STAGE_STOP) {
        /* The commands before this one are applied first (a stop is at a
         * command, not "somewhere in the last batch"); a failure while
         * draining is reported by onReply and comes first. */
        char msg[1000];
        writerDrain(s->w);
        snprintf(msg, sizeof(msg), "%s (db %d, source offset %lld)", so.why, s->db, (long long)end);
        fatal(s, OUTCOME_WRITE, msg);
        rc = -1;
    }
    for (int i = 0; v == STAGE_SEND && rc == 0 && i < so.x.n; i++) {
        int64_t off = s->in_multi ? s->multi_start : i == so.x.n - 1 ? end : s->prev_end;
        rc = forwardArgv(s, so.x.argc[i], so.x.argv[i], so.x.lens[i], off);
    }
    stageOutFree(&so);
    return rc;
}

static int forward(syncer *s, const redisReply *c, int64_t end) {
    const char *argv[65], **av = argv; /* one more: a cluster shard's filter may add an argument */
    size_t lens[65], *lv = lens;
    int rc = -1;
    if (c->elements > 64) {
        av = malloc((c->elements + 1) * sizeof(*av));
        lv = malloc((c->elements + 1) * sizeof(*lv));
    }
    if (av && lv) {
        int argc = (int)c->elements;
        for (int i = 0; i < argc; i++) av[i] = c->element[i]->str, lv[i] = (size_t)c->element[i]->len;
        /* A cluster shard: keys moved by resharding, functions (csource.h). */
        int wanted = !s->cfg->shard || csourceLinkFilter(s->cfg->shard, &argc, av, lv, end);
        rc = wanted ? forwardStaged(s, argc, av, lv, end) : 0;
    }
    if (av != argv) free(av);
    if (lv != lens) free(lv);
    return rc;
}

static int dbWanted(const syncer *s) {
    if (s->cfg->imp.n_db_only == 0) return 1;
    for (int i = 0; i < s->cfg->imp.n_db_only; i++)
        if (s->cfg->imp.db_only[i] == s->db) return 1;
    return 0;
}

/* --exactly-once: end the open batch, or write a lone checkpoint, at stream
 * offset 'at': the end of a command outside any source transaction. */
static int commitAt(syncer *s, int64_t at) {
    checkpointPos pos = {.offset = at, .db = s->db};
    snprintf(pos.replid, sizeof(pos.replid), "%s", s->replid);
    return checkpointCommit(s->cp, s->w, &pos);
}

/* --exactly-once, the stream idle (all that was waiting is parsed): the
 * open batch ends where parsing stands. With no batch open and nothing in
 * flight, a position that moved without a forwarded command (PINGs,
 * dbs not copied) gets a lone checkpoint, so the applied offset is always
 * one the target holds. */
static int commitIdle(syncer *s) {
    if (s->in_multi) return 0;
    if (checkpointInBatch(s->cp)) return commitAt(s, s->prev_end);
    if (writerInFlight(s->w) == 0 && s->prev_end > s->applied) return commitAt(s, s->prev_end);
    return 0;
}

/* --exactly-once, the epoch over (a new one follows, maybe a full sync
 * whose FLUSHALL must not land in a transaction): a batch still open is
 * committed, or dropped when a source transaction was cut inside it. */
static int endBatch(syncer *s) {
    if (!checkpointInBatch(s->cp)) return 0;
    return s->in_multi ? checkpointDiscard(s->cp, s->w) : commitAt(s, s->prev_end);
}

/* One command of the stream, whose last byte is at offset 'end'. */
static int command(syncer *s, const redisReply *c, int64_t end) {
    if (c->type != REDIS_REPLY_ARRAY || c->elements == 0) return 0;
    for (size_t i = 0; i < c->elements; i++)
        if (c->element[i]->type != REDIS_REPLY_STRING) return 0;
    if (isCmd(c, "PING")) return 0;
    if (isCmd(c, "REPLCONF")) {
        if (c->elements > 1 && strcasecmp(c->element[1]->str, "GETACK") == 0) replicaRequestAck(s->rep);
        return 0;
    }
    if (isCmd(c, "SELECT") && c->elements == 2) {
        s->db = atoi(c->element[1]->str);
        return 0;
    }
    int multi = isCmd(c, "MULTI"), exec = isCmd(c, "EXEC");
    if (multi) s->in_multi = 1, s->multi_start = s->prev_end;
    /* --exactly-once: the source's MULTI/EXEC are not forwarded but
     * flatten into the batch, whose own MULTI/EXEC keeps them atomic (they
     * cannot nest). */
    int flatten = s->cp && (multi || exec);
    int rc = !flatten && (dbWanted(s) || multi || exec) ? forward(s, c, end) : 0;
    if (exec) s->in_multi = 0;
    if (rc == 0 && s->cp && !s->in_multi && checkpointDue(s->cp)) rc = commitAt(s, end);
    return rc;
}

/* Parse and apply every complete command in the reader. */
static int drainReader(syncer *s) {
    for (;;) {
        void *rep = NULL;
        if (redisReaderGetReply(s->rr, &rep) != REDIS_OK) {
            fatal(s, OUTCOME_DECODE, "the source's command stream is not valid RESP");
            return -1;
        }
        if (!rep) return 0;
        int64_t end = s->base + (int64_t)(s->fed - (s->rr->len - s->rr->pos));
        redisReply *c = rep;
        int rc = command(s, c, end);
        s->prev_end = end;
        freeReplyObject(c);
        if (rc < 0) return -1;
    }
}

static int feed(syncer *s, const void *p, size_t n) {
    if (!n) return 0;
    if (redisReaderFeed(s->rr, p, n) != REDIS_OK) {
        fatal(s, OUTCOME_INTERNAL, "out of memory parsing the command stream");
        return -1;
    }
    s->fed += n;
    return drainReader(s);
}

/* --once on a run that resumed (--exactly-once's checkpoint, --state):
 * there is no snapshot to end at, so it ends once the target is in sync. */
static int caughtUp(syncer *s) {
    replStatus st;
    replicaGetStatus(s->rep, &st);
    return inSync(s, &st);
}

/* Follow the command stream of one epoch until it ends or we stop (1:
 * --once, caught up). */
static int streamEpoch(syncer *s, spool *sp) {
    char buf[64 * 1024], err[256];
    for (;;) {
        if (stop_requested || s->fatal || s->finished) return -1;
        ssize_t n = spoolReadTimed(sp, buf, sizeof(buf), 100, err, sizeof(err));
        if (n == 0) { /* epoch over: a new one follows */
            if (s->cp && endBatch(s) < 0) break;
            return 0;
        }
        if (n == -1) {
            fatal(s, OUTCOME_INTERNAL, err);
            return -1;
        }
        if (n > 0 && feed(s, buf, (size_t)n) < 0) break;
        if (s->cp && n < (ssize_t)sizeof(buf) && commitIdle(s) < 0) break;
        if (writerPoll(s->w) < 0) break;
        /* Nothing in flight: everything parsed so far is applied. */
        if (!s->cp && writerInFlight(s->w) == 0 && !s->in_multi) {
            int64_t parsed = s->base + (int64_t)(s->fed - (s->rr->len - s->rr->pos));
            if (parsed > s->applied && s->rr->len == s->rr->pos) {
                s->applied = parsed;
                s->applied_db = s->db;
                replicaSetApplied(s->rep, parsed, s->db);
            }
        }
        cutoverStep(s);
        statusLine(s, 0);
        if (s->cfg->once && caughtUp(s)) return 1;
    }
    if (!s->fatal) s->target_lost = 1;
    return -1;
}

/* ---- Snapshot ---- */

typedef struct snapCtx {
    syncer *s;
    int stream_db;
    int tload_pending;      /* --target-load replica: begins with the source's first bytes */
} snapCtx;

static int tloadOpen(syncer *s);

/* The target becomes our replica only once the source's RDB flows: its
 * own read of the link times out after repl-timeout, and a source may
 * take longer than that to start (a disk-based BGSAVE first). */
static int onHeader(void *ctx, int version, rdbFlavour flavour) {
    snapCtx *sc = ctx;
    if (!sc->tload_pending) return 0;
    sc->tload_pending = 0;
    return tloadOpen(sc->s);
}

static int onAux(void *ctx, const char *k, size_t kl, const char *v, size_t vl) {
    snapCtx *sc = ctx;
    if (kl == 14 && memcmp(k, "repl-stream-db", 14) == 0) sc->stream_db = atoi(v);
    return 0;
}

static int onKeyEnd(void *ctx, const rdbKeyInfo *k) {
    snapCtx *sc = ctx;
    sc->s->keys++;
    if ((sc->s->keys & 1023) == 0) {
        cutoverStep(sc->s); /* during a load: only "waiting" */
        statusLine(sc->s, 0);
    }
    return stop_requested ? -1 : 0;
}

/* A cluster shard: only its slots are replaced, the other shards' keys
 * stay (csource.h). */
static int shardFlush(syncer *s) {
    char err[512];
    int tdb = s->cfg->imp.db_map[0] >= 0 ? s->cfg->imp.db_map[0] : 0;
    if (writerDrain(s->w) < 0) return -1;
    writerResetDb(s->w);
    if (csourceLinkFlush(s->cfg->shard, s->tc, tdb, err, sizeof(err)) == 0) return 0;
    fatal(s, OUTCOME_WRITE, err);
    return -1;
}

/* Before a later full snapshot: empty what the snapshot will fill (every
 * db, or the selected ones) and the function libraries. Before the first
 * one with --flush-target: everything, as --flush-target says. */
static int flushTarget(syncer *s, int first, const char *why) {
    const char *argv[2] = {"FLUSHALL", "FLUSH"};
    size_t lens[2] = {8, 5};
    writerTag t = {"FLUSHALL", 0, NULL, 0, 0, WRITER_K_FLUSH};
    int ndb = first ? 0 : s->cfg->imp.n_db_only;
    logInfo("%s", why);
    if (s->cfg->shard) return shardFlush(s);
    if (ndb == 0 && writerCommand(s->w, 1, argv, lens, &t) < 0) return -1;
    for (int i = 0; i < ndb; i++) {
        int db = s->cfg->imp.db_only[i];
        int tdb = s->cfg->imp.db_map[db] >= 0 ? s->cfg->imp.db_map[db] : db;
        argv[0] = t.cmd = "FLUSHDB";
        lens[0] = 7;
        if (writerSelect(s->w, (uint64_t)tdb) < 0 || writerCommand(s->w, 1, argv, lens, &t) < 0) return -1;
    }
    if (connServerAtLeast(&s->tinfo, 7, 0)) {
        argv[0] = t.cmd = "FUNCTION";
        lens[0] = 8;
        if (writerCommand(s->w, 2, argv, lens, &t) < 0) return -1;
    }
    return writerDrain(s->w);
}

/* The decoder's byte source: the spool, waking up to notice a stop. */
typedef struct snapSource {
    syncer *s;
    spool *sp;
} snapSource;

static ssize_t snapRead(void *src, void *buf, size_t cap, char *err, size_t errlen) {
    snapSource *ss = src;
    for (;;) {
        ssize_t n = spoolReadTimed(ss->sp, buf, cap, 200, err, errlen);
        if (n != -2) return n;
        if (stop_requested) {
            snprintf(err, errlen, "stopped");
            return -1;
        }
        cutoverStep(ss->s);
        statusLine(ss->s, 0);
    }
}

/* A cluster shard: its records go into the one RDB of every shard
 * (ctload.h), begun by the first shard whose bytes arrive. */
static int shardTloadOpen(syncer *s) {
    char err[900];
    outcome rc = OUTCOME_INTERNAL;
    ctload *ct = csourceLinkTload(s->cfg->shard);
    importRdbShare *sh = ct ? ctloadJoin(ct, stopRequested, &rc, err, sizeof(err)) : NULL;
    if (!sh) {
        if (!ct) snprintf(err, sizeof(err), "--target-load replica: no load session for the cluster's shards");
        if (!stop_requested) fatal(s, rc, err);
        return -1;
    }
    importShareRdb(s->im, sh, s->tl_dbs);
    s->ct = ct;
    return 0;
}

static int shardTick(void *ctx) {
    syncer *s = ctx;
    cutoverStep(s);
    statusLine(s, 0);
    return stop_requested != 0;
}

/* The shard's snapshot is whole: wait for every shard's, and the load. */
static int shardTloadClose(syncer *s) {
    char err[900];
    int rc = ctloadArrive(s->ct, snapshotWritten(s), s->keys, shardTick, s, err, sizeof(err));
    outcome why = ctloadFailure(s->ct);
    importSetRdb(s->im, NULL, 0);
    s->ct = NULL;
    if (rc < 0 && !stop_requested) fatal(s, why != OUTCOME_OK ? why : OUTCOME_WRITE, err);
    return rc;
}

/* A shard's snapshot stopped while in the shared load: the load ends for
 * every shard (the target discards it), and this shard with it. */
static void shardTloadAbandon(syncer *s, const char *cause) {
    char msg[1000], node[300];
    csourceLinkNode(s->cfg->shard, node, sizeof(node));
    if (s->fatal) snprintf(msg, sizeof(msg), "%.990s", s->err);
    else
        snprintf(msg, sizeof(msg), "--target-load replica: the snapshot of shard %s %s, so the target's load of "
                 "every shard was abandoned (it was promoted, nothing of it kept); run again", node, cause);
    ctloadFail(s->ct, msg, s->fatal ? s->rc : stop_requested ? OUTCOME_INTERRUPTED : OUTCOME_WRITE);
    importSetRdb(s->im, NULL, 0);
    s->ct = NULL;
    if (!s->fatal && !stop_requested) fatal(s, OUTCOME_WRITE, msg);
}

/* --target-load replica, the first snapshot: the target becomes our
 * replica and the importer writes an RDB to it (tload.h). 0 also when the
 * mode is not used; -1 fatal. */
static int tloadOpen(syncer *s) {
    char err[900];
    outcome rc;
    if (!s->cfg->target_load || s->loaded_once || s->tl_dbs <= 0) return 0; /* not checked: RESTORE */
    if (s->cfg->shard) return shardTloadOpen(s);
    if (!(s->tl = tloadBegin(s->tc, &s->tinfo, stopRequested, s->cfg->quiet, &rc, err, sizeof(err)))) {
        if (!stop_requested) fatal(s, rc, err);
        return -1;
    }
    importSetRdb(s->im, tloadWriter(s->tl), s->tl_dbs);
    return 0;
}

/* After the last record: the target loads, then is promoted. */
static int tloadClose(syncer *s) {
    char err[900];
    int rc = tloadFinish(s->tl, snapshotWritten(s), s->keys, err, sizeof(err));
    importSetRdb(s->im, NULL, 0);
    tloadEnd(s->tl);
    s->tl = NULL;
    if (rc < 0 && !stop_requested) fatal(s, OUTCOME_WRITE, err);
    return rc;
}

/* Decode the snapshot from the spool into the importer, then hand what
 * the reader read past the RDB to the command parser. */
static int loadSnapshot(syncer *s, const replEpoch *ep) {
    snapSource src = {s, ep->sp};
    rdbReader *r = rdbReaderNew(snapRead, &src);
    snapCtx sc = {s, 0, 1};
    rdbHandlers hi, hs = {.ctx = &sc, .header = onHeader, .aux = onAux, .key_end = onKeyEnd}, h;
    importHandlers(s->im, &hi);
    if (s->cfg->shard) csourceLinkSnapshotHandlers(s->cfg->shard, &hi);
    rdbTee *tee = rdbTeeNew(&hi, &hs);
    rdbTeeHandlers(tee, &h);
    rdbDecoder *d = rdbDecoderNew(r, &h, NULL);
    int rc = -1;
    s->loading = 1;
    s->partial = 1;
    s->at_start = *importGetStats(s->im);
    if (keepStateNow(s, "a snapshot load begins") < 0) s->loading = s->partial = 0;
    /* A retried first snapshot overwrites what the cut one wrote. */
    int retry = s->snap_attempts++ && !s->loaded_once;
    /* A cluster shard in the shared load wrote nothing before it joined (a
     * cut snapshot after that ends the run): nothing to empty. */
    int shared_load = s->cfg->shard && s->cfg->target_load && s->tl_dbs > 0 && !s->loaded_once;
    if (retry) importSetConflict(s->im, CONFLICT_REPLACE);
    /* --flush-target: before every attempt at the first snapshot (a cut
     * one leaves keys the next may no longer have: deleted on the source
     * meanwhile, REPLACE would never remove them). Without it, a target
     * that was empty when the sync began holds only what the cut attempt
     * wrote, so it is emptied the same way. */
    const char *why = s->loaded_once ? "full resync: emptying the target before loading the new snapshot"
                      : s->cfg->flush_target ? "--flush-target: emptying the target before the first key"
                      : retry && s->target_was_empty && !shared_load
                          ? "retrying the first snapshot: emptying what the cut one wrote (the target was empty "
                            "when the sync began)"
                          : NULL;
    /* --exactly-once: the checkpoint goes before any key (none while the
     * target is partial: a restart then finds none and syncs in full). */
    if (!s->loading) {
        /* --state could not be kept: fatal, nothing touched */
    } else if ((why && flushTarget(s, !s->loaded_once, why) < 0) || (s->cp && checkpointRemove(s->cp, s->w) < 0)) {
        s->target_lost = !writerStopped(s->w);
    } else if (rdbDecode(d) < 0) {
        if (stop_requested) {
        } else if (rdbDecoderErrorCode(d) == RDB_ERR_TRUNCATED && s->ct) {
            shardTloadAbandon(s, "was cut short (the source's link closed)");
        } else if (rdbDecoderErrorCode(d) == RDB_ERR_TRUNCATED) {
            logWarn("the snapshot was cut short; waiting for the next full sync");
            /* Its writes still in flight are counted with it, not with the next. */
            if (writerDrain(s->w) < 0 && !s->fatal) s->target_lost = 1;
        } else if (rdbDecoderErrorCode(d) == RDB_ERR_HANDLER) {
            char msg[1000]; /* a cluster shard's snapshot may stop for the source's own reason */
            if (s->cfg->shard && csourceLinkSnapshotError(s->cfg->shard, msg, sizeof(msg)))
                fatal(s, OUTCOME_DECODE, msg);
            else if (s->tl && !s->fatal) { /* the importer's RDB records: the target did not take them */
                snprintf(msg, sizeof(msg), "--target-load replica: %s", importError(s->im));
                tloadExplain(s->tl, msg, sizeof(msg));
                fatal(s, OUTCOME_WRITE, msg);
            } else if (s->ct && !s->fatal) { /* its own record failed, or another shard ended the load */
                const char *e = importError(s->im);
                outcome why = ctloadFailure(s->ct); /* ended by another shard: its cause's outcome */
                snprintf(msg, sizeof(msg), "%s%s", strncmp(e, "--target-load", 13) ? "--target-load replica: " : "", e);
                fatal(s, why != OUTCOME_OK ? why : OUTCOME_WRITE, msg);
            } else if (!s->fatal) s->target_lost = 1;
        } else {
            char msg[800];
            snprintf(msg, sizeof(msg), "source snapshot: %s", rdbDecoderError(d));
            fatal(s, rdbDecoderErrorCode(d) == RDB_ERR_CHECKSUM ? OUTCOME_CRC : OUTCOME_DECODE, msg);
        }
    } else if (s->tl && tloadClose(s) < 0) {
        /* fatal, or stopped */
    } else if (s->ct && shardTloadClose(s) < 0) {
        /* fatal, or stopped */
    } else if (writerDrain(s->w) < 0) {
        if (!s->fatal) s->target_lost = 1;
    } else {
        const importStats *st = importGetStats(s->im);
        if (st->unrepresentable || st->failed) {
            logWarn("snapshot applied with %llu keys not written (each cause named above, with its first key)",
                    (unsigned long long)(st->unrepresentable + st->failed));
        }
        const unsigned char *rest;
        size_t n = rdbReaderBuffered(r, &rest);
        s->db = s->applied_db = sc.stream_db;
        s->loaded_once = 1; /* every key is on the target: whatever follows is the stream */
        s->partial = 0;
        /* --exactly-once: the snapshot's position, before the first command. */
        if (s->cp && (commitAt(s, ep->offset) < 0 || writerDrain(s->w) < 0)) {
            if (!s->fatal) s->target_lost = 1;
        } else {
            rc = feed(s, rest, n);
        }
    }
    if (s->ct) shardTloadAbandon(s, stop_requested ? "was stopped" : "failed");
    if (s->tl) { /* cut short: the target's load fails as the link closes, and it is promoted */
        importSetRdb(s->im, NULL, 0);
        tloadEnd(s->tl);
        s->tl = NULL;
    }
    s->loading = 0;
    rdbDecoderFree(d);
    rdbTeeFree(tee);
    rdbReaderFree(r);
    return rc;
}

/* ---- Before a later full resync empties the target ---- */

/* The target's keys in the dbs a resync empties: all, or those --db
 * selects, as --db-map maps them. -1 when INFO is refused or fails. */
static int64_t targetKeys(syncer *s) {
    const importOptions *o = &s->cfg->imp;
    char *info = connInfo(s->tc, "keyspace");
    if (!info) return -1;
    resyncFacts f;
    resyncFactsInit(&f);
    resyncParseKeyspace(info, &f);
    free(info);
    int dbs[IMPORT_MAX_DBS];
    for (int i = 0; i < o->n_db_only; i++) {
        int db = o->db_only[i];
        dbs[i] = o->db_map[db] >= 0 ? o->db_map[db] : db;
    }
    return resyncKeysIn(&f, dbs, o->n_db_only);
}

/* A later full snapshot empties the target first: not when the source
 * restarted or holds far fewer keys than the target (resync.h), unless
 * --resync-flush. 0 to go on; -1 when refused (fatal set) or the target
 * was lost. Runs before beginEpoch: s->applied is still the old history's. */
static int mayFlush(syncer *s, const replEpoch *ep) {
    if (writerDrain(s->w) < 0) {
        if (!s->fatal) s->target_lost = 1;
        return -1;
    }
    /* A cluster shard: a new node after a failover is cluster life, and the
     * target holds every shard's keys; only the shard's slots are replaced. */
    if (s->cfg->shard) return 0;
    const importOptions *o = &s->cfg->imp;
    /* A source that continued the history we applied (+CONTINUE, e.g.
     * restarted with its data) is the one we follow now. */
    const char *prev = ep->cont_seq == s->epoch_seq && ep->cont_run_id[0] ? ep->cont_run_id : s->src_run_id;
    resyncCheck c = {prev, ep->src.run_id, !ep->sync_only, s->applied, ep->offset,
                     resyncKeysIn(&ep->src, o->db_only, o->n_db_only), targetKeys(s)};
    char why[400], msg[900];
    if (!resyncRefuse(&c, why, sizeof(why))) return 0;
    if (s->cfg->resync_flush) {
        logWarn("full resync: %s; --resync-flush: emptying the target anyway", why);
        return 0;
    }
    snprintf(msg, sizeof(msg), "full resync refused: %s; the target was left as it was (nothing flushed or "
             "written). If the source is right, run again with --flush-target (--resync-flush lets a running "
             "sync accept this)", why);
    fatal(s, OUTCOME_CONFLICT, msg);
    return -1;
}

/* ---- Epochs ---- */

static void beginEpoch(syncer *s, const replEpoch *ep) {
    snprintf(s->replid, sizeof(s->replid), "%s", ep->sync_only ? "?" : ep->replid);
    if (s->rr) redisReaderFree(s->rr);
    s->rr = redisReaderCreate();
    s->base = ep->offset;
    s->fed = 0;
    s->in_multi = 0;
    s->applied = ep->offset;
    s->prev_end = ep->offset;
    if (ep->kind == EPOCH_CONTINUE) {
        replState st;
        replicaGetState(s->rep, &st);
        s->db = s->applied_db = st.db;
    }
    writerResetDb(s->w);
    s->epoch_ready = ep->kind == EPOCH_CONTINUE && s->loaded_once;
}

/* The rest of this snapshot's count, so that read = written + the rest
 * (+ not attempted, after a stop): "" when every key read was written.
 * Returns how many keys the rest counts. */
static uint64_t snapshotRest(const syncer *s, char *buf, size_t cap) {
    const importStats *n = importGetStats(s->im), *b = &s->at_start;
    uint64_t expired = n->skipped_expired - b->skipped_expired, existing = n->skipped_conflict - b->skipped_conflict,
             empty = n->skipped_empty - b->skipped_empty, otherdb = n->skipped_db - b->skipped_db,
             failed = n->failed - b->failed, unrep = n->unrepresentable - b->unrepresentable,
             filtered = n->skipped_filtered - b->skipped_filtered;
    uint64_t sum = expired + existing + empty + otherdb + filtered + failed + unrep;
    buf[0] = '\0';
    if (sum == 0) return 0;
    snprintf(buf, cap, "; skipped: %llu expired, %llu existing, %llu empty, %llu other db, %llu filtered; %llu failed, "
             "%llu not representable", (unsigned long long)expired, (unsigned long long)existing,
             (unsigned long long)empty, (unsigned long long)otherdb, (unsigned long long)filtered,
             (unsigned long long)failed, (unsigned long long)unrep);
    return sum;
}

static int runEpoch(syncer *s, const replEpoch *ep) {
    if (ep->kind == EPOCH_FULL && s->loaded_once && mayFlush(s, ep) < 0) return -1;
    /* The source we now follow (a session that could not ask keeps the last known). */
    if (ep->src.run_id[0]) snprintf(s->src_run_id, sizeof(s->src_run_id), "%s", ep->src.run_id);
    s->epoch_seq = ep->seq;
    beginEpoch(s, ep);
    if (ep->kind == EPOCH_CONTINUE && ep->resumed)
        logInfo("resumed at offset %lld (partial resync from --state: no full sync)", (long long)ep->offset);
    if (ep->kind == EPOCH_FULL) {
        s->keys = 0;
        if (loadSnapshot(s, ep) < 0) return -1;
        /* Said before any status line can say "in sync". */
        char rest[256];
        snapshotRest(s, rest, sizeof(rest));
        snprintf(s->snap_summary, sizeof(s->snap_summary), "%llu keys read, %llu written%s",
                 (unsigned long long)s->keys, (unsigned long long)snapshotWritten(s), rest);
        if (!s->cfg->quiet) logInfo("snapshot applied (%s); streaming", s->snap_summary);
        s->epoch_ready = 1;
        statusLine(s, 1);
        if (s->cfg->once) return 1;
    }
    int rc = streamEpoch(s, ep->sp);
    return rc < 0 ? -1 : rc; /* 1: --once, caught up */
}

/* ---- --state (state.h) ---- */

/* The link's record as the apply side knows it: a position (the epoch's
 * replid, the acknowledged offset, its db) only once a snapshot is whole
 * on the target and none is being loaded, and once the epoch being
 * applied is ready (or, before the first epoch, the position resumed
 * from); a SYNC-style link has none. */
static void keepState(syncer *s) {
    if (!s->keeper) return;
    stateLink l = {.offset = -1, .db = 0};
    snprintf(l.source, sizeof(l.source), "%s", s->src_addr);
    snprintf(l.nodes, sizeof(l.nodes), "%s", s->src_nodes);
    snprintf(l.source_run_id, sizeof(l.source_run_id), "%s", s->src_run_id);
    int pos = s->loaded_once && !s->loading && !s->partial && (s->epoch_ready || s->epoch_seq == 0) &&
              strlen(s->replid) == STATE_ID_LEN && s->applied >= 0;
    if (pos) {
        snprintf(l.replid, sizeof(l.replid), "%s", s->replid);
        l.offset = s->applied;
        l.db = s->applied_db;
    }
    l.target_ours = s->loaded_once || s->target_was_empty || s->cfg->flush_target;
    stateKeeperSetLink(s->keeper, &l);
}

/* Written before going on (a snapshot load is about to change the
 * target: the old position must not survive a SIGKILL). -1 fatal. */
static int keepStateNow(syncer *s, const char *when) {
    char err[600], msg[800];
    if (!s->keeper) return 0;
    stateKeeperSetTarget(s->keeper, s->run_id); /* a restarted target is reloaded now */
    keepState(s);
    if (stateKeeperFlush(s->keeper, err, sizeof(err)) == 0) return 0;
    snprintf(msg, sizeof(msg), "--state %s: cannot record that %s; nothing more was written", err, when);
    fatal(s, OUTCOME_INPUT, msg);
    return -1;
}

/* The record l (NULL: none) as where this run starts: its position to
 * resume from (*have), or a full sync (a retried first one when the last
 * run stopped during a snapshot load). */
static void resumeFromState(syncer *s, const stateLink *l, replState *resume, int *have) {
    const char *path = s->cfg->state_path;
    if (l && stateHasPosition(l)) {
        snprintf(resume->replid, sizeof(resume->replid), "%s", l->replid);
        resume->offset = s->applied = l->offset;
        resume->db = s->applied_db = l->db;
        snprintf(s->replid, sizeof(s->replid), "%s", l->replid);
        snprintf(s->src_run_id, sizeof(s->src_run_id), "%s", l->source_run_id);
        s->loaded_once = 1; /* the target holds a whole snapshot and the stream up to the offset */
        *have = 1;
        if (!s->cfg->quiet)
            logInfo("--state %s: asking the source to continue after offset %lld%s", path, (long long)l->offset,
                    s->cfg->flush_target ? " (--flush-target does not apply to a resume)" : "");
    } else if (l && (!s->cfg->shard || l->updated_ms)) { /* a shard's: 0 when not from the file */
        /* The last run stopped during a snapshot load: a retried first
         * snapshot, emptying the target first when all it holds is ours. */
        s->snap_attempts = 1;
        s->target_was_empty = l->target_ours;
        logInfo("--state %s: the last run stopped before its snapshot was applied: a full sync", path);
    }
}

/* The position to resume from, if FILE has one for these endpoints.
 * -1 (fatal set) when FILE is corrupt or for other endpoints. */
static int openState(syncer *s, replState *resume, int *have) {
    const char *path = s->cfg->state_path;
    char err[700], why[500], msg[1024], tgt[STATE_ADDR_LEN];
    if (s->cfg->shard) return openShardState(s, resume, have);
    stateFile st;
    *have = 0;
    if ((s->state_lock = stateLock(path, err, sizeof(err))) < 0) {
        snprintf(msg, sizeof(msg), "--state %s: two syncs must not share one position; nothing was written", err);
        fatal(s, OUTCOME_USAGE, msg);
        return -1;
    }
    stateAddress(s->cfg->target, tgt, sizeof(tgt));
    stateAddress(s->cfg->source, s->src_addr, sizeof(s->src_addr));
    int got = stateLoad(path, &st, err, sizeof(err));
    if (got < 0) {
        snprintf(msg, sizeof(msg), "--state %s: refusing to trust it; nothing was written (remove it to start "
                 "over: a full sync, with --flush-target)", err);
        fatal(s, OUTCOME_INPUT, msg);
        return -1;
    }
    if (got && stateMatches(&st, tgt, s->run_id, s->src_addr, why, sizeof(why)) < 0) {
        snprintf(msg, sizeof(msg), "--state %s: refused: %s; nothing was written (give each source and target their "
                 "own state file; remove this one to start over with a full sync)", path, why);
        fatal(s, OUTCOME_USAGE, msg);
        return -1;
    }
    if (!got) memset(&st, 0, sizeof(st));
    snprintf(st.target, sizeof(st.target), "%s", tgt);
    snprintf(st.target_run_id, sizeof(st.target_run_id), "%.40s", s->run_id);
    resumeFromState(s, stateFind(&st, s->src_addr), resume, have);
    s->keeper = stateKeeperStart(path, &st, 1000, err, sizeof(err));
    if (s->keeper) return 0;
    snprintf(msg, sizeof(msg), "--state %s; nothing was written", err);
    fatal(s, OUTCOME_INPUT, msg);
    return -1;
}

/* A cluster shard: csource keeps one file for every shard (cstate.h) and
 * hands this one its record. */
static int openShardState(syncer *s, replState *resume, int *have) {
    stateLink rec;
    int ours = 0;
    s->keeper = csourceLinkState(s->cfg->shard, &rec, &ours);
    s->shared_keeper = 1;
    snprintf(s->src_addr, sizeof(s->src_addr), "%s", rec.source);
    snprintf(s->src_nodes, sizeof(s->src_nodes), "%s", rec.nodes);
    resumeFromState(s, &rec, resume, have);
    /* No position while the target holds what the last run wrote: the
     * first snapshot replaces the shard's slots (a retried one). */
    if (!*have && ours) s->snap_attempts = 1, s->target_was_empty = 1;
    return 0;
}

/* At exit: the last position, written whole. */
static void closeState(syncer *s) {
    char err[600];
    if (s->keeper && s->shared_keeper) { /* csource stops it once every shard is done */
        keepState(s);
        s->keeper = NULL;
    } else if (s->keeper) {
        keepState(s);
        if (stateKeeperStop(s->keeper, err, sizeof(err)) < 0) logError("--state %s: the last position was not saved", err);
        s->keeper = NULL;
    }
    stateUnlock(s->state_lock); /* after the last write */
    s->state_lock = -1;
}

/* ---- Cut-over (cutover.h) ---- */

#define CUTOVER_CAUGHT_UP_MS 200
#define CUTOVER_CAUGHT_UP_BYTES (1 << 20)

static int64_t pauseMs(const syncer *s) { return s->cfg->pause_ms > 0 ? s->cfg->pause_ms : CUTOVER_DEFAULT_PAUSE_MS; }

/* Lift the pause and end the run with one line: nothing was switched. */
static void cutoverFail(syncer *s, outcome rc, const char *what) {
    char uerr[400] = "", msg[1024], at[16], lifted[600];
    int unpaused = cutoverUnpause(&s->cut, s->cfg->source, &s->cfg->source_conn, uerr, sizeof(uerr)) == 0;
    cutoverClock(unpaused ? clockWallMs() : s->cut.until_wall_ms, at, sizeof(at));
    if (unpaused) snprintf(lifted, sizeof(lifted), "source writes unpaused at %s", at);
    else snprintf(lifted, sizeof(lifted), "the pause could not be lifted (%s): source writes resume at %s", uerr, at);
    snprintf(msg, sizeof(msg), "cut-over failed: %s; %s; nothing was switched: keep the clients on the source", what,
             lifted);
    cutoverClose(&s->cut);
    s->cut_phase = CUT_NONE;
    fatal(s, rc, msg);
}

/* --exactly-once's checkpoint key goes before the switch (the target's
 * data must be the source's alone). -1 (after cutoverFail) when the target
 * refuses or is lost. */
static int cutoverCleanTarget(syncer *s) {
    char what[1200];
    if (!s->cp) return 0;
    if (checkpointRemove(s->cp, s->w) == 0 && writerDrain(s->w) == 0) return 0;
    snprintf(what, sizeof(what), "the checkpoint key '%s' could not be removed from the target (%s)",
             checkpointKey(s->cp), s->fatal ? s->err : writerError(s->w));
    cutoverFail(s, OUTCOME_WRITE, what);
    return -1;
}

/* --cutover-verify: both sides compared key by key while the source is
 * paused (verify.c; its verdict line goes to stdout). */
static outcome cutoverVerify(syncer *s) {
    snapshotConfig vc = {.source = s->cfg->source, .target = s->cfg->target, .source_conn = s->cfg->source_conn,
                         .target_conn = s->cfg->target_conn, .mode = 2, .scan_count = 1000, .quiet = 1,
                         .filter = s->cfg->imp.filter}; /* with --match...: the subset copied */
    return verifyRun(&vc);
}

/* Everything up to the final offset is on the target. */
static void cutoverFinish(syncer *s) {
    char until[16], what[300];
    if (cutoverCleanTarget(s) < 0) return;
    if (s->cfg->cutover_verify) {
        outcome v = cutoverVerify(s);
        if (v != OUTCOME_OK) {
            snprintf(what, sizeof(what), "%s", v == OUTCOME_DIFFER ? "--cutover-verify: the datasets differ (named above)"
                                                                  : "--cutover-verify could not compare (said above)");
            cutoverFail(s, v, what);
            return;
        }
    }
    if (clockMonoMs() > s->cut.deadline_mono) {
        snprintf(what, sizeof(what), "the pause (--pause-timeout %.1f s) ends before the cut-over could be declared",
                 (double)pauseMs(s) / 1000.0);
        cutoverFail(s, OUTCOME_CUTOVER, what);
        return;
    }
    cutoverClock(s->cut.until_wall_ms, until, sizeof(until));
    logClearStatus();
    printf("cut-over: target identical to the source at offset %lld; source writes paused until %s\n",
           (long long)s->cut.final_offset, until);
    fflush(stdout);
    cutoverClose(&s->cut); /* the pause stays until it ends: clients move meanwhile */
    s->finished = 1;
}

/* Paused: done once the target acknowledged everything up to the final
 * offset; failed when the deadline comes first. */
static void cutoverCatchUp(syncer *s) {
    char what[300];
    /* A full resync during the pause starts at an offset past the final
     * one: done only once its snapshot is applied too. */
    if (s->applied >= s->cut.final_offset && s->epoch_ready && !s->loading && s->w && writerInFlight(s->w) == 0 &&
        !s->in_multi) {
        cutoverFinish(s);
    } else if (clockMonoMs() > s->cut.deadline_mono) {
        snprintf(what, sizeof(what), "the target reached offset %lld of %lld before the pause (--pause-timeout %.1f s) "
                 "ran out", (long long)s->applied, (long long)s->cut.final_offset, (double)pauseMs(s) / 1000.0);
        cutoverFail(s, OUTCOME_CUTOVER, what);
    }
}

/* Ready to pause the source: the snapshot applied and the link streaming;
 * --cutover also waits for the target to have caught up: in sync, or under
 * a load that always keeps some writes in flight, nothing received older
 * than CUTOVER_CAUGHT_UP_MS and little left to apply. */
static int cutoverReady(syncer *s, replStatus *st) {
    int caught_up = inSync(s, st) || (st->silent_ms <= 2 * st->ping_period_ms && st->lag_ms <= CUTOVER_CAUGHT_UP_MS &&
                                      st->received - st->applied <= CUTOVER_CAUGHT_UP_BYTES &&
                                      targetSilentMs(s) < WATCHDOG_STALL_MS);
    return s->loaded_once && s->epoch_ready && !s->loading && st->pending_epochs == 0 && st->phase == REPL_STREAMING &&
           (cutover_requested || caught_up);
}

/* Called at the apply side's status points: SIGUSR1 starts a cut-over
 * once the snapshot is applied; --cutover once the target is in sync. */
static void cutoverStep(syncer *s) {
    char err[700], msg[900], until[16];
    if (s->fatal || s->finished) return;
    if (s->cut_phase == CUT_PAUSED) {
        cutoverCatchUp(s);
        return;
    }
    if (!cutover_requested && !s->cfg->cutover) return;
    replStatus st;
    replicaGetStatus(s->rep, &st);
    if (s->cfg->shard) { /* a cluster's shard: csource pauses every master (ccutover.h) */
        s->cut_tried = 1;
        int settled = s->epoch_ready && !s->loading && s->w && writerInFlight(s->w) == 0 && !s->in_multi;
        if (csourceLinkCutover(s->cfg->shard, cutoverReady(s, &st), settled, s->applied) == CCUT_DONE)
            s->finished = 1;
        return;
    }
    if (st.sync_only) {
        s->cut_tried = 1;
        fatal(s, OUTCOME_CUTOVER, "cut-over refused: this source speaks SYNC only, which gives no replication offset "
              "to wait for; nothing was paused");
        return;
    }
    if (!cutoverReady(s, &st)) {
        if (cutover_requested && s->cut_phase == CUT_NONE && !s->cfg->quiet)
            logInfo("cut-over requested: waiting for the snapshot to be applied and the link to stream");
        s->cut_phase = CUT_WAITING;
        return;
    }
    s->cut_tried = 1;
    if (cutoverPause(s->cfg->source, &s->cfg->source_conn, pauseMs(s), &s->cut, err, sizeof(err)) < 0) {
        snprintf(msg, sizeof(msg), "cut-over refused: %s; nothing was paused or switched", err);
        fatal(s, OUTCOME_CUTOVER, msg);
        return;
    }
    s->cut_phase = CUT_PAUSED;
    cutoverClock(s->cut.until_wall_ms, until, sizeof(until));
    logInfo("cut-over: source writes paused until %s (--pause-timeout %.1f s); applying the stream up to offset %lld",
            until, (double)pauseMs(s) / 1000.0, (long long)s->cut.final_offset);
    cutoverCatchUp(s);
}

/* A run that ends while the source is paused (a stop, a lost link) lifts
 * the pause: a cut-over either completes or leaves the source writable.
 * 1 when one was abandoned (the run did not do what was asked). */
static int cutoverAbandon(syncer *s) {
    char err[400];
    if (!s->cut.paused || s->finished) return 0;
    if (cutoverUnpause(&s->cut, s->cfg->source, &s->cfg->source_conn, err, sizeof(err)) == 0)
        logError("cut-over abandoned (%s): source writes unpaused; nothing was switched",
                 stop_requested ? stopSignalName() : "the sync stopped on the error above");
    else
        logError("cut-over abandoned: %s; the source's writes resume when the pause ends", err);
    cutoverClose(&s->cut);
    return 1;
}

/* A cut-over asked for (SIGUSR1, --cutover) that never began: the run
 * ended first (--once, a stop, an error). Said, so that a script waiting
 * for the switch does not take the exit for one. 1 when so. */
static int cutoverNotStarted(syncer *s) {
    if (s->cut_tried || !(cutover_requested || s->cfg->cutover)) return 0;
    logError("cut-over requested but not begun: the sync ended first; nothing was paused or switched");
    return 1;
}

/* The outcome; *refused when the source refused PSYNC and SYNC. */
static outcome loop(syncer *s, int *refused) {
    while (!stop_requested && !s->fatal && !s->finished) {
        replEpoch ep;
        int got = replicaNextEpoch(s->rep, &ep, 200);
        if (got < 0) {
            if (replicaRefused(s->rep)) {
                *refused = 1;
                return OUTCOME_CONNECT;
            }
            if (!stop_requested) fatal(s, OUTCOME_CONNECT, replicaError(s->rep));
            break;
        }
        if (got == 0) {
            cutoverStep(s);
            statusLine(s, 0);
            continue;
        }
        s->sp = ep.sp;
        int rc = runEpoch(s, &ep);
        s->sp = NULL;
        spoolFree(ep.sp);
        if (rc == 1) break; /* --once */
        if (s->target_lost && !stop_requested && !s->fatal) recoverTarget(s);
    }
    return s->fatal ? s->rc : OUTCOME_OK;
}

/* --cutover: a source without CLIENT PAUSE WRITE is refused before the
 * full sync, not after it (cutover.h). -1 with s->err set. */
static int cutoverCheckSource(syncer *s) {
    char err[600], msg[800];
    rsServerInfo si;
    rsConn *c = connOpen(s->cfg->source, &s->cfg->source_conn, err, sizeof(err));
    if (!c || connServerInfo(c, &si) < 0) {
        if (c) snprintf(err, sizeof(err), "cannot read INFO server: %s", connError(c));
        snprintf(msg, sizeof(msg), "source: %s", err);
        connClose(c);
        fatal(s, OUTCOME_CONNECT, msg);
        return -1;
    }
    connClose(c);
    if (cutoverSupported(&si)) return 0;
    snprintf(msg, sizeof(msg), "--cutover: the source (%s %s) has no CLIENT PAUSE WRITE (Redis 6.2+, Valkey), so its "
             "final offset cannot be read while its writes are paused; pause the writers yourself, wait for 'in sync' "
             "and stop rdbsync", si.is_valkey ? "Valkey" : "Redis", si.is_valkey ? si.valkey_version : si.redis_version);
    fatal(s, OUTCOME_USAGE, msg);
    return -1;
}

/* Before the replica link asks for anything: does the target have every
 * db the source uses? A side connection reads INFO keyspace; when it
 * cannot, the writer's guard on the first SELECT of each db remains.
 * Then the temporary keys of an interrupted run go. */
static int checkDbs(syncer *s) { /* 0, or -1 with s->err and s->rc set */
    char err[1024];
    rsConn *src = connOpen(s->cfg->source, &s->cfg->source_conn, err, sizeof(err));
    int rc = !src ? 0
             : s->rt ? ctargetCheckDbsFrom(src, connName(s->tc), &s->cfg->imp, err, sizeof(err))
                     : preflightDbsFrom(src, s->tc, &s->cfg->imp, err, sizeof(err));
    connClose(src);
    /* --flush-target empties the target later, at the first snapshot. */
    if (rc == 0 && (s->rt ? ctargetPrepare(s->rt, &s->tinfo, 0, err, sizeof(err))
                          : preflightPrepare(s->tc, &s->tinfo, 0, err, sizeof(err))) < 0)
        rc = -1;
    if (rc == 0) return 0;
    fatal(s, rc == -1 ? OUTCOME_WRITE : OUTCOME_CONNECT, err);
    return -1;
}

/* --target-load replica: refused up front when the target cannot load the
 * first snapshot as our replica (tload.h). */
static int checkTargetLoad(syncer *s) {
    char err[900];
    tloadFacts f = {.tls = s->cfg->target->tls || s->cfg->target_conn.tls.enabled,
                    .unix_socket = s->cfg->target->is_unix, .cluster_target = s->rt != NULL,
                    .target_empty = s->target_was_empty, .flush = s->cfg->flush_target, .imp = &s->cfg->imp};
    outcome rc = tloadCheck(s->tc, &s->tinfo, &f, &s->tl_dbs, err, sizeof(err));
    if (rc == OUTCOME_OK) return 0;
    fatal(s, rc, err);
    return -1;
}

/* A cluster's shard without a checkpoint: does the hash hold other
 * shards' (the target is ours)? */
static int shardCheckpointOthers(syncer *s) {
    const char *key = checkpointKey(s->cp);
    const char *argv[2] = {"EXISTS", key};
    size_t lens[2] = {6, strlen(key)};
    redisReply *r = connCommand(s->tc, 2, argv, lens); /* db 0: checkpointReadOwn left it there */
    int yes = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    if (r) freeReplyObject(r);
    return yes;
}

/* --exactly-once: a standalone target, and where its checkpoint says a
 * previous run stopped: then *have = 1 and *resume is that position (the
 * target holds a whole snapshot and the stream up to there; it wins over
 * --state's, which may be behind or ahead of what the target committed).
 * -1 when refused (s->err, s->rc). */
static int startCheckpoint(syncer *s, replState *resume, int *have) {
    char err[700];
    checkpointPos pos;
    s->cp = checkpointNew(s->cfg->checkpoint_key);
    if (!s->cp) {
        fatal(s, OUTCOME_INTERNAL, "out of memory");
        return -1;
    }
    if (checkpointCheckTarget(s->tc, err, sizeof(err)) < 0) {
        fatal(s, OUTCOME_USAGE, err);
        return -1;
    }
    if (s->cfg->shard) { /* a cluster's shard: its own fields of the one hash */
        char prefix[STATE_ADDR_LEN + 1];
        csourceLinkKey(s->cfg->shard, prefix, sizeof(prefix) - 1);
        strcat(prefix, ":");
        checkpointSetShard(s->cp, prefix);
    }
    int got = checkpointReadOwn(s->tc, s->cp, &pos, err, sizeof(err));
    writerResetDb(s->w);
    if (got < 0) {
        fatal(s, got == -2 ? OUTCOME_CONNECT : OUTCOME_CONFLICT, err);
        return -1;
    }
    if (got == 0 && s->cfg->shard && shardCheckpointOthers(s)) {
        /* Other shards checkpointed here: the target holds what the last
         * run wrote, so this shard's first snapshot replaces its slots. */
        logInfo("--exactly-once: the target holds no checkpoint of this shard (its slots changed since?): a full "
                "sync of its slots alone");
        s->snap_attempts = 1, s->target_was_empty = 1;
        return 0;
    }
    if (got == 0) {
        if (*have) logInfo("--exactly-once: the target holds no checkpoint yet: --state's position is used (this "
                           "resume is at least once)");
        return 0;
    }
    snprintf(resume->replid, sizeof(resume->replid), "%s", pos.replid);
    resume->offset = pos.offset;
    resume->db = pos.db;
    /* What the target holds is ours: a full sync that follows empties it first. */
    s->loaded_once = 1;
    s->applied = pos.offset;
    s->applied_db = pos.db;
    snprintf(s->replid, sizeof(s->replid), "%s", pos.replid);
    *have = 1;
    logInfo("--exactly-once: the target's checkpoint says source %s offset %lld: asking the source to continue "
            "right after it", pos.replid, (long long)pos.offset);
    return 0;
}

outcome syncRun(const syncConfig *cfg, int *refused) {
    syncer s = {.cfg = cfg, .last_count_ms = clockMonoMs(), .last_phase = -1, .state_lock = -1};
    char err[512];
    if (openTarget(&s, err, sizeof(err)) < 0 || targetRunId(s.tc, s.run_id, sizeof(s.run_id)) < 0) {
        logError("target: %s", err);
        stageFree(s.stage);
        closeTarget(&s);
        return s.open_refused ? s.open_refused : OUTCOME_CONNECT;
    }
    if (checkDbs(&s) < 0) {
        logError("%s", s.err);
        stageFree(s.stage);
        closeTarget(&s);
        return s.rc;
    }
    int tdbs[4], resuming = 0;
    s.target_was_empty = cfg->shard ? csourceLinkTargetWasEmpty(cfg->shard)
                        : s.rt    ? ctargetEmpty(s.rt)
                                  : connKeyspaceDbs(s.tc, tdbs, 4) == 0; /* INFO keyspace lists no db */
    replState resume = {.offset = -1};
    if ((cfg->cutover && cutoverCheckSource(&s) < 0) || (cfg->state_path && openState(&s, &resume, &resuming) < 0) ||
        (cfg->exactly_once && startCheckpoint(&s, &resume, &resuming) < 0) ||
        /* A run that resumes holds its target already: a full sync then is a later one (RESTORE). */
        (cfg->target_load && !resuming && !s.loaded_once && checkTargetLoad(&s) < 0)) {
        logError("%s", s.err);
        stageFree(s.stage);
        closeState(&s);
        closeTarget(&s);
        checkpointFree(s.cp);
        return s.rc;
    }
    s.im = importNew(&s.tinfo, &cfg->imp);
    replicaOptions ro = {.url = cfg->source, .conn = cfg->source_conn, .spool_mem = cfg->spool_mem,
                         .spool_dir = cfg->spool_dir, .quiet = cfg->quiet, .psync_cmd = cfg->psync_cmd,
                         .source_timeout_ms = cfg->source_timeout_s * 1000};
    if (cfg->shard) csourceLinkReplicaOptions(cfg->shard, &ro);
    s.rep = s.im ? replicaNew(&ro) : NULL;
    /* A checkpoint without a replication id (a SYNC-only source) cannot be continued. */
    int can_resume = resuming && strcmp(resume.replid, "?") != 0;
    if (!s.rep || replicaStart(s.rep, can_resume ? &resume : NULL) < 0) {
        logError("cannot start the replica link");
        importFree(s.im);
        stageFree(s.stage);
        closeState(&s);
        closeTarget(&s);
        checkpointFree(s.cp);
        return OUTCOME_INTERNAL;
    }
    importSetWriter(s.im, s.w);
    s.pg = progressNew(cfg->quiet, "sync", 0); /* NULL (out of memory): no status lines */
    progressSetInterval(s.pg, cfg->status_interval_ms);
    if (!cfg->shard && (!cfg->quiet || cfg->metrics)) watchdogStart(&s); /* -q: no lines, metrics still refreshed */
    *refused = 0;
    outcome rc = loop(&s, refused);
    watchdogStop(&s);
    if (*refused) {
        progressFree(s.pg);
        if (cfg->scan_fallback)
            logInfo("%s: switching to scan mode (SCAN + DUMP/RESTORE)", replicaError(s.rep));
        else
            logError("%s (no scan fallback with --mode replica, --state, --cutover or --exactly-once)", replicaError(s.rep));
        replicaFree(s.rep);
        importFree(s.im);
        stageFree(s.stage);
        closeState(&s);
        closeTarget(&s);
        checkpointFree(s.cp);
        return rc;
    }
    /* --exactly-once: what was read and parsed is committed with its checkpoint. */
    if (s.cp && s.w && !s.fatal && !s.finished && !s.target_lost && s.loaded_once && !s.partial) commitIdle(&s);
    if (s.w && !s.fatal && writerDrain(s.w) == 0 && s.partial) importCleanup(s.im, s.tc);
    int abandoned = cutoverAbandon(&s) || cutoverNotStarted(&s);
    /* A refusal stopped the writer: nothing more is sent; what was already
     * on the wire ran on the target, so its replies are read and its
     * offsets count (a restart from there does not run it twice). */
    uint64_t acked_at_stop = s.acked;
    int settled = s.fatal && s.w && writerStopped(s.w) && writerSettle(s.w) == 0;
    char after[160] = "";
    if (settled && (s.acked > acked_at_stop || writerDropped(s.w)))
        snprintf(after, sizeof(after), "; after it, %llu commands already sent ran on the target, %llu were never sent",
                 (unsigned long long)(s.acked - acked_at_stop), (unsigned long long)writerDropped(s.w));
    statusLine(&s, 1);
    if (cfg->metrics) {
        replStatus st;
        replicaGetStatus(s.rep, &st);
        publishMetrics(&s, &st, st.phase, 1);
    }
    progressClear(s.pg);
    /* An error is one line; the offset goes with it once there is one. */
    if (!s.fatal && (s.partial || !s.loaded_once)) {
        /* Stopped before a snapshot was whole: not a state to switch to. */
        if (s.partial) {
            char rest[256];
            uint64_t accounted = snapshotRest(&s, rest, sizeof(rest)) + snapshotWritten(&s);
            logError("stopped by %s during the snapshot load: the target is partial (%llu keys written of %llu "
                     "read so far%s; %llu not attempted); run again with --flush-target to start over",
                     stopSignalName(), (unsigned long long)snapshotWritten(&s), (unsigned long long)s.keys, rest,
                     (unsigned long long)(s.keys > accounted ? s.keys - accounted : 0));
        }
        else
            logError("stopped by %s before the snapshot arrived: nothing was written to the "
                    "target", stopSignalName());
        rc = OUTCOME_INTERRUPTED;
    } else if (s.fatal && !s.loaded_once)
        logError("%s", s.err);
    else if (s.fatal)
        logError("%s (stopped at source offset %lld%s)", s.err, (long long)s.applied, after);
    else {
        char staged[400];
        stageSummary(s.stage, staged, sizeof(staged));
        logInfo("stopped at source offset %lld (%llu commands applied, %llu refused%s); the last snapshot: %s",
                (long long)s.applied, (unsigned long long)(s.acked - s.refused), (unsigned long long)s.refused,
                staged, s.snap_summary[0] ? s.snap_summary : "none in this run (it continued where the target stood)");
    }
    if (s.cs) {
        char xs[256];
        cstreamSummary(s.cs, xs, sizeof(xs));
        logInfo("cluster stream: %s", xs);
    }
    progressFree(s.pg);
    if (s.rt) ctargetSummary(s.rt);
    /* --on-error skip went on past refusals: the target lacks those writes. */
    const importStats *ist = importGetStats(s.im);
    if (rc == OUTCOME_OK && (s.refused || ist->failed || ist->unrepresentable || stageSkipped(s.stage)))
        rc = OUTCOME_WRITE;
    if (rc == OUTCOME_OK && abandoned) rc = OUTCOME_CUTOVER;
    replicaFree(s.rep);
    closeState(&s); /* after the link: nothing moves the position any more */
    if (s.rr) redisReaderFree(s.rr);
    importFree(s.im);
    stageFree(s.stage);
    closeTarget(&s);
    checkpointFree(s.cp);
    return rc;
}

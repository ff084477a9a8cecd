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

#include "clock.h"
#include "csource.h"
#include "grace.h"
#include "log.h"
#include "outcome.h"
#include "preflight.h"
#include "progress.h"
#include "rdb/tee.h"
#include "replica.h"
#include "resync.h"
#include "stop.h"
#include "writer.h"


static volatile sig_atomic_t stop_requested;

void syncRequestStop(void) { stop_requested = 1; }

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
    importer *im;
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
    char err[1024];
} syncer;

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
        snprintf(line, sizeof(line), "loading snapshot: %.1f MB%s received, %llu keys applied",
                 st.snapshot_bytes / 1048576.0, total, (unsigned long long)snapshotWritten(s));
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

static int onStreamReply(syncer *s, const writerTag *t, const redisReply *r) {
    const redisReply *e = firstError(r);
    if (e) {
        char kr[300], msg[700], what[64];
        rdbKeyRepr(t->key ? t->key : "", t->key ? t->keylen : 0, kr, sizeof(kr));
        snprintf(what, sizeof(what), "the target refused %s", t->cmd);
        snprintf(msg, sizeof(msg), "%s (db %llu, key '%s', source offset %llu): %s", what,
                 (unsigned long long)t->db, kr, (unsigned long long)t->src_offset, e->str);
        s->refused++;
        if (s->cfg->imp.on_error == ONERROR_STOP) {
            fatal(s, OUTCOME_WRITE, msg);
            return -1;
        }
        logRefused(what, e->str, "%s", msg);
    }
    s->acked++;
    if ((int64_t)t->src_offset > s->applied) {
        s->applied = (int64_t)t->src_offset;
        replicaSetApplied(s->rep, s->applied, (int)t->db);
    }
    return 0;
}

static int onReply(void *ctx, const writerTag *t, const redisReply *r) {
    syncer *s = ctx;
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
    writerOptions wo = {.on_reply = onReply, .ctx = s};
    s->w = writerNew(s->tc, &wo);
    if (!s->w) return -1;
    if (s->im) importSetWriter(s->im, s->w);
    return 0;
}

static void closeTarget(syncer *s) {
    writerFree(s->w);
    connClose(s->tc);
    s->w = NULL;
    s->tc = NULL;
}

/* Reconnect with backoff. A target that restarted (new run_id) may have
 * lost data: only a full resync makes it identical again. */
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
    int full = !s->loaded_once || strcmp(old, s->run_id) != 0;
    logInfo("target back%s; %s", full ? " after a restart" : "",
            full ? "full resync from the source" : "resuming from the applied offset");
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
        graceScratch gs;
        for (int i = 0; i < argc; i++) av[i] = c->element[i]->str, lv[i] = (size_t)c->element[i]->len;
        /* A cluster shard: keys moved by resharding, functions (csource.h). */
        int wanted = !s->cfg->shard || csourceLinkFilter(s->cfg->shard, &argc, av, lv, end);
        /* An expire time the target would reach before the source's DEL
         * (or a renewal) arrives is written as the grace instead. */
        if (wanted) graceRewrite(&argc, av, lv, graceNowMs(), s->cfg->imp.expire_grace_ms, &gs);
        int64_t off = s->in_multi ? s->multi_start : end;
        writerTag t = {av[0], (uint64_t)s->db, argc > 1 ? av[1] : NULL, argc > 1 ? lv[1] : 0, (uint64_t)off,
                       WRITER_K_STREAM};
        int tdb = s->db < IMPORT_MAX_DBS && s->cfg->imp.db_map[s->db] >= 0 ? s->cfg->imp.db_map[s->db] : s->db;
        rc = wanted ? writerSelect(s->w, (uint64_t)tdb) : 0;
        if (wanted && rc == 0) rc = writerCommand(s->w, argc, av, lv, &t);
        if (wanted && rc == 0) s->forwarded++;
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
    if (isCmd(c, "MULTI")) s->in_multi = 1, s->multi_start = s->prev_end;
    int rc = dbWanted(s) || isCmd(c, "MULTI") || isCmd(c, "EXEC") ? forward(s, c, end) : 0;
    if (isCmd(c, "EXEC")) s->in_multi = 0;
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

/* Follow the command stream of one epoch until it ends or we stop. */
static int streamEpoch(syncer *s, spool *sp) {
    char buf[64 * 1024], err[256];
    for (;;) {
        if (stop_requested || s->fatal) return -1;
        ssize_t n = spoolReadTimed(sp, buf, sizeof(buf), 100, err, sizeof(err));
        if (n == 0) return 0; /* epoch over: a new one follows */
        if (n == -1) {
            fatal(s, OUTCOME_INTERNAL, err);
            return -1;
        }
        if (n > 0 && feed(s, buf, (size_t)n) < 0) break;
        if (writerPoll(s->w) < 0) break;
        /* Nothing in flight: everything parsed so far is applied. */
        if (writerInFlight(s->w) == 0 && !s->in_multi) {
            int64_t parsed = s->base + (int64_t)(s->fed - (s->rr->len - s->rr->pos));
            if (parsed > s->applied && s->rr->len == s->rr->pos) {
                s->applied = parsed;
                replicaSetApplied(s->rep, parsed, s->db);
            }
        }
        statusLine(s, 0);
    }
    if (!s->fatal) s->target_lost = 1;
    return -1;
}

/* ---- Snapshot ---- */

typedef struct snapCtx {
    syncer *s;
    int stream_db;
} snapCtx;

static int onAux(void *ctx, const char *k, size_t kl, const char *v, size_t vl) {
    snapCtx *sc = ctx;
    if (kl == 14 && memcmp(k, "repl-stream-db", 14) == 0) sc->stream_db = atoi(v);
    return 0;
}

static int onKeyEnd(void *ctx, const rdbKeyInfo *k) {
    snapCtx *sc = ctx;
    sc->s->keys++;
    if ((sc->s->keys & 1023) == 0) statusLine(sc->s, 0);
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
        statusLine(ss->s, 0);
    }
}

/* Decode the snapshot from the spool into the importer, then hand what
 * the reader read past the RDB to the command parser. */
static int loadSnapshot(syncer *s, const replEpoch *ep) {
    snapSource src = {s, ep->sp};
    rdbReader *r = rdbReaderNew(snapRead, &src);
    snapCtx sc = {s, 0};
    rdbHandlers hi, hs = {.ctx = &sc, .aux = onAux, .key_end = onKeyEnd}, h;
    importHandlers(s->im, &hi);
    if (s->cfg->shard) csourceLinkSnapshotHandlers(s->cfg->shard, &hi);
    rdbTee *tee = rdbTeeNew(&hi, &hs);
    rdbTeeHandlers(tee, &h);
    rdbDecoder *d = rdbDecoderNew(r, &h, NULL);
    int rc = -1;
    s->loading = 1;
    s->partial = 1;
    s->at_start = *importGetStats(s->im);
    /* A retried first snapshot overwrites what the cut one wrote. */
    int retry = s->snap_attempts++ && !s->loaded_once;
    if (retry) importSetConflict(s->im, CONFLICT_REPLACE);
    /* --flush-target: before every attempt at the first snapshot (a cut
     * one leaves keys the next may no longer have: deleted on the source
     * meanwhile, REPLACE would never remove them). Without it, a target
     * that was empty when the sync began holds only what the cut attempt
     * wrote, so it is emptied the same way. */
    const char *why = s->loaded_once ? "full resync: emptying the target before loading the new snapshot"
                      : s->cfg->flush_target ? "--flush-target: emptying the target before the first key"
                      : retry && s->target_was_empty
                          ? "retrying the first snapshot: emptying what the cut one wrote (the target was empty "
                            "when the sync began)"
                          : NULL;
    if (why && flushTarget(s, !s->loaded_once, why) < 0) {
        s->target_lost = !writerStopped(s->w);
    } else if (rdbDecode(d) < 0) {
        if (stop_requested) {
        } else if (rdbDecoderErrorCode(d) == RDB_ERR_TRUNCATED) {
            logWarn("the snapshot was cut short; waiting for the next full sync");
            /* Its writes still in flight are counted with it, not with the next. */
            if (writerDrain(s->w) < 0 && !s->fatal) s->target_lost = 1;
        } else if (rdbDecoderErrorCode(d) == RDB_ERR_HANDLER) {
            if (!s->fatal) s->target_lost = 1;
        } else {
            char msg[800];
            snprintf(msg, sizeof(msg), "source snapshot: %s", rdbDecoderError(d));
            fatal(s, rdbDecoderErrorCode(d) == RDB_ERR_CHECKSUM ? OUTCOME_CRC : OUTCOME_DECODE, msg);
        }
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
        s->db = sc.stream_db;
        s->loaded_once = 1; /* every key is on the target: whatever follows is the stream */
        s->partial = 0;
        rc = feed(s, rest, n);
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
        s->db = st.db;
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
             failed = n->failed - b->failed, unrep = n->unrepresentable - b->unrepresentable;
    uint64_t sum = expired + existing + empty + otherdb + failed + unrep;
    buf[0] = '\0';
    if (sum == 0) return 0;
    snprintf(buf, cap, "; skipped: %llu expired, %llu existing, %llu empty, %llu other db; %llu failed, %llu not "
             "representable", (unsigned long long)expired, (unsigned long long)existing, (unsigned long long)empty,
             (unsigned long long)otherdb, (unsigned long long)failed, (unsigned long long)unrep);
    return sum;
}

static int runEpoch(syncer *s, const replEpoch *ep) {
    if (ep->kind == EPOCH_FULL && s->loaded_once && mayFlush(s, ep) < 0) return -1;
    /* The source we now follow (a session that could not ask keeps the last known). */
    if (ep->src.run_id[0]) snprintf(s->src_run_id, sizeof(s->src_run_id), "%s", ep->src.run_id);
    s->epoch_seq = ep->seq;
    beginEpoch(s, ep);
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
    return streamEpoch(s, ep->sp) < 0 ? -1 : 0;
}

/* The outcome; *refused when the source refused PSYNC and SYNC. */
static outcome loop(syncer *s, int *refused) {
    while (!stop_requested && !s->fatal) {
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

/* Before the replica link asks for anything: does the target have every
 * db the source uses? A side connection reads INFO keyspace; when it
 * cannot, the writer's guard on the first SELECT of each db remains.
 * Then the temporary keys of an interrupted run go. */
static int checkDbs(syncer *s) { /* 0, or -1 with s->err and s->rc set */
    char err[1024];
    rsConn *src = connOpen(s->cfg->source, &s->cfg->source_conn, err, sizeof(err));
    int rc = src ? preflightDbsFrom(src, s->tc, &s->cfg->imp, err, sizeof(err)) : 0;
    connClose(src);
    /* --flush-target empties the target later, at the first snapshot. */
    if (rc == 0 && preflightPrepare(s->tc, &s->tinfo, 0, err, sizeof(err)) < 0) rc = -1;
    if (rc == 0) return 0;
    fatal(s, rc == -1 ? OUTCOME_WRITE : OUTCOME_CONNECT, err);
    return -1;
}

outcome syncRun(const syncConfig *cfg, int *refused) {
    syncer s = {.cfg = cfg, .last_count_ms = clockMonoMs(), .last_phase = -1};
    char err[512];
    if (openTarget(&s, err, sizeof(err)) < 0 || targetRunId(s.tc, s.run_id, sizeof(s.run_id)) < 0) {
        logError("target: %s", err);
        closeTarget(&s);
        return OUTCOME_CONNECT;
    }
    if (checkDbs(&s) < 0) {
        logError("%s", s.err);
        closeTarget(&s);
        return s.rc;
    }
    int tdbs[4];
    s.target_was_empty = cfg->shard ? csourceLinkTargetWasEmpty(cfg->shard)
                                    : connKeyspaceDbs(s.tc, tdbs, 4) == 0; /* INFO keyspace lists no db */
    s.im = importNew(&s.tinfo, &cfg->imp);
    replicaOptions ro = {.url = cfg->source, .conn = cfg->source_conn, .spool_mem = cfg->spool_mem,
                         .spool_dir = cfg->spool_dir, .quiet = cfg->quiet, .psync_cmd = cfg->psync_cmd,
                         .source_timeout_ms = cfg->source_timeout_s * 1000};
    if (cfg->shard) csourceLinkReplicaOptions(cfg->shard, &ro);
    s.rep = s.im ? replicaNew(&ro) : NULL;
    if (!s.rep || replicaStart(s.rep, NULL) < 0) {
        logError("cannot start the replica link");
        importFree(s.im);
        closeTarget(&s);
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
            logError("%s (--mode replica: no scan fallback)", replicaError(s.rep));
        replicaFree(s.rep);
        importFree(s.im);
        closeTarget(&s);
        return rc;
    }
    if (s.w && !s.fatal && writerDrain(s.w) == 0 && s.partial) importCleanup(s.im, s.tc);
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
    else
        logInfo("stopped at source offset %lld (%llu commands applied, %llu refused); the last snapshot: %s",
                (long long)s.applied, (unsigned long long)(s.acked - s.refused), (unsigned long long)s.refused,
                s.snap_summary);
    progressFree(s.pg);
    /* --on-error skip went on past refusals: the target lacks those writes. */
    const importStats *ist = importGetStats(s.im);
    if (rc == OUTCOME_OK && (s.refused || ist->failed || ist->unrepresentable)) rc = OUTCOME_WRITE;
    replicaFree(s.rep);
    if (s.rr) redisReaderFree(s.rr);
    importFree(s.im);
    closeTarget(&s);
    return rc;
}

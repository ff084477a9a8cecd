/* replica.c -- the replica link thread (see replica.h).
 *
 * session() is one connection: handshake, PSYNC, the snapshot if any, then
 * the stream until the link drops or the apply side asks to stop or
 * rewind. The thread runs sessions with a growing backoff between them.
 * The first connection failing is fatal (a wrong URL or password should
 * fail at once); later ones are retried, since the source may be
 * restarting.
 */
#include "replica.h"

#include "clock.h"
#include "log.h"
#include "psync.h"
#include "resume.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LAG_RING 1024
/* A SYNC-style link has no source offsets: ours then count the stream's
 * bytes since the snapshot, which the status can show truthfully. */
#define SYNC_BASE_OFFSET 0

/* Outcomes of a session step; 0 means "done, go on". */
enum { S_FATAL = -1, S_STOP = 1, S_RETRY = 2 };

/* What the apply side asked the next session to start from. */
typedef enum {
    REWIND_NONE = 0,  /* a dropped link: continue from what was received */
    REWIND_APPLIED,   /* PSYNC from the applied offset + 1 (a lost target) */
    REWIND_FULL,      /* a full sync (a target that restarted) */
    REWIND_RESUME,    /* PSYNC from a given position (replicaSetResume) */
} rewindKind;

typedef struct lagMark {
    int64_t off, ms;
} lagMark;

struct replica {
    replicaOptions o;
    rsUrl url;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    replEpoch *pending;      /* epochs published, not yet taken (grows) */
    int npending, cap_pending;
    replState state;         /* replid of the link, applied offset, db */
    int64_t received;
    rewindKind rewind;
    int need_full;           /* the last snapshot did not arrive whole (or a
                                full sync was asked for): never continue */
    int ack_now, stop, failed, ever_connected, refused;
    replPhase phase;
    uint64_t snap_bytes;
    int64_t snap_size;
    uint64_t full_syncs, partial_syncs, reconnects;
    int64_t last_rx;         /* when the source last sent a byte (ms) */
    int ping_period_s;       /* its repl-ping-replica-period */
    int timeout_warned;
    lagMark lag[LAG_RING];
    int lag_head, lag_n;
    int wake[2];
    spool *cur;              /* the epoch being written (thread side) */
    int sync_only;
    resyncFacts facts;       /* this session's source (thread side) */
    uint64_t seq;            /* of the current epoch (thread side) */
    char cont_run_id[RESYNC_RUN_ID_LEN + 1]; /* the last +CONTINUE into r->cur's spool */
    uint64_t cont_seq;
    int resume_pending;      /* replicaSetResume's position not yet answered */
    resumeFacts rfacts;      /* INFO replication before a resuming PSYNC (thread side) */
    int next_resumed;        /* what the next epoch says of a resume (thread side) */
    char next_refused[300];
    char err[600];
};

static void say(replica *r, const char *fmt, const char *a) {
    if (r->o.quiet) return;
    char msg[600];
    snprintf(msg, sizeof(msg), fmt, a);
    logInfo("source %s: %s", r->url.host ? r->url.host : r->url.path, msg);
}

/* ---- Shared state helpers (each takes the lock itself) ---- */

static void setPhase(replica *r, replPhase p) {
    pthread_mutex_lock(&r->mu);
    r->phase = p;
    pthread_mutex_unlock(&r->mu);
}

/* Hand an epoch to the apply side. A full epoch supersedes those still
 * waiting (its snapshot replaces whatever they would have applied), so
 * they are released, and said so; any other epoch is queued, growing the
 * queue: an epoch is never lost for want of room. -1: out of memory. */
static int publish(replica *r, const replEpoch *ep) {
    int superseded = 0;
    pthread_mutex_lock(&r->mu);
    if (ep->kind == EPOCH_FULL) {
        for (int i = 0; i < r->npending; i++) spoolFree(r->pending[i].sp);
        superseded = r->npending;
        r->npending = 0;
    }
    if (r->npending == r->cap_pending) {
        int cap = r->cap_pending ? r->cap_pending * 2 : 4;
        replEpoch *p = realloc(r->pending, (size_t)cap * sizeof(*p));
        if (!p) {
            pthread_mutex_unlock(&r->mu);
            return -1;
        }
        r->pending = p;
        r->cap_pending = cap;
    }
    r->pending[r->npending++] = *ep;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (superseded) {
        char n[16];
        snprintf(n, sizeof(n), "%d", superseded);
        say(r, "a new full sync replaces %s earlier transfer(s) not yet applied", n);
    }
    return 0;
}

/* A new epoch: the old spool ends (its reader finishes what it has). */
static void dropCurrent(replica *r) {
    if (!r->cur) return;
    spoolClose(r->cur);
    spoolFree(r->cur);
    r->cur = NULL;
}

static spool *newEpoch(replica *r, epochKind kind, const char *replid, int64_t off, int64_t rdb_size,
                       int diskless) {
    dropCurrent(r);
    r->cur = spoolNew(r->o.spool_mem, r->o.spool_dir);
    if (!r->cur) return NULL;
    replEpoch ep = {kind, spoolRetain(r->cur), "", off, rdb_size, diskless, r->sync_only, r->facts, ++r->seq, "",
                    r->cont_seq, r->next_resumed, ""};
    snprintf(ep.cont_run_id, sizeof(ep.cont_run_id), "%s", r->cont_run_id);
    snprintf(ep.resume_refused, sizeof(ep.resume_refused), "%s", r->next_refused);
    r->next_resumed = 0;
    r->next_refused[0] = '\0';
    snprintf(ep.replid, sizeof(ep.replid), "%.40s", replid);
    pthread_mutex_lock(&r->mu);
    snprintf(r->state.replid, sizeof(r->state.replid), "%.40s", replid);
    r->received = off;
    r->lag_n = 0;
    if (kind == EPOCH_FULL) r->state.offset = off, r->full_syncs++, r->need_full = 1;
    pthread_mutex_unlock(&r->mu);
    if (publish(r, &ep) < 0) {
        spoolFree(ep.sp);
        snprintf(r->err, sizeof(r->err), "out of memory queueing a replication epoch");
        return NULL;
    }
    return r->cur;
}

static void noteReceived(replica *r, size_t n) {
    int64_t t = clockMonoMs();
    pthread_mutex_lock(&r->mu);
    r->received += (int64_t)n;
    r->last_rx = t;
    lagMark *last = r->lag_n ? &r->lag[(r->lag_head + r->lag_n - 1) % LAG_RING] : NULL;
    if (last && t - last->ms < 2) {
        last->off = r->received;
    } else {
        if (r->lag_n == LAG_RING) r->lag_head = (r->lag_head + 1) % LAG_RING, r->lag_n--;
        r->lag[(r->lag_head + r->lag_n++) % LAG_RING] = (lagMark){r->received, t};
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- Link I/O ---- */

static int sendAck(replica *r, rsConn *c) {
    pthread_mutex_lock(&r->mu);
    int64_t applied = r->state.offset;
    r->ack_now = 0;
    pthread_mutex_unlock(&r->mu);
    /* SYNC-style replicas ACK too: a diskless master starts the stream on
     * the first ACK whatever the client sent to ask for the snapshot. */
    return psyncAck(c, applied);
}

static int flagSet(replica *r, int *flag) {
    pthread_mutex_lock(&r->mu);
    int v = *flag;
    pthread_mutex_unlock(&r->mu);
    return v;
}

/* While a reply is awaited: a keepalive before the PSYNC answer means the
 * master has queued us for a snapshot it has not started (its
 * repl-diskless-sync-delay, or a BGSAVE already running for others). Give
 * up when asked to stop. */
static int onKeepalive(void *ctx) {
    replica *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->last_rx = clockMonoMs();
    if (r->phase == REPL_CONNECTING) r->phase = REPL_WAIT_START;
    int stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

/* Read the next non-empty line (keepalive "\n"s come before replies while
 * the master prepares the snapshot). */
static int readLine(replica *r, rsConn *c, char *buf, size_t cap) {
    if (flagSet(r, &r->stop)) return -1;
    return psyncReadLine(c, buf, cap, onKeepalive, r);
}

/* ---- Snapshot transfer ---- */

/* Into the spool, ACKing every second (a master that hears nothing for
 * repl-timeout drops the link). A marked transfer's mark never reaches the
 * spool; nothing follows it until our first ACK. */
static int transfer(replica *r, rsConn *c, psyncTransfer *t) {
    char buf[64 * 1024], err[256];
    int64_t last = clockMonoMs();
    while (!t->done) {
        if (flagSet(r, &r->stop)) return S_STOP;
        ssize_t n = psyncTransferRead(t, buf, sizeof(buf), err, sizeof(err));
        if (n < 0) return S_RETRY;
        if (n > 0 && spoolPut(r->cur, buf, (size_t)n) < 0) return S_FATAL;
        pthread_mutex_lock(&r->mu);
        r->snap_bytes += (uint64_t)n;
        r->last_rx = clockMonoMs();
        pthread_mutex_unlock(&r->mu);
        if (clockMonoMs() - last >= 1000 && sendAck(r, c) == 0) last = clockMonoMs();
    }
    return 0;
}

/* 'first' is the snapshot header line when the caller already read it. */
static int fullSync(replica *r, rsConn *c, const char *replid, int64_t off, const char *first) {
    char line[256];
    setPhase(r, REPL_WAIT_SNAPSHOT);
    if (first) snprintf(line, sizeof(line), "%s", first);
    else if (readLine(r, c, line, sizeof(line)) < 0) return S_RETRY;
    if (line[0] == '-') {
        say(r, "the master could not produce a snapshot (%s); retrying", line);
        return S_RETRY;
    }
    psyncTransfer t;
    char err[256];
    if (psyncTransferStart(&t, c, line, err, sizeof(err)) < 0) {
        say(r, "%s", err);
        return S_RETRY;
    }
    pthread_mutex_lock(&r->mu);
    r->snap_bytes = 0;
    r->snap_size = t.size;
    pthread_mutex_unlock(&r->mu);
    if (!newEpoch(r, EPOCH_FULL, replid, off, t.size, t.size < 0)) return S_FATAL;
    setPhase(r, REPL_TRANSFER);
    int rc = transfer(r, c, &t);
    if (rc == S_RETRY)
        say(r, "%s", "the source closed the replica link during the full sync: asking for a new one; if this "
                     "repeats, check client-output-buffer-limit replica (and repl-timeout) on the source");
    if (rc != 0) {
        spoolClose(r->cur); /* the apply side sees the snapshot end early */
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    r->need_full = 0; /* whole: from here on a cut link can be continued */
    r->phase = REPL_STREAMING;
    r->last_rx = clockMonoMs();
    pthread_mutex_unlock(&r->mu);
    return sendAck(r, c) < 0 ? S_RETRY : 0; /* starts a diskless master's stream */
}

/* ---- Stream ---- */

static int timeoutMs(const replica *r) {
    return r->o.source_timeout_ms > 0 ? r->o.source_timeout_ms : REPLICA_DEFAULT_SOURCE_TIMEOUT_MS;
}

/* A master PINGs its replicas every repl-ping-replica-period even when
 * idle, so a link that brings nothing for --source-timeout is dead or its
 * source frozen, whatever TCP says: drop it, and continue from what was
 * received once the source answers again. */
static int silentTooLong(replica *r) {
    pthread_mutex_lock(&r->mu);
    int64_t quiet = clockMonoMs() - r->last_rx;
    pthread_mutex_unlock(&r->mu);
    if (quiet <= timeoutMs(r)) return 0;
    char s[24];
    snprintf(s, sizeof(s), "%lld", (long long)(quiet / 1000));
    say(r, "the source sent nothing for %s s (--source-timeout): reconnecting", s);
    return 1;
}

static int stream(replica *r, rsConn *c) {
    char buf[64 * 1024];
    int64_t last_ack = clockMonoMs();
    /* After a diskless snapshot the master starts the stream on an ACK that
     * finds us online; ours right after the mark can arrive before the
     * master has reaped its BGSAVE child and be ignored. Until bytes flow,
     * ACK every 100 ms, or the master buffers up to a second of writes
     * for us (and may drop us at its output buffer limit). */
    int flowing = 0;
    struct pollfd p[2] = {{.fd = connFd(c), .events = POLLIN}, {.fd = r->wake[0], .events = POLLIN}};
    for (;;) {
        p[0].revents = p[1].revents = 0;
        ssize_t n = connPending(c) ? 1 : poll(p, 2, 100);
        if (p[1].revents & POLLIN) {
            char drain[64];
            while (read(r->wake[0], drain, sizeof(drain)) > 0) {}
        }
        pthread_mutex_lock(&r->mu);
        int stop = r->stop, rewind = r->rewind, ack = r->ack_now;
        pthread_mutex_unlock(&r->mu);
        if (stop) return S_STOP;
        if (rewind) return S_RETRY;
        if (silentTooLong(r)) return S_RETRY;
        if (r->o.moved && r->o.moved(r->o.relocate_ctx)) {
            say(r, "%s", "the shard has another node now: following it");
            return S_RETRY;
        }
        if (n > 0 && (connPending(c) || (p[0].revents & (POLLIN | POLLHUP | POLLERR)))) {
            ssize_t got = connReadNonBlock(c, buf, sizeof(buf));
            if (got == 0 || got == -1) {
                say(r, "%s", got == 0 ? "the source closed the replica link; resuming" : connError(c));
                return S_RETRY;
            }
            if (got > 0) {
                flowing = 1;
                if (spoolPut(r->cur, buf, (size_t)got) < 0) return S_FATAL;
                noteReceived(r, (size_t)got);
            }
        }
        if (ack || clockMonoMs() - last_ack >= (flowing ? 1000 : 100)) {
            if (sendAck(r, c) < 0) return S_RETRY;
            last_ack = clockMonoMs();
        }
    }
}

/* ---- Session ---- */

static int isFatalConnectError(const char *e) {
    return strstr(e, "authentication") || strstr(e, "NOAUTH") || strstr(e, "WRONGPASS") ||
           strstr(e, "NOPERM");
}

static rsConn *connectSource(replica *r, int *rc) {
    char err[512];
    rsConn *c = connOpen(&r->url, &r->o.conn, err, sizeof(err));
    if (c) return c;
    if (!r->ever_connected || isFatalConnectError(err)) {
        snprintf(r->err, sizeof(r->err), "source: %s", err);
        *rc = S_FATAL;
    } else {
        say(r, "%s; retrying", err);
        *rc = S_RETRY;
    }
    return NULL;
}

/* PSYNC arguments: a rewind restarts from the applied offset; a dropped
 * link continues from what was received; else a full sync (id "?",
 * offset -1). A snapshot that did not arrive whole is never continued:
 * the source's backlog, created at that full resync, would accept our
 * offset and send the stream after an RDB we never got the end of. */
static void psyncArgs(replica *r, char *id, size_t idlen, int64_t *from, rewindKind *rewinding) {
    pthread_mutex_lock(&r->mu);
    *rewinding = r->resume_pending ? REWIND_RESUME : r->rewind;
    r->rewind = REWIND_NONE;
    if (*rewinding == REWIND_FULL) r->need_full = 1; /* until one arrives whole */
    int64_t at = *rewinding ? r->state.offset : r->received;
    /* A resumed position is known without an epoch of ours: the target
     * holds everything up to it (replicaSetResume). */
    int known = r->state.replid[0] && strcmp(r->state.replid, "?") && at >= 0 && !r->sync_only &&
                (*rewinding == REWIND_RESUME || (r->cur && !r->need_full));
    snprintf(id, idlen, "%s", known ? r->state.replid : "?");
    *from = known ? at + 1 : -1;
    pthread_mutex_unlock(&r->mu);
}

/* The source answered a resuming PSYNC: the position is no longer pending. */
static void resumeAnswered(replica *r) {
    pthread_mutex_lock(&r->mu);
    r->resume_pending = 0;
    pthread_mutex_unlock(&r->mu);
}

/* A resume answered with a full sync: one line saying why, carried by the
 * full epoch that follows. */
static void resumeRefused(replica *r, const char *id, int64_t from, const char *new_replid, const char *how) {
    char why[256], msg[400];
    if (how) snprintf(why, sizeof(why), "%s", how);
    else resumeWhyFull(&r->rfacts, id, from - 1, new_replid, why, sizeof(why));
    snprintf(r->next_refused, sizeof(r->next_refused), "%s", why);
    snprintf(msg, sizeof(msg), "cannot resume at offset %lld: %s; full sync", (long long)(from - 1), why);
    resumeAnswered(r);
    say(r, "%s", msg);
}

static int onContinue(replica *r, const psyncReply *rep, rewindKind rewinding) {
    if (rewinding == REWIND_RESUME) {
        resumeAnswered(r);
        r->next_resumed = 1;
    }
    pthread_mutex_lock(&r->mu);
    if (rep->replid[0]) snprintf(r->state.replid, sizeof(r->state.replid), "%s", rep->replid);
    r->partial_syncs++;
    int64_t from = r->state.offset;
    char rid[41];
    snprintf(rid, sizeof(rid), "%.40s", r->state.replid);
    pthread_mutex_unlock(&r->mu);
    /* A rewind, or a resumed state with no epoch yet, starts a new
     * spool; a dropped link continues into the current one, and the
     * source that continued it is said with the next epoch (resync.h: a
     * source restarted with its data continues; it is still the same). */
    if ((rewinding || !r->cur) && !newEpoch(r, EPOCH_CONTINUE, rid, from, -1, 0)) return S_FATAL;
    if (!rewinding && r->facts.run_id[0]) {
        snprintf(r->cont_run_id, sizeof(r->cont_run_id), "%s", r->facts.run_id);
        r->cont_seq = r->seq;
    }
    pthread_mutex_lock(&r->mu);
    r->phase = REPL_STREAMING;
    r->last_rx = clockMonoMs();
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* PSYNC was refused (unknown, renamed or forbidden): an old server, or a
 * managed one. Try SYNC; if that is refused too, the source cannot be
 * replicated from and the caller may fall back to scan mode. */
static void setSyncOnly(replica *r) {
    pthread_mutex_lock(&r->mu);
    r->sync_only = 1;
    pthread_mutex_unlock(&r->mu);
}

static int trySync(replica *r, rsConn *c, const char *psync_reply, rewindKind rewinding) {
    char line[512];
    if (rewinding == REWIND_RESUME)
        resumeRefused(r, "", 0, "", "the source refuses PSYNC (SYNC has no partial resync)");
    setSyncOnly(r);
    if (psyncRequestSync(c) < 0 || readLine(r, c, line, sizeof(line)) < 0) return S_RETRY;
    if (line[0] == '-' && !r->cur) {
        snprintf(r->err, sizeof(r->err), "source refuses PSYNC (%.200s) and SYNC (%.200s)", psync_reply, line);
        r->refused = 1;
        return S_FATAL;
    }
    return fullSync(r, c, "?", SYNC_BASE_OFFSET, line);
}

/* How often the source PINGs us when idle, for the status's "silent"
 * and a warning when --source-timeout could not tell silence from idling. */
static int learnPingPeriod(replica *r, rsConn *c) {
    int p = psyncPingPeriod(c);
    if (p < 0) return -1;
    pthread_mutex_lock(&r->mu);
    r->ping_period_s = p;
    pthread_mutex_unlock(&r->mu);
    if (!r->timeout_warned && (int64_t)timeoutMs(r) <= 2000LL * p) {
        char msg[200];
        r->timeout_warned = 1;
        snprintf(msg, sizeof(msg), "--source-timeout %d s is not above twice its repl-ping-replica-period (%d s): "
                 "an idle source will be taken for a silent one", timeoutMs(r) / 1000, p);
        say(r, "%s", msg);
    }
    return 0;
}

/* One INFO section into the facts: 0, also when refused (a replication-only
 * ACL user: unknown facts); -1 when the connection failed. */
static int learnSection(rsConn *c, const char *section, resyncFacts *f) {
    redisReply *rep = connCommandf(c, "INFO %s", section);
    if (!rep) return -1;
    if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS) {
        if (section[0] == 's') resyncParseServer(rep->str, f);
        else resyncParseKeyspace(rep->str, f);
    }
    freeReplyObject(rep);
    return 0;
}

/* Who the source is and what it holds, just before PSYNC: the epoch this
 * session starts carries it (resync.h). */
static int learnSource(replica *r, rsConn *c) {
    resyncFactsInit(&r->facts);
    return learnSection(c, "server", &r->facts) < 0 || learnSection(c, "keyspace", &r->facts) < 0 ? -1 : 0;
}

/* Before a resuming PSYNC: what the source's backlog holds, to say why
 * if it will not continue (resume.h). A refusal leaves it unknown. */
static int learnBacklog(replica *r, rsConn *c) {
    resumeFactsInit(&r->rfacts);
    redisReply *rep = connCommandf(c, "INFO replication");
    if (!rep) return -1;
    if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS) resumeParseInfo(rep->str, &r->rfacts);
    freeReplyObject(rep);
    return 0;
}

/* The handshake and PSYNC, then whatever the answer leads to. */
static int startSync(replica *r, rsConn *c) {
    char line[512], id[48];
    int64_t from;
    rewindKind rewinding;
    psyncReply rep;
    if (psyncHandshake(c, PSYNC_LISTENING_PORT) < 0) return S_RETRY;
    psyncArgs(r, id, sizeof(id), &from, &rewinding);
    if (rewinding == REWIND_RESUME && learnBacklog(r, c) < 0) return S_RETRY;
    if (psyncRequest(c, r->o.psync_cmd, id, from) < 0 || readLine(r, c, line, sizeof(line)) < 0) return S_RETRY;
    switch (psyncParseReply(line, &rep)) {
    case PSYNC_REFUSED: return trySync(r, c, line, rewinding);
    case PSYNC_SNAPSHOT:
        /* The snapshot came with no +FULLRESYNC: the server handled our
         * request as SYNC (Redis does so for PSYNC renamed with
         * rename-command). No offsets then, so no partial resync. */
        if (rewinding == REWIND_RESUME)
            resumeRefused(r, id, from, "", "the source answered as to SYNC (no offsets, no partial resync)");
        setSyncOnly(r);
        return fullSync(r, c, "?", SYNC_BASE_OFFSET, line);
    case PSYNC_FULLRESYNC:
        if (rewinding == REWIND_RESUME) {
            resumeRefused(r, id, from, rep.replid, from < 0 ? "the link has no offsets (a SYNC-style source)" : NULL);
            return fullSync(r, c, rep.replid, rep.offset, NULL);
        }
        /* Same replication id: we fell behind its backlog. Another one: the
         * source restarted or was replaced (sync.c decides what follows). */
        if (r->full_syncs && from >= 0)
            say(r, "%s", strcmp(rep.replid, id) ? "full resync: the source answered with a new replication history"
                                                : "full resync: the source could not continue from our offset");
        return fullSync(r, c, rep.replid, rep.offset, NULL);
    case PSYNC_CONTINUE: return onContinue(r, &rep, rewinding);
    case PSYNC_ERROR: break;
    }
    if (line[0] == '-') say(r, "%s; retrying", line); /* -NOMASTERLINK, -LOADING, ... */
    return S_RETRY;
}

static int session(replica *r) {
    int rc = S_RETRY;
    setPhase(r, REPL_CONNECTING);
    rsConn *c = connectSource(r, &rc);
    if (!c) return rc;
    r->ever_connected = 1;
    connSetTimeout(c, timeoutMs(r)); /* blocking reads: the handshake, the snapshot */
    rc = learnPingPeriod(r, c) < 0 || learnSource(r, c) < 0 ? S_RETRY : startSync(r, c);
    if (rc == 0) rc = stream(r, c);
    connClose(c);
    return rc;
}

/* Where a cluster shard's node is now: after a failover the same PSYNC
 * goes to the promoted node, which continues our history (replid2). */
static void relocate(replica *r) {
    if (!r->o.relocate) return;
    rsUrl u = {0};
    char err[256], was[300], now[300];
    if (urlCopy(&u, &r->url, err, sizeof(err)) < 0) return;
    if (r->o.relocate(r->o.relocate_ctx, &u) == 0) {
        urlFormatAddr(&r->url, was, sizeof(was));
        urlFormatAddr(&u, now, sizeof(now));
        if (strcmp(was, now) != 0 && !r->o.quiet) logInfo("the shard's node moved from %s to %s", was, now);
        urlFree(&r->url);
        r->url = u;
        return;
    }
    urlFree(&u);
}

static void *linkThread(void *arg) {
    replica *r = arg;
    int backoff = 100;
    logSetThreadTag(r->o.log_tag);
    for (;;) {
        int rc = session(r);
        if (rc == S_STOP || flagSet(r, &r->stop)) break;
        if (rc == S_FATAL) {
            pthread_mutex_lock(&r->mu);
            r->failed = 1;
            r->phase = REPL_FAILED;
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->mu);
            break;
        }
        pthread_mutex_lock(&r->mu);
        r->reconnects++;
        rewindKind rewind = r->rewind;
        pthread_mutex_unlock(&r->mu);
        relocate(r);
        if (!rewind) {
            struct pollfd p = {.fd = r->wake[0], .events = POLLIN};
            poll(&p, 1, backoff);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        } else {
            backoff = 100;
        }
    }
    dropCurrent(r);
    return NULL;
}

/* ---- Public API ---- */

replica *replicaNew(const replicaOptions *o) {
    replica *r = calloc(1, sizeof(*r));
    char err[256];
    if (!r) return NULL;
    r->o = *o;
    if (urlCopy(&r->url, o->url, err, sizeof(err)) < 0 || pipe2(r->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        free(r);
        return NULL;
    }
    r->o.url = &r->url;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->state.offset = -1;
    r->snap_size = -1;
    resyncFactsInit(&r->facts);
    return r;
}

int replicaStart(replica *r, const replState *resume) {
    if (resume && replicaSetResume(r, resume) < 0) return -1;
    if (pthread_create(&r->th, NULL, linkThread, r) != 0) return -1;
    r->started = 1;
    return 0;
}

static void wakeLink(replica *r) {
    char b = 1;
    if (write(r->wake[1], &b, 1) < 0) {} /* a full pipe already wakes it */
}

void replicaStop(replica *r) {
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    wakeLink(r);
}

void replicaFree(replica *r) {
    if (!r) return;
    replicaStop(r);
    if (r->started) pthread_join(r->th, NULL);
    for (int i = 0; i < r->npending; i++) spoolFree(r->pending[i].sp);
    free(r->pending);
    close(r->wake[0]);
    close(r->wake[1]);
    urlFree(&r->url);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

int replicaNextEpoch(replica *r, replEpoch *ep, int timeout_ms) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    while (!r->npending && !r->failed && !r->stop) {
        if (timeout_ms < 0) pthread_cond_wait(&r->cv, &r->mu);
        else if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT) break;
    }
    if (r->npending) {
        *ep = r->pending[0];
        memmove(r->pending, r->pending + 1, (size_t)(--r->npending) * sizeof(*ep));
        rc = 1;
    } else if (r->failed || r->stop) {
        rc = -1;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void replicaSetApplied(replica *r, int64_t offset, int db) {
    pthread_mutex_lock(&r->mu);
    if (offset > r->state.offset) r->state.offset = offset, r->state.db = db;
    pthread_mutex_unlock(&r->mu);
}

void replicaRequestAck(replica *r) {
    pthread_mutex_lock(&r->mu);
    r->ack_now = 1;
    pthread_mutex_unlock(&r->mu);
    wakeLink(r);
}

void replicaResync(replica *r, int full) {
    pthread_mutex_lock(&r->mu);
    r->rewind = full ? REWIND_FULL : REWIND_APPLIED;
    pthread_mutex_unlock(&r->mu);
    wakeLink(r);
}

static int isReplid(const char *s) {
    if (strlen(s) != PSYNC_REPLID_LEN) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F'))) return 0;
    return 1;
}

int replicaSetResume(replica *r, const replState *st) {
    if (!isReplid(st->replid) || st->offset < 0) return -1;
    pthread_mutex_lock(&r->mu);
    r->state = *st;
    r->resume_pending = 1;
    r->need_full = 0; /* the position is everything the target holds */
    if (r->started) r->rewind = REWIND_RESUME; /* drops a running link */
    pthread_mutex_unlock(&r->mu);
    wakeLink(r);
    return 0;
}

void replicaGetStatus(replica *r, replStatus *st) {
    int64_t t = clockMonoMs();
    pthread_mutex_lock(&r->mu);
    st->phase = r->phase;
    st->received = r->received;
    st->applied = r->state.offset;
    st->snapshot_bytes = r->snap_bytes;
    st->snapshot_size = r->snap_size;
    st->full_syncs = r->full_syncs;
    st->partial_syncs = r->partial_syncs;
    st->reconnects = r->reconnects;
    st->sync_only = r->sync_only;
    st->pending_epochs = r->npending;
    st->silent_ms = r->phase == REPL_STREAMING ? t - r->last_rx : 0;
    st->ping_period_ms = (int64_t)(r->ping_period_s ? r->ping_period_s : PSYNC_DEFAULT_PING_PERIOD) * 1000;
    st->lag_ms = 0;
    while (r->lag_n && r->lag[r->lag_head].off <= r->state.offset) r->lag_head = (r->lag_head + 1) % LAG_RING, r->lag_n--;
    if (r->lag_n && r->state.offset < r->received) st->lag_ms = t - r->lag[r->lag_head].ms;
    pthread_mutex_unlock(&r->mu);
}

const char *replicaError(replica *r) { return r->err; }
int replicaRefused(replica *r) { return r->refused; }

void replicaGetState(replica *r, replState *st) {
    pthread_mutex_lock(&r->mu);
    *st = r->state;
    pthread_mutex_unlock(&r->mu);
}

/* scancopy.c -- the scan-mode copy and its follower (see scancopy.h).
 *
 * The copy runs the pass (scan.c) on a reader thread that fills a bounded
 * queue; the calling thread writes to the target through the importer, so
 * reading the source and writing the target overlap. Following: a
 * subscriber thread queues keyspace events; the calling thread copies each
 * changed key again or deletes it.
 */
#include "scancopy.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "ctarget.h"
#include "log.h"
#include "outcome.h"
#include "preflight.h"
#include "progress.h"
#include "stop.h"
#include "writer.h"

#define QUEUE_BYTES (16u << 20)
#define EVENTS_MAX 100000
/* What a queued key costs in memory: its two allocations with their malloc
 * headers, not only key and payload. Counting only those let 16 MB of small
 * strings (DEBUG POPULATE's, 40 bytes a key) take 54 MB of RSS. */
#define QITEM_COST(keylen, len) (sizeof(qitem) + (keylen) + 1 + (len) + 32)

/* ---- The copy: a bounded queue between the pass and the writer ---- */

typedef struct qitem {
    struct qitem *next;
    int db;
    int64_t expire_ms;
    int64_t queued_ms;  /* a keyspace event: when it arrived (monotonic) */
    int ask;            /* an event handed over after -ASK: read it after ASKING */
    size_t keylen, len;
    unsigned char *payload;
    char key[];
} qitem;

typedef struct copyQueue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    qitem *head, *tail;
    size_t bytes;
    int done, failed;
    int complete;       /* the reader's pass read every db to its end */
} copyQueue;

typedef struct copier {
    const scanCopyConfig *cfg;
    scanOptions scan;   /* the passes' options: cfg's, with the slots of a rescan (cluster) */
    unsigned char rslots[2048];
    unsigned char served[2048]; /* cluster: the slots given to this copy (first pass, rescans):
                                   a prune after a lost subscription looks at these only */
    unsigned gen;       /* cluster: the coordinator's generation drained at last */
    rsConn *src, *tgt, *sub;
    rsServerInfo sinfo, tinfo;
    copyQueue q;
    scanStats st;
    writer *w;
    router *rt;         /* a cluster target (ctarget.h): w routes through it */
    importer *im;
    outcome fatal;      /* set by a reply that stopped the writer */
    char err[800];      /* the first reason this thread (the writer's) stops */
    char rerr[800];     /* the reader thread's reason: apart, so neither overwrites the other */
    int pass_done;      /* a pass read the whole source: the target holds a full copy */
    uint64_t checked, pruned; /* the prunes': target keys looked up on the source, deleted */
    char ksn_orig[64];  /* notify-keyspace-events before we changed it; "" when unchanged */
    int ksn_changed;
    progress *pg;       /* status lines */
    int following;      /* the pass is done: status lines show the follow lag */
    /* keyspace events: (db, key) pairs from the subscriber thread */
    pthread_mutex_t emu;
    qitem *ehead, *etail;
    size_t nevents;
    int overflow, sub_lost;
    char probe[64];     /* the notification probe's key, "" when none */
    unsigned probe_seen; /* bit per event class the probe produced */
} copier;

static int queueSink(void *ctx, const scanItem *it) {
    copier *cp = ctx;
    qitem *q = malloc(sizeof(*q) + it->keylen + 1);
    if (!q) return -1;
    q->payload = malloc(it->len);
    if (!q->payload) {
        free(q);
        return -1;
    }
    memcpy(q->key, it->key, it->keylen);
    memcpy(q->payload, it->payload, it->len);
    q->db = it->db, q->expire_ms = it->expire_ms, q->keylen = it->keylen, q->len = it->len, q->next = NULL;
    pthread_mutex_lock(&cp->q.mu);
    while (cp->q.bytes > QUEUE_BYTES && !cp->q.failed) pthread_cond_wait(&cp->q.cv, &cp->q.mu);
    int failed = cp->q.failed;
    if (!failed) {
        if (cp->q.tail) cp->q.tail->next = q;
        else cp->q.head = q;
        cp->q.tail = q;
        cp->q.bytes += QITEM_COST(it->keylen, it->len);
        pthread_cond_broadcast(&cp->q.cv);
    }
    pthread_mutex_unlock(&cp->q.mu);
    if (failed) free(q->payload), free(q);
    return failed || scanStopRequested() ? -1 : 0;
}

static void *passThread(void *arg) {
    copier *cp = arg;
    int rc = scanPass(cp->src, &cp->sinfo, &cp->scan, queueSink, cp, &cp->st, cp->rerr, sizeof(cp->rerr));
    pthread_mutex_lock(&cp->q.mu);
    cp->q.done = 1;
    cp->q.complete = rc == 0;
    if (rc < 0 && !scanStopRequested()) cp->q.failed = 1;
    pthread_cond_broadcast(&cp->q.cv);
    pthread_mutex_unlock(&cp->q.mu);
    return NULL;
}

static qitem *queuePop(copier *cp) {
    pthread_mutex_lock(&cp->q.mu);
    while (!cp->q.head && !cp->q.done) pthread_cond_wait(&cp->q.cv, &cp->q.mu);
    qitem *q = cp->q.head;
    if (q) {
        cp->q.head = q->next;
        if (!cp->q.head) cp->q.tail = NULL;
        cp->q.bytes -= QITEM_COST(q->keylen, q->len);
        pthread_cond_broadcast(&cp->q.cv);
    }
    pthread_mutex_unlock(&cp->q.mu);
    return q;
}

static int queueEmpty(copier *cp) {
    pthread_mutex_lock(&cp->q.mu);
    int empty = cp->q.head == NULL;
    pthread_mutex_unlock(&cp->q.mu);
    return empty;
}

static void queueAbort(copier *cp) {
    pthread_mutex_lock(&cp->q.mu);
    cp->q.failed = 1;
    pthread_cond_broadcast(&cp->q.cv);
    pthread_mutex_unlock(&cp->q.mu);
}

static int writeItem(copier *cp, int db, const char *key, size_t keylen, const unsigned char *p, size_t len,
                     int64_t exp) {
    rdbKeyInfo k = {.db = (uint64_t)db, .key = key, .keylen = keylen, .expire_ms = exp, .idle = -1, .freq = -1};
    return importPayload(cp->im, &k, p, len);
}

/* The follow lag: events not yet applied, and how long the oldest has
 * waited. In sync: none pending and every write acknowledged. */
static void followLag(copier *cp, char *buf, size_t cap) {
    pthread_mutex_lock(&cp->emu);
    size_t pending = cp->nevents;
    int64_t oldest = cp->ehead ? clockMonoMs() - cp->ehead->queued_ms : 0;
    pthread_mutex_unlock(&cp->emu);
    size_t unacked = writerInFlight(cp->w);
    snprintf(buf, cap, "following: %zu events pending (oldest %lld ms), %zu writes unacknowledged%s", pending,
             (long long)oldest, unacked, pending == 0 && unacked == 0 ? ", in sync" : "");
}

static void statusLine(copier *cp, int force) {
    if (!progressDue(cp->pg, force)) return;
    const importStats *s = importGetStats(cp->im);
    char lag[160] = "";
    if (cp->following) followLag(cp, lag, sizeof(lag));
    progressLine(cp->pg, cp->following ? "following" : "scan", "scan: %llu keys scanned, %llu written, %llu vanished%s%s",
                 (unsigned long long)cp->st.scanned, (unsigned long long)s->written,
                 (unsigned long long)cp->st.vanished, lag[0] ? "; " : "", lag);
}

/* One pass: reader thread + writing here. */
static int copyPass(copier *cp) {
    pthread_t th;
    cp->q.done = cp->q.failed = 0;
    if (pthread_create(&th, NULL, passThread, cp) != 0) return -1;
    int rc = 0;
    qitem *q;
    while ((q = queuePop(cp)) != NULL) {
        if (rc == 0 && writeItem(cp, q->db, q->key, q->keylen, q->payload, q->len, q->expire_ms) < 0) {
            rc = -1;
            queueAbort(cp);
        }
        free(q->payload);
        free(q);
        /* The reader is behind (a --rate, a slow source): send what is
         * queued now rather than when the writer's buffer fills. */
        if (rc == 0 && queueEmpty(cp) && writerPoll(cp->w) < 0) rc = -1, queueAbort(cp);
        if (rc == 0) statusLine(cp, 0);
    }
    pthread_join(th, NULL);
    if (rc == 0 && writerDrain(cp->w) < 0) rc = -1;
    if (cp->q.failed && rc == 0) rc = -1;
    if (rc == 0 && cp->q.complete) cp->pass_done = 1;
    /* The reader's reason, unless the writer's came first (a conflict
     * makes the reader stop with a reason of its own). */
    if (cp->q.failed && !cp->err[0] && !cp->fatal) snprintf(cp->err, sizeof(cp->err), "%s", cp->rerr);
    return rc;
}

/* ---- Keyspace notifications ---- */

/* Notifications need K (keyspace channel) and every class (A). */
static int ksnEnabled(const char *v) { return strchr(v, 'K') && strchr(v, 'A'); }

static int ksnSetup(copier *cp) {
    redisReply *r = connCommandf(cp->src, "CONFIG GET notify-keyspace-events");
    int ok = 0, known = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2;
    char want[64];
    if (known && ksnEnabled(r->element[1]->str)) ok = 1;
    if (known && !ok) {
        snprintf(want, sizeof(want), "%sKA", r->element[1]->str);
        redisReply *s = connCommandf(cp->src, "CONFIG SET notify-keyspace-events %s", want);
        ok = s && s->type != REDIS_REPLY_ERROR;
        if (ok) logInfo("enabled keyspace notifications on the source (notify-keyspace-events %s)", want);
        if (ok) snprintf(cp->ksn_orig, sizeof(cp->ksn_orig), "%s", r->element[1]->str), cp->ksn_changed = 1;
        if (s) freeReplyObject(s);
    }
    if (r) freeReplyObject(r);
    if (ok) return 0;
    if (!known) return 1; /* CONFIG refused: ksnProbe() tells after subscribing */
    snprintf(cp->err, sizeof(cp->err), "keyspace notifications are off on the source and CONFIG SET is refused: "
             "set notify-keyspace-events to 'KA' on the source (on ElastiCache: in a custom parameter group), "
             "or run with --once");
    return -1;
}

/* Put notify-keyspace-events back as we found it: notifications cost the
 * source CPU for every write, and the setting is the operator's. On a
 * connection of its own, since the main one may be what failed. */
static void ksnRestore(copier *cp) {
    char err[512];
    rsConn *c = connOpen(cp->cfg->source, &cp->cfg->source_conn, err, sizeof(err));
    redisReply *r = c ? connCommand(c, 4, (const char *[]){"CONFIG", "SET", "notify-keyspace-events", cp->ksn_orig},
                                    (size_t[]){6, 3, 22, strlen(cp->ksn_orig)})
                      : NULL;
    if (r && r->type != REDIS_REPLY_ERROR)
        logInfo("restored notify-keyspace-events on the source to '%s'", cp->ksn_orig);
    else
        logWarn("could not restore notify-keyspace-events on the source to '%s': %s", cp->ksn_orig,
                r ? r->str : c ? connError(c) : err);
    if (r) freeReplyObject(r);
    connClose(c);
}

static void pushEventAsk(copier *cp, int db, const char *key, size_t keylen, int ask) {
    if (!filterName(cp->cfg->scan.filter, key, keylen)) return; /* --match/--exclude: not ours */
    pthread_mutex_lock(&cp->emu);
    if (cp->nevents >= EVENTS_MAX) {
        cp->overflow = 1; /* too many to track: a fresh pass catches up */
    } else {
        qitem *q = malloc(sizeof(*q) + keylen + 1);
        if (q) {
            memcpy(q->key, key, keylen);
            q->keylen = keylen, q->db = db, q->next = NULL, q->payload = NULL, q->queued_ms = clockMonoMs();
            q->ask = ask;
            if (cp->etail) cp->etail->next = q;
            else cp->ehead = q;
            cp->etail = q;
            cp->nevents++;
        } else {
            cp->overflow = 1;
        }
    }
    pthread_mutex_unlock(&cp->emu);
}

static void pushEvent(copier *cp, int db, const char *key, size_t keylen) { pushEventAsk(cp, db, key, keylen, 0); }

/* scanCopyTurn.push: a key handed over by another master's copy. */
static void pushHanded(void *copy, int db, const char *key, size_t keylen, int ask) {
    pushEventAsk(copy, db, key, keylen, ask);
}

/* The probe touches one key with a command of each class that A covers
 * and can be tried without side effects (expired, evicted and module
 * events cannot), inside MULTI so no client ever sees the key. */
static const char *const PROBE_EVENTS[] = {"set", "rpush", "sadd", "zadd", "hset", "xadd", "del"};
#define PROBE_ALL ((1u << (sizeof(PROBE_EVENTS) / sizeof(PROBE_EVENTS[0]))) - 1)

/* 1 when key is the probe's (its event is noted, not queued). */
static int probeEvent(copier *cp, const char *key, size_t keylen, const char *event) {
    pthread_mutex_lock(&cp->emu);
    int mine = cp->probe[0] && keylen == strlen(cp->probe) && memcmp(key, cp->probe, keylen) == 0;
    for (size_t i = 0; mine && i < sizeof(PROBE_EVENTS) / sizeof(PROBE_EVENTS[0]); i++)
        if (strcmp(event, PROBE_EVENTS[i]) == 0) cp->probe_seen |= 1u << i;
    pthread_mutex_unlock(&cp->emu);
    return mine;
}

/* "__keyspace@3__:key" -> db 3, key. */
static void onMessage(copier *cp, redisReply *m) {
    if (m->type != REDIS_REPLY_ARRAY || m->elements != 4 || strcmp(m->element[0]->str, "pmessage")) return;
    const char *ch = m->element[2]->str;
    size_t len = (size_t)m->element[2]->len;
    const char *sep = memchr(ch, ':', len);
    if (strncmp(ch, "__keyspace@", 11) != 0 || !sep) return;
    if (probeEvent(cp, sep + 1, len - (size_t)(sep + 1 - ch), m->element[3]->str)) return;
    pushEvent(cp, atoi(ch + 11), sep + 1, len - (size_t)(sep + 1 - ch));
}

/* Blocks in connGetReply with no timeout (a quiet source sends nothing);
 * it ends when the link drops or stopSub() shuts the socket down. */
static void *subThread(void *arg) {
    copier *cp = arg;
    for (;;) {
        redisReply *m = connGetReply(cp->sub);
        if (!m) break;
        onMessage(cp, m);
        freeReplyObject(m);
    }
    pthread_mutex_lock(&cp->emu);
    cp->sub_lost = 1;
    pthread_mutex_unlock(&cp->emu);
    return NULL;
}

static void stopSub(copier *cp, pthread_t th) {
    shutdown(connFd(cp->sub), SHUT_RDWR);
    pthread_join(th, NULL);
    connClose(cp->sub);
    cp->sub = NULL;
}

static int subscribe(copier *cp, pthread_t *th) {
    char err[512];
    cp->sub = connOpen(cp->cfg->source, &cp->cfg->source_conn, err, sizeof(err));
    if (!cp->sub) {
        snprintf(cp->err, sizeof(cp->err), "source: %s", err);
        return -1;
    }
    redisReply *r = connCommandf(cp->sub, "PSUBSCRIBE __keyspace@*__:*");
    int ok = r && r->type == REDIS_REPLY_ARRAY;
    if (!ok) snprintf(cp->err, sizeof(cp->err), "source refused PSUBSCRIBE: %s", r ? r->str : connError(cp->sub));
    if (r) freeReplyObject(r);
    if (!ok) return -1;
    connSetTimeout(cp->sub, -1);
    cp->sub_lost = 0;
    return pthread_create(th, NULL, subThread, cp) == 0 ? 0 : -1;
}

/* CONFIG is refused, so notify-keyspace-events cannot be read: make the
 * source produce events and see whether they arrive. 0 when they do (or
 * when the source refuses the probe's writes: then we cannot tell, and
 * say so), -1 with the setting to change when they do not. */
static int ksnProbe(copier *cp) {
    char k[64];
    snprintf(k, sizeof(k), "rdbsync:probe:%ld:%lld", (long)getpid(), (long long)clockWallMs());
    pthread_mutex_lock(&cp->emu);
    memcpy(cp->probe, k, sizeof(k));
    pthread_mutex_unlock(&cp->emu);
    redisReply *r = connCommandf(cp->src, "MULTI");
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    const char *cmds[] = {"SET %s 1", "DEL %s", "RPUSH %s 1", "DEL %s", "SADD %s 1", "DEL %s",
                          "ZADD %s 1 m", "DEL %s", "HSET %s f 1", "DEL %s", "XADD %s 1-1 f 1", "DEL %s"};
    for (size_t i = 0; ok && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if ((r = connCommandf(cp->src, cmds[i], k))) freeReplyObject(r);
        else ok = 0;
    }
    r = ok ? connCommandf(cp->src, "EXEC") : NULL;
    ok = r && r->type == REDIS_REPLY_ARRAY;
    for (size_t i = 0; ok && i < r->elements; i++) ok = r->element[i]->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    if (!ok) {
        logError("cannot read notify-keyspace-events on the source (CONFIG refused) nor test it; "
                        "following relies on it including 'KA' (on managed services: set it in the parameter group)");
        return 0;
    }
    unsigned seen = 0;
    for (int i = 0; i < 100 && seen != PROBE_ALL; i++) {
        usleep(20000);
        pthread_mutex_lock(&cp->emu);
        seen = cp->probe_seen;
        pthread_mutex_unlock(&cp->emu);
    }
    if (seen == PROBE_ALL) return 0;
    snprintf(cp->err, sizeof(cp->err), "keyspace notifications are %s on the source and CONFIG is refused: "
             "set notify-keyspace-events to 'KA' on the source (on ElastiCache: in a custom parameter group), "
             "or run with --once", seen ? "incomplete" : "off");
    return -1;
}

/* A cluster source: 1 when err is a -MOVED/-ASK redirect (the key's slot
 * is served elsewhere now: the coordinator hands it over). */
static int redirected(const copier *cp, const char *err) {
    clusterRedirect to;
    return cp->cfg->hooks && scanRedirect(err, &to) != CLUSTER_REDIR_NONE;
}

/* Read one key; on a cluster, a passing state (-CLUSTERDOWN during a
 * failover, -TRYAGAIN) is asked again for up to SCAN_RETRY_MS. */
static int getKeyRetry(copier *cp, int db, const char *key, size_t keylen, int ask, scanItem *it, char *err,
                       size_t errlen) {
    int64_t start = clockMonoMs();
    for (;;) {
        int got = (ask ? scanGetKeyAsking : scanGetKey)(cp->src, &cp->sinfo, db, key, keylen, it, err, errlen);
        if (got >= 0 || !cp->cfg->hooks || !scanTransient(err) || scanStopRequested() ||
            clockMonoMs() - start > SCAN_RETRY_MS)
            return got;
        usleep(100 * 1000);
    }
}

/* Keys redirected during a batch go to their node's copy once this copy's
 * writes are acknowledged: a write of the key sent before can then not
 * land after the other copy's. */
static int handOver(copier *cp, qitem *list) {
    int rc = list ? writerDrain(cp->w) : 0;
    while (list) {
        qitem *q = list;
        list = q->next;
        clusterRedirect to;
        clusterRedirKind kind = rc == 0 ? scanRedirect((const char *)q->payload, &to) : CLUSTER_REDIR_NONE;
        if (kind != CLUSTER_REDIR_NONE)
            cp->cfg->hooks->redirect(cp->cfg->hooks->ctx, q->db, q->key, q->keylen, kind == CLUSTER_REDIR_ASK,
                                     clusterRedirectHost(&to, cp->cfg->source->host), to.port);
        free(q->payload);
        free(q);
    }
    return rc;
}

/* Apply queued events: copy each key again, or delete it. */
static int applyEvents(copier *cp) {
    pthread_mutex_lock(&cp->emu);
    qitem *list = cp->ehead;
    cp->ehead = cp->etail = NULL;
    cp->nevents = 0;
    pthread_mutex_unlock(&cp->emu);
    int rc = 0;
    qitem *moved = NULL;
    while (list) {
        qitem *q = list;
        list = q->next;
        scanItem it;
        char err[512];
        int got = rc == 0 ? getKeyRetry(cp, q->db, q->key, q->keylen, q->ask, &it, err, sizeof(err)) : 0;
        if (got < 0 && redirected(cp, err) && (q->payload = (unsigned char *)strdup(err)) != NULL) {
            q->next = moved, moved = q; /* handed over after the batch */
            continue;
        }
        if (got < 0) snprintf(cp->err, sizeof(cp->err), "%s", err), rc = -1;
        else if (got == 1 && !filterType(cp->cfg->scan.filter, filterPayloadType(it.payload, it.len)))
            /* now of a type --type leaves out: gone from the copy */
            rc = importDelete(cp->im, (uint64_t)q->db, q->key, q->keylen), free((void *)it.payload);
        else if (got == 1) rc = writeItem(cp, q->db, q->key, q->keylen, it.payload, it.len, it.expire_ms),
                           free((void *)it.payload);
        else if (rc == 0) rc = importDelete(cp->im, (uint64_t)q->db, q->key, q->keylen);
        free(q);
    }
    if (rc == 0) return handOver(cp, moved) < 0 ? -1 : writerPoll(cp->w);
    for (qitem *q = moved, *next; q; q = next) next = q->next, free(q->payload), free(q);
    return rc;
}

/* The source db whose keys go to target db t, or -1 (--db, --db-map). */
static int sourceDbFor(const importOptions *o, int t) {
    for (int sdb = 0; sdb < IMPORT_MAX_DBS; sdb++) {
        int sel = o->n_db_only == 0;
        for (int i = 0; i < o->n_db_only; i++) sel |= o->db_only[i] == sdb;
        if (sel && (o->db_map[sdb] >= 0 ? o->db_map[sdb] : sdb) == t) return sdb;
    }
    return t >= IMPORT_MAX_DBS && o->n_db_only == 0 ? t : -1;
}

/* Whether the source has a key now (EXISTS: its value is not read); on a
 * cluster, a passing state is asked again as getKeyRetry does. */
static int existsRetry(copier *cp, int db, const char *key, size_t keylen, char *err, size_t errlen) {
    int64_t start = clockMonoMs();
    for (;;) {
        int got = scanKeyExists(cp->src, db, key, keylen, err, errlen);
        if (got >= 0 || !cp->cfg->hooks || !scanTransient(err) || scanStopRequested() ||
            clockMonoMs() - start > SCAN_RETRY_MS)
            return got;
        usleep(100 * 1000);
    }
}

static int pruneKey(void *ctx, const scanItem *it) {
    copier *cp = ctx;
    int sdb = sourceDbFor(&cp->cfg->imp, it->db);
    if (sdb < 0) return 0;
    cp->checked++;
    int got = existsRetry(cp, sdb, it->key, it->keylen, cp->err, sizeof(cp->err));
    if (got < 0 && redirected(cp, cp->err)) return cp->err[0] = '\0', 0; /* another node's slot now */
    if (got == 0) cp->pruned++;
    return got < 0 ? -1 : got == 1 ? 0 : importDelete(cp->im, (uint64_t)sdb, it->key, it->keylen);
}

/* After notifications were lost (overflow, dropped link), a fresh pass
 * copies what changed but cannot see what was deleted: remove from the
 * target the keys the source no longer has. Events that arrive meanwhile
 * are applied afterwards, so a key created again is copied again. */
static int pruneTarget(copier *cp) {
    char err[512];
    rsServerInfo info;
    rsConn *t = connOpen(cp->cfg->target, &cp->cfg->target_conn, err, sizeof(err));
    if (!t || connServerInfo(t, &info) < 0) {
        snprintf(cp->err, sizeof(cp->err), "target: %s", t ? connError(t) : err);
        connClose(t);
        return -1;
    }
    scanOptions so = cp->scan;
    so.moved_vanish = 0; /* the target: a standalone server, or a cluster read through its router */
    /* A cluster copy's keys are those of its slots: the target's other keys
     * are other copies' (asking this node would only be answered -MOVED). */
    if (!so.slots && cp->cfg->hooks && cp->cfg->scan.slots) so.slots = cp->served;
    /* Whether a key is on the source is all the prune asks: the target's
     * values are not read (DUMP) unless --type must see them. */
    so.keys_only = !filterHasTypes(so.filter);
    scanStats st = {0};
    int rc = scanPass(t, &info, &so, pruneKey, cp, &st, cp->err, sizeof(cp->err));
    connClose(t);
    if (rc < 0 && scanStopRequested()) rc = 0, cp->err[0] = '\0'; /* a stop while following: not an error */
    return rc < 0 ? -1 : writerDrain(cp->w);
}

/* A cluster source: the coordinator's requests (scancopy.h). 1 when the
 * copy is to end, -1 on error. */
static int clusterTurn(copier *cp) {
    const scanCopyHooks *h = cp->cfg->hooks;
    scanCopyTurn t = {.gen = cp->gen, .push = pushHanded, .copy = cp};
    h->turn(h->ctx, &t);
    if (t.gen != cp->gen) {
        if (writerDrain(cp->w) < 0) return -1;
        cp->gen = t.gen;
        scanCopyTurn again = {.gen = cp->gen, .push = pushHanded, .copy = cp};
        h->turn(h->ctx, &again); /* acknowledged; anything asked meanwhile is taken below */
        t.rescan |= again.rescan, t.stop |= again.stop;
        for (size_t i = 0; again.rescan && i < sizeof(t.slots); i++) t.slots[i] |= again.slots[i];
    }
    if (t.stop) return 1;
    if (!t.rescan) return 0;
    memcpy(cp->rslots, t.slots, sizeof(cp->rslots));
    for (size_t i = 0; i < sizeof(cp->served); i++) cp->served[i] |= t.slots[i];
    cp->scan.slots = cp->rslots;
    int rc = copyPass(cp) < 0 || pruneTarget(cp) < 0 ? -1 : 0;
    cp->scan.slots = NULL;
    return rc;
}

static int follow(copier *cp, pthread_t *th) {
    if (!cp->cfg->scan.quiet)
        logInfo("scan pass done; following changes through keyspace notifications");
    cp->following = 1;
    cp->scan.slots = NULL; /* later passes: every key the node serves (-MOVED: not ours) */
    while (!scanStopRequested()) {
        if (applyEvents(cp) < 0) return -1;
        int turn = cp->cfg->hooks ? clusterTurn(cp) : 0;
        if (turn < 0) return -1;
        if (turn > 0) return 0;
        pthread_mutex_lock(&cp->emu);
        int lost = cp->sub_lost, over = cp->overflow;
        cp->overflow = 0;
        pthread_mutex_unlock(&cp->emu);
        if (lost) {
            stopSub(cp, *th);
            logWarn("lost the notification link; resubscribing and scanning again");
            if (subscribe(cp, th) < 0) return -1;
        }
        if (lost || over) {
            uint64_t read = cp->st.dumped, checked = cp->checked, pruned = cp->pruned;
            if (copyPass(cp) < 0 || pruneTarget(cp) < 0) return -1;
            if (!cp->cfg->scan.quiet)
                logInfo("scanned again: %llu keys read, %llu of the target's keys looked up by name (EXISTS), "
                        "%llu deleted", (unsigned long long)(cp->st.dumped - read),
                        (unsigned long long)(cp->checked - checked), (unsigned long long)(cp->pruned - pruned));
            continue;
        }
        usleep(20000);
        statusLine(cp, 0);
    }
    return 0;
}

/* ---- Setup ---- */

static int onReplyCopy(void *ctx, const writerTag *t, const redisReply *r) {
    copier *cp = ctx;
    int rc = importOnReply(cp->im, t, r);
    if (rc && !cp->fatal) { /* the first one: replies read while settling come after it */
        snprintf(cp->err, sizeof(cp->err), "%s", importError(cp->im));
        cp->fatal = importConflicted(cp->im) ? OUTCOME_CONFLICT : OUTCOME_WRITE;
    }
    return rc;
}

static int openBoth(copier *cp) {
    char err[512];
    cp->src = connOpen(cp->cfg->source, &cp->cfg->source_conn, err, sizeof(err));
    if (!cp->src || connServerInfo(cp->src, &cp->sinfo) < 0) {
        snprintf(cp->err, sizeof(cp->err), "source: %s", cp->src ? connError(cp->src) : err);
        return -1;
    }
    cp->tgt = connOpen(cp->cfg->target, &cp->cfg->target_conn, err, sizeof(err));
    if (!cp->tgt || connServerInfo(cp->tgt, &cp->tinfo) < 0) {
        snprintf(cp->err, sizeof(cp->err), "target: %s", cp->tgt ? connError(cp->tgt) : err);
        return -1;
    }
    if (ctargetOpen(cp->tgt, cp->cfg->target, &cp->cfg->target_conn, cp->cfg->scan.quiet, &cp->rt, err,
                    sizeof(err)) < 0) {
        snprintf(cp->err, sizeof(cp->err), "target %s: %s", connName(cp->tgt), err);
        return -1;
    }
    cp->im = importNew(&cp->tinfo, &cp->cfg->imp);
    writerOptions wo = {.on_reply = onReplyCopy, .ctx = cp};
    cp->w = !cp->im ? NULL : cp->rt ? writerNewRouted(cp->rt, &wo) : writerNew(cp->tgt, &wo);
    if (!cp->w) return -1;
    importSetWriter(cp->im, cp->w);
    return 0;
}

static int copyFunction(void *ctx, const char *code, size_t len) {
    copier *cp = ctx;
    rdbFunction fn = {.code = code, .len = len};
    rdbHandlers h;
    importHandlers(cp->im, &h);
    return h.function(h.ctx, &fn);
}

/* Every key scanned is counted once: written, skipped (vanished between
 * SCAN and DUMP, expired, existing, other db), failed, or not attempted
 * (read but never written: a stop came first). */
static void summary(copier *cp) {
    const importStats *s = importGetStats(cp->im);
    uint64_t done = cp->st.vanished + cp->st.filtered + importSettled(s);
    uint64_t rest = cp->st.scanned > done ? cp->st.scanned - done : 0;
    logInfo("scan copy: %llu keys scanned, %llu written, %llu vanished during the copy, "
            "%llu existing skipped, %llu expired skipped, %llu other db skipped, %llu filtered%s, %llu conflicting, "
            "%llu failed, %llu not representable, %llu not attempted, %llu functions",
            (unsigned long long)cp->st.scanned, (unsigned long long)s->written, (unsigned long long)cp->st.vanished,
            (unsigned long long)s->skipped_conflict, (unsigned long long)s->skipped_expired,
            (unsigned long long)s->skipped_db, (unsigned long long)(cp->st.filtered + s->skipped_filtered),
            cp->st.server_side ? " (more by SCAN MATCH/TYPE on the source, not counted)" : "",
            (unsigned long long)s->conflicts, (unsigned long long)s->failed,
            (unsigned long long)s->unrepresentable, (unsigned long long)rest, (unsigned long long)s->functions);
}

outcome scanCopy(const scanCopyConfig *cfg) {
    copier cp = {.cfg = cfg, .scan = cfg->scan};
    if (cfg->scan.slots) memcpy(cp.served, cfg->scan.slots, sizeof(cp.served));
    pthread_t sub_th;
    int subscribed = 0, known = 0;
    outcome rc = OUTCOME_OK;
    pthread_mutex_init(&cp.q.mu, NULL);
    pthread_cond_init(&cp.q.cv, NULL);
    pthread_mutex_init(&cp.emu, NULL);
    cp.pg = progressNew(cfg->scan.quiet, "scan", 0); /* NULL (out of memory): no status lines */
    progressSetInterval(cp.pg, cfg->status_interval_ms);
    if (openBoth(&cp) < 0) {
        rc = OUTCOME_CONNECT;
    } else if ((known = cp.rt ? ctargetCheckDbsFrom(cp.src, connName(cp.tgt), &cfg->imp, cp.err, sizeof(cp.err))
                              : preflightDbsFrom(cp.src, cp.tgt, &cfg->imp, cp.err, sizeof(cp.err))) < 0) {
        rc = known == -1 ? OUTCOME_WRITE : OUTCOME_CONNECT; /* a db the target lacks; nothing written */
    } else if ((cp.rt ? ctargetPrepare(cp.rt, &cp.tinfo, cfg->flush_target, cp.err, sizeof(cp.err))
                      : preflightPrepare(cp.tgt, &cp.tinfo, cfg->flush_target, cp.err, sizeof(cp.err))) < 0) {
        rc = OUTCOME_WRITE;
    } else if (cfg->follow && (known = ksnSetup(&cp)) < 0) {
        rc = OUTCOME_USAGE; /* a setting to change on the source, named in cp.err */
    } else if (cfg->follow && subscribe(&cp, &sub_th) < 0) {
        rc = OUTCOME_CONNECT;
    } else if ((subscribed = cfg->follow) && known == 1 && ksnProbe(&cp) < 0) {
        rc = OUTCOME_USAGE;
    } else {
        char ferr[256];
        if (scanFunctions(cp.src, copyFunction, &cp, ferr, sizeof(ferr)) < 0)
            rc = OUTCOME_CONNECT, snprintf(cp.err, sizeof(cp.err), "%s", ferr);
        else if (copyPass(&cp) < 0 || (cfg->hooks && cfg->hooks->takeover && cp.pass_done && pruneTarget(&cp) < 0))
            rc = cp.fatal ? cp.fatal : OUTCOME_CONNECT;
        /* Commands sent before a refusal still reach the target: read
         * their replies so that "written" is what the target took. */
        if (writerStopped(cp.w) && writerSettle(cp.w) == 0) importCleanup(cp.im, cp.tgt);
        summary(&cp);
        if (cp.rt) ctargetSummary(cp.rt);
        if (rc == OUTCOME_OK && !cp.pass_done && stopRequested()) {
            snprintf(cp.err, sizeof(cp.err), "scan copy interrupted by %s before the pass was complete: the target "
                     "is partial (%llu keys written)", stopSignalName(),
                     (unsigned long long)importGetStats(cp.im)->written);
            rc = OUTCOME_INTERRUPTED;
        }
        if (rc == OUTCOME_OK && cfg->follow) {
            importSetConflict(cp.im, CONFLICT_REPLACE); /* later copies update what we wrote */
            if (follow(&cp, &sub_th) < 0) rc = cp.fatal ? cp.fatal : OUTCOME_CONNECT;
            if (cp.w && !writerStopped(cp.w)) writerDrain(cp.w);
        }
    }
    if (rc != OUTCOME_OK && cp.err[0]) logError("%s", cp.err);
    if (rc == OUTCOME_OK && (importGetStats(cp.im)->failed || importGetStats(cp.im)->unrepresentable)) rc = OUTCOME_WRITE;
    if (cp.sub && subscribed) stopSub(&cp, sub_th);
    else connClose(cp.sub);
    if (cp.ksn_changed) ksnRestore(&cp);
    for (qitem *q = cp.ehead, *next; q; q = next) next = q->next, free(q); /* stopped with events queued */
    writerFree(cp.w);
    routerFree(cp.rt);
    importFree(cp.im);
    connClose(cp.src);
    connClose(cp.tgt);
    progressFree(cp.pg);
    return rc;
}

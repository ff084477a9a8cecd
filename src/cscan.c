/* cscan.c -- scan mode on a Redis Cluster source (see cscan.h). */
#include "cscan.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "log.h"
#include "scan.h"
#include "verify.h"
#include "rdb/decode.h"

/* A node's URL: the user's (credentials, TLS) with the node's address. */
static int nodeUrl(const rsUrl *seed, const csNode *n, rsUrl *out) {
    clusterNode cn = {.host = (char *)n->host, .port = n->port};
    return clusterNodeUrl(seed, &cn, out);
}

/* ---- Snapshots: --checksum and --file, a shard at a time ---- */

int cscanShard(const snapshotConfig *cfg, const csShard *s, int use_replicas, const rdbHandlers *h, outcome *why,
               char *err, size_t errlen) {
    rsUrl u = {0};
    const csNode *n = use_replicas && s->replica.port ? &s->replica : &s->master;
    if (nodeUrl(cfg->source, n, &u) < 0) {
        *why = OUTCOME_INTERNAL;
        return snprintf(err, errlen, "out of memory"), -1;
    }
    snapshotConfig sc = *cfg;
    sc.source = &u;
    sc.source_conn.readonly = n == &s->replica; /* the replica answers for its master's slots */
    char msg[800] = "";
    int rc = snapshotScanDecode(&sc, s->slots, 1, 1, h, why, msg, sizeof(msg));
    if (rc < 0) snprintf(err, errlen, "shard %s:%d (slots %s): %s", n->host, n->port, s->ranges, msg);
    urlFree(&u);
    return rc;
}

/* ---- --verify with --source-replicas: a cluster source read on its replicas ---- */

/* The shard serving a key's slot (the topology read at the start). */
static int shardOf(void *ctx, const char *key, size_t len) {
    const csTopo *t = ctx;
    unsigned slot = clusterKeySlot(key, len);
    for (int i = 0; i < t->n; i++)
        if (t->shard[i].slots[slot >> 3] >> (slot & 7) & 1) return i;
    return 0; /* every slot is served (clusterMapComplete) */
}

/* One side of --verify (verify.h): a connection to every shard of t, on
 * its replica after READONLY with use_replicas (a shard without one: its
 * master, said in one line), else on its master. -1 after its error line. */
static int openSide(const rsUrl *seed, const rsConnOptions *co, const csTopo *t, int use_replicas,
                    verifySource *vs) {
    vs->n = t->n, vs->owner = shardOf, vs->ctx = (void *)t;
    vs->conns = calloc((size_t)t->n, sizeof(*vs->conns));
    vs->infos = calloc((size_t)t->n, sizeof(*vs->infos));
    if (!vs->conns || !vs->infos) return logError("out of memory"), -1;
    for (int i = 0; i < t->n; i++) {
        const csShard *s = &t->shard[i];
        const csNode *n = use_replicas && s->replica.port ? &s->replica : &s->master;
        if (use_replicas && n == &s->master)
            logWarn("--source-replicas: shard %s:%d has no replica; reading its master", s->master.host,
                    s->master.port);
        rsConnOptions o = *co;
        o.readonly = n == &s->replica; /* the replica answers for its master's slots */
        rsUrl u = {0};
        char err[600] = "out of memory";
        if (nodeUrl(seed, n, &u) == 0) {
            vs->conns[i] = connOpen(&u, &o, err, sizeof(err));
            if (vs->conns[i] && connServerInfo(vs->conns[i], &vs->infos[i]) < 0)
                snprintf(err, sizeof(err), "INFO failed: %s", connError(vs->conns[i]));
            else if (vs->conns[i]) err[0] = '\0';
        }
        urlFree(&u);
        if (err[0]) return logError("shard %s:%d (slots %s): %s", n->host, n->port, s->ranges, err), -1;
    }
    return 0;
}

static void closeSide(verifySource *vs) {
    for (int i = 0; vs->conns && i < vs->n; i++) connClose(vs->conns[i]);
    free(vs->conns);
    free(vs->infos);
}

outcome cscanVerify(const snapshotConfig *cfg, const csTopo *src, const csTopo *tgt, int use_replicas) {
    verifySource s = {0}, t = {0};
    outcome rc = OUTCOME_OK;
    if (src && openSide(cfg->source, &cfg->source_conn, src, use_replicas, &s) < 0) rc = OUTCOME_CONNECT;
    if (rc == OUTCOME_OK && tgt && openSide(cfg->target, &cfg->target_conn, tgt, 0, &t) < 0) rc = OUTCOME_CONNECT;
    if (rc == OUTCOME_OK) rc = verifyRunSides(cfg, src ? &s : NULL, tgt ? &t : NULL);
    closeSide(&s);
    closeSide(&t);
    return rc;
}

/* ---- Scan mode, following: one copy per master, and their coordinator ---- */

#define SLOT_BYTES (CS_SLOTS / 8)
#define REFRESH_MS 1000   /* the topology is read again this often */
#define HOLD_MAX_MS 60000 /* a copy that lost slots drains within this, or is not waited for */

/* A key handed from one copy to another after a redirect. */
typedef struct handed {
    struct handed *next;
    int db, ask;
    size_t len;
    char key[];
} handed;

struct coord;

typedef struct master {
    struct coord *co;
    pthread_t th;
    int started, joined;
    int excused;                      /* failed, but serves no slot now */
    int done;                         /* atomic: its copy returned */
    outcome rc;
    scanCopyConfig cfg;
    scanCopyHooks hooks;
    rsUrl url;                        /* the node read: its replica with --source-replicas */
    csNode addr;                      /* the master's address (topology, redirects) */
    char node[300];                   /* the same, for messages ("[v6]:port") */
    char tag[320];
    unsigned char first[SLOT_BYTES];  /* its copy's first pass: these slots */
    /* under co->mu */
    unsigned acked;                   /* the generation its copy drained at last */
    unsigned char pending[SLOT_BYTES];
    int npending;                     /* slots to scan again */
    int stop;
    handed *inbox;
    /* the coordinator's own (its thread only) */
    unsigned lost_gen;                /* the generation it last lost slots at */
    unsigned char held[SLOT_BYTES];   /* slots it took over, scanned once the losers drained */
    int nheld;
} master;

typedef struct coord {
    pthread_mutex_t mu;
    const scanCopyConfig *cfg;
    int use_replicas;                 /* --source-replicas: each copy reads its master's replica */
    long rate_share;                  /* atomic: --rate over the masters serving slots (each copy's) */
    unsigned gen;                     /* under mu: bumped at each change of owners */
    master **m;                       /* under mu (grows); a master never moves */
    int n;
    short owner[CS_SLOTS];            /* the master serving each slot as last read */
    clusterMap *map;                  /* the last topology read: its nodes are asked first */
    const clusterMap *seed_map;       /* the first one (the caller's), until then */
    int refresh;                      /* atomic: read the topology now (a redirect to an unknown node) */
    int64_t held_since;               /* slots are held (see releaseHeld) since then; 0 none */
    uint64_t handed, changes, rescans; /* for the summary (handed: under mu) */
} coord;

static int running(master *m) { return m->started && !__atomic_load_n(&m->done, __ATOMIC_ACQUIRE); }

static void slotSet(unsigned char *b, int slot) { b[slot >> 3] |= (unsigned char)(1 << (slot & 7)); }

/* scanCopyHooks.turn, on the copy's thread. */
static void turnHook(void *ctx, scanCopyTurn *t) {
    master *m = ctx;
    coord *co = m->co;
    pthread_mutex_lock(&co->mu);
    m->acked = t->gen;
    t->gen = co->gen;
    if (m->npending) {
        t->rescan = 1;
        memcpy(t->slots, m->pending, SLOT_BYTES);
        memset(m->pending, 0, SLOT_BYTES);
        m->npending = 0;
    }
    t->stop = m->stop;
    handed *in = m->inbox;
    m->inbox = NULL;
    pthread_mutex_unlock(&co->mu);
    while (in) {
        handed *h = in;
        in = h->next;
        t->push(t->copy, h->db, h->key, h->len, h->ask);
        free(h);
    }
}

static master *findMaster(coord *co, const char *host, int port) {
    for (int i = 0; i < co->n; i++)
        if (clusterSameAddr(co->m[i]->addr.host, co->m[i]->addr.port, host, port)) return co->m[i];
    return NULL;
}

/* scanCopyHooks.redirect, on the copy's thread (its writes drained): the
 * key goes to the copy of the node named; with no such copy running, the
 * topology is read again, and the slot's new owner scans it when its
 * copy starts. */
static void redirectHook(void *ctx, int db, const char *key, size_t len, int ask, const char *host, int port) {
    master *m = ctx;
    coord *co = m->co;
    pthread_mutex_lock(&co->mu);
    master *to = findMaster(co, host, port);
    handed *h = to && to != m && running(to) && !to->stop ? malloc(sizeof(*h) + len) : NULL;
    if (h) {
        h->db = db, h->ask = ask, h->len = len;
        memcpy(h->key, key, len);
        h->next = to->inbox;
        to->inbox = h;
        co->handed++;
    } else {
        __atomic_store_n(&co->refresh, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&co->mu);
}

static void *copyThread(void *arg) {
    master *m = arg;
    logSetThreadTag(m->tag);
    m->rc = scanCopy(&m->cfg);
    __atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* The master serving at host:port, added (not started) when new; its copy
 * reads replica (port 0: none) with --source-replicas, after READONLY. NULL
 * on OOM. Called locked. */
static master *masterFor(coord *co, const char *host, int port, const csNode *replica) {
    char node[300]; /* for messages ("[v6]:port") */
    snprintf(node, sizeof(node), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    master *m = findMaster(co, host, port);
    if (m) return m;
    master **grown = realloc(co->m, (size_t)(co->n + 1) * sizeof(*grown));
    if (!grown) return NULL;
    co->m = grown;
    m = calloc(1, sizeof(*m));
    csNode n = {.port = port};
    snprintf(n.host, sizeof(n.host), "%s", host);
    int via = co->use_replicas && replica->port;
    if (!m || nodeUrl(co->cfg->source, via ? replica : &n, &m->url) < 0) return free(m), NULL;
    if (co->use_replicas && !via)
        logWarn("--source-replicas: shard %s has no replica; reading its master", node);
    m->co = co;
    m->acked = co->gen;
    m->addr = n;
    snprintf(m->node, sizeof(m->node), "%s", node);
    if (via)
        snprintf(m->tag, sizeof(m->tag), strchr(replica->host, ':') ? "shard [%s]:%d" : "shard %s:%d", replica->host,
                 replica->port);
    else
        snprintf(m->tag, sizeof(m->tag), "shard %s", node);
    m->hooks = (scanCopyHooks){.ctx = m, .turn = turnHook, .redirect = redirectHook};
    m->cfg = *co->cfg;
    m->cfg.source = &m->url;
    m->cfg.source_conn.readonly = via;
    if (co->cfg->scan.rate > 0) m->cfg.scan.rate_share = &co->rate_share;
    m->cfg.flush_target = 0; /* done once, before any copy */
    m->cfg.hooks = &m->hooks;
    m->cfg.scan.slots = m->first;
    m->cfg.scan.moved_vanish = 1; /* a moved slot is scanned again by its new owner (--once: at the end) */
    co->m[co->n++] = m;
    return m;
}

/* --rate is for the whole cluster: the copies run at once, each paced to
 * its share (its master's keys are about a share of the cluster's). Read
 * by the copies at every burst. */
static void shareRate(coord *co, int masters) {
    long rate = co->cfg->scan.rate, share = masters > 0 ? rate / masters : rate;
    if (rate <= 0) return;
    if (share < 1) share = 1;
    long was = __atomic_exchange_n(&co->rate_share, share, __ATOMIC_RELAXED);
    if (was != share && !co->cfg->scan.quiet)
        logInfo("--rate %ld keys/s for the whole cluster: %ld for each of its %d masters", rate, share, masters);
}

/* Start m's copy over the slots in m->first; takeover: they were another
 * node's (later copies replace what is on the target). -1 when the
 * thread cannot start. */
static int startCopy(master *m, int takeover) {
    if (m->started && !m->joined) pthread_join(m->th, NULL);
    pthread_mutex_lock(&m->co->mu); /* other copies' redirects look at these */
    m->started = m->joined = 0;
    __atomic_store_n(&m->done, 0, __ATOMIC_RELEASE);
    m->stop = m->excused = 0;
    m->hooks.takeover = takeover;
    if (takeover) m->cfg.imp.on_conflict = CONFLICT_REPLACE;
    m->started = pthread_create(&m->th, NULL, copyThread, m) == 0;
    pthread_mutex_unlock(&m->co->mu);
    return m->started ? 0 : -1;
}

/* Slots that changed owner are scanned by their new owner only once
 * every copy that lost slots drained its writes: one of its writes, read
 * before the move, must not land after the new owner's. A copy drains at
 * its next turn of the follow loop; one still in its first pass drains at
 * its end (so the hold may last), one that ended no longer counts. After
 * HOLD_MAX_MS (a copy blocked on a node that vanished) they go anyway. */
static int releaseHeld(coord *co) {
    int waiting = 0, held = 0, rc = 0;
    pthread_mutex_lock(&co->mu);
    for (int i = 0; i < co->n; i++) {
        master *m = co->m[i];
        waiting += running(m) && m->lost_gen && (int)(m->acked - m->lost_gen) < 0;
        held += m->nheld > 0;
    }
    pthread_mutex_unlock(&co->mu);
    if (!held) return 0;
    if (waiting && clockMonoMs() - co->held_since < HOLD_MAX_MS) return 0;
    if (waiting)
        logWarn("%d cop%s that lost slots did not drain their writes within %d s: the new owners scan the moved "
                "slots anyway", waiting, waiting == 1 ? "y" : "ies", HOLD_MAX_MS / 1000);
    co->held_since = 0;
    for (int i = 0; i < co->n && rc == 0; i++) {
        master *m = co->m[i];
        if (!m->nheld) continue;
        pthread_mutex_lock(&co->mu);
        int live = running(m), ending = live && m->stop;
        if (live && !ending) {
            for (int b = 0; b < SLOT_BYTES; b++) m->pending[b] |= m->held[b];
            m->npending += m->nheld;
        }
        co->rescans += !ending;
        pthread_mutex_unlock(&co->mu);
        if (ending) { /* told to end before it gained these: started again once it did */
            co->held_since = clockMonoMs();
            continue;
        }
        if (!live) {
            memcpy(m->first, m->held, SLOT_BYTES);
            if (!co->cfg->scan.quiet)
                logInfo("%s is a master now (%d slots taken over): subscribing and scanning them", m->node, m->nheld);
            if (startCopy(m, 1) < 0) logError("cannot start the copy of %s", m->node), rc = -1;
        }
        memset(m->held, 0, SLOT_BYTES);
        m->nheld = 0;
    }
    return rc;
}

/* The shard's first replica not flagged failed (port 0: none). */
static void firstReplica(const clusterShard *cs, csNode *out) {
    memset(out, 0, sizeof(*out));
    for (int r = 0; r < cs->nreplicas && !out->port; r++)
        if (!cs->replicas[r].failed) {
            snprintf(out->host, sizeof(out->host), "%s", cs->replicas[r].host ? cs->replicas[r].host : "");
            out->port = cs->replicas[r].port;
        }
}

/* The new owner of each slot, from a fresh topology: masters added for
 * nodes never seen. 0, or -1 when no node answered. */
static int readOwners(coord *co, short *now, clusterMap **out) {
    char err[300];
    rsConnOptions o = co->cfg->source_conn;
    o.connect_timeout_ms = 1000;
    clusterMap *nm = clusterMapReload(co->map ? co->map : co->seed_map, co->cfg->source, &o, err, sizeof(err));
    if (!nm) return -1;
    pthread_mutex_lock(&co->mu);
    int rc = 0, last = -1;
    csNode replica;
    for (int slot = 0; slot < CS_SLOTS && rc == 0; slot++) {
        int si = nm->owner[slot];
        now[slot] = co->owner[slot];
        if (si < 0 || si >= nm->nshards) continue; /* in between owners: as before */
        const clusterShard *cs = &nm->shards[si];
        if (si != last) firstReplica(cs, &replica), last = si; /* slots come in ranges */
        master *m = masterFor(co, cs->master.host ? cs->master.host : "", cs->master.port, &replica);
        if (!m) rc = -1;
        for (int i = 0; m && i < co->n; i++)
            if (co->m[i] == m) now[slot] = (short)i;
    }
    pthread_mutex_unlock(&co->mu);
    if (rc < 0) return clusterMapFree(nm), -1;
    *out = nm;
    return 0;
}

/* Read the topology; when slots changed owner: wait until the copies that
 * lost them drained their writes, then have each gaining copy scan them
 * again (a new master's copy starts with them), and end the copies whose
 * node serves no slot. -1 when a copy cannot start. */
static int refreshTopology(coord *co) {
    static short now[CS_SLOTS];
    clusterMap *nm = NULL;
    if (readOwners(co, now, &nm) < 0) return 0; /* no node answered: the copies' own errors tell */
    int n = co->n, changed = 0, rc = 0;
    unsigned char *losers = calloc((size_t)n, 1), *gained = calloc((size_t)n, SLOT_BYTES);
    int *owns = calloc((size_t)n, sizeof(*owns)), *ngained = calloc((size_t)n, sizeof(*ngained));
    if (!losers || !gained || !owns || !ngained) rc = -1;
    for (int slot = 0; rc == 0 && slot < CS_SLOTS; slot++) {
        if (now[slot] >= 0) owns[now[slot]]++;
        if (now[slot] == co->owner[slot]) continue;
        changed++;
        if (co->owner[slot] >= 0) losers[co->owner[slot]] = 1;
        slotSet(gained + (size_t)now[slot] * SLOT_BYTES, slot);
        ngained[now[slot]]++;
    }
    if (rc == 0 && changed) {
        pthread_mutex_lock(&co->mu);
        unsigned gen = ++co->gen;
        for (int i = 0; i < n; i++) {
            master *m = co->m[i];
            if (losers[i]) m->lost_gen = gen;
            for (int b = 0; ngained[i] && b < SLOT_BYTES; b++) m->held[b] |= gained[(size_t)i * SLOT_BYTES + b];
            m->nheld += ngained[i];
            if (!owns[i] && running(m) && !m->stop) {
                m->stop = 1;
                if (!co->cfg->scan.quiet) logInfo("%s serves no slot now: its copy ends", m->node);
            }
        }
        pthread_mutex_unlock(&co->mu);
        if (!co->held_since) co->held_since = clockMonoMs();
        int masters = 0;
        for (int i = 0; i < n; i++) masters += owns[i] > 0;
        shareRate(co, masters);
        if (!co->cfg->scan.quiet) logInfo("cluster source: %d slots changed owner; the new owners scan them again", changed);
        co->changes++;
        memcpy(co->owner, now, sizeof(co->owner));
    }
    free(losers);
    free(gained);
    free(owns);
    free(ngained);
    if (rc == 0) clusterMapFree(co->map), co->map = nm;
    else clusterMapFree(nm);
    return rc;
}

/* A copy ended with an error: fatal, unless its node serves no slot now
 * (a failover took them; their new owner scans them). A lost node is
 * replaced only after the cluster's node timeout: the topology is read
 * again for up to FAILOVER_WAIT_MS when the copy lost its connection. */
#define FAILOVER_WAIT_MS 15000

/* --source-replicas, following: the replica m read is lost (its copy
 * failed on the connection) while its master still serves the shard's
 * slots. The copy goes on on the master: subscribed there, then a pass over
 * the shard's slots with the target's keys the master lacks pruned (a takeover:
 * what changed or was deleted while no subscription was up is there, and
 * only there). One line says so. 0 when it started again, -1 when not
 * (the failure stands). */
/* m's copy reads its master from now on (it read the replica). Its copy
 * is not running. -1 on OOM. */
static int readMaster(coord *co, master *m) {
    rsUrl u = {0};
    if (!m->cfg.source_conn.readonly) return 0;
    if (nodeUrl(co->cfg->source, &m->addr, &u) < 0) return -1;
    pthread_mutex_lock(&co->mu); /* other copies' redirects read the master */
    urlFree(&m->url);
    m->url = u;
    m->cfg.source_conn.readonly = 0;
    snprintf(m->tag, sizeof(m->tag), "shard %s", m->node);
    pthread_mutex_unlock(&co->mu);
    return 0;
}

static int replicaLost(coord *co, int i) {
    master *m = co->m[i];
    unsigned char mine[SLOT_BYTES] = {0};
    int n = 0;
    for (int slot = 0; slot < CS_SLOTS; slot++)
        if (co->owner[slot] == i) slotSet(mine, slot), n++;
    if (!n) return -1;
    char lost[320];
    snprintf(lost, sizeof(lost), "%s", m->tag + strlen("shard ")); /* the replica read */
    if (readMaster(co, m) < 0) return -1;
    logWarn("--source-replicas: lost %s, the replica read for shard %s (its reason above): reading the master "
            "from now on, subscribed there, its %d slots scanned again", lost, m->node, n);
    memcpy(m->first, mine, SLOT_BYTES);
    return startCopy(m, 1);
}

static int copyFailed(coord *co, int i) {
    int64_t start = clockMonoMs();
    if (!co->cfg->follow) return 1; /* --once: its keys would be missing */
    master *m = co->m[i];
    if (m->cfg.source_conn.readonly && m->rc == OUTCOME_CONNECT && !scanStopRequested()) {
        if (refreshTopology(co) < 0) return 1;
        for (int slot = 0; slot < CS_SLOTS; slot++)
            if (co->owner[slot] == i) return replicaLost(co, i) < 0;
    }
    for (;;) {
        if (refreshTopology(co) < 0) return 1;
        int owns = 0;
        for (int slot = 0; slot < CS_SLOTS && !owns; slot++) owns = co->owner[slot] == i;
        if (!owns) break;
        if (co->m[i]->rc != OUTCOME_CONNECT || scanStopRequested() || clockMonoMs() - start > FAILOVER_WAIT_MS)
            return 1;
        usleep(500 * 1000);
    }
    logWarn("%s stopped (its reason above), but serves no slot now: its slots are read from their new owners",
            co->m[i]->node);
    co->m[i]->excused = 1;
    return 0;
}

/* ---- --once: slots that moved during the passes ----
 *
 * A pass reads each slot where the topology read at the start put it. A
 * slot that moves meanwhile (a reshard) may be missed: its keys already
 * migrated are gone from the old owner, and a replica answers for its
 * master's whole migrating slot without -ASK. So after the passes the
 * coordinator waits until no slot is MIGRATING or IMPORTING, reads the
 * topology again, and has the owner of every slot that changed owner or
 * was seen migrating (at the start, or after the passes) scan it again,
 * on the owner itself (its replica may not have the moved keys yet), with
 * the target's keys of those slots that the owner lacks deleted. Again
 * until nothing moved during a round. A slot moved away and back between
 * two looks is not seen. */
#define SETTLE_MS 60000 /* a migration under way after the passes is waited for this long */
#define ONCE_ROUNDS 5

/* The slots a master's own line of CLUSTER NODES shows in migration
 * ("[93->-id]" migrating, "[93-<-id]" importing) into out; their count
 * (0 when the command is refused: said once), or -1 when the node cannot
 * be reached (one line). */
static int nodeMigrating(coord *co, master *m, unsigned char *out) {
    char err[512];
    rsUrl u = {0};
    rsConnOptions o = co->cfg->source_conn;
    o.readonly = 0, o.connect_timeout_ms = 2000;
    rsConn *c = nodeUrl(co->cfg->source, &m->addr, &u) == 0 ? connOpen(&u, &o, err, sizeof(err)) : NULL;
    urlFree(&u);
    redisReply *r = c ? connCommandf(c, "CLUSTER NODES") : NULL;
    int n = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        n = 0;
        /* the node's own line: flags "myself,master" */
        const char *me = strstr(r->str, "myself"), *line = me, *end;
        while (line && line > r->str && line[-1] != '\n') line--;
        end = line ? strchr(line, '\n') : NULL;
        for (const char *b = line ? strchr(line, '[') : NULL; b && (!end || b < end); b = strchr(b + 1, '[')) {
            const char *dash = b + 1 + strspn(b + 1, "0123456789"); /* "[93->-id]", "[93-<-id]" */
            if (strncmp(dash, "->-", 3) == 0 || strncmp(dash, "-<-", 3) == 0)
                slotSet(out, atoi(b + 1) & (CS_SLOTS - 1)), n++;
        }
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        /* refused (a managed service's ACL): moves are seen by owner only */
        static int said;
        if (!said++)
            logWarn("--once: %s refused CLUSTER NODES (%s): a slot still in migration after the pass is not "
                    "seen, only slots that changed owner", m->node, r->str);
        n = 0;
    } else {
        logError("--once: cannot read CLUSTER NODES on %s (slots in migration): %s", m->node,
                 c ? connError(c) : err);
    }
    if (r) freeReplyObject(r);
    connClose(c);
    return n;
}

/* The slots in migration on the masters serving slots now, into out
 * (or'd); their count, -1 on error. */
static int migratingSlots(coord *co, unsigned char *out) {
    int total = 0;
    for (int i = 0; i < co->n; i++) {
        int serves = 0;
        for (int slot = 0; slot < CS_SLOTS && !serves; slot++) serves = co->owner[slot] == i;
        int n = serves ? nodeMigrating(co, co->m[i], out) : 0;
        if (n < 0) return -1;
        total += n;
    }
    return total;
}

/* Wait until no slot is in migration (or'ing those seen into moving). */
static int settle(coord *co, unsigned char *moving) {
    int64_t start = clockMonoMs();
    for (;;) {
        int n = migratingSlots(co, moving);
        if (n <= 0) return n;
        if (scanStopRequested()) return -1;
        if (clockMonoMs() - start > SETTLE_MS) {
            logError("--once: %d slot%s still in migration after %d s: their keys may be on two nodes; run again "
                     "once the reshard is done", n, n == 1 ? " is" : "s are", SETTLE_MS / 1000);
            return -1;
        }
        usleep(500 * 1000);
    }
}

/* Restart the copies over the slots that moved; their outcome. */
static outcome rescanMoved(coord *co, const short *was, const unsigned char *moving) {
    int total = 0;
    outcome rc = OUTCOME_OK;
    for (int i = 0; i < co->n && rc == OUTCOME_OK; i++) {
        master *m = co->m[i];
        unsigned char mine[SLOT_BYTES] = {0};
        int n = 0;
        for (int slot = 0; slot < CS_SLOTS; slot++)
            if (co->owner[slot] == i && (was[slot] != i || moving[slot >> 3] >> (slot & 7) & 1))
                slotSet(mine, slot), n++;
        if (!n) continue;
        if (!co->cfg->scan.quiet)
            logInfo("--once: %d slots moved or were in migration during the pass: %s scans them again", n, m->node);
        memcpy(m->first, mine, SLOT_BYTES);
        if (readMaster(co, m) < 0 || startCopy(m, 1) < 0) rc = OUTCOME_INTERNAL;
        total += n;
    }
    for (int i = 0; i < co->n; i++) {
        master *m = co->m[i];
        if (!m->started || m->joined) continue;
        pthread_join(m->th, NULL);
        m->joined = 1;
        if (rc == OUTCOME_OK) rc = m->rc;
    }
    co->rescans += (uint64_t)total;
    return rc;
}

/* --once, after the passes: the slots that moved meanwhile scanned again
 * from their owners (see above); moving: those seen in migration at the
 * start. */
static outcome onceSettle(coord *co, unsigned char *moving) {
    static short was[CS_SLOTS], now[CS_SLOTS];
    for (int round = 0; round < ONCE_ROUNDS && !scanStopRequested(); round++) {
        clusterMap *nm = NULL;
        if (settle(co, moving) < 0) return scanStopRequested() ? OUTCOME_INTERRUPTED : OUTCOME_CONNECT;
        if (readOwners(co, now, &nm) < 0) {
            logError("--once: no node of the cluster answered for its topology after the pass");
            return OUTCOME_CONNECT;
        }
        clusterMapFree(co->map), co->map = nm;
        memcpy(was, co->owner, sizeof(was));
        memcpy(co->owner, now, sizeof(now));
        int moved = 0;
        for (int slot = 0; slot < CS_SLOTS && !moved; slot++)
            moved = was[slot] != now[slot] || moving[slot >> 3] >> (slot & 7) & 1;
        if (!moved) return OUTCOME_OK;
        co->changes++;
        outcome rc = rescanMoved(co, was, moving);
        if (rc != OUTCOME_OK) return rc;
        memset(moving, 0, SLOT_BYTES);
    }
    if (scanStopRequested()) return OUTCOME_INTERRUPTED;
    logError("--once: slots kept moving through %d rescans: run again once the reshard is done", ONCE_ROUNDS);
    return OUTCOME_CONNECT;
}

static void coordFree(coord *co) {
    for (int i = 0; i < co->n; i++) {
        master *m = co->m[i];
        if (m->started && !m->joined) pthread_join(m->th, NULL);
        while (m->inbox) {
            handed *h = m->inbox;
            m->inbox = h->next;
            free(h);
        }
        urlFree(&m->url);
        free(m);
    }
    free(co->m);
    clusterMapFree(co->map);
}

outcome cscanCopy(const scanCopyConfig *cfg, const csTopo *t, int use_replicas) {
    static coord co; /* 32 KB of owners: off the stack */
    memset(&co, 0, sizeof(co));
    pthread_mutex_init(&co.mu, NULL);
    co.cfg = cfg;
    co.use_replicas = use_replicas;
    for (int s = 0; s < CS_SLOTS; s++) co.owner[s] = -1;
    co.seed_map = t->map;
    if (!cfg->scan.quiet)
        logInfo("cluster source in scan mode: %d masters, each scanned%s%s", t->n, cfg->follow ? " and followed" : "",
                use_replicas ? " (on its replica)" : "");
    shareRate(&co, t->n);
    outcome rc = OUTCOME_OK;
    unsigned char moving[SLOT_BYTES] = {0}; /* --once: slots in migration at the start */
    for (int i = 0; i < t->n && rc == OUTCOME_OK; i++) {
        pthread_mutex_lock(&co.mu);
        master *m = masterFor(&co, t->shard[i].master.host, t->shard[i].master.port, &t->shard[i].replica);
        pthread_mutex_unlock(&co.mu);
        if (m) {
            memcpy(m->first, t->shard[i].slots, SLOT_BYTES);
            for (int s = 0; s < CS_SLOTS; s++)
                if (t->shard[i].slots[s >> 3] >> (s & 7) & 1) co.owner[s] = (short)(co.n - 1);
        }
        if (!m || startCopy(m, 0) < 0) {
            logError("cannot start the scan of shard %s:%d", t->shard[i].master.host, t->shard[i].master.port);
            rc = OUTCOME_INTERNAL;
        }
    }
    if (rc == OUTCOME_OK && !cfg->follow && migratingSlots(&co, moving) < 0) rc = OUTCOME_CONNECT;
    if (rc != OUTCOME_OK) scanRequestStop();
    int failed = -1, live;
    int64_t last = clockMonoMs();
    do {
        live = 0;
        for (int i = 0; i < co.n; i++) {
            master *m = co.m[i];
            if (!m->started || m->joined) continue;
            if (running(m)) {
                live++;
                continue;
            }
            pthread_join(m->th, NULL);
            m->joined = 1;
            if (m->rc != OUTCOME_OK && !scanStopRequested() && failed < 0 && copyFailed(&co, i)) {
                failed = i;
                logError("%s stopped (its reason above): stopping the other shards", m->tag);
                scanRequestStop();
            }
        }
        int due = clockMonoMs() - last >= REFRESH_MS || __atomic_exchange_n(&co.refresh, 0, __ATOMIC_ACQ_REL);
        if (cfg->follow && live && due && !scanStopRequested()) {
            if (refreshTopology(&co) < 0) scanRequestStop(), rc = OUTCOME_INTERNAL;
            last = clockMonoMs();
        }
        if (cfg->follow && !scanStopRequested() && releaseHeld(&co) < 0) scanRequestStop(), rc = OUTCOME_INTERNAL;
        /* slots held for a copy not started yet: the last copy may just have ended */
        for (int i = 0; i < co.n && !scanStopRequested(); i++) live += co.m[i]->nheld > 0;
        if (live) usleep(50 * 1000);
    } while (live);
    if (cfg->follow && !cfg->scan.quiet)
        logInfo("cluster source: %llu topology changes, %llu scans of slots taken over, %llu keys handed to their "
                "node's copy after MOVED/ASK", (unsigned long long)co.changes, (unsigned long long)co.rescans,
                (unsigned long long)co.handed);
    if (rc == OUTCOME_OK && failed >= 0) rc = co.m[failed]->rc; /* the cause, not the others' stop */
    for (int i = 0; rc == OUTCOME_OK && i < co.n; i++)
        if (co.m[i]->started && !co.m[i]->excused) rc = co.m[i]->rc;
    if (rc == OUTCOME_OK && !cfg->follow && !scanStopRequested()) rc = onceSettle(&co, moving);
    coordFree(&co);
    return rc;
}

/* csource.c -- a Redis Cluster as the source (see csource.h). */
#include "csource.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "checksum.h"
#include "cluster.h"
#include "clock.h"
#include "cscan.h"
#include "cstate.h"
#include "ctload.h"
#include "ccutover.h"
#include "checkpoint.h"
#include "cmdkeys.h"
#include "libunion.h"
#include "filter.h"
#include "log.h"
#include "progress.h"
#include "scan.h"
#include "rdb/decode.h"
#include "rdb/digest.h"
#include "rdb/rdbfile.h"
#include "rdb/tee.h"
#include "stop.h"
#include "verify.h"

/* ---- Topology: cluster.h's map, seen as the shards that serve slots ---- */

static int hasSlot(const csShard *s, int slot) { return s->slots[slot >> 3] >> (slot & 7) & 1; }

static void addSlot(csShard *s, int slot) {
    s->slots[slot >> 3] |= (unsigned char)(1 << (slot & 7));
    s->nslots++;
    if (s->first_slot < 0) s->first_slot = slot;
}

static void copyNode(const clusterNode *from, csNode *to) {
    snprintf(to->host, sizeof(to->host), "%s", from->host ? from->host : "");
    to->port = from->port;
    snprintf(to->id, sizeof(to->id), "%s", from->id);
}

/* The ranges as the owner table says (a MOVED-updated map keeps stale
 * ranges; owner[] is the truth). */
static void describeRanges(csShard *s) {
    size_t n = 0;
    s->ranges[0] = '\0';
    for (int i = 0; i < CS_SLOTS; i++) {
        if (!hasSlot(s, i) || (i > 0 && hasSlot(s, i - 1))) continue;
        int j = i;
        while (j + 1 < CS_SLOTS && hasSlot(s, j + 1)) j++;
        if (n + 24 >= sizeof(s->ranges)) break;
        n += (size_t)snprintf(s->ranges + n, sizeof(s->ranges) - n, n ? ",%d-%d" : "%d-%d", i, j);
    }
}

/* The shards of m that serve at least one slot, by their first slot. */
static int topoFromMap(clusterMap *m, csTopo *t, char *err, size_t errlen) {
    t->map = m;
    t->shard = calloc((size_t)(m->nshards ? m->nshards : 1), sizeof(*t->shard));
    int *index = malloc((size_t)(m->nshards ? m->nshards : 1) * sizeof(*index)); /* map shard -> ours */
    t->n = 0;
    if (!t->shard || !index) return free(index), snprintf(err, errlen, "out of memory"), -1;
    for (int i = 0; i < m->nshards; i++) index[i] = -1;
    for (int slot = 0; slot < CS_SLOTS; slot++) {
        int o = m->owner[slot];
        if (o < 0 || o >= m->nshards) continue;
        if (index[o] < 0) {
            csShard *s = &t->shard[index[o] = t->n++];
            const clusterShard *cs = &m->shards[o];
            s->first_slot = -1;
            copyNode(&cs->master, &s->master);
            for (int r = 0; r < cs->nreplicas && !s->replica.port; r++)
                if (!cs->replicas[r].failed) copyNode(&cs->replicas[r], &s->replica);
            if (cs->master.id[0]) snprintf(s->ids[s->nids++], sizeof(s->ids[0]), "%s", cs->master.id);
            for (int r = 0; r < cs->nreplicas && s->nids < 8; r++)
                if (cs->replicas[r].id[0]) snprintf(s->ids[s->nids++], sizeof(s->ids[0]), "%s", cs->replicas[r].id);
        }
        addSlot(&t->shard[index[o]], slot);
    }
    free(index);
    for (int i = 0; i < t->n; i++) describeRanges(&t->shard[i]);
    if (t->n == 0) return snprintf(err, errlen, "no slot is served (the cluster is not set up)"), -1;
    return 0;
}

void csourceTopoFree(csTopo *t) {
    free(t->shard);
    clusterMapFree(t->map);
    memset(t, 0, sizeof(*t));
}

int csourceDetect(const rsUrl *u, const rsConnOptions *o, csTopo *t, char *err, size_t errlen) {
    memset(t, 0, sizeof(*t));
    rsConn *c = connOpen(u, o, err, errlen);
    if (!c) return -1;
    /* INFO refused (a replication-only ACL user): no way to tell, the
     * server is taken as it always was, a single one. */
    int rc = clusterDetect(c, err, errlen) == 1 ? 1 : 0;
    char msg[512] = "";
    clusterMap *m = rc ? clusterMapRead(c, u->host ? u->host : "127.0.0.1", o->tls.enabled || u->tls, msg,
                                        sizeof(msg)) : NULL;
    if (rc && (!m || clusterMapComplete(m, connName(c), msg, sizeof(msg)) < 0 ||
               topoFromMap(m, t, msg, sizeof(msg)) < 0)) {
        if (!t->map) clusterMapFree(m);
        csourceTopoFree(t);
        snprintf(err, errlen, "source %s is a cluster node, but its topology is not usable: %s", connName(c), msg);
        rc = -1;
    }
    connClose(c);
    return rc;
}

/* ---- A shard's node as a URL: the user's URL (credentials, TLS) with
 * the node's address ---- */

static int nodeUrl(const rsUrl *seed, const csNode *n, rsUrl *out) {
    clusterNode cn = {.host = (char *)n->host, .port = n->port};
    return clusterNodeUrl(seed, &cn, out);
}

/* The node to read a shard from: its replica with --source-replicas
 * (keeping the fork off the master), else its master. */
static const csNode *readNodeOf(const csShard *s, int use_replicas) {
    return use_replicas && s->replica.port ? &s->replica : &s->master;
}

static void shardName(const csShard *s, int use_replicas, char *out, size_t cap) {
    const csNode *n = readNodeOf(s, use_replicas);
    snprintf(out, cap, "%s:%d", n->host, n->port);
}

static int replicasMissing(const csTopo *t, int use_replicas) {
    if (!use_replicas) return 0;
    for (int i = 0; i < t->n; i++)
        if (!t->shard[i].replica.port) {
            logWarn("--source-replicas: shard %s:%d (slots %s) has no replica; reading its master",
                    t->shard[i].master.host, t->shard[i].master.port, t->shard[i].ranges);
        }
    return 0;
}

/* ---- --source C --checksum ---- */

/* One shard's snapshot through total (the report, or the merged file)
 * and its own counters (the JSON figures), over the replica path, or by
 * SCAN + DUMP when the shard refuses SYNC and PSYNC (counted in
 * *scanned): the same events either way, the RDB version first. Function
 * libraries, by either path: the union of the shards' (libunion.h), each
 * passed on once, one name with other code on two shards an error. */
static int decodeShard(const snapshotConfig *cfg, const csShard *s, int index, libUnion *libs, int use_replicas,
                       int *scanned, const rdbHandlers *total, checksum *one, outcome *why, char *err,
                       size_t errlen) {
    rsUrl u = {0};
    rdbHandlers a, b, h;
    char name[300];
    shardName(s, use_replicas, name, sizeof(name));
    libRelay *lr = libRelayNew(libs, index, name, total);
    if (lr) libRelayHandlers(lr, &a);
    checksumHandlers(one, &b);
    rdbTee *tee = lr ? rdbTeeNew(&a, &b) : NULL;
    if (!tee || nodeUrl(cfg->source, readNodeOf(s, use_replicas), &u) < 0) {
        libRelayFree(lr);
        rdbTeeFree(tee);
        urlFree(&u);
        *why = OUTCOME_INTERNAL;
        return snprintf(err, errlen, "out of memory"), -1;
    }
    rdbTeeHandlers(tee, &h);
    /* The keys a filter leaves out reach neither the report nor the shard's
     * figures, as for a standalone source (the scan path filters as it
     * reads, below). */
    rdbHandlers fh;
    filterRelay *fr = filterActive(cfg->filter) ? filterRelayNew(cfg->filter, &h) : NULL;
    if (filterActive(cfg->filter) && !fr) {
        libRelayFree(lr);
        rdbTeeFree(tee);
        urlFree(&u);
        *why = OUTCOME_INTERNAL;
        return snprintf(err, errlen, "out of memory"), -1;
    }
    if (fr) filterRelayHandlers(fr, &fh);
    snapshotConfig sc = *cfg;
    sc.source = &u;
    char msg[800] = "";
    int rc = cfg->mode == 2 ? SNAPSHOT_REFUSED : snapshotDecode(&sc, -1, fr ? &fh : &h, why, msg, sizeof(msg));
    filterRelayFree(fr);
    if (rc == SNAPSHOT_REFUSED && cfg->mode == 0 && !cfg->quiet)
        logInfo("shard %s (slots %s) refuses SYNC and PSYNC: reading its %s by SCAN + DUMP", name, s->ranges,
                readNodeOf(s, use_replicas) == &s->replica ? "replica" : "master");
    if (rc == SNAPSHOT_REFUSED && cfg->mode != 1) /* the scan path (cscan.h) */
        rc = cscanShard(cfg, s, use_replicas, &h, why, err, errlen), (*scanned)++;
    else if (rc == SNAPSHOT_REFUSED)
        snprintf(err, errlen, "shard %s (slots %s) refuses SYNC and PSYNC (--mode replica)", name, s->ranges),
            *why = OUTCOME_CONNECT;
    else if (rc < 0) snprintf(err, errlen, "shard %s (slots %s): %s", name, s->ranges, msg);
    rdbTeeFree(tee);
    libRelayFree(lr);
    urlFree(&u);
    return rc < 0 ? -1 : 0;
}

typedef struct shardFigures {
    uint64_t keys, expires;
    char digest[2 * RDB_DIGEST_LEN + 1];
} shardFigures;

/* The JSON report with a "shards" member: the per-shard figures. */
static void jsonWithShards(checksum *total, const csTopo *t, int use_replicas, const shardFigures *f) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return checksumReport(total, stdout, 1);
    checksumReport(total, m, 1);
    fclose(m);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '}')) {
        int brace = buf[len - 1] == '}';
        len--;
        if (brace) break;
    }
    fwrite(buf, 1, len, stdout);
    printf(",\"shards\":[");
    for (int i = 0; i < t->n; i++) {
        char name[300];
        shardName(&t->shard[i], use_replicas, name, sizeof(name));
        printf("%s{\"node\":\"%s\",\"slots\":\"%s\",\"keys\":%llu,\"expires\":%llu,\"digest\":\"%s\"}", i ? "," : "",
               name, t->shard[i].ranges, (unsigned long long)f[i].keys, (unsigned long long)f[i].expires,
               f[i].digest);
    }
    printf("]}\n");
    free(buf);
}

outcome csourceChecksum(const snapshotConfig *cfg, const csTopo *t, int use_replicas) {
    replicasMissing(t, use_replicas);
    char err[1000] = "";
    outcome why = OUTCOME_OK;
    int scanned = 0;
    checksum *total = checksumNew();
    shardFigures *f = calloc((size_t)t->n, sizeof(*f));
    libUnion *libs = libUnionNew();
    rdbHandlers h;
    int rc = total && f && libs ? 0 : -1;
    if (rc < 0) why = OUTCOME_INTERNAL, snprintf(err, sizeof(err), "out of memory");
    else checksumHandlers(total, &h);
    for (int i = 0; rc == 0 && i < t->n; i++) {
        checksum *one = checksumNew();
        if (!one) {
            why = OUTCOME_INTERNAL, snprintf(err, sizeof(err), "out of memory");
            rc = -1;
            break;
        }
        rc = decodeShard(cfg, &t->shard[i], i, libs, use_replicas, &scanned, &h, one, &why, err, sizeof(err));
        if (rc == 0) checksumFigures(one, &f[i].keys, &f[i].expires, f[i].digest);
        checksumFree(one);
    }
    if (rc == 0 && cfg->json) jsonWithShards(total, t, use_replicas, f);
    else if (rc == 0) checksumReport(total, stdout, 0);
    else if (stopRequested())
        logError("interrupted by %s: no report (the snapshot was not read to its end)", stopSignalName()),
            why = OUTCOME_INTERRUPTED;
    else logError("%s", err);
    if (rc == 0 && !cfg->quiet)
        logInfo("cluster: %d shards read%s, one report for all of them", t->n, scanned ? " (by SCAN + DUMP)" : "");
    free(f);
    libUnionFree(libs);
    checksumFree(total);
    return rc == 0 ? OUTCOME_OK : why;
}

/* ---- --source C --file F: one RDB from every shard ---- */

/* Every shard's events into one file, whichever path each came by: the
 * first shard's header makes the file (its RDB version: a shard of an
 * older version fits in it, one of a newer does not). */
typedef struct merge {
    rdbFileWriter *fw;
    int *fd;
    int version, shard;      /* the file's RDB version (the first shard's); the shard being read */
    uint64_t db;
    int have_db;
    char err[300];
} merge;

static int mergeHeader(void *ctx, int version, rdbFlavour flavour) {
    merge *m = ctx;
    if (m->fw) {
        if (version <= m->version) return 0;
        snprintf(m->err, sizeof(m->err), "shards write different RDB versions (%d, then %d): upgrade the cluster's "
                 "nodes to one version first", m->version, version);
        return -1;
    }
    m->version = version;
    m->fw = rdbFileWriterNew(rdbWriteFd, m->fd, version, flavour);
    if (!m->fw || rdbFileAux(m->fw, "rdbsync", "cluster") < 0) {
        snprintf(m->err, sizeof(m->err), "cannot write the output file: %s", strerror(errno ? errno : ENOMEM));
        return -1;
    }
    return 0;
}

static int mergeAux(void *ctx, const char *k, size_t kl, const char *v, size_t vl) {
    merge *m = ctx;
    if (m->shard != 0 || !((kl == 9 && memcmp(k, "redis-ver", 9) == 0) || (kl == 10 && memcmp(k, "valkey-ver", 10) == 0)))
        return 0;
    char key[16], val[64];
    snprintf(key, sizeof(key), "%.*s", (int)kl, k);
    snprintf(val, sizeof(val), "%.*s", (int)vl, v);
    return rdbFileAux(m->fw, key, val);
}

static int mergeRaw(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    merge *m = ctx;
    if ((!m->have_db || m->db != k->db) && rdbFileSelectDb(m->fw, k->db) < 0) goto fail;
    m->db = k->db, m->have_db = 1;
    if (rdbFileKey(m->fw, k->type, k->key, k->keylen, k->expire_ms, p, len) == 0) return 0;
fail:
    snprintf(m->err, sizeof(m->err), "cannot write the output file: %s", strerror(errno ? errno : EIO));
    return -1;
}

static int mergeFunction(void *ctx, const rdbFunction *fn) {
    merge *m = ctx;
    if (rdbFileFunction(m->fw, fn->code, fn->len) == 0) return 0;
    snprintf(m->err, sizeof(m->err), "cannot write the output file: %s", strerror(errno ? errno : EIO));
    return -1;
}

static const char *mergeError(void *ctx) { return ((merge *)ctx)->err; }

static int writeShards(const snapshotConfig *cfg, const csTopo *t, int use_replicas, int *fd, int *scanned,
                       outcome *why, char *err, size_t errlen) {
    merge m = {.fd = fd};
    rdbHandlers h = {.ctx = &m, .header = mergeHeader, .aux = mergeAux, .raw_value = mergeRaw,
                     .function = mergeFunction, .error = mergeError};
    libUnion *libs = libUnionNew();
    int rc = libs ? 0 : -1;
    for (int i = 0; rc == 0 && i < t->n; i++) {
        checksum *one = checksumNew(); /* decodes every value: a bad one is caught before the rename */
        m.shard = i;
        rc = one ? decodeShard(cfg, &t->shard[i], i, libs, use_replicas, scanned, &h, one, why, err, errlen) : -1;
        if (rc < 0 && m.err[0] && !stopRequested()) *why = OUTCOME_INPUT;
        checksumFree(one);
    }
    if (rc == 0 && (!m.fw || rdbFileFinish(m.fw) < 0)) {
        snprintf(err, errlen, "cannot write the output file: %s", strerror(errno ? errno : EIO));
        *why = OUTCOME_INPUT;
        rc = -1;
    }
    rdbFileWriterFree(m.fw);
    libUnionFree(libs);
    return rc;
}

outcome csourceToFile(const snapshotConfig *cfg, const csTopo *t, int use_replicas, const char *path) {
    replicasMissing(t, use_replicas);
    char err[1000] = "", from[64];
    outcome why = OUTCOME_CONNECT;
    snapshotOut o;
    if (snapshotOutOpen(&o, path) < 0) return OUTCOME_INPUT;
    int scanned = 0;
    int rc = writeShards(cfg, t, use_replicas, &o.fd, &scanned, &why, err, sizeof(err));
    snprintf(from, sizeof(from), "the %d shards of the cluster", t->n);
    const char *how = scanned == t->n ? "SCAN + DUMP" : scanned ? "replication and SCAN + DUMP" : "replication";
    return snapshotOutFinish(&o, rc, why, from, how, err);
}

/* ---- --verify ---- */

/* The master serving a key's slot (the topology read at the start). */
static int ownerOf(void *ctx, const char *key, size_t len) {
    const csTopo *t = ctx;
    int slot = (int)clusterKeySlot(key, len);
    for (int i = 0; i < t->n; i++)
        if (hasSlot(&t->shard[i], slot)) return i;
    return 0; /* every slot is served (clusterMapComplete) */
}

/* One side of --verify: a connection to every master of the cluster t,
 * whose nodes are reached like seed (verify.h). -1 after its error line. */
static int openSide(const rsUrl *seed, const rsConnOptions *co, const csTopo *t, verifySource *vs) {
    vs->n = t->n, vs->owner = ownerOf, vs->ctx = (void *)t;
    vs->conns = calloc((size_t)t->n, sizeof(*vs->conns));
    vs->infos = calloc((size_t)t->n, sizeof(*vs->infos));
    if (!vs->conns || !vs->infos) return logError("out of memory"), -1;
    for (int i = 0; i < t->n; i++) {
        rsUrl u = {0};
        char err[600] = "out of memory";
        if (nodeUrl(seed, &t->shard[i].master, &u) == 0) {
            vs->conns[i] = connOpen(&u, co, err, sizeof(err));
            if (vs->conns[i] && connServerInfo(vs->conns[i], &vs->infos[i]) < 0)
                snprintf(err, sizeof(err), "INFO failed: %s", connError(vs->conns[i]));
            else if (vs->conns[i]) err[0] = '\0';
        }
        urlFree(&u);
        if (err[0]) {
            logError("shard %s:%d (slots %s): %s", t->shard[i].master.host, t->shard[i].master.port,
                     t->shard[i].ranges, err);
            return -1;
        }
    }
    return 0;
}

static void closeSide(verifySource *vs) {
    for (int i = 0; vs->conns && i < vs->n; i++) connClose(vs->conns[i]);
    free(vs->conns);
    free(vs->infos);
}

outcome csourceVerify(const snapshotConfig *cfg, const csTopo *src, const csTopo *tgt) {
    verifySource s = {0}, t = {0};
    outcome rc = OUTCOME_OK;
    if (src && openSide(cfg->source, &cfg->source_conn, src, &s) < 0) rc = OUTCOME_CONNECT;
    if (rc == OUTCOME_OK && tgt && openSide(cfg->target, &cfg->target_conn, tgt, &t) < 0) rc = OUTCOME_CONNECT;
    if (rc == OUTCOME_OK) rc = verifyRunSides(cfg, src ? &s : NULL, tgt ? &t : NULL);
    closeSide(&s);
    closeSide(&t);
    return rc;
}

/* ---- Keys moved by resharding, between the links ----
 *
 * A move of key k from shard A to shard B is, in A's stream, the writes on
 * k and then MIGRATE's DEL of it, and in B's stream RESTORE-ASKING k with
 * the value after those writes. The links are not ordered with each other:
 *   - B's link first: its RESTORE goes (with REPLACE) and k is remembered
 *     as restored by B. A's commands on k that come after are already in
 *     the restored value: each is dropped (an INCR or LPUSH would apply
 *     twice), up to and including A's migration DEL, which would delete
 *     the key;
 *   - A's link first: B's RESTORE waits until A's commands forwarded on
 *     k's slot were applied by the target (at most RESTORE_WAIT_MS), then
 *     goes.
 * What tells the migration DEL: MIGRATE's DEL is a command of its own,
 * never inside MULTI (which scripts and transactions propagate in). A DEL
 * inside MULTI is a command on k like any other: dropped, the entry stays.
 * A bare DEL closes the entry; if A's link then sees another command on k,
 * that DEL was the user's (taken for the migration DEL), the command is
 * dropped and the entry opens again until the real one. A key migrated
 * back (B to A) comes as a RESTORE in A's stream: the entry then names A,
 * and B's commands up to its migration DEL are dropped.
 * Memory: an entry lives until MOVES_TTL_MS after the restore when no
 * migration DEL closes it (a RESTORE by a user, or A's DEL applied first),
 * and CLOSED_TTL_MS after its close; at most MOVES_MAX entries (said once
 * when reached: keys beyond it move as without tracking). */

#define MOVES_BUCKETS 4096
#define MOVES_TTL_MS 120000 /* the exporting link reaches its migration DEL within this, or never */
#define CLOSED_TTL_MS 10000 /* a closed entry: a user's DEL taken for the migration DEL shows within this */
#define MOVES_MAX 500000    /* entries at most: about 100 bytes each */
#define RESTORE_WAIT_MS 2000

typedef struct moved {
    struct moved *next;
    int link;                /* the link whose stream restored the key: its owner now */
    int closed;              /* another link's bare DEL of it was dropped as the migration DEL */
    int64_t ms;              /* restored, closed or opened again at */
    size_t len;
    char key[];
} moved;

typedef struct csMoves {
    pthread_mutex_t mu;
    moved *b[MOVES_BUCKETS];
    int64_t n;               /* entries; read without mu (0: nothing to look up) */
    int full_said;
} csMoves;

static unsigned movesHash(const char *k, size_t len) {
    unsigned h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h % MOVES_BUCKETS;
}

/* Remove the entry *pp points to. Called locked. */
static void movesUnlink(csMoves *m, moved **pp) {
    moved *e = *pp;
    *pp = e->next;
    free(e);
    __atomic_sub_fetch(&m->n, 1, __ATOMIC_SEQ_CST);
}

/* Find key (dropping stale entries of its bucket on the way): the link to
 * its pointer, or NULL. Called locked. */
static moved **movesFind(csMoves *m, const char *k, size_t len) {
    int64_t now = clockMonoMs();
    moved **pp = &m->b[movesHash(k, len)];
    while (*pp) {
        if (now - (*pp)->ms > ((*pp)->closed ? CLOSED_TTL_MS : MOVES_TTL_MS)) movesUnlink(m, pp);
        else if ((*pp)->len == len && memcmp((*pp)->key, k, len) == 0) return pp;
        else pp = &(*pp)->next;
    }
    return NULL;
}

/* Key restored by link: its owner from now on. Called locked. */
static void movesRestored(csMoves *m, int link, const char *k, size_t len) {
    moved **pp = movesFind(m, k, len);
    if (pp) {
        (*pp)->link = link, (*pp)->closed = 0, (*pp)->ms = clockMonoMs();
        return;
    }
    moved *e = m->n < MOVES_MAX ? malloc(sizeof(*e) + len) : NULL;
    if (!e) {
        if (!m->full_said++)
            logWarn("resharding: more than %d keys moved within %d s: the keys moved beyond are not tracked (an "
                    "exporting shard's writes just before their move may apply twice)", MOVES_MAX,
                    MOVES_TTL_MS / 1000);
        return;
    }
    e->link = link, e->closed = 0, e->ms = clockMonoMs(), e->len = len;
    memcpy(e->key, k, len);
    unsigned b = movesHash(k, len);
    e->next = m->b[b];
    m->b[b] = e;
    __atomic_add_fetch(&m->n, 1, __ATOMIC_SEQ_CST);
}

/* 1 when another link restored key: link's command on it is in the
 * restored value already. A bare DEL (close) closes the entry; any other
 * command opens a closed one again (the DEL that closed it was a user's).
 * Called locked. */
static int movedElsewhere(csMoves *m, int link, const char *k, size_t len, int close) {
    moved **pp = movesFind(m, k, len);
    if (!pp || (*pp)->link == link) return 0;
    if (close || (*pp)->closed) (*pp)->closed = close, (*pp)->ms = clockMonoMs();
    return 1;
}

static void movesFree(csMoves *m) {
    for (int i = 0; i < MOVES_BUCKETS; i++)
        while (m->b[i]) movesUnlink(m, &m->b[i]);
    m->full_said = 0;
}

/* ---- Live sync: the links ---- */

struct csLink {
    pthread_t th;
    int index;               /* 0 for the first shard: functions come from it */
    csMoves *moves;
    csLink *all;             /* every link (index into it), for the waits of moved keys */
    int nlinks;
    int64_t *fwd_slot;       /* per slot: the end of the last command forwarded on it (atomic) */
    int in_multi;            /* inside a MULTI of the stream: a DEL there is no migration DEL */
    int waiting;             /* in movedIn's wait (atomic) */
    libUnion *libs;          /* the function libraries of every shard's snapshot (shared) */
    libRelay *lib_relay;     /* this link's snapshots through it */
    rdbHandlers snap_inner;  /* what the relay passes on to (the importer's handlers) */
    int64_t applied;         /* published by its apply thread (atomic) */
    int moved;               /* the shard's node changed (atomic): set by the topology watch */
    char node[300];          /* "host:port" the link reads from now (under mu) */
    int started;
    syncConfig cfg;
    rsUrl url;               /* the shard's node */
    csShard sh;
    int use_replicas;
    const csTopo *seeds;     /* the first topology: nodes to ask again */
    const rsUrl *seed_url;
    rsConnOptions conn;
    char tag[320];
    int target_was_empty;
    cstate *state;           /* --state: one file for every shard (cstate.h); NULL */
    ccut *cut;               /* the cut-over of every shard (ccutover.h); NULL */
    ctload *ctl;             /* --target-load replica: one load for every shard; NULL */
    pthread_mutex_t *mu;     /* guards the status below (shared by all links) */
    char phase[16], line[300];
    int in_sync, done, refused;
    outcome rc;
};

/* The topology now, from the first node that answers: the first map's
 * nodes, then the user's. */
static int reloadTopo(csLink *l, csTopo *t) {
    char err[300];
    rsConnOptions o = l->conn;
    o.connect_timeout_ms = 1000;
    memset(t, 0, sizeof(*t));
    clusterMap *m = clusterMapReload(l->seeds->map, l->seed_url, &o, err, sizeof(err));
    if (m && topoFromMap(m, t, err, sizeof(err)) == 0) return 0;
    if (!t->map) clusterMapFree(m);
    csourceTopoFree(t);
    return -1;
}

/* The shard this link follows, in a topology: the one holding one of its
 * nodes (a failover promotes a replica we know), else the one serving its
 * first slot. */
static const csShard *findShard(csLink *l, const csTopo *t) {
    pthread_mutex_lock(l->mu);
    const csShard *found = NULL;
    for (int i = 0; i < t->n && !found; i++)
        for (int a = 0; a < t->shard[i].nids && !found; a++)
            for (int b = 0; b < l->sh.nids && !found; b++)
                if (strcmp(t->shard[i].ids[a], l->sh.ids[b]) == 0) found = &t->shard[i];
    for (int i = 0; i < t->n && !found; i++)
        if (hasSlot(&t->shard[i], l->sh.first_slot)) found = &t->shard[i];
    if (found) l->sh = *found; /* its nodes and slots now */
    pthread_mutex_unlock(l->mu);
    return found;
}

static int relocateLink(void *ctx, rsUrl *url) {
    csLink *l = ctx;
    csTopo t = {0};
    if (reloadTopo(l, &t) < 0) return -1;
    const csShard *s = findShard(l, &t);
    int rc = -1;
    if (s) {
        const csNode *n = readNodeOf(s, l->use_replicas);
        char *h = strdup(n->host);
        if (h) {
            free(url->host);
            url->host = h;
            url->port = n->port;
            rc = 0;
            pthread_mutex_lock(l->mu);
            snprintf(l->node, sizeof(l->node), "%s:%d", n->host, n->port);
            pthread_mutex_unlock(l->mu);
        }
    }
    csourceTopoFree(&t);
    return rc;
}

static int linkMoved(void *ctx) {
    csLink *l = ctx;
    return __atomic_exchange_n(&l->moved, 0, __ATOMIC_ACQ_REL);
}

void csourceLinkReplicaOptions(csLink *l, replicaOptions *ro) {
    ro->log_tag = l->tag;
    ro->moved = linkMoved;
    ro->relocate = relocateLink;
    ro->relocate_ctx = l;
}

void csourceLinkStatus(csLink *l, const char *phase, const char *line, int in_sync, int64_t applied) {
    __atomic_store_n(&l->applied, applied, __ATOMIC_RELEASE);
    pthread_mutex_lock(l->mu);
    snprintf(l->phase, sizeof(l->phase), "%s", phase);
    snprintf(l->line, sizeof(l->line), "%s", line);
    l->in_sync = in_sync;
    pthread_mutex_unlock(l->mu);
}

int csourceLinkTargetWasEmpty(const csLink *l) { return l->target_was_empty; }

ctload *csourceLinkTload(csLink *l) { return l->ctl; }

void csourceLinkNode(csLink *l, char *out, size_t cap) {
    pthread_mutex_lock(l->mu);
    snprintf(out, cap, "%s", l->node);
    pthread_mutex_unlock(l->mu);
}

/* --target-load replica: one load for every shard, its RESIZEDB from the
 * masters' key counts. A resumed run (--state) continues what the target
 * holds: RESTORE then, as with one source. */
static outcome openTload(const syncConfig *cfg, const csTopo *t, const cstate *state, ctload **out) {
    *out = NULL;
    if (!cfg->target_load) return OUTCOME_OK;
    if (state && cstateResumes(state)) {
        logInfo("--state %s resumes: --target-load replica does not apply (a shard's full sync goes by RESTORE)",
                cfg->state_path);
        return OUTCOME_OK;
    }
    rsUrl *urls = calloc((size_t)t->n, sizeof(*urls));
    const rsUrl **ptrs = calloc((size_t)t->n, sizeof(*ptrs));
    int n = 0;
    for (int i = 0; urls && ptrs && i < t->n; i++)
        if (nodeUrl(cfg->source, &t->shard[i].master, &urls[n]) == 0) ptrs[n] = &urls[n], n++;
    uint64_t keys = 0, expires = 0;
    rsConnOptions o = cfg->source_conn;
    o.connect_timeout_ms = 2000;
    ctloadHint(ptrs, n, &o, &keys, &expires);
    for (int i = 0; i < n; i++) urlFree(&urls[i]);
    free(urls);
    free(ptrs);
    int tdb = cfg->imp.db_map[0] >= 0 ? cfg->imp.db_map[0] : 0;
    *out = ctloadNew(t->n, cfg->target, &cfg->target_conn, tdb, keys, expires, cfg->quiet);
    return *out ? OUTCOME_OK : OUTCOME_INTERNAL;
}

void csourceLinkKey(csLink *l, char *out, size_t cap) {
    pthread_mutex_lock(l->mu);
    cstateKey(&l->sh, out, cap);
    pthread_mutex_unlock(l->mu);
}

int csourceLinkCutover(csLink *l, int ready, int settled, int64_t applied) {
    return l->cut ? ccutLink(l->cut, l->index, ready, settled, applied) : CCUT_NONE;
}

/* The coordinator's view: each shard's master and slots now. */
static void cutStep(ccut *c, csLink *links, int n) {
    csShard *now = malloc((size_t)n * sizeof(*now));
    if (!now) return;
    pthread_mutex_lock(links[0].mu);
    for (int i = 0; i < n; i++) now[i] = links[i].sh;
    pthread_mutex_unlock(links[0].mu);
    ccutStep(c, now);
    free(now);
}

stateKeeper *csourceLinkState(csLink *l, stateLink *rec, int *target_ours) {
    return cstateShard(l->state, l->index, rec, target_ours);
}

int csourceLinkSnapshotError(csLink *l, char *msg, size_t cap) {
    const char *e = l->lib_relay ? libRelayConflict(l->lib_relay) : NULL;
    if (e) snprintf(msg, cap, "source snapshot: %s", e);
    return e != NULL;
}

void csourceLinkMetrics(csLink *l, const metricsSnapshot *m) {
    metricsPublishShard(l->cfg.metrics, l->index, l->tag + 6 /* "shard " */, m);
}

static int isName(const char *a, size_t len, const char *name) {
    return len == strlen(name) && strncasecmp(a, name, len) == 0;
}

/* The link's last command forwarded on slot (its end offset): a RESTORE on
 * another link waits for it to be applied. */
static int64_t fwdLoad(const csLink *l, int slot) { return __atomic_load_n(&l->fwd_slot[slot], __ATOMIC_SEQ_CST); }
static void fwdStore(csLink *l, int slot, int64_t end) { __atomic_store_n(&l->fwd_slot[slot], end, __ATOMIC_SEQ_CST); }

/* The importing side of a move: k is remembered as restored by this link
 * first (the other links' commands on it are dropped from now on), then
 * the commands they forwarded on k's slot before are waited for: applied
 * by the target before the RESTORE. */
static void movedIn(csLink *l, const char *k, size_t len, int64_t end) {
    int slot = (int)clusterKeySlot(k, len);
    fwdStore(l, slot, end);
    pthread_mutex_lock(&l->moves->mu);
    movesRestored(l->moves, l->index, k, len);
    pthread_mutex_unlock(&l->moves->mu);
    int64_t start = clockMonoMs();
    __atomic_store_n(&l->waiting, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < l->nlinks; i++) {
        csLink *o = &l->all[i];
        int64_t f = o == l ? 0 : fwdLoad(o, slot);
        /* until applied, or dropped after all (the store was undone); not
         * for a link waiting here itself: its replies are not read meanwhile
         * (two moves crossing between two shards would wait for each other) */
        while (f > __atomic_load_n(&o->applied, __ATOMIC_ACQUIRE) && fwdLoad(o, slot) >= f &&
               !__atomic_load_n(&o->done, __ATOMIC_ACQUIRE) && !__atomic_load_n(&o->waiting, __ATOMIC_SEQ_CST) &&
               clockMonoMs() - start < RESTORE_WAIT_MS)
            usleep(500);
    }
    __atomic_store_n(&l->waiting, 0, __ATOMIC_SEQ_CST);
}

/* The exporting side: 0 when the command is to be dropped (every key of a
 * DEL was moved; any key of another command), argv narrowed for a DEL. */
static int movedOut(csLink *l, int *argc, const char **av, size_t *lv, const cmdKeyInfo *ki) {
    csMoves *m = l->moves;
    int del = isName(av[0], lv[0], "DEL") || isName(av[0], lv[0], "UNLINK"), keep = 1;
    pthread_mutex_lock(&m->mu);
    if (del) {
        int n = 1;
        for (int i = 1; i < *argc; i++)
            if (!movedElsewhere(m, l->index, av[i], lv[i], !l->in_multi)) av[n] = av[i], lv[n++] = lv[i];
        keep = (*argc = n) > 1;
    } else {
        for (int i = 0; i < ki->n && keep; i++)
            keep = !movedElsewhere(m, l->index, av[ki->pos[i]], lv[ki->pos[i]], 0);
    }
    pthread_mutex_unlock(&m->mu);
    return keep;
}

/* A command with keys: its slot's forwarded offset published first, then
 * the moved keys looked up (in this order, against movedIn's: either the
 * RESTORE sees the offset and waits, or this command sees the key). */
static int keyedFilter(csLink *l, int *argc, const char **av, size_t *lv, int64_t end) {
    cmdKeyInfo ki;
    int keep = 1;
    if (cmdKeys(*argc, av, lv, &ki) == 0 && ki.n > 0) {
        int slot = (int)clusterKeySlot(av[ki.pos[0]], lv[ki.pos[0]]);
        int64_t before = fwdLoad(l, slot);
        fwdStore(l, slot, end);
        if (__atomic_load_n(&l->moves->n, __ATOMIC_SEQ_CST) > 0) keep = movedOut(l, argc, av, lv, &ki);
        if (!keep) __atomic_compare_exchange_n(&l->fwd_slot[slot], &end, before, 0, __ATOMIC_SEQ_CST,
                                               __ATOMIC_SEQ_CST);
    }
    cmdKeysFree(&ki);
    return keep;
}

int csourceLinkFilter(csLink *l, int *argc, const char **av, size_t *lv, int64_t end) {
    if (isName(av[0], lv[0], "FUNCTION")) return l->index == 0;
    if (isName(av[0], lv[0], "MULTI") || isName(av[0], lv[0], "EXEC")) {
        l->in_multi = isName(av[0], lv[0], "MULTI");
        return 1;
    }
    if ((isName(av[0], lv[0], "RESTORE-ASKING") || isName(av[0], lv[0], "RESTORE")) && *argc >= 4) {
        int replace = 0;
        for (int i = 4; i < *argc; i++) replace |= isName(av[i], lv[i], "REPLACE");
        if (!replace) av[*argc] = "REPLACE", lv[(*argc)++] = 7;
        movedIn(l, av[1], lv[1], end);
        return 1;
    }
    return keyedFilter(l, argc, av, lv, end);
}

void csourceLinkApplied(csLink *l, int64_t applied) { __atomic_store_n(&l->applied, applied, __ATOMIC_RELEASE); }

void csourceLinkSnapshotHandlers(csLink *l, rdbHandlers *h) {
    l->snap_inner = *h;
    if (!l->lib_relay) l->lib_relay = libRelayNew(l->libs, l->index, l->node, &l->snap_inner);
    if (!l->lib_relay) { /* out of memory: this shard's libraries are left out */
        h->function = NULL;
        return;
    }
    pthread_mutex_lock(l->mu);
    libRelaySetNode(l->lib_relay, l->node);
    pthread_mutex_unlock(l->mu);
    libRelayHandlers(l->lib_relay, h);
}

/* DEL the keys of one SCAN batch that hash to the shard's slots: one
 * command per batch. */
static int delInSlots(rsConn *tc, const redisReply *keys, const csShard *s, const char *keep, uint64_t *deleted,
                      char *err, size_t errlen) {
    const char **av = malloc((keys->elements + 1) * sizeof(*av));
    size_t *lv = malloc((keys->elements + 1) * sizeof(*lv));
    int n = 1, rc = 0;
    if (!av || !lv) rc = -1, snprintf(err, errlen, "out of memory");
    if (rc == 0) {
        av[0] = "DEL", lv[0] = 3;
        for (size_t i = 0; i < keys->elements; i++) {
            const redisReply *k = keys->element[i];
            if (k->type == REDIS_REPLY_STRING && hasSlot(s, (int)clusterKeySlot(k->str, (size_t)k->len)) &&
                !(keep && strlen(keep) == k->len && !memcmp(keep, k->str, k->len))) /* the other shards' checkpoints */
                av[n] = k->str, lv[n++] = (size_t)k->len;
        }
    }
    if (rc == 0 && n > 1) {
        redisReply *r = connCommand(tc, n, av, lv);
        if (!r || r->type == REDIS_REPLY_ERROR)
            rc = -1, snprintf(err, errlen, "target: DEL of the shard's keys failed: %s", r ? r->str : connError(tc));
        else *deleted += (uint64_t)(n - 1);
        if (r) freeReplyObject(r);
    }
    free(av);
    free(lv);
    return rc;
}

int csourceLinkFlush(csLink *l, rsConn *tc, int tdb, char *err, size_t errlen) {
    csTopo t = {0};
    /* The slots the shard serves now: resharding moves them. */
    if (reloadTopo(l, &t) == 0) findShard(l, &t);
    csourceTopoFree(&t);
    pthread_mutex_lock(l->mu);
    csShard now = l->sh;
    pthread_mutex_unlock(l->mu);
    logInfo("replacing the shard's slots (%s) on the target instead of emptying it: the other shards' keys stay",
            now.ranges);
    redisReply *r = connCommandf(tc, "SELECT %d", tdb);
    int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (r) freeReplyObject(r);
    if (rc < 0) return snprintf(err, errlen, "target: SELECT %d failed: %s", tdb, connError(tc)), -1;
    char cursor[32] = "0";
    uint64_t deleted = 0;
    do {
        r = connCommandf(tc, "SCAN %s COUNT 1000", cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errlen, "target: SCAN failed: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : connError(tc));
            rc = -1;
        } else {
            snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
            const char *keep = !l->cfg.exactly_once ? NULL : l->cfg.checkpoint_key ? l->cfg.checkpoint_key
                                                                                 : CHECKPOINT_DEFAULT_KEY;
            rc = delInSlots(tc, r->element[1], &now, tdb == CHECKPOINT_DB ? keep : NULL, &deleted, err, errlen);
        }
        if (r) freeReplyObject(r);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    if (rc == 0) logInfo("deleted %llu keys of the shard's slots on the target", (unsigned long long)deleted);
    return rc;
}

static void *linkThread(void *arg) {
    csLink *l = arg;
    logSetThreadTag(l->tag);
    int refused = 0;
    outcome rc = syncRun(&l->cfg, &refused);
    pthread_mutex_lock(l->mu);
    l->rc = rc;
    l->refused = refused;
    __atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(l->mu);
    return NULL;
}

/* --flush-target, once for all shards (each one's first snapshot would
 * empty what the others wrote), and whether the target held keys. */
static outcome prepareTarget(const rsUrl *target, const rsConnOptions *target_conn, int flush, int *was_empty) {
    char err[512];
    rsConn *c = connOpen(target, target_conn, err, sizeof(err));
    if (!c) {
        logError("target: %s", err);
        return OUTCOME_CONNECT;
    }
    int dbs[4];
    *was_empty = connKeyspaceDbs(c, dbs, 4) == 0;
    outcome rc = OUTCOME_OK;
    if (flush) {
        logInfo("--flush-target: emptying the target before the first key");
        redisReply *r = connCommandf(c, "FLUSHALL");
        if (!r || r->type == REDIS_REPLY_ERROR) {
            logError("target: FLUSHALL failed: %s", r ? r->str : connError(c));
            rc = OUTCOME_WRITE;
        }
        if (r) freeReplyObject(r);
        rsServerInfo info;
        if (rc == OUTCOME_OK && connServerInfo(c, &info) == 0 && connServerAtLeast(&info, 7, 0)) {
            r = connCommandf(c, "FUNCTION FLUSH");
            if (r) freeReplyObject(r);
        }
        *was_empty = 1;
    }
    connClose(c);
    return rc;
}

/* The one status line of all shards: each shard's node, slots and state;
 * "in sync" only when every shard is. */
static void aggregateLine(csLink *links, int n, progress *pg, pthread_mutex_t *mu, int force) {
    if (!progressDue(pg, force)) return;
    char line[4096];
    int all = 1, streaming = 0;
    size_t len = 0;
    pthread_mutex_lock(mu);
    for (int i = 0; i < n; i++) {
        all = all && links[i].in_sync && !links[i].done;
        streaming += !links[i].done && strcmp(links[i].phase, "streaming") == 0;
    }
    len += (size_t)snprintf(line, sizeof(line), "cluster: %d of %d shards streaming%s", streaming, n,
                            all ? ", in sync" : "");
    for (int i = 0; i < n && len < sizeof(line); i++)
        len += (size_t)snprintf(line + len, sizeof(line) - len, "; %s [%s] %s", links[i].node, links[i].sh.ranges,
                                links[i].done ? "stopped" : links[i].line[0] ? links[i].line : "starting");
    pthread_mutex_unlock(mu);
    progressLine(pg, streaming == n ? "streaming" : "snapshot", "%s", line);
}

static int linksRunning(csLink *links, int n, pthread_mutex_t *mu, int *failed) {
    int running = 0;
    pthread_mutex_lock(mu);
    for (int i = 0; i < n; i++) {
        if (!links[i].started) continue;
        running += !links[i].done;
        if (links[i].done && links[i].rc != OUTCOME_OK && *failed < 0) *failed = i;
    }
    pthread_mutex_unlock(mu);
    return running;
}

static void initLink(csLink *l, const syncConfig *cfg, const csTopo *t, int i, int use_replicas, int was_empty,
                     pthread_mutex_t *mu, csMoves *moves) {
    l->sh = t->shard[i];
    l->index = i;
    l->moves = moves;
    l->all = l - i;
    l->use_replicas = use_replicas;
    l->seeds = t;
    l->seed_url = cfg->source;
    l->conn = cfg->source_conn;
    l->mu = mu;
    l->target_was_empty = was_empty;
    l->rc = OUTCOME_OK;
    char name[300];
    shardName(&l->sh, use_replicas, name, sizeof(name));
    snprintf(l->tag, sizeof(l->tag), "shard %s", name);
    snprintf(l->node, sizeof(l->node), "%s", name);
    l->cfg = *cfg;
    l->cfg.source = &l->url;
    l->cfg.shard = l;
    l->cfg.flush_target = 0; /* done once, before any shard wrote */
    /* each link says what a refusal leads to; csourceSync hands over */
}

/* Every few seconds: the topology again. A link whose shard is served by
 * another node now (a failover; the old master, a replica now, may keep
 * serving us as a chained replica) is told to follow it; the status line
 * shows the shards' slots as they are now. */
#define WATCH_MS 2000

static void watchTopology(csLink *links, int n) {
    csTopo t = {0};
    if (reloadTopo(&links[0], &t) < 0) return;
    for (int i = 0; i < n; i++) {
        const csShard *s = findShard(&links[i], &t);
        if (!s) continue;
        const csNode *want = readNodeOf(s, links[i].use_replicas);
        char node[300];
        snprintf(node, sizeof(node), "%s:%d", want->host, want->port);
        pthread_mutex_lock(links[i].mu);
        int changed = strcmp(node, links[i].node) != 0;
        pthread_mutex_unlock(links[i].mu);
        if (changed) __atomic_store_n(&links[i].moved, 1, __ATOMIC_RELEASE);
    }
    csourceTopoFree(&t);
}

/* Every link ended: one outcome for the run; *refused when a shard
 * refused SYNC and PSYNC before anything was copied. */
static outcome linksOutcome(csLink *links, int n, int failed, int *refused) {
    for (int i = 0; i < n; i++)
        if (links[i].refused) { /* said by the link, with what follows */
            *refused = 1;
            return OUTCOME_CONNECT;
        }
    if (failed >= 0) return links[failed].rc; /* the cause, not the others' stop */
    outcome rc = OUTCOME_OK;
    for (int i = 0; i < n && rc == OUTCOME_OK; i++)
        if (links[i].started) rc = links[i].rc;
    return rc;
}

outcome csourceSync(const syncConfig *cfg, const csTopo *t, int use_replicas, int *refused) {
    *refused = 0;
    replicasMissing(t, use_replicas);
    int was_empty = 0, flush = cfg->flush_target;
    cstate *state = NULL;
    outcome rc = cfg->state_path ? cstateOpen(cfg->state_path, t, cfg->target, &cfg->target_conn, cfg->quiet, &state)
                                 : OUTCOME_OK;
    if (state && cstateResumes(state) && flush) /* the shards that resume continue what the target holds */
        logInfo("--state %s: --flush-target does not apply to a resume", cfg->state_path), flush = 0;
    if (rc == OUTCOME_OK) rc = prepareTarget(cfg->target, &cfg->target_conn, flush, &was_empty);
    ctload *ctl = NULL;
    if (rc == OUTCOME_OK) rc = openTload(cfg, t, state, &ctl);
    if (rc != OUTCOME_OK) return cstateClose(state), rc;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static csMoves moves = {.mu = PTHREAD_MUTEX_INITIALIZER}; /* 32 KB of buckets: off the stack */
    csLink *links = calloc((size_t)t->n, sizeof(*links));
    progress *pg = progressNew(cfg->quiet, "sync", 0);
    ccut *cut = ccutNew(t->n, cfg);
    int nofwd = 0;
    for (int i = 0; links && i < t->n; i++) /* before any link runs: each reads the others' */
        nofwd |= !(links[i].fwd_slot = calloc(CS_SLOTS, sizeof(*links[i].fwd_slot)));
    libUnion *libs = libUnionNew();
    for (int i = 0; links && i < t->n; i++) links[i].nlinks = t->n, links[i].libs = libs;
    if (!links || nofwd || !libs || !cut) {
        libUnionFree(libs);
        for (int i = 0; links && i < t->n; i++) free(links[i].fwd_slot);
        free(links);
        progressFree(pg);
        ccutFree(cut);
        cstateClose(state);
        ctloadFree(ctl);
        return OUTCOME_INTERNAL;
    }
    progressSetInterval(pg, cfg->status_interval_ms);
    if (!cfg->quiet) logInfo("cluster source: %d shards, one replica link each", t->n);
    for (int i = 0; i < t->n; i++) {
        initLink(&links[i], cfg, t, i, use_replicas, was_empty, &mu, &moves);
        links[i].state = state;
        links[i].cut = cut;
        links[i].ctl = ctl;
        if (!ctl) links[i].cfg.target_load = 0; /* a resumed run: RESTORE */
        if (nodeUrl(cfg->source, readNodeOf(&links[i].sh, use_replicas), &links[i].url) < 0 ||
            pthread_create(&links[i].th, NULL, linkThread, &links[i]) != 0) {
            logError("cannot start the link of shard %s", links[i].tag);
            syncRequestStop();
            break;
        }
        links[i].started = 1;
    }
    int failed = -1, stopping = 0;
    int64_t watched = clockMonoMs();
    while (linksRunning(links, t->n, &mu, &failed) > 0) {
        if (clockMonoMs() - watched >= WATCH_MS) {
            watchTopology(links, t->n);
            watched = clockMonoMs();
        }
        /* One shard failed for good: the target would miss its keys from
         * now on; the others stop too, each saying where it stood. */
        if (failed >= 0 && !stopping) {
            if (!links[failed].refused) /* a refusal hands over to scan mode, or was said */
                logError("%s stopped (its reason above): stopping the other shards", links[failed].tag);
            syncRequestStop();
            stopping = 1;
        }
        aggregateLine(links, t->n, pg, &mu, 0);
        cutStep(cut, links, t->n);
        usleep(100 * 1000);
    }
    aggregateLine(links, t->n, pg, &mu, 1);
    progressClear(pg);
    for (int i = 0; i < t->n; i++) {
        if (links[i].started) pthread_join(links[i].th, NULL);
        urlFree(&links[i].url);
        free(links[i].fwd_slot);
        libRelayFree(links[i].lib_relay);
    }
    rc = ccutEnd(cut, linksOutcome(links, t->n, failed, refused));
    ccutFree(cut);
    ctloadFree(ctl); /* after the links: an open load is ended */
    cstateClose(state); /* every shard's last position */
    movesFree(&moves);
    libUnionFree(libs);
    progressFree(pg);
    free(links);
    return rc;
}

/* ---- Scan mode: one scan copy per master (cscan.h) ---- */

outcome csourceScanCopy(const scanCopyConfig *cfg, const csTopo *t, int use_replicas) {
    int was_empty;
    outcome rc = prepareTarget(cfg->target, &cfg->target_conn, cfg->flush_target, &was_empty);
    return rc == OUTCOME_OK ? cscanCopy(cfg, t, use_replicas) : rc;
}

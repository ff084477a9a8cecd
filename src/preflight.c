/* preflight.c -- see preflight.h. */
#include "preflight.h"

#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "native.h"
#include "rdb/decode.h"
#include "rdb/rdbfile.h"

/* What the run will ask of the target. */
typedef struct needs {
    int flush;            /* FLUSHALL, FUNCTION FLUSH */
    int live;             /* DEL (the stream, keyspace follow) */
    int functions;        /* FUNCTION LOAD */
    unsigned long long data_bytes; /* 0: unknown */
    const char *data_what; /* "the file", "the source's dataset" */
} needs;

#define PROBE_KEY "rdbsync:preflight"

static unsigned long long infoNumber(const char *info, const char *name) {
    char v[32];
    return connInfoField(info, name, v, sizeof(v)) ? strtoull(v, NULL, 10) : 0;
}

/* A replica that refuses writes: replica-read-only (slave-read-only before
 * 5.0) is yes by default, so a CONFIG we may not read counts as yes. */
static int readOnlyReplica(rsConn *c) {
    for (int i = 0; i < 2; i++) {
        redisReply *r = connCommandf(c, "CONFIG GET %s", i ? "slave-read-only" : "replica-read-only");
        int found = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2;
        int yes = found && r->element[1]->type == REDIS_REPLY_STRING && strcmp(r->element[1]->str, "no") != 0;
        if (r) freeReplyObject(r);
        if (found) return yes;
    }
    return 1;
}

static outcome checkRole(rsConn *c) {
    char *info = connInfo(c, "replication");
    char role[16] = "", host[256] = "?", port[16] = "?";
    if (!info) return OUTCOME_OK; /* INFO replication refused: the writes will tell */
    if (clusterDetect(c, role, sizeof(role)) == 1) { /* a cluster's replica: its masters are written */
        free(info);
        return OUTCOME_OK;
    }
    role[0] = '\0';
    connInfoField(info, "role", role, sizeof(role));
    connInfoField(info, "master_host", host, sizeof(host));
    connInfoField(info, "master_port", port, sizeof(port));
    free(info);
    if (strcmp(role, "slave") != 0) return OUTCOME_OK;
    if (readOnlyReplica(c)) {
        logError("target %s is a read-only replica (of %s:%s): write to its master, or detach it "
                        "with REPLICAOF NO ONE; nothing was written", connAddr(c), host, port);
        return OUTCOME_WRITE;
    }
    logWarn("target %s is a writable replica of %s:%s: its next full sync from "
                    "that master erases what rdbsync writes", connAddr(c), host, port);
    return OUTCOME_OK;
}

/* ACL DRYRUN user argv...: 1 allowed (or not known), 0 refused with the
 * server's words in why, -1 when ACL DRYRUN itself is refused (stop
 * asking) or the connection failed (*broken set). */
static int dryRun(rsConn *c, const char *user, int argc, const char *const *argv, char *why, size_t len, int *broken) {
    const char *av[8] = {"ACL", "DRYRUN", user};
    size_t lens[8];
    for (int i = 0; i < argc && i < 5; i++) av[3 + i] = argv[i];
    for (int i = 0; i < argc + 3; i++) lens[i] = strlen(av[i]);
    redisReply *r = connCommand(c, argc + 3, av, lens);
    if (!r) {
        *broken = 1;
        return -1;
    }
    int rc = 1;
    if (r->type == REDIS_REPLY_ERROR) {
        /* NOPERM on ACL itself, or ACL DRYRUN unknown: skip quietly. A command
         * renamed away ("not found") is left to the write to report. */
        rc = strstr(r->str, "not found") && !strstr(r->str, "User") ? 1 : -1;
    } else if (r->type == REDIS_REPLY_STRING && strstr(r->str, "permissions to run")) {
        snprintf(why, len, "%s", r->str);
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

/* The commands the run needs, as "NAME" + its ACL DRYRUN arguments. */
typedef struct probe {
    const char *name;
    int argc;
    const char *argv[4];
} probe;

static outcome checkAcl(rsConn *c, const rsServerInfo *info, const needs *n) {
    const probe all[] = {
        {"SELECT", 2, {"SELECT", "0"}},
        {"RESTORE", 4, {"RESTORE", PROBE_KEY, "0", "x"}},
        {"FUNCTION LOAD", 3, {"FUNCTION", "LOAD", "x"}},
        {"FLUSHALL", 1, {"FLUSHALL"}},
        {"FUNCTION FLUSH", 2, {"FUNCTION", "FLUSH"}},
        {"DEL", 2, {"DEL", PROBE_KEY}},
    };
    const int wanted[] = {1, 1, n->functions, n->flush, n->flush, n->live};
    if (!connServerAtLeast(info, 7, 0)) return OUTCOME_OK; /* no ACL DRYRUN before 7.0 */
    redisReply *r = connCommandf(c, "ACL WHOAMI");
    if (!r) goto broken;
    char user[256];
    int known = r->type == REDIS_REPLY_STRING && r->len < (int)sizeof(user);
    if (known) snprintf(user, sizeof(user), "%s", r->str);
    freeReplyObject(r);
    if (!known) return OUTCOME_OK;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        char why[256];
        int broken = 0;
        if (!wanted[i]) continue;
        int ok = dryRun(c, user, all[i].argc, all[i].argv, why, sizeof(why), &broken);
        if (broken) goto broken;
        if (ok < 0) return OUTCOME_OK;
        if (ok == 0) {
            logError("target %s: user '%s' may not run %s (ACL DRYRUN: %s); nothing was written",
                    connAddr(c), user, all[i].name, why);
            return OUTCOME_WRITE;
        }
    }
    return OUTCOME_OK;
broken:
    logError("target %s: %s", connName(c), connError(c));
    return OUTCOME_CONNECT;
}

static void checkMemory(rsConn *c, const needs *n) {
    char *info = connInfo(c, "memory");
    char policy[64] = "?";
    if (!info) return;
    unsigned long long max = infoNumber(info, "maxmemory"), used = infoNumber(info, "used_memory");
    connInfoField(info, "maxmemory_policy", policy, sizeof(policy));
    free(info);
    if (!max || !n->data_bytes) return;
    unsigned long long avail = used < max ? max - used : 0;
    if (n->data_bytes <= avail) return;
    logWarn("target %s has %.1f MB free under maxmemory (%.1f MB, %.1f MB used, "
                    "policy %s) and %s is %.1f MB: %s", connAddr(c), avail / 1048576.0, max / 1048576.0,
            used / 1048576.0, policy, n->data_what, n->data_bytes / 1048576.0,
            strcmp(policy, "noeviction") == 0 ? "writes may be refused (OOM)" : "keys may be evicted");
}

static outcome check(rsConn *c, const rsServerInfo *info, const needs *n) {
    outcome rc = checkRole(c);
    if (rc == OUTCOME_OK) rc = checkAcl(c, info, n);
    if (rc == OUTCOME_OK) checkMemory(c, n);
    return rc;
}

/* ---- import: facts from the file ---- */

static int onFunction(void *ctx, const rdbFunction *fn) {
    *(int *)ctx = 1;
    return 1;
}

static int onKey(void *ctx, const rdbKeyInfo *k) { return 1; }

/* Function libraries come before the first key (RDB 10+): decode the head
 * of the file only. A file that cannot be read or decoded is the import's
 * to report. */
static int fileHasFunctions(const char *file) {
    int found = 0;
    rdbReader *r = rdbReaderFile(file);
    rdbHandlers h = {.ctx = &found, .function = onFunction, .key_begin = onKey};
    rdbDecodeOptions o = {.ignore_crc = 1};
    rdbDecoder *d = r ? rdbDecoderNew(r, &h, &o) : NULL;
    if (d) rdbDecode(d);
    rdbDecoderFree(d);
    rdbReaderFree(r);
    return found;
}

/* A dump whose CRC does not match would write its keys before the decoder
 * reaches the mismatch at the end: one fast read first. */
static outcome precheckCrc(const char *file) {
    rdbFileCrc res;
    uint64_t stored, computed;
    char err[256];
    if (rdbFileVerifyCrc(file, &res, &stored, &computed, err, sizeof(err)) < 0) {
        logError("%s: %s", file, err);
        return OUTCOME_INPUT;
    }
    /* NO_EOF: a truncated file, or bytes after the RDB (an AOF with an RDB
     * preamble): where the CRC is, only the decoder can tell. */
    if (res != RDB_FILECRC_MISMATCH) return OUTCOME_OK;
    logError("%s: CRC-64 mismatch (stored %016llx, computed %016llx): the file is corrupt; "
                    "nothing was written (--no-precheck skips this check)",
            file, (unsigned long long)stored, (unsigned long long)computed);
    return OUTCOME_CRC;
}

outcome preflightImport(rsConn *target, const rsServerInfo *info, const char *file, int flush, int precheck) {
    struct stat sb;
    int regular = strcmp(file, "-") != 0 && stat(file, &sb) == 0 && S_ISREG(sb.st_mode);
    outcome rc = regular && precheck ? precheckCrc(file) : OUTCOME_OK;
    if (rc != OUTCOME_OK) return rc;
    needs n = {.flush = flush, .functions = regular ? fileHasFunctions(file) : 0,
               .data_bytes = regular ? (unsigned long long)sb.st_size : 0, .data_what = "the file"};
    return check(target, info, &n);
}

/* ---- live: facts from the source ---- */

static void sourceFacts(const syncConfig *sc, needs *n) {
    char err[512];
    rsConnOptions o = sc->source_conn;
    o.client_name = "rdbsync-preflight";
    rsConn *c = connOpen(sc->source, &o, err, sizeof(err));
    if (!c) return;
    char *info = connInfo(c, "memory");
    if (info) {
        n->data_bytes = infoNumber(info, "used_memory_dataset");
        free(info);
    }
    redisReply *r = connCommandf(c, "FUNCTION LIST");
    n->functions = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0;
    if (r) freeReplyObject(r);
    connClose(c);
}

outcome preflightLive(const syncConfig *sc, int flush) {
    char err[512];
    rsConnOptions o = sc->target_conn;
    o.client_name = "rdbsync-preflight";
    rsConn *c = connOpen(sc->target, &o, err, sizeof(err));
    rsServerInfo info;
    if (!c) return OUTCOME_OK; /* the sync reports the target itself */
    if (connServerInfo(c, &info) < 0) {
        connClose(c);
        return OUTCOME_OK;
    }
    needs n = {.flush = flush, .live = !sc->once, .data_what = "the source's dataset"};
    sourceFacts(sc, &n);
    outcome rc = check(c, &info, &n);
    connClose(c);
    return rc;
}

/* ---- databases, and the target made ready ---- */

void preflightDbMissing(uint64_t db, const char *why, int before_any, char *err, size_t errlen) {
    snprintf(err, errlen,
             "the target has no db %llu (%s); stopped before writing %s "
             "(write that db into an existing one with --db-map SRC:DST, or leave it out with --db)",
             (unsigned long long)db, why, before_any ? "anything" : "any key of it");
}

/* CONFIG GET databases: the count, or -1 when it is refused (managed
 * services, ACLs, renamed CONFIG). */
static long configDatabases(rsConn *t) {
    redisReply *r = connCommandf(t, "CONFIG GET databases");
    long n = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
        n = atol(r->element[1]->str);
    if (r) freeReplyObject(r);
    return n > 0 ? n : -1;
}

/* Where CONFIG is refused: SELECT db itself. 1 exists, 0 refused (why
 * filled), -1 link failure. */
static int probeDb(rsConn *t, long db, char *why, size_t whylen) {
    redisReply *r = connCommandf(t, "SELECT %ld", db);
    if (!r) return -1;
    int ok = r->type != REDIS_REPLY_ERROR;
    if (!ok) snprintf(why, whylen, "SELECT %ld: %s", db, r->str);
    freeReplyObject(r);
    return ok;
}

int preflightDbs(rsConn *target, const importOptions *o, const int *src_dbs, int n, char *err, size_t errlen) {
    long have = -2; /* not asked yet */
    for (int i = 0; i < n; i++) {
        int sdb = src_dbs[i], wanted = o->n_db_only == 0;
        for (int j = 0; j < o->n_db_only; j++) wanted |= o->db_only[j] == sdb;
        if (!wanted) continue;
        long tdb = sdb >= 0 && sdb < IMPORT_MAX_DBS && o->db_map[sdb] >= 0 ? o->db_map[sdb] : sdb;
        if (have == -2) have = configDatabases(target);
        char why[256];
        if (have > 0) {
            if (tdb < have) continue;
            snprintf(why, sizeof(why), "it has %ld databases, 0 to %ld", have, have - 1);
        } else {
            int rc = probeDb(target, tdb, why, sizeof(why));
            if (rc < 0) {
                snprintf(err, errlen, "target %s: %s", connName(target), connError(target));
                return -2;
            }
            if (rc == 1) continue;
        }
        preflightDbMissing((uint64_t)tdb, why, 1, err, errlen);
        if (tdb != sdb) {
            size_t len = strlen(err);
            snprintf(err + len, errlen - len, " [source db %d maps to it]", sdb);
        }
        return -1;
    }
    return 0;
}

int preflightDbsFrom(rsConn *src, rsConn *target, const importOptions *o, char *err, size_t errlen) {
    int dbs[IMPORT_MAX_DBS * 4];
    int n = connKeyspaceDbs(src, dbs, (int)(sizeof(dbs) / sizeof(*dbs)));
    return n > 0 ? preflightDbs(target, o, dbs, n, err, errlen) : 0;
}

int preflightFlush(rsConn *target, const rsServerInfo *info, char *err, size_t errlen) {
    const char *cmds[2] = {"FLUSHALL", "FUNCTION FLUSH"};
    int n = connServerAtLeast(info, 7, 0) ? 2 : 1;
    for (int i = 0; i < n; i++) {
        redisReply *r = connCommandf(target, cmds[i]);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (!ok) snprintf(err, errlen, "target %s: --flush-target: %s failed: %s", connName(target), cmds[i],
                          r ? r->str : connError(target));
        if (r) freeReplyObject(r);
        if (!ok) return -1;
    }
    return 0;
}

/* Delete the keys of db (already selected) matching NATIVE_TMP_PREFIX*. */
static long cleanDb(rsConn *t, char *err, size_t errlen) {
    char cursor[32] = "0";
    long n = 0;
    do {
        redisReply *r = connCommandf(t, "SCAN %s MATCH %s* COUNT 10000", cursor, NATIVE_TMP_PREFIX);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errlen, "target %s: SCAN for temporary keys failed: %s", connName(t),
                     r && r->type == REDIS_REPLY_ERROR ? r->str : connError(t));
            if (r) freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const redisReply *k = r->element[1]->element[i];
            redisReply *d = connCommand(t, 2, (const char *[]){"DEL", k->str}, (size_t[]){3, (size_t)k->len});
            if (d && d->type == REDIS_REPLY_INTEGER) n += (long)d->integer;
            if (d) freeReplyObject(d);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

int preflightPrepare(rsConn *target, const rsServerInfo *info, int flush, char *err, size_t errlen) {
    if (flush) return preflightFlush(target, info, err, errlen);
    int dbs[IMPORT_MAX_DBS * 4];
    int ndb = connKeyspaceDbs(target, dbs, (int)(sizeof(dbs) / sizeof(*dbs)));
    long total = 0;
    for (int i = 0; i < ndb; i++) {
        redisReply *r = connCommandf(target, "SELECT %d", dbs[i]);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (r) freeReplyObject(r);
        long n = ok ? cleanDb(target, err, errlen) : 0;
        if (n < 0) return -1;
        total += n;
    }
    if (total)
        logInfo("deleted %ld temporary key%s (%s*) left on the target by an interrupted run",
                total, total == 1 ? "" : "s", NATIVE_TMP_PREFIX);
    return 0;
}

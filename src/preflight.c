/* preflight.c -- checks on the target before the first write (see preflight.h). */
#include "preflight.h"

#include "native.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int preflightSourceDbs(rsConn *src, int *dbs, int max) {
    char *info = connInfo(src, "keyspace");
    int n = 0;
    if (!info) return -1;
    if (strncmp(info, "db", 2) == 0 && n < max) dbs[n++] = atoi(info + 2);
    for (char *p = info; (p = strstr(p, "\ndb")) != NULL && n < max; p += 3) dbs[n++] = atoi(p + 3);
    free(info);
    return n;
}

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
    int n = preflightSourceDbs(src, dbs, (int)(sizeof(dbs) / sizeof(*dbs)));
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
    int ndb = preflightSourceDbs(target, dbs, (int)(sizeof(dbs) / sizeof(*dbs)));
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
        fprintf(stderr, "rdbsync: deleted %ld temporary key%s (%s*) left on the target by an interrupted run\n",
                total, total == 1 ? "" : "s", NATIVE_TMP_PREFIX);
    return 0;
}

/* preflight.c -- see preflight.h. */
#include "preflight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exitcode.h"
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

/* "name:value\r\n" of an INFO text into dst; 0 when found. */
static int infoValue(const char *info, const char *name, char *dst, size_t cap) {
    size_t n = strlen(name);
    for (const char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) || p[n] != ':') continue;
        p += n + 1;
        size_t len = strcspn(p, "\r\n");
        if (len >= cap) len = cap - 1;
        memcpy(dst, p, len);
        dst[len] = '\0';
        return 0;
    }
    return -1;
}

static unsigned long long infoNumber(const char *info, const char *name) {
    char v[32];
    return infoValue(info, name, v, sizeof(v)) == 0 ? strtoull(v, NULL, 10) : 0;
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

static int checkRole(rsConn *c) {
    char *info = connInfo(c, "replication");
    char role[16] = "", host[256] = "?", port[16] = "?";
    if (!info) return EXIT_OK; /* INFO replication refused: the writes will tell */
    infoValue(info, "role", role, sizeof(role));
    infoValue(info, "master_host", host, sizeof(host));
    infoValue(info, "master_port", port, sizeof(port));
    free(info);
    if (strcmp(role, "slave") != 0) return EXIT_OK;
    if (readOnlyReplica(c)) {
        fprintf(stderr, "rdbsync: target %s is a read-only replica (of %s:%s): write to its master, or detach it "
                        "with REPLICAOF NO ONE; nothing was written\n", connAddr(c), host, port);
        return EXIT_WRITE;
    }
    fprintf(stderr, "rdbsync: warning: target %s is a writable replica of %s:%s: its next full sync from "
                    "that master erases what rdbsync writes\n", connAddr(c), host, port);
    return EXIT_OK;
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

static int checkAcl(rsConn *c, const rsServerInfo *info, const needs *n) {
    const probe all[] = {
        {"SELECT", 2, {"SELECT", "0"}},
        {"RESTORE", 4, {"RESTORE", PROBE_KEY, "0", "x"}},
        {"FUNCTION LOAD", 3, {"FUNCTION", "LOAD", "x"}},
        {"FLUSHALL", 1, {"FLUSHALL"}},
        {"FUNCTION FLUSH", 2, {"FUNCTION", "FLUSH"}},
        {"DEL", 2, {"DEL", PROBE_KEY}},
    };
    const int wanted[] = {1, 1, n->functions, n->flush, n->flush, n->live};
    if (!connServerAtLeast(info, 7, 0)) return EXIT_OK; /* no ACL DRYRUN before 7.0 */
    redisReply *r = connCommandf(c, "ACL WHOAMI");
    if (!r) goto broken;
    char user[256];
    int known = r->type == REDIS_REPLY_STRING && r->len < (int)sizeof(user);
    if (known) snprintf(user, sizeof(user), "%s", r->str);
    freeReplyObject(r);
    if (!known) return EXIT_OK;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        char why[256];
        int broken = 0;
        if (!wanted[i]) continue;
        int ok = dryRun(c, user, all[i].argc, all[i].argv, why, sizeof(why), &broken);
        if (broken) goto broken;
        if (ok < 0) return EXIT_OK;
        if (ok == 0) {
            fprintf(stderr, "rdbsync: target %s: user '%s' may not run %s (ACL DRYRUN: %s); nothing was written\n",
                    connAddr(c), user, all[i].name, why);
            return EXIT_WRITE;
        }
    }
    return EXIT_OK;
broken:
    fprintf(stderr, "rdbsync: target %s: %s\n", connName(c), connError(c));
    return EXIT_CONNECT;
}

static void checkMemory(rsConn *c, const needs *n) {
    char *info = connInfo(c, "memory");
    char policy[64] = "?";
    if (!info) return;
    unsigned long long max = infoNumber(info, "maxmemory"), used = infoNumber(info, "used_memory");
    infoValue(info, "maxmemory_policy", policy, sizeof(policy));
    free(info);
    if (!max || !n->data_bytes) return;
    unsigned long long avail = used < max ? max - used : 0;
    if (n->data_bytes <= avail) return;
    fprintf(stderr, "rdbsync: warning: target %s has %.1f MB free under maxmemory (%.1f MB, %.1f MB used, "
                    "policy %s) and %s is %.1f MB: %s\n", connAddr(c), avail / 1048576.0, max / 1048576.0,
            used / 1048576.0, policy, n->data_what, n->data_bytes / 1048576.0,
            strcmp(policy, "noeviction") == 0 ? "writes may be refused (OOM)" : "keys may be evicted");
}

static int check(rsConn *c, const rsServerInfo *info, const needs *n) {
    int rc = checkRole(c);
    if (rc == EXIT_OK) rc = checkAcl(c, info, n);
    if (rc == EXIT_OK) checkMemory(c, n);
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
static int precheckCrc(const char *file) {
    rdbFileCrc res;
    uint64_t stored, computed;
    char err[256];
    if (rdbFileVerifyCrc(file, &res, &stored, &computed, err, sizeof(err)) < 0) {
        fprintf(stderr, "rdbsync: %s: %s\n", file, err);
        return EXIT_INPUT;
    }
    /* NO_EOF: a truncated file, or bytes after the RDB (an AOF with an RDB
     * preamble): where the CRC is, only the decoder can tell. */
    if (res != RDB_FILECRC_MISMATCH) return EXIT_OK;
    fprintf(stderr, "rdbsync: %s: CRC-64 mismatch (stored %016llx, computed %016llx): the file is corrupt; "
                    "nothing was written (--no-precheck skips this check)\n",
            file, (unsigned long long)stored, (unsigned long long)computed);
    return EXIT_CRC;
}

int preflightImport(rsConn *target, const rsServerInfo *info, const char *file, int flush, int precheck) {
    struct stat sb;
    int regular = strcmp(file, "-") != 0 && stat(file, &sb) == 0 && S_ISREG(sb.st_mode);
    int rc = regular && precheck ? precheckCrc(file) : EXIT_OK;
    if (rc != EXIT_OK) return rc;
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

int preflightLive(const syncConfig *sc, int flush) {
    char err[512];
    rsConnOptions o = sc->target_conn;
    o.client_name = "rdbsync-preflight";
    rsConn *c = connOpen(sc->target, &o, err, sizeof(err));
    rsServerInfo info;
    if (!c) return EXIT_OK; /* the sync reports the target itself */
    if (connServerInfo(c, &info) < 0) {
        connClose(c);
        return EXIT_OK;
    }
    needs n = {.flush = flush, .live = !sc->once, .data_what = "the source's dataset"};
    sourceFacts(sc, &n);
    int rc = check(c, &info, &n);
    connClose(c);
    return rc;
}

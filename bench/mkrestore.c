/* mkrestore.c -- turn a loaded server into a file of RESTORE commands.
 *
 * Usage: mkrestore HOST PORT > restore.resp
 *
 * For every non-empty db: SELECT db, then for every key (SCAN) one
 *     RESTORE key ttl payload [ABSTTL]
 * with the payload from DUMP and the absolute expire from PEXPIRETIME (ttl 0
 * and no ABSTTL when the key has none). The output is the reference input of
 * the import benchmark: `redis-cli --pipe < restore.resp` is what the target
 * server can ingest at best, so rdbsync's import is timed against it.
 *
 * DUMP and PEXPIRETIME are pipelined per SCAN batch; the server is assumed to
 * be static (no writes while this runs), so SCAN returns each key once. The
 * number of keys written is printed on stderr as "mkrestore: N keys".
 * Errors: a message on stderr and exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

static void die(redisContext *c, const char *what) {
    fprintf(stderr, "mkrestore: %s: %s\n", what, c && c->err ? c->errstr : "unexpected reply");
    exit(1);
}

/* Runs a command and returns its reply, exiting on transport errors. */
static redisReply *call(redisContext *c, int argc, const char **argv, const size_t *lens) {
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    if (!r) die(c, argv[0]);
    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "mkrestore: %s: %s\n", argv[0], r->str);
        exit(1);
    }
    return r;
}

static void emit(int argc, const char **argv, const size_t *lens) {
    char *cmd;
    int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (n < 0) {
        fprintf(stderr, "mkrestore: out of memory\n");
        exit(1);
    }
    if (fwrite(cmd, 1, (size_t)n, stdout) != (size_t)n) {
        perror("mkrestore: write");
        exit(1);
    }
    redisFreeCommand(cmd);
}

static redisReply *getReply(redisContext *c) {
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK || !r) die(c, "reply");
    return r;
}

/* One RESTORE per key of a SCAN batch. Returns the number of keys written. */
static long restoreBatch(redisContext *c, redisReply *keys) {
    for (size_t i = 0; i < keys->elements; i++) {
        const char *dump[2] = {"DUMP", keys->element[i]->str};
        const char *pexp[2] = {"PEXPIRETIME", keys->element[i]->str};
        size_t lens[2] = {0, keys->element[i]->len};
        lens[0] = 4;
        redisAppendCommandArgv(c, 2, dump, lens);
        lens[0] = 11;
        redisAppendCommandArgv(c, 2, pexp, lens);
    }
    long written = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *payload = getReply(c), *ttl = getReply(c);
        if (payload->type == REDIS_REPLY_STRING && ttl->type == REDIS_REPLY_INTEGER) {
            char ttlbuf[32];
            long long abs = ttl->integer > 0 ? ttl->integer : 0;
            int tl = snprintf(ttlbuf, sizeof(ttlbuf), "%lld", abs);
            const char *argv[5] = {"RESTORE", keys->element[i]->str, ttlbuf, payload->str, "ABSTTL"};
            size_t lens[5] = {7, keys->element[i]->len, (size_t)tl, payload->len, 6};
            emit(abs ? 5 : 4, argv, lens);
            written++;
        } /* else: the key vanished (expired) between SCAN and DUMP */
        freeReplyObject(payload);
        freeReplyObject(ttl);
    }
    return written;
}

static long restoreDb(redisContext *c, int db) {
    char dbs[16], cursor[32] = "0";
    snprintf(dbs, sizeof(dbs), "%d", db);
    const char *sel[2] = {"SELECT", dbs};
    size_t sell[2] = {6, strlen(dbs)};
    freeReplyObject(call(c, 2, sel, sell));
    redisReply *n = call(c, 1, (const char *[]){"DBSIZE"}, (size_t[]){6});
    long long size = n->integer;
    freeReplyObject(n);
    if (size == 0) return 0;
    emit(2, sel, sell);

    long written = 0;
    do {
        const char *argv[4] = {"SCAN", cursor, "COUNT", "1000"};
        size_t lens[4] = {4, strlen(cursor), 5, 4};
        redisReply *r = call(c, 4, argv, lens);
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) die(NULL, "SCAN");
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        written += restoreBatch(c, r->element[1]);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return written;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: mkrestore HOST PORT > restore.resp\n");
        return 2;
    }
    redisContext *c = redisConnect(argv[1], atoi(argv[2]));
    if (!c || c->err) die(c, "connect");
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

    redisReply *r = call(c, 3, (const char *[]){"CONFIG", "GET", "databases"}, (size_t[]){6, 3, 9});
    int dbs = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? atoi(r->element[1]->str) : 16;
    freeReplyObject(r);

    long total = 0;
    for (int db = 0; db < dbs; db++) total += restoreDb(c, db);
    if (fflush(stdout) != 0) {
        perror("mkrestore: write");
        return 1;
    }
    fprintf(stderr, "mkrestore: %ld keys\n", total);
    redisFree(c);
    return 0;
}

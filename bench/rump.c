/* rump.c -- the plain SCAN + DUMP/RESTORE copy, as a reference for scan mode.
 *
 * Usage: rump SRC_PORT DST_PORT
 *
 * The approach of one-shot copiers such as Rump, written down here so the
 * benchmark compares against the same pipelining rdbsync uses: for every
 * non-empty db of 127.0.0.1:SRC_PORT, SELECT it on both sides, then per
 * `SCAN cursor COUNT 1000` batch: pipelined DUMP + PTTL for every key on the
 * source, then pipelined `RESTORE key ttl payload` on the target (ttl 0 when
 * the key has none), all replies read and checked; batches run one after the
 * other (read, then write). Keys that vanished between SCAN and DUMP are
 * skipped. Prints "rump: N keys" on stderr; exit 1 on any error reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

static void die(redisContext *c, const char *what) {
    fprintf(stderr, "rump: %s: %s\n", what, c && c->err ? c->errstr : "unexpected reply");
    exit(1);
}

static redisReply *getReply(redisContext *c) {
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK || !r) die(c, "reply");
    return r;
}

static void expectOk(redisContext *c, const char *what) {
    redisReply *r = getReply(c);
    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "rump: %s: %s\n", what, r->str);
        exit(1);
    }
    freeReplyObject(r);
}

/* Copies one SCAN batch. Returns the number of keys restored. */
static long copyBatch(redisContext *src, redisContext *dst, redisReply *keys) {
    size_t n = keys->elements;
    redisReply **dump = calloc(n ? n : 1, sizeof(*dump)), **ttl = calloc(n ? n : 1, sizeof(*ttl));
    if (!dump || !ttl) die(NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *k = keys->element[i]->str;
        size_t kl = keys->element[i]->len;
        redisAppendCommandArgv(src, 2, (const char *[]){"DUMP", k}, (size_t[]){4, kl});
        redisAppendCommandArgv(src, 2, (const char *[]){"PTTL", k}, (size_t[]){4, kl});
    }
    for (size_t i = 0; i < n; i++) {
        dump[i] = getReply(src);
        ttl[i] = getReply(src);
    }
    long written = 0;
    for (size_t i = 0; i < n; i++) {
        if (dump[i]->type != REDIS_REPLY_STRING || ttl[i]->type != REDIS_REPLY_INTEGER || ttl[i]->integer == -2)
            continue; /* gone since SCAN */
        char ttlbuf[32];
        int tl = snprintf(ttlbuf, sizeof(ttlbuf), "%lld", ttl[i]->integer > 0 ? ttl[i]->integer : 0);
        const char *argv[4] = {"RESTORE", keys->element[i]->str, ttlbuf, dump[i]->str};
        size_t lens[4] = {7, keys->element[i]->len, (size_t)tl, dump[i]->len};
        redisAppendCommandArgv(dst, 4, argv, lens);
        written++;
    }
    for (long i = 0; i < written; i++) expectOk(dst, "RESTORE");
    for (size_t i = 0; i < n; i++) {
        freeReplyObject(dump[i]);
        freeReplyObject(ttl[i]);
    }
    free(dump);
    free(ttl);
    return written;
}

static long copyDb(redisContext *src, redisContext *dst, int db) {
    redisReply *r = redisCommand(src, "SELECT %d", db);
    if (!r || r->type == REDIS_REPLY_ERROR) die(src, "SELECT");
    freeReplyObject(r);
    if (!(r = redisCommand(src, "DBSIZE")) || r->type != REDIS_REPLY_INTEGER) die(src, "DBSIZE");
    long long size = r->integer;
    freeReplyObject(r);
    if (size == 0) return 0;
    if (!(r = redisCommand(dst, "SELECT %d", db)) || r->type == REDIS_REPLY_ERROR) die(dst, "SELECT");
    freeReplyObject(r);

    char cursor[32] = "0";
    long written = 0;
    do {
        r = redisCommand(src, "SCAN %s COUNT 1000", cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) die(src, "SCAN");
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        written += copyBatch(src, dst, r->element[1]);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return written;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: rump SRC_PORT DST_PORT\n");
        return 2;
    }
    redisContext *src = redisConnect("127.0.0.1", atoi(argv[1]));
    if (!src || src->err) die(src, "connect source");
    redisContext *dst = redisConnect("127.0.0.1", atoi(argv[2]));
    if (!dst || dst->err) die(dst, "connect target");
    redisReply *r = redisCommand(src, "CONFIG GET databases");
    int dbs = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? atoi(r->element[1]->str) : 16;
    if (r) freeReplyObject(r);

    long total = 0;
    for (int db = 0; db < dbs; db++) total += copyDb(src, dst, db);
    fprintf(stderr, "rump: %ld keys\n", total);
    redisFree(src);
    redisFree(dst);
    return 0;
}

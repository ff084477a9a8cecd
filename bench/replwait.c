/* replwait.c -- time a native full sync: REPLICAOF, then wait until done.
 *
 * Usage: replwait REPLICA_PORT MASTER_PORT [TIMEOUT_S]
 *
 * Sends `REPLICAOF 127.0.0.1 MASTER_PORT` to the (empty) redis-server on
 * 127.0.0.1:REPLICA_PORT, then polls INFO replication every 10 ms until it
 * shows master_link_status:up and master_sync_in_progress:0, i.e. the
 * snapshot was received and loaded. Prints `native_wall=SECONDS` (from just
 * before REPLICAOF) on stdout. This is the reference of the sync benchmark:
 * the same source, the same transfer, with Redis itself as the replica.
 * Exit 1 on errors or after TIMEOUT_S (default 300) seconds.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(redisContext *c, const char *what) {
    fprintf(stderr, "replwait: %s: %s\n", what, c && c->err ? c->errstr : "unexpected reply");
    exit(1);
}

/* 1 when an INFO replication text says the initial sync is over. */
static int synced(const char *info) {
    return strstr(info, "master_link_status:up\r\n") && strstr(info, "master_sync_in_progress:0\r\n");
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: replwait REPLICA_PORT MASTER_PORT [TIMEOUT_S]\n");
        return 2;
    }
    double timeout = argc > 3 ? atof(argv[3]) : 300;
    redisContext *c = redisConnect("127.0.0.1", atoi(argv[1]));
    if (!c || c->err) die(c, "connect");

    double t0 = now();
    redisReply *r = redisCommand(c, "REPLICAOF 127.0.0.1 %s", argv[2]);
    if (!r || r->type != REDIS_REPLY_STATUS) die(c, "REPLICAOF");
    freeReplyObject(r);
    for (;;) {
        r = redisCommand(c, "INFO replication");
        if (!r || r->type != REDIS_REPLY_STRING) die(c, "INFO");
        int done = synced(r->str);
        freeReplyObject(r);
        if (done) break;
        if (now() - t0 > timeout) {
            fprintf(stderr, "replwait: not in sync after %.0f s\n", timeout);
            return 1;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    printf("native_wall=%.6f\n", now() - t0);
    redisFree(c);
    return 0;
}

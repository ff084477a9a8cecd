/* load.c -- a bounded, deterministic write load for the live-sync tests
 * (tests/it_sync.sh, tests/demo.sh). A test tool, not part of rdbsync.
 *
 *   load --port P [--seconds S] [--rate R] [--count N] [--seed X]
 *        [--keys K] [--dbs D] [--value-size B] [--heavy] [--no-groups]
 *        [--no-volatile] [--idempotent] [--no-streams] [--no-set-ttl] [--quiet]
 *
 * Talks to 127.0.0.1:P only (there is no host option on purpose). Sends
 * pipelined batches of writes until S seconds passed or N operations were
 * sent, whichever comes first, at about R operations per second (0: as
 * fast as the server answers). The sequence of operations is a function of
 * the seed alone; only how much of it runs depends on time.
 *
 * Every key starts with "ld:" (the dataset of tests/gen_dataset.sh uses
 * other names). One operation is one of, in dbs 0..D-1 (SELECT):
 *   strings SET (short, 1 KB, or B bytes), SET EX, INCR, APPEND;
 *   lists LPUSH/RPUSH/RPOP; sets SADD/SREM/SPOP; zsets ZADD/ZINCRBY/ZREM;
 *   hashes HSET/HDEL; streams XADD (explicit IDs) / XREADGROUP / XACK /
 *   XDEL; EXPIRE, PEXPIRE, SET EX of an hour; PERSIST; DEL; RENAME;
 *   keys ld:e:<n> written once with a TTL of 0.5-3 s (see opEphemeral);
 *   MULTI/EXEC (with a SELECT inside); EVAL writing 2 keys; PUBLISH.
 * Streams are created with a consumer group at start and never deleted,
 * renamed or expired, so XACK/XREADGROUP never meet a missing group.
 * --heavy: 9 operations in 10 are SETs of B bytes (default 8192) to
 * many MB/s of replication stream.
 * --no-groups: no XREADGROUP/XACK (a consumer's seen-time is the clock of
 * the server that applies the read, so two servers never agree on it and
 * whole-dataset digests differ). --no-volatile: no ld:e keys (a source
 * may keep an expired key for a while; a SAVE then still holds it).
 * --no-streams: no stream keys at all (Redis 2.8 has none; stream metadata
 * of 7.0+ does not fit 6.2's format).
 * --no-set-ttl: SET ... EX of an hour goes as SET then EXPIRE (Redis 7.0+
 * propagates SET EX as SET ... PXAT, which 2.8 lacks).
 * Each flag skips the operations drawn of that kind (another sequence,
 * still a function of the seed).
 * --idempotent: only writes that set an element to a value (SET, SET EX,
 * HSET, HDEL, SADD, SREM, ZADD, ZREM, DEL, EXPIRE, a MULTI of SET and
 * HSET across dbs): running again any suffix of the sequence, in order,
 * after part of it ran, ends in the same dataset. For tests of a delivery
 * that is at least once (a --state resume after SIGKILL). Redis 7.0+
 * propagates EXPIRE and SET EX as absolute times.
 *
 * Prints one line at the end, "load: ops N cmds N errors N seconds S"
 * (with --quiet only when there were error replies).
 * Exit status 0 when the server answered everything (error replies are
 * counted and the first few shown; with a correct mix there are none),
 * 1 on a usage error, 2 when the connection fails.
 */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 50
#define NSTREAMS 4
#define MAXDBS 16

typedef struct cfg {
    int port;
    double seconds;
    long rate;
    long count;
    uint64_t seed;
    int keys, dbs, value_size, heavy, quiet;
    int no_groups, no_volatile, idempotent, no_streams, no_set_ttl;
} cfg;

typedef struct state {
    const cfg *c;
    redisContext *rc;
    uint64_t rng;
    int db;                        /* db selected on the connection */
    long pending;                  /* replies to read */
    long ops, cmds, errors;
    long ephemeral;                /* ld:e:<n> keys made */
    long xseq[MAXDBS][NSTREAMS];   /* last stream ID sequence, per stream */
    char *big;                     /* value_size bytes */
    char small[1100];
} state;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: deterministic, no libc rand state. */
static uint64_t next(state *s) {
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int pick(state *s, int n) { return (int)(next(s) % (uint64_t)n); }

/* Queue one command; replies are read per batch. */
static void cmd(state *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (redisvAppendCommand(s->rc, fmt, ap) != REDIS_OK) {
        fprintf(stderr, "load: cannot queue a command: %s\n", s->rc->errstr);
        exit(2);
    }
    va_end(ap);
    s->pending++;
    s->cmds++;
}

static void readReplies(state *s) {
    for (; s->pending > 0; s->pending--) {
        redisReply *r = NULL;
        if (redisGetReply(s->rc, (void **)&r) != REDIS_OK || !r) {
            fprintf(stderr, "load: connection to 127.0.0.1:%d failed: %s\n", s->c->port, s->rc->errstr);
            exit(2);
        }
        int bad = r->type == REDIS_REPLY_ERROR;
        /* EXEC's array holds the errors of queued commands. */
        if (r->type == REDIS_REPLY_ARRAY)
            for (size_t i = 0; i < r->elements; i++) bad |= r->element[i]->type == REDIS_REPLY_ERROR;
        if (bad && s->errors++ < 5)
            fprintf(stderr, "load: error reply: %s\n", r->type == REDIS_REPLY_ERROR ? r->str : "(inside EXEC)");
        freeReplyObject(r);
    }
}

static void selectDb(state *s, int db) {
    if (db == s->db) return;
    cmd(s, "SELECT %d", db);
    s->db = db;
}

/* A small value: mostly short text, sometimes ~1 KB (other encodings). */
static const char *val(state *s, size_t *len) {
    uint64_t x = next(s);
    if (x % 16 == 0) {
        size_t n = 700 + x % 400;
        for (size_t i = 0; i < n; i++) s->small[i] = (char)('a' + (x >> (i % 50)) % 26);
        *len = n;
    } else {
        *len = (size_t)snprintf(s->small, sizeof(s->small), "v%llu", (unsigned long long)(x % 100000));
    }
    return s->small;
}

/* Key names: ld:<type>:<n>; streams ld:x:<n> are kept apart. */
static const char *const TYPES[] = {"s", "c", "l", "S", "z", "h"};
#define NTYPES 6

static void anyKey(state *s, char *out, size_t cap) {
    snprintf(out, cap, "ld:%s:%d", TYPES[pick(s, NTYPES)], pick(s, s->c->keys));
}

static void opString(state *s, const char *k) {
    size_t n;
    const char *v;
    switch (pick(s, 4)) {
    case 0: v = val(s, &n); cmd(s, "SET %s %b", k, v, n); break;
    case 1:
        v = val(s, &n);
        if (s->c->no_set_ttl) cmd(s, "SET %s %b", k, v, n), cmd(s, "EXPIRE %s %d", k, 3600 + pick(s, 3));
        else cmd(s, "SET %s %b EX %d", k, v, n, 3600 + pick(s, 3));
        break;
    case 2: v = val(s, &n); cmd(s, "APPEND %s %b", k, v, n); break;
    default: cmd(s, "SET %s %b", k, s->big, (size_t)s->c->value_size); break;
    }
}

static void opStream(state *s) {
    int i = pick(s, NSTREAMS);
    long *seq = &s->xseq[s->db][i];
    char k[32];
    size_t n;
    const char *v;
    snprintf(k, sizeof(k), "ld:x:%d", i);
    switch (pick(s, 6)) {
    case 0:
    case 1:
    case 2:
        v = val(s, &n);
        ++*seq;
        cmd(s, "XADD %s MAXLEN ~ 500 1-%ld f %b n %ld", k, *seq, v, n, *seq);
        break;
    case 3:
        if (s->c->no_groups) break;
        cmd(s, "XREADGROUP GROUP g c%d COUNT 3 STREAMS %s >", pick(s, 3), k);
        break;
    case 4:
        if (*seq > 0 && !s->c->no_groups) cmd(s, "XACK %s g 1-%ld 1-%ld", k, 1 + (long)pick(s, (int)*seq), *seq);
        break;
    default: if (*seq > 0) cmd(s, "XDEL %s 1-%ld", k, 1 + (long)pick(s, (int)*seq)); break;
    }
}

/* A key that expires within 0.5-3 s and is never written again. Keys
 * written again near their expiry (or TTLs extended then) would make the
 * target differ for a reason no sync tool can avoid: the target expires
 * keys by its own clock, so a write the source ran just before the expiry
 * reaches a target that already dropped the key. */
static void opEphemeral(state *s) {
    char k[64];
    size_t n;
    const char *v = val(s, &n);
    snprintf(k, sizeof(k), "ld:e:%ld", ++s->ephemeral);
    switch (pick(s, 5)) {
    case 0: cmd(s, "SET %s %b EX %d", k, v, n, 1 + pick(s, 2)); break;
    case 1: cmd(s, "SET %s %b PX %d", k, v, n, 500 + pick(s, 2500)); break;
    case 2: cmd(s, "RPUSH %s %b x", k, v, n); cmd(s, "PEXPIRE %s %d", k, 500 + pick(s, 2500)); break;
    case 3: cmd(s, "HSET %s f %b", k, v, n); cmd(s, "EXPIRE %s %d", k, 1 + pick(s, 2)); break;
    default: cmd(s, "ZADD %s 1 %b", k, v, n); cmd(s, "PEXPIRE %s %d", k, 500 + pick(s, 2500)); break;
    }
}

static const char SCRIPT[] =
    "redis.call('SET', KEYS[1], ARGV[1]) redis.call('HINCRBY', KEYS[2], 'n', 1) return 1";

/* --idempotent: the last write of an element decides it, whatever ran before. */
static void opIdempotent(state *s) {
    char k[64];
    size_t n;
    const char *v;
    int i = pick(s, s->c->keys);
    switch (pick(s, 12)) {
    case 0: case 1: v = val(s, &n); cmd(s, "SET ld:s:%d %b", i, v, n); break;
    case 2: v = val(s, &n); cmd(s, "SET ld:s:%d %b EX %d", i, v, n, 3600 + pick(s, 3)); break;
    case 3: v = val(s, &n); cmd(s, "HSET ld:h:%d f%d %b", i, pick(s, 300), v, n); break;
    case 4: cmd(s, "HDEL ld:h:%d f%d", i, pick(s, 300)); break;
    case 5: cmd(s, "SADD ld:S:%d m%d", i, pick(s, 300)); break;
    case 6: cmd(s, "SREM ld:S:%d m%d", i, pick(s, 300)); break;
    case 7: cmd(s, "ZADD ld:z:%d %d m%d", i, pick(s, 1000) - 500, pick(s, 300)); break;
    case 8: cmd(s, "ZREM ld:z:%d m%d", i, pick(s, 300)); break;
    case 9: anyKey(s, k, sizeof(k)); cmd(s, pick(s, 4) ? "EXPIRE %s %d" : "DEL %s", k, 3600 + pick(s, 100)); break;
    case 10: {
        int other = (s->db + 1) % s->c->dbs;
        v = val(s, &n);
        cmd(s, "MULTI");
        cmd(s, "SET ld:s:%d %b", i, v, n);
        cmd(s, "SELECT %d", other);
        cmd(s, "HSET ld:h:%d t%d %b", i, pick(s, 50), v, n);
        cmd(s, "SELECT %d", s->db);
        cmd(s, "EXEC");
        break;
    }
    default: selectDb(s, pick(s, s->c->dbs)); break;
    }
}

static void opMixed(state *s) {
    char k[64], k2[64];
    size_t n;
    const char *v;
    int i = pick(s, s->c->keys);
    int op = pick(s, 28);
    switch (op) {
    case 0: case 1: case 2: snprintf(k, sizeof(k), "ld:s:%d", i); opString(s, k); break;
    case 3: case 4: cmd(s, "INCR ld:c:%d", i); break;
    case 5: v = val(s, &n); cmd(s, pick(s, 2) ? "LPUSH ld:l:%d %b" : "RPUSH ld:l:%d %b", i, v, n); break;
    case 6: cmd(s, "RPOP ld:l:%d", i); break;
    case 7: v = val(s, &n); cmd(s, "SADD ld:S:%d %b m%d", i, v, n, pick(s, 300)); break;
    case 8: cmd(s, pick(s, 2) ? "SREM ld:S:%d m%d" : "SPOP ld:S:%d", i, pick(s, 300)); break;
    case 9: cmd(s, "ZADD ld:z:%d %d m%d", i, pick(s, 1000) - 500, pick(s, 300)); break;
    case 10: cmd(s, "ZINCRBY ld:z:%d 1.5 m%d", i, pick(s, 300)); break;
    case 11: cmd(s, "ZREM ld:z:%d m%d", i, pick(s, 300)); break;
    case 12: v = val(s, &n); cmd(s, "HSET ld:h:%d f%d %b", i, pick(s, 300), v, n); break;
    case 13: cmd(s, "HDEL ld:h:%d f%d f%d", i, pick(s, 300), pick(s, 300)); break;
    case 14: case 15: if (!s->c->no_streams) opStream(s); break;
    case 16: anyKey(s, k, sizeof(k)); cmd(s, "EXPIRE %s %d", k, 3600 + pick(s, 100)); break;
    case 17: anyKey(s, k, sizeof(k)); cmd(s, "PEXPIRE %s %d", k, 3600000 + pick(s, 100000)); break;
    case 25: if (!s->c->no_volatile) opEphemeral(s); break;
    case 18: anyKey(s, k, sizeof(k)); cmd(s, pick(s, 3) ? "DEL %s" : "PERSIST %s", k); break;
    case 19: {
        /* RENAME needs an existing source: create it in the same batch. */
        const char *t = TYPES[pick(s, NTYPES)];
        snprintf(k, sizeof(k), "ld:%s:%d", t, i);
        snprintf(k2, sizeof(k2), "ld:%s:%d", t, pick(s, s->c->keys));
        if (t[0] == 's') cmd(s, "SETNX %s r", k);
        else if (t[0] == 'c') cmd(s, "INCR %s", k);
        else if (t[0] == 'l') cmd(s, "RPUSH %s r", k);
        else if (t[0] == 'S') cmd(s, "SADD %s r", k);
        else if (t[0] == 'z') cmd(s, "ZADD %s 1 r", k);
        else cmd(s, "HSET %s r 1", k);
        cmd(s, "RENAME %s %s", k, k2);
        break;
    }
    case 20: case 21: {
        /* A transaction that also writes into another db. */
        int other = (s->db + 1 + pick(s, s->c->dbs > 1 ? s->c->dbs - 1 : 1)) % s->c->dbs;
        cmd(s, "MULTI");
        cmd(s, "INCR ld:c:%d", i);
        v = val(s, &n);
        cmd(s, "HSET ld:h:%d t%d %b", i, pick(s, 50), v, n);
        cmd(s, "SELECT %d", other);
        cmd(s, "LPUSH ld:l:%d tx", i);
        cmd(s, "SELECT %d", s->db);
        cmd(s, "EXEC");
        break;
    }
    case 22: case 23: {
        v = val(s, &n);
        cmd(s, "EVAL %s 2 ld:s:%d ld:h:%d %b", SCRIPT, i, pick(s, s->c->keys), v, n);
        break;
    }
    case 24: v = val(s, &n); cmd(s, "PUBLISH ld:chan %b", v, n); break;
    default: selectDb(s, pick(s, s->c->dbs)); break;
    }
}

static void op(state *s) {
    if (s->c->heavy && pick(s, 10) != 0) {
        char k[64];
        snprintf(k, sizeof(k), "ld:s:%d", pick(s, s->c->keys * 20));
        cmd(s, "SET %s %b", k, s->big, (size_t)s->c->value_size);
        /* Different bytes each time, cheaply: stamp the op number. */
        memcpy(s->big, &s->ops, sizeof(s->ops));
    } else if (s->c->idempotent) {
        opIdempotent(s);
    } else {
        opMixed(s);
    }
    s->ops++;
}

/* The streams and their group exist before the first operation. */
static void setup(state *s) {
    for (int db = 0; db < s->c->dbs && !s->c->no_streams; db++) {
        selectDb(s, db);
        for (int i = 0; i < NSTREAMS; i++) {
            cmd(s, "DEL ld:x:%d", i);
            cmd(s, "XGROUP CREATE ld:x:%d g 0 MKSTREAM", i);
        }
    }
    selectDb(s, 0);
    readReplies(s);
}

static void usage(void) {
    fprintf(stderr, "usage: load --port P [--seconds S] [--rate R] [--count N] [--seed X] [--keys K] [--dbs D]\n"
                    "            [--value-size B] [--heavy] [--no-groups] [--no-volatile] [--idempotent]\n"
                    "            [--no-streams] [--no-set-ttl] [--quiet]\n");
    exit(1);
}

static void parse(cfg *c, int argc, char **argv) {
    *c = (cfg){.seconds = 3, .rate = 2000, .count = 1000000, .seed = 1, .keys = 40, .dbs = 3, .value_size = 8192};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--heavy")) { c->heavy = 1; continue; }
        if (!strcmp(a, "--quiet")) { c->quiet = 1; continue; }
        if (!strcmp(a, "--no-groups")) { c->no_groups = 1; continue; }
        if (!strcmp(a, "--no-volatile")) { c->no_volatile = 1; continue; }
        if (!strcmp(a, "--idempotent")) { c->idempotent = 1; continue; }
        if (!strcmp(a, "--no-streams")) { c->no_streams = 1; continue; }
        if (!strcmp(a, "--no-set-ttl")) { c->no_set_ttl = 1; continue; }
        if (!v) usage();
        i++;
        if (!strcmp(a, "--port")) c->port = atoi(v);
        else if (!strcmp(a, "--seconds")) c->seconds = atof(v);
        else if (!strcmp(a, "--rate")) c->rate = atol(v);
        else if (!strcmp(a, "--count")) c->count = atol(v);
        else if (!strcmp(a, "--seed")) c->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--keys")) c->keys = atoi(v);
        else if (!strcmp(a, "--dbs")) c->dbs = atoi(v);
        else if (!strcmp(a, "--value-size")) c->value_size = atoi(v);
        else usage();
    }
    if (c->port <= 0 || c->port > 65535 || c->seconds <= 0 || c->rate < 0 || c->count <= 0 || c->keys <= 0 ||
        c->dbs <= 0 || c->dbs > MAXDBS || c->value_size <= 8)
        usage();
}

int main(int argc, char **argv) {
    cfg c;
    parse(&c, argc, argv);
    state s = {.c = &c, .rng = c.seed, .db = 0};
    s.big = malloc((size_t)c.value_size);
    if (!s.big) return 2;
    for (int i = 0; i < c.value_size; i++) s.big[i] = (char)('A' + (i * 7 + (int)c.seed) % 26);
    struct timeval tv = {5, 0};
    s.rc = redisConnectWithTimeout("127.0.0.1", c.port, tv);
    if (!s.rc || s.rc->err) {
        fprintf(stderr, "load: cannot connect to 127.0.0.1:%d: %s\n", c.port, s.rc ? s.rc->errstr : "oom");
        return 2;
    }
    redisSetTimeout(s.rc, (struct timeval){30, 0});
    setup(&s);
    double t0 = now(), t;
    while (s.ops < c.count && (t = now() - t0) < c.seconds) {
        /* Ahead of the rate: wait for the schedule to catch up. */
        if (c.rate > 0 && s.ops > (long)(t * (double)c.rate)) {
            usleep(2000);
            continue;
        }
        for (int b = 0; b < BATCH && s.ops < c.count; b++) op(&s);
        readReplies(&s);
    }
    selectDb(&s, 0);
    readReplies(&s);
    if (!c.quiet || s.errors)
        printf("load: ops %ld cmds %ld errors %ld seconds %.1f\n", s.ops, s.cmds, s.errors, now() - t0);
    redisFree(s.rc);
    free(s.big);
    return 0;
}

/* lagprobe.c -- replication lag: a write on a source until it is visible
 * on one or more replicas/targets.
 *
 * Usage: lagprobe SRC_PORT N INTERVAL_US TIMEOUT_MS NAME=PORT [NAME=PORT...]
 *
 * N times: SET lagprobe:<i> <CLOCK_REALTIME in µs> on 127.0.0.1:SRC_PORT,
 * then GET that key on every NAME=PORT in turn, in a tight loop, until each
 * one returns it (or TIMEOUT_MS passed: the probe counts as lost for that
 * side); then sleep INTERVAL_US. The delay of a side is the time from just
 * before the SET until the GET that first saw the value (whose content is
 * checked against what was written). All sides are polled in the same loop,
 * so they see the same writes under the same load. A probe not seen within
 * TIMEOUT_MS is lost for that side and counts as TIMEOUT_MS in its
 * percentiles (a lower bound: a stall must not make the figures look better).
 *
 * Prints one line per side on stdout:
 *     NAME n=2000 lost=0 p50_us=412 p90_us=800 p99_us=2100 max_us=5300
 * (n probes, nearest-rank percentiles). With
 * LAGPROBE_TRACE=FILE in the environment, every probe is also written to
 * FILE as "i start_us delay_us..." (one delay per side, -1 when lost), to
 * see when stalls happened. To stay bounded
 * when a side is broken, probing stops early once a side lost 10 probes
 * (its line then shows it). Exit 1 on connection errors or an unexpected
 * reply.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define MAX_SIDES 4
#define MAX_LOST 10

typedef struct side {
    const char *name;
    redisContext *c;
    int64_t *delays; /* µs, one per probe; lost ones count as the timeout */
    long n, lost;
} side;

static FILE *trace;

static int64_t realtimeUs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(redisContext *c, const char *what) {
    fprintf(stderr, "lagprobe: %s: %s\n", what, c && c->err ? c->errstr : "unexpected reply");
    exit(1);
}

static redisContext *connectPort(const char *port) {
    redisContext *c = redisConnect("127.0.0.1", atoi(port));
    if (!c || c->err) die(c, "connect");
    return c;
}

/* GET key on one side: 1 when it holds the expected value, 0 when absent. */
static int visible(side *s, const char *key, const char *want) {
    redisReply *r = redisCommand(s->c, "GET %s", key);
    if (!r) die(s->c, s->name);
    int ok = r->type == REDIS_REPLY_STRING;
    if (ok && strcmp(r->str, want) != 0) die(NULL, "value mismatch");
    if (!ok && r->type != REDIS_REPLY_NIL) die(NULL, r->type == REDIS_REPLY_ERROR ? r->str : "GET");
    freeReplyObject(r);
    return ok;
}

/* One probe: write on the source, poll every side until seen or timeout.
 * Returns 0 when probing may go on, -1 once a side lost MAX_LOST probes. */
static int probe(redisContext *src, side *sides, int nsides, long i, int64_t timeoutUs) {
    char key[64], val[32];
    int64_t t0 = realtimeUs();
    snprintf(key, sizeof(key), "lagprobe:%ld", i);
    snprintf(val, sizeof(val), "%lld", (long long)t0);
    redisReply *r = redisCommand(src, "SET %s %s", key, val);
    if (!r || r->type != REDIS_REPLY_STATUS) die(src, "SET");
    freeReplyObject(r);

    int pending = nsides, seen[MAX_SIDES] = {0};
    while (pending > 0) {
        for (int k = 0; k < nsides; k++) {
            if (seen[k] || !visible(&sides[k], key, val)) continue;
            seen[k] = 1;
            pending--;
            sides[k].delays[sides[k].n++] = realtimeUs() - t0;
        }
        if (pending > 0 && realtimeUs() - t0 > timeoutUs) break;
    }
    int stop = 0;
    if (trace) fprintf(trace, "%ld %lld", i, (long long)t0);
    for (int k = 0; k < nsides; k++) {
        if (trace) fprintf(trace, " %lld", seen[k] ? (long long)sides[k].delays[sides[k].n - 1] : -1LL);
        if (!seen[k]) {
            sides[k].delays[sides[k].n++] = timeoutUs;
            sides[k].lost++;
        }
        stop |= sides[k].lost >= MAX_LOST;
    }
    if (trace) fputc('\n', trace);
    return stop ? -1 : 0;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static int64_t pct(const int64_t *v, long n, double q) {
    if (n == 0) return -1;
    long rank = (long)(q * (double)n + 0.999999);
    if (rank < 1) rank = 1;
    return v[rank - 1];
}

static void report(side *s) {
    qsort(s->delays, (size_t)s->n, sizeof(*s->delays), cmp64);
    printf("%s n=%ld lost=%ld p50_us=%lld p90_us=%lld p99_us=%lld max_us=%lld\n", s->name, s->n, s->lost,
           (long long)pct(s->delays, s->n, 0.50), (long long)pct(s->delays, s->n, 0.90),
           (long long)pct(s->delays, s->n, 0.99), (long long)pct(s->delays, s->n, 1.0));
}

int main(int argc, char **argv) {
    if (argc < 6 || argc - 5 > MAX_SIDES) {
        fprintf(stderr, "usage: lagprobe SRC_PORT N INTERVAL_US TIMEOUT_MS NAME=PORT [NAME=PORT...]\n");
        return 2;
    }
    long n = atol(argv[2]);
    long interval = atol(argv[3]);
    int64_t timeoutUs = (int64_t)atol(argv[4]) * 1000;
    int nsides = argc - 5;
    side sides[MAX_SIDES];
    redisContext *src = connectPort(argv[1]);
    const char *tracePath = getenv("LAGPROBE_TRACE");
    if (tracePath && *tracePath && !(trace = fopen(tracePath, "w"))) die(NULL, "cannot open LAGPROBE_TRACE");
    for (int k = 0; k < nsides; k++) {
        char *eq = strchr(argv[5 + k], '=');
        if (!eq || n <= 0) {
            fprintf(stderr, "lagprobe: bad argument '%s'\n", argv[5 + k]);
            return 2;
        }
        *eq = '\0';
        sides[k] = (side){.name = argv[5 + k], .c = connectPort(eq + 1)};
        if (!(sides[k].delays = malloc((size_t)n * sizeof(int64_t)))) die(NULL, "out of memory");
    }
    struct timespec pause = {interval / 1000000, (interval % 1000000) * 1000};
    for (long i = 0; i < n; i++) {
        if (probe(src, sides, nsides, i, timeoutUs) < 0) {
            fprintf(stderr, "lagprobe: stopped after %ld probes: %d lost on one side\n", i + 1, MAX_LOST);
            break;
        }
        nanosleep(&pause, NULL);
    }
    for (int k = 0; k < nsides; k++) report(&sides[k]);
    if (trace && fclose(trace) != 0) die(NULL, "writing LAGPROBE_TRACE");
    return 0;
}

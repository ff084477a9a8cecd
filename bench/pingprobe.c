/* pingprobe.c -- a server's responsiveness while something else runs.
 *
 * Usage: pingprobe PORT INTERVAL_MS MAX_SECONDS
 *
 * PINGs 127.0.0.1:PORT every INTERVAL_MS (like `redis-cli --latency`) until
 * SIGTERM/SIGINT or MAX_SECONDS, timing each round trip, then prints
 *     n=512 p50_us=95 p99_us=2300 max_us=8100
 * on stdout (nearest-rank percentiles). Started in the background around a
 * copy, it shows how much the copy slows the source down for its other
 * clients; started alone, it gives the idle baseline. Exit 1 on errors.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <hiredis/hiredis.h>

static volatile sig_atomic_t stop;

static void onSignal(int sig) {
    (void)sig;
    stop = 1;
}

static int64_t monoUs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static long long pct(const int64_t *v, long n, double q) {
    if (n == 0) return -1;
    long rank = (long)(q * (double)n + 0.999999);
    return (long long)v[(rank < 1 ? 1 : rank) - 1];
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: pingprobe PORT INTERVAL_MS MAX_SECONDS\n");
        return 2;
    }
    long interval = atol(argv[2]), maxs = atol(argv[3]);
    long cap = interval > 0 ? maxs * 1000 / interval + 1 : 0;
    int64_t *rtt = malloc((size_t)(cap > 0 ? cap : 1) * sizeof(*rtt));
    redisContext *c = redisConnect("127.0.0.1", atoi(argv[1]));
    if (!rtt || !c || c->err || cap <= 0) {
        fprintf(stderr, "pingprobe: %s\n", c && c->err ? c->errstr : "bad arguments or out of memory");
        return 1;
    }
    struct sigaction sa = {.sa_handler = onSignal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    long n = 0;
    struct timespec pause = {interval / 1000, (interval % 1000) * 1000000};
    while (!stop && n < cap) {
        int64_t t0 = monoUs();
        redisReply *r = redisCommand(c, "PING");
        if (!r) {
            fprintf(stderr, "pingprobe: %s\n", c->errstr);
            return 1;
        }
        freeReplyObject(r);
        rtt[n++] = monoUs() - t0;
        nanosleep(&pause, NULL); /* a signal cuts it short: fine */
    }
    qsort(rtt, (size_t)n, sizeof(*rtt), cmp64);
    printf("n=%ld p50_us=%lld p99_us=%lld max_us=%lld\n", n, pct(rtt, n, 0.5), pct(rtt, n, 0.99),
           pct(rtt, n, 1.0));
    return 0;
}

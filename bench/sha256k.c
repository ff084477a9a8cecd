/* sha256k.c -- ns per block of each SHA-256 kernel (rdb/sha256x.h) here.
 *
 * Usage: sha256k [CALLS [RUNS]]. For every kernel this CPU has, and for
 * OpenSSL's SHA256_Update on one chained stream (what a message of many
 * blocks costs without lanes), runs CALLS calls of 16 blocks RUNS times and
 * prints the best run's ns per block: the machine is shared, and the best
 * run is the one least disturbed. Built by bench/run.sh (section kernels)
 * with rdb/sha256x.c.
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rdb/sha256x.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* not the time others run */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char st[SHA256X_LANES][32], blk[SHA256X_LANES][64];

/* Best of runs, ns a block; chained: each call continues the last one's
 * states (sha256xCompress), else every lane starts from the IV. */
static double timeKernel(sha256xFn *fn, long calls, int runs) {
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        for (long i = 0; i < calls; i++) {
            blk[i & 15][0] = (unsigned char)i; /* no two calls alike */
            fn(st, (const unsigned char (*)[64])blk);
        }
        double ns = (now() - t0) * 1e9 / ((double)calls * SHA256X_LANES);
        if (ns < best) best = ns;
    }
    return best;
}

static double timeOpenSSL(long calls, int runs) {
    double best = 1e30;
    static unsigned char buf[SHA256X_LANES * 64];
    for (int r = 0; r < runs; r++) {
        SHA256_CTX c;
        unsigned char out[32];
        SHA256_Init(&c);
        double t0 = now();
        for (long i = 0; i < calls; i++) SHA256_Update(&c, buf, sizeof buf);
        SHA256_Final(out, &c);
        double ns = (now() - t0) * 1e9 / ((double)calls * SHA256X_LANES);
        if (ns < best) best = ns;
        buf[0] ^= out[0];
    }
    return best;
}

int main(int argc, char **argv) {
    long calls = argc > 1 ? atol(argv[1]) : 200000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    static const char *names[] = {"avx512", "shani", "avx2lanes", "scalar"};
    for (int l = 0; l < SHA256X_LANES; l++)
        for (int i = 0; i < 64; i++) blk[l][i] = (unsigned char)(l * 64 + i);
    printf("dispatch: %s (RDBSYNC_SIMD=%s)\n", sha256xImpl(), getenv("RDBSYNC_SIMD") ? getenv("RDBSYNC_SIMD") : "");
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        sha256xFn *fn = sha256xKernel(names[k], 0), *iv = sha256xKernel(names[k], 1);
        if (!fn || !iv) {
            printf("%-10s absent on this CPU\n", names[k]);
            continue;
        }
        double chained = timeKernel(fn, calls, runs), from_iv = timeKernel(iv, calls, runs);
        printf("%-10s %6.1f ns/block chained, %6.1f from the IV (best of %d x %ld calls)\n", names[k], chained,
               from_iv, runs, calls);
    }
    printf("%-10s %6.1f ns/block, one stream through SHA256_Update\n", "openssl", timeOpenSSL(calls, runs));
    return 0;
}

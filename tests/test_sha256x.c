/* test_sha256x.c -- the 16-lane compression against SHA-256 itself.
 *
 * Known answers first (FIPS 180-2 "abc", and the empty message, each one
 * padded block from the IV), then random chaining states and blocks in
 * every lane: every kernel this CPU has (avx512, shani, avx2lanes) against
 * the per-lane OpenSSL loop, whichever the dispatch picks; the SHA-NI one
 * also against OpenSSL's SHA256 on random messages of 1-5 blocks chained
 * through it, and the RDBSYNC_SIMD orders. A kernel the CPU lacks prints a
 * SKIP line.
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <unistd.h>

#include "rdb/sha256x.h"
#include "tests/test.h"

static uint64_t rng = 7;

static uint32_t next32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* One padded block holding msg (< 56 bytes). */
static void putMessage(unsigned char b[64], const char *msg, size_t len) {
    memset(b, 0, 64);
    memcpy(b, msg, len);
    b[len] = 0x80;
    b[62] = (unsigned char)((len * 8) >> 8);
    b[63] = (unsigned char)(len * 8);
}

typedef void compressFn(unsigned char[SHA256X_LANES][32], const unsigned char[SHA256X_LANES][64]);

/* from_iv: the function must not read st (it is filled with garbage). */
static void testKnownAnswersIV(const char *name, compressFn *fn, int from_iv) {
    static const char *msgs[] = {"abc", "", "a", "rdbsync", "0123456789012345678901234567890123456789012345678901234"};
    unsigned char st[SHA256X_LANES][32], blk[SHA256X_LANES][64], want[32];
    for (int lane = 0; lane < SHA256X_LANES; lane++) {
        const char *m = msgs[lane % 5];
        putMessage(blk[lane], m, strlen(m));
        if (from_iv) memset(st[lane], 0xAA, 32);
        else memcpy(st[lane], sha256xIV, 32);
    }
    fn(st, blk);
    TEST(test_fmt("sha256x.%s_known_answers", name)) {
        for (int lane = 0; lane < SHA256X_LANES; lane++) {
            const char *m = msgs[lane % 5];
            SHA256((const unsigned char *)m, strlen(m), want);
            if (!CHECK_EQ_MEM(want, 32, st[lane], 32)) break;
        }
    }
}

static void testKnownAnswers(const char *name, compressFn *fn) { testKnownAnswersIV(name, fn, 0); }

/* A two-block message: the first block's output chains into the second. */
static void testChained(const char *name, compressFn *fn) {
    static const char msg[] = "a message of more than fifty-five bytes, so two blocks are needed here";
    size_t len = sizeof msg - 1;
    unsigned char st[SHA256X_LANES][32], blk[SHA256X_LANES][64], two[128] = {0}, want[32];
    memcpy(two, msg, len);
    two[len] = 0x80;
    two[126] = (unsigned char)((len * 8) >> 8);
    two[127] = (unsigned char)(len * 8);
    for (int lane = 0; lane < SHA256X_LANES; lane++) {
        memcpy(blk[lane], two, 64);
        memcpy(st[lane], sha256xIV, 32);
    }
    fn(st, blk);
    for (int lane = 0; lane < SHA256X_LANES; lane++) memcpy(blk[lane], two + 64, 64);
    fn(st, blk);
    SHA256((const unsigned char *)msg, len, want);
    TEST(test_fmt("sha256x.%s_chained_blocks", name)) {
        for (int lane = 0; lane < SHA256X_LANES; lane++)
            if (!CHECK_EQ_MEM(want, 32, st[lane], 32)) break;
    }
}

static void testKernel(const char *name) {
    sha256xFn *fn = sha256xKernel(name, 0), *iv = sha256xKernel(name, 1);
    if (!fn || !iv) {
        test_skip(test_fmt("sha256x.%s", name), "this CPU lacks it");
        return;
    }
    testKnownAnswers(name, fn);
    testKnownAnswersIV(test_fmt("%s_from_iv", name), iv, 1);
    testChained(name, fn);
    TEST(test_fmt("sha256x.%s_random_states_and_blocks_equal_scalar", name)) {
        for (int round = 0; round < 2000; round++) {
            unsigned char a[SHA256X_LANES][32], b[SHA256X_LANES][32], w[SHA256X_LANES][64];
            for (int l = 0; l < SHA256X_LANES; l++) {
                for (int i = 0; i < 32; i++) a[l][i] = b[l][i] = (unsigned char)next32();
                for (int i = 0; i < 64; i++) w[l][i] = (unsigned char)next32();
            }
            fn(a, w);
            sha256xCompressScalar(b, w);
            if (!CHECK(memcmp(a, b, sizeof a) == 0)) break;
        }
    }
}

/* Whole messages of random length (0-300 bytes: 1-5 blocks), each lane its
 * own, hashed through fn a block a call (lanes whose message has ended
 * carry on with a dummy block) against OpenSSL's SHA256. Every lane count
 * of a kernel interleaving SHANI_WAY streams is covered: lanes 0..15 with
 * every mix of lengths. */
static void testMessages(const char *name, sha256xFn *fn) {
    TEST(test_fmt("sha256x.%s_random_messages_equal_openssl", name)) {
        for (int round = 0; round < 300; round++) {
            unsigned char msg[SHA256X_LANES][320 + 72], st[SHA256X_LANES][32], blk[SHA256X_LANES][64];
            size_t len[SHA256X_LANES], nblk[SHA256X_LANES], most = 0;
            for (int l = 0; l < SHA256X_LANES; l++) {
                len[l] = next32() % 301;
                memset(msg[l], 0, sizeof msg[l]);
                for (size_t i = 0; i < len[l]; i++) msg[l][i] = (unsigned char)next32();
                nblk[l] = (len[l] + 9 + 63) / 64;
                msg[l][len[l]] = 0x80;
                for (int i = 0; i < 8; i++) msg[l][64 * nblk[l] - 1 - i] = (unsigned char)((len[l] * 8) >> (8 * i));
                memcpy(st[l], sha256xIV, 32);
                if (nblk[l] > most) most = nblk[l];
            }
            for (size_t b = 0; b < most; b++) {
                for (int l = 0; l < SHA256X_LANES; l++) memcpy(blk[l], b < nblk[l] ? msg[l] + 64 * b : msg[0], 64);
                unsigned char keep[SHA256X_LANES][32];
                memcpy(keep, st, sizeof st);
                fn(st, (const unsigned char (*)[64])blk);
                for (int l = 0; l < SHA256X_LANES; l++)
                    if (b >= nblk[l]) memcpy(st[l], keep[l], 32); /* ended: keep its hash */
            }
            int ok = 1;
            for (int l = 0; l < SHA256X_LANES && ok; l++) {
                unsigned char want[32];
                SHA256(msg[l], len[l], want);
                ok = CHECK_EQ_MEM(want, 32, st[l], 32);
            }
            if (!ok) break;
        }
    }
}

/* RDBSYNC_SIMD's orders (sha256x.h), run in a child so the parent's choice,
 * made once, stays the default: what each value gives on this CPU. */
static const char *implUnder(const char *value) {
    static char got[32];
    char cmd[4200], self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return "?";
    self[n] = 0;
    snprintf(cmd, sizeof cmd, "RDBSYNC_SIMD='%s' '%s' --impl", value, self);
    FILE *p = popen(cmd, "r");
    got[0] = 0;
    if (p) {
        if (!fgets(got, sizeof got, p)) got[0] = 0;
        pclose(p);
    }
    got[strcspn(got, "\n")] = 0;
    return got;
}

static void testOrders(void) {
    int shani = sha256xKernel("shani", 0) != NULL, lanes2 = sha256xKernel("avx2lanes", 0) != NULL;
    int avx512 = sha256xKernel("avx512", 0) != NULL;
    TEST("sha256x.simd_values_select_kernels") {
        CHECK_EQ_STR(implUnder("off"), "scalar");
        CHECK_EQ_STR(implUnder("shani"), shani ? "shani" : "scalar");
        CHECK_EQ_STR(implUnder("avx2lanes"), lanes2 ? "avx2lanes" : "scalar");
        CHECK_EQ_STR(implUnder("avx2"), shani ? "shani" : lanes2 ? "avx2lanes" : "scalar");
        if (avx512) CHECK_EQ_STR(implUnder("avx512"), "avx512");
        if (shani) CHECK_EQ_STR(implUnder(""), "shani"); /* measured the faster (sha256x.c) */
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--impl") == 0) { /* for testOrders */
        printf("%s\n", sha256xImpl());
        return 0;
    }
    printf("# sha256xCompress uses %s (%d lanes a pass)\n", sha256xImpl(), sha256xImplLanes());
    testKnownAnswers("dispatch", sha256xCompress);
    testKnownAnswers("scalar", sha256xCompressScalar);
    testKnownAnswersIV("from_iv", sha256xCompressFromIV, 1);
    testChained("dispatch", sha256xCompress);
    testChained("scalar", sha256xCompressScalar);
    testKernel("avx512");
    testKernel("shani");
    testKernel("avx2lanes");
    testKernel("scalar");
    const char *names[] = {"avx512", "shani", "avx2lanes", "scalar"};
    for (int i = 0; i < 4; i++)
        if (sha256xKernel(names[i], 0)) testMessages(names[i], sha256xKernel(names[i], 0));
    testOrders();
    /* Chained messages go to lanes with AVX-512's or SHA-NI's, never with
     * OpenSSL's loop (AVX2's depends on SHA-NI). */
    TEST("sha256x.chain_in_lanes_follows_the_kernel") {
        const char *k = sha256xImpl();
        if (!strcmp(k, "avx512") || !strcmp(k, "shani")) CHECK(sha256xChainInLanes() == 1);
        if (!strcmp(k, "scalar")) CHECK(sha256xChainInLanes() == 0);
    }
    TEST("sha256x.unknown_kernel_is_null") {
        CHECK(sha256xKernel("neon", 0) == NULL);
    }
    return test_report();
}

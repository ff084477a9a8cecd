/* test_sha256x.c -- the 16-lane compression against SHA-256 itself.
 *
 * Known answers first (FIPS 180-2 "abc", and the empty message, each one
 * padded block from the IV), then random chaining states and blocks in
 * every lane: every kernel this CPU has (avx512, avx2) against the per-lane
 * OpenSSL loop, whichever the dispatch picks.
 */
#include <openssl/sha.h>

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
        printf("# skipped sha256x.%s: this CPU lacks it\n", name);
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

int main(void) {
    printf("# sha256xCompress uses %s (%d lanes a pass)\n", sha256xImpl(), sha256xImplLanes());
    testKnownAnswers("dispatch", sha256xCompress);
    testKnownAnswers("scalar", sha256xCompressScalar);
    testKnownAnswersIV("from_iv", sha256xCompressFromIV, 1);
    testChained("dispatch", sha256xCompress);
    testChained("scalar", sha256xCompressScalar);
    testKernel("avx512");
    testKernel("avx2");
    testKernel("scalar");
    /* Chained messages go to lanes with 16 of them, never with OpenSSL's
     * loop (the 8-lane case depends on SHA-NI). */
    TEST("sha256x.chain_in_lanes_follows_the_kernel") {
        if (sha256xImplLanes() == 16) CHECK(sha256xChainInLanes() == 1);
        if (sha256xImplLanes() == 1) CHECK(sha256xChainInLanes() == 0);
    }
    TEST("sha256x.unknown_kernel_is_null") {
        CHECK(sha256xKernel("neon", 0) == NULL);
    }
    return test_report();
}

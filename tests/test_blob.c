/* test_blob.c -- the text helpers of blob.h: integer formatting and score
 * parsing, both on every element of a dump, both written for speed.
 *
 * The references are libc's: snprintf("%lld") and strtod(), which the fast
 * paths must match bit for bit, since the digest hashes their output.
 */
#include <limits.h>
#include <math.h>

#include "rdb/blob.h"
#include "tests/test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next(void) { /* splitmix64: deterministic, so failures reproduce */
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int fmtMatches(long long v) {
    char want[32], got[32];
    int n = snprintf(want, sizeof want, "%lld", v);
    size_t len = rdbFmtLL(got, v);
    if (len == (size_t)n && memcmp(want, got, len) == 0) return 1;
    got[len < sizeof got ? len : 0] = '\0';
    printf("# rdbFmtLL(%lld) gave '%s'\n", v, got);
    return 0;
}

/* The score of text s must be strtod's, bit for bit (and its sign). */
static int scoreMatches(const char *s) {
    double got, want = strtod(s, NULL);
    if (rdbParseScore(s, strlen(s), &got) < 0) {
        printf("# rdbParseScore('%s') failed\n", s);
        return 0;
    }
    if (memcmp(&got, &want, sizeof got) == 0) return 1;
    printf("# rdbParseScore('%s') = %.17g, strtod = %.17g\n", s, got, want);
    return 0;
}

static void testFmt(void) {
    static const long long edge[] = {0,  1,   -1,  9,    10,    -10,   99,         100,
                                     -100, 999, 1000, 12345, -54321, LLONG_MAX, LLONG_MIN,
                                     LLONG_MAX - 1, LLONG_MIN + 1, 4294967296LL, -2147483648LL};
    TEST("blob.fmtll_edges") {
        for (size_t i = 0; i < sizeof edge / sizeof *edge; i++)
            if (!CHECK(fmtMatches(edge[i]))) break;
    }
    TEST("blob.fmtll_powers_of_ten_and_neighbours") {
        long long p = 1;
        for (int i = 0; i < 19; i++) {
            if (!CHECK(fmtMatches(p) && fmtMatches(p - 1) && fmtMatches(-p) && fmtMatches(1 - p)))
                break;
            if (i < 18) p *= 10;
        }
    }
    TEST("blob.fmtll_random_200k") {
        for (int i = 0; i < 200000; i++) {
            long long v = (long long)(next() >> (next() % 64));
            if (!CHECK(fmtMatches(i & 1 ? v : -v))) break;
        }
    }
}

/* Scores as Redis writes them in listpacks: %.17g of a double. */
static void testScoresAsRedisWrites(void) {
    TEST("blob.score_redis_17g_random_1m") {
        char s[64];
        for (int i = 0; i < 1000000; i++) {
            double d;
            uint64_t r = next();
            switch (i % 4) {
            case 0: d = (double)(r % 10000000) / 1000.0; break;     /* 3 decimals */
            case 1: d = (double)(r % 100000000000ULL) / 1e6; break; /* 6 decimals */
            case 2: memcpy(&d, &r, sizeof d); break;                /* any bits */
            default: d = ldexp((double)(r >> 11), -(int)(r % 80)); break;
            }
            if (isnan(d) || isinf(d)) continue;
            snprintf(s, sizeof s, "%.17g", d);
            if (!CHECK(scoreMatches(s))) break;
        }
    }
}

/* Decimal strings of every length up to 20 significant digits with up to 30
 * fraction digits: the shapes each fast path takes, and the ones it must
 * leave to strtod. */
static void testScoresDecimalShapes(void) {
    TEST("blob.score_decimal_shapes_random_1m") {
        char s[80];
        for (int i = 0; i < 1000000; i++) {
            int intd = (int)(next() % 12), fracd = (int)(next() % 31);
            size_t n = 0;
            if (next() % 2) s[n++] = '-';
            for (int k = 0; k < intd; k++) s[n++] = (char)('0' + next() % 10);
            if (fracd || intd == 0) {
                if (intd == 0) s[n++] = '0';
                s[n++] = '.';
                for (int k = 0; k < fracd; k++) s[n++] = (char)('0' + next() % 10);
            }
            s[n] = '\0';
            if (!CHECK(scoreMatches(s))) break;
        }
    }
    /* Exact halfway cases between two doubles, written out in full: the
     * long-double path must hand these to strtod (ties to even). */
    TEST("blob.score_halfway_cases") {
        static const char *cases[] = {
            "9007199254740993",       /* 2^53 + 1: halfway, rounds to even 2^53 */
            "9007199254740995",       /* 2^53 + 3: halfway, rounds up */
            "-9007199254740993",
            "9007199254740993.0",
            "900719925474099.35",     /* not halfway: near one */
            "18014398509481986",      /* 2^54 + 2: halfway */
            "0.50000000000000011102", /* 0.5 + 2^-53 (halfway above 0.5) */
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
            if (!CHECK(scoreMatches(cases[i]))) break;
    }
    TEST("blob.score_specials") {
        double d;
        CHECK(scoreMatches("inf") && scoreMatches("-inf") && scoreMatches("0") &&
              scoreMatches("-0") && scoreMatches("-0.0") && scoreMatches("1e300") &&
              scoreMatches("1.5e-07") && scoreMatches("123456789012345678901234"));
        CHECK_EQ_INT(-1, rdbParseScore("nan", 3, &d));
        CHECK_EQ_INT(-1, rdbParseScore("", 0, &d));
        CHECK_EQ_INT(-1, rdbParseScore("-", 1, &d));
        CHECK_EQ_INT(-1, rdbParseScore(".", 1, &d));
        CHECK_EQ_INT(-1, rdbParseScore("1.2.3", 5, &d));
        CHECK_EQ_INT(-1, rdbParseScore("12x", 3, &d));
        CHECK_EQ_INT(-1, rdbParseScore("1\0", 2, &d));
    }
}

int main(void) {
    testFmt();
    testScoresAsRedisWrites();
    testScoresDecimalShapes();
    return test_report();
}

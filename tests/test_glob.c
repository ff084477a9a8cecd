/* test_glob.c -- glob.h and filter.h's name rules against Redis itself.
 *
 * tests/glob_cases.txt holds what a real Redis 7.0.15 answered to KEYS for
 * 400 patterns (the tricky ones of glob.h: unterminated and empty classes,
 * "[a-]", reversed and high-byte ranges, escapes in and out of classes,
 * "**" against the empty key...) over 150 keys, one verdict per line
 * (tests/gen_glob_cases.py made it). filterName must agree on every one
 * (a lone "*" is KEYS's and SCAN's "every key").
 */
#include "src/filter.h"
#include "src/glob.h"
#include "tests/test.h"

static size_t unhex(const char *h, char *out) {
    size_t n = 0;
    if (strcmp(h, "-") == 0) return 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (char)v;
    }
    return n;
}

static void redisCases(void) {
    static char keys[200][64];
    static size_t klen[200];
    char path[4096], line[1024], p[128], ph[256], bits[512];
    int nk = 0;
    snprintf(path, sizeof(path), "%s/tests/glob_cases.txt", getenv("ROOT") ? getenv("ROOT") : ".");
    FILE *f = fopen(path, "r");
    TEST("glob.redis_keys_cases") {
        if (!CHECK(f != NULL)) continue;
        int n = 0, bad = 0;
        while (fgets(line, sizeof(line), f)) {
            if (line[0] == 'k' && nk < 200 && sscanf(line, "k %255s", ph) == 1) {
                klen[nk] = unhex(ph, keys[nk]);
                nk++;
                continue;
            }
            if (line[0] != 'p' || sscanf(line, "p %255s %511s", ph, bits) != 2) continue;
            size_t pl = unhex(ph, p);
            p[pl] = '\0';
            keyFilter *fl = filterNew();
            filterAddMatch(fl, p);
            for (int i = 0; i < nk && bits[i]; i++, n++) {
                int got = filterName(fl, keys[i], klen[i]), want = bits[i] == '1';
                if (got != want && bad++ < 5) CHECK(test_fmt("pattern %s key %d: want %d", ph, i, want) && got == want);
            }
            filterFree(fl);
        }
        CHECK(n > 50000);
        CHECK_EQ_INT(0, bad);
        fclose(f);
    }
}

static void filterRules(void) {
    TEST("filter.match_exclude_type") {
        keyFilter *f = filterNew();
        CHECK(!filterActive(f));
        CHECK(filterKey(f, "x", 1, RDB_LT_HASH));
        filterAddMatch(f, "user:*");
        filterAddMatch(f, "session:?");
        filterAddExclude(f, "user:tmp*");
        CHECK(filterName(f, "user:1", 6));
        CHECK(filterName(f, "session:a", 9));
        CHECK(!filterName(f, "session:ab", 10));
        CHECK(!filterName(f, "user:tmp1", 9));
        CHECK(!filterName(f, "other", 5));
        CHECK(filterScanMatch(f) == NULL);
        CHECK_EQ_INT(-1, filterAddType(f, "bogus"));
        CHECK_EQ_INT(0, filterAddType(f, "hash"));
        CHECK(filterKey(f, "user:1", 6, RDB_LT_HASH));
        CHECK(!filterKey(f, "user:1", 6, RDB_LT_STRING));
        CHECK_EQ_STR("hash", filterScanType(f));
        filterAddType(f, "module");
        CHECK(filterScanType(f) == NULL);
        filterFree(f);
        f = filterNew();
        filterAddMatch(f, "a*");
        CHECK_EQ_STR("a*", filterScanMatch(f));
        filterAddExclude(f, "ab");
        CHECK(filterScanMatch(f) == NULL);
        filterFree(f);
    }
    TEST("glob.deep_stars_bounded") {
        char p[3000], s[3000];
        int n = 0;
        for (int i = 0; i < 1400; i++) p[n++] = '*', p[n++] = 'a';
        p[n] = '\0';
        memset(s, 'a', 2000);
        s[2000] = 'b';
        CHECK(!globMatch(p, (size_t)n, s, 2001)); /* more than 1000 levels deep: no match, as Redis */
        CHECK(!globMatch("a*a*a*a*a*a*a*a*b", 17, s, 2000)); /* linear, not exponential */
        CHECK(globIsLiteral("abc", 3));
        CHECK(!globIsLiteral("a\\b", 3));
    }
}

int main(void) {
    redisCases();
    filterRules();
    return test_report();
}

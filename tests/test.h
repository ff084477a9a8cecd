/* test.h -- a tiny unit-test harness, in the spirit of hiredis' test.c.
 *
 * Header only, no framework: include it in one tests/test_X.c, write main(),
 * end with `return test_report();`. Every check prints one line on stdout,
 * flushed at once so that a later crash loses nothing:
 *
 *     PASS <name>
 *     FAIL <name>: <why> (<file>:<line>)
 *     SKIP <name>: <why>
 *
 * tests/run.sh counts those lines over every binary and script. Names should
 * have no spaces or colons; use dots: "crc64.check_value".
 *
 * Two ways to write checks:
 *
 * 1. One line per check, the name given each time:
 *
 *     test_cond("crc64.empty", crc64(0, "", 0) == 0);
 *     test_eq_int("decode.keys", 12, rdbDecoderKeys(d));
 *     test_eq_uint("crc64.check", 0xe9c6d914c4b8d9caULL, crc64(0, "123456789", 9));
 *     test_eq_str("digest.hex", "ab12...", hex);
 *     test_eq_mem("rio.read", "abc", 3, buf, n);
 *     test_skip("fixtures.valkey9", "no $SHARED");
 *
 * 2. A named block that prints one line for several checks; the first failed
 *    CHECK gives the reason, later ones are counted in it:
 *
 *     TEST("rio.mem_reader") {
 *         rdbReader *r = rdbReaderMem("abc", 3);
 *         CHECK(r != NULL);
 *         if (!CHECK_EQ_INT(0, rdbRead(r, buf, 3))) continue;   // stop early
 *         CHECK_EQ_MEM("abc", 3, buf, 3);
 *         rdbReaderFree(r);
 *     }
 *
 *    CHECK* are expressions worth 1 (held) or 0 (failed). `continue` leaves
 *    the block (still reporting it); never `break` or `return` out of a
 *    TEST block (the line would not be printed). TEST_SKIP(why) inside a
 *    block marks it skipped and leaves it (use it at the block's top level,
 *    not inside a loop of your own).
 *
 * Dynamic names: test_fmt("fixture.%s", file) formats into one of 8
 * rotating static buffers, good for the duration of a check.
 *
 * Fixtures: test_env_path("SHARED", "fixtures/x.rdb") gives "$SHARED/x..."
 * or NULL when the variable is unset or empty (then test_skip). tests/run.sh
 * sets ROOT (repo root) and SHARED (../shared when it exists).
 *
 * Values in messages are shown escaped (\n, \xNN) and cut at 96 bytes.
 */
#ifndef RDBSYNC_TEST_H
#define RDBSYNC_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- counters and the output protocol ---- */

static int test__passed __attribute__((unused)), test__failed __attribute__((unused)),
    test__skipped __attribute__((unused));

static inline void test__line(const char *kind, const char *name, const char *why)
{
    if (why)
        printf("%s %s: %s\n", kind, name, why);
    else
        printf("%s %s\n", kind, name);
    fflush(stdout);
}

static inline void test_pass(const char *name)
{
    test__passed++;
    test__line("PASS", name, NULL);
}

static inline void test_skip(const char *name, const char *why)
{
    test__skipped++;
    test__line("SKIP", name, why);
}

__attribute__((format(printf, 4, 5)))
static inline void test__fail(const char *name, const char *file, int line, const char *fmt, ...)
{
    char why[1024];
    size_t n;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    n = strlen(why);
    snprintf(why + n, sizeof(why) - n, " (%s:%d)", file, line);
    test__failed++;
    test__line("FAIL", name, why);
}

/* An explicit failure with a printf-style reason. */
#define test_fail(name, ...) test__fail((name), __FILE__, __LINE__, __VA_ARGS__)

/* Prints a one-line summary on stderr (not the run.sh protocol, so it is not
 * mistaken for the final count) and returns main()'s exit status. */
static inline int test_report(void)
{
    fprintf(stderr, "# %d pass, %d fail, %d skip\n", test__passed, test__failed,
            test__skipped);
    return test__failed ? 1 : 0;
}

/* ---- helpers ---- */

static inline const char *test_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline const char *test_fmt(const char *fmt, ...)
{
    static char bufs[8][256];
    static unsigned next;
    char *b = bufs[next++ % 8];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b, sizeof(bufs[0]), fmt, ap);
    va_end(ap);
    return b;
}

/* Printable, escaped, cut form of len bytes (one of 4 rotating buffers). */
static inline const char *test__show(const void *p, size_t len)
{
    static char bufs[4][96 * 4 + 8];
    static unsigned next;
    char *b = bufs[next++ % 4], *o = b;
    const unsigned char *s = p;
    size_t i, max = len > 96 ? 96 : len;

    if (!p)
        return "(null)";
    *o++ = '"';
    for (i = 0; i < max; i++) {
        if (s[i] == '\n') { *o++ = '\\'; *o++ = 'n'; }
        else if (s[i] == '"' || s[i] == '\\') { *o++ = '\\'; *o++ = (char)s[i]; }
        else if (s[i] >= 32 && s[i] < 127) *o++ = (char)s[i];
        else o += sprintf(o, "\\x%02x", s[i]);
    }
    *o++ = '"';
    if (len > max)
        o += sprintf(o, "...");
    *o = '\0';
    return b;
}

/* "$VAR/rel", or NULL when VAR is unset or empty (4 rotating buffers). */
static inline const char *test_env_path(const char *var, const char *rel)
{
    static char bufs[4][4096];
    static unsigned next;
    const char *base = getenv(var);
    char *b;

    if (!base || !*base)
        return NULL;
    b = bufs[next++ % 4];
    snprintf(b, sizeof(bufs[0]), "%s/%s", base, rel);
    return b;
}

/* ---- the comparisons (return 1 when they hold, else 0 with a reason) ---- */

typedef struct test__result {
    char why[1024];
} test__result;

static inline int test__cmp_int(test__result *r, const char *e_src, long long e, const char *a_src,
                         long long a)
{
    if (e == a)
        return 1;
    snprintf(r->why, sizeof(r->why), "%s != %s: expected %lld, got %lld", a_src, e_src, e, a);
    return 0;
}

static inline int test__cmp_uint(test__result *r, const char *e_src, unsigned long long e,
                          const char *a_src, unsigned long long a)
{
    if (e == a)
        return 1;
    snprintf(r->why, sizeof(r->why), "%s != %s: expected %llu (0x%llx), got %llu (0x%llx)",
             a_src, e_src, e, e, a, a);
    return 0;
}

static inline int test__cmp_str(test__result *r, const char *e_src, const char *e, const char *a_src,
                         const char *a)
{
    if (e && a && strcmp(e, a) == 0)
        return 1;
    if (!e && !a)
        return 1;
    snprintf(r->why, sizeof(r->why), "%s != %s: expected %s, got %s", a_src, e_src,
             test__show(e, e ? strlen(e) : 0), test__show(a, a ? strlen(a) : 0));
    return 0;
}

static inline int test__cmp_mem(test__result *r, const char *a_src, const void *e, size_t elen,
                         const void *a, size_t alen)
{
    const unsigned char *x = e, *y = a;
    size_t i, min = elen < alen ? elen : alen;

    if (elen == alen && (elen == 0 || memcmp(e, a, elen) == 0))
        return 1;
    for (i = 0; i < min && x[i] == y[i]; i++)
        ;
    snprintf(r->why, sizeof(r->why),
             "%s: lengths %zu (expected) and %zu, first difference at byte %zu: "
             "expected %s, got %s",
             a_src, elen, alen, i, test__show(x ? x + i : NULL, elen - i),
             test__show(y ? y + i : NULL, alen - i));
    return 0;
}

/* One-line checks: print PASS or FAIL right away. */
static inline int test__report1(const char *name, int ok, const test__result *r, const char *file,
                         int line)
{
    if (ok)
        test_pass(name);
    else
        test__fail(name, file, line, "%s", r->why);
    return ok;
}

#define test_cond(name, cond)                                                   \
    test__report1((name), (cond) ? 1 : 0, &(test__result){"condition false: " #cond}, \
                  __FILE__, __LINE__)

#define test_eq_int(name, expected, actual)                                     \
    do {                                                                        \
        test__result r_;                                                        \
        int ok_ = test__cmp_int(&r_, #expected, (long long)(expected), #actual, \
                                (long long)(actual));                           \
        test__report1((name), ok_, &r_, __FILE__, __LINE__);                    \
    } while (0)

#define test_eq_uint(name, expected, actual)                                    \
    do {                                                                        \
        test__result r_;                                                        \
        int ok_ = test__cmp_uint(&r_, #expected, (unsigned long long)(expected), \
                                 #actual, (unsigned long long)(actual));        \
        test__report1((name), ok_, &r_, __FILE__, __LINE__);                    \
    } while (0)

#define test_eq_str(name, expected, actual)                                     \
    do {                                                                        \
        test__result r_;                                                        \
        int ok_ = test__cmp_str(&r_, #expected, (expected), #actual, (actual)); \
        test__report1((name), ok_, &r_, __FILE__, __LINE__);                    \
    } while (0)

#define test_eq_mem(name, expected, explen, actual, actlen)                     \
    do {                                                                        \
        test__result r_;                                                        \
        int ok_ = test__cmp_mem(&r_, #actual, (expected), (explen), (actual),   \
                                (actlen));                                      \
        test__report1((name), ok_, &r_, __FILE__, __LINE__);                    \
    } while (0)

/* ---- TEST blocks ---- */

static struct {
    const char *name;
    int running;   /* 1 while the block body runs */
    int failures;  /* CHECKs failed in this block */
    int skipped;
    char why[1100];
} test__blk __attribute__((unused));

static inline void test__blk_begin(const char *name)
{
    test__blk.name = name;
    test__blk.running = 1;
    test__blk.failures = 0;
    test__blk.skipped = 0;
    test__blk.why[0] = '\0';
}

static inline void test__blk_end(void)
{
    char why[1200];

    test__blk.running = 0;
    if (test__blk.failures == 0 && test__blk.skipped) {
        test_skip(test__blk.name, test__blk.why);
    } else if (test__blk.failures == 0) {
        test_pass(test__blk.name);
    } else {
        if (test__blk.failures > 1)
            snprintf(why, sizeof(why), "%s (and %d more failed checks)", test__blk.why,
                     test__blk.failures - 1);
        else
            snprintf(why, sizeof(why), "%s", test__blk.why);
        test__failed++;
        test__line("FAIL", test__blk.name, why);
    }
}

static inline int test__blk_check(int ok, const test__result *r, const char *file, int line)
{
    if (ok)
        return 1;
    if (test__blk.failures++ == 0)
        snprintf(test__blk.why, sizeof(test__blk.why), "%s (%s:%d)", r->why, file, line);
    return 0;
}

static inline void test__blk_skip(const char *why)
{
    test__blk.skipped = 1;
    snprintf(test__blk.why, sizeof(test__blk.why), "%s", why);
}

#define TEST(name) for (test__blk_begin(name); test__blk.running; test__blk_end())

#define TEST_SKIP(why)          \
    {                           \
        test__blk_skip(why);    \
        continue;               \
    }

#define CHECK(cond)                                                             \
    test__blk_check((cond) ? 1 : 0, &(test__result){"condition false: " #cond}, \
                    __FILE__, __LINE__)

/* Comma expressions so that CHECK_EQ_* can be used as values. */
#define CHECK_EQ_INT(expected, actual)                                          \
    test__blk_check(test__cmp_int(&test__scratch, #expected, (long long)(expected), \
                                  #actual, (long long)(actual)),                \
                    &test__scratch, __FILE__, __LINE__)

#define CHECK_EQ_UINT(expected, actual)                                         \
    test__blk_check(test__cmp_uint(&test__scratch, #expected,                   \
                                   (unsigned long long)(expected), #actual,     \
                                   (unsigned long long)(actual)),               \
                    &test__scratch, __FILE__, __LINE__)

#define CHECK_EQ_STR(expected, actual)                                          \
    test__blk_check(test__cmp_str(&test__scratch, #expected, (expected), #actual, \
                                  (actual)),                                    \
                    &test__scratch, __FILE__, __LINE__)

#define CHECK_EQ_MEM(expected, explen, actual, actlen)                          \
    test__blk_check(test__cmp_mem(&test__scratch, #actual, (expected), (explen), \
                                  (actual), (actlen)),                          \
                    &test__scratch, __FILE__, __LINE__)

/* The reason buffer CHECK_EQ_* fill before test__blk_check reads it. */
static test__result test__scratch __attribute__((unused));

#endif

/* test_resp.c -- resp.c formats commands byte for byte as hiredis does
 * (redisFormatCommandArgv), lengths of every digit count included, and
 * writes 64-bit integers in decimal. */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "src/resp.h"
#include "tests/test.h"

static void same(const char *name, int argc, const char **argv, const size_t *lens) {
    char *want;
    int wl = redisFormatCommandArgv(&want, argc, argv, lens);
    size_t cap = respCommandLen(argc, lens);
    char *got = malloc(cap + 1);
    size_t gl = respFormat(got, argc, argv, lens);
    test_eq_int(name, (long long)wl, (long long)gl);
    test_eq_mem(name, want, (size_t)wl, got, gl);
    free(want);
    free(got);
}

int main(void) {
    const char *a1[] = {"PING"};
    size_t l1[] = {4};
    same("resp.one", 1, a1, l1);
    const char *a2[] = {"RESTORE", "k", "0", "\x00\x01\r\n", ""};
    size_t l2[] = {7, 1, 1, 4, 0};
    same("resp.binary_empty", 5, a2, l2);
    char *big = malloc(123457);
    memset(big, 'x', 123457);
    const char *a3[12];
    size_t l3[12];
    for (int i = 0; i < 12; i++) a3[i] = big, l3[i] = (size_t)(i == 11 ? 123457 : i * 9 + 1);
    same("resp.many_digits", 12, a3, l3);
    free(big);
    char buf[32];
    test_eq_mem("resp.i64.zero", "0", 1, buf, respI64(buf, 0));
    test_eq_mem("resp.i64.ms", "1796669117000", 13, buf, respI64(buf, 1796669117000LL));
    test_eq_mem("resp.i64.neg", "-42", 3, buf, respI64(buf, -42));
    test_eq_mem("resp.i64.min", "-9223372036854775808", 20, buf, respI64(buf, INT64_MIN));
    test_eq_mem("resp.i64.max", "9223372036854775807", 19, buf, respI64(buf, INT64_MAX));
    return test_report();
}

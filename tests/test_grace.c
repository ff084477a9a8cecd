/* test_grace.c -- expire times rewritten out of the grace window (grace.h).
 *
 * Each case is a command as a replication stream carries it, "now" fixed at
 * 1,000,000,000 ms and a grace of 10,000 ms: a time inside the window comes
 * out as PX/PEXPIRE/PSETEX/HPEXPIRE 10000 (RESTORE without ABSTTL), one
 * outside it (or no time at all) unchanged, tokens matched in any case.
 */
#include "src/grace.h"
#include "tests/test.h"

#define NOW 1000000000LL
#define G 10000

/* Split "A B C" on spaces, rewrite, join again. */
static const char *rw(const char *in, int64_t grace) {
    static char out[512];
    char buf[512];
    const char *argv[16];
    size_t lens[16];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", in);
    for (char *t = strtok(buf, " "); t && argc < 16; t = strtok(NULL, " ")) argv[argc] = t, lens[argc++] = strlen(t);
    graceScratch s;
    graceRewrite(&argc, argv, lens, NOW, grace, &s);
    out[0] = '\0';
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(out);
        snprintf(out + n, sizeof(out) - n, "%s%.*s", i ? " " : "", (int)lens[i], argv[i]);
    }
    return out;
}

int main(void) {
    static const char *cases[][2] = {
        /* absolute, inside the window (past included) */
        {"PEXPIREAT k 999999000", "PEXPIRE k 10000"},
        {"PEXPIREAT k 1000009999", "PEXPIRE k 10000"},
        {"pexpireat k 1000000500 GT", "PEXPIRE k 10000 GT"},
        {"EXPIREAT k 1000001", "PEXPIRE k 10000"},
        {"SET k v PXAT 1000000001", "SET k v PX 10000"},
        {"SET k v NX GET exat 1000005", "SET k v NX GET PX 10000"},
        {"GETEX k PXAT 5", "GETEX k PX 10000"},
        {"RESTORE k 1000000001 payload REPLACE ABSTTL IDLETIME 5", "RESTORE k 10000 payload REPLACE IDLETIME 5"},
        {"HPEXPIREAT h 1000000001 FIELDS 1 f", "HPEXPIRE h 10000 FIELDS 1 f"},
        {"HEXPIREAT h 1000001 NX FIELDS 1 f", "HPEXPIRE h 10000 NX FIELDS 1 f"},
        {"HSETEX h FNX PXAT 1000000001 FIELDS 1 f v", "HSETEX h FNX PX 10000 FIELDS 1 f v"},
        /* relative, shorter than the grace */
        {"EXPIRE k 1", "PEXPIRE k 10000"},
        {"PEXPIRE k 500", "PEXPIRE k 10000"},
        {"SET k v EX 1", "SET k v PX 10000"},
        {"SET k v PX 9999", "SET k v PX 10000"},
        {"SETEX k 2 v", "PSETEX k 10000 v"},
        {"PSETEX k 100 v", "PSETEX k 10000 v"},
        {"GETEX k EX 3", "GETEX k PX 10000"},
        {"RESTORE k 100 payload", "RESTORE k 10000 payload"},
        {"HPEXPIRE h 5 FIELDS 1 f", "HPEXPIRE h 10000 FIELDS 1 f"},
        {"HGETEX h EX 1 FIELDS 1 f", "HGETEX h PX 10000 FIELDS 1 f"},
        /* left alone */
        {"PEXPIREAT k 1000010000", "PEXPIREAT k 1000010000"},
        {"EXPIREAT k 1000010", "EXPIREAT k 1000010"},
        {"EXPIRE k 10", "EXPIRE k 10"},
        {"EXPIRE k 0", "EXPIRE k 0"},
        {"EXPIRE k -5", "EXPIRE k -5"},
        {"SET k v PXAT 4102444800000", "SET k v PXAT 4102444800000"},
        {"SET k EX 1", "SET k EX 1"},
        {"SET k v KEEPTTL", "SET k v KEEPTTL"},
        {"SET k v", "SET k v"},
        {"GETEX k PERSIST", "GETEX k PERSIST"},
        {"RESTORE k 0 payload ABSTTL", "RESTORE k 0 payload ABSTTL"},
        {"RESTORE k 1000010000 payload ABSTTL", "RESTORE k 1000010000 payload ABSTTL"},
        {"HSETEX h FIELDS 2 EX 1", "HSETEX h FIELDS 2 EX 1"},
        {"PEXPIREAT k notanumber", "PEXPIREAT k notanumber"},
        {"INCR k", "INCR k"},
        {"PEXPIREAT k", "PEXPIREAT k"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        test_eq_str(test_fmt("grace.rewrite.%zu", i), cases[i][1], rw(cases[i][0], G));
    test_eq_str("grace.off", "PEXPIREAT k 5", rw("PEXPIREAT k 5", 0));
    test_cond("grace.near", graceNear(NOW + G - 1, NOW, G) && !graceNear(NOW + G, NOW, G) && !graceNear(5, NOW, 0));
    return test_report();
}

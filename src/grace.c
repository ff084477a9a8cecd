/* grace.c -- expire times outside the grace window (see grace.h).
 *
 * Each command form is a position (or option token) holding a time, a unit
 * (s or ms) and a kind (absolute or relative). A time that must change is
 * replaced by grace_ms as a relative time in ms, which may mean a new
 * command name (PEXPIREAT -> PEXPIRE, SETEX -> PSETEX) or option token
 * (EXAT -> PX).
 */
#include "grace.h"

#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int64_t graceNowMs(void) { return clockWallMs(); }

int graceNear(int64_t abs_ms, int64_t now_ms, int64_t grace_ms) {
    return grace_ms > 0 && abs_ms < now_ms + grace_ms;
}

static int is(const char *a, size_t len, const char *name) {
    return strlen(name) == len && strncasecmp(a, name, len) == 0;
}

/* A decimal integer argument (arguments are not NUL-terminated). */
static int number(const char *a, size_t len, int64_t *out) {
    char buf[24];
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, a, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

typedef struct ctx {
    int64_t now, grace;
    graceScratch *s;
} ctx;

/* Does a time of this kind need the grace? (Relative times of 0 or less
 * delete the key on the source too: left alone.) */
static int needs(const ctx *c, int64_t t, int seconds, int absolute) {
    if (seconds) {
        if (t > INT64_MAX / 1000 || t < INT64_MIN / 1000) return 0;
        t *= 1000;
    }
    return absolute ? graceNear(t, c->now, c->grace) : t > 0 && t < c->grace;
}

/* Point argument i at grace_ms as text. */
static void setGrace(ctx *c, const char **argv, size_t *lens, int i) {
    char *p = c->s->num[0];
    lens[i] = (size_t)snprintf(p, sizeof(c->s->num[0]), "%lld", (long long)c->grace);
    argv[i] = p;
}

/* The time at argv[i]; on a rewrite argv[0] becomes 'rel_ms_name'. */
static int positional(ctx *c, const char **argv, size_t *lens, int argc, int i, int seconds, int absolute,
                      const char *rel_ms_name) {
    int64_t t;
    if (i >= argc || !number(argv[i], lens[i], &t) || !needs(c, t, seconds, absolute)) return 0;
    setGrace(c, argv, lens, i);
    argv[0] = rel_ms_name, lens[0] = strlen(rel_ms_name);
    return 1;
}

/* Option tokens EX/PX/EXAT/PXAT from argv[from] on (up to FIELDS for the
 * hash commands); the token becomes PX. */
static int options(ctx *c, const char **argv, size_t *lens, int argc, int from, int until_fields) {
    for (int i = from; i + 1 < argc; i++) {
        if (until_fields && is(argv[i], lens[i], "FIELDS")) break;
        int seconds = is(argv[i], lens[i], "EX") || is(argv[i], lens[i], "EXAT");
        int absolute = is(argv[i], lens[i], "EXAT") || is(argv[i], lens[i], "PXAT");
        if (!seconds && !absolute && !is(argv[i], lens[i], "PX")) continue;
        int64_t t;
        if (!number(argv[i + 1], lens[i + 1], &t) || !needs(c, t, seconds, absolute)) return 0;
        argv[i] = "PX", lens[i] = 2;
        setGrace(c, argv, lens, i + 1);
        return 1;
    }
    return 0;
}

/* RESTORE key ttl payload [REPLACE] [ABSTTL] ...: ttl 0 = no expire. */
static int restore(ctx *c, int *argc, const char **argv, size_t *lens) {
    int abs_at = -1;
    int64_t t;
    for (int i = 4; i < *argc; i++)
        if (is(argv[i], lens[i], "ABSTTL")) abs_at = i;
    if (*argc < 4 || !number(argv[2], lens[2], &t) || t == 0 || !needs(c, t, 0, abs_at >= 0)) return 0;
    setGrace(c, argv, lens, 2);
    if (abs_at >= 0) {
        for (int i = abs_at; i + 1 < *argc; i++) argv[i] = argv[i + 1], lens[i] = lens[i + 1];
        (*argc)--;
    }
    return 1;
}

int graceRewrite(int *argc, const char **argv, size_t *lens, int64_t now_ms, int64_t grace_ms, graceScratch *s) {
    ctx c = {now_ms, grace_ms, s};
    int n = *argc;
    if (grace_ms <= 0 || n < 2) return 0;
    const char *cmd = argv[0];
    size_t cl = lens[0];
    if (is(cmd, cl, "PEXPIREAT")) return positional(&c, argv, lens, n, 2, 0, 1, "PEXPIRE");
    if (is(cmd, cl, "EXPIREAT")) return positional(&c, argv, lens, n, 2, 1, 1, "PEXPIRE");
    if (is(cmd, cl, "PEXPIRE")) return positional(&c, argv, lens, n, 2, 0, 0, "PEXPIRE");
    if (is(cmd, cl, "EXPIRE")) return positional(&c, argv, lens, n, 2, 1, 0, "PEXPIRE");
    if (is(cmd, cl, "SETEX")) return positional(&c, argv, lens, n, 2, 1, 0, "PSETEX");
    if (is(cmd, cl, "PSETEX")) return positional(&c, argv, lens, n, 2, 0, 0, "PSETEX");
    if (is(cmd, cl, "HPEXPIREAT")) return positional(&c, argv, lens, n, 2, 0, 1, "HPEXPIRE");
    if (is(cmd, cl, "HEXPIREAT")) return positional(&c, argv, lens, n, 2, 1, 1, "HPEXPIRE");
    if (is(cmd, cl, "HPEXPIRE")) return positional(&c, argv, lens, n, 2, 0, 0, "HPEXPIRE");
    if (is(cmd, cl, "HEXPIRE")) return positional(&c, argv, lens, n, 2, 1, 0, "HPEXPIRE");
    if (is(cmd, cl, "SET")) return options(&c, argv, lens, n, 3, 0);
    if (is(cmd, cl, "GETEX")) return options(&c, argv, lens, n, 2, 0);
    if (is(cmd, cl, "HSETEX") || is(cmd, cl, "HGETEX")) return options(&c, argv, lens, n, 2, 1);
    if (is(cmd, cl, "RESTORE")) return restore(&c, argc, argv, lens);
    return 0;
}

/* glob.c -- Redis's glob-style matching (see glob.h).
 *
 * A cursor walk over pattern and string; '*' recurses on the rest of the
 * pattern at every position of the rest of the string. Once the rest of
 * the pattern after a '*' fails at every position, no earlier '*' can
 * help either (a longer match for it only starts the rest later), so the
 * whole match fails at once: this keeps "a*a*a*...b" linear per star
 * instead of exponential, as in Redis 7.
 */
#include "glob.h"

typedef struct globCur {
    const char *p, *s;
    size_t pl, sl;
} globCur;

/* The pattern byte at i, or 0 past its end (Redis reads its pattern's
 * terminating NUL there). */
static char pat(const globCur *c, size_t i) { return i < c->pl ? c->p[i] : '\0'; }

/* One bracket class at the start of c->p (just after '['), against the
 * byte b. Consumes the class up to its ']' (or the end of the pattern).
 * Returns 1 when b is selected (after '^'). */
static int globClass(globCur *c, char b) {
    int neg = pat(c, 0) == '^', hit = 0;
    if (neg) c->p++, c->pl--;
    for (;;) {
        if (c->pl >= 2 && c->p[0] == '\\') {
            c->p++, c->pl--;
            if (c->p[0] == b) hit = 1;
        } else if (c->pl == 0) {
            break; /* unterminated: closed at the end of the pattern */
        } else if (c->p[0] == ']') {
            c->p++, c->pl--;
            break;
        } else if (c->pl >= 3 && c->p[1] == '-') {
            int lo = (signed char)c->p[0], hi = (signed char)c->p[2], x = (signed char)b;
            if (lo > hi) {
                int t = lo;
                lo = hi, hi = t;
            }
            if (x >= lo && x <= hi) hit = 1;
            c->p += 2, c->pl -= 2;
        } else if (c->p[0] == b) {
            hit = 1;
        }
        if (c->pl == 0) break;
        c->p++, c->pl--;
    }
    return neg ? !hit : hit;
}

/* 1 match, 0 no match here, -1 no match anywhere (stop trying longer
 * matches for the stars before). */
static int globWalk(globCur c, int depth) {
    int walked = 0;
    if (depth > 1000) return 0;
    while (c.pl && c.sl) {
        walked = 1;
        char pc = c.p[0];
        if (pc == '*') {
            while (c.pl > 1 && c.p[1] == '*') c.p++, c.pl--;
            if (c.pl == 1) return 1;
            for (; c.sl; c.s++, c.sl--) {
                globCur rest = {c.p + 1, c.s, c.pl - 1, c.sl};
                int r = globWalk(rest, depth + 1);
                if (r != 0) return r;
            }
            return -1;
        }
        if (pc == '[') {
            c.p++, c.pl--;
            if (!globClass(&c, c.s[0])) return 0;
            c.s++, c.sl--;
        } else {
            if (pc == '\\' && c.pl >= 2) c.p++, c.pl--;
            if (pc != '?' && c.p[0] != c.s[0]) return 0;
            c.p++, c.pl--, c.s++, c.sl--;
        }
    }
    /* The string is used up: only stars may remain in the pattern. Redis
     * drops them only once it matched something, so "**" does not match
     * the empty key (SCAN and KEYS treat a lone "*" apart: filter.c). */
    while (walked && c.sl == 0 && pat(&c, 0) == '*') c.p++, c.pl--;
    return c.pl == 0 && c.sl == 0;
}

int globMatch(const char *p, size_t plen, const char *s, size_t slen) {
    globCur c = {p, s, plen, slen};
    return globWalk(c, 0) == 1;
}

int globIsLiteral(const char *p, size_t plen) {
    for (size_t i = 0; i < plen; i++)
        if (p[i] == '*' || p[i] == '?' || p[i] == '[' || p[i] == '\\') return 0;
    return 1;
}

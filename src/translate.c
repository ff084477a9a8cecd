/* translate.c -- stream commands an older target lacks (see translate.h).
 *
 * One function per command family; each decides from the target's version
 * whether anything must change, and builds the replacement in xlateOut.
 */
#include "translate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define V(maj, min) ((maj) * 100 + (min))

static int is(const char *a, size_t len, const char *word) {
    return strlen(word) == len && strncasecmp(a, word, len) == 0;
}

static int has(const xlateTarget *t, int major, int minor) { return connServerAtLeast(&t->info, major, minor); }

int translateFieldTtls(const rsServerInfo *t) {
    return t->is_valkey ? t->major >= 9 : connServerAtLeast(t, 7, 4);
}

/* ---- Building the output ---- */

static void passThrough(xlateOut *o, int argc, const char **argv, size_t *lens) {
    o->argc[o->n] = argc, o->argv[o->n] = argv, o->lens[o->n] = lens;
    o->n++;
}

/* A new command of argc arguments, to be filled with setArg; its index or
 * -1 (out of memory). */
static int newCmd(xlateOut *o, int argc) {
    if (o->n >= XLATE_MAX) return -1;
    void *mem = malloc((size_t)argc * (sizeof(char *) + sizeof(size_t)));
    if (!mem) return -1;
    int i = o->n++;
    o->heap[i] = mem;
    o->argv[i] = mem;
    o->lens[i] = (size_t *)((char *)mem + (size_t)argc * sizeof(char *));
    o->argc[i] = 0;
    o->translated = 1;
    return i;
}

static void addArg(xlateOut *o, int i, const char *s, size_t len) {
    o->argv[i][o->argc[i]] = s;
    o->lens[i][o->argc[i]++] = len;
}

static void addWord(xlateOut *o, int i, const char *s) { addArg(o, i, s, strlen(s)); }

/* MULTI ... EXEC around the commands built, unless the stream's own MULTI
 * already holds them. */
static int wrapMulti(xlateOut *o, int in_multi) {
    static const char *multi[1] = {"MULTI"}, *exec[1] = {"EXEC"};
    static size_t multi_len[1] = {5}, exec_len[1] = {4};
    if (in_multi || o->n < 2) return 0;
    if (o->n + 2 > XLATE_MAX) return -1;
    for (int i = o->n; i > 0; i--) {
        o->argc[i] = o->argc[i - 1], o->argv[i] = o->argv[i - 1], o->lens[i] = o->lens[i - 1];
        o->heap[i] = o->heap[i - 1];
    }
    o->argc[0] = 1, o->argv[0] = multi, o->lens[0] = multi_len, o->heap[0] = NULL;
    o->n++;
    o->argc[o->n] = 1, o->argv[o->n] = exec, o->lens[o->n] = exec_len, o->heap[o->n] = NULL;
    o->n++;
    return 0;
}

void xlateOutFree(xlateOut *o) {
    for (int i = 0; i < XLATE_MAX; i++) free(o->heap[i]);
    memset(o, 0, sizeof(*o));
}

static xlateVerdict none(char *why, size_t wl, const char *cmd, size_t cl, const char *what, const char *needs) {
    snprintf(why, wl, "the target has no %.*s%s (it needs %s) and nothing exact replaces it", (int)cl, cmd, what,
             needs);
    return XLATE_NO_EQUIVALENT;
}

static xlateVerdict oom(char *why, size_t wl) {
    snprintf(why, wl, "out of memory translating a command");
    return XLATE_NO_EQUIVALENT;
}

/* ---- SET ---- */

typedef struct setOpts {
    int nx, xx, get, keepttl, unknown;
    int rel;     /* index of EX/PX, or 0 */
    int at;      /* index of EXAT/PXAT, or 0 */
} setOpts;

static void setParse(int argc, const char **argv, const size_t *lens, setOpts *s) {
    memset(s, 0, sizeof(*s));
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        size_t l = lens[i];
        if (is(a, l, "NX")) s->nx = 1;
        else if (is(a, l, "XX")) s->xx = 1;
        else if (is(a, l, "GET")) s->get = 1;
        else if (is(a, l, "KEEPTTL")) s->keepttl = 1;
        else if ((is(a, l, "EX") || is(a, l, "PX")) && i + 1 < argc) s->rel = i++;
        else if ((is(a, l, "EXAT") || is(a, l, "PXAT")) && i + 1 < argc) s->at = i++;
        else s->unknown = 1;
    }
}

/* "1700000000" seconds -> "1700000000000" ms, into buf. -1 when not a number. */
static int secondsToMs(const char *s, size_t len, char *buf, size_t cap) {
    char tmp[24], *end;
    if (len == 0 || len >= sizeof(tmp)) return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || *end || v > 9223372036854775LL || v < -9223372036854775LL) return -1;
    return snprintf(buf, cap, "%lld", v * 1000);
}

/* SET k v [NX|XX] [GET] [EX|PX|EXAT|PXAT n|KEEPTTL]: GET and EXAT/PXAT
 * (6.2), KEEPTTL (6.0), NX with GET (7.0). */
static xlateVerdict xlSet(const xlateTarget *t, int argc, const char **argv, size_t *lens, int in_multi,
                          xlateOut *o, char *why, size_t wl) {
    setOpts s;
    setParse(argc, argv, lens, &s);
    int lacks = ((s.get || s.at) && !has(t, 6, 2)) || (s.keepttl && !has(t, 6, 0)) || (s.nx && s.get && !has(t, 7, 0));
    if (!lacks || s.unknown || argc < 3) {
        passThrough(o, argc, argv, lens);
        return XLATE_SEND;
    }
    if (s.keepttl) return none(why, wl, argv[0], lens[0], " ... KEEPTTL", "Redis 6.0");
    int c = newCmd(o, 6);
    if (c < 0) return oom(why, wl);
    addArg(o, c, argv[0], lens[0]);
    addArg(o, c, argv[1], lens[1]);
    addArg(o, c, argv[2], lens[2]);
    if (s.nx) addWord(o, c, "NX");
    if (s.xx) addWord(o, c, "XX");
    if (s.rel) addArg(o, c, argv[s.rel], lens[s.rel]), addArg(o, c, argv[s.rel + 1], lens[s.rel + 1]);
    if (!s.at) return XLATE_SEND;
    /* The absolute time as its own PEXPIREAT, in one MULTI with the SET. */
    int e = newCmd(o, 3);
    if (e < 0) return oom(why, wl);
    addWord(o, e, "PEXPIREAT");
    addArg(o, e, argv[1], lens[1]);
    if (is(argv[s.at], lens[s.at], "PXAT")) {
        addArg(o, e, argv[s.at + 1], lens[s.at + 1]);
    } else {
        int n = secondsToMs(argv[s.at + 1], lens[s.at + 1], o->num[e], sizeof(o->num[e]));
        if (n < 0) return none(why, wl, argv[0], lens[0], " ... EXAT with that time", "Redis 6.2");
        addArg(o, e, o->num[e], (size_t)n);
    }
    return wrapMulti(o, in_multi) < 0 ? oom(why, wl) : XLATE_SEND;
}

/* ---- GETEX, GETDEL (6.2) ---- */

static xlateVerdict xlGetex(const xlateTarget *t, int argc, const char **argv, size_t *lens, xlateOut *o, char *why,
                            size_t wl) {
    static const struct { const char *opt, *cmd; } map[] = {
        {"EX", "EXPIRE"}, {"PX", "PEXPIRE"}, {"EXAT", "EXPIREAT"}, {"PXAT", "PEXPIREAT"}};
    if (has(t, 6, 2) || argc < 2) {
        passThrough(o, argc, argv, lens);
        return XLATE_SEND;
    }
    o->translated = 1;
    if (argc == 2) return XLATE_SEND; /* a plain read: nothing to write */
    int c = newCmd(o, 3);
    if (c < 0) return oom(why, wl);
    if (argc == 3 && is(argv[2], lens[2], "PERSIST")) {
        addWord(o, c, "PERSIST");
        addArg(o, c, argv[1], lens[1]);
        return XLATE_SEND;
    }
    for (size_t i = 0; argc == 4 && i < sizeof(map) / sizeof(map[0]); i++) {
        if (!is(argv[2], lens[2], map[i].opt)) continue;
        addWord(o, c, map[i].cmd);
        addArg(o, c, argv[1], lens[1]);
        addArg(o, c, argv[3], lens[3]);
        return XLATE_SEND;
    }
    return none(why, wl, argv[0], lens[0], " with these options", "Redis 6.2");
}

static xlateVerdict xlGetdel(const xlateTarget *t, int argc, const char **argv, size_t *lens, xlateOut *o) {
    if (!has(t, 6, 2)) argv[0] = "DEL", lens[0] = 3, o->translated = 1;
    passThrough(o, argc, argv, lens);
    return XLATE_SEND;
}

/* ---- LMOVE, BLMOVE (6.2) ---- */

/* Pops from one end of KEYS[1], pushes to one end of KEYS[2]: LMOVE's
 * exact effect for the directions RPOPLPUSH does not cover. */
#define LMOVE_SCRIPT \
    "local v = redis.call(ARGV[1], KEYS[1]) if v then redis.call(ARGV[2], KEYS[2], v) end return v"

static xlateVerdict xlLmove(const xlateTarget *t, int argc, const char **argv, size_t *lens, xlateOut *o, char *why,
                            size_t wl) {
    if (has(t, 6, 2) || argc < 5) {
        passThrough(o, argc, argv, lens);
        return XLATE_SEND;
    }
    int from_left = is(argv[3], lens[3], "LEFT"), to_left = is(argv[4], lens[4], "LEFT");
    if ((!from_left && !is(argv[3], lens[3], "RIGHT")) || (!to_left && !is(argv[4], lens[4], "RIGHT")))
        return none(why, wl, argv[0], lens[0], " with these directions", "Redis 6.2");
    int c = newCmd(o, 7);
    if (c < 0) return oom(why, wl);
    if (!from_left && to_left) { /* RIGHT LEFT is RPOPLPUSH, which 1.2 has */
        addWord(o, c, "RPOPLPUSH");
        addArg(o, c, argv[1], lens[1]);
        addArg(o, c, argv[2], lens[2]);
        return XLATE_SEND;
    }
    addWord(o, c, "EVAL");
    addWord(o, c, LMOVE_SCRIPT);
    addWord(o, c, "2");
    addArg(o, c, argv[1], lens[1]);
    addArg(o, c, argv[2], lens[2]);
    addWord(o, c, from_left ? "LPOP" : "RPOP");
    addWord(o, c, to_left ? "LPUSH" : "RPUSH");
    return XLATE_SEND;
}

/* ---- EXPIRE family: NX|XX|GT|LT (7.0) ---- */

static xlateVerdict xlExpire(const xlateTarget *t, int argc, const char **argv, size_t *lens, xlateOut *o) {
    /* Propagated only when it changed the expire: on the same data the
     * condition holds, so the plain form is exact. */
    if (!has(t, 7, 0) && argc > 3) argc = 3, o->translated = 1;
    passThrough(o, argc, argv, lens);
    return XLATE_SEND;
}

/* ---- ZADD: NX|XX|CH|INCR (3.0.2), GT|LT (6.2) ---- */

static int zaddFlag(const char *a, size_t l, int *incr) {
    if (is(a, l, "INCR")) return *incr = 1;
    return is(a, l, "NX") || is(a, l, "XX") || is(a, l, "CH") || is(a, l, "GT") || is(a, l, "LT");
}

static xlateVerdict xlZadd(const xlateTarget *t, int argc, const char **argv, size_t *lens, xlateOut *o, char *why,
                           size_t wl) {
    int first = 2, incr = 0, only_ch = 1, gtlt = 0;
    while (first < argc && zaddFlag(argv[first], lens[first], &incr)) {
        only_ch &= is(argv[first], lens[first], "CH");
        gtlt |= is(argv[first], lens[first], "GT") || is(argv[first], lens[first], "LT");
        first++;
    }
    int old = t->info.major < 3 || (t->info.major == 3 && t->info.minor == 0 && t->info.patch < 2);
    if (first == 2 || !(old || (gtlt && !has(t, 6, 2))) || (argc - first) % 2) {
        passThrough(o, argc, argv, lens);
        return XLATE_SEND;
    }
    int pairs = (argc - first) / 2;
    /* One member: the flags only decided whether it changed, and it did
     * (else nothing was propagated). Several: CH alone is a reply flag. */
    if (pairs > 1 && !only_ch) return none(why, wl, argv[0], lens[0], " with NX/XX/GT/LT on several members", "Redis 3.0.2 or 6.2");
    int c = newCmd(o, 2 + 2 * pairs);
    if (c < 0) return oom(why, wl);
    addWord(o, c, incr ? "ZINCRBY" : "ZADD");
    addArg(o, c, argv[1], lens[1]);
    for (int i = first; i < argc; i++) addArg(o, c, argv[i], lens[i]);
    return XLATE_SEND;
}

/* ---- Hash field TTLs (7.4; Valkey 9) and 8.0's HGETDEL ---- */

static xlateVerdict xlFieldTtl(const xlateTarget *t, int argc, const char **argv, size_t *lens, xlateOut *o,
                               char *why, size_t wl) {
    if (translateFieldTtls(&t->info)) {
        passThrough(o, argc, argv, lens);
        return XLATE_SEND;
    }
    if (t->drop_field_ttls) return XLATE_DROPPED_FIELD_TTL;
    return none(why, wl, argv[0], lens[0], " (hash field TTLs)",
                "Redis 7.4 or Valkey 9; --drop-field-ttls skips these commands and goes on");
}

/* HGETDEL k FIELDS n f... -> HDEL k f... */
static xlateVerdict xlHgetdel(const xlateTarget *t, int argc, const char **argv, size_t *lens, xlateOut *o,
                              char *why, size_t wl) {
    if (has(t, 8, 0) || argc < 5) {
        passThrough(o, argc, argv, lens);
        return XLATE_SEND;
    }
    int c = newCmd(o, argc - 2);
    if (c < 0) return oom(why, wl);
    addWord(o, c, "HDEL");
    addArg(o, c, argv[1], lens[1]);
    for (int i = 4; i < argc; i++) addArg(o, c, argv[i], lens[i]);
    return XLATE_SEND;
}

/* ---- HSETEX, HGETEX (8.0) ---- */

/* The FIELDS block of argv: *at is the FIELDS index, *n its count; 0 when
 * it is well formed and, with pairs, followed by n field-value pairs. */
static int fieldsBlock(int argc, const char **argv, const size_t *lens, int from, int pairs, int *at, long *n) {
    for (int i = from; i + 1 < argc; i++) {
        if (!is(argv[i], lens[i], "FIELDS")) continue;
        char buf[24], *end;
        if (lens[i + 1] == 0 || lens[i + 1] >= sizeof(buf)) return -1;
        memcpy(buf, argv[i + 1], lens[i + 1]);
        buf[lens[i + 1]] = '\0';
        *n = strtol(buf, &end, 10);
        *at = i;
        return *end || *n < 1 || argc != i + 2 + *n * (pairs ? 2 : 1) ? -1 : 0;
    }
    return -1;
}

/* The field TTL command of a time option: EX -> HEXPIRE... NULL for none. */
static const char *fieldTtlCommand(const char *opt, size_t len) {
    if (is(opt, len, "EX")) return "HEXPIRE";
    if (is(opt, len, "PX")) return "HPEXPIRE";
    if (is(opt, len, "EXAT")) return "HEXPIREAT";
    if (is(opt, len, "PXAT")) return "HPEXPIREAT";
    return NULL;
}

/* cmd key t FIELDS n f... (the fields of argv's FIELDS block, every
 * 'step'-th argument after it). */
static int fieldTtlCmd(xlateOut *o, const char *cmd, const char **argv, const size_t *lens, int t_at, int at, long n,
                       int step) {
    int c = newCmd(o, (int)n + 5);
    if (c < 0) return -1;
    addWord(o, c, cmd);
    addArg(o, c, argv[1], lens[1]);
    if (t_at > 0) addArg(o, c, argv[t_at], lens[t_at]);
    addArg(o, c, argv[at], lens[at]);
    addArg(o, c, argv[at + 1], lens[at + 1]);
    for (long i = 0; i < n; i++) addArg(o, c, argv[at + 2 + i * step], lens[at + 2 + i * step]);
    return 0;
}

/* HSETEX k [FNX|FXX] [EX|PX|EXAT|PXAT t|KEEPTTL] FIELDS n f v...: HSET
 * (FNX/FXX held, or nothing was propagated), then the fields' TTL in the
 * same MULTI. KEEPTTL keeps TTLs that HSET would clear: none where the
 * target has field TTLs. */
static xlateVerdict xlHsetex(const xlateTarget *t, int argc, const char **argv, size_t *lens, int in_multi,
                             xlateOut *o, char *why, size_t wl) {
    int at, t_at = 0, keepttl = 0, ttls = translateFieldTtls(&t->info);
    long n;
    if ((!t->info.is_valkey && has(t, 8, 0)) || fieldsBlock(argc, argv, lens, 2, 1, &at, &n) < 0) {
        passThrough(o, argc, argv, lens);
        return XLATE_SEND;
    }
    for (int i = 2; i < at; i++) {
        if (is(argv[i], lens[i], "KEEPTTL")) keepttl = 1;
        else if (fieldTtlCommand(argv[i], lens[i]) && i + 1 < at) t_at = ++i;
    }
    if (keepttl && ttls) return none(why, wl, argv[0], lens[0], " ... KEEPTTL", "Redis 8.0");
    if (t_at && !ttls && !t->drop_field_ttls)
        return none(why, wl, argv[0], lens[0], " with field TTLs",
                    "Redis 7.4 or Valkey 9 for its TTLs; --drop-field-ttls writes the fields without them");
    int c = newCmd(o, (int)(2 + 2 * n));
    if (c < 0) return oom(why, wl);
    addWord(o, c, has(t, 4, 0) || n == 1 ? "HSET" : "HMSET");
    addArg(o, c, argv[1], lens[1]);
    for (int i = at + 2; i < argc; i++) addArg(o, c, argv[i], lens[i]);
    if (t_at && !ttls) o->dropped_field_ttls = 1;
    if (!t_at || !ttls) return XLATE_SEND;
    if (fieldTtlCmd(o, fieldTtlCommand(argv[t_at - 1], lens[t_at - 1]), argv, lens, t_at, at, n, 2) < 0)
        return oom(why, wl);
    return wrapMulti(o, in_multi) < 0 ? oom(why, wl) : XLATE_SEND;
}

/* HGETEX k [EX|PX|EXAT|PXAT t|PERSIST] FIELDS n f...: the field TTL
 * command it amounts to; a plain read writes nothing, and PERSIST has
 * nothing to do where the target holds no field TTLs. */
static xlateVerdict xlHgetex(const xlateTarget *t, int argc, const char **argv, size_t *lens, xlateOut *o,
                             char *why, size_t wl) {
    int at, ttls = translateFieldTtls(&t->info);
    long n;
    if ((!t->info.is_valkey && has(t, 8, 0)) || fieldsBlock(argc, argv, lens, 2, 0, &at, &n) < 0) {
        passThrough(o, argc, argv, lens);
        return XLATE_SEND;
    }
    o->translated = 1;
    if (at == 2) return XLATE_SEND;
    const char *cmd = fieldTtlCommand(argv[2], lens[2]);
    if (is(argv[2], lens[2], "PERSIST")) {
        if (ttls && fieldTtlCmd(o, "HPERSIST", argv, lens, 0, at, n, 1) < 0) return oom(why, wl);
        return XLATE_SEND;
    }
    if (!cmd || at != 4) return none(why, wl, argv[0], lens[0], " with these options", "Redis 8.0");
    if (!ttls) return t->drop_field_ttls ? XLATE_DROPPED_FIELD_TTL
                                        : none(why, wl, argv[0], lens[0], " (hash field TTLs)",
                                               "Redis 7.4 or Valkey 9; --drop-field-ttls skips these commands and goes on");
    return fieldTtlCmd(o, cmd, argv, lens, 3, at, n, 1) < 0 ? oom(why, wl) : XLATE_SEND;
}

/* ---- Renamed or trimmed in place ---- */

static xlateVerdict xlInPlace(const xlateTarget *t, int argc, const char **argv, size_t *lens, xlateOut *o) {
    if (is(argv[0], lens[0], "UNLINK") && !has(t, 4, 0)) argv[0] = "DEL", lens[0] = 3, o->translated = 1;
    if (is(argv[0], lens[0], "HSET") && argc > 4 && !has(t, 4, 0)) argv[0] = "HMSET", lens[0] = 5, o->translated = 1;
    if ((is(argv[0], lens[0], "FLUSHALL") || is(argv[0], lens[0], "FLUSHDB")) && argc == 2 &&
        ((is(argv[1], lens[1], "ASYNC") && !has(t, 4, 0)) || (is(argv[1], lens[1], "SYNC") && !has(t, 6, 2))))
        argc = 1, o->translated = 1;
    passThrough(o, argc, argv, lens);
    return XLATE_SEND;
}

/* ---- Commands with no equivalent before a version ---- */

static const struct { const char *name; int since; const char *release; } newer[] = {
    {"SWAPDB", V(4, 0), "Redis 4.0"},       {"BITFIELD", V(3, 2), "Redis 3.2"}, {"GEOADD", V(3, 2), "Redis 3.2"},
    {"GEORADIUS", V(3, 2), "Redis 3.2"},    {"GEORADIUSBYMEMBER", V(3, 2), "Redis 3.2"},
    {"XADD", V(5, 0), "Redis 5.0"},         {"XDEL", V(5, 0), "Redis 5.0"},     {"XTRIM", V(5, 0), "Redis 5.0"},
    {"XGROUP", V(5, 0), "Redis 5.0"},       {"XCLAIM", V(5, 0), "Redis 5.0"},   {"XACK", V(5, 0), "Redis 5.0"},
    {"XSETID", V(5, 0), "Redis 5.0"},       {"ZPOPMIN", V(5, 0), "Redis 5.0"},  {"ZPOPMAX", V(5, 0), "Redis 5.0"},
    {"BZPOPMIN", V(5, 0), "Redis 5.0"},     {"BZPOPMAX", V(5, 0), "Redis 5.0"}, {"COPY", V(6, 2), "Redis 6.2"},
    {"ZRANGESTORE", V(6, 2), "Redis 6.2"},  {"ZDIFFSTORE", V(6, 2), "Redis 6.2"},
    {"GEOSEARCHSTORE", V(6, 2), "Redis 6.2"}, {"XAUTOCLAIM", V(6, 2), "Redis 6.2"},
    {"LMPOP", V(7, 0), "Redis 7.0"},        {"BLMPOP", V(7, 0), "Redis 7.0"},   {"ZMPOP", V(7, 0), "Redis 7.0"},
    {"BZMPOP", V(7, 0), "Redis 7.0"},       {"FUNCTION", V(7, 0), "Redis 7.0"}, {"FCALL", V(7, 0), "Redis 7.0"},
};

static xlateVerdict xlNewer(const xlateTarget *t, int argc, const char **argv, size_t *lens, xlateOut *o,
                            char *why, size_t wl) {
    for (size_t i = 0; i < sizeof(newer) / sizeof(newer[0]); i++) {
        if (!is(argv[0], lens[0], newer[i].name)) continue;
        if (has(t, newer[i].since / 100, newer[i].since % 100)) break;
        return none(why, wl, argv[0], lens[0], "", newer[i].release);
    }
    return xlInPlace(t, argc, argv, lens, o);
}

/* RESTORE ... ABSTTL|IDLETIME|FREQ (5.0): a relative TTL would not be exact. */
static xlateVerdict xlRestore(const xlateTarget *t, int argc, const char **argv, size_t *lens, xlateOut *o,
                              char *why, size_t wl) {
    for (int i = 4; i < argc && !has(t, 5, 0); i++)
        if (is(argv[i], lens[i], "ABSTTL") || is(argv[i], lens[i], "IDLETIME") || is(argv[i], lens[i], "FREQ"))
            return none(why, wl, argv[0], lens[0], " ... ABSTTL/IDLETIME/FREQ", "Redis 5.0");
    passThrough(o, argc, argv, lens);
    return XLATE_SEND;
}

xlateVerdict translateCommand(const xlateTarget *t, int argc, const char **argv, size_t *lens, int in_multi,
                              xlateOut *o, char *why, size_t whylen) {
    memset(o, 0, sizeof(*o));
    why[0] = '\0';
    if (!t->info.is_valkey && has(t, 8, 0)) { /* has everything this table knows */
        passThrough(o, argc, argv, lens);
        return XLATE_SEND;
    }
    const char *c = argv[0];
    size_t l = lens[0];
    if (is(c, l, "SET")) return xlSet(t, argc, argv, lens, in_multi, o, why, whylen);
    if (is(c, l, "GETEX")) return xlGetex(t, argc, argv, lens, o, why, whylen);
    if (is(c, l, "GETDEL")) return xlGetdel(t, argc, argv, lens, o);
    if (is(c, l, "LMOVE") || is(c, l, "BLMOVE")) return xlLmove(t, argc, argv, lens, o, why, whylen);
    if (is(c, l, "EXPIRE") || is(c, l, "PEXPIRE") || is(c, l, "EXPIREAT") || is(c, l, "PEXPIREAT"))
        return xlExpire(t, argc, argv, lens, o);
    if (is(c, l, "ZADD")) return xlZadd(t, argc, argv, lens, o, why, whylen);
    if (is(c, l, "HEXPIRE") || is(c, l, "HPEXPIRE") || is(c, l, "HEXPIREAT") || is(c, l, "HPEXPIREAT") ||
        is(c, l, "HPERSIST"))
        return xlFieldTtl(t, argc, argv, lens, o, why, whylen);
    if (is(c, l, "HGETDEL")) return xlHgetdel(t, argc, argv, lens, o, why, whylen);
    if (is(c, l, "HSETEX")) return xlHsetex(t, argc, argv, lens, in_multi, o, why, whylen);
    if (is(c, l, "HGETEX")) return xlHgetex(t, argc, argv, lens, o, why, whylen);
    if (is(c, l, "RESTORE")) return xlRestore(t, argc, argv, lens, o, why, whylen);
    return xlNewer(t, argc, argv, lens, o, why, whylen);
}

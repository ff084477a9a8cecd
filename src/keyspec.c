/* keyspec.c -- the target's command table and key positions (see keyspec.h).
 *
 * The table is an array of commands sorted by lower-case name, with
 * subcommands as their own entries named "container|sub" as COMMAND names
 * them on 7.0+. Finding keys follows the server's own rules for key specs
 * (begin_search, then find_keys; positions past the end are ignored, as
 * the server does for commands of variable arity).
 */
#include "keyspec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { BS_UNKNOWN, BS_INDEX, BS_KEYWORD };
enum { FK_UNKNOWN, FK_RANGE, FK_KEYNUM };

typedef struct ksSpec {
    unsigned flags;
    int bs_type, bs_index, startfrom;
    char *keyword;
    int fk_type, lastkey, keystep, limit, keynumidx, firstkey;
} ksSpec;

typedef struct ksCmd {
    char *name;
    unsigned cflags;
    int first, last, step;
    ksSpec *specs;
    int nspecs;
    int has_specs;  /* the server gave a key-spec element (7.0+) */
    int complete;   /* every spec known and not INCOMPLETE: no GETKEYS needed */
    int has_subs;
} ksCmd;

struct keyspecTable {
    ksCmd *cmds;
    int n, cap;
    int with_specs;
    keyspecCallFn call;
    void *ctx;
};

/* ---- Reading COMMAND's reply ---- */

static const redisReply *elem(const redisReply *r, size_t i) {
    return r && r->type == REDIS_REPLY_ARRAY && i < r->elements ? r->element[i] : NULL;
}

static int isStr(const redisReply *r) {
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

static long long num(const redisReply *r) {
    if (!r) return 0;
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    return isStr(r) ? strtoll(r->str, NULL, 10) : 0;
}

/* The value of "name" in a flat RESP2 map [k1, v1, k2, v2...]. */
static const redisReply *field(const redisReply *map, const char *name) {
    if (!map || map->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < map->elements; i += 2)
        if (isStr(map->element[i]) && strcasecmp(map->element[i]->str, name) == 0) return map->element[i + 1];
    return NULL;
}

static unsigned specFlag(const char *s) {
    static const struct { const char *name; unsigned bit; } names[] = {
        {"RO", KEYSPEC_RO}, {"RW", KEYSPEC_RW}, {"OW", KEYSPEC_OW}, {"RM", KEYSPEC_RM},
        {"access", KEYSPEC_ACCESS}, {"update", KEYSPEC_UPDATE}, {"insert", KEYSPEC_INSERT},
        {"delete", KEYSPEC_DELETE}, {"not_key", KEYSPEC_NOT_KEY}, {"incomplete", KEYSPEC_INCOMPLETE},
        {"variable_flags", KEYSPEC_VARIABLE_FLAGS},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(s, names[i].name) == 0) return names[i].bit;
    return 0;
}

static unsigned cmdFlag(const char *s) {
    if (strcasecmp(s, "write") == 0) return KEYSPEC_CMD_WRITE;
    if (strcasecmp(s, "pubsub") == 0) return KEYSPEC_CMD_PUBSUB;
    if (strcasecmp(s, "movablekeys") == 0) return KEYSPEC_CMD_MOVABLE;
    return 0;
}

static void parseBeginSearch(const redisReply *bs, ksSpec *s) {
    const redisReply *type = field(bs, "type"), *spec = field(bs, "spec");
    if (!isStr(type)) return;
    if (strcasecmp(type->str, "index") == 0 && field(spec, "index")) {
        s->bs_type = BS_INDEX;
        s->bs_index = (int)num(field(spec, "index"));
    } else if (strcasecmp(type->str, "keyword") == 0 && isStr(field(spec, "keyword"))) {
        s->bs_type = BS_KEYWORD;
        s->keyword = strdup(field(spec, "keyword")->str);
        s->startfrom = (int)num(field(spec, "startfrom"));
        if (!s->keyword) s->bs_type = BS_UNKNOWN;
    }
}

static void parseFindKeys(const redisReply *fk, ksSpec *s) {
    const redisReply *type = field(fk, "type"), *spec = field(fk, "spec");
    if (!isStr(type)) return;
    if (strcasecmp(type->str, "range") == 0) {
        s->fk_type = FK_RANGE;
        s->lastkey = (int)num(field(spec, "lastkey"));
        s->keystep = (int)num(field(spec, "keystep"));
        s->limit = (int)num(field(spec, "limit"));
    } else if (strcasecmp(type->str, "keynum") == 0) {
        s->fk_type = FK_KEYNUM;
        s->keynumidx = (int)num(field(spec, "keynumidx"));
        s->firstkey = (int)num(field(spec, "firstkey"));
        s->keystep = (int)num(field(spec, "keystep"));
    }
    if (s->keystep < 1) s->keystep = 1;
}

static void parseSpecs(const redisReply *specs, ksCmd *c) {
    c->has_specs = 1;
    c->complete = 1;
    if (!specs->elements) return;
    c->specs = calloc(specs->elements, sizeof(*c->specs));
    if (!c->specs) {
        c->complete = 0;
        return;
    }
    for (size_t i = 0; i < specs->elements; i++) {
        ksSpec *s = &c->specs[c->nspecs++];
        const redisReply *flags = field(specs->element[i], "flags");
        for (size_t j = 0; flags && flags->type == REDIS_REPLY_ARRAY && j < flags->elements; j++)
            if (isStr(flags->element[j])) s->flags |= specFlag(flags->element[j]->str);
        parseBeginSearch(field(specs->element[i], "begin_search"), s);
        parseFindKeys(field(specs->element[i], "find_keys"), s);
        if (s->bs_type == BS_UNKNOWN || s->fk_type == FK_UNKNOWN || (s->flags & KEYSPEC_INCOMPLETE)) c->complete = 0;
    }
}

static int addCmd(keyspecTable *t, const redisReply *e);

/* One entry of COMMAND: [name, arity, flags, first, last, step, acl, tips, specs, subcommands]. */
static int addCmd(keyspecTable *t, const redisReply *e) {
    const redisReply *name = elem(e, 0), *flags = elem(e, 2);
    if (!isStr(name) || e->elements < 6) return -1;
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 256;
        ksCmd *n = realloc(t->cmds, (size_t)cap * sizeof(*n));
        if (!n) return -1;
        t->cmds = n, t->cap = cap;
    }
    ksCmd *c = &t->cmds[t->n];
    memset(c, 0, sizeof(*c));
    if (!(c->name = strdup(name->str))) return -1;
    for (char *p = c->name; *p; p++) *p = (char)tolower((unsigned char)*p);
    t->n++;
    for (size_t j = 0; flags && flags->type == REDIS_REPLY_ARRAY && j < flags->elements; j++)
        if (isStr(flags->element[j])) c->cflags |= cmdFlag(flags->element[j]->str);
    c->first = (int)num(elem(e, 3)), c->last = (int)num(elem(e, 4)), c->step = (int)num(elem(e, 5));
    const redisReply *specs = elem(e, 8), *subs = elem(e, 9);
    if (specs && specs->type == REDIS_REPLY_ARRAY) {
        parseSpecs(specs, c);
        t->with_specs = 1;
    }
    if (subs && subs->type == REDIS_REPLY_ARRAY && subs->elements) {
        c->has_subs = 1;
        for (size_t i = 0; i < subs->elements; i++)
            if (addCmd(t, subs->element[i]) < 0) return -1;
    }
    return 0;
}

static int byName(const void *a, const void *b) {
    return strcmp(((const ksCmd *)a)->name, ((const ksCmd *)b)->name);
}

keyspecTable *keyspecFromReply(const redisReply *r, keyspecCallFn call, void *ctx, char *err, size_t errlen) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        snprintf(err, errlen, "COMMAND: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : "not a command table");
        return NULL;
    }
    keyspecTable *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "COMMAND: out of memory");
        return NULL;
    }
    t->call = call, t->ctx = ctx;
    for (size_t i = 0; i < r->elements; i++) {
        if (addCmd(t, r->element[i]) < 0) {
            snprintf(err, errlen, "COMMAND: entry %zu is not a command description", i);
            keyspecFree(t);
            return NULL;
        }
    }
    qsort(t->cmds, (size_t)t->n, sizeof(*t->cmds), byName);
    return t;
}

keyspecTable *keyspecLoad(keyspecCallFn call, void *ctx, char *err, size_t errlen) {
    const char *argv[1] = {"COMMAND"};
    size_t lens[1] = {7};
    redisReply *r = call(ctx, 1, argv, lens);
    if (!r) {
        snprintf(err, errlen, "COMMAND: the target did not answer");
        return NULL;
    }
    keyspecTable *t = keyspecFromReply(r, call, ctx, err, errlen);
    freeReplyObject(r);
    return t;
}

void keyspecFree(keyspecTable *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        for (int j = 0; j < t->cmds[i].nspecs; j++) free(t->cmds[i].specs[j].keyword);
        free(t->cmds[i].specs);
        free(t->cmds[i].name);
    }
    free(t->cmds);
    free(t);
}

int keyspecCount(const keyspecTable *t) { return t->n; }
int keyspecHasSpecs(const keyspecTable *t) { return t->with_specs; }

/* ---- Lookup ---- */

static const ksCmd *lookupName(const keyspecTable *t, const char *name, size_t len) {
    char buf[128];
    if (len == 0 || len >= sizeof(buf)) return NULL;
    for (size_t i = 0; i < len; i++) buf[i] = (char)tolower((unsigned char)name[i]);
    buf[len] = '\0';
    ksCmd probe = {.name = buf};
    return bsearch(&probe, t->cmds, (size_t)t->n, sizeof(*t->cmds), byName);
}

/* The entry for argv: the subcommand's when the command has them. */
static const ksCmd *lookup(const keyspecTable *t, int argc, const char **argv, const size_t *lens) {
    const ksCmd *c = argc > 0 ? lookupName(t, argv[0], lens[0]) : NULL;
    if (c && c->has_subs && argc > 1 && lens[0] + 1 + lens[1] < 128) {
        char buf[128];
        memcpy(buf, argv[0], lens[0]);
        buf[lens[0]] = '|';
        memcpy(buf + lens[0] + 1, argv[1], lens[1]);
        const ksCmd *sub = lookupName(t, buf, lens[0] + 1 + lens[1]);
        if (sub) return sub;
    }
    return c;
}

int keyspecCommandFlags(const keyspecTable *t, int argc, const char **argv, const size_t *lens) {
    const ksCmd *c = lookup(t, argc, argv, lens);
    return c ? (int)c->cflags : -1;
}

/* ---- Finding keys ---- */

static int push(keyspecKeys *out, int pos, unsigned flags) {
    for (int i = 0; i < out->n; i++)
        if (out->k[i].pos == pos) {
            out->k[i].flags |= flags;
            return 0;
        }
    if (out->n == out->cap) {
        int cap = out->cap ? out->cap * 2 : 16;
        keyspecKey *k = realloc(out->k, (size_t)cap * sizeof(*k));
        if (!k) return -1;
        out->k = k, out->cap = cap;
    }
    out->k[out->n].pos = pos;
    out->k[out->n++].flags = flags;
    return 0;
}

static int parseCount(const char *s, size_t len, long long *out) {
    char buf[24];
    if (len == 0 || len >= sizeof(buf)) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    *out = strtoll(buf, &end, 10);
    return *end || *out < 0 ? -1 : 0;
}

/* Where the spec's keys begin: 0 when its keyword is absent. */
static int beginSearch(const ksSpec *s, int argc, const char **argv, const size_t *lens) {
    if (s->bs_type == BS_INDEX) return s->bs_index;
    int start = s->startfrom > 0 ? s->startfrom : argc + s->startfrom;
    int end = s->startfrom > 0 ? argc - 1 : 0;
    size_t kl = strlen(s->keyword);
    for (int i = start; i != end + (start <= end ? 1 : -1); i += start <= end ? 1 : -1) {
        if (i >= argc || i < 1) break;
        if (lens[i] == kl && strncasecmp(argv[i], s->keyword, kl) == 0) return i + 1;
    }
    return 0;
}

/* The keys of one complete spec, appended to out. 0, or -1 (malformed
 * numkeys: the command's own error, reported as not locatable). */
static int specKeys(const ksSpec *s, int argc, const char **argv, const size_t *lens, keyspecKeys *out) {
    int first = beginSearch(s, argc, argv, lens), last, step = s->keystep;
    if (first <= 0) return 0;
    if (s->fk_type == FK_RANGE) {
        if (s->lastkey >= 0) last = first + s->lastkey;
        else if (s->limit <= 1) last = argc + s->lastkey;
        else last = first + ((argc - first) / s->limit + s->lastkey);
    } else {
        long long numkeys;
        int at = first + s->keynumidx;
        if (at >= argc || parseCount(argv[at], lens[at], &numkeys) < 0 || numkeys > argc) return -1;
        first += s->firstkey;
        last = first + ((int)numkeys - 1) * step;
    }
    for (int i = first; i <= last && i < argc; i += step)
        if (push(out, i, s->flags) < 0) return -1;
    return 0;
}

static int byPos(const void *a, const void *b) {
    return ((const keyspecKey *)a)->pos - ((const keyspecKey *)b)->pos;
}

/* Pre-7.0 tables: first/last/step, flags unknown. */
static int rangeKeys(const ksCmd *c, int argc, keyspecKeys *out) {
    if (c->first <= 0) return 0;
    int last = c->last < 0 ? argc + c->last : c->last, step = c->step > 0 ? c->step : 1;
    for (int i = c->first; i <= last && i < argc; i += step)
        if (push(out, i, KEYSPEC_UNKNOWN) < 0) return -1;
    return 0;
}

/* A name's first unused argument position, from 1. */
static int placeName(const redisReply *name, int argc, const char **argv, const size_t *lens, const char *used) {
    for (int i = 1; i < argc; i++)
        if (!used[i] && lens[i] == (size_t)name->len && memcmp(argv[i], name->str, lens[i]) == 0) return i;
    return -1;
}

/* Flags for a key GETKEYS found: those of the complete specs covering its
 * position, else unknown. */
static unsigned knownFlags(const ksCmd *c, int pos, int argc, const char **argv, const size_t *lens) {
    unsigned flags = 0;
    for (int i = 0; i < c->nspecs; i++) {
        const ksSpec *s = &c->specs[i];
        if (s->bs_type == BS_UNKNOWN || s->fk_type == FK_UNKNOWN || (s->flags & KEYSPEC_INCOMPLETE)) continue;
        keyspecKeys one = {0};
        if (specKeys(s, argc, argv, lens, &one) == 0)
            for (int j = 0; j < one.n; j++)
                if (one.k[j].pos == pos) flags |= s->flags;
        keyspecKeysFree(&one);
    }
    return flags ? flags : KEYSPEC_UNKNOWN;
}

static int isNoKeysError(const redisReply *r) {
    return r->type == REDIS_REPLY_ERROR &&
           (strstr(r->str, "no key arguments") || strstr(r->str, "Invalid arguments specified"));
}

static int getKeys(keyspecTable *t, const ksCmd *c, int argc, const char **argv, const size_t *lens,
                   keyspecKeys *out, char *err, size_t errlen) {
    const char **av = malloc((size_t)(argc + 2) * sizeof(*av));
    size_t *lv = malloc((size_t)(argc + 2) * sizeof(*lv));
    char *used = calloc((size_t)argc + 1, 1);
    redisReply *r = NULL;
    int rc = -1;
    out->via_getkeys = 1;
    if (!av || !lv || !used) {
        snprintf(err, errlen, "%.*s: out of memory", (int)lens[0], argv[0]);
        goto done;
    }
    av[0] = "COMMAND", lv[0] = 7, av[1] = "GETKEYS", lv[1] = 7;
    memcpy(av + 2, argv, (size_t)argc * sizeof(*av));
    memcpy(lv + 2, lens, (size_t)argc * sizeof(*lv));
    if (!t->call || !(r = t->call(t->ctx, argc + 2, av, lv))) {
        snprintf(err, errlen, "%.*s: cannot locate its keys: COMMAND GETKEYS got no answer", (int)lens[0], argv[0]);
        goto done;
    }
    if (isNoKeysError(r) && argc > 1) { /* EVAL s 0: no keys at all */
        rc = 0;
        goto done;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "%.*s: cannot locate its keys: COMMAND GETKEYS: %s", (int)lens[0], argv[0],
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        goto done;
    }
    for (size_t i = 0; i < r->elements; i++) {
        if (!isStr(r->element[i])) continue;
        int pos = placeName(r->element[i], argc, argv, lens, used);
        if (pos < 0) { /* a name no argument holds: nothing to rewrite it at */
            out->ambiguous = 1;
            continue;
        }
        used[pos] = 1;
        if (push(out, pos, knownFlags(c, pos, argc, argv, lens)) < 0) goto done;
    }
    /* A key's bytes also at an argument that is not a key: either could be it. */
    for (int i = 0; i < out->n; i++)
        for (int j = 1; j < argc; j++)
            if (!used[j] && lens[j] == lens[out->k[i].pos] && memcmp(argv[j], argv[out->k[i].pos], lens[j]) == 0)
                out->ambiguous = 1;
    rc = 0;
done:
    if (r) freeReplyObject(r);
    free(av);
    free(lv);
    free(used);
    return rc;
}

int keyspecFind(keyspecTable *t, int argc, const char **argv, const size_t *lens, keyspecKeys *out, char *err,
                size_t errlen) {
    out->n = 0, out->ambiguous = 0, out->via_getkeys = 0;
    const ksCmd *c = lookup(t, argc, argv, lens);
    if (!c) {
        snprintf(err, errlen, "%.*s: unknown to the target (not in its COMMAND table)", argc ? (int)lens[0] : 0,
                 argc ? argv[0] : "");
        return -1;
    }
    int rc = 0;
    if (c->has_specs && c->complete) {
        for (int i = 0; i < c->nspecs && rc == 0; i++) rc = specKeys(&c->specs[i], argc, argv, lens, out);
        if (rc < 0) snprintf(err, errlen, "%.*s: cannot locate its keys (its key count is not a number)",
                             (int)lens[0], argv[0]);
    } else if (c->has_specs || (c->cflags & KEYSPEC_CMD_MOVABLE)) {
        rc = getKeys(t, c, argc, argv, lens, out, err, errlen);
    } else {
        rc = rangeKeys(c, argc, out);
        if (rc < 0) snprintf(err, errlen, "%.*s: out of memory", (int)lens[0], argv[0]);
    }
    if (rc == 0 && out->n > 1) qsort(out->k, (size_t)out->n, sizeof(*out->k), byPos);
    return rc;
}

void keyspecKeysFree(keyspecKeys *k) {
    free(k->k);
    memset(k, 0, sizeof(*k));
}

const char *keyspecFlagsStr(unsigned flags, char *buf, size_t cap) {
    static const char *names[] = {"RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE",
                                  "NOT_KEY", "INCOMPLETE", "VARIABLE_FLAGS", "UNKNOWN"};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(flags & (1u << i))) continue;
        int n = snprintf(buf + used, cap - used, "%s%s", used ? "|" : "", names[i]);
        if (n < 0 || (size_t)n >= cap - used) break;
        used += (size_t)n;
    }
    return buf;
}

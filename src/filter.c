/* filter.c -- key filters (see filter.h). */
#include "filter.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "glob.h"

typedef struct pattern {
    char *p;
    size_t len;
} pattern;

struct keyFilter {
    pattern *match, *exclude;
    int nmatch, nexclude;
    unsigned types; /* bit per RDB_LT_*; 0 = every type */
    int ntypes;
    int one_type;   /* the type when ntypes == 1 */
};

static const char *const type_names[RDB_LT_COUNT] = {"string", "list", "set", "zset", "hash", "module", "stream"};

keyFilter *filterNew(void) { return calloc(1, sizeof(keyFilter)); }

void filterFree(keyFilter *f) {
    if (!f) return;
    for (int i = 0; i < f->nmatch; i++) free(f->match[i].p);
    for (int i = 0; i < f->nexclude; i++) free(f->exclude[i].p);
    free(f->match);
    free(f->exclude);
    free(f);
}

static int addPattern(pattern **v, int *n, const char *glob) {
    pattern *nv = realloc(*v, (size_t)(*n + 1) * sizeof(**v));
    if (!nv) return -1;
    *v = nv;
    nv[*n].len = strlen(glob);
    if (!(nv[*n].p = strdup(glob))) return -1;
    (*n)++;
    return 0;
}

int filterAddMatch(keyFilter *f, const char *glob) { return addPattern(&f->match, &f->nmatch, glob); }
int filterAddExclude(keyFilter *f, const char *glob) { return addPattern(&f->exclude, &f->nexclude, glob); }

int filterAddType(keyFilter *f, const char *type) {
    for (int t = 0; t < RDB_LT_COUNT; t++) {
        if (strcasecmp(type, type_names[t]) != 0) continue;
        if (!(f->types & (1u << t))) f->ntypes++, f->one_type = t;
        f->types |= 1u << t;
        return 0;
    }
    return -1;
}

int filterHasNames(const keyFilter *f) { return f && (f->nmatch || f->nexclude); }
int filterHasTypes(const keyFilter *f) { return f && f->types; }
int filterActive(const keyFilter *f) { return filterHasNames(f) || filterHasTypes(f); }

/* A lone "*" is every key, the empty one included (SCAN and KEYS skip the
 * match for it; the matcher itself would refuse the empty name). */
static int matches(const pattern *pt, const char *key, size_t len) {
    if (pt->len == 1 && pt->p[0] == '*') return 1;
    return globMatch(pt->p, pt->len, key, len);
}

int filterName(const keyFilter *f, const char *key, size_t len) {
    if (!f) return 1;
    int in = f->nmatch == 0;
    for (int i = 0; i < f->nmatch && !in; i++) in = matches(&f->match[i], key, len);
    for (int i = 0; i < f->nexclude && in; i++) in = !matches(&f->exclude[i], key, len);
    return in;
}

int filterType(const keyFilter *f, int ltype) {
    if (!f || !f->types) return 1;
    return ltype >= 0 && ltype < RDB_LT_COUNT && (f->types & (1u << ltype));
}

int filterKey(const keyFilter *f, const char *key, size_t len, int ltype) {
    return filterName(f, key, len) && filterType(f, ltype);
}

int filterPayloadType(const unsigned char *p, size_t len) {
    rdbPayloadParts pp;
    if (rdbPayloadSplit(p, len, 0, &pp) != RDB_OK) return RDB_LT_UNKNOWN;
    const rdbTypeInfo *ti = rdbTypeLookup(pp.type, pp.flavour);
    return ti ? (int)ti->ltype : RDB_LT_UNKNOWN;
}

const char *filterScanMatch(const keyFilter *f) {
    return f && f->nmatch == 1 && f->nexclude == 0 ? f->match[0].p : NULL;
}

const char *filterScanType(const keyFilter *f) {
    /* SCAN TYPE takes a module's own type name, not "module". */
    return f && f->ntypes == 1 && f->one_type != RDB_LT_MODULE ? type_names[f->one_type] : NULL;
}

/* ---- Decoded snapshots ---- */

struct filterRelay {
    const keyFilter *f;
    const rdbHandlers *in;
    int decided, hide;   /* for the current key */
    uint64_t filtered;
};

filterRelay *filterRelayNew(const keyFilter *f, const rdbHandlers *inner) {
    filterRelay *r = calloc(1, sizeof(*r));
    if (r) r->f = f, r->in = inner;
    return r;
}

void filterRelayFree(filterRelay *r) { free(r); }
uint64_t filterRelayFiltered(const filterRelay *r) { return r ? r->filtered : 0; }

/* Decided once per key, at whichever of want_raw and key_begin comes
 * first; forgotten at key_end. */
static int hidden(filterRelay *r, const rdbKeyInfo *k) {
    if (!r->decided) {
        r->decided = 1;
        r->hide = !filterKey(r->f, k->key, k->keylen, k->ltype);
        if (r->hide) r->filtered++;
    }
    return r->hide;
}

#define INNER(name, ...) (r->in->name ? r->in->name(r->in->ctx, __VA_ARGS__) : 0)

/* Events inside a hidden key are not passed on; hide is 0 between keys,
 * so the others (header, aux, select_db, function...) always are. */
#define RELAY_INSIDE(name, params, args)                                       \
    static int relay_##name(void *ctx, RDB_UNPAREN params) {                   \
        filterRelay *r = ctx;                                                  \
        return r->hide ? 0 : INNER(name, RDB_UNPAREN args);                    \
    }
RDB_EVENTS(RELAY_INSIDE)
#undef RELAY_INSIDE

static int relayKeyBegin(void *ctx, const rdbKeyInfo *k) {
    filterRelay *r = ctx;
    return hidden(r, k) ? 0 : INNER(key_begin, k);
}

static int relayKeyEnd(void *ctx, const rdbKeyInfo *k) {
    filterRelay *r = ctx;
    int hide = hidden(r, k);
    r->decided = r->hide = 0;
    return hide ? 0 : INNER(key_end, k);
}

static int relayWantRaw(void *ctx, const rdbKeyInfo *k) {
    filterRelay *r = ctx;
    if (hidden(r, k)) return 0;
    return r->in->want_raw ? r->in->want_raw(r->in->ctx, k) : 1;
}

static int relayRawValue(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    filterRelay *r = ctx;
    return hidden(r, k) ? 0 : r->in->raw_value(r->in->ctx, k, p, len);
}

static int relayStringChunk(void *ctx, const char *p, size_t len, uint64_t off, uint64_t total) {
    filterRelay *r = ctx;
    return r->hide ? 0 : r->in->string_chunk(r->in->ctx, p, len, off, total);
}

static const char *relayError(void *ctx) {
    filterRelay *r = ctx;
    return r->in->error ? r->in->error(r->in->ctx) : NULL;
}

void filterRelayHandlers(filterRelay *r, rdbHandlers *out) {
    memset(out, 0, sizeof(*out));
    out->ctx = r;
    out->frame_only = r->in->frame_only;
    out->error = relayError;
#define RELAY_WIRE(name, params, args) out->name = r->in->name ? relay_##name : NULL;
    RDB_EVENTS(RELAY_WIRE)
#undef RELAY_WIRE
    /* The decoder must see key_begin/key_end to tell keys apart. */
    out->key_begin = relayKeyBegin;
    out->key_end = relayKeyEnd;
    if (r->in->raw_value) out->raw_value = relayRawValue, out->want_raw = relayWantRaw;
    if (r->in->string_chunk) out->string_chunk = relayStringChunk;
}

/* ---- The live command stream ---- */

/* RENAME, RENAMENX and COPY carry a key of any type from one name to
 * another. */
static int movesKey(const char *name, size_t len) {
    return (len == 6 && strncasecmp(name, "RENAME", 6) == 0) || (len == 8 && strncasecmp(name, "RENAMENX", 8) == 0) ||
           (len == 4 && strncasecmp(name, "COPY", 4) == 0);
}

/* The type a command writes: RESTORE's is its payload's. */
static int commandType(int argc, const char **argv, const size_t *lens, const cmdKeyInfo *ki) {
    if (lens[0] >= 7 && strncasecmp(argv[0], "RESTORE", 7) == 0 && argc > 3) /* and RESTORE-ASKING */
        return filterPayloadType((const unsigned char *)argv[3], lens[3]);
    return ki->type;
}

/* By type, for a command whose keys the name filter keeps. */
static filterVerdict byType(const keyFilter *f, int argc, const char **argv, const size_t *lens, cmdKeyInfo *ki) {
    int type = commandType(argc, argv, lens, ki);
    if (type == CMDTYPE_GENERIC) return movesKey(argv[0], lens[0]) ? FILTER_GUARD : FILTER_PASS;
    if (filterType(f, type)) return FILTER_PASS;
    /* A type left out: nothing to write, unless the command may replace a
     * key of a selected type that the target holds (SET over a hash). */
    return ki->overwrites ? FILTER_DELETE : FILTER_DROP;
}

filterVerdict filterCommand(const keyFilter *f, int argc, const char **argv, const size_t *lens, cmdKeyInfo *ki) {
    if (cmdKeys(argc, argv, lens, ki) < 0) return filterActive(f) ? FILTER_UNKNOWN : FILTER_PASS;
    if (!filterActive(f) || ki->type == CMDTYPE_KEYLESS || ki->n == 0) return FILTER_PASS;
    int in = 0;
    for (int i = 0; i < ki->n; i++) in += filterName(f, argv[ki->pos[i]], lens[ki->pos[i]]);
    if (in == 0) return FILTER_DROP;
    if (in < ki->n) return FILTER_PARTIAL;
    return filterHasTypes(f) ? byType(f, argc, argv, lens, ki) : FILTER_PASS;
}

/* keydiff.c -- which part of a key differs (see keydiff.h).
 *
 * A fact is (part, value): the part is a byte string that sorts and
 * matches (a section letter, then what identifies the part: an index, a
 * member, a field, an ID, a group and consumer name), the value is short
 * text (numbers, IDs) or the SHA-256 of contents. Both copies become sorted
 * fact lists; a merge finds parts on one side only and values that differ.
 */
#include "keydiff.h"

#include <inttypes.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdb/decode.h"
#include "rdb/encode.h"

/* Sections, in the order differences are reported (the length last: the
 * member or field that makes it differ says more). */
enum {
    P_TYPE = 'a', P_EXPIRE, P_STRING, P_ELEM, P_MEMBER, P_SCORE, P_FIELD, P_FIELD_TTL,
    P_ENTRY, P_META, P_GROUP, P_MODULE, P_LEN
};
/* Group sub-parts, after P_GROUP str(name). */
enum { G_LAST = 'a', G_READ, G_PEL, G_CONSUMER, G_SEEN, G_CPEL };

typedef struct fact {
    size_t part, partlen, val, vallen; /* offsets into the arena */
    int text;                          /* the value is printable text */
    int hint;                          /* not compared (keydiff.h) */
} fact;

typedef struct facts {
    rdbBuf arena;
    fact *v;
    size_t n, cap;
    int oom;
    rdbLType ltype;
    int stream_v1;         /* an RDB 9 stream (type 15): no entries_added, max_deleted */
    uint64_t nelems;       /* list items, set/zset members, hash fields */
    rdbBuf part;           /* the part being built */
    rdbBuf group;          /* current stream group: str(name) */
    rdbBuf consumer;       /* current consumer: str(name) */
    SHA256_CTX entry;      /* current stream entry's fields */
    int in_entry;
    rdbStreamId entry_id;
} facts;

/* ---- Building ---- */

static void partStart(facts *f, int sec) {
    rdbBufClear(&f->part);
    if (rdbBufAppendByte(&f->part, (unsigned char)sec) < 0) f->oom = 1;
}

static void partAdd(facts *f, const void *p, size_t n) {
    if (rdbBufAppend(&f->part, p, n) < 0) f->oom = 1;
}

static void partU64(facts *f, uint64_t x) { /* big-endian: sorts as numbers */
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(x >> (56 - 8 * i));
    partAdd(f, b, 8);
}

static void partId(facts *f, rdbStreamId id) {
    partU64(f, id.ms);
    partU64(f, id.seq);
}

/* str(p) into b (a group's or a consumer's name, reused in its parts). */
static void strInto(facts *f, rdbBuf *b, const char *p, size_t n) {
    unsigned char l[8];
    for (int i = 0; i < 8; i++) l[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    rdbBufClear(b);
    if (rdbBufAppend(b, l, 8) < 0 || rdbBufAppend(b, p, n) < 0) f->oom = 1;
}

/* Add the fact (the part built so far, value v). */
static void add(facts *f, const void *v, size_t vlen, int text, int hint) {
    if (f->oom) return;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        fact *nv = realloc(f->v, cap * sizeof(*nv));
        if (!nv) {
            f->oom = 1;
            return;
        }
        f->v = nv, f->cap = cap;
    }
    fact *x = &f->v[f->n];
    x->part = f->arena.len, x->partlen = f->part.len;
    if (rdbBufAppend(&f->arena, f->part.p, f->part.len) < 0) {
        f->oom = 1;
        return;
    }
    x->val = f->arena.len, x->vallen = vlen;
    if (rdbBufAppend(&f->arena, v, vlen) < 0) {
        f->oom = 1;
        return;
    }
    x->text = text, x->hint = hint;
    f->n++;
}

static void addText(facts *f, int hint, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void addText(facts *f, int hint, const char *fmt, ...) {
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    add(f, buf, n < 0 ? 0 : (size_t)n, 1, hint);
}

/* Contents: their length (as text, for the message) and hash. */
static void addHashed(facts *f, const char *p, size_t n) {
    unsigned char v[24 + SHA256_DIGEST_LENGTH];
    int t = snprintf((char *)v, 24, "%zu bytes", n);
    memset(v + t, 0, 24 - (size_t)t);
    SHA256((const unsigned char *)p, n, v + 24);
    add(f, v, sizeof(v), 0, 0);
}

static int fmtIdText(char *buf, size_t len, rdbStreamId id) {
    return snprintf(buf, len, "%" PRIu64 "-%" PRIu64, id.ms, id.seq);
}

/* ---- Decoder callbacks ---- */

static int onKeyBegin(void *ctx, const rdbKeyInfo *k) {
    facts *f = ctx;
    f->ltype = k->ltype;
    f->stream_v1 = k->type == RDB_TYPE_STREAM_LISTPACKS;
    partStart(f, P_TYPE);
    addText(f, 0, "%s", rdbLTypeName(k->ltype));
    partStart(f, P_EXPIRE);
    if (k->expire_ms == -1) addText(f, 0, "none");
    else addText(f, 0, "%" PRId64 " (unix ms)", k->expire_ms);
    return 0;
}

static int onString(void *ctx, const char *p, size_t len) {
    facts *f = ctx;
    partStart(f, P_STRING);
    addHashed(f, p, len);
    return 0;
}

static int onListItem(void *ctx, const char *p, size_t len) {
    facts *f = ctx;
    partStart(f, P_ELEM);
    partU64(f, f->nelems++);
    addHashed(f, p, len);
    return 0;
}

static int onSetMember(void *ctx, const char *p, size_t len) {
    facts *f = ctx;
    f->nelems++;
    partStart(f, P_MEMBER);
    partAdd(f, p, len);
    add(f, "", 0, 1, 0);
    return 0;
}

static int onZsetMember(void *ctx, const char *p, size_t len, double score) {
    facts *f = ctx;
    f->nelems++;
    partStart(f, P_SCORE);
    partAdd(f, p, len);
    addText(f, 0, "%.17g", score == 0 ? 0.0 : score); /* -0 is 0, as in digest.h */
    return 0;
}

static int onHashField(void *ctx, const char *fl, size_t flen, const char *v, size_t vlen, int64_t exp) {
    facts *f = ctx;
    f->nelems++;
    partStart(f, P_FIELD);
    partAdd(f, fl, flen);
    addHashed(f, v, vlen);
    if (exp == -1) return 0; /* a field only on one side is one difference, not two */
    partStart(f, P_FIELD_TTL);
    partAdd(f, fl, flen);
    addText(f, 0, "%" PRId64 " (unix ms)", exp);
    return 0;
}

static void entryEnd(facts *f) {
    if (!f->in_entry) return;
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256_Final(h, &f->entry);
    partStart(f, P_ENTRY);
    partId(f, f->entry_id);
    add(f, h, sizeof(h), 0, 0);
    f->in_entry = 0;
}

static int onStreamEntry(void *ctx, rdbStreamId id, uint64_t nfields) {
    facts *f = ctx;
    entryEnd(f);
    SHA256_Init(&f->entry);
    SHA256_Update(&f->entry, &nfields, sizeof(nfields));
    f->entry_id = id;
    f->in_entry = 1;
    return 0;
}

static int onStreamField(void *ctx, const char *fl, size_t flen, const char *v, size_t vlen) {
    facts *f = ctx;
    uint64_t l[2] = {flen, vlen};
    SHA256_Update(&f->entry, l, sizeof(l));
    SHA256_Update(&f->entry, fl, flen);
    SHA256_Update(&f->entry, v, vlen);
    return 0;
}

static void metaText(facts *f, int hint, const char *name, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void metaText(facts *f, int hint, const char *name, const char *fmt, ...) {
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    partStart(f, P_META);
    partAdd(f, name, strlen(name));
    addText(f, hint, "%s", buf);
}

static int onStreamMeta(void *ctx, const rdbStreamMeta *m) {
    facts *f = ctx;
    char a[48], b[48], c[48];
    entryEnd(f);
    fmtIdText(a, sizeof(a), m->last_id);
    /* An empty stream's first ID is not data (digest.h): 0-0 on 7.0's own
     * XDEL, the maximum ID when 7.0 loads the same stream from RDB 9. */
    fmtIdText(b, sizeof(b), m->length ? m->first_id : (rdbStreamId){0, 0});
    fmtIdText(c, sizeof(c), m->max_deleted);
    /* An RDB 9 source stream has no max-deleted-id or entries-added (the
     * decoder reports what a loader synthesizes: 0-0 and the length); a
     * 7.0+ server that applies the same XADDs and XDELs (ours or a native
     * replica) counts them: not compared then, like entries_read. */
    metaText(f, 0, "length", "%" PRIu64, m->length);
    metaText(f, 0, "last-id", "%s", a);
    metaText(f, 0, "first-id", "%s", b);
    metaText(f, f->stream_v1, "max-deleted-id", "%s", c);
    metaText(f, f->stream_v1, "entries-added", "%" PRIu64, m->entries_added);
    return 0;
}

/* Start a group part: P_GROUP str(group) sub. */
static void groupPart(facts *f, int sub) {
    partStart(f, P_GROUP);
    partAdd(f, f->group.p, f->group.len);
    if (rdbBufAppendByte(&f->part, (unsigned char)sub) < 0) f->oom = 1;
}

static int onStreamGroup(void *ctx, const rdbStreamGroup *g) {
    facts *f = ctx;
    char id[48];
    strInto(f, &f->group, g->name, g->namelen);
    fmtIdText(id, sizeof(id), g->last_id);
    groupPart(f, G_LAST);
    addText(f, 0, "%s", id);
    groupPart(f, G_READ);
    if (g->entries_read < 0) addText(f, 1, "nil");
    else addText(f, 1, "%" PRId64, g->entries_read);
    return 0;
}

static int onStreamPel(void *ctx, rdbStreamId id, int64_t delivery_time, uint64_t delivery_count) {
    facts *f = ctx;
    groupPart(f, G_PEL);
    partId(f, id);
    addText(f, 0, "delivery time %" PRId64 ", delivery count %" PRIu64, delivery_time, delivery_count);
    return 0;
}

static int onStreamConsumer(void *ctx, const rdbStreamConsumer *c) {
    facts *f = ctx;
    strInto(f, &f->consumer, c->name, c->namelen);
    groupPart(f, G_CONSUMER);
    partAdd(f, f->consumer.p, f->consumer.len);
    addText(f, 0, "%" PRIu64 " pending", c->pel_count);
    groupPart(f, G_SEEN);
    partAdd(f, f->consumer.p, f->consumer.len);
    addText(f, 1, "seen %" PRId64 ", active %" PRId64, c->seen_time, c->active_time);
    return 0;
}

/* A Redis 8.6 stream's IDMP record: "stream IDMP record 'pid' 'iid'", its
 * entry ID the value (the settings and counters are not compared, as the
 * digest leaves them out). */
static int onStreamIdmpEntry(void *ctx, const char *pid, size_t pidlen, const char *iid, size_t iidlen,
                             rdbStreamId id) {
    facts *f = ctx;
    char a[280], b[280], name[600], v[48];
    entryEnd(f);
    rdbKeyRepr(pid, pidlen, a, sizeof(a));
    rdbKeyRepr(iid, iidlen, b, sizeof(b));
    snprintf(name, sizeof(name), "IDMP record '%s' '%s'", a, b);
    fmtIdText(v, sizeof(v), id);
    metaText(f, 0, name, "%s", v);
    return 0;
}

static int onStreamConsumerPel(void *ctx, rdbStreamId id) {
    facts *f = ctx;
    groupPart(f, G_CPEL);
    partAdd(f, f->consumer.p, f->consumer.len);
    partId(f, id);
    add(f, "", 0, 1, 0);
    return 0;
}

static int onRawValue(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    facts *f = ctx;
    if (k->ltype != RDB_LT_MODULE) return 0;
    partStart(f, P_MODULE);
    addHashed(f, (const char *)p, len);
    return 0;
}

static int wantRaw(void *ctx, const rdbKeyInfo *k) { return k->ltype == RDB_LT_MODULE; }

static int onKeyEnd(void *ctx, const rdbKeyInfo *k) {
    facts *f = ctx;
    entryEnd(f);
    if (f->ltype == RDB_LT_LIST || f->ltype == RDB_LT_SET || f->ltype == RDB_LT_ZSET || f->ltype == RDB_LT_HASH) {
        partStart(f, P_LEN);
        addText(f, 0, "%" PRIu64, f->nelems);
    }
    return f->oom ? -1 : 0;
}

static const char *onError(void *ctx) { return "out of memory"; }

static const facts *sortCtx;

static int cmpFact(const void *x, const void *y) {
    const fact *a = x, *b = y;
    const unsigned char *base = sortCtx->arena.p;
    size_t n = a->partlen < b->partlen ? a->partlen : b->partlen;
    int c = memcmp(base + a->part, base + b->part, n);
    return c ? c : (a->partlen > b->partlen) - (a->partlen < b->partlen);
}

static int build(facts *f, const scanItem *it, char *err, size_t errlen) {
    rdbHandlers h = {.ctx = f, .error = onError, .key_begin = onKeyBegin, .key_end = onKeyEnd,
                     .string = onString, .list_item = onListItem, .set_member = onSetMember,
                     .zset_member = onZsetMember, .hash_field = onHashField, .stream_entry = onStreamEntry,
                     .stream_field = onStreamField, .stream_meta = onStreamMeta, .stream_group = onStreamGroup,
                     .stream_pel = onStreamPel, .stream_consumer = onStreamConsumer,
                     .stream_consumer_pel = onStreamConsumerPel, .stream_idmp_entry = onStreamIdmpEntry, .want_raw = wantRaw, .raw_value = onRawValue};
    rdbKeyInfo base = {.db = (uint64_t)it->db, .key = it->key, .keylen = it->keylen, .expire_ms = it->expire_ms,
                       .idle = -1, .freq = -1};
    if (rdbDecodePayload(it->payload, it->len, &base, &h, NULL, NULL, err, errlen) < 0) return -1;
    sortCtx = f; /* verification runs on one thread */
    qsort(f->v, f->n, sizeof(*f->v), cmpFact);
    return 0;
}

static void factsFree(facts *f) {
    rdbBufFree(&f->arena);
    rdbBufFree(&f->part);
    rdbBufFree(&f->group);
    rdbBufFree(&f->consumer);
    free(f->v);
}

/* ---- Describing a part ---- */

static uint64_t getU64(const unsigned char *p) {
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x = x << 8 | p[i];
    return x;
}

/* A str(x) at *p (advanced past it) as a quoted repr. */
static void reprStr(const unsigned char **p, const unsigned char *end, char *out, size_t outlen) {
    uint64_t n = end - *p >= 8 ? getU64(*p) : 0;
    *p += 8;
    if (n > (uint64_t)(end - *p)) n = (uint64_t)(end - *p);
    rdbKeyRepr((const char *)*p, (size_t)n, out, outlen);
    *p += n;
}

/* only: the part is on one side only (a group's first part then stands
 * for the whole group). */
static void describePart(const facts *f, const fact *x, int only, char *out, size_t outlen) {
    const unsigned char *p = f->arena.p + x->part, *end = p + x->partlen;
    char a[120], b[120];
    int sec = *p++;
    switch (sec) {
    case P_TYPE: snprintf(out, outlen, "type"); break;
    case P_EXPIRE: snprintf(out, outlen, "expire time"); break;
    case P_STRING: snprintf(out, outlen, "value"); break;
    case P_LEN: snprintf(out, outlen, "length"); break;
    case P_ELEM: snprintf(out, outlen, "list element %" PRIu64, getU64(p)); break;
    case P_MEMBER:
    case P_SCORE:
    case P_FIELD:
    case P_FIELD_TTL:
        rdbKeyRepr((const char *)p, (size_t)(end - p), a, sizeof(a));
        snprintf(out, outlen, sec == P_MEMBER ? "set member '%s'" : sec == P_SCORE ? "zset member '%s' score"
                              : sec == P_FIELD ? "hash field '%s'" : "hash field '%s' TTL", a);
        break;
    case P_ENTRY: snprintf(out, outlen, "stream entry %" PRIu64 "-%" PRIu64, getU64(p), getU64(p + 8)); break;
    case P_META:
        snprintf(out, outlen, "stream %.*s", (int)(end - p), (const char *)p);
        break;
    case P_GROUP: {
        reprStr(&p, end, a, sizeof(a));
        int sub = p < end ? *p++ : 0;
        if (sub == G_LAST) snprintf(out, outlen, "stream group '%s'%s", a, only ? "" : " last-delivered-id");
        else if (sub == G_READ) snprintf(out, outlen, "stream group '%s' entries_read", a);
        else if (sub == G_PEL && end - p >= 16)
            snprintf(out, outlen, "stream group '%s' PEL entry %" PRIu64 "-%" PRIu64, a, getU64(p), getU64(p + 8));
        else {
            reprStr(&p, end, b, sizeof(b));
            if (sub == G_CONSUMER) snprintf(out, outlen, "stream group '%s' consumer '%s'", a, b);
            else if (sub == G_SEEN) snprintf(out, outlen, "stream group '%s' consumer '%s' seen/active time", a, b);
            else if (end - p >= 16)
                snprintf(out, outlen, "stream group '%s' consumer '%s' PEL entry %" PRIu64 "-%" PRIu64, a, b,
                         getU64(p), getU64(p + 8));
        }
        break;
    }
    case P_MODULE: snprintf(out, outlen, "module value"); break;
    default: snprintf(out, outlen, "part"); break;
    }
}

/* "X on the source, Y on the target" for text; lengths for contents. */
static void describeValues(const facts *fa, const fact *a, const facts *fb, const fact *b, char *out, size_t outlen) {
    const char *va = (const char *)fa->arena.p + a->val, *vb = (const char *)fb->arena.p + b->val;
    if (a->text) {
        snprintf(out, outlen, "%.*s on the source, %.*s on the target", (int)a->vallen, va, (int)b->vallen, vb);
    } else if (strcmp(va, vb) != 0) { /* the "N bytes" prefix of hashed contents */
        snprintf(out, outlen, "%s on the source, %s on the target", va, vb);
    } else {
        snprintf(out, outlen, "same length (%s), other bytes", va);
    }
}

/* ---- Comparing ---- */

static int sameValue(const facts *fa, const fact *a, const facts *fb, const fact *b) {
    return a->vallen == b->vallen && memcmp(fa->arena.p + a->val, fb->arena.p + b->val, a->vallen) == 0;
}

static int partCmp(const facts *fa, const fact *a, const facts *fb, const fact *b) {
    size_t n = a->partlen < b->partlen ? a->partlen : b->partlen;
    int c = memcmp(fa->arena.p + a->part, fb->arena.p + b->part, n);
    return c ? c : (a->partlen > b->partlen) - (a->partlen < b->partlen);
}

typedef struct verdict {
    uint64_t differ;          /* compared parts that differ */
    char first[1024];         /* the first of them */
    char note[1024];          /* the first part not compared that differs */
} verdict;

static void record(verdict *v, int hint, const char *text) {
    if (hint) {
        if (!v->note[0]) snprintf(v->note, sizeof(v->note), "%s", text);
        return;
    }
    if (v->differ++ == 0) snprintf(v->first, sizeof(v->first), "%s", text);
}

static void onlyOn(verdict *v, const facts *f, const fact *x, const char *side) {
    char part[400], text[1024];
    describePart(f, x, 1, part, sizeof(part));
    snprintf(text, sizeof(text), "%s only on the %s", part, side);
    record(v, x->hint, text);
}

static void merge(const facts *fa, const facts *fb, verdict *v) {
    size_t i = 0, j = 0;
    while (i < fa->n || j < fb->n) {
        int c = i == fa->n ? 1 : j == fb->n ? -1 : partCmp(fa, &fa->v[i], fb, &fb->v[j]);
        if (c < 0) {
            onlyOn(v, fa, &fa->v[i++], "source");
        } else if (c > 0) {
            onlyOn(v, fb, &fb->v[j++], "target");
        } else {
            const fact *a = &fa->v[i++], *b = &fb->v[j++];
            if (sameValue(fa, a, fb, b)) continue;
            char part[400], vals[400], text[1024];
            describePart(fa, a, 0, part, sizeof(part));
            describeValues(fa, a, fb, b, vals, sizeof(vals));
            snprintf(text, sizeof(text), "%s: %s", part, vals);
            record(v, a->hint, text);
        }
    }
}

int keydiffCompare(const scanItem *a, const scanItem *b, char *what, size_t whatlen, char *err, size_t errlen) {
    facts fa = {0}, fb = {0};
    verdict v = {0};
    int rc = build(&fa, a, err, errlen) < 0 || build(&fb, b, err, errlen) < 0 ? -1 : 0;
    if (rc == 0) {
        /* Types differ: nothing else compares. */
        if (fa.ltype != fb.ltype) {
            snprintf(what, whatlen, "type: %s on the source, %s on the target", rdbLTypeName(fa.ltype),
                     rdbLTypeName(fb.ltype));
            rc = KEYDIFF_DIFFER;
        } else {
            merge(&fa, &fb, &v);
            if (v.differ > 1)
                snprintf(what, whatlen, "%s (and %" PRIu64 " more differing part%s)", v.first, v.differ - 1,
                         v.differ > 2 ? "s" : "");
            else snprintf(what, whatlen, "%s", v.differ ? v.first : v.note);
            rc = v.differ ? KEYDIFF_DIFFER : v.note[0] ? KEYDIFF_NOTED : KEYDIFF_EQUAL;
        }
    }
    factsFree(&fa);
    factsFree(&fb);
    return rc;
}

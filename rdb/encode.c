/* encode.c -- RDB writers, DUMP payloads and the re-encoder (encode.h). */
#include "encode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc64.h"

/* ---- rdbBuf ---- */

int rdbBufReserve(rdbBuf *b, size_t extra) {
    if (extra <= b->cap - b->len) return 0;
    if (extra > SIZE_MAX / 2 - b->len) return -1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra) cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int rdbBufAppend(rdbBuf *b, const void *p, size_t n) {
    if (n == 0) return 0;
    if (rdbBufReserve(b, n) < 0) return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int rdbBufAppendByte(rdbBuf *b, unsigned char c) { return rdbBufAppend(b, &c, 1); }

void rdbBufClear(rdbBuf *b) { b->len = 0; }

void rdbBufFree(rdbBuf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- primitives ---- */

static void be(unsigned char *out, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--, v >>= 8) out[i] = (unsigned char)v;
}

static void le(unsigned char *out, uint64_t v, int n) {
    for (int i = 0; i < n; i++, v >>= 8) out[i] = (unsigned char)v;
}

int rdbWriteLen(rdbBuf *b, uint64_t len) {
    unsigned char buf[9];
    if (len < 64) {
        buf[0] = (unsigned char)((RDB_6BITLEN << 6) | len);
        return rdbBufAppend(b, buf, 1);
    }
    if (len < 16384) {
        buf[0] = (unsigned char)((RDB_14BITLEN << 6) | (len >> 8));
        buf[1] = (unsigned char)len;
        return rdbBufAppend(b, buf, 2);
    }
    if (len <= UINT32_MAX) {
        buf[0] = RDB_32BITLEN;
        be(buf + 1, len, 4);
        return rdbBufAppend(b, buf, 5);
    }
    buf[0] = RDB_64BITLEN;
    be(buf + 1, len, 8);
    return rdbBufAppend(b, buf, 9);
}

int rdbWriteString(rdbBuf *b, const void *p, size_t len) {
    return rdbWriteLen(b, len) < 0 ? -1 : rdbBufAppend(b, p, len);
}

int rdbWriteLe16(rdbBuf *b, uint16_t v) {
    unsigned char buf[2];
    le(buf, v, 2);
    return rdbBufAppend(b, buf, 2);
}

int rdbWriteLe64(rdbBuf *b, uint64_t v) {
    unsigned char buf[8];
    le(buf, v, 8);
    return rdbBufAppend(b, buf, 8);
}

int rdbWriteStringDouble(rdbBuf *b, double v) {
    unsigned char buf[64];
    if (isnan(v)) return rdbBufAppendByte(b, 253);
    if (isinf(v)) return rdbBufAppendByte(b, v > 0 ? 254 : 255);
    /* %.17g is exact for binary64, and strtod/%lg read it back bit for bit
     * (including "-0"). At most 24 characters: fits the one-byte length. */
    int n = snprintf((char *)buf + 1, sizeof(buf) - 1, "%.17g", v);
    if (n <= 0 || n >= (int)sizeof(buf) - 1) return -1;
    buf[0] = (unsigned char)n;
    return rdbBufAppend(b, buf, (size_t)n + 1);
}

int rdbWriteBinaryDouble(rdbBuf *b, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return rdbWriteLe64(b, bits);
}

int rdbWriteRawStreamId(rdbBuf *b, rdbStreamId id) {
    unsigned char buf[16];
    be(buf, id.ms, 8);
    be(buf + 8, id.seq, 8);
    return rdbBufAppend(b, buf, 16);
}

/* ---- payloads ---- */

int rdbPayloadVersion(int type, rdbFlavour f, int target_version) {
    const rdbTypeInfo *ti = rdbTypeLookup(type, f);
    if (!ti) return -1;
    /* Redis 2.6-3.0 (RDB 6) compare the footer for equality. */
    if (target_version > 0 && target_version <= 6) return target_version;
    return ti->min_version;
}

int rdbPayloadFooter(rdbBuf *b, size_t start, int version) {
    if (version < 0 || version > 0xFFFF || start > b->len) return -1;
    if (rdbWriteLe16(b, (uint16_t)version) < 0) return -1;
    return rdbWriteLe64(b, crc64(0, b->p + start, b->len - start));
}

int rdbPayloadBuild(rdbBuf *out, int type, const unsigned char *raw, size_t len, int version) {
    return rdbPayloadBuildMeta(out, NULL, 0, type, raw, len, version);
}

int rdbPayloadBuildMeta(rdbBuf *out, const unsigned char *meta, size_t metalen, int type,
                        const unsigned char *raw, size_t len, int version) {
    rdbBufClear(out);
    if (!meta) metalen = 0;
    if (type < 0 || type > 255 || rdbBufReserve(out, metalen + len + RDB_PAYLOAD_MIN) < 0) return -1;
    rdbBufAppend(out, meta, metalen);
    rdbBufAppendByte(out, (unsigned char)type);
    rdbBufAppend(out, raw, len);
    return rdbPayloadFooter(out, 0, version);
}

int rdbTargetSupportsType(int type, rdbFlavour f, int target_version, rdbFlavour target_flavour) {
    const rdbTypeInfo *ti = rdbTypeLookup(type, f);
    if (!ti || target_version <= 0) return 0;
    if (type == RDB_TYPE_MODULE_PRE_GA) return target_version == 8 && target_flavour == RDB_FLAVOUR_REDIS;
    if (f == RDB_FLAVOUR_VALKEY && type == RDB_TYPE_VALKEY_HASH_2)
        return target_flavour == RDB_FLAVOUR_VALKEY && target_version >= RDB_VERSION_VALKEY_9;
    /* A Redis meaning of 22-25 (7.4 field TTLs): Redis 12+ only. */
    if (type > RDB_TYPE_STREAM_LISTPACKS_3 && target_flavour == RDB_FLAVOUR_VALKEY) return 0;
    return ti->min_version <= target_version;
}

/* ---- the re-encoder ---- */

#define ENC_KEEP (1u << 20) /* buffers above this are released per key */

typedef enum { ST_IDLE = 0, ST_OPEN, ST_DONE, ST_FAILED } encState;

struct rdbEncoder {
    rdbEncodeTarget t;
    encState state;
    rdbLType ltype;
    int out_type;       /* type byte produced, -1 undecided/none */
    unsigned flags;
    uint64_t n;         /* elements (stream: nodes; string: 1 once seen) */
    rdbBuf body;        /* elements in final form (hash: intermediate) */
    rdbBuf out;         /* the payload */
    /* hashes */
    int has_ttl;
    int64_t min_ttl, max_ttl;
    /* streams */
    int stream_ver;     /* 1, 2 or 3 */
    rdbBuf cons;        /* the open group's consumers, count unknown yet */
    uint64_t ncons;
    int group_open;
    uint64_t groups_seen, groups_meta;
    int have_first;
    rdbStreamId first_live;
    char err[160];
};

static int oom(rdbEncoder *e) {
    snprintf(e->err, sizeof(e->err), "out of memory re-encoding a value");
    e->state = ST_FAILED;
    return -1;
}

/* Skip the rest of a key once it is known to produce nothing. */
static int skipping(const rdbEncoder *e) {
    return e->state != ST_OPEN || (e->flags & RDB_ENC_UNREPRESENTABLE);
}

static void trim(rdbBuf *b) {
    if (b->cap > ENC_KEEP) rdbBufFree(b);
    else rdbBufClear(b);
}

static int streamTypeFor(int version, rdbFlavour f) {
    if (f == RDB_FLAVOUR_VALKEY && version >= RDB_VERSION_VALKEY_9) return RDB_TYPE_STREAM_LISTPACKS_3;
    if (version >= 11) return RDB_TYPE_STREAM_LISTPACKS_3;
    if (version == 10) return RDB_TYPE_STREAM_LISTPACKS_2;
    if (version == 9) return RDB_TYPE_STREAM_LISTPACKS;
    return -1;
}

/* The target can hold hash field TTLs: Redis 7.4+ (RDB 12..79) or Valkey 9. */
static int targetHasFieldTtls(const rdbEncodeTarget *t) {
    if (t->flavour == RDB_FLAVOUR_VALKEY) return t->version >= RDB_VERSION_VALKEY_9;
    return t->version >= 12;
}

static int encKeyBegin(void *ctx, const rdbKeyInfo *k) {
    rdbEncoder *e = ctx;
    trim(&e->body);
    trim(&e->out);
    trim(&e->cons);
    e->state = ST_OPEN;
    e->ltype = k->ltype;
    e->flags = 0;
    e->n = 0;
    e->has_ttl = 0;
    e->min_ttl = e->max_ttl = 0;
    e->ncons = 0;
    e->group_open = 0;
    e->groups_seen = e->groups_meta = 0;
    e->have_first = 0;
    e->err[0] = '\0';
    switch (k->ltype) {
    case RDB_LT_STRING: e->out_type = RDB_TYPE_STRING; break;
    case RDB_LT_LIST: e->out_type = RDB_TYPE_LIST; break;
    case RDB_LT_SET: e->out_type = RDB_TYPE_SET; break;
    case RDB_LT_ZSET: e->out_type = e->t.version >= 8 ? RDB_TYPE_ZSET_2 : RDB_TYPE_ZSET; break;
    case RDB_LT_HASH: e->out_type = RDB_TYPE_HASH; break; /* decided at key_end */
    case RDB_LT_STREAM:
        e->out_type = streamTypeFor(e->t.version, e->t.flavour);
        e->stream_ver = e->out_type == RDB_TYPE_STREAM_LISTPACKS_3 ? 3
                        : e->out_type == RDB_TYPE_STREAM_LISTPACKS_2 ? 2 : 1;
        break;
    default: e->out_type = -1; break; /* modules, unknown */
    }
    if (e->out_type < 0) e->flags |= RDB_ENC_UNREPRESENTABLE;
    return 0;
}

/* ---- simple types: elements in final form ---- */

static int encString(void *ctx, const char *p, size_t len) {
    rdbEncoder *e = ctx;
    if (skipping(e)) return 0;
    e->n = 1;
    return rdbWriteString(&e->body, p, len) < 0 ? oom(e) : 0;
}

static int encItem(void *ctx, const char *p, size_t len) {
    rdbEncoder *e = ctx;
    if (skipping(e)) return 0;
    e->n++;
    return rdbWriteString(&e->body, p, len) < 0 ? oom(e) : 0;
}

static int encZsetMember(void *ctx, const char *p, size_t len, double score) {
    rdbEncoder *e = ctx;
    if (skipping(e)) return 0;
    e->n++;
    if (rdbWriteString(&e->body, p, len) < 0) return oom(e);
    int rc = e->out_type == RDB_TYPE_ZSET_2 ? rdbWriteBinaryDouble(&e->body, score)
                                            : rdbWriteStringDouble(&e->body, score);
    return rc < 0 ? oom(e) : 0;
}

/* ---- hashes: buffered as (u64 flen, f, u64 vlen, v, i64 expire) in host
 * order, since the encoding depends on whether any field has a TTL, and
 * type 24 needs the smallest TTL before the first field. ---- */

static int encHashField(void *ctx, const char *f, size_t flen, const char *v, size_t vlen,
                        int64_t expire_ms) {
    rdbEncoder *e = ctx;
    uint64_t fl = flen, vl = vlen;
    if (skipping(e)) return 0;
    if (expire_ms >= 0 && e->t.now_ms > 0 && expire_ms <= e->t.now_ms) return 0; /* already expired */
    e->n++;
    if (expire_ms >= 0) {
        if (!e->has_ttl || expire_ms < e->min_ttl) e->min_ttl = expire_ms;
        if (!e->has_ttl || expire_ms > e->max_ttl) e->max_ttl = expire_ms;
        e->has_ttl = 1;
    }
    if (rdbBufReserve(&e->body, 24 + flen + vlen) < 0) return oom(e);
    rdbBufAppend(&e->body, &fl, 8);
    rdbBufAppend(&e->body, f, flen);
    rdbBufAppend(&e->body, &vl, 8);
    rdbBufAppend(&e->body, v, vlen);
    rdbBufAppend(&e->body, &expire_ms, 8);
    return 0;
}

typedef struct hashRec {
    const unsigned char *f, *v;
    uint64_t flen, vlen;
    int64_t expire;
} hashRec;

static size_t hashNext(const rdbBuf *b, size_t pos, hashRec *r) {
    memcpy(&r->flen, b->p + pos, 8);
    r->f = b->p + pos + 8;
    pos += 8 + r->flen;
    memcpy(&r->vlen, b->p + pos, 8);
    r->v = b->p + pos + 8;
    pos += 8 + r->vlen;
    memcpy(&r->expire, b->p + pos, 8);
    return pos + 8;
}

/* Write the buffered fields to out in the layout of e->out_type. */
static int hashEmit(rdbEncoder *e) {
    rdbBuf *o = &e->out;
    hashRec r;
    if (e->out_type == RDB_TYPE_HASH_METADATA && rdbWriteLe64(o, (uint64_t)e->min_ttl) < 0) return -1;
    if (rdbWriteLen(o, e->n) < 0) return -1;
    for (size_t pos = 0; pos < e->body.len;) {
        pos = hashNext(&e->body, pos, &r);
        if (e->out_type == RDB_TYPE_HASH_METADATA &&
            rdbWriteLen(o, r.expire < 0 ? 0 : (uint64_t)(r.expire - e->min_ttl) + 1) < 0)
            return -1;
        if (rdbWriteString(o, r.f, r.flen) < 0 || rdbWriteString(o, r.v, r.vlen) < 0) return -1;
        if (e->out_type == RDB_TYPE_VALKEY_HASH_2 &&
            rdbWriteLe64(o, (uint64_t)(r.expire < 0 ? -1 : r.expire)) < 0)
            return -1;
    }
    return 0;
}

/* Choose the hash encoding once all fields are known. */
static void hashChoose(rdbEncoder *e) {
    if (!e->has_ttl) return; /* type 4 */
    /* Redis holds field TTLs up to 2^48-1 ms; Valkey 9 writes any i64. */
    int redis_range = e->max_ttl <= (int64_t)0xFFFFFFFFFFFFLL;
    if (targetHasFieldTtls(&e->t) && (e->t.flavour == RDB_FLAVOUR_VALKEY || redis_range)) {
        e->out_type = e->t.flavour == RDB_FLAVOUR_VALKEY ? RDB_TYPE_VALKEY_HASH_2 : RDB_TYPE_HASH_METADATA;
    } else if (e->t.drop_field_ttls) {
        e->flags |= RDB_ENC_DROPPED_FIELD_TTLS;
    } else {
        e->flags |= RDB_ENC_UNREPRESENTABLE;
    }
}

/* ---- streams ---- */

static int encStreamNode(void *ctx, const unsigned char *key16, const unsigned char *lp, size_t lplen) {
    rdbEncoder *e = ctx;
    if (skipping(e)) return 0;
    e->n++;
    if (rdbWriteString(&e->body, key16, 16) < 0 || rdbWriteString(&e->body, lp, lplen) < 0) return oom(e);
    return 0;
}

static int encStreamEntry(void *ctx, rdbStreamId id, uint64_t nfields) {
    rdbEncoder *e = ctx;
    (void)nfields;
    if (!e->have_first) e->first_live = id, e->have_first = 1;
    return 0;
}

static int idEq(rdbStreamId a, rdbStreamId b) { return a.ms == b.ms && a.seq == b.seq; }

static int writeLenId(rdbBuf *b, rdbStreamId id) {
    return rdbWriteLen(b, id.ms) < 0 ? -1 : rdbWriteLen(b, id.seq);
}

static int encStreamMeta(void *ctx, const rdbStreamMeta *m) {
    rdbEncoder *e = ctx;
    rdbBuf *b = &e->body;
    if (skipping(e)) return 0;
    if (e->stream_ver == 1) {
        /* What a v1 loader synthesizes (and the decoder reports). An empty
         * stream's first ID is not data (digest.h): not a loss. */
        rdbStreamId first = e->have_first ? e->first_live : (rdbStreamId){0, 0};
        if ((m->length && !idEq(m->first_id, first)) || m->max_deleted.ms || m->max_deleted.seq ||
            m->entries_added != m->length)
            e->flags |= RDB_ENC_LOSSY_STREAM;
    }
    e->groups_meta = m->groups;
    if (rdbWriteLen(b, m->length) < 0 || writeLenId(b, m->last_id) < 0) return oom(e);
    if (e->stream_ver >= 2 &&
        (writeLenId(b, m->first_id) < 0 || writeLenId(b, m->max_deleted) < 0 ||
         rdbWriteLen(b, m->entries_added) < 0))
        return oom(e);
    return rdbWriteLen(b, m->groups) < 0 ? oom(e) : 0;
}

/* The consumer count follows a group's PEL but is only known once the next
 * group (or the key's end) arrives: consumers wait in e->cons. */
static int groupClose(rdbEncoder *e) {
    if (!e->group_open) return 0;
    e->group_open = 0;
    if (rdbWriteLen(&e->body, e->ncons) < 0 || rdbBufAppend(&e->body, e->cons.p, e->cons.len) < 0) return -1;
    rdbBufClear(&e->cons);
    e->ncons = 0;
    return 0;
}

static int encStreamGroup(void *ctx, const rdbStreamGroup *g) {
    rdbEncoder *e = ctx;
    rdbBuf *b = &e->body;
    if (skipping(e)) return 0;
    if (groupClose(e) < 0) return oom(e);
    e->group_open = 1;
    e->groups_seen++;
    /* entries_read is not carried by v1 and not counted as a loss: it is
     * derived, and a loader estimates it (digest.h). */
    if (rdbWriteString(b, g->name, g->namelen) < 0 || writeLenId(b, g->last_id) < 0) return oom(e);
    /* -1 (unknown) goes out as 2^64-1, exactly as Redis saves it. */
    if (e->stream_ver >= 2 && rdbWriteLen(b, (uint64_t)g->entries_read) < 0) return oom(e);
    return rdbWriteLen(b, g->pel_count) < 0 ? oom(e) : 0;
}

static int encStreamPel(void *ctx, rdbStreamId id, int64_t delivery_time, uint64_t delivery_count) {
    rdbEncoder *e = ctx;
    rdbBuf *b = &e->body;
    if (skipping(e)) return 0;
    if (rdbWriteRawStreamId(b, id) < 0 || rdbWriteLe64(b, (uint64_t)delivery_time) < 0 ||
        rdbWriteLen(b, delivery_count) < 0)
        return oom(e);
    return 0;
}

static int encStreamConsumer(void *ctx, const rdbStreamConsumer *c) {
    rdbEncoder *e = ctx;
    rdbBuf *b = &e->cons;
    if (skipping(e)) return 0;
    e->ncons++;
    if (e->stream_ver < 3 && c->active_time != c->seen_time) e->flags |= RDB_ENC_LOSSY_STREAM;
    if (rdbWriteString(b, c->name, c->namelen) < 0 || rdbWriteLe64(b, (uint64_t)c->seen_time) < 0) return oom(e);
    if (e->stream_ver >= 3 && rdbWriteLe64(b, (uint64_t)c->active_time) < 0) return oom(e);
    return rdbWriteLen(b, c->pel_count) < 0 ? oom(e) : 0;
}

static int encStreamConsumerPel(void *ctx, rdbStreamId id) {
    rdbEncoder *e = ctx;
    if (skipping(e)) return 0;
    return rdbWriteRawStreamId(&e->cons, id) < 0 ? oom(e) : 0;
}

/* Stream v4's IDMP state has no place in v1-v3: what was there is said. */
static int encStreamIdmpEntry(void *ctx, const char *pid, size_t pl, const char *iid, size_t il, rdbStreamId id) {
    rdbEncoder *e = ctx;
    if (!skipping(e)) e->flags |= RDB_ENC_DROPPED_IDMP;
    return 0;
}

static int encStreamIdmp(void *ctx, const rdbStreamIdmp *m) {
    rdbEncoder *e = ctx;
    /* 100 s and 100 records: Redis 8.6's defaults (XCFGSET changes them). */
    if (!skipping(e) && (m->duration != 100 || m->max_entries != 100)) e->flags |= RDB_ENC_DROPPED_IDMP;
    return 0;
}

/* ---- completion ---- */

static int isCollection(rdbLType t) {
    return t == RDB_LT_LIST || t == RDB_LT_SET || t == RDB_LT_ZSET || t == RDB_LT_HASH;
}

/* out = type byte + [count] + body + footer. */
static int assemble(rdbEncoder *e) {
    rdbBuf *o = &e->out;
    rdbFlavour f = e->out_type == RDB_TYPE_VALKEY_HASH_2 && e->t.flavour == RDB_FLAVOUR_VALKEY
                       ? RDB_FLAVOUR_VALKEY : RDB_FLAVOUR_REDIS;
    int version = rdbPayloadVersion(e->out_type, f, e->t.version);
    rdbBufClear(o);
    if (version < 0) {
        snprintf(e->err, sizeof(e->err), "no RDB version carries type %d", e->out_type);
        return -1;
    }
    if (rdbBufReserve(o, e->body.len + 32) < 0 || rdbBufAppendByte(o, (unsigned char)e->out_type) < 0)
        return oom(e);
    if (e->ltype == RDB_LT_HASH) {
        if (hashEmit(e) < 0) return oom(e);
    } else {
        /* A string whose content never arrived is the empty string. */
        uint64_t count = e->ltype == RDB_LT_STRING ? 0 : e->n;
        if ((e->ltype != RDB_LT_STRING || !e->n) && rdbWriteLen(o, count) < 0) return oom(e);
        if (rdbBufAppend(o, e->body.p, e->body.len) < 0) return oom(e);
    }
    return rdbPayloadFooter(o, 0, version) < 0 ? oom(e) : 0;
}

static int encKeyEnd(void *ctx, const rdbKeyInfo *k) {
    rdbEncoder *e = ctx;
    (void)k;
    if (e->state != ST_OPEN) return e->state == ST_FAILED ? -1 : 0;
    if (e->ltype == RDB_LT_HASH) hashChoose(e);
    if (e->ltype == RDB_LT_STREAM && !(e->flags & RDB_ENC_UNREPRESENTABLE)) {
        if (groupClose(e) < 0) return oom(e);
        if (e->groups_seen != e->groups_meta) {
            snprintf(e->err, sizeof(e->err), "stream reported %llu groups but announced %llu",
                     (unsigned long long)e->groups_seen, (unsigned long long)e->groups_meta);
            e->state = ST_FAILED;
            return -1;
        }
    }
    if (isCollection(e->ltype) && e->n == 0) e->flags |= RDB_ENC_EMPTY;
    if (e->flags & RDB_ENC_UNREPRESENTABLE) {
        rdbBufClear(&e->out);
        e->out_type = -1;
    } else if (assemble(e) < 0) {
        e->state = ST_FAILED;
        return -1;
    }
    e->state = ST_DONE;
    return 0;
}

/* ---- public ---- */

rdbEncoder *rdbEncoderNew(const rdbEncodeTarget *t) {
    rdbEncoder *e = calloc(1, sizeof(*e));
    if (!e) return NULL;
    e->t = *t;
    e->out_type = -1;
    return e;
}

void rdbEncoderSetNow(rdbEncoder *e, int64_t now_ms) { e->t.now_ms = now_ms; }

void rdbEncoderFree(rdbEncoder *e) {
    if (!e) return;
    rdbBufFree(&e->body);
    rdbBufFree(&e->out);
    rdbBufFree(&e->cons);
    free(e);
}

static const char *encError(void *ctx) { return ((rdbEncoder *)ctx)->err; }

void rdbEncoderHandlers(rdbEncoder *e, rdbHandlers *h) {
    memset(h, 0, sizeof(*h));
    h->ctx = e;
    h->error = encError;
    h->key_begin = encKeyBegin;
    h->key_end = encKeyEnd;
    h->string = encString;
    h->list_item = encItem;
    h->set_member = encItem;
    h->zset_member = encZsetMember;
    h->hash_field = encHashField;
    h->stream_node = encStreamNode;
    h->stream_entry = encStreamEntry;
    h->stream_meta = encStreamMeta;
    h->stream_group = encStreamGroup;
    h->stream_pel = encStreamPel;
    h->stream_consumer = encStreamConsumer;
    h->stream_consumer_pel = encStreamConsumerPel;
    h->stream_idmp_entry = encStreamIdmpEntry;
    h->stream_idmp = encStreamIdmp;
}

int rdbEncoderResult(rdbEncoder *e, const unsigned char **payload, size_t *len, unsigned *flags) {
    if (e->state != ST_DONE) return -1;
    int none = (e->flags & RDB_ENC_UNREPRESENTABLE) != 0;
    if (payload) *payload = none ? NULL : e->out.p;
    if (len) *len = none ? 0 : e->out.len;
    if (flags) *flags = e->flags;
    return 0;
}

int rdbEncoderType(const rdbEncoder *e) { return e->state == ST_DONE ? e->out_type : -1; }

const char *rdbEncoderError(const rdbEncoder *e) { return e->err; }

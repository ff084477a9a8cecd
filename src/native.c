/* native.c -- huge values as batches of native commands (see native.h).
 *
 * A small batch builder collects argv entries (copied into one arena) for
 * one command such as "RPUSH tmp e1 e2 ...", and sends it when it reaches
 * the element or byte bound. Decoder callbacks append to it.
 */
#include "native.h"

#include "grace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

/* Safety TTL of a temporary key while it is being filled. */
#define NATIVE_TMP_TTL_MS "3600000"

typedef struct batch {
    writer *w;
    uint64_t db;
    const rdbKeyInfo *k;      /* the real key, for messages */
    const char *tmp;          /* temporary key name (borrowed) */
    size_t tmplen;
    const char *cmd;          /* "RPUSH", "SADD", ... */
    size_t nfixed;            /* argv entries repeated in every batch */
    const char **argv;
    size_t *lens;
    size_t argc, cap;
    char *arena;              /* copies of the arguments */
    size_t used, arena_cap;
    size_t *offs;             /* argument offsets into the arena */
    int failed;
    int guarded;              /* the temporary key has its safety TTL */
    int64_t grace_ms;         /* expire times within it go relative (grace.h) */
    char group[256];          /* current stream group */
    size_t grouplen;
    char *err;
    size_t errlen;
} batch;

static int oom(batch *b) {
    snprintf(b->err, b->errlen, "out of memory building a batch");
    b->failed = 1;
    return -1;
}

/* A callback failed: its reason is already in b->err. */
static const char *onError(void *ctx) { return ((batch *)ctx)->err; }

static int argPush(batch *b, const void *p, size_t len) {
    if (b->argc == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        const char **a = realloc(b->argv, cap * sizeof(*a));
        if (a) b->argv = a;
        size_t *l = realloc(b->lens, cap * sizeof(*l));
        if (l) b->lens = l;
        size_t *o = realloc(b->offs, cap * sizeof(*o));
        if (o) b->offs = o;
        if (!a || !l || !o) return oom(b);
        b->cap = cap;
    }
    if (b->used + len + 1 > b->arena_cap) {
        size_t cap = b->arena_cap ? b->arena_cap : 65536;
        while (cap < b->used + len + 1) cap *= 2;
        char *np = realloc(b->arena, cap);
        if (!np) return oom(b);
        b->arena = np;
        b->arena_cap = cap;
    }
    memcpy(b->arena + b->used, p, len);
    b->offs[b->argc] = b->used;
    b->lens[b->argc++] = len;
    b->used += len + 1;
    return 0;
}

static int argStr(batch *b, const char *s) { return argPush(b, s, strlen(s)); }

/* Start a command: name, the temporary key, then 'extra' fixed arguments
 * are pushed by the caller before elements. */
static int begin(batch *b, const char *cmd) {
    b->argc = 0;
    b->used = 0;
    b->cmd = cmd;
    return argStr(b, cmd) < 0 || argPush(b, b->tmp, b->tmplen) < 0 ? -1 : 0;
}

static int sendArgv(batch *b, int argc, const char **argv, const size_t *lens) {
    writerTag t = {argv[0], b->db, b->k->key, b->k->keylen, 0, WRITER_K_NATIVE_BATCH};
    if (writerCommand(b->w, argc, argv, lens, &t) < 0) {
        if (writerError(b->w)[0]) snprintf(b->err, b->errlen, "%s", writerError(b->w));
        b->failed = 1;
        return -1;
    }
    return 0;
}

static int send(batch *b) {
    for (size_t i = 0; i < b->argc; i++) b->argv[i] = b->arena + b->offs[i];
    if (sendArgv(b, (int)b->argc, b->argv, b->lens) < 0) return -1;
    if (b->guarded) return 0;
    /* The first command created the temporary key: give it a TTL at once,
     * so that a run stopped half way (a conflict, a lost link, a kill)
     * leaves nothing behind for long. finish() sets the real expire. */
    const char *argv[3] = {"PEXPIRE", b->tmp, NATIVE_TMP_TTL_MS};
    size_t lens[3] = {7, b->tmplen, strlen(NATIVE_TMP_TTL_MS)};
    b->guarded = 1;
    return sendArgv(b, 3, argv, lens);
}

/* Send the pending command if it holds elements; keep its fixed prefix. */
static int flush(batch *b) {
    if (b->argc <= b->nfixed) return 0;
    if (send(b) < 0) return -1;
    size_t keep = b->nfixed;
    size_t used = keep ? b->offs[keep - 1] + b->lens[keep - 1] + 1 : 0;
    b->argc = keep;
    b->used = used;
    return 0;
}

static int maybeFlush(batch *b) {
    if (b->argc - b->nfixed >= NATIVE_BATCH_ELEMS || b->used >= NATIVE_BATCH_BYTES) return flush(b);
    return 0;
}

/* Switch to command 'cmd' for element appends (flushes a different one). */
static int use(batch *b, const char *cmd, size_t nfixed_extra) {
    if (b->cmd == cmd && b->argc >= b->nfixed) return 0;
    if (flush(b) < 0 || begin(b, cmd) < 0) return -1;
    b->nfixed = 2 + nfixed_extra;
    return 0;
}

/* ---- Decoder callbacks ---- */

/* One APPEND per piece: the decoder hands the string over in pieces of at
 * most RDB_STRING_CHUNK bytes (1 MiB, within the smallest
 * proto-max-bulk-len Redis allows), read in place from the raw bytes or
 * inflated a window at a time, so the value is never whole in memory a
 * second time (the raw capture is the only copy). */
static int onStringChunk(void *ctx, const char *p, size_t len, uint64_t off, uint64_t total) {
    batch *b = ctx;
    if (begin(b, "APPEND") < 0 || argPush(b, p, len) < 0 || send(b) < 0) return -1;
    b->argc = 0;
    b->cmd = NULL;
    return 0;
}

static int onListItem(void *ctx, const char *p, size_t len) {
    batch *b = ctx;
    if (use(b, "RPUSH", 0) < 0 || argPush(b, p, len) < 0) return -1;
    return maybeFlush(b);
}

static int onSetMember(void *ctx, const char *p, size_t len) {
    batch *b = ctx;
    if (use(b, "SADD", 0) < 0 || argPush(b, p, len) < 0) return -1;
    return maybeFlush(b);
}

static int onZsetMember(void *ctx, const char *p, size_t len, double score) {
    batch *b = ctx;
    char s[40];
    int n = isinf(score) ? snprintf(s, sizeof(s), "%s", score > 0 ? "+inf" : "-inf")
                         : snprintf(s, sizeof(s), "%.17g", score);
    if (use(b, "ZADD", 0) < 0 || argPush(b, s, (size_t)n) < 0 || argPush(b, p, len) < 0) return -1;
    return maybeFlush(b);
}

static int onHashField(void *ctx, const char *f, size_t fl, const char *v, size_t vl, int64_t exp) {
    batch *b = ctx;
    if (use(b, "HSET", 0) < 0 || argPush(b, f, fl) < 0 || argPush(b, v, vl) < 0) return -1;
    if (exp < 0) return maybeFlush(b);
    /* Field TTL: after the field exists (Redis 7.4+; older targets refuse,
     * which is reported as a failed command naming the key). */
    char t[24];
    if (flush(b) < 0 || begin(b, "HPEXPIREAT") < 0) return -1;
    int n = snprintf(t, sizeof(t), "%lld", (long long)exp);
    if (argPush(b, t, (size_t)n) < 0 || argStr(b, "FIELDS") < 0 || argStr(b, "1") < 0 ||
        argPush(b, f, fl) < 0 || send(b) < 0)
        return -1;
    b->cmd = NULL;
    b->argc = 0;
    return 0;
}

static int fmtId(char *buf, size_t len, rdbStreamId id) {
    return snprintf(buf, len, "%llu-%llu", (unsigned long long)id.ms, (unsigned long long)id.seq);
}

static int onStreamEntry(void *ctx, rdbStreamId id, uint64_t nfields) {
    batch *b = ctx;
    char s[48];
    if (flush(b) < 0 || begin(b, "XADD") < 0) return -1;
    b->nfixed = 3;
    return argPush(b, s, (size_t)fmtId(s, sizeof(s), id));
}

static int onStreamField(void *ctx, const char *f, size_t fl, const char *v, size_t vl) {
    batch *b = ctx;
    return argPush(b, f, fl) < 0 || argPush(b, v, vl) < 0 ? -1 : 0;
}

/* XSETID fixes last-id (and entries-added, max-deleted on 7.0+). */
static int onStreamMeta(void *ctx, const rdbStreamMeta *m) {
    batch *b = ctx;
    char id[48], n[24], md[48];
    if (flush(b) < 0 || begin(b, "XSETID") < 0) return -1;
    if (argPush(b, id, (size_t)fmtId(id, sizeof(id), m->last_id)) < 0 || argStr(b, "ENTRIESADDED") < 0 ||
        argPush(b, n, (size_t)snprintf(n, sizeof(n), "%llu", (unsigned long long)m->entries_added)) < 0 ||
        argStr(b, "MAXDELETEDID") < 0 || argPush(b, md, (size_t)fmtId(md, sizeof(md), m->max_deleted)) < 0)
        return -1;
    b->nfixed = b->argc;
    if (send(b) < 0) return -1;
    b->cmd = NULL;
    b->argc = 0;
    return 0;
}

static int onStreamGroup(void *ctx, const rdbStreamGroup *g) {
    batch *b = ctx;
    char id[48], er[24];
    b->grouplen = g->namelen < sizeof(b->group) ? g->namelen : sizeof(b->group);
    memcpy(b->group, g->name, b->grouplen);
    if (begin(b, "XGROUP") < 0) return -1;
    /* XGROUP CREATE key group id [ENTRIESREAD n]: rebuild argv order. */
    b->argc = 0, b->used = 0;
    if (argStr(b, "XGROUP") < 0 || argStr(b, "CREATE") < 0 || argPush(b, b->tmp, b->tmplen) < 0 ||
        argPush(b, g->name, g->namelen) < 0 || argPush(b, id, (size_t)fmtId(id, sizeof(id), g->last_id)) < 0)
        return -1;
    if (g->entries_read >= 0 &&
        (argStr(b, "ENTRIESREAD") < 0 ||
         argPush(b, er, (size_t)snprintf(er, sizeof(er), "%lld", (long long)g->entries_read)) < 0))
        return -1;
    if (send(b) < 0) return -1;
    b->cmd = NULL;
    b->argc = 0;
    return 0;
}

static int onStreamConsumer(void *ctx, const rdbStreamConsumer *c) {
    batch *b = ctx;
    b->argc = 0, b->used = 0, b->cmd = "XGROUP";
    if (argStr(b, "XGROUP") < 0 || argStr(b, "CREATECONSUMER") < 0 || argPush(b, b->tmp, b->tmplen) < 0 ||
        argPush(b, b->group, b->grouplen) < 0 || argPush(b, c->name, c->namelen) < 0 || send(b) < 0)
        return -1;
    /* Remember the consumer for its PEL entries: reuse 'group' tail. */
    b->argc = 0, b->used = 0, b->cmd = "XCLAIM";
    if (argStr(b, "XCLAIM") < 0 || argPush(b, b->tmp, b->tmplen) < 0 || argPush(b, b->group, b->grouplen) < 0 ||
        argPush(b, c->name, c->namelen) < 0 || argStr(b, "0") < 0)
        return -1;
    b->nfixed = b->argc;
    return 0;
}

/* A consumer's PEL entry: XCLAIM ... id FORCE JUSTID (delivery time and
 * count come from the group PEL; approximated by the claim). */
static int onStreamConsumerPel(void *ctx, rdbStreamId id) {
    batch *b = ctx;
    char s[48];
    size_t keep = b->nfixed;
    if (argPush(b, s, (size_t)fmtId(s, sizeof(s), id)) < 0 || argStr(b, "FORCE") < 0 || argStr(b, "JUSTID") < 0 ||
        send(b) < 0)
        return -1;
    b->argc = keep;
    b->used = b->offs[keep - 1] + b->lens[keep - 1] + 1;
    return 0;
}

static int onModule(void *ctx, const char *name, int encver) {
    batch *b = ctx;
    snprintf(b->err, b->errlen, "module value '%s' is larger than one RESTORE can carry", name);
    b->failed = 1;
    return -1;
}

/* ---- Driver ---- */

static int finish(batch *b, int replace) {
    char t[24];
    if (flush(b) < 0) return -1;
    if (b->k->expire_ms != -1) {
        int rel = graceNear(b->k->expire_ms, graceNowMs(), b->grace_ms);
        b->argc = 0, b->used = 0, b->cmd = rel ? "PEXPIRE" : "PEXPIREAT";
        int n = snprintf(t, sizeof(t), "%lld", (long long)(rel ? b->grace_ms : b->k->expire_ms));
        if (argStr(b, b->cmd) < 0 || argPush(b, b->tmp, b->tmplen) < 0 || argPush(b, t, (size_t)n) < 0 ||
            send(b) < 0)
            return -1;
    } else if (b->guarded) {
        const char *pargv[2] = {"PERSIST", b->tmp};
        size_t plens[2] = {7, b->tmplen};
        if (sendArgv(b, 2, pargv, plens) < 0) return -1;
    }
    const char *argv[3] = {replace ? "RENAME" : "RENAMENX", b->tmp, b->k->key};
    size_t lens[3] = {strlen(argv[0]), b->tmplen, b->k->keylen};
    writerTag tf = {argv[0], b->db, b->k->key, b->k->keylen, 0, WRITER_K_NATIVE_FINAL};
    const char *dargv[2] = {"DEL", b->tmp};
    size_t dlens[2] = {3, b->tmplen};
    writerTag td = {"DEL", b->db, b->k->key, b->k->keylen, 0, WRITER_K_NATIVE_BATCH};
    if (writerCommand(b->w, 3, argv, lens, &tf) < 0 || writerCommand(b->w, 2, dargv, dlens, &td) < 0) {
        if (writerError(b->w)[0]) snprintf(b->err, b->errlen, "%s", writerError(b->w));
        return -1;
    }
    return 0;
}

/* ---- Temporary names ---- */

/* CRC16-CCITT (XMODEM), as Redis Cluster hashes keys. */
static unsigned crc16(const char *p, size_t n) {
    unsigned crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (unsigned)(unsigned char)p[i] << 8;
        for (int b = 0; b < 8; b++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
        crc &= 0xffff;
    }
    return crc;
}

/* The part of a key Redis Cluster hashes: between the first '{' and the
 * first '}' after it when that is not empty, else the whole key. */
static void hashTag(const char *key, size_t keylen, const char **tag, size_t *taglen) {
    const char *open = memchr(key, '{', keylen);
    const char *close = open ? memchr(open + 1, '}', keylen - (size_t)(open + 1 - key)) : NULL;
    if (close && close > open + 1) {
        *tag = open + 1, *taglen = (size_t)(close - open - 1);
    } else {
        *tag = key, *taglen = keylen;
    }
}

unsigned nativeKeySlot(const char *key, size_t keylen) {
    const char *tag;
    size_t taglen;
    hashTag(key, keylen, &tag, &taglen);
    return crc16(tag, taglen) & 16383;
}

int nativeTmpName(const char *key, size_t keylen, rdbBuf *out) {
    const char *tag;
    size_t taglen;
    char alt[16], tail[48];
    hashTag(key, keylen, &tag, &taglen);
    /* Inside our braces the tag must be non-empty and free of '}'. A key
     * without a usable tag that holds '}' (or is empty) gets a short
     * stand-in of the same slot instead. */
    if (taglen == 0 || memchr(tag, '}', taglen)) {
        unsigned slot = nativeKeySlot(key, keylen);
        for (unsigned i = 0;; i++) {
            int n = snprintf(alt, sizeof(alt), "%u", i);
            if ((crc16(alt, (size_t)n) & 16383) == slot) {
                tag = alt, taglen = (size_t)n;
                break;
            }
        }
    }
    uint64_t rnd;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        rnd = ((uint64_t)tv.tv_sec << 20 ^ (uint64_t)tv.tv_usec) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)out;
    }
    int n = snprintf(tail, sizeof(tail), "}:%016llx:%ld", (unsigned long long)rnd, (long)getpid());
    rdbBufClear(out);
    return rdbBufAppend(out, NATIVE_TMP_PREFIX "{", strlen(NATIVE_TMP_PREFIX) + 1) < 0 ||
                   rdbBufAppend(out, tag, taglen) < 0 || rdbBufAppend(out, tail, (size_t)n) < 0
               ? -1 : 0;
}

/* Claim the temporary name: SET NX with the safety TTL, and wait for the
 * answer before anything else touches the name (a nil answer stops the
 * writer, see WRITER_K_NATIVE_RESERVE); then empty it for the first batch, which
 * creates the key with its own type. */
static int reserve(batch *b) {
    const char *argv[6] = {"SET", b->tmp, "", "NX", "PX", NATIVE_TMP_TTL_MS};
    size_t lens[6] = {3, b->tmplen, 0, 2, 2, strlen(NATIVE_TMP_TTL_MS)};
    writerTag t = {"SET", b->db, b->k->key, b->k->keylen, 0, WRITER_K_NATIVE_RESERVE};
    const char *dargv[2] = {"DEL", b->tmp};
    size_t dlens[2] = {3, b->tmplen};
    writerTag td = {"DEL", b->db, b->k->key, b->k->keylen, 0, WRITER_K_NATIVE_BATCH};
    if (writerCommand(b->w, 6, argv, lens, &t) < 0 || writerDrain(b->w) < 0 ||
        writerCommand(b->w, 2, dargv, dlens, &td) < 0) {
        if (writerError(b->w)[0]) snprintf(b->err, b->errlen, "%s", writerError(b->w));
        return -1;
    }
    return 0;
}

int nativeWrite(writer *w, const rdbKeyInfo *k, uint64_t db, const char *tmp, size_t tmplen,
                const unsigned char *raw, size_t len, int version, rdbFlavour flavour, int replace,
                int64_t grace_ms, char *err, size_t errlen) {
    batch b = {.w = w, .db = db, .k = k, .tmp = tmp, .tmplen = tmplen, .grace_ms = grace_ms, .err = err,
               .errlen = errlen};
    rdbHandlers h = {.ctx = &b, .string_chunk = onStringChunk, .list_item = onListItem, .set_member = onSetMember,
                     .zset_member = onZsetMember, .hash_field = onHashField, .stream_entry = onStreamEntry,
                     .stream_field = onStreamField, .stream_meta = onStreamMeta, .stream_group = onStreamGroup,
                     .stream_consumer = onStreamConsumer, .stream_consumer_pel = onStreamConsumerPel,
                     .module_value = onModule, .error = onError};
    int rc = reserve(&b);
    rdbReader *r = rc == 0 ? rdbReaderMem(raw, len) : NULL;
    rdbDecoder *d = r ? rdbDecoderNew(r, &h, NULL) : NULL;
    if (rc == 0 && !d) rc = oom(&b);
    if (rc == 0 && rdbDecodeValue(d, k->type, version, flavour, k) < 0) {
        if (!b.failed) snprintf(err, errlen, "%s", rdbDecoderError(d));
        rc = -1;
    }
    if (rc == 0) rc = finish(&b, replace);
    rdbDecoderFree(d);
    rdbReaderFree(r);
    free(b.argv);
    free(b.lens);
    free(b.offs);
    free(b.arena);
    return rc;
}

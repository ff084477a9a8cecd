/* fuzz_decode.c -- libFuzzer target for the RDB decoder (make fuzz).
 *
 * Every input is decoded seven ways, each with handlers that read every
 * byte they are handed (so that a pointer or length that strays out of its
 * buffer is caught by ASan right at the callback):
 *
 *   1. as a whole RDB file, raw capture on for every key;
 *   2. the same through a reader fed in small uneven chunks (as from a pipe
 *      or socket), which must give the same result and the same bytes;
 *   3. the same, stopped by a handler partway through (error paths must not
 *      leak), on a subset of inputs;
 *   4. as a DUMP payload, once as given (footer checks) and once with its
 *      CRC-64 fixed up so that mutations of the body reach the value
 *      decoder instead of dying at the checksum;
 *   5. through the digest consumer, as a file and as a fixed-up payload;
 *   6. through the re-encoder (encode.h) for three targets (Redis 7.4,
 *      Valkey 9, an older Redis picked by the input's size): every payload
 *      it makes must decode, and unless it flags a loss, the re-encoded
 *      data must have the original's digest;
 *   7. written again by the file writer (rdbfile.h) from its raw values:
 *      the copy must decode to the same digest;
 *   8. framed by the decoder and decoded on two worker threads
 *      (parallel.h, what --checksum does): it must succeed exactly when
 *      the sequential decode does, with the same digest.
 *
 * Beyond memory safety it checks the decoder's contract (decode.h): a
 * failure has an error code and a one-line message naming the offset; the
 * offset never passes the input's end. A broken contract aborts, so
 * libFuzzer keeps the input as a crash reproducer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdb/crc64.h"
#include "rdb/decode.h"
#include "rdb/digest.h"
#include "rdb/encode.h"
#include "rdb/parallel.h"
#include "rdb/rdbfile.h"
#include "rdb/tee.h"

typedef struct Sink {
    uint64_t sum;
    uint64_t calls;
    uint64_t stop_at; /* 0: never stop; else fail the stop_at-th callback */
} Sink;

static volatile uint64_t g_observe; /* keeps the sums alive */

static int touch(Sink *s, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) s->sum += c[i];
    s->calls++;
    return (s->stop_at && s->calls == s->stop_at) ? 1 : 0;
}

static int touchz(Sink *s, const char *p) { return touch(s, p, p ? strlen(p) : 0); }

static int id_(Sink *s, rdbStreamId id) { return touch(s, &id, sizeof(id)); }

static int onHeader(void *ctx, int version, rdbFlavour fl) {
    ((Sink *)ctx)->sum += (uint64_t)version + fl;
    return touch(ctx, NULL, 0);
}

static int onAux(void *ctx, const char *k, size_t kl, const char *v, size_t vl) {
    touch(ctx, k, kl);
    return touch(ctx, v, vl);
}

static int onSelect(void *ctx, uint64_t db) { return touch(ctx, &db, sizeof(db)); }

static int onResize(void *ctx, uint64_t keys, uint64_t expires) {
    ((Sink *)ctx)->sum += keys ^ expires;
    return touch(ctx, NULL, 0);
}

static int onSlot(void *ctx, uint64_t slot, uint64_t keys, uint64_t expires) {
    ((Sink *)ctx)->sum += slot ^ keys ^ expires;
    return touch(ctx, NULL, 0);
}

static int onFunction(void *ctx, const rdbFunction *fn) {
    touch(ctx, fn->code, fn->len);
    if (fn->pre_ga) {
        touch(ctx, fn->name, fn->namelen);
        touch(ctx, fn->engine, fn->enginelen);
    }
    return touch(ctx, NULL, 0);
}

static int onModuleAux(void *ctx, const char *module, int encver, int when) {
    ((Sink *)ctx)->sum += (uint64_t)encver + (uint64_t)when;
    return touchz(ctx, module);
}

static int onEof(void *ctx, const rdbEofInfo *e) {
    ((Sink *)ctx)->sum += e->crc + e->stored + e->computed;
    return touch(ctx, NULL, 0);
}

static int keyInfo(Sink *s, const rdbKeyInfo *k) {
    s->sum += k->db + (uint64_t)k->type + (uint64_t)k->ltype + (uint64_t)k->expire_ms +
              (uint64_t)k->idle + (uint64_t)k->freq + k->offset;
    if (k->info) touchz(s, k->info->name);
    return touch(s, k->key, k->keylen);
}

static int onKeyBegin(void *ctx, const rdbKeyInfo *k) { return keyInfo(ctx, k); }
static int onKeyEnd(void *ctx, const rdbKeyInfo *k) { return keyInfo(ctx, k); }

static int onRaw(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t n) {
    keyInfo(ctx, k);
    return touch(ctx, p, n);
}

static int onStr(void *ctx, const char *p, size_t n) { return touch(ctx, p, n); }

static int onZset(void *ctx, const char *p, size_t n, double score) {
    touch(ctx, &score, sizeof(score));
    return touch(ctx, p, n);
}

static int onHash(void *ctx, const char *f, size_t fl, const char *v, size_t vl, int64_t exp) {
    touch(ctx, f, fl);
    touch(ctx, &exp, sizeof(exp));
    return touch(ctx, v, vl);
}

static int onStreamNode(void *ctx, const unsigned char *key16, const unsigned char *lp, size_t n) {
    touch(ctx, key16, 16);
    return touch(ctx, lp, n);
}

static int onStreamEntry(void *ctx, rdbStreamId id, uint64_t nfields) {
    ((Sink *)ctx)->sum += nfields;
    return id_(ctx, id);
}

static int onStreamField(void *ctx, const char *f, size_t fl, const char *v, size_t vl) {
    touch(ctx, f, fl);
    return touch(ctx, v, vl);
}

static int onStreamMeta(void *ctx, const rdbStreamMeta *m) { return touch(ctx, m, sizeof(*m)); }

static int onStreamGroup(void *ctx, const rdbStreamGroup *g) {
    ((Sink *)ctx)->sum += g->pel_count + g->consumers + (uint64_t)g->entries_read;
    id_(ctx, g->last_id);
    return touch(ctx, g->name, g->namelen);
}

static int onStreamPel(void *ctx, rdbStreamId id, int64_t t, uint64_t count) {
    ((Sink *)ctx)->sum += (uint64_t)t + count;
    return id_(ctx, id);
}

static int onStreamConsumer(void *ctx, const rdbStreamConsumer *c) {
    ((Sink *)ctx)->sum += (uint64_t)c->seen_time + (uint64_t)c->active_time + c->pel_count;
    return touch(ctx, c->name, c->namelen);
}

static int onStreamConsumerPel(void *ctx, rdbStreamId id) { return id_(ctx, id); }

static int onModuleValue(void *ctx, const char *name, int encver) {
    ((Sink *)ctx)->sum += (uint64_t)encver;
    return touchz(ctx, name);
}

static void sinkHandlers(rdbHandlers *h, Sink *s) {
    memset(h, 0, sizeof(*h));
    h->ctx = s;
    h->header = onHeader;
    h->aux = onAux;
    h->select_db = onSelect;
    h->resize_db = onResize;
    h->slot_info = onSlot;
    h->function = onFunction;
    h->module_aux = onModuleAux;
    h->eof = onEof;
    h->key_begin = onKeyBegin;
    h->key_end = onKeyEnd;
    h->raw_value = onRaw; /* want_raw NULL: capture every value */
    h->string = onStr;
    h->list_item = onStr;
    h->set_member = onStr;
    h->zset_member = onZset;
    h->hash_field = onHash;
    h->stream_node = onStreamNode;
    h->stream_entry = onStreamEntry;
    h->stream_field = onStreamField;
    h->stream_meta = onStreamMeta;
    h->stream_group = onStreamGroup;
    h->stream_pel = onStreamPel;
    h->stream_consumer = onStreamConsumer;
    h->stream_consumer_pel = onStreamConsumerPel;
    h->module_value = onModuleValue;
}

/* The contract of a failed decode (decode.h, common brief): an error code,
 * and one line naming the byte offset, which lies within the input. */
static void checkResult(rdbDecoder *d, int rc, size_t size) {
    rdbErrCode code = rdbDecoderErrorCode(d);
    uint64_t off = rdbDecoderOffset(d);
    if (off > size) {
        fprintf(stderr, "fuzz_decode: offset %llu past input size %zu\n",
                (unsigned long long)off, size);
        abort();
    }
    if (rc == 0) {
        if (code != RDB_OK) {
            fprintf(stderr, "fuzz_decode: success with error code %d\n", (int)code);
            abort();
        }
        return;
    }
    const char *msg = rdbDecoderError(d);
    if (code == RDB_OK || !msg) {
        fprintf(stderr, "fuzz_decode: failure without code or message\n");
        abort();
    }
    if (strchr(msg, '\n') || (code != RDB_ERR_HANDLER && !strstr(msg, "offset "))) {
        fprintf(stderr, "fuzz_decode: bad error message: %s\n", msg);
        abort();
    }
    g_observe += strlen(msg);
}

/* What one decode produced, for comparing two readers of the same bytes. */
typedef struct Outcome {
    int rc;
    rdbErrCode code;
    uint64_t offset, keys;
} Outcome;

static Outcome decodeWith(rdbReader *r, size_t size, const rdbHandlers *h, int ignore_crc) {
    rdbDecodeOptions opt = {.ignore_crc = ignore_crc};
    Outcome o = {.rc = -2};
    rdbDecoder *d = rdbDecoderNew(r, h, &opt);
    if (d) {
        o.rc = rdbDecode(d);
        checkResult(d, o.rc, size);
        o.code = rdbDecoderErrorCode(d);
        o.offset = rdbDecoderOffset(d);
        o.keys = rdbDecoderKeys(d);
        g_observe += (uint64_t)rdbDecoderVersion(d) + rdbDecoderFlavour(d);
        rdbDecoderFree(d);
    }
    return o;
}

static Outcome decodeFile(const uint8_t *data, size_t size, const rdbHandlers *h, int ignore_crc) {
    Outcome o = {.rc = -2};
    rdbReader *r = rdbReaderMem(data, size);
    if (!r) return o;
    o = decodeWith(r, size, h, ignore_crc);
    rdbReaderFree(r);
    return o;
}

/* A source that hands the input out in small, uneven pieces, as a pipe or
 * a socket does: the reader's refill, CRC and capture paths differ from
 * rdbReaderMem's. */
typedef struct Chunks {
    const uint8_t *p;
    size_t len, pos;
    uint32_t rnd;
} Chunks;

static ssize_t chunkRead(void *src, void *buf, size_t cap, char *err, size_t errlen) {
    Chunks *c = src;
    c->rnd = c->rnd * 1103515245u + 12345u;
    size_t n = 1 + (c->rnd >> 16) % 97;
    if (n > cap) n = cap;
    if (n > c->len - c->pos) n = c->len - c->pos;
    memcpy(buf, c->p + c->pos, n);
    c->pos += n;
    return (ssize_t)n;
}

/* The same bytes through a chunked reader must give the same result, the
 * same callbacks and the same bytes in them. */
static void decodeChunked(const uint8_t *data, size_t size, const Outcome *want,
                          const Sink *want_sink) {
    Sink s = {0};
    rdbHandlers h;
    Chunks c = {.p = data, .len = size, .rnd = (uint32_t)size};
    sinkHandlers(&h, &s);
    rdbReader *r = rdbReaderNew(chunkRead, &c);
    if (!r) return;
    Outcome o = decodeWith(r, size, &h, 0);
    rdbReaderFree(r);
    if (o.rc != want->rc || o.code != want->code || o.offset != want->offset ||
        o.keys != want->keys || s.sum != want_sink->sum || s.calls != want_sink->calls) {
        fprintf(stderr,
                "fuzz_decode: chunked reader differs from memory reader: rc %d/%d code %d/%d "
                "offset %llu/%llu keys %llu/%llu calls %llu/%llu sum %llu/%llu\n",
                o.rc, want->rc, (int)o.code, (int)want->code, (unsigned long long)o.offset,
                (unsigned long long)want->offset, (unsigned long long)o.keys,
                (unsigned long long)want->keys, (unsigned long long)s.calls,
                (unsigned long long)want_sink->calls, (unsigned long long)s.sum,
                (unsigned long long)want_sink->sum);
        abort();
    }
}

static void decodePayload(const uint8_t *p, size_t size, const rdbHandlers *h) {
    static const char key[] = "fuzzkey";
    rdbKeyInfo base = {.db = 3, .key = key, .keylen = sizeof(key) - 1, .expire_ms = -1,
                       .idle = -1, .freq = -1};
    char err[256];
    int version = 0;
    err[0] = 0;
    int rc = rdbDecodePayload(p, size, size % 2 ? &base : NULL, h, &version, NULL, err, sizeof(err));
    if (rc != 0 && (memchr(err, 0, sizeof(err)) == NULL || err[0] == 0)) {
        fprintf(stderr, "fuzz_decode: payload failure without a message\n");
        abort();
    }
    g_observe += strlen(err) + (uint64_t)version;
}

/* A copy of the input whose last 8 bytes are the right CRC-64 of the rest,
 * or NULL when the input is too short to be a payload. */
static uint8_t *fixedPayload(const uint8_t *data, size_t size) {
    if (size < 11) return NULL;
    uint8_t *p = malloc(size);
    if (!p) return NULL;
    memcpy(p, data, size);
    uint64_t crc = crc64(0, p, size - 8);
    for (int i = 0; i < 8; i++) p[size - 8 + i] = (uint8_t)(crc >> (8 * i));
    return p;
}

static void viaDigest(const uint8_t *data, size_t size, const uint8_t *fixed) {
    rdbDigest *dg = rdbDigestNew();
    if (!dg) return;
    rdbHandlers h;
    char hex[2 * RDB_DIGEST_LEN + 1];
    rdbDigestHandlers(dg, &h);
    decodeFile(data, size, &h, 1);
    if (fixed) decodePayload(fixed, size, &h);
    rdbDigestHex(dg, hex);
    g_observe += (uint64_t)hex[0] + rdbDigestKeys(dg);
    rdbDigestFree(dg);
}

/* ---- Framing plus worker threads (parallel.h) against one thread ---- */

/* Functions come on the framing thread: a digest of their own there. */
static void viaParallel(const uint8_t *data, size_t size) {
    rdbDigest *seq = rdbDigestNew(), *w[2] = {rdbDigestNew(), rdbDigestNew()}, *fn = rdbDigestNew();
    rdbHandlers hs, hw[2], hp, hf, hframe;
    rdbParallel *p = NULL;
    rdbTee *tee = NULL;
    if (!seq || !w[0] || !w[1] || !fn) goto out;
    rdbDigestHandlers(fn, &hf);
    hf = (rdbHandlers){.ctx = fn, .function = hf.function, .frame_only = 1};
    rdbDigestHandlers(seq, &hs);
    rdbDigestHandlers(w[0], &hw[0]);
    rdbDigestHandlers(w[1], &hw[1]);
    p = rdbParallelNew(2, hw);
    if (!p) goto out;
    rdbParallelHandlers(p, &hp);
    if (!(tee = rdbTeeNew(&hp, &hf))) goto out;
    rdbTeeHandlers(tee, &hframe);
    Outcome a = decodeFile(data, size, &hs, 1);
    Outcome b = decodeFile(data, size, &hframe, 1);
    int pfail = rdbParallelFinish(p) < 0 || b.rc != 0;
    if ((a.rc != 0) != pfail) {
        fprintf(stderr, "parallel decode %s where the sequential one %s\n", pfail ? "fails" : "succeeds",
                a.rc ? "fails" : "succeeds");
        abort();
    }
    if (a.rc == 0) {
        char ha[2 * RDB_DIGEST_LEN + 1], hb[2 * RDB_DIGEST_LEN + 1];
        rdbDigestMerge(w[0], w[1]);
        rdbDigestMerge(w[0], fn);
        rdbDigestHex(seq, ha);
        rdbDigestHex(w[0], hb);
        if (strcmp(ha, hb) != 0) {
            fprintf(stderr, "parallel digest %s, sequential %s\n", hb, ha);
            abort();
        }
    }
out:
    rdbTeeFree(tee);
    rdbParallelFree(p);
    rdbDigestFree(fn);
    rdbDigestFree(seq);
    rdbDigestFree(w[0]);
    rdbDigestFree(w[1]);
}

/* ---- Round trip through the re-encoder (encode.h) ----
 *
 * Each key is re-encoded for a target chosen from the input; the payload
 * must decode, and when nothing was flagged as lost the dataset digest of
 * the re-encoded payloads must equal the digest of the original. */

typedef struct RoundTrip {
    rdbEncoder *enc;
    rdbDigest *again;   /* digest of the decoded payloads */
    int skip;           /* something legitimately differs: no comparison */
} RoundTrip;

static int rtKeyEnd(void *ctx, const rdbKeyInfo *k) {
    RoundTrip *rt = ctx;
    const unsigned char *p;
    size_t len;
    unsigned flags;
    if (rdbEncoderResult(rt->enc, &p, &len, &flags) < 0) {
        rt->skip = 1; /* an encoder failure stops the decode by itself */
        return 0;
    }
    if (flags & (RDB_ENC_UNREPRESENTABLE | RDB_ENC_LOSSY_STREAM | RDB_ENC_DROPPED_FIELD_TTLS | RDB_ENC_DROPPED_IDMP)) {
        rt->skip = 1;
        if (flags & RDB_ENC_UNREPRESENTABLE) return 0;
    }
    rdbHandlers h;
    char err[256];
    rdbDigestHandlers(rt->again, &h);
    if (rdbDecodePayload(p, len, k, &h, NULL, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz_decode: re-encoded payload (type %d, %zu bytes) does not decode: %s\n",
                rdbEncoderType(rt->enc), len, err);
        abort();
    }
    return 0;
}

static int rtFunction(void *ctx, const rdbFunction *fn) {
    ((RoundTrip *)ctx)->skip = 1; /* payloads carry no functions */
    return 0;
}

static void roundTrip(const uint8_t *data, size_t size, rdbEncodeTarget t) {
    RoundTrip rt = {.enc = rdbEncoderNew(&t), .again = rdbDigestNew()};
    rdbDigest *orig = rdbDigestNew();
    rdbHandlers hd, he, h1, hooks = {.ctx = &rt, .key_end = rtKeyEnd, .function = rtFunction}, h2;
    rdbTee *t1 = NULL, *t2 = NULL;
    if (!rt.enc || !rt.again || !orig) goto out;
    rdbDigestHandlers(orig, &hd);
    rdbEncoderHandlers(rt.enc, &he);
    if (!(t1 = rdbTeeNew(&hd, &he))) goto out;
    rdbTeeHandlers(t1, &h1);
    if (!(t2 = rdbTeeNew(&h1, &hooks))) goto out;
    rdbTeeHandlers(t2, &h2);
    Outcome o = decodeFile(data, size, &h2, 1);
    if (o.rc == 0 && !rt.skip) {
        char a[2 * RDB_DIGEST_LEN + 1], b[2 * RDB_DIGEST_LEN + 1];
        rdbDigestHex(orig, a);
        rdbDigestHex(rt.again, b);
        if (strcmp(a, b) != 0) {
            fprintf(stderr, "fuzz_decode: re-encoding for RDB %d%s changed the data: %s -> %s\n",
                    t.version, t.flavour == RDB_FLAVOUR_VALKEY ? " (Valkey)" : "", a, b);
            abort();
        }
    }
out:
    rdbTeeFree(t2);
    rdbTeeFree(t1);
    rdbDigestFree(orig);
    rdbDigestFree(rt.again);
    rdbEncoderFree(rt.enc);
}

/* ---- Rewrite through the file writer (rdbfile.h) ----
 *
 * A file that decodes is written again from its raw values (the RDB
 * snapshot path); the copy must decode to the same digest. */

typedef struct Rewrite {
    rdbBuf out;
    rdbFileWriter *w;
    int failed;
} Rewrite;

static int bufWrite(void *dst, const void *p, size_t n) {
    return rdbBufAppend(dst, p, n);
}

static int rwHeader(void *ctx, int version, rdbFlavour fl) {
    Rewrite *rw = ctx;
    rw->w = rdbFileWriterNew(bufWrite, &rw->out, version, fl);
    if (!rw->w) rw->failed = 1;
    return 0;
}

static int rwSelect(void *ctx, uint64_t db) {
    Rewrite *rw = ctx;
    if (rw->w && rdbFileSelectDb(rw->w, db) < 0) rw->failed = 1;
    return 0;
}

static int rwFunction(void *ctx, const rdbFunction *fn) {
    Rewrite *rw = ctx;
    if (rw->w && rdbFileFunction(rw->w, fn->code, fn->len) < 0) rw->failed = 1;
    return 0;
}

static int rwRaw(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t n) {
    Rewrite *rw = ctx;
    if (rw->w && rdbFileKey(rw->w, k->type, k->key, k->keylen, k->expire_ms, p, n) < 0)
        rw->failed = 1;
    return 0;
}

static int rwEof(void *ctx, const rdbEofInfo *e) {
    Rewrite *rw = ctx;
    if (rw->w && rdbFileFinish(rw->w) < 0) rw->failed = 1;
    return 0;
}

static void rewrite(const uint8_t *data, size_t size) {
    Rewrite rw = {.out = RDB_BUF_INIT};
    rdbDigest *a = rdbDigestNew(), *b = rdbDigestNew();
    rdbHandlers hd, hw = {.ctx = &rw, .header = rwHeader, .select_db = rwSelect,
                          .function = rwFunction, .raw_value = rwRaw, .eof = rwEof},
                    h;
    rdbTee *t = NULL;
    if (!a || !b) goto out;
    rdbDigestHandlers(a, &hd);
    if (!(t = rdbTeeNew(&hd, &hw))) goto out;
    rdbTeeHandlers(t, &h);
    Outcome o = decodeFile(data, size, &h, 1);
    if (o.rc != 0 || rw.failed || !rw.w) goto out;
    rdbDigestHandlers(b, &hd);
    o = decodeFile(rw.out.p, rw.out.len, &hd, 0);
    char ha[2 * RDB_DIGEST_LEN + 1], hb[2 * RDB_DIGEST_LEN + 1];
    rdbDigestHex(a, ha);
    rdbDigestHex(b, hb);
    if (o.rc != 0 || strcmp(ha, hb) != 0) {
        fprintf(stderr, "fuzz_decode: the rewritten file (%zu bytes) %s\n", rw.out.len,
                o.rc != 0 ? "does not decode" : "has another digest");
        abort();
    }
out:
    rdbTeeFree(t);
    rdbFileWriterFree(rw.w);
    rdbBufFree(&rw.out);
    rdbDigestFree(a);
    rdbDigestFree(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Sink s = {0};
    rdbHandlers h;
    sinkHandlers(&h, &s);

    Outcome whole = decodeFile(data, size, &h, 0);
    Sink whole_sink = s;
    if (whole.rc != -2) decodeChunked(data, size, &whole, &whole_sink);
    if (size > 0 && size % 5 == 0) {
        /* stop from a callback somewhere in the middle */
        Sink stop = {.stop_at = 1 + data[size - 1] % 64};
        rdbHandlers hs;
        sinkHandlers(&hs, &stop);
        decodeFile(data, size, &hs, 0);
        g_observe += stop.sum;
    }

    decodePayload(data, size, &h);
    uint8_t *fixed = fixedPayload(data, size);
    if (fixed) decodePayload(fixed, size, &h);

    viaDigest(data, size, fixed);
    free(fixed);
    /* the newest Redis, Valkey 9, and an older Redis picked by the size */
    int drop = (int)(size / 6 % 2);
    /* (now_ms stays 0: no field is dropped as expired, so digests compare) */
    rdbEncodeTarget t = {.version = 12, .flavour = RDB_FLAVOUR_REDIS, .drop_field_ttls = drop};
    roundTrip(data, size, t);
    t.version = 80;
    t.flavour = RDB_FLAVOUR_VALKEY;
    roundTrip(data, size, t);
    t.version = 6 + (int)(size % 6);
    t.flavour = RDB_FLAVOUR_REDIS;
    roundTrip(data, size, t);
    rewrite(data, size);
    viaParallel(data, size);
    g_observe += s.sum + s.calls;
    return 0;
}

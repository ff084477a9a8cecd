/* decode.c -- the streaming RDB decoder (contract in decode.h).
 *
 * Shape: rdbDecode() reads the header, then loops over records. Opcodes are
 * handled by one function each; a key record reads the key and hands the
 * value to the decoder of its type family (one short function per family).
 * Values never become objects: elements go to the callbacks as they are
 * read, and blob-encoded values are walked by the validated iterators of
 * blob.c. Every length is checked against what the input can still hold
 * (the reader grows big buffers only as bytes arrive), so hostile input
 * fails with a message and an offset rather than a crash or a huge
 * allocation.
 */
#include "decode.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "lzf.h"

/* Reusable string buffers: a value may need a few strings alive at once
 * (field and value, member and score), plus the key. */
enum { S_KEY, S_A, S_B, S_C, S_NSLOTS };
#define SLOT_KEEP (4 * 1024 * 1024) /* larger slot buffers are freed after each key */
/* Largest absolute field TTL Redis accepts (format.md 2.4). */
#define EB_EXPIRE_TIME_MAX ((int64_t)0xFFFFFFFFFFFFLL)

typedef struct strSlot {
    unsigned char *p;
    size_t cap;
} strSlot;

struct rdbDecoder {
    rdbReader *r;
    rdbHandlers h;
    rdbDecodeOptions opt;
    int version;
    rdbFlavour flavour;
    uint64_t db;
    uint64_t keys;
    int in_key;         /* errors name the key */
    rdbKeyInfo key;
    strSlot slot[S_NSLOTS];
    unsigned char *lzf;  /* compressed input scratch */
    size_t lzf_cap;
    rdbElem *fields;     /* stream master fields */
    size_t fields_cap;
    unsigned char *meta; /* the pending KEY_META record (rdbKeyInfo.meta) */
    size_t meta_cap;
    rdbErrCode code;
    char err[700];
};

/* ---- Errors ---- */

static int fail(rdbDecoder *d, rdbErrCode code, const char *fmt, ...) {
    if (d->code != RDB_OK) return -1; /* keep the first reason */
    char where[400], msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int n = snprintf(where, sizeof(where), "offset %llu", (unsigned long long)rdbReaderOffset(d->r));
    if (d->in_key && d->key.key) {
        char kr[280];
        rdbKeyRepr(d->key.key, d->key.keylen, kr, sizeof(kr));
        snprintf(where + n, sizeof(where) - (size_t)n, " (db %llu, key '%s')",
                 (unsigned long long)d->key.db, kr);
    }
    snprintf(d->err, sizeof(d->err), "%s: %s", where, msg);
    d->code = code;
    return -1;
}

/* A failed read: the reader's kind (truncation, I/O, memory) and reason. */
static int readFail(rdbDecoder *d) {
    rdbErrCode code = rdbReaderErrorCode(d->r);
    const char *re = rdbReaderError(d->r);
    return fail(d, code != RDB_OK ? code : RDB_ERR_IO, "%s", re[0] ? re : "read error");
}

static int corrupt(rdbDecoder *d, const char *what, const char *detail) {
    return fail(d, RDB_ERR_CORRUPT, "%s: %s", what, detail);
}

/* A callback said stop: the consumer's reason (rdbHandlers.error) is the
 * message, so a failing consumer never leaves an empty one. */
static int stop(rdbDecoder *d) {
    const char *why = d->h.error ? d->h.error(d->h.ctx) : NULL;
    return fail(d, RDB_ERR_HANDLER, "%s", why && why[0] ? why : "stopped by the consumer");
}

#define EMIT(d, cb, ...) \
    ((d)->h.cb && (d)->h.cb((d)->h.ctx, __VA_ARGS__) != 0 ? stop(d) : 0)

/* ---- Primitives ---- */

/* Inline, so that reads of a constant 1, 4 or 8 bytes become a load, not a
 * call into the reader and libc's memmove: they are most of the calls. */
static inline __attribute__((always_inline)) int rd(rdbDecoder *d, void *p, size_t n) {
    if (__builtin_expect(rdbReadInline(d->r, p, n) == 0, 1)) return 0;
    return readFail(d);
}

static inline __attribute__((always_inline)) int rdByte(rdbDecoder *d, unsigned char *c) {
    return rd(d, c, 1);
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int rdLe64(rdbDecoder *d, int64_t *v) {
    unsigned char b[8];
    if (rd(d, b, 8) < 0) return -1;
    *v = (int64_t)le64(b);
    return 0;
}

/* An RDB length; *special is set (and *len is the encoding id) for the
 * 11xxxxxx string encodings, which only strings accept. */
static int rdLenOrEnc(rdbDecoder *d, uint64_t *len, int *special) {
    unsigned char b[8], c;
    *special = 0;
    if (rdByte(d, &c) < 0) return -1;
    switch (c >> 6) {
    case RDB_6BITLEN: *len = c & 0x3F; return 0;
    case RDB_14BITLEN:
        if (rdByte(d, b) < 0) return -1;
        *len = (uint64_t)(c & 0x3F) << 8 | b[0];
        return 0;
    case RDB_ENCVAL: *special = 1; *len = c & 0x3F; return 0;
    }
    if (c == RDB_32BITLEN) {
        if (rd(d, b, 4) < 0) return -1;
        *len = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
        return 0;
    }
    if (c == RDB_64BITLEN) {
        if (rd(d, b, 8) < 0) return -1;
        *len = 0;
        for (int i = 0; i < 8; i++) *len = *len << 8 | b[i];
        return 0;
    }
    return fail(d, RDB_ERR_CORRUPT, "invalid length encoding byte 0x%02x", c);
}

static int rdLen(rdbDecoder *d, uint64_t *len) {
    int special;
    if (rdLenOrEnc(d, len, &special) < 0) return -1;
    if (special) return fail(d, RDB_ERR_CORRUPT, "string encoding 0x%02x where a length was expected",
                             (unsigned)(0xC0 | *len));
    return 0;
}

/* Make slot s hold at least n+1 bytes. Small sizes are allocated up front;
 * large ones are left to rdbReadAlloc, which grows with the data. */
static int slotReserve(rdbDecoder *d, int s, size_t n) {
    strSlot *sl = &d->slot[s];
    if (n < sl->cap) return 0;
    unsigned char *p = realloc(sl->p, n + 1);
    if (!p) return fail(d, RDB_ERR_NOMEM, "out of memory for %zu bytes", n);
    sl->p = p;
    sl->cap = n + 1;
    return 0;
}

static int slotRead(rdbDecoder *d, int s, size_t n) {
    strSlot *sl = &d->slot[s];
    if (n < sl->cap || n <= SLOT_KEEP) {
        if (slotReserve(d, s, n) < 0 || rd(d, sl->p, n) < 0) return -1;
        sl->p[n] = '\0';
        return 0;
    }
    unsigned char *p;
    if (rdbReadAlloc(d->r, n, &p) < 0) return readFail(d);
    free(sl->p);
    sl->p = p;
    sl->cap = n + 1;
    return 0;
}

static int rdLzf(rdbDecoder *d, int s, size_t *outlen) {
    uint64_t clen, ulen;
    if (rdLen(d, &clen) < 0 || rdLen(d, &ulen) < 0) return -1;
    /* LZF expands at most ~88x (a 3-byte back-reference yields 264 bytes). */
    if (clen > UINT_MAX || ulen > UINT_MAX || ulen > clen * 90 + 64 || (clen == 0) != (ulen == 0))
        return fail(d, RDB_ERR_CORRUPT, "LZF string claims %llu bytes from %llu compressed",
                    (unsigned long long)ulen, (unsigned long long)clen);
    const unsigned char *in = rdbReadInPlace(d->r, (size_t)clen); /* no copy when it can */
    if (!in) {
        if (clen > d->lzf_cap) {
            unsigned char *p;
            if (rdbReadAlloc(d->r, clen, &p) < 0) return readFail(d);
            free(d->lzf);
            d->lzf = p;
            d->lzf_cap = clen;
        } else if (rd(d, d->lzf, clen) < 0) {
            return -1;
        }
        in = d->lzf;
    }
    if (slotReserve(d, s, ulen + RDB_LZF_SLACK) < 0) return -1;
    if (ulen && rdbLzfDecompress(in, (size_t)clen, d->slot[s].p, (size_t)ulen) != ulen)
        return fail(d, RDB_ERR_CORRUPT, "LZF string does not decompress to its stated %llu bytes",
                    (unsigned long long)ulen);
    d->slot[s].p[ulen] = '\0';
    *outlen = ulen;
    return 0;
}

/* Read an RDB string into slot s: plain, integer-encoded (as decimal
 * text) or LZF-compressed. */
static int rdStrAfterLen(rdbDecoder *d, int s, uint64_t n, int special, const char **p, size_t *len) {
    if (!special) {
        if (n >= SIZE_MAX) return corrupt(d, "string", "length too large");
        if (slotRead(d, s, (size_t)n) < 0) return -1;
        *len = (size_t)n;
    } else if (n <= RDB_ENC_INT32) {
        unsigned char b[4] = {0};
        size_t w = (size_t)1 << n;
        if (rd(d, b, w) < 0 || slotReserve(d, s, 24) < 0) return -1;
        long long v = n == RDB_ENC_INT8 ? (int8_t)b[0]
                      : n == RDB_ENC_INT16 ? (int16_t)(b[0] | b[1] << 8)
                                           : (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 |
                                                       (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
        *len = rdbFmtLL((char *)d->slot[s].p, v);
        d->slot[s].p[*len] = '\0';
    } else if (n == RDB_ENC_LZF) {
        if (rdLzf(d, s, len) < 0) return -1;
    } else {
        return fail(d, RDB_ERR_CORRUPT, "unknown string encoding %llu", (unsigned long long)n);
    }
    *p = (const char *)d->slot[s].p;
    return 0;
}

static int rdStr(rdbDecoder *d, int s, const char **p, size_t *len) {
    uint64_t n;
    int special;
    if (rdLenOrEnc(d, &n, &special) < 0) return -1;
    return rdStrAfterLen(d, s, n, special, p, len);
}

/* rdStr for a blob that is walked at once, before the next read: a plain
 * string is then used where the reader holds it (not NUL-terminated). */
static int rdBlob(rdbDecoder *d, const char **p, size_t *len) {
    uint64_t n;
    int special;
    if (rdLenOrEnc(d, &n, &special) < 0) return -1;
    if (!special && n < SIZE_MAX) {
        const unsigned char *in = rdbReadInPlace(d->r, (size_t)n);
        if (in) {
            *p = (const char *)in;
            *len = (size_t)n;
            return 0;
        }
    }
    return rdStrAfterLen(d, S_A, n, special, p, len);
}

/* Skip an RDB string without keeping it (module values, aux). */
static int skipStr(rdbDecoder *d) {
    uint64_t n, clen, ulen;
    int special;
    if (rdLenOrEnc(d, &n, &special) < 0) return -1;
    if (!special && n >= SIZE_MAX) return corrupt(d, "string", "length too large"); /* as rdStr */
    if (!special) return rdbSkip(d->r, n) < 0 ? readFail(d) : 0;
    if (n <= RDB_ENC_INT32) return rdbSkip(d->r, (size_t)1 << n) < 0 ? readFail(d) : 0;
    if (n != RDB_ENC_LZF) return fail(d, RDB_ERR_CORRUPT, "unknown string encoding %llu", (unsigned long long)n);
    if (rdLen(d, &clen) < 0 || rdLen(d, &ulen) < 0) return -1;
    return rdbSkip(d->r, clen) < 0 ? readFail(d) : 0;
}

/* ---- Emitting elements ---- */

static int emitElem(rdbDecoder *d, rdbLType t, const char *p, size_t len) {
    if (t == RDB_LT_LIST) return EMIT(d, list_item, p, len);
    return EMIT(d, set_member, p, len);
}

/* Parse a score stored as text (ziplist/listpack elements, type 3). */
static int parseScore(rdbDecoder *d, const char *p, size_t len, double *out) {
    if (rdbParseScore(p, len, out) < 0) return corrupt(d, "zset", "score is not a number");
    return 0;
}

/* ---- Blob-encoded values ---- */

typedef int (*blobInit)(rdbBlobIter *, const unsigned char *, size_t, char *, size_t);
typedef int (*blobNext)(rdbBlobIter *, rdbElem *, char *, size_t);

/* Walk a blob, handing elements to the logical type in groups: list and
 * set one by one, zset in (member, score), hash in (field, value) or, with
 * field TTLs, (field, value, ttl). */
static int walkBlob(rdbDecoder *d, const unsigned char *b, size_t len, blobInit init, blobNext next,
                    const char *what, rdbLType t, int group) {
    rdbBlobIter it;
    rdbElem e[3];
    char err[160], num[3][24];
    const char *p[3];
    size_t l[3];
    int i = 0, rc;
    if (init(&it, b, len, err, sizeof(err)) < 0) return corrupt(d, what, err);
    while ((rc = next(&it, &e[i], err, sizeof(err))) == 1) {
        l[i] = rdbElemText(&e[i], num[i], &p[i]);
        if (++i < group) continue;
        i = 0;
        if (t == RDB_LT_LIST || t == RDB_LT_SET) {
            if (emitElem(d, t, p[0], l[0]) < 0) return -1;
        } else if (t == RDB_LT_ZSET) {
            double score = e[1].is_int ? (double)e[1].v : 0;
            if (!e[1].is_int && parseScore(d, p[1], l[1], &score) < 0) return -1;
            if (EMIT(d, zset_member, p[0], l[0], score) < 0) return -1;
        } else {
            int64_t ttl = -1;
            if (group == 3) {
                if (!e[2].is_int || e[2].v < 0 || e[2].v > EB_EXPIRE_TIME_MAX)
                    return corrupt(d, what, "field TTL is not a valid time");
                ttl = e[2].v ? e[2].v : -1;
            }
            if (EMIT(d, hash_field, p[0], l[0], p[1], l[1], ttl) < 0) return -1;
        }
    }
    if (rc < 0) return corrupt(d, what, err);
    if (i != 0) return corrupt(d, what, "odd number of elements");
    return 0;
}

static int decodeBlob(rdbDecoder *d, rdbLType t, blobInit init, blobNext next, const char *what,
                      int group) {
    const char *p;
    size_t len;
    if (rdBlob(d, &p, &len) < 0) return -1;
    return walkBlob(d, (const unsigned char *)p, len, init, next, what, t, group);
}

/* ---- Plain (one element per string) values ---- */

/* ---- Strings in pieces (rdbHandlers.string_chunk) ---- */

typedef struct pieceSink {
    rdbDecoder *d;
    uint64_t off, total;
} pieceSink;

static int emitPiece(void *ctx, const unsigned char *p, size_t len) {
    pieceSink *ps = ctx;
    int rc = EMIT(ps->d, string_chunk, (const char *)p, len, ps->off, ps->total);
    ps->off += len;
    return rc;
}

/* An LZF string inflated a window at a time; the compressed input is read
 * whole (it is what the raw capture holds anyway). */
static int lzfPieces(rdbDecoder *d) {
    uint64_t clen, ulen;
    if (rdLen(d, &clen) < 0 || rdLen(d, &ulen) < 0) return -1;
    if (clen > UINT_MAX || ulen > UINT_MAX || ulen > clen * 90 + 64 || (clen == 0) != (ulen == 0))
        return fail(d, RDB_ERR_CORRUPT, "LZF string claims %llu bytes from %llu compressed",
                    (unsigned long long)ulen, (unsigned long long)clen);
    const unsigned char *in = rdbReadInPlace(d->r, (size_t)clen);
    if (!in) {
        unsigned char *p;
        if (rdbReadAlloc(d->r, clen, &p) < 0) return readFail(d);
        free(d->lzf);
        d->lzf = p;
        d->lzf_cap = clen;
        in = p;
    }
    pieceSink ps = {d, 0, ulen};
    if (ulen == 0) return emitPiece(&ps, (const unsigned char *)"", 0);
    if (slotReserve(d, S_A, RDB_LZF_WINDOW(RDB_STRING_CHUNK)) < 0) return -1;
    int rc = rdbLzfDecompressChunks(in, (size_t)clen, (size_t)ulen, d->slot[S_A].p, RDB_STRING_CHUNK, emitPiece, &ps);
    if (rc == -1)
        return fail(d, RDB_ERR_CORRUPT, "LZF string does not decompress to its stated %llu bytes",
                    (unsigned long long)ulen);
    return rc < 0 ? -1 : 0; /* -2: emitPiece stopped the decoder */
}

static int decodeStringPieces(rdbDecoder *d) {
    uint64_t n;
    int special;
    if (rdLenOrEnc(d, &n, &special) < 0) return -1;
    if (special && n == RDB_ENC_LZF) return lzfPieces(d);
    pieceSink ps = {d, 0, n};
    if (special || n <= RDB_STRING_CHUNK) {
        const char *p;
        size_t len;
        if (rdStrAfterLen(d, S_A, n, special, &p, &len) < 0) return -1;
        ps.total = len;
        return emitPiece(&ps, (const unsigned char *)p, len);
    }
    while (ps.off < n) {
        size_t take = n - ps.off < RDB_STRING_CHUNK ? (size_t)(n - ps.off) : RDB_STRING_CHUNK;
        const unsigned char *p = rdbReadInPlace(d->r, take); /* a memory reader: no copy */
        if (!p) {
            if (slotReserve(d, S_A, take) < 0 || rd(d, d->slot[S_A].p, take) < 0) return -1;
            p = d->slot[S_A].p;
        }
        if (emitPiece(&ps, p, take) < 0) return -1;
    }
    return 0;
}

/* A string or an element handed on before the next read: where the reader
 * holds it (rdBlob), not copied into a slot (workers read from memory). */
static int decodeString(rdbDecoder *d) {
    const char *p;
    size_t len;
    if (d->h.string_chunk) return decodeStringPieces(d);
    if (rdBlob(d, &p, &len) < 0) return -1;
    return EMIT(d, string, p, len);
}

static int decodeListOrSet(rdbDecoder *d, rdbLType t) {
    uint64_t n;
    const char *p;
    size_t len;
    if (rdLen(d, &n) < 0) return -1;
    for (uint64_t i = 0; i < n; i++)
        if (rdBlob(d, &p, &len) < 0 || emitElem(d, t, p, len) < 0) return -1;
    return 0;
}

static int rdStrScore(rdbDecoder *d, double *score) {
    unsigned char n;
    char buf[256];
    if (rdByte(d, &n) < 0) return -1;
    if (n == 253) return corrupt(d, "zset", "score is NaN");
    if (n == 254 || n == 255) {
        *score = n == 254 ? INFINITY : -INFINITY;
        return 0;
    }
    if (rd(d, buf, n) < 0) return -1;
    return parseScore(d, buf, n, score);
}

static int decodeZset(rdbDecoder *d, int binary) {
    uint64_t n;
    const char *p;
    size_t len;
    double score;
    if (rdLen(d, &n) < 0) return -1;
    for (uint64_t i = 0; i < n; i++) {
        if (rdStr(d, S_A, &p, &len) < 0) return -1;
        if (binary) {
            int64_t bits;
            if (rdLe64(d, &bits) < 0) return -1;
            memcpy(&score, &bits, sizeof(score));
            if (isnan(score)) return corrupt(d, "zset", "score is NaN");
        } else if (rdStrScore(d, &score) < 0) {
            return -1;
        }
        if (EMIT(d, zset_member, p, len, score) < 0) return -1;
    }
    return 0;
}

static int decodeHash(rdbDecoder *d) {
    uint64_t n;
    const char *f, *v;
    size_t fl, vl;
    if (rdLen(d, &n) < 0) return -1;
    for (uint64_t i = 0; i < n; i++) {
        if (rdStr(d, S_A, &f, &fl) < 0 || rdStr(d, S_B, &v, &vl) < 0) return -1;
        if (EMIT(d, hash_field, f, fl, v, vl, (int64_t)-1) < 0) return -1;
    }
    return 0;
}

/* ---- Hashes with field TTLs (format.md 2.4) ---- */


/* Redis 24 (min-expire prefix, relative ttl+min-1) and 7.4-RC 22
 * (absolute): len n, then (len ttl, str field, str value). */
static int decodeHashMetadata(rdbDecoder *d, int prefixed) {
    int64_t min = 0;
    uint64_t n, ttl;
    const char *f, *v;
    size_t fl, vl;
    if (prefixed && rdLe64(d, &min) < 0) return -1;
    if (rdLen(d, &n) < 0) return -1;
    for (uint64_t i = 0; i < n; i++) {
        if (rdLen(d, &ttl) < 0 || rdStr(d, S_A, &f, &fl) < 0 || rdStr(d, S_B, &v, &vl) < 0) return -1;
        int64_t abs = -1;
        if (ttl) {
            abs = prefixed ? (int64_t)(ttl + (uint64_t)min - 1) : (int64_t)ttl;
            if (abs < 0 || abs > EB_EXPIRE_TIME_MAX) return corrupt(d, "hash", "field TTL out of range");
        }
        if (EMIT(d, hash_field, f, fl, v, vl, abs) < 0) return -1;
    }
    return 0;
}

static int decodeHashListpackEx(rdbDecoder *d, int prefixed) {
    int64_t min;
    if (prefixed && rdLe64(d, &min) < 0) return -1;
    return decodeBlob(d, RDB_LT_HASH, rdbListpackInit, rdbListpackNext, "hash listpack", 3);
}

/* Valkey 9 HASH_2: len n, then (str field, str value, i64 LE expiry, -1
 * for none). */
static int decodeValkeyHash2(rdbDecoder *d) {
    uint64_t n;
    const char *f, *v;
    size_t fl, vl;
    int64_t exp;
    if (rdLen(d, &n) < 0) return -1;
    for (uint64_t i = 0; i < n; i++) {
        if (rdStr(d, S_A, &f, &fl) < 0 || rdStr(d, S_B, &v, &vl) < 0 || rdLe64(d, &exp) < 0) return -1;
        if (exp < -1) return corrupt(d, "hash", "field expiry out of range");
        if (EMIT(d, hash_field, f, fl, v, vl, exp) < 0) return -1;
    }
    return 0;
}

/* ---- Lists ---- */

static int decodeQuicklist(rdbDecoder *d, int v2) {
    uint64_t nodes, container = RDB_QUICKLIST_NODE_PACKED;
    const char *p;
    size_t len;
    if (rdLen(d, &nodes) < 0) return -1;
    for (uint64_t i = 0; i < nodes; i++) {
        if (v2 && rdLen(d, &container) < 0) return -1;
        if (container != RDB_QUICKLIST_NODE_PLAIN && container != RDB_QUICKLIST_NODE_PACKED)
            return fail(d, RDB_ERR_CORRUPT, "quicklist node container %llu is invalid",
                        (unsigned long long)container);
        if (rdBlob(d, &p, &len) < 0) return -1;
        int rc = container == RDB_QUICKLIST_NODE_PLAIN
                     ? EMIT(d, list_item, p, len)
                 : v2 ? walkBlob(d, (const unsigned char *)p, len, rdbListpackInit, rdbListpackNext,
                                 "quicklist listpack node", RDB_LT_LIST, 1)
                      : walkBlob(d, (const unsigned char *)p, len, rdbZiplistInit, rdbZiplistNext,
                                 "quicklist ziplist node", RDB_LT_LIST, 1);
        if (rc < 0) return -1;
    }
    return 0;
}

/* ---- Streams (format.md 2.6) ---- */

static uint64_t be64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static int rdRawId(rdbDecoder *d, rdbStreamId *id) {
    unsigned char b[16];
    if (rd(d, b, 16) < 0) return -1;
    id->ms = be64(b);
    id->seq = be64(b + 8);
    return 0;
}

static int rdLenId(rdbDecoder *d, rdbStreamId *id) {
    return rdLen(d, &id->ms) < 0 || rdLen(d, &id->seq) < 0 ? -1 : 0;
}

/* One stream node: a listpack whose master entry names the fields shared
 * by SAMEFIELDS entries, followed by the entries. */
typedef struct streamNode {
    rdbStreamId base;
    rdbBlobIter it;
    size_t nmaster;
    uint64_t live;          /* live entries seen in the whole stream */
    rdbStreamId first;
    int have_first;
} streamNode;

static int lpInt(rdbDecoder *d, streamNode *sn, long long *v) {
    rdbElem e;
    char err[160];
    int rc = rdbListpackNext(&sn->it, &e, err, sizeof(err));
    if (rc < 0) return corrupt(d, "stream listpack", err);
    if (rc == 0 || !e.is_int) return corrupt(d, "stream listpack", "missing integer field");
    *v = e.v;
    return 0;
}

static int lpElem(rdbDecoder *d, streamNode *sn, rdbElem *e) {
    char err[160];
    int rc = rdbListpackNext(&sn->it, e, err, sizeof(err));
    if (rc < 0) return corrupt(d, "stream listpack", err);
    if (rc == 0) return corrupt(d, "stream listpack", "entry is cut short");
    return 0;
}

static int streamMaster(rdbDecoder *d, streamNode *sn) {
    long long count, deleted, nf, zero;
    if (lpInt(d, sn, &count) < 0 || lpInt(d, sn, &deleted) < 0 || lpInt(d, sn, &nf) < 0) return -1;
    if (nf < 0 || count < 0 || deleted < 0 || (size_t)nf > sn->it.len)
        return corrupt(d, "stream listpack", "invalid master entry");
    if ((size_t)nf > d->fields_cap) {
        rdbElem *f = realloc(d->fields, (size_t)nf * sizeof(*f));
        if (!f) return fail(d, RDB_ERR_NOMEM, "out of memory");
        d->fields = f;
        d->fields_cap = (size_t)nf;
    }
    for (long long i = 0; i < nf; i++)
        if (lpElem(d, sn, &d->fields[i]) < 0) return -1;
    if (lpInt(d, sn, &zero) < 0) return -1;
    if (zero != 0) return corrupt(d, "stream listpack", "master entry is not terminated");
    sn->nmaster = (size_t)nf;
    return 0;
}

static int emitField(rdbDecoder *d, const rdbElem *f, const rdbElem *v) {
    char nf[24], nv[24];
    const char *pf, *pv;
    size_t lf = rdbElemText(f, nf, &pf), lv = rdbElemText(v, nv, &pv);
    return EMIT(d, stream_field, pf, lf, pv, lv);
}

/* One entry: flags, ms-diff, seq-diff, fields, lp-count. */
static int streamEntry(rdbDecoder *d, streamNode *sn) {
    long long flags, msd, seqd, nf, lpcount;
    rdbElem f, v;
    if (lpInt(d, sn, &flags) < 0 || lpInt(d, sn, &msd) < 0 || lpInt(d, sn, &seqd) < 0) return -1;
    int same = (flags & 2) != 0, live = (flags & 1) == 0;
    nf = (long long)sn->nmaster;
    if (!same && lpInt(d, sn, &nf) < 0) return -1;
    if (nf < 0 || (size_t)nf > sn->it.len) return corrupt(d, "stream listpack", "invalid field count");
    rdbStreamId id = {sn->base.ms + (uint64_t)msd, sn->base.seq + (uint64_t)seqd};
    if (live) {
        if (!sn->have_first) sn->first = id, sn->have_first = 1;
        sn->live++;
        if (EMIT(d, stream_entry, id, (uint64_t)nf) < 0) return -1;
    }
    for (long long i = 0; i < nf; i++) {
        if (!same && lpElem(d, sn, &f) < 0) return -1;
        if (lpElem(d, sn, &v) < 0) return -1;
        if (live && emitField(d, same ? &d->fields[i] : &f, &v) < 0) return -1;
    }
    if (lpInt(d, sn, &lpcount) < 0) return -1;
    if (lpcount != (same ? nf + 3 : 2 * nf + 4)) return corrupt(d, "stream listpack", "entry count mismatch");
    return 0;
}

static int streamNodeWalk(rdbDecoder *d, streamNode *sn) {
    const char *key, *lp;
    size_t klen, lplen;
    char err[160];
    if (rdStr(d, S_B, &key, &klen) < 0) return -1;
    if (klen != 16) return corrupt(d, "stream", "node key is not 16 bytes");
    sn->base.ms = be64((const unsigned char *)key);
    sn->base.seq = be64((const unsigned char *)key + 8);
    if (rdStr(d, S_A, &lp, &lplen) < 0) return -1;
    if (rdbListpackInit(&sn->it, (const unsigned char *)lp, lplen, err, sizeof(err)) < 0)
        return corrupt(d, "stream listpack", err);
    if (sn->it.declared == 0) return corrupt(d, "stream", "empty listpack node");
    if (EMIT(d, stream_node, (const unsigned char *)key, (const unsigned char *)lp, lplen) < 0) return -1;
    if (streamMaster(d, sn) < 0) return -1;
    while (sn->it.pos != sn->it.len - 1)
        if (streamEntry(d, sn) < 0) return -1;
    return 0;
}

static int streamConsumers(rdbDecoder *d, int type, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        rdbStreamConsumer c = {0};
        if (rdStr(d, S_A, &c.name, &c.namelen) < 0 || rdLe64(d, &c.seen_time) < 0) return -1;
        c.active_time = c.seen_time;
        if (type >= RDB_TYPE_STREAM_LISTPACKS_3 && rdLe64(d, &c.active_time) < 0) return -1;
        if (rdLen(d, &c.pel_count) < 0 || EMIT(d, stream_consumer, &c) < 0) return -1;
        for (uint64_t j = 0; j < c.pel_count; j++) {
            rdbStreamId id;
            if (rdRawId(d, &id) < 0 || EMIT(d, stream_consumer_pel, id) < 0) return -1;
        }
    }
    return 0;
}

static int streamGroups(rdbDecoder *d, int type, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        rdbStreamGroup g = {0};
        uint64_t er;
        g.entries_read = -1;
        if (rdStr(d, S_C, &g.name, &g.namelen) < 0 || rdLenId(d, &g.last_id) < 0) return -1;
        if (type >= RDB_TYPE_STREAM_LISTPACKS_2) {
            if (rdLen(d, &er) < 0) return -1;
            g.entries_read = (int64_t)er;
        }
        if (rdLen(d, &g.pel_count) < 0) return -1;
        /* The consumer count follows the PEL; report the group first with
         * its PEL size, then the count in stream_consumer calls. */
        if (EMIT(d, stream_group, &g) < 0) return -1;
        for (uint64_t j = 0; j < g.pel_count; j++) {
            rdbStreamId id;
            int64_t t;
            uint64_t cnt;
            if (rdRawId(d, &id) < 0 || rdLe64(d, &t) < 0 || rdLen(d, &cnt) < 0) return -1;
            if (EMIT(d, stream_pel, id, t, cnt) < 0) return -1;
        }
        uint64_t nc;
        if (rdLen(d, &nc) < 0 || streamConsumers(d, type, nc) < 0) return -1;
    }
    return 0;
}

/* Stream v4's IDMP block (Redis 8.6): len duration, len max entries, len
 * producers, per producer (str pid, len n, n x (str iid, len ms, len seq)),
 * len iids_added, len iids_duplicates. */
static int streamIdmp(rdbDecoder *d) {
    rdbStreamIdmp m = {0};
    if (rdLen(d, &m.duration) < 0 || rdLen(d, &m.max_entries) < 0 || rdLen(d, &m.producers) < 0) return -1;
    for (uint64_t i = 0; i < m.producers; i++) {
        const char *pid, *iid;
        size_t pl, il;
        uint64_t n;
        if (rdStr(d, S_B, &pid, &pl) < 0 || rdLen(d, &n) < 0) return -1;
        if (pl == 0) return corrupt(d, "stream IDMP", "empty producer id");
        for (uint64_t j = 0; j < n; j++) {
            rdbStreamId id;
            if (rdStr(d, S_C, &iid, &il) < 0 || rdLenId(d, &id) < 0) return -1;
            if (il == 0) return corrupt(d, "stream IDMP", "empty idempotency id");
            if (EMIT(d, stream_idmp_entry, pid, pl, iid, il, id) < 0) return -1;
            m.entries++;
        }
    }
    if (rdLen(d, &m.iids_added) < 0 || rdLen(d, &m.iids_duplicates) < 0) return -1;
    return EMIT(d, stream_idmp, &m);
}

static int decodeStream(rdbDecoder *d, int type) {
    uint64_t nodes;
    streamNode sn = {0};
    rdbStreamMeta m = {0};
    if (rdLen(d, &nodes) < 0) return -1;
    for (uint64_t i = 0; i < nodes; i++)
        if (streamNodeWalk(d, &sn) < 0) return -1;
    if (rdLen(d, &m.length) < 0 || rdLenId(d, &m.last_id) < 0) return -1;
    /* No check of length against the live entries: Redis 5 wrote streams
     * where they differ (XDEL then XTRIM), and loaders trust the length. */
    if (type >= RDB_TYPE_STREAM_LISTPACKS_2) {
        if (rdLenId(d, &m.first_id) < 0 || rdLenId(d, &m.max_deleted) < 0 ||
            rdLen(d, &m.entries_added) < 0)
            return -1;
    } else {
        m.first_id = sn.first;
        m.entries_added = m.length;
    }
    if (rdLen(d, &m.groups) < 0 || EMIT(d, stream_meta, &m) < 0) return -1;
    if (streamGroups(d, type, m.groups) < 0) return -1;
    return type >= RDB_TYPE_STREAM_LISTPACKS_4 ? streamIdmp(d) : 0;
}

/* ---- Modules (format.md 2.7) ---- */

static void moduleName(uint64_t id, char name[10]) {
    static const char cs[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 9; i++) name[i] = cs[(id >> (58 - 6 * i)) & 63];
    name[9] = '\0';
}

/* Walk a module's self-describing opcode stream up to its EOF opcode. */
static int moduleWalk(rdbDecoder *d) {
    for (;;) {
        uint64_t op, v;
        if (rdLen(d, &op) < 0) return -1;
        switch (op) {
        case RDB_MODULE_OPCODE_EOF: return 0;
        case RDB_MODULE_OPCODE_SINT:
        case RDB_MODULE_OPCODE_UINT:
            if (rdLen(d, &v) < 0) return -1;
            break;
        case RDB_MODULE_OPCODE_FLOAT:
            if (rdbSkip(d->r, 4) < 0) return readFail(d);
            break;
        case RDB_MODULE_OPCODE_DOUBLE:
            if (rdbSkip(d->r, 8) < 0) return readFail(d);
            break;
        case RDB_MODULE_OPCODE_STRING:
            if (skipStr(d) < 0) return -1;
            break;
        default:
            return fail(d, RDB_ERR_CORRUPT, "unknown module opcode %llu", (unsigned long long)op);
        }
    }
}

static int decodeModule(rdbDecoder *d) {
    uint64_t id;
    char name[10];
    if (rdLen(d, &id) < 0) return -1;
    moduleName(id, name);
    if (EMIT(d, module_value, name, (int)(id & 1023)) < 0) return -1;
    return moduleWalk(d);
}

/* ---- Values ---- */

static int decodeValueBody(rdbDecoder *d, int type) {
    int valkey = d->flavour == RDB_FLAVOUR_VALKEY;
    switch (type) {
    case RDB_TYPE_STRING: return decodeString(d);
    case RDB_TYPE_LIST: return decodeListOrSet(d, RDB_LT_LIST);
    case RDB_TYPE_SET: return decodeListOrSet(d, RDB_LT_SET);
    case RDB_TYPE_ZSET: return decodeZset(d, 0);
    case RDB_TYPE_ZSET_2: return decodeZset(d, 1);
    case RDB_TYPE_HASH: return decodeHash(d);
    case RDB_TYPE_MODULE_2: return decodeModule(d);
    case RDB_TYPE_HASH_ZIPMAP: return decodeBlob(d, RDB_LT_HASH, rdbZipmapInit, rdbZipmapNext, "zipmap", 2);
    case RDB_TYPE_LIST_ZIPLIST: return decodeBlob(d, RDB_LT_LIST, rdbZiplistInit, rdbZiplistNext, "ziplist", 1);
    case RDB_TYPE_SET_INTSET: return decodeBlob(d, RDB_LT_SET, rdbIntsetInit, rdbIntsetNext, "intset", 1);
    case RDB_TYPE_ZSET_ZIPLIST: return decodeBlob(d, RDB_LT_ZSET, rdbZiplistInit, rdbZiplistNext, "ziplist", 2);
    case RDB_TYPE_HASH_ZIPLIST: return decodeBlob(d, RDB_LT_HASH, rdbZiplistInit, rdbZiplistNext, "ziplist", 2);
    case RDB_TYPE_LIST_QUICKLIST: return decodeQuicklist(d, 0);
    case RDB_TYPE_LIST_QUICKLIST_2: return decodeQuicklist(d, 1);
    case RDB_TYPE_HASH_LISTPACK: return decodeBlob(d, RDB_LT_HASH, rdbListpackInit, rdbListpackNext, "listpack", 2);
    case RDB_TYPE_ZSET_LISTPACK: return decodeBlob(d, RDB_LT_ZSET, rdbListpackInit, rdbListpackNext, "listpack", 2);
    case RDB_TYPE_SET_LISTPACK: return decodeBlob(d, RDB_LT_SET, rdbListpackInit, rdbListpackNext, "listpack", 1);
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
    case RDB_TYPE_STREAM_LISTPACKS_3:
    case RDB_TYPE_STREAM_LISTPACKS_4: return decodeStream(d, type);
    case 22: return valkey ? decodeValkeyHash2(d) : decodeHashMetadata(d, 0);
    case RDB_TYPE_HASH_LISTPACK_EX_PRE_GA: return decodeHashListpackEx(d, 0);
    case RDB_TYPE_HASH_METADATA: return decodeHashMetadata(d, 1);
    case RDB_TYPE_HASH_LISTPACK_EX: return decodeHashListpackEx(d, 1);
    }
    if (type == RDB_TYPE_MODULE_PRE_GA)
        return fail(d, RDB_ERR_TYPE, "module value of type 6 (4.0 release-candidate format) cannot be decoded");
    return fail(d, RDB_ERR_TYPE, "unknown value type %d", type);
}

/* ---- Framing only (rdbHandlers.frame_only) ---- */

/* A zset score of type 3: one length byte, then that many bytes of text;
 * 253..255 stand for nan, +inf and -inf with no bytes. */
static int skipScore(rdbDecoder *d) {
    unsigned char n;
    if (rdByte(d, &n) < 0) return -1;
    if (n >= 253) return 0;
    return rdbSkip(d->r, n) < 0 ? readFail(d) : 0;
}

/* Skip 'n' items of 'per' strings each, plus 'extra' raw bytes or a text
 * score after each item. A lying count runs into the end of the input. */
static int skipItems(rdbDecoder *d, int per, int extra) {
    uint64_t n;
    if (rdLen(d, &n) < 0) return -1;
    for (uint64_t i = 0; i < n; i++) {
        for (int j = 0; j < per; j++)
            if (skipStr(d) < 0) return -1;
        if (extra < 0 && skipScore(d) < 0) return -1;
        if (extra > 0 && rdbSkip(d->r, (size_t)extra) < 0) return readFail(d);
    }
    return 0;
}

static int skipQuicklist2(rdbDecoder *d) {
    uint64_t n, container;
    if (rdLen(d, &n) < 0) return -1;
    for (uint64_t i = 0; i < n; i++)
        if (rdLen(d, &container) < 0 || skipStr(d) < 0) return -1;
    return 0;
}

/* Delimit a value without decoding it: the types that make up nearly all
 * of a dataset are walked by their lengths; the rest (streams, hashes with
 * field TTLs, modules) are decoded as usual, their content callbacks unset. */
static int skipValueBody(rdbDecoder *d, int type) {
    switch (type) {
    case RDB_TYPE_STRING:
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET_LISTPACK:
    case RDB_TYPE_SET_LISTPACK: return skipStr(d);
    case RDB_TYPE_LIST:
    case RDB_TYPE_SET:
    case RDB_TYPE_LIST_QUICKLIST: return skipItems(d, 1, 0);
    case RDB_TYPE_HASH: return skipItems(d, 2, 0);
    case RDB_TYPE_ZSET: return skipItems(d, 1, -1);
    case RDB_TYPE_ZSET_2: return skipItems(d, 1, 8);
    case RDB_TYPE_LIST_QUICKLIST_2: return skipQuicklist2(d);
    }
    return decodeValueBody(d, type);
}

/* Release big slot buffers so memory follows the largest *current* value. */
static void slotsTrim(rdbDecoder *d) {
    for (int i = 0; i < S_NSLOTS; i++) {
        if (d->slot[i].cap > SLOT_KEEP) {
            free(d->slot[i].p);
            d->slot[i].p = NULL;
            d->slot[i].cap = 0;
        }
    }
    if (d->lzf_cap > SLOT_KEEP) {
        free(d->lzf);
        d->lzf = NULL;
        d->lzf_cap = 0;
    }
}

/* key_begin, the value (captured when asked), raw_value, key_end. */
static int decodeKeyValue(rdbDecoder *d, int type) {
    const rdbTypeInfo *ti = rdbTypeLookup(type, d->flavour);
    d->key.type = type;
    d->key.info = ti;
    d->key.ltype = ti ? ti->ltype : RDB_LT_UNKNOWN;
    d->key.value_offset = rdbReaderOffset(d->r);
    d->in_key = 1;
    if (EMIT(d, key_begin, &d->key) < 0) return -1;
    int raw = d->h.raw_value && (!d->h.want_raw || d->h.want_raw(d->h.ctx, &d->key));
    if (raw) rdbReaderCaptureStart(d->r);
    int rc = d->h.frame_only ? skipValueBody(d, type) : decodeValueBody(d, type);
    if (raw) {
        size_t len;
        const unsigned char *p = rdbReaderCaptureGet(d->r, &len);
        rdbReaderCaptureStop(d->r);
        if (rc == 0 && !p) rc = fail(d, RDB_ERR_NOMEM, "out of memory capturing the value");
        if (rc == 0) rc = EMIT(d, raw_value, &d->key, p, len);
    }
    if (rc == 0) rc = EMIT(d, key_end, &d->key);
    d->keys++;
    d->in_key = 0;
    slotsTrim(d);
    return rc;
}

/* ---- Records ---- */

static int recordKey(rdbDecoder *d, int type) {
    const char *k;
    size_t kl;
    d->key.offset = rdbReaderOffset(d->r) - 1; /* the type byte, just read */
    if (!rdbTypeLookup(type, d->flavour) && type != RDB_TYPE_MODULE_PRE_GA)
        return fail(d, RDB_ERR_TYPE, "unknown type or opcode %d in RDB version %d", type, d->version);
    if (rdStr(d, S_KEY, &k, &kl) < 0) return -1;
    d->key.db = d->db;
    d->key.key = k;
    d->key.keylen = kl;
    int rc = decodeKeyValue(d, type);
    d->key.expire_ms = -1;
    d->key.idle = -1;
    d->key.freq = -1;
    d->key.meta = NULL;
    d->key.metalen = 0;
    d->key.meta_classes = 0;
    return rc;
}

/* Redis 8.6's KEY_META (RDB 13, opcode 243), the prefix of one key record:
 * len n (at most 7 module classes), then per class a 4-byte class spec
 * (name, version, flags) and the class's value in module opcodes up to
 * their EOF. Walked, kept as read (for a payload that carries it on) and
 * reported on the key it precedes. */
static int recordKeyMeta(rdbDecoder *d) {
    uint64_t n;
    if (d->key.meta) return corrupt(d, "key metadata", "two KEY_META records before one key");
    rdbReaderCaptureStart(d->r);
    int rc = rdLen(d, &n);
    if (rc == 0 && (n == 0 || n > 7)) rc = fail(d, RDB_ERR_CORRUPT, "key metadata: %llu classes (1 to 7 exist)",
                                                 (unsigned long long)n);
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        unsigned char spec[4];
        rc = rd(d, spec, 4) < 0 || moduleWalk(d) < 0 ? -1 : 0;
    }
    size_t len = 0;
    const unsigned char *p = rc == 0 ? rdbReaderCaptureGet(d->r, &len) : NULL;
    if (rc == 0 && !p) rc = fail(d, RDB_ERR_NOMEM, "out of memory capturing key metadata");
    if (rc == 0 && len + 1 > d->meta_cap) {
        unsigned char *m = realloc(d->meta, len + 1);
        if (!m) rc = fail(d, RDB_ERR_NOMEM, "out of memory capturing key metadata");
        else d->meta = m, d->meta_cap = len + 1;
    }
    if (rc == 0) {
        d->meta[0] = RDB_OPCODE_KEY_META;
        memcpy(d->meta + 1, p, len);
        d->key.meta = d->meta;
        d->key.metalen = len + 1;
        d->key.meta_classes = (int)n;
    }
    rdbReaderCaptureStop(d->r);
    return rc;
}

static int recordAux(rdbDecoder *d) {
    const char *k, *v;
    size_t kl, vl;
    if (rdStr(d, S_A, &k, &kl) < 0 || rdStr(d, S_B, &v, &vl) < 0) return -1;
    return EMIT(d, aux, k, kl, v, vl);
}

static int recordFunction(rdbDecoder *d, int pre_ga) {
    rdbFunction fn = {0};
    if (pre_ga) {
        uint64_t has_desc;
        fn.pre_ga = 1;
        if (rdStr(d, S_B, &fn.name, &fn.namelen) < 0 || rdStr(d, S_C, &fn.engine, &fn.enginelen) < 0 ||
            rdLen(d, &has_desc) < 0)
            return -1;
        if (has_desc && skipStr(d) < 0) return -1;
    }
    if (rdStr(d, S_A, &fn.code, &fn.len) < 0) return -1;
    return EMIT(d, function, &fn);
}

static int recordModuleAux(rdbDecoder *d) {
    uint64_t id, op, when;
    char name[10];
    if (rdLen(d, &id) < 0 || rdLen(d, &op) < 0) return -1;
    if (op != RDB_MODULE_OPCODE_UINT) return corrupt(d, "module aux", "missing 'when' field");
    if (rdLen(d, &when) < 0) return -1;
    moduleName(id, name);
    if (EMIT(d, module_aux, name, (int)(id & 1023), (int)when) < 0) return -1;
    return moduleWalk(d);
}

static int recordSlotImport(rdbDecoder *d) {
    uint64_t n, a, b;
    if (skipStr(d) < 0 || rdLen(d, &n) < 0) return -1;
    for (uint64_t i = 0; i < n; i++)
        if (rdLen(d, &a) < 0 || rdLen(d, &b) < 0) return -1;
    return 0;
}

static int recordEof(rdbDecoder *d) {
    rdbEofInfo e = {RDB_CRC_ABSENT, 0, rdbReaderCrc(d->r)};
    if (d->version >= 5) {
        int64_t stored;
        if (rdLe64(d, &stored) < 0) return -1;
        e.stored = (uint64_t)stored;
        if (e.stored != 0) e.crc = e.stored == e.computed ? RDB_CRC_OK : RDB_CRC_MISMATCH;
    }
    if (EMIT(d, eof, &e) < 0) return -1;
    if (e.crc == RDB_CRC_MISMATCH && !d->opt.ignore_crc)
        return fail(d, RDB_ERR_CHECKSUM, "checksum mismatch: file says %016llx, content is %016llx",
                    (unsigned long long)e.stored, (unsigned long long)e.computed);
    return 0;
}

/* One record; returns 1 after EOF, 0 to go on, -1 on error. */
static int record(rdbDecoder *d) {
    unsigned char op, b[8];
    uint64_t a, c;
    if (rdByte(d, &op) < 0) return -1;
    /* KEY_META and its key are one unit: only a type byte may follow. */
    if (d->key.meta && op >= RDB_OPCODE_KEY_META)
        return fail(d, RDB_ERR_CORRUPT, "key metadata is followed by opcode %d, not by a key", op);
    switch (op) {
    case RDB_OPCODE_EOF: return recordEof(d) < 0 ? -1 : 1;
    case RDB_OPCODE_SELECTDB:
        if (rdLen(d, &a) < 0) return -1;
        if (a > INT_MAX) return fail(d, RDB_ERR_CORRUPT, "database index %llu is out of range", (unsigned long long)a);
        d->db = a;
        return EMIT(d, select_db, a);
    case RDB_OPCODE_RESIZEDB:
        if (rdLen(d, &a) < 0 || rdLen(d, &c) < 0) return -1;
        return EMIT(d, resize_db, a, c);
    case RDB_OPCODE_AUX: return recordAux(d);
    case RDB_OPCODE_EXPIRETIME:
        if (rd(d, b, 4) < 0) return -1;
        d->key.expire_ms = (int64_t)(int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                                              (uint32_t)b[3] << 24) * 1000;
        return 0;
    case RDB_OPCODE_EXPIRETIME_MS: return rdLe64(d, &d->key.expire_ms);
    case RDB_OPCODE_IDLE:
        if (rdLen(d, &a) < 0) return -1;
        d->key.idle = (int64_t)(a > INT64_MAX ? INT64_MAX : a);
        return 0;
    case RDB_OPCODE_FREQ:
        if (rdByte(d, b) < 0) return -1;
        d->key.freq = b[0];
        return 0;
    case RDB_OPCODE_FUNCTION2: return recordFunction(d, 0);
    case RDB_OPCODE_FUNCTION_PRE_GA: return recordFunction(d, 1);
    case RDB_OPCODE_MODULE_AUX: return recordModuleAux(d);
    case RDB_OPCODE_SLOT_INFO: {
        uint64_t e;
        if (rdLen(d, &a) < 0 || rdLen(d, &c) < 0 || rdLen(d, &e) < 0) return -1;
        return EMIT(d, slot_info, a, c, e);
    }
    case RDB_OPCODE_SLOT_IMPORT: /* == RDB_OPCODE_KEY_META */
        if (d->flavour == RDB_FLAVOUR_VALKEY) return recordSlotImport(d);
        if (d->version >= 13) return recordKeyMeta(d);
        break;
    }
    return recordKey(d, op);
}

/* A compressed backup is a common mistake: name the compressor and its
 * undoing tool ("gzip", "gunzip"); 0 when h starts like none of them. */
static int compressedAs(const unsigned char *h, const char **what, const char **tool) {
    static const struct { const char *magic; size_t len; const char *what, *tool; } known[] = {
        {"\x1f\x8b", 2, "gzip", "gunzip"}, {"\x28\xb5\x2f\xfd", 4, "zstd", "unzstd"},
        {"\xfd\x37\x7a\x58\x5a\x00", 6, "xz", "unxz"}, {"BZh", 3, "bzip2", "bunzip2"},
        {"\x04\x22\x4d\x18", 4, "lz4", "unlz4"},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (memcmp(h, known[i].magic, known[i].len)) continue;
        *what = known[i].what, *tool = known[i].tool;
        return 1;
    }
    return 0;
}

/* "REDIS0011" or "VALKEY080". */
static int header(rdbDecoder *d) {
    char h[10] = {0};
    int digits, ver = 0;
    if (rd(d, h, 9) < 0) return -1;
    const char *z, *unz;
    if (memcmp(h, "REDIS", 5) == 0) d->flavour = RDB_FLAVOUR_REDIS, digits = 4;
    else if (memcmp(h, "VALKEY", 6) == 0) d->flavour = RDB_FLAVOUR_VALKEY, digits = 3;
    else if (compressedAs((const unsigned char *)h, &z, &unz))
        return fail(d, RDB_ERR_CORRUPT, "not an RDB file: it is %s-compressed; %s it first", z, unz);
    else return fail(d, RDB_ERR_CORRUPT, "not an RDB file (bad magic)");
    for (int i = 9 - digits; i < 9; i++) {
        if (h[i] < '0' || h[i] > '9') return fail(d, RDB_ERR_CORRUPT, "not an RDB file (bad version digits)");
        ver = ver * 10 + (h[i] - '0');
    }
    d->version = ver;
    if (!rdbVersionSupported(ver, d->flavour)) {
        const char *rel = rdbVersionRelease(ver, d->flavour);
        return fail(d, RDB_ERR_VERSION, "RDB version %d%s%s%s is not supported by this build (it reads "
                    "REDIS0001-REDIS%04d and VALKEY%03d)", ver, rel ? " (" : "", rel ? rel : "",
                    rel ? ")" : "", RDB_VERSION_MAX_REDIS, RDB_VERSION_MAX_VALKEY);
    }
    return EMIT(d, header, ver, d->flavour);
}

/* ---- Public API ---- */

rdbDecoder *rdbDecoderNew(rdbReader *r, const rdbHandlers *h, const rdbDecodeOptions *opt) {
    rdbDecoder *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->r = r;
    if (h) d->h = *h;
    if (opt) d->opt = *opt;
    d->key.expire_ms = -1;
    d->key.idle = -1;
    d->key.freq = -1;
    return d;
}

void rdbDecoderFree(rdbDecoder *d) {
    if (!d) return;
    for (int i = 0; i < S_NSLOTS; i++) free(d->slot[i].p);
    free(d->lzf);
    free(d->fields);
    free(d->meta);
    free(d);
}

int rdbDecode(rdbDecoder *d) {
    if (header(d) < 0) return -1;
    for (;;) {
        int rc = record(d);
        if (rc < 0) return -1;
        if (rc == 1) return 0;
    }
}

int rdbDecodeValue(rdbDecoder *d, int type, int version, rdbFlavour flavour, const rdbKeyInfo *base) {
    d->version = version;
    d->flavour = flavour;
    if (base) d->key = *base;
    else d->key.key = NULL, d->key.keylen = 0, d->key.expire_ms = -1, d->key.idle = -1, d->key.freq = -1;
    d->db = d->key.db;
    if (!rdbTypeLookup(type, flavour)) return fail(d, RDB_ERR_TYPE, "unknown value type %d", type);
    return decodeKeyValue(d, type);
}

/* The payload check's failure: its kind and one line. */
static int payloadFail(rdbErrCode *code, rdbErrCode kind, char *errbuf, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    if (code) *code = kind;
    return -1;
}

int rdbDecodePayload(const unsigned char *p, size_t len, const rdbKeyInfo *base, const rdbHandlers *h,
                     int *version, rdbErrCode *code, char *errbuf, size_t errlen) {
    rdbPayloadParts pp;
    if (code) *code = RDB_OK;
    rdbErrCode split = rdbPayloadSplit(p, len, 1, &pp);
    if (split == RDB_ERR_TRUNCATED)
        return payloadFail(code, split, errbuf, errlen, "DUMP payload of %zu bytes is too short", len);
    if (version) *version = pp.version;
    if (split == RDB_ERR_CORRUPT)
        return payloadFail(code, split, errbuf, errlen, "DUMP payload (RDB version %d): its key metadata "
                           "prefix (opcode 243) does not parse", pp.version);
    if (split != RDB_OK)
        return payloadFail(code, split, errbuf, errlen, "DUMP payload checksum mismatch (footer %016llx, content %016llx)",
                           (unsigned long long)pp.crc_stored, (unsigned long long)pp.crc_computed);
    if (!rdbVersionSupported(pp.version, pp.flavour))
        return payloadFail(code, RDB_ERR_VERSION, errbuf, errlen, "DUMP payload RDB version %d is not supported",
                           pp.version);
    rdbReader *r = rdbReaderMem(pp.value, pp.len);
    rdbDecoder *d = r ? rdbDecoderNew(r, h, NULL) : NULL;
    rdbKeyInfo k = {0};
    if (base) k = *base;
    else k.expire_ms = -1, k.idle = -1, k.freq = -1;
    k.meta = pp.meta, k.metalen = pp.metalen, k.meta_classes = pp.meta_classes;
    int rc = -1;
    if (!d) payloadFail(code, RDB_ERR_NOMEM, errbuf, errlen, "out of memory");
    else if (rdbDecodeValue(d, pp.type, pp.version, pp.flavour, &k) < 0)
        payloadFail(code, d->code, errbuf, errlen, "%s", d->err);
    else if (!rdbReaderAtEnd(r))
        payloadFail(code, RDB_ERR_CORRUPT, errbuf, errlen, "DUMP payload has %llu unread bytes after its value",
                    (unsigned long long)(pp.len - rdbReaderOffset(r)));
    else rc = 0;
    rdbDecoderFree(d);
    rdbReaderFree(r);
    return rc;
}

rdbErrCode rdbDecoderErrorCode(const rdbDecoder *d) { return d->code; }
const char *rdbDecoderError(const rdbDecoder *d) { return d->err; }
uint64_t rdbDecoderOffset(const rdbDecoder *d) { return rdbReaderOffset(d->r); }
uint64_t rdbDecoderKeys(const rdbDecoder *d) { return d->keys; }
int rdbDecoderVersion(const rdbDecoder *d) { return d->version; }
rdbFlavour rdbDecoderFlavour(const rdbDecoder *d) { return d->flavour; }

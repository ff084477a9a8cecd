/* test_decode.c -- error kinds of the reader, the decoder and the payload
 * check, and the consumer's reason reaching the decoder's message (through
 * a tee and a relay too). Inputs are a few hand-built bytes. */
#include <lzf.h>

#include "rdb/crc64.h"
#include "rdb/decode.h"
#include "rdb/encode.h"
#include "rdb/relay.h"
#include "rdb/tee.h"
#include "tests/test.h"

/* REDIS0011, SELECTDB 0, string "k" = "v", EOF, CRC 0 (absent). */
static const unsigned char RDB[] = "REDIS0011\xfe\x00\x00\x01k\x01v\xff\0\0\0\0\0\0\0\0";
#define RDB_LEN (sizeof(RDB) - 1)

/* A DUMP payload of the string "v": type, value, version 11, CRC-64. */
static size_t payload(unsigned char *out) {
    size_t n = 0;
    out[n++] = 0, out[n++] = 1, out[n++] = 'v';
    out[n++] = 11, out[n++] = 0;
    uint64_t crc = crc64(0, out, n);
    for (int i = 0; i < 8; i++) out[n++] = (unsigned char)(crc >> (8 * i));
    return n;
}

/* A source that yields 'good' bytes of RDB, then fails. */
typedef struct flaky {
    size_t pos, good;
} flaky;

static ssize_t flakyRead(void *src, void *buf, size_t cap, char *err, size_t errlen) {
    flaky *f = src;
    if (f->pos >= f->good) {
        snprintf(err, errlen, "read error: the cable is out");
        return -1;
    }
    size_t n = f->good - f->pos < cap ? f->good - f->pos : cap;
    memcpy(buf, RDB + f->pos, n);
    f->pos += n;
    return (ssize_t)n;
}

/* A consumer that stops at the first string, with or without a reason. */
static int stopString(void *ctx, const char *p, size_t len) { return 1; }
static const char *reason(void *ctx) { return "the target is full"; }

static int decodeWith(rdbReader *r, const rdbHandlers *h, rdbErrCode *code, char *msg, size_t msglen) {
    rdbDecoder *d = rdbDecoderNew(r, h, NULL);
    int rc = rdbDecode(d);
    *code = rdbDecoderErrorCode(d);
    snprintf(msg, msglen, "%s", rdbDecoderError(d));
    rdbDecoderFree(d);
    rdbReaderFree(r);
    return rc;
}

static void testReader(void) {
    unsigned char buf[64];
    TEST("rio.kind_truncated") {
        rdbReader *r = rdbReaderMem(RDB, 4);
        CHECK_EQ_INT(-1, rdbRead(r, buf, 5));
        CHECK_EQ_INT(RDB_ERR_TRUNCATED, rdbReaderErrorCode(r));
        CHECK_EQ_STR("unexpected end of input", rdbReaderError(r));
        rdbReaderFree(r);
    }
    TEST("rio.kind_io") {
        flaky f = {0, 3};
        rdbReader *r = rdbReaderNew(flakyRead, &f);
        CHECK_EQ_INT(0, rdbRead(r, buf, 3));
        CHECK_EQ_INT(RDB_OK, rdbReaderErrorCode(r));
        CHECK_EQ_INT(-1, rdbRead(r, buf, 1));
        CHECK_EQ_INT(RDB_ERR_IO, rdbReaderErrorCode(r));
        CHECK_EQ_STR("read error: the cable is out", rdbReaderError(r));
        rdbReaderFree(r);
    }
    TEST("rio.at_end_is_no_error") {
        rdbReader *r = rdbReaderMem(RDB, 2);
        CHECK_EQ_INT(0, rdbRead(r, buf, 2));
        CHECK_EQ_INT(1, rdbReaderAtEnd(r));
        CHECK_EQ_INT(RDB_OK, rdbReaderErrorCode(r));
        rdbReaderFree(r);
    }
}

static void testDecoder(void) {
    rdbErrCode code;
    char msg[700];
    TEST("decode.ok") {
        rdbHandlers h = {0};
        CHECK_EQ_INT(0, decodeWith(rdbReaderMem(RDB, RDB_LEN), &h, &code, msg, sizeof msg));
        CHECK_EQ_INT(RDB_OK, code);
    }
    TEST("decode.kind_truncated") {
        rdbHandlers h = {0};
        CHECK_EQ_INT(-1, decodeWith(rdbReaderMem(RDB, RDB_LEN - 3), &h, &code, msg, sizeof msg));
        CHECK_EQ_INT(RDB_ERR_TRUNCATED, code);
        CHECK_EQ_STR("offset 22: unexpected end of input", msg);
    }
    TEST("decode.kind_io") {
        flaky f = {0, 14};
        rdbHandlers h = {0};
        CHECK_EQ_INT(-1, decodeWith(rdbReaderNew(flakyRead, &f), &h, &code, msg, sizeof msg));
        CHECK_EQ_INT(RDB_ERR_IO, code);
        CHECK_EQ_STR("offset 14 (db 0, key 'k'): read error: the cable is out", msg);
    }
    TEST("decode.kind_corrupt") {
        rdbHandlers h = {0};
        CHECK_EQ_INT(-1, decodeWith(rdbReaderMem("RUBBISH11", 9), &h, &code, msg, sizeof msg));
        CHECK_EQ_INT(RDB_ERR_CORRUPT, code);
    }
    TEST("decode.consumer_reason") {
        rdbHandlers h = {.string = stopString, .error = reason};
        CHECK_EQ_INT(-1, decodeWith(rdbReaderMem(RDB, RDB_LEN), &h, &code, msg, sizeof msg));
        CHECK_EQ_INT(RDB_ERR_HANDLER, code);
        CHECK_EQ_STR("offset 16 (db 0, key 'k'): the target is full", msg);
    }
    TEST("decode.consumer_without_reason") {
        rdbHandlers h = {.string = stopString};
        CHECK_EQ_INT(-1, decodeWith(rdbReaderMem(RDB, RDB_LEN), &h, &code, msg, sizeof msg));
        CHECK_EQ_INT(RDB_ERR_HANDLER, code);
        CHECK_EQ_STR("offset 16 (db 0, key 'k'): stopped by the consumer", msg);
    }
    TEST("decode.tee_forwards_reason") {
        rdbHandlers quiet = {0}, loud = {.string = stopString, .error = reason}, h;
        rdbTee *t = rdbTeeNew(&quiet, &loud);
        rdbTeeHandlers(t, &h);
        CHECK_EQ_INT(-1, decodeWith(rdbReaderMem(RDB, RDB_LEN), &h, &code, msg, sizeof msg));
        CHECK_EQ_INT(RDB_ERR_HANDLER, code);
        CHECK_EQ_STR("offset 16 (db 0, key 'k'): the target is full", msg);
        rdbTeeFree(t);
    }
    TEST("decode.relay_forwards_reason") {
        rdbHandlers target = {.string = stopString, .error = reason}, h;
        rdbRelay *rl = rdbRelayNew(&target);
        rdbRelayHandlers(rl, &h);
        rdbReader *r = rdbReaderMem(RDB, RDB_LEN);
        rdbDecoder *d = rdbDecoderNew(r, &h, NULL);
        /* The relay stops the decoder only on an event after the failure
         * was replayed: decode, wait, and decode the file again. */
        rdbDecode(d);
        CHECK(rdbRelaySync(rl) != 0);
        rdbDecoderFree(d);
        rdbReaderFree(r);
        CHECK_EQ_INT(-1, decodeWith(rdbReaderMem(RDB, RDB_LEN), &h, &code, msg, sizeof msg));
        CHECK_EQ_INT(RDB_ERR_HANDLER, code);
        CHECK_EQ_STR("offset 9: the target is full", msg);
        rdbRelayFree(rl);
    }
}

static int payloadKind(const unsigned char *p, size_t len, const rdbHandlers *h, char *msg, size_t msglen) {
    rdbErrCode code = (rdbErrCode)-1;
    int rc = rdbDecodePayload(p, len, NULL, h, NULL, &code, msg, msglen);
    return rc == 0 ? (code == RDB_OK ? RDB_OK : -1) : (int)code;
}

static void testPayload(void) {
    unsigned char p[32];
    char msg[700];
    rdbHandlers none = {0};
    size_t n = payload(p);
    TEST("decode.payload_kinds") {
        CHECK_EQ_INT(RDB_OK, payloadKind(p, n, &none, msg, sizeof msg));
        CHECK_EQ_INT(RDB_ERR_TRUNCATED, payloadKind(p, 10, &none, msg, sizeof msg));
        rdbHandlers stop = {.string = stopString, .error = reason};
        CHECK_EQ_INT(RDB_ERR_HANDLER, payloadKind(p, n, &stop, msg, sizeof msg));
        CHECK_EQ_STR("offset 2: the target is full", msg);
        p[2] = 'w';
        CHECK_EQ_INT(RDB_ERR_CHECKSUM, payloadKind(p, n, &none, msg, sizeof msg));
        CHECK(strstr(msg, "DUMP payload checksum mismatch") == msg);
    }
}

/* key_begin copies the key's KEY_META bytes (RDB 13). */
typedef struct metaSeen {
    unsigned char meta[64];
    size_t len;
    int classes, keys;
} metaSeen;

static int seeMeta(void *ctx, const rdbKeyInfo *k) {
    metaSeen *m = ctx;
    m->keys++;
    if (k->metalen && k->metalen <= sizeof m->meta) memcpy(m->meta, k->meta, k->metalen), m->len = k->metalen;
    m->classes += k->meta_classes;
    return 0;
}

static void testKeyMeta(void) {
    /* REDIS0013, SELECTDB 0, EXPIRETIME_MS, KEY_META (1 class: spec, STRING
     * "ab", EOF), string k=v, string j=w, EOF, CRC 0 (absent). */
    static const unsigned char meta[] = {243, 1, 9, 8, 7, 6, 5, 2, 'a', 'b', 0};
    unsigned char f[96];
    size_t n = 0;
    memcpy(f, "REDIS0013\xfe\x00\xfc\x00\x10\x00\x00\x00\x00\x00\x00", 20), n = 20;
    memcpy(f + n, meta, sizeof meta), n += sizeof meta;
    memcpy(f + n, "\x00\x01k\x01v\x00\x01j\x01w\xff", 11), n += 11;
    memset(f + n, 0, 8), n += 8;
    metaSeen m = {0};
    rdbHandlers h = {.ctx = &m, .key_begin = seeMeta};
    rdbErrCode code;
    char msg[700];
    TEST("decode.key_meta_captured") {
        CHECK_EQ_INT(0, decodeWith(rdbReaderMem(f, n), &h, &code, msg, sizeof msg));
        CHECK_EQ_INT(2, m.keys);
        CHECK_EQ_INT(1, m.classes); /* the second key has none */
        CHECK_EQ_MEM(meta, sizeof meta, m.meta, m.len);
    }
    TEST("decode.key_meta_only_from_rdb13") {
        f[8] = '2'; /* REDIS0012: 243 is no opcode there */
        CHECK_EQ_INT(-1, decodeWith(rdbReaderMem(f, n), &h, &code, msg, sizeof msg));
        CHECK_EQ_INT(RDB_ERR_TYPE, code);
    }
}

static void testFormatFacts(void) {
    unsigned char p[32];
    size_t n = payload(p);
    rdbPayloadParts pp;
    TEST("decode.payload_split") {
        CHECK_EQ_INT(RDB_OK, rdbPayloadSplit(p, n, 1, &pp));
        CHECK_EQ_INT(0, pp.type);
        CHECK_EQ_MEM("\x01v", 2, pp.value, pp.len);
        CHECK_EQ_INT(11, pp.version);
        CHECK_EQ_INT(RDB_FLAVOUR_REDIS, pp.flavour);
        CHECK_EQ_INT(RDB_ERR_TRUNCATED, rdbPayloadSplit(p, RDB_PAYLOAD_MIN - 1, 1, &pp));
        CHECK_EQ_INT(RDB_OK, rdbPayloadSplit(p, RDB_PAYLOAD_MIN, 0, &pp)); /* no check: no CRC */
        CHECK_EQ_INT(0, pp.len);
        p[n - 1] ^= 1;
        CHECK_EQ_INT(RDB_ERR_CHECKSUM, rdbPayloadSplit(p, n, 1, &pp));
        CHECK_EQ_INT(RDB_OK, rdbPayloadSplit(p, n, 0, &pp));
        p[n - 10] = 80; /* a Valkey 9 footer */
        CHECK_EQ_INT(RDB_OK, rdbPayloadSplit(p, n, 0, &pp));
        CHECK_EQ_INT(RDB_FLAVOUR_VALKEY, pp.flavour);
    }
    TEST("decode.payload_key_meta") {
        /* KEY_META (1 class: spec, UINT 7, EOF), then a string "v". */
        static const unsigned char meta[] = {243, 1, 1, 2, 3, 4, 2, 7, 0};
        unsigned char q[64];
        rdbBuf b = RDB_BUF_INIT;
        int classes = 0;
        CHECK_EQ_INT((int)sizeof meta, (int)rdbKeyMetaLen(meta, sizeof meta, &classes));
        CHECK_EQ_INT(1, classes);
        CHECK_EQ_INT(0, (int)rdbKeyMetaLen(meta, sizeof meta - 1, NULL)); /* no EOF */
        unsigned char bad[sizeof meta];
        memcpy(bad, meta, sizeof meta);
        bad[1] = 8; /* 8 classes: at most 7 exist */
        CHECK_EQ_INT(0, (int)rdbKeyMetaLen(bad, sizeof bad, NULL));
        bad[1] = 1, bad[6] = 9; /* module opcode 9 */
        CHECK_EQ_INT(0, (int)rdbKeyMetaLen(bad, sizeof bad, NULL));
        CHECK_EQ_INT(0, rdbPayloadBuildMeta(&b, meta, sizeof meta, 0, (const unsigned char *)"\x01v", 2, 13));
        CHECK(b.len <= sizeof q);
        memcpy(q, b.p, b.len);
        CHECK_EQ_INT(RDB_OK, rdbPayloadSplit(q, b.len, 1, &pp));
        CHECK_EQ_INT(0, pp.type);
        CHECK_EQ_INT(1, pp.meta_classes);
        CHECK_EQ_MEM(meta, sizeof meta, pp.meta, pp.metalen);
        CHECK_EQ_MEM("\x01v", 2, pp.value, pp.len);
        /* The same bytes under a footer of 12: 243 is no prefix there. */
        CHECK_EQ_INT(0, rdbPayloadBuildMeta(&b, meta, sizeof meta, 0, (const unsigned char *)"\x01v", 2, 12));
        CHECK_EQ_INT(RDB_OK, rdbPayloadSplit(b.p, b.len, 1, &pp));
        CHECK_EQ_INT(243, pp.type);
        CHECK(pp.meta == NULL);
        /* A prefix that does not parse is corrupt, a CRC mismatch first. */
        q[6] = 9; /* module opcode 9 */
        CHECK_EQ_INT(RDB_ERR_CHECKSUM, rdbPayloadSplit(q, sizeof meta + 3 + RDB_PAYLOAD_FOOTER, 1, &pp));
        CHECK_EQ_INT(RDB_ERR_CORRUPT, rdbPayloadSplit(q, sizeof meta + 3 + RDB_PAYLOAD_FOOTER, 0, &pp));
        rdbBufFree(&b);
    }
    TEST("decode.server_flavour") {
        CHECK_EQ_INT(RDB_FLAVOUR_REDIS, rdbServerFlavour(0, 12));
        CHECK_EQ_INT(RDB_FLAVOUR_REDIS, rdbServerFlavour(1, 11)); /* Valkey 8 */
        CHECK_EQ_INT(RDB_FLAVOUR_VALKEY, rdbServerFlavour(1, RDB_VERSION_VALKEY_9));
        CHECK_EQ_INT(RDB_FLAVOUR_VALKEY, rdbServerFlavour(1, rdbVersionForRelease(RDB_FLAVOUR_VALKEY, 9, 0)));
    }
}

/* ---- Strings in pieces (string_chunk) ---- */

typedef struct pieces {
    unsigned char *got;
    size_t len, cap, max;
    uint64_t total;
    int bad_off, calls, whole;
} pieces;

static int onPiece(void *ctx, const char *p, size_t len, uint64_t off, uint64_t total) {
    pieces *ps = ctx;
    if (off != ps->len || len > ps->cap - ps->len) ps->bad_off = 1;
    else memcpy(ps->got + ps->len, p, len);
    ps->len += len, ps->total = total, ps->calls++;
    if (len > ps->max) ps->max = len;
    return 0;
}

static int onWhole(void *ctx, const char *p, size_t len) {
    ((pieces *)ctx)->whole++;
    return 0;
}

/* A DUMP payload of a string value whose RDB encoding is 'enc'. */
static int stringPayload(rdbBuf *out, const unsigned char *enc, size_t len) {
    return rdbPayloadBuild(out, 0, enc, len, 11);
}

static void testPieces(void) {
    size_t n = 3 * RDB_STRING_CHUNK + 12345;
    unsigned char *v = malloc(n), *comp = malloc(n);
    rdbBuf enc = RDB_BUF_INIT, pl = RDB_BUF_INIT;
    pieces ps = {malloc(n), 0, n, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) v[i] = (unsigned char)(i % 251 < 200 ? 'a' + i % 7 : i * 31);
    rdbHandlers h = {.ctx = &ps, .string_chunk = onPiece, .string = onWhole};
    char err[256];
    TEST("decode.string_pieces_plain") {
        rdbBufClear(&enc);
        if (!CHECK_EQ_INT(0, rdbWriteLen(&enc, n)) || !CHECK_EQ_INT(0, rdbBufAppend(&enc, v, n)) ||
            !CHECK_EQ_INT(0, stringPayload(&pl, enc.p, enc.len)))
            continue;
        CHECK_EQ_INT(0, rdbDecodePayload(pl.p, pl.len, NULL, &h, NULL, NULL, err, sizeof err));
        CHECK(!ps.bad_off && ps.whole == 0);
        CHECK_EQ_UINT(n, ps.len);
        CHECK_EQ_UINT(n, ps.total);
        CHECK_EQ_INT(4, ps.calls);
        CHECK(ps.max <= RDB_STRING_CHUNK);
        CHECK(memcmp(ps.got, v, n) == 0);
    }
    TEST("decode.string_pieces_lzf") {
        unsigned c = lzf_compress(v, (unsigned)n, comp, (unsigned)n);
        ps.len = ps.max = 0, ps.calls = 0;
        rdbBufClear(&enc);
        if (!CHECK(c > 0) || !CHECK_EQ_INT(0, rdbBufAppendByte(&enc, 0xC3)) ||
            !CHECK_EQ_INT(0, rdbWriteLen(&enc, c)) || !CHECK_EQ_INT(0, rdbWriteLen(&enc, n)) ||
            !CHECK_EQ_INT(0, rdbBufAppend(&enc, comp, c)) || !CHECK_EQ_INT(0, stringPayload(&pl, enc.p, enc.len)))
            continue;
        CHECK_EQ_INT(0, rdbDecodePayload(pl.p, pl.len, NULL, &h, NULL, NULL, err, sizeof err));
        CHECK(!ps.bad_off && ps.whole == 0);
        CHECK_EQ_UINT(n, ps.len);
        CHECK(ps.calls >= 4 && ps.max <= RDB_STRING_CHUNK);
        CHECK(memcmp(ps.got, v, n) == 0);
        /* A compressed stream one byte short of its stated length is corrupt. */
        enc.p[enc.len - 1] ^= 0x55;
        ps.len = 0;
        rdbBufClear(&pl);
        rdbErrCode code = RDB_OK;
        enc.len -= 1;
        if (!CHECK_EQ_INT(0, stringPayload(&pl, enc.p, enc.len))) continue;
        CHECK_EQ_INT(-1, rdbDecodePayload(pl.p, pl.len, NULL, &h, NULL, &code, err, sizeof err));
        CHECK(code != RDB_OK && code != RDB_ERR_HANDLER);
    }
    free(v);
    free(comp);
    free(ps.got);
    rdbBufFree(&enc);
    rdbBufFree(&pl);
}

int main(void) {
    testPieces();
    testReader();
    testDecoder();
    testPayload();
    testFormatFacts();
    testKeyMeta();
    return test_report();
}

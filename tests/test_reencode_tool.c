/* test_reencode_tool.c -- every key of an RDB file through the re-encoder,
 * as RESTORE commands in RESP, for tests/it_encode.sh.
 *
 * Driven (both variables set):
 *   RDBSYNC_REENCODE_IN=file.rdb RDBSYNC_REENCODE_OUT=out.resp
 *   [RDBSYNC_REENCODE_VERSION=10] [RDBSYNC_REENCODE_VALKEY=1]
 *   [RDBSYNC_REENCODE_DROP=1] [RDBSYNC_REENCODE_SKIPPED=skipped.resp]
 * writes, for each key, SELECT (when the db changes) and
 *   RESTORE key ttl payload REPLACE [ABSTTL]
 * with the payload re-encoded for that target RDB version (never the fast
 * path), and FUNCTION LOAD REPLACE for each function library, so that the
 * result piped into an empty server (redis-cli --pipe) holds the same data.
 * Keys the encoder cannot write (unrepresentable, empty) go to the SKIPPED
 * file as SELECT + DEL, to remove them from a copy of the source for
 * comparison. A summary line goes to stderr:
 *   reencode: keys N written W skipped S lossy L types t:n,...
 * Exit 0 on success, 1 on any error.
 *
 * Undriven (make test): the same on fixtures/gen/mixed_compact_v10.rdb into
 * memory, checking the command counts, as a normal unit test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdb/decode.h"
#include "rdb/encode.h"
#include "rdb/rio.h"
#include "rdb/tee.h"
#include "tests/test.h"

typedef struct tool {
    FILE *out, *skipped;
    rdbEncoder *enc;
    long long cur_db, skip_db;
    uint64_t keys, written, skipped_n, lossy, functions;
    uint64_t types[256];
    char err[512];
} tool;

static void resp(FILE *f, int argc, const char **argv, const size_t *lens) {
    fprintf(f, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        fprintf(f, "$%zu\r\n", lens[i]);
        fwrite(argv[i], 1, lens[i], f);
        fputs("\r\n", f);
    }
}

static void selectDb(FILE *f, long long *cur, uint64_t db) {
    char n[24];
    if (*cur == (long long)db) return;
    *cur = (long long)db;
    const char *argv[2] = {"SELECT", n};
    size_t lens[2] = {6, (size_t)snprintf(n, sizeof(n), "%llu", (unsigned long long)db)};
    resp(f, 2, argv, lens);
}

static int toolFunction(void *ctx, const rdbFunction *fn) {
    tool *t = ctx;
    const char *argv[4] = {"FUNCTION", "LOAD", "REPLACE", fn->code};
    size_t lens[4] = {8, 4, 7, fn->len};
    if (fn->pre_ga) return 0;
    resp(t->out, 4, argv, lens);
    t->functions++;
    return 0;
}

/* Runs after the encoder's key_end (the tee calls it first). */
static int toolKeyEnd(void *ctx, const rdbKeyInfo *k) {
    tool *t = ctx;
    const unsigned char *p;
    size_t len;
    unsigned flags;
    t->keys++;
    if (rdbEncoderResult(t->enc, &p, &len, &flags) < 0) {
        snprintf(t->err, sizeof(t->err), "key '%.*s': %s", (int)k->keylen, k->key, rdbEncoderError(t->enc));
        return -1;
    }
    if (flags & RDB_ENC_LOSSY_STREAM) t->lossy++;
    if (flags & (RDB_ENC_UNREPRESENTABLE | RDB_ENC_EMPTY)) {
        t->skipped_n++;
        if (t->skipped) {
            const char *argv[2] = {"DEL", k->key};
            size_t lens[2] = {3, k->keylen};
            selectDb(t->skipped, &t->skip_db, k->db);
            resp(t->skipped, 2, argv, lens);
        }
        return 0;
    }
    char ttl[24];
    const char *argv[6] = {"RESTORE", k->key, ttl, (const char *)p, "REPLACE", "ABSTTL"};
    size_t lens[6] = {7, k->keylen, 0, len, 7, 6};
    lens[2] = (size_t)snprintf(ttl, sizeof(ttl), "%lld", (long long)(k->expire_ms < 0 ? 0 : k->expire_ms));
    selectDb(t->out, &t->cur_db, k->db);
    resp(t->out, k->expire_ms < 0 ? 5 : 6, argv, lens);
    t->written++;
    t->types[p[0]]++;
    return 0;
}

/* Decode 'in' and write the commands; 0 or -1 with t->err. */
static int run(tool *t, const char *in, const rdbEncodeTarget *et) {
    rdbReader *r = rdbReaderFile(in);
    if (!r) {
        snprintf(t->err, sizeof(t->err), "cannot open %s", in);
        return -1;
    }
    t->enc = rdbEncoderNew(et);
    t->cur_db = t->skip_db = -1;
    rdbHandlers he, ht = {0}, h;
    rdbEncoderHandlers(t->enc, &he);
    ht.ctx = t;
    ht.key_end = toolKeyEnd;
    ht.function = toolFunction;
    rdbTee *tee = rdbTeeNew(&he, &ht);
    rdbTeeHandlers(tee, &h);
    rdbDecoder *d = rdbDecoderNew(r, &h, NULL);
    int rc = rdbDecode(d);
    if (rc < 0 && !t->err[0]) snprintf(t->err, sizeof(t->err), "%s", rdbDecoderError(d));
    rdbDecoderFree(d);
    rdbTeeFree(tee);
    rdbEncoderFree(t->enc);
    rdbReaderFree(r);
    return rc;
}

static void summary(const tool *t, FILE *f) {
    fprintf(f, "reencode: keys %llu written %llu skipped %llu lossy %llu functions %llu types",
            (unsigned long long)t->keys, (unsigned long long)t->written, (unsigned long long)t->skipped_n,
            (unsigned long long)t->lossy, (unsigned long long)t->functions);
    const char *sep = " ";
    for (int i = 0; i < 256; i++) {
        if (!t->types[i]) continue;
        fprintf(f, "%s%d:%llu", sep, i, (unsigned long long)t->types[i]);
        sep = ",";
    }
    fputc('\n', f);
}

static int envInt(const char *name, int def) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static int driven(const char *in, const char *outpath) {
    tool t = {0};
    rdbEncodeTarget et = {.version = envInt("RDBSYNC_REENCODE_VERSION", 10),
                          .flavour = envInt("RDBSYNC_REENCODE_VALKEY", 0) ? RDB_FLAVOUR_VALKEY : RDB_FLAVOUR_REDIS,
                          .drop_field_ttls = envInt("RDBSYNC_REENCODE_DROP", 0)};
    const char *sk = getenv("RDBSYNC_REENCODE_SKIPPED");
    t.out = fopen(outpath, "wb");
    t.skipped = sk && *sk ? fopen(sk, "wb") : NULL;
    if (!t.out || (sk && *sk && !t.skipped)) {
        fprintf(stderr, "reencode: cannot write %s\n", !t.out ? outpath : sk);
        return 1;
    }
    int rc = run(&t, in, &et);
    if (fclose(t.out) != 0) rc = -1;
    if (t.skipped && fclose(t.skipped) != 0) rc = -1;
    if (rc < 0) {
        fprintf(stderr, "reencode: %s\n", t.err[0] ? t.err : "write error");
        return 1;
    }
    summary(&t, stderr);
    return 0;
}

/* Count "*<n>\r\n$<len>\r\n<NAME>" command names in a RESP text. */
static size_t countCmd(const char *buf, size_t len, const char *name) {
    size_t n = 0, nl = strlen(name);
    char pat[64];
    int pl = snprintf(pat, sizeof(pat), "$%zu\r\n%s\r\n", nl, name);
    for (const char *p = buf; (p = memmem(p, len - (size_t)(p - buf), pat, (size_t)pl)) != NULL; p += pl)
        if (p - buf >= 4 && p[-1] == '\n' && p[-2] == '\r') n++;
    return n;
}

int main(void) {
    const char *in = getenv("RDBSYNC_REENCODE_IN"), *out = getenv("RDBSYNC_REENCODE_OUT");
    if (in && *in && out && *out) return driven(in, out);

    char path[4096];
    const char *root = getenv("ROOT");
    snprintf(path, sizeof(path), "%s/fixtures/gen/mixed_compact_v10.rdb", root && *root ? root : ".");
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        test_skip("reencode_tool.mixed_compact", "no fixtures/gen/mixed_compact_v10.rdb");
        return test_report();
    }
    fclose(probe);
    static const int versions[] = {10, 9, 8};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        TEST(test_fmt("reencode_tool.mixed_compact.t%d", versions[i])) {
            tool t = {0};
            char *buf = NULL, *sbuf = NULL;
            size_t blen = 0, slen = 0;
            rdbEncodeTarget et = {.version = versions[i], .flavour = RDB_FLAVOUR_REDIS};
            t.out = open_memstream(&buf, &blen);
            t.skipped = open_memstream(&sbuf, &slen);
            int rc = run(&t, path, &et);
            fclose(t.out);
            fclose(t.skipped);
            if (CHECK_EQ_STR("", t.err) && CHECK_EQ_INT(0, rc)) {
                /* fixtures/gen/EXPECTED: 60 keys, 6 of them streams. */
                CHECK_EQ_UINT(60, t.keys);
                CHECK_EQ_UINT(t.keys, t.written + t.skipped_n);
                CHECK_EQ_UINT(t.written, countCmd(buf, blen, "RESTORE"));
                CHECK_EQ_UINT(t.skipped_n, countCmd(sbuf, slen, "DEL"));
                CHECK_EQ_UINT(1, t.functions);
                CHECK_EQ_UINT(versions[i] >= 9 ? 0 : 6, t.skipped_n);
                /* Only plain types (and the stream version of the target). */
                for (int ty = 6; ty < 256; ty++)
                    if (ty != 15 && ty != 19 && t.types[ty]) CHECK_EQ_INT(0, ty);
            }
            free(buf);
            free(sbuf);
        }
    }
    return test_report();
}

/* test_rdbfile.c -- the RDB file writer (rdb/rdbfile.h) read back by the
 * decoder: RESIZEDB lands where a loading server reads it (right after its
 * SELECTDB, before the db's first key), with the counts given, and the
 * file still ends in a valid CRC-64; LRU/LFU hints reach the key after them.
 */
#include <stdlib.h>
#include <string.h>

#include "rdb/crc64.h"
#include "rdb/decode.h"
#include "rdb/rdbfile.h"
#include "rdb/rio.h"
#include "tests/test.h"

typedef struct membuf {
    unsigned char *p;
    size_t len, cap;
} membuf;

static int memWrite(void *dst, const void *p, size_t n) {
    membuf *m = dst;
    if (m->len + n > m->cap) {
        size_t cap = (m->len + n) * 2;
        unsigned char *q = realloc(m->p, cap);
        if (!q) return -1;
        m->p = q, m->cap = cap;
    }
    memcpy(m->p + m->len, p, n);
    m->len += n;
    return 0;
}

/* What the decoder saw, in order: "S<db>", "R<keys>/<expires>", "K<key>". */
typedef struct seen {
    char log[256];
} seen;

static void add(seen *s, const char *what) {
    strncat(s->log, what, sizeof(s->log) - strlen(s->log) - 1);
    strncat(s->log, " ", sizeof(s->log) - strlen(s->log) - 1);
}
static int onSelect(void *ctx, uint64_t db) {
    char b[32];
    snprintf(b, sizeof b, "S%llu", (unsigned long long)db);
    add(ctx, b);
    return 0;
}
static int onResize(void *ctx, uint64_t keys, uint64_t expires) {
    char b[64];
    snprintf(b, sizeof b, "R%llu/%llu", (unsigned long long)keys, (unsigned long long)expires);
    add(ctx, b);
    return 0;
}
static int onKey(void *ctx, const rdbKeyInfo *k) {
    char b[64];
    snprintf(b, sizeof b, "K%.*s", (int)k->keylen, k->key);
    if (k->idle >= 0) snprintf(b + strlen(b), sizeof b - strlen(b), "/idle%lld", (long long)k->idle);
    if (k->freq >= 0) snprintf(b + strlen(b), sizeof b - strlen(b), "/freq%d", k->freq);
    add(ctx, b);
    return 0;
}

static void testResizeDb(void) {
    TEST("rdbfile.resizedb_after_selectdb_and_hints") {
        membuf m = {0};
        seen s = {{0}};
        static const unsigned char v[] = {3, 'a', 'b', 'c'}; /* a string value: length 3, "abc" */
        rdbFileWriter *w = rdbFileWriterNew(memWrite, &m, 10, RDB_FLAVOUR_REDIS);
        int rc = rdbFileSelectDb(w, 0) | rdbFileResizeDb(w, 2, 1) |
                 rdbFileKey(w, RDB_TYPE_STRING, "a", 1, 4102444800000LL, v, sizeof v) |
                 rdbFileHints(w, 42, -1) | rdbFileKey(w, RDB_TYPE_STRING, "b", 1, -1, v, sizeof v) |
                 rdbFileSelectDb(w, 5) | rdbFileHints(w, -1, 7) |
                 rdbFileResizeDb(w, 70000, 16384) | rdbFileKey(w, RDB_TYPE_STRING, "c", 1, -1, v, sizeof v) |
                 rdbFileFinish(w);
        rdbFileWriterFree(w);
        if (!CHECK_EQ_INT(0, rc)) continue;
        rdbHandlers h = {.ctx = &s, .select_db = onSelect, .resize_db = onResize, .key_begin = onKey};
        rdbReader *r = rdbReaderMem(m.p, m.len);
        rdbDecoder *d = rdbDecoderNew(r, &h, NULL);
        CHECK_EQ_INT(0, rdbDecode(d));
        /* Big counts take the 32-bit length form: 70000 and 16384 both. */
        CHECK_EQ_STR("S0 R2/1 Ka Kb/idle42 S5 R70000/16384 Kc/freq7 ", s.log);
        uint64_t stored = 0;
        for (int i = 7; i >= 0; i--) stored = stored << 8 | m.p[m.len - 8 + i];
        CHECK_EQ_UINT(crc64(0, m.p, m.len - 8), stored);
        rdbDecoderFree(d);
        rdbReaderFree(r);
        free(m.p);
    }
}

int main(void) {
    testResizeDb();
    return test_report();
}

/* test_tee.c -- two handler sets behind one: order, stop, raw capture rules. */
#include "rdb/digest.h"
#include "rdb/tee.h"
#include "tests/test.h"

/* ---- A recording consumer: appends "<name>.<callback> " to a log ---- */

typedef struct rec {
    const char *name;
    char *log;          /* shared by all recorders of a test */
    const char *stop_at; /* callback name that returns 7, or NULL */
    int want;           /* what want_raw answers: 1, 0, or -1 = modules only */
} rec;

static char logbuf[4096];

static int note(rec *r, const char *cb) {
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof logbuf - n, "%s.%s ", r->name, cb);
    return r->stop_at && strcmp(r->stop_at, cb) == 0 ? 7 : 0;
}

static int recHeader(void *c, int v, rdbFlavour f) { return note(c, "header"); }
static int recSelectDb(void *c, uint64_t db) { return note(c, "select_db"); }
static int recKeyBegin(void *c, const rdbKeyInfo *k) { return note(c, "key_begin"); }
static int recKeyEnd(void *c, const rdbKeyInfo *k) { return note(c, "key_end"); }
static int recString(void *c, const char *p, size_t len) { return note(c, "string"); }
static int recSetMember(void *c, const char *p, size_t len) { return note(c, "set_member"); }
static int recEof(void *c, const rdbEofInfo *e) { return note(c, "eof"); }
static int recRaw(void *c, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    return note(c, "raw_value");
}
static int recWantRaw(void *c, const rdbKeyInfo *k) {
    rec *r = c;
    note(r, "want_raw");
    return r->want < 0 ? k->ltype == RDB_LT_MODULE : r->want;
}

/* A recorder with every callback above; raw_value and want_raw optional. */
static void recHandlers(rec *r, const char *name, rdbHandlers *h, int raw, int want_raw) {
    memset(r, 0, sizeof *r);
    r->name = name;
    r->log = logbuf;
    memset(h, 0, sizeof *h);
    h->ctx = r;
    h->header = recHeader;
    h->select_db = recSelectDb;
    h->key_begin = recKeyBegin;
    h->key_end = recKeyEnd;
    h->string = recString;
    h->eof = recEof;
    if (raw) h->raw_value = recRaw;
    if (want_raw) h->want_raw = recWantRaw;
}

static rdbKeyInfo keyOf(rdbLType lt) {
    rdbKeyInfo k = {.key = "k", .keylen = 1, .ltype = lt, .expire_ms = -1, .idle = -1, .freq = -1};
    return k;
}

/* One key through the decoder's sequence: want_raw (if wired), key_begin,
 * string, raw_value (if wanted), key_end. */
static int feedKey(const rdbHandlers *h, rdbLType lt) {
    rdbKeyInfo k = keyOf(lt);
    int rc, raw = h->raw_value && (!h->want_raw || h->want_raw(h->ctx, &k));
    if ((rc = h->key_begin(h->ctx, &k))) return rc;
    if ((rc = h->string(h->ctx, "v", 1))) return rc;
    if (raw && (rc = h->raw_value(h->ctx, &k, (const unsigned char *)"\x00\x01v", 3))) return rc;
    return h->key_end(h->ctx, &k);
}

static void testOrder(void) {
    rec a, b;
    rdbHandlers ha, hb, t;
    rdbEofInfo e = {RDB_CRC_OK, 0, 0};
    recHandlers(&a, "a", &ha, 0, 0);
    recHandlers(&b, "b", &hb, 0, 0);
    rdbTee *tee = rdbTeeNew(&ha, &hb);
    rdbTeeHandlers(tee, &t);
    logbuf[0] = '\0';

    TEST("tee.order") {
        CHECK_EQ_INT(0, t.header(t.ctx, 10, RDB_FLAVOUR_REDIS));
        CHECK_EQ_INT(0, t.select_db(t.ctx, 0));
        CHECK_EQ_INT(0, feedKey(&t, RDB_LT_STRING));
        CHECK_EQ_INT(0, t.eof(t.ctx, &e));
        CHECK_EQ_STR("a.header b.header a.select_db b.select_db a.key_begin b.key_begin "
                     "a.string b.string a.key_end b.key_end a.eof b.eof ",
                     logbuf);
    }
    TEST("tee.unwired_callbacks_are_null") {
        CHECK(t.aux == NULL && t.list_item == NULL && t.stream_meta == NULL);
        CHECK(t.raw_value == NULL && t.want_raw == NULL);
        CHECK(t.ctx == tee && t.header != NULL);
    }
    rdbTeeFree(tee);
}

static void testStop(void) {
    rec a, b;
    rdbHandlers ha, hb, t;
    recHandlers(&a, "a", &ha, 0, 0);
    recHandlers(&b, "b", &hb, 0, 0);
    rdbTee *tee = rdbTeeNew(&ha, &hb);
    rdbTeeHandlers(tee, &t);

    TEST("tee.stop_in_first_side") {
        logbuf[0] = '\0';
        a.stop_at = "string";
        CHECK_EQ_INT(7, feedKey(&t, RDB_LT_STRING));
        CHECK_EQ_STR("a.key_begin b.key_begin a.string ", logbuf);
    }
    TEST("tee.stop_in_second_side") {
        logbuf[0] = '\0';
        a.stop_at = NULL;
        b.stop_at = "key_end";
        CHECK_EQ_INT(7, feedKey(&t, RDB_LT_STRING));
        CHECK_EQ_STR("a.key_begin b.key_begin a.string b.string a.key_end b.key_end ", logbuf);
    }
    rdbTeeFree(tee);
}

/* A side's own NULL callbacks are skipped; a NULL side is an empty side. */
static void testMissing(void) {
    rec a, b;
    rdbHandlers ha, hb, t;
    recHandlers(&a, "a", &ha, 0, 0);
    recHandlers(&b, "b", &hb, 0, 0);
    hb.string = NULL;
    hb.set_member = recSetMember;
    rdbTee *tee = rdbTeeNew(&ha, &hb);
    rdbTeeHandlers(tee, &t);
    TEST("tee.null_callback_on_one_side") {
        logbuf[0] = '\0';
        CHECK_EQ_INT(0, t.string(t.ctx, "v", 1));
        CHECK_EQ_INT(0, t.set_member(t.ctx, "m", 1));
        CHECK_EQ_STR("a.string b.set_member ", logbuf);
    }
    rdbTeeFree(tee);

    tee = rdbTeeNew(NULL, &ha);
    rdbTeeHandlers(tee, &t);
    TEST("tee.null_side") {
        logbuf[0] = '\0';
        CHECK_EQ_INT(0, feedKey(&t, RDB_LT_STRING));
        CHECK_EQ_STR("a.key_begin a.string a.key_end ", logbuf);
        CHECK(t.set_member == NULL);
    }
    rdbTeeFree(tee);
}

static void testRaw(void) {
    rec a, b;
    rdbHandlers ha, hb, t;
    rdbTee *tee;

    /* a: raw_value, no want_raw (wants every key); b: want_raw says no. */
    recHandlers(&a, "a", &ha, 1, 0);
    recHandlers(&b, "b", &hb, 1, 1);
    b.want = 0;
    tee = rdbTeeNew(&ha, &hb);
    rdbTeeHandlers(tee, &t);
    TEST("tee.raw_to_the_side_that_wants_it") {
        logbuf[0] = '\0';
        CHECK(t.raw_value != NULL && t.want_raw != NULL);
        CHECK_EQ_INT(0, feedKey(&t, RDB_LT_STRING));
        CHECK_EQ_STR("b.want_raw a.key_begin b.key_begin a.string b.string a.raw_value "
                     "a.key_end b.key_end ",
                     logbuf);
    }
    rdbTeeFree(tee);

    /* Neither side wants it: the tee's want_raw says no. */
    recHandlers(&a, "a", &ha, 1, 1);
    recHandlers(&b, "b", &hb, 0, 1); /* want_raw without raw_value counts 0 */
    a.want = 0;
    b.want = 1;
    tee = rdbTeeNew(&ha, &hb);
    rdbTeeHandlers(tee, &t);
    TEST("tee.raw_nobody_wants") {
        rdbKeyInfo k = keyOf(RDB_LT_STRING);
        logbuf[0] = '\0';
        CHECK_EQ_INT(0, t.want_raw(t.ctx, &k));
        CHECK_EQ_STR("a.want_raw ", logbuf); /* b's want_raw is not even asked */
    }
    rdbTeeFree(tee);

    /* Per key: b wants modules only, a nothing. */
    recHandlers(&a, "a", &ha, 1, 1);
    recHandlers(&b, "b", &hb, 1, 1);
    a.want = 0;
    b.want = -1;
    tee = rdbTeeNew(&ha, &hb);
    rdbTeeHandlers(tee, &t);
    TEST("tee.raw_decided_per_key") {
        logbuf[0] = '\0';
        CHECK_EQ_INT(0, feedKey(&t, RDB_LT_MODULE));
        CHECK_EQ_INT(0, feedKey(&t, RDB_LT_STRING));
        CHECK_EQ_STR("a.want_raw b.want_raw a.key_begin b.key_begin a.string b.string "
                     "b.raw_value a.key_end b.key_end "
                     "a.want_raw b.want_raw a.key_begin b.key_begin a.string b.string "
                     "a.key_end b.key_end ",
                     logbuf);
    }
    TEST("tee.raw_without_want_raw_call") {
        rdbKeyInfo k = keyOf(RDB_LT_MODULE);
        logbuf[0] = '\0';
        CHECK_EQ_INT(0, t.raw_value(t.ctx, &k, (const unsigned char *)"x", 1));
        CHECK_EQ_INT(0, t.key_end(t.ctx, &k));
        CHECK_EQ_STR("a.want_raw b.want_raw b.raw_value a.key_end b.key_end ", logbuf);
    }
    TEST("tee.raw_stop") {
        logbuf[0] = '\0';
        a.want = 1;
        a.stop_at = "raw_value";
        CHECK_EQ_INT(7, feedKey(&t, RDB_LT_MODULE));
        CHECK_EQ_STR("a.want_raw b.want_raw a.key_begin b.key_begin a.string b.string "
                     "a.raw_value ",
                     logbuf);
    }
    rdbTeeFree(tee);
}

/* Tees nest, and a digest behind a tee sees exactly what it sees alone. */
static void testNestedAndDigest(void) {
    rec a, b;
    rdbHandlers ha, hb, hd, inner, outer, alone;
    unsigned char d1[RDB_DIGEST_LEN], d2[RDB_DIGEST_LEN];
    rdbDigest *dg = rdbDigestNew(), *solo = rdbDigestNew();

    recHandlers(&a, "a", &ha, 0, 0);
    recHandlers(&b, "b", &hb, 1, 1);
    b.want = 0;
    rdbDigestHandlers(dg, &hd);
    rdbDigestHandlers(solo, &alone);
    rdbTee *t1 = rdbTeeNew(&hb, &hd);
    rdbTeeHandlers(t1, &inner);
    rdbTee *t2 = rdbTeeNew(&ha, &inner);
    rdbTeeHandlers(t2, &outer);

    TEST("tee.nested_with_digest") {
        logbuf[0] = '\0';
        CHECK_EQ_INT(0, feedKey(&outer, RDB_LT_STRING));
        CHECK_EQ_INT(0, feedKey(&outer, RDB_LT_MODULE));
        CHECK_EQ_INT(0, feedKey(&alone, RDB_LT_STRING));
        CHECK_EQ_INT(0, feedKey(&alone, RDB_LT_MODULE));
        CHECK_EQ_STR("b.want_raw a.key_begin b.key_begin a.string b.string a.key_end b.key_end "
                     "b.want_raw a.key_begin b.key_begin a.string b.string a.key_end b.key_end ",
                     logbuf);
        rdbDigestFinal(dg, d1);
        rdbDigestFinal(solo, d2);
        CHECK_EQ_MEM(d2, sizeof d2, d1, sizeof d1);
        CHECK_EQ_UINT(2, rdbDigestKeys(dg));
    }
    rdbTeeFree(t2);
    rdbTeeFree(t1);
    rdbDigestFree(dg);
    rdbDigestFree(solo);
}

/* Strings in pieces (decode.h string_chunk): the tee takes pieces only
 * when no side takes whole strings; otherwise a piece-taking side gets
 * each whole string as one piece. */
static int recChunk(void *c, const char *p, size_t len, uint64_t off, uint64_t total) {
    return note(c, "string_chunk");
}

static void testPieces(void) {
    rec a, b;
    rdbHandlers ha, hb, t;
    recHandlers(&a, "a", &ha, 0, 0);
    recHandlers(&b, "b", &hb, 0, 0);
    ha.string = NULL;
    ha.string_chunk = recChunk;
    hb.string = NULL;
    rdbTee *tee = rdbTeeNew(&ha, &hb);
    rdbTeeHandlers(tee, &t);
    TEST("tee.pieces_when_no_side_takes_whole_strings") {
        logbuf[0] = '\0';
        if (!CHECK(t.string_chunk != NULL)) continue;
        CHECK_EQ_INT(0, t.string_chunk(t.ctx, "v", 1, 0, 1));
        CHECK_EQ_STR("a.string_chunk ", logbuf);
    }
    rdbTeeFree(tee);

    hb.string = recString;
    tee = rdbTeeNew(&ha, &hb);
    rdbTeeHandlers(tee, &t);
    TEST("tee.whole_strings_as_one_piece") {
        logbuf[0] = '\0';
        CHECK(t.string_chunk == NULL);
        if (!CHECK(t.string != NULL)) continue;
        CHECK_EQ_INT(0, t.string(t.ctx, "v", 1));
        CHECK_EQ_STR("a.string_chunk b.string ", logbuf);
    }
    rdbTeeFree(tee);
}

int main(void) {
    testOrder();
    testPieces();
    testStop();
    testMissing();
    testRaw();
    testNestedAndDigest();
    return test_report();
}

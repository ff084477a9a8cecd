/* test_checkpoint.c -- src/checkpoint.c without a server: the reply side
 * of a batch (which command each element of EXEC's array answers, what
 * commits and what does not), and the handler set that hides the
 * checkpoint key from a digest. The send side and the resume paths run
 * against real servers in tests/it_exactly.sh. */
#include <stdlib.h>
#include <string.h>

#include "src/checkpoint.h"
#include "tests/test.h"

/* ---- replies built by hand ---- */

static redisReply *mk(int type, const char *str) {
    redisReply *r = calloc(1, sizeof(*r));
    r->type = type;
    if (str) {
        r->str = strdup(str);
        r->len = strlen(str);
    }
    if (type == REDIS_REPLY_INTEGER) r->integer = 1;
    return r;
}

/* An array of n elements: 'E' an error, anything else +OK/+QUEUED-like. */
static redisReply *arr(const char *shape) {
    redisReply *r = mk(REDIS_REPLY_ARRAY, NULL);
    r->elements = strlen(shape);
    r->element = calloc(r->elements, sizeof(*r->element));
    for (size_t i = 0; i < r->elements; i++)
        r->element[i] = shape[i] == 'E' ? mk(REDIS_REPLY_ERROR, "WRONGTYPE Operation against a key")
                                        : mk(REDIS_REPLY_STATUS, "OK");
    return r;
}

typedef struct seen {
    int calls, discarded, stop;
    char cmd[32], key[64];
    uint64_t offset;
} seen;

static int onRefused(void *ctx, const writerTag *t, const char *err, int discarded) {
    seen *s = ctx;
    s->calls++;
    s->discarded += discarded;
    snprintf(s->cmd, sizeof(s->cmd), "%s", t->cmd);
    snprintf(s->key, sizeof(s->key), "%.*s", (int)t->keylen, t->key ? t->key : "");
    s->offset = t->src_offset;
    return s->stop;
}

static int feed(checkpoint *cp, writerTag t, redisReply *r, checkpointVerdict *v, seen *s) {
    int rc = checkpointOnReply(cp, &t, r, v, onRefused, s);
    freeReplyObject(r);
    return rc;
}

static const writerTag T_MULTI = {"MULTI", 0, NULL, 0, 0, WRITER_K_BATCH};
static const writerTag T_HSET = {"HSET", 0, "rdbsync:checkpoint", 18, 300, WRITER_K_BATCH};
static const writerTag T_SELECT = {"SELECT", 2, NULL, 0, 0, WRITER_K_SELECT};
static const writerTag T_EXEC = {"EXEC", 1, NULL, 0, 300, WRITER_K_CHECKPOINT};

static writerTag cmdTag(const char *cmd, const char *key, uint64_t off) {
    return (writerTag){cmd, 1, key, strlen(key), off, WRITER_K_STREAM};
}

/* MULTI, SELECT 2, INCR a, LPUSH b, HSET, then EXEC answering 'shape'. */
static int batch(checkpoint *cp, const char *shape, checkpointVerdict *v, seen *s) {
    int rc = feed(cp, T_MULTI, mk(REDIS_REPLY_STATUS, "OK"), v, s);
    rc |= feed(cp, T_SELECT, mk(REDIS_REPLY_STATUS, "QUEUED"), v, s);
    rc |= feed(cp, cmdTag("INCR", "a", 100), mk(REDIS_REPLY_STATUS, "QUEUED"), v, s);
    rc |= feed(cp, cmdTag("LPUSH", "b", 200), mk(REDIS_REPLY_STATUS, "QUEUED"), v, s);
    rc |= feed(cp, T_HSET, mk(REDIS_REPLY_STATUS, "QUEUED"), v, s);
    return rc | feed(cp, T_EXEC, arr(shape), v, s);
}

static void testBatches(void) {
    checkpoint *cp = checkpointNew(NULL);
    checkpointVerdict v;
    seen s = {0};

    TEST("checkpoint.batch_commits") {
        CHECK_EQ_INT(0, batch(cp, "OOOO", &v, &s));
        CHECK(v.committed && !v.failed);
        CHECK_EQ_INT(300, v.offset);
        CHECK_EQ_INT(1, v.db);
        CHECK_EQ_INT(2, v.commands); /* SELECT and HSET are not stream commands */
        CHECK_EQ_INT(0, s.calls);
    }
    TEST("checkpoint.owns_between_multi_and_exec") {
        writerTag other = {"RESTORE", 0, NULL, 0, 0, WRITER_K_RESTORE};
        CHECK(!checkpointOwns(cp, &other));
        CHECK(checkpointOwns(cp, &T_MULTI));
        feed(cp, T_MULTI, mk(REDIS_REPLY_STATUS, "OK"), &v, &s);
        CHECK(checkpointOwns(cp, &other)); /* e.g. the writer's own SELECT */
        checkpointReset(cp);
        CHECK(!checkpointOwns(cp, &other));
    }
    TEST("checkpoint.exec_error_names_its_command") {
        memset(&s, 0, sizeof(s));
        s.stop = 1;
        CHECK(batch(cp, "OOEO", &v, &s) != 0);
        CHECK(v.committed && !v.failed); /* the rest ran, with the checkpoint */
        CHECK_EQ_INT(1, s.calls);
        CHECK_EQ_STR("LPUSH", s.cmd);
        CHECK_EQ_STR("b", s.key);
        CHECK_EQ_INT(200, s.offset);
        CHECK_EQ_INT(0, s.discarded);
    }
    TEST("checkpoint.queued_refusal_discards_batch") {
        memset(&s, 0, sizeof(s));
        int rc = feed(cp, T_MULTI, mk(REDIS_REPLY_STATUS, "OK"), &v, &s);
        rc |= feed(cp, cmdTag("INCR", "a", 100), mk(REDIS_REPLY_ERROR, "OOM command not allowed"), &v, &s);
        CHECK_EQ_INT(1, s.discarded);
        CHECK_EQ_STR("INCR", s.cmd);
        rc = feed(cp, T_EXEC, mk(REDIS_REPLY_ERROR, "EXECABORT Transaction discarded"), &v, &s);
        CHECK(rc != 0);
        CHECK(!v.committed && !v.failed); /* said once, by the refusal */
    }
    TEST("checkpoint.count_mismatch_fails") {
        CHECK(batch(cp, "OOO", &v, &s) != 0);
        CHECK(v.failed && !v.committed);
        CHECK(strstr(checkpointError(cp), "rdbsync:checkpoint") != NULL);
    }
    TEST("checkpoint.refused_hset_in_batch_fails") {
        CHECK(batch(cp, "OOOE", &v, &s) != 0);
        CHECK(v.failed);
        CHECK(strstr(checkpointError(cp), "HSET") != NULL);
    }
    TEST("checkpoint.refused_select_in_batch_fails") {
        CHECK(batch(cp, "EOOO", &v, &s) != 0);
        CHECK(v.failed);
        CHECK(strstr(checkpointError(cp), "SELECT 2") != NULL);
    }
    TEST("checkpoint.discard_ends_batch") {
        writerTag discard = {"DISCARD", 0, NULL, 0, 0, WRITER_K_CHECKPOINT};
        writerTag other = {"FLUSHALL", 0, NULL, 0, 0, WRITER_K_FLUSH};
        feed(cp, T_MULTI, mk(REDIS_REPLY_STATUS, "OK"), &v, &s);
        feed(cp, cmdTag("INCR", "a", 100), mk(REDIS_REPLY_STATUS, "QUEUED"), &v, &s);
        CHECK_EQ_INT(0, feed(cp, discard, mk(REDIS_REPLY_STATUS, "OK"), &v, &s));
        CHECK(!v.committed && !v.failed);
        CHECK(!checkpointOwns(cp, &other)); /* what follows is not the batch's */
    }
    TEST("checkpoint.lone_hset") {
        writerTag lone = {"HSET", 3, "rdbsync:checkpoint", 18, 777, WRITER_K_CHECKPOINT};
        CHECK_EQ_INT(0, feed(cp, lone, mk(REDIS_REPLY_INTEGER, NULL), &v, &s));
        CHECK(v.committed);
        CHECK_EQ_INT(777, v.offset);
        CHECK_EQ_INT(3, v.db);
        CHECK_EQ_INT(0, v.commands);
        CHECK(feed(cp, lone, mk(REDIS_REPLY_ERROR, "WRONGTYPE x"), &v, &s) != 0);
        CHECK(v.failed && !v.committed);
    }
    checkpointFree(cp);
}

/* ---- the hidden key ---- */

typedef struct counts {
    int begins, ends, members;
} counts;

static int cBegin(void *ctx, const rdbKeyInfo *k) { return ((counts *)ctx)->begins++, 0; }
static int cEnd(void *ctx, const rdbKeyInfo *k) { return ((counts *)ctx)->ends++, 0; }
static int cField(void *ctx, const char *f, size_t fl, const char *v, size_t vl, int64_t e) {
    return ((counts *)ctx)->members++, 0;
}

static void key(const rdbHandlers *h, int db, const char *name) {
    rdbKeyInfo k = {.db = (uint64_t)db, .key = name, .keylen = strlen(name)};
    h->key_begin(h->ctx, &k);
    h->hash_field(h->ctx, "offset", 6, "12", 2, -1);
    h->key_end(h->ctx, &k);
}

static void testHide(void) {
    counts c = {0};
    rdbHandlers inner = {.ctx = &c, .key_begin = cBegin, .key_end = cEnd, .hash_field = cField}, h;
    checkpointHide hide;
    checkpointHideHandlers(&hide, &inner, "rdbsync:checkpoint", &h);
    key(&h, 0, "other");
    key(&h, 0, "rdbsync:checkpoint"); /* hidden */
    key(&h, 1, "rdbsync:checkpoint"); /* another db: data */
    key(&h, 0, "rdbsync:checkpoint2");
    TEST("checkpoint.hide") {
        CHECK_EQ_INT(3, c.begins);
        CHECK_EQ_INT(3, c.ends);
        CHECK_EQ_INT(3, c.members);
        CHECK_EQ_INT(1, hide.hidden);
        CHECK(h.string == NULL); /* callbacks the inner set lacks stay NULL */
    }
    test_cond("checkpoint.is_key", checkpointIsKey("ck", 0, "ck", 2) && !checkpointIsKey("ck", 1, "ck", 2) &&
                                       !checkpointIsKey("ck", 0, "ck2", 3) && !checkpointIsKey("ck", 0, "c", 1));
}

int main(void) {
    testBatches();
    testHide();
    return test_report();
}

/* test_relay.c -- the relay replays every event, in order, on its thread.
 *
 * A digest fed through the relay must equal a digest fed directly, for
 * every generated fixture (all types, streams with groups, functions);
 * a target that stops must stop the producer; a value larger than a chunk
 * must arrive whole. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdb/crc64.h"
#include "rdb/decode.h"
#include "rdb/digest.h"
#include "rdb/relay.h"
#include "rdb/tee.h"
#include "tests/test.h"

static int digestFile(const char *path, int relayed, unsigned char out[RDB_DIGEST_LEN]) {
    rdbReader *r = rdbReaderFile(path);
    rdbDigest *dg = rdbDigestNew();
    rdbHandlers dh, h;
    rdbDigestHandlers(dg, &dh);
    rdbRelay *rl = relayed ? rdbRelayNew(&dh) : NULL;
    if (rl) rdbRelayHandlers(rl, &h);
    else h = dh;
    rdbDecoder *d = rdbDecoderNew(r, &h, NULL);
    int rc = rdbDecode(d);
    if (rl && rdbRelaySync(rl) != 0) rc = -1;
    rdbDigestFinal(dg, out);
    rdbDecoderFree(d);
    rdbRelayFree(rl);
    rdbDigestFree(dg);
    rdbReaderFree(r);
    return rc;
}

static void testFixtures(void) {
    const char *dir = test_env_path("ROOT", "fixtures/gen");
    DIR *dp = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!dp) {
        test_skip("relay.fixtures", "no fixtures/gen");
        return;
    }
    while ((e = readdir(dp)) != NULL) {
        if (!strstr(e->d_name, ".rdb")) continue;
        char path[1024];
        unsigned char a[RDB_DIGEST_LEN], b[RDB_DIGEST_LEN];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        int ra = digestFile(path, 0, a), rb = digestFile(path, 1, b);
        test_cond(test_fmt("relay.same_digest.%s", e->d_name), ra == 0 && rb == 0 && !memcmp(a, b, sizeof(a)));
        n++;
    }
    closedir(dp);
    test_cond("relay.fixtures_found", n > 0);
}

/* ---- Every event of RDB_EVENTS, direct and through the plumbing ---- */

/* A recorder of every event: a CRC of the names in order (and of the
 * arguments of the events the digest does not see), and a count. */
typedef struct events {
    uint64_t crc, n;
} events;

static void mix(events *e, const void *p, size_t n) { e->crc = crc64(e->crc, p, n); }

#define REC_EVENT(name, params, args)                                  \
    static int rec_##name(void *ctx, RDB_UNPAREN params) {            \
        events *ev_ = ctx; /* not 'e': eof's parameter is */          \
        ev_->n++;                                                      \
        mix(ev_, #name, sizeof #name);                                 \
        return 0;                                                      \
    }
RDB_EVENTS(REC_EVENT)
#undef REC_EVENT

static int recAux(void *ctx, const char *k, size_t kl, const char *v, size_t vl) {
    mix(ctx, k, kl);
    mix(ctx, v, vl);
    return rec_aux(ctx, k, kl, v, vl);
}

static int recDbs(void *ctx, uint64_t a, uint64_t b) {
    mix(ctx, &a, sizeof a);
    mix(ctx, &b, sizeof b);
    return rec_resize_db(ctx, a, b);
}

static int recSelect(void *ctx, uint64_t db) {
    mix(ctx, &db, sizeof db);
    return rec_select_db(ctx, db);
}

static void recHandlers(events *e, rdbHandlers *h) {
    memset(h, 0, sizeof *h);
    h->ctx = e;
#define REC_WIRE(name, params, args) h->name = rec_##name;
    RDB_EVENTS(REC_WIRE)
#undef REC_WIRE
    h->aux = recAux;
    h->resize_db = recDbs;
    h->select_db = recSelect;
}

/* how: 0 direct, 1 through a relay, 2 through a tee (recorder on side b). */
static events recordFile(const char *path, int how) {
    events e = {0, 0};
    rdbHandlers rh, h, none = {0};
    recHandlers(&e, &rh);
    rdbRelay *rl = how == 1 ? rdbRelayNew(&rh) : NULL;
    rdbTee *t = how == 2 ? rdbTeeNew(&none, &rh) : NULL;
    if (rl) rdbRelayHandlers(rl, &h);
    else if (t) rdbTeeHandlers(t, &h);
    else h = rh;
    rdbReader *r = rdbReaderFile(path);
    rdbDecoder *d = rdbDecoderNew(r, &h, NULL);
    if (rdbDecode(d) < 0) e.n = 0;
    if (rl && rdbRelaySync(rl) != 0) e.n = 0;
    rdbDecoderFree(d);
    rdbReaderFree(r);
    rdbRelayFree(rl);
    rdbTeeFree(t);
    return e;
}

static void testEveryEvent(void) {
    const char *dir = test_env_path("ROOT", "fixtures/gen");
    DIR *dp = dir ? opendir(dir) : NULL;
    struct dirent *de;
    if (!dp) {
        test_skip("relay.every_event", "no fixtures/gen");
        return;
    }
    while ((de = readdir(dp)) != NULL) {
        if (!strstr(de->d_name, ".rdb")) continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        events a = recordFile(path, 0), b = recordFile(path, 1), c = recordFile(path, 2);
        TEST(test_fmt("relay.every_event.%s", de->d_name)) {
            CHECK(a.n > 0);
            CHECK_EQ_UINT(a.n, b.n);
            CHECK_EQ_UINT(a.crc, b.crc);
            CHECK_EQ_UINT(a.n, c.n);
            CHECK_EQ_UINT(a.crc, c.crc);
        }
    }
    closedir(dp);
}

/* A target that counts bytes and stops after a number of strings. */
typedef struct sink {
    size_t strings, bytes, stop_after;
} sink;

static int onString(void *ctx, const char *p, size_t len) {
    sink *s = ctx;
    s->strings++;
    s->bytes += len;
    for (size_t i = 0; i < len; i++)
        if (p[i] != (char)('a' + i % 26)) return -2;
    return s->stop_after && s->strings >= s->stop_after ? 7 : 0;
}

static void testBigAndStop(void) {
    size_t big = 3 * 1024 * 1024 + 17;
    char *v = malloc(big);
    for (size_t i = 0; i < big; i++) v[i] = (char)('a' + i % 26);
    sink s = {0};
    rdbHandlers t = {.ctx = &s, .string = onString}, h;
    rdbRelay *rl = rdbRelayNew(&t);
    rdbRelayHandlers(rl, &h);
    rdbKeyInfo k = {.key = "k", .keylen = 1, .expire_ms = -1, .idle = -1, .freq = -1};
    int rc = h.key_begin(h.ctx, &k);
    for (int i = 0; i < 5 && rc == 0; i++) rc = h.string(h.ctx, v, i % 2 ? big : 100);
    test_cond("relay.big.sent", rc == 0);
    test_eq_int("relay.big.sync", 0, rdbRelaySync(rl));
    test_eq_uint("relay.big.strings", 5, s.strings);
    test_eq_uint("relay.big.bytes", 2 * big + 300, s.bytes);
    rdbRelayFree(rl);

    sink t2 = {.stop_after = 3};
    rdbHandlers tt = {.ctx = &t2, .string = onString};
    rl = rdbRelayNew(&tt);
    rdbRelayHandlers(rl, &h);
    h.key_begin(h.ctx, &k);
    rc = 0;
    for (int i = 0; i < 100000 && rc == 0; i++) rc = h.string(h.ctx, v, 100);
    test_eq_int("relay.stop.returns_first_error", 7, rdbRelaySync(rl));
    test_cond("relay.stop.producer_stopped", rc != 0);
    test_eq_uint("relay.stop.no_more_replayed", 3, t2.strings);
    rdbRelayFree(rl);
    free(v);
}

int main(void) {
    testFixtures();
    testEveryEvent();
    testBigAndStop();
    return test_report();
}

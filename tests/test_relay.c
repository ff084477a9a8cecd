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

#include "rdb/decode.h"
#include "rdb/digest.h"
#include "rdb/relay.h"
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
    testBigAndStop();
    return test_report();
}

/* test_xslot.c -- the cross-slot planner, with a fake target and for real.
 *
 * The key positions come from a real redis-server 7.0's table (its key
 * specs), so the binary needs tests/it_xslot.sh (it skips otherwise):
 *   RDBSYNC_TEST_PORT    redis 7.0: the command table, and the reference
 *   RDBSYNC_TEST_PORT2   redis 7.0: the server written through the planner
 *
 * 1. Plans, against a fake target that records what is sent to which
 *    slot and answers the synchronous calls: one slot forwarded; DEL and
 *    MSET split per slot keeping each key's arguments; keyless commands to
 *    every master, PUBLISH to one node; a MULTI block in one slot kept
 *    whole, one over two slots applied per slot and counted; RENAME across
 *    slots = DUMP + expire of the source on its node, one transaction on
 *    the destination's node (RESTORE into a temporary key of that slot,
 *    RENAME), the temporary read back (gone), DEL of the source on its own
 *    slot, DEL of the temporary; an unknown command stops with one line naming it,
 *    or is counted under skip_errors.
 * 2. Exactness (on 7.0, and on 6.2 when RDBSYNC_TEST_PORT_62 and
 *    RDBSYNC_TEST_PORT2_62 name two 6.2 servers: no key flags, PTTL): every family of cross-slot write (RENAME, RENAMENX, COPY,
 *    SMOVE, LMOVE, RPOPLPUSH, SUNIONSTORE/SINTERSTORE/SDIFFSTORE,
 *    ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE/ZRANGESTORE, BITOP, PFMERGE,
 *    GEOSEARCHSTORE, GEORADIUS STORE, SORT STORE, MSETNX both ways, EVAL
 *    with keys in two slots, MULTI/EXEC over several slots, keys with
 *    expire times) is run on the reference as is, and through the planner
 *    on the other server with every "slot" on that one node; the two end
 *    with the same DEBUG DIGEST, the same expire times, and no temporary
 *    key left.
 */
#include <string.h>

#include "src/cluster.h"
#include "src/conn.h"
#include "src/keyspec.h"
#include "src/url.h"
#include "src/xslot.h"
#include "tests/test.h"

static int split(char *s, const char **argv, size_t *lens, int max) {
    int n = 0;
    for (char *tok = strtok(s, " "); tok && n < max; tok = strtok(NULL, " ")) {
        argv[n] = tok;
        lens[n++] = strlen(tok);
    }
    return n;
}

static rsConn *openPort(const char *port) {
    char url[64], err[256];
    rsUrl u;
    snprintf(url, sizeof(url), "redis://127.0.0.1:%s", port);
    if (urlParse(url, &u, err, sizeof(err)) < 0) return NULL;
    rsConn *c = connOpen(&u, NULL, err, sizeof(err));
    urlFree(&u);
    return c;
}

static redisReply *connCall(void *ctx, int argc, const char **argv, const size_t *lens) {
    return connCommand(ctx, argc, argv, lens);
}

/* ---- the fake target ---- */

typedef struct fake {
    char trace[8192];
    size_t used;
    int multi_rename; /* the open MULTI holds a RENAME: its temporary is gone after */
    int queued;       /* commands queued since MULTI */
    char kinds[64];   /* per queued command: R(estore) D(ump) E(xpire) C(ommand) */
    int tmp_slot;     /* slot of the last temporary name seen, -1 none */
} fake;

static const char *show(const char *arg, size_t len, fake *f) {
    if (len > 12 && memcmp(arg, "rdbsync:tmp:", 12) == 0) {
        f->tmp_slot = (int)clusterKeySlot(arg, len);
        return "TMP";
    }
    static char buf[128];
    snprintf(buf, sizeof(buf), "%.*s", (int)(len < 100 ? len : 100), arg);
    return buf;
}

static void record(fake *f, const char *what, int slot, int argc, const char **argv, const size_t *lens) {
    char slotname[16];
    if (slot == XSLOT_ALL) snprintf(slotname, sizeof(slotname), "all");
    else if (slot == XSLOT_ANY) snprintf(slotname, sizeof(slotname), "any");
    else snprintf(slotname, sizeof(slotname), "%d", slot);
    f->used += (size_t)snprintf(f->trace + f->used, sizeof(f->trace) - f->used, "%s%s %s", f->used ? "; " : "",
                                what, slotname);
    for (int i = 0; i < argc && f->used < sizeof(f->trace); i++)
        f->used += (size_t)snprintf(f->trace + f->used, sizeof(f->trace) - f->used, " %s", show(argv[i], lens[i], f));
}

static int fakeSend(void *ctx, int slot, int argc, const char **argv, const size_t *lens) {
    fake *f = ctx;
    record(f, "send", slot, argc, argv, lens);
    if (strcasecmp(argv[0], "MULTI") == 0) {
        f->queued = 0, f->multi_rename = 0;
    } else if (f->queued < 63) {
        char k = strcasecmp(argv[0], "RESTORE") == 0 ? 'R' : strcasecmp(argv[0], "DUMP") == 0 ? 'D'
                 : strcasecmp(argv[0], "PEXPIRETIME") == 0 ? 'E' : strcasecmp(argv[0], "DEL") == 0 ? 'X' : 'C';
        if (strcasecmp(argv[0], "RENAME") == 0) f->multi_rename = 1;
        f->kinds[f->queued++] = k;
    }
    return 0;
}

static redisReply *parse(const char *resp) {
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    redisReaderFeed(rd, resp, strlen(resp));
    if (redisReaderGetReply(rd, &rep) != REDIS_OK) rep = NULL;
    redisReaderFree(rd);
    return rep;
}

static redisReply *fakeCall(void *ctx, int slot, int argc, const char **argv, const size_t *lens) {
    fake *f = ctx;
    record(f, "call", slot, argc, argv, lens);
    char resp[1024];
    if (strcasecmp(argv[0], "DUMP") == 0) {
        if (lens[1] >= 4 && memcmp(argv[1], "none", 4) == 0) return parse("$-1\r\n");
        /* A temporary after the transaction: gone after RENAME, else changed. */
        if (lens[1] > 12 && memcmp(argv[1], "rdbsync:tmp:", 12) == 0)
            return parse(f->multi_rename ? "$-1\r\n" : "$7\r\nchanged\r\n");
        snprintf(resp, sizeof(resp), "$%zu\r\nv:%.*s\r\n", lens[1] + 2, (int)lens[1], argv[1]);
        return parse(resp);
    }
    if (strcasecmp(argv[0], "PEXPIRETIME") == 0) return parse(":-1\r\n");
    if (strcasecmp(argv[0], "EXEC") == 0) {
        size_t n = (size_t)snprintf(resp, sizeof(resp), "*%d\r\n", f->queued);
        for (int i = 0; i < f->queued; i++) {
            const char *r = f->kinds[i] == 'R' ? "+OK\r\n" : f->kinds[i] == 'E' ? ":-1\r\n"
                            : f->kinds[i] == 'D' ? (f->multi_rename ? "$-1\r\n" : "$7\r\nchanged\r\n") : ":1\r\n";
            n += (size_t)snprintf(resp + n, sizeof(resp) - n, "%s", r);
        }
        return parse(resp);
    }
    return parse("+OK\r\n");
}

/* Run cmds (";"-separated) through a planner over the fake: the trace. */
static const char *plan(keyspecTable *ks, const char *cmds, int skip, int *rc, xslotStats *st, char *err, int *tmp_slot) {
    static fake f;
    memset(&f, 0, sizeof(f));
    f.tmp_slot = -1;
    xslotTarget t = {&f, fakeSend, fakeCall, NULL, NULL};
    xslotOptions o = {.skip_errors = skip, .abs_expire = 1};
    xslot *x = xslotNew(&t, ks, &o);
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", cmds);
    *rc = 0;
    char *save = NULL;
    for (char *one = strtok_r(buf, ";", &save); one && *rc == 0; one = strtok_r(NULL, ";", &save)) {
        const char *argv[32];
        size_t lens[32];
        int argc = split(one, argv, lens, 32);
        *rc = xslotCommand(x, argc, argv, lens);
    }
    if (st) *st = *xslotGetStats(x);
    if (err) snprintf(err, 512, "%s", xslotError(x));
    if (tmp_slot) *tmp_slot = f.tmp_slot;
    xslotFree(x);
    return f.trace;
}

static void plans(keyspecTable *ks) {
    int rc, tmp_slot;
    xslotStats st;
    char err[512];
    int sa = (int)clusterKeySlot("a", 1), sb = (int)clusterKeySlot("b", 1);
    test_cond("xslot.fake.slots_differ", sa != sb);
    test_eq_str("xslot.fake.one_slot", test_fmt("send %d SET a 1", sa), plan(ks, "SET a 1", 0, &rc, NULL, NULL, NULL));
    test_eq_str("xslot.fake.hash_tags", test_fmt("send %d SUNIONSTORE {a}d a {a}x", sa),
                plan(ks, "SUNIONSTORE {a}d a {a}x", 0, &rc, NULL, NULL, NULL));
    TEST("xslot.fake.del_split") {
        CHECK_EQ_STR(test_fmt("send %d DEL a {a}2; send %d DEL b", sa, sb), plan(ks, "DEL a b {a}2", 0, &rc, &st, NULL, NULL));
        CHECK_EQ_UINT(1, st.split);
    }
    test_eq_str("xslot.fake.mset_split", test_fmt("send %d MSET a 1 {a}c 3; send %d MSET b 2", sa, sb),
                plan(ks, "MSET a 1 b 2 {a}c 3", 0, &rc, NULL, NULL, NULL));
    test_eq_str("xslot.fake.keyless", "send all FLUSHALL; send all SCRIPT FLUSH; send any PUBLISH ch m",
                plan(ks, "FLUSHALL;SCRIPT FLUSH;PUBLISH ch m", 0, &rc, NULL, NULL, NULL));
    TEST("xslot.fake.multi_one_slot") {
        CHECK_EQ_STR(test_fmt("send %d MULTI; send %d SET {a}1 x; send %d INCR a; send %d EXEC", sa, sa, sa, sa),
                     plan(ks, "MULTI;SET {a}1 x;INCR a;EXEC", 0, &rc, &st, NULL, NULL));
        CHECK_EQ_UINT(1, st.tx_whole);
        CHECK_EQ_UINT(0, st.tx_split);
    }
    TEST("xslot.fake.multi_split") {
        CHECK_EQ_STR(test_fmt("send %d SET a x; send %d SET b y", sa, sb),
                     plan(ks, "MULTI;SET a x;SET b y;EXEC", 0, &rc, &st, NULL, NULL));
        CHECK_EQ_UINT(0, st.tx_whole);
        CHECK_EQ_UINT(1, st.tx_split);
    }
    TEST("xslot.fake.rename") {
        CHECK_EQ_STR(test_fmt("call %d DUMP a; call %d PEXPIRETIME a; send %d MULTI; send %d RESTORE TMP 0 v:a; "
                              "send %d RENAME TMP b; send %d EXEC; call %d DUMP TMP; send %d DEL a; send %d DEL TMP",
                              sa, sa, sb, sb, sb, sb, sb, sa, sb),
                     plan(ks, "RENAME a b", 0, &rc, &st, NULL, &tmp_slot));
        CHECK_EQ_INT(0, rc);
        CHECK_EQ_INT(sb, tmp_slot); /* the temporary hashes to the destination's slot */
        CHECK_EQ_UINT(1, st.copied);
    }
    TEST("xslot.fake.sunionstore_reads_only") { /* sources are RO: read, never written back */
        CHECK_EQ_STR(test_fmt("call %d DUMP a; call %d PEXPIRETIME a; call %d DUMP none; send %d MULTI; "
                              "send %d RESTORE TMP 0 v:a; send %d SUNIONSTORE b TMP TMP; send %d EXEC; send %d DEL TMP TMP",
                              sa, sa, (int)clusterKeySlot("none", 4), sb, sb, sb, sb, sb),
                     plan(ks, "SUNIONSTORE b a none", 0, &rc, NULL, NULL, NULL));
    }
    TEST("xslot.fake.lmove_writes_back") { /* the source changed: RESTORE REPLACE on its own slot */
        const char *tr = plan(ks, "LMOVE a b LEFT RIGHT", 0, &rc, NULL, NULL, NULL);
        CHECK(strstr(tr, test_fmt("send %d LMOVE TMP b LEFT RIGHT", sb)) != NULL);
        CHECK(strstr(tr, test_fmt("send %d EXEC; call %d DUMP TMP; call %d PEXPIRETIME TMP; send %d RESTORE a 0 changed "
                                  "REPLACE; send %d DEL TMP", sb, sb, sb, sa, sb)) != NULL);
    }
    TEST("xslot.fake.unknown_stops") {
        plan(ks, "NOSUCH a b", 0, &rc, NULL, err, NULL);
        CHECK_EQ_INT(-2, rc);
        CHECK_EQ_STR("stream command NOSUCH cannot be applied on the cluster: NOSUCH: unknown to the target (not in "
                     "its COMMAND table)", err);
    }
    TEST("xslot.fake.unknown_skipped") {
        CHECK_EQ_STR(test_fmt("send %d SET b 1", sb), plan(ks, "NOSUCH a b;SET b 1", 1, &rc, &st, NULL, NULL));
        CHECK_EQ_INT(0, rc);
        CHECK_EQ_UINT(1, st.skipped);
    }
}

/* ---- exactness on a real server ---- */

typedef struct realTarget {
    rsConn *c;
    char err[512];
} realTarget;

static int realSend(void *ctx, int slot, int argc, const char **argv, const size_t *lens) {
    realTarget *t = ctx;
    redisReply *r = connCommand(t->c, argc, argv, lens);
    if (!r) return -1;
    if (r->type == REDIS_REPLY_ERROR && !t->err[0]) snprintf(t->err, sizeof(t->err), "%s: %s", argv[0], r->str);
    freeReplyObject(r);
    return 0;
}

static redisReply *realCall(void *ctx, int slot, int argc, const char **argv, const size_t *lens) {
    return connCommand(((realTarget *)ctx)->c, argc, argv, lens);
}

static const char *setup[] = {
    "SET s1 hello", "SADD set1 a b c", "SADD set2 c d", "SADD {set1}3 x", "ZADD z1 1 a 2 b", "ZADD z2 3 b 4 c",
    "RPUSH l1 x y z", "RPUSH l2 q", "RPUSH one only", "PFADD h1 a b", "PFADD h2 c", "GEOADD g 13.36 38.11 pa 15.08 37.50 ca",
    "SET bits1 abc", "SET bits2 xyz", "RPUSH nums 3 1 2", "SET ttl1 v PXAT 4102444800000", "HSET hh f v",
    "SET m1 1", "SADD smv a", "XADD st 1-1 f v",
};

static const char *cross[] = {
    "RENAME s1 s1moved", "RENAME ttl1 ttl1moved", "RENAMENX hh hhnew", "COPY set1 setcopy", "COPY z1 z2 REPLACE",
    "SMOVE set1 set2 a", "SMOVE smv smvdst a", "LMOVE l1 l2 LEFT RIGHT", "RPOPLPUSH one l2", "SUNIONSTORE su set1 set2 {set1}3",
    "SINTERSTORE si set1 set2", "SDIFFSTORE sd set2 set1", "ZUNIONSTORE zu 2 z1 z2 WEIGHTS 2 3", "ZINTERSTORE zi 2 z1 z2",
    "ZDIFFSTORE zd 2 z2 z1", "ZRANGESTORE zr z2 0 -1", "BITOP XOR bx bits1 bits2", "PFMERGE hm h1 h2",
    "GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 200 km", "GEORADIUS g 15 37 200 km STORE gr", "SORT nums STORE sorted",
    "MSETNX n1 1 n2 2 n3 3", "MSETNX n4 4 m1 5", "MSET ma 1 mb 2 mc 3", "DEL ma mb", "UNLINK mc zd",
    "EVAL redis.call('SET',KEYS[2],redis.call('GET',KEYS[1])..'!') 2 m1 evaldst",
    "MULTI", "INCR m1", "SADD set2 z", "LPUSH l2 w", "EXEC", "XADD st2 5-1 a b", "COPY st stcopy",
    "RENAME stcopy {st}renamed",
};

static int run(rsConn *c, const char *cmd, char *err, size_t cap) {
    char buf[256];
    const char *argv[32];
    size_t lens[32];
    snprintf(buf, sizeof(buf), "%s", cmd);
    /* EVAL's script holds spaces: its body is one argument. */
    int argc;
    if (strncmp(cmd, "EVAL ", 5) == 0) {
        char *body = buf + 5, *sp = strstr(body, " 2 ");
        *sp = '\0';
        argv[0] = "EVAL", lens[0] = 4, argv[1] = body, lens[1] = strlen(body);
        argc = 2 + split(sp + 1, argv + 2, lens + 2, 30);
    } else {
        argc = split(buf, argv, lens, 32);
    }
    redisReply *r = connCommand(c, argc, argv, lens);
    int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (rc < 0) snprintf(err, cap, "%s: %s", cmd, r ? r->str : "no reply");
    if (r) freeReplyObject(r);
    return rc;
}

static int runPlanned(xslot *x, const char *cmd, char *err, size_t cap) {
    char buf[256];
    const char *argv[32];
    size_t lens[32];
    snprintf(buf, sizeof(buf), "%s", cmd);
    int argc;
    if (strncmp(cmd, "EVAL ", 5) == 0) {
        char *body = buf + 5, *sp = strstr(body, " 2 ");
        *sp = '\0';
        argv[0] = "EVAL", lens[0] = 4, argv[1] = body, lens[1] = strlen(body);
        argc = 2 + split(sp + 1, argv + 2, lens + 2, 30);
    } else {
        argc = split(buf, argv, lens, 32);
    }
    int rc = xslotCommand(x, argc, argv, lens);
    if (rc < 0) snprintf(err, cap, "%s: %s", cmd, xslotError(x));
    return rc;
}

static const char *str(rsConn *c, const char *fmt, const char *arg) {
    static char out[2][128];
    static int n;
    redisReply *r = connCommandf(c, fmt, arg);
    char *o = out[n++ & 1];
    if (!r) snprintf(o, 128, "(no reply)");
    else if (r->type == REDIS_REPLY_INTEGER) snprintf(o, 128, "%lld", r->integer);
    else if (r->type == REDIS_REPLY_ARRAY) snprintf(o, 128, "%zu elements", r->elements);
    else snprintf(o, 128, "%s", r->str ? r->str : "nil");
    if (r) freeReplyObject(r);
    return o;
}

/* ver "7.0": key specs, PEXPIRETIME; "6.2": flags unknown (every key
 * compared and written back if changed), PTTL. */
static void exactness(const char *ver, keyspecTable *ks, rsConn *ref, rsConn *dut) {
    int v70 = strcmp(ver, "7.0") == 0;
    char err[512] = "";
    int ok = 1;
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]) && ok; i++)
        ok = run(ref, setup[i], err, sizeof(err)) == 0 && run(dut, setup[i], err, sizeof(err)) == 0;
    if (!test_cond(test_fmt("xslot.real.%s.setup", ver), ok)) {
        printf("# %s\n", err);
        return;
    }
    realTarget rt = {dut, ""};
    xslotTarget t = {&rt, realSend, realCall, NULL, NULL};
    xslotOptions o = {.abs_expire = v70};
    xslot *x = xslotNew(&t, ks, &o);
    int in_multi = 0;
    for (size_t i = 0; i < sizeof(cross) / sizeof(cross[0]); i++) {
        const char *cmd = cross[i];
        char e[512] = "";
        int r1 = run(ref, cmd, e, sizeof(e)), r2 = runPlanned(x, cmd, e, sizeof(e));
        if (strcmp(cmd, "MULTI") == 0) in_multi = 1;
        if (strcmp(cmd, "EXEC") == 0) in_multi = 0;
        test_cond(test_fmt("xslot.real.%s.%.40s", ver, cmd), r1 == 0 && r2 == 0 && !rt.err[0]);
        if (r1 || r2 || rt.err[0]) printf("# %s %s\n", e, rt.err);
        rt.err[0] = '\0';
        (void)in_multi;
    }
    const xslotStats *st = xslotGetStats(x);
    TEST(test_fmt("xslot.real.%s.counts", ver)) {
        CHECK(st->copied >= 20);
        CHECK_EQ_UINT(1, st->tx_split);
        CHECK(v70 ? st->split >= 3 : st->split == 0); /* 6.2: no flags say the keys are independent */
    }
    xslotFree(x);
    test_eq_str(test_fmt("xslot.real.%s.digest", ver), str(ref, "DEBUG DIGEST", NULL), str(dut, "DEBUG DIGEST", NULL));
    test_eq_str(test_fmt("xslot.real.%s.dbsize", ver), str(ref, "DBSIZE", NULL), str(dut, "DBSIZE", NULL));
    test_eq_str(test_fmt("xslot.real.%s.no_temporaries", ver), "0 elements", str(dut, "KEYS rdbsync:tmp:*", NULL));
    if (v70) test_eq_str("xslot.real.7.0.ttl_moved", "4102444800000", str(dut, "PEXPIRETIME %s", "ttl1moved"));
    else { /* a remaining PTTL: within a second of the reference's */
        long long a = atoll(str(ref, "PTTL %s", "ttl1moved")), b = atoll(str(dut, "PTTL %s", "ttl1moved"));
        test_cond("xslot.real.6.2.ttl_moved", a > 0 && b > 0 && llabs(a - b) < 1000);
    }
    test_eq_str(test_fmt("xslot.real.%s.eval", ver), str(ref, "GET %s", "evaldst"), str(dut, "GET %s", "evaldst"));
    test_eq_str(test_fmt("xslot.real.%s.smove_emptied", ver), "0", str(dut, "EXISTS %s", "smv"));
}

static void exactnessOn(const char *ver, const char *p1, const char *p2) {
    rsConn *ref = openPort(p1), *dut = openPort(p2);
    char err[256];
    keyspecTable *ks = ref ? keyspecLoad(connCall, ref, err, sizeof(err)) : NULL;
    if (test_cond(test_fmt("xslot.real.%s.table", ver), ks != NULL && dut != NULL)) exactness(ver, ks, ref, dut);
    keyspecFree(ks);
    connClose(ref);
    connClose(dut);
}

int main(void) {
    const char *p1 = getenv("RDBSYNC_TEST_PORT"), *p2 = getenv("RDBSYNC_TEST_PORT2");
    if (!p1 || !*p1 || !p2 || !*p2) {
        test_skip("xslot", "RDBSYNC_TEST_PORT/RDBSYNC_TEST_PORT2 unset (tests/it_xslot.sh sets them)");
        return test_report();
    }
    rsConn *ref = openPort(p1), *dut = openPort(p2);
    char err[256];
    keyspecTable *ks = ref ? keyspecLoad(connCall, ref, err, sizeof(err)) : NULL;
    if (test_cond("xslot.table", ks != NULL && dut != NULL)) plans(ks);
    keyspecFree(ks);
    connClose(ref);
    connClose(dut);
    exactnessOn("7.0", p1, p2);
    const char *q1 = getenv("RDBSYNC_TEST_PORT_62"), *q2 = getenv("RDBSYNC_TEST_PORT2_62");
    if (q1 && *q1 && q2 && *q2) exactnessOn("6.2", q1, q2);
    else test_skip("xslot.real.6.2", "RDBSYNC_TEST_PORT_62/RDBSYNC_TEST_PORT2_62 unset (no 6.2 build)");
    return test_report();
}

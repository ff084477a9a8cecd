/* test_keyspec.c -- key positions from the target's own command table.
 *
 * Without servers: a hand-written COMMAND reply (7.0 key specs: index and
 * keyword begin_search, range with limit, keynum; a pre-7.0 entry; a
 * subcommand) parsed and searched.
 * With servers (tests/it_keyspec.sh starts them and sets the variables):
 *   RDBSYNC_TEST_PORT     redis-server 7.0 (key specs)
 *   RDBSYNC_TEST_PORT_62  redis-server 6.2 (first/last/step + GETKEYS)
 * the commands whose keys are odd to find (MSET, DEL, RENAME, SUNIONSTORE,
 * ZUNIONSTORE numkeys, EVAL numkeys, XADD, SORT ... STORE, GEOSEARCHSTORE,
 * GEORADIUS ... STORE, BITOP, LMOVE, MIGRATE ... KEYS, XGROUP CREATE)
 * give the same positions on both, with the 7.0 flags that say which key a
 * command writes; EVAL "..." 1 1 is flagged ambiguous where GETKEYS had to
 * place the names; an unknown command is one line naming it.
 */
#include <string.h>

#include "src/conn.h"
#include "src/keyspec.h"
#include "src/url.h"
#include "tests/test.h"

/* "MSET a 1 b 2" into argv ('' is an empty argument). */
static int split(char *s, const char **argv, size_t *lens, int max) {
    int n = 0;
    for (char *tok = strtok(s, " "); tok && n < max; tok = strtok(NULL, " ")) {
        if (strcmp(tok, "''") == 0) tok[0] = '\0';
        argv[n] = tok;
        lens[n++] = strlen(tok);
    }
    return n;
}

/* "1:RW|ACCESS 3:OW" (with_flags) or "1 3"; "error: ..." when not found. */
static const char *keysOf(keyspecTable *t, const char *cmd, int with_flags) {
    static char out[512];
    char buf[512], err[256], fl[128];
    const char *argv[32];
    size_t lens[32];
    snprintf(buf, sizeof(buf), "%s", cmd);
    int argc = split(buf, argv, lens, 32);
    keyspecKeys k = {0};
    if (keyspecFind(t, argc, argv, lens, &k, err, sizeof(err)) < 0) {
        snprintf(out, sizeof(out), "error: %s", err);
        return out;
    }
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < k.n && used < sizeof(out); i++) {
        int n = with_flags ? snprintf(out + used, sizeof(out) - used, "%s%d:%s", i ? " " : "", k.k[i].pos,
                                      keyspecFlagsStr(k.k[i].flags, fl, sizeof(fl)))
                           : snprintf(out + used, sizeof(out) - used, "%s%d", i ? " " : "", k.k[i].pos);
        if (n > 0) used += (size_t)n;
    }
    if (k.ambiguous && used < sizeof(out)) snprintf(out + used, sizeof(out) - used, " (ambiguous)");
    keyspecKeysFree(&k);
    return out;
}

/* ---- a hand-written table ---- */

static const char *resp_table =
    "*4\r\n"
    /* mset: one range spec, lastkey -1, step 2 */
    "*10\r\n$4\r\nmset\r\n:-3\r\n*1\r\n+write\r\n:1\r\n:-1\r\n:2\r\n*0\r\n*0\r\n"
    "*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n$2\r\nOW\r\n$6\r\nupdate\r\n"
    "$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n"
    "$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n"
    "*6\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:2\r\n$5\r\nlimit\r\n:0\r\n"
    "*0\r\n"
    /* xread-like: keyword STREAMS from 1, range lastkey -1 limit 2 */
    "*10\r\n$5\r\nxread\r\n:-4\r\n*1\r\n+movablekeys\r\n:0\r\n:0\r\n:0\r\n*0\r\n*0\r\n"
    "*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n$2\r\nRO\r\n$6\r\naccess\r\n"
    "$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$7\r\nkeyword\r\n$4\r\nspec\r\n"
    "*4\r\n$7\r\nkeyword\r\n$7\r\nSTREAMS\r\n$9\r\nstartfrom\r\n:1\r\n"
    "$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n"
    "*6\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:2\r\n"
    "*0\r\n"
    /* del as a pre-7.0 server describes it */
    "*7\r\n$3\r\ndel\r\n:-2\r\n*1\r\n+write\r\n:1\r\n:-1\r\n:1\r\n*0\r\n"
    /* a container with one subcommand holding a keynum spec */
    "*10\r\n$3\r\nbox\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*0\r\n*0\r\n*0\r\n"
    "*1\r\n*10\r\n$7\r\nbox|put\r\n:-3\r\n*1\r\n+write\r\n:0\r\n:0\r\n:0\r\n*0\r\n*0\r\n"
    "*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n$2\r\nRW\r\n$6\r\ninsert\r\n"
    "$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:2\r\n"
    "$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$6\r\nkeynum\r\n$4\r\nspec\r\n"
    "*6\r\n$9\r\nkeynumidx\r\n:0\r\n$8\r\nfirstkey\r\n:1\r\n$7\r\nkeystep\r\n:2\r\n"
    "*0\r\n";

static void offline(void) {
    redisReader *rd = redisReaderCreate();
    void *rep = NULL;
    redisReaderFeed(rd, resp_table, strlen(resp_table));
    int ok = redisReaderGetReply(rd, &rep) == REDIS_OK && rep;
    redisReaderFree(rd);
    test_cond("keyspec.offline.resp", ok);
    if (!ok) return;
    char err[256];
    keyspecTable *t = keyspecFromReply(rep, NULL, NULL, err, sizeof(err));
    freeReplyObject(rep);
    TEST("keyspec.offline.table") {
        if (!CHECK(t != NULL)) continue;
        CHECK_EQ_INT(5, keyspecCount(t));
        CHECK_EQ_INT(1, keyspecHasSpecs(t));
    }
    if (!t) return;
    test_eq_str("keyspec.offline.mset_step2", "1:OW|UPDATE 3:OW|UPDATE 5:OW|UPDATE", keysOf(t, "mset a 1 b 2 c 3", 1));
    test_eq_str("keyspec.offline.case", "1 3", keysOf(t, "MsEt a 1 b 2", 0));
    test_eq_str("keyspec.offline.keyword_limit", "4:RO|ACCESS 5:RO|ACCESS", keysOf(t, "XREAD COUNT 2 streams s1 s2 0 0", 1));
    test_eq_str("keyspec.offline.keyword_absent", "", keysOf(t, "XREAD COUNT 2", 1));
    test_eq_str("keyspec.offline.pre70_range", "1:UNKNOWN 2:UNKNOWN 3:UNKNOWN", keysOf(t, "DEL a b c", 1));
    test_eq_str("keyspec.offline.subcommand_keynum", "3:RW|INSERT 5:RW|INSERT", keysOf(t, "BOX PUT 2 k1 v1 k2 v2", 1));
    test_eq_str("keyspec.offline.keynum_not_number", "error: BOX: cannot locate its keys (its key count is not a number)",
                keysOf(t, "BOX PUT x k1", 1));
    test_eq_str("keyspec.offline.unknown", "error: NOPE: unknown to the target (not in its COMMAND table)",
                keysOf(t, "NOPE a", 1));
    test_eq_int("keyspec.offline.cmd_flags", KEYSPEC_CMD_WRITE,
                keyspecCommandFlags(t, 1, (const char *[]){"mset"}, (size_t[]){4}));
    keyspecFree(t);
}

/* ---- against real servers ---- */

static redisReply *connCall(void *ctx, int argc, const char **argv, const size_t *lens) {
    return connCommand(ctx, argc, argv, lens);
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

/* Positions the same on 6.2 and 7.0. */
static const struct { const char *name, *cmd, *keys; } same[] = {
    {"mset", "MSET a 1 b 2 c 3", "1 3 5"},
    {"msetnx", "MSETNX a 1 b 2", "1 3"},
    {"del", "DEL a b c", "1 2 3"},
    {"rename", "RENAME src dst", "1 2"},
    {"sunionstore", "SUNIONSTORE d s1 s2 s3", "1 2 3 4"},
    {"zunionstore", "ZUNIONSTORE d 2 z1 z2 WEIGHTS 1 2", "1 3 4"},
    {"eval", "EVAL return 2 k1 k2 a1", "3 4"},
    {"eval_nokeys", "EVAL return 0 a1", ""},
    {"xadd", "XADD s MAXLEN 10 * f v", "1"},
    {"sort_store", "SORT l BY w GET x STORE d", "1 7"},
    {"sort_plain", "SORT l LIMIT 0 1", "1"},
    {"georadius_store", "GEORADIUS g 1 2 3 m STORE d", "1 7"},
    {"bitop", "BITOP AND d a b", "2 3 4"},
    {"lmove", "LMOVE s d LEFT RIGHT", "1 2"},
    {"rpoplpush", "RPOPLPUSH s d", "1 2"},
    {"migrate", "MIGRATE h 1 '' 0 5 KEYS a b", "7 8"},
    {"migrate_one", "MIGRATE h 1 k 0 5", "3"},
    {"xgroup_create", "XGROUP CREATE s g $ MKSTREAM", "2"},
    {"copy", "COPY a b REPLACE", "1 2"},
    {"smove", "SMOVE a b m", "1 2"},
    {"pfmerge", "PFMERGE d a b", "1 2 3"},
    {"set", "SET k v PX 100", "1"},
    {"flushall", "FLUSHALL", ""},
};

/* 7.0: which key is written, from the key specs. */
static const struct { const char *name, *cmd, *keys; } flags70[] = {
    {"rename", "RENAME src dst", "1:RW|ACCESS|DELETE 2:OW|UPDATE"},
    {"sunionstore", "SUNIONSTORE d s1 s2", "1:OW|UPDATE 2:RO|ACCESS 3:RO|ACCESS"},
    {"zunionstore", "ZUNIONSTORE d 2 z1 z2 WEIGHTS 1 2", "1:OW|UPDATE 3:RO|ACCESS 4:RO|ACCESS"},
    {"geosearchstore", "GEOSEARCHSTORE d g FROMLONLAT 1 2 BYRADIUS 3 m", "1:OW|UPDATE 2:RO|ACCESS"},
    {"georadius_store", "GEORADIUS g 1 2 3 m STORE d", "1:RO|ACCESS 7:OW|UPDATE"},
    {"lmove", "LMOVE s d LEFT RIGHT", "1:RW|ACCESS|DELETE 2:RW|INSERT"},
    {"del", "DEL a b", "1:RM|DELETE 2:RM|DELETE"},
    {"mset", "MSET a 1 b 2", "1:OW|UPDATE 3:OW|UPDATE"},
    {"eval", "EVAL return 2 k1 k2", "3:RW|ACCESS|UPDATE 4:RW|ACCESS|UPDATE"},
    {"sort_store", "SORT l STORE d", "1:RO|ACCESS 3:UNKNOWN"},
    {"bitop", "BITOP OR d a b", "2:OW|UPDATE 3:RO|ACCESS 4:RO|ACCESS"},
};

static void against(const char *port, const char *ver) {
    rsConn *c = openPort(port);
    test_cond(test_fmt("keyspec.%s.connect", ver), c != NULL);
    if (!c) return;
    char err[256];
    keyspecTable *t = keyspecLoad(connCall, c, err, sizeof(err));
    TEST(test_fmt("keyspec.%s.load", ver)) {
        if (!CHECK(t != NULL)) continue;
        CHECK(keyspecCount(t) > 150);
        CHECK_EQ_INT(strcmp(ver, "7.0") == 0, keyspecHasSpecs(t));
    }
    if (t) {
        for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
            test_eq_str(test_fmt("keyspec.%s.%s", ver, same[i].name), same[i].keys, keysOf(t, same[i].cmd, 0));
        if (keyspecHasSpecs(t))
            for (size_t i = 0; i < sizeof(flags70) / sizeof(flags70[0]); i++)
                test_eq_str(test_fmt("keyspec.%s.flags.%s", ver, flags70[i].name), flags70[i].keys,
                            keysOf(t, flags70[i].cmd, 1));
        /* 6.2 places EVAL's key names itself: "1" is also the key count. */
        if (!keyspecHasSpecs(t)) test_eq_str("keyspec.6.2.eval_ambiguous", "2 (ambiguous)", keysOf(t, "EVAL return 1 1", 0));
        test_eq_str(test_fmt("keyspec.%s.unknown", ver), "error: NOSUCH: unknown to the target (not in its COMMAND table)",
                    keysOf(t, "NOSUCH a", 0));
        test_cond(test_fmt("keyspec.%s.arity_error", ver),
                  strncmp(keysOf(t, "SORT", 0), "error: SORT: cannot locate its keys: COMMAND GETKEYS: ERR", 57) == 0 ||
                      strcmp(keysOf(t, "SORT", 0), "") == 0);
        test_eq_int(test_fmt("keyspec.%s.write_flag", ver), KEYSPEC_CMD_WRITE,
                    keyspecCommandFlags(t, 2, (const char *[]){"del", "x"}, (size_t[]){3, 1}) & KEYSPEC_CMD_WRITE);
    }
    keyspecFree(t);
    connClose(c);
}

int main(void) {
    offline();
    const char *p70 = getenv("RDBSYNC_TEST_PORT"), *p62 = getenv("RDBSYNC_TEST_PORT_62");
    if (p70 && *p70) against(p70, "7.0");
    else test_skip("keyspec.7.0", "RDBSYNC_TEST_PORT unset (tests/it_keyspec.sh sets it)");
    if (p62 && *p62) against(p62, "6.2");
    else test_skip("keyspec.6.2", "RDBSYNC_TEST_PORT_62 unset (tests/it_keyspec.sh sets it)");
    return test_report();
}

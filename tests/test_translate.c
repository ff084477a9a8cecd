/* test_translate.c -- translate.h's table and streamstage.h's filter stage.
 *
 * Each case is a command as a replication stream carries it and a target
 * version; the output is every command to send, joined with " | " (the
 * verdict's name when nothing is sent). Targets: Redis 2.8.24, 6.0.0,
 * 6.2.16, 7.0.15, 7.4.1, 8.0 and Valkey 8.0.1.
 */
#include "src/streamstage.h"
#include "src/translate.h"
#include "tests/test.h"

static rsServerInfo server(int major, int minor, int patch, int valkey) {
    rsServerInfo i = {0};
    i.major = major, i.minor = minor, i.patch = patch, i.is_valkey = valkey;
    return i;
}

/* Split "A B C" on spaces into argv (in static storage). */
static int split(const char *in, const char **argv, size_t *lens, char *buf, size_t cap) {
    int argc = 0;
    snprintf(buf, cap, "%s", in);
    for (char *t = strtok(buf, " "); t && argc < 32; t = strtok(NULL, " ")) argv[argc] = t, lens[argc++] = strlen(t);
    return argc;
}

static void join(const xlateOut *o, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (int c = 0; c < o->n; c++)
        for (int i = 0; i < o->argc[c]; i++)
            n += (size_t)snprintf(out + n, cap - n, "%s%s%.*s", c && !i ? " | " : "", i ? " " : "",
                                  (int)o->lens[c][i], o->argv[c][i]);
}

static const char *xl(rsServerInfo t, int drop, const char *cmd, int in_multi) {
    static char out[1024];
    char buf[512], why[300];
    const char *argv[32];
    size_t lens[32];
    int argc = split(cmd, argv, lens, buf, sizeof(buf));
    xlateTarget xt = {t, drop};
    xlateOut o;
    xlateVerdict v = translateCommand(&xt, argc, argv, lens, in_multi, &o, why, sizeof(why));
    if (v == XLATE_DROPPED_FIELD_TTL) snprintf(out, sizeof(out), "DROPPED");
    else if (v == XLATE_NO_EQUIVALENT) snprintf(out, sizeof(out), "NONE: %s", why);
    else if (o.n == 0) snprintf(out, sizeof(out), "NOTHING");
    else join(&o, out, sizeof(out));
    xlateOutFree(&o);
    return out;
}

static void translations(void) {
    rsServerInfo r28 = server(2, 8, 24, 0), r60 = server(6, 0, 0, 0), r62 = server(6, 2, 16, 0),
                 r70 = server(7, 0, 15, 0), r74 = server(7, 4, 1, 0), vk8 = server(8, 0, 1, 1),
                 r80 = server(8, 0, 0, 0);
    static const struct { const char *name; int t; const char *in, *want; int in_multi; } cases[] = {
        {"set_pxat", 0, "SET k v PXAT 1700000000000", "MULTI | SET k v | PEXPIREAT k 1700000000000 | EXEC", 0},
        {"set_pxat_in_multi", 0, "SET k v PXAT 17", "SET k v | PEXPIREAT k 17", 1},
        {"set_exat", 0, "set k v exat 1700000000", "MULTI | set k v | PEXPIREAT k 1700000000000 | EXEC", 0},
        {"set_get", 0, "SET k v GET", "SET k v", 0},
        {"set_nx_px_get", 0, "SET k v NX PX 100 GET", "SET k v NX PX 100", 0},
        {"set_plain", 0, "SET k v", "SET k v", 0},
        {"set_ex", 0, "SET k v EX 10", "SET k v EX 10", 0},
        {"set_keepttl", 0, "SET k v KEEPTTL", "NONE", 0},
        {"getex_plain", 0, "GETEX k", "NOTHING", 0},
        {"getex_px", 0, "GETEX k PX 500", "PEXPIRE k 500", 0},
        {"getex_exat", 0, "GETEX k EXAT 1700000000", "EXPIREAT k 1700000000", 0},
        {"getex_persist", 0, "GETEX k PERSIST", "PERSIST k", 0},
        {"getdel", 0, "GETDEL k", "DEL k", 0},
        {"lmove_right_left", 0, "LMOVE a b RIGHT LEFT", "RPOPLPUSH a b", 0},
        {"blmove_right_left", 0, "BLMOVE a b RIGHT LEFT 0", "RPOPLPUSH a b", 0},
        {"lmove_left_right", 0, "LMOVE a b LEFT RIGHT", "EVAL", 0},
        {"expire_gt", 0, "PEXPIREAT k 17 GT", "PEXPIREAT k 17", 0},
        {"expire_nx", 0, "EXPIRE k 10 NX", "EXPIRE k 10", 0},
        {"zadd_nx_one", 0, "ZADD z NX 1 a", "ZADD z 1 a", 0},
        {"zadd_incr", 0, "ZADD z INCR 2 a", "ZINCRBY z 2 a", 0},
        {"zadd_ch_many", 0, "ZADD z CH 1 a 2 b", "ZADD z 1 a 2 b", 0},
        {"zadd_nx_many", 0, "ZADD z NX 1 a 2 b", "NONE", 0},
        {"zadd_plain", 0, "ZADD z 1 a 2 b", "ZADD z 1 a 2 b", 0},
        {"unlink", 0, "UNLINK a b", "DEL a b", 0},
        {"hset_pairs", 0, "HSET h a 1 b 2", "HMSET h a 1 b 2", 0},
        {"hset_pair", 0, "HSET h a 1", "HSET h a 1", 0},
        {"flushall_async", 0, "FLUSHALL ASYNC", "FLUSHALL", 0},
        {"xadd", 0, "XADD s * f v", "NONE", 0},
        {"copy", 0, "COPY a b", "NONE", 0},
        {"restore_absttl", 0, "RESTORE k 17 payload ABSTTL", "NONE", 0},
        {"hexpire", 0, "HEXPIRE h 10 FIELDS 1 f", "NONE", 0},
        {"hgetdel", 0, "HGETDEL h FIELDS 2 a b", "HDEL h a b", 0},
        /* targets that have them: untouched */
        {"set_pxat_62", 2, "SET k v PXAT 17", "SET k v PXAT 17", 0},
        {"set_keepttl_60", 1, "SET k v KEEPTTL", "SET k v KEEPTTL", 0},
        {"set_nx_get_62", 2, "SET k v NX GET", "SET k v NX", 0},
        {"set_nx_get_70", 3, "SET k v NX GET", "SET k v NX GET", 0},
        {"expire_gt_70", 3, "PEXPIREAT k 17 GT", "PEXPIREAT k 17 GT", 0},
        {"zadd_gt_62", 2, "ZADD z GT 1 a", "ZADD z GT 1 a", 0},
        {"zadd_gt_60", 1, "ZADD z GT 1 a", "ZADD z 1 a", 0},
        {"hexpire_74", 4, "HEXPIRE h 10 FIELDS 1 f", "HEXPIRE h 10 FIELDS 1 f", 0},
        {"hexpire_70", 3, "HPEXPIREAT h 17 FIELDS 1 f", "NONE", 0},
        {"hexpire_valkey8", 5, "HPERSIST h FIELDS 1 f", "NONE", 0},
        {"lmove_valkey8", 5, "LMOVE a b LEFT RIGHT", "LMOVE a b LEFT RIGHT", 0},
        {"hsetex_ttl_74", 4, "HSETEX h PX 100 FIELDS 2 a 1 b 2",
         "MULTI | HSET h a 1 b 2 | HPEXPIRE h 100 FIELDS 2 a b | EXEC", 0},
        {"hsetex_fnx_74", 4, "HSETEX h FNX FIELDS 1 a 1", "HSET h a 1", 0},
        {"hsetex_keepttl_74", 4, "HSETEX h KEEPTTL FIELDS 1 a 1", "NONE", 0},
        {"hsetex_keepttl_70", 3, "HSETEX h KEEPTTL FIELDS 1 a 1", "HSET h a 1", 0},
        {"hsetex_ttl_70", 3, "HSETEX h EX 10 FIELDS 1 a 1", "NONE", 0},
        {"hsetex_pairs_28", 0, "HSETEX h FIELDS 2 a 1 b 2", "HMSET h a 1 b 2", 0},
        {"hsetex_80", 6, "HSETEX h EX 10 FIELDS 1 a 1", "HSETEX h EX 10 FIELDS 1 a 1", 0},
        {"hsetex_bad_count", 4, "HSETEX h FIELDS 3 a 1", "HSETEX h FIELDS 3 a 1", 0},
        {"hgetex_persist_74", 4, "HGETEX h PERSIST FIELDS 1 a", "HPERSIST h FIELDS 1 a", 0},
        {"hgetex_persist_70", 3, "HGETEX h PERSIST FIELDS 1 a", "NOTHING", 0},
        {"hgetex_pxat_74", 4, "HGETEX h PXAT 17 FIELDS 2 a b", "HPEXPIREAT h 17 FIELDS 2 a b", 0},
        {"hgetex_pxat_70", 3, "HGETEX h PXAT 17 FIELDS 1 a", "NONE", 0},
        {"hgetex_read", 4, "HGETEX h FIELDS 1 a", "NOTHING", 0},
        {"hgetdel_80", 6, "HGETDEL h FIELDS 1 a", "HGETDEL h FIELDS 1 a", 0},
        {"hgetdel_valkey8", 5, "HGETDEL h FIELDS 1 a", "HDEL h a", 0},
    };
    rsServerInfo targets[] = {r28, r60, r62, r70, r74, vk8, r80};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = xl(targets[cases[i].t], 0, cases[i].in, cases[i].in_multi);
        size_t wl = strlen(cases[i].want);
        test_cond(test_fmt("translate.%s", cases[i].name), strncmp(got, cases[i].want, wl) == 0 &&
                  (got[wl] == '\0' || got[wl] == ':' || strcmp(cases[i].want, "EVAL") == 0));
        if (strncmp(got, cases[i].want, wl) != 0) printf("#   got: %s\n", got);
    }
    test_eq_str("translate.field_ttl_dropped", "DROPPED", xl(r70, 1, "HPEXPIRE h 10 FIELDS 1 f", 0));
    test_eq_str("translate.hgetex_dropped", "DROPPED", xl(r70, 1, "HGETEX h EX 10 FIELDS 1 f", 0));
    test_eq_str("translate.hsetex_without_ttls", "HSET h a 1", xl(r70, 1, "HSETEX h EX 10 FIELDS 1 a 1", 0));
    test_cond("translate.none_names_command",
              strstr(xl(r28, 0, "XADD s * f v", 0), "XADD") && strstr(xl(r28, 0, "XADD s * f v", 0), "Redis 5.0"));
}

/* The filter stage, through stageCommand: what is sent, or the verdict. */
static const char *st(streamStage *s, const char *cmd) {
    static char out[1024];
    char buf[512];
    const char *argv[32];
    size_t lens[32];
    int argc = split(cmd, argv, lens, buf, sizeof(buf));
    stageOut o;
    stageVerdict v = stageCommand(s, argc, argv, lens, 0, &o);
    if (v == STAGE_DROP) snprintf(out, sizeof(out), "DROP");
    else if (v == STAGE_STOP) snprintf(out, sizeof(out), "STOP: %s", o.why);
    else join(&o.x, out, sizeof(out));
    stageOutFree(&o);
    return out;
}

static void stages(void) {
    rsServerInfo r70 = server(7, 0, 15, 0);
    importOptions imp = {0};
    keyFilter *f = filterNew();
    filterAddMatch(f, "user:*");
    streamStage *s = stageNew(f, &r70, &imp);
    test_eq_str("stage.pass", "SET user:1 v", st(s, "SET user:1 v"));
    test_eq_str("stage.drop", "DROP", st(s, "SET other v"));
    test_eq_str("stage.mset_all_in", "MSET user:1 a user:2 b", st(s, "MSET user:1 a user:2 b"));
    test_eq_str("stage.del_all_out", "DROP", st(s, "DEL a b c"));
    test_cond("stage.partial_stops", strstr(st(s, "MSET user:1 a other b"), "STOP: MSET has keys selected") != NULL);
    test_cond("stage.partial_names_keys", strstr(st(s, "RENAME user:1 other"), "'user:1'") &&
                                              strstr(st(s, "RENAME user:1 other"), "'other'"));
    test_eq_str("stage.eval_numkeys", "DROP", st(s, "EVAL script 1 other user:1"));
    test_eq_str("stage.keyless", "FLUSHALL", st(s, "FLUSHALL"));
    test_eq_str("stage.zunionstore", "DROP", st(s, "ZUNIONSTORE other 2 x y"));
    test_cond("stage.zunionstore_partial", strncmp(st(s, "ZUNIONSTORE user:d 2 user:x y"), "STOP", 4) == 0);
    test_eq_uint("stage.counted", 4, stageGetStats(s)->filtered);
    stageFree(s);
    imp.on_error = ONERROR_SKIP;
    s = stageNew(f, &r70, &imp);
    test_eq_str("stage.partial_skip", "DROP", st(s, "MSET user:1 a other b"));
    test_eq_uint("stage.partial_skip_counted", 1, stageSkipped(s));
    stageFree(s);
    filterFree(f);

    f = filterNew();
    filterAddType(f, "hash");
    imp.on_error = ONERROR_STOP;
    s = stageNew(f, &r70, &imp);
    test_eq_str("stage.type_in", "HSET h f v", st(s, "HSET h f v"));
    test_eq_str("stage.type_out", "DROP", st(s, "LPUSH l a"));
    test_eq_str("stage.type_overwrite_del", "DEL k", st(s, "SET k v"));
    test_eq_str("stage.type_mset_del", "DEL a b", st(s, "MSET a 1 b 2"));
    test_eq_str("stage.type_store_del", "DEL d", st(s, "SUNIONSTORE d a b"));
    test_eq_str("stage.type_generic", "DEL x", st(s, "DEL x"));
    test_cond("stage.type_rename_guarded", strncmp(st(s, "RENAME a b"), "EVAL if redis.call('exists'", 27) == 0);
    test_cond("stage.type_copy_db_stops", strncmp(st(s, "COPY a b DB 3"), "STOP", 4) == 0);
    stageFree(s);
    filterFree(f);
}

static void keys(void) {
    TEST("cmdkeys.forms") {
        char buf[512];
        const char *argv[32];
        size_t lens[32];
        cmdKeyInfo ki;
        int argc = split("SORT src BY x STORE dst", argv, lens, buf, sizeof(buf));
        CHECK_EQ_INT(0, cmdKeys(argc, argv, lens, &ki));
        CHECK_EQ_INT(2, ki.n);
        CHECK_EQ_INT(5, ki.pos[1]);
        cmdKeysFree(&ki);
        argc = split("BLMPOP 0 2 a b LEFT", argv, lens, buf, sizeof(buf));
        CHECK_EQ_INT(0, cmdKeys(argc, argv, lens, &ki));
        CHECK_EQ_INT(2, ki.n);
        cmdKeysFree(&ki);
        argc = split("EVAL s 5 a", argv, lens, buf, sizeof(buf));
        CHECK_EQ_INT(-1, cmdKeys(argc, argv, lens, &ki)); /* numkeys past the arguments */
        cmdKeysFree(&ki);
        argc = split("XGROUP CREATE s g $", argv, lens, buf, sizeof(buf));
        CHECK_EQ_INT(0, cmdKeys(argc, argv, lens, &ki));
        CHECK_EQ_INT(1, ki.n);
        CHECK_EQ_INT(2, ki.pos[0]);
        cmdKeysFree(&ki);
        argc = split("JSON.SET doc $ 1", argv, lens, buf, sizeof(buf)); /* unknown: key at 1 */
        CHECK_EQ_INT(0, cmdKeys(argc, argv, lens, &ki));
        CHECK_EQ_INT(1, ki.n);
        CHECK_EQ_INT(RDB_LT_MODULE, ki.type);
        cmdKeysFree(&ki);
    }
    TEST("cmdkeys.many") { /* past the inline positions */
        static const char *argv[201];
        static size_t lens[201];
        cmdKeyInfo ki;
        argv[0] = "DEL", lens[0] = 3;
        for (int i = 1; i < 201; i++) argv[i] = "k", lens[i] = 1;
        CHECK_EQ_INT(0, cmdKeys(201, argv, lens, &ki));
        CHECK_EQ_INT(200, ki.n);
        CHECK_EQ_INT(200, ki.pos[199]);
        cmdKeysFree(&ki);
    }
}

int main(void) {
    translations();
    stages();
    keys();
    return test_report();
}

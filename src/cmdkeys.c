/* cmdkeys.c -- key positions and type classes of write commands (see
 * cmdkeys.h). One static table, searched linearly (the stream's commands
 * are few distinct names; a miss falls to argv[1]).
 */
#include "cmdkeys.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum {
    F_PLAIN = 0, /* keys first..last (negative: from the end) every step */
    F_NUMKEYS,   /* numkeys at argv[first], the keys after it; dest at 1 when last == 1 */
    F_SORT,      /* key 1, and the argument after STORE */
    F_GEORADIUS, /* key 1, and the arguments after STORE / STOREDIST */
    F_XGROUP,    /* a subcommand: key at 2 */
} keyForm;

typedef struct cmdSpec {
    const char *name;
    int first, last, step;
    int type;      /* RDB_LT_* or CMDTYPE_* */
    keyForm form;
    int dest;      /* overwritten key position: 0 none, -1 every key (MSET), n argv[n] */
} cmdSpec;

#define S RDB_LT_STRING
#define L RDB_LT_LIST
#define T RDB_LT_SET
#define Z RDB_LT_ZSET
#define H RDB_LT_HASH
#define X RDB_LT_STREAM
#define G CMDTYPE_GENERIC
#define N CMDTYPE_KEYLESS

static const cmdSpec specs[] = {
    /* keyless */
    {"PING", 0, 0, 0, N, F_PLAIN, 0}, {"SELECT", 0, 0, 0, N, F_PLAIN, 0}, {"MULTI", 0, 0, 0, N, F_PLAIN, 0},
    {"EXEC", 0, 0, 0, N, F_PLAIN, 0}, {"DISCARD", 0, 0, 0, N, F_PLAIN, 0}, {"FLUSHALL", 0, 0, 0, N, F_PLAIN, 0},
    {"FLUSHDB", 0, 0, 0, N, F_PLAIN, 0}, {"SWAPDB", 0, 0, 0, N, F_PLAIN, 0}, {"PUBLISH", 0, 0, 0, N, F_PLAIN, 0},
    {"SPUBLISH", 0, 0, 0, N, F_PLAIN, 0}, {"FUNCTION", 0, 0, 0, N, F_PLAIN, 0}, {"SCRIPT", 0, 0, 0, N, F_PLAIN, 0},
    {"REPLCONF", 0, 0, 0, N, F_PLAIN, 0}, {"CLIENT", 0, 0, 0, N, F_PLAIN, 0},
    /* generic */
    {"DEL", 1, -1, 1, G, F_PLAIN, 0}, {"UNLINK", 1, -1, 1, G, F_PLAIN, 0}, {"TOUCH", 1, -1, 1, G, F_PLAIN, 0},
    {"EXPIRE", 1, 1, 1, G, F_PLAIN, 0}, {"PEXPIRE", 1, 1, 1, G, F_PLAIN, 0}, {"EXPIREAT", 1, 1, 1, G, F_PLAIN, 0},
    {"PEXPIREAT", 1, 1, 1, G, F_PLAIN, 0}, {"PERSIST", 1, 1, 1, G, F_PLAIN, 0}, {"MOVE", 1, 1, 1, G, F_PLAIN, 0},
    {"RENAME", 1, 2, 1, G, F_PLAIN, 2}, {"RENAMENX", 1, 2, 1, G, F_PLAIN, 0}, {"COPY", 1, 2, 1, G, F_PLAIN, 2},
    {"RESTORE", 1, 1, 1, G, F_PLAIN, 1}, {"RESTORE-ASKING", 1, 1, 1, G, F_PLAIN, 1},
    {"SORT", 1, 1, 1, L, F_SORT, 0},
    {"EVAL", 2, 0, 1, G, F_NUMKEYS, 0}, {"EVALSHA", 2, 0, 1, G, F_NUMKEYS, 0}, {"FCALL", 2, 0, 1, G, F_NUMKEYS, 0},
    /* strings (HyperLogLogs and bitmaps are strings) */
    {"SET", 1, 1, 1, S, F_PLAIN, 1}, {"SETEX", 1, 1, 1, S, F_PLAIN, 1}, {"PSETEX", 1, 1, 1, S, F_PLAIN, 1},
    {"GETSET", 1, 1, 1, S, F_PLAIN, 1}, {"MSET", 1, -1, 2, S, F_PLAIN, -1}, {"MSETNX", 1, -1, 2, S, F_PLAIN, 0},
    {"SETNX", 1, 1, 1, S, F_PLAIN, 0}, {"APPEND", 1, 1, 1, S, F_PLAIN, 0}, {"SETRANGE", 1, 1, 1, S, F_PLAIN, 0},
    {"INCR", 1, 1, 1, S, F_PLAIN, 0}, {"DECR", 1, 1, 1, S, F_PLAIN, 0}, {"INCRBY", 1, 1, 1, S, F_PLAIN, 0},
    {"DECRBY", 1, 1, 1, S, F_PLAIN, 0}, {"INCRBYFLOAT", 1, 1, 1, S, F_PLAIN, 0}, {"GETEX", 1, 1, 1, S, F_PLAIN, 0},
    {"GETDEL", 1, 1, 1, S, F_PLAIN, 0}, {"SETBIT", 1, 1, 1, S, F_PLAIN, 0}, {"BITFIELD", 1, 1, 1, S, F_PLAIN, 0},
    {"BITOP", 2, -1, 1, S, F_PLAIN, 2}, {"PFADD", 1, 1, 1, S, F_PLAIN, 0}, {"PFMERGE", 1, -1, 1, S, F_PLAIN, 0},
    {"PFCOUNT", 1, -1, 1, S, F_PLAIN, 0},
    /* lists */
    {"LPUSH", 1, 1, 1, L, F_PLAIN, 0}, {"RPUSH", 1, 1, 1, L, F_PLAIN, 0}, {"LPUSHX", 1, 1, 1, L, F_PLAIN, 0},
    {"RPUSHX", 1, 1, 1, L, F_PLAIN, 0}, {"LINSERT", 1, 1, 1, L, F_PLAIN, 0}, {"LSET", 1, 1, 1, L, F_PLAIN, 0},
    {"LREM", 1, 1, 1, L, F_PLAIN, 0}, {"LTRIM", 1, 1, 1, L, F_PLAIN, 0}, {"LPOP", 1, 1, 1, L, F_PLAIN, 0},
    {"RPOP", 1, 1, 1, L, F_PLAIN, 0}, {"RPOPLPUSH", 1, 2, 1, L, F_PLAIN, 0}, {"LMOVE", 1, 2, 1, L, F_PLAIN, 0},
    {"BLMOVE", 1, 2, 1, L, F_PLAIN, 0}, {"BRPOPLPUSH", 1, 2, 1, L, F_PLAIN, 0}, {"BLPOP", 1, -2, 1, L, F_PLAIN, 0},
    {"BRPOP", 1, -2, 1, L, F_PLAIN, 0}, {"LMPOP", 1, 0, 1, L, F_NUMKEYS, 0}, {"BLMPOP", 2, 0, 1, L, F_NUMKEYS, 0},
    /* sets */
    {"SADD", 1, 1, 1, T, F_PLAIN, 0}, {"SREM", 1, 1, 1, T, F_PLAIN, 0}, {"SPOP", 1, 1, 1, T, F_PLAIN, 0},
    {"SMOVE", 1, 2, 1, T, F_PLAIN, 0}, {"SINTERSTORE", 1, -1, 1, T, F_PLAIN, 1},
    {"SUNIONSTORE", 1, -1, 1, T, F_PLAIN, 1}, {"SDIFFSTORE", 1, -1, 1, T, F_PLAIN, 1},
    /* sorted sets (geo sets are sorted sets) */
    {"ZADD", 1, 1, 1, Z, F_PLAIN, 0}, {"ZINCRBY", 1, 1, 1, Z, F_PLAIN, 0}, {"ZREM", 1, 1, 1, Z, F_PLAIN, 0},
    {"ZREMRANGEBYSCORE", 1, 1, 1, Z, F_PLAIN, 0}, {"ZREMRANGEBYRANK", 1, 1, 1, Z, F_PLAIN, 0},
    {"ZREMRANGEBYLEX", 1, 1, 1, Z, F_PLAIN, 0}, {"ZPOPMIN", 1, 1, 1, Z, F_PLAIN, 0},
    {"ZPOPMAX", 1, 1, 1, Z, F_PLAIN, 0}, {"BZPOPMIN", 1, -2, 1, Z, F_PLAIN, 0}, {"BZPOPMAX", 1, -2, 1, Z, F_PLAIN, 0},
    {"ZUNIONSTORE", 2, 1, 1, Z, F_NUMKEYS, 1}, {"ZINTERSTORE", 2, 1, 1, Z, F_NUMKEYS, 1},
    {"ZDIFFSTORE", 2, 1, 1, Z, F_NUMKEYS, 1}, {"ZRANGESTORE", 1, 2, 1, Z, F_PLAIN, 1},
    {"ZMPOP", 1, 0, 1, Z, F_NUMKEYS, 0}, {"BZMPOP", 2, 0, 1, Z, F_NUMKEYS, 0},
    {"GEOADD", 1, 1, 1, Z, F_PLAIN, 0}, {"GEORADIUS", 1, 1, 1, Z, F_GEORADIUS, 0},
    {"GEORADIUSBYMEMBER", 1, 1, 1, Z, F_GEORADIUS, 0}, {"GEOSEARCHSTORE", 1, 2, 1, Z, F_PLAIN, 1},
    /* hashes */
    {"HSET", 1, 1, 1, H, F_PLAIN, 0}, {"HSETNX", 1, 1, 1, H, F_PLAIN, 0}, {"HMSET", 1, 1, 1, H, F_PLAIN, 0},
    {"HDEL", 1, 1, 1, H, F_PLAIN, 0}, {"HINCRBY", 1, 1, 1, H, F_PLAIN, 0}, {"HINCRBYFLOAT", 1, 1, 1, H, F_PLAIN, 0},
    {"HEXPIRE", 1, 1, 1, H, F_PLAIN, 0}, {"HPEXPIRE", 1, 1, 1, H, F_PLAIN, 0},
    {"HEXPIREAT", 1, 1, 1, H, F_PLAIN, 0}, {"HPEXPIREAT", 1, 1, 1, H, F_PLAIN, 0},
    {"HPERSIST", 1, 1, 1, H, F_PLAIN, 0}, {"HSETEX", 1, 1, 1, H, F_PLAIN, 0}, {"HGETEX", 1, 1, 1, H, F_PLAIN, 0},
    {"HGETDEL", 1, 1, 1, H, F_PLAIN, 0},
    /* streams */
    {"XADD", 1, 1, 1, X, F_PLAIN, 0}, {"XDEL", 1, 1, 1, X, F_PLAIN, 0}, {"XTRIM", 1, 1, 1, X, F_PLAIN, 0},
    {"XSETID", 1, 1, 1, X, F_PLAIN, 0}, {"XCLAIM", 1, 1, 1, X, F_PLAIN, 0}, {"XAUTOCLAIM", 1, 1, 1, X, F_PLAIN, 0},
    {"XACK", 1, 1, 1, X, F_PLAIN, 0}, {"XGROUP", 2, 2, 1, X, F_XGROUP, 0},
};

#undef S
#undef L
#undef T
#undef Z
#undef H
#undef X
#undef G
#undef N

static const cmdSpec *lookup(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        if (strlen(specs[i].name) == len && strncasecmp(specs[i].name, name, len) == 0) return &specs[i];
    return NULL;
}

static int addKey(cmdKeyInfo *ki, int pos) {
    if (ki->n == ki->cap) {
        int cap = ki->cap * 4;
        int *np = ki->pos == ki->inline_pos ? malloc(sizeof(int) * (size_t)cap)
                                             : realloc(ki->pos, sizeof(int) * (size_t)cap);
        if (!np) return -1;
        if (ki->pos == ki->inline_pos) memcpy(np, ki->inline_pos, sizeof(ki->inline_pos));
        ki->pos = np, ki->cap = cap;
    }
    ki->pos[ki->n++] = pos;
    return 0;
}

void cmdKeysFree(cmdKeyInfo *ki) {
    if (ki->pos && ki->pos != ki->inline_pos) free(ki->pos);
    ki->pos = ki->inline_pos;
}

static int addDest(cmdKeyInfo *ki, int pos) {
    if (ki->ndest < 4) ki->dest[ki->ndest++] = pos;
    else ki->dest_more = 1;
    ki->overwrites = 1;
    return addKey(ki, pos);
}

/* A non-negative decimal argument, or -1. */
static long argNum(const char *s, size_t len) {
    char buf[24], *end;
    if (len == 0 || len >= sizeof(buf)) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    long v = strtol(buf, &end, 10);
    return *end || v < 0 ? -1 : v;
}

static int argIs(const char *s, size_t len, const char *word) {
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

static int plainKeys(const cmdSpec *sp, int argc, cmdKeyInfo *ki) {
    int last = sp->last < 0 ? argc + sp->last : sp->last;
    int rc = 0;
    for (int i = sp->first; i <= last && i < argc && rc == 0; i += sp->step)
        rc = sp->dest == -1 || sp->dest == i ? addDest(ki, i) : addKey(ki, i);
    return rc;
}

/* numkeys at argv[first], that many keys after it; ZUNIONSTORE & co.
 * also write their destination at argv[1]. */
static int numKeys(const cmdSpec *sp, int argc, const char **argv, const size_t *lens, cmdKeyInfo *ki) {
    if (sp->first >= argc) return -1;
    long nk = argNum(argv[sp->first], lens[sp->first]);
    if (nk < 0 || sp->first + nk >= argc) return -1;
    int rc = sp->dest == 1 ? addDest(ki, 1) : 0;
    for (int i = sp->first + 1; i <= sp->first + nk && rc == 0; i++) rc = addKey(ki, i);
    return rc;
}

/* SORT key ... STORE dst; GEORADIUS key ... STORE|STOREDIST dst. */
static int storeKeys(int argc, const char **argv, const size_t *lens, int geo, cmdKeyInfo *ki) {
    int rc = argc > 1 ? addKey(ki, 1) : 0;
    for (int i = 2; i + 1 < argc && rc == 0; i++)
        if (argIs(argv[i], lens[i], "STORE") || (geo && argIs(argv[i], lens[i], "STOREDIST"))) rc = addDest(ki, ++i);
    return rc;
}

int cmdKeys(int argc, const char **argv, const size_t *lens, cmdKeyInfo *ki) {
    memset(ki, 0, sizeof(*ki));
    ki->pos = ki->inline_pos;
    ki->cap = (int)(sizeof(ki->inline_pos) / sizeof(ki->inline_pos[0]));
    if (argc < 1) return -1;
    const cmdSpec *sp = lookup(argv[0], lens[0]);
    if (!sp) { /* unknown (a module's command, a newer one): its key at argv[1] */
        ki->type = RDB_LT_MODULE;
        return argc > 1 ? addKey(ki, 1) : 0;
    }
    ki->type = sp->type;
    switch (sp->form) {
    case F_PLAIN: return sp->type == CMDTYPE_KEYLESS ? 0 : plainKeys(sp, argc, ki);
    case F_NUMKEYS: return numKeys(sp, argc, argv, lens, ki);
    case F_SORT: return storeKeys(argc, argv, lens, 0, ki);
    case F_GEORADIUS: return storeKeys(argc, argv, lens, 1, ki);
    case F_XGROUP: /* XGROUP HELP has no key */
        return argc > 2 ? addKey(ki, 2) : 0;
    }
    return -1;
}

/* cstream.c -- the live stream into a cluster (see cstream.h). */
#include "cstream.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster.h"
#include "xslot.h"

typedef struct cmdInfo {
    char name[40];
    int first, last, step; /* COMMAND's legacy key range; first 0 = no key */
    int movable;
} cmdInfo;

typedef struct bufCmd {
    int argc;
    char **argv;
    size_t *lens;
    writerTag tag;
    char cmd[32];
    char key[WRITER_KEY_MAX];
} bufCmd;

struct cstream {
    router *rt;
    rsConn *seed;
    cmdInfo *cmds;
    size_t ncmds;
    int in_multi;
    bufCmd *block;       /* MULTI ... EXEC being collected */
    size_t nblock, capblock;
    xslot *xs;           /* commands and blocks whose keys span slots (xslot.h) */
    int nkeys;           /* key positions the last cstreamSlot found */
};

static int byName(const void *a, const void *b) {
    return strcasecmp(((const cmdInfo *)a)->name, ((const cmdInfo *)b)->name);
}

static int loadTable(cstream *cs, char *err, size_t errlen) {
    redisReply *r = connCommandf(cs->seed, "COMMAND");
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "cluster target %s: COMMAND: %s", connAddr(cs->seed),
                 r && r->type == REDIS_REPLY_ERROR ? r->str : connError(cs->seed));
        if (r) freeReplyObject(r);
        return -1;
    }
    cs->cmds = calloc(r->elements ? r->elements : 1, sizeof(*cs->cmds));
    for (size_t i = 0; cs->cmds && i < r->elements; i++) {
        const redisReply *c = r->element[i];
        if (c->type != REDIS_REPLY_ARRAY || c->elements < 6 || c->element[0]->type != REDIS_REPLY_STRING) continue;
        cmdInfo *ci = &cs->cmds[cs->ncmds++];
        snprintf(ci->name, sizeof(ci->name), "%s", c->element[0]->str);
        ci->first = (int)c->element[3]->integer;
        ci->last = (int)c->element[4]->integer;
        ci->step = (int)c->element[5]->integer;
        const redisReply *fl = c->element[2];
        for (size_t f = 0; fl->type == REDIS_REPLY_ARRAY && f < fl->elements; f++)
            if (fl->element[f]->type == REDIS_REPLY_STATUS && strcmp(fl->element[f]->str, "movablekeys") == 0)
                ci->movable = 1;
    }
    freeReplyObject(r);
    if (!cs->cmds) return snprintf(err, errlen, "out of memory"), -1;
    qsort(cs->cmds, cs->ncmds, sizeof(*cs->cmds), byName);
    return 0;
}

cstream *cstreamNew(router *rt, rsConn *seed, char *err, size_t errlen) {
    cstream *cs = calloc(1, sizeof(*cs));
    if (!cs) return snprintf(err, errlen, "out of memory"), NULL;
    cs->rt = rt;
    cs->seed = seed;
    if (loadTable(cs, err, errlen) < 0) return cstreamFree(cs), NULL;
    if (!(cs->xs = xslotNewRouted(rt, seed, err, errlen))) return cstreamFree(cs), NULL;
    return cs;
}

static void blockClear(cstream *cs) {
    for (size_t i = 0; i < cs->nblock; i++) {
        for (int a = 0; a < cs->block[i].argc; a++) free(cs->block[i].argv[a]);
        free(cs->block[i].argv);
        free(cs->block[i].lens);
    }
    cs->nblock = 0;
}

void cstreamFree(cstream *cs) {
    if (!cs) return;
    blockClear(cs);
    free(cs->block);
    free(cs->cmds);
    xslotFree(cs->xs);
    free(cs);
}

static const cmdInfo *lookup(const cstream *cs, const char *name, size_t len) {
    cmdInfo k = {0};
    if (len >= sizeof(k.name)) return NULL;
    memcpy(k.name, name, len);
    return bsearch(&k, cs->cmds, cs->ncmds, sizeof(*cs->cmds), byName);
}

/* Fold one key's slot into *slot (-1 none yet, -2 several). */
static void fold(int *slot, const char *k, size_t len) {
    int s = (int)clusterKeySlot(k, len);
    if (*slot == -1) *slot = s;
    else if (*slot != s) *slot = -2;
}

static int getKeysSlot(cstream *cs, int argc, const char **argv, const size_t *lens) {
    const char **av = malloc((size_t)(argc + 2) * sizeof(*av));
    size_t *lv = malloc((size_t)(argc + 2) * sizeof(*lv));
    int slot = -3;
    if (av && lv) {
        av[0] = "COMMAND", lv[0] = 7, av[1] = "GETKEYS", lv[1] = 7;
        for (int i = 0; i < argc; i++) av[i + 2] = argv[i], lv[i + 2] = lens[i];
        redisReply *r = connCommand(cs->seed, argc + 2, av, lv);
        if (r && r->type == REDIS_REPLY_ARRAY) {
            slot = -1;
            cs->nkeys = (int)r->elements;
            for (size_t i = 0; i < r->elements; i++)
                if (r->element[i]->type == REDIS_REPLY_STRING) fold(&slot, r->element[i]->str, r->element[i]->len);
        } else if (r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "no key")) {
            slot = -1; /* "The command has no key arguments" */
        }
        if (r) freeReplyObject(r);
    }
    free(av);
    free(lv);
    return slot;
}

int cstreamSlot(cstream *cs, int argc, const char **argv, const size_t *lens) {
    const cmdInfo *ci = lookup(cs, argv[0], lens[0]);
    cs->nkeys = 0;
    if (!ci) return -3;
    if (ci->movable) return getKeysSlot(cs, argc, argv, lens);
    if (ci->first <= 0) return -1;
    int last = ci->last < 0 ? argc + ci->last : ci->last, slot = -1;
    for (int i = ci->first; i <= last && i < argc; i += ci->step > 0 ? ci->step : 1) fold(&slot, argv[i], lens[i]), cs->nkeys++;
    return slot;
}

static int isName(const char *a, size_t len, const char *name) {
    return strlen(name) == len && strncasecmp(a, name, len) == 0;
}

static int everywhere(const char *a, size_t len) {
    return isName(a, len, "FLUSHALL") || isName(a, len, "FLUSHDB") || isName(a, len, "FUNCTION") ||
           isName(a, len, "SCRIPT");
}

static int reject(cstream *cs, const writerTag *tag, const char *what, int slot) {
    char msg[200];
    snprintf(msg, sizeof(msg), "CROSSSLOT rdbsync: %s %s of the cluster target (not applied)", what,
             slot == -3 ? "has keys rdbsync cannot locate: unknown to" : "has keys in several slots");
    return routerReject(cs->rt, tag, msg);
}

static int send1(cstream *cs, int slot, int argc, const char **argv, const size_t *lens, const writerTag *tag) {
    if (slot >= 0) return routerCommandSlot(cs->rt, (unsigned)slot, argc, argv, lens, tag);
    return routerCommandSlot(cs->rt, 0, argc, argv, lens, tag); /* keyless: one master */
}

/* ---- MULTI ... EXEC ---- */

static int blockAdd(cstream *cs, int argc, const char **argv, const size_t *lens, const writerTag *tag) {
    if (cs->nblock == cs->capblock) {
        size_t cap = cs->capblock ? cs->capblock * 2 : 16;
        bufCmd *nb = realloc(cs->block, cap * sizeof(*nb));
        if (!nb) return -1;
        cs->block = nb;
        cs->capblock = cap;
    }
    bufCmd *b = &cs->block[cs->nblock];
    memset(b, 0, sizeof(*b));
    b->argv = calloc((size_t)argc, sizeof(*b->argv));
    b->lens = calloc((size_t)argc, sizeof(*b->lens));
    if (!b->argv || !b->lens) return free(b->argv), free(b->lens), -1;
    cs->nblock++;
    for (int i = 0; i < argc; i++) {
        if (!(b->argv[i] = malloc(lens[i] + 1))) return -1;
        memcpy(b->argv[i], argv[i], lens[i]);
        b->argv[i][lens[i]] = '\0';
        b->lens[i] = lens[i];
        b->argc = i + 1;
    }
    b->tag = *tag;
    snprintf(b->cmd, sizeof(b->cmd), "%s", tag->cmd ? tag->cmd : "command");
    b->tag.cmd = b->cmd;
    b->tag.keylen = tag->key ? (tag->keylen < WRITER_KEY_MAX ? tag->keylen : WRITER_KEY_MAX) : 0;
    if (b->tag.keylen) memcpy(b->key, tag->key, b->tag.keylen);
    b->tag.key = tag->key ? b->key : NULL;
    return 0;
}

/* EXEC: the whole block to the master of its one slot. */
static int blockFlush(cstream *cs, int argc, const char **argv, const size_t *lens, const writerTag *tag) {
    int slot = -1;
    for (size_t i = 1; i < cs->nblock && slot != -2 && slot != -3; i++) {
        bufCmd *b = &cs->block[i];
        int s = cstreamSlot(cs, b->argc, (const char **)b->argv, b->lens);
        if (s == -2 || s == -3) slot = s;
        else if (s >= 0 && slot == -1) slot = s;
        else if (s >= 0 && s != slot) slot = -2;
    }
    int rc = 0;
    if (slot == -2) {
        /* Applied per slot by the planner (which counts it). */
        rc = xslotCommandTagged(cs->xs, 1, (const char *[]){"MULTI"}, (size_t[]){5}, &cs->block[0].tag);
        for (size_t i = 1; rc == 0 && i < cs->nblock; i++) {
            bufCmd *b = &cs->block[i];
            rc = xslotCommandTagged(cs->xs, b->argc, (const char **)b->argv, b->lens, &b->tag);
        }
        if (rc == 0) rc = xslotCommandTagged(cs->xs, argc, argv, lens, tag);
        rc = rc < 0 ? -1 : 0;
    } else if (slot == -3) {
        rc = reject(cs, tag, "MULTI/EXEC", slot);
    } else if ((rc = routerTxnBegin(cs->rt)) == 0) {
        for (size_t i = 0; rc == 0 && i < cs->nblock; i++) {
            bufCmd *b = &cs->block[i];
            rc = send1(cs, slot, b->argc, (const char **)b->argv, b->lens, &b->tag);
        }
        if (rc == 0) rc = send1(cs, slot, argc, argv, lens, tag);
        routerTxnEnd(cs->rt);
    }
    blockClear(cs);
    cs->in_multi = 0;
    return rc;
}

int cstreamCommand(cstream *cs, int argc, const char **argv, const size_t *lens, const writerTag *tag) {
    if (isName(argv[0], lens[0], "MULTI")) {
        blockClear(cs);
        cs->in_multi = 1;
        return blockAdd(cs, argc, argv, lens, tag);
    }
    if (cs->in_multi && isName(argv[0], lens[0], "EXEC")) return blockFlush(cs, argc, argv, lens, tag);
    if (cs->in_multi) return blockAdd(cs, argc, argv, lens, tag);
    if (everywhere(argv[0], lens[0])) return routerBroadcast(cs->rt, argc, argv, lens, tag);
    int slot = cstreamSlot(cs, argc, argv, lens);
    if (slot == -2) return xslotCommandTagged(cs->xs, argc, argv, lens, tag) < 0 ? -1 : 0;
    if (slot == -3) {
        char what[40];
        snprintf(what, sizeof(what), "%.*s", (int)(lens[0] < 32 ? lens[0] : 32), argv[0]);
        for (char *p = what; *p; p++) *p = (char)toupper((unsigned char)*p);
        return reject(cs, tag, what, slot);
    }
    /* Several keys of one slot: a migrating slot may turn it away whole
     * while later commands still reach its keys (router.h). */
    if (cs->nkeys > 1) routerMultiKey(cs->rt);
    return send1(cs, slot, argc, argv, lens, tag);
}

void cstreamSummary(const cstream *cs, char *buf, size_t cap) { xslotSummary(cs->xs, buf, cap); }

/* xslot.c -- the cross-slot planner and executor (see xslot.h).
 *
 * Sections: the MULTI block buffer; routing one command (no key, one
 * slot, split); the copy plan for commands that read and write across
 * slots.
 */
#include "xslot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster.h"
#include "router.h"
#include "native.h"
#include "rdb/encode.h"
#include "rdb/rdb.h"

typedef struct blockCmd {
    int argc;
    char **argv;
    size_t *lens;
} blockCmd;

struct xslot {
    xslotTarget t;
    keyspecTable *ks;
    int owns_ks;        /* xslotNewRouted loaded it */
    const char *name;   /* set: every piece is tagged with this command's name */
    struct router *rt;  /* xslotNewRouted: the sink */
    writerTag tag;      /* xslotCommandTagged: the tag of every piece */
    int nkeys;          /* key positions of the piece being sent (the sink fences several, router.h) */
    xslotOptions o;
    xslotStats st;
    int in_multi;
    blockCmd *block;
    int nblock, capblock;
    char err[1024];
};

xslot *xslotNew(const xslotTarget *t, keyspecTable *ks, const xslotOptions *o) {
    xslot *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    x->t = *t;
    x->ks = ks;
    if (o) x->o = *o;
    return x;
}

static void blockClear(xslot *x) {
    for (int i = 0; i < x->nblock; i++) {
        for (int j = 0; j < x->block[i].argc; j++) free(x->block[i].argv[j]);
        free(x->block[i].argv);
        free(x->block[i].lens);
    }
    x->nblock = 0;
}

void xslotFree(xslot *x) {
    if (!x) return;
    blockClear(x);
    free(x->block);
    if (x->owns_ks) keyspecFree(x->ks);
    free(x);
}

int xslotInMulti(const xslot *x) { return x->in_multi; }
const char *xslotError(const xslot *x) { return x->err; }
const xslotStats *xslotGetStats(const xslot *x) { return &x->st; }

void xslotSummary(const xslot *x, char *buf, size_t cap) {
    snprintf(buf, cap, "%llu transactions split across slots, %llu commands split per slot, %llu applied through "
             "copies", (unsigned long long)x->st.tx_split, (unsigned long long)x->st.split,
             (unsigned long long)x->st.copied);
}

static int isName(const char *a, size_t len, const char *name) {
    return len == strlen(name) && strncasecmp(a, name, len) == 0;
}

/* A command that cannot be applied: -2 (stop) with the reason, or counted
 * and skipped under skip_errors. */
static int refuse(xslot *x, const char *cmd, size_t cmdlen, const char *why) {
    snprintf(x->err, sizeof(x->err), "stream command %.*s cannot be applied on the cluster: %s", (int)cmdlen, cmd,
             why);
    writerTag keep = x->tag;
    x->tag.cmd = cmd; /* NUL-terminated: a hiredis string or a block copy */
    int go_on = x->t.refuse ? x->t.refuse(x->t.ctx, x->err) == 0 : x->o.skip_errors;
    x->tag = keep;
    if (!go_on) return -2;
    x->st.skipped++;
    return 0;
}

/* ---- one command: keyless, one slot, split ---- */

static int sendArgv(xslot *x, int slot, int argc, const char **argv, const size_t *lens) {
    /* Over the router each piece names itself in messages (a block's
     * pieces are sent when EXEC arrives), with the stream's offset. */
    writerTag keep = x->tag;
    x->tag.cmd = x->name ? x->name : argv[0];
    if (!x->tag.key && argc > 1) x->tag.key = argv[1], x->tag.keylen = lens[1];
    int rc = x->t.send(x->t.ctx, slot, argc, argv, lens) < 0 ? -1 : 0;
    x->tag = keep;
    return rc;
}

/* The slot shared by every key, or -1 when they span several. */
static int commonSlot(const keyspecKeys *k, const size_t *lens, const char **argv) {
    int slot = -1;
    for (int i = 0; i < k->n; i++) {
        int s = (int)clusterKeySlot(argv[k->k[i].pos], lens[k->k[i].pos]);
        if (slot >= 0 && s != slot) return -1;
        slot = s;
    }
    return slot;
}

/* The argument step of a command whose keys are independent of each
 * other (DEL a b, MSET a 1 b 2): same flags on every key, none reading
 * a value or depending on the others, keys at regular steps up to the
 * last argument. 0 when it is not such a command. */
static int splitStep(const keyspecKeys *k, int argc) {
    const unsigned bad = KEYSPEC_UNKNOWN | KEYSPEC_ACCESS | KEYSPEC_RW | KEYSPEC_INSERT | KEYSPEC_NOT_KEY |
                         KEYSPEC_INCOMPLETE | KEYSPEC_VARIABLE_FLAGS;
    if (k->ambiguous || k->n < 2 || (k->k[0].flags & bad)) return 0;
    int step = k->k[1].pos - k->k[0].pos;
    if (step < 1 || k->k[0].pos + k->n * step != argc) return 0;
    for (int i = 0; i < k->n; i++)
        if (k->k[i].flags != k->k[0].flags || k->k[i].pos != k->k[0].pos + i * step) return 0;
    return step;
}

/* Send one piece per slot, slots in the order of their first key. */
static int splitSend(xslot *x, int argc, const char **argv, const size_t *lens, const keyspecKeys *k, int step) {
    int first = k->k[0].pos, rc = -1;
    const char **av = malloc((size_t)argc * sizeof(*av));
    size_t *lv = malloc((size_t)argc * sizeof(*lv));
    unsigned *slot = malloc((size_t)k->n * sizeof(*slot));
    char *done = calloc((size_t)k->n, 1);
    if (!av || !lv || !slot || !done) {
        snprintf(x->err, sizeof(x->err), "out of memory splitting %.*s", (int)lens[0], argv[0]);
        rc = -2;
        goto out;
    }
    for (int i = 0; i < k->n; i++) slot[i] = clusterKeySlot(argv[k->k[i].pos], lens[k->k[i].pos]);
    rc = 0;
    for (int i = 0; i < k->n && rc == 0; i++) {
        if (done[i]) continue;
        int n = first;
        memcpy(av, argv, (size_t)first * sizeof(*av));
        memcpy(lv, lens, (size_t)first * sizeof(*lv));
        for (int j = i; j < k->n; j++) {
            if (done[j] || slot[j] != slot[i]) continue;
            done[j] = 1;
            memcpy(av + n, argv + k->k[j].pos, (size_t)step * sizeof(*av));
            memcpy(lv + n, lens + k->k[j].pos, (size_t)step * sizeof(*lv));
            n += step;
        }
        x->nkeys = (n - first) / step;
        rc = sendArgv(x, (int)slot[i], n, av, lv);
        x->nkeys = 0;
    }
    if (rc == 0) x->st.split++;
out:
    free(av);
    free(lv);
    free(slot);
    free(done);
    return rc;
}

/* ---- the copy plan ---- */

/* One distinct key of another slot than home. */
typedef struct copyKey {
    int pos;            /* its first position in argv */
    unsigned flags;     /* OR of the flags at its positions */
    int slot;
    rdbBuf tmp;         /* the temporary name in the home slot */
    redisReply *dump;   /* DUMP before (nil: no such key) */
    long long expire;   /* PEXPIRETIME (abs) or PTTL (rel) before; -1 none */
    int writeback;      /* the command may write it: compare after */
} copyKey;

typedef struct copyPlan {
    copyKey *c;
    int n;
    int home;
    const char **av;    /* the command with renamed keys */
    size_t *lv;
} copyPlan;

static void planFree(copyPlan *p) {
    for (int i = 0; i < p->n; i++) {
        rdbBufFree(&p->c[i].tmp);
        if (p->c[i].dump) freeReplyObject(p->c[i].dump);
    }
    free(p->c);
    free(p->av);
    free(p->lv);
}

static int writes(unsigned f) {
    return (f & (KEYSPEC_UNKNOWN | KEYSPEC_RW | KEYSPEC_OW | KEYSPEC_RM | KEYSPEC_INSERT | KEYSPEC_DELETE |
                 KEYSPEC_UPDATE | KEYSPEC_VARIABLE_FLAGS | KEYSPEC_INCOMPLETE)) != 0;
}

/* The home slot: that of the key most plainly the destination (OW, then
 * an insert that reads nothing, then any key written), else of the first
 * key. Any choice is exact; this one copies the fewest values. */
static int homeSlot(const keyspecKeys *k, const char **argv, const size_t *lens) {
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < k->n; i++) {
            unsigned f = k->k[i].flags;
            int pick = pass == 0   ? (f & KEYSPEC_OW) != 0
                       : pass == 1 ? (f & KEYSPEC_INSERT) && !(f & KEYSPEC_ACCESS)
                                   : writes(f) && !(f & (KEYSPEC_RO | KEYSPEC_UNKNOWN));
            if (pick) return (int)clusterKeySlot(argv[k->k[i].pos], lens[k->k[i].pos]);
        }
    return (int)clusterKeySlot(argv[k->k[0].pos], lens[k->k[0].pos]);
}

static int sameArg(const char **argv, const size_t *lens, int a, int b) {
    return lens[a] == lens[b] && memcmp(argv[a], argv[b], lens[a]) == 0;
}

/* The distinct keys outside home, and the command with their positions
 * renamed to their temporaries. 0, or -2 with x->err. */
static int planKeys(xslot *x, copyPlan *p, int argc, const char **argv, const size_t *lens, const keyspecKeys *k) {
    p->home = homeSlot(k, argv, lens);
    p->c = calloc((size_t)k->n, sizeof(*p->c));
    p->av = malloc((size_t)argc * sizeof(*p->av));
    p->lv = malloc((size_t)argc * sizeof(*p->lv));
    if (!p->c || !p->av || !p->lv) goto oom;
    memcpy(p->av, argv, (size_t)argc * sizeof(*p->av));
    memcpy(p->lv, lens, (size_t)argc * sizeof(*p->lv));
    const char *homekey = NULL;
    size_t homelen = 0;
    for (int i = 0; i < k->n && !homekey; i++)
        if ((int)clusterKeySlot(argv[k->k[i].pos], lens[k->k[i].pos]) == p->home)
            homekey = argv[k->k[i].pos], homelen = lens[k->k[i].pos];
    for (int i = 0; i < k->n; i++) {
        int pos = k->k[i].pos, slot = (int)clusterKeySlot(argv[pos], lens[pos]), j;
        if (slot == p->home) continue;
        for (j = 0; j < p->n && !sameArg(argv, lens, p->c[j].pos, pos); j++) {}
        copyKey *c = &p->c[j];
        if (j == p->n) {
            p->n++;
            c->pos = pos, c->slot = slot, c->expire = -1;
            if (nativeTmpName(homekey, homelen, &c->tmp) < 0) goto oom;
        }
        c->flags |= k->k[i].flags;
        p->av[pos] = (const char *)c->tmp.p, p->lv[pos] = c->tmp.len;
    }
    for (int i = 0; i < p->n; i++) p->c[i].writeback = writes(p->c[i].flags);
    return 0;
oom:
    snprintf(x->err, sizeof(x->err), "out of memory planning %.*s across slots", (int)lens[0], argv[0]);
    return -2;
}

static const char *expireCmd(const xslot *x) { return x->o.abs_expire ? "PEXPIRETIME" : "PTTL"; }

/* DUMP and expire of one key on its own node, after it applied everything
 * before. 0, or -1 (target failed). */
static int readKey(xslot *x, copyKey *c, const char *key, size_t keylen) {
    const char *argv[2] = {"DUMP", key};
    size_t lens[2] = {4, keylen};
    c->dump = x->t.call(x->t.ctx, c->slot, 2, argv, lens);
    if (!c->dump) return -1;
    if (c->dump->type != REDIS_REPLY_STRING) return 0;
    argv[0] = expireCmd(x), lens[0] = strlen(argv[0]);
    redisReply *r = x->t.call(x->t.ctx, c->slot, 2, argv, lens);
    if (!r) return -1;
    c->expire = r->type == REDIS_REPLY_INTEGER && r->integer >= 0 ? r->integer : -1;
    freeReplyObject(r);
    return 0;
}

/* RESTORE name ttl payload [REPLACE] [ABSTTL] for the expire we hold. */
static int sendRestore(xslot *x, int slot, const char *name, size_t namelen, const redisReply *payload,
                       long long expire, int replace) {
    char ttl[32];
    const char *argv[6] = {"RESTORE", name, ttl, payload->str};
    size_t lens[6] = {7, namelen, 0, (size_t)payload->len};
    int argc = 4;
    /* A remaining PTTL of 0 is due now, not "no expire" (RESTORE's 0). */
    if (expire == 0) expire = 1;
    lens[2] = (size_t)snprintf(ttl, sizeof(ttl), "%lld", expire > 0 ? expire : 0);
    if (replace) argv[argc] = "REPLACE", lens[argc++] = 7;
    if (expire > 0 && x->o.abs_expire) argv[argc] = "ABSTTL", lens[argc++] = 6;
    return sendArgv(x, slot, argc, argv, lens);
}

/* The home transaction: MULTI, a RESTORE into each temporary, the command
 * with its keys renamed, EXEC. One unit for the sink (a block the cluster
 * turns away during a resharding goes again whole, where the slot is now);
 * its reply is the consumer's, as any stream command's (an error inside
 * stops the sync or is counted, by --on-error). */
static int sendHome(xslot *x, copyPlan *p, int argc) {
    const char *mv[1] = {"MULTI"}, *ev[1] = {"EXEC"};
    size_t ml[1] = {5}, el[1] = {4};
    if (x->t.txn && x->t.txn(x->t.ctx, 1) < 0) return -1;
    int rc = sendArgv(x, p->home, 1, mv, ml);
    for (int i = 0; i < p->n && rc == 0; i++) {
        copyKey *c = &p->c[i];
        if (c->dump->type == REDIS_REPLY_STRING)
            rc = sendRestore(x, p->home, (const char *)c->tmp.p, c->tmp.len, c->dump, c->expire, 0);
    }
    if (rc == 0) rc = sendArgv(x, p->home, argc, p->av, p->lv);
    if (rc == 0) rc = sendArgv(x, p->home, 1, ev, el);
    if (x->t.txn) x->t.txn(x->t.ctx, 0);
    return rc;
}

static int sameValue(const redisReply *a, const redisReply *b) {
    if (a->type != b->type) return 0;
    return a->type != REDIS_REPLY_STRING || (a->len == b->len && memcmp(a->str, b->str, a->len) == 0);
}

/* Each key the command may have written is read back from its temporary
 * (once the home node applied the transaction); what changed goes back to
 * its own slot: RESTORE REPLACE with its expire time, or DEL when the
 * command removed it. 0, or -1 (target failed or the consumer stopped). */
static int writeBack(xslot *x, copyPlan *p, const char **argv, const size_t *lens) {
    for (int i = 0; i < p->n; i++) {
        copyKey *c = &p->c[i];
        if (!c->writeback) continue;
        const char *rv[2] = {"DUMP", (const char *)c->tmp.p};
        size_t rl[2] = {4, c->tmp.len};
        redisReply *d = x->t.call(x->t.ctx, p->home, 2, rv, rl), *e = NULL;
        if (d && d->type == REDIS_REPLY_STRING) {
            rv[0] = expireCmd(x), rl[0] = strlen(rv[0]);
            e = x->t.call(x->t.ctx, p->home, 2, rv, rl);
        }
        int rc = d && (d->type != REDIS_REPLY_STRING || e) ? 0 : -1;
        long long expire = e && e->type == REDIS_REPLY_INTEGER && e->integer >= 0 ? e->integer : -1;
        const char *key = argv[c->pos];
        size_t keylen = lens[c->pos];
        if (rc < 0) {
        } else if (d->type == REDIS_REPLY_STRING) {
            /* Unchanged: nothing to write (a relative PTTL is only known unchanged without one). */
            if (!(sameValue(d, c->dump) && expire == c->expire && (x->o.abs_expire || expire < 0)))
                rc = sendRestore(x, c->slot, key, keylen, d, expire, 1);
        } else if (c->dump->type == REDIS_REPLY_STRING) {
            const char *dv[2] = {"DEL", key};
            size_t dl[2] = {3, keylen};
            rc = sendArgv(x, c->slot, 2, dv, dl);
        }
        if (d) freeReplyObject(d);
        if (e) freeReplyObject(e);
        if (rc < 0) return -1;
    }
    return 0;
}

/* The temporaries go (also those the command consumed: a no-op). */
static int dropTemporaries(xslot *x, copyPlan *p) {
    const char **dv = malloc((size_t)(p->n + 1) * sizeof(*dv));
    size_t *dl = malloc((size_t)(p->n + 1) * sizeof(*dl));
    int rc = -1;
    if (dv && dl) {
        dv[0] = "DEL", dl[0] = 3;
        for (int i = 0; i < p->n; i++) dv[i + 1] = (const char *)p->c[i].tmp.p, dl[i + 1] = p->c[i].tmp.len;
        x->nkeys = p->n;
        rc = sendArgv(x, p->home, p->n + 1, dv, dl);
        x->nkeys = 0;
    }
    free(dv);
    free(dl);
    return rc;
}

static int copyApply(xslot *x, int argc, const char **argv, const size_t *lens, const keyspecKeys *k) {
    copyPlan p = {0};
    int rc = planKeys(x, &p, argc, argv, lens, k);
    for (int i = 0; i < p.n && rc == 0; i++) rc = readKey(x, &p.c[i], argv[p.c[i].pos], lens[p.c[i].pos]);
    x->name = argv[0]; /* messages name the stream's command, whichever piece */
    if (rc == 0) rc = sendHome(x, &p, argc);
    if (rc == 0) rc = writeBack(x, &p, argv, lens);
    if (rc == 0) rc = dropTemporaries(x, &p);
    x->name = NULL;
    if (rc == 0) x->st.copied++;
    planFree(&p);
    return rc;
}

/* ---- routing ---- */

static int applyOne(xslot *x, int argc, const char **argv, const size_t *lens) {
    keyspecKeys k = {0};
    char why[600];
    int rc;
    if (keyspecFind(x->ks, argc, argv, lens, &k, why, sizeof(why)) < 0) {
        rc = refuse(x, argv[0], lens[0], why);
    } else if (k.n == 0) {
        int f = keyspecCommandFlags(x->ks, argc, argv, lens);
        rc = sendArgv(x, f >= 0 && (f & KEYSPEC_CMD_PUBSUB) ? XSLOT_ANY : XSLOT_ALL, argc, argv, lens);
        if (rc == 0) x->st.forwarded++;
    } else if (commonSlot(&k, lens, argv) >= 0) {
        x->nkeys = k.n;
        rc = sendArgv(x, commonSlot(&k, lens, argv), argc, argv, lens);
        x->nkeys = 0;
        if (rc == 0) x->st.forwarded++;
    } else if (splitStep(&k, argc)) {
        rc = splitSend(x, argc, argv, lens, &k, splitStep(&k, argc));
    } else if (k.ambiguous) {
        rc = refuse(x, argv[0], lens[0], "its keys span slots and their names also occur as non-key arguments");
    } else {
        int channel = 0;
        for (int i = 0; i < k.n; i++) channel |= (k.k[i].flags & KEYSPEC_NOT_KEY) != 0;
        rc = channel ? refuse(x, argv[0], lens[0], "its shard channels span slots") : copyApply(x, argc, argv, lens, &k);
    }
    keyspecKeysFree(&k);
    return rc;
}

/* ---- MULTI blocks ---- */

static int blockAdd(xslot *x, int argc, const char **argv, const size_t *lens) {
    if (x->nblock == x->capblock) {
        int cap = x->capblock ? x->capblock * 2 : 16;
        blockCmd *b = realloc(x->block, (size_t)cap * sizeof(*b));
        if (!b) return -1;
        x->block = b, x->capblock = cap;
    }
    blockCmd *c = &x->block[x->nblock];
    c->argv = calloc((size_t)argc, sizeof(*c->argv));
    c->lens = malloc((size_t)argc * sizeof(*c->lens));
    c->argc = argc;
    x->nblock++; /* freed by blockClear whatever happens next */
    if (!c->argv || !c->lens) return -1;
    for (int i = 0; i < argc; i++) {
        if (!(c->argv[i] = malloc(lens[i] + 1))) return -1;
        memcpy(c->argv[i], argv[i], lens[i]);
        c->argv[i][lens[i]] = '\0';
        c->lens[i] = lens[i];
    }
    return 0;
}

/* The one slot of every key in the block, or -1 when there is none: keys
 * in several slots, a command without keys (FLUSHALL goes to every master)
 * or one whose keys cannot be located (refused when applied alone). */
static int blockSlot(xslot *x) {
    int slot = -1;
    for (int i = 0; i < x->nblock; i++) {
        blockCmd *c = &x->block[i];
        keyspecKeys k = {0};
        char why[600];
        int s = keyspecFind(x->ks, c->argc, (const char **)c->argv, c->lens, &k, why, sizeof(why)) == 0 && k.n
                    ? commonSlot(&k, c->lens, (const char **)c->argv) : -1;
        keyspecKeysFree(&k);
        if (s < 0 || (slot >= 0 && s != slot)) return -1;
        slot = s;
    }
    return slot;
}

static int blockApply(xslot *x) {
    int slot = x->nblock ? blockSlot(x) : -1, rc = 0;
    if (slot >= 0) {
        const char *mv[1] = {"MULTI"}, *ev[1] = {"EXEC"};
        size_t ml[1] = {5}, el[1] = {4};
        rc = x->t.txn ? x->t.txn(x->t.ctx, 1) : 0;
        if (rc == 0) rc = sendArgv(x, slot, 1, mv, ml);
        for (int i = 0; i < x->nblock && rc == 0; i++)
            rc = sendArgv(x, slot, x->block[i].argc, (const char **)x->block[i].argv, x->block[i].lens);
        if (rc == 0) rc = sendArgv(x, slot, 1, ev, el);
        if (x->t.txn) x->t.txn(x->t.ctx, 0);
        if (rc == 0) x->st.tx_whole++;
    } else {
        /* In order, each on its own: what is atomic across slots is lost. */
        if (x->nblock > 1) x->st.tx_split++;
        for (int i = 0; i < x->nblock && rc == 0; i++)
            rc = applyOne(x, x->block[i].argc, (const char **)x->block[i].argv, x->block[i].lens);
    }
    blockClear(x);
    return rc;
}

int xslotCommand(xslot *x, int argc, const char **argv, const size_t *lens) {
    if (argc < 1) return 0;
    if (isName(argv[0], lens[0], "MULTI")) {
        x->in_multi = 1;
        blockClear(x);
        return 0;
    }
    if (x->in_multi && isName(argv[0], lens[0], "DISCARD")) {
        x->in_multi = 0;
        blockClear(x);
        return 0;
    }
    if (x->in_multi && isName(argv[0], lens[0], "EXEC")) {
        x->in_multi = 0;
        return blockApply(x);
    }
    if (x->in_multi) {
        if (blockAdd(x, argc, argv, lens) == 0) return 0;
        snprintf(x->err, sizeof(x->err), "out of memory buffering a MULTI block");
        return -2;
    }
    return applyOne(x, argc, argv, lens);
}

/* ---- over the cluster sink ---- */

static int routedSend(void *ctx, int slot, int argc, const char **argv, const size_t *lens) {
    xslot *x = ctx;
    if (slot == XSLOT_ALL) return routerBroadcast(x->rt, argc, argv, lens, &x->tag);
    if (x->nkeys > 1) routerMultiKey(x->rt);
    /* One node of any slot: the cluster spreads what PUBLISH says. */
    return routerCommandSlot(x->rt, slot == XSLOT_ANY ? 0 : (unsigned)slot, argc, argv, lens, &x->tag);
}

static redisReply *routedCall(void *ctx, int slot, int argc, const char **argv, const size_t *lens) {
    xslot *x = ctx;
    return routerCall(x->rt, slot < 0 ? 0 : (unsigned)slot, argc, argv, lens);
}

/* The home transaction and a one-slot MULTI block are one router unit:
 * sent again whole when the cluster turns them away (a member redirected,
 * or EXEC itself), and fenced so that no later command of their slot runs
 * before them (router.c, fences). */
static int routedTxn(void *ctx, int begin) {
    xslot *x = ctx;
    if (!begin) return routerTxnEnd(x->rt), 0;
    return routerTxnBegin(x->rt) < 0 ? -1 : 0;
}

static redisReply *seedCall(void *ctx, int argc, const char **argv, const size_t *lens) {
    return connCommand(ctx, argc, argv, lens);
}

/* What came before is applied, then the consumer hears the refusal with
 * the command's tag, as a write the target refused. */
static int routedRefuse(void *ctx, const char *msg) {
    xslot *x = ctx;
    char line[1100];
    snprintf(line, sizeof(line), "CROSSSLOT rdbsync: %s", msg);
    return routerReject(x->rt, &x->tag, line) < 0 ? -1 : 0;
}

xslot *xslotNewRouted(struct router *rt, rsConn *seed, char *err, size_t errlen) {
    xslotTarget t = {NULL, routedSend, routedCall, routedRefuse, routedTxn};
    xslot *x = xslotNew(&t, NULL, NULL);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->t.ctx = x;
    x->rt = rt;
    char why[512];
    x->ks = keyspecLoad(seedCall, seed, why, sizeof(why));
    if (!x->ks) {
        snprintf(err, errlen, "cannot read the cluster's command table from %s: %s%s%s", connAddr(seed), why,
                 connError(seed)[0] ? ": " : "", connError(seed));
        xslotFree(x);
        return NULL;
    }
    x->owns_ks = 1;
    x->o.abs_expire = keyspecCommandFlags(x->ks, 1, (const char *[]){"PEXPIRETIME"}, (size_t[]){11}) >= 0;
    return x;
}

int xslotCommandTagged(xslot *x, int argc, const char **argv, const size_t *lens, const writerTag *tag) {
    x->tag = *tag;
    return xslotCommand(x, argc, argv, lens);
}

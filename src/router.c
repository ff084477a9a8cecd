/* router.c -- the cluster sink (see router.h).
 *
 * Each node has a one-node writer (writer.c) and, beside it, a FIFO of the
 * commands in flight there (their RESP bytes and tags), in the same order
 * as the writer's own ring: the writer's reply callback pops the FIFO,
 * so a redirected command can be sent again byte for byte. Redirected and
 * unanswered commands go to one retry list; recover() is the only place
 * that sends them again, after draining every node, so the order of one
 * slot's commands is kept.
 */
#include "router.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "resp.h"

#define GIVE_UP_MS 60000
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
/* A node's writer sends once 256 KB are queued and blocks only on its own
 * socket when its window is full: the others are polled this often, so
 * their queued commands go out and their replies come in meanwhile. */
#define POLL_EVERY 64

enum { TXN_NONE = 0, TXN_MULTI, TXN_MEMBER, TXN_END };

typedef struct bcast {
    int remaining;
    char err[256];      /* the first error reply, "" when none */
} bcast;

struct pending;
typedef struct plist {
    struct pending *head, *tail;
    size_t n;
} plist;

/* A MULTI ... EXEC block: its commands' replies wait for EXEC's, so that a
 * block the cluster turned away (MOVED/ASK/TRYAGAIN inside, EXECABORT) is
 * sent again whole, never half. */
typedef struct txn {
    struct txn *next;   /* the router's list of live blocks */
    plist held;         /* answered members, waiting for EXEC */
    int redirected;     /* a member was turned away */
    int node;           /* where its MULTI went: every member follows it */
    int in_retry;       /* its MULTI waits in the retry list: members too */
} txn;

typedef struct pending {
    struct pending *next;
    char *cmd;          /* RESP bytes, owned */
    size_t len;
    int slot;           /* its slot (a broadcast: its shard's first slot at send time) */
    int internal;       /* our ASKING: its reply is ours */
    char *ask_host;     /* set: send once with ASKING to this node */
    int ask_port;
    int node;           /* a broadcast: its node at send time */
    bcast *group;
    txn *txn;           /* member of a MULTI block */
    int role;           /* in a block: TXN_MULTI, TXN_MEMBER or TXN_END (EXEC/DISCARD) */
    char *member_err;   /* a member's own error reply, kept until EXEC */
    unsigned *fence;    /* set: this command holds its slot's fence until it is done (see fenceWait) */
    writerTag tag;
    uint64_t prev_off;  /* a stream command: the end offset of the stream command before it */
    char cmdname[32];
    char key[WRITER_KEY_MAX];
} pending;

typedef struct rnode {
    router *rt;
    char *host;
    int port;
    char addr[300];
    rsConn *c;
    writer *w;
    plist fifo;
    uint64_t keys, cmds;
} rnode;

struct router {
    rsUrl url;
    rsConnOptions co;
    char *client_name;
    clusterMap *map;
    rnode **nodes;
    int nnodes;
    int nmasters;        /* the masters at open: nodes[0..nmasters) */
    writerOptions o;
    int started;
    txn *txns;           /* live MULTI blocks */
    txn *open_txn;       /* routerTxnBegin .. routerTxnEnd: members get it */
    plist retry;
    unsigned char redirected[CLUSTER_SLOTS / 8]; /* slots redirected during a resend round */
    unsigned fence[CLUSTER_SLOTS]; /* per slot: commands in flight that a migrating slot may turn away whole */
    int next_multikey;   /* routerMultiKey: the next command names several keys */
    int need_reload, need_backoff;
    int stopped, broken, settling;
    uint64_t dropped, replies;
    uint64_t routed;     /* commands routed: every POLL_EVERY, every node is polled */
    uint64_t last_off, prev_before; /* stream offsets: the last queued, and the one before it */
    routerStats st;
    char err[512];
};

static int fail(router *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(router *rt, const char *fmt, ...) {
    if (!rt->broken) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rt->err, sizeof(rt->err), fmt, ap);
        va_end(ap);
    }
    rt->broken = 1;
    return -1;
}

/* The first slot shard s serves now, -1 when none. */
static int shardFirstSlot(const clusterMap *m, int s) {
    for (int i = 0; i < CLUSTER_SLOTS; i++)
        if (m->owner[i] == s) return i;
    return -1;
}

static int shardOwns(const clusterMap *m, int s) { return shardFirstSlot(m, s) >= 0; }

/* ---- lists ---- */

static void push(plist *l, pending *p) {
    p->next = NULL;
    if (l->tail) l->tail->next = p;
    else l->head = p;
    l->tail = p;
    l->n++;
}

static pending *pop(plist *l) {
    pending *p = l->head;
    if (!p) return NULL;
    l->head = p->next;
    if (!l->head) l->tail = NULL;
    l->n--;
    return p;
}

static void pendingFree(pending *p) {
    if (!p) return;
    if (p->fence) (*p->fence)--;
    if (p->group && --p->group->remaining <= 0) free(p->group);
    free(p->cmd);
    free(p->ask_host);
    free(p->member_err);
    free(p);
}

static size_t listFree(plist *l) {
    size_t n = 0;
    pending *p;
    while ((p = pop(l))) n += !p->internal, pendingFree(p);
    return n;
}

/* ---- nodes ---- */

static int nodeFind(const router *rt, const char *host, int port) {
    for (int i = 0; i < rt->nnodes; i++)
        if (clusterSameAddr(rt->nodes[i]->host, rt->nodes[i]->port, host, port)) return i;
    return -1;
}

static int replyCb(void *ctx, const writerTag *t, const redisReply *r);

/* Connect a node (and its writer once started). -1 with the reason in why. */
static int nodeConnect(router *rt, rnode *n, char *why, size_t whylen) {
    clusterNode cn = {.host = n->host, .port = n->port};
    rsUrl u;
    if (clusterNodeUrl(&rt->url, &cn, &u) < 0) return snprintf(why, whylen, "out of memory"), -1;
    n->c = connOpen(&u, &rt->co, why, whylen);
    urlFree(&u);
    if (!n->c) return -1;
    if (rt->started) {
        writerOptions wo = rt->o;
        wo.on_reply = replyCb;
        wo.ctx = n;
        n->w = writerNew(n->c, &wo);
        if (!n->w) {
            connClose(n->c);
            n->c = NULL;
            return snprintf(why, whylen, "out of memory"), -1;
        }
    }
    return 0;
}

static void nodeClose(rnode *n) {
    writerFree(n->w);
    connClose(n->c);
    n->w = NULL;
    n->c = NULL;
}

/* The node host:port, added (not connected) when new. */
static int nodeAdd(router *rt, const char *host, int port) {
    int i = nodeFind(rt, host, port);
    if (i >= 0) return i;
    rnode **nn = realloc(rt->nodes, (size_t)(rt->nnodes + 1) * sizeof(*nn));
    if (!nn) return -1;
    rt->nodes = nn;
    rnode *n = calloc(1, sizeof(*n));
    if (!n || !(n->host = strdup(host))) return free(n), -1;
    n->rt = rt;
    n->port = port;
    snprintf(n->addr, sizeof(n->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    rt->nodes[rt->nnodes] = n;
    return rt->nnodes++;
}

/* A node's connection went: what it had not answered is sent again once
 * the map is read again. */
static void nodeLost(router *rt, rnode *n, const char *why) {
    if (!rt->settling) logWarn("cluster node %s: %s; reading the topology again", n->addr, why);
    pending *p;
    while ((p = pop(&n->fifo))) {
        if (p->internal) {
            pendingFree(p);
            continue;
        }
        if (p->txn) { /* the block's answered members go back before it */
            pending *h;
            while ((h = pop(&p->txn->held))) push(&rt->retry, h);
            p->txn->redirected = 0;
            p->txn->in_retry = 1;
        }
        if (p->slot >= 0) rt->redirected[p->slot / 8] |= (unsigned char)(1 << (p->slot % 8));
        push(&rt->retry, p);
    }
    nodeClose(n);
    rt->need_reload = 1;
}

/* ---- replies ---- */

static int isErr(const redisReply *r, const char *prefix) {
    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

/* The redirection r is (clusterRedirectParse), CLUSTER_REDIR_NONE when r
 * is no error or another one. */
static clusterRedirKind redirectOf(const redisReply *r, clusterRedirect *to) {
    return clusterRedirectParse(r->type == REDIS_REPLY_ERROR ? r->str : NULL, to);
}

/* A MOVED from node from: the map learns the slot's master. */
static void movedTo(router *rt, const rnode *from, const clusterRedirect *to) {
    if (clusterMapMoveSlot(rt->map, (unsigned)to->slot, clusterRedirectHost(to, from->host), to->port) < 0)
        rt->need_reload = 1;
}

/* 1 when the reply sends the command elsewhere or later (then it went to
 * the retry list), 0 when it is the command's answer. n answered it. */
static int redirect(router *rt, rnode *n, pending *p, const redisReply *r) {
    if (r->type != REDIS_REPLY_ERROR || rt->settling) return 0;
    clusterRedirect to;
    clusterRedirKind kind = redirectOf(r, &to);
    if (kind == CLUSTER_REDIR_MOVED) {
        movedTo(rt, n, &to);
        rt->st.moved++;
    } else if (kind == CLUSTER_REDIR_ASK) {
        free(p->ask_host);
        p->ask_host = strdup(clusterRedirectHost(&to, n->host));
        p->ask_port = to.port;
        rt->st.asked++;
    } else if (isErr(r, "TRYAGAIN") || isErr(r, "CLUSTERDOWN")) {
        rt->need_backoff = 1;
        rt->st.retried++;
    } else {
        return 0;
    }
    if (p->slot >= 0) rt->redirected[p->slot / 8] |= (unsigned char)(1 << (p->slot % 8));
    push(&rt->retry, p);
    return 1;
}

/* The stream command not answered yet with the oldest source offset. */
static const pending *oldestStream(const router *rt) {
    const pending *low = NULL;
    for (int i = 0; i < rt->nnodes; i++)
        for (const pending *p = rt->nodes[i]->fifo.head; p; p = p->next)
            if (p->tag.kind == WRITER_K_STREAM && p->tag.src_offset) {
                if (!low || p->tag.src_offset < low->tag.src_offset) low = p;
                break;
            }
    for (const pending *p = rt->retry.head; p; p = p->next)
        if (p->tag.kind == WRITER_K_STREAM && p->tag.src_offset && (!low || p->tag.src_offset < low->tag.src_offset))
            low = p;
    return low;
}

/* A stream tag's offset is the end of its command; they are queued in
 * order, several pieces of one command sharing it. What counts as applied
 * when a command before this one is still unanswered (on another node) is
 * the end of the command before that one: a command boundary, where a
 * replica link can continue (PSYNC offset+1), never a byte inside one. */
static uint64_t streamPrev(router *rt, const writerTag *t) {
    if (!t || t->kind != WRITER_K_STREAM || !t->src_offset) return 0;
    if (t->src_offset > rt->last_off) rt->prev_before = rt->last_off, rt->last_off = t->src_offset;
    return t->src_offset == rt->last_off ? rt->prev_before : 0; /* 0: older, never moves the offset */
}

static int deliver(router *rt, rnode *n, pending *p, const redisReply *r) {
    writerTag t = p->tag;
    if (t.kind == WRITER_K_STREAM && t.src_offset) {
        const pending *low = oldestStream(rt);
        if (low && low->tag.src_offset <= t.src_offset) t.src_offset = low->prev_off;
    }
    if (r->type != REDIS_REPLY_ERROR) {
        n->cmds++;
        if (t.kind == WRITER_K_RESTORE || t.kind == WRITER_K_NATIVE_FINAL) n->keys++;
    }
    rt->replies++;
    return rt->o.on_reply ? rt->o.on_reply(rt->o.ctx, &t, r) : 0;
}

/* A broadcast answers once, when its last node answered. */
static int deliverGroup(router *rt, rnode *n, pending *p, const redisReply *r) {
    bcast *g = p->group;
    if (r->type == REDIS_REPLY_ERROR && !g->err[0]) snprintf(g->err, sizeof(g->err), "%.180s (%.60s)", r->str, n->addr);
    if (g->remaining > 1) return 0;
    if (g->err[0] && r->type != REDIS_REPLY_ERROR) {
        redisReply e = {.type = REDIS_REPLY_ERROR, .str = g->err, .len = strlen(g->err)};
        return deliver(rt, n, p, &e);
    }
    return deliver(rt, n, p, r);
}

static int isRedirect(const redisReply *r) {
    clusterRedirect to;
    return redirectOf(r, &to) != CLUSTER_REDIR_NONE || isErr(r, "TRYAGAIN") || isErr(r, "CLUSTERDOWN");
}

static void txnFree(router *rt, txn *t) {
    for (txn **pp = &rt->txns; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    listFree(&t->held);
    free(t);
}

/* A block (a member or EXEC) was turned away by n: what the map learns. */
static void txnRedirected(router *rt, const rnode *n, const redisReply *r) {
    clusterRedirect to;
    if (redirectOf(r, &to) == CLUSTER_REDIR_MOVED) {
        movedTo(rt, n, &to);
        rt->st.moved++;
    } else {
        rt->need_backoff = 1;
        rt->st.retried++;
    }
}

/* A member of a block answered: kept until EXEC. A redirect is not
 * followed alone: the whole block goes again (ASK inside a block waits
 * like TRYAGAIN: ASKING covers one command, not a transaction). */
static void txnMember(router *rt, const rnode *n, pending *p, const redisReply *r) {
    if (isRedirect(r) && !rt->settling) {
        txnRedirected(rt, n, r);
        p->txn->redirected = 1;
    } else if (r->type == REDIS_REPLY_ERROR && !p->member_err) {
        p->member_err = strdup(r->str);
    }
    push(&p->txn->held, p);
}

static int deliver(router *rt, rnode *n, pending *p, const redisReply *r);

/* EXEC answered: the block again (turned away), or every member's reply
 * and then EXEC's. */
static int txnExec(router *rt, rnode *n, pending *p, const redisReply *r) {
    txn *t = p->txn;
    pending *h;
    /* EXEC itself can be turned away though every member was QUEUED: the
     * server checks the block's keys again at EXEC, and a key migrated
     * since (ASK, TRYAGAIN) or a slot now elsewhere (MOVED: a manual
     * failover made this master a replica while the block waited in its
     * write pause) discards the block. Nothing of it ran: it goes again,
     * whole, like a block whose member was turned away. */
    int exec_redirected = isRedirect(r) && !rt->settling;
    if (exec_redirected) txnRedirected(rt, n, r);
    if ((t->redirected && r->type == REDIS_REPLY_ERROR && !rt->settling) || exec_redirected) {
        while ((h = pop(&t->held))) {
            if (h->slot >= 0) rt->redirected[h->slot / 8] |= (unsigned char)(1 << (h->slot % 8));
            free(h->member_err);
            h->member_err = NULL;
            push(&rt->retry, h);
        }
        t->redirected = 0;
        push(&rt->retry, p);
        return 0;
    }
    int rc = 0;
    while ((h = pop(&t->held))) {
        const char *st = h->member_err ? h->member_err : h->role == TXN_MULTI ? "OK" : "QUEUED";
        redisReply m = {.type = h->member_err ? REDIS_REPLY_ERROR : REDIS_REPLY_STATUS, .str = (char *)st,
                        .len = strlen(st)};
        if (rc == 0) rc = deliver(rt, n, h, &m);
        pendingFree(h);
    }
    if (rc == 0) rc = deliver(rt, n, p, r);
    pendingFree(p);
    txnFree(rt, t);
    return rc;
}

static int replyCb(void *ctx, const writerTag *t, const redisReply *r) {
    rnode *n = ctx;
    router *rt = n->rt;
    pending *p = pop(&n->fifo);
    if (!p) return 0; /* cannot happen: one FIFO entry per command */
    if (p->internal) return pendingFree(p), 0;
    if (p->txn) {
        int rc = 0;
        if (p->role == TXN_END) rc = txnExec(rt, n, p, r);
        else txnMember(rt, n, p, r);
        if (rc) rt->stopped = 1;
        return rc;
    }
    if (redirect(rt, n, p, r)) return 0;
    int rc = p->group ? deliverGroup(rt, n, p, r) : deliver(rt, n, p, r);
    pendingFree(p);
    if (rc) rt->stopped = 1;
    return rc;
}

/* ---- sending ---- */

static pending *pendingNew(const char *cmd, size_t len, int own, const writerTag *tag) {
    pending *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    if (own) p->cmd = (char *)cmd;
    else if (!(p->cmd = malloc(len ? len : 1))) return free(p), NULL;
    else memcpy(p->cmd, cmd, len);
    p->len = len;
    p->slot = -1;
    p->node = -1;
    if (tag) {
        p->tag = *tag;
        snprintf(p->cmdname, sizeof(p->cmdname), "%s", tag->cmd ? tag->cmd : "command");
        p->tag.keylen = tag->key ? (tag->keylen < WRITER_KEY_MAX ? tag->keylen : WRITER_KEY_MAX) : 0;
        if (p->tag.keylen) memcpy(p->key, tag->key, p->tag.keylen);
    } else {
        snprintf(p->cmdname, sizeof(p->cmdname), "command");
    }
    p->tag.cmd = p->cmdname;
    p->tag.key = tag && tag->key ? p->key : NULL;
    return p;
}

static int ready(router *rt);

static int isWord(const char *a, size_t len, const char *w) {
    return strlen(w) == len && strncasecmp(a, w, len) == 0;
}

int routerTxnBegin(router *rt) {
    if (rt->open_txn) return 0; /* the MULTI that follows opens nothing more */
    if (ready(rt) < 0) return -1;
    txn *t = calloc(1, sizeof(*t));
    if (!t) return fail(rt, "out of memory");
    t->node = -1;
    t->next = rt->txns;
    rt->txns = t;
    rt->open_txn = t;
    return 0;
}

void routerTxnEnd(router *rt) { rt->open_txn = NULL; }

/* A node's writer refused: stopped by the consumer, or its link failed. */
static int nodeFailed(router *rt, rnode *n) {
    if (writerStopped(n->w) || rt->stopped) {
        rt->stopped = 1;
        return -1;
    }
    nodeLost(rt, n, writerError(n->w));
    return 0;
}

/* Put p on node i's wire (with ASKING first when p->ask_host). 0 also when
 * the node failed (p is then in the retry list), -1 on a stop. */
static int sendTo(router *rt, int i, pending *p) {
    rnode *n = rt->nodes[i];
    char why[256];
    if (!n->w && nodeConnect(rt, n, why, sizeof(why)) < 0) {
        if (p->slot >= 0) rt->redirected[p->slot / 8] |= (unsigned char)(1 << (p->slot % 8));
        if (p->txn) p->txn->in_retry = 1;
        push(&rt->retry, p);
        rt->need_reload = rt->need_backoff = 1;
        snprintf(rt->err, sizeof(rt->err), "%.200s: %.250s", n->addr, why);
        return 0;
    }
    if (p->ask_host) {
        pending *a = pendingNew("*1\r\n$6\r\nASKING\r\n", 16, 0, NULL);
        if (!a) return fail(rt, "out of memory");
        a->internal = 1;
        push(&n->fifo, a);
        writerTag at = {.cmd = "ASKING"};
        free(p->ask_host);
        p->ask_host = NULL;
        if (writerCommandRaw(n->w, a->cmd, a->len, &at) < 0) {
            push(&n->fifo, p);
            return nodeFailed(rt, n);
        }
    }
    push(&n->fifo, p);
    if (writerCommandRaw(n->w, p->cmd, p->len, &p->tag) < 0) return nodeFailed(rt, n);
    return 0;
}

/* The node a pending command goes to now; -1 when its slot has no master
 * in the map (p then waits in the retry list). */
static int target(router *rt, pending *p) {
    if (p->ask_host) return nodeAdd(rt, p->ask_host, p->ask_port);
    if (p->slot < 0) return p->node;
    int s = clusterSlotShard(rt->map, (unsigned)p->slot);
    if (s < 0) return -1;
    return nodeAdd(rt, rt->map->shards[s].master.host, rt->map->shards[s].master.port);
}

static int isMulti(const pending *p) { return p->role == TXN_MULTI; }

/* A block's members go where its MULTI went, or wait behind it. */
static int txnTarget(router *rt, pending *p) {
    txn *t = p->txn;
    free(p->ask_host);
    p->ask_host = NULL;
    if (isMulti(p)) {
        t->in_retry = 0;
        return t->node = target(rt, p);
    }
    return t->in_retry ? -2 : t->node;
}

static void pollOthers(router *rt, int except) {
    for (int k = 0; k < rt->nnodes; k++) {
        rnode *o = rt->nodes[k];
        if (k != except && o->w && writerInFlight(o->w) && writerPoll(o->w) < 0) nodeFailed(rt, o);
    }
}

static int route(router *rt, pending *p) {
    int i = p->txn ? txnTarget(rt, p) : target(rt, p);
    if (i >= 0 && ++rt->routed % POLL_EVERY == 0) pollOthers(rt, i);
    if (i == -2) {
        push(&rt->retry, p);
        return 0;
    }
    if (i < 0) {
        if (p->txn) p->txn->in_retry = 1;
        push(&rt->retry, p);
        rt->need_reload = rt->need_backoff = 1;
        snprintf(rt->err, sizeof(rt->err), "slot %d has no master in the cluster map", p->slot);
        return 0;
    }
    return sendTo(rt, i, p);
}

/* ---- recovery ---- */

static int reload(router *rt) {
    char err[512];
    clusterMap *m = clusterMapReload(rt->map, &rt->url, &rt->co, err, sizeof(err));
    rt->st.reloads++;
    if (!m) {
        snprintf(rt->err, sizeof(rt->err), "%s", err);
        rt->need_backoff = 1;
        return -1;
    }
    clusterMapFree(rt->map);
    rt->map = m;
    return 0;
}

static int drainAll(router *rt) {
    for (int i = 0; i < rt->nnodes; i++) {
        rnode *n = rt->nodes[i];
        if (n->w && writerDrain(n->w) < 0 && nodeFailed(rt, n) < 0) return -1;
    }
    return 0;
}

/* Send the retry list again until it stays empty. */
static int recover(router *rt) {
    int backoff = BACKOFF_MIN_MS;
    int64_t since = clockMonoMs();
    while (rt->retry.n || rt->need_reload) {
        if (rt->stopped || rt->broken) return -1;
        if (drainAll(rt) < 0) return -1;
        if (rt->need_backoff) {
            if (clockMonoMs() - since > GIVE_UP_MS) {
                int slot = rt->retry.head ? rt->retry.head->slot : -1;
                return fail(rt, "cluster: slot %d has no reachable master for %d s (last: %s)", slot,
                            GIVE_UP_MS / 1000, rt->err);
            }
            usleep((useconds_t)backoff * 1000);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            rt->need_backoff = 0;
        }
        if (rt->need_reload) {
            if (reload(rt) < 0) continue;
            rt->need_reload = 0;
        }
        plist l = rt->retry;
        rt->retry = (plist){0};
        memset(rt->redirected, 0, sizeof(rt->redirected));
        pending *p;
        txn *deferred = NULL;
        while ((p = pop(&l))) {
            rt->st.resent++;
            /* A command of a slot redirected again in this round waits
             * behind it: order within a slot is kept. A block is decided
             * at its MULTI, whole. */
            int marked = p->slot >= 0 && (rt->redirected[p->slot / 8] >> (p->slot % 8) & 1);
            if (p->txn && isMulti(p)) deferred = marked ? p->txn : NULL;
            if (p->txn ? p->txn == deferred : marked) {
                if (p->txn) p->txn->in_retry = 1;
                push(&rt->retry, p);
                continue;
            }
            if (route(rt, p) < 0) {
                listFree(&l);
                return -1;
            }
        }
        if (rt->retry.n == 0 && !rt->need_reload) break;
        if (!rt->need_backoff && !rt->need_reload) since = clockMonoMs(); /* progress: a redirect, not an outage */
    }
    return 0;
}

static int ready(router *rt) {
    if (rt->stopped || rt->broken || !rt->started) return -1;
    return rt->retry.n || rt->need_reload ? recover(rt) : 0;
}

/* ---- fences: the order of one slot's commands while it migrates ----
 *
 * While a slot migrates, its old master runs a command whose keys it still
 * holds and turns away one whose keys are gone (ASK). Commands of one key
 * keep their order through that: once a key is gone from the old master it
 * stays gone there, so every later command of that key is turned away too,
 * and goes again behind the first. A command of several keys (RENAME,
 * SUNIONSTORE, EVAL, MSET of one hash tag, xslot's DEL of its temporaries)
 * or a MULTI block is different: when only some of its keys are gone it is
 * turned away whole (TRYAGAIN, or EXECABORT for a block), while the keys
 * still there go on taking the commands pipelined behind it. Sent again
 * later, it would run after them: a reorder, and e.g. xslot's home block
 * (RESTORE of temporaries, SUNIONSTORE dst ...) then overwrote what the
 * next commands had written to dst, the keys "lost" when that block was
 * first made one unit. So such a command holds a fence on its slot from
 * the moment it is queued until its reply is final, and a later command of
 * that slot (not a member of the same block) first waits for it. Commands
 * of other slots are not held back. */

/* A later command of slot s: what may be turned away whole before it is
 * answered first (and sent again when it was). */
static int fenceWait(router *rt, unsigned s) {
    return rt->fence[s] ? routerDrain(rt) : 0;
}

void routerMultiKey(router *rt) { rt->next_multikey = 1; }

/* ---- public: writer calls ---- */

/* A command in RESP in a buffer of its own (a pending owns it), formatted
 * by resp.h as the one-node writer does: no printf per argument. */
static char *formatCommand(int argc, const char **argv, const size_t *lens, size_t *len) {
    char *cmd = malloc(respCommandLen(argc, lens));
    if (cmd) *len = respFormat(cmd, argc, argv, lens);
    return cmd;
}

int routerCommandSlot(router *rt, unsigned slot, int argc, const char **argv, const size_t *lens,
                      const writerTag *tag) {
    /* A MULTI opens a block (whoever sends it: the stream, xslot's own
     * transactions) and EXEC or DISCARD closes it. Inside a block nothing
     * is sent again: its members stay together. */
    int role = argc < 1 ? TXN_NONE
               : isWord(argv[0], lens[0], "MULTI") ? TXN_MULTI
               : isWord(argv[0], lens[0], "EXEC") || isWord(argv[0], lens[0], "DISCARD") ? TXN_END
                                                                                         : TXN_NONE;
    int multikey = rt->next_multikey;
    rt->next_multikey = 0;
    slot %= CLUSTER_SLOTS;
    /* Members of an open block go behind their own MULTI, which waited. */
    if ((role == TXN_MULTI || !rt->open_txn) && fenceWait(rt, slot) < 0) return -1;
    if (role == TXN_MULTI && !rt->open_txn && routerTxnBegin(rt) < 0) return -1;
    if (rt->open_txn ? rt->stopped || rt->broken : ready(rt) < 0) return -1;
    size_t len;
    char *cmd = formatCommand(argc, argv, lens, &len);
    if (!cmd) return fail(rt, "out of memory formatting a command");
    pending *p = pendingNew(cmd, len, 1, tag);
    if (!p) return free(cmd), fail(rt, "out of memory");
    p->prev_off = streamPrev(rt, tag);
    p->slot = (int)slot;
    p->txn = rt->open_txn;
    p->role = !p->txn ? TXN_NONE : role ? role : TXN_MEMBER;
    if (role == TXN_MULTI || (multikey && !p->txn)) {
        /* A block's MULTI is freed when EXEC's final reply is delivered. */
        p->fence = &rt->fence[slot];
        rt->fence[slot]++;
    }
    if (role == TXN_END) routerTxnEnd(rt);
    return route(rt, p);
}

int routerBroadcast(router *rt, int argc, const char **argv, const size_t *lens, const writerTag *tag) {
    if (ready(rt) < 0) return -1;
    size_t len;
    char *cmd = formatCommand(argc, argv, lens, &len);
    if (!cmd) return fail(rt, "out of memory formatting a command");
    bcast *g = calloc(1, sizeof(*g));
    int rc = g ? 0 : fail(rt, "out of memory");
    int targets[256], slots[256], nt = 0;
    for (int s = 0; rc == 0 && s < rt->map->nshards && nt < 256; s++) {
        int first = shardFirstSlot(rt->map, s);
        if (first < 0) continue;
        int i = nodeAdd(rt, rt->map->shards[s].master.host, rt->map->shards[s].master.port);
        if (i < 0) rc = fail(rt, "out of memory");
        else slots[nt] = first, targets[nt++] = i;
    }
    if (g) g->remaining = nt;
    uint64_t prev = streamPrev(rt, tag);
    for (int k = 0; rc == 0 && k < nt; k++) {
        pending *p = pendingNew(cmd, len, 0, tag);
        if (!p) {
            rc = fail(rt, "out of memory");
            break;
        }
        p->prev_off = prev;
        p->group = g;
        p->node = targets[k];
        /* Sent again (its master died), it goes to whoever serves that
         * shard's first slot then: the replica that took over. */
        p->slot = slots[k];
        rc = sendTo(rt, targets[k], p);
    }
    if (g && nt == 0) free(g);
    free(cmd);
    return rc;
}

int routerCommand(router *rt, int argc, const char **argv, const size_t *lens, const writerTag *tag) {
    if (tag && tag->key) return routerCommandSlot(rt, clusterKeySlot(tag->key, tag->keylen), argc, argv, lens, tag);
    return routerBroadcast(rt, argc, argv, lens, tag);
}

int routerReject(router *rt, const writerTag *tag, const char *msg) {
    /* What came before it is applied first, as on a server that refuses. */
    if (routerDrain(rt) < 0) return -1;
    redisReply e = {.type = REDIS_REPLY_ERROR, .str = (char *)msg, .len = strlen(msg)};
    rt->replies++;
    if (rt->o.on_reply && rt->o.on_reply(rt->o.ctx, tag, &e)) {
        snprintf(rt->err, sizeof(rt->err), "%s", msg);
        rt->stopped = 1;
        return -1;
    }
    return 0;
}

int routerSelect(router *rt, uint64_t db) {
    if (db == 0) return rt->stopped || rt->broken ? -1 : 0;
    /* As a refused SELECT of a one-node writer: the consumer hears it. */
    const char *msg = "ERR a cluster target has db 0 only";
    redisReply e = {.type = REDIS_REPLY_ERROR, .str = (char *)msg, .len = strlen(msg)};
    writerTag t = {.cmd = "SELECT", .db = db, .kind = WRITER_K_SELECT};
    if (rt->o.on_reply) rt->o.on_reply(rt->o.ctx, &t, &e);
    snprintf(rt->err, sizeof(rt->err), "a cluster target has db 0 only: db %llu (use --db 0 or --db-map %llu:0)",
             (unsigned long long)db, (unsigned long long)db);
    rt->stopped = 1;
    return -1;
}

int routerDrain(router *rt) {
    for (;;) {
        if (ready(rt) < 0) return -1;
        if (drainAll(rt) < 0) return -1;
        if (!rt->retry.n && !rt->need_reload) return 0;
    }
}

static int eachNode(router *rt, int (*fn)(writer *)) {
    if (ready(rt) < 0) return -1;
    for (int i = 0; i < rt->nnodes; i++) {
        rnode *n = rt->nodes[i];
        if (n->w && fn(n->w) < 0 && nodeFailed(rt, n) < 0) return -1;
    }
    return 0;
}

int routerFlush(router *rt) { return eachNode(rt, writerFlush); }
int routerPoll(router *rt) { return eachNode(rt, writerPoll); }

int routerSettle(router *rt) {
    int rc = 0;
    rt->settling = 1;
    for (int i = 0; i < rt->nnodes; i++) {
        rnode *n = rt->nodes[i];
        if (n->w && writerSettle(n->w) < 0) rc = -1;
        /* What the node's writer dropped unsent never got a reply. */
        rt->dropped += listFree(&n->fifo);
    }
    rt->dropped += listFree(&rt->retry);
    for (txn *t = rt->txns; t; t = t->next) rt->dropped += listFree(&t->held);
    rt->settling = 0;
    return rc;
}

const char *routerError(const router *rt) { return rt->err; }
int routerStopped(const router *rt) { return rt->stopped; }
uint64_t routerDropped(const router *rt) { return rt->dropped; }
uint64_t routerReplies(const router *rt) { return rt->replies; }

size_t routerInFlight(const router *rt) {
    size_t n = rt->retry.n;
    for (int i = 0; i < rt->nnodes; i++) n += rt->nodes[i]->fifo.n;
    return n;
}

/* ---- synchronous calls ---- */

/* A block whose EXEC the caller sends itself (routerCall: xslot reads
 * EXEC's reply): once drained, its members are answered as the server
 * answered them, and the block is no longer the router's to send again. */
static void txnRelease(router *rt) {
    txn *t = rt->open_txn;
    if (!t) return;
    rt->open_txn = NULL;
    rnode *n = t->node >= 0 && t->node < rt->nnodes ? rt->nodes[t->node] : NULL;
    pending *h;
    int rc = 0;
    while ((h = pop(&t->held))) {
        const char *st = h->member_err ? h->member_err : h->role == TXN_MULTI ? "OK" : "QUEUED";
        redisReply m = {.type = h->member_err ? REDIS_REPLY_ERROR : REDIS_REPLY_STATUS, .str = (char *)st,
                        .len = strlen(st)};
        if (rc == 0 && n) rc = deliver(rt, n, h, &m);
        pendingFree(h);
    }
    if (rc) rt->stopped = 1;
    txnFree(rt, t);
}

/* A node routerCall could not reach or read from: its link goes (what it
 * had in flight is sent again), and the map is read again once the
 * failover settles (recover's backoff and 60 s limit). 0 to try again. */
static int callLost(router *rt, rnode *n, const char *why) {
    if (rt->stopped) return fail(rt, "%s: %s", n->addr, why);
    if (n->c || n->w) nodeLost(rt, n, why);
    rt->need_reload = rt->need_backoff = 1;
    snprintf(rt->err, sizeof(rt->err), "%.200s: %.250s", n->addr, why);
    return routerDrain(rt);
}

redisReply *routerCall(router *rt, unsigned slot, int argc, const char **argv, const size_t *lens) {
    char host[CLUSTER_HOST_MAX] = "";
    int port = 0, asking = 0, backoff = BACKOFF_MIN_MS;
    int64_t since = clockMonoMs();
    /* After a stop (and writerSettle) nothing is in flight: no drain. */
    if (!rt->stopped && routerDrain(rt) < 0) return NULL;
    txnRelease(rt);
    /* The calls are reads (xslot's DUMP and expire times): safe to repeat.
     * So a master lost mid-call (a failover) costs a map reload and another
     * try, as the pipelined writes do, and TRYAGAIN/CLUSTERDOWN are waited
     * out with the same backoff and limit, not given up after a few tries. */
    for (int hop = 0;; hop++) {
        if (clockMonoMs() - since > GIVE_UP_MS)
            return fail(rt, "cluster: slot %u: no answer for %d s (last: %s)", slot, GIVE_UP_MS / 1000, rt->err), NULL;
        if (hop >= 8) { /* redirected in a loop: a topology in motion */
            usleep((useconds_t)backoff * 1000);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        }
        int i;
        if (asking) {
            i = nodeAdd(rt, host, port);
        } else {
            int s = clusterSlotShard(rt->map, slot % CLUSTER_SLOTS);
            if (s < 0) {
                rt->need_reload = rt->need_backoff = 1;
                snprintf(rt->err, sizeof(rt->err), "slot %u has no master in the cluster map", slot);
                if (routerDrain(rt) < 0) return NULL;
                continue;
            }
            i = nodeAdd(rt, rt->map->shards[s].master.host, rt->map->shards[s].master.port);
        }
        if (i < 0) return fail(rt, "out of memory"), NULL;
        rnode *n = rt->nodes[i];
        char why[256];
        if (!n->c && nodeConnect(rt, n, why, sizeof(why)) < 0) {
            asking = 0;
            if (callLost(rt, n, why) < 0) return NULL;
            continue;
        }
        if (n->w && writerInFlight(n->w) && writerDrain(n->w) < 0) {
            asking = 0;
            if (writerStopped(n->w)) return rt->stopped = 1, NULL;
            if (callLost(rt, n, writerError(n->w)) < 0) return NULL;
            continue;
        }
        redisReply *r = NULL, *a = asking ? connCommandf(n->c, "ASKING") : NULL;
        if (a) freeReplyObject(a);
        if (a || !asking) r = connCommand(n->c, argc, argv, lens);
        asking = 0;
        if (!r) {
            if (callLost(rt, n, connError(n->c)) < 0) return NULL;
            continue;
        }
        clusterRedirect to;
        clusterRedirKind kind = redirectOf(r, &to);
        if (kind == CLUSTER_REDIR_MOVED) {
            movedTo(rt, n, &to);
        } else if (kind == CLUSTER_REDIR_ASK) {
            snprintf(host, sizeof(host), "%s", clusterRedirectHost(&to, n->host));
            port = to.port;
            asking = 1;
        } else if (isErr(r, "TRYAGAIN") || isErr(r, "CLUSTERDOWN")) {
            snprintf(rt->err, sizeof(rt->err), "%.200s: %.250s", n->addr, r->str);
            usleep((useconds_t)backoff * 1000);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        } else {
            return r;
        }
        freeReplyObject(r);
        if (rt->need_reload && routerDrain(rt) < 0) return NULL;
    }
}

/* ---- open, start, free ---- */

router *routerOpen(rsConn *seed, const rsUrl *url, const rsConnOptions *co, char *err, size_t errlen) {
    router *rt = calloc(1, sizeof(*rt));
    if (!rt) return snprintf(err, errlen, "out of memory"), NULL;
    if (urlCopy(&rt->url, url, err, errlen) < 0) return free(rt), NULL;
    if (co) rt->co = *co;
    rt->map = clusterMapRead(seed, url->host ? url->host : "127.0.0.1", url->tls || (co && co->tls.enabled), err,
                             errlen);
    if (!rt->map || clusterMapComplete(rt->map, connAddr(seed), err, errlen) < 0) {
        routerFree(rt);
        return NULL;
    }
    for (int s = 0; s < rt->map->nshards; s++) {
        const clusterNode *m = &rt->map->shards[s].master;
        if (!shardOwns(rt->map, s)) continue; /* a dead or empty master: no key goes there */
        int i = nodeAdd(rt, m->host, m->port);
        char why[256];
        if (i < 0 || (!rt->nodes[i]->c && nodeConnect(rt, rt->nodes[i], why, sizeof(why)) < 0)) {
            snprintf(err, errlen, "cluster master %s:%d: %s", m->host, m->port, i < 0 ? "out of memory" : why);
            routerFree(rt);
            return NULL;
        }
    }
    rt->nmasters = rt->nnodes;
    return rt;
}

int routerStart(router *rt, const writerOptions *o) {
    rt->o = o ? *o : (writerOptions){0};
    rt->started = 1;
    for (int i = 0; i < rt->nnodes; i++) {
        rnode *n = rt->nodes[i];
        writerOptions wo = rt->o;
        wo.on_reply = replyCb;
        wo.ctx = n;
        if (n->c && !n->w && !(n->w = writerNew(n->c, &wo))) return fail(rt, "out of memory");
    }
    return 0;
}

void routerFree(router *rt) {
    if (!rt) return;
    for (int i = 0; i < rt->nnodes; i++) {
        rnode *n = rt->nodes[i];
        listFree(&n->fifo);
        nodeClose(n);
        free(n->host);
        free(n);
    }
    listFree(&rt->retry);
    while (rt->txns) txnFree(rt, rt->txns);
    free(rt->nodes);
    clusterMapFree(rt->map);
    urlFree(&rt->url);
    free(rt);
}

int routerMasters(const router *rt) { return rt->nmasters; }
rsConn *routerMasterConn(router *rt, int i) { return i >= 0 && i < rt->nmasters ? rt->nodes[i]->c : NULL; }
const clusterMap *routerMap(const router *rt) { return rt->map; }

/* ---- counts ---- */

int routerNodeStatsGet(const router *rt, routerNodeStats *out, int max) {
    int k = 0;
    for (int i = 0; i < rt->nnodes && k < max; i++) {
        const rnode *n = rt->nodes[i];
        if (i >= rt->nmasters && !n->cmds) continue;
        snprintf(out[k].addr, sizeof(out[k].addr), "%s", n->addr);
        out[k].keys = n->keys;
        out[k].cmds = n->cmds;
        k++;
    }
    return k;
}

void routerStatsGet(const router *rt, routerStats *out) { *out = rt->st; }

void routerFormatPerNode(const router *rt, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < rt->nnodes && used + 1 < cap; i++) {
        const rnode *n = rt->nodes[i];
        if (i >= rt->nmasters && !n->cmds) continue;
        int w = snprintf(buf + used, cap - used, "%s%s %llu keys %llu commands", used ? ", " : "", n->addr,
                         (unsigned long long)n->keys, (unsigned long long)n->cmds);
        if (w < 0) break;
        used += (size_t)w;
    }
    if (used >= cap) used = cap - 1;
}

/* scan.c -- SCAN + DUMP reading (see scan.h).
 *
 * The pass talks to the source with plain pipelining: DUMP and PEXPIRETIME
 * for every key of a burst in one write, the SCAN for the next batch in the
 * same write as the batch's last burst, then the replies in order (one
 * round trip per burst; with --rate, bursts sized by pace.h). Its users: the
 * scan-mode copy (scancopy.c), live snapshots, checksums and verification
 * (snapshot.c).
 */
#include "scan.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "pace.h"
#include "resp.h"
#include "rdb/len.h"
#include "rdb/rdb.h"

static volatile sig_atomic_t stop_requested;
void scanRequestStop(void) { stop_requested = 1; }
int scanStopRequested(void) { return stop_requested; }

/* ---- The pass ---- */

/* Databases with keys, from INFO keyspace ("db3:keys=10,expires=..."). */
static int keyspaceDbs(rsConn *c, int *dbs, int max, char *err, size_t errlen) {
    int n = connKeyspaceDbs(c, dbs, max);
    if (n < 0) snprintf(err, errlen, "source: INFO keyspace failed: %s", connError(c));
    return n;
}

static int selectDb(rsConn *c, int db, char *err, size_t errlen) {
    redisReply *r = connCommandf(c, "SELECT %d", db);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok) snprintf(err, errlen, "source: SELECT %d failed: %s", db, r ? r->str : connError(c));
    if (r) freeReplyObject(r);
    return ok ? 0 : -1;
}

static int hasExpireTime(const rsServerInfo *info) { return connServerAtLeast(info, 7, 0); }

/* A growing buffer of RESP commands, written at once: one write per burst. */
typedef struct cmdBuf {
    char *p;
    size_t len, cap;
    int oom;
} cmdBuf;

/* One command appended, formatted by resp.h (no printf, no allocation per
 * command); out of memory is kept in b->oom and said at sendBuf. */
static void bufCmd(cmdBuf *b, int argc, const char **av, const size_t *lv) {
    size_t n = respCommandLen(argc, lv);
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np, b->cap = cap;
    }
    b->len += respFormat(b->p + b->len, argc, av, lv);
}

/* DUMP + expire query for each key (each after an ASKING when asking:
 * the flag lasts one command). */
static void addDumps(cmdBuf *b, const rsServerInfo *info, const redisReply *keys, int asking) {
    const char *xq = hasExpireTime(info) ? "PEXPIRETIME" : "PTTL";
    const char *ask[1] = {"ASKING"};
    size_t askl[1] = {6};
    for (size_t i = 0; i < keys->elements; i++) {
        const char *av[2] = {"DUMP", keys->element[i]->str};
        size_t lv[2] = {4, (size_t)keys->element[i]->len};
        if (asking) bufCmd(b, 1, ask, askl);
        bufCmd(b, 2, av, lv);
        av[0] = xq, lv[0] = strlen(xq);
        if (asking) bufCmd(b, 1, ask, askl);
        bufCmd(b, 2, av, lv);
    }
}

static int sendBuf(rsConn *c, cmdBuf *b) {
    int rc = b->oom ? -1 : b->len ? connWrite(c, b->p, b->len) : 0;
    free(b->p);
    *b = (cmdBuf){0};
    return rc;
}

/* Send DUMP + expire query for each key in one write. */
static int sendDumps(rsConn *c, const rsServerInfo *info, redisReply *keys, int asking) {
    cmdBuf b = {0};
    addDumps(&b, info, keys, asking);
    return sendBuf(c, &b);
}

/* The type filter, from the DUMP payload's type byte (SCAN TYPE may have
 * applied it already: asking again costs nothing). */
static int typeSelected(const scanOptions *o, const unsigned char *p, size_t len) {
    return !filterHasTypes(o->filter) || filterType(o->filter, filterPayloadType(p, len));
}

/* The prefix of a DUMP's error reply in err: scanRedirect reads what follows. */
#define REFUSED "source refused DUMP: "

static int isRedirect(const redisReply *r) {
    clusterRedirect to;
    return r->type == REDIS_REPLY_ERROR && clusterRedirectParse(r->str, &to) != CLUSTER_REDIR_NONE;
}

/* The prefix of an EXISTS error reply in err (scanKeyExists). */
#define REFUSED_EXISTS "source refused EXISTS: "

clusterRedirKind scanRedirect(const char *err, clusterRedirect *to) {
    size_t n = strlen(REFUSED), e = strlen(REFUSED_EXISTS);
    const char *r = strncmp(err, REFUSED, n) == 0 ? err + n : strncmp(err, REFUSED_EXISTS, e) == 0 ? err + e : NULL;
    return clusterRedirectParse(r, to);
}

int scanTransient(const char *err) { return strstr(err, "CLUSTERDOWN") || strstr(err, "TRYAGAIN"); }

static int isTransient(const redisReply *r) { return r->type == REDIS_REPLY_ERROR && scanTransient(r->str); }

static int getKey(rsConn *src, const rsServerInfo *info, int db, const char *key, size_t keylen, int asking,
                  scanItem *it, char *err, size_t errlen);

/* A key whose DUMP met a passing cluster state, asked again (after the
 * batch: its replies are all read) until it answers, the slot moves, or
 * SCAN_RETRY_MS. */
static int retryKey(rsConn *c, const rsServerInfo *info, const scanOptions *o, int db, const redisReply *k,
                    scanSink sink, void *ctx, scanStats *st, char *err, size_t errlen) {
    int64_t start = clockMonoMs();
    for (;;) {
        scanItem it;
        clusterRedirect to;
        int got = getKey(c, info, db, k->str, (size_t)k->len, 0, &it, err, errlen);
        if (got < 0 && scanTransient(err) && !stop_requested && clockMonoMs() - start < SCAN_RETRY_MS) {
            usleep(100 * 1000);
            continue;
        }
        if (got < 0 && scanRedirect(err, &to)) got = 0, err[0] = '\0';
        if (got <= 0) {
            st->vanished += got == 0;
            return got;
        }
        int rc = 0;
        if (!typeSelected(o, it.payload, it.len)) st->filtered++;
        else if (st->dumped++, sink(ctx, &it) != 0) rc = -1;
        free((void *)it.payload);
        return rc;
    }
}

/* What making a DUMP payload cost the source, for the pacer: its bytes
 * stored as is (`plain`), or for a value stored as one LZF-compressed blob
 * (a string, a listpack, a ziplist, an intset), the uncompressed size from
 * the blob's header (`packed`): the source compressed that much. Values
 * made of many elements count as plain bytes. */
static void payloadCost(const unsigned char *p, size_t len, size_t *plain, size_t *packed) {
    uint64_t clen, raw;
    size_t pos = 2;
    int blob = len > 2 && (p[0] == RDB_TYPE_STRING || p[0] == RDB_TYPE_HASH_ZIPMAP || p[0] == RDB_TYPE_LIST_ZIPLIST ||
                           p[0] == RDB_TYPE_SET_INTSET || p[0] == RDB_TYPE_ZSET_ZIPLIST ||
                           p[0] == RDB_TYPE_HASH_ZIPLIST || p[0] == RDB_TYPE_HASH_LISTPACK ||
                           p[0] == RDB_TYPE_ZSET_LISTPACK || p[0] == RDB_TYPE_SET_LISTPACK);
    if (blob && p[1] == (RDB_ENCVAL << 6 | RDB_ENC_LZF) && rdbLenAt(p, len, &pos, &clen, NULL) == 0 &&
        rdbLenAt(p, len, &pos, &raw, NULL) == 0)
        *packed += raw;
    else
        *plain += len;
}

/* Read the DUMP/expire replies of one batch and feed the sink. */
static int readDumps(rsConn *c, const rsServerInfo *info, const scanOptions *o, int db, redisReply *keys,
                     scanSink sink, void *ctx, scanStats *st, size_t *plain, size_t *packed, char *err,
                     size_t errlen) {
    int64_t now = clockWallMs(); /* PTTL is relative: made absolute by the wall clock */
    size_t *again = NULL, nagain = 0; /* keys to ask again (scanTransient) */
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *d = connGetReply(c), *e = d ? connGetReply(c) : NULL;
        if (d && d->type == REDIS_REPLY_STRING) payloadCost((const unsigned char *)d->str, (size_t)d->len, plain, packed);
        if (!d || !e) {
            snprintf(err, errlen, "source: %s", connError(c));
            if (d) freeReplyObject(d);
            return -1;
        }
        int rc = 0;
        if (o->moved_vanish && (isRedirect(d) || isRedirect(e))) {
            st->vanished++; /* the slot moved: its new owner is read instead */
        } else if (o->moved_vanish && (isTransient(d) || isTransient(e))) {
            size_t *g = realloc(again, (nagain + 1) * sizeof(*again));
            if (g) again = g, again[nagain++] = i;
            else snprintf(err, errlen, "out of memory"), rc = -1;
        } else if (d->type == REDIS_REPLY_ERROR || e->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, REFUSED "%s", d->type == REDIS_REPLY_ERROR ? d->str : e->str);
            rc = -1;
        } else if (d->type != REDIS_REPLY_STRING || e->integer == -2) {
            st->vanished++;
        } else if (!typeSelected(o, (const unsigned char *)d->str, (size_t)d->len)) {
            st->filtered++;
        } else {
            int64_t exp = e->integer < 0 ? -1 : hasExpireTime(info) ? e->integer : now + e->integer;
            scanItem it = {db, keys->element[i]->str, (size_t)keys->element[i]->len,
                           (const unsigned char *)d->str, (size_t)d->len, exp};
            st->dumped++;
            if (sink(ctx, &it) != 0) {
                /* Keep the sink's own reason when it left one. */
                char kr[300];
                rdbKeyRepr(it.key, it.keylen, kr, sizeof(kr));
                if (!err[0]) snprintf(err, errlen, "stopped at db %d, key '%s'", db, kr);
                rc = -1;
            }
        }
        freeReplyObject(d);
        freeReplyObject(e);
        if (rc < 0) return free(again), -1;
    }
    for (size_t j = 0; j < nagain; j++)
        if (retryKey(c, info, o, db, keys->element[again[j]], sink, ctx, st, err, errlen) < 0) return free(again), -1;
    free(again);
    return 0;
}

/* SCAN cursor COUNT n [MATCH p] [TYPE t]: what the server can filter. */
static void addScan(cmdBuf *b, const rsServerInfo *info, const scanOptions *o, const char *cursor, int count,
                    scanStats *st) {
    char cnt[16];
    snprintf(cnt, sizeof(cnt), "%d", count);
    const char *av[8] = {"SCAN", cursor, "COUNT", cnt};
    size_t lv[8];
    int ac = 4;
    const char *match = filterScanMatch(o->filter), *type = filterScanType(o->filter);
    if (match) av[ac++] = "MATCH", av[ac++] = match;
    if (type && connServerAtLeast(info, 6, 0)) av[ac++] = "TYPE", av[ac++] = type;
    st->server_side |= ac > 4;
    for (int i = 0; i < ac; i++) lv[i] = strlen(av[i]);
    bufCmd(b, ac, av, lv);
}

/* The keys of a batch in the slots asked for, in place (as keepSelected):
 * a cluster node may hold keys of slots it no longer serves. */
static void keepSlots(const scanOptions *o, redisReply *keys) {
    if (!o->slots) return;
    size_t n = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *k = keys->element[i];
        unsigned slot = clusterKeySlot(k->str, (size_t)k->len);
        if (o->slots[slot >> 3] >> (slot & 7) & 1) {
            keys->element[i] = keys->element[n];
            keys->element[n++] = k;
        }
    }
    keys->elements = n;
}

/* The keys of a batch that the name filter keeps, in place (the reply
 * keeps owning the dropped ones, freed with it). */
static void keepSelected(const scanOptions *o, redisReply *keys, scanStats *st) {
    if (!filterHasNames(o->filter) || filterScanMatch(o->filter)) return;
    size_t n = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *k = keys->element[i];
        if (filterName(o->filter, k->str, (size_t)k->len)) {
            keys->element[i] = keys->element[n];
            keys->element[n++] = k;
        } else {
            st->filtered++;
        }
    }
    keys->elements = n;
}

/* DUMP the selected keys of one SCAN batch in bursts, each one write and
 * its replies, paced: with --rate the source sees short bursts spread
 * evenly (pace.h sizes them to the rate and to a budget of the source's
 * time), never a whole batch at once. The SCAN for the next batch (cursor
 * `next`, NULL after the last) goes in the last burst's write: one round trip
 * per burst, and its reply is read by the caller. `before` is the scanned
 * count before this batch, `all` the batch's size before the filter, `cap`
 * the SCAN COUNT. */
static int dumpBatch(rsConn *c, const rsServerInfo *info, const scanOptions *o, int db, redisReply *keys,
                     size_t all, int cap, const char *next, pacer *pace, uint64_t before, scanSink sink, void *ctx,
                     scanStats *st, char *err, size_t errlen) {
    size_t off = 0;
    for (;;) {
        if (o->rate_share) paceSetRate(pace, __atomic_load_n(o->rate_share, __ATOMIC_RELAXED), before + off);
        size_t n = keys->elements - off, per = (size_t)pacePerBurst(pace, cap);
        /* SCAN returns whole buckets, a few keys more than its COUNT: those
         * go with the rest rather than in a round trip of their own. */
        if (n > per + per / 4) n = per;
        int last = off + n == keys->elements;
        redisReply part = {.type = REDIS_REPLY_ARRAY, .elements = n, .element = keys->element + off};
        /* A cluster copy (moved_vanish) may ask keys of the batch again once
         * its replies are read (retryKey): a SCAN already in the pipe would
         * answer in their place, so its SCAN goes after them. */
        int embed = last && next && !o->moved_vanish;
        cmdBuf b = {0};
        addDumps(&b, info, &part, 0);
        if (embed) addScan(&b, info, o, next, pacePerBurst(pace, cap), st);
        size_t plain = 0, packed = 0;
        if (sendBuf(c, &b) < 0) return -1;
        if (n && readDumps(c, info, o, db, &part, sink, ctx, st, &plain, &packed, err, errlen) < 0) return -1;
        paceObserve(pace, (int)n, plain, packed);
        off += n;
        paceWait(pace, before + (last ? all : off));
        if (last && next && !embed) {
            cmdBuf sb = {0};
            addScan(&sb, info, o, next, pacePerBurst(pace, cap), st);
            if (sendBuf(c, &sb) < 0) return -1;
        }
        if (last) return 0;
    }
}

/* scanOptions.keys_only: the sink gets the batch's names, then the SCAN
 * for the next batch goes (cursor `next`, NULL after the last). */
static int keysBatch(rsConn *c, const rsServerInfo *info, const scanOptions *o, int db, redisReply *keys,
                     const char *next, scanSink sink, void *ctx, scanStats *st) {
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *k = keys->element[i];
        scanItem it = {.db = db, .key = k->str, .keylen = (size_t)k->len, .expire_ms = -1};
        if (sink(ctx, &it) != 0) return -1;
        st->dumped++;
    }
    if (!next) return 0;
    cmdBuf b = {0};
    addScan(&b, info, o, next, o->count > 0 ? o->count : 1000, st);
    return sendBuf(c, &b);
}

static int scanDb(rsConn *c, const rsServerInfo *info, const scanOptions *o, int db, scanSink sink, void *ctx,
                  scanStats *st, pacer *pace, char *err, size_t errlen) {
    char cursor[32];
    int cap = o->count > 0 ? o->count : 1000;
    if (selectDb(c, db, err, errlen) < 0) return -1;
    /* With a rate, SCAN asks for one burst's worth of keys at a time. */
    cmdBuf b = {0};
    addScan(&b, info, o, "0", pacePerBurst(pace, cap), st);
    if (sendBuf(c, &b) < 0) {
        snprintf(err, errlen, "source: SCAN failed: %s", connError(c));
        return -1;
    }
    for (;;) {
        redisReply *r = connGetReply(c);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            snprintf(err, errlen, "source: SCAN failed: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : connError(c));
            if (r) freeReplyObject(r);
            return -1;
        }
        if (stop_requested) {
            snprintf(err, errlen, "stopped by a signal in db %d", db);
            freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        int done = strcmp(cursor, "0") == 0;
        redisReply *keys = r->element[1];
        uint64_t before = st->scanned;
        size_t all = keys->elements;
        keepSlots(o, keys);
        st->scanned += keys->elements;
        keepSelected(o, keys, st);
        int rc = o->keys_only ? keysBatch(c, info, o, db, keys, done ? NULL : cursor, sink, ctx, st)
                              : dumpBatch(c, info, o, db, keys, all, cap, done ? NULL : cursor, pace, before, sink,
                                          ctx, st, err, errlen);
        keys->elements = all; /* freed whole */
        if (rc < 0 && !err[0]) snprintf(err, errlen, "source: %s", connError(c));
        freeReplyObject(r);
        if (rc < 0) return -1;
        if (done) return 0;
    }
}

int scanPass(rsConn *src, const rsServerInfo *info, const scanOptions *o, scanSink sink, void *ctx,
             scanStats *st, char *err, size_t errlen) {
    int dbs[1024];
    err[0] = '\0';
    int n = keyspaceDbs(src, dbs, 1024, err, errlen);
    pacer pace;
    paceStart(&pace, o->rate_share ? __atomic_load_n(o->rate_share, __ATOMIC_RELAXED) : o->rate);
    for (int i = 0; i < n; i++)
        if (scanDb(src, info, o, dbs[i], sink, ctx, st, &pace, err, errlen) < 0) return -1;
    return n < 0 ? -1 : 0;
}

static int getKey(rsConn *src, const rsServerInfo *info, int db, const char *key, size_t keylen, int asking,
                  scanItem *it, char *err, size_t errlen) {
    redisReply keyr = {.type = REDIS_REPLY_STRING, .str = (char *)key, .len = keylen};
    redisReply *elem[1] = {&keyr};
    redisReply keys = {.type = REDIS_REPLY_ARRAY, .elements = 1, .element = elem};
    if (selectDb(src, db, err, errlen) < 0 || sendDumps(src, info, &keys, asking) < 0) return -1;
    redisReply *r[4] = {0};
    int n = asking ? 4 : 2, got = 0;
    while (got < n && (r[got] = connGetReply(src)) != NULL) got++;
    redisReply *d = got == n ? r[asking ? 1 : 0] : NULL, *e = got == n ? r[n - 1] : NULL;
    int asked = 1;
    for (int i = 0; asking && i < got; i += 2) asked = asked && r[i]->type != REDIS_REPLY_ERROR;
    for (int i = 0; i < got; i++)
        if (r[i] != d && r[i] != e) freeReplyObject(r[i]);
    if (!asked) {
        if (d) freeReplyObject(d);
        if (e) freeReplyObject(e);
        return snprintf(err, errlen, "source refused ASKING"), -1;
    }
    int rc = -1;
    if (!d || !e) {
        snprintf(err, errlen, "source: %s", connError(src));
    } else if (d->type == REDIS_REPLY_ERROR || e->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, REFUSED "%s", d->type == REDIS_REPLY_ERROR ? d->str : e->str);
    } else if (d->type == REDIS_REPLY_STRING && e->type == REDIS_REPLY_INTEGER && e->integer != -2) {
        unsigned char *p = malloc((size_t)d->len);
        if (p) {
            memcpy(p, d->str, (size_t)d->len);
            *it = (scanItem){db, key, keylen, p, (size_t)d->len,
                             e->integer < 0 ? -1 : hasExpireTime(info) ? e->integer : clockWallMs() + e->integer};
            rc = 1;
        }
    } else {
        rc = 0;
    }
    if (d) freeReplyObject(d);
    if (e) freeReplyObject(e);
    return rc;
}

int scanGetKey(rsConn *src, const rsServerInfo *info, int db, const char *key, size_t keylen, scanItem *it,
               char *err, size_t errlen) {
    return getKey(src, info, db, key, keylen, 0, it, err, errlen);
}

int scanKeyExists(rsConn *src, int db, const char *key, size_t keylen, char *err, size_t errlen) {
    if (selectDb(src, db, err, errlen) < 0) return -1;
    redisReply *r = connCommand(src, 2, (const char *[]){"EXISTS", key}, (size_t[]){6, keylen});
    int rc = r && r->type == REDIS_REPLY_INTEGER ? r->integer > 0 : -1;
    if (rc < 0 && r && r->type == REDIS_REPLY_ERROR) snprintf(err, errlen, REFUSED_EXISTS "%s", r->str);
    else if (rc < 0) snprintf(err, errlen, "source: EXISTS failed: %s", r ? "unexpected reply" : connError(src));
    if (r) freeReplyObject(r);
    return rc;
}

int scanGetKeyAsking(rsConn *src, const rsServerInfo *info, int db, const char *key, size_t keylen, scanItem *it,
                     char *err, size_t errlen) {
    return getKey(src, info, db, key, keylen, 1, it, err, errlen);
}

struct scanFetch {
    size_t n;
    int db;
    scanItem *items; /* key borrowed from the caller's want[], payload from dumps[] */
    redisReply **dumps, **exps;
};

void scanFetchFree(scanFetch *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        if (f->dumps[i]) freeReplyObject(f->dumps[i]);
        if (f->exps[i]) freeReplyObject(f->exps[i]);
    }
    free(f->dumps);
    free(f->exps);
    free(f->items);
    free(f);
}

/* Keys as the redisReply array sendDumps takes (strings borrowed). */
static int sendWanted(rsConn *c, const rsServerInfo *info, const scanItem *want, size_t n) {
    redisReply *elems = calloc(n ? n : 1, sizeof(*elems)), **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    int rc = elems && ptrs ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        elems[i] = (redisReply){.type = REDIS_REPLY_STRING, .str = (char *)want[i].key, .len = want[i].keylen};
        ptrs[i] = &elems[i];
    }
    redisReply keys = {.type = REDIS_REPLY_ARRAY, .elements = n, .element = ptrs};
    if (rc == 0) rc = sendDumps(c, info, &keys, 0);
    free(elems);
    free(ptrs);
    return rc;
}

scanFetch *scanFetchKeys(rsConn *src, const rsServerInfo *info, int db, const scanItem *want, size_t n, char *err,
                         size_t errlen) {
    scanFetch *f = calloc(1, sizeof(*f));
    if (f) f->dumps = calloc(n ? n : 1, sizeof(*f->dumps)), f->exps = calloc(n ? n : 1, sizeof(*f->exps)),
           f->items = calloc(n ? n : 1, sizeof(*f->items));
    if (!f || !f->dumps || !f->exps || !f->items) {
        snprintf(err, errlen, "out of memory fetching %zu keys", n);
        scanFetchFree(f);
        return NULL;
    }
    f->db = db;
    if (selectDb(src, db, err, errlen) < 0) goto fail;
    if (sendWanted(src, info, want, n) < 0) {
        snprintf(err, errlen, "%s", connError(src));
        goto fail;
    }
    int64_t now = clockWallMs();
    for (size_t i = 0; i < n; i++, f->n++) {
        redisReply *d = f->dumps[i] = connGetReply(src), *e = f->exps[i] = d ? connGetReply(src) : NULL;
        if (!d || !e) {
            snprintf(err, errlen, "%s", connError(src));
            f->n++;
            goto fail;
        }
        if (d->type == REDIS_REPLY_ERROR || e->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "DUMP refused: %s", d->type == REDIS_REPLY_ERROR ? d->str : e->str);
            f->n++;
            goto fail;
        }
        f->items[i] = (scanItem){db, want[i].key, want[i].keylen, NULL, 0, -1};
        if (d->type == REDIS_REPLY_STRING && e->integer != -2) {
            f->items[i].payload = (const unsigned char *)d->str, f->items[i].len = (size_t)d->len;
            f->items[i].expire_ms = e->integer < 0 ? -1 : hasExpireTime(info) ? e->integer : now + e->integer;
        }
    }
    return f;
fail:
    scanFetchFree(f);
    return NULL;
}

int scanFetchItem(const scanFetch *f, size_t i, scanItem *it) {
    if (i >= f->n || !f->items[i].payload) return 0;
    *it = f->items[i];
    return 1;
}

int scanFunctions(rsConn *c, int (*fn)(void *ctx, const char *code, size_t len), void *ctx, char *err,
                  size_t errlen) {
    redisReply *r = connCommandf(c, "FUNCTION LIST WITHCODE");
    int rc = 0;
    if (!r) {
        snprintf(err, errlen, "source: %s", connError(c));
        return -1;
    }
    /* Servers before 7.0 (or with FUNCTION renamed away) have none to copy. */
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && rc == 0; i++) {
        redisReply *lib = r->element[i];
        for (size_t j = 0; lib->type == REDIS_REPLY_ARRAY && j + 1 < lib->elements; j += 2)
            if (lib->element[j]->type == REDIS_REPLY_STRING && strcmp(lib->element[j]->str, "library_code") == 0)
                rc = fn(ctx, lib->element[j + 1]->str, (size_t)lib->element[j + 1]->len);
    }
    freeReplyObject(r);
    return rc;
}

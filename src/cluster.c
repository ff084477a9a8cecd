/* cluster.c -- cluster detection, topology and key slots (see cluster.h). */
#include "cluster.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- slots ---- */

/* CRC16-XMODEM, bit by bit: a few hundred ns per key, far below a round
 * trip, and nothing to get wrong in a table. */
unsigned clusterCrc16(const char *buf, size_t len) {
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)(unsigned char)buf[i] << 8;
        for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) : (crc << 1);
        crc &= 0xffff;
    }
    return crc;
}

unsigned clusterKeySlot(const char *key, size_t len) {
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(key + from, '}', len - from);
        if (close && close > key + from) return clusterCrc16(key + from, (size_t)(close - (key + from))) & 16383;
    }
    return clusterCrc16(key, len) & 16383;
}

/* ---- redirections ---- */

/* Digits at *p (at most 5, none other after them in the token) as a
 * number in [lo, hi]; *p moved past them. -1 when not one. */
static long digitsAt(const char **p, long lo, long hi) {
    long v = 0;
    int n = 0;
    while (**p >= '0' && **p <= '9' && n < 6) v = v * 10 + (*(*p)++ - '0'), n++;
    return n == 0 || n > 5 || v < lo || v > hi ? -1 : v;
}

/* The end of the address token: a space, CR, LF or the end of text. */
static int tokenEnd(char c) { return c == '\0' || c == ' ' || c == '\r' || c == '\n'; }

/* "host:port", "[v6]:port", "::1:port", ":port", "?:port" at a, into r. */
static int parseAddr(const char *a, clusterRedirect *r) {
    const char *end = a, *colon = NULL;
    while (!tokenEnd(*end)) end++;
    const char *h = a, *he;
    if (*a == '[') { /* bracketed IPv6: no server prints it today, a proxy may */
        const char *close = memchr(a, ']', (size_t)(end - a));
        if (!close || close[1] != ':') return -1;
        h = a + 1, he = close, colon = close + 1;
    } else {
        for (const char *c = a; c < end; c++)
            if (*c == ':') colon = c;
        if (!colon) return -1;
        he = colon;
    }
    size_t hl = (size_t)(he - h);
    if (hl >= sizeof(r->host)) return -1;
    if (hl == 1 && h[0] == '?') hl = 0; /* hostname preferred, none announced */
    memcpy(r->host, h, hl);
    r->host[hl] = '\0';
    const char *p = colon + 1;
    long port = digitsAt(&p, 1, 65535);
    if (port < 0 || p != end) return -1;
    r->port = (int)port;
    return 0;
}

clusterRedirKind clusterRedirectParse(const char *err, clusterRedirect *out) {
    clusterRedirect r = {0};
    const char *p = err;
    *out = r;
    if (!p) return CLUSTER_REDIR_NONE;
    if (*p == '-') p++;
    if (strncmp(p, "MOVED ", 6) == 0) r.kind = CLUSTER_REDIR_MOVED, p += 6;
    else if (strncmp(p, "ASK ", 4) == 0) r.kind = CLUSTER_REDIR_ASK, p += 4;
    else return CLUSTER_REDIR_NONE;
    long slot = digitsAt(&p, 0, CLUSTER_SLOTS - 1);
    if (slot < 0 || *p != ' ') return CLUSTER_REDIR_NONE;
    r.slot = (int)slot;
    if (parseAddr(p + 1, &r) < 0) return CLUSTER_REDIR_NONE;
    *out = r;
    return r.kind;
}

const char *clusterRedirectHost(const clusterRedirect *r, const char *sender) {
    return r->host[0] ? r->host : sender ? sender : "";
}

/* An address in binary form, 16 bytes (IPv4 as IPv4-mapped IPv6, so
 * ::ffff:10.0.0.1 = 10.0.0.1), "localhost" and ::1 folded to 127.0.0.1
 * (a node listening on both answers on each; other 127.x addresses stay
 * apart: nodes on one machine may bind 127.0.0.2). 0 when host is not an
 * IP address nor "localhost". */
static int addrBin(const char *host, unsigned char bin[16]) {
    char buf[CLUSTER_HOST_MAX];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') host++, hl -= 2;
    if (hl >= sizeof(buf)) return 0;
    memcpy(buf, host, hl);
    buf[hl] = '\0';
    if (strcasecmp(buf, "localhost") == 0) snprintf(buf, sizeof(buf), "127.0.0.1");
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char loop6[16] = {[15] = 1};
    memcpy(bin, mapped, 12);
    if (inet_pton(AF_INET, buf, bin + 12) == 1) return 1;
    if (inet_pton(AF_INET6, buf, bin) != 1) return 0; /* a hostname (or a scoped fe80::1%eth0) */
    if (memcmp(bin, loop6, 16) == 0) inet_pton(AF_INET, "127.0.0.1", bin + 12), memcpy(bin, mapped, 12);
    return 1;
}

/* A hostname without its root dot ("node-1.example." = "node-1.example"). */
static size_t nameLen(const char *h) {
    size_t n = strlen(h);
    return n > 1 && h[n - 1] == '.' ? n - 1 : n;
}

int clusterSameAddr(const char *a, int ap, const char *b, int bp) {
    if (ap != bp) return 0;
    a = a ? a : "", b = b ? b : "";
    if (strcmp(a, b) == 0) return 1; /* the common case, on the router's path per command: no parsing */
    unsigned char ba[16], bb[16];
    int ia = addrBin(a, ba), ib = addrBin(b, bb);
    if (ia || ib) return ia && ib && memcmp(ba, bb, 16) == 0;
    size_t la = nameLen(a);
    return la == nameLen(b) && strncasecmp(a, b, la) == 0;
}

/* ---- detection ---- */

int clusterDetect(rsConn *c, char *err, size_t errlen) {
    char *info = connInfo(c, "cluster"), v[8];
    if (!info) {
        snprintf(err, errlen, "%s: INFO cluster: %s", connAddr(c), connError(c));
        return -1;
    }
    int on = connInfoField(info, "cluster_enabled", v, sizeof(v)) && strcmp(v, "1") == 0;
    free(info);
    return on;
}

/* ---- map building ---- */

static clusterMap *mapNew(void) {
    clusterMap *m = calloc(1, sizeof(*m));
    if (m) memset(m->owner, 0xff, sizeof(m->owner)); /* -1 */
    return m;
}

static void nodeFree(clusterNode *n) {
    free(n->host);
    n->host = NULL;
}

void clusterMapFree(clusterMap *m) {
    if (!m) return;
    for (int i = 0; i < m->nshards; i++) {
        clusterShard *s = &m->shards[i];
        nodeFree(&s->master);
        for (int r = 0; r < s->nreplicas; r++) nodeFree(&s->replicas[r]);
        free(s->replicas);
        free(s->ranges);
    }
    free(m->shards);
    free(m);
}

static int nodeSet(clusterNode *n, const char *host, size_t hostlen, int port, const char *id, size_t idlen,
                   const char *asked_host) {
    if (hostlen == 0 || (hostlen == 1 && host[0] == '?')) {
        host = asked_host;
        hostlen = strlen(asked_host);
    }
    n->host = strndup(host, hostlen);
    n->port = port;
    if (idlen > CLUSTER_ID_LEN) idlen = CLUSTER_ID_LEN;
    if (id) memcpy(n->id, id, idlen);
    n->id[id ? idlen : 0] = '\0';
    return n->host ? 0 : -1;
}

static clusterShard *shardAdd(clusterMap *m) {
    clusterShard *s = realloc(m->shards, (size_t)(m->nshards + 1) * sizeof(*s));
    if (!s) return NULL;
    m->shards = s;
    s = &m->shards[m->nshards++];
    memset(s, 0, sizeof(*s));
    return s;
}

static clusterNode *replicaAdd(clusterShard *s) {
    clusterNode *r = realloc(s->replicas, (size_t)(s->nreplicas + 1) * sizeof(*r));
    if (!r) return NULL;
    s->replicas = r;
    r = &s->replicas[s->nreplicas++];
    memset(r, 0, sizeof(*r));
    return r;
}

static int rangeAdd(clusterMap *m, int shard, long long start, long long end) {
    clusterShard *s = &m->shards[shard];
    if (start < 0 || end >= CLUSTER_SLOTS || start > end) return -1;
    clusterRange *r = realloc(s->ranges, (size_t)(s->nranges + 1) * sizeof(*r));
    if (!r) return -1;
    s->ranges = r;
    s->ranges[s->nranges++] = (clusterRange){(int)start, (int)end};
    for (long long i = start; i <= end; i++) m->owner[i] = (short)shard;
    return 0;
}

static int isStr(const redisReply *r) {
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* The value of field name in a flat [name, value, ...] array, or NULL. */
static const redisReply *field(const redisReply *map, const char *name) {
    if (!map || map->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < map->elements; i += 2)
        if (isStr(map->element[i]) && strcasecmp(map->element[i]->str, name) == 0) return map->element[i + 1];
    return NULL;
}

static long long intOf(const redisReply *r) {
    if (!r) return -1;
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    if (isStr(r)) return atoll(r->str);
    return -1;
}

/* ---- CLUSTER SHARDS ---- */

/* One node map of CLUSTER SHARDS into n; its role in *master. */
static int shardsNode(const redisReply *nm, clusterNode *n, int *master, const char *asked_host, int tls) {
    const redisReply *ep = field(nm, "endpoint"), *id = field(nm, "id"), *role = field(nm, "role");
    const redisReply *health = field(nm, "health");
    long long port = intOf(field(nm, "port")), tport = intOf(field(nm, "tls-port"));
    if (tls && tport > 0) port = tport;
    if (port <= 0 && tport > 0) port = tport;
    if (port <= 0 || port > 65535 || !isStr(id)) return -1;
    if (!isStr(ep)) ep = field(nm, "ip");
    *master = isStr(role) && strcasecmp(role->str, "master") == 0;
    n->failed = isStr(health) && strcasecmp(health->str, "fail") == 0;
    return nodeSet(n, isStr(ep) ? ep->str : "", isStr(ep) ? ep->len : 0, (int)port, id->str, id->len, asked_host);
}

static int shardsOne(clusterMap *m, const redisReply *sh, const char *asked_host, int tls) {
    const redisReply *slots = field(sh, "slots"), *nodes = field(sh, "nodes");
    if (!slots || slots->type != REDIS_REPLY_ARRAY || !nodes || nodes->type != REDIS_REPLY_ARRAY) return -1;
    clusterShard *s = shardAdd(m);
    if (!s) return -1;
    int idx = m->nshards - 1, have_master = 0;
    for (size_t i = 0; i < nodes->elements; i++) {
        clusterNode n = {0};
        int master = 0;
        if (shardsNode(nodes->element[i], &n, &master, asked_host, tls) < 0) return -1;
        s = &m->shards[idx];
        /* During a failover the old master may still be listed as master
         * with health fail: the healthy one wins. */
        if (master && (!have_master || (s->master.failed && !n.failed))) {
            if (have_master) {
                clusterNode *r = replicaAdd(s);
                if (!r) return nodeFree(&n), -1;
                *r = s->master;
            }
            s->master = n;
            have_master = 1;
        } else {
            clusterNode *r = replicaAdd(s);
            if (!r) return nodeFree(&n), -1;
            *r = n;
        }
    }
    if (!have_master) {
        /* A shard whose master is gone and no replica took over yet: its
         * slots stay unassigned, the caller waits and re-reads. */
        clusterShard dead = m->shards[idx];
        for (int r = 0; r < dead.nreplicas; r++) nodeFree(&dead.replicas[r]);
        free(dead.replicas);
        m->nshards--;
        return 0;
    }
    for (size_t i = 0; i + 1 < slots->elements; i += 2)
        if (rangeAdd(m, idx, intOf(slots->element[i]), intOf(slots->element[i + 1])) < 0) return -1;
    return 0;
}

clusterMap *clusterMapParseShards(const redisReply *r, const char *asked_host, int tls, char *err, size_t errlen) {
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "CLUSTER SHARDS: unexpected reply");
        return NULL;
    }
    clusterMap *m = mapNew();
    if (!m) return snprintf(err, errlen, "out of memory"), NULL;
    for (size_t i = 0; i < r->elements; i++) {
        if (shardsOne(m, r->element[i], asked_host, tls) < 0) {
            snprintf(err, errlen, "CLUSTER SHARDS: malformed shard %zu", i);
            clusterMapFree(m);
            return NULL;
        }
    }
    return m;
}

/* ---- CLUSTER SLOTS ---- */

/* [host, port, id?, ...] into n. */
static int slotsNode(const redisReply *e, clusterNode *n, const char *asked_host) {
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 2 || !isStr(e->element[0])) return -1;
    long long port = intOf(e->element[1]);
    if (port <= 0 || port > 65535) return -1;
    const redisReply *id = e->elements > 2 && isStr(e->element[2]) ? e->element[2] : NULL;
    return nodeSet(n, e->element[0]->str, e->element[0]->len, (int)port, id ? id->str : NULL,
                   id ? id->len : 0, asked_host);
}

static int sameNode(const clusterNode *a, const clusterNode *b) {
    if (a->id[0] && b->id[0]) return strcmp(a->id, b->id) == 0;
    return clusterSameAddr(a->host, a->port, b->host, b->port);
}

static int slotsRange(clusterMap *m, const redisReply *e, const char *asked_host) {
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 3) return -1;
    clusterNode master = {0};
    if (slotsNode(e->element[2], &master, asked_host) < 0) return nodeFree(&master), -1;
    int idx = -1;
    for (int i = 0; i < m->nshards && idx < 0; i++)
        if (sameNode(&m->shards[i].master, &master)) idx = i;
    if (idx >= 0) {
        nodeFree(&master);
    } else {
        clusterShard *s = shardAdd(m);
        if (!s) return nodeFree(&master), -1;
        s->master = master;
        idx = m->nshards - 1;
        for (size_t i = 3; i < e->elements; i++) {
            clusterNode *r = replicaAdd(&m->shards[idx]);
            if (!r || slotsNode(e->element[i], r, asked_host) < 0) return -1;
        }
    }
    return rangeAdd(m, idx, intOf(e->element[0]), intOf(e->element[1]));
}

clusterMap *clusterMapParseSlots(const redisReply *r, const char *asked_host, char *err, size_t errlen) {
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "CLUSTER SLOTS: unexpected reply");
        return NULL;
    }
    clusterMap *m = mapNew();
    if (!m) return snprintf(err, errlen, "out of memory"), NULL;
    for (size_t i = 0; i < r->elements; i++) {
        if (slotsRange(m, r->element[i], asked_host) < 0) {
            snprintf(err, errlen, "CLUSTER SLOTS: malformed range %zu", i);
            clusterMapFree(m);
            return NULL;
        }
    }
    return m;
}

/* ---- reading ---- */

clusterMap *clusterMapRead(rsConn *c, const char *asked_host, int tls, char *err, size_t errlen) {
    char why[256];
    clusterMap *m = NULL;
    redisReply *r = connCommandf(c, "CLUSTER SHARDS");
    if (!r) goto io;
    if (r->type != REDIS_REPLY_ERROR) {
        m = clusterMapParseShards(r, asked_host, tls, why, sizeof(why));
        freeReplyObject(r);
        if (!m) snprintf(err, errlen, "cannot read the cluster topology from %s: %s", connAddr(c), why);
        return m;
    }
    freeReplyObject(r); /* before 7.0: unknown subcommand */
    r = connCommandf(c, "CLUSTER SLOTS");
    if (!r) goto io;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "cannot read the cluster topology from %s: CLUSTER SLOTS: %s", connAddr(c), r->str);
        freeReplyObject(r);
        return NULL;
    }
    m = clusterMapParseSlots(r, asked_host, why, sizeof(why));
    freeReplyObject(r);
    if (!m) snprintf(err, errlen, "cannot read the cluster topology from %s: %s", connAddr(c), why);
    return m;
io:
    snprintf(err, errlen, "cannot read the cluster topology from %s: %s", connAddr(c), connError(c));
    return NULL;
}

/* Try one node; NULL with its reason in last. */
static clusterMap *readFrom(const rsUrl *u, const rsConnOptions *o, char *last, size_t lastlen) {
    rsConn *c = connOpen(u, o, last, lastlen);
    if (!c) return NULL;
    clusterMap *m = clusterMapRead(c, u->host ? u->host : "127.0.0.1", u->tls || (o && o->tls.enabled), last, lastlen);
    connClose(c);
    return m;
}

static clusterMap *readFromNode(const rsUrl *seed, const clusterNode *n, const rsConnOptions *o, char *last,
                                size_t lastlen) {
    rsUrl u;
    if (clusterNodeUrl(seed, n, &u) < 0) return NULL;
    clusterMap *m = readFrom(&u, o, last, lastlen);
    urlFree(&u);
    return m;
}

clusterMap *clusterMapReload(const clusterMap *old, const rsUrl *seed, const rsConnOptions *o, char *err,
                             size_t errlen) {
    char last[256] = "no node to ask";
    clusterMap *m = NULL;
    /* Healthy masters first, then replicas (one may have taken over), then
     * the node the user named. */
    for (int pass = 0; old && pass < 2 && !m; pass++)
        for (int i = 0; i < old->nshards && !m; i++) {
            const clusterShard *s = &old->shards[i];
            if (pass == 0 && !s->master.failed) m = readFromNode(seed, &s->master, o, last, sizeof(last));
            for (int r = 0; pass == 1 && r < s->nreplicas && !m; r++)
                m = readFromNode(seed, &s->replicas[r], o, last, sizeof(last));
        }
    if (!m) m = readFrom(seed, o, last, sizeof(last));
    if (!m) snprintf(err, errlen, "cannot read the cluster topology from any node (last: %s)", last);
    return m;
}

/* ---- lookups ---- */

int clusterSlotShard(const clusterMap *m, unsigned slot) {
    return slot < CLUSTER_SLOTS ? m->owner[slot] : -1;
}

int clusterFindMaster(const clusterMap *m, const char *host, int port) {
    for (int i = 0; i < m->nshards; i++)
        if (clusterSameAddr(m->shards[i].master.host, m->shards[i].master.port, host, port)) return i;
    return -1;
}

int clusterMapMoveSlot(clusterMap *m, unsigned slot, const char *host, int port) {
    if (slot >= CLUSTER_SLOTS) return -1;
    int idx = clusterFindMaster(m, host, port);
    if (idx < 0) {
        clusterShard *s = shardAdd(m);
        if (!s) return -1;
        if (nodeSet(&s->master, host, strlen(host), port, NULL, 0, host) < 0) {
            m->nshards--;
            return -1;
        }
        idx = m->nshards - 1;
    }
    m->owner[slot] = (short)idx;
    return idx;
}

int clusterMapMasters(const clusterMap *m) {
    int n = 0;
    for (int i = 0; i < m->nshards; i++) {
        int owns = 0;
        for (int s = 0; s < CLUSTER_SLOTS && !owns; s++) owns = m->owner[s] == i;
        n += owns;
    }
    return n;
}

int clusterMapComplete(const clusterMap *m, const char *where, char *err, size_t errlen) {
    for (int s = 0; s < CLUSTER_SLOTS; s++)
        if (m->owner[s] < 0) {
            snprintf(err, errlen, "cluster %s: slot %d has no master (is the cluster complete? cluster_state must be ok)",
                     where, s);
            return -1;
        }
    return 0;
}

int clusterNodeUrl(const rsUrl *seed, const clusterNode *n, rsUrl *out) {
    rsUrl tmp = *seed;
    tmp.is_unix = 0;
    tmp.path = NULL;
    tmp.host = n->host;
    tmp.port = n->port;
    tmp.db = -1;
    return urlCopy(out, &tmp, NULL, 0);
}

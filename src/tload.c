/* tload.c -- the target loads the first snapshot as our replica (tload.h).
 *
 * The master side here is the least a replica needs (format.md, the
 * replication protocol): +PONG, +OK to AUTH and REPLCONF, +FULLRESYNC to
 * PSYNC, then the snapshot in the EOF-marked form a diskless master sends
 * (the replica announced capa eof). Nothing follows the RDB: the target is
 * promoted as soon as INFO says it loaded, before any command of the
 * stream, which the syncer then applies as after a RESTORE load.
 */
#include "tload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "resync.h"

#define TLOAD_CONNECT_MS 5000   /* the target connects back within this */
#define TLOAD_HANDSHAKE_MS 5000 /* each handshake command within this */
#define TLOAD_PROMOTE_MS 10000  /* REPLICAOF NO ONE retried while the target says LOADING */
#define TLOAD_SEND_TIMEOUT_S 60 /* a target that stops reading (like repl-timeout) */
#define MARK_LEN 40

struct tload {
    rsConn *t;
    rsServerInfo ti;
    int (*stopped)(void);
    int quiet;
    int lfd, dfd;
    char addr[INET6_ADDRSTRLEN];
    int port;
    char old_dl[32];      /* repl-diskless-load before we changed it; "" = unchanged */
    int replica;          /* REPLICAOF sent and not undone */
    int capa_eof;
    rdbFileWriter *fw;
    char mark[MARK_LEN + 1];
    char in[4096];        /* handshake bytes read, not parsed yet */
    size_t inlen;
};

static const char *replicaofCmd(const rsServerInfo *ti) {
    return connServerAtLeast(ti, 5, 0) ? "REPLICAOF" : "SLAVEOF";
}

static void hexRandom(char *out, size_t n) {
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, b, n) : -1;
    if (fd >= 0) close(fd);
    for (size_t i = 0; i < n; i++) out[i] = hex[(got == (ssize_t)n ? b[i] : (unsigned char)rand()) & 15];
    out[n] = '\0';
}

/* ---- The up-front check ---- */

/* CONFIG GET name into val: 1, 0 when absent, -1 refused (err says so). */
static int configGet(rsConn *t, const char *name, char *val, size_t cap, char *err, size_t errlen) {
    redisReply *r = connCommand(t, 3, (const char *[]){"CONFIG", "GET", name}, (size_t[]){6, 3, strlen(name)});
    int rc = 0;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "the target refused CONFIG GET %s (%s): --target-load replica needs CONFIG and "
                 "REPLICAOF on the target; use --target-load restore (the default)", name,
                 r ? r->str : connError(t));
        rc = -1;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING) {
        snprintf(val, cap, "%s", r->element[1]->str);
        rc = 1;
    }
    if (r) freeReplyObject(r);
    return rc;
}

/* Is REPLICAOF (SLAVEOF before 5.0) a command of the target (not renamed
 * away)? COMMAND INFO answers nil for one it does not know. */
static int hasReplicaof(rsConn *t, const rsServerInfo *ti) {
    const char *name = replicaofCmd(ti);
    redisReply *r = connCommand(t, 3, (const char *[]){"COMMAND", "INFO", name}, (size_t[]){7, 4, strlen(name)});
    int yes = !r || r->type != REDIS_REPLY_ARRAY || (r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY);
    if (r) freeReplyObject(r);
    return yes;
}

/* Redis 7.0+: would our user be allowed the commands of the load? ACL
 * DRYRUN says without running them (where DRYRUN itself is refused, the
 * commands' own replies decide later). 0, or -1 with err naming the
 * command. */
static int aclAllows(rsConn *t, const rsServerInfo *ti, char *err, size_t errlen) {
    static const char *const cmds[][4] = {{"REPLICAOF", "NO", "ONE", NULL},
                                          {"CONFIG", "SET", "repl-diskless-load", "on-empty-db"},
                                          {"CONFIG", "GET", "databases", NULL}};
    char user[128];
    if (!connServerAtLeast(ti, 7, 0)) return 0;
    redisReply *r = connCommandf(t, "ACL WHOAMI");
    int known = r && r->type == REDIS_REPLY_STRING;
    if (known) snprintf(user, sizeof(user), "%s", r->str);
    if (r) freeReplyObject(r);
    for (size_t i = 0; known && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        const char *argv[7] = {"ACL", "DRYRUN", user};
        size_t lens[7];
        int argc = 3;
        for (int j = 0; j < 4 && cmds[i][j]; j++) argv[argc++] = cmds[i][j];
        for (int j = 0; j < argc; j++) lens[j] = strlen(argv[j]);
        r = connCommand(t, argc, argv, lens);
        /* +OK allowed; a bulk string says why not; an error: DRYRUN itself refused */
        int denied = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && strcmp(r->str, "OK") != 0;
        if (denied)
            snprintf(err, errlen, "the target's user '%s' may not run %s%s%s (ACL: %s): --target-load replica "
                     "needs it; use --target-load restore (the default)", user, cmds[i][0], i ? " " : "",
                     i ? cmds[i][1] : "", r->str);
        if (r) freeReplyObject(r);
        if (denied) return -1;
    }
    return 0;
}

/* Two selected source dbs written into one target db: a key in both would
 * be a duplicate in the RDB, and a loading server panics on one. */
static int mergedDbs(const importOptions *o, char *err, size_t errlen) {
    for (int a = 0; a < IMPORT_MAX_DBS; a++) {
        for (int b = a + 1; b < IMPORT_MAX_DBS; b++) {
            int ta = o->db_map[a] >= 0 ? o->db_map[a] : a, tb = o->db_map[b] >= 0 ? o->db_map[b] : b;
            int sa = o->n_db_only == 0, sb = o->n_db_only == 0;
            for (int i = 0; i < o->n_db_only; i++) sa |= o->db_only[i] == a, sb |= o->db_only[i] == b;
            if (ta != tb || !sa || !sb) continue;
            snprintf(err, errlen, "--target-load replica: --db-map writes source dbs %d and %d into target db %d; a "
                     "key in both would be a duplicate the loading target cannot take; use --target-load restore",
                     a, b, ta);
            return 1;
        }
    }
    return 0;
}

/* Function libraries count as data: a replica's full sync replaces them. */
static int hasFunctions(rsConn *t, const rsServerInfo *ti) {
    if (!connServerAtLeast(ti, 7, 0)) return 0;
    redisReply *r = connCommandf(t, "FUNCTION LIST");
    int yes = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0;
    if (r) freeReplyObject(r);
    return yes;
}

outcome tloadCheck(rsConn *t, const rsServerInfo *ti, const tloadFacts *f, long *databases, char *err,
                   size_t errlen) {
    char val[64];
    const char *use = "use --target-load restore (the default)";
    *err = '\0';
    if (!connServerAtLeast(ti, 4, 0)) {
        snprintf(err, errlen, "--target-load replica needs a target of Redis 4.0 or later (it is %s: no diskless "
                 "EOF format); %s", ti->redis_version, use);
        return OUTCOME_USAGE;
    }
    if (f->cluster_target) {
        snprintf(err, errlen, "--target-load replica: the target is a cluster node, which cannot become the "
                 "replica of rdbsync for the load; %s", use);
        return OUTCOME_USAGE;
    }
    if (f->tls) {
        snprintf(err, errlen, "--target-load replica: the target is reached over TLS, and its link back to "
                 "rdbsync would be plain TCP; %s", use);
        return OUTCOME_USAGE;
    }
    if (f->unix_socket) {
        snprintf(err, errlen, "--target-load replica: the target is reached over a unix socket, with no address of "
                 "rdbsync to give it; %s", use);
        return OUTCOME_USAGE;
    }
    if (mergedDbs(f->imp, err, errlen)) return OUTCOME_USAGE;
    if (!f->flush && (!f->target_empty || hasFunctions(t, ti))) {
        snprintf(err, errlen, "--target-load replica loads only into an empty target, and this one holds %s "
                 "(a replica's full sync would replace them); add --flush-target to empty it first, or %s",
                 f->target_empty ? "function libraries" : "keys", use);
        return OUTCOME_CONFLICT;
    }
    if (configGet(t, "databases", val, sizeof(val), err, errlen) <= 0) {
        if (!*err) snprintf(err, errlen, "the target has no 'databases' setting to check against; %s", use);
        return OUTCOME_WRITE;
    }
    *databases = atol(val);
    if (connServerAtLeast(ti, 6, 0) && configGet(t, "repl-diskless-load", val, sizeof(val), err, errlen) < 0)
        return OUTCOME_WRITE;
    if (!hasReplicaof(t, ti)) {
        snprintf(err, errlen, "the target has no %s command (renamed or disabled): --target-load replica needs it; "
                 "%s", replicaofCmd(ti), use);
        return OUTCOME_WRITE;
    }
    if (aclAllows(t, ti, err, errlen) < 0) return OUTCOME_WRITE;
    return OUTCOME_OK;
}

/* ---- Becoming the target's master ---- */

static int command(tload *tl, int argc, const char **argv, char *err, size_t errlen) {
    size_t lens[4];
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    redisReply *r = connCommand(tl->t, argc, argv, lens);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        snprintf(err, errlen, "the target refused %s %s (%s); use --target-load restore (the default)", argv[0],
                 argc > 1 ? argv[1] : "", r ? r->str : connError(tl->t));
    if (r) freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Listen on the local address of our connection to the target: the one
 * address of ours it is known to reach. */
static int listenBack(tload *tl, char *err, size_t errlen) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(connFd(tl->t), (struct sockaddr *)&ss, &sl) < 0) goto fail;
    if (ss.ss_family == AF_INET) ((struct sockaddr_in *)&ss)->sin_port = 0;
    else if (ss.ss_family == AF_INET6) ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
    else {
        snprintf(err, errlen, "--target-load replica: the target is reached over a unix socket, with no address "
                 "to give it; use --target-load restore (the default)");
        return -1;
    }
    tl->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (tl->lfd < 0 || bind(tl->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(tl->lfd, 1) < 0 ||
        getsockname(tl->lfd, (struct sockaddr *)&ss, &sl) < 0)
        goto fail;
    void *a = ss.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
                                      : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
    inet_ntop(ss.ss_family, a, tl->addr, sizeof(tl->addr));
    tl->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                             : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
fail:
    snprintf(err, errlen, "--target-load replica: cannot listen for the target: %s", strerror(errno));
    return -1;
}

/* poll one fd for events within ms, waking every 200 ms to notice a
 * stop: 1 ready, 0 timed out, -1 stopped or failed. */
static int waitFd(tload *tl, int fd, short events, int ms) {
    int64_t end = clockMonoMs() + ms;
    for (;;) {
        if (tl->stopped && tl->stopped()) return -1;
        int64_t left = end - clockMonoMs();
        if (left <= 0) return 0;
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, left < 200 ? (int)left : 200);
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return -1;
    }
}

static int acceptTarget(tload *tl, char *err, size_t errlen, outcome *rc) {
    int w = waitFd(tl, tl->lfd, POLLIN, TLOAD_CONNECT_MS);
    if (w > 0) tl->dfd = accept4(tl->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (tl->dfd >= 0) {
        struct timeval tv = {TLOAD_SEND_TIMEOUT_S, 0};
        setsockopt(tl->dfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        return 0;
    }
    *rc = w < 0 ? OUTCOME_INTERRUPTED : OUTCOME_CONNECT;
    if (w < 0) snprintf(err, errlen, "stopped while the target connected back");
    else
        snprintf(err, errlen, "the target did not connect back to rdbsync at %s:%d within %d s (told by %s %s %d; "
                 "a firewall or NAT between them?); use --target-load restore (the default), which needs no "
                 "connection back", tl->addr, tl->port, TLOAD_CONNECT_MS / 1000, replicaofCmd(&tl->ti), tl->addr,
                 tl->port);
    return -1;
}

/* One handshake command, as RESP or inline, into argv (pointers into
 * tl->in, NUL-terminated); consumed is its length. 1 whole, 0 need more. */
static int parseCommand(tload *tl, char **argv, int *argc, size_t *consumed) {
    char *p = tl->in, *end = tl->in + tl->inlen;
    *argc = 0;
    if (tl->inlen && *p != '*') { /* inline: words up to the newline */
        char *nl = memchr(p, '\n', tl->inlen);
        if (!nl) return 0;
        *nl = '\0';
        if (nl > p && nl[-1] == '\r') nl[-1] = '\0';
        for (char *tok = strtok(p, " "); tok && *argc < 16; tok = strtok(NULL, " ")) argv[(*argc)++] = tok;
        *consumed = (size_t)(nl + 1 - tl->in);
        return 1;
    }
    char *nl = tl->inlen ? memchr(p, '\n', tl->inlen) : NULL;
    if (!nl) return 0;
    long n = atol(p + 1);
    p = nl + 1;
    for (long i = 0; i < n; i++) {
        nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        if (!nl) return 0;
        long len = atol(p + 1);
        p = nl + 1;
        if (len < 0 || end - p < len + 2) return 0;
        p[len] = '\0';
        if (*argc < 16) argv[(*argc)++] = p;
        p += len + 2;
    }
    *consumed = (size_t)(p - tl->in);
    return 1;
}

static int reply(tload *tl, const char *s) { return rdbWriteFd(&tl->dfd, s, strlen(s)); }

/* Answer until PSYNC (or SYNC). 0, or -1 with err. */
static int handshake(tload *tl, char *err, size_t errlen) {
    for (;;) {
        char *argv[16];
        int argc;
        size_t used;
        while (!parseCommand(tl, argv, &argc, &used)) {
            ssize_t k = -1;
            if (tl->inlen < sizeof(tl->in) - 1 && waitFd(tl, tl->dfd, POLLIN, TLOAD_HANDSHAKE_MS) > 0)
                k = read(tl->dfd, tl->in + tl->inlen, sizeof(tl->in) - 1 - tl->inlen);
            if (k <= 0) {
                snprintf(err, errlen, "the target's replication handshake with rdbsync at %s:%d stopped (%s)",
                         tl->addr, tl->port, k == 0 ? "it closed the link" : "no command within 5 s");
                return -1;
            }
            tl->inlen += (size_t)k;
        }
        const char *ans = "-ERR unknown command\r\n";
        int last = 0;
        if (argc == 0) ans = "";
        else if (!strcasecmp(argv[0], "PING")) ans = "+PONG\r\n";
        else if (!strcasecmp(argv[0], "AUTH")) ans = "+OK\r\n";
        else if (!strcasecmp(argv[0], "REPLCONF")) {
            ans = "+OK\r\n";
            for (int i = 1; i + 1 < argc; i++)
                if (!strcasecmp(argv[i], "capa") && !strcasecmp(argv[i + 1], "eof")) tl->capa_eof = 1;
        } else if (!strcasecmp(argv[0], "PSYNC") || !strcasecmp(argv[0], "SYNC"))
            last = 1;
        memmove(tl->in, tl->in + used, tl->inlen - used);
        tl->inlen -= used;
        if (last) return 0;
        if (*ans && reply(tl, ans) < 0) {
            snprintf(err, errlen, "the target closed its replication link to rdbsync during the handshake");
            return -1;
        }
    }
}

/* Writes to the link; a stop (EINTR with the flag set) ends them. */
static int linkWrite(void *dst, const void *p, size_t n) {
    tload *tl = dst;
    const char *c = p;
    while (n) {
        ssize_t k = write(tl->dfd, c, n);
        if (k < 0 && errno == EINTR && !(tl->stopped && tl->stopped())) continue;
        if (k <= 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int startRdb(tload *tl, char *err, size_t errlen) {
    char replid[MARK_LEN + 1], line[128];
    if (!tl->capa_eof) {
        snprintf(err, errlen, "the target did not announce 'capa eof' (it cannot read a diskless snapshot); use "
                 "--target-load restore (the default)");
        return -1;
    }
    hexRandom(replid, MARK_LEN);
    hexRandom(tl->mark, MARK_LEN);
    snprintf(line, sizeof(line), "+FULLRESYNC %s 0\r\n$EOF:%s\r\n", replid, tl->mark);
    rdbFlavour flavour = rdbServerFlavour(tl->ti.is_valkey, tl->ti.rdb_version);
    tl->fw = rdbFileWriterNew(linkWrite, tl, tl->ti.rdb_version, flavour);
    if (reply(tl, line) < 0 || !tl->fw || rdbFileAux(tl->fw, "rdbsync", "target-load") < 0) {
        snprintf(err, errlen, "the target closed its replication link to rdbsync as the snapshot began");
        return -1;
    }
    return 0;
}

tload *tloadBegin(rsConn *t, const rsServerInfo *ti, int (*stopped)(void), int quiet, outcome *rc, char *err,
                  size_t errlen) {
    tload *tl = calloc(1, sizeof(*tl));
    char port[16], dl[32] = "";
    if (!tl) {
        snprintf(err, errlen, "out of memory");
        *rc = OUTCOME_INTERNAL;
        return NULL;
    }
    tl->t = t, tl->ti = *ti, tl->stopped = stopped, tl->quiet = quiet, tl->lfd = tl->dfd = -1;
    *rc = OUTCOME_WRITE;
    if (listenBack(tl, err, errlen) < 0) goto fail;
    /* Diskless load into the empty db: the target parses as we send, no
     * temporary file. */
    if (connServerAtLeast(ti, 6, 0) && configGet(t, "repl-diskless-load", dl, sizeof(dl), err, errlen) < 0) goto fail;
    if (!strcmp(dl, "disabled")) {
        if (command(tl, 4, (const char *[]){"CONFIG", "SET", "repl-diskless-load", "on-empty-db"}, err, errlen) < 0)
            goto fail;
        snprintf(tl->old_dl, sizeof(tl->old_dl), "%s", dl);
    }
    snprintf(port, sizeof(port), "%d", tl->port);
    if (command(tl, 3, (const char *[]){replicaofCmd(ti), tl->addr, port}, err, errlen) < 0) goto fail;
    tl->replica = 1;
    if (acceptTarget(tl, err, errlen, rc) < 0) goto fail;
    *rc = OUTCOME_WRITE;
    if (handshake(tl, err, errlen) < 0 || startRdb(tl, err, errlen) < 0) goto fail;
    if (!quiet)
        logInfo("--target-load replica: the target loads the snapshot as the replica of rdbsync at %s:%d "
                "(REPLICAOF for the load, promoted back after it)", tl->addr, tl->port);
    return tl;
fail:
    tloadEnd(tl);
    return NULL;
}

rdbFileWriter *tloadWriter(tload *tl) { return tl->fw; }

/* ---- The load, and promoting the target ---- */

static void infoFields(tload *tl, char *link, char *sync, char *loading, size_t cap) {
    char *a = connInfo(tl->t, "replication"), *b = connInfo(tl->t, "persistence");
    snprintf(link, cap, "?");
    snprintf(sync, cap, "?");
    snprintf(loading, cap, "?");
    if (a) connInfoField(a, "master_link_status", link, cap), connInfoField(a, "master_sync_in_progress", sync, cap);
    if (b) connInfoField(b, "loading", loading, cap);
    free(a);
    free(b);
}

void tloadExplain(tload *tl, char *msg, size_t cap) {
    char link[32], sync[32], loading[32];
    size_t n = strlen(msg);
    if (!tl || n >= cap) return;
    infoFields(tl, link, sync, loading, sizeof(link));
    if (!strcmp(link, "?"))
        snprintf(msg + n, cap - n, " (the target does not answer INFO: %s)", connError(tl->t));
    else
        snprintf(msg + n, cap - n, " (the target's INFO: master_link_status:%s, master_sync_in_progress:%s, "
                 "loading:%s; its log says why)", link, sync, loading);
}

/* Has the target closed the link? Whatever it sent (REPLCONF ACK) is dropped. */
static int linkClosed(tload *tl) {
    char buf[512];
    for (;;) {
        ssize_t k = recv(tl->dfd, buf, sizeof(buf), MSG_DONTWAIT);
        if (k > 0) continue;
        return k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
}

static int promote(tload *tl, char *err, size_t errlen) {
    int64_t end = clockMonoMs() + TLOAD_PROMOTE_MS;
    for (;;) {
        redisReply *r = connCommand(tl->t, 3, (const char *[]){replicaofCmd(&tl->ti), "NO", "ONE"},
                                    (size_t[]){strlen(replicaofCmd(&tl->ti)), 2, 3});
        int ok = r && r->type != REDIS_REPLY_ERROR, loading = r && !ok && !strncmp(r->str, "LOADING", 7);
        if (!ok)
            snprintf(err, errlen, "%s NO ONE: %s", replicaofCmd(&tl->ti), r ? r->str : connError(tl->t));
        if (r) freeReplyObject(r);
        if (ok) {
            tl->replica = 0;
            return 0;
        }
        if (!loading || clockMonoMs() > end) return -1;
        usleep(100 * 1000);
    }
}

/* repl-diskless-load back to what it was (once). */
static void restoreConfig(tload *tl) {
    if (!tl->old_dl[0]) return;
    redisReply *r = connCommand(tl->t, 4, (const char *[]){"CONFIG", "SET", "repl-diskless-load", tl->old_dl},
                                (size_t[]){6, 3, 18, strlen(tl->old_dl)});
    if (!r || r->type == REDIS_REPLY_ERROR)
        logError("could not set the target's repl-diskless-load back to '%s' (%s): CONFIG SET repl-diskless-load %s "
                 "on it", tl->old_dl, r ? r->str : connError(tl->t), tl->old_dl);
    if (r) freeReplyObject(r);
    tl->old_dl[0] = '\0';
}

/* The target's keys per db after its load, against what was written. */
static void report(tload *tl, uint64_t written, uint64_t read) {
    char *info = connInfo(tl->t, "keyspace"), line[600] = "";
    resyncFacts f;
    resyncFactsInit(&f);
    if (info) resyncParseKeyspace(info, &f);
    free(info);
    for (int db = 0; db < RESYNC_MAX_DBS; db++) {
        size_t n = strlen(line);
        if (f.db_keys[db] > 0 && n < sizeof(line) - 40)
            snprintf(line + n, sizeof(line) - n, "%sdb%d %lld", n ? ", " : "", db, (long long)f.db_keys[db]);
    }
    if (f.keys >= 0 && (uint64_t)f.keys != written)
        logWarn("the target loaded the snapshot as our replica and holds %lld keys (%s), not the %llu written",
                (long long)f.keys, line, (unsigned long long)written);
    else if (!tl->quiet)
        logInfo("the target loaded the snapshot as our replica and holds %lld keys (%s) of %llu read; promoted back "
                "(REPLICAOF NO ONE), its repl-diskless-load as it was", (long long)f.keys, line[0] ? line : "none",
                (unsigned long long)read);
}

int tloadFinish(tload *tl, uint64_t written, uint64_t read, char *err, size_t errlen) {
    if (rdbFileFinish(tl->fw) < 0 || linkWrite(tl, tl->mark, MARK_LEN) < 0) {
        snprintf(err, errlen, "the target closed the replication link as the snapshot ended");
        return -1;
    }
    for (;;) {
        char link[32], sync[32], loading[32];
        if (tl->stopped && tl->stopped()) {
            snprintf(err, errlen, "stopped while the target loaded the snapshot");
            return -1;
        }
        infoFields(tl, link, sync, loading, sizeof(link));
        if (!strcmp(link, "up") && !strcmp(sync, "0") && !strcmp(loading, "0")) break;
        if (linkClosed(tl)) {
            snprintf(err, errlen, "the target closed the replication link while loading the snapshot (its INFO: "
                     "master_link_status:%s, master_sync_in_progress:%s, loading:%s; its log says why)", link, sync,
                     loading);
            return -1;
        }
        if (!strcmp(link, "?")) {
            snprintf(err, errlen, "the target stopped answering INFO while loading the snapshot: %s",
                     connError(tl->t));
            return -1;
        }
        usleep(50 * 1000);
    }
    if (promote(tl, err, errlen) < 0) return -1;
    restoreConfig(tl);
    report(tl, written, read);
    return 0;
}

void tloadEnd(tload *tl) {
    char err[512];
    if (!tl) return;
    if (tl->dfd >= 0) close(tl->dfd); /* a load in progress fails: the target empties what it loaded */
    if (tl->lfd >= 0) close(tl->lfd);
    if (tl->replica && promote(tl, err, sizeof(err)) < 0)
        logError("could not promote the target back (%s): if it runs, it is a replica of rdbsync's %s:%d; run "
                 "REPLICAOF NO ONE on it", err, tl->addr, tl->port);
    restoreConfig(tl);
    rdbFileWriterFree(tl->fw);
    free(tl);
}

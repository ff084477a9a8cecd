/* writer.c -- pipelined command writer (see writer.h).
 *
 * One thread, one poll loop: queued bytes go out in writes of up to the
 * whole buffer, replies are parsed whenever the socket is readable. The loop
 * runs only when the buffer passes a flush threshold or the window is full,
 * so a million small commands cost a few thousand system calls, not a
 * million.
 */
#include "writer.h"

#include "resp.h"
#include "router.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_AT (256 * 1024)       /* send once this much is queued */
#define BIG_COMMAND (1024 * 1024)   /* sent straight from its own buffer */
#define KNOWN_DBS 1024              /* dbs whose SELECT was accepted, remembered */

typedef struct inflight {
    char cmd[32];        /* copied: a forwarded command's name lives in a
                            reply object freed before its reply comes */
    uint64_t db, src_offset;
    size_t bytes;
    writerKind kind;
    int own_select;      /* writerSelect's SELECT (not a caller's kind): a refusal stops */
    size_t keylen;
    char key[WRITER_KEY_MAX];
} inflight;

struct writer {
    rsConn *c;
    writerOptions o;
    char *out;           /* queued bytes: out[sent..len) */
    char *fmt;           /* one command being formatted (resp.h), reused */
    size_t fmt_cap;
    size_t out_len, out_sent, out_cap;
    inflight *ring;      /* commands whose reply is pending */
    size_t head, count;
    size_t bytes_inflight;
    uint64_t replies;
    int64_t db;          /* selected db, -1 unknown */
    uint64_t known[KNOWN_DBS / 64]; /* bit set: SELECT of this db was accepted */
    int stopped, broken;
    int settling;        /* writerSettle: replies counted, stops ignored */
    int torn;            /* writerSettle left a command half sent: the link is done */
    uint64_t dropped;    /* commands a stop kept from being sent */
    int selecting;       /* inside writerSelect: the command queued is its SELECT */
    char err[256];
    router *rt;          /* writerNewRouted: every call goes to the cluster router */
};

writer *writerNew(rsConn *c, const writerOptions *o) {
    writer *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    w->c = c;
    if (o) w->o = *o;
    if (!w->o.max_cmds) w->o.max_cmds = 4096;
    if (!w->o.max_bytes) w->o.max_bytes = 8 * 1024 * 1024;
    w->ring = calloc(w->o.max_cmds + 1, sizeof(*w->ring));
    if (!w->ring) {
        free(w);
        return NULL;
    }
    w->db = -1;
    return w;
}

writer *writerNewRouted(router *rt, const writerOptions *o) {
    writer *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    w->rt = rt;
    if (routerStart(rt, o) < 0) {
        free(w);
        return NULL;
    }
    return w;
}

router *writerRouter(const writer *w) { return w->rt; }

void writerFree(writer *w) {
    if (!w) return;
    free(w->out);
    free(w->fmt);
    free(w->ring);
    free(w);
}

static int broken(writer *w, const char *msg) {
    if (!w->broken) snprintf(w->err, sizeof(w->err), "%s", msg);
    w->broken = 1;
    return -1;
}

/* ---- Replies ---- */

static int handleReply(writer *w, redisReply *r) {
    if (w->count == 0) {
        freeReplyObject(r);
        return broken(w, "reply from the target without a command");
    }
    inflight *f = &w->ring[w->head];
    writerTag t = {f->cmd, f->db, f->key, f->keylen, f->src_offset, f->kind};
    int rc = w->o.on_reply ? w->o.on_reply(w->o.ctx, &t, r) : 0;
    if (f->own_select && r->type == REDIS_REPLY_ERROR) {
        /* Whatever on_reply says: nothing may follow into the wrong db. */
        snprintf(w->err, sizeof(w->err), "the target refused SELECT %llu: %s", (unsigned long long)f->db, r->str);
        w->db = -1;
        rc = 1;
    } else if (f->own_select && f->db < KNOWN_DBS) {
        w->known[f->db / 64] |= 1ULL << (f->db % 64);
    }
    freeReplyObject(r);
    w->head = (w->head + 1) % (w->o.max_cmds + 1);
    w->count--;
    w->bytes_inflight -= f->bytes;
    w->replies++;
    if (rc && !w->settling) {
        w->stopped = 1;
        return -1;
    }
    return 0;
}

/* Parse every reply already readable (at most one read() per call of
 * connPollReply). */
static int readReplies(writer *w) {
    redisReply *r;
    int rc;
    while (w->count && (rc = connPollReply(w->c, &r)) != 0) {
        if (rc < 0) return broken(w, connError(w->c));
        if (handleReply(w, r) < 0) return -1;
    }
    return 0;
}

/* ---- Sending ---- */

/* Write what the socket takes now from p[*off..len). */
static int writeSome(writer *w, const char *p, size_t len, size_t *off) {
    while (*off < len) {
        ssize_t n = connWriteSome(w->c, p + *off, len - *off);
        if (n == CONN_AGAIN) return 0;
        if (n < 0) return broken(w, connError(w->c));
        *off += (size_t)n;
    }
    return 0;
}

/* Wait until the socket can move bytes in a direction we need. */
static int waitIo(writer *w, int want_out) {
    struct pollfd p = {.fd = connFd(w->c), .events = POLLIN};
    if (want_out) p.events |= POLLOUT | connEvents(w->c);
    for (;;) {
        int n = poll(&p, 1, 60000);
        if (n > 0) return 0;
        if (n == 0) return broken(w, "target did not accept data or reply for 60 s");
        if (errno != EINTR) return broken(w, strerror(errno));
    }
}

/* One round: push out what we can, read what came back. */
static int pump(writer *w, const char *p, size_t len, size_t *off) {
    if (writeSome(w, p, len, off) < 0 || readReplies(w) < 0) return -1;
    return 0;
}

static int flushOut(writer *w, int all) {
    while (w->out_sent < w->out_len) {
        if (pump(w, w->out, w->out_len, &w->out_sent) < 0) return -1;
        if (w->out_sent == w->out_len || !all) break;
        if (waitIo(w, 1) < 0) return -1;
    }
    if (w->out_sent == w->out_len) w->out_sent = w->out_len = 0;
    return 0;
}

static int windowFull(const writer *w, size_t bytes) {
    return w->count && (w->count >= w->o.max_cmds || w->bytes_inflight + bytes > w->o.max_bytes);
}

/* Block until the window has room for one more command of 'bytes'. */
static int makeRoom(writer *w, size_t bytes) {
    while (windowFull(w, bytes)) {
        if (flushOut(w, 1) < 0) return -1;
        /* flushOut reads replies too: it may have made room, even emptied
         * the window, and then no reply is coming to end a wait. */
        if (!windowFull(w, bytes)) break;
        size_t before = w->count;
        if (readReplies(w) < 0) return -1;
        if (w->count == before && waitIo(w, 0) < 0) return -1;
    }
    return 0;
}

static int queue(writer *w, const char *p, size_t len) {
    if (w->out_len + len > w->out_cap) {
        size_t cap = w->out_cap ? w->out_cap : 64 * 1024;
        while (cap < w->out_len + len) cap *= 2;
        char *np = realloc(w->out, cap);
        if (!np) return broken(w, "out of memory queueing a command");
        w->out = np;
        w->out_cap = cap;
    }
    memcpy(w->out + w->out_len, p, len);
    w->out_len += len;
    return w->out_len - w->out_sent >= FLUSH_AT ? flushOut(w, 0) : 0;
}

/* A big command goes out from its own buffer, replies read meanwhile. */
static int sendBig(writer *w, const char *p, size_t len) {
    size_t off = 0;
    if (flushOut(w, 1) < 0) return -1;
    while (off < len) {
        if (pump(w, p, len, &off) < 0) return -1;
        if (off < len && waitIo(w, 1) < 0) return -1;
    }
    return 0;
}

static void remember(writer *w, const writerTag *t, size_t bytes) {
    inflight *f = &w->ring[(w->head + w->count) % (w->o.max_cmds + 1)];
    const char *name = t && t->cmd ? t->cmd : "command";
    size_t n = 0; /* per command: no printf */
    for (; n < sizeof(f->cmd) - 1 && name[n]; n++) f->cmd[n] = name[n];
    f->cmd[n] = '\0';
    f->db = t ? t->db : 0;
    f->src_offset = t ? t->src_offset : 0;
    f->kind = t ? t->kind : WRITER_K_OTHER;
    f->own_select = w->selecting;
    f->keylen = t && t->key ? (t->keylen < WRITER_KEY_MAX ? t->keylen : WRITER_KEY_MAX) : 0;
    if (f->keylen) memcpy(f->key, t->key, f->keylen);
    f->bytes = bytes;
    w->count++;
    w->bytes_inflight += bytes;
}

int writerCommandRaw(writer *w, const char *cmd, size_t len, const writerTag *tag) {
    if (w->broken || w->stopped) return -1;
    int rc = makeRoom(w, len);
    if (rc == 0) {
        remember(w, tag, len);
        rc = len >= BIG_COMMAND ? sendBig(w, cmd, len) : queue(w, cmd, len);
    }
    return rc;
}

int writerCommand(writer *w, int argc, const char **argv, const size_t *lens, const writerTag *tag) {
    if (w->rt) return routerCommand(w->rt, argc, argv, lens, tag);
    if (w->broken || w->stopped) return -1;
    size_t len = respCommandLen(argc, lens);
    if (len > w->fmt_cap) {
        char *p = realloc(w->fmt, len);
        if (!p) return broken(w, "out of memory formatting a command");
        w->fmt = p, w->fmt_cap = len;
    }
    int rc = writerCommandRaw(w, w->fmt, respFormat(w->fmt, argc, argv, lens), tag);
    if (w->fmt_cap > 1024 * 1024) { /* a big value's buffer is not kept */
        free(w->fmt);
        w->fmt = NULL, w->fmt_cap = 0;
    }
    return rc;
}

int writerSelect(writer *w, uint64_t db) {
    if (w->rt) return routerSelect(w->rt, db);
    if (w->db == (int64_t)db) return 0;
    char num[24];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)db);
    const char *argv[2] = {"SELECT", num};
    size_t lens[2] = {6, (size_t)n};
    writerTag t = {.cmd = "SELECT", .db = db, .kind = WRITER_K_SELECT};
    w->selecting = 1;
    int rc = writerCommand(w, 2, argv, lens, &t);
    w->selecting = 0;
    if (rc < 0) return -1;
    w->db = (int64_t)db;
    if (db < KNOWN_DBS && (w->known[db / 64] >> (db % 64) & 1)) return 0;
    /* First use of this db here: wait for the verdict (one round trip per
     * db and connection) before any key meant for it is sent. */
    return writerDrain(w);
}

void writerResetDb(writer *w) { w->db = -1; }

int writerDrain(writer *w) {
    if (w->rt) return routerDrain(w->rt);
    if (w->broken || w->stopped) return -1;
    if (flushOut(w, 1) < 0) return -1;
    while (w->count) {
        size_t before = w->count;
        if (readReplies(w) < 0) return -1;
        if (w->count == before && waitIo(w, 0) < 0) return -1;
    }
    return 0;
}

/* Forget the commands whose bytes have not begun to go out: after a stop
 * they never will. A command cut in the middle is forgotten too (the
 * server never runs half a command), and the link is then unusable. */
static void dropUnsent(writer *w) {
    size_t unsent = w->out_len - w->out_sent;
    while (unsent && w->count) {
        inflight *f = &w->ring[(w->head + w->count - 1) % (w->o.max_cmds + 1)];
        if (f->bytes > unsent) {
            broken(w, "stopped in the middle of sending a command");
            w->broken = 0; /* replies still come for what went before it */
            w->torn = 1;
        }
        unsent -= f->bytes < unsent ? f->bytes : unsent;
        w->bytes_inflight -= f->bytes;
        w->count--;
        w->dropped++;
    }
    w->out_len = w->out_sent;
}

int writerSettle(writer *w) {
    if (w->rt) return routerSettle(w->rt);
    if (w->broken) return -1;
    int stopped = w->stopped;
    w->stopped = 0;
    w->settling = 1;
    dropUnsent(w);
    int rc = 0;
    while (rc == 0 && w->count) {
        size_t before = w->count;
        rc = readReplies(w);
        if (rc == 0 && w->count == before) rc = waitIo(w, 0);
    }
    w->settling = 0;
    w->stopped = stopped;
    if (w->torn) w->broken = 1;
    return rc;
}

uint64_t writerDropped(const writer *w) { return w->rt ? routerDropped(w->rt) : w->dropped; }

int writerFlush(writer *w) {
    if (w->rt) return routerFlush(w->rt);
    if (w->broken || w->stopped) return -1;
    return flushOut(w, 1) < 0 ? -1 : readReplies(w);
}

int writerPoll(writer *w) {
    if (w->rt) return routerPoll(w->rt);
    if (w->broken || w->stopped) return -1;
    return flushOut(w, 0) < 0 ? -1 : readReplies(w);
}

const char *writerError(const writer *w) { return w->rt ? routerError(w->rt) : w->err; }
int writerStopped(const writer *w) { return w->rt ? routerStopped(w->rt) : w->stopped; }
uint64_t writerReplies(const writer *w) { return w->rt ? routerReplies(w->rt) : w->replies; }
size_t writerInFlight(const writer *w) { return w->rt ? routerInFlight(w->rt) : w->count; }

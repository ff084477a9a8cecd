/* cutover.c -- pause the source, learn its final offset (see cutover.h). */
#include "cutover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

int cutoverSupported(const rsServerInfo *i) { return i->is_valkey || connServerAtLeast(i, 6, 2); }

void cutoverClock(int64_t wall_ms, char *out, size_t cap) {
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%H:%M:%S", &tm);
}

/* The reply as one line for a message. */
static const char *replyText(const redisReply *r, rsConn *c) {
    if (!r) return connError(c);
    if (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS) return r->str;
    return "an unexpected reply";
}

static int64_t finalOffset(rsConn *c, char *err, size_t errlen) {
    char *info = connInfo(c, "replication"), v[32];
    int64_t off = -1;
    if (!info) {
        snprintf(err, errlen, "INFO replication: %s", connError(c));
        return -1;
    }
    if (connInfoField(info, "master_repl_offset", v, sizeof(v))) off = strtoll(v, NULL, 10);
    else snprintf(err, errlen, "INFO replication has no master_repl_offset");
    free(info);
    return off;
}

int cutoverPause(const rsUrl *source, const rsConnOptions *co, int64_t pause_ms, cutoverState *p, char *err,
                 size_t errlen) {
    char cerr[512];
    memset(p, 0, sizeof(*p));
    p->pause_ms = pause_ms;
    p->c = connOpen(source, co, cerr, sizeof(cerr));
    if (!p->c) {
        snprintf(err, errlen, "source: %s", cerr);
        return -1;
    }
    int64_t margin = pause_ms / 10 > 1000 ? 1000 : pause_ms / 10;
    int64_t mono = clockMonoMs(), wall = clockWallMs();
    redisReply *r = connCommandf(p->c, "CLIENT PAUSE %lld WRITE", (long long)pause_ms);
    if (!r || r->type != REDIS_REPLY_STATUS) {
        snprintf(err, errlen, "source: CLIENT PAUSE %lld WRITE: %s", (long long)pause_ms, replyText(r, p->c));
        if (r) freeReplyObject(r);
        cutoverClose(p);
        return -1;
    }
    freeReplyObject(r);
    p->paused = 1;
    p->until_wall_ms = wall + pause_ms;
    p->deadline_mono = mono + pause_ms - margin;
    char ierr[300];
    if ((p->final_offset = finalOffset(p->c, ierr, sizeof(ierr))) < 0) {
        char uerr[300];
        snprintf(err, errlen, "source: %s", ierr);
        if (cutoverUnpause(p, source, co, uerr, sizeof(uerr)) < 0)
            snprintf(err + strlen(err), errlen - strlen(err), "; %s", uerr);
        cutoverClose(p);
        return -1;
    }
    return 0;
}

int cutoverUnpause(cutoverState *p, const rsUrl *source, const rsConnOptions *co, char *err, size_t errlen) {
    char cerr[512];
    if (!p->paused) return 0;
    redisReply *r = p->c ? connCommandf(p->c, "CLIENT UNPAUSE") : NULL;
    if (!r) { /* the pausing connection broke: another one can lift it */
        connClose(p->c);
        p->c = connOpen(source, co, cerr, sizeof(cerr));
        r = p->c ? connCommandf(p->c, "CLIENT UNPAUSE") : NULL;
    }
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (!ok) snprintf(err, errlen, "source: CLIENT UNPAUSE: %s", p->c ? replyText(r, p->c) : cerr);
    if (r) freeReplyObject(r);
    if (ok) p->paused = 0;
    return ok ? 0 : -1;
}

void cutoverClose(cutoverState *p) {
    connClose(p->c);
    p->c = NULL;
}

/* spool.c -- memory-then-disk FIFO (see spool.h).
 *
 * Memory holds the oldest bytes as a list of chunks. Once it holds
 * mem_limit bytes, new bytes go to the file (appended at 'fw', read at
 * 'fr'); while the file holds anything, new bytes keep going there, so the
 * order is always memory, then file. When the reader empties the file it
 * is truncated and memory takes new bytes again.
 */
#include "spool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

typedef struct chunk {
    struct chunk *next;
    size_t start, end;
    unsigned char data[CHUNK];
} chunk;

struct spool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    chunk *head, *tail;
    size_t mem, mem_limit;
    char dir[512];
    int fd;
    uint64_t fw, fr;       /* file write / read offsets */
    uint64_t written, consumed;
    int closed, woken;
    int refs;
    char err[800];
};

spool *spoolNew(size_t mem_limit, const char *dir) {
    spool *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->mem_limit = mem_limit ? mem_limit : 64u << 20;
    snprintf(s->dir, sizeof(s->dir), "%s", dir && *dir ? dir : "/tmp");
    s->fd = -1;
    s->refs = 1;
    return s;
}

spool *spoolRetain(spool *s) {
    pthread_mutex_lock(&s->mu);
    s->refs++;
    pthread_mutex_unlock(&s->mu);
    return s;
}

void spoolFree(spool *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last) return;
    while (s->head) {
        chunk *c = s->head;
        s->head = c->next;
        free(c);
    }
    if (s->fd >= 0) close(s->fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static int openFile(spool *s) {
    char path[600];
    snprintf(path, sizeof(path), "%s/rdbsync-spool-XXXXXX", s->dir);
    s->fd = mkstemp(path);
    if (s->fd < 0) {
        snprintf(s->err, sizeof(s->err), "cannot create a spool file in %s: %s", s->dir, strerror(errno));
        return -1;
    }
    unlink(path); /* gone when we exit, whatever happens */
    return 0;
}

static int fileAppend(spool *s, const unsigned char *p, size_t n) {
    if (s->fd < 0 && openFile(s) < 0) return -1;
    while (n) {
        ssize_t w = pwrite(s->fd, p, n, (off_t)s->fw);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(s->err, sizeof(s->err), "cannot write the spool file in %s: %s", s->dir,
                     strerror(w < 0 ? errno : ENOSPC));
            return -1;
        }
        s->fw += (uint64_t)w;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int memAppend(spool *s, const unsigned char *p, size_t n) {
    while (n) {
        chunk *c = s->tail;
        if (!c || c->end == CHUNK) {
            c = malloc(sizeof(*c));
            if (!c) {
                snprintf(s->err, sizeof(s->err), "out of memory in the spool");
                return -1;
            }
            c->next = NULL;
            c->start = c->end = 0;
            if (s->tail) s->tail->next = c;
            else s->head = c;
            s->tail = c;
        }
        size_t take = CHUNK - c->end < n ? CHUNK - c->end : n;
        memcpy(c->data + c->end, p, take);
        c->end += take;
        s->mem += take;
        p += take;
        n -= take;
    }
    return 0;
}

int spoolPut(spool *s, const void *p, size_t n) {
    int rc;
    pthread_mutex_lock(&s->mu);
    if (s->err[0]) rc = -1;
    else if (s->fw > s->fr || s->mem + n > s->mem_limit) rc = fileAppend(s, p, n);
    else rc = memAppend(s, p, n);
    if (rc == 0) s->written += n;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void spoolClose(spool *s) {
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void spoolWake(spool *s) {
    pthread_mutex_lock(&s->mu);
    s->woken = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Take up to cap bytes; called with the lock held and data available. */
static ssize_t take(spool *s, unsigned char *buf, size_t cap) {
    if (s->head && s->head->end > s->head->start) {
        chunk *c = s->head;
        size_t n = c->end - c->start < cap ? c->end - c->start : cap;
        memcpy(buf, c->data + c->start, n);
        c->start += n;
        s->mem -= n;
        if (c->start == c->end && (c->end == CHUNK || c != s->tail)) {
            s->head = c->next;
            if (!s->head) s->tail = NULL;
            free(c);
        }
        return (ssize_t)n;
    }
    size_t n = s->fw - s->fr < cap ? (size_t)(s->fw - s->fr) : cap;
    ssize_t r = pread(s->fd, buf, n, (off_t)s->fr);
    if (r <= 0) {
        snprintf(s->err, sizeof(s->err), "cannot read the spool file: %s", r < 0 ? strerror(errno) : "short read");
        return -1;
    }
    s->fr += (uint64_t)r;
    if (s->fr == s->fw && ftruncate(s->fd, 0) == 0) s->fr = s->fw = 0;
    return r;
}

static int hasData(const spool *s) { return (s->head && s->head->end > s->head->start) || s->fw > s->fr; }

ssize_t spoolReadTimed(spool *s, void *buf, size_t cap, int timeout_ms, char *err, size_t errlen) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    ssize_t rc = -2;
    pthread_mutex_lock(&s->mu);
    while (!hasData(s) && !s->closed && !s->err[0] && !s->woken)
        if (timeout_ms >= 0 && pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) break;
        else if (timeout_ms < 0) pthread_cond_wait(&s->cv, &s->mu);
    if (s->err[0]) rc = -1;
    else if (hasData(s)) rc = take(s, buf, cap);
    else if (s->closed) rc = 0;
    if (rc > 0) s->consumed += (uint64_t)rc;
    if (rc == -1 && err) snprintf(err, errlen, "%s", s->err);
    s->woken = 0;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

ssize_t spoolRead(void *sp, void *buf, size_t cap, char *err, size_t errlen) {
    ssize_t n = spoolReadTimed(sp, buf, cap, -1, err, errlen);
    if (n != -2) return n;
    if (err) snprintf(err, errlen, "interrupted"); /* woken: the caller asked us to stop */
    return -1;
}

uint64_t spoolWritten(spool *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t v = s->written;
    pthread_mutex_unlock(&s->mu);
    return v;
}

uint64_t spoolConsumed(spool *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t v = s->consumed;
    pthread_mutex_unlock(&s->mu);
    return v;
}

uint64_t spoolOnDisk(spool *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t v = s->fw - s->fr;
    pthread_mutex_unlock(&s->mu);
    return v;
}

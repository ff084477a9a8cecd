/* spool.c -- memory-then-disk FIFO (see spool.h).
 *
 * Memory holds the oldest bytes as a list of chunks. Once it holds
 * mem_limit bytes, new bytes go to the file (appended at 'fw', read at
 * 'fr'); while the file holds unread bytes, new bytes keep going there, so
 * the order is always memory, then file. When the reader empties the file
 * it is truncated and memory takes new bytes again.
 *
 * Locking: the mutex guards the offsets, counters, flags and the chunk
 * list, never a system call on the file. The link thread must not wait for
 * the apply side's disk reads (the source drops a replica that lags), so:
 *   - the writer reserves the range at fw under the lock, marks 'writing',
 *     writes it without the lock, then publishes fw += n. The reader only
 *     reads [fr, fw) of published bytes, so the two ranges never overlap;
 *   - the reader takes a range of published bytes (of a memory chunk, or of
 *     the file) under the lock and copies it without the lock: the writer
 *     only ever writes past the published end, and only the reader frees
 *     chunks or moves fr;
 *   - when the reader has read everything published and no write is under
 *     way, it takes the file away (fd = -1, offsets back to 0), truncates
 *     it without the lock and leaves it as the 'spare' the writer reuses at
 *     the next spill (or closes it if there is one already). The writer
 *     never touches a file it did not reserve under the lock.
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
    int fd;                /* the file holding [fr, fw), -1 = none */
    int spare;             /* an empty file kept for the next spill, -1 = none */
    int writing;           /* the writer is filling the range at fw */
    uint64_t fw, fr;       /* file write / read offsets (published) */
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
    s->fd = s->spare = -1;
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
    if (s->spare >= 0) close(s->spare);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* Keep the first error; the caller holds the lock. */
static void setErr(spool *s, const char *msg) {
    if (!s->err[0]) snprintf(s->err, sizeof(s->err), "%s", msg);
}

/* ---- writer side ---- */

/* Create the unlinked file; called without the lock (dir is constant). */
static int openFile(const char *dir, char *err, size_t errlen) {
    char path[600];
    snprintf(path, sizeof(path), "%s/rdbsync-spool-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a spool file in %s: %s", dir, strerror(errno));
        return -1;
    }
    unlink(path); /* gone when we exit, whatever happens */
    return fd;
}

static int writeAll(int fd, const unsigned char *p, size_t n, uint64_t off, const char *dir, char *err,
                    size_t errlen) {
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(err, errlen, "cannot write the spool file in %s: %s", dir, strerror(w < 0 ? errno : ENOSPC));
            return -1;
        }
        off += (uint64_t)w;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Append to the file: reserve under the lock, write without it, publish. */
static int fileAppend(spool *s, const unsigned char *p, size_t n) {
    char err[sizeof(s->err)];
    if (s->fd < 0 && s->spare >= 0) s->fd = s->spare, s->spare = -1;
    int fd = s->fd, opened = fd < 0;
    uint64_t off = s->fw;
    s->writing = 1;
    pthread_mutex_unlock(&s->mu);
    if (opened) fd = openFile(s->dir, err, sizeof(err));
    int rc = fd < 0 ? -1 : writeAll(fd, p, n, off, s->dir, err, sizeof(err));
    pthread_mutex_lock(&s->mu);
    if (opened && fd >= 0) s->fd = fd; /* still -1: only the writer sets it */
    s->writing = 0;
    if (rc < 0) setErr(s, err);
    else s->fw += n;
    return rc;
}

static int memAppend(spool *s, const unsigned char *p, size_t n) {
    while (n) {
        chunk *c = s->tail;
        if (!c || c->end == CHUNK) {
            c = malloc(sizeof(*c));
            if (!c) {
                setErr(s, "out of memory in the spool");
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
    else if (n == 0) rc = 0;
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

/* ---- reader side ---- */

/* Copy from the head chunk; called with the lock held and memory not
 * empty, returns with it held. The copy runs unlocked: the writer only
 * appends past c->end and only the reader frees chunks. */
static ssize_t takeMem(spool *s, unsigned char *buf, size_t cap) {
    chunk *c = s->head;
    size_t n = c->end - c->start < cap ? c->end - c->start : cap;
    const unsigned char *src = c->data + c->start;
    pthread_mutex_unlock(&s->mu);
    memcpy(buf, src, n);
    pthread_mutex_lock(&s->mu);
    c->start += n;
    s->mem -= n;
    if (c->start == c->end && (c->end == CHUNK || c != s->tail)) {
        s->head = c->next;
        if (!s->head) s->tail = NULL;
        free(c);
    }
    return (ssize_t)n;
}

/* Give back a drained file: truncated, it becomes the spare (or is closed
 * when the writer opened another meanwhile). Called without the lock. */
static void recycle(spool *s, int fd) {
    int keep = ftruncate(fd, 0) == 0;
    pthread_mutex_lock(&s->mu);
    if (keep && s->spare < 0) s->spare = fd, fd = -1;
    pthread_mutex_unlock(&s->mu);
    if (fd >= 0) close(fd);
}

/* Read from the file; called with the lock held and published bytes
 * unread, returns with it held. *drained gets the file to recycle when
 * the reader caught up with a writer that is not writing. */
static ssize_t takeFile(spool *s, unsigned char *buf, size_t cap, int *drained) {
    size_t n = s->fw - s->fr < cap ? (size_t)(s->fw - s->fr) : cap;
    int fd = s->fd;
    uint64_t off = s->fr;
    pthread_mutex_unlock(&s->mu);
    ssize_t r;
    do r = pread(fd, buf, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    int e = errno;
    pthread_mutex_lock(&s->mu);
    if (r <= 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "cannot read the spool file at offset %llu: %s", (unsigned long long)off,
                 r < 0 ? strerror(e) : "short read");
        setErr(s, msg);
        return -1;
    }
    s->fr += (uint64_t)r;
    if (s->fr == s->fw && !s->writing) {
        *drained = s->fd;
        s->fd = -1;
        s->fr = s->fw = 0;
    }
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
    int drained = -1;
    pthread_mutex_lock(&s->mu);
    while (!hasData(s) && !s->closed && !s->err[0] && !s->woken)
        if (timeout_ms >= 0 && pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) break;
        else if (timeout_ms < 0) pthread_cond_wait(&s->cv, &s->mu);
    s->woken = 0; /* here, so that a wake during the copy below is kept */
    if (s->err[0]) rc = -1;
    else if (s->head && s->head->end > s->head->start) rc = takeMem(s, buf, cap);
    else if (s->fw > s->fr) rc = takeFile(s, buf, cap, &drained);
    else if (s->closed) rc = 0;
    if (rc > 0) s->consumed += (uint64_t)rc;
    if (rc == -1 && err) snprintf(err, errlen, "%s", s->err);
    pthread_mutex_unlock(&s->mu);
    if (drained >= 0) recycle(s, drained);
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

/* parallel.c -- values decoded on worker threads (contract in parallel.h).
 *
 * The framing thread appends one record per key to the current batch: a
 * fixed header (the key's info), the key bytes, the value bytes. Full
 * batches go to a queue that any idle worker pops; a worker replays each
 * record through its own decoder, reading from memory (rdbReaderMemReset,
 * with offsets rebased to where the value sat in the file). The queue is
 * short, so the framing thread waits rather than running ahead.
 */
#include "parallel.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH (256 * 1024)
#define MAX_QUEUED 4
#define MAX_WORKERS 8

typedef struct rec {
    uint64_t db, offset, value_offset, vallen;
    int64_t expire_ms, idle;
    int32_t freq, type;
    uint64_t keylen;
} rec;

typedef struct batch {
    struct batch *next;
    size_t len, cap;
    unsigned char data[];
} batch;

typedef struct worker {
    struct rdbParallel *p;
    pthread_t th;
    rdbHandlers h;
    rdbReader *r;
    rdbDecoder *d;
    int started;
} worker;

struct rdbParallel {
    pthread_mutex_t mu;
    pthread_cond_t work, space, idle;
    batch *head, *tail, *spare, *cur;
    int queued, busy, stop;
    int version;
    rdbFlavour flavour;
    int failed;              /* atomic: an error is recorded */
    uint64_t err_offset;     /* key offset of the first failing key */
    rdbErrCode err_code;
    char err[720];
    int nworkers;
    worker w[MAX_WORKERS];
};

/* ---- Errors: keep the one of the earliest key ---- */

static void setError(rdbParallel *p, uint64_t offset, rdbErrCode code, const char *msg) {
    pthread_mutex_lock(&p->mu);
    if (!p->failed || offset < p->err_offset) {
        p->err_offset = offset;
        p->err_code = code;
        snprintf(p->err, sizeof p->err, "%s", msg);
        __atomic_store_n(&p->failed, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&p->mu);
}

/* ---- Workers ---- */

/* Decode one record; -1 when it failed (the error is recorded). */
static int decodeRecord(worker *w, const rec *h, const unsigned char *key, const unsigned char *val) {
    rdbParallel *p = w->p;
    rdbKeyInfo base = {.db = h->db, .key = (const char *)key, .keylen = h->keylen,
                       .expire_ms = h->expire_ms, .idle = h->idle, .freq = h->freq,
                       .offset = h->offset, .value_offset = h->value_offset};
    rdbReaderMemReset(w->r, val, h->vallen, h->value_offset);
    if (rdbDecodeValue(w->d, h->type, p->version, p->flavour, &base) < 0) {
        setError(p, h->offset, rdbDecoderErrorCode(w->d), rdbDecoderError(w->d));
        return -1;
    }
    if (!rdbReaderAtEnd(w->r)) { /* framing and decoding disagree: never expected */
        char msg[160];
        snprintf(msg, sizeof msg, "offset %llu: the value of the key at offset %llu ends before its framing",
                 (unsigned long long)rdbReaderOffset(w->r), (unsigned long long)h->offset);
        setError(p, h->offset, RDB_ERR_CORRUPT, msg);
        return -1;
    }
    return 0;
}

static void runBatch(worker *w, const batch *b) {
    size_t pos = 0;
    while (pos < b->len) {
        rec h;
        memcpy(&h, b->data + pos, sizeof h);
        const unsigned char *key = b->data + pos + sizeof h, *val = key + h.keylen;
        pos += sizeof h + h.keylen + h.vallen;
        /* Keys after an error already found cannot give an earlier one. */
        if (__atomic_load_n(&w->p->failed, __ATOMIC_ACQUIRE)) {
            pthread_mutex_lock(&w->p->mu);
            int later = h.offset > w->p->err_offset;
            pthread_mutex_unlock(&w->p->mu);
            if (later) return;
        }
        if (decodeRecord(w, &h, key, val) < 0) return;
    }
}

/* Batches of the standard size are kept for reuse (a fresh 256 KB block
 * is an mmap and page faults each time); the oversized go. */
static void recycle(rdbParallel *p, batch *b) {
    if (b->cap == BATCH) {
        b->len = 0;
        b->next = p->spare;
        p->spare = b;
    } else {
        free(b);
    }
}

static void *workerMain(void *arg) {
    worker *w = arg;
    rdbParallel *p = w->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop) pthread_cond_wait(&p->work, &p->mu);
        if (!p->head) break;
        batch *b = p->head;
        p->head = b->next;
        if (!p->head) p->tail = NULL;
        p->queued--;
        p->busy++;
        pthread_cond_signal(&p->space);
        pthread_mutex_unlock(&p->mu);
        runBatch(w, b);
        pthread_mutex_lock(&p->mu);
        p->busy--;
        recycle(p, b);
        if (!p->head && !p->busy) pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- The framing side ---- */

/* Queue the current batch, waiting while the queue is full. */
static void submit(rdbParallel *p) {
    batch *b = p->cur;
    p->cur = NULL;
    if (!b) return;
    if (!b->len) {
        free(b);
        return;
    }
    b->next = NULL;
    pthread_mutex_lock(&p->mu);
    while (p->queued >= MAX_QUEUED) pthread_cond_wait(&p->space, &p->mu);
    if (p->tail) p->tail->next = b;
    else p->head = b;
    p->tail = b;
    p->queued++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

/* A batch with room for 'need' bytes: the spare one, or a new one (as big
 * as one value when a value is bigger than a batch). */
static batch *newBatch(rdbParallel *p, size_t need) {
    batch *b = NULL;
    if (need <= BATCH) {
        pthread_mutex_lock(&p->mu);
        b = p->spare;
        if (b) p->spare = b->next, b->next = NULL;
        pthread_mutex_unlock(&p->mu);
    }
    if (b) return b;
    size_t cap = need > BATCH ? need : BATCH;
    b = malloc(sizeof(*b) + cap);
    if (b) b->next = NULL, b->len = 0, b->cap = cap;
    return b;
}

static int onHeader(void *ctx, int version, rdbFlavour flavour) {
    rdbParallel *p = ctx;
    p->version = version;
    p->flavour = flavour;
    return 0;
}

static int onRawValue(void *ctx, const rdbKeyInfo *k, const unsigned char *v, size_t vlen) {
    rdbParallel *p = ctx;
    if (__atomic_load_n(&p->failed, __ATOMIC_ACQUIRE)) return -1;
    size_t need = sizeof(rec) + k->keylen + vlen;
    if (!p->cur || p->cur->len + need > p->cur->cap) {
        submit(p);
        p->cur = newBatch(p, need);
        if (!p->cur) {
            char msg[120];
            snprintf(msg, sizeof msg, "offset %llu: out of memory for a value of %zu bytes",
                     (unsigned long long)k->value_offset, vlen);
            setError(p, k->offset, RDB_ERR_NOMEM, msg);
            return -1;
        }
    }
    rec h = {.db = k->db, .offset = k->offset, .value_offset = k->value_offset, .vallen = vlen,
             .expire_ms = k->expire_ms, .idle = k->idle, .freq = k->freq, .type = k->type,
             .keylen = k->keylen};
    unsigned char *dst = p->cur->data + p->cur->len;
    memcpy(dst, &h, sizeof h);
    if (k->keylen) memcpy(dst + sizeof h, k->key, k->keylen);
    if (vlen) memcpy(dst + sizeof h + k->keylen, v, vlen);
    p->cur->len += need;
    return 0;
}

/* The framing decoder stops at a later key than the one that failed:
 * the message worth printing is rdbParallelError's. */
static const char *onError(void *ctx) {
    rdbParallel *p = ctx;
    return p->cur ? "stopped: an earlier value failed to decode on a worker thread"
                  : "out of memory for a batch of values";
}

void rdbParallelHandlers(rdbParallel *p, rdbHandlers *out) {
    memset(out, 0, sizeof *out);
    out->ctx = p;
    out->error = onError;
    out->frame_only = 1;
    out->header = onHeader;
    out->raw_value = onRawValue;
}

/* ---- Life cycle ---- */

int rdbParallelDefaultWorkers(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

rdbParallel *rdbParallelNew(int nworkers, const rdbHandlers *handlers) {
    rdbParallel *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->space, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->version = 12; /* until header() says; DUMP-style callers may never call it */
    p->nworkers = nworkers < 1 ? 1 : nworkers > MAX_WORKERS ? MAX_WORKERS : nworkers;
    for (int i = 0; i < p->nworkers; i++) {
        worker *w = &p->w[i];
        w->p = p;
        w->h = handlers[i];
        w->r = rdbReaderMem("", 0);
        w->d = w->r ? rdbDecoderNew(w->r, &w->h, NULL) : NULL;
        if (!w->d || pthread_create(&w->th, NULL, workerMain, w) != 0) {
            rdbParallelFree(p);
            return NULL;
        }
        w->started = 1;
    }
    return p;
}

int rdbParallelFinish(rdbParallel *p) {
    submit(p);
    pthread_mutex_lock(&p->mu);
    while (p->head || p->busy) pthread_cond_wait(&p->idle, &p->mu);
    int failed = p->failed;
    pthread_mutex_unlock(&p->mu);
    return failed ? -1 : 0;
}

const char *rdbParallelError(const rdbParallel *p, rdbErrCode *code) {
    if (code) *code = p->failed ? p->err_code : RDB_OK;
    return p->failed ? p->err : "";
}

void rdbParallelFree(rdbParallel *p) {
    if (!p) return;
    int any = 0;
    for (int i = 0; i < p->nworkers; i++) any |= p->w[i].started;
    if (any) rdbParallelFinish(p);
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) {
        worker *w = &p->w[i];
        if (w->started) pthread_join(w->th, NULL);
        rdbDecoderFree(w->d);
        rdbReaderFree(w->r);
    }
    free(p->cur);
    while (p->spare) {
        batch *b = p->spare;
        p->spare = b->next;
        free(b);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->space);
    pthread_cond_destroy(&p->idle);
    free(p);
}

/* rio.c -- the reader behind rio.h: buffered pulls, offset, CRC, capture.
 *
 * Bytes live in one window buffer [buf+pos, buf+len). The CRC and the
 * capture are brought up to date lazily: each remembers the position up to
 * which it has seen the window ('crc_pos', 'cap_pos'), and catches up when
 * the window is refilled or when asked. So a 1-byte read costs a memcpy of
 * one byte, and the CRC runs over whole buffers, where crc64() is fastest
 * (carry-less multiplication folding, or slice-by-16 tables: crc64.c).
 */
#include "rio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc64.h"

#define RIO_BUFSIZE (64 * 1024)
/* A lying length must not allocate more than what arrives, so big reads
 * grow their destination with the data, starting from this. */
#define RIO_ALLOC_STEP (1024 * 1024)

struct rdbReader {
    rdbReaderWindow w; /* first: rio.h's inline reads see it through r */
    rdbReadFn fn;
    void *src;
    int fd;           /* owned fd for rdbReaderFile, else -1 */
    int fd_src;       /* storage for rdbReaderFd's source */
    const unsigned char *mem; /* rdbReaderMem: the window is the buffer */
    size_t crc_pos;   /* window bytes before this are in 'crc' */
    size_t cap_pos;   /* window bytes before this are in the capture */
    uint64_t base;    /* stream offset of buf[0] */
    uint64_t crc;
    int eof;
    int capturing;
    unsigned char *cap;
    size_t cap_len, cap_size;
    rdbErrCode code;  /* RDB_OK, or the kind of the failure in err */
    char err[160];
};

/* Record the (first) failure; always -1. */
static int setErr(rdbReader *r, rdbErrCode code, const char *fmt, ...) {
    if (r->code != RDB_OK) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    r->code = code;
    return -1;
}

static ssize_t fdRead(void *src, void *buf, size_t cap, char *err, size_t errlen) {
    int fd = *(int *)src;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        snprintf(err, errlen, "read error: %s", strerror(errno));
        return -1;
    }
}

rdbReader *rdbReaderNew(rdbReadFn fn, void *src) {
    rdbReader *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->w.buf = malloc(RIO_BUFSIZE);
    if (!r->w.buf) {
        free(r);
        return NULL;
    }
    r->fn = fn;
    r->src = src;
    r->fd = -1;
    return r;
}

rdbReader *rdbReaderFd(int fd) {
    rdbReader *r = rdbReaderNew(fdRead, NULL);
    if (!r) return NULL;
    r->fd_src = fd;
    r->src = &r->fd_src;
    return r;
}

rdbReader *rdbReaderFile(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    rdbReader *r = rdbReaderFd(fd);
    if (!r) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    r->fd = fd;
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    return r;
}

rdbReader *rdbReaderMem(const void *buf, size_t len) {
    rdbReader *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->fd = -1;
    r->mem = buf;
    r->w.buf = (unsigned char *)buf; /* never written through */
    r->w.len = len;
    r->eof = 1;
    return r;
}

void rdbReaderMemReset(rdbReader *r, const void *buf, size_t len, uint64_t base) {
    r->mem = buf;
    r->w.buf = (unsigned char *)buf; /* never written through */
    r->w.pos = 0;
    r->w.len = len;
    r->crc_pos = 0;
    r->cap_pos = 0;
    r->base = base;
    r->crc = 0;
    r->eof = 1;
    r->capturing = 0;
    r->cap_len = 0;
    r->code = RDB_OK;
    r->err[0] = '\0';
}

void rdbReaderFree(rdbReader *r) {
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    if (!r->mem) free(r->w.buf);
    free(r->cap);
    free(r);
}

/* ---- CRC and capture catch-up ---- */

static void crcSync(rdbReader *r) {
    if (r->w.pos > r->crc_pos) {
        r->crc = crc64(r->crc, r->w.buf + r->crc_pos, r->w.pos - r->crc_pos);
        r->crc_pos = r->w.pos;
    }
}

static int capAppend(rdbReader *r, const unsigned char *p, size_t n) {
    if (r->cap_len + n > r->cap_size) {
        size_t want = r->cap_size ? r->cap_size : 4096;
        while (want < r->cap_len + n) want *= 2;
        unsigned char *nc = realloc(r->cap, want);
        if (!nc) return setErr(r, RDB_ERR_NOMEM, "out of memory capturing %zu bytes", r->cap_len + n);
        r->cap = nc;
        r->cap_size = want;
    }
    memcpy(r->cap + r->cap_len, p, n);
    r->cap_len += n;
    return 0;
}

static int capSync(rdbReader *r) {
    if (r->capturing && r->w.pos > r->cap_pos) {
        if (capAppend(r, r->w.buf + r->cap_pos, r->w.pos - r->cap_pos) < 0) return -1;
    }
    r->cap_pos = r->w.pos;
    return 0;
}

/* Account for everything consumed so far, then drop it from the window. */
static int windowFlush(rdbReader *r) {
    crcSync(r);
    if (capSync(r) < 0) return -1;
    if (r->mem) return 0;
    size_t rest = r->w.len - r->w.pos;
    memmove(r->w.buf, r->w.buf + r->w.pos, rest);
    r->base += r->w.pos;
    r->w.len = rest;
    r->w.pos = r->crc_pos = r->cap_pos = 0;
    return 0;
}

/* Make at least one more byte available; 0 ok, -1 at end or error. */
static int refill(rdbReader *r) {
    if (r->code != RDB_OK) return -1;
    if (r->eof) return setErr(r, RDB_ERR_TRUNCATED, "unexpected end of input");
    if (windowFlush(r) < 0) return -1;
    char why[sizeof(r->err)] = "";
    ssize_t n = r->fn(r->src, r->w.buf + r->w.len, RIO_BUFSIZE - r->w.len, why, sizeof(why));
    if (n < 0) return setErr(r, RDB_ERR_IO, "%s", why[0] ? why : "read error");
    if (n == 0) {
        r->eof = 1;
        return setErr(r, RDB_ERR_TRUNCATED, "unexpected end of input");
    }
    r->w.len += (size_t)n;
    return 0;
}

int rdbRead(rdbReader *r, void *dst, size_t n) {
    unsigned char *d = dst;
    while (n) {
        if (r->w.pos == r->w.len && refill(r) < 0) return -1;
        size_t take = r->w.len - r->w.pos;
        if (take > n) take = n;
        memcpy(d, r->w.buf + r->w.pos, take);
        r->w.pos += take;
        d += take;
        n -= take;
    }
    return 0;
}

const unsigned char *rdbReadInPlace(rdbReader *r, size_t n) {
    if (r->w.len - r->w.pos < n) return NULL;
    const unsigned char *p = r->w.buf + r->w.pos;
    r->w.pos += n; /* the CRC and the capture catch up from crc_pos/cap_pos */
    return p;
}

int rdbSkip(rdbReader *r, size_t n) {
    while (n) {
        if (r->w.pos == r->w.len && refill(r) < 0) return -1;
        size_t take = r->w.len - r->w.pos;
        if (take > n) take = n;
        r->w.pos += take;
        n -= take;
    }
    return 0;
}

int rdbReadAlloc(rdbReader *r, size_t n, unsigned char **out) {
    size_t size = n < RIO_ALLOC_STEP ? n : RIO_ALLOC_STEP;
    unsigned char *p = malloc(size + 1);
    size_t got = 0;
    *out = NULL;
    if (!p) goto nomem;
    while (got < n) {
        if (got == size) {
            size_t ns = size * 2 < n ? size * 2 : n;
            unsigned char *np = realloc(p, ns + 1);
            if (!np) goto nomem;
            p = np;
            size = ns;
        }
        size_t chunk = size - got;
        if (r->w.pos == r->w.len && refill(r) < 0) {
            free(p);
            return -1;
        }
        if (chunk > r->w.len - r->w.pos) chunk = r->w.len - r->w.pos;
        memcpy(p + got, r->w.buf + r->w.pos, chunk);
        r->w.pos += chunk;
        got += chunk;
    }
    p[n] = '\0';
    *out = p;
    return 0;
nomem:
    free(p);
    return setErr(r, RDB_ERR_NOMEM, "out of memory reading %zu bytes", n);
}

int rdbReaderAtEnd(rdbReader *r) {
    if (r->w.pos < r->w.len) return 0;
    if (r->eof || r->code != RDB_OK) return 1;
    if (refill(r) < 0) {
        /* Reaching the end while probing is not an error. */
        if (r->code == RDB_ERR_TRUNCATED) r->code = RDB_OK, r->err[0] = '\0';
        return 1;
    }
    return 0;
}

size_t rdbReaderBuffered(rdbReader *r, const unsigned char **p) {
    *p = r->w.buf + r->w.pos;
    return r->w.len - r->w.pos;
}

uint64_t rdbReaderOffset(const rdbReader *r) { return r->base + r->w.pos; }

uint64_t rdbReaderCrc(rdbReader *r) {
    crcSync(r);
    return r->crc;
}

void rdbReaderCrcReset(rdbReader *r) {
    r->crc = 0;
    r->crc_pos = r->w.pos;
}

void rdbReaderCaptureStart(rdbReader *r) {
    r->capturing = 1;
    r->cap_len = 0;
    r->cap_pos = r->w.pos;
}

/* While nothing captured has left the window (the usual case: a value
 * shorter than the window), the capture is the window itself: no copy. */
const unsigned char *rdbReaderCaptureGet(rdbReader *r, size_t *len) {
    if (r->capturing && r->cap_len == 0) {
        *len = r->w.pos - r->cap_pos;
        return r->w.buf + r->cap_pos;
    }
    if (capSync(r) < 0) {
        *len = 0;
        return NULL;
    }
    *len = r->cap_len;
    return r->cap ? r->cap : (const unsigned char *)"";
}

void rdbReaderCaptureStop(rdbReader *r) {
    r->capturing = 0;
    r->cap_pos = r->w.pos;
}

rdbErrCode rdbReaderErrorCode(const rdbReader *r) { return r->code; }
const char *rdbReaderError(const rdbReader *r) { return r->err; }

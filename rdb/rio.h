/* rio.h -- one reader over any byte source: a file, a socket, a buffer.
 *
 * The decoder reads through this and never knows where bytes come from
 * (the idea of Redis' rio.c). A reader keeps:
 *   - the byte offset of what was consumed, for error messages;
 *   - a running CRC-64 of the consumed bytes (computed lazily, a buffer at a
 *     time, so per-byte reads cost nothing extra);
 *   - an optional capture: while on, consumed bytes are also appended to a
 *     growable buffer, which is how the decoder hands a value's raw encoded
 *     bytes to a consumer (the RESTORE fast path) without re-serializing.
 *
 * Sources are pulled through a read function; the reader never seeks.
 *
 * Ownership: rdbReaderNew* return a reader the caller frees with
 * rdbReaderFree. rdbReaderMem does not copy: the buffer must outlive the
 * reader. rdbReaderFile owns the fd it opens; rdbReaderFd does not close fd.
 *
 * Errors: functions return 0 on success and -1 on failure; the kind is
 * rdbReaderErrorCode() (RDB_ERR_TRUNCATED when the source ended first,
 * RDB_ERR_IO when it failed, RDB_ERR_NOMEM) and the reason, one line, is
 * rdbReaderError(). Errors are sticky: after one, every read fails.
 */
#ifndef RDB_RIO_H
#define RDB_RIO_H

#include <stddef.h>
#include <string.h>
#include <stdint.h>
#include <sys/types.h>

#include "rdb.h"

typedef struct rdbReader rdbReader;

/* A byte source: read up to 'cap' bytes into buf. Returns the count read,
 * 0 at end of stream, -1 on error (then it may write a message of at most
 * errlen bytes into err). May block. */
typedef ssize_t (*rdbReadFn)(void *src, void *buf, size_t cap, char *err, size_t errlen);

rdbReader *rdbReaderNew(rdbReadFn fn, void *src);
rdbReader *rdbReaderFd(int fd);
rdbReader *rdbReaderMem(const void *buf, size_t len);
/* Point a reader made by rdbReaderMem at another buffer, as if new, except
 * that offsets count from 'base' (so errors name positions in the stream
 * the buffer was cut from). Cheaper than a new reader per value. */
void rdbReaderMemReset(rdbReader *r, const void *buf, size_t len, uint64_t base);
/* NULL with errno set when the file cannot be opened. */
rdbReader *rdbReaderFile(const char *path);
void rdbReaderFree(rdbReader *r);

/* Read exactly n bytes into dst. Reaching the end first is an error
 * ("unexpected end of input"). */
int rdbRead(rdbReader *r, void *dst, size_t n);
/* Consume n bytes without copying them when they are already in the
 * reader's window (always, for a memory reader): a pointer to them, valid
 * until the next read, or NULL (nothing consumed: use rdbRead). */
const unsigned char *rdbReadInPlace(rdbReader *r, size_t n);
/* The window of bytes pulled from the source: [buf+pos, buf+len). Public
 * only for the inline reads below (it is the reader's first member), so
 * that the decoder's many 1-8 byte reads cost no call; everything else
 * goes through the functions. */
typedef struct rdbReaderWindow {
    unsigned char *buf;
    size_t pos, len;
} rdbReaderWindow;

/* rdbRead, inline when the window holds the n bytes. */
static inline __attribute__((always_inline)) int rdbReadInline(rdbReader *r, void *dst, size_t n) {
    rdbReaderWindow *w = (rdbReaderWindow *)(void *)r;
    if (w->len - w->pos < n) return rdbRead(r, dst, n);
    memcpy(dst, w->buf + w->pos, n);
    w->pos += n;
    return 0;
}

/* Skip exactly n bytes. */
int rdbSkip(rdbReader *r, size_t n);
/* Read exactly n bytes into a fresh malloc'd buffer (+1 byte, NUL
 * terminated), returned in *out. The buffer grows with what actually
 * arrives, so a lying length fails at the end of input instead of
 * allocating gigabytes first. The caller frees *out. */
int rdbReadAlloc(rdbReader *r, size_t n, unsigned char **out);
/* 1 when no byte is left (blocks on a socket until it knows). */
int rdbReaderAtEnd(rdbReader *r);

/* Bytes already pulled from the source but not consumed (read ahead into
 * the window), e.g. what follows an RDB in a replication stream. Valid
 * until the next read. */
size_t rdbReaderBuffered(rdbReader *r, const unsigned char **p);

/* Bytes consumed so far. */
uint64_t rdbReaderOffset(const rdbReader *r);
/* CRC-64 of every byte consumed since creation or the last CrcReset. */
uint64_t rdbReaderCrc(rdbReader *r);
void rdbReaderCrcReset(rdbReader *r);

/* Capture: from CaptureStart on, consumed bytes are also kept. CaptureGet
 * returns them (valid until the next read or CaptureStart) and CaptureStop
 * ends capturing. Memory: the capture grows to the size of the largest
 * captured span, and is reused. */
void rdbReaderCaptureStart(rdbReader *r);
const unsigned char *rdbReaderCaptureGet(rdbReader *r, size_t *len);
void rdbReaderCaptureStop(rdbReader *r);

/* RDB_OK while no read failed (reaching the end in rdbReaderAtEnd is no
 * failure). */
rdbErrCode rdbReaderErrorCode(const rdbReader *r);
const char *rdbReaderError(const rdbReader *r);

#endif

/* rdbfile.c -- see rdbfile.h. */
#include "rdbfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc64.h"
#include "encode.h"

#define FLUSH_AT (256 * 1024)

struct rdbFileWriter {
    rdbWriteFn fn;
    void *dst;
    rdbBuf buf;
    uint64_t crc;
    int failed;
    int version;
    rdbFlavour flavour;
};

static int flushBuf(rdbFileWriter *w) {
    if (w->failed) return -1;
    if (!w->buf.len) return 0;
    w->crc = crc64(w->crc, w->buf.p, w->buf.len);
    if (w->fn(w->dst, w->buf.p, w->buf.len) < 0) {
        w->failed = 1;
        return -1;
    }
    rdbBufClear(&w->buf);
    return 0;
}

static int maybeFlush(rdbFileWriter *w, int rc) {
    if (rc < 0) {
        w->failed = 1;
        return -1;
    }
    return w->buf.len >= FLUSH_AT ? flushBuf(w) : 0;
}

rdbFileWriter *rdbFileWriterNew(rdbWriteFn fn, void *dst, int version, rdbFlavour flavour) {
    rdbFileWriter *w = calloc(1, sizeof(*w));
    char hdr[16];
    if (!w) return NULL;
    w->fn = fn;
    w->dst = dst;
    w->version = version;
    w->flavour = flavour;
    int n = flavour == RDB_FLAVOUR_VALKEY ? snprintf(hdr, sizeof(hdr), "VALKEY%03d", version % 1000)
                                          : snprintf(hdr, sizeof(hdr), "REDIS%04d", version % 10000);
    if (rdbBufAppend(&w->buf, hdr, (size_t)n) < 0) {
        free(w);
        return NULL;
    }
    return w;
}

void rdbFileWriterFree(rdbFileWriter *w) {
    if (!w) return;
    rdbBufFree(&w->buf);
    free(w);
}

int rdbFileAux(rdbFileWriter *w, const char *key, const char *val) {
    int rc = rdbBufAppendByte(&w->buf, RDB_OPCODE_AUX) | rdbWriteString(&w->buf, key, strlen(key)) |
             rdbWriteString(&w->buf, val, strlen(val));
    return maybeFlush(w, rc);
}

int rdbFileSelectDb(rdbFileWriter *w, uint64_t db) {
    return maybeFlush(w, rdbBufAppendByte(&w->buf, RDB_OPCODE_SELECTDB) | rdbWriteLen(&w->buf, db));
}

int rdbFileResizeDb(rdbFileWriter *w, uint64_t keys, uint64_t expires) {
    return maybeFlush(w, rdbBufAppendByte(&w->buf, RDB_OPCODE_RESIZEDB) | rdbWriteLen(&w->buf, keys) |
                             rdbWriteLen(&w->buf, expires));
}

int rdbFileHints(rdbFileWriter *w, int64_t idle, int freq) {
    int rc = 0;
    if (idle >= 0) rc |= rdbBufAppendByte(&w->buf, RDB_OPCODE_IDLE) | rdbWriteLen(&w->buf, (uint64_t)idle);
    if (freq >= 0) rc |= rdbBufAppendByte(&w->buf, RDB_OPCODE_FREQ) | rdbBufAppendByte(&w->buf, (unsigned char)freq);
    return maybeFlush(w, rc);
}

/* meta: a Redis 8.6 KEY_META record (opcode included) to put right before
 * the type byte, kept only in a file that can say it (Redis RDB 13+). */
static int fileKey(rdbFileWriter *w, const unsigned char *meta, size_t metalen, int type, const char *key,
                   size_t keylen, int64_t expire_ms, const unsigned char *value, size_t len) {
    int rc = 0;
    if (expire_ms != -1) rc |= rdbBufAppendByte(&w->buf, RDB_OPCODE_EXPIRETIME_MS) | rdbWriteLe64(&w->buf, (uint64_t)expire_ms);
    if (meta && metalen && w->flavour == RDB_FLAVOUR_REDIS && w->version >= 13)
        rc |= rdbBufAppend(&w->buf, meta, metalen);
    rc |= rdbBufAppendByte(&w->buf, (unsigned char)type) | rdbWriteString(&w->buf, key, keylen);
    if (rc < 0) return maybeFlush(w, -1);
    /* A big value goes out without being copied into the buffer. */
    if (len >= FLUSH_AT) {
        if (flushBuf(w) < 0) return -1;
        w->crc = crc64(w->crc, value, len);
        if (w->fn(w->dst, value, len) < 0) {
            w->failed = 1;
            return -1;
        }
        return 0;
    }
    return maybeFlush(w, rdbBufAppend(&w->buf, value, len));
}

int rdbFileKey(rdbFileWriter *w, int type, const char *key, size_t keylen, int64_t expire_ms,
               const unsigned char *value, size_t len) {
    return fileKey(w, NULL, 0, type, key, keylen, expire_ms, value, len);
}

int rdbFileKeyFromPayload(rdbFileWriter *w, const char *key, size_t keylen, int64_t expire_ms,
                          const unsigned char *payload, size_t len) {
    rdbPayloadParts pp;
    if (rdbPayloadSplit(payload, len, 0, &pp) != RDB_OK) return -1;
    return fileKey(w, pp.meta, pp.metalen, pp.type, key, keylen, expire_ms, pp.value, pp.len);
}

int rdbFileFunction(rdbFileWriter *w, const char *code, size_t len) {
    return maybeFlush(w, rdbBufAppendByte(&w->buf, RDB_OPCODE_FUNCTION2) | rdbWriteString(&w->buf, code, len));
}

int rdbFileFinish(rdbFileWriter *w) {
    if (rdbBufAppendByte(&w->buf, RDB_OPCODE_EOF) < 0 || flushBuf(w) < 0) return -1;
    unsigned char c[8];
    for (int i = 0; i < 8; i++) c[i] = (unsigned char)(w->crc >> (8 * i));
    if (w->fn(w->dst, c, 8) < 0) {
        w->failed = 1;
        return -1;
    }
    return 0;
}

int rdbWriteFd(void *fdp, const void *p, size_t n) {
    int fd = *(int *)fdp;
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* ---- verifying a file's CRC ---- */

#define VERIFY_CHUNK (1 << 20)

/* Read exactly n bytes (n > 0); -1 on error or early EOF. */
static int readFull(int fd, unsigned char *p, size_t n) {
    while (n) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = EIO;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* 1 when the header says the file ends in a CRC-64 (RDB 5+, any Valkey). */
static int headerHasCrc(const unsigned char *h, size_t n) {
    if (n >= 9 && memcmp(h, "REDIS", 5) == 0) return atoi((const char *)h + 5) >= 5;
    return n >= 9 && memcmp(h, "VALKEY", 6) == 0;
}

int rdbFileVerifyCrc(const char *path, rdbFileCrc *result, uint64_t *stored, uint64_t *computed, char *err,
                     size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    unsigned char *buf = NULL, tail[8], head[10] = {0};
    *result = RDB_FILECRC_ABSENT;
    *stored = *computed = 0;
    if (fd < 0 || fstat(fd, &sb) < 0) goto ioerr;
    if (sb.st_size < 9 + 8) goto done; /* too short for a CRC: the decoder says why */
    if (!(buf = malloc(VERIFY_CHUNK))) goto ioerr;
    uint64_t left = (uint64_t)sb.st_size - 8, crc = 0;
    unsigned char last = 0;
    while (left) {
        size_t n = left < VERIFY_CHUNK ? (size_t)left : VERIFY_CHUNK;
        if (readFull(fd, buf, n) < 0) goto ioerr;
        if (left == (uint64_t)sb.st_size - 8) memcpy(head, buf, n < 9 ? n : 9); /* the first chunk */
        crc = crc64(crc, buf, n);
        left -= n;
        if (!left) last = buf[n - 1];
    }
    if (readFull(fd, tail, 8) < 0) goto ioerr;
    for (int i = 7; i >= 0; i--) *stored = *stored << 8 | tail[i];
    *computed = crc;
    if (!headerHasCrc(head, 9)) goto done;
    if (last != RDB_OPCODE_EOF) *result = RDB_FILECRC_NO_EOF;
    else if (*stored != 0) *result = crc == *stored ? RDB_FILECRC_OK : RDB_FILECRC_MISMATCH;
done:
    free(buf);
    close(fd);
    return 0;
ioerr:
    snprintf(err, errlen, "cannot read: %s", strerror(errno));
    free(buf);
    if (fd >= 0) close(fd);
    return -1;
}

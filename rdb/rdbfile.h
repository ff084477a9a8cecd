/* rdbfile.h -- writing a whole RDB file: header, AUX fields, databases,
 * keys whose values are given in their serialized form, EOF and CRC-64.
 *
 * Used to turn DUMP payloads into a loadable snapshot: a DUMP payload is an
 * RDB-encoded value (type byte, value, footer), so a key record is the
 * optional expire opcode, the type byte, the key and the value bytes. The
 * writer keeps the running CRC-64 of everything it wrote and appends it
 * after EOF, so the file passes redis-check-rdb.
 *
 * Output goes through a write callback (a file descriptor, a pipe, a
 * buffer). Memory: one buffered chunk plus nothing per key.
 *
 * Ownership: rdbFileWriterNew returns an object freed with
 * rdbFileWriterFree. Errors: -1 when the callback failed; the writer is
 * then unusable.
 */
#ifndef RDB_RDBFILE_H
#define RDB_RDBFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rdb.h"

typedef struct rdbFileWriter rdbFileWriter;

/* Write all n bytes; 0 or -1. */
typedef int (*rdbWriteFn)(void *dst, const void *p, size_t n);

/* Writes the header ("REDIS%04d", or "VALKEY%03d" for the Valkey flavour). */
rdbFileWriter *rdbFileWriterNew(rdbWriteFn fn, void *dst, int version, rdbFlavour flavour);
void rdbFileWriterFree(rdbFileWriter *w);

int rdbFileAux(rdbFileWriter *w, const char *key, const char *val);
int rdbFileSelectDb(rdbFileWriter *w, uint64_t db);
/* RESIZEDB after a SELECTDB: the db's key count and how many of them have
 * an expire, so that a loading server sizes its tables once instead of
 * growing them key by key (the counts are hints: a wrong one costs only
 * memory or rehashing, never data). */
int rdbFileResizeDb(rdbFileWriter *w, uint64_t keys, uint64_t expires);
/* LRU idle seconds and LFU counter of the key written next (-1: none);
 * RDB 9+ (a server reads the one its maxmemory-policy uses). */
int rdbFileHints(rdbFileWriter *w, int64_t idle, int freq);
/* A key: expire_ms -1 for none (any other value, even negative, is
 * written); value = the bytes after the type byte. */
int rdbFileKey(rdbFileWriter *w, int type, const char *key, size_t keylen, int64_t expire_ms,
               const unsigned char *value, size_t len);
/* A key from a whole DUMP payload (type byte + value + 10-byte footer). A
 * Redis 8.6 payload's key metadata prefix is kept in a Redis RDB 13+ file,
 * left out of older ones. */
int rdbFileKeyFromPayload(rdbFileWriter *w, const char *key, size_t keylen, int64_t expire_ms,
                          const unsigned char *payload, size_t len);
int rdbFileFunction(rdbFileWriter *w, const char *code, size_t len);
/* EOF opcode and CRC-64; flushes. */
int rdbFileFinish(rdbFileWriter *w);

/* ---- reading: the trailing CRC-64 of a whole file, without decoding ---- */

typedef enum { RDB_FILECRC_OK = 0, RDB_FILECRC_ABSENT, RDB_FILECRC_MISMATCH, RDB_FILECRC_NO_EOF } rdbFileCrc;

/* One read of the file at CRC speed: the CRC-64 of everything but its last
 * 8 bytes against those bytes (format.md 1.7), so an import can refuse a
 * corrupt file before writing any key. ABSENT: an RDB before version 5, a
 * stored CRC of zero (rdbchecksum no), or a file that does not start like an
 * RDB (the decoder names what is wrong with it). NO_EOF: the byte before
 * the last 8 is not the EOF opcode, so those are no CRC (a truncated file,
 * most likely). 0 with *result (and
 * *stored, *computed) set; -1 with a message in err when the file cannot be
 * read. */
int rdbFileVerifyCrc(const char *path, rdbFileCrc *result, uint64_t *stored, uint64_t *computed, char *err,
                     size_t errlen);

/* An rdbWriteFn over a file descriptor. */
int rdbWriteFd(void *fd, const void *p, size_t n);

#endif

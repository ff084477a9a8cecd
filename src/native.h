/* native.h -- write one value too large for RESTORE as native commands.
 *
 * A value above the target's proto-max-bulk-len (or --max-restore-size)
 * cannot travel as one RESTORE. It is decoded again from its raw bytes and
 * written in bounded batches to a temporary key:
 * RPUSH / SADD / ZADD / HSET / XADD (+ XGROUP, XCLAIM for consumer groups),
 * APPEND for strings; then PEXPIREAT on the temporary key, then RENAMENX
 * (RENAME with --on-conflict replace) onto the real name, then DEL of the
 * temporary key (a no-op once renamed). So the real key appears whole or
 * not at all, never half-written, and an existing key is never appended to.
 *
 * The temporary name never collides with user data: it is
 * "rdbsync:tmp:{<tag>}:<64 random bits in hex>:<pid>", where <tag> puts it
 * in the real key's cluster hash slot (the key's own hash tag, or the key),
 * and it is reserved with SET NX (waiting for the answer) before anything
 * is written to it: a key of that name, however unlikely, is never
 * touched. A run killed half way leaves it with a one-hour TTL; the next
 * run deletes every "rdbsync:tmp:*" key first (preflight.h): that prefix
 * belongs to rdbsync.
 *
 * Memory: one batch (NATIVE_BATCH_ELEMS elements or NATIVE_BATCH_BYTES;
 * a string goes as one APPEND per RDB_STRING_CHUNK piece the decoder hands
 * over), besides the raw value the caller holds: the value is never whole
 * in memory a second time.
 * Limits: a stream consumer's seen/active times cannot be set by commands
 * (they become the time of the copy); module values cannot be written this
 * way (reported as an error).
 *
 * Replies: batch commands carry tag kind WRITER_K_NATIVE_BATCH; the final
 * RENAMENX/RENAME carries WRITER_K_NATIVE_FINAL (integer 0 from RENAMENX means the
 * key exists: a conflict); the reservation WRITER_K_NATIVE_RESERVE (nil: the name
 * is taken, stop). The importer counts them.
 */
#ifndef RDBSYNC_NATIVE_H
#define RDBSYNC_NATIVE_H

#include <stddef.h>

#include "rdb/decode.h"
#include "rdb/encode.h"
#include "writer.h"

#define NATIVE_BATCH_ELEMS 1000
#define NATIVE_BATCH_BYTES (4 * 1024 * 1024)
/* Every temporary key name starts with this. */
#define NATIVE_TMP_PREFIX "rdbsync:tmp:"

/* A fresh temporary name for key (see above) into out (cleared first).
 * 0, or -1 when out of memory. */
int nativeTmpName(const char *key, size_t keylen, rdbBuf *out);
/* Redis Cluster's hash slot of a key (CRC16 of its hash tag, mod 16384). */
unsigned nativeKeySlot(const char *key, size_t keylen);

/* Write the value 'raw' (bytes after the type byte, as in the RDB) of key
 * k into db 'db' (already SELECTed on w), through the temporary key 'tmp'
 * (from nativeTmpName). version/flavour are those of the source; grace_ms
 * as importOptions.expire_grace_ms. Returns
 * 0, or -1 with a message in err (or the writer stopped). */
int nativeWrite(writer *w, const rdbKeyInfo *k, uint64_t db, const char *tmp, size_t tmplen,
                const unsigned char *raw, size_t len, int version, rdbFlavour flavour, int replace,
                int64_t grace_ms, char *err, size_t errlen);

#endif

/* native.h -- write one value too large for RESTORE as native commands.
 *
 * A value above the target's proto-max-bulk-len (or --max-restore-size)
 * cannot travel as one RESTORE. It is decoded again from its raw bytes and
 * written in bounded batches to a temporary key next to the real one:
 * RPUSH / SADD / ZADD / HSET / XADD (+ XGROUP, XCLAIM for consumer groups),
 * APPEND for strings; then PEXPIREAT on the temporary key, then RENAMENX
 * (RENAME with --on-conflict replace) onto the real name, then DEL of the
 * temporary key (a no-op once renamed). So the real key appears whole or
 * not at all, never half-written, and an existing key is never appended to.
 *
 * Memory: one batch (NATIVE_BATCH_ELEMS elements or NATIVE_BATCH_BYTES).
 * Limits: a stream consumer's seen/active times cannot be set by commands
 * (they become the time of the copy); module values cannot be written this
 * way (reported as an error).
 *
 * Replies: batch commands carry tag kind WRITER_K_NATIVE_BATCH; the final
 * RENAMENX/RENAME carries WRITER_K_NATIVE_FINAL (integer 0 from RENAMENX means the
 * key exists: a conflict). The importer counts them.
 */
#ifndef RDBSYNC_NATIVE_H
#define RDBSYNC_NATIVE_H

#include <stddef.h>

#include "rdb/decode.h"
#include "writer.h"

#define NATIVE_BATCH_ELEMS 1000
#define NATIVE_BATCH_BYTES (4 * 1024 * 1024)
/* The temporary key is the real key plus this suffix. */
#define NATIVE_TMP_SUFFIX ":rdbsync-tmp"

/* Write the value 'raw' (bytes after the type byte, as in the RDB) of key
 * k into db 'db' (already SELECTed on w). version/flavour are those of the
 * source. Returns 0, or -1 with a message in err. */
int nativeWrite(writer *w, const rdbKeyInfo *k, uint64_t db, const unsigned char *raw, size_t len,
                int version, rdbFlavour flavour, int replace, char *err, size_t errlen);

#endif

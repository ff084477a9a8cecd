/* checksum.h -- `--checksum`: verify an RDB and summarize its logical content.
 *
 * A decoder consumer that counts keys (total and per db), keys per logical
 * type, expires and functions, and computes the logical digest (rdb/digest.h)
 * in the same pass. The report is printed as `name: value` lines or as one
 * JSON object.
 *
 * Ownership: checksumNew returns an object freed with checksumFree; the
 * handlers it fills borrow it. Memory is constant apart from the per-db
 * counters: one entry per distinct db that holds a key, whatever its
 * number (a file may say SELECTDB 2000000000).
 */
#ifndef RDBSYNC_CHECKSUM_H
#define RDBSYNC_CHECKSUM_H

#include <stdint.h>
#include <stdio.h>

#include "rdb/decode.h"

typedef struct checksum checksum;

checksum *checksumNew(void);
/* The same report, with values decoded and hashed on nworkers threads
 * (rdb/parallel.h): for decoding a whole RDB from a reader, where the
 * handlers are given to rdbDecoderNew. Call checksumFinish before trusting
 * the report: corruption inside a value is found by a worker. */
checksum *checksumNewParallel(int nworkers);
/* Wait for the workers. -1 when a value failed: *err is the decoder's
 * message for it (offset, db, key) and *code its error code. */
int checksumFinish(checksum *c, rdbErrCode *code, const char **err);
void checksumFree(checksum *c);
/* Fills h with the digest's and the counters' callbacks. */
void checksumHandlers(checksum *c, rdbHandlers *h);
/* Print the report, dbs in ascending order. Its rdb_version is the file's
 * header version (0, and left out of the text form, when the keys came
 * from a scan rather than a file); crc64 is n/a without a file. */
void checksumReport(checksum *c, FILE *out, int json);
/* The digest (rdb/digest.h) and the key count, for comparing two sides
 * (--verify): what the report prints as digest: and keys:. */
void checksumDigest(checksum *c, unsigned char out[32], uint64_t *keys);
/* The report's keys, expires and digest (hex, 2 * RDB_DIGEST_LEN + 1
 * bytes), e.g. for one shard of a cluster. */
void checksumFigures(checksum *c, uint64_t *keys, uint64_t *expires, char *hex);

#endif

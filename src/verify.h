/* verify.h -- `rdbsync --verify --source URL --target URL`: are the two
 * datasets equal, and if not, which keys differ and where.
 *
 * Digests first: both sides are read at once, each as --source --checksum
 * reads a server (a replica snapshot where allowed, else SCAN + DUMP), and
 * when the digests (rdb/digest.h: every key, type, value and expire) and
 * the key counts are equal, the datasets are, and that is the verdict:
 * about the time of one --checksum, not one round trip per key.
 *
 * Otherwise key by key: every source key is read with SCAN + DUMP, and each
 * batch of them is fetched from the target in one pipelined round trip
 * (scan.h, scanFetchKeys) and compared through the key's digest term; where
 * terms differ keydiff.h says which part. Then every target key is looked
 * up on the source the same way, for keys only on the target. The first
 * differing keys are named on stdout.
 *
 * Memory: one batch of keys and payloads per side (a thousand keys or
 * 8 MiB, whichever comes first; one key when a value is larger).
 * Returns an outcome (outcome.h): OK when equal, DIFFER when not; errors
 * print one line.
 */
#ifndef RDBSYNC_VERIFY_H
#define RDBSYNC_VERIFY_H

#include "outcome.h"
#include "snapshot.h"

outcome verifyRun(const snapshotConfig *c);

/* --verify with a cluster on either side (csource.h): each side is the
 * masters of a cluster, or NULL for the one server of its URL. A cluster's
 * masters are read one after the other, and each key looked up on the
 * other side is asked of the master of its slot, conns[owner(ctx, key,
 * len)], batched per master. Key by key (no digest phase). The
 * connections are borrowed. */
typedef struct verifySource {
    int n;
    rsConn **conns;
    rsServerInfo *infos;
    int (*owner)(void *ctx, const char *key, size_t len);
    void *ctx;
} verifySource;
outcome verifyRunSides(const snapshotConfig *c, const verifySource *src, const verifySource *tgt);

#endif

/* snapshot.h -- a live source's snapshot, to a file or a checksum.
 *
 *   rdbsync --source URL --file out.rdb    a valid RDB with its CRC-64
 *   rdbsync --source URL --checksum        the same report as --file --checksum
 *   rdbsync --source URL --target URL --verify   compare both sides key by key
 *
 * Where the source allows it, the snapshot comes over the replica path:
 * REPLCONF rdb-only 1 (the source buffers no command stream for us), PSYNC
 * (or SYNC), and the RDB bytes are written to the file and decoded at the
 * same time (so a corrupt or cut transfer is caught before the file is
 * renamed into place). Where it refuses, the snapshot is rebuilt from
 * SCAN + DUMP: a DUMP payload is an RDB-encoded value, written with its
 * key, db and expire (rdb/rdbfile.h), or decoded into the digest.
 *
 * Functions return an outcome (outcome.h) and print their one error line
 * themselves.
 */
#ifndef RDBSYNC_SNAPSHOT_H
#define RDBSYNC_SNAPSHOT_H

#include "conn.h"
#include "outcome.h"
#include "url.h"

typedef struct snapshotConfig {
    const rsUrl *source, *target;
    rsConnOptions source_conn, target_conn;
    int mode;        /* 0 auto, 1 replica only, 2 scan only */
    int json;
    int scan_count;
    long rate;
    int quiet;
    const char *psync_cmd; /* PSYNC's name on this source; NULL = PSYNC */
} snapshotConfig;

/* One source's snapshot over the replica path, decoded through h (and
 * teed to fd unless -1): 0, SNAPSHOT_FAILED (err, and *why: the outcome),
 * or SNAPSHOT_REFUSED (the source refuses SYNC and PSYNC). A cluster
 * source (csource.h) reads each shard with it. */
#define SNAPSHOT_FAILED (-1)
#define SNAPSHOT_REFUSED (-2)
struct rdbHandlers;
int snapshotDecode(const snapshotConfig *c, int fd, const struct rdbHandlers *h, outcome *why, char *err,
                   size_t errlen);

outcome snapshotToFile(const snapshotConfig *c, const char *path);
outcome snapshotChecksum(const snapshotConfig *c);
outcome snapshotVerify(const snapshotConfig *c);
/* --verify against several source servers (a cluster's masters): the
 * first pass reads each, the second looks each target key up on
 * conns[owner(ctx, key, len)]. */
typedef struct verifySource {
    int n;
    rsConn **conns;
    rsServerInfo *infos;
    int (*owner)(void *ctx, const char *key, size_t len);
    void *ctx;
} verifySource;
outcome snapshotVerifySources(const snapshotConfig *c, const verifySource *vs);

#endif

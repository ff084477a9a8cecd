/* snapshot.h -- a live source's snapshot, to a file or a checksum.
 *
 *   rdbsync --source URL --file out.rdb    a valid RDB with its CRC-64
 *   rdbsync --source URL --checksum        the same report as --file --checksum
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

#include "checksum.h"
#include "conn.h"
#include "filter.h"
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
    const keyFilter *filter; /* --checksum and --verify: only these keys; NULL = all
                                (--source --file writes the snapshot whole) */
    const char *checkpoint_key; /* left out of --verify and a live --checksum (checkpoint.h);
                                   NULL = CHECKPOINT_DEFAULT_KEY */
    long long ttl_tolerance_ms; /* --verify: expire times this close are equal; -1 = auto:
                                 * 0 when both sides are 7.0+ (absolute expires replicated,
                                 * read exactly), else 1000 + twice the slowest key read */
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

/* The scan path (SCAN + DUMP), for a source that refuses SYNC and PSYNC;
 * a cluster's snapshots use it once per master (cscan.h): every key's
 * DUMP payload decoded through h (--checksum; a cluster's --file, which
 * merges its shards' events into one file). slots: only the keys of these
 * slots (a bit per slot), NULL = every key; functions: the function
 * libraries too; header: first h->header with the source's RDB version
 * and flavour (from INFO) and its version as an aux field, as a
 * replica-path snapshot begins. 0, or -1 with err and *why. */
int snapshotScanDecode(const snapshotConfig *c, const unsigned char *slots, int functions, int header,
                       const struct rdbHandlers *h, outcome *why, char *err, size_t errlen);

/* --source --file's output (csource.c writes one too): PATH.rdbsync-tmp,
 * mode 0600 (it holds every key), renamed onto PATH only when whole. */
typedef struct snapshotOut {
    char tmp[4096];
    const char *path;
    int fd;
} snapshotOut;
/* 0, or -1 after its error line (then OUTCOME_INPUT). */
int snapshotOutOpen(snapshotOut *o, const char *path);
/* The end of a snapshot written into o->fd: with rc 0 it is synced and
 * renamed into place ("wrote PATH from FROM by HOW"); otherwise, or when
 * that fails, the temporary is removed and one line says why (err, or an
 * interruption with the bytes written). Returns the outcome (why when rc
 * is not 0). Closes the fd. */
outcome snapshotOutFinish(snapshotOut *o, int rc, outcome why, const char *from, const char *how, const char *err);
outcome snapshotChecksum(const snapshotConfig *c);

/* For --verify (verify.h), which reads both sides with these. */
/* The --checksum counts and digest of the source, by the replica path or
 * SCAN + DUMP as cfg->mode allows; si says which, and what it left out. NULL on failure: err
 * says why (no line printed) and *why is the outcome. Free with
 * checksumFree. Runs in any thread: it shares nothing with another call. */
typedef struct snapshotSumInfo {
    const char *how;             /* "replication" or "SCAN + DUMP" */
    uint64_t checkpoint_hidden;  /* --exactly-once checkpoint keys left out */
} snapshotSumInfo;
checksum *snapshotSum(const snapshotConfig *c, outcome *why, snapshotSumInfo *si, char *err, size_t errlen);
/* The --exactly-once checkpoint key (checkpoint.h) these leave out of a
 * digest, and the note that says so (on stderr, unless quiet; n = 0: none). */
const char *snapshotCheckpointName(const snapshotConfig *c);
void snapshotNoteCheckpoint(const snapshotConfig *c, uint64_t n);
/* A connection to cfg->source with its INFO, or NULL with err set. */
rsConn *snapshotOpenSource(const snapshotConfig *c, rsServerInfo *info, char *err, size_t errlen);

#endif

/* tload.h -- --target-load replica: the target loads the first snapshot
 * itself, as the replica of a master that rdbsync plays for the load.
 *
 * Why: a RESTORE per key costs the target a dict lookup plus an add on a
 * table that grows by incremental rehashing; an RDB load sizes the table
 * once (RESIZEDB) and adds without a lookup. No client command does that,
 * so for the first snapshot into an empty standalone target rdbsync
 * listens on the local address of its own connection to the target, tells
 * the target REPLICAOF that address (once the source's RDB flows: sync.c), answers its handshake (PING, AUTH,
 * REPLCONF, PSYNC -> +FULLRESYNC) and sends the snapshot in the diskless
 * format ($EOF:<mark>, RDB, mark), written by rdb/rdbfile.h from what the
 * importer chose per key (import.h: importSetRdb). Once the target says
 * it loaded (INFO: link up, no sync in progress, not loading) it gets
 * REPLICAOF NO ONE, and its repl-diskless-load goes back to what it was.
 *
 * The target is never left a replica of rdbsync: tloadEnd, on every path
 * (errors, a stop by signal, a cut snapshot), closes the link and promotes
 * it, then restores the config.
 *
 * Ownership: tloadBegin's object borrows the control connection (the
 * syncer's, idle while the load runs) and is freed by tloadEnd. Errors:
 * one line in err, with the outcome the caller exits with.
 */
#ifndef RDBSYNC_TLOAD_H
#define RDBSYNC_TLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "import.h"
#include "outcome.h"
#include "rdb/rdbfile.h"

typedef enum { TLOAD_RESTORE = 0, TLOAD_REPLICA } tloadMode;

typedef struct tload tload;

/* What the up-front check needs to know besides the target itself. */
typedef struct tloadFacts {
    int tls;            /* the target is reached over TLS */
    int unix_socket;    /* over a unix socket: no address to give it */
    int cluster_target; /* a cluster node */
    int target_empty;   /* no key when the sync began */
    int flush;          /* --flush-target */
    const importOptions *imp;
} tloadFacts;

/* Before the replica link asks for anything: may the target load the first
 * snapshot as our replica? 0 with *databases (the target's count), or
 * OUTCOME_* (non-zero) with the reason in err, nothing written. */
outcome tloadCheck(rsConn *t, const rsServerInfo *ti, const tloadFacts *f, long *databases, char *err,
                   size_t errlen);

/* Make the target our replica and open the RDB stream to it (said on
 * stderr unless quiet). stopped() is polled while waiting (a stop by
 * signal). NULL with err and *rc. */
tload *tloadBegin(rsConn *t, const rsServerInfo *ti, int (*stopped)(void), int quiet, outcome *rc, char *err,
                  size_t errlen);
/* The RDB writer on the replication link (header written). */
rdbFileWriter *tloadWriter(tload *tl);
/* The EOF, CRC-64 and mark, then wait until the target loaded it and
 * promote it; then say how many keys it holds per db against the keys
 * written and read (a warning when it holds other than those written).
 * 0, or -1 with err (what the link or INFO said). */
int tloadFinish(tload *tl, uint64_t written, uint64_t read, char *err, size_t errlen);
/* After a failure: what goes with its message (the target's INFO about
 * the link), appended to msg. */
void tloadExplain(tload *tl, char *msg, size_t cap);
/* Close the link and listener, REPLICAOF NO ONE (unless done), restore
 * repl-diskless-load, free. NULL is fine. */
void tloadEnd(tload *tl);

#endif

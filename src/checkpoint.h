/* checkpoint.h -- exactly-once apply (--exactly-once): live sync keeps its
 * position on the target itself, committed together with the writes it
 * covers.
 *
 * The checkpoint is a hash in target db 0 (CHECKPOINT_DB), default name
 * rdbsync:checkpoint (--checkpoint-key), with three fields:
 *     replid  the source's replication id (40 hex; "?" on a SYNC-only link)
 *     offset  the last source stream byte whose effects are on the target
 *     db      the source stream's selected db at that byte
 * The live stream's commands go to the target in batches:
 *     MULTI, [SELECT n], cmd..., SELECT 0, HSET <key> replid .. offset .. db .., EXEC
 * so a batch's writes and its checkpoint commit together or not at all.
 * When the target link is lost (or rdbsync restarts), the checkpoint read
 * back from the target says exactly what ran: an EXEC whose reply was lost
 * either committed (the checkpoint moved) or not (it did not). Resuming the
 * replica link at offset + 1 then applies nothing twice and skips nothing.
 *
 * Batches end only at command boundaries outside a source transaction:
 * the source's MULTI/EXEC are not forwarded (they would nest) but flatten
 * into the batch, whose EXEC makes them atomic all the same. The caller
 * ends a batch when checkpointDue says it is full (CHECKPOINT_BATCH_CMDS
 * commands or CHECKPOINT_BATCH_BYTES bytes of arguments) and whenever the
 * stream goes idle (no more bytes waiting): under a light load a batch is
 * the few commands that arrived together, so latency stays one round trip;
 * under a heavy one batches grow to the cap and MULTI/EXEC cost less per
 * command. A position that moved without any command (PINGs, commands of
 * dbs not copied) is checkpointed by a lone HSET, which is atomic alone.
 *
 * Replies: everything between a batch's MULTI reply and its EXEC reply
 * belongs to the batch (checkpointOwns); checkpointOnReply matches EXEC's
 * array to the commands queued, names each refused one through the
 * caller's callback, and says when a batch committed and up to where.
 * A command refused at queueing (OOM, an unknown command) makes the target
 * discard the whole batch (EXECABORT): nothing of it ran and the
 * checkpoint did not move.
 *
 * Only for a standalone target: a cluster node holds only its slots' keys
 * and a checkpoint per node does not exist yet (at-least-once there);
 * checkpointCheckTarget refuses one. A cluster source has one position per
 * shard: each shard's fields are its own (checkpointSetShard).
 *
 * Ownership: checkpointNew copies the key name; the writer passed to each
 * call is borrowed. Tags handed to the refused callback are valid during
 * the call. Errors: -1 with the reason in err (or checkpointError), one
 * line naming the key and where.
 */
#ifndef RDBSYNC_CHECKPOINT_H
#define RDBSYNC_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "conn.h"
#include "rdb/decode.h"
#include "writer.h"

#define CHECKPOINT_DEFAULT_KEY "rdbsync:checkpoint"
#define CHECKPOINT_DB 0
/* Batch caps, measured (README "Exactly-once"): past a few hundred
 * commands a batch costs no less per command, and a longer EXEC holds the
 * target's event loop longer. */
#ifndef CHECKPOINT_BATCH_CMDS /* -D for bench/run.sh exactly's measurements */
#define CHECKPOINT_BATCH_CMDS 512
#endif
#define CHECKPOINT_BATCH_BYTES (1024 * 1024)

typedef struct checkpointPos {
    char replid[41];
    int64_t offset;
    int db;
} checkpointPos;

typedef struct checkpoint checkpoint;

/* key: NULL for CHECKPOINT_DEFAULT_KEY. NULL when out of memory. */
checkpoint *checkpointNew(const char *key);
void checkpointFree(checkpoint *cp);
const char *checkpointKey(const checkpoint *cp);
/* A cluster source's shard (csource.h): its fields in the one hash are
 * "<prefix>replid", "<prefix>offset", "<prefix>db" (prefix
 * "slots:0-5460:"), so every shard commits its own position with its own
 * batches; checkpointRemove then deletes only those fields. */
void checkpointSetShard(checkpoint *cp, const char *prefix);
int checkpointIsShard(const checkpoint *cp);
const char *checkpointError(const checkpoint *cp);

/* ---- On a plain connection (before a writer uses it, or its own) ---- */

/* 0 for a standalone target; -1 for a cluster node (INFO cluster says
 * cluster_enabled:1) with the reason, or when INFO fails. */
int checkpointCheckTarget(rsConn *c, char *err, size_t errlen);
/* Read the checkpoint: 1 found (*pos filled), 0 absent, -1 when the key
 * is not one (another type, a malformed field), -2 when the connection
 * failed. Leaves c in db 0: a writer on c must forget its db
 * (writerResetDb). */
int checkpointRead(rsConn *c, const char *key, checkpointPos *pos, char *err, size_t errlen);
/* The same for cp's own fields (a shard's when checkpointSetShard). */
int checkpointReadOwn(rsConn *c, const checkpoint *cp, checkpointPos *pos, char *err, size_t errlen);

/* ---- Through the writer ---- */

/* Queue one stream command into the batch (opening it with MULTI), in
 * target db tdb. Same contract as writerCommand. */
int checkpointForward(checkpoint *cp, writer *w, uint64_t tdb, int argc, const char **argv, const size_t *lens,
                      const writerTag *t);
int checkpointInBatch(const checkpoint *cp);
/* The open batch reached a cap: end it at the next command boundary that
 * is outside a source transaction. */
int checkpointDue(const checkpoint *cp);
/* End the open batch with the checkpoint at pos (SELECT 0, HSET, EXEC), or
 * with no batch open write the checkpoint alone (HSET). */
int checkpointCommit(checkpoint *cp, writer *w, const checkpointPos *pos);
/* Drop the open batch (DISCARD): its commands never run, the checkpoint
 * does not move. For an epoch that ends inside a source transaction. */
int checkpointDiscard(checkpoint *cp, writer *w);
/* Remove the checkpoint key (before a new snapshot's first key; at
 * cut-over, when the target becomes the primary). Queued: drain to wait. */
int checkpointRemove(checkpoint *cp, writer *w);
/* The writer was replaced (a new target connection): no batch is open. */
void checkpointReset(checkpoint *cp);

/* ---- Replies ---- */

/* Whether this reply is the batch's (call before any other handler). */
int checkpointOwns(const checkpoint *cp, const writerTag *t);

/* A command the target refused: 'discarded' when at queueing (the whole
 * batch is dropped), else at EXEC (it alone did not run). Non-zero stops. */
typedef int (*checkpointRefusedFn)(void *ctx, const writerTag *cmd, const char *error, int discarded);

typedef struct checkpointVerdict {
    int committed;       /* this reply committed a batch or a lone checkpoint */
    int64_t offset;      /* its position */
    int db;
    uint64_t commands;   /* stream commands it carried (refused ones included) */
    int failed;          /* the checkpoint did not commit with its writes: checkpointError */
} checkpointVerdict;

/* Non-zero to stop (a refusal callback said so, or v->failed). */
int checkpointOnReply(checkpoint *cp, const writerTag *t, const redisReply *r, checkpointVerdict *v,
                      checkpointRefusedFn refused, void *ctx);

/* ---- Leaving the key out of digests and comparisons ---- */

/* 1 when the key (db, key, keylen) is the checkpoint named 'name'. */
int checkpointIsKey(const char *name, int db, const char *key, size_t keylen);

/* A handler set that passes everything to 'inner' except the events of
 * the checkpoint key (db 0, named 'key'): for a live --checksum of a
 * target. Borrowed: inner and key outlive it. */
typedef struct checkpointHide {
    rdbHandlers inner;
    const char *key;
    int hiding;          /* inside the hidden key's events */
    uint64_t hidden;     /* keys left out */
} checkpointHide;
void checkpointHideHandlers(checkpointHide *h, const rdbHandlers *inner, const char *key, rdbHandlers *out);

#endif

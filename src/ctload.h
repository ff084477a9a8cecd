/* ctload.h -- --target-load replica with a cluster source: the shards'
 * snapshots as one RDB the target loads once.
 *
 * Each shard's syncer (csource.h) decodes its own snapshot on its own
 * thread; a session shared by all of them makes the target the replica of
 * rdbsync (tload.h) when the first shard's RDB bytes arrive, writes one
 * RESIZEDB for the target db of source db 0 from the masters' INFO
 * keyspace counts (a hint), and hands every shard's importer the one RDB
 * writer (import.h: importShareRdb, a record whole under its mutex; the
 * libraries each once by csource's libUnion). The RDB ends (EOF, CRC,
 * mark) only when every shard's snapshot is complete: each shard waits at
 * that barrier (its stream spools meanwhile), the last one finishes the
 * load and promotes the target, then all go on with their streams.
 *
 * A shard whose snapshot is cut, fails, or that is stopped while the
 * session is open ends it for all (ctloadFail): the link closes before
 * the mark, so the target discards what it read, and is promoted with its
 * config restored; every shard then stops with the reason. A later full
 * sync of a shard (after the load) goes by RESTORE as with one source.
 *
 * Ownership: csource owns the session (ctloadNew/ctloadFree); the shards
 * borrow it. Thread-safe. Errors: one line in err.
 */
#ifndef RDBSYNC_CTLOAD_H
#define RDBSYNC_CTLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "import.h"
#include "outcome.h"
#include "url.h"

typedef struct ctload ctload;

/* shards: how many snapshots the RDB is made of; tdb: the target db of
 * source db 0; keys/expires: the hint for its RESIZEDB. NULL: no memory. */
ctload *ctloadNew(int shards, const rsUrl *target, const rsConnOptions *conn, int tdb, uint64_t keys,
                  uint64_t expires, int quiet);
/* Ends an open session (as ctloadFail) and frees. NULL is fine. */
void ctloadFree(ctload *c);

/* The masters' INFO keyspace for db 0, summed: the RESIZEDB hint (a master
 * that does not answer counts 0). */
void ctloadHint(const rsUrl *const *masters, int n, const rsConnOptions *conn, uint64_t *keys, uint64_t *expires);

/* A shard's first RDB bytes: the first one begins the session (the target
 * becomes our replica), the others join it. The share to give the
 * shard's importer, or NULL with *rc and err (the session failed or ended
 * already). stopped() is polled during the waits. */
importRdbShare *ctloadJoin(ctload *c, int (*stopped)(void), outcome *rc, char *err, size_t errlen);
/* Whether a session began (a shard's first bytes arrived). */
int ctloadBegun(ctload *c);
/* A shard's snapshot is complete (written/read: its key counts): wait
 * until every shard's is, the target loaded it and is promoted. tick() is
 * called about every 200 ms while waiting; non-zero = stopped (the session
 * ends). 0, or -1 with err (the load failed or was ended: every shard
 * stops). */
int ctloadArrive(ctload *c, uint64_t written, uint64_t read, int (*tick)(void *), void *ctx, char *err,
                 size_t errlen);
/* End the session for every shard: why is the one line they stop with,
 * rc the outcome of the shard it failed on (the others stop with it, so
 * the run's exit status is the cause's whichever shard ends first).
 * Nothing once the load is done. */
void ctloadFail(ctload *c, const char *why, outcome rc);
/* The outcome the session failed with; OUTCOME_OK while it has not. */
outcome ctloadFailure(ctload *c);

#endif

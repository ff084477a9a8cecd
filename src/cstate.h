/* cstate.h -- --state FILE with a cluster source: one file, one record
 * per shard.
 *
 * A cluster source runs one replica link per shard (csource.h), each with
 * its own replication id and offset. They share one state file (state.h)
 * and one keeper: each shard's apply thread records its position there,
 * and the file is written whole, atomically, as for a single source.
 *
 * A shard's record is keyed by its slot ranges as the run started
 * (source=slots:0-5460) and names what stays through a failover: its node
 * ids (nodes=ID,ID,...: the master and replicas it had), not the address
 * it was read from (a failover moves the master; the promoted replica
 * holds the old replication id as master_replid2, so PSYNC <replid>
 * <offset + 1> still continues there).
 *
 * On start (cstateOpen), with FILE present:
 *   - refused (OUTCOME_USAGE) when it was written for another target (its
 *     address or run_id, as for a single source), for a single source
 *     (a record without node ids), or for another cluster (no record
 *     shares a node id with any shard now);
 *   - each shard resumes from the record with a node in common (the one
 *     keyed by its ranges now, else any: a reshard during the last run or
 *     since moved slots, and the moved keys are in the streams, as
 *     RESTORE-ASKING and migration DELs, replayed as a live run does);
 *     any other shard (its nodes replaced, no position recorded) has no
 *     position: it full-syncs alone, replacing only its slots on the
 *     target (csourceLinkFlush), when the target holds what the previous
 *     run wrote.
 * Records of shards that no longer exist are dropped from the file.
 *
 * Ownership: cstateOpen holds FILE.lock until cstateClose, which stops the
 * keeper (a last write of every shard's position). The keeper is shared by
 * the shards' threads (stateKeeper is thread-safe).
 *
 * Errors: cstateOpen prints its one line and returns the outcome.
 */
#ifndef RDBSYNC_CSTATE_H
#define RDBSYNC_CSTATE_H

#include "conn.h"
#include "csource.h"
#include "outcome.h"
#include "state.h"
#include "url.h"

typedef struct cstate cstate;

/* Lock and read FILE, check it against the target and the topology t,
 * start the keeper with one record per shard of t (in t's order). */
outcome cstateOpen(const char *path, const csTopo *t, const rsUrl *target, const rsConnOptions *tco, int quiet,
                   cstate **out);
/* Shard i's record as the run starts (its key, its nodes, the position to
 * resume from if any); *target_ours when the target holds only what
 * rdbsync wrote (a shard without a position then replaces its slots). The
 * keeper to record positions in. */
stateKeeper *cstateShard(cstate *c, int i, stateLink *rec, int *target_ours);
/* 1 when at least one shard has a position to resume from. */
int cstateResumes(const cstate *c);
/* Stop the keeper (last write), unlock. NULL is fine. */
void cstateClose(cstate *c);

/* "slots:RANGES", the key of a shard's record. */
void cstateKey(const csShard *s, char *out, size_t cap);
/* A shard's node ids as the record holds them: "ID,ID,...". */
void cstateNodes(const csShard *s, char *out, size_t cap);
/* 1 when the record names one of the shard's nodes. */
int cstateSameShard(const stateLink *rec, const csShard *s);

#endif

/* cscan.h -- scan mode on a Redis Cluster source: clusters whose nodes
 * refuse SYNC and PSYNC (ElastiCache and MemoryDB in cluster mode), read
 * by SCAN + DUMP on every master (csource.h finds the cluster and hands
 * over here).
 *
 *   --checksum, --file  each master's keys by the standalone scan path
 *                       (snapshot.h: snapshotScanDecode), only those of the
 *                       slots it serves (a node may keep keys of slots it no
 *                       longer owns: counted twice otherwise), as events of
 *                       the same handlers a replica-path shard feeds (its
 *                       RDB version first): one report, or one RDB file
 *                       whatever mix of paths the shards took;
 *   --target T          one scan copy (scancopy.h) per master, each
 *                       following its master's keyspace notifications
 *                       (they are node-local), under a coordinator that
 *                       reads the topology again every second and when a
 *                       copy meets a -MOVED/-ASK or loses its subscriber:
 *                         - a master that appears (a failover, a new node)
 *                           gets a copy of its own: subscribed first, then
 *                           a pass over the slots it took over;
 *                         - a master that gained slots (a reshard) scans
 *                           them again;
 *                         - a copy whose node serves no slot any more ends
 *                           (its slots are read from their new owners);
 *                         - a key whose DUMP answers -MOVED/-ASK is handed
 *                           to the copy of the node named (ASKING first
 *                           for -ASK).
 *                       Two copies never write one key out of order: a
 *                       copy drains its writes before it hands a key over,
 *                       and the slots that changed owner are scanned by
 *                       the new owner only once every copy that lost slots
 *                       drained (at its next turn; at the end of its first
 *                       pass; at most 60 s). A copy that fails is not an
 *                       error when, within 15 s, its node serves no slot
 *                       (a dead master replaced); a copy on a replica
 *                       (--source-replicas) that loses it goes on on the
 *                       master, subscribed there, the shard's slots
 *                       scanned again (one line); keys answered
 *                       -CLUSTERDOWN or -TRYAGAIN are asked again (scan.h).
 *                       With --once, the slots that changed owner or were
 *                       in migration during the passes are scanned again
 *                       from their owner (a master) before it returns.
 *
 * Errors: every function prints its one line (or fills err) and returns
 * an outcome, or 0/-1 as said.
 */
#ifndef RDBSYNC_CSCAN_H
#define RDBSYNC_CSCAN_H

#include "csource.h"
#include "outcome.h"
#include "scancopy.h"
#include "snapshot.h"

struct rdbHandlers;

/* One shard of a snapshot by SCAN + DUMP on its master, or on its replica
 * (after READONLY) with use_replicas when it has one (c->source is
 * ignored: the node's address with its credentials), decoded through h:
 * h->header (the master's RDB version and flavour) and its version aux
 * first, then its function libraries (h->function: the caller's union of
 * the shards', libunion.h), then every key of the shard's slots (raw
 * values too, for a file). 0, or -1 with err and *why. */
int cscanShard(const snapshotConfig *c, const csShard *s, int use_replicas, const struct rdbHandlers *h,
               outcome *why, char *err, size_t errlen);

/* --verify --source-replicas with a cluster source: as csourceVerify,
 * its keys read by SCAN + DUMP on each shard's replica (READONLY; a shard
 * without one on its master, said in one line); tgt (a cluster target, or
 * NULL) on its masters. */
outcome cscanVerify(const snapshotConfig *c, const csTopo *src, const csTopo *tgt, int use_replicas);

/* --source C --target T in scan mode, until stopped (scanRequestStop) or
 * a copy fails for good. use_replicas (--source-replicas): each master's
 * copy reads its replica (READONLY: it answers for its master's slots, and
 * its keyspace notifications follow the replication stream), a master
 * without one itself, said in one line. The coordinator still goes by
 * masters: the topology's owners, the nodes -MOVED names. */
outcome cscanCopy(const scanCopyConfig *c, const csTopo *t, int use_replicas);

#endif

/* csource.h -- a Redis Cluster as the source.
 *
 * A source URL may name any node of a cluster. Every mode that reads a
 * source asks csourceDetect first (INFO cluster: cluster_enabled:1); a
 * cluster is then read whole, one shard at a time or one link per shard,
 * never one node's shard alone (which would look complete and is not):
 *
 *   --source C --checksum   each shard's snapshot (replica path) decoded
 *                           into one report: the digest is a sum over keys,
 *                           so the shards' keys sum to the digest of the
 *                           whole dataset, equal to --file --checksum of
 *                           the same data in one file; --json adds
 *                           per-shard figures;
 *   --source C --file F     one RDB (db 0) made of every shard's keys, their
 *                           values copied as encoded (the raw capture, or
 *                           the DUMP payloads in scan mode);
 *   --source C --target T   live sync: one syncer (sync.h) per shard, each
 *                           on its own thread with its own replica link,
 *                           spool, offsets and target connection (shards
 *                           hold disjoint keys); one status line for all,
 *                           "in sync" only when every shard is. A full
 *                           resync of one shard replaces only that shard's
 *                           slots on the target (SCAN + slot filter + DEL),
 *                           never a FLUSHALL. After a failover the link
 *                           finds the shard's node again in the topology
 *                           (replicaOptions.relocate) and continues with
 *                           PSYNC <replid> <offset+1>.
 *   --verify                the first pass scans every master, the second
 *                           looks each target key up on the master of its
 *                           slot.
 *   scan mode               (nodes that refuse SYNC and PSYNC, --mode scan)
 *                           one scan copy per master, each following its
 *                           own keyspace notifications, under cscan.h's
 *                           coordinator (topology changes).
 * --state FILE keeps one record per shard (cstate.h); a cut-over pauses
 * every master and switches every shard together (ccutover.h).
 * --metrics labels every series with shard="HOST:PORT" (the node a shard
 * was read from at the start).
 * A shard that refuses SYNC and PSYNC (or --mode scan) is read by SCAN +
 * DUMP on its master (its replica with --source-replicas) for --checksum
 * and --file (cscan.h).
 *
 * Function libraries: a cluster keeps them per node, so every snapshot's
 * libraries are taken, as their union (libunion.h): a library on several
 * masters is loaded once; one name with other code on two shards stops
 * with one line naming both nodes. FUNCTION commands of the stream come
 * from the first shard only (FUNCTION LOAD runs on every master).
 *
 * Errors: every function prints its one line and returns an outcome, or
 * (csourceDetect) -1 after filling err.
 */
#ifndef RDBSYNC_CSOURCE_H
#define RDBSYNC_CSOURCE_H

#include <stdint.h>

#include "conn.h"
#include "metrics.h"
#include "outcome.h"
#include "replica.h"
#include "scancopy.h"
#include "snapshot.h"
#include "sync.h"
#include "url.h"

#define CS_SLOTS 16384

typedef struct csNode {
    char host[256];
    int port;
    char id[48];
} csNode;

typedef struct csShard {
    csNode master;
    csNode replica;            /* the first replica; port 0 when none */
    unsigned char slots[CS_SLOTS / 8];
    int nslots;
    int first_slot;            /* the shard's lowest slot: found again by it after a failover */
    char ranges[160];          /* "0-5460", "0-100,200-5460", ... */
    char ids[8][48];           /* node ids of the master and replicas: the shard is found
                                  again by them after a failover or a reshard */
    int nids;
} csShard;

struct clusterMap;
typedef struct csTopo {
    csShard *shard;            /* the shards that serve slots, by first slot */
    int n;
    struct clusterMap *map;    /* cluster.h's map they come from */
} csTopo;

/* 1 when the source is a cluster node (*topo filled: csourceTopoFree it),
 * 0 when not, -1 when it cannot tell (err says why). */
int csourceDetect(const rsUrl *u, const rsConnOptions *o, csTopo *topo, char *err, size_t errlen);
void csourceTopoFree(csTopo *t);

/* --source C --checksum | --file F | --verify. */
outcome csourceChecksum(const snapshotConfig *c, const csTopo *t, int use_replicas);
outcome csourceToFile(const snapshotConfig *c, const csTopo *t, int use_replicas, const char *path);
/* --verify with a cluster on either side (the other NULL: one server). */
outcome csourceVerify(const snapshotConfig *c, const csTopo *src, const csTopo *tgt);
/* --source C --target T: until stopped (as syncRun). *refused when a
 * shard refused SYNC and PSYNC before anything was copied (scan mode can
 * take over: said so when c->scan_fallback, else an error line). */
outcome csourceSync(const syncConfig *c, const csTopo *t, int use_replicas, int *refused);
/* Scan mode on a cluster: --flush-target done once first, then cscanCopy
 * (cscan.h): one scan copy per master (on its replica with use_replicas),
 * following topology changes. */
outcome csourceScanCopy(const scanCopyConfig *c, const csTopo *t, int use_replicas);

/* ---- Hooks for sync.c, run on a shard's own apply thread ---- */

typedef struct csLink csLink;
/* The link's replica options: its log label and the relocation after a
 * failover. */
void csourceLinkReplicaOptions(csLink *l, replicaOptions *ro);
/* Publish the shard's status (the aggregated line is printed elsewhere)
 * and its applied offset (the target acknowledged everything before it). */
void csourceLinkStatus(csLink *l, const char *phase, const char *line, int in_sync, int64_t applied);
/* --metrics: the shard's numbers, labelled shard="HOST:PORT". */
void csourceLinkMetrics(csLink *l, const metricsSnapshot *m);
/* Instead of a FLUSHALL before this shard's snapshot: delete the target's
 * keys in the shard's slots (in target db tdb). 0, or -1 with err. */
int csourceLinkFlush(csLink *l, rsConn *tc, int tdb, char *err, size_t errlen);
/* A stream command about to be forwarded, argv in place (av and lv have
 * room for one more argument), ending at stream offset end: 0 to drop it,
 * 1 to forward it as it is now. Resharding moves a key as
 * RESTORE(-ASKING) on the importing shard's stream and, on the exporting
 * one, the writes before the move then MIGRATE's DEL; the links are not
 * ordered with each other (csource.c "Keys moved by resharding"):
 *   - the importing link got there first: the RESTORE goes and the key is
 *     remembered; the exporting link's commands on it, up to and including
 *     its migration DEL (a DEL outside MULTI), are in the restored value
 *     and dropped (else an INCR would apply twice, the DEL lose the key);
 *   - the exporting link got there first: the RESTORE waits until that
 *     link's commands forwarded on the key's slot were applied (at most
 *     2 s), then goes.
 * The RESTORE gets REPLACE (the old copy may still be on the target).
 * FUNCTION commands come from the first shard only. */
int csourceLinkFilter(csLink *l, int *argc, const char **av, size_t *lv, int64_t end);
/* The target acknowledged the stream up to offset applied (every reply). */
void csourceLinkApplied(csLink *l, int64_t applied);
struct rdbHandlers;
/* The snapshot's handlers: function libraries as the union of every
 * shard's (libunion.h), each loaded once. */
void csourceLinkSnapshotHandlers(csLink *l, struct rdbHandlers *h);
/* 1 when the last snapshot stopped for the source's data, not the target
 * (function libraries that differ between shards): msg says why. */
int csourceLinkSnapshotError(csLink *l, char *msg, size_t cap);
/* Whether the target held no key when the sync began (said once, before
 * any shard wrote). */
int csourceLinkTargetWasEmpty(const csLink *l);
/* --target-load replica: the load shared by every shard (ctload.h); NULL
 * when not used. */
struct ctload;
struct ctload *csourceLinkTload(csLink *l);
/* "HOST:PORT" of the node the shard is read from now, for messages. */
void csourceLinkNode(csLink *l, char *out, size_t cap);
/* --state: the shard's record as the run starts and the keeper shared by
 * every shard (cstate.h). */
struct stateLink;
struct stateKeeper;
struct stateKeeper *csourceLinkState(csLink *l, struct stateLink *rec, int *target_ours);
/* Cut-over (ccutover.h): the shard is ready to be paused, settled, at
 * applied. The coordinator's phase (CCUT_DONE: the shard ends). */
int csourceLinkCutover(csLink *l, int ready, int settled, int64_t applied);
/* The shard's key as the run began, "slots:RANGES" (cstate.h): its
 * --exactly-once checkpoint fields are named by it. */
void csourceLinkKey(csLink *l, char *out, size_t cap);

#endif

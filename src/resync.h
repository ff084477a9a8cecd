/* resync.h -- may a later full resync empty the target? (refuse before harm)
 *
 * Live sync empties the target before loading a full snapshot that comes
 * after the first one (sync.h), so that the target ends identical to the
 * source. That is right when the source could not continue from our offset
 * (its backlog no longer held it: we fell behind) and wrong when the source
 * lost its data: a source restarted without its dataset would empty a
 * target of 55,138 keys. So before that flush, two questions:
 *
 *   - did the source change identity? Yes when
 *       (a) its run_id (INFO server, read on the replica link's own
 *           connection before each PSYNC) differs from the run_id of the
 *           source we applied the previous epoch from: the process
 *           restarted, or another server answers at that address (a
 *           restart with its data included: nothing tells a fresh dump
 *           from an hour-old one), or
 *       (b) the +FULLRESYNC offset is below the offset we had already
 *           applied: the source's history went back (Redis starts a new
 *           replication id at offset 0 on a restart as a master; its
 *           offsets only grow while it runs).
 *     A full resync we caused keeps both: Redis answers a PSYNC it cannot
 *     serve from its backlog with +FULLRESYNC of its current replid and
 *     master_repl_offset, which is at least what we applied. Where INFO is
 *     refused (a replication-only ACL user) rule (a) cannot be applied;
 *     on a SYNC-style link (no offsets) rule (b) cannot;
 *   - is the new snapshot far smaller than the target? Yes when the target
 *     holds more than RESYNC_MIN_TARGET_KEYS keys and the source (INFO
 *     keyspace, read with the run_id, in the dbs copied) fewer than
 *     1/RESYNC_SHRINK_FACTOR of them. Unknown counts never refuse.
 *
 * Either is a refusal, unless --resync-flush allows it: the target is left
 * as it was and the sync stops with one line saying why (sync.c).
 *
 * Pure functions, no I/O; errors are none (unknown facts are "unknown").
 */
#ifndef RDBSYNC_RESYNC_H
#define RDBSYNC_RESYNC_H

#include <stddef.h>
#include <stdint.h>

#define RESYNC_RUN_ID_LEN 40
#define RESYNC_MAX_DBS 64           /* db counts kept per db (as IMPORT_MAX_DBS) */
#define RESYNC_MIN_TARGET_KEYS 1000 /* smaller targets are never "far larger" */
#define RESYNC_SHRINK_FACTOR 2      /* source below target / 2: far smaller */

/* What a source said about itself when a link session began. */
typedef struct resyncFacts {
    char run_id[RESYNC_RUN_ID_LEN + 1]; /* "" when INFO was refused */
    int64_t keys;                        /* all dbs; -1 unknown */
    int64_t db_keys[RESYNC_MAX_DBS];     /* per db (db < RESYNC_MAX_DBS) */
} resyncFacts;

/* Facts unknown: run_id "", keys -1. */
void resyncFactsInit(resyncFacts *f);
/* INFO server text: its run_id (left "" when absent). */
void resyncParseServer(const char *info, resyncFacts *f);
/* INFO keyspace text ("db3:keys=10,expires=2,..."): the key counts. */
void resyncParseKeyspace(const char *info, resyncFacts *f);
/* The keys of the dbs listed (n == 0: all dbs); -1 when unknown. For the
 * source (the dbs --db copies) and the target (the dbs a resync empties). */
int64_t resyncKeysIn(const resyncFacts *f, const int *dbs, int n);

/* Everything the decision looks at. */
typedef struct resyncCheck {
    const char *prev_run_id;   /* the source of the epoch applied before; "" unknown */
    const char *new_run_id;    /* the source of the new snapshot; "" unknown */
    int offsets;               /* 0 on a SYNC-style link: offsets are not the source's */
    int64_t applied;           /* the offset applied before; < 0 unknown */
    int64_t new_offset;        /* the +FULLRESYNC offset */
    int64_t source_keys;       /* -1 unknown */
    int64_t target_keys;       /* -1 unknown */
} resyncCheck;

/* 1 when the flush must be refused (without --resync-flush), 0 when it is
 * safe. Either way, why holds the reasons found, as a clause for a line
 * ("the source restarted (run_id ...), its replication offset went back
 * from N to M, and it holds 0 keys where the target holds 20000"), or ""
 * when there is none. */
int resyncRefuse(const resyncCheck *c, char *why, size_t cap);

#endif

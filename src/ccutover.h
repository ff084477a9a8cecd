/* ccutover.h -- the cut-over of a live sync from a cluster source: every
 * master paused, every shard applied up to its own final offset, one line.
 *
 * A cluster source runs one syncer per shard (csource.h); a cut-over
 * (SIGUSR1, or --cutover once every shard is caught up) must switch them
 * together, so the shards' apply threads only report, and this
 * coordinator, driven by csourceSync's loop, decides:
 *   1. once every shard is ready (its snapshot applied, its link
 *      streaming; with --cutover, caught up as well), CLIENT PAUSE <ms>
 *      WRITE on every master (cutover.h, one side connection each) and
 *      each master's master_repl_offset: that shard's final offset;
 *   2. each shard applies its stream up to its final offset (the target
 *      acknowledged it, nothing in flight, no transaction open);
 *      a shard that fails over meanwhile (the topology names another
 *      master) has its new master paused too, whose master_repl_offset is
 *      then the shard's final offset (the promoted replica continues the
 *      old history); the old master's pause stays. A new master that holds
 *      less of the old history than the target (a dead master's last
 *      writes, lost with it) fails the cut-over: the target is not the
 *      source's copy;
 *   3. when all did before the earliest pause's deadline, and each paused
 *      node still says ROLE master (else its successor is waited for, as
 *      in 2), the shards end
 *      (CCUT_DONE), then (ccutEnd) the --exactly-once checkpoint hash is
 *      deleted, --cutover-verify compares (csourceVerify), and, still
 *      before the deadline and with every paused node still a master (a
 *      failover now, the shards ended, fails it), one line on stdout, "cut-over: target
 *      identical to the source at offsets 0-5460:N, ...; source writes
 *      paused until HH:MM:SS" (OUTCOME_OK);
 *   4. otherwise (the deadline came first, a pause failed, a shard stopped
 *      or the run was stopped while paused) every master paused so far is
 *      unpaused, one line says so, and the run ends OUTCOME_CUTOVER (or a
 *      failed shard's outcome): never a half switch.
 * A master that has no CLIENT PAUSE WRITE (Redis before 6.2) is refused by
 * each shard before its full sync (sync.c, --cutover) or when pausing.
 *
 * Threads: ccutLink is called by the shards' apply threads, ccutStep and
 * ccutEnd by csourceSync's thread; the state between them is under a lock.
 *
 * Errors: lines printed here; outcomes returned by ccutEnd.
 */
#ifndef RDBSYNC_CCUTOVER_H
#define RDBSYNC_CCUTOVER_H

#include <stdint.h>

#include "conn.h"
#include "csource.h"
#include "outcome.h"
#include "sync.h"
#include "url.h"

typedef struct ccut ccut;

enum { CCUT_NONE = 0, CCUT_PAUSED, CCUT_DONE, CCUT_FAILED };

/* n shards of the live sync cfg (borrowed: it outlives the coordinator):
 * its source URL (credentials, TLS) reaches the masters, --cutover,
 * --pause-timeout, --cutover-verify; with --exactly-once the checkpoint
 * hash is deleted from the target before the line (the target's data must
 * be the source's alone). NULL when out of memory. */
ccut *ccutNew(int n, const syncConfig *cfg);
void ccutFree(ccut *c);

/* A shard's apply thread at its status points: ready to be paused,
 * settled (nothing in flight, no snapshot loading, no transaction open)
 * and its applied offset. Returns the phase (CCUT_DONE: the shard ends). */
int ccutLink(ccut *c, int i, int ready, int settled, int64_t applied);

/* csourceSync's loop: shards[i] is shard i now (its master, its slots).
 * Pauses, checks the deadline, declares. */
void ccutStep(ccut *c, const csShard *shards);

/* The run ended (every shard joined): a cut-over whose shards all reached
 * their offsets is declared here; a pause not declared is lifted (said); a
 * cut-over asked for and never begun is said. The outcome, from the
 * shards' rc. */
outcome ccutEnd(ccut *c, outcome rc);

#endif

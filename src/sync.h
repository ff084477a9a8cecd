/* sync.h -- live sync: source (as a replica) to target, until stopped.
 *
 * The apply side of the pipeline. The replica link (replica.h) fills one
 * spool per epoch on its own thread; this side takes each epoch in turn:
 *   - a full epoch: the snapshot is decoded as it streams in and written
 *     with the importer (RESTORE, pipelined), concurrently with the
 *     transfer; then the command stream that follows it;
 *   - a continuation: the command stream from the applied offset.
 * Commands are forwarded to the target pipelined, every reply checked;
 * replication-only traffic (PING, REPLCONF) is not forwarded; SELECT is
 * tracked; MULTI/EXEC blocks go whole, and the applied offset moves only
 * at command boundaries outside them, once the target acknowledged.
 *
 * A later full resync (the source could not continue from our offset)
 * empties the target (FLUSHALL, or FLUSHDB of the selected dbs with --db)
 * and loads the new snapshot, so the target ends identical to the source.
 * Unless --resync-flush, not when the source restarted or was replaced, or
 * holds far fewer keys than the target (resync.h): the sync then stops
 * before touching the target, with one line saying why (OUTCOME_CONFLICT:
 * the target holds data the source no longer has, as when a first
 * snapshot meets an existing key).
 * Losing the target: reconnect with backoff, then resume from the applied
 * offset (PSYNC applied+1), or a full resync when the target restarted
 * (its run_id changed), since it may have lost data.
 * --exactly-once (checkpoint.h): the stream goes in MULTI/EXEC batches
 * that write the checkpoint on the target too; after losing the target,
 * and when started again, the checkpoint read back from the target is
 * where the link resumes (a target restarted with its data included),
 * so nothing is applied twice. No checkpoint: a full resync.
 *
 * SIGINT/SIGTERM/SIGHUP (syncRequestStop) stop reading, apply what was
 * read, and print the final offset: OUTCOME_OK once a snapshot was fully
 * applied; OUTCOME_INTERRUPTED before that (the target is partial, or
 * untouched), with the keys the target acknowledged.
 *
 * --state FILE (state.h): the applied position is kept in FILE (at most
 * every second, and at exit; invalidated synchronously before a snapshot
 * load touches the target). Started with a FILE for other endpoints, or
 * a corrupt one, the sync refuses before anything is written
 * (OUTCOME_USAGE, OUTCOME_INPUT); with a position, it resumes there
 * (replicaSetResume): "resumed at offset N", or a full sync with the
 * source's reason, handled as a later full resync (the target was ours).
 *
 * Cut-over (cutover.h): SIGUSR1 (syncRequestCutover), or --cutover once
 * in sync: the source's writes paused, the stream applied up to its final
 * offset, optionally --cutover-verify, one line on stdout, OUTCOME_OK; a
 * target that does not get there within the pause: the source unpaused,
 * OUTCOME_CUTOVER.
 */
#ifndef RDBSYNC_SYNC_H
#define RDBSYNC_SYNC_H

#include "conn.h"
#include "import.h"
#include "metrics.h"
#include "outcome.h"
#include "url.h"

typedef struct syncConfig {
    const rsUrl *source;
    const rsUrl *target;
    rsConnOptions source_conn, target_conn; /* per side: TLS settings differ */
    importOptions imp;
    int once;               /* exit 0 once the snapshot is applied */
    int flush_target;       /* --flush-target: empty the target before the first snapshot */
    int resync_flush;       /* --resync-flush: a later full resync empties the target even
                               when the source restarted or holds far fewer keys */
    int quiet;
    size_t spool_mem;
    const char *spool_dir;
    int status_interval_ms; /* non-terminal status line period; 0 = 5000 */
    const char *psync_cmd;  /* --psync-command: PSYNC's name on this source */
    int source_timeout_s;   /* --source-timeout: a silent source link is
                               dropped and continued; 0 = 60 */
    int scan_fallback;      /* --mode auto: a refusal hands over to scan mode (said so) */
    metrics *metrics;       /* --metrics: where the status points publish; NULL = none */
    int exactly_once;       /* --exactly-once: stream batches carry their checkpoint (checkpoint.h) */
    const char *checkpoint_key; /* --checkpoint-key; NULL = CHECKPOINT_DEFAULT_KEY */
    const char *state_path; /* --state FILE: keep and resume the position; NULL = none */
    int cutover;            /* --cutover: cut over by itself once in sync */
    int64_t pause_ms;       /* --pause-timeout; 0 = CUTOVER_DEFAULT_PAUSE_MS */
    int cutover_verify;     /* --cutover-verify: compare both sides while the source is paused */
    int target_load;        /* --target-load replica: the target loads the first snapshot
                               as our replica (tload.h); 0 = RESTORE */
    struct csLink *shard;   /* one shard of a cluster source (csource.h): its status
                               is aggregated there, a full resync replaces only its
                               slots; NULL for a single source */
} syncConfig;

/* Runs until stopped. *refused is set when the source refuses PSYNC and
 * SYNC before anything was copied (the outcome is then OUTCOME_CONNECT):
 * the caller may fall back to scan mode. */
outcome syncRun(const syncConfig *cfg, int *refused);
/* Async-signal-safe: ask syncRun to stop cleanly. */
void syncRequestStop(void);
/* Async-signal-safe: ask syncRun to cut over (SIGUSR1). */
void syncRequestCutover(void);
/* Whether a cut-over was asked for (a cluster source's coordinator). */
int syncCutoverRequested(void);

#endif

/* cutover.h -- the switch at the end of a live sync: the source's writes
 * paused, its final replication offset known, and a deadline.
 *
 * The live sync (sync.c) drives it: on SIGUSR1, or by itself with
 * --cutover once the first snapshot is applied and the target in sync,
 *   1. cutoverPause: on a side connection to the source, CLIENT PAUSE
 *      <ms> WRITE (Redis 6.2+, every Valkey: readers go on, writers wait;
 *      the server stops expiring and evicting too, so the dataset is
 *      still), then INFO replication: master_repl_offset is the final
 *      offset N, the last byte any write of the source produced;
 *   2. sync.c applies the stream up to N (acknowledged by the target);
 *   3. optional --cutover-verify (snapshot.c's --verify, while the source
 *      is still paused);
 *   4. the line "cut-over: target identical to the source at offset N;
 *      source writes paused until HH:MM:SS" (UTC), exit 0. Clients are
 *      then repointed at the target, before the pause ends.
 * If the target does not reach N (or the check does not end) before the
 * pause's deadline, cutoverUnpause (CLIENT UNPAUSE) lets the source's
 * writers go on, and the run ends non-zero: never a silent half switch.
 *
 * Sources before Redis 6.2 have no WRITE pause: a plain CLIENT PAUSE
 * would block our own INFO and leave no way to read the final offset, so
 * the cut-over is refused there (cutoverSupported), before anything is
 * paused; pause the writers yourself, wait for "in sync", stop rdbsync.
 *
 * The deadline is the pause's end seen from before CLIENT PAUSE was sent
 * (never later than the source's own end), less a margin of a tenth of
 * the pause (at most 1 s) for the steps after the offset is reached.
 *
 * Errors: -1 with one line in err, naming the source and the command.
 */
#ifndef RDBSYNC_CUTOVER_H
#define RDBSYNC_CUTOVER_H

#include <stdint.h>
#include <stddef.h>

#include "conn.h"
#include "url.h"

#define CUTOVER_DEFAULT_PAUSE_MS 60000

typedef struct cutoverState {
    rsConn *c;               /* the side connection that paused the source */
    int64_t pause_ms;
    int64_t final_offset;    /* master_repl_offset once paused */
    int64_t until_wall_ms;   /* when the pause ends (unix ms) */
    int64_t deadline_mono;   /* clockMonoMs() by which everything must be done */
    int paused;
} cutoverState;

/* 1 when the server has CLIENT PAUSE ... WRITE (Redis 6.2+, Valkey). */
int cutoverSupported(const rsServerInfo *i);
/* Connect, pause the source's writes for pause_ms, read the final offset.
 * 0 with p filled and the source paused; -1 with err (then nothing is
 * left paused: a pause given before a failure is lifted). */
int cutoverPause(const rsUrl *source, const rsConnOptions *co, int64_t pause_ms, cutoverState *p, char *err,
                 size_t errlen);
/* CLIENT UNPAUSE on the pausing connection (or a new one if it broke).
 * 0 or -1 with err. */
int cutoverUnpause(cutoverState *p, const rsUrl *source, const rsConnOptions *co, char *err, size_t errlen);
/* Close the side connection; the pause stays until it ends by itself. */
void cutoverClose(cutoverState *p);
/* "HH:MM:SS" (UTC) of a unix-ms time. */
void cutoverClock(int64_t wall_ms, char *out, size_t cap);

#endif

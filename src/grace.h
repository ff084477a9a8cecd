/* grace.h -- expire times written to a target never fall within a grace
 * window of the moment it applies them.
 *
 * A replica never expires keys itself: it waits for its master's DEL. An
 * ordinary target does expire them, by its own clock, so when it lags
 * (stalled, paused, busy) a key the source renewed just in time (EXPIRE k 1,
 * then EXPIRE k 500) can expire on the target before the renewal arrives,
 * and the renewal then finds nothing: the key is lost for good. With a
 * grace G, an expire time that is less than G ahead is written as "G from
 * now" in the target's terms -- a relative time (PEXPIRE, SET PX,
 * RESTORE without ABSTTL), which counts from the moment the target applies
 * the command, however long the command waited in a pipeline -- and a
 * relative time shorter than G becomes G. Expire times further ahead are
 * written exactly as they came. So the target keeps the key until the
 * source's own DEL (which Redis propagates when a key expires there)
 * arrives through the stream; a target that lost its source keeps such
 * keys at most G longer.
 *
 * The commands rewritten are those that carry expire times in a
 * replication stream: PEXPIREAT, EXPIREAT, PEXPIRE, EXPIRE (Redis 7.0+
 * sends PEXPIREAT for all four, older servers send them as given), SET
 * EX/PX/EXAT/PXAT (7.0+: PXAT), SETEX, PSETEX, GETEX, RESTORE (ttl, with
 * or without ABSTTL), and hash field TTLs: HPEXPIREAT, HEXPIREAT, HPEXPIRE,
 * HEXPIRE, HSETEX, HGETEX. Everything else passes untouched.
 *
 * Ownership: graceRewrite changes argv/lens in place; replaced arguments
 * point into the caller's graceScratch, valid as long as it is.
 */
#ifndef RDBSYNC_GRACE_H
#define RDBSYNC_GRACE_H

#include <stddef.h>
#include <stdint.h>

#define GRACE_DEFAULT_MS 10000

typedef struct graceScratch {
    char num[1][24];
} graceScratch;

/* Rewrite one command (argv[0] is its name); *argc may shrink (RESTORE
 * loses ABSTTL). Returns 1 when something was rewritten, else 0. grace_ms
 * 0 = nothing is ever rewritten. */
int graceRewrite(int *argc, const char **argv, size_t *lens, int64_t now_ms, int64_t grace_ms, graceScratch *s);

/* For writers that build their own commands: 1 when the absolute expire
 * abs_ms (unix ms) must be written as grace_ms from now instead. */
int graceNear(int64_t abs_ms, int64_t now_ms, int64_t grace_ms);

/* Wall clock, unix ms. */
int64_t graceNowMs(void);

#endif

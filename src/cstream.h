/* cstream.h -- the live replication stream applied to a cluster target.
 *
 * sync.c hands every stream command it would write to a one-node target
 * to cstreamCommand instead (one call, in forward()). Where it goes:
 *   - FLUSHALL, FLUSHDB, FUNCTION ..., SCRIPT ...: every master;
 *   - a command with keys: the master of their slot, when they share one.
 *     Key positions come from the target's own COMMAND table (first, last,
 *     step), and from COMMAND GETKEYS on the seed connection for commands
 *     with movable keys (EVAL, ZUNIONSTORE, SORT, XREAD...);
 *   - a command without keys (PUBLISH...): one master;
 *   - MULTI ... EXEC: buffered until EXEC; when every key of the block is
 *     in one slot the block goes to that master as one transaction.
 * A command (or a MULTI block) whose keys span slots goes to the cross-slot
 * planner (xslot.h): split per slot, applied through temporary copies, a
 * block applied per slot and counted. What it cannot apply exactly, and a
 * command whose keys cannot be located, reach the consumer as an error
 * reply with the command's tag
 *   CROSSSLOT rdbsync: stream command SORT cannot be applied on the cluster: ...
 * which stops the sync with one line naming it, or is counted and skipped
 * with --on-error skip.
 *
 * Ownership: cstreamNew borrows the router and the seed connection (idle
 * besides COMMAND / COMMAND GETKEYS); both outlive it. Tags are copied.
 * Errors: -1 when the router failed or stopped (routerError).
 */
#ifndef RDBSYNC_CSTREAM_H
#define RDBSYNC_CSTREAM_H

#include <stddef.h>

#include "conn.h"
#include "router.h"
#include "writer.h"

typedef struct cstream cstream;

/* NULL with err when the target's COMMAND table cannot be read. */
cstream *cstreamNew(router *rt, rsConn *seed, char *err, size_t errlen);
void cstreamFree(cstream *cs);

int cstreamCommand(cstream *cs, int argc, const char **argv, const size_t *lens, const writerTag *tag);

/* The slot all keys of argv share: >= 0; -1 no key; -2 several slots;
 * -3 the command is unknown or GETKEYS failed. Exposed for xslot. */
int cstreamSlot(cstream *cs, int argc, const char **argv, const size_t *lens);
/* "N transactions split across slots, N commands split per slot, N applied through copies" */
void cstreamSummary(const cstream *cs, char *buf, size_t cap);

#endif

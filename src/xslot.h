/* xslot.h -- a live stream's commands applied to a cluster, slot by slot.
 *
 * A standalone source replicates commands whose keys lie in different
 * cluster slots (MSET a 1 b 2, RENAME x y, SUNIONSTORE d s1 s2, MULTI/EXEC
 * of anything). A cluster runs a command only when all its keys are in one
 * slot. This module decides, per command, from its key positions
 * (keyspec.h, the target's own table) and their slots (clusterKeySlot):
 *
 *   - no key (FLUSHALL, FUNCTION, SCRIPT...): to every master; a pubsub
 *     command (PUBLISH) to one node (the cluster spreads it);
 *   - every key in one slot: forwarded as it came;
 *   - keys in several slots of a command whose keys are independent
 *     (their key specs neither read the value, ACCESS, nor depend on the
 *     others, RW/INSERT: DEL, UNLINK, MSET): split per slot, in order,
 *     each piece keeping the command's prefix and its keys' arguments;
 *   - any other command across slots (RENAME, COPY, SMOVE, LMOVE,
 *     SUNIONSTORE, ZUNIONSTORE, BITOP, PFMERGE, GEOSEARCHSTORE, SORT ...
 *     STORE, MSETNX, EVAL with keys in several slots...): applied exactly
 *     through copies. A home slot is chosen (that of the first key the
 *     command writes). Every key of another slot is read from the target
 *     after its node has applied everything before (DUMP, and its expire
 *     time: PEXPIRETIME on 7.0+, PTTL before); then, in one MULTI/EXEC on
 *     the home node: RESTORE of each into a temporary key
 *     hashed to the home slot ("rdbsync:tmp:{tag}:<random>:<pid>", the
 *     prefix every run deletes at start, native.h) and the command with
 *     its keys renamed. Each temporary the command may write is read back
 *     (DUMP + expire), and each key whose value or expiry changed is
 *     written back to its own slot (RESTORE REPLACE with its expire time,
 *     or DEL when the command removed it: RENAME's source, SMOVE's and
 *     LMOVE's source when emptied); then the temporaries are deleted. The
 *     transaction's reply is the consumer's, as any stream command's: an
 *     error inside (SORT BY on a cluster) stops the sync or is counted
 *     under --on-error skip. Over the router the transaction is one unit
 *     (xslotTarget.txn): a block the cluster turns away (a member or EXEC
 *     itself redirected by a resharding, a failover) goes again whole to
 *     where the home slot is then, and no later command of the home slot
 *     runs before it (router.h, routerMultiKey: why that order matters).
 *     The reads (DUMP, expire) follow MOVED/ASK and wait out a failover.
 *     Keys flagged read-only (RO) are not written
 *     back; keys whose flags the target does not give (6.2 tables, keys
 *     only COMMAND GETKEYS found) are compared and written back if changed;
 *   - MULTI/EXEC: buffered until EXEC; when all its keys share one slot it
 *     goes whole to that node, one transaction as on the source; else its
 *     commands are applied in order, each as above, and the transaction is
 *     counted as split (its atomicity across slots is lost: a reader of
 *     the cluster may see some of its effects before others).
 *
 * What is not exact, and therefore refused: a command the target does not
 * know or whose keys it cannot locate; a cross-slot command whose key
 * names also occur as non-key arguments (the rename could hit either);
 * shard channels (NOT_KEY) in several slots. A refusal, like an error reply
 * to a command applied here, is one line naming the command and why
 * (xslotError): the sync stops; with skip_errors it is counted and skipped
 * (over the router, the consumer decides, as for a refused write).
 * A script that uses its key names as data (stores KEYS[1] itself) sees
 * the temporary names; 7.0+ sources replicate scripts as their effects.
 * Before 7.0 an expire time is copied as a remaining PTTL (milliseconds
 * may be lost between reading it and restoring it).
 *
 * The target is abstract (xslotTarget), so the planner is tested with a
 * fake and used with the cluster sink. Ownership: xslotNew borrows the
 * target callbacks' ctx and the keyspec table; argv is borrowed for the
 * call (a MULTI block is copied). Errors: 0 done (or skipped), -1 the
 * target failed (the sink says why), -2 the command stops the sync
 * (xslotError says which and why).
 */
#ifndef RDBSYNC_XSLOT_H
#define RDBSYNC_XSLOT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "keyspec.h"
#include "writer.h"

#define XSLOT_ALL (-1) /* every master */
#define XSLOT_ANY (-2) /* any one node */

typedef struct xslotTarget {
    void *ctx;
    /* Queue argv for the master of slot (pipelined, in order per node;
     * the sink checks the reply). 0, or -1 when the target failed. */
    int (*send)(void *ctx, int slot, int argc, const char **argv, const size_t *lens);
    /* After every command queued to the node of slot is answered, run argv
     * there and return its reply (the caller frees it); NULL when the
     * target failed. XSLOT_ANY: any node, nothing waited for. */
    redisReply *(*call)(void *ctx, int slot, int argc, const char **argv, const size_t *lens);
    /* Optional: a command that cannot be applied (msg names it and why).
     * 0 = skip it and go on, -1 = stop. NULL: xslotOptions.skip_errors. */
    int (*refuse)(void *ctx, const char *msg);
    /* Optional: 1 = the commands sent from now form one MULTI ... EXEC
     * unit (sent again whole if the cluster turns it away), 0 = it ends.
     * 0, or -1 when the target failed. */
    int (*txn)(void *ctx, int begin);
} xslotTarget;

typedef struct xslotOptions {
    int skip_errors; /* --on-error skip: a command that cannot be applied is counted, not fatal */
    int abs_expire;  /* the target has PEXPIRETIME and RESTORE ABSTTL (7.0+) */
} xslotOptions;

typedef struct xslotStats {
    uint64_t forwarded;  /* commands sent as they came (no key, or one slot) */
    uint64_t split;      /* commands split per slot */
    uint64_t copied;     /* commands applied through temporary copies */
    uint64_t tx_whole;   /* MULTI/EXEC blocks kept one transaction */
    uint64_t tx_split;   /* MULTI/EXEC blocks applied per slot, not atomically */
    uint64_t skipped;    /* commands not applied, under skip_errors */
} xslotStats;

typedef struct xslot xslot;

xslot *xslotNew(const xslotTarget *t, keyspecTable *ks, const xslotOptions *o);
void xslotFree(xslot *x);

/* One command of the stream. MULTI opens a block that is buffered until
 * EXEC (DISCARD drops it). */
int xslotCommand(xslot *x, int argc, const char **argv, const size_t *lens);
/* 1 while a MULTI block is open (buffered, not yet applied). */
int xslotInMulti(const xslot *x);
const char *xslotError(const xslot *x);
const xslotStats *xslotGetStats(const xslot *x);
/* "N transactions split across slots, N commands split, N applied through copies" */
void xslotSummary(const xslot *x, char *buf, size_t cap);

/* ---- over the cluster sink (router.h) ---- */

struct router;
/* A planner whose target is the router: the key table read through seed,
 * an idle connection to any node of the cluster (COMMAND; GETKEYS asked
 * there too; PEXPIRETIME in it means 7.0+ expire
 * handling), pieces queued with routerCommandSlot / routerBroadcast, reads
 * through routerCall, a command that cannot be applied handed to the
 * consumer as a refused one (routerReject: it stops, or --on-error skip
 * counts it). NULL with one line in err (COMMAND refused or the node
 * failed). Free with xslotFree (the router is borrowed; free it after). */
xslot *xslotNewRouted(struct router *rt, rsConn *seed, char *err, size_t errlen);
/* xslotCommand, every piece sent with a copy of tag (its kind, offset
 * and key for messages). */
int xslotCommandTagged(xslot *x, int argc, const char **argv, const size_t *lens, const writerTag *tag);

#endif

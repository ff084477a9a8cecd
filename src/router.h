/* router.h -- the cluster sink: one pipelined writer per master of a Redis
 * Cluster target, each command routed to the master of its key's slot.
 *
 * The rest of rdbsync writes through writer.h whatever the target is: a
 * writer made with writerNewRouted(rt, ...) hands every call to this
 * module. So the importer, scan mode and live sync keep their code; they
 * only open the target through ctarget.h, which makes a router when the
 * target is a cluster.
 *
 * Routing: writerCommand with a tag key goes to the master of the key's
 * slot (clusterKeySlot); without a key it goes to every master
 * (FUNCTION LOAD, FLUSHALL, FUNCTION FLUSH...), and the consumer gets one
 * reply for the whole broadcast (the first error, else the last reply).
 * routerCommandSlot names the slot itself (xslot's temporary keys).
 *
 * Replies: each node's replies come in its command order and reach the
 * consumer's on_reply with the command's tag, so counts, conflicts and
 * refusals stay exact per key. Replies of different nodes interleave; the
 * source offset in a WRITER_K_STREAM tag is lowered to just below the
 * oldest stream command still unanswered on any node, so an "applied up
 * to" offset built from the tags never passes a command not yet applied.
 *
 * Topology changes (the replies never reach the consumer):
 *   MOVED slot host:port  the map learns the new owner, the command is sent
 *                         there again;
 *   ASK slot host:port    ASKING + the command to that node, once;
 *   TRYAGAIN, CLUSTERDOWN the command again after a backoff (50 ms
 *                         doubling to 1 s);
 *   a lost connection     every command of that node not answered yet is
 *                         sent again after the map is read again from any
 *                         reachable node (cluster.h), retried with backoff
 *                         while a failover elects a new master.
 * Before anything is sent again every node is drained and nothing new is
 * sent, so commands of one slot are never reordered. A command of one key
 * keeps its place through a migration by itself (a key gone from the old
 * master stays gone there: every later command of it is turned away too);
 * one of several keys, or a MULTI block, can be turned away whole while
 * its other keys still take later commands, so it fences its slot until
 * answered (routerMultiKey). A block is turned away whole also when EXEC
 * itself is (the server checks the block's keys again at EXEC). A command unanswered
 * when its master died may have run there already: after a failover it
 * runs again (a RESTORE then meets its own key: BUSYKEY). Nothing is
 * lost. The router gives up when no master of a slot answers for 60 s:
 *   cluster: slot 1234 has no reachable master for 60 s (last: 127.0.0.1:7002: connection refused)
 *
 * Databases: a cluster has db 0 only. writerSelect(0) sends nothing;
 * another db stops the writer like a refused SELECT (writer.h), the reply
 * "ERR a cluster target has db 0 only" reaching on_reply.
 *
 * Ownership: routerOpen copies the URL and options; the router owns its
 * connections (to every master, and to nodes met through ASK) and the map.
 * writerNewRouted borrows the router: free the writer first, then the
 * router. Threads: one thread at a time.
 */
#ifndef RDBSYNC_ROUTER_H
#define RDBSYNC_ROUTER_H

#include <stdint.h>

#include "cluster.h"
#include "conn.h"
#include "writer.h"

typedef struct router router;

/* Read the topology through seed (an open connection to any node; kept by
 * the caller) and connect to every master. NULL with one line in err. */
router *routerOpen(rsConn *seed, const rsUrl *url, const rsConnOptions *co, char *err, size_t errlen);
void routerFree(router *rt);

/* Masters at open time, their connections (for preflight checks: idle
 * while no writer runs) and "host:port" names. */
int routerMasters(const router *rt);
rsConn *routerMasterConn(router *rt, int i);
const clusterMap *routerMap(const router *rt);

/* ---- the writer.h calls, through writerNewRouted ---- */
int routerStart(router *rt, const writerOptions *o);
int routerCommand(router *rt, int argc, const char **argv, const size_t *lens, const writerTag *tag);
int routerSelect(router *rt, uint64_t db);
int routerDrain(router *rt);
int routerFlush(router *rt);
int routerPoll(router *rt);
int routerSettle(router *rt);
const char *routerError(const router *rt);
int routerStopped(const router *rt);
uint64_t routerDropped(const router *rt);
uint64_t routerReplies(const router *rt);
size_t routerInFlight(const router *rt);

/* ---- hooks for cross-slot planning (xslot) ---- */

/* Queue a command for the master of slot (tag key ignored for routing). */
int routerCommandSlot(router *rt, unsigned slot, int argc, const char **argv, const size_t *lens,
                      const writerTag *tag);
/* MULTI ... EXEC (or DISCARD) queued through routerCommandSlot form one
 * block, all for one slot: its replies reach on_reply when EXEC's does,
 * and a block the cluster turns away (MOVED, ASK, TRYAGAIN inside:
 * EXECABORT) is sent again whole. MULTI opens the block by itself; these
 * two only make it explicit (Begin before MULTI, End after EXEC). */
int routerTxnBegin(router *rt);
void routerTxnEnd(router *rt);
/* The next command queued through routerCommandSlot names several keys
 * (of its one slot). A migrating slot turns such a command away whole
 * (TRYAGAIN) while its keys still on the old master keep taking later
 * commands, so until it is answered, later commands of its slot wait (a
 * MULTI block is such a unit by itself). Commands of other slots do not. */
void routerMultiKey(router *rt);
/* Queue a command for every master (one reply to on_reply). */
int routerBroadcast(router *rt, int argc, const char **argv, const size_t *lens, const writerTag *tag);
/* A command not sent: once everything before it is applied (drained), its
 * tag reaches on_reply with the error reply msg ("CROSSSLOT ..."), as if
 * the target had refused it. -1 when on_reply stopped. */
int routerReject(router *rt, const writerTag *tag, const char *msg);
/* Synchronous: drain the router (so the target holds everything sent
 * before), then send one command to the master of slot and return its
 * reply (MOVED/ASK followed; TRYAGAIN, CLUSTERDOWN and a lost master
 * waited out as for writes, up to 60 s). For reads (DUMP) only: it may run
 * twice. NULL when the router failed or stopped (routerError). The caller
 * frees the reply. */
redisReply *routerCall(router *rt, unsigned slot, int argc, const char **argv, const size_t *lens);

/* ---- counts, for progress and the summary ---- */

typedef struct routerNodeStats {
    char addr[300];      /* "host:port" */
    uint64_t keys;       /* RESTOREs and native finals acknowledged */
    uint64_t cmds;       /* every command acknowledged */
} routerNodeStats;

typedef struct routerStats {
    uint64_t moved, asked, retried, reloads, resent;
} routerStats;

/* Nodes written to (masters, then nodes met since); fills at most max. */
int routerNodeStatsGet(const router *rt, routerNodeStats *out, int max);
void routerStatsGet(const router *rt, routerStats *out);
/* "127.0.0.1:7000 1200 keys 1203 commands, 127.0.0.1:7001 ..." into buf
 * (commands: every one acknowledged, keys and stream commands alike). */
void routerFormatPerNode(const router *rt, char *buf, size_t cap);

#endif

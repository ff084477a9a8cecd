/* ctarget.h -- a Redis Cluster as the target of the writing modes (--file,
 * scan mode, live sync): the few steps each mode takes besides writing
 * through the router (router.h).
 *
 *   ctargetOpen      after the mode connected to the target URL: is it a
 *                    cluster node? Then the router (map + one connection
 *                    per master) and the line "target: cluster of N
 *                    masters (host:port, ...)". The node the URL names may
 *                    be any node, a replica too.
 *   ctargetCheckDbs  a cluster has db 0 only: the source's dbs, after
 *                    --db and --db-map, must all land in db 0. Else one
 *                    line, before anything is written:
 *                      target redis://127.0.0.1:7000 is a cluster, which has db 0 only; the source has keys in db 1, 5: copy db 0 only with --db 0, or map them with --db-map 1:0 (and so on)
 *   ctargetFileDbs   the dbs of an RDB file that hold keys (one quick pass
 *                    that only walks the values' lengths), for the check.
 *   ctargetPrepare   --flush-target, or the temporary keys of an
 *                    interrupted run, on every master (preflight.h).
 *   ctargetSummary   one line of keys per node and the redirections met.
 *
 * Errors: -1 with one line in err (naming the node or the file); the
 * caller maps it to an outcome. The router returned belongs to the
 * caller (routerFree after the writer over it).
 */
#ifndef RDBSYNC_CTARGET_H
#define RDBSYNC_CTARGET_H

#include <stddef.h>

#include "conn.h"
#include "import.h"
#include "router.h"

/* 0 with *rt = NULL (not a cluster) or a router; -1 with err. */
int ctargetOpen(rsConn *seed, const rsUrl *url, const rsConnOptions *co, int quiet, router **rt, char *err,
                size_t errlen);
/* 0 when every db of dbs (n of them) with keys lands in db 0. */
int ctargetCheckDbs(const char *target, const int *dbs, int n, const importOptions *o, char *err, size_t errlen);
/* The same for a live source's dbs (INFO keyspace); 0 also when the
 * source refuses INFO (the router's db-0 guard remains). */
int ctargetCheckDbsFrom(rsConn *src, const char *target, const importOptions *o, char *err, size_t errlen);
/* 1 when no master holds a key (INFO keyspace lists no db). */
int ctargetEmpty(router *rt);
/* The dbs holding keys in file (a regular file; 0 dbs for anything else,
 * left to the writer's guard); their count, or -1 (err) when unreadable. */
int ctargetFileDbs(const char *file, int *dbs, int max, char *err, size_t errlen);
int ctargetPrepare(router *rt, const rsServerInfo *info, int flush, char *err, size_t errlen);
void ctargetSummary(const router *rt);

#endif

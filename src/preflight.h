/* preflight.h -- refuse before harm: look at the target before the first write.
 *
 * Every writing mode (file import, live sync, scan mode) calls one of the
 * entry points below once, after the target answered and before anything is
 * written to it (--flush-target included). They check (the import also the
 * file's CRC, below):
 *   - the role: a read-only replica refuses every write, so the run stops
 *     with one line ("target ... is a read-only replica") and exit 6;
 *   - the permissions rdbsync will need, on servers with ACL DRYRUN (7.0+):
 *     SELECT and RESTORE always, FUNCTION LOAD when the input has function
 *     libraries, FLUSHALL and FUNCTION FLUSH with --flush-target, DEL when
 *     the run goes on after the snapshot (stream or keyspace follow); MULTI,
 *     HSET and DEL with --exactly-once (its checkpoint). The
 *     user is ACL WHOAMI's. A refused command is one line naming it and the
 *     user, exit 6. Where ACL WHOAMI or ACL DRYRUN itself is refused (a user
 *     without @admin, a managed service), nothing is said: the writes will
 *     tell. A denial of the probe's key alone (key patterns) is not counted:
 *     it says nothing about the keys that will be written;
 *   - memory: with `maxmemory` set, what is free under it against the size
 *     of the data coming (the file's size, or the source's
 *     used_memory_dataset): one warning line when it does not fit, and the
 *     run goes on (eviction or OOM replies then decide).
 *
 * Output: the modes print their own lines; so does this module (one error
 * line, or warnings), on stderr, as "rdbsync: ...".
 * They return an outcome (outcome.h): OUTCOME_OK to go on, OUTCOME_WRITE
 * for a refusal, OUTCOME_CONNECT when the target failed while being asked,
 * OUTCOME_CRC or OUTCOME_INPUT for the import's file. preflightLive keeps
 * no connection: the ones it opens are closed before it returns.
 *
 * Databases: a target started with fewer databases (--databases 4)
 * refuses SELECT 15, and a pipelined copy that went on would write db 15's
 * keys into whatever db was selected before. So before anything is
 * written, the dbs the source uses (INFO keyspace of a live source),
 * mapped by --db / --db-map, are held against the target's db count
 * (CONFIG GET databases, or SELECT probes where CONFIG is refused). The
 * stream or a file can still name a db found only later: the writer waits
 * for the first SELECT of each db (writer.h), which is the guard then.
 * A probe leaves the target connection in an unknown db (the writer
 * SELECTs before every first use).
 */
#ifndef RDBSYNC_PREFLIGHT_H
#define RDBSYNC_PREFLIGHT_H

#include <stddef.h>

#include "conn.h"
#include "import.h"
#include "outcome.h"
#include "sync.h"


/* --file F --target URL: target is the open target connection (borrowed).
 * With precheck and a regular file, the file's trailing CRC-64 is verified
 * first (one read at CRC speed, rdbFileVerifyCrc): a mismatch is one line
 * and OUTCOME_CRC, a read error OUTCOME_INPUT, before anything is written. A file
 * that does not end in EOF + CRC (truncated, or an AOF with an RDB
 * preamble) is left to the decoder. */
outcome preflightImport(rsConn *target, const rsServerInfo *info, const char *file, int flush, int precheck);

/* --source URL --target URL (replica path and scan mode): opens its own
 * short connections to the target and, for the size of the data and
 * whether it has functions, to the source (a source that cannot be asked
 * is left to the sync to report). */
outcome preflightLive(const syncConfig *sc, int flush);


/* ---- databases, and the target made ready ---- */
/* 0 when the target has every db the source's dbs map to; -1 with a
 * message in err when it lacks one (exit 6: nothing was written), -2 when
 * the target link failed (message in err). */
int preflightDbs(rsConn *target, const importOptions *o, const int *src_dbs, int n, char *err, size_t errlen);

/* Both: the dbs src uses against target; 0 also when src refuses INFO
 * (the writer's guard remains). */
int preflightDbsFrom(rsConn *src, rsConn *target, const importOptions *o, char *err, size_t errlen);

/* FLUSHALL, and FUNCTION FLUSH on servers that have functions (FLUSHALL
 * keeps them). 0, or -1 with the refused command in err. */
int preflightFlush(rsConn *target, const rsServerInfo *info, char *err, size_t errlen);

/* Before the first write: --flush-target (flush non-zero) or else delete
 * the temporary keys left by an interrupted run, saying how many. 0, or
 * -1 with a message in err. */
int preflightPrepare(rsConn *target, const rsServerInfo *info, int flush, char *err, size_t errlen);

/* The message for a target without db (why: the target's own words, or
 * its db count); before_any: said before anything was written (else
 * nothing of that db was). Shared by the check and the writer's guard. */
void preflightDbMissing(uint64_t db, const char *why, int before_any, char *err, size_t errlen);

#endif

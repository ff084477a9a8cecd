/* preflight.h -- what a copy checks on the target before its first write.
 *
 * Databases: a target started with fewer databases (--databases 4)
 * refuses SELECT 15, and a pipelined copy that went on would write db 15's
 * keys into whatever db was selected before. So before anything is
 * written, the dbs the source uses (INFO keyspace of a live source),
 * mapped by --db / --db-map, are held against the target's db count
 * (CONFIG GET databases, or SELECT probes where CONFIG is refused). The
 * stream or a file can still name a db found only later: the writer waits
 * for the first SELECT of each db (writer.h), which is the guard then.
 *
 * --flush-target: every db and the function libraries are emptied before
 * the first key, in every mode that writes.
 *
 * Temporary keys of huge values (native.h) that a killed run left behind
 * ("rdbsync:tmp:*", with a TTL of an hour) are deleted at the start of the
 * next run, and counted on stderr: a SCAN MATCH over every db of the
 * target's INFO keyspace.
 *
 * Ownership: connections are borrowed; a probe leaves the target
 * connection in an unknown db (the writer SELECTs before every first use).
 * Errors: one line in err naming the db and what to do.
 */
#ifndef RDBSYNC_PREFLIGHT_H
#define RDBSYNC_PREFLIGHT_H

#include <stddef.h>

#include "conn.h"
#include "import.h"

/* The dbs that hold keys, from INFO keyspace ("db3:keys=10,..."): their
 * count (at most max) in dbs, or -1 when INFO is refused or fails. */
int preflightSourceDbs(rsConn *src, int *dbs, int max);

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

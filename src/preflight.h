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
 *     the run goes on after the snapshot (stream or keyspace follow). The
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
 * Returns an exit status (exitcode.h): EXIT_OK to go on, EXIT_WRITE for a
 * refusal, EXIT_CONNECT when the target failed while being asked, EXIT_CRC
 * or EXIT_INPUT for the import's file.
 * No connection is kept: the ones opened here are closed before returning.
 */
#ifndef RDBSYNC_PREFLIGHT_H
#define RDBSYNC_PREFLIGHT_H

#include "conn.h"
#include "sync.h"

/* --file F --target URL: target is the open target connection (borrowed).
 * With precheck and a regular file, the file's trailing CRC-64 is verified
 * first (one read at CRC speed, rdbFileVerifyCrc): a mismatch is one line
 * and EXIT_CRC, a read error EXIT_INPUT, before anything is written. A file
 * that does not end in EOF + CRC (truncated, or an AOF with an RDB
 * preamble) is left to the decoder. */
int preflightImport(rsConn *target, const rsServerInfo *info, const char *file, int flush, int precheck);

/* --source URL --target URL (replica path and scan mode): opens its own
 * short connections to the target and, for the size of the data and
 * whether it has functions, to the source (a source that cannot be asked
 * is left to the sync to report). */
int preflightLive(const syncConfig *sc, int flush);

#endif

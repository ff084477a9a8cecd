/* strbatch.h -- runs of small strings without expire, written as one MSET.
 *
 * Profiled at 5M keys, a full sync's time goes to the target's CPU: on 2
 * cores the source's fork, rdbsync and the target share the machine, and
 * a RESTORE per small string costs the target about twice what an MSET of
 * a hundred such strings costs per key (the command's parsing, dispatch,
 * reply and the payload's CRC-64, once per key instead of once per run).
 * For a plain string the two write the same thing: SET's value goes
 * through the same encoding choice (int, embstr, raw) as RESTORE's, and a
 * key without expire, idle/freq hint or key metadata carries nothing else.
 * Keys with any of those keep their RESTORE (import.c decides).
 *
 * MSET overwrites, so it is used only where RESTORE would replace; where
 * an existing key must stop the run, MSETNX (0: one of the run's keys
 * exists, none was written). The run is one db's.
 *
 * Ownership: the batch copies keys and values; free with strBatchFree.
 * Errors: strBatchAdd/strBatchFlush return the writer's -1.
 */
#ifndef RDBSYNC_STRBATCH_H
#define RDBSYNC_STRBATCH_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "writer.h"

#define STRBATCH_VALUE_MAX 1024 /* larger strings: RESTORE (bytes dominate, not commands) */
#define STRBATCH_KEYS 128       /* keys per MSET */
#define STRBATCH_BYTES (64 * 1024)

typedef struct strBatch strBatch;

strBatch *strBatchNew(void);
void strBatchFree(strBatch *b);
/* Queue key=val for db; sends the run first when db changes, and after
 * adding when it is full. nx: MSETNX (stop on an existing key). */
int strBatchAdd(strBatch *b, writer *w, uint64_t db, int nx, const char *k, size_t kl, const char *v, size_t vl);
/* Send the run queued, if any, as one MSET or MSETNX (tag kind
 * WRITER_K_MSET, key = its first key, src_offset = its size). */
int strBatchFlush(strBatch *b, writer *w);
size_t strBatchPending(const strBatch *b);
/* Drop the run queued without sending it (a new snapshot begins). */
void strBatchReset(strBatch *b);
/* Whether the target's user may run MSET and MSETNX: on 7.0+ when ACL
 * DRYRUN allows both; before, for the default user (or without ACLs);
 * 0 otherwise (RESTORE per key, as before) and when the connection fails
 * (the caller meets that error next). */
int strBatchPermitted(rsConn *c, const rsServerInfo *info);

#endif

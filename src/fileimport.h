/* fileimport.h -- offline import: --file F --target URL.
 *
 * Every key of an RDB file goes to the target through the importer
 * (import.h: RESTORE fast path, re-encoding, native batches), pipelined.
 * Progress on stderr (progress.h), then one summary line: keys read,
 * written, skipped by reason, failed. Errors are one line naming the file
 * offset, db and key, or the target and the key.
 *
 * Ownership: the options and what they point to are borrowed for the call.
 */
#ifndef RDBSYNC_FILEIMPORT_H
#define RDBSYNC_FILEIMPORT_H

#include "conn.h"
#include "import.h"
#include "outcome.h"
#include "url.h"

typedef struct fileImportOptions {
    const char *file;          /* an RDB file, "-" for standard input */
    const rsUrl *target;       /* credentials already applied */
    rsConnOptions target_conn; /* timeouts, TLS */
    importOptions imp;         /* conflict and error policies, dbs */
    int flush_target;          /* FLUSHALL (+ FUNCTION FLUSH) first */
    int ignore_crc;
    int precheck;              /* verify a regular file's CRC-64 before the first write */
    int quiet;                 /* no progress line */
} fileImportOptions;

outcome fileImport(const fileImportOptions *o);

#endif

/* checkfile.h -- the offline readers of a snapshot:
 *
 *   --file F --checksum      verify an RDB (CRC-64, every value) and print
 *                            its counts and digest (checksum.h), decoded on
 *                            every core
 *   --file F --dump          every key as one JSON line (print.h)
 *   --payload P --checksum|--dump   the same for one DUMP payload
 *
 * Each prints its one error line (offset, db, key) on stderr and returns
 * an outcome (outcome.h).
 */
#ifndef RDBSYNC_CHECKFILE_H
#define RDBSYNC_CHECKFILE_H

#include "filter.h"
#include "outcome.h"

typedef struct checkFileOptions {
    const char *file;    /* an RDB file, "-" for standard input; or NULL */
    const char *payload; /* a DUMP payload file, when file is NULL */
    int json;            /* --checksum: one JSON object */
    int threads;         /* --checksum of a file: workers, 0 = one per CPU */
    int ignore_crc;      /* report a CRC mismatch without failing */
    const keyFilter *filter; /* --match/--exclude/--type: only these keys are read; NULL = all */
} checkFileOptions;

outcome checkFileChecksum(const checkFileOptions *o);
outcome checkFileDump(const checkFileOptions *o);

#endif

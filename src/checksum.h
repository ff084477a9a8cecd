/* checksum.h -- `--checksum`: verify an RDB and summarize its logical content.
 *
 * A decoder consumer that counts keys (total and per db), keys per logical
 * type, expires and functions, and computes the logical digest (rdb/digest.h)
 * in the same pass. The report is printed as `name: value` lines or as one
 * JSON object.
 *
 * Ownership: checksumNew returns an object freed with checksumFree; the
 * handlers it fills borrow it. Memory is constant apart from the per-db
 * counters (one slot per db index seen).
 */
#ifndef RDBSYNC_CHECKSUM_H
#define RDBSYNC_CHECKSUM_H

#include <stdio.h>

#include "rdb/decode.h"

typedef struct checksum checksum;

checksum *checksumNew(void);
void checksumFree(checksum *c);
/* Fills h with the digest's and the counters' callbacks. */
void checksumHandlers(checksum *c, rdbHandlers *h);
/* Print the report; version is the RDB version (0 when not from a file). */
void checksumReport(checksum *c, FILE *out, int json);

#endif

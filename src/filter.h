/* filter.h -- key filters: --match GLOB, --exclude GLOB, --type T.
 *
 * A key is selected when its name matches one of the --match patterns (or
 * none was given) and none of the --exclude patterns, and its type is one
 * of the --type types (or none was given). Patterns are Redis's glob
 * (glob.h), so a filter applied here selects exactly what SCAN MATCH
 * selects on the server; a lone "*" selects every key, the empty name
 * included, as SCAN and KEYS do.
 *
 * Where filters apply (every mode that reads data):
 *   - snapshots decoded from RDB (--file, the replica path): the importer
 *     asks filterKey per key (import.c) and counts the keys left out; the
 *     checksum and --dump readers wrap their handlers in a filterRelay;
 *   - scan passes (scan.c): SCAN MATCH when there is exactly one --match
 *     and no --exclude, SCAN TYPE for one --type on 6.0+ sources (not for
 *     module types), the rest client-side (the name before DUMP, the type
 *     from the DUMP payload's type byte);
 *   - the live command stream (filterCommand): a command whose keys are
 *     all left out is dropped; one with some keys in and some out is
 *     "partial" and cannot be forwarded as it is.
 *
 * Ownership: a keyFilter is built with filterAdd* (the patterns are
 * copied) and freed with filterFree. A NULL or empty filter selects all.
 * Errors: filterAddType returns -1 for a type name it does not know.
 */
#ifndef RDBSYNC_FILTER_H
#define RDBSYNC_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "cmdkeys.h"
#include "rdb/decode.h"

typedef struct keyFilter keyFilter;

keyFilter *filterNew(void);
void filterFree(keyFilter *f);
/* Each returns 0, or -1 (out of memory; an unknown type name). */
int filterAddMatch(keyFilter *f, const char *glob);
int filterAddExclude(keyFilter *f, const char *glob);
int filterAddType(keyFilter *f, const char *type); /* string list set zset hash stream module */

/* 1 when the filter selects anything less than everything. */
int filterActive(const keyFilter *f);
/* 1 when it has name patterns / types. */
int filterHasNames(const keyFilter *f);
int filterHasTypes(const keyFilter *f);

/* By name only (a type filter is not consulted). */
int filterName(const keyFilter *f, const char *key, size_t len);
/* By type only (RDB_LT_*). */
int filterType(const keyFilter *f, int ltype);
/* Both. */
int filterKey(const keyFilter *f, const char *key, size_t len, int ltype);
/* The logical type of a DUMP payload (its first byte), RDB_LT_UNKNOWN
 * when it cannot be read. */
int filterPayloadType(const unsigned char *p, size_t len);

/* For SCAN: the one pattern SCAN MATCH can apply (exactly one --match and
 * no --exclude), else NULL; the one type SCAN TYPE can apply (one --type,
 * not module), else NULL. */
const char *filterScanMatch(const keyFilter *f);
const char *filterScanType(const keyFilter *f);

/* ---- Decoded snapshots: a handler set that hides the keys left out ---- */

/* Wraps inner: every event of a key that is not selected (key_begin ..
 * key_end, its content, raw value and string pieces) is not passed on;
 * everything else is. Counts the keys left out. The relay borrows f and
 * inner. NULL when out of memory. */
typedef struct filterRelay filterRelay;
filterRelay *filterRelayNew(const keyFilter *f, const rdbHandlers *inner);
void filterRelayHandlers(filterRelay *r, rdbHandlers *out);
uint64_t filterRelayFiltered(const filterRelay *r);
void filterRelayFree(filterRelay *r);

/* ---- The live command stream ---- */

typedef enum filterVerdict {
    FILTER_PASS = 0,  /* forward as it is */
    FILTER_DROP,      /* every key left out (or, for a type filter, a command on
                         values of a type left out that overwrites nothing) */
    FILTER_DELETE,    /* a type left out that may replace a selected key (SET on a
                         key that was a hash...): DEL the keys in ki.dest instead */
    FILTER_GUARD,     /* a type filter and RENAME/RENAMENX/COPY: the source key's type
                         is unknown here; forward it where the target holds the
                         source key (then its type was selected), else DEL the
                         destination (it now holds a type left out) */
    FILTER_PARTIAL,   /* some keys in, some out: cannot be forwarded as it is */
    FILTER_UNKNOWN,   /* the keys cannot be told (a malformed numkeys) */
} filterVerdict;

/* The verdict for one command; ki receives its keys (cmdkeys.h). Keyless
 * commands always pass. */
filterVerdict filterCommand(const keyFilter *f, int argc, const char **argv, const size_t *lens, cmdKeyInfo *ki);

#endif

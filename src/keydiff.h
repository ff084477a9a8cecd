/* keydiff.h -- which part of a key differs between two copies of it.
 *
 * --verify finds a differing key by its digest term (digest.h); this says
 * where it differs, in words an operator can check with redis-cli: the
 * type, the expire time, the string value, list element N or the length,
 * set member M, zset member M's score, hash field F's value or TTL, stream
 * entry ID, stream metadata (length, last-id, first-id, max-deleted-id,
 * entries-added), a consumer group, its last-delivered-id, a PEL entry
 * (delivery time and count), a consumer and its PEL, a Redis 8.6 stream's
 * IDMP record (producer, iid -> entry ID; its IDMP settings and counters are
 * not compared, as the digest leaves them out).
 *
 * Each copy (a DUMP payload and its expire time) is decoded into a sorted
 * list of facts (part -> value, contents hashed), and the lists are merged.
 *
 * What equality means, as Redis's own replicas show it. Two parts are
 * state a replica does not keep equal to its master, so they are not
 * compared (a difference there is a note, not a difference):
 *   - a group's entries_read (XINFO GROUPS "entries-read", the base of
 *     "lag"). A native Redis 7.0 replica shows nil, or a smaller count,
 *     where the master has a value once consumers read through the stream:
 *     XREADGROUP propagates as XCLAIM ... LASTID, which moves the group's
 *     last-delivered-id and leaves entries_read alone (changed later by
 *     redis/redis#12898). A full sync copies it as is: the RDB carries it
 *     from RDB_TYPE_STREAM_LISTPACKS_2 (7.0) on, -1 (nil) meaning unknown;
 *     from a v1 stream Redis estimates it on load;
 *   - a consumer's seen-time and active-time: a replica sets them to its
 *     own clock when it applies the command.
 *   - when the source's copy is an RDB 9 stream (Redis 5 to 6.2), the
 *     stream's max-deleted-id and entries-added: that format has neither,
 *     and a 7.0+ target (native replica or ours) that applied the same
 *     XADDs and XDELs counts them.
 * Everything else is compared exactly.
 *
 * Memory: proportional to the number of parts of the two values (only
 * called for keys whose digests differ). Errors: -1 with a reason in err
 * (a payload that does not decode, out of memory).
 */
#ifndef RDBSYNC_KEYDIFF_H
#define RDBSYNC_KEYDIFF_H

#include <stddef.h>

#include "scan.h"

typedef enum keydiffResult {
    KEYDIFF_EQUAL = 0,   /* every compared part is equal */
    KEYDIFF_NOTED,       /* equal, but a part not compared differs: 'what' says which */
    KEYDIFF_DIFFER,      /* 'what' names the first differing part and counts the others */
} keydiffResult;

/* a is the source's copy, b the target's. Returns a keydiffResult, or -1. */
int keydiffCompare(const scanItem *a, const scanItem *b, char *what, size_t whatlen, char *err, size_t errlen);

#endif

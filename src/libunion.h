/* libunion.h -- the function libraries of several snapshots, each once.
 *
 * A cluster keeps its function libraries per node (FUNCTION LOAD runs on
 * each master): a cluster source's libraries are the union of every
 * shard's. A libUnion remembers the libraries passed on so far (by name,
 * with their code and the shard they came from); a libRelay wraps one
 * shard's snapshot handlers and passes every event on unchanged, except a
 * library:
 *   - not seen yet, or seen from this same shard (its snapshot read again
 *     after a full resync): passed on, and remembered;
 *   - seen from another shard with the same code: not passed on again;
 *   - seen from another shard with other code under the same name: the
 *     relay stops the decode with one line naming the library and both
 *     nodes (which code the target should hold is the user's call: load
 *     the same code on every master, then run again).
 * The name is the `name=` of the code's shebang line (`#!lua name=lib`),
 * or the 7.0-rc record's own name.
 *
 * Ownership: the union is shared by relays on several threads (a mutex
 * guards it); a relay borrows its union and inner handlers, which must
 * outlive it. New returns NULL when out of memory.
 */
#ifndef RDBSYNC_LIBUNION_H
#define RDBSYNC_LIBUNION_H

#include "rdb/decode.h"

typedef struct libUnion libUnion;
typedef struct libRelay libRelay;

libUnion *libUnionNew(void);
void libUnionFree(libUnion *u);

/* shard: the shard's identity (its index); node: "host:port" for messages. */
libRelay *libRelayNew(libUnion *u, int shard, const char *node, const rdbHandlers *inner);
/* The node the shard is read from now (after a failover). */
void libRelaySetNode(libRelay *r, const char *node);
void libRelayHandlers(libRelay *r, rdbHandlers *out);
/* The conflict that stopped the relay (one line), or NULL. */
const char *libRelayConflict(const libRelay *r);
void libRelayFree(libRelay *r);

#endif

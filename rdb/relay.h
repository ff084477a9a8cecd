/* relay.h -- run a consumer of the decoder on a thread of its own.
 *
 * Hashing every element (the digest) costs as much as decoding, so on a
 * machine with two cores the two should overlap. The relay's handlers,
 * called on the decoder's thread, copy each event into chunks (bounded: a
 * few MB in flight, or one value when a value is larger); a worker thread
 * replays the events, in order, into the target handlers. The target sees
 * exactly the calls it would have seen from the decoder, with pointers
 * valid during each call, only on another thread.
 *
 * Relayed: every event of RDB_EVENTS (decode.h) the target has, plus
 * header, key_begin and key_end always (the worker needs the flavour and
 * the key), and raw_value. want_raw is called on the decoder's thread and
 * must only look at its argument. error (the target's reason) is read on
 * the decoder's thread once the worker has stopped calling the target.
 *
 * Errors: the first non-zero return of a target callback is kept; from
 * then on the relay's handlers return -1, so the decoder stops soon after,
 * with the target's error() as its reason. rdbRelaySync returns it.
 *
 * Ownership: rdbRelayNew borrows target (and its ctx) until rdbRelayFree.
 */
#ifndef RDB_RELAY_H
#define RDB_RELAY_H

#include "decode.h"

typedef struct rdbRelay rdbRelay;

/* NULL when the thread cannot be started or memory is short. */
rdbRelay *rdbRelayNew(const rdbHandlers *target);
/* The decoder-side handlers (ctx = the relay). */
void rdbRelayHandlers(rdbRelay *r, rdbHandlers *out);
/* Wait until every event sent so far has been replayed; 0 or the first
 * non-zero return of a target callback. More events may follow. */
int rdbRelaySync(rdbRelay *r);
/* Sync, stop the worker, free. */
void rdbRelayFree(rdbRelay *r);

#endif

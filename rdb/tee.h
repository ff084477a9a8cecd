/* tee.h -- one decode, two consumers: a handler set that forwards to two.
 *
 * Every callback goes to a, then to b; the first non-zero return stops the
 * forwarding and is returned to the decoder (which then stops). A callback
 * that is NULL on one side is skipped on that side; a callback NULL on both
 * sides is NULL in the tee, so the decoder can skip work nobody wants.
 * Tees nest: either side may itself be a tee's handlers. The tee's error
 * callback asks the side that stopped it for its reason.
 *
 * Raw values: capturing costs a copy of the value, so the tee asks for it
 * only when a side would. For each key a side wants the raw value when it
 * has raw_value and either no want_raw or a want_raw that returns non-zero;
 * the tee's want_raw is the OR of both sides, and raw_value is forwarded
 * only to the sides that wanted it for that key.
 *
 * Strings in pieces (decode.h string_chunk): the tee takes pieces only
 * when no side takes whole strings (a side with 'string' and no
 * string_chunk). Otherwise strings arrive whole and a side with
 * string_chunk gets each as one piece.
 *
 * Ownership: the tee borrows a and b (the structs and their contexts); both
 * must outlive it. Either may be NULL, meaning a side with no callbacks.
 * rdbTeeNew returns NULL only when out of memory; free with rdbTeeFree.
 * rdbTeeHandlers fills out (all of it) with callbacks whose ctx is the tee.
 */
#ifndef RDB_TEE_H
#define RDB_TEE_H

#include "decode.h"

typedef struct rdbTee rdbTee;

rdbTee *rdbTeeNew(const rdbHandlers *a, const rdbHandlers *b);
void rdbTeeHandlers(rdbTee *t, rdbHandlers *out);
void rdbTeeFree(rdbTee *t);

#endif

/* parallel.h -- decode the values of one RDB on several threads.
 *
 * An RDB is a sequence, but its keys are independent: once a value's bytes
 * are delimited, decoding them (LZF, listpacks, number formatting) and
 * consuming them (hashing, for the digest) can happen anywhere. So one
 * thread runs the decoder in framing mode (rdbHandlers.frame_only): it
 * reads the file, checks the CRC and cuts out each key's value bytes, which
 * rdbParallelHandlers' raw_value packs into batches; worker threads decode
 * each value with rdbDecodeValue into handlers of their own, one set per
 * worker (e.g. one digest each, merged at the end: rdbDigestMerge).
 *
 * Keys reach a worker in file order, but different workers see different
 * keys, in parallel: worker handlers must not depend on seeing every key
 * (a per-worker digest or counter does not; a writer that must keep order
 * would).
 *
 * Errors: corruption inside a value is found by a worker. From then on
 * the framing handlers return -1 (the decoder stops: RDB_ERR_HANDLER).
 * rdbParallelFinish waits for every batch and reports the error of the
 * first failing key in file order, with the message the decoder would
 * have given had it decoded that value itself (absolute offset, db, key).
 * Such an error always precedes any error of the framing decoder.
 *
 * Memory: batches of ~256 KB, a few in flight, or one value when a value
 * is bigger: bounded by the largest value, never by the file.
 *
 * Ownership: rdbParallelNew borrows the worker handler sets until
 * rdbParallelFree; the caller keeps calling the framing decoder from one
 * thread only.
 */
#ifndef RDB_PARALLEL_H
#define RDB_PARALLEL_H

#include "decode.h"

typedef struct rdbParallel rdbParallel;

/* nworkers >= 1 threads; worker i delivers to handlers[i]. NULL when
 * memory is short or a thread cannot be started. */
rdbParallel *rdbParallelNew(int nworkers, const rdbHandlers *handlers);
/* The framing side: header, raw_value and frame_only (other callbacks
 * NULL: combine with a tee or copy them in). ctx = the rdbParallel. */
void rdbParallelHandlers(rdbParallel *p, rdbHandlers *out);
/* Wait until every value submitted is decoded. 0, or -1 when a value
 * failed: then rdbParallelError tells which and why. */
int rdbParallelFinish(rdbParallel *p);
const char *rdbParallelError(const rdbParallel *p, rdbErrCode *code);
/* Finish, stop the workers, free. */
void rdbParallelFree(rdbParallel *p);
/* The number of workers worth starting on this machine (online CPUs,
 * at least 1, at most 8). */
int rdbParallelDefaultWorkers(void);

#endif

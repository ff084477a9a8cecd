/* keyverdict.h -- one key of --verify judged: equal, or differing in its
 * type, its value, or its TTL only; expire times compared within a
 * tolerance (issue #15, finding 2).
 *
 * Why a tolerance: servers before 7.0 (2.8, 6.2) replicate EXPIRE, SETEX,
 * SET ... EX as written, relative, so every replica's expire times (a
 * native replica's as much as rdbsync's target's) are later than its
 * master's by the replication lag of the moment the command was applied;
 * and without PEXPIRETIME a TTL is read with PTTL, exact only to the read's
 * round trip. 7.0+ replicate absolute times and answer PEXPIRETIME
 * exactly. The automatic tolerance: 0 between two 7.0+ servers; otherwise
 * 1000 ms (the lag of a sync that was in sync when the keys were written)
 * plus twice the slowest read measured on the way.
 *
 * The verdict: the keys' digest terms (rdb/digest.h) first; where they
 * differ, the digest again with the target's expire set to the source's:
 * equal then means the TTL alone differs (equal when within the
 * tolerance). Otherwise keydiff.h names the part of the value (or the
 * type) that differs; a key differing in value and TTL counts in value,
 * and its line says the TTL differs too.
 *
 * Errors: -1 with a reason in err (a payload that does not decode, out of
 * memory). Memory: keydiff's, for keys whose terms differ.
 */
#ifndef RDBSYNC_KEYVERDICT_H
#define RDBSYNC_KEYVERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "scan.h"

typedef enum keyVerdictKind {
    KV_EQUAL = 0,     /* the digest terms are equal */
    KV_TTL_WITHIN,    /* only the expire times differ, within the tolerance: equal */
    KV_NOTED,         /* equal, but a part not compared differs: 'what' names it */
    KV_DIFFER_TYPE,   /* 'what' is the line after the key: "differs in type: ..." */
    KV_DIFFER_VALUE,  /* "differs in value: ...[; and in TTL: ...]" */
    KV_DIFFER_TTL,    /* "differs in TTL only: expire time: ... (N ms apart; TTL tolerance T ms)" */
} keyVerdictKind;

typedef struct keyVerdictCounts {
    uint64_t type, value, ttl; /* keys that differ, by kind */
    uint64_t within;           /* keys equal once the tolerance is applied */
} keyVerdictCounts;

/* src is the source's copy, tgt the target's. Returns a keyVerdictKind,
 * or -1. */
int keyVerdict(const scanItem *src, const scanItem *tgt, int64_t tol_ms, char *what, size_t whatlen, char *err,
               size_t errlen);

/* 1 for the kinds that differ; counts every kind into c. */
int keyVerdictCount(keyVerdictCounts *c, int kind);

/* The automatic tolerance for these two servers, given the slowest read
 * (ms) measured so far. */
int64_t keyVerdictAutoTolerance(const rsServerInfo *source, const rsServerInfo *target, int64_t slowest_read_ms);

/* The summary's breakdown: "(differ: V in value, T in type, L in TTL only;
 * TTL tolerance N ms[ (auto)], W expire times apart within it)". */
void keyVerdictSummary(const keyVerdictCounts *c, int64_t tol_ms, int automatic, char *out, size_t outlen);

#endif

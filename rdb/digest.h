/* digest.h -- a logical digest of a dataset: the same for the same data.
 *
 * Equal for equal data whatever the encoding (ziplist, listpack, intset,
 * hashtable, quicklist node sizes, LZF or not), the RDB version, the key
 * order, AUX fields and LRU/LFU hints; different when any key, value,
 * member, score, field, field TTL, expire, db, stream entry or consumer
 * group state changes. Computed as a streaming consumer of the decoder, in
 * constant memory: order independence comes from adding per-element hashes
 * modulo 2^256 rather than from sorting.
 *
 * Definition (version 2), H = SHA-256, str(s) = u64le(len(s)) || s,
 * SUM = sum of 32-byte hashes read as little-endian integers, mod 2^256:
 *
 *   digest = H("rdbsync-digest-2" || u64le(nkeys) || SUM(K) ||
 *              u64le(nfunctions) || SUM(H("F" || str(library code))))
 *   K      = H("K" || u64le(db) || str(key) || u8(ltype) ||
 *              i64le(expire_ms or -1) || V)
 *   ltype  : string 0, list 1, set 2, zset 3, hash 4, module 5, stream 6
 *   V string = H("s" || str(value))
 *   V list   = H("l" || str(e1) || ... || str(en) || u64le(n))
 *   V set    = H("S" || u64le(n) || SUM(H(str(member))))
 *   V zset   = H("z" || u64le(n) || SUM(H(str(member) || f64le(score))))
 *   V hash   = H("h" || u64le(n) || SUM(H(str(field) || str(value) ||
 *                                        i64le(field_expire_ms or -1))))
 *   V stream = H("x" || each live entry in ID order:
 *                  u64le(ms) u64le(seq) u64le(nfields) {str(f) str(v)}
 *                || "m" u64le(length) id(last) id(first or 0-0) id(max_deleted)
 *                   u64le(entries_added) u64le(ngroups)
 *                || each group: "g" str(name) id(last_delivered) u64le(npel)
 *                   {id i64le(delivery_ms) u64le(delivery_count)}
 *                   u64le(nconsumers)
 *                   {"c" str(name) i64le(seen_ms) i64le(active_ms)
 *                    u64le(npel) {id}})
 *                with id(x) = u64le(ms) u64le(seq)
 *   V module = H("M" || str(the value's bytes after the type byte))
 *
 * Integers stored in compact encodings count as their decimal text; scores
 * are IEEE-754 binary64. Keys already expired in a file are included.
 *
 * Byte-level reading of the above (what the code and its tests do):
 *   - "rdbsync-digest-2" and the one-letter tags ("K", "s", "l", ...) are
 *     their ASCII bytes alone: no length, no NUL.
 *   - u64le/i64le: 8 bytes little-endian (i64 as two's complement); u8: one
 *     byte. SUM(...) is written as its 32 bytes, little-endian; the SUM of
 *     nothing is 32 zero bytes, so the empty dataset's digest is
 *     H("rdbsync-digest-2" || u64le(0) || 0^32 || u64le(0) || 0^32).
 *   - nkeys and n count what the decoder reports (keys; list items, set
 *     members, zset members, hash fields), not RDB header counts.
 *   - f64le(score): the 8 bytes of the binary64, little-endian, with -0
 *     counted as +0. Redis itself stores ZADD -0 as 0 in a listpack and
 *     as -0 in a skiplist, so only this makes the digest independent of
 *     the encoding; the two compare equal as scores anyway.
 *   - stream: entries carry no count before them (the "m" length does);
 *     nfields is the entry's number of field/value pairs; groups, PEL
 *     entries and consumers come in the file's order (rax order, i.e. by
 *     name / ID); a group's u64le(nconsumers) follows its PEL.
 *   - derived stream fields, which servers compute rather than keep
 *     (version 2; version 1 hashed them as stored): a group's entries_read
 *     is left out (RDB 9 lacks it and each server estimates it on load;
 *     replicas do not keep it equal), and the first ID of an empty stream
 *     counts as 0-0 (Redis 7.0+ writes 0-0 after XDEL empties it, but
 *     loads an RDB 9 stream with no entries as the maximum ID).
 *   - library code: rdbFunction.code as the decoder reports it (for the
 *     7.0-rc FUNCTION opcode that is the code alone, without name/engine).
 *   - module: the raw bytes handed to raw_value (type 6 or 7 alike, module
 *     id included); a module or string key whose content never arrives
 *     hashes as the empty string.
 *
 * Ownership: rdbDigestNew returns an object freed with rdbDigestFree.
 * rdbDigestHandlers fills h (all of it: unused callbacks are NULL) with
 * callbacks whose ctx is the digest; want_raw asks for raw bytes of module
 * keys only. The digest must outlive the decode. Callbacks do not fail:
 * allocation failure (NULL from rdbDigestNew; -1 from key_end, for a key
 * longer than memory allows) is the only error.
 */
#ifndef RDB_DIGEST_H
#define RDB_DIGEST_H

#include <stdint.h>

#include "decode.h"

#define RDB_DIGEST_LEN 32

typedef struct rdbDigest rdbDigest;

rdbDigest *rdbDigestNew(void);
void rdbDigestFree(rdbDigest *dg);
void rdbDigestHandlers(rdbDigest *dg, rdbHandlers *h);
/* The digest of everything seen so far (does not reset). */
void rdbDigestFinal(rdbDigest *dg, unsigned char out[RDB_DIGEST_LEN]);
/* Add what src has seen to dst, as if dst had seen it too: the digest is
 * a sum over keys, so keys may be hashed by several digests (one per
 * thread) and merged. src is left as it was, minus pending work. */
void rdbDigestMerge(rdbDigest *dst, rdbDigest *src);
/* 64 lowercase hex characters and a NUL. */
void rdbDigestHex(rdbDigest *dg, char out[2 * RDB_DIGEST_LEN + 1]);
uint64_t rdbDigestKeys(const rdbDigest *dg);

#endif

/* encode.h -- writing RDB values: a byte buffer, the RDB primitives, DUMP
 * payloads, and a re-encoder that expresses a decoded value in the oldest
 * encoding a target server loads.
 *
 * Why: RESTORE takes a DUMP payload (format.md 3.1), and the fast path
 * forwards a value's raw bytes from the source RDB. When the target does not
 * know the type byte (Redis 7.0 refuses set listpacks and stream v3, 6.2
 * refuses every listpack, nothing before 7.4 holds hash field TTLs), the
 * value is re-encoded here from the decoder's logical events into plain
 * types that every version loads, and is still sent as one RESTORE.
 *
 * Ownership: an rdbBuf is a plain struct the caller owns; start it zeroed
 * (RDB_BUF_INIT) and release it with rdbBufFree. The encoder (rdbEncoderNew)
 * is freed with rdbEncoderFree; the payload it hands out belongs to it and
 * stays valid until the next key begins or the encoder is freed.
 *
 * Errors: functions return 0 (or a value) on success and -1 on failure. The
 * only failures of the writers are out of memory and size overflow. Encoder
 * callbacks return non-zero on such a failure, which stops the decoder
 * (RDB_ERR_HANDLER); rdbEncoderError() then has the reason. Nothing here
 * prints, exits or touches the network.
 */
#ifndef RDB_ENCODE_H
#define RDB_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "rdb.h"

/* ---- growable byte buffer ---- */

typedef struct rdbBuf {
    unsigned char *p;
    size_t len, cap;
} rdbBuf;

#define RDB_BUF_INIT {NULL, 0, 0}

/* Room for 'extra' more bytes past len. */
int rdbBufReserve(rdbBuf *b, size_t extra);
int rdbBufAppend(rdbBuf *b, const void *p, size_t n);
int rdbBufAppendByte(rdbBuf *b, unsigned char c);
/* len = 0, memory kept for reuse. */
void rdbBufClear(rdbBuf *b);
/* Memory released; the buffer is empty and reusable. */
void rdbBufFree(rdbBuf *b);

/* ---- RDB primitives (format.md 1.9-1.11), appended to b ---- */

/* Length in the shortest form: 6-bit, 14-bit, 32-bit (0x80) or 64-bit
 * (0x81, RDB 8+), the multi-byte forms big endian. */
int rdbWriteLen(rdbBuf *b, uint64_t len);
/* A plain length-prefixed string (no integer or LZF forms: every loader
 * reads the plain form, and RESTORE re-encodes as it likes). */
int rdbWriteString(rdbBuf *b, const void *p, size_t len);
int rdbWriteLe16(rdbBuf *b, uint16_t v);
int rdbWriteLe64(rdbBuf *b, uint64_t v);
/* Type-3 zset score: one length byte then "%.17g" text (exact round trip,
 * "-0" kept); 254 = +inf, 255 = -inf, 253 = NaN (which loaders refuse; the
 * decoder never produces it). */
int rdbWriteStringDouble(rdbBuf *b, double v);
/* Type-5 zset score: IEEE-754 binary64, little endian. */
int rdbWriteBinaryDouble(rdbBuf *b, double v);
/* Stream ID as 16 raw bytes, ms then seq, both big endian (format.md 2.6). */
int rdbWriteRawStreamId(rdbBuf *b, rdbStreamId id);

/* ---- DUMP payloads (format.md 3) ---- */

/* The footer version to stamp on a payload whose type byte is 'type' (read
 * in flavour f): the lowest RDB version that carries the type, so that any
 * target knowing the type accepts it (Redis 3.2+ and Valkey accept any
 * footer <= their own version). Exception: a target of RDB version <= 6
 * (Redis 2.6-3.0) requires equality, so it gets exactly its own version.
 * -1 when the type byte is unknown in f. */
int rdbPayloadVersion(int type, rdbFlavour f, int target_version);

/* out = type byte + raw + u16 LE version + u64 LE CRC-64 of everything
 * before the CRC. out is cleared first. */
int rdbPayloadBuild(rdbBuf *out, int type, const unsigned char *raw, size_t len, int version);

/* The same with a Redis 8.6 KEY_META record (opcode included) before the
 * type byte; meta NULL or metalen 0: none. */
int rdbPayloadBuildMeta(rdbBuf *out, const unsigned char *meta, size_t metalen, int type,
                        const unsigned char *raw, size_t len, int version);

/* Append the footer (u16 LE version, CRC-64 of b->p[start..] and the version
 * bytes) to a payload being built at b->p[start]. */
int rdbPayloadFooter(rdbBuf *b, size_t start, int version);

/* 1 when a target of that RDB version and flavour loads the type byte
 * 'type' read in flavour f, else 0:
 *
 *   target                               loads
 *   Redis, RDB v (flavour REDIS)         types with min_version <= v that are
 *                                        not Valkey-only (Valkey 22 HASH_2)
 *   Valkey 7.2 / 8.x (they report RDB    as Redis 11: types up to 21
 *     11, flavour REDIS in practice)
 *   Valkey 9 (RDB 80, flavour VALKEY)    types up to 21 and Valkey 22 HASH_2;
 *                                        never Redis 22-25 (7.4 hash TTLs)
 *
 * Type 6 (4.0 release-candidate modules) is loaded by RDB 8 (4.0) only:
 * 5.0+ refuse it. */
int rdbTargetSupportsType(int type, rdbFlavour f, int target_version, rdbFlavour target_flavour);

/* ---- the re-encoder: a decoder consumer ---- */

typedef struct rdbEncodeTarget {
    int version;         /* the target's RDB version: 6..12, or 80 (Valkey 9) */
    rdbFlavour flavour;  /* VALKEY only for Valkey 9+ (RDB 80) */
    int drop_field_ttls; /* write TTL-carrying hashes without their field TTLs
                            when the target cannot hold them */
    int64_t now_ms;      /* > 0: hash fields whose TTL is at or before this
                            time are left out, as a server loading them
                            would (rdbEncoderSetNow updates it) */
} rdbEncodeTarget;

/* Flags of the last key (rdbEncoderResult). */
#define RDB_ENC_DROPPED_FIELD_TTLS 1u /* hash field TTLs were dropped (the
                                          target cannot hold them and
                                          drop_field_ttls was set) */
#define RDB_ENC_UNREPRESENTABLE 2u    /* no payload: the target cannot hold
                                          the value (field TTLs without
                                          drop_field_ttls on a target without
                                          them; a stream on RDB < 9; any
                                          module value: modules only go by
                                          the fast path) */
#define RDB_ENC_EMPTY 4u              /* a collection of 0 elements: the
                                          payload is well formed but RESTORE
                                          refuses empty aggregates; skip it */
#define RDB_ENC_LOSSY_STREAM 8u       /* stream state the target's stream
                                          version cannot hold was dropped (see
                                          below); entries are all there */
#define RDB_ENC_DROPPED_IDMP 16u      /* a Redis 8.6 stream v4 went out as
                                          v3 or older without its IDMP
                                          records, or with a non-default IDMP
                                          configuration (duration or max
                                          entries other than 100) */

/* What is produced (the oldest encoding the target understands; every
 * plain type exists since RDB 1, so footers stay low):
 *
 *   string  -> 0
 *   list    -> 1 (plain)
 *   set     -> 2 (plain)
 *   zset    -> 5 (binary scores) when target >= 8, else 3 (string scores)
 *   hash    -> 4 when no field has a TTL, or TTLs were dropped;
 *              with field TTLs: Redis target >= 12 -> 24 HASH_METADATA
 *              (min-expire prefix = smallest field TTL, per field
 *              ttl - min + 1, 0 for none); Valkey 9 target -> 22 HASH_2
 *              (every field with its i64 expiry, -1 for none)
 *   stream  -> the newest stream version the target has up to v3: 21
 *              (target >= 11; a v4 stream of Redis 8.6 re-encoded loses its
 *              IDMP block: RDB_ENC_DROPPED_IDMP when that held records or a
 *              non-default configuration),
 *              19 (10), 15 (9); nodes carried over verbatim from
 *              stream_node events. Going down loses what the older layout
 *              cannot say; RDB_ENC_LOSSY_STREAM is set when that differs
 *              from what the target's loader synthesizes (and the decoder
 *              reports): to 19, a consumer whose active time differs from
 *              its seen time; to 15, also first id != first live entry
 *              (in a non-empty stream), max deleted id != 0-0 or
 *              entries_added != length. A group's entries_read and an empty
 *              stream's first id are derived, not data (digest.h, version
 *              2): dropping them is no loss.
 *              entries_read of -1 (unknown; the decoder reports it for v1
 *              sources) is written as Redis itself saves an unknown
 *              counter: the 64-bit length 2^64-1, loaded back as -1.
 *   module  -> RDB_ENC_UNREPRESENTABLE
 *
 * Memory: the body of one value is buffered (counts precede elements in
 * RDB, events stream), so memory is bounded by the largest value; buffers
 * above 1 MiB are released when the next key begins. */
typedef struct rdbEncoder rdbEncoder;

/* NULL when out of memory. The target is copied. */
rdbEncoder *rdbEncoderNew(const rdbEncodeTarget *t);
void rdbEncoderFree(rdbEncoder *e);
/* The current time for leaving out already-expired hash fields. */
void rdbEncoderSetNow(rdbEncoder *e, int64_t now_ms);

/* Fill h (all of it; unused callbacks NULL) with callbacks whose ctx is e:
 * key_begin resets, the content callbacks append, key_end completes the
 * payload. Combine with other consumers through a tee (tee.h). */
void rdbEncoderHandlers(rdbEncoder *e, rdbHandlers *h);

/* The last completed key: 0 with its flags in *flags and the DUMP payload
 * (type byte + body + footer) in *payload / *len; when the flags include
 * RDB_ENC_UNREPRESENTABLE there is no payload (NULL, 0). -1 when no key was
 * completed since the last key_begin (or it failed: rdbEncoderError). Any
 * output pointer may be NULL. */
int rdbEncoderResult(rdbEncoder *e, const unsigned char **payload, size_t *len, unsigned *flags);

/* The type byte of the last payload (-1 when none). */
int rdbEncoderType(const rdbEncoder *e);

/* Why the last callback failed, or "" . */
const char *rdbEncoderError(const rdbEncoder *e);

#endif

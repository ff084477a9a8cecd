/* decode.h -- the streaming RDB decoder: one parse, many consumers.
 *
 * The decoder pulls bytes from an rdbReader (rio.h) and reports everything in
 * the file through callbacks (rdbHandlers): header, AUX fields, databases,
 * functions, module aux data, slot info, and for each key its metadata, its
 * decoded logical content and, on request, the raw encoded bytes of its value
 * exactly as in the file. Checksumming, digesting, importing as RESTORE and
 * printing are all consumers of this one parse.
 *
 * Memory: bounded by the largest single value (one blob-encoded value, one
 * string, or the raw capture of one value), never by the file size. Nothing
 * is built per collection: elements are reported one at a time.
 *
 * Borrowing: every pointer handed to a callback is valid only during that
 * callback. Copy what you keep.
 *
 * Callbacks: each returns 0 to continue; any other value stops the decoder,
 * which then returns -1 with code RDB_ERR_HANDLER and, as its message, the
 * consumer's reason (rdbHandlers.error). Any callback may be NULL.
 *
 * Errors: rdbDecode* return 0 or -1; rdbDecoderErrorCode() is the kind
 * (rdb.h) and rdbDecoderError() one line naming the byte offset and, where
 * known, the db and key. The decoder never prints and never exits.
 */
#ifndef RDB_DECODE_H
#define RDB_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "rdb.h"
#include "rio.h"

/* The largest piece handed to rdbHandlers.string_chunk. */
#define RDB_STRING_CHUNK (1024 * 1024)

typedef struct rdbDecoder rdbDecoder;

/* Where the trailing checksum stands once EOF is reached. */
typedef enum rdbCrcStatus {
    RDB_CRC_OK = 0,
    RDB_CRC_MISMATCH,
    RDB_CRC_ABSENT /* version < 5, or written with rdbchecksum no (zero) */
} rdbCrcStatus;

typedef struct rdbStreamId {
    uint64_t ms, seq;
} rdbStreamId;

typedef struct rdbKeyInfo {
    uint64_t db;
    const char *key;
    size_t keylen;
    int type;            /* the RDB type byte */
    rdbLType ltype;      /* logical type */
    const rdbTypeInfo *info;
    int64_t expire_ms;   /* absolute unix ms, -1 when none */
    int64_t idle;        /* LRU idle seconds, -1 when absent */
    int freq;            /* LFU counter, -1 when absent */
    uint64_t offset;     /* byte offset of the key record (its type byte) */
    uint64_t value_offset; /* byte offset of the value, right after the key */
    /* Redis 8.6+ (RDB 13) key metadata: the KEY_META record that came
     * before the key, exactly as read (opcode 243 included), for a DUMP
     * payload that carries it; NULL/0 when none. The classes are module
     * data the decoder walks but does not interpret. */
    const unsigned char *meta;
    size_t metalen;
    int meta_classes;
} rdbKeyInfo;

typedef struct rdbStreamMeta {
    uint64_t length;        /* live entries */
    rdbStreamId last_id;
    rdbStreamId first_id;   /* v1: first live entry, as Redis synthesizes */
    rdbStreamId max_deleted;/* v1: 0-0 */
    uint64_t entries_added; /* v1: length */
    uint64_t groups;        /* number of consumer groups that follow */
} rdbStreamMeta;

typedef struct rdbStreamGroup {
    const char *name;
    size_t namelen;
    rdbStreamId last_id;    /* last delivered */
    int64_t entries_read;   /* -1 when unknown (v1 files, as Redis does) */
    uint64_t pel_count;
    uint64_t consumers;
} rdbStreamGroup;

typedef struct rdbStreamConsumer {
    const char *name;
    size_t namelen;
    int64_t seen_time;
    int64_t active_time;    /* v1/v2: equal to seen_time, as Redis loads it */
    uint64_t pel_count;
} rdbStreamConsumer;

/* Redis 8.6 stream v4 (type 26) IDMP state, after the groups: the
 * idempotent-producer configuration, the counters, and how many producers
 * and (pid, iid) -> id records the stream_idmp_entry calls reported. */
typedef struct rdbStreamIdmp {
    uint64_t duration;       /* seconds a record is kept */
    uint64_t max_entries;    /* records kept per producer */
    uint64_t producers, entries;
    uint64_t iids_added, iids_duplicates;
} rdbStreamIdmp;

typedef struct rdbFunction {
    const char *code;  /* FUNCTION2: the whole library source */
    size_t len;
    int pre_ga;        /* 1 for the 7.0-rc FUNCTION opcode: name/engine set */
    const char *name, *engine;
    size_t namelen, enginelen;
} rdbFunction;

typedef struct rdbEofInfo {
    rdbCrcStatus crc;
    uint64_t stored;   /* CRC read from the file (0 when absent) */
    uint64_t computed; /* CRC of the bytes read */
} rdbEofInfo;

/* Every event callback of rdbHandlers, in one list, so that adding one
 * touches one place: X(name, params, args), params being the parameters
 * after ctx and args their names. rdbHandlers' fields, tee.c's forwarding
 * and relay.c's wiring are generated from it (relay.c asks, at compile
 * time, for an encoding of each). want_raw and raw_value are not events
 * (a question, and the answer's bytes) and are declared by hand.
 *
 * File structure: header .. eof. Keys: key_begin, then content callbacks,
 * then raw_value (if asked), then key_end. Content: integers stored in
 * compact encodings arrive as their decimal text; hash_field's expire_ms is
 * the field's absolute TTL in unix ms, -1 when none. Streams, in order: per
 * node stream_node (the node as stored, 16-byte master ID key and its
 * listpack, for re-encoders that carry nodes over verbatim), then
 * stream_entry (+ its stream_field calls) for each live entry of the node in
 * ID order; then stream_meta; then per group stream_group, its stream_pel
 * calls, and per consumer stream_consumer followed by its
 * stream_consumer_pel calls; for a stream v4 (type 26) then one
 * stream_idmp_entry per idempotency record (producer id, iid, entry id, in
 * file order) and stream_idmp with the configuration and counters. Key
 * metadata (RDB 13) rides on rdbKeyInfo.meta. Module values are walked, not interpreted:
 * module_value has the name (9 chars) and the encoding version; take
 * raw_value for the bytes. */
#define RDB_EVENTS(X)                                                                              \
    X(header, (int version, rdbFlavour flavour), (version, flavour))                               \
    X(aux, (const char *k, size_t klen, const char *v, size_t vlen), (k, klen, v, vlen))           \
    X(select_db, (uint64_t db), (db))                                                              \
    X(resize_db, (uint64_t keys, uint64_t expires), (keys, expires))                               \
    X(slot_info, (uint64_t slot, uint64_t keys, uint64_t expires), (slot, keys, expires))          \
    X(function, (const rdbFunction *fn), (fn))                                                     \
    X(module_aux, (const char *module, int encver, int when), (module, encver, when))              \
    X(eof, (const rdbEofInfo *e), (e))                                                             \
    X(key_begin, (const rdbKeyInfo *k), (k))                                                       \
    X(key_end, (const rdbKeyInfo *k), (k))                                                         \
    X(string, (const char *p, size_t len), (p, len))                                               \
    X(list_item, (const char *p, size_t len), (p, len))                                            \
    X(set_member, (const char *p, size_t len), (p, len))                                           \
    X(zset_member, (const char *p, size_t len, double score), (p, len, score))                     \
    X(hash_field, (const char *f, size_t flen, const char *v, size_t vlen, int64_t expire_ms),    \
      (f, flen, v, vlen, expire_ms))                                                               \
    X(stream_node, (const unsigned char *key16, const unsigned char *lp, size_t lplen),           \
      (key16, lp, lplen))                                                                          \
    X(stream_entry, (rdbStreamId id, uint64_t nfields), (id, nfields))                             \
    X(stream_field, (const char *f, size_t flen, const char *v, size_t vlen), (f, flen, v, vlen))  \
    X(stream_meta, (const rdbStreamMeta *m), (m))                                                  \
    X(stream_group, (const rdbStreamGroup *g), (g))                                                \
    X(stream_pel, (rdbStreamId id, int64_t delivery_time, uint64_t delivery_count),               \
      (id, delivery_time, delivery_count))                                                         \
    X(stream_consumer, (const rdbStreamConsumer *c), (c))                                          \
    X(stream_consumer_pel, (rdbStreamId id), (id))                                                 \
    X(stream_idmp_entry, (const char *pid, size_t pidlen, const char *iid, size_t iidlen,           \
                          rdbStreamId id), (pid, pidlen, iid, iidlen, id))                          \
    X(stream_idmp, (const rdbStreamIdmp *m), (m))                                                  \
    X(module_value, (const char *name, int encver), (name, encver))

/* (a, b) -> a, b: for the params and args of RDB_EVENTS. */
#define RDB_UNPAREN(...) __VA_ARGS__

typedef struct rdbHandlers {
    void *ctx;

    /* Set by a consumer that decodes values itself, from raw_value (on
     * other threads: see parallel.h). The decoder then only delimits each
     * value, walking its lengths without decompressing or parsing it, and
     * calls no content callbacks for the common types; whatever is wrong
     * inside a value is for that consumer to find. */
    int frame_only;

    /* Why the callback that just returned non-zero stopped: one line, no
     * offset (the decoder prefixes where). Asked once, right after the
     * stop. NULL, or a NULL or empty answer, reads "stopped by the
     * consumer". Every consumer that can fail should set it. */
    const char *(*error)(void *ctx);

    /* Raw value: the bytes after the type byte up to the end of the value,
     * exactly as in the input. Captured only when raw_value is set and
     * want_raw is NULL or returns 1 for the key. */
    int (*want_raw)(void *ctx, const rdbKeyInfo *k);
    int (*raw_value)(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t len);

    /* Strings in pieces. When set, a string value (type 0; not the
     * elements of a collection) arrives here instead of through 'string':
     * in order, in pieces of at most RDB_STRING_CHUNK bytes, off being the
     * piece's offset and total the value's length (the empty string is one
     * call with len 0). The decoder then never copies or inflates a
     * string whole: a plain one is read a piece at a time (in place from a
     * memory reader), an LZF one inflated a window at a time from its
     * compressed bytes, which is what keeps writing a huge string bounded. Not an event: a tee passes
     * pieces on only when no side takes whole strings (tee.h); relay and
     * parallel consumers take whole strings. */
    int (*string_chunk)(void *ctx, const char *p, size_t len, uint64_t off, uint64_t total);

    /* The events, as listed in RDB_EVENTS. */
#define RDB_EVENT_FIELD(name, params, args) int (*name)(void *ctx, RDB_UNPAREN params);
    RDB_EVENTS(RDB_EVENT_FIELD)
#undef RDB_EVENT_FIELD
} rdbHandlers;

typedef struct rdbDecodeOptions {
    int ignore_crc;  /* report a mismatch in eof() but do not fail on it */
} rdbDecodeOptions;

/* The decoder borrows the reader and the handlers; both must outlive it. */
rdbDecoder *rdbDecoderNew(rdbReader *r, const rdbHandlers *h, const rdbDecodeOptions *opt);
void rdbDecoderFree(rdbDecoder *d);

/* Decode a whole RDB stream: header through EOF and checksum. Stops right
 * after the checksum; whatever follows in the source is left unread. */
int rdbDecode(rdbDecoder *d);

/* Decode one value body of the given type byte (no header), as in a DUMP
 * payload, calling key_begin .. key_end around it. 'version' and 'flavour'
 * say how to read type bytes 22+. The key info handed to callbacks takes
 * db, key, expire_ms, idle and freq from 'base' (may be NULL: db 0, no
 * key, no expire). */
int rdbDecodeValue(rdbDecoder *d, int type, int version, rdbFlavour flavour,
                   const rdbKeyInfo *base);

/* Check a DUMP payload's footer (2-byte version, CRC-64), then decode its
 * type byte and value through h as rdbDecodeValue does. The footer version
 * goes to *version when not NULL. On error, -1 with the kind in *code (when
 * not NULL; RDB_ERR_CHECKSUM for a footer mismatch, RDB_ERR_HANDLER when a
 * callback stopped) and the reason in errbuf. */
int rdbDecodePayload(const unsigned char *p, size_t len, const rdbKeyInfo *base,
                     const rdbHandlers *h, int *version, rdbErrCode *code, char *errbuf, size_t errlen);

rdbErrCode rdbDecoderErrorCode(const rdbDecoder *d);
/* "offset 1234 (db 0, key 'foo'): ziplist entry runs past its blob" */
const char *rdbDecoderError(const rdbDecoder *d);

/* Progress: bytes consumed, keys seen so far. */
uint64_t rdbDecoderOffset(const rdbDecoder *d);
uint64_t rdbDecoderKeys(const rdbDecoder *d);
int rdbDecoderVersion(const rdbDecoder *d);
rdbFlavour rdbDecoderFlavour(const rdbDecoder *d);

#endif

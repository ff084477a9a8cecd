/* import.h -- the decoder consumer that writes every key to a target.
 *
 * For each key of a snapshot (an RDB file, or later a replica's snapshot
 * stream) it chooses one of three ways and writes through the pipelined
 * writer:
 *   - fast path: RESTORE with the value's raw bytes from the RDB plus a
 *     footer stamped with the lowest RDB version that carries the type, so
 *     any target that knows the type accepts it (no decoding, no rebuild);
 *   - re-encoded: when the target does not know the type, the raw value is
 *     decoded again from memory into the oldest encoding the target
 *     understands (rdb/encode.h), still one RESTORE;
 *   - native commands: a value larger than the RESTORE limit is written as
 *     bounded batches of RPUSH/SADD/ZADD/HSET/XADD..., then its expire.
 * Expires are absolute (RESTORE ... ABSTTL); keys already expired are
 * skipped and counted; IDLE/FREQ hints go as IDLETIME/FREQ; functions are
 * loaded with FUNCTION LOAD. Nothing is dropped silently: each key read is
 * counted as written, skipped (with its reason) or failed, and keys the
 * target cannot represent are named on stderr.
 *
 * Ownership: the importer borrows the writer; it copies the options; free with
 * importFree. Messages go to stderr (one line each) unless noted.
 */
#ifndef RDBSYNC_IMPORT_H
#define RDBSYNC_IMPORT_H

#include <pthread.h>
#include <stdint.h>

#include "conn.h"
#include "filter.h"
#include "rdb/decode.h"
#include "rdb/rdbfile.h"
#include "writer.h"

typedef enum { CONFLICT_ERROR = 0, CONFLICT_REPLACE, CONFLICT_SKIP } conflictPolicy;
typedef enum { ONERROR_STOP = 0, ONERROR_SKIP } errorPolicy;

#define IMPORT_MAX_DBS 64

typedef struct importOptions {
    conflictPolicy on_conflict;
    errorPolicy on_error;
    int drop_field_ttls;     /* write hashes without field TTLs when the target has none */
    long long max_restore;   /* bytes; larger values go as native commands (0 = auto) */
    int db_only[IMPORT_MAX_DBS]; /* with n_db_only > 0: copy only these source dbs */
    int n_db_only;
    int db_map[IMPORT_MAX_DBS];  /* source db -> target db, -1 = same */
    int64_t expire_grace_ms;     /* live copies: expire times less than this ahead are written
                                  * as this much from when the target applies them, and keys
                                  * already expired are written so too, not skipped (grace.h);
                                  * 0 = exact times, expired keys skipped (file imports) */
    const keyFilter *filter;     /* --match/--exclude/--type: keys left out are counted in
                                  * skipped_filtered, never written; NULL = every key */
} importOptions;

typedef struct importStats {
    uint64_t keys_read;        /* key records seen */
    uint64_t written;          /* acknowledged OK by the target */
    uint64_t skipped_expired;
    uint64_t skipped_conflict; /* existing key, --on-conflict skip */
    uint64_t conflicts;        /* existing key that stopped the run (--on-conflict error) */
    uint64_t skipped_empty;    /* empty collections (RESTORE refuses them) */
    uint64_t skipped_db;       /* db not selected */
    uint64_t skipped_filtered; /* left out by --match/--exclude/--type */
    uint64_t unrepresentable;  /* the target cannot hold the key */
    uint64_t lossy_stream;     /* streams written without metadata the target's stream
                                * format cannot hold (RDB_ENC_LOSSY_STREAM) */
    uint64_t dropped_field_ttls; /* hashes written without their field TTLs (--drop-field-ttls) */
    uint64_t dropped_idmp;     /* Redis 8.6 streams written without their IDMP records/settings */
    uint64_t dropped_keymeta;  /* keys written without their Redis 8.6 module metadata */
    uint64_t failed;           /* refused by the target */
    uint64_t reencoded, native;
    uint64_t functions, functions_failed;
    uint64_t bytes;            /* payload bytes sent */
} importStats;

typedef struct importer importer;

/* The writer is attached afterwards (it needs the importer as its reply
 * consumer): importSetWriter before decoding. */
importer *importNew(const rsServerInfo *target, const importOptions *o);
void importSetWriter(importer *im, writer *w);
/* The snapshot as an RDB file instead of commands (--target-load replica,
 * tload.h): while w is set, each key the importer would RESTORE (or write
 * natively) becomes a record of w, with the same filters, --db-map, expire
 * handling and payload choices; SELECTDB on each change of target db, the
 * source's RESIZEDB hints per selected db, function libraries as FUNCTION2
 * records. A record counts as written when it is written. databases: the
 * target's count: a key for a db at or past it stops the import (a replica
 * loading such an RDB exits); so does a module value (a target without the
 * module exits too). NULL goes back to commands. */
void importSetRdb(importer *im, rdbFileWriter *w, long databases);
/* One RDB written by several importers (a cluster source's shards, each on
 * its own thread: ctload.h). A record (with its SELECTDB and hints) is
 * written whole under mu; db is the db of the last SELECTDB written (-1
 * none). The sources' RESIZEDB records are not copied: the owner writes
 * one for the whole. fw NULL: the load was ended, records fail with why.
 * NULL goes back to commands. */
typedef struct importRdbShare {
    pthread_mutex_t mu;
    rdbFileWriter *fw;
    int64_t db;
    char why[400];
} importRdbShare;
void importShareRdb(importer *im, importRdbShare *sh, long databases);
/* Change the conflict policy between snapshots. */
void importSetConflict(importer *im, conflictPolicy p);
void importFree(importer *im);
void importHandlers(importer *im, rdbHandlers *h);
/* The writer's on_reply must be importOnReply with ctx = the importer. */
int importOnReply(void *ctx, const writerTag *tag, const redisReply *r);

/* Write one key given as a DUMP payload (scan mode): the footer version is
 * lowered when the target knows the type, the value re-encoded when it
 * does not; then RESTORE with the same policies and counters as a file
 * import. 0, or -1 when the writer failed or asked to stop. */
int importPayload(importer *im, const rdbKeyInfo *k, const unsigned char *payload, size_t len);
/* DEL a key on the target (scan mode: it disappeared from the source). */
int importDelete(importer *im, uint64_t db, const char *key, size_t keylen);

const importStats *importGetStats(const importer *im);
/* Keys read that reached a verdict: written, skipped (any reason),
 * conflicting, failed or not representable. keys_read minus this is what
 * a stop left not attempted, so that the counts always add up. */
uint64_t importSettled(const importStats *st);
/* 1 when the import stopped on a conflict (OUTCOME_CONFLICT). */
int importConflicted(const importer *im);
/* After a stop (and writerSettle): delete the temporary key of a native
 * write that the stop cut short, on conn (the writer's connection, idle
 * now). 0 when there was none or it is gone. */
int importCleanup(importer *im, rsConn *conn);
/* The reason the importer stopped the decoder ("" when it did not). */
const char *importError(const importer *im);

#endif

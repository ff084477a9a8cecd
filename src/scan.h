/* scan.h -- reading a live source key by key: SCAN + DUMP + expire, for
 * sources that refuse SYNC and PSYNC (ElastiCache, Memorystore, Azure...).
 *
 * scanPass walks every db that has keys (INFO keyspace) with SCAN and a
 * cursor (never KEYS), and for each batch of keys sends DUMP and
 * PEXPIRETIME (PTTL on servers before 7.0) pipelined, then hands each key
 * (db, name, payload, absolute expire) to a sink. Keys that vanished or
 * expired between SCAN and DUMP are counted and skipped. A rate limit
 * (keys/s) and the SCAN COUNT keep the load on production bounded.
 *
 * Users: the scan-mode copy (scancopy.h), live snapshots, checksums and
 * verification (snapshot.h).
 *
 * Ownership: the sink gets borrowed pointers valid during the call.
 * Errors: -1 with a message in err; the stats say how far it got.
 */
#ifndef RDBSYNC_SCAN_H
#define RDBSYNC_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "conn.h"
#include "filter.h"

typedef struct scanOptions {
    int count;       /* SCAN COUNT; 0 = 1000 */
    long rate;       /* keys per second, 0 = unlimited */
    const long *rate_share; /* a cluster's copy (cscan.h): its keys per second instead of
                               rate, read (atomically) at every burst: its share of --rate,
                               which the coordinator recomputes when the masters change */
    int quiet;
    const keyFilter *filter; /* --match/--exclude/--type; NULL = every key. SCAN MATCH for
                                one --match without --exclude, SCAN TYPE for one --type
                                on 6.0+; client-side otherwise (filter.h) */
    const unsigned char *slots; /* a cluster node: only keys of these slots (a bit per slot,
                                   16384 bits); NULL = every key. Keys of other slots are
                                   not DUMPed nor counted */
    int moved_vanish;  /* a cluster node: a DUMP answered -MOVED or -ASK (the slot moved
                          during the pass) counts as vanished, not as an error: the slot's
                          new owner is read instead (cscan.h) */
    int keys_only;     /* the sink gets each key's name only (payload NULL, expire -1):
                          SCAN alone, no DUMP (a prune asks the other side by name) */
} scanOptions;

typedef struct scanItem {
    int db;
    const char *key;
    size_t keylen;
    const unsigned char *payload; /* a DUMP payload */
    size_t len;
    int64_t expire_ms;            /* absolute unix ms, -1 none */
} scanItem;

typedef struct scanStats {
    uint64_t scanned;   /* keys returned by SCAN */
    uint64_t dumped;    /* handed to the sink */
    uint64_t vanished;  /* deleted or expired between SCAN and DUMP */
    uint64_t filtered;  /* returned by SCAN, left out by the filter here (those SCAN
                           MATCH/TYPE left out on the server are not seen, not counted) */
    int server_side;    /* 1 when SCAN MATCH or TYPE did part of the filtering */
} scanStats;

/* Return 0 to go on, non-zero to stop the pass. */
typedef int (*scanSink)(void *ctx, const scanItem *it);

/* One pass over every db of src. */
int scanPass(rsConn *src, const rsServerInfo *info, const scanOptions *o, scanSink sink, void *ctx,
             scanStats *st, char *err, size_t errlen);

/* Read one key now (for notifications and verification): 1 with *it
 * filled (payload owned by the caller: free it), 0 when the key does not
 * exist, -1 on error. */
int scanGetKey(rsConn *src, const rsServerInfo *info, int db, const char *key, size_t keylen, scanItem *it,
               char *err, size_t errlen);

/* Whether a key exists now, without reading its value (EXISTS): 1, 0,
 * or -1 with err (a cluster redirect in it as scanRedirect reads it). */
int scanKeyExists(rsConn *src, int db, const char *key, size_t keylen, char *err, size_t errlen);

/* scanGetKey on a cluster node that is importing the key's slot: ASKING
 * before each command (after an -ASK redirect). */
int scanGetKeyAsking(rsConn *src, const rsServerInfo *info, int db, const char *key, size_t keylen, scanItem *it,
                     char *err, size_t errlen);
/* The cluster redirection err (from scanGetKey or a pass: "source refused
 * DUMP: MOVED 3999 10.0.0.2:7001") carries: CLUSTER_REDIR_MOVED or _ASK
 * (the key's slot is served elsewhere now) with *to filled as
 * clusterRedirectParse does (an empty host: the source's), else
 * CLUSTER_REDIR_NONE. */
clusterRedirKind scanRedirect(const char *err, clusterRedirect *to);
/* 1 when err is a cluster's passing state (-CLUSTERDOWN while a failover
 * is under way, -TRYAGAIN during a migration): worth asking again. A pass
 * with moved_vanish asks again for such keys, up to SCAN_RETRY_MS. */
int scanTransient(const char *err);
#define SCAN_RETRY_MS 30000

/* Read many keys of one db at once (verification): DUMP and the expire
 * query for every key in one pipelined write, then every reply: two round
 * trips for the lot, never one per key. The result holds the replies
 * (memory: the n payloads); scanFetchItem gives key i (1 found, with *it
 * borrowing from the result until scanFetchFree; 0 missing). NULL on error,
 * with a message in err. */
typedef struct scanFetch scanFetch;
scanFetch *scanFetchKeys(rsConn *src, const rsServerInfo *info, int db, const scanItem *want, size_t n, char *err,
                         size_t errlen);
int scanFetchItem(const scanFetch *f, size_t i, scanItem *it);
void scanFetchFree(scanFetch *f);

/* Async-signal-safe stop request (SIGINT/SIGTERM/SIGHUP): a pass in
 * progress ends after its current batch, returning -1 (the pass is
 * incomplete; scanStopRequested() tells it from an error). */
void scanRequestStop(void);
int scanStopRequested(void);

/* The function libraries of a server (FUNCTION LIST WITHCODE), one call
 * of fn per library; 0 when the server has none or no functions. */
int scanFunctions(rsConn *c, int (*fn)(void *ctx, const char *code, size_t len), void *ctx, char *err,
                  size_t errlen);

#endif

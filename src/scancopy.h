/* scancopy.h -- scan mode: copy a live source that refuses SYNC and PSYNC
 * to a target, key by key, then follow its changes.
 *
 * The pass (scan.h) runs on one thread and fills a bounded queue; a second
 * thread takes payloads off it and writes them to the target as RESTORE ...
 * ABSTTL with the import's conflict policy (pipelined, replies checked);
 * payloads whose RDB version or type the target does not accept are
 * re-encoded through the decoder. With follow, keyspace notifications
 * (subscribed before the pass, so nothing in between is missed) then keep
 * the target in sync: each changed key is copied again, or deleted when it
 * is gone. Notifications are fire-and-forget, so after the subscription
 * drops, a fresh pass runs.
 *
 * A master of a cluster source runs one copy among others (cscan.h): its
 * hooks let the coordinator ask it to drain, scan slots again, take keys
 * handed over by the other copies, or end; a key its DUMP finds moved
 * (-MOVED/-ASK) is handed to the coordinator instead of failing the copy.
 *
 * Stops on scanRequestStop() (scan.h). Prints its own error line and
 * summary on stderr.
 */
#ifndef RDBSYNC_SCANCOPY_H
#define RDBSYNC_SCANCOPY_H

#include "conn.h"
#include "import.h"
#include "outcome.h"
#include "scan.h"
#include "url.h"

/* A cluster source (cscan.h): what the coordinator of the copies, one
 * per master, asks of this one. Called on the copy's thread, at each turn
 * of the follow loop. */
typedef struct scanCopyTurn {
    unsigned gen;           /* in: the generation this copy drained at last; out: the
                               coordinator's: when it differs, the copy acknowledges every
                               write sent so far, then reports again with it */
    int rescan;             /* out: 1 = scan these slots again and prune them on the target
                               (they changed owner: this node took them over) */
    unsigned char slots[2048];
    int stop;               /* out: end the copy (its node serves no slot now), outcome OK */
    /* in: queue a key as a keyspace event of this copy (ask: read it
     * after ASKING: handed over from an -ASK redirect) */
    void (*push)(void *copy, int db, const char *key, size_t keylen, int ask);
    void *copy;
} scanCopyTurn;

typedef struct scanCopyHooks {
    void *ctx;
    void (*turn)(void *ctx, scanCopyTurn *t);
    /* A key whose DUMP answered -MOVED or -ASK (ask = 1) to host:port
     * (an unknown endpoint already replaced by this copy's source host):
     * its slot is served elsewhere. Called after every write of this copy
     * was acknowledged. */
    void (*redirect)(void *ctx, int db, const char *key, size_t keylen, int ask, const char *host, int port);
    /* This copy takes slots over from another node's (scan.slots): after
     * its first pass it also deletes from the target the keys of those
     * slots that its node does not have (deleted before it subscribed). */
    int takeover;
} scanCopyHooks;

typedef struct scanCopyConfig {
    const rsUrl *source, *target;
    rsConnOptions source_conn, target_conn;
    importOptions imp;
    scanOptions scan;
    int follow;
    int flush_target;       /* --flush-target: empty the target before the first key */
    int status_interval_ms; /* off a terminal; 0 = 5000 */
    const scanCopyHooks *hooks; /* a master of a cluster source (cscan.h); NULL otherwise */
} scanCopyConfig;

/* The copy pipeline. */
outcome scanCopy(const scanCopyConfig *cfg);

#endif

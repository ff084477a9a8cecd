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

typedef struct scanCopyConfig {
    const rsUrl *source, *target;
    rsConnOptions source_conn, target_conn;
    importOptions imp;
    scanOptions scan;
    int follow;
    int flush_target;       /* --flush-target: empty the target before the first key */
    int status_interval_ms; /* off a terminal; 0 = 5000 */
} scanCopyConfig;

/* The copy pipeline. */
outcome scanCopy(const scanCopyConfig *cfg);

#endif

/* metrics.h -- live sync's numbers over HTTP: Prometheus text at /metrics,
 * the same as one JSON object at /status (--metrics HOST:PORT).
 *
 * The server is libmicrohttpd's, on its own thread. It knows nothing of
 * the sync: the apply side publishes a metricsSnapshot (a copy, under the
 * module's lock) at its status points and on events, and every request
 * renders the last one published. Counters (the *_total fields) are the
 * publisher's to keep growing; a lower value published is ignored, so a
 * scrape never sees one go back.
 *
 * Errors: metricsStart returns NULL with one line in err (a malformed
 * HOST:PORT, or a port that cannot be bound, with the reason); *usage
 * tells the two apart. Nothing is printed here.
 */
#ifndef RDBSYNC_METRICS_H
#define RDBSYNC_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* The phases, as label values of rdbsync_phase (one is 1, the others 0). */
typedef enum metricsPhase {
    METRICS_CONNECTING = 0,
    METRICS_WAITING,    /* for the source to start or send its snapshot */
    METRICS_SNAPSHOT,   /* loading a snapshot into the target */
    METRICS_STREAMING,  /* applying the command stream */
    METRICS_STOPPED,    /* the sync ended; the process is about to exit */
    METRICS_NPHASES
} metricsPhase;

/* The label value of a phase ("connecting", ...), also the phase word of
 * the JSON status lines. */
const char *metricsPhaseName(metricsPhase p);

typedef struct metricsSnapshot {
    metricsPhase phase;
    int in_sync;                  /* the status line's "in sync" */
    int64_t source_offset;        /* the source's stream offset received */
    int64_t applied_offset;       /* acknowledged by the target */
    int64_t lag_bytes;
    double lag_seconds;           /* age of the oldest received, unapplied byte */
    uint64_t spool_bytes;         /* received, not yet read by the apply side */
    uint64_t keys_written_total;  /* snapshot keys the target acknowledged */
    uint64_t commands_applied_total;
    uint64_t errors_refused_total;  /* writes the target refused */
    uint64_t errors_conflict_total; /* keys that already existed (stopping the run) */
    uint64_t errors_link_total;     /* source or target links lost */
    uint64_t full_syncs_total;
    uint64_t partial_resyncs_total;
} metricsSnapshot;

typedef struct metrics metrics;

/* Listens on HOST:PORT ("127.0.0.1:9121", "[::1]:9121", ":9121" for every
 * address) before returning, so a busy port is known before any sync. */
metrics *metricsStart(const char *hostport, int *usage, char *err, size_t errlen);
/* Thread-safe; m may be NULL (no --metrics). */
void metricsPublish(metrics *m, const metricsSnapshot *snap);
/* A cluster source: one snapshot per shard (0 .. METRICS_MAX_SHARDS - 1),
 * labelled shard="label". Once a shard published, /metrics carries that
 * label on every series and /status is {"in_sync": every shard, "shards":
 * [one object per shard]}. Thread-safe; m may be NULL. */
#define METRICS_MAX_SHARDS 64
void metricsPublishShard(metrics *m, int shard, const char *label, const metricsSnapshot *snap);
void metricsStop(metrics *m);

/* The renderings, for tests: 0, or -1 when cap is too small. */
int metricsRenderText(const metricsSnapshot *s, char *buf, size_t cap);
int metricsRenderJson(const metricsSnapshot *s, char *buf, size_t cap);
int metricsRenderTextShards(const metricsSnapshot *s, const char *const *labels, int n, char *buf, size_t cap);
int metricsRenderJsonShards(const metricsSnapshot *s, const char *const *labels, int n, char *buf, size_t cap);

#endif

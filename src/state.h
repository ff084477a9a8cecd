/* state.h -- the --state file: where a live sync stands, so that a
 * restarted rdbsync continues (PSYNC <replid> <applied + 1>) instead of
 * starting a new full sync.
 *
 * What it holds: the target (its address and run_id), then one record per
 * replica link, keyed by the source node's address (one link for a
 * standalone source; one per shard for a cluster source): the source's
 * run_id, the replication id and the applied offset (the last byte of the
 * stream the target ACKNOWLEDGED, never one only sent), the stream db at
 * that offset, and whether the target holds only what rdbsync wrote.
 * A link whose snapshot load was under way has no position (replid "-",
 * offset -1): a restart from it does a full sync.
 *
 * Format, version 1: text, one record per line, fields "name=value"
 * separated by one space, values percent-escaped (%XX for bytes <= 0x20,
 * '%', '=' and >= 0x7f), "-" for an empty value:
 *
 *   rdbsync-state 1
 *   target addr=127.0.0.1:6380 run_id=4f0c...
 *   link source=127.0.0.1:6379 run_id=9a1b... replid=8e2d... offset=123456 db=0 target_ours=1 updated=1796...
 *
 * A cluster source's shard (cstate.h) is keyed by its slot ranges and
 * names its nodes (node ids, comma-separated), which stay through a
 * failover while addresses and masters change:
 *
 *   link source=slots:0-5460 nodes=07c3...,e1f2... run_id=... replid=... offset=...
 *   checksum 0123456789abcdef
 *
 * The last line is the CRC-64 (rdb/crc64.h, Redis's) of every byte before
 * it, in 16 lower-case hex digits: a file cut short or edited is refused,
 * never trusted. Unknown field names are refused too (a newer writer).
 *
 * Durability: stateSave writes FILE.rdbsync-tmp, fsyncs it, renames it
 * over FILE and fsyncs the directory, so a SIGKILL or a crash at any
 * moment leaves the previous file or the new one, whole. A temporary left
 * by a killed run is overwritten by the next save.
 *
 * The keeper (stateKeeper*) writes on its own thread, at most every
 * interval and only when a link changed, so the apply side never waits
 * for an fsync; stateKeeperFlush writes at once (before a snapshot load
 * invalidates the position, and at exit).
 *
 * Two runs never share a FILE: stateLock holds FILE.lock for the run.
 *
 * Errors: -1 with one line in err naming the file and, for a bad file,
 * the line and what is wrong with it. stateLoad returns 0 for an absent
 * file (a first run).
 */
#ifndef RDBSYNC_STATE_H
#define RDBSYNC_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "url.h"

#define STATE_VERSION 1
#define STATE_MAX_LINKS 64      /* links (cluster shards) in one file */
#define STATE_ADDR_LEN 256
#define STATE_ID_LEN 40         /* run_id, replid: 40 hex */
#define STATE_NODES_LEN (8 * (STATE_ID_LEN + 1)) /* a shard's node ids, comma-separated */

typedef struct stateLink {
    char source[STATE_ADDR_LEN];       /* the key: the source node's address; for a
                                          cluster shard "slots:RANGES" (cstate.h) */
    char nodes[STATE_NODES_LEN + 1];   /* a cluster shard's node ids ("" standalone) */
    char source_run_id[STATE_ID_LEN + 1]; /* "" unknown */
    char replid[STATE_ID_LEN + 1];     /* "" when there is no position */
    int64_t offset;                    /* last acknowledged byte; -1 none */
    int db;                            /* stream db at that offset */
    int target_ours;                   /* the target holds only what rdbsync wrote */
    int64_t updated_ms;                /* unix ms of the position */
} stateLink;

typedef struct stateFile {
    char target[STATE_ADDR_LEN];
    char target_run_id[STATE_ID_LEN + 1];
    int nlinks;
    stateLink links[STATE_MAX_LINKS];
} stateFile;

/* An endpoint's address as the file keys it: "host:port", "[v6]:port",
 * "unix:/path". */
void stateAddress(const rsUrl *u, char *out, size_t cap);

/* The link keyed by source, or NULL. */
stateLink *stateFind(stateFile *st, const char *source);
/* Add or replace the link with l's source. -1 when the file is full. */
int stateSet(stateFile *st, const stateLink *l);
/* A link has a position to resume from. */
int stateHasPosition(const stateLink *l);

/* The file's bytes; returns the length (cap too small: -1). */
long stateFormat(const stateFile *st, char *buf, size_t cap);
/* Parse and verify (version, checksum, fields). 0 or -1 with err. */
int stateParse(const char *buf, size_t len, stateFile *st, char *err, size_t errlen);

/* 1 loaded, 0 absent, -1 unreadable or corrupt (err). */
int stateLoad(const char *path, stateFile *st, char *err, size_t errlen);
/* Atomic replace (see above). 0 or -1 with err. */
int stateSave(const char *path, const stateFile *st, char *err, size_t errlen);

/* One run per FILE: an exclusive lock (flock) on FILE.lock, created if
 * needed and left in place. The fd (>= 0) to keep open while running, or
 * -1 with err (another process holds it, or it cannot be created). */
int stateLock(const char *path, char *err, size_t errlen);
void stateUnlock(int fd);

/* Is this file about these endpoints? 0 yes; -1 with why (one clause)
 * when the target's address or run_id differ, or the file has links and
 * none for source. target_run_id "" (unknown) is not compared; source
 * NULL is not looked for (a cluster source checks its links itself). */
int stateMatches(const stateFile *st, const char *target, const char *target_run_id, const char *source, char *why,
                 size_t cap);

/* ---- the keeper ---- */

typedef struct stateKeeper stateKeeper;

/* Writes 'initial' at once (a path that cannot be written fails here, so
 * a run never streams without the state it was asked to keep), then every
 * interval_ms while something changed. NULL with err. */
stateKeeper *stateKeeperStart(const char *path, const stateFile *initial, int interval_ms, char *err, size_t errlen);
/* Record a link's position (cheap: memory only, under a lock). */
void stateKeeperSetLink(stateKeeper *k, const stateLink *l);
/* Record the target's run_id (after it restarted and was reloaded). */
void stateKeeperSetTarget(stateKeeper *k, const char *run_id);
/* Write now if anything changed. 0 or -1 with err. */
int stateKeeperFlush(stateKeeper *k, char *err, size_t errlen);
/* Stop the thread and write a last time. 0 or -1 with err. NULL is fine. */
int stateKeeperStop(stateKeeper *k, char *err, size_t errlen);

#endif

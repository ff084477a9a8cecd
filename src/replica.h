/* replica.h -- the link to a source, as a replica (PSYNC; SYNC on old
 * servers), on its own thread.
 *
 * The link thread owns the source socket. It does the handshake (AUTH via
 * conn.c, then REPLCONF and PSYNC through psync.h), takes the snapshot off
 * the wire in either form (sized or diskless, psync.h strips the mark),
 * and then the command stream, and appends
 * every byte to a spool at once: the source never waits for the target.
 * It sends REPLCONF ACK <applied offset> every second and when asked (a
 * GETACK seen by the apply side), and right after a diskless snapshot, which
 * is what makes the master start the command stream. A master PINGs its
 * replicas every repl-ping-replica-period (read with CONFIG GET, else 10 s)
 * even when idle: a link that brings nothing for source_timeout_ms is
 * dropped and continued (PSYNC from what was received).
 *
 * Epochs: each PSYNC outcome hands the apply side an epoch, a spool plus
 * what it holds: a full sync (an RDB, then commands from 'offset') or a
 * continuation (commands from 'offset'). A dropped source link is resumed
 * with PSYNC <replid> <received+1> into the same epoch when the source
 * allows (+CONTINUE), so nothing is fetched twice; otherwise a new full
 * epoch starts and the old spool is closed. A link dropped during a
 * snapshot is never continued (the rest of that RDB would never come):
 * the spool is closed where the bytes stop and a full sync (PSYNC ? -1)
 * follows.
 *
 * The apply side can also ask for a resync (replicaResync), e.g. after
 * losing the target: the link is re-established with PSYNC from the
 * applied offset + 1 into a fresh epoch, or with a full sync.
 *
 * Resume (replicaSetResume): start the link from a position known from
 * elsewhere (a --state file, an exactly-once checkpoint on the target):
 * PSYNC <replid> <offset + 1>. +CONTINUE gives a continuation epoch marked
 * 'resumed'; a full sync instead (the backlog no longer holds the offset,
 * another history, a SYNC-only source) is said in one line with the
 * reason (resume.h), which the full epoch also carries in 'resume_refused'.
 *
 * Each session reads INFO server and INFO keyspace on the link's own
 * connection before PSYNC (a refusal leaves them unknown), and every epoch
 * carries what that session learned: who the source is (run_id) and how
 * many keys it holds, so that the apply side can tell a restarted source
 * from a full resync it caused (resync.h).
 *
 * Replication state (replid, applied offset, stream db) lives in one
 * struct, replState, so it can be persisted and resumed.
 *
 * Ownership: replicaNew copies the URL; replicaFree stops the thread and
 * frees everything, including spools of epochs not taken. An epoch's spool
 * reference belongs to the apply side once replicaNextEpoch returned it
 * (spoolFree it when done; the link keeps its own while it writes).
 */
#ifndef RDBSYNC_REPLICA_H
#define RDBSYNC_REPLICA_H

#include <stdint.h>

#include "conn.h"
#include "resync.h"
#include "spool.h"
#include "url.h"

typedef struct replState {
    char replid[41];   /* "" or "?" when unknown (SYNC) */
    int64_t offset;    /* last applied byte of the stream; -1 unknown; on a
                          SYNC-style link, bytes of the stream since the
                          snapshot (the source gives no offsets) */
    int db;            /* stream db at that offset */
} replState;

typedef enum { EPOCH_FULL = 1, EPOCH_CONTINUE = 2 } epochKind;

typedef struct replEpoch {
    epochKind kind;
    spool *sp;
    char replid[41];
    int64_t offset;          /* stream offset of the byte before the first command */
    int64_t rdb_size;        /* -1 for diskless (unknown) or a continuation */
    int diskless;
    int sync_only;           /* SYNC (no PSYNC): no offsets, no partial resync */
    resyncFacts src;         /* the source's run_id and key counts, read on the
                                link's connection just before this epoch's
                                PSYNC (resync.h) */
    uint64_t seq;            /* 1, 2, ...: the order epochs were made in */
    /* The last +CONTINUE into an earlier epoch's spool (a dropped link
     * resumed, maybe by a source restarted with its data): the source that
     * proved it holds that epoch's history. "" and 0 when none. */
    char cont_run_id[RESYNC_RUN_ID_LEN + 1];
    uint64_t cont_seq;       /* the epoch it continued */
    int resumed;             /* a continuation that answered replicaSetResume */
    char resume_refused[300];/* a full epoch that answered replicaSetResume
                                instead: why the source would not continue
                                (resume.h); "" otherwise */
} replEpoch;

typedef enum {
    REPL_CONNECTING = 0,
    REPL_WAIT_START,     /* PSYNC sent, the master answers only keepalives:
                            its diskless-sync delay, or a BGSAVE for others */
    REPL_WAIT_SNAPSHOT,  /* +FULLRESYNC: waiting for the snapshot's header
                            (a disk-based master is still saving) */
    REPL_TRANSFER,       /* snapshot bytes arriving */
    REPL_STREAMING,
    REPL_FAILED
} replPhase;

typedef struct replicaOptions {
    const rsUrl *url;
    rsConnOptions conn;
    size_t spool_mem;        /* bytes of spool kept in memory */
    const char *spool_dir;
    int quiet;
    const char *psync_cmd;   /* the name PSYNC has on this source (some managed
                                services rename it on request); NULL = PSYNC */
    int source_timeout_ms;   /* a link silent this long is dropped and
                                continued; 0 = REPLICA_DEFAULT_SOURCE_TIMEOUT_MS */
    const char *log_tag;     /* the link thread's line label (log.h); NULL none */
    /* A cluster shard's node changes (failover): before each reconnect,
     * relocate may replace *url with where the shard's node is now (0), or
     * leave it (-1). NULL: always the same URL. Runs on the link thread. */
    int (*relocate)(void *ctx, rsUrl *url);
    /* Polled while streaming (cheap): 1 when the shard's node changed (a
     * failover made it a replica): the link is dropped and relocated. */
    int (*moved)(void *ctx);
    void *relocate_ctx;
} replicaOptions;

#define REPLICA_DEFAULT_SOURCE_TIMEOUT_MS 60000

typedef struct replica replica;

replica *replicaNew(const replicaOptions *o);
/* Start the link thread; resume may be NULL (full sync), else as
 * replicaSetResume. -1 when the thread cannot start or resume is invalid. */
int replicaStart(replica *r, const replState *resume);
/* Continue from a known position: the next session asks PSYNC
 * <st->replid> <st->offset + 1> and, on +CONTINUE, publishes an
 * EPOCH_CONTINUE epoch from st->offset (stream db st->db) with resumed = 1;
 * otherwise a full epoch whose resume_refused says why (also said on
 * stderr, one line). The position stays asked for until the source
 * answers (a link that fails before keeps it). Before replicaStart it is
 * where the first session starts; while running, the link is dropped and
 * re-established from there, and the applied offset is set to st->offset
 * (the apply side should stop applying the epoch it holds: its spool
 * ends). -1 (nothing changed) when st has no 40-hex replid or offset < 0. */
int replicaSetResume(replica *r, const replState *st);
void replicaFree(replica *r);

/* Apply side: wait for the next epoch (at most timeout_ms, < 0 forever).
 * 1 = got one, 0 = timeout, -1 = the link failed for good (replicaError)
 * or the replica was stopped. */
int replicaNextEpoch(replica *r, replEpoch *ep, int timeout_ms);
/* Report the applied offset (sent in ACKs) and its stream db. */
void replicaSetApplied(replica *r, int64_t offset, int db);
void replicaRequestAck(replica *r);
/* Drop the link and PSYNC again: from the applied offset + 1, or (full)
 * from scratch. */
void replicaResync(replica *r, int full);
void replicaStop(replica *r);

/* Status, for the status line. */
typedef struct replStatus {
    replPhase phase;
    int64_t received;        /* stream offset received (spooled) */
    int64_t applied;
    uint64_t snapshot_bytes; /* received so far of the current snapshot */
    int64_t snapshot_size;   /* -1 when unknown */
    int64_t lag_ms;          /* age of the oldest received, unapplied byte */
    uint64_t full_syncs, partial_syncs, reconnects;
    int sync_only;           /* a SYNC-style link: offsets count bytes since
                                the snapshot */
    int pending_epochs;      /* published, not yet taken by the apply side */
    int64_t silent_ms;       /* streaming: since the source's last byte */
    int64_t ping_period_ms;  /* the source's repl-ping-replica-period: an
                                idle source still sends a PING this often */
} replStatus;
void replicaGetStatus(replica *r, replStatus *st);
const char *replicaError(replica *r);
/* 1 when the source refused both PSYNC and SYNC (scan mode can help). */
int replicaRefused(replica *r);
/* The state to persist or resume from. */
void replicaGetState(replica *r, replState *st);

#endif

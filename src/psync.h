/* psync.h -- the replication wire, as a replica speaks it to a master.
 *
 * Requests: the REPLCONF handshake, PSYNC <replid> <offset> (under any
 * name: some managed services rename it), SYNC for servers without PSYNC,
 * REPLCONF ACK. Replies: the PSYNC answer line, read past the keepalive
 * newlines a master sends while it prepares a snapshot, and classified
 * (+FULLRESYNC, +CONTINUE, a snapshot header at once = handled as SYNC,
 * a refusal, another error). Then the snapshot itself, in either form:
 *
 *   $<len>\r\n<len bytes>                      disk-based (sized)
 *   $EOF:<40-byte mark>\r\n<bytes><mark>        diskless (marked)
 *
 * A transfer hands out the RDB bytes only: a marked transfer holds back
 * the last PSYNC_MARK_LEN bytes until it knows they are not the mark, and
 * never passes the mark on. Nothing follows the mark until the replica's
 * first ACK, so the end is where the last read ends with the mark.
 *
 * This module owns no connection: every call works on the caller's rsConn
 * (conn.h), blocking up to its I/O timeout of inactivity. Users: replica.c
 * (live sync: the bytes go to a spool) and snapshot.c (--source --file /
 * --checksum: the bytes go to the decoder).
 *
 * Errors: -1 (or PSYNC_ERROR) with one line in the caller's err buffer,
 * or connError(c) for the request helpers that say so.
 */
#ifndef RDBSYNC_PSYNC_H
#define RDBSYNC_PSYNC_H

#include <stdint.h>
#include <sys/types.h>

#include "conn.h"

#define PSYNC_REPLID_LEN 40          /* a replication id, in hex */
#define PSYNC_MARK_LEN 40            /* the diskless end mark */
#define PSYNC_EOF_PREFIX "$EOF:"     /* the diskless header, before the mark */
#define PSYNC_EOF_PREFIX_LEN 5
#define PSYNC_EOF_HEADER_LEN (PSYNC_EOF_PREFIX_LEN + PSYNC_MARK_LEN)
#define PSYNC_DEFAULT_PING_PERIOD 10 /* repl-ping-replica-period's default, s */

/* ---- requests ---- */

enum {
    PSYNC_LISTENING_PORT = 1, /* REPLCONF listening-port 0: a live replica */
    PSYNC_RDB_ONLY = 2,       /* REPLCONF rdb-only 1: the snapshot, no stream */
};
/* REPLCONF [listening-port 0] capa eof capa psync2 [rdb-only 1]. Error
 * replies are not failures (old servers lack some of them); -1 only when
 * the connection failed (connError). */
int psyncHandshake(rsConn *c, int flags);
/* <name> <replid> <offset>; replid NULL or "" means "?", offset < 0 "-1"
 * (a full sync). name NULL = PSYNC. 0 or -1 (connError). */
int psyncRequest(rsConn *c, const char *name, const char *replid, int64_t offset);
int psyncRequestSync(rsConn *c);
/* REPLCONF ACK <offset> (negative offsets as 0). 0 or -1 (connError). */
int psyncAck(rsConn *c, int64_t offset);
/* The source's repl-ping-replica-period in seconds (CONFIG GET, either
 * name), or PSYNC_DEFAULT_PING_PERIOD where CONFIG is refused. -1 when the
 * connection failed. */
int psyncPingPeriod(rsConn *c);

/* ---- replies ---- */

/* Called for every keepalive newline while a reply is awaited: non-zero
 * gives up (psyncReadLine returns -1). NULL: just skip them. */
typedef int (*psyncKeepaliveFn)(void *ctx);
/* The next non-empty line, without its CRLF. 0, or -1 (connError, or the
 * callback gave up). */
int psyncReadLine(rsConn *c, char *line, size_t cap, psyncKeepaliveFn fn, void *ctx);

typedef enum {
    PSYNC_FULLRESYNC,  /* +FULLRESYNC <replid> <offset>: a snapshot follows */
    PSYNC_CONTINUE,    /* +CONTINUE [<replid>]: the stream follows */
    PSYNC_SNAPSHOT,    /* a snapshot header at once: handled as SYNC */
    PSYNC_REFUSED,     /* the command is unknown, renamed or forbidden */
    PSYNC_ERROR,       /* another error (-LOADING, -NOMASTERLINK...) or junk */
} psyncReplyKind;

typedef struct psyncReply {
    psyncReplyKind kind;
    char replid[PSYNC_REPLID_LEN + 1]; /* "" when not given */
    int64_t offset;                    /* FULLRESYNC's; -1 otherwise */
} psyncReply;

psyncReplyKind psyncParseReply(const char *line, psyncReply *out);
/* An error line that means "this server will not replicate to us" (unknown
 * command, NOPERM), as opposed to "not now". */
int psyncIsRefusal(const char *line);

/* ---- the snapshot transfer ---- */

typedef struct psyncTransfer {
    rsConn *c;
    int64_t size;                 /* sized: the length; -1 when marked */
    int64_t left;                 /* sized: bytes still to come */
    char mark[PSYNC_MARK_LEN];
    char hold[PSYNC_MARK_LEN];    /* marked: the last bytes, maybe the mark */
    size_t held;
    uint64_t passed;              /* RDB bytes handed out so far */
    int done;                     /* the whole snapshot came */
} psyncTransfer;

/* Start reading a snapshot whose header line (as psyncReadLine gives it)
 * is 'header'. -1 with a message when it is no snapshot header. */
int psyncTransferStart(psyncTransfer *t, rsConn *c, const char *header, char *err, size_t errlen);
/* Up to cap RDB bytes (one read of the link at most): > 0 bytes, 0 when the
 * snapshot is complete, -1 when the link failed or closed first (message
 * names how far it got). */
ssize_t psyncTransferRead(psyncTransfer *t, void *buf, size_t cap, char *err, size_t errlen);
/* The same as an rdbReadFn (rdb/rio.h), with the transfer as source. */
ssize_t psyncTransferReadFn(void *transfer, void *buf, size_t cap, char *err, size_t errlen);

#endif

/* writer.h -- the pipelined, full-duplex command writer to a target.
 *
 * Commands are formatted with hiredis (redisFormatCommandArgv), queued in an
 * output buffer and sent in large writes, while replies are read as they
 * come back, in the same poll loop: never one round trip per key. The number
 * of commands and of bytes in flight (sent, reply not yet read) is bounded,
 * so memory stays bounded and the target's query buffer never balloons.
 *
 * Every reply is matched, in order, to the command that caused it: a ring
 * keeps (command name, db, key prefix, source offset) per command in flight,
 * and the on_reply callback receives that tag with the reply, so an error
 * can name the key that caused it.
 *
 * SELECT is tracked here: writerSelect emits it only when the db changes.
 * The first SELECT of each db on a connection waits for its reply before
 * anything else is sent: a target without that db (--databases 4) refuses
 * it, and pipelined commands behind it would land in the db selected
 * before. A refused SELECT stops the writer (its reply still reaches
 * on_reply, tag kind WRITER_K_SELECT, db = the refused db). Later SELECTs
 * of a db already accepted are pipelined like any command.
 *
 * Ownership: the writer borrows the connection (the caller closes it after
 * writerFree). Tags are copied (keys truncated to WRITER_KEY_MAX bytes for
 * messages). Replies handed to on_reply are freed after the callback.
 *
 * Errors: functions return 0 or -1. -1 means the connection failed (message
 * in writerError) or on_reply returned non-zero (writerStopped() is 1 and
 * the callback owns the reason). After -1 the writer is unusable.
 */
#ifndef RDBSYNC_WRITER_H
#define RDBSYNC_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "conn.h"

#define WRITER_KEY_MAX 200

typedef struct writer writer;

/* What a command was for, which decides how its reply is handled
 * (importOnReply, sync.c's onReply). One registry, so that two modules
 * never give one number two meanings. */
typedef enum writerKind {
    WRITER_K_OTHER = 0,    /* DEL, ...: an error reply stops */
    WRITER_K_SELECT,       /* writer.c: its own first SELECT of a db (refused: the db is missing) */
    WRITER_K_RESTORE,      /* import.c: one key's RESTORE */
    WRITER_K_FUNCTION,     /* import.c: FUNCTION LOAD */
    WRITER_K_NATIVE_BATCH, /* native.c: element commands and DEL of a big key */
    WRITER_K_NATIVE_FINAL, /* native.c: the RENAME/RENAMENX that publishes it */
    WRITER_K_NATIVE_RESERVE, /* native.c: SET NX of its temporary name (nil: taken, stop) */
    WRITER_K_FLUSH,        /* sync.c: FLUSHALL/FLUSHDB/FUNCTION FLUSH before a resync */
    WRITER_K_STREAM,       /* sync.c: a command of the live replication stream */
    WRITER_K_BATCH,        /* checkpoint.c: MULTI and the checkpoint's HSET of a batch */
    WRITER_K_CHECKPOINT    /* checkpoint.c: a batch's EXEC, or a lone checkpoint HSET */
} writerKind;

/* What a command was about; copied by the writer. */
typedef struct writerTag {
    const char *cmd;      /* "RESTORE", "SELECT", ...: copied (31 bytes) */
    uint64_t db;
    const char *key;      /* may be NULL */
    size_t keylen;
    uint64_t src_offset;  /* replication offset of the source command, or 0 */
    writerKind kind;
} writerTag;

typedef struct writerOptions {
    size_t max_cmds;   /* commands in flight; 0 = 4096 */
    size_t max_bytes;  /* bytes in flight; 0 = 8 MiB */
    /* Called for every reply, in command order; return non-zero to stop. */
    int (*on_reply)(void *ctx, const writerTag *tag, const redisReply *r);
    void *ctx;
} writerOptions;

writer *writerNew(rsConn *c, const writerOptions *o);
/* A writer over a cluster target: every call below goes to the router
 * (router.h), which keeps one writer per master. The router is borrowed:
 * free it after the writer. */
struct router;
writer *writerNewRouted(struct router *rt, const writerOptions *o);
/* The router behind a writer, NULL for a one-node writer. */
struct router *writerRouter(const writer *w);
void writerFree(writer *w);

/* Queue one command; may wait for replies to keep the window. The tag's
 * db is informational; use writerSelect to change db. */
int writerCommand(writer *w, int argc, const char **argv, const size_t *lens, const writerTag *tag);
/* Queue one command already in RESP form (cmd[0..len), copied). */
int writerCommandRaw(writer *w, const char *cmd, size_t len, const writerTag *tag);
/* Make db the selected database of the target connection. */
int writerSelect(writer *w, uint64_t db);
/* Forget the selected db (after a reconnect or a command that changes it). */
void writerResetDb(writer *w);
/* Send everything queued and wait for every reply. */
int writerDrain(writer *w);
/* Send everything queued (waiting only for the socket), read the replies
 * already there: for streaming, where latency matters more than batching. */
int writerFlush(writer *w);
/* Without waiting: send what the socket takes, read what has arrived. */
int writerPoll(writer *w);

const char *writerError(const writer *w);
int writerStopped(const writer *w);
/* After a stop, "stop means stop": commands still in our buffer are never
 * sent (writerDropped counts them); those already on the wire reach the
 * server anyway (a pipeline cannot be taken back), so their replies are
 * read, each passed to on_reply (whose return value no longer stops
 * anything), and the consumer's counts match what the server holds. The
 * writer stays stopped. -1 when the link fails. */
int writerSettle(writer *w);
uint64_t writerDropped(const writer *w);
uint64_t writerReplies(const writer *w); /* replies received */
size_t writerInFlight(const writer *w);

#endif

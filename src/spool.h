/* spool.h -- a byte FIFO between the thread that drains the source and the
 * thread that applies to the target, in memory first and on disk beyond.
 *
 * The source must never wait for the target: a master drops a replica that
 * reads too slowly (client-output-buffer-limit replica), and the full sync
 * starts again, forever. So the link thread appends everything it receives
 * here at once, and the apply thread takes it at the target's pace. Up to
 * mem_limit bytes stay in memory; past that, new bytes go to an unlinked
 * temporary file in 'dir', so memory stays bounded whatever the lag.
 *
 * Transitions: a put that does not fit in what memory has left goes to the
 * file whole. Once the file holds unread bytes, every put goes there too,
 * even when memory has emptied meanwhile, until the reader has read all of
 * it; then the file is truncated (and kept for the next spill) and memory
 * takes new bytes again. So bytes come out exactly in the order put.
 *
 * The writer never waits for the reader's I/O: file reads and writes run
 * outside the lock, which guards only offsets, counters and the memory
 * chunks (the writer may still wait for a memcpy into memory or for the
 * disk itself).
 *
 * One spool is one replication epoch: the bytes of one snapshot and the
 * command stream after it. A full resync starts a new spool.
 *
 * Thread safety: one writer thread and one reader thread; every function
 * is safe to call concurrently with the other side's.
 *
 * Ownership: reference counted, since the link thread may still be writing
 * into an epoch the apply side has given up: spoolNew returns one
 * reference, spoolRetain adds one, spoolFree drops one and frees the spool
 * with the last. Errors (disk full, I/O) are sticky: spoolPut returns -1,
 * spoolRead returns -1 with the message in the err buffer.
 */
#ifndef RDBSYNC_SPOOL_H
#define RDBSYNC_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct spool spool;

spool *spoolNew(size_t mem_limit, const char *dir);
spool *spoolRetain(spool *s);
void spoolFree(spool *s);

/* Writer side. */
int spoolPut(spool *s, const void *p, size_t n);
/* No more bytes will come: the reader gets end of stream after the rest. */
void spoolClose(spool *s);

/* Reader side: blocks until at least one byte, end of stream (0) or error
 * (-1). An rdbReadFn (rdb/rio.h) with the spool as source. */
ssize_t spoolRead(void *spool, void *buf, size_t cap, char *err, size_t errlen);
/* Like spoolRead but waits at most timeout_ms; returns -2 when nothing
 * came in time. */
ssize_t spoolReadTimed(spool *s, void *buf, size_t cap, int timeout_ms, char *err, size_t errlen);
/* Wake a reader blocked in spoolRead/spoolReadTimed (it returns -2). */
void spoolWake(spool *s);

/* Counters. */
uint64_t spoolWritten(spool *s);  /* bytes put */
uint64_t spoolConsumed(spool *s); /* bytes read */
uint64_t spoolOnDisk(spool *s);   /* bytes currently in the file */

#endif

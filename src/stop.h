/* stop.h -- the process-wide stop request (SIGINT, SIGTERM, SIGHUP).
 *
 * main.c installs one handler for the three signals; it records which
 * signal came (stopNote) and tells the modes that keep their own flag.
 * Modes look at stopRequested() at their loop boundaries and end with
 * OUTCOME_INTERRUPTED when their work is unfinished (outcome.h).
 *
 * Reading a file or a pipe can block longer than a person waits, and the
 * signal may land on any thread; stopInputOpen gives a reader whose reads
 * wait in poll() a slice at a time and fail with "interrupted" once a stop
 * was requested, whichever thread took the signal.
 */
#ifndef RDBSYNC_STOP_H
#define RDBSYNC_STOP_H

#include "rdb/rio.h"

/* Async-signal-safe: record sig as the stop request. */
void stopNote(int sig);
int stopRequested(void);
/* "SIGTERM", "SIGINT", "SIGHUP" or "a signal". */
const char *stopSignalName(void);

/* A file ("-" = standard input) read through a stoppable reader. */
typedef struct stopInput {
    rdbReader *r;
    int fd;
    int owned;   /* fd was opened here */
} stopInput;

/* -1 with errno when the file cannot be opened. in must not move while
 * the reader is in use. */
int stopInputOpen(stopInput *in, const char *path);
void stopInputClose(stopInput *in);

#endif

/* exitcode.h -- rdbsync's exit statuses, all below 128 (README lists them). */
#ifndef RDBSYNC_EXITCODE_H
#define RDBSYNC_EXITCODE_H

#define EXIT_OK 0        /* success, also a live sync stopped after its snapshot was applied */
#define EXIT_USAGE 1     /* bad flag, bad URL, missing argument */
#define EXIT_INPUT 2     /* cannot open or read the input */
#define EXIT_DECODE 3    /* corrupt or unsupported RDB / payload */
#define EXIT_CRC 4       /* trailing checksum does not match */
#define EXIT_CONNECT 5   /* cannot connect or authenticate */
#define EXIT_WRITE 6     /* the target refused writes, or keys were not written */
#define EXIT_CONFLICT 7  /* a key exists on the target (--on-conflict error) */
#define EXIT_DIFFER 8    /* --verify found differences */
#define EXIT_INTERRUPTED 9 /* stopped by SIGINT/SIGTERM/SIGHUP before done: output/target partial */
#define EXIT_CUTOVER 10   /* a cut-over did not complete in the pause: source unpaused, nothing switched */
#define EXIT_INTERNAL 70 /* out of memory, a bug */

#endif

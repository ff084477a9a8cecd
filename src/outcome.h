/* outcome.h -- how a mode ended, as a value.
 *
 * Every mode (checkfile, fileimport, sync, scancopy, snapshot) returns one
 * of these and prints its own one-line reason; main.c alone turns an
 * outcome into an exit status (exitcode.h, README "Exit status"). So a
 * mode never picks a number, and nothing picks one by reading message text.
 */
#ifndef RDBSYNC_OUTCOME_H
#define RDBSYNC_OUTCOME_H

#include "rdb/decode.h"

typedef enum outcome {
    OUTCOME_OK = 0,
    OUTCOME_USAGE,       /* bad flag, value, URL, or a contradiction */
    OUTCOME_INPUT,       /* the input (or an output file) cannot be opened, read or written */
    OUTCOME_DECODE,      /* corrupt or unsupported input */
    OUTCOME_CRC,         /* a CRC-64 does not match */
    OUTCOME_CONNECT,     /* cannot connect or authenticate, or a link failed */
    OUTCOME_WRITE,       /* the target refused writes, or keys were not written */
    OUTCOME_CONFLICT,    /* a key or function library already exists on the target */
    OUTCOME_DIFFER,      /* verification found differences */
    OUTCOME_INTERRUPTED, /* stopped by a signal before done: output or target partial */
    OUTCOME_CUTOVER,     /* a cut-over did not complete: the source was unpaused, nothing switched */
    OUTCOME_INTERNAL,    /* out of memory, a bug */
} outcome;

/* The outcome of a decoder error code (the reader's and the decoder's
 * failures; RDB_ERR_HANDLER means a consumer stopped it, whose own
 * outcome the caller knows better, here OUTCOME_DECODE). */
static inline outcome outcomeOfDecode(rdbErrCode code) {
    switch (code) {
    case RDB_ERR_IO: return OUTCOME_INPUT;
    case RDB_ERR_CHECKSUM: return OUTCOME_CRC;
    case RDB_ERR_NOMEM: return OUTCOME_INTERNAL;
    default: return OUTCOME_DECODE;
    }
}

#endif

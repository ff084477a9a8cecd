/* resp.h -- a command in RESP (an array of bulk strings), formatted with no
 * printf and no allocation of its own.
 *
 * Every key a sync or import writes is one command: formatting it with
 * hiredis's redisFormatCommandArgv costs a malloc, a free and a sprintf per
 * argument, which a profile of a cluster-source full sync put at about a
 * fifth of rdbsync's CPU. The caller gives the buffer (respCommandLen
 * bytes) and can reuse it from one command to the next.
 */
#ifndef RDBSYNC_RESP_H
#define RDBSYNC_RESP_H

#include <stddef.h>
#include <stdint.h>

/* The bytes respFormat writes for these arguments. */
size_t respCommandLen(int argc, const size_t *lens);
/* Write the command to out (respCommandLen bytes); returns that length. */
size_t respFormat(char *out, int argc, const char **argv, const size_t *lens);
/* v in decimal into out (at least 21 bytes), no NUL; returns the length. */
size_t respI64(char *out, int64_t v);

#endif

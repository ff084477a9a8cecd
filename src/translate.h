/* translate.h -- live stream commands an older target lacks, rewritten
 * into exact equivalents it has.
 *
 * A replication stream carries the source's commands as the source
 * understands them (SET ... PXAT from 7.0, GETEX, LMOVE, EXPIRE ... GT,
 * HEXPIRE...). A target of an older version refuses them, which would stop
 * a live sync at the first one. For each command the target lacks (from
 * its INFO server version; Valkey is Redis 7.2 here, its field TTLs from
 * Valkey 9), translateCommand gives one or more commands the target has
 * that leave the same data (README: "Commands an older target lacks" has
 * the table). Several commands go in one MULTI/EXEC so that they stay
 * atomic (not nested inside the stream's own MULTI).
 *
 * Exactness rests on what a master propagates: a conditional write (SET
 * NX, EXPIRE GT...) reaches the stream only when it changed the data, so
 * on a target holding the same data the condition holds as well and can be
 * left out. Where no exact equivalent exists (SET KEEPTTL before 6.0, a
 * multi-member ZADD NX before 3.0.2, XADD before 5.0, COPY before 6.2,
 * FUNCTION before 7.0...), the verdict is XLATE_NO_EQUIVALENT with one
 * line naming the command and the version it needs. Hash field TTL
 * commands (HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT, HPERSIST, and
 * HGETEX with a time) on a target without field TTLs:
 * XLATE_DROPPED_FIELD_TTL with --drop-field-ttls (counted by the caller,
 * the rest of the stream goes on), XLATE_NO_EQUIVALENT without; HSETEX
 * with a time is then written as its HSET (dropped_field_ttls set).
 *
 * Ownership: xlateOut owns the argument arrays of rewritten commands and
 * borrows the caller's argv/lens (passed through, or renamed in place:
 * argv[0] may be replaced); free it with xlateOutFree after sending.
 */
#ifndef RDBSYNC_TRANSLATE_H
#define RDBSYNC_TRANSLATE_H

#include <stddef.h>

#include "conn.h"

#define XLATE_MAX 4

typedef struct xlateOut {
    int n;                      /* commands to send, in order; 0: nothing (a pure read) */
    int argc[XLATE_MAX];
    const char **argv[XLATE_MAX];
    size_t *lens[XLATE_MAX];
    int translated;             /* 1 when anything was rewritten */
    int dropped_field_ttls;     /* written without field TTLs (HSETEX, --drop-field-ttls) */
    /* Storage of rewritten commands. */
    void *heap[XLATE_MAX];
    char num[XLATE_MAX][24];
} xlateOut;

typedef enum xlateVerdict {
    XLATE_SEND = 0,          /* send out's commands */
    XLATE_DROPPED_FIELD_TTL, /* a hash field TTL command, dropped (--drop-field-ttls) */
    XLATE_NO_EQUIVALENT,     /* the target lacks it and nothing exact replaces it: why says so */
} xlateVerdict;

typedef struct xlateTarget {
    rsServerInfo info;       /* the target's INFO server */
    int drop_field_ttls;     /* --drop-field-ttls */
} xlateTarget;

/* in_multi: the command is inside the stream's own MULTI (no MULTI of ours
 * around it). */
xlateVerdict translateCommand(const xlateTarget *t, int argc, const char **argv, size_t *lens, int in_multi,
                              xlateOut *out, char *why, size_t whylen);
void xlateOutFree(xlateOut *out);

/* 1 when the target holds hash field TTLs (Redis 7.4+, Valkey 9+). */
int translateFieldTtls(const rsServerInfo *t);

#endif

/* streamstage.h -- what the live stream's commands become before they are
 * written: key filters, then translation for an older target.
 *
 * sync.c hands every command of the source's stream (after PING, REPLCONF
 * and SELECT, which it handles itself) to stageCommand, and sends what
 * comes out. The stages, in order (the order the brief of issue #15 fixes
 * for the apply path: filters/translation, then exactly-once batching, then
 * the sink):
 *   1. key filters (filter.h): a command whose keys are all left out is
 *      dropped and counted; one with some keys in and some out stops the
 *      sync with one line naming it and its keys (--on-error skip: dropped
 *      and counted, exit 6 at the end). With --type, a command on a type
 *      left out that may replace a selected key (SET over a hash, *STORE)
 *      becomes DEL of that key; RENAME/RENAMENX/COPY go only where the
 *      target holds the source key (else DEL of the destination), as one
 *      EVAL;
 *   2. translation (translate.h): commands the target lacks become exact
 *      equivalents; hash field TTL commands are dropped and counted with
 *      --drop-field-ttls; a command with no equivalent stops the sync with
 *      one line (--on-error skip: dropped and counted, exit 6).
 *
 * Ownership: the stage borrows the filter; stageOut owns what it built
 * (stageOutFree after sending). Not thread-safe: the apply thread's.
 */
#ifndef RDBSYNC_STREAMSTAGE_H
#define RDBSYNC_STREAMSTAGE_H

#include <stdint.h>

#include "conn.h"
#include "filter.h"
#include "import.h"
#include "translate.h"

typedef struct streamStage streamStage;

typedef struct stageStats {
    uint64_t filtered;          /* dropped: every key left out by the filters */
    uint64_t filter_deletes;    /* a type left out over a selected key: sent as DEL */
    uint64_t partial_skipped;   /* keys partly selected, --on-error skip */
    uint64_t translated;        /* rewritten for the target */
    uint64_t field_ttls_dropped;/* HEXPIRE & co., --drop-field-ttls */
    uint64_t untranslatable_skipped; /* no equivalent, --on-error skip */
} stageStats;

typedef enum stageVerdict {
    STAGE_SEND = 0,  /* send out.x's commands (possibly none) */
    STAGE_DROP,      /* nothing to send; counted */
    STAGE_STOP,      /* stop the sync: out.why says why (one line, no db/offset) */
} stageVerdict;

typedef struct stageOut {
    xlateOut x;
    char why[700];
    /* Storage of a command the filter stage built (DEL, EVAL). */
    const char **argv;
    size_t *lens;
} stageOut;

streamStage *stageNew(const keyFilter *f, const rsServerInfo *target, const importOptions *imp);
void stageFree(streamStage *st);
/* A target reconnected (it may have restarted with another version). */
void stageSetTarget(streamStage *st, const rsServerInfo *target);

/* argv/lens are the caller's (writable: translation may rename argv[0]). */
stageVerdict stageCommand(streamStage *st, int argc, const char **argv, size_t *lens, int in_multi, stageOut *out);
void stageOutFree(stageOut *out);

const stageStats *stageGetStats(const streamStage *st);
/* "; stream: 12 filtered, 3 translated..." for the final line, "" when
 * nothing happened. */
void stageSummary(const streamStage *st, char *buf, size_t cap);
/* Commands the target lacks because of a skip (exit 6 at the end). */
uint64_t stageSkipped(const streamStage *st);

#endif

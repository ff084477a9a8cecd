/* resume.h -- why a source would not continue from a given position.
 *
 * A link started from a known position (a --state file, or an exactly-once
 * checkpoint read back from the target) asks PSYNC <replid> <offset + 1>.
 * A source answers +FULLRESYNC without saying why, so before that PSYNC
 * the link reads INFO replication on its own connection, and when the
 * answer is a full sync this module turns those facts into the one-line
 * reason an operator needs (Redis's own test, replication.c
 * masterTryPartialResynchronization):
 *   - the replication id is neither the source's master_replid nor its
 *     master_replid2 (up to second_repl_offset): another history (the
 *     source restarted without its data, or another server answers);
 *   - the source has no backlog (repl_backlog_active:0);
 *   - the offset is below repl_backlog_first_byte_offset: the backlog
 *     (repl-backlog-size) no longer holds it;
 *   - the offset is past the end of the backlog: ahead of the source.
 * Facts the source refused to give (INFO denied) leave "the source did
 * not say why".
 *
 * Pure functions, no I/O, no errors.
 */
#ifndef RDBSYNC_RESUME_H
#define RDBSYNC_RESUME_H

#include <stddef.h>
#include <stdint.h>

/* What INFO replication said; a field absent stays unknown. */
typedef struct resumeFacts {
    int known;                 /* INFO replication was read */
    char replid[41], replid2[41];
    int64_t second_offset;     /* second_repl_offset; -1 unknown */
    int64_t master_offset;     /* master_repl_offset; -1 unknown */
    int backlog_active;        /* -1 unknown */
    int64_t backlog_first;     /* repl_backlog_first_byte_offset; -1 unknown */
    int64_t backlog_histlen;   /* repl_backlog_histlen; -1 unknown */
} resumeFacts;

void resumeFactsInit(resumeFacts *f);
/* INFO replication text into f (known = 1). */
void resumeParseInfo(const char *info, resumeFacts *f);

/* Why PSYNC <replid> <offset + 1> got +FULLRESYNC (new_replid is the id it
 * answered with), as a clause: "its backlog no longer holds offset 1001
 * (it holds 5000-6000: raise repl-backlog-size)". */
void resumeWhyFull(const resumeFacts *f, const char *replid, int64_t offset, const char *new_replid, char *why,
                   size_t cap);

#endif

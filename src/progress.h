/* progress.h -- progress on stderr: a live line on a terminal, a plain line
 * every few seconds otherwise, nothing with -q.
 *
 * The caller reports counters as often as it likes; the module decides when
 * to print (at most 5 times a second on a terminal, every 5 s otherwise), so
 * a call costs a clock read. Ownership: progressNew returns an object freed
 * with progressFree; 'what' is borrowed and must outlive it.
 */
#ifndef RDBSYNC_PROGRESS_H
#define RDBSYNC_PROGRESS_H

#include <stdint.h>

typedef struct progress progress;

/* total_bytes = 0 when unknown (no bar, no ETA). */
progress *progressNew(int quiet, const char *what, uint64_t total_bytes);
void progressFree(progress *p);
void progressUpdate(progress *p, uint64_t bytes, uint64_t keys);
/* Erase the live line before a final summary is printed. */
void progressClear(progress *p);
/* Seconds since progressNew. */
double progressElapsed(const progress *p);

#endif

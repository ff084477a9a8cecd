/* progress.h -- every status line: the byte/key progress of a file or a
 * snapshot, and the phase lines of the live modes. Printed through log.h:
 * a live line on a terminal, a timestamped line every few seconds
 * otherwise, nothing with -q.
 *
 * The caller reports as often as it likes; this module decides when to
 * print (at most 5 times a second on a terminal, every interval otherwise,
 * 5 s by default), so a call costs a clock read. Ownership: progressNew
 * returns an object freed with progressFree; 'what' is borrowed and must
 * outlive it. Not thread-safe: one thread reports to one object.
 */
#ifndef RDBSYNC_PROGRESS_H
#define RDBSYNC_PROGRESS_H

#include <stdint.h>

typedef struct progress progress;

/* total_bytes = 0 when unknown (no bar, no ETA). */
progress *progressNew(int quiet, const char *what, uint64_t total_bytes);
void progressFree(progress *p);
/* Off a terminal: a line every interval_ms (> 0). */
void progressSetInterval(progress *p, int interval_ms);
void progressUpdate(progress *p, uint64_t bytes, uint64_t keys);
/* Phase lines (live sync, scan mode): 1 when a line is due now (always
 * with force), and the caller then builds it and hands it to
 * progressLine. 0 with -q. */
int progressDue(progress *p, int force);
void progressLine(progress *p, const char *phase, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Whether lines are redrawn in place (a terminal) rather than appended. */
int progressLive(const progress *p);
/* Erase the live line before a final summary is printed. */
void progressClear(progress *p);
/* Seconds since progressNew. */
double progressElapsed(const progress *p);

#endif

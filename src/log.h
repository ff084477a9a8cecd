/* log.h -- every line rdbsync prints on stderr goes through here.
 *
 * Four kinds of line: errors and warnings, information (summaries and
 * notes; the callers leave notes out under -q, summaries stay) and status
 * (the throttled "where are we" lines of progress.c, hidden by -q). Where they go depends on stderr and on
 * --log-format:
 *   - text: "rdbsync: <msg>" ("rdbsync: warning: <msg>"). On a terminal a
 *     status line is one live line redrawn in place (\r), erased before any
 *     other line is printed; off a terminal it is a line of its own with
 *     the time: "rdbsync: 2026-12-07T12:47:32.123Z streaming: ...", so a log
 *     file tells when the lag was what it says. Other lines keep the bare
 *     prefix, which scripts match ("rdbsync: <what>: <why>");
 *   - json (any output): one object per line,
 *     {"time":"...","level":"error|warn|info|status","msg":"..."} with a
 *     "phase" member on status lines, for log shippers.
 * Messages are one line each (a newline inside is printed escaped).
 *
 * Thread-safe: the link, apply and status threads all print, and a mutex
 * keeps each line whole. logSetup is called once by main.c before any
 * thread starts; without it, text on stderr with terminal detection.
 */
#ifndef RDBSYNC_LOG_H
#define RDBSYNC_LOG_H

typedef enum logFormat { LOG_TEXT = 0, LOG_JSON } logFormat;

/* "text" or "json" (--log-format); -1 for anything else. */
int logParseFormat(const char *s, logFormat *out);
void logSetup(logFormat fmt, int quiet);
/* Whether status lines are redrawn in place (a terminal, text format). */
int logLive(void);

void logError(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void logWarn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void logInfo(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* phase: a short word for JSON ("connecting", "snapshot", "streaming"...). */
void logStatus(const char *phase, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A write the target refused, as an error line, but one cause one line:
 * the first refusal of each cause (what, e.g. "the target refused
 * RESTORE", with the first word of the server's error, e.g. OOM, NOPERM,
 * READONLY) is printed; later ones are only counted, and
 * logRefusedSummary prints one line per cause that had more. A target out
 * of memory would otherwise print thousands of lines saying the same. */
void logRefused(const char *what, const char *server_err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void logRefusedSummary(void);
/* A label for every line this thread prints ("shard 10.0.0.5:6379: ..."),
 * or NULL; borrowed, must outlive the thread's logging. A cluster source
 * runs one link per shard, and each line must say which one it is about. */
void logSetThreadTag(const char *tag);
/* Erase a live status line (before output on stdout, at exit). */
void logClearStatus(void);

#endif

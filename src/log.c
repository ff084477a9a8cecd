/* log.c -- see log.h. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static struct {
    logFormat fmt;
    int quiet, tty, setup, live_shown;
} L;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread const char *thread_tag;

void logSetThreadTag(const char *tag) { thread_tag = tag; }

int logParseFormat(const char *s, logFormat *out) {
    if (!strcmp(s, "text")) *out = LOG_TEXT;
    else if (!strcmp(s, "json")) *out = LOG_JSON;
    else return -1;
    return 0;
}

void logSetup(logFormat fmt, int quiet) {
    L.fmt = fmt;
    L.quiet = quiet;
    L.tty = isatty(2);
    L.setup = 1;
}

static void ensureSetup(void) {
    if (!L.setup) logSetup(LOG_TEXT, 0);
}

int logLive(void) {
    ensureSetup();
    return L.tty && L.fmt == LOG_TEXT;
}

/* "2026-12-07T12:47:32.123Z" */
static void timestamp(char *buf, size_t len) {
    int64_t ms = clockWallMs();
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

/* A JSON string body: quotes, backslashes and control bytes escaped; other
 * bytes as they are (messages show keys already escaped by rdbKeyRepr). */
static void putJson(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
}

/* Text messages stay on one line whatever they quote. */
static void putText(FILE *f, const char *s) {
    for (const char *p = s; *p; p++) {
        if (*p == '\n') fputs("\\n", f);
        else if (*p != '\r') fputc(*p, f);
    }
}

static void clearLive(void) {
    if (L.live_shown) fprintf(stderr, "\r%*s\r", 100, "");
    L.live_shown = 0;
}

static void emit(const char *level, const char *phase, const char *fmt, va_list ap) {
    char msg[2048];
    int n = thread_tag ? snprintf(msg, sizeof(msg), "%s: ", thread_tag) : 0;
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    char ts[40];
    timestamp(ts, sizeof(ts));
    pthread_mutex_lock(&lock);
    ensureSetup();
    if (L.fmt == LOG_JSON) {
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",", ts, level);
        if (phase) fprintf(stderr, "\"phase\":\"%s\",", phase);
        fputs("\"msg\":\"", stderr);
        putJson(stderr, msg);
        fputs("\"}\n", stderr);
    } else if (phase && L.tty) {
        fputc('\r', stderr);
        fprintf(stderr, "%-100.100s", msg);
        L.live_shown = 1;
    } else {
        clearLive();
        fputs("rdbsync: ", stderr);
        if (phase) fprintf(stderr, "%s ", ts); /* off a terminal: when was it so? */
        if (strcmp(level, "warn") == 0) fputs("warning: ", stderr);
        putText(stderr, msg);
        fputc('\n', stderr);
    }
    fflush(stderr);
    pthread_mutex_unlock(&lock);
}

#define LOG_FN(name, level, shown)                                                                                     \
    void name(const char *fmt, ...) {                                                                                  \
        ensureSetup();                                                                                                 \
        if (!(shown)) return;                                                                                          \
        va_list ap;                                                                                                    \
        va_start(ap, fmt);                                                                                             \
        emit(level, NULL, fmt, ap);                                                                                    \
        va_end(ap);                                                                                                    \
    }

LOG_FN(logError, "error", 1)
LOG_FN(logWarn, "warn", 1)
LOG_FN(logInfo, "info", 1) /* callers leave out notes under -q; summaries stay */

void logStatus(const char *phase, const char *fmt, ...) {
    ensureSetup();
    if (L.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    emit("status", phase ? phase : "status", fmt, ap);
    va_end(ap);
}

void logClearStatus(void) {
    pthread_mutex_lock(&lock);
    clearLive();
    fflush(stderr);
    pthread_mutex_unlock(&lock);
}

/* ---- one cause, one line ---- */

#define CAUSES_MAX 32

static struct cause {
    char what[96], code[32];
    unsigned long long more;
} causes[CAUSES_MAX];
static int ncauses;

/* The error's code word: "OOM command not allowed..." -> "OOM". */
static void codeWord(const char *err, char *out, size_t cap) {
    size_t n = strcspn(err ? err : "", " ");
    if (n >= cap) n = cap - 1;
    memcpy(out, err ? err : "", n);
    out[n] = '\0';
}

/* 1 when this is the first refusal of its cause (or the table is full:
 * then every line is printed, nothing is lost). */
static int firstOfCause(const char *what, const char *server_err) {
    char code[32];
    codeWord(server_err, code, sizeof(code));
    int first = 1;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < ncauses; i++) {
        if (strncmp(causes[i].what, what, sizeof(causes[i].what) - 1) == 0 && strcmp(causes[i].code, code) == 0) {
            causes[i].more++;
            first = 0;
            break;
        }
    }
    if (first && ncauses < CAUSES_MAX) {
        snprintf(causes[ncauses].what, sizeof(causes[ncauses].what), "%s", what);
        snprintf(causes[ncauses].code, sizeof(causes[ncauses].code), "%s", code);
        causes[ncauses++].more = 0;
    }
    pthread_mutex_unlock(&lock);
    return first;
}

void logRefused(const char *what, const char *server_err, const char *fmt, ...) {
    ensureSetup();
    if (!firstOfCause(what, server_err)) return;
    va_list ap;
    va_start(ap, fmt);
    emit("error", NULL, fmt, ap);
    va_end(ap);
}

void logRefusedSummary(void) {
    for (int i = 0; i < ncauses; i++) {
        if (causes[i].more)
            logError("%s: %llu more refusal%s with the same cause (%s), not printed one by one", causes[i].what,
                     causes[i].more, causes[i].more == 1 ? "" : "s", causes[i].code[0] ? causes[i].code : "?");
    }
    ncauses = 0;
}

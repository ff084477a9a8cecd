/* progress.c -- see progress.h. */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"

struct progress {
    int quiet, live, interval_ms;
    const char *what;
    uint64_t total;
    int64_t start, last; /* monotonic ms */
};

progress *progressNew(int quiet, const char *what, uint64_t total_bytes) {
    progress *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->quiet = quiet;
    p->live = logLive();
    p->interval_ms = 5000;
    p->what = what;
    p->total = total_bytes;
    p->start = p->last = clockMonoMs();
    return p;
}

void progressFree(progress *p) { free(p); }

void progressSetInterval(progress *p, int interval_ms) {
    if (p && interval_ms > 0) p->interval_ms = interval_ms;
}

double progressElapsed(const progress *p) { return (double)(clockMonoMs() - p->start) / 1000.0; }

int progressLive(const progress *p) { return p && p->live; }

int progressDue(progress *p, int force) {
    if (!p || p->quiet) return 0;
    int64_t t = clockMonoMs();
    if (!force && t - p->last < (p->live ? 200 : p->interval_ms)) return 0;
    p->last = t;
    return 1;
}

void progressLine(progress *p, const char *phase, const char *fmt, ...) {
    if (!p || p->quiet) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    logStatus(phase, "%s", line);
}

static void human(double v, char *buf, size_t len) {
    const char *u = "KMGT";
    if (v < 1024) {
        snprintf(buf, len, "%.0f B", v);
        return;
    }
    int i = -1;
    while (v >= 1024 && i < 3) v /= 1024, i++;
    snprintf(buf, len, "%.1f %cB", v, u[i]);
}

void progressUpdate(progress *p, uint64_t bytes, uint64_t keys) {
    if (!progressDue(p, 0)) return;
    double el = progressElapsed(p), rate = el > 0 ? keys / el : 0;
    char done[32], total[32], eta[32] = "";
    human((double)bytes, done, sizeof(done));
    human((double)p->total, total, sizeof(total));
    if (p->total && bytes && bytes < p->total)
        snprintf(eta, sizeof(eta), ", ETA %.0f s", el * (double)(p->total - bytes) / (double)bytes);
    if (p->live) {
        int pct = p->total ? (int)(100.0 * (double)bytes / (double)p->total) : 0, w = pct / 5;
        char bar[21];
        for (int i = 0; i < 20; i++) bar[i] = i < w ? '#' : '.';
        bar[20] = '\0';
        progressLine(p, p->what, "%s [%s] %3d%% %s/%s, %llu keys, %.0f keys/s%s", p->what, bar, pct, done, total,
                     (unsigned long long)keys, rate, eta);
    } else {
        progressLine(p, p->what, "%s: %s of %s, %llu keys, %.0f keys/s%s", p->what, done, total,
                     (unsigned long long)keys, rate, eta);
    }
}

void progressClear(progress *p) {
    (void)p;
    logClearStatus();
}

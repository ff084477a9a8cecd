/* progress.c -- see progress.h. */
#include "clock.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct progress {
    int quiet, tty;
    const char *what;
    uint64_t total;
    double start, last;
    int shown;
};

static double now(void) { return (double)clockMonoMs() / 1000.0; }

progress *progressNew(int quiet, const char *what, uint64_t total_bytes) {
    progress *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->quiet = quiet;
    p->tty = isatty(2);
    p->what = what;
    p->total = total_bytes;
    p->start = p->last = now();
    return p;
}

void progressFree(progress *p) { free(p); }

double progressElapsed(const progress *p) { return now() - p->start; }

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
    if (!p || p->quiet) return;
    double t = now(), every = p->tty ? 0.2 : 5.0;
    if (t - p->last < every) return;
    p->last = t;
    double el = t - p->start, rate = el > 0 ? keys / el : 0;
    char done[32], total[32], eta[32] = "";
    human((double)bytes, done, sizeof(done));
    human((double)p->total, total, sizeof(total));
    if (p->total && bytes && bytes < p->total)
        snprintf(eta, sizeof(eta), ", ETA %.0f s", el * (double)(p->total - bytes) / (double)bytes);
    if (p->tty) {
        int pct = p->total ? (int)(100.0 * (double)bytes / (double)p->total) : 0, w = pct / 5;
        char bar[21];
        for (int i = 0; i < 20; i++) bar[i] = i < w ? '#' : '.';
        bar[20] = '\0';
        fprintf(stderr, "\r%s [%s] %3d%% %s/%s, %llu keys, %.0f keys/s%s   ", p->what, bar, pct, done,
                total, (unsigned long long)keys, rate, eta);
        p->shown = 1;
    } else {
        fprintf(stderr, "rdbsync: %s: %s of %s, %llu keys, %.0f keys/s%s\n", p->what, done, total,
                (unsigned long long)keys, rate, eta);
    }
    fflush(stderr);
}

void progressClear(progress *p) {
    if (p && p->shown) fprintf(stderr, "\r%*s\r", 100, "");
    if (p) p->shown = 0;
}

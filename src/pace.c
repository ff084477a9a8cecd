/* pace.c -- smooth pacing to a rate, bursts sized to a budget (see pace.h). */
#include "pace.h"

#include <errno.h>
#include <string.h>
#include <time.h>

int64_t paceNowUs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void paceStart(pacer *p, long rate) {
    memset(p, 0, sizeof(*p));
    p->rate = rate, p->base_us = paceNowUs();
}

void paceSetRate(pacer *p, long rate, uint64_t done) {
    if (rate == p->rate) return;
    p->rate = rate, p->base_us = paceNowUs(), p->base_done = done;
}

int pacePerBurst(const pacer *p, int cap) {
    if (p->rate <= 0) return cap;
    double n = (double)p->rate * PACE_BURST_US / 1000000;
    double key_ns = p->key_ns > 0 ? p->key_ns : PACE_KEY_NS;
    if (PACE_BUDGET_US * 1000.0 / key_ns < n) n = PACE_BUDGET_US * 1000.0 / key_ns;
    if (n < 1) n = 1;
    return n < cap ? (int)n : cap;
}

void paceObserve(pacer *p, int keys, size_t plain, size_t packed) {
    if (keys <= 0) return;
    double ns = PACE_KEY_NS + ((double)plain * PACE_PLAIN_NS + (double)packed * PACE_PACKED_NS) / keys;
    p->key_ns = p->key_ns == 0 ? ns : p->key_ns + (ns - p->key_ns) / 8;
}

int64_t paceDelayUs(pacer *p, uint64_t done, int64_t now_us) {
    if (p->rate <= 0 || done < p->base_done) return 0;
    int64_t due = p->base_us + (int64_t)((done - p->base_done) * 1000000 / (uint64_t)p->rate);
    if (now_us - due > PACE_CATCHUP_US) {
        /* Far behind: forget the debt rather than burst to pay it back. */
        p->base_us = now_us - PACE_CATCHUP_US, p->base_done = done;
        return 0;
    }
    return due > now_us ? due - now_us : 0;
}

void paceWait(pacer *p, uint64_t done) {
    int64_t wait = paceDelayUs(p, done, paceNowUs());
    struct timespec ts = {(time_t)(wait / 1000000), (long)(wait % 1000000) * 1000};
    while (wait > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* clock.h -- the two clocks rdbsync reads, named for what they measure.
 *
 * clockMonoMs: durations, timeouts, lag and throttling. It never jumps (NTP,
 * an operator's `date -s`), so an interval measured with it is real.
 * clockWallMs: points in time shared with servers: absolute expire times,
 * timestamps in log lines, --rate windows that must match a wall clock.
 * Never subtract a monotonic reading from a wall one.
 */
#ifndef RDBSYNC_CLOCK_H
#define RDBSYNC_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clockMonoMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds since the Unix epoch, as Redis counts expire times. */
static inline int64_t clockWallMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif

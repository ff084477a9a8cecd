/* pace.h -- smooth pacing of a reader to a rate (keys per second).
 *
 * Why: a --rate that lets a whole SCAN COUNT batch through at once, then
 * sleeps, hands the source one long burst of DUMPs every so often; its other
 * clients see that burst in their tail latency. A pacer spaces the work
 * evenly instead: pacePerBurst says how many keys one pipelined burst may
 * hold (PACE_BURST_US of work at the rate), paceWait sleeps until the keys
 * done so far are due. Credit lost to a slow stretch (a full queue, a slow
 * source) is not paid back in one burst: a pacer more than PACE_CATCHUP_US
 * behind forgets the debt and continues at the rate from now.
 *
 * Ownership: plain value, no resources. Errors: none (a rate <= 0 is "no
 * limit": pacePerBurst returns the cap, paceWait returns at once).
 */
#ifndef RDBSYNC_PACE_H
#define RDBSYNC_PACE_H

#include <stdint.h>

#define PACE_BURST_US 2000   /* the work one burst may hold at the rate */
#define PACE_CATCHUP_US 100000 /* the most a pacer runs ahead to catch up */

typedef struct pacer {
    long rate;        /* keys/s; <= 0: no limit */
    int64_t base_us;  /* monotonic time at which `base_done` keys were due */
    uint64_t base_done;
} pacer;

/* A pacer starting now. */
void paceStart(pacer *p, long rate);

/* Keys one burst may hold: PACE_BURST_US at the rate, at least 1, at most cap. */
int pacePerBurst(const pacer *p, int cap);

/* Sleep until `done` keys (counted since paceStart) are due. */
void paceWait(pacer *p, uint64_t done);

/* The same decision without sleeping (tests): microseconds to wait at now_us,
 * rebasing the pacer when it is more than PACE_CATCHUP_US behind. */
int64_t paceDelayUs(pacer *p, uint64_t done, int64_t now_us);

int64_t paceNowUs(void);

#endif

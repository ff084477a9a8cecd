/* pace.h -- smooth pacing of a reader to a rate (keys per second), in
 * bursts sized to a time budget on the source.
 *
 * Why: a --rate that lets a whole SCAN COUNT batch through at once, then
 * sleeps, hands the source one long burst of DUMPs every so often; its other
 * clients see that burst in their tail latency (a server answers a whole
 * pipelined read in one event-loop pass, so a PING waits behind all of it).
 * A pacer spaces the work evenly instead and keeps each burst short:
 *  - pacePerBurst says how many keys one pipelined burst may hold: at most
 *    PACE_BURST_US of keys at the rate (evenness), and at most what costs the
 *    source PACE_BUDGET_US: PACE_KEY_NS a key (SCAN, DUMP and the expire
 *    query of a small key, measured on Redis 7.0: 2-4 us), plus per byte of
 *    the value the DUMP went through: PACE_PACKED_NS per uncompressed byte of
 *    a value the source LZF-compressed (a 64 KiB JSON string: ~80 us), and
 *    PACE_PLAIN_NS per payload byte stored as is (the compression was tried
 *    and failed: a 64 KiB random string costs 0.6-1.5 ms). The mean per key
 *    is learned by paceObserve from the replies. The
 *    cost is modelled, not timed: on a busy machine a reply's delay is mostly
 *    processes waiting for a CPU, and bursts sized from it shrink to one key
 *    (the copy then spends its time in round trips and falls far behind);
 *  - paceWait sleeps until the keys done so far are due. Credit lost to a
 *    slow stretch (a full queue, a slow source) is not paid back in one
 *    burst: a pacer more than PACE_CATCHUP_US behind forgets the debt and
 *    continues at the rate from now.
 *
 * Ownership: plain value, no resources. Errors: none (a rate <= 0 is "no
 * limit": pacePerBurst returns the cap, paceWait returns at once).
 */
#ifndef RDBSYNC_PACE_H
#define RDBSYNC_PACE_H

#include <stddef.h>
#include <stdint.h>

#define PACE_BURST_US 2000      /* the keys one burst may hold at the rate */
#define PACE_CATCHUP_US 100000  /* the most a pacer runs ahead to catch up */
#define PACE_BUDGET_US 250      /* the source's time one burst may cost: a quarter of the 1 ms a PING may wait */
#define PACE_KEY_NS 4000        /* the source's time per key besides its value's bytes */
#define PACE_PLAIN_NS 10        /* ... per payload byte not compressed */
#define PACE_PACKED_NS 2        /* ... per uncompressed byte of an LZF-compressed value */

typedef struct pacer {
    long rate;        /* keys/s; <= 0: no limit */
    int64_t base_us;  /* monotonic time at which `base_done` keys were due */
    uint64_t base_done;
    double key_ns;    /* the source's mean time per key (exponential average); 0: none seen */
} pacer;

/* A pacer starting now. */
void paceStart(pacer *p, long rate);

/* Keys one burst may hold: at most PACE_BURST_US at the rate and the
 * source's time budget, at least 1, at most cap. With no rate: cap. */
int pacePerBurst(const pacer *p, int cap);

/* Record one burst's replies: `keys` keys whose payloads held `plain` bytes
 * stored as is and `packed` uncompressed bytes of LZF-compressed values. */
void paceObserve(pacer *p, int keys, size_t plain, size_t packed);

/* Another rate from now on (a cluster copy's share of --rate changed when
 * the masters did, cscan.h): the `done` keys so far count as due now.
 * Nothing changes when the rate is the same. */
void paceSetRate(pacer *p, long rate, uint64_t done);

/* Sleep until `done` keys (counted since paceStart) are due. */
void paceWait(pacer *p, uint64_t done);

/* The same decision without sleeping (tests): microseconds to wait at now_us,
 * rebasing the pacer when it is more than PACE_CATCHUP_US behind. */
int64_t paceDelayUs(pacer *p, uint64_t done, int64_t now_us);

int64_t paceNowUs(void);

#endif

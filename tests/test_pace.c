/* test_pace.c -- the pacer keeps bursts small (to the rate and to a budget
 * of the source's time and payload bytes) and spaced, and never pays a lost
 * stretch back in one burst. */
#include "src/pace.h"
#include "tests/test.h"

int main(void) {
    TEST("pace.burst_size") {
        pacer p;
        paceStart(&p, 10000); /* 2 ms at 10k keys/s: 20 keys */
        CHECK_EQ_INT(20, pacePerBurst(&p, 1000));
        p.rate = 10;
        CHECK_EQ_INT(1, pacePerBurst(&p, 1000));
        p.rate = 0;
        CHECK_EQ_INT(1000, pacePerBurst(&p, 1000)); /* no limit */
    }
    TEST("pace.time_budget") {
        pacer p;
        paceStart(&p, 1000000);
        /* Small keys: the per-key cost alone fills the budget (250 us / 4 us). */
        int small = PACE_BUDGET_US * 1000 / PACE_KEY_NS;
        CHECK_EQ_INT(small, pacePerBurst(&p, 1000));
        CHECK_EQ_INT(10, pacePerBurst(&p, 10)); /* the SCAN COUNT caps it */
        paceObserve(&p, 100, 100 * 30, 0);
        CHECK_EQ_INT(PACE_BUDGET_US * 1000 / (PACE_KEY_NS + 30 * PACE_PLAIN_NS), pacePerBurst(&p, 1000));
        /* 50k keys/s: 100 keys in 2 ms, but the budget holds fewer. */
        p.rate = 50000;
        CHECK(pacePerBurst(&p, 1000) < 100 && pacePerBurst(&p, 1000) > 50);
    }
    TEST("pace.byte_budget") {
        pacer p;
        paceStart(&p, 1000000);
        /* Big compressible values: 64 KiB a key, LZF-compressed, ~130 us: 1 or 2 a burst. */
        paceObserve(&p, 10, 0, 10 * 65536);
        CHECK_EQ_INT(PACE_BUDGET_US * 1000 / (PACE_KEY_NS + 65536 * PACE_PACKED_NS), pacePerBurst(&p, 1000));
        /* The mean follows the replies: a run of small keys grows the bursts again. */
        for (int i = 0; i < 100; i++) paceObserve(&p, 50, 50 * 30, 0);
        CHECK(pacePerBurst(&p, 1000) > 50);
        /* One key at least, even when one value (stored as is: the
         * compression failed) costs more than the budget. */
        paceObserve(&p, 1, 65536, 0);
        paceObserve(&p, 1, (size_t)1 << 30, 0);
        CHECK_EQ_INT(1, pacePerBurst(&p, 1000));
        /* No rate: no budget either (the SCAN COUNT as before). */
        p.rate = 0;
        CHECK_EQ_INT(1000, pacePerBurst(&p, 1000));
    }
    TEST("pace.even_spacing") {
        pacer p = {.rate = 10000, .base_us = 1000000};
        CHECK_EQ_INT(0, (int)paceDelayUs(&p, 0, 1000000));
        CHECK_EQ_INT(2000, (int)paceDelayUs(&p, 20, 1000000));   /* 20 keys due 2 ms later */
        CHECK_EQ_INT(0, (int)paceDelayUs(&p, 20, 1002500));      /* already due */
        CHECK_EQ_INT(1000000, (int)paceDelayUs(&p, 10000, 1000000));
    }
    TEST("pace.no_catchup_burst") {
        pacer p = {.rate = 10000, .base_us = 1000000};
        /* 1 s late for key 100: forget the debt, go on at the rate from now. */
        CHECK_EQ_INT(0, (int)paceDelayUs(&p, 100, 2010000));
        CHECK_EQ_INT(2010000 - PACE_CATCHUP_US, (int)p.base_us);
        CHECK_EQ_INT(100, (int)p.base_done);
        /* The next 20 keys are due 2 ms after the new base, not at once... */
        CHECK_EQ_INT(0, (int)paceDelayUs(&p, 120, 2010000));
        /* ...and at most PACE_CATCHUP_US of work runs ahead unpaced. */
        int64_t ahead = 100 + 10000 * PACE_CATCHUP_US / 1000000 + 20;
        CHECK(paceDelayUs(&p, (uint64_t)ahead, 2010000) > 0);
    }
    TEST("pace.set_rate") {
        /* A cluster copy's share drops from 1/3 to 1/4 of --rate 12000 after
         * 300 keys: those count as due now, the next at the new rate. */
        pacer p;
        paceStart(&p, 4000);
        int64_t now = paceNowUs();
        paceSetRate(&p, 3000, 300);
        CHECK_EQ_INT(3000, (int)p.rate);
        CHECK_EQ_INT(300, (int)p.base_done);
        CHECK(p.base_us >= now);
        CHECK_EQ_INT(1000000, (int)paceDelayUs(&p, 3300, p.base_us));
        /* The same rate again: the schedule stays. */
        int64_t base = p.base_us;
        paceSetRate(&p, 3000, 900);
        CHECK_EQ_INT(300, (int)p.base_done);
        CHECK(p.base_us == base);
    }
    TEST("pace.unlimited") {
        pacer p = {.rate = 0};
        CHECK_EQ_INT(0, (int)paceDelayUs(&p, 1000000, 0));
    }
    return test_report();
}

/* test_pace.c -- the pacer keeps bursts small and spaced, and never pays a
 * lost stretch back in one burst. */
#include "src/pace.h"
#include "tests/test.h"

int main(void) {
    TEST("pace.burst_size") {
        pacer p = {0};
        p.rate = 10000; /* 2 ms at 10k keys/s: 20 keys */
        CHECK_EQ_INT(20, pacePerBurst(&p, 1000));
        p.rate = 1000000;
        CHECK_EQ_INT(1000, pacePerBurst(&p, 1000)); /* the SCAN COUNT caps it */
        p.rate = 10;
        CHECK_EQ_INT(1, pacePerBurst(&p, 1000));
        p.rate = 0;
        CHECK_EQ_INT(1000, pacePerBurst(&p, 1000)); /* no limit */
    }
    TEST("pace.even_spacing") {
        pacer p = {10000, 1000000, 0};
        CHECK_EQ_INT(0, (int)paceDelayUs(&p, 0, 1000000));
        CHECK_EQ_INT(2000, (int)paceDelayUs(&p, 20, 1000000));   /* 20 keys due 2 ms later */
        CHECK_EQ_INT(0, (int)paceDelayUs(&p, 20, 1002500));      /* already due */
        CHECK_EQ_INT(1000000, (int)paceDelayUs(&p, 10000, 1000000));
    }
    TEST("pace.no_catchup_burst") {
        pacer p = {10000, 1000000, 0};
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
    TEST("pace.unlimited") {
        pacer p = {0, 0, 0};
        CHECK_EQ_INT(0, (int)paceDelayUs(&p, 1000000, 0));
    }
    return test_report();
}

/* test_resync.c -- the decision before a later full resync empties the
 * target (resync.h): INFO parsing, and each rule alone and together: a
 * restarted source (run_id), a history that went back (offset), a far
 * smaller source, the thresholds' edges, and unknown facts never refusing.
 */
#include "src/resync.h"
#include "tests/test.h"

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* A full resync we caused: same source, offset ahead, same size. */
static resyncCheck base(void) {
    return (resyncCheck){A, A, 1, 5000, 9000, 20000, 20000};
}

int main(void) {
    char why[400];
    resyncFacts f;

    TEST("resync.parse") {
        resyncFactsInit(&f);
        CHECK_EQ_STR("", f.run_id);
        CHECK_EQ_INT(-1, f.keys);
        resyncParseServer("# Server\r\nredis_version:7.0.15\r\nmaster_run_id:x\r\nrun_id:" A "\r\ntcp_port:1\r\n", &f);
        CHECK_EQ_STR(A, f.run_id);
        resyncParseKeyspace("# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=0\r\ndb3:keys=5,expires=0,avg_ttl=0\r\n"
                            "db99:keys=7,expires=0,avg_ttl=0\r\n", &f);
        CHECK_EQ_INT(22, f.keys);
        int d0[] = {0}, d03[] = {0, 3}, d5[] = {5};
        CHECK_EQ_INT(22, resyncKeysIn(&f, NULL, 0));
        CHECK_EQ_INT(10, resyncKeysIn(&f, d0, 1));
        CHECK_EQ_INT(15, resyncKeysIn(&f, d03, 2));
        CHECK_EQ_INT(0, resyncKeysIn(&f, d5, 1));
        resyncParseKeyspace("# Keyspace\r\n", &f);
        CHECK_EQ_INT(0, f.keys); /* an empty source: 0 keys, known */
    }

    resyncCheck c = base();
    test_cond("resync.expected", resyncRefuse(&c, why, sizeof(why)) == 0 && !*why);

    c = base();
    c.new_run_id = B;
    test_cond("resync.run_id", resyncRefuse(&c, why, sizeof(why)) == 1 &&
                                   !strcmp(why, "the source restarted or was replaced (run_id changed)"));

    c = base();
    c.new_offset = 0;
    test_cond("resync.offset_back",
              resyncRefuse(&c, why, sizeof(why)) == 1 &&
                  !strcmp(why, "the source restarted or was replaced (replication offset went back from 5000 to 0)"));

    c = base();
    c.new_offset = 5000;
    test_cond("resync.offset_equal", resyncRefuse(&c, why, sizeof(why)) == 0);

    c = base();
    c.offsets = 0, c.new_offset = 0; /* SYNC-style: offsets are ours */
    test_cond("resync.sync_style", resyncRefuse(&c, why, sizeof(why)) == 0);

    c = base();
    c.source_keys = 9999;
    test_cond("resync.smaller", resyncRefuse(&c, why, sizeof(why)) == 1 &&
                                    !strcmp(why, "the source holds 9999 keys where the target holds 20000"));
    c.source_keys = 10000;
    test_cond("resync.half_is_enough", resyncRefuse(&c, why, sizeof(why)) == 0);

    c = base();
    c.source_keys = 0, c.target_keys = RESYNC_MIN_TARGET_KEYS;
    test_cond("resync.small_target", resyncRefuse(&c, why, sizeof(why)) == 0);
    c.target_keys = RESYNC_MIN_TARGET_KEYS + 1;
    test_cond("resync.small_target_edge", resyncRefuse(&c, why, sizeof(why)) == 1);

    c = base();
    c.new_run_id = B, c.new_offset = 0, c.source_keys = 0, c.target_keys = 55138;
    test_cond("resync.all",
              resyncRefuse(&c, why, sizeof(why)) == 1 &&
                  !strcmp(why, "the source restarted or was replaced (run_id changed, replication offset went back "
                               "from 5000 to 0) and it holds 0 keys where the target holds 55138"));

    c = (resyncCheck){"", A, 1, -1, 0, -1, -1};
    test_cond("resync.unknown", resyncRefuse(&c, why, sizeof(why)) == 0);
    return test_report();
}

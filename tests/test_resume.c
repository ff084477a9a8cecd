/* test_resume.c -- why a source would not continue from a position
 * (resume.h): INFO replication parsing, and each reason: another history,
 * a fork after a failover, no backlog, the offset out of the backlog
 * (behind it, ahead of the source), and unknown facts.
 */
#include "src/resume.h"
#include "tests/test.h"

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "cccccccccccccccccccccccccccccccccccccccc"

static const char *info(const char *replid, const char *replid2, long second, long off, int active, long first,
                        long hist) {
    static char b[1024];
    snprintf(b, sizeof(b), "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_replid:%s\r\nmaster_replid2:%s\r\n"
                    "master_repl_offset:%ld\r\nsecond_repl_offset:%ld\r\nrepl_backlog_active:%d\r\n"
                    "repl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:%ld\r\nrepl_backlog_histlen:%ld\r\n",
                    replid, replid2, off, second, active, first, hist);
    return b;
}

int main(void) {
    resumeFacts f;
    char why[256];

    TEST("resume.parse") {
        resumeParseInfo(info(A, B, 77, 6000, 1, 5000, 1001), &f);
        CHECK_EQ_INT(1, f.known);
        CHECK_EQ_STR(A, f.replid);
        CHECK_EQ_STR(B, f.replid2);
        CHECK_EQ_INT(77, f.second_offset);
        CHECK_EQ_INT(6000, f.master_offset);
        CHECK_EQ_INT(1, f.backlog_active);
        CHECK_EQ_INT(5000, f.backlog_first);
        CHECK_EQ_INT(1001, f.backlog_histlen);
    }

    TEST("resume.backlog_gone") {
        resumeParseInfo(info(A, "0000000000000000000000000000000000000000", -1, 6000, 1, 5000, 1001), &f);
        resumeWhyFull(&f, A, 1000, A, why, sizeof(why));
        CHECK_EQ_STR("its backlog no longer holds offset 1001 (it holds 5000-6000: raise repl-backlog-size)", why);
    }

    TEST("resume.other_history") {
        resumeParseInfo(info(C, "0000000000000000000000000000000000000000", -1, 10, 1, 1, 10), &f);
        resumeWhyFull(&f, A, 1000, C, why, sizeof(why));
        CHECK(strstr(why, "another replication history") != NULL);
        CHECK(strstr(why, C) != NULL);
    }

    TEST("resume.forked") {
        resumeParseInfo(info(C, A, 500, 900, 1, 1, 900), &f);
        resumeWhyFull(&f, A, 400, C, why, sizeof(why));
        CHECK(strstr(why, "the source did not say why") != NULL); /* within the shared history */
        resumeWhyFull(&f, A, 700, C, why, sizeof(why));
        CHECK(strstr(why, "forked at offset 500") != NULL);
    }

    TEST("resume.no_backlog") {
        resumeParseInfo(info(A, B, -1, 6000, 0, 0, 0), &f);
        resumeWhyFull(&f, A, 1000, A, why, sizeof(why));
        CHECK(strstr(why, "no replication backlog") != NULL);
    }

    TEST("resume.ahead") {
        resumeParseInfo(info(A, B, -1, 600, 1, 1, 600), &f);
        resumeWhyFull(&f, A, 1000, A, why, sizeof(why));
        CHECK_EQ_STR("offset 1000 is ahead of the source (at 600): its history went back", why);
    }

    TEST("resume.unknown") {
        resumeFactsInit(&f);
        resumeWhyFull(&f, A, 1000, B, why, sizeof(why));
        CHECK(strstr(why, "did not say why") != NULL);
    }
    return test_report();
}

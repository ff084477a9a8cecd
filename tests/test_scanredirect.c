/* test_scanredirect.c -- a cluster's replies to a DUMP as scan.h reads
 * them: which are redirects (and to which node), which are worth asking
 * again, and which are neither. */
#include "src/scan.h"
#include "tests/test.h"

int main(void) {
    TEST("scan.redirect_moved") {
        int ask = -1;
        char node[64] = "";
        CHECK_EQ_INT(1, scanRedirect("source refused DUMP: MOVED 3999 127.0.0.1:7001", &ask, node, sizeof(node)));
        CHECK_EQ_INT(0, ask);
        CHECK_EQ_STR("127.0.0.1:7001", node);
    }
    TEST("scan.redirect_ask") {
        int ask = -1;
        char node[64] = "";
        CHECK_EQ_INT(1, scanRedirect("source refused DUMP: ASK 12 node-2.example:6380\r\n", &ask, node, sizeof(node)));
        CHECK_EQ_INT(1, ask);
        CHECK_EQ_STR("node-2.example:6380", node);
    }
    TEST("scan.redirect_not") {
        int ask = 0;
        char node[64] = "";
        CHECK_EQ_INT(0, scanRedirect("source refused DUMP: NOPERM this user has no permissions", &ask, node,
                                     sizeof(node)));
        CHECK_EQ_INT(0, scanRedirect("source refused DUMP: MOVED 12", &ask, node, sizeof(node))); /* no node */
        CHECK_EQ_INT(0, scanRedirect("", &ask, node, sizeof(node)));
    }
    TEST("scan.transient") {
        CHECK_EQ_INT(1, scanTransient("source refused DUMP: CLUSTERDOWN The cluster is down"));
        CHECK_EQ_INT(1, scanTransient("source refused DUMP: TRYAGAIN Multiple keys request during rehashing of slot"));
        CHECK_EQ_INT(0, scanTransient("source refused DUMP: MOVED 1 127.0.0.1:7000"));
        CHECK_EQ_INT(0, scanTransient("source: connection closed"));
    }
    return test_report();
}

/* test_scanredirect.c -- a cluster's replies to a DUMP as scan.h reads
 * them: which are redirects (and to which node), which are worth asking
 * again, and which are neither. The redirect itself is parsed by
 * clusterRedirectParse (test_cluster.c); here: scan.c's own messages. */
#include "src/scan.h"
#include "tests/test.h"

int main(void) {
    TEST("scan.redirect_moved") {
        clusterRedirect to;
        CHECK_EQ_INT(CLUSTER_REDIR_MOVED, scanRedirect("source refused DUMP: MOVED 3999 127.0.0.1:7001", &to));
        CHECK_EQ_INT(3999, to.slot);
        CHECK_EQ_STR("127.0.0.1", to.host);
        CHECK_EQ_INT(7001, to.port);
    }
    TEST("scan.redirect_ask") {
        clusterRedirect to;
        CHECK_EQ_INT(CLUSTER_REDIR_ASK, scanRedirect("source refused DUMP: ASK 12 node-2.example:6380\r\n", &to));
        CHECK_EQ_STR("node-2.example", to.host);
        CHECK_EQ_INT(6380, to.port);
    }
    TEST("scan.redirect_unknown_endpoint") { /* the copy puts its source's host in */
        clusterRedirect to;
        CHECK_EQ_INT(CLUSTER_REDIR_MOVED, scanRedirect("source refused DUMP: MOVED 5 :7002", &to));
        CHECK_EQ_STR("", to.host);
        CHECK_EQ_STR("10.0.0.3", clusterRedirectHost(&to, "10.0.0.3"));
    }
    TEST("scan.redirect_not") {
        clusterRedirect to;
        CHECK_EQ_INT(CLUSTER_REDIR_NONE,
                     scanRedirect("source refused DUMP: NOPERM this user has no permissions", &to));
        CHECK_EQ_INT(CLUSTER_REDIR_NONE, scanRedirect("source refused DUMP: MOVED 12", &to)); /* no node */
        CHECK_EQ_INT(CLUSTER_REDIR_NONE, scanRedirect("source refused ASKING", &to));
        CHECK_EQ_INT(CLUSTER_REDIR_NONE, scanRedirect("source: connection closed", &to));
        CHECK_EQ_INT(CLUSTER_REDIR_NONE, scanRedirect("", &to));
    }
    TEST("scan.transient") {
        CHECK_EQ_INT(1, scanTransient("source refused DUMP: CLUSTERDOWN The cluster is down"));
        CHECK_EQ_INT(1, scanTransient("source refused DUMP: TRYAGAIN Multiple keys request during rehashing of slot"));
        CHECK_EQ_INT(0, scanTransient("source refused DUMP: MOVED 1 127.0.0.1:7000"));
        CHECK_EQ_INT(0, scanTransient("source: connection closed"));
    }
    return test_report();
}

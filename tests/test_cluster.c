/* test_cluster.c -- key slots (CRC16 + hash tags), the parsing of CLUSTER
 * SHARDS / CLUSTER SLOTS replies into a shard map, the reading of -MOVED /
 * -ASK replies, and the comparison of node addresses. */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "src/cluster.h"
#include "tests/test.h"

static unsigned slot(const char *k) { return clusterKeySlot(k, strlen(k)); }

/* A reply object from RESP text, as the server would send it. */
static redisReply *resp(const char *text) {
    redisReader *r = redisReaderCreate();
    void *out = NULL;
    redisReaderFeed(r, text, strlen(text));
    if (redisReaderGetReply(r, &out) != REDIS_OK) out = NULL;
    redisReaderFree(r);
    return out;
}

static void testSlots(void) {
    test_eq_uint("cluster.crc16_check", 0x31c3, clusterCrc16("123456789", 9));
    /* Slots as the server reports them (CLUSTER KEYSLOT). */
    test_eq_uint("cluster.slot_foo", 12182, slot("foo"));
    test_eq_uint("cluster.slot_bar", 5061, slot("bar"));
    test_eq_uint("cluster.slot_empty", 0, slot(""));
    test_eq_uint("cluster.slot_tag", slot("{user1000}.following"), slot("{user1000}.followers"));
    test_eq_uint("cluster.slot_tag_is_content", slot("user1000"), slot("{user1000}.following"));
    /* "{}" is no tag: the whole key counts; only the first '{' opens one. */
    test_eq_uint("cluster.slot_empty_tag", clusterCrc16("foo{}{bar}", 10) & 16383, slot("foo{}{bar}"));
    test_eq_uint("cluster.slot_first_tag", slot("{bar"), slot("foo{{bar}}zap"));
    test_eq_uint("cluster.slot_unclosed", clusterCrc16("foo{bar", 7) & 16383, slot("foo{bar"));
    const char bin[] = {'a', '\0', '{', 'x', '}'};
    test_eq_uint("cluster.slot_binary", slot("x"), clusterKeySlot(bin, sizeof(bin)));
}

#define NODE(id, port, ep, role, health)                                                             \
    "*16\r\n$2\r\nid\r\n$40\r\n" id "\r\n$4\r\nport\r\n:" port "\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n" \
    "$8\r\nendpoint\r\n" ep "$4\r\nrole\r\n" role "$18\r\nreplication-offset\r\n:0\r\n"               \
    "$6\r\nhealth\r\n" health "$8\r\nhostname\r\n$0\r\n\r\n"
#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccccccccccc"
#define EP_IP "$9\r\n127.0.0.1\r\n"
#define MASTER "$6\r\nmaster\r\n"
#define REPLICA "$7\r\nreplica\r\n"
#define ONLINE "$6\r\nonline\r\n"

static void testShards(void) {
    /* Two shards: [0-100, 200-16383] on A (replica C, announced "?"), and
     * [101-199] on B without replicas. */
    redisReply *r = resp("*2\r\n"
                         "*4\r\n$5\r\nslots\r\n*4\r\n:0\r\n:100\r\n:200\r\n:16383\r\n"
                         "$5\r\nnodes\r\n*2\r\n" NODE(ID_A, "7000", EP_IP, MASTER, ONLINE)
                             NODE(ID_C, "7002", "$1\r\n?\r\n", REPLICA, ONLINE)
                         "*4\r\n$5\r\nslots\r\n*2\r\n:101\r\n:199\r\n"
                         "$5\r\nnodes\r\n*1\r\n" NODE(ID_B, "7001", EP_IP, MASTER, ONLINE));
    TEST("cluster.parse_shards") {
        char err[256] = "";
        if (!CHECK(r != NULL)) continue;
        clusterMap *m = clusterMapParseShards(r, "asked.example", 0, err, sizeof(err));
        if (!CHECK(m != NULL)) continue;
        CHECK_EQ_INT(2, m->nshards);
        CHECK_EQ_INT(7000, m->shards[0].master.port);
        CHECK_EQ_STR("127.0.0.1", m->shards[0].master.host);
        CHECK_EQ_STR(ID_A, m->shards[0].master.id);
        CHECK_EQ_INT(1, m->shards[0].nreplicas);
        CHECK_EQ_STR("asked.example", m->shards[0].replicas[0].host);
        CHECK_EQ_INT(0, clusterSlotShard(m, 0));
        CHECK_EQ_INT(1, clusterSlotShard(m, 150));
        CHECK_EQ_INT(0, clusterSlotShard(m, 16383));
        CHECK_EQ_INT(2, clusterMapMasters(m));
        CHECK_EQ_INT(0, clusterMapComplete(m, "x", err, sizeof(err)));
        CHECK_EQ_INT(1, clusterFindMaster(m, "127.0.0.1", 7001));
        /* MOVED to a master not in the map yet: a new shard. */
        CHECK_EQ_INT(2, clusterMapMoveSlot(m, 5, "10.0.0.9", 7100));
        CHECK_EQ_INT(2, clusterSlotShard(m, 5));
        CHECK_EQ_INT(1, clusterMapMoveSlot(m, 6, "127.0.0.1", 7001));
        CHECK_EQ_INT(3, clusterMapMasters(m));
        clusterMapFree(m);
    }
    freeReplyObject(r);

    /* A failover in progress: the failed old master and the new one. */
    r = resp("*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n" NODE(
        ID_A, "7000", EP_IP, MASTER, "$4\r\nfail\r\n") NODE(ID_B, "7001", EP_IP, MASTER, ONLINE));
    TEST("cluster.parse_shards_failover") {
        char err[256] = "";
        clusterMap *m = r ? clusterMapParseShards(r, "h", 0, err, sizeof(err)) : NULL;
        if (!CHECK(m != NULL)) continue;
        CHECK_EQ_INT(7001, m->shards[0].master.port);
        CHECK_EQ_INT(1, m->shards[0].nreplicas);
        CHECK_EQ_INT(1, m->shards[0].replicas[0].failed);
        clusterMapFree(m);
    }
    freeReplyObject(r);
}

static void testSlotsReply(void) {
    /* CLUSTER SLOTS: A has two ranges (grouped by id), B one; a hole at
     * 16000-16383. */
    redisReply *r = resp("*3\r\n"
                         "*4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$40\r\n" ID_A "\r\n"
                         "*3\r\n$0\r\n\r\n:7003\r\n$40\r\n" ID_C "\r\n"
                         "*3\r\n:5461\r\n:10922\r\n*3\r\n$9\r\n127.0.0.1\r\n:7001\r\n$40\r\n" ID_B "\r\n"
                         "*3\r\n:10923\r\n:15999\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$40\r\n" ID_A "\r\n");
    TEST("cluster.parse_slots") {
        char err[256] = "";
        clusterMap *m = r ? clusterMapParseSlots(r, "asked", err, sizeof(err)) : NULL;
        if (!CHECK(m != NULL)) continue;
        CHECK_EQ_INT(2, m->nshards);
        CHECK_EQ_INT(2, m->shards[0].nranges);
        CHECK_EQ_STR("asked", m->shards[0].replicas[0].host);
        CHECK_EQ_INT(0, clusterSlotShard(m, 12000));
        CHECK_EQ_INT(1, clusterSlotShard(m, 5461));
        CHECK_EQ_INT(-1, clusterSlotShard(m, 16000));
        CHECK_EQ_INT(-1, clusterMapComplete(m, "127.0.0.1:7000", err, sizeof(err)));
        CHECK_EQ_STR("cluster 127.0.0.1:7000: slot 16000 has no master (is the cluster complete? cluster_state must be ok)",
                     err);
        clusterMapFree(m);
    }
    freeReplyObject(r);

    r = resp("*1\r\n*3\r\n:0\r\n:99999\r\n*2\r\n$1\r\nh\r\n:1\r\n");
    TEST("cluster.parse_slots_bad_range") {
        char err[256] = "";
        clusterMap *m = clusterMapParseSlots(r, "a", err, sizeof(err));
        CHECK(m == NULL);
        CHECK_EQ_STR("CLUSTER SLOTS: malformed range 0", err);
    }
    freeReplyObject(r);
}

/* One redirection: kind, slot, host, port as parsed (kind NONE: zeroed). */
static int redir(const char *err, clusterRedirKind kind, int slot, const char *host, int port) {
    clusterRedirect r;
    memset(&r, 0x5a, sizeof(r)); /* a parser that leaves fields unset shows */
    clusterRedirKind got = clusterRedirectParse(err, &r);
    return CHECK_EQ_INT(kind, got) & CHECK_EQ_INT(kind, r.kind) & CHECK_EQ_INT(slot, r.slot) &
           CHECK_EQ_STR(host, r.host) & CHECK_EQ_INT(port, r.port);
}

#define NOT_REDIR(err) redir(err, CLUSTER_REDIR_NONE, 0, "", 0)

static void testRedirects(void) {
    /* What the servers print (clusterRedirectClient, "-%s %d %s:%d" with
     * the preferred endpoint), as hiredis hands it over: no '-', no CRLF. */
    TEST("cluster.redirect_ipv4") {
        redir("MOVED 3999 127.0.0.1:6381", CLUSTER_REDIR_MOVED, 3999, "127.0.0.1", 6381);
        redir("ASK 12 10.0.0.2:7001", CLUSTER_REDIR_ASK, 12, "10.0.0.2", 7001);
        redir("MOVED 0 1.2.3.4:1", CLUSTER_REDIR_MOVED, 0, "1.2.3.4", 1);
        redir("MOVED 16383 1.2.3.4:65535", CLUSTER_REDIR_MOVED, 16383, "1.2.3.4", 65535);
    }
    TEST("cluster.redirect_wire_form") { /* the raw line: '-' and CRLF */
        redir("-MOVED 3999 127.0.0.1:6381\r\n", CLUSTER_REDIR_MOVED, 3999, "127.0.0.1", 6381);
        redir("-ASK 5 h:7\r\n", CLUSTER_REDIR_ASK, 5, "h", 7);
    }
    TEST("cluster.redirect_ipv6_bare") { /* Redis and Valkey print n->ip as is */
        redir("MOVED 3999 ::1:6380", CLUSTER_REDIR_MOVED, 3999, "::1", 6380);
        redir("ASK 7 2001:db8::17:7002", CLUSTER_REDIR_ASK, 7, "2001:db8::17", 7002);
        redir("MOVED 1 fe80::1%eth0:7000", CLUSTER_REDIR_MOVED, 1, "fe80::1%eth0", 7000);
    }
    TEST("cluster.redirect_ipv6_brackets") { /* as a proxy may write it */
        redir("MOVED 3999 [::1]:6380", CLUSTER_REDIR_MOVED, 3999, "::1", 6380);
        redir("ASK 3 [2001:db8::17]:7002", CLUSTER_REDIR_ASK, 3, "2001:db8::17", 7002);
    }
    TEST("cluster.redirect_unknown_endpoint") {
        /* cluster-preferred-endpoint-type unknown-endpoint: "" */
        redir("MOVED 3999 :6380", CLUSTER_REDIR_MOVED, 3999, "", 6380);
        /* hostname preferred, no cluster-announce-hostname: "?" */
        redir("ASK 3999 ?:6380", CLUSTER_REDIR_ASK, 3999, "", 6380);
    }
    TEST("cluster.redirect_hostname") {
        redir("MOVED 12182 node-2.cache.example.com:6379", CLUSTER_REDIR_MOVED, 12182, "node-2.cache.example.com", 6379);
        redir("ASK 1 localhost:7000", CLUSTER_REDIR_ASK, 1, "localhost", 7000);
    }
    TEST("cluster.redirect_other_errors") {
        NOT_REDIR("TRYAGAIN Multiple keys request during rehashing of slot");
        NOT_REDIR("CLUSTERDOWN The cluster is down");
        NOT_REDIR("ERR MOVED 1 h:1");      /* not at the start: another error's text */
        NOT_REDIR("moved 1 h:1");          /* the server's word is upper case */
        NOT_REDIR("MOVEDX 1 h:1");
        NOT_REDIR("ASKING 1 h:1");
        NOT_REDIR("");
        NOT_REDIR(NULL);
    }
    TEST("cluster.redirect_bad_slot") {
        NOT_REDIR("MOVED 16384 h:1");      /* out of range */
        NOT_REDIR("MOVED 99999999999999999999 h:1");
        NOT_REDIR("MOVED -1 h:1");
        NOT_REDIR("MOVED 12a h:1");
        NOT_REDIR("MOVED  12 h:1");
        NOT_REDIR("MOVED x h:1");
        NOT_REDIR("MOVED 12");             /* truncated */
        NOT_REDIR("MOVED 12 ");
        NOT_REDIR("MOVED ");
        NOT_REDIR("ASK");
    }
    TEST("cluster.redirect_bad_address") {
        NOT_REDIR("MOVED 12 127.0.0.1");   /* no port */
        NOT_REDIR("MOVED 12 127.0.0.1:");
        NOT_REDIR("MOVED 12 h:0");         /* port out of range */
        NOT_REDIR("MOVED 12 h:65536");
        NOT_REDIR("MOVED 12 h:123456");
        NOT_REDIR("MOVED 12 h:-1");
        NOT_REDIR("MOVED 12 h:80x");
        NOT_REDIR("MOVED 12 h:+80");
        NOT_REDIR("MOVED 12 [::1:6380");   /* unclosed bracket */
        NOT_REDIR("MOVED 12 [::1]6380");
        NOT_REDIR("MOVED 12 [::1]");
        NOT_REDIR("MOVED 12  h:1");        /* empty address, then garbage */
        NOT_REDIR("MOVED 12 :");
    }
    TEST("cluster.redirect_long_host") { /* an endpoint longer than kept: refused, no overflow */
        char buf[600];
        snprintf(buf, sizeof(buf), "MOVED 1 %0*d:7000", CLUSTER_HOST_MAX, 0);
        NOT_REDIR(buf);
        snprintf(buf, sizeof(buf), "MOVED 1 %0*d:7000", CLUSTER_HOST_MAX - 1, 0);
        clusterRedirect r;
        CHECK_EQ_INT(CLUSTER_REDIR_MOVED, clusterRedirectParse(buf, &r));
        CHECK_EQ_INT(CLUSTER_HOST_MAX - 1, (int)strlen(r.host));
    }
    TEST("cluster.redirect_trailing") { /* after the address: ignored, as before */
        redir("MOVED 12 h:1 more words", CLUSTER_REDIR_MOVED, 12, "h", 1);
        redir("MOVED 12 h:1\n", CLUSTER_REDIR_MOVED, 12, "h", 1);
    }
    TEST("cluster.redirect_every_prefix") {
        /* A reply cut anywhere: NONE until a port digit is in (then the
         * shorter port), never a read past the end (exact-size copies:
         * ASan sees an overread). */
        const char *full = "MOVED 3999 [2001:db8::17]:7002";
        size_t n = strlen(full), port_at = strlen("MOVED 3999 [2001:db8::17]:");
        for (size_t i = 0; i <= n; i++) {
            char *cut = malloc(i + 1);
            if (!CHECK(cut != NULL)) break;
            memcpy(cut, full, i);
            cut[i] = '\0';
            clusterRedirect r;
            clusterRedirKind k = clusterRedirectParse(cut, &r);
            if (i <= port_at) CHECK_EQ_INT(CLUSTER_REDIR_NONE, k);
            else if (CHECK_EQ_INT(CLUSTER_REDIR_MOVED, k)) CHECK_EQ_INT(atoi(cut + port_at), r.port); /* 7, 70, 700, 7002 */
            free(cut);
        }
    }
    TEST("cluster.redirect_host") {
        clusterRedirect r;
        clusterRedirectParse("MOVED 1 :7001", &r);
        CHECK_EQ_STR("10.0.0.5", clusterRedirectHost(&r, "10.0.0.5"));
        CHECK_EQ_STR("", clusterRedirectHost(&r, NULL));
        clusterRedirectParse("MOVED 1 10.0.0.6:7001", &r);
        CHECK_EQ_STR("10.0.0.6", clusterRedirectHost(&r, "10.0.0.5"));
    }
}

static void testSameAddr(void) {
    TEST("cluster.same_addr_equal") {
        CHECK_EQ_INT(1, clusterSameAddr("127.0.0.1", 7000, "127.0.0.1", 7000));
        CHECK_EQ_INT(1, clusterSameAddr("localhost", 7000, "127.0.0.1", 7000));
        CHECK_EQ_INT(1, clusterSameAddr("LocalHost", 7000, "::1", 7000));
        CHECK_EQ_INT(1, clusterSameAddr("[::1]", 7000, "127.0.0.1", 7000));
        CHECK_EQ_INT(1, clusterSameAddr("2001:db8::17", 7000, "[2001:DB8:0:0:0:0:0:17]", 7000));
        CHECK_EQ_INT(1, clusterSameAddr("::ffff:10.0.0.1", 7000, "10.0.0.1", 7000));
        CHECK_EQ_INT(1, clusterSameAddr("Node-1.Example", 7000, "node-1.example.", 7000));
        CHECK_EQ_INT(1, clusterSameAddr("", 7000, NULL, 7000));
    }
    TEST("cluster.same_addr_differ") {
        CHECK_EQ_INT(0, clusterSameAddr("127.0.0.1", 7000, "127.0.0.1", 7001));
        CHECK_EQ_INT(0, clusterSameAddr("127.0.0.1", 7000, "127.0.0.2", 7000)); /* nodes may bind 127.0.0.2 */
        CHECK_EQ_INT(0, clusterSameAddr("10.0.0.1", 7000, "10.0.0.10", 7000));
        CHECK_EQ_INT(0, clusterSameAddr("node-1", 7000, "node-1.example", 7000)); /* no DNS */
        CHECK_EQ_INT(0, clusterSameAddr("node-1", 7000, "10.0.0.1", 7000));
        CHECK_EQ_INT(0, clusterSameAddr("", 7000, "127.0.0.1", 7000)); /* "" is resolved by the caller */
        CHECK_EQ_INT(0, clusterSameAddr("::1", 7000, "::2", 7000));
    }
    TEST("cluster.find_master_by_addr") {
        clusterMap m = {0};
        clusterShard sh[2] = {{.master = {.host = "127.0.0.1", .port = 7000}},
                              {.master = {.host = "2001:db8::17", .port = 7001}}};
        m.shards = sh, m.nshards = 2;
        CHECK_EQ_INT(0, clusterFindMaster(&m, "localhost", 7000));
        CHECK_EQ_INT(0, clusterFindMaster(&m, "::1", 7000));
        CHECK_EQ_INT(1, clusterFindMaster(&m, "[2001:db8:0::17]", 7001));
        CHECK_EQ_INT(-1, clusterFindMaster(&m, "127.0.0.1", 7001));
        /* MOVED to a known master spelled otherwise: no second shard for it */
        clusterRedirect r;
        clusterRedirectParse("MOVED 9 :7000", &r);
        CHECK_EQ_INT(0, clusterFindMaster(&m, clusterRedirectHost(&r, "localhost"), r.port));
    }
}

static void testNodeUrl(void) {
    TEST("cluster.node_url") {
        rsUrl seed, u;
        char err[256];
        if (!CHECK_EQ_INT(0, urlParse("rediss://bob:pw@seed:7000/3", &seed, err, sizeof(err)))) continue;
        clusterNode n = {.host = "10.1.2.3", .port = 7005};
        if (!CHECK_EQ_INT(0, clusterNodeUrl(&seed, &n, &u))) continue;
        CHECK_EQ_STR("10.1.2.3", u.host);
        CHECK_EQ_INT(7005, u.port);
        CHECK_EQ_STR("bob", u.user);
        CHECK_EQ_STR("pw", u.password);
        CHECK_EQ_INT(1, u.tls);
        CHECK_EQ_INT(-1, u.db);
        urlFree(&u);
        urlFree(&seed);
    }
}

int main(void) {
    testSlots();
    testShards();
    testSlotsReply();
    testNodeUrl();
    testRedirects();
    testSameAddr();
    return test_report();
}

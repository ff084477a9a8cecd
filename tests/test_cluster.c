/* test_cluster.c -- key slots (CRC16 + hash tags) and the parsing of CLUSTER
 * SHARDS / CLUSTER SLOTS replies into a shard map. */
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
    return test_report();
}

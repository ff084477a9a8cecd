/* test_state.c -- the --state file (state.h): the format round trip with
 * escaped addresses, every kind of damage refused (cut short anywhere, a
 * byte changed, another version, an unknown field, a duplicate link),
 * identity checks, the atomic save and load, the keeper, and the lock
 * that keeps two runs off one file; a cluster shard's record (cstate.h):
 * keyed by its slot ranges, naming up to 8 node ids, matched by a whole id.
 */
#include "src/state.h"
#include "src/cstate.h"
#include "tests/test.h"
#include "rdb/crc64.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static stateFile sample(void) {
    stateFile st = {0};
    snprintf(st.target, sizeof(st.target), "127.0.0.1:6380");
    snprintf(st.target_run_id, sizeof(st.target_run_id), A);
    stateLink l = {.offset = 123456, .db = 3, .target_ours = 1, .updated_ms = 1796000000000};
    snprintf(l.source, sizeof(l.source), "unix:/tmp/my sock=%%-x");
    snprintf(l.source_run_id, sizeof(l.source_run_id), B);
    snprintf(l.replid, sizeof(l.replid), A);
    stateSet(&st, &l);
    stateLink m = {.offset = -1, .db = 0};
    snprintf(m.source, sizeof(m.source), "[::1]:7001");
    stateSet(&st, &m);
    return st;
}

int main(void) {
    char buf[8192], err[300];
    stateFile st = sample(), back;
    long n = stateFormat(&st, buf, sizeof(buf));

    TEST("state.roundtrip") {
        if (!CHECK(n > 0)) continue;
        CHECK(strstr(buf, "source=unix:/tmp/my%20sock%3D%25-x ") != NULL);
        if (!CHECK_EQ_INT(0, stateParse(buf, (size_t)n, &back, err, sizeof(err)))) continue;
        CHECK_EQ_STR("127.0.0.1:6380", back.target);
        CHECK_EQ_STR(A, back.target_run_id);
        CHECK_EQ_INT(2, back.nlinks);
        stateLink *l = stateFind(&back, "unix:/tmp/my sock=%-x");
        if (!CHECK(l != NULL)) continue;
        CHECK_EQ_STR(B, l->source_run_id);
        CHECK_EQ_STR(A, l->replid);
        CHECK_EQ_INT(123456, l->offset);
        CHECK_EQ_INT(3, l->db);
        CHECK_EQ_INT(1, l->target_ours);
        CHECK(stateHasPosition(l));
        stateLink *m = stateFind(&back, "[::1]:7001");
        CHECK(m && !stateHasPosition(m) && m->source_run_id[0] == '\0');
    }

    TEST("state.truncated_anywhere") {
        int refused = 0;
        for (long cut = 0; cut < n; cut++) refused += stateParse(buf, (size_t)cut, &back, err, sizeof(err)) < 0;
        CHECK_EQ_INT(n, refused);
    }

    TEST("state.byte_changed") {
        int refused = 0;
        for (long i = 0; i < n; i++) {
            char copy[8192];
            memcpy(copy, buf, (size_t)n);
            copy[i] ^= 0x01;
            refused += stateParse(copy, (size_t)n, &back, err, sizeof(err)) < 0;
            if (i == 40) CHECK(strstr(err, "checksum mismatch") != NULL);
        }
        CHECK_EQ_INT(n, refused);
    }

    /* Well-formed and checksummed, but not version 1 or not ours. */
    TEST("state.refused_content") {
        const char *docs[] = {
            "rdbsync-state 2\ntarget addr=x:1 run_id=-\n",
            "rdbsync-state 1\ntarget addr=x:1 run_id=-\nlink source=a:1 color=blue\n",
            "rdbsync-state 1\ntarget addr=x:1 run_id=-\nlink source=a:1\nlink source=a:1\n",
            "rdbsync-state 1\ntarget addr=x:1 run_id=xyz\n",
            "rdbsync-state 1\nlink source=a:1\n",
            "something else\n",
        };
        const char *whys[] = {"version 2, this rdbsync reads version 1", "bad field 'color'", "twice the same",
                              "bad field 'run_id'", "no target line", "not an rdbsync state file"};
        for (size_t i = 0; i < sizeof(docs) / sizeof(*docs); i++) {
            char doc[512];
            int dl = snprintf(doc, sizeof(doc), "%s", docs[i]);
            snprintf(doc + dl, sizeof(doc) - (size_t)dl, "checksum %016llx\n",
                     (unsigned long long)crc64(0, doc, (size_t)dl));
            CHECK_EQ_INT(-1, stateParse(doc, strlen(doc), &back, err, sizeof(err)));
            CHECK(strstr(err, whys[i]) != NULL);
        }
    }

    TEST("state.identity") {
        char why[300];
        CHECK_EQ_INT(0, stateMatches(&st, "127.0.0.1:6380", A, "[::1]:7001", why, sizeof(why)));
        CHECK_EQ_INT(0, stateMatches(&st, "127.0.0.1:6380", "", NULL, why, sizeof(why)));
        CHECK_EQ_INT(-1, stateMatches(&st, "127.0.0.1:6381", A, "[::1]:7001", why, sizeof(why)));
        CHECK(strstr(why, "written for target 127.0.0.1:6380") != NULL);
        CHECK_EQ_INT(-1, stateMatches(&st, "127.0.0.1:6380", B, "[::1]:7001", why, sizeof(why)));
        CHECK(strstr(why, "restarted or was replaced") != NULL);
        CHECK_EQ_INT(-1, stateMatches(&st, "127.0.0.1:6380", A, "10.0.0.1:6379", why, sizeof(why)));
        CHECK(strstr(why, "(and others), not 10.0.0.1:6379") != NULL);
    }

    TEST("state.save_load") {
        char dir[] = "/tmp/rdbsync-test-state.XXXXXX", path[128], tmp[160];
        if (!CHECK(mkdtemp(dir) != NULL)) continue;
        snprintf(path, sizeof(path), "%s/s.state", dir);
        snprintf(tmp, sizeof(tmp), "%s.rdbsync-tmp", path);
        CHECK_EQ_INT(0, stateLoad(path, &back, err, sizeof(err))); /* absent */
        CHECK_EQ_INT(0, stateSave(path, &st, err, sizeof(err)));
        struct stat sb;
        CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
        CHECK(access(tmp, F_OK) != 0);
        CHECK_EQ_INT(1, stateLoad(path, &back, err, sizeof(err)));
        CHECK_EQ_INT(2, back.nlinks);
        FILE *f = fopen(path, "r+");
        if (f) {
            fseek(f, 40, SEEK_SET);
            fputc('#', f);
            fclose(f);
        }
        CHECK_EQ_INT(-1, stateLoad(path, &back, err, sizeof(err)));
        CHECK(strstr(err, "corrupt state file") != NULL);
        /* The keeper: writes at start, records a link, writes on stop. */
        stateKeeper *k = stateKeeperStart(path, &st, 50, err, sizeof(err));
        if (!CHECK(k != NULL)) continue;
        stateLink l = st.links[1];
        l.offset = 99;
        snprintf(l.replid, sizeof(l.replid), B);
        stateKeeperSetLink(k, &l);
        CHECK_EQ_INT(0, stateKeeperFlush(k, err, sizeof(err)));
        CHECK_EQ_INT(1, stateLoad(path, &back, err, sizeof(err)));
        CHECK_EQ_INT(99, stateFind(&back, "[::1]:7001")->offset);
        l.offset = 100;
        stateKeeperSetLink(k, &l);
        CHECK_EQ_INT(0, stateKeeperStop(k, err, sizeof(err)));
        CHECK_EQ_INT(1, stateLoad(path, &back, err, sizeof(err)));
        CHECK_EQ_INT(100, stateFind(&back, "[::1]:7001")->offset);
        /* One run per file: a second lock is refused until the first goes. */
        int fd = stateLock(path, err, sizeof(err));
        CHECK(fd >= 0);
        CHECK_EQ_INT(-1, stateLock(path, err, sizeof(err)));
        CHECK(strstr(err, "in use by another rdbsync") != NULL);
        stateUnlock(fd);
        fd = stateLock(path, err, sizeof(err));
        CHECK(fd >= 0);
        stateUnlock(fd);
        char lock[160];
        snprintf(lock, sizeof(lock), "%s.lock", path);
        unlink(lock);
        unlink(path);
        rmdir(dir);
    }

    TEST("state.cluster_shard") {
        csShard sh = {.nids = 8};
        snprintf(sh.ranges, sizeof(sh.ranges), "0-100,200-5460");
        for (int i = 0; i < 8; i++) snprintf(sh.ids[i], sizeof(sh.ids[i]), "%040x", i + 1);
        stateFile cf = {0};
        stateLink l = {.offset = 42, .db = 0};
        cstateKey(&sh, l.source, sizeof(l.source));
        cstateNodes(&sh, l.nodes, sizeof(l.nodes));
        snprintf(l.replid, sizeof(l.replid), A);
        snprintf(cf.target, sizeof(cf.target), "127.0.0.1:6380");
        stateSet(&cf, &l);
        long cn = stateFormat(&cf, buf, sizeof(buf));
        if (!CHECK(cn > 0)) continue;
        if (!CHECK_EQ_INT(0, stateParse(buf, (size_t)cn, &back, err, sizeof(err)))) continue;
        stateLink *r = stateFind(&back, "slots:0-100,200-5460");
        if (!CHECK(r != NULL)) continue;
        CHECK_EQ_STR(l.nodes, r->nodes);
        CHECK_EQ_INT(42, r->offset);
        CHECK(cstateSameShard(r, &sh));
        csShard other = {.nids = 1};
        snprintf(other.ids[0], sizeof(other.ids[0]), "%039x", 1); /* a prefix of an id is not the id */
        CHECK(!cstateSameShard(r, &other));
        snprintf(other.ids[0], sizeof(other.ids[0]), "%040x", 8); /* the last one counts */
        CHECK(cstateSameShard(r, &other));
        /* A single source's record has no nodes field at all. */
        CHECK(strstr(buf, "nodes=") != NULL);
        cn = stateFormat(&st, buf, sizeof(buf));
        CHECK(cn > 0 && strstr(buf, "nodes=") == NULL);
    }

    TEST("state.unwritable") {
        stateKeeper *k = stateKeeperStart("/nonexistent-dir/x.state", &st, 50, err, sizeof(err));
        CHECK(k == NULL);
        CHECK(strstr(err, "/nonexistent-dir/x.state.rdbsync-tmp: cannot create") != NULL);
    }
    return test_report();
}

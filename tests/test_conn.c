/* test_conn.c -- the connection layer (conn.c over net.c and tls.c; the
 * transports alone are in test_transport.c).
 *
 * Run alone (make test, no env): INFO parsing and the RDB version table
 * (rdbVersionForRelease); "Connection refused"; the I/O timeout against a
 * socket of our own that listens but never answers; IPv6 connect to such
 * a socket. Against the TLS server, also the TLS transport's contract: a
 * failure sticks, a close is EOF, opens from several threads at once.
 *
 * Run by tests/it_conn.sh with these set, only the server tests:
 *   RDBSYNC_TEST_PORT       plain redis-server on 127.0.0.1
 *   RDBSYNC_TEST_UNIX       its unix socket path (optional)
 *   RDBSYNC_TEST_AUTH_PORT  --requirepass s3cret
 *   RDBSYNC_TEST_ACL_PORT   ACL user alice with password pw
 *   RDBSYNC_TEST_TLS_CERTS  directory made by lib.sh's it_make_certs
 *   RDBSYNC_TEST_TLS_PORT   TLS-only server (server.crt, client certs required)
 *   RDBSYNC_TEST_TLS_OTHER_PORT  TLS-only server with other.crt (other.example)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rdb/rdb.h"
#include "src/conn.h"
#include "src/net.h"
#include "src/tls.h"
#include "src/transport.h"
#include "src/url.h"
#include "tests/test.h"

#define WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

static char err[1024];

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parse url, connect; NULL with err filled. */
static rsConn *openUrl(const char *url, const rsConnOptions *o) {
    rsUrl u;
    err[0] = '\0';
    if (urlParse(url, &u, err, sizeof(err)) < 0) return NULL;
    rsConn *c = connOpen(&u, o, err, sizeof(err));
    urlFree(&u);
    return c;
}

static const char *envPort(const char *name) {
    const char *p = getenv(name);
    return p && *p ? p : NULL;
}

/* A listening socket that is never accept()ed: connect succeeds (the kernel
 * completes the handshake), but nothing is ever answered. */
static int blackhole(int family, int *port) {
    int fd = socket(family, SOCK_STREAM, 0);
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (fd < 0) return -1;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*a);
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 8) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* ---- no server needed ---- */

static const char *INFO_REDIS70 = "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n"
                                  "redis_mode:standalone\r\nos:Linux\r\n";
static const char *INFO_VALKEY8 = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\n"
                                  "valkey_version:8.0.1\r\nredis_mode:cluster\r\n";
static const char *INFO_VALKEY9 = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\n"
                                  "valkey_version:9.0.0\r\n";
static const char *INFO_VALKEY72_NAMEONLY = "redis_version:7.2.4\r\nserver_name:valkey\r\n";

static void testPure(void) {
    rsServerInfo si;
    TEST("conn.info.redis70") {
        if (!CHECK_EQ_INT(0, connParseInfo(INFO_REDIS70, &si))) continue;
        CHECK_EQ_STR("7.0.15", si.redis_version);
        CHECK_EQ_STR("", si.valkey_version);
        CHECK_EQ_STR("standalone", si.redis_mode);
        CHECK_EQ_INT(0, si.is_valkey);
        CHECK_EQ_INT(7, si.major);
        CHECK_EQ_INT(0, si.minor);
        CHECK_EQ_INT(15, si.patch);
        CHECK_EQ_INT(10, si.rdb_version);
        CHECK_EQ_INT(512LL * 1024 * 1024, si.proto_max_bulk_len);
    }
    TEST("conn.info.valkey8") {
        if (!CHECK_EQ_INT(0, connParseInfo(INFO_VALKEY8, &si))) continue;
        CHECK_EQ_INT(1, si.is_valkey);
        CHECK_EQ_STR("7.2.4", si.redis_version);
        CHECK_EQ_STR("8.0.1", si.valkey_version);
        CHECK_EQ_STR("cluster", si.redis_mode);
        CHECK_EQ_INT(8, si.major);
        CHECK_EQ_INT(11, si.rdb_version);
    }
    TEST("conn.info.valkey9") {
        if (!CHECK_EQ_INT(0, connParseInfo(INFO_VALKEY9, &si))) continue;
        CHECK_EQ_INT(80, si.rdb_version);
    }
    TEST("conn.info.valkey_server_name_only") {
        if (!CHECK_EQ_INT(0, connParseInfo(INFO_VALKEY72_NAMEONLY, &si))) continue;
        CHECK_EQ_INT(1, si.is_valkey);
        CHECK_EQ_INT(11, si.rdb_version);
    }
    test_eq_int("conn.info.no_version", -1, connParseInfo("# Server\r\nfoo:bar\r\n", &si));
    TEST("rdb.version_for_release") { /* {valkey, major, minor, version} */
        static const int t[][4] = {{0, 1, 2, 1},  {0, 2, 2, 1},  {0, 2, 4, 2},  {0, 2, 6, 6},  {0, 2, 8, 6},
                                   {0, 3, 0, 6},  {0, 3, 2, 7},  {0, 4, 0, 8},  {0, 5, 0, 9},  {0, 6, 2, 9},
                                   {0, 7, 0, 10}, {0, 7, 2, 11}, {0, 7, 4, 12}, {0, 8, 0, 12}, {0, 8, 4, 12},
                                   {0, 8, 6, 13}, {0, 9, 9, 13}, {1, 7, 2, 11}, {1, 8, 1, 11}, {1, 9, 0, 80}, {1, 9, 1, 80},
                                   {1, 10, 0, 80}};
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
            CHECK_EQ_INT(t[i][3], rdbVersionForRelease(t[i][0] ? RDB_FLAVOUR_VALKEY : RDB_FLAVOUR_REDIS, t[i][1],
                                                       t[i][2]));
    }
}

static void testRefusedAndTimeouts(void) {
    TEST("conn.refused") {
        int port, fd = blackhole(AF_INET, &port);
        if (fd < 0) TEST_SKIP("cannot bind a loopback socket");
        close(fd); /* now nothing listens there */
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%d", port), NULL);
        CHECK(c == NULL);
        CHECK_EQ_STR(test_fmt("cannot connect to 127.0.0.1:%d: Connection refused", port), err);
        connClose(c);
    }
    TEST("conn.io_timeout") {
        int port, fd = blackhole(AF_INET, &port);
        if (fd < 0) TEST_SKIP("cannot bind a loopback socket");
        rsConnOptions o = {.io_timeout_ms = 300};
        long long t0 = nowMs();
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%d", port), &o);
        long long ms = nowMs() - t0;
        CHECK(c == NULL);
        CHECK_EQ_STR(test_fmt("cannot read from 127.0.0.1:%d: timed out after 300 ms", port), err);
        CHECK(ms >= 280 && ms < 3000);
        connClose(c);
        close(fd);
    }
    TEST("conn.io_timeout_after_open") {
        int port, fd = blackhole(AF_INET, &port);
        if (fd < 0) TEST_SKIP("cannot bind a loopback socket");
        rsConnOptions o = {.skip_ping = 1}; /* nothing to send: open succeeds */
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%d", port), &o);
        if (!CHECK(c != NULL)) {
            close(fd);
            continue;
        }
        connSetTimeout(c, 300);
        char buf[16];
        long long t0 = nowMs();
        CHECK_EQ_INT(-1, connRead(c, buf, sizeof(buf)));
        CHECK(nowMs() - t0 >= 280);
        CHECK_EQ_STR(test_fmt("cannot read from 127.0.0.1:%d: timed out after 300 ms", port), connError(c));
        CHECK_EQ_INT(CONN_AGAIN, connReadNonBlock(c, buf, sizeof(buf)));
        CHECK_EQ_INT(POLLIN, connEvents(c));
        CHECK(connGetReply(c) == NULL);
        connClose(c);
        close(fd);
    }
    TEST("conn.ipv6") {
        int port, fd = blackhole(AF_INET6, &port);
        if (fd < 0) TEST_SKIP("no IPv6 loopback");
        rsConnOptions o = {.skip_ping = 1};
        rsConn *c = openUrl(test_fmt("redis://[::1]:%d", port), &o);
        CHECK(c != NULL);
        if (c) CHECK_EQ_STR(test_fmt("[::1]:%d", port), connAddr(c));
        connClose(c);
        close(fd);
    }
    TEST("conn.resolve_error") {
        rsConn *c = openUrl("redis://no-such-host.invalid:6379", NULL);
        CHECK(c == NULL);
        CHECK(strncmp(err, "cannot resolve host 'no-such-host.invalid': ", 44) == 0);
    }
}

/* ---- plain server ---- */

static void testPing(const char *port) {
    TEST("conn.ping") {
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s", port), NULL);
        if (!CHECK(c != NULL)) continue;
        redisReply *r = connCommandf(c, "PING");
        if (CHECK(r != NULL)) {
            CHECK_EQ_INT(REDIS_REPLY_STATUS, r->type);
            CHECK_EQ_STR("PONG", r->str);
        }
        freeReplyObject(r);
        const char *argv[] = {"ECHO", "a\0b"};
        size_t lens[] = {4, 3};
        r = connCommand(c, 2, argv, lens);
        if (CHECK(r != NULL)) CHECK_EQ_MEM("a\0b", 3, r->str, r->len);
        freeReplyObject(r);
        connClose(c);
    }
    TEST("conn.localhost_name") { /* may try ::1 first: refused, then 127.0.0.1 */
        rsConn *c = openUrl(test_fmt("redis://localhost:%s", port), NULL);
        CHECK(c != NULL);
        if (!c) test_fail("conn.localhost_name.err", "%s", err);
        connClose(c);
    }
    TEST("conn.error_reply_is_not_null") {
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s", port), NULL);
        if (!CHECK(c != NULL)) continue;
        redisReply *r = connCommandf(c, "NOSUCHCOMMAND x");
        if (CHECK(r != NULL)) {
            CHECK_EQ_INT(REDIS_REPLY_ERROR, r->type);
            CHECK(strncmp(r->str, "ERR unknown command", 19) == 0);
        }
        freeReplyObject(r);
        r = connCommandf(c, "PING");
        CHECK(r != NULL && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
        connClose(c);
    }
}

static long long dbsizeOf(const char *port, int db) {
    rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s/%d", port, db), NULL);
    long long n = -1;
    if (!c) return -1;
    redisReply *r = connCommandf(c, "DBSIZE");
    if (r && r->type == REDIS_REPLY_INTEGER) n = r->integer;
    freeReplyObject(r);
    connClose(c);
    return n;
}

static void testSelect(const char *port) {
    TEST("conn.select") {
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s/5", port), NULL);
        if (!CHECK(c != NULL)) continue;
        redisReply *r = connCommandf(c, "FLUSHDB");
        freeReplyObject(r);
        r = connCommandf(c, "SET %s %s", "conn:db5", "v5");
        CHECK(r && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
        connClose(c);
        CHECK_EQ_INT(1, dbsizeOf(port, 5));
        c = openUrl(test_fmt("redis://127.0.0.1:%s/5", port), NULL);
        if (!CHECK(c != NULL)) continue;
        r = connCommandf(c, "GET conn:db5");
        if (CHECK(r && r->type == REDIS_REPLY_STRING)) CHECK_EQ_STR("v5", r->str);
        freeReplyObject(r);
        connClose(c);
        c = openUrl(test_fmt("redis://127.0.0.1:%s/6", port), NULL);
        if (!CHECK(c != NULL)) continue;
        r = connCommandf(c, "EXISTS conn:db5");
        CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
        freeReplyObject(r);
        connClose(c);
    }
    TEST("conn.select_out_of_range") {
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s/99999", port), NULL);
        CHECK(c == NULL);
        CHECK_EQ_STR(test_fmt("cannot select db 99999 on redis://127.0.0.1:%s/99999: ERR DB index is out of range", port),
                     err);
    }
}

static void testServerInfo(const char *port) {
    TEST("conn.server_info") {
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s", port), NULL);
        if (!CHECK(c != NULL)) continue;
        rsServerInfo si;
        if (CHECK_EQ_INT(0, connServerInfo(c, &si))) {
            CHECK(strncmp(si.redis_version, "7.0.", 4) == 0);
            CHECK_EQ_INT(10, si.rdb_version);
            CHECK_EQ_INT(0, si.is_valkey);
            CHECK_EQ_INT(1, si.proto_max_bulk_len_known);
            CHECK_EQ_INT(512LL * 1024 * 1024, si.proto_max_bulk_len);
            CHECK_EQ_STR("standalone", si.redis_mode);
        }
        char *info = connInfo(c, "keyspace");
        CHECK(info != NULL && strstr(info, "# Keyspace") != NULL);
        free(info);
        connClose(c);
    }
}

/* 1000 SETs written with connWriteSome while replies are read with
 * connPollReply, the way the pipelined writer will. */
static void testPipeline(const char *port) {
    TEST("conn.pipeline") {
        enum { N = 2000 };
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s/7", port), NULL);
        if (!CHECK(c != NULL)) continue;
        size_t cap = 1 << 20, len = 0, off = 0;
        char *buf = malloc(cap);
        for (int i = 0; i < N; i++) {
            char *cmd;
            int n = redisFormatCommand(&cmd, "SET pipe:%d %s", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
            memcpy(buf + len, cmd, (size_t)n);
            len += (size_t)n;
            redisFreeCommand(cmd);
        }
        int got = 0, ok = 0, stuck = 0;
        while (got < N && !stuck) {
            struct pollfd p = {.fd = connFd(c), .events = POLLIN | (off < len ? POLLOUT : 0)};
            if (poll(&p, 1, 5000) <= 0) stuck = 1;
            if (off < len) {
                ssize_t n = connWriteSome(c, buf + off, len - off);
                if (n > 0) off += (size_t)n;
                else if (n != CONN_AGAIN) stuck = 2;
            }
            redisReply *r;
            int pr;
            while ((pr = connPollReply(c, &r)) == 1) {
                got++;
                ok += r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
                freeReplyObject(r);
            }
            if (pr < 0) stuck = 3;
        }
        free(buf);
        CHECK_EQ_INT(0, stuck);
        CHECK_EQ_INT(N, got);
        CHECK_EQ_INT(N, ok);
        CHECK_EQ_INT(0, (long long)connPending(c));
        connClose(c);
        CHECK_EQ_INT(N, dbsizeOf(port, 7));
    }
    TEST("conn.big_value") { /* 8 MiB each way: partial reads and writes */
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s/8", port), NULL);
        if (!CHECK(c != NULL)) continue;
        size_t n = 8u << 20;
        char *v = malloc(n);
        for (size_t i = 0; i < n; i++) v[i] = (char)(i * 7 + (i >> 13));
        redisReply *r = connCommandf(c, "SET big %b", v, n);
        CHECK(r && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
        r = connCommandf(c, "GET big");
        if (CHECK(r && r->type == REDIS_REPLY_STRING)) CHECK(r->len == n && memcmp(r->str, v, n) == 0);
        freeReplyObject(r);
        free(v);
        connClose(c);
    }
}

/* Replies and raw reads share one buffer: bytes the parser already
 * received are not lost when switching (replication handshake style). */
static void testRawReads(const char *port) {
    TEST("conn.raw_line_then_reply") {
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s", port), NULL);
        if (!CHECK(c != NULL)) continue;
        const char *req = "PING\r\nECHO hello\r\n";
        CHECK_EQ_INT(0, connWrite(c, req, strlen(req)));
        char line[64];
        CHECK_EQ_INT(5, connReadLine(c, line, sizeof(line)));
        CHECK_EQ_STR("+PONG", line);
        redisReply *r = connGetReply(c);
        if (CHECK(r && r->type == REDIS_REPLY_STRING)) CHECK_EQ_STR("hello", r->str);
        freeReplyObject(r);
        connClose(c);
    }
    TEST("conn.reply_then_raw") {
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s", port), NULL);
        if (!CHECK(c != NULL)) continue;
        const char *req = "PING\r\nECHO abcdef\r\n";
        CHECK_EQ_INT(0, connWrite(c, req, strlen(req)));
        /* wait until both replies are in, so the parser surely holds the 2nd */
        usleep(100 * 1000);
        redisReply *r = connGetReply(c);
        if (CHECK(r && r->type == REDIS_REPLY_STATUS)) CHECK_EQ_STR("PONG", r->str);
        freeReplyObject(r);
        CHECK_EQ_INT(12, (long long)connPending(c));
        char buf[32];
        size_t got = 0;
        while (got < 12) {
            ssize_t n = connReadFn(c, buf + got, 12 - got, err, sizeof(err));
            if (n <= 0) break;
            got += (size_t)n;
        }
        CHECK_EQ_MEM("$6\r\nabcdef\r\n", 12, buf, got);
        CHECK_EQ_INT(0, (long long)connPending(c));
        connClose(c);
    }
    TEST("conn.read_line") {
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s", port), NULL);
        if (!CHECK(c != NULL)) continue;
        const char *req = "ECHO x\r\n";
        CHECK_EQ_INT(0, connWrite(c, req, strlen(req)));
        char line[4];
        CHECK_EQ_INT(2, connReadLine(c, line, sizeof(line))); /* "$1" */
        CHECK_EQ_STR("$1", line);
        CHECK_EQ_INT(1, connReadLine(c, line, sizeof(line)));
        CHECK_EQ_STR("x", line);
        const char *req2 = "ECHO toolongline\r\n";
        CHECK_EQ_INT(0, connWrite(c, req2, strlen(req2)));
        CHECK_EQ_INT(3, connReadLine(c, line, sizeof(line))); /* "$11" fits exactly */
        CHECK_EQ_INT(-1, connReadLine(c, line, sizeof(line)));
        CHECK(strstr(connError(c), "line longer than 3 bytes") != NULL);
        connClose(c);
    }
    TEST("conn.server_closes") {
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s", port), NULL);
        if (!CHECK(c != NULL)) continue;
        redisReply *r = connCommandf(c, "QUIT");
        freeReplyObject(r);
        char b[8];
        CHECK_EQ_INT(0, connRead(c, b, sizeof(b))); /* EOF */
        r = connCommandf(c, "PING");
        CHECK(r == NULL);
        CHECK(strstr(connError(c), test_fmt("127.0.0.1:%s", port)) != NULL);
        freeReplyObject(r);
        connClose(c);
    }
}

static void testUnix(const char *path) {
    TEST("conn.unix") {
        rsConn *c = openUrl(test_fmt("unix://%s?db=3", path), NULL);
        if (!CHECK(c != NULL)) continue;
        redisReply *r = connCommandf(c, "PING");
        CHECK(r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0);
        freeReplyObject(r);
        CHECK_EQ_STR(path, connAddr(c));
        connClose(c);
    }
    TEST("conn.unix_missing") {
        rsConn *c = openUrl("unix:///nonexistent/rdbsync-test.sock", NULL);
        CHECK(c == NULL);
        CHECK_EQ_STR("cannot connect to /nonexistent/rdbsync-test.sock: No such file or directory", err);
    }
}

/* ---- auth ---- */

static void testAuth(const char *port) {
    TEST("conn.auth.password") {
        rsConn *c = openUrl(test_fmt("redis://:s3cret@127.0.0.1:%s/1", port), NULL);
        if (!CHECK(c != NULL)) continue;
        CHECK_EQ_STR(test_fmt("redis://:***@127.0.0.1:%s/1", port), connName(c));
        redisReply *r = connCommandf(c, "PING");
        CHECK(r && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
        connClose(c);
    }
    TEST("conn.auth.default_user") {
        rsConn *c = openUrl(test_fmt("redis://default:s3cret@127.0.0.1:%s", port), NULL);
        CHECK(c != NULL);
        connClose(c);
    }
    TEST("conn.auth.wrong_password") {
        rsConn *c = openUrl(test_fmt("redis://:nottheone@127.0.0.1:%s", port), NULL);
        CHECK(c == NULL);
        CHECK_EQ_STR(test_fmt("authentication failed for redis://:***@127.0.0.1:%s: " WRONGPASS, port), err);
        CHECK(strstr(err, "nottheone") == NULL);
    }
    TEST("conn.auth.required") {
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s/2", port), NULL);
        CHECK(c == NULL);
        CHECK_EQ_STR(test_fmt("authentication required for redis://127.0.0.1:%s/2: NOAUTH Authentication required.", port),
                     err);
    }
    TEST("conn.auth.env") {
        rsUrl u;
        if (!CHECK_EQ_INT(0, urlParse(test_fmt("redis://127.0.0.1:%s", port), &u, err, sizeof(err)))) continue;
        setenv("RDBSYNC_TARGET_AUTH", "s3cret", 1);
        CHECK_EQ_INT(1, urlApplyEnvAuth(&u, "RDBSYNC_TARGET_AUTH"));
        unsetenv("RDBSYNC_TARGET_AUTH");
        rsConn *c = connOpen(&u, NULL, err, sizeof(err));
        CHECK(c != NULL);
        connClose(c);
        urlFree(&u);
    }
}

static void testAcl(const char *port) {
    TEST("conn.acl.user_password") {
        rsConn *c = openUrl(test_fmt("redis://alice:pw@127.0.0.1:%s", port), NULL);
        if (!CHECK(c != NULL)) continue;
        redisReply *r = connCommandf(c, "ACL WHOAMI");
        if (CHECK(r && r->type == REDIS_REPLY_STRING)) CHECK_EQ_STR("alice", r->str);
        freeReplyObject(r);
        connClose(c);
    }
    TEST("conn.acl.wrong_password") {
        rsConn *c = openUrl(test_fmt("redis://alice:bad%%40pw@127.0.0.1:%s/0", port), NULL);
        CHECK(c == NULL);
        CHECK_EQ_STR(test_fmt("authentication failed for redis://alice:***@127.0.0.1:%s/0: " WRONGPASS, port), err);
        CHECK(strstr(err, "bad") == NULL);
    }
    TEST("conn.acl.unknown_user") {
        rsConn *c = openUrl(test_fmt("redis://mallory:pw@127.0.0.1:%s", port), NULL);
        CHECK(c == NULL);
        CHECK_EQ_STR(test_fmt("authentication failed for redis://mallory:***@127.0.0.1:%s: " WRONGPASS, port), err);
    }
}

/* ---- TLS ---- */

/* TLS options from the certificate directory of tests/it_conn.sh. */
static rsConnOptions tlsOpts(const char *dir, const char *ca, int client) {
    rsConnOptions o = {.tls = {.enabled = 1}};
    o.tls.cacert = strdup(test_fmt("%s/%s", dir, ca));
    if (client) {
        o.tls.cert = strdup(test_fmt("%s/client.crt", dir));
        o.tls.key = strdup(test_fmt("%s/client.key", dir));
    }
    return o;
}

static void tlsOptsFree(rsConnOptions *o) {
    free((char *)o->tls.cacert);
    free((char *)o->tls.cert);
    free((char *)o->tls.key);
}

/* No server: what fails before or during the handshake. */
static void testTlsLocal(void) {
    TEST("conn.tls.handshake_timeout") { /* a listener that never answers */
        int port, fd = blackhole(AF_INET, &port);
        if (fd < 0) TEST_SKIP("cannot bind a loopback socket");
        rsConnOptions o = {.connect_timeout_ms = 300};
        long long t0 = nowMs();
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%d", port), &o);
        CHECK(c == NULL);
        CHECK(nowMs() - t0 >= 280);
        CHECK_EQ_STR(test_fmt("TLS handshake with 127.0.0.1:%d timed out after 300 ms (does the server speak TLS "
                              "on this port?)", port), err);
        close(fd);
    }
    TEST("conn.tls.missing_ca_file") {
        int port, fd = blackhole(AF_INET, &port);
        if (fd < 0) TEST_SKIP("cannot bind a loopback socket");
        rsConnOptions o = {.tls = {.enabled = 1, .cacert = "/nonexistent/ca.crt"}};
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%d", port), &o);
        CHECK(c == NULL);
        CHECK_EQ_STR("cannot load the TLS CA file '/nonexistent/ca.crt': No such file or directory", err);
        close(fd);
    }
    TEST("conn.tls.key_without_cert") {
        int port, fd = blackhole(AF_INET, &port);
        if (fd < 0) TEST_SKIP("cannot bind a loopback socket");
        rsConnOptions o = {.tls = {.enabled = 1, .insecure = 1, .key = "k.pem"}};
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%d", port), &o);
        CHECK(c == NULL);
        CHECK_EQ_STR("a TLS key ('k.pem') needs its certificate (--cert)", err);
        close(fd);
    }
}

/* One thread of tls.threads: open, PING, close, several times. */
#define TLS_THREAD_ROUNDS 5

typedef struct tlsThread {
    pthread_t tid;
    const char *url;
    const rsConnOptions *o;
    int ok;
    char err[1024];
} tlsThread;

static void *tlsThreadRun(void *arg) {
    tlsThread *t = arg;
    char url[128];
    snprintf(url, sizeof(url), "%s", t->url); /* test_fmt buffers rotate */
    for (int i = 0; i < TLS_THREAD_ROUNDS; i++) {
        rsUrl u;
        if (urlParse(url, &u, t->err, sizeof(t->err)) < 0) return NULL;
        rsConn *c = connOpen(&u, t->o, t->err, sizeof(t->err));
        urlFree(&u);
        redisReply *r = c ? connCommandf(c, "PING") : NULL;
        t->ok += r && r->type == REDIS_REPLY_STATUS;
        if (c && !r) snprintf(t->err, sizeof(t->err), "%s", connError(c));
        freeReplyObject(r);
        connClose(c);
    }
    return NULL;
}

/* A 4 MiB value each way, then a pipeline driven by poll() the way the
 * writer and the replica link do: poll only when connPending is 0. */
static void testTlsIo(const char *port, const char *dir) {
    rsConnOptions o = tlsOpts(dir, "ca.crt", 1);
    TEST("conn.tls.ping") {
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%s/5", port), &o);
        if (!CHECK(c != NULL)) {
            test_fail("conn.tls.ping.err", "%s", err);
            continue;
        }
        redisReply *r = connCommandf(c, "PING");
        CHECK(r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0);
        freeReplyObject(r);
        CHECK(strncmp(connTlsInfo(c), "TLSv1.", 6) == 0);
        CHECK_EQ_STR(test_fmt("rediss://127.0.0.1:%s/5", port), connName(c));
        connClose(c);
    }
    TEST("conn.tls.big_value") {
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%s/5", port), &o);
        if (!CHECK(c != NULL)) continue;
        size_t n = 4u << 20;
        char *v = malloc(n);
        for (size_t i = 0; i < n; i++) v[i] = (char)(i * 7 + (i >> 13));
        redisReply *r = connCommandf(c, "SET big %b", v, n);
        CHECK(r && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
        r = connCommandf(c, "GET big");
        if (CHECK(r && r->type == REDIS_REPLY_STRING)) CHECK(r->len == n && memcmp(r->str, v, n) == 0);
        freeReplyObject(r);
        free(v);
        connClose(c);
    }
    TEST("conn.tls.small_raw_reads") { /* bytes held by OpenSSL are pending */
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%s/5", port), &o);
        if (!CHECK(c != NULL)) continue;
        const char *req = "GET big\r\n";
        CHECK_EQ_INT(0, connWrite(c, req, strlen(req)));
        size_t want = strlen("$4194304\r\n") + (4u << 20) + 2, got = 0;
        int saw_pending = 0, stuck = 0;
        char buf[1000];
        while (got < want && !stuck) {
            if (connPending(c) == 0) {
                struct pollfd p = {.fd = connFd(c), .events = POLLIN};
                if (poll(&p, 1, 5000) <= 0) stuck = 1;
            } else {
                saw_pending = 1;
            }
            ssize_t n = connReadNonBlock(c, buf, sizeof(buf));
            if (n > 0) got += (size_t)n;
            else if (n != CONN_AGAIN) stuck = 2;
        }
        CHECK_EQ_INT(0, stuck);
        CHECK_EQ_INT((long long)want, (long long)got);
        CHECK(saw_pending);
        CHECK_EQ_INT(0, (long long)connPending(c));
        connClose(c);
    }
    TEST("conn.tls.pipeline") {
        enum { N = 20000 };
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%s/5", port), &o);
        if (!CHECK(c != NULL)) continue;
        redisReply *r = connCommandf(c, "DEL n");
        freeReplyObject(r);
        size_t len = 0, off = 0;
        char *buf = malloc((size_t)N * 32);
        for (int i = 0; i < N; i++) len += (size_t)sprintf(buf + len, "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n");
        long long last = 0;
        int got = 0, stuck = 0;
        while (got < N && !stuck) {
            if (connPending(c) == 0) {
                struct pollfd p = {.fd = connFd(c), .events = POLLIN | (off < len ? POLLOUT | connEvents(c) : 0)};
                if (poll(&p, 1, 5000) <= 0) stuck = 1;
            }
            if (off < len) {
                ssize_t n = connWriteSome(c, buf + off, len - off);
                if (n > 0) off += (size_t)n;
                else if (n != CONN_AGAIN) stuck = 2;
            }
            int pr;
            while ((pr = connPollReply(c, &r)) == 1) {
                got++;
                if (r->type == REDIS_REPLY_INTEGER) last = r->integer;
                freeReplyObject(r);
            }
            if (pr < 0) stuck = 3;
        }
        free(buf);
        CHECK_EQ_INT(0, stuck);
        CHECK_EQ_INT(N, got);
        CHECK_EQ_INT(N, last);
        connClose(c);
    }
    TEST("conn.tls.localhost_name") {
        rsConn *c = openUrl(test_fmt("rediss://localhost:%s", port), &o);
        CHECK(c != NULL);
        if (!c) test_fail("conn.tls.localhost_name.err", "%s", err);
        connClose(c);
    }
    TEST("conn.tls.hostname_mismatch") {
        rsConnOptions s = o;
        s.tls.sni = "other.example";
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%s", port), &s);
        CHECK(c == NULL);
        CHECK_EQ_STR(test_fmt("cannot verify the TLS certificate of 127.0.0.1:%s: hostname mismatch (it is for "
                              "DNS:localhost, IP:127.0.0.1, not other.example; give the name it was issued for "
                              "with --sni, or use --insecure)", port), err);
        connClose(c);
    }
    TEST("conn.tls.no_client_cert") {
        rsConnOptions s = tlsOpts(dir, "ca.crt", 0);
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%s", port), &s);
        CHECK(c == NULL);
        CHECK(strstr(err, "client certificate: give --cert and --key)") != NULL);
        CHECK(strstr(err, test_fmt("127.0.0.1:%s: ", port)) != NULL);
        connClose(c);
        tlsOptsFree(&s);
    }
    TEST("conn.tls.plain_client") {
        rsConn *c = openUrl(test_fmt("redis://127.0.0.1:%s", port), NULL);
        CHECK(c == NULL);
        CHECK(strstr(err, "(if it expects TLS, use rediss:// or --tls)") != NULL);
        connClose(c);
    }
    rsConnOptions w = tlsOpts(dir, "wrongca.crt", 1);
    TEST("conn.tls.wrong_ca") {
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%s", port), &w);
        CHECK(c == NULL);
        const char *pre = test_fmt("cannot verify the TLS certificate of 127.0.0.1:%s: ", port);
        CHECK(strncmp(err, pre, strlen(pre)) == 0);
        CHECK(strstr(err, " (issued by CN=rdbsync test CA, not trusted by '") != NULL);
        connClose(c);
    }
    TEST("conn.tls.insecure") {
        rsConnOptions s = w;
        s.tls.insecure = 1;
        s.tls.sni = "whatever.example";
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%s", port), &s);
        CHECK(c != NULL);
        if (!c) test_fail("conn.tls.insecure.err", "%s", err);
        connClose(c);
    }
    tlsOptsFree(&w);
    tlsOptsFree(&o);
}

/* The TLS transport's own contract, against the same server: a failure
 * sticks (OpenSSL forbids going on), a close is EOF, and connections may
 * be opened from several threads at once (the context cache is shared). */
static void testTlsTransport(const char *port, const char *dir) {
    rsConnOptions o = tlsOpts(dir, "ca.crt", 0); /* no client certificate */
    TEST("conn.tls.failure_sticks") {
        rsUrl u;
        if (!CHECK_EQ_INT(0, urlParse(test_fmt("rediss://127.0.0.1:%s", port), &u, err, sizeof(err)))) continue;
        rsTransport *t = tlsOpen(&u, &o.tls, 5000, err, sizeof(err));
        urlFree(&u);
        if (!t) { /* TLS 1.2 refuses in the handshake already */
            CHECK(strstr(err, "client certificate") != NULL);
            continue;
        }
        /* TLS 1.3: our side of the handshake is done; the refusal comes
         * with the first read. */
        ssize_t n = transportWrite(t, "PING\r\n", 6);
        CHECK(n == 6 || n == -1);
        char buf[64];
        for (int i = 0; i < 50 && n != -1; i++) {
            netPoll(transportFd(t), transportEvents(t), 100);
            n = transportRead(t, buf, sizeof(buf));
        }
        CHECK_EQ_INT(-1, n);
        char first[1024];
        snprintf(first, sizeof(first), "%s", transportError(t));
        /* The server's alert usually comes with our first read; on a busy
         * machine it can close the socket before our PING is written, and
         * then the write fails first (reset: no alert left to name). */
        const char *pre = test_fmt("cannot read from 127.0.0.1:%s: ", port);
        const char *wpre = test_fmt("cannot write to 127.0.0.1:%s: ", port);
        int on_read = strncmp(first, pre, strlen(pre)) == 0;
        CHECK(on_read || strncmp(first, wpre, strlen(wpre)) == 0 || strstr(first, "connection closed by") == first);
        if (on_read) CHECK(strstr(first, "client certificate: give --cert and --key)") != NULL);
        CHECK_EQ_INT(-1, transportRead(t, buf, sizeof(buf)));
        CHECK_EQ_INT(-1, transportWrite(t, "PING\r\n", 6));
        CHECK_EQ_STR(first, transportError(t));
        transportClose(t);
    }
    tlsOptsFree(&o);
    o = tlsOpts(dir, "ca.crt", 1);
    TEST("conn.tls.eof_after_quit") {
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%s", port), &o);
        if (!CHECK(c != NULL)) continue;
        redisReply *r = connCommandf(c, "QUIT");
        CHECK(r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0);
        freeReplyObject(r);
        char buf[16];
        CHECK_EQ_INT(0, connRead(c, buf, sizeof(buf)));
        CHECK(connGetReply(c) == NULL);
        CHECK_EQ_STR(test_fmt("connection closed by 127.0.0.1:%s", port), connError(c));
        connClose(c);
    }
    TEST("conn.tls.threads") {
        enum { THREADS = 4 };
        tlsThread th[THREADS];
        int started = 0, ok = 0;
        for (int i = 0; i < THREADS; i++) {
            th[i] = (tlsThread){.url = test_fmt("rediss://127.0.0.1:%s/%d", port, i), .o = &o};
            started += pthread_create(&th[i].tid, NULL, tlsThreadRun, &th[i]) == 0;
        }
        for (int i = 0; i < started; i++) {
            pthread_join(th[i].tid, NULL);
            ok += th[i].ok;
            if (th[i].ok != TLS_THREAD_ROUNDS) test_fail("conn.tls.threads.err", "%s", th[i].err);
        }
        CHECK_EQ_INT(THREADS, started);
        CHECK_EQ_INT(THREADS * TLS_THREAD_ROUNDS, ok);
    }
    tlsOptsFree(&o);
}

/* A server whose certificate names other.example only. */
static void testTlsOtherName(const char *port, const char *dir) {
    rsConnOptions o = tlsOpts(dir, "ca.crt", 1);
    TEST("conn.tls.other_name_by_ip") {
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%s", port), &o);
        CHECK(c == NULL);
        CHECK(strstr(err, "(it is for DNS:other.example, not 127.0.0.1; ") != NULL);
    }
    TEST("conn.tls.other_name_with_sni") {
        rsConnOptions s = o;
        s.tls.sni = "other.example";
        rsConn *c = openUrl(test_fmt("rediss://127.0.0.1:%s", port), &s);
        CHECK(c != NULL);
        if (!c) test_fail("conn.tls.other_name_with_sni.err", "%s", err);
        connClose(c);
    }
    tlsOptsFree(&o);
}

int main(void) {
    const char *p = envPort("RDBSYNC_TEST_PORT");
    /* Standalone (make test): what needs no server. Under tests/it_conn.sh
     * (ports set): only the server tests, so nothing is counted twice. */
    if (!p) {
        testPure();
        testRefusedAndTimeouts();
        testTlsLocal();
        test_skip("conn.servers", "RDBSYNC_TEST_PORT not set (tests/it_conn.sh runs these)");
        return test_report();
    }
    testPing(p);
    testSelect(p);
    testServerInfo(p);
    testPipeline(p);
    testRawReads(p);
    if ((p = envPort("RDBSYNC_TEST_UNIX")))
        testUnix(p);
    else
        test_skip("conn.unix", "RDBSYNC_TEST_UNIX not set");
    if ((p = envPort("RDBSYNC_TEST_AUTH_PORT")))
        testAuth(p);
    else
        test_skip("conn.auth", "RDBSYNC_TEST_AUTH_PORT not set");
    if ((p = envPort("RDBSYNC_TEST_ACL_PORT")))
        testAcl(p);
    else
        test_skip("conn.acl", "RDBSYNC_TEST_ACL_PORT not set");
    const char *certs = envPort("RDBSYNC_TEST_TLS_CERTS");
    if ((p = envPort("RDBSYNC_TEST_TLS_PORT")) && certs)
        testTlsIo(p, certs);
    else
        test_skip("conn.tls", "RDBSYNC_TEST_TLS_PORT/RDBSYNC_TEST_TLS_CERTS not set");
    if ((p = envPort("RDBSYNC_TEST_TLS_PORT")) && certs)
        testTlsTransport(p, certs);
    else
        test_skip("conn.tls.transport", "RDBSYNC_TEST_TLS_PORT/RDBSYNC_TEST_TLS_CERTS not set");
    if ((p = envPort("RDBSYNC_TEST_TLS_OTHER_PORT")) && certs)
        testTlsOtherName(p, certs);
    else
        test_skip("conn.tls.other_name", "RDBSYNC_TEST_TLS_OTHER_PORT not set");
    return test_report();
}

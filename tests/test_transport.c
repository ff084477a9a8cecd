/* test_transport.c -- the transports (src/net.c, src/tls.c) on their own,
 * against sockets of this test: a loopback listener whose accepted end we
 * drive by hand, a unix listener, and a plain "server" that answers a TLS
 * ClientHello the way a plain Redis port does. What needs a real TLS
 * server (verification, client certificates, sticky failures, EOF) is in
 * test_conn.c, run by tests/it_conn.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "src/net.h"
#include "src/tls.h"
#include "src/transport.h"
#include "src/url.h"
#include "tests/test.h"

static char err[1024];

/* A loopback TCP listener; -1 when none can be made. */
static int listenTcp(int *port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&a, sl) < 0 || listen(fd, 8) < 0 || getsockname(fd, (struct sockaddr *)&a, &sl) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int listenUnix(const char *path) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) return -1;
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Open url with netOpen (tls = 0) or tlsOpen (tls = 1, insecure). */
static rsTransport *openUrl(const char *url, int tls, int timeout_ms) {
    rsUrl u;
    rsTlsOptions o = {.enabled = 1, .insecure = 1};
    err[0] = '\0';
    if (urlParse(url, &u, err, sizeof(err)) < 0) return NULL;
    rsTransport *t = tls ? tlsOpen(&u, &o, timeout_ms, err, sizeof(err)) : netOpen(&u, timeout_ms, err, sizeof(err));
    urlFree(&u);
    return t;
}

static int intOpt(int fd, int level, int name) {
    int v = -1;
    socklen_t sl = sizeof(v);
    return getsockopt(fd, level, name, &v, &sl) == 0 ? v : -1;
}

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- plain TCP ---- */

static void testTcp(void) {
    int port, lfd = listenTcp(&port);
    if (lfd < 0) {
        test_skip("net.tcp", "cannot bind a loopback socket");
        return;
    }
    rsTransport *t = openUrl(test_fmt("redis://127.0.0.1:%d", port), 0, 1000);
    int peer = t ? accept(lfd, NULL, NULL) : -1;
    TEST("net.tcp.open") {
        if (!CHECK(t != NULL)) {
            test_fail("net.tcp.open.err", "%s", err);
            continue;
        }
        int fd = transportFd(t);
        CHECK_EQ_INT(1, intOpt(fd, IPPROTO_TCP, TCP_NODELAY));
        CHECK_EQ_INT(1, intOpt(fd, SOL_SOCKET, SO_KEEPALIVE));
        CHECK_EQ_INT(60, intOpt(fd, IPPROTO_TCP, TCP_KEEPIDLE));
        CHECK_EQ_INT(15, intOpt(fd, IPPROTO_TCP, TCP_KEEPINTVL));
        CHECK_EQ_INT(4, intOpt(fd, IPPROTO_TCP, TCP_KEEPCNT));
        CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        CHECK_EQ_STR("", transportInfo(t));
        CHECK_EQ_STR("", transportError(t));
        CHECK_EQ_INT(0, (long long)transportPending(t));
    }
    TEST("net.tcp.read_write") {
        if (!t || !CHECK(peer >= 0)) continue;
        char buf[64];
        CHECK_EQ_INT(TRANSPORT_AGAIN, transportRead(t, buf, sizeof(buf)));
        CHECK_EQ_INT(POLLIN, transportEvents(t));
        CHECK_EQ_INT(5, write(peer, "hello", 5));
        CHECK_EQ_INT(1, netPoll(transportFd(t), POLLIN, 1000));
        if (CHECK_EQ_INT(5, transportRead(t, buf, sizeof(buf)))) CHECK_EQ_MEM("hello", 5, buf, 5);
        CHECK_EQ_INT(4, transportWrite(t, "ping", 4));
        CHECK_EQ_INT(4, read(peer, buf, sizeof(buf)));
        CHECK_EQ_MEM("ping", 4, buf, 4);
    }
    TEST("net.tcp.peer_closed") { /* EOF, then a write fails without SIGPIPE */
        if (!t || peer < 0) continue;
        char buf[64];
        close(peer);
        peer = -1;
        CHECK_EQ_INT(1, netPoll(transportFd(t), POLLIN, 1000));
        ssize_t n;
        while ((n = transportRead(t, buf, sizeof(buf))) > 0) {
        }
        CHECK_EQ_INT(0, n);
        for (int i = 0; i < 100 && (n = transportWrite(t, "x", 1)) > 0; i++) usleep(1000);
        CHECK_EQ_INT(-1, n);
        const char *pre = test_fmt("cannot write to 127.0.0.1:%d: ", port);
        CHECK(strncmp(transportError(t), pre, strlen(pre)) == 0);
        const char *why = transportError(t) + strlen(pre);
        CHECK(strcmp(why, strerror(EPIPE)) == 0 || strcmp(why, strerror(ECONNRESET)) == 0);
    }
    if (peer >= 0) close(peer);
    transportClose(t);
    transportClose(NULL);
    t = openUrl(test_fmt("redis://127.0.0.1:%d", port), 0, 1000);
    peer = t ? accept(lfd, NULL, NULL) : -1;
    TEST("net.tcp.write_would_block") { /* nobody reads: the buffers fill */
        if (!CHECK(t != NULL) || !CHECK(peer >= 0)) continue;
        static char block[1 << 16];
        ssize_t n = 0;
        long long total = 0;
        for (int i = 0; i < 10000 && (n = transportWrite(t, block, sizeof(block))) > 0; i++) total += n;
        CHECK_EQ_INT(TRANSPORT_AGAIN, n);
        CHECK_EQ_INT(POLLOUT, transportEvents(t));
        CHECK(total > 0);
        CHECK_EQ_INT(0, netPoll(transportFd(t), POLLOUT, 50)); /* still full */
    }
    if (peer >= 0) close(peer);
    transportClose(t);
    close(lfd);
    TEST("net.tcp.refused") {
        rsTransport *r = openUrl(test_fmt("redis://127.0.0.1:%d", port), 0, 1000);
        CHECK(r == NULL);
        CHECK_EQ_STR(test_fmt("cannot connect to 127.0.0.1:%d: Connection refused", port), err);
        transportClose(r);
    }
}

static void testPoll(void) {
    TEST("net.poll_timeout") {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) TEST_SKIP("no socketpair");
        long long t0 = nowMs();
        CHECK_EQ_INT(0, netPoll(sv[0], POLLIN, 100));
        long long ms = nowMs() - t0;
        CHECK(ms >= 90 && ms < 2000);
        CHECK_EQ_INT(1, netPoll(sv[0], POLLOUT, 100));
        CHECK_EQ_INT(1, write(sv[1], "x", 1));
        CHECK_EQ_INT(1, netPoll(sv[0], POLLIN, -1));
        close(sv[0]);
        close(sv[1]);
    }
}

/* ---- unix sockets ---- */

static void testUnix(void) {
    char dir[] = "/tmp/rdbsync-test-XXXXXX";
    if (!mkdtemp(dir)) {
        test_skip("net.unix", "no temporary directory");
        return;
    }
    const char *path = test_fmt("%s/s.sock", dir);
    char spath[128];
    snprintf(spath, sizeof(spath), "%s", path);
    int lfd = listenUnix(spath);
    TEST("net.unix.open") {
        if (lfd < 0) TEST_SKIP("cannot bind a unix socket");
        rsTransport *t = openUrl(test_fmt("unix://%s", spath), 0, 1000);
        int peer = t ? accept(lfd, NULL, NULL) : -1;
        if (!CHECK(t != NULL) || !CHECK(peer >= 0)) {
            test_fail("net.unix.open.err", "%s", err);
            transportClose(t);
            continue;
        }
        char buf[8];
        CHECK_EQ_INT(3, transportWrite(t, "abc", 3));
        CHECK_EQ_INT(3, read(peer, buf, sizeof(buf)));
        CHECK_EQ_INT(0, (long long)transportPending(t));
        close(peer);
        transportClose(t);
    }
    TEST("tls.unix_refused") { /* connected first, then refused */
        if (lfd < 0) TEST_SKIP("cannot bind a unix socket");
        rsTransport *t = openUrl(test_fmt("unix://%s", spath), 1, 1000);
        CHECK(t == NULL);
        CHECK_EQ_STR(test_fmt("cannot use TLS on a unix socket (%s)", spath), err);
    }
    if (lfd >= 0) close(lfd);
    unlink(spath);
    TEST("net.unix.missing") {
        rsTransport *t = openUrl(test_fmt("unix://%s", spath), 0, 1000);
        CHECK(t == NULL);
        CHECK_EQ_STR(test_fmt("cannot connect to %s: No such file or directory", spath), err);
    }
    TEST("tls.unix_missing") { /* the connect error comes first */
        rsTransport *t = openUrl(test_fmt("unix://%s", spath), 1, 1000);
        CHECK(t == NULL);
        CHECK_EQ_STR(test_fmt("cannot connect to %s: No such file or directory", spath), err);
    }
    TEST("net.unix.path_too_long") {
        char longp[200];
        memset(longp, 'a', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = '\0';
        rsTransport *t = openUrl(test_fmt("unix://%s", longp), 0, 1000);
        CHECK(t == NULL);
        CHECK_EQ_STR(test_fmt("cannot connect to %s: socket path too long", longp), err);
    }
    rmdir(dir);
}

/* ---- TLS against peers that do not speak it ---- */

typedef struct plainPeer {
    int lfd;
    const char *say; /* written after the first bytes arrive; NULL = close at once */
} plainPeer;

static void *plainPeerRun(void *arg) {
    plainPeer *p = arg;
    int fd = accept(p->lfd, NULL, NULL);
    char buf[4096];
    if (fd < 0) return NULL;
    if (p->say && read(fd, buf, sizeof(buf)) > 0 && write(fd, p->say, strlen(p->say)) < 0) {
        /* the client may have gone: nothing to report from here */
    }
    close(fd);
    return NULL;
}

static void testTlsPlainPeer(void) {
    static const struct {
        const char *name, *say;
    } cases[] = {
        {"tls.plain_peer_answers", "-ERR Protocol error: unbalanced quotes in request\r\n"},
        {"tls.plain_peer_closes", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TEST(cases[i].name) {
            int port;
            plainPeer p = {.lfd = listenTcp(&port), .say = cases[i].say};
            pthread_t th;
            if (p.lfd < 0) TEST_SKIP("cannot bind a loopback socket");
            if (pthread_create(&th, NULL, plainPeerRun, &p) != 0) {
                close(p.lfd);
                TEST_SKIP("no thread");
            }
            long long t0 = nowMs();
            rsTransport *t = openUrl(test_fmt("rediss://127.0.0.1:%d", port), 1, 3000);
            pthread_join(th, NULL);
            close(p.lfd);
            CHECK(t == NULL);
            CHECK(nowMs() - t0 < 2500); /* a failure, not the timeout */
            const char *pre = test_fmt("TLS handshake with 127.0.0.1:%d failed: ", port);
            if (!CHECK(strncmp(err, pre, strlen(pre)) == 0)) test_fail(test_fmt("%s.err", cases[i].name), "%s", err);
            if (cases[i].say) CHECK(strstr(err, "(does the server speak TLS on this port?)") != NULL);
            transportClose(t);
        }
    }
}

int main(void) {
    testTcp();
    testPoll();
    testUnix();
    testTlsPlainPeer();
    return test_report();
}

/* net.c -- see net.h. Connecting, then the plain transport: one read() or
 * send() per call on the non-blocking socket. */
#include "clock.h"
#include "src/net.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

void netSetError(rsTransport *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err, sizeof(t->err), fmt, ap);
    va_end(ap);
}

int netPoll(int fd, short events, int timeout_ms) {
    long long deadline = timeout_ms < 0 ? 0 : clockMonoMs() + timeout_ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int left = timeout_ms < 0 ? -1 : (int)(deadline - clockMonoMs());
        if (timeout_ms >= 0 && left < 0) left = 0;
        int n = poll(&p, 1, left);
        if (n > 0) return 1;
        if (n == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

/* ---- connecting ---- */

static void tuneTcp(int fd) {
    int on = 1, idle = 60, intvl = 15, cnt = 4;
    /* Best effort: a failure here does not make the link unusable. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Non-blocking connect of one address. fd >= 0, or -1 with why filled. */
static int connectOne(int family, const struct sockaddr *sa, socklen_t salen, int timeout_ms, char *why,
                      size_t whylen) {
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whylen, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(fd, sa, salen);
    if (rc < 0 && (errno == EINPROGRESS || errno == EAGAIN || errno == EINTR)) {
        int r = netPoll(fd, POLLOUT, timeout_ms);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (r == 0) {
            snprintf(why, whylen, "timed out after %d ms", timeout_ms);
            close(fd);
            return -1;
        }
        if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) soerr = errno;
        errno = soerr;
        rc = soerr ? -1 : 0;
    }
    if (rc < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int connectTcp(const rsUrl *u, const char *addr, int timeout_ms, char *err, size_t errlen) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
    char port[16], why[256] = "no usable address";
    int fd = -1;
    snprintf(port, sizeof(port), "%d", u->port);
    int g = getaddrinfo(u->host, port, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "cannot resolve host '%s': %s", u->host,
                 g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        return -1;
    }
    for (ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connectOne(ai->ai_family, ai->ai_addr, ai->ai_addrlen, timeout_ms, why, sizeof(why));
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", addr, why);
        return -1;
    }
    tuneTcp(fd);
    return fd;
}

static int connectUnix(const rsUrl *u, const char *addr, int timeout_ms, char *err, size_t errlen) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char why[256];
    if (strlen(u->path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "cannot connect to %s: socket path too long", addr);
        return -1;
    }
    memcpy(sa.sun_path, u->path, strlen(u->path) + 1);
    int fd = connectOne(AF_UNIX, (struct sockaddr *)&sa, sizeof(sa), timeout_ms, why, sizeof(why));
    if (fd < 0) snprintf(err, errlen, "cannot connect to %s: %s", addr, why);
    return fd;
}

int netConnect(const rsUrl *u, int timeout_ms, char *err, size_t errlen) {
    char addr[sizeof(((rsTransport *)0)->addr)];
    urlFormatAddr(u, addr, sizeof(addr));
    return u->is_unix ? connectUnix(u, addr, timeout_ms, err, errlen) : connectTcp(u, addr, timeout_ms, err, errlen);
}

/* ---- the plain transport ---- */

static ssize_t sockRead(rsTransport *t, void *buf, size_t cap) {
    for (;;) {
        ssize_t n = read(t->fd, buf, cap);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            t->want = POLLIN;
            return TRANSPORT_AGAIN;
        }
        netSetError(t, "cannot read from %s: %s", t->addr, strerror(errno));
        return -1;
    }
}

static ssize_t sockWrite(rsTransport *t, const void *buf, size_t len) {
    for (;;) {
        ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            t->want = POLLOUT;
            return TRANSPORT_AGAIN;
        }
        netSetError(t, "cannot write to %s: %s", t->addr, strerror(errno));
        return -1;
    }
}

/* The kernel's buffer is visible to poll(): nothing is ever held here. */
static size_t sockPending(const rsTransport *t) {
    return 0;
}

static const char *sockInfo(const rsTransport *t) {
    return "";
}

static void sockClose(rsTransport *t) {
    if (t->fd >= 0) close(t->fd);
    free(t);
}

static const rsTransportType socketType = {
    .name = "socket",
    .read = sockRead,
    .write = sockWrite,
    .pending = sockPending,
    .info = sockInfo,
    .close = sockClose,
};

rsTransport *netOpen(const rsUrl *u, int timeout_ms, char *err, size_t errlen) {
    rsTransport *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if ((t->fd = netConnect(u, timeout_ms, err, errlen)) < 0) {
        free(t);
        return NULL;
    }
    t->type = &socketType;
    t->want = POLLIN;
    urlFormatAddr(u, t->addr, sizeof(t->addr));
    return t;
}

/* net.h -- plain sockets: TCP (IPv4 and IPv6) and unix sockets, and the
 * plain rsTransport over them (transport.h).
 *
 * Connecting = resolve (getaddrinfo; every address in turn), a
 * non-blocking connect with a timeout, then for TCP: TCP_NODELAY and
 * SO_KEEPALIVE (idle 60 s, probes every 15 s, 4 of them), best effort.
 * The socket stays non-blocking and close-on-exec. Error lines:
 *   cannot resolve host 'nope.invalid': Name or service not known
 *   cannot connect to 127.0.0.1:1234: Connection refused
 *   cannot connect to 10.255.255.1:6379: timed out after 5000 ms
 *   cannot connect to /very/long/...: socket path too long
 * and once connected (plain transport):
 *   cannot read from 127.0.0.1:6379: Connection reset by peer
 *   cannot write to 127.0.0.1:6379: Broken pipe
 *
 * Timeouts are in ms; < 0 waits forever. Everything here is thread-safe
 * (no shared state).
 */
#ifndef RDBSYNC_NET_H
#define RDBSYNC_NET_H

#include "src/transport.h"
#include "src/url.h"

/* A connected plain transport to u (TCP or unix socket), or NULL with the
 * message in err. The caller keeps u. */
rsTransport *netOpen(const rsUrl *u, int timeout_ms, char *err, size_t errlen);

/* The connected socket only, for transports that wrap one (tls.c): an fd
 * the caller closes, or -1 with the message in err. */
int netConnect(const rsUrl *u, int timeout_ms, char *err, size_t errlen);

/* poll() one fd for events, retrying EINTR with the time left.
 * 1 = ready (error and hangup too: the next call reports them),
 * 0 = timed out, -1 = poll failed (errno). */
int netPoll(int fd, short events, int timeout_ms);

/* For implementations: set t->err (printf format). */
void netSetError(rsTransport *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

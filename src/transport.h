/* transport.h -- the byte stream under a connection: a plain socket
 * (net.c) or TLS over one (tls.c), behind one small interface.
 *
 * conn.c speaks RESP over an rsTransport and never asks which kind it is;
 * another kind (a different TLS library, a test double) is one more
 * rsTransportType, with no change above this line. The split follows
 * Redis' connection.h (socket.c, tls.c) and hiredis' net.c/ssl.c.
 *
 * Opening: netOpen (net.h) or tlsOpen (tls.h) return a transport that is
 * connected and, for TLS, past its handshake, or NULL with a one-line
 * message in the caller's buffer.
 *
 * I/O never blocks: the socket is non-blocking and each call makes at
 * most one attempt (TLS: as many records as go without waiting):
 *   transportRead   > 0 bytes read, 0 = the peer closed, TRANSPORT_AGAIN,
 *                   or -1 (message in transportError);
 *   transportWrite  > 0 bytes written (maybe fewer than asked),
 *                   TRANSPORT_AGAIN, or -1. After TRANSPORT_AGAIN or a short
 *                   count, the next call must start with the bytes not yet
 *                   written (same content, the buffer may have moved): TLS
 *                   retries need that. Writes never raise SIGPIPE.
 *   TRANSPORT_AGAIN means "poll() transportFd for transportEvents, then
 *   call again". The events are a function, not assumed: a TLS read may
 *   need POLLOUT and a TLS write POLLIN.
 *   transportPending: bytes already received that poll() cannot see (TLS
 *   holds decrypted ones); non-zero = read before you poll().
 *
 * Errors: every -1 leaves one line in transportError naming the address,
 * e.g. "cannot read from 127.0.0.1:6379: Connection reset by peer". A TLS
 * transport that failed stays failed (OpenSSL forbids going on): every
 * later call returns -1 and the first message stays.
 *
 * Ownership: the transport owns its socket; transportClose closes it and
 * frees everything (NULL is fine). Strings returned are owned by it.
 *
 * Threads: one transport, one thread at a time. Opening is thread-safe
 * (the TLS context cache is locked), so each thread may open its own.
 */
#ifndef RDBSYNC_TRANSPORT_H
#define RDBSYNC_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

#define TRANSPORT_AGAIN (-2) /* would block: poll transportFd for transportEvents */

typedef struct rsTransport rsTransport;

/* What a kind of transport implements. Every entry is required. */
typedef struct rsTransportType {
    const char *name; /* "socket", "tls" */
    ssize_t (*read)(rsTransport *t, void *buf, size_t cap);
    ssize_t (*write)(rsTransport *t, const void *buf, size_t len);
    size_t (*pending)(const rsTransport *t);
    const char *(*info)(const rsTransport *t); /* "" or "TLSv1.3 <cipher>" */
    void (*close)(rsTransport *t);             /* closes fd, frees t */
} rsTransportType;

/* The part every kind shares; a kind's own struct starts with it. The
 * fields are for implementations: callers use the functions below. */
struct rsTransport {
    const rsTransportType *type;
    int fd;            /* non-blocking, connected */
    short want;        /* the events the last TRANSPORT_AGAIN waits for */
    char addr[300];    /* "host:port" or the socket path, for messages */
    char err[1024];    /* the last failure, "" when none */
};

static inline ssize_t transportRead(rsTransport *t, void *buf, size_t cap) {
    return t->type->read(t, buf, cap);
}
static inline ssize_t transportWrite(rsTransport *t, const void *buf, size_t len) {
    return t->type->write(t, buf, len);
}
static inline size_t transportPending(const rsTransport *t) {
    return t->type->pending(t);
}
static inline const char *transportInfo(const rsTransport *t) {
    return t->type->info(t);
}
static inline int transportFd(const rsTransport *t) {
    return t->fd;
}
static inline short transportEvents(const rsTransport *t) {
    return t->want;
}
static inline const char *transportError(const rsTransport *t) {
    return t->err;
}
static inline void transportClose(rsTransport *t) {
    if (t) t->type->close(t);
}

#endif

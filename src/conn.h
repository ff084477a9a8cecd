/* conn.h -- one client connection to a Redis/Valkey server: RESP over a
 * transport of ours (plain or TLS), hiredis only as a codec.
 *
 * hiredis 0.14 is used for redisFormatCommand* (requests) and redisReader
 * (replies). The bytes move through an rsTransport (transport.h): net.c
 * for plain TCP and unix sockets, tls.c for TLS (OpenSSL). This file keeps
 * what is the same over both: the reply parser and its buffer, the
 * blocking wrappers and their I/O timeout, the AUTH/SELECT handshake, INFO.
 *
 * Opening (connOpen) = the transport (net.h: resolve, non-blocking connect
 * with the connect timeout, TCP_NODELAY, SO_KEEPALIVE; tls.h: then the TLS
 * handshake, for rediss:// URLs or rsTlsOptions.enabled), then one
 * pipelined write of [AUTH] [SELECT db] [READONLY] [CLIENT SETNAME] PING and its
 * replies, so a returned connection is known to be usable. The replies
 * get the connect timeout too: a server that accepts but never answers is
 * a failure to connect. Error lines, besides those of net.h and tls.h:
 *   authentication failed for redis://u:***@127.0.0.1:6379: WRONGPASS invalid username-password pair or user is disabled.
 *   authentication required for redis://127.0.0.1:6379: NOAUTH Authentication required.
 *   cannot select db 99 on redis://127.0.0.1:6379/99: ERR DB index is out of range
 *   connection closed by 127.0.0.1:6380 (if it expects TLS, use rediss:// or --tls)
 *   protocol error from 127.0.0.1:8080: Protocol error, got "H" as reply type byte (is this a Redis server?)
 *   unexpected reply to PING from 127.0.0.1:8080 (is this a Redis server?)
 * Passwords never appear in any message (URLs are printed masked and the
 * server's error text does not contain them); the handshake buffer that
 * held one is wiped.
 *
 * The socket is always in non-blocking mode. Blocking calls wait with poll()
 * and fail after the I/O timeout of INACTIVITY (no byte moved for that long,
 * not a deadline for the whole call):
 *   cannot read from 127.0.0.1:6379: timed out after 300 ms
 *   cannot write to 127.0.0.1:6379: Broken pipe
 *   connection closed by 127.0.0.1:6379
 * A closed peer never raises SIGPIPE (the transports send with
 * MSG_NOSIGNAL).
 *
 * With TLS, OpenSSL may hold received bytes that poll() on the fd cannot
 * see: connPending counts them. Every CONN_AGAIN (and connPollReply
 * returning 0) means nothing is held, so poll() is then right; after a
 * successful read, check connPending before poll().
 *
 * Replies: connCommand* return a hiredis redisReply the caller frees with
 * freeReplyObject. A server error ("-ERR ...") is a reply of type
 * REDIS_REPLY_ERROR, NOT a NULL: NULL means the connection failed (I/O,
 * timeout, EOF, protocol error), and connError(c) says why. After a NULL
 * the connection is broken: close it. Replies are RESP2 (hiredis 0.14
 * cannot parse RESP3, so never send HELLO 3). hiredis 0.14 limits nesting
 * to 7 levels of arrays, ample for Redis replies.
 *
 * Byte-stream reading (replication, psync.h: the PSYNC reply line, the
 * snapshot header, raw RDB bytes): connReadLine, connRead, connReadNonBlock and connReadFn serve
 * first the bytes the reply parser has already received but not used, so a
 * caller may mix connCommand (before) with raw reads (after), as long as no
 * reply is half-parsed when switching.
 *
 * Pipelining (a writer that writes and reads at the same time, one thread):
 *   - format commands yourself (redisFormatCommandArgv) into a buffer;
 *   - poll() on connFd(c) with connEvents(c) while you have data to send,
 *     POLLIN otherwise / as well;
 *   - connWriteSome: one write to the transport; returns bytes written
 *     (>0), CONN_AGAIN, or -1;
 *   - connPollReply: parses one reply from bytes already received, doing at
 *     most one read() when none is complete; 1 = *reply set, 0 = not yet
 *     (CONN_AGAIN semantics), -1 = error/EOF.
 *   - CONN_AGAIN means "call again when poll says the fd is ready for
 *     connEvents(c)". For plain TCP that is POLLOUT after a write and POLLIN
 *     after a read; with TLS a read may need POLLOUT and vice versa,
 *     which is why the wanted events are a function and not assumed.
 *
 * Ownership: connOpen copies what it needs from the URL and options; the
 * caller keeps them. connClose frees everything (NULL is fine). Strings
 * returned by connError are owned by the connection.
 *
 * Cost: about 67 KB per connection (mostly a 64 KiB read chunk), plus the
 * reply parser's buffer (the bytes received but not yet consumed) and, with
 * TLS, OpenSSL's session.
 *
 * Threads: one connection, one thread at a time. connOpen may run in any
 * number of threads at once: connections share nothing but the TLS
 * context cache, which is locked.
 */
#ifndef RDBSYNC_CONN_H
#define RDBSYNC_CONN_H

#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "src/tls.h"
#include "src/url.h"

#define CONN_AGAIN (-2) /* would block: wait for connEvents(c) on connFd(c) */

#define CONN_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define CONN_DEFAULT_IO_TIMEOUT_MS 60000 /* like repl-timeout */
#define CONN_DEFAULT_PROTO_MAX_BULK_LEN (512LL * 1024 * 1024)

typedef struct rsConn rsConn;

typedef struct rsConnOptions {
    int connect_timeout_ms; /* 0 = default (5000); < 0 = wait forever */
    int io_timeout_ms;      /* 0 = default (60000); < 0 = wait forever */
    const char *client_name; /* CLIENT SETNAME value; NULL = don't; errors ignored */
    int skip_ping;          /* 1 = don't send the final PING (no reply check
                             * after AUTH/SELECT; for servers that refuse PING) */
    int readonly;           /* 1 = READONLY after AUTH: a cluster replica then answers
                             * reads of its master's slots instead of -MOVED; a refusal
                             * fails the open ("READONLY refused by ...") */
    rsTlsOptions tls;       /* used when tls.enabled or the URL is rediss:// (tls.h) */
} rsConnOptions;

/* NULL options = all defaults. Returns NULL and a one-line message in err. */
rsConn *connOpen(const rsUrl *u, const rsConnOptions *o, char *err, size_t errlen);
void connClose(rsConn *c);

int connFd(const rsConn *c);
/* The poll() events the last CONN_AGAIN waits for (POLLIN or POLLOUT). */
short connEvents(const rsConn *c);
/* The last error message ("" when none). */
const char *connError(const rsConn *c);
/* "redis://user:***@host:port/db" and "host:port" of this connection. */
const char *connName(const rsConn *c);
const char *connAddr(const rsConn *c);
/* "" for plain connections, else e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384". */
const char *connTlsInfo(const rsConn *c);
/* Change the I/O timeout (ms; < 0 = forever; 0 = default). */
void connSetTimeout(rsConn *c, int io_timeout_ms);

/* ---- blocking byte I/O (waits up to the I/O timeout of inactivity) ---- */

/* Write all len bytes. 0 or -1. */
int connWrite(rsConn *c, const void *buf, size_t len);
/* Read some bytes: > 0 count, 0 on EOF, -1 on error or timeout. */
ssize_t connRead(rsConn *c, void *buf, size_t cap);
/* Read one line ending in "\n"; stores it without "\r\n"/"\n", NUL
 * terminated (cap includes the NUL). Returns its length, -1 on error, EOF,
 * or a line longer than cap-1. An empty line (keepalive "\n") gives 0. */
ssize_t connReadLine(rsConn *c, char *buf, size_t cap);
/* An rdbReadFn (rdb/rio.h) over this connection: rdbReaderNew(connReadFn, c). */
ssize_t connReadFn(void *conn, void *buf, size_t cap, char *err, size_t errlen);

/* ---- non-blocking byte I/O: at most one syscall, never waits ---- */

/* > 0 bytes written, CONN_AGAIN, or -1. After CONN_AGAIN or a short count
 * the next call must start with the bytes not yet written (same content;
 * the buffer may have moved and grown): TLS needs that for its retries. */
ssize_t connWriteSome(rsConn *c, const void *buf, size_t len);
/* > 0 bytes read, 0 on EOF, CONN_AGAIN, or -1. */
ssize_t connReadNonBlock(rsConn *c, void *buf, size_t cap);

/* ---- commands (RESP2) ---- */

/* Send one command and wait for its reply. NULL = connection failure. */
redisReply *connCommand(rsConn *c, int argc, const char **argv, const size_t *lens);
/* Same, hiredis format string ("SET %s %b", key, val, vlen). */
redisReply *connCommandf(rsConn *c, const char *fmt, ...);
/* Wait for the next reply (after writing pipelined commands yourself). */
redisReply *connGetReply(rsConn *c);
/* 1 = reply in *out, 0 = none complete yet (one read() done at most), -1 = error. */
int connPollReply(rsConn *c, redisReply **out);
/* Bytes received but not yet consumed (by the reply parser or raw reads),
 * including decrypted ones held inside OpenSSL. Non-zero = read before you
 * poll(). */
size_t connPending(const rsConn *c);

/* ---- server facts ---- */

typedef struct rsServerInfo {
    char redis_version[32];  /* "7.0.15"; Valkey reports "7.2.4" here */
    char valkey_version[32]; /* "8.0.1", "" when not Valkey */
    char server_name[32];    /* "valkey", "redis" or "" when not reported */
    char redis_mode[16];     /* "standalone" | "cluster" | "sentinel" | "" */
    int is_valkey;
    int major, minor, patch; /* of the product: valkey_version if Valkey */
    int rdb_version;         /* highest RDB (and DUMP footer) version it accepts */
    long long proto_max_bulk_len; /* CONFIG GET, else 512 MiB */
    int proto_max_bulk_len_known; /* 0 when CONFIG GET was refused */
} rsServerInfo;

/* INFO [section] text (malloc'd, caller frees), NULL on failure or error
 * reply (message in connError). */
char *connInfo(rsConn *c, const char *section);
/* INFO server + CONFIG GET proto-max-bulk-len. A refused CONFIG (renamed,
 * NOPERM, managed services) is not an error: default 512 MiB. -1 on
 * connection failure or when INFO is refused/unparsable. */
int connServerInfo(rsConn *c, rsServerInfo *out);
/* The dbs that hold keys, from INFO keyspace ("db3:keys=10,..."), in the
 * server's order: their count (at most max), or -1 when INFO is refused
 * or fails (connError). */
int connKeyspaceDbs(rsConn *c, int *dbs, int max);

/* Pure helpers, exposed for tests and for --target-version overrides. */
/* Parse INFO text into out (proto_max_bulk_len set to the default;
 * rdb_version from rdbVersionForRelease, rdb/rdb.h). -1 when no
 * redis_version line is found. */
int connParseInfo(const char *info, rsServerInfo *out);
/* The value of the line "key:value" of INFO text, into dst (cut to
 * cap - 1 bytes). 1 found, 0 not ("master_run_id" is no "run_id"). */
int connInfoField(const char *info, const char *key, char *dst, size_t cap);
/* 1 when the server has what Redis major.minor has (every Valkey counts as
 * at least Redis 7.2): ABSTTL (5.0), functions and PEXPIRETIME (7.0)... */
int connServerAtLeast(const rsServerInfo *i, int major, int minor);

#endif

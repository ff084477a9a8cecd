/* url.h -- parse and print Redis endpoint URLs without ever leaking a password.
 *
 * Accepted forms (the redis-cli `-u` syntax, plus a unix form):
 *
 *   redis://[[user:]password@]host[:port][/db][?db=N]
 *   rediss://...                       same, with tls = 1 (TLS is done by conn.c)
 *   unix:///path/to/redis.sock[?db=N]
 *   host[:port][/db]                   no scheme: read as redis://
 *
 * Userinfo follows redis-cli (parseRedisUri), not RFC 3986 habits: a single
 * token before '@' is the PASSWORD, "user:password@" gives both, and
 * ":password@" (empty user) is the same as "password@". This matters for
 * safety too: 'redis://s3cret@host' is never printed back as a user name.
 * The userinfo ends at the LAST '@', so unencoded '@', '/', ':' inside a
 * password still work; the user ends at the first ':' (encode ':' in users).
 * User, password, host and unix path are percent-decoded (%XX). IPv6 hosts
 * go in brackets: redis://[::1]:6380/2 (zone ids as %25: [fe80::1%25eth0]).
 * Port defaults to 6379 (1..65535). db is -1 when not given ("don't SELECT");
 * callers that need a number use 0 for -1.
 *
 * Passwords from outside the URL, precedence (like redis-cli, where -a beats
 * REDISCLI_AUTH): an explicit flag (--target-pass) > the URL's password >
 * RDBSYNC_SOURCE_AUTH / RDBSYNC_TARGET_AUTH > REDISCLI_AUTH. So the caller:
 *   1. urlParse(url)
 *   2. if a --*-user/--*-pass flag was given: urlSetUser / urlSetPassword
 *      (these overwrite: flags win over the URL)
 *   3. urlApplyEnvAuth(u, "RDBSYNC_TARGET_AUTH") || urlApplyEnvAuth(u, "REDISCLI_AUTH")
 *      (these only fill a missing password: the URL and flags win over env;
 *      REDISCLI_AUTH only as a fallback, and per style.md only when a single
 *      endpoint is involved -- the caller decides)
 * A user without any password sends no AUTH at all (as redis-cli).
 *
 * Ownership: urlParse fills a caller-provided rsUrl with malloc'd strings;
 * release them with urlFree (which also wipes the password). An rsUrl that
 * was zeroed or urlFree'd can be freed again.
 *
 * Errors: functions return 0 on success and -1 on failure with a one-line
 * message in err (if err != NULL). Messages quote the offending port/db/
 * scheme but NEVER the userinfo part, so they are safe to print.
 */
#ifndef RDBSYNC_URL_H
#define RDBSYNC_URL_H

#include <stddef.h>

#define URL_DEFAULT_PORT 6379

/* Where the password came from, for messages like "password from env". */
typedef enum {
    URL_AUTH_NONE = 0,
    URL_AUTH_URL,
    URL_AUTH_FLAG,
    URL_AUTH_ENV
} rsUrlAuthSource;

typedef struct rsUrl {
    int tls;              /* rediss:// */
    int is_unix;          /* unix:// : path is set, host is NULL, port 0 */
    char *host;           /* decoded, IPv6 without brackets; NULL for unix */
    int port;             /* 1..65535; 0 for unix */
    char *path;           /* unix socket path; NULL for TCP */
    char *user;           /* NULL = no user (AUTH <password>) */
    char *password;       /* NULL = no AUTH */
    int db;               /* -1 = not given */
    rsUrlAuthSource auth_from;
    const char *auth_env; /* static env var name when auth_from == URL_AUTH_ENV */
} rsUrl;

/* Parse s into *out (which is overwritten, not freed first). On failure
 * *out is left empty (nothing to free, but urlFree is harmless). */
int urlParse(const char *s, rsUrl *out, char *err, size_t errlen);

/* Free the owned strings and zero the struct; the password is wiped. */
void urlFree(rsUrl *u);

/* Deep copy (for keeping a URL after the parsed one is freed). */
int urlCopy(rsUrl *dst, const rsUrl *src, char *err, size_t errlen);

/* Replace user / password (explicit flags). NULL clears. -1 only on OOM. */
int urlSetUser(rsUrl *u, const char *user);
int urlSetPassword(rsUrl *u, const char *password);

/* If u has no password and the environment variable envname is set and
 * non-empty, take the password from it. Returns 1 if applied, 0 if not
 * (password already present, or variable unset/empty), -1 on OOM. */
int urlApplyEnvAuth(rsUrl *u, const char *envname);

/* Print u for humans with the password masked:
 *   redis://user:***@host:port/db    user and password
 *   redis://:***@host:port/db        password only
 *   redis://user@host:port           user only; "/db" only when db != -1
 *   rediss://[::1]:6380/2            IPv6 in brackets
 *   unix:///tmp/redis.sock?db=2
 * The user name is percent-encoded where needed. Always NUL-terminates
 * (truncates if len is too small). Returns buf. */
char *urlFormatMasked(const rsUrl *u, char *buf, size_t len);

/* "host:port" ("[v6]:port", or the unix path) for connect/I/O messages. */
char *urlFormatAddr(const rsUrl *u, char *buf, size_t len);

#endif

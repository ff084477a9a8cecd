/* test_url.c -- URL parsing, percent-decoding, IPv6, errors, masking, env auth. */
#include <stdlib.h>
#include <string.h>

#include "src/url.h"
#include "tests/test.h"

static char err[256];

/* Parse s, expecting success; on failure the block reports err. */
static int ok(const char *s, rsUrl *u) {
    err[0] = '\0';
    return urlParse(s, u, err, sizeof(err)) == 0;
}

/* Parse s, expecting failure with exactly msg. */
static void bad(const char *name, const char *s, const char *msg) {
    rsUrl u;
    err[0] = '\0';
    int rc = urlParse(s, &u, err, sizeof(err));
    if (rc == 0) {
        test_fail(name, "'%s' parsed, expected error '%s'", s, msg);
        urlFree(&u);
        return;
    }
    test_eq_str(name, msg, err);
}

static const char *masked(const rsUrl *u) {
    static char buf[256];
    return urlFormatMasked(u, buf, sizeof(buf));
}

static void testBasics(void) {
    rsUrl u;
    TEST("url.full") {
        if (!CHECK(ok("redis://alice:pw@example.com:6380/3", &u))) continue;
        CHECK_EQ_STR("alice", u.user);
        CHECK_EQ_STR("pw", u.password);
        CHECK_EQ_STR("example.com", u.host);
        CHECK_EQ_INT(6380, u.port);
        CHECK_EQ_INT(3, u.db);
        CHECK_EQ_INT(0, u.tls);
        CHECK_EQ_INT(0, u.is_unix);
        CHECK_EQ_INT(URL_AUTH_URL, u.auth_from);
        urlFree(&u);
    }
    TEST("url.defaults") {
        if (!CHECK(ok("redis://localhost", &u))) continue;
        CHECK_EQ_STR("localhost", u.host);
        CHECK_EQ_INT(6379, u.port);
        CHECK_EQ_INT(-1, u.db);
        CHECK(u.user == NULL);
        CHECK(u.password == NULL);
        CHECK_EQ_INT(URL_AUTH_NONE, u.auth_from);
        urlFree(&u);
    }
    TEST("url.trailing_slash_no_db") {
        if (!CHECK(ok("redis://h:1/", &u))) continue;
        CHECK_EQ_INT(-1, u.db);
        CHECK_EQ_INT(1, u.port);
        urlFree(&u);
    }
    TEST("url.rediss") {
        if (!CHECK(ok("rediss://h.example:6390/0", &u))) continue;
        CHECK_EQ_INT(1, u.tls);
        CHECK_EQ_INT(0, u.db);
        CHECK_EQ_STR("rediss://h.example:6390/0", masked(&u));
        urlFree(&u);
    }
    TEST("url.scheme_case") {
        if (!CHECK(ok("REDIS://h", &u))) continue;
        CHECK_EQ_INT(6379, u.port);
        urlFree(&u);
    }
    TEST("url.no_scheme") {
        if (!CHECK(ok("127.0.0.1:7000", &u))) continue;
        CHECK_EQ_STR("127.0.0.1", u.host);
        CHECK_EQ_INT(7000, u.port);
        CHECK_EQ_INT(0, u.tls);
        urlFree(&u);
    }
    TEST("url.db_query") {
        if (!CHECK(ok("redis://h?db=5", &u))) continue;
        CHECK_EQ_INT(5, u.db);
        urlFree(&u);
    }
}

static void testUserinfo(void) {
    rsUrl u;
    TEST("url.password_only") { /* redis-cli: a lone token is the password */
        if (!CHECK(ok("redis://s3cret@h", &u))) continue;
        CHECK(u.user == NULL);
        CHECK_EQ_STR("s3cret", u.password);
        CHECK_EQ_STR("redis://:***@h:6379", masked(&u));
        urlFree(&u);
    }
    TEST("url.empty_user") {
        if (!CHECK(ok("redis://:s3cret@h:1/2", &u))) continue;
        CHECK(u.user == NULL);
        CHECK_EQ_STR("s3cret", u.password);
        urlFree(&u);
    }
    TEST("url.user_no_password") {
        if (!CHECK(ok("redis://bob:@h", &u))) continue;
        CHECK_EQ_STR("bob", u.user);
        CHECK(u.password == NULL);
        CHECK_EQ_STR("redis://bob@h:6379", masked(&u));
        urlFree(&u);
    }
    TEST("url.percent_decoding") {
        if (!CHECK(ok("redis://al%40ice:p%3Aw%2F%25d@h", &u))) continue;
        CHECK_EQ_STR("al@ice", u.user);
        CHECK_EQ_STR("p:w/%d", u.password);
        /* the user is re-encoded for display, the password never shown */
        CHECK_EQ_STR("redis://al%40ice:***@h:6379", masked(&u));
        urlFree(&u);
    }
    TEST("url.unencoded_specials_in_password") { /* last '@' ends userinfo */
        if (!CHECK(ok("redis://u:p@ss:w/rd?x@h:7/1", &u))) continue;
        CHECK_EQ_STR("u", u.user);
        CHECK_EQ_STR("p@ss:w/rd?x", u.password);
        CHECK_EQ_STR("h", u.host);
        CHECK_EQ_INT(7, u.port);
        CHECK_EQ_INT(1, u.db);
        urlFree(&u);
    }
    TEST("url.host_percent") {
        if (!CHECK(ok("redis://my%2Dhost:1", &u))) continue;
        CHECK_EQ_STR("my-host", u.host);
        urlFree(&u);
    }
}

static void testIpv6(void) {
    rsUrl u;
    TEST("url.ipv6") {
        if (!CHECK(ok("redis://[::1]:6380/2", &u))) continue;
        CHECK_EQ_STR("::1", u.host);
        CHECK_EQ_INT(6380, u.port);
        CHECK_EQ_INT(2, u.db);
        CHECK_EQ_STR("redis://[::1]:6380/2", masked(&u));
        char a[64];
        CHECK_EQ_STR("[::1]:6380", urlFormatAddr(&u, a, sizeof(a)));
        urlFree(&u);
    }
    TEST("url.ipv6_default_port_auth") {
        if (!CHECK(ok("rediss://u:p@[2001:db8::7]", &u))) continue;
        CHECK_EQ_STR("2001:db8::7", u.host);
        CHECK_EQ_INT(6379, u.port);
        CHECK_EQ_STR("rediss://u:***@[2001:db8::7]:6379", masked(&u));
        urlFree(&u);
    }
    TEST("url.ipv6_zone") {
        if (!CHECK(ok("redis://[fe80::1%25eth0]:1", &u))) continue;
        CHECK_EQ_STR("fe80::1%eth0", u.host);
        CHECK_EQ_STR("redis://[fe80::1%25eth0]:1", masked(&u));
        urlFree(&u);
    }
}

static void testUnix(void) {
    rsUrl u;
    char a[64];
    TEST("url.unix") {
        if (!CHECK(ok("unix:///tmp/redis.sock?db=4", &u))) continue;
        CHECK_EQ_INT(1, u.is_unix);
        CHECK_EQ_STR("/tmp/redis.sock", u.path);
        CHECK(u.host == NULL);
        CHECK_EQ_INT(4, u.db);
        CHECK_EQ_STR("unix:///tmp/redis.sock?db=4", masked(&u));
        CHECK_EQ_STR("/tmp/redis.sock", urlFormatAddr(&u, a, sizeof(a)));
        urlFree(&u);
    }
    TEST("url.unix_short") {
        if (!CHECK(ok("unix:/run/r.sock", &u))) continue;
        CHECK_EQ_STR("/run/r.sock", u.path);
        CHECK_EQ_INT(-1, u.db);
        urlFree(&u);
    }
}

static void testErrors(void) {
    bad("url.err.port_alpha", "redis://h:x", "bad port 'x' in URL");
    bad("url.err.port_zero", "redis://h:0", "bad port '0' in URL");
    bad("url.err.port_big", "redis://h:65536", "bad port '65536' in URL");
    bad("url.err.port_empty", "redis://h:", "bad port '' in URL");
    bad("url.err.port_sign", "redis://h:+1", "bad port '+1' in URL");
    bad("url.err.db", "redis://h/x1", "bad db 'x1' in URL");
    bad("url.err.db_neg", "redis://h/-1", "bad db '-1' in URL");
    bad("url.err.db_query", "redis://h?db=", "bad db '' in URL");
    bad("url.err.param", "redis://h?password=s3cret", "unknown URL parameter 'password'");
    bad("url.err.scheme", "http://h", "unsupported URL scheme 'http' (expected redis://, rediss:// or unix://)");
    bad("url.err.empty", "", "empty URL");
    bad("url.err.no_host", "redis://:pw@:6379", "missing host in URL");
    bad("url.err.no_host2", "redis://", "missing host in URL");
    bad("url.err.v6_brackets", "redis://::1:6379", "IPv6 address in URL must be in brackets, as in redis://[::1]:6379");
    bad("url.err.v6_unclosed", "redis://[::1:6379", "bad IPv6 address in URL (missing ']')");
    bad("url.err.v6_junk", "redis://[::1]x", "unexpected characters after ']' in URL");
    bad("url.err.unix_nopath", "unix://", "missing socket path in unix:// URL (use unix:///path/to/redis.sock)");
    bad("url.err.fragment", "redis://h/1#x", "unexpected '#' in URL");
    bad("url.err.long_port", "redis://h:123456789012345678901234567890123456789012345678901234567890",
        "bad port '1234567890123456789012345678901234567890...' in URL");
    /* Errors in the userinfo name the part, never its content. */
    bad("url.err.pct_password", "redis://u:s3cr%zzet@h", "bad percent-encoding in URL password");
    bad("url.err.pct_password_end", "redis://u:s3cret%4@h", "bad percent-encoding in URL password");
    bad("url.err.pct_user", "redis://u%g:s3cret@h", "bad percent-encoding in URL user name");
    bad("url.err.nul", "redis://u:s3%00cret@h", "NUL byte (%00) in URL password");
    TEST("url.err.never_shows_password") {
        const char *urls[] = {"redis://u:s3cret@h:x",    "redis://u:s3cret@h/db",  "redis://s3cret@[::1",
                              "redis://u:s3cret@h?a=b",  "rediss://u:s3cret@::1",  "redis://u:s3cret@",
                              "redis://u:s3cret%@h",     "redis://s3cret@h:99999", "redis://u:s3cret@h#f"};
        for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
            rsUrl u;
            err[0] = '\0';
            if (!CHECK(urlParse(urls[i], &u, err, sizeof(err)) < 0)) {
                urlFree(&u);
                continue;
            }
            CHECK(err[0] != '\0');
            CHECK(strstr(err, "s3cret") == NULL);
        }
    }
    TEST("url.err.null_err_buffer") {
        rsUrl u;
        CHECK_EQ_INT(-1, urlParse("redis://h:x", &u, NULL, 0));
        urlFree(&u); /* harmless after failure */
    }
}

static void testMasking(void) {
    rsUrl u;
    TEST("url.mask.none") {
        if (!CHECK(ok("redis://h:1", &u))) continue;
        CHECK_EQ_STR("redis://h:1", masked(&u));
        urlFree(&u);
    }
    TEST("url.mask.never_password") {
        if (!CHECK(ok("redis://alice:s3cret@h:1/0", &u))) continue;
        CHECK_EQ_STR("redis://alice:***@h:1/0", masked(&u));
        CHECK(strstr(masked(&u), "s3cret") == NULL);
        urlFree(&u);
    }
    TEST("url.mask.truncates") {
        if (!CHECK(ok("redis://alice:s3cret@host.example.com:6379/0", &u))) continue;
        char small[12];
        urlFormatMasked(&u, small, sizeof(small));
        CHECK_EQ_STR("redis://ali", small);
        char one[1] = {'x'};
        urlFormatMasked(&u, one, sizeof(one));
        CHECK_EQ_INT(0, one[0]);
        urlFree(&u);
    }
}

static void testAuthSources(void) {
    rsUrl u;
    TEST("url.env.fills_missing") {
        setenv("RDBSYNC_TARGET_AUTH", "fromenv", 1);
        if (!CHECK(ok("redis://h", &u))) continue;
        CHECK_EQ_INT(1, urlApplyEnvAuth(&u, "RDBSYNC_TARGET_AUTH"));
        CHECK_EQ_STR("fromenv", u.password);
        CHECK_EQ_INT(URL_AUTH_ENV, u.auth_from);
        CHECK_EQ_STR("RDBSYNC_TARGET_AUTH", u.auth_env);
        CHECK_EQ_STR("redis://:***@h:6379", masked(&u));
        urlFree(&u);
    }
    TEST("url.env.url_wins") {
        setenv("RDBSYNC_TARGET_AUTH", "fromenv", 1);
        if (!CHECK(ok("redis://u:fromurl@h", &u))) continue;
        CHECK_EQ_INT(0, urlApplyEnvAuth(&u, "RDBSYNC_TARGET_AUTH"));
        CHECK_EQ_STR("fromurl", u.password);
        CHECK_EQ_INT(URL_AUTH_URL, u.auth_from);
        urlFree(&u);
    }
    TEST("url.env.fallback_rediscli") {
        unsetenv("RDBSYNC_SOURCE_AUTH");
        setenv("REDISCLI_AUTH", "clipw", 1);
        if (!CHECK(ok("redis://h", &u))) continue;
        int applied = urlApplyEnvAuth(&u, "RDBSYNC_SOURCE_AUTH") || urlApplyEnvAuth(&u, "REDISCLI_AUTH");
        CHECK_EQ_INT(1, applied);
        CHECK_EQ_STR("clipw", u.password);
        CHECK_EQ_STR("REDISCLI_AUTH", u.auth_env);
        urlFree(&u);
        unsetenv("REDISCLI_AUTH");
    }
    TEST("url.env.empty_ignored") {
        setenv("RDBSYNC_SOURCE_AUTH", "", 1);
        if (!CHECK(ok("redis://h", &u))) continue;
        CHECK_EQ_INT(0, urlApplyEnvAuth(&u, "RDBSYNC_SOURCE_AUTH"));
        CHECK(u.password == NULL);
        CHECK_EQ_INT(0, urlApplyEnvAuth(&u, "RDBSYNC_NO_SUCH_VAR"));
        CHECK_EQ_INT(0, urlApplyEnvAuth(&u, NULL));
        urlFree(&u);
        unsetenv("RDBSYNC_SOURCE_AUTH");
    }
    TEST("url.flags_override") {
        if (!CHECK(ok("redis://u:fromurl@h", &u))) continue;
        CHECK_EQ_INT(0, urlSetUser(&u, "flaguser"));
        CHECK_EQ_INT(0, urlSetPassword(&u, "flagpw"));
        CHECK_EQ_STR("flaguser", u.user);
        CHECK_EQ_STR("flagpw", u.password);
        CHECK_EQ_INT(URL_AUTH_FLAG, u.auth_from);
        CHECK_EQ_INT(0, urlSetUser(&u, ""));
        CHECK(u.user == NULL);
        CHECK_EQ_INT(0, urlSetPassword(&u, NULL));
        CHECK(u.password == NULL);
        CHECK_EQ_INT(URL_AUTH_NONE, u.auth_from);
        urlFree(&u);
    }
    TEST("url.copy") {
        rsUrl c;
        if (!CHECK(ok("rediss://u:pw@[::1]:7/3", &u))) continue;
        CHECK_EQ_INT(0, urlCopy(&c, &u, err, sizeof(err)));
        urlFree(&u);
        CHECK_EQ_STR("u", c.user);
        CHECK_EQ_STR("pw", c.password);
        CHECK_EQ_STR("::1", c.host);
        CHECK_EQ_INT(7, c.port);
        CHECK_EQ_INT(3, c.db);
        CHECK_EQ_INT(1, c.tls);
        urlFree(&c);
        urlFree(&c); /* idempotent */
        CHECK(c.host == NULL && c.db == -1);
    }
}

int main(void) {
    testBasics();
    testUserinfo();
    testIpv6();
    testUnix();
    testErrors();
    testMasking();
    testAuthSources();
    return test_report();
}

/* test_writer.c -- the pipelined writer against a scripted fake server.
 *
 * The server is a thread of ours on a unix socket in a temp dir (the
 * client side is a real rsConn from connOpen("unix://..."), with no
 * handshake): it parses the commands it receives with hiredis' redisReader
 * (a request is an array of bulk strings, like a reply), logs them and
 * answers from a script, optionally one reply every few ms and optionally
 * closing the connection after some command.
 *
 * Checked: the window (with max_cmds = 4, never more than 4 commands
 * unanswered at the server, and 4 reached); every reply handed to on_reply
 * with its own tag, in order; an error reply mid-window reaching on_reply
 * and a stop making writerCommand fail with writerStopped; writerSettle
 * reading every outstanding reply; SELECT only when the db changes; a
 * refused SELECT (a db the server lacks) stopping the writer before any
 * later command is sent, even when on_reply would go on; a server that
 * closes mid-window; values bigger than max_bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "src/conn.h"
#include "src/url.h"
#include "src/writer.h"
#include "tests/test.h"

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fnv(const char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return h;
}

/* ---- the fake server ---- */

#define MAX_LOG 4096

typedef struct logEntry {
    char cmd[32];
    char key[64];
    int argc;
    size_t lastlen;     /* length and hash of the last argument */
    uint64_t lasthash;
} logEntry;

typedef struct fake {
    char dir[64], path[128];
    int lfd;
    pthread_t thread;
    int delay_ms;       /* between two replies */
    int close_at;       /* close when this many commands came; 0 = never */
    /* Filled by the server thread, read after fakeStop(). */
    logEntry log[MAX_LOG];
    int received, answered, max_pending;
    int eof;            /* the client closed */
    char failure[256];  /* the server itself went wrong */
    char *replies[MAX_LOG];
} fake;

/* The script: the reply to a command, as RESP. */
static char *answerFor(const logEntry *e, int idx) {
    char buf[256];
    if (!strcmp(e->cmd, "GET"))
        snprintf(buf, sizeof(buf), "$%zu\r\nval:%s\r\n", strlen(e->key) + 4, e->key);
    else if (!strcmp(e->cmd, "INCR"))
        snprintf(buf, sizeof(buf), ":%d\r\n", idx);
    else if (!strcmp(e->cmd, "FAIL"))
        snprintf(buf, sizeof(buf), "-ERR failing %s\r\n", e->key);
    else if (!strcmp(e->cmd, "SELECT") && !strcmp(e->key, "99"))
        snprintf(buf, sizeof(buf), "-ERR DB index is out of range\r\n");
    else if (!strcmp(e->cmd, "NIL"))
        snprintf(buf, sizeof(buf), "$-1\r\n");
    else
        snprintf(buf, sizeof(buf), "+OK\r\n");
    return strdup(buf);
}

static void logCommand(fake *f, const redisReply *r) {
    if (f->received >= MAX_LOG || r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        snprintf(f->failure, sizeof(f->failure), "bad request or log full at command %d", f->received);
        return;
    }
    logEntry *e = &f->log[f->received];
    const redisReply *last = r->element[r->elements - 1];
    snprintf(e->cmd, sizeof(e->cmd), "%.*s", (int)r->element[0]->len, r->element[0]->str);
    if (r->elements > 1) snprintf(e->key, sizeof(e->key), "%.*s", (int)r->element[1]->len, r->element[1]->str);
    e->argc = (int)r->elements;
    e->lastlen = last->len;
    e->lasthash = fnv(last->str, last->len);
    f->replies[f->received] = answerFor(e, f->received);
    f->received++;
}

static int sendAll(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, 1000);
            continue;
        }
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read what is there and log every complete command; -1 on EOF/error. */
static int readCommands(fake *f, int fd, redisReader *rd) {
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return -1;
    if (n < 0) return 0;
    redisReaderFeed(rd, buf, (size_t)n);
    void *r;
    while (redisReaderGetReply(rd, &r) == REDIS_OK && r) {
        logCommand(f, r);
        freeReplyObject(r);
        int pending = f->received - f->answered;
        if (pending > f->max_pending) f->max_pending = pending;
        if (f->close_at && f->received >= f->close_at) return -1;
    }
    return 0;
}

static void *serve(void *p) {
    fake *f = p;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    redisReader *rd = redisReaderCreate();
    long long next = 0;
    for (;;) {
        int pending = f->received - f->answered;
        long long now = nowMs();
        int wait = pending ? (next > now ? (int)(next - now) : 0) : 1000;
        struct pollfd pf = {fd, POLLIN, 0};
        int ready = poll(&pf, 1, wait);
        if (ready > 0 && readCommands(f, fd, rd) < 0) {
            f->eof = !f->close_at || f->received < f->close_at;
            break;
        }
        if (pending && nowMs() >= next) {
            const char *a = f->replies[f->answered];
            if (sendAll(fd, a, strlen(a)) < 0) break;
            f->answered++;
            next = nowMs() + f->delay_ms;
        }
    }
    redisReaderFree(rd);
    close(fd);
    return NULL;
}

static fake *fakeStart(int delay_ms, int close_at) {
    fake *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_writer-XXXXXX");
    if (!mkdtemp(f->dir)) return NULL;
    snprintf(f->path, sizeof(f->path), "%s/fake.sock", f->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, f->path, strlen(f->path) + 1); /* < 40 bytes */
    f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(f->lfd, 1) < 0) return NULL;
    f->delay_ms = delay_ms;
    f->close_at = close_at;
    pthread_create(&f->thread, NULL, serve, f);
    return f;
}

/* Wait for the server thread (it ends when either side closes). */
static void fakeStop(fake *f) {
    pthread_join(f->thread, NULL);
    close(f->lfd);
    unlink(f->path);
    rmdir(f->dir);
}

static void fakeFree(fake *f) {
    for (int i = 0; i < f->received; i++) free(f->replies[i]);
    free(f);
}

static rsConn *connectTo(fake *f, char *err, size_t errlen) {
    rsUrl u;
    char url[200];
    snprintf(url, sizeof(url), "unix://%s", f->path);
    if (urlParse(url, &u, err, errlen) < 0) return NULL;
    rsConnOptions o = {.skip_ping = 1};
    rsConn *c = connOpen(&u, &o, err, errlen);
    urlFree(&u);
    return c;
}

/* ---- what on_reply saw ---- */

typedef struct seen {
    char cmd[32];
    char key[WRITER_KEY_MAX + 1];
    size_t keylen;
    uint64_t db, src_offset;
    int kind;
    int type;
    char str[64];
    long long integer;
} seen;

typedef struct replies {
    seen s[MAX_LOG];
    int n;
    int stop_on_error; /* on_reply returns 1 on an error reply */
} replies;

static int onReply(void *ctx, const writerTag *t, const redisReply *r) {
    replies *rs = ctx;
    if (rs->n >= MAX_LOG) return 1;
    seen *s = &rs->s[rs->n++];
    snprintf(s->cmd, sizeof(s->cmd), "%s", t->cmd);
    s->keylen = t->key ? t->keylen : 0;
    if (s->keylen) memcpy(s->key, t->key, s->keylen);
    s->key[s->keylen] = '\0';
    s->db = t->db;
    s->src_offset = t->src_offset;
    s->kind = t->kind;
    s->type = r->type;
    s->integer = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    if (r->str) snprintf(s->str, sizeof(s->str), "%.*s", (int)r->len, r->str);
    return rs->stop_on_error && r->type == REDIS_REPLY_ERROR;
}

/* Queue "cmd key [value]" with a tag naming it. */
static int send3(writer *w, const char *cmd, const char *key, const char *val, size_t vlen, int kind, uint64_t off) {
    const char *argv[3] = {cmd, key, val};
    size_t lens[3] = {strlen(cmd), strlen(key), vlen};
    char name[32];
    snprintf(name, sizeof(name), "%s", cmd); /* clobbered below: the writer must copy */
    writerTag t = {.cmd = name, .db = 7, .key = key, .keylen = strlen(key), .src_offset = off, .kind = kind};
    int rc = writerCommand(w, val ? 3 : 2, argv, lens, &t);
    memset(name, 'X', sizeof(name) - 1);
    return rc;
}

/* ---- tests ---- */

static void testWindow(void) {
    TEST("writer.window_of_4_with_a_slow_server") {
        fake *f = fakeStart(5, 0);
        char err[512] = "";
        rsConn *c = f ? connectTo(f, err, sizeof(err)) : NULL;
        if (!CHECK(c != NULL)) {
            CHECK_EQ_STR("", err);
            continue;
        }
        replies *rs = calloc(1, sizeof(*rs));
        writerOptions o = {.max_cmds = 4, .on_reply = onReply, .ctx = rs};
        writer *w = writerNew(c, &o);
        size_t max_inflight = 0;
        for (int i = 0; i < 40; i++) {
            char key[32];
            snprintf(key, sizeof(key), "k%d", i);
            CHECK_EQ_INT(0, send3(w, "SET", key, "v", 1, i % 3, 1000 + (uint64_t)i));
            if (writerInFlight(w) > max_inflight) max_inflight = writerInFlight(w);
        }
        CHECK_EQ_INT(0, writerDrain(w));
        CHECK_EQ_UINT(40, writerReplies(w));
        CHECK_EQ_UINT(0, writerInFlight(w));
        CHECK_EQ_UINT(4, max_inflight);
        writerFree(w);
        connClose(c);
        fakeStop(f);
        CHECK_EQ_STR("", f->failure);
        CHECK_EQ_INT(40, f->received);
        CHECK_EQ_INT(4, f->max_pending); /* the window was used, never exceeded */
        CHECK_EQ_INT(40, rs->n);
        for (int i = 0; i < rs->n && i < 40; i++) {
            const char *key = test_fmt("k%d", i);
            CHECK_EQ_STR(key, f->log[i].key);
            CHECK_EQ_STR("SET", rs->s[i].cmd);
            CHECK_EQ_STR(key, rs->s[i].key);
            CHECK_EQ_INT(i % 3, rs->s[i].kind);
            CHECK_EQ_UINT(1000 + (uint64_t)i, rs->s[i].src_offset);
            CHECK_EQ_INT(REDIS_REPLY_STATUS, rs->s[i].type);
        }
        free(rs);
        fakeFree(f);
    }
}

static void testMatching(void) {
    TEST("writer.replies_matched_to_tags_in_order") {
        fake *f = fakeStart(0, 0);
        char err[512] = "";
        rsConn *c = f ? connectTo(f, err, sizeof(err)) : NULL;
        if (!CHECK(c != NULL)) continue;
        replies *rs = calloc(1, sizeof(*rs));
        writerOptions o = {.max_cmds = 16, .on_reply = onReply, .ctx = rs};
        writer *w = writerNew(c, &o);
        static const char *cmds[] = {"SET", "GET", "INCR", "FAIL", "NIL"};
        char longkey[301];
        memset(longkey, 'L', 300);
        longkey[300] = '\0';
        int n = 500;
        for (int i = 0; i < n; i++) {
            const char *cmd = cmds[i % 5];
            char key[32];
            snprintf(key, sizeof(key), "key:%d", i);
            CHECK_EQ_INT(0, send3(w, cmd, i == 7 ? longkey : key, i % 5 ? NULL : "x", 1, i, 5000000000ULL + (uint64_t)i));
            if (i == 250) CHECK_EQ_INT(0, writerFlush(w)); /* mixes sends and reads */
        }
        CHECK_EQ_INT(0, writerDrain(w));
        CHECK_EQ_INT(0, writerStopped(w));
        writerFree(w);
        connClose(c);
        fakeStop(f);
        CHECK_EQ_INT(n, f->received);
        CHECK_EQ_INT(n, rs->n);
        for (int i = 0; i < rs->n && i < n; i++) {
            const seen *s = &rs->s[i];
            const char *key = test_fmt("key:%d", i);
            if (i == 7) {
                CHECK_EQ_UINT(WRITER_KEY_MAX, s->keylen); /* truncated in the tag */
                CHECK_EQ_MEM(longkey, WRITER_KEY_MAX, s->key, s->keylen);
                continue;
            }
            CHECK_EQ_STR(cmds[i % 5], s->cmd);
            CHECK_EQ_STR(key, s->key);
            CHECK_EQ_INT(i, s->kind);
            CHECK_EQ_UINT(5000000000ULL + (uint64_t)i, s->src_offset);
            CHECK_EQ_UINT(7, s->db);
            switch (i % 5) {
            case 0: CHECK_EQ_INT(REDIS_REPLY_STATUS, s->type), CHECK_EQ_STR("OK", s->str); break;
            case 1: CHECK_EQ_INT(REDIS_REPLY_STRING, s->type), CHECK_EQ_STR(test_fmt("val:%s", key), s->str); break;
            case 2: CHECK_EQ_INT(REDIS_REPLY_INTEGER, s->type), CHECK_EQ_INT(i, s->integer); break;
            case 3: CHECK_EQ_INT(REDIS_REPLY_ERROR, s->type), CHECK_EQ_STR(test_fmt("ERR failing %s", key), s->str); break;
            case 4: CHECK_EQ_INT(REDIS_REPLY_NIL, s->type); break;
            }
        }
        free(rs);
        fakeFree(f);
    }
}

static void testStop(void) {
    TEST("writer.error_mid_window_stops_and_settles") {
        fake *f = fakeStart(2, 0);
        char err[512] = "";
        rsConn *c = f ? connectTo(f, err, sizeof(err)) : NULL;
        if (!CHECK(c != NULL)) continue;
        replies *rs = calloc(1, sizeof(*rs));
        rs->stop_on_error = 1;
        writerOptions o = {.max_cmds = 8, .on_reply = onReply, .ctx = rs};
        writer *w = writerNew(c, &o);
        int sent = 0, rc = 0;
        for (int i = 0; i < 40 && rc == 0; i++) {
            char key[32];
            snprintf(key, sizeof(key), "k%d", i);
            rc = send3(w, i == 5 ? "FAIL" : "SET", key, "v", 1, WRITER_K_RESTORE, 100 + (uint64_t)i);
            if (rc == 0) sent++;
        }
        if (rc == 0) rc = writerDrain(w);
        CHECK_EQ_INT(-1, rc);
        CHECK_EQ_INT(1, writerStopped(w));
        CHECK_EQ_STR("", writerError(w)); /* a stop is not a link failure */
        /* The error reached on_reply with its own tag, and was the last
         * reply read before the stop. */
        CHECK_EQ_INT(6, rs->n);
        CHECK_EQ_STR("FAIL", rs->s[5].cmd);
        CHECK_EQ_STR("k5", rs->s[5].key);
        CHECK_EQ_UINT(105, rs->s[5].src_offset);
        CHECK_EQ_INT(REDIS_REPLY_ERROR, rs->s[5].type);
        CHECK_EQ_STR("ERR failing k5", rs->s[5].str);
        CHECK(sent > 6 && sent < 40);  /* stopped mid-stream, commands still in flight */
        CHECK(writerInFlight(w) > 0);
        CHECK_EQ_INT(-1, send3(w, "SET", "after", "v", 1, 0, 0)); /* stays stopped */
        /* Settle: every queued command reaches the server, every reply is
         * read and passed on, the writer stays stopped. */
        CHECK_EQ_INT(0, writerSettle(w));
        CHECK_EQ_UINT(0, writerInFlight(w));
        CHECK_EQ_INT(sent, rs->n);
        CHECK_EQ_UINT((uint64_t)sent, writerReplies(w));
        CHECK_EQ_INT(1, writerStopped(w));
        for (int i = 6; i < rs->n; i++) CHECK_EQ_STR(test_fmt("k%d", i), rs->s[i].key);
        writerFree(w);
        connClose(c);
        fakeStop(f);
        CHECK_EQ_INT(sent, f->received); /* "after" never left */
        CHECK_EQ_INT(sent, f->answered);
        free(rs);
        fakeFree(f);
    }
}

static void testSelect(void) {
    TEST("writer.select_only_when_the_db_changes") {
        fake *f = fakeStart(0, 0);
        char err[512] = "";
        rsConn *c = f ? connectTo(f, err, sizeof(err)) : NULL;
        if (!CHECK(c != NULL)) continue;
        replies *rs = calloc(1, sizeof(*rs));
        writerOptions o = {.on_reply = onReply, .ctx = rs};
        writer *w = writerNew(c, &o);
        CHECK_EQ_INT(0, writerSelect(w, 0)); /* unknown at first: sent */
        CHECK_EQ_INT(0, writerSelect(w, 0));
        CHECK_EQ_INT(0, send3(w, "SET", "a", "1", 1, 0, 0));
        CHECK_EQ_INT(0, writerSelect(w, 15));
        CHECK_EQ_INT(0, writerSelect(w, 15));
        CHECK_EQ_INT(0, send3(w, "SET", "b", "1", 1, 0, 0));
        CHECK_EQ_INT(0, writerSelect(w, 0));
        writerResetDb(w);
        CHECK_EQ_INT(0, writerSelect(w, 0)); /* forgotten: sent again */
        CHECK_EQ_INT(0, writerSelect(w, 4000000000ULL));
        CHECK_EQ_INT(0, writerDrain(w));
        writerFree(w);
        connClose(c);
        fakeStop(f);
        static const char *want[][2] = {{"SELECT", "0"}, {"SET", "a"},  {"SELECT", "15"}, {"SET", "b"},
                                        {"SELECT", "0"}, {"SELECT", "0"}, {"SELECT", "4000000000"}};
        int nwant = (int)(sizeof(want) / sizeof(want[0]));
        CHECK_EQ_INT(nwant, f->received);
        for (int i = 0; i < nwant && i < f->received; i++) {
            CHECK_EQ_STR(want[i][0], f->log[i].cmd);
            CHECK_EQ_STR(want[i][1], f->log[i].key);
        }
        /* SELECT replies come back tagged with their db. */
        CHECK_EQ_INT(nwant, rs->n);
        if (rs->n == nwant) {
            CHECK_EQ_STR("SELECT", rs->s[2].cmd);
            CHECK_EQ_UINT(15, rs->s[2].db);
            CHECK_EQ_UINT(4000000000ULL, rs->s[6].db);
        }
        free(rs);
        fakeFree(f);
    }
}

static void testSelectRefused(void) {
    TEST("writer.refused_select_sends_nothing_after_it") {
        fake *f = fakeStart(3, 0); /* slow replies: a pipeline would run ahead */
        char err[512] = "";
        rsConn *c = f ? connectTo(f, err, sizeof(err)) : NULL;
        if (!CHECK(c != NULL)) continue;
        replies *rs = calloc(1, sizeof(*rs)); /* stop_on_error 0: on_reply would go on */
        writerOptions o = {.on_reply = onReply, .ctx = rs};
        writer *w = writerNew(c, &o);
        CHECK_EQ_INT(0, writerSelect(w, 0));
        CHECK_EQ_INT(0, send3(w, "SET", "a", "1", 1, 0, 0));
        CHECK_EQ_INT(-1, writerSelect(w, 99));
        CHECK_EQ_INT(1, writerStopped(w));
        CHECK_EQ_INT(-1, send3(w, "SET", "b", "1", 1, 0, 0));
        CHECK_EQ_INT(0, writerSettle(w));
        CHECK(strstr(writerError(w), "SELECT 99") != NULL);
        writerFree(w);
        connClose(c);
        fakeStop(f);
        CHECK_EQ_INT(3, f->received); /* SELECT 0, SET a, SELECT 99; never SET b */
        if (f->received == 3) CHECK_EQ_STR("99", f->log[2].key);
        CHECK_EQ_INT(3, rs->n);
        if (rs->n == 3) CHECK_EQ_INT(WRITER_K_SELECT, rs->s[2].kind);
        free(rs);
        fakeFree(f);
    }
}

static void testServerCloses(void) {
    TEST("writer.server_closes_mid_window") {
        fake *f = fakeStart(20, 6); /* slow replies, closes at the 6th command */
        char err[512] = "";
        rsConn *c = f ? connectTo(f, err, sizeof(err)) : NULL;
        if (!CHECK(c != NULL)) continue;
        replies *rs = calloc(1, sizeof(*rs));
        writerOptions o = {.max_cmds = 4, .on_reply = onReply, .ctx = rs};
        writer *w = writerNew(c, &o);
        int rc = 0;
        for (int i = 0; i < 100 && rc == 0; i++) rc = send3(w, "SET", test_fmt("k%d", i), "v", 1, 0, 0);
        if (rc == 0) rc = writerDrain(w);
        CHECK_EQ_INT(-1, rc);
        CHECK_EQ_INT(0, writerStopped(w));
        const char *why = writerError(w);
        CHECK(strstr(why, f->path) != NULL); /* names the peer */
        CHECK(strstr(why, "connection closed by") || strstr(why, "reset by peer") || strstr(why, "Broken pipe"));
        CHECK(rs->n < 6);
        CHECK_EQ_UINT((uint64_t)rs->n, writerReplies(w));
        CHECK_EQ_INT(-1, send3(w, "SET", "after", "v", 1, 0, 0)); /* unusable */
        CHECK_EQ_INT(-1, writerDrain(w));
        CHECK_EQ_INT(-1, writerSettle(w));
        CHECK(strstr(writerError(w), f->path) != NULL); /* first reason kept */
        writerFree(w);
        connClose(c);
        fakeStop(f);
        CHECK_EQ_INT(6, f->received);
        free(rs);
        fakeFree(f);
    }
}

static void testBigValues(void) {
    TEST("writer.values_bigger_than_max_bytes") {
        fake *f = fakeStart(0, 0);
        char err[512] = "";
        rsConn *c = f ? connectTo(f, err, sizeof(err)) : NULL;
        if (!CHECK(c != NULL)) continue;
        replies *rs = calloc(1, sizeof(*rs));
        writerOptions o = {.max_cmds = 16, .max_bytes = 64 * 1024, .on_reply = onReply, .ctx = rs};
        writer *w = writerNew(c, &o);
        /* Below, between and above max_bytes and the writer's own 1 MiB
         * "big command" size, mixed with small ones. */
        static const size_t sizes[] = {10, 3 << 20, 5, 100 * 1024, 70 * 1024, 1, (1 << 20) + 3, 64 * 1024, 2};
        int n = (int)(sizeof(sizes) / sizeof(sizes[0]));
        char *val = malloc((3 << 20) + 16);
        /* (value i starts at val + i) */
        for (size_t i = 0; i < (3u << 20) + 16; i++) val[i] = (char)('a' + (i * 7 + i / 4099) % 26);
        for (int i = 0; i < n; i++)
            CHECK_EQ_INT(0, send3(w, "SET", test_fmt("big%d", i), val + i, sizes[i], i, 0));
        CHECK_EQ_INT(0, writerDrain(w));
        CHECK_EQ_UINT((uint64_t)n, writerReplies(w));
        writerFree(w);
        connClose(c);
        fakeStop(f);
        CHECK_EQ_INT(n, f->received);
        CHECK_EQ_INT(n, rs->n);
        for (int i = 0; i < n && i < f->received; i++) {
            CHECK_EQ_STR(test_fmt("big%d", i), f->log[i].key);
            CHECK_EQ_UINT(sizes[i], f->log[i].lastlen);
            CHECK_EQ_UINT(fnv(val + i, sizes[i]), f->log[i].lasthash);
            CHECK_EQ_INT(i, rs->s[i].kind);
        }
        free(val);
        free(rs);
        fakeFree(f);
    }
}

int main(void) {
    testWindow();
    testMatching();
    testStop();
    testSelect();
    testSelectRefused();
    testServerCloses();
    testBigValues();
    return test_report();
}

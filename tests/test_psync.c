/* test_psync.c -- the replication wire (src/psync.c) against a scripted
 * fake master.
 *
 * The master is a thread of ours on a unix socket in a temp dir (the
 * client side is a real rsConn from connOpen("unix://..."), with no
 * handshake). It plays a script: send some bytes, pause (so that the next
 * bytes come in another read), read N requests (answering +OK to each or
 * not) and log them, or close.
 *
 * Checked: the requests as the master sees them (handshake flags, PSYNC
 * "?" -1 and <replid> <offset>, a renamed PSYNC, SYNC, ACK); the source's
 * PING period, and its default where CONFIG is refused; keepalive
 * newlines skipped and reported; every kind of PSYNC answer classified
 * (refusals: unknown command, NOPERM; other errors retried); sized and
 * marked transfers, with the mark split across reads, a payload shorter
 * than the mark, bytes that look like part of the mark; a link cut before
 * the end in both forms; bad headers refused.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "src/conn.h"
#include "src/psync.h"
#include "src/url.h"
#include "tests/test.h"

#define MARK "0123456789abcdef0123456789abcdef01234567"

/* ---- the fake master ---- */

typedef enum { STEP_SEND, STEP_PAUSE, STEP_EXPECT, STEP_EXPECT_SILENT, STEP_CLOSE, STEP_END } stepKind;

typedef struct step {
    stepKind kind;
    const char *bytes; /* SEND */
    size_t len;        /* SEND: bytes (0 = strlen); PAUSE: ms; EXPECT: requests */
} step;

typedef struct fake {
    char dir[64], path[128];
    int lfd;
    pthread_t thread;
    const step *script;
    char log[2048];     /* the requests, "A B C|D E|" */
    char failure[256];
} fake;

static int sendAll(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void logRequest(fake *f, const redisReply *r) {
    size_t at = strlen(f->log);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        at += (size_t)snprintf(f->log + at, sizeof(f->log) - at, "%s%s", i ? " " : "", r->element[i]->str);
    if (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING) /* an inline SYNC */
        at += (size_t)snprintf(f->log + at, sizeof(f->log) - at, "%s", r->str);
    snprintf(f->log + at, sizeof(f->log) - at, "|");
}

/* Read n requests; answer +OK to each unless silent. */
static int expect(fake *f, int fd, redisReader *rd, size_t n, int silent) {
    char buf[4096];
    while (n) {
        void *rep = NULL;
        if (redisReaderGetReply(rd, &rep) != REDIS_OK) return -1;
        if (rep) {
            logRequest(f, rep);
            freeReplyObject(rep);
            if (!silent && sendAll(fd, "+OK\r\n", 5) < 0) return -1;
            n--;
            continue;
        }
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 5000) <= 0) return -1;
        ssize_t got = read(fd, buf, sizeof(buf));
        if (got <= 0) return -1;
        /* An inline command ("SYNC\r\n") as the reader would not take it. */
        if (buf[0] != '*') {
            char tmp[4200];
            int m = snprintf(tmp, sizeof(tmp), "+%.*s", (int)got, buf);
            redisReaderFeed(rd, tmp, (size_t)m);
        } else {
            redisReaderFeed(rd, buf, (size_t)got);
        }
    }
    return 0;
}

static void *serve(void *p) {
    fake *f = p;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    redisReader *rd = redisReaderCreate();
    for (const step *s = f->script; s->kind != STEP_END && s->kind != STEP_CLOSE; s++) {
        int rc = 0;
        if (s->kind == STEP_SEND) rc = sendAll(fd, s->bytes, s->len ? s->len : strlen(s->bytes));
        if (s->kind == STEP_PAUSE) usleep((useconds_t)s->len * 1000);
        if (s->kind == STEP_EXPECT || s->kind == STEP_EXPECT_SILENT)
            rc = expect(f, fd, rd, s->len, s->kind == STEP_EXPECT_SILENT);
        if (rc < 0) {
            snprintf(f->failure, sizeof(f->failure), "step %d failed", (int)(s - f->script));
            break;
        }
    }
    /* STEP_END: wait for the client to close; STEP_CLOSE: close now. */
    const step *last = f->script;
    while (last->kind != STEP_END && last->kind != STEP_CLOSE) last++;
    if (last->kind == STEP_END) {
        char b[256];
        while (read(fd, b, sizeof(b)) > 0) {}
    }
    redisReaderFree(rd);
    close(fd);
    return NULL;
}

static fake *fakeStart(const step *script) {
    fake *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_psync-XXXXXX");
    if (!f || !mkdtemp(f->dir)) return NULL;
    snprintf(f->path, sizeof(f->path), "%s/m.sock", f->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
    f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(f->lfd, 1) < 0) return NULL;
    f->script = script;
    pthread_create(&f->thread, NULL, serve, f);
    return f;
}

static rsConn *connectTo(fake *f) {
    rsUrl u;
    char url[200], err[256];
    snprintf(url, sizeof(url), "unix://%s", f->path);
    if (urlParse(url, &u, err, sizeof(err)) < 0) return NULL;
    rsConnOptions o = {.skip_ping = 1, .io_timeout_ms = 5000};
    rsConn *c = connOpen(&u, &o, err, sizeof(err));
    urlFree(&u);
    return c;
}

/* Close our side, then wait for the master. */
static void fakeStop(fake *f, rsConn *c) {
    connClose(c);
    pthread_join(f->thread, NULL);
    close(f->lfd);
    unlink(f->path);
    rmdir(f->dir);
}

/* Everything a transfer hands out, until 0 or -1 (rc), into out. */
static size_t drain(psyncTransfer *t, char *out, size_t cap, int *rc, char *err, size_t errlen) {
    size_t got = 0;
    for (;;) {
        char buf[7]; /* small reads: the decoder may ask for a few bytes */
        ssize_t n = psyncTransferRead(t, buf, sizeof(buf), err, errlen);
        if (n <= 0) {
            *rc = (int)n;
            return got;
        }
        if (got + (size_t)n > cap) {
            *rc = -2;
            return got;
        }
        memcpy(out + got, buf, (size_t)n);
        got += (size_t)n;
    }
}

/* ---- requests ---- */

static void testRequests(void) {
    /* A round trip after each group, so that SYNC (inline) comes alone. */
    static const step script[] = {{STEP_EXPECT, NULL, 3},        {STEP_EXPECT, NULL, 1},
                                  {STEP_EXPECT_SILENT, NULL, 2}, {STEP_SEND, "+a\r\n", 0},
                                  {STEP_EXPECT_SILENT, NULL, 1}, {STEP_SEND, "+b\r\n", 0},
                                  {STEP_EXPECT_SILENT, NULL, 1}, {STEP_SEND, "+c\r\n", 0},
                                  {STEP_END, NULL, 0}};
    TEST("psync.requests") {
        fake *f = fakeStart(script);
        rsConn *c = f ? connectTo(f) : NULL;
        char line[64];
        if (!CHECK(c != NULL)) continue;
        CHECK_EQ_INT(0, psyncHandshake(c, PSYNC_LISTENING_PORT | PSYNC_RDB_ONLY));
        CHECK_EQ_INT(0, psyncHandshake(c, 0));
        CHECK_EQ_INT(0, psyncRequest(c, NULL, NULL, -1));
        CHECK_EQ_INT(0, psyncRequest(c, "xpsync42", MARK, 1234));
        CHECK_EQ_INT(0, psyncReadLine(c, line, sizeof(line), NULL, NULL));
        CHECK_EQ_INT(0, psyncRequestSync(c));
        CHECK_EQ_INT(0, psyncReadLine(c, line, sizeof(line), NULL, NULL));
        CHECK_EQ_INT(0, psyncAck(c, 42));
        CHECK_EQ_INT(0, psyncReadLine(c, line, sizeof(line), NULL, NULL));
        CHECK_EQ_STR("+c", line);
        fakeStop(f, c);
        CHECK_EQ_STR("REPLCONF listening-port 0|REPLCONF capa eof capa psync2|REPLCONF rdb-only 1|"
                     "REPLCONF capa eof capa psync2|"
                     "PSYNC ? -1|xpsync42 " MARK " 1234|SYNC|REPLCONF ACK 42|",
                     f->log);
        CHECK_EQ_STR("", f->failure);
        free(f);
    }
}

/* The source's PING period: CONFIG GET's answer, or the default where
 * CONFIG is refused (both names asked). */
static void testPingPeriod(void) {
    static const step script[] = {
        {STEP_EXPECT_SILENT, NULL, 1}, {STEP_SEND, "*2\r\n$24\r\nrepl-ping-replica-period\r\n$1\r\n3\r\n", 0},
        {STEP_EXPECT_SILENT, NULL, 1}, {STEP_SEND, "-NOPERM no CONFIG for you\r\n", 0},
        {STEP_EXPECT_SILENT, NULL, 1}, {STEP_SEND, "*0\r\n", 0},
        {STEP_END, NULL, 0}};
    TEST("psync.ping_period") {
        fake *f = fakeStart(script);
        rsConn *c = f ? connectTo(f) : NULL;
        if (!CHECK(c != NULL)) continue;
        CHECK_EQ_INT(3, psyncPingPeriod(c));
        CHECK_EQ_INT(PSYNC_DEFAULT_PING_PERIOD, psyncPingPeriod(c));
        fakeStop(f, c);
        CHECK_EQ_STR("CONFIG GET repl-ping-replica-period|CONFIG GET repl-ping-replica-period|"
                     "CONFIG GET repl-ping-slave-period|",
                     f->log);
        free(f);
    }
}

/* ---- replies ---- */

static int keepalives;
static int countKeepalive(void *ctx) {
    keepalives++;
    return ctx != NULL && keepalives >= 2; /* with a ctx: give up at the second */
}

static void testKeepalive(void) {
    static const step script[] = {{STEP_SEND, "\n\n", 0}, {STEP_PAUSE, NULL, 20},
                                  {STEP_SEND, "\n+FULLRESYNC " MARK " 77\r\n\n\n", 0}, {STEP_END, NULL, 0}};
    TEST("psync.keepalive_skipped") {
        fake *f = fakeStart(script);
        rsConn *c = f ? connectTo(f) : NULL;
        if (!CHECK(c != NULL)) continue;
        char line[128];
        psyncReply rep;
        keepalives = 0;
        CHECK_EQ_INT(0, psyncReadLine(c, line, sizeof(line), countKeepalive, NULL));
        CHECK_EQ_INT(3, keepalives);
        CHECK_EQ_INT(PSYNC_FULLRESYNC, psyncParseReply(line, &rep));
        CHECK_EQ_STR(MARK, rep.replid);
        CHECK_EQ_INT(77, rep.offset);
        /* A callback that gives up ends the wait. */
        keepalives = 0;
        CHECK_EQ_INT(-1, psyncReadLine(c, line, sizeof(line), countKeepalive, &keepalives));
        CHECK_EQ_INT(2, keepalives);
        fakeStop(f, c);
        free(f);
    }
}

static void testReplies(void) {
    psyncReply r;
    test_eq_int("psync.reply.unknown_command", PSYNC_REFUSED,
                psyncParseReply("-ERR unknown command 'PSYNC', with args beginning with: '?' '-1'", &r));
    test_eq_int("psync.reply.noperm", PSYNC_REFUSED,
                psyncParseReply("-NOPERM this user has no permissions to run the 'psync' command", &r));
    test_eq_int("psync.reply.loading_is_not_refusal", PSYNC_ERROR,
                psyncParseReply("-LOADING Redis is loading the dataset in memory", &r));
    test_eq_int("psync.reply.nomasterlink", PSYNC_ERROR,
                psyncParseReply("-NOMASTERLINK Can't SYNC while not connected with my master", &r));
    test_eq_int("psync.reply.snapshot_at_once", PSYNC_SNAPSHOT, psyncParseReply("$1234", &r));
    test_eq_int("psync.reply.continue_psync1", PSYNC_CONTINUE, psyncParseReply("+CONTINUE", &r));
    test_eq_str("psync.reply.continue_psync1_id", "", r.replid);
    test_eq_int("psync.reply.continue", PSYNC_CONTINUE, psyncParseReply("+CONTINUE " MARK, &r));
    test_eq_str("psync.reply.continue_id", MARK, r.replid);
    test_eq_int("psync.reply.fullresync_bad_offset", PSYNC_ERROR, psyncParseReply("+FULLRESYNC " MARK, &r));
    test_eq_int("psync.reply.fullresync_short_id", PSYNC_ERROR, psyncParseReply("+FULLRESYNC abc 12", &r));
    test_eq_int("psync.reply.junk", PSYNC_ERROR, psyncParseReply("+OK", &r));
    test_cond("psync.refusal", psyncIsRefusal("-ERR unknown command 'SYNC'") && !psyncIsRefusal("-ERR other") &&
                                   !psyncIsRefusal("+unknown command"));
}

/* ---- transfers ---- */

static void testHeaders(void) {
    psyncTransfer t;
    char err[256];
    test_eq_int("psync.header.short_mark", -1, psyncTransferStart(&t, NULL, "$EOF:abc", err, sizeof(err)));
    test_eq_int("psync.header.not_a_number", -1, psyncTransferStart(&t, NULL, "$12x", err, sizeof(err)));
    test_eq_int("psync.header.negative", -1, psyncTransferStart(&t, NULL, "$-1", err, sizeof(err)));
    test_eq_int("psync.header.error_reply", -1, psyncTransferStart(&t, NULL, "-ERR no", err, sizeof(err)));
    test_cond("psync.header.message", strstr(err, "-ERR no") != NULL);
    TEST("psync.header.empty_sized") {
        CHECK_EQ_INT(0, psyncTransferStart(&t, NULL, "$0", err, sizeof(err)));
        CHECK_EQ_INT(0, (int)psyncTransferRead(&t, err, sizeof(err), err, sizeof(err)));
        CHECK(t.done);
    }
    TEST("psync.header.marked") {
        CHECK_EQ_INT(0, psyncTransferStart(&t, NULL, PSYNC_EOF_PREFIX MARK, err, sizeof(err)));
        CHECK_EQ_INT(-1, (int)t.size);
        CHECK_EQ_MEM(MARK, PSYNC_MARK_LEN, t.mark, PSYNC_MARK_LEN);
    }
}

/* One transfer: the master sends header+body per script; we expect
 * 'want' (wantlen bytes) and the final rc (0 whole, -1 cut). */
static void transferCase(const char *name, const step *script, const char *want, size_t wantlen, int wantrc,
                         const char *errpart) {
    TEST(name) {
        fake *f = fakeStart(script);
        rsConn *c = f ? connectTo(f) : NULL;
        if (!CHECK(c != NULL)) continue;
        char line[128], err[256] = "", out[8192];
        psyncTransfer t;
        int rc = 9;
        CHECK_EQ_INT(0, psyncReadLine(c, line, sizeof(line), NULL, NULL));
        if (CHECK_EQ_INT(0, psyncTransferStart(&t, c, line, err, sizeof(err)))) {
            size_t got = drain(&t, out, sizeof(out), &rc, err, sizeof(err));
            CHECK_EQ_INT(wantrc, rc);
            CHECK_EQ_MEM(want, wantlen, out, got);
            CHECK_EQ_INT(wantrc == 0, t.done);
            CHECK_EQ_INT((int)got, (int)t.passed);
            if (errpart) CHECK(strstr(err, errpart) != NULL);
            if (wantrc == 0) CHECK_EQ_INT(0, (int)psyncTransferRead(&t, out, sizeof(out), err, sizeof(err)));
        }
        fakeStop(f, c);
        free(f);
    }
}

static void testTransfers(void) {
    static char body[3000];
    for (size_t i = 0; i < sizeof(body); i++) body[i] = (char)('a' + i % 26);
    /* Sized, in three writes. */
    static const step sized[] = {{STEP_SEND, "$26\r\nabcdefghij", 0}, {STEP_PAUSE, NULL, 20},
                                 {STEP_SEND, "klmnop", 0},           {STEP_PAUSE, NULL, 20},
                                 {STEP_SEND, "qrstuvwxyz", 0},       {STEP_END, NULL, 0}};
    transferCase("psync.sized", sized, "abcdefghijklmnopqrstuvwxyz", 26, 0, NULL);
    /* Marked: the mark split across reads, twice. */
    static step marked[] = {{STEP_SEND, "$EOF:" MARK "\r\n", 0}, {STEP_SEND, NULL, 0},
                            {STEP_SEND, MARK, 15},               {STEP_PAUSE, NULL, 30},
                            {STEP_SEND, &MARK[15], 20},          {STEP_PAUSE, NULL, 30},
                            {STEP_SEND, &MARK[35], 5},           {STEP_END, NULL, 0}};
    marked[1].bytes = body;
    marked[1].len = sizeof(body);
    transferCase("psync.marked.split_mark", marked, body, sizeof(body), 0, NULL);
    /* A payload shorter than the mark, mark and all in one write. */
    static const step tiny[] = {{STEP_SEND, "\n\n$EOF:" MARK "\r\nREDIS" MARK, 0}, {STEP_END, NULL, 0}};
    transferCase("psync.marked.tiny_payload", tiny, "REDIS", 5, 0, NULL);
    /* Bytes that start like the mark are data, not the end. */
    static const step lookalike[] = {{STEP_SEND, "$EOF:" MARK "\r\n0123456789", 0}, {STEP_PAUSE, NULL, 20},
                                     {STEP_SEND, "abcdef0123456789abcdef01234567X" MARK, 0}, {STEP_END, NULL, 0}};
    transferCase("psync.marked.lookalike", lookalike, "0123456789abcdef0123456789abcdef01234567X", 41, 0, NULL);
    /* Cut: a sized transfer closed after 10 of 26 bytes. */
    static const step cutSized[] = {{STEP_SEND, "$26\r\nabcdefghij", 0}, {STEP_CLOSE, NULL, 0}};
    transferCase("psync.sized.truncated", cutSized, "abcdefghij", 10, -1, "after 10 of 26 bytes");
    /* Cut: a marked transfer closed before the mark; the last 40 bytes
     * were held back as a possible mark, so never handed out. */
    static step cutMarked[] = {{STEP_SEND, "$EOF:" MARK "\r\n", 0}, {STEP_SEND, NULL, 0}, {STEP_CLOSE, NULL, 0}};
    cutMarked[1].bytes = body;
    cutMarked[1].len = 100;
    transferCase("psync.marked.truncated", cutMarked, body, 100 - PSYNC_MARK_LEN, -1, "before the end mark");
    /* Cut inside the mark itself. */
    static const step cutInMark[] = {
        {STEP_SEND, "$EOF:" MARK "\r\nhello world, this is the payload" MARK, PSYNC_EOF_HEADER_LEN + 2 + 32 + 20},
        {STEP_CLOSE, NULL, 0}};
    transferCase("psync.marked.truncated_in_mark", cutInMark, "hello world,", 12, -1, "before the end mark");
    /* Nothing but a part of the header's promise: cut before 40 bytes. */
    static const step cutEarly[] = {{STEP_SEND, "$EOF:" MARK "\r\nREDIS0011", 0}, {STEP_CLOSE, NULL, 0}};
    transferCase("psync.marked.truncated_early", cutEarly, "", 0, -1, "after 0 bytes");
}

int main(void) {
    testRequests();
    testPingPeriod();
    testKeepalive();
    testReplies();
    testHeaders();
    testTransfers();
    return test_report();
}

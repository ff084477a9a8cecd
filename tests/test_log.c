/* test_log.c -- log.c: the text and JSON line formats, quiet, one line per message. */
#include <regex.h>
#include <unistd.h>

#include "../src/log.h"
#include "test.h"

/* Run fn with stderr sent to a temp file; return what it wrote. */
static char captured[8192];
static const char *capture(void (*fn)(void)) {
    char path[] = "/tmp/rdbsync-test-log.XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    fflush(stderr);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, captured, sizeof(captured) - 1, 0);
    captured[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return captured;
}

static int matches(const char *re, const char *s) {
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NEWLINE)) return 0;
    int ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

#define TS "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

static void textLines(void) {
    logSetup(LOG_TEXT, 0);
    logError("the target refused %s", "RESTORE");
    logWarn("maxmemory is %d MB", 10);
    logInfo("two\nlines");
    logStatus("streaming", "offset %d", 42);
}

static void jsonLines(void) {
    logSetup(LOG_JSON, 0);
    logError("key 'a\"b' refused");
    logStatus("snapshot", "loading");
}

static void quietLines(void) {
    logSetup(LOG_TEXT, 1);
    logInfo("summary shown");
    logStatus("streaming", "hidden");
    logError("shown");
}

int main(void) {
    const char *out = capture(textLines);
    TEST("log.text_status_timestamped_off_a_terminal") {
        CHECK(matches("^rdbsync: the target refused RESTORE$", out));
        CHECK(matches("^rdbsync: warning: maxmemory is 10 MB$", out));
        CHECK(matches("^rdbsync: two\\\\nlines$", out));
        CHECK(matches("^rdbsync: " TS " offset 42$", out));
    }
    out = capture(jsonLines);
    TEST("log.json_objects") {
        CHECK(matches("^\\{\"time\":\"" TS "\",\"level\":\"error\",\"msg\":\"key 'a\\\\\"b' refused\"\\}$", out));
        CHECK(matches("^\\{\"time\":\"" TS "\",\"level\":\"status\",\"phase\":\"snapshot\",\"msg\":\"loading\"\\}$",
                      out));
    }
    out = capture(quietLines);
    TEST("log.quiet_hides_status_only") {
        CHECK(strstr(out, "hidden") == NULL);
        CHECK(strstr(out, "rdbsync: shown") != NULL);
        CHECK(strstr(out, "rdbsync: summary shown") != NULL);
    }
    {
        logFormat f;
        test_cond("log.parse_format", logParseFormat("json", &f) == 0 && f == LOG_JSON &&
                                          logParseFormat("text", &f) == 0 && f == LOG_TEXT &&
                                          logParseFormat("xml", &f) == -1);
    }
    return test_report();
}

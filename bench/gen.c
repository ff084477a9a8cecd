/* gen.c -- write the RESP commands that build the benchmark dataset.
 *
 * Usage: gen NKEYS [SEED] > data.resp     (then: redis-cli --pipe < data.resp)
 *
 * Produces exactly NKEYS keys in db 0, deterministic for a given NKEYS and
 * SEED, with a mix meant to exercise every encoding a Redis 7.0 server writes:
 *
 *   62% strings   1/3 integers (int-encoded), 1/3 short (5-20 bytes),
 *                 1/3 long (100-200 bytes, half random, half repetitive so
 *                 that the server stores them LZF-compressed); a few 32 KiB
 *   10% hashes    listpack (2-16 fields); 0.5% of them hashtable (200-1000)
 *   10% lists     quicklist of one listpack node (2-30); 0.2% long (500-3000)
 *    8% sets      half intset (2-50), half hashtable of strings (2-30);
 *                 0.5% large integer sets (600-1200, hashtable)
 *    8% zsets     listpack (2-30); 1% skiplist (200-1000)
 *    2% streams   1-10 entries; 10% of them with a consumer group and a PEL
 *   20% of all keys get an absolute expire in the year 2100, so the dump
 *   stays valid (and deterministic) whenever it is loaded.
 *
 * Every key is written by one variadic command (plus PEXPIREAT, and for
 * streams one XADD per entry), so the server ingests it at pipe speed.
 * Output is buffered RESP; nothing here allocates per key.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPIRE_BASE_MS 4102444800000LL /* 2100-01-01T00:00:00Z */
#define MAX_ARGS 4096

static uint64_t rngState;

/* splitmix64: fast, good enough, and identical on every platform. */
static uint64_t rnd(void) {
    uint64_t z = (rngState += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t range(uint64_t lo, uint64_t hi) { return lo + rnd() % (hi - lo + 1); }

/* ---- A tiny RESP command builder: args are copied into one arena. ---- */

static char arena[1 << 20];
static size_t arenaLen;
static const char *argp[MAX_ARGS];
static size_t argl[MAX_ARGS];
static int argc;

static void cmdBegin(void) {
    arenaLen = 0;
    argc = 0;
}

static void argBytes(const char *p, size_t len) {
    if (argc == MAX_ARGS || arenaLen + len > sizeof(arena)) {
        fprintf(stderr, "gen: command too large\n");
        exit(1);
    }
    memcpy(arena + arenaLen, p, len);
    argp[argc] = arena + arenaLen;
    argl[argc++] = len;
    arenaLen += len;
}

static void argStr(const char *s) { argBytes(s, strlen(s)); }

static void argFmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void argFmt(const char *fmt, ...) {
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    argBytes(buf, (size_t)n);
}

static void argInt(int64_t v) { argFmt("%" PRId64, v); }

static void cmdEnd(void) {
    printf("*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        printf("$%zu\r\n", argl[i]);
        fwrite(argp[i], 1, argl[i], stdout);
        fputs("\r\n", stdout);
    }
}

/* ---- Value shapes ---- */

static void argRandomText(size_t len) {
    static const char al[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char buf[256];
    if (len > sizeof(buf)) len = sizeof(buf);
    for (size_t i = 0; i < len; i++) buf[i] = al[rnd() % (sizeof(al) - 1)];
    argBytes(buf, len);
}

/* Repetitive text: LZF compresses it, so the dump carries compressed strings. */
static void argRepetitiveText(size_t len) {
    static const char *words[] = {"alpha ", "beta ", "gamma ", "delta ", "user:", "session=", "id="};
    char buf[32768];
    size_t n = 0;
    if (len > sizeof(buf)) len = sizeof(buf);
    while (n < len) {
        const char *w = words[rnd() % 7];
        size_t wl = strlen(w);
        if (wl > len - n) wl = len - n;
        memcpy(buf + n, w, wl);
        n += wl;
    }
    argBytes(buf, len);
}

/* A field or member: short text most of the time, an integer sometimes. */
static void argElement(void) {
    if (rnd() % 4 == 0) argInt((int64_t)(rnd() % 100000));
    else argRandomText(range(4, 16));
}

/* ---- One generator per type ---- */

static void genString(uint64_t i) {
    cmdBegin();
    argStr("SET");
    argFmt("str:%" PRIu64, i);
    if (i % 100000 == 7) {
        argRepetitiveText(32768);
    } else {
        switch (rnd() % 3) {
        case 0: /* small and large integers, both int-encoded */
            argInt(rnd() % 2 ? (int64_t)(rnd() % 10000) : (int64_t)(rnd() >> 2) - (1LL << 60));
            break;
        case 1: argRandomText(range(5, 20)); break;
        default:
            if (rnd() % 2) argRandomText(range(100, 200));
            else argRepetitiveText(range(100, 200));
        }
    }
    cmdEnd();
}

static void genHash(uint64_t i) {
    uint64_t n = rnd() % 200 == 0 ? range(200, 1000) : range(2, 16);
    cmdBegin();
    argStr("HSET");
    argFmt("hash:%" PRIu64, i);
    for (uint64_t f = 0; f < n; f++) {
        argFmt("field:%" PRIu64, f);
        argElement();
    }
    cmdEnd();
}

static void genList(uint64_t i) {
    uint64_t n = rnd() % 500 == 0 ? range(500, 3000) : range(2, 30);
    cmdBegin();
    argStr("RPUSH");
    argFmt("list:%" PRIu64, i);
    for (uint64_t e = 0; e < n; e++) argElement();
    cmdEnd();
}

static void genSet(uint64_t i) {
    uint64_t kind = rnd() % 200;
    cmdBegin();
    argStr("SADD");
    argFmt("set:%" PRIu64, i);
    if (kind == 0) { /* over set-max-intset-entries: a hashtable of integers */
        uint64_t n = range(600, 1200);
        for (uint64_t e = 0; e < n; e++) argInt((int64_t)e * 7);
    } else if (kind % 2) {
        uint64_t n = range(2, 50);
        for (uint64_t e = 0; e < n; e++) argInt((int64_t)(rnd() % 1000000));
    } else {
        uint64_t n = range(2, 30);
        for (uint64_t e = 0; e < n; e++) argRandomText(range(4, 16));
    }
    cmdEnd();
}

static void genZset(uint64_t i) {
    uint64_t n = rnd() % 100 == 0 ? range(200, 1000) : range(2, 30);
    cmdBegin();
    argStr("ZADD");
    argFmt("zset:%" PRIu64, i);
    for (uint64_t e = 0; e < n; e++) {
        if (rnd() % 2) argInt((int64_t)(rnd() % 100000));
        else argFmt("%.3f", (double)(rnd() % 10000000) / 1000.0);
        argFmt("m%" PRIu64, e);
    }
    cmdEnd();
}

static void genStream(uint64_t i) {
    char key[64];
    snprintf(key, sizeof(key), "stream:%" PRIu64, i);
    uint64_t n = range(1, 10);
    for (uint64_t e = 0; e < n; e++) {
        cmdBegin();
        argStr("XADD");
        argStr(key);
        argFmt("%" PRIu64 "-%" PRIu64, (uint64_t)1700000000000 + i, e + 1);
        argStr("sensor");
        argInt((int64_t)(rnd() % 1000));
        argStr("note");
        argRandomText(range(5, 30));
        cmdEnd();
    }
    if (rnd() % 10 != 0) return;
    cmdBegin();
    argStr("XGROUP"); argStr("CREATE"); argStr(key); argStr("g1"); argStr("0");
    cmdEnd();
    cmdBegin();
    argStr("XREADGROUP"); argStr("GROUP"); argStr("g1"); argStr("c1");
    argStr("COUNT"); argStr("2"); argStr("STREAMS"); argStr(key); argStr(">");
    cmdEnd();
}

static void genExpire(uint64_t i, const char *prefix) {
    cmdBegin();
    argStr("PEXPIREAT");
    argFmt("%s:%" PRIu64, prefix, i);
    argInt(EXPIRE_BASE_MS + (int64_t)(rnd() % 86400000));
    cmdEnd();
}

int main(int argc_, char **argv) {
    if (argc_ < 2) {
        fprintf(stderr, "usage: gen NKEYS [SEED] > out.resp\n");
        return 2;
    }
    uint64_t nkeys = strtoull(argv[1], NULL, 10);
    rngState = argc_ > 2 ? strtoull(argv[2], NULL, 10) : 1;
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

    for (uint64_t i = 0; i < nkeys; i++) {
        uint64_t r = rnd() % 100;
        const char *prefix;
        if (r < 62) { genString(i); prefix = "str"; }
        else if (r < 72) { genHash(i); prefix = "hash"; }
        else if (r < 82) { genList(i); prefix = "list"; }
        else if (r < 90) { genSet(i); prefix = "set"; }
        else if (r < 98) { genZset(i); prefix = "zset"; }
        else { genStream(i); prefix = "stream"; }
        if (rnd() % 5 == 0) genExpire(i, prefix);
    }
    if (fflush(stdout) != 0) {
        perror("gen: write");
        return 1;
    }
    return 0;
}

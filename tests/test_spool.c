/* test_spool.c -- the memory-then-disk FIFO between link and apply threads.
 *
 * Memory only; memory then file and back to memory once the reader has
 * drained the file (the file is unlinked: the spool dir stays empty);
 * reference counts from two threads (ASan reports a leak or a use after
 * free, /proc/self/fd a leaked file); sticky errors (a spool dir that does
 * not exist, a file capped by RLIMIT_FSIZE); end of stream after the rest;
 * spoolReadTimed's timeout and spoolWake; and two threads pushing tens of
 * MB of a position-keyed byte stream in random sizes through a small memory
 * limit, every byte checked.
 *
 * The writer must never wait for the reader's disk I/O: pread is wrapped
 * here (the executable's definition wins over libc's) so that a test can
 * make the reader's file read take 1.5 s and time the writer meanwhile.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "src/spool.h"
#include "tests/test.h"

/* ---- a slow pread on demand ---- */

static volatile int slow_pread_ms;  /* > 0: the next preads sleep that long */
static volatile int in_pread;       /* a slowed pread is sleeping */

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
    if (slow_pread_ms > 0) {
        in_pread = 1;
        usleep((useconds_t)slow_pread_ms * 1000);
    }
    ssize_t r = syscall(SYS_pread64, fd, buf, n, off);
    in_pread = 0;
    return r;
}

/* ---- helpers ---- */

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Byte i of the test stream: the same whatever the chunking. */
static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void streamFill(unsigned char *p, uint64_t pos, size_t n) {
    for (size_t i = 0; i < n; i++, pos++) p[i] = (unsigned char)(mix(pos >> 3) >> ((pos & 7) * 8));
}

/* Offset of the first byte of p that differs from the stream, or n. */
static size_t streamCheck(const unsigned char *p, uint64_t pos, size_t n) {
    unsigned char want[4096];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof(want) ? n - done : sizeof(want);
        streamFill(want, pos + done, k);
        for (size_t i = 0; i < k; i++)
            if (p[done + i] != want[i]) return done + i;
        done += k;
    }
    return n;
}

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int countDir(const char *path) {
    DIR *d = opendir(path);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int openFds(void) { return countDir("/proc/self/fd"); }

/* Put n stream bytes starting at *pos; 0 or -1. */
static int putStream(spool *s, uint64_t *pos, size_t n) {
    unsigned char *b = malloc(n ? n : 1);
    streamFill(b, *pos, n);
    int rc = spoolPut(s, b, n);
    free(b);
    if (rc == 0) *pos += n;
    return rc;
}

/* Read exactly n bytes and check them against the stream at *pos. */
static int readStream(spool *s, uint64_t *pos, size_t n, char *err, size_t errlen) {
    unsigned char buf[65536];
    while (n) {
        ssize_t r = spoolReadTimed(s, buf, n < sizeof(buf) ? n : sizeof(buf), 5000, err, errlen);
        if (r <= 0) {
            if (r != -1) snprintf(err, errlen, "read returned %zd with %zu bytes to go", r, n);
            return -1;
        }
        size_t bad = streamCheck(buf, *pos, (size_t)r);
        if (bad < (size_t)r) {
            snprintf(err, errlen, "byte %llu differs", (unsigned long long)(*pos + bad));
            return -1;
        }
        *pos += (uint64_t)r;
        n -= (size_t)r;
    }
    return 0;
}

static char dir[64];

/* ---- tests ---- */

static void testMemoryOnly(void) {
    TEST("spool.memory_only") {
        spool *s = spoolNew(1 << 20, dir);
        uint64_t wpos = 0, rpos = 0;
        char err[512] = "";
        /* Sizes across the 256 KiB chunk boundary. */
        CHECK_EQ_INT(0, putStream(s, &wpos, 1));
        CHECK_EQ_INT(0, putStream(s, &wpos, 300000));
        CHECK_EQ_INT(0, putStream(s, &wpos, 0));
        CHECK_EQ_INT(0, putStream(s, &wpos, 400000));
        CHECK_EQ_UINT(700001, spoolWritten(s));
        CHECK_EQ_UINT(0, spoolOnDisk(s));
        CHECK_EQ_INT(0, countDir(dir));
        if (!CHECK_EQ_INT(0, readStream(s, &rpos, 700001, err, sizeof(err)))) {
            CHECK_EQ_STR("", err);
        }
        CHECK_EQ_UINT(700001, spoolConsumed(s));
        CHECK_EQ_INT(-2, spoolReadTimed(s, err, 1, 0, err, sizeof(err)));
        spoolFree(s);
    }
}

static void testMemoryThenFile(void) {
    TEST("spool.memory_then_file_then_memory") {
        int fds = openFds();
        spool *s = spoolNew(64 * 1024, dir);
        uint64_t wpos = 0, rpos = 0;
        char err[512] = "";
        CHECK_EQ_INT(0, putStream(s, &wpos, 60000));      /* memory */
        CHECK_EQ_UINT(0, spoolOnDisk(s));
        CHECK_EQ_INT(0, putStream(s, &wpos, 10000));      /* no room: file */
        CHECK_EQ_UINT(10000, spoolOnDisk(s));
        CHECK_EQ_INT(0, countDir(dir));                   /* unlinked */
        CHECK_EQ_INT(fds + 1, openFds());
        CHECK_EQ_INT(0, readStream(s, &rpos, 60000, err, sizeof(err))); /* memory drained */
        /* The file still holds unread bytes: new ones follow them there,
         * although memory is empty now. */
        CHECK_EQ_INT(0, putStream(s, &wpos, 100));
        CHECK_EQ_UINT(10100, spoolOnDisk(s));
        CHECK_EQ_INT(0, readStream(s, &rpos, 5000, err, sizeof(err)));
        CHECK_EQ_UINT(5100, spoolOnDisk(s));
        CHECK_EQ_INT(0, putStream(s, &wpos, 7));
        CHECK_EQ_INT(0, readStream(s, &rpos, 5107, err, sizeof(err)));
        CHECK_EQ_UINT(0, spoolOnDisk(s));
        /* Drained: memory takes new bytes again, the file is kept (empty)
         * for the next spill. */
        CHECK_EQ_INT(0, putStream(s, &wpos, 30000));
        CHECK_EQ_UINT(0, spoolOnDisk(s));
        CHECK_EQ_INT(fds + 1, openFds());
        /* A put bigger than the memory limit goes to the file whole, even
         * with memory holding bytes before it. */
        CHECK_EQ_INT(0, putStream(s, &wpos, 200000));
        CHECK_EQ_UINT(200000, spoolOnDisk(s));
        CHECK_EQ_INT(fds + 1, openFds());                 /* the same file again */
        CHECK_EQ_INT(0, readStream(s, &rpos, 230000, err, sizeof(err)));
        CHECK_EQ_UINT(0, spoolOnDisk(s));
        CHECK_EQ_UINT(wpos, spoolWritten(s));
        CHECK_EQ_UINT(rpos, spoolConsumed(s));
        CHECK_EQ_STR("", err);
        spoolFree(s);
        CHECK_EQ_INT(fds, openFds());                     /* file closed */
        CHECK_EQ_INT(0, countDir(dir));
    }
}

static void testCloseEof(void) {
    TEST("spool.close_gives_eof_after_the_rest") {
        spool *s = spoolNew(16, dir);
        char buf[64], err[512] = "";
        CHECK_EQ_INT(0, spoolPut(s, "0123456789", 10));
        CHECK_EQ_INT(0, spoolPut(s, "abcdefghijklmnopqrstuvwxyz", 26)); /* file */
        spoolClose(s);
        CHECK_EQ_INT(10, spoolRead(s, buf, sizeof(buf), err, sizeof(err)));
        CHECK_EQ_MEM("0123456789", 10, buf, 10);
        CHECK_EQ_INT(20, spoolRead(s, buf, 20, err, sizeof(err)));
        CHECK_EQ_INT(6, spoolRead(s, buf + 20, sizeof(buf), err, sizeof(err)));
        CHECK_EQ_MEM("abcdefghijklmnopqrstuvwxyz", 26, buf, 26);
        CHECK_EQ_INT(0, spoolRead(s, buf, sizeof(buf), err, sizeof(err)));
        CHECK_EQ_INT(0, spoolReadTimed(s, buf, sizeof(buf), 0, err, sizeof(err)));
        spoolFree(s);
    }
}

/* ---- reference counts ---- */

typedef struct refArgs {
    spool *s;
    size_t n;
} refArgs;

static void *refWriter(void *p) {
    refArgs *a = p;
    uint64_t pos = 0;
    while (pos < a->n) putStream(a->s, &pos, 777);
    spoolClose(a->s);
    spoolFree(a->s); /* the writer's reference */
    return NULL;
}

static void testRefs(void) {
    TEST("spool.refs_reader_frees_last") {
        int fds = openFds();
        spool *s = spoolNew(4096, dir);
        refArgs a = {spoolRetain(s), 777 * 200};
        pthread_t t;
        pthread_create(&t, NULL, refWriter, &a);
        uint64_t pos = 0;
        char err[512] = "";
        CHECK_EQ_INT(0, readStream(s, &pos, a.n, err, sizeof(err)));
        CHECK_EQ_STR("", err);
        CHECK_EQ_INT(0, spoolRead(s, err, 1, err, sizeof(err)));
        pthread_join(t, NULL);
        spoolFree(s); /* last: frees */
        CHECK_EQ_INT(fds, openFds());
    }
    TEST("spool.refs_writer_frees_last") {
        /* The apply side gives up early (its reference goes first) while
         * the link thread still writes, through memory and file. */
        int fds = openFds();
        spool *s = spoolNew(4096, dir);
        refArgs a = {spoolRetain(s), 777 * 200};
        char buf[100], err[512] = "";
        CHECK(spoolReadTimed(s, buf, sizeof(buf), 0, err, sizeof(err)) == -2);
        spoolFree(s);
        pthread_t t;
        pthread_create(&t, NULL, refWriter, &a);
        pthread_join(t, NULL);
        CHECK_EQ_INT(fds, openFds());
    }
    TEST("spool.refs_many") {
        spool *s = spoolNew(0, NULL); /* defaults: 64 MiB, /tmp */
        for (int i = 0; i < 10; i++) CHECK(spoolRetain(s) == s);
        for (int i = 0; i < 11; i++) spoolFree(s);
        spoolFree(NULL);
    }
}

/* ---- errors ---- */

static void testErrors(void) {
    TEST("spool.error_no_dir_is_sticky") {
        spool *s = spoolNew(100, "/nonexistent-rdbsync-test/spool");
        char buf[256] = "", err[512] = "";
        CHECK_EQ_INT(0, spoolPut(s, "hello", 5));          /* memory: fine */
        CHECK_EQ_INT(-1, spoolPut(s, buf, 200));           /* needs the file */
        CHECK_EQ_INT(-1, spoolPut(s, "x", 1));             /* sticky, even for memory */
        CHECK_EQ_UINT(5, spoolWritten(s));
        CHECK_EQ_INT(-1, spoolRead(s, buf, sizeof(buf), err, sizeof(err)));
        CHECK_EQ_STR("cannot create a spool file in /nonexistent-rdbsync-test/spool: No such file or directory", err);
        err[0] = '\0';
        CHECK_EQ_INT(-1, spoolReadTimed(s, buf, sizeof(buf), 0, err, sizeof(err)));
        CHECK(strstr(err, "No such file or directory") != NULL);
        spoolFree(s);
    }
    TEST("spool.error_file_too_large") {
        struct rlimit old, lim;
        getrlimit(RLIMIT_FSIZE, &old);
        lim = old;
        lim.rlim_cur = 64 * 1024;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of a signal */
        if (setrlimit(RLIMIT_FSIZE, &lim) < 0) {
            signal(SIGXFSZ, prev);
            TEST_SKIP("cannot set RLIMIT_FSIZE");
        }
        spool *s = spoolNew(1000, dir);
        uint64_t wpos = 0;
        char buf[256], err[512] = "";
        CHECK_EQ_INT(0, putStream(s, &wpos, 50000));       /* file, within the cap */
        CHECK_EQ_INT(-1, putStream(s, &wpos, 50000));      /* crosses it */
        setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, prev);
        CHECK_EQ_INT(-1, putStream(s, &wpos, 10));         /* sticky */
        CHECK_EQ_UINT(50000, spoolWritten(s));
        CHECK_EQ_INT(-1, spoolRead(s, buf, sizeof(buf), err, sizeof(err)));
        CHECK_EQ_STR(test_fmt("cannot write the spool file in %s: File too large", dir), err);
        spoolFree(s);
    }
}

/* ---- waiting ---- */

static void *wakeLater(void *p) {
    usleep(150 * 1000);
    spoolWake(p);
    return NULL;
}

static void testTimedWake(void) {
    TEST("spool.read_timed_times_out") {
        spool *s = spoolNew(0, dir);
        char buf[16], err[512] = "";
        long long t0 = nowMs();
        CHECK_EQ_INT(-2, spoolReadTimed(s, buf, sizeof(buf), 100, err, sizeof(err)));
        long long took = nowMs() - t0;
        CHECK(took >= 90 && took < 3000);
        CHECK_EQ_INT(-2, spoolReadTimed(s, buf, sizeof(buf), 0, err, sizeof(err)));
        CHECK_EQ_STR("", err);
        spoolFree(s);
    }
    TEST("spool.wake_ends_a_wait") {
        spool *s = spoolNew(0, dir);
        char buf[16], err[512] = "";
        pthread_t t;
        pthread_create(&t, NULL, wakeLater, s);
        long long t0 = nowMs();
        CHECK_EQ_INT(-2, spoolReadTimed(s, buf, sizeof(buf), 20000, err, sizeof(err)));
        CHECK(nowMs() - t0 < 10000);
        pthread_join(t, NULL);
        /* spoolRead (no timeout) calls the wake an interruption. */
        pthread_create(&t, NULL, wakeLater, s);
        CHECK_EQ_INT(-1, spoolRead(s, buf, sizeof(buf), err, sizeof(err)));
        CHECK_EQ_STR("interrupted", err);
        pthread_join(t, NULL);
        /* A wake before the read is not lost; it is used once. */
        spoolWake(s);
        CHECK_EQ_INT(-2, spoolReadTimed(s, buf, sizeof(buf), 20000, err, sizeof(err)));
        CHECK_EQ_INT(0, spoolPut(s, "ab", 2));
        CHECK_EQ_INT(2, spoolReadTimed(s, buf, sizeof(buf), 20000, err, sizeof(err)));
        spoolFree(s);
    }
}

/* ---- the writer does not wait for the reader's disk read ---- */

typedef struct slowArgs {
    spool *s;
    ssize_t got;
    unsigned char buf[4096];
} slowArgs;

static void *slowReader(void *p) {
    slowArgs *a = p;
    char err[512];
    a->got = spoolRead(a->s, a->buf, sizeof(a->buf), err, sizeof(err));
    return NULL;
}

static void testWriterNeverWaits(void) {
    TEST("spool.writer_does_not_wait_for_a_slow_disk_read") {
        spool *s = spoolNew(1024, dir);
        uint64_t wpos = 0, rpos = 0;
        char err[512] = "";
        CHECK_EQ_INT(0, putStream(s, &wpos, 100000)); /* all in the file */
        slowArgs a = {.s = s};
        slow_pread_ms = 1500;
        pthread_t t;
        pthread_create(&t, NULL, slowReader, &a);
        long long t0 = nowMs();
        while (!in_pread && nowMs() - t0 < 10000) usleep(1000);
        slow_pread_ms = 0; /* later preads (none yet) at full speed */
        CHECK(in_pread);
        /* The reader sleeps inside pread now; the old spool held its lock
         * there, so these puts (file, then counters) waited 1.5 s. */
        t0 = nowMs();
        for (int i = 0; i < 50; i++) CHECK_EQ_INT(0, putStream(s, &wpos, 2000));
        uint64_t disk = spoolOnDisk(s), written = spoolWritten(s);
        long long took = nowMs() - t0;
        int still = in_pread;
        pthread_join(t, NULL);
        CHECK(still);      /* the reader had not finished its read meanwhile */
        CHECK(took < 1000); /* and the writer did not wait for it */
        CHECK_EQ_UINT(200000, written);
        CHECK_EQ_UINT(200000, disk);
        CHECK_EQ_INT(4096, a.got);
        CHECK_EQ_UINT(4096, streamCheck(a.buf, 0, 4096));
        rpos = 4096;
        CHECK_EQ_INT(0, readStream(s, &rpos, 200000 - 4096, err, sizeof(err)));
        CHECK_EQ_STR("", err);
        CHECK_EQ_UINT(0, spoolOnDisk(s));
        spoolFree(s);
    }
}

/* ---- two threads, tens of MB ---- */

#define STREAM_BYTES (48u << 20)

typedef struct prodArgs {
    spool *s;
    volatile int done;
    long long done_at;
    int rc;
} prodArgs;

static void *producer(void *p) {
    prodArgs *a = p;
    uint64_t pos = 0, seed = 0x1234567887654321ULL;
    while (pos < STREAM_BYTES) {
        uint64_t r = rnd(&seed);
        size_t n;
        switch (r % 8) {
        case 0: n = 1 + (r >> 8) % 16; break;             /* tiny */
        case 1: n = 300 * 1024 + (r >> 8) % 4096; break;  /* more than mem_limit */
        default: n = 1 + (r >> 8) % (96 * 1024); break;
        }
        if (n > STREAM_BYTES - pos) n = STREAM_BYTES - pos;
        if ((a->rc = putStream(a->s, &pos, n)) < 0) break;
    }
    a->done_at = nowMs();
    a->done = 1;
    spoolClose(a->s);
    spoolFree(a->s);
    return NULL;
}

static void testConcurrent(void) {
    TEST("spool.concurrent_stream_checked") {
        spool *s = spoolNew(256 * 1024, dir);
        prodArgs a = {.s = spoolRetain(s)};
        pthread_t t;
        pthread_create(&t, NULL, producer, &a);
        uint64_t pos = 0, seed = 42, max_disk = 0;
        int waited = 0;
        size_t bad = 0;
        unsigned char *buf = malloc(512 * 1024);
        char err[512] = "";
        ssize_t n;
        long long slept_until = 0;
        while ((n = spoolRead(s, buf, 1 + rnd(&seed) % (512 * 1024), err, sizeof(err))) > 0) {
            if ((bad = streamCheck(buf, pos, (size_t)n)) < (size_t)n) break;
            pos += (uint64_t)n;
            uint64_t disk = spoolOnDisk(s);
            if (disk > max_disk) max_disk = disk;
            /* After 1 MB the reader stops: the producer must finish the
             * other 47 MB without it, i.e. it never blocks on the reader. */
            if (!waited && pos >= (1u << 20)) {
                waited = 1;
                long long t0 = nowMs();
                while (!a.done && nowMs() - t0 < 60000) usleep(10000);
                slept_until = nowMs();
            } else if (rnd(&seed) % 64 == 0) {
                usleep(2000); /* lag now and then: the file fills and drains */
            }
        }
        pthread_join(t, NULL);
        CHECK_EQ_INT(0, a.rc);
        CHECK(a.done && a.done_at <= slept_until);
        if (!CHECK_EQ_INT(0, n)) CHECK_EQ_STR("", err);
        if (n > 0) CHECK_EQ_STR("", test_fmt("byte %llu differs", (unsigned long long)(pos + bad)));
        CHECK_EQ_UINT(STREAM_BYTES, pos);
        CHECK_EQ_UINT(STREAM_BYTES, spoolWritten(s));
        CHECK_EQ_UINT(STREAM_BYTES, spoolConsumed(s));
        CHECK(max_disk > (40u << 20)); /* it spilled while the reader slept */
        CHECK_EQ_INT(0, countDir(dir));
        free(buf);
        spoolFree(s);
    }
}

int main(void) {
    snprintf(dir, sizeof(dir), "/tmp/test_spool-XXXXXX");
    if (!mkdtemp(dir)) {
        test_fail("spool.tmpdir", "mkdtemp: %s", strerror(errno));
        return test_report();
    }
    testMemoryOnly();
    testMemoryThenFile();
    testCloseEof();
    testRefs();
    testErrors();
    testTimedWake();
    testWriterNeverWaits();
    testConcurrent();
    test_cond("spool.dir_left_empty", countDir(dir) == 0);
    rmdir(dir);
    return test_report();
}

/* test_parallel.c -- framing plus worker threads against one thread.
 *
 * For every RDB in fixtures/gen (made by redis-server 7.0) and every crafted
 * file in fixtures/corrupt, the parallel decode (rdb/parallel.h, with 1, 2
 * and 3 workers) must succeed exactly when the sequential decoder does, give
 * the same digest when it does, and otherwise fail with the same message
 * as the sequential decoder (offset, db, key) whenever the fault lies
 * inside a value. Also: values bigger than a batch, and the earliest
 * failing key winning when several fail.
 */
#include <dirent.h>
#include <ftw.h>
#include <fcntl.h>
#include <unistd.h>

#include "rdb/digest.h"
#include "rdb/parallel.h"
#include "rdb/rdbfile.h"
#include "rdb/tee.h"
#include "tests/test.h"

typedef struct result {
    int ok;
    char err[800];
    char hex[2 * RDB_DIGEST_LEN + 1];
} result;

static void sequential(const char *path, result *out) {
    rdbDigest *dg = rdbDigestNew();
    rdbHandlers h;
    rdbDigestHandlers(dg, &h);
    rdbReader *r = rdbReaderFile(path);
    rdbDecoder *d = rdbDecoderNew(r, &h, NULL);
    out->ok = rdbDecode(d) == 0;
    snprintf(out->err, sizeof out->err, "%s", out->ok ? "" : rdbDecoderError(d));
    rdbDigestHex(dg, out->hex);
    rdbDecoderFree(d);
    rdbReaderFree(r);
    rdbDigestFree(dg);
}

/* Functions are hashed on the framing thread, into a digest of their own. */
static void parallel(const char *path, int nworkers, result *out) {
    rdbDigest *w[3], *fn = rdbDigestNew();
    rdbHandlers hw[3], hp, hf, h;
    for (int i = 0; i < nworkers; i++) {
        w[i] = rdbDigestNew();
        rdbDigestHandlers(w[i], &hw[i]);
    }
    rdbDigestHandlers(fn, &hf);
    hf = (rdbHandlers){.ctx = fn, .function = hf.function, .frame_only = 1};
    rdbParallel *p = rdbParallelNew(nworkers, hw);
    rdbParallelHandlers(p, &hp);
    rdbTee *t = rdbTeeNew(&hp, &hf);
    rdbTeeHandlers(t, &h);
    rdbReader *r = rdbReaderFile(path);
    rdbDecoder *d = rdbDecoderNew(r, &h, NULL);
    int rc = rdbDecode(d);
    if (rdbParallelFinish(p) < 0) {
        out->ok = 0;
        snprintf(out->err, sizeof out->err, "%s", rdbParallelError(p, NULL));
    } else {
        out->ok = rc == 0;
        snprintf(out->err, sizeof out->err, "%s", out->ok ? "" : rdbDecoderError(d));
    }
    for (int i = 0; i < nworkers; i++) rdbDigestMerge(fn, w[i]);
    rdbDigestHex(fn, out->hex);
    rdbDecoderFree(d);
    rdbReaderFree(r);
    rdbTeeFree(t);
    rdbParallelFree(p);
    for (int i = 0; i < nworkers; i++) rdbDigestFree(w[i]);
    rdbDigestFree(fn);
}

/* One file: 0 when both ways agree, else -1 with the difference in why. */
static int compareFile(const char *path, int nworkers, char *why, size_t whylen) {
    static result a, b;
    sequential(path, &a);
    parallel(path, nworkers, &b);
    if (a.ok != b.ok || (a.ok && strcmp(a.hex, b.hex) != 0) ||
        (!a.ok && strstr(a.err, "key '") && strcmp(a.err, b.err) != 0)) {
        snprintf(why, whylen, "%s: parallel %s '%s'; sequential %s '%s'", path,
                 b.ok ? b.hex : "fails", b.err, a.ok ? a.hex : "fails", a.err);
        return -1;
    }
    return 0;
}

/* Compare on every .rdb of dir; *files counts them. */
static int compareDir(const char *dir, int nworkers, int *files, char *why, size_t whylen) {
    DIR *dp = opendir(dir);
    struct dirent *e;
    if (!dp) return snprintf(why, whylen, "cannot open %s", dir), -1;
    while ((e = readdir(dp))) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 4, ".rdb") != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        (*files)++;
        if (compareFile(path, nworkers, why, whylen) < 0) {
            closedir(dp);
            return -1;
        }
    }
    closedir(dp);
    return 0;
}

/* The shared corpus (RDB files written by many Redis versions and tools),
 * walked with nftw: its callback has no context, hence these. */
static int g_files;
static char g_why[2000];

static int corpusFile(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    size_t n = strlen(path);
    if (flag != FTW_F || n < 4 || strcmp(path + n - 4, ".rdb") != 0) return 0;
    g_files++;
    return compareFile(path, 2, g_why, sizeof g_why) < 0 ? 1 : 0;
}

static void testSharedCorpus(void) {
    const char *shared = getenv("SHARED");
    char dir[4096];
    TEST("parallel.shared_corpus_same_verdict") {
        if (!shared || !*shared) TEST_SKIP("no ../shared/fixtures (SHARED unset)");
        snprintf(dir, sizeof dir, "%s/fixtures", shared);
        g_files = 0;
        int rc = nftw(dir, corpusFile, 16, FTW_PHYS);
        if (!CHECK_EQ_STR("", rc != 0 ? g_why : "")) continue;
        CHECK(g_files >= 100);
        printf("# %d shared RDB files, parallel == sequential\n", g_files);
    }
}

/* An RDB string: length prefix (6, 14 or 32 bit) and the bytes. */
static size_t rdbString(unsigned char *out, const unsigned char *p, size_t n) {
    size_t h;
    if (n < 64) out[0] = (unsigned char)n, h = 1;
    else if (n < 16384) out[0] = (unsigned char)(0x40 | n >> 8), out[1] = (unsigned char)n, h = 2;
    else out[0] = 0x80, out[1] = (unsigned char)(n >> 24), out[2] = (unsigned char)(n >> 16),
         out[3] = (unsigned char)(n >> 8), out[4] = (unsigned char)n, h = 5;
    memcpy(out + h, p, n);
    return h + n;
}

/* Strings around and bigger than a batch (256 KiB), and two corrupt hash
 * listpacks far apart (so in different batches, maybe on different workers):
 * the first one must be the error reported. */
static int writeCrafted(const char *path, int corrupt) {
    static unsigned char fill[1 << 20], val[(1 << 20) + 8];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    rdbFileWriter *w = rdbFileWriterNew(rdbWriteFd, &fd, 10, RDB_FLAVOUR_REDIS);
    for (size_t i = 0; i < sizeof fill; i++) fill[i] = (unsigned char)('a' + i * 7 % 26);
    for (int k = 0; k < 3000; k++) {
        char key[32];
        size_t n = k % 500 == 7 ? sizeof fill - (size_t)k : 10 + (size_t)k % 300;
        int type = RDB_TYPE_STRING;
        if (corrupt && (k == 100 || k == 2900)) type = RDB_TYPE_HASH_LISTPACK, n = 12;
        snprintf(key, sizeof key, "k%d", k);
        size_t len = rdbString(val, fill, n);
        rdbFileKey(w, type, key, strlen(key), k % 3 ? -1 : 4102444800000LL + k, val, len);
    }
    int rc = rdbFileFinish(w);
    rdbFileWriterFree(w);
    close(fd);
    return rc;
}

static void testCrafted(void) {
    char path[] = "/tmp/rdbsync-test-parallel-XXXXXX";
    int fd = mkstemp(path);
    static result a, b;
    if (fd >= 0) close(fd);
    for (int corrupt = 0; corrupt <= 1; corrupt++) {
        TEST(corrupt ? "parallel.first_failing_key_wins" : "parallel.values_bigger_than_a_batch") {
            if (!CHECK(fd >= 0 && writeCrafted(path, corrupt) == 0)) continue;
            sequential(path, &a);
            for (int nw = 1; nw <= 3; nw++) {
                parallel(path, nw, &b);
                if (!CHECK_EQ_INT(!corrupt, a.ok) || !CHECK_EQ_INT(a.ok, b.ok)) break;
                if (!CHECK_EQ_STR(a.ok ? a.hex : a.err, b.ok ? b.hex : b.err)) break;
            }
            if (corrupt) CHECK(strstr(a.err, "key 'k100'") != NULL);
        }
    }
    unlink(path);
}

int main(void) {
    const char *root = getenv("ROOT") ? getenv("ROOT") : ".";
    char why[2000], gen[4096], corrupt[4096];
    snprintf(gen, sizeof gen, "%s/fixtures/gen", root);
    snprintf(corrupt, sizeof corrupt, "%s/fixtures/corrupt", root);
    for (int nw = 1; nw <= 3; nw++) {
        int files = 0;
        TEST(test_fmt("parallel.fixtures_gen_same_digest.%d_workers", nw)) {
            int rc = compareDir(gen, nw, &files, why, sizeof why);
            if (!CHECK_EQ_STR("", rc < 0 ? why : "")) continue;
            CHECK(files >= 10);
        }
        files = 0;
        TEST(test_fmt("parallel.fixtures_corrupt_same_verdict.%d_workers", nw)) {
            int rc = compareDir(corrupt, nw, &files, why, sizeof why);
            if (!CHECK_EQ_STR("", rc < 0 ? why : "")) continue;
            CHECK(files >= 50);
        }
    }
    testCrafted();
    testSharedCorpus();
    return test_report();
}

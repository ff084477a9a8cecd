/* test_lzf.c -- our LZF decompressor against liblzf's, the reference.
 *
 * Valid streams come from liblzf's compressor over data of many shapes
 * (runs, short periods that make overlapping back-references, text, noise);
 * hostile ones from truncating and flipping bytes of those. For every input
 * both decompressors must agree: same length, same bytes, or both refuse.
 */
#include <lzf.h>

#include "rdb/lzf.h"
#include "tests/test.h"

static uint64_t rng = 12345;

static unsigned rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 20);
}

/* Data of a shape picked by 'kind'. */
static void fill(unsigned char *p, size_t n, int kind) {
    size_t period = 1 + rnd() % 12;
    for (size_t i = 0; i < n; i++) {
        switch (kind % 5) {
        case 0: p[i] = (unsigned char)rnd(); break;                        /* noise */
        case 1: p[i] = (unsigned char)('a' + i % period); break;           /* short period */
        case 2: p[i] = i % 97 < 50 ? 'x' : (unsigned char)rnd(); break;   /* runs and noise */
        case 3: p[i] = (unsigned char)"lorem ipsum dolor sit amet "[(i * 7 + i / 13) % 27]; break;
        default: p[i] = (unsigned char)(i < n / 2 ? 0 : rnd() % 4); break; /* zeros, small alphabet */
        }
    }
}

/* Both decompressors on one input; 1 when they agree. */
static int agree(const unsigned char *in, size_t inlen, size_t outlen) {
    static unsigned char a[70000 + RDB_LZF_SLACK], b[70000];
    unsigned ref = inlen ? lzf_decompress(in, (unsigned)inlen, b, (unsigned)outlen) : 0;
    size_t got = rdbLzfDecompress(in, inlen, a, outlen);
    if (got != ref || memcmp(a, b, ref) != 0) {
        printf("# inlen %zu outlen %zu: liblzf %u, ours %zu\n", inlen, outlen, ref, got);
        return 0;
    }
    return 1;
}

/* The pieces of rdbLzfDecompressChunks, gathered. */
typedef struct gather {
    unsigned char *out;
    size_t len, cap, max_piece;
} gather;

static int gatherPiece(void *ctx, const unsigned char *p, size_t len) {
    gather *g = ctx;
    if (len > g->max_piece) g->max_piece = len;
    if (g->len + len > g->cap) return 1;
    memcpy(g->out + g->len, p, len);
    g->len += len;
    return 0;
}

/* Whole and in pieces (of 'chunk' bytes) on one input: 1 when they agree
 * (both produce outlen bytes, the same ones, pieces within the bound; or
 * neither does). */
static int chunksAgree(const unsigned char *in, size_t inlen, size_t outlen, size_t chunk) {
    static unsigned char whole[70000 + RDB_LZF_SLACK], pieces[70000], win[RDB_LZF_WINDOW(4096)];
    gather g = {pieces, 0, sizeof pieces, 0};
    size_t got = rdbLzfDecompress(in, inlen, whole, outlen);
    int rc = rdbLzfDecompressChunks(in, inlen, outlen, win, chunk, gatherPiece, &g);
    int whole_ok = got == outlen && outlen > 0; /* 0 is the whole form's refusal */
    if (whole_ok != (rc == 0) || (rc == 0 && (g.len != outlen || memcmp(whole, pieces, outlen) != 0)) ||
        g.max_piece > chunk) {
        printf("# inlen %zu outlen %zu chunk %zu: whole %zu, pieces rc %d len %zu max %zu\n", inlen, outlen, chunk,
               got, rc, g.len, g.max_piece);
        return 0;
    }
    return 1;
}

int main(void) {
    static unsigned char data[65536], comp[70000];
    TEST("lzf.valid_streams_match_liblzf") {
        for (int i = 0; i < 3000; i++) {
            size_t n = 1 + rnd() % (i % 10 == 0 ? sizeof data : 600);
            fill(data, n, i);
            unsigned c = lzf_compress(data, (unsigned)n, comp, sizeof comp);
            if (!c) continue; /* incompressible beyond the buffer: not an LZF stream */
            size_t got;
            static unsigned char out[65536 + RDB_LZF_SLACK];
            got = rdbLzfDecompress(comp, c, out, n);
            if (!CHECK_EQ_UINT(n, got) || !CHECK(memcmp(out, data, n) == 0)) break;
            /* An output buffer one byte short must be refused, like liblzf does. */
            if (!CHECK(agree(comp, c, n - 1))) break;
        }
    }
    TEST("lzf.hostile_streams_agree_with_liblzf") {
        for (int i = 0; i < 20000; i++) {
            size_t n = 1 + rnd() % 2000;
            fill(data, n, i);
            unsigned c = lzf_compress(data, (unsigned)n, comp, sizeof comp);
            if (!c) continue;
            switch (i % 3) {
            case 0: c = 1 + rnd() % c; break;                                   /* truncated */
            case 1: comp[rnd() % c] ^= (unsigned char)(1 + rnd() % 255); break; /* flipped */
            default: for (unsigned k = 0; k < c; k++) comp[k] = (unsigned char)rnd(); /* noise */
            }
            if (!CHECK(agree(comp, c, n))) break;
        }
    }
    TEST("lzf.chunks_match_whole") {
        for (int i = 0; i < 2000; i++) {
            size_t n = 1 + rnd() % (i % 10 == 0 ? sizeof data : 3000);
            fill(data, n, i);
            unsigned c = lzf_compress(data, (unsigned)n, comp, sizeof comp);
            if (!c) continue;
            size_t chunk = i % 2 ? 1024 : 4096;
            if (!CHECK(chunksAgree(comp, c, n, chunk))) break;
            if (i % 3 == 0) comp[rnd() % c] ^= (unsigned char)(1 + rnd() % 255); /* hostile */
            else if (i % 3 == 1) c = 1 + rnd() % c;
            if (!CHECK(chunksAgree(comp, c, n, chunk)) || !CHECK(chunksAgree(comp, c, n - 1, chunk))) break;
        }
    }
    return test_report();
}

/* test_crc64.c -- every CRC-64 implementation against the definition.
 *
 * The reference here is the CRC written straight from its definition, one
 * bit at a time, so that a wrong table or a wrong slice order cannot hide
 * behind a matching check value. The folding paths (pclmul, vpclmul) are
 * checked against it and against the table path over every length up to
 * 2000, every start alignment in a cache line, chained calls and megabytes
 * of data; their fold constants against x^k mod P done by plain division.
 * Buffers are malloc'ed to their exact end so ASan sees any over-read.
 */
#include "rdb/crc64.h"
#include "tests/test.h"

#define POLY 0x95AC9329AC4BC9B5ULL

static uint64_t crcBitwise(uint64_t crc, const unsigned char *p, size_t len) {
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) crc = (crc & 1) ? (crc >> 1) ^ POLY : crc >> 1;
    }
    return crc;
}

/* Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
static void fill(unsigned char *p, size_t len, uint64_t seed) {
    uint64_t x = seed | 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

/* x^k mod P by long division in the normal (unreflected) form, then bit-
 * reversed into the reflected form the CRC register uses. */
#define POLY_NORMAL 0xAD93D23594C935A9ULL
static uint64_t xpowModPNormal(unsigned k) {
    uint64_t r = 1; /* x^0; bit j = coefficient of x^j */
    for (unsigned i = 0; i < k; i++) r = (r >> 63) ? (r << 1) ^ POLY_NORMAL : r << 1;
    return r;
}

static uint64_t reverse64(uint64_t v) {
    uint64_t r = 0;
    for (int i = 0; i < 64; i++) r |= ((v >> i) & 1) << (63 - i);
    return r;
}

static void testFoldConstants(void) {
    TEST("crc64.fold_constants_are_xk_mod_p") {
        unsigned exp, n = 0;
        uint64_t value;
        for (unsigned i = 0; crc64FoldConstant(i, &exp, &value) == 0; i++, n++) {
            if (!CHECK_EQ_UINT(reverse64(xpowModPNormal(exp)), value)) break;
            /* Also: the CRC of one 1 bit followed by zeros is that power. The
             * message 0x01 + m zero bytes is x^(8m+7); its CRC is that times x^64. */
            if (exp % 8 == 7 && exp >= 71) {
                size_t m = (exp - 71) / 8;
                unsigned char *z = calloc(m + 1, 1);
                z[0] = 1;
                int ok = CHECK_EQ_UINT(crcBitwise(0, z, m + 1), value);
                free(z);
                if (!ok) break;
            }
        }
        CHECK(n >= 4);
    }
}

/* A copy of data[0..len) at 'off' bytes past a 64-byte boundary, ending
 * exactly at the end of its allocation. */
static unsigned char *placed(const unsigned char *data, size_t len, size_t off, void **mem) {
    if (posix_memalign(mem, 64, off + len + (off + len == 0)) != 0) abort();
    memcpy((unsigned char *)*mem + off, data, len);
    return (unsigned char *)*mem + off;
}

static void testImpl(const char *name, crc64Fn *fn, const unsigned char *data, size_t big) {
    const char *why = fn ? NULL : "CPU or build lacks it";
    if (!fn) {
        test_skip(test_fmt("crc64.%s.lengths_0_2000", name), why);
        test_skip(test_fmt("crc64.%s.alignments_0_63", name), why);
        test_skip(test_fmt("crc64.%s.chained", name), why);
        test_skip(test_fmt("crc64.%s.random_4mb", name), why);
        return;
    }
    TEST(test_fmt("crc64.%s.lengths_0_2000", name)) {
        for (size_t len = 0; len <= 2000; len++) {
            void *mem;
            unsigned char *p = placed(data, len, 0, &mem);
            uint64_t seed = len * 0x9E3779B97F4A7C15ULL;
            int ok = CHECK_EQ_UINT(crcBitwise(0, p, len), fn(0, p, len)) &&
                     CHECK_EQ_UINT(crcBitwise(seed, p, len), fn(seed, p, len)) &&
                     CHECK_EQ_UINT(crc64Table(seed, p, len), fn(seed, p, len));
            free(mem);
            if (!ok) break;
        }
    }
    TEST(test_fmt("crc64.%s.alignments_0_63", name)) {
        int ok = 1;
        for (size_t off = 0; ok && off < 64; off++)
            for (size_t len = 0; ok && len <= 2000; len++) {
                void *mem;
                unsigned char *p = placed(data + off, len, off, &mem);
                ok = CHECK_EQ_UINT(crc64Table(off, p, len), fn(off, p, len));
                free(mem);
            }
        ok = ok && CHECK_EQ_UINT(crcBitwise(0, data + 5, 1999), fn(0, data + 5, 1999));
    }
    TEST(test_fmt("crc64.%s.chained", name)) {
        uint64_t x = 12345;
        for (int round = 0; round < 300; round++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t len = x % 20000, pos = 0;
            uint64_t c = 0;
            while (pos < len) { /* cut at random points, small and large pieces */
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                size_t piece = (x & 1) ? x % 300 : x % 5000;
                if (piece > len - pos) piece = len - pos;
                c = fn(c, data + pos, piece);
                pos += piece;
            }
            if (!CHECK_EQ_UINT(crc64Table(0, data, len), c)) break;
        }
    }
    TEST(test_fmt("crc64.%s.random_4mb", name)) {
        uint64_t want = crcBitwise(0, data, big);
        CHECK_EQ_UINT(want, fn(0, data, big));
        CHECK_EQ_UINT(want, crc64Table(0, data, big));
        CHECK_EQ_UINT(crcBitwise(7, data + 3, big - 3), fn(7, data + 3, big - 3));
    }
}

int main(void) {
    static unsigned char buf[4096 + 16];
    fill(buf, sizeof buf, 42);

    test_eq_uint("crc64.check_value", 0xe9c6d914c4b8d9caULL, crc64(0, "123456789", 9));
    test_eq_uint("crc64.empty", 0, crc64(0, "", 0));
    test_eq_uint("crc64.empty_keeps_crc", 0x1234, crc64(0x1234, NULL, 0));
    test_eq_uint("crc64.reference_check_value", 0xe9c6d914c4b8d9caULL,
                 crcBitwise(0, (const unsigned char *)"123456789", 9));

    TEST("crc64.matches_bitwise_lengths_0_1000") {
        for (size_t len = 0; len <= 1000; len++)
            if (!CHECK_EQ_UINT(crcBitwise(0, buf, len), crc64(0, buf, len))) break;
    }

    TEST("crc64.unaligned_starts") {
        for (size_t off = 0; off < 16; off++)
            for (size_t len = 0; len <= 300; len += 7)
                if (!CHECK_EQ_UINT(crcBitwise(0, buf + off, len), crc64(0, buf + off, len)))
                    goto out;
    out:;
    }

    TEST("crc64.incremental_equals_one_shot") {
        for (size_t len = 0; len <= 1000; len += 13) {
            uint64_t whole = crc64(0, buf, len);
            for (size_t cut = 0; cut <= len; cut++) {
                uint64_t c = crc64(crc64(0, buf, cut), buf + cut, len - cut);
                if (!CHECK_EQ_UINT(whole, c)) goto done;
            }
        }
    done:;
    }

    TEST("crc64.three_way_split") {
        size_t len = 1000;
        uint64_t whole = crc64(0, buf + 3, len);
        for (size_t i = 0; i < len; i += 37)
            for (size_t j = i; j < len; j += 41) {
                uint64_t c = crc64(0, buf + 3, i);
                c = crc64(c, buf + 3 + i, j - i);
                c = crc64(c, buf + 3 + j, len - j);
                if (!CHECK_EQ_UINT(whole, c)) goto end;
            }
    end:;
    }

    test_eq_uint("crc64.large_buffer", crcBitwise(0, buf + 1, 4096), crc64(0, buf + 1, 4096));
    test_eq_uint("crc64.nonzero_start", crcBitwise(0xdeadbeefcafef00dULL, buf, 777),
                 crc64(0xdeadbeefcafef00dULL, buf, 777));
    testFoldConstants();

    const char *impl = crc64ImplName();
    test_cond(test_fmt("crc64.dispatch_uses_%s", impl), crc64Impl(impl) != NULL);
    test_cond("crc64.table_is_exported", crc64Impl("table") == crc64Table);

    size_t big = 4u << 20;
    unsigned char *data = malloc(big);
    fill(data, big, 7);
    testImpl("dispatch", crc64, data, big);
    testImpl("table", crc64Table, data, big);
    testImpl("pclmul", crc64Impl("pclmul"), data, big);
    testImpl("vpclmul", crc64Impl("vpclmul"), data, big);
    free(data);
    return test_report();
}

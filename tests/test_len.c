/* test_len.c -- rdbLenAt (rdb/len.h): every length form of format.md 1.9
 * read from memory, string encoding bytes, invalid bytes, and lengths cut
 * by the buffer's end (exact-size copies: ASan sees any overread). */
#include <stdlib.h>
#include <string.h>

#include "rdb/encode.h"
#include "rdb/len.h"
#include "tests/test.h"

/* Read one length from a copy of exactly n bytes at offset at: the result,
 * *v, and where pos ends. */
static int lenOf(const unsigned char *bytes, size_t n, size_t at, uint64_t *v, size_t *end, int *special) {
    unsigned char *p = malloc(n ? n : 1);
    if (!p) return -2;
    memcpy(p, bytes, n);
    size_t pos = at;
    int rc = rdbLenAt(p, n, &pos, v, special);
    *end = pos;
    free(p);
    return rc;
}

#define READS(want, wantend, ...)                                                          \
    do {                                                                                    \
        static const unsigned char b_[] = {__VA_ARGS__};                                    \
        uint64_t v_ = 12345;                                                                \
        size_t e_ = 0;                                                                      \
        CHECK_EQ_INT(0, lenOf(b_, sizeof(b_), 0, &v_, &e_, NULL));                          \
        CHECK_EQ_UINT((unsigned long long)(want), v_);                                      \
        CHECK_EQ_UINT((unsigned long long)(wantend), e_);                                   \
    } while (0)

static void testForms(void) {
    TEST("len.6bit") {
        READS(0, 1, 0x00);
        READS(5, 1, 0x05);
        READS(63, 1, 0x3F);
    }
    TEST("len.14bit_big_endian") {
        READS(0x102, 2, 0x41, 0x02);
        READS(16383, 2, 0x7F, 0xFF);
        READS(64, 2, 0x40, 0x40);
    }
    TEST("len.32bit_big_endian") {
        READS(65536, 5, 0x80, 0x00, 0x01, 0x00, 0x00);
        READS(0xFFFFFFFFu, 5, 0x80, 0xFF, 0xFF, 0xFF, 0xFF);
    }
    TEST("len.64bit_big_endian") {
        READS(1ULL << 32, 9, 0x81, 0, 0, 0, 1, 0, 0, 0, 0);
        READS(UINT64_MAX, 9, 0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF);
    }
    TEST("len.at_offset") { /* read in the middle; the bytes after are left */
        static const unsigned char b[] = {0xAA, 0xBB, 0x41, 0x00, 0x07};
        uint64_t v;
        size_t end;
        CHECK_EQ_INT(0, lenOf(b, sizeof(b), 2, &v, &end, NULL));
        CHECK_EQ_UINT(256, v);
        CHECK_EQ_UINT(4, end);
    }
}

static void testSpecialAndInvalid(void) {
    TEST("len.encoding_byte") {
        static const unsigned char b[] = {0xC3};
        uint64_t v = 99;
        size_t end;
        int special = -1;
        CHECK_EQ_INT(0, lenOf(b, 1, 0, &v, &end, &special));
        CHECK_EQ_INT(1, special);
        CHECK_EQ_UINT(3, v); /* RDB_ENC_LZF */
        CHECK_EQ_UINT(1, end);
        v = 99;
        CHECK_EQ_INT(-1, lenOf(b, 1, 0, &v, &end, NULL)); /* a length was expected */
        CHECK_EQ_UINT(0, end);
        CHECK_EQ_UINT(99, v);
    }
    TEST("len.not_special") {
        static const unsigned char b[] = {0x05};
        uint64_t v;
        size_t end;
        int special = -1;
        CHECK_EQ_INT(0, lenOf(b, 1, 0, &v, &end, &special));
        CHECK_EQ_INT(0, special);
    }
    TEST("len.invalid_bytes") { /* 0x82-0xBF: no length form in 4.0+ */
        for (unsigned c = 0x82; c <= 0xBF; c++) {
            unsigned char b[9] = {(unsigned char)c};
            uint64_t v;
            size_t end;
            int special;
            CHECK_EQ_INT(-1, lenOf(b, sizeof(b), 0, &v, &end, &special));
            CHECK_EQ_UINT(0, end);
        }
    }
    TEST("len.empty") {
        uint64_t v;
        size_t end;
        CHECK_EQ_INT(-1, lenOf((const unsigned char *)"", 0, 0, &v, &end, NULL));
        static const unsigned char b[] = {0x05};
        CHECK_EQ_INT(-1, lenOf(b, 1, 1, &v, &end, NULL)); /* pos at the end */
        CHECK_EQ_UINT(1, end);
    }
    TEST("len.truncated") { /* every form cut short: -1, pos unchanged, no overread */
        static const unsigned char forms[][9] = {{0x41, 0x02}, {0x80, 1, 2, 3, 4}, {0x81, 1, 2, 3, 4, 5, 6, 7, 8}};
        static const size_t sizes[] = {2, 5, 9};
        for (int f = 0; f < 3; f++)
            for (size_t n = 1; n < sizes[f]; n++) {
                uint64_t v;
                size_t end = 7;
                CHECK_EQ_INT(-1, lenOf(forms[f], n, 0, &v, &end, NULL));
                CHECK_EQ_UINT(0, end);
            }
    }
}

/* What rdbWriteLen writes, rdbLenAt reads back, to the byte. */
static void testRoundTrip(void) {
    static const uint64_t values[] = {0, 1, 63, 64, 16383, 16384, 65535, 0xFFFFFFFFull, 0x100000000ull, UINT64_MAX};
    TEST("len.roundtrip_rdbWriteLen") {
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            rdbBuf b = RDB_BUF_INIT;
            if (!CHECK_EQ_INT(0, rdbWriteLen(&b, values[i]))) continue;
            uint64_t v;
            size_t end;
            CHECK_EQ_INT(0, lenOf(b.p, b.len, 0, &v, &end, NULL));
            CHECK_EQ_UINT(values[i], v);
            CHECK_EQ_UINT(b.len, end);
            rdbBufFree(&b);
        }
    }
}

int main(void) {
    testForms();
    testSpecialAndInvalid();
    testRoundTrip();
    return test_report();
}

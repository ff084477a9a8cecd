/* test_crc64.c -- the table-driven CRC-64 against the definition.
 *
 * The reference here is the CRC written straight from its definition, one
 * bit at a time, so that a wrong table or a wrong slice order cannot hide
 * behind a matching check value.
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
    return test_report();
}

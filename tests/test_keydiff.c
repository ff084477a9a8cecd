/* test_keydiff.c -- which part of a Redis 8.6 stream v4 differs (keydiff.h):
 * its IDMP records are compared (the digest holds them), its IDMP settings
 * are not (the digest leaves them out). The stream is the crafted payload
 * tests/fuzz/corpus/dump_stream4_v13.bin (fixtures/craft.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdb/crc64.h"
#include "src/keydiff.h"
#include "tests/test.h"

static size_t readFile(const char *path, unsigned char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* Replace the first occurrence of 'from' by 'to' (same length) and fix the
 * payload's CRC-64 footer. */
static int patch(unsigned char *p, size_t n, const char *from, const char *to, size_t len) {
    for (size_t i = 0; i + len <= n - 8; i++) {
        if (memcmp(p + i, from, len)) continue;
        memcpy(p + i, to, len);
        uint64_t crc = crc64(0, p, n - 8);
        for (int j = 0; j < 8; j++) p[n - 8 + j] = (unsigned char)(crc >> (8 * j));
        return 0;
    }
    return -1;
}

int main(void) {
    unsigned char a[4096], b[4096];
    size_t n = readFile("tests/fuzz/corpus/dump_stream4_v13.bin", a, sizeof a);
    char what[512], err[256];
    scanItem ia = {0, "st", 2, a, n, -1}, ib = {0, "st", 2, b, n, -1};
    TEST("keydiff.idmp_record_named") {
        if (!CHECK(n > 0)) continue;
        memcpy(b, a, n);
        CHECK_EQ_INT(0, patch(b, n, "iid-b", "iid-c", 5));
        CHECK_EQ_INT(KEYDIFF_DIFFER, keydiffCompare(&ia, &ib, what, sizeof what, err, sizeof err));
        CHECK(strstr(what, "IDMP record 'p1' 'iid-b'") != NULL);
    }
    TEST("keydiff.idmp_record_id") {
        if (!CHECK(n > 0)) continue;
        memcpy(b, a, n);
        /* p2's record: iid-a -> 1000-1; make its seq 2 (len 1000 is 0x43 0xe8). */
        CHECK_EQ_INT(0, patch(b, n, "\x02p2\x01\x05iid-a\x43\xe8\x01", "\x02p2\x01\x05iid-a\x43\xe8\x02", 13));
        CHECK_EQ_INT(KEYDIFF_DIFFER, keydiffCompare(&ia, &ib, what, sizeof what, err, sizeof err));
        CHECK(strstr(what, "IDMP record 'p2' 'iid-a'") != NULL);
        CHECK(strstr(what, "1000-1 on the source, 1000-2 on the target") != NULL);
    }
    TEST("keydiff.idmp_settings_not_compared") {
        if (!CHECK(n > 0)) continue;
        memcpy(b, a, n);
        /* The settings follow the groups: duration 100 (0x40 0x64), max
         * entries 100, 2 producers; make the duration 101. */
        CHECK_EQ_INT(0, patch(b, n, "\x40\x64\x40\x64\x02\x02p1", "\x40\x65\x40\x64\x02\x02p1", 8));
        CHECK_EQ_INT(KEYDIFF_EQUAL, keydiffCompare(&ia, &ib, what, sizeof what, err, sizeof err));
    }
    return test_report();
}

/* len.c -- an RDB length read from memory (see len.h). */
#include "len.h"

#include "rdb.h"

int rdbLenAt(const unsigned char *p, size_t n, size_t *pos, uint64_t *v, int *special) {
    if (special) *special = 0;
    if (*pos >= n) return -1;
    unsigned char b = p[*pos];
    size_t w; /* bytes after the first */
    if (b >> 6 == RDB_ENCVAL) {
        if (!special) return -1;
        *special = 1;
        w = 0;
    } else {
        w = b >> 6 == RDB_6BITLEN ? 0 : b >> 6 == RDB_14BITLEN ? 1 : b == RDB_32BITLEN ? 4 : b == RDB_64BITLEN ? 8 : 9;
    }
    if (w == 9 || n - *pos - 1 < w) return -1;
    uint64_t x = w <= 1 ? b & 0x3F : 0;
    for (size_t i = 0; i < w; i++) x = x << 8 | p[*pos + 1 + i];
    *v = x;
    *pos += 1 + w;
    return 0;
}

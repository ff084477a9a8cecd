/* resp.c -- a command in RESP, formatted with no printf (see resp.h). */
#include "resp.h"

#include <string.h>

static size_t digits(uint64_t v) {
    size_t n = 1;
    while (v >= 10) v /= 10, n++;
    return n;
}

static size_t writeU64(char *out, uint64_t v) {
    size_t n = digits(v);
    for (size_t i = n; i > 0; i--, v /= 10) out[i - 1] = (char)('0' + v % 10);
    return n;
}

size_t respI64(char *out, int64_t v) {
    if (v >= 0) return writeU64(out, (uint64_t)v);
    out[0] = '-';
    return 1 + writeU64(out + 1, (uint64_t)0 - (uint64_t)v);
}

size_t respCommandLen(int argc, const size_t *lens) {
    size_t n = 1 + digits((uint64_t)argc) + 2; /* *argc\r\n */
    for (int i = 0; i < argc; i++) n += 1 + digits(lens[i]) + 2 + lens[i] + 2; /* $len\r\n arg\r\n */
    return n;
}

size_t respFormat(char *out, int argc, const char **argv, const size_t *lens) {
    char *p = out;
    *p++ = '*';
    p += writeU64(p, (uint64_t)argc);
    *p++ = '\r', *p++ = '\n';
    for (int i = 0; i < argc; i++) {
        *p++ = '$';
        p += writeU64(p, lens[i]);
        *p++ = '\r', *p++ = '\n';
        memcpy(p, argv[i], lens[i]);
        p += lens[i];
        *p++ = '\r', *p++ = '\n';
    }
    return (size_t)(p - out);
}

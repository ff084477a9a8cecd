/* blob.c -- validated iterators over ziplist, listpack, intset and zipmap.
 * Layouts: format.md 2.5. Multi-byte integers are little endian except the
 * ziplist 14/32-bit string lengths, which are big endian. */
#include "blob.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                             \
    do {                                      \
        snprintf(err, errlen, __VA_ARGS__);   \
        return -1;                            \
    } while (0)

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t le64(const unsigned char *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Sign-extend the low 'bits' of u. */
static long long sext(uint64_t u, unsigned bits) {
    uint64_t m = 1ULL << (bits - 1);
    u &= (bits == 64) ? ~0ULL : ((1ULL << bits) - 1);
    return (long long)((u ^ m) - m);
}

size_t rdbElemText(const rdbElem *e, char *buf, const char **p) {
    if (!e->is_int) {
        *p = (const char *)e->p;
        return e->len;
    }
    *p = buf;
    return rdbFmtLL(buf, e->v);
}

/* Two digits per division: the decoder formats every integer-encoded
 * element (intsets, listpack ints) as text for its consumers, and a
 * division per digit showed in profiles. */
static const char digitPairs[] = "00010203040506070809101112131415161718192021222324"
                                 "25262728293031323334353637383940414243444546474849"
                                 "50515253545556575859606162636465666768697071727374"
                                 "75767778798081828384858687888990919293949596979899";

size_t rdbFmtLL(char *buf, long long v) {
    /* Work on the magnitude as unsigned so LLONG_MIN does not overflow. */
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    size_t o = v < 0, n = 1;
    if (v < 0) buf[0] = '-';
    static const unsigned long long p10[] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
        10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL};
    while (n < 20 && u >= p10[n]) n++; /* the digits, so that they are written in place */
    char *p = buf + o + n;
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        *--p = digitPairs[d + 1];
        *--p = digitPairs[d];
    }
    if (u >= 10) {
        *--p = digitPairs[u * 2 + 1];
        *--p = digitPairs[u * 2];
    } else {
        *--p = (char)('0' + u);
    }
    return o + n;
}

static void setInt(rdbElem *e, long long v) {
    e->is_int = 1;
    e->v = v;
    e->p = NULL;
    e->len = 0;
}

static void setStr(rdbElem *e, const unsigned char *p, size_t len) {
    e->is_int = 0;
    e->p = p;
    e->len = len;
}

/* ---- Ziplist ---- */

int rdbZiplistInit(rdbBlobIter *it, const unsigned char *b, size_t len, char *err, size_t errlen) {
    memset(it, 0, sizeof(*it));
    if (len < 11) FAIL("ziplist of %zu bytes is shorter than its header", len);
    if (le32(b) != len) FAIL("ziplist header says %u bytes, blob has %zu", le32(b), len);
    if (b[len - 1] != 0xFF) FAIL("ziplist does not end with 0xFF");
    if (le32(b + 4) > len - 1) FAIL("ziplist tail offset %u is past its end", le32(b + 4));
    it->b = b;
    it->len = len;
    it->pos = 10;
    it->declared = le16(b + 8) == 0xFFFF ? SIZE_MAX : le16(b + 8);
    return 0;
}

/* Decode the entry encoding at p (end = first byte not available);
 * sets header size and data size. */
static int zlEncoding(const unsigned char *p, size_t avail, size_t *hdr, size_t *data, rdbElem *e,
                      char *err, size_t errlen, size_t at) {
    unsigned char c = p[0];
    switch (c >> 6) {
    case 0: *hdr = 1; *data = c & 0x3F; return 0;
    case 1:
        if (avail < 2) FAIL("ziplist entry header at byte %zu runs past the end", at);
        *hdr = 2;
        *data = (size_t)(c & 0x3F) << 8 | p[1];
        return 0;
    case 2:
        if (avail < 5) FAIL("ziplist entry header at byte %zu runs past the end", at);
        *hdr = 5;
        *data = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
        return 0;
    }
    *hdr = 1;
    e->is_int = 1;
    switch (c) {
    case 0xC0: *data = 2; break;
    case 0xD0: *data = 4; break;
    case 0xE0: *data = 8; break;
    case 0xF0: *data = 3; break;
    case 0xFE: *data = 1; break;
    default:
        if (c >= 0xF1 && c <= 0xFD) {
            *data = 0;
            e->v = (c & 0x0F) - 1;
            break;
        }
        FAIL("ziplist entry at byte %zu has invalid encoding 0x%02x", at, c);
    }
    return 0;
}

int rdbZiplistNext(rdbBlobIter *it, rdbElem *e, char *err, size_t errlen) {
    const unsigned char *b = it->b;
    size_t end = it->len - 1, at = it->pos, pl, prev, hdr, data;
    if (at == end) {
        if (it->declared != SIZE_MAX && it->declared != it->count)
            FAIL("ziplist header says %zu entries, found %zu", it->declared, it->count);
        size_t tail = le32(b + 4);
        if (it->count && tail != at - it->prev) FAIL("ziplist tail offset %zu is wrong", tail);
        return 0;
    }
    if (b[at] == 0xFF) FAIL("ziplist ends early at byte %zu", at);
    if (b[at] < 254) {
        pl = 1;
        prev = b[at];
    } else {
        if (end - at < 5) FAIL("ziplist prevlen at byte %zu runs past the end", at);
        pl = 5;
        prev = le32(b + at + 1);
    }
    if (prev != it->prev) FAIL("ziplist entry at byte %zu has a wrong previous length", at);
    if (at + pl >= end) FAIL("ziplist entry at byte %zu runs past the end", at);
    e->is_int = 0;
    if (zlEncoding(b + at + pl, end - at - pl, &hdr, &data, e, err, errlen, at) < 0) return -1;
    if (data > end - at - pl - hdr) FAIL("ziplist entry at byte %zu runs past the end", at);
    const unsigned char *d = b + at + pl + hdr;
    if (!e->is_int) setStr(e, d, data);
    else if (data == 2) setInt(e, (int16_t)le16(d));
    else if (data == 4) setInt(e, (int32_t)le32(d));
    else if (data == 8) setInt(e, (long long)le64(d));
    else if (data == 3) setInt(e, sext((uint64_t)d[0] | (uint64_t)d[1] << 8 | (uint64_t)d[2] << 16, 24));
    else if (data == 1) setInt(e, (int8_t)d[0]);
    else setInt(e, e->v);
    it->prev = pl + hdr + data;
    it->pos = at + it->prev;
    it->count++;
    return 1;
}

/* ---- Listpack ---- */

int rdbListpackInit(rdbBlobIter *it, const unsigned char *b, size_t len, char *err, size_t errlen) {
    memset(it, 0, sizeof(*it));
    if (len < 7) FAIL("listpack of %zu bytes is shorter than its header", len);
    if (le32(b) != len) FAIL("listpack header says %u bytes, blob has %zu", le32(b), len);
    if (b[len - 1] != 0xFF) FAIL("listpack does not end with 0xFF");
    it->b = b;
    it->len = len;
    it->pos = 6;
    it->declared = le16(b + 4) == 0xFFFF ? SIZE_MAX : le16(b + 4);
    return 0;
}

static size_t lpBacklenSize(size_t l) {
    return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

/* The back-length is stored most significant group first, read backwards. */
static size_t lpBacklenValue(const unsigned char *p, size_t n) {
    size_t v = 0;
    for (size_t i = 0; i < n; i++) v = (v << 7) | (p[i] & 127);
    return v;
}

/* Header and data size of the element at p; integers are decoded into e. */
static int lpEncoding(const unsigned char *p, size_t avail, size_t *hdr, size_t *data, rdbElem *e,
                      char *err, size_t errlen, size_t at) {
    unsigned char c = p[0];
    e->is_int = 0;
    if ((c & 0x80) == 0) {
        setInt(e, c);
        *hdr = 1, *data = 0;
    } else if ((c & 0xC0) == 0x80) {
        *hdr = 1, *data = c & 0x3F;
    } else if ((c & 0xE0) == 0xC0) {
        if (avail < 2) FAIL("listpack element at byte %zu runs past the end", at);
        setInt(e, sext((uint64_t)(c & 0x1F) << 8 | p[1], 13));
        *hdr = 2, *data = 0;
    } else if ((c & 0xF0) == 0xE0) {
        if (avail < 2) FAIL("listpack element at byte %zu runs past the end", at);
        *hdr = 2, *data = (size_t)(c & 0x0F) << 8 | p[1];
    } else if (c == 0xF0) {
        if (avail < 5) FAIL("listpack element at byte %zu runs past the end", at);
        *hdr = 5, *data = le32(p + 1);
    } else if (c >= 0xF1 && c <= 0xF4) {
        static const unsigned char w[] = {2, 3, 4, 8};
        size_t n = w[c - 0xF1];
        if (avail < 1 + n) FAIL("listpack element at byte %zu runs past the end", at);
        uint64_t u = 0;
        for (size_t i = 0; i < n; i++) u |= (uint64_t)p[1 + i] << (8 * i);
        setInt(e, sext(u, (unsigned)(8 * n)));
        *hdr = 1 + n, *data = 0;
    } else {
        FAIL("listpack element at byte %zu has invalid encoding 0x%02x", at, c);
    }
    return 0;
}

int rdbListpackNext(rdbBlobIter *it, rdbElem *e, char *err, size_t errlen) {
    const unsigned char *b = it->b;
    size_t end = it->len - 1, at = it->pos, hdr, data;
    if (at == end) {
        if (it->declared != SIZE_MAX && it->declared != it->count)
            FAIL("listpack header says %zu elements, found %zu", it->declared, it->count);
        return 0;
    }
    if (lpEncoding(b + at, end - at, &hdr, &data, e, err, errlen, at) < 0) return -1;
    if (data > end - at - hdr) FAIL("listpack element at byte %zu runs past the end", at);
    size_t l = hdr + data, bl = lpBacklenSize(l);
    if (bl > end - at - l) FAIL("listpack element at byte %zu runs past the end", at);
    if (lpBacklenValue(b + at + l, bl) != l)
        FAIL("listpack element at byte %zu has a wrong back-length", at);
    if (!e->is_int) setStr(e, b + at + hdr, data);
    it->pos = at + l + bl;
    it->count++;
    return 1;
}

/* ---- Intset ---- */

int rdbIntsetInit(rdbBlobIter *it, const unsigned char *b, size_t len, char *err, size_t errlen) {
    memset(it, 0, sizeof(*it));
    if (len < 8) FAIL("intset of %zu bytes is shorter than its header", len);
    uint32_t w = le32(b), n = le32(b + 4);
    if (w != 2 && w != 4 && w != 8) FAIL("intset has invalid encoding %u", w);
    if ((uint64_t)n * w != len - 8) FAIL("intset says %u elements of %u bytes, blob has %zu", n, w, len - 8);
    it->b = b;
    it->len = len;
    it->pos = 8;
    it->width = w;
    it->declared = n;
    return 0;
}

int rdbIntsetNext(rdbBlobIter *it, rdbElem *e, char *err, size_t errlen) {
    if (it->count == it->declared) return 0;
    const unsigned char *p = it->b + it->pos;
    long long v = it->width == 2 ? (int16_t)le16(p) : it->width == 4 ? (int32_t)le32(p) : (long long)le64(p);
    if (it->count && v <= it->last) FAIL("intset is not sorted at element %zu", it->count);
    setInt(e, v);
    it->last = v;
    it->pos += it->width;
    it->count++;
    return 1;
}

/* ---- Zipmap ---- */

int rdbZipmapInit(rdbBlobIter *it, const unsigned char *b, size_t len, char *err, size_t errlen) {
    memset(it, 0, sizeof(*it));
    if (len < 2) FAIL("zipmap of %zu bytes is too short", len);
    if (b[len - 1] != 0xFF) FAIL("zipmap does not end with 0xFF");
    it->b = b;
    it->len = len;
    it->pos = 1;
    it->declared = b[0] < 254 ? b[0] : SIZE_MAX; /* pairs */
    it->zm_key = 1;
    return 0;
}

/* A zipmap length: 1 byte below 254, else 254 + u32 LE. */
static int zmLen(rdbBlobIter *it, size_t *len, char *err, size_t errlen) {
    size_t end = it->len - 1, at = it->pos;
    if (it->b[at] < 254) {
        *len = it->b[at];
        it->pos++;
        return 0;
    }
    if (it->b[at] == 255 || end - at < 5) FAIL("zipmap length at byte %zu is invalid", at);
    *len = le32(it->b + at + 1);
    it->pos += 5;
    return 0;
}

int rdbZipmapNext(rdbBlobIter *it, rdbElem *e, char *err, size_t errlen) {
    size_t end = it->len - 1, len, freeb = 0;
    if (it->zm_key && it->b[it->pos] == 0xFF) {
        if (it->pos != end) FAIL("zipmap ends early at byte %zu", it->pos);
        if (it->declared != SIZE_MAX && it->declared != it->count / 2)
            FAIL("zipmap header says %zu pairs, found %zu", it->declared, it->count / 2);
        return 0;
    }
    if (it->pos >= end) FAIL("zipmap runs past its end");
    if (zmLen(it, &len, err, errlen) < 0) return -1;
    if (!it->zm_key) {
        if (it->pos >= end) FAIL("zipmap runs past its end");
        freeb = it->b[it->pos++];
    }
    if (len > end - it->pos || freeb > end - it->pos - len)
        FAIL("zipmap entry at byte %zu runs past the end", it->pos);
    setStr(e, it->b + it->pos, len);
    it->pos += len + freeb;
    it->zm_key = !it->zm_key;
    it->count++;
    return 1;
}

/* ---- Scores stored as text ---- */

/* [-]digits[.digits] with at most 'maxdig' significant digits and at most
 * 'maxfrac' digits after the dot: the mantissa and the count of fraction
 * digits, or 0 when the text is not of that shape. */
static int scanDecimal(const char *p, size_t len, uint64_t *m, size_t *frac, int *neg) {
    size_t i = 0, digits = 0;
    int dot = 0;
    *m = 0, *frac = 0, *neg = 0;
    if (i < len && p[i] == '-') *neg = 1, i++;
    for (; i < len; i++) {
        if (p[i] == '.' && !dot) {
            dot = 1;
            continue;
        }
        if (p[i] < '0' || p[i] > '9') return 0;
        if (*m || p[i] != '0') digits++;
        if (digits > 19) return 0; /* 10^19 - 1 still fits in 64 bits */
        *m = *m * 10 + (uint64_t)(p[i] - '0');
        *frac += (size_t)dot;
    }
    return i != (size_t)*neg + (size_t)dot; /* not "", "-", ".", "-." */
}

/* m / 10^frac rounded once, to binary64, or 0 when that cannot be done
 * exactly here (then strtod decides).
 *
 * Up to 15 digits and 10^22 both are exact doubles, so one IEEE division
 * is correctly rounded (Clinger). Redis writes non-integer scores with
 * %.17g, so most have 16-17 digits: for those, divide in long double when
 * it has a 64-bit mantissa (x87): m < 2^64 and 10^k for k <= 27 are exact
 * there, so the quotient q is the correctly rounded 64-bit value, and
 * rounding q to double gives the right answer unless q sits exactly
 * halfway between two doubles (a midpoint has 54 bits, so it is
 * representable, and the true value cannot lie across one from q). That
 * one case goes to strtod. */
static int decimalToDouble(uint64_t m, size_t frac, double *out) {
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (m < (1ULL << 53) && frac <= 22) {
        *out = (double)m / p10[frac];
        return 1;
    }
#if defined(__x86_64__) && defined(__LDBL_MANT_DIG__) && __LDBL_MANT_DIG__ == 64
    /* x87 extended: the 64-bit significand is the first 8 bytes, so the
     * halfway case is its low 11 bits (those a double drops) being exactly
     * 0x400; q >= 1e-27 is far from the doubles' subnormal range. */
    static const long double p10l[] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
                                       1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
                                       1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
    if (frac <= 27 && m) { /* each 10^k exact: 5^27 < 2^64 */
        long double q = (long double)m / p10l[frac];
        uint64_t sig;
        memcpy(&sig, &q, sizeof sig);
        if ((sig & 0x7FF) == 0x400) return 0; /* halfway: let strtod round */
        *out = (double)q;
        return 1;
    }
#elif defined(__LDBL_MANT_DIG__) && __LDBL_MANT_DIG__ >= 64
    if (frac <= 27) {
        long double pw = 1;
        for (size_t i = 0; i < frac; i++) pw *= 10; /* exact: 5^27 < 2^64 */
        long double q = (long double)m / pw;
        double d = (double)q;
        if ((long double)d != q) {
            double other = nextafter(d, q > d ? HUGE_VAL : -HUGE_VAL);
            if (q - d == other - q) return 0; /* halfway: let strtod round */
        }
        *out = d;
        return 1;
    }
#endif
    return 0;
}

int rdbParseScore(const char *p, size_t len, double *out) {
    uint64_t m;
    size_t frac;
    int neg;
    char buf[128], *end;
    if (scanDecimal(p, len, &m, &frac, &neg) && decimalToDouble(m, frac, out)) {
        if (neg) *out = -*out;
        return 0;
    }
    if (len == 0 || len >= sizeof(buf)) return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    *out = strtod(buf, &end);
    if (end != buf + len || isnan(*out)) return -1;
    return 0;
}

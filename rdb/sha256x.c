/* sha256x.c -- 16-lane SHA-256 compression (contract in sha256x.h).
 *
 * The AVX-512 kernel is the FIPS 180-4 compression function written once
 * for vectors of 16 32-bit words, one word of each lane's block per vector
 * (so blocks and states are transposed in registers on the way in and
 * out): each round's sigma functions are three
 * rotates combined by one three-input logic instruction (vpternlogd, truth
 * table 0x96 = xor of three), Ch is table 0xCA (e ? f : g) and Maj is 0xE8
 * (majority). The message schedule keeps 16 words in a ring. It is
 * compiled for avx512f/avx512bw by a function attribute, so the rest of the build
 * keeps the default target and machines without it never execute it. The
 * AVX2 and SHA-NI kernels below are compiled the same way.
 */
#include "sha256x.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* FIPS 180-4, 4.2.2 and 5.3.3. */
static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

const unsigned char sha256xIV[32] = {
    0x6a, 0x09, 0xe6, 0x67, 0xbb, 0x67, 0xae, 0x85, 0x3c, 0x6e, 0xf3, 0x72, 0xa5, 0x4f, 0xf5, 0x3a,
    0x51, 0x0e, 0x52, 0x7f, 0x9b, 0x05, 0x68, 0x8c, 0x1f, 0x83, 0xd9, 0xab, 0x5b, 0xe0, 0xcd, 0x19};

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- Portable: one OpenSSL compression per lane ---- */

void sha256xCompressScalar(unsigned char st[SHA256X_LANES][32],
                           const unsigned char blk[SHA256X_LANES][64]) {
    for (int lane = 0; lane < SHA256X_LANES; lane++) {
        SHA256_CTX c;
        memset(&c, 0, sizeof c);
        for (int i = 0; i < 8; i++) c.h[i] = be32(st[lane] + 4 * i);
        SHA256_Transform(&c, blk[lane]);
        for (int i = 0; i < 8; i++) {
            uint32_t x = (uint32_t)c.h[i];
            st[lane][4 * i] = (unsigned char)(x >> 24);
            st[lane][4 * i + 1] = (unsigned char)(x >> 16);
            st[lane][4 * i + 2] = (unsigned char)(x >> 8);
            st[lane][4 * i + 3] = (unsigned char)x;
        }
    }
}

/* ---- AVX-512 ---- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX512_KERNEL 1
#include <cpuid.h>
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx512bw")))
#define ROR(x, n) _mm512_ror_epi32((x), (n))
#define XOR3(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0x96)
#define ADD(a, b) _mm512_add_epi32((a), (b))

/* Big-endian words to native and back: reverse the bytes of each word. */
TARGET static inline __m512i bswap32(__m512i x) {
    const __m512i m = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
    return _mm512_shuffle_epi8(x, m);
}

/* Transpose a 16x16 matrix of 32-bit words held as 16 rows: afterwards
 * r[c] holds what was column c. Words pair up within 128-bit lanes, then
 * pairs of pairs, then the 128-bit lanes move across registers. */
TARGET static void transpose16(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* u[4i+k], 128-bit lane j: column 4j+k of rows 4i..4i+3 */
    for (int i = 0; i < 4; i++) {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int k = 0; k < 4; k++) {
        __m512i a = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x44);      /* lanes 0,1 of each */
        __m512i b = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xEE);      /* lanes 2,3 */
        __m512i c = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0x44);
        __m512i d = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0xEE);
        r[k] = _mm512_shuffle_i32x4(a, c, 0x88);                      /* lane 0 of all four */
        r[4 + k] = _mm512_shuffle_i32x4(a, c, 0xDD);                  /* lane 1 */
        r[8 + k] = _mm512_shuffle_i32x4(b, d, 0x88);                  /* lane 2 */
        r[12 + k] = _mm512_shuffle_i32x4(b, d, 0xDD);                 /* lane 3 */
    }
}

/* The 64 rounds on words-across-lanes: m[t] is message word t of every
 * lane, v[i] state word i; v is replaced by the compressed state. */
TARGET static void rounds16(__m512i m[16], __m512i v[8]) {
    __m512i a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
    for (int t = 0; t < 64; t++) {
        __m512i wt;
        if (t < 16) {
            wt = m[t];
        } else { /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] */
            __m512i w15 = m[(t - 15) & 15], w2 = m[(t - 2) & 15];
            __m512i s0 = XOR3(ROR(w15, 7), ROR(w15, 18), _mm512_srli_epi32(w15, 3));
            __m512i s1 = XOR3(ROR(w2, 17), ROR(w2, 19), _mm512_srli_epi32(w2, 10));
            wt = m[t & 15] = ADD(ADD(m[t & 15], s0), ADD(m[(t - 7) & 15], s1));
        }
        __m512i t1 = ADD(ADD(h, XOR3(ROR(e, 6), ROR(e, 11), ROR(e, 25))),
                         ADD(_mm512_ternarylogic_epi32(e, f, g, 0xCA),
                             ADD(wt, _mm512_set1_epi32((int)K256[t]))));
        __m512i t2 = ADD(XOR3(ROR(a, 2), ROR(a, 13), ROR(a, 22)),
                         _mm512_ternarylogic_epi32(a, b, c, 0xE8));
        h = g, g = f, f = e, e = ADD(d, t1), d = c, c = b, b = a, a = ADD(t1, t2);
    }
    v[0] = ADD(v[0], a), v[1] = ADD(v[1], b), v[2] = ADD(v[2], c), v[3] = ADD(v[3], d);
    v[4] = ADD(v[4], e), v[5] = ADD(v[5], f), v[6] = ADD(v[6], g), v[7] = ADD(v[7], h);
}

/* from_iv: every lane starts from the IV, so the state is broadcast, not
 * loaded and transposed (a third of the shuffles). */
TARGET static void compress16(unsigned char st[SHA256X_LANES][32],
                              const unsigned char blk[SHA256X_LANES][64], int from_iv) {
    __m512i m[16], v[16];
    for (int l = 0; l < 16; l++) {
        m[l] = bswap32(_mm512_loadu_si512(blk[l]));
        if (!from_iv) v[l] = bswap32(_mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)st[l])));
    }
    transpose16(m);
    if (from_iv) {
        for (int i = 0; i < 8; i++)
            v[i] = _mm512_set1_epi32((int)(uint32_t)((uint32_t)sha256xIV[4 * i] << 24 |
                                                     (uint32_t)sha256xIV[4 * i + 1] << 16 |
                                                     (uint32_t)sha256xIV[4 * i + 2] << 8 |
                                                     sha256xIV[4 * i + 3]));
    } else {
        transpose16(v); /* v[8..15] are zero columns */
    }
    rounds16(m, v);
    for (int i = 8; i < 16; i++) v[i] = _mm512_setzero_si512();
    transpose16(v);
    for (int l = 0; l < 16; l++)
        _mm256_storeu_si256((__m256i *)st[l], _mm512_castsi512_si256(bswap32(v[l])));
}
#endif

/* ---- AVX2: 8 lanes a vector, both halves of the 16 in one loop ----
 *
 * The same round function on 256-bit vectors. AVX2 has neither rotates
 * nor three-input logic, so a rotate is two shifts and an or, Ch is
 * g ^ (e & (f ^ g)) and Maj is (a & b) ^ (c & (a ^ b)). Client CPUs and
 * AMD before Zen 4 stop here, which is why it exists. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_KERNEL 1
#define T2 __attribute__((target("avx2")))
#define ROR8(x, n) _mm256_or_si256(_mm256_srli_epi32((x), (n)), _mm256_slli_epi32((x), 32 - (n)))
#define XOR8(a, b) _mm256_xor_si256((a), (b))
#define AND8(a, b) _mm256_and_si256((a), (b))
#define ADD8(a, b) _mm256_add_epi32((a), (b))

T2 static inline __m256i bswap8(__m256i x) {
    const __m256i m = _mm256_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3,
                                      12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    return _mm256_shuffle_epi8(x, m);
}

/* Transpose 8 rows of 8 words: pairs of words within 128-bit halves,
 * then pairs of pairs, then the halves across registers. */
T2 static void transpose8(__m256i r[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) { /* u[4i+k]: column k (low half) and k+4 (high) of rows 4i..4i+3 */
        u[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2x128_si256(u[k], u[4 + k], 0x20);
        r[4 + k] = _mm256_permute2x128_si256(u[k], u[4 + k], 0x31);
    }
}

/* Both halves of the 16 lanes in one loop: AVX2 rounds are long chains of
 * dependent shifts, and two independent chains keep the ports busier than
 * one pass after the other (measured here: about a fifth faster). */
T2 static void rounds8x2(__m256i m[2][16], __m256i v[2][8]) {
    __m256i a[2], b[2], c[2], d[2], e[2], f[2], g[2], h[2];
    for (int k = 0; k < 2; k++)
        a[k] = v[k][0], b[k] = v[k][1], c[k] = v[k][2], d[k] = v[k][3], e[k] = v[k][4], f[k] = v[k][5],
        g[k] = v[k][6], h[k] = v[k][7];
    for (int t = 0; t < 64; t++) {
        __m256i kt = _mm256_set1_epi32((int)K256[t]);
        for (int k = 0; k < 2; k++) {
            __m256i wt;
            if (t < 16) {
                wt = m[k][t];
            } else {
                __m256i w15 = m[k][(t - 15) & 15], w2 = m[k][(t - 2) & 15];
                __m256i s0 = XOR8(XOR8(ROR8(w15, 7), ROR8(w15, 18)), _mm256_srli_epi32(w15, 3));
                __m256i s1 = XOR8(XOR8(ROR8(w2, 17), ROR8(w2, 19)), _mm256_srli_epi32(w2, 10));
                wt = m[k][t & 15] = ADD8(ADD8(m[k][t & 15], s0), ADD8(m[k][(t - 7) & 15], s1));
            }
            __m256i ch = XOR8(g[k], AND8(e[k], XOR8(f[k], g[k])));
            __m256i maj = XOR8(AND8(a[k], b[k]), AND8(c[k], XOR8(a[k], b[k])));
            __m256i t1 = ADD8(ADD8(h[k], XOR8(XOR8(ROR8(e[k], 6), ROR8(e[k], 11)), ROR8(e[k], 25))),
                              ADD8(ch, ADD8(wt, kt)));
            __m256i t2 = ADD8(XOR8(XOR8(ROR8(a[k], 2), ROR8(a[k], 13)), ROR8(a[k], 22)), maj);
            h[k] = g[k], g[k] = f[k], f[k] = e[k], e[k] = ADD8(d[k], t1), d[k] = c[k], c[k] = b[k], b[k] = a[k],
            a[k] = ADD8(t1, t2);
        }
    }
    for (int k = 0; k < 2; k++) {
        v[k][0] = ADD8(v[k][0], a[k]), v[k][1] = ADD8(v[k][1], b[k]), v[k][2] = ADD8(v[k][2], c[k]);
        v[k][3] = ADD8(v[k][3], d[k]), v[k][4] = ADD8(v[k][4], e[k]), v[k][5] = ADD8(v[k][5], f[k]);
        v[k][6] = ADD8(v[k][6], g[k]), v[k][7] = ADD8(v[k][7], h[k]);
    }
}

/* Lanes 8k..8k+7 in m[k] and v[k]. */
T2 static void compressAvx2Any(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64],
                               int from_iv) {
    __m256i m[2][16], v[2][8];
    for (int k = 0; k < 2; k++) {
        for (int l = 0; l < 8; l++) {
            const unsigned char *p = blk[8 * k + l];
            m[k][l] = bswap8(_mm256_loadu_si256((const __m256i *)p));
            m[k][8 + l] = bswap8(_mm256_loadu_si256((const __m256i *)(p + 32)));
            if (!from_iv) v[k][l] = bswap8(_mm256_loadu_si256((const __m256i *)st[8 * k + l]));
        }
        transpose8(m[k]);
        transpose8(m[k] + 8);
        if (from_iv)
            for (int i = 0; i < 8; i++) v[k][i] = _mm256_set1_epi32((int)be32(sha256xIV + 4 * i));
        else
            transpose8(v[k]);
    }
    rounds8x2(m, v);
    for (int k = 0; k < 2; k++) {
        transpose8(v[k]);
        for (int l = 0; l < 8; l++) _mm256_storeu_si256((__m256i *)st[8 * k + l], bswap8(v[k][l]));
    }
}

T2 static void compressAvx2(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64]) {
    compressAvx2Any(st, blk, 0);
}

T2 static void compressAvx2IV(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64]) {
    compressAvx2Any(st, blk, 1);
}
#endif

/* ---- SHA-NI: one block per stream, SHANI_WAY streams interleaved ----
 *
 * The SHA extensions (Intel's "SHA extensions" paper, the SDM's
 * SHA256RNDS2/SHA256MSG1/SHA256MSG2) do two rounds per sha256rnds2 on a
 * state split over two registers, ABEF and CDGH (A in the top dword), with
 * W+K for the two rounds in the low two dwords of the third operand; the
 * result is the new ABEF, and the old ABEF is the new CDGH. msg1 and msg2
 * compute four schedule words at a time: msg1(W0..3, W4..7) gives
 * W[i] + s0(W[i+1]), to which W9..12 are added, and msg2(that, W12..15)
 * adds s1 to give W16..19. One block is a chain of 32 dependent
 * sha256rnds2, each several cycles long, so SHANI_WAY independent blocks
 * are interleaved step by step to fill that latency; the 16 lanes go
 * through in 16 / SHANI_WAY groups. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SHANI_KERNEL 1
#define TS __attribute__((target("sha,sse4.1")))
#ifndef SHANI_WAY
#define SHANI_WAY 2
#endif

/* Reverses the bytes of each 64-bit half: a big-endian (X, Y) pair of words
 * becomes dwords (Y, X) in native order. */
TS static inline __m128i rev64(__m128i x) {
    return _mm_shuffle_epi8(x, _mm_set_epi8(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
}

/* Big-endian words to native: the message words W[4i..4i+3], W[4i] low. */
TS static inline __m128i bswapW(__m128i x) {
    return _mm_shuffle_epi8(x, _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3));
}

/* Four rounds from W+K, both halves of the state swapping roles twice. */
#define SHANI_4ROUNDS(abef, cdgh, wk)                                \
    do {                                                             \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E)); \
    } while (0)

/* Lanes l0..l0+SHANI_WAY-1. Each loop over k is SHANI_WAY independent
 * streams: the compiler unrolls it, so their instructions interleave. */
TS __attribute__((always_inline)) static inline void shaniGroup(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64],
                                 int l0, int from_iv) {
    __m128i abef[SHANI_WAY], cdgh[SHANI_WAY], abef0[SHANI_WAY], cdgh0[SHANI_WAY], w[SHANI_WAY][4];
#pragma GCC unroll 4
    for (int k = 0; k < SHANI_WAY; k++) {
        const unsigned char *s = from_iv ? sha256xIV : st[l0 + k];
        __m128i lo = _mm_loadu_si128((const __m128i *)s), hi = _mm_loadu_si128((const __m128i *)(s + 16));
        abef0[k] = abef[k] = rev64(_mm_unpacklo_epi64(hi, lo)); /* (E,F | A,B) -> F,E,B,A */
        cdgh0[k] = cdgh[k] = rev64(_mm_unpackhi_epi64(hi, lo)); /* (G,H | C,D) -> H,G,D,C */
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) w[k][i] = bswapW(_mm_loadu_si128((const __m128i *)(blk[l0 + k] + 16 * i)));
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) { /* rounds 4i..4i+3 */
        __m128i kv = _mm_loadu_si128((const __m128i *)(K256 + 4 * i));
#pragma GCC unroll 4
        for (int k = 0; k < SHANI_WAY; k++) {
            if (i >= 4) { /* W[4i..4i+3] from the four groups before, kept in a ring */
                __m128i x = _mm_sha256msg1_epu32(w[k][i & 3], w[k][(i + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[k][(i + 3) & 3], w[k][(i + 2) & 3], 4));
                w[k][i & 3] = _mm_sha256msg2_epu32(x, w[k][(i + 3) & 3]);
            }
            __m128i wk = _mm_add_epi32(w[k][i & 3], kv);
            SHANI_4ROUNDS(abef[k], cdgh[k], wk);
        }
    }
#pragma GCC unroll 4
    for (int k = 0; k < SHANI_WAY; k++) {
        __m128i a = rev64(_mm_add_epi32(abef[k], abef0[k])); /* E,F | A,B big-endian */
        __m128i c = rev64(_mm_add_epi32(cdgh[k], cdgh0[k])); /* G,H | C,D */
        _mm_storeu_si128((__m128i *)st[l0 + k], _mm_unpackhi_epi64(a, c));
        _mm_storeu_si128((__m128i *)(st[l0 + k] + 16), _mm_unpacklo_epi64(a, c));
    }
}

TS static void compressShani(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64]) {
    for (int l = 0; l < SHA256X_LANES; l += SHANI_WAY) shaniGroup(st, blk, l, 0);
}

TS static void compressShaniIV(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64]) {
    for (int l = 0; l < SHA256X_LANES; l += SHANI_WAY) shaniGroup(st, blk, l, 1);
}
#endif

#ifdef HAVE_AVX512_KERNEL
static void compressAvx512(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64]) {
    compress16(st, blk, 0);
}
static void compressAvx512IV(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64]) {
    compress16(st, blk, 1);
}
#endif

static void compressScalarIV(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64]) {
    for (int l = 0; l < SHA256X_LANES; l++) memcpy(st[l], sha256xIV, 32);
    sha256xCompressScalar(st, blk);
}

/* ---- dispatch ---- */

typedef struct kernel {
    const char *name;
    int lanes; /* blocks per vector pass */
    sha256xFn *fn, *from_iv;
} kernel;

static const kernel kernels[] = {
#ifdef HAVE_AVX512_KERNEL
    {"avx512", 16, compressAvx512, compressAvx512IV},
#endif
#ifdef HAVE_SHANI_KERNEL
    {"shani", SHANI_WAY, compressShani, compressShaniIV},
#endif
#ifdef HAVE_AVX2_KERNEL
    {"avx2lanes", 8, compressAvx2, compressAvx2IV},
#endif
    {"scalar", 1, sha256xCompressScalar, compressScalarIV},
};
#define NKERNELS (sizeof kernels / sizeof kernels[0])

/* SHA-NI: CPUID leaf 7, EBX bit 29 (also what OpenSSL's one-block path uses). */
static int cpuHasShaNi(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) return (b >> 29) & 1;
#endif
    return 0;
}

static int cpuHas(const char *name) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (strcmp(name, "avx512") == 0) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    if (strcmp(name, "shani") == 0) return cpuHasShaNi() && __builtin_cpu_supports("sse4.1");
    if (strcmp(name, "avx2lanes") == 0) return __builtin_cpu_supports("avx2");
#endif
    return strcmp(name, "scalar") == 0;
}

/* The kernels to try, best first, per RDBSYNC_SIMD value (sha256x.h). The
 * default puts SHA-NI before the AVX-512 lanes: measured here (bench/
 * sha256k.c, best of 21 in thread CPU time, AMD EPYC with both), 2-way
 * SHA-NI takes 18 ns a block against 22-25 for the AVX-512 lanes, with gcc
 * and clang alike (1-way: 27; 4-way spills the 16 XMM registers: 25-27). */
static const char *const order_default[] = {"shani", "avx512", "avx2lanes", "scalar", NULL};
static const struct {
    const char *value;
    const char *const order[5];
} orders[] = {
    {"avx512", {"avx512", "shani", "avx2lanes", "scalar", NULL}},
    {"avx2", {"shani", "avx2lanes", "scalar", NULL}}, /* a CPU without AVX-512 */
    {"shani", {"shani", "scalar", NULL}},
    {"avx2lanes", {"avx2lanes", "scalar", NULL}},
    {"off", {"scalar", NULL}},
    {"scalar", {"scalar", NULL}},
};

static const kernel *byName(const char *name) {
    for (size_t i = 0; i < NKERNELS; i++)
        if (strcmp(name, kernels[i].name) == 0) return &kernels[i];
    return NULL;
}

/* The first kernel of the order RDBSYNC_SIMD names that this build and CPU have. */
static const kernel *pick(void) {
    const char *want = getenv("RDBSYNC_SIMD");
    const char *const *order = order_default;
    for (size_t i = 0; want && i < sizeof orders / sizeof orders[0]; i++)
        if (strcmp(want, orders[i].value) == 0) order = orders[i].order;
    for (; *order; order++) {
        const kernel *k = byName(*order);
        if (k && cpuHas(k->name)) return k;
    }
    return &kernels[NKERNELS - 1];
}

static pthread_once_t pick_once = PTHREAD_ONCE_INIT;
static const kernel *chosen;
static int chain_in_lanes;
static void pickOnce(void) {
    chosen = pick();
    /* Lanes beat one OpenSSL stream unless that stream has SHA-NI and the
     * lanes are AVX2's (40 ns a block against 35 here); the SHA-NI kernel
     * is that stream interleaved, so it chains in lanes too. */
    const char *n = chosen->name;
    chain_in_lanes = !strcmp(n, "avx512") || !strcmp(n, "shani") || (!strcmp(n, "avx2lanes") && !cpuHasShaNi());
}
static const kernel *current(void) {
    pthread_once(&pick_once, pickOnce);
    return chosen;
}

void sha256xCompress(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64]) {
    current()->fn(st, blk);
}

void sha256xCompressFromIV(unsigned char st[SHA256X_LANES][32],
                           const unsigned char blk[SHA256X_LANES][64]) {
    current()->from_iv(st, blk);
}

const char *sha256xImpl(void) { return current()->name; }
int sha256xChainInLanes(void) {
    current();
    return chain_in_lanes;
}
int sha256xImplLanes(void) { return current()->lanes; }

sha256xFn *sha256xKernel(const char *name, int from_iv) {
    for (size_t i = 0; i < NKERNELS; i++)
        if (strcmp(name, kernels[i].name) == 0 && cpuHas(name)) return from_iv ? kernels[i].from_iv : kernels[i].fn;
    return NULL;
}

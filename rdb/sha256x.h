/* sha256x.h -- the SHA-256 compression function on 16 blocks at once.
 *
 * The digest (digest.h) hashes every set member, zset member and hash field
 * on its own, and almost all of those messages fit one 64-byte block: one
 * compression each, millions per dump, which made hashing as slow as
 * decoding. Independent blocks can share vector lanes: with AVX-512 one
 * compression of 16 blocks costs about what 2 sequential SHA-NI
 * compressions do here, so the digest batches its blocks 16 at a time
 * (and SHA-NI, interleaving independent blocks, gains from it as well).
 *
 * Layout: lane l has its block blk[l] (64 bytes, as hashed) and its chaining
 * value st[l] (32 bytes: the eight state words big-endian, which is how a
 * SHA-256 hash is written, so the IV for a first block is sha256xIV and the
 * output after a message's last block is its hash). sha256xCompress
 * replaces each st[l] with the state after compressing blk[l]. Every lane
 * is computed; the ones a caller does not use need only be initialised.
 *
 * Kernels: "avx512" (16 lanes in one pass, AVX-512 F and BW), "shani" (the
 * SHA extensions, one block per stream, 2 streams interleaved to hide the
 * latency of sha256rnds2: Intel since Goldmont and Ice Lake, AMD since Zen
 * have them), "avx2lanes" (8 lanes a vector, two vectors interleaved: for
 * AVX2 CPUs without SHA-NI) and "scalar" (a loop over the lanes with
 * OpenSSL's one-block SHA256_Transform). All give identical results.
 * Dispatch takes the first of an order the CPU has, chosen once: by
 * default shani, avx512, avx2lanes, scalar (SHA-NI measured the faster per
 * block here: bench/sha256k.c, figures in README "Performance"). The
 * environment variable RDBSYNC_SIMD changes the order, for tests and
 * benchmarks: "avx512" (avx512 first, then the default's others), "avx2"
 * (what a CPU without AVX-512 gets: shani, avx2lanes, scalar), "shani"
 * (shani, scalar), "avx2lanes" (avx2lanes, scalar), "off" (scalar); CRC-64
 * (crc64.h) reads it too. Thread-safe, allocation-free, cannot fail.
 */
#ifndef RDB_SHA256X_H
#define RDB_SHA256X_H

#include <stdint.h>

#define SHA256X_LANES 16

/* The SHA-256 initial hash value H(0), as bytes. */
extern const unsigned char sha256xIV[32];

void sha256xCompress(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64]);
void sha256xCompressScalar(unsigned char st[SHA256X_LANES][32],
                           const unsigned char blk[SHA256X_LANES][64]);
/* The same when every lane starts a message (state = the IV): st is then
 * output only, and the vector kernel skips loading it. */
void sha256xCompressFromIV(unsigned char st[SHA256X_LANES][32],
                           const unsigned char blk[SHA256X_LANES][64]);
/* "avx512", "shani", "avx2lanes" or "scalar": what sha256xCompress uses
 * here, and the blocks one pass of it compresses (shani: the streams
 * interleaved). */
const char *sha256xImpl(void);
int sha256xImplLanes(void);

/* 1 when a message of several blocks is better hashed in lanes (a block a
 * batch, chained) than at once through OpenSSL: with the AVX-512 or SHA-NI
 * kernel, or AVX2's on a CPU without SHA-NI. With SHA-NI and the AVX2
 * lanes (RDBSYNC_SIMD=avx2lanes), one stream of SHA-NI (35 ns a block
 * here) beats an AVX2 lane (40) plus the batching around it. */
int sha256xChainInLanes(void);

/* A kernel by name, or NULL when this build or this CPU lacks it (calling it
 * would fault): for tests and benchmarks. from_iv: the FromIV variant. */
typedef void sha256xFn(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64]);
sha256xFn *sha256xKernel(const char *name, int from_iv);

#endif

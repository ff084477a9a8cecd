/* sha256x.h -- the SHA-256 compression function on 16 blocks at once.
 *
 * The digest (digest.h) hashes every set member, zset member and hash field
 * on its own, and almost all of those messages fit one 64-byte block: one
 * compression each, millions per dump, which made hashing as slow as
 * decoding. Independent blocks can share vector lanes: with AVX-512 one
 * compression of 16 blocks costs about what 2 sequential SHA-NI
 * compressions do here, so the digest batches its blocks 16 at a time.
 *
 * Layout: lane l has its block blk[l] (64 bytes, as hashed) and its chaining
 * value st[l] (32 bytes: the eight state words big-endian, which is how a
 * SHA-256 hash is written, so the IV for a first block is sha256xIV and the
 * output after a message's last block is its hash). sha256xCompress
 * replaces each st[l] with the state after compressing blk[l]. Every lane
 * is computed; the ones a caller does not use need only be initialised.
 *
 * Kernels: "avx512" (16 lanes in one pass, AVX-512 F and BW), "avx2" (8
 * lanes a vector, two vectors interleaved: Intel client CPUs and AMD Zen 1-3 have no AVX-512) and
 * "scalar" (a loop over the lanes with OpenSSL's one-block SHA256_Transform,
 * which uses SHA-NI where present). All give identical results. Dispatch
 * takes the best the CPU has, chosen once; the environment variable
 * RDBSYNC_SIMD=avx512|avx2|off caps it (for tests and benchmarks: "avx2"
 * on an AVX-512 machine measures what an AVX2-only CPU gets). Thread-safe,
 * allocation-free, cannot fail.
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
/* "avx512", "avx2" or "scalar": what sha256xCompress uses here, and the
 * blocks one pass of it compresses. */
const char *sha256xImpl(void);
int sha256xImplLanes(void);

/* 1 when a message of several blocks is better hashed in lanes (a block a
 * batch, chained) than at once through OpenSSL: with the 16-lane kernel, or
 * the 8-lane one on a CPU without SHA-NI. With SHA-NI and AVX2 only, one
 * stream of SHA-NI (35 ns a block here) beats an AVX2 lane (40) plus the
 * batching around it. */
int sha256xChainInLanes(void);

/* A kernel by name, or NULL when this build or this CPU lacks it (calling it
 * would fault): for tests and benchmarks. from_iv: the FromIV variant. */
typedef void sha256xFn(unsigned char st[SHA256X_LANES][32], const unsigned char blk[SHA256X_LANES][64]);
sha256xFn *sha256xKernel(const char *name, int from_iv);

#endif

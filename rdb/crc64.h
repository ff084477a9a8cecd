/* crc64.h -- the CRC-64 Redis puts at the end of an RDB and of a DUMP payload.
 *
 * Jones polynomial, reflected, initial value 0, no final xor (format.md 1.7).
 * Check value: crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca.
 *
 * It runs over every byte we decode, so it has to be fast. On x86-64 CPUs
 * with carry-less multiplication it folds 16 bytes with two multiplies
 * (PCLMULQDQ, or VPCLMULQDQ on 64-byte registers where AVX-512 is there),
 * chosen at run time by cpuid: ~14 GB/s, ~55 GB/s. Everywhere else, and for
 * short buffers and tails, a slice-by-16 table does the work (~2.7 GB/s).
 * All paths give the same bits.
 *
 * Thread-safe: tables, fold constants and the choice of path are set up
 * once, at first use, under pthread_once. No errors.
 */
#ifndef RDB_CRC64_H
#define RDB_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continue a running CRC over 'len' bytes. Start with crc = 0. */
uint64_t crc64(uint64_t crc, const void *buf, size_t len);

/* ---- for tests and benchmarks ---- */

typedef uint64_t crc64Fn(uint64_t crc, const void *buf, size_t len);

/* The portable implementation (slice-by-16 tables), exported for tests and
 * benchmarks. Same contract as crc64(). */
uint64_t crc64Table(uint64_t crc, const void *buf, size_t len);

/* The implementation called "table", "pclmul" or "vpclmul", or NULL when
 * this build or this CPU does not have it (calling it would fault). */
crc64Fn *crc64Impl(const char *name);

/* The name of the implementation crc64() uses for long buffers here. */
const char *crc64ImplName(void);

/* The i-th folding constant the fast paths use: sets *exp = k and
 * *value = x^k mod P, bit-reflected (bit 63 - j holds the coefficient of
 * x^j, as the CRC register does). Returns 0, or -1 when i is past the end. */
int crc64FoldConstant(unsigned i, unsigned *exp, uint64_t *value);

#endif

/* crc64.h -- the CRC-64 Redis puts at the end of an RDB and of a DUMP payload.
 *
 * Jones polynomial, reflected, initial value 0, no final xor (format.md 1.7).
 * Check value: crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca.
 * Table driven, 16 bytes per step (slice-by-16), so that checksumming never dominates decoding.
 * Thread-safe: the tables are built once, at first use, under pthread_once.
 */
#ifndef RDB_CRC64_H
#define RDB_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continue a running CRC over 'len' bytes. Start with crc = 0. */
uint64_t crc64(uint64_t crc, const void *buf, size_t len);

#endif

/* len.h -- an RDB length (format.md 1.9) read from memory.
 *
 * The decoder reads lengths from a stream (rdb/decode.c); code that holds a
 * value's bytes in memory (a DUMP payload, a KEY_META record) reads them
 * here, bounds-checked against the buffer's end:
 *   00xxxxxx              6-bit length
 *   01xxxxxx yyyyyyyy     14-bit, big endian
 *   0x80 + 4 bytes        32-bit, big endian
 *   0x81 + 8 bytes        64-bit, big endian
 *   11xxxxxx              not a length: a string encoding id (format.md 1.10)
 *   0x82-0xBF             invalid
 *
 * Errors: -1 (and *pos unchanged) when the bytes at *pos are no complete
 * length. Nothing here allocates, prints or exits.
 */
#ifndef RDB_LEN_H
#define RDB_LEN_H

#include <stddef.h>
#include <stdint.h>

/* The length at p[*pos] (p holds n bytes): 0 with *v set and *pos moved past
 * it. A string encoding byte (11xxxxxx) is accepted only when special is
 * not NULL: then *special = 1 and *v = its id (0-63); otherwise *special
 * (when given) is 0. -1 when the length is cut by the end of p, is an
 * invalid byte, or is an encoding byte where special is NULL. */
int rdbLenAt(const unsigned char *p, size_t n, size_t *pos, uint64_t *v, int *special);

#endif

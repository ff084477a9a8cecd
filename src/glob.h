/* glob.h -- Redis's glob-style pattern matching, byte for byte.
 *
 * The same language as KEYS, SCAN MATCH and PSUBSCRIBE (Redis util.c
 * stringmatchlen, case-sensitive), so that a filter applied here selects
 * exactly the keys SCAN MATCH would select on the server:
 *   *        any run of bytes, empty included
 *   ?        any one byte
 *   [abc]    one of the bytes listed; [^abc] none of them
 *   [a-z]    a range (its ends may come in either order: [z-a] is [a-z]);
 *            the ends and the byte compare as signed chars, as on the
 *            x86/ARM builds of Redis (a byte >= 0x80 sorts before 'a')
 *   \x       the byte x itself, in and out of brackets
 * and Redis's edge cases: an unterminated '[' matches as if it were closed
 * at the end of the pattern ("[ab" matches "a"), "[a-]" is a range up to
 * ']', a trailing lone '\' matches a '\', and a pattern more than 1000
 * '*' levels deep matches nothing (Redis 7's guard against abusive
 * patterns).
 *
 * Pure functions, no allocation, no state.
 */
#ifndef RDBSYNC_GLOB_H
#define RDBSYNC_GLOB_H

#include <stddef.h>

/* 1 when s[0..slen) matches pattern p[0..plen), else 0. */
int globMatch(const char *p, size_t plen, const char *s, size_t slen);

/* 1 when the pattern has no special byte (*, ?, [, \): it matches only
 * the key equal to it. */
int globIsLiteral(const char *p, size_t plen);

#endif

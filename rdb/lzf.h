/* lzf.h -- LZF decompression, as Redis stores compressed strings.
 *
 * The format (liblzf's, format.md 1.4): a control byte below 32 starts a
 * run of ctrl+1 literal bytes; otherwise its top 3 bits are a length (7
 * means "add the next byte") and the low 5 bits with the next byte a
 * distance back into the output, from which length+2 bytes are copied
 * (overlapping copies repeat a pattern).
 *
 * liblzf's lzf_decompress copies byte by byte and showed as a tenth of
 * checksumming time; this one moves 8 or 32 bytes at a time where the
 * bounds allow, and is checked against liblzf in tests/test_lzf.c, which
 * stays the reference.
 *
 * Every length and distance is checked: hostile input yields 0 (never an
 * out-of-bounds read or write). Writes may run up to RDB_LZF_SLACK bytes
 * past out+outlen (scratch for wide copies): out must have room for
 * outlen + RDB_LZF_SLACK bytes. Reads never pass in+inlen.
 */
#ifndef RDB_LZF_H
#define RDB_LZF_H

#include <stddef.h>

#define RDB_LZF_SLACK 32

/* Decompress inlen bytes into out; the number of bytes produced, or 0 when
 * the input is malformed or would produce more than outlen bytes. */
size_t rdbLzfDecompress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outlen);

/* The same output handed to 'sink' in pieces of at most 'chunk' bytes, in
 * order, so that a huge string is never whole in memory: only the last
 * RDB_LZF_HISTORY bytes (the farthest a back-reference reaches) are kept.
 * win is scratch of RDB_LZF_WINDOW(chunk) bytes; chunk >= 1024.
 * 0 when the input produced exactly outlen bytes; -1 when it is malformed
 * or produces another length (pieces may have been handed over before
 * that is known); -2 when the sink returned non-zero. */
#define RDB_LZF_HISTORY 8192
#define RDB_LZF_WINDOW(chunk) (RDB_LZF_HISTORY + (chunk) + 300)
typedef int (*rdbLzfSink)(void *ctx, const unsigned char *p, size_t len);
int rdbLzfDecompressChunks(const unsigned char *in, size_t inlen, size_t outlen, unsigned char *win,
                           size_t chunk, rdbLzfSink sink, void *ctx);

#endif

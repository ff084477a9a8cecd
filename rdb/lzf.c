/* lzf.c -- LZF decompression with wide copies (contract in lzf.h). */
#include "lzf.h"

#include <string.h>

/* ctrl+1 literal bytes; 0 on overrun. A short run is moved as one 32-byte
 * copy when the input has those bytes (the output has the slack). */
static int literals(const unsigned char **ip, const unsigned char *iend, unsigned char **op,
                    const unsigned char *oend, size_t n) {
    if ((size_t)(iend - *ip) < n || (size_t)(oend - *op) < n) return 0;
    if (iend - *ip >= 32) memcpy(*op, *ip, 32); /* n <= 32 */
    else memcpy(*op, *ip, n);
    *ip += n;
    *op += n;
    return 1;
}

/* n bytes from dist back in the output; the source may overlap the
 * destination, which repeats the last dist bytes. */
static void backref(unsigned char *op, size_t dist, size_t n) {
    const unsigned char *ref = op - dist;
    unsigned char *end = op + n;
    if (dist >= 8) { /* each 8-byte step reads bytes already final */
        do {
            memcpy(op, ref, 8);
            op += 8;
            ref += 8;
        } while (op < end); /* may write up to 7 bytes past end: slack */
        return;
    }
    while (op < end) *op++ = *ref++;
}

size_t rdbLzfDecompress(const unsigned char *in, size_t inlen, unsigned char *out, size_t outlen) {
    const unsigned char *ip = in, *iend = in + inlen;
    unsigned char *op = out, *oend = out + outlen;
    while (ip < iend) {
        size_t ctrl = *ip++;
        if (ctrl < 32) {
            if (!literals(&ip, iend, &op, oend, ctrl + 1)) return 0;
            continue;
        }
        size_t len = ctrl >> 5, dist = ((ctrl & 0x1f) << 8) + 1;
        if (ip >= iend) return 0;
        if (len == 7) {
            len += *ip++;
            if (ip >= iend) return 0;
        }
        dist += *ip++;
        len += 2;
        if (dist > (size_t)(op - out) || len > (size_t)(oend - op)) return 0;
        backref(op, dist, len);
        op += len;
    }
    return (size_t)(op - out);
}

/* ---- In pieces ---- */

/* The window holds [kept history | output not yet handed over]; 'from' is
 * where the pending output starts. A piece goes out once the pending part
 * could not take one more instruction's worth (at most 264 bytes) without
 * passing 'chunk'; the history then moves to the front. Byte copies: this
 * path is for values too large to hold, where the network is the limit. */
int rdbLzfDecompressChunks(const unsigned char *in, size_t inlen, size_t outlen, unsigned char *win,
                           size_t chunk, rdbLzfSink sink, void *ctx) {
    const unsigned char *ip = in, *iend = in + inlen;
    size_t o = 0, from = 0, produced = 0;
    while (ip < iend) {
        if (o - from + 264 > chunk) {
            if (sink(ctx, win + from, o - from)) return -2;
            size_t keep = o < RDB_LZF_HISTORY ? o : RDB_LZF_HISTORY;
            memmove(win, win + o - keep, keep);
            o = from = keep;
        }
        size_t ctrl = *ip++;
        if (ctrl < 32) {
            size_t n = ctrl + 1;
            if ((size_t)(iend - ip) < n || outlen - produced < n) return -1;
            memcpy(win + o, ip, n);
            ip += n, o += n, produced += n;
            continue;
        }
        size_t len = ctrl >> 5, dist = ((ctrl & 0x1f) << 8) + 1;
        if (ip >= iend) return -1;
        if (len == 7) {
            len += *ip++;
            if (ip >= iend) return -1;
        }
        dist += *ip++;
        len += 2;
        if (dist > o || len > outlen - produced) return -1; /* o >= the history that exists */
        for (size_t i = 0; i < len; i++, o++) win[o] = win[o - dist];
        produced += len;
    }
    if (produced != outlen) return -1;
    if (o > from && sink(ctx, win + from, o - from)) return -2;
    return 0;
}

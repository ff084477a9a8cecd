/* blob.h -- iterators over the serialized structures Redis stores as one
 * RDB string: ziplist, listpack, intset, zipmap (format.md 2.5).
 *
 * Every iterator distrusts its input: headers, counts, per-entry lengths,
 * back-lengths and terminators are checked against the blob's real size
 * before anything is read, so a lying blob yields an error, never an
 * out-of-bounds read. Nothing is allocated; elements point into the blob.
 *
 * Each Next() returns 1 with an element, 0 at the (validated) end, or -1
 * with a message in err naming the byte position inside the blob.
 */
#ifndef RDB_BLOB_H
#define RDB_BLOB_H

#include <stddef.h>
#include <stdint.h>

/* One element: a byte string, or an integer (is_int) as stored. */
typedef struct rdbElem {
    const unsigned char *p;
    size_t len;
    long long v;
    int is_int;
} rdbElem;

/* Decimal text of an integer element into buf (>= 21 bytes); returns
 * the length. For string elements, nothing is written. */
size_t rdbElemText(const rdbElem *e, char *buf, const char **p);

/* A zset score stored as text (ziplist/listpack, RDB type 3), as
 * strtod() reads it, bit for bit: decimal or "inf"/"-inf"; NaN, empty or
 * trailing bytes are errors (-1). Most scores take an exact fast path. */
int rdbParseScore(const char *p, size_t len, double *out);

/* Writes v in decimal to buf (at least 21 bytes, no NUL); returns the length.
 * The same text as printf("%lld"), without the stdio machinery: integers of
 * compact encodings are converted millions of times per dump. */
size_t rdbFmtLL(char *buf, long long v);

typedef struct rdbBlobIter {
    const unsigned char *b;
    size_t len;
    size_t pos;
    size_t count;    /* elements returned so far */
    size_t declared; /* header count, SIZE_MAX when unknown */
    size_t prev;     /* ziplist: size of the previous entry */
    unsigned width;  /* intset: bytes per element */
    int zm_key;      /* zipmap: next element is a key */
    long long last;  /* intset: previous value, for the order check */
} rdbBlobIter;

int rdbZiplistInit(rdbBlobIter *it, const unsigned char *b, size_t len, char *err, size_t errlen);
int rdbZiplistNext(rdbBlobIter *it, rdbElem *e, char *err, size_t errlen);

int rdbListpackInit(rdbBlobIter *it, const unsigned char *b, size_t len, char *err, size_t errlen);
int rdbListpackNext(rdbBlobIter *it, rdbElem *e, char *err, size_t errlen);

int rdbIntsetInit(rdbBlobIter *it, const unsigned char *b, size_t len, char *err, size_t errlen);
int rdbIntsetNext(rdbBlobIter *it, rdbElem *e, char *err, size_t errlen);

int rdbZipmapInit(rdbBlobIter *it, const unsigned char *b, size_t len, char *err, size_t errlen);
int rdbZipmapNext(rdbBlobIter *it, rdbElem *e, char *err, size_t errlen);

#endif

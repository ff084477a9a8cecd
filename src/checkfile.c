/* checkfile.c -- --file/--payload with --checksum or --dump (see checkfile.h). */
#include "checkfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "exitcode.h"
#include "print.h"
#include "rdb/decode.h"
#include "rdb/parallel.h"

static int exitForDecode(rdbErrCode code) {
    switch (code) {
    case RDB_ERR_IO: return EXIT_INPUT;
    case RDB_ERR_CHECKSUM: return EXIT_CRC;
    case RDB_ERR_NOMEM: return EXIT_INTERNAL;
    default: return EXIT_DECODE;
    }
}

/* Decode a whole file through h; prints the one error line on failure.
 * With cs (a parallel checksum), a value that fails on a worker is
 * reported: it comes before anything the framing decoder met. */
static int decodeFile(const checkFileOptions *o, const rdbHandlers *h, checksum *cs) {
    rdbReader *r = strcmp(o->file, "-") == 0 ? rdbReaderFd(0) : rdbReaderFile(o->file);
    if (!r) {
        fprintf(stderr, "rdbsync: %s: cannot open: %s\n", o->file, strerror(errno));
        return EXIT_INPUT;
    }
    rdbDecodeOptions opt = {.ignore_crc = o->ignore_crc};
    rdbDecoder *d = rdbDecoderNew(r, h, &opt);
    if (!d) {
        rdbReaderFree(r);
        fprintf(stderr, "rdbsync: out of memory\n");
        return EXIT_INTERNAL;
    }
    int rc = EXIT_OK;
    rdbErrCode wcode;
    const char *werr;
    int failed = rdbDecode(d) < 0;
    if (cs && checksumFinish(cs, &wcode, &werr) < 0) {
        rc = exitForDecode(wcode);
        fprintf(stderr, "rdbsync: %s: %s\n", o->file, werr);
    } else if (failed) {
        rc = exitForDecode(rdbDecoderErrorCode(d));
        if (rdbDecoderErrorCode(d) != RDB_ERR_HANDLER)
            fprintf(stderr, "rdbsync: %s: %s\n", o->file, rdbDecoderError(d));
    }
    rdbDecoderFree(d);
    rdbReaderFree(r);
    return rc;
}

/* Read a whole (DUMP payload) file; payloads are single values, so this is
 * bounded by the largest value like everything else. */
static int slurp(const char *path, unsigned char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    size_t cap = 0, n = 0, got;
    unsigned char *p = NULL;
    if (!f) return -1;
    do {
        if (n == cap) {
            unsigned char *np = realloc(p, cap = cap ? cap * 2 : 65536);
            if (!np) break;
            p = np;
        }
        got = fread(p + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    int err = ferror(f) || n < cap ? ferror(f) : 1;
    fclose(f);
    if (err) {
        free(p);
        return -1;
    }
    *out = p;
    *len = n;
    return 0;
}

static int decodePayloadFile(const checkFileOptions *o, const rdbHandlers *h) {
    unsigned char *p = NULL;
    size_t len = 0;
    char err[800];
    if (slurp(o->payload, &p, &len) < 0) {
        fprintf(stderr, "rdbsync: %s: cannot read: %s\n", o->payload, strerror(errno ? errno : EIO));
        return EXIT_INPUT;
    }
    rdbKeyInfo base = {.key = "payload", .keylen = 7, .expire_ms = -1, .idle = -1, .freq = -1};
    int rc = rdbDecodePayload(p, len, &base, h, NULL, err, sizeof(err)) < 0 ? EXIT_DECODE : EXIT_OK;
    if (rc != EXIT_OK && strstr(err, "checksum mismatch")) rc = EXIT_CRC;
    if (rc != EXIT_OK) fprintf(stderr, "rdbsync: %s: %s\n", o->payload, err);
    free(p);
    return rc;
}

static int decodeInput(const checkFileOptions *o, const rdbHandlers *h) {
    return o->payload ? decodePayloadFile(o, h) : decodeFile(o, h, NULL);
}

/* A file's values are decoded and hashed on every core (checksumNewParallel);
 * a single payload is not worth the threads. */
int checkFileChecksum(const checkFileOptions *o) {
    if (!o->payload) {
        checksum *cs = checksumNewParallel(o->threads ? o->threads : rdbParallelDefaultWorkers());
        rdbHandlers h = {0};
        if (!cs) return EXIT_INTERNAL;
        checksumHandlers(cs, &h);
        int rc = decodeFile(o, &h, cs);
        if (rc == EXIT_OK || rc == EXIT_CRC) checksumReport(cs, stdout, o->json);
        checksumFree(cs);
        return rc;
    }
    checksum *cs = checksumNew();
    rdbHandlers h = {0};
    if (!cs) return EXIT_INTERNAL;
    checksumHandlers(cs, &h);
    int rc = decodeInput(o, &h);
    /* A CRC mismatch is a finding, not a crash: the report still shows it. */
    if (rc == EXIT_OK || rc == EXIT_CRC) checksumReport(cs, stdout, o->json);
    checksumFree(cs);
    return rc;
}

int checkFileDump(const checkFileOptions *o) {
    printer *p = printerNew(stdout);
    rdbHandlers h = {0};
    if (!p) return EXIT_INTERNAL;
    printerHandlers(p, &h);
    int rc = decodeInput(o, &h);
    if (rc == EXIT_DECODE && ferror(stdout)) rc = EXIT_OK; /* reader went away (| head) */
    printerFree(p);
    return rc;
}

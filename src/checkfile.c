/* checkfile.c -- --file/--payload with --checksum or --dump (see checkfile.h). */
#include "checkfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "log.h"
#include "outcome.h"
#include "print.h"
#include "rdb/decode.h"
#include "rdb/parallel.h"
#include "stop.h"

/* Decode a whole file through h; prints the one error line on failure.
 * With cs (a parallel checksum), a value that fails on a worker is
 * reported: it comes before anything the framing decoder met. */
static outcome decodeFile(const checkFileOptions *o, const rdbHandlers *h, checksum *cs) {
    stopInput in;
    if (stopInputOpen(&in, o->file) < 0) {
        logError("%s: cannot open: %s", o->file, strerror(errno));
        return OUTCOME_INPUT;
    }
    rdbDecodeOptions opt = {.ignore_crc = o->ignore_crc};
    rdbDecoder *d = rdbDecoderNew(in.r, h, &opt);
    if (!d) {
        stopInputClose(&in);
        logError("out of memory");
        return OUTCOME_INTERNAL;
    }
    outcome rc = OUTCOME_OK;
    rdbErrCode wcode;
    const char *werr;
    int failed = rdbDecode(d) < 0;
    int finished = !cs || checksumFinish(cs, &wcode, &werr) == 0;
    if (failed && stopRequested()) {
        /* Nothing was written but stdout: say how far it got. */
        logError("%s: interrupted by %s at offset %llu: %s", o->file, stopSignalName(),
                (unsigned long long)rdbDecoderOffset(d),
                cs ? "no report (the file was not read to its end)" : "the dump stops before this offset");
        rc = OUTCOME_INTERRUPTED;
    } else if (!finished) {
        rc = outcomeOfDecode(wcode);
        logError("%s: %s", o->file, werr);
    } else if (failed) {
        rc = outcomeOfDecode(rdbDecoderErrorCode(d));
        if (rdbDecoderErrorCode(d) != RDB_ERR_HANDLER || !ferror(stdout)) /* the consumer's reason, unless | head */
            logError("%s: %s", o->file, rdbDecoderError(d));
    }
    rdbDecoderFree(d);
    stopInputClose(&in);
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

static outcome decodePayloadFile(const checkFileOptions *o, const rdbHandlers *h) {
    unsigned char *p = NULL;
    size_t len = 0;
    char err[800];
    if (slurp(o->payload, &p, &len) < 0) {
        logError("%s: cannot read: %s", o->payload, strerror(errno ? errno : EIO));
        return OUTCOME_INPUT;
    }
    rdbKeyInfo base = {.key = "payload", .keylen = 7, .expire_ms = -1, .idle = -1, .freq = -1};
    rdbErrCode code = RDB_OK;
    outcome rc = rdbDecodePayload(p, len, &base, h, NULL, &code, err, sizeof(err)) < 0 ? outcomeOfDecode(code) : OUTCOME_OK;
    if (rc != OUTCOME_OK) logError("%s: %s", o->payload, err);
    free(p);
    return rc;
}

/* With a key filter, the keys it leaves out never reach h: the report
 * and the digest are those of the subset. Said on stderr with the count. */
static outcome decodeSelected(const checkFileOptions *o, const rdbHandlers *h, checksum *cs) {
    if (!filterActive(o->filter)) return o->payload ? decodePayloadFile(o, h) : decodeFile(o, h, cs);
    filterRelay *fr = filterRelayNew(o->filter, h);
    rdbHandlers fh;
    if (!fr) return OUTCOME_INTERNAL;
    filterRelayHandlers(fr, &fh);
    outcome rc = o->payload ? decodePayloadFile(o, &fh) : decodeFile(o, &fh, cs);
    logInfo("%llu keys left out by --match/--exclude/--type", (unsigned long long)filterRelayFiltered(fr));
    filterRelayFree(fr);
    return rc;
}

/* A file's values are decoded and hashed on every core (checksumNewParallel);
 * a single payload is not worth the threads. */
outcome checkFileChecksum(const checkFileOptions *o) {
    if (!o->payload) {
        checksum *cs = checksumNewParallel(o->threads ? o->threads : rdbParallelDefaultWorkers());
        rdbHandlers h = {0};
        if (!cs) return OUTCOME_INTERNAL;
        checksumHandlers(cs, &h);
        outcome rc = decodeSelected(o, &h, cs);
        if (rc == OUTCOME_OK || rc == OUTCOME_CRC) checksumReport(cs, stdout, o->json);
        checksumFree(cs);
        return rc;
    }
    checksum *cs = checksumNew();
    rdbHandlers h = {0};
    if (!cs) return OUTCOME_INTERNAL;
    checksumHandlers(cs, &h);
    outcome rc = decodeSelected(o, &h, NULL);
    /* A CRC mismatch is a finding, not a crash: the report still shows it. */
    if (rc == OUTCOME_OK || rc == OUTCOME_CRC) checksumReport(cs, stdout, o->json);
    checksumFree(cs);
    return rc;
}

outcome checkFileDump(const checkFileOptions *o) {
    printer *p = printerNew(stdout);
    rdbHandlers h = {0};
    if (!p) return OUTCOME_INTERNAL;
    printerHandlers(p, &h);
    outcome rc = decodeSelected(o, &h, NULL);
    if (rc == OUTCOME_DECODE && ferror(stdout)) rc = OUTCOME_OK; /* reader went away (| head) */
    printerFree(p);
    return rc;
}

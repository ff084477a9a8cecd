/* fileimport.c -- --file F --target URL (see fileimport.h).
 *
 * One decoder over the file feeds two consumers through a tee: the
 * importer (import.h, which writes through the pipelined writer) and a
 * progress counter. The writer drains at the end; the outcome is picked
 * from the most specific cause.
 */
#include "fileimport.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ctarget.h"
#include "log.h"
#include "outcome.h"
#include "preflight.h"
#include "progress.h"
#include "rdb/decode.h"
#include "rdb/tee.h"
#include "stop.h"
#include "writer.h"

/* Connect, AUTH, server facts. */
static rsConn *openTarget(const fileImportOptions *o, rsServerInfo *info, outcome *rc) {
    char err[512];
    rsConn *conn = connOpen(o->target, &o->target_conn, err, sizeof(err));
    *rc = OUTCOME_CONNECT;
    if (!conn) {
        logError("target: %s", err);
        return NULL;
    }
    if (connServerInfo(conn, info) < 0) {
        logError("target %s: cannot read INFO server: %s", connName(conn), connError(conn));
        connClose(conn);
        return NULL;
    }
    *rc = OUTCOME_OK;
    return conn;
}

/* Progress while importing: a consumer that only looks at the decoder. */
typedef struct importProgress {
    progress *p;
    rdbDecoder *d;
    const importer *im;
    uint64_t n;
} importProgress;

static int onProgressKey(void *ctx, const rdbKeyInfo *k) {
    importProgress *ip = ctx;
    if ((++ip->n & 1023) == 0) progressUpdate(ip->p, rdbDecoderOffset(ip->d), importGetStats(ip->im)->written);
    return 0;
}

/* What was written in another form than the dump's, each conversion by
 * its name; "" when none. */
static void conversionsText(const importStats *st, char *out, size_t outlen) {
    out[0] = 0;
    if (st->dropped_field_ttls)
        snprintf(out, outlen, "; %llu hashes written without their field TTLs (--drop-field-ttls)",
                 (unsigned long long)st->dropped_field_ttls);
    if (st->lossy_stream) {
        size_t n = strlen(out);
        snprintf(out + n, outlen - n, "; %llu streams written without metadata the target's stream format "
                 "cannot hold", (unsigned long long)st->lossy_stream);
    }
    if (st->dropped_idmp) {
        size_t n = strlen(out);
        snprintf(out + n, outlen - n, "; %llu streams written without their IDMP records (Redis 8.6)",
                 (unsigned long long)st->dropped_idmp);
    }
    if (st->dropped_keymeta) {
        size_t n = strlen(out);
        snprintf(out + n, outlen - n, "; %llu keys written without their module metadata (Redis 8.6)",
                 (unsigned long long)st->dropped_keymeta);
    }
}

static void importSummary(const fileImportOptions *o, const importStats *st, double secs, const char *target) {
    /* Keys read but neither written, skipped nor failed: a stop came
     * between reading them and their reply. Counts always add up. */
    uint64_t done = importSettled(st);
    char rest[64] = "", conv[400];
    if (st->keys_read > done)
        snprintf(rest, sizeof(rest), "; %llu not attempted", (unsigned long long)(st->keys_read - done));
    conversionsText(st, conv, sizeof(conv));
    logInfo("%s: %llu keys read, %llu written%s in %.1f s (%.0f keys/s); skipped: %llu expired, "
            "%llu existing, %llu empty, %llu other db, %llu filtered; %llu failed, %llu not representable%s; "
            "%llu functions loaded%s",
            target, (unsigned long long)st->keys_read, (unsigned long long)st->written,
            st->native ? " (some as native commands)" : "", secs, secs > 0 ? st->written / secs : 0.0,
            (unsigned long long)st->skipped_expired, (unsigned long long)st->skipped_conflict,
            (unsigned long long)st->skipped_empty, (unsigned long long)st->skipped_db,
            (unsigned long long)st->skipped_filtered,
            (unsigned long long)st->failed, (unsigned long long)st->unrepresentable, conv,
            (unsigned long long)st->functions, rest);
}

/* Pick the error line and exit status of an import, from the most
 * specific cause: the input, a conflict, a refused write, the link. */
static outcome importOutcome(const fileImportOptions *o, rdbDecoder *d, int drc, int wrc, importer *im, writer *w,
                         rsConn *conn) {
    const importStats *st = importGetStats(im);
    unsigned long long n = (unsigned long long)st->written;
    if (drc < 0 && stopRequested() && !writerStopped(w)) {
        logError("%s: interrupted by %s at offset %llu: %llu keys written; the target holds a "
                "partial import", o->file, stopSignalName(), (unsigned long long)rdbDecoderOffset(d), n);
        return OUTCOME_INTERRUPTED;
    }
    if (drc < 0 && rdbDecoderErrorCode(d) != RDB_ERR_HANDLER) {
        logError("%s: %s (%llu keys written before it)", o->file, rdbDecoderError(d), n);
        return outcomeOfDecode(rdbDecoderErrorCode(d));
    }
    if (importConflicted(im)) {
        logError("%s (%llu keys written, counting those already sent when it stopped)", importError(im), n);
        return OUTCOME_CONFLICT;
    }
    if (writerStopped(w) || (drc < 0 && importError(im)[0])) {
        logError("%s (%llu keys written)", importError(im), n);
        return OUTCOME_WRITE;
    }
    if (wrc < 0 || drc < 0) {
        logError("target %s: %s (%llu keys written)", connName(conn),
                writerError(w)[0] ? writerError(w) : "write failed", n);
        return OUTCOME_CONNECT;
    }
    if (st->failed || st->unrepresentable || st->functions_failed) return OUTCOME_WRITE;
    return OUTCOME_OK;
}

/* Decode the file into the importer; the writer drains at the end. */
static outcome importFile(const fileImportOptions *o, rsConn *conn, const rsServerInfo *info, router *rt) {
    stopInput in;
    if (stopInputOpen(&in, o->file) < 0) {
        logError("%s: cannot open: %s", o->file, strerror(errno));
        return OUTCOME_INPUT;
    }
    importer *im = importNew(info, &o->imp);
    writerOptions wo = {.on_reply = importOnReply, .ctx = im};
    writer *w = !im ? NULL : rt ? writerNewRouted(rt, &wo) : writerNew(conn, &wo);
    struct stat sb;
    uint64_t total = o->file[0] != '-' && stat(o->file, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
    progress *pg = progressNew(o->quiet, "importing", total);
    importProgress ip = {pg, NULL, im, 0};
    rdbHandlers hi, hp = {.ctx = &ip, .key_end = onProgressKey}, h;
    rdbTee *tee = NULL;
    rdbDecoder *d = NULL;
    outcome rc = OUTCOME_INTERNAL;
    if (w && pg) {
        importSetWriter(im, w);
        importHandlers(im, &hi);
        tee = rdbTeeNew(&hi, &hp);
    }
    if (tee) {
        rdbTeeHandlers(tee, &h);
        rdbDecodeOptions dopt = {.ignore_crc = o->ignore_crc};
        d = rdbDecoderNew(in.r, &h, &dopt);
    }
    if (d) {
        ip.d = d;
        int drc = rdbDecode(d);
        int wrc = drc == 0 || !writerStopped(w) ? writerDrain(w) : -1;
        if (writerStopped(w) && writerSettle(w) == 0) importCleanup(im, conn); /* count what the target took */
        else if (drc < 0 && wrc == 0) importCleanup(im, conn); /* interrupted inside a native write */
        progressClear(pg);
        rc = importOutcome(o, d, drc, wrc, im, w, conn);
        importSummary(o, importGetStats(im), progressElapsed(pg), connName(conn));
        if (rt) ctargetSummary(rt);
    }
    rdbDecoderFree(d);
    rdbTeeFree(tee);
    progressFree(pg);
    writerFree(w);
    importFree(im);
    stopInputClose(&in);
    return rc;
}

/* A cluster target: the router, and the file's dbs held against db 0. */
static outcome openCluster(const fileImportOptions *o, rsConn *conn, router **rt) {
    char err[1024];
    int dbs[IMPORT_MAX_DBS * 4];
    if (ctargetOpen(conn, o->target, &o->target_conn, o->quiet, rt, err, sizeof(err)) < 0) {
        logError("target %s: %s", connName(conn), err);
        return OUTCOME_CONNECT;
    }
    if (!*rt) return OUTCOME_OK;
    int n = ctargetFileDbs(o->file, dbs, (int)(sizeof(dbs) / sizeof(*dbs)), err, sizeof(err));
    if (n > 0 && ctargetCheckDbs(connName(conn), dbs, n, &o->imp, err, sizeof(err)) < 0) {
        logError("%s", err);
        return OUTCOME_WRITE;
    }
    return OUTCOME_OK;
}

outcome fileImport(const fileImportOptions *o) {
    rsServerInfo info;
    outcome rc;
    router *rt = NULL;
    rsConn *conn = openTarget(o, &info, &rc);
    char err[512];
    if (conn) rc = openCluster(o, conn, &rt);
    /* On a cluster the checks ask a master (the URL may name a replica). */
    rsConn *check = rt ? routerMasterConn(rt, 0) : conn;
    if (conn && rc == OUTCOME_OK) rc = preflightImport(check, &info, o->file, o->flush_target, o->precheck);
    if (conn && rc == OUTCOME_OK &&
        (rt ? ctargetPrepare(rt, &info, o->flush_target, err, sizeof(err))
            : preflightPrepare(conn, &info, o->flush_target, err, sizeof(err))) < 0) {
        logError("%s", err);
        rc = OUTCOME_WRITE;
    }
    if (conn && rc == OUTCOME_OK) rc = importFile(o, conn, &info, rt);
    routerFree(rt);
    connClose(conn);
    return rc;
}

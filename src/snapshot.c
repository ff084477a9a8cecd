/* snapshot.c -- live snapshots to a file or a checksum; verification
 * (see snapshot.h). */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checksum.h"
#include "keydiff.h"
#include "log.h"
#include "outcome.h"
#include "progress.h"
#include "psync.h"
#include "rdb/decode.h"
#include "rdb/digest.h"
#include "rdb/rdbfile.h"
#include "scan.h"
#include "stop.h"

enum { SNAP_OK = 0, SNAP_FAIL = -1, SNAP_REFUSED = -2 };

/* ---- The replica path: RDB bytes straight off the wire ---- */

typedef struct wire {
    psyncTransfer t;
    int fd;            /* tee to a file, or -1 */
    int out_failed;    /* the tee failed: the output file, not the source */
} wire;

static ssize_t wireRead(void *src, void *buf, size_t cap, char *err, size_t errlen) {
    wire *w = src;
    if (stopRequested()) return snprintf(err, errlen, "interrupted by %s", stopSignalName()), -1;
    ssize_t n = psyncTransferRead(&w->t, buf, cap, err, errlen);
    if (n <= 0 || w->fd < 0 || rdbWriteFd(&w->fd, buf, (size_t)n) == 0) return n;
    snprintf(err, errlen, "cannot write the output file: %s", strerror(errno));
    w->out_failed = 1;
    return -1;
}

/* Give up waiting through the keepalive newlines once a stop is asked:
 * a source may prepare its snapshot for minutes. */
static int stopWaiting(void *ctx) {
    (void)ctx;
    return stopRequested();
}

/* Ask for a snapshot only; leave *line at the "$..." header. */
static int requestSnapshot(rsConn *c, const char *psync, char *line, size_t cap) {
    psyncReply rep;
    if (psyncHandshake(c, PSYNC_RDB_ONLY) < 0 || psyncRequest(c, psync, NULL, -1) < 0 ||
        psyncReadLine(c, line, cap, stopWaiting, NULL) < 0)
        return SNAP_FAIL;
    switch (psyncParseReply(line, &rep)) {
    case PSYNC_REFUSED:
        if (psyncRequestSync(c) < 0 || psyncReadLine(c, line, cap, stopWaiting, NULL) < 0) return SNAP_FAIL;
        return psyncIsRefusal(line) ? SNAP_REFUSED : SNAP_OK;
    case PSYNC_SNAPSHOT: return SNAP_OK; /* handled as SYNC: the header came at once */
    case PSYNC_FULLRESYNC: return psyncReadLine(c, line, cap, stopWaiting, NULL) < 0 ? SNAP_FAIL : SNAP_OK;
    default: return SNAP_FAIL;
    }
}

/* The outcome of a failed replica-path decode: the link, the output file,
 * or the snapshot itself. */
static outcome wireOutcome(const wire *w, rdbErrCode code) {
    if (code == RDB_ERR_IO) return w->out_failed ? OUTCOME_INPUT : OUTCOME_CONNECT;
    return outcomeOfDecode(code);
}

/* Decode the snapshot through h while teeing it to fd; on SNAP_FAIL, *why
 * says what failed. */
int snapshotDecode(const snapshotConfig *cfg, int fd, const rdbHandlers *h, outcome *why, char *err,
                   size_t errlen) {
    char line[512];
    rsConn *c = connOpen(cfg->source, &cfg->source_conn, err, errlen);
    *why = OUTCOME_CONNECT;
    if (!c) return SNAP_FAIL;
    int rc = requestSnapshot(c, cfg->psync_cmd, line, sizeof(line));
    wire w = {.fd = fd};
    char msg[300];
    if (rc == SNAP_OK && psyncTransferStart(&w.t, c, line, msg, sizeof(msg)) < 0) {
        snprintf(err, errlen, "source: %s", msg);
        rc = SNAP_FAIL;
    } else if (rc == SNAP_FAIL) {
        snprintf(err, errlen, "source: %s", connError(c)[0] ? connError(c) : line);
    }
    if (rc == SNAP_OK) {
        rdbReader *r = rdbReaderNew(wireRead, &w);
        rdbDecoder *d = r ? rdbDecoderNew(r, h, NULL) : NULL;
        if (!d || rdbDecode(d) < 0) {
            snprintf(err, errlen, "source snapshot: %s", d ? rdbDecoderError(d) : "out of memory");
            *why = d ? wireOutcome(&w, rdbDecoderErrorCode(d)) : OUTCOME_INTERNAL;
            rc = SNAP_FAIL;
        }
        rdbDecoderFree(d);
        rdbReaderFree(r);
    }
    connClose(c);
    return rc;
}

/* ---- The scan path ---- */

typedef struct fileSink {
    rdbFileWriter *fw;
    int db;
    char *err;         /* the pass's error buffer: a failed write leaves its reason */
    size_t errlen;
    int write_failed;  /* the output file failed, not the source */
} fileSink;

static int fileKey(void *ctx, const scanItem *it) {
    fileSink *fs = ctx;
    int rc = it->db != fs->db ? rdbFileSelectDb(fs->fw, (uint64_t)it->db) : 0;
    fs->db = it->db;
    if (rc == 0) rc = rdbFileKeyFromPayload(fs->fw, it->key, it->keylen, it->expire_ms, it->payload, it->len);
    if (rc < 0) {
        snprintf(fs->err, fs->errlen, "cannot write the output file: %s", strerror(errno ? errno : EIO));
        fs->write_failed = 1;
    }
    return rc;
}

static int fileFunction(void *ctx, const char *code, size_t len) {
    return rdbFileFunction(((fileSink *)ctx)->fw, code, len);
}

static rsConn *openScanSource(const snapshotConfig *cfg, rsServerInfo *info, char *err, size_t errlen) {
    rsConn *c = connOpen(cfg->source, &cfg->source_conn, err, errlen);
    if (c && connServerInfo(c, info) < 0) {
        snprintf(err, errlen, "source: INFO failed: %s", connError(c));
        connClose(c);
        return NULL;
    }
    return c;
}

static int scanToFile(const snapshotConfig *cfg, int fd, outcome *why, char *err, size_t errlen) {
    rsServerInfo info;
    rsConn *c = openScanSource(cfg, &info, err, errlen);
    *why = OUTCOME_CONNECT;
    if (!c) return -1;
    int valkey = rdbServerFlavour(info.is_valkey, info.rdb_version) == RDB_FLAVOUR_VALKEY;
    fileSink fs = {rdbFileWriterNew(rdbWriteFd, &fd, info.rdb_version, valkey ? RDB_FLAVOUR_VALKEY : RDB_FLAVOUR_REDIS),
                   -1, err, errlen, 0};
    scanOptions so = {cfg->scan_count, cfg->rate, cfg->quiet};
    scanStats st = {0};
    int rc = fs.fw ? 0 : -1;
    if (rc == 0) rc = rdbFileAux(fs.fw, valkey ? "valkey-ver" : "redis-ver",
                                 valkey ? info.valkey_version : info.redis_version);
    if (rc == 0) rc = rdbFileAux(fs.fw, "rdbsync", "scan");
    if (rc == 0) rc = scanFunctions(c, fileFunction, &fs, err, errlen);
    if (rc == 0 && (rc = scanPass(c, &info, &so, fileKey, &fs, &st, err, errlen)) < 0 && fs.write_failed)
        *why = OUTCOME_INPUT;
    if (rc == 0 && (rc = rdbFileFinish(fs.fw)) < 0) *why = OUTCOME_INPUT;
    if (rc < 0 && !err[0]) snprintf(err, errlen, "cannot write the output file: %s", strerror(errno)),
                           *why = OUTCOME_INPUT;
    rdbFileWriterFree(fs.fw);
    connClose(c);
    return rc;
}

/* ---- --source --file ---- */

outcome snapshotToFile(const snapshotConfig *cfg, const char *path) {
    char tmp[4096], err[800] = "";
    outcome why = OUTCOME_CONNECT;
    snprintf(tmp, sizeof(tmp), "%s.rdbsync-tmp", path);
    /* 0600: a snapshot holds every key of the source, secrets included
     * (a leftover temp file of a killed run may have other permissions). */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        logError("%s: cannot create: %s", tmp, strerror(errno));
        return OUTCOME_INPUT;
    }
    checksum *cs = checksumNew();
    rdbHandlers h = {0};
    checksumHandlers(cs, &h);
    int rc = cfg->mode == 2 ? SNAP_REFUSED : snapshotDecode(cfg, fd, &h, &why, err, sizeof(err));
    const char *how = "replication";
    if (rc == SNAP_REFUSED && cfg->mode != 1) {
        if (cfg->mode == 0) logInfo("the source refuses SYNC and PSYNC: rebuilding the snapshot from SCAN + DUMP");
        how = "SCAN + DUMP";
        rc = ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 ? scanToFile(cfg, fd, &why, err, sizeof(err)) : -1;
    }
    if (rc == 0 && (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0)) {
        snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
        why = OUTCOME_INPUT;
        rc = -1;
        fd = -1;
    }
    if (rc == 0) {
        logInfo("wrote %s from the source by %s", path, how);
    } else if (stopRequested()) {
        off_t got = fd >= 0 ? lseek(fd, 0, SEEK_CUR) : 0;
        if (fd >= 0) close(fd);
        unlink(tmp);
        logError("interrupted by %s after %lld bytes of the snapshot (by %s): removed the partial "
                "%s; %s not written", stopSignalName(), (long long)(got > 0 ? got : 0), how, tmp, path);
        why = OUTCOME_INTERRUPTED;
    } else {
        if (fd >= 0) close(fd);
        unlink(tmp);
        logError("%s", rc == SNAP_REFUSED ? "the source refuses SYNC and PSYNC (--mode replica)" : err);
    }
    checksumFree(cs);
    return rc == 0 ? OUTCOME_OK : rc == SNAP_REFUSED ? OUTCOME_CONNECT : why;
}

/* ---- --source --checksum ---- */

typedef struct sumSink {
    rdbHandlers h;
    char *err;
    size_t errlen;
    rdbErrCode payload_code; /* why a DUMP payload failed to decode, or RDB_OK */
} sumSink;

static int sumKey(void *ctx, const scanItem *it) {
    sumSink *s = ctx;
    rdbKeyInfo base = {.db = (uint64_t)it->db, .key = it->key, .keylen = it->keylen, .expire_ms = it->expire_ms,
                       .idle = -1, .freq = -1};
    rdbErrCode code = RDB_OK;
    int rc = rdbDecodePayload(it->payload, it->len, &base, &s->h, NULL, &code, s->err, s->errlen);
    if (rc < 0) s->payload_code = code;
    return rc;
}

static int sumFunction(void *ctx, const char *code, size_t len) {
    sumSink *s = ctx;
    rdbFunction fn = {.code = code, .len = len};
    return s->h.function ? s->h.function(s->h.ctx, &fn) : 0;
}

static int scanChecksum(const snapshotConfig *cfg, const rdbHandlers *h, outcome *why, char *err, size_t errlen) {
    rsServerInfo info;
    rsConn *c = openScanSource(cfg, &info, err, errlen);
    *why = OUTCOME_CONNECT;
    if (!c) return -1;
    sumSink s = {*h, err, errlen, RDB_OK};
    scanOptions so = {cfg->scan_count, cfg->rate, cfg->quiet};
    scanStats st = {0};
    int rc = scanFunctions(c, sumFunction, &s, err, errlen);
    if (rc == 0) rc = scanPass(c, &info, &so, sumKey, &s, &st, err, errlen);
    if (s.payload_code != RDB_OK) *why = outcomeOfDecode(s.payload_code);
    connClose(c);
    return rc;
}

outcome snapshotChecksum(const snapshotConfig *cfg) {
    char err[800] = "";
    outcome why = OUTCOME_CONNECT;
    checksum *cs = checksumNew();
    rdbHandlers h = {0};
    checksumHandlers(cs, &h);
    int rc = cfg->mode == 2 ? SNAP_REFUSED : snapshotDecode(cfg, -1, &h, &why, err, sizeof(err));
    if (rc == SNAP_REFUSED && cfg->mode != 1) {
        checksumFree(cs); /* start the counts again */
        cs = checksumNew();
        checksumHandlers(cs, &h);
        rc = scanChecksum(cfg, &h, &why, err, sizeof(err));
    }
    if (rc == 0) checksumReport(cs, stdout, cfg->json);
    else if (stopRequested())
        logError("interrupted by %s: no report (the snapshot was not read to its end)", stopSignalName()),
            why = OUTCOME_INTERRUPTED;
    else logError("%s", rc == SNAP_REFUSED ? "the source refuses SYNC and PSYNC (--mode replica)" : err);
    checksumFree(cs);
    return rc == 0 ? OUTCOME_OK : rc == SNAP_REFUSED ? OUTCOME_CONNECT : why;
}

/* ---- --verify ---- */

/* One key's digest (its K term): decode a payload into a fresh digest. */
static int keyDigest(const scanItem *it, unsigned char out[RDB_DIGEST_LEN], char *err, size_t errlen) {
    rdbDigest *dg = rdbDigestNew();
    rdbHandlers h;
    if (!dg) return -1;
    rdbDigestHandlers(dg, &h);
    rdbKeyInfo base = {.db = (uint64_t)it->db, .key = it->key, .keylen = it->keylen, .expire_ms = it->expire_ms,
                       .idle = -1, .freq = -1};
    int rc = rdbDecodePayload(it->payload, it->len, &base, &h, NULL, NULL, err, errlen);
    rdbDigestFinal(dg, out);
    rdbDigestFree(dg);
    return rc;
}

typedef struct verifier {
    rsConn *other;
    rsServerInfo oinfo;
    const verifySource *others; /* a cluster source: the node of each key's slot; else NULL */
    const char *side;   /* which side 'other' is, for messages */
    int compare;        /* 1: compare content; 0: existence only */
    uint64_t checked, differ, missing, noted;
    progress *pg;       /* status lines; NULL: none */
    int quiet;          /* -q: no notes */
    uint64_t base;      /* keys checked by the passes before this one */
    char *err;
    size_t errlen;
} verifier;

static void reportKey(verifier *v, const scanItem *it, const char *what) {
    if (v->differ + v->missing > 10) return;
    char kr[300];
    rdbKeyRepr(it->key, it->keylen, kr, sizeof(kr));
    printf("db %d key '%s': %s\n", it->db, kr, what);
}

/* A part equality leaves out (keydiff.h) differs: a note on stderr for the
 * first few keys, counted in the summary. */
static void noteKey(verifier *v, const scanItem *it, const char *what) {
    if (v->noted++ >= 3 || v->quiet) return;
    char kr[300];
    rdbKeyRepr(it->key, it->keylen, kr, sizeof(kr));
    logInfo("note: db %d key '%s': %s (not compared: Redis's own replicas do not keep it equal)", it->db, kr,
            what);
}

static void verifyProgress(verifier *v) {
    if (!progressDue(v->pg, 0)) return;
    if (v->compare)
        progressLine(v->pg, "verify", "verify: %llu source keys compared, %llu differ, %llu missing on the target",
                     (unsigned long long)v->checked, (unsigned long long)v->differ, (unsigned long long)v->missing);
    else
        progressLine(v->pg, "verify", "verify: %llu source keys compared; looking for keys only on the target: "
                     "%llu target keys checked, %llu only there", (unsigned long long)v->base,
                     (unsigned long long)v->checked, (unsigned long long)v->missing);
}

/* Content: the digest terms first (cheap); where they differ, keydiff
 * says which part does, or that only a part not compared does. */
static int compareKey(verifier *v, const scanItem *it, const scanItem *o) {
    unsigned char a[RDB_DIGEST_LEN], b[RDB_DIGEST_LEN];
    if (keyDigest(it, a, v->err, v->errlen) < 0 || keyDigest(o, b, v->err, v->errlen) < 0) return -1;
    if (memcmp(a, b, sizeof(a)) == 0) return 0;
    char what[1400], msg[1500];
    int r = keydiffCompare(it, o, what, sizeof(what), v->err, v->errlen);
    if (r < 0) return -1;
    if (r == KEYDIFF_NOTED) noteKey(v, it, what);
    if (r != KEYDIFF_DIFFER) return 0;
    v->differ++;
    snprintf(msg, sizeof(msg), "differs: %s", what);
    reportKey(v, it, msg);
    return 0;
}

static int verifyKey(void *ctx, const scanItem *it) {
    verifier *v = ctx;
    scanItem o;
    v->checked++;
    verifyProgress(v);
    rsConn *other = v->other;
    const rsServerInfo *oinfo = &v->oinfo;
    if (v->others) {
        int i = v->others->owner(v->others->ctx, it->key, it->keylen);
        other = v->others->conns[i], oinfo = &v->others->infos[i];
    }
    int got = scanGetKey(other, oinfo, it->db, it->key, it->keylen, &o, v->err, v->errlen);
    if (got < 0) return -1;
    if (got == 0) {
        v->missing++;
        reportKey(v, it, v->compare ? "missing on the target" : "only on the target");
        return 0;
    }
    int rc = v->compare ? compareKey(v, it, &o) : 0;
    free((void *)o.payload);
    return rc;
}

/* Both passes over the sources given: every source key on the target
 * with the same content, then every target key on a source. */
static outcome verifyPasses(const snapshotConfig *cfg, const verifySource *vs, rsConn *t, rsServerInfo *tinfo,
                            char *err, size_t errlen) {
    scanOptions so = {cfg->scan_count, cfg->rate, 1};
    scanStats st1 = {0}, st2 = {0};
    progress *pg = progressNew(cfg->quiet, "verify", 0); /* NULL (out of memory): no status lines */
    verifier fwd = {.other = t, .oinfo = *tinfo, .side = "target", .compare = 1, .pg = pg, .quiet = cfg->quiet,
                    .err = err, .errlen = errlen};
    verifier back = {.others = vs->n > 1 ? vs : NULL, .side = "source", .compare = 0, .pg = pg, .err = err,
                     .errlen = errlen};
    if (vs->n == 1) back.other = vs->conns[0], back.oinfo = vs->infos[0];
    int rc = 0;
    for (int i = 0; rc == 0 && i < vs->n; i++)
        rc = scanPass(vs->conns[i], &vs->infos[i], &so, verifyKey, &fwd, &st1, err, errlen);
    back.base = fwd.checked;
    if (rc == 0) rc = scanPass(t, tinfo, &so, verifyKey, &back, &st2, err, errlen);
    progressClear(pg);
    progressFree(pg);
    if (rc < 0 && stopRequested()) {
        logError("interrupted by %s after %llu source keys: no verdict", stopSignalName(),
                (unsigned long long)fwd.checked);
        return OUTCOME_INTERRUPTED;
    }
    if (rc < 0) {
        logError("%s", err);
        return OUTCOME_CONNECT;
    }
    if (fwd.noted > 3 && !cfg->quiet) logInfo("note: %llu keys in all differ only in parts not compared", (unsigned long long)fwd.noted);
    int equal = fwd.missing + fwd.differ + back.missing == 0;
    printf("verify: %s: %llu source keys checked, %llu differ, %llu missing on the target, %llu only on the target\n",
           equal ? "equal" : "DIFFERENT", (unsigned long long)fwd.checked, (unsigned long long)fwd.differ,
           (unsigned long long)fwd.missing, (unsigned long long)back.missing);
    return equal ? OUTCOME_OK : OUTCOME_DIFFER;
}

outcome snapshotVerifySources(const snapshotConfig *cfg, const verifySource *vs) {
    char err[800] = "";
    rsServerInfo tinfo = {0};
    snapshotConfig tc = *cfg;
    tc.source = cfg->target, tc.source_conn = cfg->target_conn;
    rsConn *t = openScanSource(&tc, &tinfo, err, sizeof(err));
    if (!t) {
        logError("%s", err);
        return OUTCOME_CONNECT;
    }
    outcome rc = verifyPasses(cfg, vs, t, &tinfo, err, sizeof(err));
    connClose(t);
    return rc;
}

outcome snapshotVerify(const snapshotConfig *cfg) {
    char err[800] = "";
    rsServerInfo sinfo = {0};
    rsConn *s = openScanSource(cfg, &sinfo, err, sizeof(err));
    if (!s) {
        logError("%s", err);
        return OUTCOME_CONNECT;
    }
    verifySource vs = {.n = 1, .conns = &s, .infos = &sinfo};
    outcome rc = snapshotVerifySources(cfg, &vs);
    connClose(s);
    return rc;
}

/* snapshot.c -- live snapshots to a file or a checksum (see snapshot.h). */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "checksum.h"
#include "log.h"
#include "outcome.h"
#include "psync.h"
#include "rdb/decode.h"
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

rsConn *snapshotOpenSource(const snapshotConfig *cfg, rsServerInfo *info, char *err, size_t errlen) {
    rsConn *c = connOpen(cfg->source, &cfg->source_conn, err, errlen);
    if (c && connServerInfo(c, info) < 0) {
        snprintf(err, errlen, "source: INFO failed: %s", connError(c));
        connClose(c);
        return NULL;
    }
    return c;
}

/* A new RDB writer onto *fd for keys DUMPed from the server info
 * describes: its RDB version and flavour, its version as an AUX field. */
static rdbFileWriter *scanWriterNew(const rsServerInfo *info, int *fd) {
    int valkey = rdbServerFlavour(info->is_valkey, info->rdb_version) == RDB_FLAVOUR_VALKEY;
    rdbFileWriter *fw = rdbFileWriterNew(rdbWriteFd, fd, info->rdb_version, valkey ? RDB_FLAVOUR_VALKEY : RDB_FLAVOUR_REDIS);
    if (fw && (rdbFileAux(fw, valkey ? "valkey-ver" : "redis-ver", valkey ? info->valkey_version : info->redis_version) < 0 ||
               rdbFileAux(fw, "rdbsync", "scan") < 0)) {
        rdbFileWriterFree(fw);
        fw = NULL;
    }
    return fw;
}

/* Every key and library written into a new *fw on *fd (this source's RDB
 * version); the caller finishes and frees it. */
static int scanWrite(const snapshotConfig *cfg, rdbFileWriter **fw, int *fd, outcome *why, char *err,
                     size_t errlen) {
    rsServerInfo info;
    rsConn *c = snapshotOpenSource(cfg, &info, err, errlen);
    *why = OUTCOME_CONNECT;
    if (!c) return -1;
    *fw = scanWriterNew(&info, fd);
    fileSink fs = {*fw, -1, err, errlen, 0};
    scanOptions so = {.count = cfg->scan_count, .rate = cfg->rate, .quiet = cfg->quiet};
    scanStats st = {0};
    int rc = fs.fw ? 0 : -1;
    if (rc == 0) rc = scanFunctions(c, fileFunction, &fs, err, errlen);
    if (rc == 0 && (rc = scanPass(c, &info, &so, fileKey, &fs, &st, err, errlen)) < 0 && fs.write_failed)
        *why = OUTCOME_INPUT;
    if (rc < 0 && !err[0]) snprintf(err, errlen, "cannot write the output file: %s", strerror(errno ? errno : EIO)),
                           *why = OUTCOME_INPUT;
    connClose(c);
    return rc;
}

static int scanToFile(const snapshotConfig *cfg, int fd, outcome *why, char *err, size_t errlen) {
    rdbFileWriter *fw = NULL;
    int rc = scanWrite(cfg, &fw, &fd, why, err, errlen);
    if (rc == 0 && (rc = rdbFileFinish(fw)) < 0) {
        snprintf(err, errlen, "cannot write the output file: %s", strerror(errno ? errno : EIO));
        *why = OUTCOME_INPUT;
    }
    rdbFileWriterFree(fw);
    return rc;
}

/* ---- --source --file ---- */

int snapshotOutOpen(snapshotOut *o, const char *path) {
    snprintf(o->tmp, sizeof(o->tmp), "%s.rdbsync-tmp", path);
    o->path = path;
    /* 0600: a snapshot holds every key of the source, secrets included
     * (a leftover temp file of a killed run may have other permissions). */
    unlink(o->tmp);
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (o->fd >= 0) return 0;
    logError("%s: cannot create: %s", o->tmp, strerror(errno));
    return -1;
}

outcome snapshotOutFinish(snapshotOut *o, int rc, outcome why, const char *from, const char *how, const char *err) {
    char msg[1200];
    snprintf(msg, sizeof(msg), "%s", err);
    if (rc == 0 && (fsync(o->fd) < 0 || close(o->fd) < 0 || rename(o->tmp, o->path) < 0)) {
        snprintf(msg, sizeof(msg), "%s: %s", o->path, strerror(errno));
        why = OUTCOME_INPUT;
        rc = -1;
        o->fd = -1;
    }
    if (rc == 0) {
        logInfo("wrote %s from %s by %s", o->path, from, how);
        return OUTCOME_OK;
    }
    off_t got = o->fd >= 0 ? lseek(o->fd, 0, SEEK_CUR) : 0;
    if (o->fd >= 0) close(o->fd);
    unlink(o->tmp);
    if (stopRequested()) {
        logError("interrupted by %s after %lld bytes of the snapshot (by %s): removed the partial "
                 "%s; %s not written", stopSignalName(), (long long)(got > 0 ? got : 0), how, o->tmp, o->path);
        return OUTCOME_INTERRUPTED;
    }
    logError("%s", msg);
    return why;
}

outcome snapshotToFile(const snapshotConfig *cfg, const char *path) {
    char err[800] = "";
    outcome why = OUTCOME_CONNECT;
    snapshotOut o;
    if (snapshotOutOpen(&o, path) < 0) return OUTCOME_INPUT;
    checksum *cs = checksumNew();
    rdbHandlers h = {0};
    checksumHandlers(cs, &h);
    int rc = cfg->mode == 2 ? SNAP_REFUSED : snapshotDecode(cfg, o.fd, &h, &why, err, sizeof(err));
    const char *how = "replication";
    if (rc == SNAP_REFUSED && cfg->mode != 1) {
        if (cfg->mode == 0) logInfo("the source refuses SYNC and PSYNC: rebuilding the snapshot from SCAN + DUMP");
        how = "SCAN + DUMP";
        rc = ftruncate(o.fd, 0) == 0 && lseek(o.fd, 0, SEEK_SET) == 0 ? scanToFile(cfg, o.fd, &why, err, sizeof(err))
                                                                     : -1;
    }
    if (rc == SNAP_REFUSED) snprintf(err, sizeof(err), "the source refuses SYNC and PSYNC (--mode replica)"),
                            why = OUTCOME_CONNECT;
    outcome out = snapshotOutFinish(&o, rc, why, "the source", how, err);
    checksumFree(cs);
    return out;
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

/* A library the handlers refuse (a cluster's shards holding one name with
 * other code, libunion.h) stops the pass as a refused RDB record would:
 * their reason, RDB_ERR_HANDLER. */
static int sumFunction(void *ctx, const char *code, size_t len) {
    sumSink *s = ctx;
    rdbFunction fn = {.code = code, .len = len};
    if (!s->h.function || s->h.function(s->h.ctx, &fn) == 0) return 0;
    const char *why = s->h.error ? s->h.error(s->h.ctx) : NULL;
    snprintf(s->err, s->errlen, "%s", why && *why ? why : "a function library was refused");
    s->payload_code = RDB_ERR_HANDLER;
    return -1;
}

/* How many keys the filter left out, on stderr (the report is stdout's). */
static void filteredNote(uint64_t n, int server_side) {
    logInfo("%llu keys left out by --match/--exclude/--type%s", (unsigned long long)n,
            server_side ? " (more by SCAN MATCH/TYPE on the source, not counted)" : "");
}

/* What a replica-path snapshot begins with: the RDB version and flavour
 * (those of the DUMP payloads that follow), the server's version. */
static int scanHeader(const rsServerInfo *info, const rdbHandlers *h, char *err, size_t errlen) {
    int valkey = rdbServerFlavour(info->is_valkey, info->rdb_version) == RDB_FLAVOUR_VALKEY;
    const char *k = valkey ? "valkey-ver" : "redis-ver", *v = valkey ? info->valkey_version : info->redis_version;
    int rc = h->header ? h->header(h->ctx, info->rdb_version, valkey ? RDB_FLAVOUR_VALKEY : RDB_FLAVOUR_REDIS) : 0;
    if (rc == 0 && h->aux) rc = h->aux(h->ctx, k, strlen(k), v, strlen(v));
    const char *why = rc < 0 && h->error ? h->error(h->ctx) : NULL;
    if (rc < 0) snprintf(err, errlen, "%s", why && *why ? why : "the snapshot's header was refused");
    return rc;
}

int snapshotScanDecode(const snapshotConfig *cfg, const unsigned char *slots, int functions, int header,
                       const rdbHandlers *h, outcome *why, char *err, size_t errlen) {
    rsServerInfo info;
    rsConn *c = snapshotOpenSource(cfg, &info, err, errlen);
    *why = OUTCOME_CONNECT;
    if (!c) return -1;
    sumSink s = {*h, err, errlen, RDB_OK};
    scanOptions so = {.count = cfg->scan_count, .rate = cfg->rate, .quiet = cfg->quiet, .filter = cfg->filter,
                      .slots = slots};
    scanStats st = {0};
    int rc = header ? scanHeader(&info, h, err, errlen) : 0;
    if (rc < 0) *why = OUTCOME_DECODE;
    if (rc == 0 && functions) rc = scanFunctions(c, sumFunction, &s, err, errlen);
    if (rc == 0) rc = scanPass(c, &info, &so, sumKey, &s, &st, err, errlen);
    if (rc == 0 && filterActive(cfg->filter) && !cfg->quiet) filteredNote(st.filtered, st.server_side);
    if (s.payload_code != RDB_OK) *why = outcomeOfDecode(s.payload_code);
    connClose(c);
    return rc;
}

/* rdbsync's --exactly-once checkpoint is no data of the source's: a
 * target's digest leaves it out, so that it equals its source's. */
const char *snapshotCheckpointName(const snapshotConfig *cfg) {
    return cfg->checkpoint_key ? cfg->checkpoint_key : CHECKPOINT_DEFAULT_KEY;
}

void snapshotNoteCheckpoint(const snapshotConfig *cfg, uint64_t n) {
    char kr[300];
    if (!n || cfg->quiet) return;
    rdbKeyRepr(snapshotCheckpointName(cfg), strlen(snapshotCheckpointName(cfg)), kr, sizeof(kr));
    logInfo("note: left out db %d key '%s', the checkpoint of rdbsync --exactly-once", CHECKPOINT_DB, kr);
}

checksum *snapshotSum(const snapshotConfig *cfg, outcome *why, snapshotSumInfo *si, char *err, size_t errlen) {
    checksum *cs = checksumNew();
    rdbHandlers ch = {0}, h, fh;
    checkpointHide hide;
    *why = OUTCOME_CONNECT, *si = (snapshotSumInfo){"replication", 0};
    if (!cs) return snprintf(err, errlen, "out of memory"), NULL;
    checksumHandlers(cs, &ch);
    checkpointHideHandlers(&hide, &ch, snapshotCheckpointName(cfg), &h);
    /* With a filter, the keys it leaves out never reach the checksum. */
    filterRelay *fr = filterActive(cfg->filter) ? filterRelayNew(cfg->filter, &h) : NULL;
    if (fr) filterRelayHandlers(fr, &fh);
    int rc = cfg->mode == 2 ? SNAP_REFUSED : snapshotDecode(cfg, -1, fr ? &fh : &h, why, err, errlen);
    if (rc == 0 && fr && !cfg->quiet) filteredNote(filterRelayFiltered(fr), 0);
    filterRelayFree(fr);
    if (rc == SNAP_REFUSED && cfg->mode != 1) {
        checksumFree(cs); /* start the counts again */
        cs = checksumNew();
        if (!cs) return snprintf(err, errlen, "out of memory"), NULL;
        checksumHandlers(cs, &ch);
        checkpointHideHandlers(&hide, &ch, snapshotCheckpointName(cfg), &h);
        si->how = "SCAN + DUMP";
        rc = snapshotScanDecode(cfg, NULL, 1, 0, &h, why, err, errlen);
    }
    if (rc == 0) si->checkpoint_hidden = hide.hidden, snapshotNoteCheckpoint(cfg, hide.hidden);
    if (rc == 0) return cs;
    if (rc == SNAP_REFUSED) snprintf(err, errlen, "the source refuses SYNC and PSYNC (--mode replica)");
    if (stopRequested()) *why = OUTCOME_INTERRUPTED;
    checksumFree(cs);
    return NULL;
}

outcome snapshotChecksum(const snapshotConfig *cfg) {
    char err[800] = "";
    outcome why;
    snapshotSumInfo si;
    checksum *cs = snapshotSum(cfg, &why, &si, err, sizeof(err));
    if (cs) checksumReport(cs, stdout, cfg->json);
    else if (stopRequested())
        logError("interrupted by %s: no report (the snapshot was not read to its end)", stopSignalName());
    else logError("%s", err);
    checksumFree(cs);
    return cs ? OUTCOME_OK : why;
}

/* import.c -- write every key of a snapshot to the target (see import.h).
 *
 * The decoder calls key_begin (we decide: skip, fast path, re-encode), the
 * content callbacks (we only count elements, to spot empty collections),
 * then raw_value with the value's bytes, where the command is built and
 * queued. Replies come back later through importOnReply, matched to their
 * key by the writer's ring, and are counted there.
 */
#include "import.h"
#include "resp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cluster.h"
#include "grace.h"
#include "log.h"
#include "native.h"
#include "preflight.h"
#include "rdb/encode.h"
#include "router.h"


typedef enum { D_SKIP, D_FAST, D_REENCODE } decision;

struct importer {
    writer *w;
    rsServerInfo target;
    importOptions o;
    importStats st;
    int src_version;
    rdbFlavour src_flavour;
    decision dec;
    uint64_t elements;       /* content callbacks seen for the current key */
    int64_t now_ms;          /* refreshed per key, for the expired check */
    rdbBuf payload;
    rdbEncoder *enc;
    int conflicted;
    int said_relative;       /* the target takes no ABSTTL: said once */
    rdbBuf pending_tmp;      /* temporary key of a native write that did not finish */
    int64_t pending_db;      /* its target db, -1 when none */
    rdbFileWriter *fw;       /* importSetRdb: records instead of commands */
    long fw_dbs;             /* the target's databases */
    int64_t fw_db;           /* the db of the last SELECTDB written, -1 none */
    importRdbShare *share;   /* importShareRdb: fw is shared with other importers */
    uint64_t src_db;         /* the source's db at the decode position */
    char err[512];
};

static void keyMsg(const char *what, uint64_t db, const char *k, size_t klen, const char *detail) {
    char kr[300];
    rdbKeyRepr(k ? k : "", k ? klen : 0, kr, sizeof(kr));
    logError("%s: db %llu, key '%s'%s%s", what, (unsigned long long)db, kr,
            detail ? ": " : "", detail ? detail : "");
}

/* A refusal by the target: one line per cause (log.h), counted. */
static void refusedMsg(const char *what, uint64_t db, const char *k, size_t klen, const char *server_err) {
    char kr[300];
    rdbKeyRepr(k ? k : "", k ? klen : 0, kr, sizeof(kr));
    logRefused(what, server_err, "%s: db %llu, key '%s': %s", what, (unsigned long long)db, kr, server_err);
}

static int targetAtLeast(const importer *im, int major, int minor) {
    return connServerAtLeast(&im->target, major, minor);
}

static uint64_t targetDb(const importer *im, uint64_t db) {
    if (db < IMPORT_MAX_DBS && im->o.db_map[db] >= 0) return (uint64_t)im->o.db_map[db];
    return db;
}

static int dbSelected(const importer *im, uint64_t db) {
    if (im->o.n_db_only == 0) return 1;
    for (int i = 0; i < im->o.n_db_only; i++)
        if ((uint64_t)im->o.db_only[i] == db) return 1;
    return 0;
}

/* ---- Decisions ---- */

static int onHeader(void *ctx, int version, rdbFlavour flavour) {
    importer *im = ctx;
    im->src_version = version;
    im->src_flavour = flavour;
    return 0;
}

/* A key written with a loss counts once, whatever it lost. */
static int onKeyBegin(void *ctx, const rdbKeyInfo *k) {
    importer *im = ctx;
    im->st.keys_read++;
    im->elements = 0;
    im->now_ms = clockWallMs();
    im->dec = D_SKIP;
    if (!dbSelected(im, k->db)) {
        im->st.skipped_db++;
    } else if (!filterKey(im->o.filter, k->key, k->keylen, k->ltype)) {
        im->st.skipped_filtered++;
    } else if (k->expire_ms != -1 && k->expire_ms <= im->now_ms && im->o.expire_grace_ms <= 0) {
        /* A live source sends the DEL of such a key later, and may have
         * renewed it first: with a grace it is written (see sendRestore). */
        im->st.skipped_expired++;
    } else {
        im->dec = rdbTargetSupportsType(k->type, im->src_flavour, im->target.rdb_version,
                                        rdbServerFlavour(im->target.is_valkey, im->target.rdb_version))
                      ? D_FAST : D_REENCODE;
    }
    return 0;
}

static int wantRaw(void *ctx, const rdbKeyInfo *k) { return ((importer *)ctx)->dec != D_SKIP; }

static int countElem(void *ctx) {
    ((importer *)ctx)->elements++;
    return 0;
}
/* Strings come in pieces (decode.h): a huge one is never whole here; the
 * native path reads it again from the raw bytes, a piece at a time. */
static int onStringChunk(void *ctx, const char *p, size_t len, uint64_t off, uint64_t total) {
    return off == 0 ? countElem(ctx) : 0;
}
static int onItem(void *ctx, const char *p, size_t len) { return countElem(ctx); }
static int onZset(void *ctx, const char *p, size_t len, double s) { return countElem(ctx); }
static int onHash(void *ctx, const char *f, size_t fl, const char *v, size_t vl, int64_t e) {
    return countElem(ctx);
}
static int onStreamMeta(void *ctx, const rdbStreamMeta *m) { return countElem(ctx); }
static int onModule(void *ctx, const char *name, int encver) { return countElem(ctx); }

/* ---- Writing one key ---- */

/* A target before Redis 5.0 has no RESTORE ... ABSTTL: the TTL goes
 * relative, counted from when the target runs the command. So it is taken
 * from the clock as late as we can, as the RESTORE is queued (not when the
 * key was read: re-encoding a big value takes time), and the target's
 * times still land later by the time the command waits in the pipeline.
 * Said once per run. */
static int64_t relativeTtl(importer *im, int64_t expire_ms) {
    if (!im->said_relative) {
        im->said_relative = 1;
        logInfo("the target (Redis %s) cannot take absolute expire times (RESTORE ... ABSTTL needs 5.0): "
                "TTLs are sent relative, computed as each RESTORE is queued, and land later by the time "
                "it waits in the pipeline (milliseconds)", im->target.redis_version);
    }
    return expire_ms - clockWallMs();
}

static int rdbRecord(importer *im, const rdbKeyInfo *k, int type, const unsigned char *p, size_t len);

/* RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s | FREQ n]; with
 * importSetRdb, the same key as an RDB record instead. */
static int sendRestore(importer *im, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    if (im->fw) return rdbRecord(im, k, -1, p, len);
    const char *argv[9];
    size_t lens[9];
    char ttl[24], hint[24];
    int argc = 0, abs = targetAtLeast(im, 5, 0);
    int64_t t = 0;
    int absttl = 0;
    if (k->expire_ms != -1 && graceNear(k->expire_ms, im->now_ms, im->o.expire_grace_ms))
        t = im->o.expire_grace_ms; /* relative: counts from when the target applies it */
    else if (k->expire_ms != -1 && abs)
        t = k->expire_ms, absttl = 1;
    else if (k->expire_ms != -1)
        t = relativeTtl(im, k->expire_ms);
    if (k->expire_ms != -1 && t < 1) t = 1;
#define ARG(s, l) (argv[argc] = (s), lens[argc++] = (l))
    ARG("RESTORE", 7);
    ARG(k->key, k->keylen);
    ARG(ttl, respI64(ttl, t)); /* per key: no printf */
    ARG((const char *)p, len);
    if (im->o.on_conflict == CONFLICT_REPLACE) ARG("REPLACE", 7);
    if (absttl) ARG("ABSTTL", 6);
    if (abs && k->idle >= 0) {
        ARG("IDLETIME", 8);
        ARG(hint, (size_t)snprintf(hint, sizeof(hint), "%lld", (long long)k->idle));
    } else if (abs && k->freq >= 0) {
        ARG("FREQ", 4);
        ARG(hint, (size_t)snprintf(hint, sizeof(hint), "%d", k->freq));
    }
#undef ARG
    writerTag tag = {"RESTORE", targetDb(im, k->db), k->key, k->keylen, 0, WRITER_K_RESTORE};
    im->st.bytes += len;
    if (writerSelect(im->w, targetDb(im, k->db)) < 0) return -1;
    return writerCommand(im->w, argc, argv, lens, &tag);
}

/* Decode the captured value again, from memory, into the encoder. */
static int reencode(importer *im, const rdbKeyInfo *k, const unsigned char *raw, size_t len,
                    const unsigned char **p, size_t *plen, unsigned *flags) {
    rdbHandlers h = {0};
    rdbEncoderSetNow(im->enc, im->now_ms);
    rdbEncoderHandlers(im->enc, &h);
    rdbReader *r = rdbReaderMem(raw, len);
    rdbDecoder *d = r ? rdbDecoderNew(r, &h, NULL) : NULL;
    int rc = -1;
    if (d && rdbDecodeValue(d, k->type, im->src_version, im->src_flavour, k) == 0)
        rc = rdbEncoderResult(im->enc, p, plen, flags);
    else if (d)
        snprintf(im->err, sizeof(im->err), "re-encoding failed: %s", rdbDecoderError(d));
    rdbDecoderFree(d);
    rdbReaderFree(r);
    return rc;
}

static int writeReencoded(importer *im, const rdbKeyInfo *k, const unsigned char *raw, size_t len) {
    const unsigned char *p;
    size_t plen;
    unsigned flags = 0;
    if (reencode(im, k, raw, len, &p, &plen, &flags) < 0) {
        keyMsg("cannot re-encode", k->db, k->key, k->keylen, im->err);
        im->st.failed++;
        return im->o.on_error == ONERROR_STOP ? -1 : 0;
    }
    if (flags & RDB_ENC_EMPTY) { /* every hash field had expired */
        im->st.skipped_expired++;
        return 0;
    }
    if (flags & RDB_ENC_UNREPRESENTABLE) {
        keyMsg("the target cannot hold this key, not written", k->db, k->key, k->keylen,
               k->ltype == RDB_LT_HASH ? "hash field TTLs need Redis 7.4+ or Valkey 9 (--drop-field-ttls writes the fields without them)"
                                       : rdbLTypeName(k->ltype));
        im->st.unrepresentable++;
        return 0;
    }
    if (flags & RDB_ENC_LOSSY_STREAM) {
        keyMsg("written without stream metadata the target's stream format cannot hold", k->db, k->key,
               k->keylen, NULL);
        im->st.lossy_stream++;
    }
    if (flags & RDB_ENC_DROPPED_IDMP) {
        keyMsg("written without its IDMP records and settings (Redis 8.6 idempotent producers; the target "
               "is older)", k->db, k->key, k->keylen, NULL);
        im->st.dropped_idmp++;
    }
    if (flags & RDB_ENC_DROPPED_FIELD_TTLS) {
        keyMsg("written without its hash field TTLs (--drop-field-ttls)", k->db, k->key, k->keylen, NULL);
        im->st.dropped_field_ttls++;
    }
    im->st.reencoded++;
    return sendRestore(im, k, p, plen);
}

/* Redis 8.6 key metadata (module classes) goes along only as the prefix of
 * a RESTORE payload that keeps the value's bytes, to a target that reads
 * it (Redis RDB 13+); otherwise the key is written without it, and said. */
static int keyMetaFits(importer *im, const rdbKeyInfo *k, int native) {
    if (!k->metalen) return 0;
    if (!native && im->dec == D_FAST && !im->target.is_valkey && im->target.rdb_version >= 13) return 1;
    char why[96];
    snprintf(why, sizeof(why), "%d module metadata class%s; only Redis 8.6+ holds them, by RESTORE",
             k->meta_classes, k->meta_classes == 1 ? "" : "es");
    keyMsg("written without its key metadata", k->db, k->key, k->keylen, why);
    im->st.dropped_keymeta++;
    return 0;
}

/* ---- The snapshot as RDB records (importSetRdb) ---- */

static int rdbSelect(importer *im, uint64_t tdb) {
    if ((long)tdb >= im->fw_dbs) {
        char why[96];
        snprintf(why, sizeof(why), "it has %ld databases, and a replica loading db %llu would exit", im->fw_dbs,
                 (unsigned long long)tdb);
        preflightDbMissing(tdb, why, 0, im->err, sizeof(im->err));
        return -1;
    }
    if ((int64_t)tdb == im->fw_db) return 0;
    im->fw_db = (int64_t)tdb;
    return rdbFileSelectDb(im->fw, tdb);
}

static int rdbFailed(importer *im) {
    if (!im->err[0])
        snprintf(im->err, sizeof(im->err), "the target closed the replication link while reading the snapshot");
    return -1;
}

/* A key: type -1 = p is a whole payload (footer and all), else the value
 * bytes after that type byte. An expire within the grace is written as the
 * grace from now: the target is promoted right after the last record. */
static int rdbRecordOwn(importer *im, const rdbKeyInfo *k, int type, const unsigned char *p, size_t len) {
    int64_t exp = k->expire_ms;
    if (exp != -1 && graceNear(exp, im->now_ms, im->o.expire_grace_ms)) exp = clockWallMs() + im->o.expire_grace_ms;
    if (rdbSelect(im, targetDb(im, k->db)) < 0) return -1;
    /* IDLETIME/FREQ as RESTORE would send them (RDB 9 = Redis 5.0, as ABSTTL). */
    if ((k->idle >= 0 || k->freq >= 0) && im->target.rdb_version >= 9 &&
        rdbFileHints(im->fw, k->idle, k->idle >= 0 ? -1 : k->freq) < 0)
        return rdbFailed(im);
    int rc = type < 0 ? rdbFileKeyFromPayload(im->fw, k->key, k->keylen, exp, p, len)
                      : rdbFileKey(im->fw, type, k->key, k->keylen, exp, p, len);
    if (rc < 0) return rdbFailed(im);
    im->st.written++;
    im->st.bytes += len;
    return 0;
}

/* A shared writer (importShareRdb): taken for one whole record, with the
 * db its last SELECTDB left; refused once the load was ended. */
static int shareTake(importer *im) {
    if (!im->share) return 0;
    pthread_mutex_lock(&im->share->mu);
    if (im->share->fw) {
        im->fw = im->share->fw, im->fw_db = im->share->db;
        return 0;
    }
    snprintf(im->err, sizeof(im->err), "%s", im->share->why[0] ? im->share->why : "the load was ended");
    pthread_mutex_unlock(&im->share->mu);
    return -1;
}

static void shareGive(importer *im) {
    if (!im->share) return;
    im->share->db = im->fw_db;
    pthread_mutex_unlock(&im->share->mu);
}

static int rdbRecord(importer *im, const rdbKeyInfo *k, int type, const unsigned char *p, size_t len) {
    if (shareTake(im) < 0) return -1;
    int rc = rdbRecordOwn(im, k, type, p, len);
    shareGive(im);
    return rc;
}

static int moduleRefused(importer *im, const rdbKeyInfo *k) {
    char kr[300];
    rdbKeyRepr(k->key, k->keylen, kr, sizeof(kr));
    snprintf(im->err, sizeof(im->err), "db %llu, key '%s' holds a module value: a target loading it as a replica "
             "exits when it lacks the module, so --target-load replica stops here (--target-load restore writes "
             "such keys by RESTORE)", (unsigned long long)k->db, kr);
    return -1;
}

static int onSelectDb(void *ctx, uint64_t db) {
    ((importer *)ctx)->src_db = db;
    return 0;
}

/* The source's own count for the db goes along as the target's hint (an
 * upper bound when filters leave keys out). */
static int onResizeDb(void *ctx, uint64_t keys, uint64_t expires) {
    importer *im = ctx;
    if (!im->fw || im->share || !dbSelected(im, im->src_db)) return 0; /* shared: the session's sum */
    if (rdbSelect(im, targetDb(im, im->src_db)) < 0) return -1;
    return rdbFileResizeDb(im->fw, keys, expires) < 0 ? rdbFailed(im) : 0;
}

void importSetRdb(importer *im, rdbFileWriter *w, long databases) {
    im->fw = w;
    im->fw_dbs = databases;
    im->fw_db = -1;
    im->share = NULL;
}

void importShareRdb(importer *im, importRdbShare *sh, long databases) {
    importSetRdb(im, sh ? sh->fw : NULL, databases);
    im->share = sh;
}

static int onRawValue(void *ctx, const rdbKeyInfo *k, const unsigned char *raw, size_t len) {
    importer *im = ctx;
    if (im->dec == D_SKIP) return 0;
    if (im->elements == 0 && k->ltype != RDB_LT_STRING) {
        im->st.skipped_empty++;
        return 0;
    }
    /* An RDB record has no size limit: nothing goes natively there. */
    int big = !im->fw && (long long)(len + RDB_PAYLOAD_MIN) > im->o.max_restore;
    int meta = keyMetaFits(im, k, big);
    if (im->fw && k->ltype == RDB_LT_MODULE) return moduleRefused(im, k);
    if (im->fw && im->dec == D_FAST && !meta) return rdbRecord(im, k, k->type, raw, len);
    if (big) {
        im->st.native++;
        if (writerSelect(im->w, targetDb(im, k->db)) < 0) return -1;
        /* Until nativeWrite has queued its final RENAME and DEL, a stop
         * leaves the temporary key: importCleanup deletes it. */
        if (nativeTmpName(k->key, k->keylen, &im->pending_tmp) < 0) {
            snprintf(im->err, sizeof(im->err), "out of memory");
            return -1;
        }
        im->pending_db = (int64_t)targetDb(im, k->db);
        int rc = nativeWrite(im->w, k, targetDb(im, k->db), (const char *)im->pending_tmp.p, im->pending_tmp.len,
                             raw, len, im->src_version, im->src_flavour, im->o.on_conflict == CONFLICT_REPLACE,
                             im->o.expire_grace_ms, im->err, sizeof(im->err));
        if (rc == 0) im->pending_db = -1;
        return rc;
    }
    if (im->dec == D_REENCODE) return writeReencoded(im, k, raw, len);
    int ver = rdbPayloadVersion(k->type, im->src_flavour, im->target.rdb_version);
    if (meta && ver < 13) ver = 13;
    if (rdbPayloadBuildMeta(&im->payload, meta ? k->meta : NULL, meta ? k->metalen : 0, k->type, raw, len,
                            ver) < 0) {
        snprintf(im->err, sizeof(im->err), "out of memory building a payload");
        return -1;
    }
    return sendRestore(im, k, im->payload.p, im->payload.len);
}

int importPayload(importer *im, const rdbKeyInfo *k0, const unsigned char *p, size_t len) {
    rdbKeyInfo k = *k0;
    rdbPayloadParts pp;
    if (rdbPayloadSplit(p, len, 0, &pp) != RDB_OK) return 0;
    im->src_version = pp.version;
    im->src_flavour = pp.flavour;
    const rdbTypeInfo *ti = rdbTypeLookup(pp.type, im->src_flavour);
    k.type = pp.type;
    k.meta = pp.meta, k.metalen = pp.metalen, k.meta_classes = pp.meta_classes;
    k.info = ti;
    k.ltype = ti ? ti->ltype : RDB_LT_UNKNOWN;
    onKeyBegin(im, &k);
    if (im->dec == D_SKIP) return 0;
    im->elements = 1; /* a payload from DUMP is never an empty collection */
    return onRawValue(im, &k, pp.value, pp.len);
}

int importDelete(importer *im, uint64_t db, const char *key, size_t keylen) {
    if (!dbSelected(im, db)) return 0; /* not ours: --db leaves the other dbs alone */
    if (!filterName(im->o.filter, key, keylen)) return 0; /* nor --match/--exclude the keys they leave out */
    const char *argv[2] = {"DEL", key};
    size_t lens[2] = {3, keylen};
    writerTag tag = {"DEL", targetDb(im, db), key, keylen, 0, WRITER_K_OTHER};
    if (writerSelect(im->w, targetDb(im, db)) < 0) return -1;
    return writerCommand(im->w, 2, argv, lens, &tag);
}

/* The 7.0-rc record keeps name and engine apart from the code; Redis 7.0
 * loads it as the library "#!<engine> name=<name>\n<code>", so do we. */
static int preGaSource(importer *im, const rdbFunction *fn) {
    rdbBufClear(&im->payload);
    return rdbBufAppend(&im->payload, "#!", 2) < 0 || rdbBufAppend(&im->payload, fn->engine, fn->enginelen) < 0 ||
                   rdbBufAppend(&im->payload, " name=", 6) < 0 ||
                   rdbBufAppend(&im->payload, fn->name, fn->namelen) < 0 ||
                   rdbBufAppendByte(&im->payload, '\n') < 0 || rdbBufAppend(&im->payload, fn->code, fn->len) < 0
               ? -1 : 0;
}

static int onFunction(void *ctx, const rdbFunction *fn) {
    importer *im = ctx;
    if (!targetAtLeast(im, 7, 0)) {
        logWarn("a function library cannot be loaded on this target "
                        "(functions need Redis 7.0+), not written");
        im->st.functions_failed++;
        return 0;
    }
    const char *code = fn->code;
    size_t len = fn->len;
    if (fn->pre_ga) {
        if (preGaSource(im, fn) < 0) {
            snprintf(im->err, sizeof(im->err), "out of memory building a function library");
            return -1;
        }
        code = (const char *)im->payload.p, len = im->payload.len;
    }
    if (im->fw) {
        if (shareTake(im) < 0) return -1;
        int rc = rdbFileFunction(im->fw, code, len) < 0 ? rdbFailed(im) : 0;
        shareGive(im);
        im->st.functions += rc == 0;
        return rc;
    }
    const char *argv[4] = {"FUNCTION", "LOAD", "REPLACE", code};
    size_t lens[4] = {8, 4, 7, len};
    int replace = im->o.on_conflict == CONFLICT_REPLACE;
    if (!replace) argv[2] = code, lens[2] = len;
    writerTag tag = {"FUNCTION LOAD", 0, NULL, 0, 0, WRITER_K_FUNCTION};
    return writerCommand(im->w, replace ? 4 : 3, argv, lens, &tag);
}

static int onModuleAux(void *ctx, const char *module, int encver, int when) {
    logWarn("module aux data of '%s' is not copied (RESTORE cannot carry it)", module);
    return 0;
}

/* ---- Replies ---- */

static int isBusy(const redisReply *r) { return r->len >= 7 && strncmp(r->str, "BUSYKEY", 7) == 0; }

static int replyRestore(importer *im, const writerTag *t, const redisReply *r) {
    if (r->type != REDIS_REPLY_ERROR) {
        im->st.written++;
        return 0;
    }
    if (isBusy(r) && im->o.on_conflict == CONFLICT_SKIP) {
        im->st.skipped_conflict++;
        return 0;
    }
    if (isBusy(r)) im->st.conflicts++;
    if (isBusy(r) && im->conflicted) return -1; /* settling: keep the first key's message */
    if (isBusy(r)) {
        char kr[300];
        rdbKeyRepr(t->key, t->keylen, kr, sizeof(kr));
        snprintf(im->err, sizeof(im->err),
                 "key '%s' (db %llu) already exists on the target; stopped without overwriting it "
                 "(use --on-conflict replace|skip or --flush-target)", kr, (unsigned long long)t->db);
        im->conflicted = 1;
        return -1;
    }
    im->st.failed++;
    refusedMsg("the target refused RESTORE", t->db, t->key, t->keylen, r->str);
    if (im->o.on_error == ONERROR_STOP) {
        snprintf(im->err, sizeof(im->err), "stopped at the first refused write (--on-error skip goes on)");
        return -1;
    }
    return 0;
}

/* RENAMENX answers 0 when the real key exists: the same conflict a
 * RESTORE without REPLACE reports as BUSYKEY. */
static int replyNativeFinal(importer *im, const writerTag *t, const redisReply *r) {
    if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
        redisReply busy = {.type = REDIS_REPLY_ERROR, .str = "BUSYKEY", .len = 7};
        return replyRestore(im, t, &busy);
    }
    return replyRestore(im, t, r);
}

static int replyFunction(importer *im, const redisReply *r) {
    if (r->type != REDIS_REPLY_ERROR) {
        im->st.functions++;
        return 0;
    }
    int exists = strstr(r->str, "already exists") != NULL;
    if (exists && im->conflicted) return -1; /* settling: keep the first message */
    if (exists && im->o.on_conflict == CONFLICT_SKIP) return 0;
    if (exists) {
        snprintf(im->err, sizeof(im->err), "function library already exists on the target: %s "
                 "(use --on-conflict replace|skip or --flush-target)", r->str);
        im->conflicted = 1;
        return -1;
    }
    im->st.functions_failed++;
    logError("the target refused FUNCTION LOAD: %s", r->str);
    return im->o.on_error == ONERROR_STOP ? -1 : 0;
}

int importOnReply(void *ctx, const writerTag *t, const redisReply *r) {
    importer *im = ctx;
    switch (t->kind) {
    case WRITER_K_RESTORE: return replyRestore(im, t, r);
    case WRITER_K_FUNCTION: return replyFunction(im, r);
    case WRITER_K_NATIVE_FINAL: return replyNativeFinal(im, t, r);
    case WRITER_K_SELECT:
        if (r->type != REDIS_REPLY_ERROR) return 0;
        if (!im->err[0]) preflightDbMissing(t->db, r->str, 0, im->err, sizeof(im->err));
        return -1;
    case WRITER_K_NATIVE_RESERVE:
        if (r->type == REDIS_REPLY_STATUS) return 0;
        im->st.failed++;
        keyMsg("cannot claim a temporary key for this huge value", t->db, t->key, t->keylen,
               r->type == REDIS_REPLY_ERROR ? r->str : "its random name exists on the target (left untouched)");
        snprintf(im->err, sizeof(im->err), "stopped at the first refused write");
        return -1;
    case WRITER_K_NATIVE_BATCH:
        if (r->type != REDIS_REPLY_ERROR) return 0;
        im->st.failed++;
        refusedMsg("the target refused a command", t->db, t->key, t->keylen, r->str);
        return im->o.on_error == ONERROR_STOP ? -1 : 0;
    case WRITER_K_OTHER:
    case WRITER_K_FLUSH:
    case WRITER_K_STREAM:
    case WRITER_K_BATCH:
    case WRITER_K_CHECKPOINT: break;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(im->err, sizeof(im->err), "the target refused %s: %s", t->cmd, r->str);
        return -1;
    }
    return 0;
}

/* ---- Lifecycle ---- */

void importSetWriter(importer *im, writer *w) { im->w = w; }
void importSetConflict(importer *im, conflictPolicy p) { im->o.on_conflict = p; }

importer *importNew(const rsServerInfo *target, const importOptions *o) {
    importer *im = calloc(1, sizeof(*im));
    if (!im) return NULL;
    im->target = *target;
    im->o = *o;
    im->pending_db = -1;
    if (im->o.max_restore <= 0) im->o.max_restore = target->proto_max_bulk_len;
    if (im->o.max_restore > target->proto_max_bulk_len) im->o.max_restore = target->proto_max_bulk_len;
    rdbEncodeTarget et = {.version = target->rdb_version,
                          .flavour = rdbServerFlavour(target->is_valkey, target->rdb_version),
                          .drop_field_ttls = o->drop_field_ttls};
    im->enc = rdbEncoderNew(&et);
    if (!im->enc) {
        free(im);
        return NULL;
    }
    return im;
}

void importFree(importer *im) {
    if (!im) return;
    rdbEncoderFree(im->enc);
    rdbBufFree(&im->payload);
    rdbBufFree(&im->pending_tmp);
    free(im);
}

static const char *onError(void *ctx) { return ((importer *)ctx)->err; }

void importHandlers(importer *im, rdbHandlers *h) {
    memset(h, 0, sizeof(*h));
    h->ctx = im;
    h->error = onError;
    h->header = onHeader;
    h->select_db = onSelectDb;
    h->resize_db = onResizeDb;
    h->key_begin = onKeyBegin;
    h->want_raw = wantRaw;
    h->raw_value = onRawValue;
    h->string_chunk = onStringChunk;
    h->list_item = onItem;
    h->set_member = onItem;
    h->zset_member = onZset;
    h->hash_field = onHash;
    h->stream_meta = onStreamMeta;
    h->module_value = onModule;
    h->function = onFunction;
    h->module_aux = onModuleAux;
}

/* On a cluster the temporary key lives on the master of its slot. */
static int cleanupRouted(importer *im, router *rt) {
    const char *argv[2] = {"DEL", (const char *)im->pending_tmp.p};
    size_t lens[2] = {3, im->pending_tmp.len};
    redisReply *r = routerCall(rt, clusterKeySlot(argv[1], lens[1]), 2, argv, lens);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    im->pending_db = -1;
    return ok ? 0 : -1;
}

int importCleanup(importer *im, rsConn *conn) {
    if (im->pending_db < 0) return 0;
    if (im->w && writerRouter(im->w)) return cleanupRouted(im, writerRouter(im->w));
    char db[24];
    snprintf(db, sizeof(db), "%lld", (long long)im->pending_db);
    redisReply *r = connCommand(conn, 2, (const char *[]){"SELECT", db}, (size_t[]){6, strlen(db)});
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    r = ok ? connCommand(conn, 2, (const char *[]){"DEL", (const char *)im->pending_tmp.p},
                         (size_t[]){3, im->pending_tmp.len})
           : NULL;
    ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    im->pending_db = -1;
    return ok ? 0 : -1;
}

const importStats *importGetStats(const importer *im) { return &im->st; }

uint64_t importSettled(const importStats *st) {
    return st->written + st->skipped_expired + st->skipped_conflict + st->skipped_empty + st->skipped_db +
           st->skipped_filtered + st->conflicts + st->failed + st->unrepresentable;
}
int importConflicted(const importer *im) { return im->conflicted; }
const char *importError(const importer *im) { return im->err; }

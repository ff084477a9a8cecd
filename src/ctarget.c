/* ctarget.c -- a cluster as the target (see ctarget.h). */
#include "ctarget.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "preflight.h"
#include "rdb/decode.h"
#include "rdb/rio.h"

int ctargetOpen(rsConn *seed, const rsUrl *url, const rsConnOptions *co, int quiet, router **rt, char *err,
                size_t errlen) {
    *rt = NULL;
    int on = clusterDetect(seed, err, errlen);
    if (on <= 0) return on;
    *rt = routerOpen(seed, url, co, err, errlen);
    if (!*rt) return -1;
    char list[1024] = "";
    size_t used = 0;
    for (int i = 0; i < routerMasters(*rt) && used + 1 < sizeof(list); i++) {
        int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", connAddr(routerMasterConn(*rt, i)));
        if (w > 0) used += (size_t)w;
    }
    if (!quiet) logInfo("target: cluster of %d masters (%s)", routerMasters(*rt), list);
    return 0;
}

/* The target db of source db d, or -1 when d is not copied. */
static int mapped(const importOptions *o, int d) {
    if (o->n_db_only) {
        int in = 0;
        for (int i = 0; i < o->n_db_only; i++) in |= o->db_only[i] == d;
        if (!in) return -1;
    }
    return d < IMPORT_MAX_DBS && o->db_map[d] >= 0 ? o->db_map[d] : d;
}

int ctargetCheckDbs(const char *target, const int *dbs, int n, const importOptions *o, char *err, size_t errlen) {
    char list[256] = "", hint[128] = "";
    size_t used = 0;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (mapped(o, dbs[i]) <= 0) continue;
        int w = snprintf(list + used, sizeof(list) - used, "%s%d", bad ? ", " : "", dbs[i]);
        if (w > 0 && used + (size_t)w < sizeof(list)) used += (size_t)w;
        if (!bad) snprintf(hint, sizeof(hint), "--db-map %d:0", dbs[i]);
        bad++;
    }
    if (!bad) return 0;
    snprintf(err, errlen,
             "target %s is a cluster, which has db 0 only; the source has keys in db %s: copy db 0 only with "
             "--db 0, or map %s with %s%s; nothing was written",
             target, list, bad > 1 ? "them" : "it", hint, bad > 1 ? " (and so on)" : "");
    return -1;
}

typedef struct dbSeen {
    int *dbs, max, n;
} dbSeen;

static int onSelect(void *ctx, uint64_t db) {
    dbSeen *s = ctx;
    for (int i = 0; i < s->n; i++)
        if ((uint64_t)s->dbs[i] == db) return 0;
    if (s->n < s->max) s->dbs[s->n++] = (int)db;
    return 0;
}

int ctargetFileDbs(const char *file, int *dbs, int max, char *err, size_t errlen) {
    struct stat sb;
    if (strcmp(file, "-") == 0 || stat(file, &sb) < 0 || !S_ISREG(sb.st_mode)) return 0;
    dbSeen s = {dbs, max, 0};
    rdbReader *r = rdbReaderFile(file);
    rdbHandlers h = {.ctx = &s, .frame_only = 1, .select_db = onSelect};
    rdbDecodeOptions o = {.ignore_crc = 1};
    rdbDecoder *d = r ? rdbDecoderNew(r, &h, &o) : NULL;
    /* A file the decoder cannot read is the import's to report, with the
     * offset: what was seen until there is what we know. */
    int ok = d != NULL;
    if (d) rdbDecode(d);
    else snprintf(err, errlen, "%s: cannot open", file);
    rdbDecoderFree(d);
    rdbReaderFree(r);
    return ok ? s.n : -1;
}

int ctargetPrepare(router *rt, const rsServerInfo *info, int flush, char *err, size_t errlen) {
    for (int i = 0; i < routerMasters(rt); i++)
        if (preflightPrepare(routerMasterConn(rt, i), info, flush, err, errlen) < 0) return -1;
    return 0;
}

void ctargetSummary(const router *rt) {
    char per[2048];
    routerStats st;
    routerFormatPerNode(rt, per, sizeof(per));
    routerStatsGet(rt, &st);
    logInfo("cluster: %s; %llu MOVED, %llu ASK, %llu TRYAGAIN/CLUSTERDOWN, %llu topology reads, %llu commands "
            "sent again",
            per, (unsigned long long)st.moved, (unsigned long long)st.asked, (unsigned long long)st.retried,
            (unsigned long long)st.reloads, (unsigned long long)st.resent);
}

int ctargetCheckDbsFrom(rsConn *src, const char *target, const importOptions *o, char *err, size_t errlen) {
    int dbs[IMPORT_MAX_DBS * 4];
    int n = connKeyspaceDbs(src, dbs, (int)(sizeof(dbs) / sizeof(*dbs)));
    return n > 0 ? ctargetCheckDbs(target, dbs, n, o, err, errlen) : 0;
}

int ctargetEmpty(router *rt) {
    for (int i = 0; i < routerMasters(rt); i++) {
        int dbs[4];
        if (connKeyspaceDbs(routerMasterConn(rt, i), dbs, 4) != 0) return 0;
    }
    return 1;
}

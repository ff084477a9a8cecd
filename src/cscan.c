/* cscan.c -- scan mode on a Redis Cluster source (see cscan.h). */
#include "cscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "log.h"
#include "rdb/decode.h"
#include "rdb/rdbfile.h"

/* A master's URL: the user's (credentials, TLS) with the node's address. */
static int masterUrl(const rsUrl *seed, const csNode *n, rsUrl *out) {
    clusterNode cn = {.host = (char *)n->host, .port = n->port};
    return clusterNodeUrl(seed, &cn, out);
}

/* ---- Snapshots: --checksum and --file, a master at a time ---- */

int cscanShard(const snapshotConfig *cfg, const csShard *s, int first, const rdbHandlers *h, rdbFileWriter **fw,
               int *fd, outcome *why, char *err, size_t errlen) {
    rsUrl u = {0};
    if (masterUrl(cfg->source, &s->master, &u) < 0) {
        *why = OUTCOME_INTERNAL;
        return snprintf(err, errlen, "out of memory"), -1;
    }
    snapshotConfig sc = *cfg;
    sc.source = &u;
    char msg[800] = "";
    int rc = fw ? snapshotScanWrite(&sc, s->slots, first, fw, fd, why, msg, sizeof(msg))
                : snapshotScanDecode(&sc, s->slots, first, h, why, msg, sizeof(msg));
    if (rc < 0) snprintf(err, errlen, "shard %s:%d (slots %s): %s", s->master.host, s->master.port, s->ranges, msg);
    urlFree(&u);
    return rc;
}

/* cluster.h -- what rdbsync knows about a Redis Cluster: is a server part
 * of one, which shards it has, and which shard owns a key.
 *
 * A shard is one master and its replicas, each node given as the cluster
 * announces it (host = the node's preferred endpoint: an IP or a hostname,
 * whatever cluster-preferred-endpoint-type says; port = the TLS port when
 * we speak TLS and the node has one, else its plain port), plus the slot
 * ranges the master serves. The map is read from one node:
 *   - CLUSTER SHARDS (Redis 7.0+, Valkey), which also lists replicas and
 *     masters that own no slot;
 *   - CLUSTER SLOTS otherwise (or when SHARDS is refused), which lists
 *     only the nodes of the slot ranges, a master's ranges being grouped
 *     by its node id (or by host:port when the server gives no id).
 * An endpoint the cluster does not know ("?" or "", as in
 * cluster-announce-hostname unset under preferred-endpoint-type hostname)
 * is the host we asked, as redis-cli does.
 *
 * Redirections: a node that does not serve a key's slot answers
 *   -MOVED <slot> <endpoint>:<port>   (the slot is another master's)
 *   -ASK <slot> <endpoint>:<port>     (the key is being migrated there)
 * where endpoint is the node's preferred endpoint as in the topology: an
 * IPv4 address, a bare IPv6 one ("-MOVED 1 ::1:7001": the port is after
 * the last colon), a hostname, "?" (hostname preferred, none announced)
 * or "" (unknown-endpoint: ":7001"). Redis 3 to 8 and Valkey 7 to 9 all
 * print this one format (Valkey 8.1+ may give a client-specific announced
 * IP, still bare). clusterRedirectParse is the one reader of these replies
 * in rdbsync; "?" and "" both mean "the host of the node that answered".
 *
 * Addresses are compared by clusterSameAddr, never as strings: bracketed
 * and bare IPv6, spellings of one IPv6 address, the case of a hostname
 * and "localhost" = 127.0.0.1 = ::1 are the same node. No DNS lookup is
 * made (a hostname equals only itself).
 *
 * Keys map to slots as the server does: CRC16-XMODEM of the key, or of the
 * content of its first "{...}" when that is non-empty, modulo 16384.
 *
 * Ownership: a clusterMap is created by clusterMapRead / clusterMapParse /
 * clusterMapReload and freed with clusterMapFree; the shards and nodes it
 * holds live as long as it does. clusterNodeUrl fills a caller rsUrl
 * (urlFree it). Nothing here keeps a connection.
 *
 * Errors: functions return NULL or -1 with one line in err naming the node
 * and the command, e.g.
 *   cannot read the cluster topology from 127.0.0.1:7000: CLUSTER SLOTS: ERR This instance has cluster support disabled
 *   cannot read the cluster topology from any node (last: 127.0.0.1:7002: connection refused)
 *   cluster 127.0.0.1:7000: slot 5460 has no master (is the cluster complete? cluster_state must be ok)
 */
#ifndef RDBSYNC_CLUSTER_H
#define RDBSYNC_CLUSTER_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "conn.h"
#include "url.h"

#define CLUSTER_SLOTS 16384
#define CLUSTER_ID_LEN 40
#define CLUSTER_HOST_MAX 256          /* longest endpoint kept, with its NUL */

typedef struct clusterNode {
    char *host;                   /* announced endpoint (IP or hostname) */
    int port;                     /* the port we connect to (TLS port with TLS) */
    char id[CLUSTER_ID_LEN + 1];  /* "" when the server did not say */
    int failed;                   /* health fail / flagged failed: not tried first */
} clusterNode;

typedef struct clusterRange {
    int start, end;               /* inclusive */
} clusterRange;

typedef struct clusterShard {
    clusterNode master;
    clusterNode *replicas;
    int nreplicas;
    clusterRange *ranges;
    int nranges;
} clusterShard;

typedef struct clusterMap {
    clusterShard *shards;
    int nshards;
    short owner[CLUSTER_SLOTS];   /* slot -> shard index, -1 = unassigned */
} clusterMap;

/* ---- slots ---- */

/* CRC16-XMODEM (poly 0x1021, init 0), as the server's crc16(). */
unsigned clusterCrc16(const char *buf, size_t len);
/* The slot of a key: its {hash tag} when non-empty, else the whole key. */
unsigned clusterKeySlot(const char *key, size_t len);

/* ---- redirections ---- */

typedef enum clusterRedirKind {
    CLUSTER_REDIR_NONE = 0,       /* not a redirection, or a malformed one */
    CLUSTER_REDIR_MOVED,
    CLUSTER_REDIR_ASK
} clusterRedirKind;

typedef struct clusterRedirect {
    clusterRedirKind kind;
    int slot;                     /* 0..16383 */
    char host[CLUSTER_HOST_MAX];  /* without brackets; "" = the host of the node that answered */
    int port;                     /* 1..65535 */
} clusterRedirect;

/* Read an error reply's text (hiredis' r->str; a leading '-' and a
 * trailing CRLF are allowed): MOVED or ASK with *out filled, or
 * CLUSTER_REDIR_NONE (out zeroed) for any other error and for a malformed
 * redirection (slot or port missing, out of range or not all digits, no
 * "host:port", an endpoint longer than CLUSTER_HOST_MAX - 1). */
clusterRedirKind clusterRedirectParse(const char *err, clusterRedirect *out);

/* The host r sends to: r->host, or sender (the host of the node that
 * answered, as we reached it) when the cluster did not say. */
const char *clusterRedirectHost(const clusterRedirect *r, const char *sender);

/* 1 when host a port ap and host b port bp are one node (see above); a
 * NULL host is "". */
int clusterSameAddr(const char *a, int ap, const char *b, int bp);

/* ---- detection ---- */

/* 1 when the server runs in cluster mode (INFO cluster: cluster_enabled:1),
 * 0 when not (or INFO has no cluster section: old or proxied servers),
 * -1 when INFO fails (message in err). */
int clusterDetect(rsConn *c, char *err, size_t errlen);

/* ---- topology ---- */

/* Read the map from the node behind c (CLUSTER SHARDS, then CLUSTER
 * SLOTS). asked_host replaces unknown endpoints; tls picks TLS ports.
 * A map with unassigned slots is returned (owner -1): the caller decides
 * whether that is an error (clusterMapComplete). */
clusterMap *clusterMapRead(rsConn *c, const char *asked_host, int tls, char *err, size_t errlen);

/* Re-read the map from any reachable node: old's masters first, then its
 * replicas, then seed (the URL the user gave). Each node is reached with
 * seed's credentials and TLS settings. NULL when none answers. */
clusterMap *clusterMapReload(const clusterMap *old, const rsUrl *seed, const rsConnOptions *o,
                             char *err, size_t errlen);

/* Parse a CLUSTER SHARDS or CLUSTER SLOTS reply (exposed for tests).
 * NULL with err when the reply is not one. */
clusterMap *clusterMapParseShards(const redisReply *r, const char *asked_host, int tls,
                                  char *err, size_t errlen);
clusterMap *clusterMapParseSlots(const redisReply *r, const char *asked_host,
                                 char *err, size_t errlen);

void clusterMapFree(clusterMap *m);

/* The shard index owning slot, -1 when none. */
int clusterSlotShard(const clusterMap *m, unsigned slot);
/* The shard whose master is host:port (clusterSameAddr), -1 when none. */
int clusterFindMaster(const clusterMap *m, const char *host, int port);
/* After a MOVED slot host:port: make that master own the slot (adding a
 * shard for a master not in the map yet). The shard's ranges are left as
 * they were (owner[] is the truth for routing). Returns the shard index,
 * -1 on OOM. */
int clusterMapMoveSlot(clusterMap *m, unsigned slot, const char *host, int port);
/* Shards whose master owns at least one slot. */
int clusterMapMasters(const clusterMap *m);
/* 0 when every slot has an owner, else -1 naming the first that has none. */
int clusterMapComplete(const clusterMap *m, const char *where, char *err, size_t errlen);

/* A URL for node n: seed's scheme, user, password and TLS, n's host and
 * port, no db (a cluster has db 0 only). 0, or -1 on OOM. */
int clusterNodeUrl(const rsUrl *seed, const clusterNode *n, rsUrl *out);

#endif

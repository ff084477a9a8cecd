/* metrics.c -- the /metrics and /status server (see metrics.h).
 *
 * The listening socket is bound here, not by libmicrohttpd, so that a
 * busy port is reported with its errno before the sync starts (MHD only
 * returns NULL). The daemon then serves from its own polling thread;
 * requests copy the snapshot under the lock and render outside it.
 */
#include "metrics.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct metrics {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    metricsSnapshot snap;
    /* A cluster source: one snapshot per shard (metricsPublishShard). */
    metricsSnapshot shard[METRICS_MAX_SHARDS];
    char label[METRICS_MAX_SHARDS][64];
    int nshards;
};

static const char *phaseNames[METRICS_NPHASES] = {"connecting", "waiting", "snapshot", "streaming", "stopped"};

const char *metricsPhaseName(metricsPhase p) { return p < METRICS_NPHASES ? phaseNames[p] : "?"; }

/* ---- Rendering ---- */

typedef struct out {
    char *p;
    size_t cap, len;
    int overflow;
} out;

static void put(out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) o->overflow = 1;
    else o->len += (size_t)n;
}

static void head(out *o, const char *name, const char *type, const char *help) {
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A series: name, name{extra}, name{shard="L"} or name{shard="L",extra},
 * then the value. */
static void series(out *o, const char *name, const char *label, const char *extra) {
    if (!label && !extra) put(o, "%s ", name);
    else if (!label) put(o, "%s{%s} ", name, extra);
    else put(o, "%s{shard=\"%s\"%s%s} ", name, label, extra ? "," : "", extra ? extra : "");
}

#define LABEL(i) (labels ? labels[i] : NULL)
#define GAUGE_I(name, help, field)                                                                                     \
    do {                                                                                                               \
        head(o, name, "gauge", help);                                                                                  \
        for (int i = 0; i < n; i++) series(o, name, LABEL(i), NULL), put(o, "%lld\n", (long long)s[i].field);          \
    } while (0)
#define COUNTER(name, help, field)                                                                                     \
    do {                                                                                                               \
        head(o, name, "counter", help);                                                                                \
        for (int i = 0; i < n; i++)                                                                                    \
            series(o, name, LABEL(i), NULL), put(o, "%llu\n", (unsigned long long)s[i].field);                         \
    } while (0)
#define ERRORS(reason, field)                                                                                          \
    for (int i = 0; i < n; i++)                                                                                        \
        series(o, "rdbsync_errors_total", LABEL(i), "reason=\"" reason "\""),                                          \
            put(o, "%llu\n", (unsigned long long)s[i].field)

/* n snapshots, each series labelled shard="labels[i]" (labels NULL: one
 * snapshot, no label). */
static void renderText(out *o, const metricsSnapshot *s, const char *const *labels, int n) {
    head(o, "rdbsync_phase", "gauge", "The live sync's phase: 1 for the current one, 0 for the others.");
    for (int i = 0; i < n; i++)
        for (int p = 0; p < METRICS_NPHASES; p++) {
            char extra[48];
            snprintf(extra, sizeof(extra), "phase=\"%s\"", phaseNames[p]);
            series(o, "rdbsync_phase", LABEL(i), extra);
            put(o, "%d\n", (int)s[i].phase == p);
        }
    GAUGE_I("rdbsync_in_sync", "1 when everything received was applied and acknowledged (the status line's \"in sync\").",
            in_sync);
    GAUGE_I("rdbsync_source_offset_bytes", "The source's replication offset received.", source_offset);
    GAUGE_I("rdbsync_applied_offset_bytes", "The replication offset the target acknowledged.", applied_offset);
    GAUGE_I("rdbsync_lag_bytes", "Bytes received from the source and not yet applied.", lag_bytes);
    head(o, "rdbsync_lag_seconds", "gauge", "Age of the oldest received, unapplied byte.");
    for (int i = 0; i < n; i++) series(o, "rdbsync_lag_seconds", LABEL(i), NULL), put(o, "%.3f\n", s[i].lag_seconds);
    GAUGE_I("rdbsync_spool_bytes", "Bytes spooled (memory or disk), not yet read by the apply side.", spool_bytes);
    COUNTER("rdbsync_keys_written_total", "Snapshot keys the target acknowledged.", keys_written_total);
    COUNTER("rdbsync_commands_applied_total", "Stream commands the target applied.", commands_applied_total);
    head(o, "rdbsync_errors_total", "counter", "Errors by reason: refused writes, conflicting keys, lost links.");
    ERRORS("refused", errors_refused_total);
    ERRORS("conflict", errors_conflict_total);
    ERRORS("link", errors_link_total);
    COUNTER("rdbsync_full_syncs_total", "Full syncs (snapshots) the source served.", full_syncs_total);
    COUNTER("rdbsync_partial_resyncs_total", "Partial resyncs (continuations) the source accepted.",
            partial_resyncs_total);
}

int metricsRenderText(const metricsSnapshot *s, char *buf, size_t cap) {
    out o = {buf, cap, 0, 0};
    renderText(&o, s, NULL, 1);
    return o.overflow ? -1 : 0;
}

int metricsRenderTextShards(const metricsSnapshot *s, const char *const *labels, int n, char *buf, size_t cap) {
    out o = {buf, cap, 0, 0};
    renderText(&o, s, labels, n);
    return o.overflow ? -1 : 0;
}

/* One snapshot as a JSON object (with "shard" first when labelled). */
static void jsonOne(out *o, const metricsSnapshot *s, const char *label) {
    if (label) put(o, "{\"shard\":\"%s\",", label);
    else put(o, "{");
    put(o, "\"phase\":\"%s\",\"in_sync\":%s,\"source_offset_bytes\":%lld,\"applied_offset_bytes\":%lld,"
           "\"lag_bytes\":%lld,\"lag_seconds\":%.3f,\"spool_bytes\":%llu,\"keys_written_total\":%llu,"
           "\"commands_applied_total\":%llu,\"errors_total\":{\"refused\":%llu,\"conflict\":%llu,\"link\":%llu},"
           "\"full_syncs_total\":%llu,\"partial_resyncs_total\":%llu}",
        phaseNames[s->phase], s->in_sync ? "true" : "false", (long long)s->source_offset,
        (long long)s->applied_offset, (long long)s->lag_bytes, s->lag_seconds, (unsigned long long)s->spool_bytes,
        (unsigned long long)s->keys_written_total, (unsigned long long)s->commands_applied_total,
        (unsigned long long)s->errors_refused_total, (unsigned long long)s->errors_conflict_total,
        (unsigned long long)s->errors_link_total, (unsigned long long)s->full_syncs_total,
        (unsigned long long)s->partial_resyncs_total);
}

int metricsRenderJson(const metricsSnapshot *s, char *buf, size_t cap) {
    out o = {buf, cap, 0, 0};
    jsonOne(&o, s, NULL);
    put(&o, "\n");
    return o.overflow ? -1 : 0;
}

int metricsRenderJsonShards(const metricsSnapshot *s, const char *const *labels, int n, char *buf, size_t cap) {
    out o = {buf, cap, 0, 0};
    int all = n > 0;
    for (int i = 0; i < n; i++) all = all && s[i].in_sync;
    put(&o, "{\"in_sync\":%s,\"shards\":[", all ? "true" : "false");
    for (int i = 0; i < n; i++) {
        if (i) put(&o, ",");
        jsonOne(&o, &s[i], labels[i]);
    }
    put(&o, "]}\n");
    return o.overflow ? -1 : 0;
}

/* ---- Publishing ---- */

static uint64_t grow(uint64_t old, uint64_t v) { return v > old ? v : old; }

/* Counters never go back (a restarted count keeps the highest). Locked. */
static void store(metricsSnapshot *dst, const metricsSnapshot *snap) {
    metricsSnapshot o = *dst;
    *dst = *snap;
    dst->keys_written_total = grow(o.keys_written_total, snap->keys_written_total);
    dst->commands_applied_total = grow(o.commands_applied_total, snap->commands_applied_total);
    dst->errors_refused_total = grow(o.errors_refused_total, snap->errors_refused_total);
    dst->errors_conflict_total = grow(o.errors_conflict_total, snap->errors_conflict_total);
    dst->errors_link_total = grow(o.errors_link_total, snap->errors_link_total);
    dst->full_syncs_total = grow(o.full_syncs_total, snap->full_syncs_total);
    dst->partial_resyncs_total = grow(o.partial_resyncs_total, snap->partial_resyncs_total);
}

void metricsPublish(metrics *m, const metricsSnapshot *snap) {
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    store(&m->snap, snap);
    pthread_mutex_unlock(&m->mu);
}

void metricsPublishShard(metrics *m, int shard, const char *label, const metricsSnapshot *snap) {
    if (!m || shard < 0 || shard >= METRICS_MAX_SHARDS) return;
    pthread_mutex_lock(&m->mu);
    store(&m->shard[shard], snap);
    snprintf(m->label[shard], sizeof(m->label[shard]), "%s", label);
    if (shard >= m->nshards) m->nshards = shard + 1;
    pthread_mutex_unlock(&m->mu);
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, const char *body) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result onRequest(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **req) {
    metrics *m = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "method not allowed\n");
    int text = strcmp(url, "/metrics") == 0;
    if (!text && strcmp(url, "/status") != 0) return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
    static __thread metricsSnapshot shards[METRICS_MAX_SHARDS]; /* MHD's thread: off its stack */
    static __thread char labels[METRICS_MAX_SHARDS][64];
    const char *lp[METRICS_MAX_SHARDS];
    pthread_mutex_lock(&m->mu);
    metricsSnapshot s = m->snap;
    int n = m->nshards;
    memcpy(shards, m->shard, (size_t)n * sizeof(*shards));
    memcpy(labels, m->label, sizeof(labels));
    pthread_mutex_unlock(&m->mu);
    for (int i = 0; i < n; i++) lp[i] = labels[i];
    size_t cap = 4096 * (size_t)(n + 1);
    char *body = malloc(cap);
    if (!body) return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "internal error\n");
    int rc = n ? (text ? metricsRenderTextShards(shards, lp, n, body, cap) : metricsRenderJsonShards(shards, lp, n, body, cap))
               : (text ? metricsRenderText(&s, body, cap) : metricsRenderJson(&s, body, cap));
    enum MHD_Result r = rc < 0 ? reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "internal error\n")
                               : reply(c, MHD_HTTP_OK, text ? "text/plain; version=0.0.4; charset=utf-8" : "application/json", body);
    free(body);
    return r;
}

/* HOST:PORT into host (empty = every address) and port. -1 when malformed. */
static int splitHostPort(const char *hp, char *host, size_t hcap, char *port, size_t pcap) {
    const char *colon = strrchr(hp, ':');
    if (!colon) return -1;
    const char *h = hp;
    size_t hl = (size_t)(colon - hp);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { h++; hl -= 2; } /* [::1]:9121 */
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 1 || p > 65535 || hl >= hcap) return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, pcap, "%ld", p);
    return 0;
}

static int listenOn(const char *hp, int *usage, char *err, size_t errlen) {
    char host[256], port[8];
    *usage = 0;
    if (splitHostPort(hp, host, sizeof(host), port, sizeof(port)) < 0) {
        *usage = 1;
        snprintf(err, errlen, "bad value '%s' for --metrics: expected HOST:PORT (port 1 to 65535)", hp);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (gai != 0) {
        *usage = 1;
        snprintf(err, errlen, "--metrics %s: cannot resolve '%s': %s", hp, host, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol), one = 1, e = 0;
    if (fd < 0) e = errno;
    else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
             bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0)
        e = errno;
    freeaddrinfo(ai);
    if (e == 0) return fd;
    if (fd >= 0) close(fd);
    snprintf(err, errlen, "--metrics: cannot listen on %s: %s", hp, strerror(e));
    return -1;
}

metrics *metricsStart(const char *hostport, int *usage, char *err, size_t errlen) {
    int fd = listenOn(hostport, usage, err, errlen);
    if (fd < 0) return NULL;
    metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        close(fd);
        snprintf(err, errlen, "--metrics: out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, onRequest, m, MHD_OPTION_LISTEN_SOCKET,
                            fd, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!m->d) {
        close(fd);
        pthread_mutex_destroy(&m->mu);
        free(m);
        snprintf(err, errlen, "--metrics: cannot start the HTTP server on %s", hostport);
        return NULL;
    }
    return m;
}

void metricsStop(metrics *m) {
    if (!m) return;
    MHD_stop_daemon(m->d); /* closes the listening socket too */
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* test_metrics.c -- the /metrics and /status renderings, and --metrics
 * values refused as usage errors before anything listens. */
#include <string.h>

#include "src/metrics.h"
#include "tests/test.h"

static const metricsSnapshot snap = {
    .phase = METRICS_STREAMING, .in_sync = 1, .source_offset = 1234, .applied_offset = 1200, .lag_bytes = 34,
    .lag_seconds = 0.25, .spool_bytes = 34, .keys_written_total = 5000, .commands_applied_total = 7,
    .errors_refused_total = 1, .errors_conflict_total = 2, .errors_link_total = 3, .full_syncs_total = 1,
    .partial_resyncs_total = 4,
};

static void badValue(const char *name, const char *hp) {
    char err[256] = "";
    int usage = 0;
    metrics *m = metricsStart(hp, &usage, err, sizeof(err));
    TEST(name) {
        CHECK(m == NULL);
        CHECK_EQ_INT(1, usage);
        CHECK(strstr(err, "--metrics") != NULL);
    }
    metricsStop(m);
}

int main(void) {
    char buf[4096];
    TEST("metrics.text") {
        if (!CHECK_EQ_INT(0, metricsRenderText(&snap, buf, sizeof(buf)))) continue;
        CHECK(strstr(buf, "# TYPE rdbsync_phase gauge\n") != NULL);
        CHECK(strstr(buf, "rdbsync_phase{phase=\"streaming\"} 1\n") != NULL);
        CHECK(strstr(buf, "rdbsync_phase{phase=\"snapshot\"} 0\n") != NULL);
        CHECK(strstr(buf, "\nrdbsync_in_sync 1\n") != NULL);
        CHECK(strstr(buf, "\nrdbsync_applied_offset_bytes 1200\n") != NULL);
        CHECK(strstr(buf, "\nrdbsync_lag_seconds 0.250\n") != NULL);
        CHECK(strstr(buf, "# TYPE rdbsync_keys_written_total counter\nrdbsync_keys_written_total 5000\n") != NULL);
        CHECK(strstr(buf, "rdbsync_errors_total{reason=\"link\"} 3\n") != NULL);
        CHECK(strstr(buf, "\nrdbsync_partial_resyncs_total 4\n") != NULL);
    }
    TEST("metrics.json") {
        if (!CHECK_EQ_INT(0, metricsRenderJson(&snap, buf, sizeof(buf)))) continue;
        CHECK(strstr(buf, "\"phase\":\"streaming\",\"in_sync\":true,") != NULL);
        CHECK(strstr(buf, "\"errors_total\":{\"refused\":1,\"conflict\":2,\"link\":3}") != NULL);
    }
    TEST("metrics.shards") {
        /* A cluster source: every series labelled with its shard. */
        metricsSnapshot two[2] = {snap, snap};
        two[1].in_sync = 0, two[1].applied_offset = 77;
        const char *labels[2] = {"10.0.0.1:7000", "10.0.0.2:7001"};
        char big[16384];
        if (!CHECK_EQ_INT(0, metricsRenderTextShards(two, labels, 2, big, sizeof(big)))) continue;
        CHECK(strstr(big, "rdbsync_phase{shard=\"10.0.0.1:7000\",phase=\"streaming\"} 1\n") != NULL);
        CHECK(strstr(big, "\nrdbsync_in_sync{shard=\"10.0.0.1:7000\"} 1\nrdbsync_in_sync{shard=\"10.0.0.2:7001\"} 0\n") != NULL);
        CHECK(strstr(big, "\nrdbsync_applied_offset_bytes{shard=\"10.0.0.2:7001\"} 77\n") != NULL);
        CHECK(strstr(big, "rdbsync_errors_total{shard=\"10.0.0.2:7001\",reason=\"link\"} 3\n") != NULL);
        /* HELP and TYPE once per metric. */
        CHECK(strstr(strstr(big, "# TYPE rdbsync_in_sync gauge") + 1, "# TYPE rdbsync_in_sync gauge") == NULL);
        if (!CHECK_EQ_INT(0, metricsRenderJsonShards(two, labels, 2, big, sizeof(big)))) continue;
        CHECK(strncmp(big, "{\"in_sync\":false,\"shards\":[{\"shard\":\"10.0.0.1:7000\",\"phase\":\"streaming\"", 61) == 0);
        CHECK(strstr(big, "{\"shard\":\"10.0.0.2:7001\",") != NULL);
    }
    test_eq_int("metrics.too_small", -1, metricsRenderText(&snap, buf, 100));
    badValue("metrics.bad.no_port", "127.0.0.1");
    badValue("metrics.bad.port_zero", "127.0.0.1:0");
    badValue("metrics.bad.port_range", "127.0.0.1:70000");
    badValue("metrics.bad.port_text", "127.0.0.1:http");
    metricsPublish(NULL, &snap); /* no --metrics: a no-op */
    return test_report();
}

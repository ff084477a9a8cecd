/* resume.c -- why a source would not continue from a position (see resume.h). */
#include "resume.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

void resumeFactsInit(resumeFacts *f) {
    memset(f, 0, sizeof(*f));
    f->second_offset = f->master_offset = f->backlog_first = f->backlog_histlen = -1;
    f->backlog_active = -1;
}

static int64_t field(const char *info, const char *key) {
    char v[32];
    return connInfoField(info, key, v, sizeof(v)) ? strtoll(v, NULL, 10) : -1;
}

void resumeParseInfo(const char *info, resumeFacts *f) {
    resumeFactsInit(f);
    f->known = 1;
    connInfoField(info, "master_replid", f->replid, sizeof(f->replid));
    connInfoField(info, "master_replid2", f->replid2, sizeof(f->replid2));
    f->second_offset = field(info, "second_repl_offset");
    f->master_offset = field(info, "master_repl_offset");
    f->backlog_active = (int)field(info, "repl_backlog_active");
    f->backlog_first = field(info, "repl_backlog_first_byte_offset");
    f->backlog_histlen = field(info, "repl_backlog_histlen");
}

void resumeWhyFull(const resumeFacts *f, const char *replid, int64_t offset, const char *new_replid, char *why,
                   size_t cap) {
    int64_t want = offset + 1;
    if (!f->known || !f->replid[0]) {
        snprintf(why, cap, "the source did not say why (answered with replication id %.40s)", new_replid);
        return;
    }
    int ours = strcmp(replid, f->replid) == 0;
    int ours2 = f->replid2[0] && strcmp(replid, f->replid2) == 0;
    if (!ours && !ours2) {
        snprintf(why, cap, "the source has another replication history (it knows replication id %.40s, not %.40s: "
                 "restarted without its data, or another server)", f->replid, replid);
    } else if (!ours && f->second_offset >= 0 && want > f->second_offset) {
        snprintf(why, cap, "the source's history forked at offset %lld (a failover), before offset %lld",
                 (long long)f->second_offset, (long long)want);
    } else if (f->backlog_active == 0) {
        snprintf(why, cap, "the source has no replication backlog (no replica since it started)");
    } else if (f->backlog_first >= 0 && want < f->backlog_first) {
        snprintf(why, cap, "its backlog no longer holds offset %lld (it holds %lld-%lld: raise repl-backlog-size)",
                 (long long)want, (long long)f->backlog_first,
                 (long long)(f->backlog_first + (f->backlog_histlen > 0 ? f->backlog_histlen - 1 : 0)));
    } else if (f->master_offset >= 0 && offset > f->master_offset) {
        snprintf(why, cap, "offset %lld is ahead of the source (at %lld): its history went back", (long long)offset,
                 (long long)f->master_offset);
    } else {
        snprintf(why, cap, "the source did not say why (its backlog seemed to hold offset %lld)", (long long)want);
    }
}

/* resync.c -- may a later full resync empty the target? (see resync.h) */
#include "resync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

void resyncFactsInit(resyncFacts *f) {
    memset(f, 0, sizeof(*f));
    f->keys = -1;
}

void resyncParseServer(const char *info, resyncFacts *f) {
    connInfoField(info, "run_id", f->run_id, sizeof(f->run_id));
}

void resyncParseKeyspace(const char *info, resyncFacts *f) {
    memset(f->db_keys, 0, sizeof(f->db_keys));
    f->keys = 0;
    for (const char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        int db;
        long long keys;
        if (sscanf(p, "db%d:keys=%lld", &db, &keys) != 2 || db < 0 || keys < 0) continue;
        f->keys += keys;
        if (db < RESYNC_MAX_DBS) f->db_keys[db] = keys;
    }
}

int64_t resyncKeysIn(const resyncFacts *f, const int *dbs, int n) {
    if (f->keys < 0 || n == 0) return f->keys;
    int64_t sum = 0;
    for (int i = 0; i < n; i++)
        if (dbs[i] >= 0 && dbs[i] < RESYNC_MAX_DBS) sum += f->db_keys[dbs[i]];
    return sum;
}

int resyncRefuse(const resyncCheck *c, char *why, size_t cap) {
    char ident[200] = "", size[160] = "";
    int run = c->prev_run_id && *c->prev_run_id && c->new_run_id && *c->new_run_id &&
              strcmp(c->prev_run_id, c->new_run_id) != 0;
    int back = c->offsets && c->applied >= 0 && c->new_offset >= 0 && c->new_offset < c->applied;
    if (run || back) {
        char off[96] = "";
        if (back)
            snprintf(off, sizeof(off), "%sreplication offset went back from %lld to %lld", run ? ", " : "",
                     (long long)c->applied, (long long)c->new_offset);
        snprintf(ident, sizeof(ident), "the source restarted or was replaced (%s%s)", run ? "run_id changed" : "",
                 off);
    }
    if (c->source_keys >= 0 && c->target_keys > RESYNC_MIN_TARGET_KEYS &&
        c->source_keys * RESYNC_SHRINK_FACTOR < c->target_keys)
        snprintf(size, sizeof(size), "%s holds %lld key%s where the target holds %lld", *ident ? "it" : "the source",
                 (long long)c->source_keys, c->source_keys == 1 ? "" : "s", (long long)c->target_keys);
    snprintf(why, cap, "%s%s%s", ident, *ident && *size ? " and " : "", size);
    return *why != '\0';
}

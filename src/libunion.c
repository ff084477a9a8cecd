/* libunion.c -- the function libraries of several snapshots, each once
 * (see libunion.h). */
#include "libunion.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lib {
    struct lib *next;
    char *name, *code;
    size_t namelen, len;
    int shard;
    char node[300];
} lib;

struct libUnion {
    pthread_mutex_t mu;
    lib *libs;
};

struct libRelay {
    libUnion *u;
    int shard;
    char node[300];
    const rdbHandlers *in;
    char err[900];
};

libUnion *libUnionNew(void) {
    libUnion *u = calloc(1, sizeof(*u));
    if (u) pthread_mutex_init(&u->mu, NULL);
    return u;
}

void libUnionFree(libUnion *u) {
    if (!u) return;
    while (u->libs) {
        lib *l = u->libs;
        u->libs = l->next;
        free(l->name);
        free(l->code);
        free(l);
    }
    pthread_mutex_destroy(&u->mu);
    free(u);
}

/* The library's name: the shebang's name=, up to a space or the line's end. */
static void libName(const rdbFunction *fn, const char **name, size_t *len) {
    *name = fn->pre_ga ? fn->name : "", *len = fn->pre_ga ? fn->namelen : 0;
    if (fn->pre_ga) return;
    const char *end = memchr(fn->code, '\n', fn->len);
    size_t line = end ? (size_t)(end - fn->code) : fn->len;
    for (size_t i = 0; i + 5 <= line; i++) {
        if (memcmp(fn->code + i, "name=", 5) != 0 || (i > 0 && fn->code[i - 1] != ' ')) continue;
        size_t j = i + 5;
        while (j < line && fn->code[j] != ' ' && fn->code[j] != '\r') j++;
        *name = fn->code + i + 5, *len = j - i - 5;
        return;
    }
}

static lib *libFind(libUnion *u, const char *name, size_t len) {
    for (lib *l = u->libs; l; l = l->next)
        if (l->namelen == len && memcmp(l->name, name, len) == 0) return l;
    return NULL;
}

/* Remember (or, for the same shard, update) the library. -1 out of memory. */
static int libKeep(libUnion *u, lib *l, const libRelay *r, const char *name, size_t nlen, const rdbFunction *fn) {
    char *code = malloc(fn->len + 1);
    if (!code) return -1;
    memcpy(code, fn->code, fn->len);
    if (!l) {
        l = calloc(1, sizeof(*l));
        if (!l || !(l->name = malloc(nlen + 1))) return free(l), free(code), -1;
        memcpy(l->name, name, nlen);
        l->namelen = nlen;
        l->next = u->libs;
        u->libs = l;
    }
    free(l->code);
    l->code = code, l->len = fn->len, l->shard = r->shard;
    snprintf(l->node, sizeof(l->node), "%s", r->node);
    return 0;
}

/* 1 to pass the library on, 0 to leave it out (loaded from another shard
 * already), -1 (r->err) for a conflict. */
static int libVerdict(libRelay *r, const rdbFunction *fn) {
    const char *name;
    size_t nlen;
    libName(fn, &name, &nlen);
    pthread_mutex_lock(&r->u->mu);
    lib *l = libFind(r->u, name, nlen);
    int rc = 1;
    if (l && l->shard != r->shard && l->len == fn->len && memcmp(l->code, fn->code, fn->len) == 0) rc = 0;
    else if (l && l->shard != r->shard) {
        snprintf(r->err, sizeof(r->err), "function library '%.*s' differs between shards %s and %s (the same name, "
                 "other code): load one code on every master (FUNCTION LOAD REPLACE), then run again",
                 (int)(nlen > 200 ? 200 : nlen), name, l->node, r->node);
        rc = -1;
    } else if (libKeep(r->u, l, r, name, nlen, fn) < 0) {
        snprintf(r->err, sizeof(r->err), "out of memory remembering a function library");
        rc = -1;
    }
    pthread_mutex_unlock(&r->u->mu);
    return rc;
}

libRelay *libRelayNew(libUnion *u, int shard, const char *node, const rdbHandlers *inner) {
    libRelay *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->u = u, r->shard = shard, r->in = inner;
    libRelaySetNode(r, node);
    return r;
}

void libRelaySetNode(libRelay *r, const char *node) { snprintf(r->node, sizeof(r->node), "%s", node); }
void libRelayFree(libRelay *r) { free(r); }
const char *libRelayConflict(const libRelay *r) { return r->err[0] ? r->err : NULL; }

#define INNER(name, ...) (r->in->name ? r->in->name(r->in->ctx, __VA_ARGS__) : 0)

#define RELAY_EVENT(name, params, args)                                        \
    static int lib_##name(void *ctx, RDB_UNPAREN params) {                     \
        libRelay *r = ctx;                                                     \
        return INNER(name, RDB_UNPAREN args);                                  \
    }
RDB_EVENTS(RELAY_EVENT)
#undef RELAY_EVENT

static int libFunction(void *ctx, const rdbFunction *fn) {
    libRelay *r = ctx;
    int v = libVerdict(r, fn);
    return v < 0 ? -1 : v ? INNER(function, fn) : 0;
}

static int libWantRaw(void *ctx, const rdbKeyInfo *k) {
    libRelay *r = ctx;
    return r->in->want_raw ? r->in->want_raw(r->in->ctx, k) : 1;
}

static int libRawValue(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    libRelay *r = ctx;
    return r->in->raw_value(r->in->ctx, k, p, len);
}

static int libStringChunk(void *ctx, const char *p, size_t len, uint64_t off, uint64_t total) {
    libRelay *r = ctx;
    return r->in->string_chunk(r->in->ctx, p, len, off, total);
}

static const char *libError(void *ctx) {
    libRelay *r = ctx;
    if (r->err[0]) return r->err;
    return r->in->error ? r->in->error(r->in->ctx) : NULL;
}

void libRelayHandlers(libRelay *r, rdbHandlers *out) {
    memset(out, 0, sizeof(*out));
    out->ctx = r;
    out->frame_only = r->in->frame_only;
    out->error = libError;
    r->err[0] = '\0'; /* a new snapshot */
#define RELAY_WIRE(name, params, args) out->name = r->in->name ? lib_##name : NULL;
    RDB_EVENTS(RELAY_WIRE)
#undef RELAY_WIRE
    if (r->in->function) out->function = libFunction;
    if (r->in->raw_value) out->raw_value = libRawValue, out->want_raw = r->in->want_raw ? libWantRaw : NULL;
    if (r->in->string_chunk) out->string_chunk = libStringChunk;
}

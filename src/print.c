/* print.c -- JSON lines for --dump; format and contract in print.h.
 *
 * Every callback writes its piece immediately. The only state kept is which
 * brackets are open and whether a separator is due, so a stream with a
 * million entries costs what a string costs.
 */
#include "src/print.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The printer is the stream's only writer: skip per-call stdio locking. */
#define PUTC(c, f) putc_unlocked((c), (f))
#define WRITE(p, n, f) fwrite_unlocked((p), 1, (n), (f))

struct printer {
    FILE *out;
    rdbLType lt;       /* logical type of the key being printed */
    int hash_ttl;      /* this hash prints as [f,v,ttl] triples */
    int wrote_value;   /* string/module: the scalar value was printed */
    uint64_t n;        /* elements printed in the outermost array/object */
    /* Streams: which brackets are open, and separators due inside them. */
    int entry_open, meta_done, group_open, pel_open, consumer_open;
    int idmp;          /* stream v4: 1 while its IDMP records print, 2 after */
    uint64_t nidmp;
    uint64_t nfields, ngroups, npel, nconsumers, ncpel;
};

/* ---- Low-level output ---- */

static int status(const printer *p) {
    return ferror(p->out) ? -1 : 0;
}

static void putRaw(printer *p, const char *s) {
    WRITE(s, strlen(s), p->out);
}

/* The length of the well-formed UTF-8 sequence at u (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 when there is
 * none. u[0] >= 0x80. */
static size_t utf8Len(const unsigned char *u, size_t left) {
    unsigned char c = u[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else return 0;
    if (left < n || u[1] < lo || u[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (u[i] < 0x80 || u[i] > 0xbf) return 0;
    return n;
}

/* A JSON string (print.h): valid UTF-8 goes out as it is, in runs; what
 * JSON must escape is escaped; a byte that is not part of valid UTF-8
 * becomes the lone surrogate \udcXX, which no valid UTF-8 decodes to. */
static void putStr(printer *p, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0;

    PUTC('"', p->out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = u[i];
        size_t n;
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) continue;
        if (c >= 0x80 && (n = utf8Len(u + i, len - i)) > 0) {
            i += n - 1;
            continue;
        }
        if (i > run) WRITE(s + run, i - run, p->out);
        run = i + 1;
        PUTC('\\', p->out);
        switch (c) {
        case '"': PUTC('"', p->out); break;
        case '\\': PUTC('\\', p->out); break;
        case '\n': PUTC('n', p->out); break;
        case '\r': PUTC('r', p->out); break;
        case '\t': PUTC('t', p->out); break;
        default:
            WRITE(c >= 0x80 ? "udc" : "u00", 3, p->out);
            PUTC(hex[c >> 4], p->out);
            PUTC(hex[c & 15], p->out);
        }
    }
    if (len > run) WRITE(s + run, len - run, p->out);
    PUTC('"', p->out);
}

static void putCStr(printer *p, const char *s) {
    putStr(p, s ? s : "", s ? strlen(s) : 0);
}

static void putU64(printer *p, uint64_t v) {
    fprintf(p->out, "%" PRIu64, v);
}

/* A time or count, or null for the API's -1 "none" marker. */
static void putI64OrNull(printer *p, int64_t v) {
    if (v == -1) putRaw(p, "null"); /* other negatives are real (pre-1970) */
    else fprintf(p->out, "%" PRId64, v);
}

static void putId(printer *p, rdbStreamId id) {
    fprintf(p->out, "\"%" PRIu64 "-%" PRIu64 "\"", id.ms, id.seq);
}

/* Shortest of %.15g..%.17g that reads back to the same double: exact like
 * %.17g, but 2.37 prints as 2.37, not 2.3700000000000001. */
static void putScore(printer *p, double d) {
    char buf[40];
    if (isnan(d)) { putRaw(p, "\"nan\""); return; }
    if (isinf(d)) { putRaw(p, d > 0 ? "\"inf\"" : "\"-inf\""); return; }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, d);
        if (prec == 17 || strtod(buf, NULL) == d) break;
    }
    putRaw(p, buf);
}

/* Comma before every element but the first of the current level. */
static void sep(printer *p, uint64_t *count) {
    if ((*count)++) PUTC(',', p->out);
}

/* ---- Keys ---- */

static void openValue(printer *p, const rdbKeyInfo *k) {
    switch (p->lt) {
    case RDB_LT_LIST:
    case RDB_LT_SET:
    case RDB_LT_ZSET: PUTC('[', p->out); break;
    case RDB_LT_HASH:
        p->hash_ttl = k->info && k->info->field_ttls;
        PUTC(p->hash_ttl ? '[' : '{', p->out);
        break;
    case RDB_LT_STREAM: putRaw(p, "{\"entries\":["); break;
    default: break; /* strings, modules: one scalar callback */
    }
}

static int onKeyBegin(void *ctx, const rdbKeyInfo *k) {
    printer *p = ctx;
    FILE *out = p->out;

    memset(p, 0, sizeof(*p)); /* per-key state starts fresh */
    p->out = out;
    p->lt = k->ltype;
    fprintf(out, "{\"db\":%" PRIu64 ",\"key\":", k->db);
    putStr(p, k->key ? k->key : "", k->key ? k->keylen : 0);
    putRaw(p, ",\"type\":");
    putCStr(p, rdbLTypeName(k->ltype));
    putRaw(p, ",\"encoding\":");
    putCStr(p, k->info ? k->info->name : "unknown");
    putRaw(p, ",\"expire\":");
    putI64OrNull(p, k->expire_ms);
    if (k->meta_classes) fprintf(out, ",\"key_metadata_classes\":%d", k->meta_classes);
    putRaw(p, ",\"value\":");
    openValue(p, k);
    return status(p);
}

static void closeStream(printer *p);

static int onKeyEnd(void *ctx, const rdbKeyInfo *k) {
    printer *p = ctx;
    switch (p->lt) {
    case RDB_LT_LIST:
    case RDB_LT_SET:
    case RDB_LT_ZSET: PUTC(']', p->out); break;
    case RDB_LT_HASH: PUTC(p->hash_ttl ? ']' : '}', p->out); break;
    case RDB_LT_STREAM: closeStream(p); break;
    default:
        if (!p->wrote_value) putRaw(p, "null");
    }
    putRaw(p, "}\n");
    return status(p);
}

static int onString(void *ctx, const char *s, size_t len) {
    printer *p = ctx;
    putStr(p, s, len);
    p->wrote_value = 1;
    return status(p);
}

/* Lists and sets: one JSON string per element. */
static int onItem(void *ctx, const char *s, size_t len) {
    printer *p = ctx;
    sep(p, &p->n);
    putStr(p, s, len);
    return status(p);
}

static int onZsetMember(void *ctx, const char *s, size_t len, double score) {
    printer *p = ctx;
    sep(p, &p->n);
    PUTC('[', p->out);
    putStr(p, s, len);
    PUTC(',', p->out);
    putScore(p, score);
    PUTC(']', p->out);
    return status(p);
}

static int onHashField(void *ctx, const char *f, size_t flen, const char *v, size_t vlen,
                         int64_t expire_ms) {
    printer *p = ctx;
    sep(p, &p->n);
    if (p->hash_ttl) PUTC('[', p->out);
    putStr(p, f, flen);
    PUTC(p->hash_ttl ? ',' : ':', p->out);
    putStr(p, v, vlen);
    if (p->hash_ttl) {
        PUTC(',', p->out);
        putI64OrNull(p, expire_ms);
        PUTC(']', p->out);
    }
    return status(p);
}

static int onModuleValue(void *ctx, const char *name, int encver) {
    printer *p = ctx;
    putRaw(p, "{\"module\":");
    putCStr(p, name);
    fprintf(p->out, ",\"encver\":%d}", encver);
    p->wrote_value = 1;
    return status(p);
}

/* ---- Streams ----
 * Nesting: {"entries":[ [id,[f,v..]] .. ],meta..,"groups":[ {..,"pel":[..],
 * "consumers":[ {..,"pel":[..]} .. ]} .. ]}. Each close* shuts what is
 * open at its level and below. */

static void closeEntry(printer *p) {
    if (p->entry_open) putRaw(p, "]]");
    p->entry_open = 0;
}

static void closeConsumer(printer *p) {
    if (p->consumer_open) putRaw(p, "]}");
    p->consumer_open = 0;
}

static void closeGroup(printer *p) {
    if (!p->group_open) return;
    closeConsumer(p);
    if (p->pel_open) putRaw(p, "],\"consumers\":[");
    putRaw(p, "]}");
    p->group_open = p->pel_open = 0;
}

static void closeStream(printer *p) {
    if (p->idmp) {        /* groups closed when the IDMP records began */
        if (p->idmp == 1) putRaw(p, "]");
        putRaw(p, "}}");
    } else if (p->meta_done) {
        closeGroup(p);
        putRaw(p, "]}");
    } else { /* no metadata came: entries alone still make valid JSON */
        closeEntry(p);
        putRaw(p, "]}");
    }
}

static int onStreamEntry(void *ctx, rdbStreamId id, uint64_t nfields) {
    printer *p = ctx;
    closeEntry(p);
    sep(p, &p->n);
    PUTC('[', p->out);
    putId(p, id);
    putRaw(p, ",[");
    p->entry_open = 1;
    p->nfields = 0;
    return status(p);
}

static int onStreamField(void *ctx, const char *f, size_t flen, const char *v, size_t vlen) {
    printer *p = ctx;
    sep(p, &p->nfields);
    putStr(p, f, flen);
    PUTC(',', p->out);
    putStr(p, v, vlen);
    return status(p);
}

static int onStreamMeta(void *ctx, const rdbStreamMeta *m) {
    printer *p = ctx;
    closeEntry(p);
    putRaw(p, "],\"length\":");
    putU64(p, m->length);
    putRaw(p, ",\"last_id\":");
    putId(p, m->last_id);
    putRaw(p, ",\"first_id\":");
    putId(p, m->first_id);
    putRaw(p, ",\"max_deleted_id\":");
    putId(p, m->max_deleted);
    putRaw(p, ",\"entries_added\":");
    putU64(p, m->entries_added);
    putRaw(p, ",\"groups\":[");
    p->meta_done = 1;
    return status(p);
}

static int onStreamGroup(void *ctx, const rdbStreamGroup *g) {
    printer *p = ctx;
    closeGroup(p);
    sep(p, &p->ngroups);
    putRaw(p, "{\"name\":");
    putStr(p, g->name, g->namelen);
    putRaw(p, ",\"last_id\":");
    putId(p, g->last_id);
    putRaw(p, ",\"entries_read\":");
    putI64OrNull(p, g->entries_read);
    putRaw(p, ",\"pel\":[");
    p->group_open = p->pel_open = 1;
    p->npel = p->nconsumers = 0;
    return status(p);
}

static int onStreamPel(void *ctx, rdbStreamId id, int64_t delivery_time,
                         uint64_t delivery_count) {
    printer *p = ctx;
    sep(p, &p->npel);
    PUTC('[', p->out);
    putId(p, id);
    fprintf(p->out, ",%" PRId64 ",%" PRIu64 "]", delivery_time, delivery_count);
    return status(p);
}

static int onStreamConsumer(void *ctx, const rdbStreamConsumer *c) {
    printer *p = ctx;
    if (p->pel_open) putRaw(p, "],\"consumers\":[");
    p->pel_open = 0;
    closeConsumer(p);
    sep(p, &p->nconsumers);
    putRaw(p, "{\"name\":");
    putStr(p, c->name, c->namelen);
    fprintf(p->out, ",\"seen_time\":%" PRId64 ",\"active_time\":%" PRId64 ",\"pel\":[",
            c->seen_time, c->active_time);
    p->consumer_open = 1;
    p->ncpel = 0;
    return status(p);
}

static int onStreamConsumerPel(void *ctx, rdbStreamId id) {
    printer *p = ctx;
    sep(p, &p->ncpel);
    putId(p, id);
    return status(p);
}

/* Stream v4 (Redis 8.6): after the groups, "idmp":{"records":[[pid,iid,
 * id]..],"duration":..,"max_entries":..,"iids_added":..,
 * "iids_duplicates":..}. */
static void openIdmp(printer *p) {
    if (p->idmp) return;
    closeGroup(p);
    putRaw(p, "],\"idmp\":{\"records\":[");
    p->idmp = 1;
}

static int onStreamIdmpEntry(void *ctx, const char *pid, size_t pidlen, const char *iid, size_t iidlen,
                             rdbStreamId id) {
    printer *p = ctx;
    openIdmp(p);
    sep(p, &p->nidmp);
    PUTC('[', p->out);
    putStr(p, pid, pidlen);
    PUTC(',', p->out);
    putStr(p, iid, iidlen);
    PUTC(',', p->out);
    putId(p, id);
    PUTC(']', p->out);
    return status(p);
}

static int onStreamIdmp(void *ctx, const rdbStreamIdmp *m) {
    printer *p = ctx;
    openIdmp(p);
    fprintf(p->out, "],\"duration\":%" PRIu64 ",\"max_entries\":%" PRIu64 ",\"iids_added\":%" PRIu64
            ",\"iids_duplicates\":%" PRIu64, m->duration, m->max_entries, m->iids_added, m->iids_duplicates);
    p->idmp = 2;
    return status(p);
}

/* ---- File-level records ---- */

static int onFunction(void *ctx, const rdbFunction *fn) {
    printer *p = ctx;
    putRaw(p, "{\"function\":");
    putStr(p, fn->code ? fn->code : "", fn->code ? fn->len : 0);
    if (fn->pre_ga) {
        putRaw(p, ",\"name\":");
        putStr(p, fn->name ? fn->name : "", fn->name ? fn->namelen : 0);
        putRaw(p, ",\"engine\":");
        putStr(p, fn->engine ? fn->engine : "", fn->engine ? fn->enginelen : 0);
    }
    putRaw(p, "}\n");
    return status(p);
}

static int onEof(void *ctx, const rdbEofInfo *e) {
    printer *p = ctx;
    fflush(p->out);
    return status(p);
}

/* ---- Public API ---- */

printer *printerNew(FILE *out) {
    printer *p = calloc(1, sizeof(*p));
    if (p) p->out = out;
    return p;
}

void printerFree(printer *p) {
    free(p);
}

/* Callbacks fail only when the output does (print.h). */
static const char *onError(void *ctx) { return "writing the output failed"; }

void printerHandlers(printer *p, rdbHandlers *h) {
    memset(h, 0, sizeof *h);
    h->ctx = p;
    h->error = onError;
    h->function = onFunction;
    h->eof = onEof;
    h->key_begin = onKeyBegin;
    h->key_end = onKeyEnd;
    h->string = onString;
    h->list_item = onItem;
    h->set_member = onItem;
    h->zset_member = onZsetMember;
    h->hash_field = onHashField;
    h->stream_entry = onStreamEntry;
    h->stream_field = onStreamField;
    h->stream_meta = onStreamMeta;
    h->stream_group = onStreamGroup;
    h->stream_pel = onStreamPel;
    h->stream_consumer = onStreamConsumer;
    h->stream_consumer_pel = onStreamConsumerPel;
    h->stream_idmp_entry = onStreamIdmpEntry;
    h->stream_idmp = onStreamIdmp;
    h->module_value = onModuleValue;
}

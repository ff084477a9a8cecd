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
    uint64_t nfields, ngroups, npel, nconsumers, ncpel;
};

/* ---- Low-level output ---- */

static int status(const printer *p) {
    return ferror(p->out) ? -1 : 0;
}

static void puts_raw(printer *p, const char *s) {
    WRITE(s, strlen(s), p->out);
}

/* A JSON string, escaped byte-wise (print.h): runs of plain bytes go out in
 * one write, the rest one escape at a time. */
static void put_str(printer *p, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0;

    PUTC('"', p->out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = u[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') continue;
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
            WRITE("u00", 3, p->out);
            PUTC(hex[c >> 4], p->out);
            PUTC(hex[c & 15], p->out);
        }
    }
    if (len > run) WRITE(s + run, len - run, p->out);
    PUTC('"', p->out);
}

static void put_cstr(printer *p, const char *s) {
    put_str(p, s ? s : "", s ? strlen(s) : 0);
}

static void put_u64(printer *p, uint64_t v) {
    fprintf(p->out, "%" PRIu64, v);
}

/* A non-negative time or count, or null for the -1 "none" marker. */
static void put_i64_or_null(printer *p, int64_t v) {
    if (v == -1) puts_raw(p, "null"); /* -1 means none; other negatives are past times */
    else fprintf(p->out, "%" PRId64, v);
}

static void put_id(printer *p, rdbStreamId id) {
    fprintf(p->out, "\"%" PRIu64 "-%" PRIu64 "\"", id.ms, id.seq);
}

/* Shortest of %.15g..%.17g that reads back to the same double: exact like
 * %.17g, but 2.37 prints as 2.37, not 2.3700000000000001. */
static void put_score(printer *p, double d) {
    char buf[40];
    if (isnan(d)) { puts_raw(p, "\"nan\""); return; }
    if (isinf(d)) { puts_raw(p, d > 0 ? "\"inf\"" : "\"-inf\""); return; }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, d);
        if (prec == 17 || strtod(buf, NULL) == d) break;
    }
    puts_raw(p, buf);
}

/* Comma before every element but the first of the current level. */
static void sep(printer *p, uint64_t *count) {
    if ((*count)++) PUTC(',', p->out);
}

/* ---- Keys ---- */

static void open_value(printer *p, const rdbKeyInfo *k) {
    switch (p->lt) {
    case RDB_LT_LIST:
    case RDB_LT_SET:
    case RDB_LT_ZSET: PUTC('[', p->out); break;
    case RDB_LT_HASH:
        p->hash_ttl = k->info && k->info->field_ttls;
        PUTC(p->hash_ttl ? '[' : '{', p->out);
        break;
    case RDB_LT_STREAM: puts_raw(p, "{\"entries\":["); break;
    default: break; /* strings, modules: one scalar callback */
    }
}

static int on_key_begin(void *ctx, const rdbKeyInfo *k) {
    printer *p = ctx;
    FILE *out = p->out;

    memset(p, 0, sizeof(*p)); /* per-key state starts fresh */
    p->out = out;
    p->lt = k->ltype;
    fprintf(out, "{\"db\":%" PRIu64 ",\"key\":", k->db);
    put_str(p, k->key ? k->key : "", k->key ? k->keylen : 0);
    puts_raw(p, ",\"type\":");
    put_cstr(p, rdbLTypeName(k->ltype));
    puts_raw(p, ",\"encoding\":");
    put_cstr(p, k->info ? k->info->name : "unknown");
    puts_raw(p, ",\"expire\":");
    put_i64_or_null(p, k->expire_ms);
    puts_raw(p, ",\"value\":");
    open_value(p, k);
    return status(p);
}

static void close_stream(printer *p);

static int on_key_end(void *ctx, const rdbKeyInfo *k) {
    printer *p = ctx;
    switch (p->lt) {
    case RDB_LT_LIST:
    case RDB_LT_SET:
    case RDB_LT_ZSET: PUTC(']', p->out); break;
    case RDB_LT_HASH: PUTC(p->hash_ttl ? ']' : '}', p->out); break;
    case RDB_LT_STREAM: close_stream(p); break;
    default:
        if (!p->wrote_value) puts_raw(p, "null");
    }
    puts_raw(p, "}\n");
    return status(p);
}

static int on_string(void *ctx, const char *s, size_t len) {
    printer *p = ctx;
    put_str(p, s, len);
    p->wrote_value = 1;
    return status(p);
}

/* Lists and sets: one JSON string per element. */
static int on_item(void *ctx, const char *s, size_t len) {
    printer *p = ctx;
    sep(p, &p->n);
    put_str(p, s, len);
    return status(p);
}

static int on_zset_member(void *ctx, const char *s, size_t len, double score) {
    printer *p = ctx;
    sep(p, &p->n);
    PUTC('[', p->out);
    put_str(p, s, len);
    PUTC(',', p->out);
    put_score(p, score);
    PUTC(']', p->out);
    return status(p);
}

static int on_hash_field(void *ctx, const char *f, size_t flen, const char *v, size_t vlen,
                         int64_t expire_ms) {
    printer *p = ctx;
    sep(p, &p->n);
    if (p->hash_ttl) PUTC('[', p->out);
    put_str(p, f, flen);
    PUTC(p->hash_ttl ? ',' : ':', p->out);
    put_str(p, v, vlen);
    if (p->hash_ttl) {
        PUTC(',', p->out);
        put_i64_or_null(p, expire_ms);
        PUTC(']', p->out);
    }
    return status(p);
}

static int on_module_value(void *ctx, const char *name, int encver) {
    printer *p = ctx;
    puts_raw(p, "{\"module\":");
    put_cstr(p, name);
    fprintf(p->out, ",\"encver\":%d}", encver);
    p->wrote_value = 1;
    return status(p);
}

/* ---- Streams ----
 * Nesting: {"entries":[ [id,[f,v..]] .. ],meta..,"groups":[ {..,"pel":[..],
 * "consumers":[ {..,"pel":[..]} .. ]} .. ]}. Each close_* shuts what is
 * open at its level and below. */

static void close_entry(printer *p) {
    if (p->entry_open) puts_raw(p, "]]");
    p->entry_open = 0;
}

static void close_consumer(printer *p) {
    if (p->consumer_open) puts_raw(p, "]}");
    p->consumer_open = 0;
}

static void close_group(printer *p) {
    if (!p->group_open) return;
    close_consumer(p);
    if (p->pel_open) puts_raw(p, "],\"consumers\":[");
    puts_raw(p, "]}");
    p->group_open = p->pel_open = 0;
}

static void close_stream(printer *p) {
    if (p->meta_done) {
        close_group(p);
        puts_raw(p, "]}");
    } else { /* no metadata came: entries alone still make valid JSON */
        close_entry(p);
        puts_raw(p, "]}");
    }
}

static int on_stream_entry(void *ctx, rdbStreamId id, uint64_t nfields) {
    printer *p = ctx;
    close_entry(p);
    sep(p, &p->n);
    PUTC('[', p->out);
    put_id(p, id);
    puts_raw(p, ",[");
    p->entry_open = 1;
    p->nfields = 0;
    return status(p);
}

static int on_stream_field(void *ctx, const char *f, size_t flen, const char *v, size_t vlen) {
    printer *p = ctx;
    sep(p, &p->nfields);
    put_str(p, f, flen);
    PUTC(',', p->out);
    put_str(p, v, vlen);
    return status(p);
}

static int on_stream_meta(void *ctx, const rdbStreamMeta *m) {
    printer *p = ctx;
    close_entry(p);
    puts_raw(p, "],\"length\":");
    put_u64(p, m->length);
    puts_raw(p, ",\"last_id\":");
    put_id(p, m->last_id);
    puts_raw(p, ",\"first_id\":");
    put_id(p, m->first_id);
    puts_raw(p, ",\"max_deleted_id\":");
    put_id(p, m->max_deleted);
    puts_raw(p, ",\"entries_added\":");
    put_u64(p, m->entries_added);
    puts_raw(p, ",\"groups\":[");
    p->meta_done = 1;
    return status(p);
}

static int on_stream_group(void *ctx, const rdbStreamGroup *g) {
    printer *p = ctx;
    close_group(p);
    sep(p, &p->ngroups);
    puts_raw(p, "{\"name\":");
    put_str(p, g->name, g->namelen);
    puts_raw(p, ",\"last_id\":");
    put_id(p, g->last_id);
    puts_raw(p, ",\"entries_read\":");
    put_i64_or_null(p, g->entries_read);
    puts_raw(p, ",\"pel\":[");
    p->group_open = p->pel_open = 1;
    p->npel = p->nconsumers = 0;
    return status(p);
}

static int on_stream_pel(void *ctx, rdbStreamId id, int64_t delivery_time,
                         uint64_t delivery_count) {
    printer *p = ctx;
    sep(p, &p->npel);
    PUTC('[', p->out);
    put_id(p, id);
    fprintf(p->out, ",%" PRId64 ",%" PRIu64 "]", delivery_time, delivery_count);
    return status(p);
}

static int on_stream_consumer(void *ctx, const rdbStreamConsumer *c) {
    printer *p = ctx;
    if (p->pel_open) puts_raw(p, "],\"consumers\":[");
    p->pel_open = 0;
    close_consumer(p);
    sep(p, &p->nconsumers);
    puts_raw(p, "{\"name\":");
    put_str(p, c->name, c->namelen);
    fprintf(p->out, ",\"seen_time\":%" PRId64 ",\"active_time\":%" PRId64 ",\"pel\":[",
            c->seen_time, c->active_time);
    p->consumer_open = 1;
    p->ncpel = 0;
    return status(p);
}

static int on_stream_consumer_pel(void *ctx, rdbStreamId id) {
    printer *p = ctx;
    sep(p, &p->ncpel);
    put_id(p, id);
    return status(p);
}

/* ---- File-level records ---- */

static int on_function(void *ctx, const rdbFunction *fn) {
    printer *p = ctx;
    puts_raw(p, "{\"function\":");
    put_str(p, fn->code ? fn->code : "", fn->code ? fn->len : 0);
    if (fn->pre_ga) {
        puts_raw(p, ",\"name\":");
        put_str(p, fn->name ? fn->name : "", fn->name ? fn->namelen : 0);
        puts_raw(p, ",\"engine\":");
        put_str(p, fn->engine ? fn->engine : "", fn->engine ? fn->enginelen : 0);
    }
    puts_raw(p, "}\n");
    return status(p);
}

static int on_eof(void *ctx, const rdbEofInfo *e) {
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

void printerHandlers(printer *p, rdbHandlers *h) {
    h->ctx = p;
    h->function = on_function;
    h->eof = on_eof;
    h->key_begin = on_key_begin;
    h->key_end = on_key_end;
    h->string = on_string;
    h->list_item = on_item;
    h->set_member = on_item;
    h->zset_member = on_zset_member;
    h->hash_field = on_hash_field;
    h->stream_entry = on_stream_entry;
    h->stream_field = on_stream_field;
    h->stream_meta = on_stream_meta;
    h->stream_group = on_stream_group;
    h->stream_pel = on_stream_pel;
    h->stream_consumer = on_stream_consumer;
    h->stream_consumer_pel = on_stream_consumer_pel;
    h->module_value = on_module_value;
}

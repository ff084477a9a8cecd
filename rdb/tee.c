/* tee.c -- forward every decoder callback to two handler sets (see tee.h).
 *
 * The forwarding callbacks are generated from decode.h's RDB_EVENTS, all
 * of one shape (FORWARD). Only the raw-value pair and key_end carry state:
 * which side wanted the raw bytes of the current key.
 */
#include "tee.h"

#include <stdlib.h>
#include <string.h>

struct rdbTee {
    const rdbHandlers *a, *b;
    rdbHandlers none;  /* stands in for a NULL side */
    int asked;         /* want_raw ran for the current key */
    int raw_a, raw_b;  /* which sides wanted this key's raw value */
    const rdbHandlers *stopped; /* the side whose callback said stop */
};

/* Call side s's callback 'name' if it has one; 0 (continue) otherwise. */
#define SIDE_CALL(s, name, ...) ((s)->name ? (s)->name((s)->ctx, __VA_ARGS__) : 0)

/* Remember which side said stop (for teeError); rc passes through. */
static int stoppedBy(rdbTee *t, const rdbHandlers *s, int rc) {
    if (rc) t->stopped = s;
    return rc;
}

/* ---- Strings: whole or in pieces (decode.h string_chunk) ---- */

/* A side that takes pieces gets them (a whole string as one piece); a
 * side with only 'string' gets whole strings. */
static int teeSideString(rdbTee *t, const rdbHandlers *s, const char *p, size_t len) {
    if (s->string_chunk) return stoppedBy(t, s, s->string_chunk(s->ctx, p, len, 0, len));
    return stoppedBy(t, s, SIDE_CALL(s, string, p, len));
}

static int teeString(void *ctx, const char *p, size_t len) {
    rdbTee *t = ctx;
    int rc = teeSideString(t, t->a, p, len);
    return rc ? rc : teeSideString(t, t->b, p, len);
}

static int teeStringChunk(void *ctx, const char *p, size_t len, uint64_t off, uint64_t total) {
    rdbTee *t = ctx;
    int rc = stoppedBy(t, t->a, SIDE_CALL(t->a, string_chunk, p, len, off, total));
    return rc ? rc : stoppedBy(t, t->b, SIDE_CALL(t->b, string_chunk, p, len, off, total));
}

/* The body of a forwarding callback: a, then b unless a said stop. */
#define FORWARD(name, ...)                                                     \
    do {                                                                       \
        rdbTee *t = ctx;                                                       \
        int rc = stoppedBy(t, t->a, SIDE_CALL(t->a, name, __VA_ARGS__));       \
        return rc ? rc : stoppedBy(t, t->b, SIDE_CALL(t->b, name, __VA_ARGS__)); \
    } while (0)

rdbTee *rdbTeeNew(const rdbHandlers *a, const rdbHandlers *b) {
    rdbTee *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->a = a ? a : &t->none;
    t->b = b ? b : &t->none;
    return t;
}

void rdbTeeFree(rdbTee *t) { free(t); }

/* ---- Events: one forwarder per RDB_EVENTS entry (tee_header, ...) ---- */

#define TEE_FORWARDER(name, params, args) \
    static int tee_##name(void *ctx, RDB_UNPAREN params) { FORWARD(name, RDB_UNPAREN args); }
RDB_EVENTS(TEE_FORWARDER) /* tee_string is replaced by teeString in the wiring */
#undef TEE_FORWARDER

/* ---- Raw values ---- */

/* Whether side s wants the raw bytes of key k (tee.h states the rule). */
static int sideWantsRaw(const rdbHandlers *s, const rdbKeyInfo *k) {
    if (!s->raw_value) return 0;
    return s->want_raw ? s->want_raw(s->ctx, k) != 0 : 1;
}

static void askSides(rdbTee *t, const rdbKeyInfo *k) {
    t->raw_a = sideWantsRaw(t->a, k);
    t->raw_b = sideWantsRaw(t->b, k);
    t->asked = 1;
}

static int teeWantRaw(void *ctx, const rdbKeyInfo *k) {
    rdbTee *t = ctx;
    askSides(t, k);
    return t->raw_a || t->raw_b;
}

static int teeRawValue(void *ctx, const rdbKeyInfo *k, const unsigned char *p, size_t len) {
    rdbTee *t = ctx;
    int rc = 0;
    if (!t->asked) askSides(t, k); /* a decoder that skipped want_raw */
    if (t->raw_a) rc = stoppedBy(t, t->a, t->a->raw_value(t->a->ctx, k, p, len));
    if (!rc && t->raw_b) rc = stoppedBy(t, t->b, t->b->raw_value(t->b->ctx, k, p, len));
    return rc;
}

/* The raw-value choice is per key: forget it here, not in key_begin, so
 * that it does not matter whether the decoder asks before or after
 * key_begin. */
static int teeKeyEnd(void *ctx, const rdbKeyInfo *k) {
    rdbTee *t = ctx;
    t->asked = t->raw_a = t->raw_b = 0;
    return tee_key_end(ctx, k);
}

/* The reason of the side that stopped the decoder. */
static const char *teeError(void *ctx) {
    rdbTee *t = ctx;
    const rdbHandlers *s = t->stopped;
    return s && s->error ? s->error(s->ctx) : NULL;
}

/* ---- Wiring ---- */

/* out->name is the tee's callback when either side has one, else NULL. */
#define WIRE(name, fn) out->name = (t->a->name || t->b->name) ? fn : NULL

void rdbTeeHandlers(rdbTee *t, rdbHandlers *out) {
    memset(out, 0, sizeof *out);
    out->ctx = t;
    /* Values are only delimited when neither side wants their content. */
    out->frame_only = t->a->frame_only && t->b->frame_only;
    out->error = teeError;
#define TEE_WIRE(name, params, args) WIRE(name, tee_##name);
    RDB_EVENTS(TEE_WIRE)
#undef TEE_WIRE
    WIRE(key_end, teeKeyEnd);
    /* Pieces only when no side takes whole strings. */
    int whole_a = t->a->string && !t->a->string_chunk, whole_b = t->b->string && !t->b->string_chunk;
    if (!whole_a && !whole_b && (t->a->string_chunk || t->b->string_chunk)) out->string_chunk = teeStringChunk;
    else if (t->a->string || t->b->string || t->a->string_chunk || t->b->string_chunk) out->string = teeString;
    /* want_raw goes with raw_value: a side's want_raw means nothing
     * without its raw_value. */
    WIRE(raw_value, teeRawValue);
    out->want_raw = out->raw_value ? teeWantRaw : NULL;
}

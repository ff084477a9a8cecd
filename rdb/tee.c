/* tee.c -- forward every decoder callback to two handler sets (see tee.h).
 *
 * All forwarding callbacks have the same shape, written once in FORWARD.
 * Only the raw-value pair and key_end carry state: which side wanted the
 * raw bytes of the current key.
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

/* ---- File structure ---- */

static int teeHeader(void *ctx, int version, rdbFlavour flavour) { FORWARD(header, version, flavour); }

static int teeAux(void *ctx, const char *k, size_t klen, const char *v, size_t vlen) {
    FORWARD(aux, k, klen, v, vlen);
}

static int teeSelectDb(void *ctx, uint64_t db) { FORWARD(select_db, db); }

static int teeResizeDb(void *ctx, uint64_t keys, uint64_t expires) { FORWARD(resize_db, keys, expires); }

static int teeSlotInfo(void *ctx, uint64_t slot, uint64_t keys, uint64_t expires) {
    FORWARD(slot_info, slot, keys, expires);
}

static int teeFunction(void *ctx, const rdbFunction *fn) { FORWARD(function, fn); }

static int teeModuleAux(void *ctx, const char *module, int encver, int when) {
    FORWARD(module_aux, module, encver, when);
}

static int teeEof(void *ctx, const rdbEofInfo *e) { FORWARD(eof, e); }

/* ---- Keys and raw values ---- */

static int teeKeyBegin(void *ctx, const rdbKeyInfo *k) { FORWARD(key_begin, k); }

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
    int rc;
    t->asked = t->raw_a = t->raw_b = 0;
    rc = stoppedBy(t, t->a, SIDE_CALL(t->a, key_end, k));
    return rc ? rc : stoppedBy(t, t->b, SIDE_CALL(t->b, key_end, k));
}

/* The reason of the side that stopped the decoder. */
static const char *teeError(void *ctx) {
    rdbTee *t = ctx;
    const rdbHandlers *s = t->stopped;
    return s && s->error ? s->error(s->ctx) : NULL;
}

/* ---- Content ---- */

static int teeString(void *ctx, const char *p, size_t len) { FORWARD(string, p, len); }

static int teeListItem(void *ctx, const char *p, size_t len) { FORWARD(list_item, p, len); }

static int teeSetMember(void *ctx, const char *p, size_t len) { FORWARD(set_member, p, len); }

static int teeZsetMember(void *ctx, const char *p, size_t len, double score) {
    FORWARD(zset_member, p, len, score);
}

static int teeHashField(void *ctx, const char *f, size_t flen, const char *v, size_t vlen,
                        int64_t expire_ms) {
    FORWARD(hash_field, f, flen, v, vlen, expire_ms);
}

static int teeStreamEntry(void *ctx, rdbStreamId id, uint64_t nfields) {
    FORWARD(stream_entry, id, nfields);
}

static int teeStreamField(void *ctx, const char *f, size_t flen, const char *v, size_t vlen) {
    FORWARD(stream_field, f, flen, v, vlen);
}

static int teeStreamNode(void *ctx, const unsigned char *key16, const unsigned char *lp, size_t lplen) {
    FORWARD(stream_node, key16, lp, lplen);
}

static int teeStreamMeta(void *ctx, const rdbStreamMeta *m) { FORWARD(stream_meta, m); }

static int teeStreamGroup(void *ctx, const rdbStreamGroup *g) { FORWARD(stream_group, g); }

static int teeStreamPel(void *ctx, rdbStreamId id, int64_t delivery_time, uint64_t delivery_count) {
    FORWARD(stream_pel, id, delivery_time, delivery_count);
}

static int teeStreamConsumer(void *ctx, const rdbStreamConsumer *c) { FORWARD(stream_consumer, c); }

static int teeStreamConsumerPel(void *ctx, rdbStreamId id) { FORWARD(stream_consumer_pel, id); }

static int teeModuleValue(void *ctx, const char *name, int encver) {
    FORWARD(module_value, name, encver);
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
    WIRE(header, teeHeader);
    WIRE(aux, teeAux);
    WIRE(select_db, teeSelectDb);
    WIRE(resize_db, teeResizeDb);
    WIRE(slot_info, teeSlotInfo);
    WIRE(function, teeFunction);
    WIRE(module_aux, teeModuleAux);
    WIRE(eof, teeEof);
    WIRE(key_begin, teeKeyBegin);
    WIRE(key_end, teeKeyEnd);
    /* want_raw goes with raw_value: a side's want_raw means nothing
     * without its raw_value. */
    WIRE(raw_value, teeRawValue);
    out->want_raw = out->raw_value ? teeWantRaw : NULL;
    WIRE(string, teeString);
    WIRE(list_item, teeListItem);
    WIRE(set_member, teeSetMember);
    WIRE(zset_member, teeZsetMember);
    WIRE(hash_field, teeHashField);
    WIRE(stream_node, teeStreamNode);
    WIRE(stream_entry, teeStreamEntry);
    WIRE(stream_field, teeStreamField);
    WIRE(stream_meta, teeStreamMeta);
    WIRE(stream_group, teeStreamGroup);
    WIRE(stream_pel, teeStreamPel);
    WIRE(stream_consumer, teeStreamConsumer);
    WIRE(stream_consumer_pel, teeStreamConsumerPel);
    WIRE(module_value, teeModuleValue);
}

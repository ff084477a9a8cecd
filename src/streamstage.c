/* streamstage.c -- filters, then translation, on the live stream (see
 * streamstage.h). */
#include "streamstage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

struct streamStage {
    const keyFilter *f;
    xlateTarget t;
    errorPolicy on_error;
    stageStats st;
};

streamStage *stageNew(const keyFilter *f, const rsServerInfo *target, const importOptions *imp) {
    streamStage *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->f = f;
    s->t.info = *target;
    s->t.drop_field_ttls = imp->drop_field_ttls;
    s->on_error = imp->on_error;
    return s;
}

void stageFree(streamStage *s) { free(s); }
void stageSetTarget(streamStage *s, const rsServerInfo *target) { s->t.info = *target; }
const stageStats *stageGetStats(const streamStage *s) { return &s->st; }
uint64_t stageSkipped(const streamStage *s) { return s->st.partial_skipped + s->st.untranslatable_skipped; }

void stageOutFree(stageOut *o) {
    xlateOutFree(&o->x);
    free(o->argv);
    free(o->lens);
    o->argv = NULL, o->lens = NULL;
}

/* "'a', 'b' and 2 more" for messages. */
static void keyList(const char **argv, const size_t *lens, const int *pos, int n, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && i < 3 && used < cap; i++) {
        char kr[120];
        rdbKeyRepr(argv[pos[i]], lens[pos[i]], kr, sizeof(kr));
        used += (size_t)snprintf(buf + used, cap - used, "%s'%s'", i ? ", " : "", kr);
    }
    if (n > 3 && used < cap) snprintf(buf + used, cap - used, " and %d more", n - 3);
}

/* Keys in and keys out, for the partial line. */
static void partialWhy(const streamStage *s, int argc, const char **argv, const size_t *lens, const cmdKeyInfo *ki,
                       char *why, size_t cap) {
    int in[8], out[8], nin = 0, nout = 0;
    for (int i = 0; i < ki->n; i++) {
        int sel = filterName(s->f, argv[ki->pos[i]], lens[ki->pos[i]]);
        if (sel && nin < 8) in[nin++] = ki->pos[i];
        if (!sel && nout < 8) out[nout++] = ki->pos[i];
    }
    char a[200], b[200];
    keyList(argv, lens, in, nin, a, sizeof(a));
    keyList(argv, lens, out, nout, b, sizeof(b));
    snprintf(why, cap, "%.*s has keys selected by --match/--exclude (%s) and keys left out (%s): it cannot be "
             "forwarded in part (--on-error skip drops such commands)", (int)lens[0], argv[0], a, b);
}

/* Room for a command of n arguments in out (the filter stage's own). */
static int ownCmd(stageOut *o, int n) {
    o->argv = calloc((size_t)n, sizeof(*o->argv));
    o->lens = calloc((size_t)n, sizeof(*o->lens));
    return o->argv && o->lens ? 0 : -1;
}

/* DEL of the keys a command of a type left out overwrites. */
static int deleteDest(stageOut *o, const char **argv, const size_t *lens, const cmdKeyInfo *ki) {
    int n = ki->dest_more ? ki->n : ki->ndest;
    if (ownCmd(o, n + 1) < 0) return -1;
    o->argv[0] = "DEL", o->lens[0] = 3;
    for (int i = 0; i < n; i++) {
        int p = ki->dest_more ? ki->pos[i] : ki->dest[i];
        o->argv[i + 1] = argv[p], o->lens[i + 1] = lens[p];
    }
    return n + 1;
}

/* RENAME, RENAMENX and COPY under --type: the key moved only where the target
 * holds it (its type was selected); elsewhere the destination now holds a
 * type left out, so it goes. COPY ... DB n would need the other db. */
#define GUARD_SCRIPT                                                                                  \
    "if redis.call('exists', KEYS[1]) == 1 then return redis.call(ARGV[1], KEYS[1], KEYS[2], unpack(ARGV, 2)) " \
    "else return redis.call('del', KEYS[2]) end"

static int guardMove(stageOut *o, int argc, const char **argv, const size_t *lens) {
    for (int i = 3; i < argc; i++)
        if (lens[i] == 2 && strncasecmp(argv[i], "DB", 2) == 0) return -2;
    if (argc < 3 || ownCmd(o, argc + 3) < 0) return -1;
    int n = 0;
    o->argv[n] = "EVAL", o->lens[n++] = 4;
    o->argv[n] = GUARD_SCRIPT, o->lens[n++] = strlen(GUARD_SCRIPT);
    o->argv[n] = "2", o->lens[n++] = 1;
    o->argv[n] = argv[1], o->lens[n++] = lens[1];
    o->argv[n] = argv[2], o->lens[n++] = lens[2];
    o->argv[n] = argv[0], o->lens[n++] = lens[0];
    for (int i = 3; i < argc; i++) o->argv[n] = argv[i], o->lens[n++] = lens[i];
    return n;
}

/* Stop, or with --on-error skip count and drop (said once per cause). */
static stageVerdict stopOrSkip(streamStage *s, stageOut *o, uint64_t *skipped, const char *cause) {
    if (s->on_error == ONERROR_STOP) return STAGE_STOP;
    (*skipped)++;
    logRefused("not forwarded", cause, "not forwarded: %s", o->why);
    return STAGE_DROP;
}

/* The filter stage: 1 when it decided (*v), 0 when argc, argv and lens
 * (replaced by what it built, if anything) go on to translation. */
static int filterStage(streamStage *s, int *argc, const char ***argv, size_t **lens, stageOut *o,
                       stageVerdict *v) {
    cmdKeyInfo ki;
    filterVerdict fv = filterCommand(s->f, *argc, *argv, *lens, &ki);
    int n = 0, rc = 1;
    switch (fv) {
    case FILTER_PASS: rc = 0; break;
    case FILTER_DROP: s->st.filtered++, *v = STAGE_DROP; break;
    case FILTER_DELETE:
        if ((n = deleteDest(o, *argv, *lens, &ki)) < 0) snprintf(o->why, sizeof(o->why), "out of memory"), *v = STAGE_STOP;
        else s->st.filter_deletes++, rc = 0;
        break;
    case FILTER_GUARD:
        if ((n = guardMove(o, *argc, *argv, *lens)) == -2) {
            snprintf(o->why, sizeof(o->why), "%.*s ... DB with --type: the type of the key it copies is not known "
                     "here", (int)(*lens)[0], (*argv)[0]);
            *v = stopOrSkip(s, o, &s->st.partial_skipped, "TYPEUNKNOWN");
        } else if (n < 0) {
            snprintf(o->why, sizeof(o->why), "out of memory"), *v = STAGE_STOP;
        } else {
            rc = 0;
        }
        break;
    case FILTER_PARTIAL:
        partialWhy(s, *argc, *argv, *lens, &ki, o->why, sizeof(o->why));
        *v = stopOrSkip(s, o, &s->st.partial_skipped, "PARTIAL");
        break;
    case FILTER_UNKNOWN:
        snprintf(o->why, sizeof(o->why), "%.*s: its keys cannot be told from its arguments, so the key filters "
                 "cannot judge it", (int)(*lens)[0], (*argv)[0]);
        *v = stopOrSkip(s, o, &s->st.partial_skipped, "KEYSUNKNOWN");
        break;
    }
    cmdKeysFree(&ki);
    if (rc == 0 && n > 0) *argc = n, *argv = o->argv, *lens = o->lens;
    return rc;
}

stageVerdict stageCommand(streamStage *s, int argc, const char **argv, size_t *lens, int in_multi, stageOut *o) {
    memset(o, 0, sizeof(*o));
    stageVerdict v = STAGE_SEND;
    if (filterActive(s->f) && filterStage(s, &argc, &argv, &lens, o, &v)) return v;
    switch (translateCommand(&s->t, argc, argv, lens, in_multi, &o->x, o->why, sizeof(o->why))) {
    case XLATE_SEND:
        if (o->x.translated) s->st.translated++;
        if (o->x.dropped_field_ttls) s->st.field_ttls_dropped++;
        return STAGE_SEND;
    case XLATE_DROPPED_FIELD_TTL:
        s->st.field_ttls_dropped++;
        return STAGE_DROP;
    case XLATE_NO_EQUIVALENT: break;
    }
    return stopOrSkip(s, o, &s->st.untranslatable_skipped, "NOEQUIVALENT");
}

void stageSummary(const streamStage *s, char *buf, size_t cap) {
    const stageStats *t = &s->st;
    buf[0] = '\0';
    if (!(t->filtered | t->filter_deletes | t->partial_skipped | t->translated | t->field_ttls_dropped |
          t->untranslatable_skipped))
        return;
    snprintf(buf, cap, "; stream: %llu filtered, %llu sent as DEL (type left out), %llu partly selected skipped, "
             "%llu translated, %llu field-TTL commands dropped, %llu without equivalent skipped",
             (unsigned long long)t->filtered, (unsigned long long)t->filter_deletes,
             (unsigned long long)t->partial_skipped, (unsigned long long)t->translated,
             (unsigned long long)t->field_ttls_dropped, (unsigned long long)t->untranslatable_skipped);
}

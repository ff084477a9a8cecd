/* state.c -- the --state file (see state.h). */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "rdb/crc64.h"

#define STATE_MAGIC "rdbsync-state"
#define STATE_MAX_BYTES (STATE_MAX_LINKS * 1024 + 2048)

/* ---- Addresses and links ---- */

void stateAddress(const rsUrl *u, char *out, size_t cap) {
    if (u->is_unix) snprintf(out, cap, "unix:%s", u->path ? u->path : "");
    else if (u->host && strchr(u->host, ':')) snprintf(out, cap, "[%s]:%d", u->host, u->port);
    else snprintf(out, cap, "%s:%d", u->host ? u->host : "", u->port);
}

stateLink *stateFind(stateFile *st, const char *source) {
    for (int i = 0; i < st->nlinks; i++)
        if (strcmp(st->links[i].source, source) == 0) return &st->links[i];
    return NULL;
}

int stateSet(stateFile *st, const stateLink *l) {
    stateLink *at = stateFind(st, l->source);
    if (!at) {
        if (st->nlinks == STATE_MAX_LINKS) return -1;
        at = &st->links[st->nlinks++];
    }
    *at = *l;
    return 0;
}

int stateHasPosition(const stateLink *l) { return l->replid[0] && l->offset >= 0; }

/* ---- Format ---- */

static int mustEscape(unsigned char c) { return c <= 0x20 || c == '%' || c == '=' || c >= 0x7f; }

static int putLine(char **p, char *end, const char *s) {
    size_t n = strlen(s);
    if ((size_t)(end - *p) <= n) return -1;
    memcpy(*p, s, n);
    *p += n;
    return 0;
}

/* value, escaped; "-" when empty (and a value "-" as "%2D"). 0 or -1 when
 * it does not fit. */
static int putValue(char **p, char *end, const char *v) {
    if (!*v) return putLine(p, end, "-");
    if (!strcmp(v, "-")) return putLine(p, end, "%2D");
    for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
        if (end - *p < 4) return -1;
        if (mustEscape(*s)) *p += sprintf(*p, "%%%02X", *s);
        else *(*p)++ = (char)*s;
    }
    return 0;
}

static int putField(char **p, char *end, const char *name, const char *v) {
    int n = snprintf(*p, (size_t)(end - *p), " %s=", name);
    if (n < 0 || n >= end - *p) return -1;
    *p += n;
    return putValue(p, end, v);
}

static int putLink(char **p, char *end, const stateLink *l) {
    char off[24], db[16], ours[4], upd[24];
    snprintf(off, sizeof(off), "%" PRId64, l->offset);
    snprintf(db, sizeof(db), "%d", l->db);
    snprintf(ours, sizeof(ours), "%d", l->target_ours ? 1 : 0);
    snprintf(upd, sizeof(upd), "%" PRId64, l->updated_ms);
    return putLine(p, end, "link") || putField(p, end, "source", l->source) ||
                   (l->nodes[0] && putField(p, end, "nodes", l->nodes)) ||
                   putField(p, end, "run_id", l->source_run_id) || putField(p, end, "replid", l->replid) ||
                   putField(p, end, "offset", off) || putField(p, end, "db", db) ||
                   putField(p, end, "target_ours", ours) || putField(p, end, "updated", upd) ||
                   putLine(p, end, "\n")
               ? -1
               : 0;
}

long stateFormat(const stateFile *st, char *buf, size_t cap) {
    char *p = buf, *end = buf + cap, head[32];
    snprintf(head, sizeof(head), STATE_MAGIC " %d\n", STATE_VERSION);
    if (putLine(&p, end, head) || putLine(&p, end, "target") || putField(&p, end, "addr", st->target) ||
        putField(&p, end, "run_id", st->target_run_id) || putLine(&p, end, "\n"))
        return -1;
    for (int i = 0; i < st->nlinks; i++)
        if (putLink(&p, end, &st->links[i]) < 0) return -1;
    uint64_t crc = crc64(0, buf, (size_t)(p - buf));
    int n = snprintf(p, (size_t)(end - p), "checksum %016" PRIx64 "\n", crc);
    if (n < 0 || n >= end - p) return -1;
    return (long)(p - buf) + n;
}

/* ---- Parse ---- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A value as putValue wrote it. -1 when malformed or too long. */
static int unescape(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    if (n == 1 && s[0] == '-') n = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) return -1;
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (o + 1 >= cap) return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

static int parseInt64(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int isId(const char *s) {
    if (!*s) return 1;
    if (strlen(s) != STATE_ID_LEN) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F'))) return 0;
    return 1;
}

/* v into dst (cap bytes): -1 when it does not fit, or is no id when id. */
static int copyField(char *dst, size_t cap, const char *v, int id) {
    size_t n = strlen(v);
    if (n >= cap || (id && !isId(v))) return -1;
    memcpy(dst, v, n + 1);
    return 0;
}

/* One "name=value" of a link line into its field. */
static int linkField(stateLink *l, const char *name, const char *v) {
    int64_t n;
    if (!strcmp(name, "source")) return copyField(l->source, sizeof(l->source), v, 0);
    if (!strcmp(name, "nodes")) return copyField(l->nodes, sizeof(l->nodes), v, 0);
    if (!strcmp(name, "run_id")) return copyField(l->source_run_id, sizeof(l->source_run_id), v, 1);
    if (!strcmp(name, "replid")) return copyField(l->replid, sizeof(l->replid), v, 1);
    if (parseInt64(v, &n) < 0) return -1;
    if (!strcmp(name, "offset") && n >= -1) return l->offset = n, 0;
    if (!strcmp(name, "db") && n >= 0 && n <= 1 << 20) return l->db = (int)n, 0;
    if (!strcmp(name, "target_ours") && (n == 0 || n == 1)) return l->target_ours = (int)n, 0;
    if (!strcmp(name, "updated")) return l->updated_ms = n, 0;
    return -1;
}

static int targetField(stateFile *st, const char *name, const char *v) {
    if (!strcmp(name, "addr")) return copyField(st->target, sizeof(st->target), v, 0);
    if (!strcmp(name, "run_id")) return copyField(st->target_run_id, sizeof(st->target_run_id), v, 1);
    return -1;
}

/* The fields of one line (after its keyword). -1 with the bad field named. */
static int parseFields(const char *p, const char *eol, stateFile *st, stateLink *l, char *bad, size_t badcap) {
    while (p < eol) {
        if (*p != ' ') return snprintf(bad, badcap, "a field not separated by one space"), -1;
        p++;
        const char *eq = memchr(p, '=', (size_t)(eol - p)), *sp = memchr(p, ' ', (size_t)(eol - p));
        if (!sp) sp = eol;
        if (!eq || eq > sp) return snprintf(bad, badcap, "a field without '='"), -1;
        char name[32], val[STATE_NODES_LEN + 1];
        if ((size_t)(eq - p) >= sizeof(name) || unescape(eq + 1, (size_t)(sp - eq - 1), val, sizeof(val)) < 0)
            return snprintf(bad, badcap, "a malformed field"), -1;
        memcpy(name, p, (size_t)(eq - p));
        name[eq - p] = '\0';
        if ((l ? linkField(l, name, val) : targetField(st, name, val)) < 0)
            return snprintf(bad, badcap, "bad field '%.31s'", name), -1;
        p = sp;
    }
    return 0;
}

static int parseFail(char *err, size_t errlen, int line, const char *what) {
    snprintf(err, errlen, "line %d: %s", line, what);
    return -1;
}

int stateParse(const char *buf, size_t len, stateFile *st, char *err, size_t errlen) {
    memset(st, 0, sizeof(*st));
    /* The checksum line is the last one: find it first, so that nothing
     * before it is trusted unless the whole file is whole. */
    if (len == 0 || buf[len - 1] != '\n') return parseFail(err, errlen, 0, "cut short (no final newline)");
    const char *last = buf + len - 1;
    while (last > buf && last[-1] != '\n') last--;
    uint64_t want;
    char tail[64];
    int lastlen = (int)(buf + len - 1 - last);
    snprintf(tail, sizeof(tail), "%.*s", lastlen < 63 ? lastlen : 63, last);
    if (sscanf(tail, "checksum %16" SCNx64, &want) != 1 || lastlen != 25)
        return parseFail(err, errlen, 0, "no checksum line at the end (cut short?)");
    if (crc64(0, buf, (size_t)(last - buf)) != want) return parseFail(err, errlen, 0, "checksum mismatch");
    int line = 0, version = -1, target_seen = 0;
    for (const char *p = buf; p < last;) {
        const char *eol = memchr(p, '\n', (size_t)(last - p));
        char bad[80];
        line++;
        if (line == 1) {
            if (sscanf(p, STATE_MAGIC " %d", &version) != 1) return parseFail(err, errlen, line, "not an rdbsync state file");
            if (version != STATE_VERSION) {
                snprintf(bad, sizeof(bad), "version %d, this rdbsync reads version %d", version, STATE_VERSION);
                return parseFail(err, errlen, line, bad);
            }
        } else if (eol - p >= 6 && !memcmp(p, "target", 6) && !target_seen) {
            target_seen = 1;
            if (parseFields(p + 6, eol, st, NULL, bad, sizeof(bad)) < 0) return parseFail(err, errlen, line, bad);
        } else if (eol - p >= 4 && !memcmp(p, "link", 4) && st->nlinks < STATE_MAX_LINKS) {
            stateLink *l = &st->links[st->nlinks];
            memset(l, 0, sizeof(*l));
            l->offset = -1;
            if (parseFields(p + 4, eol, st, l, bad, sizeof(bad)) < 0) return parseFail(err, errlen, line, bad);
            if (!l->source[0] || stateFind(st, l->source)) return parseFail(err, errlen, line, "a link without a source, or twice the same");
            st->nlinks++;
        } else {
            return parseFail(err, errlen, line, "unexpected line");
        }
        p = eol + 1;
    }
    if (!target_seen) return parseFail(err, errlen, line, "no target line");
    return 0;
}

/* ---- Files ---- */

int stateLoad(const char *path, stateFile *st, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(STATE_MAX_BYTES + 1);
    ssize_t n = 0, got;
    while (buf && n <= STATE_MAX_BYTES && (got = read(fd, buf + n, (size_t)(STATE_MAX_BYTES + 1 - n))) > 0) n += got;
    int rc = 0;
    char why[200];
    if (!buf) snprintf(err, errlen, "%s: out of memory", path), rc = -1;
    else if (got < 0) snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno)), rc = -1;
    else if (n > STATE_MAX_BYTES) snprintf(err, errlen, "%s: not a state file (over %d bytes)", path, STATE_MAX_BYTES), rc = -1;
    else if (stateParse(buf, (size_t)n, st, why, sizeof(why)) < 0)
        snprintf(err, errlen, "%s: corrupt state file, %s", path, why), rc = -1;
    free(buf);
    close(fd);
    return rc < 0 ? -1 : 1;
}

static int writeAll(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

static int syncDir(const char *path) {
    char *copy = strdup(path);
    if (!copy) return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int stateSave(const char *path, const stateFile *st, char *err, size_t errlen) {
    char *buf = malloc(STATE_MAX_BYTES), tmp[4096];
    long n = buf ? stateFormat(st, buf, STATE_MAX_BYTES) : -1;
    if (n < 0) {
        free(buf);
        return snprintf(err, errlen, "%s: %s", path, buf ? "state too large" : "out of memory"), -1;
    }
    snprintf(tmp, sizeof(tmp), "%s.rdbsync-tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(buf);
        return snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno)), -1;
    }
    int bad = writeAll(fd, buf, (size_t)n) < 0 || fsync(fd) < 0;
    free(buf);
    if (bad) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: cannot rename into place: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (syncDir(path) < 0) return snprintf(err, errlen, "%s: cannot sync its directory: %s", path, strerror(errno)), -1;
    return 0;
}

int stateLock(const char *path, char *err, size_t errlen) {
    char lock[4096];
    snprintf(lock, sizeof(lock), "%s.lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", lock, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    if (errno == EWOULDBLOCK) snprintf(err, errlen, "%s: in use by another rdbsync (%s is locked)", path, lock);
    else snprintf(err, errlen, "%s: cannot lock: %s", lock, strerror(errno));
    close(fd);
    return -1;
}

void stateUnlock(int fd) {
    if (fd >= 0) close(fd); /* the lock goes with it */
}

int stateMatches(const stateFile *st, const char *target, const char *target_run_id, const char *source, char *why,
                 size_t cap) {
    if (strcmp(st->target, target) != 0) {
        snprintf(why, cap, "it was written for target %s, not %s", st->target, target);
        return -1;
    }
    if (st->target_run_id[0] && target_run_id[0] && strcmp(st->target_run_id, target_run_id) != 0) {
        snprintf(why, cap, "the target %s is not the server it was written for (run_id %s, now %s): it restarted or "
                 "was replaced, and may have lost writes since", target, st->target_run_id, target_run_id);
        return -1;
    }
    if (source && st->nlinks && !stateFind((stateFile *)st, source)) {
        snprintf(why, cap, "it was written for source %s%s, not %s", st->links[0].source,
                 st->nlinks > 1 ? " (and others)" : "", source);
        return -1;
    }
    return 0;
}

/* ---- The keeper ---- */

struct stateKeeper {
    char *path;
    pthread_t th;
    pthread_mutex_t mu;   /* st, dirty, stop */
    pthread_mutex_t io;   /* one save at a time */
    pthread_cond_t cv;
    stateFile st;
    stateFile copy;       /* what is being written, under io */
    int dirty, stop, interval_ms, warned;
};

/* Save a copy of the state if dirty; the lock is not held during I/O. */
static int keeperWrite(stateKeeper *k, char *err, size_t errlen) {
    pthread_mutex_lock(&k->io);
    pthread_mutex_lock(&k->mu);
    int dirty = k->dirty;
    if (dirty) k->copy = k->st;
    k->dirty = 0;
    pthread_mutex_unlock(&k->mu);
    int rc = dirty ? stateSave(k->path, &k->copy, err, errlen) : 0;
    if (rc < 0) {
        pthread_mutex_lock(&k->mu);
        k->dirty = 1; /* try again next time */
        pthread_mutex_unlock(&k->mu);
    }
    pthread_mutex_unlock(&k->io);
    return rc;
}

static void *keeperThread(void *arg) {
    stateKeeper *k = arg;
    char err[512];
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += (long)k->interval_ms * 1000000L;
        dl.tv_sec += dl.tv_nsec / 1000000000L;
        dl.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&k->cv, &k->mu, &dl);
        if (k->stop) break;
        pthread_mutex_unlock(&k->mu);
        int rc = keeperWrite(k, err, sizeof(err));
        pthread_mutex_lock(&k->mu);
        if (rc < 0 && !k->warned) {
            k->warned = 1;
            pthread_mutex_unlock(&k->mu);
            logWarn("--state %s (retrying every second)", err);
            pthread_mutex_lock(&k->mu);
        } else if (rc == 0) {
            k->warned = 0;
        }
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

stateKeeper *stateKeeperStart(const char *path, const stateFile *initial, int interval_ms, char *err, size_t errlen) {
    stateKeeper *k = calloc(1, sizeof(*k));
    if (!k || !(k->path = strdup(path))) {
        free(k);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->st = *initial;
    k->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    k->dirty = 1;
    pthread_mutex_init(&k->mu, NULL);
    pthread_mutex_init(&k->io, NULL);
    pthread_cond_init(&k->cv, NULL);
    if (keeperWrite(k, err, errlen) < 0 || pthread_create(&k->th, NULL, keeperThread, k) != 0) {
        if (!*err) snprintf(err, errlen, "cannot start the state thread");
        pthread_mutex_destroy(&k->mu);
        pthread_mutex_destroy(&k->io);
        pthread_cond_destroy(&k->cv);
        free(k->path);
        free(k);
        return NULL;
    }
    return k;
}

void stateKeeperSetLink(stateKeeper *k, const stateLink *l) {
    if (!k) return;
    pthread_mutex_lock(&k->mu);
    stateLink *at = stateFind(&k->st, l->source);
    int same = at && !strcmp(at->replid, l->replid) && at->offset == l->offset && at->db == l->db &&
               at->target_ours == l->target_ours && !strcmp(at->source_run_id, l->source_run_id);
    if (!same && stateSet(&k->st, l) == 0) {
        stateFind(&k->st, l->source)->updated_ms = clockWallMs();
        k->dirty = 1;
    }
    pthread_mutex_unlock(&k->mu);
}

void stateKeeperSetTarget(stateKeeper *k, const char *run_id) {
    if (!k) return;
    pthread_mutex_lock(&k->mu);
    if (strcmp(k->st.target_run_id, run_id) != 0 && copyField(k->st.target_run_id, sizeof(k->st.target_run_id), run_id, 1) == 0)
        k->dirty = 1;
    pthread_mutex_unlock(&k->mu);
}

int stateKeeperFlush(stateKeeper *k, char *err, size_t errlen) { return k ? keeperWrite(k, err, errlen) : 0; }

int stateKeeperStop(stateKeeper *k, char *err, size_t errlen) {
    if (!k) return 0;
    pthread_mutex_lock(&k->mu);
    k->stop = 1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->th, NULL);
    int rc = keeperWrite(k, err, errlen);
    pthread_mutex_destroy(&k->mu);
    pthread_mutex_destroy(&k->io);
    pthread_cond_destroy(&k->cv);
    free(k->path);
    free(k);
    return rc;
}

/* main.c -- flags to a configuration, then one mode, each in its own file.
 *
 * The mode follows from the endpoints given (style.md 4.5; runMode below):
 *   --file F --checksum|--dump   checkfile.c
 *   --file F --target URL        fileimport.c (import, RESTORE pipelined)
 *   --source URL --target URL    sync.c (live sync as a replica), or
 *                                scancopy.c when the source refuses SYNC
 *   --source URL --file|--checksum   snapshot.c
 *   --verify --source URL --target URL   verify.c
 * Only this file maps errors to exit codes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <signal.h>
#include <unistd.h>

#include "log.h"
#include "rdb/crc64.h"
#include "rdb/sha256x.h"
#include "checkfile.h"
#include "conn.h"
#include "csource.h"
#include "cscan.h"
#include "exitcode.h"
#include "fileimport.h"
#include "filter.h"
#include "grace.h"
#include "import.h"
#include "outcome.h"
#include "preflight.h"
#include "scancopy.h"
#include "snapshot.h"
#include "stop.h"
#include "sync.h"
#include "url.h"
#include "verify.h"

#define RDBSYNC_VERSION "0.1.0"

typedef struct config {
    const char *file;
    const char *payload;
    const char *source;
    const char *target;
    int checksum;
    int dump;
    int json;
    int threads;     /* --checksum workers; 0: one per online CPU */
    int quiet;
    logFormat log_format; /* --log-format */
    int force;       /* --source --file: replace an existing file */
    int ignore_crc;
    int no_precheck; /* import: do not verify the file's CRC before writing */
    int flush_target;
    int resync_flush; /* live sync: a later full resync may empty the target whatever the source */
    int grace_given; /* --expire-grace was given */
    int connect_timeout_ms;
    const char *target_user, *target_pass;
    const char *source_user;
    int once;
    int verify;
    long long ttl_tolerance_ms; /* --verify --ttl-tolerance; -1 = auto */
    const char *psync_cmd;
    long source_timeout_s; /* live sync: a silent source link is dropped; 0 = default */
    long status_interval_s; /* --status-interval: off a terminal; 0 = default (5) */
    int mode;        /* 0 auto, 1 replica, 2 scan */
    int target_load; /* --target-load: 0 restore, 1 replica (tload.h) */
    int follow;      /* scan mode: -1 default (on unless --once) */
    long scan_count, rate;
    long long spool_mem;
    const char *spool_dir;
    const char *metrics;  /* --metrics HOST:PORT: live sync's /metrics and /status */
    int exactly_once;     /* --exactly-once: live sync's batches carry a checkpoint on the target */
    const char *checkpoint_key; /* --checkpoint-key; NULL = CHECKPOINT_DEFAULT_KEY */
    const char *state;    /* --state FILE: live sync keeps and resumes its position */
    int cutover;          /* --cutover: cut over by itself once in sync */
    int cutover_verify;   /* --cutover-verify */
    long long pause_ms;   /* --pause-timeout, in ms; 0 = default */
    int source_replicas;  /* --source-replicas: a cluster source is read from each shard's replica */
    importOptions imp;
    keyFilter *filter;    /* --match/--exclude/--type; NULL when none given */
    rsTlsOptions tls[3]; /* TLS flags: [SIDE_BOTH] --cacert..., then --source-*, --target-* */
} config;

/* TLS flags: --tls, --cacert, ... for both sides, --source-tls, ... and
 * --target-tls, ... per side (these win). getopt values: TLS_OPT(side, field). */
enum { SIDE_BOTH, SIDE_SOURCE, SIDE_TARGET };
enum { TLSF_TLS, TLSF_CACERT, TLSF_CACERTDIR, TLSF_CERT, TLSF_KEY, TLSF_SNI, TLSF_INSECURE };
#define TLS_OPT(side, field) (0x100 + (side) * 16 + (field))
#define TLS_OPTS(prefix, side)                                                                          \
    {prefix "tls", no_argument, 0, TLS_OPT(side, TLSF_TLS)},                                            \
    {prefix "cacert", required_argument, 0, TLS_OPT(side, TLSF_CACERT)},                                \
    {prefix "cacertdir", required_argument, 0, TLS_OPT(side, TLSF_CACERTDIR)},                          \
    {prefix "cert", required_argument, 0, TLS_OPT(side, TLSF_CERT)},                                    \
    {prefix "key", required_argument, 0, TLS_OPT(side, TLSF_KEY)},                                      \
    {prefix "sni", required_argument, 0, TLS_OPT(side, TLSF_SNI)},                                      \
    {prefix "insecure", no_argument, 0, TLS_OPT(side, TLSF_INSECURE)}

/* Long-only options without a letter (above the TLS ones). */
#define OPT_TTL_TOLERANCE 0x310

static void usage(FILE *out) {
    fprintf(out,
"rdbsync " RDBSYNC_VERSION " -- copy Redis/Valkey data and prove nothing was lost\n"
"\n"
"Usage:\n"
"  rdbsync --file dump.rdb --checksum [--json]   verify CRC64, count keys, digest content\n"
"  rdbsync --file dump.rdb --dump                print every key as one JSON line\n"
"  rdbsync --file dump.rdb --target URL          import an RDB file into a server\n"
"  rdbsync --payload key.dump --checksum|--dump  check and decode one DUMP payload\n"
"  rdbsync --source URL --target URL [--once]    live sync as a replica, until stopped\n"
"  rdbsync --source URL --file out.rdb [--force] a live snapshot written to an RDB file\n"
"                                                (mode 0600; --force replaces an existing one)\n"
"  rdbsync --source URL --checksum [--json]      the --checksum report of a live source\n"
"  rdbsync --verify --source URL --target URL    compare both sides key by key (exit 8 if\n"
"                                                they differ, naming the first keys)\n"
"\n"
"Options:\n"
"  -f, --file PATH        an RDB file to read ('-' for standard input)\n"
"      --checksum         verify the trailing CRC64 while decoding everything, and print\n"
"                         rdb_version, crc64, keys (total, per db), types, expires,\n"
"                         functions and the logical digest (see README: Digest)\n"
"      --json             with --checksum: one JSON object instead of name: value lines\n"
"      --threads N        with --file --checksum: decode and hash on N worker threads\n"
"                         (1-8; default one per CPU), beside the one reading the file\n"
"      --dump             decode and print keys as JSON lines (one per key)\n"
"      --ignore-crc       report a CRC mismatch but do not fail on it\n"
"      --no-precheck      with --file --target: do not verify the file's CRC64 before\n"
"                         writing (by default a regular file is read once first, so\n"
"                         a corrupt file writes nothing)\n"
"      --payload PATH     instead of --file: one DUMP payload (as DUMP returns it), with\n"
"                         --checksum or --dump; its footer version and CRC64 are checked\n"
"      --ttl-tolerance MS  --verify: expire times at most MS apart are equal (default:\n"
"                         0 between two 7.0+ servers; else 1000 plus twice the slowest\n"
"                         key read, since servers before 7.0 replicate relative EXPIREs\n"
"                         and every replica's times trail by the replication lag)\n"
"  -t, --target URL       redis://[user[:password]@]host[:port][/db] to write to\n"
"                         (rediss:// for TLS, unix:///path.sock for a local socket);\n"
"                         the password may come from RDBSYNC_TARGET_AUTH instead\n"
"                         (or REDISCLI_AUTH), which keeps it off the command line;\n"
"                         any node of a Redis Cluster: every master is written\n"
"      --target-user U    ACL user for the target (overrides the URL's)\n"
"  -s, --source URL       the server to copy from, as a replica (PSYNC, or SYNC on old\n"
"                         servers); password also from RDBSYNC_SOURCE_AUTH\n"
"      --source-user U    ACL user for the source\n"
"      --once             live sync: exit 0 once the snapshot is applied (a run that\n"
"                         resumed: once in sync)\n"
"      --mode auto|replica|scan  how to read a live source: as a replica (PSYNC/SYNC),\n"
"                         or SCAN + DUMP; auto (default) tries the replica path and\n"
"                         switches to scan when the source refuses SYNC and PSYNC\n"
"      --target-load restore|replica  live sync, the first snapshot into an empty\n"
"                         standalone target: RESTORE per key (restore, the default), or\n"
"                         replica: the target loads it as an RDB, as the replica of\n"
"                         rdbsync (REPLICAOF rdbsync's address for the load, promoted\n"
"                         back after it; the target must reach rdbsync)\n"
"      --follow / --no-follow  scan mode: keep the target in sync afterwards through\n"
"                         keyspace notifications (default: on unless --once)\n"
"      --psync-command NAME  the name PSYNC has on this source: some managed services\n"
"                         (ElastiCache on request) expose it renamed\n"
"      --scan-count N     scan mode: SCAN COUNT (default 1000)\n"
"      --rate N           scan mode: at most N keys/s read from the source (default: no limit;\n"
"                         a cluster's masters share N)\n"
"      --spool-mem N      live sync: bytes of unapplied source data kept in memory before\n"
"                         spilling to disk (default 64m)\n"
"      --spool-dir DIR    where the spill file goes (default $TMPDIR or /tmp)\n"
"      --source-timeout S live sync: a source that sends nothing (an idle one still PINGs\n"
"                         every repl-ping-replica-period) for S seconds is taken for\n"
"                         dead: reconnect and continue from what was received (default 60)\n"
"      --source-replicas  a cluster source: read each shard from its replica instead\n"
"                         of its master (the snapshot's fork, or scan mode's and\n"
"                         --verify's SCAN and DUMP, stay off the masters)\n"
"      --metrics HOST:PORT  live sync: serve Prometheus metrics at http://HOST:PORT/metrics\n"
"                         and the same as JSON at /status (a busy port: exit 5)\n"
"      --exactly-once     live sync: apply the stream in MULTI/EXEC batches that also\n"
"                         write a checkpoint hash on the target (db 0), and resume\n"
"                         from it after a lost target or a restart: nothing applied\n"
"                         twice (standalone targets only; see README: Exactly-once)\n"
"      --checkpoint-key NAME  its key (default rdbsync:checkpoint); --verify and\n"
"                         --source URL --checksum leave that key out\n"
"      --state FILE       live sync: keep the applied position in FILE (every second and\n"
"                         at exit); started again with it, continue from there (PSYNC\n"
"                         replid offset+1: 'resumed at offset N') instead of a new full\n"
"                         sync (a cluster source: one position per shard). A FILE for\n"
"                         another source or target, or damaged, is refused\n"
"      --cutover          live sync: once in sync, cut over by itself (as on SIGUSR1):\n"
"                         pause the source's writes (CLIENT PAUSE WRITE, Redis 6.2+),\n"
"                         apply up to its final offset, print 'cut-over: target identical\n"
"                         to the source at offset N; ...', exit 0 (exit 10 and the source\n"
"                         unpaused if the target does not get there within the pause);\n"
"                         a cluster source: every master paused, each shard to its offset\n"
"      --pause-timeout S  cut-over: how long the source's writes are paused (default 60;\n"
"                         decimals allowed, e.g. 2.5)\n"
"      --cutover-verify   cut-over: compare both sides key by key (as --verify) while the\n"
"                         source is paused; a difference unpauses it (exit 8)\n"
"      --status-interval S  live sync and scan mode, off a terminal: a status line\n"
"                         every S seconds (default 5; a waiting phase is said once)\n"
"      --on-conflict error|replace|skip\n"
"                         a key that already exists on the target: stop without\n"
"                         touching it (error, the default), overwrite it, or keep it\n"
"      --replace          same as --on-conflict replace\n"
"      --flush-target     empty the target (FLUSHALL, FUNCTION FLUSH) before the first\n"
"                         key, in every mode that writes (never implied)\n"
"      --resync-flush     live sync: let a later full resync empty the target even when\n"
"                         the source restarted (run_id changed, offset went back) or\n"
"                         holds under half the target's keys (default: stop, exit 7)\n"
"      --on-error stop|skip  a write the target refuses: stop (default) or count it\n"
"                         and go on (the exit status is then 6)\n"
"      --expire-grace MS  live sync and scan mode: an expire time less than MS ahead\n"
"                         is written as MS from when the target applies it, so the\n"
"                         target keeps the key until the source's DEL (or renewal)\n"
"                         arrives, as a replica would (default 10000; 0 = exact\n"
"                         times). A target cut off from its source keeps such keys\n"
"                         at most MS longer\n"
"      --drop-field-ttls  write hashes with field TTLs to targets that cannot hold\n"
"                         them (before Redis 7.4) without the TTLs, naming each key;\n"
"                         in the live stream, skip (and count) HEXPIRE & co.\n"
"      --match GLOB       only keys whose name matches GLOB (Redis's glob; repeatable)\n"
"                         in every mode that reads data; the summary counts the rest.\n"
"                         Live stream: a command on keys partly selected stops the\n"
"                         sync, naming it (--on-error skip drops it, counted)\n"
"      --exclude GLOB     leave out keys whose name matches GLOB (repeatable)\n"
"      --type T           only keys of type T: string list set zset hash stream module\n"
"                         (repeatable)\n"
"      --max-restore-size N  values larger than N bytes (k/m/g suffixes) are written\n"
"                         as batches of native commands; default: the target's\n"
"                         proto-max-bulk-len (512m)\n"
"      --db N             copy only source db N (repeatable)\n"
"      --db-map SRC:DST   write source db SRC into target db DST (repeatable)\n"
"      --connect-timeout MS  TCP connect timeout (default 5000)\n"
"\n"
"TLS (redis-cli's flags; a rediss:// URL turns TLS on for its side):\n"
"      --tls              TLS for redis:// URLs too (unix sockets stay plain)\n"
"      --cacert FILE      trust the CAs in FILE (PEM) instead of the system store\n"
"      --cacertdir DIR    trust the CAs in DIR (c_rehash layout)\n"
"      --cert FILE        client certificate, for servers with tls-auth-clients yes\n"
"      --key FILE         its private key (PEM, not encrypted; default: in --cert)\n"
"      --sni NAME         the server name to send AND to check the certificate\n"
"                         against (default: the URL's host; IPs are checked as IPs)\n"
"      --insecure         do not verify the server's certificate (still encrypted)\n"
"      --source-tls, --source-cacert, ..., --target-insecure\n"
"                         the same for one side; they win over the shared ones\n"
"  The certificate chain and the host name are verified unless --insecure.\n"
"  Passwords: RDBSYNC_SOURCE_AUTH / RDBSYNC_TARGET_AUTH keep them out of the\n"
"  process list (a password in a URL shows in ps); they are never printed.\n"
"\n"
"  -q, --quiet            no progress lines or notes; errors, warnings and the final\n"
"                         one-line summary (keys read, written, skipped...) still go\n"
"                         to stderr\n"
"      --log-format text|json\n"
"                         stderr lines as text (default; off a terminal, status lines\n"
"                         carry a UTC timestamp) or one JSON object per line with\n"
"                         time, level (error, warn, info, status), phase and msg\n"
"  -h, --help             this help\n"
"  -V, --version          print the version\n"
"\n"
"Exit status: 0 ok; 1 usage; 2 cannot read input; 3 corrupt or unsupported input;\n"
"4 checksum mismatch; 5 connection/auth failure; 6 writes refused; 7 conflict;\n"
"8 datasets differ; 9 interrupted (partial output or target); 10 cut-over not\n"
"completed (source unpaused, nothing switched); 70 internal error.\n");
}

static int badValue(const char *flag, const char *v, const char *want) {
    logError("bad value '%s' for %s: expected %s", v, flag, want);
    return -1;
}

static int parseLong(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* "512m", "64k", "1g", "1048576". */
static int parseSize(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0) return -1;
    switch (*end) {
    case 'k': case 'K': v <<= 10, end++; break;
    case 'm': case 'M': v <<= 20, end++; break;
    case 'g': case 'G': v <<= 30, end++; break;
    }
    if (*end) return -1;
    *out = v;
    return 0;
}

/* Key filter flags (filter.h): getopt values clear of the letters and of
 * TLS_OPT's range. */
enum { OPT_MATCH = 0x300, OPT_EXCLUDE, OPT_TYPE };

static int addFilter(config *c, int o, const char *v) {
    if (!c->filter && !(c->filter = filterNew())) return -1;
    if (o == OPT_TYPE && filterAddType(c->filter, v) < 0)
        return badValue("--type", v, "string, list, set, zset, hash, stream or module");
    if (o == OPT_MATCH) return filterAddMatch(c->filter, v);
    if (o == OPT_EXCLUDE) return filterAddExclude(c->filter, v);
    return 0;
}

static void setTlsFlag(config *c, int o) {
    rsTlsOptions *t = &c->tls[(o - 0x100) / 16];
    switch ((o - 0x100) % 16) {
    case TLSF_TLS: t->enabled = 1; break;
    case TLSF_CACERT: t->cacert = optarg; break;
    case TLSF_CACERTDIR: t->cacertdir = optarg; break;
    case TLSF_CERT: t->cert = optarg; break;
    case TLSF_KEY: t->key = optarg; break;
    case TLSF_SNI: t->sni = optarg; break;
    case TLSF_INSECURE: t->insecure = 1; break;
    }
}

static int parseArgs(int argc, char **argv, config *c) {
    static const struct option opts[] = {
        {"file", required_argument, 0, 'f'}, {"source", required_argument, 0, 's'},
        {"target", required_argument, 0, 't'}, {"checksum", no_argument, 0, 'C'},
        {"dump", no_argument, 0, 'D'},         {"json", no_argument, 0, 'J'},
        {"ignore-crc", no_argument, 0, 'I'},   {"quiet", no_argument, 0, 'q'},
        {"force", no_argument, 0, 'O'},
        {"help", no_argument, 0, 'h'},         {"version", no_argument, 0, 'V'},
        {"payload", required_argument, 0, 'P'},
        {"on-conflict", required_argument, 0, 'c'}, {"replace", no_argument, 0, 'R'},
        {"flush-target", no_argument, 0, 'F'},     {"on-error", required_argument, 0, 'E'},
        {"resync-flush", no_argument, 0, 'x'},
        {"drop-field-ttls", no_argument, 0, 'T'},  {"max-restore-size", required_argument, 0, 'M'},
        {"db", required_argument, 0, 'd'},         {"db-map", required_argument, 0, 'm'},
        {"connect-timeout", required_argument, 0, 'o'}, {"target-user", required_argument, 0, 'u'},
        {"source-user", required_argument, 0, 'U'},     {"once", no_argument, 0, '1'},
        {"spool-mem", required_argument, 0, 'S'},       {"spool-dir", required_argument, 0, 'Z'},
        {"mode", required_argument, 0, 'y'},            {"follow", no_argument, 0, 'w'},
        {"no-follow", no_argument, 0, 'W'},             {"scan-count", required_argument, 0, 'n'},
        {"rate", required_argument, 0, 'r'},            {"verify", no_argument, 0, 'v'},
        {"psync-command", required_argument, 0, 'k'},  {"threads", required_argument, 0, 'j'},
        {"no-precheck", no_argument, 0, 'K'},
        {"source-timeout", required_argument, 0, 'L'},
        {"status-interval", required_argument, 0, 'Q'},
        {"expire-grace", required_argument, 0, 'g'},
        {"log-format", required_argument, 0, 'G'},
        {"metrics", required_argument, 0, 'H'},
        {"match", required_argument, 0, OPT_MATCH}, {"exclude", required_argument, 0, OPT_EXCLUDE},
        {"type", required_argument, 0, OPT_TYPE},
        {"exactly-once", no_argument, 0, 'X'},
        {"checkpoint-key", required_argument, 0, 'N'},
        {"state", required_argument, 0, 0x200},         {"cutover", no_argument, 0, 0x201},
        {"pause-timeout", required_argument, 0, 0x202}, {"cutover-verify", no_argument, 0, 0x203},
        {"ttl-tolerance", required_argument, 0, OPT_TTL_TOLERANCE},
        {"source-replicas", no_argument, 0, 0x320},
        {"target-load", required_argument, 0, 0x321},
        TLS_OPTS("", SIDE_BOTH), TLS_OPTS("source-", SIDE_SOURCE), TLS_OPTS("target-", SIDE_TARGET),
        {0, 0, 0, 0}};
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "f:s:t:qhV", opts, NULL)) != -1) {
        switch (o) {
        case 'f': c->file = optarg; break;
        case 'P': c->payload = optarg; break;
        case 's': c->source = optarg; break;
        case 't': c->target = optarg; break;
        case 'C': c->checksum = 1; break;
        case 'D': c->dump = 1; break;
        case 'J': c->json = 1; break;
        case 'j': {
            long v;
            if (parseLong(optarg, 1, 8, &v) < 0) return badValue("--threads", optarg, "a number from 1 to 8");
            c->threads = (int)v;
            break;
        }
        case 'I': c->ignore_crc = 1; break;
        case 'K': c->no_precheck = 1; break;
        case 'q': c->quiet = 1; break;
        case 'G':
            if (logParseFormat(optarg, &c->log_format) < 0) return badValue("--log-format", optarg, "text or json");
            break;
        case 'O': c->force = 1; break;
        case 0x320: c->source_replicas = 1; break;
        case 0x321:
            if (!strcmp(optarg, "restore")) c->target_load = 0;
            else if (!strcmp(optarg, "replica")) c->target_load = 1;
            else return badValue("--target-load", optarg, "restore or replica");
            break;
        case 'c':
            if (!strcmp(optarg, "error")) c->imp.on_conflict = CONFLICT_ERROR;
            else if (!strcmp(optarg, "replace")) c->imp.on_conflict = CONFLICT_REPLACE;
            else if (!strcmp(optarg, "skip")) c->imp.on_conflict = CONFLICT_SKIP;
            else return badValue("--on-conflict", optarg, "error, replace or skip");
            break;
        case 'R': c->imp.on_conflict = CONFLICT_REPLACE; break;
        case 'F': c->flush_target = 1; break;
        case 'x': c->resync_flush = 1; break;
        case 'E':
            if (!strcmp(optarg, "stop")) c->imp.on_error = ONERROR_STOP;
            else if (!strcmp(optarg, "skip")) c->imp.on_error = ONERROR_SKIP;
            else return badValue("--on-error", optarg, "stop or skip");
            break;
        case 'T': c->imp.drop_field_ttls = 1; break;
        case OPT_MATCH:
        case OPT_EXCLUDE:
        case OPT_TYPE:
            if (addFilter(c, o, optarg) < 0) return -1;
            c->imp.filter = c->filter;
            break;
        case 'g': {
            long v;
            if (parseLong(optarg, 0, 86400000, &v) < 0)
                return badValue("--expire-grace", optarg, "milliseconds from 0 to 86400000");
            c->imp.expire_grace_ms = v;
            c->grace_given = 1;
            break;
        }
        case 'M':
            if (parseSize(optarg, &c->imp.max_restore) < 0 || c->imp.max_restore < 64)
                return badValue("--max-restore-size", optarg, "a size of at least 64 bytes (k/m/g suffixes)");
            break;
        case 'd': {
            long v;
            if (parseLong(optarg, 0, IMPORT_MAX_DBS - 1, &v) < 0 || c->imp.n_db_only == IMPORT_MAX_DBS)
                return badValue("--db", optarg, "a db index from 0 to 63");
            c->imp.db_only[c->imp.n_db_only++] = (int)v;
            break;
        }
        case 'm': {
            long a, b;
            char *colon = strchr(optarg, ':');
            if (!colon) return badValue("--db-map", optarg, "SRC:DST");
            *colon = '\0';
            int bad = parseLong(optarg, 0, IMPORT_MAX_DBS - 1, &a) < 0 || parseLong(colon + 1, 0, 1 << 20, &b) < 0;
            *colon = ':';
            if (bad) return badValue("--db-map", optarg, "SRC:DST with SRC 0-63");
            c->imp.db_map[a] = (int)b;
            break;
        }
        case 'o': {
            long v;
            if (parseLong(optarg, 1, 3600000, &v) < 0) return badValue("--connect-timeout", optarg, "milliseconds");
            c->connect_timeout_ms = (int)v;
            break;
        }
        case 'u': c->target_user = optarg; break;
        case 'U': c->source_user = optarg; break;
        case '1': c->once = 1; break;
        case 'S':
            if (parseSize(optarg, &c->spool_mem) < 0 || c->spool_mem < (1 << 20))
                return badValue("--spool-mem", optarg, "a size of at least 1m");
            break;
        case 'Z': c->spool_dir = optarg; break;
        case 'H': c->metrics = optarg; break;
        case 'X': c->exactly_once = 1; break;
        case 'N':
            if (!*optarg || strlen(optarg) > 200) return badValue("--checkpoint-key", optarg, "a key name (1-200 bytes)");
            c->checkpoint_key = optarg;
            break;
        case 0x200: c->state = optarg; break;
        case 0x201: c->cutover = 1; break;
        case 0x202: {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(v >= 0.1 && v <= 86400))
                return badValue("--pause-timeout", optarg, "seconds, 0.1 to 86400");
            c->pause_ms = (long long)(v * 1000.0 + 0.5);
            break;
        }
        case 0x203: c->cutover_verify = 1; break;
        case 'y':
            if (!strcmp(optarg, "auto")) c->mode = 0;
            else if (!strcmp(optarg, "replica")) c->mode = 1;
            else if (!strcmp(optarg, "scan")) c->mode = 2;
            else return badValue("--mode", optarg, "auto, replica or scan");
            break;
        case 'v': c->verify = 1; break;
        case OPT_TTL_TOLERANCE: {
            long v;
            if (parseLong(optarg, 0, 86400000, &v) < 0)
                return badValue("--ttl-tolerance", optarg, "milliseconds from 0 to 86400000");
            c->ttl_tolerance_ms = v;
            break;
        }
        case 'k':
            if (!*optarg || strlen(optarg) > 200) return badValue("--psync-command", optarg, "a command name");
            c->psync_cmd = optarg;
            break;
        case 'L':
            if (parseLong(optarg, 1, 86400, &c->source_timeout_s) < 0)
                return badValue("--source-timeout", optarg, "seconds, 1 to 86400");
            break;
        case 'Q':
            if (parseLong(optarg, 1, 3600, &c->status_interval_s) < 0)
                return badValue("--status-interval", optarg, "seconds, 1 to 3600");
            break;
        case 'w': c->follow = 1; break;
        case 'W': c->follow = 0; break;
        case 'n':
            if (parseLong(optarg, 1, 1000000, &c->scan_count) < 0) return badValue("--scan-count", optarg, "1 to 1000000");
            break;
        case 'r':
            if (parseLong(optarg, 1, 100000000, &c->rate) < 0) return badValue("--rate", optarg, "keys per second");
            break;
        case TLS_OPT(SIDE_BOTH, 0) ... TLS_OPT(SIDE_TARGET, TLSF_INSECURE): setTlsFlag(c, o); break;
        case 'h': usage(stdout); exit(EXIT_OK);
        case 'V':
            printf("rdbsync %s\nkernels: sha256 %s x%d, crc64 %s\n", RDBSYNC_VERSION, sha256xImpl(),
                   sha256xImplLanes(), crc64ImplName());
            exit(EXIT_OK);
        default:
            logError("unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        logError("unexpected argument '%s' (see --help)", argv[optind]);
        return -1;
    }
    return 0;
}

/* The TLS settings of one side: its own flags win over the shared ones.
 * TLS is on for rediss:// and with --SIDE-tls, or --tls (which leaves unix
 * sockets alone: Redis serves them without TLS); it sets u->tls so that
 * messages show rediss://. */
static rsTlsOptions tlsFor(const config *c, int side, rsUrl *u) {
    const rsTlsOptions *b = &c->tls[SIDE_BOTH], *s = &c->tls[side];
    rsTlsOptions t = {
        .enabled = u->tls || s->enabled || (b->enabled && !u->is_unix),
        .cacert = s->cacert ? s->cacert : b->cacert,
        .cacertdir = s->cacertdir ? s->cacertdir : b->cacertdir,
        .cert = s->cert ? s->cert : b->cert,
        .key = s->key ? s->key : b->key,
        .sni = s->sni ? s->sni : b->sni,
        .insecure = s->insecure || b->insecure,
    };
    if (t.enabled) u->tls = 1;
    return t;
}

static int anyTlsFile(const rsTlsOptions *t) {
    return t->cacert || t->cacertdir || t->cert || t->key || t->sni || t->insecure;
}

/* A certificate, key or CA path that cannot be read is an input error
 * (exit 2), said before anything connects: as a TLS failure it would look
 * like the server's fault. -1 after printing the one line. */
static int unreadableTlsFile(const config *c) {
    static const char *const side[3] = {"", "source-", "target-"};
    for (int i = 0; i < 3; i++) {
        const rsTlsOptions *t = &c->tls[i];
        const char *paths[4] = {t->cacert, t->cacertdir, t->cert, t->key};
        const char *flags[4] = {"cacert", "cacertdir", "cert", "key"};
        for (int j = 0; j < 4; j++) {
            if (!paths[j] || access(paths[j], R_OK) == 0) continue;
            logError("--%s%s %s: cannot read: %s", side[i], flags[j], paths[j], strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* TLS flags that would be ignored are mistakes (plain text where TLS was
 * meant); --insecure is said once per side. -1 after printing the error. */
static int checkTls(const config *c, int side, const rsTlsOptions *t, int any_tls) {
    const char *what = side == SIDE_SOURCE ? "source" : "target";
    if (!t->enabled && anyTlsFile(&c->tls[side])) {
        logError("--%s-* TLS options given, but the %s is not TLS (use rediss:// or --%s-tls)",
                what, what, what);
        return -1;
    }
    if (!any_tls && anyTlsFile(&c->tls[SIDE_BOTH])) {
        logError("TLS options given, but no endpoint uses TLS (use rediss:// or --tls)");
        return -1;
    }
    if (t->enabled && t->insecure)
        logWarn("--insecure: the TLS certificate of the %s is not verified "
                        "(the link is encrypted, but anyone on the path can impersonate the server)", what);
    return 0;
}


/* Parse an endpoint URL and fill its credentials from flags and env. */
static outcome endpointUrl(const char *what, const char *s, const char *user, const char *env, rsUrl *u) {
    char err[512];
    if (urlParse(s, u, err, sizeof(err)) < 0) {
        logError("--%s: %s", what, err);
        return OUTCOME_USAGE;
    }
    if ((user && urlSetUser(u, user) < 0) || urlApplyEnvAuth(u, env) < 0 || urlApplyEnvAuth(u, "REDISCLI_AUTH") < 0)
        return OUTCOME_INTERNAL;
    return OUTCOME_OK;
}


/* SIGINT, SIGTERM and SIGHUP (a closed ssh session) all ask for a clean
 * stop: each mode ends at its next boundary and says how far it got. */
static void onStopSignal(int sig) {
    stopNote(sig);
    syncRequestStop();
    scanRequestStop();
}

static void installStopSignals(void) {
    struct sigaction sa = {.sa_handler = onStopSignal}; /* no SA_RESTART: blocking reads return */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* SIGUSR1 asks a live sync to cut over (sync.h); only live sync listens. */
static void onCutoverSignal(int sig) {
    (void)sig;
    syncRequestCutover();
}

static void installCutoverSignal(void) {
    struct sigaction sa = {.sa_handler = onCutoverSignal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

static outcome runScanCopy(const config *c, const syncConfig *sc, const csTopo *cluster) {
    scanCopyConfig cc = {.source = sc->source, .target = sc->target, .source_conn = sc->source_conn,
                         .target_conn = sc->target_conn, .imp = c->imp,
                         .scan = {.count = (int)c->scan_count, .rate = c->rate, .quiet = c->quiet, .filter = c->filter},
                         .follow = c->follow < 0 ? !c->once : c->follow, .flush_target = c->flush_target,
                         .status_interval_ms = (int)c->status_interval_s * 1000};
    return cluster ? csourceScanCopy(&cc, cluster, c->source_replicas) : scanCopy(&cc);
}

/* Is the source a cluster node? Then the whole cluster is read (csource.h),
 * never that node's shard alone. 1 yes (topo filled), 0 no, -1 after
 * printing why it cannot tell. */
static int clusterSource(const rsUrl *src, const rsConnOptions *o, csTopo *topo) {
    char err[700];
    int rc = csourceDetect(src, o, topo, err, sizeof(err));
    if (rc < 0) logError("%s", err);
    return rc;
}

/* --source with --file, --checksum or --verify. */
static outcome runSnapshot(const config *c) {
    rsUrl src = {0}, dst = {0};
    outcome rc = endpointUrl("source", c->source, c->source_user, "RDBSYNC_SOURCE_AUTH", &src);
    if (rc == OUTCOME_OK && c->target) rc = endpointUrl("target", c->target, c->target_user, "RDBSYNC_TARGET_AUTH", &dst);
    snapshotConfig sc = {.source = &src, .target = &dst, .mode = c->mode, .json = c->json,
                         .scan_count = (int)c->scan_count, .rate = c->rate, .quiet = c->quiet,
                         .psync_cmd = c->psync_cmd, .filter = c->filter, .checkpoint_key = c->checkpoint_key,
                         .ttl_tolerance_ms = c->ttl_tolerance_ms};
    rsConnOptions co = {.connect_timeout_ms = c->connect_timeout_ms, .client_name = "rdbsync"};
    sc.source_conn = sc.target_conn = co;
    if (rc == OUTCOME_OK) {
        sc.source_conn.tls = tlsFor(c, SIDE_SOURCE, &src);
        if (c->target) sc.target_conn.tls = tlsFor(c, SIDE_TARGET, &dst);
        int any = sc.source_conn.tls.enabled || sc.target_conn.tls.enabled;
        if (checkTls(c, SIDE_SOURCE, &sc.source_conn.tls, any) < 0 ||
            (c->target && checkTls(c, SIDE_TARGET, &sc.target_conn.tls, any) < 0))
            rc = OUTCOME_USAGE;
    }
    csTopo topo = {0}, ttopo = {0};
    int cluster = rc == OUTCOME_OK ? clusterSource(&src, &sc.source_conn, &topo) : 0;
    /* --verify into a cluster: its keys are read from each master. */
    int tcluster = cluster >= 0 && rc == OUTCOME_OK && c->verify ? clusterSource(&dst, &sc.target_conn, &ttopo) : 0;
    if (cluster < 0 || tcluster < 0) rc = OUTCOME_CONNECT;
    else if (rc == OUTCOME_OK && c->verify && cluster && c->source_replicas)
        rc = cscanVerify(&sc, &topo, tcluster ? &ttopo : NULL, 1);
    else if (rc == OUTCOME_OK && c->verify && (cluster || tcluster))
        rc = csourceVerify(&sc, cluster ? &topo : NULL, tcluster ? &ttopo : NULL);
    else if (rc == OUTCOME_OK && cluster) {
        if (c->file) rc = csourceToFile(&sc, &topo, c->source_replicas, c->file);
        else rc = csourceChecksum(&sc, &topo, c->source_replicas);
    } else if (rc == OUTCOME_OK) {
        if (c->verify) rc = verifyRun(&sc);
        else if (c->file) rc = snapshotToFile(&sc, c->file);
        else rc = snapshotChecksum(&sc);
    }
    csourceTopoFree(&topo);
    csourceTopoFree(&ttopo);
    urlFree(&src);
    urlFree(&dst);
    return rc;
}

/* A /db on the target URL would be ignored: every source db is written to
 * the db of the same number. Refused rather than ignored. */
static outcome targetDbGiven(const rsUrl *u) {
    if (u->db < 0) return OUTCOME_OK;
    logError("--target names db %d, but each source db is written to the target db of the same "
            "number: drop the /%d and use --db-map SRC:%d (with --db SRC) to move a db", u->db, u->db, u->db);
    return OUTCOME_USAGE;
}

/* --metrics: listening before anything connects, so a busy port stops
 * the run at once (exit 5: the address cannot be had, like a connect). */
static outcome startMetrics(const config *c, metrics **m) {
    char err[512];
    int usage = 0;
    *m = NULL;
    if (!c->metrics) return OUTCOME_OK;
    if ((*m = metricsStart(c->metrics, &usage, err, sizeof(err))) != NULL) return OUTCOME_OK;
    logError("%s", err);
    return usage ? OUTCOME_USAGE : OUTCOME_CONNECT;
}

static outcome runSync(const config *c) {
    rsUrl src = {0}, dst = {0};
    outcome rc = endpointUrl("source", c->source, c->source_user, "RDBSYNC_SOURCE_AUTH", &src);
    if (rc == OUTCOME_OK) rc = endpointUrl("target", c->target, c->target_user, "RDBSYNC_TARGET_AUTH", &dst);
    if (rc == OUTCOME_OK) rc = targetDbGiven(&dst);
    if (rc == OUTCOME_OK) {
        const char *tmp = getenv("TMPDIR");
        syncConfig sc = {.source = &src, .target = &dst, .imp = c->imp, .once = c->once, .quiet = c->quiet,
                         .flush_target = c->flush_target, .resync_flush = c->resync_flush,
                         .psync_cmd = c->psync_cmd, .source_timeout_s = (int)c->source_timeout_s,
                         .status_interval_ms = (int)c->status_interval_s * 1000,
                         .scan_fallback = c->mode == 0 && !c->state && !c->cutover && !c->exactly_once,
                         .exactly_once = c->exactly_once, .checkpoint_key = c->checkpoint_key,
                         .state_path = c->state, .cutover = c->cutover, .pause_ms = c->pause_ms,
                         .cutover_verify = c->cutover_verify, .target_load = c->target_load,
                         .spool_mem = (size_t)c->spool_mem,
                         .spool_dir = c->spool_dir ? c->spool_dir : tmp && *tmp ? tmp : "/tmp"};
        rsConnOptions co = {.connect_timeout_ms = c->connect_timeout_ms, .client_name = "rdbsync"};
        sc.source_conn = sc.target_conn = co;
        sc.source_conn.tls = tlsFor(c, SIDE_SOURCE, &src);
        sc.target_conn.tls = tlsFor(c, SIDE_TARGET, &dst);
        int any = sc.source_conn.tls.enabled || sc.target_conn.tls.enabled, refused = 0, cluster = 0;
        csTopo topo = {0};
        if (checkTls(c, SIDE_SOURCE, &sc.source_conn.tls, any) < 0 ||
            checkTls(c, SIDE_TARGET, &sc.target_conn.tls, any) < 0)
            rc = OUTCOME_USAGE;
        else if ((cluster = clusterSource(&src, &sc.source_conn, &topo)) < 0)
            rc = OUTCOME_CONNECT;
        else if (cluster && c->target_load && c->exactly_once) {
            logError("--target-load replica with a cluster source: --exactly-once writes each shard's checkpoint "
                     "before its snapshot, which a target loading as our replica cannot take; use --target-load "
                     "restore (the default)");
            rc = OUTCOME_USAGE;
        }
        else if ((rc = startMetrics(c, &sc.metrics)) != OUTCOME_OK || (rc = preflightLive(&sc, c->flush_target)) != OUTCOME_OK)
            ;
        else if (cluster && (c->mode == 2 || ((rc = csourceSync(&sc, &topo, c->source_replicas, &refused)) != OUTCOME_OK &&
                                              refused && sc.scan_fallback)))
            rc = runScanCopy(c, &sc, &topo);
        else if (cluster)
            ;
        else if (c->mode == 2 || ((rc = syncRun(&sc, &refused)) != OUTCOME_OK && refused && sc.scan_fallback))
            rc = runScanCopy(c, &sc, NULL);
        metricsStop(sc.metrics);
        csourceTopoFree(&topo);
    }
    urlFree(&src);
    urlFree(&dst);
    return rc;
}

/* --file F --target URL. */
static outcome runImport(const config *c) {
    rsUrl u = {0};
    outcome rc = endpointUrl("target", c->target, c->target_user, "RDBSYNC_TARGET_AUTH", &u);
    if (rc == OUTCOME_OK) rc = targetDbGiven(&u);
    fileImportOptions o = {.file = c->file, .target = &u, .imp = c->imp, .flush_target = c->flush_target,
                           .ignore_crc = c->ignore_crc, .precheck = !c->no_precheck && !c->ignore_crc,
                           .quiet = c->quiet,
                           .target_conn = {.connect_timeout_ms = c->connect_timeout_ms, .client_name = "rdbsync"}};
    o.imp.expire_grace_ms = 0; /* a file's times are written exactly; expired keys skipped */
    if (rc == OUTCOME_OK) {
        o.target_conn.tls = tlsFor(c, SIDE_TARGET, &u);
        if (checkTls(c, SIDE_TARGET, &o.target_conn.tls, o.target_conn.tls.enabled) < 0) rc = OUTCOME_USAGE;
    }
    if (rc == OUTCOME_OK) rc = fileImport(&o);
    urlFree(&u);
    return rc;
}

static checkFileOptions checkFileFor(const config *c) {
    return (checkFileOptions){.file = c->file, .payload = c->payload, .json = c->json, .threads = c->threads,
                              .ignore_crc = c->ignore_crc, .filter = c->filter};
}

/* What to run, from the endpoints and actions given (style.md 4.5). */
typedef enum {
    MODE_NONE,            /* nothing recognisable: a usage error */
    MODE_FILE_CHECKSUM,   /* --file|--payload --checksum (checkfile.c) */
    MODE_FILE_DUMP,       /* --file|--payload --dump (checkfile.c) */
    MODE_FILE_IMPORT,     /* --file --target (fileimport.c) */
    MODE_SYNC,            /* --source --target: live sync (sync.c), or scan mode (scancopy.c) */
    MODE_SNAPSHOT_FILE,   /* --source --file (snapshot.c) */
    MODE_SNAPSHOT_CHECKSUM, /* --source --checksum (snapshot.c) */
    MODE_VERIFY,          /* --verify --source --target (snapshot.c) */
} runMode;

static int anyDbMap(const config *c) {
    for (int i = 0; i < IMPORT_MAX_DBS; i++)
        if (c->imp.db_map[i] >= 0) return 1;
    return 0;
}

/* A contradiction in the flags given, or NULL. Refused before anything
 * is opened: a flag that would be silently ignored is a mistake. */
static const char *contradiction(const config *c) {
    int offline = c->file || c->payload;
    if (c->file && c->payload) return "--file and --payload are exclusive";
    if (c->checksum && c->dump) return "--checksum and --dump are exclusive: give one";
    if (c->payload && (c->source || c->target))
        return "--payload is read offline: it takes --checksum or --dump, not --source or --target";
    if (c->file && c->target && (c->checksum || c->dump))
        return "--checksum/--dump read the file and --target imports it: give one of them";
    if (c->source && c->target && c->file)
        return "--source, --target and --file together: import a file with --file F --target URL, copy a "
               "server with --source URL --target URL, or save a snapshot with --source URL --file F";
    if (c->source && c->target && c->checksum)
        return "--checksum with both --source and --target: digest one server with --source URL --checksum, or "
               "compare both with --verify --source URL --target URL";
    if (c->verify && !(c->source && c->target)) return "--verify needs --source and --target";
    if (c->verify && (offline || c->checksum || c->dump)) return "--verify compares two servers: it takes no --file, --checksum or --dump";
    if (c->ttl_tolerance_ms >= 0 && !c->verify)
        return "--ttl-tolerance is for --verify (it says how far apart expire times may be)";
    if (c->source && c->dump)
        return "--dump reads a file: save a snapshot first (--source URL --file F), then --file F --dump";
    if (c->grace_given && !(c->source && c->target && !c->verify))
        return "--expire-grace is for live sync and scan mode (--source URL --target URL): a file import "
               "writes the file's expire times as they are, since no DEL from a source follows it";
    if (c->resync_flush && (!(c->source && c->target) || c->verify || c->mode == 2))
        return "--resync-flush is for live sync as a replica (--source URL --target URL): only there does a "
               "later full resync empty the target";
    if (c->metrics && (!(c->source && c->target) || c->verify || c->mode == 2))
        return "--metrics is for live sync as a replica (--source URL --target URL)";
    if (c->filter && c->source && c->file)
        return "--match/--exclude/--type with --source URL --file F: the snapshot is written whole, as the "
               "source sends it; filter when reading it (--file F --target URL|--checksum|--dump --match ...)";
    if (c->source_replicas && !c->source)
        return "--source-replicas reads a cluster source from its replicas: it needs --source";
    if (c->json && !c->checksum) return "--json is for the --checksum report (--dump lines are JSON already)";
    if (c->exactly_once && (!(c->source && c->target) || c->verify || c->mode == 2))
        return "--exactly-once is for live sync as a replica (--source URL --target URL): its checkpoint follows "
               "the replication stream";
    if (c->checkpoint_key && !c->exactly_once && !c->verify && !(c->source && c->checksum))
        return "--checkpoint-key names the checkpoint of --exactly-once (and the key --verify and --source "
               "--checksum leave out)";
    if ((c->state || c->cutover || c->cutover_verify || c->pause_ms) && (!(c->source && c->target) || c->verify || c->mode == 2))
        return "--state, --cutover, --cutover-verify and --pause-timeout are for live sync as a replica (--source URL "
               "--target URL): scan mode has no replication offsets";
    if (c->target_load && (!(c->source && c->target) || c->verify || c->mode == 2))
        return "--target-load replica is for live sync as a replica (--source URL --target URL): the target loads "
               "the source's snapshot";
    if (c->cutover && c->once) return "--cutover and --once: --once exits after the snapshot, --cutover after switching";
    if (c->cutover_verify && (c->imp.n_db_only || anyDbMap(c)))
        return "--cutover-verify compares whole servers: it cannot be used with --db or --db-map";
    return NULL;
}

/* The mode, or MODE_NONE after printing why (one line). */
static runMode chooseMode(const config *c) {
    const char *why = contradiction(c);
    if (!why) {
        if ((c->file || c->payload) && c->checksum) return MODE_FILE_CHECKSUM;
        if ((c->file || c->payload) && c->dump) return MODE_FILE_DUMP;
        if (c->verify) return MODE_VERIFY;
        if (c->source && c->target) return MODE_SYNC;
        if (c->source && c->file) return MODE_SNAPSHOT_FILE;
        if (c->source && c->checksum) return MODE_SNAPSHOT_CHECKSUM;
        if (c->file && c->target) return MODE_FILE_IMPORT;
        if (c->target)
            why = "--target needs something to copy: --file F (import a snapshot) or --source URL (live sync)";
        else if (c->source)
            why = "--source needs something to do: --target URL (live sync), --file F (save a snapshot), "
                  "--checksum, or --verify with --target URL";
        else
            why = "nothing to do: give --file F with --checksum, --dump or --target (see --help)";
    }
    logError("%s", why);
    return MODE_NONE;
}

static outcome run(const config *c, runMode m) {
    checkFileOptions fo = checkFileFor(c);
    switch (m) {
    case MODE_FILE_CHECKSUM: return checkFileChecksum(&fo);
    case MODE_FILE_DUMP: return checkFileDump(&fo);
    case MODE_FILE_IMPORT: return runImport(c);
    case MODE_SYNC:
        installCutoverSignal();
        return runSync(c);
    case MODE_SNAPSHOT_FILE:
        /* "--file backup.rdb --source URL" may be an import with the
         * flags swapped: never overwrite what may be the only backup. */
        if (!c->force && access(c->file, F_OK) == 0) {
            logError("%s exists: --source URL --file F writes a snapshot of the source to F; "
                    "give --force to replace it (to import a file, use --file F --target URL)", c->file);
            return OUTCOME_USAGE;
        }
        return runSnapshot(c);
    case MODE_SNAPSHOT_CHECKSUM:
    case MODE_VERIFY: return runSnapshot(c);
    case MODE_NONE: break;
    }
    return OUTCOME_USAGE;
}

/* The one place outcomes become exit statuses (README "Exit status"). */
static int exitStatus(outcome o) {
    switch (o) {
    case OUTCOME_OK: return EXIT_OK;
    case OUTCOME_USAGE: return EXIT_USAGE;
    case OUTCOME_INPUT: return EXIT_INPUT;
    case OUTCOME_DECODE: return EXIT_DECODE;
    case OUTCOME_CRC: return EXIT_CRC;
    case OUTCOME_CONNECT: return EXIT_CONNECT;
    case OUTCOME_WRITE: return EXIT_WRITE;
    case OUTCOME_CONFLICT: return EXIT_CONFLICT;
    case OUTCOME_DIFFER: return EXIT_DIFFER;
    case OUTCOME_INTERRUPTED: return EXIT_INTERRUPTED;
    case OUTCOME_CUTOVER: return EXIT_CUTOVER;
    case OUTCOME_INTERNAL: break;
    }
    return EXIT_INTERNAL;
}

int main(int argc, char **argv) {
    config c = {0};
    c.follow = -1;
    for (int i = 0; i < IMPORT_MAX_DBS; i++) c.imp.db_map[i] = -1;
    c.imp.expire_grace_ms = GRACE_DEFAULT_MS;
    c.ttl_tolerance_ms = -1;
    signal(SIGPIPE, SIG_IGN);
    if (parseArgs(argc, argv, &c) < 0) {
        filterFree(c.filter);
        return EXIT_USAGE;
    }
    logSetup(c.log_format, c.quiet);
    if (unreadableTlsFile(&c) < 0) {
        filterFree(c.filter);
        return EXIT_INPUT;
    }
    runMode m = chooseMode(&c);
    installStopSignals();
    outcome o = run(&c, m);
    logRefusedSummary(); /* one line per cause of refused writes that had more */
    filterFree(c.filter);
    return exitStatus(o);
}

/* rdb.c -- the type and version tables declared in rdb.h. */
#include "rdb.h"

#include <stdio.h>

#include "crc64.h"
#include "len.h"

static const rdbTypeInfo redis_types[] = {
    [0] = {"string", RDB_LT_STRING, 1, 0},
    [1] = {"list", RDB_LT_LIST, 1, 0},
    [2] = {"set", RDB_LT_SET, 1, 0},
    [3] = {"zset", RDB_LT_ZSET, 1, 0},
    [4] = {"hash", RDB_LT_HASH, 1, 0},
    [5] = {"zset2", RDB_LT_ZSET, 8, 0},
    [6] = {"module_pre_ga", RDB_LT_MODULE, 8, 0},
    [7] = {"module2", RDB_LT_MODULE, 8, 0},
    [9] = {"hash_zipmap", RDB_LT_HASH, 2, 0},
    [10] = {"list_ziplist", RDB_LT_LIST, 2, 0},
    [11] = {"set_intset", RDB_LT_SET, 2, 0},
    [12] = {"zset_ziplist", RDB_LT_ZSET, 2, 0},
    [13] = {"hash_ziplist", RDB_LT_HASH, 4, 0},
    [14] = {"list_quicklist", RDB_LT_LIST, 7, 0},
    [15] = {"stream_listpacks", RDB_LT_STREAM, 9, 0},
    [16] = {"hash_listpack", RDB_LT_HASH, 10, 0},
    [17] = {"zset_listpack", RDB_LT_ZSET, 10, 0},
    [18] = {"list_quicklist2", RDB_LT_LIST, 10, 0},
    [19] = {"stream_listpacks2", RDB_LT_STREAM, 10, 0},
    [20] = {"set_listpack", RDB_LT_SET, 11, 0},
    [21] = {"stream_listpacks3", RDB_LT_STREAM, 11, 0},
    [22] = {"hash_metadata_pre_ga", RDB_LT_HASH, 12, 1},
    [23] = {"hash_listpack_ex_pre_ga", RDB_LT_HASH, 12, 1},
    [24] = {"hash_metadata", RDB_LT_HASH, 12, 1},
    [25] = {"hash_listpack_ex", RDB_LT_HASH, 12, 1},
    [26] = {"stream_listpacks4", RDB_LT_STREAM, 13, 0},
};

static const rdbTypeInfo valkey_hash2 = {"hash2_valkey", RDB_LT_HASH, 80, 1};

const rdbTypeInfo *rdbTypeLookup(int type, rdbFlavour flavour) {
    if (flavour == RDB_FLAVOUR_VALKEY) {
        /* Valkey 9 shares Redis' codes up to 21 and reuses 22 for HASH_2;
         * it never writes 23-25. */
        if (type == RDB_TYPE_VALKEY_HASH_2) return &valkey_hash2;
        if (type > RDB_TYPE_STREAM_LISTPACKS_3) return NULL;
    }
    if (type < 0 || type >= (int)(sizeof(redis_types) / sizeof(redis_types[0])))
        return NULL;
    return redis_types[type].name ? &redis_types[type] : NULL;
}

const char *rdbLTypeName(rdbLType t) {
    static const char *names[RDB_LT_COUNT] = {"string", "list", "set", "zset",
                                              "hash", "module", "stream"};
    return (t >= 0 && t < RDB_LT_COUNT) ? names[t] : "unknown";
}

rdbFlavour rdbVersionFlavour(int version) {
    return version >= RDB_VERSION_VALKEY_9 ? RDB_FLAVOUR_VALKEY : RDB_FLAVOUR_REDIS;
}

rdbFlavour rdbServerFlavour(int is_valkey, int rdb_version) {
    return is_valkey ? rdbVersionFlavour(rdb_version) : RDB_FLAVOUR_REDIS;
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* ---- walking a KEY_META record in memory (bounds-checked) ---- */

typedef struct memCur {
    const unsigned char *p;
    size_t n, at;
    int bad;
} memCur;

static uint64_t curLen(memCur *c, int *special) {
    uint64_t v = 0;
    if (rdbLenAt(c->p, c->n, &c->at, &v, special) < 0) c->bad = 1;
    return v;
}

static void curSkip(memCur *c, uint64_t k) {
    if (c->bad || k > c->n - c->at) c->bad = 1;
    else c->at += (size_t)k;
}

static void curSkipStr(memCur *c) {
    int special;
    uint64_t n = curLen(c, &special);
    if (!special) curSkip(c, n);
    else if (n <= 2) curSkip(c, (uint64_t)1 << n);
    else if (n == 3) {
        int s1, s2;
        uint64_t clen = curLen(c, &s1);
        curLen(c, &s2);
        if (s1 || s2) c->bad = 1;
        curSkip(c, clen);
    } else c->bad = 1;
}

size_t rdbKeyMetaLen(const unsigned char *p, size_t n, int *classes) {
    memCur c = {p, n, 1, n == 0 || p[0] != RDB_OPCODE_KEY_META};
    int special;
    uint64_t k = curLen(&c, &special);
    if (special || k == 0 || k > 7) return 0;
    for (uint64_t i = 0; i < k && !c.bad; i++) {
        curSkip(&c, 4); /* class spec */
        for (;;) {      /* module opcodes up to EOF */
            uint64_t op = curLen(&c, &special);
            if (c.bad || special || op == 0) break;
            if (op == 1 || op == 2) curLen(&c, &special);
            else if (op == 3) curSkip(&c, 4);
            else if (op == 4) curSkip(&c, 8);
            else if (op == 5) curSkipStr(&c);
            else c.bad = 1;
            if (special) c.bad = 1;
        }
        if (special) c.bad = 1;
    }
    if (c.bad) return 0;
    if (classes) *classes = (int)k;
    return c.at;
}

rdbErrCode rdbPayloadSplit(const unsigned char *p, size_t len, int verify, rdbPayloadParts *out) {
    if (len < RDB_PAYLOAD_MIN) return RDB_ERR_TRUNCATED;
    const unsigned char *footer = p + len - RDB_PAYLOAD_FOOTER;
    size_t body = len - RDB_PAYLOAD_FOOTER, skip = 0;
    out->version = footer[0] | footer[1] << 8;
    out->flavour = rdbVersionFlavour(out->version);
    out->crc_stored = le64(footer + 2);
    out->crc_computed = verify ? crc64(0, p, len - 8) : 0; /* all but the CRC */
    out->meta = NULL;
    out->metalen = 0;
    out->meta_classes = 0;
    /* Redis 8.6 puts a key's metadata before its type byte. */
    if (p[0] == RDB_OPCODE_KEY_META && out->flavour == RDB_FLAVOUR_REDIS && out->version >= 13) {
        skip = rdbKeyMetaLen(p, body, &out->meta_classes);
        if (skip == 0 || skip >= body) {
            out->type = p[0], out->value = p + 1, out->len = body - 1;
            return verify && out->crc_stored != out->crc_computed ? RDB_ERR_CHECKSUM : RDB_ERR_CORRUPT;
        }
        out->meta = p;
        out->metalen = skip;
    }
    out->type = p[skip];
    out->value = p + skip + 1;
    out->len = body - skip - 1;
    return verify && out->crc_stored != out->crc_computed ? RDB_ERR_CHECKSUM : RDB_OK;
}

const char *rdbErrName(rdbErrCode code) {
    static const char *names[] = {"ok", "io", "truncated", "corrupt", "version",
                                  "type", "checksum", "handler", "nomem"};
    return (unsigned)code < sizeof(names) / sizeof(names[0]) ? names[code] : "unknown";
}

const char *rdbVersionRelease(int version, rdbFlavour flavour) {
    static const char *redis[] = {NULL,  "2.0", "2.4", "2.6-dev", "2.6-dev",
                                  "2.6-dev", "2.6", "3.2", "4.0", "5.0",
                                  "7.0", "7.2", "7.4", "8.6", "8.8", "8.10"};
    if (flavour == RDB_FLAVOUR_VALKEY)
        return version == 80 ? "Valkey 9.0" : version == 81 ? "Valkey 9.2" : NULL;
    if (version > 0 && version < (int)(sizeof(redis) / sizeof(redis[0])))
        return redis[version];
    return NULL;
}

int rdbVersionForRelease(rdbFlavour flavour, int major, int minor) {
    /* Redis: the first release (major * 100 + minor) of each version. */
    static const struct { int release, version; } redis[] = {
        {204, 2}, {206, 6}, {302, 7}, {400, 8}, {500, 9}, {700, 10}, {702, 11}, {704, 12}, {806, 13},
    };
    if (flavour == RDB_FLAVOUR_VALKEY) return major >= 9 ? RDB_VERSION_VALKEY_9 : 11;
    int release = major * 100 + minor, version = 1;
    for (size_t i = 0; i < sizeof(redis) / sizeof(redis[0]) && release >= redis[i].release; i++)
        version = redis[i].version;
    return version;
}

int rdbVersionSupported(int version, rdbFlavour flavour) {
    if (flavour == RDB_FLAVOUR_VALKEY) return version == RDB_VERSION_VALKEY_9;
    return version >= 1 && version <= RDB_VERSION_MAX_REDIS;
}

void rdbKeyRepr(const char *k, size_t len, char *out, size_t outlen) {
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < outlen; i++) {
        unsigned char c = (unsigned char)k[i];
        if (i == 64) {
            o += (size_t)snprintf(out + o, outlen - o, "...");
            break;
        }
        if (c >= 32 && c < 127 && c != '\'' && c != '\\') out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

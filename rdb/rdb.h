/* rdb.h -- constants and type tables of the RDB format, in one place.
 *
 * Everything the decoder, the encoders and the digest need to know about
 * type bytes, opcodes and versions lives here, so that supporting a new RDB
 * version means editing one table rather than hunting through switch
 * statements. Facts and their sources: ../shared/docs/format.md, sections 1-2.
 *
 * This header has no dependencies and allocates nothing.
 */
#ifndef RDB_RDB_H
#define RDB_RDB_H

#include <stdint.h>
#include <stddef.h>

/* Highest versions this build understands. A file above these is refused
 * up front with a message naming the version (users.md B4). */
#define RDB_VERSION_MAX_REDIS 13
#define RDB_VERSION_VALKEY_9 80
#define RDB_VERSION_MAX_VALKEY 80

/* Which project wrote the file. Type codes 22 and 23 mean different things
 * in the two flavours (format.md 2.1). A DUMP payload has no magic, so its
 * flavour follows from the footer version (rdbVersionFlavour). */
typedef enum rdbFlavour {
    RDB_FLAVOUR_REDIS = 0,
    RDB_FLAVOUR_VALKEY = 1
} rdbFlavour;

/* The flavour a bare RDB version stands for: RDB_VERSION_VALKEY_9 and up
 * are Valkey's, everything below Redis' (Valkey 7.2-8.x write Redis' 11). */
rdbFlavour rdbVersionFlavour(int version);

/* The flavour of type bytes a server reads, from whether it is Valkey and
 * the highest RDB version it loads: only Valkey 9+ reads Valkey's meaning
 * of 22; Valkey 7.2-8.x read Redis 11 files. */
rdbFlavour rdbServerFlavour(int is_valkey, int rdb_version);

/* What went wrong, beside every error message of the reader (rio.h), the
 * decoder (decode.h) and the payload check (rdbDecodePayload): callers
 * decide on the kind, never on the wording of the message. */
typedef enum rdbErrCode {
    RDB_OK = 0,
    RDB_ERR_IO,        /* the source failed (read error) */
    RDB_ERR_TRUNCATED, /* input ended before the format said it would */
    RDB_ERR_CORRUPT,   /* bytes that cannot be valid */
    RDB_ERR_VERSION,   /* an RDB version this build does not support */
    RDB_ERR_TYPE,      /* an unknown or unsupported type byte or opcode */
    RDB_ERR_CHECKSUM,  /* a CRC-64 (file trailer, DUMP footer) does not match */
    RDB_ERR_HANDLER,   /* a consumer's callback asked to stop */
    RDB_ERR_NOMEM
} rdbErrCode;

/* "io", "truncated", "corrupt", ...: for logs and JSON, not for decisions. */
const char *rdbErrName(rdbErrCode code);

/* A DUMP payload (format.md 3.1): type byte, value, then a footer of the
 * RDB version (u16 LE) and the CRC-64 (u64 LE) of everything before it. */
#define RDB_PAYLOAD_FOOTER 10
#define RDB_PAYLOAD_MIN (1 + RDB_PAYLOAD_FOOTER)

typedef struct rdbPayloadParts {
    const unsigned char *meta;  /* Redis 8.6 KEY_META prefix (opcode 243
                                   included) or NULL; type follows it */
    size_t metalen;
    int meta_classes;
    int type;                   /* the type byte */
    const unsigned char *value; /* the value's bytes (inside the payload) */
    size_t len;
    int version;                /* footer version */
    rdbFlavour flavour;         /* rdbVersionFlavour(version) */
    uint64_t crc_stored, crc_computed; /* computed only when verifying */
} rdbPayloadParts;

/* Cut a payload into its parts; with verify, also check the CRC. RDB_OK,
 * RDB_ERR_TRUNCATED (shorter than RDB_PAYLOAD_MIN: *out untouched),
 * RDB_ERR_CHECKSUM (mismatch: *out filled all the same) or RDB_ERR_CORRUPT
 * (a KEY_META prefix, footer 13..79, that does not parse). */
rdbErrCode rdbPayloadSplit(const unsigned char *p, size_t len, int verify, rdbPayloadParts *out);

/* The length of a KEY_META record at p (opcode byte included), walked
 * within n bytes; its class count in *classes. 0 when it does not parse
 * (truncated, 0 or more than 7 classes, an unknown module opcode). */
size_t rdbKeyMetaLen(const unsigned char *p, size_t n, int *classes);

/* Value type bytes (format.md 2.1). */
#define RDB_TYPE_STRING 0
#define RDB_TYPE_LIST 1
#define RDB_TYPE_SET 2
#define RDB_TYPE_ZSET 3
#define RDB_TYPE_HASH 4
#define RDB_TYPE_ZSET_2 5
#define RDB_TYPE_MODULE_PRE_GA 6
#define RDB_TYPE_MODULE_2 7
#define RDB_TYPE_HASH_ZIPMAP 9
#define RDB_TYPE_LIST_ZIPLIST 10
#define RDB_TYPE_SET_INTSET 11
#define RDB_TYPE_ZSET_ZIPLIST 12
#define RDB_TYPE_HASH_ZIPLIST 13
#define RDB_TYPE_LIST_QUICKLIST 14
#define RDB_TYPE_STREAM_LISTPACKS 15
#define RDB_TYPE_HASH_LISTPACK 16
#define RDB_TYPE_ZSET_LISTPACK 17
#define RDB_TYPE_LIST_QUICKLIST_2 18
#define RDB_TYPE_STREAM_LISTPACKS_2 19
#define RDB_TYPE_SET_LISTPACK 20
#define RDB_TYPE_STREAM_LISTPACKS_3 21
#define RDB_TYPE_HASH_METADATA_PRE_GA 22 /* Redis 7.4 RCs */
#define RDB_TYPE_HASH_LISTPACK_EX_PRE_GA 23 /* Redis 7.4 RCs */
#define RDB_TYPE_HASH_METADATA 24
#define RDB_TYPE_HASH_LISTPACK_EX 25
#define RDB_TYPE_STREAM_LISTPACKS_4 26 /* Redis 8.6 (RDB 13): v3 + IDMP state */
#define RDB_TYPE_VALKEY_HASH_2 22 /* same byte as above, Valkey 9 flavour */

/* Opcodes (format.md 1.5). 243 means different things in the two
 * flavours: Valkey 9's SLOT_IMPORT, Redis 8.6's per-key KEY_META prefix. */
#define RDB_OPCODE_SLOT_IMPORT 243 /* Valkey 9 */
#define RDB_OPCODE_KEY_META 243    /* Redis RDB 13+ */
#define RDB_OPCODE_SLOT_INFO 244
#define RDB_OPCODE_FUNCTION2 245
#define RDB_OPCODE_FUNCTION_PRE_GA 246
#define RDB_OPCODE_MODULE_AUX 247
#define RDB_OPCODE_IDLE 248
#define RDB_OPCODE_FREQ 249
#define RDB_OPCODE_AUX 250
#define RDB_OPCODE_RESIZEDB 251
#define RDB_OPCODE_EXPIRETIME_MS 252
#define RDB_OPCODE_EXPIRETIME 253
#define RDB_OPCODE_SELECTDB 254
#define RDB_OPCODE_EOF 255

/* Length encoding (format.md 1.9). */
#define RDB_6BITLEN 0
#define RDB_14BITLEN 1
#define RDB_32BITLEN 0x80
#define RDB_64BITLEN 0x81
#define RDB_ENCVAL 3
#define RDB_ENC_INT8 0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF 3

/* Quicklist 2 node containers. */
#define RDB_QUICKLIST_NODE_PLAIN 1
#define RDB_QUICKLIST_NODE_PACKED 2

/* Module value opcodes (format.md 2.7). */
#define RDB_MODULE_OPCODE_EOF 0
#define RDB_MODULE_OPCODE_SINT 1
#define RDB_MODULE_OPCODE_UINT 2
#define RDB_MODULE_OPCODE_FLOAT 3
#define RDB_MODULE_OPCODE_DOUBLE 4
#define RDB_MODULE_OPCODE_STRING 5

/* Logical types: what a user sees with TYPE. The numbering is the one
 * DEBUG DIGEST mixes in (format.md 6.2), so it never changes. */
typedef enum rdbLType {
    RDB_LT_STRING = 0,
    RDB_LT_LIST = 1,
    RDB_LT_SET = 2,
    RDB_LT_ZSET = 3,
    RDB_LT_HASH = 4,
    RDB_LT_MODULE = 5,
    RDB_LT_STREAM = 6,
    RDB_LT_COUNT = 7,
    RDB_LT_UNKNOWN = -1
} rdbLType;

/* One row per type byte as understood in a given flavour. */
typedef struct rdbTypeInfo {
    const char *name;   /* encoding name, e.g. "hash_listpack_ex" */
    rdbLType ltype;     /* logical type */
    int min_version;    /* lowest RDB version that carries the byte */
    int field_ttls;     /* 1 if the encoding may carry hash field TTLs */
} rdbTypeInfo;

/* The row for 'type' in 'flavour', or NULL when the byte is not a value
 * type there (an opcode, unused, or unknown). */
const rdbTypeInfo *rdbTypeLookup(int type, rdbFlavour flavour);

/* "string", "list", ... ; "unknown" for anything else. */
const char *rdbLTypeName(rdbLType t);

/* The release that introduced an RDB version, for messages: "7.2". NULL
 * when unknown. */
const char *rdbVersionRelease(int version, rdbFlavour flavour);

/* The highest RDB version (and DUMP footer version) a server release
 * loads, from its product version: Redis 2.6-3.0 -> 6, 3.2 -> 7, 4.0 -> 8,
 * 5.0-6.2 -> 9, 7.0 -> 10, 7.2 -> 11, 7.4-8.4 -> 12, 8.6 and later -> 13
 * (later releases load more, but this build reads nothing above 13);
 * Redis < 2.4 -> 1,
 * 2.4 -> 2; Valkey 7.2-8.x -> 11, 9.x and later -> 80. For a Valkey
 * server, major.minor is valkey_version, not its redis_version. */
int rdbVersionForRelease(rdbFlavour flavour, int major, int minor);

/* 1 when this build decodes files of that version and flavour. */
int rdbVersionSupported(int version, rdbFlavour flavour);

/* A key made printable for one-line messages: bytes outside printable
 * ASCII, the quote and the backslash as \xNN; cut after 64 bytes with
 * "...". Always NUL-terminated in out (outlen >= 8). */
void rdbKeyRepr(const char *k, size_t len, char *out, size_t outlen);

#endif

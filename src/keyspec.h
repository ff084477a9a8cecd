/* keyspec.h -- where the keys of a command are, as the target says.
 *
 * A cluster target needs the key arguments of every command of a live
 * stream: their slots decide where it goes, and a command whose keys span
 * slots is rewritten (xslot.h). The positions come from the target itself,
 * read once at start with COMMAND, never from a list written here:
 *   - 7.0 and later: the key specs of each command and subcommand
 *     (begin_search index|keyword, find_keys range|keynum) with their
 *     flags (RO, RW, OW, RM, ACCESS, UPDATE, INSERT, DELETE, NOT_KEY...),
 *     which say which key a command may write;
 *   - before 7.0: first/last/step of COMMAND, flags unknown.
 * Where the table cannot locate every key (a spec of type "unknown", an
 * INCOMPLETE one, or a "movablekeys" command on a server without key specs:
 * SORT ... STORE, MIGRATE ... KEYS, EVAL on 6.2), the target is asked
 * with COMMAND GETKEYS, one round trip for that command. Its names are
 * placed back on argument positions; a name that also occurs at a position
 * that is not a key (EVAL "..." 1 1) makes the positions ambiguous, said so
 * in keyspecKeys.ambiguous (the slots are still right).
 *
 * Errors: keyspecLoad returns NULL with one line in err (the target refused
 * COMMAND, or its reply is not a command table). keyspecFind returns -1
 * with one line naming the command when the target does not know it or
 * GETKEYS fails (an arity error of the command, a refused GETKEYS).
 *
 * Ownership: the table is the caller's (keyspecFree). keyspecKeys is a
 * caller-owned growable array (zero-initialise it; keyspecKeysFree). The
 * call function and its ctx are borrowed for the table's lifetime.
 */
#ifndef RDBSYNC_KEYSPEC_H
#define RDBSYNC_KEYSPEC_H

#include <stddef.h>

#include <hiredis/hiredis.h>

/* Flags of one key argument: those of its key spec (7.0+). */
enum {
    KEYSPEC_RO = 1 << 0,
    KEYSPEC_RW = 1 << 1,
    KEYSPEC_OW = 1 << 2,
    KEYSPEC_RM = 1 << 3,
    KEYSPEC_ACCESS = 1 << 4,
    KEYSPEC_UPDATE = 1 << 5,
    KEYSPEC_INSERT = 1 << 6,
    KEYSPEC_DELETE = 1 << 7,
    KEYSPEC_NOT_KEY = 1 << 8,   /* a shard channel: hashed like a key, not in the keyspace */
    KEYSPEC_INCOMPLETE = 1 << 9,
    KEYSPEC_VARIABLE_FLAGS = 1 << 10,
    KEYSPEC_UNKNOWN = 1 << 11,  /* no flags known (pre-7.0 table, or a key only GETKEYS found) */
};

/* Flags of a command (COMMAND's third element), those rdbsync uses. */
enum {
    KEYSPEC_CMD_WRITE = 1 << 0,
    KEYSPEC_CMD_PUBSUB = 1 << 1,
    KEYSPEC_CMD_MOVABLE = 1 << 2,
};

typedef struct keyspecKey {
    int pos;        /* index in argv (>= 1) */
    unsigned flags; /* KEYSPEC_* */
} keyspecKey;

typedef struct keyspecKeys {
    keyspecKey *k;
    int n, cap;
    int ambiguous;   /* GETKEYS names that also occur as non-key arguments */
    int via_getkeys; /* the target was asked */
} keyspecKeys;

/* Run one command on the target and return its reply (NULL: the link
 * failed). Used for COMMAND at load and COMMAND GETKEYS later. */
typedef redisReply *(*keyspecCallFn)(void *ctx, int argc, const char **argv, const size_t *lens);

typedef struct keyspecTable keyspecTable;

keyspecTable *keyspecLoad(keyspecCallFn call, void *ctx, char *err, size_t errlen);
/* The table from a COMMAND reply (the caller keeps the reply). */
keyspecTable *keyspecFromReply(const redisReply *r, keyspecCallFn call, void *ctx, char *err, size_t errlen);
void keyspecFree(keyspecTable *t);
/* Commands (and subcommands) in the table; 1 when its entries carry key specs. */
int keyspecCount(const keyspecTable *t);
int keyspecHasSpecs(const keyspecTable *t);

/* The command's flags (KEYSPEC_CMD_*); -1 when the target does not know it. */
int keyspecCommandFlags(const keyspecTable *t, int argc, const char **argv, const size_t *lens);

/* The key arguments of argv, in argument order, into out (cleared first).
 * 0, or -1 with one line in err. */
int keyspecFind(keyspecTable *t, int argc, const char **argv, const size_t *lens, keyspecKeys *out, char *err,
                size_t errlen);
void keyspecKeysFree(keyspecKeys *k);

/* "RW|ACCESS|DELETE" for messages and tests. */
const char *keyspecFlagsStr(unsigned flags, char *buf, size_t cap);

#endif

/* cmdkeys.h -- which arguments of a write command are keys, and what type
 * of value the command works on.
 *
 * A MINIMAL, built-in table, documented as such: the commands a
 * replication stream carries (writes, script and function calls, their
 * effects), with Redis's legacy (first, last, step) key positions and the
 * numkeys/keyword forms (EVAL, FCALL, ZUNIONSTORE, LMPOP, SORT ... STORE,
 * GEORADIUS ... STORE, XGROUP). It is the one place the filters ask (see
 * cmdKeys), so that it can be switched to the target's COMMAND INFO key
 * specs (src/keyspec.c, branch xslot) without touching its callers.
 * A command it does not know is taken to have its one key at argv[1], as
 * nearly every write command (module commands included) has, and to
 * write a module's type (what --type module selects); commands
 * with no key (FLUSHALL, SWAPDB, PUBLISH, FUNCTION, SCRIPT, MULTI...)
 * are listed as keyless.
 *
 * Functions over a static table; a command of more than 16 keys has its
 * positions allocated (cmdKeysFree).
 */
#ifndef RDBSYNC_CMDKEYS_H
#define RDBSYNC_CMDKEYS_H

#include <stddef.h>

#include "rdb/rdb.h"


/* The type class of a command: the logical type of the values it writes
 * (RDB_LT_* of rdb.h), or one of these. */
enum {
    CMDTYPE_GENERIC = -1, /* works on a key of any type (DEL, EXPIRE, RENAME, RESTORE...) */
    CMDTYPE_KEYLESS = -2, /* no key at all */
};

typedef struct cmdKeyInfo {
    int n;                   /* keys found (0 for a keyless command) */
    int *pos;                /* their argv indexes (inline, or allocated past 16) */
    int inline_pos[16];
    int cap;
    int type;                /* RDB_LT_* or CMDTYPE_* */
    int overwrites;          /* 1 when the command may replace a key of any type with
                                one of its own (SET, *STORE, BITOP...): the key
                                positions it overwrites are listed in dest[] */
    int ndest;
    int dest[4];             /* the first four */
    int dest_more;           /* more than four (MSET): every key is overwritten */
} cmdKeyInfo;

/* Fill ki for argv (argv[0] is the command name, any case). 0, or -1 when
 * the arguments contradict the command's form (a numkeys larger than the
 * arguments) or out of memory: the keys cannot be told. Free with
 * cmdKeysFree (after -1 too). */
int cmdKeys(int argc, const char **argv, const size_t *lens, cmdKeyInfo *ki);
void cmdKeysFree(cmdKeyInfo *ki);

#endif

/* print.h -- a decoder consumer that prints every key as one JSON line.
 *
 * `rdbsync --file F --dump` wires this to the decoder. Output is JSONL: one
 * object per key, in file order, written as the callbacks arrive, so memory
 * stays constant whatever the size of a collection:
 *
 *   {"db":0,"key":"k","type":"hash","encoding":"hash_listpack",
 *    "expire":1700000000000,"value":...}
 *
 * "type" is the logical type (rdbLTypeName), "encoding" the RDB encoding
 * (rdbTypeInfo.name), "expire" absolute unix ms or null. "value" is:
 *   string  "..."
 *   list    ["e1","e2",...]                 in list order
 *   set     ["m1",...]                      in file order
 *   zset    [["member",score],...]          in file order; a score is a JSON
 *           number written with the shortest %.15g..%.17g form that reads
 *           back to the same double; +/-inf and nan are the strings
 *           "inf", "-inf", "nan" (JSON has no such numbers)
 *   hash    {"field":"value",...}           for encodings without field TTLs
 *           [["field","value",ttl],...]     for encodings that may carry
 *           field TTLs (rdbTypeInfo.field_ttls: types 22-25, Valkey hash2);
 *           ttl is absolute unix ms or null. The pair and the TTL arrive in
 *           one callback, so this form needs no buffering, and which form a
 *           line uses follows from "encoding" alone.
 *   stream  {"entries":[["ms-seq",["f","v",...]],...],"length":N,
 *            "last_id":"ms-seq","first_id":"..","max_deleted_id":"..",
 *            "entries_added":N,"groups":[{"name":"g","last_id":"..",
 *            "entries_read":N or null,"pel":[["id",delivery_ms,count],...],
 *            "consumers":[{"name":"c","seen_time":ms,"active_time":ms,
 *            "pel":["id",...]},...]},...]}
 *   module  {"module":"name","encver":N}   (the value itself is not shown)
 * A key whose content callbacks never came (should not happen) gets null.
 *
 * Function libraries print as their own lines: {"function":"<code>"}, plus
 * "name" and "engine" for the 7.0-rc FUNCTION opcode. AUX fields, LRU/LFU
 * hints and slot info are not printed: the output is about data.
 *
 * Strings: valid UTF-8 is written as it is ("café" reads back as café);
 * JSON's own escapes \" \\ \n \r \t, and \u00XX for the other bytes below
 * 0x20; a byte XX (0x80-0xff) that is not part of valid UTF-8 is written as
 * \udcXX, a lone low surrogate (Python's "surrogateescape", PEP 383). No
 * valid UTF-8 decodes to those, so binary data stays lossless and
 * unambiguous: in Python, json.loads(line)["key"].encode("utf-8",
 * "surrogateescape") gives back the exact bytes. (jq turns lone surrogates
 * into U+FFFD: the bytes are then lost to jq, not to the line.)
 *
 * Ownership: printerNew returns an object freed with printerFree; it borrows
 * 'out', which the caller closes. printerHandlers fills every callback it
 * uses in h (ctx = the printer) and leaves the others untouched, so it may
 * share an rdbHandlers with nothing else; call it on a zeroed struct.
 *
 * Errors: when writing fails (ferror(out), e.g. EPIPE under `| head`) a
 * callback returns -1, so the decoder stops with RDB_ERR_HANDLER; the caller
 * then checks ferror(out). If decoding fails in the middle of a key, the last
 * line is left incomplete (no newline): streaming cannot take it back.
 */
#ifndef RDBSYNC_PRINT_H
#define RDBSYNC_PRINT_H

#include <stdio.h>

#include "rdb/decode.h"

typedef struct printer printer;

/* NULL only when out of memory. */
printer *printerNew(FILE *out);
void printerHandlers(printer *p, rdbHandlers *h);
void printerFree(printer *p);

#endif

#!/usr/bin/env bash
# it_corpus_utf8.sh -- how `--dump` writes strings (src/print.h), on a dump
# made here by redis-server 7.0 (no fixture pool needed):
#   dump.utf8.*     valid UTF-8 is written as it is and reads back through jq
#                   as the same text: "café" (not "cafÃ©"), an emoji, Hebrew,
#                   in keys, values, hash fields and set members;
#   dump.json.*     JSON's own escapes (", \, control bytes) and nothing else:
#                   DEL (0x7f) stays a raw byte;
#   dump.invalid.*  bytes that are not valid UTF-8 (a lone 0xff, a truncated
#                   sequence, an encoded surrogate, an overlong '/') come out
#                   as \udcXX, one per byte: jq sees U+FFFD (so they are
#                   never mistaken for text), and Python's surrogateescape
#                   gives back the exact bytes of every key and value.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! have_rdbsync; then skip dump.utf8 "no rdbsync binary"; exit 0; fi
if ! command -v jq >/dev/null 2>&1; then skip dump.utf8 "jq not installed"; exit 0; fi

rs_start s || exit 1
cli() { rs_cli s "$@" >/dev/null; }
cli SET "café" "café"
cli SET emoji $'\xf0\x9f\x98\x80 ok'
cli RPUSH list "בדיקה" "naïve"
cli HSET hash "clé" "valeur été"
cli SADD set "ü" "ß"
cli SET esc $'q"b\\n\n\x01\x7f'
cli SET bad1 $'\xff'
cli SET bad2 $'ab\xc3'
cli SET bad3 $'\xed\xa0\x80x'
cli SET bad4 $'\xc0\xaf'
cli SET $'k\xfe' mixed$'\xe9t\xc3\xa9'
dump=$(rs_save s)
out=$IT_TMP/dump.jsonl
rc=0
"$RDBSYNC" --file "$dump" --dump >"$out" 2>"$IT_TMP/dump.err" || rc=$?
assert_eq dump.rc 0 "$rc"
assert_ok dump.valid_json jq -e . "$out"

val() { jq -r --arg k "$1" 'select(.key == $k) | .value | if type == "string" then . else tojson end' "$out"; }
assert_eq dump.utf8.cafe "café" "$(val "café")"
assert_eq dump.utf8.emoji $'\xf0\x9f\x98\x80 ok' "$(val emoji)"
assert_eq dump.utf8.list '["בדיקה","naïve"]' "$(val list)"
assert_eq dump.utf8.hash '{"clé":"valeur été"}' "$(val hash)"
assert_eq dump.utf8.set '["ß","ü"]' "$(jq -c 'select(.key == "set") | .value | sort' "$out")"
# Written as is, not escaped: the raw line holds the UTF-8 bytes.
assert_eq dump.utf8.raw 1 "$(grep -c '"key":"café".*"value":"café"' "$out")"
assert_eq dump.utf8.no_u00 0 "$(grep -c 'u00[89a-f]' "$out")"

assert_eq dump.json.escapes $'"value":"q\\"b\\\\n\\n\\u0001\x7f"' "$(grep -o '"value":"q.*"' <(grep '"key":"esc"' "$out"))"
assert_eq dump.json.roundtrip $'q"b\\n\n\x01\x7f' "$(val esc)"

# Invalid UTF-8: \udcXX per byte, in the raw text ...
raw() { grep "\"key\":\"$1\"" "$out" | grep -o '"value":"[^"]*"'; }
assert_eq dump.invalid.lone '"value":"\udcff"' "$(raw bad1)"
assert_eq dump.invalid.truncated '"value":"ab\udcc3"' "$(raw bad2)"
assert_eq dump.invalid.surrogate '"value":"\udced\udca0\udc80x"' "$(raw bad3)"
assert_eq dump.invalid.overlong '"value":"\udcc0\udcaf"' "$(raw bad4)"
assert_eq dump.invalid.key 1 "$(grep -c '"key":"k\\udcfe".*"value":"mixed\\udce9té"' "$out")"
# ... U+FFFD through jq: distinguishable from any text ...
assert_eq dump.invalid.jq $'\xef\xbf\xbd\xef\xbf\xbdx' "$(val bad4)x"
# ... and the exact bytes back with surrogateescape.
if command -v python3 >/dev/null 2>&1; then
    got=$(python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    v = o["value"] if isinstance(o["value"], str) else json.dumps(o["value"])
    print((o["key"] + "=" + v).encode("utf-8", "surrogateescape").hex())
' "$out" | sort)
    want=$(for k in bad1 bad2 bad3 bad4 $'k\xfe' esc "café"; do
        printf '%s=%s' "$k" "$(rs_cli s GET "$k")" | od -An -tx1 | tr -d ' \n'; echo
    done | sort)
    assert_eq dump.invalid.bytes_back "$want" "$(grep -xFf <(printf '%s\n' "$want") <<<"$got")"
else
    skip dump.invalid.bytes_back "no python3"
fi

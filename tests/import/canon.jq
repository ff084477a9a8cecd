# canon.jq -- one canonical JSON line per key, for it_import.sh (a jq
# module: definitions only).
#
#   rdbsync --file F --dump | jq -c -L tests/import --argjson now MS 'include "canon"; canon'
#   redis-cli --eval tests/import/values.lua , 0 15 | jq -c -L tests/import --argjson now MS 'include "canon"; canon'
#
# Input lines are either `rdbsync --dump` lines (they have "encoding") or
# tests/import/values.lua lines. Both come out as
#   {"db":N,"key":S,"type":T,"expire":MS|null,"value":V}
# in the shape values.lua documents, with sets sorted, zsets and hashes
# sorted by member/field, stream groups and consumers by name, and zset
# scores as jq's text of the number ("inf", "-inf" and "nan" stay; -0
# becomes 0, as a 7.0 listpack stores it). Strings stay JSON strings:
# both sides write each byte >= 0x7f as \u00XX, so code points are bytes
# and jq's order is byte order.
#
# From a dump, what a server loading it at time $now would hold is kept:
# keys whose expire is past are dropped, hash fields whose TTL is past are
# dropped, field TTLs themselves are dropped (a 7.0 target has none),
# collections left empty are dropped; consumer active_time is dropped (7.0
# has none); function lines and module values are dropped (checked
# elsewhere).

def score: if type == "number" then tostring
    elif . == "inf" or . == "-inf" or . == "nan" then .
    else tonumber | tostring end
    | if . == "-0" then "0" else . end;
def live: .[2] == null or .[2] > $now;

def fromdump:
    select(.key != null and .type != "module")
    | select(.expire == null or .expire > $now)
    | {db, key, type, expire,
       value: (if .type == "hash" then
                   (if (.value | type) == "array" then .value | map(select(live) | [.[0], .[1]])
                    else .value | to_entries | map([.key, .value]) end)
               elif .type == "stream" then
                   .value | .groups |= map(.consumers |= map(del(.active_time)))
               else .value end)}
    | select(.type == "string" or .type == "stream" or (.value | length) > 0);

def norm:
    {db, key, type, expire,
     value: (if .type == "set" then .value | sort
             elif .type == "zset" then .value | map([.[0], (.[1] | score)]) | sort_by(.[0])
             elif .type == "hash" then .value | sort_by(.[0])
             elif .type == "stream" then .value | {
                 entries, length, last_id, first_id, max_deleted_id, entries_added,
                 groups: (.groups | map({name, last_id, entries_read, pel,
                     consumers: (.consumers | map({name, seen_time, pel}) | sort_by(.name))})
                     | sort_by(.name))}
             else .value end)};

def canon: if has("function") then empty
    elif has("encoding") then fromdump | norm
    else norm end;

# About a --dump line: a hash a 7.0 cannot hold (a field TTL still to
# come), and a hash with field TTLs at all (past or to come).
def hashttls: .key != null and .type == "hash" and (.value | type) == "array";
def unrepresentable: hashttls and (.expire == null or .expire > $now)
    and any(.value[]; .[2] != null and .[2] > $now);
def fieldttls: hashttls and any(.value[]; .[2] != null);

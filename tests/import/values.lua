-- values.lua -- every key of a server as JSON lines, for it_import.sh.
--
--   redis-cli --eval tests/import/values.lua , FIRSTDB LASTDB
--
-- One line per key of dbs FIRSTDB..LASTDB, in the shape that
-- tests/import/canon.jq brings `rdbsync --dump` lines to (canon.jq then
-- sorts both the same way), so that the two compare as text:
--   {"db":N,"key":S,"type":T,"expire":MS|null,"value":V}
-- Strings are JSON strings with every byte below 0x20 or from 0x7f up
-- written as \u00XX, as `rdbsync --dump` writes them: each code point is
-- one byte, so binary data round-trips through jq. V:
--   string  S
--   list    [S,...]                    list order
--   set     [S,...]
--   zset    [[S,"score"],...]          the score as the server prints it
--   hash    [[FIELD,VALUE],...]
--   stream  {"entries":[["ms-seq",[S,...]],...],"length":N,
--            "last_id":"..","first_id":"..","max_deleted_id":"..",
--            "entries_added":N,"groups":[{"name":S,"last_id":"..",
--            "entries_read":N|null,"pel":[["id",delivery_ms,count],...],
--            "consumers":[{"name":S,"seen_time":MS,"pel":["id",...]}]}]}
local function js(s)
    return '"' .. string.gsub(s, '[%z\1-\31"\\\127-\255]', function(c)
        return string.format('\\u%04x', string.byte(c))
    end) .. '"'
end
local function q(s) return '"' .. s .. '"' end -- ids and scores: ASCII
local function int(n) return string.format('%d', n) end
local function arr(t) return '[' .. table.concat(t, ',') .. ']' end
local function kv(a)
    local m = {}
    for i = 1, #a, 2 do m[a[i]] = a[i + 1] end
    return m
end

-- [a1, b1, a2, b2, ...] -> '[[js(a1),f(b1)],...]'
local function pairs2(flat, f)
    local o = {}
    for i = 1, #flat, 2 do o[#o + 1] = '[' .. js(flat[i]) .. ',' .. f(flat[i + 1]) .. ']' end
    return arr(o)
end

local function strings(list)
    local o = {}
    for i, e in ipairs(list) do o[i] = js(e) end
    return arr(o)
end

local function consumers(list)
    local o = {}
    for _, cl in ipairs(list) do
        local c, pel = kv(cl), {}
        for _, p in ipairs(c['pending']) do pel[#pel + 1] = q(p[1]) end
        o[#o + 1] = '{"name":' .. js(c['name']) .. ',"seen_time":' .. int(c['seen-time']) ..
            ',"pel":' .. arr(pel) .. '}'
    end
    return arr(o)
end

local function groups(list)
    local o = {}
    for _, gl in ipairs(list) do
        local g, pel = kv(gl), {}
        for _, p in ipairs(g['pending']) do
            pel[#pel + 1] = '[' .. q(p[1]) .. ',' .. int(p[3]) .. ',' .. int(p[4]) .. ']'
        end
        local er = g['entries-read']
        o[#o + 1] = '{"name":' .. js(g['name']) .. ',"last_id":' .. q(g['last-delivered-id']) ..
            ',"entries_read":' .. (er and int(er) or 'null') .. ',"pel":' .. arr(pel) ..
            ',"consumers":' .. consumers(g['consumers']) .. '}'
    end
    return arr(o)
end

local function stream(k)
    local x, e = kv(redis.call('XINFO', 'STREAM', k, 'FULL', 'COUNT', 0)), {}
    for _, en in ipairs(x['entries']) do e[#e + 1] = '[' .. q(en[1]) .. ',' .. strings(en[2]) .. ']' end
    return '{"entries":' .. arr(e) .. ',"length":' .. int(x['length']) .. ',"last_id":' ..
        q(x['last-generated-id']) .. ',"first_id":' .. q(x['recorded-first-entry-id']) ..
        ',"max_deleted_id":' .. q(x['max-deleted-entry-id']) .. ',"entries_added":' ..
        int(x['entries-added']) .. ',"groups":' .. groups(x['groups']) .. '}'
end

local function value(k, t)
    if t == 'string' then return js(redis.call('GET', k)) end
    if t == 'list' then return strings(redis.call('LRANGE', k, 0, -1)) end
    if t == 'set' then return strings(redis.call('SMEMBERS', k)) end
    if t == 'zset' then return pairs2(redis.call('ZRANGE', k, 0, -1, 'WITHSCORES'), q) end
    if t == 'hash' then return pairs2(redis.call('HGETALL', k), js) end
    if t == 'stream' then return stream(k) end
    return 'null'
end

local first, last = tonumber(ARGV[1]) or 0, tonumber(ARGV[2]) or 15
local out = {}
for db = first, last do
    redis.call('SELECT', db)
    for _, k in ipairs(redis.call('KEYS', '*')) do
        local t = redis.call('TYPE', k).ok
        local e = redis.call('PEXPIRETIME', k)
        out[#out + 1] = '{"db":' .. db .. ',"key":' .. js(k) .. ',"type":' .. q(t) ..
            ',"expire":' .. (e >= 0 and int(e) or 'null') .. ',"value":' .. value(k, t) .. '}'
    end
end
table.sort(out)
return table.concat(out, '\n')

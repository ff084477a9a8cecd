-- meta.lua -- what DEBUG DIGEST does not cover, for it_import.sh.
--
--   redis-cli --eval tests/import/meta.lua , FIRSTDB LASTDB [MODE]
--
-- One line per key of dbs FIRSTDB..LASTDB that has something to show,
-- sorted: "DB KEY expire=MS" for a key with a TTL (PEXPIRETIME), and, in
-- MODE "full" (the default), " stream=[...]" for a stream: XINFO STREAM
-- FULL COUNT 0 serialized (length, ids, entries-added, groups with their
-- PEL, delivery times and counts, consumers with seen-time and PEL). MODE
-- "expires" shows expires only. MODE "native" shows streams without what
-- native commands cannot reproduce (XADD/XGROUP/XCLAIM on the huge-value
-- path): consumer seen-time, PEL delivery times and counts. Key bytes
-- other than [A-Za-z0-9._:-] are shown as \xNN, so the output is one line
-- per key whatever the key.
local function esc(s)
    return (string.gsub(s, '[^%w%.%-_:]', function(c)
        return string.format('\\x%02x', string.byte(c))
    end))
end

local function ser(v)
    local t = type(v)
    if t == 'table' then
        if v.ok then return v.ok end
        if v.err then return 'ERR(' .. v.err .. ')' end
        local p = {}
        for i = 1, #v do p[i] = ser(v[i]) end
        return '[' .. table.concat(p, ',') .. ']'
    elseif t == 'string' then
        return '"' .. esc(v) .. '"'
    elseif t == 'number' then
        return string.format('%d', v)
    elseif v == false then
        return 'nil'
    end
    return tostring(v)
end

-- Native mode: [id, consumer, delivery-time, count] -> [id, consumer] in
-- a group PEL, [id, delivery-time, count] -> [id] in a consumer's, and no
-- seen-time. 'x' is a flat name/value array; 'what' says which level.
local function reproducible(x, what)
    local kept = {}
    for i = 1, #x, 2 do
        local name, v = x[i], x[i + 1]
        if name == 'groups' then
            local gs = {}
            for j, g in ipairs(v) do gs[j] = reproducible(g, 'group') end
            v = gs
        elseif name == 'consumers' then
            local cs = {}
            for j, c in ipairs(v) do cs[j] = reproducible(c, 'consumer') end
            v = cs
        elseif name == 'pending' then
            local ps = {}
            for j, p in ipairs(v) do
                ps[j] = what == 'group' and { p[1], p[2] } or { p[1] }
            end
            v = ps
        end
        if name ~= 'seen-time' then
            kept[#kept + 1] = name
            kept[#kept + 1] = v
        end
    end
    return kept
end

local first, last = tonumber(ARGV[1]) or 0, tonumber(ARGV[2]) or 15
local mode = ARGV[3] or 'full'
local full = mode == 'full' or mode == 'native'
local out = {}
for db = first, last do
    redis.call('SELECT', db)
    for _, k in ipairs(redis.call('KEYS', '*')) do
        local line = ''
        local t = redis.call('PEXPIRETIME', k)
        if t >= 0 then line = ' expire=' .. string.format('%d', t) end
        if full and redis.call('TYPE', k).ok == 'stream' then
            -- The radix tree's shape depends on how the stream was built.
            local x, kept = redis.call('XINFO', 'STREAM', k, 'FULL', 'COUNT', 0), {}
            for i = 1, #x, 2 do
                if x[i] ~= 'radix-tree-keys' and x[i] ~= 'radix-tree-nodes' then
                    kept[#kept + 1] = x[i]
                    kept[#kept + 1] = x[i + 1]
                end
            end
            if mode == 'native' then kept = reproducible(kept, 'stream') end
            line = line .. ' stream=' .. ser(kept)
        end
        if line ~= '' then out[#out + 1] = db .. ' ' .. esc(k) .. line end
    end
end
table.sort(out)
return table.concat(out, '\n')

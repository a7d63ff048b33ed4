---
-- A small JSON encoder for `nsbox ps` (its JSON output): strings, numbers, booleans,
-- arrays (tables with 1..n) and objects (string keys, sorted).
-- @module nsbox.json
local M = {}

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
              ["\r"] = "\\r", ["\t"] = "\\t" }

local function str(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return ESC[c] or string.format("\\u%04x", c:byte()) end) .. '"'
end

local function encode(v)
  local t = type(v)
  if t == "string" then return str(v) end
  if t == "number" then return math.type(v) == "integer" and tostring(v) or string.format("%.17g", v) end
  if t == "boolean" then return tostring(v) end
  if t == "nil" then return "null" end
  assert(t == "table", "json: cannot encode a " .. t)
  if next(v) == nil then return "[]" end
  local out = {}
  if v[1] ~= nil then
    for i = 1, #v do out[i] = encode(v[i]) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for i, k in ipairs(keys) do out[i] = str(k) .. ":" .. encode(v[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end

--- Encode a value as JSON text.
-- @function encode
-- @param v a string, number, boolean, nil or table
-- @treturn string
M.encode = encode
return M

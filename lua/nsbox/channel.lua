--- The sync channel between the parent and the re-executed child:
-- length-prefixed messages of plain Lua data (strings, numbers, booleans, tables).
-- @module nsbox.channel
local core = require "nsbox.core"

local M = {}

local function encode(v, out)
  local t = type(v)
  if t == "table" then
    out[#out + 1] = "{"
    for k, x in pairs(v) do
      out[#out + 1] = "["
      encode(k, out)
      out[#out + 1] = "]="
      encode(x, out)
      out[#out + 1] = ","
    end
    out[#out + 1] = "}"
  elseif t == "string" or t == "number" or t == "boolean" then
    out[#out + 1] = string.format("%q", v)
  else
    error("channel: cannot send a " .. t, 3)
  end
end

--- Serialize a value to Lua source.
function M.encode(v)
  local out = {}
  encode(v, out)
  return table.concat(out)
end

--- Send one message.
-- @treturn boolean|nil true, or nil, message, errno
function M.send(fd, v)
  local body = M.encode(v)
  return core.write(fd, string.pack(">s4", body))
end

--- Receive one message.
-- @return the value, or nil at end of file, or nil, message, errno
function M.recv(fd)
  local head, err, errno = core.read(fd, 4)
  if not head then return nil, err, errno end
  if #head < 4 then return nil end
  local n = string.unpack(">I4", head)
  local body
  body, err, errno = core.read(fd, n)
  if not body then return nil, err, errno end
  if #body < n then return nil, "channel: message cut short" end
  local chunk = load("return " .. body, "=channel", "t", {})
  if not chunk then return nil, "channel: malformed message" end
  return chunk()
end

return M

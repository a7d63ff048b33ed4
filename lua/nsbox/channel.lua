--- The one channel between the parent and a container's child: a Unix stream
-- socketpair the parent makes (`pair`) and hands to core.spawn, which holds the
-- child on it. Every message is built and checked here.
--
-- A message is a frame: a 4-byte big-endian length, then the body: the name of
-- its kind, and if it has a payload, a space and the payload: plain Lua data
-- (strings, numbers, booleans, tables) as Lua source, or raw bytes for the
-- kinds marked raw. File descriptors travel with a frame's first byte
-- (SCM_RIGHTS). A message of a kind not in `KINDS`, or of one the receiver does
-- not expect where it waits, is an error naming the kind.
--
-- The child treats EOF on the channel as the parent's death (its end closes
-- with it; under CLONE_NEWPID getppid() is always 0): it leaves at once.
-- @module nsbox.channel
local core = require "nsbox.core"

local M = {}

--- The kinds of message, in the order of a start, and what each means.
-- Parent to child: `maps`, `bundle`, `recipe`, `layers`, `network`; child to parent:
-- `pty`, `exec`, `running`, `error`, `exec_failed`.
M.KINDS = {
  maps = "the id maps are written: the child, held in core.spawn, goes on",
  bundle = "the child side's modules as bytecode (raw), for a re-executed child",
  recipe = "the child's recipe, for a re-executed child (a forked one has it already)",
  layers = "the image's layers as idmapped clones (fds, the top first), or { error =, errno = } if the kernel refused",
  network = "the network is ready: the host side is made; when the child configures its interface "
    .. "(net = 'child') the payload says how: { interface =, address =, gateway = }",
  pty = "the master of the pty made in the container's own devpts for its command (the fd; recipe tty)",
  exec = "the command (its path the payload) is about to be exec'd: EOF next means its exec succeeded",
  running = "from nsbox-init: the command is exec'd; init keeps the channel open, its EOF is the parent's death",
  error = "a setup step failed: { error = message, errno =, status = }",
  exec_failed = "core.spawn's child or nsbox-init could not exec (written in C): the errno",
}

-- Kinds whose payload is raw bytes, not Lua source.
local RAW = { bundle = true }

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

--- The frame of one message of a kind, with its payload (optional).
-- @treturn string the bytes to write
function M.frame(kind, payload)
  if not M.KINDS[kind] then error("channel: no message kind '" .. tostring(kind) .. "'", 2) end
  local body = kind
  if payload ~= nil then
    body = body .. " " .. (RAW[kind] and payload or M.encode(payload))
  end
  return string.pack(">s4", body)
end

--- A new channel: close-on-exec Unix stream sockets.
-- @treturn integer the parent's end
-- @treturn integer the child's end (core.spawn's `channel`)
function M.pair()
  return core.socketpair()
end

--- Send one message, with fds attached if given.
-- @tparam integer fd
-- @tparam string kind one of `KINDS`
-- @param[opt] payload
-- @tparam[opt] table fds file descriptors to pass (the receiver gets copies)
-- @treturn boolean|nil true, or nil, message, errno
function M.send(fd, kind, payload, fds)
  local frame = M.frame(kind, payload)
  if fds and #fds > 0 then return core.send_fds(fd, frame, fds) end
  return core.write(fd, frame)
end

--- Receive one message.
-- @treturn string|nil its kind; nil at end of file, or nil, message, errno
-- @return its payload
-- @treturn table|nil the fds sent with it, if any
function M.recv(fd)
  local head, fds, errno = core.recv_fds(fd, 4)
  if not head then return nil, fds, errno end
  if #head < 4 then return nil end
  -- a message refused: the fds that came with it are closed, not leaked
  local function refuse(err, eno)
    for _, x in ipairs(fds or {}) do core.close(x) end
    return nil, err, eno
  end
  local n = string.unpack(">I4", head)
  local body, err
  body, err, errno = core.read(fd, n)
  if not body then return refuse(err, errno) end
  if #body < n then return refuse("channel: message cut short") end
  local kind, payload = body:match("^([%w_]+) ?(.*)$")
  if not (kind and M.KINDS[kind]) then
    return refuse(string.format("channel: unknown message kind '%s'", kind or body:sub(1, 32)))
  end
  if #fds == 0 then fds = nil end
  if payload == "" then return kind, nil, fds end
  if RAW[kind] then return kind, payload, fds end
  local chunk = load("return " .. payload, "=channel", "t", {})
  if not chunk then return refuse("channel: malformed " .. kind .. " message") end
  return kind, chunk(), fds
end

--- The child side's wait for the next message, which must be of this kind.
-- EOF: the parent is gone, and so does this process (exit 1). A message of
-- another kind, or a broken channel, raises an error naming it.
-- @return its payload
-- @treturn table|nil the fds sent with it
function M.await(fd, kind)
  local got, payload, fds = M.recv(fd)
  if got == nil and payload == nil then core._exit(1) end
  if got == nil then error(payload, 0) end
  if got ~= kind then error(string.format("channel: expected a %s message, got %s", kind, got), 0) end
  return payload, fds
end

--- Lua source that takes the listed kinds of message off fd, in order, before
-- any module but nsbox.core is loaded (a re-executed child: "maps", then
-- "bundle", which it runs: package.preload filled from the bytecode), with
-- `await`'s rules: EOF exits 1, another kind raises.
-- @tparam integer fd
-- @tparam table kinds e.g. { "maps", "bundle" }
function M.bootstrap(fd, kinds)
  local take = {}
  for i, kind in ipairs(kinds) do
    assert(M.KINDS[kind], kind)
    take[i] = kind == "bundle" and "load(take'bundle','=nsbox','b')()" or string.format("take%q", kind)
  end
  return string.format("local c=require'nsbox.core' local function take(k) local h=c.read(%d,4) " ..
    "if not h or #h<4 then c._exit(1) end local b=assert(c.read(%d,string.unpack('>I4',h))) " ..
    "local g,p=b:match'^([%%w_]+) ?(.*)$' " ..
    "if g~=k then error('channel: expected a '..k..' message, got '..tostring(g),0) end return p end ", fd, fd)
    .. table.concat(take, " ") .. " "
end

return M

--- The container's terminal and the caller's: the recipe's `tty` field, what a
-- wait relays (the pty's master, or pipes put between the container and a
-- terminal of the caller's, which the container then never holds: no TIOCSTI
-- into it, no read of it from the background), and the caller's terminal in
-- raw mode while it is relayed, given back however the wait ends.
-- @module nsbox.tty
local core = require "nsbox.core"
local validate = require "nsbox.validate"

local M = {}

local bad = validate.bad
local FIELDS = { relay = true, input = true, rows = true, cols = true }

--- The recipe's `tty`: false, or { relay =, input =, rows =, cols = } (sizes may be nil:
-- the caller's terminal's at launch, else 24x80), or "inherit": the caller's
-- terminals are handed over as they are, no pipes between (only the new
-- session and the seccomp filter then keep TIOCSTI out of them).
function M.check(v)
  if v == nil or v == false then return false end
  if v == "inherit" then return v end
  if v == true then v = {} end
  if type(v) ~= "table" then bad("tty", "boolean, table or \"inherit\" expected, got %s", type(v)) end
  for k in pairs(v) do
    if not FIELDS[k] then bad("tty", "unknown field '%s' (known: relay, input, rows, cols)", tostring(k)) end
  end
  local out = {}
  for _, k in ipairs { "relay", "input" } do
    if v[k] ~= nil and type(v[k]) ~= "boolean" then bad("tty." .. k, "boolean expected, got %s", type(v[k])) end
    out[k] = v[k] ~= false
  end
  for _, k in ipairs { "rows", "cols" } do
    if v[k] ~= nil and (math.type(v[k]) ~= "integer" or v[k] < 1 or v[k] > 65535) then
      bad("tty." .. k, "integer in [1, 65535] expected")
    end
    out[k] = v[k]
  end
  return out
end

-- The caller's fd for stdio slot i (r.stdio, else its own 0, 1, 2).
local function caller(r, i) return r.stdio[i] or i - 1 end

-- The caller's terminal among its stdin and stdout, if any.
local function terminal(r)
  for i = 1, 2 do
    if core.isatty(caller(r, i)) then return caller(r, i) end
  end
end

--- The pty's size for the child: the recipe's, else the caller's terminal's, else 24x80.
function M.size(t, r)
  local rows, cols
  local fd = terminal(r)
  if fd then rows, cols = core.winsize(fd) end
  return { rows = t.rows or (rows and rows > 0 and rows) or 24, cols = t.cols or (cols and cols > 0 and cols) or 80 }
end

--- Pipes between the container and each stdio fd of the caller's that is a
-- terminal (no pty): the child's stdio (r.stdio with those replaced), the
-- relay's flows, the child's ends (closed once it is spawned) and the relay's
-- own (closed when the box is done). Nil when no fd is a terminal; false,
-- message, errno when a pipe could not be made (none is left open then).
function M.interpose(r)
  local stdio, flows, theirs, ours = {}, {}, {}, {}
  for i = 1, 3 do
    local fd = caller(r, i)
    stdio[i] = r.stdio[i]
    if core.isatty(fd) then
      local rd, wr, errno = core.pipe()
      if not rd then
        for _, x in ipairs(theirs) do core.close(x) end
        for _, x in ipairs(ours) do core.close(x) end
        for _, f in ipairs(flows) do if f.own then core.close(f.to) end end
        return false, "stdio: a pipe in place of the caller's terminal: " .. tostring(wr), errno
      end
      if i == 1 then
        stdio[1], theirs[#theirs + 1] = rd, rd
        flows[#flows + 1] = { from = fd, to = wr, own = true } -- the relay closes wr
      else
        stdio[i], theirs[#theirs + 1], ours[#ours + 1] = wr, wr, rd
        flows[#flows + 1] = { from = rd, to = fd, out = true }
      end
    end
  end
  if #flows == 0 then return nil end
  return { stdio = stdio, flows = flows, theirs = theirs, ours = ours }
end

--- The relay of a pty master for a wait: the caller's stdin into it (t.input;
-- its EOF as the pty's EOF character when stdin is no terminal), its output to
-- the caller's stdout, and the caller's window size passed on.
function M.pty_flows(t, r, master)
  local flows = { { from = master, to = caller(r, 2), out = true } }
  if t.input then
    local fd = caller(r, 1)
    table.insert(flows, 1, { from = fd, to = master, veof = not core.isatty(fd) })
  end
  local term = terminal(r)
  flows.winch = term and { term, master } or nil
  return flows
end

--- Put the caller's stdin in raw mode if it is a terminal relayed to a pty
-- (keys then reach the container's line discipline as typed: Ctrl-C is its
-- SIGINT). Returns what `restore` takes, or nil.
function M.raw(t, r)
  local fd = caller(r, 1)
  if not (t.input and core.isatty(fd)) then return nil end
  local saved = core.tty_raw(fd)
  return saved and { fd = fd, modes = saved } or nil
end

--- Give the caller's terminal its modes back (nil: nothing to do).
function M.restore(saved)
  if saved then core.tty_restore(saved.fd, saved.modes) end
end

return M

--- The state directory of `nsbox run`/`ps`/`exec`: one file per running
-- container, named after it, holding what `ps` shows and `exec` needs.
-- /run/nsbox as root, $XDG_RUNTIME_DIR/nsbox (or /tmp/nsbox-UID) otherwise.
-- @module nsbox.state
local core = require "nsbox.core"
local channel = require "nsbox.channel"

local M = {}

--- The directory, created (0700) if missing.
function M.dir()
  local base = os.getenv("NSBOX_STATE_DIR")
  if not base then
    if core.geteuid() == 0 then base = "/run/nsbox"
    elseif os.getenv("XDG_RUNTIME_DIR") then base = os.getenv("XDG_RUNTIME_DIR") .. "/nsbox"
    else base = "/tmp/nsbox-" .. core.geteuid() end
  end
  local dir = base .. "/containers"
  for _, d in ipairs { base, dir } do
    if not core.stat(d) then
      local ok, err = core.mkdir(d, 448)
      if not ok and not core.stat(d) then return nil, err end
    end
  end
  local st = core.stat(dir)
  if st.type ~= "directory" or st.uid ~= core.geteuid() then
    return nil, "state directory " .. dir .. " is not a directory of yours"
  end
  return dir
end

--- The start time of pid (core.starttime: field 22 of /proc/PID/stat, the
-- rule the address leases use too): tells a process from a later one with its pid.
-- @treturn integer|nil nil if pid is not running (a zombie is not)
function M.starttime(pid)
  return (core.starttime(pid))
end

--- Record a started container (entry: name, pid, id, ip, command, recipe fields exec needs).
function M.save(entry)
  local dir, err = M.dir()
  if not dir then return nil, err end
  entry.starttime, entry.started = M.starttime(entry.pid), os.time()
  local tmp = dir .. "/." .. entry.name .. ".tmp"
  local f, ferr = io.open(tmp, "w")
  if not f then return nil, ferr end
  f:write(channel.encode(entry))
  f:close()
  return os.rename(tmp, dir .. "/" .. entry.name)
end

--- Forget a container (when it has ended).
function M.remove(name)
  local dir = M.dir()
  if dir then os.remove(dir .. "/" .. name) end
end

local function load_entry(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local chunk = load("return " .. s, "=state", "t", {})
  local ok, e = pcall(chunk or error)
  return ok and type(e) == "table" and e or nil
end

--- Running containers, sorted by name; entries of dead ones are removed.
function M.list()
  local dir, err = M.dir()
  if not dir then return nil, err end
  local out = {}
  for _, name in ipairs(core.readdir(dir) or {}) do
    local e = name:sub(1, 1) ~= "." and load_entry(dir .. "/" .. name)
    if e and e.pid and M.starttime(e.pid) == e.starttime then
      out[#out + 1] = e
    elseif name:sub(1, 1) ~= "." then
      os.remove(dir .. "/" .. name)
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

--- The running container named name, or with that pid.
function M.find(what)
  local list, err = M.list()
  if not list then return nil, err end
  for _, e in ipairs(list) do
    if e.name == what or tostring(e.pid) == what then return e end
  end
  return nil, "no running container named or with pid '" .. what .. "'"
end

return M

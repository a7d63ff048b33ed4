--- Names between containers on one bridge: a hosts file per bridge (and
-- network namespace), kept current by nsbox under its lock, and bound
-- read-only at each container's /etc/hosts, so that a container resolves the
-- others by name (its name and its hostname) with the resolver every libc
-- has, no server to run, and a name stops resolving when its container ends.
-- A name is unique on its bridge: the first container has it, the next is
-- refused. Root's containers only (the setuid helper keeps no names).
-- @module nsbox.names
local core = require "nsbox.core"

local M = {}

local HEAD = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

-- The bridge's file: <dir>/hosts/<netns inode>-<bridge>, as its leases are named.
function M.path(dir, bridge)
  local ino = core.readlink("/proc/self/ns/net"):match("%[(%d+)%]")
  return dir .. "/hosts/" .. ino .. "-" .. bridge
end

-- The entries of a hosts file: { addr =, names = { ... }, pid =, start = }.
local function parse(text)
  local out = {}
  for addr, names, pid, start in text:gmatch("([%d.]+)\t([^\t\n]+)\t# nsbox pid=(%d+) start=(%d+)\n") do
    local list = {}
    for w in names:gmatch("%S+") do list[#list + 1] = w end
    out[#out + 1] = { addr = addr, names = list, pid = tonumber(pid), start = tonumber(start) }
  end
  return out
end

local function alive(e) return core.starttime(e.pid) == e.start end

-- Rewritten in place (the containers have the file bound, not its name): padded
-- with a comment to its old length, so that a reader never sees a cut line.
local function rewrite(path, entries)
  local lines = { HEAD }
  for _, e in ipairs(entries) do
    lines[#lines + 1] = string.format("%s\t%s\t# nsbox pid=%d start=%d\n", e.addr, table.concat(e.names, " "), e.pid,
      e.start)
  end
  local text = table.concat(lines)
  local f, err = io.open(path, "r+")
  if not f then return nil, err end
  local old = f:seek("end")
  if #text < old then text = text .. "#" .. string.rep(" ", old - #text - 2) .. "\n" end
  f:seek("set", 0)
  local ok, werr = f:write(text)
  f:close()
  if not ok then return nil, werr end
  return true
end

-- Run fn(entries of the live owners) under the file's lock; make the file first.
local function locked(path, fn)
  local d = path:match("^(.*)/[^/]*$")
  core.mkdir(d, tonumber("755", 8))
  local lfd, err, errno = core.openat(nil, path .. ".lock", "append", tonumber("600", 8))
  if not lfd then return nil, "network: names: " .. err, errno end
  local ok
  ok, err, errno = core.flock(lfd, "ex")
  if ok then
    local fd = core.openat(nil, path, "new", tonumber("644", 8))
    if fd then core.fchmod(fd, tonumber("644", 8)) core.write(fd, HEAD) core.close(fd) end
    local f = io.open(path)
    local text = f and f:read("a") or ""
    if f then f:close() end
    local live = {}
    for _, e in ipairs(parse(text)) do if alive(e) then live[#live + 1] = e end end
    -- the lock is closed whatever fn does: a raise would leave it held, and the
    -- next change of this process would wait on it for ever
    local done
    done, ok, err, errno = pcall(fn, live)
    if not done then ok, err, errno = nil, "network: names: " .. tostring(ok), nil end
  end
  core.close(lfd)
  return ok, err, errno
end

--- Give the container whose init is pid its names at addr on the bridge: a
-- detached mount of the bridge's hosts file to bind at its /etc/hosts, or nil
-- and a message naming a name another container has.
function M.add(dir, bridge, pid, addr, names)
  local path = M.path(dir, bridge)
  local start = core.starttime(pid) -- none for a child that failed (a zombie)
  if not start then return nil, "network: the container ended during its setup", core.ESRCH end
  local want, list = {}, {}
  for _, n in ipairs(names) do
    if n and not want[n] then want[n], list[#list + 1] = true, n end
  end
  local ok, err, errno = locked(path, function(live)
    for _, e in ipairs(live) do
      for _, n in ipairs(e.names) do
        if want[n] then
          return nil, string.format("network: name %s is taken on bridge %s (by the container at %s)", n, bridge,
            e.addr), core.EEXIST
        end
      end
    end
    live[#live + 1] = { addr = addr, names = list, pid = pid, start = start }
    return rewrite(path, live)
  end)
  if not ok then return nil, err, errno end
  local tree
  tree, err, errno = core.open_tree(path)
  -- read-only (and the file is host root's): no container writes the others' names
  if tree then
    ok, err, errno = core.mount_setattr(tree, core.MOUNT_ATTR_RDONLY | core.MOUNT_ATTR_NOSUID | core.MOUNT_ATTR_NODEV |
      core.MOUNT_ATTR_NOEXEC, 0, false, path)
    if not ok then core.close(tree) tree = nil end
  end
  if not tree then M.remove(dir, bridge, pid) return nil, "network: names: " .. err, errno end
  return tree
end

--- Take the names of the container whose init was pid off the bridge's file.
function M.remove(dir, bridge, pid)
  local path = M.path(dir, bridge)
  return locked(path, function(live)
    local keep = {}
    for _, e in ipairs(live) do if e.pid ~= pid then keep[#keep + 1] = e end end
    return rewrite(path, keep)
  end)
end

return M

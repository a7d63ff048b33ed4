--- A full range of 65536 ids for a container started by root, so that its
-- root is not the host's (systemd-nspawn's --private-users=pick, podman's
-- --userns=auto): a block of root's /etc/subuid and /etc/subgid ranges where
-- root has them, else of the range nsbox reserves, never overlapping anybody's
-- subordinate range nor an existing uid or gid. A block is leased while the
-- container lives: an flock held on /run/nsbox/ids/BASE by the starting process
-- (released by the kernel when that process, and with it the container, ends).
-- An upper directory kept for reuse records its block beside it and gets it back.
-- @module nsbox.ids
local core = require "nsbox.core"

local M = {}

M.SIZE = 65536
-- systemd-nspawn's pick range (0x00080000-0x6FFF0000): above every uid a distribution
-- hands out, below the range systemd keeps for itself
M.FIRST, M.LAST = 0x00080000, 0x6FFEFFFF
M.DIR = "/run/nsbox/ids"

-- The ranges "name:start:count" of a subid file: all of them, and those of root.
local function subids(path)
  local all, root = {}, {}
  local f = io.open(path)
  if not f then return all, root end
  for line in f:lines() do
    local who, start, count = line:match("^%s*([^:#%s][^:]*):(%d+):(%d+)")
    if who then
      local r = { tonumber(start), tonumber(count) }
      all[#all + 1] = r
      if who == "root" or who == "0" then root[#root + 1] = r end
    end
  end
  f:close()
  return all, root
end

-- The name of uid in /etc/passwd, or nil.
local function user_name(uid)
  local f = io.open("/etc/passwd")
  if not f then return nil end
  for line in f:lines() do
    local name, id = line:match("^([^:]*):[^:]*:(%d+):")
    if tonumber(id) == uid then f:close() return name end
  end
  f:close()
end

--- An unprivileged caller's subordinate ranges, podman's rootless layout: the
-- first range of /etc/subuid and of /etc/subgid for its name or uid, as
-- { uid = { start, count }, gid = { start, count } }, or nil where either is missing.
function M.own_subids()
  local uid, gid = core.getuid(), core.getgid()
  local name = user_name(uid)
  local found = {}
  for kind, path in pairs { uid = "/etc/subuid", gid = "/etc/subgid" } do
    local f = io.open(path)
    if f then
      for line in f:lines() do
        local who, start, count = line:match("^%s*([^:#%s][^:]*):(%d+):(%d+)")
        if who and (who == name or who == tostring(uid)) and tonumber(count) > 0 then
          found[kind] = { tonumber(start), tonumber(count) }
          break
        end
      end
      f:close()
    end
  end
  if found.uid and found.gid then return found, uid, gid end
end

-- The ids (third field) of /etc/passwd or /etc/group at or above FIRST.
local function high_ids(path)
  local ids = {}
  local f = io.open(path)
  if not f then return ids end
  for line in f:lines() do
    local id = tonumber(line:match("^[^:]*:[^:]*:(%d+):"))
    if id and id >= M.FIRST then ids[#ids + 1] = id end
  end
  f:close()
  return ids
end

local function overlaps(base, ranges)
  for _, r in ipairs(ranges) do
    if base < r[1] + r[2] and r[1] < base + M.SIZE then return true end
  end
  return false
end

local function holds(base, ids)
  for _, id in ipairs(ids) do
    if id >= base and id < base + M.SIZE then return true end
  end
  return false
end

-- Is the block at base inside one range of each list?
local function inside(base, ranges)
  for _, r in ipairs(ranges) do
    if base >= r[1] and base + M.SIZE <= r[1] + r[2] then return true end
  end
  return false
end

-- The files candidates() reads, and what it made of them when each last had
-- the identity (dev, ino, size, mtime) recorded: parsed again only once one changed.
local SOURCES = { "/etc/subuid", "/etc/subgid", "/etc/passwd", "/etc/group" }
local cached, cached_key

local function sources_key()
  local key = {}
  for i, path in ipairs(SOURCES) do
    local st = core.stat(path, true)
    key[i] = st and string.format("%d:%d:%d:%d", st.dev, st.ino, st.size, st.mtime) or "-"
  end
  return table.concat(key, " ")
end

local function parse_candidates()
  local all_u, root_u = subids("/etc/subuid")
  local all_g, root_g = subids("/etc/subgid")
  if #root_u > 0 and #root_g > 0 then
    local bases = {}
    for _, r in ipairs(root_u) do
      for b = r[1], r[1] + r[2] - M.SIZE, M.SIZE do
        if inside(b, root_g) then bases[#bases + 1] = b end
      end
    end
    if #bases > 0 then return function(n) return bases[n] end, #bases, "/etc/subuid" end
  end
  local taken = {}
  for _, r in ipairs(all_u) do taken[#taken + 1] = r end
  for _, r in ipairs(all_g) do taken[#taken + 1] = r end
  local uids, gids = high_ids("/etc/passwd"), high_ids("/etc/group")
  local count = (M.LAST + 1 - M.FIRST) // M.SIZE
  return function(n)
    local b = M.FIRST + (n - 1) * M.SIZE
    if overlaps(b, taken) or holds(b, uids) or holds(b, gids) then return nil end
    return b
  end, count, "nsbox's range"
end

--- The blocks a container may get, as a function that returns the nth base (1..count), and count.
function M.candidates()
  local key = sources_key()
  if key ~= cached_key then
    cached, cached_key = table.pack(parse_candidates()), key
  end
  return table.unpack(cached, 1, 3)
end

--- Is base a block this machine would hand out now (a candidate)? A recorded
-- base is only taken back if so: a record planted beside an upper must not give
-- a container the host's root, a user's ids, or half of another's range.
function M.valid(base)
  if math.type(base) ~= "integer" or base < M.SIZE then return false end
  local nth, count, source = M.candidates()
  if source == "nsbox's range" then
    local off = base - M.FIRST
    return off >= 0 and off % M.SIZE == 0 and off // M.SIZE < count and nth(off // M.SIZE + 1) == base
  end
  for i = 1, count do if nth(i) == base then return true end end
  return false
end

local function lease_dir()
  -- /run/nsbox is shared (the network leases); the ids directory and its files are
  -- root's alone: a lease file another user could open, it could flock, pinning the range
  local fd, err, errno = core.openat(nil, M.DIR, "dir")
  if not fd and errno == core.ENOENT then
    for _, d in ipairs { { "/run/nsbox", "755" }, { M.DIR, "700" } } do
      local ok, merr, merrno = core.mkdir(d[1], tonumber(d[2], 8))
      if not ok and merrno ~= core.EEXIST then return nil, merr end
    end
    fd, err = core.openat(nil, M.DIR, "dir")
  end
  if not fd then return nil, err end
  local st = core.fstat(fd)
  if not st or st.uid ~= 0 then
    core.close(fd)
    return nil, M.DIR .. " is not root's"
  end
  if st.mode & tonumber("077", 8) ~= 0 then core.fchmod(fd, tonumber("700", 8)) end -- one made 0755 before
  return fd
end

-- Lock the lease of base below dir: its fd, or nil (held by another container).
-- A lease file is removed when its container is done (release, under the lock):
-- a lock won on a file that is no longer the one at the name is no lease.
local function try_lease(dir, base)
  local name = tostring(base)
  -- new first: a lease file lives only as long as its container
  local fd = core.openat(dir, name, "new", tonumber("600", 8)) or core.openat(dir, name, "read")
  if not fd then return nil end
  if core.flock(fd, "try") then
    local mine, linked = core.stat(fd), core.stat(M.DIR .. "/" .. name, true)
    if mine and linked and mine.ino == linked.ino and mine.dev == linked.dev then return fd end
  end
  core.close(fd)
  return nil
end

-- Remove the lease files nobody holds: those of a starting process that was
-- killed (its lock went with it, its file stayed). Each is taken under its lock
-- and checked still linked first, as try_lease does.
local function sweep()
  local dir = core.openat(nil, M.DIR, "dir")
  if not dir then return end
  for _, name in ipairs(core.readdir(M.DIR) or {}) do
    local base = name:match("^%d+$") and tonumber(name)
    local fd = base and try_lease(dir, base)
    if fd then
      core.unlinkat(dir, name)
      core.close(fd)
    end
  end
  core.close(dir)
end

-- Releases since this process last swept: a stale lease costs nothing but its
-- name (try_lease takes it over), so the sweep, a read of the whole directory,
-- runs at a process's first release and every SWEEP_EVERY-th after.
local since_sweep, SWEEP_EVERY = nil, 16

--- The container is done: its lease file removed (under its lock), the lock let
-- go, and now and then stale leases of killed starts swept (at the end of a
-- container, not on the way to the next one's start).
function M.release(base, fd)
  os.remove(M.DIR .. "/" .. tostring(base))
  core.close(fd)
  if not since_sweep or since_sweep >= SWEEP_EVERY then
    sweep()
    since_sweep = 0
  end
  since_sweep = since_sweep + 1
end

--- Lease a block: want (a base, from a kept upper directory) or any free one,
-- from a random place on. Returns base, the lease's fd (keep it open while the
-- container runs), or nil, message.
function M.lease(want)
  local dir, err = lease_dir()
  if not dir then return nil, "ids: " .. err end
  local base, fd
  if want then
    fd = try_lease(dir, want)
    core.close(dir)
    if not fd then return nil, string.format("upper: its id range (%d-%d) is in use by another container", want,
      want + M.SIZE - 1) end
    return want, fd
  end
  local nth, count, source = M.candidates()
  local start = tonumber(core.random_hex(4), 16) % count
  for i = 0, count - 1 do
    base = nth((start + i) % count + 1)
    fd = base and try_lease(dir, base)
    if fd then break end
  end
  core.close(dir)
  if not fd then
    return nil, string.format("ids: no free range of %d ids in %s: stop a container, or give uid_map and gid_map",
      M.SIZE, source)
  end
  return base, fd
end

-- The file beside an upper directory that records its block.
local function record_path(upper)
  local parent, name = upper:match("^(.*)/([^/]+)$")
  return (parent == "" and "" or parent) .. "/." .. name .. ".nsbox-ids"
end

--- The block recorded for a kept upper directory, or nil. The record is never
-- read or written through a link: the upper's parent may be anyone's directory.
function M.recorded(upper)
  local path = record_path(upper)
  local fd = core.openat(nil, path, "read")
  if not fd then return nil end
  local st = core.stat(fd)
  local text = st and st.type == "file" and st.uid == 0 and core.read(fd, 32) or ""
  core.close(fd)
  local base = math.tointeger(tonumber(text:match("^(%d+)\n") or ""))
  if not M.valid(base) then
    return nil, string.format("upper: %s records no id range nsbox hands out (a file of root's holding a " ..
      "base it picked): remove it, or the upper", path)
  end
  return base
end

--- Record base for a kept upper directory (a new file: never an existing name).
function M.record(upper, base)
  local fd, err = core.openat(nil, record_path(upper), "new", tonumber("644", 8))
  if not fd then return nil, "upper: " .. err end
  local ok, werr = core.write(fd, base .. "\n")
  core.close(fd)
  if not ok then return nil, "upper: " .. werr end
  return true
end

return M

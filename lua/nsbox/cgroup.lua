--- The host side of a container's cgroup: made under the caller's own cgroup
-- (or the recipe's cgroup_parent) before the clone, its limits written; the
-- child is cloned into it (v2: CLONE_INTO_CGROUP) or placed in it before it
-- runs (v1: one cgroup per controller's hierarchy); removed, with anything
-- still in it, once the container ends. Each is named nsbox-<id> and locked
-- (flock on its directory) by the process that owns it: one whose owner died
-- is reaped by a later start under the same parent, as leases are.
-- @module nsbox.cgroup
local core = require "nsbox.core"
local resources = require "nsbox.resources"

local M = {}

M.ROOT = "/sys/fs/cgroup"
-- the leaf a v2 caller moves itself into when its own cgroup must hand
-- controllers down (the no-internal-process rule): not nsbox-<id>, never reaped
M.LEAF = "nsbox.caller"
-- v2: the leaf of a container's cgroup its processes run in
M.PAYLOAD = "payload"
local PERIOD = 100000 -- cpu quota period, us (the kernel's default)
local FIX = "run nsbox in a cgroup delegated to you (systemd-run --user --scope -p Delegate=yes ...), " ..
  "or give cgroup_parent a cgroup you own"

local function fail(field, fmt, ...)
  return nil, (field and field .. ": " or "cgroup: ") .. string.format(fmt, ...)
end

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function words(s)
  local set = {}
  for w in (s or ""):gmatch("%S+") do set[w] = true end
  return set
end

-- Write value to dir's file (through the directory's fd: one write, as
-- cgroup files take). Returns true, or nil, message naming the path, errno.
local function put(dirfd, dir, file, value)
  local fd, _, errno = core.openat(dirfd, file, "write")
  if fd then
    local ok
    ok, _, errno = core.write(fd, value)
    core.close(fd)
    if ok then return true end
  end
  return nil, string.format("write(%s/%s, %s): %s", dir, file, value, core.strerror(errno)), errno
end

-- The hierarchies: v2 (ROOT is a cgroup2 mount) or v1 (controller -> the
-- directory of its hierarchy's root), and this process's own cgroup in each
-- (/proc/self/cgroup, relative to the mount's root). Read once per process.
local layout
local function detect()
  if layout then return layout end
  local own = {}
  for line in io.lines("/proc/self/cgroup") do
    local ctrls, path = line:match("^%d+:([^:]*):(.*)$")
    if ctrls == "" then own[""] = path end
    for c in (ctrls or ""):gmatch("[^,]+") do own[c] = path end
  end
  if read(M.ROOT .. "/cgroup.controllers") then
    layout = { v2 = true, own = own[""] }
    return layout
  end
  local mounts = {}
  for line in io.lines("/proc/self/mountinfo") do
    local root, mp, fstype, opts = line:match("^%S+ %S+ %S+ (%S+) (%S+) .- %- (%S+) %S+ (%S+)")
    if fstype == "cgroup" then
      local m = { dir = mp, root = root, ctrls = {} } -- one hierarchy may hold several (cpu,cpuacct)
      for o in opts:gmatch("[^,]+") do
        if not mounts[o] then mounts[o], m.ctrls[o] = m, true end
      end
    end
  end
  layout = { v1 = mounts, own = own }
  return layout
end
M.detect = detect

-- The directory of cgroup path (relative to a hierarchy's root) in the mount m.
local function dir_of(m, path)
  if m.root ~= "/" and path:sub(1, #m.root) == m.root then path = path:sub(#m.root + 1) end
  return (m.dir .. path):gsub("/+$", "")
end

-- Controllers each field needs, in a stable order.
local ORDER = { "cpuset", "cpu", "io", "memory", "pids" }
local function needed(res)
  local set, field = {}, {}
  for k in pairs(res) do
    local c = resources.CONTROLLER[k]
    if c then set[c] = true field[c] = field[c] or "resources." .. k end
  end
  local list = {}
  for _, c in ipairs(ORDER) do if set[c] then list[#list + 1] = c end end
  return list, field
end

-- What stats() counts with, besides the limits' controllers: taken where the
-- host has them, never an error where it has not.
local COUNTERS = { "memory", "pids", "cpuacct" }
local handed = {}
local function with_counters(list, avail)
  local set, out = {}, {}
  for _, c in ipairs(list) do set[c] = true out[#out + 1] = c end
  for _, c in ipairs(COUNTERS) do
    if not set[c] and avail(c) then set[c] = true out[#out + 1] = c end
  end
  return out
end

-- v2: let base hand the controllers down to its children. Its own processes
-- forbid that (the kernel's no-internal-process rule, root excepted; a
-- threaded controller such as pids is let through, and turns base into a
-- thread root whose children can hold no process: so nothing is enabled while
-- base holds any): where base is this process's own cgroup, this process moves
-- once into the leaf M.LEAF made under it, as crun and podman do with cgroupfs.
local enabled = {}
local function enable(base, list, field, own_dir)
  local known = true
  for _, c in ipairs(list) do known = known and enabled[base .. " " .. c] end
  if known then return true end -- handed down by this process before: no read per start
  local have = words(read(base .. "/cgroup.subtree_control"))
  local missing = {}
  for _, c in ipairs(list) do
    if not have[c] then missing[#missing + 1] = c end
  end
  if #missing == 0 then return true end
  local f = field[missing[1]]
  local avail = words(read(base .. "/cgroup.controllers"))
  for _, c in ipairs(missing) do
    if not avail[c] then
      return fail(field[c], "the %s controller is not available in cgroup %s (its parent does not hand it down): %s",
        c, base, FIX)
    end
  end
  local basefd, err = core.openat(nil, base, "dir")
  if not basefd then return fail(f, "%s", err) end
  local ok, errno, moved = true, nil, nil
  -- the real root (no cgroup.type: not a cgroup namespace's root) is exempt from the rule
  local root = not core.stat(base .. "/cgroup.type")
  local function busy() return not root and (read(base .. "/cgroup.procs") or ""):match("%d") end
  if busy() and base == own_dir then
    -- this process (and its threads) into the leaf: then base holds none of ours
    local leaf = base .. "/" .. M.LEAF
    ok, err, errno = core.mkdirat(basefd, M.LEAF, tonumber("755", 8))
    if ok or errno == core.EEXIST then
      local lfd
      lfd, err, errno = core.openat(basefd, M.LEAF, "dir")
      if lfd then
        ok, err, errno = put(lfd, leaf, "cgroup.procs", "0")
        core.close(lfd)
        moved = ok and leaf
      end
    end
  end
  if ok and busy() then ok, errno = nil, core.EBUSY end
  if ok then ok, err, errno = put(basefd, base, "cgroup.subtree_control", "+" .. table.concat(missing, " +")) end
  core.close(basefd)
  if ok then
    for _, c in ipairs(missing) do enabled[base .. " " .. c] = true end
    return true
  end
  if errno == core.EBUSY then
    -- which: a user can tell a shell of theirs from a stray
    local who = {}
    for pid in (read(base .. "/cgroup.procs") or ""):gmatch("%d+") do
      if #who == 3 then who[#who + 1] = "..." break end
      who[#who + 1] = pid .. " " .. ((read("/proc/" .. pid .. "/comm") or "?"):gsub("%s+$", ""))
    end
    return fail(f, "cgroup %s holds processes (%s)%s, and the kernel hands controllers (%s) only to the children " ..
      "of a cgroup without any: %s", base, table.concat(who, ", "), moved and ", besides nsbox's (moved to " .. moved ..
      ")" or "", table.concat(missing, ", "), FIX)
  elseif errno == core.EACCES or errno == core.EPERM or errno == core.EROFS then
    return fail(f, "cannot enable %s in cgroup %s (%s): it is not delegated to you: %s", table.concat(missing, ", "),
      base, core.strerror(errno), FIX)
  end
  return fail(f, "%s", err)
end

-- The quota of cpus CPUs per PERIOD, rounded (1.1 is 110000, not 110001).
local function quota(cpus)
  return math.floor(cpus * PERIOD + 0.5)
end

-- The limit files, v2 and v1, of the normalized resources.
local function files_v2(res)
  local out = {}
  local function add(field, file, value, bfq) out[#out + 1] = { field = field, file = file, value = value, bfq = bfq } end
  if res.cpuset then add("resources.cpuset", "cpuset.cpus", res.cpuset) end
  if res.cpus then add("resources.cpus", "cpu.max", string.format("%d %d", quota(res.cpus), PERIOD)) end
  if res.cpu_weight then add("resources.cpu_weight", "cpu.weight", tostring(res.cpu_weight)) end
  if res.io_weight then add("resources.io_weight", "io.weight", "default " .. res.io_weight, "io.bfq.weight") end
  if res.memory then
    add("resources.memory", "memory.max", tostring(res.memory))
    -- podman: swap as much as memory unless memory_swap says (memory and swap together)
    local swap = res.memory_swap == -1 and "max" or tostring((res.memory_swap or 2 * res.memory) - res.memory)
    add(res.memory_swap and "resources.memory_swap", "memory.swap.max", swap)
  end
  if res.pids then add("resources.pids", "pids.max", tostring(res.pids)) end
  return out
end

-- v1: controller -> its files; cpu_weight as cpu.shares (systemd's mapping:
-- the default weight 100 is the default 1024 shares); no io weight without
-- BFQ's blkio.bfq.weight.
local function files_v1(res, parent_mems)
  local out = {}
  local function add(c, field, file, value) out[#out + 1] = { ctrl = c, field = field, file = file, value = value } end
  if res.cpuset then
    add("cpuset", "resources.cpuset", "cpuset.cpus", res.cpuset)
    add("cpuset", "resources.cpuset", "cpuset.mems", parent_mems or "0")
  end
  if res.cpus then
    add("cpu", "resources.cpus", "cpu.cfs_period_us", tostring(PERIOD))
    add("cpu", "resources.cpus", "cpu.cfs_quota_us", tostring(quota(res.cpus)))
  end
  if res.cpu_weight then
    add("cpu", "resources.cpu_weight", "cpu.shares", tostring(math.max(2, math.min(262144, res.cpu_weight * 1024 // 100))))
  end
  if res.io_weight then add("blkio", "resources.io_weight", "blkio.bfq.weight", tostring(math.min(res.io_weight, 1000))) end
  if res.memory then
    add("memory", "resources.memory", "memory.limit_in_bytes", tostring(res.memory))
    local total = res.memory_swap == -1 and "-1" or tostring(res.memory_swap or 2 * res.memory)
    add("memory", res.memory_swap and "resources.memory_swap", "memory.memsw.limit_in_bytes", total)
  end
  if res.pids then add("pids", "resources.pids", "pids.max", tostring(res.pids)) end
  return out
end

-- Write the limit files (dir_for(f): the cgroup of each). An io weight without
-- its file is refused with no_io (formatted with the cgroup's path); podman's
-- default swap limit (no field of its own) is skipped where the kernel keeps
-- no swap account.
local function write_limits(files, dir_for, no_io)
  for _, f in ipairs(files) do
    local d = dir_for(f)
    -- BFQ reads its own weight file (v2's io.weight is io.cost's): that one where it is
    if f.bfq and core.stat(d.path .. "/" .. f.bfq) then f = { field = f.field, file = f.bfq, value = f.value } end
    local ok, err, errno = put(d.fd, d.path, f.file, f.value)
    if not ok and errno == core.ENOENT and f.field == "resources.io_weight" then
      return fail(f.field, no_io, d.path)
    elseif not ok and (f.field or errno ~= core.ENOENT) then
      return fail(f.field or "resources.memory", "%s", err)
    end
  end
  return true
end

-- Remove the stale cgroups of dead owners under base (each nsbox-<id> whose
-- lock nobody holds): at a process's first start and every 16th.
local starts = 0
local function reap(basefd, base)
  for _, name in ipairs(core.readdir(base) or {}) do
    if name:match("^nsbox%-%x+$") then
      local fd = core.openat(basefd, name, "dir")
      if fd then
        if core.flock(fd, "try") then core.cgroup_remove(basefd, name) end
        core.close(fd)
      end
    end
  end
end

-- Make base/name and lock it; a reaper of another process may remove it
-- between the mkdir and the lock, which the check of its inode after shows.
local function make(base, name, field)
  local basefd, err = core.openat(nil, base, "dir")
  if not basefd then
    return fail(field, "%s (cgroup_parent must be an existing cgroup)", err)
  end
  if starts % 16 == 0 then reap(basefd, base) end
  local ok, _, errno = core.mkdirat(basefd, name, tonumber("755", 8))
  if not ok then
    core.close(basefd)
    if errno == core.EACCES or errno == core.EPERM or errno == core.EROFS then
      return fail(field, "cannot make a cgroup in %s (%s): %s", base, core.strerror(errno), FIX)
    end
    return fail(field, "mkdir(%s/%s): %s", base, name, core.strerror(errno))
  end
  local fd = core.openat(basefd, name, "dir")
  local st = fd and core.flock(fd, "try") and core.stat(fd)
  local now = st and core.stat(base .. "/" .. name)
  if not (now and now.ino == st.ino) then
    if fd then core.close(fd) end
    if st then core.unlinkat(basefd, name, true) end -- ours, locked: not left behind
    core.close(basefd)
    return fail(field, "the cgroup %s/%s was removed as it was made", base, name)
  end
  return { base = base, basefd = basefd, name = name, fd = fd, path = base .. "/" .. name }
end

local function drop(cg)
  for _, d in ipairs(cg.dirs) do
    core.cgroup_remove(d.basefd, d.name)
    if d.payload then core.close(d.payload) end
    core.close(d.fd)
    core.close(d.basefd)
  end
  cg.dirs = {}
end

--- Make the cgroup of a container with the normalized resources res (nsbox.resources)
-- and write its limits. parent: the recipe's cgroup_parent (a path in the
-- hierarchy), or nil for this process's own cgroup.
-- @treturn table|nil { v2 =, fd = (v2: for core.spawn's cgroup), dirs = { { path, ... } }, resources = res }, or nil, message
function M.create(id, res, parent)
  local l = detect()
  local list, field = needed(res)
  local name = "nsbox-" .. id
  local cg = { v2 = l.v2, dirs = {}, resources = res }
  local function undo(...) drop(cg) return ... end
  if l.v2 then
    local own_dir = (M.ROOT .. l.own):gsub("/+$", "")
    local base = parent and (M.ROOT .. parent):gsub("/+$", "") or own_dir
    -- a process that moved itself into the leaf (or its child) hands down from its parent
    if not parent and base:match("/" .. M.LEAF:gsub("%.", "%%.") .. "$") then
      base = base:sub(1, -#M.LEAF - 2)
      own_dir = base
    end
    if parent then
      local probe, perr = core.openat(nil, base, "dir")
      if not probe then return fail(field[list[1]], "%s (cgroup_parent must be an existing cgroup)", perr) end
      core.close(probe)
    end
    if not handed[base] then handed[base] = words(read(base .. "/cgroup.controllers")) end
    local ok, err = enable(base, with_counters(list, function(c) return handed[base][c] end), field, own_dir)
    if not ok then return nil, err end
    local d
    d, err = make(base, name, field[list[1]])
    if not d then return nil, err end
    cg.dirs[1] = d
    ok, err = write_limits(files_v2(res), function() return d end,
      "this kernel has no io weight (no io.weight nor io.bfq.weight in %s: neither io.cost nor BFQ)")
    if not ok then return undo(nil, err) end
    -- the processes run in a leaf below the limits (crun's layout), and the cgroup
    -- namespace is rooted there: the limits' files are out of the container's sight,
    -- and the leaf, with no controller handed to it, has none to write
    local _, errno
    ok, _, errno = core.mkdirat(d.fd, M.PAYLOAD, tonumber("755", 8))
    if ok then d.payload, _, errno = core.openat(d.fd, M.PAYLOAD, "dir") end
    if not d.payload then return undo(fail(field[list[1]], "%s/%s: %s", d.path, M.PAYLOAD, core.strerror(errno))) end
    cg.fd = d.payload
  else
    local made = {} -- a hierarchy of several controllers gets one cgroup
    local function counter(c) -- where this host has it, and the parent exists in its hierarchy
      return l.v1[c] and (parent or l.own[c]) and core.stat(dir_of(l.v1[c], parent or l.own[c]))
    end
    for _, c in ipairs(with_counters(list, counter)) do
      local h = c == "io" and "blkio" or c
      local m = l.v1[h]
      if not m then return undo(fail(field[c], "this host has no %s controller (no cgroup v1 hierarchy of it is mounted)", h)) end
      local own = l.own[h]
      if not own and not parent then return undo(fail(field[c], "this process is in no cgroup of the %s hierarchy", h)) end
      if not made[m] then
        local d, err = make(dir_of(m, parent or own), name, field[c])
        if not d then return undo(nil, err) end
        d.ctrls, made[m] = m.ctrls, d
        cg.dirs[#cg.dirs + 1] = d
      end
    end
    local by = {}
    for m, d in pairs(made) do for c in pairs(m.ctrls) do by[c] = d end end
    local mems = by.cpuset and (read(by.cpuset.base .. "/cpuset.mems") or ""):match("%S+")
    local ok, err = write_limits(files_v1(res, mems), function(f) return by[f.ctrl] end,
      "cgroup v1 has no io weight without the BFQ scheduler (no %s/blkio.bfq.weight)")
    if not ok then return undo(nil, err) end
  end
  starts = starts + 1
  return cg
end

--- v1: put pid (the held child, before it runs) into each of its cgroups.
function M.place(cg, pid)
  if cg.v2 then return true end
  for _, d in ipairs(cg.dirs) do
    local ok, err, errno = put(d.fd, d.path, "cgroup.procs", tostring(pid))
    if not ok then return nil, "cgroup: " .. err, errno end
  end
  return true
end

local function num(s, key)
  return s and tonumber(s:match(key .. " (%d+)"))
end

--- What the container's cgroup counts now: { memory = { current, peak },
-- cpu = { usage_usec, user_usec, system_usec, nr_throttled, throttled_usec },
-- pids = { current }, oom_kills } (only what its controllers count).
function M.stats(cg)
  local s = { memory = {}, cpu = {}, pids = {}, oom_kills = 0 }
  for _, d in ipairs(cg.dirs) do
    local p = d.path .. "/"
    local function n(file) return tonumber((read(p .. file) or ""):match("%d+")) end
    if cg.v2 then
      s.memory.current, s.memory.peak, s.pids.current = n("memory.current"), n("memory.peak"), n("pids.current")
      local cpu = read(p .. "cpu.stat")
      for _, k in ipairs { "usage_usec", "user_usec", "system_usec", "nr_throttled", "throttled_usec" } do
        s.cpu[k] = num(cpu, k)
      end
      s.oom_kills = num(read(p .. "memory.events"), "oom_kill") or 0
    else
      local c = d.ctrls
      if c.memory then
        s.memory.current, s.memory.peak = n("memory.usage_in_bytes"), n("memory.max_usage_in_bytes")
        s.oom_kills = num(read(p .. "memory.oom_control"), "oom_kill") or 0
      end
      if c.pids then s.pids.current = n("pids.current") end
      if c.cpu then
        local cpu = read(p .. "cpu.stat")
        s.cpu.nr_throttled = num(cpu, "nr_throttled")
        local t = num(cpu, "throttled_time")
        s.cpu.throttled_usec = t and t // 1000
      end
      if c.cpuacct then -- nanoseconds
        local total, user, sys = n("cpuacct.usage"), n("cpuacct.usage_user"), n("cpuacct.usage_sys")
        s.cpu.usage_usec, s.cpu.user_usec, s.cpu.system_usec = total and total // 1000, user and user // 1000,
          sys and sys // 1000
      end
    end
  end
  return s
end

--- Remove the container's cgroups and whatever still runs in them; the
-- counters as they were at the end.
function M.finish(cg)
  local s = M.stats(cg)
  drop(cg)
  return s
end

--- What an end under the cgroup's limits says besides the status: an
-- out-of-memory kill of the command (137 and an OOM kill counted), or of
-- another of its processes.
function M.note(cg, s, status)
  if (s.oom_kills or 0) == 0 then return nil end
  local limit = cg.resources.text.memory and " (memory limit " .. cg.resources.text.memory .. ")" or ""
  if status == 137 then return "killed: out of memory" .. limit end
  return string.format("%d process%s of the container killed: out of memory%s", s.oom_kills,
    s.oom_kills > 1 and "es" or "", limit)
end

return M

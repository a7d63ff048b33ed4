--- The ids of a container. From the parent: its uid/gid maps, directly when the
-- caller may (root, or a single mapping of its own id), else through
-- newuidmap/newgidmap; once they are written core.spawn (`root`) makes the
-- child uid and gid 0 inside. In the child: letting its gids open ICMP
-- datagram sockets (ping without CAP_NET_RAW).
-- @module nsbox.idmap
local core = require "nsbox.core"

local M = {}

local HELPERS = { uid = "/usr/bin/newuidmap", gid = "/usr/bin/newgidmap" }

-- An unprivileged caller may write one line mapping its own id, once setgroups is denied.
local function own_only(maps, own)
  return #maps == 1 and maps[1].outside == own and maps[1].count == 1
end

--- Can maps be written for this caller? Returns true or nil, message (used at validation).
function M.check(kind, maps)
  if not maps or core.geteuid() == 0 then return true end
  local own = kind == "uid" and core.getuid() or core.getgid()
  if own_only(maps, own) or core.executable(HELPERS[kind]) then return true end
  return nil, string.format("mapping ids other than your own (%d) needs %s (apt-get install uidmap)",
    own, HELPERS[kind])
end

local function run_helper(kind, pid, maps)
  local argv = { HELPERS[kind], tostring(pid) }
  for _, m in ipairs(maps) do
    argv[#argv + 1] = tostring(m.inside)
    argv[#argv + 1] = tostring(m.outside)
    argv[#argv + 1] = tostring(m.count)
  end
  local hpid, pidfd, errno = core.spawn { path = argv[1], argv = argv }
  if not hpid then return nil, pidfd, errno end
  local how, code = core.wait(pidfd)
  core.close(pidfd)
  if how ~= "exited" or code ~= 0 then
    return nil, string.format("%s(%d): failed with %s %s", argv[1], pid, tostring(how), tostring(code))
  end
  return true
end

--- Write setgroups, uid_map and gid_map of pid.
-- setgroups: "deny" only where the kernel demands it, a caller without privilege
-- mapping its own gid. Root (CAP_SETGID over the parent namespace) leaves it as
-- it is, "allow" unless the caller's own namespace denies it: setgroups(2) inside
-- can only name gids the map holds, none the caller could not give itself (with
-- the default 0 -> 0 map, only gid 0). newgidmap decides for itself ("deny"
-- unless a range comes from /etc/subgid), so nothing is written before it.
function M.write(pid, uid_map, gid_map)
  if not uid_map then return true end
  local root = core.geteuid() == 0
  local ok, err, errno
  if root then
    ok, err, errno = core.id_map(pid, "gid", gid_map)
  elseif own_only(gid_map, core.getgid()) then
    ok, err, errno = core.setgroups(pid, "deny")
    if ok then ok, err, errno = core.id_map(pid, "gid", gid_map) end
  else
    ok, err, errno = run_helper("gid", pid, gid_map)
  end
  if not ok then return nil, err, errno end
  if root or own_only(uid_map, core.getuid()) then
    return core.id_map(pid, "uid", uid_map)
  end
  return run_helper("uid", pid, uid_map)
end

-- ping_group_range holds gids up to GID_T_MAX.
local GID_MAX = 2147483647

-- The entries of this process's /proc/self/gid_map.
local function own_gid_map()
  local f, err, errno = io.open("/proc/self/gid_map")
  if not f then return nil, err, errno end
  local map = {}
  for line in f:lines() do
    local inside, outside, count = line:match("(%d+)%s+(%d+)%s+(%d+)")
    if inside then map[#map + 1] = { inside = tonumber(inside), outside = tonumber(outside), count = tonumber(count) } end
  end
  f:close()
  return map
end

--- The gids of a gid map (the recipe's, or by default this process's own
-- /proc/self/gid_map), "low high" for ping_group_range: from the lowest inside
-- to the highest, unless the outside ids run the other way (the kernel then
-- refuses the range): the lowest entry alone.
function M.ping_range(map)
  local err, errno
  if not map then
    map, err, errno = own_gid_map()
    if not map then return nil, err, errno end
  end
  local lo, hi
  for _, e in ipairs(map) do
    if not lo or e.inside < lo.inside then lo = e end
    if not hi or e.inside > hi.inside then hi = e end
  end
  if not lo then return nil, "/proc/self/gid_map: no entry" end
  if hi.outside < lo.outside then hi = lo end
  return string.format("%d %d", lo.inside, math.min(hi.inside + hi.count - 1, GID_MAX))
end

--- In the child, in its new network namespace (net.ipv4.ping_group_range is per
-- namespace, "1 0" when new: no one): let its gids open ICMP datagram sockets,
-- ping without CAP_NET_RAW. Through the host's /proc, before the container's
-- /proc/sys is read-only; skipped where /proc/sys is read-only already. map:
-- the gid map the parent wrote (reading it back from /proc costs more than the
-- write), nil in a user namespace shared with the caller.
function M.open_ping(map)
  local range, err, errno = M.ping_range(map)
  if not range then return nil, err, errno end
  local f
  f, err, errno = io.open("/proc/sys/net/ipv4/ping_group_range", "w")
  if not f then
    if errno == core.EROFS then return true end
    return nil, err, errno
  end
  local ok, werr, werrno = f:write(range)
  local closed, cerr, cerrno = f:close()
  if not ok then return nil, werr, werrno end
  if not closed then return nil, "ping_group_range " .. range .. ": " .. tostring(cerr), cerrno end
  return true
end

return M

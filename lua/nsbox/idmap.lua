--- Writing a child's uid/gid maps from the parent: directly when the caller may
-- (root, or a single mapping of its own id), else through newuidmap/newgidmap.
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
function M.write(pid, uid_map, gid_map)
  if not uid_map then return true end
  local root = core.geteuid() == 0
  local direct_gid = root or own_only(gid_map, core.getgid())
  local ok, err, errno
  if direct_gid then
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

return M

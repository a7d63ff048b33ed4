--- Work done as root of a user namespace with given maps, outside any
-- container: removing an overlay's upper layer whose files belong to an
-- unprivileged caller's subordinate ids, and unpacking an image into them
-- (`nsbox import`), as `podman unshare` does.
-- @module nsbox.userns
local core = require "nsbox.core"
local idmap = require "nsbox.idmap"

local M = {}

-- core.spawn's fields for a child in a new user namespace with these maps, root there.
local function spec(uid_map, gid_map, extra)
  local s = { flags = core.CLONE_NEWUSER, root = true, pdeathsig = core.SIGKILL,
              setup = function(p) return idmap.write(p, uid_map, gid_map) end }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

--- Run fn() in a forked child, root of a new user namespace with the maps;
-- true if it returned true, else nil, message.
function M.call(uid_map, gid_map, fn)
  local pid, pidfd, errno = core.spawn(spec(uid_map, gid_map, { fork = true, close_fds = true }))
  if pid == 0 then
    -- a copy of the caller's Lua state: no finalizer of its objects (a box's, which
    -- would kill its container) may run here, and only 0, 1, 2 are open
    collectgarbage("stop")
    local ok, res = pcall(fn)
    core._exit(ok and res and 0 or 1)
  end
  if not pid then return nil, pidfd, errno end
  local how, code = core.wait(pidfd)
  core.close(pidfd)
  if how == "exited" and code == 0 then return true end
  return nil, string.format("in a user namespace of your ids: %s %s", tostring(how), tostring(code))
end

--- Run the program argv as root of a new user namespace with the maps (stdin
-- the fd given, else the caller's); true, or nil, message.
function M.run(uid_map, gid_map, argv, stdin)
  local pid, pidfd, errno = core.spawn(spec(uid_map, gid_map, { path = argv[1], argv = argv, stdin = stdin }))
  if not pid then return nil, pidfd, errno end
  local how, code = core.wait(pidfd)
  core.close(pidfd)
  if how == "exited" and code == 0 then return true end
  return nil, string.format("%s: %s %s", argv[1], tostring(how), tostring(code))
end

return M

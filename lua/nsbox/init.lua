--- nsbox: Linux containers from namespace primitives, driven from Lua.
--
--    local nsbox = require "nsbox"
--    local box = assert(nsbox.container { rootfs = "build/rootfs", command = { "hostname" } })
--    local status = box:run()
-- @module nsbox
local container = require "nsbox.container"

local M = {
  core = require "nsbox.core",
  reexec = require "nsbox.reexec",
  _VERSION = "nsbox scm",
}

--- Validate a recipe and return a container object, or nil and a message naming the bad field.
-- @tparam table recipe rootfs, command, env, cwd, hostname, domainname, namespaces,
--   uid_map, gid_map, mounts, readonly, keep_fds, reexec, interpreter, network, name,
--   stdin, stdout, stderr, capabilities, no_new_privs, new_session, init
-- @return a box (its `state` "new" until `launch()` or `start()`), or nil and the message
function M.container(recipe)
  return container.new(recipe)
end

return M

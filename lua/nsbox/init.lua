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
  seccomp = require "nsbox.seccomp", -- seccomp.default(): the default profile, to start one's own from
  _VERSION = "nsbox scm",
}

--- Validate a recipe and return a container object, or nil and a message naming the bad field.
-- @tparam table recipe rootfs, command, env, cwd, hostname, domainname, namespaces,
--   uid_map, gid_map, mounts, readonly, keep_fds, reexec, interpreter, network, name,
--   stdin, stdout, stderr, capabilities, no_new_privs, new_session, init, resources,
--   rlimits, cgroup_parent, seccomp
-- @return a box (its `state` "new" until `launch()` or `start()`), or nil and the message
function M.container(recipe)
  return container.new(recipe)
end

--- Unpack an image (a directory or a tar archive) into dest as the caller's
-- own (nsbox.import): true, or nil and a message.
function M.import(src, dest)
  return require("nsbox.import").import(src, dest)
end

return M

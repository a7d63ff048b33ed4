-- Docker's reexec pattern with nsbox.reexec: the program re-executes itself into
-- new user and UTS namespaces and runs the registered function there.
-- Prints key=value lines for the spec to check.
package.path = package.path .. ";/nsbox-spec-marker/?.lua"
local core = require "nsbox.core"
local reexec = require "nsbox.reexec"
local idmap = require "nsbox.idmap"

reexec.register("nsInitialisation", function(a, b)
  assert(core.sethostname("reexeced"))
  print("args=" .. a .. "|" .. b)
  print("marker=" .. tostring(os.getenv("NSBOX_REEXEC")))
  local p = io.popen("env")
  print("env_marker=" .. tostring(p:read("a"):find("NSBOX_REEXEC", 1, true)))
  p:close()
  local _, n = package.path:gsub("/nsbox%-spec%-marker/", "")
  print("path_marker_count=" .. n)
  print("uid=" .. core.getuid())
  os.exit(7)
end)

if reexec.init() then
  print("init returned")
  os.exit(0)
end

local spec = reexec.command("nsInitialisation", "one", "two words")
spec.flags = core.CLONE_NEWUSER | core.CLONE_NEWUTS
local uid, gid = core.getuid(), core.getgid()
spec.setup = function(pid)
  return idmap.write(pid, { { inside = 0, outside = uid, count = 1 } }, { { inside = 0, outside = gid, count = 1 } })
end
io.stdout:flush()
local _, pidfd = assert(core.spawn(spec))
local how, code = core.wait(pidfd)
core.close(pidfd)
print("status=" .. how .. " " .. code)
print("parent_hostname_changed=" .. tostring(io.popen("hostname"):read("l") == "reexeced"))
print("parent_init=" .. tostring(reexec.init()))

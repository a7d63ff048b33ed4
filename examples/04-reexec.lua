#!/usr/bin/env lua5.4
--- Stage 4 of the seed: Docker's reexec pattern, with nsbox.reexec.
--
-- The script re-executes itself in new namespaces (user, mnt, uts, ipc, pid,
-- net) to run a registered function, "nsInitialisation", *inside* them before
-- the command starts: it sets the hostname, prints a line, and execs the
-- command. Setup that must happen in the new namespaces but before the user's
-- command runs lives there. Root inside is mapped to you: works unprivileged.
--
--   lua5.4 examples/04-reexec.lua               -- an interactive /bin/sh; `exit` leaves
--   lua5.4 examples/04-reexec.lua /bin/sh -c 'hostname; echo $$'
--
-- You will see "nsInitialisation: pid 1, hostname ns-process, exec /bin/sh"
-- (printed by the re-executed script, PID 1 of the new pid namespace), then
-- the command's output: `hostname` prints ns-process, `echo $$` prints 1.
-- From a checkout, find nsbox beside this script (no LUA_PATH needed).
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
assert(loadfile(here .. "checkout.lua"))(here)

local core = require "nsbox.core"
local idmap = require "nsbox.idmap"
local reexec = require "nsbox.reexec"

io.stdout:setvbuf("line")

reexec.register("nsInitialisation", function(...)
  local command = { ... }
  assert(core.sethostname("ns-process"))
  print(string.format("nsInitialisation: pid %d, hostname ns-process, exec %s", core.getpid(), command[1]))
  local _, err = core.execve(command[1], command) -- returns only on failure
  io.stderr:write(err, "\n")
  os.exit(127)
end)
if reexec.init() then os.exit(0) end

-- The parent: re-execute ourselves for "nsInitialisation", passing the command on.
local command = #arg > 0 and { table.unpack(arg) } or { "/bin/sh" }
local spec = reexec.command("nsInitialisation", table.unpack(command))
spec.flags = core.CLONE_NEWUSER | core.CLONE_NEWNS | core.CLONE_NEWUTS | core.CLONE_NEWIPC
           | core.CLONE_NEWPID | core.CLONE_NEWNET
spec.setup = function(child) -- maps before the exec, or the re-executed script has no capabilities
  return idmap.write(child, { { inside = 0, outside = core.getuid(), count = 1 } },
                            { { inside = 0, outside = core.getgid(), count = 1 } })
end
local _, pidfd = assert(core.spawn(spec))
local how, code = core.wait(pidfd)
core.close(pidfd)
os.exit(require("nsbox.status").of(how, code)) -- 128+N if signal N ended it

#!/usr/bin/env lua5.4
--- Stage 1 of the seed: a process in a new UTS namespace.
--
-- The child gets its own hostname; the host's does not change. A user
-- namespace comes along (root inside mapped to you) so that this works without
-- privileges: CLONE_NEWUTS | CLONE_NEWUSER, maps written from spawn's setup.
-- The child still uses the host's filesystem, processes and network.
--
--   lua5.4 examples/01-uts.lua                  -- an interactive /bin/sh; `exit` leaves
--   lua5.4 examples/01-uts.lua /bin/sh -c 'hostname inside; hostname'
--
-- In the shell, type `hostname inside; hostname`: it prints "inside". After the
-- child exits, the script prints "host hostname: NAME", the host's unchanged name.
-- From a checkout, find nsbox beside this script (no LUA_PATH needed).
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
assert(loadfile(here .. "checkout.lua"))(here)

local core = require "nsbox.core"
local idmap = require "nsbox.idmap"

io.stdout:setvbuf("line") -- our lines and the child's, in order
local command = #arg > 0 and { table.unpack(arg) } or { "/bin/sh" }
-- execve does no PATH search: a bare name is taken from /usr/bin
if not command[1]:find("/", 1, true) then command[1] = "/usr/bin/" .. command[1] end

local function hostname()
  local f = assert(io.open("/proc/sys/kernel/hostname"))
  local name = f:read("l")
  f:close()
  return name
end

print("host hostname: " .. hostname())
local pid, pidfd = assert(core.spawn {
  path = command[1], argv = command,
  flags = core.CLONE_NEWUTS | core.CLONE_NEWUSER,
  setup = function(child)
    return idmap.write(child, { { inside = 0, outside = core.getuid(), count = 1 } },
                              { { inside = 0, outside = core.getgid(), count = 1 } })
  end,
})
local how, code = core.wait(pidfd)
core.close(pidfd)
print(string.format("child %d %s with %d", pid, how, code))
print("host hostname: " .. hostname() .. " (unchanged)")
os.exit(require("nsbox.status").of(how, code)) -- 128+N if signal N ended it

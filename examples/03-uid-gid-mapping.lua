#!/usr/bin/env lua5.4
--- Stage 3 of the seed: user namespace uid/gid mapping.
--
-- The same command runs twice in a new user namespace (and uts namespace):
--   1. with no maps written, the child's ids map to nothing and it is "nobody"
--      (uid 65534, the kernel's overflow id), with no power over anything;
--   2. with maps written from spawn's setup (before the child's exec), root
--      inside is your uid outside: the child is uid 0, gid 0.
-- Works unprivileged: an unprivileged user may map its own uid and gid.
--
--   lua5.4 examples/03-uid-gid-mapping.lua      -- two interactive shells: type `id`, then `exit`
--   lua5.4 examples/03-uid-gid-mapping.lua id -u
--
-- You will see "without maps:" and uid=65534(nobody), then "with maps:" and
-- uid=0(root) (a bare `id -u` prints 65534, then 0).
-- From a checkout, find nsbox beside this script (no LUA_PATH needed).
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
assert(loadfile(here .. "checkout.lua"))(here)

local core = require "nsbox.core"
local idmap = require "nsbox.idmap"

io.stdout:setvbuf("line")
local command = #arg > 0 and { table.unpack(arg) } or { "/bin/sh" }
-- execve does no PATH search: a bare name is taken from /usr/bin
if not command[1]:find("/", 1, true) then command[1] = "/usr/bin/" .. command[1] end

local function run(label, setup)
  print(label)
  local _, pidfd = assert(core.spawn {
    path = command[1], argv = command, flags = core.CLONE_NEWUSER | core.CLONE_NEWUTS, setup = setup,
  })
  local how, code = core.wait(pidfd)
  core.close(pidfd)
  return require("nsbox.status").of(how, code) -- 128+N if signal N ended it
end

run("without maps:")
local status = run("with maps:", function(child)
  return idmap.write(child, { { inside = 0, outside = core.getuid(), count = 1 } },
                            { { inside = 0, outside = core.getgid(), count = 1 } })
end)
os.exit(status)

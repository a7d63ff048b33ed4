#!/usr/bin/env lua5.4
--- Stage 2 of the seed: a process in all seven namespaces.
--
-- core.spawn with every CLONE_NEW* flag: user, mnt, uts, ipc, pid, net and
-- cgroup. Root inside is mapped to you, so it works unprivileged. The child
-- still sees the host's filesystem (the new mount namespace is a copy of it).
--
--   lua5.4 examples/02-namespaces.lua           -- an interactive /bin/sh; `exit` leaves
--   lua5.4 examples/02-namespaces.lua /bin/sh -c 'readlink /proc/self/ns/*'
--
-- The script first prints one line per namespace, "NAME host NS:[inode] child
-- NS:[inode]", read from /proc/self/ns and /proc/CHILD/ns: every pair differs.
-- In the shell, type `readlink /proc/self/ns/*` to see the child's again, and
-- compare with `ls -l /proc/self/ns` typed on the host.
-- From a checkout, find nsbox beside this script (no LUA_PATH needed).
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
assert(loadfile(here .. "checkout.lua"))(here)

local core = require "nsbox.core"
local idmap = require "nsbox.idmap"

io.stdout:setvbuf("line")
local command = #arg > 0 and { table.unpack(arg) } or { "/bin/sh" }
-- execve does no PATH search: a bare name is taken from /usr/bin
if not command[1]:find("/", 1, true) then command[1] = "/usr/bin/" .. command[1] end
local NAMES = { "user", "mnt", "uts", "ipc", "pid", "net", "cgroup" }

local _, pidfd = assert(core.spawn {
  path = command[1], argv = command,
  flags = core.CLONE_NEWUSER | core.CLONE_NEWNS | core.CLONE_NEWUTS | core.CLONE_NEWIPC
        | core.CLONE_NEWPID | core.CLONE_NEWNET | core.CLONE_NEWCGROUP,
  setup = function(child) -- runs while the child waits, before its exec
    for _, name in ipairs(NAMES) do
      print(string.format("%-6s host %-22s child %s", name,
        core.readlink("/proc/self/ns/" .. name), core.readlink("/proc/" .. child .. "/ns/" .. name)))
    end
    return idmap.write(child, { { inside = 0, outside = core.getuid(), count = 1 } },
                              { { inside = 0, outside = core.getgid(), count = 1 } })
  end,
})
local how, code = core.wait(pidfd)
core.close(pidfd)
os.exit(require("nsbox.status").of(how, code)) -- 128+N if signal N ended it

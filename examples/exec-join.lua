#!/usr/bin/env lua5.4
--- Joining a running container, like `docker exec` or `nsenter`.
--
-- Starts a container named "joinme" running `sleep 60` on the busybox rootfs,
-- then runs a command in it with box:exec: a new process joins all of the
-- container's namespaces (setns through its pidfd), its root and environment.
-- When the command ends, the container is killed. Works unprivileged.
--
--   lua5.4 examples/exec-join.lua [COMMAND...]  -- default: an interactive /bin/sh
--   lua5.4 examples/exec-join.lua sh -c 'hostname; ps -o pid,args'
--
-- You will see "started joinme: pid N" (N is the host's pid), then, from
-- inside: hostname prints joinme, and `ps` lists "1 sleep 60" (the
-- container's first process) next to your own command; then
-- "exec: status 0" and "joinme killed: status 137".
-- From a checkout, find nsbox beside this script (no LUA_PATH needed).
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
assert(loadfile(here .. "checkout.lua"))(here)

local nsbox = require "nsbox"

io.stdout:setvbuf("line")
local rootfs = os.getenv("ROOTFS") or "build/rootfs"
local command = #arg > 0 and { table.unpack(arg) } or { "/bin/sh" }

local box = assert(nsbox.container {
  rootfs = rootfs, command = { "sleep", "60" }, hostname = "joinme", name = "joinme",
  env = { PS1 = "-[joinme]- # " },
})
assert(box:start())
print(string.format("started joinme: pid %d", box.pid))
local status, err = box:exec { command = command }
print(string.format("exec: status %s%s", tostring(status), err and (" " .. err) or ""))
box:kill(nsbox.core.SIGKILL)
print(string.format("joinme killed: status %d", box:wait()))
os.exit(status or 125)

#!/usr/bin/env lua5.4
--- ns-process: the seed's container, in a few lines of nsbox.
--
-- A shell in new user, mount, uts, ipc, pid, net and cgroup namespaces, root
-- inside mapped to you, on the busybox rootfs, with its own /proc and hostname.
-- Works as an unprivileged user too.
--
--   make demo                                   -- an interactive shell; `exit` leaves
--   echo 'hostname; id; ps' | make demo         -- the same, scripted
--   lua5.4 examples/ns-process.lua [ROOTFS] [COMMAND...]
--
-- Inside, try: hostname, id, ps (only the container's processes), cat /proc/mounts,
-- ip addr (only lo).
local nsbox = require "nsbox"

local rootfs = arg[1] or "build/rootfs"
local command = { "/bin/sh" }
if arg[2] then command = { table.unpack(arg, 2) } end

local box = assert(nsbox.container {
  rootfs = rootfs,
  command = command,
  hostname = "ns-process",
  env = { PATH = "/bin:/sbin:/usr/bin:/usr/sbin", PS1 = "-[ns-process]- # " },
})
io.stderr:write("nsbox: starting ", table.concat(command, " "), " in ", rootfs, " as container ", box.id, "\n")
local status, err = box:run()
if not status then
  io.stderr:write("nsbox: ", err, "\n")
  os.exit(125)
end
if err then io.stderr:write("nsbox: ", err, "\n") end
os.exit(status)

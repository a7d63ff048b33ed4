#!/usr/bin/env lua5.4
--- ns-process: the seed's container, in a few lines of nsbox.
--
-- A shell in new user, mount, uts, ipc, pid, net and cgroup namespaces, root
-- inside mapped to you, on the busybox rootfs, with its own /proc and hostname
-- "ns-process". Works as an unprivileged user too.
--
--   make demo                                   -- an interactive shell; `exit` leaves
--   echo 'hostname; id; ps' | make demo         -- the same, scripted
--   lua5.4 examples/ns-process.lua [--net] [ROOTFS] [COMMAND...]
--
-- Inside, try: hostname, id, ps (only the container's processes), cat /proc/mounts,
-- ip addr (only lo).
--
-- With --net, netsetgo's network too: on the host, bridge brg0 with 10.10.10.1/24
-- and veth0 on it; in the container, veth1 with 10.10.10.2/24, a default route via
-- 10.10.10.1, and `ping 10.10.10.1` answers. When the shell exits veth0 is gone and
-- brg0 stays. As root this changes the network namespace it runs in (try it under
-- `unshare -n`); unprivileged, it needs the setuid helper (make install-helper).
--   unshare -n lua5.4 examples/ns-process.lua --net build/rootfs sh -c 'ip addr; ping -c 1 10.10.10.1'
-- From a checkout, find nsbox beside this script (no LUA_PATH needed).
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
assert(loadfile(here .. "checkout.lua"))(here)

local nsbox = require "nsbox"

local args = { table.unpack(arg) }
local with_net = args[1] == "--net"
if with_net then table.remove(args, 1) end
local rootfs = args[1] or "build/rootfs"
local command = { "/bin/sh" }
if args[2] then command = { table.unpack(args, 2) } end

local box = assert(nsbox.container {
  rootfs = rootfs,
  command = command,
  hostname = "ns-process",
  env = { PATH = "/bin:/sbin:/usr/bin:/usr/sbin", PS1 = "-[ns-process]- # " },
  network = with_net and { bridge = "brg0", gateway = "10.10.10.1", address = "10.10.10.2/24",
                           host_interface = "veth0", interface = "veth1" },
  -- busybox's ping opens raw ICMP sockets only, and NET_RAW is not in the default set
  capabilities = with_net and { add = { "net_raw" } } or nil,
  -- from a terminal, a terminal of its own (job control, Ctrl-C to the foreground job)
  tty = nsbox.core.isatty(0) and nsbox.core.isatty(1),
})
io.stderr:write("nsbox: starting ", table.concat(command, " "), " in ", rootfs, " as container ", box.id, "\n")
local status, err = box:run()
if not status then
  io.stderr:write("nsbox: ", err, "\n")
  os.exit(125)
end
if err then io.stderr:write("nsbox: ", err, "\n") end
os.exit(status)
